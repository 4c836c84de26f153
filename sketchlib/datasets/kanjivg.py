"""KanjiVG: about 6,700 kanji (and kana) as vector strokes in writing order, labelled by radical.

The ``kanjivg`` PyPI package installs one SVG file per character into a
top-level ``kanji/`` folder (``05b57.svg`` is U+5B57 字). Each stroke is a
``<path>`` whose ``id`` ends in ``-s<n>``, its position in the writing order;
its ``d`` attribute uses the SVG path commands ``M m C c S s`` (and, in
principle, ``L l H h V v Q q T t Z z``). Strokes sit in ``<g>`` groups for the
character's components, with ``kvg:element`` (the component) and, on the
radical's group, ``kvg:radical`` (which dictionary calls it the radical).

:func:`load_kanjivg` samples every stroke's curves into points, places the
character like QuickDraw's simplified data (top-left at 0, longer side 255),
simplifies with RDP and returns stroke-3 drawings. The parsed characters are
cached as an ``.npz`` in the cache folder, so only the first load parses SVG.

**The radical of a character** is the ``kvg:element`` of the group marked with
``kvg:radical``, preferring KanjiVG's ``general`` classification, then
``tradit``, ``nelson`` and ``jis``; the first such group in the file wins. The
element is taken as drawn, so the water radical is ``氵`` (not ``水``) and
each class has one shape. Characters with no radical mark (kana, digits,
punctuation: about 260 files) have none and are left out of radical classes.
Variant files (``04e00-Kaisho.svg``) are skipped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits
from sketchlib.datasets.download import default_cache_dir
from sketchlib.errors import SketchDataError

__all__ = [
    "RADICAL_PRIORITY",
    "kanjivg_dir",
    "svg_path_to_polylines",
    "parse_kanjivg_svg",
    "KanjiRecord",
    "load_kanjivg",
]

log = logging.getLogger(__name__)

_KVG = "{http://kanjivg.tagaini.net}"
_SVG = "{http://www.w3.org/2000/svg}"
#: Which ``kvg:radical`` classification names a character's radical, best first.
RADICAL_PRIORITY = ("general", "tradit", "nelson", "jis")
#: Bump when the parsing changes, so old caches are not reused.
_PARSER_VERSION = 1

_TOKEN = re.compile(r"([MmLlHhVvCcSsQqTtZzAa])|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}


def kanjivg_dir() -> Path:
    """The installed ``kanji/`` folder of the ``kanjivg`` package."""
    try:
        dist = importlib.metadata.distribution("kanjivg")
    except importlib.metadata.PackageNotFoundError:
        raise SketchDataError("the KanjiVG data is not installed; run: pip install kanjivg") from None
    folder = Path(dist.locate_file("kanji"))
    if not folder.is_dir():
        raise SketchDataError(
            f"the kanjivg package is installed but its folder {folder} is missing; "
            "run: pip install --force-reinstall kanjivg"
        )
    return folder


# --------------------------------------------------------------------------- SVG paths


def _sample_cubics(cubics: np.ndarray, is_line: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along cubic Bezier segments ``(m, 4, 2)``, each segment's start excluded, and the count per segment.

    A curve gets one point about every ``step`` units of its control polygon
    (at least 2); a line (``is_line``) only its end point. All segments are
    evaluated in one vectorised pass.
    """
    polygon = np.hypot(*np.diff(cubics, axis=1).transpose(2, 0, 1)).sum(axis=1)
    n = np.where(is_line, 1, np.maximum(2, np.ceil(polygon / step))).astype(np.int64)
    seg = np.repeat(np.arange(len(cubics)), n)
    t = ((np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 1) / n[seg])[:, None]
    p0, p1, p2, p3 = (cubics[seg, j] for j in range(4))
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3, n


_Segment = tuple[int, tuple[float, ...], bool]  # (sub-path, cubic's 8 coordinates, is a line)


