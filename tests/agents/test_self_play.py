"""Self-play PPO on Slime Volleyball: the champion is swapped inside the compiled program
exactly when the pooled score clears the margin, and evaluation scores are whole games."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.agents import PPOConfig, self_play

CONFIG = PPOConfig(env="SlimeVolley-v0", num_envs=2, num_steps=64, total_steps=2 * 64 * 4,
                   num_minibatches=2, update_epochs=1)


def _leaves_equal(a, b) -> bool:
    return all(bool(jnp.array_equal(x, y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
def test_champion_swap_follows_the_pool_and_margin():
    key = jax.random.key(0)
    always = self_play.make_self_play_trainer(CONFIG, margin=-10.0, window_episodes=1)
    never = self_play.make_self_play_trainer(CONFIG, margin=10.0, window_episodes=1)
    for trainer, promotes in ((always, True), (never, False)):
        state = trainer.init(key)
        initial = state.train.agent_state.params
        champion0 = self_play._opponent_params(state.train.env_state)
        assert _leaves_equal(jax.tree.map(lambda x: x[1], champion0), initial)  # generation 0
        step = jax.jit(trainer.update)
        checks = 0
        for _ in range(12):  # episodes of random play end after ~500 steps: several finish
            state, metrics = step(state)
            checks += int(np.isfinite(metrics["pool_mean_return"]))
            champion = self_play._opponent_params(state.train.env_state)
            expected = state.train.agent_state.params if (
                promotes and np.isfinite(metrics["pool_mean_return"])) else None
            if expected is not None:
                assert _leaves_equal(jax.tree.map(lambda x: x[0], champion), expected)
        assert checks > 0
        assert int(state.generation) == (checks if promotes else 0)
        if not promotes:
            assert _leaves_equal(jax.tree.map(lambda x: x[0], champion), initial)


@pytest.mark.slow
def test_evaluate_vs_baseline_scores_are_whole_games():
    trainer = self_play.make_self_play_trainer(CONFIG)
    state = trainer.init(jax.random.key(1))
    scores = jax.jit(lambda s, k: self_play.evaluate_vs_baseline(
        CONFIG, trainer.agent, s, k, episodes=8))(state.train.agent_state, jax.random.key(2))
    scores = np.asarray(scores)
    assert scores.shape == (8,)
    assert np.all(scores == np.round(scores))
    assert np.all(np.abs(scores) <= 5)


def test_self_play_config_errors():
    with pytest.raises(ValueError, match="SlimeVolley-v0"):
        self_play.make_self_play_trainer(PPOConfig(env="CartPole-v1"))
    with pytest.raises(ValueError, match="window_episodes"):
        self_play.make_self_play_trainer(CONFIG, window_episodes=0)
