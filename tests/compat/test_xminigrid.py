"""`from_xminigrid` / ``"xminigrid/<id>"`` against xminigrid 0.9.3's own ``reset`` / ``step``."""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

xminigrid = pytest.importorskip("xminigrid")

import jit_env  # noqa: E402
from jit_env import StepType, specs, wrappers  # noqa: E402
from jit_env.compat import from_xminigrid, register_xminigrid_ids  # noqa: E402
from jit_env.compat._xminigrid import make_xminigrid  # noqa: E402
from jit_env.testing import check_env  # noqa: E402

# MiniGrid-Empty-5x5: the agent starts at (1, 1) facing right (direction 1), the goal
# is at (3, 3) (xminigrid/envs/minigrid/empty.py); actions 0 forward, 1 turn right,
# 2 turn left (xminigrid/core/actions.py take_action). Row 0 walks to the goal
# (termination on step 5), row 1 only turns (truncation at max_steps 6).
_MAX_STEPS = 6
_ACTIONS = np.array([(0, 0, 1, 0, 0, 2), (1, 2, 1, 2, 1, 2)], np.int32)
_LAST_AT = (5, 6)


@functools.cache
def _env():
    return make_xminigrid("MiniGrid-Empty-5x5", max_steps=_MAX_STEPS)


def _adapter_rollout(env):
    def run(key, actions):
        state, first = env.reset(key)
        _, steps = jax.lax.scan(lambda s, a: env.step(s, a), state, actions)
        return jax.tree.map(lambda x, xs: jnp.concatenate([x[None], xs]), first, steps)
    return run


@functools.cache
def _xminigrid_reference():
    """xminigrid's own loop with the adapter's key split (``jax.random.split(key)[1]``)."""
    env = _env()
    xenv, params = env.xminigrid_env, env.default_params

    @jax.jit
    def run(key, actions):
        first = xenv.reset(params, jax.random.split(key)[1])
        _, steps = jax.lax.scan(lambda ts, a: (xenv.step(params, ts, a),) * 2, first, actions)
        return jax.tree.map(lambda x, xs: jnp.concatenate([x[None], xs]), first, steps)
    return run


def _jit(fn, *batched):
    """The ``jit`` form of the ``variant`` fixture (tests/conftest.py), alone."""
    jitted = jax.jit(fn)
    outs = [jitted(*jax.tree.map(lambda a, i=i: a[i], batched)) for i in range(2)]
    return jax.tree.map(lambda *x: jnp.stack(x), *outs)


def test_trajectory_equals_xminigrid_jitted():
    _check_trajectory(_jit)


@pytest.mark.slow  # xminigrid compiles slowly and runs eagerly slower (~45 s for both)
def test_trajectory_equals_xminigrid(variant):
    _check_trajectory(variant)


def _check_trajectory(variant):
    keys = jax.random.split(jax.random.key(5), 2)
    got = variant(_adapter_rollout(_env()), keys, jnp.asarray(_ACTIONS))
    for b, last in enumerate(_LAST_AT):
        ref = _xminigrid_reference()(keys[b], jnp.asarray(_ACTIONS[b]))
        n = last + 1  # up to the episode's end (the adapter is not stepped on after LAST)
        np.testing.assert_array_equal(got.observation[b, :n], ref.observation[:n])
        np.testing.assert_array_equal(got.reward[b, :n], ref.reward[:n])
        np.testing.assert_array_equal(got.discount[b, :n], ref.discount[:n])
        # xminigrid FIRST 0 / MID 1 / LAST 2 (xminigrid/types.py) are jit_env's values
        np.testing.assert_array_equal(got.step_type[b, :n], ref.step_type[:n])
    # by hand: termination on step 5, reward 1 - 0.9 * 5 / 6 (xminigrid/environment.py),
    # discount 0; truncation on step 6 with discount 1 and no reward.
    np.testing.assert_array_equal(got.step_type[0, :6], [0, 1, 1, 1, 1, 2])
    np.testing.assert_allclose(got.reward[0, 5], 1.0 - 0.9 * 5 / 6, rtol=1e-6)  # float32
    assert float(got.discount[0, 5]) == 0.0
    np.testing.assert_array_equal(got.step_type[1], [0, 1, 1, 1, 1, 1, 2])
    assert float(got.discount[1, 6]) == 1.0
    np.testing.assert_array_equal(got.reward[1], np.zeros(7))
    assert got.step_type.dtype == np.int8


def test_specs():
    env = _env()
    obs_spec = env.observation_spec()
    assert isinstance(obs_spec, specs.DiscreteArray)
    assert obs_spec.shape == (7, 7, 2)
    assert obs_spec.dtype == np.uint8
    # layer 0: 13 tiles, layer 1: 12 colours (xminigrid/core/constants.py)
    np.testing.assert_array_equal(obs_spec.num_values[..., 0], np.full((7, 7), 13))
    np.testing.assert_array_equal(obs_spec.num_values[..., 1], np.full((7, 7), 12))
    assert env.action_spec() == specs.DiscreteArray(6, dtype=np.int32)


def _xland_params(tile):
    """XLand R1-9x9 params whose ruleset places one ``tile`` (tile id, colour id)."""
    _, params = xminigrid.make("XLand-MiniGrid-R1-9x9")
    ruleset = params.ruleset.replace(init_tiles=jnp.asarray([tile], jnp.uint8))
    return params.replace(ruleset=ruleset)


