"""Sweep benchmark: one ``jit-env train --sweep`` process vs the same runs one after another.

Two measurements, whole processes (``python -m jit_env train``, wall clock from
start to exit: import, compilation, training, writing the run directory):

1. **Sweep vs separate runs.** PPO on CartPole-v1, a grid of 8 configs
   (``learning_rate`` ∈ {1e-4, 2.5e-4, 5e-4, 1e-3} × ``ent_coef`` ∈ {0, 0.01}),
   ``--num-seeds 4`` each: one ``--sweep`` process against 8 processes
   launched one after another (``--learning-rate X --ent-coef Y --num-seeds 4``),
   each in a fresh run directory and with the persistent compilation cache off
   (``JIT_ENV_CACHE_DIR=none``), so every process compiles. Results: the first
   update at which any config's loss differs between the two (batched kernels
   round differently; from there on training amplifies the difference, as any
   change of seed would), and each config's final return (mean over seeds of
   the last 5 % of updates) both ways.
2. **Cost of --eval-every.** One ``--num-seeds 4`` run with and without
   ``--eval-every C --eval-episodes 10``, ``C`` the default chunk
   (``num_updates // 20``: an evaluation at every chunk, 20 in the run).

The sweep and the separate runs alternate (sweep, separate, sweep, ...) over
``--repeats`` rounds; medians are reported, and the ratio of medians.

Reproduce::

    .venv/bin/python benchmarks/sweep_bench.py                       # 5e5 steps, 1 round
    .venv/bin/python benchmarks/sweep_bench.py --total-steps 100000 --repeats 3

Not part of the test run.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEARNING_RATES = ("1e-4", "2.5e-4", "5e-4", "1e-3")
ENT_COEFS = ("0", "0.01")


def _train(out: Path, *flags: str) -> float:
    """Runs ``python -m jit_env train ... --out out`` and returns its wall time in seconds."""
    env = dict(os.environ, JIT_ENV_CACHE_DIR="none")  # every process compiles
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jit_env", "train", *flags, "--no-progress",
                    "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _final(rows: list[dict]) -> float:
    """Mean over seeds of the mean episode return of the last 5 % of updates."""
    last = max(int(r["update"]) for r in rows)
    tail = [float(r["episode_return"]) for r in rows
            if int(r["update"]) > 0.95 * last and r["episode_return"] != "nan"]
    return statistics.fmean(tail) if tail else float("nan")


def _compare(sweep_run: Path, separate: list[Path]) -> tuple[int | None, list[tuple]]:
    """(first update at which any loss differs, [(config, sweep final, separate final)])."""
    rows = _rows(sweep_run)
    first, finals = None, []
    for g, run in enumerate(separate):
        mine = [r for r in rows if int(r["config"]) == g]
        theirs = _rows(run)
        assert len(mine) == len(theirs), (g, len(mine), len(theirs))
        for a, b in zip(mine, theirs, strict=True):
            if a["loss"] != b["loss"]:
                u = int(a["update"])
                first = u if first is None else min(first, u)
                break
        finals.append((g, _final(mine), _final(theirs)))
    return first, finals


def main(argv: list[str] | None = None) -> None:
    """Runs both measurements and prints two Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    steps = ["--total-steps", str(args.total_steps), "--num-seeds", "4"]
    grid = [(lr, ent) for lr in LEARNING_RATES for ent in ENT_COEFS]
    work = Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    sweep_times, separate_times, plain_times, eval_times = [], [], [], []
    try:
        for round_ in range(args.repeats):
            sweep_run = work / f"sweep{round_}"
            sweep_times.append(_train(sweep_run, *steps, "--sweep",
                                      "learning_rate=" + ",".join(LEARNING_RATES),
                                      "--sweep", "ent_coef=" + ",".join(ENT_COEFS)))
            runs, total = [], 0.0
            for g, (lr, ent) in enumerate(grid):
                run = work / f"single{round_}_{g}"
                total += _train(run, *steps, "--learning-rate", lr, "--ent-coef", ent)
                runs.append(run)
            separate_times.append(total)
            first, finals = _compare(sweep_run, runs)
            plain_times.append(_train(work / f"plain{round_}", *steps))
            updates = args.total_steps // (4 * 128)
            eval_times.append(_train(work / f"eval{round_}", *steps, "--eval-every",
                                     str(max(1, updates // 20)), "--eval-episodes", "10"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sweep_s, separate_s = statistics.median(sweep_times), statistics.median(separate_times)
    plain_s, eval_s = statistics.median(plain_times), statistics.median(eval_times)
    print(f"PPO CartPole-v1, {args.total_steps} steps per seed, 4 seeds, {args.repeats} "
          f"round(s), whole processes, compilation cache off\n")
    print("| runs | one --sweep process | 8 separate processes | ratio |")
    print("|---|---|---|---|")
    print(f"| 8 configs × 4 seeds | {sweep_s:.1f} s | {separate_s:.1f} s | "
          f"{sweep_s / separate_s:.2f}x |")
    print(f"\nfirst update at which a config's loss differs from its separate run: {first} "
          f"(float32 rounding of batched kernels; training amplifies it afterwards)\n")
    print("| config (lr, ent_coef) | final return, sweep | final return, separate |")
    print("|---|---|---|")
    for g, mine, theirs in finals:
        print(f"| {grid[g][0]}, {grid[g][1]} | {mine:.1f} | {theirs:.1f} |")
    print()
    print("| run | without evaluation | --eval-every (20 evaluations × 10 episodes) | ratio |")
    print("|---|---|---|---|")
    print(f"| 1 config × 4 seeds | {plain_s:.1f} s | {eval_s:.1f} s | {eval_s / plain_s:.2f}x |")


if __name__ == "__main__":
    main()