# long: a small SVG path interpreter, one branch per path command (absolute and relative)
def _path_segments(d: str) -> tuple[list[tuple[float, float]], list[_Segment]]:
    """Interpret an SVG path ``d``: the start point of every sub-path and every segment as a cubic."""
    tokens = _TOKEN.findall(d)
    # every segment as a cubic (p0, c1, c2, p3); a quadratic's control point q becomes
    # c1 = p0 + 2/3 (q - p0), c2 = p3 + 2/3 (q - p3), which draws the same curve
    starts: list[tuple[float, float]] = []  # first point of every sub-path
    segments: list[tuple[int, tuple[float, ...], bool]] = []  # (sub-path, 8 coordinates, is a line)
    x = y = x0 = y0 = 0.0
    ctrl: tuple[float, float] | None = None  # the previous curve's last control point, reflected by S/T
    family = ""  # "C" after C/S, "Q" after Q/T: S reflects only a C's control point, T only a Q's
    cmd = ""
    i = 0

    def line_to(nx: float, ny: float) -> None:
        nonlocal x, y, family
        if not starts:
            starts.append((x, y))
        segments.append((len(starts) - 1, (x, y, x, y, nx, ny, nx, ny), True))
        x, y, family = nx, ny, ""

    while i < len(tokens):
        letter, _ = tokens[i]
        if letter:
            cmd = letter
            i += 1
            if cmd in "Zz":
                if starts and (x, y) != (x0, y0):
                    line_to(x0, y0)
                x, y, family = x0, y0, ""
                continue
            if cmd in "Aa":
                raise SketchDataError(f"path command '{cmd}' (arc) is not supported")
        elif not cmd:
            raise SketchDataError(f"path data starts with a number, not a command: {d[:40]!r}")
        n = _ARITY[cmd.upper()]
        chunk = tokens[i : i + n]
        if len(chunk) < n or any(letter for letter, _ in chunk):
            raise SketchDataError(f"path command '{cmd}' needs {n} numbers: {d[:60]!r}")
        args = [float(num) for _, num in chunk]
        i += n
        up, rel = cmd.upper(), cmd.islower()
        bx, by = (x, y) if rel else (0.0, 0.0)
        if up == "M":
            x, y = x0, y0 = bx + args[0], by + args[1]
            starts.append((x, y))
            cmd, family = ("l" if rel else "L"), ""  # further pairs are line-tos
        elif up == "L":
            line_to(bx + args[0], by + args[1])
        elif up == "H":
            line_to(bx + args[0], y)
        elif up == "V":
            line_to(x, by + args[0])
        else:
            pts = [(bx + args[j], by + args[j + 1]) for j in range(0, n, 2)]
            if up in "ST":
                kind = "C" if up == "S" else "Q"
                first = (2 * x - ctrl[0], 2 * y - ctrl[1]) if family == kind and ctrl else (x, y)
                pts.insert(0, first)
            if up in "CS":
                (c1x, c1y), (c2x, c2y), (ex, ey) = pts
                ctrl, family = (c2x, c2y), "C"
            else:
                (qx, qy), (ex, ey) = pts
                c1x, c1y = x + 2 / 3 * (qx - x), y + 2 / 3 * (qy - y)
                c2x, c2y = ex + 2 / 3 * (qx - ex), ey + 2 / 3 * (qy - ey)
                ctrl, family = (qx, qy), "Q"
            if not starts:
                starts.append((x, y))
            segments.append((len(starts) - 1, (x, y, c1x, c1y, c2x, c2y, ex, ey), False))
            x, y = ex, ey
    return starts, segments


def _polylines(paths: list[tuple[list[tuple[float, float]], list[_Segment]]], step: float) -> list[np.ndarray]:
    """Sample the segments of several paths in one pass; one polyline per sub-path, in order."""
    per_line: list[list[np.ndarray]] = []
    owners: list[int] = []
    cubics: list[tuple[float, ...]] = []
    lines: list[bool] = []
    for starts, segments in paths:
        first = len(per_line)
        per_line.extend([np.array([start])] for start in starts)
        for k, cubic, is_line in segments:
            owners.append(first + k)
            cubics.append(cubic)
            lines.append(is_line)
    if cubics:
        points, counts = _sample_cubics(np.array(cubics).reshape(-1, 4, 2), np.array(lines), step)
        for k, piece in zip(owners, np.split(points, np.cumsum(counts)[:-1])):
            per_line[k].append(piece)
    return [np.concatenate(parts) for parts in per_line]


def svg_path_to_polylines(d: str, step: float = 0.5) -> list[np.ndarray]:
    """An SVG path ``d`` attribute -> polylines ``(k, 2)``, one per sub-path (each ``M``/``m`` starts one).

    Curves (``C c S s Q q T t``) are sampled about every ``step`` units along
    their control polygon; lines (``L l H h V v Z z``) keep their end points.
    Arcs (``A a``) do not occur in KanjiVG and are refused.
    """
    return _polylines([_path_segments(d)], step)


# --------------------------------------------------------------------------- characters


@dataclass
class KanjiRecord:
    """One parsed character."""

    character: str
    #: the radical's element as drawn, "" when KanjiVG marks none
    radical: str
    #: stroke-3 float32, 0-255 scale, RDP-simplified
    strokes3: np.ndarray


def _stroke_number(element: ET.Element) -> float:
    """The writing-order number in a stroke's id (``kvg:05b57-s4`` -> 4); unnumbered strokes go last."""
    match = re.search(r"-s(\d+)$", element.get("id", ""))
    return int(match.group(1)) if match else math.inf


