"""A FaceX-like face set: procedural stroke sketches of 7 facial expressions x 2 genders.

AI-Sketcher (Cao et al. 2019) trains its face experiments on FaceX, sketches of
facial expressions drawn by designers: eyebrows, eyes, nose and mouth, no
outline of the head, seven emotions. Its stroke data cannot be had, so this
module draws faces in the same style, one stroke at a time, the way a person
would: each part is a few strokes placed and shaped by the emotion, with
variation in shapes, sizes, positions, proportions, stroke order, per-point
jitter and a slow wobble along every line.

What each emotion changes (after the FaceX references):

============ ============================= =========================== ==========================
emotion      eyebrows                      eyes                        mouth
============ ============================= =========================== ==========================
anger        inner ends pulled down (V)    narrowed                    tight frown or bared teeth
disgust      lowered, one side higher      squinted                    lopsided, one corner up
fear         inner ends raised, wavy       wide, small pupils          open, wavy lips
happiness    relaxed arches                normal or closed arcs       smile, often open
sadness      inner ends raised             drooping upper lids         frown
surprise     high round arches             wide open, round            round open "O"
neutral      flat                          plain                       straight line
============ ============================= =========================== ==========================

Gender cues, as designers draw them in line art: female faces get eyelashes,
thin arched single-stroke brows and a lower-lip line; male faces get heavier
brows (drawn as two strokes), no lashes and a slightly wider nose.

The classes are learnable but not trivial: several emotions share part shapes
(fear and surprise both open eyes and mouth; anger and disgust both lower the
brows; sadness and neutral differ only slightly), and every shape parameter is
drawn from overlapping ranges. ``docs/faces.md`` reports how well a simple
classifier separates them.

Coordinates follow QuickDraw's simplified data: the drawing is aligned to the
top-left corner, scaled so its longer side is 255, then simplified with RDP
(epsilon 2). Each drawing has its own seed, so ``generate_faces(10)`` is a
prefix (per class) of ``generate_faces(100)``.
"""

from __future__ import annotations

import numpy as np

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits

__all__ = ["EMOTIONS", "GENDERS", "CLASS_NAMES", "sample_face", "generate_faces", "load_faces"]

EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
GENDERS = ("female", "male")
CLASS_NAMES = tuple(f"{e}-{g}" for e in EMOTIONS for g in GENDERS)

# Per-emotion ranges (lo, hi) of the shape parameters, in face units (eye distance ~ 1).
#   brow_tilt: inner end lower (+) or higher (-) than the outer end; brow_arch: upward bulge
#   brow_lift: extra height of the brows over the eyes; eye_open: height / width of the eye
#   mouth: which mouth shapes (with weights); mouth_curve: + smile / - frown; mouth_w: half-width
_SPEC = {
    "anger": dict(brow_tilt=(0.10, 0.22), brow_arch=(-0.02, 0.04), brow_lift=(-0.06, 0.0), eye_open=(0.30, 0.55),
                  mouth={"frown": 0.5, "teeth": 0.35, "line": 0.15}, mouth_curve=(-0.14, -0.04), mouth_w=(0.22, 0.36)),
    "disgust": dict(brow_tilt=(0.0, 0.12), brow_arch=(0.0, 0.06), brow_lift=(-0.05, 0.02), eye_open=(0.25, 0.45),
                    mouth={"lopsided": 0.55, "frown": 0.3, "teeth": 0.15}, mouth_curve=(-0.10, -0.02), mouth_w=(0.20, 0.32)),
    "fear": dict(brow_tilt=(-0.16, -0.05), brow_arch=(0.02, 0.09), brow_lift=(0.04, 0.12), eye_open=(0.55, 0.90),
                 mouth={"wavy_open": 0.45, "open": 0.35, "o": 0.2}, mouth_curve=(-0.06, 0.02), mouth_w=(0.22, 0.34)),
    "happiness": dict(brow_tilt=(-0.04, 0.03), brow_arch=(0.07, 0.14), brow_lift=(0.0, 0.06), eye_open=(0.45, 0.70),
                      mouth={"smile": 0.6, "open_smile": 0.4}, mouth_curve=(0.10, 0.22), mouth_w=(0.24, 0.38)),
    "sadness": dict(brow_tilt=(-0.12, -0.02), brow_arch=(0.01, 0.07), brow_lift=(0.0, 0.06), eye_open=(0.35, 0.55),
                    mouth={"frown": 0.7, "line": 0.3}, mouth_curve=(-0.14, -0.05), mouth_w=(0.18, 0.30)),
    "surprise": dict(brow_tilt=(-0.05, 0.03), brow_arch=(0.12, 0.20), brow_lift=(0.10, 0.18), eye_open=(0.65, 1.00),
                     mouth={"o": 0.6, "open": 0.4}, mouth_curve=(-0.02, 0.04), mouth_w=(0.12, 0.22)),
    "neutral": dict(brow_tilt=(-0.03, 0.04), brow_arch=(0.0, 0.06), brow_lift=(0.0, 0.05), eye_open=(0.40, 0.60),
                    mouth={"line": 0.6, "smile": 0.2, "frown": 0.2}, mouth_curve=(-0.03, 0.03), mouth_w=(0.18, 0.30)),
}


