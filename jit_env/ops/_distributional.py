"""Distributional value learning: categorical (C51) and quantile (QR-DQN) TD losses.

Like rlax 0.1.9, every operator takes ONE transition: ``_tm1`` arrays describe
the source state (where action ``a_tm1`` was taken), ``r_t`` / ``discount_t``
the reward and discount received on arriving at the destination state, and
``_t`` arrays the destination state. Batch with ``jax.vmap(op)`` over a
leading batch axis; for time-major ``[T, B, …]`` data map twice,
``jax.vmap(jax.vmap(op))``, or reshape to ``[T * B, …]`` first.

`categorical_l2_project` evaluates the weight of every (target, source) atom
pair, as rlax does, so its values and derivatives (w.r.t. all three arguments,
at ties and repeated atoms included) are rlax's; the supports may be traced
(``jax.jit`` / ``jax.vmap`` arguments).

References:
  Bellemare, Dabney & Munos, "A Distributional Perspective on Reinforcement
  Learning", ICML 2017 (categorical projection, Algorithm 1); Rowland et al.,
  "An Analysis of Categorical Distributional RL", AISTATS 2018 (the projection
  is the Cramér-distance projection, for any sorted support); Dabney et al.,
  "Distributional RL with Quantile Regression", AAAI 2018 (eqs. 9–10);
  van Hasselt, "Double Q-learning", NeurIPS 2010.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import check_same_shape, maybe_stop_gradient, validate
from jit_env.ops._distributions import _check_dims, categorical_cross_entropy
from jit_env.ops._losses import huber_loss


def categorical_l2_project(z_p: jax.Array, probs: jax.Array, z_q: jax.Array) -> jax.Array:
    """Projects the categorical distribution ``(z_p, probs)`` onto the support ``z_q``.

    Each source atom ``z_p[j]`` is clipped to ``[z_q[0], z_q[-1]]`` and gives
    target atom ``i`` the mass ``probs[j] · clip(1 − |z_p[j] − z_q[i]| / g, 0, 1)``,
    where ``g`` is the gap to the next atom on the side of ``z_p[j]``
    (``z_q[i+1] − z_q[i]`` if ``z_p[j] ≥ z_q[i]``, else ``z_q[i] − z_q[i−1]``); a
    gap that is not positive (a repeated atom, or past either end) contributes
    ``1/g = 0``. For a strictly increasing ``z_q`` this splits each atom's mass
    linearly between the two target atoms that bracket it, which minimises the
    Cramér (L2 between CDFs) distance, and preserves the total mass. ``len(z_q)``
    need not equal ``len(z_p)`` and ``z_p`` need not be sorted.

    ``z_q`` is not checked for order (it may be traced); for a support that is
    not increasing the result is rlax's, which is not a projection.

    Args:
      z_p: source atoms ``[Kp]``, floating.
      probs: source probabilities ``[Kp]``, floating.
      z_q: target atoms ``[Kq]``, floating, increasing.

    Returns:
      projected probabilities ``[Kq]``, the promoted dtype of the inputs.

    Raises:
      ValueError: if a rank is not 1 or ``probs`` and ``z_p`` differ in length.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.categorical_l2_project` (``rlax/_src/value_learning.py``;
    values and gradients, O(Kp · Kq)); Bellemare et al. 2017, Alg. 1.
    """
    fn = "categorical_l2_project"
    validate(fn, *[("z_p", z_p, 1, "float"), ("probs", probs, 1, "float"),
                   ("z_q", z_q, 1, "float")])
    check_same_shape(fn, ("z_p", z_p), ("probs", probs))

    def inverse_gap(gap: jax.Array) -> jax.Array:
        return jnp.where(gap > 0, 1.0 / gap, jnp.zeros_like(gap))[:, None]

    inv_right = inverse_gap(jnp.roll(z_q, -1) - z_q)  # 1 / (z_q[i+1] − z_q[i]), [Kq, 1]
    inv_left = inverse_gap(z_q - jnp.roll(z_q, 1))  # 1 / (z_q[i] − z_q[i−1])
    delta = jnp.clip(z_p, z_q[0], z_q[-1])[None, :] - z_q[:, None]  # [Kq, Kp]
    right = (delta >= 0.0).astype(probs.dtype)
    scaled = right * delta * inv_right - (1.0 - right) * delta * inv_left  # |delta| / g
    return jnp.sum(jnp.clip(1.0 - scaled, 0.0, 1.0) * probs[None, :], axis=-1)


def categorical_td_learning(
    v_atoms_tm1: jax.Array,
    v_logits_tm1: jax.Array,
    r_t: Any,
    discount_t: Any,
    v_atoms_t: jax.Array,
    v_logits_t: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Categorical TD loss for a state-value distribution.

    Target: ``softmax(v_logits_t)`` on atoms ``r_t + discount_t · v_atoms_t``,
    projected onto ``v_atoms_tm1``; loss: cross entropy to ``v_logits_tm1``.

    Args:
      v_atoms_tm1: ``[K]`` atoms at ``s_tm1``, floating, increasing (may be traced).
      v_logits_tm1: ``[K]`` logits at ``s_tm1``, floating.
      r_t: scalar reward. discount_t: scalar discount.
      v_atoms_t: ``[K']`` atoms at ``s_t``. v_logits_t: ``[K']`` logits at ``s_t``.
      stop_target_gradients: stop gradients into the projected target.

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or lengths.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.categorical_td_learning`; Bellemare et al. 2017.
    """
    fn = "categorical_td_learning"
    validate(fn, *[("v_atoms_tm1", v_atoms_tm1, 1, "float"),
                   ("v_logits_tm1", v_logits_tm1, 1, "float"), ("r_t", r_t, 0, "float"),
                   ("discount_t", discount_t, 0, "float"), ("v_atoms_t", v_atoms_t, 1, "float"),
                   ("v_logits_t", v_logits_t, 1, "float")])
    check_same_shape(fn, ("v_atoms_tm1", v_atoms_tm1), ("v_logits_tm1", v_logits_tm1))
    check_same_shape(fn, ("v_atoms_t", v_atoms_t), ("v_logits_t", v_logits_t))
    target_z = r_t + discount_t * v_atoms_t
    target = categorical_l2_project(target_z, jax.nn.softmax(v_logits_t), v_atoms_tm1)
    target = maybe_stop_gradient(target, stop_target_gradients)
    return categorical_cross_entropy(labels=target, logits=v_logits_tm1)


def _check_categorical_q(
    fn: str, q_atoms_tm1: Any, q_logits_tm1: Any, a_tm1: Any, r_t: Any, discount_t: Any,
    q_atoms_t: Any, q_logits_t: Any, extra: Any = (),
) -> None:
    validate(fn, *[("q_atoms_tm1", q_atoms_tm1, 1, "float"),
                   ("q_logits_tm1", q_logits_tm1, 2, "float"), ("a_tm1", a_tm1, 0, "int"),
                   ("r_t", r_t, 0, "float"), ("discount_t", discount_t, 0, "float"),
                   ("q_atoms_t", q_atoms_t, 1, "float"), ("q_logits_t", q_logits_t, 2, "float"),
                   *extra])
    _check_dims(fn, [("q_logits_tm1", q_logits_tm1, 1, "q_atoms_tm1", q_atoms_tm1, 0),
                     ("q_logits_t", q_logits_t, 1, "q_atoms_t", q_atoms_t, 0),
                     ("q_logits_t", q_logits_t, 0, "q_logits_tm1", q_logits_tm1, 0)])


def categorical_q_learning(
    q_atoms_tm1: jax.Array,
    q_logits_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_atoms_t: jax.Array,
    q_logits_t: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Categorical Q-learning (C51) loss.

    The greedy action at ``s_t`` maximises the mean ``Σ_k softmax(q_logits_t[a])_k
    q_atoms_t[k]``; its distribution on atoms ``r_t + discount_t · q_atoms_t`` is
    projected onto ``q_atoms_tm1`` and compared (cross entropy) with
    ``q_logits_tm1[a_tm1]``.

    Args:
      q_atoms_tm1: ``[K]`` floating, increasing (may be traced).
      q_logits_tm1: ``[A, K]`` floating.
      a_tm1: scalar action, integer.
      r_t: scalar reward. discount_t: scalar discount.
      q_atoms_t: ``[K']`` floating. q_logits_t: ``[A, K']`` floating.
      stop_target_gradients: stop gradients into the projected target.

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or sizes.
      TypeError: on wrong dtypes.

    Matches rlax 0.1.9 `rlax.categorical_q_learning`; Bellemare et al. 2017, Alg. 1.
    """
    _check_categorical_q("categorical_q_learning", q_atoms_tm1, q_logits_tm1, a_tm1, r_t,
                         discount_t, q_atoms_t, q_logits_t)
    target_z = r_t + discount_t * q_atoms_t
    q_t_probs = jax.nn.softmax(q_logits_t)
    q_t_mean = jnp.sum(q_t_probs * q_atoms_t[None, :], axis=1)
    p_target_z = q_t_probs[jnp.argmax(q_t_mean)]
    target = categorical_l2_project(target_z, p_target_z, q_atoms_tm1)
    target = maybe_stop_gradient(target, stop_target_gradients)
    return categorical_cross_entropy(labels=target, logits=q_logits_tm1[a_tm1])


