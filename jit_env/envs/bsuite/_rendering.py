"""Pixel renderers shared by the bsuite environments (jittable, vmappable).

Every renderer maps a small grid of cells to an RGB ``uint8`` image by
scaling each cell up to a ``pixels x pixels`` square, so images have a static
shape and ``jax.vmap(env.render)(states)`` renders a batch of stored states.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

CELL_PIXELS = 16
"""Side of one grid cell in the rendered image, in pixels."""

# Colours (RGB) used by the grid renderers.
BACKGROUND = (0, 0, 0)
AGENT = (66, 135, 245)  # the paddle / the diver
OBJECT = (245, 245, 245)  # the ball
GOAL = (250, 200, 40)  # DeepSea's treasure


def palette_image(cells: jax.Array, palette: np.ndarray, pixels: int = CELL_PIXELS) -> jax.Array:
    """Colours a grid of palette indices and scales it up.

    Args:
      cells: int32, shape ``[H, W]``: index into ``palette`` per cell.
      palette: uint8, shape ``[K, 3]``: RGB colours.
      pixels: side of one cell in pixels.

    Returns:
      uint8, shape ``[H * pixels, W * pixels, 3]``.
    """
    rgb = jnp.asarray(palette, dtype=jnp.uint8)[cells]
    return jnp.repeat(jnp.repeat(rgb, pixels, axis=0), pixels, axis=1)


def grey_image(
    values: jax.Array, low: float, high: float, pixels: int = CELL_PIXELS
) -> jax.Array:
    """Shows a grid of values as grey levels (``low`` black, ``high`` white).

    Used for the observation vectors of the chain and bandit environments.
    Values outside ``[low, high]`` are shown as black or white (rendering only;
    the environment's values are untouched).

    Args:
      values: floating, shape ``[H, W]``.
      low: value drawn black.
      high: value drawn white (``high > low``).
      pixels: side of one cell in pixels.

    Returns:
      uint8, shape ``[H * pixels, W * pixels, 3]``.
    """
    level = jnp.clip((values.astype(jnp.float32) - low) / (high - low), 0.0, 1.0)
    grey = jnp.round(level * 255.0).astype(jnp.uint8)
    rgb = jnp.broadcast_to(grey[..., None], (*grey.shape, 3))
    return jnp.repeat(jnp.repeat(rgb, pixels, axis=0), pixels, axis=1)
