"""Tests of the classic-control environments against gymnasium 1.x itself.

gymnasium (a test dependency) is the reference: from identical physical
states (gymnasium's ``env.unwrapped.state`` set to ours) both implementations
step with the same random actions and must agree on observation, reward and
termination. Everything else (start distribution, eager / jit / vmap,
retrace guard, episode structure through ``jit_env.make``, specs, domain
randomisation, rendering) is checked against values worked out here.

Tolerances: gymnasium integrates in float64, we in float32 (float32 machine
epsilon 1.2e-7). One step from the same state agrees to a few float32 ulp of
the largest term, hence ``rtol=1e-5`` plus an ``atol`` scaled to each
environment's magnitudes (given in `Case`). Free-running trajectories drift
apart by rounding amplified by the dynamics (CartPole's and Acrobot's upright
equilibria are unstable), so the multi-step check runs a short horizon with
a looser, per-environment tolerance (see ``multi_atol``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType
from jit_env.envs import classic_control as cc

B = 6  # trajectories per parity test
T = 60  # steps per trajectory


def _mc_margin(state: np.ndarray, goal: float) -> float:
    return min(abs(state[0] - goal), abs(state[1]))


@dataclasses.dataclass(frozen=True)
class Case:
    """How to drive one environment and its gymnasium twin."""

    env_id: str
    make_env: Callable[[], Any]
    gym_id: str
    state_vec: Callable[[Any], np.ndarray]  # our state -> gymnasium's state vector
    sample_actions: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    obs_from_gym: Callable[[np.ndarray], np.ndarray]
    margin: Callable[[np.ndarray], float]  # distance of a gymnasium state from termination
    atol: float  # one-step absolute tolerance (see module docstring)
    multi_steps: int
    multi_atol: float
    gym_state_dtype: Any = np.float64
    param_field: str = ""  # a parameter varied in the domain-randomisation test
    param_values: tuple[float, ...] = ()
    to_python_action: Callable[[np.ndarray], Any] = int


def _cartpole_vec(s):
    return np.array([s.x, s.x_dot, s.theta, s.theta_dot], np.float64)


def _cartpole_margin(g):
    return min(abs(abs(g[0]) - 2.4), abs(abs(g[2]) - 12 * 2 * math.pi / 360))


def _acrobot_margin(g):
    return abs(-np.cos(g[0]) - np.cos(g[1] + g[0]) - 1.0)


def _discrete(n):
    return lambda rng, shape: rng.integers(0, n, size=shape).astype(np.int32)


def _continuous(bound):
    # Beyond the action bounds on purpose: both implementations clip inside the step.
    return lambda rng, shape: rng.uniform(-bound, bound, size=(*shape, 1)).astype(np.float32)


CASES = {
    c.env_id: c
    for c in [
        Case(
            "CartPole-v1", cc.CartPole, "CartPole-v1", _cartpole_vec, _discrete(2),
            lambda o: o, _cartpole_margin, atol=1e-6, multi_steps=30, multi_atol=1e-4,
            param_field="gravity", param_values=(9.8, 5.0, 15.0),
        ),
        Case(
            "CartPole-NoVelocity-v1", cc.CartPoleNoVelocity, "CartPole-v1", _cartpole_vec,
            _discrete(2), lambda o: o[[0, 2]], _cartpole_margin, atol=1e-6, multi_steps=30,
            multi_atol=1e-4, param_field="length", param_values=(0.5, 0.25, 1.0),
        ),
        Case(  # rlx's observation: gym's without its last entry (rlx/env.py)
            "IncompleteCartPole-v1", cc.IncompleteCartPole, "CartPole-v1", _cartpole_vec,
            _discrete(2), lambda o: o[:-1], _cartpole_margin, atol=1e-6, multi_steps=30,
            multi_atol=1e-4,
        ),
        Case(
            "Acrobot-v1", cc.Acrobot, "Acrobot-v1",
            lambda s: np.array([s.theta1, s.theta2, s.theta1_dot, s.theta2_dot], np.float64),
            _discrete(3), lambda o: o, _acrobot_margin, atol=2e-5, multi_steps=15,
            multi_atol=1e-3, param_field="link_mass_2", param_values=(1.0, 0.5, 2.0),
        ),
        Case(
            "MountainCar-v0", cc.MountainCar, "MountainCar-v0",
            lambda s: np.array([s.position, s.velocity], np.float64), _discrete(3),
            lambda o: o, lambda g: _mc_margin(g, 0.5), atol=1e-7, multi_steps=T,
            multi_atol=1e-5, param_field="gravity", param_values=(0.0025, 0.001, 0.004),
        ),
        Case(
            "MountainCarContinuous-v0", cc.MountainCarContinuous, "MountainCarContinuous-v0",
            lambda s: np.array([s.position, s.velocity], np.float64), _continuous(1.5),
            lambda o: o, lambda g: _mc_margin(g, 0.45), atol=1e-7, multi_steps=T,
            multi_atol=1e-5, gym_state_dtype=np.float32, param_field="power",
            param_values=(0.0015, 0.003, 0.0005), to_python_action=lambda a: a,
        ),
        Case(
            "Pendulum-v1", cc.Pendulum, "Pendulum-v1",
            lambda s: np.array([s.theta, s.theta_dot], np.float64), _continuous(3.0),
            lambda o: o, lambda _g: np.inf, atol=1e-5, multi_steps=T, multi_atol=1e-3,
            param_field="g", param_values=(10.0, 5.0, 12.0), to_python_action=lambda a: a,
        ),
    ]
}
IDS = sorted(CASES)
# The partially observed CartPoles share CartPole's reset, step and renderer (only the
# observation differs, checked by the parity and spec tests and, eagerly / jitted /
# vmapped, by tests/envs/test_cartpole_variants.py), so the slower tests skip them.
DYNAMICS_IDS = [i for i in IDS if i not in ("CartPole-NoVelocity-v1", "IncompleteCartPole-v1")]


@pytest.fixture(scope="module")
def gym_envs():
    envs = {}
    for case in CASES.values():
        env = gymnasium.make(case.gym_id).unwrapped
        env.reset(seed=0)
        envs[case.env_id] = env
    yield envs
    for env in envs.values():
        env.close()


_ROLLOUTS: dict[str, Callable] = {}


def _rollout_fn(env_id: str) -> Callable:
    """One jitted function per environment: B episodes of T steps from reset (shared)."""
    if env_id not in _ROLLOUTS:
        env = CASES[env_id].make_env()

        def one(key, actions):
            state, ts = env.reset(key)

            def body(state, action):
                next_state, ts = env.step(state, action)
                return next_state, (state, ts)

            _, (states, tss) = jax.lax.scan(body, state, actions)
            return ts, states, tss

        _ROLLOUTS[env_id] = jax.jit(jax.vmap(one))
    return _ROLLOUTS[env_id]


def _trajectories(env_id: str, seed: int):
    case = CASES[env_id]
    rng = np.random.default_rng(seed)
    actions = case.sample_actions(rng, (B, T))
    keys = jax.random.split(jax.random.key(seed), B)
    first, states, tss = _rollout_fn(env_id)(keys, actions)
    return actions, first, jax.device_get(states), jax.device_get(tss)


def _index(tree, *idx):
    return jax.tree.map(lambda a: a[idx], tree)


def _gym_step(case: Case, genv, state_vec: np.ndarray, action):
    genv.state = np.asarray(state_vec, case.gym_state_dtype)
    if hasattr(genv, "steps_beyond_terminated"):
        genv.steps_beyond_terminated = None
    obs, reward, terminated, truncated, _ = genv.step(case.to_python_action(action))
    assert not truncated
    return case.obs_from_gym(np.asarray(obs)), float(reward), bool(terminated), np.asarray(genv.state)


@pytest.mark.parametrize("env_id", IDS)
def test_one_step_parity_with_gymnasium(env_id, gym_envs):
    """From each state of B random-action trajectories, one step equals gymnasium's."""
    case, genv = CASES[env_id], gym_envs[env_id]
    actions, _, states, tss = _trajectories(env_id, seed=1)
    compared = terminations = 0
    for b in range(B):
        for t in range(T):
            state, ts = _index(states, b, t), _index(tss, b, t)
            obs, reward, terminated, gym_state = _gym_step(
                case, genv, case.state_vec(state), actions[b, t]
            )
            np.testing.assert_allclose(ts.observation, obs, rtol=1e-5, atol=case.atol)
            np.testing.assert_allclose(ts.reward, reward, rtol=1e-5, atol=case.atol)
            if case.margin(gym_state) > 1e-4:  # no verdict within float32 rounding of the edge
                assert (ts.step_type == StepType.LAST) == terminated, (b, t)
                assert ts.discount == (0.0 if terminated else 1.0)
            compared += 1
            if ts.step_type == StepType.LAST:
                terminations += 1
                break
    assert compared >= B  # the comparison really ran
    if env_id.startswith("CartPole"):
        assert terminations == B  # random CartPole episodes end well within T steps


