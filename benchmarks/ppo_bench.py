"""PPO on CartPole-v1: jit_env vs a hand-written single-file PPO vs Stable-Baselines3.

Rows (all in this process unless noted):

* ``jit-env defaults = PureJaxRL config``: ``jit_env.agents.train(PPOConfig(), key)``
  in one ``jax.jit``. ``PPOConfig()`` already *is* PureJaxRL's published CartPole
  PPO (4 envs x 128 steps, 4 epochs x 4 minibatches, 5e5 steps, Adam 2.5e-4
  annealed, gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01, value 0.5, grad
  norm 0.5, 64-64 tanh), so the two rows of the issue are one row.
* ``jit-env, N seeds vmapped``: the same config, ``jax.vmap`` over N keys in one
  program; steps/s are summed over seeds; the return is the mean over seeds.
* ``anchor: single-file PPO``: ``benchmarks/_single_file_ppo.py``, a
  PureJaxRL-style script written for this benchmark (inline CartPole, gymnax-style
  reset-every-step auto-reset, inline GAE, flax, optax) with the same
  hyper-parameters. It is the "hand-written single-file code" jit_env must beat.
* ``PureJaxRL stack (gymnax + distrax)``: ``benchmarks/_purejaxrl_ppo.py``, the
  same algorithm and hyper-parameters with PureJaxRL's ``ppo.py`` structure and
  dependencies: ``gymnax.make("CartPole-v1")`` under gymnax's
  ``FlattenObservationWrapper`` / ``LogWrapper``, a ``distrax.Categorical``
  policy, a flax ``TrainState``, per-step ``info`` as the metric. It is the program
  PureJaxRL users compile (needs ``pip install gymnax distrax``).
* ``SB3 PPO, ...``: Stable-Baselines3's PPO on gymnasium's CartPole-v1, CPU torch,
  as a subprocess in its own virtual environment (``--sb3-python``); its
  timings are for that whole process (imports included), and training stops as
  soon as both criteria below are met. Three configurations: ``sb3`` = SB3's own
  defaults (``PPO("MlpPolicy", env)``, one environment; the issue's 10x target
  is against this row), ``sb3-same`` = the same hyper-parameters as ours
  (PureJaxRL's; SB3 does not clip the value loss), ``sb3-zoo`` = the
  rl-baselines3-zoo CartPole-v1 config (8 envs x 32 steps, 20 epochs, batch 256,
  lr 1e-3 and clip 0.2 annealed, gamma 0.98, lambda 0.8).

Columns:

* ``compile s``: ``jax.jit(f).trace().lower().compile()`` (tracing included) after
  ``jax.clear_caches()``; median of ``--compile-repeats``, the rows' compilations
  interleaved so that a change in machine load hits every row alike.
* ``run s``: median over ``--repeats`` calls of the compiled program
  (``block_until_ready``), the whole ``total_steps``.
* ``steps/s``: environment steps during training = seeds x total_steps / run s.
* ``steps to 475`` / ``train to 475 s``, two criteria: *first* = the first update
  whose mean return of the episodes finished in it is >= 475 (one long episode
  can do it early); *10k mean* = the first update where the mean of the per-update
  returns over the last ~10,240 environment steps (20 updates here, 40 SB3
  rollouts) is >= 475. Time = run s / num_updates x (index + 1); ``-`` if never.
  For SB3: learning time (wall clock) until the rollout that meets the criterion.
* ``wall to 475 s``: import + compile + train to 475 (whole-process equivalent,
  each criterion); import is measured in fresh interpreters (median of 2).
* ``final return``: mean return over the last 5 % of updates (NaN-free mean).
* ``wall x anchor`` / ``wall x PureJaxRL`` / ``wall x SB3``: this row's wall to 475
  over that row's (``SB3`` = the SB3-defaults row), per criterion (< 1 is
  faster); ``compile x ...``: compile-time ratios.

Reproduce (CPU; ~5 min quiet, far longer on a loaded machine)::

    python3 -m venv /tmp/venv-sb3
    /tmp/venv-sb3/bin/pip install torch==2.13.0 stable-baselines3 gymnasium   # CPU torch
    .venv/bin/python benchmarks/ppo_bench.py --sb3-python /tmp/venv-sb3/bin/python
    .venv/bin/python benchmarks/ppo_bench.py --quick      # small sizes, no SB3, 4 seeds

Flags: ``--rows ours,seeds,anchor,purejaxrl,sb3,sb3-same,sb3-zoo`` picks rows, ``--total-steps``, ``--num-seeds``,
``--repeats``, ``--compile-repeats``, ``--seed-repeats``, ``--sb3-steps``, ``--sb3-seeds``.
This is not part of the test run.

XLA:CPU hang: with jax 0.10.2 the seeds-vmapped programs (ours with 64 seeds, the
anchor with 8 seeds and >= 4 updates) can wedge forever in ``block_until_ready``
with an idle CPU. ``--xla_cpu_enable_concurrency_optimized_scheduler=false``
avoids it, so the benchmark adds that to ``XLA_FLAGS`` for every row (the SB3
subprocess does not use XLA); ``--keep-xla-scheduler`` turns this off.
The likely cause, found later: jaxlib's batched CPU QR (``lapack_sorgqr_ffi``, used
by flax's orthogonal initialiser) deadlocks XLA's thread pool under ``vmap`` over
seeds. jit_env's networks no longer call it (`jit_env.agents.networks.orthogonal`);
the anchor still does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

THRESHOLD = 475.0
WINDOW_STEPS = 10_240  # the sustained criterion averages the updates of the last ~10k steps
HERE = os.path.dirname(os.path.abspath(__file__))

_IMPORT_OURS = "import jax, jit_env.agents"
_IMPORT_ANCHOR = f"import sys; sys.path.insert(0, {HERE!r}); import jax, _single_file_ppo"
_IMPORT_PUREJAXRL = f"import sys; sys.path.insert(0, {HERE!r}); import jax, _purejaxrl_ppo"

_SB3_SCRIPT = r"""
import time
_t0 = time.perf_counter()
import json, sys
import numpy as np
import torch
import gymnasium
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
import_s = time.perf_counter() - _t0
total, threshold, window_steps = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
which, seed = sys.argv[4], int(sys.argv[5])

