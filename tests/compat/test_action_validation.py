"""Out-of-range actions through every host adapter, and the render modes they advertise.

gymnasium's own CartPole asserts ``self.action_space.contains(action)`` at the top of
``step`` (``gymnasium/envs/classic_control/cartpole.py``); a jitted jit_env step cannot
raise on a value, so before this fix ``to_gymnasium``, ``to_dm_env`` and
``to_gymnasium_vector`` silently did what action 0 does for CartPole actions 5, -1 and
2**20. The adapters now raise ``ValueError`` naming the value and the bounds.
"""

from __future__ import annotations

import re

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import jit_env
from jit_env import compat, specs, wrappers

BAD_CARTPOLE_ACTIONS = [5, -1, 2**20, np.int64(2**32), np.array(2, np.int32), jnp.int32(3)]


def _value(action) -> int:
    return int(np.asarray(action))


@pytest.mark.parametrize("action", BAD_CARTPOLE_ACTIONS, ids=repr)
def test_gymnasium_adapter_rejects_what_gymnasiums_cartpole_rejects(action, make_env):
    ours = compat.to_gymnasium(make_env("CartPole-v1"))
    ours.reset(seed=0)
    with pytest.raises(ValueError, match=rf"{_value(action)} not in \[0, 1\]"):
        ours.step(action)
    theirs = gym.make("CartPole-v1").unwrapped
    theirs.reset(seed=0)
    with pytest.raises(AssertionError, match="invalid"):
        theirs.step(action)
    obs, *_ = ours.step(1)  # the failed step changed nothing: the episode goes on
    assert obs.shape == (4,)


@pytest.mark.parametrize("action", BAD_CARTPOLE_ACTIONS, ids=repr)
def test_dm_env_adapter_rejects_out_of_range_actions(action, make_env):
    adapter = compat.to_dm_env(make_env("CartPole-v1"))
    adapter.reset()
    with pytest.raises(ValueError, match=rf"`action` is outside the action spec .*"
                       rf"{_value(action)} not in \[0, 1\]"):
        adapter.step(action)


def test_vector_adapter_names_the_bad_entry(make_env):
    adapter = compat.to_gymnasium_vector(make_env("CartPole-v1"), 3)
    adapter.reset(seed=0)
    with pytest.raises(ValueError, match=r"1 of 3 entries invalid, first at index \(2,\): 9"):
        adapter.step(np.array([0, 1, 9]))
    with pytest.raises(ValueError, match=r"2 of 3 entries invalid, first at index \(0,\): -1"):
        adapter.step(jnp.array([-1, 1, 2], jnp.int32))  # a JAX batch is checked too
    _, reward, *_ = adapter.step(np.array([0, 1, 1]))
    np.testing.assert_array_equal(reward, [1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("action", "shown"),
    [(np.array([3.0]), "3.0"), (np.array([np.nan]), "nan"), (np.array([-np.inf]), "-inf"),
     (np.array([1e39]), "1e+39")],
)
def test_continuous_actions_outside_the_box_are_rejected_with_a_clip_hint(action, shown,
                                                                           make_env):
    adapter = compat.to_gymnasium(make_env("Pendulum-v1"))
    adapter.reset(seed=0)
    with pytest.raises(ValueError, match=rf"{re.escape(shown)} not in \[-2.0, 2.0\]; to clip such actions "
                       r"instead, wrap the jit_env environment in jit_env.wrappers.ClipAction"):
        adapter.step(action)
    clipping = compat.to_gymnasium(wrappers.ClipAction(make_env("Pendulum-v1")))
    clipping.reset(seed=0)
    clipped = clipping.step(np.array([3.0], np.float32))
    adapter.reset(seed=0)
    np.testing.assert_array_equal(clipped[0], adapter.step(np.array([2.0], np.float32))[0])


def test_unbounded_float_actions_must_be_finite_and_fit_the_dtype():
    env = wrappers.ClipAction(jit_env.make("Pendulum-v1"))  # unbounded float32 action spec
    adapter = compat.to_gymnasium(env)
    adapter.reset(seed=0)
    with pytest.raises(ValueError, match="nan is not a finite float32"):
        adapter.step(np.array([np.nan]))
    with pytest.raises(ValueError, match=r"1e\+39 is not a finite float32"):
        adapter.step(np.array([1e39]))  # finite in float64, inf in the spec's float32


def test_in_range_actions_of_every_kind_still_work(make_env):
    adapter = compat.to_gymnasium(make_env("MountainCar-v0"))
    adapter.reset(seed=0)
    for action in (0, 2, np.int64(1), np.array(2, np.uint8), jnp.int32(0)):
        adapter.step(action)


# ---------------------------------------------- render modes: advertise only what exists


class GridWorld(jit_env.Environment):
    """A user environment with no renderer unless given one (the new-user trial's)."""

    def __init__(self, renderer=None):
        super().__init__(renderer=renderer)

    def reset(self, key, *, options=None):
        del options
        return {"key": key, "pos": jnp.int32(0)}, jit_env.restart(jnp.zeros((1,), jnp.float32))

    def step(self, state, action):
        pos = state["pos"] + action
        done = pos >= 3
        obs = pos.astype(jnp.float32)[None]
        ts = jax.tree.map(lambda a, b: jnp.where(done, a, b),
                          jit_env.termination(jnp.float32(1.0), obs),
                          jit_env.transition(jnp.float32(0.0), obs))
        return {**state, "pos": pos}, ts

    def observation_spec(self):
        return specs.BoundedArray((1,), jnp.float32, 0.0, 3.0, name="observation")

    def action_spec(self):
        return specs.DiscreteArray(2, name="action")

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")


@pytest.mark.parametrize(
    "wrap",
    [lambda e: e, lambda e: wrappers.TimeLimit(e, 10),
     lambda e: wrappers.NormalizeObservation(wrappers.TimeLimit(e, 10))],
    ids=["bare", "TimeLimit", "NormalizeObservation(TimeLimit)"],
)
def test_no_rgb_array_advertised_without_a_renderer(wrap):
    """TimeLimit overrides ``render`` (to pass its inner state down), which made the
    adapter advertise "rgb_array"; gymnasium's check_env then crashed with
    ``NotImplementedError: GridWorld has no renderer``."""
    env = wrap(GridWorld())
    adapter = compat.to_gymnasium(env)
    assert adapter.metadata["render_modes"] == []
    if not isinstance(env, wrappers.NormalizeObservation):  # its statistics span resets, so
        check_env(adapter)  # same-seed resets differ; else gymnasium's checker passes
    assert compat.to_gymnasium_vector(env, 2).metadata["render_modes"] == []
    with pytest.raises(ValueError, match=r"`render_mode` must be one of \[None\]"):
        compat.to_gymnasium(env, render_mode="rgb_array")


def test_rgb_array_advertised_through_wrappers_when_a_renderer_exists(make_env):
    env = wrappers.NormalizeObservation(make_env("CartPole-v1"))  # TimeLimit(CartPole) inside
    adapter = compat.to_gymnasium(env, render_mode="rgb_array")
    assert adapter.metadata["render_modes"] == ["rgb_array"]
    adapter.reset(seed=0)
    assert adapter.render().shape == (400, 600, 3)
    drawn = wrappers.TimeLimit(GridWorld(renderer=lambda _: jnp.zeros((2, 2, 3), jnp.uint8)), 9)
    assert compat.to_gymnasium(drawn).metadata["render_modes"] == ["rgb_array"]
