"""Tests of `jit_env.compat.from_craftax` against Craftax itself (skipped without craftax).

Reference: craftax 1.6.1. Expected trajectories come from Craftax's own
``reset`` / ``step`` (jitted by Craftax) with the keys split as `from_craftax`
documents (``key, sub = split(key)`` before every reset and step). Craftax's
world generation takes about a minute to compile on a CPU, so everything that
compiles is slow; the fast tests build (trace) one environment at most.
"""

from __future__ import annotations

import dataclasses
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, compat, specs
from jit_env.testing import check_env

craftax_env_module = pytest.importorskip("craftax.craftax_env")

_ID = "Craftax-Classic-Symbolic-v1"
_ENVS: dict = {}


def _craftax(craftax_id=_ID, auto_reset=False):
    if (craftax_id, auto_reset) not in _ENVS:
        _ENVS[craftax_id, auto_reset] = craftax_env_module.make_craftax_env_from_name(
            craftax_id, auto_reset=auto_reset)
    return _ENVS[craftax_id, auto_reset]


def _adapter(**overrides):
    key = tuple(sorted(overrides.items()))
    if key not in _ENVS:
        _ENVS[key] = compat._craftax.make_craftax(_ID, **overrides)
    return _ENVS[key]


def _craftax_loop(craftax_env, params, key, actions):
    """Craftax's own trajectory: (obs, reward, done, discount) of every step."""
    key, sub = jax.random.split(key)
    obs, state = craftax_env.reset(sub, params)
    out = []
    for action in actions:
        key, sub = jax.random.split(key)
        obs, state, reward, done, info = craftax_env.step(sub, state, action, params)
        out.append((np.asarray(obs), float(reward), bool(done), float(info["discount"])))
    return out


def test_specs_are_craftaxs():
    env = _adapter()
    assert env.observation_spec() == specs.BoundedArray((1345,), np.float32, 0.0, 1.0)
    # 1345 = 7 * 9 * (17 blocks + 4 mobs) + 22 inventory (craftax_classic/envs/craftax_symbolic_env.py)
    assert 7 * 9 * (17 + 4) + 22 == 1345
    assert env.action_spec() == specs.DiscreteArray(17, dtype=np.int32)
    assert env.discount_spec() == specs.BoundedArray((), np.float32, 0.0, 1.0, name="discount")


def test_registers_every_craftax_id_without_a_time_limit():
    ids = compat.register_craftax_ids()
    assert ids == ("craftax/Craftax-Classic-Pixels-v1", "craftax/Craftax-Classic-Symbolic-v1",
                   "craftax/Craftax-Pixels-v1", "craftax/Craftax-Symbolic-v1")
    # (That make_craftax_env_from_name builds each: the slow check_env tests.)
    for env_id in ids:
        record = jit_env.envs.spec(env_id)
        assert record.max_episode_steps is None
        assert dict(record.kwargs) == {"craftax_id": env_id.split("/", 1)[1]}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=re.escape(
            "`craftax_id` 'Craftax-Classic-Symbolic-AutoReset-v1' is not a Craftax environment; "
            "Craftax has ['Craftax-Classic-Pixels-v1'")):
        compat._craftax.make_craftax("Craftax-Classic-Symbolic-AutoReset-v1")
    with pytest.raises(KeyError, match=r"No environment 'Crafter-v1' in suite 'craftax'"):
        jit_env.make("craftax/Crafter-v1")
    with pytest.raises(TypeError, match=r"\['max_steps'\] are not fields of EnvParams; its fields: \['max_timesteps'"):
        compat._craftax.make_craftax(_ID, max_steps=5)
    with pytest.raises(TypeError, match=r"must be a Craftax environment \(with `reset_env`\), got str"):
        compat.from_craftax("Craftax-Classic-Symbolic-v1")
    with pytest.raises(TypeError, match="`env_params` must be a Craftax EnvParams"):
        compat.from_craftax(_craftax(), env_params={"max_timesteps": 5})


def test_an_unconvertible_space_is_named():
    base = type(_craftax())

    class OddSpace:
        shape, dtype = (3,), np.float32

    class Odd(base):
        def observation_space(self, params):
            del params
            return OddSpace()

    with pytest.raises(TypeError, match="Craftax observation space OddSpace has no jit_env spec"):
        compat.from_craftax(Odd())


def test_missing_craftax_names_the_extra(monkeypatch):
    for name in ("craftax", "craftax.craftax_env", "craftax.environment_base",
                 "craftax.environment_base.spaces"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=re.escape("from_craftax needs: pip install 'jit-env[craftax]'")):
        compat.from_craftax(object())
    with pytest.raises(ImportError, match=re.escape("register_craftax_ids needs: pip install 'jit-env[craftax]'")):
        compat.register_craftax_ids()


