"""``sketchlib.evaluation`` is a package by concern; every name it had as one module still imports from it."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import sketchlib.evaluation as ev

#: The public names of sketchlib/evaluation.py before it became a package (the notebooks import them).
NAMES_BEFORE_THE_SPLIT = [
    "LIKERT_EDGES", "LatentCoherence", "RasterClassifier", "RatingAnalysis", "Recognisability", "StrokeClassifier",
    "StrokeNet", "analyse_ratings", "apa_p", "confusion_matrix", "diversity_table", "latent_coherence",
    "latent_vectors", "likert_from_confidence", "machine_ratings", "mean_ci", "mean_distance_per_drawing",
    "pairwise_distances", "phash_distance_matrix", "recognisability_over_seeds", "silhouette",
    "train_machine_raters", "tsne_embedding", "wilson_interval",
]


@pytest.mark.parametrize("name", NAMES_BEFORE_THE_SPLIT)
def test_every_name_of_the_old_module_imports_from_the_package(name):
    assert name in ev.__all__
    assert getattr(ev, name) is not None


@pytest.mark.parametrize("module", ["classifiers", "latent", "study", "diversity", "intervals"])
def test_each_concern_lists_only_names_it_defines(module):
    mod = importlib.import_module(f"sketchlib.evaluation.{module}")
    for name in mod.__all__:
        obj = getattr(mod, name)
        assert getattr(obj, "__module__", mod.__name__) == mod.__name__, name
        assert getattr(ev, name) is obj


def test_retrieval_finds_each_drawing_from_a_rescaled_copy_and_not_from_a_shuffle():
    from sketchlib.evaluation import retrieved

    rng = np.random.default_rng(0)
    drawings = []
    for _ in range(12):
        d = np.zeros((20, 3), np.float32)
        d[:, :2] = rng.normal(0, 10, (20, 2))
        d[9, 2] = d[-1, 2] = 1
        drawings.append(d)
    copies = [d * np.array([1.05, 0.95, 1], np.float32) for d in drawings]  # a faithful reconstruction, resized
    assert retrieved(copies, drawings).all()
    shifted = copies[1:] + copies[:1]  # every reconstruction is another drawing's
    assert not retrieved(shifted, drawings).any()
    with pytest.raises(ValueError, match="11 reconstructions for 12 originals"):
        retrieved(copies[:11], drawings)
