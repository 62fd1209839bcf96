"""Random-policy steps per second: jit_env vs gymnax vs gymnasium's NumPy vector env.

For CartPole-v1 and Pendulum-v1, at batch sizes 1, 64, 1,024 and 8,192, each
implementation runs a uniformly random policy with auto-reset on:

* jit_env: ``jit_env.make(id)`` (TimeLimit) in ``jit_env.wrappers.VmapAutoReset``
  (SIMD: resets computed for the batch, selected per environment), one ``jax.jit`` of a
  ``lax.scan`` over T steps of the random policy's actions (drawn before the
  timed call, ``[T, B]``, as the gymnasium row's are). Repeated with typed keys of each implementation (``threefry2x32``, the
  default; ``rbg``; ``unsafe_rbg``).
* gymnax 1.x: ``gymnax.make(id)``, ``jax.vmap(env.step)`` (which auto-resets
  inside and needs one key per environment per step: split inside the scan), the
  same scan and actions;
  its ``rbg`` / ``unsafe_rbg`` columns are measured at the largest batch only.
* gymnasium 1.x: ``gymnasium.make_vec(id, num_envs=B,
  vectorization_mode="vector_entry_point")`` (NumPy, auto-reset
  "next step"); Pendulum-v1 has no vector entry point, so it uses
  ``vectorization_mode="sync"`` (a Python loop over environments).

Steps per second = B * T / (median wall time of a compiled run). Compile time
is the ``lower().compile()`` time. Ratios are jit_env (default keys) over
the other implementation.

Reproduce (CPU; a few minutes)::

    .venv/bin/pip install gymnax   # benchmark-only dependency
    .venv/bin/python benchmarks/envs_bench.py            # full table
    .venv/bin/python benchmarks/envs_bench.py --quick    # smaller T, fewer repeats

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jit_env
import jit_env.envs

BATCHES = (1, 64, 1024, 8192)
ENV_IDS = ("CartPole-v1", "Pendulum-v1")
KEY_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")


def _random_actions(env_id: str, steps: int, batch: int) -> jax.Array:
    """The random policy's actions for all ``steps``, ``[T, B]`` (``[T, B, 1]`` for Pendulum).

    Drawn once, before the timed call, and passed to the compiled scan, as the
    gymnasium row's NumPy actions are: every row times its environment, not a
    policy's PRNG work (a per-step ``randint`` over 8,192 environments costs
    more than the CartPole steps themselves).
    """
    key = jax.random.key(123)
    if env_id == "CartPole-v1":
        return jax.random.randint(key, (steps, batch), 0, 2, dtype=jnp.int32)
    return jax.random.uniform(key, (steps, batch, 1), jnp.float32, -2.0, 2.0)


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


def _jit_env_batched(env_id: str, batch: int) -> Any:
    env = jit_env.envs.make(env_id)
    if not hasattr(jit_env.wrappers, "VmapAutoReset"):
        raise SystemExit("this benchmark needs jit_env.wrappers.VmapAutoReset")
    return jit_env.wrappers.VmapAutoReset(env, batch)


def bench_jit_env(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    env = _jit_env_batched(env_id, batch)
    key = jax.random.key(0, impl=impl)
    actions = _random_actions(env_id, steps, batch)

    def run(key, actions):
        state, _ = env.reset(key)

        def body(carry, action):
            state, total = carry
            state, ts = env.step(state, action)
            return (state, total + ts.reward.sum()), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)
        return state, total  # returning the state keeps XLA from dropping the dynamics

    compile_s, run_s = _time_compiled(run, (key, actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_gymnax(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    import gymnax

    env, params = gymnax.make(env_id)
    key = jax.random.key(0, impl=impl)
    actions = _random_actions(env_id, steps, batch)
    if env_id != "CartPole-v1":
        actions = actions[..., 0]

    def run(key, actions):
        reset_key, loop_key = jax.random.split(key)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def body(carry, xs):
            (state, total), (action, env_key) = carry, xs
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(  # gymnax needs a key per env
                jax.random.split(env_key, batch), state, action, params
            )
            return (out[1], total + out[2].sum()), None

        (state, total), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)),
            (actions, jax.random.split(loop_key, steps)),
        )
        return state, total

    compile_s, run_s = _time_compiled(run, (key, actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s, "how": "vmap(step)"}


def bench_gymnasium(env_id: str, batch: int, steps: int, repeats: int) -> dict:
    import gymnasium

    mode = "vector_entry_point" if env_id == "CartPole-v1" else "sync"
    if mode == "sync":
        steps = max(5, min(steps, 200_000 // (batch * 20) + 5))  # a Python loop: keep it short
    start = time.perf_counter()
    envs = gymnasium.make_vec(env_id, num_envs=batch, vectorization_mode=mode)
    envs.reset(seed=0)
    make_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    if env_id == "CartPole-v1":
        actions = rng.integers(0, 2, size=(steps, batch))
    else:
        actions = rng.uniform(-2, 2, size=(steps, batch, 1)).astype(np.float32)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in range(steps):
            envs.step(actions[t])
        runs.append(time.perf_counter() - start)
    envs.close()
    return {"sps": batch * steps / statistics.median(runs), "compile": make_s, "how": mode}


def _fmt(sps: float) -> str:
    return f"{sps / 1e6:.2f} M" if sps >= 1e5 else f"{sps / 1e3:.1f} k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T=200, 3 repeats")
    parser.add_argument("--steps", type=int, default=None, help="T (default 1000)")
    parser.add_argument("--envs", nargs="*", default=list(ENV_IDS))
    parser.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    args = parser.parse_args()
    steps = args.steps or (200 if args.quick else 1000)
    repeats = 3 if args.quick else 5
    try:
        import gymnax  # noqa: F401

        have_gymnax = True
    except ImportError:
        have_gymnax = False
        print("gymnax not installed: `pip install gymnax` for its columns")

    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}, "
          f"cpus {os.cpu_count()}, T={steps}\n")
    header = (
        "| env | B | jit_env threefry | rbg | unsafe_rbg | gymnax threefry | gymnax rbg | "
        "gymnax unsafe_rbg | gymnasium | jit_env/gymnax | jit_env/gymnasium | "
        "compile jit_env / gymnax (s) |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for env_id in args.envs:
        for batch in args.batches:
            ours = {i: bench_jit_env(env_id, batch, steps, i, repeats) for i in KEY_IMPLS}
            # gymnax's other key implementations only at the largest batch (compile time).
            impls = KEY_IMPLS if batch == max(args.batches) else KEY_IMPLS[:1]
            theirs = (
                {i: bench_gymnax(env_id, batch, steps, i, repeats) for i in impls}
                if have_gymnax
                else {}
            )
            gym = bench_gymnasium(env_id, batch, steps, repeats)
            base = ours["threefry2x32"]["sps"]
            gx = theirs.get("threefry2x32", {}).get("sps", float("nan"))
            cells = [
                env_id,
                str(batch),
                *(_fmt(ours[i]["sps"]) for i in KEY_IMPLS),
                *(_fmt(theirs[i]["sps"]) if i in theirs else "—" for i in KEY_IMPLS),
                f"{_fmt(gym['sps'])} ({gym['how']})",
                f"{base / gx:.2f}x",
                f"{base / gym['sps']:.2f}x",
                f"{ours['threefry2x32']['compile']:.2f} / "
                + (f"{theirs['threefry2x32']['compile']:.2f}" if theirs else "n/a"),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
