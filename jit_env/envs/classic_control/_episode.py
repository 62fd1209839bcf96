"""Shared pieces of the classic-control environments: ``options`` and continuous actions.

Private. Every environment in this package checks its ``options`` and its
continuous ``action`` through these functions, so the error messages and the
dtypes of the state (``float32``, never weakly typed: a jitted step traces
once) are the same everywhere; discrete actions and TimeSteps are
`jit_env.envs._steps`'.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def continuous_action(action: Any, env_name: str) -> jax.Array:
    """Returns the scalar inside a ``[1]``-shaped floating action, as ``float32``.

    Args:
      action: a floating array of shape ``[1]`` (gymnasium's ``Box(shape=(1,))``).
      env_name: used in error messages.

    Raises:
      TypeError: if ``action`` is not a floating array (an integer action is
        not silently converted).
      ValueError: if ``action`` does not have shape ``(1,)``.
    """
    if not isinstance(action, (np.ndarray, jax.Array)):
        raise TypeError(
            f"{env_name}.step: `action` must be a float32 array of shape (1,), "
            f"got {type(action).__name__}"
        )
    if action.shape != (1,):
        raise ValueError(f"{env_name}.step: `action` must have shape (1,), got {action.shape}")
    if not jnp.issubdtype(action.dtype, jnp.floating):
        raise TypeError(f"{env_name}.step: `action` must have a floating dtype, got {action.dtype}")
    return jnp.asarray(action[0], dtype=jnp.float32)


def uniform(
    key: jax.Array, shape: tuple[int, ...], low: jax.typing.ArrayLike, high: jax.typing.ArrayLike
) -> jax.Array:
    """``float32`` uniform draws in ``[low, high)`` (numpy ``Generator.uniform``'s law)."""
    return jax.random.uniform(key, shape, jnp.float32, minval=low, maxval=high)
