"""The MinAtar games' API: registry, eager / jit / vmap, specs, options, rendering, errors.

Their dynamics are checked step by step against the reference package in
``tests/envs/test_minatar_parity.py``; every registered id also passes
`jit_env.testing.check_env` in ``tests/test_testing.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import testing
from jit_env.envs import minatar
from jit_env.envs.minatar import (
    Asterix,
    Breakout,
    Freeway,
    MinAtarParams,
    Seaquest,
    SpaceInvaders,
)

CLASSES = {
    "Asterix-MinAtar": (Asterix, 4, 5, 1000),
    "Breakout-MinAtar": (Breakout, 4, 3, 1000),
    "Freeway-MinAtar": (Freeway, 7, 3, None),
    "Seaquest-MinAtar": (Seaquest, 10, 6, 1000),
    "SpaceInvaders-MinAtar": (SpaceInvaders, 6, 4, 1000),
}
ENVS = {env_id: jit_env.envs.make(env_id).unwrapped for env_id in CLASSES}  # shared: jit once
ACTIONS = np.array([3, 5, 1, 2, 4, 0, 3, 3, 5, 2, 1, 4], np.int32)
STEPS = {env_id: jax.jit(env.step) for env_id, env in ENVS.items()}  # compiled once per game


def test_registered_with_gymnax_ids_and_limits():
    assert sorted(minatar.MINATAR_IDS) == sorted(CLASSES)
    registered = sorted(i for i in jit_env.envs.registered_ids() if i.endswith("-MinAtar"))
    assert registered == sorted(CLASSES)
    for env_id, (cls, _, _, limit) in CLASSES.items():
        record = jit_env.envs.spec(env_id)
        assert record.entry_point is cls
        assert record.max_episode_steps == limit


@pytest.mark.parametrize("env_id", sorted(CLASSES))
def test_specs(env_id):
    cls, channels, minimal, _ = CLASSES[env_id]
    env = ENVS[env_id]
    assert env.observation_spec().shape == (10, 10, channels)
    assert env.observation_spec().dtype == jnp.bool_
    assert env.action_spec().num_values == 6
    assert cls(use_minimal_action_set=True).action_spec().num_values == minimal
    float_env = cls(observation_dtype=jnp.float32)
    assert float_env.observation_spec().dtype == jnp.float32
    _, ts = env.reset(jax.random.key(0))
    assert bool(env.observation_spec().contains(ts.observation))


@pytest.mark.parametrize("env_id", [
    # Seaquest's eager steps take 8 s cold on 2 cores: CI's slow run keeps it.
    pytest.param(i, marks=pytest.mark.slow) if i == "Seaquest-MinAtar" else i for i in sorted(CLASSES)
])
def test_eager_jit_vmap_agree(variant_fn, env_id):
    env = ENVS[env_id]
    reset, step = variant_fn(env.reset), variant_fn(env.step)
    j_step = STEPS[env_id]
    state, ts = reset(jax.random.key(7))
    j_state, j_ts = env.reset(jax.random.key(7))
    for a in ACTIONS[: 2 if getattr(variant_fn, "kind", None) == "eager" else 4]:
        state, ts = step(state, jnp.int32(a))
        j_state, j_ts = j_step(j_state, jnp.int32(a))
        np.testing.assert_array_equal(ts.observation, j_ts.observation)
        np.testing.assert_array_equal(ts.reward, j_ts.reward)
        np.testing.assert_array_equal(ts.step_type, j_ts.step_type)
    if getattr(variant_fn, "kind", None) == "jit":
        assert variant_fn.traces(env.step) == 1


@pytest.mark.parametrize("env_id", sorted(CLASSES))
def test_float_observations_equal_bool_ones(env_id):
    cls = CLASSES[env_id][0]
    env_f = cls(observation_dtype=jnp.float32)
    state_b, ts_b = ENVS[env_id].reset(jax.random.key(3))
    state_f, ts_f = env_f.reset(jax.random.key(3))
    state_b, ts_b = STEPS[env_id](state_b, jnp.int32(3))
    state_f, ts_f = jax.jit(env_f.step)(state_f, jnp.int32(3))
    assert ts_f.observation.dtype == jnp.float32
    np.testing.assert_array_equal(ts_f.observation, ts_b.observation.astype(np.float32))


def test_minimal_action_set_maps_to_the_full_actions():
    # Breakout's minimal set is (no-op, left, right) = full actions (0, 1, 3).
    full, minimal = Breakout(), Breakout(use_minimal_action_set=True)
    s_full, _ = full.reset(jax.random.key(1))
    s_min, _ = minimal.reset(jax.random.key(1))
    for a_min, a_full in [(2, 3), (2, 3), (1, 1), (0, 0)]:
        s_full, ts_full = full.step(s_full, jnp.int32(a_full))
        s_min, ts_min = minimal.step(s_min, jnp.int32(a_min))
        np.testing.assert_array_equal(ts_full.observation, ts_min.observation)
    assert int(s_full.pos) == int(s_min.pos)


def test_sticky_actions_repeat_the_previous_action():
    env = ENVS["Breakout-MinAtar"]
    step = STEPS["Breakout-MinAtar"]
    # Probability 1: every action is replaced by the previous one, 0 at the start: no move.
    always, _ = env.reset(jax.random.key(0), options=MinAtarParams(1.0, True))
    never, _ = env.reset(jax.random.key(0), options=MinAtarParams(0.0, True))
    for _ in range(3):
        always, _ = step(always, jnp.int32(3))  # right
        never, _ = step(never, jnp.int32(3))
    assert int(always.pos) == 4  # the paddle starts in column 4 and never moved
    assert int(never.pos) == 7  # moved right three times
    assert int(always.last_action) == 0
    assert int(never.last_action) == 3


def test_sticky_action_rate_is_the_parameter():
    env = ENVS["Breakout-MinAtar"]
    keys = jax.random.split(jax.random.key(5), 4000)

    @jax.jit
    def first_actions(keys):
        state, _ = jax.vmap(env.reset)(keys)
        state, _ = jax.vmap(env.step)(state, jnp.full(4000, 3, jnp.int32))
        return state.last_action

    # From last_action = 0, the action 3 is replaced by 0 when the sticky draw is below p.
    repeated = float(jnp.mean(first_actions(keys) == 0))
    # Binomial(4000, 0.1): standard deviation 0.0047; 5 sigma.
    assert abs(repeated - 0.1) < 0.024, repeated


def test_difficulty_ramping_option():
    env = ENVS["Asterix-MinAtar"]
    step = STEPS["Asterix-MinAtar"]
    on, _ = env.reset(jax.random.key(0), options=MinAtarParams(0.0, True))
    off, _ = env.reset(jax.random.key(0), options=MinAtarParams(0.0, False))
    on = on._replace(ramp_timer=jnp.int32(-1))  # the ramp is due on this step
    off = off._replace(ramp_timer=jnp.int32(-1))
    on, _ = step(on, jnp.int32(0))
    off, _ = step(off, jnp.int32(0))
    assert (int(on.spawn_speed), int(on.ramp_index), int(on.ramp_timer)) == (9, 1, 100)
    assert (int(off.spawn_speed), int(off.ramp_index), int(off.ramp_timer)) == (10, 0, -1)


@pytest.mark.parametrize("env_id", sorted(CLASSES))
def test_render_is_the_reference_rgb_array(env_id):
    """minatar/gym.py's rgb_array: the highest channel's cubehelix colour, black if empty."""
    sns = pytest.importorskip("seaborn")
    env = ENVS[env_id]
    channels = CLASSES[env_id][1]
    state, _ = env.reset(jax.random.key(2))
    for a in ACTIONS:
        state, _ = STEPS[env_id](state, jnp.int32(a))
    image = np.asarray(jax.jit(env.render)(state))
    assert image.shape == (160, 160, 3)
    assert image.dtype == np.uint8
    obs = np.asarray(env.observation(state))
    cmap = [(0.0, 0.0, 0.0), *sns.color_palette("cubehelix", channels)]
    index = np.amax(obs * np.reshape(np.arange(channels) + 1, (1, 1, -1)), 2)
    expected = np.round(255 * np.stack(cmap)[index]).astype(np.uint8)
    np.testing.assert_array_equal(image[::16, ::16], expected)
    np.testing.assert_array_equal(image[15::16, 15::16], expected)
    batch = jax.vmap(env.render)(jax.tree.map(lambda x: jnp.stack([x, x]), state))
    assert batch.shape == (2, 160, 160, 3)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
def test_key_implementations(impl):
    env = ENVS["Breakout-MinAtar"]
    state, _ = env.reset(jax.random.key(0, impl=impl))
    state, ts = STEPS["Breakout-MinAtar"](state, jnp.int32(5))
    assert ts.observation.shape == (10, 10, 4)
    assert jax.random.key_impl(state.key) == jax.random.key_impl(jax.random.key(0, impl=impl))


@pytest.mark.slow
def test_check_env_on_the_other_configurations():
    for env in (Freeway(use_minimal_action_set=True), SpaceInvaders(observation_dtype=jnp.float32)):
        report = testing.check_env(env, key=3, num_steps=12, raise_on_failure=False)
        assert report.ok, str(report)


def test_bad_inputs():
    env = ENVS["Breakout-MinAtar"]
    state, _ = env.reset(jax.random.key(0))
    with pytest.raises(TypeError, match="integer dtype"):
        env.step(state, jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        env.step(state, jnp.zeros(2, jnp.int32))
    with pytest.raises(TypeError, match="observation_dtype"):
        Breakout(observation_dtype=jnp.int32)
    with pytest.raises(TypeError, match="MinAtarParams"):
        env.reset(jax.random.key(0), options={"sticky_action_prob": 0.1})
    with pytest.raises(TypeError, match="difficulty_ramping"):
        env.reset(jax.random.key(0), options=MinAtarParams(0.1, 1.5))


def test_all_is_sorted_and_public():
    assert minatar.__all__ == sorted(minatar.__all__)
    public = {n for n in vars(minatar) if not n.startswith("_") and n != "annotations"}
    modules = {"asterix", "breakout", "freeway", "seaquest", "space_invaders", "register"}
    assert set(minatar.__all__) == public - modules
