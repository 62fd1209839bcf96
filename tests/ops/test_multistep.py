"""Tests for jit_env.ops multistep returns: rlax 0.1.9 and independent NumPy loops."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, T, A = 2, 6, 3

# Tolerances: float32 recursions over T <= 8 steps with |values| ~ 1. Our evaluation
# order differs from rlax's by a few roundings per step, so errors stay within a few
# ulps of the largest partial sum: rtol 1e-5 / atol 1e-6 (float32 eps is 1.2e-7).
# Against float64 NumPy loops the float32 rounding of inputs dominates: same bounds.
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _data(seed=0, t=T):
    rng = np.random.default_rng(seed)
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    d = rng.uniform(0.0, 1.0, (B, t))
    d[0, t // 2] = 0.0  # a termination inside the window
    return {
        "r": f32(rng.normal(size=(B, t))),
        "d": f32(d),
        "v": f32(rng.normal(size=(B, t))),
        "values": f32(rng.normal(size=(B, t + 1))),
        "lam": f32(rng.uniform(0.0, 1.0, (B, t))),
        "q": f32(rng.normal(size=(B, t, A))),
        "a": jnp.asarray(rng.integers(0, A, (B, t)), jnp.int32),
        "c": f32(rng.uniform(0.0, 1.0, (B, t))),
        "pi": jax.nn.softmax(f32(rng.normal(size=(B, t, A)))),
    }


# --- independent NumPy references (float64) ---------------------------------------


def _np_lambda_returns(r, d, v, lam):
    lam = np.broadcast_to(lam, r.shape)
    out, acc = np.empty(len(r)), float(v[-1])
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * ((1 - lam[t]) * v[t] + lam[t] * acc)
        out[t] = acc
    return out


def _np_n_step(r, d, v, n, lam):
    lam = np.broadcast_to(lam, r.shape)
    t_len = len(r)
    out = np.empty(t_len)
    for t in range(t_len):
        # Explicit forward sum of the n-step λ-return starting at t.
        end = min(t + n, t_len)
        g = float(v[end - 1])
        for k in reversed(range(t, end)):
            g = r[k] + d[k] * ((1 - lam[k]) * v[k] + lam[k] * g)
        out[t] = g
    return out


def _np_gae(r, d, lam, values):
    lam = np.broadcast_to(lam, r.shape)
    out, acc = np.empty(len(r)), 0.0
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * values[t + 1] - values[t] + d[t] * lam[t] * acc
        out[t] = acc
    return out


def _np_off_policy(q, v, r, d, c):
    k = len(r)
    out = np.empty(k)
    acc = r[-1] + d[-1] * v[-1]
    out[-1] = acc
    for t in reversed(range(k - 1)):
        acc = r[t] + d[t] * (v[t] - c[t] * q[t] + c[t] * acc)
        out[t] = acc
    return out


def _rows(*xs):
    return zip(*(np.asarray(x, np.float64) for x in xs))


# --- values -------------------------------------------------------------------------


@pytest.mark.parametrize("lam_kind", ["scalar", "vector"])
def test_lambda_returns(variant, lam_kind):
    x = _data()
    if lam_kind == "scalar":
        fn = functools.partial(ops.lambda_returns, lambda_=0.7)
        ours = variant(fn, x["r"], x["d"], x["v"])
        ref = jax.vmap(lambda r, d, v: rlax.lambda_returns(r, d, v, 0.7))(x["r"], x["d"], x["v"])
        np_ref = [_np_lambda_returns(r, d, v, 0.7) for r, d, v in _rows(x["r"], x["d"], x["v"])]
    else:
        ours = variant(ops.lambda_returns, x["r"], x["d"], x["v"], x["lam"])
        ref = jax.vmap(rlax.lambda_returns)(x["r"], x["d"], x["v"], x["lam"])
        np_ref = [_np_lambda_returns(*row) for row in _rows(x["r"], x["d"], x["v"], x["lam"])]
    np.testing.assert_allclose(ours, ref, **TOL)
    np.testing.assert_allclose(ours, np.stack(np_ref), **TOL)


def test_discounted_returns(variant):
    x = _data(1)
    ours = variant(ops.discounted_returns, x["r"], x["d"], x["v"])
    ref = jax.vmap(rlax.discounted_returns)(x["r"], x["d"], x["v"])
    np.testing.assert_allclose(ours, ref, **TOL)
    np_ref = [_np_lambda_returns(r, d, v, 1.0) for r, d, v in _rows(x["r"], x["d"], x["v"])]
    np.testing.assert_allclose(ours, np.stack(np_ref), **TOL)
    # scalar bootstrap value
    ours_s = variant(ops.discounted_returns, x["r"], x["d"], x["v"][:, -1])
    np.testing.assert_allclose(ours_s, ours, **TOL)


@pytest.mark.parametrize("n", [1, 3, T + 2])
def test_n_step_bootstrapped_returns(variant, n):
    x = _data(2)
    fn = lambda r, d, v, lam: ops.n_step_bootstrapped_returns(r, d, v, n, lam)
    ours = variant(fn, x["r"], x["d"], x["v"], x["lam"])
    ref = jax.vmap(lambda *a: rlax.n_step_bootstrapped_returns(*a[:3], n, a[3]))(
        x["r"], x["d"], x["v"], x["lam"]
    )
    np.testing.assert_allclose(ours, ref, **TOL)
    np_ref = [_np_n_step(r, d, v, n, lam) for r, d, v, lam in _rows(x["r"], x["d"], x["v"],
                                                                        x["lam"])]
    np.testing.assert_allclose(ours, np.stack(np_ref), **TOL)


def test_truncated_gae(variant):
    x = _data(3)
    fn = functools.partial(ops.truncated_generalized_advantage_estimation, lambda_=0.9)
    ours = variant(lambda r, d, vals: fn(r, d, values=vals), x["r"], x["d"], x["values"])
    ref = jax.vmap(lambda r, d, vals: rlax.truncated_generalized_advantage_estimation(
        r, d, 0.9, vals))(x["r"], x["d"], x["values"])
    np.testing.assert_allclose(ours, ref, **TOL)
    np_ref = [_np_gae(r, d, 0.9, vals) for r, d, vals in _rows(x["r"], x["d"], x["values"])]
    np.testing.assert_allclose(ours, np.stack(np_ref), **TOL)


def test_general_off_policy_returns(variant):
    x = _data(4)
    ours = variant(ops.general_off_policy_returns_from_action_values,
                   x["q"], x["a"], x["r"], x["d"], x["c"], x["pi"])
    ref = jax.vmap(rlax.general_off_policy_returns_from_action_values)(
        x["q"], x["a"], x["r"], x["d"], x["c"], x["pi"])
    np.testing.assert_allclose(ours, ref, **TOL)
    q_a = np.take_along_axis(np.asarray(x["q"]), np.asarray(x["a"])[..., None], -1)[..., 0]
    exp_q = np.sum(np.asarray(x["pi"], np.float64) * np.asarray(x["q"]), -1)
    np_ref = [_np_off_policy(*row) for row in _rows(q_a, exp_q, x["r"], x["d"], x["c"])]
    np.testing.assert_allclose(ours, np.stack(np_ref), **TOL)

    ours_qv = variant(ops.general_off_policy_returns_from_q_and_v,
                      x["v"][:, :-1], x["values"][:, 1:], x["r"], x["d"], x["c"][:, :-1])
    ref_qv = jax.vmap(rlax.general_off_policy_returns_from_q_and_v)(
        x["v"][:, :-1], x["values"][:, 1:], x["r"], x["d"], x["c"][:, :-1])
    np.testing.assert_allclose(ours_qv, ref_qv, **TOL)


def test_time_major_vmap_equals_batch_major():
    x = _data(5)
    bm = jax.vmap(ops.lambda_returns)(x["r"], x["d"], x["v"], x["lam"])
    tm = jax.vmap(ops.lambda_returns, in_axes=1, out_axes=1)(
        x["r"].T, x["d"].T, x["v"].T, x["lam"].T)
    np.testing.assert_array_equal(tm, bm.T)  # same arithmetic, bit for bit


# --- edge cases -----------------------------------------------------------------------


def test_edge_cases():
    r = jnp.asarray([1.0, 2.0, 3.0])
    v = jnp.asarray([10.0, 20.0, 30.0])
    ones, zeros = jnp.ones(3), jnp.zeros(3)
    # T = 1: G = r + γ v
    np.testing.assert_allclose(ops.lambda_returns(r[:1], ones[:1] * 0.5, v[:1], 0.3), [6.0])
    np.testing.assert_allclose(
        ops.truncated_generalized_advantage_estimation(r[:1], ones[:1], 0.5, v[:2]), [11.0])
    np.testing.assert_allclose(
        ops.general_off_policy_returns_from_q_and_v(jnp.zeros(0), v[:1], r[:1], ones[:1],
                                                    jnp.zeros(0)), [11.0])
    # all-terminal (discount 0): G = r, for any λ
    for lam in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(ops.lambda_returns(r, zeros, v, lam), r)
        np.testing.assert_array_equal(ops.n_step_bootstrapped_returns(r, zeros, v, 2, lam), r)
    # λ = 0: one-step targets; λ = 1: Monte-Carlo returns bootstrapped from v[-1]
    np.testing.assert_allclose(ops.lambda_returns(r, ones, v, 0.0), r + v)
    np.testing.assert_allclose(ops.lambda_returns(r, ones, v, 1.0), [36.0, 35.0, 33.0])
    np.testing.assert_allclose(ops.discounted_returns(r, ones, jnp.asarray(0.0)), [6.0, 5.0, 3.0])


@pytest.mark.parametrize("name", ["lambda_returns", "discounted_returns",
                                  "n_step_bootstrapped_returns", "truncated_gae"])
def test_stop_target_gradients(name, assert_stop_gradient):
    x = _data(6)
    r, d, v = x["r"][0], x["d"][0], x["v"][0]
    fns = {
        "lambda_returns": lambda v, s: ops.lambda_returns(r, d, v, 0.8, stop_target_gradients=s),
        "discounted_returns": lambda v, s: ops.discounted_returns(r, d, v, s),
        "n_step_bootstrapped_returns": lambda v, s: ops.n_step_bootstrapped_returns(
            r, d, v, 2, 0.8, stop_target_gradients=s),
        "truncated_gae": lambda v, s: ops.truncated_generalized_advantage_estimation(
            r, d, 0.8, jnp.concatenate([v, v[:1]]), s),
    }
    assert_stop_gradient(fns[name], v)


# --- static checks ----------------------------------------------------------------------


def test_bad_inputs_raise_naming_the_argument(wrap):
    r, d, v = jnp.ones(4), jnp.ones(4), jnp.ones(4)
    with pytest.raises(ValueError, match="`discount_t` has shape"):
        wrap(ops.lambda_returns)(r, jnp.ones(5), v)
    with pytest.raises(ValueError, match="`v_t` has rank 2"):
        wrap(ops.lambda_returns)(r, d, jnp.ones((4, 1)))
    with pytest.raises(ValueError, match="`lambda_` has shape"):
        wrap(ops.lambda_returns)(r, d, v, jnp.ones(3))
    with pytest.raises(TypeError, match="`r_t` has dtype int32"):
        wrap(ops.lambda_returns)(jnp.ones(4, jnp.int32), d, v)
    with pytest.raises(ValueError, match="`values` has shape"):
        wrap(ops.truncated_generalized_advantage_estimation)(r, d, 0.9, v)
    with pytest.raises(ValueError, match="`n` must be"):
        ops.n_step_bootstrapped_returns(r, d, v, 0)
    with pytest.raises(TypeError, match="`a_t`"):
        ops.general_off_policy_returns_from_action_values(
            jnp.ones((4, 2)), jnp.ones(4), r, d, v, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="`c_t` has shape"):
        ops.general_off_policy_returns_from_q_and_v(jnp.ones(3), v, r, d, jnp.ones(4))


# ------------------------------------------ empty trajectories (T = 0): the fuzzer finding

_f = lambda *shape: jnp.zeros(shape, jnp.float32)
_i = lambda *shape: jnp.zeros(shape, jnp.int32)

# Every returns operator that indexed ``v_t[-1]`` (or ``r_t[-1]``) and raised IndexError on
# T = 0, and the value-learning losses built on them. Inputs: ``t`` transitions, A = 3 actions.
EMPTY_CASES = {
    "lambda_returns": lambda t: ops.lambda_returns(_f(t), _f(t), _f(t), 0.9),
    "discounted_returns": lambda t: ops.discounted_returns(_f(t), _f(t), _f(t)),
    "discounted_returns(scalar v_t)": lambda t: ops.discounted_returns(_f(t), _f(t), _f()),
    "n_step_bootstrapped_returns": lambda t: ops.n_step_bootstrapped_returns(
        _f(t), _f(t), _f(t), 3),
    "general_off_policy_returns_from_action_values": lambda t: (
        ops.general_off_policy_returns_from_action_values(
            _f(t, A), _i(t), _f(t), _f(t), _f(t), _f(t, A))),
    "importance_corrected_td_errors": lambda t: ops.importance_corrected_td_errors(
        _f(t), _f(t), _f(t), 0.9, _f(t + 1)),
    "truncation_aware_lambda_returns": lambda t: ops.truncation_aware_lambda_returns(
        _f(t), _f(t), _f(t), _f(t), 0.9),
    "truncation_aware_n_step_returns": lambda t: ops.truncation_aware_n_step_returns(
        _f(t), _f(t), _f(t), _f(t), 3),
    "td_lambda": lambda t: ops.td_lambda(_f(t), _f(t), _f(t), _f(t), 0.9),
    "q_lambda": lambda t: ops.q_lambda(_f(t, A), _i(t), _f(t), _f(t), _f(t, A), 0.9),
    "sarsa_lambda": lambda t: ops.sarsa_lambda(
        _f(t, A), _i(t), _f(t), _f(t), _f(t, A), _i(t), 0.9),
    "truncation_aware_q_lambda": lambda t: ops.truncation_aware_q_lambda(
        _f(t, A), _i(t), _f(t), _f(t), _f(t, A), _f(t), 0.9),
    "transformed_q_lambda": lambda t: ops.transformed_q_lambda(
        _f(t, A), _i(t), _f(t), _f(t), _f(t, A), 0.9),
    "retrace": lambda t: ops.retrace(
        _f(t, A), _f(t, A), _i(t), _i(t), _f(t), _f(t), _f(t, A), _f(t), 0.9),
}


@pytest.mark.parametrize("name", list(EMPTY_CASES))
def test_empty_trajectory_gives_an_empty_result(name):
    out = EMPTY_CASES[name](0)
    assert out.shape == (0,)
    assert out.dtype == jnp.float32
    jitted = jax.jit(lambda: EMPTY_CASES[name](0))()
    assert jitted.shape == (0,)
    assert EMPTY_CASES[name](2).shape == (2,)  # the same call with T = 2 still works


def test_empty_trajectory_with_q_and_v_names_r_t():
    with pytest.raises(ValueError, match=r"`r_t` has shape \(0,\), expected at least one"):
        ops.general_off_policy_returns_from_q_and_v(_f(0), _f(0), _f(0), _f(0), _f(0))


def test_one_step_trajectory_bootstraps_from_its_value():
    """T = 1 (the smallest non-empty case, next to T = 0): G_0 = r + γ v by hand."""
    r, d, v = jnp.array([0.5]), jnp.array([0.9]), jnp.array([2.0])
    np.testing.assert_allclose(ops.lambda_returns(r, d, v, 0.3), [0.5 + 0.9 * 2.0], rtol=1e-6)
    np.testing.assert_allclose(ops.discounted_returns(r, d, v), [2.3], rtol=1e-6)
    np.testing.assert_allclose(ops.n_step_bootstrapped_returns(r, d, v, 4), [2.3], rtol=1e-6)