# --------------------------------------------------------------------------- drawing primitives


def _bezier(p0, p1, p2, n: int = 16) -> np.ndarray:
    """Quadratic Bezier curve from ``p0`` to ``p2`` pulled towards ``p1``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _ellipse(cx, cy, rx, ry, start=0.0, end=2 * np.pi, n: int = 24) -> np.ndarray:
    a = np.linspace(start, end, n)
    return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a)])


def _wavy(p0, p1, waves: float, amp: float, n: int = 24) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    line = p0 + t[:, None] * (p1 - p0)
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    return line + normal * (amp * np.sin(2 * np.pi * waves * t))[:, None]


def _u(rng, lo_hi) -> float:
    return float(rng.uniform(*lo_hi))


# --------------------------------------------------------------------------- parts


def _brow(rng, spec, side: int, eye_x: float, eye_y: float, male: bool, emotion: str) -> list[np.ndarray]:
    """One eyebrow; ``side`` -1 for the face's left (image left), +1 for the right."""
    length = rng.uniform(0.30, 0.42) * (1.1 if male else 1.0)
    y = eye_y - rng.uniform(0.26, 0.34) - _u(rng, spec["brow_lift"])
    tilt, arch = _u(rng, spec["brow_tilt"]), _u(rng, spec["brow_arch"])
    if emotion == "disgust" and side == 1:
        tilt -= rng.uniform(0.04, 0.10)  # one brow raised
    inner = np.array([eye_x - side * length * 0.45, y + tilt])
    outer = np.array([eye_x + side * length * 0.55, y - tilt * 0.3])
    mid = (inner + outer) / 2 + np.array([0.0, -arch * 2])
    if emotion == "fear" and rng.random() < 0.5:
        line = _wavy(inner, outer, 1.0, 0.02, 16) + np.array([0, -arch]) * np.sin(np.linspace(0, np.pi, 16))[:, None]
    else:
        line = _bezier(inner, mid, outer, 14)
    if not male:
        return [line]
    # heavier male brow: a second, roughly parallel stroke under the first (sometimes closed)
    thick = rng.uniform(0.035, 0.06)
    lower = _bezier(inner + [0, thick], mid + [0, thick * 0.6], outer + [0, thick * 0.7], 12)[::-1]
    if rng.random() < 0.5:
        return [np.concatenate([line, lower[:1] * 0 + outer + [0, thick * 0.7], lower])]
    return [line, lower[::-1]]


def _eye(rng, spec, side: int, x: float, y: float, male: bool, emotion: str) -> list[np.ndarray]:
    w = rng.uniform(0.19, 0.26)
    openness = _u(rng, spec["eye_open"])
    h = w * openness
    parts: list[np.ndarray] = []
    if emotion == "happiness" and rng.random() < 0.45:
        # closed, smiling eye: an upward arc
        parts.append(_bezier([x - w, y + h * 0.3], [x, y - h * 1.6], [x + w, y + h * 0.3], 12))
    else:
        start = rng.uniform(0, 2 * np.pi)
        parts.append(_ellipse(x, y, w, h, start, start + 2 * np.pi * rng.uniform(0.95, 1.05), 22))
        if emotion == "sadness":
            # drooping upper lid: a line sloping down towards the outer corner
            parts.append(_bezier([x - side * w * 0.9, y - h * 1.2], [x, y - h * 1.4], [x + side * w * 1.1, y - h * 0.4], 8))
        pupil_r = w * (0.18 if emotion == "fear" else rng.uniform(0.25, 0.4))
        if rng.random() < 0.85:
            parts.append(_ellipse(x + rng.normal(0, w * 0.1), y + rng.normal(0, h * 0.1), pupil_r, pupil_r * 0.9, 0, 2 * np.pi, 10))
    if not male:
        # eyelashes: two or three short ticks on the outer upper edge
        for k in range(int(rng.integers(2, 4))):
            a = np.pi * (1.25 + 0.18 * k) if side < 0 else np.pi * (1.75 - 0.18 * k)
            base = np.array([x + w * np.cos(a), y + h * np.sin(a)])
            tip = base + np.array([np.cos(a), np.sin(a)]) * rng.uniform(0.05, 0.08)
            parts.append(np.stack([base, tip]))
    return parts


