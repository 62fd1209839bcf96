"""`jit_env.make` of a user's own environment: ``module:attr``, entry points, suite ids.

The user's environment is `tests/envs/corridor_env.py`, written to a temporary
module by the ``user_env_module`` fixture (tests/conftest.py). The installed
package is a fake distribution: a ``*.dist-info`` directory with ``METADATA``
and ``entry_points.txt`` on ``sys.path``, which ``importlib.metadata`` reads as
it reads an installed wheel's.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import wrappers
from jit_env.envs import _registry
from jit_env.testing import check_env


@pytest.fixture
def registry(monkeypatch):
    """A private registry: neither entry points nor suites leak into other tests."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    monkeypatch.setattr(_registry, "_PLUGIN_SUITES", {})
    monkeypatch.setattr(_registry, "_plugins_loaded", False)
    return _registry


def _fake_distribution(root, name, entry_points):
    """An installed distribution ``name`` 1.0 whose ``jit_env.envs`` group holds ``entry_points``."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[jit_env.envs]\n{lines}")


def _walk(env, actions):
    """Observations and rewards of ``env`` under ``actions`` from reset(key 0)."""
    state, ts = env.reset(jax.random.key(0))
    out = [(np.asarray(ts.observation), float(ts.reward), int(ts.step_type))]
    for a in actions:
        state, ts = env.step(state, jnp.int32(a))
        out.append((np.asarray(ts.observation), float(ts.reward), int(ts.step_type)))
    return out


def test_module_attr_class_factory_and_kwargs(registry, user_env_module):
    del registry
    env = jit_env.make(f"{user_env_module}:Corridor", size=3)
    assert type(env).__name__ == "Corridor"
    assert env.size == 3
    assert not isinstance(env, wrappers.TimeLimit)  # a module:attr gets no time limit
    # Right, right: cell 0 -> 1 -> 2 (the end, size 3): reward 1 and LAST, worked out by hand.
    steps = _walk(env, [1, 1])
    np.testing.assert_array_equal(steps[1][0], [0.0, 1.0, 0.0])
    assert [s[1:] for s in steps] == [(0.0, 0), (0.0, 1), (1.0, 2)]
    factory = jit_env.make(f"{user_env_module}:make_corridor", size=4, max_steps=2)
    assert isinstance(factory, wrappers.TimeLimit)
    assert [s[2] for s in _walk(factory, [1, 1])] == [0, 1, 2]  # truncated at 2 steps, not at 4
    check_env(env, num_steps=20)  # the user's environment passes the conformance checker


@pytest.mark.parametrize(
    ("spec", "error", "pattern"),
    [
        ("no_such_module_xyz:Env", ImportError, "cannot import module 'no_such_module_xyz'"),
        ("{mod}:Missing", AttributeError, "has no attribute 'Missing'"),
        ("{mod}:not_an_env", TypeError, "is a int, not a jit_env.Environment class"),
        ("{mod}:CorridorState", TypeError, "is a class but not a jit_env.Environment subclass"),
        ("{mod}:", ValueError, "needs both sides"),
        ("CartPol-v1", KeyError, "Did you mean 'CartPole-v1'"),
        ("nosuite/CartPole-v1", KeyError, "unknown suite 'nosuite'"),
    ],
)
def test_bad_environment_strings_name_the_problem(registry, user_env_module, spec, error, pattern):
    del registry
    with pytest.raises(error, match=re.escape(pattern)):
        jit_env.make(spec.format(mod=user_env_module))


def test_keyword_the_environment_does_not_take_is_named(registry, user_env_module):
    del registry
    with pytest.raises(TypeError, match=r"with keyword arguments \{'sise': 3\}.*sise"):
        jit_env.make(f"{user_env_module}:Corridor", sise=3)


def test_entry_point_distribution_registers_ids(registry, user_env_module, tmp_path):
    # tmp_path is on sys.path (user_env_module), so importlib.metadata finds the dist-info.
    _fake_distribution(tmp_path, "corridor-envs", {
        "Corridor-v0": f"{user_env_module}:make_corridor",
        "Corridor3-v0": f"{user_env_module}:Corridor",
    })
    assert "Corridor-v0" in jit_env.registered_ids()
    assert registry.suite_of("Corridor-v0") == "corridor-envs"
    assert registry.spec("Corridor3-v0").entry_point == f"{user_env_module}:Corridor"
    # Registered lazily: the user's module is imported by make, not by listing.
    import sys

    assert user_env_module not in sys.modules
    env = jit_env.make("Corridor3-v0", size=3)
    assert [s[1:] for s in _walk(env, [1, 1])] == [(0.0, 0), (0.0, 1), (1.0, 2)]


def test_entry_point_found_by_make_without_listing(registry, user_env_module, tmp_path):
    _fake_distribution(tmp_path, "corridor-envs", {"Corridor-v0": f"{user_env_module}:Corridor"})
    assert jit_env.make("Corridor-v0").size == 5  # first miss reads the entry points
    assert registry.load_plugins() == ("Corridor-v0",)


def test_bad_entry_point_is_skipped_with_a_warning(registry, user_env_module, tmp_path):
    _fake_distribution(tmp_path, "bad-envs", {
        "CartPole-v1": f"{user_env_module}:Corridor",  # collides with the bundled id
        "Good-v0": f"{user_env_module}:Corridor",
    })
    with pytest.warns(RuntimeWarning, match="'CartPole-v1'.*bad-envs.*already registered"):
        ids = registry.load_plugins()
    assert ids == ("Good-v0",)
    assert registry.suite_of("CartPole-v1") == "classic_control"


def test_suites_of_bundled_ids(registry):
    assert registry.suite_of("CartPole-v1") == "classic_control"
    assert registry.suite_of("Catch-bsuite") == "bsuite"
    registry.register("Mine-v0", "my_pkg.envs:Mine")
    assert registry.suite_of("Mine-v0") == "my_pkg"


def test_gymnax_suite_ids_register_on_first_use(registry):
    pytest.importorskip("gymnax")
    assert "gymnax/CartPole-v1" not in jit_env.registered_ids()
    env = jit_env.make("gymnax/CartPole-v1")
    assert type(env).__name__ == "FromGymnax"
    assert registry.suite_of("gymnax/CartPole-v1") == "gymnax"
    with pytest.raises(KeyError, match=r"No environment 'CartPol-v1' in suite 'gymnax'.*"
                                       r"Did you mean 'gymnax/CartPole-v1'"):
        jit_env.make("gymnax/CartPol-v1")


def test_gymnax_suite_without_gymnax_names_the_extra(registry, monkeypatch):
    import sys

    del registry  # a private registry: the suite must not be half-registered elsewhere
    monkeypatch.setitem(sys.modules, "gymnax", None)
    with pytest.raises(ImportError, match=re.escape(
            "environment 'gymnax/CartPole-v1': register_gymnax_ids needs: "
            "pip install 'jit-env[gymnax]'")):
        jit_env.make("gymnax/CartPole-v1")
