"""The algorithm registry and ``--algo``: every registered agent loads, validates and acts."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env import cli
from jit_env.agents import TrainingConfig, make_trainer
from jit_env.agents.algorithms import ALGORITHMS, get_algorithm

NAMES = sorted(ALGORITHMS)


@pytest.mark.parametrize("name", NAMES)
def test_registered_algorithm_loads_with_docstrings(name):
    config_cls, factory = get_algorithm(name).load()
    assert issubclass(config_cls, TrainingConfig)
    assert dataclasses.is_dataclass(config_cls)
    assert config_cls.__doc__ and "Attributes:" in (config_cls.__doc__ + "".join(
        c.__doc__ or "" for c in config_cls.__mro__[1:]))
    assert factory.__doc__ and "Raises:" in factory.__doc__
    config_cls().validate()


@pytest.mark.parametrize("name", NAMES)
def test_default_agent_acts_on_its_default_environment(name):
    config_cls, factory = get_algorithm(name).load()
    small = {"num_envs": 4}
    if "num_minibatches" in {f.name for f in dataclasses.fields(config_cls)}:
        small["num_minibatches"] = 2
    config = dataclasses.replace(config_cls(), **small)
    trainer = make_trainer(config, factory)
    state = trainer.init(jax.random.PRNGKey(0))
    params = trainer.agent.act_params(state.agent_state)
    action, _, _ = trainer.agent.act(params, state.timestep, state.policy_state,
                                     jax.random.PRNGKey(1))
    spec = trainer.env_spec.actions
    assert np.asarray(action).shape == (4, *spec.shape)
    assert np.asarray(action).dtype == spec.dtype


def test_unknown_algorithm_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown algorithm 'sarsa'; known: "):
        get_algorithm("sarsa")


def test_cli_unknown_algo_is_a_one_line_error(capsys):
    assert cli.main(["train", "--algo", "sarsa"]) == 2
    err = capsys.readouterr().err
    assert "unknown --algo 'sarsa'" in err and "ppo" in err


@pytest.mark.parametrize("name", NAMES)
def test_cli_help_lists_the_algorithms_own_flags(name, capsys):
    config_cls, _ = get_algorithm(name).load()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--algo", name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    own = [f.name for f in dataclasses.fields(config_cls)
           if f.name not in {g.name for g in dataclasses.fields(TrainingConfig)}]
    for field in own:
        assert "--" + field.replace("_", "-") in out, field


def test_cli_list_shows_every_algorithm(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"  {name} " in out


def test_evaluate_policy_vmaps_over_seeds_and_counts_whole_episodes():
    from jit_env.agents import PPOConfig, make_ppo
    from jit_env.agents.training_session import evaluate_policy

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
    assert (lengths >= 1).all() and (lengths <= 500).all()
    for i in range(2):
        single = jax.tree.map(lambda x: x[i], (states.agent_state, states.env_state))
        r, n = jax.jit(play)(*single, keys[i])
        np.testing.assert_array_equal(n, lengths[i])
