"""`from_navix` / ``"navix/<id>"`` against navix 0.7.4's own ``reset`` / ``step``."""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

navix = pytest.importorskip("navix")

import jit_env  # noqa: E402
from jit_env import StepType, specs  # noqa: E402
from jit_env.compat import from_navix, register_navix_ids  # noqa: E402
from jit_env.compat._navix import make_navix  # noqa: E402
from jit_env.testing import check_env  # noqa: E402

# Navix-Empty-5x5-v0: the player starts at (1, 1) facing east, the goal is at (3, 3)
# (navix/environments/empty.py); MiniGrid actions 0 rotate_ccw, 1 rotate_cw, 2 forward
# (navix/actions.py MINIGRID_ACTION_SET). So forward, forward, turn right, forward,
# forward reaches the goal on the 5th step: termination, reward 1 (rewards.on_goal_reached).
_TO_GOAL = (2, 2, 1, 2, 2)


# One environment (max_steps 6) and one compilation for both endings: row 0 walks to the
# goal (termination on step 5), row 1 only turns (truncation on step 6).
_MAX_STEPS = 6
_ACTIONS = np.array([_TO_GOAL + (0,), (0, 1, 0, 1, 0, 1)], np.int32)
_LAST_AT = (5, 6)


def _adapter_rollout(env):
    def run(key, actions):
        state, first = env.reset(key)

        def body(state, action):
            state, ts = env.step(state, action)
            return state, ts

        _, steps = jax.lax.scan(body, state, actions)
        return jax.tree.map(lambda x, xs: jnp.concatenate([x[None], xs]), first, steps)
    return run


@functools.cache
def _env():
    return make_navix("Navix-Empty-5x5-v0", max_steps=_MAX_STEPS)


@functools.cache
def _navix_reference():
    """navix's own loop (its ``step``, with its auto-reset) with the adapter's key split."""
    navix_env = _env().navix_env

    @jax.jit
    def run(key, actions):
        with jax.numpy_rank_promotion("allow"):  # navix relies on it (navix/actions.py)
            first = navix_env.reset(jax.random.split(key)[1])
            _, steps = jax.lax.scan(lambda ts, a: (navix_env.step(ts, a),) * 2, first, actions)
        return jax.tree.map(lambda x, xs: jnp.concatenate([x[None], xs]), first, steps)
    return run


def test_trajectory_equals_navix(variant):
    env = _env()
    keys = jax.random.split(jax.random.key(3), 2)
    got = variant(_adapter_rollout(env), keys, jnp.asarray(_ACTIONS))
    for b, last in enumerate(_LAST_AT):
        ref = _navix_reference()(keys[b], jnp.asarray(_ACTIONS[b]))
        # up to the episode's end (the adapter is not stepped on after LAST)
        np.testing.assert_array_equal(got.observation[b, :last + 1], ref.observation[:last + 1])
        np.testing.assert_array_equal(got.reward[b, :last + 1], ref.reward[:last + 1])
        navix_type = np.asarray(ref.step_type[:last + 1])
        expected = np.where(navix_type > 0, StepType.LAST, StepType.MID)
        expected[0] = StepType.FIRST
        np.testing.assert_array_equal(got.step_type[b, :last + 1], expected)
        np.testing.assert_array_equal(got.discount[b, :last + 1],
                                      np.where(navix_type == 2, 0.0, 1.0))
        # navix's own step after the finished one resets (its auto-reset, step count 0)
        if last < _MAX_STEPS:
            assert int(ref.t[last + 1]) == 0
    # by hand: termination on step 5 with reward 1 and discount 0, the final observation
    # showing the player (tag 10, navix/entities.py EntityIds.PLAYER) on the goal (3, 3);
    # truncation on step 6 with discount 1.
    np.testing.assert_array_equal(got.step_type[0, 1:6], [1, 1, 1, 1, 2])
    assert float(got.reward[0, 5]) == 1.0
    assert float(got.discount[0, 5]) == 0.0
    assert int(got.observation[0, 5, 3, 3, 0]) == 10
    assert int(got.observation[0, 0, 1, 1, 0]) == 10
    np.testing.assert_array_equal(got.step_type[1, 1:7], [1, 1, 1, 1, 1, 2])
    assert float(got.discount[1, 6]) == 1.0
    np.testing.assert_array_equal(got.reward[1], np.zeros(7))


