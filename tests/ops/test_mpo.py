"""Tests for jit_env.ops MPO / V-MPO losses, against rlax 0.1.9 and their laws."""

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

B, S, E, A = 2, 4, 5, 3  # outer batch, samples, examples, action dims


def _data(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    return {
        "log_probs": f(B, S, E), "q": f(B, S, E) * 3, "kl": jnp.abs(f(B, E)), "kl_dim": jnp.abs(f(B, E, A)),
        "adv": f(B, E) * 2, "lp": f(B, E),
        "restart": jnp.asarray(rng.choice([0.0, 1.0], (B, E), p=[0.2, 0.8]), jnp.float32),
        "iw": jnp.asarray(rng.uniform(0.5, 1.5, (B, E)), jnp.float32),
    }


_ARGS = ("log_probs", "q", "kl", "kl_dim", "adv", "lp", "restart", "iw")


def _all(m, stop=True):
    def f(log_probs, q, kl, kl_dim, adv, lp, restart, iw):
        temp = m.LagrangePenalty(jnp.float32(1.5), jnp.float32(0.1))
        kls = [(kl, m.LagrangePenalty(jnp.float32(0.7), jnp.float32(0.01))),
               (kl_dim, m.LagrangePenalty(jnp.full((A,), 0.3), jnp.float32(0.02), True))]
        mpo = m.mpo_loss(log_probs, q, temp, kls, use_stop_gradient=stop)
        mpo_t = m.mpo_loss(log_probs.T, q.T, temp, kls, sample_axis=1,
                           use_stop_gradient=stop)
        vmpo = m.vmpo_loss(lp, adv, temp, kls, restarting_weights=restart,
                           importance_weights=iw, top_k_fraction=0.6, use_stop_gradient=stop)
        vmpo_all = m.vmpo_loss(lp, adv, temp, kls[:1], top_k_fraction=1.0,
                               use_stop_gradient=stop)
        proj = lambda x: jnp.clip(x, min=1e-10)
        return {
            "mpo": (mpo[0], tuple(mpo[1][:-1])), "mpo_t": (mpo_t[0], tuple(mpo_t[1][:-1])),
            "vmpo": (vmpo[0], tuple(vmpo[1])), "vmpo_all": (vmpo_all[0], tuple(vmpo_all[1])),
            "weights": m.mpo_compute_weights_and_temperature_loss(q, temp, proj)[:2],
            "vweights": m.vmpo_compute_weights_and_temperature_loss(
                adv, restart, iw, temp, proj, 0.5),
            "kl_pen": m.compute_parametric_kl_penalty_and_dual_loss(kls, proj),
        }

    return f


@functools.cache
def _reference():
    # computed once per module (not per variant), compiled as one program.
    args = [_data()[k] for k in _ARGS]
    with jax.numpy_rank_promotion("allow"):  # rlax multiplies alpha [A] by kl [E, A]
        return jax.jit(jax.vmap(_all(rlax)))(*args)


def test_matches_rlax(variant):
    d = _data()
    args = [d[k] for k in _ARGS]
    ours = variant(_all(ops), *args)
    ref = _reference()
    # logsumexp / sums over ≤ 5 float32 values, scaled by ≤ 5: a few ulp of values ~10.
    jax.tree.map(lambda a, r: np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5), ours, ref)
    assert jax.tree.structure(ours) == jax.tree.structure(ref)


def test_vmpo_axis_name_matches_rlax():
    d = _data(1)
    temp = (jnp.float32(1.0), jnp.float32(0.1))

    def f(m):
        def g(lp, adv, kl, restart):
            kls = [(kl, m.LagrangePenalty(jnp.float32(0.5), jnp.float32(0.01)))]
            loss, out = m.vmpo_loss(lp, adv, m.LagrangePenalty(*temp), kls,
                                    restarting_weights=restart, top_k_fraction=0.5,
                                    axis_name="i")
            return loss, out.normalized_weights, out.temperature_loss
        return jax.vmap(g, axis_name="i")

    args = (d["lp"], d["adv"], d["kl"], d["restart"])
    ours, ref = f(ops)(*args), f(rlax)(*args)
    jax.tree.map(lambda a, r: np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-6), ours, ref)
    # weights are normalised over all replicas together.
    np.testing.assert_allclose(jnp.sum(ours[1]), 1.0, rtol=1e-5)


