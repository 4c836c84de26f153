"""The browser sketch pad (book/09a_browser_sketch_pad.md) in a real Chromium, served as static files.

No kernel: the page, its code (book/webpad/), the onnxruntime-web runtime and the exported models
(scripts/fetch_webpad.sh, run here when its output is missing and npm is there) are served on
127.0.0.1 (tests/browser/webpad_site.py). The tests draw with the mouse and read the canvases'
pixels; one feeds the same strokes and random numbers to the page's sampler and to
sketchlib.sampling.IncrementalSampler and compares the points they draw.

Needs /usr/bin/chromium (apt-get install -y chromium) and the playwright pip package (never
`playwright install`). Run: python -m pytest -q tests/browser/test_webpad.py
"""

from __future__ import annotations

import importlib.util
import json
import math
import os

import numpy as np
import pytest
import webpad_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
#: Every Jupyter Book 1 page logs these two; nothing else may go wrong.
KNOWN_JB1 = ("THEBE_JS_URL", "favicon.ico")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright (pip) is not installed"),
]

STATE = "document.querySelector('.webpad').dataset.state"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    reason = webpad_site.ensure_build()
    if reason:
        pytest.skip(reason)
    root = webpad_site.site_root(tmp_path_factory.mktemp("webpad-site"))
    with webpad_site.serve(root) as url:
        yield f"{url}/{webpad_site.PAGE}", root


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A fresh page (empty cache) that records every console error, page error and failed request."""

    def __init__(self, browser, url, before=None):
        self.ctx = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        if before:
            before(self.page)
        self.page.goto(url)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(k in e for k in KNOWN_JB1)]

    def wait_state(self, *states, timeout=120_000):
        self.page.wait_for_function(f"{json.dumps(list(states))}.includes({STATE})", timeout=timeout)
        return self.page.evaluate(STATE)

    def draw_arc(self, radius=100, points=40):
        """Most of a circle (a head), drawn with the mouse on the pad."""
        box = self.page.locator(".webpad-pad").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        m = self.page.mouse
        m.move(cx + radius, cy)
        m.down()
        for i in range(1, points):
            a = i / points * 1.6 * math.pi
            m.move(cx + radius * math.cos(a), cy + radius * math.sin(a))
        m.up()

    def cell_pixels(self) -> list[dict]:
        """Per cell: how many pixels are the model's red and a hash of the cell's image."""
        return self.page.evaluate("""() => [...document.querySelectorAll('.webpad-cell')].map((c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let red = 0, hash = 0;
            for (let i = 0; i < d.length; i += 4) {
              if (d[i] > 150 && d[i + 1] < 120 && d[i + 2] < 120) red++;
              hash = (Math.imul(hash, 31) + d[i] + 3 * d[i + 1] + 7 * d[i + 2]) | 0;
            }
            return {red, hash};
        })""")

    def close(self):
        self.ctx.close()


@pytest.fixture
def pad(browser, site):
    p = Page(browser, site[0])
    assert p.wait_state("ready", "error") == "ready", p.page.inner_text(".webpad-status")
    yield p
    p.close()


def test_drawing_a_stroke_fills_all_nine_cells_with_model_strokes(pad):
    pad.draw_arc()
    assert pad.wait_state("done", "error") == "done", pad.page.inner_text(".webpad-status")
    cells = pad.cell_pixels()
    assert len(cells) == 9
    assert all(c["red"] >= 20 for c in cells), [c["red"] for c in cells]
    assert len({c["hash"] for c in cells}) == 9  # nine different endings
    assert pad.unexpected_errors() == []


def test_moving_the_temperature_slider_restarts_the_endings(pad):
    pad.draw_arc()
    assert pad.wait_state("done", "error") == "done"
    runs = int(pad.page.evaluate("document.querySelector('.webpad').dataset.runs"))
    before = pad.cell_pixels()
    pad.page.locator(".webpad-controls input[type=range]").fill("0.7")
    pad.page.wait_for_function(f"Number(document.querySelector('.webpad').dataset.runs) > {runs}")
    assert pad.wait_state("done", "error") == "done"
    after = pad.cell_pixels()
    assert all(c["red"] >= 20 for c in after)
    assert [c["hash"] for c in after] != [c["hash"] for c in before]
    assert "temperature 0.70" in pad.page.inner_text(".webpad-status")
    assert pad.unexpected_errors() == []


def test_undo_and_clear_remove_the_readers_strokes_and_the_endings(pad):
    pad.draw_arc()
    assert pad.wait_state("done", "error") == "done"
    pad.page.get_by_role("button", name="Undo").click()
    assert pad.page.get_by_role("button", name="Undo").is_disabled()
    assert all(c["red"] == 0 for c in pad.cell_pixels())
    pad.draw_arc(radius=60)
    assert pad.wait_state("done", "error") == "done"
    pad.page.get_by_role("button", name="Clear").click()
    assert all(c["red"] == 0 for c in pad.cell_pixels())
    assert pad.page.get_by_role("button", name="Finish it").is_disabled()
    assert pad.unexpected_errors() == []


def test_the_class_picker_appears_for_the_conditional_model_only(pad, site):
    picker = pad.page.locator(".webpad-class")
    assert not picker.is_visible()
    pad.page.locator(".webpad-controls select").first.select_option("1")  # the conditional face model
    pad.page.wait_for_function("document.querySelector('.webpad').dataset.model === 'faces-conditional'")
    assert pad.wait_state("ready") == "ready"
    assert picker.is_visible()
    manifest = json.loads((site[1] / "_static/webpad-models/faces-conditional/manifest.json").read_text())
    options = pad.page.locator(".webpad-class select option").all_inner_texts()
    assert options == manifest["class_names"]
    pad.draw_arc()
    assert pad.wait_state("done", "error") == "done"
    assert all(c["red"] >= 20 for c in pad.cell_pixels())
    assert pad.unexpected_errors() == []


def test_the_pad_says_it_is_loading_before_the_model_is_ready(browser, site):
    held = []
    p = Page(browser, site[0], before=lambda page: page.route("**/manifest.json", lambda route: held.append(route)))
    try:
        p.page.wait_for_function("document.querySelector('.webpad-overlay') !== null")
        p.page.wait_for_function("() => true")  # let the route handler run
        for _ in range(50):
            if held:
                break
            p.page.wait_for_timeout(100)
        assert "Loading" in p.page.inner_text(".webpad-overlay")
        assert p.page.evaluate(STATE) == "loading"
        for route in held:
            route.continue_()
        p.page.unroute("**/manifest.json")
        assert p.wait_state("ready", "error") == "ready"
        assert not p.page.locator(".webpad-overlay").is_visible()
    finally:
        p.close()


def test_a_file_failing_its_checksum_is_reported(browser, site):
    def corrupt(route):
        body = bytearray(route.fetch().body())
        body[-1] ^= 0xFF
        route.fulfill(status=200, body=bytes(body), headers={"content-type": "application/octet-stream"})

    p = Page(browser, site[0], before=lambda page: page.route("**/step.onnx", corrupt))
    try:
        assert p.wait_state("ready", "error") == "error"
        text = p.page.inner_text(".webpad-overlay")
        assert "step.onnx failed its checksum" in text
        assert "step.onnx failed its checksum" in p.page.inner_text(".webpad-status")
    finally:
        p.close()


def test_without_webassembly_the_pad_says_so(browser, site):
    p = Page(browser, site[0], before=lambda page: page.add_init_script("delete globalThis.WebAssembly"))
    try:
        assert p.wait_state("ready", "error") == "error"
        assert "no WebAssembly" in p.page.inner_text(".webpad-overlay")
    finally:
        p.close()


def test_the_pages_stroke_capture_matches_sketchlib(pad):
    """Jitter filter (2 px), RDP (epsilon 2) and the conversion to the model's stroke-3 against
    sketchlib.strokes.rdp_indices and the chapter 9 pad's SketchPad.model_input."""
    from sketchlib import strokes as S
    from sketchlib.widgets import SketchPad

    rng = np.random.default_rng(0)
    lines = [np.cumsum(rng.normal(0, 4, (n, 2)), 0) + 150 for n in (30, 3, 17)]
    got = pad.page.evaluate("""async (lines) => {
        const core = await import('../_static/webpad-core.js');
        const kept = lines.map((l) => core.rdpIndices(l, 2));
        const simplified = lines.map((l) => core.rdp(core.dropJitter(l, 2), 2));
        return {kept, stroke3: core.padToStroke3(simplified, 360 / 256)};
    }""", [line.tolist() for line in lines])
    assert got["kept"] == [S.rdp_indices(line, 2.0).tolist() for line in lines]
    from sketchlib import pretrained

    model, stats = pretrained.load("sketch_rnn-small/quickdraw-face")
    sp = SketchPad(model=model, stats=stats, width=360, height=360)
    for line in lines:
        sp.add_stroke(line)
    np.testing.assert_allclose(np.array(got["stroke3"]), sp.model_input(), atol=1e-4)


