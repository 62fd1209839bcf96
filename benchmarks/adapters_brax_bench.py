"""brax random-policy steps per second: `jit_env.compat.from_brax` vs brax's own stack.

At 64 and 1,024 environments (``--sizes``), each side runs a uniformly random
policy in [-1, 1] with auto-reset on, in one ``jax.jit`` of a ``lax.scan`` over
T steps whose actions (``[T, B, A]``) are drawn before the timed call, from the
same typed key (``--impl``, default ``threefry2x32``):

* jit_env: ``jit_env.make("brax/<name>")`` (``TimeLimit(from_brax(...), 1000)``)
  in ``jit_env.wrappers.VmapAutoReset`` (the final observation kept in
  ``extras``; resets computed only for the environments that ended);
* brax 0.14.2: ``brax.envs.create(name, episode_length=1000, batch_size=B)``,
  i.e. ``AutoResetWrapper(VmapWrapper(EpisodeWrapper(env)))``
  (brax/envs/__init__.py; its auto-reset selects the stored first state by
  ``jnp.where`` on every step, brax/envs/wrappers/training.py).

Steps per second = B * T / (median wall time of a compiled run); compile time
is the ``lower().compile()`` time, reported separately. The issue's target is
a ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_brax_bench.py                 # inverted_pendulum
    .venv/bin/python benchmarks/adapters_brax_bench.py --env ant --steps 50

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp

import jit_env
from jit_env.wrappers import VmapAutoReset


def _time_compiled(fn: Callable, args: tuple, repeats: int) -> tuple[float, float]:
    """(compile seconds, median run seconds) of jax.jit(fn)(*args)."""
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


def _actions(action_size: int, steps: int, batch: int) -> jax.Array:
    return jax.random.uniform(jax.random.key(123), (steps, batch, action_size),
                              minval=-1.0, maxval=1.0)


def bench_jit_env(name: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    env = VmapAutoReset(jit_env.make(f"brax/{name}"), batch)
    actions = _actions(env.unwrapped.action_spec().shape[0], steps, batch)

    def run(key, actions):
        state, _ = env.reset(key)

        def body(carry, action):
            state, total = carry
            state, ts = env.step(state, action)
            return (state, total + ts.reward.sum()), None

        return jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)[0]

    compile_s, run_s = _time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_brax(name: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    import brax.envs

    env = brax.envs.create(name, episode_length=1000, batch_size=batch, auto_reset=True)
    actions = _actions(env.action_size, steps, batch)

    def run(key, actions):
        state = env.reset(key)

        def body(carry, action):
            state, total = carry
            state = env.step(state, action)
            return (state, total + state.reward.sum()), None

        return jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)[0]

    compile_s, run_s = _time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="inverted_pendulum")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--impl", default="threefry2x32")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # brax's "not actively maintained", jaxopt's deprecation
    import brax

    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}, "
          f"brax {brax.__version__}, env {args.env}, T = {args.steps}, key {args.impl}")
    print()
    print("| B | brax create(auto_reset) (steps/s) | jit_env from_brax + VmapAutoReset (steps/s) "
          "| ratio | compile brax / jit_env (s) |")
    print("|---:|---:|---:|---:|---:|")
    for batch in args.sizes:
        ref = bench_brax(args.env, batch, args.steps, args.impl, args.repeats)
        ours = bench_jit_env(args.env, batch, args.steps, args.impl, args.repeats)
        print(f"| {batch:,} | {ref['sps']:,.0f} | {ours['sps']:,.0f} | "
              f"{ours['sps'] / ref['sps']:.2f}x | {ref['compile']:.1f} / {ours['compile']:.1f} |",
              flush=True)
    print()
    print(f"reproduce: .venv/bin/python benchmarks/adapters_brax_bench.py --env {args.env} "
          f"--steps {args.steps} --sizes {' '.join(map(str, args.sizes))}")


if __name__ == "__main__":
    main()
