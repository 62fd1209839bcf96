"""SAC (`jit_env.agents.sac`): its losses against NumPy, the tanh density, α's direction,
Polyak targets, action-spec checks, greedy actions, and a short learning run."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import specs
from jit_env.agents import SACConfig, _off_policy, make_sac, make_trainer
from jit_env.agents.networks import MLP
from jit_env.agents.sac import (
    actor_loss,
    critic_loss,
    soft_q_target,
    tanh_gaussian_log_prob,
    temperature_loss,
)

KEY = jax.random.PRNGKey(0)
TINY = {"num_envs": 2, "num_steps": 4, "buffer_size": 64, "batch_size": 8, "hidden_sizes": (16,)}


def _np_normal_logpdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


# ------------------------------------------------------------------ the tanh density --
def test_tanh_log_prob_is_the_change_of_variables_density():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(64, 3)) * 1.5
    mean = rng.normal(size=(64, 3))
    log_std = rng.uniform(-1.0, 0.5, size=(64, 3))
    a = np.tanh(u)
    # p(a) = N(atanh a; m, s) / (1 − a²) per dimension (Haarnoja et al. 2018a, eq. 21), float64.
    expected = np.sum(_np_normal_logpdf(u, mean, np.exp(log_std)) - np.log1p(-a * a), axis=-1)
    got = tanh_gaussian_log_prob(jnp.asarray(u, jnp.float32), jnp.asarray(mean, jnp.float32),
                                 jnp.asarray(log_std, jnp.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)  # float32 inputs
    # Finite where 1 − tanh²(u) underflows in float32 (|u| = 20): log(1 − a²) is never taken.
    far = tanh_gaussian_log_prob(jnp.array([[20.0]]), jnp.array([[19.0]]), jnp.array([[0.0]]))
    np.testing.assert_allclose(far, _np_normal_logpdf(20.0, 19.0, 1.0)
                               - 2 * (np.log(2) - 20 - np.log1p(np.exp(-40))), rtol=1e-6)


def test_tanh_log_prob_integrates_to_one_and_matches_a_monte_carlo_histogram():
    mean, log_std = 0.6, np.log(0.8)
    # The density of a = tanh(u) integrates to 1 over (−1, 1) (midpoint rule in a).
    edges = np.linspace(-1.0, 1.0, 201)
    centers = 0.5 * (edges[1:] + edges[:-1])
    u = np.arctanh(centers)
    density = np.exp(np.asarray(tanh_gaussian_log_prob(
        jnp.asarray(u[:, None], jnp.float32), jnp.full((200, 1), mean, jnp.float32),
        jnp.full((200, 1), log_std, jnp.float32))))
    np.testing.assert_allclose(np.sum(density) * (edges[1] - edges[0]), 1.0, atol=2e-3)
    # Monte Carlo: the histogram of tanh(mean + σ ε) over 10⁶ draws matches the density.
    samples = np.tanh(mean + np.exp(log_std) * np.random.default_rng(1).normal(size=1_000_000))
    hist, _ = np.histogram(samples, bins=edges, density=True)
    mass = density > 0.2  # bins with ≥ 1000 samples: relative MC error ≤ ~3 %, rtol 10 %
    assert mass.sum() > 100
    np.testing.assert_allclose(hist[mass], density[mass], rtol=0.1)
    # ... and the entropy estimate −E[log π] equals the histogram's −Σ p log p Δ.
    draws = mean + np.exp(log_std) * np.random.default_rng(2).normal(size=(200_000, 1))
    mc_entropy = -float(np.mean(np.asarray(tanh_gaussian_log_prob(
        jnp.asarray(draws, jnp.float32), jnp.full(draws.shape, mean, jnp.float32),
        jnp.full(draws.shape, log_std, jnp.float32)))))
    quad_entropy = -float(np.sum(density * np.log(density)) * (edges[1] - edges[0]))
    np.testing.assert_allclose(mc_entropy, quad_entropy, atol=0.02)


# ------------------------------------------------------------------------- losses --
def _batch():
    q_tm1 = np.array([[1.0, -0.5, 2.0, 0.0], [0.5, -1.0, 2.5, 0.3]], np.float32)
    r = np.array([1.0, 0.0, -1.0, 0.5], np.float32)
    d = np.array([0.99, 0.99, 0.0, 0.5], np.float32)  # the third transition terminates
    q_t = np.array([[2.0, 1.0, 5.0, -1.0], [1.5, 3.0, -5.0, -2.0]], np.float32)
    log_prob = np.array([-1.0, 0.5, 2.0, -0.2], np.float32)
    return q_tm1, r, d, q_t, log_prob


def test_soft_twin_q_target_and_critic_loss_match_numpy():
    q_tm1, r, d, q_t, log_prob = _batch()
    alpha = np.float32(0.2)
    # By hand: min over critics [1.5, 1.0, -5.0, -2.0], minus α log π.
    target = r + d * (np.array([1.5, 1.0, -5.0, -2.0]) - 0.2 * log_prob)
    np.testing.assert_allclose(soft_q_target(r, d, q_t, log_prob, alpha), target, rtol=1e-6)
    v_t = jnp.min(q_t, axis=0) - alpha * log_prob
    expected = sum(np.mean(0.5 * (target - q_tm1[i]) ** 2) for i in range(2))
    np.testing.assert_allclose(critic_loss(q_tm1, r, d, v_t), expected, rtol=1e-6)
    # Gradients reach the online values, never the bootstrap values.
    g_v = jax.grad(lambda v: critic_loss(q_tm1, r, d, v))(v_t)
    np.testing.assert_array_equal(g_v, np.zeros(4))
    g_q = jax.grad(lambda q: critic_loss(q, r, d, v_t))(jnp.asarray(q_tm1))
    np.testing.assert_allclose(g_q, (q_tm1 - target) / 4, rtol=1e-5, atol=1e-7)


def test_actor_loss_matches_numpy():
    q_tm1, _, _, _, log_prob = _batch()
    expected = np.mean(0.3 * log_prob - np.minimum(q_tm1[0], q_tm1[1]))
    np.testing.assert_allclose(actor_loss(log_prob, q_tm1, 0.3), expected, rtol=1e-6)


@pytest.mark.parametrize(("log_prob", "direction"), [(-3.0, -1), (2.0, +1)])
def test_temperature_moves_alpha_towards_the_target_entropy(log_prob, direction):
    # Target entropy −1. log π = −3: entropy 3 above the target → α must decrease;
    # log π = 2: entropy −2 below → α must increase. Gradient: −(log π + H̄).
    log_prob = jnp.full((8,), log_prob)
    grad = jax.grad(temperature_loss)(jnp.float32(0.0), log_prob, -1.0)
    np.testing.assert_allclose(grad, -(float(log_prob[0]) - 1.0), rtol=1e-6)
    assert np.sign(-grad) == direction  # a descent step moves log α this way
    np.testing.assert_array_equal(
        jax.grad(lambda lp: temperature_loss(jnp.float32(0.3), lp, -1.0))(log_prob), 0.0)


@pytest.mark.slow
def test_agent_alpha_follows_the_entropy_target():
    # Far above / below any reachable entropy, α must fall / rise at every step.
    logs = {}
    for target in (-50.0, 50.0):
        config = SACConfig(total_steps=2 * 4 * 3, learning_starts=0, target_entropy=target,
                           utd_ratio=0.5, **TINY)
        trainer = make_trainer(config, make_sac)
        state, metrics = jax.jit(lambda k: trainer.run(trainer.init(k), 3))(KEY)
        logs[target] = float(state.agent_state.params["log_alpha"])
        alpha = np.asarray(metrics["alpha"])  # 3 updates of 4 gradient steps
        assert (np.diff(alpha) < 0).all() if target < 0 else (np.diff(alpha) > 0).all()
    # 12 Adam steps of size ≈ lr = 1e-3 on log α (Adam's step is ≈ lr while the
    # gradient keeps its sign).
    np.testing.assert_allclose([logs[-50.0], logs[50.0]], [-0.012, 0.012], rtol=0.05)


# ------------------------------------------------------------------- the targets --
@pytest.mark.parametrize("interval", [1, 2])
def test_target_critics_are_polyak_averaged_every_interval(interval):
    # One gradient step per update (utd 1/8), learning from the first update.
    config = SACConfig(total_steps=2 * 4 * 2, learning_starts=0, utd_ratio=1 / 8, tau=0.1,
                       target_update_interval=interval, **TINY)
    trainer = make_trainer(config, make_sac)
    update = jax.jit(trainer.update)
    state = jax.jit(trainer.init)(KEY)
    old = state.agent_state.extra.target_params["critic"]
    for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(state.agent_state.params["critic"])):
        np.testing.assert_array_equal(a, b)
    for step in (1, 2):
        state, _ = update(state)
        online = state.agent_state.params["critic"]
        target = state.agent_state.extra.target_params["critic"]
        if step % interval == 0:
            expected = jax.tree.map(lambda o, t: 0.1 * np.asarray(o) + 0.9 * np.asarray(t),
                                    online, old)
        else:
            expected = old
        for a, b in zip(jax.tree.leaves(target), jax.tree.leaves(expected)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        old = target
    assert int(state.agent_state.step) == 2


# ------------------------------------------------------------- specs, actions --
def _spec(actions):
    return specs.EnvironmentSpec(specs.Array((3,), jnp.float32), actions,
                                 specs.Array((), jnp.float32),
                                 specs.BoundedArray((), jnp.float32, 0.0, 1.0))


@pytest.mark.parametrize(("actions", "match"), [
    (specs.Array((1,), jnp.float32), "bounded float action spec"),
    (specs.DiscreteArray(3), "bounded float action spec"),
    (specs.BoundedArray((1,), jnp.int32, 0, 3), "floating action spec"),
    (specs.BoundedArray((1,), jnp.float32, -np.inf, 1.0), "finite action bounds"),
    (specs.BoundedArray((2, 2), jnp.float32, -1.0, 1.0), r"shape \(A,\)"),
])
def test_unsupported_action_specs_are_refused_naming_the_spec(actions, match):
    with pytest.raises(ValueError, match=match) as info:
        make_sac(SACConfig(), _spec(actions))
    assert repr(actions) in str(info.value)


def test_invalid_configs_name_the_fields():
    with pytest.raises(ValueError, match=r"`utd_ratio`=0.3 times num_envs \* num_steps = 1"):
        SACConfig(utd_ratio=0.3).validate()
    with pytest.raises(ValueError, match="`tau` must be in"):
        SACConfig(tau=0.0).validate()
    with pytest.raises(ValueError, match="`log_std_min`=2.0 must be less"):
        SACConfig(log_std_min=2.0).validate()


def test_actions_are_rescaled_to_the_box_and_greedy_is_the_squashed_mean():
    config = SACConfig(total_steps=8, learning_starts=0, **TINY)
    trainer = make_trainer(config, make_sac)
    state = trainer.init(KEY)
    params = state.agent_state.params
    actor = params["actor"]
    last = actor["params"]["Dense_1"]
    actor = {"params": actor["params"] | {"Dense_1": last | {"kernel": last["kernel"] * 5}}}
    params = params | {"actor": actor}
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(256, 3)) * 2, jnp.float32)
    ts = dataclasses.replace(state.timestep, observation=obs)
    greedy, _, _ = jax.jit(trainer.agent.act_greedy)(params, ts, None, KEY)
    out = np.asarray(MLP((16,), 2, "relu", 1.0).apply(actor, obs))
    np.testing.assert_allclose(greedy, 2.0 * np.tanh(out[:, :1]), rtol=1e-5, atol=1e-6)
    assert (np.abs(greedy) > 1.0).any()  # the box is [-2, 2], not [-1, 1]
    sampled, _, _ = jax.jit(trainer.agent.act)((params, jnp.int32(0)), ts, None, KEY)
    mean, log_std = out[:, :1], np.clip(out[:, 1:], -20, 2)
    assert sampled.shape == (256, 1)
    assert (np.abs(sampled) <= 2.0).all()
    # Recover the pre-squash noise: it is standard normal.
    eps = (np.arctanh(np.clip(np.asarray(sampled) / 2.0, -0.999999, 0.999999)) - mean) / np.exp(
        log_std)
    assert abs(eps.mean()) < 0.2
    assert 0.8 < eps.std() < 1.2
    # Before learning_starts: uniform on the box (mean 0, variance 4/3).
    cfg_late = dataclasses.replace(config, learning_starts=10)
    late = make_trainer(cfg_late, make_sac).agent.act
    uniform, _, _ = jax.jit(late)((params, jnp.int32(0)), ts, None, KEY)
    assert abs(float(uniform.mean())) < 0.25
    assert abs(float(uniform.var()) - 4 / 3) < 0.25


def test_scale_and_unscale_are_inverse():
    low, high = np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)
    a = jnp.array([[-1.0, 1.0], [0.0, 0.5]])
    np.testing.assert_allclose(_off_policy.scale_action(a, low, high),
                               [[-2.0, 1.0], [0.0, 0.75]])
    np.testing.assert_allclose(_off_policy.unscale_action(
        _off_policy.scale_action(a, low, high), low, high), a, atol=1e-7)


# ----------------------------------------------------------------- learning --
@pytest.mark.learning
@pytest.mark.slow
def test_sac_learns_pendulum_swing_up(greedy_return_after_training):
    # 64-64 networks, 6,000 steps: random policies score about −1,200; in our runs SAC's
    # greedy policy reaches about −150 by 5,000 steps.
    config = SACConfig(total_steps=6_000, hidden_sizes=(64, 64))
    assert greedy_return_after_training(config, make_sac, KEY) > -400.0
