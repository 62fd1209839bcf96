"""Fixtures shared by the compat tests.

Adapters compile ``reset`` / ``step`` once per environment *object*
(``jit_env.compat._jitted``), so every test adapting ``make(env_id)`` gets the
same object from `make_env` and each registered environment is compiled once
for the whole session, whichever adapter uses it.

`ppo_run` is the suites' CI-sized PPO check (one id of every suite trains).
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


def _ppo_run(config, *, env=None, low=-np.inf, high=np.inf, min_updates_with_episodes=1):
    from jit_env.agents import train  # imports flax / optax: only when a test trains

    _, metrics = jax.jit(lambda k: train(config, k, env=env))(jax.random.PRNGKey(0))
    ended = np.asarray(metrics["episodes"]) > 0  # updates without a finished episode: NaN
    assert ended.sum() >= min_updates_with_episodes, np.asarray(metrics["episodes"])
    for name, value in metrics.items():
        value = np.asarray(value)
        if name.startswith("episode_") and value.shape == ended.shape:
            assert np.all(np.isfinite(value[ended])), name
            assert np.all(np.isnan(value[~ended])), name
        else:
            assert np.all(np.isfinite(value)), name
    returns = np.asarray(metrics["episode_return"])[ended]
    assert np.all((returns >= low) & (returns <= high)), returns
    return metrics


@pytest.fixture(scope="session")
def ppo_run():
    """``ppo_run(config, *, env=None, low, high, min_updates_with_episodes=1) -> metrics``.

    A CI-sized PPO run (``jax.jit`` of `jit_env.agents.train`, key 0) that checks it
    runs: at least ``min_updates_with_episodes`` updates finish an episode; every
    metric is finite, except the ``episode_*`` ones of updates that finished none
    (NaN); every finished episode's mean return lies in ``[low, high]``. (A return
    that improves needs more than a CI-sized run.)
    """
    return _ppo_run


# The suites' heaviest tests carry the `suites` marker besides `slow`; `.ci/run` runs
# `-m "(slow and not suites) or bitwise"` and leaves them to `pytest -m suites`. Measured
# with `pytest -n 2 -m suites` on 2 cores (2026-12-08): jumanji + Pgx every-id 7.2 min,
# brax + Craftax 5.1 min (Craftax-Pixels-v1 alone 2 min). NAVIX's and XLand-MiniGrid's
# every-id checks (90 tests, 2.1 min together) stay in CI.
_HEAVY_FILES = {"test_brax.py", "test_craftax.py", "test_playground.py"}
_HEAVY_TESTS = {"test_ppo_trains_on_pgx_minatar_breakout"}
_EVERY_ID_IN_CI = {"test_navix.py", "test_xminigrid.py"}


def pytest_collection_modifyitems(config, items):  # noqa: ARG001  (pytest hook signature)
    for item in items:
        if item.get_closest_marker("slow") is None:
            continue
        name = item.originalname if hasattr(item, "originalname") else item.name
        heavy = (
            (item.path.name in _HEAVY_FILES and not name.startswith("test_importing"))
            or (("every_id" in name or "every_check" in name)
                and item.path.name not in _EVERY_ID_IN_CI)
            or name in _HEAVY_TESTS
        )
        if heavy:
            item.add_marker(pytest.mark.suites)
