"""Off-PAC (`jit_env.agents.offpac`): its loss against a NumPy computation on a hand-built
batch, the reduction of its errors to `jit_env.ops`, the behaviour refresh, the config
checks, and a short learning run.

Tolerances: float32 sums over at most 10 terms of magnitude ≲ 10, so ``rtol=1e-5`` with
``atol=1e-5``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import ops
from jit_env.agents import OffPACConfig, make_trainer
from jit_env.agents.offpac import make_offpac, offpac_errors, offpac_loss

N, T, A = 2, 5, 3


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, T, A)).astype(np.float32)
    values = rng.normal(size=(N, T)).astype(np.float32)
    bootstrap = rng.normal(size=(N, T)).astype(np.float32)
    batch = {
        "action": rng.integers(0, A, size=(N, T)).astype(np.int32),
        "r_t": rng.normal(size=(N, T)).astype(np.float32),
        "discount_t": np.ones((N, T), np.float32),
        "end_t": np.zeros((N, T), bool),
        "valid": np.ones((N, T), bool),
        "log_mu": np.log(rng.uniform(0.1, 0.9, size=(N, T))).astype(np.float32),
    }
    batch["discount_t"][0, 2] = 0.0  # a termination ...
    batch["end_t"][0, 2] = True  # ... ends the episode: the trace stops there
    batch["end_t"][1, 3] = True  # a time-limit truncation (discount 1) also stops it
    batch["valid"][1, 0] = False  # an ignored step takes no part in the means
    return logits, values, bootstrap, batch


def _np_loss(config, logits, values, bootstrap, batch):
    """Off-PAC's loss by explicit loops (the module docstring's equations)."""
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    errors = np.zeros((N, T))
    for n in range(N):
        lp = np.array([logp[n, t, batch["action"][n, t]] for t in range(T)])
        rho = np.exp(lp - batch["log_mu"][n])
        rho_bar = rho if config.rho_clip is None else np.minimum(rho, config.rho_clip)
        c = config.trace_lambda * (rho if config.trace_clip is None
                                   else np.minimum(rho, config.trace_clip))
        acc = 0.0
        for t in reversed(range(T)):
            g = config.gamma * batch["discount_t"][n, t]
            delta = batch["r_t"][n, t] + g * bootstrap[n, t] - values[n, t]
            c_next = 0.0 if (t == T - 1 or batch["end_t"][n, t]) else c[t + 1]
            acc = delta + g * c_next * acc
            errors[n, t] = rho_bar[t] * acc
    w = batch["valid"].astype(np.float64)
    k = w.sum()
    lp_a = np.take_along_axis(logp, batch["action"][..., None], -1)[..., 0]
    policy = -(errors * lp_a * w).sum() / k
    value = (errors ** 2 * w).sum() / k
    entropy = (-(np.exp(logp) * logp).sum(-1) * w).sum() / k
    loss = policy + config.vf_coef * value - config.ent_coef * entropy
    return loss, policy, value, entropy, errors


@pytest.mark.parametrize("clips", [(1.0, 1.0), (None, None), (2.0, 0.5)])
def test_loss_matches_numpy_on_a_hand_built_batch(clips):
    config = OffPACConfig(gamma=0.9, trace_lambda=0.8, vf_coef=0.5, ent_coef=0.01,
                          rho_clip=clips[0], trace_clip=clips[1])
    logits, values, bootstrap, batch = _batch()
    loss, metrics = jax.jit(lambda *a: offpac_loss(config, *a))(
        logits, values, bootstrap, batch)
    want, policy, value, entropy, _ = _np_loss(config, logits, values, bootstrap, batch)
    np.testing.assert_allclose(loss, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(metrics["policy_loss"], policy, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(metrics["value_loss"], value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(metrics["entropy"], entropy, rtol=1e-5, atol=1e-5)


def test_clipping_changes_the_loss():
    """The hand-built batch has ratios above 1, so the clips are not idle."""
    logits, values, bootstrap, batch = _batch()
    clipped = offpac_loss(OffPACConfig(), logits, values, bootstrap, batch)[0]
    free = offpac_loss(OffPACConfig(rho_clip=None, trace_clip=None), logits, values,
                       bootstrap, batch)[0]
    assert abs(float(clipped) - float(free)) > 1e-3


def test_loss_gradients_are_the_off_policy_actor_and_critic_updates():
    """d/dv = −2 vf_coef e w / n; d/dlogits = −(e w / n)(onehot(a) − π) with ent_coef 0."""
    config = OffPACConfig(gamma=0.9, trace_lambda=0.8, ent_coef=0.0)
    logits, values, bootstrap, batch = _batch(1)
    _, _, _, _, errors = _np_loss(config, logits, values, bootstrap, batch)
    w = batch["valid"].astype(np.float64)
    k = w.sum()
    g_logits, g_values = jax.grad(lambda lg, v: offpac_loss(config, lg, v, bootstrap, batch)[0],
                                  argnums=(0, 1))(logits, values)
    np.testing.assert_allclose(g_values, -2 * config.vf_coef * errors * w / k, atol=1e-6)
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    onehot = np.eye(A)[batch["action"]]
    np.testing.assert_allclose(g_logits, -(errors * w / k)[..., None] * (onehot - pi),
                               atol=1e-6)
    # The bootstrap values are targets only.
    g_boot = jax.grad(lambda b: offpac_loss(config, logits, values, b, batch)[0])(bootstrap)
    np.testing.assert_array_equal(g_boot, 0.0)


def test_errors_are_rlax_importance_corrected_td_errors_on_a_continuous_segment():
    """Unclipped, no episode end, bootstrap = next step's value: rlax's operator."""
    rng = np.random.default_rng(3)
    v = rng.normal(size=T + 1).astype(np.float32)
    r, d = rng.normal(size=T).astype(np.float32), np.full(T, 0.95, np.float32)
    log_pi = np.log(rng.uniform(0.1, 0.9, T)).astype(np.float32)
    log_mu = np.log(rng.uniform(0.1, 0.9, T)).astype(np.float32)
    ours = offpac_errors(log_pi, log_mu, v[:-1], r, d, v[1:], np.zeros(T, bool),
                         trace_lambda=0.7, rho_clip=None, trace_clip=None)
    want = ops.importance_corrected_td_errors(r, d, np.exp(log_pi - log_mu), 0.7, v)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-6)
    # On-policy (ρ = 1) they are the λ-return errors.
    on = offpac_errors(log_pi, log_pi, v[:-1], r, d, v[1:], np.zeros(T, bool),
                       trace_lambda=0.7, rho_clip=1.0, trace_clip=1.0)
    np.testing.assert_allclose(on, ops.lambda_returns(r, d, v[1:], 0.7) - v[:-1],
                               rtol=1e-5, atol=1e-6)


def test_errors_reject_mismatched_shapes():
    x = jnp.zeros(T)
    with pytest.raises(ValueError, match="one shape"):
        offpac_errors(x, x, x, x, x, jnp.zeros(T + 1), jnp.zeros(T, bool), trace_lambda=1.0,
                      rho_clip=1.0, trace_clip=1.0)


def test_behaviour_copies_the_learner_every_sync_updates():
    config = OffPACConfig(num_envs=2, num_steps=4, total_steps=2 * 4 * 6, buffer_size=8,
                          batch_size=2, behaviour_sync=3, hidden_sizes=(8,))
    trainer = make_trainer(config, make_offpac)
    state = trainer.init(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    lagged = state.agent_state.params  # the behaviour copy expected before the next refresh
    for k in range(1, 7):
        state, metrics = update(state)
        agent = state.agent_state
        same = jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)),
                                            agent.params, agent.extra.behaviour_params))
        if k % 3 == 0:
            assert all(same), k
            lagged = agent.params
        else:
            assert not all(same), k  # the learner moved on, the behaviour did not
            jax.tree.map(np.testing.assert_array_equal, agent.extra.behaviour_params, lagged)
        assert metrics["learning"] == 1.0  # 2 segments per rollout = batch_size
        assert int(agent.extra.replay.size) == min(2 * k, 8)
    assert int(state.agent_state.step) == 6 * config.gradient_steps


def test_config_problems_name_the_fields():
    with pytest.raises(ValueError, match="invalid OffPACConfig") as err:
        OffPACConfig(buffer_size=0, batch_size=4, behaviour_sync=0, trace_lambda=1.5,
                     rho_clip=0.0, normalize_advantages=True).validate()
    for name in ("buffer_size", "behaviour_sync", "trace_lambda", "rho_clip",
                 "normalize_advantages"):
        assert f"`{name}`" in str(err.value)
    with pytest.raises(ValueError, match="`batch_size`=32 exceeds `buffer_size`=16"):
        OffPACConfig(buffer_size=16, batch_size=32).validate()


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_learns_cartpole_in_a_short_run():
    """60 updates of 16 × 32 steps: a uniformly random policy lasts ~22 steps on
    CartPole-v1; this seed's training episodes average ≥ 60 over the last 5 updates."""
    config = dataclasses.replace(OffPACConfig(), total_steps=16 * 32 * 60)
    from jit_env.agents import train

    _, metrics = jax.jit(lambda k: train(config, k))(jax.random.PRNGKey(0))
    late = float(np.nanmean(np.asarray(metrics["episode_return"])[-5:]))
    assert late >= 60.0, late
