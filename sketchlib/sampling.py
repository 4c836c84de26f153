"""Drawing from trained models: sampling, reconstruction, completion, z-switching, interpolation.

Everything takes and returns stroke-3 drawings in **pixel** units; ``scale`` is
the data's normalising scale (a checkpoint's ``stats["scale"]``).

The core is :class:`IncrementalSampler`: it keeps the decoder's recurrent state
between calls, so a canvas widget can ask for one point at a time without
re-running the history, and a batch of drawings stops as soon as all of them
have ended. :func:`sample`, :func:`complete`, :func:`reconstruct` and
:func:`z_switch` are thin wrappers around it. One step is one pass over the
decoder's weights plus a few dozen small ops (``fused_step.InferenceStep`` for the
recurrent update, :meth:`MixtureHead.sample <sketchlib.models.mdn.MixtureHead.sample>`
for the mixture); priming a drawing is one teacher-forced run.

Temperature ``tau`` (Sketch-RNN section 3.3): mixture weights and pen logits are
divided by ``tau`` before their softmax and every sigma is scaled by
``sqrt(tau)``; small ``tau`` gives tidy, typical drawings, ``tau = 1`` the model's
full distribution. ``greedy=True`` always takes the most likely component's mean
and the most likely pen state.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch

from sketchlib import strokes as S
from sketchlib.models.cells import run_recurrent
from sketchlib.models.fused_step import InferenceStep
from sketchlib.models.sketch_model import Latent, SketchModel

__all__ = [
    "make_batch",
    "encode",
    "IncrementalSampler",
    "prior_z",
    "sample",
    "complete",
    "reconstruct",
    "z_switch",
    "lerp",
    "slerp",
    "interpolate",
]


def prior_z(model: SketchModel, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` latents ``[z_s; z_r]`` for sampling without an input drawing: ``z_s ~ N(0, I)`` and ``z_r = 0``.

    ``z_s`` has the VAE's prior. ``z_r`` (AI-Sketcher's CNN autoencoder code) has none: the
    autoencoder is deterministic, and its codes are ``tanh`` outputs that lie in (-1, 1), spread
    around 0. Drawn from ``N(0, I)`` like ``z_s``, about a third of its dimensions fall outside
    anything the decoder saw in training, and the decoder draws scribbles (chapter 8 shows
    both). ``z_r = 0``, the centre of the codes, keeps prior samples on the training distribution;
    to draw in the style of a real drawing, pass its ``z_r`` (from :func:`encode`) inside ``z``.
    The ``N(0, I)`` draw covers all of ``z``, so ``z_s`` is the same as for a model without an
    autoencoder under the same generator.
    """
    z = torch.randn(n, model.latent_size, generator=generator, device=model.device)
    if model.cfg.autoencoder:
        z[:, model.latent_size - model.cfg.ae_z_size:] = 0.0  # z = [z_s; z_r] (SketchModel.encode)
    return z


def _labels_tensor(model: SketchModel, labels, n: int) -> torch.Tensor | None:
    if labels is None:
        return None
    if isinstance(labels, (int, np.integer)):
        labels = [int(labels)] * n
    t = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=model.device)
    if len(t) != n:
        raise ValueError(f"got {len(t)} labels for {n} drawings")
    k = model.cfg.num_classes
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ValueError(f"class labels must lie in 0..{k - 1}, got {t.tolist()}")
    return t


def make_batch(model: SketchModel, drawings: Sequence[np.ndarray], scale: float, labels=None) -> dict:
    """Pixel-unit stroke-3 drawings -> a model batch (normalised, padded, rasters when the model needs them)."""
    cfg = model.cfg
    normed = [S.normalize(S.validate_stroke3(d, where=f"drawing {i}"), scale) for i, d in enumerate(drawings)]
    strokes5, lengths = S.pad_batch(normed)
    lab = _labels_tensor(model, labels if labels is not None else 0, len(drawings))
    batch = {
        "strokes5": torch.from_numpy(strokes5).to(model.device),
        "lengths": torch.from_numpy(lengths).to(model.device),
        "labels": lab,
        "onehot": torch.nn.functional.one_hot(lab, cfg.num_classes).float(),
    }
    if cfg.needs_raster:
        from sketchlib.raster import render

        rasters = np.asarray(render(list(drawings), size=cfg.needs_raster))
        batch["rasters"] = torch.from_numpy(rasters).float().unsqueeze(1).to(model.device)
    return batch


