"""What the agents' updates share: the optimiser factory and advantage standardisation.

PPO (`jit_env.agents.ppo`), the actor-critic family (`jit_env.agents.a2c`,
`jit_env.agents.reinforce`, `jit_env.agents.impala`) and DQN
(`jit_env.agents.dqn`) build their optax optimiser with `make_optimizer`; PPO and
the actor-critic family standardise their advantages with `normalize_advantages`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("rmsprop", "adam")
"""The optimiser names `make_optimizer` accepts."""


def make_optimizer(
    learning_rate: float,
    *,
    optimizer: str = "adam",
    eps: float = 1e-8,
    rmsprop_decay: float = 0.99,
    max_grad_norm: float | None = None,
    anneal_steps: int | None = None,
) -> optax.GradientTransformation:
    """Optional global-norm clipping, then Adam or RMSprop, on the flattened parameters.

    ``optimizer="rmsprop"`` is PyTorch's RMSprop (``v ← α v + (1 − α) g²``,
    ``Δ = −lr · g / (√v + ε)``: ε outside the square root, no momentum, no
    centring), the optimiser of SB3's ``A2C`` (``use_rms_prop=True``);
    ``"adam"`` is ``optax.adam``. With ``anneal_steps`` the step size decays
    linearly from ``learning_rate`` to 0 over that many optimiser steps (Huang et
    al. 2022, "The 37 Implementation Details of PPO", detail 4). The whole
    transformation runs on one flattened parameter vector (``optax.flatten``: the
    same element-wise arithmetic in fewer, larger kernels).

    Args:
      learning_rate: step size, > 0.
      optimizer: ``"rmsprop"`` or ``"adam"``.
      eps: ε of Adam or RMSprop (optax's Adam default ``1e-8``).
      rmsprop_decay: RMSprop's squared-gradient decay α (PyTorch ``alpha``).
      max_grad_norm: clip the gradient to this global norm first
        (``optax.clip_by_global_norm``), or ``None`` for no clipping.
      anneal_steps: number of optimiser steps of the linear decay to 0, or
        ``None`` for a constant step size.

    Returns:
      An ``optax.GradientTransformation`` whose state is
      ``optax.flatten(chain(clip, opt))`` (``flatten(opt)`` without clipping).

    Raises:
      ValueError: for an ``optimizer`` not in `OPTIMIZERS`.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    lr: Any = learning_rate
    if anneal_steps is not None:
        lr = optax.linear_schedule(learning_rate, 0.0, max(anneal_steps, 1))
    if optimizer == "rmsprop":
        opt = optax.rmsprop(lr, decay=rmsprop_decay, eps=eps, eps_in_sqrt=False)
    else:
        opt = optax.adam(lr, eps=eps)
    if max_grad_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(max_grad_norm), opt)
    return optax.flatten(opt)


def normalize_advantages(advantages: jax.Array, weights: jax.Array) -> jax.Array:
    """Standardises advantages to zero mean and unit variance over the weighted rows.

    ``(A − μ) / (σ + 1e-8)`` with ``μ = Σ w A / n`` and ``σ² = Σ w (A − μ)² / n``,
    ``n = max(Σ w, 1)``: rows of weight 0 (invalid transitions) take no part in
    the statistics. Per-minibatch advantage normalisation of PPO (Huang et al.
    2022, detail 7; OpenAI baselines ``ppo2``) and of Spinning Up's VPG.

    Args:
      advantages: any shape ``S``, float32.
      weights: shape ``S``, float32 in [0, 1] (or bool).

    Returns:
      Standardised advantages, shape ``S``, float32 (the weight-0 rows are
      transformed too, but meaningless).
    """
    w = weights.astype(jnp.float32)
    n = jnp.maximum(w.sum(), 1.0)
    mean = (advantages * w).sum() / n
    std = jnp.sqrt((jnp.square(advantages - mean) * w).sum() / n)
    return (advantages - mean) / (std + 1e-8)
