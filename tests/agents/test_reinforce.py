"""REINFORCE: Monte-Carlo returns against NumPy (with and without baseline), learning.

The contract (determinism, seeds, chunks, CLI) is in test_contract.py.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env import _core
from jit_env.agents import train
from jit_env.agents.reinforce import REINFORCEConfig, make_reinforce

TINY = REINFORCEConfig(num_envs=4, num_steps=16, total_steps=4 * 16 * 3, hidden_sizes=(16,))
FIRST, MID = int(_core.StepType.FIRST), int(_core.StepType.MID)


def np_returns(r, d, end, trunc, v_next, gamma, baseline):
    """Return-to-go per stream; with a baseline, bootstrap at truncations and at the
    window end; without one, 0 there and a mask of the transitions whose episode ends."""
    t_len, b_len = r.shape
    g, complete = np.zeros_like(r), np.zeros_like(r)
    for b in range(b_len):
        acc, done = 0.0, False
        for t in reversed(range(t_len)):
            if end[t, b] or t == t_len - 1:
                boot = v_next[t, b] if baseline and (trunc[t, b] or not end[t, b]) else 0.0
                acc = boot
            done = done or end[t, b]
            acc = r[t, b] + gamma * d[t, b] * acc
            g[t, b], complete[t, b] = acc, float(done)
    return g, complete


@pytest.mark.parametrize("baseline", [True, False])
def test_loss_matches_numpy_monte_carlo_returns(baseline, hand_made_trajectory, cartpole_env_spec,
                                                  network_outputs):
    config = dataclasses.replace(TINY, hidden_sizes=(8,), ent_coef=0.01, baseline=baseline)
    traj, data = hand_made_trajectory(np.random.default_rng(0))
    agent = make_reinforce(config, cartpole_env_spec)
    state = agent.init(jax.random.PRNGKey(3))
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(0))

    logits, v, v_next = network_outputs(config, state.params, data)
    g, complete = np_returns(data["r"], data["d"], data["end"], data["trunc"], v_next,
                             config.gamma, baseline)
    w = np.ones_like(g) if baseline else complete
    if not baseline:
        # env 0: transitions 0-1 end by termination; env 1: 0-3 by truncation.
        np.testing.assert_array_equal(complete, [[1, 1], [1, 1], [0, 1], [0, 1], [0, 0], [0, 0]])
    adv = g - v if baseline else g
    n = w.sum()
    mean = (adv * w).sum() / n
    adv = (adv - mean) / (np.sqrt((((adv - mean) ** 2) * w).sum() / n) + 1e-8)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_pi = np.take_along_axis(log_p, data["actions"][..., None], -1)[..., 0]
    entropy = (-(np.exp(log_p) * log_p).sum(-1) * w).sum() / n
    value_loss = ((g - v) ** 2).mean() if baseline else 0.0
    # float32 network and scans vs float64 NumPy over 12 terms.
    np.testing.assert_allclose(metrics["policy_loss"], -(log_pi * adv * w).sum() / n,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["value_loss"], value_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["entropy"], entropy, rtol=1e-5)
    np.testing.assert_allclose(metrics["complete_fraction"], w.mean(), rtol=1e-6)


def test_no_baseline_leaves_the_critic_untouched(hand_made_trajectory, cartpole_env_spec):
    cfg = dataclasses.replace(TINY, baseline=False)
    agent = make_reinforce(cfg, cartpole_env_spec)
    state = agent.init(jax.random.PRNGKey(0))
    traj, _ = hand_made_trajectory(np.random.default_rng(1))
    new, _ = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(0))
    critic = lambda s: jax.tree.leaves(s.params["params"]["critic"])
    actor = lambda s: jax.tree.leaves(s.params["params"]["actor"])
    for a, b in zip(critic(state), critic(new)):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(actor(state), actor(new)))


@pytest.mark.learning
def test_reinforce_learns_cartpole():
    cfg = REINFORCEConfig(num_envs=4, total_steps=60_000)
    _, metrics = jax.jit(lambda k: train(cfg, k, make_reinforce))(jax.random.PRNGKey(0))
    final = np.nanmean(np.asarray(metrics["episode_return"])[-5:])
    # A uniformly random policy averages about 22 on CartPole-v1.
    assert final > 100.0, final
