"""Tests for the truncation-aware returns of jit_env.ops (beyond rlax).

References: a NumPy loop over the episodes (segments cut after each truncated step), and
rlax 0.1.9 for the laws that hold when nothing is truncated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import ops

B, T, A = 2, 8, 3
LAM = 0.8
# float32 recursions of <= 8 steps on O(1) values vs float64 NumPy / rlax float32 with a
# different evaluation order: a few ulps of the largest partial sum.
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _data(seed, t=T, b=B):
    rng = np.random.default_rng(seed)
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    d = rng.uniform(0.5, 1.0, (b, t)) * (rng.uniform(size=(b, t)) > 0.15)  # some terminals
    trunc = rng.uniform(size=(b, t)) < 0.3
    trunc[0, min(2, t - 1)] = True
    return {
        "r": f32(rng.normal(size=(b, t))), "d": f32(d), "v_tm1": f32(rng.normal(size=(b, t))),
        "v_t": f32(rng.normal(size=(b, t))), "trunc": jnp.asarray(trunc),
        "lam": f32(rng.uniform(size=(b, t))), "rho": f32(np.exp(rng.normal(size=(b, t)))),
        "q_tm1": f32(rng.normal(size=(b, t, A))), "q_t": f32(rng.normal(size=(b, t, A))),
        "a_tm1": jnp.asarray(rng.integers(0, A, (b, t)), jnp.int32),
        "a_t": jnp.asarray(rng.integers(0, A, (b, t)), jnp.int32),
        "pi": jax.nn.softmax(f32(rng.normal(size=(b, t, A)))),
        "mu": f32(rng.uniform(0.1, 1.0, (b, t))),
    }


# --- NumPy loop over episodes -------------------------------------------------------


def _segments(trunc):
    cuts = [t + 1 for t in range(len(trunc) - 1) if trunc[t]]
    starts = [0, *cuts]
    return list(zip(starts, [*cuts, len(trunc)]))


def _per_episode(fn, trunc, *arrays):
    arrays = [np.asarray(a, np.float64) for a in arrays]
    out = np.empty(len(trunc))
    for s, e in _segments(np.asarray(trunc)):
        out[s:e] = fn(*(a[s:e] for a in arrays))
    return out


def _np_gae(r, d, v_tm1, v_t, lam):
    out, acc = np.empty(len(r)), 0.0
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * v_t[t] - v_tm1[t] + d[t] * lam[t] * acc
        out[t] = acc
    return out


def _np_lambda_returns(r, d, v, lam):
    out, acc = np.empty(len(r)), v[-1]
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * ((1 - lam[t]) * v[t] + lam[t] * acc)
        out[t] = acc
    return out


def _np_n_step(n):
    def fn(r, d, v, lam):
        out = np.empty(len(r))
        for t in range(len(r)):
            end = min(t + n, len(r))
            g = v[end - 1]
            for k in reversed(range(t, end)):
                g = r[k] + d[k] * ((1 - lam[k]) * v[k] + lam[k] * g)
            out[t] = g
        return out

    return fn


def _np_vtrace(r, d, v_tm1, v_t, rho, lam):
    """Columns: errors, pg_advantage, q_estimate (clip thresholds 1.0 and 0.9)."""
    k = len(r)
    err, acc = np.empty(k), 0.0
    for t in reversed(range(k)):
        acc = min(1.0, rho[t]) * (r[t] + d[t] * v_t[t] - v_tm1[t]) + d[t] * lam[t] * min(
            1.0, rho[t]) * acc
        err[t] = acc
    boot = np.append(v_tm1[1:] + lam[:-1] * err[1:], v_t[-1])
    q_est = r + d * boot
    return np.stack([err, np.minimum(0.9, rho) * (q_est - v_tm1), q_est])


def _np_retrace(q_tm1_a, q_t_a, exp_q_t, r, d, pi_a, mu):
    c = np.minimum(1.0, pi_a / (mu + 1e-8)) * LAM
    out, acc = np.empty(len(r)), r[-1] + d[-1] * exp_q_t[-1]
    out[-1] = acc
    for t in reversed(range(len(r) - 1)):
        acc = r[t] + d[t] * (exp_q_t[t] - c[t] * q_t_a[t] + c[t] * acc)
        out[t] = acc
    return out - q_tm1_a


def _take(q, a):
    return np.take_along_axis(np.asarray(q), np.asarray(a)[..., None], -1)[..., 0]


# --- values against the per-episode loop ---------------------------------------------


def test_gae_and_lambda_returns(variant):
    x = _data(0)
    args = (x["r"], x["d"], x["v_tm1"], x["v_t"], x["trunc"], x["lam"])
    adv = variant(ops.generalized_advantage_estimation, *args)
    ret = variant(ops.truncation_aware_lambda_returns,
                  x["r"], x["d"], x["v_t"], x["trunc"], x["lam"])
    for i in range(B):
        row = [np.asarray(a[i]) for a in args]
        tr = row.pop(4)
        np.testing.assert_allclose(adv[i], _per_episode(_np_gae, tr, *row), **TOL)
        np.testing.assert_allclose(
            ret[i], _per_episode(_np_lambda_returns, tr, row[0], row[1], row[3], row[4]), **TOL)


@pytest.mark.parametrize("n", [1, 3])
def test_n_step_returns(variant, n):
    x = _data(1)
    fn = lambda r, d, v, tr, lam: ops.truncation_aware_n_step_returns(
        r, d, v, tr, n, lam)
    out = variant(fn, x["r"], x["d"], x["v_t"], x["trunc"], x["lam"])
    for i in range(B):
        ref = _per_episode(_np_n_step(n), x["trunc"][i], x["r"][i], x["d"][i], x["v_t"][i],
                           x["lam"][i])
        np.testing.assert_allclose(out[i], ref, **TOL)


def test_vtrace(variant):
    x = _data(2)

    def fn(v_tm1, v_t, r, d, rho, tr, lam):
        return ops.truncation_aware_vtrace_td_error_and_advantage(
            v_tm1, v_t, r, d, rho, tr, lam, clip_pg_rho_threshold=0.9)

    out = variant(fn, x["v_tm1"], x["v_t"], x["r"], x["d"], x["rho"], x["trunc"], x["lam"])
    errs = variant(ops.truncation_aware_vtrace, x["v_tm1"], x["v_t"], x["r"], x["d"],
                   x["rho"], x["trunc"], x["lam"])
    np.testing.assert_array_equal(errs, out.errors)
    for i in range(B):
        arrays = [np.asarray(x[k][i], np.float64)
                  for k in ("r", "d", "v_tm1", "v_t", "rho", "lam")]
        ref = np.concatenate(
            [_np_vtrace(*(a[s:e] for a in arrays)) for s, e in _segments(x["trunc"][i])],
            axis=1)
        for j, field in enumerate(out):
            np.testing.assert_allclose(field[i], ref[j], **TOL)


def test_q_lambda_and_retrace(variant):
    x = _data(3)
    ql = variant(lambda *a: ops.truncation_aware_q_lambda(*a, LAM),
                 x["q_tm1"], x["a_tm1"], x["r"], x["d"], x["q_t"], x["trunc"])
    rt = variant(lambda *a: ops.truncation_aware_retrace(*a, LAM),
                 x["q_tm1"], x["q_t"], x["a_tm1"], x["a_t"], x["r"], x["d"], x["pi"],
                 x["mu"], x["trunc"])
    q_tm1_a, q_t_a = _take(x["q_tm1"], x["a_tm1"]), _take(x["q_t"], x["a_t"])
    exp_q = np.sum(np.asarray(x["pi"], np.float64) * np.asarray(x["q_t"]), -1)
    pi_a = _take(x["pi"], x["a_t"])
    lam = np.full((T,), LAM)
    for i in range(B):
        ref_ql = _per_episode(_np_lambda_returns, x["trunc"][i], x["r"][i], x["d"][i],
                              np.max(np.asarray(x["q_t"][i]), -1), lam) - q_tm1_a[i]
        np.testing.assert_allclose(ql[i], ref_ql, **TOL)
        ref_rt = _per_episode(_np_retrace, x["trunc"][i], q_tm1_a[i], q_t_a[i], exp_q[i],
                              x["r"][i], x["d"][i], pi_a[i], x["mu"][i])
        np.testing.assert_allclose(rt[i], ref_rt, **TOL)


def test_time_major_vmap_and_bool_or_float_truncation():
    x = _data(4)
    args = (x["r"], x["d"], x["v_tm1"], x["v_t"])
    bm = jax.vmap(ops.generalized_advantage_estimation)(*args, x["trunc"])
    tm = jax.vmap(ops.generalized_advantage_estimation, in_axes=1, out_axes=1)(
        *(a.T for a in args), x["trunc"].T.astype(jnp.float32))
    np.testing.assert_array_equal(tm, bm.T)


# --- laws (hypothesis) --------------------------------------------------------------

_gae = jax.jit(jax.vmap(ops.generalized_advantage_estimation, in_axes=(0, 0, 0, 0, 0, None)))
_ret = jax.jit(jax.vmap(ops.truncation_aware_lambda_returns, in_axes=(0, 0, 0, 0, None)))
_rlax_gae = jax.jit(jax.vmap(rlax.truncated_generalized_advantage_estimation,
                             in_axes=(0, 0, None, 0)))
_rlax_ret = jax.jit(jax.vmap(rlax.lambda_returns, in_axes=(0, 0, 0, None)))
_vt = jax.jit(jax.vmap(ops.truncation_aware_vtrace_td_error_and_advantage,
                       in_axes=(0, 0, 0, 0, 0, 0, None)))
_rlax_vt = jax.jit(jax.vmap(rlax.vtrace_td_error_and_advantage, in_axes=(0, 0, 0, 0, 0, None)))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 0.6, 1.0]))
def test_law_no_truncation_equals_rlax(seed, lam):
    x = _data(seed, t=5, b=3)  # one shape: compiled once (T = 1 is covered by edge tests)
    values = jnp.concatenate([x["v_tm1"], x["v_t"][:, -1:]], axis=1)  # v_t[k] = v_tm1[k+1]
    v_t = values[:, 1:]
    zeros = jnp.zeros_like(x["r"])
    adv = _gae(x["r"], x["d"], x["v_tm1"], v_t, zeros, lam)
    np.testing.assert_allclose(adv, _rlax_gae(x["r"], x["d"], lam, values), **TOL)
    ret = _ret(x["r"], x["d"], v_t, zeros, lam)
    np.testing.assert_allclose(ret, _rlax_ret(x["r"], x["d"], v_t, lam), **TOL)
    # GAE value targets are the λ-returns.
    np.testing.assert_allclose(adv + x["v_tm1"], ret, **TOL)
    ours = _vt(x["v_tm1"], x["v_t"], x["r"], x["d"], x["rho"], zeros, lam)
    ref = _rlax_vt(x["v_tm1"], x["v_t"], x["r"], x["d"], x["rho"], lam)
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(o, r, **TOL)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 0.9, 1.0]))
def test_law_truncation_splits_episodes(seed, lam):
    x = _data(seed, b=1)
    adv = _gae(x["r"], x["d"], x["v_tm1"], x["v_t"], x["trunc"], lam)[0]
    ret = _ret(x["r"], x["d"], x["v_t"], x["trunc"], lam)[0]
    lam_v = np.full((T,), lam)
    row = [x[k][0] for k in ("r", "d", "v_tm1", "v_t")]
    np.testing.assert_allclose(adv, _per_episode(_np_gae, x["trunc"][0], *row, lam_v), **TOL)
    np.testing.assert_allclose(
        ret, _per_episode(_np_lambda_returns, x["trunc"][0], row[0], row[1], row[3], lam_v),
        **TOL)
    # The last step's truncation flag never matters.
    flipped = x["trunc"].at[:, -1].set(~x["trunc"][:, -1])
    np.testing.assert_array_equal(
        _gae(x["r"], x["d"], x["v_tm1"], x["v_t"], flipped, lam)[0], adv)


# --- gradients and static checks ----------------------------------------------------


def test_stop_target_gradients(assert_stop_gradient):
    # n-step and Q(λ) share `maybe_stop_gradient` with the λ-returns (checked here) and
    # are checked against rlax's gradients-free values above.
    x = _data(5)
    r, d, v_tm1, v_t, tr = (x[k][0] for k in ("r", "d", "v_tm1", "v_t", "trunc"))
    rho = x["rho"][0]
    cases = {
        "gae": lambda v, s: ops.generalized_advantage_estimation(r, d, v_tm1, v, tr, 0.9, s),
        "lambda": lambda v, s: ops.truncation_aware_lambda_returns(r, d, v, tr, 0.9, s),
        "vtrace": lambda v, s: ops.truncation_aware_vtrace(
            v_tm1, v, r, d, rho, tr, stop_target_gradients=s),
        "retrace": lambda v, s: ops.truncation_aware_retrace(
            x["q_tm1"][0], v[:, None] * x["q_t"][0], x["a_tm1"][0], x["a_t"][0], r, d,
            x["pi"][0], x["mu"][0], tr, 0.9, stop_target_gradients=s),
    }
    for name, fn in cases.items():
        assert_stop_gradient(fn, v_t, err_msg=name)


def test_bad_inputs_raise_naming_the_argument(wrap):
    v = jnp.ones(4)
    with pytest.raises(ValueError, match="`truncation_t` has shape"):
        wrap(ops.generalized_advantage_estimation)(v, v, v, v, jnp.zeros(5))
    with pytest.raises(ValueError, match="`v_tm1` has shape"):
        wrap(ops.generalized_advantage_estimation)(v, v, jnp.ones(3), v, v)
    with pytest.raises(TypeError, match="`v_t` has dtype int32"):
        wrap(ops.truncation_aware_lambda_returns)(v, v, jnp.ones(4, jnp.int32), v)
    with pytest.raises(ValueError, match="`truncation_t` has rank 2"):
        wrap(ops.truncation_aware_vtrace)(v, v, v, v, v, jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match="`n` must be"):
        ops.truncation_aware_n_step_returns(v, v, v, v, 0)
