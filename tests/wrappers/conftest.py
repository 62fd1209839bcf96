"""Small environments and the eager / jit / vmap `transform` fixture of the wrapper tests.

* `Counting`: deterministic steps; ``count`` rises by one per step and the
  episode terminates (discount 0) when it reaches ``params.threshold``; the
  observation ``[count, offset]`` carries an ``offset`` drawn at reset, so every
  episode is recognisable. Reward ``action + 0.5``. Extras ``{"count": int32}``.
* `Walk`: stochastic resets (start in {-2..2}) and stochastic steps (the move
  is random with probability 0.3; the episode terminates with probability 0.1
  per step or when ``|pos| >= 4``). Reward ``pos / 4``. Extras ``None``.
* `Point`: continuous action in ``[-1, 1]^2`` moves a point; never ends.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import specs


class CountParams(NamedTuple):
    threshold: jax.Array


class CountState(NamedTuple):
    key: jax.Array
    count: jax.Array
    offset: jax.Array
    params: CountParams


class Counting(jit_env.Environment):
    def __init__(self, threshold: int = 5):
        super().__init__(renderer=lambda state: state.count)
        self.default = CountParams(jnp.int32(threshold))
        self.step_traces = 0

    def _obs(self, count, offset):
        return jnp.stack([count.astype(jnp.float32), offset])

    def reset(self, key, *, options=None):
        params = self.default if options is None else options
        params = CountParams(jnp.asarray(params.threshold, jnp.int32))
        key, sub = jax.random.split(key)
        offset = jax.random.uniform(sub, (), jnp.float32)
        count = jnp.int32(0)
        state = CountState(key, count, offset, params)
        return state, jit_env.restart(self._obs(count, offset), extras={"count": count})

    def step(self, state, action):
        self.step_traces += 1
        count = state.count + 1
        obs = self._obs(count, state.offset)
        reward = jnp.asarray(action, jnp.float32) + 0.5
        done = count >= state.params.threshold
        ts = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID),
            reward=reward,
            discount=jnp.where(done, 0.0, 1.0).astype(jnp.float32),
            observation=obs,
            extras={"count": count},
        )
        return state._replace(count=count), ts

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")

    def observation_spec(self):
        return specs.Array((2,), jnp.float32, name="observation")

    def action_spec(self):
        return specs.DiscreteArray(2, name="action")


class WalkState(NamedTuple):
    key: jax.Array
    pos: jax.Array


class _RandomStart(jit_env.Environment):
    """``reset`` draws ``pos = self._start(key)`` (one split) into ``self.State(key, pos)``;
    float32 reward and [0, 1] discount specs."""

    def reset(self, key, *, options=None):
        del options
        key, sub = jax.random.split(key)
        pos = self._start(sub)
        return self.State(key, pos), jit_env.restart(self._obs(pos))

    def reward_spec(self):
        return specs.Array((), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0)


class Walk(_RandomStart):
    State = WalkState

    def _start(self, key):
        return jax.random.randint(key, (), -2, 3)

    def _obs(self, pos):
        return jnp.asarray(pos, jnp.float32)[None]

    def step(self, state, action):
        key, k_move, k_end = jax.random.split(state.key, 3)
        random_move = jax.random.randint(k_move, (), -1, 2)
        move = jnp.where(jax.random.uniform(k_move) < 0.3, random_move, 2 * action - 1)
        pos = state.pos + move
        done = (jnp.abs(pos) >= 4) | (jax.random.uniform(k_end) < 0.1)
        ts = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID),
            reward=pos.astype(jnp.float32) / 4,
            discount=jnp.where(done, 0.0, 1.0).astype(jnp.float32),
            observation=self._obs(pos),
            extras=None,
        )
        return WalkState(key, pos), ts

    def observation_spec(self):
        return specs.BoundedArray((1,), jnp.float32, -4.0, 4.0)

    def action_spec(self):
        return specs.DiscreteArray(2)


class PointState(NamedTuple):
    key: jax.Array
    pos: jax.Array


class Point(_RandomStart):
    State = PointState

    def _start(self, key):
        return jax.random.normal(key, (2,), jnp.float32)

    def _obs(self, pos):
        return pos

    def step(self, state, action):
        pos = state.pos + action
        reward = -jnp.sum(jnp.abs(pos))
        return state._replace(pos=pos), jit_env.transition(reward, pos)

    def observation_spec(self):
        return specs.Array((2,), jnp.float32)

    def action_spec(self):
        return specs.BoundedArray((2,), jnp.float32, -1.0, 1.0)


ENVS = SimpleNamespace(
    Counting=Counting,
    CountParams=CountParams,
    Walk=Walk,
    Point=Point,
)


@pytest.fixture(scope="session")
def envs():
    """The test environment classes (`Counting`, `Walk`, `Point`, `CountParams`)."""
    return ENVS


def _run_eager(fn, key):
    return fn(key)


def _run_jit(fn, key):
    return jax.jit(fn)(key)


def _run_vmap(fn, key):
    # Run a batch of two (another key first) and keep the element for `key`.
    other = jax.random.fold_in(key, 12345)
    out = jax.jit(jax.vmap(fn))(jnp.stack([other, key]))
    return jax.tree.map(lambda x: x[1], out)


def _typed(key: Any) -> bool:
    return jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)


@pytest.fixture(params=["eager", "jit", "vmap"], scope="module")
def transform(request):
    """``transform(fn, key)``: ``fn(key)`` eagerly, under ``jax.jit``, or as element 1
    of ``jax.jit(jax.vmap(fn))`` over two *different* keys (``key`` second), so a
    batch element must not depend on its neighbour. The root ``variant_fn`` maps
    copies of its inputs instead; this is the wrappers' stronger form."""
    return {"eager": _run_eager, "jit": _run_jit, "vmap": _run_vmap}[request.param]


def tree_equal(a, b) -> None:
    """Asserts two pytrees have equal structure and bitwise-equal leaves."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if _typed(x):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="session")
def assert_tree_equal():
    return tree_equal
