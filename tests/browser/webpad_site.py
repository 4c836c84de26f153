"""A static site with the browser sketch pad, served on 127.0.0.1: for its browser tests and its benchmark.

The site is the real page files: the pad's HTML block of ``book/09a_browser_sketch_pad.md``, the
page code of ``book/webpad/`` and what ``scripts/fetch_webpad.sh`` builds into ``_build/webpad/``
(the onnxruntime-web runtime and the exported models), laid out as the book build lays them out
(``book/PAGE.html`` beside ``_static/``). When ``_build/html`` holds a built book whose copy of the
page code is the current one, :func:`site_root` serves that instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE_MD = REPO / "book" / "09a_browser_sketch_pad.md"
PAGE = "book/09a_browser_sketch_pad.html"
CODE = REPO / "book" / "webpad"
BUILD = REPO / "_build" / "webpad"
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
#: folder under webpad-models/ -> shipped checkpoint (as in scripts/fetch_webpad.sh)
MODELS = {"quickdraw-face": "sketch_rnn-small/quickdraw-face",
          "faces-conditional": "conditional_sketch_rnn-small/faces",
          "quickdraw-4": "sketch_rnn-small/quickdraw-4"}

_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sketch pad</title><link rel="icon" href="data:,"></head>
<body>
{body}
</body></html>
"""


def missing_build(build: Path = BUILD) -> list[str]:
    """What ``scripts/fetch_webpad.sh`` should have put in ``build`` and did not."""
    need = [build / "webpad-runtime" / f for f in RUNTIME_FILES]
    need += [build / "webpad-models" / m / "manifest.json" for m in MODELS]
    return [str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in need if not p.is_file()]


def stale_models(static: Path = BUILD) -> list[str]:
    """Exported models in ``static/webpad-models`` whose checkpoint has been re-shipped since their export."""
    from sketchlib import pretrained
    from sketchlib.export import sha256_of

    stale = []
    for folder, name in MODELS.items():
        f = static / "webpad-models" / folder / "manifest.json"
        if f.is_file() and json.loads(f.read_text()).get("checkpoint_sha256") != sha256_of(pretrained.path(name)):
            stale.append(folder)
    return stale


def ensure_build(build: Path = BUILD) -> str | None:
    """Run ``scripts/fetch_webpad.sh`` when its output is missing or stale (a re-shipped checkpoint) and npm is
    there; None, or why the output is missing."""
    if not missing_build(build) and not stale_models(build):
        return None
    if shutil.which("npm") is None:
        return f"the sketch pad's runtime is not fetched ({', '.join(missing_build(build))}) and npm is missing"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "fetch_webpad.sh"), str(build)], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"scripts/fetch_webpad.sh failed: {(proc.stderr or proc.stdout).strip()[-800:]}"
    left = missing_build(build) + stale_models(build)
    return f"scripts/fetch_webpad.sh left out or stale: {', '.join(left)}" if left else None


def pad_html(md: Path = PAGE_MD) -> str:
    """The page's raw HTML: from the stylesheet link to the module script."""
    text = md.read_text()
    m = re.search(r"<link rel=\"stylesheet\".*?</script>", text, re.S)
    if m is None:
        raise ValueError(f"{md}: no pad HTML block (<link rel=\"stylesheet\" ... </script>)")
    return m.group(0)


def build_site(dest: Path, build: Path = BUILD, models: Path | None = None) -> Path:
    """Lay out a minimal site in ``dest``: ``book/PAGE.html`` and ``_static/`` (page code, runtime, models).

    ``models``: another folder of exported models to serve as ``_static/webpad-models`` (the benchmark's).
    """
    static = dest / "_static"
    static.mkdir(parents=True, exist_ok=True)
    for f in CODE.iterdir():
        shutil.copy(f, static / f.name)
    shutil.copytree(build / "webpad-runtime", static / "webpad-runtime", dirs_exist_ok=True)
    shutil.copytree(models or build / "webpad-models", static / "webpad-models", dirs_exist_ok=True)
    (dest / "book").mkdir(exist_ok=True)
    (dest / PAGE).write_text(_HTML.format(body=pad_html()))
    return dest


def site_root(tmp: Path) -> Path:
    """``_build/html`` when it holds a built book with the current page code, else a minimal site in ``tmp``."""
    html = REPO / "_build" / "html"
    built = html / "_static"
    if (html / PAGE).is_file() and not missing_build(html / "_static") and not stale_models(html / "_static") and all(
        (built / f.name).is_file() and (built / f.name).read_bytes() == f.read_bytes() for f in CODE.iterdir()
    ):
        return html
    return build_site(tmp)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
                      ".onnx": "application/octet-stream", ".json": "application/json"}

    def log_message(self, *args):  # quiet
        pass


@contextlib.contextmanager
def serve(root: Path):
    """A static file server for ``root`` on 127.0.0.1 at a free port; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
