"""IMPALA: V-trace loss against NumPy on off-policy data, behaviour lag, learning.

The contract (determinism, seeds, chunks, CLI) is in test_contract.py.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env import _core
from jit_env.agents import train
from jit_env.agents.impala import IMPALAConfig, make_impala

TINY = IMPALAConfig(num_envs=4, num_steps=9, total_steps=4 * 9 * 4, hidden_sizes=(16,),
                    behaviour_lag=2)
FIRST, MID = int(_core.StepType.FIRST), int(_core.StepType.MID)


def np_vtrace(v, v_next, r, d, rho, trunc, rho_bar, pg_rho_bar):
    """V-trace (Espeholt et al. 2018, eq. 1, λ = 1) per stream, trace cut at truncations."""
    t_len, b_len = r.shape
    vs, pg_adv = np.zeros_like(r), np.zeros_like(r)
    for b in range(b_len):
        acc = 0.0
        for t in reversed(range(t_len)):
            cont = 0.0 if (t == t_len - 1 or trunc[t, b]) else 1.0
            delta = r[t, b] + d[t, b] * v_next[t, b] - v[t, b]
            acc = min(rho_bar, rho[t, b]) * delta + d[t, b] * min(1.0, rho[t, b]) * cont * acc
            vs[t, b] = v[t, b] + acc
        for t in range(t_len):
            nxt = vs[t + 1, b] if (t < t_len - 1 and not trunc[t, b]) else v_next[t, b]
            pg_adv[t, b] = min(pg_rho_bar, rho[t, b]) * (r[t, b] + d[t, b] * nxt - v[t, b])
    return vs, pg_adv


def test_loss_matches_numpy_vtrace_on_off_policy_data(hand_made_trajectory, cartpole_env_spec,
                                                      network_outputs):
    config = dataclasses.replace(TINY, hidden_sizes=(8,), ent_coef=0.01,
                                 clip_rho_threshold=1.2, clip_pg_rho_threshold=0.9)
    traj, data = hand_made_trajectory(np.random.default_rng(0), reward_range=(-1.0, 1.0))
    agent = make_impala(config, cartpole_env_spec)
    state = agent.init(jax.random.PRNGKey(3))
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(0))

    logits, v, v_next = network_outputs(config, state.params, data)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_pi = np.take_along_axis(log_p, data["actions"][..., None], -1)[..., 0]
    rho = np.exp(log_pi - data["log_mu"])
    assert (rho > 1.2).any()
    assert (rho < 0.9).any()  # genuinely off-policy, both clips active
    vs, pg_adv = np_vtrace(v, v_next, data["r"], config.gamma * data["d"], rho, data["trunc"],
                           1.2, 0.9)
    entropy = -(np.exp(log_p) * log_p).sum(-1).mean()
    # float32 network and scans vs float64 NumPy over 12 terms.
    np.testing.assert_allclose(metrics["policy_loss"], -(log_pi * pg_adv).mean(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(metrics["value_loss"], ((vs - v) ** 2).mean(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(metrics["entropy"], entropy, rtol=1e-5)
    np.testing.assert_allclose(metrics["rho_mean"], rho.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["rho_clipped"], (rho > 1.2).mean(), rtol=1e-6)


def test_behaviour_params_lag_and_are_used_for_acting(hand_made_trajectory, cartpole_env_spec):
    agent = make_impala(dataclasses.replace(TINY, behaviour_lag=3), cartpole_env_spec)
    state = agent.init(jax.random.PRNGKey(0))
    traj, _ = hand_made_trajectory(np.random.default_rng(1))
    update = jax.jit(agent.update)
    initial = expected = state.params
    for k in range(1, 8):
        state, _ = update(state, traj, jax.random.PRNGKey(k))
        if k % 3 == 0:
            expected = state.params  # refreshed after every third update
        for a, b in zip(jax.tree.leaves(agent.act_params(state)), jax.tree.leaves(expected)):
            np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(state.params), jax.tree.leaves(initial)))


@pytest.mark.parametrize(("lag", "off_policy"), [(1, False), (3, True)])
def test_lag_makes_training_data_off_policy(lag, off_policy):
    cfg = dataclasses.replace(TINY, behaviour_lag=lag, total_steps=4 * 9 * 6)
    _, metrics = jax.jit(lambda k: train(cfg, k, make_impala))(jax.random.PRNGKey(0))
    rho_clipped = np.asarray(metrics["rho_clipped"])
    if off_policy:
        # updates right after a refresh are on-policy; the others are not.
        assert rho_clipped[0] == 0.0
        assert rho_clipped[1] > 0.0
        assert rho_clipped[3] == 0.0
    else:
        np.testing.assert_allclose(metrics["rho_mean"], 1.0, rtol=1e-6)  # π = μ exactly
        assert (rho_clipped == 0.0).all()


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
@pytest.mark.learning
def test_impala_learns_catch():
    cfg = IMPALAConfig(num_envs=16, total_steps=100_000)
    _, metrics = jax.jit(lambda k: train(cfg, k, make_impala))(jax.random.PRNGKey(0))
    final = np.nanmean(np.asarray(metrics["episode_return"])[-20:])
    # A uniformly random policy averages about -0.6 on Catch (catches 1 ball in 5).
    assert final > 0.5, final
