"""The algorithm registry (`jit_env.cli.ALGORITHMS`) and ``--algo``: every registered
agent has documented defaults that validate, acts on its default environment, and
has its own flags."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env import cli
from jit_env.agents import TrainingConfig, make_trainer
from jit_env.cli import ALGORITHMS, get_algorithm

NAMES = sorted(ALGORITHMS)


@pytest.mark.parametrize("name", NAMES)
def test_registered_algorithm_has_docstrings_and_valid_defaults(name):
    config_cls, factory = get_algorithm(name).config, get_algorithm(name).factory
    assert issubclass(config_cls, TrainingConfig)
    assert dataclasses.is_dataclass(config_cls)
    assert config_cls.__doc__
    assert "Attributes:" in (config_cls.__doc__ + "".join(
        c.__doc__ or "" for c in config_cls.__mro__[1:]))
    assert factory.__doc__
    assert "Raises:" in factory.__doc__
    config_cls().validate()


@pytest.mark.parametrize("name", NAMES)
def test_default_agent_acts_on_its_default_environment(name):
    config_cls, factory = get_algorithm(name).config, get_algorithm(name).factory
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
    assert "unknown --algo 'sarsa'" in err
    assert "ppo" in err


@pytest.mark.parametrize("name", NAMES)
def test_cli_help_lists_the_algorithms_own_flags(name, capsys):
    config_cls = get_algorithm(name).config
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


def test_the_registry_is_a_plain_mapping_of_classes_and_factories():
    from jit_env import agents

    assert isinstance(ALGORITHMS, dict)
    assert ALGORITHMS["ppo"].config is agents.PPOConfig
    assert ALGORITHMS["ppo"].factory is agents.make_ppo
    assert ALGORITHMS["ppo_continuous"].config is agents.ContinuousPPOConfig
    for algorithm in ALGORITHMS.values():
        assert algorithm.description
        assert "\n" not in algorithm.description
