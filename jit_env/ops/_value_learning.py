"""State- and action-value learning TD errors (rlax 0.1.9 ``value_learning`` family).

Conventions: ``_tm1`` names the source state of a transition ``s_{t−1} --a_{t−1}--> s_t``
(``q_tm1``, ``a_tm1``, ``v_tm1``), ``_t`` the destination (``r_t``, ``discount_t`` — 0 on
termination —, ``q_t``, ``v_t``, ``a_t``). Actions are integer indices in ``[0, A)``.
Single-transition operators take scalars and ``[A]`` vectors; sequence operators
(``td_lambda``, ``sarsa_lambda``, ``q_lambda``, ``retrace``, ``retrace_continuous``) take
``[T]`` and ``[T, A]`` arrays of ONE stream.

Batch with ``jax.vmap``: ``jax.vmap(op)`` over a leading batch axis (``[B]``, ``[B, A]``,
or batch-major ``[B, T, …]``), or ``jax.vmap(op, in_axes=1, out_axes=1)`` for time-major
``[T, B, …]`` sequences. Measured on CPU at T=128, B=1024, A=6
(``benchmarks/ops_bench.py``): time-major is 2-3x faster for the scan-dominated
``td_lambda``-style returns, but ``retrace`` and ``q_lambda``, whose cost is dominated by
the action gathers (``batched_index``) rather than the scan, ran 1.3-2x faster batch-major;
on a loaded machine the two are within noise of each other for ``q_lambda``.

Every operator returns the TD error ``target − prediction``; with
``stop_target_gradients`` (default True, as rlax) gradients flow only into the
prediction. Static checks raise `ValueError` (rank/shape) or `TypeError` (dtype) naming
the argument, at trace time.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import (
    batched_index,
    check_dim,
    check_same_shape,
    maybe_stop_gradient,
    time_vector,
    validate,
)
from jit_env.ops._multistep import (
    _off_policy_returns,
    general_off_policy_returns_from_q_and_v,
    lambda_returns,
)


def _td(target: Any, prediction: Any, stop: Any) -> Any:
    return maybe_stop_gradient(target, stop) - prediction


def td_learning(
    v_tm1: Any, r_t: Any, discount_t: Any, v_t: Any, stop_target_gradients: bool = True
) -> jax.Array:
    """TD(0) error ``r_t + γ_t v_t − v_tm1``.

    Args:
      v_tm1, r_t, discount_t, v_t: scalars (shape ``[]``), floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError: if any argument is not a scalar.
      TypeError: if not floating.

    Matches rlax 0.1.9 ``rlax.td_learning``; Sutton (1988).
    """
    validate(
        "td_learning",
        ("v_tm1", v_tm1, 0, "float"),
        ("r_t", r_t, 0, "float"),
        ("discount_t", discount_t, 0, "float"),
        ("v_t", v_t, 0, "float"),
    )
    return _td(r_t + discount_t * v_t, v_tm1, stop_target_gradients)


def td_lambda(
    v_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """TD(λ) errors ``G^λ_t − v_tm1`` over one sequence (see `lambda_returns`).

    Args:
      v_tm1, r_t, discount_t, v_t: shape ``[T]``, floating.
      lambda_: scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the λ-returns.

    Returns:
      TD(λ) errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.td_lambda``; Sutton & Barto (2018) §12.2.
    """
    validate("td_lambda", ("v_tm1", v_tm1, 1, "float"))
    check_same_shape("td_lambda", ("r_t", r_t), ("v_tm1", v_tm1))
    target = lambda_returns(r_t, discount_t, v_t, lambda_)
    return _td(target, v_tm1, stop_target_gradients)


def _check_q(fn: str, q_tm1: Any, a_tm1: Any, r_t: Any, discount_t: Any, *rest: Any) -> None:
    validate(
        fn,
        ("q_tm1", q_tm1, 1, "float"),
        ("a_tm1", a_tm1, 0, "int"),
        ("r_t", r_t, 0, "float"),
        ("discount_t", discount_t, 0, "float"),
        *rest,
    )


def sarsa(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_t: jax.Array,
    a_t: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """SARSA error ``r_t + γ_t q_t[a_t] − q_tm1[a_tm1]``.

    Args:
      q_tm1: shape ``[A]``, floating. a_tm1: shape ``[]``, integer.
      r_t, discount_t: shape ``[]``, floating.
      q_t: shape ``[A]``, floating. a_t: shape ``[]``, integer.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.sarsa``; Sutton & Barto (2018) §6.4.
    """
    _check_q("sarsa", q_tm1, a_tm1, r_t, discount_t, ("q_t", q_t, 1, "float"),
             ("a_t", a_t, 0, "int"))
    return _td(r_t + discount_t * q_t[a_t], q_tm1[a_tm1], stop_target_gradients)


def expected_sarsa(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_t: jax.Array,
    probs_a_t: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Expected SARSA error ``r_t + γ_t Σ_a π(a|s_t) q_t[a] − q_tm1[a_tm1]``.

    Args:
      q_tm1: shape ``[A]``, floating. a_tm1: shape ``[]``, integer.
      r_t, discount_t: shape ``[]``, floating.
      q_t, probs_a_t: shape ``[A]``, floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.expected_sarsa``; van Seijen et al. (2009).
    """
    _check_q("expected_sarsa", q_tm1, a_tm1, r_t, discount_t, ("q_t", q_t, 1, "float"),
             ("probs_a_t", probs_a_t, 1, "float"))
    check_same_shape("expected_sarsa", ("q_t", q_t), ("probs_a_t", probs_a_t))
    return _td(r_t + discount_t * jnp.dot(q_t, probs_a_t), q_tm1[a_tm1], stop_target_gradients)


