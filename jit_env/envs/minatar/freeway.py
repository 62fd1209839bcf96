"""MinAtar Freeway (``Freeway-MinAtar``), natively in JAX.

Matches minatar 1.0.15 ``minatar/environments/freeway.py`` inside
``minatar/environment.py``'s ``Environment``: a chicken in column 4 crosses
eight lanes of cars (rows 1-8, one car per lane) upwards; it may move only
every 3 frames; +1 when it reaches row 0, after which it returns to row 9 and
the cars' speeds and directions are drawn again; a car that meets it sends it
back to row 9. Each car moves one cell every ``|speed|`` + 1 frames (speed in
1..5), wrapping round the screen. The episode terminates on its own after
2,501 steps (the reference's ``terminate_timer`` counts down from 2,500 and
ends the game when it goes below 0). Channels: 0 chicken, 1 car, 2-6 the
trail behind a car of speed 1..5. Minimal actions: no-op, up, down. No
difficulty ramping.

Random draws, in the reference's order (``_randomize_cars``:
``randint(1, 6, 8)`` for the speeds, then ``rand(8)`` for the directions,
``sign(u - 0.5)``): at ``reset`` these 16; at each step ``rand()`` for the
sticky action, then the 16 again, used only when the chicken reaches the
top. A direction uniform of exactly 0.5 (speed 0 in the reference, whose
``state()`` then fails) counts as +1 here.

Departures of gymnax 1.0.1's port (``gymnax/environments/minatar/freeway.py``)
from the reference, which this module does not share: no sticky actions; the
minimal action set by default; float32 observations; its episode ends by
truncation at ``max_steps_in_episode = 2500``, one step before the
reference's termination, so this package registers no time limit for
Freeway.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jit_env.envs.minatar import _game
from jit_env.envs.minatar._game import DOWN, NOOP, UP, MinAtarParams

PLAYER_SPEED = 3
"""The chicken moves at most once every this many frames (reference ``player_speed``)."""

TIME_LIMIT = 2500
"""The reference's ``time_limit``: the game terminates after ``TIME_LIMIT + 1`` steps."""

_LANES = tuple(range(1, 9))


class FreewayState(NamedTuple):
    """State of `Freeway` (the reference ``Env``'s attributes).

    Attributes:
      key: PRNG key of the future draws.
      cars: int32 ``[8, 4]``, per car (lane ``i`` is row ``i + 1``): column,
        row, move timer, signed speed (the reference's ``cars`` lists).
      pos: int32, the chicken's row (it is always in column 4).
      move_timer: int32, frames until the chicken may move.
      terminate_timer: int32, counts down from 2,500.
      last_action: int32, the previous (full-set) action, for sticky actions.
      params: `MinAtarParams`.
    """

    key: jax.Array
    cars: jax.Array
    pos: jax.Array
    move_timer: jax.Array
    terminate_timer: jax.Array
    last_action: jax.Array
    params: MinAtarParams


def _speeds(draws: jax.Array) -> jax.Array:
    """``_randomize_cars``'s signed speeds from 16 uniforms (8 speeds, then 8 directions)."""
    speeds = _game.randint(draws[:8], 1, 6)
    directions = jnp.where(draws[8:16] < 0.5, -1, 1).astype(jnp.int32)
    return speeds * directions


