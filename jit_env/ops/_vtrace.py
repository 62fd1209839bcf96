"""V-trace off-policy corrections (rlax 0.1.9 ``vtrace`` family).

Conventions: element ``t`` of a length-``T`` stream is the transition
``s_t --a_t--> s_{t+1}``; ``v_tm1[t] = v(s_t)``, ``v_t[t] = v(s_{t+1})``, ``r_t[t]`` and
``discount_t[t]`` (0 on termination) belong to the transition, ``rho_tm1[t] =
π(a_t|s_t) / μ(a_t|s_t)`` is its importance ratio. Unlike the λ-returns of
``_multistep``, V-trace takes ``v_t`` explicitly per transition, so the caller may bootstrap
from a final observation; to also stop the trace at a time-limit truncation use
`truncation_aware_vtrace`.

Batch with ``jax.vmap(op)`` (``[B, T]``) or ``jax.vmap(op, in_axes=1, out_axes=1)``
(``[T, B]``, the faster layout on CPU: each reverse-scan step reads a contiguous row).

Reference: Espeholt et al. (2018), "IMPALA: Scalable Distributed Deep-RL with Importance
Weighted Actor-Learner Architectures", eq. 1 and §4.2; leaky V-trace: Zahavy et al.
(2020), "A Self-Tuning Actor-Critic Algorithm" (STACX), §3.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env.ops._base import (
    check_lambda,
    check_same_shape,
    stop_td_targets,
    time_vector,
    validate,
)
from jit_env.ops._multistep import reverse_scan


class VTraceOutput(NamedTuple):
    """Outputs of `vtrace_td_error_and_advantage` (rlax 0.1.9 field names).

    Fields (all shape ``[T]``, floating):
      errors: V-trace errors ``v_s − v_tm1`` (the value-learning TD errors).
      pg_advantage: clipped-ρ policy-gradient advantages ``ρ̄_pg (q_estimate − v_tm1)``.
      q_estimate: ``r_t + γ_t v_{s+1}``, the V-trace estimate of ``q(s_t, a_t)``.
    """

    errors: jax.Array
    pg_advantage: jax.Array
    q_estimate: jax.Array


def _check(
    fn: str, v_tm1: Any, v_t: Any, r_t: Any, discount_t: Any, rho_tm1: Any, lambda_: Any,
    sample_mask: Any,
) -> None:
    validate(
        fn,
        ("v_tm1", v_tm1, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("rho_tm1", rho_tm1, 1, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
        *(() if sample_mask is None else (("sample_mask", sample_mask, 1, "bool"),)),
    )
    check_same_shape(
        fn,
        ("v_tm1", v_tm1),
        ("v_t", v_t),
        ("r_t", r_t),
        ("discount_t", discount_t),
        ("rho_tm1", rho_tm1),
        *(() if sample_mask is None else (("sample_mask", sample_mask),)),
    )


def _errors(
    v_tm1: Any, v_t: Any, r_t: Any, discount_t: Any, rho_tm1: Any, ratios: Any, lam: Any,
    sample_mask: Any, cont: Any,
) -> Any:
    """Core recursion ``e_t = m_t (ρ̄_t δ_t + γ_t c_t λ_t k_t e_{t+1}) + (1 − m_t) e_{t+1}``.

    ``ratios(rho) -> (c, ρ̄)`` gives the trace coefficient before λ and the TD-error
    ratio; ``cont`` is the continuation ``1 − truncation_t`` (or None); ``sample_mask`` a
    bool mask (or None: all learnable). Everything is computed inside the scan body.
    """
    xs = (v_tm1, v_t, r_t, discount_t, rho_tm1)
    has_cont, has_mask = cont is not None, sample_mask is not None
    xs = xs + ((cont,) if has_cont else ()) + ((sample_mask,) if has_mask else ())

    def step(acc: Any, v_tm1: Any, v_t: Any, r: Any, d: Any, rho: Any, *rest: Any) -> Any:
        lam = rest[-1]
        c, rho_td = ratios(rho)
        trace = d * c * lam * acc
        if has_cont:
            trace = trace * rest[0]
        new = rho_td * (r + d * v_t - v_tm1) + trace
        return jnp.where(rest[-2], new, acc) if has_mask else new

    return reverse_scan(step, jnp.zeros((), r_t.dtype), xs, lam)


def _q_estimate(
    v_tm1: Any, v_t: Any, r_t: Any, discount_t: Any, errors: Any, lam: Any, cont: Any,
) -> Any:
    """``r_t + γ_t [λ_t (v_tm1 + errors)[t+1] + (1 − λ_t) v_tm1[t+1]]``; ``v_t`` at ends."""
    nxt = v_tm1[1:] + lam[:-1] * errors[1:]
    if cont is not None:
        nxt = cont[:-1] * nxt + (1.0 - cont[:-1]) * v_t[:-1]
    return r_t + discount_t * jnp.concatenate([nxt, v_t[-1:]])


def _vtrace_ratios(clip_rho_threshold: Any) -> Any:
    return lambda rho: (jnp.minimum(1.0, rho), jnp.minimum(clip_rho_threshold, rho))


def vtrace(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> jax.Array:
    """V-trace errors ``v_s − v(s_t)`` from importance ratios.

    ``e_t = ρ̄_t δ_t + γ_t λ_t c_t e_{t+1}`` with ``ρ̄_t = min(ρ̄, ρ_t)``,
    ``c_t = min(1, ρ_t)``, ``δ_t = r_t + γ_t v_t − v_tm1``; a step with ``sample_mask``
    False passes ``e_{t+1}`` through unchanged.

    Args:
      v_tm1: ``v(s_t)``, shape ``[T]``, floating.
      v_t: ``v(s_{t+1})``, shape ``[T]``, floating.
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts, shape ``[T]``, floating.
      rho_tm1: importance ratios π/μ, shape ``[T]``, floating.
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄, clip for the ratios multiplying the TD errors.
      stop_target_gradients: gradients reach only ``v_tm1`` through ``−v_tm1``.
      sample_mask: which steps are learnable, shape ``[T]``, bool; None = all.

    Returns:
      V-trace errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.vtrace``; Espeholt et al. (2018), eq. 1.
    """
    fn = "vtrace"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)
    errors = _errors(
        v_tm1, v_t, r_t, discount_t, rho_tm1, _vtrace_ratios(clip_rho_threshold), lam,
        sample_mask, None,
    )
    return stop_td_targets(errors, v_tm1, stop_target_gradients)


def leaky_vtrace(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    alpha_: float = 1.0,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> jax.Array:
    """Leaky V-trace errors: ratios mixed ``(1 − α) ρ + α clip(ρ)``.

    As `vtrace` with ``c_t = (1 − α) ρ_t + α min(1, ρ_t)`` and
    ``ρ̄_t = (1 − α) ρ_t + α min(ρ̄, ρ_t)``; ``alpha_ = 1`` is V-trace, 0 is plain
    per-decision importance sampling.

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: shape ``[T]``, floating (see `vtrace`).
      alpha_: mixing coefficient in [0, 1].
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄.
      stop_target_gradients: gradients reach only ``v_tm1`` through ``−v_tm1``.
      sample_mask: shape ``[T]``, bool, or None.

    Returns:
      Leaky V-trace errors, shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.leaky_vtrace``; Zahavy et al. (2020).
    """
    fn = "leaky_vtrace"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)
    def ratios(rho: Any) -> Any:
        c = (1 - alpha_) * rho + alpha_ * jnp.minimum(1.0, rho)
        return c, (1 - alpha_) * rho + alpha_ * jnp.minimum(clip_rho_threshold, rho)

    errors = _errors(v_tm1, v_t, r_t, discount_t, rho_tm1, ratios, lam, sample_mask, None)
    return stop_td_targets(errors, v_tm1, stop_target_gradients)


def vtrace_td_error_and_advantage(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> VTraceOutput:
    """V-trace errors plus IMPALA's policy-gradient advantages and q estimates.

    ``q_estimate_t = r_t + γ_t [λ_t v_{s+1} + (1 − λ_t) v_tm1[t+1]]`` (``v_t[-1]`` at the
    last step), ``pg_advantage_t = min(ρ̄_pg, ρ_t) (q_estimate_t − v_tm1[t])``.

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: shape ``[T]``, floating (see `vtrace`).
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄ for the value errors.
      clip_pg_rho_threshold: ρ̄_pg for the policy-gradient advantages.
      stop_target_gradients: gradients of ``errors`` reach only ``v_tm1``.
      sample_mask: shape ``[T]``, bool, or None.

    Returns:
      `VTraceOutput` ``(errors, pg_advantage, q_estimate)``, each shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.vtrace_td_error_and_advantage``; Espeholt et al. (2018), §4.2.
    """
    fn = "vtrace_td_error_and_advantage"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    lam = time_vector(fn, "lambda_", lambda_, discount_t)
    errors = vtrace(
        v_tm1, v_t, r_t, discount_t, rho_tm1, lam, clip_rho_threshold,
        stop_target_gradients, sample_mask,
    )
    q_estimate = _q_estimate(v_tm1, v_t, r_t, discount_t, errors, lam, None)
    pg_advantage = jnp.minimum(clip_pg_rho_threshold, rho_tm1) * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantage, q_estimate=q_estimate)


def leaky_vtrace_td_error_and_advantage(
    v_tm1: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    alpha: float = 1.0,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
    sample_mask: jax.Array | None = None,
) -> VTraceOutput:
    """Leaky V-trace errors, policy-gradient advantages and q estimates.

    As `vtrace_td_error_and_advantage` with the ratios of `leaky_vtrace`; the
    policy-gradient ratio is ``(1 − α) ρ + α min(ρ̄_pg, ρ)``. (rlax names the mixing
    argument ``alpha`` here and ``alpha_`` in `leaky_vtrace`; both names are kept.)

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: shape ``[T]``, floating (see `vtrace`).
      alpha: mixing coefficient in [0, 1].
      lambda_: scalar or shape ``[T]``, floating.
      clip_rho_threshold: ρ̄.
      clip_pg_rho_threshold: ρ̄_pg.
      stop_target_gradients: gradients of ``errors`` reach only ``v_tm1``.
      sample_mask: shape ``[T]``, bool, or None.

    Returns:
      `VTraceOutput` ``(errors, pg_advantage, q_estimate)``, each shape ``[T]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.leaky_vtrace_td_error_and_advantage``; Zahavy et al. (2020).
    """
    fn = "leaky_vtrace_td_error_and_advantage"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    lam = time_vector(fn, "lambda_", lambda_, discount_t)
    errors = leaky_vtrace(
        v_tm1, v_t, r_t, discount_t, rho_tm1, alpha, lam, clip_rho_threshold,
        stop_target_gradients, sample_mask,
    )
    q_estimate = _q_estimate(v_tm1, v_t, r_t, discount_t, errors, lam, None)
    pg_rho = (1 - alpha) * rho_tm1 + alpha * jnp.minimum(clip_pg_rho_threshold, rho_tm1)
    pg_advantage = pg_rho * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantage, q_estimate=q_estimate)
