"""Capture chapter 9's widgets at work for the static book: two small animated GIFs in book/images/.

The static book runs no kernel, so its widgets could only be dead controls. This script runs them for
real, with the machinery of the browser tests (tests/browser/test_browser_widgets.py: JupyterLab on
127.0.0.1, Playwright's Python API, Debian's Chromium), and records what a reader would see:

- ``sketch_pad.gif``: a stroke drawn with the mouse on the sketch pad, then "Complete" pressed and the
  model's red continuation arriving point by point;
- ``rating_app.gif``: a participant id typed, "Start" pressed and three drawings rated.

Run it after retraining the pad's model (the GIF shows what the shipped checkpoint draws):

    python scripts/capture_widgets.py            # writes book/images/sketch_pad.gif and rating_app.gif

Needs /usr/bin/chromium (apt-get install -y chromium), jupyterlab with the ipywidgets and ipycanvas
extensions, and pip's playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import test_browser_widgets as bw  # noqa: E402  (the browser tests' helpers: one way to drive JupyterLab)

MAX_BYTES = 300_000  # each GIF stays small: it is committed


def pad_cells(model: str, temperature: float) -> list[str]:
    """Chapter 9's pad (its default model, size and temperature), animated, reporting when it is done."""
    return [
        "import json, os, torch\n"
        "torch.set_num_threads(1)\n"
        "from sketchlib.widgets import SketchPad\n"
        f"pad = SketchPad(model_name={model!r}, width=400, height=400, seed=0, temperature={temperature}, "
        "point_delay=0.1)\n"
        "def dump(p):\n"
        "    with open('pad_done.json', 'w') as f:\n"
        "        json.dump({'points': p.state()['completion_points']}, f)\n"
        "pad.on_completed(dump)\n"
        "pad",
    ]


RATING_CELLS = [
    "import numpy as np\n"
    "from sketchlib.rating import RatingApp\n"
    "from sketchlib.datasets import load\n"
    "faces = load('faces').test\n"
    "items = {'model A': faces.drawings[:3], 'model B': faces.drawings[3:6]}\n"
    "app = RatingApp('study', items, seed=0)\n"
    "app",
]


def start_lab(root: Path):
    """JupyterLab on a free port serving ``root``; returns (process, url)."""
    port = bw._free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config"), "PYTHONUNBUFFERED": "1"}
    env.pop("MPLBACKEND", None)
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.open_browser=False",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                tail = (root / "lab.log").read_text()[-3000:]
                raise SystemExit(f"JupyterLab did not start; its log:\n{tail}") from None
            time.sleep(0.5)


def frame(locator, width: int) -> Image.Image:
    img = Image.open(io.BytesIO(locator.screenshot())).convert("RGB")
    return img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)


