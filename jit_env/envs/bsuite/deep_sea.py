"""Deep Sea (bsuite): a deep-exploration chain laid out as an N x N grid.

Matches bsuite 0.3.5 ``bsuite.environments.deep_sea.DeepSea``. The diver
starts at the top-left cell and descends one row per step; each step it moves
one column 'left' or 'right' (clipped at the walls). Which of the actions 0/1
means 'right' is drawn per cell by a Bernoulli(0.5) action mapping (bsuite's
``randomize_actions=True``; with ``randomize_actions=False`` action 1 is
always 'right'). Going right costs ``unscaled_move_cost / size``; going right
from the rightmost column earns +1 (the treasure). After ``size`` steps the
episode terminates and the observation is all zeros. The stochastic variant
(``deterministic=False``) makes 'right' fail with probability ``1 / size`` and
adds N(0, 1) noise to the reward at the two bottom corners.

Differences from the references, on purpose:
- bsuite draws the action mapping once per environment from
  ``mapping_seed`` with NumPy; here it is drawn at every reset from
  ``params.mapping_seed`` as the bits of threefry words of
  ``jax.random.key(mapping_seed, impl="threefry2x32")`` - the same mapping in
  every episode of one environment (bsuite's semantics), but not NumPy's bits.
- gymnax charges the move cost only when 'right' succeeds; bsuite (and this
  version) charges it whenever the action is 'right'.
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


class DeepSeaParams(NamedTuple):
    """Parameters of `DeepSea` (kept in the state; vmap over them to randomise).

    Attributes:
      unscaled_move_cost: total cost of the all-right path, float32; each
        'right' action costs ``unscaled_move_cost / size`` reward. bsuite: 0.01,
        so the optimal return is 0.99.
      randomize_actions: bool; if True (bsuite's default) the meaning of
        actions 0/1 is drawn per cell, else action 1 is always 'right'.
      mapping_seed: int32 seed of the action mapping (bsuite's
        ``mapping_seed``); fixed across episodes.
    """

    unscaled_move_cost: float = 0.01
    randomize_actions: bool = True
    mapping_seed: int = 0


_PARAM_DTYPES = {
    "unscaled_move_cost": jnp.float32,
    "randomize_actions": jnp.bool_,
    "mapping_seed": jnp.int32,
}


class DeepSeaState(NamedTuple):
    """State of `DeepSea`.

    Attributes:
      key: PRNG key; split only by the stochastic variant's steps.
      row: int32 in ``[0, size]``; ``size`` once the episode has ended.
      column: int32 in ``[0, size)``.
      bad_episode: bool, the diver left the diagonal (optimal) path by going
        'left' on it (bsuite's logging quantity).
      action_mapping: int32 ``[size, size]``, the action that means 'right'
        in each cell.
      params: the `DeepSeaParams` of this episode.
    """

    key: jax.Array
    row: jax.Array
    column: jax.Array
    bad_episode: jax.Array
    action_mapping: jax.Array
    params: DeepSeaParams


class DeepSea(ScalarRewardDiscount, _core.Environment):
    """bsuite's Deep Sea, pure and jittable (gymnax id ``DeepSea-bsuite``).

    Observation: float32 ``[size, size]`` one-hot of the diver's cell (all
    zeros on the final step). Action: int32 scalar in ``{0, 1}``. Reward:
    float32 scalar. Each episode lasts exactly ``size`` steps and ends by
    termination.

    The deterministic variant's ``step`` never touches ``state.key``; the
    stochastic one splits it into a reward-noise key and a move key.
    ``render`` gives a uint8 ``[size * 16, size * 16, 3]`` image (diver blue,
    treasure cell yellow).

    Args:
      size: ``N`` of the N x N grid (>= 1); gymnax's ``DeepSea-bsuite`` uses
        8 (bsuite has no default; its sweep uses 10 to 50).
      deterministic: bsuite's flag; False gives the 'windy' variant. Static
        (it decides whether a step needs randomness at all).
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: if ``size < 1``.

    Reference: bsuite 0.3.5 ``bsuite/environments/deep_sea.py``; Osband et al.,
    "Deep Exploration via Randomized Value Functions", JMLR 2019.
    """

    def __init__(self, size: int = 8, deterministic: bool = True, *, renderer: Any = None):
        if int(size) != size or size < 1:
            raise ValueError(f"DeepSea: `size` must be an integer >= 1, got {size!r}")
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.size = int(size)
        self.deterministic = bool(deterministic)

    def __repr__(self) -> str:
        return f"DeepSea(size={self.size}, deterministic={self.deterministic})"

    def reset(
        self, key: jax.Array, *, options: DeepSeaParams | None = None
    ) -> tuple[DeepSeaState, _core.TimeStep]:
        """Puts the diver in the top-left cell; the key is stored, not split.

        ``options``: a `DeepSeaParams` of scalars, or ``None`` for bsuite's values (else
        TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, DeepSeaParams, "DeepSea", _PARAM_DTYPES)
        mapping = jnp.where(params.randomize_actions, self._coin_flips(params.mapping_seed), 1)
        state = DeepSeaState(
            key=key,
            row=jnp.zeros((), jnp.int32),
            column=jnp.zeros((), jnp.int32),
            bad_episode=jnp.zeros((), jnp.bool_),
            action_mapping=mapping,
            params=params,
        )
        return state, _core.restart(self._observation(state))

    def step(self, state: DeepSeaState, action: Any) -> tuple[DeepSeaState, _core.TimeStep]:
        """Moves one row down and one column left or right.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1}``; any other value never equals the
            cell's 'right' action, so it moves left (`jit_env.wrappers.
            ValidateAction` rejects such actions).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 after ``size`` steps.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "DeepSea")
        n = self.size
        row, column = state.row, state.column
        right = action.astype(jnp.int32) == state.action_mapping[row, column]
        reward = jnp.where(right & (column == n - 1), 1.0, 0.0).astype(jnp.float32)
        key = state.key
        if self.deterministic:
            moved = right
        else:
            key, noise_key, move_key = jax.random.split(key, 3)
            at_corner = (row == n - 1) & ((column == 0) | (column == n - 1))
            noise = jax.random.normal(noise_key, (), jnp.float32)
            reward = reward + jnp.where(at_corner, noise, 0.0)
            moved = right & (jax.random.uniform(move_key, (), jnp.float32) > 1.0 / n)
        move_cost = state.params.unscaled_move_cost / n
        reward = reward - jnp.where(right, move_cost, 0.0)
        new_column = jnp.where(
            right,
            jnp.where(moved, jnp.minimum(column + 1, n - 1), column),
            jnp.maximum(column - 1, 0),
        )
        bad_episode = state.bad_episode | (~right & (row == column))
        state = state._replace(key=key, row=row + 1, column=new_column, bad_episode=bad_episode)
        done = state.row == n
        return state, _steps.end_or_continue(done, reward, self._observation(state))

    def _coin_flips(self, mapping_seed: Any) -> jax.Array:
        """``int32 [size, size]`` of fair 0/1 coins, a fixed function of ``mapping_seed`` (int32).

        The bits of ``ceil(size² / 32)`` threefry words (each bit of a threefry
        output is a fair coin): 32x fewer hashes than a Bernoulli per cell, which
        matters because every reset draws the mapping again.
        """
        cells = self.size * self.size
        key = jax.random.key(mapping_seed, impl="threefry2x32")
        words = jax.random.bits(key, (-(-cells // 32),), jnp.uint32)
        bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)[None, :]) & 1
        return bits.reshape(-1)[:cells].reshape(self.size, self.size).astype(jnp.int32)

    def _observation(self, state: DeepSeaState) -> jax.Array:
        # All zeros once row == size (bsuite's end-of-episode null observation).
        r = jnp.arange(self.size, dtype=jnp.int32)[:, None]
        c = jnp.arange(self.size, dtype=jnp.int32)[None, :]
        return ((r == state.row) & (c == state.column)).astype(jnp.float32)

    def _draw(self, state: DeepSeaState) -> jax.Array:
        r = jnp.arange(self.size, dtype=jnp.int32)[:, None]
        c = jnp.arange(self.size, dtype=jnp.int32)[None, :]
        diver = (r == state.row) & (c == state.column)
        goal = (r == self.size - 1) & (c == self.size - 1)
        cells = jnp.where(diver, 1, jnp.where(goal, 2, 0)).astype(jnp.int32)
        palette = np.array([_rendering.BACKGROUND, _rendering.AGENT, _rendering.GOAL], np.uint8)
        return _rendering.palette_image(cells, palette)

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[size, size]`` one-hot (bsuite's shape), in [0, 1]."""
        return specs.BoundedArray((self.size, self.size), jnp.float32, 0.0, 1.0, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 2 values."""
        return specs.DiscreteArray(2, dtype=jnp.int32, name="action")

