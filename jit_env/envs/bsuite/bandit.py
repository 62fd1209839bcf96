"""Simple Bandit (bsuite): 11 arms with deterministic rewards 0, 0.1, ..., 1.

Matches bsuite 0.3.5 ``bsuite.environments.bandit.SimpleBandit``: the rewards
``linspace(0, 1, 11)`` are assigned to the arms by a random permutation drawn
once per environment; every episode is a single step that pays the pulled
arm's reward and terminates. The observation is a constant ``[[1.0]]``.

bsuite draws the permutation with NumPy from its ``seed``; here it is drawn
from ``params.mapping_seed`` with ``jax.random.key(mapping_seed,
impl="threefry2x32")`` at every reset, so the arms keep their rewards across
episodes (bsuite's semantics) and ``vmap`` over ``mapping_seed`` gives
different bandits. gymnax instead redraws the permutation from the reset key
at every episode.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.bsuite import _rendering

NUM_ARMS = 11
"""Number of arms (bsuite's constant)."""


class SimpleBanditParams(NamedTuple):
    """Parameters of `SimpleBandit` (kept in the state; vmap over them).

    Attributes:
      mapping_seed: int32 seed of the arm-to-reward permutation (bsuite's
        ``seed``); fixed across episodes.
    """

    mapping_seed: int = 0


_PARAM_DTYPES = {"mapping_seed": jnp.int32}


class SimpleBanditState(NamedTuple):
    """State of `SimpleBandit`.

    Attributes:
      key: PRNG key (never used: episodes are deterministic given the arms).
      arm_rewards: float32 ``[11]``, the reward of each arm, a permutation of
        ``linspace(0, 1, 11)``.
      params: the `SimpleBanditParams` of this episode.
    """

    key: jax.Array
    arm_rewards: jax.Array
    params: SimpleBanditParams


class SimpleBandit(ScalarRewardDiscount, _core.Environment):
    """bsuite's Simple Bandit, pure and jittable (gymnax id ``SimpleBandit-bsuite``).

    Observation: float32 ``[1, 1]``, always 1. Action: int32 scalar in
    ``{0, ..., 10}``. Reward: float32 scalar in ``{0, 0.1, ..., 1}``. Every
    episode is one step and ends by termination.

    Neither ``reset`` nor ``step`` touches ``state.key``. ``render`` shows the
    arms' rewards as grey cells (uint8 ``[16, 176, 3]``, white = best arm).

    Args:
      renderer: optional replacement for the built-in renderer.

    Reference: bsuite 0.3.5 ``bsuite/environments/bandit.py``.
    """

    num_actions = NUM_ARMS

    def __init__(self, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)

    def reset(
        self, key: jax.Array, *, options: SimpleBanditParams | None = None
    ) -> tuple[SimpleBanditState, _core.TimeStep]:
        """Assigns the arm rewards from ``options.mapping_seed``; stores the key.

        ``options``: a `SimpleBanditParams` of scalars, or ``None`` for the defaults
        (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(
            options, SimpleBanditParams, "SimpleBandit", _PARAM_DTYPES
        )
        mapping_key = jax.random.key(params.mapping_seed, impl="threefry2x32")
        order = jax.random.permutation(mapping_key, NUM_ARMS)
        arm_rewards = jnp.linspace(0.0, 1.0, NUM_ARMS, dtype=jnp.float32)[order]
        state = SimpleBanditState(key=key, arm_rewards=arm_rewards, params=params)
        return state, _core.restart(self._observation())

    def step(
        self, state: SimpleBanditState, action: Any
    ) -> tuple[SimpleBanditState, _core.TimeStep]:
        """Pulls arm ``action`` and terminates.

        Args:
          state: the state from `reset`.
          action: int scalar in ``{0, ..., 10}``; any other value pulls arm 0
            (a jitted step cannot raise; `jit_env.wrappers.ValidateAction` and the
            ``compat`` adapters reject such actions).

        Returns:
          ``(state, timestep)``, always ``LAST`` with discount 0.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "SimpleBandit")
        action = jnp.where((action >= 0) & (action < NUM_ARMS), action, 0)
        reward = state.arm_rewards[action]
        return state, _core.termination(reward, self._observation())

    def _observation(self) -> jax.Array:
        return jnp.ones((1, 1), jnp.float32)

    def _draw(self, state: SimpleBanditState) -> jax.Array:
        return _rendering.grey_image(state.arm_rewards[None, :], 0.0, 1.0)

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[1, 1]`` (bsuite's shape), always 1."""
        return specs.BoundedArray((1, 1), jnp.float32, 0.0, 1.0, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 11 values."""
        return specs.DiscreteArray(NUM_ARMS, dtype=jnp.int32, name="action")