def test_specs_are_navix_spaces_with_the_real_tag_range():
    env = make_navix("Navix-Empty-5x5-v0")
    obs_spec = env.observation_spec()
    assert isinstance(obs_spec, specs.DiscreteArray)
    assert obs_spec.shape == (5, 5, 3)
    assert obs_spec.dtype == np.uint8
    # navix declares 9 values (maximum 8), but the player's tag is 10: 11 values in the
    # tag layer; the colour and state layers keep uint8's 256 (see the KeyCorridor test).
    assert int(env.navix_env.observation_space.maximum) == 8
    np.testing.assert_array_equal(obs_spec.num_values, np.broadcast_to([11, 256, 256],
                                                                       (5, 5, 3)))
    assert env.action_spec() == specs.DiscreteArray(7, dtype=np.int32)
    _, ts = env.reset(jax.random.key(0))
    assert int(np.max(ts.observation)) == 10
    obs_spec.validate(ts.observation)
    # an RGB observation keeps navix's own 256 values
    rgb = from_navix(navix.make("Navix-Empty-5x5-v0", observation_fn=navix.observations.rgb))
    assert rgb.observation_spec().shape == (5 * 8, 5 * 8, 3)  # navix/rendering/registry.py TILE_SIZE 8
    assert int(np.max(rgb.observation_spec().num_values)) == 256


@pytest.mark.parametrize(("name", "low", "high"), [
    ("categorical", -1, 10),  # walls are -1 in navix's grid, the player's tag 10
    ("categorical_first_person", -1, 100),  # crop pads outside the grid with 100
    ("symbolic_first_person", 0, 255),  # navix's own bounds (n_elements=256)
])
def test_other_observation_functions_get_the_range_navix_writes(name, low, high):
    spec = _door_key(name).observation_spec()
    np.testing.assert_array_equal(spec.minimum, low)
    np.testing.assert_array_equal(spec.maximum, high)


def _door_key(observation):
    return from_navix(navix.make("Navix-DoorKey-5x5-v0",
                                 observation_fn=getattr(navix.observations, observation)))


@pytest.mark.slow  # a compilation of navix's reset
def test_key_corridor_writes_a_door_state_of_254():
    """navix's locked door (open=2, navix/environments/key_corridor.py) has symbolic state
    1 - 2 + (1 - 2) * 1 = -2, i.e. 254 in uint8; the spec allows it."""
    env = make_navix("Navix-KeyCorridorS3R1-v0")
    _, ts = jax.jit(env.reset)(jax.random.key(0))
    obs = np.asarray(ts.observation)
    doors = obs[..., 0] == 4  # EntityIds.DOOR
    assert 254 in obs[..., 2][doors]
    env.observation_spec().validate(ts.observation)


@pytest.mark.slow  # three compilations of navix's reset (~20 s)
@pytest.mark.parametrize(("name", "high"), [
    ("categorical", 10), ("categorical_first_person", 100), ("symbolic_first_person", 255)])
def test_the_corrected_ends_are_written(name, high):
    env = _door_key(name)
    spec = env.observation_spec()
    _, ts = jax.jit(env.reset)(jax.random.key(0))
    spec.validate(ts.observation)
    if name != "symbolic_first_person":  # the corrected ends are really written
        assert int(np.min(ts.observation)) == -1
        assert int(np.max(ts.observation)) == high


def _built_in_jit(build):
    """What ``build()`` returns when called while ``jax.jit`` traces."""
    out = {}

    def trace():
        out["env"] = build()
        return jnp.zeros(())

    jax.jit(trace)()
    return out["env"]


