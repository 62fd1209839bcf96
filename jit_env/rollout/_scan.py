"""`rollout`: a policy run for a fixed number of steps in one ``lax.scan``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core
from jit_env.rollout._trajectory import Policy, Trajectory, _reset_where_first


class RolloutCarry(NamedTuple):
    """What a rollout leaves behind, to start the next one from."""

    env_state: Any
    timestep: _core.TimeStep
    policy_state: Any
    key: jax.Array


def _prepend(first: Any, rest: Any) -> Any:
    """``[first, *rest]`` along a new leading axis, leaf by leaf."""
    return jax.tree.map(lambda f, r: jnp.concatenate([f[None], r], axis=0), first, rest)


def rollout(
    env: _core.Environment,
    policy: Policy,
    params: Any,
    env_state: Any,
    timestep: _core.TimeStep,
    key: jax.Array,
    num_steps: int,
    *,
    policy_state: Any = None,
    return_states: bool = False,
) -> tuple[RolloutCarry, Trajectory]:
    """Runs ``policy`` in ``env`` for ``num_steps`` steps in one ``lax.scan``.

    Args:
      env: a single or batched (vmapped / sharded) environment; wrap it in an
        auto-reset wrapper to run across episode boundaries.
      policy: ``policy(params, timestep, policy_state, key) -> (action,
        policy_state, extras)``.
      params: policy parameters (closed over, not carried).
      env_state, timestep: where to start, from ``env.reset`` or a previous rollout.
      key: PRNG key; split into one key per step.
      num_steps: ``T`` (static).
      policy_state: initial recurrent state (leaves ``[*batch, ...]``) or
        ``None``. It is reset to zeros at ``FIRST`` steps inside the scan.
      return_states: also store the environment states ``[T + 1, *batch, ...]``
        (``trajectory.env_states``, to render the rollout without simulating it
        again) and, for a recurrent policy, the state each action was computed
        from ``[T, *batch, ...]`` (``trajectory.policy_states``).

    Returns:
      ``(carry, trajectory)``: the final env state, TimeStep, policy state and
      a fresh key, and the time-major `Trajectory`.

    Raises:
      ValueError: if ``num_steps`` is not a positive int.
    """
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps <= 0:
        raise ValueError(f"`num_steps` must be a positive int, got {num_steps!r}")
    carry_key, scan_key = jax.random.split(key)
    step_keys = jax.random.split(scan_key, num_steps)
    initial_policy_state = policy_state

    def body(carry: Any, step_key: Any) -> Any:
        state, ts, pstate = carry
        if pstate is not None:
            pstate = _reset_where_first(pstate, ts.first())
        acting_state = pstate
        action, pstate, extras = policy(params, ts, pstate, step_key)
        state, next_ts = env.step(state, action)
        stored = (state, acting_state) if return_states else None
        return (state, next_ts, pstate), (next_ts, action, extras, stored)

    (last_state, last_ts, policy_state), (timesteps, actions, extras, stored) = jax.lax.scan(
        body, (env_state, timestep, policy_state), step_keys
    )
    trajectory = Trajectory(
        timesteps=_prepend(timestep, timesteps),
        actions=actions,
        extras={} if extras is None else extras,
        policy_state=initial_policy_state,
        env_states=None if stored is None else _prepend(env_state, stored[0]),
        policy_states=None if stored is None else stored[1],
    )
    return RolloutCarry(last_state, last_ts, policy_state, carry_key), trajectory
