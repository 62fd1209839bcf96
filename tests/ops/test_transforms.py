"""Tests for jit_env.ops value transforms, against rlax 0.1.9 and inverse-pair laws."""

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

B, N, BINS = 3, 6, 11
LO, HI = -4.0, 6.0


def _elementwise(m):
    def f(x, u):
        return {
            "identity": m.identity(x),
            "sigmoid": m.sigmoid(x),
            "logit": m.logit(u),
            "power": m.power(x, 0.4),
            "power_inv": m.power(x, 2.5),
            "signed_logp1": m.signed_logp1(x),
            "signed_expm1": m.signed_expm1(x),
            "signed_hyperbolic": m.signed_hyperbolic(x),
            "signed_hyperbolic_eps": m.signed_hyperbolic(x, 0.01),
            "signed_parabolic": m.signed_parabolic(x),
            "signed_parabolic_eps": m.signed_parabolic(x, 0.01),
            "to_2hot": m.transform_to_2hot(x, LO, HI, BINS),
        }

    return f


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(B, N)) * 3, jnp.float32)
    # exact bin points, both clip edges and out-of-range values.
    x = x.at[0, :4].set([LO, HI, LO - 2.0, 0.0]).at[1, 0].set(HI + 3.0)
    u = jnp.asarray(rng.uniform(0.01, 0.99, (B, N)), jnp.float32)
    return x, u


@functools.cache
def _reference():
    # computed once per module (not per variant), compiled as one program.
    return jax.jit(jax.vmap(_elementwise(rlax)))(*_inputs())


def test_elementwise_transforms_match_rlax(variant):
    x, u = _inputs()
    ours = variant(_elementwise(ops), x, u)
    ref = _reference()
    for k in ref:
        # elementwise float32 expressions, the same operations in the same order, no
        # reductions: equal up to a few ulp (XLA may fuse differently under jit) ...
        rtol, atol = 2e-6, 1e-6
        if k.startswith("signed_parabolic"):
            # ... except h⁻¹, which computes √(…)/(2ε) − 1/(2ε) ≈ 500 − 500: under jit XLA
            # folds the divisions into multiplications, and the cancellation amplifies that
            # 1-ulp change of ~500 (3e-5) into up to ~1e-4 relative error of the result.
            rtol, atol = 3e-4, 1e-4
        np.testing.assert_allclose(ours[k], ref[k], rtol=rtol, atol=atol, err_msg=k)
        assert ours[k].shape == ref[k].shape, k
        assert ours[k].dtype == ref[k].dtype, k


def test_from_2hot_matches_rlax(variant):
    rng = np.random.default_rng(1)
    probs = jnp.asarray(rng.dirichlet(np.ones(BINS), size=(B, 4)), jnp.float32)  # [B, 4, BINS]
    ours = variant(lambda p: ops.transform_from_2hot(p, LO, HI, BINS), probs)
    ref = jax.jit(jax.vmap(lambda p: rlax.transform_from_2hot(p, LO, HI, BINS)))(probs)
    # a sum of BINS float32 products: rounding of the reduction order, ~BINS ulp.
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert ours.shape == (B, 4)


def test_2hot_known_values():
    # support: -4, -3, ..., 6 ; 0.25 lies between bins 4 (0.0) and 5 (1.0).
    p = ops.transform_to_2hot(jnp.asarray([0.25, 10.0]), LO, HI, BINS)
    expected = np.zeros((2, BINS), np.float32)
    expected[0, 4], expected[0, 5] = 0.75, 0.25
    expected[1, -1] = 1.0  # clipped to the top bin
    # rlax adds 1e-5 to the bin width (1.0): the split is off by ~1e-5 relative.
    np.testing.assert_allclose(p, expected, atol=2e-5)


# Fixed-size inputs and jitted laws compiled once per module: hypothesis examples stay cheap.
def _vec(lo, hi):
    return st.lists(st.floats(lo, hi, width=32), min_size=8, max_size=8)


@jax.jit
def _hyperbolic_round_trips(x, eps):
    return (
        ops.signed_parabolic(ops.signed_hyperbolic(x, eps), eps),
        ops.signed_hyperbolic(ops.signed_parabolic(x, eps), eps),
    )


