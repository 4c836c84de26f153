"""Export a trained model's decoder to ONNX, for the browser sketch pad (onnxruntime-web).

The page (``book/webpad/``) samples a drawing one point at a time, the loop of
:class:`sketchlib.sampling.IncrementalSampler`, in JavaScript. It needs these graphs:

- ``step.onnx``, one decoder step. Inputs ``prev (B, 5)`` (the previous stroke-5
  point), ``h, c (B, H)`` (the decoder's state), ``z (B, Z)`` when the model has a
  latent, ``onehot (B, K)`` when it is class-conditional. Outputs ``mixture
  (B, 6, M)``, the rows ``log pi, mu_x, mu_y, log sigma_x, log sigma_y, rho`` of
  :class:`sketchlib.models.mdn.MixtureParams` (after the head's transforms:
  log-softmax, clamped log sigmas, ``tanh(.) * RHO_MAX``), ``pen_logits (B, 3)``
  and the new state ``h_out, c_out``. The batch dimension is dynamic.
- ``init.onnx``, the initial-state map ``z (B, Z) -> h0, c0 = tanh(W z + b)``
  (only for models with a latent; without one the state starts at zeros).
- ``encoder_step.onnx`` and ``encoder_head.onnx``, for models with an RNN encoder (and no raster
  autoencoder): one step of both directions of the bidirectional encoder, and its last states (with
  the class one-hot of a conditional model) -> ``mu``. The page encodes the reader's drawing with
  them and decodes from ``z = mu``, as :func:`sketchlib.sampling.complete` does.

Both are traced from the readable reference code, :meth:`LSTMCell.step
<sketchlib.models.cells.LSTMCell.step>` and :class:`~sketchlib.models.mdn.MixtureHead`,
never from the fused training kernels (custom autograd functions that an
exporter cannot see through). ``manifest.json`` beside them holds what the page
needs to use them: sizes, class names, the data's scale, ``max_seq_len``, the
default temperature, each file's inputs and outputs and its sha256 (the page
refuses a file whose checksum differs).

Usage::

    python -m sketchlib export --checkpoint sketch_rnn-small/quickdraw-face --out DIR
    >>> from sketchlib.export import export_checkpoint            # doctest: +SKIP
    >>> export_checkpoint("sketch_rnn-small/quickdraw-face", "out/face")  # doctest: +SKIP

The exporter is PyTorch's dynamo-based ``torch.onnx.export(..., dynamo=True)``
(opset :data:`OPSET`; it needs the ``onnxscript`` package). Every export is
checked right away: the graphs run under ``onnxruntime`` (when installed) and must
agree with torch to :data:`CHECK_TOLERANCE`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from sketchlib.checkpoint import CheckpointError, load_model

__all__ = ["OPSET", "DEFAULT_TEMPERATURE", "MANIFEST", "DecoderStep", "InitialState", "EncoderStep", "EncoderHead",
           "encoder_exportable", "resolve_checkpoint",
           "export_model", "export_checkpoint", "sha256_of", "check_manifest"]

#: ONNX opset of the exported graphs.
OPSET = 18
#: The page's temperature when it opens (Sketch-RNN section 3.3; the ch. 9 pad's default).
DEFAULT_TEMPERATURE = 0.25
MANIFEST = "manifest.json"
FORMAT = "sketchlib-webpad-model"
VERSION = 1
#: Largest difference allowed between onnxruntime and torch in the export's own check.
CHECK_TOLERANCE = 1e-4


class DecoderStep(nn.Module):
    """One decoder step of a :class:`~sketchlib.models.sketch_model.SketchModel`, from its reference cell.

    ``forward(prev, h, c, [z], [onehot]) -> (mixture (B, 6, M), pen_logits (B, 3), h, c)``;
    ``z`` only when the model has a latent, ``onehot`` only when it is conditional
    (:attr:`input_names` lists them). The decoder's input is ``[prev; z; onehot]``
    (Sketch-RNN eq. 5 / AI-Sketcher eq. 5), as in :meth:`SketchModel.static_input`.
    """

    def __init__(self, model):
        super().__init__()
        if model.influence is not None:
            raise ValueError(
                f"{model.cfg.name}: the influence layer's decoder needs the encoder states of the input drawing "
                "at every step; only models without it (Sketch-RNN, conditional Sketch-RNN, ...) can be exported"
            )
        self.cell, self.head = model.decoder, model.mixture
        self.has_z = model.latent_size > 0
        self.conditional = bool(model.cfg.conditional)
        self.latent_size = int(model.latent_size)
        self.num_classes = int(model.cfg.num_classes)

    @property
    def input_names(self) -> list[str]:
        return ["prev", "h", "c"] + (["z"] if self.has_z else []) + (["onehot"] if self.conditional else [])

    output_names = ["mixture", "pen_logits", "h_out", "c_out"]
    n_fixed = 3  # forward's positional arguments before *static

    def example_inputs(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
        H = self.cell.hidden_size
        inputs = [torch.randn(batch, 5, generator=g), torch.rand(batch, H, generator=g) * 2 - 1,
                  torch.randn(batch, H, generator=g)]
        if self.has_z:
            inputs.append(torch.randn(batch, self.latent_size, generator=g))
        if self.conditional:
            inputs.append(_onehots(batch, self.num_classes))
        return tuple(inputs)

    def forward(self, prev: torch.Tensor, h: torch.Tensor, c: torch.Tensor, *static: torch.Tensor):
        x = torch.cat([prev, *static], dim=1) if static else prev
        h, c = self.cell.step(self.cell.input_projection(x), h, c)
        p = self.head(h)
        mixture = torch.stack([p.log_pi, p.mu_x, p.mu_y, p.log_sx, p.log_sy, p.rho], dim=1)
        return mixture, p.pen_logits, h, c


class InitialState(nn.Module):
    """``z (B, Z) -> h0, c0 = tanh(W z + b)`` (:meth:`SketchModel.initial_state`)."""

    input_names = ["z"]
    output_names = ["h0", "c0"]

    def __init__(self, model):
        super().__init__()
        if model.init_state is None:
            raise ValueError(f"{model.cfg.name}: the model has no latent, its decoder starts from zeros")
        self.linear = model.init_state

    def example_inputs(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch, self.linear.in_features, generator=g),)

    def forward(self, z: torch.Tensor):
        h, c = torch.tanh(self.linear(z)).chunk(2, dim=1)
        return h, c


def encoder_exportable(model) -> bool:
    """Whether the page can encode a drawing with the model: an RNN encoder and no raster autoencoder."""
    return model.rnn_encoder is not None and model.autoencoder is None


class EncoderStep(nn.Module):
    """One step of both directions of the bidirectional encoder (:class:`~sketchlib.models.cells.BiRNN`),
    from their reference cells: the forward cell reads the drawing's rows in order, the backward cell
    the same rows from the last to the first; both start from zeros.

    ``forward(x_fw, h_fw, c_fw, x_bw, h_bw, c_bw) -> (h_fw, c_fw, h_bw, c_bw)``.
    """

    input_names = ["x_fw", "h_fw", "c_fw", "x_bw", "h_bw", "c_bw"]
    output_names = ["h_fw_out", "c_fw_out", "h_bw_out", "c_bw_out"]

    def __init__(self, model):
        super().__init__()
        if not encoder_exportable(model):
            raise ValueError(f"{model.cfg.name}: only an RNN encoder without the raster autoencoder can be exported")
        self.fw, self.bw = model.rnn_encoder.fw, model.rnn_encoder.bw

    def example_inputs(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
        H = self.fw.hidden_size
        state = lambda: (torch.rand(batch, H, generator=g) * 2 - 1, torch.randn(batch, H, generator=g))  # noqa: E731
        return (torch.randn(batch, 5, generator=g), *state(), torch.randn(batch, 5, generator=g), *state())

    def forward(self, x_fw, h_fw, c_fw, x_bw, h_bw, c_bw):
        h_fw, c_fw = self.fw.step(self.fw.input_projection(x_fw), h_fw, c_fw)
        h_bw, c_bw = self.bw.step(self.bw.input_projection(x_bw), h_bw, c_bw)
        return h_fw, c_fw, h_bw, c_bw


class EncoderHead(nn.Module):
    """The encoder's last states (and the class one-hot of a conditional model) -> ``mu``
    (Sketch-RNN eq. 2-3, AI-Sketcher eq. 3): the page uses ``z = mu``, as ``sketchlib.sampling.encode``.

    ``forward(h_fw, h_bw, [onehot]) -> mu (B, z_size)``.
    """

    output_names = ["mu"]
    n_fixed = 2

    def __init__(self, model):
        super().__init__()
        if not encoder_exportable(model):
            raise ValueError(f"{model.cfg.name}: only an RNN encoder without the raster autoencoder can be exported")
        self.linear = model.to_latent
        self.z_size = int(model.cfg.z_size)
        self.hidden = int(model.rnn_encoder.hidden_size)
        self.conditional = bool(model.cfg.conditional)
        self.num_classes = int(model.cfg.num_classes)

    @property
    def input_names(self) -> list[str]:
        return ["h_fw", "h_bw"] + (["onehot"] if self.conditional else [])

    def example_inputs(self, batch: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
        h = lambda: torch.rand(batch, self.hidden, generator=g) * 2 - 1  # noqa: E731
        return (h(), h()) + ((_onehots(batch, self.num_classes),) if self.conditional else ())

    def forward(self, h_fw: torch.Tensor, h_bw: torch.Tensor, *onehot: torch.Tensor):
        out = self.linear(torch.cat([h_fw, h_bw, *onehot], dim=1))
        return out[:, : self.z_size]


def _onehots(batch: int, k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.arange(batch) % k, k).float()


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_checkpoint(name_or_path: str | os.PathLike) -> tuple[Path, str | None]:
    """A shipped checkpoint's registry name, or a checkpoint file -> ``(file, registry name or None)``.

    Raises ``FileNotFoundError`` naming the argument when it is neither.
    """
    from sketchlib import pretrained

    text = str(name_or_path)
    p = Path(text)
    if p.is_file():
        return p, None
    try:
        names = pretrained.available()
    except (FileNotFoundError, CheckpointError):
        names = []
    if text in names:
        return pretrained.path(text), text
    import difflib

    close = difflib.get_close_matches(text, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(
        f"{text}: no such checkpoint file, and no shipped checkpoint of that name.{hint} "
        f"Pass a checkpoint file (e.g. runs/faces/best.pt) or one of: {', '.join(names) or '(none shipped)'}"
    )


def _export(module: nn.Module, args: tuple, names: list[str], outputs: list[str], path: Path) -> None:
    """``module`` -> ``path`` (one self-contained .onnx file) with a dynamic batch dimension."""
    import warnings

    try:
        import onnxscript  # noqa: F401  (torch's dynamo exporter needs it)
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnxscript package: pip install onnxscript") from None
    batch = torch.export.Dim("batch", min=1, max=4096)
    # one spec per positional argument; a forward(a, b, *rest) takes the specs of *rest as one tuple
    specs = [{0: batch} for _ in args]
    fixed = getattr(module, "n_fixed", None)
    dynamic = tuple(specs) if fixed is None or len(args) == fixed else tuple(specs[:fixed]) + (tuple(specs[fixed:]),)
    import logging

    for noisy in ("onnxscript", "onnx_ir", "torch.onnx"):  # the exporter's INFO lines about its passes
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, args, dynamo=True, opset_version=OPSET, input_names=names,
                                    output_names=outputs, dynamic_shapes=dynamic, external_data=False,
                                    verbose=False, report=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.tmp")
    program.save(str(tmp), external_data=False)
    os.replace(tmp, path)


def _check(module: nn.Module, path: Path, names: list[str], generator: torch.Generator) -> float | None:
    """Run ``path`` under onnxruntime at batch 3 and return the largest difference from torch (None without it)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    args = module.example_inputs(3, generator)
    with torch.no_grad():
        expected = module(*args)
    if isinstance(expected, torch.Tensor):
        expected = (expected,)
    got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
    return max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))


