"""A user's own environment, written outside jit_env (copied into a temporary module).

Not a test module: `tests/conftest.py`'s ``user_env_module`` fixture writes this
file under a fresh module name into a temporary directory on ``sys.path``, as a
user's ``my_pkg/envs.py`` would be, so tests can name it as ``module:attr``.

``Corridor(size)``: ``size`` cells, the agent starts in cell 0; action 1 moves
right, 0 left (clipped at the walls); reaching cell ``size - 1`` ends the
episode with reward 1 (termination); observation: one-hot of the cell.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

import jit_env
from jit_env import specs


class CorridorState(NamedTuple):
    key: jax.Array
    position: jax.Array


class Corridor(jit_env.Environment):
    def __init__(self, size: int = 5):
        super().__init__()
        if size < 2:
            raise ValueError(f"`size` must be >= 2, got {size}")
        self.size = size

    def _observation(self, position):
        return jax.nn.one_hot(position, self.size, dtype=jnp.float32)

    def reset(self, key, *, options=None):
        del options
        state = CorridorState(key, jnp.zeros((), jnp.int32))
        return state, jit_env.restart(self._observation(state.position))

    def step(self, state, action):
        move = 2 * jnp.asarray(action, jnp.int32) - 1
        position = jnp.clip(state.position + move, 0, self.size - 1)
        done = position == self.size - 1
        timestep = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID),
            reward=done.astype(jnp.float32),
            discount=jnp.where(done, 0.0, 1.0).astype(jnp.float32),
            observation=self._observation(position),
            extras=None,
        )
        return CorridorState(state.key, position), timestep

    def observation_spec(self):
        return specs.BoundedArray((self.size,), jnp.float32, 0.0, 1.0)

    def action_spec(self):
        return specs.DiscreteArray(2)

    def reward_spec(self):
        return specs.Array((), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0)


def make_corridor(size: int = 5, max_steps: int = 20):
    """A factory: the corridor with a time limit."""
    return jit_env.wrappers.TimeLimit(Corridor(size), max_steps)


not_an_env = 42