@pytest.mark.parametrize("env_id", IDS)
def test_multi_step_parity_with_gymnasium(env_id, gym_envs):
    """gymnasium free-running from our reset state follows our trajectory."""
    case, genv = CASES[env_id], gym_envs[env_id]
    actions, first, states, tss = _trajectories(env_id, seed=2)
    for b in range(B):
        genv.state = np.asarray(case.state_vec(_index(states, b, 0)), case.gym_state_dtype)
        if hasattr(genv, "steps_beyond_terminated"):
            genv.steps_beyond_terminated = None
        for t in range(case.multi_steps):
            obs, reward, terminated, _, _ = genv.step(case.to_python_action(actions[b, t]))
            ts = _index(tss, b, t)
            np.testing.assert_allclose(ts.observation, case.obs_from_gym(np.asarray(obs)),
                                       rtol=1e-4, atol=case.multi_atol, err_msg=f"{b=} {t=}")
            np.testing.assert_allclose(ts.reward, reward, rtol=1e-4, atol=case.multi_atol)
            assert (ts.step_type == StepType.LAST) == terminated
            if terminated:
                break


# Start-state distributions: (field names, low, high) per environment, gymnasium's values.
START = {
    "CartPole-v1": (("x", "x_dot", "theta", "theta_dot"), -0.05, 0.05),
    "CartPole-NoVelocity-v1": (("x", "x_dot", "theta", "theta_dot"), -0.05, 0.05),
    "Acrobot-v1": (("theta1", "theta2", "theta1_dot", "theta2_dot"), -0.1, 0.1),
    "MountainCar-v0": (("position",), -0.6, -0.4),
    "MountainCarContinuous-v0": (("position",), -0.6, -0.4),
    "Pendulum-v1": (("theta",), -math.pi, math.pi),
}


