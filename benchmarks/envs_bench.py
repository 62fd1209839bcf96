"""Random-policy steps per second: jit_env vs gymnax vs gymnasium's NumPy vector env.

For every jit_env environment gymnax also has (classic control and bsuite, see
``ENV_IDS``), at batch sizes 1, 64, 1,024 and 8,192, each implementation runs a
uniformly random policy with auto-reset on:

* jit_env: ``jit_env.make(id)`` (TimeLimit) in ``jit_env.wrappers.VmapAutoReset``
  (SIMD: resets computed for the batch, selected per environment), one ``jax.jit`` of a
  ``lax.scan`` over T steps of the random policy's actions (drawn before the
  timed call, ``[T, B]``, as the gymnasium row's are). Repeated with typed keys of
  each implementation (``threefry2x32``, the default; ``rbg``; ``unsafe_rbg``;
  ``unrolled``: ``jit_env.prng.THREEFRY_UNROLLED``, threefry's draws).
* gymnax 1.x: ``gymnax.make(id)``, ``jax.vmap(env.step)`` (which auto-resets
  inside and needs one key per environment per step: split inside the scan), the
  same scan and actions;
  its ``rbg`` / ``unsafe_rbg`` columns are measured at the largest batch only.
* gymnasium 1.x: ``gymnasium.make_vec(id, num_envs=B,
  vectorization_mode="vector_entry_point")`` (NumPy, auto-reset
  "next step"); the other classic-control environments have no vector entry
  point, so they use ``vectorization_mode="sync"`` (a Python loop over
  environments, with a short T); gymnasium has no bsuite environments.

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
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _timing import env_scan, time_compiled

import jit_env
import jit_env.envs
from jit_env.envs.bsuite import BSUITE_IDS
from jit_env.envs.classic_control import CLASSIC_CONTROL_IDS

BATCHES = (1, 64, 1024, 8192)
# Every jit_env environment gymnax also has: the classic-control ones that gymnasium
# registers (not the partially observed CartPoles, nor CartPole-v0, which is CartPole-v1
# with a shorter limit).
GYMNASIUM_IDS = tuple(i for i in CLASSIC_CONTROL_IDS
                      if "Incomplete" not in i and "Velocity" not in i and "POMDP" not in i
                      and i != "CartPole-v0")
ENV_IDS = GYMNASIUM_IDS + BSUITE_IDS
KEY_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg", "unrolled")


def _key(impl: str) -> jax.Array:
    """A typed key of JAX's ``impl``, or of ``jit_env.prng.THREEFRY_UNROLLED`` for
    ``"unrolled"`` (threefry2x32's draws, the hash without JAX's CPU loop)."""
    if impl == "unrolled":
        return jit_env.prng.key(0)
    return jax.random.key(0, impl=impl)


def _random_actions(env_id: str, steps: int, batch: int) -> jax.Array:
    """The random policy's actions for all ``steps``: ``[T, B, *action_shape]``.

    Uniform over the action spec of ``jit_env.make(env_id)`` (integers in
    ``[0, num_values)``, floats in ``[minimum, maximum]``). Drawn once, before
    the timed call, and passed to the compiled scan, as the gymnasium row's NumPy
    actions are: every row times its environment, not a policy's PRNG work (a
    per-step ``randint`` over 8,192 environments costs more than the CartPole
    steps themselves).
    """
    spec = jit_env.envs.make(env_id).action_spec()
    key = jax.random.key(123)
    if isinstance(spec, jit_env.specs.DiscreteArray):
        return jax.random.randint(key, (steps, batch, *spec.shape), 0, spec.num_values,
                                  dtype=spec.dtype)
    low = jnp.broadcast_to(jnp.asarray(spec.minimum, spec.dtype), spec.shape)
    high = jnp.broadcast_to(jnp.asarray(spec.maximum, spec.dtype), spec.shape)
    return jax.random.uniform(key, (steps, batch, *spec.shape), spec.dtype, low, high)



def _jit_env_batched(env_id: str, batch: int) -> Any:
    env = jit_env.envs.make(env_id)
    if not hasattr(jit_env.wrappers, "VmapAutoReset"):
        raise SystemExit("this benchmark needs jit_env.wrappers.VmapAutoReset")
    return jit_env.wrappers.VmapAutoReset(env, batch)


def bench_jit_env(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    env = _jit_env_batched(env_id, batch)
    key = _key(impl)
    actions = _random_actions(env_id, steps, batch)

    run = env_scan(env)

    compile_s, run_s = time_compiled(run, (key, actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_gymnax(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    import gymnax

    env, params = gymnax.make(env_id)
    key = _key(impl)
    actions = _random_actions(env_id, steps, batch)
    if jnp.issubdtype(actions.dtype, jnp.floating) and actions.shape[2:] == (1,):
        actions = actions[..., 0]  # gymnax's continuous control takes a scalar action

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

    compile_s, run_s = time_compiled(run, (key, actions), repeats)
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
    space = envs.single_action_space
    rng = np.random.default_rng(0)
    if isinstance(space, gymnasium.spaces.Discrete):
        actions = rng.integers(0, space.n, size=(steps, batch))
    else:
        actions = rng.uniform(space.low, space.high, size=(steps, batch, *space.shape))
        actions = actions.astype(space.dtype)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in range(steps):
            envs.step(actions[t])
        runs.append(time.perf_counter() - start)
    envs.close()
    return {"sps": batch * steps / statistics.median(runs), "compile": make_s, "how": mode}


def _fmt(sps: float) -> str:
    if sps != sps:  # NaN
        return "—"
    return f"{sps / 1e6:.2f} M" if sps >= 1e5 else f"{sps / 1e3:.1f} k"


def _ratio(a: float, b: float) -> str:
    return "—" if b != b else f"{a / b:.2f}x"


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
        "| env | B | jit_env threefry | rbg | unsafe_rbg | unrolled | gymnax threefry | "
        "gymnax rbg | gymnax unsafe_rbg | gymnax unrolled | gymnasium | jit_env/gymnax | "
        "jit_env/gymnasium | "
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
            gym = (
                bench_gymnasium(env_id, batch, steps, repeats)
                if env_id in GYMNASIUM_IDS
                else {"sps": float("nan"), "how": "not in gymnasium"}
            )
            base = ours["threefry2x32"]["sps"]
            gx = theirs.get("threefry2x32", {}).get("sps", float("nan"))
            cells = [
                env_id,
                str(batch),
                *(_fmt(ours[i]["sps"]) for i in KEY_IMPLS),
                *(_fmt(theirs[i]["sps"]) if i in theirs else "—" for i in KEY_IMPLS),
                f"{_fmt(gym['sps'])} ({gym['how']})",
                _ratio(base, gx),
                _ratio(base, gym["sps"]),
                f"{ours['threefry2x32']['compile']:.2f} / "
                + (f"{theirs['threefry2x32']['compile']:.2f}" if theirs else "n/a"),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
