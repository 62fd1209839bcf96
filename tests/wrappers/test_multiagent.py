"""The multi-agent convention: `agent_ids`, `check_env`'s ``agents`` check, `FixedOpponent`,
`agent_spec`, `set_opponent_params`, and the generic wrappers on an agent axis.

`Pennies` is matching pennies played for 4 rounds, small enough that every
reward below is worked out by hand.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import specs, wrappers
from jit_env.testing import check_env


class PenniesState(NamedTuple):
    key: jax.Array
    t: jax.Array


class Pennies(jit_env.Environment):
    """Two agents show 0 or 1; "even" (agent 0) wins +1 when they match, else -1; agent 1
    gets the opposite. Observation of agent i: ``[t, i]``. Terminates after 4 rounds."""

    @property
    def agent_ids(self):
        return ("even", "odd")

    def _obs(self, t):
        return jnp.stack([jnp.stack([t, 0.0]), jnp.stack([t, 1.0])]).astype(jnp.float32)

    def reset(self, key, *, options=None):
        del options
        t = jnp.zeros((), jnp.float32)
        return PenniesState(key, t), jit_env.restart(self._obs(t), shape=(2,))

    def step(self, state, action):
        t = state.t + 1
        win = jnp.where(action[0] == action[1], 1.0, -1.0)
        reward = jnp.stack([win, -win]).astype(jnp.float32)
        done = t >= 4
        ts = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID).astype(jnp.int8),
            reward=reward,
            discount=jnp.where(done, 0.0, 1.0) * jnp.ones(2, jnp.float32),
            observation=self._obs(t),
        )
        return PenniesState(state.key, t), ts

    def observation_spec(self):
        return specs.BoundedArray((2, 2), jnp.float32, 0.0, [[4.0, 0.0], [4.0, 1.0]])

    def action_spec(self):
        return specs.DiscreteArray(np.array([2, 2]), dtype=jnp.int32)

    def reward_spec(self):
        return specs.Array((2,), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((2,), jnp.float32, 0.0, 1.0)


def alternating(params=None):
    """Plays ``(count + params) % 2``, counting its own moves in the carry (recurrent)."""
    return wrappers.Opponent(
        init=lambda: jnp.zeros((), jnp.int32),
        act=lambda p, c, obs, key: (((c + p) % 2).astype(jnp.int32), c + 1),  # noqa: ARG005
        params=jnp.int32(0) if params is None else params,
    )


def test_agent_ids_and_forwarding():
    env = Pennies()
    assert env.agent_ids == ("even", "odd")
    assert wrappers.TimeLimit(env, 3).agent_ids == ("even", "odd")
    assert jit_env.make("CartPole-v1").agent_ids is None
    assert wrappers.FixedOpponent(env, alternating()).agent_ids is None


def test_check_env_accepts_the_convention_batched_or_not():
    check_env(Pennies(), num_steps=12)
    stack = wrappers.EpisodeStatistics(wrappers.VmapAutoReset(Pennies(), 3))
    check_env(stack, num_steps=8, auto_reset=True, checks=["agents", "specs", "returns"])


def test_check_env_rejects_a_scalar_reward_or_bad_ids():
    class ScalarReward(jit_env.Wrapper):
        def reward_spec(self):
            return specs.Array((), jnp.float32)

    class OneId(jit_env.Wrapper):
        @property
        def agent_ids(self):
            return ("solo",)

    report = check_env(ScalarReward(Pennies()), num_steps=4, raise_on_failure=False,
                       checks=["agents"])
    assert "leading agent axis of size 2" in report.failures["agents"][0]
    report = check_env(OneId(Pennies()), num_steps=4, raise_on_failure=False, checks=["agents"])
    assert ">= 2 distinct" in report.failures["agents"][0]


def test_check_env_agents_looks_inside_dict_observations():
    """A Dict observation's leaves each need the agent axis (the Dict itself has no shape).

    Regression: the check treated the Dict spec as one leaf of shape () and failed every
    multi-agent environment with a Dict observation (``from_pgx``'s games).
    """

    class DictObservation(jit_env.Wrapper):
        def __init__(self, env, mask_shape):
            super().__init__(env)
            self._mask_shape = mask_shape

        def observation_spec(self):
            return specs.Dict(observation=self._env.observation_spec(),
                              action_mask=specs.Array(self._mask_shape, jnp.bool_))

        def _wrap(self, out):
            state, ts = out
            mask = jnp.ones(self._mask_shape, jnp.bool_)
            return state, dataclasses.replace(ts, observation={"observation": ts.observation,
                                                              "action_mask": mask})

        def reset(self, key, *, options=None):
            return self._wrap(self._env.reset(key, options=options))

        def step(self, state, action):
            return self._wrap(self._env.step(state, action))

    good = check_env(DictObservation(Pennies(), (2, 2)), num_steps=4, checks=["agents"])
    assert good.ok
    bad = check_env(DictObservation(Pennies(), (3, 2)), num_steps=4,
                    raise_on_failure=False, checks=["agents"])
    assert "has shape (3, 2)" in bad.failures["agents"][0]


def test_episode_statistics_per_agent():
    env = wrappers.EpisodeStatistics(wrappers.AutoReset(Pennies()))
    state, _ = env.reset(jax.random.key(0))
    # Rounds: match, differ, match, match -> even +1 -1 +1 +1 = 2, odd -2.
    for a in ([0, 0], [0, 1], [1, 1], [0, 0]):
        state, ts = env.step(state, jnp.asarray(a, jnp.int32))
    np.testing.assert_array_equal(ts.extras["episode_return"], [2.0, -2.0])
    assert bool(ts.extras["episode_done"])
    assert int(ts.extras["episode_length"]) == 4


def test_fixed_opponent_plays_the_other_agent_by_hand():
    env = wrappers.FixedOpponent(Pennies(), alternating(), agent=1)
    assert env.observation_spec() == specs.BoundedArray((2,), jnp.float32, 0.0, [4.0, 1.0])
    assert int(env.action_spec().num_values) == 2
    assert env.reward_spec().shape == ()
    state, ts = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(ts.observation, [0.0, 1.0])  # agent 1's slice
    step = jax.jit(env.step)
    # Opponent ("even") plays 0, 1, 0, 1; learner ("odd") plays 0, 0, 0, 0:
    # match, differ, match, differ -> odd gets -1, +1, -1, +1.
    rewards = []
    for _ in range(4):
        state, ts = step(state, jnp.int32(0))
        rewards.append(float(ts.reward))
        np.testing.assert_array_equal(ts.extras["opponent_reward"], [-ts.reward])
    assert rewards == [-1.0, 1.0, -1.0, 1.0]
    assert bool(ts.last())
    assert float(ts.discount) == 0.0


def test_opponent_params_survive_auto_reset_and_the_carry_restarts():
    env = wrappers.EpisodeStatistics(
        wrappers.AutoReset(wrappers.FixedOpponent(Pennies(), alternating(), agent=1))
    )
    state, _ = env.reset(jax.random.key(0))
    state = jax.jit(wrappers.set_opponent_params)(state, jnp.int32(1))  # now plays 1, 0, 1, 0
    step = jax.jit(env.step)
    returns = []
    for _ in range(8):  # two episodes
        state, ts = step(state, jnp.int32(0))
        returns.append(float(ts.reward))
    # Both episodes: differ, match, differ, match -> +1, -1, +1, -1 (carry restarted at 0).
    assert returns == [1.0, -1.0, 1.0, -1.0] * 2
    assert float(ts.extras["episode_return"]) == 0.0


def test_stochastic_opponent_gets_fresh_keys_deterministic_one_does_not_split():
    seen = []
    coin = wrappers.Opponent(
        init=lambda: (),
        act=lambda p, c, obs, key: (jax.random.bernoulli(key).astype(jnp.int32), c),  # noqa: ARG005
        stochastic=True,
    )
    env = wrappers.FixedOpponent(Pennies(), coin, agent=0)
    state, _ = env.reset(jax.random.key(5))
    step = jax.jit(env.step)
    for _ in range(200):
        state, ts = step(state, jnp.int32(0))
        seen.append(float(ts.reward))
        if bool(ts.last()):
            state, _ = env.reset(jax.random.fold_in(state.opponent_key, 1))
    wins = np.mean(np.asarray(seen) > 0)
    assert 0.35 < wins < 0.65  # a fair coin over 200 rounds (4 sigma ~ 0.14)
    det = wrappers.FixedOpponent(Pennies(), alternating())
    s, _ = det.reset(jax.random.key(0))
    s2, _ = det.step(s, jnp.int32(0))
    np.testing.assert_array_equal(jax.random.key_data(s2.opponent_key),
                                  jax.random.key_data(s.opponent_key))


def test_fixed_opponent_passes_check_env():
    check_env(wrappers.FixedOpponent(Pennies(), alternating()), num_steps=12)


def test_fixed_opponent_errors():
    with pytest.raises(ValueError, match="multi-agent"):
        wrappers.FixedOpponent(jit_env.make("CartPole-v1"), alternating())
    with pytest.raises(ValueError, match=r"`agent` must be an int in \[0, 2\)"):
        wrappers.FixedOpponent(Pennies(), alternating(), agent=2)
    with pytest.raises(TypeError, match="Opponent"):
        wrappers.FixedOpponent(Pennies(), print)
    env = wrappers.FixedOpponent(Pennies(), alternating())
    state, _ = env.reset(jax.random.key(0))
    with pytest.raises(ValueError, match="one agent's action"):
        env.step(state, jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match="no FixedOpponentState"):
        wrappers.set_opponent_params(Pennies().reset(jax.random.key(0))[0], 1)


def test_agent_spec():
    bounded = specs.BoundedArray((2, 3), jnp.float32, 0.0, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    one = wrappers.agent_spec(bounded, 1)
    assert one.shape == (3,)
    assert one.maximum.tolist() == [4.0, 5.0, 6.0]
    assert wrappers.agent_spec(specs.DiscreteArray(np.array([3, 5])), 1).num_values == 5
    tree = wrappers.agent_spec(specs.Dict(a=specs.Array((2, 4), jnp.int32)))
    assert isinstance(tree, specs.Dict)
    assert tree.as_spec_struct()["a"].shape == (4,)
    with pytest.raises(ValueError, match="rank 0"):
        wrappers.agent_spec(specs.Array((), jnp.float32))
    with pytest.raises(ValueError, match="index"):
        wrappers.agent_spec(bounded, 2)
    with pytest.raises(TypeError, match="Batched"):
        wrappers.agent_spec(specs.Batched(bounded, 4))
