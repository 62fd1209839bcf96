"""Tests of `jit_env.compat.from_gymnax` against gymnax itself (skipped without gymnax).

Reference: gymnax 1.0.1. The expected trajectories come from a plain gymnax
loop that splits the keys as `from_gymnax` documents (``key, sub =
split(key)`` before every reset and step).
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jit_env import StepType, compat
from jit_env.compat import from_gymnax, to_gymnasium
from jit_env.testing import check_env as check_jit_env

gymnax = pytest.importorskip("gymnax")
from gymnax.environments import spaces as gymnax_spaces  # noqa: E402

_IDS = ["CartPole-v1", "Pendulum-v1", "Breakout-MinAtar"]
_STEPS = 40
_ENVS: dict = {}


def _env(env_id):
    if env_id not in _ENVS:
        gymnax_env, params = gymnax.make(env_id)
        _ENVS[env_id] = (from_gymnax(gymnax_env, params), gymnax_env, params)
    return _ENVS[env_id]


def _actions(adapter, rng, batch=()):
    spec = adapter.action_spec()
    if hasattr(spec, "num_values"):
        return rng.integers(int(spec.num_values), size=batch).astype(spec.dtype)
    shape = batch + spec.shape
    return rng.uniform(spec.minimum, spec.maximum, size=shape).astype(spec.dtype)


def _gymnax_loop(gymnax_env, params, key, actions):
    """gymnax's own trajectory: (final observation, reward, terminated, truncated) per step.

    gymnax's ``reset`` / ``step`` are jitted by gymnax itself (static ``self``).
    """
    key, sub = jax.random.split(key)
    _, state = gymnax_env.reset(sub, params)
    out = []
    for action in actions:
        key, sub = jax.random.split(key)
        _, state, reward, terminated, truncated, info = gymnax_env.step(sub, state, action, params)
        out.append((info["final_observation"], reward, terminated, truncated))
    return out


@pytest.mark.parametrize("env_id", _IDS)
def test_gymnasium_check_env_and_trajectory_equal_gymnax(env_id, bits_equal):
    """check_env passes on to_gymnasium(from_gymnax(...)); its (jitted) trajectory is gymnax's.

    ``reset(seed=s)`` resets with ``split(key(s))[1]``, which `from_gymnax` splits once
    more, exactly as the gymnax loop does with that key.
    """
    adapter, gymnax_env, params = _env(env_id)
    gym_env = to_gymnasium(adapter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym_env)
    messages = [str(w.message) for w in caught]
    if env_id == "Pendulum-v1":  # gymnasium's advice for its own Pendulum's [-2, 2] torque
        assert len(messages) == 1, messages
        assert "symmetric and normalized" in messages[0], messages
    else:
        assert messages == []
    actions = _actions(adapter, np.random.default_rng(0), (_STEPS,))
    gym_env.reset(seed=5)
    steps = [gym_env.step(a) for a in actions]
    reset_key = jax.random.split(jax.random.key(5))[1]
    expected = _gymnax_loop(gymnax_env, params, reset_key, actions)
    for (obs, reward, terminated, truncated, _), exp in zip(steps, expected):
        bits_equal(obs, exp[0])  # the same float32 ops: bit-identical at LLVM's default level
        assert reward == float(exp[1])
        assert terminated == bool(exp[2])
        assert truncated == bool(exp[3])


def _check_against_gymnax(timesteps, expected, bits_equal):
    ended = 0
    for t, (obs, reward, terminated, truncated) in enumerate(expected):
        ts = jax.tree.map(lambda x, t=t: np.asarray(x)[t], timesteps)
        bits_equal(ts.observation, obs)  # the same float32 ops: bit-identical at LLVM's default level
        np.testing.assert_array_equal(ts.reward, np.float32(reward))
        done = bool(terminated) or bool(truncated)
        assert ts.step_type == (StepType.LAST if done else StepType.MID)
        assert float(ts.discount) == (0.0 if bool(terminated) else 1.0)
        ended += done
    return ended


def test_cartpole_trajectories_equal_gymnax(variant, bits_equal):
    """Two keys' trajectories, eagerly, under jit and under vmap (`variant`), equal gymnax.

    CartPole only: the other ids are covered (jitted) above; their eager / vmap
    compiles would cost most of the test budget.
    """
    adapter, gymnax_env, params = _env("CartPole-v1")
    keys = jax.random.split(jax.random.key(3), 2)
    actions = _actions(adapter, np.random.default_rng(0), (_STEPS, 2))
    state, _ = variant(adapter.reset, keys)
    out = []
    for action in actions:
        state, ts = variant(adapter.step, state, action)
        out.append(ts)
    timesteps = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *out)
    ended = 0
    for b in range(2):
        expected = _gymnax_loop(gymnax_env, params, keys[b], actions[:, b])
        ended += _check_against_gymnax(jax.tree.map(lambda x, b=b: x[:, b], timesteps), expected,
                                       bits_equal)
    assert ended > 0  # random CartPole episodes last ~20 steps: ends are compared too


def test_truncation_keeps_the_discount():
    """gymnax's time limit (here 5 steps) is a truncation: LAST with discount 1.

    Through `to_gymnasium` (its compiled step is shared with the test above; the
    parameters are traced, so a new limit does not recompile).
    """
    adapter, _, params = _env("Pendulum-v1")
    gym_env = to_gymnasium(adapter, options=params.replace(max_steps_in_episode=5))
    gym_env.reset(seed=0)
    flags = [gym_env.step(np.zeros((1,), np.float32))[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]


@dataclasses.dataclass(frozen=True)
class _OldState:
    time: jax.Array
    position: jax.Array


jax.tree_util.register_dataclass(_OldState, data_fields=["time", "position"], meta_fields=[])


class _OldStyleEnv:
    """A gymnax 0.x-style environment: 5-tuple step, ``info["discount"]``, no final obs.

    The position moves by ``action - 1``; it terminates at |position| >= 2 and
    truncates (discount 1) at 4 steps. ``step`` auto-resets to position 0, as gymnax's does.
    """

    default_params = None

    def reset(self, key, params=None):
        del key, params
        state = _OldState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        return state.position.astype(jnp.float32)[None], state

    def step_env(self, key, state, action, params=None):
        del key, params
        state = _OldState(state.time + 1, state.position + action - 1)
        terminated = jnp.abs(state.position) >= 2
        done = terminated | (state.time >= 4)
        info = {"discount": jnp.where(terminated, 0.0, 1.0)}
        return state.position.astype(jnp.float32)[None], state, jnp.float32(1.0), done, info

    def step(self, key, state, action, params=None):
        obs, new_state, reward, done, info = self.step_env(key, state, action, params)
        reset_obs, reset_state = self.reset(key, params)
        obs = jnp.where(done, reset_obs, obs)
        new_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), reset_state, new_state)
        return obs, new_state, reward, done, info

    def observation_space(self, params):
        del params
        return gymnax_spaces.Box(-5.0, 5.0, (1,), jnp.float32)

    def action_space(self, params):
        del params
        return gymnax_spaces.Discrete(3)


def test_old_five_tuple_api_uses_step_env_for_the_final_observation():
    adapter = from_gymnax(_OldStyleEnv())
    state, _ = adapter.reset(jax.random.key(0))
    observations, discounts, types = [], [], []
    for action in [2, 2]:  # +1, +1 -> terminates at position 2
        state, ts = adapter.step(state, jnp.int32(action))
        observations.append(float(ts.observation[0]))
        discounts.append(float(ts.discount))
        types.append(int(ts.step_type))
    assert observations == [1.0, 2.0]  # the final observation, not the auto-reset 0
    assert discounts == [1.0, 0.0]
    assert types == [1, 2]
    state, _ = adapter.reset(jax.random.key(0))
    for action in [1, 1, 1, 1]:  # stays at 0 -> truncates after 4 steps
        state, ts = adapter.step(state, jnp.int32(action))
    assert int(ts.step_type) == 2
    assert float(ts.discount) == 1.0


def test_register_gymnax_ids(monkeypatch):
    from jit_env.envs import _registry, make

    # Registering is global: restore the registry afterwards so other tests see the usual ids.
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    ids = compat.register_gymnax_ids()
    assert "gymnax/CartPole-v1" in ids
    assert compat.register_gymnax_ids() == ids  # idempotent
    env = make("gymnax/CartPole-v1")
    assert isinstance(env, compat.FromGymnax)
    assert env.action_spec().num_values == 2


def test_bad_gymnax_env_raises():
    with pytest.raises(TypeError, match="`gymnax_env`"):
        from_gymnax(object())


# ------------------------------------------------------------------ regressions (#20) --
def test_from_gymnax_builds_inside_jit():
    """gymnax builds CartPole's observation space with jnp ops; under jit they were
    tracers and `_leaf_spec`'s ``np.asarray`` raised TracerArrayConversionError."""
    gymnax_env, params = gymnax.make("CartPole-v1")
    eager = from_gymnax(gymnax_env, params)

    def first_observation(key):
        adapter = from_gymnax(gymnax_env, params)  # built while tracing
        assert repr(adapter.observation_spec()) == repr(eager.observation_spec())
        return adapter.reset(key)[1].observation

    key = jax.random.key(1)
    np.testing.assert_array_equal(jax.jit(first_observation)(key), eager.reset(key)[1].observation)


