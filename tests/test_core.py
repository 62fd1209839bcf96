"""Tests of the core interface: TimeStep, StepType, the TimeStep helpers, Environment, Wrapper."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, TimeStep, specs

# ----------------------------------------------------------------------------------------------
# StepType and TimeStep
# ----------------------------------------------------------------------------------------------


def test_step_type_values_are_numpy_int8():
    # dm_env's StepType values, as NumPy scalars (no device arrays at import time).
    for member, value in ((StepType.FIRST, 0), (StepType.MID, 1), (StepType.LAST, 2)):
        assert isinstance(member, np.int8)
        assert not isinstance(member, jax.Array)
        assert int(member) == value


def _timestep(step_type, extras=None):
    return TimeStep(
        step_type=np.int8(step_type),
        reward=np.float32(1.5),
        discount=np.float32(0.5),
        observation=np.int32(7),
        extras=extras,
    )


def test_timestep_is_frozen_and_extras_are_excluded_from_equality():
    ts = _timestep(StepType.MID, extras={"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ts.reward = np.float32(0.0)
    assert ts == _timestep(StepType.MID, extras={"b": 2})
    assert ts == _timestep(StepType.MID)
    assert ts != _timestep(StepType.LAST, extras={"a": 1})
    replaced = dataclasses.replace(ts, reward=np.float32(3.0))
    assert float(replaced.reward) == 3.0
    assert float(ts.reward) == 1.5


@pytest.mark.parametrize(
    ("step_type", "expected"),
    [(StepType.FIRST, (True, False, False)), (StepType.MID, (False, True, False)), (StepType.LAST, (False, False, True))],
)
def test_first_mid_last(variant_fn, step_type, expected):
    ts = _timestep(step_type)
    out = variant_fn(lambda t: (t.first(), t.mid(), t.last()))(ts)
    assert tuple(bool(x) for x in out) == expected


def test_timestep_is_a_pytree_under_jit_vmap_scan():
    ts = _timestep(StepType.MID, extras={"final_observation": np.int32(3)})
    leaves, treedef = jax.tree.flatten(ts)
    assert len(leaves) == 5  # step_type, reward, discount, observation, extras["final_observation"]
    assert jax.tree.unflatten(treedef, leaves) == ts

    doubled = jax.jit(lambda t: jax.tree.map(lambda x: x * 2, t))(ts)
    assert int(doubled.observation) == 14
    assert int(doubled.extras["final_observation"]) == 6

    batch = jax.tree.map(lambda x: jnp.stack([x, x + 1]), ts)
    out = jax.vmap(lambda t: t.reward + t.observation)(batch)
    np.testing.assert_array_equal(out, [8.5, 10.5])  # (1.5 + 7, 2.5 + 8)

    def body(carry, t):
        return carry + t.reward, t.observation

    total, observations = jax.lax.scan(body, jnp.float32(0.0), batch)
    assert float(total) == 1.5 + 2.5
    np.testing.assert_array_equal(observations, [7, 8])


# ----------------------------------------------------------------------------------------------
# restart / transition / termination / truncation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (3,)])
def test_timestep_helpers(variant_fn, shape):
    obs = jnp.arange(2, dtype=jnp.int32)
    reward = jnp.full(shape, 2.0, jnp.float32)

    def make(o, r):
        return (
            jit_env.restart(o, shape=shape),
            jit_env.transition(r, o, shape=shape),
            jit_env.termination(r, o, shape=shape),
            jit_env.truncation(r, o, shape=shape),
        )

    first, mid, term, trunc = variant_fn(make)(obs, reward)
    # (step_type, reward, discount) worked out from the dm_env definitions.
    expected = [
        (first, StepType.FIRST, 0.0, 1.0),
        (mid, StepType.MID, 2.0, 1.0),
        (term, StepType.LAST, 2.0, 0.0),
        (trunc, StepType.LAST, 2.0, 1.0),
    ]
    for ts, step_type, r, d in expected:
        assert ts.step_type.dtype == jnp.int8
        assert int(ts.step_type) == step_type
        assert ts.reward.shape == shape
        assert ts.reward.dtype == jnp.float32
        assert ts.discount.shape == shape
        assert ts.discount.dtype == jnp.float32
        np.testing.assert_array_equal(ts.reward, np.full(shape, r, np.float32))
        np.testing.assert_array_equal(ts.discount, np.full(shape, d, np.float32))
        np.testing.assert_array_equal(ts.observation, [0, 1])
        assert ts.extras is None


def test_timestep_helpers_explicit_discount_extras_and_dtype():
    ts = jit_env.transition(1.0, 0, discount=jnp.float32(0.9), extras={"x": 1})
    assert float(ts.discount) == pytest.approx(0.9)
    assert ts.extras == {"x": 1}
    ts = jit_env.truncation(1.0, 0, discount=jnp.float32(0.5))
    assert float(ts.discount) == 0.5
    assert bool(ts.last())
    ts = jit_env.restart(0, extras={"y": 2}, dtype=jnp.bfloat16)
    assert ts.reward.dtype == jnp.bfloat16
    assert ts.discount.dtype == jnp.bfloat16
    assert ts.extras == {"y": 2}
    assert bool(ts.first())
    assert jit_env.termination(1.0, 0, extras={"z": 3}).extras == {"z": 3}


# ----------------------------------------------------------------------------------------------
# A tiny counting environment
# ----------------------------------------------------------------------------------------------


class CountState(NamedTuple):
    key: jax.Array
    count: jax.Array
    params: jax.Array  # the episode limit


class Counter(jit_env.Environment):
    """Counts the actions taken (0 or 1); terminates when the count reaches the limit."""

    def __init__(self, limit: int = 3, **kwargs: Any):
        super().__init__(**kwargs)
        self.limit = limit

    def reset(self, key, *, options=None):
        limit = jnp.asarray(self.limit if options is None else options, jnp.int32)
        state = CountState(key=key, count=jnp.zeros((), jnp.int32), params=limit)
        return state, jit_env.restart(state.count)

    def step(self, state, action):
        count = state.count + action
        reward = action.astype(jnp.float32)
        done = count >= state.params
        ts = jax.lax.cond(
            done,
            lambda: jit_env.termination(reward, count),
            lambda: jit_env.transition(reward, count),
        )
        return state._replace(count=count), ts

    def observation_spec(self):
        return specs.BoundedArray((), jnp.int32, 0, self.limit, name="count")

    def action_spec(self):
        return specs.DiscreteArray(2, name="action")

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")


def test_counting_environment(variant_fn, rollout):
    env = Counter(limit=3)
    actions = jnp.array([1, 0, 1, 1], jnp.int32)
    state, steps = variant_fn(lambda k, a: rollout(env, k, a))(jax.random.key(0), actions)
    # Independent expectation: counts 0,1,1,2,3; rewards = actions; LAST with discount 0 at count 3.
    np.testing.assert_array_equal(steps.observation, [0, 1, 1, 2, 3])
    np.testing.assert_array_equal(steps.reward, [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(steps.discount, [1, 1, 1, 1, 0])
    assert steps.step_type.tolist() == [0, 1, 1, 1, 2]
    assert int(state.count) == 3
    assert int(state.params) == 3
    env_spec = specs.make_environment_spec(env)
    for t in range(5):
        env_spec.observations.validate(steps.observation[t])
        env_spec.rewards.validate(steps.reward[t])
        env_spec.discounts.validate(steps.discount[t])


def test_options_are_kept_in_the_state():
    env = Counter(limit=3)
    state, _ = env.reset(jax.random.key(0), options=1)
    _, ts = env.step(state, jnp.int32(1))
    assert int(state.params) == 1
    assert bool(ts.last())
    batch = jax.vmap(lambda k, o: env.reset(k, options=o)[0])(
        jax.random.split(jax.random.key(0), 2), jnp.array([1, 5])
    )
    np.testing.assert_array_equal(batch.params, [1, 5])


# ----------------------------------------------------------------------------------------------
# Environment and Wrapper plumbing
# ----------------------------------------------------------------------------------------------


class Recorder(jit_env.Environment):
    """Returns a distinct sentinel from every method and records the calls."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def reset(self, key, *, options=None):
        self.calls.append(("reset", key, options))
        return "reset"

    def step(self, state, action):
        self.calls.append(("step", state, action))
        return "step"

    def reward_spec(self):
        return "reward_spec"

    def discount_spec(self):
        return "discount_spec"

    def observation_spec(self):
        return "observation_spec"

    def action_spec(self):
        return "action_spec"

    def close(self):
        self.calls.append(("close",))


