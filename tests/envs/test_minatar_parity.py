"""Step-by-step parity of the MinAtar games with the reference package (minatar 1.0.15).

The reference ``minatar.Environment`` runs with a scripted stand-in for its
``numpy.random.RandomState`` (`ScriptedRandom`): before every reset and step
the stand-in is loaded with the uniforms that our ``reset`` / ``step`` draw
from the same key (``env.reset_draws`` / ``env.step_draws``), one queue per
reference function that calls ``self.random`` (``act`` for the sticky action
in ``Environment.act``, ``_spawn_entity``, ``_randomize_cars``, ...). A
``rand()`` returns the uniform itself; a ``randint(low, high)`` maps it as
``jit_env.envs.minatar._game.randint`` does (``low + floor(u * (high - low))``
in float32), so both sides take the same random decisions. The alignment
is exact for every game: no distributions are compared.

After every step the observation (``env.state()``), the reward, the
terminal flag AND every hidden variable of the reference (timers, speeds,
directions, converted by ``*_from_reference``) must equal ours. The
trajectories (thousands of steps per game; marked slow, with a short run
of every game in the default suite) mix uniformly random actions with a simple policy that keeps
the game going (so that bricks are cleared, speeds ramp up, ...); the policy
sees only the reference's state.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.envs.minatar import (
    Asterix,
    AsterixState,
    Breakout,
    BreakoutState,
    Freeway,
    FreewayState,
    MinAtarParams,
    Seaquest,
    SeaquestState,
    SpaceInvaders,
    SpaceInvadersState,
)
from jit_env.envs.minatar import seaquest as seaquest_module

minatar = pytest.importorskip("minatar")


class ScriptedRandom:
    """Serves the reference's ``rand`` / ``randint`` calls from per-caller queues of uniforms."""

    def __init__(self) -> None:
        self.queues: dict[str, list[float]] = {}

    def load(self, **queues) -> None:
        self.queues = {name: [float(u) for u in np.ravel(q)] for name, q in queues.items()}

    def _pop(self, n: int) -> np.ndarray:
        caller = sys._getframe(2).f_code.co_name
        queue = self.queues.get(caller)
        if queue is None or len(queue) < n:
            raise AssertionError(f"the reference drew {n} unexpected number(s) in {caller}")
        out, self.queues[caller] = queue[:n], queue[n:]
        return np.asarray(out, np.float32)

    def rand(self, *size):
        n = int(np.prod(size)) if size else 1
        u = self._pop(n).astype(np.float64)
        return u.reshape(size) if size else float(u[0])

    def randint(self, low, high=None, size=None):
        if high is None:
            low, high = 0, low
        n = 1 if size is None else int(np.prod(size))
        u = self._pop(n)
        span = high - low
        k = np.minimum(np.floor(u * np.float32(span)).astype(np.int64), span - 1) + low
        return int(k[0]) if size is None else k.reshape(size)


def _i(v) -> np.ndarray:
    return np.asarray(v, np.int32)


def breakout_from_reference(env, key, params) -> BreakoutState:
    g = env.env
    return BreakoutState(
        key=key,
        ball_x=_i(g.ball_x),
        ball_y=_i(g.ball_y),
        ball_dir=_i(g.ball_dir),
        pos=_i(g.pos),
        brick_map=np.asarray(g.brick_map, bool),
        strike=np.asarray(g.strike, bool),
        last_x=_i(g.last_x),
        last_y=_i(g.last_y),
        last_action=_i(env.last_action),
        params=params,
    )


def breakout_policy(g, _rng):
    """Moves the paddle to where the ball will land (right = 3, left = 1, no-op = 0)."""
    dx = (-1, 1, 1, -1)[g.ball_dir]
    target = g.ball_x
    if g.ball_dir >= 2:  # moving down: follow its diagonal, reflected off the walls
        x = g.ball_x + dx * (8 - g.ball_y)
        target = -x - 1 if x < 0 else 19 - x if x > 9 else x
    return 3 if target > g.pos else 1 if target < g.pos else 0


def freeway_from_reference(env, key, params) -> FreewayState:
    g = env.env
    return FreewayState(
        key=key,
        cars=_i(g.cars),
        pos=_i(g.pos),
        move_timer=_i(g.move_timer),
        terminate_timer=_i(g.terminate_timer),
        last_action=_i(env.last_action),
        params=params,
    )


def freeway_policy(_g, rng):
    """Mostly up (2), sometimes down (4)."""
    return 2 if rng.random() < 0.8 else 4


