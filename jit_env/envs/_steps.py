"""What every native environment's ``step`` shares: the discrete-action check and the TimeStep.

Private. The classic-control, bsuite and MinAtar environments check a discrete
``action`` and build their TimeStep through these two functions, so the error
messages, the dtypes (a jitted step traces once) and the termination
convention (dm_env's ``termination`` / ``transition``) are the same everywhere.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core


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
