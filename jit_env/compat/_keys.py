"""PRNG-key handling shared by the stateful adapters."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import prng


def as_key(key: Any, argument: str) -> jax.Array:
    """A PRNG key from an ``int`` seed or an existing key.

    Args:
      key: an ``int`` seed (-> ``jit_env.prng.key(seed)``: the draws of
        ``jax.random.key(seed)``, threefry2x32, with the hash unrolled, which
        the adapters' one-step programs run several times faster on a CPU), a
        typed key of any implementation (kept), or a legacy ``uint32[2]`` key.
      argument: the argument's name, for error messages.

    Raises:
      TypeError: if ``key`` is neither an int nor a scalar PRNG key.
    """
    if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, bool):
        return prng.key(int(key))
    # NumPy has no PRNG key dtypes, so a typed key is always a jax.Array.
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise TypeError(f"`{argument}` must be a scalar typed key, got shape {key.shape}")
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jnp.asarray(key)
    raise TypeError(
        f"`{argument}` must be an int seed, a typed PRNG key or a legacy uint32[2] key, "
        f"got {type(key).__name__}: {key!r}"
    )


def split_chain(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(next_chain_key, reset_key)``: one split of an adapter's key chain.

    Every adapter (`to_dm_env`, `to_gymnasium`, `to_gymnasium_vector`) derives
    the key of its n-th reset this way, so that the same seed gives the same
    episodes in all of them.
    """
    chain, reset_key = jax.random.split(key)
    return chain, reset_key


def check_seed(seed: Any, argument: str = "seed") -> int:
    """Validates a gymnasium-style seed: an int in ``[0, 2**32)``.

    JAX (without x64) keeps only the low 32 bits of a seed, so larger seeds
    are refused rather than silently truncated.

    Raises:
      TypeError: if ``seed`` is not an int.
      ValueError: if ``seed`` is outside ``[0, 2**32)``.
    """
    if not isinstance(seed, (numbers.Integral, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"`{argument}` must be an int, got {type(seed).__name__}: {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"`{argument}` must be in [0, 2**32), got {seed}")
    return int(seed)
