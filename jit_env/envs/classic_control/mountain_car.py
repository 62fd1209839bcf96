"""Mountain car with discrete actions (``MountainCar-v0``).

Matches gymnasium 1.x ``gymnasium.envs.classic_control.mountain_car.MountainCarEnv``
(Moore, "Efficient memory-based learning for robot control", 1990; Sutton &
Barto 2018, Example 10.1): same constants and update (velocity first, clipped
to ``±0.07``; then position, clipped to ``[-1.2, 0.6]`` with the velocity zeroed
at the left wall), reward -1 per step, termination when
``position >= 0.5`` and ``velocity >= goal_velocity``, start position uniform
in ``[-0.6, -0.4)`` with zero velocity. The 200-step limit of
``MountainCar-v0`` is added by ``jit_env.make`` as a
`jit_env.wrappers.TimeLimit`. The physics runs in ``float32`` (gymnasium:
``float64``, cast to ``float32`` in the observation).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.envs import _rendering, _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.classic_control import _episode


class MountainCarParams(NamedTuple):
    """Parameters of `MountainCar` (gymnasium's defaults); kept in the state.

    Positions are in gymnasium's unitless track coordinate; velocities are
    per step.

    Attributes:
      min_position: left wall.
      max_position: right wall.
      max_speed: bound of ``|velocity|`` per step.
      goal_position: the episode terminates at ``position >= goal_position``...
      goal_velocity: ...with ``velocity >= goal_velocity`` (gymnasium's
        ``goal_velocity`` argument).
      force: velocity change per step of actions 0 / 2 (``(action - 1) * force``).
      gravity: the hill adds ``-gravity * cos(3 position)`` per step.
      reset_low: start position lower bound (gymnasium's ``options["low"]``).
      reset_high: start position upper bound (``options["high"]``).
    """

    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.5
    goal_velocity: float = 0.0
    force: float = 0.001
    gravity: float = 0.0025
    reset_low: float = -0.6
    reset_high: float = -0.4


class MountainCarState(NamedTuple):
    """State of `MountainCar` (and of `MountainCarContinuous`, with its own params).

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      position: float32 scalar, the car's position on the track.
      velocity: float32 scalar, its velocity per step.
      params: the parameters of this episode.
    """

    key: jax.Array
    position: jax.Array
    velocity: jax.Array
    params: Any


def reset_state(key: jax.Array, params: Any) -> MountainCarState:
    """Start state shared by both mountain cars: position uniform, velocity 0."""
    key, init_key = jax.random.split(key)
    position = _episode.uniform(init_key, (), params.reset_low, params.reset_high)
    return MountainCarState(key, position, jnp.zeros((), jnp.float32), params)


def observation(state: MountainCarState) -> jax.Array:
    """float32 ``[2]`` = ``(position, velocity)``."""
    return jnp.stack([state.position, state.velocity])


def position_bounds(params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Observation bounds ``([min_position, -max_speed], [max_position, max_speed])``."""
    low = np.array([params.min_position, -params.max_speed], np.float32)
    high = np.array([params.max_position, params.max_speed], np.float32)
    return low, high


def _height(xs: Any) -> Any:
    return jnp.sin(3 * xs) * 0.45 + 0.55


def draw(position: jax.Array, params: Any, width: int = 600, height: int = 400) -> jax.Array:
    """gymnasium's mountain-car picture (track, car, wheels, flag), uint8 ``[400, 600, 3]``.

    Args:
      position: float32 scalar, the car's position.
      params: `MountainCarParams` or `MountainCarContinuousParams` (uses the
        track bounds and goal position).
      width: image width in pixels.
      height: image height in pixels.
    """
    min_position, max_position = params.min_position, params.max_position
    scale = width / (max_position - min_position)
    carwidth, carheight, clearance = 40.0, 20.0, 10.0
    image = _rendering.canvas(height, width)
    # The track: a 1.5-pixel band around the curve, thickened where it is steep.
    x = (jnp.arange(width, dtype=jnp.float32) + 0.5).reshape(1, width)
    y = (height - 0.5 - jnp.arange(height, dtype=jnp.float32)).reshape(height, 1)
    xs = x / scale + min_position
    curve = _height(xs) * scale
    slope = jnp.cos(3 * xs) * 0.45 * 3
    track = jnp.abs(y - curve) <= 0.75 * jnp.sqrt(1 + jnp.square(slope))
    image = _rendering.paint(image, track, _rendering.BLACK)
    # Flag pole and pennant at the goal.
    flagx = jnp.floor((params.goal_position - min_position) * scale)
    flagy1 = jnp.floor(_height(params.goal_position) * scale)
    flagy2 = flagy1 + 50
    pole = _rendering.segment_mask(image, (flagx + 0.5, flagy1), (flagx + 0.5, flagy2))
    image = _rendering.paint(image, pole, _rendering.BLACK)
    pennant = jnp.stack(
        [
            jnp.stack([flagx, flagy2]),
            jnp.stack([flagx, flagy2 - 10]),
            jnp.stack([flagx + 25, flagy2 - 5]),
        ]
    )
    image = _rendering.paint(image, _rendering.polygon_mask(image, pennant), (204, 204, 0))
    # The car, rotated by cos(3 position) as gymnasium does, and its wheels.
    angle = jnp.cos(3 * position)
    origin = ((position - min_position) * scale, clearance + _height(position) * scale)
    corners = [
        (-carwidth / 2, 0.0),
        (-carwidth / 2, carheight),
        (carwidth / 2, carheight),
        (carwidth / 2, 0.0),
    ]
    car = _rendering.rotated_rectangle(corners, angle, origin)
    image = _rendering.paint(image, _rendering.polygon_mask(image, car), _rendering.BLACK)
    wheels = _rendering.rotated_rectangle(
        [(carwidth / 4, 0.0), (-carwidth / 4, 0.0)], angle, origin
    )
    for i in range(2):
        wheel = _rendering.disc_mask(
            image, jnp.floor(wheels[i, 0]), jnp.floor(wheels[i, 1]), float(int(carheight / 2.5))
        )
        image = _rendering.paint(image, wheel, (128, 128, 128))
    return image


class MountainCar(ScalarRewardDiscount, _core.Environment):
    """gymnasium's mountain car, pure and jittable (id ``MountainCar-v0``).

    Observation: float32 ``[2]`` = ``(position, velocity)``, bounds
    ``[-1.2, -0.07]`` to ``[0.6, 0.07]``.
    Action: int32 scalar: 0 accelerate left, 1 do nothing, 2 accelerate
    right. The velocity changes by ``(action - 1) * force``, for values
    outside ``{0, 1, 2}`` too (e.g. 5: four times action 2's push), never
    clipped (gymnasium asserts; a jitted step
    cannot raise: wrap in `jit_env.wrappers.ValidateAction`, or use the
    ``compat`` adapters).
    Reward: float32 -1 on every step. Discount: 0 on reaching the goal, else 1.

    ``step`` is deterministic and never touches ``state.key``. ``render`` gives
    gymnasium's picture as RGB uint8 ``[400, 600, 3]``.

    Args:
      goal_velocity: default goal velocity (gymnasium's argument).
      renderer: optional replacement for the built-in renderer.

    Reference: gymnasium 1.x ``MountainCarEnv``.
    """

    def __init__(self, goal_velocity: float = 0.0, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.default_params = MountainCarParams(goal_velocity=goal_velocity)

    def __repr__(self) -> str:
        return f"MountainCar(goal_velocity={self.default_params.goal_velocity})"

    def reset(
        self, key: jax.Array, *, options: MountainCarParams | None = None
    ) -> tuple[MountainCarState, _core.TimeStep]:
        """Start position uniform in ``[reset_low, reset_high)``, velocity 0.

        ``options``: a `MountainCarParams` of real scalars, or ``None`` for the
        constructor's defaults (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, self.default_params, "MountainCar")
        state = reset_state(key, params)
        return state, _core.restart(observation(state))

    def step(self, state: MountainCarState, action: Any) -> tuple[MountainCarState, _core.TimeStep]:
        """Pushes the car for one step.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``{0, 1, 2}``.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, "MountainCar")
        p = state.params
        velocity = (
            state.velocity
            + (action - 1).astype(jnp.float32) * p.force
            + jnp.cos(3 * state.position) * (-p.gravity)
        )
        velocity = jnp.clip(velocity, -p.max_speed, p.max_speed)
        position = jnp.clip(state.position + velocity, p.min_position, p.max_position)
        velocity = jnp.where((position == p.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity)
        state = state._replace(position=position, velocity=velocity)
        reward = jnp.full((), -1.0, jnp.float32)
        return state, _steps.end_or_continue(terminated, reward, observation(state))

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[2]``: position in ``[-1.2, 0.6]``, velocity in ``[-0.07, 0.07]``."""
        low, high = position_bounds(self.default_params)
        return specs.BoundedArray((2,), jnp.float32, low, high, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 3 values: accelerate left, do nothing, accelerate right."""
        return specs.DiscreteArray(3, dtype=jnp.int32, name="action")


    def _draw(self, state: MountainCarState) -> jax.Array:
        return draw(state.position, state.params)
