"""TD3 and DDPG (`jit_env.agents.td3`): targets against NumPy, target policy smoothing,
the policy delay, DDPG's plain target, exploration, and a short learning run."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.agents import (
    DDPGConfig,
    SACConfig,
    TD3Config,
    make_ddpg,
    make_td3,
    make_trainer,
)
from jit_env.agents.networks import MLP
from jit_env.agents.td3 import smoothed_target_action, td3_target

KEY = jax.random.PRNGKey(0)
TINY = {"num_envs": 2, "num_steps": 4, "buffer_size": 64, "batch_size": 8, "hidden_sizes": (16,),
            "learning_starts": 0, "utd_ratio": 1 / 8, "tau": 0.1}


def test_td3_target_is_the_clipped_double_q_target():
    r = np.array([1.0, 0.0, -1.0], np.float32)
    d = np.array([0.98, 0.98, 0.0], np.float32)
    q_t = np.array([[2.0, -1.0, 7.0], [3.0, -4.0, 1.0]], np.float32)
    np.testing.assert_allclose(td3_target(r, d, q_t), [1 + 0.98 * 2, 0.98 * -4, -1.0],
                               rtol=1e-6)
    # DDPG: one critic, the plain target r + γ Q̄(s', μ̄(s')).
    np.testing.assert_allclose(td3_target(r, d, q_t[:1]), r + d * q_t[0], rtol=1e-6)


def test_target_smoothing_noise_is_clipped_then_the_action():
    mu = jnp.asarray(np.linspace(-1, 1, 2000, dtype=np.float32).reshape(1000, 2))
    got = np.asarray(smoothed_target_action(mu, KEY, 0.6, 0.5))
    # The same draw, by NumPy: ε = σ̃ · N(0, 1), clipped to [−c, c], then the sum to [−1, 1].
    eps = 0.6 * np.asarray(jax.random.normal(KEY, (1000, 2)))
    expected = np.clip(np.asarray(mu) + np.clip(eps, -0.5, 0.5), -1.0, 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert (np.abs(eps) > 0.5).mean() > 0.3  # σ̃ = 0.6: about 40 % of the draws are clipped
    assert np.abs(got - np.asarray(mu)).max() <= 0.5 + 1e-6
    assert got.min() == -1.0
    assert got.max() == 1.0
    # No smoothing (DDPG): the target actor's action itself.
    np.testing.assert_array_equal(smoothed_target_action(mu, KEY, 0.0, 0.0), mu)


def _changed(a, b):
    return not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("delay", [1, 3])
def test_actor_and_targets_move_every_policy_delay_critic_steps(delay):
    # One gradient step per update, from the first update.
    config = TD3Config(total_steps=2 * 4 * 3, policy_delay=delay, **TINY)
    trainer = make_trainer(config, make_td3)
    update = jax.jit(trainer.update)
    state = jax.jit(trainer.init)(KEY)
    for step in (1, 2, 3):
        before = state.agent_state
        state, metrics = update(state)
        after = state.agent_state
        assert int(after.step) == step
        assert _changed(before.params["critic"], after.params["critic"])  # every step
        moved = step % delay == 0
        assert _changed(before.params["actor"], after.params["actor"]) == moved
        expected = (jax.tree.map(lambda o, t: 0.1 * np.asarray(o) + 0.9 * np.asarray(t),
                                 after.params, before.extra.target_params)
                    if moved else before.extra.target_params)
        for a, b in zip(jax.tree.leaves(after.extra.target_params), jax.tree.leaves(expected)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert (float(metrics["actor_loss"]) != 0.0) == moved


def test_ddpg_is_td3_with_one_critic_no_smoothing_no_delay():
    config = DDPGConfig(total_steps=8, **TINY)
    assert (config.policy_delay, config.target_policy_noise, config.num_critics) == (1, 0.0, 1)
    trainer = make_trainer(config, make_ddpg)
    state = trainer.init(KEY)
    kernel = state.agent_state.params["critic"]["params"]["VmapMLP_0"]["Dense_0"]["kernel"]
    assert kernel.shape == (1, 3 + 1, 16)  # one critic on [s, a]
    td3 = make_trainer(TD3Config(total_steps=8, **TINY), make_td3).init(KEY)
    assert td3.agent_state.params["critic"]["params"]["VmapMLP_0"]["Dense_0"][
        "kernel"].shape == (2, 4, 16)
    with pytest.raises(TypeError, match="make_ddpg needs a DDPGConfig, got TD3Config"):
        make_ddpg(TD3Config(), trainer.env_spec)


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_first_critic_loss_is_the_numpy_loss_on_a_hand_built_batch(algo, monkeypatch):
    # `replay.sample` returns a fixed batch, so the first gradient step's critic loss can be
    # recomputed from the initial networks: DDPG's plain target r + d Q̄(s', μ̄(s')), TD3's
    # (σ̃ = 0) min over its twin target critics; targets equal the online networks at step 1.
    from jit_env.agents import replay
    from jit_env.agents._off_policy import Critics

    rng = np.random.default_rng(0)
    batch = {
        "observation": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        "action": jnp.asarray(rng.uniform(-2, 2, size=(8, 1)), jnp.float32),  # the env's box
        "r_t": jnp.asarray(rng.normal(size=8), jnp.float32),
        "discount_t": jnp.asarray([0.98] * 6 + [0.0, 0.0], jnp.float32),
        "next_observation": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
    }
    monkeypatch.setattr(replay, "sample", lambda *_: batch)
    cls, factory = (DDPGConfig, make_ddpg) if algo == "ddpg" else (TD3Config, make_td3)
    config = cls(total_steps=8, **(TINY | {"target_policy_noise": 0.0}))
    trainer = make_trainer(config, factory)
    state = trainer.init(KEY)
    _, metrics = jax.jit(trainer.update)(state)
    params = state.agent_state.params
    critics = Critics(config.num_critics, (16,), "relu")
    mu_next = np.tanh(np.asarray(MLP((16,), 1, "relu", 1.0).apply(
        params["actor"], batch["next_observation"])))
    q_next = np.asarray(critics.apply(params["critic"], batch["next_observation"], mu_next))
    assert q_next.shape == (config.num_critics, 8)
    target = np.asarray(batch["r_t"]) + np.asarray(batch["discount_t"]) * q_next.min(0)
    q = np.asarray(critics.apply(params["critic"], batch["observation"],
                                 np.asarray(batch["action"]) / 2.0))  # back to [-1, 1]
    expected = sum(np.mean(0.5 * (target - q[i]) ** 2) for i in range(config.num_critics))
    np.testing.assert_allclose(metrics["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["q_mean"], q.mean(), rtol=1e-5, atol=1e-6)


def test_exploration_noise_is_gaussian_around_mu_and_uniform_before_learning_starts():
    config = TD3Config(total_steps=8, **(TINY | {"learning_starts": 10}))
    trainer = make_trainer(config, make_td3)
    state = trainer.init(KEY)
    params = state.agent_state.params
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4096, 3)), jnp.float32)
    ts = dataclasses.replace(state.timestep, observation=obs)
    mu = np.tanh(np.asarray(MLP((16,), 1, "relu", 1.0).apply(params["actor"], obs)))
    greedy, _, _ = jax.jit(trainer.agent.act_greedy)(params, ts, None, KEY)
    np.testing.assert_allclose(greedy, 2.0 * mu, rtol=1e-5, atol=1e-6)  # box [-2, 2]
    act = jax.jit(trainer.agent.act)
    noisy, _, _ = act((params, jnp.int32(10)), ts, None, KEY)
    noise = np.asarray(noisy) / 2.0 - mu  # back in [-1, 1]
    inside = np.abs(mu + noise) < 0.999  # away from the clip
    assert inside.mean() > 0.9
    np.testing.assert_allclose(noise[inside].std(), 0.1, rtol=0.1)  # exploration_noise
    uniform, _, _ = act((params, jnp.int32(9)), ts, None, KEY)
    assert abs(float(uniform.mean())) < 0.1
    assert abs(float(uniform.var()) - 4 / 3) < 0.1


def test_td3_refuses_unbounded_actions_and_bad_configs():
    from jit_env import specs

    spec = specs.EnvironmentSpec(specs.Array((3,), jnp.float32), specs.Array((1,), jnp.float32),
                                 specs.Array((), jnp.float32),
                                 specs.BoundedArray((), jnp.float32, 0.0, 1.0))
    with pytest.raises(ValueError, match="TD3 needs a bounded float action spec"):
        make_td3(TD3Config(), spec)
    with pytest.raises(ValueError, match="DDPG needs a bounded float action spec"):
        make_ddpg(DDPGConfig(), spec)
    with pytest.raises(ValueError, match="`policy_delay` must be positive, got 0"):
        TD3Config(policy_delay=0).validate()
    with pytest.raises(ValueError, match="`exploration_noise` must be >= 0"):
        TD3Config(exploration_noise=-0.1).validate()
    assert SACConfig().hidden_sizes == (256, 256)
    assert TD3Config().hidden_sizes == (400, 300)


@pytest.mark.learning
@pytest.mark.slow
def test_td3_learns_pendulum_swing_up(greedy_return_after_training):
    # 64-64 networks, learning from step 1,000, 8,000 steps: in our runs the greedy
    # policy reaches about −150 by 6,000 steps (random policies: about −1,200).
    config = TD3Config(total_steps=8_000, learning_starts=1_000, hidden_sizes=(64, 64))
    assert greedy_return_after_training(config, make_td3, KEY) > -400.0
