"""The training queue: train the book's runs one after another in the background, resumably, and ship each.

    python scripts/train_queue.py run --threads 1 &          # train every unfinished run, in priority order
    python scripts/train_queue.py status                     # what is shipped, running, waiting (with ETA)
    tail -f runs/queue/queue.log                              # progress: steps/s, ETA, valid losses
    python scripts/train_queue.py save-state                 # before a session ends: ship the running run's state

The runs are listed in ``scripts/training_queue.yml`` (name, preset, data, steps,
priority, extra ``--set`` arguments, description); :mod:`ship_checkpoints` reads the
same file, so a run's command is written in one place. Each run trains in
``runs/queue/<name with / as _>`` with ``python -m sketchlib train ... --resume``
in a child process that gets ``--threads`` threads and no more
(``OMP_NUM_THREADS``/``MKL_NUM_THREADS``). A run resumes exactly where it stopped:

- from its folder's ``last.pt`` (written at every validation step; the trainer
  repeats the uninterrupted run's losses step for step after a kill), or
- on a new machine, from ``data/checkpoints/<name>.train-state.pt``, its log and
  its best checkpoint so far (``<name>.train-state.best.pt``, weights without
  optimiser state), written by ``save-state``.

A finished run is shipped with :func:`sketchlib.pretrained.register` (weights without
optimiser state, gzipped log, measured losses) and its training state is deleted.
A run already shipped at its planned steps with the queue's command is skipped.
Stopping: ``kill -INT`` (or Ctrl-C) the queue; its child saves ``last.pt`` at the
next step and the queue exits. ``kill -9`` loses at most the steps since the last
validation.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUEUE_FILE = REPO / "scripts" / "training_queue.yml"
RUNS_DIR = REPO / "runs" / "queue"


@dataclass
class Run:
    """One entry of the queue file."""

    name: str  #: the registry name it ships as
    preset: str
    data: str
    steps: int
    priority: int = 100  #: lower trains first
    set: list[str] = field(default_factory=list)  #: extra ``--set key=value`` arguments
    description: str = ""

    @property
    def stem(self) -> str:
        return self.name.replace("/", "_")

    def command(self, out: str = "OUT") -> list[str]:
        """The training command, as the registry records it (``--out OUT``)."""
        cmd = ["python", "-m", "sketchlib", "train", "--preset", self.preset, "--data", self.data,
               "--steps", str(self.steps), "--out", out]
        for item in self.set:
            cmd += ["--set", item]
        return cmd


def read_queue(path: str | os.PathLike = QUEUE_FILE) -> list[Run]:
    """The runs of a queue file, sorted by priority (then file order). Bad entries raise naming the entry."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path}: no queue file") from None
    except yaml.YAMLError as e:
        raise SystemExit(f"{path}: not valid YAML ({e})") from None
    entries = (doc or {}).get("runs")
    if not isinstance(entries, list):
        raise SystemExit(f"{path}: expected a top-level 'runs:' list")
    from sketchlib.models.config import PRESETS

    runs, names = [], set()
    known = set(Run.__dataclass_fields__)
    for i, e in enumerate(entries, 1):
        where = f"{path}: run {i}" + (f" ({e.get('name')})" if isinstance(e, dict) and e.get("name") else "")
        if not isinstance(e, dict):
            raise SystemExit(f"{where}: expected a mapping with name, preset, data, steps")
        missing = [k for k in ("name", "preset", "data", "steps") if k not in e]
        unknown = sorted(set(e) - known)
        if missing or unknown:
            problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown keys {unknown}"] if unknown else [])
            raise SystemExit(f"{where}: " + "; ".join(problems))
        if e["preset"] not in PRESETS:
            raise SystemExit(f"{where}: unknown preset {e['preset']!r} (python -m sketchlib presets lists them)")
        if not isinstance(e["steps"], int) or e["steps"] < 1:
            raise SystemExit(f"{where}: steps must be a positive integer, got {e['steps']!r}")
        if e["name"] in names:
            raise SystemExit(f"{where}: the name {e['name']!r} appears twice")
        names.add(e["name"])
        run = Run(**{**e, "set": [str(s) for s in e.get("set") or []]})
        _check_sets(run, where)
        runs.append((run.priority, i, run))
    return [r for _, _, r in sorted(runs, key=lambda t: (t[0], t[1]))]


def _check_sets(run: Run, where: str) -> None:
    from sketchlib.cli import CLIError, parse_overrides

    try:
        parse_overrides(run.set)
    except CLIError as e:
        raise SystemExit(f"{where}: {e}") from None


