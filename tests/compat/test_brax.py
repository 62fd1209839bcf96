"""Tests of `jit_env.compat.from_brax` against brax itself (skipped without brax).

Reference: brax 0.14.2. Expected trajectories come from a plain brax loop
(brax's own ``reset`` / ``step``, jitted) with the key split as `from_brax`
documents (one split before ``reset``; ``step`` takes no key). Physics
compiles slowly on a CPU, so everything that compiles is marked slow; the
fast tests trace or only construct (``inverted_pendulum``, brax's cheapest).
"""

from __future__ import annotations

import re
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, compat, specs
from jit_env.testing import check_env
from jit_env.wrappers import TimeLimit

with warnings.catch_warnings():
    # brax 0.14.2 warns that it is unmaintained (brax/io/mjcf.py) and jaxopt that it is
    # deprecated, at import / construction: not ours to fix.
    warnings.simplefilter("ignore")
    brax_envs = pytest.importorskip("brax.envs")
    from brax.envs.wrappers import training as brax_training

pytestmark = pytest.mark.filterwarnings(
    "ignore:Brax System, piplines and environments are not actively being maintained"
)

_NAME = "inverted_pendulum"
_ENVS: dict = {}


def _brax(name=_NAME):
    if name not in _ENVS:
        _ENVS[name] = brax_envs.get_environment(name)
    return _ENVS[name]


def _brax_loop(brax_env, key, actions):
    """brax's trajectory: (obs, reward, done) of every step, and the reset's obs."""
    _, reset_key = jax.random.split(key)
    reset, step = jax.jit(brax_env.reset), jax.jit(brax_env.step)
    state = reset(reset_key)
    out = []
    for action in actions:
        state = step(state, action)
        out.append((np.asarray(state.obs), float(state.reward), float(state.done)))
    return np.asarray(reset(reset_key).obs), out


def test_specs_are_braxs():
    env = compat.from_brax(_brax())
    assert env.observation_spec() == specs.Array((4,), np.float32, name="observation")
    assert env.action_spec() == specs.BoundedArray((1,), np.float32, -1.0, 1.0, name="action")
    assert env.discount_spec() == specs.BoundedArray((), np.float32, 0.0, 1.0, name="discount")
    # The eval_shape of the adapter's reset matches brax's, leaf by leaf.
    state, ts = jax.eval_shape(env.reset, jax.random.key(0))
    assert ts.observation.shape == (4,)
    assert ts.step_type.dtype == np.int8


def test_make_registers_every_brax_name_with_braxs_episode_length():
    ids = compat.register_brax_ids()
    assert ids == tuple(sorted("brax/" + n for n in brax_envs._envs))
    assert "brax/ant" in ids
    assert "brax/inverted_pendulum" in ids
    record = jit_env.envs.spec("brax/ant")
    assert record.max_episode_steps == 1000  # brax.envs.create's episode_length default
    env = jit_env.make("brax/inverted_pendulum")
    assert isinstance(env, TimeLimit)
    assert isinstance(env.unwrapped, compat.FromBrax)


def test_auto_reset_and_batched_brax_envs_are_refused():
    with pytest.raises(TypeError, match=r"wrapped in brax's AutoResetWrapper .*pass the raw"):
        compat.from_brax(brax_envs.create(_NAME, episode_length=10))
    with pytest.raises(TypeError, match="VmapWrapper"):
        compat.from_brax(brax_training.VmapWrapper(_brax(), 2))
    with pytest.raises(TypeError, match=r"`brax_env` must be a brax Env \(with `reset`\), got int"):
        compat.from_brax(3)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=re.escape("`brax_name` 'antt' is not a brax environment; brax has ['ant'")):
        compat._brax.make_brax("antt")
    with pytest.raises(KeyError, match=r"No environment 'antt' in suite 'brax'. Did you mean 'brax/ant'"):
        jit_env.make("brax/antt")
    env = compat.from_brax(_brax())
    with pytest.raises(TypeError, match="`options` must be a brax System or None, got dict"):
        env.reset(jax.random.key(0), options={"gravity": 9.8})


