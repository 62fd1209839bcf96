"""`to_pettingzoo` passes PettingZoo's own ``parallel_api_test``; the single-agent Slime view
passes gymnasium's ``check_env`` through `to_gymnasium`."""

from __future__ import annotations

import numpy as np
import pytest

import jit_env
from jit_env.compat import to_gymnasium, to_pettingzoo

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test


def test_slime_passes_parallel_api_test():
    env = to_pettingzoo(jit_env.make("SlimeVolleyMultiAgent-v0", max_episode_steps=60), seed=0)
    with pytest.warns(UserWarning, match=r"ignoring options \['options'\]"):
        parallel_api_test(env, num_cycles=100)
    assert env.possible_agents == ["left", "right"]
    assert env.agents == []  # the 60-step limit ended every episode (truncation)


def test_step_values_equal_the_jit_env_step():
    base = jit_env.make("SlimeVolleyMultiAgent-v0")
    env = to_pettingzoo(base, seed=3)
    obs, infos = env.reset(seed=3)
    assert set(obs) == {"left", "right"}
    assert obs["left"].shape == (12,)
    assert infos["left"] == {}
    state = env.state
    obs, rewards, terminated, truncated, infos = env.step({"left": 2, "right": 5})
    _, ts = base.step(state, np.array([2, 5], np.int32))
    np.testing.assert_array_equal(obs["right"], np.asarray(ts.observation[1]))
    assert rewards == {"left": 0.0, "right": 0.0}
    assert terminated == {"left": False, "right": False} == truncated
    with pytest.raises(ValueError, match="missing"):
        env.step({"left": 0})
    with pytest.raises(ValueError, match="actions\\['left'\\]"):
        env.step({"left": 9, "right": 0})
    with pytest.raises(ValueError, match="multi-agent"):
        to_pettingzoo(jit_env.make("CartPole-v1"))


def test_render_rgb_array():
    env = to_pettingzoo(jit_env.make("SlimeVolleyMultiAgent-v0"), render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (250, 600, 3)
    assert frame.dtype == np.uint8


def test_single_agent_view_passes_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    env = to_gymnasium(jit_env.make("SlimeVolley-v0"))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (12,)
    assert env.action_space.n == 6
