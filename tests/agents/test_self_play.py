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
            checks += int(metrics["champion_check"])
            champion = self_play._opponent_params(state.train.env_state)
            expected = state.train.agent_state.params if (
                promotes and int(metrics["champion_check"])) else None
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


def test_champion_check_by_hand():
    """Three updates of two games, window 3, margin 0.5, worked out by hand."""
    check = jax.jit(lambda r, n, ret, done: self_play.champion_check(
        r, n, ret, done, margin=0.5, window_episodes=3))
    # Update 1: one episode ends with +2 (game 0, step 1); game 1's running return of
    # +4 is not finished and must not count. Pool: 2 over 1 episode, not full.
    ret = np.array([[0.0, 1.0], [2.0, 4.0]], np.float32)
    done = np.array([[False, False], [True, False]])
    out = check(jnp.float32(0), jnp.int32(0), ret, done)
    assert not bool(out.checked)
    assert not bool(out.promote)
    assert float(out.pool_return) == 2.0
    assert int(out.pool_episodes) == 1
    # Update 2: episodes of -1 and 0 finish: pool (2 - 1 + 0) / 3 = 0.333 <= 0.5, no swap.
    ret = np.array([[-1.0, 0.0], [3.0, 3.0]], np.float32)
    done = np.array([[True, True], [False, False]])
    out = check(out.pool_return, out.pool_episodes, ret, done)
    assert bool(out.checked)
    assert not bool(out.promote)
    np.testing.assert_allclose(float(out.mean), 1.0 / 3.0, rtol=1e-6)
    assert float(out.pool_return) == 0.0
    assert int(out.pool_episodes) == 0
    # Update 3: four episodes finish (the window is overshot; all count): 1, 1, 0, 1 ->
    # mean 0.75 > 0.5, promote.
    ret = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    done = np.ones((2, 2), bool)
    out = check(out.pool_return, out.pool_episodes, ret, done)
    assert bool(out.checked)
    assert bool(out.promote)
    assert float(out.mean) == 0.75
    # Exactly at the margin is not above it (slimevolleygym: best_mean_reward > threshold).
    out = check(jnp.float32(0), jnp.int32(0), np.array([1.0, 0.0, 0.5], np.float32),
                np.ones(3, bool))
    assert float(out.mean) == 0.5
    assert not bool(out.promote)
    with pytest.raises(ValueError, match="same shape"):
        self_play.champion_check(0.0, 0, np.zeros(3), np.zeros(2, bool), margin=0.5,
                                 window_episodes=3)


def test_select_champion_swaps_every_leaf_or_none():
    learner = {"w": jnp.ones((2, 3)), "b": jnp.full((2,), 2.0)}
    champion = {"w": jnp.zeros((2, 3)), "b": jnp.full((2,), -1.0)}
    assert _leaves_equal(self_play.select_champion(jnp.bool_(True), learner, champion), learner)
    assert _leaves_equal(self_play.select_champion(jnp.bool_(False), learner, champion),
                         champion)


class _SideAgent:
    """An agent stand-in: forward (action 1) if its own x is positive, else backward (5)."""

    @staticmethod
    def act(params, timestep, policy_state, key):
        del params, key
        return jnp.where(timestep.observation[0] > 0, 1, 5), policy_state, {}


def test_champion_plays_the_left_agent_from_its_mirrored_view():
    """The champion is fed the left agent's own (x-mirrored) observation, in which its x is
    positive (slimevolleygym ``updateState``: ``x * dir``, ``dir = -1``): the stand-in moves
    forward, i.e. towards the net (x rises from -12 by 17.5 / 30 per frame), and would run
    to the wall on the unmirrored view (x = -12 < 0)."""
    from jit_env import wrappers
    from jit_env.envs import slime

    opponent = self_play.champion_opponent(_SideAgent(), None)
    env = wrappers.FixedOpponent(slime.SlimeVolley(), opponent, agent=1)
    state, ts = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    for _ in range(5):
        state, ts = step(state, jnp.int32(0))
    x_left = float(state.inner.game.agents[0, 0])
    np.testing.assert_allclose(x_left, -12.0 + 5 * 17.5 / 30.0, rtol=1e-5)
    # The learner (right) stood still: NOOP.
    assert float(state.inner.game.agents[1, 0]) == 12.0