def test_missing_brax_names_the_extra(monkeypatch):
    for name in ("brax", "brax.envs", "brax.base"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=re.escape("from_brax needs: pip install 'jit-env[brax]'")):
        compat._brax.make_brax(_NAME)
    with pytest.raises(ImportError, match=re.escape("register_brax_ids needs: pip install 'jit-env[brax]'")):
        compat.register_brax_ids()


def test_missing_playground_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_playground", None)
    with pytest.raises(ImportError, match=re.escape(
            "from_brax (MuJoCo Playground) needs: pip install 'jit-env[playground]'")):
        compat._brax.make_playground("CartpoleBalance")
    with pytest.raises(ImportError, match=re.escape(
            "environment 'playground/CartpoleBalance': register_playground_ids needs: pip install "
            "'jit-env[playground]'")):
        jit_env.make("playground/CartpoleBalance")


@pytest.mark.slow  # compiles brax's physics
def test_trajectory_equals_braxs_through_termination():
    """Same keys, same actions: obs, rewards, done equal brax's; the LAST TimeStep has
    discount 0 and brax's own observation of that step (the pole past 0.2 rad), not a
    reset's."""
    brax_env = _brax()
    env = compat.from_brax(brax_env)
    actions = jnp.ones((30, 1), jnp.float32)  # full push: the pole falls within 30 steps
    key = jax.random.key(3)
    reset_obs, expected = _brax_loop(brax_env, key, actions)

    def run(key):
        state, first = env.reset(key)
        _, ts = jax.lax.scan(lambda s, a: env.step(s, a), state, actions)
        return first, ts

    first, ts = jax.jit(run)(key)
    np.testing.assert_array_equal(first.observation, reset_obs)
    done = np.array([d for _, _, d in expected]) > 0
    end = int(np.argmax(done))
    assert done.any()
    assert abs(expected[end][0][1]) > 0.2
    # Steps up to and including brax's first done (after it brax keeps integrating).
    for t in range(end + 1):
        np.testing.assert_allclose(ts.observation[t], expected[t][0], rtol=1e-6, atol=1e-6)  # same XLA program modulo fusion
        assert float(ts.reward[t]) == expected[t][1]
    np.testing.assert_array_equal(ts.step_type[: end + 1],
                                  [StepType.MID] * end + [StepType.LAST])
    np.testing.assert_array_equal(ts.discount[: end + 1], [1.0] * end + [0.0])


@pytest.mark.slow  # compiles brax's physics
def test_truncation_keeps_the_final_observation_where_braxs_auto_reset_loses_it():
    """brax PR #641: brax's EpisodeWrapper + AutoResetWrapper return the next episode's first
    observation at the time limit. Ours (TimeLimit, or brax's EpisodeWrapper alone) return
    brax's observation after the 5th step, with discount 1."""
    brax_env = _brax()
    actions = jnp.zeros((5, 1), jnp.float32)  # the pole stays up for 5 steps
    key = jax.random.key(1)
    _, expected = _brax_loop(brax_env, key, actions)
    final_obs = expected[-1][0]
    assert all(d == 0.0 for _, _, d in expected)

    def run(env, key):
        state, _ = env.reset(key)
        return jax.lax.scan(lambda s, a: env.step(s, a), state, actions)[1]

    for env in (TimeLimit(compat.from_brax(brax_env), 5),
                compat.from_brax(brax_training.EpisodeWrapper(brax_env, 5, 1))):
        ts = jax.jit(lambda k, env=env: run(env, k))(key)
        np.testing.assert_array_equal(ts.step_type, [StepType.MID] * 4 + [StepType.LAST])
        np.testing.assert_array_equal(ts.discount, np.ones(5))
        np.testing.assert_allclose(ts.observation[-1], final_obs, rtol=1e-6, atol=1e-6)

    brax_auto = brax_training.AutoResetWrapper(brax_training.EpisodeWrapper(brax_env, 5, 1))
    _, reset_key = jax.random.split(key)
    state = jax.jit(brax_auto.reset)(reset_key)
    first_obs = np.asarray(state.obs)
    for action in actions:
        state = jax.jit(brax_auto.step)(state, action)
    assert float(state.done) == 1.0
    assert float(state.info["truncation"]) == 1.0
    np.testing.assert_array_equal(state.obs, first_obs)  # brax's final observation is gone
    assert not np.allclose(state.obs, final_obs)


