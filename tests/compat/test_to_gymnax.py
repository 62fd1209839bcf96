"""Tests of `jit_env.compat.to_gymnax`: any jit_env environment behind gymnax 1.x's API.

Reference: gymnax 1.0.1 ``gymnax/environments/environment.py``. The expected
values come from the jit_env environment stepped directly, following what
gymnax's base ``Environment.step`` does (split the key into ``key_step,
key_reset``; step; where the episode ended, the observation of
``reset(key_reset)``), not from the adapter. The PPO at the end is written
against gymnax's published interface only (PureJaxRL's ``ppo.py`` structure,
gymnax 1.x's 6-tuple ``step``, gymnax's own ``LogWrapper``).
"""

from __future__ import annotations

import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import compat, specs
from jit_env.testing import check_env

gymnax = pytest.importorskip("gymnax")
from gymnax.environments import environment as gymnax_environment  # noqa: E402
from gymnax.environments import spaces as gymnax_spaces  # noqa: E402
from gymnax.wrappers import FlattenObservationWrapper, LogWrapper  # noqa: E402

from jit_env.compat._to_gymnax import spec_to_gymnax_space  # noqa: E402

_CARTPOLE = jit_env.make("CartPole-v1", max_episode_steps=10)  # short episodes: both ends seen
_ADAPTER = compat.to_gymnax(_CARTPOLE)


def _expected(env, key, actions):
    """(obs, reward, terminated, truncated, final obs, discount) per step, from ``env`` itself."""
    state, ts = env.reset(key)
    out = []
    for k, action in zip(jax.random.split(key, len(actions)), actions):
        key_step, key_reset = jax.random.split(k)
        del key_step  # gymnax's step key; the jit_env state holds its own
        state, ts = env.step(state, action)
        last, discount = bool(ts.last()), float(ts.discount)
        observation = ts.observation
        if last:
            state, first = env.reset(key_reset)
            observation = first.observation
        out.append((np.asarray(observation), float(ts.reward), last and discount == 0,
                    last and discount != 0, np.asarray(ts.observation), discount))
    return out


def test_is_a_gymnax_environment_with_gymnax_spaces():
    assert isinstance(_ADAPTER, gymnax_environment.Environment)
    params = _ADAPTER.default_params
    obs_space, action_space = _ADAPTER.observation_space(params), _ADAPTER.action_space(params)
    spec = _CARTPOLE.observation_spec()
    assert isinstance(obs_space, gymnax_spaces.Box)
    np.testing.assert_array_equal(obs_space.low, spec.minimum)  # ±inf on the velocities
    np.testing.assert_array_equal(obs_space.high, spec.maximum)
    assert (obs_space.shape, np.dtype(obs_space.dtype)) == ((4,), np.float32)
    assert isinstance(action_space, gymnax_spaces.Discrete)
    assert (action_space.n, action_space.dtype) == (2, jnp.int32)
    assert _ADAPTER.num_actions == 2
    assert _ADAPTER.name == "TimeLimit(CartPole)"
    pendulum = compat.to_gymnax(jit_env.make("Pendulum-v1"))
    box = pendulum.action_space(None)
    assert (box.low.tolist(), box.high.tolist(), box.shape) == ([-2.0], [2.0], (1,))
    assert pendulum.num_actions == 1


