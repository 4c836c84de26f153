"""Fetch data files into a local cache, or read them from a mirror.

Every data set file has an official address ``base_url + relative_path``.
:func:`fetch` returns a local path for it:

1. With a **mirror** (an argument, or the data set's environment variable such
   as ``SKETCHLIB_QUICKDRAW_MIRROR``) the base address is replaced by the
   mirror's. A mirror is a local folder, a ``file://`` URL or an ``http(s)://``
   URL with the same layout as the official source. Files in a local mirror are
   read in place, never copied.
2. Otherwise the file comes from the **cache** folder (``~/.cache/sketchlib``,
   or ``$SKETCHLIB_CACHE``, or the ``cache_dir`` argument) when a valid copy is
   there, and is downloaded into it when not.

Downloads are atomic: bytes go to a temporary file next to the target, which
is checked (length against ``Content-Length``, then its content, see
:func:`validate_file`) and only then renamed onto the target with
:func:`os.replace`. A failed, timed-out or truncated transfer leaves nothing
behind and raises :class:`~sketchlib.errors.SketchDataError` naming the address
and what to do. A cached file that fails the content check (an interrupted
copy from an older tool, a full disk) is downloaded again.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from tqdm.auto import tqdm

from sketchlib.errors import SketchDataError

__all__ = ["CACHE_ENV", "DEFAULT_CACHE_DIR", "default_cache_dir", "resolve_mirror", "validate_file", "fetch"]

log = logging.getLogger(__name__)

#: Environment variable that moves the cache folder.
CACHE_ENV = "SKETCHLIB_CACHE"
#: The cache folder when neither an argument nor ``$SKETCHLIB_CACHE`` says otherwise.
DEFAULT_CACHE_DIR = Path("~/.cache/sketchlib")

_CHUNK = 1 << 16


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$SKETCHLIB_CACHE``, else ``~/.cache/sketchlib``."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return Path(cache_dir).expanduser()


def resolve_mirror(mirror: str | os.PathLike | None = None, mirror_env: str | None = None) -> str | Path | None:
    """The mirror to use: ``mirror`` if given, else the environment variable ``mirror_env``, else ``None``.

    Returns a :class:`~pathlib.Path` for a local folder (plain path or ``file://`` URL),
    the URL string (ending in ``/``) for an ``http(s)://`` mirror.
    """
    origin = "argument mirror"
    if mirror is None and mirror_env:
        mirror = os.environ.get(mirror_env) or None
        origin = f"${mirror_env}"
    if mirror is None:
        return None
    text = os.fspath(mirror)
    scheme = urllib.parse.urlparse(text).scheme.lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return text if text.endswith("/") else text + "/"
    if scheme == "file":
        folder = Path(urllib.request.url2pathname(urllib.parse.urlparse(text).path))
    elif scheme:
        raise SketchDataError(
            f"{origin} = {text!r}: unsupported scheme '{scheme}'; use a folder path, a file:// or an http(s):// URL"
        )
    else:
        folder = Path(text).expanduser()
    if not folder.is_dir():
        raise SketchDataError(f"{origin} = {text!r}: folder {folder} does not exist; point it at the mirror folder")
    return folder


# --------------------------------------------------------------------------- validation


def _last_line(path: Path) -> bytes:
    """The last non-empty line of a file, read backwards in blocks (files can be gigabytes)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        tail = b""
        while end > 0:
            start = max(0, end - _CHUNK)
            f.seek(start)
            tail = f.read(end - start) + tail
            end = start
            stripped = tail.rstrip(b"\r\n")
            if b"\n" in stripped or end == 0:
                return stripped.rsplit(b"\n", 1)[-1]
        return b""


def validate_file(path: str | os.PathLike) -> None:
    """Check that a data file is complete; raise :class:`SketchDataError` if it is not.

    - ``.npz``: a readable zip archive whose members all pass their CRC check.
    - ``.ndjson``: the last line is a complete JSON object (a cut-off download
      ends mid-line).
    - anything else: not empty.
    """
    path = Path(path)
    if not path.is_file():
        raise SketchDataError("file not found", source=str(path))
    if path.stat().st_size == 0:
        raise SketchDataError("file is empty", source=str(path))
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise SketchDataError(f"not a readable npz archive ({exc})", source=str(path)) from None
        if bad is not None:
            raise SketchDataError(f"archive member {bad!r} is corrupt (CRC mismatch)", source=str(path))
    elif suffix == ".ndjson":
        last = _last_line(path)
        try:
            obj = json.loads(last)
        except ValueError as exc:
            raise SketchDataError(
                f"last line is not complete JSON ({exc}); the file is cut off", source=str(path)
            ) from None
        if not isinstance(obj, dict):
            raise SketchDataError("last line is not a JSON object; the file is cut off", source=str(path))


# --------------------------------------------------------------------------- fetching


def _download(
    url: str, dest: Path, timeout: float, progress: bool, validate: Callable[[Path], None], hint: str
) -> None:
    """``url`` -> ``dest`` through a temporary file, removed on any failure.

    Raises :class:`SketchDataError` for a truncated or corrupt transfer and lets
    ``urllib``'s errors (``HTTPError``, ``URLError``, timeouts) through for :func:`fetch`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "sketchlib"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                received = 0
                with tqdm(
                    total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name, leave=False,
                    disable=not progress,
                ) as bar:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        if expected is not None and received != expected:
            raise SketchDataError(
                f"download of {url} is truncated: got {received} of {expected} bytes; try again{hint}"
            )
        try:
            validate(tmp)
        except SketchDataError as exc:
            raise SketchDataError(f"download of {url} is corrupt ({exc}); try again{hint}") from None
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# long: a third is the docstring; the rest is one path read top to bottom (local mirror, cache, download with
# fallbacks) so that every data set is fetched and checked the same way
def fetch(
    relative_path: str,
    base_url: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    mirror: str | os.PathLike | None = None,
    mirror_env: str | None = None,
    fallbacks: Sequence[str] = (),
    cache_subdir: str = "",
    validate: Callable[[Path], None] | None = validate_file,
    timeout: float = 60.0,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """A local path for ``base_url + relative_path``, downloading it into the cache if needed.

    Args:
        relative_path: the file's path below ``base_url`` (``"sketchrnn/face.npz"``).
        base_url: the official source, ending in ``/``.
        cache_dir: the cache folder (default :func:`default_cache_dir`).
        mirror: replaces ``base_url``: a local folder, ``file://`` or ``http(s)://`` URL.
        mirror_env: the environment variable read when ``mirror`` is not given.
        fallbacks: other relative paths tried in order when the first is missing
            (404, or absent from a local mirror); the file is cached under ``relative_path``.
        cache_subdir: folder inside the cache for this data set (``"quickdraw"``).
        validate: content check of a file (default :func:`validate_file`); ``None`` skips it.
        timeout: seconds to wait for the server before giving up.
        progress: show a tqdm bar while downloading.
        force: download again even when a valid cached copy exists.

    Raises:
        SketchDataError: the file is in neither the mirror nor the source, the
            transfer failed, or the file is corrupt; the message names the
            address and what to do.
    """
    check = validate or (lambda _path: None)
    candidates = [relative_path, *fallbacks]
    source = resolve_mirror(mirror, mirror_env)
    hint = f" or set ${mirror_env} to a mirror folder" if mirror_env else " or pass mirror= a mirror folder"

    if isinstance(source, Path):  # a local mirror: read in place
        for rel in candidates:
            path = source / rel
            if path.is_file():
                check(path)
                return path
        tried = ", ".join(str(source / rel) for rel in candidates)
        unset = f"unset ${mirror_env} and pass no mirror" if mirror_env else "pass no mirror"
        raise SketchDataError(
            f"not in the mirror folder (looked for {tried}); add the file there, "
            f"or {unset} to download it from {base_url}"
        )

    dest = default_cache_dir(cache_dir) / cache_subdir / relative_path
    if dest.is_file() and not force:
        try:
            check(dest)
            return dest
        except SketchDataError as exc:
            log.warning("cached copy is corrupt, downloading it again: %s", exc)

    base = source if source is not None else base_url
    for rel in candidates:
        url = base + urllib.parse.quote(rel)
        try:
            _download(url, dest, timeout, progress, check, hint)
            return dest
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                continue
            raise SketchDataError(
                f"download of {url} failed: HTTP {exc.code} {exc.reason}; try again later{hint}"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SketchDataError(
                f"download of {url} failed ({reason}); check the network and the free space in {dest.parent}{hint}"
            ) from None
    tried = ", ".join(base + urllib.parse.quote(rel) for rel in candidates)
    raise SketchDataError(f"not found (HTTP 404) at {tried}; check the name{hint}")
