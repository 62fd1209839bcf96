"""`episodes`: whole episodes from reset, padded to a fixed horizon, as one `Trajectory`.

rlx's rollout unit is an episode: ``agent(policy).episode(horizon)`` (dasayan05/rlx
``rlx/agent.py``, ``PGAgent.episode``) resets the environment, steps it in a Python
loop until ``done`` or ``horizon`` steps, and returns a ``Rollout`` of that one
episode's length. Under ``jax.jit`` shapes cannot depend on when an episode ends,
so `episodes` always scans ``horizon`` steps and *pads* each episode after its
end: the environment is no longer stepped (its state and TimeStep are frozen at
the ``LAST`` one), so every padding transition starts from a ``LAST`` TimeStep and
is invalid by the rule every consumer already follows
(`jit_env.rollout.Transitions.valid`); padding actions and extras are zeros. The
validity mask is ``trajectory.transitions().valid``. The scan costs ``horizon``
steps of every episode however early it ends (the padding is computed, then
discarded by ``jnp.where``).

Two differences from rlx, both from that representation: rlx appends one extra
entry for the state after the last step (reward 0, an action sampled there) that
its algorithms drop with ``rollout[:-1]``; here that state is the `Trajectory`'s
final TimeStep and has no action. rlx's ``mc_returns`` never bootstraps; here a
time-limit truncation, or an episode cut by ``horizon``, can bootstrap
(`Trajectory.discounted_returns` with ``bootstrap_values``; without them they are
rlx's returns).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env import _core, wrappers
from jit_env.rollout._scan import _prepend
from jit_env.rollout._trajectory import Policy, Trajectory, _reset_where_first


def _same_step_auto_reset(env: _core.Environment) -> str | None:
    """The name of a same-step auto-reset wrapper in ``env``'s stack, or None."""
    layer: Any = env
    while layer is not None:
        if isinstance(layer, wrappers.VmapAutoReset) or (
            isinstance(layer, wrappers.AutoReset) and layer.mode == "same_step"
        ):
            return f"{type(layer).__name__}(mode={layer.mode!r})"
        layer = getattr(layer, "env", None)
    return None


def _broadcast(mask: jax.Array, x: jax.Array) -> jax.Array:
    """``mask [*batch]`` reshaped to broadcast against ``x [*batch, ...]``."""
    return mask.reshape(mask.shape + (1,) * (jnp.ndim(x) - mask.ndim))


def _positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")


