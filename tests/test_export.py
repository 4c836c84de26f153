"""The ONNX export of the browser sketch pad's models (sketchlib.export), run under onnxruntime.

Every model the pad offers is exported once (module fixture) and checked against the torch model
it came from: one decoder step, the initial state and one encoder step at batch 1 and 9, the
encoded latent of a drawing, and a 50-step closed loop in which the same drawn noise drives a loop
over the exported graphs (the loop the page runs in JavaScript, here in numpy), the same loop over
the torch reference cell, and ``sketchlib.sampling.IncrementalSampler``. The same loop runs once more
on float64 copies of the graphs, exported the same way, where rounding no longer hides a wrong
translation: there it agrees to TOL.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install onnxscript)")

from sketchlib import pretrained  # noqa: E402
from sketchlib import strokes as S  # noqa: E402
from sketchlib.export import (  # noqa: E402
    DecoderStep,
    InitialState,
    _export,
    check_manifest,
    export_checkpoint,
    sha256_of,
)
from sketchlib.models import SketchModel, preset  # noqa: E402
from sketchlib.sampling import IncrementalSampler  # noqa: E402

PAD_MODELS = ["sketch_rnn-small/quickdraw-face", "conditional_sketch_rnn-small/faces", "sketch_rnn-small/quickdraw-4"]
TOL = 1e-5  # one step, from the same inputs
#: A 50-step closed loop feeds each side its own sampled points, so float32 rounding differences (about 1e-7
#: per op, as large between torch and onnxruntime as between torch float32 and float64) are amplified by the
#: decoder's dynamics: up to about 3e-5 on the hero face model (1e-6 on the conditional one). Pen states and
#: ends must agree exactly.
LOOP_TOL = 1e-4

slow = pytest.mark.slow  # every test that exports the three models (about a minute)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``name -> (folder, manifest, model, stats)`` for every model the pad offers, exported once."""
    torch.set_num_threads(1)
    out = {}
    root = tmp_path_factory.mktemp("export")
    for name in PAD_MODELS:
        folder = root / name.replace("/", "_")
        manifest = export_checkpoint(name, folder)
        model, stats = pretrained.load(name)
        out[name] = (folder, manifest, model.eval(), stats)
    return out


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _inputs(model, batch, seed):
    g = torch.Generator().manual_seed(seed)
    H, Z, K = model.cfg.dec_rnn_size, model.latent_size, model.cfg.num_classes
    feeds = {"prev": torch.randn(batch, 5, generator=g), "h": torch.rand(batch, H, generator=g) * 2 - 1,
             "c": torch.randn(batch, H, generator=g)}
    if Z:
        feeds["z"] = torch.randn(batch, Z, generator=g)
    if model.cfg.conditional:
        feeds["onehot"] = torch.nn.functional.one_hot(torch.randint(0, K, (batch,), generator=g), K).float()
    return feeds


def _reference_step(model, feeds):
    """The step from the model's own parts: the reference cell's step and the mixture head."""
    x = torch.cat([feeds[k] for k in ("prev", "z", "onehot") if k in feeds], dim=1)
    h, c = model.decoder.step(model.decoder.input_projection(x), feeds["h"], feeds["c"])
    p = model.mixture(h)
    return torch.stack([p.log_pi, p.mu_x, p.mu_y, p.log_sx, p.log_sy, p.rho], 1), p.pen_logits, h, c


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
@pytest.mark.parametrize("batch", [1, 9])
def test_exported_step_matches_torch(exported, name, batch):
    folder, manifest, model, _ = exported[name]
    feeds = _inputs(model, batch, seed=batch)
    session = _session(folder / "step.onnx")
    got = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        want = _reference_step(model, feeds)
    assert [o.name for o in session.get_outputs()] == ["mixture", "pen_logits", "h_out", "c_out"]
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        assert np.abs(g - w.numpy()).max() <= TOL


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
@pytest.mark.parametrize("batch", [1, 9])
def test_exported_initial_state_matches_torch(exported, name, batch):
    folder, _, model, _ = exported[name]
    z = torch.randn(batch, model.latent_size, generator=torch.Generator().manual_seed(3))
    h0, c0 = _session(folder / "init.onnx").run(None, {"z": z.numpy()})
    with torch.no_grad():
        h, c = model.initial_state(z, batch)
    assert np.abs(h0 - h.numpy()).max() <= TOL
    assert np.abs(c0 - c.numpy()).max() <= TOL


