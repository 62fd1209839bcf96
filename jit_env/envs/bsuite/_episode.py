"""Shared piece of the bsuite (and MinAtar) environments: the ``options`` check.

Private: the environments in this package use it so that every one checks its
``options`` the same way; discrete actions and TimeSteps are
`jit_env.envs._steps`'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import jax.numpy as jnp
import numpy as np

_Params = TypeVar("_Params", bound=NamedTuple)


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
