"""Tests of `jit_env.compat.to_dm_env`; dm_env's own EnvironmentTestMixin is the acceptance test."""

from __future__ import annotations

import re
import sys
import unittest

import dm_env
import jax
import numpy as np
import pytest
from dm_env import test_utils

from jit_env import compat
from jit_env.compat import to_dm_env
from jit_env.envs import registered_ids

_RANDOM_STEPS = 120  # enough for every registered environment to end an episode


def _mixin_case(env_id: str) -> type:
    """A unittest class running dm_env's EnvironmentTestMixin on ``to_dm_env(make(env_id))``."""

    @pytest.mark.usefixtures("attach_env_tools")
    class Case(test_utils.EnvironmentTestMixin, unittest.TestCase):
        def make_object_under_test(self):
            return to_dm_env(self.make_env(env_id), key=0)

        def make_action_sequence(self):
            rng = np.random.default_rng(0)
            spec = self.make_env(env_id).action_spec()
            for _ in range(_RANDOM_STEPS):
                yield self.random_action(spec, rng)

    Case.__name__ = Case.__qualname__ = "TestDmEnvMixin_" + re.sub(r"\W", "_", env_id)
    return Case


for _env_id in registered_ids():
    _case = _mixin_case(_env_id)
    setattr(sys.modules[__name__], _case.__name__, _case)
del _env_id, _case


@pytest.fixture
def rollout(random_action):
    def run(adapter, steps: int, seed: int = 1) -> list:
        rng = np.random.default_rng(seed)
        spec = adapter.env.action_spec()
        return [adapter.step(random_action(spec, rng)) for _ in range(steps)]

    return run


def test_step_types_follow_dm_env_semantics(make_env, rollout):
    """FIRST on a fresh adapter, FIRST again right after every LAST, never elsewhere."""
    timesteps = rollout(to_dm_env(make_env("CartPole-v1"), key=3), 80)
    types = [ts.step_type for ts in timesteps]
    assert types[0] is dm_env.StepType.FIRST
    assert dm_env.StepType.LAST in types  # a random CartPole policy falls within 80 steps
    for prev, cur in zip(types, types[1:]):
        assert (cur is dm_env.StepType.FIRST) == (prev is dm_env.StepType.LAST)
    for ts in timesteps:
        if ts.first():
            assert ts.reward is None
            assert ts.discount is None
        else:
            assert ts.reward.dtype == np.float32
            assert ts.discount.dtype == np.float32


def test_same_key_same_episodes_and_keys_of_any_impl(make_env, rollout):
    env = make_env("CartPole-v1")
    first = rollout(to_dm_env(env, key=7), 30)
    again = rollout(to_dm_env(env, key=jax.random.key(7)), 30)
    other = rollout(to_dm_env(env, key=8), 30)
    legacy = rollout(to_dm_env(env, key=jax.random.PRNGKey(7)), 30)
    obs = [np.stack([ts.observation for ts in run]) for run in (first, again, other, legacy)]
    np.testing.assert_array_equal(obs[0], obs[1])  # int seed = typed key of that seed
    np.testing.assert_array_equal(obs[0], obs[3])  # legacy key: same threefry bits
    assert not np.array_equal(obs[0], obs[2])


def test_termination_and_truncation_discounts(make_env):
    """CartPole with a 12-step limit truncates (discount 1); falling terminates (discount 0)."""
    short = to_dm_env(make_env("CartPole-v1", max_episode_steps=12), key=0)
    steps = [short.step(np.int32(i % 2)) for i in range(13)]  # alternating: never falls
    assert [ts.step_type for ts in steps][1:] == [dm_env.StepType.MID] * 11 + [
        dm_env.StepType.LAST
    ]
    assert float(steps[-1].discount) == 1.0
    falls = to_dm_env(make_env("CartPole-v1"), key=0)
    ts = falls.step(np.int32(0))
    while not ts.last():
        ts = falls.step(np.int32(0))  # always push left: falls within ~10 steps
    assert float(ts.discount) == 0.0


def test_specs_are_converted(make_env):
    adapter = to_dm_env(make_env("Catch-bsuite"))
    assert isinstance(adapter.action_spec(), dm_env.specs.DiscreteArray)
    assert adapter.action_spec().num_values == 3
    assert isinstance(adapter.observation_spec(), dm_env.specs.BoundedArray)
    assert adapter.observation_spec().shape == (10, 5)


def test_bad_arguments_raise(make_env):
    with pytest.raises(TypeError, match="`env`"):
        to_dm_env("CartPole-v1")
    with pytest.raises(TypeError, match="`key`"):
        to_dm_env(make_env("CartPole-v1"), key="zero")
    adapter = to_dm_env(make_env("CartPole-v1"))
    adapter.reset()
    with pytest.raises(TypeError, match="`action`"):
        adapter.step(np.float32(1.0))  # a float for a discrete action: no silent cast
    with pytest.raises(ValueError, match="`action` has shape"):
        adapter.step(np.zeros(2, np.int32))


def test_missing_dm_env_names_the_extra(monkeypatch, make_env):
    monkeypatch.setitem(sys.modules, "dm_env", None)
    with pytest.raises(ImportError, match=re.escape("to_dm_env needs: pip install 'jit-env[dm_env]'")):
        compat.to_dm_env(make_env("CartPole-v1"))


def test_wrapper_state_spans_episodes(make_env):
    """The reset after LAST keeps what the jit_env wrappers inside keep."""
    from jit_env import wrappers as W

    adapter = to_dm_env(W.NormalizeObservation(make_env("CartPole-v1", max_episode_steps=3)))
    adapter.reset()
    steps = [adapter.step(0) for _ in range(4)]
    assert steps[2].last()
    assert steps[3].first()
    # the first reset, three steps, the reset that starts the second episode
    assert float(adapter.state.stats.count) == pytest.approx(1e-4 + 5)
