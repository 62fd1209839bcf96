"""`Trajectory`, the time-major record of a rollout, its `Transitions`, and `concatenate`.

The semantics of step types, discounts and final observations are those of the
`jit_env.rollout` package docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, ops

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
        feed-forward policy), leaves ``[*batch, ...]``.
      env_states: ``None``, or (``return_states=True``) the environment states
        aligned with ``timesteps``, leaves ``[T + 1, *batch, ...]``: enough to
        render a stored rollout without simulating it again.
      policy_states: ``None``, or (``return_states=True`` with a recurrent
        policy) the recurrent state each action was computed from (after the
        reset at ``FIRST``), leaves ``[T, *batch, ...]``; what
        ``evaluate(..., recurrence="reuse")`` reads.

    Indexing: ``trajectory[a:b]`` slices time (transitions ``a`` to ``b``, so
    TimeSteps ``a`` to ``b`` inclusive); ``trajectory[a:b, index]`` also selects
    along the first batch axis (the episodes of `jit_env.rollout.episodes`),
    ``index`` an int, a slice or an integer array, as NumPy indexing does. All
    methods are pure and jittable except `episode_returns` / `episode_lengths`,
    which return host NumPy arrays.

    Follows rlx's ``Rollout`` (dasayan05/rlx ``rlx/rollout.py``: slicing,
    ``shuffle``, ``+``, ``mc_returns``, ``vectorize``; here `__getitem__`,
    `shuffle`, `concatenate`, `discounted_returns`, `flatten`) and the DESIGN.md
    data flow.
    """

    timesteps: _core.TimeStep
    actions: Any
    extras: Any
    policy_state: Any = None
    env_states: Any = None
    policy_states: Any = None

    # ----------------------------------------------------------------- shape --
    @property
    def num_steps(self) -> int:
        """Number of transitions ``T``."""
        return int(jax.tree.leaves(self.timesteps.step_type)[0].shape[0]) - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape ``()`` for a single environment, ``(B,)`` for a batch."""
        return tuple(self.timesteps.step_type.shape[1:])

    def __getitem__(self, index: Any) -> Trajectory:
        """``traj[a:b]`` (time) or ``traj[a:b, index]`` (time, then first batch axis).

        Raises:
          TypeError: for anything but a contiguous time slice, optionally with one
            batch index.
          ValueError: if the time slice selects no transition, or a batch index is
            given for a trajectory without a batch axis.
        """
        batch_index: Any = None
        if isinstance(index, tuple):
            if len(index) != 2:
                raise TypeError(f"`index` must be traj[a:b] or traj[a:b, i], got {index!r}")
            index, batch_index = index
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError(
                f"`index` must be a contiguous time slice like traj[a:b], got {index!r}"
            )
        start, stop, _ = index.indices(self.num_steps)
        if stop <= start:
            raise ValueError(f"`index` {index!r} selects no transition of {self.num_steps}")
        if start == 0:
            policy_state = self.policy_state
        elif self.policy_states is not None:
            policy_state = jax.tree.map(lambda x: x[start], self.policy_states)
        else:
            policy_state = None
        out = Trajectory(
            timesteps=jax.tree.map(lambda x: x[start : stop + 1], self.timesteps),
            actions=jax.tree.map(lambda x: x[start:stop], self.actions),
            extras=jax.tree.map(lambda x: x[start:stop], self.extras),
            policy_state=policy_state,
            env_states=jax.tree.map(lambda x: x[start : stop + 1], self.env_states),
            policy_states=jax.tree.map(lambda x: x[start:stop], self.policy_states),
        )
        if batch_index is None or (
            isinstance(batch_index, slice) and batch_index == slice(None)
        ):
            return out
        if not self.batch_shape:
            raise ValueError(f"batch index {batch_index!r} given, but the trajectory has no "
                             "batch axis (batch shape ())")
        if isinstance(batch_index, bool) or not (
            isinstance(batch_index, (int, slice))
            or jnp.issubdtype(jnp.asarray(batch_index).dtype, jnp.integer)
        ):
            raise TypeError(f"batch index must be an int, a slice or an integer array, got "
                            f"{batch_index!r}")
        take = lambda x: x[:, batch_index]
        return Trajectory(
            timesteps=jax.tree.map(take, out.timesteps),
            actions=jax.tree.map(take, out.actions),
            extras=jax.tree.map(take, out.extras),
            policy_state=jax.tree.map(lambda x: x[batch_index], out.policy_state),
            env_states=jax.tree.map(take, out.env_states),
            policy_states=jax.tree.map(take, out.policy_states),
        )

    def shuffle(self, key: jax.Array) -> Trajectory:
        """The trajectory with its first batch axis (its episodes) in a random order.

        rlx's ``Rollout.shuffle`` (``rlx/rollout.py``) shuffles the time steps of one
        episode and leaves a recurrent rollout alone; here time stays in order
        (transitions are defined by consecutive TimeSteps) and whole episodes
        (batch rows) are permuted, recurrent states with them. To shuffle single
        transitions, use `minibatches` (or `flatten` and permute).

        Args:
          key: PRNG key for ``jax.random.permutation``.

        Returns:
          ``self[:, perm]`` for a random permutation ``perm`` of ``range(B)``.

        Raises:
          ValueError: if the trajectory has no batch axis.
        """
        if not self.batch_shape:
            raise ValueError("shuffle needs a batch of episodes [T, B], got batch shape ()")
        return self[:, jax.random.permutation(key, self.batch_shape[0])]

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

        def single(r: Any, d: Any, v_tm1: Any, v_t: Any, c: Any) -> Any:
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

        def body(acc: Any, x: Any) -> Any:
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
            def split(x: Any) -> Any:
                x = jnp.take(x, perm, axis=1)
                x = x.reshape((t, num_minibatches, b // num_minibatches) + x.shape[2:])
                return jnp.swapaxes(x, 0, 1)
        else:
            def split(x: Any) -> Any:
                x = x.reshape((t * b,) + x.shape[2:])
                x = jnp.take(x, perm, axis=0)
                return x.reshape((num_minibatches, rows // num_minibatches) + x.shape[1:])
        return jax.tree.map(split, data)

    def evaluate(
        self,
        evaluate_fn: Callable[..., tuple[Any, Any]],
        params: Any,
        *,
        recurrence: str = "rebuild",
    ) -> Any:
        """Recomputes policy outputs for the stored observations and actions.

        Args:
          evaluate_fn: ``evaluate_fn(params, timestep, policy_state, action) ->
            (policy_state, extras)`` (e.g. log-probabilities and values of the
            given actions).
          params: parameters of the policy to evaluate (any policy: rlx's
            ``PGAgent.evaluate`` of a "dry" rollout under another network).
          recurrence: for a recurrent trajectory (``policy_state`` not None),
            ``"rebuild"`` replays the recurrence under ``params`` with
            ``lax.scan`` from the stored initial state, reset to zeros at
            ``FIRST`` steps as in `rollout` (rlx ``PGAgent.evaluate(rollout,
            recurrence=True)``, ``rlx/agent.py``); ``"reuse"`` evaluates every
            step at once (``vmap`` over time) from the stored ``policy_states``
            that acted (rlx ``recurrence=False``). Ignored for a feed-forward one.

        Returns:
          The extras, ``[T, *batch, ...]``. A feed-forward policy is evaluated on
          all steps at once.

        Raises:
          ValueError: for an unknown ``recurrence``, or ``"reuse"`` on a recurrent
            trajectory without ``policy_states`` (roll out with ``return_states=True``).
        """
        if recurrence not in ("rebuild", "reuse"):
            raise ValueError(f"`recurrence` must be 'rebuild' or 'reuse', got {recurrence!r}")
        source = jax.tree.map(lambda x: x[:-1], self.timesteps)
        if self.policy_state is None:
            fn = lambda ts, a: evaluate_fn(params, ts, None, a)[1]
            return jax.vmap(fn)(source, self.actions)
        if recurrence == "reuse":
            if self.policy_states is None:
                raise ValueError("`recurrence`='reuse' needs the per-step `policy_states`: "
                                 "roll out with `return_states=True`")
            reuse = lambda ts, s, a: evaluate_fn(params, ts, s, a)[1]
            return jax.vmap(reuse)(source, self.policy_states, self.actions)

        def body(state: Any, x: Any) -> Any:
            ts, a = x
            state = _reset_where_first(state, ts.first())
            state, out = evaluate_fn(params, ts, state, a)
            return state, out

        _, out = jax.lax.scan(body, self.policy_state, (source, self.actions))
        return out


def _reset_where_first(policy_state: Any, first: jax.Array) -> Any:
    def reset(x: Any) -> Any:
        mask = first.reshape(first.shape + (1,) * (x.ndim - first.ndim))
        return jnp.where(mask, jnp.zeros_like(x), x)

    return jax.tree.map(reset, policy_state)


def _joined(values: list[Any], name: str, join: Callable[..., Any]) -> Any:
    """``join`` over the leaves of ``values``; None if all are None, else all must be given."""
    given = [v is not None for v in values]
    if not any(given):
        return None
    if not all(given):
        raise ValueError(f"`{name}` is None in some trajectories and not in others")
    return jax.tree.map(join, *values)


def concatenate(trajectories: Sequence[Trajectory], axis: str = "time") -> Trajectory:
    """Joins trajectories along time (consecutive rollouts) or batch (e.g. episodes).

    rlx's ``Rollout.__add__`` (``rlx/rollout.py``) appends one episode's steps to
    another's; a batch of padded episodes (`jit_env.rollout.episodes`) is joined
    along ``"batch"`` instead, which keeps each episode a row.

    Args:
      trajectories: along ``"time"``, consecutive rollouts: each one's first
        TimeStep is the previous one's last; along ``"batch"``, rollouts of the
        same length over different environments (batch axis 1), such as
        episodes of the same ``horizon``.
      axis: ``"time"`` or ``"batch"``.

    Returns:
      The joined `Trajectory`; ``env_states`` and ``policy_states`` are joined
      like ``timesteps`` and ``actions`` (``None`` if absent from all).

    Raises:
      ValueError: on an unknown ``axis``, an empty sequence, or ``env_states`` /
        ``policy_states`` present in some trajectories only.
    """
    if not trajectories:
        raise ValueError("`trajectories` is empty")
    field = lambda name: [getattr(t, name) for t in trajectories]
    if axis == "time":
        first = trajectories[0]
        join_steps = lambda *xs: jnp.concatenate([xs[0]] + [x[1:] for x in xs[1:]], axis=0)
        cat = lambda *xs: jnp.concatenate(xs, axis=0)
        return Trajectory(
            timesteps=jax.tree.map(join_steps, *field("timesteps")),
            actions=jax.tree.map(cat, *field("actions")),
            extras=jax.tree.map(cat, *field("extras")),
            policy_state=first.policy_state,
            env_states=_joined(field("env_states"), "env_states", join_steps),
            policy_states=_joined(field("policy_states"), "policy_states", cat),
        )
    if axis == "batch":
        cat = lambda *xs: jnp.concatenate(xs, axis=1)
        return Trajectory(
            timesteps=jax.tree.map(cat, *field("timesteps")),
            actions=jax.tree.map(cat, *field("actions")),
            extras=jax.tree.map(cat, *field("extras")),
            policy_state=_joined(field("policy_state"), "policy_state",
                                 lambda *xs: jnp.concatenate(xs, axis=0)),
            env_states=_joined(field("env_states"), "env_states", cat),
            policy_states=_joined(field("policy_states"), "policy_states", cat),
        )
    raise ValueError(f"`axis` must be 'time' or 'batch', got {axis!r}")
