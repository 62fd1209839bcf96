"""Cumulants for general value functions, and the pixel-control loss (rlax 0.1.9 family).

A general value function predicts the discounted sum of a *cumulant* other than
the task reward (Sutton et al., "Horde", AAMAS 2011). UNREAL's auxiliary tasks
(Jaderberg et al., "Reinforcement Learning with Unsupervised Auxiliary Tasks",
ICLR 2017, arXiv:1611.05397, §3.1) use two kinds:

* pixel control: one cumulant per ``cell_size × cell_size`` cell of the image, the
  mean absolute change of its pixels between consecutive frames
  (`pixel_control_rewards`), each learned with n-step Q-learning
  (`pixel_control_loss`, Q(λ=1) over the sequence);
* feature control: one cumulant per feature of a hidden layer
  (`feature_control_rewards`).

These take one sequence (time first) and are batched with ``jax.vmap``.
Matches rlax 0.1.9 (`rlax._src.general_value_functions`, `rlax.pixel_control_loss`).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops import _value_learning
from jit_env.ops._base import validate

Array = jax.Array

_CUMULANT_TYPES = ("feature", "absolute_change", "increase", "decrease", "potential")


def _check_cell_size(fn: str, cell_size: Any, height: int, width: int) -> None:
    if not isinstance(cell_size, (int, np.integer)) or isinstance(cell_size, bool) or cell_size < 1:
        raise ValueError(f"{fn}: `cell_size` must be a positive int, got {cell_size!r}")
    if height % cell_size or width % cell_size:
        raise ValueError(
            f"{fn}: `observations` height {height} and width {width} must be multiples of "
            f"`cell_size`={cell_size} (crop the observations first)"
        )


def pixel_control_rewards(observations: Array, cell_size: int) -> Array:
    """Pixel-control cumulants: mean |Δ intensity| within each cell, per step.

    Args:
      observations: frames, shape [T+1, H, W, C], floating, values rescaled to [0, 1].
      cell_size: side of the square cells (Python int); must divide H and W.

    Returns:
      cumulants, shape [T, H / cell_size, W / cell_size], dtype of ``observations``.

    Raises:
      ValueError: if ``observations`` is not rank 4, or ``cell_size`` does not divide
        H and W (rlax reshapes silently or fails with a reshape error there).
      TypeError: if ``observations`` is not floating.

    Jaderberg et al. 2017, §3.1. Matches rlax 0.1.9 `rlax.pixel_control_rewards`.
    """
    fn = "pixel_control_rewards"
    validate(fn, ("observations", observations, 4, "float"))
    t1, height, width, channels = np.shape(observations)
    _check_cell_size(fn, cell_size, height, width)
    h, w = height // cell_size, width // cell_size
    observations = jnp.asarray(observations)
    abs_diff = jnp.abs(observations[1:] - observations[:-1])
    cells = abs_diff.reshape((t1 - 1, h, cell_size, w, cell_size, channels))
    return cells.mean(axis=(2, 4, 5))


def feature_control_rewards(
    features: Array, cumulant_type: str = "absolute_change", discount: Any = None
) -> Array:
    """Feature-control cumulants from a sequence of features.

    ``cumulant_type``:
      * ``"feature"``: c_t = φ_{t+1};
      * ``"absolute_change"``: c_t = |φ_{t+1} − φ_t|;
      * ``"increase"``: c_t = φ_{t+1} − φ_t;
      * ``"decrease"``: c_t = φ_t − φ_{t+1};
      * ``"potential"``: c_t = γ φ_{t+1} − φ_t (potential-based, needs ``discount``).

    Args:
      features: shape [T+1, D], floating.
      cumulant_type: one of the above.
      discount: γ for ``"potential"``: scalar, or shape [T, 1] / [T, D].

    Returns:
      cumulants, shape [T, D].

    Raises:
      ValueError: if ``features`` is not rank 2, ``cumulant_type`` is unknown, or
        ``discount`` is None with ``"potential"``.
      TypeError: if ``features`` is not floating.

    Jaderberg et al. 2017, §3.1. Matches rlax 0.1.9 `rlax.feature_control_rewards`.
    """
    fn = "feature_control_rewards"
    validate(fn, ("features", features, 2, "float"))
    if cumulant_type not in _CUMULANT_TYPES:
        raise ValueError(
            f"{fn}: unknown `cumulant_type` {cumulant_type!r}, expected one of {_CUMULANT_TYPES}"
        )
    features = jnp.asarray(features)
    nxt, cur = features[1:], features[:-1]
    if cumulant_type == "feature":
        return nxt
    if cumulant_type == "absolute_change":
        return jnp.abs(nxt - cur)
    if cumulant_type == "increase":
        return nxt - cur
    if cumulant_type == "decrease":
        return cur - nxt
    if discount is None:
        raise ValueError(f"{fn}: `discount` is required when `cumulant_type` is 'potential'")
    return discount * nxt - cur


def pixel_control_loss(
    observations: Array,
    actions: Array,
    action_values: Array,
    discount_factor: Any,
    cell_size: int,
) -> Array:
    """UNREAL pixel-control loss: ½ δ² of Q(λ=1) for every cell's cumulant.

    The cells are extra batch dimensions: each cell's action values are trained
    with ``q_lambda(..., lambda_=1)`` on its own pseudo-reward sequence, with the
    actions shared by all cells.

    Args:
      observations: frames, shape [T+1, H, W, C], floating, in [0, 1].
      actions: actions, shape [T], integer.
      action_values: pixel-control action values, shape [T+1, H', W', N], floating,
        with H' = H / cell_size and W' = W / cell_size.
      discount_factor: γ, scalar or shape [T] (UNREAL uses 0.9).
      cell_size: side of the cells (Python int).

    Returns:
      loss per step and cell, shape [T, H', W'].

    Raises:
      ValueError: if a rank is wrong, ``action_values``' cell grid or length does
        not match the observations, or ``discount_factor`` is neither scalar nor [T].
      TypeError: if a dtype is of the wrong kind.

    Jaderberg et al. 2017, §3.1. Matches rlax 0.1.9 `rlax.pixel_control_loss`.
    """
    fn = "pixel_control_loss"
    validate(
        fn,
        ("observations", observations, 4, "float"),
        ("actions", actions, 1, "int"),
        ("action_values", action_values, 4, "float"),
        ("discount_factor", discount_factor, (0, 1), "float"),
    )
    seq_len = np.shape(actions)[0]
    num_actions = np.shape(action_values)[-1]
    rewards = pixel_control_rewards(observations, cell_size)
    grid = tuple(rewards.shape[1:])
    if tuple(np.shape(action_values)[1:-1]) != grid:
        raise ValueError(
            f"{fn}: `action_values` has cell grid {tuple(np.shape(action_values)[1:-1])}, "
            f"expected {grid} (the pseudo-rewards' grid for `cell_size`={cell_size})"
        )
    if np.shape(observations)[0] != seq_len + 1 or np.shape(action_values)[0] != seq_len + 1:
        raise ValueError(
            f"{fn}: `observations` ({np.shape(observations)[0]}) and `action_values` "
            f"({np.shape(action_values)[0]}) must have length T+1 = {seq_len + 1} "
            f"(`actions` has length {seq_len})"
        )
    discount_factor = jnp.asarray(discount_factor)
    if discount_factor.ndim == 1 and discount_factor.shape[0] != seq_len:
        raise ValueError(
            f"{fn}: `discount_factor` has shape {discount_factor.shape}, expected () or "
            f"({seq_len},)"
        )
    num_cells = grid[0] * grid[1]
    action_values = jnp.asarray(action_values)
    q_tm1 = action_values[:-1].reshape((seq_len, num_cells, num_actions))
    q_t = action_values[1:].reshape((seq_len, num_cells, num_actions))
    r_t = rewards.reshape((seq_len, num_cells))
    a_tm1 = jnp.broadcast_to(jnp.asarray(actions)[:, None], (seq_len, num_cells))
    if discount_factor.ndim == 0:
        pcont_t = jnp.broadcast_to(discount_factor, (seq_len, num_cells))
    else:
        pcont_t = jnp.broadcast_to(discount_factor[:, None], (seq_len, num_cells))
    q_lambda = jax.vmap(
        functools.partial(_value_learning.q_lambda, lambda_=1.0), in_axes=1, out_axes=1
    )
    td_error = q_lambda(q_tm1, a_tm1, r_t, pcont_t, q_t)
    return (0.5 * td_error**2).reshape((seq_len,) + grid)
