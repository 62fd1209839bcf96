"""Shared pieces of the bsuite environments: input checks and end-of-step TimeSteps.

Private: the environments in this package use these so that every one checks
its ``action`` and ``options`` the same way and builds its TimeStep with
`jit_env.termination` / `jit_env.transition`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core

_Params = TypeVar("_Params", bound=NamedTuple)


def check_discrete_action(action: Any, env_name: str) -> jax.Array:
    """Returns ``action`` as an integer array after static checks.

    Args:
      action: a scalar integer (Python ``int`` or an integer array of shape
        ``[]``).
      env_name: used in the error message.

    Raises:
      ValueError: if ``action`` is not a scalar.
      TypeError: if ``action`` is not of an integer dtype (no silent cast).
    """
    if isinstance(action, bool) or not isinstance(action, (int, np.integer, jax.Array, np.ndarray)):
        raise TypeError(
            f"{env_name}.step: `action` must be an integer scalar, got {type(action).__name__}"
        )
    shape = jnp.shape(action)
    if shape != ():
        raise ValueError(f"{env_name}.step: `action` must have shape (), got {shape}")
    dtype = jnp.result_type(action)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{env_name}.step: `action` must have an integer dtype, got {dtype}")
    return jnp.asarray(action)


def canonical_params(
    options: Any, params_type: type[_Params], dtypes: dict[str, Any], env_name: str
) -> _Params:
    """Checks ``options`` and casts every field to its documented dtype.

    Casting here (``float32`` / ``int32`` / ``bool``, never weakly typed) is
    what keeps the state's dtypes identical between a ``reset`` with default
    options and any later ``step``, so a jitted step traces once. The cast is
    of the *kind* the field is documented to have (a Python ``0.01`` becomes
    ``float32``); a value of another kind (a float where an ``int32`` is
    expected) raises instead.

    Args:
      options: ``None`` (the defaults) or an instance of ``params_type`` whose
        fields are scalars.
      params_type: the environment's parameter NamedTuple class.
      dtypes: field name -> dtype.
      env_name: used in the error message.

    Raises:
      TypeError: if ``options`` is not ``None`` or a ``params_type``, or a
        field's kind does not match (e.g. a float for an integer field).
      ValueError: if a field is not a scalar.
    """
    # mypy types a call of ``type[NamedTuple]`` as the functional ``NamedTuple(...)`` form.
    construct = cast("Callable[..., _Params]", params_type)
    if options is None:
        options = construct()
    if not isinstance(options, params_type):
        raise TypeError(
            f"{env_name}.reset: `options` must be None or a {params_type.__name__}, "
            f"got {type(options).__name__}"
        )
    fields = {}
    for name, value in options._asdict().items():
        shape = jnp.shape(value)
        if shape != ():
            raise ValueError(
                f"{env_name}.reset: `options.{name}` must be a scalar, got shape {shape}"
            )
        want = np.dtype(dtypes[name])
        have = jnp.result_type(value)
        compatible = (
            (want == np.bool_ and have == np.bool_)
            or (jnp.issubdtype(want, jnp.integer) and jnp.issubdtype(have, jnp.integer))
            or (jnp.issubdtype(want, jnp.floating) and jnp.issubdtype(have, jnp.number))
        )
        if not compatible:
            raise TypeError(
                f"{env_name}.reset: `options.{name}` must be {want.name}-like, got dtype {have}"
            )
        fields[name] = jnp.asarray(value, dtype=want)
    return construct(**fields)


def end_or_continue(done: jax.Array, reward: jax.Array, observation: jax.Array) -> _core.TimeStep:
    """``termination(...)`` where ``done`` else ``transition(...)``, elementwise.

    Args:
      done: bool, shape ``[]``: the episode terminates on this step.
      reward: float32, shape ``[]``.
      observation: the observation of this step.

    Returns:
      A TimeStep with ``step_type`` LAST and discount 0 where ``done``, MID and
      discount 1 elsewhere (dm_env's termination / transition).
    """
    reward = jnp.asarray(reward, jnp.float32)
    last = _core.termination(reward, observation)
    mid = _core.transition(reward, observation)
    return jax.tree.map(lambda a, b: jnp.where(done, a, b), last, mid)
