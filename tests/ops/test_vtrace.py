"""Tests for jit_env.ops V-trace: rlax 0.1.9 and an independent NumPy loop."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, T = 2, 7
# float32 recursions of 7 steps, O(1) values, evaluation order differing from rlax by a
# few roundings per step: a few ulps of the largest partial sum.
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    d = rng.uniform(0.5, 1.0, (B, T))
    d[1, 3] = 0.0
    return (
        f32(rng.normal(size=(B, T))),  # v_tm1
        f32(rng.normal(size=(B, T))),  # v_t
        f32(rng.normal(size=(B, T))),  # r_t
        f32(d),  # discount_t
        f32(np.exp(rng.normal(size=(B, T)))),  # rho_tm1
        f32(rng.uniform(size=(B, T))),  # lambda_
        jnp.asarray(rng.uniform(size=(B, T)) > 0.3),  # sample_mask
    )


def _all(m):
    def f(v_tm1, v_t, r, d, rho, lam, mask):
        return {
            "vtrace": m.vtrace(v_tm1, v_t, r, d, rho, lam, 0.8),
            "vtrace_masked": m.vtrace(v_tm1, v_t, r, d, rho, 0.9, 1.2, True, mask),
            "leaky": m.leaky_vtrace(v_tm1, v_t, r, d, rho, 0.3, lam, 0.8),
            "td_adv": m.vtrace_td_error_and_advantage(v_tm1, v_t, r, d, rho, lam, 0.8, 0.9),
            "td_adv_masked": m.vtrace_td_error_and_advantage(
                v_tm1, v_t, r, d, rho, 0.7, sample_mask=mask),
            "leaky_td_adv": m.leaky_vtrace_td_error_and_advantage(
                v_tm1, v_t, r, d, rho, 0.4, lam, 0.8, 0.9, sample_mask=mask),
        }

    return f


def _np_vtrace(v_tm1, v_t, r, d, rho, lam, clip=1.0):
    out, acc = np.empty(len(r)), 0.0
    for t in reversed(range(len(r))):
        delta = r[t] + d[t] * v_t[t] - v_tm1[t]
        acc = min(clip, rho[t]) * delta + d[t] * lam[t] * min(1.0, rho[t]) * acc
        out[t] = acc
    return out


@functools.cache
def _rlax_reference():
    """rlax's outputs on `_data()`, computed once per module (compiling is the cost)."""
    return jax.jit(jax.vmap(_all(rlax)))(*_data())


def test_matches_rlax_and_numpy(variant):
    x = _data()
    ours = variant(_all(ops), *x)
    ref = _rlax_reference()
    for k in ours:
        for o, r in zip(jax.tree.leaves(ours[k]), jax.tree.leaves(ref[k])):
            np.testing.assert_allclose(o, r, err_msg=k, **TOL)
    assert isinstance(ours["td_adv"], ops.VTraceOutput)
    assert ops.VTraceOutput._fields == ("errors", "pg_advantage", "q_estimate")
    rows = [np.asarray(a, np.float64) for a in x[:6]]
    for i in range(B):
        np.testing.assert_allclose(
            ours["vtrace"][i], _np_vtrace(*(a[i] for a in rows), clip=0.8), **TOL)


def test_edge_cases():
    v_tm1, v_t, r = jnp.asarray([1.0, 2.0]), jnp.asarray([2.0, 4.0]), jnp.asarray([0.5, 0.5])
    ones, zeros = jnp.ones(2), jnp.zeros(2)
    # on-policy (rho = 1), λ = 1, γ = 1: errors are Monte-Carlo returns minus v_tm1
    np.testing.assert_allclose(ops.vtrace(v_tm1, v_t, r, ones, ones), [5.0 - 1.0, 4.5 - 2.0])
    # all terminal: one-step errors r - v_tm1
    np.testing.assert_allclose(ops.vtrace(v_tm1, v_t, r, zeros, ones), r - v_tm1)
    # T = 1
    out = ops.vtrace_td_error_and_advantage(v_tm1[:1], v_t[:1], r[:1], ones[:1], ones[:1])
    np.testing.assert_allclose(out.q_estimate, [2.5])
    np.testing.assert_allclose(out.errors, [1.5])


def test_stop_target_gradients():
    v_tm1, v_t, r, d, rho, lam, _ = (a[0] for a in _data(1))

    def grads(stop):
        def loss(v_tm1, v_t):
            return jnp.sum(ops.vtrace(v_tm1, v_t, r, d, rho, lam, stop_target_gradients=stop))

        return jax.grad(loss, argnums=(0, 1))(v_tm1, v_t)

    g_tm1, g_t = grads(True)
    np.testing.assert_array_equal(g_t, np.zeros(T))
    np.testing.assert_array_equal(g_tm1, -np.ones(T))  # only through -v_tm1
    g_tm1, g_t = grads(False)
    assert np.any(np.abs(np.asarray(g_t)) > 1e-3)


def test_bad_inputs_raise_naming_the_argument(wrap):
    v = jnp.ones(4)
    with pytest.raises(ValueError, match="`rho_tm1` has shape"):
        wrap(ops.vtrace)(v, v, v, v, jnp.ones(5))
    with pytest.raises(ValueError, match="`v_t` has rank 0"):
        wrap(ops.vtrace_td_error_and_advantage)(v, jnp.ones(()), v, v, v)
    with pytest.raises(TypeError, match="`sample_mask` has dtype float32"):
        wrap(ops.leaky_vtrace)(v, v, v, v, v, sample_mask=jnp.ones(4))