def test_make_navix_builds_inside_jit():
    """The training loop builds its environments inside jax.jit (make_navix handles it)."""
    env = _built_in_jit(lambda: make_navix("Navix-Empty-5x5-v0"))
    assert env.action_spec() == specs.DiscreteArray(7, dtype=np.int32)
    np.testing.assert_array_equal(env.observation_spec().num_values[..., 0], np.full((5, 5), 11))


def test_register_navix_ids_and_make():
    ids = register_navix_ids()
    assert len(ids) == len(navix.registry()) == 41
    assert "navix/Navix-Empty-5x5-v0" in ids
    assert ids == tuple(sorted(ids))
    env = jit_env.make("navix/Navix-DoorKey-5x5-v0", max_steps=7)
    assert env.navix_env.max_steps == 7
    assert register_navix_ids() == ids  # idempotent


def test_bad_input_is_named(monkeypatch):
    with pytest.raises(ValueError, match=r"'Navix-Nope-v0' is not a navix environment; "
                                         r"navix has \[.*'Navix-Empty-5x5-v0'"):
        make_navix("Navix-Nope-v0")
    with pytest.raises(KeyError, match="No environment 'Navix-Nope-v0' in suite 'navix'"):
        jit_env.make("navix/Navix-Nope-v0")
    with pytest.raises(TypeError, match="`navix_env` must be a navix Environment.*got str"):
        from_navix("Navix-Empty-5x5-v0")
    odd = navix.make("Navix-Empty-5x5-v0")
    odd = odd.replace(observation_space=navix.spaces.Space(
        shape=(5, 5, 3), dtype=jnp.uint8, minimum=jnp.asarray(0), maximum=jnp.asarray(8)))
    with pytest.raises(TypeError, match="navix observation space Space .*has no jit_env spec"):
        from_navix(odd)
    with pytest.raises(TypeError, match="`navix_env` was built inside jax.jit"):
        _built_in_jit(lambda: from_navix(navix.make("Navix-Empty-5x5-v0")))
    env = make_navix("Navix-Empty-5x5-v0")
    with pytest.raises(ValueError, match="`options` must be None"):
        env.reset(jax.random.key(0), options={"max_steps": 3})
    state, _ = env.reset(jax.random.key(0))
    with pytest.raises(TypeError, match="`action` must be an integer scalar, got float32"):
        env.step(state, jnp.float32(1.0))
    # a missing extra names it
    monkeypatch.setitem(sys.modules, "navix", None)
    monkeypatch.setattr("jit_env.compat._optional._installed", lambda _module: False)
    with pytest.raises(ImportError, match=r"from_navix needs: pip install 'jit-env\[navix\]'"):
        from_navix(odd)


_REPRESENTATIVE = ("Navix-Empty-5x5-v0", "Navix-Dynamic-Obstacles-5x5-v0", "Navix-DoorKey-5x5-v0")


@pytest.mark.slow  # ~1 min per id on a shared 2-core CPU
@pytest.mark.parametrize("navix_id", _REPRESENTATIVE)
def test_check_env_every_check(navix_id):
    check_env(make_navix(navix_id, max_steps=20), num_steps=60)


_ROLLOUT_CHECKS = ("returns", "specs", "step_types", "discount_range", "finite", "scan_safe",
                   "state_key", "single_trace", "invalid_action", "render")


@pytest.mark.slow  # every id: the rollout checks (the eager / vmap / key checks above)
@pytest.mark.parametrize("navix_id", sorted(navix.registry()))
def test_check_env_every_id(navix_id):
    check_env(jit_env.make("navix/" + navix_id), num_steps=40, checks=_ROLLOUT_CHECKS)


@pytest.mark.slow
def test_ppo_trains_on_a_navix_id(ppo_run):
    from jit_env.agents import PPOConfig

    config = PPOConfig(env="navix/Navix-Empty-5x5-v0", num_envs=8, num_steps=32,
                       total_steps=8 * 32 * 6, update_epochs=2, num_minibatches=2,
                       hidden_sizes=(32,), anneal_lr=False, torso="mlp")
    ppo_run(config, low=0.0, high=1.0, min_updates_with_episodes=3)  # MiniGrid pays <= 1
