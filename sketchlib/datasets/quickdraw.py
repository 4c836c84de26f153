"""Google QuickDraw: the 345 classes in the Sketch-RNN, simplified and raw formats.

Three files per class in Google's public bucket (``QUICKDRAW_URL``):

- ``sketchrnn/<class>.npz``: stroke-3, RDP-simplified, split 70000 / 2500 / 2500
  (read with :func:`sketchlib.datasets.npz.load_npz`);
- ``full/simplified/<class>.ndjson``: one JSON object a line, ``drawing`` =
  ``[[x...], [y...]]`` per stroke on a 0-255 canvas, no split;
- ``full/raw/<class>.ndjson``: ``[[x...], [y...], [t_ms...]]`` per stroke in the
  drawer's screen pixels, every point the browser recorded.

Google documents how ``simplified`` is made from ``raw``; :func:`simplify_drawing`
repeats it. The ndjson formats have no split: :func:`load_quickdraw` splits
them per class with a seed.

Offline, set ``SKETCHLIB_QUICKDRAW_MIRROR`` (or pass ``mirror=``) to a folder with
the bucket's layout. A local mirror may hold ``simplified/`` and ``raw/`` at its
top instead of under ``full/``; both are looked for.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal, Sequence, TypeVar

import numpy as np
from tqdm.auto import tqdm

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits
from sketchlib.datasets.download import fetch
from sketchlib.datasets.npz import load_npz
from sketchlib.errors import SketchDataError

T = TypeVar("T")

__all__ = [
    "QUICKDRAW_CLASSES",
    "QUICKDRAW_URL",
    "QUICKDRAW_MIRROR_ENV",
    "QUICKDRAW_FORMATS",
    "quickdraw_class",
    "quickdraw_file",
    "simplify_drawing",
    "parse_strokes",
    "NdjsonDrawings",
    "read_ndjson",
    "load_quickdraw",
]

log = logging.getLogger(__name__)

QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/"
QUICKDRAW_MIRROR_ENV = "SKETCHLIB_QUICKDRAW_MIRROR"
QUICKDRAW_FORMATS = ("sketchrnn", "simplified", "raw")

#: The 345 QuickDraw class names, spelled as in Google's file names (``categories.txt``).
QUICKDRAW_CLASSES: tuple[str, ...] = tuple(" ".join(name.split()) for name in """
The Eiffel Tower, The Great Wall of China, The Mona Lisa, aircraft carrier, airplane, alarm clock, ambulance,
angel, animal migration, ant, anvil, apple, arm, asparagus, axe, backpack, banana, bandage, barn, baseball,
baseball bat, basket, basketball, bat, bathtub, beach, bear, beard, bed, bee, belt, bench, bicycle,
binoculars, bird, birthday cake, blackberry, blueberry, book, boomerang, bottlecap, bowtie, bracelet, brain,
bread, bridge, broccoli, broom, bucket, bulldozer, bus, bush, butterfly, cactus, cake, calculator, calendar,
camel, camera, camouflage, campfire, candle, cannon, canoe, car, carrot, castle, cat, ceiling fan, cell phone,
cello, chair, chandelier, church, circle, clarinet, clock, cloud, coffee cup, compass, computer, cookie,
cooler, couch, cow, crab, crayon, crocodile, crown, cruise ship, cup, diamond, dishwasher, diving board, dog,
dolphin, donut, door, dragon, dresser, drill, drums, duck, dumbbell, ear, elbow, elephant, envelope, eraser,
eye, eyeglasses, face, fan, feather, fence, finger, fire hydrant, fireplace, firetruck, fish, flamingo,
flashlight, flip flops, floor lamp, flower, flying saucer, foot, fork, frog, frying pan, garden, garden hose,
giraffe, goatee, golf club, grapes, grass, guitar, hamburger, hammer, hand, harp, hat, headphones, hedgehog,
helicopter, helmet, hexagon, hockey puck, hockey stick, horse, hospital, hot air balloon, hot dog, hot tub,
hourglass, house, house plant, hurricane, ice cream, jacket, jail, kangaroo, key, keyboard, knee, knife,
ladder, lantern, laptop, leaf, leg, light bulb, lighter, lighthouse, lightning, line, lion, lipstick, lobster,
lollipop, mailbox, map, marker, matches, megaphone, mermaid, microphone, microwave, monkey, moon, mosquito,
motorbike, mountain, mouse, moustache, mouth, mug, mushroom, nail, necklace, nose, ocean, octagon, octopus,
onion, oven, owl, paint can, paintbrush, palm tree, panda, pants, paper clip, parachute, parrot, passport,
peanut, pear, peas, pencil, penguin, piano, pickup truck, picture frame, pig, pillow, pineapple, pizza,
pliers, police car, pond, pool, popsicle, postcard, potato, power outlet, purse, rabbit, raccoon, radio, rain,
rainbow, rake, remote control, rhinoceros, rifle, river, roller coaster, rollerskates, sailboat, sandwich,
saw, saxophone, school bus, scissors, scorpion, screwdriver, sea turtle, see saw, shark, sheep, shoe, shorts,
shovel, sink, skateboard, skull, skyscraper, sleeping bag, smiley face, snail, snake, snorkel, snowflake,
snowman, soccer ball, sock, speedboat, spider, spoon, spreadsheet, square, squiggle, squirrel, stairs, star,
steak, stereo, stethoscope, stitches, stop sign, stove, strawberry, streetlight, string bean, submarine,
suitcase, sun, swan, sweater, swing set, sword, syringe, t-shirt, table, teapot, teddy-bear, telephone,
television, tennis racquet, tent, tiger, toaster, toe, toilet, tooth, toothbrush, toothpaste, tornado,
tractor, traffic light, train, tree, triangle, trombone, truck, trumpet, umbrella, underwear, van, vase,
violin, washing machine, watermelon, waterslide, whale, wheel, windmill, wine bottle, wine glass, wristwatch,
yoga, zebra, zigzag
""".split(","))

_BY_KEY = {name.lower().replace("_", " "): name for name in QUICKDRAW_CLASSES}


def quickdraw_class(name: str) -> str:
    """The official spelling of a class name; case and ``_`` for space are forgiven.

    >>> quickdraw_class("alarm_clock")
    'alarm clock'

    Unknown names raise :class:`SketchDataError` with the closest valid names.
    """
    key = str(name).strip().lower().replace("_", " ")
    if key in _BY_KEY:
        return _BY_KEY[key]
    close = difflib.get_close_matches(key, list(_BY_KEY), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(_BY_KEY[k]) for k in close)}? " if close else ""
    raise SketchDataError(
        f"unknown QuickDraw class {name!r}; {hint}QUICKDRAW_CLASSES lists all {len(QUICKDRAW_CLASSES)}"
    )


def class_list(classes: str | Iterable[str], canonical: Callable[[str], str] = quickdraw_class,
               what: str = "QuickDraw", empty_hint: str = "e.g. ['face', 'pig']") -> list[str]:
    """``"face,pig"`` or ``["face", "pig"]`` -> the official names (``canonical`` spells each one), in order.

    Raises :class:`SketchDataError` for an unknown name, an empty list or a name listed twice.
    """
    names = classes.split(",") if isinstance(classes, str) else list(classes)
    official = [canonical(c) for c in names if str(c).strip()]
    if not official:
        raise SketchDataError(f"no {what} class given; name at least one, {empty_hint}")
    for c in official:
        if official.count(c) > 1:
            raise SketchDataError(f"{what} class {c!r} is listed twice")
    return official


def quickdraw_file(
    name: str,
    format: Literal["sketchrnn", "simplified", "raw"] = "sketchrnn",
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """The local path of one class file, downloaded (or found in the mirror) on demand."""
    if format not in QUICKDRAW_FORMATS:
        raise SketchDataError(f"unknown QuickDraw format {format!r}; use one of {', '.join(QUICKDRAW_FORMATS)}")
    name = quickdraw_class(name)
    if format == "sketchrnn":
        rel, fallbacks = f"sketchrnn/{name}.npz", ()
    else:
        rel, fallbacks = f"full/{format}/{name}.ndjson", (f"{format}/{name}.ndjson",)
    return fetch(
        rel,
        QUICKDRAW_URL,
        cache_dir,
        mirror=mirror,
        mirror_env=QUICKDRAW_MIRROR_ENV,
        fallbacks=fallbacks,
        cache_subdir="quickdraw",
        progress=progress,
    )


# --------------------------------------------------------------------------- raw -> simplified


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ``spacing`` along the polyline's arc length, both ends kept."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    keep = np.concatenate([[True], seg > 0])
    points, seg = points[keep], seg[seg > 0]
    if len(points) < 2:
        return points
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.arange(0.0, arc[-1], spacing)
    if arc[-1] - t[-1] > 1e-9:
        t = np.append(t, arc[-1])
    return np.column_stack([np.interp(t, arc, points[:, 0]), np.interp(t, arc, points[:, 1])])


def simplify_drawing(
    lines: Sequence[np.ndarray], epsilon: float = 2.0, size: float = 255.0, spacing: float = 1.0
) -> list[np.ndarray]:
    """Google's raw -> simplified QuickDraw preprocessing, step by step.

    1. align the drawing to the top-left corner, to have minimum values of 0;
    2. uniformly scale it to have a maximum value of ``size`` (255);
    3. resample all strokes with a ``spacing`` (1 pixel) spacing;
    4. simplify all strokes with Ramer-Douglas-Peucker, ``epsilon`` 2.0.

    Coordinates are then rounded to integers, as in Google's files.

    Args:
        lines: strokes, each a ``(k, 2)`` array of absolute ``x, y`` points.
    Returns:
        the simplified strokes, ``(k', 2)`` float64 arrays with integer values in ``[0, size]``.
    """
    lines = [np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in lines]
    lines = [line for line in lines if len(line)]
    if not lines:
        return []
    low = np.concatenate(lines).min(axis=0)
    extent = float((np.concatenate(lines) - low).max())
    scale = size / extent if extent > 0 else 1.0
    out = []
    for line in lines:
        resampled = _resample((line - low) * scale, spacing)
        out.append(np.round(S.rdp(resampled, epsilon)))
    return out


# --------------------------------------------------------------------------- ndjson


def parse_strokes(
    drawing: object, rows: Sequence[str] = ("x", "y"), *, source: str | None = None, where: str | None = None
) -> list[np.ndarray]:
    """A JSON ``drawing`` (list of strokes ``[[x...], [y...], ...]``) -> ``(k, len(rows))`` float64 arrays.

    The first ``len(rows)`` value lists of every stroke are used (``x, y`` and,
    for SPG, ``part``); further lists (QuickDraw's times) are ignored. Strokes
    with no points are dropped. Raises :class:`SketchDataError` naming
    ``source``, ``where`` and the 0-based stroke index for: a drawing that is not
    a list of strokes, value lists of different lengths, non-numeric, NaN or
    infinite values, and a drawing without points.
    """
    if not isinstance(drawing, list):
        kind = type(drawing).__name__
        raise SketchDataError(f"'drawing' is a {kind}, not a list of strokes", source=source, where=where)
    out = []
    n = len(rows)
    for k, stroke in enumerate(drawing):
        if not isinstance(stroke, list) or len(stroke) < n or not all(isinstance(r, list) for r in stroke[:n]):
            raise SketchDataError(
                f"stroke {k} is not a list of {n} value lists ({', '.join(rows)})", source=source, where=where
            )
        lengths = [len(r) for r in stroke[:n]]
        if len(set(lengths)) > 1:
            counts = " and ".join(f"{m} {name} values" for m, name in zip(lengths, rows))
            raise SketchDataError(f"stroke {k} has {counts}", source=source, where=where)
        try:
            arr = np.array(stroke[:n], dtype=np.float64).T
        except (TypeError, ValueError):
            raise SketchDataError(f"stroke {k} holds non-numeric values", source=source, where=where) from None
        if not np.isfinite(arr).all():
            raise SketchDataError(f"stroke {k} holds NaN or infinite values", source=source, where=where)
        if len(arr):
            out.append(arr)
    if not out:
        raise SketchDataError("empty drawing (no points)", source=source, where=where)
    return out


@dataclass
class NdjsonDrawings:
    """What :func:`read_ndjson` read: stroke-3 drawings, their ``key_id`` and the lines it skipped."""

    drawings: list[np.ndarray] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)
    #: one message per malformed line skipped (``on_error="skip"``), naming file and line
    skipped: list[str] = field(default_factory=list)


def read_ndjson(
    path: str | os.PathLike,
    *,
    simplify: bool = False,
    epsilon: float = 2.0,
    max_drawings: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> NdjsonDrawings:
    """Read a QuickDraw ndjson file (simplified or raw) into stroke-3 float32 drawings.

    Args:
        path: the ``.ndjson`` file.
        simplify: apply :func:`simplify_drawing` (use it for the raw format).
        epsilon: RDP epsilon for ``simplify``.
        max_drawings: stop after this many good drawings (the first lines of the file).
        on_error: ``"raise"`` a :class:`SketchDataError` "file line N: ..." at the
            first malformed line, or ``"skip"`` it and count it in ``skipped``.
    """
    path = Path(path)
    out = NdjsonDrawings()

    def parse(obj: dict, where: str) -> list[np.ndarray]:
        return parse_strokes(obj["drawing"], source=str(path), where=where)

    for obj, lines in ndjson_records(path, parse, on_error, out.skipped, max_drawings):
        if simplify:
            lines = simplify_drawing(lines, epsilon)
        out.drawings.append(S.polylines_to_stroke3(lines))
        out.key_ids.append(str(obj.get("key_id", "")))
    return out


def ndjson_records(
    path: Path,
    parse: Callable[[dict, str], T],
    on_error: Literal["raise", "skip"],
    skipped: list[str],
    max_records: int | None = None,
) -> Iterator[tuple[dict, T]]:
    """``(object, parse(object, "line N"))`` for each drawing line of a QuickDraw-style ndjson file.

    Blank lines are passed over. A line that is not a JSON object with a
    ``drawing`` field, or that ``parse`` rejects with a :class:`SketchDataError`,
    raises (``on_error="raise"``, the message names file and line) or is
    recorded in ``skipped`` and passed over (``"skip"``). Stops after
    ``max_records`` good lines.
    """
    if on_error not in ("raise", "skip"):
        raise SketchDataError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if max_records is not None and max_records <= 0:
        return
    good = 0
    with open(path, encoding="utf-8") as f:
        for line_no, text in enumerate(f, start=1):
            if not text.strip():
                continue
            where = f"line {line_no}"
            try:
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    raise SketchDataError(f"not valid JSON ({exc})", source=str(path), where=where) from None
                if not isinstance(obj, dict) or "drawing" not in obj:
                    raise SketchDataError("no 'drawing' field", source=str(path), where=where)
                parsed = parse(obj, where)
            except SketchDataError as exc:
                if on_error == "raise":
                    raise
                skipped.append(str(exc))
                continue
            yield obj, parsed
            good += 1
            if max_records is not None and good >= max_records:
                return


# --------------------------------------------------------------------------- loader


# long: a third is the docstring; the rest reads each class in one of three formats into one SketchSplits
def load_quickdraw(
    classes: str | Sequence[str],
    format: Literal["sketchrnn", "simplified", "raw"] = "sketchrnn",
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    max_per_class: int | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    on_error: Literal["raise", "skip"] = "raise",
    simplify_raw: bool = True,
    epsilon: float = 2.0,
    progress: bool = True,
) -> SketchSplits:
    """QuickDraw classes as one multi-class :class:`SketchSplits` (stroke-3, pixel units).

    Args:
        classes: class names (``["face", "pig"]`` or ``"face,pig"``), see :data:`QUICKDRAW_CLASSES`.
        format: ``"sketchrnn"`` (Google's npz with its train/valid/test split),
            ``"simplified"`` or ``"raw"`` (ndjson, split here with ``fractions`` and ``seed``).
        mirror: a folder or URL replacing Google's bucket (default ``$SKETCHLIB_QUICKDRAW_MIRROR``).
        cache_dir: where downloads go (default ``$SKETCHLIB_CACHE`` or ``~/.cache/sketchlib``).
        max_per_class: for ``sketchrnn``, the first this many drawings of each
            split; for ndjson, the first this many drawings of the file, before splitting.
        on_error: malformed ndjson lines ``"raise"`` (default) or are ``"skip"``-ped;
            skipped lines are counted in a logged warning.
        simplify_raw: convert ``raw`` drawings with Google's preprocessing
            (:func:`simplify_drawing`); ``False`` keeps the screen pixels and every point.
        epsilon: the RDP epsilon of that conversion.
        progress: tqdm bars for downloads and classes.

    Ndjson sets carry ``extras["key_id"]``, QuickDraw's id of each drawing.
    """
    names = class_list(classes)
    if max_per_class is not None and max_per_class < 1:
        raise SketchDataError(f"max_per_class must be at least 1 (or None for all), got {max_per_class}")
    if format not in QUICKDRAW_FORMATS:
        raise SketchDataError(f"unknown QuickDraw format {format!r}; use one of {', '.join(QUICKDRAW_FORMATS)}")
    source = f"quickdraw-{format}"
    bar = tqdm(names, desc=source, unit="class", disable=not progress or len(names) < 2, leave=False)
    if format == "sketchrnn":
        parts = []
        for c in bar:
            path = quickdraw_file(c, format, mirror=mirror, cache_dir=cache_dir, progress=progress)
            parts.append(load_npz(path, class_name=c, max_per_split=max_per_class))
        splits = SketchSplits.concat(parts)
        return splits.map(lambda s: Sketches(s.drawings, s.labels, s.class_names, source, s.extras))

    drawings: list[np.ndarray] = []
    labels: list[int] = []
    key_ids: list[str] = []
    for k, c in enumerate(bar):
        path = quickdraw_file(c, format, mirror=mirror, cache_dir=cache_dir, progress=progress)
        read = read_ndjson(
            path, simplify=format == "raw" and simplify_raw, epsilon=epsilon, max_drawings=max_per_class,
            on_error=on_error,
        )
        if read.skipped:
            log.warning("%s: skipped %d malformed lines (first: %s)", path, len(read.skipped), read.skipped[0])
        if not read.drawings:
            raise SketchDataError("no drawings in the file", source=str(path))
        drawings.extend(read.drawings)
        key_ids.extend(read.key_ids)
        labels.extend([k] * len(read.drawings))
    sketches = Sketches(drawings, np.array(labels, dtype=np.int64), names, source, {"key_id": key_ids})
    return SketchSplits.from_single(sketches, fractions, seed)
