"""Specifications of the AI-Sketcher evaluation tools: latent coherence, machine raters, the rating analysis,
diversity (``sketchlib.evaluation``), and the cheap face split the chapter reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sketchlib import evaluation as ev
from sketchlib.datasets.faces import EMOTIONS, generate_faces, load_faces, load_faces_split
from sketchlib.models import SketchModel, preset
from sketchlib.rating import RatingStore, make_items, rm_anova

TINY = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, influence_size=8, ae_z_size=5, batch_size=4,
            num_classes=3, max_seq_len=16)


def _face(k: int) -> np.ndarray:
    return generate_faces(1, seed=k, emotions=("happiness",), genders=("female",)).drawings[0]


def _ratings(effect=(0.0, 0.3, 0.6, 1.2), n=12, seed=0) -> pd.DataFrame:
    """Long-format ratings: n participants x 4 models x 5 items, model m shifted up by effect[m]."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n):
        bias = rng.normal(0, 0.4)
        for m, shift in enumerate(effect):
            for i in range(5):
                r = int(np.clip(np.round(2.5 + bias + shift + rng.normal(0, 0.7)), 1, 5))
                rows.append((f"p{p:02d}", f"model{m}", f"model{m}/{i}", r))
    return pd.DataFrame(rows, columns=["participant", "model", "item", "rating"])


# ----------------------------------------------------------------------------- latent coherence


def test_silhouette_of_well_separated_clusters_is_high():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 20, (4, 8))
    groups = np.repeat(np.arange(4), 25)
    x = centres[groups] + rng.normal(0, 1, (100, 8))
    assert ev.silhouette(x, groups) > 0.8
    assert abs(ev.silhouette(x, rng.permutation(groups))) < 0.1  # the same points, random labels


def test_latent_coherence_gives_a_2d_map_and_both_silhouettes():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(3), 15)
    x = np.eye(3)[groups] * 10 + rng.normal(0, 0.5, (45, 3))
    lc = ev.latent_coherence(x, groups, seed=0)
    assert lc.embedding.shape == (45, 2)
    assert lc.silhouette_latent > 0.8 and lc.silhouette_embedding > 0.5


@pytest.mark.parametrize("name, z_cols", [("conditional_sketch_rnn", 6), ("aisketcher", 6 + 5)])
def test_latent_vectors_are_mu_or_the_decoders_whole_latent(name, z_cols):
    model = SketchModel(preset(name, **TINY))
    drawings = [_face(k)[:12] for k in range(5)]
    both = ev.latent_vectors(model, {"scale": 30.0}, drawings, [0, 1, 2, 0, 1], part=("mu", "z"), batch_size=2)
    mu = ev.latent_vectors(model, {"scale": 30.0}, drawings, [0, 1, 2, 0, 1])
    assert mu.shape == (5, 6) and both["z"].shape == (5, z_cols)
    np.testing.assert_allclose(both["mu"], mu, atol=1e-6)
    np.testing.assert_allclose(both["z"][:, :6], mu, atol=1e-6)  # z = [mu; z_r]
    with pytest.raises(ValueError, match="part"):
        ev.latent_vectors(model, {"scale": 30.0}, drawings, part="h")


# ----------------------------------------------------------------------------- recognisability over seeds


def test_mean_ci_is_a_t_interval_around_the_mean():
    m, lo, hi = ev.mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 2.0 < hi
    assert hi - m == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(.975, 2) * sd / sqrt(n)
    assert np.isnan(ev.mean_ci([5.0])[1])


def test_recognisability_over_seeds_has_one_row_per_seed():
    train = generate_faces(8, seed=0)
    clf = ev.RasterClassifier(EMOTIONS).fit(train.drawings, train.extras["emotion"])

    def gen(seed):
        f = generate_faces(2, seed=100 + seed)
        return f.drawings, f.extras["emotion"]

    df = ev.recognisability_over_seeds(gen, clf, [0, 1, 2])
    assert df["seed"].tolist() == [0, 1, 2] and (df["n"] == 28).all()
    assert ((df["share"] >= 0) & (df["share"] <= 1)).all()


