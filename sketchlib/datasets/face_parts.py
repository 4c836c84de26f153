"""The strokes of one face part (brows, eyes, nose, mouth) for :mod:`sketchlib.datasets.faces`.

Each function draws one part of one face from the random generator ``rng`` and
the part's shape parameters (the class's spec in ``faces._SPEC``), in face
coordinates (the head spans about -1..1). The curves are quadratic Bezier
segments, arcs and ellipses; :func:`sample_face <sketchlib.datasets.faces.sample_face>`
puts the parts together, orders and roughens the strokes.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []  # helpers of sketchlib.datasets.faces only

# how much a mouth bends (+ smile, - frown) at full intensity
_MOUTH_CURVE = {"smile": (0.06, 0.12), "frown": (-0.10, -0.05), "line": (-0.015, 0.015), "bar": (-0.01, 0.01)}


# --------------------------------------------------------------------------- primitives


def _bezier(p0, p1, p2, n: int = 16) -> np.ndarray:
    """Quadratic Bezier curve from ``p0`` to ``p2`` pulled towards ``p1``: ``(n, 2)``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _arc(p0, p2, bulge: float, n: int = 16) -> np.ndarray:
    """A curve from ``p0`` to ``p2`` whose middle sits ``bulge`` above the chord (y up is negative)."""
    p0, p2 = np.asarray(p0, dtype=float), np.asarray(p2, dtype=float)
    return _bezier(p0, (p0 + p2) / 2 + [0.0, -2.0 * bulge], p2, n)


def _ellipse(cx, cy, rx, ry, start: float = 0.0, sweep: float = 2 * np.pi, n: int = 24) -> np.ndarray:
    a = start + np.linspace(0.0, sweep, n)
    return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a)])


def _dot(rng, cx, cy, r) -> np.ndarray:
    """A small filled dot as people draw one: a tight spiral of one and a half turns."""
    turns = rng.uniform(1.3, 2.0)
    a = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi * turns, 14) * rng.choice([-1, 1])
    radius = r * np.linspace(1.0, 0.25, 14)
    return np.column_stack([cx + radius * np.cos(a), cy + radius * np.sin(a)])


def _wave(line: np.ndarray, waves: float, amp: float, rng) -> np.ndarray:
    """Bend a polyline with ``waves`` sine periods of amplitude ``amp`` across its direction."""
    d = line[-1] - line[0]
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    t = np.linspace(0.0, 1.0, len(line))
    return line + normal * (amp * np.sin(2 * np.pi * waves * t + rng.uniform(-0.4, 0.4)))[:, None]


