"""Evaluation during training (``config.eval_every``) inside the compiled program."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env.agents import DQNConfig, PPOConfig, evaluate_policy, make_dqn, make_ppo, make_trainer
from jit_env.agents._loop import _EVAL_KEY_SALT, EVAL_METRICS

KEY = jax.random.PRNGKey(0)
PPO = PPOConfig(num_envs=4, num_steps=16, total_steps=4 * 16 * 4, update_epochs=1,
                num_minibatches=2, hidden_sizes=(16,))


def _leaves_equal(a, b, check=np.testing.assert_array_equal):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        check(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def runs():
    plain = make_trainer(PPO, make_ppo)
    evaluated = make_trainer(dataclasses.replace(PPO, eval_every=2, eval_episodes=3), make_ppo)
    n = PPO.num_updates
    out = {
        "plain": jax.jit(lambda k: plain.run(plain.init(k), n))(KEY),
        "eval": jax.jit(lambda k: evaluated.run(evaluated.init(k), n))(KEY),
        "trainer": evaluated,
    }
    # The same run in two chunks, the second told where it starts.
    first = jax.jit(lambda k: evaluated.run(evaluated.init(k), 2))(KEY)
    second = jax.jit(lambda s, start: evaluated.run(s, 2, start))(first[0], np.int32(2))
    out["chunks"] = (first, second)
    return out


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_evaluation_never_changes_training(runs):
    (plain_state, plain_metrics), (eval_state, eval_metrics) = runs["plain"], runs["eval"]
    _leaves_equal(plain_state, eval_state)  # parameters, optimiser, envs, keys: bit for bit
    for name, values in plain_metrics.items():
        np.testing.assert_array_equal(values, eval_metrics[name], err_msg=name)
    assert set(eval_metrics) - set(plain_metrics) == set(EVAL_METRICS)


def test_evaluations_happen_every_n_updates_on_whole_episodes(runs):
    _, metrics = runs["eval"]
    ret, length = np.asarray(metrics["eval_return"]), np.asarray(metrics["eval_length"])
    assert np.isnan(ret[[0, 2]]).all()
    assert np.isnan(length[[0, 2]]).all()
    assert np.isfinite(ret[[1, 3]]).all()
    # CartPole pays 1 per step: a whole episode's return is its length (>= 1 step).
    np.testing.assert_array_equal(ret[[1, 3]], length[[1, 3]])
    assert (length[[1, 3]] >= 1).all()
    assert np.isfinite(np.asarray(metrics["eval_return_std"])[[1, 3]]).all()


def test_evaluation_is_evaluate_policy_on_the_state_after_that_update(runs):
    trainer = runs["trainer"]
    config = dataclasses.replace(PPO, eval_every=2, eval_episodes=3)
    state = jax.jit(lambda k: trainer.run(trainer.init(k), 2)[0])(KEY)
    key = jax.random.fold_in(state.key, _EVAL_KEY_SALT)
    returns, lengths = jax.jit(lambda a, e, k: evaluate_policy(
        config, trainer.agent, a, e, k, episodes=3))(state.agent_state, state.env_state, key)
    _, metrics = runs["eval"]
    np.testing.assert_allclose(metrics["eval_return"][1], returns.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["eval_return_std"][1], returns.std(), rtol=1e-5)
    np.testing.assert_allclose(metrics["eval_length"][1], lengths.mean(), rtol=1e-6)


def test_chunked_runs_place_evaluations_by_start(runs, bits_equal):
    (_, m1), (s2, m2) = runs["chunks"]
    state, metrics = runs["eval"]
    _leaves_equal(s2, state, bits_equal)
    for name in metrics:
        np.testing.assert_array_equal(np.concatenate([m1[name], m2[name]]), metrics[name],
                                      err_msg=name)


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_evaluation_vmaps_over_seeds_as_a_branch():
    config = DQNConfig(num_envs=2, num_steps=8, total_steps=2 * 8 * 4, buffer_size=64,
                       batch_size=8, learning_starts=32, train_frequency=8,
                       target_network_frequency=16, hidden_sizes=(16,), eval_every=4,
                       eval_episodes=2)
    trainer = make_trainer(config, make_dqn)
    keys = jax.random.split(KEY, 2)
    n = config.num_updates
    batched = jax.jit(jax.vmap(lambda k: trainer.run(trainer.init(k), n)))(keys)
    for i in range(2):
        single = jax.jit(lambda k: trainer.run(trainer.init(k), n))(keys[i])
        for name in EVAL_METRICS:
            np.testing.assert_allclose(batched[1][name][i], single[1][name], rtol=1e-6,
                                       err_msg=name)
    assert np.isfinite(np.asarray(batched[1]["eval_return"])[:, -1]).all()
    assert np.isnan(np.asarray(batched[1]["eval_return"])[:, :-1]).all()


def test_bad_evaluation_fields_are_named():
    with pytest.raises(ValueError, match="`eval_every` must be >= 0"):
        dataclasses.replace(PPO, eval_every=-1).validate()
    with pytest.raises(ValueError, match="`eval_episodes` must be positive, got 0"):
        dataclasses.replace(PPO, eval_episodes=0).validate()
