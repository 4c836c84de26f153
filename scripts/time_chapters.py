#!/usr/bin/env python3
"""Measure how long each chapter takes to run, and write it to ``book/chapter_times.json``.

Executes every chapter notebook of ``_toc.yml`` (or the ones named) top to bottom with
``jupyter nbconvert --execute``, as a reader would on a CPU, one after the other, and
records the processor time of each (nbconvert and its kernel: about the chapter's run
time on a quiet machine, since the chapters compute on one thread) with its wall-clock
time, the machine and its load. Each chapter prints
its own entry under its learning goals, so the book states measured times only.
Chapters not run keep their earlier entries. A Colab GPU time is recorded only when
given (``--gpu-seconds``, measured there by hand); otherwise it stays ``null`` and the
chapter says it was not measured.

    python scripts/time_chapters.py                 # every chapter
    python scripts/time_chapters.py 02 03           # chapters 2 and 3 (or their notebook names)
    python scripts/time_chapters.py 03 --gpu-seconds 41   # record a Colab GPU time measured by hand

The file maps each chapter's key (``"02"``, ``"10b"``) to its CPU seconds, beside
``machine``, ``measured`` (when, and the machine's load then) and ``colab_gpu_seconds``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "book" / "chapter_times.json"


def toc_chapters() -> list[str]:
    """The notebook chapters of ``_toc.yml``, e.g. ``["01_introduction", ...]``."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return [Path(f).name for f in files if (REPO / f"{f}.ipynb").exists()]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import torch

    cores = os.cpu_count()
    return {
        "cpu": cpu_name(),
        "cores": cores,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "summary": f"{cores} CPU cores ({cpu_name()}), torch {torch.__version__}",
    }


def run_chapter(name: str, timeout: int, keep: Path | None = None) -> tuple[float, float]:
    """Execute ``book/<name>.ipynb`` (into ``keep``, else a temporary folder).

    Returns ``(cpu_seconds, wall_seconds)``: the processor time of the run (nbconvert and its
    kernel, user plus system), which is about what the chapter takes on a quiet machine since the
    chapters compute on one thread, and the wall-clock time, which grows on a busy machine.
    """
    notebook = REPO / "book" / f"{name}.ipynb"
    if not notebook.exists():
        raise SystemExit(f"time_chapters: {notebook} does not exist (chapters: {', '.join(toc_chapters())})")
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernels draw with the inline backend, as in the book build
    env.setdefault("OMP_NUM_THREADS", "1")
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = str(keep) if keep is not None else tmp
        cmd = [jupyter, "nbconvert", "--to", "notebook", "--execute", f"--ExecutePreprocessor.timeout={timeout}",
               "--output-dir", out_dir, "--output", f"{name}.ipynb", str(notebook)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"time_chapters: {notebook.name} failed to execute:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def update(path: Path, change) -> None:
    """Read the file afresh, apply ``change(times)``, write it back: entries written meanwhile are kept."""
    times = json.loads(path.read_text()) if path.exists() else {}
    times["about"] = ("Seconds of CPU time each chapter takes to run top to bottom (jupyter nbconvert --execute and "
                      "its kernel, user + system), about its run time on a quiet machine; wall-clock seconds under "
                      "'measured'. Written by scripts/time_chapters.py; colab_gpu_seconds only where measured.")
    times.setdefault("colab_gpu_seconds", {})
    change(times)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def chapter_key(name: str) -> str:
    """``"02_sketches_as_data"`` or ``"02"`` -> ``"02"``; ``"10b_multi_class_generation"`` -> ``"10b"``."""
    return name.split("_", 1)[0]


def notebook_name(name: str) -> str:
    """The chapter notebook (without .ipynb) that a name or a chapter key denotes."""
    matches = [c for c in toc_chapters() if c == name or chapter_key(c) == name]
    if len(matches) != 1:
        chapters = ", ".join(toc_chapters())
        raise SystemExit(f"time_chapters: no single chapter {name!r} in _toc.yml (chapters: {chapters})")
    return matches[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapters", nargs="*",
                    help="chapters, as '02' or '02_sketches_as_data' (default: every chapter of _toc.yml)")
    ap.add_argument("--out", type=Path, default=OUT, help="the JSON file to update (default: book/chapter_times.json)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell before a chapter counts as failed")
    ap.add_argument("--keep", type=Path, default=None, help="keep the executed notebooks in this folder")
    ap.add_argument("--gpu-seconds", type=float, default=None,
                    help="record this Colab GPU time (seconds) for the one named chapter instead of running it")
    args = ap.parse_args(argv)

    # The file: {"02": 20.7, ...} (CPU seconds per chapter key), plus "about", "machine",
    # "measured" (when and under what load each was measured) and "colab_gpu_seconds".
    names = [notebook_name(c) for c in args.chapters] if args.chapters else toc_chapters()
    if args.gpu_seconds is not None:
        if len(names) != 1:
            raise SystemExit("time_chapters: --gpu-seconds needs exactly one chapter")

        def record_gpu(times):
            times["colab_gpu_seconds"][chapter_key(names[0])] = round(args.gpu_seconds, 1)

        update(args.out, record_gpu)
        return 0
    info = machine()
    for name in names:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        seconds, wall = run_chapter(name, args.timeout, args.keep)
        key = chapter_key(name)

        def record(times, key=key, seconds=seconds, wall=wall, load=load):
            times["machine"] = info["summary"]
            times[key] = round(seconds, 1)
            times.setdefault("measured", {})[key] = {
                "wall_seconds": round(wall, 1),
                "utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                "load_average_at_start": None if load is None else round(load, 2),
                "cores": info["cores"],
                "machine": info["summary"],
            }

        update(args.out, record)  # after each chapter, so a failure later keeps what was measured
        print(f"{name}: {seconds:.1f} s of CPU time, {wall:.1f} s wall-clock", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