class Watch(BaseCallback):
    # per-rollout mean return; stops training once both criteria are met

    def __init__(self, per_rollout):
        super().__init__()
        self.returns, self.means, self.ends, self.hit, self.hit_w = [], [], [], None, None
        self.window = max(1, window_steps // per_rollout)

    def _on_step(self):
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(info["episode"]["r"])
        return self.hit_w is None

    def _on_rollout_end(self):
        mean = float(np.mean(self.returns)) if self.returns else float("nan")
        self.means.append(mean)
        self.ends.append((time.perf_counter(), self.num_timesteps))
        self.returns = []
        if self.hit is None and mean >= threshold:
            self.hit = self.ends[-1]
        w = np.asarray(self.means[-self.window:])
        if self.hit_w is None and np.isfinite(w).any() and np.nanmean(w) >= threshold:
            self.hit_w = self.ends[-1]

lin = lambda start: (lambda progress: progress * start)
if which == "defaults":  # PPO("MlpPolicy", "CartPole-v1"): SB3's own defaults, one env
    n_envs, kwargs = 1, {}
elif which == "same":  # PureJaxRL's CartPole hyper-parameters (our defaults)
    n_envs, kwargs = 4, dict(n_steps=128, batch_size=128, n_epochs=4, gamma=0.99,
                             gae_lambda=0.95, clip_range=0.2, ent_coef=0.01, vf_coef=0.5,
                             max_grad_norm=0.5, learning_rate=lin(2.5e-4),
                             policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])))
else:  # rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1
    n_envs, kwargs = 8, dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                             n_epochs=20, ent_coef=0.0, learning_rate=lin(1e-3),
                             clip_range=lin(0.2))
