"""The A/B of how training batches are formed: validation losses at equal steps.

    python -m benchmarks.bucket_ab --arm packed RUN [RUN ...] --arm "N_max padding" RUN [RUN ...] [--steps 2000]

Every run: the same command (``sketch_rnn-small`` on ``quickdraw:face``, the same
``--steps`` so that the budget schedule is the same), the arms differing only in
their batches (``--set pack=...``, ``--set bucket=...``), the runs of an arm only
in ``--set seed=``. Validation pads to N_max in every run, so the numbers mean the
same thing. Prints, at every validation step up to ``--steps``, each arm's valid
l_s / l_p / l_r averaged over its runs, then each run's l_r at the last step and
the first arm's l_r minus the second's. (Speed is measured by
``benchmarks.train_benchmark`` in one process; the runs' logs are not comparable
for time, since they ran with different shares of a busy CPU.)
"""

from __future__ import annotations

import argparse

import numpy as np

from sketchlib.training import read_log

KEYS = ("l_s", "l_p", "l_r")


def valid_rows(records: list[dict], steps: int) -> dict[int, dict]:
    return {r["step"]: r for r in records if "valid_l_r" in r and r["step"] <= steps}


def arm_means(runs: list[dict[int, dict]], step: int) -> dict[str, float]:
    return {k: float(np.mean([r[step][f"valid_{k}"] for r in runs])) for k in KEYS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arm", nargs="+", action="append", required=True, metavar=("NAME", "RUN"),
                    help="an arm's name and its run folders (one per seed)")
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args(argv)
    if len(args.arm) < 2 or any(len(a) < 2 for a in args.arm):
        ap.error("give at least two arms, each a name and at least one run folder")
    arms = {a[0]: [valid_rows(read_log(run), args.steps) for run in a[1:]] for a in args.arm}
    names = list(arms)
    steps = sorted(set.intersection(*(set(r) for runs in arms.values() for r in runs)))
    if not steps:
        raise SystemExit("the runs share no validation step up to --steps")
    print("| step | " + " | ".join(f"{n} l_s / l_p / l_r ({len(arms[n])} runs)" for n in names)
          + f" | {names[0]} minus {names[1]}, l_r |")
    print("|---" * (len(names) + 2) + "|")
    for step in steps:
        means = [arm_means(arms[n], step) for n in names]
        cells = [" / ".join(f"{m[k]:.3f}" for k in KEYS) for m in means]
        print(f"| {step} | " + " | ".join(cells) + f" | {means[0]['l_r'] - means[1]['l_r']:+.3f} |")
    last = steps[-1]
    print(f"\nvalid l_r at step {last}, run by run:")
    for n in names:
        print(f"  {n}: " + ", ".join(f"{r[last]['valid_l_r']:.3f}" for r in arms[n]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
