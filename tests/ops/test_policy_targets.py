"""Tests for jit_env.ops policy targets, against rlax 0.1.9 (distrax distributions as input)."""

from __future__ import annotations

import functools

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, A, S = 3, 4, 6


def _outputs(m):
    def f(key, target_logits, logits):
        # distrax's log_prob of [S, *batch] samples relies on implicit rank promotion.
        with jax.numpy_rank_promotion("allow"):
            return _f(key, target_logits, logits)

    def _f(key, target_logits, logits):
        targets = m.constant_policy_targets(distrax.Categorical(target_logits), key, S, 0.5)
        zeros = m.zero_policy_targets(distrax.Categorical(target_logits), key, S)
        return {
            "actions": targets.actions,
            "weights": targets.weights,
            "zero_weights": zeros.weights,
            "loss": m.sampled_policy_distillation_loss(distrax.Categorical(logits), targets),
            "zero_loss": m.sampled_policy_distillation_loss(distrax.Categorical(logits), zeros),
        }

    return f


def _inputs():
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.PRNGKey(0), B)
    f32 = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    return keys, f32(B, 2, A), f32(B, 2, A)


@functools.cache
def _rlax_reference():
    # Computed once per module (not per variant), compiled: rlax eagerly is slow.
    return jax.jit(jax.vmap(_outputs(rlax)))(*_inputs())


def test_policy_targets_match_rlax(variant):
    ours = variant(_outputs(ops), *_inputs())
    ref = _rlax_reference()
    assert ours["actions"].shape == (B, S, 2)
    assert ours["weights"].shape == (B, S, 2)
    np.testing.assert_array_equal(ours["actions"], ref["actions"])
    np.testing.assert_array_equal(ours["zero_weights"], np.zeros((B, S, 2)))
    for k in ref:
        # identical arithmetic on the same samples; a mean of ≤ 12 log-probs: 1e-6 relative.
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert isinstance(ops.PolicyTarget(actions=1, weights=2), ops.PolicyTarget)


def test_continuous_targets_match_rlax():
    # Jitted only: distrax's MultivariateNormalDiag is slow to run op by op.
    def f(m, key, mu, sigma):
        with jax.numpy_rank_promotion("allow"):
            cont = m.constant_policy_targets(distrax.MultivariateNormalDiag(mu, sigma), key, S)
            return cont.actions, m.sampled_policy_distillation_loss(
                distrax.MultivariateNormalDiag(mu * 0.5, sigma), cont)

    args = (jax.random.PRNGKey(1), jnp.asarray([[0.5, -1.0]]), jnp.asarray([[1.0, 0.5]]))
    (a_ours, l_ours), (a_ref, l_ref) = (jax.jit(functools.partial(f, m))(*args)
                                        for m in (ops, rlax))
    assert a_ours.shape == (S, 1, 2)
    np.testing.assert_array_equal(a_ours, a_ref)
    np.testing.assert_allclose(l_ours, l_ref, rtol=1e-6)  # same arithmetic on the same samples


def test_stop_target_gradients_and_impossible_actions():
    # distrax's Categorical.log_prob relies on implicit rank promotion.
    with jax.numpy_rank_promotion("allow"):
        logits = jnp.asarray([0.0, 1.0, -jnp.inf])
        targets = ops.PolicyTarget(actions=jnp.asarray([0, 1, 2]), weights=jnp.asarray([0.5, 0.5, 0.0]))
        loss = ops.sampled_policy_distillation_loss(distrax.Categorical(logits), targets)
        assert np.isfinite(loss)  # 0 · log 0 contributes 0, not NaN
        for stop in (True, False):
            g = jax.grad(lambda w: ops.sampled_policy_distillation_loss(
                distrax.Categorical(jnp.zeros(3)), ops.PolicyTarget(actions=targets.actions,
                                                                    weights=w), stop))(
                targets.weights)
            assert np.all(np.asarray(g) == 0) == stop
        g_ref = jax.grad(lambda w: rlax.sampled_policy_distillation_loss(
            distrax.Categorical(jnp.zeros(3)), rlax.PolicyTarget(actions=targets.actions, weights=w),
            False))(targets.weights)
        np.testing.assert_allclose(g, g_ref, rtol=1e-6)


def test_bad_inputs_raise():
    dist = distrax.Categorical(jnp.zeros((2, A)))
    bad = ops.PolicyTarget(actions=jnp.zeros((S, 2), jnp.int32), weights=jnp.ones((S, 3)))
    with jax.numpy_rank_promotion("allow"), pytest.raises(ValueError,
                                                          match="policy_targets.weights"):
        ops.sampled_policy_distillation_loss(dist, bad)
    with pytest.raises(TypeError, match="num_samples"):
        ops.constant_policy_targets(dist, jax.random.PRNGKey(0), 2.0)