def asterix_from_reference(env, key, params) -> AsterixState:
    g = env.env
    ents = [e if e is not None else [0, i + 1, False, False] for i, e in enumerate(g.entities)]
    return AsterixState(
        key=key,
        player_x=_i(g.player_x),
        player_y=_i(g.player_y),
        entity_x=_i([e[0] for e in ents]),
        entity_right=np.array([bool(e[2]) for e in ents]),
        entity_gold=np.array([bool(e[3]) for e in ents]),
        entity_alive=np.array([e is not None for e in g.entities]),
        spawn_speed=_i(g.spawn_speed),
        spawn_timer=_i(g.spawn_timer),
        move_speed=_i(g.move_speed),
        move_timer=_i(g.move_timer),
        ramp_timer=_i(g.ramp_timer),
        ramp_index=_i(g.ramp_index),
        last_action=_i(env.last_action),
        params=params,
    )


def asterix_policy(g, rng):
    """Steps out of the row (up 2 / down 4) of an enemy that is near, else toward gold."""
    for e in g.entities:
        if e is not None and not e[3] and e[1] == g.player_y and abs(e[0] - g.player_x) <= 3:
            return 2 if g.player_y > 1 and rng.random() < 0.5 or g.player_y == 8 else 4
    return int(rng.choice([0, 1, 3]))


def space_invaders_from_reference(env, key, params) -> SpaceInvadersState:
    g = env.env
    return SpaceInvadersState(
        key=key,
        pos=_i(g.pos),
        f_bullet_map=np.asarray(g.f_bullet_map, bool),
        e_bullet_map=np.asarray(g.e_bullet_map, bool),
        alien_map=np.asarray(g.alien_map, bool),
        alien_dir=_i(g.alien_dir),
        enemy_move_interval=_i(g.enemy_move_interval),
        alien_move_timer=_i(g.alien_move_timer),
        alien_shot_timer=_i(g.alien_shot_timer),
        ramp_index=_i(g.ramp_index),
        shot_timer=_i(g.shot_timer),
        last_action=_i(env.last_action),
        params=params,
    )


def space_invaders_policy(g, rng):
    """Dodges a bullet right above the cannon, else fires (5) or moves under an alien."""
    if g.e_bullet_map[8, g.pos] or g.e_bullet_map[7, g.pos]:
        return 1 if g.pos > 0 and (g.pos == 9 or rng.random() < 0.5) else 3
    if g.shot_timer == 0 and np.any(g.alien_map[:, g.pos]):
        return 5
    columns = np.flatnonzero(np.any(g.alien_map, axis=0))
    target = columns[np.argmin(np.abs(columns - g.pos))] if len(columns) else g.pos
    return 3 if target > g.pos else 1 if target < g.pos else 5


def _rows(items, capacity, width):
    assert len(items) <= capacity, f"{len(items)} objects, more than the capacity {capacity}"
    rows = np.zeros((capacity, width), np.int32)
    for j, item in enumerate(items):
        rows[j] = [int(v) for v in item]
    return rows, np.arange(capacity) < len(items)


def seaquest_from_reference(env, key, params) -> SeaquestState:
    g, m = env.env, seaquest_module
    f_bullets, f_alive = _rows(g.f_bullets, m.MAX_FRIENDLY_BULLETS, 3)
    e_bullets, e_alive = _rows(g.e_bullets, m.MAX_ENEMIES, 3)
    fish, fish_alive = _rows(g.e_fish, m.MAX_ENEMIES, 4)
    subs, subs_alive = _rows(g.e_subs, m.MAX_ENEMIES, 5)
    divers, divers_alive = _rows(g.divers, m.MAX_DIVERS, 4)
    return SeaquestState(
        key=key,
        oxygen=_i(g.oxygen),
        diver_count=_i(g.diver_count),
        sub_x=_i(g.sub_x),
        sub_y=_i(g.sub_y),
        sub_or=np.asarray(g.sub_or, bool),
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
        e_spawn_speed=_i(g.e_spawn_speed),
        e_spawn_timer=_i(g.e_spawn_timer),
        d_spawn_timer=_i(g.d_spawn_timer),
        move_speed=_i(g.move_speed),
        ramp_index=_i(g.ramp_index),
        shot_timer=_i(g.shot_timer),
        surface=np.asarray(g.surface, bool),
        last_action=_i(env.last_action),
        params=params,
    )