def parse_kanjivg_svg(path: str | os.PathLike, epsilon: float = 2.0, size: float = 255.0) -> KanjiRecord:
    """Read one KanjiVG SVG file into a :class:`KanjiRecord` (see the module docstring for the radical)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SketchDataError(f"not a readable SVG file ({exc})", source=str(path)) from None
    paths = [el for el in root.iter(f"{_SVG}path") if el.get("d")]
    if not paths:
        raise SketchDataError("no stroke <path> elements", source=str(path))
    paths = sorted(paths, key=_stroke_number)  # stable: unnumbered strokes keep document order
    parsed = []
    for el in paths:
        try:
            parsed.append(_path_segments(el.get("d", "")))
        except SketchDataError as exc:
            raise SketchDataError(f"stroke {el.get('id')!r}: {exc}", source=str(path)) from None
    lines = _polylines(parsed, step=0.5)
    if not lines:
        raise SketchDataError("the stroke paths hold no points", source=str(path))
    points = np.concatenate(lines)
    if not np.isfinite(points).all():
        raise SketchDataError("stroke coordinates hold NaN or inf", source=str(path))
    low = points.min(axis=0)
    extent = float((points - low).max())
    scale = size / extent if extent > 0 else 1.0
    strokes3 = S.polylines_to_stroke3([S.rdp((line - low) * scale, epsilon) for line in lines])

    radical, best = "", len(RADICAL_PRIORITY) + 1
    for group in root.iter(f"{_SVG}g"):
        kind = group.get(f"{_KVG}radical")
        if kind is None or group.get(f"{_KVG}element") is None:
            continue
        rank = RADICAL_PRIORITY.index(kind) if kind in RADICAL_PRIORITY else len(RADICAL_PRIORITY)
        if rank < best:
            radical, best = group.get(f"{_KVG}element"), rank
    try:
        character = chr(int(path.stem.split("-")[0], 16))
    except ValueError:
        character = path.stem
    return KanjiRecord(character, radical, strokes3)


def _svg_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.svg") if "-" not in p.stem)


def _cache_key(files: list[Path], epsilon: float) -> str:
    digest = hashlib.sha1()
    digest.update(f"{_PARSER_VERSION} {epsilon!r} {files[0].parent.resolve() if files else ''}".encode())
    for p in files:
        st = p.stat()
        digest.update(f"{p.name} {st.st_size} {st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _save_records(records: list[KanjiRecord], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                points=np.concatenate([r.strokes3 for r in records]) if records else np.zeros((0, 3), np.float32),
                lengths=np.array([len(r.strokes3) for r in records], dtype=np.int64),
                characters=np.array([r.character for r in records], dtype=str),
                radicals=np.array([r.radical for r in records], dtype=str),
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_records(path: Path) -> list[KanjiRecord]:
    with np.load(path) as data:
        drawings = np.split(data["points"], np.cumsum(data["lengths"])[:-1]) if len(data["lengths"]) else []
        return [KanjiRecord(str(c), str(r), d) for c, r, d in zip(data["characters"], data["radicals"], drawings)]


def _records(svg_dir: Path, epsilon: float, cache_dir, use_cache: bool, progress: bool) -> list[KanjiRecord]:
    files = _svg_files(svg_dir)
    if not files:
        raise SketchDataError(f"no KanjiVG SVG files in {svg_dir}")
    cache_file = default_cache_dir(cache_dir) / "kanjivg" / f"kanjivg-{_cache_key(files, epsilon)}.npz"
    if use_cache and cache_file.is_file():
        try:
            return _load_records(cache_file)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable KanjiVG cache %s (%s)", cache_file, exc)
    records = [parse_kanjivg_svg(p, epsilon) for p in tqdm(files, desc="kanjivg", unit="svg", disable=not progress)]
    if use_cache:
        _save_records(records, cache_file)
    return records


def load_kanjivg(
    top_k_radicals: int | None = None,
    *,
    epsilon: float = 2.0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    svg_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> SketchSplits:
    """KanjiVG characters as stroke-3 drawings (0-255 scale), split per class with ``fractions`` and ``seed``.

    Args:
        top_k_radicals: ``None``: every character, one class ``"kanji"``. ``K``: only
            characters whose radical is one of the ``K`` most frequent, one class
            per radical, most frequent first (ties by code point).
        epsilon: RDP epsilon on the 0-255 scale.
        cache_dir: where the parsed characters are cached (default ``$SKETCHLIB_CACHE``
            or ``~/.cache/sketchlib``).
        svg_dir: a folder of KanjiVG SVG files (default: the ``kanjivg`` package's).
        use_cache: read and write the parsed-characters cache.
        progress: a tqdm bar while parsing.

    Every set carries ``extras["character"]``.
    """
    folder = Path(svg_dir) if svg_dir is not None else kanjivg_dir()
    records = _records(folder, epsilon, cache_dir, use_cache, progress)
    if top_k_radicals is None:
        names = ["kanji"]
        chosen = [(r, 0) for r in records]
    else:
        if top_k_radicals < 1:
            raise SketchDataError(
                f"top_k_radicals must be at least 1 (or None for all characters), got {top_k_radicals}"
            )
        counts = Counter(r.radical for r in records if r.radical)
        names = [rad for rad, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k_radicals]]
        index = {rad: k for k, rad in enumerate(names)}
        chosen = [(r, index[r.radical]) for r in records if r.radical in index]
        if not chosen:
            raise SketchDataError(f"no character in {folder} has a radical mark (kvg:radical)")
    sketches = Sketches(
        [r.strokes3 for r, _ in chosen],
        np.array([k for _, k in chosen], dtype=np.int64),
        names,
        "kanjivg",
        {"character": [r.character for r, _ in chosen]},
    )
    return SketchSplits.from_single(sketches, fractions, seed)
