"""The training queue (scripts/train_queue.py): its file, exact resumption after a kill, shipping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import ship_checkpoints  # noqa: E402
import train_queue  # noqa: E402

TINY = ["enc_rnn_size=8", "dec_rnn_size=8", "z_size=4", "num_mixture=2", "batch_size=4", "eval_every=2",
        "eval_batches=1", "max_seq_len=16"]


def write_queue(path: Path, runs: list[dict]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"runs": runs}))
    return path


def walks_npz(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)

    def split(n):
        out = np.empty(n, dtype=object)
        for i in range(n):
            d = np.zeros((int(rng.integers(4, 15)), 3), np.int16)
            d[:, :2] = rng.integers(-20, 20, (len(d), 2))
            d[-1, 2] = 1
            out[i] = d
        return out

    np.savez(path, train=split(24), valid=split(8), test=split(8))
    return path


def test_the_books_queue_file_lists_valid_runs_whose_commands_ship_checkpoints_records():
    runs = train_queue.read_queue()
    assert runs[0].name == "sketch_rnn-small/quickdraw-face"
    assert [r.priority for r in runs] == sorted(r.priority for r in runs)
    for run in runs:
        assert ship_checkpoints.train_command(run.name, run.steps) == " ".join(train_queue._quote(run.command()))


@pytest.mark.parametrize("entry, message", [
    ({"name": "a", "preset": "sketch_rnn-small", "data": "faces"}, "missing steps"),
    ({"name": "a", "preset": "no_such_preset", "data": "faces", "steps": 5}, "unknown preset"),
    ({"name": "a", "preset": "sketch_rnn-small", "data": "faces", "steps": 0}, "positive integer"),
    ({"name": "a", "preset": "sketch_rnn-small", "data": "faces", "steps": 5, "threads": 4}, "unknown keys"),
    ({"name": "a", "preset": "sketch_rnn-small", "data": "faces", "steps": 5, "set": ["z_sise=3"]}, "z_sise"),
])
def test_a_bad_queue_entry_is_refused_naming_the_file_and_the_run(tmp_path, entry, message):
    path = write_queue(tmp_path / "q.yml", [entry])
    with pytest.raises(SystemExit, match=message) as e:
        train_queue.read_queue(path)
    assert "q.yml: run 1" in str(e.value)


def test_duplicate_names_are_refused(tmp_path):
    entry = {"name": "a", "preset": "sketch_rnn-small", "data": "faces", "steps": 5}
    with pytest.raises(SystemExit, match="appears twice"):
        train_queue.read_queue(write_queue(tmp_path / "q.yml", [entry, entry]))


def _queue(tmp_path: Path, args: list[str], env: dict, **kw) -> subprocess.Popen:
    cmd = [sys.executable, str(REPO / "scripts" / "train_queue.py"), "--queue", str(tmp_path / "q.yml"),
           "--runs-dir", str(tmp_path / "runs"), *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def _losses(log: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["train_total"]) for r in map(json.loads, log.read_text().splitlines())]


def _wait_until_dead(pid: int, timeout: float = 60.0) -> None:
    """Until ``pid`` has exited (gone, or a zombie that nobody reaps)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return
        except OSError:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} did not exit within {timeout} s of SIGKILL")


