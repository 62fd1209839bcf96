"""MinAtar Space Invaders (``SpaceInvaders-MinAtar``), natively in JAX.

Matches minatar 1.0.15 ``minatar/environments/space_invaders.py`` inside
``minatar/environment.py``'s ``Environment``: a cannon in the bottom row
shoots upwards (at most once every 5 frames) at a 4 x 6 block of aliens that
marches sideways, steps down a row and turns at the walls, and shoots back
(every 10 frames, from the lowest alien of the column nearest the cannon);
+1 per alien shot; termination when an alien or an enemy bullet reaches the
cannon, or the block turns while in the bottom row. The aliens move every
``min(aliens left, move interval)`` frames, so they speed up as they thin
out. Channels: 0 cannon, 1 alien, 2 alien moving left, 3 alien moving right,
4 friendly bullet, 5 enemy bullet. Minimal actions: no-op, left, right, fire.

Difficulty ramping (``difficulty_ramping=True``): each cleared wave lowers
the move interval by one, from 12 down to 6.

Random draws per step: only ``rand()`` for the sticky action; the game is
deterministic (``reset`` draws nothing).

Departures of gymnax 1.0.1's port (``gymnax/environments/minatar/space_invaders.py``)
from the reference, which this module does not share: no sticky actions; the
minimal action set by default; float32 observations; a 1,000-step
``max_steps_in_episode`` (the reference has no time limit).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jit_env.envs.minatar import _game
from jit_env.envs.minatar._game import FIRE, LEFT, NOOP, RIGHT, MinAtarParams

SHOT_COOL_DOWN = 5
ENEMY_MOVE_INTERVAL = 12
ENEMY_SHOT_INTERVAL = 10


def _wave() -> jax.Array:
    rows = jnp.arange(10)[:, None]
    cols = jnp.arange(10)[None, :]
    return (rows < 4) & (cols >= 2) & (cols < 8)


class SpaceInvadersState(NamedTuple):
    """State of `SpaceInvaders` (the reference ``Env``'s attributes).

    Attributes:
      key: PRNG key of the future draws.
      pos: int32, the cannon's column (row 9).
      f_bullet_map, e_bullet_map, alien_map: bool ``[10, 10]``.
      alien_dir: int32, -1 (left) or +1 (right).
      enemy_move_interval, alien_move_timer, alien_shot_timer, ramp_index,
        shot_timer: int32, the reference's timers and difficulty.
      last_action: the previous (full-set) action, for sticky actions.
      params: `MinAtarParams`.
    """

    key: jax.Array
    pos: jax.Array
    f_bullet_map: jax.Array
    e_bullet_map: jax.Array
    alien_map: jax.Array
    alien_dir: jax.Array
    enemy_move_interval: jax.Array
    alien_move_timer: jax.Array
    alien_shot_timer: jax.Array
    ramp_index: jax.Array
    shot_timer: jax.Array
    last_action: jax.Array
    params: MinAtarParams


class SpaceInvaders(_game.MinAtarGame):
    """MinAtar's Space Invaders, pure and jittable (id ``SpaceInvaders-MinAtar``).

    Observation: bool ``[10, 10, 6]``; float32 with
    ``observation_dtype=jnp.float32``.
    Action: int32 scalar, the six MinAtar actions (left = 1, right = 3,
    fire = 5; up and down do nothing), or ``{no-op, left, right, fire}`` with
    ``use_minimal_action_set=True``.
    Reward: float32 scalar, +1 per alien shot. Discount 0 on termination.

    ``step`` splits ``state.key`` once (the sticky-action draw). See
    `jit_env.envs.minatar.MinAtarGame` for the arguments.

    Reference: minatar 1.0.15 ``minatar/environments/space_invaders.py``.
    """

    NUM_CHANNELS = 6
    MINIMAL_ACTIONS = (NOOP, LEFT, RIGHT, FIRE)
    NUM_STEP_DRAWS = 1
    NUM_RESET_DRAWS = 0

    def initial_state(
        self, key: jax.Array, params: MinAtarParams, draws: jax.Array
    ) -> SpaceInvadersState:
        """``Env.reset()`` (no draws)."""
        del draws
        i32 = lambda v: jnp.asarray(v, jnp.int32)
        empty = jnp.zeros((10, 10), bool)
        return SpaceInvadersState(
            key=key,
            pos=i32(5),
            f_bullet_map=empty,
            e_bullet_map=empty,
            alien_map=_wave(),
            alien_dir=i32(-1),
            enemy_move_interval=i32(ENEMY_MOVE_INTERVAL),
            alien_move_timer=i32(ENEMY_MOVE_INTERVAL),
            alien_shot_timer=i32(ENEMY_SHOT_INTERVAL),
            ramp_index=i32(0),
            shot_timer=i32(0),
            last_action=i32(0),
            params=params,
        )

    def transition(
        self, state: SpaceInvadersState, action: jax.Array, draws: jax.Array
    ) -> tuple[SpaceInvadersState, jax.Array, jax.Array]:
        """`MinAtarGame.transition`; ``draws``: float32 ``[1]``."""
        a = _game.sticky(draws[0], action, state.last_action, state.params.sticky_action_prob)
        rows = jnp.arange(10)[:, None]
        cols = jnp.arange(10)[None, :]
        fire = (a == FIRE) & (state.shot_timer == 0)
        f_bullets = state.f_bullet_map | (fire & (rows == 9) & (cols == state.pos))
        shot_timer = jnp.where(fire, SHOT_COOL_DOWN, state.shot_timer)
        pos = jnp.where(a == LEFT, jnp.maximum(0, state.pos - 1), state.pos)
        pos = jnp.where(a == RIGHT, jnp.minimum(9, state.pos + 1), pos)

        # Bullets: friendly ones move up (and leave at the top), enemy ones down.
        f_bullets = jnp.roll(f_bullets, -1, axis=0) & (rows != 9)
        e_bullets = jnp.roll(state.e_bullet_map, 1, axis=0) & (rows != 0)
        terminal = e_bullets[9, pos]

        # Aliens.
        aliens = state.alien_map
        terminal = terminal | aliens[9, pos]
        moves = state.alien_move_timer == 0
        count = jnp.sum(aliens).astype(jnp.int32)
        alien_move_timer = jnp.where(
            moves, jnp.minimum(count, state.enemy_move_interval), state.alien_move_timer
        )
        at_wall = (jnp.any(aliens[:, 0]) & (state.alien_dir < 0)) | (
            jnp.any(aliens[:, 9]) & (state.alien_dir > 0)
        )
        turn = moves & at_wall
        terminal = terminal | (turn & jnp.any(aliens[9, :]))
        alien_dir = jnp.where(turn, -state.alien_dir, state.alien_dir)
        sideways = jnp.where(
            state.alien_dir > 0, jnp.roll(aliens, 1, axis=1), jnp.roll(aliens, -1, axis=1)
        )
        aliens = jnp.where(turn, jnp.roll(aliens, 1, axis=0), jnp.where(moves, sideways, aliens))
        terminal = terminal | (moves & aliens[9, pos])

        # An alien shoots: the lowest one in the column nearest the cannon (ties: the left one).
        shoots = state.alien_shot_timer == 0
        alien_shot_timer = jnp.where(shoots, ENEMY_SHOT_INTERVAL, state.alien_shot_timer)
        column_alive = jnp.any(aliens, axis=0)
        distance = jnp.abs(jnp.arange(10) - pos)
        column = jnp.argmin(jnp.where(column_alive, distance * 10 + jnp.arange(10), 1000))
        row = 9 - jnp.argmax(aliens[::-1, column])
        # (There is always an alien here: a cleared wave is replaced at the end of a step.)
        e_bullets = e_bullets | (shoots & jnp.any(aliens) & (rows == row) & (cols == column))

        kills = aliens & f_bullets
        reward = jnp.sum(kills).astype(jnp.float32)
        aliens = aliens & ~kills
        f_bullets = f_bullets & ~kills

        shot_timer = shot_timer - (shot_timer > 0).astype(jnp.int32)
        alien_move_timer = alien_move_timer - 1
        alien_shot_timer = alien_shot_timer - 1
        cleared = ~jnp.any(aliens)
        ramp = cleared & (state.enemy_move_interval > 6) & state.params.difficulty_ramping
        state = state._replace(
            pos=pos,
            f_bullet_map=f_bullets,
            e_bullet_map=e_bullets,
            alien_map=aliens | (cleared & _wave()),
            alien_dir=alien_dir,
            enemy_move_interval=state.enemy_move_interval - ramp.astype(jnp.int32),
            alien_move_timer=alien_move_timer,
            alien_shot_timer=alien_shot_timer,
            ramp_index=state.ramp_index + ramp.astype(jnp.int32),
            shot_timer=shot_timer,
            last_action=a,
        )
        return state, reward, terminal

    def observation(self, state: SpaceInvadersState) -> jax.Array:
        """``Env.state()``: bool ``[10, 10, 6]``."""
        aliens = state.alien_map
        left = state.alien_dir < 0
        return jnp.stack(
            [
                _game.cells(9, state.pos),
                aliens,
                aliens & left,
                aliens & ~left,
                state.f_bullet_map,
                state.e_bullet_map,
            ],
            axis=-1,
        )
