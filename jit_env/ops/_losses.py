"""Elementwise losses and gradient clipping (rlax 0.1.9 family).

Every loss here is elementwise: it takes arrays of any shape and returns an
array of the same shape, so batching needs no ``jax.vmap`` (reduce with
``jnp.mean`` yourself). ``clip_gradient`` is the identity on the forward pass
and clips the cotangent on the backward pass; it accepts pytrees.

References:
  Huber, "Robust Estimation of a Location Parameter", Ann. Math. Statist. 1964;
  Mnih et al., "Human-level control through deep RL", Nature 2015 (gradient
  clipping of the TD error); Kostrikov et al., "Offline RL with Implicit
  Q-Learning", 2021, §4.1 (expectile loss); Bishop, Pattern Recognition and
  Machine Learning, 2006 (the ½ in the L2 loss).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import check_same_shape, validate


def _float_args(fn: str, **arrays: Any) -> None:
    validate(fn, *[(name, x, None, "float") for name, x in arrays.items()])


def huber_loss(x: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss: quadratic for ``|x| ≤ δ``, linear beyond.

    ``0.5 x²`` if ``|x| ≤ δ`` else ``0.5 δ² + δ (|x| − δ)``. The gradient of
    ``huber_loss(x)`` equals that of ``0.5 * clip_gradient(x, -δ, δ) ** 2``.

    Args:
      x: errors, any shape, floating.
      delta: δ ≥ 0, scalar.

    Returns:
      loss, same shape and dtype as ``x``.

    Raises:
      TypeError: if ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.huber_loss`; Huber 1964.
    """
    _float_args("huber_loss", x=x)
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    # abs_x - quadratic == max(abs_x - delta, 0) without doubling the gradient at |x| = δ.
    linear = abs_x - quadratic
    return 0.5 * quadratic**2 + delta * linear


@jax.custom_vjp
def _clip_gradient(x: Any, gradient_min: Any, gradient_max: Any) -> Any:
    del gradient_min, gradient_max  # used by the backward pass only
    return x


def _clip_gradient_fwd(x: Any, gradient_min: Any, gradient_max: Any) -> Any:
    return x, (gradient_min, gradient_max)


def _clip_gradient_bwd(res: Any, g: Any) -> Any:
    gradient_min, gradient_max = res
    clipped = jax.tree.map(lambda t: jnp.clip(t, gradient_min, gradient_max), g)
    return clipped, jnp.zeros_like(gradient_min), jnp.zeros_like(gradient_max)


_clip_gradient.defvjp(_clip_gradient_fwd, _clip_gradient_bwd)


def clip_gradient(x: Any, gradient_min: float, gradient_max: float) -> Any:
    """Identity on the forward pass; clips each gradient element to a range on the backward pass.

    Args:
      x: array or pytree of arrays, floating.
      gradient_min: lower bound of each gradient element.
      gradient_max: upper bound of each gradient element.

    Returns:
      ``x`` unchanged. No gradient flows to the bounds.

    Raises:
      TypeError: if a leaf of ``x`` is not floating.

    Matches rlax 0.1.9 `rlax.clip_gradient`; Mnih et al. 2015.
    """
    leaves = jax.tree.leaves(x)
    validate("clip_gradient", *[(f"x (leaf {i})", leaf, None, "float")
                                for i, leaf in enumerate(leaves)])
    return _clip_gradient(x, jnp.asarray(gradient_min), jnp.asarray(gradient_max))


def l2_loss(predictions: jax.Array, targets: jax.Array | None = None) -> jax.Array:
    """``0.5 (predictions − targets)²`` elementwise; an L2 regulariser when ``targets`` is None.

    Args:
      predictions: any shape, floating.
      targets: same shape as ``predictions`` (or ``None`` for zeros), floating.

    Returns:
      loss, shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.l2_loss`; Bishop 2006, eq. 1.2.
    """
    if targets is None:
        targets = jnp.zeros_like(predictions)
    _float_args("l2_loss", predictions=predictions, targets=targets)
    check_same_shape("l2_loss", ("predictions", predictions), ("targets", targets))
    return 0.5 * (predictions - targets) ** 2


def likelihood(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Bernoulli likelihood ``p^y (1 − p)^(1 − y)``, with ``0⁰ = 1``.

    Args:
      predictions: probabilities ``p`` in [0, 1], any shape, floating.
      targets: ``y`` in [0, 1], same shape, floating.

    Returns:
      likelihood, shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.likelihood`.
    """
    _float_args("likelihood", predictions=predictions, targets=targets)
    check_same_shape("likelihood", ("predictions", predictions), ("targets", targets))
    values = predictions**targets * (1.0 - predictions) ** (1.0 - targets)
    # 0 ** 0 is NaN on some backends: both degenerate cases are exactly 1.
    degenerate = jnp.logical_or(
        jnp.logical_and(targets == 1, predictions == 1),
        jnp.logical_and(targets == 0, predictions == 0),
    )
    return jnp.where(degenerate, jnp.ones((), values.dtype), values)


def log_loss(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Negative log likelihood ``−log likelihood(predictions, targets)``.

    Args / Raises: as `likelihood`.

    Returns:
      loss ≥ 0, shape of ``predictions``.

    Matches rlax 0.1.9 `rlax.log_loss`.
    """
    return -jnp.log(likelihood(predictions, targets))


def expectile_loss(predictions: jax.Array, targets: jax.Array, expectile: float) -> jax.Array:
    """Asymmetric squared loss ``|τ − 1[targets − predictions < 0]| (targets − predictions)²``.

    Args:
      predictions: ``[T, ...]``, floating.
      targets: same shape as ``predictions``, floating.
      expectile: τ in [0, 1], the weight of under-estimation (targets above predictions).

    Returns:
      loss, shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ.

    Matches rlax 0.1.9 `rlax.expectile_loss`; Kostrikov et al. 2021, eq. 5.
    """
    check_same_shape("expectile_loss", ("predictions", predictions), ("targets", targets))
    diff = targets - predictions
    weight = jnp.abs(expectile - jnp.less(diff, 0))
    return weight * diff**2
