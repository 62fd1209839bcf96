"""Memory Chain (bsuite): remember a context bit for ``memory_length`` steps.

Matches bsuite 0.3.5 ``bsuite.environments.memory_chain.MemoryChain`` (and
gymnax's ``MemoryChain-bsuite``). At reset ``num_bits`` context bits and a
query index are drawn uniformly. The observation, shape ``[1, num_bits + 2]``,
is ``[time_left, query, context...]``: ``time_left = 1 - t / memory_length``
on every step, the query only when ``t == memory_length - 1``, the context
(as +-1) only when ``t == 0``, zeros elsewhere. As in bsuite, ``step`` returns
the observation of the time step *before* its own increment, so the first
step shows the context again and an episode lasts ``memory_length + 1``
steps; the last action earns +1 if it equals ``context[query]`` and -1
otherwise; every other reward is 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.bsuite import _rendering


class MemoryChainParams(NamedTuple):
    """Parameters of `MemoryChain` (kept in the state; vmap over them).

    Attributes:
      memory_length: int32 >= 1, steps between seeing the context and being
        asked about it; the episode lasts ``memory_length + 1`` steps.
        gymnax's default 5 (bsuite's ``memory_len`` sweep uses 1 to 100).
    """

    memory_length: int = 5


_PARAM_DTYPES = {"memory_length": jnp.int32}


class MemoryChainState(NamedTuple):
    """State of `MemoryChain`.

    Attributes:
      key: PRNG key for future resets (a step never uses it).
      timestep: int32, steps taken in this episode.
      context: int32 ``[num_bits]`` of 0/1, the bits to remember.
      query: int32 in ``[0, num_bits)``, which bit is asked for.
      params: the `MemoryChainParams` of this episode.
    """

    key: jax.Array
    timestep: jax.Array
    context: jax.Array
    query: jax.Array
    params: MemoryChainParams


class MemoryChain(ScalarRewardDiscount, _core.Environment):
    """bsuite's Memory Chain, pure and jittable (gymnax id ``MemoryChain-bsuite``).

    Observation: float32 ``[1, num_bits + 2]`` in ``[-1, max(1, num_bits -
    1)]``. Action: int32 scalar in ``{0, 1}``. Reward: float32 scalar, +-1 on
    the last step, 0 before. Episodes end by termination after
    ``memory_length + 1`` steps.

    ``step`` is deterministic and never touches ``state.key``; ``reset``
    splits it to draw the context and query. ``render`` shows the observation
    as grey cells (uint8 ``[16, (num_bits + 2) * 16, 3]``).

    Args:
      num_bits: number of context bits (>= 1), bsuite/gymnax default 1.
        Static: it sets the observation's shape.
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: if ``num_bits < 1``.

    Reference: bsuite 0.3.5 ``bsuite/environments/memory_chain.py``; gymnax
    ``gymnax/environments/bsuite/memory_chain.py``.
    """

    def __init__(self, num_bits: int = 1, *, renderer: Any = None):
        if int(num_bits) != num_bits or num_bits < 1:
            raise ValueError(f"MemoryChain: `num_bits` must be an integer >= 1, got {num_bits!r}")
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.num_bits = int(num_bits)

    def __repr__(self) -> str:
        return f"MemoryChain(num_bits={self.num_bits})"

    def reset(
        self, key: jax.Array, *, options: MemoryChainParams | None = None
    ) -> tuple[MemoryChainState, _core.TimeStep]:
        """Draws the context bits (Bernoulli(0.5)) and the query (uniform).

        ``options``: a `MemoryChainParams` of scalars, or ``None`` for the defaults
        (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(
            options, MemoryChainParams, "MemoryChain", _PARAM_DTYPES
        )
        key, context_key, query_key = jax.random.split(key, 3)
        state = MemoryChainState(
            key=key,
            timestep=jnp.zeros((), jnp.int32),
            context=jax.random.bernoulli(context_key, 0.5, (self.num_bits,)).astype(jnp.int32),
            query=jax.random.randint(query_key, (), 0, self.num_bits, dtype=jnp.int32),
            params=params,
        )
        return state, _core.restart(self._observation(state))

    def step(
        self, state: MemoryChainState, action: Any
    ) -> tuple[MemoryChainState, _core.TimeStep]:
        """Advances time; the action only matters on the last step.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1}``, the guessed bit; any other value is
            a wrong guess (`jit_env.wrappers.ValidateAction` rejects it).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 on step
          ``memory_length + 1``.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "MemoryChain")
        observation = self._observation(state)  # bsuite: before the increment
        done = state.timestep >= state.params.memory_length
        correct = action.astype(jnp.int32) == state.context[state.query]
        reward = jnp.where(done, jnp.where(correct, 1.0, -1.0), 0.0).astype(jnp.float32)
        state = state._replace(timestep=state.timestep + 1)
        return state, _steps.end_or_continue(done, reward, observation)

    def _observation(self, state: MemoryChainState) -> jax.Array:
        t = state.timestep
        length = state.params.memory_length
        time_left = 1.0 - t.astype(jnp.float32) / jnp.asarray(length, jnp.float32)
        query = jnp.where(t == length - 1, state.query, 0).astype(jnp.float32)
        context = jnp.where(t == 0, 2 * state.context - 1, 0).astype(jnp.float32)
        return jnp.concatenate([time_left[None], query[None], context])[None, :]

    def _draw(self, state: MemoryChainState) -> jax.Array:
        return _rendering.grey_image(self._observation(state), -1.0, max(1.0, self.num_bits - 1.0))

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[1, num_bits + 2]`` (bsuite's shape) in ``[-1, max(1, num_bits - 1)]``."""
        return specs.BoundedArray(
            (1, self.num_bits + 2),
            jnp.float32,
            -1.0,
            float(max(1, self.num_bits - 1)),
            name="observation",
        )

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 2 values."""
        return specs.DiscreteArray(2, dtype=jnp.int32, name="action")