def _check_q_seq(
    fn: str, q_tm1: Any, a_tm1: Any, r_t: Any, discount_t: Any, q_t: Any, lambda_: Any,
) -> None:
    validate(
        fn,
        ("q_tm1", q_tm1, 2, "float"),
        ("a_tm1", a_tm1, 1, "int"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("q_t", q_t, 2, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
    )
    check_same_shape(fn, ("q_tm1", q_tm1), ("q_t", q_t))
    check_same_shape(fn, ("r_t", r_t), ("a_tm1", a_tm1), ("discount_t", discount_t),
                     ("q_tm1[:, 0]", q_tm1[:, 0]))


def sarsa_lambda(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t: jax.Array,
    a_t: jax.Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """SARSA(λ) errors: λ-returns of ``q_t[a_t]`` minus ``q_tm1[a_tm1]``.

    Args:
      q_tm1, q_t: shape ``[T, A]``, floating. a_tm1, a_t: shape ``[T]``, integer.
      r_t, discount_t: shape ``[T]``, floating. lambda_: scalar or ``[T]``, floating.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      TD errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.sarsa_lambda``; Sutton & Barto (2018) §12.7.
    """
    fn = "sarsa_lambda"
    _check_q_seq(fn, q_tm1, a_tm1, r_t, discount_t, q_t, lambda_)
    validate(fn, ("a_t", a_t, 1, "int"))
    check_same_shape(fn, ("a_tm1", a_tm1), ("a_t", a_t))
    target = lambda_returns(r_t, discount_t, batched_index(q_t, a_t), lambda_)
    return _td(target, batched_index(q_tm1, a_tm1), stop_target_gradients)


def q_learning(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_t: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Q-learning error ``r_t + γ_t max_a q_t[a] − q_tm1[a_tm1]``.

    Args:
      q_tm1, q_t: shape ``[A]``, floating. a_tm1: shape ``[]``, integer.
      r_t, discount_t: shape ``[]``, floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.q_learning``; Watkins & Dayan (1992).
    """
    _check_q("q_learning", q_tm1, a_tm1, r_t, discount_t, ("q_t", q_t, 1, "float"))
    return _td(r_t + discount_t * jnp.max(q_t), q_tm1[a_tm1], stop_target_gradients)


def double_q_learning(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_t_value: jax.Array,
    q_t_selector: jax.Array,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Double Q-learning error ``r_t + γ_t q_t_value[argmax q_t_selector] − q_tm1[a_tm1]``.

    Args:
      q_tm1, q_t_value, q_t_selector: shape ``[A]``, floating. a_tm1: ``[]``, integer.
      r_t, discount_t: shape ``[]``, floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.double_q_learning``; van Hasselt (2010).
    """
    _check_q("double_q_learning", q_tm1, a_tm1, r_t, discount_t,
             ("q_t_value", q_t_value, 1, "float"), ("q_t_selector", q_t_selector, 1, "float"))
    check_same_shape("double_q_learning", ("q_t_value", q_t_value),
                     ("q_t_selector", q_t_selector))
    target = r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)]
    return _td(target, q_tm1[a_tm1], stop_target_gradients)


def persistent_q_learning(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    q_t: jax.Array,
    action_gap_scale: float,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Persistent Q-learning error, bootstrapping from ``(1 − β) max q_t + β q_t[a_tm1]``.

    Args:
      q_tm1, q_t: shape ``[A]``, floating. a_tm1: shape ``[]``, integer.
      r_t, discount_t: shape ``[]``, floating.
      action_gap_scale: β in [0, 1].
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.persistent_q_learning``; Bellemare et al. (2016),
    "Increasing the Action Gap".
    """
    _check_q("persistent_q_learning", q_tm1, a_tm1, r_t, discount_t, ("q_t", q_t, 1, "float"))
    corrected = (1.0 - action_gap_scale) * jnp.max(q_t) + action_gap_scale * q_t[a_tm1]
    return _td(r_t + discount_t * corrected, q_tm1[a_tm1], stop_target_gradients)


def qv_learning(
    q_tm1: jax.Array,
    a_tm1: Any,
    r_t: Any,
    discount_t: Any,
    v_t: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """QV-learning error ``r_t + γ_t v_t − q_tm1[a_tm1]``.

    Args:
      q_tm1: shape ``[A]``, floating. a_tm1: shape ``[]``, integer.
      r_t, discount_t, v_t: shape ``[]``, floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.qv_learning``; Wiering & van Hasselt (2007).
    """
    _check_q("qv_learning", q_tm1, a_tm1, r_t, discount_t, ("v_t", v_t, 0, "float"))
    return _td(r_t + discount_t * v_t, q_tm1[a_tm1], stop_target_gradients)


def qv_max(
    v_tm1: Any, r_t: Any, discount_t: Any, q_t: jax.Array, stop_target_gradients: bool = True
) -> jax.Array:
    """QVMAX error ``r_t + γ_t max_a q_t[a] − v_tm1``.

    Args:
      v_tm1, r_t, discount_t: shape ``[]``, floating. q_t: shape ``[A]``, floating.
      stop_target_gradients: stop gradients through the target.

    Returns:
      TD error, shape ``[]``.

    Raises:
      ValueError / TypeError: on wrong ranks or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.qv_max``; Wiering & van Hasselt (2009).
    """
    validate(
        "qv_max",
        ("v_tm1", v_tm1, 0, "float"),
        ("r_t", r_t, 0, "float"),
        ("discount_t", discount_t, 0, "float"),
        ("q_t", q_t, 1, "float"),
    )
    return _td(r_t + discount_t * jnp.max(q_t), v_tm1, stop_target_gradients)


def q_lambda(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t: jax.Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Peng's (scalar λ) or Watkins' (λ_t sequence) Q(λ) errors.

    λ-returns of ``max_a q_t`` minus ``q_tm1[a_tm1]``.

    Args:
      q_tm1, q_t: shape ``[T, A]``, floating. a_tm1: shape ``[T]``, integer.
      r_t, discount_t: shape ``[T]``, floating. lambda_: scalar or ``[T]``, floating.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      TD errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.q_lambda``; Sutton & Barto (2018) §12.10, Peng & Williams (1996).
    """
    _check_q_seq("q_lambda", q_tm1, a_tm1, r_t, discount_t, q_t, lambda_)
    target = lambda_returns(r_t, discount_t, jnp.max(q_t, axis=-1), lambda_)
    return _td(target, batched_index(q_tm1, a_tm1), stop_target_gradients)


def _check_retrace(
    fn: str, q_tm1: Any, q_t: Any, a_tm1: Any, a_t: Any, r_t: Any, discount_t: Any, pi_t: Any,
    mu_t: Any,
) -> None:
    validate(
        fn,
        ("q_tm1", q_tm1, 2, "float"),
        ("q_t", q_t, 2, "float"),
        ("a_tm1", a_tm1, 1, "int"),
        ("a_t", a_t, 1, "int"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("pi_t", pi_t, 2, "float"),
        ("mu_t", mu_t, 1, "float"),
    )
    check_same_shape(fn, ("q_tm1", q_tm1), ("q_t", q_t), ("pi_t", pi_t))
    check_same_shape(fn, ("r_t", r_t), ("a_tm1", a_tm1), ("a_t", a_t),
                     ("discount_t", discount_t), ("mu_t", mu_t), ("q_tm1[:, 0]", q_tm1[:, 0]))


def retrace_trace(
    q_t: Any, a_t: Any, r_t: Any, discount_t: Any, pi_t: Any, mu_t: Any, lambda_: Any, eps: Any,
    cont: Any,
) -> Any:
    """Retrace targets; ``cont`` (``1 − truncation_t``, or None) scales the traces."""
    pi_a_t = batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    if cont is not None:
        c_t = c_t * cont
    exp_q_t = jnp.sum(pi_t * q_t, axis=-1)
    return _off_policy_returns(batched_index(q_t, a_t), exp_q_t, r_t, discount_t, c_t)


def retrace(
    q_tm1: jax.Array,
    q_t: jax.Array,
    a_tm1: jax.Array,
    a_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    pi_t: jax.Array,
    mu_t: jax.Array,
    lambda_: float,
    eps: float = 1e-8,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Retrace errors with traces ``c_t = λ min(1, π(a_t|s_t) / (μ(a_t|s_t) + eps))``.

    Targets are `general_off_policy_returns_from_action_values` of ``q_t``.

    Args:
      q_tm1, q_t: shape ``[T, A]``, floating. a_tm1, a_t: shape ``[T]``, integer.
      r_t, discount_t: shape ``[T]``, floating.
      pi_t: target-policy probabilities at ``s_t``, shape ``[T, A]``, floating.
      mu_t: behaviour probabilities of ``a_t``, shape ``[T]``, floating.
      lambda_: scalar λ. eps: added to ``mu_t`` in the ratio.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Retrace errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.retrace``; Munos et al. (2016), eq. 3.
    """
    _check_retrace("retrace", q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t)
    target = retrace_trace(q_t, a_t, r_t, discount_t, pi_t, mu_t, lambda_, eps, None)
    return _td(target, batched_index(q_tm1, a_tm1), stop_target_gradients)


def retrace_continuous(
    q_tm1: jax.Array,
    q_t: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    log_rhos: jax.Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Retrace errors for continuous actions, from log importance weights.

    ``c_t = λ min(1, exp(log_rhos))``; targets are
    `general_off_policy_returns_from_q_and_v(q_t, v_t, r_t, discount_t, c_t)`.

    Args:
      q_tm1: Q of the taken actions at ``s_0 … s_{K−1}``, shape ``[K]``, floating.
      q_t: Q of the taken actions at ``s_1 … s_{K−1}``, shape ``[K − 1]``, floating.
      v_t: target-policy values of ``s_1 … s_K``, shape ``[K]``, floating.
      r_t, discount_t: shape ``[K]``, floating.
      log_rhos: ``log π/μ`` of the actions at ``s_1 … s_{K−1}``, shape ``[K − 1]``.
      lambda_: scalar or shape ``[K − 1]``, floating.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Retrace errors, shape ``[K]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.retrace_continuous``; Munos et al. (2016).
    """
    fn = "retrace_continuous"
    validate(
        fn,
        ("q_tm1", q_tm1, 1, "float"),
        ("q_t", q_t, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("log_rhos", log_rhos, 1, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("q_tm1", q_tm1))
    check_dim(fn, "log_rhos", log_rhos, 0, r_t.shape[0] - 1, "len(r_t) - 1")
    c_t = jnp.minimum(1.0, jnp.exp(log_rhos)) * time_vector(fn, "lambda_", lambda_, log_rhos)
    target = general_off_policy_returns_from_q_and_v(q_t, v_t, r_t, discount_t, c_t)
    return _td(target, q_tm1, stop_target_gradients)