@pytest.mark.parametrize("env_id", [i for i in DYNAMICS_IDS if i != "MountainCarContinuous-v0"])
def test_start_state_distribution(env_id):
    """(MountainCarContinuous-v0 shares MountainCar-v0's reset function.)"""
    env = CASES[env_id].make_env()
    states, ts = jax.vmap(env.reset)(jax.random.split(jax.random.key(3), 1000))  # no compile
    fields, low, high = START[env_id]
    width = high - low
    for name in fields:
        x = np.asarray(getattr(states, name))
        assert x.dtype == np.float32
        assert np.all(x >= np.float32(low)), name
        assert np.all(x < np.float32(high)), name
        # Uniform: 1000 draws reach within 1 % of both ends (fails for a constant or a
        # narrower law; P(miss) < 1e-4 for a correct one, and the seed is fixed).
        assert x.min() < low + 0.01 * width, name
        assert x.max() > high - 0.01 * width, name
        assert abs(x.mean() - (low + high) / 2) < 0.05 * width, name
    if env_id.startswith("MountainCar"):
        np.testing.assert_array_equal(states.velocity, 0.0)
    if env_id == "Pendulum-v1":
        assert np.all(np.abs(states.theta_dot) <= 1.0)
        assert np.std(states.theta_dot) > 0.5
    np.testing.assert_array_equal(ts.step_type, StepType.FIRST)
    np.testing.assert_array_equal(ts.reward, 0.0)
    np.testing.assert_array_equal(ts.discount, 1.0)


