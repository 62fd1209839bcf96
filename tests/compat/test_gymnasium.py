"""Tests of `jit_env.compat.to_gymnasium`; gymnasium's own ``check_env`` is the acceptance test."""

from __future__ import annotations

import re
import sys
import warnings

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jit_env import _core, compat, specs
from jit_env.compat import make_gymnasium_wrapper, to_gymnasium
from jit_env.envs import make, registered_ids
from jit_env.envs._scalar_specs import ScalarRewardDiscount

_NORMALISED_ACTIONS_WARNING = "we recommend using a symmetric and normalized space"


def _normalised(space: gym.Space) -> bool:
    """gymnasium's ``check_space_limit`` rule for a Box action space (no warning)."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        return True
    low, high = space.low, space.high
    return not (
        np.any((low != 0) & (np.abs(low) != np.abs(high))) or np.any(low < -1) or np.any(high > 1)
    )


_SINGLE_AGENT_IDS = [i for i in registered_ids() if "/" not in i and make(i).agent_ids is None]


def test_multi_agent_ids_are_refused_with_a_reason():
    """A multi-agent id (agents on the leading axis) has no gymnasium view; the error says so."""
    # The bundled ids (a suite's ids, registered by other tests of this worker, are not ours).
    multi = [i for i in registered_ids() if i not in _SINGLE_AGENT_IDS and "/" not in i]
    assert multi, "no multi-agent id registered"
    for env_id in multi:
        with pytest.raises(ValueError, match="scalar `reward_spec"):
            to_gymnasium(make(env_id))


@pytest.mark.parametrize("env_id", _SINGLE_AGENT_IDS)
def test_gymnasium_check_env(env_id, make_env):
    """check_env passes with no warning at all, except gymnasium's advice to normalise a
    Box action space, which it gives for gymnasium's own Pendulum-v1 too (asserted below,
    not ignored)."""
    adapter = to_gymnasium(make_env(env_id))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(adapter)
    messages = [str(w.message) for w in caught]
    expected = [] if _normalised(adapter.action_space) else [_NORMALISED_ACTIONS_WARNING]
    assert len(messages) == len(expected), messages
    for message, fragment in zip(messages, expected):
        assert fragment in message


def test_gymnasiums_own_pendulum_gets_the_same_action_space_advice():
    with pytest.warns(UserWarning, match=_NORMALISED_ACTIONS_WARNING):
        check_env(gym.make("Pendulum-v1").unwrapped)


def _episode(adapter, seed, actions):
    obs, _ = adapter.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, reward, terminated, truncated, _ = adapter.step(a)
        out.append(np.concatenate([obs, [reward, terminated, truncated]]))
        if terminated or truncated:
            break
    return out


def test_reset_seed_is_deterministic_and_seeds_differ(make_env):
    adapter = to_gymnasium(make_env("CartPole-v1"))
    actions = np.random.default_rng(0).integers(2, size=40).astype(np.int32)
    first = _episode(adapter, 5, actions)
    again = _episode(adapter, 5, actions)
    other = _episode(adapter, 6, actions)
    assert len(first) == len(again)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    # Unseeded resets continue the chain: a different episode from the seeded one.
    adapter.reset(seed=5)
    unseeded, _ = adapter.reset()
    assert not np.array_equal(unseeded, first[0])


def test_terminated_and_truncated_are_split_by_discount(make_env):
    """A 12-step CartPole limit truncates (discount 1); falling over terminates (discount 0)."""
    limited = to_gymnasium(make_env("CartPole-v1", max_episode_steps=12))
    limited.reset(seed=0)
    flags = [limited.step(np.int32(i % 2))[2:4] for i in range(12)]  # alternating: no fall
    assert flags[:11] == [(False, False)] * 11
    assert flags[11] == (False, True)
    falls = to_gymnasium(make_env("CartPole-v1"))
    falls.reset(seed=0)
    for _ in range(100):  # always pushing left topples the pole in ~10 steps
        _, _, terminated, truncated, _ = falls.step(0)
        if terminated or truncated:
            break
    assert (terminated, truncated) == (True, False)


class _ExtrasEnv(ScalarRewardDiscount, _core.Environment):
    """A counter whose TimeStep extras carry the count (to test ``info``)."""

    def reset(self, key, *, options=None):
        del options
        state = {"key": key, "count": jnp.zeros((), jnp.int32)}
        return state, _core.restart(jnp.zeros((1,), jnp.float32), extras={"count": state["count"]})

    def step(self, state, action):
        count = state["count"] + action
        obs = count.astype(jnp.float32)[None]
        extras = {"count": count}
        state = {"key": state["key"], "count": count}
        timestep = jax.lax.cond(
            count >= 3,
            lambda: _core.termination(jnp.float32(1.0), obs, extras=extras),
            lambda: _core.transition(jnp.float32(0.0), obs, extras=extras),
        )
        return state, timestep

    def observation_spec(self):
        return specs.BoundedArray((1,), jnp.float32, 0.0, 10.0)

    def action_spec(self):
        return specs.DiscreteArray(2)


def test_info_carries_extras_as_fresh_numpy():
    adapter = to_gymnasium(_ExtrasEnv())
    _, info = adapter.reset(seed=0)
    assert info == {"count": 0}
    _, reward, terminated, truncated, info = adapter.step(1)
    assert isinstance(info["count"], np.ndarray)
    assert int(info["count"]) == 1
    assert (reward, terminated, truncated) == (0.0, False, False)
    _, _, _, _, info2 = adapter.step(1)
    assert info2["count"] is not info["count"]
    assert int(info["count"]) == 1


def test_render_rgb_array(make_env):
    adapter = to_gymnasium(make_env("Catch-bsuite"), render_mode="rgb_array")
    adapter.reset(seed=0)
    frame = adapter.render()
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8
    assert frame.ndim == 3
    assert frame.shape[2] == 3
    assert to_gymnasium(make_env("Catch-bsuite")).render() is None  # no render_mode
    with pytest.raises(ValueError, match="`render_mode`"):
        to_gymnasium(make_env("Catch-bsuite"), render_mode="human")
    assert to_gymnasium(_ExtrasEnv()).metadata["render_modes"] == []


def test_options_are_environment_parameters(make_env):
    env = make_env("CartPole-v1")
    params = env.unwrapped.reset(jax.random.key(0))[0].params
    adapter = to_gymnasium(env, options=params)
    obs, _ = adapter.reset(seed=1)
    same, _ = to_gymnasium(env).reset(seed=1, options=params)
    np.testing.assert_array_equal(obs, same)


def test_bad_arguments_raise(make_env):
    adapter = to_gymnasium(make_env("CartPole-v1"))
    with pytest.raises(gym.error.ResetNeeded):
        to_gymnasium(make_env("CartPole-v1")).step(0)
    with pytest.raises(ValueError, match="`seed`"):
        adapter.reset(seed=2**32)
    adapter.reset(seed=0)
    with pytest.raises(TypeError, match="`action`"):
        adapter.step(0.5)
    with pytest.raises(TypeError, match="`env`"):
        to_gymnasium(gym.make("CartPole-v1"))


def test_legacy_gymnasium_wrapper_builds_the_same_adapter(make_env):
    cls, converter = make_gymnasium_wrapper()
    legacy = cls(make_env("CartPole-v1"), 3)  # 0.1.5: ToGym(env, seed)
    obs, _ = legacy.reset()
    expected, _ = to_gymnasium(make_env("CartPole-v1")).reset(seed=3)
    np.testing.assert_array_equal(obs, expected)
    assert converter is compat.spec_to_space


def test_missing_gymnasium_names_the_extra(monkeypatch, make_env):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    for fn, args in [
        (compat.to_gymnasium, (make_env("CartPole-v1"),)),
        (compat.to_gymnasium_vector, (make_env("CartPole-v1"), 2)),
        (compat.spec_to_space, (specs.Array((), jnp.float32),)),
        (compat.make_gymnasium_wrapper, ()),
    ]:
        message = f"{fn.__name__} needs: pip install 'jit-env[gymnasium]'"
        with pytest.raises(ImportError, match=re.escape(message)):
            fn(*args)


def test_wrapper_state_spans_resets(make_env):
    """Like a gymnasium wrapper object, NormalizeObservation inside keeps its statistics."""
    from jit_env import wrappers as W

    adapter = to_gymnasium(W.NormalizeObservation(make_env("CartPole-v1")))
    first, _ = adapter.reset(seed=0)
    adapter.step(0)
    again, _ = adapter.reset(seed=0)
    # reset + step + reset: three observations in the running statistics
    assert float(adapter.state.stats.count) == pytest.approx(1e-4 + 3)
    assert not np.array_equal(first, again)  # normalised with the kept statistics
    plain = to_gymnasium(make_env("CartPole-v1"))
    obs, _ = plain.reset(seed=0)
    plain.step(1)
    np.testing.assert_array_equal(plain.reset(seed=0)[0], obs)  # nothing kept: same episode
