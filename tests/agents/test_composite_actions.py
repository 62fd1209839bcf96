"""The on-policy agents on composite actions (`ChooseAndAim-v0`) and masked actions (`MaskedMaze-v0`)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import agents, specs
from jit_env.agents import (
    A2CConfig,
    PPOConfig,
    RecurrentPPOConfig,
    REINFORCEConfig,
    make_a2c,
    make_action_head,
    make_ppo,
    make_recurrent_ppo,
    make_reinforce,
)
from jit_env.rollout import rollout

SMALL = {"num_envs": 4, "num_steps": 8, "total_steps": 4 * 8 * 2, "hidden_sizes": (16,)}
# Each agent compiles a whole training run (20-40 s on a shared CPU): PPO runs by default,
# the others are slow tests.
NAMES = [pytest.param(n, marks=() if n == "ppo" else pytest.mark.slow)
         for n in ("a2c", "ppo", "recurrent_ppo", "reinforce")]
AGENTS = {
    "ppo": (PPOConfig(update_epochs=1, num_minibatches=2, **SMALL), make_ppo),
    "recurrent_ppo": (RecurrentPPOConfig(update_epochs=1, num_minibatches=2, rnn_size=8,
                                         head_sizes=(8,), **SMALL), make_recurrent_ppo),
    "a2c": (A2CConfig(**SMALL), make_a2c),
    "reinforce": (REINFORCEConfig(**SMALL), make_reinforce),
}


def _rollout(name: str, env: str, **overrides):
    config, factory = AGENTS[name]
    config = dataclasses.replace(config, env=env, **overrides).validate()
    trainer = agents.make_trainer(config, factory)
    state = trainer.init(jax.random.PRNGKey(0))
    state, metrics = jax.jit(lambda s: trainer.run(s, config.num_updates))(state)
    return trainer, state, metrics


@pytest.mark.parametrize("name", NAMES)
def test_agents_train_on_a_composite_action(name):
    trainer, state, metrics = _rollout(name, "ChooseAndAim-v0")
    assert all(np.all(np.isfinite(np.asarray(v))) for k, v in metrics.items()
               if k in ("loss", "entropy"))
    ts = state.timestep
    params = trainer.agent.act_params(state.agent_state) if trainer.agent.act_params else (
        state.agent_state.params)
    policy_state = (trainer.agent.initial_policy_state((4,))
                    if trainer.agent.initial_policy_state else None)
    action, _, extras = trainer.agent.act(params, ts, policy_state, jax.random.PRNGKey(1))
    assert set(action) == {"aim", "choice"}
    assert action["choice"].shape == (4,)
    assert action["choice"].dtype == jnp.int32
    assert action["aim"].shape == (4, 1)
    assert action["aim"].dtype == jnp.float32
    assert extras["log_prob"].shape == (4,)
    greedy, _, _ = trainer.agent.act_greedy(params, ts, policy_state, jax.random.PRNGKey(2))
    assert float(jnp.max(jnp.abs(greedy["aim"]))) <= 1.0  # the mode is clipped to the bounds


@pytest.mark.slow  # each agent compiles a training run; the default run has the test below
@pytest.mark.parametrize("name", sorted(AGENTS))
def test_masked_moves_are_never_taken(name):
    # Every illegal move would end an episode with reward -1 (Pgx's rule): none may.
    _, _, metrics = _rollout(name, "MaskedMaze-v0", num_steps=32, total_steps=4 * 32 * 2)
    assert np.nanmin(np.asarray(metrics["episode_return_min"])) >= 0.0
    assert int(np.sum(metrics["episodes"])) > 0


def test_masked_actions_are_never_chosen_by_act_on_random_states():
    config, factory = AGENTS["ppo"]
    config = dataclasses.replace(config, env="MaskedMaze-v0").validate()
    trainer = agents.make_trainer(config, factory)
    params = trainer.init(jax.random.PRNGKey(0)).agent_state.params
    env = trainer.env
    _, ts = jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(3), 4))
    mask = np.asarray(ts.observation["action_mask"])
    for seed in range(5):
        action, _, _ = trainer.agent.act(params, ts, None, jax.random.PRNGKey(seed))
        assert np.all(mask[np.arange(4), np.asarray(action)])
    greedy, _, _ = trainer.agent.act_greedy(params, ts, None, None)
    assert np.all(mask[np.arange(4), np.asarray(greedy)])


@pytest.mark.slow
def test_a2c_general_loss_equals_the_softmax_loss_on_a_scalar_action():
    # The general (any head) path of the actor-critic loss, forced on CartPole's scalar
    # action by wrapping it in a 1-leaf Tuple, gives the rlax-loss path's numbers.
    config = dataclasses.replace(AGENTS["a2c"][0], env="CartPole-v1")
    trainer = agents.make_trainer(config, make_a2c)
    tuple_spec = trainer.env_spec._replace(actions=specs.Tuple(trainer.env_spec.actions))
    wrapped = make_a2c(config, tuple_spec)
    state = trainer.init(jax.random.PRNGKey(0))
    _, traj = rollout(trainer.env, trainer.agent.act, state.agent_state.params,
                      state.env_state, state.timestep, jax.random.PRNGKey(1), 8)
    assert not make_action_head(tuple_spec.actions).plain_softmax
    _, m_plain = trainer.agent.update(state.agent_state, traj, jax.random.PRNGKey(2))
    traj_t = dataclasses.replace(traj, actions=(traj.actions,))
    _, m_tuple = wrapped.update(state.agent_state, traj_t, jax.random.PRNGKey(2))
    for k in ("policy_loss", "entropy", "value_loss", "loss"):
        np.testing.assert_allclose(m_tuple[k], m_plain[k], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ learning --

OPTIMAL_MAZE_LENGTH = 97 / 17  # mean BFS distance to the goal over the 17 start cells


@pytest.mark.slow
@pytest.mark.learning
def test_ppo_learns_the_masked_maze():
    config = PPOConfig(env="MaskedMaze-v0", total_steps=50_000).validate()
    _, metrics = jax.jit(lambda k: agents.train(config, k))(jax.random.PRNGKey(0))
    tail = slice(-5, None)
    assert np.nanmean(np.asarray(metrics["episode_return"])[tail]) >= 0.95
    assert np.nanmin(np.asarray(metrics["episode_return_min"])) >= 0.0  # no illegal move, ever
    # A masked random walk times out (50 steps) in about half the episodes (the first
    # updates return ~0.46); PPO's paths end near the shortest (5.71 steps on average).
    assert np.nanmean(np.asarray(metrics["episode_length"])[tail]) <= OPTIMAL_MAZE_LENGTH + 1.0


@pytest.mark.slow
@pytest.mark.learning
def test_ppo_learns_choose_and_aim():
    config = PPOConfig(env="ChooseAndAim-v0", total_steps=100_000, learning_rate=1e-3,
                       ent_coef=0.0).validate()
    state, metrics = jax.jit(lambda k: agents.train(config, k))(jax.random.PRNGKey(0))
    assert np.nanmean(np.asarray(metrics["episode_return"])[:5]) < 0.0  # it starts bad
    assert np.nanmean(np.asarray(metrics["episode_return"])[-5:]) >= 0.75
    agent = agents.make_trainer(config, make_ppo).agent
    greedy = jax.jit(lambda k: agents.evaluate_policy(
        config, agent, state.agent_state, state.env_state, k, episodes=100, policy="greedy")[0]
    )(jax.random.PRNGKey(1))
    assert float(np.mean(greedy)) >= 0.9  # right category and an aim within ~0.1