def episodes(
    env: _core.Environment,
    policy: Policy,
    params: Any,
    key: jax.Array,
    horizon: int,
    *,
    num_episodes: int | None = None,
    policy_state: Any = None,
    return_states: bool = False,
) -> Trajectory:
    """Samples whole episodes from reset, each of at most ``horizon`` steps, in one ``lax.scan``.

    The ``jit_env`` form of rlx's ``agent(policy).episode(horizon)``
    (``rlx/agent.py``; see the module docstring for the padding).

    Keys: ``reset_key, scan_key = jax.random.split(key)``; the environment is reset
    with ``reset_key`` (one episode) or ``jax.random.split(reset_key, num_episodes)``;
    step ``t``'s policy key is ``jax.random.split(scan_key, horizon)[t]``, one key for
    the whole batch, as in `jit_env.rollout.rollout`. ``jax.vmap`` over ``key`` (with
    ``num_episodes=None``) batches independent episodes too, with per-episode
    policy keys.

    Args:
      env: one *unbatched* environment that does not auto-reset within a step
        (its registered `TimeLimit` bounds the episode; `AutoReset` with
        ``mode="next_step"`` is accepted, its reset step is never reached).
      policy: ``policy(params, timestep, policy_state, key) -> (action,
        policy_state, extras)``; with ``num_episodes`` it sees TimeSteps
        ``[num_episodes, ...]``, otherwise unbatched ones.
      params: policy parameters (closed over).
      key: PRNG key.
      horizon: ``T``, the most steps an episode runs (static positive int);
        rlx's ``horizon``.
      num_episodes: ``None`` for one episode (batch shape ``()``), or ``N`` for
        ``N`` episodes played side by side (``jax.vmap`` of ``env``; batch ``(N,)``).
      policy_state: recurrent state (leaves ``[*batch, ...]``) or ``None``; reset to
        zeros at ``FIRST`` as in `rollout`, so every episode starts from zeros
        (rlx's ``global_network_state`` as its ``main.py`` passes it).
      return_states: also store ``env_states`` ``[T + 1, *batch, ...]`` (frozen after
        the end, for rendering without simulating again) and, for a recurrent
        policy, ``policy_states`` ``[T, *batch, ...]`` (for
        ``Trajectory.evaluate(..., recurrence="reuse")``).

    Returns:
      A `Trajectory` with ``T + 1`` TimeSteps (the reset's, then one per step) and
      ``T`` actions, time-major ``[T + 1, *batch, ...]``. Episode ``b`` is valid for
      its first ``L_b`` transitions (``transitions().valid``), ``L_b`` its length;
      ``timesteps[t]`` for ``t > L_b`` repeats the ``LAST`` TimeStep ``timesteps[L_b]``.
      An episode still running after ``horizon`` steps ends without ``LAST``
      (its last transition has ``end_t`` False, as at the end of a `rollout`).

    Raises:
      ValueError: if ``horizon`` or ``num_episodes`` is not a positive int, if
        ``env`` auto-resets within a step (naming the wrapper), or if ``env`` is
        batched (its reset TimeStep has a batch shape).
    """
    _positive_int(horizon, "horizon")
    if num_episodes is not None:
        _positive_int(num_episodes, "num_episodes")
    wrapper = _same_step_auto_reset(env)
    if wrapper is not None:
        raise ValueError(
            f"`env` auto-resets within a step ({wrapper}), so its episodes never end with "
            "LAST: pass the environment without the auto-reset wrapper"
        )
    reset_key, scan_key = jax.random.split(key)
    step_keys = jax.random.split(scan_key, horizon)

    def reset_one(k: jax.Array) -> tuple[Any, _core.TimeStep]:
        return env.reset(k)

    def step_one(state: Any, ts: _core.TimeStep, action: Any) -> tuple[Any, _core.TimeStep]:
        new_state, new_ts = env.step(state, action)
        done = ts.last()
        keep = lambda old, new: jnp.where(done, old, new)
        return jax.tree.map(keep, state, new_state), jax.tree.map(keep, ts, new_ts)

    if num_episodes is None:
        env_state, timestep = reset_one(reset_key)
        step = step_one
    else:
        env_state, timestep = jax.vmap(reset_one)(jax.random.split(reset_key, num_episodes))
        step = jax.vmap(step_one)
    env_batch = jnp.shape(timestep.step_type)[0 if num_episodes is None else 1 :]
    if env_batch:
        raise ValueError(
            f"`env` must be unbatched: its reset step_type has batch shape {env_batch}, "
            "expected (); batch with `num_episodes` or jax.vmap instead"
        )

    def body(carry: Any, step_key: Any) -> Any:
        state, ts, pstate = carry
        done = ts.last()
        if pstate is not None:
            pstate = _reset_where_first(pstate, ts.first())
        acting_state = pstate
        action, new_pstate, extras = policy(params, ts, pstate, step_key)
        state, next_ts = step(state, ts, action)
        if pstate is not None:
            new_pstate = jax.tree.map(
                lambda old, new: jnp.where(_broadcast(done, new), old, new), pstate, new_pstate
            )
        extras = {} if extras is None else extras
        padded = (_reset_where_first(action, done), _reset_where_first(extras, done))
        stored = (state, acting_state) if return_states else None
        return (state, next_ts, new_pstate), (next_ts, *padded, stored)

    _, (timesteps, actions, extras, stored) = jax.lax.scan(
        body, (env_state, timestep, policy_state), step_keys
    )
    return Trajectory(
        timesteps=_prepend(timestep, timesteps),
        actions=actions,
        extras=extras,
        policy_state=policy_state,
        env_states=None if stored is None else _prepend(env_state, stored[0]),
        policy_states=None if stored is None else stored[1],
    )
