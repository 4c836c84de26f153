"""A rating app for the user study: participants rate generated drawings on a 5-point Likert scale.

The AI-Sketcher paper's user study asks people how good the drawings
of each model are, without telling them which model drew what. Here:

- :class:`RatingStore` is the durable record: one SQLite file (``ratings.sqlite``)
  in a folder the teacher chooses, in WAL mode, every rating committed the moment
  it is given, so a kernel restart or a closed browser loses nothing and several
  participants (processes) can rate at once.
- :class:`RatingApp` is the ipywidgets front end: participant id, one drawing at a
  time in an order shuffled per participant (seeded by the id, so a participant who
  comes back resumes the same order where they stopped), the five
  :data:`LIKERT` buttons, progress.
- :meth:`RatingStore.to_dataframe`, :func:`mean_ratings` and :func:`rm_anova` turn
  the store into the long table and the repeated-measures ANOVA (pingouin) of the
  analysis: ``participant x model`` means, ``within="model"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = ["LIKERT", "RatingStoreError", "RatingItem", "RatingStore", "RatingApp", "make_items", "mean_ratings",
           "rm_anova"]

#: The five answers, rating 1 to 5.
LIKERT = ("very poor", "poor", "fair", "good", "very good")
DB_NAME = "ratings.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    strokes3 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    participant TEXT NOT NULL,
    item TEXT NOT NULL REFERENCES items(item),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    position INTEGER,
    rated_at REAL NOT NULL,
    PRIMARY KEY (participant, item)
);
"""


class RatingStoreError(RuntimeError):
    """The store's file cannot be used; the message names it and says what to do (nothing is deleted)."""


@dataclasses.dataclass(frozen=True)
class RatingItem:
    """One drawing to rate: its id (shown to nobody), the model that drew it, stroke-3 in pixels."""

    item: str
    model: str
    strokes3: np.ndarray


def make_items(drawings: Mapping[str, Sequence[np.ndarray]]) -> list[RatingItem]:
    """``{model: [drawings]}`` -> items with ids ``"<model>/<index>"``."""
    return [RatingItem(f"{model}/{i}", model, np.asarray(d, np.float32))
            for model, ds in drawings.items() for i, d in enumerate(ds)]


