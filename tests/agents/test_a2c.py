"""A2C: config validation, n-step loss against NumPy, learning (the contract: test_contract.py)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import _core, specs
from jit_env.agents import train
from jit_env.agents.a2c import A2CConfig, make_a2c

TINY = A2CConfig(num_envs=4, num_steps=8, total_steps=4 * 8 * 3, hidden_sizes=(16,))
FIRST, MID, LAST = (int(x) for x in (_core.StepType.FIRST, _core.StepType.MID,
                                    _core.StepType.LAST))


def test_unsupported_action_spec_raises():
    env_spec = specs.EnvironmentSpec(
        observations=specs.Array((3,), jnp.float32),
        actions=specs.Array((2,), jnp.bool_),  # neither categorical nor Gaussian
        rewards=specs.Array((), jnp.float32),
        discounts=specs.BoundedArray((), jnp.float32, 0.0, 1.0),
    )
    with pytest.raises(ValueError, match=r"A2C: `action` has spec .*DiscreteArray"):
        make_a2c(TINY, env_spec)


# ------------------------------------------------------- loss against NumPy --
def np_policy_terms(logits, actions, adv, w):
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_pi_a = np.take_along_axis(log_p, actions[..., None], -1)[..., 0]
    entropy = -(np.exp(log_p) * log_p).sum(-1)
    n = w.sum()
    return -(log_pi_a * adv * w).sum() / n, (entropy * w).sum() / n, log_pi_a


def _np_n_step(r, d, ends, v_next, gamma):
    """A3C's n-step returns per stream: bootstrap at the window end and at cuts."""
    t_len = r.shape[0]
    g = np.zeros_like(r)
    for b in range(r.shape[1]):
        acc = v_next[-1, b]
        for t in reversed(range(t_len)):
            if t == t_len - 1 or ends[t, b]:
                acc = v_next[t, b]
            acc = r[t, b] + gamma * d[t, b] * acc
            g[t, b] = acc
    return g


def test_loss_matches_numpy_n_step_advantage_actor_critic(hand_made_trajectory,
                                                          cartpole_env_spec, network_outputs):
    config = dataclasses.replace(TINY, hidden_sizes=(8,), ent_coef=0.01)
    traj, data = hand_made_trajectory(np.random.default_rng(0))
    agent = make_a2c(config, cartpole_env_spec)
    state = agent.init(jax.random.PRNGKey(3))
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(0))

    logits, v, v_next = network_outputs(config, state.params, data)
    g = _np_n_step(data["r"], data["d"], data["end"], v_next, config.gamma)
    w = np.ones_like(g)
    pg, entropy, _ = np_policy_terms(logits, data["actions"], g - v, w)
    value_loss = np.mean((g - v) ** 2)
    # float32 network and scans vs float64 NumPy over ~12 terms.
    np.testing.assert_allclose(metrics["policy_loss"], pg, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["value_loss"], value_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["entropy"], entropy, rtol=1e-5)
    np.testing.assert_allclose(
        metrics["loss"], pg + config.vf_coef * value_loss - config.ent_coef * entropy,
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.learning
def test_a2c_learns_cartpole():
    cfg = A2CConfig(total_steps=200_000)  # the SB3 / rl-zoo defaults, 2/5 of the steps
    _, metrics = jax.jit(lambda k: train(cfg, k, make_a2c))(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    final = np.nanmean(returns[-500:])  # last 10 % of the 5,000 updates
    # A uniformly random policy averages about 22 on CartPole-v1.
    assert final > 100.0, final
