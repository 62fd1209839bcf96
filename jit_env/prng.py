"""``threefry2x32_unrolled``: JAX's default PRNG, bit for bit, without its CPU loop.

On the CPU backend JAX lowers the Threefry-2x32 hash (Salmon et al. 2011,
"Parallel random numbers: as easy as 1, 2, 3", 20 rounds) as a rolled
5-iteration ``while`` loop, and XLA:CPU copies the loop state on every
iteration. A batched auto-reset hashes a few hundred keys per step three times
(the reset key, the environment's ``split``, its ``uniform`` draw), so on a
CPU the loop's copies cost more than the hashing. What keys of this
implementation save is measured by ``benchmarks/wrappers_bench.py --prng
unrolled`` and ``benchmarks/envs_bench.py`` (``unrolled`` column); the numbers
are in README.md and ``benchmarks/RESULTS.md``.

`THREEFRY_UNROLLED` is a JAX PRNG implementation (``jax.random.key(seed,
impl=THREEFRY_UNROLLED)``) whose ``split``, ``fold_in`` and ``random_bits``
are JAX's ``threefry2x32`` ones in ``jax_threefry_partitionable`` mode (the
default since JAX 0.5), with the hash written as straight-line ``jnp`` integer
ops (JAX's own unrolled lowering, used on GPU), which XLA fuses into one
kernel. Every draw — ``split``, ``fold_in``, ``bits``, ``uniform``,
``normal``, ``randint``… — equals the one a ``threefry2x32`` key of the same
key data gives, on every backend; with ``jax_threefry_partitionable`` off, or
for more than ``2**32`` values at once, it calls JAX's threefry functions.
Use it where the PRNG is hashed inside a jitted step on a CPU; on a GPU JAX
already unrolls the hash.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import random as jex_random

__all__ = ["THREEFRY_UNROLLED", "key", "threefry2x32_hash", "unrolled"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)  # Threefry's key-schedule constant


def _rotate_left(x: jax.Array, r: int) -> jax.Array:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32_hash(
    k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block function, 20 rounds, unrolled.

    Args:
      k1, k2: the two ``uint32`` key words (broadcast against the counts).
      x1, x2: ``uint32`` counter words, any (broadcastable) shape.

    Returns:
      The two ``uint32`` output words; equal to JAX's ``threefry2x32_p``
      (Salmon et al. 2011, Threefry-2x32-20; JAX ``_threefry2x32_lowering``).
    """
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x = [x1 + ks[0], x2 + ks[1]]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x[0] = x[0] + x[1]
            x[1] = x[0] ^ _rotate_left(x[1], r)
        x[0] = x[0] + ks[(i + 1) % 3]
        x[1] = x[1] + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x[0], x[1]


def _counts(shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """JAX's ``iota_2x32_shape``: the row-major index of every entry as (hi, lo) words."""
    lo = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return jnp.zeros(shape, jnp.uint32), lo


def _partitionable_mode() -> bool:
    """``jax_threefry_partitionable`` (JAX's default since 0.5): the split and bits
    algorithms mirrored here."""
    return bool(jax.config.jax_threefry_partitionable)  # type: ignore[attr-defined]


def _partitionable(shape: tuple[int, ...]) -> bool:
    return _partitionable_mode() and math.prod(shape) < 2**32


def _split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    shape = tuple(int(d) for d in shape)
    if not _partitionable(shape):
        return jex_random.threefry_prng_impl.split(key, shape)
    hi, lo = _counts(shape)
    b1, b2 = threefry2x32_hash(key[0], key[1], hi, lo)
    return jnp.stack([b1, b2], axis=-1)


def _fold_in(key: jax.Array, data: int) -> jax.Array:
    if not _partitionable_mode():
        return jex_random.threefry_prng_impl.fold_in(key, data)
    # JAX: threefry_2x32(key, threefry_seed(data)), a [2] count (hi, lo) of the data.
    count = jnp.asarray(data, jnp.uint32)[None]
    b1, b2 = threefry2x32_hash(key[0], key[1], jnp.zeros((1,), jnp.uint32), count)
    return jnp.concatenate([b1, b2])


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    shape = tuple(int(d) for d in shape)
    if bit_width not in (8, 16, 32, 64):
        raise TypeError(f"`bit_width` must be 8, 16, 32 or 64, got {bit_width}")
    if not _partitionable(shape):
        return jex_random.threefry_prng_impl.random_bits(key, bit_width, shape)
    hi, lo = _counts(shape)
    b1, b2 = threefry2x32_hash(key[0], key[1], hi, lo)
    if bit_width == 64:
        return (b1.astype(jnp.uint64) << np.uint64(32)) | b2.astype(jnp.uint64)
    bits = b1 ^ b2
    return bits if bit_width == 32 else bits.astype(jnp.dtype(f"uint{bit_width}"))


THREEFRY_UNROLLED = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=jex_random.threefry_prng_impl.seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="threefry2x32_unrolled",
    tag="fru",
)
"""The implementation: ``jax.random.key(seed, impl=THREEFRY_UNROLLED)``; its keys
give the draws of ``jax.random.key(seed)`` (``threefry2x32``), bit for bit."""


def key(seed: int | jax.Array) -> jax.Array:
    """``jax.random.key(seed, impl=THREEFRY_UNROLLED)``: a typed key (``key<fru>[]``).

    Args:
      seed: an integer (Python or a scalar integer array), as for ``jax.random.key``.

    Raises:
      TypeError: for a non-integer or non-scalar seed (``jax.random.key``'s checks).
    """
    return jax.random.key(seed, impl=THREEFRY_UNROLLED)


def unrolled(key: jax.Array) -> jax.Array:
    """The same key data as a `THREEFRY_UNROLLED` key (same draws, unrolled hash).

    Args:
      key: typed ``threefry2x32`` keys of any shape, or legacy ``uint32[..., 2]``
        key data.

    Raises:
      TypeError: for typed keys of another implementation (their data would
        mean other draws).
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(key)
        if str(impl) not in ("threefry2x32", "fry"):
            raise TypeError(f"`key` must be threefry2x32 keys, got {impl}")
        key = jax.random.key_data(key)
    if key.dtype != jnp.uint32 or key.shape[-1:] != (2,):
        raise TypeError(f"`key` must be uint32[..., 2] key data, got {key.dtype}{key.shape}")
    return jax.random.wrap_key_data(key, impl=THREEFRY_UNROLLED)