class RatingStore:
    """Ratings in ``folder/ratings.sqlite``.

    Each call opens its own connection, writes in one transaction and commits, so
    any number of stores (in threads or processes) may share the file; SQLite's WAL
    lets readers run while one writer writes, and ``busy_timeout`` makes writers wait
    their turn instead of failing.

    Args:
        folder: where the file lives (created if missing).
        items: the study's drawings; registered on first use and checked to agree
            with what the file already holds afterwards.
    """

    def __init__(self, folder: str | os.PathLike, items: Sequence[RatingItem] | None = None, *,
                 timeout: float = 30.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / DB_NAME
        self.timeout = float(timeout)
        with self._connect() as db:
            db.executescript(_SCHEMA)
        if items:
            self.add_items(items)

    @contextlib.contextmanager
    def _connect(self):
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout)
        except sqlite3.Error as e:
            raise RatingStoreError(f"{self.path}: cannot open ({e}); check the folder exists and is writable") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a committed rating survives a crashed kernel
            with db:  # one transaction, committed on leaving
                yield db
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e) or "malformed" in str(e):
                raise RatingStoreError(
                    f"{self.path}: not a readable SQLite database ({e}). It has been left as it is: move it aside "
                    f"(e.g. rename it to {DB_NAME}.broken) to start a new store here, or pick another folder; "
                    f"`sqlite3 {self.path} .recover` may rescue its ratings") from None
            raise
        finally:
            db.close()

    # -- items
    def add_items(self, items: Sequence[RatingItem]) -> None:
        """Register the study's drawings (again is fine; an id that changes its model is an error)."""
        with self._connect() as db:
            known = dict(db.execute("SELECT item, model FROM items"))
            for it in items:
                if it.item in known and known[it.item] != it.model:
                    raise RatingStoreError(
                        f"{self.path}: item {it.item!r} is stored as drawn by {known[it.item]!r}, now given as "
                        f"{it.model!r}; use a new folder for a new study")
            db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?)",
                           [(it.item, it.model, json.dumps(np.round(np.asarray(it.strokes3, float), 3).tolist()))
                            for it in items])

    def models(self) -> list[str]:
        with self._connect() as db:
            return [m for (m,) in db.execute("SELECT DISTINCT model FROM items ORDER BY model")]

    def items(self) -> list[RatingItem]:
        with self._connect() as db:
            rows = db.execute("SELECT item, model, strokes3 FROM items ORDER BY item").fetchall()
        return [RatingItem(i, m, np.asarray(json.loads(s), np.float32).reshape(-1, 3)) for i, m, s in rows]

    # -- ratings
    def add(self, participant: str, item: str, rating: int, *, model: str | None = None,
            position: int | None = None) -> None:
        """Record (or change) one rating, committed before returning.

        ``model``, when given, must be the model the store holds for ``item``.
        """
        participant = _check_participant(participant)
        if isinstance(rating, bool) or not isinstance(rating, (int, np.integer)) or not 1 <= int(rating) <= 5:
            scale = ", ".join(f"{i + 1} = {w}" for i, w in enumerate(LIKERT))
            raise ValueError(f"rating must be an integer 1-5 ({scale}), got {rating!r}")
        with self._connect() as db:
            row = db.execute("SELECT model FROM items WHERE item = ?", (item,)).fetchone()
            if row is None:
                raise ValueError(f"{self.path}: unknown item {item!r}; "
                                 "register the study's drawings with add_items first")
            if model is not None and model != row[0]:
                known = [m for (m,) in db.execute("SELECT DISTINCT model FROM items ORDER BY model")]
                raise ValueError(f"{self.path}: unknown model {model!r} for item {item!r} "
                                 f"(stored: {row[0]!r}; the study's models are {known})")
            db.execute("INSERT INTO ratings VALUES (?, ?, ?, ?, ?) ON CONFLICT (participant, item) "
                       "DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at",
                       (participant, item, int(rating), position, time.time()))

    def rated(self, participant: str) -> dict[str, int]:
        """``{item: rating}`` of one participant."""
        with self._connect() as db:
            return dict(db.execute("SELECT item, rating FROM ratings WHERE participant = ?", (participant,)))

    def participants(self) -> list[str]:
        with self._connect() as db:
            return [p for (p,) in db.execute("SELECT DISTINCT participant FROM ratings ORDER BY participant")]

    def to_dataframe(self):
        """All ratings, one row each: ``participant, model, item, rating`` (the long format pingouin takes)."""
        import pandas as pd

        with self._connect() as db:
            rows = db.execute("SELECT r.participant, i.model, r.item, r.rating FROM ratings r "
                              "JOIN items i USING (item) ORDER BY r.participant, r.rated_at").fetchall()
        return pd.DataFrame(rows, columns=["participant", "model", "item", "rating"]).astype({"rating": "int64"})


def _check_participant(participant) -> str:
    p = str(participant).strip() if participant is not None else ""
    if not p:
        raise ValueError("participant id is empty; type an id (e.g. p01) before rating")
    return p


