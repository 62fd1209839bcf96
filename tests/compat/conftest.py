"""Fixtures shared by the compat tests.

Adapters compile ``reset`` / ``step`` once per environment *object*
(``jit_env.compat._jitted``), so every test adapting ``make(env_id)`` gets the
same object from `make_env` and each registered environment is compiled once
for the whole session, whichever adapter uses it.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from jit_env import specs
from jit_env.envs import make


@functools.cache
def _make(env_id: str, **kwargs):
    return make(env_id, **kwargs)


@pytest.fixture(scope="session")
def make_env():
    """``make(env_id, **kwargs)``, one object per distinct call for the session."""
    return _make


def _random_action(spec: specs.Spec, rng: np.random.Generator):
    if isinstance(spec, specs.Tree):  # a Tuple / Dict action (ChooseAndAim-v0): per leaf
        return jax.tree.map(lambda leaf: _random_action(leaf, rng), spec)
    if isinstance(spec, specs.DiscreteArray):
        return rng.integers(np.asarray(spec.num_values)).astype(spec.dtype)
    if isinstance(spec, specs.BoundedArray):
        low = np.broadcast_to(spec.minimum, spec.shape)
        high = np.broadcast_to(spec.maximum, spec.shape)
        return rng.uniform(low, high, size=spec.shape).astype(spec.dtype)
    return rng.normal(size=spec.shape).astype(spec.dtype)


@pytest.fixture(scope="session")
def random_action():
    """``random_action(spec, rng)``: a uniformly random NumPy action for a primitive spec."""
    return _random_action


@pytest.fixture(scope="class")
def attach_env_tools(request, make_env, random_action):
    """Gives unittest classes (dm_env's mixin) the session's `make_env` / `random_action`."""
    request.cls.make_env = staticmethod(make_env)
    request.cls.random_action = staticmethod(random_action)


# The suites' heaviest tests: physics (brax, MuJoCo Playground) and world generation
# (Craftax) compile for minutes on a 2-core CPU, and `check_env` over every registered
# id of a suite takes 15-60 minutes. They carry the `suites` marker besides `slow`;
# `.ci/run` runs `-m "slow and not suites"` and leaves them to `pytest -m suites`.
_HEAVY_FILES = {"test_brax.py", "test_craftax.py", "test_playground.py"}
_HEAVY_TESTS = {"test_ppo_trains_on_pgx_minatar_breakout"}


def pytest_collection_modifyitems(config, items):  # noqa: ARG001  (pytest hook signature)
    for item in items:
        if item.get_closest_marker("slow") is None:
            continue
        name = item.originalname if hasattr(item, "originalname") else item.name
        heavy = (
            (item.path.name in _HEAVY_FILES and not name.startswith("test_importing"))
            or "every_id" in name
            or "every_check" in name
            or name in _HEAVY_TESTS
        )
        if heavy:
            item.add_marker(pytest.mark.suites)