class Freeway(_game.MinAtarGame):
    """MinAtar's Freeway, pure and jittable (id ``Freeway-MinAtar``).

    Observation: bool ``[10, 10, 7]`` (chicken, car, five speed trails);
    float32 with ``observation_dtype=jnp.float32``.
    Action: int32 scalar, the six MinAtar actions (up = 2 and down = 4 move
    the chicken; the others do nothing), or ``{no-op, up, down}`` with
    ``use_minimal_action_set=True``.
    Reward: float32 scalar, +1 for each crossing. Discount 0 on the
    termination after 2,501 steps (the game has no other end).

    ``step`` splits ``state.key`` once. See `jit_env.envs.minatar.MinAtarGame`
    for the arguments.

    Reference: minatar 1.0.15 ``minatar/environments/freeway.py``.
    """

    NUM_CHANNELS = 7
    MINIMAL_ACTIONS = (NOOP, UP, DOWN)
    NUM_STEP_DRAWS = 17
    NUM_RESET_DRAWS = 16

    def initial_state(
        self, key: jax.Array, params: MinAtarParams, draws: jax.Array
    ) -> FreewayState:
        """``Env.reset()``: every car in column 0, speeds from ``draws[0:16]``."""
        speeds = _speeds(draws)
        cars = jnp.stack(
            [
                jnp.zeros(8, jnp.int32),
                jnp.asarray(_LANES, jnp.int32),
                jnp.abs(speeds),
                speeds,
            ],
            axis=1,
        )
        return FreewayState(
            key=key,
            cars=cars,
            pos=jnp.asarray(9, jnp.int32),
            move_timer=jnp.asarray(PLAYER_SPEED, jnp.int32),
            terminate_timer=jnp.asarray(TIME_LIMIT, jnp.int32),
            last_action=jnp.asarray(0, jnp.int32),
            params=params,
        )

    def transition(
        self, state: FreewayState, action: jax.Array, draws: jax.Array
    ) -> tuple[FreewayState, jax.Array, jax.Array]:
        """`MinAtarGame.transition`.

        ``draws``: float32 ``[17]``: sticky, then ``_randomize_cars``'s 16.
        """
        a = _game.sticky(draws[0], action, state.last_action, state.params.sticky_action_prob)
        can_move = state.move_timer == 0
        up = (a == UP) & can_move
        down = (a == DOWN) & can_move
        move_timer = jnp.where(up | down, PLAYER_SPEED, state.move_timer)
        pos = jnp.where(up, jnp.maximum(0, state.pos - 1), state.pos)
        pos = jnp.where(down, jnp.minimum(9, state.pos + 1), pos)

        win = pos == 0
        speeds = _speeds(draws[1:17])
        timer = jnp.where(win, jnp.abs(speeds), state.cars[:, 2])
        speed = jnp.where(win, speeds, state.cars[:, 3])
        pos = jnp.where(win, 9, pos)

        # Cars (one per lane, so the chicken, once sent back to row 9, meets no other).
        x, y = state.cars[:, 0], state.cars[:, 1]
        hit = (x == 4) & (y == pos)
        moves = timer == 0
        step = jnp.where(speed > 0, 1, -1)
        new_x = jnp.where(moves, x + step, x)
        new_x = jnp.where(new_x < 0, 9, jnp.where(new_x > 9, 0, new_x))
        hit = hit | (moves & (new_x == 4) & (y == pos))
        pos = jnp.where(jnp.any(hit), 9, pos)
        timer = jnp.where(moves, jnp.abs(speed), timer - 1)
        cars = jnp.stack([new_x, y, timer, speed], axis=1)

        move_timer = move_timer - (move_timer > 0).astype(jnp.int32)
        terminate_timer = state.terminate_timer - 1
        state = state._replace(
            cars=cars,
            pos=pos,
            move_timer=move_timer,
            terminate_timer=terminate_timer,
            last_action=a,
        )
        return state, win.astype(jnp.float32), terminate_timer < 0

    def observation(self, state: FreewayState) -> jax.Array:
        """``Env.state()``: bool ``[10, 10, 7]``."""
        x, y, speed = state.cars[:, 0], state.cars[:, 1], state.cars[:, 3]
        back_x = jnp.where(speed > 0, x - 1, x + 1)
        back_x = jnp.where(back_x < 0, 9, jnp.where(back_x > 9, 0, back_x))
        trails = [_game.cells(y, back_x, jnp.abs(speed) == k) for k in range(1, 6)]
        return jnp.stack([_game.cells(state.pos, 4), _game.cells(y, x), *trails], axis=-1)