def _nose(rng, y: float, male: bool) -> list[np.ndarray]:
    w = rng.uniform(0.06, 0.11) * (1.15 if male else 1.0)
    kind = rng.choice(["hook", "u", "ell"])
    top = y - rng.uniform(0.18, 0.28)
    if kind == "u":
        return [_bezier([-w, y - 0.02], [0, y + w * 1.6], [w, y - 0.02], 10)]
    if kind == "hook":
        return [np.concatenate([_bezier([0.0, top], [w * 0.6, y - 0.05], [w, y], 8), _bezier([w, y], [0, y + w], [-w * 0.8, y - 0.01], 8)[1:]])]
    return [np.array([[0.02, top], [-w * 0.3, y], [w, y]])]


def _mouth(rng, spec, y: float, male: bool, emotion: str) -> list[np.ndarray]:
    kinds = list(spec["mouth"])
    kind = kinds[rng.choice(len(kinds), p=np.array(list(spec["mouth"].values())))]
    w = _u(rng, spec["mouth_w"])
    curve = _u(rng, spec["mouth_curve"])
    L, R = np.array([-w, y]), np.array([w, y])
    parts: list[np.ndarray] = []
    if kind in ("smile", "frown", "line"):
        parts.append(_bezier(L - [0, curve * 0.5], [0, y + curve * 1.5], R - [0, curve * 0.5], 14))
        if not male and kind != "line" and rng.random() < 0.6:
            parts.append(_bezier([-w * 0.5, y + curve + 0.06], [0, y + curve + 0.11], [w * 0.5, y + curve + 0.06], 8))
    elif kind == "open_smile":
        upper = _bezier(L, [0, y + curve * 0.4], R, 12)
        lower = _bezier(R, [0, y + curve * 2.2 + 0.1], L, 14)
        parts.append(np.concatenate([upper, lower[1:]]))
        if rng.random() < 0.5:
            parts.append(_bezier(L * [0.8, 1] + [0, 0.03], [0, y + curve * 0.7 + 0.03], R * [0.8, 1] + [0, 0.03], 8))
    elif kind == "teeth":
        h = rng.uniform(0.08, 0.14)
        box = np.array([[-w, y], [w, y + curve * 0.3], [w * 0.9, y + h], [-w * 0.9, y + h + curve * 0.3], [-w, y]])
        parts.append(box)
        parts.append(np.array([[-w * 0.9, y + h / 2], [w * 0.9, y + h / 2]]))
    elif kind == "o":
        h = w * rng.uniform(0.9, 1.5)
        start = rng.uniform(0, 2 * np.pi)
        parts.append(_ellipse(0, y + h * 0.2, w, h, start, start + 2 * np.pi, 20))
    elif kind == "open":
        h = rng.uniform(0.10, 0.18)
        parts.append(_ellipse(0, y + h * 0.3, w, h, 0, 2 * np.pi, 20))
    elif kind == "wavy_open":
        h = rng.uniform(0.08, 0.14)
        parts.append(_wavy(L, R, 2.0, 0.025, 20))
        parts.append(_wavy(R + [0, h], L + [0, h], 1.5, 0.02, 18))
    elif kind == "lopsided":
        lift = rng.uniform(0.05, 0.12) * rng.choice([-1, 1])
        parts.append(_wavy(L + [0, lift], R - [0, lift], rng.uniform(0.8, 1.4), 0.02, 16))
        if rng.random() < 0.5:
            parts.append(_bezier(R - [w * 0.3, lift + 0.05], R - [0, lift + 0.08], R - [-0.03, lift], 6))
    return parts


