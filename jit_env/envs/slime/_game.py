"""The Slime Volleyball game of slimevolleygym 0.1.0, in ``jax.numpy`` (private).

Every function here is a line-for-line port of ``slimevolleygym/slimevolley.py``
(David Ha, 2020, Apache-2.0; itself a port of the 2015 JavaScript game at
https://github.com/hardmaru/neuralslimevolley): the constants, ``Agent.update``,
``Particle.move`` / ``applyAcceleration`` / ``limitSpeed`` / ``checkEdges`` /
``bounce``, ``DelayScreen`` and ``Game.step``, in the same order, with the
Python ``if`` statements turned into ``jnp.where`` so that one step is
branch-free and vmappable. The two agents are the leading axis ``[2]`` of
every per-agent array, index 0 the left agent (``dir = -1``, the baseline's
side in slimevolleygym) and index 1 the right one (``dir = +1``, the agent
slimevolleygym's ``SlimeVolleyEnv`` trains).

The arithmetic is ``float32`` (slimevolleygym: Python ``float``, i.e. float64);
`tests/envs/test_slime.py` steps both from identical states and compares.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# slimevolleygym/slimevolley.py, "game settings".
REF_W = 24 * 2
REF_H = REF_W
REF_U = 1.5  # ground height
REF_WALL_WIDTH = 1.0
REF_WALL_HEIGHT = 3.5
PLAYER_SPEED_X = 10 * 1.75
PLAYER_SPEED_Y = 10 * 1.35
MAX_BALL_SPEED = 15 * 1.5
TIMESTEP = 1 / 30.0
NUDGE = 0.1
FRICTION = 1.0
INIT_DELAY_FRAMES = 30
GRAVITY = -9.8 * 2 * 1.5
MAXLIVES = 5
AGENT_RADIUS = 1.5
BALL_RADIUS = 0.5
FENCE_STUB_RADIUS = REF_WALL_WIDTH / 2
OBSERVATION_SCALE = 10.0  # RelativeState.getObservation's scaleFactor
DIRECTIONS = np.array([-1.0, 1.0], np.float32)  # Agent.dir of (left, right)

# The bounce loop moves the ball out by NUDGE per pass; the furthest it can have
# to go is the sum of the radii (2.0 for an agent), i.e. 20 passes. Two spare
# passes absorb float32 rounding; the passes after the ball is clear do nothing.
_BOUNCE_PASSES = 22


class Game(NamedTuple):
    """The game's physical state (``float32`` unless noted).

    Attributes:
      ball: ``[5]`` = ``(x, y, prev_x, vx, vy)`` (``Particle``; ``prev_y`` is
        never read by the game and is not kept).
      agents: ``[2, 4]`` = ``(x, y, vx, vy)`` per agent (left, right).
      lives: ``int32 [2]``, lives left (``Agent.life``).
      delay: ``int32 []``, frames the ball is still held (``DelayScreen.life``).
      relative: ``[2, 12]``, each agent's ``RelativeState`` (unscaled), which
        ``Game.step`` refreshes only on steps where no point is scored.
    """

    ball: jax.Array
    agents: jax.Array
    lives: jax.Array
    delay: jax.Array
    relative: jax.Array


def new_ball(key: jax.Array) -> jax.Array:
    """``Game.newMatch``'s ball: at ``(0, REF_W / 4)``, ``vx ~ U[-20, 20)``, ``vy ~ U[10, 25)``."""
    vx_key, vy_key = jax.random.split(key)
    vx = jax.random.uniform(vx_key, (), jnp.float32, -20.0, 20.0)
    vy = jax.random.uniform(vy_key, (), jnp.float32, 10.0, 25.0)
    zero = jnp.zeros((), jnp.float32)
    return jnp.stack([zero, jnp.float32(REF_W / 4), zero, vx, vy])


def relative_states(ball: jax.Array, agents: jax.Array) -> jax.Array:
    """``Agent.updateState`` of both agents: ``[2, 12]`` (unscaled).

    Each agent sees itself, the ball and its opponent mirrored so that it
    always plays on the right: ``x * dir``, ``vx * dir``, opponent ``x * -dir``.
    """
    d = jnp.asarray(DIRECTIONS)[:, None]  # [2, 1]
    own = agents * jnp.stack([d[:, 0], jnp.ones(2), d[:, 0], jnp.ones(2)], axis=1)
    bx, by, _, bvx, bvy = ball
    ball_view = jnp.stack([bx * d[:, 0], jnp.broadcast_to(by, (2,)), bvx * d[:, 0],
                           jnp.broadcast_to(bvy, (2,))], axis=1)
    opponent = agents[::-1] * jnp.stack([-d[:, 0], jnp.ones(2), -d[:, 0], jnp.ones(2)], axis=1)
    return jnp.concatenate([own, ball_view, opponent], axis=1)