@torch.no_grad()
def encode(model: SketchModel, drawings: Sequence[np.ndarray], scale: float, labels=None,
           sample: bool = False) -> Latent:
    """Encode pixel-unit drawings (under ``labels`` for conditional models); ``sample=False`` gives ``z = mu``."""
    model.eval()
    return model.encode(make_batch(model, drawings, scale, labels), sample=sample)


_END_ROW = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)


class IncrementalSampler:
    """A batch of ``n`` drawings decoded one point at a time.

    Args:
        model: a trained :class:`SketchModel` (put in eval mode here).
        n: batch size.
        scale: the data's normalising scale (pixels per model unit).
        latent: a :class:`Latent` from :func:`encode` (its ``z`` and, for the influence
            layer, the encoder states of the input drawing). ``None``: ``z ~ N(0, I)``.
        labels: class indices for conditional models (int or one per drawing).
        temperature, greedy: see the module docstring.
        seed: makes the whole run reproducible.
    """

    def __init__(
        self,
        model: SketchModel,
        n: int = 1,
        *,
        scale: float = 1.0,
        latent: Latent | None = None,
        z: torch.Tensor | np.ndarray | None = None,
        labels=None,
        temperature: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
    ):
        model.eval()
        self.model, self.n, self.scale = model, n, float(scale)
        self.temperature, self.greedy = float(temperature), greedy
        dev = model.device
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item()))
        cfg = model.cfg
        if latent is None:
            latent = Latent(z=None)
            if model.latent_size:
                if z is None:
                    z = prior_z(model, n, self.generator)
                z = np.asarray(z) if not torch.is_tensor(z) else z
                latent.z = torch.as_tensor(z, dtype=torch.float32, device=dev).reshape(n, -1)
        elif z is not None:
            raise ValueError("pass either latent or z, not both")
        if latent.z is not None and latent.z.shape[0] != n:
            raise ValueError(f"latent holds {latent.z.shape[0]} drawings, sampler asked for n={n}")
        self.latent = latent
        lab = _labels_tensor(model, labels if labels is not None else (0 if cfg.conditional else None), n)
        self.onehot = None if lab is None else torch.nn.functional.one_hot(lab, cfg.num_classes).float()
        self.reset()

    # -- state
    def reset(self) -> None:
        """Back to the start token, keeping the latent and the class."""
        m = self.model
        with torch.no_grad():
            self.h, self.c = m.initial_state(self.latent.z, self.n)
            self._static = m.static_input(self.latent.z, self.onehot)
            self._w5 = m.decoder.w_x[:5]
            gates = m.decoder.static_gates(self._static)  # [z; c]'s share of the gates, and the bias
            if gates is None:
                gates = torch.zeros(m.decoder.w_x.shape[1], device=m.device)
            self._static_xw = gates.expand(self.n, -1)
            self._cell = InferenceStep(m.decoder, self.n)
        self.prev = torch.tensor(S.START_TOKEN, device=m.device).repeat(self.n, 1)
        self.step_index = 0
        self.ended = torch.zeros(self.n, dtype=torch.bool)  # on the host, where the points go
        self.points: list[torch.Tensor] = []  # stroke-5 rows in model units, (n, 5) each

    def _advance(self, inp: torch.Tensor) -> torch.Tensor:
        """Feed one stroke-5 row per drawing, return the new hidden state."""
        m = self.model
        xw = torch.addmm(self._static_xw, inp, self._w5)
        a = None
        if m.influence is not None:
            noise = None
            if not self.greedy:
                noise = torch.randn(self.n, m.cfg.influence_size, generator=self.generator, device=m.device)
                noise = noise * (self.temperature ** 0.5)
            a, _, _ = m.influence(self.h, self.latent.influence, self.step_index, noise)
        self.h, self.c = self._cell(xw, self.h, self.c, a)
        self.step_index += 1
        return self.h

    @torch.no_grad()
    def prime(self, drawings: Sequence[np.ndarray] | np.ndarray) -> None:
        """Teacher-force the decoder through given pixel-unit stroke-3 drawings (one per batch row,
        or one for all), so the next :meth:`step` continues them."""
        if isinstance(drawings, np.ndarray) and drawings.ndim == 2:
            drawings = [drawings] * self.n
        if len(drawings) != self.n:
            raise ValueError(f"prime got {len(drawings)} drawings for a batch of {self.n}")
        lengths = [len(d) for d in drawings]
        if len(set(lengths)) != 1:
            raise ValueError("prime needs drawings of equal length (prime one drawing per sampler otherwise)")
        rows = [S.stroke3_to_stroke5(S.normalize(d, self.scale))[:-1] for d in drawings]
        seq = torch.from_numpy(np.stack(rows)).to(self.model.device)  # (n, L, 5)
        if seq.shape[1] == 0:
            return
        m = self.model
        if m.influence is None:  # the whole drawing in one teacher-forced run
            inputs = torch.cat([self.prev.unsqueeze(1), seq[:, :-1]], dim=1)
            _, (self.h, self.c) = run_recurrent(m.decoder, inputs, (self.h, self.c), self._static)
            self.step_index += seq.shape[1]
        else:  # a_d of each step depends on the previous state
            for t in range(seq.shape[1]):
                self._advance(seq[:, t - 1] if t else self.prev)
        self.prev = seq[:, -1]
        self.points.extend(seq.unbind(1))

    @torch.no_grad()
    def step(self) -> np.ndarray:
        """Decode one point for every drawing: ``(n, 5)`` stroke-5 in pixels (ended rows stay ended)."""
        h = self._advance(self.prev)
        rows = self.model.mixture.sample(h, self.temperature, self.greedy, self.generator)
        ended = self.ended.numpy()  # shares memory with self.ended
        rows[ended] = _END_ROW
        ended |= rows[:, 4] > 0.5
        self.prev = torch.from_numpy(rows).to(self.model.device)  # on the CPU, the same memory as rows
        self.points.append(self.prev)
        out = rows.copy()
        out[:, :2] *= self.scale
        return out

    @torch.no_grad()
    def run(self, max_len: int = 250, check_every: int = 8) -> list[np.ndarray]:
        """Step until every drawing has ended (checked every ``check_every`` points) or ``max_len`` points."""
        for i in range(max_len - len(self.points)):
            self.step()
            if (i + 1) % check_every == 0 and bool(self.ended.all()):
                break
        return self.drawings()

    def drawings(self) -> list[np.ndarray]:
        """The drawings so far (primed part included), stroke-3 in pixels."""
        if not self.points:
            return [np.zeros((0, 3), np.float32) for _ in range(self.n)]
        seq = torch.stack(self.points, dim=1).cpu().numpy()
        return [S.denormalize(S.stroke5_to_stroke3(s), self.scale) for s in seq]


