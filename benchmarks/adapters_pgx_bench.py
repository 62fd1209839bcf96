"""Adapter overhead: `from_pgx` stepping vs Pgx's own vmapped auto-reset step.

For each game and batch size B, both sides run a uniformly random policy (actions
``[T, B]`` drawn before the timed call, the same for both) in one ``jax.jit`` of a
``lax.scan`` over T steps, auto-reset on, with the same typed key implementation:

* jit_env: ``VmapAutoReset(from_pgx(pgx.make(id)), B)``; for a two-player game the
  action ``[B, 2]`` holds the same move twice (only the current player's is played)
  and the observation is every player's view (``[B, 2, ...]``);
* Pgx 2.6.0: ``jax.vmap(pgx.experimental.auto_reset(env.step, env.init))`` with a key
  per environment per step (``pgx/experimental/wrappers.py``), observing only the
  current player (Pgx's API).

Steps per second = B * T / median wall time of the compiled run (after
``block_until_ready``); compile time (``lower().compile()``) is reported
separately. Issue #20's target is ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_pgx_bench.py                # T = 100, 5 repeats
    .venv/bin/python benchmarks/adapters_pgx_bench.py --ids tic_tac_toe --batches 64

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import pgx
import pgx.experimental

from jit_env import wrappers
from jit_env.compat import from_pgx

IDS = ("minatar-breakout", "tic_tac_toe")
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


def bench(env_id: str, batch: int, steps: int, impl: str, repeats: int) -> dict:
    game = pgx.make(env_id)
    env = from_pgx(game)
    ours = wrappers.VmapAutoReset(env, batch)
    moves = jax.random.randint(jax.random.key(1), (steps, batch), 0, game.num_actions,
                               dtype=jnp.int32)
    players = game.num_players
    our_actions = jnp.broadcast_to(moves[..., None], (steps, batch, players)) \
        if players > 1 else moves

    def run_ours(key: jax.Array, actions: jax.Array) -> tuple:
        state, _ = ours.reset(key)

        def body(carry: tuple, action: jax.Array) -> tuple:
            state, total = carry
            state, ts = ours.step(state, action)
            return (state, total + ts.reward.sum()), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)
        return state, total

    step = jax.vmap(pgx.experimental.auto_reset(game.step, game.init))

    def run_pgx(key: jax.Array, actions: jax.Array) -> tuple:
        reset_key, loop_key = jax.random.split(key)
        state = jax.vmap(game.init)(jax.random.split(reset_key, batch))

        def body(carry: tuple, xs: tuple) -> tuple:
            (state, total), (action, step_key) = carry, xs
            state = step(state, action, jax.random.split(step_key, batch))
            return (state, total + state.rewards.sum()), None

        (state, total), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)),
            (actions, jax.random.split(loop_key, actions.shape[0])))
        return state, total

    key = jax.random.key(0, impl=impl)
    ours_c, ours_s = _time(run_ours, (key, our_actions), repeats)
    theirs_c, theirs_s = _time(run_pgx, (key, moves), repeats)
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
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; pgx {pgx.__version__}; "
          f"keys {args.impl}; T = {args.steps}")
    print("| id | B | jit_env steps/s | Pgx steps/s | jit_env / Pgx | compile s "
          "(jit_env / Pgx) |")
    print("|---|---|---|---|---|---|")
    for env_id in args.ids:
        for batch in args.batches:
            r = bench(env_id, batch, args.steps, args.impl, args.repeats)
            print(f"| pgx/{env_id} | {batch} | {r['ours'] / 1e3:.1f} k | "
                  f"{r['theirs'] / 1e3:.1f} k | {r['ours'] / r['theirs']:.2f}x | "
                  f"{r['compile'][0]:.1f} / {r['compile'][1]:.1f} |", flush=True)
    print("\nReproduce: .venv/bin/python benchmarks/adapters_pgx_bench.py")


if __name__ == "__main__":
    main()