# --------------------------------------------------------------------------- state of a run

#: config fields the trainer sets from the data (not from the queue entry): never a mismatch
_FROM_DATA = {"max_seq_len", "num_classes"}


def config_mismatch(run: Run, folder: Path) -> list[str]:
    """The settings in which the run folder's ``config.json`` differs from what the queue entry asks
    (e.g. ``pack: False -> True`` after the entry gained ``--set pack=true``); empty when they agree or the
    folder has no config. Resuming or shipping such a folder would ship a model the entry's command does
    not make."""
    from sketchlib.cli import parse_overrides
    from sketchlib.models.config import preset

    saved_file = folder / "config.json"
    if not saved_file.exists():
        return []
    saved = json.loads(saved_file.read_text())
    wanted = json.loads(json.dumps(preset(run.preset, **parse_overrides(run.set), num_steps=run.steps).to_dict()))
    return [f"{k}: {saved[k]!r} -> {v!r}" for k, v in wanted.items()
            if k in saved and k not in _FROM_DATA and saved[k] != v]


def _last_step(folder: Path) -> int:
    """The step of ``folder/last.pt`` (0 without one)."""
    last = folder / "last.pt"
    if not last.exists():
        return 0
    import torch

    return int(torch.load(last, map_location="cpu", weights_only=True)["step"])


def _logged_step(folder: Path) -> int:
    log = folder / "log.jsonl"
    if not log.exists():
        return 0
    step = 0
    with open(log) as f:
        for line in f:
            if line.strip():
                try:
                    step = json.loads(line)["step"]
                except ValueError:  # a line cut by a kill
                    pass
    return step


def shipped(run: Run) -> bool:
    """Registered at its planned steps with this queue's command."""
    from sketchlib import pretrained

    if run.name not in pretrained.available():
        return False
    info = pretrained.info(run.name)
    return info.command == " ".join(_quote(run.command())) and _planned_steps(info) >= run.steps


def _planned_steps(info) -> int:
    import shlex

    args = shlex.split(info.command)
    return int(args[args.index("--steps") + 1]) if "--steps" in args else info.steps


def _quote(args: list[str]) -> list[str]:
    import shlex

    return [shlex.quote(a) for a in args]


def state_files(run: Run, checkpoints: Path) -> tuple[Path, Path, Path]:
    """The shipped training state of a run still going, its log and its best checkpoint so far."""
    return (checkpoints / f"{run.stem}.train-state.pt", checkpoints / f"{run.stem}.train-state.log.jsonl.gz",
            checkpoints / f"{run.stem}.train-state.best.pt")


def restore_state(run: Run, folder: Path, checkpoints: Path) -> bool:
    """Put a shipped training state into an empty run folder (a new machine). Returns whether it did."""
    state, log, best = state_files(run, checkpoints)
    if (folder / "last.pt").exists() or not state.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(state, folder / "last.pt")
    if best.exists():
        shutil.copyfile(best, folder / "best.pt")
    if log.exists():
        with gzip.open(log, "rb") as src, open(folder / "log.jsonl", "wb") as dst:
            shutil.copyfileobj(src, dst)
    return True


def save_state(run: Run, folder: Path, checkpoints: Path) -> Path | None:
    """Copy a running run's ``last.pt`` (with optimiser and data-order state) and log next to the shipped models."""
    if not (folder / "last.pt").exists():
        return None
    state, log, best = state_files(run, checkpoints)
    tmp = state.with_suffix(".pt.tmp")
    shutil.copyfile(folder / "last.pt", tmp)
    os.replace(tmp, state)
    if (folder / "best.pt").exists():  # the model the run ships if no later step beats it: without optimiser state
        import torch

        ckpt = torch.load(folder / "best.pt", map_location="cpu", weights_only=False)
        ckpt["optimizer"] = None
        torch.save(ckpt, tmp)
        os.replace(tmp, best)
    else:
        best.unlink(missing_ok=True)
    if (folder / "log.jsonl").exists():
        step = _last_step(folder)
        lines = [ln for ln in open(folder / "log.jsonl") if ln.strip() and _step_of(ln) <= step]
        with open(log, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            dst.write("".join(lines).encode())
    return state


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError):
        return 1 << 60


# --------------------------------------------------------------------------- progress