@settings(max_examples=20, deadline=None)
@given(_vec(-1e3, 1e3), st.sampled_from([1e-3, 1e-2]))
def test_signed_hyperbolic_parabolic_are_inverse(xs, eps):
    x = jnp.asarray(xs, jnp.float32)
    back, fwd = _hyperbolic_round_trips(x, jnp.float32(eps))
    # h⁻¹ subtracts 1/(2ε) ≈ 500 from √(…)/(2ε): cancellation costs ~ulp(500) ≈ 3e-5 in z,
    # amplified by 2z in z² (|z| ≤ √1001): 5e-3 absolute plus 1e-4 relative covers float32.
    np.testing.assert_allclose(back, x, rtol=1e-4, atol=5e-3)
    np.testing.assert_allclose(fwd, x, rtol=1e-4, atol=5e-3)


@jax.jit
def _other_round_trips(x):
    small = jnp.clip(x, -8, 8)  # sigmoid saturates in float32 beyond ~±15
    return (
        ops.signed_expm1(ops.signed_logp1(x)),
        ops.power(ops.power(x, 0.5), 2.0),
        small,
        ops.logit(ops.sigmoid(small)),
    )


@settings(max_examples=20, deadline=None)
@given(_vec(-30, 30))
def test_log_exp_power_sigmoid_pairs_are_inverse(xs):
    x = jnp.asarray(xs, jnp.float32)
    exp_log, pow_pow, small, logit_sigmoid = _other_round_trips(x)
    # log1p / expm1 / pow are accurate to a few ulp each; two composed: rtol 1e-5.
    np.testing.assert_allclose(exp_log, x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pow_pow, x, rtol=1e-5, atol=1e-5)
    # logit(σ(x)) = −log(1/σ − 1): the subtraction loses ~e^{|x|} ulp of σ near |x| = 8.
    np.testing.assert_allclose(logit_sigmoid, small, rtol=1e-3, atol=1e-3)


@jax.jit
def _two_hot_round_trip(x):
    p = ops.transform_to_2hot(x, LO, HI, BINS)
    return p, ops.transform_from_2hot(p, LO, HI, BINS)


@settings(max_examples=20, deadline=None)
@given(_vec(-10, 10))
def test_two_hot_round_trip(xs):
    x = jnp.asarray(xs, jnp.float32)
    p, back = _two_hot_round_trip(x)
    assert bool(jnp.all(p >= 0))
    assert int(jnp.max(jnp.sum(p > 0, axis=-1))) <= 2
    # the 1e-5 added to the bin width (1.0) makes the mass and the mean off by ≤ ~1e-5.
    np.testing.assert_allclose(jnp.sum(p, -1), 1.0, atol=2e-5)
    np.testing.assert_allclose(back, jnp.clip(x, LO, HI), atol=1e-4)


def test_bad_inputs_raise_naming_the_argument(wrap):
    for fn in (ops.identity, ops.sigmoid, ops.logit, ops.signed_logp1, ops.signed_expm1,
               ops.signed_hyperbolic, ops.signed_parabolic):
        with pytest.raises(TypeError, match="`x`.*int32"):
            wrap(fn)(jnp.zeros(3, jnp.int32))
    with pytest.raises(TypeError, match="`x`"):
        wrap(lambda x: ops.power(x, 2.0))(jnp.zeros(3, jnp.int32))
    with pytest.raises(TypeError, match="`scalar`"):
        wrap(lambda x: ops.transform_to_2hot(x, LO, HI, BINS))(jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="`num_bins`"):
        wrap(lambda x: ops.transform_to_2hot(x, LO, HI, 1))(jnp.zeros(3))
    with pytest.raises(ValueError, match="`min_value`"):
        wrap(lambda x: ops.transform_to_2hot(x, HI, LO, BINS))(jnp.zeros(3))
    with pytest.raises(ValueError, match="`probs`.*\\(2, 5\\)"):
        wrap(lambda p: ops.transform_from_2hot(p, LO, HI, BINS))(jnp.zeros((2, 5)))