@pytest.mark.parametrize("env_id", DYNAMICS_IDS)
def test_reset_and_steps_under_variant_match_gymnasium(env_id, variant_fn, gym_envs):
    """reset + 2 steps, eagerly, under jit and under vmap, against gymnasium."""
    case, genv = CASES[env_id], gym_envs[env_id]
    env = case.make_env()
    rng = np.random.default_rng(4)
    actions = case.sample_actions(rng, (2,))
    reset = variant_fn(env.reset)
    step = variant_fn(env.step)
    state, ts = reset(jax.random.key(5))
    assert ts.step_type == StepType.FIRST
    for action in actions:
        before = case.state_vec(state)
        state, ts = step(state, jnp.asarray(action))
        obs, reward, terminated, _ = _gym_step(case, genv, before, action)
        np.testing.assert_allclose(ts.observation, obs, rtol=1e-5, atol=case.atol)
        np.testing.assert_allclose(ts.reward, reward, rtol=1e-5, atol=case.atol)
        assert (ts.step_type == StepType.LAST) == terminated
        assert ts.observation.dtype == jnp.float32
        assert ts.reward.dtype == jnp.float32
        if terminated:
            break


@pytest.mark.parametrize("env_id", DYNAMICS_IDS)
def test_jitted_step_traces_once_and_leaves_the_key_alone(env_id):
    case = CASES[env_id]
    env = case.make_env()
    traces = []

    def step(state, action):
        traces.append(None)
        return env.step(state, action)

    jitted = jax.jit(step)
    state, first = env.reset(jax.random.key(6))
    key_data = jax.random.key_data(state.key)
    actions = case.sample_actions(np.random.default_rng(6), (25,))
    for action in actions:
        state, ts = jitted(state, jnp.asarray(action))
    assert len(traces) == 1
    # A deterministic step never splits or changes the key.
    np.testing.assert_array_equal(jax.random.key_data(state.key), key_data)
    # reset and step return the same pytree structure and dtypes (scan-safe).
    assert jax.tree.structure(ts) == jax.tree.structure(first)
    for a, b in zip(jax.tree.leaves(ts), jax.tree.leaves(first)):
        assert a.dtype == b.dtype
        assert a.shape == b.shape


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg", "legacy"])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_key_implementations_and_determinism(env_id, impl):
    env = CASES[env_id].make_env()
    key = jax.random.PRNGKey(7) if impl == "legacy" else jax.random.key(7, impl=impl)
    state_a, ts_a = env.reset(key)
    state_b, ts_b = env.reset(key)
    np.testing.assert_array_equal(ts_a.observation, ts_b.observation)  # same key, same bits
    state_c, ts_c = env.reset(jax.random.split(key)[0] if impl == "legacy" else jax.random.fold_in(key, 1))
    assert not np.array_equal(ts_a.observation, ts_c.observation)
    np.testing.assert_array_equal(jax.random.key_data(state_a.key), jax.random.key_data(state_b.key))
    assert state_a.key.dtype == key.dtype


# Episode structure through make(): (env_id, action, expected length, terminates).
EPISODES = [
    ("MountainCar-v0", 1, 200, False),  # doing nothing never reaches the goal: truncated at 200
    ("MountainCarContinuous-v0", 0.0, 999, False),
    ("Pendulum-v1", 0.0, 200, False),  # never terminates: truncated at 200
    ("Acrobot-v1", 1, 500, False),  # no torque from near rest: truncated at 500
]


def _run_episode(env, action, steps, key, options=None):
    def body(state, _):
        state, ts = env.step(state, action)
        return state, ts

    state, first = env.reset(key, options=options)
    _, tss = jax.lax.scan(body, state, None, length=steps)
    return first, jax.device_get(tss)


