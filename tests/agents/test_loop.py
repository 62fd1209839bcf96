"""The pure training loop's pieces: the training stack, agents' state, evaluation.

`jit_env.agents._loop`; the training runs themselves are checked per algorithm by
test_contract.py.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jit_env import specs, wrappers
from jit_env.agents import (
    PPOConfig,
    evaluate_policy,
    make_evaluation_env,
    make_ppo,
    make_trainer,
    make_training_env,
)
from jit_env.cli import ALGORITHMS


def test_training_env_is_a_fixed_batch_of_num_envs():
    env, single = make_training_env("CartPole-v1", 3, normalize_observations=True,
                                    normalize_rewards=True)
    assert isinstance(env, wrappers.NormalizeObservation)
    assert isinstance(env.env, wrappers.NormalizeReward)
    assert isinstance(env.env.env, wrappers.EpisodeStatistics)
    spec = env.env.env.observation_spec()
    assert isinstance(spec, specs.Batched)
    assert spec.num == 3
    assert spec.spec == single.observation_spec()
    key = jax.random.PRNGKey(0)
    _, ts = env.reset(key)  # one key is split into num_envs
    assert ts.observation.shape == (3, 4)
    assert ts.reward.shape == (3,)
    _, ts_keys = env.reset(jax.random.split(key, 3))
    np.testing.assert_array_equal(ts.observation, ts_keys.observation)
    with pytest.raises(ValueError, match="holds 2 keys, expected num=3"):
        env.reset(jax.random.split(key, 2))


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_agent_state_extra_is_a_named_tuple_or_none(name):
    algorithm = ALGORITHMS[name]
    config = algorithm.config(num_envs=4)
    trainer = make_trainer(config, algorithm.factory)
    # Shapes only: nothing is computed.
    state = jax.eval_shape(trainer.agent.init, jax.random.PRNGKey(0))
    extra = state.extra
    assert extra is None or (isinstance(extra, tuple) and hasattr(extra, "_fields")), extra


def test_evaluation_env_freezes_the_training_statistics():
    config = PPOConfig(normalize_observations=True)
    with pytest.raises(ValueError, match="`env_state`"):
        make_evaluation_env(config)
    assert not isinstance(make_evaluation_env(PPOConfig()), wrappers.NormalizeObservation)


def test_evaluate_policy_vmaps_over_seeds_and_counts_whole_episodes():
    config = PPOConfig(num_envs=2, num_steps=8, total_steps=16, hidden_sizes=(8,),
                       num_minibatches=2)
    trainer = make_trainer(config, make_ppo)
    states = jax.vmap(trainer.init)(jax.random.split(jax.random.PRNGKey(0), 2))
    keys = jax.random.split(jax.random.PRNGKey(1), 2)
    play = lambda a, e, k: evaluate_policy(config, trainer.agent, a, e, k, episodes=3)
    returns, lengths = jax.jit(jax.vmap(play))(states.agent_state, states.env_state, keys)
    assert returns.shape == lengths.shape == (2, 3)
    # CartPole pays 1 per step, so an episode's return is its length.
    np.testing.assert_array_equal(returns, lengths.astype(np.float32))
    assert (lengths >= 1).all()
    assert (lengths <= 500).all()
    for i in range(2):
        single = jax.tree.map(lambda x, i=i: x[i], (states.agent_state, states.env_state))
        r, n = jax.jit(play)(*single, keys[i])
        np.testing.assert_array_equal(n, lengths[i])


def test_agents_never_import_the_command_line():
    # DESIGN.md's layers: jit_env.agents (5) sits below jit_env.cli (6).
    import ast
    from pathlib import Path

    import jit_env.agents

    imported = set()
    for path in Path(jit_env.agents.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert "jit_env.agents.ppo" in imported  # the walk sees the package's imports
    assert not {m for m in imported if m == "jit_env.cli" or m.startswith("jit_env.cli.")}
