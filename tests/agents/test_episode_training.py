"""REINFORCE, A2C (and IMPALA) trained on whole episodes (``rollout="episodes"``, rlx's rollout unit).

One update of `make_trainer` is the agent's update on `jit_env.rollout.episodes`
with the documented keys; padding after an episode's end changes nothing; the
episode metrics are the sums over the validity mask; config and CLI flags.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import rollout as rl
from jit_env.agents import make_trainer
from jit_env.agents._loop import make_single_env
from jit_env.agents.a2c import A2CConfig, make_a2c
from jit_env.agents.impala import IMPALAConfig, make_impala
from jit_env.agents.reinforce import REINFORCEConfig, make_reinforce

HORIZON = 60  # CartPole-v1 episodes of a random policy end after ~10-60 steps
CASES = [
    (REINFORCEConfig(rollout="episodes", horizon=HORIZON, num_envs=4,
                     total_steps=4 * HORIZON * 2, hidden_sizes=(16,)), make_reinforce),
    (A2CConfig(rollout="episodes", horizon=HORIZON, num_envs=4, total_steps=4 * HORIZON * 2,
               hidden_sizes=(16,)), make_a2c),
    # IMPALA (V-trace, lagged behaviour parameters) shares the config fields; Catch: 9 steps
    pytest.param(IMPALAConfig(rollout="episodes", horizon=HORIZON, num_envs=4,
                              total_steps=4 * HORIZON * 2, hidden_sizes=(16,)), make_impala,
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("cls", [REINFORCEConfig, A2CConfig])
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rollout": "episode"}, "`rollout` must be one of \\['steps', 'episodes'\\], got 'episode'"),
        ({"rollout": "episodes", "horizon": 0}, "`horizon` must be positive, got 0"),
        ({"rollout": "episodes", "normalize_observations": True},
         "`normalize_observations` is not supported with `rollout`='episodes'"),
        ({"rollout": "episodes", "horizon": 500, "num_envs": 8, "total_steps": 3999},
         "`total_steps`=3999 is less than one update \\(num_envs \\* num_steps = 4000\\)"),
    ],
)
def test_config_validation_names_the_field(cls, overrides, message):
    with pytest.raises(ValueError, match=f"invalid {cls.__name__}: .*{message}"):
        cls(**overrides).validate()


def test_steps_per_update_counts_the_padded_horizon():
    config = A2CConfig(rollout="episodes", horizon=200, num_envs=3, num_steps=5)
    assert config.steps_per_update == 600
    assert dataclasses.replace(config, rollout="steps").steps_per_update == 15


@pytest.mark.parametrize(("config", "factory"), CASES, ids=["reinforce", "a2c", "impala"])
def test_one_update_is_the_agents_update_on_episodes(config, factory):
    trainer = make_trainer(config, factory)
    state = trainer.init(jax.random.PRNGKey(0))
    new_state, metrics = jax.jit(trainer.update)(state)
    # the documented key split of an update, then episodes of the unbatched env
    key, rollout_key, update_key = jax.random.split(state.key, 3)
    agent = trainer.agent
    traj = rl.episodes(make_single_env(config.env), agent.act, agent.act_params(state.agent_state),
                       rollout_key, HORIZON, num_episodes=config.num_envs)
    agent_update = jax.jit(agent.update)
    expected, _ = agent_update(state.agent_state, traj, update_key)
    # One program vs two: float32 rounding of the gradient differs slightly, and Adam's
    # first step lr * g / (|g| + eps) amplifies it where |g| is near eps: atol = 1e-4 lr.
    for x, y in zip(jax.tree.leaves(new_state.agent_state.params), jax.tree.leaves(expected.params)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-4 * config.learning_rate)
    np.testing.assert_array_equal(new_state.key, key)
    # metrics: sums over the mask, each episode's rewards from its reset to its LAST
    valid = np.asarray(traj.transitions().valid)
    lengths = valid.sum(0)
    assert lengths.min() > 0
    assert lengths.max() < HORIZON  # every episode ended and was padded
    reward = np.asarray(traj.timesteps.reward)
    returns = np.array([reward[1 : n + 1, b].sum() for b, n in enumerate(lengths)])
    assert int(metrics["valid_steps"]) == lengths.sum()
    assert int(metrics["episodes"]) == config.num_envs
    np.testing.assert_allclose(metrics["episode_length"], lengths.mean())
    np.testing.assert_allclose(metrics["episode_return"], returns.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["episode_return_min"], returns.min())

    # Padding changes nothing: overwrite every TimeStep after the LAST one, and the
    # padded actions, with garbage; the update is the same.
    t = np.arange(HORIZON + 1)[:, None]
    after = t > lengths[None, :]
    noise = jax.random.normal(jax.random.PRNGKey(1), traj.timesteps.observation.shape)
    garbage = dataclasses.replace(
        traj,
        timesteps=traj.timesteps.replace(
            observation=jnp.where(after.reshape(after.shape + (1,) * (noise.ndim - 2)), noise,
                                  traj.timesteps.observation),
            reward=jnp.where(after, 7.0, traj.timesteps.reward)),
        actions=jnp.where(~valid, 1 - traj.actions, traj.actions),
    )
    other, _ = agent_update(state.agent_state, garbage, update_key)
    for x, y in zip(jax.tree.leaves(other.params), jax.tree.leaves(expected.params)):
        np.testing.assert_array_equal(x, y)  # the same program on the same valid data


def test_episodes_refuse_a_mesh():
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match="`mesh` is not supported with `rollout`='episodes'"):
        make_trainer(REINFORCEConfig(rollout="episodes"), make_reinforce, mesh=mesh)


def test_cli_flags_select_episodes():
    import tyro

    from jit_env.cli._main import train_command

    for algo in ("reinforce", "a2c"):
        args = tyro.cli(train_command(algo),
                        args=["--rollout", "episodes", "--horizon", "500", "--num-envs", "5"])
        assert (args.config.rollout, args.config.horizon) == ("episodes", 500)
        assert args.config.steps_per_update == 2500
