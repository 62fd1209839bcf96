"""Adapter overhead: `from_jumanji` stepping vs jumanji's own vmapped auto-reset step.

For each game and batch size B, both sides run a uniformly random policy (actions
``[T, B]`` drawn before the timed call, the same for both) in one ``jax.jit`` of a
``lax.scan`` over T steps, auto-reset on, with the same typed key implementation:

* jit_env: ``VmapAutoReset(from_jumanji(jumanji.make(id)), B)``;
* jumanji 1.1.2: ``VmapWrapper(AutoResetWrapper(jumanji.make(id)))``, the
  combination jumanji's docs recommend (``jumanji/wrappers.py``,
  ``VmapAutoResetWrapper``).

Steps per second = B * T / median wall time of the compiled run (after
``block_until_ready``); compile time (``lower().compile()``) is reported
separately. Issue #20's target is ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_jumanji_bench.py            # T = 100, 5 repeats
    .venv/bin/python benchmarks/adapters_jumanji_bench.py --ids Snake-v1 --batches 64

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jumanji
import jumanji.wrappers

from jit_env import wrappers
from jit_env.compat import from_jumanji

IDS = ("Snake-v1", "Game2048-v1")
BATCHES = (64, 1024)


def _time(fn: Callable, args: tuple, repeats: int) -> tuple[float, float]:
    """(compile seconds, median run seconds) of ``jax.jit(fn)(*args)``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - start)
    return compile_s, statistics.median(runs)


def _scan(reset: Callable, step: Callable) -> Callable:
    def run(key: jax.Array, actions: jax.Array) -> tuple:
        state, _ = reset(key)

        def body(carry: tuple, action: jax.Array) -> tuple:
            state, total = carry
            state, ts = step(state, action)
            return (state, total + ts.reward.sum()), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)
        return state, total

    return run


def bench(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    jenv = jumanji.make(env_id)
    ours = wrappers.VmapAutoReset(from_jumanji(jenv), batch)
    theirs = jumanji.wrappers.VmapWrapper(jumanji.wrappers.AutoResetWrapper(jenv))
    spec = ours.unwrapped.action_spec()
    actions = jax.random.randint(jax.random.key(1), (steps, batch, *spec.shape), 0,
                                 jnp.asarray(spec.num_values), dtype=jnp.int32)
    key = jax.random.key(0, impl=impl)
    ours_c, ours_s = _time(_scan(ours.reset, ours.step), (key, actions), repeats)
    theirs_run = _scan(lambda k: theirs.reset(jax.random.split(k, batch)), theirs.step)
    theirs_c, theirs_s = _time(theirs_run, (key, actions), repeats)
    return {"ours": batch * steps / ours_s, "theirs": batch * steps / theirs_s,
            "compile": (ours_c, theirs_c)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", default=list(IDS))
    parser.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--impl", default="threefry2x32", help="typed key implementation")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; jumanji {jumanji.__version__}; "
          f"keys {args.impl}; T = {args.steps}")
    print("| id | B | jit_env steps/s | jumanji steps/s | jit_env / jumanji | compile s "
          "(jit_env / jumanji) |")
    print("|---|---|---|---|---|---|")
    for env_id in args.ids:
        for batch in args.batches:
            r = bench(env_id, batch, args.steps, args.impl, args.repeats)
            print(f"| jumanji/{env_id} | {batch} | {r['ours'] / 1e3:.1f} k | "
                  f"{r['theirs'] / 1e3:.1f} k | {r['ours'] / r['theirs']:.2f}x | "
                  f"{r['compile'][0]:.1f} / {r['compile'][1]:.1f} |", flush=True)
    print("\nReproduce: .venv/bin/python benchmarks/adapters_jumanji_bench.py")


if __name__ == "__main__":
    main()
