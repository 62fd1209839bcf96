"""`EpisodeStatistics`: returns and lengths of finished episodes in ``extras``."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core
from jit_env._pytrees import broadcast_mask, wrapper_state


@wrapper_state
class EpisodeStatisticsState(NamedTuple):
    """State of `EpisodeStatistics` (arrays shaped like the reward, or like
    ``step_type`` for lengths and flags).

    Attributes:
      inner: the wrapped environment's state.
      episode_return: ``float32``, return of the running episode so far.
      episode_length: ``int32``, transitions of the running episode so far.
      last_return: ``float32``, return of the most recently finished episode
        (0 before the first one finishes).
      last_length: ``int32``, its length.
      after_last: ``bool``, the previous TimeStep was ``LAST`` (so a ``FIRST``
        coming out of ``step`` starts an episode rather than ending one).
    """

    inner: Any
    episode_return: jax.Array
    episode_length: jax.Array
    last_return: jax.Array
    last_length: jax.Array
    after_last: jax.Array


class EpisodeStatistics(_core.Wrapper):
    """Records the return and length of every finished episode (correct under
    truncation and auto-reset, single or batched).

    * TimeStep: ``extras`` gains, on ``reset`` and on every ``step``:

      - ``"episode_return"``: ``float32`` shaped like the reward — the
        undiscounted return of the most recently finished episode;
      - ``"episode_length"``: ``int32`` shaped like ``step_type`` — its number
        of transitions (``step`` calls);
      - ``"episode_done"``: ``bool`` shaped like ``step_type`` — an episode
        finished on this step.

      Extras of the environment are kept. Nothing else changes.
    * State: `EpisodeStatisticsState`.
    * Specs: unchanged.

    An episode ends at a ``step`` that returns ``LAST`` (termination or
    truncation; also the ``"next_step"`` auto-reset mode, whose following
    ``FIRST`` is then not counted), or that returns ``FIRST`` right after a
    non-``LAST`` TimeStep (``"same_step"`` auto-reset: that step's reward is
    the terminal reward and is counted).

    Does the job of gymnasium 1.x ``RecordEpisodeStatistics`` / gymnax
    ``LogWrapper``.

    Args:
      env: any environment (single or batched, auto-resetting or not).

    Where in a stack: the recommended place is OUTSIDE the auto-reset:
    ``EpisodeStatistics(VmapAutoReset(TimeLimit(env, T), num))`` — then
    ``episode_return`` / ``episode_length`` hold the last finished episode on
    every step. Inside it (``VmapAutoReset(EpisodeStatistics(TimeLimit(env)))``)
    the same holds: the auto-reset starts the next episode with `reset_after`,
    which keeps ``last_return`` / ``last_length``.
    It must be outside `TimeLimit` (inside, truncations are invisible) and
    inside reward transformations (`NormalizeReward`, `ScaleReward`…) to report
    raw returns.
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r})"

    @staticmethod
    def _extras(ts: _core.TimeStep, ret: jax.Array, length: jax.Array, done: jax.Array) -> dict:
        extras = dict(ts.extras or {})
        extras["episode_return"] = ret
        extras["episode_length"] = length
        extras["episode_done"] = done
        return extras

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[EpisodeStatisticsState, _core.TimeStep]:
        state, ts = self.env.reset(key, options=options)
        ret = jnp.zeros(jnp.shape(ts.reward), jnp.float32)
        length = jnp.zeros(jnp.shape(ts.step_type), jnp.int32)
        return self._start(state, ts, ret, length)

    def reset_after(
        self, previous: EpisodeStatisticsState, key: jax.Array, *, options: Any = None
    ) -> tuple[EpisodeStatisticsState, _core.TimeStep]:
        """`reset` that keeps ``previous``'s ``last_return`` / ``last_length``
        (the running episode restarts at 0)."""
        state, ts = _core.reset_after(self.env, previous.inner, key, options=options)
        return self._start(state, ts, previous.last_return, previous.last_length)

    def _start(
        self, state: Any, ts: _core.TimeStep, last_return: jax.Array, last_length: jax.Array
    ) -> tuple[EpisodeStatisticsState, _core.TimeStep]:
        ret = jnp.zeros(jnp.shape(ts.reward), jnp.float32)
        length = jnp.zeros(jnp.shape(ts.step_type), jnp.int32)
        done = jnp.zeros(jnp.shape(ts.step_type), bool)
        new = EpisodeStatisticsState(state, ret, length, last_return, last_length, done)
        extras = self._extras(ts, last_return, last_length, done)
        return new, dataclasses.replace(ts, extras=extras)

    def step(
        self, state: EpisodeStatisticsState, action: Any
    ) -> tuple[EpisodeStatisticsState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        first, last = ts.first(), ts.last()
        ended = last | (first & ~state.after_last)
        fresh = first & state.after_last
        reward = jnp.asarray(ts.reward, jnp.float32)
        ret = jnp.where(broadcast_mask(fresh, reward), 0.0, state.episode_return + reward)
        length = jnp.where(fresh, 0, state.episode_length + 1)
        ended_r = broadcast_mask(ended, reward)
        last_return = jnp.where(ended_r, ret, state.last_return)
        last_length = jnp.where(ended, length, state.last_length)
        new = EpisodeStatisticsState(
            inner,
            jnp.where(ended_r, 0.0, ret),
            jnp.where(ended, 0, length),
            last_return,
            last_length,
            last,
        )
        extras = self._extras(ts, last_return, last_length, ended)
        return new, dataclasses.replace(ts, extras=extras)

    def render(self, state: EpisodeStatisticsState) -> Any:
        return self.env.render(state.inner)
