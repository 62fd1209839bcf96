"""Tests for jit_env.ops transformed Bellman operators, against rlax 0.1.9 and NumPy."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import ops

B, T, A = 2, 5, 3
LO, HI, BINS = -3.0, 3.0, 9


def _data(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    pi = rng.dirichlet(np.ones(A), size=(B, T))
    return {
        "q_tm1": f(B, T, A),
        "q_t": f(B, T, A),
        "a_tm1": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "a_t": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "r_t": f(B, T),
        "discount_t": jnp.asarray(rng.choice([0.0, 0.9], (B, T)), jnp.float32),
        "pi_t": jnp.asarray(pi, jnp.float32),
        "mu_t": jnp.asarray(rng.uniform(0.1, 1.0, (B, T)), jnp.float32),
        "lambda_t": jnp.asarray(rng.uniform(0, 1, (B, T)), jnp.float32),
        "c_t": jnp.asarray(rng.uniform(0, 1, (B, T)), jnp.float32),
    }


def _operators(m, pair):
    """All transformed operators of module ``m`` with the ``pair`` of the same module."""

    def f(q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t, lambda_t, c_t):
        v_t = jnp.max(q_t, -1)
        return {
            "q_lambda": m.transformed_q_lambda(
                q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t, tx_pair=pair),
            "q_lambda_peng": m.transformed_q_lambda(
                q_tm1, a_tm1, r_t, discount_t, q_t, jnp.float32(0.7), tx_pair=pair),
            "retrace": m.transformed_retrace(
                q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t, 0.9, tx_pair=pair),
            "n_step_q": m.transformed_n_step_q_learning(
                q_tm1, a_tm1, q_t, a_t, r_t, discount_t, 2, tx_pair=pair),
            "lambda_returns": m.transformed_lambda_returns(pair, r_t, discount_t, v_t, 0.8),
            "n_step_returns": m.transformed_n_step_returns(
                pair, r_t, discount_t, v_t, 3, lambda_t),
            "off_policy": m.transformed_general_off_policy_returns_from_action_values(
                pair, q_t, a_t, r_t, discount_t, c_t, pi_t),
        }

    return f


_ARGS = ("q_tm1", "q_t", "a_tm1", "a_t", "r_t", "discount_t", "pi_t", "mu_t", "lambda_t", "c_t")


@functools.cache
def _reference_operators():
    # computed once per module (not per variant), compiled as one program.
    args = [_data()[k] for k in _ARGS]
    return jax.jit(jax.vmap(_operators(rlax, rlax.SIGNED_HYPERBOLIC_PAIR)))(*args)


def test_operators_match_rlax(variant):
    d = _data()
    args = [d[k] for k in _ARGS]
    ours = variant(_operators(ops, ops.SIGNED_HYPERBOLIC_PAIR), *args)
    ref = _reference_operators()
    for k in ref:
        # Backward recursions over T=5 float32 steps through h⁻¹ and h: a few ulp per step;
        # h⁻¹ of the signed-hyperbolic pair loses ~1e-4 relative to cancellation (see
        # test_transforms), so targets agree to 5e-4.
        np.testing.assert_allclose(ours[k], ref[k], rtol=5e-4, atol=5e-4, err_msg=k)
        assert ours[k].shape == ref[k].shape == (B, T), k


def _other_pairs(m):
    def f(*args):
        pairs = ("IDENTITY_PAIR", "SIGNED_LOGP1_PAIR", "HYPERBOLIC_SIN_PAIR")
        out = {}
        for name in pairs:
            ops_ = _operators(m, getattr(m, name))(*args)
            out[name] = {k: ops_[k] for k in ("q_lambda", "retrace", "n_step_q")}
        return out

    return jax.jit(jax.vmap(f))


def test_operators_match_rlax_other_pairs():
    # eager / jit / vmap are covered above; here the other provided pairs under jit(vmap).
    args = [_data(1)[k] for k in _ARGS]
    ours, ref = _other_pairs(ops)(*args), _other_pairs(rlax)(*args)
    # the same float32 operations; exp-type inverses (expm1, sinh) amplify ulp errors of
    # returns of size ~5 by at most e^5 relative ~1e-5.
    jax.tree.map(lambda a, r: np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5), ours, ref)


def _pair_outputs(m):
    def f(x, u, probs):
        twohot = m.twohot_pair(LO, HI, BINS)
        mz = m.muzero_pair(LO, HI, BINS, m.SIGNED_HYPERBOLIC_PAIR)
        unb = m.unbiased_transform_pair(LO, HI, BINS, m.SIGNED_HYPERBOLIC_PAIR)
        comp = m.compose_tx(m.SIGNED_LOGP1_PAIR, m.SIGNED_HYPERBOLIC_PAIR)
        return {
            "twohot": twohot.apply(x), "twohot_inv": twohot.apply_inv(probs),
            "muzero": mz.apply(x), "muzero_inv": mz.apply_inv(probs),
            "unbiased": unb.apply(x), "unbiased_inv": unb.apply_inv(probs),
            "compose": comp.apply(x), "compose_inv": comp.apply_inv(x),
            "discount": m.DISCOUNT_TRANSFORM_PAIR.apply(u),
            "discount_inv": m.DISCOUNT_TRANSFORM_PAIR.apply_inv(x),
        }

    return f


_reference_pairs = jax.jit(jax.vmap(_pair_outputs(rlax)))


def test_pairs_match_rlax(variant):
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(B, 4)) * 2, jnp.float32).at[0, :2].set([LO, HI + 1])
    u = jnp.asarray(rng.uniform(0, 0.99, (B, 4)), jnp.float32)
    probs = jnp.asarray(rng.dirichlet(np.ones(BINS), (B, 4)), jnp.float32)
    ours = variant(_pair_outputs(ops), x, u, probs)
    ref = _reference_pairs(x, u, probs)
    for k in ref:
        # elementwise maps and BINS-term sums in float32; the signed-parabolic inverse
        # (muzero_inv / unbiased bins) loses ~1e-4 relative to cancellation under jit.
        np.testing.assert_allclose(ours[k], ref[k], rtol=3e-4, atol=3e-4, err_msg=k)
        assert ours[k].shape == ref[k].shape, k


def test_compose_order_and_one_step_target():
    # compose_tx applies in order and inverts in reverse order.
    double = ops.TxPair(lambda x: 2.0 * x, lambda x: x / 2.0)
    plus1 = ops.TxPair(lambda x: x + 1.0, lambda x: x - 1.0)
    c = ops.compose_tx(double, plus1)
    assert float(c.apply(jnp.float32(3.0))) == 7.0
    assert float(c.apply_inv(jnp.float32(7.0))) == 3.0
    # With n = 1 the transformed target is h(r + γ h⁻¹(q_t[a_t])) (Pohlen et al. 2018, eq. 3).
    d = {k: v[0] for k, v in _data(5).items()}
    pair = ops.SIGNED_HYPERBOLIC_PAIR
    err = ops.transformed_n_step_q_learning(
        d["q_tm1"], d["a_tm1"], d["q_t"], d["a_t"], d["r_t"], d["discount_t"], 1, tx_pair=pair)
    q_t, q_tm1 = np.asarray(d["q_t"], np.float64), np.asarray(d["q_tm1"], np.float64)
    eps = 1e-3
    hyp = lambda v: np.sign(v) * (np.sqrt(np.abs(v) + 1) - 1) + eps * v
    par = lambda v: np.sign(v) * (
        ((np.sqrt(1 + 4 * eps * (np.abs(v) + 1 + eps)) - 1) / (2 * eps)) ** 2 - 1)
    idx = np.arange(T)
    target = hyp(np.asarray(d["r_t"]) + np.asarray(d["discount_t"]) * par(q_t[idx, d["a_t"]]))
    # float64 reference vs float32: h⁻¹'s cancellation (≈1e-4 relative) dominates.
    np.testing.assert_allclose(err, target - q_tm1[idx, d["a_tm1"]], rtol=1e-3, atol=1e-3)


@jax.jit
def _identity_vs_plain(q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t):
    return (
        ops.transformed_q_lambda(q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t),
        ops.q_lambda(q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t),
    )


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_identity_pair_gives_the_plain_operator(seed):
    d = {k: v[0] for k, v in _data(seed).items()}
    ours, plain = _identity_vs_plain(
        d["q_tm1"], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], d["lambda_t"])
    # the same float32 operations in the same order: equal up to fusion differences.
    np.testing.assert_allclose(ours, plain, rtol=1e-6, atol=1e-6)


def _grads(m, stop):
    """Gradients of squared transformed TD errors w.r.t. the bootstrap values and q_tm1."""

    def f(q_tm1, a_tm1, r_t, discount_t, q_t, a_t, pi_t, mu_t):
        pair = m.SIGNED_HYPERBOLIC_PAIR
        lam = jnp.float32(0.5)
        losses = {
            "q_lambda": lambda q_t: m.transformed_q_lambda(
                q_tm1, a_tm1, r_t, discount_t, q_t, lam, stop_target_gradients=stop,
                tx_pair=pair),
            "retrace": lambda q_t: m.transformed_retrace(
                q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t, 0.9,
                stop_target_gradients=stop, tx_pair=pair),
            "n_step_q": lambda q_t: m.transformed_n_step_q_learning(
                q_tm1, a_tm1, q_t, a_t, r_t, discount_t, 2, stop_target_gradients=stop,
                tx_pair=pair),
            "lambda_returns": lambda q_t: m.transformed_lambda_returns(
                pair, r_t, discount_t, jnp.max(q_t, -1), 0.5, stop_target_gradients=stop),
        }
        out = {k: jax.grad(lambda q, fn=fn: jnp.sum(fn(q) ** 2))(q_t) for k, fn in losses.items()}
        out["prediction"] = jax.grad(lambda q: jnp.sum(m.transformed_q_lambda(
            q, a_tm1, r_t, discount_t, q_t, lam, stop_target_gradients=stop,
            tx_pair=pair) ** 2))(q_tm1)
        return out

    return jax.jit(f)


@pytest.mark.parametrize("stop", [True, False])
def test_stop_target_gradients(stop):
    d = {k: v[0] for k, v in _data(7).items()}
    d["discount_t"] = jnp.full((T,), 0.9, jnp.float32)  # every step bootstraps
    args = [d[k] for k in ("q_tm1", "a_tm1", "r_t", "discount_t", "q_t", "a_t", "pi_t", "mu_t")]
    ours, ref = _grads(ops, stop)(*args), _grads(rlax, stop)(*args)
    for k, g in ours.items():
        if stop and k != "prediction":
            np.testing.assert_array_equal(g, np.zeros_like(g), err_msg=k)
        else:
            assert float(jnp.max(jnp.abs(g))) > 1e-3, k  # gradients reach the input
        # the same computation as rlax: agreement as for the targets above.
        np.testing.assert_allclose(g, ref[k], rtol=5e-4, atol=5e-4, err_msg=k)


def test_bad_inputs_raise_naming_the_argument(wrap):
    d = {k: v[0] for k, v in _data().items()}
    with pytest.raises(ValueError, match="`q_tm1` has rank 1"):
        wrap(functools.partial(ops.transformed_q_lambda, lambda_=jnp.float32(0.5)))(
            d["q_tm1"][:, 0], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"])
    with pytest.raises(TypeError, match="`a_tm1`"):
        wrap(functools.partial(ops.transformed_q_lambda, lambda_=jnp.float32(0.5)))(
            d["q_tm1"], d["a_tm1"].astype(jnp.float32), d["r_t"], d["discount_t"], d["q_t"])
    with pytest.raises(TypeError, match="`r_t`"):
        wrap(lambda r: ops.transformed_retrace(
            d["q_tm1"], d["q_t"], d["a_tm1"], d["a_t"], r, d["discount_t"], d["pi_t"],
            d["mu_t"], 0.9))(d["a_t"])
    with pytest.raises(ValueError, match="`target_q_t` has rank 1"):
        wrap(lambda q: ops.transformed_n_step_q_learning(
            d["q_tm1"], d["a_tm1"], q, d["a_t"], d["r_t"], d["discount_t"], 2))(d["r_t"])
    with pytest.raises(TypeError, match="`tx_pair`"):
        wrap(lambda q: ops.transformed_q_lambda(
            q, d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], jnp.float32(0.5),
            tx_pair=ops.identity))(d["q_tm1"])
    with pytest.raises(ValueError, match="`num_bins`"):
        ops.twohot_pair(LO, HI, 1)
    with pytest.raises(ValueError, match="`min_value`"):
        ops.muzero_pair(HI, LO, BINS, ops.IDENTITY_PAIR)