def test_train_on_a_gymnax_id_traces_under_jit(monkeypatch):
    """The issue's reproduction: ``jax.jit(lambda k: train(PPOConfig(env="gymnax/..."), k))``."""
    from jit_env.agents import PPOConfig, train
    from jit_env.envs import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))  # gymnax ids stay here
    config = PPOConfig(env="gymnax/CartPole-v1", num_envs=2, num_steps=4, total_steps=8,
                       update_epochs=1, num_minibatches=1, hidden_sizes=(4,))
    _, metrics = jax.eval_shape(lambda k: train(config, k), jax.random.PRNGKey(0))
    assert metrics["episode_return"].shape == (1,)


def test_pendulum_compiles_its_step_once():
    """gymnax Pendulum resets ``last_u`` to a weak float32 and steps it to a strong one;
    the adapter's state is strongly typed, so a jitted step traces once (check_env)."""
    adapter = from_gymnax(*gymnax.make("Pendulum-v1"))
    state, _ = adapter.reset(jax.random.key(0))
    assert not any(x.weak_type for x in jax.tree.leaves(state.env_state))
    report = check_jit_env(adapter, num_steps=10, checks=["single_trace"],
                              raise_on_failure=False)
    assert report.failures == {}


@pytest.mark.slow  # a subprocess
def test_a_broken_gymnax_install_is_not_reported_as_missing(tmp_path):
    """gymnax imports ``six`` (gymnax/utils/load_mnist.py) without declaring it. Without six
    the message named the extra the user already had; now it names six."""
    import subprocess
    import sys

    script = tmp_path / "no_six.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'six' or name.startswith('six.'):\n"
        "            raise ModuleNotFoundError(f\"No module named {name!r}\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from jit_env.compat import from_gymnax\n"
        "try:\n"
        "    from_gymnax(object())\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == ("from_gymnax needs gymnax, which is installed but cannot be imported: "
                   "No module named 'six' (pip install six, or reinstall 'jit-env[gymnax]')")


def test_the_gymnax_extra_installs_six():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    from jit_env.compat._optional import EXTRAS

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0] for r in extras["gymnax"]}
    assert names == {"gymnax", "six"}
    # Every extra `jit-env list` reports is one of pyproject's (minus the bundles).
    assert set(EXTRAS) == set(extras) - {"dev", "docs", "all"}