def test_reset_and_step_follow_gymnax_semantics(variant_fn):
    """Termination (CartPole falls under action 1) and truncation (6 steps) both appear."""
    key = jax.random.PRNGKey(7)
    # Pushing right topples the pole (termination); alternating holds it 10 steps (truncation).
    actions = [jnp.int32(a) for a in [1] * 12 + [0, 1] * 6]
    expected = _expected(_CARTPOLE, key, actions)
    reset, step = variant_fn(_ADAPTER.reset), variant_fn(_ADAPTER.step)
    obs, state = reset(key, None)
    np.testing.assert_array_equal(obs, _CARTPOLE.reset(key)[1].observation)
    seen = set()
    for k, action, exp in zip(jax.random.split(key, len(actions)), actions, expected):
        obs, state, reward, terminated, truncated, info = step(k, state, action, None)
        # gymnax jits its whole step, and XLA fuses CartPole's float32 physics differently
        # from the eager ops of `_expected`: equal up to the last bits.
        np.testing.assert_allclose(obs, exp[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(info["final_observation"], exp[4], rtol=1e-6, atol=1e-7)
        assert (float(reward), bool(terminated), bool(truncated)) == exp[1:4]
        assert float(info["discount"]) == exp[5]
        assert bool(info["terminated"]) == exp[2]
        assert bool(info["truncated"]) == exp[3]
        seen.add((exp[2], exp[3]))
    assert seen == {(False, False), (True, False), (False, True)}


def test_params_reach_reset_as_options():
    """``reset(key, params)`` is ``env.reset(key, options=params)``; default_params are given ones."""
    env = jit_env.make("CartPole-v1")
    params = jit_env.envs.CartPoleParams(gravity=20.0)
    adapter = compat.to_gymnax(env, params)
    assert adapter.default_params is params
    key = jax.random.PRNGKey(0)
    _, state = adapter.reset(key)  # params=None -> default_params
    expected_state, _ = env.reset(key, options=params)
    jax.tree.map(np.testing.assert_array_equal, state.env_state, expected_state)
    default_state, _ = env.reset(key)  # gravity 9.8: some leaf of the state differs
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(state.env_state), jax.tree.leaves(default_state)))


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_round_trip_through_from_gymnax_passes_check_env():
    """from_gymnax(to_gymnax(env)) is a conforming jit_env environment whose episode is env's."""
    env = jit_env.make("CartPole-v1")
    back = compat.from_gymnax(compat.to_gymnax(env))
    check_env(back, num_steps=30)
    key = jax.random.PRNGKey(3)
    state, ts = back.reset(key)
    ref_state, ref = env.reset(jax.random.split(key)[1])  # from_gymnax splits once for reset
    for _ in range(8):  # up to the last bits, as in the test above (gymnax jits its step)
        np.testing.assert_allclose(ts.observation, ref.observation, rtol=1e-6, atol=1e-7)
        assert int(ts.step_type) == int(ref.step_type)
        state, ts = back.step(state, jnp.int32(0))
        ref_state, ref = env.step(ref_state, jnp.int32(0))


def test_spec_to_gymnax_space_mapping():
    composite = specs.Dict({
        "flag": specs.Array((2,), jnp.bool_),
        "count": specs.Array((), jnp.int32),
        "pair": specs.Tuple(specs.DiscreteArray(3), specs.BoundedArray((2,), jnp.float32, -1, 1)),
    })
    space = spec_to_gymnax_space(composite)
    assert isinstance(space, gymnax_spaces.Dict)
    flag, count = space.spaces["flag"], space.spaces["count"]
    assert flag.low.tolist() == [False, False]
    assert flag.high.tolist() == [True, True]
    assert (int(count.low), int(count.high)) == (-(2**31), 2**31 - 1)
    discrete, box = space.spaces["pair"].spaces
    assert discrete.n == 3
    assert box.low.tolist() == [-1.0, -1.0]


@pytest.mark.parametrize(("spec", "pattern"), [
    (specs.DiscreteArray(3, dtype=jnp.uint8), "dtype uint8"),
    (specs.DiscreteArray(np.array([2, 3]), dtype=jnp.int32), "of shape (2,)"),
])
def test_specs_without_a_gymnax_space_raise(spec, pattern):
    with pytest.raises(TypeError, match=re.escape(pattern)):
        spec_to_gymnax_space(spec)