def save_gif(frames: list[Image.Image], durations: list[int], path: Path) -> int:
    """Write an animated GIF with one shared palette; returns its size in bytes (fails above MAX_BYTES)."""
    sheet = Image.new("RGB", (frames[0].width, frames[0].height * 3))  # first, middle and last frame: every colour
    for k, f in enumerate((frames[0], frames[len(frames) // 2], frames[-1])):
        sheet.paste(f, (0, k * frames[0].height))
    palette = sheet.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    q = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    q[0].save(path, save_all=True, append_images=q[1:], duration=durations, loop=0, optimize=True, disposal=1)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes, over {MAX_BYTES}: capture fewer frames or a smaller width")
    return size


def capture_pad(browser, url: str, root: Path, out: Path, width: int) -> dict:
    page = bw._open_and_run(browser, url, "pad.ipynb")
    area = page.locator(".jp-OutputArea-output").last
    canvas = area.locator("canvas").last
    canvas.wait_for(state="visible", timeout=300_000)
    complete = area.get_by_role("button", name="Complete", exact=True)
    complete.wait_for()
    widget = area.locator(".widget-hbox").first  # the pad itself: canvas and controls
    frames, durations = [frame(widget, width)], [800]
    box = canvas.bounding_box()
    t = np.linspace(0.5 * np.pi, 1.5 * np.pi, 30)  # the left half of a face's outline, as in the chapter
    pts = [(box["x"] + 200 + 110 * np.cos(a), box["y"] + 200 + 130 * np.sin(a)) for a in t]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for k, (x, y) in enumerate(pts[1:]):
        page.mouse.move(x, y, steps=2)
        page.wait_for_timeout(15)
        if k % 10 == 9:
            frames.append(frame(widget, width))
            durations.append(250)
    page.mouse.up()
    bw._wait_for(lambda: bw._dark(bw._pixels(canvas)).sum() > 100 or None, 30, "the user's stroke on the canvas")
    frames.append(frame(widget, width))
    durations.append(900)
    complete.click()
    done = root / "pad_done.json"
    deadline = time.time() + 120
    while not done.exists() and time.time() < deadline:
        page.wait_for_timeout(100)
        frames.append(frame(widget, width))
        durations.append(200)
    if not done.exists():
        raise SystemExit("the pad did not finish its completion within 120 s")
    page.wait_for_timeout(800)
    frames.append(frame(widget, width))
    durations.append(2500)
    red = int(bw._red(bw._pixels(canvas)).sum())
    if red < 30:
        raise SystemExit("the model's red strokes did not reach the canvas: nothing worth showing")
    keep = np.linspace(0, len(frames) - 1, min(len(frames), 28)).round().astype(int)  # at most 28 frames
    keep = sorted(set(keep.tolist()) | {len(frames) - 1})
    size = save_gif([frames[i] for i in keep], [durations[i] for i in keep], out / "sketch_pad.gif")
    page.close()
    return {"file": "sketch_pad.gif", "frames": len(keep), "bytes": size, "red_pixels": red}


def capture_rating(browser, url: str, out: Path, width: int) -> dict:
    page = bw._open_and_run(browser, url, "rating.ipynb")
    area = page.locator(".jp-OutputArea-output").last.locator(".widget-vbox").first  # the app itself
    pid = page.get_by_placeholder("e.g. p01")
    pid.wait_for(timeout=300_000)
    frames, durations = [frame(area, width)], [900]
    pid.fill("p01")
    frames.append(frame(area, width))
    durations.append(700)
    area.get_by_role("button", name="Start", exact=True).click()
    area.get_by_text("drawing 1 of 6").wait_for()
    frames.append(frame(area, width))
    durations.append(1400)
    for k, word in enumerate(["good", "poor", "very good"]):
        area.get_by_role("button", name=word, exact=True).hover()
        frames.append(frame(area, width))
        durations.append(500)
        area.get_by_role("button", name=word, exact=True).click()
        area.get_by_text(f"drawing {k + 2} of 6").wait_for()
        frames.append(frame(area, width))
        durations.append(1300)
    size = save_gif(frames, durations, out / "rating_app.gif")
    page.close()
    return {"file": "rating_app.gif", "frames": len(frames), "bytes": size}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "images")
    ap.add_argument("--width", type=int, default=760, help="width of the GIFs in pixels")
    ap.add_argument("--model", default=None, help="the pad's checkpoint (default: the pad's own default)")
    ap.add_argument("--temperature", type=float, default=0.25)
    args = ap.parse_args(argv)
    if not os.path.exists(bw.CHROMIUM):
        raise SystemExit(f"{bw.CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from sketchlib.widgets import default_model_name

    model = args.model or default_model_name()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp:
        root = Path(tmp)
        (root / "pad.ipynb").write_text(bw._notebook(pad_cells(model, args.temperature)))
        (root / "rating.ipynb").write_text(bw._notebook(RATING_CELLS))
        proc, url = start_lab(root)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=bw.CHROMIUM, args=bw.CHROMIUM_ARGS, headless=True)
                try:
                    for got in (capture_pad(browser, url, root, args.out, args.width),
                                capture_rating(browser, url, args.out, args.width)):
                        facts = ", ".join(f"{k} {v}" for k, v in got.items() if k != "file")
                        print(f"{args.out / got['file']}: {facts}")
                finally:
                    browser.close()
        finally:
            bw.stop(proc)
    print(f"pad model: {model}")


if __name__ == "__main__":
    main()
