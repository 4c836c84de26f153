"""The face-parts data set cut out of SPG's labelled faces, through the data-spec registry."""

import numpy as np
import pytest

from sketchlib.datasets import load


@pytest.fixture
def spg_mirror(shared_data, monkeypatch):
    monkeypatch.setenv("SKETCHLIB_SPG_MIRROR", str(shared_data / "spg"))


def test_spg_parts_keep_each_face_in_its_split(spg_mirror):
    parts = load("spg-parts:eye,nose,mouth,ear")
    assert parts.train.class_names == ["eye", "nose", "mouth", "ear"]
    counts = np.bincount(parts.train.labels, minlength=4)
    assert (counts > 0).all()
    # every face gives at most one drawing per part, and the splits come from disjoint faces (80/10/10)
    faces = load("spg:face")
    assert counts.max() <= len(faces.train)
    assert len(parts.test) <= 4 * len(faces.test)
    for d in parts.train.drawings[:50]:
        pts = np.cumsum(d[:, :2], axis=0)
        assert pts.max(axis=0).max() - pts.min(axis=0).min() <= 256  # re-scaled: longer side 255


def test_spg_parts_rejects_an_unknown_part(spg_mirror):
    with pytest.raises(Exception, match="wing"):
        load("spg-parts:eye,wing")
