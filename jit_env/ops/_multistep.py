"""Multistep return estimates over one trajectory (rlax 0.1.9 ``multistep`` family).

Conventions (as rlax, Sutton & Barto): element ``t`` of a length-``T`` sequence describes
the transition ``s_t --a_t--> s_{t+1}``. Quantities of the source state carry ``_tm1``
(``v_tm1[t] = v(s_t)``), quantities of the destination carry ``_t`` (``r_t[t] = r_{t+1}``,
``discount_t[t] = γ_{t+1}``, ``v_t[t] = v(s_{t+1})``). ``discount_t`` is 0 where an episode
terminated. Trajectories need not align with episodes; the estimate bootstraps from the
last value beyond the end of the sequence.

Every function takes ONE stream (arrays ``[T]`` or ``[T, A]``) and is batched with
``jax.vmap``: ``jax.vmap(op)`` for batch-major ``[B, T]`` inputs, or
``jax.vmap(op, in_axes=1, out_axes=1)`` for time-major ``[T, B]`` inputs. Time-major is
the faster layout for the recursive returns (≈2-3x at T=128, B=1024 on CPU, see
``benchmarks/ops_bench.py``) because each step of the reverse ``lax.scan`` then reads a
contiguous ``[B]`` row; it is also the layout `jit_env.rollout.Trajectory` produces.

All recursions here are linear, ``y_t = x_t + a_t y_{t+1}``; they are evaluated with a
reverse ``lax.scan`` whose body computes each step from the raw inputs, closing over a
scalar λ instead of scanning a ``[T]`` copy of it. ``lax.associative_scan`` was measured
as well and was 7-18x slower on CPU at T=128, B=1024 time-major, so it is not used.

Static checks (ranks, dtypes, lengths) raise `ValueError` / `TypeError` naming the
argument, at trace time, so they fire under ``jax.jit`` too.

Empty trajectories: ``T = 0`` gives the empty ``[0]`` result (a recursion over no
transitions), not an ``IndexError`` from ``v_t[-1]``; the one exception is
`general_off_policy_returns_from_q_and_v`, whose ``q_t`` / ``c_t`` hold ``T − 1``
entries, so it raises ``ValueError`` naming ``r_t`` for ``T = 0``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import (
    batched_index,
    check_dim,
    check_lambda,
    check_same_shape,
    maybe_stop_gradient,
    stop_td_targets,
    time_vector,
    validate,
)


def reverse_scan(step: Any, init: Any, xs: tuple, lam: Any = None) -> jax.Array:
    """Evaluates ``y_t = step(y_{t+1}, *xs[t], λ_t)`` backwards from ``y_T = init`` (private).

    The whole step is computed inside the reverse ``lax.scan`` body (one fused pass over
    the inputs; measured faster on CPU than precomputing the coefficients of the linear
    recursion, or than ``lax.associative_scan``). ``lam`` is None (``step`` gets no λ), a
    scalar (closed over, not scanned), or a ``[T]`` array (scanned with ``xs``).
    """
    scalar = lam is None or jnp.ndim(lam) == 0
    extra = () if lam is None else (lam,)

    def body(acc: Any, x: Any) -> Any:
        acc = step(acc, *x, *extra) if scalar else step(acc, *x)
        return acc, acc

    seq = tuple(xs) if scalar else (*xs, lam)
    _, y = jax.lax.scan(body, init, seq, reverse=True)
    return y


def last_or_zero(x: jax.Array) -> jax.Array:
    """``x[-1]``, or zeros of ``x.shape[1:]`` when ``x`` is empty (T = 0; private).

    A recursion over zero transitions has no bootstrap; its result is the empty ``[0]``
    array whatever the initial carry, so zeros only fix the carry's shape and dtype.
    """
    x = jnp.asarray(x)
    return x[-1] if x.shape[0] else jnp.zeros(x.shape[1:], x.dtype)


def lambda_returns(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    lambda_: Any = 1.0,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """λ-returns computed backwards over one trajectory.

    ``G_t = r_t + γ_t [(1 − λ_t) v_t + λ_t G_{t+1}]`` with ``G_T = v_t[-1]``.

    Args:
      r_t: rewards ``r_1 … r_T``, shape ``[T]``, floating.
      discount_t: discounts ``γ_1 … γ_T`` in [0, 1], shape ``[T]``, floating.
      v_t: values of the destination states ``v(s_1) … v(s_T)``, shape ``[T]``, floating.
      lambda_: mixing parameter, scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      λ-returns ``G_0 … G_{T-1}``, shape ``[T]``, dtype of ``r_t``.

    Raises:
      ValueError: on wrong ranks or mismatched lengths (names the argument).
      TypeError: on non-floating inputs.

    Matches rlax 0.1.9 ``rlax.lambda_returns``; Sutton & Barto (2018) §12.1.
    """
    return lambda_returns_body(
        "lambda_returns", r_t, discount_t, v_t, lambda_, stop_target_gradients, None
    )


def lambda_returns_body(
    fn: str, r_t: Any, discount_t: Any, v_t: Any, lambda_: Any, stop_target_gradients: Any,
    truncation_t: Any,
) -> Any:
    """`lambda_returns` (``truncation_t`` None) and its truncation-aware twin (private).

    With ``c = 1 − truncation_t`` the step is ``r + γ [(1 − λc) v + λc G]``; errors name
    ``fn``.
    """
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("discount_t", discount_t), ("v_t", v_t))
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)
    if truncation_t is None:
        returns = reverse_scan(_lambda_step, last_or_zero(v_t), (r_t, discount_t, v_t), lam)
    else:
        cont = continuation(fn, truncation_t, r_t)
        xs = (r_t, discount_t, v_t, cont)
        returns = reverse_scan(_cut_lambda_step, last_or_zero(v_t), xs, lam)
    return maybe_stop_gradient(returns, stop_target_gradients)


def continuation(fn: str, truncation_t: Any, like: jax.Array) -> jax.Array:
    """``1 − truncation_t`` in ``like``'s dtype (``truncation_t`` is bool or 0/1 numeric,
    of ``like``'s shape; private)."""
    validate(fn, ("truncation_t", truncation_t, 1, "numeric"))
    check_same_shape(fn, ("r_t", like), ("truncation_t", truncation_t))
    return 1.0 - jnp.asarray(truncation_t).astype(like.dtype)