def test_xland_rulesets_travel_in_the_state_and_vmap():
    """vmap over params with two rulesets: each environment's grid holds its own object."""
    env = jit_env.make("xminigrid/XLand-MiniGrid-R1-9x9")
    ball, key_tile = (3, 1), (7, 3)  # BALL RED, KEY BLUE (xminigrid/core/constants.py)
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), _xland_params(ball),
                         _xland_params(key_tile))
    keys = jax.random.split(jax.random.key(1), 2)
    state, ts = jax.jit(jax.vmap(lambda k, p: env.reset(k, options=p)))(keys, batch)
    xland_reset = jax.jit(xminigrid.make("XLand-MiniGrid-R1-9x9")[0].reset)
    for b, tile in enumerate((ball, key_tile)):
        ref = xland_reset(_xland_params(tile), jax.random.split(keys[b])[1])
        np.testing.assert_array_equal(state.timestep.state.grid[b], ref.state.grid)
        grid = np.asarray(state.timestep.state.grid[b]).reshape(-1, 2)
        assert (grid == tile).all(axis=1).sum() == 1
        np.testing.assert_array_equal(state.params.ruleset.init_tiles[b], [tile])


@pytest.mark.slow  # 243 steps of XLand R1-9x9 under AutoReset (~15 s)
def test_the_auto_reset_keeps_the_ruleset():
    env = jit_env.make("xminigrid/XLand-MiniGrid-R1-9x9")
    key_tile = (7, 3)  # KEY BLUE
    # the (same-step) auto-reset starts the next episode with the state's params: the
    # new grid holds the key again. XLand R1-9x9 truncates at max_steps 243 (3 * 9 * 9;
    # its default ruleset has no goal), so 243 turns end the first episode.
    auto = wrappers.AutoReset(env)
    state, _ = auto.reset(jax.random.key(2), options=_xland_params(key_tile))
    state, ts = jax.jit(lambda s: jax.lax.scan(
        lambda c, a: auto.step(c, a), s, jnp.ones(243, jnp.int32)))(state)
    np.testing.assert_array_equal(ts.step_type[-2:], [StepType.MID, StepType.FIRST])
    grid = np.asarray(state.timestep.state.grid).reshape(-1, 2)
    assert (grid == key_tile).all(axis=1).sum() == 1
    assert int(state.timestep.state.step_num) == 0


def test_register_xminigrid_ids_and_make():
    ids = register_xminigrid_ids()
    assert len(ids) == len(xminigrid.registered_environments()) == 44
    assert "xminigrid/MiniGrid-Empty-5x5" in ids
    assert ids == tuple(sorted(ids))
    env = jit_env.make("xminigrid/MiniGrid-Empty-5x5", max_steps=7, view_size=3)
    assert env.default_params.max_steps == 7
    assert env.observation_spec().shape == (3, 3, 2)
    assert register_xminigrid_ids() == ids  # idempotent


def test_bad_input_is_named(monkeypatch):
    with pytest.raises(ValueError, match=r"'MiniGrid-Nope' is not an xminigrid environment; "
                                         r"xminigrid has \[.*'MiniGrid-Empty-5x5'"):
        make_xminigrid("MiniGrid-Nope")
    with pytest.raises(KeyError, match="No environment 'MiniGrid-Nope' in suite 'xminigrid'"):
        jit_env.make("xminigrid/MiniGrid-Nope")
    with pytest.raises(TypeError, match="`xminigrid_env` must be an xminigrid Environment.*str"):
        from_xminigrid("MiniGrid-Empty-5x5")
    xenv, params = xminigrid.make("MiniGrid-Empty-5x5")
    with pytest.raises(TypeError, match="`env_params` must be an xminigrid EnvParams, got dict"):
        from_xminigrid(xenv, {"max_steps": 3})
    with pytest.raises(ValueError, match=r"`env_params.max_steps` is None"):
        from_xminigrid(xenv, params.replace(max_steps=None))
    env = _env()
    with pytest.raises(ValueError, match="`options` must be EnvParams with the adapter's static"):
        env.reset(jax.random.key(0), options=params.replace(view_size=5))
    state, _ = jax.jit(env.reset)(jax.random.key(0))
    with pytest.raises(TypeError, match="`action` must be an integer scalar, got float32"):
        env.step(state, jnp.float32(1.0))
    monkeypatch.setitem(sys.modules, "xminigrid", None)
    monkeypatch.setattr("jit_env.compat._optional._installed", lambda _module: False)
    with pytest.raises(ImportError,
                       match=r"from_xminigrid needs: pip install 'jit-env\[xminigrid\]'"):
        from_xminigrid(xenv)


@pytest.mark.slow  # ~2 min per id on a shared 2-core CPU (xminigrid's eager steps)
@pytest.mark.parametrize("xminigrid_id", ["MiniGrid-DoorKey-5x5", "XLand-MiniGrid-R1-9x9"])
def test_check_env_every_check(xminigrid_id):
    check_env(make_xminigrid(xminigrid_id, max_steps=20), num_steps=60)


_ROLLOUT_CHECKS = ("returns", "specs", "step_types", "discount_range", "finite", "scan_safe",
                   "state_key", "single_trace", "invalid_action")


@pytest.mark.slow  # every id: the rollout checks (the eager / vmap / key checks above)
@pytest.mark.parametrize("xminigrid_id", sorted(xminigrid.registered_environments()))
def test_check_env_every_id(xminigrid_id):
    check_env(jit_env.make("xminigrid/" + xminigrid_id), num_steps=40, checks=_ROLLOUT_CHECKS)


@pytest.mark.slow
def test_ppo_trains_on_an_xminigrid_id(ppo_run):
    from jit_env.agents import PPOConfig

    config = PPOConfig(env="xminigrid/MiniGrid-Empty-5x5", num_envs=8, num_steps=32,
                       total_steps=8 * 32 * 6, update_epochs=2, num_minibatches=2,
                       hidden_sizes=(32,), anneal_lr=False, torso="mlp")
    ppo_run(config, low=0.0, high=1.0, min_updates_with_episodes=3)  # MiniGrid pays <= 1
