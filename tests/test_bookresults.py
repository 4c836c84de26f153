"""The claim ledger: what a chapter records is what the page "What this book reproduces" reads back."""

import json
import math

import pytest

from sketchlib.bookresults import VERDICTS, read_claims, record_claim, results_dir


def _claim(id="aisketcher.fig5.diversity", chapter="10", **kw):
    args = dict(chapter=chapter, source="AI-Sketcher (Cao et al. 2019)", claim="more varied drawings",
                paper="p < .05", ours=1.25, verdict="holds", interval=(0.5, 2.0), unit="bits", steps=1000,
                models="aisketcher-small/faces")
    args.update(kw)
    return record_claim(id, **args)


@pytest.fixture()
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHLIB_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


def test_results_dir_is_the_environment_variable_when_set(ledger):
    assert results_dir() == ledger


def test_a_recorded_claim_is_read_back_with_every_field(ledger):
    _claim()
    [rec] = read_claims()
    assert rec == {"id": "aisketcher.fig5.diversity", "chapter": "10", "source": "AI-Sketcher (Cao et al. 2019)",
                   "claim": "more varied drawings", "paper": "p < .05", "ours": 1.25, "interval": [0.5, 2.0],
                   "unit": "bits", "verdict": "holds", "steps": 1000, "models": "aisketcher-small/faces"}


def test_recording_the_same_id_again_replaces_the_record(ledger):
    _claim(ours=1.0)
    _claim(ours=3.0, verdict="does not hold")
    recs = read_claims()
    assert [(r["ours"], r["verdict"]) for r in recs] == [(3.0, "does not hold")]
    assert sorted(p.name for p in ledger.iterdir()) == ["aisketcher.fig5.diversity.json"]


def test_claims_are_sorted_by_chapter_number_then_suffix_then_id(ledger):
    for id, chapter in [("c.eleven", "11"), ("b.ten-b", "10b"), ("z.ten", "10"), ("a.ten", "10"), ("x.two", "2")]:
        _claim(id, chapter=chapter)
    assert [r["id"] for r in read_claims()] == ["x.two", "a.ten", "z.ten", "b.ten-b", "c.eleven"]


def test_a_statement_is_kept_as_text_and_a_number_as_a_float(ledger):
    _claim("a.text", ours="ears read as mouths", interval=None)
    _claim("b.number", ours=2)
    recs = {r["id"]: r for r in read_claims()}
    assert recs["a.text"]["ours"] == "ears read as mouths" and recs["a.text"]["interval"] is None
    assert isinstance(recs["b.number"]["ours"], float)


def test_read_claims_of_a_folder_that_does_not_exist_is_empty(tmp_path):
    assert read_claims(tmp_path / "nothing here") == []


def test_read_claims_reads_the_folder_it_is_given(ledger, tmp_path):
    _claim()
    assert [r["id"] for r in read_claims(ledger)] == ["aisketcher.fig5.diversity"]
    assert read_claims(tmp_path) == []  # the records live in results/, not beside it


@pytest.mark.parametrize("verdict", ["true", "Holds", "partly", ""])
def test_a_verdict_outside_the_fixed_words_is_refused_with_the_allowed_ones(ledger, verdict):
    with pytest.raises(ValueError, match="must be one of") as err:
        _claim(verdict=verdict)
    assert all(v in str(err.value) for v in VERDICTS)
    assert not ledger.exists() or not any(ledger.iterdir())


@pytest.mark.parametrize("bad_id", ["Upper.Case", "with space", "../escape", "", ".hidden"])
def test_an_id_that_is_not_a_safe_file_name_is_refused(ledger, bad_id):
    with pytest.raises(ValueError, match="id"):
        _claim(bad_id)


@pytest.mark.parametrize("field, value", [("ours", math.nan), ("ours", math.inf), ("interval", (0.0, math.nan))])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(ledger, field, value):
    with pytest.raises(ValueError, match=field):
        _claim(**{field: value})


def test_each_record_is_one_json_file_named_by_its_id(ledger):
    path = _claim("mixed.vectorization.drop", chapter="11")
    assert path == ledger / "mixed.vectorization.drop.json"
    assert json.loads(path.read_text())["chapter"] == "11"
