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

Two policies (``--policy``): ``uniform`` (the default) draws every action uniformly
from all ``num_actions`` before the timed call, illegal moves included (Pgx ends a game
on an illegal move, ``pgx/core.py``); ``legal`` draws, inside the scan, a uniform legal
move from the current legal-action mask, as Pgx's own random player does
(``pgx/experimental/utils.py``, ``act_randomly``: ``categorical(log(mask))``; used in
``docs/api_usage.md``), on both sides with the same per-step keys. For ours the mask is
the observation's ``action_mask`` (any player's row: only the acting player's has legal
moves), for MinAtar (no mask; Pgx's is all True) all actions.

Steps per second = B * T / median wall time of the compiled run (after
``block_until_ready``); compile time (``lower().compile()``) is reported
separately. Issue #20's target is ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_pgx_bench.py                # T = 100, 5 repeats
    .venv/bin/python benchmarks/adapters_pgx_bench.py --ids tic_tac_toe --batches 64
    .venv/bin/python benchmarks/adapters_pgx_bench.py --policy legal      # Pgx's random player

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def act_randomly(key: jax.Array, legal_action_mask: jax.Array) -> jax.Array:
    """``int32 [B]``: a uniform legal action per row of ``legal_action_mask`` ``bool [B, A]``
    (Pgx's ``act_randomly``, ``pgx/experimental/utils.py``, written out here)."""
    logits = jnp.log(legal_action_mask.astype(jnp.float32))
    return jax.random.categorical(key, logits=logits, axis=1).astype(jnp.int32)


def policy_keys(steps: int) -> jax.Array:
    """``[steps]`` keys of the ``legal`` policy, the same for both sides."""
    return jax.random.split(jax.random.key(123), steps)


def library(env_id: str, batch: int, steps: int, read_observation: bool, legal: bool = False
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
            if legal:  # `action` is the policy's key
                action = act_randomly(action, state.legal_action_mask)
            state = step_fn(state, action, jax.random.split(step_key, batch))
            return state, state.rewards, (state.observation, state.legal_action_mask)

        step_keys = jax.random.split(loop_key, actions.shape[0])
        return scan_total(step, state, (actions, step_keys), read_observation)

    return run, policy_keys(steps) if legal else random_actions(spec, steps, batch)


def ours_legal(env_id: str, batch: int, steps: int, read_observation: bool
               ) -> tuple[Any, jax.Array]:
    """``VmapAutoReset(jit_env.make(env_id), B)`` playing `act_randomly` on its action mask."""
    single = jit_env.make(env_id)
    env = jit_env.wrappers.VmapAutoReset(single, batch)
    num_actions = int(single.pgx_env.num_actions)
    players = single.action_spec().shape  # () or (N,)

    def act(key: jax.Array, observation: Any) -> jax.Array:
        if isinstance(observation, dict):
            mask = observation["action_mask"]  # [B, A] or [B, N, A]
            legal = mask.any(axis=1) if mask.ndim == 3 else mask
        else:
            legal = jnp.ones((batch, num_actions), bool)
        action = act_randomly(key, legal)
        return jnp.broadcast_to(action[:, None], (batch, *players)) if players else action

    def run(key: jax.Array, keys: jax.Array) -> Any:
        state, ts = env.reset(key)

        def step(carry: Any, policy_key: jax.Array) -> tuple[Any, jax.Array, Any]:
            state, observation = carry
            state, ts = env.step(state, act(policy_key, observation))
            return (state, ts.observation), ts.reward, ts.observation

        return scan_total(step, (state, ts.observation), keys, read_observation)

    return run, policy_keys(steps)


if __name__ == "__main__":
    import functools

    p = parser(__doc__.split("\n", 1)[0], ["minatar-breakout", "tic_tac_toe"])
    p.add_argument("--policy", choices=("uniform", "legal"), default="uniform",
                   help="uniform over all actions, drawn before the run, or Pgx's random "
                   "legal player inside the scan")
    args = p.parse_args()
    if args.policy == "legal":
        compare("pgx", functools.partial(library, legal=True), args, "adapters_pgx_bench.py",
                ours=ours_legal, flags=" --policy legal")
    else:
        compare("pgx", library, args, "adapters_pgx_bench.py")