@pytest.mark.parametrize(("env_id", "action", "length", "terminates"), EPISODES)
def test_make_applies_registered_time_limit(env_id, action, length, terminates):
    env = jit_env.envs.make(env_id)
    assert isinstance(env.unwrapped, type(CASES[env_id].make_env()))
    shape = (1,) if isinstance(action, float) else ()
    a = jnp.full(shape, action, jnp.float32 if isinstance(action, float) else jnp.int32)
    first, tss = jax.jit(lambda k: _run_episode(env, a, length, k))(jax.random.key(8))
    assert first.step_type == StepType.FIRST
    np.testing.assert_array_equal(tss.step_type[:-1], StepType.MID)
    assert tss.step_type[-1] == StepType.LAST
    np.testing.assert_array_equal(tss.discount[:-1], 1.0)
    assert tss.discount[-1] == (0.0 if terminates else 1.0)  # truncation keeps the discount


@pytest.mark.parametrize("env_id", ["CartPole-v1", "CartPole-NoVelocity-v1"])
def test_cartpole_truncation_at_500_and_termination(env_id):
    env = jit_env.envs.make(env_id)
    # Zero start state and no gravity or force: the cart and pole stay still for 500 steps.
    still = cc.CartPoleParams(gravity=0.0, force_mag=0.0, reset_low=0.0, reset_high=0.0)
    run = jax.jit(lambda k, p: _run_episode(env, jnp.int32(1), 500, k, p))
    _, tss = run(jax.random.key(9), still)
    np.testing.assert_array_equal(tss.step_type[:-1], StepType.MID)
    assert tss.step_type[-1] == StepType.LAST
    assert tss.discount[-1] == 1.0
    np.testing.assert_array_equal(tss.reward, 1.0)
    # Default physics, always pushing right: the pole falls within a few dozen steps.
    _, tss = run(jax.random.key(9), cc.CartPoleParams())
    end = int(np.argmax(tss.step_type == StepType.LAST))
    assert 5 < end < 100
    np.testing.assert_array_equal(tss.step_type[:end], StepType.MID)
    assert tss.discount[end] == 0.0
    assert tss.reward[end] == 1.0


def test_cartpole_sutton_barto_reward():
    env = jit_env.envs.make("CartPole-v1", sutton_barto_reward=True)
    _, tss = jax.jit(lambda k: _run_episode(env, jnp.int32(0), 60, k))(jax.random.key(10))
    end = int(np.argmax(tss.step_type == StepType.LAST))
    np.testing.assert_array_equal(tss.reward[:end], 0.0)
    assert tss.reward[end] == -1.0
    assert tss.discount[end] == 0.0