env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
model = PPO("MlpPolicy", env, device="cpu", seed=seed, verbose=0, **kwargs)
watch = Watch(n_envs * model.n_steps)
start = time.perf_counter()
model.learn(total_timesteps=total, callback=watch)
end = time.perf_counter()
means = np.asarray(watch.means)
tail = means[-max(1, len(means) // 20):]
hit_w = watch.hit_w
print(json.dumps({
    "import_s": import_s, "setup_s": start - _t0 - import_s, "run_s": end - start,
    "steps": model.num_timesteps,
    "train_to_s": None if watch.hit is None else watch.hit[0] - start,
    "whole_to_s": None if watch.hit is None else watch.hit[0] - _t0,
    "steps_to": None if watch.hit is None else watch.hit[1],
    "train_to_s_w": None if hit_w is None else hit_w[0] - start,
    "whole_to_s_w": None if hit_w is None else hit_w[0] - _t0,
    "steps_to_w": None if hit_w is None else hit_w[1],
    "final": float(np.nanmean(tail)) if np.isfinite(tail).any() else float("nan"),
    "torch": torch.__version__, "threads": torch.get_num_threads(),
}))
"""


@dataclasses.dataclass
class Row:
    name: str
    compile_s: float = math.nan
    run_s: float = math.nan
    steps_per_s: float = math.nan
    train_to_s: float = math.nan
    steps_to: float = math.nan
    wall_to_s: float = math.nan
    train_to_s_w: float = math.nan
    steps_to_w: float = math.nan
    wall_to_s_w: float = math.nan
    final: float = math.nan
    import_s: float = math.nan
    note: str = ""


def _import_seconds(stmt: str, python: str = sys.executable) -> float:
    """Median over 2 fresh interpreters of the time to run ``stmt`` (imports)."""
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    times = []
    for _ in range(2):
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def _compile_seconds(fn, key) -> tuple[float, object]:
    """Seconds for ``jax.jit(fn).trace(key).lower().compile()`` from cold caches."""
    import jax

    jax.clear_caches()
    start = time.perf_counter()
    compiled = jax.jit(fn).trace(key).lower().compile()
    return time.perf_counter() - start, compiled


def _run_seconds(compiled, key, repeats: int):
    """(median run seconds over ``repeats`` blocked calls, last outputs)."""
    import jax

    runs, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(key))
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), out


def first_hit(returns: np.ndarray, window: int) -> int | None:
    """First index whose trailing ``window``-update NaN-free mean return is >= 475."""
    finite = np.isfinite(returns)
    csum = np.cumsum(np.where(finite, returns, 0.0))
    ccount = np.cumsum(finite)
    lo = np.arange(returns.shape[0]) - window
    sums = csum - np.where(lo >= 0, csum[np.maximum(lo, 0)], 0.0)
    counts = ccount - np.where(lo >= 0, ccount[np.maximum(lo, 0)], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        hits = np.flatnonzero((counts > 0) & (sums / np.maximum(counts, 1) >= THRESHOLD))
    return int(hits[0]) if hits.size else None


def _fill(row: Row, returns: np.ndarray, steps_per_update: int, total_steps: int,
          num_seeds: int, import_s: float) -> Row:
    """Derives the columns from per-update mean returns ``[U]`` (NaN: no episode ended)."""
    num_updates = returns.shape[0]
    per_update = row.run_s / num_updates
    row.steps_per_s = num_seeds * total_steps / row.run_s
    for window, suffix in ((1, ""), (max(1, WINDOW_STEPS // steps_per_update), "_w")):
        hit = first_hit(returns, window)
        if hit is not None:
            setattr(row, "train_to_s" + suffix, per_update * (hit + 1))
            setattr(row, "steps_to" + suffix, steps_per_update * (hit + 1))
            setattr(row, "wall_to_s" + suffix,
                    import_s + row.compile_s + per_update * (hit + 1))
    tail = returns[-max(1, num_updates // 20):]
    if np.isfinite(tail).any():
        row.final = float(np.nanmean(tail))
    return row


@dataclasses.dataclass
class Program:
    """A jitted training program to time: ``fn(key) -> per-update returns``."""

    row: Row
    fn: object
    key: object
    steps_per_update: int
    total_steps: int
    num_seeds: int
    import_s: float
    repeats: int | None = None
    compile_times: list = dataclasses.field(default_factory=list)
    compiled: object = None


def program_ours(total_steps: int, num_seeds: int, import_s: float) -> Program:
    import jax

    from jit_env.agents import PPOConfig, train

    config = PPOConfig(total_steps=total_steps).validate()
    key = jax.random.PRNGKey(0)
    if num_seeds == 1:
        fn = lambda k: train(config, k)[1]["episode_return"]
        name = "jit-env defaults = PureJaxRL config"
    else:
        key = jax.random.split(key, num_seeds)
        fn = jax.vmap(lambda k: train(config, k)[1]["episode_return"])
        name = f"jit-env, {num_seeds} seeds vmapped"
    steps = config.num_updates * config.steps_per_update
    return Program(Row(name), fn, key, config.steps_per_update, steps, num_seeds, import_s)


def program_anchor(total_steps: int, import_s: float) -> Program:
    import jax

    sys.path.insert(0, HERE)
    import _single_file_ppo as anchor

    config = anchor.AnchorConfig(total_steps=total_steps)
    train = anchor.make_train(config)
    per = config.num_envs * config.num_steps
    return Program(Row("anchor: single-file PPO"), lambda k: train(k)["episode_return"],
                   jax.random.PRNGKey(0), per, config.num_updates * per, 1, import_s)


def program_purejaxrl(total_steps: int, import_s: float) -> Program:
    import jax

    sys.path.insert(0, HERE)
    import _purejaxrl_ppo as pjr
    import _single_file_ppo as anchor

    config = anchor.AnchorConfig(total_steps=total_steps)
    train = pjr.make_train(config)
    per = config.num_envs * config.num_steps
    return Program(Row("PureJaxRL stack (gymnax + distrax)"),
                   lambda k: pjr.episode_returns(train(k)["metrics"]),
                   jax.random.PRNGKey(0), per, config.num_updates * per, 1, import_s)


def measure(programs: list[Program], compile_repeats: int, repeats: int) -> list[Row]:
    """Compiles the programs interleaved (median of ``compile_repeats``), then runs each."""
    for _ in range(compile_repeats):
        for p in programs:
            seconds, p.compiled = _compile_seconds(p.fn, p.key)
            p.compile_times.append(seconds)
    rows = []
    for p in programs:
        row = p.row
        row.import_s = p.import_s
        row.compile_s = statistics.median(p.compile_times)
        row.run_s, returns = _run_seconds(p.compiled, p.key, p.repeats or repeats)
        returns = np.asarray(returns)
        if p.num_seeds > 1:
            with np.errstate(invalid="ignore"):
                hit = np.any(returns >= THRESHOLD, axis=1).sum()
            row.note = f"{hit}/{p.num_seeds} seeds reach {THRESHOLD:g}; columns use the seed-mean"
            with _quiet():
                returns = np.nanmean(returns, axis=0)
        rows.append(_fill(row, returns, p.steps_per_update, p.total_steps, p.num_seeds,
                          p.import_s))
        print(row, f"compile times {[round(t, 1) for t in p.compile_times]}", flush=True)
    return rows


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


_SB3_CONFIGS = {
    "sb3": ("defaults", "SB3 PPO, SB3 defaults (1 env x 2048 steps, 10 epochs x batch 64)"),
    "sb3-same": ("same", "SB3 PPO, same hyper-parameters as ours (4 x 128, 4 x 4, annealed)"),
    "sb3-zoo": ("zoo", "SB3 PPO, RL-Zoo CartPole config (8 x 32, 20 epochs, lr 1e-3)"),
}


def _sb3_run(python: str, total_steps: int, config: str, seed: int) -> dict:
    start = time.perf_counter()
    out = subprocess.run([python, "-c", _SB3_SCRIPT, str(total_steps), str(THRESHOLD),
                          str(WINDOW_STEPS), config, str(seed)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"SB3 subprocess failed:\n{out.stderr[-3000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["whole"] = time.perf_counter() - start
    print(f"  SB3 {config} seed {seed}: {r}", flush=True)
    return r


def bench_sb3(python: str, total_steps: int, which: str = "sb3", seeds: int = 1) -> Row:
    """The SB3 row: the run whose wall time to 475 (first criterion) is the median of ``seeds``."""
    config, name = _SB3_CONFIGS[which]
    runs = [_sb3_run(python, total_steps, config, seed) for seed in range(seeds)]
    key = lambda r: math.inf if r["whole_to_s"] is None else r["whole_to_s"]
    runs.sort(key=key)
    r = runs[len(runs) // 2]
    whole = r["whole"]
    row = Row(name + (f", median of {seeds} seeds" if seeds > 1 else ""))
    row.compile_s = 0.0
    row.import_s = r["import_s"]
    row.run_s = r["run_s"]
    row.steps_per_s = r["steps"] / r["run_s"]
    row.final = r["final"]
    if r["train_to_s"] is not None:
        row.train_to_s, row.steps_to = r["train_to_s"], r["steps_to"]
        row.wall_to_s = r["whole_to_s"]
    if r["train_to_s_w"] is not None:
        row.train_to_s_w, row.steps_to_w = r["train_to_s_w"], r["steps_to_w"]
        row.wall_to_s_w = r["whole_to_s_w"]
    row.note = (f"import {r['import_s']:.1f} s, whole process {whole:.1f} s, "
                f"torch {r['torch']} ({r['threads']} threads); seeds' wall to 475: "
                f"{[round(key(x), 1) for x in runs]}; training stops once both "
                f"criteria are met ({r['steps']:,} steps), so run s and final return are "
                f"at that point")
    return row


def _fmt(x: float, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def render(rows: list[Row]) -> str:
    anchor = next((r for r in rows if r.name.startswith("anchor")), None)
    pjr = next((r for r in rows if r.name.startswith("PureJaxRL")), None)
    sb3 = next((r for r in rows if r.name.startswith("SB3 PPO, SB3 defaults")), None)
    sb3_rows = [r for r in rows if r.name.startswith("SB3")]

    def ratio(a: float, b: float) -> str:
        ok = b and math.isfinite(a) and math.isfinite(b)
        return _fmt(a / b, 2) + "x" if ok else "-"

    def pair(r: Row, ref: Row | None) -> str:
        if ref is None:
            return "-"
        return f"{ratio(r.wall_to_s, ref.wall_to_s)} / {ratio(r.wall_to_s_w, ref.wall_to_s_w)}"

    head = ("| row | import s | compile s | run s | steps/s | steps to 475 (first / 10k mean) "
            "| train to 475 s | wall to 475 s | final return | compile x anchor "
            "| wall x anchor | compile x PureJaxRL | wall x PureJaxRL | wall x SB3 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r.name} | {_fmt(r.import_s)} | {_fmt(r.compile_s)} | {_fmt(r.run_s, 2)} "
            f"| {_fmt(r.steps_per_s, 0)} | {_fmt(r.steps_to, 0)} / {_fmt(r.steps_to_w, 0)} "
            f"| {_fmt(r.train_to_s, 2)} / {_fmt(r.train_to_s_w, 2)} "
            f"| {_fmt(r.wall_to_s)} / {_fmt(r.wall_to_s_w)} | {_fmt(r.final)} "
            f"| {ratio(r.compile_s, anchor.compile_s) if anchor and r not in sb3_rows else '-'} "
            f"| {pair(r, anchor)} "
            f"| {ratio(r.compile_s, pjr.compile_s) if pjr and r not in sb3_rows else '-'} "
            f"| {pair(r, pjr)} | {pair(r, sb3)} |"
        )
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="ours,seeds,anchor,purejaxrl,sb3,sb3-same",
                        help="comma-separated subset of ours,seeds,anchor,purejaxrl,sb3,"
                        "sb3-same,sb3-zoo")
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--num-seeds", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile-repeats", type=int, default=3,
                        help="compilations per program (interleaved across rows; median)")
    parser.add_argument("--sb3-python", default=None,
                        help="python of a venv with stable-baselines3 (CPU torch); "
                        "without it the SB3 row is skipped")
    parser.add_argument("--seed-repeats", type=int, default=1,
                        help="timed runs of the N-seed program (it is long)")
    parser.add_argument("--keep-xla-scheduler", action="store_true",
                        help="do not pass --xla_cpu_enable_concurrency_optimized_scheduler=false "
                        "(risks the XLA:CPU hang described in the module docstring)")
    parser.add_argument("--sb3-seeds", type=int, default=3,
                        help="SB3 runs (seeds 0..N-1) per SB3 row; the row shows the median")
    parser.add_argument("--sb3-steps", type=int, default=200_000,
                        help="step budget of the sb3 and sb3-zoo rows (sb3-same uses "
                        "--total-steps); training stops earlier once both criteria are met")
    parser.add_argument("--quick", action="store_true",
                        help="50k steps, 4 seeds, 1 repeat, no SB3 (checks the script works)")
    args = parser.parse_args(argv)
    if not args.keep_xla_scheduler:
        # jax 0.10.2 / XLA:CPU deadlocks here (idle CPU, stuck in block_until_ready)
        # running seeds-vmapped PPO programs (e.g. the anchor with 8 seeds and 4
        # updates); XLA's concurrency-optimised scheduler is what triggers it.
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
        ).strip()
    rows_wanted = set(args.rows.split(","))
    unknown = rows_wanted - {"ours", "seeds", "anchor", "purejaxrl", *_SB3_CONFIGS}
    if unknown:
        parser.error(f"--rows: unknown {sorted(unknown)}")
    if args.quick:
        args.total_steps, args.num_seeds, args.repeats, args.compile_repeats = 51_200, 4, 1, 1
        rows_wanted -= set(_SB3_CONFIGS)
    if args.sb3_python is None:
        rows_wanted -= set(_SB3_CONFIGS)

    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}", flush=True)
    import_ours = _import_seconds(_IMPORT_OURS)
    import_anchor = _import_seconds(_IMPORT_ANCHOR)
    import_pjr = _import_seconds(_IMPORT_PUREJAXRL) if "purejaxrl" in rows_wanted else math.nan
    print(f"import (fresh process, median of 2): jit_env.agents {import_ours:.2f} s, "
          f"single-file anchor {import_anchor:.2f} s, PureJaxRL stack {import_pjr:.2f} s",
          flush=True)

    import jax

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}", flush=True)
    # Warm the XLA backend so the first program does not pay its start-up.
    jax.block_until_ready(jax.jit(lambda x: x + 1)(1.0))
    programs = []
    if "ours" in rows_wanted:
        programs.append(program_ours(args.total_steps, 1, import_ours))
    if "seeds" in rows_wanted:
        programs.append(program_ours(args.total_steps, args.num_seeds, import_ours))
        programs[-1].repeats = args.seed_repeats
    if "anchor" in rows_wanted:
        programs.append(program_anchor(args.total_steps, import_anchor))
    if "purejaxrl" in rows_wanted:
        programs.append(program_purejaxrl(args.total_steps, import_pjr))
    rows = measure(programs, args.compile_repeats, args.repeats)
    for which in _SB3_CONFIGS:
        if which in rows_wanted:
            steps = args.total_steps if which == "sb3-same" else args.sb3_steps
            rows.append(bench_sb3(args.sb3_python, steps, which, args.sb3_seeds))
            print(rows[-1], flush=True)
    print(f"\nload average at end: {os.getloadavg()}\n")
    print(render(rows))


if __name__ == "__main__":
    main()