def progress_line(run: Run, folder: Path, since: tuple[float, int] | None) -> str:
    """``name step a/b, x steps/s, ETA m min, valid l_r / l_kl / sum`` from the run's log."""
    records = []
    log = folder / "log.jsonl"
    if log.exists():
        with open(log) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
    step = records[-1]["step"] if records else 0
    parts = [f"{run.name} step {step}/{run.steps}"]
    if since is not None and step > since[1]:
        rate = (step - since[1]) / max(time.time() - since[0], 1e-9)
        parts.append(f"{rate:.2f} steps/s, ETA {(run.steps - step) / rate / 60:.0f} min")
    valid = [r for r in records if r.get("valid_l_r") is not None]
    if valid:
        v = valid[-1]
        parts.append(f"valid at {v['step']}: l_r {v['valid_l_r']:.3f} l_kl {v['valid_l_kl']:.3f} "
                     f"sum {v['valid_l_r'] + v['valid_l_kl']:.3f} (KL weight {v['kl_weight']:.3f})")
    return ", ".join(parts)


class QueueLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        with open(self.path, "a") as f:
            f.write(line + "\n")
        print(line, flush=True)


# --------------------------------------------------------------------------- running


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _boost(pid: int, nice: int | None) -> None:
    """Give the child's session a scheduling weight (Linux autogroups; else the process's nice value)."""
    if nice is None:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        except OSError:
            pass


