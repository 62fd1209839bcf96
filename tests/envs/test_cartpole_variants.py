"""The CartPole ids beyond ``CartPole-v1``: ``CartPole-v0``, rlx's ``IncompleteCartPole-v0/v1``,
``CartPole-NoVelocity-v1`` and its deprecated id ``CartPole-POMDP-v1``.

References: gymnasium's registrations (``gymnasium/envs/__init__.py``: ``CartPole-v0``
200 steps, reward threshold 195; ``CartPole-v1`` 500 steps) read from the installed
gymnasium, and rlx's ``rlx/env.py`` (``dasayan05/rlx``), whose ``IncompleteCartPolev0`` /
``IncompleteCartPolev1`` return gym's ``CartPole-v0`` / ``CartPole-v1`` observation
``obs[:-1]`` with the space ``Box(low[:-1], high[:-1])``. So the expected observation
is gymnasium's, minus its last entry, from the same physical state.

Tolerance: one float32 step against gymnasium's float64 (see test_classic_control.py),
``rtol=1e-5, atol=1e-6``.
"""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType
from jit_env.envs import classic_control as cc

# jit_env id -> (gymnasium id rlx wraps, the observation entries jit_env keeps).
RLX = {
    "IncompleteCartPole-v0": ("CartPole-v0", slice(None, -1)),
    "IncompleteCartPole-v1": ("CartPole-v1", slice(None, -1)),
}


@pytest.mark.parametrize("env_id", sorted(RLX))
def test_incomplete_cartpole_is_gymnasium_without_the_last_entry(env_id, variant_fn):
    """reset and steps to termination, eagerly / jitted / vmapped, through `jit_env.make`."""
    gym_id, keep = RLX[env_id]
    env = jit_env.make(env_id)
    genv = gymnasium.make(gym_id)
    _, info = genv.reset(seed=0)
    reset, step = variant_fn(env.reset), variant_fn(env.step)
    state, ts = reset(jax.random.key(3))
    assert ts.step_type == StepType.FIRST
    inner = state.inner  # TimeLimit's state wraps CartPole's
    full = np.array([inner.x, inner.x_dot, inner.theta, inner.theta_dot], np.float64)
    np.testing.assert_allclose(ts.observation, full.astype(np.float32)[keep], rtol=0, atol=0)
    genv.unwrapped.state = full
    actions = np.random.default_rng(5).integers(0, 2, size=200)
    for t, action in enumerate(actions):
        state, ts = step(state, jnp.int32(action))
        obs, reward, terminated, truncated, _ = genv.step(int(action))
        assert ts.observation.shape == (3,)
        np.testing.assert_allclose(ts.observation, np.asarray(obs)[keep], rtol=1e-5, atol=1e-6,
                                   err_msg=f"t={t}")
        assert float(ts.reward) == reward
        assert (ts.step_type == StepType.LAST) == (terminated or truncated)
        if terminated:
            assert ts.discount == 0.0
            break
    else:
        pytest.fail("random actions should end a CartPole episode within 200 steps")
    genv.close()


@pytest.mark.parametrize("env_id", sorted(RLX))
def test_incomplete_cartpole_spec_is_gymnasium_box_without_the_last_entry(env_id):
    gym_id, keep = RLX[env_id]
    space = gymnasium.make(gym_id).observation_space
    obs_spec = jit_env.make(env_id).observation_spec()
    assert obs_spec.shape == (3,)
    assert obs_spec.dtype == jnp.float32
    np.testing.assert_array_equal(obs_spec.minimum, space.low[keep])
    np.testing.assert_array_equal(obs_spec.maximum, space.high[keep])


@pytest.mark.parametrize(
    ("env_id", "gym_id"),
    [("CartPole-v0", "CartPole-v0"), ("CartPole-v1", "CartPole-v1"),
     ("IncompleteCartPole-v0", "CartPole-v0"), ("IncompleteCartPole-v1", "CartPole-v1"),
     ("CartPole-NoVelocity-v1", "CartPole-v1"), ("CartPole-POMDP-v1", "CartPole-v1")],
)
def test_episode_limit_is_gymnasiums_and_truncates(env_id, gym_id):
    limit = gymnasium.spec(gym_id).max_episode_steps
    assert limit == (200 if gym_id == "CartPole-v0" else 500)
    assert jit_env.envs.spec(env_id).max_episode_steps == limit
    env = jit_env.make(env_id)
    # Zero start state, no gravity, no force: nothing moves, so only the limit ends it.
    still = cc.CartPoleParams(gravity=0.0, force_mag=0.0, reset_low=0.0, reset_high=0.0)

    def run(key):
        state, _ = env.reset(key, options=still)
        return jax.lax.scan(lambda s, _: env.step(s, jnp.int32(1)), state, None,
                            length=limit + 1)[1]

    tss = jax.jit(run)(jax.random.key(0))
    step_type = np.asarray(tss.step_type)
    np.testing.assert_array_equal(step_type[: limit - 1], StepType.MID)
    assert step_type[limit - 1] == StepType.LAST
    assert tss.discount[limit - 1] == 1.0  # truncation keeps the discount


def test_cartpole_v0_reward_threshold_is_gymnasiums():
    # jit_env's registry keeps no reward threshold; the number the README cites is this one.
    assert gymnasium.spec("CartPole-v0").reward_threshold == 195.0
    assert jit_env.envs.spec("CartPole-v0").entry_point is cc.CartPole


def test_deprecated_pomdp_id_and_name_still_build_the_no_velocity_cartpole():
    assert cc.CartPolePOMDP is cc.CartPoleNoVelocity
    old, new = jit_env.make("CartPole-POMDP-v1"), jit_env.make("CartPole-NoVelocity-v1")
    assert type(old.unwrapped) is type(new.unwrapped) is cc.CartPoleNoVelocity
    key = jax.random.key(2)
    _, a = old.reset(key)
    s, b = new.reset(key)
    np.testing.assert_array_equal(a.observation, b.observation)
    assert b.observation.shape == (2,)
    np.testing.assert_array_equal(b.observation, [s.inner.x, s.inner.theta])