def participant_order(participant: str, items: Sequence[RatingItem], seed: int = 0) -> list[RatingItem]:
    """The items in this participant's own random order (the same every time for the same id and seed)."""
    digest = hashlib.sha256(f"{seed}:{participant}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    items = sorted(items, key=lambda it: it.item)
    return [items[i] for i in rng.permutation(len(items))]


def mean_ratings(df):
    """Mean rating per participant and model (``participant, model, rating``), from :meth:`RatingStore.to_dataframe`."""
    return df.groupby(["participant", "model"], as_index=False)["rating"].mean()


def rm_anova(df):
    """One-way repeated-measures ANOVA of rating over model (pingouin), on the per-participant means.

    Only participants who rated every model take part (a repeated-measures design needs all cells).
    """
    import pingouin as pg

    means = mean_ratings(df)
    n_models = means["model"].nunique()
    complete = means.groupby("participant")["model"].transform("nunique") == n_models
    return pg.rm_anova(data=means[complete], dv="rating", within="model", subject="participant")


class RatingApp:
    """The participant's screen: id, one drawing at a time, five Likert buttons, progress.

    Args:
        folder: the store's folder (see :class:`RatingStore`).
        items: the drawings (``RatingItem`` list or ``{model: [drawings]}``); ``None``: those already in the store.
        participant: pre-fill the id (the participant still presses "Start").
        seed: the study's shuffle seed (the same for all participants).
    """

    def __init__(self, folder: str | os.PathLike, items=None, *, participant: str = "", seed: int = 0,
                 size: int = 300):
        if isinstance(items, Mapping):
            items = make_items(items)
        self.store = RatingStore(folder, items)
        self.items = list(items) if items else self.store.items()
        if not self.items:
            raise ValueError(f"{self.store.path}: no drawings to rate; pass items= (e.g. {{'model': [drawings]}})")
        self.seed, self.size = seed, size
        self.participant: str | None = None
        self.order: list[RatingItem] = []
        self.position = 0
        self._build(participant)

    # -- logic (the buttons call these)
    def start(self, participant: str) -> None:
        """Begin or resume ``participant``: their order, skipping what they rated already."""
        self.participant = _check_participant(participant)
        self.order = participant_order(self.participant, self.items, self.seed)
        done = self.store.rated(self.participant)
        self.position = next((i for i, it in enumerate(self.order) if it.item not in done), len(self.order))
        self._show()

    @property
    def current(self) -> RatingItem | None:
        return self.order[self.position] if self.participant and self.position < len(self.order) else None

    @property
    def finished(self) -> bool:
        return self.participant is not None and self.position >= len(self.order)

    def rate(self, rating: int) -> None:
        """Rate the current drawing (committed at once) and move on to the next."""
        it = self.current
        if it is None:
            raise ValueError("nothing to rate: press Start with a participant id first" if self.participant is None
                             else "all drawings are rated; thank you")
        self.store.add(self.participant, it.item, rating, model=it.model, position=self.position)
        self.position += 1
        self._show()

    # -- widgets
    def _build(self, participant: str) -> None:
        import ipywidgets as W

        self.pid = W.Text(value=participant, description="participant", placeholder="e.g. p01")
        self.start_btn = W.Button(description="Start", button_style="primary")
        self.start_btn.on_click(lambda _: self._guard(lambda: self.start(self.pid.value)))
        self.picture = W.HTML(layout=W.Layout(width=f"{self.size + 20}px", height=f"{self.size + 20}px"))
        self.buttons = []
        for r, word in enumerate(LIKERT, start=1):
            b = W.Button(description=word, tooltip=f"{r} = {word}", disabled=True, layout=W.Layout(width="auto"))
            b.on_click(lambda _, r=r: self._guard(lambda: self.rate(r)))
            self.buttons.append(b)
        self.progress = W.IntProgress(min=0, max=len(self.items), description="progress")
        self.label = W.HTML()
        self.box = W.VBox([W.HBox([self.pid, self.start_btn]), self.picture, W.HBox(self.buttons),
                           W.HBox([self.progress, self.label])])
        self.label.value = "Type your participant id and press <b>Start</b>."

    def _guard(self, fn) -> None:
        try:
            fn()
        except (ValueError, RatingStoreError) as e:
            self.label.value = f"<span style='color:#b00'>{e}</span>"

    def _show(self) -> None:
        from sketchlib.plotting import to_svg

        it = self.current
        self.progress.value = self.position
        for b in self.buttons:
            b.disabled = it is None
        if it is None:
            self.picture.value = ""
            self.label.value = f"All {len(self.order)} drawings rated. Thank you!" if self.finished else ""
            return
        self.picture.value = to_svg(it.strokes3, size=self.size).split("\n", 1)[1]  # drop the XML declaration
        self.label.value = f"drawing {self.position + 1} of {len(self.order)}"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)
