"""MinAtar Seaquest (``Seaquest-MinAtar``), natively in JAX.

Matches minatar 1.0.15 ``minatar/environments/seaquest.py`` inside
``minatar/environment.py``'s ``Environment``: a two-cell submarine shoots
enemy fish and enemy submarines (+1 each), which enter from the sides, move
every ``move_speed + 1`` frames and (the submarines) shoot every 11 frames;
divers can be picked up (at most 6); oxygen (200) runs down under water and
is restored on surfacing with at least one diver on board, which costs one
diver, or all six with a reward of ``oxygen * 10 // 200``. Termination: hit
by a fish, a submarine or a bullet; out of oxygen; or surfacing with no
diver. Channels: 0 sub front, 1 sub back, 2 friendly bullet, 3 trail, 4
enemy bullet, 5 enemy fish, 6 enemy sub, 7 oxygen gauge, 8 diver gauge, 9
diver. All six actions are in the minimal set.

Difficulty ramping (``difficulty_ramping=True``): on each surfacing the
enemy spawn interval drops by one (from 20, down to 1) and on every other
one the move interval drops by one (from 5, down to 2).

The reference's quirks are kept, since they change the game: surfacing with
6 divers leaves ``diver_count = -1`` (it is set to 0, then decremented), after
which surfacing never ends the game and the count keeps falling; an enemy
submarine still fires on the step it is shot or leaves the board (that
bullet leaves the board in the same step); the entity lists are updated in
the reference's order (newest first, ``reversed``), with a bullet or enemy
matched to the first one in list order, so two objects on one cell resolve
as in the reference.

The reference's lists are fixed-capacity arrays here, kept in list order:
3 friendly bullets and 4 divers (more can never exist: a bullet lives at
most 9 steps and is fired at most every 5; a diver lives 60 steps and
spawns every 30), and ``MAX_ENEMIES = 32`` fish, 32 submarines and 32 enemy
bullets. A spawn into a full list is dropped (the reference has no limit):
even at the end of the ramp (a spawn every frame, a move every 3 frames, so
an enemy lives about 30 frames) the lists stay shorter (21 fish, 19 subs and
7 enemy bullets at most over 20,000 random steps with the submarine made
immortal).

Random draws per step, in the reference's order: ``rand()`` for the sticky
action; ``_spawn_enemy``'s ``rand()`` (side), ``rand()`` (a submarine with
probability 1/3), ``randint(1, 9)`` (row) when its timer is 0; then
``_spawn_diver``'s ``rand()`` (side) and ``randint(1, 9)`` (row) when its
timer is 0. ``reset`` draws nothing.

Departures of gymnax 1.0.1's port (``gymnax/environments/minatar/seaquest.py``
and ``seaquest_helpers.py``) from the reference, which this module does not
share: no sticky actions; float32 observations; bullets collide with enemies
in one vectorised pass (not the reference's sequential, first-match order);
100-entity lists; a 1,000-step ``max_steps_in_episode`` (the reference has
no time limit).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jit_env.envs.minatar import _game
from jit_env.envs.minatar._game import DOWN, FIRE, LEFT, RIGHT, UP, MinAtarParams

MAX_OXYGEN = 200
INIT_SPAWN_SPEED = 20
DIVER_SPAWN_SPEED = 30
INIT_MOVE_INTERVAL = 5
SHOT_COOL_DOWN = 5
ENEMY_SHOT_INTERVAL = 10
DIVER_MOVE_INTERVAL = 5

MAX_ENEMIES = 32
"""Capacity of the fish, enemy-submarine and enemy-bullet lists."""
MAX_FRIENDLY_BULLETS = 3
MAX_DIVERS = 4


class SeaquestState(NamedTuple):
    """State of `Seaquest` (the reference ``Env``'s attributes).

    Each reference list is an int32 array (rows in list order, then empty
    rows of zeros) and a bool mask of the rows in use.

    Attributes:
      key: PRNG key of the future draws.
      oxygen, diver_count, sub_x, sub_y: int32 scalars.
      sub_or: bool, the submarine faces right.
      f_bullets: int32 ``[3, 3]``: column, row, moving right.
      e_bullets: int32 ``[MAX_ENEMIES, 3]``: column, row, moving right.
      fish: int32 ``[MAX_ENEMIES, 4]``: column, row, moving right, move timer.
      subs: int32 ``[MAX_ENEMIES, 5]``: column, row, moving right, move
        timer, shot timer.
      divers: int32 ``[4, 4]``: column, row, moving right, move timer.
      f_alive, e_alive, fish_alive, subs_alive, divers_alive: bool masks.
      e_spawn_speed, e_spawn_timer, d_spawn_timer, move_speed, ramp_index,
        shot_timer: int32, the reference's timers and difficulty.
      surface: bool, the submarine has surfaced and not dived since.
      last_action: the previous (full-set) action, for sticky actions.
      params: `MinAtarParams`.
    """

    key: jax.Array
    oxygen: jax.Array
    diver_count: jax.Array
    sub_x: jax.Array
    sub_y: jax.Array
    sub_or: jax.Array
    f_bullets: jax.Array
    f_alive: jax.Array
    e_bullets: jax.Array
    e_alive: jax.Array
    fish: jax.Array
    fish_alive: jax.Array
    subs: jax.Array
    subs_alive: jax.Array
    divers: jax.Array
    divers_alive: jax.Array
    e_spawn_speed: jax.Array
    e_spawn_timer: jax.Array
    d_spawn_timer: jax.Array
    move_speed: jax.Array
    ramp_index: jax.Array
    shot_timer: jax.Array
    surface: jax.Array
    last_action: jax.Array
    params: MinAtarParams


def _append(rows: jax.Array, alive: jax.Array, row: list, when: jax.Array):
    """Appends ``row`` after the rows in use where ``when`` (dropped if full)."""
    slot = (jnp.arange(alive.shape[0]) == jnp.sum(alive)) & when
    new = jnp.stack([jnp.asarray(v, jnp.int32) for v in row])
    return jnp.where(slot[:, None], new[None, :], rows), alive | slot


def _first(mask: jax.Array) -> jax.Array:
    """One-hot of the first true entry of ``mask`` (all false if none)."""
    return mask & (jnp.cumsum(mask) == 1)


def _compact(rows: jax.Array, alive: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Moves the rows in use to the front, in order, and zeroes the rest."""
    order = jnp.argsort(~alive, stable=True)
    rows, alive = rows[order], alive[order]
    return jnp.where(alive[:, None], rows, 0), alive


def _append_many(rows: jax.Array, alive: jax.Array, new: jax.Array, when: jax.Array):
    """Appends the rows ``new[i]`` where ``when[i]``, in decreasing ``i`` (dropped if full)."""
    rank = jnp.cumsum(when[::-1])[::-1] - when  # how many are appended before row i
    at = when[:, None] & (jnp.sum(alive) + rank[:, None] == jnp.arange(alive.shape[0])[None, :])
    filled = jnp.any(at, axis=0)
    values = jnp.sum(at[:, :, None] * new[:, None, :], axis=0)
    return jnp.where(filled[:, None], values, rows), alive | filled


def _last(mask: jax.Array) -> jax.Array:
    """One-hot of the last true entry of ``mask`` (all false if none)."""
    return mask & (jnp.cumsum(mask[::-1])[::-1] == 1)


def _enemies(rows, alive, f_bullets, f_alive, move_speed, sub_x, sub_y):
    """The reference's loop over its fish or enemy subs (``reversed``, newest first).

    Each enemy: contact with the submarine ends the game; when its move timer
    is 0 it moves a cell (and may leave the board, or run into the
    submarine); an enemy that moved onto a friendly bullet removes itself and
    the first such bullet in list order. The enemies interact only through
    the bullets, so this is vectorised over enemies and looped over the (at
    most 3) bullets: in the reference's order the newest enemy on a cell
    claims the first bullet there, the next newest the next bullet, and so on.

    Returns:
      ``(rows, alive, f_alive, reward int32[], terminal bool[], fires)``,
      where ``fires`` marks the subs whose shot timer (column 4) is up.
    """
    x, y, timer = rows[:, 0], rows[:, 1], rows[:, 3]
    at_sub = lambda cx, cy: (cx == sub_x) & (cy == sub_y)
    terminal = jnp.any(alive & at_sub(x, y))
    moves = alive & (timer == 0)
    nx = jnp.where(moves, _step_x(x, rows[:, 2]), x)
    gone = moves & _outside(nx)
    crash = moves & ~gone & at_sub(nx, y)
    terminal = terminal | jnp.any(crash)
    eligible = moves & ~gone & ~crash
    shot = jnp.zeros_like(alive)
    for j in range(f_bullets.shape[0]):
        here = eligible & ~shot & (nx == f_bullets[j, 0]) & (y == f_bullets[j, 1])
        claim = _last(here) & f_alive[j]
        shot = shot | claim
        f_alive = f_alive.at[j].set(f_alive[j] & ~jnp.any(claim))
    timer = jnp.where(moves, move_speed, jnp.where(alive, timer - 1, timer))
    rows = rows.at[:, 0].set(nx).at[:, 3].set(timer)
    fires = alive & (rows[:, -1] == 0) if rows.shape[1] == 5 else jnp.zeros_like(alive)
    reward = jnp.sum(shot).astype(jnp.int32)
    return rows, alive & ~gone & ~shot, f_alive, reward, terminal, fires


def _step_x(x: jax.Array, right: jax.Array) -> jax.Array:
    return x + jnp.where(right != 0, 1, -1)


def _outside(x: jax.Array) -> jax.Array:
    return (x < 0) | (x > 9)


class Seaquest(_game.MinAtarGame):
    """MinAtar's Seaquest, pure and jittable (id ``Seaquest-MinAtar``).

    Observation: bool ``[10, 10, 10]``; float32 with
    ``observation_dtype=jnp.float32``.
    Action: int32 scalar, the six MinAtar actions (all are in the minimal
    set). Reward: float32 scalar. Discount 0 on termination.

    ``step`` splits ``state.key`` once. See `jit_env.envs.minatar.MinAtarGame`
    for the arguments.

    Reference: minatar 1.0.15 ``minatar/environments/seaquest.py``.
    """

    NUM_CHANNELS = 10
    MINIMAL_ACTIONS = (0, 1, 2, 3, 4, 5)
    NUM_STEP_DRAWS = 6
    NUM_RESET_DRAWS = 0

    def initial_state(
        self, key: jax.Array, params: MinAtarParams, draws: jax.Array
    ) -> SeaquestState:
        """``Env.reset()`` (no draws): the submarine at the surface, column 5."""
        del draws
        i32 = lambda v: jnp.asarray(v, jnp.int32)
        lists = lambda n, f: (jnp.zeros((n, f), jnp.int32), jnp.zeros(n, bool))
        f_bullets, f_alive = lists(MAX_FRIENDLY_BULLETS, 3)
        e_bullets, e_alive = lists(MAX_ENEMIES, 3)
        fish, fish_alive = lists(MAX_ENEMIES, 4)
        subs, subs_alive = lists(MAX_ENEMIES, 5)
        divers, divers_alive = lists(MAX_DIVERS, 4)
        return SeaquestState(
            key=key,
            oxygen=i32(MAX_OXYGEN),
            diver_count=i32(0),
            sub_x=i32(5),
            sub_y=i32(0),
            sub_or=jnp.asarray(False),
            f_bullets=f_bullets,
            f_alive=f_alive,
            e_bullets=e_bullets,
            e_alive=e_alive,
            fish=fish,
            fish_alive=fish_alive,
            subs=subs,
            subs_alive=subs_alive,
            divers=divers,
            divers_alive=divers_alive,
            e_spawn_speed=i32(INIT_SPAWN_SPEED),
            e_spawn_timer=i32(INIT_SPAWN_SPEED),
            d_spawn_timer=i32(DIVER_SPAWN_SPEED),
            move_speed=i32(INIT_MOVE_INTERVAL),
            ramp_index=i32(0),
            shot_timer=i32(0),
            surface=jnp.asarray(True),
            last_action=i32(0),
            params=params,
        )

    def transition(
        self, state: SeaquestState, action: jax.Array, draws: jax.Array
    ) -> tuple[SeaquestState, jax.Array, jax.Array]:
        """`MinAtarGame.transition`.

        ``draws``: float32 ``[6]``: sticky; enemy side, kind, row; diver side, row.
        """
        s = state
        a = _game.sticky(draws[0], action, s.last_action, s.params.sticky_action_prob)
        fish, fish_alive, subs, subs_alive = s.fish, s.fish_alive, s.subs, s.subs_alive
        divers, divers_alive = s.divers, s.divers_alive
        f_bullets, f_alive, e_bullets, e_alive = s.f_bullets, s.f_alive, s.e_bullets, s.e_alive

        # _spawn_enemy: not into a row where an enemy moves the other way.
        spawn = s.e_spawn_timer == 0
        lr = draws[1] < 0.5
        is_sub = draws[2] < 1 / 3
        y = _game.randint(draws[3], 1, 9)
        x = jnp.where(lr, 0, 9)
        blocked = jnp.any(fish_alive & (fish[:, 1] == y) & ((fish[:, 2] != 0) != lr)) | jnp.any(
            subs_alive & (subs[:, 1] == y) & ((subs[:, 2] != 0) != lr)
        )
        ok = spawn & ~blocked
        subs, subs_alive = _append(
            subs, subs_alive, [x, y, lr, s.move_speed, ENEMY_SHOT_INTERVAL], ok & is_sub
        )
        fish, fish_alive = _append(fish, fish_alive, [x, y, lr, s.move_speed], ok & ~is_sub)
        e_spawn_timer = jnp.where(spawn, s.e_spawn_speed, s.e_spawn_timer)
        # _spawn_diver.
        spawn = s.d_spawn_timer == 0
        lr = draws[4] < 0.5
        row = [jnp.where(lr, 0, 9), _game.randint(draws[5], 1, 9), lr, DIVER_MOVE_INTERVAL]
        divers, divers_alive = _append(divers, divers_alive, row, spawn)
        d_spawn_timer = jnp.where(spawn, DIVER_SPAWN_SPEED, s.d_spawn_timer)

        # The player's action.
        fire = (a == FIRE) & (s.shot_timer == 0)
        f_bullets, f_alive = _append(f_bullets, f_alive, [s.sub_x, s.sub_y, s.sub_or], fire)
        shot_timer = jnp.where(fire, SHOT_COOL_DOWN, s.shot_timer)
        sub_x = jnp.where(a == LEFT, jnp.maximum(0, s.sub_x - 1), s.sub_x)
        sub_x = jnp.where(a == RIGHT, jnp.minimum(9, s.sub_x + 1), sub_x)
        sub_or = jnp.where(a == LEFT, False, jnp.where(a == RIGHT, True, s.sub_or))
        sub_y = jnp.where(a == UP, jnp.maximum(0, s.sub_y - 1), s.sub_y)
        sub_y = jnp.where(a == DOWN, jnp.minimum(8, s.sub_y + 1), sub_y)
        at_sub = lambda x, y: (x == sub_x) & (y == sub_y)

        reward = jnp.zeros((), jnp.int32)
        terminal = jnp.zeros((), bool)

        # Friendly bullets, newest first: move; hit the first fish, else the first sub, there.
        for i in reversed(range(MAX_FRIENDLY_BULLETS)):
            live = f_alive[i]
            bx, by = _step_x(f_bullets[i, 0], f_bullets[i, 2]), f_bullets[i, 1]
            f_bullets = f_bullets.at[i, 0].set(jnp.where(live, bx, f_bullets[i, 0]))
            live = live & ~_outside(bx)
            fish_here = _first(fish_alive & (fish[:, 0] == bx) & (fish[:, 1] == by))
            hit_fish = live & jnp.any(fish_here)
            subs_here = _first(subs_alive & (subs[:, 0] == bx) & (subs[:, 1] == by))
            hit_sub = live & ~hit_fish & jnp.any(subs_here)
            fish_alive = fish_alive & ~(fish_here & hit_fish)
            subs_alive = subs_alive & ~(subs_here & hit_sub)
            f_alive = f_alive.at[i].set(live & ~hit_fish & ~hit_sub)
            reward = reward + hit_fish + hit_sub

        # Divers, newest first: picked up (if fewer than 6 on board) or move.
        diver_count = s.diver_count
        for i in reversed(range(MAX_DIVERS)):
            live = divers_alive[i]
            dx, dy, timer = divers[i, 0], divers[i, 1], divers[i, 3]
            picked = live & at_sub(dx, dy) & (diver_count < 6)
            rest = live & ~picked
            moves = rest & (timer == 0)
            nx = jnp.where(moves, _step_x(dx, divers[i, 2]), dx)
            gone = moves & _outside(nx)
            picked_after = moves & ~gone & at_sub(nx, dy) & (diver_count < 6)
            diver_count = diver_count + picked + picked_after
            timer = jnp.where(moves, DIVER_MOVE_INTERVAL, jnp.where(rest, timer - 1, timer))
            divers = divers.at[i, 0].set(nx).at[i, 3].set(timer)
            divers_alive = divers_alive.at[i].set(rest & ~gone & ~picked_after)

        live = subs_alive
        rows, subs_alive, f_alive, hits, crashed, fires = _enemies(
            subs, live, f_bullets, f_alive, s.move_speed, sub_x, sub_y
        )
        # Every sub whose shot timer is up fires, even one just shot or gone, newest first.
        gun = jnp.where(fires, ENEMY_SHOT_INTERVAL, jnp.where(live, subs[:, 4] - 1, 0))
        e_bullets, e_alive = _append_many(e_bullets, e_alive, rows[:, :3], fires)
        subs = rows.at[:, 4].set(gun)
        reward, terminal = reward + hits, terminal | crashed

        # Enemy bullets (independent of each other).
        terminal = terminal | jnp.any(e_alive & at_sub(e_bullets[:, 0], e_bullets[:, 1]))
        bx = jnp.where(e_alive, _step_x(e_bullets[:, 0], e_bullets[:, 2]), e_bullets[:, 0])
        e_alive = e_alive & ~_outside(bx)
        terminal = terminal | jnp.any(e_alive & at_sub(bx, e_bullets[:, 1]))
        e_bullets = e_bullets.at[:, 0].set(bx)

        fish, fish_alive, f_alive, hits, crashed, _ = _enemies(
            fish, fish_alive, f_bullets, f_alive, s.move_speed, sub_x, sub_y
        )
        reward, terminal = reward + hits, terminal | crashed

        # Timers, oxygen and surfacing.
        dec = lambda t: t - (t > 0).astype(jnp.int32)
        e_spawn_timer, d_spawn_timer, shot_timer = (
            dec(e_spawn_timer),
            dec(d_spawn_timer),
            dec(shot_timer),
        )
        terminal = terminal | (s.oxygen <= 0)
        under = sub_y > 0
        surfacing = ~under & ~s.surface
        terminal = terminal | (surfacing & (diver_count == 0))
        surfaced = surfacing & (diver_count != 0)
        full = diver_count == 6
        reward = reward + jnp.where(surfaced & full, s.oxygen * 10 // MAX_OXYGEN, 0)
        oxygen = jnp.where(under, s.oxygen - 1, jnp.where(surfaced, MAX_OXYGEN, s.oxygen))
        diver_count = jnp.where(surfaced, jnp.where(full, -1, diver_count - 1), diver_count)
        surface = jnp.where(under, False, s.surface | surfaced)
        ramp = surfaced & s.params.difficulty_ramping & ((s.e_spawn_speed > 1) | (s.move_speed > 2))
        faster = ramp & (s.move_speed > 2) & (s.ramp_index % 2 == 1)
        move_speed = s.move_speed - faster.astype(jnp.int32)
        e_spawn_speed = s.e_spawn_speed - (ramp & (s.e_spawn_speed > 1)).astype(jnp.int32)

        f_bullets, f_alive = _compact(f_bullets, f_alive)
        e_bullets, e_alive = _compact(e_bullets, e_alive)
        fish, fish_alive = _compact(fish, fish_alive)
        subs, subs_alive = _compact(subs, subs_alive)
        divers, divers_alive = _compact(divers, divers_alive)
        state = s._replace(
            oxygen=oxygen,
            diver_count=diver_count,
            sub_x=sub_x,
            sub_y=sub_y,
            sub_or=sub_or,
            f_bullets=f_bullets,
            f_alive=f_alive,
            e_bullets=e_bullets,
            e_alive=e_alive,
            fish=fish,
            fish_alive=fish_alive,
            subs=subs,
            subs_alive=subs_alive,
            divers=divers,
            divers_alive=divers_alive,
            e_spawn_speed=e_spawn_speed,
            e_spawn_timer=e_spawn_timer,
            d_spawn_timer=d_spawn_timer,
            move_speed=move_speed,
            ramp_index=s.ramp_index + ramp.astype(jnp.int32),
            shot_timer=shot_timer,
            surface=surface,
            last_action=a,
        )
        return state, reward.astype(jnp.float32), terminal

    def observation(self, state: SeaquestState) -> jax.Array:
        """``Env.state()``: bool ``[10, 10, 10]``."""
        s = state
        cols = jnp.arange(10)[None, :]
        bottom = jnp.arange(10)[:, None] == 9
        back_x = jnp.where(s.sub_or, s.sub_x - 1, s.sub_x + 1)
        oxygen = bottom & (cols < jnp.maximum(0, s.oxygen) * 10 // MAX_OXYGEN)
        gauge = bottom & (cols >= 9 - s.diver_count) & (cols < 9)

        def trail(rows, alive):
            bx = jnp.where(rows[:, 2] != 0, rows[:, 0] - 1, rows[:, 0] + 1)
            return _game.cells(rows[:, 1], bx, alive & ~_outside(bx))

        trails = trail(s.fish, s.fish_alive) | trail(s.subs, s.subs_alive)
        trails = trails | trail(s.divers, s.divers_alive)
        return jnp.stack(
            [
                _game.cells(s.sub_y, s.sub_x),
                _game.cells(s.sub_y, back_x),
                _game.cells(s.f_bullets[:, 1], s.f_bullets[:, 0], s.f_alive),
                trails,
                _game.cells(s.e_bullets[:, 1], s.e_bullets[:, 0], s.e_alive),
                _game.cells(s.fish[:, 1], s.fish[:, 0], s.fish_alive),
                _game.cells(s.subs[:, 1], s.subs[:, 0], s.subs_alive),
                oxygen,
                gauge,
                _game.cells(s.divers[:, 1], s.divers[:, 0], s.divers_alive),
            ],
            axis=-1,
        )
