"""The book's claim ledger: chapters record what they measured, one page reads it back.

A chapter that checks a claim of a source paper calls :func:`record_claim` right
after computing it; the page "What this book reproduces" reads every record with
:func:`read_claims`. The ledger is one JSON file per claim in ``results_dir()``
(``$SKETCHLIB_RESULTS_DIR``, else ``_build/results`` under the repository, else
``~/.cache/sketchlib/results``), so it updates whenever the chapters are
re-executed, for example after the models are retrained.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

__all__ = ["record_claim", "read_claims", "results_dir", "VERDICTS"]

#: The words a verdict may take.
VERDICTS = ("holds", "does not hold", "inconclusive", "holds in part")

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def results_dir() -> Path:
    """Where the ledger lives (created on demand)."""
    env = os.environ.get("SKETCHLIB_RESULTS_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    if (repo / "_toc.yml").exists():
        return repo / "_build" / "results"
    return Path.home() / ".cache" / "sketchlib" / "results"


def _number(x, what: str):
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"record_claim: {what}={x} is not a finite number")
    return x


def record_claim(
    id: str,
    *,
    chapter: str,
    source: str,
    claim: str,
    paper: str,
    ours: float | str,
    verdict: str,
    interval: tuple[float, float] | None = None,
    unit: str = "",
    steps: int | str | None = None,
    models: str = "",
) -> Path:
    """Write one claim's record and return its path.

    Args:
        id: a stable key such as ``"aisketcher.fig2.own-class"`` (lower case, digits, ``._-``).
        chapter: where it is measured, e.g. ``"8"`` or ``"10b"``.
        source: the paper or project, e.g. ``"AI-Sketcher (Cao et al. 2019)"``.
        claim: the claim in one sentence, as the paper states it.
        paper: the paper's number or statement, as text (``"p < .01"``, ``"63% vs 18%"``).
        ours: the book's number (a float) or a short statement.
        verdict: one of :data:`VERDICTS`.
        interval: a 95% interval for ``ours`` when it is a number.
        unit: e.g. ``"%"`` or ``"nats"``.
        steps: the training steps of the models the number rests on.
        models: the registry names of those models.
    """
    if not _ID.match(id):
        raise ValueError(f"record_claim: id {id!r} must be lower case letters, digits, '.', '_' or '-'")
    if verdict not in VERDICTS:
        raise ValueError(f"record_claim: verdict {verdict!r} must be one of {VERDICTS}")
    rec = {
        "id": id, "chapter": str(chapter), "source": source, "claim": claim, "paper": paper,
        "ours": ours if isinstance(ours, str) else _number(ours, "ours"),
        "interval": None if interval is None else [_number(interval[0], "interval"), _number(interval[1], "interval")],
        "unit": unit, "verdict": verdict, "steps": steps, "models": models,
    }
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{id}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_claims(directory: str | os.PathLike | None = None) -> list[dict]:
    """Every recorded claim, sorted by chapter then id."""
    d = Path(directory) if directory is not None else results_dir()
    recs = [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []

    def key(r):
        m = re.match(r"(\d+)(\w*)", r["chapter"])
        return (int(m.group(1)), m.group(2), r["id"]) if m else (999, r["chapter"], r["id"])

    return sorted(recs, key=key)
