"""The A/B of length-bucketed batches: validation losses at equal steps, and time per step.

    python -m benchmarks.bucket_ab RUN_BUCKETED RUN_UNIFORM [--steps 2000]

Both runs: the same command (``sketch_rnn-small`` on ``quickdraw:face``, the same
``--steps`` so that the budget schedule is the same), one with ``--set bucket=false``.
Validation pads to N_max in both, so the numbers mean the same thing. Prints the valid
l_s, l_p and l_r of both at every validation step up to ``--steps``. (Speed is measured
by ``benchmarks.train_benchmark`` in one process; the two runs' logs are not comparable
for time, since they ran with different shares of a busy CPU.)
"""

from __future__ import annotations

import argparse

from sketchlib.training import read_log


def valid_rows(records: list[dict], steps: int) -> dict[int, dict]:
    return {r["step"]: r for r in records if "valid_l_r" in r and r["step"] <= steps}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bucketed")
    ap.add_argument("uniform")
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args(argv)
    a, b = read_log(args.bucketed), read_log(args.uniform)
    va, vb = valid_rows(a, args.steps), valid_rows(b, args.steps)
    print("| step | bucketed l_s / l_p / l_r | N_max padding l_s / l_p / l_r | difference in l_r |")
    print("|---|---|---|---|")
    for step in sorted(set(va) & set(vb)):
        x, y = va[step], vb[step]
        fx = " / ".join(f"{x[f'valid_{k}']:.3f}" for k in ("l_s", "l_p", "l_r"))
        fy = " / ".join(f"{y[f'valid_{k}']:.3f}" for k in ("l_s", "l_p", "l_r"))
        print(f"| {step} | {fx} | {fy} | {x['valid_l_r'] - y['valid_l_r']:+.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
