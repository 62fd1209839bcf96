"""Hyper-parameter sweeps in one program (`train(config, key, sweep=...)`)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env.agents import DQNConfig, PPOConfig, TrainingConfig, train
from jit_env.agents._loop import default_factory
from jit_env.agents._sweep import sweep_grid, sweepable_fields

KEY = jax.random.PRNGKey(0)
PPO = PPOConfig(num_envs=4, num_steps=16, total_steps=4 * 16 * 3, update_epochs=2,
                num_minibatches=2, hidden_sizes=(16,))
SWEEP = {"learning_rate": [1e-3, 3e-3], "ent_coef": [0.0, 0.05]}


def test_grid_is_the_product_first_field_slowest():
    points = sweep_grid(PPO, SWEEP)
    assert points == [
        {"learning_rate": 1e-3, "ent_coef": 0.0}, {"learning_rate": 1e-3, "ent_coef": 0.05},
        {"learning_rate": 3e-3, "ent_coef": 0.0}, {"learning_rate": 3e-3, "ent_coef": 0.05},
    ]


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_a_sweep_equals_the_separate_runs():
    swept_state, swept = jax.jit(lambda k: train(PPO, k, sweep=SWEEP))(KEY)
    assert swept["loss"].shape == (4, PPO.num_updates)
    finals = []
    for i, point in enumerate(sweep_grid(PPO, SWEEP)):
        config = dataclasses.replace(PPO, **point)
        state, metrics = jax.jit(lambda k, c=config: train(c, k))(KEY)
        for name, values in metrics.items():
            np.testing.assert_allclose(swept[name][i], values, rtol=2e-5, atol=1e-6,
                                       err_msg=f"{point} {name}")
        for a, b in zip(jax.tree.leaves(swept_state.agent_state.params),
                        jax.tree.leaves(state.agent_state.params), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=2e-5, atol=1e-6)
        finals.append(np.asarray(jax.tree.leaves(state.agent_state.params)[0]))
    # The points really differ (the check above could not pass by ignoring the sweep).
    assert not np.allclose(finals[0], finals[3])


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_a_sweep_vmaps_over_seeds():
    keys = jax.random.split(KEY, 2)
    small = {"learning_rate": [1e-3, 3e-3]}
    _, metrics = jax.jit(jax.vmap(lambda k: train(PPO, k, sweep=small)))(keys)
    assert metrics["loss"].shape == (2, 2, PPO.num_updates)
    _, seed1 = jax.jit(lambda k: train(PPO, k, sweep=small))(keys[1])
    np.testing.assert_allclose(metrics["loss"][1], seed1["loss"], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({}, "non-empty mapping"),
        ({"learning_rte": [1e-3]}, "PPOConfig has no field 'learning_rte'"),
        ({"num_envs": [4, 8]}, "field 'num_envs' of PPOConfig is structural"),
        ({"anneal_lr": [0, 1]}, "field 'anneal_lr' of PPOConfig is structural"),
        ({"learning_rate": []}, "field 'learning_rate' needs a non-empty list"),
        ({"learning_rate": "1e-3"}, "field 'learning_rate' needs a non-empty list"),
        ({"learning_rate": ["fast"]}, "field 'learning_rate' has a value that is not a finite"),
        ({"learning_rate": [True]}, "not a finite number: True"),
        ({"ent_coef": [float("nan")]}, "not a finite number: nan"),
        ({"learning_rate": [1e-3, -1.0]}, r"grid point \{'learning_rate': -1.0\}: invalid"),
    ],
)
def test_bad_sweeps_name_the_field(sweep, message):
    with pytest.raises(ValueError, match=message):
        train(PPO, KEY, sweep=sweep)


def test_gamma_is_refused_with_reward_normalisation():
    with pytest.raises(ValueError, match="'gamma' cannot be swept with normalize_rewards"):
        sweep_grid(dataclasses.replace(PPO, normalize_rewards=True), {"gamma": [0.9, 0.99]})
    assert sweep_grid(PPO, {"gamma": [0.9]}) == [{"gamma": 0.9}]


def test_sweepable_fields_collect_along_the_mro():
    assert sweepable_fields(TrainingConfig) == ("gamma",)
    assert {"learning_rate", "ent_coef", "clip_eps", "gamma"} <= set(sweepable_fields(PPOConfig))
    assert "num_envs" not in sweepable_fields(PPOConfig)


def test_train_picks_the_bundled_agent_of_the_config():
    config = DQNConfig(num_envs=2, num_steps=8, total_steps=32, buffer_size=32, batch_size=8,
                       learning_starts=16, train_frequency=8, target_network_frequency=16,
                       hidden_sizes=(16,))
    _, metrics = jax.jit(lambda k: train(config, k))(KEY)
    assert "epsilon" in metrics  # DQN's, not PPO's

    @dataclasses.dataclass(frozen=True)
    class Mine(TrainingConfig):
        pass

    with pytest.raises(TypeError, match="no bundled agent for Mine: pass `agent_factory`"):
        default_factory(Mine())
