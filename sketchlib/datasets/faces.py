r"""A FaceX-like face set: procedural stroke sketches of 7 facial expressions x 2 genders.

AI-Sketcher (Cao et al. 2019) trains its face experiments on FaceX, sketches of
facial expressions drawn by designers: eyebrows, eyes, nose and mouth, no
outline of the head, seven emotions. Its stroke data cannot be had, so this
module draws faces in the same style, one stroke at a time, the way a person
would. The part shapes follow rendered FaceX references:

- eyes are one of three kinds whatever the emotion: a small filled dot, a ring
  with a dot pupil, or an almond (an upper lid with a pupil under it);
- noses are small: a ring, an open "c", a bulb with nostrils, a hook, a chevron;
- the emotion lives mostly in the brows and the mouth:

============ ================================ ========================================
emotion      eyebrows                         mouth
============ ================================ ========================================
anger        inner ends pulled down (V)       box of bared teeth, tight frown, bar
disgust      lowered, one raised, often wavy  slanted line, smirk, frown
fear         inner ends raised, wavy          stretched open mouth (bell), small "O"
happiness    relaxed arches                   open "D" smile, smile arc
sadness      inner ends raised (/ \)          small frown or closed mound
surprise     high round arches                round open "O"
neutral      flat                             straight line or bar
============ ================================ ========================================

Gender cues, as designers draw line art: female faces get thinner, more
arched brows (a narrow outline or a single stroke), usually eyelashes, and
often full lips (a closed upper/lower lip contour with a cupid's bow); male
faces get thick, straighter brows (a wide outline or two strokes), rarely
lashes, single-line mouths and slightly bigger noses. Each cue is a
probability, not a rule. FaceX brows are mostly outlined, so both genders
mostly get outlined brows; the width tells them apart.

Every face also has an *intensity* (how far its brows and mouth move away from
neutral), and every shape parameter is drawn from ranges that overlap between
neighbouring emotions (fear and surprise both raise the brows and open the
mouth; anger and disgust both lower the brows; a mild sadness is close to
neutral). So the classes are learnable but not trivial; ``docs/faces.md``
reports how well a simple classifier separates them.

Variation that does not depend on the class: part sizes, positions and
proportions, stroke order (brows or eyes first, left or right first, pairs by
side), stroke direction, per-point jitter, a slow wobble along every stroke,
and a small rotation and stretch of the whole face.

Coordinates follow QuickDraw's simplified data: the drawing is aligned to the
top-left corner, scaled so its longer side is 255, then simplified with RDP
(epsilon 2). Each drawing has its own seed, so ``generate_faces(10)`` is a
prefix (per class) of ``generate_faces(100)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits
from sketchlib.datasets.face_parts import _arc, _brow, _choose, _eye, _mouth, _nose, _toward

__all__ = ["EMOTIONS", "GENDERS", "CLASS_NAMES", "MAX_POINTS", "sample_face", "generate_faces", "load_faces",
           "load_faces_split"]

EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
GENDERS = ("female", "male")
CLASS_NAMES = tuple(f"{e}-{g}" for e in EMOTIONS for g in GENDERS)

#: no face has more points than this (RDP is repeated with a larger epsilon if needed)
MAX_POINTS = 200

# Face units: the eyes sit at (+-d, 0) with d about 0.47, y grows downwards.
# Per emotion, at full intensity:
#   brow_tilt: inner end lower (+) or higher (-) than the outer end
#   brow_arch: upward bulge of the brow's middle; brow_lift: extra height above the eyes
#   brow_wavy: probability of a wavy brow; eyes: weights of dot / ring / almond eyes
#   eye_size: scale of the eyes; mouth: weights of the mouth shapes
_SPEC = {
    "anger": dict(brow_tilt=(0.16, 0.28), brow_arch=(-0.02, 0.03), brow_lift=(-0.07, -0.02), brow_wavy=0.1,
                  eyes=(0.15, 0.35, 0.5), eye_size=(0.85, 1.05),
                  mouth={"teeth": 0.65, "frown": 0.1, "bell": 0.15, "bar": 0.1}),
    "disgust": dict(brow_tilt=(0.04, 0.14), brow_arch=(0.0, 0.04), brow_lift=(-0.05, 0.0), brow_wavy=0.45,
                    eyes=(0.55, 0.25, 0.2), eye_size=(0.85, 1.05),
                    mouth={"slant": 0.7, "smirk": 0.15, "frown": 0.05, "teeth": 0.1}),
    "fear": dict(brow_tilt=(-0.18, -0.08), brow_arch=(0.01, 0.06), brow_lift=(0.03, 0.09), brow_wavy=0.6,
                 eyes=(0.55, 0.15, 0.3), eye_size=(0.95, 1.2),
                 mouth={"bell": 0.7, "o": 0.1, "teeth": 0.1, "frown": 0.1}),
    "happiness": dict(brow_tilt=(-0.03, 0.03), brow_arch=(0.07, 0.13), brow_lift=(0.0, 0.05), brow_wavy=0.0,
                      eyes=(0.3, 0.5, 0.2), eye_size=(0.9, 1.1),
                      mouth={"dsmile": 0.7, "smile": 0.3}),
    "sadness": dict(brow_tilt=(-0.28, -0.14), brow_arch=(-0.04, 0.01), brow_lift=(0.0, 0.04), brow_wavy=0.05,
                    eyes=(0.35, 0.2, 0.45), eye_size=(0.85, 1.05),
                    mouth={"mound": 0.4, "frown": 0.45, "line": 0.15}),
    "surprise": dict(brow_tilt=(-0.03, 0.02), brow_arch=(0.12, 0.20), brow_lift=(0.07, 0.14), brow_wavy=0.0,
                     eyes=(0.3, 0.45, 0.25), eye_size=(1.0, 1.25),
                     mouth={"o": 0.85, "bell": 0.15}),
    "neutral": dict(brow_tilt=(-0.02, 0.02), brow_arch=(0.0, 0.04), brow_lift=(0.0, 0.04), brow_wavy=0.0,
                    eyes=(0.3, 0.4, 0.3), eye_size=(0.9, 1.05),
                    mouth={"line": 0.5, "bar": 0.4, "smile": 0.05, "frown": 0.05}),
}
_NEUTRAL_BROW = dict(brow_tilt=0.0, brow_arch=0.02, brow_lift=0.02)


# --------------------------------------------------------------------------- one face


def _roughen(line: np.ndarray, rng, jitter: float, wobble: float) -> np.ndarray:
    """Per-point jitter plus a slow wobble along the stroke (a hand is not a ruler).

    The wobble is two low-frequency sines of the arc length in x and y; it is
    scaled down on small strokes so that dots and ticks keep their shape.
    """
    seg = np.hypot(*np.diff(line, axis=0).T)
    u = np.concatenate([[0.0], np.cumsum(seg)])
    size = float(np.ptp(line, axis=0).max()) if len(line) > 1 else 0.0
    amp = min(wobble, 0.08 * size)
    freq = rng.uniform(1.0, 3.0, size=(2, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
    slow = np.stack(
        [amp * (np.sin(freq[0, c] * 2 * np.pi * u + phase[0, c])
                + 0.5 * np.sin(freq[1, c] * 5 * np.pi * u + phase[1, c]))
         for c in range(2)],
        axis=1,
    )
    return line + slow + rng.normal(0, min(jitter, 0.05 * size + 1e-4), size=line.shape)


def _order(rng, parts: dict[str, list[list[np.ndarray]]]) -> list[np.ndarray]:
    """Arrange the parts in one of the orders people draw faces in."""
    r = rng.random()
    if r < 0.5:
        groups = ["brows", "eyes", "nose", "mouth"]
    elif r < 0.75:
        groups = ["eyes", "brows", "nose", "mouth"]
    elif r < 0.9:
        groups = ["sides", "nose", "mouth"]  # one side's brow and eye, then the other's
    else:
        groups = list(rng.permutation(["brows", "eyes", "nose", "mouth"]))
    right_first = rng.random() < 0.3
    lines: list[np.ndarray] = []
    for g in groups:
        if g == "sides":
            pieces = [parts["brows"][s] + parts["eyes"][s] if rng.random() < 0.7
                      else parts["eyes"][s] + parts["brows"][s] for s in (0, 1)]
        else:
            pieces = parts[g]
        if right_first and len(pieces) == 2:
            pieces = pieces[::-1]
        for piece in pieces:
            lines.extend(ln[::-1] if rng.random() < 0.2 else ln for ln in piece)
    return lines


def _fit_box(lines: list[np.ndarray], size: float = 255.0) -> list[np.ndarray]:
    """Shift and scale polylines so the top-left is at 0 and the longer side is ``size``."""
    pts = np.concatenate(lines)
    lo, extent = pts.min(axis=0), float(np.ptp(pts, axis=0).max())
    return [(ln - lo) * (size / extent) for ln in lines]


# long: the recipe of one face in drawing order (spec, head, features, order, roughening, placement); its
# random draws must stay in this order, since every shipped face model was trained on its output
def sample_face(emotion: str, gender: str, rng: np.random.Generator) -> np.ndarray:
    """One face as stroke-3 ``(N, 3)`` float32 in QuickDraw's scale (0-255, RDP epsilon 2)."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    if gender not in GENDERS:
        raise ValueError(f"unknown gender {gender!r}; choose one of {', '.join(GENDERS)}")
    spec, male = _SPEC[emotion], gender == "male"
    intensity = rng.uniform(0.45, 1.0)

    eye_dx = rng.uniform(0.42, 0.52)
    eye_y = rng.normal(0, 0.02)
    nose_y = eye_y + rng.uniform(0.38, 0.48)
    mouth_y = nose_y + rng.uniform(0.34, 0.44)

    brow_shape = {
        key: _toward(_NEUTRAL_BROW[f"brow_{key}"], rng.uniform(*spec[f"brow_{key}"]), intensity)
        for key in ("tilt", "arch", "lift")
    }
    wavy = rng.random() < spec["brow_wavy"]
    brows = []
    for side in (-1, 1):
        shape = dict(brow_shape, wavy=wavy)
        if emotion == "disgust" and side == (1 if rng.random() < 0.5 else -1):
            shape["tilt"] -= rng.uniform(0.03, 0.08)  # one brow raised
            shape["lift"] += rng.uniform(0.0, 0.04)
        brows.append(_brow(rng, side, side * eye_dx, eye_y, shape, male))

    eye_kind = ("dot", "ring", "almond")[int(rng.choice(3, p=np.array(spec["eyes"]) / sum(spec["eyes"])))]
    if emotion == "happiness" and rng.random() < 0.1:
        eye_kind = "closed"
    eye_size = rng.uniform(*spec["eye_size"])
    eyes = []
    for side in (-1, 1):
        ex, ey = side * eye_dx + rng.normal(0, 0.01), eye_y + rng.normal(0, 0.01)
        if eye_kind == "closed":  # happy, closed eyes: an upward arc
            w = rng.uniform(0.12, 0.17)
            eyes.append([_arc([ex - w, ey + 0.02], [ex + w, ey + 0.02], rng.uniform(0.04, 0.07), 10)])
        else:
            eyes.append(_eye(rng, side, ex, ey, eye_kind, eye_size, emotion, male))

    mouth_kind = _choose(rng, spec["mouth"])
    parts = {
        "brows": brows,
        "eyes": eyes,
        "nose": [_nose(rng, nose_y, emotion, male)],
        "mouth": [_mouth(rng, mouth_y, mouth_kind, intensity, emotion, male)],
    }
    lines = _order(rng, parts)

    # the whole face: a small rotation, stretch and shear, then jitter and wobble in face units
    angle = rng.normal(0, 0.025)
    c, s = np.cos(angle), np.sin(angle)
    affine = np.array([[c, -s], [s, c]]) @ np.array([[rng.uniform(0.92, 1.08), rng.normal(0, 0.03)],
                                                      [0.0, rng.uniform(0.9, 1.1)]])
    lines = [_roughen(ln @ affine.T, rng, jitter=0.003, wobble=0.008) for ln in lines]

    # QuickDraw's simplified scale: top-left at 0, longer side 255, then RDP (and, since
    # RDP may cut an extreme point by up to epsilon, fit the box once more)
    lines = _fit_box(lines)
    epsilon = 2.0
    while True:
        simple = [S.rdp(ln, epsilon) for ln in lines]
        if sum(len(ln) for ln in simple) <= MAX_POINTS:
            return S.polylines_to_stroke3(_fit_box(simple))
        epsilon *= 1.5