@pytest.mark.parametrize("env_id", IDS)
def test_specs_contain_every_observation(env_id):
    case = CASES[env_id]
    env = case.make_env()
    _, first, _, tss = _trajectories(env_id, seed=11)
    obs_spec = env.observation_spec()
    # Up to and including each trajectory's first LAST (the scan steps on past it).
    ended = np.cumsum(np.asarray(tss.step_type) == StepType.LAST, axis=1)
    before_end = np.concatenate([np.zeros((B, 1), int), ended[:, :-1]], axis=1) == 0
    observations = np.concatenate(
        [np.asarray(first.observation), np.asarray(tss.observation)[before_end]], axis=0
    )
    for obs in observations[:: max(1, len(observations) // 40)]:
        assert bool(obs_spec.contains(jnp.asarray(obs)))
    # All of them, against the spec's bounds.
    assert np.all(observations >= obs_spec.minimum)
    assert np.all(observations <= obs_spec.maximum)
    assert np.all(np.isfinite(observations))
    assert bool(env.reward_spec().contains(jnp.asarray(tss.reward[0, 0])))
    assert bool(env.discount_spec().contains(jnp.asarray(tss.discount[0, 0])))
    assert bool(env.action_spec().contains(env.action_spec().generate_value()))


@pytest.mark.parametrize("env_id", DYNAMICS_IDS)
def test_domain_randomisation(env_id):
    """A batch of params steps differently, and each equals its own single-environment run."""
    case = CASES[env_id]
    env = case.make_env()
    params = [env.default_params._replace(**{case.param_field: v}) for v in case.param_values]
    batch = jax.tree.map(lambda *xs: jnp.asarray(xs, jnp.float32), *params)
    key = jax.random.key(12)
    actions = jnp.asarray(case.sample_actions(np.random.default_rng(12), (5,)))

    def run(p):
        state, _ = env.reset(key, options=p)

        def body(state, action):
            state, ts = env.step(state, action)
            return state, ts.observation

        return jax.lax.scan(body, state, actions)[1]

    batched = jax.jit(jax.vmap(run))(batch)
    for i, p in enumerate(params):
        np.testing.assert_allclose(batched[i], jax.jit(run)(p), rtol=1e-6, atol=1e-7)
    assert not np.allclose(batched[0, -1], batched[1, -1])
    assert not np.allclose(batched[0, -1], batched[2, -1])


def _set_gym_render_state(env_id, genv, vec):
    genv.state = vec
    if env_id == "Pendulum-v1":
        genv.last_u = None  # no torque arrow (ours draws a torque bar, empty at reset)


@pytest.mark.parametrize("env_id", DYNAMICS_IDS)
def test_render(env_id):
    """Stored states render in one vmapped call; the picture is gymnasium's to < 1.5 % of pixels."""
    pytest.importorskip("pygame")
    case = CASES[env_id]
    env = case.make_env()
    states, _ = jax.vmap(env.reset)(jax.random.split(jax.random.key(13), 2))
    frames = np.asarray(jax.jit(jax.vmap(env.render))(states))
    height, width = (400, 600) if env_id.startswith(("CartPole", "Mountain")) else (500, 500)
    assert frames.shape == (2, height, width, 3)
    assert frames.dtype == np.uint8
    assert len(np.unique(frames[0].reshape(-1, 3), axis=0)) >= 3  # background and >= 2 shapes
    assert not np.array_equal(frames[0], frames[1])  # different states, different images
    genv = gymnasium.make(case.gym_id, render_mode="rgb_array").unwrapped
    genv.reset(seed=0)
    _set_gym_render_state(env_id, genv, case.state_vec(_index(states, 0)))
    expected = genv.render()
    genv.close()
    assert expected.shape == frames[0].shape
    differ = np.any(frames[0] != expected, axis=-1).mean()
    assert differ < 0.015, differ  # shape edges (gymnasium anti-aliases them) only


def test_render_video(tmp_path):
    imageio = pytest.importorskip("imageio")
    frames = np.zeros((3, 8, 10, 3), np.uint8)
    frames[1, 2:4] = 255
    frames[2, :, 5:] = 128
    path = tmp_path / "clip.gif"
    jit_env.envs.render_video(jnp.asarray(frames), path, fps=10)
    back = imageio.mimread(path)
    assert len(back) == 3
    assert np.asarray(back[1]).shape[:2] == (8, 10)
    with pytest.raises(TypeError, match="uint8"):
        jit_env.envs.render_video(frames.astype(np.float32), tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        jit_env.envs.render_video(frames[0], tmp_path / "x.gif")


def test_step_rejects_bad_actions():
    with pytest.raises(TypeError, match="integer dtype"):
        cc.CartPole().step(cc.CartPole().reset(jax.random.key(0))[0], jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        cc.Acrobot().step(cc.Acrobot().reset(jax.random.key(0))[0], jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        cc.Pendulum().step(cc.Pendulum().reset(jax.random.key(0))[0], jnp.zeros((), jnp.float32))
    env = cc.MountainCarContinuous()
    state = env.reset(jax.random.key(0))[0]
    with pytest.raises(TypeError, match="floating"):
        env.step(state, jnp.zeros((1,), jnp.int32))
    with pytest.raises(TypeError, match="CartPoleParams"):
        cc.CartPole().reset(jax.random.key(0), options={"gravity": 9.8})
    with pytest.raises(ValueError, match="options.g"):
        cc.Pendulum().reset(jax.random.key(0), options=cc.PendulumParams(g=jnp.ones(2)))


def test_public_names():
    public = {n for n in dir(cc) if not n.startswith("_")}
    modules = {"acrobot", "cartpole", "continuous_mountain_car", "mountain_car", "pendulum",
               "annotations", "register"}
    assert cc.__all__ == sorted(cc.__all__)
    assert set(cc.__all__) == public - modules
