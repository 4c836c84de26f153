"""Capture the browser sketch pad at work for chapter 9a: ``book/images/webpad.png``.

The page's pad is live, but a reader whose browser blocks WebAssembly, or who reads a printed copy,
sees only the text; the picture shows what the pad does. This script serves the real page files on
127.0.0.1 (``tests/browser/webpad_site.py``, as the pad's browser tests do), draws most of a circle
(a head) with the mouse in headless Chromium, waits until the model has finished it nine ways, and
saves a screenshot of the pad:

    python scripts/capture_webpad.py                  # writes book/images/webpad.png

Run it again after retraining the pad's first model (the picture shows what the shipped checkpoint
draws). Needs /usr/bin/chromium (apt-get install -y chromium), pip's playwright (never
`playwright install`), and the exported models (scripts/fetch_webpad.sh; run here when missing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import test_webpad as tw  # noqa: E402  (the pad's browser tests: one way to drive the page)
import webpad_site  # noqa: E402

MAX_BYTES = 300_000  # the picture is committed: keep it small


def capture(out: Path, seed: int) -> dict:
    """Draw a head on the pad, wait for the nine endings, save the pad's screenshot to ``out``."""
    from playwright.sync_api import sync_playwright

    reason = webpad_site.ensure_build()
    if reason:
        raise SystemExit(f"cannot serve the pad: {reason}")
    with tempfile.TemporaryDirectory() as tmp, webpad_site.serve(webpad_site.site_root(Path(tmp))) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=tw.CHROMIUM, args=tw.CHROMIUM_ARGS)
            page = tw.Page(browser, f"{url}/{webpad_site.PAGE}")
            if page.wait_state("ready", "error") != "ready":
                raise SystemExit(f"the pad did not load: {page.page.inner_text('.webpad-status')}")
            page.page.locator('input[aria-label="seed"]').fill(str(seed))
            page.draw_arc()
            if page.wait_state("done", "error") != "done":
                raise SystemExit(f"the pad stopped: {page.page.inner_text('.webpad-status')}")
            errors = page.unexpected_errors()
            if errors:
                raise SystemExit(f"the page logged errors: {errors}")
            red = [c["red"] for c in page.cell_pixels()]
            page.page.locator(".webpad").screenshot(path=str(out))
            page.close()
            browser.close()
    size = out.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{out} is {size} bytes, over {MAX_BYTES}: shrink the viewport")
    return {"bytes": size, "red pixels per ending": red}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "images" / "webpad.png")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    facts = capture(args.out, args.seed)
    print(f"{args.out}: {facts}")


if __name__ == "__main__":
    main()
