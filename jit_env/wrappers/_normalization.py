"""Observation and reward normalisation: `NormalizeObservation`, `NormalizeReward`,
`ClipReward`, `ScaleReward`.

Running statistics are kept in the state (nothing is mutated) and updated with
Chan et al.'s parallel algorithm, reducing over the batch axes when the
wrapped environment is batched:

    delta = m_b - m;  n' = n + n_b;  m' = m + delta n_b / n'
    v' = (v n + v_b n_b + delta^2 n n_b / n') / n'

(Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for
computing sample variances", 1979; gymnasium 1.x
``update_mean_var_count_from_moments``). Statistics start at mean 0, variance
1, count ``1e-4`` (gymnasium ``RunningMeanStd``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import (
    broadcast_mask,
    leaf_batch_ndim,
    peel_batched,
    rebatch,
    wrapper_state,
)
from jit_env.wrappers._base import MapTimeStep

INITIAL_COUNT = 1e-4
"""Pseudo-count of the initial statistics (gymnasium ``RunningMeanStd(epsilon=1e-4)``)."""


class RunningMeanStd(NamedTuple):
    """Running mean / variance (``float32``) with a ``float32`` scalar count."""

    mean: jax.Array
    var: jax.Array
    # gymnasium's field name; it shadows ``tuple.count``, which mypy reports as an override.
    count: jax.Array  # type: ignore[assignment]


def init_running_mean_std(shape: tuple[int, ...]) -> RunningMeanStd:
    """Mean 0, variance 1, count ``INITIAL_COUNT`` of the given feature shape."""
    return RunningMeanStd(
        jnp.zeros(shape, jnp.float32),
        jnp.ones(shape, jnp.float32),
        jnp.asarray(INITIAL_COUNT, jnp.float32),
    )


def update_running_mean_std(stats: RunningMeanStd, x: jax.Array, batch_ndim: int) -> RunningMeanStd:
    """Chan parallel update of ``stats`` with the samples ``x`` ``[*batch, *features]``.

    Args:
      stats: the current statistics (features shape).
      x: samples; its first ``batch_ndim`` axes are reduced.
      batch_ndim: number of leading batch axes of ``x`` (0: one sample).

    The batch mean and variance are ``jnp.mean`` / ``jnp.var``'s two-pass
    values, summed with `column_sums` (faster on XLA:CPU, equal up to float32
    summation order).
    """
    x = jnp.asarray(x, jnp.float32)
    n_b = float(np.prod(x.shape[:batch_ndim], dtype=np.int64))
    if batch_ndim:
        features = x.shape[batch_ndim:]
        rows = x.reshape(int(n_b), int(np.prod(features, dtype=np.int64)))
        m_b = column_sums(rows) / n_b
        v_b = column_sums(jnp.square(rows - m_b[None, :])) / n_b  # two passes, as jnp.var
        m_b, v_b = m_b.reshape(features), v_b.reshape(features)
    else:
        m_b, v_b = x, jnp.zeros_like(x)
    delta = m_b - stats.mean
    total = stats.count + n_b
    mean = stats.mean + delta * (n_b / total)
    m2 = stats.var * stats.count + v_b * n_b + jnp.square(delta) * (stats.count * n_b / total)
    return RunningMeanStd(mean, m2 / total, total)


_FOLD_WIDTH = 128  # `column_sums` folds rows until a row holds about this many values


def column_sums(x: jax.Array) -> jax.Array:
    """``x.sum(axis=0)`` for a 2-D ``float32 [n, f]`` array, folded for XLA:CPU.

    XLA:CPU reduces the major axis of a narrow array slowly (``[8192, 4]``:
    4x slower than a full scalar sum of the same values; numbers in
    ``benchmarks/RESULTS.md``), so ``r`` consecutive rows are first laid side
    by side (``[n / r, r f]``, a free reshape; ``r`` the largest divisor of
    ``n`` with ``r f <= 128``), summed over the major axis, and the ``r``
    partial sums added. Same values as ``x.sum(0)`` up to float32 summation
    order.
    """
    n, f = x.shape
    if n == 0 or f == 0:
        return x.sum(axis=0)
    r = max(d for d in range(1, max(_FOLD_WIDTH // f, 1) + 1) if n % d == 0)
    if r == 1:
        return x.sum(axis=0)
    return x.reshape(n // r, r * f).sum(axis=0).reshape(r, f).sum(axis=0)


@wrapper_state
class NormalizeObservationState(NamedTuple):
    """State of `NormalizeObservation`.

    Attributes:
      inner: the wrapped environment's state.
      stats: `RunningMeanStd` of the observations (shape of one observation).
      frozen: ``bool[]``; when true the statistics are used but not updated.
    """

    inner: Any
    stats: RunningMeanStd
    frozen: jax.Array


class NormalizeObservation(_core.Wrapper):
    """Normalises observations to zero mean and unit variance with running statistics.

    ``obs' = (obs - mean) / sqrt(var + epsilon)``, then clipped to
    ``[-clip, clip]`` if ``clip`` is given; the statistics are updated with
    the new observation(s) first (gymnasium 1.x ``NormalizeObservation``
    order). On a batched environment one update per step reduces over the
    batch axes (the leading axes beyond the observation spec's shape).

    * TimeStep: ``observation`` and, when present,
      ``extras["final_observation"]`` are normalised (``float32``) with the
      same statistics, so bootstrapping values see the same scale.
    * State: `NormalizeObservationState`; ``reset`` starts fresh statistics
      (copy ``stats`` from another state to keep them) and ``frozen`` as the
      ``freeze`` argument; `freeze` sets it. `reset_after` (how every
      auto-reset starts the next episode) keeps both, as gymnasium's wrapper
      keeps its statistics across ``reset``.
    * Specs: the observation spec keeps its shape (and `specs.Batched` layers)
      and becomes an unbounded ``float32`` `specs.Array`.

    Args:
      env: an environment with a primitive (array) observation spec, possibly
        inside `specs.Batched` layers.
      epsilon: added to the variance, ``1e-8`` (gymnasium).
      clip: optional positive bound of the normalised values (``None``: no
        clipping, as gymnasium).
      freeze: start with frozen statistics (evaluation).

    Raises:
      TypeError: if the observation spec is not an array spec, or ``epsilon``
        / ``clip`` is not a real number.
      ValueError: for ``epsilon`` negative or infinite, or ``clip <= 0`` (or NaN).

    Non-finite observations are not checked here: one NaN or ``inf``
    observation turns ``mean`` and ``var`` NaN for the rest of the run, so
    catch it before it arrives, with `CheckFinite` inside this wrapper
    (``NormalizeObservation(CheckFinite(env))``, run under
    ``checkify.checkify``). A check here would see only what `CheckFinite`
    sees, and would make every user of this wrapper pay for ``checkify``.

    Where in a stack: outermost, outside the auto-reset
    (``NormalizeObservation(EpisodeStatistics(VmapAutoReset(...)))``): one set
    of statistics for the whole batch, updated with all of it every step.
    Inside a batched auto-reset (``VmapAutoReset(NormalizeObservation(env))``)
    each environment keeps its own statistics across its episodes
    (gymnasium's ``make_vec(..., wrappers=[NormalizeObservation])``).
    """

    def __init__(
        self,
        env: _core.Environment,
        epsilon: float = 1e-8,
        clip: float | None = None,
        *,
        freeze: bool = False,
    ):
        super().__init__(env)
        element, nums = peel_batched(env.observation_spec())
        if not isinstance(element, specs.Array):
            raise TypeError(
                f"NormalizeObservation needs an array observation spec, got {element!r}"
            )
        if not 0 <= _real(epsilon, "epsilon") < np.inf:
            raise ValueError(f"`epsilon` must be finite and >= 0, got {epsilon!r}")
        if clip is not None and not _real(clip, "clip") > 0:
            raise ValueError(f"`clip` must be None or > 0, got {clip!r}")
        self._element = element
        self._nums = nums
        self._epsilon = float(epsilon)
        self._clip = None if clip is None else float(clip)
        self._freeze = bool(freeze)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env!r}, epsilon={self._epsilon}, "
            f"clip={self._clip}, freeze={self._freeze})"
        )

    @staticmethod
    def freeze(state: NormalizeObservationState, frozen: bool = True) -> NormalizeObservationState:
        """``state`` with the statistics frozen (or unfrozen): for evaluation."""
        return state._replace(frozen=jnp.asarray(frozen, bool))

    def reset_with_statistics(
        self, key: jax.Array, stats: RunningMeanStd, *, options: Any = None
    ) -> tuple[NormalizeObservationState, _core.TimeStep]:
        """`reset`, but normalising with given, frozen ``stats`` (e.g. a trained agent's).

        Use it to evaluate an agent trained behind this wrapper: the first
        observation and every later one are normalised with ``stats``, which
        are never updated.

        Args:
          key: as for `reset`.
          stats: `RunningMeanStd` with the shape of one observation.
          options: as for `reset`.
        """
        inner, ts = self.env.reset(key, options=options)
        frozen = jnp.asarray(True)
        stats, ts = self._apply(stats, frozen, ts)
        return NormalizeObservationState(inner, stats, frozen), ts

    def _normalize(self, stats: RunningMeanStd, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        mean = jnp.broadcast_to(stats.mean, x.shape)
        scale = jnp.broadcast_to(jnp.sqrt(stats.var + self._epsilon), x.shape)
        out = (x - mean) / scale
        if self._clip is not None:
            out = jnp.clip(out, -self._clip, self._clip)
        return out

    def _apply(
        self, stats: RunningMeanStd, frozen: jax.Array, ts: _core.TimeStep
    ) -> tuple[RunningMeanStd, _core.TimeStep]:
        obs = ts.observation
        nd = leaf_batch_ndim(obs, self._element.shape, "NormalizeObservation")
        updated = update_running_mean_std(stats, obs, nd)
        stats = jax.tree.map(lambda old, new: jnp.where(frozen, old, new), stats, updated)
        extras = ts.extras
        if extras is not None and "final_observation" in extras:
            extras = dict(extras)
            extras["final_observation"] = self._normalize(stats, extras["final_observation"])
        return stats, dataclasses.replace(
            ts, observation=self._normalize(stats, obs), extras=extras
        )

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[NormalizeObservationState, _core.TimeStep]:
        inner, ts = self.env.reset(key, options=options)
        frozen = jnp.asarray(self._freeze, bool)
        stats, ts = self._apply(init_running_mean_std(self._element.shape), frozen, ts)
        return NormalizeObservationState(inner, stats, frozen), ts

    def reset_after(
        self, previous: NormalizeObservationState, key: jax.Array, *, options: Any = None
    ) -> tuple[NormalizeObservationState, _core.TimeStep]:
        """`reset` that keeps ``previous``'s statistics and ``frozen`` flag.

        The first observation of the new episode updates the kept statistics
        (unless frozen) and is normalised with them, as under gymnasium's
        ``NormalizeObservation``, whose statistics outlive ``reset``.
        """
        inner, ts = _core.reset_after(self.env, previous.inner, key, options=options)
        stats, ts = self._apply(previous.stats, previous.frozen, ts)
        return NormalizeObservationState(inner, stats, previous.frozen), ts

    def step(
        self, state: NormalizeObservationState, action: Any
    ) -> tuple[NormalizeObservationState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        stats, ts = self._apply(state.stats, state.frozen, ts)
        return NormalizeObservationState(inner, stats, state.frozen), ts

    def observation_spec(self) -> specs.Spec:
        element = specs.Array(self._element.shape, jnp.float32, name=self._element.name)
        return rebatch(element, self._nums)

    def render(self, state: NormalizeObservationState) -> Any:
        return self.env.render(state.inner)


@wrapper_state
class NormalizeRewardState(NamedTuple):
    """State of `NormalizeReward`.

    Attributes:
      inner: the wrapped environment's state.
      discounted_return: ``float32`` shaped like the reward: the running
        discounted return ``R_t = gamma R_{t-1} + r_t`` of the current episode.
      after_end: ``bool`` shaped like ``step_type``: the previous step ended an
        episode (``R`` restarts).
      stats: scalar `RunningMeanStd` of ``R``.
      frozen: ``bool[]``.
    """

    inner: Any
    discounted_return: jax.Array
    after_end: jax.Array
    stats: RunningMeanStd
    frozen: jax.Array


class NormalizeReward(_core.Wrapper):
    """Scales rewards by the running standard deviation of the discounted return.

    ``R_t = gamma R_{t-1} + r_t`` (restarting after every episode end: a
    ``LAST`` step, or a ``FIRST`` coming out of ``step`` under a same-step
    auto-reset); the scalar statistics of ``R`` are updated (over all batch
    entries) and ``r'_t = r_t / sqrt(var(R) + epsilon)``. Matches gymnasium 1.x
    ``NormalizeReward`` except that ``R`` restarts after truncations too (not
    only terminations).

    * TimeStep: ``reward`` scaled (``float32``); nothing else.
    * State: `NormalizeRewardState`; ``reset`` starts fresh statistics;
      `reset_after` (auto-resets) keeps the statistics and ``frozen``.
    * Specs: reward spec becomes an unbounded ``float32`` array of the same shape.

    Args:
      env: an environment with array rewards.
      gamma: discount of ``R``, in [0, 1], default 0.99.
      epsilon: added to the variance, ``1e-8``.
      freeze: start with frozen statistics.

    Raises:
      ValueError: ``gamma`` outside [0, 1] (or NaN), ``epsilon`` negative or infinite.
      TypeError: a non-array reward spec; ``gamma`` / ``epsilon`` not a real number.

    Where in a stack: outside `EpisodeStatistics` (which should see raw
    rewards) and outside the auto-reset.
    """

    def __init__(
        self,
        env: _core.Environment,
        gamma: float = 0.99,
        epsilon: float = 1e-8,
        *,
        freeze: bool = False,
    ):
        super().__init__(env)
        if not 0.0 <= _real(gamma, "gamma") <= 1.0:
            raise ValueError(f"`gamma` must be in [0, 1], got {gamma!r}")
        if not 0 <= _real(epsilon, "epsilon") < np.inf:
            raise ValueError(f"`epsilon` must be finite and >= 0, got {epsilon!r}")
        spec = env.reward_spec()
        if not isinstance(spec, specs.Array):
            raise TypeError(f"NormalizeReward needs an array reward spec, got {spec!r}")
        self._gamma = float(gamma)
        self._epsilon = float(epsilon)
        self._freeze = bool(freeze)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env!r}, gamma={self._gamma}, epsilon={self._epsilon})"
        )

    @staticmethod
    def freeze(state: NormalizeRewardState, frozen: bool = True) -> NormalizeRewardState:
        """``state`` with the statistics frozen (or unfrozen)."""
        return state._replace(frozen=jnp.asarray(frozen, bool))

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[NormalizeRewardState, _core.TimeStep]:
        inner, ts = self.env.reset(key, options=options)
        return self._start(inner, ts, init_running_mean_std(()), jnp.asarray(self._freeze, bool))

    def reset_after(
        self, previous: NormalizeRewardState, key: jax.Array, *, options: Any = None
    ) -> tuple[NormalizeRewardState, _core.TimeStep]:
        """`reset` that keeps ``previous``'s statistics and ``frozen`` flag (``R`` restarts)."""
        inner, ts = _core.reset_after(self.env, previous.inner, key, options=options)
        return self._start(inner, ts, previous.stats, previous.frozen)

    @staticmethod
    def _start(
        inner: Any, ts: _core.TimeStep, stats: RunningMeanStd, frozen: jax.Array
    ) -> tuple[NormalizeRewardState, _core.TimeStep]:
        reward = jnp.asarray(ts.reward, jnp.float32)
        state = NormalizeRewardState(
            inner, jnp.zeros_like(reward), jnp.zeros(jnp.shape(ts.step_type), bool), stats, frozen
        )
        return state, dataclasses.replace(ts, reward=reward)

    def step(
        self, state: NormalizeRewardState, action: Any
    ) -> tuple[NormalizeRewardState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        reward = jnp.asarray(ts.reward, jnp.float32)
        keep = ~broadcast_mask(state.after_end, reward)
        ret = self._gamma * jnp.where(keep, state.discounted_return, 0.0) + reward
        flat = jnp.reshape(ret, (-1,))
        updated = update_running_mean_std(state.stats, flat, 1)
        stats = jax.tree.map(
            lambda old, new: jnp.where(state.frozen, old, new), state.stats, updated
        )
        scaled = reward / jnp.sqrt(stats.var + self._epsilon)
        ended = ts.last() | (ts.first() & ~state.after_end)
        new = NormalizeRewardState(inner, ret, ended, stats, state.frozen)
        return new, dataclasses.replace(ts, reward=scaled)

    def reward_spec(self) -> specs.Spec:
        spec = self.env.reward_spec()
        assert isinstance(spec, specs.Array)  # checked in __init__
        return specs.Array(spec.shape, jnp.float32, name=spec.name)

    def render(self, state: NormalizeRewardState) -> Any:
        return self.env.render(state.inner)


def _real(value: Any, argname: str) -> float:
    """``value`` as a Python float; `TypeError` naming ``argname`` unless it is a
    real number (Python / NumPy int or float, not bool, not an array)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`{argname}` must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _check_float_reward(spec: specs.Spec, wrapper: str) -> specs.Array:
    if not isinstance(spec, specs.Array) or not jnp.issubdtype(spec.dtype, jnp.floating):
        raise TypeError(f"{wrapper} needs a floating array reward spec, got {spec!r}")
    return spec


class ClipReward(MapTimeStep):
    """Clips rewards to ``[min_reward, max_reward]`` (gymnasium 1.x ``ClipReward``).

    * TimeStep: ``reward = clip(reward, min_reward, max_reward)`` (dtype kept).
    * State: unchanged.  * Specs: reward spec becomes a `specs.BoundedArray`
      with these bounds (shape and dtype kept).

    Args:
      env: an environment with floating array rewards.
      min_reward: lower bound or ``None`` (-inf).
      max_reward: upper bound or ``None`` (+inf).

    Raises:
      ValueError: both bounds ``None``; a NaN bound (every comparison with NaN
        is false, so ``jnp.clip`` would return NaN rewards); ``min_reward =
        +inf`` or ``max_reward = -inf`` (every reward infinite); or
        ``min_reward > max_reward``.
      TypeError: a bound that is not a real number; a non-floating or
        non-array reward spec.

    Where in a stack: outside `EpisodeStatistics` to report raw returns.
    """

    def __init__(
        self,
        env: _core.Environment,
        min_reward: float | None = None,
        max_reward: float | None = None,
    ):
        super().__init__(env)
        if min_reward is None and max_reward is None:
            raise ValueError("ClipReward: `min_reward` and `max_reward` are both None")
        low = -np.inf if min_reward is None else _real(min_reward, "min_reward")
        high = np.inf if max_reward is None else _real(max_reward, "max_reward")
        if np.isnan(low) or low == np.inf:
            raise ValueError(f"`min_reward` must be a number < inf or None, got {min_reward!r}")
        if np.isnan(high) or high == -np.inf:
            raise ValueError(f"`max_reward` must be a number > -inf or None, got {max_reward!r}")
        if low > high:
            raise ValueError(f"`min_reward`={low} is greater than `max_reward`={high}")
        self._spec = _check_float_reward(env.reward_spec(), "ClipReward")
        self._low, self._high = low, high

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(env={self.env!r}, min_reward={self._low}, max_reward={self._high})"

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep with its reward clipped."""
        reward = timestep.reward
        clipped = jnp.clip(reward, self._low, self._high).astype(jnp.result_type(reward))
        return dataclasses.replace(timestep, reward=clipped)

    def reward_spec(self) -> specs.Spec:
        s = self._spec
        return specs.BoundedArray(s.shape, s.dtype, self._low, self._high, name=s.name)


class ScaleReward(MapTimeStep):
    """Multiplies rewards by a constant ``scale`` (brax / gymnax style reward scaling).

    * TimeStep: ``reward = scale * reward`` (dtype kept).  * State: unchanged.
    * Specs: reward spec keeps shape and dtype; bounds of a `specs.BoundedArray`
      are scaled (and swapped for a negative ``scale``).

    Args:
      env: an environment with floating array rewards.
      scale: a finite Python float.

    Raises:
      ValueError: non-finite ``scale``.
      TypeError: ``scale`` not a real number; a non-floating reward spec.
    """

    def __init__(self, env: _core.Environment, scale: float):
        super().__init__(env)
        if not np.isfinite(_real(scale, "scale")):
            raise ValueError(f"`scale` must be finite, got {scale!r}")
        self._spec = _check_float_reward(env.reward_spec(), "ScaleReward")
        self._scale = float(scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, scale={self._scale})"

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep with its reward scaled."""
        reward = (timestep.reward * self._scale).astype(jnp.result_type(timestep.reward))
        return dataclasses.replace(timestep, reward=reward)

    def reward_spec(self) -> specs.Spec:
        s = self._spec
        if isinstance(s, specs.BoundedArray) and not isinstance(s, specs.DiscreteArray):
            a, b = s.minimum * self._scale, s.maximum * self._scale
            return specs.BoundedArray(
                s.shape, s.dtype, np.minimum(a, b), np.maximum(a, b), name=s.name
            )
        return specs.Array(s.shape, s.dtype, name=s.name)