def _onnx_encode(folder, manifest, drawing, label):
    """z = mu of one drawing through the exported encoder graphs (the page's WebModel.encode)."""
    step, head = _session(folder / "encoder_step.onnx"), _session(folder / "encoder_head.onnx")
    rows = S.stroke3_to_stroke5(S.normalize(drawing, manifest["scale"]))[:-1]
    E = manifest["enc_rnn_size"]
    h_fw = c_fw = h_bw = c_bw = np.zeros((1, E), np.float32)
    for t in range(len(rows)):
        h_fw, c_fw, h_bw, c_bw = step.run(None, {"x_fw": rows[t : t + 1], "h_fw": h_fw, "c_fw": c_fw,
                                                 "x_bw": rows[len(rows) - 1 - t][None], "h_bw": h_bw, "c_bw": c_bw})
    feeds = {"h_fw": h_fw, "h_bw": h_bw}
    if manifest["conditional"]:
        feeds["onehot"] = np.eye(manifest["num_classes"], dtype=np.float32)[[label]]
    return head.run(None, feeds)[0][0]


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
@pytest.mark.parametrize("batch", [1, 9])
def test_exported_encoder_step_matches_torch(exported, name, batch):
    folder, _, model, _ = exported[name]
    g = torch.Generator().manual_seed(batch)
    E = model.cfg.enc_rnn_size
    x_fw, x_bw = torch.randn(batch, 5, generator=g), torch.randn(batch, 5, generator=g)
    h_fw, c_fw, h_bw, c_bw = (torch.randn(batch, E, generator=g) for _ in range(4))
    got = _session(folder / "encoder_step.onnx").run(None, {
        "x_fw": x_fw.numpy(), "h_fw": h_fw.numpy(), "c_fw": c_fw.numpy(),
        "x_bw": x_bw.numpy(), "h_bw": h_bw.numpy(), "c_bw": c_bw.numpy()})
    enc = model.rnn_encoder
    with torch.no_grad():
        want = [*enc.fw.step(enc.fw.input_projection(x_fw), h_fw, c_fw),
                *enc.bw.step(enc.bw.input_projection(x_bw), h_bw, c_bw)]
    for g_, w in zip(got, want):
        assert np.abs(g_ - w.numpy()).max() <= TOL


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_exported_encoder_gives_sketchlibs_latent(exported, name):
    """Encoding a drawing step by step through the exported graphs gives sketchlib.sampling.encode's z = mu."""
    from sketchlib.sampling import encode

    folder, manifest, model, stats = exported[name]
    label = 3 if manifest["conditional"] else None
    drawing = _partial_face()
    got = _onnx_encode(folder, manifest, drawing, label)
    want = encode(model, [drawing], stats["scale"], None if label is None else [label]).z[0].numpy()
    assert got.shape == (model.latent_size,)
    assert np.abs(got - want).max() <= TOL


def _draw(mixture, pen, tau, clocks, e):
    """The page's mixture draw (webpad-core.js drawPoints) in numpy, on the exported step's outputs."""
    B, _, M = mixture.shape
    rows = np.arange(B)
    k = (np.log(clocks[:, :M]) - mixture[:, 0] / tau).argmin(1)
    p = (np.log(clocks[:, M:]) - pen / tau).argmin(1)
    mu_x, mu_y, lsx, lsy, rho = (mixture[rows, j, k] for j in range(1, 6))
    sx, sy = np.exp(lsx) * math.sqrt(tau), np.exp(lsy) * math.sqrt(tau)
    out = np.zeros((B, 5), mixture.dtype)
    out[:, 0] = mu_x + sx * e[:, 0]
    out[:, 1] = mu_y + sy * (rho * e[:, 0] + np.sqrt(1 - rho * rho) * e[:, 1])
    out[rows, 2 + p] = 1
    return out


def _partial_face():
    """A few strokes in data pixels: most of a head outline and an eye."""
    t = np.linspace(0.3, 1.7 * np.pi, 18)
    head = np.stack([70 * np.cos(t), 80 * np.sin(t)], 1)
    eye = np.array([[-25.0, -20.0], [-15.0, -22.0], [-10.0, -18.0]])
    return S.polylines_to_stroke3([head - head[0], eye - head[0]])