def categorical_double_q_learning(
    q_atoms_tm1: jax.Array,
    q_logits_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_atoms_t: jax.Array,
    q_logits_t: jax.Array,
    q_t_selector: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Categorical double Q-learning loss: the greedy action comes from ``q_t_selector``.

    Args:
      q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t, q_logits_t: as
        `categorical_q_learning`.
      q_t_selector: ``[A]`` floating values at ``s_t`` (e.g. the online network's
        means) used only for the argmax.
      stop_target_gradients: stop gradients into the projected target.

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or sizes.
      TypeError: on wrong dtypes.

    Matches rlax 0.1.9 `rlax.categorical_double_q_learning`; Bellemare et al. 2017;
    van Hasselt 2010.
    """
    fn = "categorical_double_q_learning"
    _check_categorical_q(fn, q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t,
                         q_logits_t, extra=[("q_t_selector", q_t_selector, 1, "float")])
    _check_dims(fn, [("q_t_selector", q_t_selector, 0, "q_logits_t", q_logits_t, 0)])
    target_z = r_t + discount_t * q_atoms_t
    p_target_z = jax.nn.softmax(q_logits_t[jnp.argmax(q_t_selector)])
    target = categorical_l2_project(target_z, p_target_z, q_atoms_tm1)
    target = maybe_stop_gradient(target, stop_target_gradients)
    return categorical_cross_entropy(labels=target, logits=q_logits_tm1[a_tm1])


def quantile_regression_loss(
    dist_src: jax.Array,
    tau_src: jax.Array,
    dist_target: jax.Array,
    huber_param: float = 0.0,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """(Huber) quantile regression loss between two sets of quantile samples.

    ``Σ_i mean_j |τ_i − 1[δ_ij < 0]| ρ(δ_ij)`` with ``δ_ij = dist_target[j] −
    dist_src[i]`` and ``ρ = |·|`` (``huber_param == 0``) or the Huber loss.

    Args:
      dist_src: ``[N]`` predicted quantile values, floating.
      tau_src: ``[N]`` their quantile levels in (0, 1), floating.
      dist_target: ``[M]`` target samples, floating.
      huber_param: κ ≥ 0, a Python float (static).
      stop_target_gradients: stop gradients into ``dist_target``. (rlax 0.1.9
        applies its stop only to the non-differentiable indicator, so its flag
        has no effect on gradients; here it does what it says. Values are equal.)

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or if ``tau_src`` and ``dist_src`` differ in length.
      TypeError: on non-floating input.

    Matches rlax 0.1.9 `rlax.quantile_regression_loss` (values); Dabney et al.
    2018, eqs. 9–10.
    """
    fn = "quantile_regression_loss"
    validate(fn, *[("dist_src", dist_src, 1, "float"), ("tau_src", tau_src, 1, "float"),
                   ("dist_target", dist_target, 1, "float")])
    check_same_shape(fn, ("dist_src", dist_src), ("tau_src", tau_src))
    dist_target = maybe_stop_gradient(dist_target, stop_target_gradients)
    delta = dist_target[None, :] - dist_src[:, None]
    weight = jnp.abs(tau_src[:, None] - (delta < 0.0).astype(delta.dtype))
    loss = huber_loss(delta, huber_param) if huber_param > 0.0 else jnp.abs(delta)
    return jnp.sum(jnp.mean(loss * weight, axis=-1))


def quantile_q_learning(
    dist_q_tm1: jax.Array,
    tau_q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    dist_q_t_selector: jax.Array,
    dist_q_t: jax.Array,
    huber_param: float = 0.0,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Quantile-regression Q-learning (QR-DQN) loss for one transition.

    The greedy action at ``s_t`` maximises the mean over quantiles of
    ``dist_q_t_selector``; the target is ``r_t + discount_t · dist_q_t[:, a_t]``.

    Args:
      dist_q_tm1: ``[N, A]`` quantile values at ``s_tm1``, floating.
      tau_q_tm1: ``[N]`` quantile levels, floating.
      a_tm1: scalar action, integer.
      r_t: scalar reward. discount_t: scalar discount.
      dist_q_t_selector: ``[M, A]`` quantile values used to pick ``a_t``.
      dist_q_t: ``[M, A]`` target quantile values at ``s_t``.
      huber_param: κ ≥ 0, a Python float.
      stop_target_gradients: stop gradients into the target.

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or sizes.
      TypeError: on wrong dtypes.

    Matches rlax 0.1.9 `rlax.quantile_q_learning`; Dabney et al. 2018, Alg. 1.
    """
    fn = "quantile_q_learning"
    validate(fn, *[("dist_q_tm1", dist_q_tm1, 2, "float"), ("tau_q_tm1", tau_q_tm1, 1, "float"),
                   ("a_tm1", a_tm1, 0, "int"), ("r_t", r_t, 0, "float"),
                   ("discount_t", discount_t, 0, "float"),
                   ("dist_q_t_selector", dist_q_t_selector, 2, "float"),
                   ("dist_q_t", dist_q_t, 2, "float")])
    check_same_shape(fn, ("dist_q_t", dist_q_t), ("dist_q_t_selector", dist_q_t_selector))
    _check_dims(fn, [("tau_q_tm1", tau_q_tm1, 0, "dist_q_tm1", dist_q_tm1, 0),
                     ("dist_q_t", dist_q_t, 1, "dist_q_tm1", dist_q_tm1, 1)])
    dist_qa_tm1 = dist_q_tm1[:, a_tm1]
    a_t = jnp.argmax(jnp.mean(dist_q_t_selector, axis=0))
    dist_target = r_t + discount_t * dist_q_t[:, a_t]
    return quantile_regression_loss(dist_qa_tm1, tau_q_tm1, dist_target, huber_param,
                                    stop_target_gradients)


def quantile_expected_sarsa(
    dist_q_tm1: jax.Array,
    tau_q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    dist_q_t: jax.Array,
    probs_a_t: jax.Array,
    huber_param: float = 0.0,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Quantile-regression expected-SARSA loss: QR losses to each action's target, π-weighted.

    ``Σ_a probs_a_t[a] · QR(dist_q_tm1[:, a_tm1], r_t + discount_t · dist_q_t[:, a])``.

    Args:
      dist_q_tm1: ``[N, A]`` floating. tau_q_tm1: ``[N]`` floating.
      a_tm1: scalar action, integer. r_t, discount_t: scalars, floating.
      dist_q_t: ``[M, A]`` floating. probs_a_t: ``[A]`` policy at ``s_t``, floating.
      huber_param: κ ≥ 0, a Python float.
      stop_target_gradients: stop gradients into the targets and ``probs_a_t``.

    Returns:
      scalar loss.

    Raises:
      ValueError: on wrong ranks or sizes.
      TypeError: on wrong dtypes.

    Matches rlax 0.1.9 `rlax.quantile_expected_sarsa`; Dabney et al. 2018.
    """
    fn = "quantile_expected_sarsa"
    validate(fn, *[("dist_q_tm1", dist_q_tm1, 2, "float"), ("tau_q_tm1", tau_q_tm1, 1, "float"),
                   ("a_tm1", a_tm1, 0, "int"), ("r_t", r_t, 0, "float"),
                   ("discount_t", discount_t, 0, "float"), ("dist_q_t", dist_q_t, 2, "float"),
                   ("probs_a_t", probs_a_t, 1, "float")])
    _check_dims(fn, [("tau_q_tm1", tau_q_tm1, 0, "dist_q_tm1", dist_q_tm1, 0),
                     ("dist_q_t", dist_q_t, 1, "dist_q_tm1", dist_q_tm1, 1),
                     ("probs_a_t", probs_a_t, 0, "dist_q_tm1", dist_q_tm1, 1)])
    dist_qa_tm1 = dist_q_tm1[:, a_tm1]
    dist_target = maybe_stop_gradient(r_t + discount_t * dist_q_t, stop_target_gradients)
    probs_a_t = maybe_stop_gradient(probs_a_t, stop_target_gradients)
    per_action = jax.vmap(quantile_regression_loss, in_axes=(None, None, 1, None, None))(
        dist_qa_tm1, tau_q_tm1, dist_target, huber_param, stop_target_gradients
    )
    return jnp.dot(per_action, probs_a_t)
