"""A2C: config validation, n-step loss against NumPy, learning (the contract: test_contract.py)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import _core, specs
from jit_env.agents import train
from jit_env.agents.a2c import A2CConfig, make_a2c
from jit_env.agents.networks import ActorCritic
from jit_env.rollout import Trajectory

TINY = A2CConfig(num_envs=4, num_steps=8, total_steps=4 * 8 * 3, hidden_sizes=(16,))
FIRST, MID, LAST = (int(x) for x in (_core.StepType.FIRST, _core.StepType.MID,
                                    _core.StepType.LAST))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_envs": 0}, "`num_envs` must be positive, got 0"),
        ({"gae_lambda": 1.5}, "`gae_lambda` must be in \\[0, 1\\], got 1.5"),
        ({"optimizer": "sgd"}, "`optimizer` must be one of \\['rmsprop', 'adam'\\], got 'sgd'"),
        ({"learning_rate": 0.0}, "`learning_rate` must be positive, got 0.0"),
        ({"ent_coef": -1.0}, "`ent_coef` must be >= 0, got -1.0"),
        ({"hidden_sizes": (0,)}, "`hidden_sizes` must be positive"),
    ],
)
def test_config_validation_names_the_field(overrides, message):
    with pytest.raises(ValueError, match=f"invalid A2CConfig: .*{message}"):
        dataclasses.replace(TINY, **overrides).validate()


def test_unsupported_action_spec_raises():
    env_spec = specs.EnvironmentSpec(
        observations=specs.Array((3,), jnp.float32),
        actions=specs.Array((2,), jnp.bool_),  # neither categorical nor Gaussian
        rewards=specs.Array((), jnp.float32),
        discounts=specs.BoundedArray((), jnp.float32, 0.0, 1.0),
    )
    with pytest.raises(ValueError, match=r"A2C: `action` has spec .*DiscreteArray"):
        make_a2c(TINY, env_spec)


# ------------------------------------------------------- loss against NumPy --
def hand_made_trajectory(rng: np.random.Generator, t: int = 6, b: int = 2):
    """A [T+1, B] same-step auto-reset trajectory of CartPole-shaped observations.

    Environment 0 terminates after transition 1 (discount 0) and restarts;
    environment 1 is truncated by a time limit after transition 3 (discount 1,
    FIRST with a distinct final observation). Everything else is MID.
    """
    step_type = np.full((t + 1, b), MID, np.int8)
    step_type[0] = FIRST
    discount = np.ones((t + 1, b), np.float32)
    step_type[2, 0], discount[2, 0] = FIRST, 0.0   # termination, auto-reset
    step_type[4, 1] = FIRST                         # truncation, auto-reset
    obs = rng.normal(size=(t + 1, b, 4)).astype(np.float32)
    final = obs.copy()
    final[2, 0] = rng.normal(size=4)
    final[4, 1] = rng.normal(size=4)
    reward = rng.uniform(0.5, 1.5, size=(t + 1, b)).astype(np.float32)
    timesteps = _core.TimeStep(
        step_type=jnp.asarray(step_type), reward=jnp.asarray(reward),
        discount=jnp.asarray(discount), observation=jnp.asarray(obs),
        extras={"final_observation": jnp.asarray(final)},
    )
    actions = jnp.asarray(rng.integers(0, 2, size=(t, b)), jnp.int32)
    log_mu = jnp.asarray(np.log(rng.uniform(0.2, 0.8, size=(t, b))), jnp.float32)
    traj = Trajectory(timesteps=timesteps, actions=actions, extras={"log_prob": log_mu})
    return traj, {"obs": obs, "final": final, "reward": reward, "discount": discount,
                      "step_type": step_type, "actions": np.asarray(actions), "log_mu": np.asarray(log_mu)}


def network_outputs(config, params, data):
    """Logits, v(s_t) and v(next observation) of the hand-made data, as NumPy float64."""
    net = ActorCritic(2, False, config.hidden_sizes, config.activation)
    logits, v = net.apply(params, jnp.asarray(data["obs"][:-1]))
    next_obs = np.where(
        (data["step_type"][1:] == FIRST)[..., None], data["final"][1:], data["obs"][1:]
    )
    v_next = net.apply(params, jnp.asarray(next_obs), method=ActorCritic.value)
    return (np.asarray(logits, np.float64), np.asarray(v, np.float64),
            np.asarray(v_next, np.float64))


def np_policy_terms(logits, actions, adv, w):
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_pi_a = np.take_along_axis(log_p, actions[..., None], -1)[..., 0]
    entropy = -(np.exp(log_p) * log_p).sum(-1)
    n = w.sum()
    return -(log_pi_a * adv * w).sum() / n, (entropy * w).sum() / n, log_pi_a


def _np_n_step(r, d, ends, v_next, gamma):
    """A3C's n-step returns per stream: bootstrap at the window end and at cuts."""
    t_len = r.shape[0]
    g = np.zeros_like(r)
    for b in range(r.shape[1]):
        acc = v_next[-1, b]
        for t in reversed(range(t_len)):
            if t == t_len - 1 or ends[t, b]:
                acc = v_next[t, b]
            acc = r[t, b] + gamma * d[t, b] * acc
            g[t, b] = acc
    return g


def test_loss_matches_numpy_n_step_advantage_actor_critic():
    config = dataclasses.replace(TINY, hidden_sizes=(8,), ent_coef=0.01)
    traj, data = hand_made_trajectory(np.random.default_rng(0))
    env_spec = specs.EnvironmentSpec(
        observations=specs.Array((4,), jnp.float32), actions=specs.DiscreteArray(2),
        rewards=specs.Array((), jnp.float32),
        discounts=specs.BoundedArray((), jnp.float32, 0.0, 1.0),
    )
    agent = make_a2c(config, env_spec)
    state = agent.init(jax.random.PRNGKey(3))
    _, metrics = jax.jit(agent.update)(state, traj, jax.random.PRNGKey(0))

    logits, v, v_next = network_outputs(config, state.params, data)
    ends = data["step_type"][1:] == FIRST
    g = _np_n_step(data["reward"][1:].astype(np.float64), data["discount"][1:], ends, v_next,
                   config.gamma)
    w = np.ones_like(g)
    pg, entropy, _ = np_policy_terms(logits, data["actions"], g - v, w)
    value_loss = np.mean((g - v) ** 2)
    # float32 network and scans vs float64 NumPy over ~12 terms.
    np.testing.assert_allclose(metrics["policy_loss"], pg, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["value_loss"], value_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["entropy"], entropy, rtol=1e-5)
    np.testing.assert_allclose(
        metrics["loss"], pg + config.vf_coef * value_loss - config.ent_coef * entropy,
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.learning
def test_a2c_learns_cartpole():
    cfg = A2CConfig(total_steps=200_000)  # the SB3 / rl-zoo defaults, 2/5 of the steps
    _, metrics = jax.jit(lambda k: train(cfg, k, make_a2c))(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    final = np.nanmean(returns[-500:])  # last 10 % of the 5,000 updates
    # A uniformly random policy averages about 22 on CartPole-v1.
    assert final > 100.0, final
