"""What the native environments share: the ``options`` and discrete-action checks and the TimeStep.

Private. The classic-control, bsuite and MinAtar environments check their
``options`` and a discrete ``action`` and build their TimeStep through these
functions, so the error messages, the dtypes of the state (never weakly typed:
a jitted step traces once) and the termination convention (dm_env's
``termination`` / ``transition``) are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core


def canonical_params(
    options: Any, default: Any, env_name: str, dtypes: dict[str, Any] | None = None
) -> Any:
    """Checks ``options`` and casts every field to a strong dtype of its kind.

    Args:
      options: ``None`` (use ``default``) or an instance of the parameter
        NamedTuple whose fields are scalars (Python numbers or arrays of shape
        ``[]``; under ``jax.vmap`` each field is batched separately).
      default: the environment's default parameters (an instance), or the
        NamedTuple class, whose no-argument construction gives them.
      env_name: used in error messages.
      dtypes: field name -> dtype (``float32`` / ``int32`` / ``bool``); a value
        is cast to its field's dtype only when of the same kind (a Python
        ``0.01`` becomes ``float32``; a float for an ``int32`` field raises).
        ``None``: every field is a real number cast to ``float32``.

    Returns:
      the parameter NamedTuple with every field an array of shape ``[]``.

    Raises:
      TypeError: if ``options`` is not ``None`` or of the parameter type, or a
        field's kind does not match (a bool, complex or key where a real
        number is expected; a float for an integer field).
      ValueError: if a field is not a scalar.
    """
    if isinstance(default, type):
        # mypy types a call of ``type[NamedTuple]`` as the functional ``NamedTuple(...)`` form.
        default = cast("Callable[..., Any]", default)()
    params_type = type(default)
    if options is None:
        options = default
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
                f"{env_name}.reset: `options.{name}` must be a scalar (vmap over a batch of "
                f"params for domain randomisation), got shape {shape}"
            )
        want = np.dtype(jnp.float32 if dtypes is None else dtypes[name])
        have = jnp.result_type(value)
        if jnp.issubdtype(want, jnp.floating):
            compatible = have != np.bool_ and (
                jnp.issubdtype(have, jnp.floating) or jnp.issubdtype(have, jnp.integer))
        elif want == np.bool_:
            compatible = have == np.bool_
        else:
            compatible = have != np.bool_ and jnp.issubdtype(have, jnp.integer)
        if not compatible:
            kind = "a real number" if dtypes is None else f"{want.name}-like"
            raise TypeError(
                f"{env_name}.reset: `options.{name}` must be {kind}, got dtype {have}"
            )
        fields[name] = jnp.asarray(value, dtype=want)
    return default._replace(**fields)


def discrete_action(action: Any, env_name: str) -> jax.Array:
    """Returns ``action`` as an ``int32`` array after static checks.

    Args:
      action: an integer scalar (Python ``int`` or an integer array of shape
        ``[]``).
      env_name: used in error messages.

    Raises:
      TypeError: if ``action`` is not of an integer dtype (a float action is
        never silently truncated).
      ValueError: if ``action`` is not a scalar.
    """
    if isinstance(action, bool) or not isinstance(action, (int, np.integer, np.ndarray, jax.Array)):
        raise TypeError(
            f"{env_name}.step: `action` must be an integer scalar, got {type(action).__name__}"
        )
    shape = jnp.shape(action)
    if shape != ():
        raise ValueError(f"{env_name}.step: `action` must have shape (), got {shape}")
    dtype = jnp.result_type(action)
    if dtype == np.bool_ or not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{env_name}.step: `action` must have an integer dtype, got {dtype}")
    return jnp.asarray(action, dtype=jnp.int32)


def end_or_continue(
    terminated: jax.Array, reward: jax.Array, observation: jax.Array
) -> _core.TimeStep:
    """`jit_env.termination` where ``terminated`` else `jit_env.transition`.

    Args:
      terminated: bool, shape ``[]``.
      reward: floating, shape ``[]`` (cast to a strong ``float32``).
      observation: the observation of this step.

    Returns:
      A TimeStep: ``LAST`` with discount 0 where ``terminated``, ``MID`` with
      discount 1 elsewhere.
    """
    return _core.last_where(terminated, reward, jnp.where(terminated, 0.0, 1.0), observation)
