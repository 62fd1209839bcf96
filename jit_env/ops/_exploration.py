"""Exploration noise for continuous and discrete policies (rlax 0.1.9 family).

Each function perturbs ONE agent's action (or prior) with fresh noise drawn
from ``key``; the same key gives the same noise, bit for bit, and the draws are
the same JAX PRNG calls as rlax 0.1.9's. Keys may be typed keys of any
implementation or legacy ``uint32[2]`` keys. For a batch of agents split the
key and ``jax.vmap`` over keys and actions (batch-major ``[B, D]``;
time-major data is not meaningful here: noise is drawn per step).

References:
  Uhlenbeck & Ornstein, "On the theory of the Brownian motion", Phys. Rev. 1930;
  Lillicrap et al., "Continuous control with deep RL" (DDPG), ICLR 2016;
  Silver et al., "Mastering the game of Go without human knowledge", Nature
  2017 (Dirichlet noise at the root, α = 0.03, fraction 0.25).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import check_same_shape, validate


def add_gaussian_noise(key: Any, action: jax.Array, stddev: Any) -> jax.Array:
    """Returns ``action + stddev · ε`` with ``ε ~ N(0, I)`` of the action's shape.

    Args:
      key: PRNG key.
      action: continuous action, any shape, floating.
      stddev: noise standard deviation ≥ 0, scalar.

    Returns:
      noisy action, shape and dtype of ``action``.

    Raises:
      TypeError: if ``action`` is not floating.

    Matches rlax 0.1.9 `rlax.add_gaussian_noise` (same draws for the same key).
    """
    validate("add_gaussian_noise", *[("action", action, None, "float")])
    noise = jax.random.normal(key, shape=jnp.shape(action), dtype=jnp.result_type(action))
    return action + noise * stddev


def add_ornstein_uhlenbeck_noise(
    key: Any, action: jax.Array, noise_tm1: jax.Array, damping: Any, stddev: Any
) -> jax.Array:
    """Returns ``action + noise_t`` with ``noise_t = (1 − damping) noise_tm1 + stddev · ε``.

    This is the Euler discretisation of an Ornstein–Uhlenbeck process. As in
    rlax, only the noisy action is returned: to carry the process forward,
    ``noise_t = returned − action``.

    Args:
      key: PRNG key.
      action: continuous action ``[D]``, floating.
      noise_tm1: previous noise ``[D]``, floating.
      damping: mean-reversion rate in [0, 1], scalar.
      stddev: innovation standard deviation ≥ 0, scalar.

    Returns:
      noisy action ``[D]``.

    Raises:
      ValueError: if a rank is not 1 or the shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.add_ornstein_uhlenbeck_noise`; Lillicrap et al. 2016.
    """
    fn = "add_ornstein_uhlenbeck_noise"
    validate(fn, *[("action", action, 1, "float"), ("noise_tm1", noise_tm1, 1, "float")])
    check_same_shape(fn, ("action", action), ("noise_tm1", noise_tm1))
    eps = jax.random.normal(key, shape=action.shape, dtype=action.dtype)
    noise_t = (1.0 - damping) * noise_tm1 + eps * stddev
    return action + noise_t


def add_dirichlet_noise(
    key: Any, prior: jax.Array, dirichlet_alpha: float, dirichlet_fraction: float
) -> jax.Array:
    """Mixes a batch of priors with symmetric Dirichlet noise (AlphaZero root noise).

    ``(1 − fraction) · prior + fraction · noise`` with ``noise[b] ~ Dir(α, …, α)``.

    Args:
      key: PRNG key.
      prior: ``[B, A]`` action priors, floating.
      dirichlet_alpha: concentration α > 0, a Python float.
      dirichlet_fraction: mixing weight in [0, 1], a Python float.

    Returns:
      noisy priors ``[B, A]``; rows still sum to one if the priors do.

    Raises:
      ValueError: if ``prior`` is not rank 2.
      TypeError: if ``prior`` is not floating or α / fraction are not floats.

    Matches rlax 0.1.9 `rlax.add_dirichlet_noise` (same draws); Silver et al. 2017.
    """
    fn = "add_dirichlet_noise"
    validate(fn, *[("prior", prior, 2, "float"),
                   ("dirichlet_alpha", dirichlet_alpha, None, "float"),
                   ("dirichlet_fraction", dirichlet_fraction, None, "float")])
    batch_size, num_actions = prior.shape
    noise = jax.random.dirichlet(
        key, alpha=jnp.full((num_actions,), dirichlet_alpha), shape=(batch_size,)
    )
    return (1 - dirichlet_fraction) * prior + dirichlet_fraction * noise
