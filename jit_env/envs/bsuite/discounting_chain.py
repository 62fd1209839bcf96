"""Discounting Chain (bsuite): choose between rewards at different horizons.

Matches bsuite 0.3.5 ``bsuite.environments.discounting_chain.DiscountingChain``
(and gymnax's ``DiscountingChain-bsuite``). The first action ``a`` in
``{0, ..., 4}`` picks a chain; the agent then receives reward
``1`` (or ``1.1`` on the bonus chain ``mapping_seed % 5``) at step
``(1, 3, 10, 30, 100)[a]`` and 0 on every other step. Later actions do
nothing. The observation, shape ``[1, 2]``, is ``[context, t / 100]`` where
the context is -1 before the first action and the chosen chain after it.
Every episode lasts 100 steps and ends by termination.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.bsuite import _rendering

REWARD_TIMESTEPS = np.array([1, 3, 10, 30, 100], np.int32)
"""Step (1-based) at which each chain pays its reward (bsuite's constant)."""
EPISODE_LENGTH = 100
"""Steps per episode (bsuite's constant)."""
BONUS = 0.1
"""Extra reward of the bonus chain (bsuite: 1.1 instead of 1)."""


class DiscountingChainParams(NamedTuple):
    """Parameters of `DiscountingChain` (kept in the state; vmap over them).

    Attributes:
      mapping_seed: int32; chain ``mapping_seed % 5`` pays ``1 + BONUS``
        (bsuite's ``mapping_seed``; gymnax's default 0).
    """

    mapping_seed: int = 0


_PARAM_DTYPES = {"mapping_seed": jnp.int32}


class DiscountingChainState(NamedTuple):
    """State of `DiscountingChain`.

    Attributes:
      key: PRNG key (never used: the environment is deterministic).
      timestep: int32, steps taken in this episode.
      context: int32, -1 before the first action, then the chosen chain.
      params: the `DiscountingChainParams` of this episode.
    """

    key: jax.Array
    timestep: jax.Array
    context: jax.Array
    params: DiscountingChainParams


class DiscountingChain(ScalarRewardDiscount, _core.Environment):
    """bsuite's Discounting Chain, pure and jittable (gymnax id ``DiscountingChain-bsuite``).

    Observation: float32 ``[1, 2]`` in ``[-1, 4]``. Action: int32 scalar in
    ``{0, ..., 4}``. Reward: float32 scalar in ``{0, 1, 1.1}``. Episodes end by
    termination after 100 steps.

    Deterministic: neither ``reset`` nor ``step`` touches ``state.key``.
    ``render`` shows the observation as grey cells (uint8 ``[16, 32, 3]``).

    Args:
      renderer: optional replacement for the built-in renderer.

    Reference: bsuite 0.3.5 ``bsuite/environments/discounting_chain.py``.
    """

    num_actions = len(REWARD_TIMESTEPS)

    def __init__(self, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)

    def reset(
        self, key: jax.Array, *, options: DiscountingChainParams | None = None
    ) -> tuple[DiscountingChainState, _core.TimeStep]:
        """Starts before the choice (context -1); the key is stored, not split.

        ``options``: a `DiscountingChainParams` of scalars, or ``None`` for the defaults
        (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(
            options, DiscountingChainParams, "DiscountingChain", _PARAM_DTYPES
        )
        state = DiscountingChainState(
            key=key,
            timestep=jnp.zeros((), jnp.int32),
            context=jnp.full((), -1, jnp.int32),
            params=params,
        )
        return state, _core.restart(self._observation(state))

    def step(
        self, state: DiscountingChainState, action: Any
    ) -> tuple[DiscountingChainState, _core.TimeStep]:
        """Advances the chain; the first action picks it.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, ..., 4}``; a first action outside it picks
            chain 0 (as action 0), so the observation stays in its spec (bsuite
            raises ``IndexError``; `jit_env.wrappers.ValidateAction` rejects it).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 on step 100.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "DiscountingChain")
        action = action.astype(jnp.int32)
        action = jnp.where((action >= 0) & (action < self.num_actions), action, 0)
        context = jnp.where(state.timestep == 0, action, state.context)
        timestep = state.timestep + 1
        reward_at = jnp.asarray(REWARD_TIMESTEPS)[context]
        bonus = jnp.where(context == state.params.mapping_seed % self.num_actions, BONUS, 0.0)
        reward = jnp.where(timestep == reward_at, 1.0 + bonus, 0.0).astype(jnp.float32)
        state = state._replace(timestep=timestep, context=context)
        done = timestep == EPISODE_LENGTH
        return state, _steps.end_or_continue(done, reward, self._observation(state))

    def _observation(self, state: DiscountingChainState) -> jax.Array:
        time = state.timestep.astype(jnp.float32) / EPISODE_LENGTH
        return jnp.stack([state.context.astype(jnp.float32), time])[None, :]

    def _draw(self, state: DiscountingChainState) -> jax.Array:
        return _rendering.grey_image(self._observation(state), -1.0, self.num_actions - 1.0)

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[1, 2]`` (bsuite's shape) in ``[-1, 4]``."""
        return specs.BoundedArray(
            (1, 2), jnp.float32, -1.0, float(self.num_actions - 1), name="observation"
        )

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 5 values."""
        return specs.DiscreteArray(self.num_actions, dtype=jnp.int32, name="action")

