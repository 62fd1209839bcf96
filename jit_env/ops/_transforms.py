"""Elementwise value transforms and the two-hot reparametrisation (rlax 0.1.9 family).

The squashing transforms are elementwise: any shape in, the same shape and dtype
out, so they need no ``jax.vmap``. Pairs of a transform and its inverse (used by
the transformed Bellman operators in `jit_env.ops`) are:

* ``signed_hyperbolic`` / ``signed_parabolic``: h(x) = sign(x)(√(|x|+1) − 1) + εx
  and its closed-form inverse (Pohlen et al., "Observe and Look Further:
  Achieving Consistent Performance on Atari", 2018, eq. 2 and Prop. A.2);
* ``signed_logp1`` / ``signed_expm1``; ``sigmoid`` / ``logit``;
  ``power(·, p)`` / ``power(·, 1/p)``;
* ``transform_to_2hot`` / ``transform_from_2hot``: a scalar as the two-hot
  distribution over a fixed uniform support whose mean is the scalar
  (Schrittwieser et al., "Mastering Atari, Go, Chess and Shogi by Planning with a
  Learned Model", 2020, Appendix F).

Every function matches rlax 0.1.9 (`rlax._src.transforms`) numerically.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import validate

# rlax adds this to the bin width so that a value exactly on a bin does not divide by 0.
_TWO_HOT_EPS = 1e-5


def _float(fn: str, x: Any) -> jax.Array:
    validate(fn, ("x", x, None, "float"))
    return jnp.asarray(x)


def identity(x: jax.Array) -> jax.Array:
    """Identity transform, f(x) = x.

    Args:
      x: any shape, floating.

    Returns:
      ``x`` unchanged.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.identity`.
    """
    validate("identity", ("x", x, None, "float"))
    return x


def sigmoid(x: jax.Array) -> jax.Array:
    """Logistic sigmoid, 1 / (1 + e^{−x}); the inverse of `logit`.

    Args:
      x: any shape, floating.

    Returns:
      values in (0, 1), same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.sigmoid`.
    """
    return jax.nn.sigmoid(_float("sigmoid", x))


def logit(x: jax.Array) -> jax.Array:
    """Logit, −log(1/x − 1); the inverse of `sigmoid` on (0, 1).

    Args:
      x: any shape, floating, values in (0, 1) (0 and 1 give ∓inf, outside gives NaN).

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.logit`.
    """
    x = _float("logit", x)
    return -jnp.log(1.0 / x - 1.0)


def signed_logp1(x: jax.Array) -> jax.Array:
    """Signed logarithm, sign(x) log(1 + |x|); the inverse of `signed_expm1`.

    Args:
      x: any shape, floating.

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.signed_logp1`.
    """
    x = _float("signed_logp1", x)
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def signed_expm1(x: jax.Array) -> jax.Array:
    """Signed exponential, sign(x) (e^{|x|} − 1); the inverse of `signed_logp1`.

    Args:
      x: any shape, floating.

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.signed_expm1`.
    """
    x = _float("signed_expm1", x)
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


def signed_hyperbolic(x: jax.Array, eps: float = 1e-3) -> jax.Array:
    """h(x) = sign(x) (√(|x| + 1) − 1) + εx; the inverse of `signed_parabolic`.

    Args:
      x: any shape, floating.
      eps: ε > 0, the linear term that makes h invertible with a Lipschitz inverse.

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Pohlen et al. 2018, eq. 2 (the R2D2 / Ape-X DQfD value transform).
    Matches rlax 0.1.9 `rlax.signed_hyperbolic`.
    """
    x = _float("signed_hyperbolic", x)
    return jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1) - 1) + eps * x


def signed_parabolic(x: jax.Array, eps: float = 1e-3) -> jax.Array:
    """h⁻¹(x), the closed-form inverse of `signed_hyperbolic` with the same ε.

    h⁻¹(x) = sign(x) [((√(1 + 4ε(|x| + 1 + ε)) − 1) / (2ε))² − 1].

    Args:
      x: any shape, floating.
      eps: ε > 0, as passed to `signed_hyperbolic`.

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Pohlen et al. 2018, Proposition A.2. Matches rlax 0.1.9 `rlax.signed_parabolic`.
    """
    x = _float("signed_parabolic", x)
    z = jnp.sqrt(1 + 4 * eps * (eps + 1 + jnp.abs(x))) / 2 / eps - 1 / 2 / eps
    return jnp.sign(x) * (jnp.square(z) - 1)


def hyperbolic_sin(x: jax.Array) -> jax.Array:
    """sinh(x), the inverse of `hyperbolic_arcsin` (rlax 0.1.9 `transforms.hyperbolic_sin`).

    Raises:
      TypeError: if ``x`` is not floating.
    """
    return jnp.sinh(_float("hyperbolic_sin", x))


def hyperbolic_arcsin(x: jax.Array) -> jax.Array:
    """arcsinh(x), the inverse of `hyperbolic_sin` (rlax 0.1.9 `transforms.hyperbolic_arcsin`).

    Raises:
      TypeError: if ``x`` is not floating.
    """
    return jnp.arcsinh(_float("hyperbolic_arcsin", x))


def power(x: jax.Array, p: float) -> jax.Array:
    """Signed power transform, sign(x) ((|x|/√p + 1)^p − 1) / √p.

    ``power(power(x, p), 1 / p) == x``.

    Args:
      x: any shape, floating.
      p: exponent, p > 0.

    Returns:
      same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.power`.
    """
    x = _float("power", x)
    q = jnp.sqrt(p)
    return jnp.sign(x) * (jnp.power(jnp.abs(x) / q + 1.0, p) - 1) / q


def _check_support(fn: str, min_value: Any, max_value: Any, num_bins: Any) -> None:
    if not isinstance(num_bins, (int, np.integer)) or isinstance(num_bins, bool) or num_bins < 2:
        raise ValueError(f"{fn}: `num_bins` must be an int >= 2, got {num_bins!r}")
    concrete = all(isinstance(v, (int, float, np.number)) for v in (min_value, max_value))
    if concrete and not min_value < max_value:
        raise ValueError(
            f"{fn}: `min_value` ({min_value}) must be smaller than `max_value` ({max_value})"
        )


def _hot(index: jax.Array, num_bins: int, dtype: Any) -> jax.Array:
    # Compares (possibly float or negative) bin indices with the bin numbers; an index
    # outside [0, num_bins) gives a row of zeros, as rlax's one_hot does.
    labels = _last_axis(jnp.arange(num_bins, dtype=index.dtype), index.ndim + 1)
    return (index[..., None] == labels).astype(dtype)


def _last_axis(v: jax.Array, ndim: int) -> jax.Array:
    # [N] -> [1, ..., 1, N] of rank ndim, for explicit broadcasting (no rank promotion).
    return jnp.reshape(v, (1,) * (ndim - 1) + tuple(v.shape))


def transform_to_2hot(
    scalar: jax.Array, min_value: float, max_value: float, num_bins: int
) -> jax.Array:
    """Encodes scalars as two-hot distributions over a uniform support.

    The support is ``linspace(min_value, max_value, num_bins)``. A scalar is clipped
    into ``[min_value, max_value]`` and split between its two neighbouring bins in
    proportion to its distance to each, so ``transform_from_2hot`` recovers it (up
    to the 1e-5 that rlax adds to the bin width: relative error ≤ 1e-5 / bin width).

    Args:
      scalar: values, any shape ``[...]``, floating.
      min_value: lowest support point (scalar).
      max_value: highest support point (scalar), > ``min_value``.
      num_bins: number of support points ``N`` (Python int ≥ 2).

    Returns:
      probabilities, shape ``[..., N]``, dtype of ``scalar``; each row sums to 1
      (up to the 1e-5 above).

    Raises:
      TypeError: if ``scalar`` is not floating.
      ValueError: if ``num_bins`` < 2 or ``min_value`` >= ``max_value`` (when concrete).

    Schrittwieser et al. 2020, Appendix F. Matches rlax 0.1.9 `rlax.transform_to_2hot`.
    """
    validate("transform_to_2hot", ("scalar", scalar, None, "float"))
    _check_support("transform_to_2hot", min_value, max_value, num_bins)
    scalar = jnp.clip(jnp.asarray(scalar), min_value, max_value)
    scalar_bin = (scalar - min_value) / (max_value - min_value) * (num_bins - 1)
    lower, upper = jnp.floor(scalar_bin), jnp.ceil(scalar_bin)
    lower_value = (lower / (num_bins - 1.0)) * (max_value - min_value) + min_value
    upper_value = (upper / (num_bins - 1.0)) * (max_value - min_value) + min_value
    p_lower = (upper_value - scalar) / (upper_value - lower_value + _TWO_HOT_EPS)
    p_upper = 1 - p_lower
    dtype = scalar.dtype
    return _hot(lower, num_bins, dtype) * p_lower[..., None] + _hot(
        upper, num_bins, dtype
    ) * p_upper[..., None]


def transform_from_2hot(
    probs: jax.Array, min_value: float, max_value: float, num_bins: int
) -> jax.Array:
    """Mean of a distribution over the uniform support ``linspace(min, max, N)``.

    Args:
      probs: probabilities, shape ``[..., N]``, floating.
      min_value: lowest support point (scalar).
      max_value: highest support point (scalar).
      num_bins: ``N`` (Python int ≥ 2), must equal ``probs.shape[-1]``.

    Returns:
      expected values, shape ``[...]``, dtype of ``probs``.

    Raises:
      TypeError: if ``probs`` is not floating.
      ValueError: if ``probs`` is a scalar, ``num_bins`` < 2 or
        ``probs.shape[-1] != num_bins``.

    Matches rlax 0.1.9 `rlax.transform_from_2hot` for ``probs`` of rank ≥ 2; for a
    rank-1 ``probs`` this returns a scalar where rlax returns shape ``[1]``.
    """
    validate("transform_from_2hot", ("probs", probs, None, "float"))
    _check_support("transform_from_2hot", min_value, max_value, num_bins)
    shape = tuple(np.shape(probs))
    if not shape or shape[-1] != num_bins:
        raise ValueError(
            f"transform_from_2hot: `probs` has shape {shape}, expected a last axis of "
            f"size `num_bins`={num_bins}"
        )
    probs = jnp.asarray(probs)
    support = jnp.linspace(min_value, max_value, num_bins).astype(probs.dtype)
    return jnp.sum(probs * _last_axis(support, probs.ndim), axis=-1)


def transform_to_2hot_nonlinear(scalar: jax.Array, bins: jax.Array) -> jax.Array:
    """Two-hot encoding over an arbitrary increasing support ``bins`` ([N], N ≥ 2).

    Args:
      scalar: values, any shape ``[...]``, floating; clipped into ``[bins[0], bins[-1]]``.
      bins: strictly increasing support, shape ``[N]``, floating.

    Returns:
      probabilities, shape ``[..., N]``, dtype of ``scalar``.

    Raises:
      TypeError: if ``scalar`` or ``bins`` is not floating.
      ValueError: if ``bins`` is not of shape ``[N]`` with N ≥ 2.

    Matches rlax 0.1.9 `transforms.transform_to_2hot_nonlinear` (used by
    `unbiased_transform_pair`).
    """
    validate(
        "transform_to_2hot_nonlinear",
        ("scalar", scalar, None, "float"),
        ("bins", bins, 1, "float"),
    )
    num_bins = np.shape(bins)[0]
    if num_bins < 2:
        raise ValueError(f"transform_to_2hot_nonlinear: `bins` has {num_bins} entries, need >= 2")
    bins = jnp.asarray(bins)
    scalar = jnp.clip(jnp.asarray(scalar), bins[0], bins[-1])
    upper_index = jnp.argmax(scalar[..., None] <= _last_axis(bins, scalar.ndim + 1), axis=-1)
    upper_value = bins[upper_index]
    # At scalar == bins[0], upper_index is 0 and index -1 wraps to the last bin (as in rlax):
    # p_lower is then 0 and the lower one-hot is a zero row, so the result is still exact.
    lower_value = bins[upper_index - 1]
    p_lower = (upper_value - scalar) / (upper_value - lower_value)
    p_upper = 1 - p_lower
    dtype = scalar.dtype
    return _hot(upper_index - 1, num_bins, dtype) * p_lower[..., None] + _hot(
        upper_index, num_bins, dtype
    ) * p_upper[..., None]


def transform_from_2hot_nonlinear(probs: jax.Array, bins: jax.Array) -> jax.Array:
    """Mean of a distribution ``probs`` ([..., N]) over the support ``bins`` ([N]).

    Raises:
      TypeError: if ``probs`` is not floating.
      ValueError: if ``probs.shape[-1]`` differs from ``bins``'s length.

    Matches rlax 0.1.9 `transforms.transform_from_2hot_nonlinear` (rank ≥ 2 ``probs``).
    """
    validate(
        "transform_from_2hot_nonlinear", ("probs", probs, None, "float"), ("bins", bins, 1, None)
    )
    shape = tuple(np.shape(probs))
    if not shape or shape[-1] != np.shape(bins)[0]:
        raise ValueError(
            f"transform_from_2hot_nonlinear: `probs` has shape {shape}, expected a last axis "
            f"of size {np.shape(bins)[0]} (the length of `bins`)"
        )
    probs = jnp.asarray(probs)
    return jnp.sum(probs * _last_axis(jnp.asarray(bins), probs.ndim), axis=-1)
