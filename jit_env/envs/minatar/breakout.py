"""MinAtar Breakout (``Breakout-MinAtar``), natively in JAX.

Matches minatar 1.0.15 ``minatar/environments/breakout.py`` inside
``minatar/environment.py``'s ``Environment`` (Young & Tian, "MinAtar: An
Atari-Inspired Testbed for Thorough and Reproducible Reinforcement Learning
Experiments", 2019): a paddle in the bottom row, three rows of bricks (rows
1-3), a ball moving along diagonals; +1 per brick broken; a new set of bricks
when the ball reaches the bottom row with none left; termination when the
ball reaches the bottom row and misses the paddle. Channels: 0 paddle, 1
ball, 2 trail (the ball's previous cell), 3 brick. Minimal actions: no-op,
left, right.

Random draws per step, in the reference's order: ``rand()`` for the sticky
action (``Environment.act``). The game itself draws only at ``reset``
(``randint(2)``: the ball starts at column 0 moving down-right or at column 9
moving down-left), here ``randint`` of one uniform. The parity test
(``tests/envs/test_minatar.py``) feeds the same uniforms to the reference.

The reference's ``strike`` flag is kept: a ball that moves onto a brick on
the step right after breaking one passes into it without breaking it or
bouncing; the parity test covers it.

Departures of gymnax 1.0.1's port (``gymnax/environments/minatar/breakout.py``)
from the reference, which this module does not share: no sticky actions; the
minimal action set by default; float32 observations; a 1,000-step
``max_steps_in_episode`` (the reference has no time limit).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jit_env.envs.minatar import _game
from jit_env.envs.minatar._game import LEFT, NOOP, RIGHT, MinAtarParams

# Ball direction d: 0 up-left, 1 up-right, 2 down-right, 3 down-left (the reference's).
_DX = (-1, 1, 1, -1)
_DY = (-1, -1, 1, 1)
_FLIP_X = (1, 0, 3, 2)  # off a side wall
_FLIP_Y = (3, 2, 1, 0)  # off the ceiling, a brick, or the paddle's near half
_FLIP_XY = (2, 3, 0, 1)  # off the paddle's far edge


class BreakoutState(NamedTuple):
    """State of `Breakout` (the reference ``Env``'s attributes); int32 / bool scalars.

    Attributes:
      key: PRNG key of the future draws.
      ball_x, ball_y: the ball's cell (column, row; row 0 is the top).
      ball_dir: int32 in 0..3: up-left, up-right, down-right, down-left.
      pos: the paddle's column (the paddle is in row 9).
      brick_map: bool ``[10, 10]``, the bricks.
      strike: whether the ball broke a brick on the previous step.
      last_x, last_y: the ball's previous cell (the trail channel).
      last_action: the previous (full-set) action, for sticky actions.
      params: `MinAtarParams`.
    """

    key: jax.Array
    ball_x: jax.Array
    ball_y: jax.Array
    ball_dir: jax.Array
    pos: jax.Array
    brick_map: jax.Array
    strike: jax.Array
    last_x: jax.Array
    last_y: jax.Array
    last_action: jax.Array
    params: MinAtarParams


def _bricks() -> jax.Array:
    rows = jnp.arange(10)[:, None]
    return jnp.broadcast_to((rows >= 1) & (rows <= 3), (10, 10))


class Breakout(_game.MinAtarGame):
    """MinAtar's Breakout, pure and jittable (id ``Breakout-MinAtar``).

    Observation: bool ``[10, 10, 4]`` (paddle, ball, trail, brick); float32
    with ``observation_dtype=jnp.float32``.
    Action: int32 scalar, the six MinAtar actions (left = 1, right = 3 move
    the paddle; the others do nothing), or ``{no-op, left, right}`` with
    ``use_minimal_action_set=True``.
    Reward: float32 scalar, +1 per brick broken. Discount 0 on termination.

    ``step`` splits ``state.key`` once (the sticky-action draw); ``render``
    draws ``minatar/gym.py``'s ``rgb_array`` picture as uint8 ``[160, 160, 3]``.
    See `jit_env.envs.minatar.MinAtarGame` for the arguments.

    Reference: minatar 1.0.15 ``minatar/environments/breakout.py``.
    """

    NUM_CHANNELS = 4
    MINIMAL_ACTIONS = (NOOP, LEFT, RIGHT)
    NUM_STEP_DRAWS = 1
    NUM_RESET_DRAWS = 1

    def initial_state(
        self, key: jax.Array, params: MinAtarParams, draws: jax.Array
    ) -> BreakoutState:
        """``Env.reset()``; ``draws[0]`` is its ``randint(2)`` (ball at column 0 or 9)."""
        start = _game.randint(draws[0], 0, 2)
        ball_x = jnp.where(start == 0, 0, 9).astype(jnp.int32)
        i32 = lambda v: jnp.asarray(v, jnp.int32)
        return BreakoutState(
            key=key,
            ball_x=ball_x,
            ball_y=i32(3),
            ball_dir=jnp.where(start == 0, 2, 3).astype(jnp.int32),
            pos=i32(4),
            brick_map=_bricks(),
            strike=jnp.asarray(False),
            last_x=ball_x,
            last_y=i32(3),
            last_action=i32(0),
            params=params,
        )

    def transition(
        self, state: BreakoutState, action: jax.Array, draws: jax.Array
    ) -> tuple[BreakoutState, jax.Array, jax.Array]:
        """`MinAtarGame.transition`; ``draws``: float32 ``[1]`` uniforms."""
        a = _game.sticky(draws[0], action, state.last_action, state.params.sticky_action_prob)
        pos = jnp.where(a == LEFT, jnp.maximum(0, state.pos - 1), state.pos)
        pos = jnp.where(a == RIGHT, jnp.minimum(9, state.pos + 1), pos)

        d = state.ball_dir
        new_x = state.ball_x + jnp.asarray(_DX, jnp.int32)[d]
        new_y = state.ball_y + jnp.asarray(_DY, jnp.int32)[d]
        side = (new_x < 0) | (new_x > 9)
        new_x = jnp.clip(new_x, 0, 9)
        d = jnp.where(side, jnp.asarray(_FLIP_X, jnp.int32)[d], d)

        top = new_y < 0
        brick = ~top & state.brick_map[jnp.clip(new_y, 0, 9), new_x]
        bottom = ~top & ~brick & (new_y == 9)
        breaks = brick & ~state.strike
        flip_y = jnp.asarray(_FLIP_Y, jnp.int32)[d]
        # The ceiling: stay in row 0 and turn down.
        d_next = jnp.where(top, flip_y, d)
        y_next = jnp.where(top, 0, new_y)
        # A brick (unless one broke on the previous step): break it, stay in the row, turn.
        hit_brick_cell = (jnp.arange(10)[:, None] == new_y) & (jnp.arange(10)[None, :] == new_x)
        brick_map = state.brick_map & ~(breaks & hit_brick_cell)
        d_next = jnp.where(breaks, flip_y, d_next)
        y_next = jnp.where(breaks, state.ball_y, y_next)
        # The bottom row: refill the bricks if none are left, then the paddle or the end.
        brick_map = jnp.where(bottom & ~jnp.any(brick_map), _bricks(), brick_map)
        near = bottom & (state.ball_x == pos)
        far = bottom & ~near & (new_x == pos)
        d_next = jnp.where(near, flip_y, d_next)
        d_next = jnp.where(far, jnp.asarray(_FLIP_XY, jnp.int32)[d], d_next)
        y_next = jnp.where(near | far, state.ball_y, y_next)
        terminal = bottom & ~near & ~far

        state = state._replace(
            ball_x=new_x,
            ball_y=y_next,
            ball_dir=d_next,
            pos=pos,
            brick_map=brick_map,
            strike=brick,
            last_x=state.ball_x,
            last_y=state.ball_y,
            last_action=a,
        )
        return state, breaks.astype(jnp.float32), terminal

    def observation(self, state: BreakoutState) -> jax.Array:
        """``Env.state()``: bool ``[10, 10, 4]``."""
        return jnp.stack(
            [
                _game.cells(9, state.pos),
                _game.cells(state.ball_y, state.ball_x),
                _game.cells(state.last_y, state.last_x),
                state.brick_map,
            ],
            axis=-1,
        )