def generate_faces(
    n_per_class: int = 100,
    seed: int = 0,
    emotions: Sequence[str] = EMOTIONS,
    genders: Sequence[str] = GENDERS,
) -> Sketches:
    """``n_per_class`` faces for every (emotion, gender) class, deterministic per ``seed``.

    Classes are ``f"{emotion}-{gender}"`` in emotion-major order (with all of
    them, label ``= emotion_index * 2 + gender_index``). ``extras["emotion"]``
    and ``extras["gender"]`` hold indices into :data:`EMOTIONS` and
    :data:`GENDERS` (the full tuples, whichever subset was asked for).

    Face ``i`` of a class is drawn from its own generator seeded with
    ``(seed, class index in CLASS_NAMES, i)``, so it does not depend on
    ``n_per_class`` or on which other classes are generated.
    """
    if n_per_class < 0:
        raise ValueError(f"n_per_class must be 0 or more, got {n_per_class}")
    for e in emotions:
        if e not in EMOTIONS:
            raise ValueError(f"unknown emotion {e!r}; choose from {', '.join(EMOTIONS)}")
    for g in genders:
        if g not in GENDERS:
            raise ValueError(f"unknown gender {g!r}; choose from {', '.join(GENDERS)}")
    names = [f"{e}-{g}" for e in emotions for g in genders]
    drawings, labels, emo, gen = [], [], [], []
    for label, name in enumerate(names):
        e, g = name.split("-")
        k = CLASS_NAMES.index(name)
        for i in range(n_per_class):
            drawings.append(sample_face(e, g, np.random.default_rng([seed, k, i])))
        labels += [label] * n_per_class
        emo += [EMOTIONS.index(e)] * n_per_class
        gen += [GENDERS.index(g)] * n_per_class
    return Sketches(drawings, np.array(labels, dtype=np.int64), names, "faces", {"emotion": emo, "gender": gen})


