"""Umbrella Chain (bsuite): credit assignment over a chain of noisy rewards.

Matches bsuite 0.3.5 ``bsuite.environments.umbrella_chain.UmbrellaChain``
(and gymnax's ``UmbrellaChain-bsuite``). At reset ``need_umbrella`` and
``has_umbrella`` are drawn Bernoulli(0.5). Only the first action matters: it
sets ``has_umbrella``. Every step but the last pays a random +-1 reward (pure
noise); on step ``chain_length`` the episode terminates with +1 if
``has_umbrella == need_umbrella`` and -1 otherwise. The observation, shape
``[1, 3 + n_distractor]``, is ``[need_umbrella, has_umbrella, 1 - t /
chain_length, distractors...]`` with Bernoulli(0.5) distractor bits drawn
afresh every step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.bsuite import _rendering


class UmbrellaChainParams(NamedTuple):
    """Parameters of `UmbrellaChain` (kept in the state; vmap over them).

    Attributes:
      chain_length: int32 >= 1, the episode's length in steps; gymnax's
        default 10 (bsuite's ``umbrella_length`` sweep uses 1 to 100).
    """

    chain_length: int = 10


_PARAM_DTYPES = {"chain_length": jnp.int32}


class UmbrellaChainState(NamedTuple):
    """State of `UmbrellaChain`.

    Attributes:
      key: PRNG key, split by every step (the rewards are random).
      timestep: int32, steps taken in this episode.
      need_umbrella: int32 0/1.
      has_umbrella: int32 0/1 (set by the first action).
      distractors: float32 ``[n_distractor]`` 0/1, the distractor bits of the
        current observation (kept so that `render` can show it).
      params: the `UmbrellaChainParams` of this episode.
    """

    key: jax.Array
    timestep: jax.Array
    need_umbrella: jax.Array
    has_umbrella: jax.Array
    distractors: jax.Array
    params: UmbrellaChainParams


class UmbrellaChain(ScalarRewardDiscount, _core.Environment):
    """bsuite's Umbrella Chain, pure and jittable (gymnax id ``UmbrellaChain-bsuite``).

    Observation: float32 ``[1, 3 + n_distractor]`` in [0, 1]. Action: int32
    scalar in ``{0, 1}``. Reward: float32 scalar, +-1 on every step. Episodes
    end by termination after ``chain_length`` steps.

    Every step splits ``state.key`` (the reward noise and the distractors are
    random). ``render`` shows the observation as grey cells (uint8
    ``[16, (3 + n_distractor) * 16, 3]``).

    Args:
      n_distractor: number of distractor bits (>= 0), default 0 (bsuite's
        ``umbrella_distract`` sweep uses up to 100). Static: it sets the
        observation's shape.
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: if ``n_distractor < 0``.

    Reference: bsuite 0.3.5 ``bsuite/environments/umbrella_chain.py``.
    """

    def __init__(self, n_distractor: int = 0, *, renderer: Any = None):
        if int(n_distractor) != n_distractor or n_distractor < 0:
            raise ValueError(
                f"UmbrellaChain: `n_distractor` must be an integer >= 0, got {n_distractor!r}"
            )
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.n_distractor = int(n_distractor)

    def __repr__(self) -> str:
        return f"UmbrellaChain(n_distractor={self.n_distractor})"

    def _distractors(self, key: jax.Array) -> jax.Array:
        return jax.random.bernoulli(key, 0.5, (self.n_distractor,)).astype(jnp.float32)

    def reset(
        self, key: jax.Array, *, options: UmbrellaChainParams | None = None
    ) -> tuple[UmbrellaChainState, _core.TimeStep]:
        """Draws whether the umbrella is needed and held (Bernoulli(0.5) each).

        ``options``: a `UmbrellaChainParams` of scalars, or ``None`` for the defaults
        (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(
            options, UmbrellaChainParams, "UmbrellaChain", _PARAM_DTYPES
        )
        key, need_key, has_key, distractor_key = jax.random.split(key, 4)
        state = UmbrellaChainState(
            key=key,
            timestep=jnp.zeros((), jnp.int32),
            need_umbrella=jax.random.bernoulli(need_key, 0.5).astype(jnp.int32),
            has_umbrella=jax.random.bernoulli(has_key, 0.5).astype(jnp.int32),
            distractors=self._distractors(distractor_key),
            params=params,
        )
        return state, _core.restart(self._observation(state))

    def step(
        self, state: UmbrellaChainState, action: Any
    ) -> tuple[UmbrellaChainState, _core.TimeStep]:
        """Advances the chain; the first action picks the umbrella up or not.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1}``; any value other than 1 leaves the
            umbrella (as action 0), so the observation stays in its spec
            (`jit_env.wrappers.ValidateAction` rejects such actions).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 on step
          ``chain_length``.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "UmbrellaChain")
        key, reward_key, distractor_key = jax.random.split(state.key, 3)
        timestep = state.timestep + 1
        has_umbrella = jnp.where(timestep == 1, (action == 1).astype(jnp.int32), state.has_umbrella)
        done = timestep == state.params.chain_length
        final = jnp.where(has_umbrella == state.need_umbrella, 1.0, -1.0)
        noise = 2.0 * jax.random.bernoulli(reward_key, 0.5).astype(jnp.float32) - 1.0
        reward = jnp.where(done, final, noise).astype(jnp.float32)
        state = state._replace(
            key=key,
            timestep=timestep,
            has_umbrella=has_umbrella,
            distractors=self._distractors(distractor_key),
        )
        return state, _steps.end_or_continue(done, reward, self._observation(state))

    def _observation(self, state: UmbrellaChainState) -> jax.Array:
        t = state.timestep.astype(jnp.float32)
        time_left = 1.0 - t / jnp.asarray(state.params.chain_length, jnp.float32)
        head = jnp.stack(
            [
                state.need_umbrella.astype(jnp.float32),
                state.has_umbrella.astype(jnp.float32),
                time_left,
            ]
        )
        return jnp.concatenate([head, state.distractors])[None, :]

    def _draw(self, state: UmbrellaChainState) -> jax.Array:
        return _rendering.grey_image(self._observation(state), 0.0, 1.0)

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[1, 3 + n_distractor]`` (bsuite's shape) in [0, 1]."""
        return specs.BoundedArray(
            (1, 3 + self.n_distractor), jnp.float32, 0.0, 1.0, name="observation"
        )

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 2 values."""
        return specs.DiscreteArray(2, dtype=jnp.int32, name="action")

