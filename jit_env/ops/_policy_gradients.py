"""Policy-gradient losses (rlax 0.1.9 family).

Each loss takes ONE sequence of ``T`` time steps (``logits_t`` ``[T, A]``,
``a_t`` ``[T]``, ``adv_t`` ``[T]``, …) and returns a scalar averaged over time;
the exception is `dpg_loss`, which takes one step's action vector. ``_t``
marks quantities at the step where the action was taken. Batch with
``jax.vmap(loss)`` over batch-major ``[B, T, …]`` inputs, or
``jax.vmap(loss, in_axes=1)`` over time-major ``[T, B, …]``, then average the
``[B]`` losses.

``use_stop_gradient`` (default True) stops gradients into the advantages /
targets, so ``jax.grad`` of the loss is the policy-gradient estimate.

References:
  Williams, "Simple statistical gradient-following algorithms for
  connectionist RL", Machine Learning 1992 (REINFORCE); Williams & Peng 1991
  (entropy regularisation); Silver et al., "Deterministic Policy Gradient
  Algorithms", ICML 2014; Srinivasan et al., "Actor-Critic Policy Optimization
  in Partially Observable Multiagent Environments", NeurIPS 2018 (QPG, RPG,
  RMPG); Schulman et al., "Proximal Policy Optimization Algorithms", 2017, eq. 7.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import check_same_shape, maybe_stop_gradient, validate
from jit_env.ops._distributions import _check_dims, _entropy_from_log_probs, _logprob_categorical
from jit_env.ops._losses import l2_loss


def _clip_by_l2_norm(x: jax.Array, max_norm: Any) -> jax.Array:
    """Rescales ``x`` to L2 norm ``max_norm`` if larger; NaN-free gradient at ``x = 0``."""
    sum_sq = jnp.sum(jnp.square(x))
    nonzero = sum_sq > 0
    # Double-where: never differentiate sqrt at 0.
    norm = jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sum_sq, 1.0)), sum_sq)
    return (x * max_norm) / jnp.maximum(norm, max_norm)


def dpg_loss(
    a_t: jax.Array,
    dqda_t: jax.Array,
    dqda_clipping: Any = None,
    use_stop_gradient: bool = True,
) -> jax.Array:
    """Deterministic policy gradient loss ``0.5 ‖sg(a_t + dq/da) − a_t‖²`` per dimension.

    Its gradient w.r.t. the policy parameters is ``−(dq/da)(da/dθ)``.

    Args:
      a_t: continuous action ``[D]``, floating.
      dqda_t: ``∂Q(s, a)/∂a`` at ``a_t``, ``[D]``, floating.
      dqda_clipping: if given, ``dqda_t`` is rescaled to L2 norm ≤ this.
      use_stop_gradient: stop gradients into the target ``a_t + dqda_t``.

    Returns:
      loss ``[D]`` (elementwise, as rlax).

    Raises:
      ValueError: if ranks or shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.dpg_loss`; Silver et al. 2014, eq. 6.
    """
    fn = "dpg_loss"
    validate(fn, *[("a_t", a_t, 1, "float"), ("dqda_t", dqda_t, 1, "float")])
    check_same_shape(fn, ("a_t", a_t), ("dqda_t", dqda_t))
    if dqda_clipping is not None:
        dqda_t = _clip_by_l2_norm(dqda_t, dqda_clipping)
    target_tm1 = maybe_stop_gradient(dqda_t + a_t, use_stop_gradient)
    return l2_loss(target_tm1 - a_t)


def policy_gradient_loss(
    logits_t: jax.Array,
    a_t: jax.Array,
    adv_t: jax.Array,
    w_t: jax.Array,
    use_stop_gradient: bool = True,
) -> jax.Array:
    """REINFORCE / actor-critic loss ``mean_t(−log π(a_t | s_t) · adv_t · w_t)``.

    Args:
      logits_t: action logits ``[T, A]``, floating.
      a_t: actions taken ``[T]``, integer.
      adv_t: advantages ``[T]``, floating.
      w_t: per-step weights ``[T]``, floating (e.g. a padding mask).
      use_stop_gradient: stop gradients into ``adv_t``.

    Returns:
      scalar loss.

    Raises:
      ValueError: if ranks or ``T`` differ.
      TypeError: on wrong dtypes.

    Matches rlax 0.1.9 `rlax.policy_gradient_loss`; Williams 1992.
    """
    fn = "policy_gradient_loss"
    validate(fn, *[("logits_t", logits_t, 2, "float"), ("a_t", a_t, 1, "int"),
                   ("adv_t", adv_t, 1, "float"), ("w_t", w_t, 1, "float")])
    _check_dims(fn, [(n, x, 0, "logits_t", logits_t, 0)
                     for n, x in (("a_t", a_t), ("adv_t", adv_t), ("w_t", w_t))])
    log_pi_a_t = _logprob_categorical(a_t, jax.nn.log_softmax(logits_t, axis=-1))
    adv_t = maybe_stop_gradient(adv_t, use_stop_gradient)
    return jnp.mean(-log_pi_a_t * adv_t * w_t)


def entropy_loss(logits_t: jax.Array, w_t: jax.Array) -> jax.Array:
    """Entropy regulariser ``−mean_t(H(π(· | s_t)) · w_t)``.

    Args:
      logits_t: action logits ``[T, A]``, floating.
      w_t: per-step weights ``[T]``, floating.

    Returns:
      scalar loss (minimising it maximises entropy).

    Raises:
      ValueError: if ranks or ``T`` differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.entropy_loss`; Williams & Peng 1991.
    """
    fn = "entropy_loss"
    validate(fn, *[("logits_t", logits_t, 2, "float"), ("w_t", w_t, 1, "float")])
    _check_dims(fn, [("w_t", w_t, 0, "logits_t", logits_t, 0)])
    entropy_t = _entropy_from_log_probs(jax.nn.log_softmax(logits_t, axis=-1))
    return -jnp.mean(entropy_t * w_t)


def _check_logits_q(fn: str, logits_t: Any, q_t: Any) -> None:
    validate(fn, *[("logits_t", logits_t, 2, "float"), ("q_t", q_t, 2, "float")])
    check_same_shape(fn, ("logits_t", logits_t), ("q_t", q_t))


def _compute_advantages(logits_t: Any, q_t: Any, use_stop_gradient: Any = True) -> Any:
    policy_t = jax.nn.softmax(logits_t, axis=1)
    q_t = maybe_stop_gradient(q_t, use_stop_gradient)
    baseline_t = jnp.sum(policy_t * q_t, axis=1)
    return policy_t, q_t - baseline_t[:, None]


def qpg_loss(logits_t: jax.Array, q_t: jax.Array, use_stop_gradient: bool = True) -> jax.Array:
    """Q-based policy gradient loss ``mean_t Σ_a −π(a) (q(a) − Σ_b π(b) q(b))``.

    Args:
      logits_t: action logits ``[T, A]``, floating.
      q_t: action values ``[T, A]``, floating.
      use_stop_gradient: stop gradients into the advantages.

    Returns:
      scalar loss.

    Raises:
      ValueError: if ranks or shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.qpg_loss`; Srinivasan et al. 2018, §3.
    """
    _check_logits_q("qpg_loss", logits_t, q_t)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    advantage_t = maybe_stop_gradient(advantage_t, use_stop_gradient)
    return jnp.mean(jnp.sum(-policy_t * advantage_t, axis=1), axis=0)


def rm_loss(logits_t: jax.Array, q_t: jax.Array, use_stop_gradient: bool = True) -> jax.Array:
    """Regret-matching policy gradient loss ``mean_t Σ_a −π(a) relu(q(a) − v)``.

    Args / Returns / Raises: as `qpg_loss`.

    Matches rlax 0.1.9 `rlax.rm_loss`; Srinivasan et al. 2018, §3.
    """
    _check_logits_q("rm_loss", logits_t, q_t)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    regret_t = maybe_stop_gradient(jax.nn.relu(advantage_t), use_stop_gradient)
    return jnp.mean(jnp.sum(-policy_t * regret_t, axis=1), axis=0)


def rpg_loss(logits_t: jax.Array, q_t: jax.Array, use_stop_gradient: bool = True) -> jax.Array:
    """Regret policy gradient loss ``mean_t Σ_a relu(q(a) − Σ_b π(b) q(b))``.

    ``use_stop_gradient`` stops gradients into ``q_t`` (gradients still flow
    through the baseline's policy weights).

    Args / Returns / Raises: as `qpg_loss`.

    Matches rlax 0.1.9 `rlax.rpg_loss`; Srinivasan et al. 2018, §3.
    """
    _check_logits_q("rpg_loss", logits_t, q_t)
    _, adv_t = _compute_advantages(logits_t, q_t, use_stop_gradient)
    return jnp.mean(jnp.sum(jax.nn.relu(adv_t), axis=1), axis=0)


def clipped_surrogate_pg_loss(
    prob_ratios_t: jax.Array,
    adv_t: jax.Array,
    epsilon: Any,
    use_stop_gradient: bool = True,
) -> jax.Array:
    """PPO clipped surrogate loss ``−mean_t min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t)``.

    Args:
      prob_ratios_t: ``r_t = π_θ(a_t | s_t) / π_old(a_t | s_t)``, ``[T]``, floating.
      adv_t: advantages ``Â_t``, ``[T]``, floating.
      epsilon: clipping range ε ≥ 0, scalar.
      use_stop_gradient: stop gradients into ``adv_t``.

    Returns:
      scalar loss.

    Raises:
      ValueError: if ranks or shapes differ.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.clipped_surrogate_pg_loss` (``fmin``, so a NaN in one
    branch yields the other); Schulman et al. 2017, eq. 7.
    """
    fn = "clipped_surrogate_pg_loss"
    validate(fn, *[("prob_ratios_t", prob_ratios_t, 1, "float"), ("adv_t", adv_t, 1, "float")])
    check_same_shape(fn, ("prob_ratios_t", prob_ratios_t), ("adv_t", adv_t))
    adv_t = maybe_stop_gradient(adv_t, use_stop_gradient)
    clipped_ratios_t = jnp.clip(prob_ratios_t, 1.0 - epsilon, 1.0 + epsilon)
    clipped_objective = jnp.fmin(prob_ratios_t * adv_t, clipped_ratios_t * adv_t)
    return -jnp.mean(clipped_objective)
