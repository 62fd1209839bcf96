"""Tests of the registry behind ``jit_env.make`` (gymnasium's register / make semantics)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jit_env
from jit_env import envs
from jit_env.envs import _registry
from jit_env.envs import classic_control as cc

CLASSIC = {
    "CartPole-v1": (cc.CartPole, 500),
    "CartPole-v0": (cc.CartPole, 200),
    "IncompleteCartPole-v1": (cc.IncompleteCartPole, 500),
    "IncompleteCartPole-v0": (cc.IncompleteCartPole, 200),
    "CartPole-NoVelocity-v1": (cc.CartPoleNoVelocity, 500),
    "CartPole-POMDP-v1": (cc.CartPoleNoVelocity, 500),  # deprecated id, same class
    "Acrobot-v1": (cc.Acrobot, 500),
    "MountainCar-v0": (cc.MountainCar, 200),
    "MountainCarContinuous-v0": (cc.MountainCarContinuous, 999),
    "Pendulum-v1": (cc.Pendulum, 200),
}


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so test registrations do not leak."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    return _registry


class _Tiny(cc.Pendulum):
    def __init__(self, g=10.0, colour="red", **kwargs):
        super().__init__(g=g, **kwargs)
        self.colour = colour


def test_registered_ids_sorted_and_complete():
    ids = envs.registered_ids()
    assert isinstance(ids, tuple)
    assert list(ids) == sorted(ids)
    assert set(CLASSIC) <= set(ids)
    for env_id, (cls, limit) in CLASSIC.items():
        record = envs.spec(env_id)
        assert record.entry_point is cls
        assert record.max_episode_steps == limit


@pytest.mark.parametrize("env_id", sorted(CLASSIC))
def test_make_wraps_in_time_limit_with_the_registered_limit(env_id):
    cls, limit = CLASSIC[env_id]
    env = envs.make(env_id)
    assert isinstance(env, jit_env.wrappers.TimeLimit)
    assert type(env.unwrapped) is cls
    # The limit is the registered one: a LAST arrives at step `limit`, not before.
    # (Checked by stepping in tests/envs/test_classic_control.py; here via a short override.)
    short = envs.make(env_id, max_episode_steps=3)
    state, ts = short.reset(jax.random.key(0))
    action = short.action_spec().generate_value()
    types = []
    for _ in range(3):
        state, ts = short.step(state, action)
        types.append(int(ts.step_type))
    assert types[-1] == int(jit_env.StepType.LAST)


def test_make_kwargs_override_defaults(registry):
    assert envs.make("CartPole-v1", sutton_barto_reward=True).unwrapped.sutton_barto_reward
    assert not envs.make("CartPole-v1").unwrapped.sutton_barto_reward
    assert envs.make("Pendulum-v1", g=9.81).unwrapped.default_params.g == 9.81
    registry.register("Tiny-v0", _Tiny, max_episode_steps=7, colour="blue", g=3.0)
    env = envs.make("Tiny-v0")
    assert env.unwrapped.colour == "blue"
    assert env.unwrapped.default_params.g == 3.0
    env = envs.make("Tiny-v0", colour="green")
    assert env.unwrapped.colour == "green"
    assert env.unwrapped.default_params.g == 3.0
    assert dict(envs.spec("Tiny-v0").kwargs) == {"colour": "blue", "g": 3.0}


def test_register_without_limit_and_string_entry_point(registry):
    registry.register("Str-v0", "jit_env.envs.classic_control.pendulum:Pendulum")
    env = envs.make("Str-v0")
    assert type(env) is cc.Pendulum  # no TimeLimit without max_episode_steps
    assert "Str-v0" in envs.registered_ids()
    registry.register("Missing-v0", "jit_env.envs.classic_control.pendulum:Nope")
    with pytest.raises(AttributeError, match="Nope"):
        envs.make("Missing-v0")


def test_register_twice(registry):
    assert registry.register("Twice-v0", _Tiny, max_episode_steps=5) == "Twice-v0"
    # identical: a no-op that still returns the id
    assert registry.register("Twice-v0", _Tiny, max_episode_steps=5) == "Twice-v0"
    with pytest.raises(ValueError, match="already registered"):
        registry.register("Twice-v0", _Tiny, max_episode_steps=6)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("CartPole-v1", cc.Acrobot, max_episode_steps=500)


def test_unknown_id_suggests_close_matches():
    with pytest.raises(KeyError, match="CartPole-v1") as info:
        envs.make("CartPole-v2")
    assert "Did you mean" in str(info.value)
    with pytest.raises(KeyError, match="Pendulum-v1"):
        envs.make("Pendulum-v0")
    with pytest.raises(KeyError) as info:
        envs.make("zzzzzzzz")
    assert "Did you mean" not in str(info.value)


def test_bad_registrations(registry):
    with pytest.raises(TypeError, match="env_id"):
        registry.register(3, _Tiny)
    with pytest.raises(ValueError, match="env_id"):
        registry.register("", _Tiny)
    with pytest.raises(TypeError, match="entry_point"):
        registry.register("Bad-v0", 3)
    with pytest.raises(ValueError, match="module:attr"):
        registry.register("Bad-v0", "no_colon")
    with pytest.raises(TypeError, match="max_episode_steps"):
        registry.register("Bad-v0", _Tiny, max_episode_steps=2.5)
    with pytest.raises(ValueError, match="max_episode_steps"):
        registry.register("Bad-v0", _Tiny, max_episode_steps=0)
    assert "Bad-v0" not in envs.registered_ids()
    registry.register("NotEnv-v0", lambda: object())
    with pytest.raises(TypeError, match="not a jit_env.Environment"):
        envs.make("NotEnv-v0")
    with pytest.raises(ValueError, match="max_episode_steps"):
        envs.make("CartPole-v1", max_episode_steps=0)


def test_public_names():
    modules = {"annotations", "importlib"}
    public = {n for n in dir(envs) if not n.startswith("_")} - modules
    assert envs.__all__ == sorted(envs.__all__)
    assert set(envs.__all__) == public


def test_step_through_make_is_deterministic():
    env = envs.make("CartPole-v1")
    run = jax.jit(lambda k: env.step(env.reset(k)[0], np.int32(1))[1].observation)
    np.testing.assert_array_equal(run(jax.random.key(1)), run(jax.random.key(1)))