def test_bad_input_and_missing_gymnax(monkeypatch):
    with pytest.raises(TypeError, match="`env` must be a jit_env.Environment, got str"):
        compat.to_gymnax("CartPole-v1")
    monkeypatch.setitem(sys.modules, "gymnax", None)
    monkeypatch.setitem(sys.modules, "gymnax.environments", None)
    monkeypatch.setitem(sys.modules, "gymnax.environments.environment", None)
    with pytest.raises(ImportError, match=re.escape("to_gymnax needs: pip install 'jit-env[gymnax]'")):
        compat.to_gymnax(_CARTPOLE)


# ------------------------------------------------ a PPO written against gymnax only --
def _make_train(config, env, env_params):
    """PureJaxRL's ``make_train`` (purejaxrl/ppo.py), on gymnax 1.x's 6-tuple step.

    Uses nothing but gymnax's interface: ``reset`` / ``step`` / ``action_space`` /
    ``observation_space``, ``LogWrapper``'s ``returned_episode*`` info.
    """
    import flax.linen as nn
    import optax

    env = LogWrapper(FlattenObservationWrapper(env))
    num_updates = config["TOTAL_TIMESTEPS"] // config["NUM_STEPS"] // config["NUM_ENVS"]
    minibatch = config["NUM_ENVS"] * config["NUM_STEPS"] // config["NUM_MINIBATCHES"]
    n_actions = env.action_space(env_params).n

    class ActorCritic(nn.Module):
        @nn.compact
        def __call__(self, x):
            a = nn.tanh(nn.Dense(64)(x))
            a = nn.tanh(nn.Dense(64)(a))
            logits = nn.Dense(n_actions, kernel_init=nn.initializers.orthogonal(0.01))(a)
            v = nn.tanh(nn.Dense(64)(x))
            v = nn.tanh(nn.Dense(64)(v))
            return logits, jnp.squeeze(nn.Dense(1)(v), -1)

    def train(rng):
        network = ActorCritic()
        rng, init_rng = jax.random.split(rng)
        obs_shape = env.observation_space(env_params).shape
        params = network.init(init_rng, jnp.zeros(obs_shape))
        schedule = optax.linear_schedule(config["LR"], 0.0, num_updates * config["UPDATE_EPOCHS"]
                                         * config["NUM_MINIBATCHES"])
        tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(schedule, eps=1e-5))
        opt_state = tx.init(params)
        rng, reset_rng = jax.random.split(rng)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_rng, config["NUM_ENVS"]), env_params)

        def update(carry, _):
            params, opt_state, env_state, obs, rng = carry

            def env_step(carry, _):
                env_state, obs, rng = carry
                rng, a_rng, s_rng = jax.random.split(rng, 3)
                logits, value = network.apply(params, obs)
                action = jax.random.categorical(a_rng, logits)
                logp = jax.nn.log_softmax(logits)[jnp.arange(action.shape[0]), action]
                obs2, env_state, reward, terminated, truncated, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(s_rng, config["NUM_ENVS"]), env_state, action, env_params)
                done = jnp.logical_or(terminated, truncated)
                return (env_state, obs2, rng), (obs, action, logp, value, reward, done, info)

            (env_state, obs, rng), (b_obs, b_act, b_logp, b_val, b_rew, b_done, info) = \
                jax.lax.scan(env_step, (env_state, obs, rng), None, config["NUM_STEPS"])
            _, last_val = network.apply(params, obs)

            def gae(carry, x):
                adv, next_val = carry
                done, value, reward = x
                delta = reward + config["GAMMA"] * next_val * (1 - done) - value
                adv = delta + config["GAMMA"] * config["GAE_LAMBDA"] * (1 - done) * adv
                return (adv, value), adv

            _, advantages = jax.lax.scan(gae, (jnp.zeros_like(last_val), last_val),
                                         (b_done, b_val, b_rew), reverse=True)
            targets = advantages + b_val

            def loss_fn(params, batch):
                obs, act, logp_old, val_old, adv, target = batch
                logits, value = network.apply(params, obs)
                logp = jax.nn.log_softmax(logits)[jnp.arange(act.shape[0]), act]
                v_clip = val_old + jnp.clip(value - val_old, -0.2, 0.2)
                v_loss = 0.5 * jnp.maximum((value - target) ** 2, (v_clip - target) ** 2).mean()
                ratio = jnp.exp(logp - logp_old)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 0.8, 1.2) * adv).mean()
                probs = jax.nn.softmax(logits)
                entropy = -(probs * jax.nn.log_softmax(logits)).sum(-1).mean()
                return pg + 0.5 * v_loss - 0.01 * entropy

            batch = jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])),
                                 (b_obs, b_act, b_logp, b_val, advantages, targets))

            def epoch(carry, _):
                params, opt_state, rng = carry
                rng, p_rng = jax.random.split(rng)
                perm = jax.random.permutation(p_rng, minibatch * config["NUM_MINIBATCHES"])
                shuffled = jax.tree.map(lambda x: x[perm].reshape(
                    (config["NUM_MINIBATCHES"], minibatch, *x.shape[1:])), batch)

                def minibatch_step(carry, mb):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, mb)
                    updates, opt_state = tx.update(grads, opt_state)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch_step, (params, opt_state),
                                                      shuffled)
                return (params, opt_state, rng), None

            (params, opt_state, rng), _ = jax.lax.scan(epoch, (params, opt_state, rng), None,
                                                       config["UPDATE_EPOCHS"])
            ended = info["returned_episode"]
            mean_return = (info["returned_episode_returns"] * ended).sum() / jnp.maximum(
                ended.sum(), 1)
            return (params, opt_state, env_state, obs, rng), mean_return

        _, returns = jax.lax.scan(update, (params, opt_state, env_state, obs, rng), None,
                                  num_updates)
        return returns

    return train