@pytest.mark.slow
def test_a_killed_queue_resumes_exactly_and_ships_the_finished_run(tmp_path):
    data = walks_npz(tmp_path / "walks.npz")
    steps = 14
    write_queue(tmp_path / "q.yml", [{"name": "tiny/walks", "preset": "sketch_rnn-small", "data": str(data),
                                      "steps": steps, "set": TINY, "description": "a tiny test run"}])
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / "registry.json").write_text("{}\n")
    env = {**os.environ, "SKETCHLIB_CHECKPOINT_DIR": str(ckpts), "OMP_NUM_THREADS": "1"}
    # the same run, uninterrupted, by the command the registry records
    straight = tmp_path / "straight"
    cmd = train_queue.read_queue(tmp_path / "q.yml")[0].command(str(straight))
    subprocess.run([sys.executable, *cmd[1:], "--quiet"], cwd=REPO, env=env, check=True, capture_output=True)

    # first queue: killed (SIGKILL, no clean stop) once a checkpoint past step 4 exists
    folder = tmp_path / "runs" / "tiny_walks"
    first = _queue(tmp_path, ["run", "--poll", "0.2"], env)
    deadline = time.time() + 120
    while time.time() < deadline and train_queue._last_step(folder) < 4 if (folder / "last.pt").exists() else True:
        assert first.poll() is None, first.communicate()[0]
        time.sleep(0.05)
        if time.time() > deadline:
            pytest.fail("the queue never wrote a checkpoint")
    os.killpg(first.pid, signal.SIGKILL)
    child_pid = int((tmp_path / "runs" / "tiny_walks.pid").read_text())
    try:
        os.killpg(child_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    first.wait()
    _wait_until_dead(child_pid)  # SIGKILL is asynchronous: on a busy machine the child may still be exiting
    killed_at = train_queue._last_step(folder)
    assert 4 <= killed_at < steps

    second = _queue(tmp_path, ["run", "--poll", "0.2"], env)
    out = second.communicate(timeout=300)[0]
    assert second.returncode == 0, out
    assert f"resuming at step {killed_at}" in out and "shipped" in out
    resumed = _losses(folder / "log.jsonl")
    assert [s for s, _ in resumed] == list(range(1, steps + 1))
    np.testing.assert_allclose([v for _, v in resumed], [v for _, v in _losses(straight / "log.jsonl")], atol=1e-6)
    registry = json.loads((ckpts / "registry.json").read_text())
    assert registry["tiny/walks"]["command"].endswith("--set max_seq_len=16")
    assert "--resume" not in registry["tiny/walks"]["command"]
    assert (ckpts / "tiny_walks.pt").exists() and (ckpts / "tiny_walks.log.jsonl.gz").exists()

    third = _queue(tmp_path, ["run"], env)
    assert "already shipped" in third.communicate(timeout=120)[0]


def test_a_run_folder_trained_with_other_settings_is_neither_resumed_nor_shipped(tmp_path):
    """After an entry gains e.g. --set pack=true, its old run folder (finished or not) must not ship under the
    new command: the queue names the changed settings and the --retrain that trains it anew."""
    from sketchlib.models.config import preset

    write_queue(tmp_path / "q.yml", [{"name": "tiny/walks", "preset": "sketch_rnn-small", "data": "faces",
                                      "steps": 5, "set": ["pack=true"], "description": "a tiny test run"}])
    run = train_queue.read_queue(tmp_path / "q.yml")[0]
    folder = tmp_path / "runs" / run.stem
    folder.mkdir(parents=True)
    old = preset("sketch_rnn-small", num_steps=5, max_seq_len=40, num_classes=1)  # data-set fields may differ
    (folder / "config.json").write_text(json.dumps(old.to_dict()))
    assert train_queue.config_mismatch(run, folder) == ["bucket: True -> False", "pack: False -> True"]
    same = preset("sketch_rnn-small", num_steps=5, pack=True, bucket=False, max_seq_len=40)
    (folder / "config.json").write_text(json.dumps(same.to_dict()))
    assert train_queue.config_mismatch(run, folder) == []
    (folder / "config.json").write_text(json.dumps(old.to_dict()))
    import torch

    torch.save({"step": 5}, folder / "last.pt")  # finished: without the check the queue would ship it
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / "registry.json").write_text("{}\n")
    env = {**os.environ, "SKETCHLIB_CHECKPOINT_DIR": str(ckpts)}
    out = _queue(tmp_path, ["run"], env).communicate(timeout=120)[0]
    assert "other settings than the queue entry asks (bucket: True -> False; pack: False -> True)" in out, out
    assert "--retrain tiny/walks" in out and "shipped" not in out
    assert json.loads((ckpts / "registry.json").read_text()) == {}


def test_a_saved_training_state_restores_into_an_empty_run_folder(tmp_path):
    run = train_queue.Run(name="tiny/walks", preset="sketch_rnn-small", data="x.npz", steps=10)
    folder, ckpts = tmp_path / "runs" / run.stem, tmp_path / "ckpts"
    folder.mkdir(parents=True)
    ckpts.mkdir()
    import torch

    torch.save({"step": 6, "optimizer": {"big": torch.zeros(1000)}}, folder / "last.pt")
    torch.save({"step": 4, "optimizer": {"big": torch.zeros(1000)}, "model": {"w": torch.ones(2)}}, folder / "best.pt")
    (folder / "log.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 9)))
    state = train_queue.save_state(run, folder, ckpts)
    assert state == ckpts / "tiny_walks.train-state.pt"
    best = torch.load(ckpts / "tiny_walks.train-state.best.pt", weights_only=False)
    assert best["step"] == 4 and best["optimizer"] is None  # the best model so far travels, without optimiser
    new_folder = tmp_path / "elsewhere" / run.stem
    assert train_queue.restore_state(run, new_folder, ckpts)
    assert train_queue._last_step(new_folder) == 6
    assert torch.load(new_folder / "best.pt", weights_only=False)["step"] == 4
    assert [json.loads(x)["step"] for x in (new_folder / "log.jsonl").read_text().splitlines()] == list(range(1, 7))
    assert not train_queue.restore_state(run, new_folder, ckpts)  # never over a run folder's own state


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_zombie_training_does_not_block_its_run(tmp_path):
    # a killed training whose parent died stays a zombie until init reaps it, which some containers' init
    # never does; the queue must not take it for a live training of the run
    write_queue(tmp_path / "q.yml", [{"name": "tiny/walks", "preset": "sketch_rnn-small", "data": "faces",
                                      "steps": 5, "description": "a tiny test run"}])
    run = train_queue.read_queue(tmp_path / "q.yml")[0]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        (tmp_path / f"{run.stem}.pid").write_text(str(live.pid))
        assert train_queue._running_elsewhere(run, tmp_path) == live.pid
        _wait_until_dead(dead.pid)  # exited, not yet reaped by us: a zombie
        (tmp_path / f"{run.stem}.pid").write_text(str(dead.pid))
        assert train_queue._running_elsewhere(run, tmp_path) is None
    finally:
        live.kill()
        live.wait()
        dead.wait()
