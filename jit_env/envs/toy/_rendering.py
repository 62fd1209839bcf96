"""Cell-grid images for the toy environments (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

CELL_PIXELS = 16
PALETTE = np.array(
    [(0, 0, 0), (120, 120, 120), (250, 200, 40), (66, 135, 245)], np.uint8
)  # free, wall / marker, goal / target, agent / choice


def cells_image(cells: jax.Array) -> jax.Array:
    """uint8 ``[rows * 16, columns * 16, 3]``: each int cell of ``cells`` coloured by `PALETTE`."""
    image = jnp.asarray(PALETTE)[cells]
    return jnp.repeat(jnp.repeat(image, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)
