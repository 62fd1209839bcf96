"""Truncation-aware returns and advantages (beyond rlax).

rlax's recursions stop only where ``discount_t == 0``, so an episode cut by a time limit
(or by an auto-reset inside the window) either leaks the next episode's rewards into the
return, or — if the caller zeroes the discount — wrongly treats the cut as a termination.
The functions here take one more ``[T]`` array, ``truncation_t``, and keep the two apart.

Convention (the same for every function in this module), per transition
``t = 0 … T−1`` of ONE stream, ``s_t --a_t--> s_{t+1}``:

* ``r_t[t]``: reward of the transition; ``discount_t[t]``: its discount γ, **0 where the
  episode terminated** (no bootstrap);
* ``v_tm1[t]``: value of the state the transition starts from, ``v(s_t)``;
* ``v_t[t]`` (``q_t[t]``): value to bootstrap from, ``v(s_{t+1})`` — where an episode
  ended at ``t`` and the environment auto-reset, the caller computes it from the **final
  observation** (``extras["final_observation"]``), not from the next episode's first one;
* ``truncation_t[t]``: 1 (or True) where the episode was cut after transition ``t`` by a
  time limit or by an auto-reset, else 0. It **stops the λ-recursion** (nothing after
  ``t`` flows into ``t``'s target) **without zeroing the bootstrap** ``γ_t v_t[t]``.
  ``truncation_t[-1]`` is irrelevant: the recursion always stops at the window's end.

With δ_t = r_t + γ_t v_t − v_tm1 and c_t = 1 − truncation_t, generalised advantages are
``A_t = δ_t + γ_t λ_t c_t A_{t+1}`` (``A_T = 0``); λ-returns
``G_t = r_t + γ_t [(1 − λ_t c_t) v_t + λ_t c_t G_{t+1}]``; the off-policy estimators
(V-trace, Retrace, Q(λ)) multiply their trace coefficient by ``c_t`` in the same way.

Laws (tested): with ``truncation_t`` all zero each function equals its rlax 0.1.9
namesake (``lambda_returns``, ``n_step_bootstrapped_returns``, ``q_lambda``, ``retrace``,
``vtrace``, ``vtrace_td_error_and_advantage``; ``truncated_generalized_advantage_estimation``
when also ``v_t[k] = v_tm1[k+1]``); with truncations each equals the rlax function run
separately on every truncated segment. The λ-return functions need no ``v_tm1`` (the
target only bootstraps from ``v_t``), which keeps them correct with a target network;
where ``v_t[k] = v_tm1[k+1]`` within episodes, ``truncation_aware_lambda_returns ==
generalized_advantage_estimation + v_tm1``.

Batching: ``jax.vmap(op)`` for batch-major ``[B, T]``, ``jax.vmap(op, in_axes=1,
out_axes=1)`` for time-major ``[T, B]`` (faster on CPU, see ``benchmarks/ops_bench.py``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import (
    batched_index,
    check_lambda,
    check_same_shape,
    maybe_stop_gradient,
    stop_td_targets,
    time_vector,
    validate,
)
from jit_env.ops._multistep import (
    continuation,
    lambda_returns_body,
    n_step_body,
    reverse_scan,
)
from jit_env.ops._value_learning import _check_q_seq, _check_retrace, retrace_trace
from jit_env.ops._vtrace import VTraceOutput, _q_estimate, _vtrace_ratios
from jit_env.ops._vtrace import _check as _vtrace_check
from jit_env.ops._vtrace import _errors as _vtrace_errors


def generalized_advantage_estimation(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_tm1: jax.Array,
    v_t: jax.Array,
    truncation_t: jax.Array,
    lambda_: Any = 0.95,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Truncation-aware generalised advantage estimates over one stream.

    ``A_t = δ_t + γ_t λ_t (1 − truncation_t) A_{t+1}``, ``A_T = 0``, with
    ``δ_t = r_t + γ_t v_t − v_tm1``. Value targets are ``A + v_tm1``.

    Args:
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts (0 on termination), shape ``[T]``, floating.
      v_tm1: values of the source states, shape ``[T]``, floating.
      v_t: bootstrap values (from the final observation where an episode ended),
        shape ``[T]``, floating.
      truncation_t: 1/True where the episode was cut after ``t``, shape ``[T]``, bool or
        numeric 0/1.
      lambda_: GAE λ, scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the advantages (default True).

    Returns:
      Advantages, shape ``[T]``, dtype of ``r_t``.

    Raises:
      ValueError: on wrong ranks or mismatched lengths (names the argument).
      TypeError: on non-floating ``r_t``/``discount_t``/``v_tm1``/``v_t``/``lambda_``.

    Reference: Schulman et al. (2016), "High-Dimensional Continuous Control Using
    Generalized Advantage Estimation", eq. 16, restarted at each episode end; equals
    rlax 0.1.9 ``truncated_generalized_advantage_estimation`` when nothing is truncated.
    """
    fn = "generalized_advantage_estimation"
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("v_tm1", v_tm1, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
    )
    check_same_shape(
        fn, ("r_t", r_t), ("discount_t", discount_t), ("v_tm1", v_tm1), ("v_t", v_t)
    )
    cont = continuation(fn, truncation_t, r_t)
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)

    delta = r_t + discount_t * v_t - v_tm1
    advantages = reverse_scan(
        lambda acc, delta, d, c, lam: delta + d * lam * c * acc,
        jnp.zeros((), r_t.dtype), (delta, discount_t, cont), lam,
    )
    return maybe_stop_gradient(advantages, stop_target_gradients)


