"""A minimal jit_env environment, stepped eagerly, under jax.jit and under jax.vmap.

Run: python examples/counting_env.py
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

import jit_env
from jit_env import specs


class CountingState(NamedTuple):
    key: jax.Array
    count: jax.Array


class CountingEnv(jit_env.Environment):
    """Adds the action (0, 1 or 2) to a counter; the episode terminates at ``target``."""

    def __init__(self, target: int = 10):
        super().__init__()
        self.target = target

    def reset(self, key, *, options=None):
        del options  # counting has no reset options
        state = CountingState(key=key, count=jnp.zeros((), jnp.int32))
        return state, jit_env.restart(state.count.astype(jnp.float32)[None])

    def step(self, state, action):
        count = state.count + action
        obs = count.astype(jnp.float32)[None]
        reward = jnp.float32(1.0)
        timestep = jax.lax.cond(
            count >= self.target,
            lambda: jit_env.termination(reward, obs),
            lambda: jit_env.transition(reward, obs),
        )
        return CountingState(state.key, count), timestep

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")

    def observation_spec(self):
        return specs.Array((1,), jnp.float32, name="count")

    def action_spec(self):
        return specs.DiscreteArray(3, name="increment")


def main() -> dict:
    env = CountingEnv(target=5)

    # Eagerly.
    state, ts = env.reset(jax.random.PRNGKey(0))
    state, ts = env.step(state, jnp.int32(2))

    # Under jax.jit: the step compiles once.
    step = jax.jit(env.step)
    for _ in range(2):
        state, ts = step(state, jnp.int32(2))
    print("eager+jit:", int(state.count), "last:", bool(ts.last()), "discount:", float(ts.discount))

    # Under jax.vmap: a batch of 4 environments with different actions.
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    states, tss = jax.vmap(env.reset)(keys)
    states, tss = jax.vmap(env.step)(states, jnp.array([0, 1, 2, 1], jnp.int32))
    print("vmap counts:", states.count.tolist())
    return {"count": int(state.count), "last": bool(ts.last()), "batch": states.count.tolist()}


if __name__ == "__main__":
    main()
