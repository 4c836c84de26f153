"""The browser sketch pad in headless Chromium: step time, page-open-to-usable time, file sizes.

    python -m benchmarks.webpad_benchmark
    python -m benchmarks.webpad_benchmark --steps 300 --repeats 5

Serves the pad's page (the real page files, the fetched onnxruntime-web runtime and the models
exported by ``scripts/fetch_webpad.sh``) on 127.0.0.1 and drives Debian's Chromium with Playwright.

- **Step**: one step of the nine endings the pad draws at once, as the page runs it
  (``Sampler.step`` of ``book/webpad/webpad-core.js``: the exported decoder step on a batch of
  nine under onnxruntime-web's single-threaded WebAssembly build, then the mixture draw in
  JavaScript), after priming on a 20-point drawing and 20 warm-up steps. Decoder 256: the shipped
  hero model; decoder 512: a freshly initialised ``sketch_rnn-small`` with ``dec_rnn_size=512``
  exported the same way (a step's cost does not depend on the weights). The median of
  ``--repeats`` runs of ``--steps`` steps, each in a fresh page.
- **Load**: from navigation start to the pad ready to draw (runtime and model loaded, files
  checked against their sha256), in a fresh browser context (empty cache), median of ``--repeats``.
- **Files**: the bytes of each exported model (every ``.onnx`` file its manifest lists).

Targets (issue 16): <= 2 ms per step at decoder 256, <= 3 ms at 512, <= 2 s load, <= 3 MB per
model at decoder 256. The machine's load is printed with the results: on a shared CPU the times
grow with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

import webpad_site  # noqa: E402  (tests/browser/webpad_site.py: the same site the browser tests serve)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

STEP_JS = """async ([folder, steps]) => {
  const core = await import('../_static/webpad-core.js');
  const ort = await core.loadRuntime(new URL('../_static/webpad-runtime/', location.href));
  const model = await core.WebModel.load(ort, new URL(`../_static/webpad-models/${folder}/`, location.href));
  const n = 9, random = new core.Random(1);
  const z = new Float32Array(n * model.Z).map(() => random.normal());
  const s = new core.Sampler(model, {n, z, label: 0, temperature: 0.25});
  await s.reset();
  const rows = [];
  for (let i = 0; i < 20; i++) {
    const lift = i % 7 === 6 ? 1 : 0;
    rows.push([Math.cos(i / 3) * 0.3, Math.sin(i / 3) * 0.3, 1 - lift, lift, 0]);
  }
  await s.prime(rows);
  for (let i = 0; i < 20; i++) await s.step(random.stepNoise(n, model.M));
  const noises = Array.from({length: steps}, () => random.stepNoise(n, model.M));
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await s.step(noises[i]);
  return (performance.now() - t0) / steps;
}"""


def export_dec512(dest: Path, like: Path) -> Path:
    """A freshly initialised sketch_rnn-small with a 512-unit decoder, exported as the pad's models are."""
    import torch

    from sketchlib.export import export_model
    from sketchlib.models import SketchModel, preset

    torch.manual_seed(0)
    hero = json.loads((like / "manifest.json").read_text())
    model = SketchModel(preset("sketch_rnn-small", dec_rnn_size=512)).eval()
    stats = {"scale": hero["scale"], "max_seq_len": hero["max_seq_len"], "class_names": hero["class_names"]}
    export_model(model, stats, dest, name="sketch_rnn-small dec 512 (untrained)")
    return dest


def model_bytes(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    return sum(e["bytes"] for e in manifest["files"].values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    reason = webpad_site.ensure_build()
    if reason:
        sys.exit(reason)
    from playwright.sync_api import sync_playwright

    from benchmarks.train_benchmark import machine

    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="webpad-bench-"))
    models = tmp / "models"
    import shutil

    shutil.copytree(webpad_site.BUILD / "webpad-models", models)
    export_dec512(models / "dec512", models / "quickdraw-face")
    root = webpad_site.build_site(tmp / "site", models=models)
    results = {}
    with webpad_site.serve(root) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(f"Chromium {browser.version}, onnxruntime-web "
              f"{(webpad_site.BUILD / 'webpad-runtime' / 'VERSION').read_text().split()[0].split('@')[1]}")
        page_url = f"{url}/{webpad_site.PAGE}"
        loads = []
        for _ in range(args.repeats):
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(page_url)
            page.wait_for_function("['ready', 'error'].includes(document.querySelector('.webpad').dataset.state)",
                                   timeout=60_000)
            if page.evaluate("document.querySelector('.webpad').dataset.state") != "ready":
                sys.exit("the pad did not start: " + page.inner_text(".webpad-status"))
            loads.append(float(page.evaluate("document.querySelector('.webpad').dataset.readyMs")))
            ctx.close()
        results["load"] = loads
        cases = [("quickdraw-face", "decoder 256 (quickdraw-face)"), ("dec512", "decoder 512 (untrained)")]
        for folder, label in cases:
            times = []
            for _ in range(args.repeats):
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(page_url)
                page.wait_for_function("document.querySelector('.webpad').dataset.state === 'ready'", timeout=60_000)
                times.append(page.evaluate(STEP_JS, [folder, args.steps]))
                ctx.close()
            results[label] = times
        browser.close()
    print(f"\n{'what':42s} {'median':>9s}  runs")
    print(f"{'page open -> usable pad (ms)':42s} {statistics.median(results['load']):9.0f}  "
          + " ".join(f"{x:.0f}" for x in results["load"]))
    for label in ("decoder 256 (quickdraw-face)", "decoder 512 (untrained)"):
        ts = results[label]
        print(f"{'one step of nine endings, ' + label + ' (ms)':42s} {statistics.median(ts):9.3f}  "
              + " ".join(f"{x:.3f}" for x in ts))
    print("\nexported files (every .onnx file of the model):")
    for folder in ("quickdraw-face", "faces-conditional", "quickdraw-4", "dec512"):
        print(f"  {folder:20s} {model_bytes(models / folder) / 1e6:6.2f} MB")
    runtime = sum((webpad_site.BUILD / "webpad-runtime" / f).stat().st_size for f in webpad_site.RUNTIME_FILES)
    print(f"  {'runtime (3 files)':20s} {runtime / 1e6:6.2f} MB")
    if hasattr(os, "getloadavg"):
        print(f"1-min load average {os.getloadavg()[0]:.1f} at the end")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
