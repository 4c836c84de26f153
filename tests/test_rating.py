"""The user-study rating store and app: durable, shared by several writers, exported for pingouin."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sketchlib.rating import (
    LIKERT,
    RatingApp,
    RatingItem,
    RatingStore,
    RatingStoreError,
    make_items,
    mean_ratings,
    participant_order,
    rm_anova,
)

MODELS = ("sketch_rnn", "aisketcher", "conditional")


def drawing(k):
    return np.array([[10 + k, 10, 0], [20, 5 * k, 0], [0, 20, 1]], np.float32)


@pytest.fixture
def items():
    return make_items({m: [drawing(i + 3 * j) for i in range(3)] for j, m in enumerate(MODELS)})


def test_a_rating_is_in_the_file_as_soon_as_add_returns(tmp_path, items):
    store = RatingStore(tmp_path, items)
    store.add("p01", items[0].item, 4, model=items[0].model)
    with sqlite3.connect(tmp_path / "ratings.sqlite") as db:  # another connection sees it
        assert db.execute("SELECT participant, item, rating FROM ratings").fetchall() == [("p01", items[0].item, 4)]


def test_the_store_uses_wal(tmp_path, items):
    RatingStore(tmp_path, items)
    with sqlite3.connect(tmp_path / "ratings.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_restart_loses_nothing_and_the_participant_resumes(tmp_path, items):
    app = RatingApp(tmp_path, items)
    app.start("p01")
    first_two = [app.current.item, app.order[1].item]
    app.rate(5)
    app.rate(1)
    del app  # the kernel restarts
    again = RatingApp(tmp_path)  # the items come back from the store
    again.start("p01")
    assert again.position == 2 and again.current.item == again.order[2].item
    assert again.store.rated("p01") == {first_two[0]: 5, first_two[1]: 1}


def test_two_writers_in_threads(tmp_path, items):
    import threading

    RatingStore(tmp_path, items)

    def rate_all(pid):
        store = RatingStore(tmp_path)
        for it in items:
            store.add(pid, it.item, 3)

    threads = [threading.Thread(target=rate_all, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(RatingStore(tmp_path).to_dataframe()) == 2 * len(items)


def test_two_writer_processes_at_once(tmp_path, items):
    RatingStore(tmp_path, items)
    script = textwrap.dedent(f"""
        import sys
        from sketchlib.rating import RatingStore
        store = RatingStore({str(tmp_path)!r})
        for rep in range(10):
            for k, it in enumerate(store.items()):
                store.add(sys.argv[1], it.item, 1 + (k + rep) % 5)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"proc{i}"]) for i in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    df = RatingStore(tmp_path).to_dataframe()
    assert sorted(df["participant"].unique()) == ["proc0", "proc1"]
    assert len(df) == 2 * len(items)


def test_order_is_random_per_participant_and_stable(items):
    a1, a2, b = (participant_order(p, items) for p in ("alice", "alice", "bob"))
    assert [i.item for i in a1] == [i.item for i in a2]
    assert [i.item for i in a1] != [i.item for i in b]
    assert sorted(i.item for i in a1) == sorted(i.item for i in items)


def test_the_screen_does_not_show_the_model(tmp_path, items):
    app = RatingApp(tmp_path, items)
    app.start("p01")
    shown = app.picture.value + app.label.value + "".join(b.description for b in app.buttons)
    assert not any(m in shown for m in MODELS)
    assert [b.description for b in app.buttons] == list(LIKERT)


def test_clicking_the_buttons_records_ratings_and_progress(tmp_path, items):
    app = RatingApp(tmp_path, items, participant="p07")
    app.start_btn.click()
    app.buttons[3].click()  # "good"
    app.buttons[0].click()  # "very poor"
    assert app.progress.value == 2
    assert sorted(app.store.rated("p07").values()) == [1, 4]


def test_finishing_disables_the_buttons(tmp_path, items):
    app = RatingApp(tmp_path, items[:2])
    app.start("p01")
    app.rate(2)
    app.rate(3)
    assert app.finished and all(b.disabled for b in app.buttons)
    with pytest.raises(ValueError, match="all drawings are rated"):
        app.rate(3)


@pytest.mark.parametrize("bad", [0, 6, 2.5, "4", True])
def test_a_rating_outside_1_to_5_is_refused(tmp_path, items, bad):
    store = RatingStore(tmp_path, items)
    with pytest.raises(ValueError, match="rating must be an integer 1-5"):
        store.add("p01", items[0].item, bad)


def test_an_unknown_model_is_refused(tmp_path, items):
    store = RatingStore(tmp_path, items)
    with pytest.raises(ValueError, match="unknown model 'gpt'"):
        store.add("p01", items[0].item, 3, model="gpt")


def test_an_empty_participant_id_is_refused(tmp_path, items):
    app = RatingApp(tmp_path, items)
    app.start_btn.click()
    assert "participant id is empty" in app.label.value


def test_a_corrupt_file_is_reported_and_left_alone(tmp_path, items):
    f = tmp_path / "ratings.sqlite"
    garbage = b"this is not sqlite" * 100
    f.write_bytes(garbage)
    with pytest.raises(RatingStoreError, match=r"ratings\.sqlite: not a readable SQLite database.*move it aside"):
        RatingStore(tmp_path, items)
    assert f.read_bytes() == garbage


def test_an_item_that_changes_model_is_refused(tmp_path, items):
    RatingStore(tmp_path, items)
    moved = [RatingItem(items[0].item, "other", items[0].strokes3)]
    with pytest.raises(RatingStoreError, match="use a new folder"):
        RatingStore(tmp_path, moved)


def _study(tmp_path, items, n_participants=6):
    store = RatingStore(tmp_path, items)
    rng = np.random.default_rng(0)
    bonus = {"sketch_rnn": 0, "conditional": 1, "aisketcher": 2}
    for p in range(n_participants):
        for it in items:
            store.add(f"p{p:02d}", it.item, int(np.clip(2 + bonus[it.model] + rng.integers(-1, 2), 1, 5)))
    return store


def test_export_is_long_format(tmp_path, items):
    df = _study(tmp_path, items).to_dataframe()
    assert list(df.columns) == ["participant", "model", "item", "rating"]
    assert len(df) == 6 * len(items)
    assert set(df["model"]) == set(MODELS)
    means = mean_ratings(df)
    assert len(means) == 6 * len(MODELS)


def test_pingouin_rm_anova_runs_on_the_export(tmp_path, items):
    pytest.importorskip("pingouin")
    aov = rm_anova(_study(tmp_path, items).to_dataframe())
    assert aov.loc[0, "Source"] == "model"
    assert aov.loc[0, "ddof1"] == len(MODELS) - 1
    assert aov.loc[0, "p_unc"] < 0.05 if "p_unc" in aov else aov.loc[0, "p-unc"] < 0.05
