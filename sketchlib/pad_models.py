"""The models of a :class:`~sketchlib.widgets.SketchPad`: which it can use (each loaded once), what their
classes are called, and what they can do with the user's drawing beyond completing it."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchlib import sampling

__all__ = ["PREFERRED_MODELS", "default_model_name", "ModelShelf", "class_names_of", "ModelActions"]

#: The checkpoint the pad starts with: the first of these that is shipped.
PREFERRED_MODELS = (
    "aisketcher-small/faces",
    "conditional_sketch_rnn-small/faces",
    "sketch_rnn-small/quickdraw-face",
    "sketch_rnn-small/aaron-sheep",
)


def default_model_name(names: Sequence[str] | None = None) -> str:
    """The first of :data:`PREFERRED_MODELS` among ``names`` (default: the shipped checkpoints), else the first name."""
    if names is None:
        from sketchlib import pretrained

        names = pretrained.available()
    names = list(names)
    if not names:
        raise ValueError("no checkpoints to choose from; pass model= and stats= to SketchPad")
    return next((n for n in PREFERRED_MODELS if n in names), names[0])


def class_names_of(model, stats: dict) -> list[str]:
    """A model's class names in label order (from its checkpoint stats, else ``class 0``, ...); one for an
    unconditional model."""
    k = int(model.cfg.num_classes) if model.cfg.conditional else 1
    names = list(stats.get("class_names") or [])
    return names if len(names) == k else [f"class {i}" for i in range(k)]


class ModelShelf:
    """The models given by name (``{name: (model, stats)}``), then the shipped checkpoints, loaded when first used."""

    def __init__(self, given: dict[str, tuple] | None = None):
        self._loaded: dict[str, tuple] = dict(given or {})

    @property
    def names(self) -> list[str]:
        """The models a picker offers: the ones given, then the shipped checkpoints."""
        names = list(self._loaded)
        try:
            from sketchlib import pretrained

            names += [n for n in pretrained.available() if n not in names]
        except FileNotFoundError:  # no registry (a bare install): only the given models
            pass
        return names

    def load(self, name: str) -> tuple:
        """``(model, stats)`` of ``name``, loaded once."""
        if name not in self._loaded:
            from sketchlib import pretrained

            self._loaded[name] = pretrained.load(name)
        return self._loaded[name]


class ModelActions:
    """The pad's buttons that ask the model for whole drawings: endings, auto-encoding, interpolation, z-switch.

    A part of :class:`~sketchlib.widgets.SketchPad` (its base class), kept apart
    because none of it touches the canvas: each method reads the pad's drawing
    (``model_input()``), model, class and temperature and returns stroke-3
    drawings in data pixels.
    """

    def endings(self, n: int = 9) -> list[np.ndarray]:
        """``n`` alternative completions of the user's drawing (whole drawings, stroke-3 data pixels)."""
        return sampling.complete(self.model, self.model_input(), n, scale=self.stats["scale"], label=self._labels(),
                                 temperature=self.temperature, seed=self._next_seed())

    def _needs_latent(self, what: str, model=None) -> None:
        if not (model or self.model).cfg.has_latent:
            raise ValueError(f"{self.model_name} has no encoder, so it cannot {what}; pick a model with one")

    def auto_encode(self, n: int = 9) -> list[np.ndarray]:
        """``n`` reconstructions of the user's drawing: encode it, decode ``n`` times (stroke-3 data pixels)."""
        self._needs_latent("auto-encode")
        partial = self.model_input()
        return sampling.reconstruct(self.model, [partial] * n, scale=self.stats["scale"],
                                    labels=None if not self.conditional else [self.label] * n,
                                    temperature=self.temperature, seed=self._next_seed())

    def keep(self, slot: str) -> np.ndarray:
        """Keep the current user drawing as ``"A"`` or ``"B"`` for :meth:`interpolate`."""
        if slot not in ("A", "B"):
            raise ValueError(f"slot must be 'A' or 'B', got {slot!r}")
        self.saved[slot] = self.model_input()
        return self.saved[slot]

    def interpolate(self, a: np.ndarray | None = None, b: np.ndarray | None = None, steps: int = 9,
                    method: str = "spherical") -> list[np.ndarray]:
        """Decode ``steps`` latents between drawings ``a`` and ``b`` (data-pixel stroke-3; default the kept A and B)."""
        self._needs_latent("interpolate")
        a = self.saved.get("A") if a is None else a
        b = self.saved.get("B") if b is None else b
        if a is None or b is None:
            raise ValueError("interpolation needs two drawings: draw one and keep it as A, then one kept as B")
        if method not in ("linear", "spherical"):
            raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
        lab = None if not self.conditional else [self.label] * 2
        z = sampling.encode(self.model, [a, b], self.stats["scale"], lab).z
        zs = sampling.interpolate(z[0], z[1], steps, method)
        return sampling.sample(self.model, steps, scale=self.stats["scale"], z=zs,
                               labels=None if not self.conditional else self.label,
                               temperature=self.temperature, seed=self._next_seed())

    def switch_targets(self) -> list[str]:
        """What :meth:`z_switch` can finish the drawing as: this model's classes, then the other models."""
        out = [f"class: {c}" for c in self.class_names] if self.conditional else []
        return out + [f"model: {m}" for m in self.model_names if m != self.model_name]

    def z_switch(self, target: str | int, n: int = 1) -> list[np.ndarray]:
        """Finish the user's drawing as another class (a conditional model's class index or ``"class: name"``)
        or as another model's subject (``"model: name"``): re-encode it there and continue decoding."""
        if isinstance(target, str) and target.startswith("model: "):
            model, stats = self._shelf.load(target[len("model: "):])
            self._needs_latent("z-switch", model)
            return sampling.z_switch(model, self.model_input(), scale=stats["scale"], n=n,
                                     new_label=0 if model.cfg.conditional else None,
                                     temperature=self.temperature, seed=self._next_seed())
        if isinstance(target, str):
            name = target[len("class: "):] if target.startswith("class: ") else target
            if name not in self.class_names:
                raise ValueError(f"unknown z-switch target {target!r}; choose from {self.switch_targets()}")
            target = self.class_names.index(name)
        if not self.conditional:
            raise ValueError(f"{self.model_name} has no classes; switch to another model ('model: name') instead")
        self._needs_latent("z-switch")
        return sampling.z_switch(self.model, self.model_input(), scale=self.stats["scale"], new_label=int(target),
                                 n=n, temperature=self.temperature, seed=self._next_seed())