def _max_len(model: SketchModel, max_len: int | None) -> int:
    return int(max_len if max_len is not None else model.cfg.max_seq_len)


def sample(
    model: SketchModel,
    n: int = 1,
    *,
    scale: float,
    temperature: float = 1.0,
    labels=None,
    z=None,
    latent: Latent | None = None,
    greedy: bool = False,
    seed: int | None = None,
    max_len: int | None = None,
) -> list[np.ndarray]:
    """``n`` drawings from ``z`` (given, from ``latent``, or ``z ~ N(0, I)``), in pixels."""
    s = IncrementalSampler(model, n, scale=scale, latent=latent, z=z, labels=labels,
                           temperature=temperature, greedy=greedy, seed=seed)
    return s.run(_max_len(model, max_len))


def reconstruct(
    model: SketchModel,
    drawings: Sequence[np.ndarray],
    *,
    scale: float,
    labels=None,
    temperature: float = 0.2,
    greedy: bool = False,
    seed: int | None = None,
    max_len: int | None = None,
) -> list[np.ndarray]:
    """Encode each drawing (``z = mu``) and decode it again."""
    lat = encode(model, drawings, scale, labels)
    return sample(model, len(drawings), scale=scale, latent=lat, labels=labels, temperature=temperature,
                  greedy=greedy, seed=seed, max_len=max_len)


