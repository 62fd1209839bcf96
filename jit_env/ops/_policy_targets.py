"""Policy targets: sampled actions with weights, and a distillation loss (rlax 0.1.9 family).

A `PolicyTarget` holds ``N`` sampled ``actions`` and their ``weights``; the
distillation loss is ``−mean(weights · log π(actions))``. The distribution
arguments are objects with the distrax / TFP interface (``sample(seed=,
sample_shape=)``, ``log_prob(x)``, ``batch_shape``), e.g. a ``distrax``
distribution; ``jit_env.ops`` itself depends on neither library. A batch is
carried by the distribution's ``batch_shape`` (``[B]`` batch-major or
``[T, B]`` time-major): samples are ``[N, *batch_shape, …]``, no vmap needed.

References:
  Rusu et al., "Policy Distillation", ICLR 2016; Hessel et al., "Muesli:
  Combining Improvements in Policy Optimization", ICML 2021 (sampled policy
  targets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import check_same_shape, maybe_stop_gradient

if TYPE_CHECKING:  # chex.dataclass is opaque to type checkers.
    from dataclasses import dataclass
else:
    from chex import dataclass


@dataclass(frozen=True)
class PolicyTarget:
    """Sampled policy targets (frozen chex dataclass, a pytree).

    Attributes:
      actions: sampled target actions ``[N, ...]`` (may not cover all actions).
      weights: (possibly importance-weighted) probabilities of those actions,
        shape of ``log_prob(actions)``, i.e. ``[N, *batch_shape]``.

    Matches rlax 0.1.9 `rlax.PolicyTarget`.
    """

    actions: Any
    weights: Any


def constant_policy_targets(
    distribution: Any, rng_key: Any, num_samples: int, weights_scale: float = 1.0
) -> PolicyTarget:
    """Samples ``num_samples`` actions from ``distribution``, all with weight ``weights_scale``.

    Distilling targets sampled from a uniform distribution pushes the policy
    towards uniform with strength ``weights_scale``.

    Args:
      distribution: object with ``sample(seed=, sample_shape=)`` and ``batch_shape``.
      rng_key: PRNG key.
      num_samples: ``N``, a Python int.
      weights_scale: the constant weight.

    Returns:
      `PolicyTarget` with ``actions`` ``[N, *batch_shape, *event_shape]`` and
      ``weights`` ``[N, *batch_shape]`` float32.

    Raises:
      TypeError: if ``num_samples`` is not an int.

    Matches rlax 0.1.9 `rlax.constant_policy_targets`.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"constant_policy_targets: `num_samples` must be an int, got "
                        f"{type(num_samples).__name__}")
    actions = distribution.sample(seed=rng_key, sample_shape=(num_samples,))
    weights = weights_scale * jnp.ones((num_samples, *tuple(distribution.batch_shape)))
    return PolicyTarget(actions=actions, weights=weights)


def zero_policy_targets(
    distribution: Any, rng_key: Any, num_samples: int, *, weights_scale: float = 0.0
) -> PolicyTarget:
    """`constant_policy_targets` with ``weights_scale = 0`` by default: samples that
    add no loss.

    Args:
      distribution, rng_key, num_samples: as `constant_policy_targets`.
      weights_scale: keyword-only, the weight of every sample (0 by default).

    Matches rlax 0.1.9 `rlax.zero_policy_targets`, which is
    ``functools.partial(constant_policy_targets, weights_scale=0.0)``
    (``rlax/_src/policy_targets.py``).
    """
    return constant_policy_targets(
        distribution, rng_key, num_samples, weights_scale=weights_scale
    )


def sampled_policy_distillation_loss(
    distribution: Any, policy_targets: PolicyTarget, stop_target_gradients: bool = True
) -> jax.Array:
    """Sampled cross-entropy loss ``−mean(weights · log π(actions))``.

    The mean is over samples, batch and (for vector actions) any remaining
    axes. ``log π`` is floored at the dtype's lowest finite value, so a zero
    weight on an impossible action contributes 0 rather than NaN.

    Args:
      distribution: predicted policy, an object with ``log_prob``.
      policy_targets: `PolicyTarget`; ``weights`` must have the shape of
        ``distribution.log_prob(actions)``.
      stop_target_gradients: stop gradients into the weights and actions.

    Returns:
      scalar loss.

    Raises:
      ValueError: if ``weights`` and ``log_prob(actions)`` differ in shape.

    Matches rlax 0.1.9 `rlax.sampled_policy_distillation_loss`; Hessel et al. 2021.
    """
    weights = maybe_stop_gradient(policy_targets.weights, stop_target_gradients)
    actions = maybe_stop_gradient(policy_targets.actions, stop_target_gradients)
    log_probs = distribution.log_prob(actions)
    check_same_shape("sampled_policy_distillation_loss", ("log_prob(actions)", log_probs),
                     ("policy_targets.weights", weights))
    min_logp = jnp.finfo(log_probs.dtype).min
    return -jnp.mean(weights * jnp.maximum(log_probs, min_logp))
