"""Random-walk drawings: the tiny stand-in data of the trainer tests (not a test module)."""

from __future__ import annotations

import numpy as np

from sketchlib.datasets import Sketches


def random_walks(n: int, rng: np.random.Generator, n_classes: int = 2, max_len: int = 16) -> Sketches:
    """``n`` stroke-3 random walks of 6 to ``max_len`` points, pen lifted at random and at the end."""
    drawings = []
    for _ in range(n):
        length = int(rng.integers(6, max_len + 1))
        d = np.zeros((length, 3), np.float32)
        d[:, :2] = rng.normal(0.0, 10.0, (length, 2))
        d[rng.random(length) < 0.2, 2] = 1.0
        d[-1, 2] = 1.0
        drawings.append(d)
    return Sketches(drawings, rng.integers(0, n_classes, n), [f"class{k}" for k in range(n_classes)], "walks")