# --------------------------------------------------------------------------- one face


def _roughen(line: np.ndarray, rng, jitter: float, wobble: float) -> np.ndarray:
    """Per-point jitter plus a slow wobble along the stroke (a hand is not a ruler)."""
    n = len(line)
    t = np.linspace(0, 1, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
    slow = wobble * (np.sin(2 * np.pi * t * rng.uniform(0.5, 1.5) + phase[0]) +
                     0.5 * np.sin(2 * np.pi * t * rng.uniform(1.5, 3.0) + phase[1]))
    return line + slow + rng.normal(0, jitter, size=line.shape)


def sample_face(emotion: str, gender: str, rng: np.random.Generator) -> np.ndarray:
    """One face as stroke-3 in QuickDraw's scale (0-255, RDP epsilon 2)."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    if gender not in GENDERS:
        raise ValueError(f"unknown gender {gender!r}; choose one of {', '.join(GENDERS)}")
    spec, male = _SPEC[emotion], gender == "male"
    eye_dx = rng.uniform(0.40, 0.50)
    eye_y = rng.uniform(-0.05, 0.05)
    nose_y = eye_y + rng.uniform(0.42, 0.58)
    mouth_y = nose_y + rng.uniform(0.30, 0.42)
    groups = {
        "brows": [_brow(rng, spec, s, s * eye_dx, eye_y, male, emotion) for s in (-1, 1)],
        "eyes": [_eye(rng, spec, s, s * eye_dx, eye_y, male, emotion) for s in (-1, 1)],
        "nose": [_nose(rng, nose_y, male)],
        "mouth": [_mouth(rng, spec, mouth_y, male, emotion)],
    }
    # stroke order: usually top to bottom, sometimes eyes before brows, sometimes any order;
    # the right side first now and then
    r = rng.random()
    order = ["brows", "eyes", "nose", "mouth"] if r < 0.6 else ["eyes", "brows", "nose", "mouth"] if r < 0.85 else list(rng.permutation(["brows", "eyes", "nose", "mouth"]))
    lines = []
    for name in order:
        sides = groups[name]
        if len(sides) == 2 and rng.random() < 0.3:
            sides = sides[::-1]
        for part in sides:
            lines.extend(part)
    # the whole face: small rotation, anisotropic scale, then jitter and wobble in face units
    angle = rng.normal(0, 0.05)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    stretch = np.array([rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)])
    lines = [_roughen((ln @ rot.T) * stretch, rng, jitter=0.004, wobble=0.006) for ln in lines]
    # QuickDraw's simplified scale: top-left at 0, longer side 255, then RDP epsilon 2
    pts = np.concatenate(lines)
    lo, extent = pts.min(axis=0), float((pts.max(axis=0) - pts.min(axis=0)).max())
    lines = [S.rdp((ln - lo) * (255.0 / extent), 2.0) for ln in lines]
    return S.polylines_to_stroke3(lines)


def generate_faces(n_per_class: int = 100, seed: int = 0, emotions=EMOTIONS, genders=GENDERS) -> Sketches:
    """``n_per_class`` faces for every (emotion, gender) class, deterministic per ``seed``.

    Classes are ``f"{emotion}-{gender}"`` in emotion-major order; ``extras`` hold
    the ``emotion`` and ``gender`` indices (into :data:`EMOTIONS`, :data:`GENDERS`).
    """
    names = [f"{e}-{g}" for e in emotions for g in genders]
    drawings, labels, emo, gen = [], [], [], []
    for e in emotions:
        for g in genders:
            k = CLASS_NAMES.index(f"{e}-{g}")
            for i in range(n_per_class):
                rng = np.random.default_rng([seed, k, i])
                drawings.append(sample_face(e, g, rng))
                labels.append(names.index(f"{e}-{g}"))
                emo.append(EMOTIONS.index(e))
                gen.append(GENDERS.index(g))
    return Sketches(drawings, np.array(labels), names, "faces", {"emotion": emo, "gender": gen})


def load_faces(n_per_class: int = 500, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> SketchSplits:
    """The face set split into train / valid / test, stratified by class."""
    return SketchSplits.from_single(generate_faces(n_per_class, seed), fractions, seed)
