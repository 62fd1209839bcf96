"""The reward and discount specs shared by every single-agent bundled environment."""

from __future__ import annotations

import jax.numpy as jnp

from jit_env import specs


class ScalarRewardDiscount:
    """Mixin giving a float32 scalar reward and a float32 scalar discount in [0, 1].

    These are dm_env's default specs (``dm_env/_environment.py``:
    ``Environment.reward_spec`` is ``Array(shape=(), dtype=float, name='reward')``,
    ``discount_spec`` is ``BoundedArray((), float, 0.0, 1.0, name='discount')``)
    in float32, the dtype every bundled environment returns. Put it before
    `jit_env.Environment` in the bases: ``class Catch(ScalarRewardDiscount, Environment)``.
    """

    def reward_spec(self) -> specs.Array:
        """float32 scalar."""
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self) -> specs.BoundedArray:
        """float32 scalar in [0, 1]."""
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")
