"""Pendulum (``Pendulum-v1``): swing a frictionless pendulum up and keep it upright.

Matches gymnasium 1.x ``gymnasium.envs.classic_control.pendulum.PendulumEnv``:
same constants, semi-implicit Euler step with ``dt = 0.05`` s, angular
velocity clipped to ``±max_speed``, the torque clipped to ``±max_torque``
*inside* the step (gymnasium's dynamics: an out-of-range action acts as the
nearest bound, also in the cost), reward ``-(angle_normalize(theta)^2 +
0.1 theta_dot^2 + 0.001 u^2)`` computed from the state *before* the step,
never terminates, start state ``theta ~ U[-pi, pi)``, ``theta_dot ~ U[-1, 1)``.
The 200-step limit of ``Pendulum-v1`` is added by ``jit_env.make`` as a
`jit_env.wrappers.TimeLimit`. The physics runs in ``float32`` (gymnasium:
``float64``, cast to ``float32`` in the observation).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.envs import _rendering, _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.classic_control import _episode


class PendulumParams(NamedTuple):
    """Physical parameters of `Pendulum` (gymnasium's defaults); kept in the state.

    Attributes:
      max_speed: bound of the angular velocity, rad/s.
      max_torque: bound of the applied torque, N m (the action is clipped to
        it inside the step, as in gymnasium).
      dt: integration time step, s.
      g: gravitational acceleration, m/s^2 (gymnasium's ``g`` argument).
      m: mass, kg.
      l: length, m.
      init_theta: the start angle is uniform in ``[-init_theta, init_theta)``,
        rad (gymnasium's ``reset(options={"x_init": ...})``).
      init_theta_dot: the start angular velocity is uniform in
        ``[-init_theta_dot, init_theta_dot)``, rad/s (``"y_init"``).
    """

    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    l: float = 1.0  # noqa: E741  (gymnasium's name)
    init_theta: float = math.pi
    init_theta_dot: float = 1.0


class PendulumState(NamedTuple):
    """State of `Pendulum`.

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      theta: angle from upright, rad, float32 (not wrapped, as in gymnasium).
      theta_dot: angular velocity, rad/s, float32.
      last_u: the clipped torque of the last step, N m, float32 (0 after
        reset; used by ``render`` only, as gymnasium's ``last_u``).
      params: the `PendulumParams` of this episode.
    """

    key: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    last_u: jax.Array
    params: PendulumParams


def angle_normalize(x: jax.Array) -> jax.Array:
    """Wraps an angle to ``[-pi, pi)`` (gymnasium's ``angle_normalize``)."""
    return jnp.mod(x + jnp.pi, 2 * jnp.pi) - jnp.pi


class Pendulum(ScalarRewardDiscount, _core.Environment):
    """gymnasium's inverted pendulum swing-up, pure and jittable (id ``Pendulum-v1``).

    Observation: float32 ``[3]`` = ``(cos theta, sin theta, theta_dot)``,
    bounds ``±(1, 1, 8)``.
    Action: float32 ``[1]``, torque in N m, spec bounds ``[-2, 2]``; values
    outside are clipped inside the step, as gymnasium does.
    Reward: float32 scalar in ``[-16.27, 0]``. Never terminates (discount 1);
    only the `TimeLimit` added by ``jit_env.make`` ends an episode.

    ``step`` is deterministic and never touches ``state.key``. ``render``
    draws gymnasium's picture (red rod, axle; the torque arrow image is left
    out) as RGB uint8 ``[500, 500, 3]``.

    Args:
      g: default gravitational acceleration (gymnasium's ``g`` argument),
        m/s^2; `PendulumParams` passed to ``reset`` override it.
      renderer: optional replacement for the built-in renderer.

    Reference: gymnasium 1.x ``PendulumEnv``.
    """

    SCREEN_DIM = 500

    def __init__(self, g: float = 10.0, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.default_params = PendulumParams(g=g)

    def __repr__(self) -> str:
        return f"Pendulum(g={self.default_params.g})"

    def reset(
        self, key: jax.Array, *, options: PendulumParams | None = None
    ) -> tuple[PendulumState, _core.TimeStep]:
        """Draws ``theta ~ U[-init_theta, init_theta)``, ``theta_dot ~ U[-init_theta_dot, ...)``.

        ``options``: a `PendulumParams` of real scalars, or ``None`` for the
        constructor's defaults (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, self.default_params, "Pendulum")
        key, init_key = jax.random.split(key)
        high = jnp.stack([params.init_theta, params.init_theta_dot])
        theta, theta_dot = _episode.uniform(init_key, (2,), -high, high)
        state = PendulumState(key, theta, theta_dot, jnp.zeros((), jnp.float32), params)
        return state, _core.restart(self._observation(state))

    def step(self, state: PendulumState, action: Any) -> tuple[PendulumState, _core.TimeStep]:
        """Applies the (clipped) torque for ``dt`` seconds.

        Args:
          state: the state from `reset` or `step`.
          action: float32 ``[1]``, torque in N m.

        Returns:
          ``(state, timestep)``, always ``MID`` (the time limit truncates).

        Raises:
          TypeError / ValueError: if ``action`` is not a floating array of
            shape ``(1,)``.
        """
        u = _episode.continuous_action(action, "Pendulum")
        p = state.params
        u = jnp.clip(u, -p.max_torque, p.max_torque)
        th, thdot = state.theta, state.theta_dot
        costs = jnp.square(angle_normalize(th)) + 0.1 * jnp.square(thdot) + 0.001 * jnp.square(u)
        newthdot = thdot + (3 * p.g / (2 * p.l) * jnp.sin(th) + 3.0 / (p.m * p.l**2) * u) * p.dt
        newthdot = jnp.clip(newthdot, -p.max_speed, p.max_speed)
        newth = th + newthdot * p.dt
        state = state._replace(theta=newth, theta_dot=newthdot, last_u=u)
        return state, _steps.end_or_continue(
            jnp.zeros((), jnp.bool_), -costs, self._observation(state)
        )

    def _observation(self, state: PendulumState) -> jax.Array:
        return jnp.stack([jnp.cos(state.theta), jnp.sin(state.theta), state.theta_dot])

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[3]`` with bounds ``±(1, 1, max_speed)`` (default params)."""
        high = np.array([1.0, 1.0, self.default_params.max_speed], np.float32)
        return specs.BoundedArray((3,), jnp.float32, -high, high, name="observation")

    def action_spec(self) -> specs.BoundedArray:
        """float32 ``[1]`` torque in ``[-max_torque, max_torque]`` (default params)."""
        bound = self.default_params.max_torque
        return specs.BoundedArray((1,), jnp.float32, -bound, bound, name="action")


    def _draw(self, state: PendulumState) -> jax.Array:
        """gymnasium's Pendulum picture (without the torque arrow), uint8 ``[500, 500, 3]``."""
        dim = self.SCREEN_DIM
        scale = dim / (2.2 * 2)
        offset = dim // 2
        rod_length = 1 * scale
        rod_width = 0.2 * scale
        red = (204, 77, 77)
        angle = state.theta + jnp.pi / 2
        image = _rendering.canvas(dim, dim)
        corners = [
            (0.0, -rod_width / 2),
            (0.0, rod_width / 2),
            (rod_length, rod_width / 2),
            (rod_length, -rod_width / 2),
        ]
        rod = _rendering.rotated_rectangle(corners, angle, (offset, offset))
        image = _rendering.paint(image, _rendering.polygon_mask(image, rod), red)
        image = _rendering.paint(
            image, _rendering.disc_mask(image, offset, offset, rod_width / 2), red
        )
        end_x = rod_length * jnp.cos(angle) + offset
        end_y = rod_length * jnp.sin(angle) + offset
        image = _rendering.paint(
            image, _rendering.disc_mask(image, end_x, end_y, rod_width / 2), red
        )
        # Torque indicator instead of gymnasium's arrow image: a bar of length
        # proportional to |last_u| to the side the torque turns towards.
        bar_end = offset - state.last_u / self.default_params.max_torque * scale * 0.5
        bar = _rendering.segment_mask(image, (offset, 0.3 * scale), (bar_end, 0.3 * scale), 6.0)
        image = _rendering.paint(image, bar, (120, 120, 120))
        axle = _rendering.disc_mask(image, offset, offset, 0.05 * scale)
        return _rendering.paint(image, axle, _rendering.BLACK)