def _grads(m, stop):
    def f(q, kl, adv, lp, log_probs):
        temp = m.LagrangePenalty(jnp.float32(1.0), jnp.float32(0.1))
        kls = lambda k: [(k, m.LagrangePenalty(jnp.float32(0.5), jnp.float32(0.01)))]
        return {
            "mpo_policy_wrt_q": jax.grad(lambda q: jnp.sum(m.mpo_loss(
                log_probs, q, temp, kls(kl), use_stop_gradient=stop)[1].policy_loss))(q),
            "alpha_wrt_kl": jax.grad(lambda k: jnp.sum(m.mpo_loss(
                log_probs, q, temp, kls(k), use_stop_gradient=stop)[1].alpha_loss))(kl),
            "vmpo_policy_wrt_adv": jax.grad(lambda a: jnp.sum(m.vmpo_loss(
                lp, a, temp, kls(kl), use_stop_gradient=stop)[1].policy_loss))(adv),
        }

    return jax.jit(f)


@pytest.mark.parametrize("stop", [True, False])
def test_use_stop_gradient(stop):
    d = {k: v[0] for k, v in _data(2).items()}
    args = (d["q"], d["kl"], d["adv"], d["lp"], d["log_probs"])
    ours, ref = _grads(ops, stop)(*args), _grads(rlax, stop)(*args)
    for k in ours:
        if stop:
            np.testing.assert_array_equal(ours[k], np.zeros_like(ours[k]), err_msg=k)
        else:
            assert float(jnp.max(jnp.abs(ours[k]))) > 1e-4, k
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)


@jax.jit
def _weights(q, adv, restart):
    temp = ops.LagrangePenalty(jnp.float32(0.7), jnp.float32(0.1))
    proj = lambda x: jnp.clip(x, min=1e-10)
    w = ops.mpo_compute_weights_and_temperature_loss(q, temp, proj, sample_axis=0)[1]
    vmpo_weights = lambda r: ops.vmpo_compute_weights_and_temperature_loss(
        adv, r, jnp.ones_like(adv), temp, proj, 0.5)[1]
    return w, vmpo_weights(jnp.ones_like(adv)), vmpo_weights(restart)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_weights_are_distributions(seed):
    d = _data(seed)
    restart = d["restart"][0].at[0].set(1.0)  # at least one valid example
    w, vw, vw_restart = _weights(d["q"][0] * 10, d["adv"][0] * 10, restart)
    # softmax normalisation in float32 over ≤ 5 terms: sums to 1 within a few ulp. (With
    # restarting steps the max is taken over their zeroed advantages too, so the kept
    # weights can be ~e^-40 and the 1e-10 added to the sum shows: that case is not a law.)
    np.testing.assert_allclose(jnp.sum(w, axis=0), np.ones(E), rtol=1e-5)
    np.testing.assert_allclose(jnp.sum(vw), 1.0, rtol=1e-5)
    assert bool(jnp.all(w >= 0))
    assert bool(jnp.all(vw >= 0))
    np.testing.assert_array_equal(vw_restart[restart == 0], 0.0)  # restarts get no weight
    assert int(jnp.sum(vw > 0)) <= E // 2 + 1  # top-k keeps half (ties aside)


def test_bad_inputs_raise_naming_the_argument(wrap):
    temp = ops.LagrangePenalty(jnp.float32(1.0), jnp.float32(0.1))
    z = jnp.zeros((S, E))
    with pytest.raises(ValueError, match="`sample_log_probs` has shape \\(4, 4\\)"):
        wrap(lambda a, b: ops.mpo_loss(a, b, temp, []))(jnp.zeros((S, S)), z)
    with pytest.raises(ValueError, match="`sample_axis` 2"):
        wrap(lambda a, b: ops.mpo_loss(a, b, temp, [], sample_axis=2))(z, z)
    with pytest.raises(ValueError, match="temperature_constraint.epsilon"):
        wrap(lambda a, b: ops.mpo_loss(a, b, ops.LagrangePenalty(1.0, jnp.zeros(2)), []))(z, z)
    with pytest.raises(ValueError, match="kl_constraints\\[0\\]"):
        wrap(lambda a, b: ops.mpo_loss(
            a, b, temp, [(jnp.zeros(3), ops.LagrangePenalty(1.0, 0.1))]))(z, z)
    with pytest.raises(TypeError, match="`advantages`"):
        wrap(lambda a: ops.vmpo_loss(jnp.zeros(E), a, temp, []))(jnp.zeros(E, jnp.int32))
    with pytest.raises(ValueError, match="`restarting_weights`"):
        wrap(lambda r: ops.vmpo_loss(jnp.zeros(E), jnp.zeros(E), temp, [],
                                     restarting_weights=r))(jnp.ones(3))
    with pytest.raises(ValueError, match="top_k_fraction"):
        wrap(lambda a: ops.vmpo_loss(a, a, temp, [], top_k_fraction=0.0))(jnp.zeros(E))