def train_one(run: Run, folder: Path, *, threads: int, log: QueueLog, poll: float, nice: int | None,
              stop: dict) -> int:
    """Train ``run`` to its steps in a child process (resuming). Returns the child's exit status."""
    cmd = [sys.executable, "-m", "sketchlib", "train", *run.command(str(folder))[4:], "--resume", "--quiet"]
    with open(folder.parent / f"{run.stem}.out", "a") as out:
        child = subprocess.Popen(cmd, cwd=REPO, env=_child_env(threads), stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    (folder.parent / f"{run.stem}.pid").write_text(str(child.pid))
    _boost(child.pid, nice)
    stop["child"] = child
    since = (time.time(), _logged_step(folder))
    try:
        while True:
            try:
                return child.wait(timeout=poll)
            except subprocess.TimeoutExpired:
                log(progress_line(run, folder, since))
    finally:
        stop["child"] = None
        (folder.parent / f"{run.stem}.pid").unlink(missing_ok=True)


def _running_elsewhere(run: Run, runs_dir: Path) -> int | None:
    """The PID of a live training process for this run (another queue), if any."""
    pid_file = runs_dir / f"{run.stem}.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    # a killed training whose parent died too stays a zombie until init reaps it, and some containers'
    # init never does: a zombie answers signal 0 but trains nothing
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid  # no /proc (macOS): trust the signal
    return None if state in ("Z", "X") else pid


def ship(run: Run, folder: Path, checkpoints: Path, log: QueueLog) -> None:
    from sketchlib import pretrained

    sys.path.insert(0, str(REPO / "scripts"))
    import ship_checkpoints

    best = folder / "best.pt"
    if not best.exists():
        # a training state saved before save-state kept the best checkpoint: the finished step is what is left
        log(f"{run.name}: {best} is missing (a training state from before best checkpoints were saved with it); "
            f"shipping the last step, {_last_step(folder)}")
        best = folder / "last.pt"
    info = pretrained.register(run.name, best, data=run.data, command=" ".join(_quote(run.command())),
                               description=run.description, log=folder / "log.jsonl",
                               folder=checkpoints if checkpoints != pretrained.checkpoint_dir() else None)
    for f in state_files(run, checkpoints):
        f.unlink(missing_ok=True)
    if checkpoints == pretrained.checkpoint_dir():
        ship_checkpoints.write_readme()
    log(f"{run.name}: shipped step {info.steps} (valid l_r {info.valid['l_r']:.4f}, l_kl {info.valid['l_kl']:.4f}, "
        f"sum {info.valid['l_r'] + info.valid['l_kl']:.4f})")


def cmd_run(args) -> int:
    from sketchlib import pretrained

    runs = read_queue(args.queue)
    for names in (args.only, args.retrain):
        unknown = sorted(set(names or []) - {r.name for r in runs})
        if unknown:
            raise SystemExit(f"{unknown}: not in {args.queue}")
    if args.only:
        unknown = sorted(set(args.only) - {r.name for r in runs})
        if unknown:
            raise SystemExit(f"--only {unknown}: not in {args.queue}")
        runs = [r for r in runs if r.name in args.only]
    runs_dir, checkpoints = Path(args.runs_dir), pretrained.checkpoint_dir()
    log = QueueLog(runs_dir / "queue.log")
    stop = {"requested": False, "child": None}

    def on_signal(signum, frame):
        stop["requested"] = True
        child = stop["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)  # the trainer saves last.pt after this step

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log(f"queue of {len(runs)} runs, {args.threads} thread(s) each")
    for run in runs:
        if stop["requested"]:
            break
        folder = runs_dir / run.stem
        if run.name in (args.retrain or []):
            if folder.exists():
                old = folder.with_name(f"{folder.name}.before-{time.strftime('%Y%m%d-%H%M%S')}")
                folder.rename(old)
                log(f"{run.name}: retraining from scratch; the previous run folder is now {old}")
        elif shipped(run):
            log(f"{run.name}: already shipped at {run.steps} steps, skipped")
            continue
        other = _running_elsewhere(run, runs_dir)
        if other is not None:
            log(f"{run.name}: already being trained by process {other}, skipped")
            continue
        changed = config_mismatch(run, folder)
        if changed:
            log(f"{run.name}: {folder} was trained with other settings than the queue entry asks "
                f"({'; '.join(changed)}), skipped; to train it anew (the folder is kept, renamed) run the queue "
                f"with --retrain {run.name}")
            continue
        if restore_state(run, folder, checkpoints):
            log(f"{run.name}: restored the shipped training state at step {_last_step(folder)}")
        start = _last_step(folder)
        if start < run.steps:
            log(f"{run.name}: {'resuming at step ' + str(start) if start else 'starting'} -> {run.steps} "
                f"({run.preset} on {run.data})")
            status = train_one(run, folder, threads=args.threads, log=log, poll=args.poll, nice=args.nice, stop=stop)
            if status != 0 or _last_step(folder) < run.steps:
                log(f"{run.name}: stopped at step {_last_step(folder)} (exit status {status}); "
                    f"see {runs_dir / (run.stem + '.out')}")
                if stop["requested"] or status != 0:
                    return 0 if stop["requested"] else status
                continue
        ship(run, folder, checkpoints, log)
    log("queue stopped on request" if stop["requested"] else "queue done")
    return 0


def cmd_status(args) -> int:
    runs = read_queue(args.queue)
    runs_dir = Path(args.runs_dir)
    for run in runs:
        folder = runs_dir / run.stem
        if shipped(run):
            state = "shipped"
        elif _running_elsewhere(run, runs_dir):
            state = "training: " + progress_line(run, folder, None)
        elif (folder / "last.pt").exists():
            state = f"stopped at step {_last_step(folder)}"
        else:
            from sketchlib import pretrained

            st = state_files(run, pretrained.checkpoint_dir())[0]
            state = "waiting" + (" (shipped training state)" if st.exists() else "")
        print(f"{run.priority:>4}  {run.name:<45} {run.steps:>6} steps  {state}")
    return 0


def cmd_save_state(args) -> int:
    from sketchlib import pretrained

    for run in read_queue(args.queue):
        folder = Path(args.runs_dir) / run.stem
        if shipped(run) or not (folder / "last.pt").exists() or _last_step(folder) >= run.steps:
            continue
        path = save_state(run, folder, pretrained.checkpoint_dir())
        print(f"{run.name}: training state at step {_last_step(folder)} -> {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queue", default=str(QUEUE_FILE), help="the queue file (default scripts/training_queue.yml)")
    ap.add_argument("--runs-dir", default=str(RUNS_DIR), help="where the run folders live (default runs/queue)")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train every unfinished run in priority order, shipping each")
    p.add_argument("--threads", type=int, default=1, help="threads for the training process (default 1)")
    p.add_argument("--only", nargs="*", help="only these registry names")
    p.add_argument("--retrain", nargs="*", metavar="NAME",
                   help="train these again from step 0 even if shipped (after a change to the code); "
                        "their old run folders are kept, renamed")
    p.add_argument("--poll", type=float, default=60.0, help="seconds between progress lines (default 60)")
    p.add_argument("--nice", type=int, help="scheduling niceness of the training (e.g. -10 to favour it)")
    p.set_defaults(func=cmd_run)
    sub.add_parser("status", help="list the runs and their state").set_defaults(func=cmd_status)
    sub.add_parser("save-state", help="ship the training state of unfinished runs").set_defaults(func=cmd_save_state)
    args = ap.parse_args(argv)
    if getattr(args, "threads", 1) < 1:
        ap.error("--threads must be at least 1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
