"""Adapter overhead: ``jit_env.make("navix/<id>")`` vs navix's own vmapped step.

Both rows run a uniformly random policy (actions drawn before the timed call,
``[T, B]``) for T steps in one ``jax.jit`` of a ``lax.scan``, with auto-reset
on, from the same typed threefry key:

* jit_env: ``jit_env.wrappers.VmapAutoReset(jit_env.make("navix/<id>"), B)``:
  the adapter steps navix's ``Environment._step`` and the wrapper resets only
  the environments that ended (``jit_env.wrappers._batched_reset.reset_where``),
  keeping the final observation in ``extras``.
* navix: ``jax.vmap(navix_env.step)`` over ``jax.vmap(navix_env.reset)``'s
  Timesteps: navix's own auto-reset, ``lax.cond(timestep.step_type > 0, reset,
  _step)`` (``navix/environments/environment.py``), which ``vmap`` turns into
  a select that computes both branches for the whole batch every step.

Steps per second = B * T / (median wall time of the compiled run); compile
time (``lower().compile()``) is reported separately; the ratio is jit_env over
navix (the issue's target: >= 0.9x).

Reproduce (CPU, about a minute)::

    .venv/bin/pip install navix==0.7.4
    .venv/bin/python benchmarks/adapters_navix_bench.py
    .venv/bin/python benchmarks/adapters_navix_bench.py --env Navix-DoorKey-8x8-v0 --steps 200

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

import jit_env


def _time_compiled(fn: Callable, args: tuple, repeats: int) -> tuple[float, float]:
    """(compile seconds, median run seconds) of ``jax.jit(fn)(*args)``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - start)
    return compile_s, statistics.median(runs)


def _actions(num_actions: int, steps: int, batch: int) -> jax.Array:
    return jax.random.randint(jax.random.key(123), (steps, batch), 0, num_actions, jnp.int32)


def bench_jit_env(navix_id: str, batch: int, steps: int, repeats: int) -> dict:
    single = jit_env.make("navix/" + navix_id)
    env = jit_env.wrappers.VmapAutoReset(single, batch)
    actions = _actions(int(single.action_spec().num_values), steps, batch)

    def run(key, actions):
        state, _ = env.reset(key)

        def body(carry, action):
            state, total = carry
            state, ts = env.step(state, action)
            return (state, total + ts.reward.sum()), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)
        return state, total  # returning the state keeps XLA from dropping the dynamics

    compile_s, run_s = _time_compiled(run, (jax.random.key(0), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_navix(navix_id: str, batch: int, steps: int, repeats: int) -> dict:
    import navix

    navix_env = navix.make(navix_id)
    actions = _actions(int(navix_env.action_space.maximum) + 1, steps, batch)

    def run(key, actions):
        timestep = jax.vmap(navix_env.reset)(jax.random.split(key, batch))

        def body(carry, action):
            timestep, total = carry
            timestep = jax.vmap(navix_env.step)(timestep, action)
            return (timestep, total + timestep.reward.sum()), None

        (timestep, total), _ = jax.lax.scan(
            body, (timestep, jnp.zeros((), jnp.float32)), actions)
        return timestep, total

    compile_s, run_s = _time_compiled(run, (jax.random.key(0), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def _fmt(sps: float) -> str:
    return f"{sps / 1e6:.2f} M" if sps >= 1e5 else f"{sps / 1e3:.1f} k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="Navix-Empty-8x8-v0", help="a navix id")
    parser.add_argument("--batches", default="64,1024")
    parser.add_argument("--steps", type=int, default=100, help="T, steps per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"navix {args.env}, random policy, auto-reset on, T = {args.steps}, "
          f"median of {args.repeats}, jax {jax.__version__} on {jax.devices()[0].platform}")
    print("| B | jit_env steps/s | navix steps/s | ratio | compile jit_env / navix (s) |")
    print("|---|---|---|---|---|")
    for batch in (int(b) for b in args.batches.split(",")):
        ours = bench_jit_env(args.env, batch, args.steps, args.repeats)
        theirs = bench_navix(args.env, batch, args.steps, args.repeats)
        print(f"| {batch:,} | {_fmt(ours['sps'])} | {_fmt(theirs['sps'])} | "
              f"{ours['sps'] / theirs['sps']:.2f}x | {ours['compile']:.1f} / "
              f"{theirs['compile']:.1f} |", flush=True)
    print(f"\nReproduce: python benchmarks/adapters_navix_bench.py --env {args.env} "
          f"--batches {args.batches} --steps {args.steps} --repeats {args.repeats}")


if __name__ == "__main__":
    main()