def test_wrapper_forwards_every_method():
    inner = Recorder(renderer=lambda state: ("rendered", state))
    wrapped = jit_env.Wrapper(inner)
    assert wrapped.reset("k", options="o") == "reset"
    assert wrapped.step("s", "a") == "step"
    for name in ("reward_spec", "discount_spec", "observation_spec", "action_spec"):
        assert getattr(wrapped, name)() == name
    assert wrapped.render("s") == ("rendered", "s")
    wrapped.close()
    assert inner.calls == [("reset", "k", "o"), ("step", "s", "a"), ("close",)]


def test_env_unwrapped_str_repr():
    inner = Recorder()
    outer = jit_env.Wrapper(jit_env.Wrapper(inner))
    assert outer.env.env is inner
    assert outer.unwrapped is inner
    assert inner.unwrapped is inner
    assert str(inner) == "Recorder"
    assert repr(inner) == "Recorder()"
    assert str(outer) == "Wrapper(Wrapper(Recorder))"
    assert repr(outer) == "Wrapper(env=Wrapper(env=Recorder()))"


def test_context_manager_calls_close():
    inner = Recorder()
    with jit_env.Wrapper(inner) as env:
        assert isinstance(env, jit_env.Wrapper)
    assert inner.calls == [("close",)]
    with pytest.raises(KeyError), Recorder() as env:
        raise KeyError("boom")
    assert env.calls == [("close",)]


def test_render():
    with pytest.raises(NotImplementedError, match="renderer"):
        Counter().render(None)
    with pytest.raises(NotImplementedError, match="renderer"):
        jit_env.Wrapper(Counter()).render(None)
    env = Counter(renderer=lambda state: np.zeros((2, 2, 3), np.uint8) + state)
    np.testing.assert_array_equal(env.render(np.uint8(4)), np.full((2, 2, 3), 4, np.uint8))
    # A renderer given to the wrapper takes precedence over the inner one.
    outer = jit_env.Wrapper(env, renderer=lambda _state: "outer")
    assert outer.render(1) == "outer"
    assert jit_env.Wrapper(env).render(np.uint8(1))[0, 0, 0] == 1


def test_wrapper_rejects_non_environment():
    with pytest.raises(TypeError, match="env"):
        jit_env.Wrapper(object())
    with pytest.raises(TypeError):
        jit_env.Environment()  # abstract


def test_wrapped_counter_steps_under_jit_and_vmap():
    env = jit_env.Wrapper(Counter(limit=2))

    def run(key):
        state, _ = env.reset(key)
        state, ts = env.step(state, jnp.int32(1))
        state, ts = env.step(state, jnp.int32(1))
        return ts

    ts = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(1), 3))
    np.testing.assert_array_equal(ts.step_type, [2, 2, 2])
    np.testing.assert_array_equal(ts.discount, [0.0, 0.0, 0.0])
