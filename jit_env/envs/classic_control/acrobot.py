"""Acrobot (``Acrobot-v1``): swing the tip of a two-link pendulum above a line.

Matches gymnasium 1.x ``gymnasium.envs.classic_control.acrobot.AcrobotEnv``
(Sutton, "Generalization in reinforcement learning: successful examples
using sparse coarse coding", NIPS 1996; Sutton & Barto 1998 §11.3; the "book"
dynamics of RLPy): same constants, one classical Runge-Kutta (RK4) step of
``dt = 0.2`` s with the torque held constant, the joint angles wrapped to
``[-pi, pi]`` and the velocities clipped to ``±4 pi`` / ``±9 pi`` after the
step, reward -1 per step and 0 on the terminating step, termination when
``-cos(theta1) - cos(theta1 + theta2) > 1``, start state uniform in
``[-0.1, 0.1)`` for all four variables. The 500-step limit of ``Acrobot-v1``
is added by ``jit_env.make`` as a `jit_env.wrappers.TimeLimit`.
gymnasium's ``torque_noise_max`` (0 by default) is not supported, so ``step``
stays deterministic. The physics runs in ``float32`` (gymnasium: ``float64``).
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


class AcrobotParams(NamedTuple):
    """Physical parameters of `Acrobot` (gymnasium's defaults); kept in the state.

    Attributes:
      dt: integration time step, s.
      link_length_1: length of link 1, m.
      link_length_2: length of link 2, m (drawing only, as in gymnasium).
      link_mass_1: mass of link 1, kg.
      link_mass_2: mass of link 2, kg.
      link_com_pos_1: distance of link 1's centre of mass from its joint, m.
      link_com_pos_2: distance of link 2's centre of mass from its joint, m.
      link_moi: moment of inertia of either link, kg m^2.
      max_vel_1: bound of ``|theta1_dot|``, rad/s.
      max_vel_2: bound of ``|theta2_dot|``, rad/s.
      gravity: gravitational acceleration, m/s^2.
      reset_low: lower bound of the uniform start state (all four variables).
      reset_high: upper bound of the uniform start state.
    """

    dt: float = 0.2
    link_length_1: float = 1.0
    link_length_2: float = 1.0
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_pos_1: float = 0.5
    link_com_pos_2: float = 0.5
    link_moi: float = 1.0
    max_vel_1: float = 4 * math.pi
    max_vel_2: float = 9 * math.pi
    gravity: float = 9.8
    reset_low: float = -0.1
    reset_high: float = 0.1


class AcrobotState(NamedTuple):
    """State of `Acrobot`: the angles themselves, not only their sines and cosines.

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      theta1: angle of link 1 from hanging down, rad, float32 in [-pi, pi].
      theta2: angle of link 2 relative to link 1, rad, float32 in [-pi, pi].
      theta1_dot: angular velocity of link 1, rad/s, float32.
      theta2_dot: angular velocity of link 2, rad/s, float32.
      params: the `AcrobotParams` of this episode.
    """

    key: jax.Array
    theta1: jax.Array
    theta2: jax.Array
    theta1_dot: jax.Array
    theta2_dot: jax.Array
    params: AcrobotParams


def _dsdt(p: AcrobotParams, torque: jax.Array, s: jax.Array) -> jax.Array:
    """Time derivative of ``s = (theta1, theta2, dtheta1, dtheta2)`` (RLPy's "book" equations)."""
    m1, m2, l1 = p.link_mass_1, p.link_mass_2, p.link_length_1
    lc1, lc2, i1, i2, g = p.link_com_pos_1, p.link_com_pos_2, p.link_moi, p.link_moi, p.gravity
    theta1, theta2, dtheta1, dtheta2 = s[0], s[1], s[2], s[3]
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(theta2)) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * jnp.cos(theta2)) + i2
    phi2 = m2 * lc2 * g * jnp.cos(theta1 + theta2 - jnp.pi / 2.0)
    phi1 = (
        -m2 * l1 * lc2 * dtheta2**2 * jnp.sin(theta2)
        - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * jnp.sin(theta2)
        + (m1 * lc1 + m2 * l1) * g * jnp.cos(theta1 - jnp.pi / 2)
        + phi2
    )
    ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * jnp.sin(theta2) - phi2) / (
        m2 * lc2**2 + i2 - d2**2 / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return jnp.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])


def _wrap(x: jax.Array, low: float, high: float) -> jax.Array:
    """gymnasium's ``wrap``: shift by whole periods until ``low <= x <= high``.

    Written as a closed form of gymnasium's ``while`` loops (``high`` itself
    stays ``high``, as there).
    """
    period = high - low
    x = x - period * jnp.where(x > high, jnp.ceil((x - high) / period), 0.0)
    return x + period * jnp.where(x < low, jnp.ceil((low - x) / period), 0.0)