_PPO = {"NUM_ENVS": 4, "NUM_STEPS": 128, "UPDATE_EPOCHS": 4, "NUM_MINIBATCHES": 4, "LR": 2.5e-3,
        "GAMMA": 0.99, "GAE_LAMBDA": 0.95}


def test_gymnax_ppo_runs_on_a_jit_env_environment():
    """Two updates: the script's whole gymnax surface works (LogWrapper, vmapped step, spaces)."""
    adapter = compat.to_gymnax(jit_env.make("CartPole-v1"))
    returns = jax.jit(_make_train({**_PPO, "TOTAL_TIMESTEPS": 1024}, adapter,
                                  adapter.default_params))(jax.random.PRNGKey(0))
    assert returns.shape == (2,)
    # Random CartPole episodes last about 22 steps (return 1 per step): some ended, all finite.
    assert np.all(np.isfinite(returns))
    assert np.all(returns > 5)


@pytest.mark.slow
@pytest.mark.learning
def test_gymnax_ppo_learns_a_jit_env_cartpole_as_it_learns_gymnax_cartpole():
    """The same script learns jit_env's CartPole behind to_gymnax and gymnax's own CartPole."""
    config = {**_PPO, "TOTAL_TIMESTEPS": 100_000}
    adapter = compat.to_gymnax(jit_env.make("CartPole-v1"))
    ours = jax.jit(_make_train(config, adapter, adapter.default_params))(jax.random.PRNGKey(0))
    theirs = jax.jit(_make_train(config, *gymnax.make("CartPole-v1")))(jax.random.PRNGKey(0))
    # Random play returns ~22; the last tenth of training averages well above it on both.
    tail = len(ours) // 10
    print(f"mean return of the last {tail} updates: to_gymnax(jit_env CartPole) "
          f"{float(ours[-tail:].mean()):.1f}, gymnax CartPole {float(theirs[-tail:].mean()):.1f}")
    assert float(ours[-tail:].mean()) > 150, ours[-tail:]
    assert float(theirs[-tail:].mean()) > 150, theirs[-tail:]