@pytest.mark.slow  # compiles brax's physics three times
def test_reset_and_step_eager_jit_and_vmap(variant_fn):
    env = compat.from_brax(_brax())
    reset, step = variant_fn(env.reset), variant_fn(env.step)
    state, ts = reset(jax.random.key(7))
    _, expected = _brax_loop(_brax(), jax.random.key(7), [jnp.full((1,), 0.5)] * 2)
    for t in range(2):
        state, ts = step(state, jnp.full((1,), 0.5, jnp.float32))
        np.testing.assert_allclose(ts.observation, expected[t][0], rtol=1e-5, atol=1e-6)  # eager vs fused float32
        assert int(ts.step_type) == StepType.MID
        assert float(ts.reward) == 1.0


@pytest.mark.slow  # compiles brax's physics
def test_options_replace_braxs_system():
    """A System as options runs the episode with it (brax's DomainRandomizationVmapWrapper
    swap): with the slider's actuator gear doubled, a push moves the cart further."""
    brax_env = _brax()
    env = compat.from_brax(brax_env)
    strong_sys = brax_env.sys.tree_replace({"actuator.gear": brax_env.sys.actuator.gear * 2.0})
    push = jnp.ones((1,), jnp.float32)

    def cart_velocity(sys):
        state, _ = env.reset(jax.random.key(0), options=sys)
        state, ts = env.step(state, push)
        return ts.observation[2], state.params

    v_default, params = jax.jit(lambda: cart_velocity(None))()
    v_strong, strong_params = jax.jit(cart_velocity)(strong_sys)
    assert params is None
    np.testing.assert_allclose(strong_params.actuator.gear, brax_env.sys.actuator.gear * 2.0)
    assert float(v_strong) > 1.5 * float(v_default) > 0
    assert brax_env.sys.actuator.gear[0] == strong_sys.actuator.gear[0] / 2  # restored


@pytest.mark.slow  # every check compiles brax's physics
def test_inverted_pendulum_passes_check_env():
    env = jit_env.make("brax/inverted_pendulum")
    report = check_env(env, num_steps=20, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


_OTHER_IDS = sorted(set(brax_envs._envs) - {_NAME})
# The checks that do not recompile brax's physics eagerly or per key implementation:
# eager physics runs op by op (minutes for a humanoid on a CPU).
_CHEAP_CHECKS = ("returns", "specs", "step_types", "discount_range", "finite", "scan_safe",
                 "state_key", "single_trace")


_BROKEN_ON_THIS_JAX = {
    # brax 0.14.2 brax/fluid.py calls jp.clip(..., a_min=1e-12); jax 0.10 removed `a_min`
    # ("TypeError: clip() got an unexpected keyword argument 'a_min'"). Only swimmer has fluid.
    "swimmer": "brax 0.14.2 brax/fluid.py uses jnp.clip(a_min=...), removed in jax 0.10",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", _OTHER_IDS)
def test_every_brax_id_passes_check_env(name):
    if name in _BROKEN_ON_THIS_JAX and jax.__version_info__ >= (0, 10):
        pytest.skip(_BROKEN_ON_THIS_JAX[name])
    # brax's humanoid observation relies on NumPy rank promotion (brax/envs/humanoid.py
    # `_get_obs`: `x_i.pos - com`, (11, 3) - (3,)), which tests/conftest.py makes an error.
    with jax.numpy_rank_promotion("allow"):
        env = jit_env.make(f"brax/{name}")
        report = check_env(env, num_steps=5, checks=_CHEAP_CHECKS)
    assert report.ok, report.failures


@pytest.mark.slow  # trains (compiles the physics inside PPO)
def test_ppo_trains_on_brax_inverted_pendulum(ppo_run):
    from jit_env.agents import PPOConfig

    config = PPOConfig(num_envs=4, num_steps=16, total_steps=256, update_epochs=1,
                       num_minibatches=1, hidden_sizes=(16,), anneal_lr=False)
    # Reward is 1 per step until the pole falls, so every finished episode's return is its
    # length: >= 1 and <= 1000 (the time limit).
    ppo_run(config, env=jit_env.make("brax/inverted_pendulum"), low=1.0, high=1000.0)
