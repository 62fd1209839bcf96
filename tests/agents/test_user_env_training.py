"""Training on a user's own environment: ``config.env`` as ``module:attr`` with
``env_kwargs``, or ``train(config, key, env=...)`` with an `Environment` object.

The environment is `tests/envs/corridor_env.py` (the ``user_env_module``
fixture). Both ways build the same training stack, so with one key they train
bit-identically: the string is only another name for the object.
"""

from __future__ import annotations

import dataclasses
import importlib
import re

import jax
import numpy as np
import pytest

from jit_env.agents import PPOConfig, TrainingConfig, train
from jit_env.agents._config import env_kwargs

TINY = PPOConfig(num_envs=2, num_steps=8, total_steps=32, update_epochs=1, num_minibatches=1,
                 hidden_sizes=(8,), anneal_lr=False)


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_a_string_and_an_object_train_identically(user_env_module):
    by_name = dataclasses.replace(TINY, env=f"{user_env_module}:make_corridor",
                                  env_kwargs='{"size": 3, "max_steps": 6}')
    corridor = importlib.import_module(user_env_module).make_corridor(size=3, max_steps=6)
    by_object = dataclasses.replace(TINY, env="not-used-v0", eval_every=1, eval_episodes=2)
    key = jax.random.PRNGKey(0)
    state_a, metrics_a = jax.jit(lambda k: train(by_name, k))(key)
    # eval_every: evaluation plays the object too (config.env names no environment).
    state_b, metrics_b = jax.jit(lambda k: train(by_object, k, env=corridor))(key)
    for name in metrics_a:
        np.testing.assert_array_equal(metrics_a[name], metrics_b[name], err_msg=name)
    jax.tree.map(np.testing.assert_array_equal, state_a.agent_state.params,
                 state_b.agent_state.params)
    # A corridor of 3 cells pays 1 at its end and 0 otherwise: every finished episode's
    # return is 1 (termination) or 0 (truncated at 6 steps).
    returns = np.asarray(metrics_a["episode_return"])
    assert metrics_a["episodes"].sum() > 0
    assert np.all((returns >= 0) & (returns <= 1))
    assert np.all(np.isfinite(metrics_b["eval_return"]))


def test_bad_env_arguments_are_named(user_env_module):
    corridor = importlib.import_module(user_env_module).Corridor(3)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=re.escape("`config.env_kwargs` = '{\"size\": 3}' was "
                                                   "given with an Environment object")):
        train(dataclasses.replace(TINY, env_kwargs='{"size": 3}'), key, env=corridor)
    with pytest.raises(TypeError, match="`env` must be a jit_env.Environment .*got str"):
        train(TINY, key, env="CartPole-v1")
    with pytest.raises(TypeError, match=r"with keyword arguments \{'sise': 3\}"):
        train(dataclasses.replace(TINY, env=f"{user_env_module}:Corridor",
                                  env_kwargs='{"sise": 3}'), key)


@pytest.mark.parametrize(("text", "why"), [
    ("{size: 3}", "Expecting property name enclosed in double quotes"),
    ("[3]", "(a list)"),
    ("", "Expecting value"),
])
def test_env_kwargs_must_be_a_json_object(text, why):
    config = TrainingConfig(env_kwargs=text)
    with pytest.raises(ValueError, match=re.escape(why)) as info:
        config.validate()
    assert "`env_kwargs` must be a JSON object" in str(info.value)
    assert env_kwargs(TrainingConfig(env_kwargs='{"size": 3, "colour": "red"}')) == {
        "size": 3, "colour": "red"}


def test_run_fingerprints_of_runs_without_env_kwargs_are_unchanged():
    """Runs written before `env_kwargs` existed still resume: their fingerprints (computed by
    jit_env at commit 6c4e1ef) are the ones computed now for the default ``"{}"``."""
    from jit_env.agents import DQNConfig
    from jit_env.cli._run_dir import run_fingerprint

    assert run_fingerprint("ppo", PPOConfig(), 0, 1) == "a3384d5f7ba6c4fb"
    assert run_fingerprint("dqn", DQNConfig(env="Acrobot-v1"), 3, 2,
                           {"gamma": [0.9, 0.99]}) == "9c9dd870a02a3408"
    assert run_fingerprint("ppo", PPOConfig(env_kwargs='{"size": 3}'), 0, 1) != "a3384d5f7ba6c4fb"