@pytest.mark.slow  # compiles Craftax
def test_trajectory_equals_craftaxs_and_the_time_limit_is_a_truncation():
    """With max_timesteps=6 Craftax's own step says done with discount 0 at step 6 and its
    auto-reset returns the next world's observation; ours is LAST, discount 1, with the
    observation step_env computed (equal to the no-auto-reset env's)."""
    env = _adapter(max_timesteps=6)
    params = env._params
    actions = jnp.array([0, 1, 2, 3, 4, 5], jnp.int32)  # noop, left, right, up, down, do
    key = jax.random.key(5)
    expected = _craftax_loop(_craftax(), params, key, actions)
    auto = _craftax_loop(_craftax(auto_reset=True), params, key, actions)

    def run(key):
        state, first = env.reset(key)
        return jax.lax.scan(lambda s, a: env.step(s, a), state, actions)[1]

    ts = jax.jit(run)(key)
    for t, (obs, reward, done, _) in enumerate(expected):
        np.testing.assert_array_equal(ts.observation[t], obs)  # the same integer-valued program
        assert float(ts.reward[t]) == reward
        assert (int(ts.step_type[t]) == StepType.LAST) == done
    assert [d for *_, d, _ in expected] == [False] * 5 + [True]
    assert expected[-1][3] == 0.0  # Craftax: the time limit has discount 0
    np.testing.assert_array_equal(ts.discount, np.ones(6))  # ours: a truncation
    # Craftax's auto-reset loses the final observation (it is the next world's first one).
    assert not np.array_equal(auto[-1][0], expected[-1][0])
    np.testing.assert_array_equal(auto[-2][0], expected[-2][0])


@pytest.mark.slow  # compiles Craftax
def test_death_is_a_termination_even_at_the_time_limit():
    env = _adapter(max_timesteps=1)
    state, _ = jax.jit(env.reset)(jax.random.key(2))
    step = jax.jit(env.step)
    _, ts = step(state, jnp.int32(0))  # alive at the time limit: truncation
    assert int(ts.step_type) == StepType.LAST
    assert float(ts.discount) == 1.0
    dead = state._replace(env_state=state.env_state.replace(player_health=jnp.int32(0)))
    _, ts = step(dead, jnp.int32(0))  # dead (health 0, is_game_over) at the time limit
    assert int(ts.step_type) == StepType.LAST
    assert float(ts.discount) == 0.0
    later = dataclasses.replace(env._params, max_timesteps=100)
    state, _ = jax.jit(lambda k: env.reset(k, options=later))(jax.random.key(2))
    dead = state._replace(env_state=state.env_state.replace(player_health=jnp.int32(0)))
    _, ts = step(dead, jnp.int32(0))  # dead before the limit
    assert int(ts.step_type) == StepType.LAST
    assert float(ts.discount) == 0.0


@pytest.mark.slow  # compiles Craftax under jit and vmap, and runs it eagerly
def test_reset_and_step_eager_jit_and_vmap(variant_fn):
    env = _adapter()
    key = jax.random.key(9)
    state, ts = variant_fn(env.reset)(key)
    state, ts = variant_fn(env.step)(state, jnp.int32(5))
    (obs, reward, done, _), = _craftax_loop(_craftax(), env._params, key, [5])
    np.testing.assert_array_equal(ts.observation, obs)
    assert float(ts.reward) == reward
    assert int(ts.step_type) == StepType.MID
    assert not done


@pytest.mark.slow  # compiles Craftax Classic for every check
def test_classic_symbolic_passes_check_env():
    env = jit_env.make("craftax/Craftax-Classic-Symbolic-v1", max_timesteps=8)
    report = check_env(env, num_steps=10, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


_CHEAP_CHECKS = ("returns", "specs", "step_types", "discount_range", "finite", "scan_safe",
                 "state_key", "single_trace")


@pytest.mark.slow  # Craftax (full) takes minutes to compile on a CPU
@pytest.mark.parametrize("craftax_id", ["Craftax-Classic-Pixels-v1", "Craftax-Symbolic-v1",
                                        "Craftax-Pixels-v1"])
def test_every_craftax_id_passes_check_env(craftax_id):
    env = jit_env.make(f"craftax/{craftax_id}", max_timesteps=4)
    report = check_env(env, num_steps=5, checks=_CHEAP_CHECKS)
    assert report.ok, report.failures


@pytest.mark.slow  # trains (compiles Craftax inside PPO)
def test_ppo_trains_on_craftax_classic_symbolic(ppo_run):
    from jit_env.agents import PPOConfig

    config = PPOConfig(num_envs=4, num_steps=16, total_steps=256, update_epochs=1,
                       num_minibatches=1, hidden_sizes=(16,), anneal_lr=False)
    env = jit_env.make("craftax/Craftax-Classic-Symbolic-v1", max_timesteps=20)
    # 20-step episodes: 4 envs x 64 steps finish episodes in every update but the first.
    # Craftax's reward is +1 per first achievement and -0.1 per health point lost, so a
    # 20-step return is at most 22 (achievements in Classic).
    ppo_run(config, env=env, high=22.0, min_updates_with_episodes=config.num_updates - 1)
