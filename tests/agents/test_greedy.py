"""Greedy evaluation: ``Agent.act_greedy`` and `evaluate_policy(policy=...)`.

Each agent's greedy action is checked against a NumPy argmax (or clip of the
Gaussian mean) of its network's output on a batch of observations, with the
parameters perturbed so that the mode is not the same for every row.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.agents import (
    ContinuousPPOConfig,
    DQNConfig,
    IMPALAConfig,
    PPOConfig,
    RecurrentPPOConfig,
    evaluate_policy,
    make_dqn,
    make_impala,
    make_ppo,
    make_recurrent_ppo,
    make_trainer,
)
from jit_env.agents._loop import evaluation_policy
from jit_env.agents.dqn import q_values
from jit_env.agents.networks import MLP, ActorCritic
from jit_env.agents.recurrent_ppo import _network
from jit_env.cli import ALGORITHMS, get_algorithm

KEY = jax.random.PRNGKey(0)


def _scaled(params, factor):
    """Parameters times ``factor``: larger logits, so rows disagree on the argmax."""
    return jax.tree.map(lambda x: x * factor, params)


def _batch(trainer, key=KEY):
    state = trainer.init(key)
    return state, state.timestep


def _observations(state, size):
    """``[size, D]`` float32 observations spread around the environment's scale."""
    obs = np.asarray(state.timestep.observation, np.float32)
    return jnp.asarray(np.random.default_rng(0).normal(size=(size, obs.shape[-1])) * 2.0,
                       jnp.float32)


def _greedy_on_spread_observations(trainer):
    """``(params, ts, action)``: the greedy action of ``trainer``'s agent, its parameters
    scaled by 3 (`_scaled`), on a TimeStep ``ts`` of 64 spread observations
    (`_observations`)."""
    state, ts = _batch(trainer)
    params = _scaled(state.agent_state.params, 3.0)
    obs = _observations(state, 64)
    ts = dataclasses.replace(ts, observation=obs)
    action, _, _ = jax.jit(trainer.agent.act_greedy)(params, ts, None, KEY)
    return params, ts, action


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_registered_agent_acts_greedily_and_ignores_the_key(name, tiny_agent):
    config, _ = tiny_agent(name)
    trainer = make_trainer(config, get_algorithm(name).factory)
    assert trainer.agent.act_greedy is not None
    state, ts = _batch(trainer)
    act = jax.jit(trainer.agent.act_greedy)
    a1, p1, _ = act(state.agent_state.params, ts, state.policy_state, jax.random.PRNGKey(1))
    a2, p2, _ = act(state.agent_state.params, ts, state.policy_state, jax.random.PRNGKey(2))
    np.testing.assert_array_equal(a1, a2)
    jax.tree.map(np.testing.assert_array_equal, p1, p2)
    spec = trainer.env_spec.actions
    assert a1.dtype == spec.dtype
    assert a1.shape == (config.num_envs, *spec.shape)
    spec.validate(np.asarray(a1[0]))


def test_discrete_ppo_greedy_is_the_argmax_of_the_logits():
    config = PPOConfig(num_envs=4, num_steps=8, total_steps=32, hidden_sizes=(16,),
                       num_minibatches=2)
    trainer = make_trainer(config, make_ppo)
    params, ts, action = _greedy_on_spread_observations(trainer)
    obs = ts.observation
    logits, _ = ActorCritic(2, False, (16,), "tanh").apply(params, obs)
    expected = np.argmax(np.asarray(logits), axis=-1)
    assert len(set(expected.tolist())) == 2  # both actions occur: the check can fail
    np.testing.assert_array_equal(action, expected)
    # vmapped over rows of the batch: the same actions
    single = jax.vmap(lambda o: trainer.agent.act_greedy(params, dataclasses.replace(ts, observation=o),
                                                         None, KEY)[0])(obs)
    np.testing.assert_array_equal(single, expected)


def test_gaussian_ppo_greedy_is_the_mean_clipped_to_the_bounds():
    config = ContinuousPPOConfig(num_envs=2, num_steps=8, total_steps=16, hidden_sizes=(16,),
                                 num_minibatches=2)
    trainer = make_trainer(config, make_ppo)
    state, ts = _batch(trainer)
    params = state.agent_state.params
    actor = params["params"]["actor"]
    last = actor["Dense_1"] | {"kernel": actor["Dense_1"]["kernel"] * 400.0}
    params = {"params": params["params"] | {"actor": actor | {"Dense_1": last}}}
    obs = _observations(state, 64)
    ts = dataclasses.replace(ts, observation=obs)
    action, _, _ = jax.jit(trainer.agent.act_greedy)(params, ts, None, KEY)
    (mean, _), _ = ActorCritic(1, True, (16,), config.activation).apply(params, obs)
    mean = np.asarray(mean)
    spec = trainer.env_spec.actions  # Pendulum-v1: [-2, 2]
    assert (np.abs(mean) > 2.0).any()
    assert (np.abs(mean) < 2.0).any()
    # jitted vs eager: the same mean to float rounding (XLA may fuse differently)
    np.testing.assert_allclose(action, np.clip(mean, spec.minimum, spec.maximum), rtol=1e-5,
                               atol=1e-6)


