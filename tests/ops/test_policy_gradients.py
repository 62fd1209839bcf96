"""Tests for jit_env.ops policy-gradient losses, against rlax 0.1.9."""

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

B, T, A, D = 3, 5, 4, 3
# float32; softmax + a mean over T·A ≤ 20 terms: error a few ulps of the result.
RTOL, ATOL = 1e-5, 1e-6


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    return {
        "logits": f32(B, T, A), "a": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "adv": f32(B, T), "w": jnp.asarray(rng.uniform(0, 1, (B, T)), jnp.float32),
        "q": f32(B, T, A), "ratio": jnp.exp(0.4 * f32(B, T)), "a_cont": f32(B, D),
        "dqda": 3 * f32(B, D),
    }


def _outputs(m, use_stop_gradient=True):
    sg = use_stop_gradient

    def f(logits, a, adv, w, q, ratio, a_cont, dqda):
        return {
            "pg": m.policy_gradient_loss(logits, a, adv, w, sg),
            "entropy": m.entropy_loss(logits, w),
            "qpg": m.qpg_loss(logits, q, sg),
            "rm": m.rm_loss(logits, q, sg),
            "rpg": m.rpg_loss(logits, q, sg),
            "ppo": m.clipped_surrogate_pg_loss(ratio, adv, 0.2, sg),
            "dpg": m.dpg_loss(a_cont, dqda, None, sg),
            "dpg_clipped": m.dpg_loss(a_cont, dqda, 1.0, sg),
        }

    return f


@functools.cache
def _rlax_reference():
    # Computed once per module (not per variant), compiled: rlax eagerly is slow.
    return jax.jit(jax.vmap(_outputs(rlax)))(*_inputs().values())


def test_losses_match_rlax(variant):
    x = _inputs()
    ours = variant(_outputs(ops), *x.values())
    ref = _rlax_reference()
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=RTOL, atol=ATOL, err_msg=k)


def _grads(m, sg):
    float_args = (0, 2, 4, 5, 6, 7)  # differentiate w.r.t. every floating input

    def total(*args):
        return sum(jnp.sum(v) for v in _outputs(m, sg)(*args).values())

    return jax.jit(jax.vmap(jax.grad(total, argnums=float_args)))


@pytest.mark.parametrize("sg", [True, False])
def test_gradients_match_rlax_for_both_stop_gradient_settings(sg):
    x = _inputs(1)
    ours = _grads(ops, sg)(*x.values())
    ref = _grads(rlax, sg)(*x.values())
    for g_ours, g_ref in zip(ours, ref):
        np.testing.assert_allclose(g_ours, g_ref, rtol=RTOL, atol=ATOL)


def test_use_stop_gradient_blocks_advantage_gradients():
    x = _inputs(2)
    logits, a, adv, w = x["logits"][0], x["a"][0], x["adv"][0], x["w"][0]
    for sg, expect_zero in [(True, True), (False, False)]:
        g_adv = jax.grad(ops.policy_gradient_loss, argnums=2)(logits, a, adv, w, sg)
        g_ppo = jax.grad(ops.clipped_surrogate_pg_loss, argnums=1)(x["ratio"][0], adv, 0.2, sg)
        g_rpg = jax.grad(ops.rpg_loss, argnums=1)(logits, x["q"][0], sg)
        g_dpg = jax.grad(lambda d: jnp.sum(ops.dpg_loss(x["a_cont"][0], d, None, sg)))(
            x["dqda"][0])
        for g in (g_adv, g_ppo, g_rpg, g_dpg):
            assert np.all(np.asarray(g) == 0) == expect_zero
    # qpg / rm always stop gradients into q_t (as rlax); the flag decides whether the
    # advantage's baseline passes gradient back into the logits.
    for loss in (ops.qpg_loss, ops.rm_loss):
        g_on, g_off = (jax.grad(loss)(logits, x["q"][0], sg) for sg in (True, False))
        assert not np.allclose(g_on, g_off)
    # A traced flag works too (rlax uses lax.select).
    g = jax.jit(jax.grad(ops.policy_gradient_loss, argnums=2))(logits, a, adv, w, jnp.bool_(True))
    np.testing.assert_array_equal(g, np.zeros(T))


def test_policy_gradient_closed_form():
    logits = jnp.log(jnp.asarray([[0.25, 0.75], [0.5, 0.5]]))
    loss = ops.policy_gradient_loss(logits, jnp.asarray([1, 0]), jnp.asarray([2.0, -1.0]),
                                    jnp.asarray([1.0, 0.5]))
    expected = np.mean([-np.log(0.75) * 2.0, -np.log(0.5) * -1.0 * 0.5])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(ops.entropy_loss(jnp.zeros((2, 4)), jnp.ones(2)), -np.log(4),
                               rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.01, 5.0), st.floats(-5.0, 5.0), st.floats(0.0, 0.5))
def test_ppo_objective_is_pessimistic(ratio, adv, eps):
    # −L = min(r·A, clip(r)·A) ≤ r·A, and equals r·A inside the trust region.
    loss = float(_jit_ppo(jnp.float32([ratio]), jnp.float32([adv]), eps))
    r32, a32 = float(np.float32(ratio)), float(np.float32(adv))
    assert -loss <= r32 * a32 + 1e-5 * (1 + abs(r32 * a32))
    if 1 - eps <= r32 <= 1 + eps:
        assert -loss == pytest.approx(r32 * a32, rel=1e-5, abs=1e-6)


_jit_ppo = jax.jit(ops.clipped_surrogate_pg_loss)


def test_bad_inputs_raise_naming_the_argument(wrap):
    logits, w = jnp.zeros((T, A)), jnp.ones(T)
    with pytest.raises(ValueError, match="`a_t` has rank 2"):
        wrap(ops.policy_gradient_loss)(logits, jnp.zeros((T, 1), jnp.int32), w, w)
    with pytest.raises(TypeError, match="`a_t`.*float32"):
        wrap(ops.policy_gradient_loss)(logits, jnp.zeros(T), w, w)
    with pytest.raises(ValueError, match="`w_t`.*dimension 0 is 4"):
        wrap(ops.entropy_loss)(logits, jnp.ones(T - 1))
    with pytest.raises(ValueError, match="`q_t`"):
        wrap(ops.qpg_loss)(logits, jnp.zeros((T, A + 1)))
    with pytest.raises(ValueError, match="`adv_t`"):
        wrap(lambda r, a: ops.clipped_surrogate_pg_loss(r, a, 0.2))(w, jnp.ones(T + 1))
    with pytest.raises(ValueError, match="`dqda_t`"):
        wrap(ops.dpg_loss)(jnp.zeros(2), jnp.zeros(3))