def seaquest_policy(g, rng):
    """Dives, dodges enemies in its row, shoots, and surfaces for oxygen or with 6 divers."""
    danger = [e for e in g.e_fish + g.e_subs + g.e_bullets if e[1] == g.sub_y]
    near = [e for e in danger if abs(e[0] - g.sub_x) <= 2]
    if g.sub_y == 0:
        return 4 if g.oxygen > 100 or g.diver_count <= 0 else 0
    if (g.oxygen < 40 and g.diver_count > 0) or g.diver_count == 6:
        return 2
    if near:
        ahead = [e for e in near if (e[0] > g.sub_x) == g.sub_or]
        if ahead and g.shot_timer == 0:
            return 5
        return 2 if g.sub_y > 1 and rng.random() < 0.5 else 4
    if g.divers and rng.random() < 0.5:
        d = g.divers[0]
        return 2 if d[1] < g.sub_y else 4 if d[1] > g.sub_y else 1 if d[0] < g.sub_x else 3
    return int(rng.choice([1, 3, 5]))


GAMES = {
    # id: (class, reference game name, from_reference, reset queues, step queues, policy)
    "Breakout-MinAtar": (
        Breakout,
        "breakout",
        breakout_from_reference,
        lambda d: {"reset": d[0:1]},
        lambda d: {"act": d[0:1]},
        breakout_policy,
    ),
    "Freeway-MinAtar": (
        Freeway,
        "freeway",
        freeway_from_reference,
        lambda d: {"_randomize_cars": d[0:16]},
        lambda d: {"act": d[0:1], "_randomize_cars": d[1:17]},
        freeway_policy,
    ),
    "Asterix-MinAtar": (
        Asterix,
        "asterix",
        asterix_from_reference,
        lambda _d: {},
        lambda d: {"act": d[0:1], "_spawn_entity": d[1:4]},
        asterix_policy,
    ),
    "SpaceInvaders-MinAtar": (
        SpaceInvaders,
        "space_invaders",
        space_invaders_from_reference,
        lambda _d: {},
        lambda d: {"act": d[0:1]},
        space_invaders_policy,
    ),
    "Seaquest-MinAtar": (
        Seaquest,
        "seaquest",
        seaquest_from_reference,
        lambda _d: {},
        lambda d: {"act": d[0:1], "_spawn_enemy": d[1:4], "_spawn_diver": d[4:6]},
        seaquest_policy,
    ),
}

_JITTED: dict = {}


def _jitted(env_id):
    if env_id not in _JITTED:
        env = GAMES[env_id][0]()
        _JITTED[env_id] = (
            env,
            jax.jit(env.reset),
            jax.jit(env.step),
            jax.jit(env.reset_draws),
            jax.jit(env.step_draws),
        )
    return _JITTED[env_id]


def _assert_state_equal(ours, theirs, where):
    for name in ours._fields:
        if name in ("key", "params"):
            continue
        a, b = np.asarray(getattr(ours, name)), np.asarray(getattr(theirs, name))
        if not np.array_equal(a, b):
            raise AssertionError(f"{where}: `{name}` differs: ours {a}, reference {b}")


def run_parity(env_id, seed, num_steps, random_fraction=0.5, check=None, inject=None, policy=None):
    """Steps ours and the reference side by side; returns the reference's per-episode stats.

    ``inject(ref, rng)``, if given, edits the reference's game after every
    reset (e.g. removes most bricks); ours then starts from the converted
    state, so both continue from the same (edited) state.
    """
    _, _, from_reference, reset_queues, step_queues, game_policy = GAMES[env_id]
    policy = policy or game_policy
    env, reset, step, reset_draws, step_draws = _jitted(env_id)
    ref = minatar.Environment(GAMES[env_id][1], sticky_action_prob=0.1)
    stub = ScriptedRandom()
    ref.random = stub
    ref.env.random = stub
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    params = MinAtarParams(np.float32(0.1), np.bool_(True))
    seen: dict[str, list] = {"returns": [], "lengths": []}

    def new_episode(key):
        key, k = jax.random.split(key)
        _, d = reset_draws(k)
        stub.load(**reset_queues(np.asarray(d)))
        ref.reset()
        ref.last_action = 0  # ours starts every episode with action 0 (see _game.py)
        state, ts = reset(k)
        np.testing.assert_array_equal(np.asarray(ts.observation), ref.state())
        _assert_state_equal(state, from_reference(ref, key, params), f"seed {seed} reset")
        if inject is not None:
            inject(ref, rng)
            state = jax.tree.map(jnp.asarray, from_reference(ref, state.key, params))
        return key, state

    key, state = new_episode(key)
    ret, length = 0.0, 0
    for t in range(num_steps):
        random_action = rng.random() < random_fraction
        a = int(rng.integers(6)) if random_action else policy(ref.env, rng)
        _, d = step_draws(state.key)
        stub.load(**step_queues(np.asarray(d)))
        r, terminal = ref.act(a)
        assert not stub.queues["act"], "the sticky-action draw was not consumed"
        state, ts = step(state, jnp.int32(a))
        where = f"seed {seed} step {t} action {a}"
        np.testing.assert_array_equal(np.asarray(ts.observation), ref.state(), err_msg=where)
        assert float(ts.reward) == float(r), where
        assert bool(ts.last()) == bool(terminal), where
        assert float(ts.discount) == (0.0 if terminal else 1.0), where
        _assert_state_equal(state, from_reference(ref, state.key, params), where)
        if check is not None:
            check(ref, seen)
        ret, length = ret + float(r), length + 1
        if terminal:
            seen["returns"].append(ret)
            seen["lengths"].append(length)
            ret, length = 0.0, 0
            key, state = new_episode(key)
    return seen