def initial(key: jax.Array) -> Game:
    """``Game.reset``: agents at ``x = -+12``, ``y = 1.5``, 5 lives each, a new ball, delay 30."""
    ball = new_ball(key)
    agents = jnp.stack(
        [
            jnp.array([-REF_W / 4, REF_U, 0.0, 0.0], jnp.float32),
            jnp.array([REF_W / 4, REF_U, 0.0, 0.0], jnp.float32),
        ]
    )
    return Game(
        ball=ball,
        agents=agents,
        lives=jnp.full((2,), MAXLIVES, jnp.int32),
        delay=jnp.asarray(INIT_DELAY_FRAMES, jnp.int32),
        relative=relative_states(ball, agents),
    )


def desired_velocities(forward: jax.Array, backward: jax.Array, jump: jax.Array) -> jax.Array:
    """``Agent.setAction``: ``[2, 2]`` desired ``(vx, vy)`` from bool ``[2]`` buttons."""
    vx = jnp.where(forward & ~backward, -PLAYER_SPEED_X, 0.0)
    vx = jnp.where(backward & ~forward, PLAYER_SPEED_X, vx)
    vy = jnp.where(jump, PLAYER_SPEED_Y, 0.0)
    return jnp.stack([vx, vy], axis=1).astype(jnp.float32)


def _update_agents(agents: jax.Array, desired: jax.Array) -> jax.Array:
    """``Agent.update`` of both agents (they do not interact)."""
    d = jnp.asarray(DIRECTIONS)
    x, y, vx, vy = agents[:, 0], agents[:, 1], agents[:, 2], agents[:, 3]
    vy = vy + GRAVITY * TIMESTEP
    vy = jnp.where(y <= REF_U + NUDGE * TIMESTEP, desired[:, 1], vy)
    vx = desired[:, 0] * d
    x = x + vx * TIMESTEP
    y = y + vy * TIMESTEP
    on_ground = y <= REF_U
    y = jnp.where(on_ground, REF_U, y)
    vy = jnp.where(on_ground, 0.0, vy)
    inner = REF_WALL_WIDTH / 2 + AGENT_RADIUS
    at_fence = x * d <= inner
    vx = jnp.where(at_fence, 0.0, vx)
    x = jnp.where(at_fence, d * inner, x)
    outer = REF_W / 2 - AGENT_RADIUS
    at_wall = x * d >= outer
    vx = jnp.where(at_wall, 0.0, vx)
    x = jnp.where(at_wall, d * outer, x)
    return jnp.stack([x, y, vx, vy], axis=1)


def _move_ball(ball: jax.Array) -> jax.Array:
    """``applyAcceleration(0, GRAVITY)``, ``limitSpeed(0, MAX_BALL_SPEED)``, ``move()``."""
    x, y, _, vx, vy = ball
    vy = vy + GRAVITY * TIMESTEP
    mag2 = vx * vx + vy * vy
    too_fast = mag2 > MAX_BALL_SPEED * MAX_BALL_SPEED
    mag = jnp.sqrt(jnp.where(too_fast, mag2, 1.0))
    vx = jnp.where(too_fast, vx / mag * MAX_BALL_SPEED, vx)
    vy = jnp.where(too_fast, vy / mag * MAX_BALL_SPEED, vy)
    # limitSpeed's minSpeed branch (mag2 < 0) can never fire.
    return jnp.stack([x + vx * TIMESTEP, y + vy * TIMESTEP, x, vx, vy])


