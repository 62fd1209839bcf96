"""Gaussian policies as named tuples of pure functions (rlax 0.1.9 family).

`gaussian_diagonal` and `squashed_gaussian` return a `ContinuousDistribution`
(see `jit_env.ops._distributions`) whose functions take ``mu``/``sigma`` of shape
``[..., D]`` with any leading batch shape, so no ``jax.vmap`` is needed except to
map keys (``jax.vmap(dist.sample)`` over ``[B]`` keys and ``[B, D]`` parameters;
``in_axes=1, out_axes=1`` for time-major ``[T, B, D]``). Samples use the same
normal draws as distrax, so equal keys give rlax's samples bit for bit; the
draw is made flat (``[N]``) and reshaped, which gives the same bits (the
threefry counters are the row-major indices either way) and compiles faster
on XLA:CPU than distrax's ``(1, *shape)`` draw (see `_standard_normal`).

References:
  Haarnoja et al., "Soft Actor-Critic", ICML 2018, appendix C (tanh squashing);
  the KL between Gaussians: Kullback, Information Theory and Statistics, 1959.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import validate
from jit_env.ops._distributions import ContinuousDistribution, _check_dims, _check_min_rank

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------


def _standard_normal(key: jax.Array, like: jax.Array) -> jax.Array:
    """Standard normal noise shaped and typed like ``like``, drawn flat.

    Bit-identical to distrax's ``jax.random.normal(key, (1, *like.shape))[0]``;
    a rank-1 draw's threefry kernel compiles about twice as fast on XLA:CPU
    under ``jax_threefry_partitionable`` (JAX's default).
    """
    return jax.random.normal(key, (like.size,), dtype=like.dtype).reshape(like.shape)


def _diag_gaussian_logprob(x: Any, mu: Any, sigma: Any) -> Any:
    z = (x - mu) / sigma
    return jnp.sum(-0.5 * jnp.square(z) - _HALF_LOG_2PI, axis=-1) - jnp.sum(jnp.log(sigma), axis=-1)


def _diag_gaussian_entropy(sigma: Any) -> Any:
    return sigma.shape[-1] * (0.5 + _HALF_LOG_2PI) + jnp.sum(jnp.log(sigma), axis=-1)


def _diag_gaussian_kl(mu_0: Any, sigma_0: Any, mu_1: Any, sigma_1: Any) -> Any:
    """KL(N(mu_0, diag σ_0²) ‖ N(mu_1, diag σ_1²)) over the last axis."""
    k = mu_0.shape[-1]
    log_det_diff = jnp.sum(jnp.log(jnp.abs(sigma_1)), -1) - jnp.sum(jnp.log(jnp.abs(sigma_0)), -1)
    ratio = jnp.sum(jnp.square(sigma_0 / sigma_1), axis=-1)
    mahalanobis = jnp.sum(jnp.square((mu_1 - mu_0) / sigma_1), axis=-1)
    return log_det_diff + 0.5 * (-k + ratio + mahalanobis)


def _gaussian_params(fn: str, mu: Any, sigma: Any) -> tuple[jax.Array, jax.Array]:
    if sigma is None:
        raise ValueError(f"{fn}: `sigma` is None; pass it to gaussian_diagonal() or here")
    _check_min_rank(fn, "mu", mu, 1)
    validate(fn, *[("mu", mu, None, "float")])
    mu = jnp.asarray(mu)
    shape = jnp.broadcast_shapes(mu.shape, jnp.shape(sigma))
    ones = jnp.ones(shape, mu.dtype)
    return jnp.broadcast_to(mu, shape), ones * jnp.broadcast_to(sigma, shape)


def gaussian_diagonal(sigma: Any = None) -> ContinuousDistribution:
    """A Gaussian with diagonal covariance, ``N(mu, diag(sigma²))``.

    Args:
      sigma: default standard deviation (scalar or ``[..., D]``), overridable in
        every function by passing ``sigma``.

    Returns:
      `ContinuousDistribution` with ``sample(key, mu, sigma) -> float[..., D]``,
      ``prob``/``logprob(sample, mu, sigma) -> float[...]``, ``entropy(mu, sigma)``,
      ``kl_to_standard_normal(mu, sigma)``, ``kl(mu_0, sigma_0, mu_1, sigma_1)``;
      ``mu`` is ``[..., D]`` floating, ``sigma`` broadcastable to it.

    Raises:
      ValueError: if ``mu`` has rank 0 or no ``sigma`` is given.
      TypeError: if ``mu`` is not floating.

    Matches rlax 0.1.9 `rlax.gaussian_diagonal` (distrax ``MultivariateNormalDiag``);
    samples equal for equal keys.
    """

    def sample_fn(key: Any, mu: Any, sigma: Any = sigma) -> Any:
        mu, sig = _gaussian_params("gaussian_diagonal.sample", mu, sigma)
        eps = _standard_normal(key, mu)
        return eps * sig + mu

    def logprob_fn(sample: Any, mu: Any, sigma: Any = sigma) -> Any:
        mu, sig = _gaussian_params("gaussian_diagonal.logprob", mu, sigma)
        return _diag_gaussian_logprob(sample, mu, sig)

    def prob_fn(sample: Any, mu: Any, sigma: Any = sigma) -> Any:
        mu, sig = _gaussian_params("gaussian_diagonal.prob", mu, sigma)
        return jnp.exp(_diag_gaussian_logprob(sample, mu, sig))

    def entropy_fn(mu: Any, sigma: Any = sigma) -> Any:
        _, sig = _gaussian_params("gaussian_diagonal.entropy", mu, sigma)
        return _diag_gaussian_entropy(sig)

    def kl_to_standard_normal_fn(mu: Any, sigma: Any = sigma) -> Any:
        mu, sig = _gaussian_params("gaussian_diagonal.kl_to_standard_normal", mu, sigma)
        return _diag_gaussian_kl(mu, sig, jnp.zeros_like(mu), jnp.ones_like(mu))

    def kl_fn(mu_0: Any, sigma_0: Any, mu_1: Any, sigma_1: Any) -> Any:
        mu_0, sigma_0 = _gaussian_params("gaussian_diagonal.kl", mu_0, sigma_0)
        mu_1, sigma_1 = _gaussian_params("gaussian_diagonal.kl", mu_1, sigma_1)
        return _diag_gaussian_kl(mu_0, sigma_0, mu_1, sigma_1)

    return ContinuousDistribution(
        sample_fn, prob_fn, logprob_fn, entropy_fn, kl_to_standard_normal_fn, kl_fn
    )


def squashed_gaussian(sigma_min: float = -4, sigma_max: float = 0.0) -> ContinuousDistribution:
    """A tanh-squashed diagonal Gaussian, optionally rescaled to an action box.

    The pre-squash Gaussian has mean ``tanh(mu)`` and standard deviation
    ``exp(sigma_min + (sigma_max − sigma_min)(tanh(sigma) + 1) / 2)``; a sample
    ``x`` is mapped to ``tanh(x)`` and, given an ``action_spec`` with
    ``minimum``/``maximum``, to ``minimum + (tanh(x) + 1)(maximum − minimum) / 2``.
    ``logprob`` includes the change-of-variables term. ``entropy`` and the KLs are
    those of the pre-squash Gaussian (as rlax).

    Args:
      sigma_min: log-std lower bound.
      sigma_max: log-std upper bound.

    Returns:
      `ContinuousDistribution` with ``sample(key, mu, sigma, action_spec)``,
      ``prob``/``logprob(sample, mu, sigma, action_spec)`` (``action_spec`` may be
      ``None``), ``entropy(mu, sigma)``, ``kl_to_standard_normal(mu, sigma)``,
      ``kl(mu_0, sigma_0, mu_1, sigma_1)``; ``mu``/``sigma`` are ``[..., D]`` floating.

    Raises:
      ValueError: if ``mu`` has rank 0.
      TypeError: if ``mu`` is not floating.

    Matches rlax 0.1.9 `rlax.squashed_gaussian`; Haarnoja et al. 2018, eq. 21.
    """

    def _params(fn: str, mu: Any, sigma: Any) -> Any:
        _check_min_rank(fn, "mu", mu, 1)
        validate(fn, *[("mu", mu, None, "float"), ("sigma", sigma, None, "float")])
        loc = jnp.tanh(mu)
        scale = jnp.exp(sigma_min + 0.5 * (sigma_max - sigma_min) * (jnp.tanh(sigma) + 1.0))
        shape = jnp.broadcast_shapes(jnp.shape(loc), jnp.shape(scale))
        return jnp.broadcast_to(loc, shape), jnp.broadcast_to(scale, shape)

    def _bcast(v: Any, like: Any) -> Any:
        return jnp.broadcast_to(jnp.asarray(v, like.dtype), like.shape)

    def _affine(action_spec: Any) -> Any:
        if action_spec is None:
            return None
        return 0.5 * (action_spec.maximum - action_spec.minimum), action_spec.minimum

    def sample_fn(key: Any, mu: Any, sigma: Any, action_spec: Any) -> Any:
        loc, scale = _params("squashed_gaussian.sample", mu, sigma)
        eps = _standard_normal(key, loc)
        y = jnp.tanh(eps * scale + loc)
        aff = _affine(action_spec)
        if aff is not None:
            y = _bcast(aff[0], y) * (y + 1.0) + _bcast(aff[1], y)
        return y

    def logprob_fn(sample: Any, mu: Any, sigma: Any, action_spec: Any) -> Any:
        loc, scale = _params("squashed_gaussian.logprob", mu, sigma)
        y = jnp.asarray(sample)
        log_det = jnp.zeros((), loc.dtype)
        aff = _affine(action_spec)
        if aff is not None:
            y = (1.0 / _bcast(aff[0], y)) * (y - _bcast(aff[1], y)) - 1.0
            log_det = jnp.sum(jnp.log(jnp.abs(_bcast(aff[0], y))), axis=-1)
        x = jnp.arctanh(y)
        tanh_log_det = jnp.sum(2.0 * (jnp.log(2.0) - x - jax.nn.softplus(-2.0 * x)), axis=-1)
        return _diag_gaussian_logprob(x, loc, scale) - tanh_log_det - log_det

    def prob_fn(sample: Any, mu: Any, sigma: Any, action_spec: Any) -> Any:
        return jnp.exp(logprob_fn(sample, mu, sigma, action_spec))

    def entropy_fn(mu: Any, sigma: Any) -> Any:
        _, scale = _params("squashed_gaussian.entropy", mu, sigma)
        return _diag_gaussian_entropy(scale)

    def kl_to_standard_normal_fn(mu: Any, sigma: Any) -> Any:
        loc, scale = _params("squashed_gaussian.kl_to_standard_normal", mu, sigma)
        return _diag_gaussian_kl(loc, scale, jnp.zeros_like(loc), jnp.ones_like(loc))

    def kl_fn(mu_0: Any, sigma_0: Any, mu_1: Any, sigma_1: Any) -> Any:
        loc_0, scale_0 = _params("squashed_gaussian.kl", mu_0, sigma_0)
        loc_1, scale_1 = _params("squashed_gaussian.kl", mu_1, sigma_1)
        return _diag_gaussian_kl(loc_0, scale_0, loc_1, scale_1)

    return ContinuousDistribution(
        sample_fn, prob_fn, logprob_fn, entropy_fn, kl_to_standard_normal_fn, kl_fn
    )


def multivariate_normal_kl_divergence(
    mu_0: jax.Array, sigma_0: Any, mu_1: jax.Array, sigma_1: Any
) -> jax.Array:
    """``KL(N(mu_0, diag σ_0²) ‖ N(mu_1, diag σ_1²))``.

    ``Σ_d [log(σ_1/σ_0) + (σ_0² + (mu_0 − mu_1)²) / (2σ_1²) − 1/2]``.

    Args:
      mu_0: ``[..., D]`` floating. sigma_0: ``[..., D]`` (rank ≥ 1) floating, > 0.
      mu_1: ``[..., D]`` floating. sigma_1: ``[..., D]`` (rank ≥ 1) floating, > 0.

    Returns:
      KL divergence ``[...]`` in nats.

    Raises:
      ValueError: if an argument has rank 0 or the last dimensions differ.
      TypeError: if an argument is not floating.

    Matches rlax 0.1.9 `rlax.multivariate_normal_kl_divergence`.
    """
    fn = "multivariate_normal_kl_divergence"
    args = {"mu_0": mu_0, "sigma_0": sigma_0, "mu_1": mu_1, "sigma_1": sigma_1}
    for name, x in args.items():
        _check_min_rank(fn, name, x, 1)
    validate(fn, *[(n, x, None, "float") for n, x in args.items()])
    _check_dims(fn, [(n, x, -1, "mu_0", mu_0, -1) for n, x in args.items() if n != "mu_0"])
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in args.values()))
    mu_0, sigma_0, mu_1, sigma_1 = (jnp.broadcast_to(x, shape) for x in args.values())
    return _diag_gaussian_kl(mu_0, sigma_0, mu_1, sigma_1)
