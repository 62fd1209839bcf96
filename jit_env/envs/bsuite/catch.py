"""Catch (bsuite): move a paddle to catch a ball falling down a grid.

Matches bsuite 0.3.5 ``bsuite.environments.catch.Catch`` (the environment of
rlax's examples) and gymnax's ``Catch-bsuite``: a ``rows x columns`` board
(10 x 5 by default); the ball starts in row 0 at a uniformly random column and
falls one row per step; the paddle starts in the middle column
(``columns // 2``) of the bottom row and moves left / stays / moves right
(actions 0 / 1 / 2, clipped at the walls). When the ball reaches the bottom
row (after ``rows - 1`` steps) the episode terminates with reward +1 if the
paddle is under the ball and -1 otherwise; every other reward is 0.

Unlike gymnax's version there is no hidden auto-reset inside ``step``: wrap the
environment in `jit_env.wrappers.AutoReset` for that.
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


class CatchParams(NamedTuple):
    """Parameters of `Catch` (kept in the state; vmap over them to randomise).

    Attributes:
      catch_reward: reward when the ball reaches the bottom row above the
        paddle, float32; bsuite: +1.
      miss_reward: reward when the ball reaches the bottom row elsewhere,
        float32; bsuite: -1.
    """

    catch_reward: float = 1.0
    miss_reward: float = -1.0


_PARAM_DTYPES = {"catch_reward": jnp.float32, "miss_reward": jnp.float32}


class CatchState(NamedTuple):
    """State of `Catch`; every array is a scalar for a single environment.

    Attributes:
      key: PRNG key for future resets (a step never uses it).
      ball_x: int32, the ball's column in ``[0, columns)``.
      ball_y: int32, the ball's row in ``[0, rows)`` (0 is the top).
      paddle_x: int32, the paddle's column; the paddle is always in the bottom
        row ``rows - 1``.
      params: the `CatchParams` of this episode.
    """

    key: jax.Array
    ball_x: jax.Array
    ball_y: jax.Array
    paddle_x: jax.Array
    params: CatchParams


class Catch(ScalarRewardDiscount, _core.Environment):
    """bsuite's Catch, pure and jittable (gymnax id ``Catch-bsuite``).

    Observation: float32 ``[rows, columns]`` board, 1 where the ball or the
    paddle is, 0 elsewhere (bsuite's ``BoundedArray`` in [0, 1]).
    Action: int32 scalar in ``{0, 1, 2}`` = left, stay, right.
    Reward: float32 scalar, 0 until the last step, then ``catch_reward`` or
    ``miss_reward``. Every episode lasts exactly ``rows - 1`` steps and ends by
    termination (discount 0).

    ``step`` is deterministic and never touches ``state.key``; ``reset``
    splits it once to draw the ball's column. ``render`` gives a uint8
    ``[rows * 16, columns * 16, 3]`` image (ball white, paddle blue).

    Args:
      rows: number of rows (>= 2), bsuite: 10.
      columns: number of columns (>= 1), bsuite: 5.
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: if ``rows < 2`` or ``columns < 1``.

    Reference: bsuite 0.3.5 ``bsuite/environments/catch.py``; gymnax
    ``gymnax/environments/bsuite/catch.py`` (same dynamics).
    """

    def __init__(self, rows: int = 10, columns: int = 5, *, renderer: Any = None):
        if int(rows) != rows or rows < 2:
            raise ValueError(f"Catch: `rows` must be an integer >= 2, got {rows!r}")
        if int(columns) != columns or columns < 1:
            raise ValueError(f"Catch: `columns` must be an integer >= 1, got {columns!r}")
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.rows = int(rows)
        self.columns = int(columns)

    def __repr__(self) -> str:
        return f"Catch(rows={self.rows}, columns={self.columns})"

    def reset(
        self, key: jax.Array, *, options: CatchParams | None = None
    ) -> tuple[CatchState, _core.TimeStep]:
        """Drops a new ball at a uniformly random column of the top row.

        ``options``: a `CatchParams` of scalars, or ``None`` for bsuite's values (else
        TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, CatchParams, "Catch", _PARAM_DTYPES)
        key, ball_key = jax.random.split(key)
        state = CatchState(
            key=key,
            ball_x=jax.random.randint(ball_key, (), 0, self.columns, dtype=jnp.int32),
            ball_y=jnp.zeros((), jnp.int32),
            paddle_x=jnp.full((), self.columns // 2, jnp.int32),
            params=params,
        )
        return state, _core.restart(self._observation(state))

    def step(self, state: CatchState, action: Any) -> tuple[CatchState, _core.TimeStep]:
        """Moves the paddle by ``action - 1`` columns, then drops the ball a row.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1, 2}``; another value moves the paddle
            ``action - 1`` columns too, clipped at the walls (e.g. 5 jumps 4
            columns; `jit_env.wrappers.ValidateAction` rejects such actions).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 when the ball reaches
          the bottom row.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "Catch")
        paddle_x = jnp.clip(state.paddle_x + (action.astype(jnp.int32) - 1), 0, self.columns - 1)
        ball_y = state.ball_y + 1
        state = state._replace(ball_y=ball_y, paddle_x=paddle_x)
        done = ball_y == self.rows - 1
        params = state.params
        caught = jnp.where(paddle_x == state.ball_x, params.catch_reward, params.miss_reward)
        reward = jnp.where(done, caught, jnp.zeros((), jnp.float32))
        return state, _steps.end_or_continue(done, reward, self._observation(state))

    def _observation(self, state: CatchState) -> jax.Array:
        row = jnp.arange(self.rows, dtype=jnp.int32)[:, None]
        col = jnp.arange(self.columns, dtype=jnp.int32)[None, :]
        ball = (row == state.ball_y) & (col == state.ball_x)
        paddle = (row == self.rows - 1) & (col == state.paddle_x)
        return (ball | paddle).astype(jnp.float32)

    def _draw(self, state: CatchState) -> jax.Array:
        row = jnp.arange(self.rows, dtype=jnp.int32)[:, None]
        col = jnp.arange(self.columns, dtype=jnp.int32)[None, :]
        ball = (row == state.ball_y) & (col == state.ball_x)
        paddle = (row == self.rows - 1) & (col == state.paddle_x)
        cells = jnp.where(paddle, 1, jnp.where(ball, 2, 0)).astype(jnp.int32)
        palette = np.array([_rendering.BACKGROUND, _rendering.AGENT, _rendering.OBJECT], np.uint8)
        return _rendering.palette_image(cells, palette)

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[rows, columns]`` in [0, 1] (bsuite's spec)."""
        return specs.BoundedArray(
            (self.rows, self.columns), jnp.float32, 0.0, 1.0, name="observation"
        )

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 3 values: left, stay, right."""
        return specs.DiscreteArray(3, dtype=jnp.int32, name="action")