def _closed_loop(step, init, manifest, drawing, z, label, tau, seed, steps):
    """The page's loop (prime on ``drawing``, then ``steps`` points, ended rows stay ended) over a step function
    ``step(feeds) -> (mixture, pen_logits, h, c)`` (numpy), with the noise IncrementalSampler draws from ``seed``."""
    n, M, dtype = z.shape[0], manifest["num_mixture"], z.dtype
    g = torch.Generator().manual_seed(seed)
    h, c = init(z)
    static = {"z": z}
    if manifest["conditional"]:
        static["onehot"] = np.eye(manifest["num_classes"], dtype=dtype)[[label] * n]
    rows = S.stroke3_to_stroke5(S.normalize(drawing, manifest["scale"]))[:-1].astype(dtype)
    prev = np.tile(np.array(manifest["start_token"], dtype), (n, 1))
    for row in rows:
        _, _, h, c = step({"prev": prev, "h": h, "c": c, **static})
        prev = np.tile(row, (n, 1))
    ended = np.zeros(n, bool)
    out = []
    for _ in range(steps):
        mixture, pen, h, c = step({"prev": prev, "h": h, "c": c, **static})
        clocks = torch.empty(n, M + 3).exponential_(generator=g).numpy()
        e = torch.randn(n, 2, generator=g).numpy()
        pts = _draw(mixture, pen, tau, clocks, e)
        pts[ended] = [0, 0, 0, 0, 1]
        ended |= pts[:, 4] > 0.5
        out.append(pts)
        prev = pts
    return np.stack(out)


def _onnx_loop(folder, manifest, **kw):
    step, init = _session(folder / "step.onnx"), _session(folder / "init.onnx")
    return _closed_loop(lambda feeds: step.run(None, feeds), lambda z: init.run(None, {"z": z}), manifest, **kw)


def _torch_loop(model, manifest, **kw):
    def step(feeds):
        with torch.no_grad():
            return [t.numpy() for t in _reference_step(model, {k: torch.from_numpy(v) for k, v in feeds.items()})]

    def init(z):
        with torch.no_grad():
            return [t.numpy() for t in model.initial_state(torch.from_numpy(z), len(z))]

    return _closed_loop(step, init, manifest, **kw)


LOOP = dict(tau=0.25, seed=11, steps=50)


def _loop_inputs(model):
    z = torch.randn(9, model.latent_size, generator=torch.Generator().manual_seed(5)).numpy()
    return dict(drawing=_partial_face(), z=z, label=1 if model.cfg.conditional else None)


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_exported_closed_loop_matches_torch_with_the_same_noise(exported, name):
    folder, manifest, model, _ = exported[name]
    kw = {**_loop_inputs(model), **LOOP}
    got, want = _onnx_loop(folder, manifest, **kw), _torch_loop(model, manifest, **kw)
    assert got.shape == want.shape == (LOOP["steps"], 9, 5)
    assert not want[:, :, 4].all()  # the loop drew points, not only end rows
    assert np.array_equal(got[:, :, 2:], want[:, :, 2:])
    assert np.abs(got - want).max() <= LOOP_TOL


