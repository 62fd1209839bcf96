"""Rasterisation in ``jax.numpy`` for the classic-control renderers, and `render_video`.

The drawing functions paint filled shapes onto an RGB ``uint8`` canvas
``[H, W, 3]`` by testing every pixel centre, so they are pure, jittable and
vmappable: ``jax.vmap(env.render)(states)`` renders a stored rollout in one
call. Coordinates are gymnasium's (pygame's before its vertical flip): ``x``
grows to the right from the left edge, ``y`` grows upwards from the bottom
edge, in pixels. The pixel in row ``r`` and column ``c`` of the returned image
covers ``x in [c, c + 1)`` and ``y in [H - 1 - r, H - r)``, which is where
pygame puts it after ``pygame.transform.flip(surf, False, True)``.

Shapes are drawn without anti-aliasing (gymnasium's ``gfxdraw.aapolygon``
outlines are one pixel wider), so an image matches gymnasium's to within a
pixel at shape borders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def canvas(height: int, width: int, color: Sequence[int] = WHITE) -> jax.Array:
    """A uniform RGB image.

    Args:
      height: image height in pixels.
      width: image width in pixels.
      color: RGB, three ints in [0, 255].

    Returns:
      uint8, shape ``[height, width, 3]``.
    """
    return jnp.broadcast_to(jnp.asarray(color, jnp.uint8).reshape(1, 1, 3), (height, width, 3))


def _pixel_centres(image: jax.Array) -> tuple[jax.Array, jax.Array]:
    height, width = image.shape[0], image.shape[1]
    x = (jnp.arange(width, dtype=jnp.float32) + 0.5).reshape(1, width)
    y = (height - 0.5 - jnp.arange(height, dtype=jnp.float32)).reshape(height, 1)
    return x, y


def paint(image: jax.Array, mask: jax.Array, color: Sequence[int]) -> jax.Array:
    """Sets the pixels where ``mask`` is true to ``color``.

    Args:
      image: uint8 ``[H, W, 3]``.
      mask: bool ``[H, W]``.
      color: RGB, three ints in [0, 255].

    Returns:
      uint8 ``[H, W, 3]``.
    """
    colour = jnp.asarray(color, jnp.uint8).reshape(1, 1, 3)
    return jnp.where(mask[:, :, None], colour, image)


def polygon_mask(image: jax.Array, vertices: jax.Array) -> jax.Array:
    """Pixels inside a convex polygon (either winding order).

    Args:
      image: uint8 ``[H, W, 3]`` (only its shape is used).
      vertices: float32 ``[N, 2]``, ``(x, y)`` in pixels, in order round the
        polygon (convex, ``N >= 3``).

    Returns:
      bool ``[H, W]``.
    """
    x, y = _pixel_centres(image)
    vertices = jnp.asarray(vertices, jnp.float32)
    nxt = jnp.roll(vertices, -1, axis=0)
    sides = []
    for i in range(vertices.shape[0]):
        (x0, y0), (x1, y1) = vertices[i], nxt[i]
        sides.append((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0))
    stacked = jnp.stack(jnp.broadcast_arrays(*sides))
    return jnp.all(stacked >= 0, axis=0) | jnp.all(stacked <= 0, axis=0)


def disc_mask(image: jax.Array, centre_x: Any, centre_y: Any, radius: Any) -> jax.Array:
    """Pixels within ``radius`` of ``(centre_x, centre_y)`` (all in pixels).

    Returns:
      bool ``[H, W]``.
    """
    x, y = _pixel_centres(image)
    return jnp.square(x - centre_x) + jnp.square(y - centre_y) <= jnp.square(radius)


def segment_mask(image: jax.Array, start: Any, end: Any, width: float = 1.0) -> jax.Array:
    """Pixels within ``width / 2`` of the segment ``start``–``end``.

    Args:
      image: uint8 ``[H, W, 3]`` (only its shape is used).
      start: ``(x, y)`` in pixels.
      end: ``(x, y)`` in pixels.
      width: line width in pixels.

    Returns:
      bool ``[H, W]``.
    """
    x, y = _pixel_centres(image)
    x0, y0 = jnp.float32(start[0]), jnp.float32(start[1])
    dx, dy = jnp.float32(end[0]) - x0, jnp.float32(end[1]) - y0
    length2 = jnp.maximum(dx * dx + dy * dy, 1e-12)
    t = jnp.clip(((x - x0) * dx + (y - y0) * dy) / length2, 0.0, 1.0)
    return jnp.square(x - x0 - t * dx) + jnp.square(y - y0 - t * dy) <= (width / 2) ** 2


def rotated_rectangle(
    corners: Sequence[tuple[Any, Any]] | jax.Array, angle: Any, origin: tuple[Any, Any]
) -> jax.Array:
    """Rotates polygon corners by ``angle`` (radians, anticlockwise) and translates them.

    Matches ``pygame.math.Vector2(c).rotate_rad(angle)`` followed by adding
    ``origin``, as gymnasium's renderers place their rectangles.

    Args:
      corners: ``(x, y)`` pairs in pixels, relative to the rotation centre (a
        sequence of pairs or a float ``[N, 2]`` array).
      angle: scalar rotation in radians.
      origin: ``(x, y)`` in pixels added after the rotation.

    Returns:
      float32 ``[len(corners), 2]``.
    """
    local = jnp.asarray(corners, jnp.float32)
    c, s = jnp.cos(angle), jnp.sin(angle)
    x = local[:, 0] * c - local[:, 1] * s + origin[0]
    y = local[:, 0] * s + local[:, 1] * c + origin[1]
    return jnp.stack([x, y], axis=1)


def render_video(frames: Any, path: str | os.PathLike, fps: float = 30.0) -> None:
    """Writes rendered frames to a GIF or MP4 file with imageio.

    Args:
      frames: uint8 ``[T, H, W, 3]`` (e.g. ``jax.vmap(env.render)(states)``
        over a stored rollout), or a sequence of ``[H, W, 3]`` images.
      path: output file; the format follows the suffix (``.gif``; ``.mp4``
        needs imageio's ffmpeg plugin, ``pip install imageio[ffmpeg]``).
      fps: frames per second.

    Raises:
      ImportError: if imageio is missing (``pip install 'jit-env[agents]'``).
      ValueError: if ``frames`` is not ``[T, H, W, 3]`` with ``T >= 1``, or
        ``fps <= 0``.
      TypeError: if ``frames`` is not ``uint8`` (no silent conversion).
    """
    array = np.asarray(
        jax.device_get(frames)
        if not isinstance(frames, (list, tuple))
        else np.stack([np.asarray(f) for f in frames])
    )
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] < 1:
        raise ValueError(f"render_video: `frames` must have shape [T, H, W, 3], got {array.shape}")
    if array.dtype != np.uint8:
        raise TypeError(f"render_video: `frames` must have dtype uint8, got {array.dtype}")
    if not fps > 0:
        raise ValueError(f"render_video: `fps` must be > 0, got {fps!r}")
    try:
        import imageio.v2 as imageio
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("render_video needs imageio: pip install 'jit-env[agents]'") from error
    path = os.fspath(path)
    if path.lower().endswith(".gif"):
        # GIF frame durations are in milliseconds in imageio's pillow plugin.
        imageio.mimwrite(path, list(array), duration=1000.0 / fps, loop=0)
    else:
        imageio.mimwrite(path, list(array), fps=fps)
