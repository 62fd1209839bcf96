"""Exponential moving averages of the first two moments of a pytree (rlax 0.1.9 family).

``create_ema(decay)`` returns ``(init_state, update_moments)``. Each update
averages every leaf to a scalar (its mean over all elements, and over the
replicas of ``pmean_axis_name`` with ``jax.lax.pmean``), then

    μ ← decay μ + (1 − decay) mean(x),   ν ← decay ν + (1 − decay) mean(x²),

and returns moments debiased as in Adam (Kingma & Ba, "Adam: A Method for
Stochastic Optimization", ICLR 2015, Algorithm 1): mean = μ / (1 − Πdecay),
variance = max(0, ν / (1 − Πdecay) − mean²).

Matches rlax 0.1.9 (`rlax._src.moving_averages`) numerically.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

if TYPE_CHECKING:  # chex.dataclass is opaque to type checkers.
    from dataclasses import dataclass
else:
    from chex import dataclass

ArrayTree = Any


@dataclass(frozen=True)
class EmaMoments:
    """Debiased moment estimates.

    Attributes:
      mean: pytree (structure of the tracked tree) of scalar means.
      variance: pytree of scalar variances (≥ 0).
    """

    mean: ArrayTree
    variance: ArrayTree


@dataclass(frozen=True)
class EmaState:
    """Moving-average state.

    Attributes:
      mu: pytree of scalar moving averages of the leaves' means.
      nu: pytree of scalar moving averages of the leaves' mean squares.
      decay_product: product of all decays applied so far (1.0 initially), float32 scalar.
    """

    mu: ArrayTree
    nu: ArrayTree
    decay_product: float | jax.Array

    def debiased_moments(self) -> EmaMoments:
        """Mean and variance with the initial-zero bias removed (as in Adam)."""
        tiny = jnp.finfo(jnp.result_type(self.decay_product)).tiny
        debias = 1.0 / jnp.maximum(1 - self.decay_product, tiny)
        mean = jax.tree.map(lambda m: m * debias, self.mu)
        # E[x²] − E[x]² loses precision when |mean| ≫ std; rlax computes it the same way.
        variance = jax.tree.map(
            lambda m2, m: jnp.maximum(0.0, m2 * debias - jnp.square(m)), self.nu, mean
        )
        return EmaMoments(mean=mean, variance=variance)


def create_ema(
    decay: float = 0.999, pmean_axis_name: str | None = None
) -> tuple[Callable[[ArrayTree], EmaState], Callable[[ArrayTree, EmaState], tuple]]:
    """Builds ``(init_state, update_moments)`` tracking the moments of a pytree's leaves.

    ``init_state(template_tree) -> EmaState``: zeros (one scalar per leaf, in the
    leaf's dtype) and ``decay_product = 1.0`` (float32).
    ``update_moments(tree, state) -> (EmaMoments, EmaState)``: one update with the
    leaves of ``tree`` (any shapes, floating), then the debiased moments.

    Args:
      decay: decay of the averages in [0, 1); the step size is ``1 − decay``.
      pmean_axis_name: if not None, each leaf's mean is also averaged over this mapped
        axis (``pmap`` / ``vmap`` / ``shard_map``) with ``jax.lax.pmean``.

    Returns:
      the pair of functions.

    Raises:
      ValueError: if ``decay`` is a Python number outside [0, 1].
      TypeError (from ``update_moments``): if ``tree``'s structure differs from the
        state's, naming both structures.

    Matches rlax 0.1.9 `rlax.create_ema`.
    """
    if isinstance(decay, (int, float)) and not 0.0 <= decay <= 1.0:
        raise ValueError(f"create_ema: `decay` must be in [0, 1], got {decay}")

    def init_state(template_tree: ArrayTree) -> EmaState:
        zeros = jax.tree.map(lambda x: jnp.zeros_like(jnp.mean(x)), template_tree)
        return EmaState(mu=zeros, nu=zeros, decay_product=jnp.ones([], dtype=jnp.float32))

    def _update(moment: jax.Array, value: jax.Array) -> jax.Array:
        mean = jnp.mean(value)
        if pmean_axis_name is not None:
            mean = jax.lax.pmean(mean, axis_name=pmean_axis_name)
        return decay * moment + (1 - decay) * mean

    def update_moments(tree: ArrayTree, state: EmaState) -> tuple[EmaMoments, EmaState]:
        """One update; returns ``(debiased moments, new state)``."""
        want: jax.tree_util.PyTreeDef = jax.tree.structure(state.mu)
        got: jax.tree_util.PyTreeDef = jax.tree.structure(tree)
        if want != got:
            raise TypeError(
                f"update_moments: `tree` has structure {got}, expected {want} (that of the "
                "template given to init_state)"
            )
        mu = jax.tree.map(_update, state.mu, tree)
        nu = jax.tree.map(_update, state.nu, jax.tree.map(jnp.square, tree))
        new_state = EmaState(mu=mu, nu=nu, decay_product=state.decay_product * decay)
        return new_state.debiased_moments(), new_state

    return init_state, update_moments
