"""Tests for jit_env.ops value learning: rlax 0.1.9 and closed forms."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, T, A = 2, 6, 3
# Single-transition errors are a handful of float32 operations (identical up to 1-2 ulp);
# sequence errors are float32 recursions of 6 steps with a different evaluation order
# from rlax: a few ulps of the largest partial sum.
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    d = rng.uniform(0.0, 1.0, (B, T))
    d[0, 2] = 0.0
    return {
        "q_tm1": f32(rng.normal(size=(B, T, A))), "q_t": f32(rng.normal(size=(B, T, A))),
        "q_sel": f32(rng.normal(size=(B, T, A))),
        "a_tm1": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "a_t": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "r": f32(rng.normal(size=(B, T))), "d": f32(d),
        "v_tm1": f32(rng.normal(size=(B, T))), "v_t": f32(rng.normal(size=(B, T))),
        "lam": f32(rng.uniform(size=(B, T))),
        "pi": jax.nn.softmax(f32(rng.normal(size=(B, T, A)))),
        "mu": f32(rng.uniform(0.1, 1.0, (B, T))),
        "log_rhos": f32(rng.normal(size=(B, T - 1))),
    }


def _single(m):
    """All single-transition operators on the first transition of a stream."""

    def f(x):
        q_tm1, a_tm1, r, d, q_t = x["q_tm1"][0], x["a_tm1"][0], x["r"][0], x["d"][0], x["q_t"][0]
        return {
            "td_learning": m.td_learning(x["v_tm1"][0], r, d, x["v_t"][0]),
            "sarsa": m.sarsa(q_tm1, a_tm1, r, d, q_t, x["a_t"][0]),
            "expected_sarsa": m.expected_sarsa(q_tm1, a_tm1, r, d, q_t, x["pi"][0]),
            "q_learning": m.q_learning(q_tm1, a_tm1, r, d, q_t),
            "double_q_learning": m.double_q_learning(q_tm1, a_tm1, r, d, q_t, x["q_sel"][0]),
            "persistent_q_learning": m.persistent_q_learning(q_tm1, a_tm1, r, d, q_t, 0.3),
            "qv_learning": m.qv_learning(q_tm1, a_tm1, r, d, x["v_t"][0]),
            "qv_max": m.qv_max(x["v_tm1"][0], r, d, q_t),
        }

    return f


def _sequence(m):
    def f(x):
        q_tm1, a_tm1, r, d, q_t = x["q_tm1"], x["a_tm1"], x["r"], x["d"], x["q_t"]
        return {
            "td_lambda": m.td_lambda(x["v_tm1"], r, d, x["v_t"], x["lam"]),
            "sarsa_lambda": m.sarsa_lambda(q_tm1, a_tm1, r, d, q_t, x["a_t"], 0.7),
            "q_lambda": m.q_lambda(q_tm1, a_tm1, r, d, q_t, x["lam"]),
            "q_lambda_peng": m.q_lambda(q_tm1, a_tm1, r, d, q_t, 0.9),
            "retrace": m.retrace(q_tm1, q_t, a_tm1, x["a_t"], r, d, x["pi"], x["mu"], 0.9),
            "retrace_continuous": m.retrace_continuous(
                x["v_tm1"], x["v_t"][:-1], x["v_t"], r, d, x["log_rhos"], 0.8),
        }

    return f


@functools.cache
def _rlax_reference(family):
    """rlax's outputs on `_data()`, computed once per module (compiling is the cost)."""
    make = _single if family == "single" else _sequence
    return jax.jit(jax.vmap(make(rlax)))(_data())


@pytest.mark.parametrize("family", ["single", "sequence"])
def test_matches_rlax(variant, family):
    x = _data()
    make = _single if family == "single" else _sequence
    ours = variant(make(ops), x)
    ref = _rlax_reference(family)
    for k in ours:
        np.testing.assert_allclose(ours[k], ref[k], err_msg=k, **TOL)


