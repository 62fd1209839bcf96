"""MinAtar random-policy steps per second: jit_env's games vs gymnax's (and Pgx's) ports.

For each of the five games, at 64, 1,024 and 8,192 environments, each port runs
a uniformly random policy with auto-reset on, in one ``jax.jit`` of a
``lax.scan`` over T steps whose actions (``[T, B]``) are drawn before the timed
call, with the same typed key implementation (``--impl``, default
``threefry2x32``) for every port:

* jit_env: ``jit_env.make(id)`` (``TimeLimit``) in
  ``jit_env.wrappers.VmapAutoReset``; the reference's six actions, sticky
  actions (p = 0.1, one key split per step) and bool observations.
* gymnax 1.0.1: ``gymnax.make(id)``, ``jax.vmap(env.step)`` (auto-reset inside,
  a key per environment per step, split inside the scan); its minimal action
  sets, no sticky actions, float32 observations.
* Pgx 2.6.0 (``pgx.make("minatar-<game>")``: Pgx ships the MinAtar games in
  ``pgx/minatar/``, the code of the separate ``pgx-minatar`` 0.5.1 package), if
  it is importable: ``jax.vmap(env.step)`` with a key per environment per step
  (sticky actions, p = 0.1, as ours) and an auto-reset by ``jnp.where`` on
  ``terminated | truncated``; its minimal action sets, bool observations.

Steps per second = B * T / (median wall time of a compiled run); compile time
is the ``lower().compile()`` time.

Reproduce (CPU)::

    .venv/bin/pip install --no-deps gymnax==1.0.1     # benchmark-only dependency
    .venv/bin/pip install 'jit-env[pgx]'               # the second anchor (pgx>=2.6)
    .venv/bin/python benchmarks/minatar_bench.py --quick
    .venv/bin/python benchmarks/minatar_bench.py      # T = 200, 5 repeats

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import importlib.util

import jax
import jax.numpy as jnp
from _timing import env_scan, time_compiled

import jit_env
import jit_env.envs
from jit_env.envs.minatar import MINATAR_IDS

BATCHES = (64, 1024, 8192)
PGX_NAMES = {
    "Asterix-MinAtar": "minatar-asterix",
    "Breakout-MinAtar": "minatar-breakout",
    "Freeway-MinAtar": "minatar-freeway",
    "Seaquest-MinAtar": "minatar-seaquest",
    "SpaceInvaders-MinAtar": "minatar-space_invaders",
}



def _actions(num_actions: int, steps: int, batch: int) -> jax.Array:
    key = jax.random.key(123)
    return jax.random.randint(key, (steps, batch), 0, num_actions, dtype=jnp.int32)


def bench_jit_env(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    env = jit_env.wrappers.VmapAutoReset(jit_env.envs.make(env_id), batch)
    actions = _actions(env.unwrapped.action_spec().num_values, steps, batch)

    run = env_scan(env)

    compile_s, run_s = time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_gymnax(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    import gymnax

    env, params = gymnax.make(env_id)
    actions = _actions(env.num_actions, steps, batch)

    def run(key, actions):
        reset_key, loop_key = jax.random.split(key)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def body(carry, xs):
            (state, total), (action, env_key) = carry, xs
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(env_key, batch), state, action, params
            )
            return (out[1], total + out[2].sum()), None

        (state, total), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)), (actions, jax.random.split(loop_key, steps))
        )
        return state, total

    compile_s, run_s = time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def bench_pgx(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    import pgx

    env = pgx.make(PGX_NAMES[env_id])
    actions = _actions(env.num_actions, steps, batch)

    def run(key, actions):
        reset_key, loop_key = jax.random.split(key)
        state = jax.vmap(env.init)(jax.random.split(reset_key, batch))

        def body(carry, xs):
            (state, total), (action, env_key) = carry, xs
            step_key, init_key = jax.random.split(env_key)
            state = jax.vmap(env.step)(state, action, jax.random.split(step_key, batch))
            fresh = jax.vmap(env.init)(jax.random.split(init_key, batch))
            done = state.terminated | state.truncated
            total = total + state.rewards.sum()
            state = jax.tree.map(
                lambda a, b: jnp.where(done.reshape((-1,) + (1,) * (a.ndim - 1)), b, a),
                state,
                fresh,
            )
            return (state, total), None

        (state, total), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)), (actions, jax.random.split(loop_key, steps))
        )
        return state, total

    compile_s, run_s = time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    return {"sps": batch * steps / run_s, "compile": compile_s}


def _fmt(sps: float) -> str:
    if sps != sps:
        return "—"
    return f"{sps / 1e6:.2f} M" if sps >= 1e5 else f"{sps / 1e3:.1f} k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 50, 3 repeats")
    parser.add_argument("--impl", default="threefry2x32", help="typed key implementation")
    parser.add_argument("--ids", nargs="*", default=list(MINATAR_IDS))
    parser.add_argument("--batches", nargs="*", type=int, default=list(BATCHES))
    args = parser.parse_args()
    steps, repeats = (50, 3) if args.quick else (200, 5)
    others = []
    if importlib.util.find_spec("gymnax") is not None:
        others.append(("gymnax", bench_gymnax))
    if importlib.util.find_spec("pgx") is not None:
        others.append(("pgx", bench_pgx))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; keys {args.impl}; T = {steps}")
    header = "| game | B | jit_env | " + " | ".join(n for n, _ in others)
    header += " | " + " | ".join(f"jit_env / {n}" for n, _ in others) + " | compile s (jit_env"
    header += "".join(f" / {n}" for n, _ in others) + ") |"
    print(header)
    print("|" + "---|" * (3 + 2 * len(others) + 1))
    for env_id in args.ids:
        for batch in args.batches:
            ours = bench_jit_env(env_id, batch, steps, args.impl, repeats)
            theirs = [fn(env_id, batch, steps, args.impl, repeats) for _, fn in others]
            cells = [_fmt(ours["sps"])] + [_fmt(t["sps"]) for t in theirs]
            cells += [f"{ours['sps'] / t['sps']:.2f}x" for t in theirs]
            cells.append(" / ".join(f"{r['compile']:.1f}" for r in [ours, *theirs]))
            print(f"| {env_id} | {batch} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