@pytest.fixture(scope="module")
def exported64(exported, tmp_path_factory):
    """``name -> (folder, model)``: float64 copies of each pad model's step and initial-state graphs,
    exported with the same exporter settings as the shipped float32 ones."""
    out = {}
    for name, (_, _, model, _) in exported.items():
        folder = tmp_path_factory.mktemp(name.replace("/", "_") + "-f64")
        model64 = copy.deepcopy(model).double().eval()
        g = torch.Generator().manual_seed(0)
        for key, module in (("step", DecoderStep(model64)), ("init", InitialState(model64))):
            args = tuple(a.double() for a in module.example_inputs(2, g))
            _export(module, args, module.input_names, module.output_names, folder / f"{key}.onnx")
        out[name] = (folder, model64)
    return out


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_exported_closed_loop_matches_torch_to_tol_in_float64(exported, exported64, name):
    """In float64 the 50-step loop over the exported graphs and the one over torch's reference cell
    agree to TOL: the float32 loop's larger gap (LOOP_TOL) is float32 rounding amplified, not the export."""
    _, manifest, model, _ = exported[name]
    folder, model64 = exported64[name]
    kw = {**_loop_inputs(model), **LOOP}
    kw["z"] = kw["z"].astype(np.float64)
    got, want = _onnx_loop(folder, manifest, **kw), _torch_loop(model64, manifest, **kw)
    assert got.dtype == want.dtype == np.float64
    assert not want[:, :, 4].all()
    assert np.array_equal(got[:, :, 2:], want[:, :, 2:])
    assert np.abs(got - want).max() <= TOL


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_exported_closed_loop_draws_the_points_of_sketchlibs_sampler(exported, name):
    """The page's path against sketchlib.sampling.complete's: encode the drawing (z = mu for all nine),
    prime on it, sample; IncrementalSampler runs its fused inference kernel and fused priming."""
    from sketchlib.sampling import encode

    folder, manifest, model, stats = exported[name]
    kw = {**_loop_inputs(model), **LOOP}
    labels = None if kw["label"] is None else [kw["label"]] * 9
    latent = encode(model, [kw["drawing"]] * 9, stats["scale"], labels)
    kw["z"] = np.tile(_onnx_encode(folder, manifest, kw["drawing"], kw["label"]), (9, 1))
    sampler = IncrementalSampler(model, 9, scale=stats["scale"], latent=latent, labels=kw["label"],
                                 temperature=LOOP["tau"], seed=LOOP["seed"])
    sampler.prime(kw["drawing"])
    units = np.array([stats["scale"], stats["scale"], 1, 1, 1], np.float32)
    want = np.stack([sampler.step() / units for _ in range(LOOP["steps"])])
    got = _onnx_loop(folder, manifest, **kw)
    assert np.array_equal(got[:, :, 2:], want[:, :, 2:])  # the same pen states, the same ends
    assert np.abs(got - want).max() <= LOOP_TOL


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_manifest_describes_the_checkpoint(exported, name):
    folder, manifest, model, stats = exported[name]
    assert manifest == json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == name
    assert manifest["dec_rnn_size"] == model.cfg.dec_rnn_size
    assert manifest["latent_size"] == model.latent_size
    assert manifest["num_mixture"] == model.cfg.num_mixture
    assert manifest["conditional"] == model.cfg.conditional
    assert manifest["class_names"] == list(stats["class_names"])
    assert manifest["scale"] == pytest.approx(stats["scale"])
    assert manifest["max_seq_len"] == stats["max_seq_len"]
    assert manifest["temperature"] == 0.25
    assert manifest["checkpoint_sha256"] == sha256_of(pretrained.path(name))


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_manifest_checksums_match_the_files(exported, name):
    folder, manifest, _, _ = exported[name]
    assert set(manifest["files"]) == {"step", "init", "encoder_step", "encoder_head"}
    for entry in manifest["files"].values():
        assert sha256_of(folder / entry["file"]) == entry["sha256"]
        assert (folder / entry["file"]).stat().st_size == entry["bytes"]
    assert check_manifest(folder) == manifest


@slow
@pytest.mark.parametrize("name", PAD_MODELS)
def test_exported_files_stay_under_3_mb_at_decoder_256(exported, name):
    _, manifest, model, _ = exported[name]
    assert model.cfg.dec_rnn_size == 256
    assert sum(e["bytes"] for e in manifest["files"].values()) <= 3_000_000


@slow
def test_check_manifest_names_a_damaged_file(exported, tmp_path):
    folder = exported[PAD_MODELS[0]][0]
    copy = shutil.copytree(folder, tmp_path / "copy")
    data = bytearray((copy / "step.onnx").read_bytes())
    data[-1] ^= 0xFF
    (copy / "step.onnx").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"step\.onnx: sha256 .* differs from the manifest"):
        check_manifest(copy)


@slow
def test_export_if_changed_keeps_an_export_of_the_same_checkpoint(exported):
    folder, manifest, _, _ = exported[PAD_MODELS[0]]
    again = export_checkpoint(PAD_MODELS[0], folder, if_changed=True)
    assert again.get("reused") is True
    assert again["files"] == manifest["files"]


def test_bad_checkpoint_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no/such/model\.pt: no such checkpoint file"):
        export_checkpoint("no/such/model.pt", tmp_path)
    assert not (tmp_path / "manifest.json").exists()


def test_misspelt_checkpoint_name_suggests_the_shipped_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Did you mean sketch_rnn-small/quickdraw-face"):
        export_checkpoint("sketch_rnn-small/quickdraw-fac", tmp_path)


def test_cli_export_with_a_bad_checkpoint_exits_1_naming_it(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sketchlib", "export", "--checkpoint", str(tmp_path / "nope.pt"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "sketchlib export: error:" in proc.stderr and "nope.pt: no such checkpoint file" in proc.stderr


def test_a_corrupt_checkpoint_file_is_named_in_the_error(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"broken\.pt: cannot read this checkpoint"):
        export_checkpoint(bad, tmp_path / "out")


def test_a_model_with_the_influence_layer_is_refused():
    model = SketchModel(preset("aisketcher-small"))
    with pytest.raises(ValueError, match="influence layer"):
        DecoderStep(model)
