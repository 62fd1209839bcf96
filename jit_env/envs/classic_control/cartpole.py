"""CartPole (``CartPole-v0``, ``CartPole-v1``) and its partially observed variants.

The partially observed variants keep the dynamics and drop part of the
observation: `IncompleteCartPole` (``IncompleteCartPole-v0`` / ``-v1``, rlx's
``rlx/env.py``: the angular velocity dropped) and `CartPoleNoVelocity`
(``CartPole-NoVelocity-v1``, both velocities dropped; ``CartPole-POMDP-v1`` is
its deprecated id).

Matches gymnasium 1.x ``gymnasium.envs.classic_control.cartpole.CartPoleEnv``
(Barto, Sutton & Anderson, "Neuronlike adaptive elements that can solve
difficult learning control problems", IEEE SMC 1983; the equations of motion
with Florian's 2007 correction as coded in Sutton's ``pole.c``): same
constants, explicit Euler integration with ``tau = 0.02`` s, observation,
reward (+1 on every step *including* the terminating one; ``0`` / ``-1`` with
``sutton_barto_reward=True``), termination (``|x| > 2.4`` or
``|theta| > 12 deg``) and start distribution (every state variable uniform in
``[-0.05, 0.05)``). The episode limits, 500 steps for ``CartPole-v1`` and 200
for ``CartPole-v0`` (gymnasium's ``gymnasium/envs/__init__.py`` registrations,
whose reward thresholds are 475 and 195), are added by ``jit_env.make`` as a
`jit_env.wrappers.TimeLimit` (truncation), as gymnasium does. The physics runs
in ``float32`` (gymnasium: ``float64``, cast to ``float32`` in the observation).
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


class CartPoleParams(NamedTuple):
    """Physical parameters of `CartPole` (gymnasium's defaults); kept in the state.

    ``jax.vmap`` ``reset`` over a batch of these for domain randomisation.

    Attributes:
      gravity: gravitational acceleration, m/s^2.
      masscart: mass of the cart, kg.
      masspole: mass of the pole, kg.
      length: HALF the pole's length, m (gymnasium's ``length``).
      force_mag: magnitude of the force pushing the cart, N.
      tau: integration time step, s.
      theta_threshold_radians: the episode terminates when ``|theta|``
        exceeds this, rad (12 degrees).
      x_threshold: the episode terminates when ``|x|`` exceeds this, m.
      reset_low: lower bound of the uniform start state (all four variables;
        gymnasium's ``reset(options={"low": ...})``).
      reset_high: upper bound of the uniform start state.
    """

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5
    force_mag: float = 10.0
    tau: float = 0.02
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4
    reset_low: float = -0.05
    reset_high: float = 0.05


class CartPoleState(NamedTuple):
    """State of `CartPole`; every physical variable is a ``float32`` scalar.

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      x: cart position, m.
      x_dot: cart velocity, m/s.
      theta: pole angle from upright, rad (positive: clockwise, to the right).
      theta_dot: pole angular velocity, rad/s.
      params: the `CartPoleParams` of this episode (``float32`` scalars).
    """

    key: jax.Array
    x: jax.Array
    x_dot: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    params: CartPoleParams


class CartPole(ScalarRewardDiscount, _core.Environment):
    """gymnasium's CartPole, pure and jittable (ids ``CartPole-v1`` and ``CartPole-v0``).

    Observation: float32 ``[4]`` = ``(x, x_dot, theta, theta_dot)``, bounds
    ``±(4.8, inf, 0.418879, inf)`` (gymnasium's ``Box``).
    Action: int32 scalar, ``0`` pushes the cart left, ``1`` right. As in
    gymnasium (``force_mag if action == 1 else -force_mag``) every value other
    than 1 pushes left, as action 0 does (gymnasium asserts the action is in
    ``{0, 1}``, ``gymnasium/envs/classic_control/cartpole.py``; a jitted step
    cannot raise: wrap in `jit_env.wrappers.ValidateAction`, or use the
    ``compat`` adapters, which raise).
    Reward: float32 scalar, 1 on every step including the terminating one
    (``sutton_barto_reward=True``: 0, and -1 on the terminating step).
    Discount: 0 on termination, else 1.

    ``step`` is deterministic and never touches ``state.key``; ``reset``
    splits it once. Stepping after a ``LAST`` step without a reset is
    undefined (gymnasium warns and returns reward 0).

    ``render(state)`` draws gymnasium's picture (cart, pole, axle, track) as
    an RGB uint8 ``[400, 600, 3]`` image with ``jax.numpy``; it is jittable
    and vmappable over stored states.

    Args:
      sutton_barto_reward: gymnasium's option of the same name (default
        False).
      kinematics_integrator: ``"euler"`` (gymnasium's default) or
        ``"semi-implicit euler"`` (gymnasium's other branch).
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: for an unknown ``kinematics_integrator``.

    Reference: gymnasium 1.x ``CartPoleEnv``.
    """

    SCREEN_HEIGHT = 400
    SCREEN_WIDTH = 600

    def __init__(
        self,
        sutton_barto_reward: bool = False,
        kinematics_integrator: str = "euler",
        *,
        renderer: Any = None,
    ):
        if kinematics_integrator not in ("euler", "semi-implicit euler"):
            raise ValueError(
                "CartPole: `kinematics_integrator` must be 'euler' or 'semi-implicit euler', "
                f"got {kinematics_integrator!r}"
            )
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.sutton_barto_reward = bool(sutton_barto_reward)
        self.kinematics_integrator = kinematics_integrator
        self.default_params = CartPoleParams()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sutton_barto_reward={self.sutton_barto_reward}, "
            f"kinematics_integrator={self.kinematics_integrator!r})"
        )

    def reset(
        self, key: jax.Array, *, options: CartPoleParams | None = None
    ) -> tuple[CartPoleState, _core.TimeStep]:
        """Draws ``(x, x_dot, theta, theta_dot)`` uniformly in ``[reset_low, reset_high)``.

        ``options``: a `CartPoleParams` of real scalars, or ``None`` for gymnasium's
        values (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, self.default_params, type(self).__name__)
        key, init_key = jax.random.split(key)
        x, x_dot, theta, theta_dot = _episode.uniform(
            init_key, (4,), params.reset_low, params.reset_high
        )
        state = CartPoleState(key, x, x_dot, theta, theta_dot, params)
        return state, _core.restart(self._observation(state))

    def step(self, state: CartPoleState, action: Any) -> tuple[CartPoleState, _core.TimeStep]:
        """Applies the force for one time step ``tau`` (explicit Euler).

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar, 0 (left) or 1 (right).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 when the cart or the
          pole leaves its bounds.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, type(self).__name__)
        p = state.params
        force = jnp.where(action == 1, p.force_mag, -p.force_mag)
        costheta, sintheta = jnp.cos(state.theta), jnp.sin(state.theta)
        total_mass = p.masspole + p.masscart
        polemass_length = p.masspole * p.length
        temp = (force + polemass_length * jnp.square(state.theta_dot) * sintheta) / total_mass
        thetaacc = (p.gravity * sintheta - costheta * temp) / (
            p.length * (4.0 / 3.0 - p.masspole * jnp.square(costheta) / total_mass)
        )
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        if self.kinematics_integrator == "euler":
            x = state.x + p.tau * state.x_dot
            x_dot = state.x_dot + p.tau * xacc
            theta = state.theta + p.tau * state.theta_dot
            theta_dot = state.theta_dot + p.tau * thetaacc
        else:
            x_dot = state.x_dot + p.tau * xacc
            x = state.x + p.tau * x_dot
            theta_dot = state.theta_dot + p.tau * thetaacc
            theta = state.theta + p.tau * theta_dot
        state = state._replace(x=x, x_dot=x_dot, theta=theta, theta_dot=theta_dot)
        terminated = (
            (x < -p.x_threshold)
            | (x > p.x_threshold)
            | (theta < -p.theta_threshold_radians)
            | (theta > p.theta_threshold_radians)
        )
        if self.sutton_barto_reward:
            reward = jnp.where(terminated, -1.0, 0.0)
        else:
            reward = jnp.ones((), jnp.float32)
        return state, _steps.end_or_continue(terminated, reward, self._observation(state))

    def _observation(self, state: CartPoleState) -> jax.Array:
        return jnp.stack([state.x, state.x_dot, state.theta, state.theta_dot])

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[4]`` with gymnasium's bounds ``±(4.8, inf, 24 deg, inf)``.

        The bounds are twice the default termination thresholds, as in
        gymnasium; they do not follow randomised ``params``.
        """
        p = self.default_params
        high = np.array(
            [p.x_threshold * 2, np.inf, p.theta_threshold_radians * 2, np.inf], np.float32
        )
        return specs.BoundedArray((4,), jnp.float32, -high, high, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 2 values: 0 push left, 1 push right."""
        return specs.DiscreteArray(2, dtype=jnp.int32, name="action")


    def _draw(self, state: CartPoleState) -> jax.Array:
        """gymnasium's CartPole picture, uint8 ``[400, 600, 3]``."""
        p = state.params
        width, height = self.SCREEN_WIDTH, self.SCREEN_HEIGHT
        scale = width / (self.default_params.x_threshold * 2)  # pixels per metre
        polewidth, cartwidth, cartheight = 10.0, 50.0, 30.0
        polelen = scale * (2 * p.length)
        cartx = state.x * scale + width / 2.0
        carty = 100.0  # top of the track
        axle_y = carty + cartheight / 4.0
        image = _rendering.canvas(height, width)
        cart = jnp.stack(
            [
                jnp.stack([cartx - cartwidth / 2, jnp.float32(carty - cartheight / 2)]),
                jnp.stack([cartx - cartwidth / 2, jnp.float32(carty + cartheight / 2)]),
                jnp.stack([cartx + cartwidth / 2, jnp.float32(carty + cartheight / 2)]),
                jnp.stack([cartx + cartwidth / 2, jnp.float32(carty - cartheight / 2)]),
            ]
        )
        image = _rendering.paint(image, _rendering.polygon_mask(image, cart), _rendering.BLACK)
        half = polewidth / 2
        pole_local = jnp.stack(
            [
                jnp.stack([jnp.float32(-half), jnp.float32(-half)]),
                jnp.stack([jnp.float32(-half), polelen - half]),
                jnp.stack([jnp.float32(half), polelen - half]),
                jnp.stack([jnp.float32(half), jnp.float32(-half)]),
            ]
        )
        pole = _rendering.rotated_rectangle(pole_local, -state.theta, (cartx, axle_y))
        image = _rendering.paint(image, _rendering.polygon_mask(image, pole), (202, 152, 101))
        axle = _rendering.disc_mask(image, cartx, axle_y, half)
        image = _rendering.paint(image, axle, (129, 132, 203))
        track = _rendering.segment_mask(image, (0.0, carty + 0.5), (width, carty + 0.5))
        return _rendering.paint(image, track, _rendering.BLACK)


class IncompleteCartPole(CartPole):
    """CartPole without the pole's angular velocity: rlx's ``IncompleteCartPole-v0/v1``.

    rlx (``dasayan05/rlx``, ``rlx/env.py``, classes ``IncompleteCartPolev0`` /
    ``IncompleteCartPolev1``) wraps gym's ``CartPole-v0`` / ``CartPole-v1`` and
    returns ``obs[:-1]`` from ``reset`` and ``step``, with the observation space
    ``Box(low[:-1], high[:-1])`` of gym's space. So the observation here is
    float32 ``[3]`` = ``(x, x_dot, theta)`` with bounds ``±(4.8, inf, 24 deg)``;
    dynamics, reward, termination and start distribution are `CartPole`'s
    (only ``theta_dot`` is hidden: a memoryless policy sees the cart's
    velocity but not the pole's). ``IncompleteCartPole-v0`` has gymnasium's
    ``CartPole-v0`` limit of 200 steps, ``IncompleteCartPole-v1`` the 500 of
    ``CartPole-v1`` (applied by `jit_env.make`).
    """

    def _observation(self, state: CartPoleState) -> jax.Array:
        return jnp.stack([state.x, state.x_dot, state.theta])

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[3]`` = ``(x, x_dot, theta)``: gymnasium's bounds without the last entry."""
        full = super().observation_spec()
        return specs.BoundedArray((3,), jnp.float32, full.minimum[:-1], full.maximum[:-1],
                                  name="observation")


class CartPoleNoVelocity(CartPole):
    """CartPole with both velocities removed from the observation (``CartPole-NoVelocity-v1``).

    Identical dynamics, reward, termination and start distribution to
    `CartPole`; the observation is float32 ``[2]`` = ``(x, theta)`` with
    bounds ``±(4.8, 24 deg)``, so a memoryless policy cannot infer either
    velocity. This is not rlx's "incomplete" CartPole, which hides only the
    angular velocity (`IncompleteCartPole`). Also registered under its former
    id ``CartPole-POMDP-v1`` (deprecated: the name does not say what is hidden),
    and importable as its former class name ``CartPolePOMDP``.
    """

    def _observation(self, state: CartPoleState) -> jax.Array:
        return jnp.stack([state.x, state.theta])

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[2]`` = ``(x, theta)`` with bounds ``±(4.8, 24 deg)``."""
        p = self.default_params
        high = np.array([p.x_threshold * 2, p.theta_threshold_radians * 2], np.float32)
        return specs.BoundedArray((2,), jnp.float32, -high, high, name="observation")


CartPolePOMDP = CartPoleNoVelocity
"""Deprecated name of `CartPoleNoVelocity` (the same class)."""
