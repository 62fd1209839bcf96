"""Continuous PPO: defaults, clipping when stepping, unclipped log-probs, learning.

The contract (determinism, seeds, chunks, the CLI on a normalised run) is in
test_contract.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import wrappers
from jit_env.agents import make_ppo, make_single_env, make_trainer, train
from jit_env.agents.networks import ActorCritic
from jit_env.agents.ppo import ContinuousPPOConfig, PPOConfig

TINY = ContinuousPPOConfig(num_envs=2, num_steps=32, total_steps=2 * 32 * 2, update_epochs=2,
                           num_minibatches=4, hidden_sizes=(16,))


def test_defaults_are_cleanrl_continuous_and_validate():
    cfg = ContinuousPPOConfig().validate()
    assert isinstance(cfg, PPOConfig)
    assert (cfg.env, cfg.num_envs, cfg.num_steps) == ("Pendulum-v1", 1, 2048)
    assert (cfg.update_epochs, cfg.num_minibatches, cfg.learning_rate) == (10, 32, 3e-4)
    assert (cfg.gamma, cfg.gae_lambda, cfg.clip_eps, cfg.ent_coef) == (0.99, 0.95, 0.2, 0.0)
    assert cfg.normalize_observations
    assert cfg.normalize_rewards


def test_action_is_clipped_when_stepping_but_log_prob_is_of_the_sample(monkeypatch):
    trainer = make_trainer(TINY, make_ppo)
    state = trainer.init(jax.random.PRNGKey(0))
    params = state.agent_state.params
    # A wide policy (std e^3 ≈ 20) so that most samples leave Pendulum's [-2, 2].
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.full_like(x, 3.0) if "log_std" in jax.tree_util.keystr(path) else x,
        params,
    )
    action, _, extras = trainer.agent.act(params, state.timestep, None, jax.random.PRNGKey(1))
    action = np.asarray(action)
    assert action.shape == (TINY.num_envs, 1)
    assert np.abs(action).max() > 2.0
    # log N(a; mean, 20²) of the unclipped sample, from an independent NumPy formula.
    (mu, log_std), _ = ActorCritic(1, True, TINY.hidden_sizes).apply(
        params, state.timestep.observation
    )
    std = np.exp(np.asarray(log_std))
    expected = (-0.5 * ((action - np.asarray(mu)) / std) ** 2 - np.log(std)
                - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(extras["log_prob"], expected, rtol=1e-5)  # float32 sums
    # The environment steps with the clipped action: the action that reaches the
    # unwrapped Pendulum under the training stack's `ClipAction` is clip(a, -2, 2).
    # (Pendulum also clips its torque internally, so we spy on the inner step.)
    single = make_single_env("Pendulum-v1")
    assert isinstance(single, wrappers.ClipAction)
    seen = []
    inner_step = single.env.step

    def spy(s, a):
        seen.append(np.asarray(a))
        return inner_step(s, a)

    monkeypatch.setattr(single.env, "step", spy)
    s0, _ = single.reset(jax.random.PRNGKey(2))
    single.step(s0, jnp.asarray(action[np.argmax(np.abs(action[:, 0]))]))
    np.testing.assert_array_equal(seen[0], np.clip(action[np.argmax(np.abs(action[:, 0]))], -2, 2))
    assert np.abs(seen[0]).max() == 2.0


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
@pytest.mark.learning
def test_ppo_learns_pendulum_quickly():
    # CleanRL's defaults, cut to 98 updates (201k steps; the default run is 1M).
    cfg = ContinuousPPOConfig(total_steps=2048 * 98)
    _, metrics = jax.jit(lambda k: train(cfg, k, make_ppo))(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    first, final = np.nanmean(returns[:5]), np.nanmean(returns[-5:])
    # A random policy averages about -1200 on Pendulum-v1; the full run ends near -155.
    assert first < -900.0, returns
    assert final > -500.0, returns
