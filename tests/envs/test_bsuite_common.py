"""Tests every bsuite environment shares: registry, specs, keys, rendering, domain
randomisation, input errors (the per-environment dynamics are in ``test_bsuite.py``)."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType
from jit_env.envs import bsuite
from jit_env.envs.bsuite import (
    BSUITE_IDS,
    Catch,
    CatchParams,
    DeepSea,
    DeepSeaParams,
    DiscountingChainParams,
    MemoryChain,
    MemoryChainParams,
    SimpleBanditParams,
    UmbrellaChain,
    UmbrellaChainParams,
)

RTOL = 1e-6  # float32 here vs the single-env float32 run: a few ulp at most
ENVS = {env_id: jit_env.envs.make(env_id).unwrapped for env_id in BSUITE_IDS}  # jitted once


def test_the_package_ids_are_all_registered_bsuite_ids():
    registered = sorted(i for i in jit_env.envs.registered_ids() if i.endswith("-bsuite"))
    assert registered == sorted(BSUITE_IDS)
    assert len(BSUITE_IDS) == 6


@pytest.fixture(params=BSUITE_IDS)
def env_id(request):
    return request.param


def test_registered_and_made(env_id):
    env = jit_env.envs.make(env_id)
    cls = getattr(bsuite, env_id.removesuffix("-bsuite"))
    assert isinstance(env.unwrapped, cls)


def test_specs(env_id):
    env = ENVS[env_id]
    obs_spec, action_spec = env.observation_spec(), env.action_spec()
    assert obs_spec.dtype == jnp.float32
    assert action_spec.dtype == jnp.int32
    assert isinstance(action_spec, jit_env.specs.DiscreteArray)
    state, ts = env.reset(jax.random.key(0))
    assert ts.observation.shape == obs_spec.shape
    assert bool(obs_spec.contains(ts.observation))
    state, ts = env.step(state, action_spec.sample(jax.random.key(1)))
    assert bool(obs_spec.contains(ts.observation))
    assert bool(env.reward_spec().contains(ts.reward))
    assert bool(env.discount_spec().contains(ts.discount))


def test_deterministic_steps_keep_the_key(env_id):
    env = ENVS[env_id]
    state, _ = env.reset(jax.random.key(0))
    new, _ = env.step(state, jnp.int32(1))
    same = np.array_equal(jax.random.key_data(new.key), jax.random.key_data(state.key))
    assert same == (env_id != "UmbrellaChain-bsuite")  # only its steps are random


@pytest.mark.parametrize("impl", ["unsafe_rbg", "legacy"])
@pytest.mark.parametrize("env_id", ["Catch-bsuite", "UmbrellaChain-bsuite"])  # they split keys
def test_key_implementations(env_id, impl):
    """Keys keep their implementation through reset and step (check_env's `key_impls`
    covers every environment and implementation for exceptions)."""
    env = ENVS[env_id]
    key = jax.random.PRNGKey(0) if impl == "legacy" else jax.random.key(0, impl=impl)
    state, _ = env.reset(key)
    state, ts = env.step(state, jnp.int32(1))
    assert int(ts.step_type) == StepType.MID
    assert state.key.dtype == key.dtype
    assert state.key.shape == key.shape


def test_render(env_id):
    """render is eager, jittable and vmappable: jit(vmap(render)) equals eager per state."""
    env = ENVS[env_id]
    singles = [env.reset(jax.random.key(seed))[0] for seed in (0, 1)]
    images = jax.jit(jax.vmap(env.render))(jax.tree.map(lambda *x: jnp.stack(x), *singles))
    for i, state in enumerate(singles):
        image = env.render(state)
        assert image.dtype == jnp.uint8
        assert image.ndim == 3
        assert image.shape[-1] == 3
        np.testing.assert_array_equal(images[i], image)
        assert np.asarray(image).max() > 0  # something is drawn


def test_render_shows_the_state():
    env = ENVS["Catch-bsuite"]
    state, _ = env.reset(jax.random.key(0))
    moved, _ = env.step(state, jnp.int32(0))
    assert np.any(np.asarray(env.render(state)) != np.asarray(env.render(moved)))


DOMAIN_RANDOMISATION = {
    # env id: (two different parameter sets, actions)
    "Catch-bsuite": (CatchParams(1.0, -1.0), CatchParams(3.0, -5.0), [1] * 9),
    "DeepSea-bsuite": (DeepSeaParams(mapping_seed=0), DeepSeaParams(0.5, True, 9), [1] * 8),
    "MemoryChain-bsuite": (MemoryChainParams(2), MemoryChainParams(4), [1] * 5),
    "UmbrellaChain-bsuite": (UmbrellaChainParams(3), UmbrellaChainParams(6), [1] * 6),
    "DiscountingChain-bsuite": (DiscountingChainParams(0), DiscountingChainParams(1), [1] * 4),
    "SimpleBandit-bsuite": (SimpleBanditParams(0), SimpleBanditParams(1), [4]),
}


def test_domain_randomisation(env_id):
    """A vmapped batch of params steps differently, each element as its single-env run."""
    env = ENVS[env_id]
    p0, p1, actions = DOMAIN_RANDOMISATION[env_id]
    actions = jnp.asarray(actions, jnp.int32)
    batch = jax.tree.map(lambda a, b: jnp.stack([jnp.asarray(a), jnp.asarray(b)]), p0, p1)

    def run(params):  # one compiled scan for the whole batch
        state, first = env.reset(jax.random.key(3), options=params)
        state, timesteps = jax.lax.scan(env.step, state, actions)
        return state, first, timesteps

    b_state, b_first, b_ts = jax.jit(jax.vmap(run))(batch)
    assert np.asarray(b_state.params[0]).shape == (2,)  # params travel in the state
    singles = []
    for i, params in enumerate((p0, p1)):  # unbatched runs
        state, first = env.reset(jax.random.key(3), options=params)
        rewards, observations = [], []
        for a in actions:
            state, ts = env.step(state, a)
            rewards.append(float(ts.reward))
            observations.append(np.asarray(ts.observation))
        np.testing.assert_allclose(np.asarray(b_ts.reward[i]), rewards, rtol=RTOL)
        np.testing.assert_allclose(np.asarray(b_ts.observation[i]), observations, rtol=RTOL)
        np.testing.assert_array_equal(np.asarray(b_first.observation[i]), first.observation)
        singles.append((np.array(rewards), np.array(observations)))
    differ = np.any(singles[0][0] != singles[1][0]) or np.any(singles[0][1] != singles[1][1])
    assert differ, "the two parameter sets should give different episodes"


def test_bad_inputs():
    env = ENVS["Catch-bsuite"]
    state, _ = env.reset(jax.random.key(0))
    with pytest.raises(ValueError, match="`action` must have shape"):
        env.step(state, jnp.zeros(2, jnp.int32))
    with pytest.raises(TypeError, match="integer dtype"):
        env.step(state, jnp.float32(1))
    with pytest.raises(TypeError, match="`options` must be None or a CatchParams"):
        env.reset(jax.random.key(0), options=DeepSeaParams())
    with pytest.raises(TypeError, match="options.mapping_seed"):
        DeepSea().reset(jax.random.key(0), options=DeepSeaParams(mapping_seed=1.5))
    with pytest.raises(ValueError, match="options.memory_length` must be a scalar"):
        MemoryChain().reset(jax.random.key(0), options=MemoryChainParams(jnp.ones(2, jnp.int32)))
    with pytest.raises(ValueError, match="`rows` must be an integer >= 2"):
        Catch(rows=1)
    with pytest.raises(ValueError, match="`size`"):
        DeepSea(size=0)
    with pytest.raises(ValueError, match="`num_bits`"):
        MemoryChain(num_bits=0)
    with pytest.raises(ValueError, match="`n_distractor`"):
        UmbrellaChain(n_distractor=-1)


def test_all_is_sorted_and_public():
    public = {
        name
        for name, value in vars(bsuite).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "register"
        and name != "annotations"
    }
    assert bsuite.__all__ == sorted(bsuite.__all__)
    assert set(bsuite.__all__) == public
