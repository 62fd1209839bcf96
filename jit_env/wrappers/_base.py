"""`MapTimeStep`: the base of the wrappers that transform every TimeStep with one function."""

from __future__ import annotations

from typing import Any

import jax

from jit_env import _core


class MapTimeStep(_core.Wrapper):
    """A wrapper that keeps the inner state and passes every ``(state, timestep)``
    that ``reset``, ``reset_after`` and ``step`` return through `map_output`.

    Subclasses override `map_timestep` (the TimeStep only) or `map_output` (the
    state as well, e.g. `StopGradient`); specs they change are overridden as
    usual. `jit_env.reset_after` keeps the inner wrappers' state across
    episodes, since the state is the inner state.
    """

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep this wrapper returns for the inner ``timestep`` (identity here)."""
        return timestep

    def map_output(self, state: Any, timestep: _core.TimeStep) -> tuple[Any, _core.TimeStep]:
        """``(state, map_timestep(timestep))``; override to change the state too."""
        return state, self.map_timestep(timestep)

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return self.map_output(*self.env.reset(key, options=options))

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        return self.map_output(*_core.reset_after(self.env, previous, key, options=options))

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self.map_output(*self.env.step(state, action))
