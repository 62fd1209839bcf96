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