@pytest.mark.parametrize("env_id", sorted(GAMES))
def test_parity_short(env_id):
    """250 steps of every game, each compared with the reference (the long runs are slow)."""
    run_parity(env_id, 3, 250, random_fraction=0.3)


def test_scripted_random_maps_uniforms_as_ours():
    from jit_env.envs.minatar import _game

    u = np.array([0.0, 0.19999999, 0.2, 0.5, 0.99999994], np.float32)
    stub = ScriptedRandom()
    stub.load(test_scripted_random_maps_uniforms_as_ours=u)
    ours = np.asarray(_game.randint(jnp.asarray(u), 1, 6))
    np.testing.assert_array_equal(stub.randint(1, 6, 5), ours)
    np.testing.assert_array_equal(ours, [1, 1, 2, 3, 5])  # by hand: 1 + floor(5 u)


def _counting(counter):
    def check(ref, seen):
        counter(ref, seen.setdefault("counts", {}))

    return check


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_breakout_parity(seed):
    seen = run_parity("Breakout-MinAtar", seed, 800, random_fraction=0.3)
    assert len(seen["returns"]) >= 3, seen  # several games over (termination covered)
    assert sum(seen["returns"]) > 10, seen  # bricks broken


@pytest.mark.slow
def test_breakout_parity_refill():
    """From states with 1-3 bricks left, so that the wall is cleared and rebuilt."""

    def inject(ref, rng):
        keep = rng.choice(30, size=rng.integers(1, 4), replace=False)
        bricks = np.zeros(30)
        bricks[keep] = 1
        ref.env.brick_map[1:4, :] = bricks.reshape(3, 10)

    def counter(ref, counts):
        n = np.count_nonzero(ref.env.brick_map)
        if n == 30 and counts.get("last", 30) < 30:
            counts["refills"] = counts.get("refills", 0) + 1
        counts["last"] = n

    seen = run_parity(
        "Breakout-MinAtar", 2, 1500, random_fraction=0.02, check=_counting(counter), inject=inject
    )
    assert seen["counts"].get("refills", 0) >= 2, seen


@pytest.mark.slow
def test_freeway_parity():
    """Two full games of 2,501 steps (termination by the reference's timer), many crossings."""
    seen = run_parity("Freeway-MinAtar", 0, 2 * 2501, random_fraction=0.3)
    assert seen["lengths"] == [2501, 2501], seen
    assert min(seen["returns"]) >= 5, seen  # crossings, so the cars were re-drawn


@pytest.mark.slow
def test_asterix_parity():
    """Long games, so that the spawn and move intervals ramp down, and full rows of entities."""

    def counter(ref, counts):
        counts["max_ramp"] = max(counts.get("max_ramp", 0), ref.env.ramp_index)
        full = all(e is not None for e in ref.env.entities)
        counts["full"] = counts.get("full", 0) + full

    seen = run_parity("Asterix-MinAtar", 0, 3000, random_fraction=0.1, check=_counting(counter))
    assert len(seen["returns"]) >= 2, seen
    assert sum(seen["returns"]) > 10, seen
    assert seen["counts"]["max_ramp"] >= 5, seen

    def inject(ref, rng):  # late in the ramp: a spawn on every step, so rows fill up
        g = ref.env
        g.spawn_speed, g.spawn_timer, g.move_speed, g.ramp_index = 1, 0, int(rng.integers(2, 5)), 9

    seen = run_parity(
        "Asterix-MinAtar", 1, 1000, random_fraction=0.1, check=_counting(counter), inject=inject
    )
    assert seen["counts"]["full"] > 0, seen  # spawns with no free slot


