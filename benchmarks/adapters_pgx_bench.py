"""Adapter overhead: `from_pgx` stepping vs Pgx's own vmapped auto-reset step.

For each game and batch size B, both sides run a uniformly random policy (actions
``[T, B]`` drawn before the timed call from each side's action spec) in one ``jax.jit`` of a
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

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions, scan_total

import jit_env


def library(env_id: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """Pgx's own ``jax.vmap(pgx.experimental.auto_reset(env.step, env.init))``."""
    import pgx
    import pgx.experimental

    game = pgx.make(env_id)
    step_fn = jax.vmap(pgx.experimental.auto_reset(game.step, game.init))
    spec = jit_env.specs.DiscreteArray(game.num_actions, dtype=jnp.int32)

    def run(key: jax.Array, actions: jax.Array) -> Any:
        reset_key, loop_key = jax.random.split(key)
        state = jax.vmap(game.init)(jax.random.split(reset_key, batch))

        def step(state: Any, xs: tuple[jax.Array, jax.Array]) -> tuple[Any, jax.Array, Any]:
            action, step_key = xs
            state = step_fn(state, action, jax.random.split(step_key, batch))
            return state, state.rewards, (state.observation, state.legal_action_mask)

        step_keys = jax.random.split(loop_key, actions.shape[0])
        return scan_total(step, state, (actions, step_keys), read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    compare("pgx", library,
            parser(__doc__.split("\n", 1)[0], ["minatar-breakout", "tic_tac_toe"]).parse_args(),
            "adapters_pgx_bench.py")
