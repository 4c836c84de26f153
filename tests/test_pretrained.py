"""The shipped checkpoints: every registry entry loads, matches its preset and reproduces its validation loss."""

from __future__ import annotations

import json
import os
import shlex

import numpy as np
import pytest
import torch

from sketchlib import pretrained
from sketchlib.checkpoint import CheckpointError, load_checkpoint
from sketchlib.models import SketchModel, preset
from sketchlib.models.config import _LEGACY_DEFAULTS, config_diff

NAMES = pretrained.available()
#: Fields a shipped config may differ from its preset in: fitted to the data, or chosen on the command line.
FITTED = {"num_classes", "max_seq_len", "num_steps"}


@pytest.fixture
def offline_data(shared_data, monkeypatch):
    """Point the loaders at ../shared/data (unless the environment already names mirrors)."""
    for env, sub in (("SKETCHLIB_QUICKDRAW_MIRROR", "quickdraw"), ("SKETCHLIB_SPG_MIRROR", "spg"),
                     ("SKETCHLIB_SKETCHRNN_MIRROR", "sketch-rnn-datasets")):
        if not os.environ.get(env):
            monkeypatch.setenv(env, str(shared_data / sub))


def test_the_registry_lists_the_books_models():
    assert "sketch_rnn-small/quickdraw-face" in NAMES
    assert "sketch_rnn-small/aaron-sheep" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_entry_loads_and_matches_its_preset(name):
    info = pretrained.info(name)
    assert info.path.stat().st_size < 20 * 2**20, "shipped checkpoints stay under 20 MB"
    ckpt = load_checkpoint(info.path)
    assert ckpt["optimizer"] is None, "shipped files hold weights only"
    assert int(ckpt["step"]) == info.steps
    model, stats = pretrained.load(name)
    assert isinstance(model, SketchModel) and not model.training
    assert model.cfg.name == info.preset
    args = shlex.split(info.command.split(" (")[0])  # the command, without a trailing remark in brackets
    set_on_command_line = {v.split("=")[0] for flag, v in zip(args, args[1:]) if flag == "--set"}
    for key in set_on_command_line:
        assert key in model.cfg.to_dict(), f"{name}: --set {key} is not a config field"
    # fields added after this file was written describe how it was trained (the legacy value), not the preset
    stored = torch.load(info.path, map_location="cpu", weights_only=True)["config"]
    legacy = {k for k in _LEGACY_DEFAULTS if k not in stored}
    implied = {"bucket"} if "pack" in set_on_command_line else set()  # the CLI's --set pack=true sets bucket=false
    diff = set(config_diff(preset(info.preset), model.cfg)) - FITTED - set_on_command_line - legacy - implied
    assert not diff, f"{name} differs from preset {info.preset} in {sorted(diff)}"
    assert stats["scale"] > 0 and len(stats["class_names"]) == model.cfg.num_classes
    assert args[:5] == ["python", "-m", "sketchlib", "train", "--preset"] and args[5] == info.preset
    assert args[args.index("--data") + 1] == info.data
    if info.log is not None:
        records = pretrained.read_training_log(name)
        assert records[-1]["step"] >= info.steps
        assert any(r.get("best") for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_entry_reproduces_its_recorded_validation_loss(name, offline_data):
    info = pretrained.info(name)
    model, stats = pretrained.load(name)
    got = pretrained.measure(model, stats, info.data, "valid", limit=info.valid["n"], seed=info.valid["seed"])
    assert got["n"] == info.valid["n"]
    for k in ("total", "l_r", "l_kl"):
        assert got[k] == pytest.approx(info.valid[k], rel=1e-3, abs=1e-3), (name, k, got, info.valid)


def test_register_writes_weights_only_and_records_measured_losses(tmp_path, offline_data):
    from sketchlib.training import Trainer

    folder = tmp_path / "ckpts"
    folder.mkdir()
    cfg = preset("sketch_rnn-small", enc_rnn_size=16, dec_rnn_size=16, z_size=4, num_mixture=3, batch_size=8,
                 eval_every=2, eval_batches=1)
    from sketchlib.datasets.faces import load_faces

    Trainer(cfg, load_faces(n_per_class=10), tmp_path / "run", progress=False).train(2)
    info = pretrained.register("tiny/faces", tmp_path / "run" / "best.pt", data="faces",
                               command="python -m sketchlib train --preset sketch_rnn-small --data faces",
                               description="test", log=tmp_path / "run" / "log.jsonl", folder=folder)
    reg = json.loads((folder / "registry.json").read_text())
    assert reg["tiny/faces"]["file"] == "tiny_faces.pt" and info.steps == 2
    assert load_checkpoint(folder / "tiny_faces.pt")["optimizer"] is None
    assert np.isfinite(info.valid["total"]) and info.valid["n"] > 0
    assert (folder / "tiny_faces.log.jsonl.gz").is_file()


def test_unknown_name_suggests_close_ones():
    with pytest.raises(KeyError, match="did you mean sketch_rnn-small/quickdraw-face"):
        pretrained.info("sketch_rnn-small/quickdraw-faces")


def test_a_missing_registry_says_where_to_get_the_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CHECKPOINT_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="registry"):
        pretrained.available()


def test_a_corrupt_registry_is_named_and_left_alone(tmp_path, monkeypatch):
    (tmp_path / "registry.json").write_text("{not json")
    monkeypatch.setenv(pretrained.CHECKPOINT_DIR_ENV, str(tmp_path))
    with pytest.raises(CheckpointError, match="registry.json"):
        pretrained.available()
    assert (tmp_path / "registry.json").read_text() == "{not json"



def test_training_minutes_adds_up_the_segments_of_a_resumed_log():
    from sketchlib.pretrained import training_minutes

    # 0-600 s, then a resume whose clock restarts: 0-300 s; a record without a time is skipped
    records = [{"step": 1, "time": 60.0}, {"step": 2, "time": 600.0}, {"step": 3}, {"step": 4, "time": 30.0},
               {"step": 5, "time": 300.0}]
    assert training_minutes(records) == (600.0 + 300.0) / 60
    assert training_minutes([]) == 0.0