@pytest.mark.parametrize("folder,name", [("quickdraw-face", "sketch_rnn-small/quickdraw-face"),
                                         ("faces-conditional", "conditional_sketch_rnn-small/faces")])
def test_the_browser_sampler_draws_sketchlibs_points(pad, site, folder, name):
    """The page's path against sketchlib.sampling.complete's: the same strokes encoded (z = mu), primed,
    then sampled with the same random numbers by the page's Sampler and by IncrementalSampler."""
    import torch

    from sketchlib import pretrained
    from sketchlib import strokes as S
    from sketchlib.checkpoint import load_model
    from sketchlib.sampling import IncrementalSampler, encode

    torch.set_num_threads(1)
    manifest = json.loads((site[1] / f"_static/webpad-models/{folder}/manifest.json").read_text())
    assert manifest["name"] == name and manifest["encoder"]
    model, stats = load_model(pretrained.path(name))
    n, steps, tau, seed = 9, 12, 0.25, 3
    label = 2 if manifest["conditional"] else None
    t = np.linspace(0.3, 1.5 * np.pi, 14)
    head = np.stack([70 * np.cos(t), 80 * np.sin(t)], 1)
    drawing = S.polylines_to_stroke3([head - head[0]])
    latent = encode(model, [drawing] * n, stats["scale"], None if label is None else [label] * n)
    sampler = IncrementalSampler(model, n, scale=stats["scale"], latent=latent, labels=label, temperature=tau,
                                 seed=seed)
    sampler.prime(drawing)
    want = np.stack([sampler.step() for _ in range(steps)])  # pixels
    g = torch.Generator().manual_seed(seed)  # the sampler's random numbers, drawn again in its order
    M = manifest["num_mixture"]
    noise = []
    for _ in range(steps):
        clocks = torch.empty(n, M + 3).exponential_(generator=g)
        e = torch.randn(n, 2, generator=g)
        noise.append({"clocks": clocks.flatten().tolist(), "e": e.flatten().tolist()})
    result = pad.page.evaluate("""async ([folder, drawing, label, tau, noise]) => {
        const core = await import('../_static/webpad-core.js');
        const ort = await core.loadRuntime(new URL('../_static/webpad-runtime/', location.href));
        const model = await core.WebModel.load(ort, new URL(`../_static/webpad-models/${folder}/`, location.href));
        const rows = core.stroke3ToRows(drawing, model.scale);
        const mu = await model.encode(rows, label);
        const z = new Float32Array(9 * model.Z);
        for (let b = 0; b < 9; b++) z.set(mu, b * model.Z);
        const s = new core.Sampler(model, {n: 9, z, label, temperature: tau});
        await s.reset();
        await s.prime(rows);
        const out = [];
        for (const k of noise) {
          const pts = await s.step({clocks: new Float32Array(k.clocks), e: new Float32Array(k.e)});
          out.push(Array.from(pts, (v, i) => (i % 5 < 2 ? v * model.scale : v)));
        }
        return {mu: Array.from(mu), points: out};
    }""", [folder, drawing.tolist(), label or 0, tau, noise])
    np.testing.assert_allclose(np.array(result["mu"]), latent.z[0].numpy(), atol=1e-5, rtol=0)
    got = result["points"]
    got = np.array(got).reshape(steps, n, 5)
    assert np.array_equal(got[:, :, 2:], want[:, :, 2:])  # the same pen states
    # in pixels: one model unit is `scale` pixels, so 5e-3 px is about 1e-4 model units (LOOP_TOL of test_export)
    np.testing.assert_allclose(got[:, :, :2], want[:, :, :2], atol=5e-3, rtol=0)
    assert pad.unexpected_errors() == []