def _choose(rng, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _toward(neutral: float, value: float, intensity: float) -> float:
    return neutral + intensity * (value - neutral)


# --------------------------------------------------------------------------- parts


def _brow(rng, side: int, eye_x: float, eye_y: float, shape: dict, male: bool) -> list[np.ndarray]:
    """One eyebrow; ``side`` -1 for the image's left, +1 for its right."""
    length = rng.uniform(0.52, 0.64) * (1.04 if male else 0.96)
    cx = eye_x + side * rng.uniform(-0.03, 0.04)
    y = eye_y - rng.uniform(0.30, 0.38) - shape["lift"] + rng.normal(0, 0.008)
    tilt = shape["tilt"] + rng.normal(0, 0.015)
    inner = np.array([cx - side * length * 0.5, y + 0.6 * tilt])
    outer = np.array([cx + side * length * 0.5, y - 0.4 * tilt])
    arch = shape["arch"] * (0.65 if male else 1.0) + (0.0 if male else rng.uniform(0.005, 0.03))
    top = _arc(inner, outer, arch, 14)
    if shape["wavy"]:
        top = _wave(top, rng.uniform(1.5, 2.5), rng.uniform(0.012, 0.022), rng)
    weights = {"line": 0.1, "outline": 0.65, "double": 0.25} if male else {"line": 0.3, "outline": 0.6, "double": 0.1}
    style = _choose(rng, weights)
    thick = rng.uniform(0.07, 0.11) if male else rng.uniform(0.04, 0.06)
    if style == "line":
        return [top]
    # the lower edge: thick at the inner end, thin at the outer end
    taper = np.linspace(1.0, rng.uniform(0.2, 0.5), len(top))[:, None]
    lower = top + np.array([0.0, thick]) * taper
    if style == "double":
        return [top, lower]
    return [np.concatenate([top, lower[::-1], top[:1]])]


def _eye(rng, side: int, x: float, y: float, kind: str, size: float, emotion: str, male: bool) -> list[np.ndarray]:
    """One eye of ``kind`` dot / ring / almond, with eyelashes on most female faces."""
    parts: list[np.ndarray] = []
    lashes = rng.random() < (0.06 if male else 0.75)
    if kind == "dot":
        r = rng.uniform(0.045, 0.06) * size
        parts.append(_dot(rng, x, y, r))
        if lashes and rng.random() < 0.6:  # a lash line over a dot eye
            w = rng.uniform(0.09, 0.12) * size
            lid = _arc([x - w, y - 0.04], [x + w, y - 0.04], rng.uniform(0.02, 0.035), 8)
            parts.append(lid)
            edge, out = (lid[-1], 1.0) if side > 0 else (lid[0], -1.0)
            for k in range(int(rng.integers(2, 4))):
                base = edge + [-out * 0.03 * k, -0.008 * k]
                parts.append(np.stack([base, base + [out * 0.035, -0.04]]))
        return parts
    if kind == "ring":
        r = rng.uniform(0.15, 0.20) * size
        ry = r * rng.uniform(0.85, 1.05)
        start = rng.uniform(0, 2 * np.pi)
        parts.append(_ellipse(x, y, r, ry, start, rng.choice([-1, 1]) * 2 * np.pi * rng.uniform(1.0, 1.08), 24))
        parts.append(_dot(rng, x + rng.normal(0, 0.25 * r), y + rng.normal(0, 0.15 * r), rng.uniform(0.04, 0.055)))
        if lashes:
            for k in range(int(rng.integers(2, 4))):
                a = -np.pi / 2 + side * (0.55 + 0.35 * k)
                base = np.array([x + r * np.cos(a), y + ry * np.sin(a)])
                parts.append(np.stack([base, base + 0.05 * np.array([np.cos(a), np.sin(a)])]))
        return parts
    # almond: an upper lid over a dot pupil; the lid's slant carries the emotion
    w = rng.uniform(0.16, 0.22) * size
    h = rng.uniform(0.05, 0.08) * size
    slant = {"anger": 0.05, "sadness": -0.05, "disgust": 0.02}.get(emotion, 0.0) * rng.uniform(0.5, 1.2)
    inner = np.array([x - side * w, y + slant])  # slant > 0: inner corner lower (a glare)
    outer = np.array([x + side * w, y - slant])
    lid = _arc(inner, outer, h, 12)
    parts.append(lid)
    parts.append(_dot(rng, x + rng.normal(0, 0.02), y + h * 0.2, rng.uniform(0.035, 0.05)))
    if rng.random() < 0.35:
        parts.append(_arc(inner + [side * w * 0.3, 0.03], outer + [-side * w * 0.2, 0.03], -h * 0.5, 8))  # lower lid
    if lashes:
        for k in range(int(rng.integers(2, 4))):
            base = lid[-1 - 2 * k]
            parts.append(np.stack([base, base + [side * 0.035, -0.04]]))
    return parts


def _nose(rng, y: float, emotion: str, male: bool) -> list[np.ndarray]:
    s = rng.uniform(1.2, 1.7) * (1.15 if male else 1.0)
    x = rng.normal(0, 0.02)
    weights = {"ring": 0.15, "c": 0.2, "bulb": 0.25, "hook": 0.2, "chevron": 0.1, "none": 0.05, "squiggle": 0.05}
    if emotion == "disgust":
        weights["squiggle"] = 0.35  # the wrinkled nose of disgust
    kind = _choose(rng, weights)
    if kind == "none":
        return []
    if kind == "ring":
        r = 0.045 * s
        return [_ellipse(x, y, r, r * rng.uniform(0.8, 1.1), rng.uniform(0, 2 * np.pi), 2 * np.pi * 1.03, 12)]
    if kind == "c":
        r = 0.05 * s
        opening = rng.choice([0.0, np.pi / 2])  # open to the right or downwards
        return [_ellipse(x, y, r, r, opening + 0.8, 2 * np.pi - 1.6, 10)]
    if kind == "bulb":
        w, h = 0.07 * s, 0.09 * s
        left = _ellipse(x - w, y, 0.03 * s, 0.03 * s, -np.pi / 2, -np.pi, 6)
        bottom = _bezier([x - w, y + 0.03 * s], [x, y + h], [x + w, y + 0.03 * s], 10)
        right = _ellipse(x + w, y, 0.03 * s, 0.03 * s, np.pi / 2, -np.pi, 6)
        return [np.concatenate([[[x - 0.02 * s, y - h]], left, bottom, right, [[x + 0.02 * s, y - h]]])]
    if kind == "hook":
        d = rng.choice([-1, 1])
        top = y - rng.uniform(0.28, 0.40)
        stem = _bezier([x, top], [x - d * 0.02, (top + y) / 2], [x - d * 0.015, y], 8)
        hook = _bezier([x - d * 0.015, y], [x - d * 0.01, y + 0.06 * s], [x + d * 0.06 * s, y + 0.03], 8)
        return [np.concatenate([stem, hook[1:]])]
    if kind == "chevron":
        w = 0.05 * s
        return [np.array([[x - w, y + 0.03], [x, y - 0.03 * s], [x + w, y + 0.03]])]
    # squiggle: an S down the nose
    return [_wave(np.linspace([x, y - 0.2 * s], [x, y + 0.04], 14), rng.uniform(1.0, 1.6), 0.03 * s, rng)]


def _lips(rng, w: float, y: float, curve: float) -> list[np.ndarray]:
    """Full lips: an upper contour with a cupid's bow and a lower contour, one closed stroke."""
    L, R = np.array([-w, y - curve]), np.array([w, y - curve])
    dip = rng.uniform(0.01, 0.02)
    top_h = rng.uniform(0.03, 0.05)
    upper = np.concatenate([
        _bezier(L, [-w * 0.5, y - top_h - curve * 0.3], [0, y - dip - curve * 0.2], 7),
        _bezier([0, y - dip - curve * 0.2], [w * 0.5, y - top_h - curve * 0.3], R, 7)[1:],
    ])
    lower = _bezier(R, [0, y + curve + rng.uniform(0.08, 0.12)], L, 12)
    parts = [np.concatenate([upper, lower[1:]])]
    if rng.random() < 0.6:  # the line between the lips
        parts.append(_bezier(L * [0.9, 1], [0, y + curve * 1.2], R * [0.9, 1], 8))
    return parts


# long: one branch per mouth shape of the spec, each read top to bottom as the strokes it draws
def _mouth(rng, y: float, kind: str, intensity: float, emotion: str, male: bool) -> list[np.ndarray]:
    w = rng.uniform(0.24, 0.32)
    x = rng.normal(0, 0.02)
    parts: list[np.ndarray] = []
    if kind in _MOUTH_CURVE:
        curve = _toward(0.0, rng.uniform(*_MOUTH_CURVE[kind]), intensity)
        if emotion in ("sadness", "neutral", "disgust"):
            w *= 0.8
        if not male and rng.random() < 0.55:
            return [p + [x, 0.0] for p in _lips(rng, w, y, curve)]
        if kind == "bar":
            line = _arc([x - w, y], [x + w, y], -curve, 10)
            thick = rng.uniform(0.025, 0.05)
            parts.append(np.concatenate([line, line[::-1] + [0.0, thick], line[:1]]))
        else:
            parts.append(_arc([x - w, y - curve], [x + w, y - curve], -curve, 14))
        if emotion == "fear" and kind == "frown":
            parts[0] = _wave(parts[0], 2.0, 0.015, rng)
        if rng.random() < 0.3:  # the lower lip, a short line under the mouth
            lw = w * rng.uniform(0.4, 0.6)
            parts.append(_arc([x - lw, y + 0.06 + abs(curve)], [x + lw, y + 0.06 + abs(curve)], -0.01, 6))
        return parts
    if kind == "mound":  # sadness: a small closed frown, like a pressed lip
        w *= 0.8
        h = _toward(0.02, rng.uniform(0.05, 0.08), intensity)
        top = _arc([x - w, y + h * 0.5], [x + w, y + h * 0.5], h, 12)
        parts.append(np.concatenate([top, top[:1]]))
        if rng.random() < 0.4:
            parts.append(_arc([x - w * 1.2, y + h + 0.05], [x + w * 1.2, y + h + 0.05], -0.015, 6))
        return parts
    if kind == "slant":  # disgust: a lopsided line, one corner pulled down
        w *= 0.85
        # mostly falling to the right
        drop = _toward(0.0, rng.uniform(0.06, 0.13), intensity) * (1 if rng.random() < 0.85 else -1)
        line = np.linspace([x - w, y - drop], [x + w, y + drop], 12)
        if rng.random() < 0.5:
            line = _wave(line, rng.uniform(0.8, 1.5), 0.015, rng)
        return [line]
    if kind == "smirk":  # disgust: one corner up, a curl at the other end
        d = rng.choice([-1, 1])
        lift = _toward(0.0, rng.uniform(0.04, 0.08), intensity)
        line = _bezier([x - d * w, y], [x, y + 0.02], [x + d * w, y - lift], 12)
        parts.append(line)
        if rng.random() < 0.5:
            parts.append(_bezier([x + d * w * 0.7, y + 0.03], [x + d * w, y + 0.05],
                                 [x + d * w * 1.15, y - lift + 0.01], 5))
        return parts
    if kind == "teeth":  # anger: a wide box of bared teeth
        w *= 1.12
        h = _toward(0.1, rng.uniform(0.2, 0.3), intensity)
        sag = rng.uniform(0.0, 0.04)
        top = _arc([x - w, y + sag], [x + w, y + sag], sag, 10)
        bottom = _arc([x + w * 0.9, y + h], [x - w * 0.9, y + h], rng.uniform(-0.01, 0.02), 10)
        parts.append(np.concatenate([top, bottom, top[:1]]))
        rows = (0.5,) if rng.random() < 0.6 else (0.38, 0.68)  # one or two rows of teeth
        for r in rows:
            parts.append(np.linspace([x - w * 0.9, y + h * r + sag * 0.5], [x + w * 0.9, y + h * r + sag * 0.5], 6))
        for _ in range(int(rng.integers(1, 5))):
            tx = x + w * rng.uniform(-0.7, 0.7)
            parts.append(np.array([[tx, y + sag * 0.8], [tx, y + h * 0.95]]))
        return parts
    if kind == "bell":  # fear: a stretched open mouth, rounded on top, corners pulled down
        w *= 1.05
        h = _toward(0.1, rng.uniform(0.17, 0.26), intensity)
        L, R = np.array([x - w, y + h]), np.array([x + w, y + h])
        top = _ellipse(x, y + h, w, h * rng.uniform(0.9, 1.2), np.pi, np.pi, 16)  # over the top, left to right
        bottom = _arc(R, L, rng.uniform(-0.03, 0.01), 8)
        parts.append(np.concatenate([top, bottom[1:]]))
        if rng.random() < 0.7:  # the upper teeth / inner lip
            parts.append(_arc([x - w * 0.55, y + h * 0.55], [x + w * 0.55, y + h * 0.55], h * 0.25, 8))
        if emotion == "fear" and rng.random() < 0.4:
            parts[0] = _wave(parts[0], 3.0, 0.008, rng)
        return parts
    if kind == "o":  # surprise: a round open mouth
        rx = rng.uniform(0.13, 0.18) * (1.0 if emotion == "surprise" else 0.8)
        ry = rx * _toward(1.0, rng.uniform(1.1, 1.5), intensity)
        start = rng.uniform(0, 2 * np.pi)
        parts.append(_ellipse(x, y + ry * 0.4, rx, ry, start, rng.choice([-1, 1]) * 2 * np.pi * 1.04, 20))
        return parts
    if kind == "dsmile":  # happiness: an open "D" smile, often with the teeth line
        w *= 1.05
        depth = _toward(0.08, rng.uniform(0.15, 0.22), intensity)
        L, R = np.array([x - w, y]), np.array([x + w, y])
        top = _arc(L, R, -rng.uniform(0.0, 0.03), 8)
        bottom = _bezier(R, [x, y + 2 * depth], L, 14)
        parts.append(np.concatenate([top, bottom[1:]]))
        if rng.random() < 0.6:
            parts.append(_arc([x - w * 0.8, y + 0.03], [x + w * 0.8, y + 0.03], -0.025, 8))
        return parts
    raise AssertionError(f"unknown mouth kind {kind}")
