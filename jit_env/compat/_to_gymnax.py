"""`ToGymnax`: a jit_env environment as a gymnax ``Environment`` (built by `to_gymnax`).

This module imports gymnax at import time; `jit_env.compat.to_gymnax`
imports it only when called, after checking that gymnax is installed.

Reference: gymnax 1.0.1 ``gymnax/environments/environment.py`` (the base
class: ``step`` calls ``step_env``, then ``is_truncated``, computes
``reset_env`` and selects it where ``terminated or truncated``, returning
``(obs, state, reward, terminated, truncated, info)`` with the pre-reset
observation in ``info["final_observation"]``) and
``gymnax/environments/spaces.py`` (``Discrete(n, dtype=int32|int64)``,
``Box(low, high, shape, dtype)``, ``Dict``, ``Tuple``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import environment as gymnax_environment
from gymnax.environments import spaces as gymnax_spaces

from jit_env import _core, specs


class ToGymnaxState(NamedTuple):
    """The gymnax state of a `to_gymnax` environment.

    Attributes:
      env_state: the jit_env environment's own state (its parameters, the
        ``options`` of its ``reset``, and its PRNG key included).
      truncated: ``bool[]``, whether the step that produced this state ended
        the episode by truncation (gymnax's ``is_truncated`` reads it).
    """

    env_state: Any
    truncated: jax.Array


def _box_bounds(spec: specs.Array) -> tuple[np.ndarray, np.ndarray]:
    shape, dtype = tuple(spec.shape), np.dtype(spec.dtype)
    if isinstance(spec, specs.BoundedArray):
        low, high = np.asarray(spec.minimum), np.asarray(spec.maximum)
    elif dtype == np.bool_:
        low, high = np.asarray(False), np.asarray(True)
    elif np.issubdtype(dtype, np.integer):
        low, high = np.asarray(np.iinfo(dtype).min), np.asarray(np.iinfo(dtype).max)
    elif np.issubdtype(dtype, np.floating):
        low, high = np.asarray(-np.inf), np.asarray(np.inf)
    else:
        raise TypeError(f"spec {spec!r} has dtype {dtype}; a gymnax Box holds bool, integers "
                        "or floats")
    return (np.broadcast_to(low, shape).astype(dtype), np.broadcast_to(high, shape).astype(dtype))


def spec_to_gymnax_space(spec: Any) -> gymnax_spaces.Space:
    """A jit_env spec as a gymnax space.

    ``DiscreteArray(n)`` (scalar, int32 / int64) → ``Discrete(n, dtype)``;
    ``BoundedArray`` → ``Box(minimum, maximum, shape, dtype)``; an unbounded
    ``Array`` → ``Box`` over ±inf (floats), the dtype's ``iinfo`` range
    (integers) or ``[False, True]``; ``Tuple`` / ``Dict`` → gymnax ``Tuple`` /
    ``Dict``; a spec for a dict or tuple tree likewise.

    Raises:
      TypeError: for a multi-dimensional ``DiscreteArray`` or one of another
        dtype than int32 / int64 (gymnax's ``Discrete`` holds only those), a
        complex or other non-numeric dtype, or a tree that is not a dict /
        tuple / list (each naming the spec).
    """
    if isinstance(spec, specs.DiscreteArray):
        num_values = np.asarray(spec.num_values)
        dtype = np.dtype(spec.dtype)
        if num_values.shape != () or dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise TypeError(
                f"spec {spec!r}: gymnax's Discrete holds one int32 / int64 value; got "
                f"num_values of shape {num_values.shape} and dtype {dtype}"
            )
        return gymnax_spaces.Discrete(int(num_values), dtype=dtype)
    if isinstance(spec, specs.Array):
        low, high = _box_bounds(spec)
        return gymnax_spaces.Box(low, high, tuple(spec.shape), np.dtype(spec.dtype))
    if isinstance(spec, specs.Spec):
        unpacked = specs.unpack_spec(spec)
        if isinstance(unpacked, specs.Spec) and not isinstance(unpacked, specs.CompositeSpec):
            return spec_to_gymnax_space(unpacked)
        spec = unpacked
    if isinstance(spec, dict):
        return gymnax_spaces.Dict({k: spec_to_gymnax_space(v) for k, v in spec.items()})
    if isinstance(spec, (tuple, list)):
        return gymnax_spaces.Tuple([spec_to_gymnax_space(v) for v in spec])
    raise TypeError(f"spec {spec!r} ({type(spec).__name__}) has no gymnax space: only "
                    "primitive specs and dict / tuple trees of them")


class ToGymnax(gymnax_environment.Environment):
    """A jit_env environment behind gymnax's ``Environment`` interface (see `to_gymnax`).

    Args:
      env: a `jit_env.Environment` that does not reset itself.
      params: the ``options`` its ``reset`` gets when gymnax passes
        ``params=None`` (gymnax's ``default_params``).
    """

    def __init__(self, env: _core.Environment, params: Any = None):
        super().__init__()
        self._env = env
        self._params = params
        self._observation_space = spec_to_gymnax_space(env.observation_spec())
        self._action_space = spec_to_gymnax_space(env.action_spec())

    @property
    def env(self) -> _core.Environment:
        """The wrapped jit_env environment."""
        return self._env

    @property
    def default_params(self) -> Any:
        """The ``params`` given to `to_gymnax` (``None``: the environment's defaults)."""
        return self._params

    def reset_env(self, key: jax.Array, params: Any) -> tuple[Any, ToGymnaxState]:
        """``env.reset(key, options=params)``: its observation and a `ToGymnaxState`."""
        env_state, timestep = self._env.reset(key, options=params)
        return timestep.observation, ToGymnaxState(env_state, jnp.zeros((), bool))

    def step_env(self, key: jax.Array, state: ToGymnaxState, action: Any, params: Any
                 ) -> tuple[Any, ToGymnaxState, jax.Array, jax.Array, dict[str, Any]]:
        """``env.step(state.env_state, action)`` as gymnax's ``step_env`` 5-tuple.

        ``key`` and ``params`` are not used: the jit_env state holds its key and
        the parameters it was reset with. ``terminated`` is ``LAST`` with
        discount 0; a ``LAST`` with another discount is a truncation, stored in
        the state for `is_truncated`. ``info`` holds the TimeStep's
        ``discount`` and, when not ``None``, its ``extras``.
        """
        del key, params
        env_state, timestep = self._env.step(state.env_state, action)
        last = timestep.last()
        terminated = jnp.logical_and(last, timestep.discount == 0)
        truncated = jnp.logical_and(last, jnp.logical_not(terminated))
        info: dict[str, Any] = {"discount": timestep.discount}
        if timestep.extras is not None:
            info["extras"] = timestep.extras
        return (timestep.observation, ToGymnaxState(env_state, truncated), timestep.reward,
                terminated, info)

    def is_truncated(self, state: ToGymnaxState, params: Any) -> jax.Array:
        """Whether the step that produced ``state`` was a truncation (``LAST``, discount > 0)."""
        del params
        return state.truncated

    def is_terminated(self, state: ToGymnaxState, params: Any) -> jax.Array:
        """Not known from a state alone: jit_env reports termination in the TimeStep.

        Raises:
          NotImplementedError: always; ``step`` returns ``terminated``.
        """
        raise NotImplementedError("to_gymnax: termination is returned by `step`, not derived "
                                  "from a state")

    def observation_space(self, params: Any) -> gymnax_spaces.Space:
        """The observation spec as a gymnax space (`spec_to_gymnax_space`)."""
        del params
        return self._observation_space

    def action_space(self, params: Any) -> gymnax_spaces.Space:
        """The action spec as a gymnax space (`spec_to_gymnax_space`)."""
        del params
        return self._action_space

    @property
    def num_actions(self) -> int:
        """``n`` of a ``Discrete`` action space, the number of elements of a ``Box``.

        Raises:
          NotImplementedError: for a ``Dict`` / ``Tuple`` action space.
        """
        space = self._action_space
        if isinstance(space, gymnax_spaces.Discrete):
            return int(space.n)
        if isinstance(space, gymnax_spaces.Box):
            return int(np.prod(space.shape))
        raise NotImplementedError(f"to_gymnax: no num_actions for a {type(space).__name__} "
                                  "action space")

    @property
    def name(self) -> str:
        """The jit_env environment's ``str``."""
        return str(self._env)

    def __repr__(self) -> str:
        return f"to_gymnax({self._env!r})"