@pytest.mark.slow
def test_space_invaders_parity():
    """Games long enough to clear waves (the move interval ramps down) and to be shot."""

    def counter(ref, counts):
        n = np.count_nonzero(ref.env.alien_map)
        if n == 24 and counts.get("last", 24) < 24:
            counts["waves"] = counts.get("waves", 0) + 1
        counts["last"] = n
        counts["ramps"] = max(counts.get("ramps", 0), ref.env.ramp_index)
        counts["min_interval"] = min(counts.get("min_interval", 12), ref.env.enemy_move_interval)

    seen = run_parity("SpaceInvaders-MinAtar", 0, 1500, random_fraction=0.1)
    assert len(seen["returns"]) >= 2, seen
    assert sum(seen["returns"]) > 50, seen

    def inject(ref, rng):  # only 1-4 aliens left, so waves are cleared and the rest hurry
        keep = rng.choice(24, size=rng.integers(1, 5), replace=False)
        wave = np.zeros(24)
        wave[keep] = 1
        ref.env.alien_map[0:4, 2:8] = wave.reshape(4, 6)
        ref.env.enemy_move_interval = int(rng.integers(6, 8))  # near the floor of the ramp

    seen = run_parity(
        "SpaceInvaders-MinAtar",
        1,
        1500,
        random_fraction=0.1,
        check=_counting(counter),
        inject=inject,
    )
    counts = seen["counts"]
    assert counts["waves"] >= 5, seen
    assert counts["ramps"] >= 1, seen
    assert counts["min_interval"] == 6, seen  # the ramp stops at 6


@pytest.mark.slow
def test_seaquest_parity():
    """Games with shooting, divers, surfacing (and its ramp), oxygen running out."""

    def counter(ref, counts):
        g = ref.env
        counts["ramps"] = max(counts.get("ramps", 0), g.ramp_index)
        counts["low_divers"] = min(counts.get("low_divers", 0), g.diver_count)
        counts["most_enemies"] = max(counts.get("most_enemies", 0), len(g.e_fish + g.e_subs))

    seen = run_parity("Seaquest-MinAtar", 0, 3000, random_fraction=0.1, check=_counting(counter))
    assert len(seen["returns"]) >= 2, seen
    assert sum(seen["returns"]) > 10, seen
    assert seen["counts"]["ramps"] >= 2, seen

    def inject(ref, rng):  # late in the ramp, six divers on board: crowded, and surfacing with 6
        g = ref.env
        g.e_spawn_speed, g.e_spawn_timer = int(rng.integers(1, 4)), 0
        g.move_speed, g.ramp_index, g.diver_count = 2, 30, 6
        g.sub_y, g.surface = 1, False

    seen = run_parity(
        "Seaquest-MinAtar", 1, 1500, random_fraction=0.1, check=_counting(counter), inject=inject
    )
    assert seen["counts"]["low_divers"] < 0, seen  # the reference's -1 after surfacing with 6
    assert seen["counts"]["most_enemies"] >= 8, seen


def test_seaquest_two_fish_one_bullet_resolve_in_reference_order():
    """Two fish move onto one friendly bullet's cell: the newer fish (later in the list) is hit."""

    def inject(ref, _rng):
        g = ref.env
        g.sub_x, g.sub_y, g.surface = 8, 7, False
        g.e_fish = [[2, 4, True, 0], [4, 4, False, 0]]  # both move onto column 3 of row 4
        g.f_bullets = [[2, 4, True]]  # moves to column 3 first
        g.e_spawn_timer = g.d_spawn_timer = 10

    def counter(ref, counts):
        counts.setdefault("fish", []).append([list(f) for f in ref.env.e_fish])

    seen = run_parity(
        "Seaquest-MinAtar",
        4,
        1,
        random_fraction=0.0,
        check=_counting(counter),
        inject=inject,
        policy=lambda _g, _rng: 0,
    )
    assert seen["counts"]["fish"][0] == [[3, 4, True, 5]]  # the older fish survives (by hand)