def test_dqn_greedy_is_epsilon_zero_for_every_head():
    for head in ("q", "c51", "qr"):
        config = DQNConfig(num_envs=4, num_steps=8, total_steps=64, buffer_size=64,
                           batch_size=8, learning_starts=32, train_frequency=8,
                           target_network_frequency=16, hidden_sizes=(16,), head=head,
                           num_atoms=11)
        trainer = make_trainer(config, make_dqn)
        params, ts, action = _greedy_on_spread_observations(trainer)
        obs = ts.observation
        k = 1 if head == "q" else 11
        out = np.asarray(MLP((16,), 2 * k, "relu", 1.0).apply(params, obs))
        if head == "c51":
            logits = out.reshape(64, 2, k)
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            q = (probs * np.linspace(config.v_min, config.v_max, k)).sum(-1)
        elif head == "qr":
            q = out.reshape(64, k, 2).mean(1)
        else:
            q = out
        np.testing.assert_allclose(q_values(config, jnp.asarray(
            out if head == "q" else out.reshape((64, 2, k) if head == "c51" else (64, k, 2))
        )), q, rtol=1e-5, atol=1e-5)
        assert len(set(np.argmax(q, -1).tolist())) == 2, head
        np.testing.assert_array_equal(action, np.argmax(q, -1), err_msg=head)


def test_impala_greedy_uses_the_current_not_the_lagged_parameters():
    config = IMPALAConfig(env="CartPole-v1", num_envs=4, num_steps=9, total_steps=4 * 9 * 3,
                          hidden_sizes=(16,), behaviour_lag=4)
    trainer = make_trainer(config, make_impala)
    state = jax.jit(lambda k: trainer.update(trainer.init(k))[0])(KEY)
    agent_state = state.agent_state
    behaviour = agent_state.extra.behaviour_params
    assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, behaviour, agent_state.params)))
    act, params = evaluation_policy(trainer.agent, agent_state, "greedy")
    assert act is trainer.agent.act_greedy
    assert params is agent_state.params
    act, params = evaluation_policy(trainer.agent, agent_state, "sample")
    assert act is trainer.agent.act
    assert params is behaviour


def test_recurrent_greedy_carries_the_same_state_as_act():
    config = RecurrentPPOConfig(env="CartPole-v1", num_envs=4, num_steps=8, total_steps=32,
                                hidden_sizes=(16,), rnn_size=8, head_sizes=(16,),
                                num_minibatches=2)
    trainer = make_trainer(config, make_recurrent_ppo)
    state, ts = _batch(trainer)
    params = _scaled(state.agent_state.params, 3.0)
    agent = trainer.agent
    ps = state.policy_state
    for i in range(3):
        greedy, g_ps, _ = agent.act_greedy(params, ts, ps, KEY)
        _, s_ps, _ = agent.act(params, ts, ps, KEY)
        jax.tree.map(np.testing.assert_array_equal, g_ps, s_ps)
        network, *_ = _network(config, trainer.env_spec)  # (network, head, obs shape)
        _, head, _ = network.apply(params, ps, ts.observation)
        np.testing.assert_array_equal(greedy, np.argmax(np.asarray(head), -1))
        ps = g_ps
        ts = dataclasses.replace(ts, observation=ts.observation + 0.5 * (i + 1))


def test_evaluate_policy_greedy_is_deterministic_given_the_reset_keys():
    config = DQNConfig(num_envs=2, num_steps=8, total_steps=32, buffer_size=32, batch_size=8,
                       learning_starts=16, train_frequency=8, target_network_frequency=16,
                       hidden_sizes=(16,))
    trainer = make_trainer(config, make_dqn)
    state = trainer.init(KEY)
    play = jax.jit(lambda k, policy: evaluate_policy(
        config, trainer.agent, state.agent_state, state.env_state, k, episodes=4,
        policy=policy), static_argnums=1)
    greedy = play(KEY, "greedy")
    np.testing.assert_array_equal(greedy[0], play(KEY, "greedy")[0])
    # At the start DQN's ε is 1: sampling is uniform, greedy is not.
    assert not np.array_equal(play(KEY, "sample")[1], greedy[1])
    with pytest.raises(ValueError, match="`policy` must be one of"):
        evaluate_policy(config, trainer.agent, state.agent_state, state.env_state, KEY,
                        episodes=2, policy="mode")
    with pytest.raises(ValueError, match="`episodes` must be a positive int, got 0"):
        evaluate_policy(config, trainer.agent, state.agent_state, state.env_state, KEY,
                        episodes=0)
    no_greedy = trainer.agent._replace(act_greedy=None)
    with pytest.raises(ValueError, match="act_greedy"):
        evaluation_policy(no_greedy, state.agent_state, "greedy")
