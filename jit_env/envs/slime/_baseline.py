"""The 2015 baseline policy of Slime Volleyball, as a pure function (private).

A 120-parameter recurrent network: 8 game inputs (the agent's own position
and velocity and the ball's; not the opponent's) and its own 7 previous
outputs go through one ``tanh`` layer to 7 outputs; the first three above
0.75 press forward / backward / jump, the other four are fed back. The
weights are copied from ``slimevolleygym/slimevolley.py`` 0.1.0,
``BaselinePolicy.__init__`` (David Ha, Apache-2.0), trained in 2015 by
neuroevolution for https://otoro.net/slimevolley (see
https://blog.otoro.net/2015/03/28/neural-slime-volleyball/).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# BaselinePolicy.weight (7 x 15, row-major) and BaselinePolicy.bias, slimevolleygym 0.1.0.
_WEIGHT = (
    7.5719, 4.4285, 2.2716, -0.3598, -7.8189, -2.5422, -3.2034, 0.3935, 1.2202, -0.49, -0.0316,
    0.5221, 0.7026, 0.4179, -2.1689, 1.646, -13.3639, 1.5151, 1.1175, -5.3561, 5.0442, 0.8451,
    0.3987, -2.9501, -3.7811, -5.8994, 6.4167, 2.5014, 7.338, -2.9887, 2.4586, 13.4191, 2.7395,
    -3.9708, 1.6548, -2.7554, -1.5345, -6.4708, 9.2426, -0.7392, 0.4452, 1.8828, -2.6277,
    -10.851, -3.2353, -4.4653, -3.1153, -1.3707, 7.318, 16.0902, 1.4686, 7.0391, 1.7765,
    -1.155, 2.6697, -8.8877, 1.1958, -3.2839, -5.4425, 1.6809, 7.6812, -2.4732, 1.738, 0.3781,
    0.8718, 2.5886, 1.6911, 1.2953, -9.0052, -4.6038, -6.7447, -2.5528, 0.4391, -4.9278,
    -3.6695, -4.8673, -1.6035, 1.5011, -5.6124, 4.9747, 1.8998, 3.0359, 6.2983, -4.8568,
    -2.1888, -4.1143, -3.9874, -0.0459, 4.7134, 2.8952, -9.3627, -4.685, 0.3601, -1.3699,
    9.7294, 11.5596, 0.1918, 3.0783, 0.0329, -0.1362, -0.1188, -0.7579, 0.3278, -0.977,
    -0.9377,
)  # fmt: skip
_BIAS = (2.2935, -2.0353, -1.7786, 5.4567, -3.6368, 3.4996, -0.0685)
NUM_OUTPUTS = 7
THRESHOLD = 0.75


def baseline_weights() -> tuple[np.ndarray, np.ndarray]:
    """The baseline's weight ``float32 [7, 15]`` and bias ``float32 [7]`` (NumPy)."""
    weight = np.asarray(_WEIGHT, np.float32).reshape(NUM_OUTPUTS, 15)
    return weight, np.asarray(_BIAS, np.float32)


def baseline_initial_carry() -> jax.Array:
    """The baseline's recurrent state at the start of an episode: ``float32 [7]`` zeros
    (``BaselinePolicy.reset``)."""
    return jnp.zeros((NUM_OUTPUTS,), jnp.float32)


def baseline_forward(carry: jax.Array, observation: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One step of the baseline: ``BaselinePolicy.predict`` without its Python state.

    Args:
      carry: ``float32 [7]``, the previous outputs (`baseline_initial_carry`
        at the start of an episode).
      observation: ``float32 [12]``, the agent's own observation (slimevolleygym's
        ``getObservation``: positions and velocities divided by 10).

    Returns:
      ``(buttons, outputs)``: ``int32 [3]`` forward / backward / jump (1 where
      the output exceeds 0.75) and the new ``float32 [7]`` outputs (the next
      carry). Batch with ``jax.vmap``.

    Raises:
      ValueError: if ``observation`` is not ``[12]`` or ``carry`` not ``[7]``.
    """
    if jnp.shape(observation) != (12,):
        raise ValueError(
            f"baseline_forward: `observation` must have shape (12,), got {jnp.shape(observation)}"
        )
    if jnp.shape(carry) != (NUM_OUTPUTS,):
        raise ValueError(
            f"baseline_forward: `carry` must have shape (7,), got {jnp.shape(carry)}"
        )
    weight, bias = baseline_weights()
    inputs = jnp.concatenate([jnp.asarray(observation, jnp.float32)[:8], carry])
    outputs = jnp.tanh(
        jnp.dot(jnp.asarray(weight), inputs, precision=jax.lax.Precision.HIGHEST)
        + jnp.asarray(bias)
    )
    return (outputs[:3] > THRESHOLD).astype(jnp.int32), outputs