def truncation_aware_lambda_returns(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    truncation_t: jax.Array,
    lambda_: Any = 1.0,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """λ-returns that restart at every truncation and bootstrap from ``v_t`` there.

    ``G_t = r_t + γ_t [(1 − λ_t c_t) v_t + λ_t c_t G_{t+1}]``, ``c_t = 1 − truncation_t``,
    ``G_T = v_t[-1]``. With ``lambda_=1`` these are Monte-Carlo returns within each
    episode, bootstrapping only at truncations and at the end of the window.

    Args:
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts (0 on termination), shape ``[T]``, floating.
      v_t: bootstrap values, shape ``[T]``, floating.
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      lambda_: scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Reference: Sutton & Barto (2018) §12.1; equals rlax 0.1.9 ``lambda_returns`` when
    nothing is truncated.
    """
    return lambda_returns_body(
        "truncation_aware_lambda_returns", r_t, discount_t, v_t, lambda_,
        stop_target_gradients, truncation_t,
    )


def truncation_aware_n_step_returns(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    truncation_t: jax.Array,
    n: int,
    lambda_t: Any = 1.0,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """n-step bootstrapped returns that stop accumulating at truncations.

    As rlax's ``n_step_bootstrapped_returns`` with ``λ_t`` replaced by
    ``λ_t (1 − truncation_t)``: a return that reaches a truncated step bootstraps from
    ``v_t`` there instead of running into the next episode.

    Args:
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts (0 on termination), shape ``[T]``, floating.
      v_t: bootstrap values, shape ``[T]``, floating.
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      n: number of steps, Python int >= 1.
      lambda_t: scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths, dtypes or ``n < 1``.

    Reference: Sutton & Barto (2018) §7.1; equals rlax 0.1.9
    ``n_step_bootstrapped_returns`` when nothing is truncated.
    """
    return n_step_body(
        "truncation_aware_n_step_returns", r_t, discount_t, v_t, n, lambda_t,
        stop_target_gradients, truncation_t,
    )


def truncation_aware_q_lambda(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t: jax.Array,
    truncation_t: jax.Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Q(λ) errors whose λ-returns of ``max_a q_t`` restart at truncations.

    Args:
      q_tm1: shape ``[T, A]``, floating. a_tm1: shape ``[T]``, integer.
      r_t, discount_t: shape ``[T]``, floating.
      q_t: bootstrap action values (from the final observation where an episode ended),
        shape ``[T, A]``, floating.
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      lambda_: scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      TD errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Reference: Peng & Williams (1996); equals rlax 0.1.9 ``q_lambda`` when nothing is
    truncated.
    """
    fn = "truncation_aware_q_lambda"
    _check_q_seq(fn, q_tm1, a_tm1, r_t, discount_t, q_t, lambda_)
    target = truncation_aware_lambda_returns(
        r_t, discount_t, jnp.max(q_t, axis=-1), truncation_t, lambda_
    )
    return maybe_stop_gradient(target, stop_target_gradients) - batched_index(q_tm1, a_tm1)


def truncation_aware_retrace(
    q_tm1: jax.Array,
    q_t: jax.Array,
    a_tm1: jax.Array,
    a_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    pi_t: jax.Array,
    mu_t: jax.Array,
    truncation_t: jax.Array,
    lambda_: float,
    eps: float = 1e-8,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Retrace errors whose traces are cut (``c_t = 0``) at truncations.

    At a truncated step the target is ``r_t + γ_t E_π q_t[t]``, with ``q_t[t]`` and
    ``pi_t[t]`` computed by the caller from the final observation; ``a_t[t]`` and
    ``mu_t[t]`` (which belong to the next episode there) are ignored.

    Args:
      q_tm1, q_t, pi_t: shape ``[T, A]``, floating. a_tm1, a_t: shape ``[T]``, integer.
      r_t, discount_t, mu_t: shape ``[T]``, floating.
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      lambda_: scalar λ. eps: added to ``mu_t`` in the ratio.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Retrace errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Reference: Munos et al. (2016), eq. 3; equals rlax 0.1.9 ``retrace`` when nothing is
    truncated.
    """
    fn = "truncation_aware_retrace"
    _check_retrace(fn, q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t)
    cont = continuation(fn, truncation_t, r_t)
    target = retrace_trace(q_t, a_t, r_t, discount_t, pi_t, mu_t, lambda_, eps, cont)
    return maybe_stop_gradient(target, stop_target_gradients) - batched_index(q_tm1, a_tm1)


def truncation_aware_vtrace(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    truncation_t: jax.Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> jax.Array:
    """V-trace errors whose trace stops at truncations (``e_t = ρ̄_t δ_t`` there).

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: shape ``[T]``, floating (see `vtrace`).
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄.
      stop_target_gradients: gradients reach only ``v_tm1`` through ``−v_tm1``.
      sample_mask: shape ``[T]``, bool, or None.

    Returns:
      V-trace errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Reference: Espeholt et al. (2018), eq. 1; equals rlax 0.1.9 ``vtrace`` when nothing
    is truncated.
    """
    fn = "truncation_aware_vtrace"
    _vtrace_check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    cont = continuation(fn, truncation_t, r_t)
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)
    errors = _vtrace_errors(
        v_tm1, v_t, r_t, discount_t, rho_tm1, _vtrace_ratios(clip_rho_threshold), lam,
        sample_mask, cont,
    )
    return stop_td_targets(errors, v_tm1, stop_target_gradients)


def truncation_aware_vtrace_td_error_and_advantage(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    truncation_t: jax.Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> VTraceOutput:
    """V-trace errors, policy-gradient advantages and q estimates, truncation-aware.

    As `vtrace_td_error_and_advantage`; at a truncated step the q estimate bootstraps
    from ``v_t`` (``q_estimate_t = r_t + γ_t v_t[t]``) instead of from the next episode.

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: shape ``[T]``, floating (see `vtrace`).
      truncation_t: shape ``[T]``, bool or numeric 0/1.
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄. clip_pg_rho_threshold: ρ̄_pg.
      stop_target_gradients: gradients of ``errors`` reach only ``v_tm1``.
      sample_mask: shape ``[T]``, bool, or None.

    Returns:
      `VTraceOutput` ``(errors, pg_advantage, q_estimate)``, each shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Reference: Espeholt et al. (2018), §4.2; equals rlax 0.1.9
    ``vtrace_td_error_and_advantage`` when nothing is truncated.
    """
    fn = "truncation_aware_vtrace_td_error_and_advantage"
    _vtrace_check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    cont = continuation(fn, truncation_t, r_t)
    lam = time_vector(fn, "lambda_", lambda_, discount_t)
    errors = truncation_aware_vtrace(
        v_tm1, v_t, r_t, discount_t, rho_tm1, truncation_t, lam, clip_rho_threshold,
        stop_target_gradients, sample_mask,
    )
    q_estimate = _q_estimate(v_tm1, v_t, r_t, discount_t, errors, lam, cont)
    pg_advantage = jnp.minimum(clip_pg_rho_threshold, rho_tm1) * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantage, q_estimate=q_estimate)