def _export_graphs(model, out: Path) -> dict:
    """Export and check every graph the page needs; returns the manifest's ``files`` entries."""
    g = torch.Generator().manual_seed(0)
    files = {}
    graphs = [("step", DecoderStep(model))]
    if model.init_state is not None:
        graphs.append(("init", InitialState(model)))
    if encoder_exportable(model):
        graphs += [("encoder_step", EncoderStep(model)), ("encoder_head", EncoderHead(model))]
    with torch.no_grad():
        for key, module in graphs:
            module.eval()
            args = module.example_inputs(2, g)
            names = module.input_names
            path = out / f"{key}.onnx"
            _export(module, args, names, module.output_names, path)
            diff = _check(module, path, names, g)
            if diff is not None and not diff <= CHECK_TOLERANCE:
                raise RuntimeError(f"{path}: the exported graph differs from torch by {diff:.3g} "
                                   f"(more than {CHECK_TOLERANCE}); the exporter mistranslated it")
            files[key] = {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
                          "inputs": names, "outputs": list(module.output_names), "check_max_abs_diff": diff}
    return files


def export_model(model, stats: dict, out: str | os.PathLike, *, name: str | None = None,
                 description: str = "", checkpoint_sha256: str | None = None,
                 temperature: float = DEFAULT_TEMPERATURE) -> dict:
    """Export ``model`` (with its checkpoint ``stats``) into folder ``out``; returns the manifest it wrote."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    cfg = model.cfg
    if "scale" not in stats:
        raise ValueError(f"{name or cfg.name}: the checkpoint's stats have no 'scale'; it cannot be exported")
    files = _export_graphs(model, out)
    class_names = [str(c) for c in stats.get("class_names", [])]
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "name": name or cfg.name,
        "description": description,
        "preset": cfg.name,
        "checkpoint_sha256": checkpoint_sha256,
        "dec_rnn_size": int(cfg.dec_rnn_size),
        "dec_cell": cfg.dec_cell,
        "latent_size": int(model.latent_size),
        "encoder": encoder_exportable(model),  # the page encodes the reader's drawing (z = mu); else z ~ N(0, I)
        "enc_rnn_size": int(cfg.enc_rnn_size) if encoder_exportable(model) else None,
        "num_mixture": int(cfg.num_mixture),
        "conditional": bool(cfg.conditional),
        "num_classes": int(cfg.num_classes),
        "class_names": class_names,
        "scale": float(stats["scale"]),
        "max_seq_len": int(stats.get("max_seq_len", cfg.max_seq_len)),
        "temperature": float(temperature),
        "start_token": [0.0, 0.0, 1.0, 0.0, 0.0],
        "mixture_rows": ["log_pi", "mu_x", "mu_y", "log_sigma_x", "log_sigma_y", "rho"],
        "opset": OPSET,
        "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
        "exporter_sha256": _exporter_sha256(),
        "exported": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": files,
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out / MANIFEST)
    return manifest


def _exporter_sha256() -> str:
    """The sha256 of this module's source: a changed exporter makes earlier exports stale."""
    return sha256_of(__file__)


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, *,
                      temperature: float = DEFAULT_TEMPERATURE, if_changed: bool = False) -> dict:
    """Export a shipped checkpoint (registry name) or a checkpoint file into ``out``; returns the manifest.

    ``if_changed``: keep an earlier export in ``out`` when it came from the same checkpoint file (sha256),
    the same exporter source and temperature, and its files still match their checksums.
    """
    path, name = resolve_checkpoint(checkpoint)
    ckpt_sha = sha256_of(path)
    if if_changed and (Path(out) / MANIFEST).is_file():
        try:
            old = check_manifest(out)
        except (OSError, ValueError, KeyError):
            old = None
        if old is not None and old.get("checkpoint_sha256") == ckpt_sha and old.get("temperature") == temperature \
                and old.get("exporter_sha256") == _exporter_sha256():
            old["reused"] = True
            return old
    model, stats = load_model(path, map_location="cpu")
    description = ""
    if name is not None:
        from sketchlib import pretrained

        description = pretrained.info(name).description
    return export_model(model, stats, out, name=name or path.stem, description=description,
                        checkpoint_sha256=ckpt_sha, temperature=temperature)


def check_manifest(folder: str | os.PathLike) -> dict:
    """Read ``folder/manifest.json`` and check every file's sha256; returns the manifest.

    Raises ``ValueError`` naming the file whose checksum differs (as the page does).
    """
    folder = Path(folder)
    f = folder / MANIFEST
    if not f.is_file():
        raise FileNotFoundError(f"{f}: no manifest; export the model with `python -m sketchlib export`")
    manifest = json.loads(f.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{f}: not a {FORMAT} manifest")
    for entry in manifest["files"].values():
        p = folder / entry["file"]
        if not p.is_file():
            raise FileNotFoundError(f"{p}: listed in {f} but missing; export the model again")
        got = sha256_of(p)
        if got != entry["sha256"]:
            raise ValueError(f"{p}: sha256 {got} differs from the manifest's {entry['sha256']}; "
                             "the file is damaged or stale: export the model again")
    return manifest