def _lambda_step(acc: Any, r: Any, d: Any, v: Any, lam: Any) -> Any:
    return r + d * ((1.0 - lam) * v + lam * acc)


def _cut_lambda_step(acc: Any, r: Any, d: Any, v: Any, c: Any, lam: Any) -> Any:
    lam_c = lam * c
    return r + d * ((1.0 - lam_c) * v + lam_c * acc)


def discounted_returns(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Discounted returns ``G_t = r_t + γ_t G_{t+1}``, bootstrapping from ``v_t``.

    Args:
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts, shape ``[T]``, floating.
      v_t: bootstrap value: a scalar, or shape ``[T]`` of which only ``v_t[-1]`` is used.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns ``G_0 … G_{T-1}``, shape ``[T]``.

    Raises:
      ValueError: on wrong ranks or mismatched lengths.
      TypeError: non-floating inputs.

    Matches rlax 0.1.9 ``rlax.discounted_returns``; Sutton & Barto (2018) §3.3.
    """
    fn = "discounted_returns"
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("v_t", v_t, (0, 1), "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("discount_t", discount_t))
    if jnp.ndim(v_t) == 1:
        check_same_shape(fn, ("r_t", r_t), ("v_t", v_t))
        bootstrap = last_or_zero(v_t)
    else:
        bootstrap = v_t
    returns = reverse_scan(lambda acc, r, d: r + d * acc, bootstrap, (r_t, discount_t))
    return maybe_stop_gradient(returns, stop_target_gradients)


def n_step_bootstrapped_returns(
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    n: int,
    lambda_t: Any = 1.0,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Strided n-step (optionally λ-mixed) bootstrapped returns over a sequence.

    ``n`` applications of ``G_t = r_t + γ_t [(1 − λ_t) v_t + λ_t G_{t+1}]`` starting from
    ``G_t = v_t[t + n − 1]``; steps past the end contribute no reward and bootstrap from
    ``v_t[-1]``. With ``λ = 1``: ``G_t = r_t + γ_t r_{t+1} + … + γ_t…γ_{t+n−1} v_t[t+n−1]``.

    Args:
      r_t: rewards, shape ``[T]``, floating.
      discount_t: discounts, shape ``[T]``, floating.
      v_t: bootstrap values ``v(s_1) … v(s_T)``, shape ``[T]``, floating.
      n: number of steps (Python int >= 1).
      lambda_t: scalar or shape ``[T]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns ``G_0 … G_{T-1}``, shape ``[T]``.

    Raises:
      ValueError: on wrong ranks, mismatched lengths, or ``n < 1``.
      TypeError: on non-floating inputs.

    Matches rlax 0.1.9 ``rlax.n_step_bootstrapped_returns``.
    """
    return n_step_body(
        "n_step_bootstrapped_returns", r_t, discount_t, v_t, n, lambda_t,
        stop_target_gradients, None,
    )


def n_step_body(
    fn: str, r_t: Any, discount_t: Any, v_t: Any, n: Any, lambda_t: Any,
    stop_target_gradients: Any, truncation_t: Any,
) -> Any:
    """`n_step_bootstrapped_returns` (``truncation_t`` None) and its truncation-aware twin,
    whose ``λ_t`` is multiplied by ``1 − truncation_t`` (private; errors name ``fn``)."""
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("lambda_t", lambda_t, (0, 1), "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("discount_t", discount_t), ("v_t", v_t))
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{fn}: `n` must be a Python int >= 1, got {n!r}")
    lam = time_vector(fn, "lambda_t", lambda_t, discount_t)
    if truncation_t is not None:
        lam = lam * continuation(fn, truncation_t, r_t)
    returns = _n_step(r_t, discount_t, v_t, lam, n)
    return maybe_stop_gradient(returns, stop_target_gradients)


def _n_step(r_t: Any, discount_t: Any, v_t: Any, lam: Any, n: Any) -> Any:
    """n-step λ-mixed returns; steps beyond T use r=0, γ=1, λ=1, v=v_t[-1].

    Such a padded step maps ``g`` to ``0 + 1 * ((1 − 1) v + 1 * g) = g`` exactly, so any
    ``n > T`` gives the same bits as ``n = T``: ``n`` is capped at ``T`` (an ``n`` of
    10**12 must not allocate 10**12 steps of padding).
    """
    seq_len = r_t.shape[0]
    n = min(n, max(seq_len, 1))
    pad = n - 1

    def padded(x: Any, fill: Any) -> Any:
        return jnp.concatenate([x, jnp.full((pad,), fill, dtype=x.dtype)])

    r_p, d_p = padded(r_t, 0.0), padded(discount_t, 1.0)
    lam_p = padded(lam, 1.0)
    v_p = jnp.concatenate([v_t, jnp.broadcast_to(last_or_zero(v_t), (pad,))])
    g = v_p[pad : pad + seq_len]
    for i in reversed(range(n)):
        d, lm = d_p[i : i + seq_len], lam_p[i : i + seq_len]
        g = r_p[i : i + seq_len] + d * ((1.0 - lm) * v_p[i : i + seq_len] + lm * g)
    return g


def truncated_generalized_advantage_estimation(
    r_t: jax.Array,
    discount_t: jax.Array,
    lambda_: Any,
    values: jax.Array,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Generalised advantage estimates over a window of ``k`` transitions.

    ``Â_t = δ_t + γ_t λ_t Â_{t+1}``, ``Â_k = 0``, with ``δ_t = r_t + γ_t values[t+1] −
    values[t]``. The recursion only stops where ``discount_t`` is 0; for episodes cut by a
    time limit inside the window use `generalized_advantage_estimation`.

    Args:
      r_t: rewards, shape ``[k]``, floating.
      discount_t: discounts, shape ``[k]``, floating.
      lambda_: scalar or shape ``[k]``, floating.
      values: ``v(s_0) … v(s_k)``, shape ``[k + 1]``, floating.
      stop_target_gradients: stop gradients through the advantages.

    Returns:
      Advantages, shape ``[k]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.truncated_generalized_advantage_estimation``; Schulman et
    al. (2016), "High-Dimensional Continuous Control Using GAE", eq. 16.
    """
    fn = "truncated_generalized_advantage_estimation"
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
        ("values", values, 1, "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("discount_t", discount_t))
    check_dim(fn, "values", values, 0, r_t.shape[0] + 1, "len(r_t) + 1")
    lam = check_lambda(fn, "lambda_", lambda_, discount_t)

    delta = r_t + discount_t * values[1:] - values[:-1]
    advantages = reverse_scan(
        lambda acc, delta, d, lam: delta + d * lam * acc,
        jnp.zeros((), r_t.dtype), (delta, discount_t), lam,
    )
    return maybe_stop_gradient(advantages, stop_target_gradients)


def general_off_policy_returns_from_action_values(
    q_t: jax.Array,
    a_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    c_t: jax.Array,
    pi_t: jax.Array,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Off-policy returns from action values (Retrace, Tree-Backup, Q(λ), IS).

    ``G_t = r_t + γ_t (E_π q_t − c_t q_t[a_t] + c_t G_{t+1})`` with ``G_{K−1} = r + γ E_π
    q_t[-1]`` (``c_t[-1]`` and ``a_t[-1]`` are unused).

    Args:
      q_t: action values of ``s_1 … s_K``, shape ``[K, A]``, floating.
      a_t: actions taken in ``s_1 … s_K``, shape ``[K]``, integer.
      r_t: rewards, shape ``[K]``, floating.
      discount_t: discounts, shape ``[K]``, floating.
      c_t: trace coefficients, shape ``[K]``, floating.
      pi_t: target policy probabilities, shape ``[K, A]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns ``G_0 … G_{K−1}``, shape ``[K]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument).

    Matches rlax 0.1.9 ``rlax.general_off_policy_returns_from_action_values``; Munos et
    al. (2016), "Safe and Efficient Off-Policy Reinforcement Learning", eq. 3.
    """
    fn = "general_off_policy_returns_from_action_values"
    validate(
        fn,
        ("q_t", q_t, 2, "float"),
        ("a_t", a_t, 1, "int"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("c_t", c_t, 1, "float"),
        ("pi_t", pi_t, 2, "float"),
    )
    check_same_shape(
        fn, ("r_t", r_t), ("a_t", a_t), ("discount_t", discount_t), ("c_t", c_t),
        ("q_t[:, 0]", q_t[:, 0]),
    )
    check_same_shape(fn, ("q_t", q_t), ("pi_t", pi_t))
    exp_q_t = jnp.sum(pi_t * q_t, axis=-1)
    q_a_t = batched_index(q_t, a_t)
    returns = _off_policy_returns(q_a_t, exp_q_t, r_t, discount_t, c_t)
    return maybe_stop_gradient(returns, stop_target_gradients)


def _off_policy_returns(q_t: Any, v_t: Any, r_t: Any, discount_t: Any, c_t: Any) -> Any:
    """``G_t = r_t + γ_t (v_t − c_t q_t + c_t G_{t+1})`` with ``c_t[-1]`` forced to 0.

    All inputs have the full length ``[K]``; ``q_t[-1]`` and ``c_t[-1]`` are ignored.
    ``K = 0`` gives the empty ``[0]`` array.
    """
    if r_t.shape[0] == 0:
        return jnp.zeros((0,), jnp.result_type(r_t, discount_t, v_t))
    g = r_t[-1] + discount_t[-1] * v_t[-1]

    def step(acc: Any, r: Any, d: Any, v: Any, c: Any, q: Any) -> Any:
        return r + d * (v - c * q + c * acc)

    xs = (r_t[:-1], discount_t[:-1], v_t[:-1], c_t[:-1], q_t[:-1])
    return jnp.concatenate([reverse_scan(step, g, xs), g[None]])


def general_off_policy_returns_from_q_and_v(
    q_t: jax.Array,
    v_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    c_t: jax.Array,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Off-policy returns from the values of taken actions and of states.

    ``G_t = r_t + γ_t (v_t − c_t q_t + c_t G_{t+1})`` for ``t < K−1``, ``G_{K−1} = r_{K} +
    γ_K v_t[-1]``.

    Args:
      q_t: Q-values under π of the actions taken in ``s_1 … s_{K−1}``, shape ``[K − 1]``.
      v_t: values under π of ``s_1 … s_K``, shape ``[K]``, floating.
      r_t: rewards, shape ``[K]``, floating.
      discount_t: discounts, shape ``[K]``, floating.
      c_t: trace coefficients for ``s_1 … s_{K−1}``, shape ``[K − 1]``, floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      Returns ``G_0 … G_{K−1}``, shape ``[K]``.

    Raises:
      ValueError / TypeError: on wrong ranks, lengths or dtypes (names the argument);
        ValueError for an empty ``r_t`` (``K = 0``).

    Matches rlax 0.1.9 ``rlax.general_off_policy_returns_from_q_and_v``; Munos et al.
    (2016), eq. 3.
    """
    fn = "general_off_policy_returns_from_q_and_v"
    validate(
        fn,
        ("q_t", q_t, 1, "float"),
        ("v_t", v_t, 1, "float"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("c_t", c_t, 1, "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("v_t", v_t), ("discount_t", discount_t))
    if r_t.shape[0] == 0:
        raise ValueError(
            f"{fn}: `r_t` has shape {r_t.shape}, expected at least one transition "
            "(`q_t` and `c_t` hold len(r_t) - 1 entries)"
        )
    check_dim(fn, "q_t", q_t, 0, r_t.shape[0] - 1, "len(r_t) - 1")
    check_dim(fn, "c_t", c_t, 0, r_t.shape[0] - 1, "len(r_t) - 1")
    zero = jnp.zeros((1,), c_t.dtype)
    returns = _off_policy_returns(
        jnp.concatenate([q_t, zero.astype(q_t.dtype)]), v_t, r_t, discount_t,
        jnp.concatenate([c_t, zero]),
    )
    return maybe_stop_gradient(returns, stop_target_gradients)


def importance_corrected_td_errors(
    r_t: jax.Array,
    discount_t: jax.Array,
    rho_tm1: jax.Array,
    lambda_: Any,
    values: jax.Array,
    stop_target_gradients: bool = False,
) -> jax.Array:
    """Multistep TD errors with per-decision importance sampling.

    With ``δ_t = r_t + γ_t v_{t+1} − v_t`` and ``ρ_t = π(a_t|s_t) / μ(a_t|s_t)``:
    ``δ_t(ρ, λ) = δ_t + γ_t λ_t ρ_{t+1} δ_{t+1}(ρ, λ)`` backwards from the end, and
    the error is ``ρ_t δ_t(ρ, λ)``; equivalently ``ρ_t (G_t − v_t)`` for the
    λ-return with ``λ_t ρ_t`` as its trace coefficient.

    Args:
      r_t: rewards ``r_1 … r_T``, ``[T]``, floating.
      discount_t: discounts ``γ_1 … γ_T``, ``[T]``, floating.
      rho_tm1: importance ratios ``ρ_0 … ρ_{T−1}``, ``[T]``, floating.
      lambda_: mixing parameter, scalar or ``[T]``.
      values: state values ``v_0 … v_T`` under π, ``[T + 1]``, floating.
      stop_target_gradients: stop gradients through the targets ``errors + v_tm1``
        (gradients reach ``values[:-1]`` only through ``−v_tm1``).

    Returns:
      ``[T]`` off-policy TD errors, dtype of the inputs.

    Raises:
      ValueError: on wrong ranks or lengths (``values`` must be one longer).
      TypeError: on non-floating inputs.

    Matches rlax 0.1.9 ``multistep.importance_corrected_td_errors``
    (``rlax/_src/multistep.py``); Sutton et al., "A new Q(λ) with interim forward
    view and Monte Carlo equivalence", ICML 2014.
    """
    fn = "importance_corrected_td_errors"
    validate(
        fn,
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("rho_tm1", rho_tm1, 1, "float"),
        ("values", values, 1, "float"),
    )
    check_same_shape(fn, ("r_t", r_t), ("discount_t", discount_t), ("rho_tm1", rho_tm1),
                     ("values[1:]", values[1:]))
    v_tm1, v_t = values[:-1], values[1:]
    # rho_{t+1}; the last one is unused (and ``[:T]`` keeps T = 0 empty).
    rho_t = jnp.concatenate([rho_tm1[1:], jnp.ones((1,), rho_tm1.dtype)])[: rho_tm1.shape[0]]
    lam = time_vector(fn, "lambda_", lambda_, discount_t)
    deltas = r_t + discount_t * v_t - v_tm1
    errors = rho_tm1 * reverse_scan(
        _corrected_step, jnp.zeros((), deltas.dtype), (deltas, discount_t, rho_t, lam)
    )
    return stop_td_targets(errors, v_tm1, stop_target_gradients)


def _corrected_step(acc: Any, delta: Any, discount: Any, rho: Any, lam: Any) -> Any:
    return delta + discount * rho * lam * acc
