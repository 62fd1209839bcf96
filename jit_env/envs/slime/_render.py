"""Slime Volleyball's picture in ``jax.numpy`` (private; jittable, vmappable).

slimevolleygym 0.1.0's ``Game.display`` with its default night colours
(``setNightColors``): background, fence, fence stub, the two half-disc
agents with an eye looking at the ball, the ball, the ground, and one coin
per life beyond the first (``Agent.display``), drawn with
`jit_env.envs._rendering` (no anti-aliasing). The world is 48 units wide;
``width`` pixels give ``width / 48`` pixels per unit and the height is
``20`` units (slimevolleygym's 1200 x 500 window).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jit_env.envs import _rendering
from jit_env.envs.slime import _game

BALL_COLOR = (217, 79, 0)
AGENT_COLORS = ((35, 93, 188), (255, 236, 0))  # left, right
BACKGROUND_COLOR = (11, 16, 19)
FENCE_COLOR = (102, 56, 35)
COIN_COLOR = FENCE_COLOR
GROUND_COLOR = (116, 114, 117)
_WORLD_HEIGHT = 20.0  # 500 / (1200 / 48)


def height_for(width: int) -> int:
    """Image height for ``width`` (``round(width * 20 / 48)``)."""
    return int(round(width * _WORLD_HEIGHT / _game.REF_W))


def draw(game: _game.Game, width: int) -> jax.Array:
    """RGB ``uint8 [height_for(width), width, 3]`` of ``game``."""
    factor = width / _game.REF_W
    image = _rendering.canvas(height_for(width), width, BACKGROUND_COLOR)

    def to_px(x: jax.Array | float, y: jax.Array | float) -> tuple[jax.Array, jax.Array]:
        return (jnp.float32(x) + _game.REF_W / 2) * factor, jnp.float32(y) * factor

    def rect(
        image: jax.Array, x0: float, y0: float, x1: float, y1: float, color: tuple
    ) -> jax.Array:
        (a, b), (c, d) = to_px(x0, y0), to_px(x1, y1)
        corners = jnp.stack([jnp.stack([a, b]), jnp.stack([a, d]), jnp.stack([c, d]),
                             jnp.stack([c, b])])
        return _rendering.paint(image, _rendering.polygon_mask(image, corners), color)

    def disc(image: jax.Array, x: jax.Array | float, y: jax.Array | float, r: float, color: tuple,
             upper: bool = False, show: jax.Array | bool = True) -> jax.Array:
        cx, cy = to_px(x, y)
        mask = _rendering.disc_mask(image, cx, cy, r * factor)
        if upper:
            _, py = _rendering._pixel_centres(image)
            mask = mask & (py >= cy)
        return _rendering.paint(image, mask & show, color)

    half_wall = _game.REF_WALL_WIDTH / 2
    image = rect(image, -half_wall, 1.5, half_wall, _game.REF_WALL_HEIGHT, FENCE_COLOR)
    image = disc(image, 0.0, _game.REF_WALL_HEIGHT, _game.FENCE_STUB_RADIUS, FENCE_COLOR)
    bx, by = game.ball[0], game.ball[1]
    r = _game.AGENT_RADIUS
    for i in range(2):
        x, y = game.agents[i, 0], game.agents[i, 1]
        image = disc(image, x, y, r, AGENT_COLORS[i], upper=True)
        angle = math.pi * (60 if i == 0 else 120) / 180
        ex, ey = x + 0.6 * r * math.cos(angle), y + 0.6 * r * math.sin(angle)
        dx, dy = bx - ex, by - ey
        dist = jnp.sqrt(jnp.maximum(dx * dx + dy * dy, 1e-12))
        image = disc(image, ex, ey, 0.3 * r, (255, 255, 255))
        image = disc(image, ex + dx / dist * 0.15 * r, ey + dy / dist * 0.15 * r, 0.1 * r,
                     (0, 0, 0))
        direction = float(_game.DIRECTIONS[i])
        for coin in range(1, _game.MAXLIVES):
            cx = direction * (_game.REF_W / 2 + 0.5 - coin * 2.0)
            image = disc(image, cx, _WORLD_HEIGHT - 1.5, 0.5, COIN_COLOR,
                         show=coin < game.lives[i])
    image = disc(image, bx, by, _game.BALL_RADIUS, BALL_COLOR)
    return rect(image, -_game.REF_W / 2, 0.0, _game.REF_W / 2, _game.REF_U, GROUND_COLOR)
