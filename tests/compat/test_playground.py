"""MuJoCo Playground's brax-style environments through `jit_env.compat.from_brax`.

Reference: playground 0.2.0 (module ``mujoco_playground``). Importing it takes
tens of seconds (it builds MuJoCo Warp kernels) and MJX physics compiles
slowly on a CPU, so every test here is slow. Only the DM Control Suite
environments are built: the locomotion and manipulation ones fetch MuJoCo
Menagerie models over the network. The missing-extra test is in test_brax.py
(it needs no Playground).
"""

from __future__ import annotations

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, compat
from jit_env.testing import check_env
from jit_env.wrappers import TimeLimit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # brax's and jaxopt's import-time warnings
    registry = pytest.importorskip("mujoco_playground").registry

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::UserWarning"),  # brax's "not actively maintained"
]

_NAME = "CartpoleBalance"


def test_registers_every_playground_env_with_its_episode_length():
    ids = compat.register_playground_ids()
    assert ids == tuple(sorted("playground/" + n for n in registry.ALL_ENVS))
    record = jit_env.envs.spec(f"playground/{_NAME}")
    assert record.max_episode_steps == registry.get_default_config(_NAME).episode_length == 1000
    with pytest.raises(ValueError, match=re.escape(
            "`playground_name` 'Cartpole' is not a MuJoCo Playground environment; Playground has "
            "['AcrobotSwingup'")):
        compat._brax.make_playground("Cartpole")


def test_trajectory_equals_playgrounds_and_truncation_keeps_the_final_observation():
    """Same key, same actions: observations and rewards equal Playground's own jitted loop;
    at a 5-step limit the LAST TimeStep has discount 1 and Playground's 5th observation,
    where Playground's training wrapper returns the next episode's first one."""
    from mujoco_playground import wrapper

    raw = registry.load(_NAME)
    env = TimeLimit(compat.from_brax(raw), 5)
    assert env.observation_spec().shape == (5,)
    actions = jnp.full((5, 1), 0.3, jnp.float32)
    # A legacy uint32 key: brax's EpisodeWrapper (inside Playground's training wrapper) sizes
    # its counters by ``rng.shape[:-1]`` (brax/envs/wrappers/training.py).
    key = jax.random.PRNGKey(0)
    _, reset_key = jax.random.split(key)
    reset, step = jax.jit(raw.reset), jax.jit(raw.step)
    state = reset(reset_key)
    expected = []
    for action in actions:
        state = step(state, action)
        expected.append((np.asarray(state.obs), float(state.reward), float(state.done)))

    def run(key):
        state, _ = env.reset(key)
        return jax.lax.scan(lambda s, a: env.step(s, a), state, actions)[1]

    ts = jax.jit(run)(key)
    for t, (obs, reward, done) in enumerate(expected):
        np.testing.assert_allclose(ts.observation[t], obs, rtol=1e-5, atol=1e-6)  # same program, fused differently
        np.testing.assert_allclose(ts.reward[t], reward, rtol=1e-6)
        assert done == 0.0
    np.testing.assert_array_equal(ts.step_type, [StepType.MID] * 4 + [StepType.LAST])
    np.testing.assert_array_equal(ts.discount, np.ones(5))

    trained = wrapper.wrap_for_brax_training(raw, episode_length=5, action_repeat=1)
    state = jax.jit(trained.reset)(reset_key[None])  # a batch of one, the same reset key
    first_obs = np.asarray(state.obs[0])
    for action in actions:
        state = jax.jit(trained.step)(state, action[None])
    assert float(state.done[0]) == 1.0
    np.testing.assert_array_equal(state.obs[0], first_obs)  # Playground #305: it is gone
    assert not np.allclose(state.obs[0], expected[-1][0])


def test_cartpole_balance_passes_check_env():
    env = jit_env.make(f"playground/{_NAME}")
    checks = ("returns", "specs", "step_types", "discount_range", "finite", "scan_safe",
              "state_key", "single_trace")
    report = check_env(env, num_steps=5, checks=checks)
    assert report.ok, report.failures
