"""`StopGradient` and `TransformReward`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.wrappers._base import MapTimeStep
from jit_env.wrappers._observation import _check_conforms


def _stop(tree: Any) -> Any:
    def stop(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact):
            return jax.lax.stop_gradient(x)
        return x

    return jax.tree.map(stop, tree)


class StopGradient(MapTimeStep):
    """Blocks gradients through the environment (jit_env 0.1.5 ``StopGradient``).

    * ``reset`` / ``step``: every floating leaf of the returned state and
      TimeStep (extras included) goes through ``jax.lax.stop_gradient``; keys
      and integer leaves pass unchanged. Values, structure and specs unchanged.

    Args:
      env: any environment (e.g. a differentiable physics simulator whose
        gradients an agent must not see).
    """

    def map_output(self, state: Any, timestep: _core.TimeStep) -> tuple[Any, _core.TimeStep]:
        """``state`` and ``timestep`` with gradients stopped in every floating leaf."""
        return _stop((state, timestep))


class TransformReward(MapTimeStep):
    """Applies a pure function to every reward (gymnasium 1.x ``TransformReward``).

    * TimeStep: ``reward = fn(reward)`` on ``reset`` and ``step``.
    * State: unchanged.  * Specs: ``reward_spec`` is the given spec.

    Args:
      env: any environment.
      fn: pure, jittable function of the reward.
      reward_spec: spec of ``fn``'s output, or ``None`` to keep
        ``env.reward_spec()`` (then ``fn`` must keep shape and dtype).

    Raises:
      TypeError: non-callable ``fn`` or non-Spec ``reward_spec``.
      ValueError: at construction, if ``fn(env.reward_spec().generate_value())``
        does not match ``reward_spec`` in structure, shape and dtype.
    """

    def __init__(
        self,
        env: _core.Environment,
        fn: Callable[[Any], Any],
        reward_spec: specs.Spec | None = None,
    ):
        super().__init__(env)
        if not callable(fn):
            raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
        spec = env.reward_spec() if reward_spec is None else reward_spec
        if not isinstance(spec, specs.Spec):
            raise TypeError(f"`reward_spec` must be a Spec, got {type(spec).__name__}")
        out = jax.eval_shape(fn, env.reward_spec().generate_value())
        _check_conforms(out, spec, "reward_spec", "fn")
        self._fn = fn
        self._spec = spec

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep with ``reward = fn(reward)``."""
        return dataclasses.replace(timestep, reward=self._fn(timestep.reward))

    def reward_spec(self) -> specs.Spec:
        return self._spec