def test_closed_forms():
    q_tm1 = jnp.asarray([1.0, 2.0, 3.0])
    q_t = jnp.asarray([4.0, -1.0, 0.5])
    r, d, a = jnp.asarray(1.0), jnp.asarray(0.5), jnp.asarray(1)
    np.testing.assert_allclose(ops.q_learning(q_tm1, a, r, d, q_t), 1.0 + 0.5 * 4.0 - 2.0)
    np.testing.assert_allclose(ops.sarsa(q_tm1, a, r, d, q_t, jnp.asarray(2)), 1.25 - 2.0)
    np.testing.assert_allclose(
        ops.double_q_learning(q_tm1, a, r, d, q_t, jnp.asarray([0.0, 9.0, 0.0])), 0.5 - 2.0)
    # persistent: (1 - β) max q_t + β q_t[a_tm1], β = 0.5 → 1.5
    np.testing.assert_allclose(ops.persistent_q_learning(q_tm1, a, r, d, q_t, 0.5), 1.75 - 2.0)
    # discount 0: error r - prediction
    np.testing.assert_allclose(ops.td_learning(jnp.asarray(3.0), r, jnp.asarray(0.0),
                                               jnp.asarray(100.0)), -2.0)
    # T = 1 sequences, λ = 0 and 1 agree (one-step target)
    for lam in (0.0, 1.0):
        out = ops.q_lambda(q_tm1[None], a[None], r[None], d[None], q_t[None], lam)
        np.testing.assert_allclose(out, [1.0 + 0.5 * 4.0 - 2.0])


@pytest.mark.parametrize("name", ["td_learning", "q_learning", "sarsa_lambda", "q_lambda",
                                  "retrace", "retrace_continuous"])
def test_stop_target_gradients(name, assert_stop_gradient):
    x = _data(1)
    q_tm1, a_tm1, r, d = x["q_tm1"][0], x["a_tm1"][0], x["r"][0], x["d"][0]
    cases = {
        "td_learning": (lambda s, v: ops.td_learning(x["v_tm1"][0, 0], r[0], d[0], v[0], s),
                        x["v_t"][0]),
        "q_learning": (lambda s, q: ops.q_learning(q_tm1[0], a_tm1[0], r[0], d[0] + 0.5, q[0],
                                                   s), x["q_t"][0]),
        "sarsa_lambda": (lambda s, q: ops.sarsa_lambda(q_tm1, a_tm1, r, d, q, x["a_t"][0],
                                                       0.5, s), x["q_t"][0]),
        "q_lambda": (lambda s, q: ops.q_lambda(q_tm1, a_tm1, r, d, q, 0.5, s), x["q_t"][0]),
        "retrace": (lambda s, q: ops.retrace(q_tm1, q, a_tm1, x["a_t"][0], r, d, x["pi"][0],
                                             x["mu"][0], 0.9, stop_target_gradients=s),
                    x["q_t"][0]),
        "retrace_continuous": (lambda s, v: ops.retrace_continuous(
            x["v_tm1"][0], v[:-1], v, r, d, x["log_rhos"][0], 0.8, s), x["v_t"][0]),
    }
    fn, target_input = cases[name]
    assert_stop_gradient(lambda z, stop: fn(stop, z), target_input)


def test_bad_inputs_raise_naming_the_argument(wrap):
    q, s, i = jnp.ones(3), jnp.asarray(1.0), jnp.asarray(0)
    with pytest.raises(TypeError, match="`a_tm1` has dtype float32"):
        wrap(ops.q_learning)(q, s, s, s, q)
    with pytest.raises(ValueError, match="`q_t` has rank 0"):
        wrap(ops.q_learning)(q, i, s, s, s)
    with pytest.raises(ValueError, match="`v_tm1` has rank 1"):
        wrap(ops.td_learning)(q, s, s, s)
    qs, a, v = jnp.ones((4, 3)), jnp.zeros(4, jnp.int32), jnp.ones(4)
    with pytest.raises(ValueError, match="`a_tm1` has shape"):
        wrap(ops.q_lambda)(qs, jnp.zeros(5, jnp.int32), v, v, qs, 0.5)
    with pytest.raises(ValueError, match="`mu_t` has shape"):
        wrap(ops.retrace)(qs, qs, a, a, v, v, qs, jnp.ones(3), 0.9)
    with pytest.raises(ValueError, match="`log_rhos` has shape"):
        wrap(ops.retrace_continuous)(v, v[:-1], v, v, v, v, 0.8)