class Acrobot(ScalarRewardDiscount, _core.Environment):
    """gymnasium's Acrobot, pure and jittable (id ``Acrobot-v1``).

    Observation: float32 ``[6]`` = ``(cos theta1, sin theta1, cos theta2,
    sin theta2, theta1_dot, theta2_dot)``, bounds ``±(1, 1, 1, 1, 4 pi, 9 pi)``.
    Action: int32 scalar, torque ``action - 1`` N m on the joint between the
    links (``0``: -1, ``1``: 0, ``2``: +1; gymnasium's ``AVAIL_TORQUE``).
    Another value applies ``action - 1`` N m as well (e.g. 5: +4 N m), never
    clipped (gymnasium asserts; a jitted step cannot raise: wrap in
    `jit_env.wrappers.ValidateAction`, or use the ``compat`` adapters).
    Reward: float32 -1 per step, 0 on the terminating step. Discount: 0 on
    termination, else 1.

    ``step`` is deterministic and never touches ``state.key``. ``render``
    gives gymnasium's picture (two links, joints, target line) as RGB uint8
    ``[500, 500, 3]``.

    Args:
      renderer: optional replacement for the built-in renderer.

    Reference: gymnasium 1.x ``AcrobotEnv`` (``book_or_nips = "book"``).
    """

    SCREEN_DIM = 500

    def __init__(self, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.default_params = AcrobotParams()

    def reset(
        self, key: jax.Array, *, options: AcrobotParams | None = None
    ) -> tuple[AcrobotState, _core.TimeStep]:
        """Draws all four state variables uniformly in ``[reset_low, reset_high)``.

        ``options``: a `AcrobotParams` of real scalars, or ``None`` for gymnasium's
        values (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, self.default_params, "Acrobot")
        key, init_key = jax.random.split(key)
        s = _episode.uniform(init_key, (4,), params.reset_low, params.reset_high)
        state = AcrobotState(key, s[0], s[1], s[2], s[3], params)
        return state, _core.restart(self._observation(state))

    def step(self, state: AcrobotState, action: Any) -> tuple[AcrobotState, _core.TimeStep]:
        """Integrates the dynamics over ``dt`` with one RK4 step.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1, 2}``.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "Acrobot")
        p = state.params
        torque = action.astype(jnp.float32) - 1.0
        s = jnp.stack([state.theta1, state.theta2, state.theta1_dot, state.theta2_dot])
        dt, dt2 = p.dt, p.dt / 2.0
        k1 = _dsdt(p, torque, s)
        k2 = _dsdt(p, torque, s + dt2 * k1)
        k3 = _dsdt(p, torque, s + dt2 * k2)
        k4 = _dsdt(p, torque, s + dt * k3)
        ns = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        state = state._replace(
            theta1=_wrap(ns[0], -jnp.pi, jnp.pi),
            theta2=_wrap(ns[1], -jnp.pi, jnp.pi),
            theta1_dot=jnp.clip(ns[2], -p.max_vel_1, p.max_vel_1),
            theta2_dot=jnp.clip(ns[3], -p.max_vel_2, p.max_vel_2),
        )
        terminated = -jnp.cos(state.theta1) - jnp.cos(state.theta2 + state.theta1) > 1.0
        reward = jnp.where(terminated, 0.0, -1.0)
        return state, _steps.end_or_continue(terminated, reward, self._observation(state))

    def _observation(self, state: AcrobotState) -> jax.Array:
        return jnp.stack(
            [
                jnp.cos(state.theta1),
                jnp.sin(state.theta1),
                jnp.cos(state.theta2),
                jnp.sin(state.theta2),
                state.theta1_dot,
                state.theta2_dot,
            ]
        )

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[6]`` with bounds ``±(1, 1, 1, 1, 4 pi, 9 pi)``."""
        p = self.default_params
        high = np.array([1.0, 1.0, 1.0, 1.0, p.max_vel_1, p.max_vel_2], np.float32)
        return specs.BoundedArray((6,), jnp.float32, -high, high, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 3 values: torque -1, 0, +1."""
        return specs.DiscreteArray(3, dtype=jnp.int32, name="action")


    def _draw(self, state: AcrobotState) -> jax.Array:
        """gymnasium's Acrobot picture, uint8 ``[500, 500, 3]``."""
        dim = self.SCREEN_DIM
        p = self.default_params
        bound = p.link_length_1 + p.link_length_2 + 0.2
        scale = dim / (bound * 2)
        offset = dim / 2
        image = _rendering.canvas(dim, dim)
        line = _rendering.segment_mask(
            image,
            (-2.2 * scale + offset, 1 * scale + offset),
            (2.2 * scale + offset, 1 * scale + offset),
        )
        image = _rendering.paint(image, line, _rendering.BLACK)
        # gymnasium swaps the coordinates of the joint: (x, y) = (sin, -cos) * l1.
        p1 = (
            p.link_length_1 * jnp.sin(state.theta1) * scale,
            -p.link_length_1 * jnp.cos(state.theta1) * scale,
        )
        joints: tuple[tuple[Any, Any], ...] = ((0.0, 0.0), p1)
        angles = (state.theta1 - jnp.pi / 2, state.theta1 + state.theta2 - jnp.pi / 2)
        lengths = (p.link_length_1 * scale, p.link_length_2 * scale)
        for (x, y), angle, length in zip(joints, angles, lengths):
            x, y = x + offset, y + offset
            corners = [
                (0.0, -0.1 * scale),
                (0.0, 0.1 * scale),
                (length, 0.1 * scale),
                (length, -0.1 * scale),
            ]
            link = _rendering.rotated_rectangle(corners, angle, (x, y))
            image = _rendering.paint(image, _rendering.polygon_mask(image, link), (0, 204, 204))
            joint = _rendering.disc_mask(image, jnp.floor(x), jnp.floor(y), float(int(0.1 * scale)))
            image = _rendering.paint(image, joint, (204, 204, 0))
        return image
