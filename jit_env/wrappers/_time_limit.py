"""`TimeLimit`: truncates episodes after a number of steps (gymnasium ``TimeLimit``)."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core
from jit_env._pytrees import wrapper_state

_MAX_STEPS = int(np.iinfo(np.int32).max)


@wrapper_state
class TimeLimitState(NamedTuple):
    """State of `TimeLimit`.

    Attributes:
      inner: the wrapped environment's state.
      elapsed: ``int32`` (``[B]`` under ``vmap``): steps taken in this episode.

    ``key`` and ``params`` read through to ``inner`` so that outer wrappers
    (`AutoReset`) find them.
    """

    inner: Any
    elapsed: jax.Array


class TimeLimit(_core.Wrapper):
    """Ends an episode with a truncation after ``max_episode_steps`` steps.

    * TimeStep: on the ``max_episode_steps``-th ``step`` of an episode that the
      environment did not end itself, ``step_type`` becomes ``LAST`` and the
      reward, the environment's own discount (not 0: agents bootstrap) and the
      observation (the final observation) are kept. A termination on the same
      step stays a termination (discount 0). Nothing else changes.
    * State: `TimeLimitState` (inner state + ``elapsed`` step counter).
    * Specs: unchanged.

    Matches gymnasium 1.x ``TimeLimit`` (``truncated`` after
    ``max_episode_steps`` calls of ``step``) in dm_env's vocabulary.

    Args:
      env: a single environment (or one already batched: ``elapsed`` then
        takes the batch shape of ``step_type``).
      max_episode_steps: positive int.

    Raises:
      ValueError: if ``max_episode_steps`` is not a positive int, or exceeds
        ``2**31 - 1`` (the ``int32`` step counter; larger limits overflowed at
        the first step).

    Where in a stack: directly around the environment, inside `AutoReset` /
    `VmapAutoReset` (so a truncated episode is reset) — `jit_env.make` adds it.
    """

    def __init__(self, env: _core.Environment, max_episode_steps: int):
        super().__init__(env)
        if (
            isinstance(max_episode_steps, (bool, np.bool_))
            or not isinstance(max_episode_steps, (int, np.integer))
            or max_episode_steps < 1
        ):
            raise ValueError(
                f"`max_episode_steps` must be a positive int, got {max_episode_steps!r}"
            )
        if max_episode_steps > _MAX_STEPS:
            raise ValueError(
                f"`max_episode_steps` must be <= {_MAX_STEPS} (the step counter is int32), "
                f"got {max_episode_steps!r}"
            )
        self._max_episode_steps = int(max_episode_steps)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env!r}, max_episode_steps={self._max_episode_steps})"
        )

    @property
    def max_episode_steps(self) -> int:
        """The number of steps after which an episode is truncated."""
        return self._max_episode_steps

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[TimeLimitState, _core.TimeStep]:
        state, ts = self.env.reset(key, options=options)
        return TimeLimitState(state, jnp.zeros(jnp.shape(ts.step_type), jnp.int32)), ts

    def reset_after(
        self, previous: TimeLimitState, key: jax.Array, *, options: Any = None
    ) -> tuple[TimeLimitState, _core.TimeStep]:
        """`reset` after ``previous``: the step counter restarts; the inner state
        goes through `jit_env.reset_after`."""
        state, ts = _core.reset_after(self.env, previous.inner, key, options=options)
        return TimeLimitState(state, jnp.zeros(jnp.shape(ts.step_type), jnp.int32)), ts

    def step(self, state: TimeLimitState, action: Any) -> tuple[TimeLimitState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        elapsed = state.elapsed + 1
        truncate = elapsed >= self._max_episode_steps
        step_type = jnp.where(
            truncate, jnp.asarray(_core.StepType.LAST, ts.step_type.dtype), ts.step_type
        )
        return TimeLimitState(inner, elapsed), dataclasses.replace(ts, step_type=step_type)

    def render(self, state: TimeLimitState) -> Any:
        return self.env.render(state.inner)