# ----------------------------------------------------------------------------- machine raters


def test_machine_rater_rule_maps_confidence_to_likert_bins():
    p = [0.0, 0.19, 0.2, 0.39, 0.4, 0.59, 0.6, 0.79, 0.8, 1.0]
    assert ev.likert_from_confidence(p).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert ev.likert_from_confidence(0.5, edges=(0.1, 0.2, 0.3, 0.4)).tolist() == 5
    with pytest.raises(ValueError, match="4 increasing edges"):
        ev.likert_from_confidence(0.5, edges=(0.5, 0.2, 0.3, 0.4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ev.likert_from_confidence(1.5)


@pytest.fixture(scope="module")
def study():
    train = generate_faces(12, seed=0)
    raters = ev.train_machine_raters(train.drawings, train.extras["emotion"], EMOTIONS, n_raters=3, fraction=0.6)
    gen = generate_faces(1, seed=7)  # 14 faces: 2 per emotion
    drawings = {"A": gen.drawings[:7], "B": gen.drawings[7:]}
    asked = list(gen.extras["emotion"][:7]) + list((np.array(gen.extras["emotion"][7:]) + 3) % 7)
    items = make_items(drawings)
    return raters, items, asked, ev.machine_ratings(raters, items, asked)


def test_machine_raters_differ_by_seed_and_data(study):
    raters = study[0]
    assert [r.seed for r in raters] == [0, 1, 2]
    w = [r._clf.coef_ for r in raters]
    assert not np.allclose(w[0], w[1]) and not np.allclose(w[1], w[2])


def test_machine_ratings_follow_the_stated_rule(study):
    raters, items, asked, df = study
    p = raters[1].predict_proba([it.strokes3 for it in items])[np.arange(len(items)), asked]
    mine = df[df["participant"] == "machine-02"]
    assert mine["item"].tolist() == [it.item for it in items]
    assert mine["rating"].tolist() == ev.likert_from_confidence(p).tolist()


def test_machine_ratings_are_the_rating_stores_long_format_and_feed_rm_anova(study, tmp_path):
    raters, items, asked, df = study
    store = RatingStore(tmp_path, items)
    store.add("p01", items[0].item, 3)
    assert list(df.columns) == list(store.to_dataframe().columns)
    assert df.dtypes.equals(store.to_dataframe().dtypes)
    assert len(df) == len(raters) * len(items) and df["rating"].between(1, 5).all()
    assert df["participant"].str.startswith("machine-").all()
    table = rm_anova(df)
    assert table["ddof1"].iloc[0] == 1 and table["ddof2"].iloc[0] == len(raters) - 1


# ----------------------------------------------------------------------------- the analysis of ratings


def test_apa_p_formats_like_apa():
    assert ev.apa_p(0.0004) == "p < .001" and ev.apa_p(0.0341) == "p = .034" and ev.apa_p(0.5) == "p = .500"


def test_apa_write_up_contains_the_numbers_of_the_anova_table():
    res = ev.analyse_ratings(_ratings(), source="Test raters")
    a = res.anova.iloc[0]
    assert f"F({int(a['ddof1'])}, {int(a['ddof2'])}) = {a['F']:.2f}" in res.apa
    assert ev.apa_p(a["p_unc"]) in res.apa
    assert f"eta_p^2 = {a['np2']:.2f}".replace("0.", ".") in res.apa
    assert f"epsilon = {a['eps']:.2f}".replace("0.", ".") in res.apa
    assert ev.apa_p(a["p_GG_corr"]) in res.apa and "Greenhouse-Geisser" in res.apa
    assert res.apa.startswith("Test raters (N = 12)")
    for r in res.posthoc.itertuples():
        assert f"{r.A} vs {r.B}: t({r.dof:.0f}) = {r.T:.2f}, {ev.apa_p(r.p_corr)}" in res.apa
    assert "significant effect" in res.apa and (res.posthoc["p_adjust"] == "holm").all()


def test_analysis_means_have_intervals_and_a_plot():
    res = ev.analyse_ratings(_ratings(), order=["model3", "model0", "model1", "model2"])
    d = res.descriptives
    assert d["model"].tolist() == ["model3", "model0", "model1", "model2"]
    assert (d["ci_low"] < d["mean"]).all() and (d["mean"] < d["ci_high"]).all() and (d["n"] == 12).all()
    assert d.set_index("model")["mean"].idxmax() == "model3"
    fig = res.plot()
    assert len(fig.axes) == 1


def test_analysis_leaves_out_participants_who_missed_a_model_and_reads_a_rating_store(tmp_path):
    df = _ratings(n=4)
    df = df[~((df["participant"] == "p03") & (df["model"] == "model2"))]
    assert ev.analyse_ratings(df).means["participant"].nunique() == 3
    items = make_items({m: [np.array([[0, 0, 0], [5, 5, 1]], np.float32)] * 2 for m in ("x", "y")})
    store = RatingStore(tmp_path, items)
    for p, shift in (("p1", 0), ("p2", 1), ("p3", 0)):
        for it in items:
            store.add(p, it.item, 2 + shift + (it.model == "y"))
    res = ev.analyse_ratings(store.to_dataframe())
    assert res.descriptives["mean"].tolist() == pytest.approx([7 / 3, 10 / 3])
    with pytest.raises(ValueError, match="2\\+ participants"):
        ev.analyse_ratings(df[df["participant"] == "p00"])


# ----------------------------------------------------------------------------- diversity


def test_phash_distances_of_identical_drawings_are_zero():
    a, b = _face(0), _face(1)
    m = ev.phash_distance_matrix([a, a, b])
    assert m.shape == (3, 3) and m[0, 1] == 0 and (np.diag(m) == 0).all()
    assert m[0, 2] > 0 and (m == m.T).all() and m.max() <= 64
    assert ev.pairwise_distances(m).tolist() == [m[0, 1], m[0, 2], m[1, 2]]
    assert ev.mean_distance_per_drawing(m).tolist() == pytest.approx([m[0, 2] / 2, m[0, 2] / 2, m[0, 2]])


def test_diversity_table_has_the_papers_layout_and_student_dof():
    rng = np.random.default_rng(0)
    values = {c: {"AI": rng.normal(30, 4, 1225), "RNN": rng.normal(28, 4, 1225)} for c in ("cat", "dog")}
    t = ev.diversity_table(values, ["AI", "RNN"])
    assert list(t.index) == ["cat", "dog"]
    assert list(t.columns) == ["AI Mean", "AI SD", "RNN Mean", "RNN SD", "n", "dof", "t", "p", "cohen_d"]
    assert (t["dof"] == 2448).all() and (t["t"] > 0).all() and (t["p"] < 1e-6).all()


# ----------------------------------------------------------------------------- the face split


def test_load_faces_split_is_a_prefix_of_each_class_of_load_faces():
    full = load_faces(20)
    for split in ("train", "valid", "test"):
        part = load_faces_split(split, 2, total_per_class=20)
        whole = getattr(full, split)
        expected = [d for k in range(14) for d in whole.of_class(k).drawings[:2]]
        assert len(part) == 28 and all(np.array_equal(x, y) for x, y in zip(part.drawings, expected))
        assert part.labels.tolist() == np.repeat(np.arange(14), 2).tolist()
        assert (part.labels == np.array(part.extras["emotion"]) * 2 + np.array(part.extras["gender"])).all()
    with pytest.raises(ValueError, match="split"):
        load_faces_split("dev")
