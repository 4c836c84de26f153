"""``python -m sketchlib``: help, errors, and train -> sample -> evaluate on a tiny data set."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sketchlib.cli import main, parse_overrides
from sketchlib.training import read_log

TINY = ["--set", "enc_rnn_size=8", "--set", "dec_rnn_size=16", "--set", "z_size=4", "--set", "num_mixture=2",
        "--set", "batch_size=4", "--set", "eval_every=2", "--set", "eval_batches=1"]


def random_walk(rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(5, 12))
    d = np.zeros((length, 3), np.float32)
    d[:, :2] = rng.normal(0.0, 10.0, (length, 2))
    d[rng.random(length) < 0.2, 2] = 1.0
    d[-1, 2] = 1.0
    return d


@pytest.fixture
def npz(tmp_path):
    """A Sketch-RNN style ``.npz``: ``train`` / ``valid`` / ``test`` object arrays of stroke-3 drawings."""
    rng = np.random.default_rng(0)
    path = tmp_path / "walks.npz"
    splits = {}
    for name, n in (("train", 12), ("valid", 4), ("test", 4)):
        arr = np.empty(n, dtype=object)
        arr[:] = [random_walk(rng) for _ in range(n)]
        splits[name] = arr
    np.savez(path, **splits)
    return path


@pytest.fixture
def trained(npz, tmp_path):
    out = tmp_path / "run"
    rc = main(["train", "--preset", "sketch_rnn-small", "--data", str(npz), "--steps", "4", "--out", str(out),
               "--device", "cpu", "--quiet", *TINY])
    assert rc == 0
    return out


def test_help_lists_the_commands_with_examples():
    result = subprocess.run([sys.executable, "-m", "sketchlib", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for word in ("train", "sample", "evaluate", "presets", "examples:"):
        assert word in result.stdout


@pytest.mark.parametrize("command", ["train", "sample", "evaluate", "presets"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_presets_lists_every_preset(capsys):
    from sketchlib.models import preset_names

    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in preset_names())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--preset", "aisketch-small", "--data", "x", "--out", "o"], "unknown preset 'aisketch-small'"),
        (["train", "--preset", "sketch_rnn-small", "--data", "x", "--out", "o", "--set", "z_sise=4"],
         "did you mean z_size"),
        (["sample", "--checkpoint", "missing/best.pt", "--out", "o"], "missing/best.pt"),
    ],
)
def test_user_errors_exit_with_one_line_and_no_traceback(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_set_values_are_typed_by_the_config():
    assert parse_overrides(["z_size=64", "conditional=true", "kl_weight=0.25", "cnn_channels=4,8", "encoder=cnn"]) == {
        "z_size": 64, "conditional": True, "kl_weight": 0.25, "cnn_channels": (4, 8), "encoder": "cnn",
    }


def test_set_pack_turns_the_presets_length_buckets_off():
    """--set pack=true alone gives packed batches over Sketch-RNN's uniform random batches, not packed buckets;
    a config asking for both is refused with the fix in the message."""
    from sketchlib.models import preset

    assert parse_overrides(["pack=true"]) == {"pack": True, "bucket": False}
    assert parse_overrides(["pack=true", "bucket=true"]) == {"pack": True, "bucket": True}
    cfg = preset("sketch_rnn-small", **parse_overrides(["pack=true"]))
    assert cfg.pack and not cfg.bucket
    with pytest.raises(ValueError, match="set bucket=False with pack=True"):
        preset("sketch_rnn-small", pack=True)


def test_train_runs_end_to_end_and_writes_checkpoints_and_log(trained):
    assert (trained / "best.pt").is_file() and (trained / "last.pt").is_file()
    assert [r["step"] for r in read_log(trained)] == [1, 2, 3, 4]


def test_train_resume_continues_the_run(trained, npz):
    rc = main(["train", "--preset", "sketch_rnn-small", "--data", str(npz), "--steps", "6", "--out", str(trained),
               "--device", "cpu", "--quiet", "--resume", *TINY])
    assert rc == 0
    assert [r["step"] for r in read_log(trained)] == [1, 2, 3, 4, 5, 6]


def test_sample_writes_svg_png_per_drawing_and_a_grid(trained, tmp_path):
    out = tmp_path / "samples"
    rc = main(["sample", "--checkpoint", str(trained / "best.pt"), "--n", "3", "--temperature", "0.5",
               "--seed", "0", "--max-len", "20", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    for i in range(3):
        assert (out / f"sample_{i:03d}.svg").stat().st_size > 0
        assert (out / f"sample_{i:03d}.png").stat().st_size > 0
    assert (out / "grid.png").stat().st_size > 0


def test_evaluate_prints_a_table_of_losses(trained, npz, capsys):
    rc = main(["evaluate", "--checkpoint", str(trained / "best.pt"), "--data", str(npz), "--split", "test",
               "--device", "cpu", "--quiet"])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert set(table) == {"total", "l_r", "l_s", "l_p", "l_kl", "l_z", "l_a", "l_ae"}
    assert np.isfinite(float(table["total"]))


@pytest.mark.parametrize(
    "preset",
    ["sketch_rnn", "sketch_rnn_unconditional", "conditional_sketch_rnn", "aisketcher_influence_only",
     "aisketcher_autoencoder_only", "aisketcher", "sketch_pix2seq", "cnn_lstm_vae"],
)
def test_every_preset_trains_and_samples_from_the_command_line(preset, npz, tmp_path):
    out = tmp_path / preset
    extra = ["--set", "influence_size=6", "--set", "ae_z_size=4", "--set", "cnn_channels=2,2",
             "--set", "cnn_strides=2,2", "--set", "ae_channels=2,2", "--set", "ae_strides=2,2"]
    rc = main(["train", "--preset", preset, "--data", str(npz), "--steps", "2", "--out", str(out),
               "--device", "cpu", "--quiet", *TINY, *extra])
    assert rc == 0 and (out / "best.pt").is_file()
    assert main(["sample", "--checkpoint", str(out / "best.pt"), "--n", "2", "--seed", "0",
                 "--out", str(tmp_path / f"{preset}-samples")]) == 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--temperature", "-1"], "--temperature -1.0: must lie in (0, 1.5]"),
        (["--temperature", "0"], "--temperature 0.0: must lie in (0, 1.5]"),
        (["--temperature", "2"], "--temperature 2.0: must lie in (0, 1.5]"),
        (["--temperature", "nan"], "--temperature nan: must lie in (0, 1.5]"),
        (["--n", "0"], "--n 0: the number of drawings must lie in 1..10000"),
        (["--max-len", "0"], "--max-len 0: the points per drawing must lie in 1..10000"),
        (["--seed", "-3"], "--seed -3: must be a whole number from 0"),
    ],
)
def test_sample_rejects_out_of_range_values_before_loading_the_model(extra, message, capsys):
    assert main(["sample", "--checkpoint", "missing/best.pt", "--out", "o", *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_sample_help_says_out_is_a_folder_or_one_image(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "output folder" in help_text and "ending in .svg or .png writes that one file" in help_text


@pytest.mark.parametrize("name, n", [("one.svg", 1), ("grid.svg", 4), ("one.png", 1), ("grid.png", 4)])
def test_sample_out_ending_in_svg_or_png_writes_that_one_file(trained, tmp_path, name, n):
    out = tmp_path / "pics" / name
    rc = main(["sample", "--checkpoint", str(trained / "best.pt"), "--n", str(n), "--seed", "0", "--max-len", "20",
               "--device", "cpu", "--out", str(out)])
    assert rc == 0
    assert out.is_file() and out.stat().st_size > 0
    assert sorted(p.name for p in out.parent.iterdir()) == [name]
    head = out.read_bytes()[:200]
    assert (b"<svg" in head or b"<?xml" in head) if name.endswith(".svg") else head.startswith(b"\x89PNG")


def test_sample_refuses_an_out_that_is_an_existing_file(tmp_path, capsys):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    assert main(["sample", "--checkpoint", "missing/best.pt", "--out", str(existing)]) == 1
    assert "is a file; name a folder" in capsys.readouterr().err
    assert existing.read_text() == "keep me"
