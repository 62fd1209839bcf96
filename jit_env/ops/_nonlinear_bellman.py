"""Transformed (non-linear) Bellman operators (rlax 0.1.9 family).

A value function may be learned in a transformed space: the network predicts
h(v), targets are built by mapping predictions back with h⁻¹, computing an
ordinary bootstrapped return, and mapping the return forward with h:

    T_h v = h(r + γ h⁻¹(v))                      (Pohlen et al. 2018, eq. 3)

A transform and its inverse travel together as a `TxPair(apply, apply_inv)`.
Pairs provided: `IDENTITY_PAIR`, `SIGNED_LOGP1_PAIR`, `SIGNED_HYPERBOLIC_PAIR`
(h(x) = sign(x)(√(|x|+1) − 1) + εx, the R2D2 transform), `HYPERBOLIC_SIN_PAIR`,
`DISCOUNT_TRANSFORM_PAIR` (−log(1 − x)), and the constructors `twohot_pair`,
`muzero_pair` (squash, then two-hot over a fixed support; Schrittwieser et al.
2020, Appendix F), `unbiased_transform_pair` and `compose_tx`.

The operators take one trajectory (``[T]`` rewards, ``[T, A]`` action values)
and are batched with ``jax.vmap``; time-major ``[T, B]`` data with
``jax.vmap(op, in_axes=1, out_axes=1)`` (``tx_pair`` and integer
hyper-parameters closed over with ``functools.partial``).

References:
  Pohlen et al., "Observe and Look Further: Achieving Consistent Performance on
  Atari", 2018; van Hasselt et al., "General non-linear Bellman equations", 2019;
  Kapturowski et al., "Recurrent Experience Replay in Distributed Reinforcement
  Learning" (R2D2), ICLR 2019; Schrittwieser et al., "Mastering Atari, Go, Chess
  and Shogi by Planning with a Learned Model", Nature 2020.

Every operator matches rlax 0.1.9 (`rlax._src.nonlinear_bellman`) numerically; the
pairs are NamedTuples of functions, so importing this module creates no arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env.ops import _base, _multistep, _transforms

Array = jax.Array


class TxPair(NamedTuple):
    """A value transform and its inverse.

    Attributes:
      apply: h, maps values to the transformed (network output) space.
      apply_inv: h⁻¹, maps transformed values back to returns.
    """

    apply: Callable[[Array], Array]
    apply_inv: Callable[[Array], Array]


def _neg_log_1m(x: Array) -> Array:
    return -jnp.log(1 - x)


def _one_m_exp_neg(x: Array) -> Array:
    return 1 - jnp.exp(-x)


IDENTITY_PAIR = TxPair(_transforms.identity, _transforms.identity)
SIGNED_LOGP1_PAIR = TxPair(_transforms.signed_logp1, _transforms.signed_expm1)
SIGNED_HYPERBOLIC_PAIR = TxPair(_transforms.signed_hyperbolic, _transforms.signed_parabolic)
HYPERBOLIC_SIN_PAIR = TxPair(_transforms.hyperbolic_arcsin, _transforms.hyperbolic_sin)
# Maps a discount γ ∈ [0, 1) to the "horizon" −log(1 − γ) ∈ [0, ∞) and back.
DISCOUNT_TRANSFORM_PAIR = TxPair(_neg_log_1m, _one_m_exp_neg)


def _check_tx_pair(fn: str, tx_pair: Any) -> None:
    ok = callable(getattr(tx_pair, "apply", None)) and callable(
        getattr(tx_pair, "apply_inv", None)
    )
    if not ok:
        raise TypeError(
            f"{fn}: `tx_pair` must be a TxPair(apply, apply_inv) of callables, got "
            f"{type(tx_pair).__name__}"
        )


def twohot_pair(min_value: float, max_value: float, num_bins: int) -> TxPair:
    """The two-hot reparametrisation over ``linspace(min_value, max_value, num_bins)``.

    ``apply`` maps values ``[...]`` to two-hot probabilities ``[..., num_bins]``
    (`transform_to_2hot`); ``apply_inv`` maps probabilities back to their mean
    (`transform_from_2hot`).

    Raises:
      ValueError: if ``num_bins`` < 2 or ``min_value`` >= ``max_value`` (raised here,
        not at first use).

    Schrittwieser et al. 2020, Appendix F. Matches rlax 0.1.9 `rlax.twohot_pair`.
    """
    _transforms._check_support("twohot_pair", min_value, max_value, num_bins)
    return TxPair(
        functools.partial(
            _transforms.transform_to_2hot,
            min_value=min_value, max_value=max_value, num_bins=num_bins,
        ),
        functools.partial(
            _transforms.transform_from_2hot,
            min_value=min_value, max_value=max_value, num_bins=num_bins,
        ),
    )


def compose_tx(*tx_list: TxPair) -> TxPair:
    """Composes TxPairs: ``apply`` runs them in order, ``apply_inv`` in reverse.

    ``compose_tx(f, g).apply(x) == g.apply(f.apply(x))`` and
    ``compose_tx(f, g).apply_inv(y) == f.apply_inv(g.apply_inv(y))``.

    Args:
      *tx_list: TxPairs, as positional arguments (none gives the identity).

    Returns:
      a new TxPair.

    Raises:
      TypeError: if an argument is not a pair of callables.

    Matches rlax 0.1.9 `rlax.compose_tx`.
    """
    for tx in tx_list:
        _check_tx_pair("compose_tx", tx)
    pairs = tuple(tx_list)

    def apply_fn(x: Array) -> Array:
        for tx in pairs:
            x = tx.apply(x)
        return x

    def apply_inv_fn(x: Array) -> Array:
        for tx in reversed(pairs):
            x = tx.apply_inv(x)
        return x

    return TxPair(apply_fn, apply_inv_fn)


def muzero_pair(min_value: float, max_value: float, num_bins: int, tx: TxPair) -> TxPair:
    """MuZero's value pair: squash with ``tx``, then two-hot over a fixed support.

    Args:
      min_value: lowest support point, in the squashed space.
      max_value: highest support point, in the squashed space.
      num_bins: number of support points (≥ 2).
      tx: the squashing pair (MuZero uses `SIGNED_HYPERBOLIC_PAIR`).

    Returns:
      ``compose_tx(tx, twohot_pair(min_value, max_value, num_bins))``.

    Raises:
      ValueError / TypeError: as `twohot_pair` / `compose_tx`.

    Schrittwieser et al. 2020, Appendix F. Matches rlax 0.1.9 `rlax.muzero_pair`.
    """
    return compose_tx(tx, twohot_pair(min_value, max_value, num_bins))


def unbiased_transform_pair(
    min_value: float, max_value: float, num_bins: int, tx: TxPair
) -> TxPair:
    """Two-hot over the support ``tx.apply_inv(linspace(min_value, max_value, num_bins))``.

    Like `muzero_pair`, but the non-linearity moves the bins instead of the value,
    so the mean of the two-hot encoding is the (clipped) value itself: no bias.

    Args:
      min_value: lowest support point, in the transformed space.
      max_value: highest support point, in the transformed space.
      num_bins: number of support points (≥ 2).
      tx: pair whose ``apply_inv`` places the bins (must be increasing).

    Returns:
      a TxPair whose ``apply`` maps ``[...]`` to ``[..., num_bins]``.

    Raises:
      ValueError: if ``num_bins`` < 2 or ``min_value`` >= ``max_value``.
      TypeError: if ``tx`` is not a pair of callables.

    Matches rlax 0.1.9 `rlax.unbiased_transform_pair`.
    """
    _transforms._check_support("unbiased_transform_pair", min_value, max_value, num_bins)
    _check_tx_pair("unbiased_transform_pair", tx)
    bins = tx.apply_inv(jnp.linspace(min_value, max_value, num_bins))
    return compose_tx(
        IDENTITY_PAIR,
        TxPair(
            functools.partial(_transforms.transform_to_2hot_nonlinear, bins=bins),
            functools.partial(_transforms.transform_from_2hot_nonlinear, bins=bins),
        ),
    )


def transform_values(build_targets: Callable[..., Array], *value_argnums: int) -> Callable:
    """Turns a target builder into one that works in a transformed value space.

    ``transform_values(f, i, j)(tx_pair, *args, **kwargs)`` is
    ``tx_pair.apply(f(*args', **kwargs))`` where ``args'`` has ``tx_pair.apply_inv``
    applied to the positional arguments ``i`` and ``j`` (the value inputs):
    ``transform_values(lambda_returns, 2)`` is `transformed_lambda_returns`.

    Args:
      build_targets: a function returning targets (e.g. `lambda_returns`).
      *value_argnums: indices of the positional arguments holding values.

    Returns:
      ``wrapped(tx_pair, *args, **kwargs)``, with ``build_targets``' name and
      docstring (``functools.wraps``).

    Raises:
      TypeError: (when ``wrapped`` is called) if ``tx_pair`` is not a pair of
        callables; ``IndexError`` if a value argument is not given positionally.

    Matches rlax 0.1.9 ``nonlinear_bellman.transform_values``
    (``rlax/_src/nonlinear_bellman.py``); Pohlen et al. 2018, eq. 3.
    """

    @functools.wraps(build_targets)
    def wrapped(tx_pair: TxPair, *args: Any, **kwargs: Any) -> Array:
        _check_tx_pair(getattr(build_targets, "__name__", "transform_values"), tx_pair)
        values = list(args)
        for index in value_argnums:
            values[index] = tx_pair.apply_inv(values[index])
        return tx_pair.apply(build_targets(*values, **kwargs))

    return wrapped


def transformed_lambda_returns(
    tx_pair: TxPair,
    r_t: Array,
    discount_t: Array,
    v_t: Array,
    lambda_: Any = 1.0,
    stop_target_gradients: bool = False,
) -> Array:
    """λ-returns in a transformed space: h(G^λ(r_t, discount_t, h⁻¹(v_t))).

    Args:
      tx_pair: the transform h and its inverse.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      v_t: transformed values of the destination states, shape [T], floating.
      lambda_: mixing coefficient, scalar or shape [T].
      stop_target_gradients: stop gradients through the returns.

    Returns:
      transformed λ-returns, shape [T].

    Raises:
      TypeError / ValueError: as `lambda_returns` (naming the argument), or if
        ``tx_pair`` is not a pair of callables.

    Pohlen et al. 2018, eq. 3. Matches rlax 0.1.9 `rlax.transformed_lambda_returns`.
    """
    _check_tx_pair("transformed_lambda_returns", tx_pair)
    returns = _multistep.lambda_returns(
        r_t,
        discount_t,
        tx_pair.apply_inv(v_t),
        lambda_,
        stop_target_gradients=stop_target_gradients,
    )
    return tx_pair.apply(returns)


def transformed_n_step_returns(
    tx_pair: TxPair,
    r_t: Array,
    discount_t: Array,
    v_t: Array,
    n: int,
    lambda_t: Any = 1.0,
    stop_target_gradients: bool = False,
) -> Array:
    """n-step bootstrapped returns in a transformed space, h(G⁽ⁿ⁾(…, h⁻¹(v_t), …)).

    Args:
      tx_pair: the transform h and its inverse.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      v_t: transformed values of the destination states, shape [T], floating.
      n: number of steps before bootstrapping (Python int ≥ 1).
      lambda_t: mixing coefficient, scalar or shape [T].
      stop_target_gradients: stop gradients through the returns.

    Returns:
      transformed n-step returns, shape [T].

    Raises:
      TypeError / ValueError: as `n_step_bootstrapped_returns`, or for a bad ``tx_pair``.

    Matches rlax 0.1.9 `rlax.transformed_n_step_returns`.
    """
    _check_tx_pair("transformed_n_step_returns", tx_pair)
    returns = _multistep.n_step_bootstrapped_returns(
        r_t,
        discount_t,
        tx_pair.apply_inv(v_t),
        n,
        lambda_t,
        stop_target_gradients=stop_target_gradients,
    )
    return tx_pair.apply(returns)


def transformed_general_off_policy_returns_from_action_values(
    tx_pair: TxPair,
    q_t: Array,
    a_t: Array,
    r_t: Array,
    discount_t: Array,
    c_t: Array,
    pi_t: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """General off-policy returns (Retrace-style traces) in a transformed space.

    ``h(general_off_policy_returns_from_action_values(h⁻¹(q_t), a_t, r_t, discount_t,
    c_t, pi_t))``.

    Args:
      tx_pair: the transform h and its inverse.
      q_t: transformed action values at the destination states, shape [T, A], floating.
      a_t: actions at the destination states, shape [T], integer.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      c_t: trace coefficients, shape [T], floating.
      pi_t: target-policy probabilities, shape [T, A], floating.
      stop_target_gradients: stop gradients through the returns.

    Returns:
      transformed returns, shape [T].

    Raises:
      TypeError / ValueError: as the untransformed operator, or for a bad ``tx_pair``.

    Matches rlax 0.1.9 `rlax.transformed_general_off_policy_returns_from_action_values`.
    """
    _check_tx_pair("transformed_general_off_policy_returns_from_action_values", tx_pair)
    returns = _multistep.general_off_policy_returns_from_action_values(
        tx_pair.apply_inv(q_t),
        a_t,
        r_t,
        discount_t,
        c_t,
        pi_t,
        stop_target_gradients=stop_target_gradients,
    )
    return tx_pair.apply(returns)


def transformed_q_lambda(
    q_tm1: Array,
    a_tm1: Array,
    r_t: Array,
    discount_t: Array,
    q_t: Array,
    lambda_: Any,
    stop_target_gradients: bool = True,
    tx_pair: TxPair = IDENTITY_PAIR,
) -> Array:
    """Peng's / Watkins' Q(λ) TD error with a transformed target.

    δ_t = h(G^λ_t) − q_tm1[t, a_tm1[t]], where G^λ bootstraps from h⁻¹(max_a q_t).

    Args:
      q_tm1: action values at the source states, shape [T, A], floating.
      a_tm1: actions taken, shape [T], integer.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      q_t: action values at the destination states, shape [T, A], floating.
      lambda_: scalar (Peng) or shape [T] (Watkins), floating.
      stop_target_gradients: stop gradients through the target.
      tx_pair: the value transform and its inverse.

    Returns:
      TD errors, shape [T].

    Raises:
      ValueError: if a rank is wrong (naming the argument).
      TypeError: if a dtype is of the wrong kind, or ``tx_pair`` is not a pair.

    van Hasselt et al. 2019. Matches rlax 0.1.9 `rlax.transformed_q_lambda`.
    """
    fn = "transformed_q_lambda"
    _base.validate(
        fn,
        ("q_tm1", q_tm1, 2, "float"),
        ("a_tm1", a_tm1, 1, "int"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
        ("q_t", q_t, 2, "float"),
        ("lambda_", lambda_, (0, 1), "float"),
    )
    _check_tx_pair(fn, tx_pair)
    qa_tm1 = _base.batched_index(q_tm1, a_tm1)
    v_t = jnp.max(q_t, axis=-1)
    target_tm1 = transformed_lambda_returns(
        tx_pair, r_t, discount_t, v_t, lambda_, stop_target_gradients
    )
    return target_tm1 - qa_tm1


def transformed_retrace(
    q_tm1: Array,
    q_t: Array,
    a_tm1: Array,
    a_t: Array,
    r_t: Array,
    discount_t: Array,
    pi_t: Array,
    mu_t: Array,
    lambda_: float,
    eps: float = 1e-8,
    stop_target_gradients: bool = True,
    tx_pair: TxPair = IDENTITY_PAIR,
) -> Array:
    """Retrace TD error with a transformed target (R2D2's operator with traces).

    c_t = λ min(1, π(a_t|x_t) / (μ_t + eps)); the target is the transformed general
    off-policy return, and the error is target − q_tm1[t, a_tm1[t]].

    Args:
      q_tm1: action values at the source states, shape [T, A], floating.
      q_t: action values at the destination states, shape [T, A], floating.
      a_tm1: actions taken, shape [T], integer.
      a_t: actions at the destination states, shape [T], integer.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      pi_t: target-policy probabilities, shape [T, A], floating.
      mu_t: behaviour-policy probabilities of ``a_t``, shape [T], floating.
      lambda_: trace coefficient λ, scalar.
      eps: added to ``mu_t`` before dividing.
      stop_target_gradients: stop gradients through the target.
      tx_pair: the value transform and its inverse.

    Returns:
      TD errors, shape [T].

    Raises:
      ValueError: if a rank is wrong (naming the argument).
      TypeError: if a dtype is of the wrong kind, or ``tx_pair`` is not a pair.

    Kapturowski et al. 2019. Matches rlax 0.1.9 `rlax.transformed_retrace`.
    """
    fn = "transformed_retrace"
    _base.validate(
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
    _check_tx_pair(fn, tx_pair)
    pi_a_t = _base.batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    target_tm1 = transformed_general_off_policy_returns_from_action_values(
        tx_pair, q_t, a_t, r_t, discount_t, c_t, pi_t, stop_target_gradients
    )
    return target_tm1 - _base.batched_index(q_tm1, a_tm1)


def transformed_n_step_q_learning(
    q_tm1: Array,
    a_tm1: Array,
    target_q_t: Array,
    a_t: Array,
    r_t: Array,
    discount_t: Array,
    n: int,
    stop_target_gradients: bool = True,
    tx_pair: TxPair = IDENTITY_PAIR,
) -> Array:
    """n-step Q-learning TD error with a transformed target (R2D2).

    The target bootstraps from h⁻¹(target_q_t[t, a_t[t]]) after ``n`` steps.

    Args:
      q_tm1: action values at the source states, shape [T, A], floating.
      a_tm1: actions taken, shape [T], integer.
      target_q_t: target-network action values at the destination states, [T, A].
      a_t: bootstrap actions (argmax of ``target_q_t`` for Q-learning, of the
        online values for double Q-learning), shape [T], integer.
      r_t: rewards, shape [T], floating.
      discount_t: discounts, shape [T], floating.
      n: number of steps before bootstrapping (Python int ≥ 1).
      stop_target_gradients: stop gradients through the target.
      tx_pair: the value transform and its inverse.

    Returns:
      TD errors, shape [T].

    Raises:
      ValueError: if a rank is wrong (naming the argument).
      TypeError: if a dtype is of the wrong kind, or ``tx_pair`` is not a pair.

    Kapturowski et al. 2019. Matches rlax 0.1.9 `rlax.transformed_n_step_q_learning`.
    """
    fn = "transformed_n_step_q_learning"
    _base.validate(
        fn,
        ("q_tm1", q_tm1, 2, "float"),
        ("target_q_t", target_q_t, 2, "float"),
        ("a_tm1", a_tm1, 1, "int"),
        ("a_t", a_t, 1, "int"),
        ("r_t", r_t, 1, "float"),
        ("discount_t", discount_t, 1, "float"),
    )
    _check_tx_pair(fn, tx_pair)
    v_t = _base.batched_index(target_q_t, a_t)
    target_tm1 = transformed_n_step_returns(
        tx_pair, r_t, discount_t, v_t, n, stop_target_gradients=stop_target_gradients
    )
    return target_tm1 - _base.batched_index(q_tm1, a_tm1)
