"""MinAtar Asterix (``Asterix-MinAtar``), natively in JAX.

Matches minatar 1.0.15 ``minatar/environments/asterix.py`` inside
``minatar/environment.py``'s ``Environment``: the player moves in the four
directions (rows 1-8); enemies and gold enter from the sides, at most one per
row (rows 1-8, one "slot" each); +1 for picking up gold; termination when the
player meets an enemy. Channels: 0 player, 1 enemy, 2 trail, 3 gold. Minimal
actions: no-op, left, up, right, down.

Difficulty ramping (``difficulty_ramping=True``): every 101 steps (the
``ramp_timer`` counts 100 down to -1) the spawn interval drops by one (from
10, down to 1) and on every other ramp the move interval drops by one (from
5, down to 1).

Random draws per step, in the reference's order: ``rand()`` for the sticky
action; then, when the spawn timer is 0, ``_spawn_entity``'s ``rand()``
(side), ``rand()`` (gold with probability 1/3) and, if a slot is free,
``randint(len(free_slots))``, the index into the free slots in increasing
order, which is mapped as the same index here. ``reset`` draws nothing.

Departures of gymnax 1.0.1's port (``gymnax/environments/minatar/asterix.py``)
from the reference, which this module does not share: no sticky actions; the
minimal action set by default; float32 observations; the slot is the first
free one of a random permutation (the same uniform law over free slots, but
no way to align its draws with the reference's); the ramp lowers the move
interval whenever it is non-zero (``jnp.logical_and(state.move_speed, ...)``
in ``step_timers``) where the reference requires ``move_speed > 1``, so
gymnax's interval can reach 0; a 1,000-step ``max_steps_in_episode`` (the
reference has no time limit).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jit_env.envs.minatar import _game
from jit_env.envs.minatar._game import DOWN, LEFT, NOOP, RIGHT, UP, MinAtarParams

RAMP_INTERVAL = 100
INIT_SPAWN_SPEED = 10
INIT_MOVE_INTERVAL = 5


class AsterixState(NamedTuple):
    """State of `Asterix` (the reference ``Env``'s attributes); int32 / bool.

    Attributes:
      key: PRNG key of the future draws.
      player_x, player_y: the player's cell.
      entity_x: int32 ``[8]``, the column of the entity in slot ``i`` (row
        ``i + 1``).
      entity_right: bool ``[8]``, whether it moves right (the reference's
        ``lr``).
      entity_gold: bool ``[8]``, gold (else an enemy).
      entity_alive: bool ``[8]``, whether the slot holds an entity (the
        reference's ``None`` entries are False).
      spawn_speed, spawn_timer, move_speed, move_timer, ramp_timer,
        ramp_index: the reference's timers and difficulty.
      last_action: the previous (full-set) action, for sticky actions.
      params: `MinAtarParams`.
    """

    key: jax.Array
    player_x: jax.Array
    player_y: jax.Array
    entity_x: jax.Array
    entity_right: jax.Array
    entity_gold: jax.Array
    entity_alive: jax.Array
    spawn_speed: jax.Array
    spawn_timer: jax.Array
    move_speed: jax.Array
    move_timer: jax.Array
    ramp_timer: jax.Array
    ramp_index: jax.Array
    last_action: jax.Array
    params: MinAtarParams


class Asterix(_game.MinAtarGame):
    """MinAtar's Asterix, pure and jittable (id ``Asterix-MinAtar``).

    Observation: bool ``[10, 10, 4]`` (player, enemy, trail, gold); float32
    with ``observation_dtype=jnp.float32``.
    Action: int32 scalar, the six MinAtar actions (fire = 5 does nothing), or
    ``{no-op, left, up, right, down}`` with ``use_minimal_action_set=True``.
    Reward: float32 scalar, +1 per gold picked up. Discount 0 on termination.

    ``step`` splits ``state.key`` once. See `jit_env.envs.minatar.MinAtarGame`
    for the arguments.

    Reference: minatar 1.0.15 ``minatar/environments/asterix.py``.
    """

    NUM_CHANNELS = 4
    MINIMAL_ACTIONS = (NOOP, LEFT, UP, RIGHT, DOWN)
    NUM_STEP_DRAWS = 4
    NUM_RESET_DRAWS = 0

    def initial_state(
        self, key: jax.Array, params: MinAtarParams, draws: jax.Array
    ) -> AsterixState:
        """``Env.reset()`` (no draws): the player at (5, 5), no entities."""
        del draws
        i32 = lambda v: jnp.asarray(v, jnp.int32)
        return AsterixState(
            key=key,
            player_x=i32(5),
            player_y=i32(5),
            entity_x=jnp.zeros(8, jnp.int32),
            entity_right=jnp.zeros(8, bool),
            entity_gold=jnp.zeros(8, bool),
            entity_alive=jnp.zeros(8, bool),
            spawn_speed=i32(INIT_SPAWN_SPEED),
            spawn_timer=i32(INIT_SPAWN_SPEED),
            move_speed=i32(INIT_MOVE_INTERVAL),
            move_timer=i32(INIT_MOVE_INTERVAL),
            ramp_timer=i32(RAMP_INTERVAL),
            ramp_index=i32(0),
            last_action=i32(0),
            params=params,
        )

    def transition(
        self, state: AsterixState, action: jax.Array, draws: jax.Array
    ) -> tuple[AsterixState, jax.Array, jax.Array]:
        """`MinAtarGame.transition`; ``draws``: float32 ``[4]``: sticky, side, gold, slot."""
        a = _game.sticky(draws[0], action, state.last_action, state.params.sticky_action_prob)
        alive, ex = state.entity_alive, state.entity_x
        right, gold = state.entity_right, state.entity_gold

        # Spawn into the k-th free slot (k = randint(number of free slots)).
        spawn = state.spawn_timer == 0
        free = ~alive
        k = _game.randint(draws[3], 0, jnp.maximum(jnp.sum(free), 1))
        chosen = free & (jnp.cumsum(free) - 1 == k) & spawn
        lr = draws[1] < 0.5
        ex = jnp.where(chosen, jnp.where(lr, 0, 9), ex)
        right = jnp.where(chosen, lr, right)
        gold = jnp.where(chosen, draws[2] < 1 / 3, gold)
        alive = alive | chosen
        spawn_timer = jnp.where(spawn, state.spawn_speed, state.spawn_timer)

        px = jnp.where(a == LEFT, jnp.maximum(0, state.player_x - 1), state.player_x)
        px = jnp.where(a == RIGHT, jnp.minimum(9, state.player_x + 1), px)
        py = jnp.where(a == UP, jnp.maximum(1, state.player_y - 1), state.player_y)
        py = jnp.where(a == DOWN, jnp.minimum(8, state.player_y + 1), py)

        rows = jnp.arange(1, 9, dtype=jnp.int32)
        # Contact before the entities move: gold is picked up, an enemy ends the game.
        meet = alive & (ex == px) & (rows == py)
        reward = jnp.sum(meet & gold)
        terminal = jnp.any(meet & ~gold)
        alive = alive & ~(meet & gold)
        # The entities move one cell when the move timer is 0 (and may leave the board).
        moves = state.move_timer == 0
        move_timer = jnp.where(moves, state.move_speed, state.move_timer)
        ex = jnp.where(moves & alive, ex + jnp.where(right, 1, -1), ex)
        alive = alive & (ex >= 0) & (ex <= 9)
        meet = moves & alive & (ex == px) & (rows == py)
        reward = reward + jnp.sum(meet & gold)
        terminal = terminal | jnp.any(meet & ~gold)
        alive = alive & ~(meet & gold)

        spawn_timer = spawn_timer - 1
        move_timer = move_timer - 1

        # Difficulty ramping.
        spawn_speed, move_speed = state.spawn_speed, state.move_speed
        ramping = state.params.difficulty_ramping & ((spawn_speed > 1) | (move_speed > 1))
        counting = state.ramp_timer >= 0
        ramp = ramping & ~counting
        ramp_timer = jnp.where(
            ramping, jnp.where(counting, state.ramp_timer - 1, RAMP_INTERVAL), state.ramp_timer
        )
        faster_moves = ramp & (move_speed > 1) & (state.ramp_index % 2 == 1)
        move_speed = move_speed - faster_moves.astype(jnp.int32)
        spawn_speed = spawn_speed - (ramp & (spawn_speed > 1)).astype(jnp.int32)
        ramp_index = state.ramp_index + ramp.astype(jnp.int32)

        state = state._replace(
            player_x=px,
            player_y=py,
            # An empty slot holds (0, False, False), so equal games have equal states.
            entity_x=jnp.where(alive, ex, 0),
            entity_right=right & alive,
            entity_gold=gold & alive,
            entity_alive=alive,
            spawn_speed=spawn_speed,
            spawn_timer=spawn_timer,
            move_speed=move_speed,
            move_timer=move_timer,
            ramp_timer=ramp_timer,
            ramp_index=ramp_index,
            last_action=a,
        )
        return state, reward.astype(jnp.float32), terminal

    def observation(self, state: AsterixState) -> jax.Array:
        """``Env.state()``: bool ``[10, 10, 4]``."""
        rows = jnp.arange(1, 9, dtype=jnp.int32)
        x, alive, gold = state.entity_x, state.entity_alive, state.entity_gold
        back_x = jnp.where(state.entity_right, x - 1, x + 1)
        return jnp.stack(
            [
                _game.cells(state.player_y, state.player_x),
                _game.cells(rows, x, alive & ~gold),
                _game.cells(rows, back_x, alive & (back_x >= 0) & (back_x <= 9)),
                _game.cells(rows, x, alive & gold),
            ],
            axis=-1,
        )