def _bounce(ball: jax.Array, p: jax.Array, radius: float) -> jax.Array:
    """``if ball.isColliding(p): ball.bounce(p)``, ``p = (x, y, vx, vy)`` of radius ``radius``."""
    x, y, prev_x, vx, vy = ball
    px, py, pvx, pvy = p
    r = BALL_RADIUS + radius

    def colliding(x: jax.Array, y: jax.Array) -> jax.Array:
        dy, dx = py - y, px - x
        return r * r > dx * dx + dy * dy

    hit = colliding(x, y)
    abx, aby = x - px, y - py
    abd = jnp.sqrt(jnp.where(hit, abx * abx + aby * aby, 1.0))
    nx, ny = abx / abd, aby / abd
    step_x, step_y = nx * NUDGE, ny * NUDGE

    def push(_: int, xy: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        bx, by = xy
        inside = hit & colliding(bx, by)
        return jnp.where(inside, bx + step_x, bx), jnp.where(inside, by + step_y, by)

    new_x, new_y = jax.lax.fori_loop(0, _BOUNCE_PASSES, push, (x, y))
    ux, uy = vx - pvx, vy - pvy
    un = ux * nx + uy * ny
    ux = ux - nx * (un * 2.0)
    uy = uy - ny * (un * 2.0)
    return jnp.stack(
        [new_x, new_y, prev_x, jnp.where(hit, ux + pvx, vx), jnp.where(hit, uy + pvy, vy)]
    )


def _check_edges(ball: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``Particle.checkEdges``: the ball after the walls, and ``-1`` / ``1`` / ``0``.

    Returns ``-1`` when the ball reaches the ground on the left (``x <= 0``),
    ``1`` on the right, else ``0`` (``int32``). After a ground hit the
    reference returns early; the later checks are skipped here too.
    """
    x, y, prev_x, vx, vy = ball
    r = BALL_RADIUS
    left = x <= r - REF_W / 2
    vx = jnp.where(left, vx * -FRICTION, vx)
    x = jnp.where(left, r - REF_W / 2 + NUDGE * TIMESTEP, x)
    right = x >= REF_W / 2 - r
    vx = jnp.where(right, vx * -FRICTION, vx)
    x = jnp.where(right, REF_W / 2 - r - NUDGE * TIMESTEP, x)
    ground = y <= r + REF_U
    vy = jnp.where(ground, vy * -FRICTION, vy)
    y = jnp.where(ground, r + REF_U + NUDGE * TIMESTEP, y)
    side = jnp.where(x <= 0, -1, 1)
    top = ~ground & (y >= REF_H - r)
    vy = jnp.where(top, vy * -FRICTION, vy)
    y = jnp.where(top, REF_H - r - NUDGE * TIMESTEP, y)
    edge = REF_WALL_WIDTH / 2 + r
    fence_right = ~ground & (x <= edge) & (prev_x > edge) & (y <= REF_WALL_HEIGHT)
    vx = jnp.where(fence_right, vx * -FRICTION, vx)
    x = jnp.where(fence_right, edge + NUDGE * TIMESTEP, x)
    fence_left = ~ground & (x >= -edge) & (prev_x < -edge) & (y <= REF_WALL_HEIGHT)
    vx = jnp.where(fence_left, vx * -FRICTION, vx)
    x = jnp.where(fence_left, -edge - NUDGE * TIMESTEP, x)
    result = jnp.where(ground, side, 0).astype(jnp.int32)
    return jnp.stack([x, y, prev_x, vx, vy]), result


def step(game: Game, desired: jax.Array) -> tuple[Game, jax.Array]:
    """``Game.step``: one frame, up to the serve.

    Args:
      game: the state.
      desired: ``float32 [2, 2]``, `desired_velocities` of (left, right).

    Returns:
      ``(game, result)``: ``result`` ``int32 []`` is ``Game.step``'s return,
      ``+1`` when the right agent wins the point (the left one loses a life),
      ``-1`` when the left one does, ``0`` otherwise. When a point is scored
      the lives are updated and the relative states kept, but the ball is
      still the one that landed: pass the new one to `serve`.
    """
    agents = _update_agents(game.agents, desired)
    moving = game.delay == 0  # DelayScreen.status()
    ball = jnp.where(moving, _move_ball(game.ball), game.ball)
    delay = jnp.where(moving, game.delay, game.delay - 1).astype(jnp.int32)
    ball = _bounce(ball, agents[0], AGENT_RADIUS)
    ball = _bounce(ball, agents[1], AGENT_RADIUS)
    stub = jnp.array([0.0, REF_WALL_HEIGHT, 0.0, 0.0], jnp.float32)
    ball = _bounce(ball, stub, FENCE_STUB_RADIUS)
    ball, edge = _check_edges(ball)
    result = -edge
    scored = result != 0
    lost = jnp.stack([result > 0, result < 0]).astype(jnp.int32)  # left loses on +1
    relative = jnp.where(scored, game.relative, relative_states(ball, agents))
    return Game(ball, agents, game.lives - lost, delay, relative), result


def serve(game: Game, ball: jax.Array) -> Game:
    """``Game.newMatch`` after a point: the ``ball`` from `new_ball` and the 30-frame delay."""
    return game._replace(ball=ball, delay=jnp.asarray(INIT_DELAY_FRAMES, jnp.int32))