def complete(
    model: SketchModel,
    partial: np.ndarray,
    n: int = 1,
    *,
    scale: float,
    label: int | None = None,
    temperature: float = 0.5,
    encode_partial: bool = True,
    z=None,
    greedy: bool = False,
    seed: int | None = None,
    max_len: int | None = None,
) -> list[np.ndarray]:
    """``n`` completions of one partial drawing (pixel stroke-3): prime the decoder with it, then sample.

    The latent comes from encoding the partial drawing itself (``encode_partial``),
    from ``z``, or from the prior.
    """
    lat = None
    if encode_partial and model.cfg.has_latent and z is None:
        lab = None if label is None else [label] * n
        lat = encode(model, [partial] * n, scale, lab)
    s = IncrementalSampler(model, n, scale=scale, latent=lat, z=z, labels=label,
                           temperature=temperature, greedy=greedy, seed=seed)
    s.prime(partial)
    return s.run(_max_len(model, max_len))


def z_switch(
    model: SketchModel,
    partial: np.ndarray,
    *,
    scale: float,
    new_label: int | None = None,
    encoder_model: SketchModel | None = None,
    target: np.ndarray | Sequence[np.ndarray] | None = None,
    n: int = 1,
    temperature: float = 0.5,
    seed: int | None = None,
    max_len: int | None = None,
) -> list[np.ndarray]:
    """Finish a partial drawing of one object as another: re-encode it (under ``new_label`` for
    conditional models, or with ``encoder_model``'s encoder) and continue decoding from there.

    An unconditional model has no class to switch to; pass ``target``, a drawing of the other object
    (or ``n`` of them, one per continuation): the decoder is primed with ``partial`` as before but
    continues under the target's latent (``z = mu``) instead of the partial drawing's.
    """
    enc = encoder_model or model
    lab = None if new_label is None else [new_label] * n
    if target is None:
        sources = [partial] * n
    elif isinstance(target, np.ndarray) and target.ndim == 2:
        sources = [target] * n
    else:
        sources = list(target)
        if len(sources) != n:
            raise ValueError(f"z_switch got {len(sources)} target drawings for n={n} continuations")
    lat = encode(enc, sources, scale, lab)
    s = IncrementalSampler(model, n, scale=scale, latent=lat, labels=new_label, temperature=temperature, seed=seed)
    s.prime(partial)
    return s.run(_max_len(model, max_len))


# --------------------------------------------------------------------------- interpolation


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: ``sin((1-t) a)/sin(a) z0 + sin(t a)/sin(a) z1`` with
    ``a = arccos(z0 . z1 / |z0| |z1|)``; falls back to :func:`lerp` when ``a`` is ~0."""
    u0, u1 = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    a = torch.arccos((u0 * u1).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(a)
    if bool((so.abs() < 1e-6).any()):
        return lerp(z0, z1, t)
    return torch.sin((1 - t) * a) / so * z0 + torch.sin(t * a) / so * z1


def interpolate(
    z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, method: Literal["linear", "spherical"] = "spherical"
) -> torch.Tensor:
    """``steps`` latents from ``z0`` to ``z1`` inclusive: ``(steps, Z)``."""
    fn = slerp if method == "spherical" else lerp
    ts = np.linspace(0.0, 1.0, steps)
    return torch.stack([fn(z0.reshape(-1), z1.reshape(-1), float(t)) for t in ts])