def load_faces(n_per_class: int = 500, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> SketchSplits:
    """The face set split into train / valid / test, stratified by class (``seed`` drives both)."""
    return SketchSplits.from_single(generate_faces(n_per_class, seed), fractions, seed)


def load_faces_split(
    split: str = "test",
    n_per_class: int | None = None,
    *,
    total_per_class: int = 500,
    seed: int = 0,
    fractions=(0.8, 0.1, 0.1),
) -> Sketches:
    """The first ``n_per_class`` faces of every class of ``load_faces(total_per_class, seed, fractions).<split>``,
    drawn without generating the rest of the set (every face has its own seed, and the split depends only on
    the labels), so a chapter that needs a few hundred faces does not pay for all 7000.
    """
    names = ("train", "valid", "test")
    if split not in names:
        raise ValueError(f"split must be one of {', '.join(names)}, got {split!r}")
    # the same permutations as SketchSplits.from_single over generate_faces(total_per_class, seed)
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for _ in CLASS_NAMES:
        order = rng.permutation(total_per_class)
        n_train = int(round(fractions[0] * total_per_class))
        n_valid = int(round(fractions[1] * total_per_class))
        cuts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
        chosen.append(np.sort(cuts[split])[:n_per_class])
    drawings, labels, emo, gen = [], [], [], []
    for k, (name, idx) in enumerate(zip(CLASS_NAMES, chosen)):
        e, g = name.split("-")
        drawings += [sample_face(e, g, np.random.default_rng([seed, k, int(i)])) for i in idx]
        labels += [k] * len(idx)
        emo += [EMOTIONS.index(e)] * len(idx)
        gen += [GENDERS.index(g)] * len(idx)
    return Sketches(drawings, np.array(labels, dtype=np.int64), list(CLASS_NAMES), "faces",
                    {"emotion": emo, "gender": gen})
