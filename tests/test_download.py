"""The downloader: cache, atomic writes, validation, mirrors, and failures that leave nothing behind."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sketchlib.datasets.download import default_cache_dir, fetch, resolve_mirror, validate_file
from sketchlib.errors import SketchDataError

BASE = "https://example.invalid/data/"
NDJSON = "".join(json.dumps({"drawing": [[[0, 5, 9], [0, 3, 1]]], "key_id": str(i)}) + "\n" for i in range(50))


def write_npz(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    drawings = np.empty(2, dtype=object)
    drawings[0] = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)
    drawings[1] = np.array([[5, 6, 1]], dtype=np.int16)
    np.savez(path, train=drawings, valid=drawings, test=drawings)
    return path.read_bytes()


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A mirror folder: ``sketches/face.npz``, ``full/simplified/face.ndjson`` and ``simplified/cat.ndjson``."""
    root = tmp_path / "mirror"
    write_npz(root / "sketches" / "face.npz")
    (root / "full" / "simplified").mkdir(parents=True)
    (root / "full" / "simplified" / "face.ndjson").write_text(NDJSON)
    (root / "simplified").mkdir()
    (root / "simplified" / "cat.ndjson").write_text(NDJSON)
    return root


class Server:
    """A local HTTP server over a mirror folder that can cut transfers short or stall."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        self.truncate: set[str] = set()
        self.stall: set[str] = set()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                if name in server.stall:
                    time.sleep(0.6)
                if name in server.truncate:
                    body = (root / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client hanging up is expected here
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(mirror: Path):
    s = Server(mirror)
    yield s
    s.close()


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


# --------------------------------------------------------------------------- cache folder


def test_cache_dir_defaults_to_home_cache(monkeypatch):
    monkeypatch.delenv("SKETCHLIB_CACHE", raising=False)
    assert default_cache_dir() == Path("~/.cache/sketchlib").expanduser()


def test_cache_dir_follows_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHLIB_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"


def test_cache_dir_argument_beats_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHLIB_CACHE", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"


# --------------------------------------------------------------------------- mirrors


def test_local_mirror_folder_is_read_in_place(mirror, tmp_path):
    cache = tmp_path / "cache"
    path = fetch("sketches/face.npz", BASE, cache, mirror=mirror, progress=False)
    assert path == mirror / "sketches" / "face.npz"
    assert not cache.exists()


def test_file_url_mirror_is_read_in_place(mirror, tmp_path):
    path = fetch("sketches/face.npz", BASE, tmp_path / "cache", mirror=mirror.as_uri(), progress=False)
    assert path == mirror / "sketches" / "face.npz"


def test_mirror_comes_from_its_environment_variable(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHLIB_TEST_MIRROR", str(mirror))
    path = fetch("sketches/face.npz", BASE, tmp_path, mirror_env="SKETCHLIB_TEST_MIRROR", progress=False)
    assert path == mirror / "sketches" / "face.npz"


def test_local_mirror_falls_back_to_alternative_layout(mirror, tmp_path):
    path = fetch("full/simplified/cat.ndjson", BASE, tmp_path, mirror=mirror, fallbacks=["simplified/cat.ndjson"])
    assert path == mirror / "simplified" / "cat.ndjson"


def test_file_missing_from_local_mirror_names_paths_and_variable(mirror, tmp_path):
    with pytest.raises(SketchDataError, match=r"not in the mirror folder.*nope\.npz.*\$SKETCHLIB_TEST_MIRROR"):
        fetch("nope.npz", BASE, tmp_path, mirror=mirror, mirror_env="SKETCHLIB_TEST_MIRROR")


def test_corrupt_file_in_local_mirror_is_refused_with_its_path(mirror, tmp_path):
    (mirror / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(SketchDataError, match=r"bad\.npz.*not a readable npz"):
        fetch("bad.npz", BASE, tmp_path, mirror=mirror)


def test_missing_mirror_folder_is_refused(tmp_path):
    with pytest.raises(SketchDataError, match="does not exist"):
        resolve_mirror(tmp_path / "absent")


def test_unsupported_mirror_scheme_is_refused():
    with pytest.raises(SketchDataError, match="unsupported scheme 'ftp'"):
        resolve_mirror("ftp://example.org/data")


# --------------------------------------------------------------------------- downloads


def test_http_mirror_download_lands_in_cache(server, mirror, tmp_path):
    path = fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, cache_subdir="qd", progress=False)
    assert path == tmp_path / "qd" / "sketches" / "face.npz"
    assert path.read_bytes() == (mirror / "sketches" / "face.npz").read_bytes()


def test_valid_cached_file_is_not_downloaded_again(server, tmp_path):
    fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    assert server.requests == ["/sketches/face.npz"]


def test_http_mirror_falls_back_after_404(server, tmp_path):
    path = fetch(
        "full/simplified/cat.ndjson", BASE, tmp_path, mirror=server.url, fallbacks=["simplified/cat.ndjson"],
        progress=False,
    )
    assert path == tmp_path / "full" / "simplified" / "cat.ndjson"
    assert path.read_text() == NDJSON


def test_truncated_transfer_raises_and_leaves_no_file(server, tmp_path):
    server.truncate.add("face.npz")
    with pytest.raises(SketchDataError, match=r"127\.0\.0\.1.*face\.npz.*truncated"):
        fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    assert not (tmp_path / "sketches" / "face.npz").exists()
    assert leftovers(tmp_path) == []


def test_good_fetch_works_after_a_truncated_one(server, mirror, tmp_path):
    server.truncate.add("face.npz")
    with pytest.raises(SketchDataError):
        fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    server.truncate.clear()
    path = fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    assert path.read_bytes() == (mirror / "sketches" / "face.npz").read_bytes()


def test_corrupt_cached_npz_is_downloaded_again(server, mirror, tmp_path):
    cached = tmp_path / "sketches" / "face.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes((mirror / "sketches" / "face.npz").read_bytes()[:100])
    path = fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, progress=False)
    assert path.read_bytes() == (mirror / "sketches" / "face.npz").read_bytes()
    assert server.requests == ["/sketches/face.npz"]


def test_cut_off_cached_ndjson_is_downloaded_again(server, tmp_path):
    cached = tmp_path / "full" / "simplified" / "face.ndjson"
    cached.parent.mkdir(parents=True)
    cached.write_text(NDJSON[: len(NDJSON) - 20])
    path = fetch("full/simplified/face.ndjson", BASE, tmp_path, mirror=server.url, progress=False)
    assert path.read_text() == NDJSON


def test_file_missing_everywhere_names_url_and_variable(server, tmp_path):
    with pytest.raises(SketchDataError, match=r"404.*127\.0\.0\.1.*nope\.npz.*\$SKETCHLIB_TEST_MIRROR"):
        fetch("nope.npz", BASE, tmp_path, mirror=server.url, mirror_env="SKETCHLIB_TEST_MIRROR", progress=False)


def test_unreachable_server_names_url_and_variable(tmp_path):
    closed = Server(tmp_path)
    url = closed.url
    closed.close()
    with pytest.raises(SketchDataError, match=r"127\.0\.0\.1.*face\.npz failed.*\$SKETCHLIB_TEST_MIRROR"):
        fetch("face.npz", BASE, tmp_path / "cache", mirror=url, mirror_env="SKETCHLIB_TEST_MIRROR", progress=False)
    assert leftovers(tmp_path) == []


def test_timeout_raises_and_leaves_no_file(server, tmp_path):
    server.stall.add("face.npz")
    with pytest.raises(SketchDataError, match=r"face\.npz failed.*timed out"):
        fetch("sketches/face.npz", BASE, tmp_path, mirror=server.url, timeout=0.2, progress=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "sketches" / "face.npz").exists()


# --------------------------------------------------------------------------- validation


def test_validate_accepts_complete_files(mirror):
    validate_file(mirror / "sketches" / "face.npz")
    validate_file(mirror / "simplified" / "cat.ndjson")


def test_validate_refuses_empty_file(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"")
    with pytest.raises(SketchDataError, match=r"x\.txt: file is empty"):
        validate_file(tmp_path / "x.txt")


def test_validate_refuses_ndjson_cut_mid_line(tmp_path):
    (tmp_path / "x.ndjson").write_text(NDJSON[:-10])
    with pytest.raises(SketchDataError, match=r"x\.ndjson: last line is not complete JSON"):
        validate_file(tmp_path / "x.ndjson")


def test_validate_reads_last_line_longer_than_a_block(tmp_path):
    long_line = json.dumps({"drawing": [[list(range(40000)), list(range(40000))]]})
    (tmp_path / "x.ndjson").write_text(NDJSON + long_line + "\n")
    validate_file(tmp_path / "x.ndjson")
