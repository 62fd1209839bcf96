"""Scan-based rollouts and the `Trajectory` that turns TimeSteps into operator inputs.

`rollout` runs a policy in an environment (single or batched) for ``T`` steps in
one ``lax.scan`` and returns a time-major `Trajectory`:

- ``trajectory.timesteps``: the ``T + 1`` TimeSteps ``[T + 1, B, ...]`` — the one the
  rollout started from, then one per step;
- ``trajectory.actions``: the ``T`` actions ``[T, B, ...]``;
- ``trajectory.extras``: what the policy returned per step (log-probabilities,
  values, …) ``[T, B, ...]``;
- ``trajectory.policy_state``: the policy state at the start (recurrent policies).

Transition ``t`` goes from ``timesteps[t]`` to ``timesteps[t + 1]`` under
``actions[t]``. Its reward and discount are those of ``timesteps[t + 1]``. It
*ends an episode* when ``timesteps[t + 1]`` is ``LAST`` (no auto-reset, or
``AutoReset(mode="next_step")``) or is a ``FIRST`` returned by ``step`` (same-step
auto-reset). An ended transition is a *termination* when its discount is 0 and
a *truncation* otherwise; the observation to bootstrap from is
``timesteps[t + 1].extras["final_observation"]`` when present (same-step
auto-reset puts the true last observation there) and ``observation`` otherwise.
A transition that starts from a ``LAST`` TimeStep (the reset step of
``next_step`` mode, whose action is ignored) is *invalid* and is masked out.

The policy signature is ``policy(params, timestep, policy_state, key) ->
(action, policy_state, extras)``: it sees the whole (batched) TimeStep and gets
one key per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, ops

__all__ = ["RolloutCarry", "Trajectory", "Transitions", "concatenate", "rollout"]

if TYPE_CHECKING:  # chex.dataclass is opaque to type checkers.
    from dataclasses import dataclass
else:
    from functools import partial

    from chex import dataclass

    dataclass = partial(dataclass, mappable_dataclass=False)

Policy = Callable[[Any, _core.TimeStep, Any, jax.Array], tuple[Any, Any, Any]]
"""``policy(params, timestep, policy_state, key) -> (action, policy_state, extras)``."""


class Transitions(NamedTuple):
    """Per-transition arrays, time-major ``[T, B, ...]`` (or ``[N, ...]`` flattened).

    Attributes:
      observation: observation the transition starts from (``timesteps[t]``).
      action: the action taken, as stored by `rollout`.
      r_t: reward of the transition, ``float32``.
      discount_t: environment discount of the transition (0 on termination).
      next_observation: observation to bootstrap from (the true final one
        after an auto-reset).
      end_t: ``bool``, the transition ends an episode (termination or truncation).
      truncation_t: ``bool``, the transition ends an episode with a non-zero
        discount (time limit): bootstrap from ``next_observation``.
      valid: ``bool``, False for the ignored-action reset step of
        ``next_step`` auto-reset.
      first: ``bool``, ``timesteps[t]`` starts an episode (for recurrent state resets).
      extras: the policy extras of the step.
    """

    observation: Any
    action: Any
    r_t: jax.Array
    discount_t: jax.Array
    next_observation: Any
    end_t: jax.Array
    truncation_t: jax.Array
    valid: jax.Array
    first: jax.Array
    extras: Any


def _final_observation(timestep: _core.TimeStep) -> Any:
    extras = timestep.extras or {}
    if "final_observation" in extras:
        return extras["final_observation"]
    return timestep.observation


@dataclass(frozen=True)
class Trajectory:
    """A time-major rollout: ``T + 1`` TimeSteps, ``T`` actions and policy extras.

    Attributes:
      timesteps: `TimeStep` whose leaves are ``[T + 1, *batch, ...]``.
      actions: ``[T, *batch, ...]``.
      extras: policy extras, a pytree of ``[T, *batch, ...]`` arrays (``{}`` if none).
      policy_state: policy state at the start of the rollout (``None`` for a
        feed-forward policy).

    Indexing ``trajectory[a:b]`` slices time (transitions ``a`` to ``b``, so
    TimeSteps ``a`` to ``b`` inclusive). All methods are pure and jittable except
    `episode_returns` / `episode_lengths`, which return host NumPy arrays.

    Follows rlx's ``Rollout`` and the DESIGN.md data flow.
    """

    timesteps: _core.TimeStep
    actions: Any
    extras: Any
    policy_state: Any = None

    # ----------------------------------------------------------------- shape --
    @property
    def num_steps(self) -> int:
        """Number of transitions ``T``."""
        return int(jax.tree.leaves(self.timesteps.step_type)[0].shape[0]) - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape ``()`` for a single environment, ``(B,)`` for a batch."""
        return tuple(self.timesteps.step_type.shape[1:])

    def __getitem__(self, index: slice) -> Trajectory:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError(
                f"`index` must be a contiguous time slice like traj[a:b], got {index!r}"
            )
        start, stop, _ = index.indices(self.num_steps)
        if stop <= start:
            raise ValueError(f"`index` {index!r} selects no transition of {self.num_steps}")
        return Trajectory(
            timesteps=jax.tree.map(lambda x: x[start : stop + 1], self.timesteps),
            actions=jax.tree.map(lambda x: x[start:stop], self.actions),
            extras=jax.tree.map(lambda x: x[start:stop], self.extras),
            policy_state=self.policy_state if start == 0 else None,
        )

    # ----------------------------------------------------- per-transition data --
    def transitions(self) -> Transitions:
        """Per-transition arrays ``[T, *batch]`` ready for `jit_env.ops` (see `Transitions`)."""
        ts = self.timesteps
        source = jax.tree.map(lambda x: x[:-1], ts)
        dest = jax.tree.map(lambda x: x[1:], ts)
        valid = ~source.last()
        end_t = valid & (dest.last() | dest.first())
        discount_t = dest.discount
        truncation_t = end_t & (discount_t > 0)
        return Transitions(
            observation=source.observation,
            action=self.actions,
            r_t=dest.reward,
            discount_t=discount_t,
            next_observation=_final_observation(dest),
            end_t=end_t,
            truncation_t=truncation_t,
            valid=valid,
            first=source.first(),
            extras=self.extras,
        )

    def flatten(self) -> Transitions:
        """`transitions` with time and batch merged: leaves ``[T * B, ...]``."""
        lead = 1 + len(self.batch_shape)
        return jax.tree.map(
            lambda x: x.reshape((-1,) + x.shape[lead:]), self.transitions()
        )

    # ---------------------------------------------------------------- returns --
    def gae(
        self,
        values: jax.Array,
        bootstrap_values: jax.Array,
        gamma: float,
        lambda_: float,
    ) -> tuple[jax.Array, jax.Array]:
        """Truncation-aware generalised advantage estimates.

        Args:
          values: ``v_tm1``, values of ``transitions().observation``, ``[T, *batch]`` float32.
          bootstrap_values: ``v_t``, values of ``transitions().next_observation``
            (the true final observation where an episode ended), ``[T, *batch]``.
          gamma: agent discount, multiplied by the environment's ``discount_t``.
          lambda_: GAE λ.

        Returns:
          ``(advantages, value_targets)``, both ``[T, *batch]`` float32;
          ``value_targets = advantages + values``. Invalid transitions get 0.

        The λ-recursion stops at every episode end; a terminated transition
        does not bootstrap (discount 0) and a truncated one bootstraps from its
        final observation. Schulman et al. 2016, "High-Dimensional Continuous
        Control Using Generalized Advantage Estimation", eq. 16; computed by
        `jit_env.ops.generalized_advantage_estimation`.
        """
        tr = self.transitions()
        for name, arr in (("values", values), ("bootstrap_values", bootstrap_values)):
            if jnp.shape(arr) != tr.r_t.shape:
                raise ValueError(
                    f"`{name}` has shape {jnp.shape(arr)}, expected {tr.r_t.shape} ([T, *batch])"
                )
        discount = gamma * tr.discount_t * tr.valid
        cut = (tr.end_t | ~tr.valid).astype(values.dtype)
        r_t = tr.r_t * tr.valid

        def single(r, d, v_tm1, v_t, c):
            return ops.generalized_advantage_estimation(
                r, d, v_tm1, v_t, c, lambda_=lambda_, stop_target_gradients=True
            )

        fn = single
        for _ in self.batch_shape:
            fn = jax.vmap(fn, in_axes=1, out_axes=1)
        advantages = fn(r_t, discount, values, bootstrap_values, cut)
        advantages = jnp.where(tr.valid, advantages, 0.0)
        return advantages, advantages + values

    def discounted_returns(
        self, gamma: float, bootstrap_values: jax.Array | None = None
    ) -> jax.Array:
        """Monte-Carlo discounted returns within each episode, ``[T, *batch]``.

        ``G_t = r_t + gamma * discount_t * G_{t+1}``, restarted at every episode
        end. A truncated transition (and the last transition of the rollout)
        bootstraps from ``bootstrap_values`` when given, else from 0.

        Args:
          gamma: agent discount in [0, 1].
          bootstrap_values: optional ``[T, *batch]`` values of ``next_observation``.
        """
        tr = self.transitions()
        if bootstrap_values is None:
            bootstrap_values = jnp.zeros_like(tr.r_t)
        elif jnp.shape(bootstrap_values) != tr.r_t.shape:
            raise ValueError(
                f"`bootstrap_values` has shape {jnp.shape(bootstrap_values)}, "
                f"expected {tr.r_t.shape}"
            )
        discount = gamma * tr.discount_t * tr.valid
        cut = tr.end_t | ~tr.valid
        last = jnp.zeros(tr.r_t.shape, bool).at[-1].set(True)
        boot = jnp.where(cut | last, bootstrap_values, 0.0)

        def body(acc, x):
            r, d, c, b = x
            acc = r + d * jnp.where(c, b, acc)
            return acc, acc

        _, returns = jax.lax.scan(
            body,
            jnp.zeros(tr.r_t.shape[1:], tr.r_t.dtype),
            (tr.r_t * tr.valid, discount, cut | last, boot),
            reverse=True,
        )
        return jnp.where(tr.valid, returns, 0.0)

    def episode_returns(self) -> np.ndarray:
        """Undiscounted returns of episodes that start and end inside the trajectory.

        Host-side (NumPy), ordered by batch index then end time. For jitted
        statistics use `jit_env.wrappers.EpisodeStatistics`.
        """
        return self._episodes()[0]

    def episode_lengths(self) -> np.ndarray:
        """Lengths (number of transitions) of the episodes of `episode_returns`."""
        return self._episodes()[1]

    def _episodes(self) -> tuple[np.ndarray, np.ndarray]:
        tr = jax.tree.map(np.asarray, self.transitions())
        r = tr.r_t.reshape(tr.r_t.shape[0], -1)
        end = tr.end_t.reshape(r.shape)
        valid = tr.valid.reshape(r.shape)
        first = tr.first.reshape(r.shape)
        returns, lengths = [], []
        for b in range(r.shape[1]):
            started, acc, length = False, 0.0, 0
            for t in range(r.shape[0]):
                if not valid[t, b]:
                    started = False
                    continue
                if first[t, b]:
                    started, acc, length = True, 0.0, 0
                acc += float(r[t, b])
                length += 1
                if end[t, b]:
                    if started:
                        returns.append(acc)
                        lengths.append(length)
                    # Same-step auto-reset: the next transition starts a new episode.
                    started, acc, length = True, 0.0, 0
        return np.asarray(returns, np.float32), np.asarray(lengths, np.int32)

    # ------------------------------------------------------------ re-shaping --
    def minibatches(
        self, key: jax.Array, num_minibatches: int, data: Any = None, *, sequences: bool = False
    ) -> Any:
        """Shuffles and splits per-transition data into ``num_minibatches``.

        Args:
          key: PRNG key for the permutation.
          num_minibatches: number of minibatches; must divide ``T * B``
            (``B`` when ``sequences=True``).
          data: a pytree of ``[T, *batch, ...]`` arrays aligned with the
            transitions (e.g. ``(transitions, advantages, targets)``); defaults to
            `transitions`.
          sequences: keep each environment's time sequence intact and shuffle
            only the batch axis (recurrent policies).

        Returns:
          ``data`` with leaves ``[num_minibatches, T * B / num_minibatches, ...]``,
          or, with ``sequences=True``, ``[num_minibatches, T, B / num_minibatches, ...]``.

        Raises:
          ValueError: if ``num_minibatches`` does not divide the number of rows.
        """
        data = self.transitions() if data is None else data
        if len(self.batch_shape) != 1:
            raise ValueError(
                f"minibatches needs a batch of environments [T, B], got batch shape "
                f"{self.batch_shape}"
            )
        t, b = self.num_steps, self.batch_shape[0]
        rows = b if sequences else t * b
        if num_minibatches <= 0 or rows % num_minibatches:
            raise ValueError(
                f"`num_minibatches`={num_minibatches} must be positive and divide {rows} "
                f"({'B' if sequences else 'T * B'})"
            )
        # One stable sort of random 32-bit keys: always a permutation, uniform up
        # to key collisions (probability < rows**2 / 2**33).
        perm = jnp.argsort(jax.random.bits(key, (rows,), jnp.uint32), stable=True)
        if sequences:
            def split(x):
                x = jnp.take(x, perm, axis=1)
                x = x.reshape((t, num_minibatches, b // num_minibatches) + x.shape[2:])
                return jnp.swapaxes(x, 0, 1)
        else:
            def split(x):
                x = x.reshape((t * b,) + x.shape[2:])
                x = jnp.take(x, perm, axis=0)
                return x.reshape((num_minibatches, rows // num_minibatches) + x.shape[1:])
        return jax.tree.map(split, data)

    def evaluate(self, evaluate_fn: Callable[..., tuple[Any, Any]], params: Any) -> Any:
        """Recomputes policy outputs for the stored observations and actions.

        Args:
          evaluate_fn: ``evaluate_fn(params, timestep, policy_state, action) ->
            (policy_state, extras)`` (e.g. log-probabilities and values of the
            given actions).
          params: parameters of the policy to evaluate.

        Returns:
          The extras, ``[T, *batch, ...]``. A feed-forward policy
          (``policy_state is None``) is evaluated on all steps at once; a
          recurrent one is replayed with ``lax.scan`` from the stored initial
          state, reset to zeros at ``FIRST`` steps as in `rollout`.
        """
        source = jax.tree.map(lambda x: x[:-1], self.timesteps)
        if self.policy_state is None:
            fn = lambda ts, a: evaluate_fn(params, ts, None, a)[1]
            return jax.vmap(fn)(source, self.actions)

        def body(state, x):
            ts, a = x
            state = _reset_where_first(state, ts.first())
            state, out = evaluate_fn(params, ts, state, a)
            return state, out

        _, out = jax.lax.scan(body, self.policy_state, (source, self.actions))
        return out


def _reset_where_first(policy_state: Any, first: jax.Array) -> Any:
    def reset(x):
        mask = first.reshape(first.shape + (1,) * (x.ndim - first.ndim))
        return jnp.where(mask, jnp.zeros_like(x), x)

    return jax.tree.map(reset, policy_state)


def concatenate(trajectories: Sequence[Trajectory], axis: str = "time") -> Trajectory:
    """Joins trajectories along time (consecutive rollouts) or batch.

    Args:
      trajectories: along ``"time"``, consecutive rollouts: each one's first
        TimeStep is the previous one's last; along ``"batch"``, rollouts of the
        same length over different environments (batch axis 1).
      axis: ``"time"`` or ``"batch"``.

    Raises:
      ValueError: on an unknown ``axis`` or an empty sequence.
    """
    if not trajectories:
        raise ValueError("`trajectories` is empty")
    if axis == "time":
        first = trajectories[0]
        timesteps = jax.tree.map(
            lambda *xs: jnp.concatenate([xs[0]] + [x[1:] for x in xs[1:]], axis=0),
            *[t.timesteps for t in trajectories],
        )
        cat = lambda *xs: jnp.concatenate(xs, axis=0)
        return Trajectory(
            timesteps=timesteps,
            actions=jax.tree.map(cat, *[t.actions for t in trajectories]),
            extras=jax.tree.map(cat, *[t.extras for t in trajectories]),
            policy_state=first.policy_state,
        )
    if axis == "batch":
        cat = lambda *xs: jnp.concatenate(xs, axis=1)
        states = [t.policy_state for t in trajectories]
        return Trajectory(
            timesteps=jax.tree.map(cat, *[t.timesteps for t in trajectories]),
            actions=jax.tree.map(cat, *[t.actions for t in trajectories]),
            extras=jax.tree.map(cat, *[t.extras for t in trajectories]),
            policy_state=None
            if states[0] is None
            else jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *states),
        )
    raise ValueError(f"`axis` must be 'time' or 'batch', got {axis!r}")


class RolloutCarry(NamedTuple):
    """What a rollout leaves behind, to start the next one from."""

    env_state: Any
    timestep: _core.TimeStep
    policy_state: Any
    key: jax.Array


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

    Returns:
      ``(carry, trajectory)``: the final env state, TimeStep, policy state and
      a fresh key, and the time-major `Trajectory`.

    Raises:
      ValueError: if ``num_steps`` is not a positive int.
    """
    if not isinstance(num_steps, int) or num_steps <= 0:
        raise ValueError(f"`num_steps` must be a positive int, got {num_steps!r}")
    carry_key, scan_key = jax.random.split(key)
    step_keys = jax.random.split(scan_key, num_steps)
    initial_policy_state = policy_state

    def body(carry, step_key):
        state, ts, pstate = carry
        if pstate is not None:
            pstate = _reset_where_first(pstate, ts.first())
        action, pstate, extras = policy(params, ts, pstate, step_key)
        state, next_ts = env.step(state, action)
        return (state, next_ts, pstate), (next_ts, action, extras)

    (env_state, last_ts, policy_state), (timesteps, actions, extras) = jax.lax.scan(
        body, (env_state, timestep, policy_state), step_keys
    )
    timesteps = jax.tree.map(
        lambda first, rest: jnp.concatenate([first[None], rest], axis=0), timestep, timesteps
    )
    trajectory = Trajectory(
        timesteps=timesteps,
        actions=actions,
        extras={} if extras is None else extras,
        policy_state=initial_policy_state,
    )
    return RolloutCarry(env_state, last_ts, policy_state, carry_key), trajectory
