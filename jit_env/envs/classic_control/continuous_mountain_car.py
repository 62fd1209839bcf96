"""Mountain car with a continuous action (``MountainCarContinuous-v0``).

Matches gymnasium 1.x
``gymnasium.envs.classic_control.continuous_mountain_car.Continuous_MountainCarEnv``:
the force is the action clipped to ``[-1, 1]`` *inside* the step (gymnasium's
dynamics, kept and documented), the velocity changes by
``force * 0.0015 - 0.0025 cos(3 position)`` and is clipped to ``±0.07``, the
position is clipped to ``[-1.2, 0.6]`` with the velocity zeroed at the left
wall; termination at ``position >= 0.45`` and ``velocity >= goal_velocity``;
reward ``100`` on reaching the goal minus ``0.1 * action^2`` computed from the
*unclipped* action (as gymnasium does); start position uniform in
``[-0.6, -0.4)`` with zero velocity. The 999-step limit of
``MountainCarContinuous-v0`` is added by ``jit_env.make`` as a
`jit_env.wrappers.TimeLimit`. Float32 throughout (gymnasium stores its state
in ``float32`` too but computes a step in ``float64``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.classic_control import _episode, mountain_car
from jit_env.envs.classic_control.mountain_car import MountainCarState


class MountainCarContinuousParams(NamedTuple):
    """Parameters of `MountainCarContinuous` (gymnasium's defaults); kept in the state.

    Attributes:
      min_action: lower bound the action is clipped to.
      max_action: upper bound the action is clipped to.
      min_position: left wall.
      max_position: right wall.
      max_speed: bound of ``|velocity|`` per step.
      goal_position: the episode terminates at ``position >= goal_position``...
      goal_velocity: ...with ``velocity >= goal_velocity``.
      power: velocity change per step per unit of force.
      gravity: the hill adds ``-gravity * cos(3 position)`` per step
        (a literal ``0.0025`` in gymnasium).
      reset_low: start position lower bound.
      reset_high: start position upper bound.
    """

    min_action: float = -1.0
    max_action: float = 1.0
    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.45
    goal_velocity: float = 0.0
    power: float = 0.0015
    gravity: float = 0.0025
    reset_low: float = -0.6
    reset_high: float = -0.4


class MountainCarContinuous(ScalarRewardDiscount, _core.Environment):
    """gymnasium's continuous mountain car, pure and jittable (id ``MountainCarContinuous-v0``).

    Observation: float32 ``[2]`` = ``(position, velocity)``, bounds
    ``[-1.2, -0.07]`` to ``[0.6, 0.07]``.
    Action: float32 ``[1]``, spec bounds ``[-1, 1]``; the force is clipped to
    these bounds inside the step, the action penalty is not (gymnasium).
    Reward: float32 scalar. Discount: 0 on reaching the goal, else 1.
    State: `MountainCarState` holding `MountainCarContinuousParams`.

    ``step`` is deterministic and never touches ``state.key``. ``render`` gives
    gymnasium's picture as RGB uint8 ``[400, 600, 3]``.

    Args:
      goal_velocity: default goal velocity (gymnasium's argument).
      renderer: optional replacement for the built-in renderer.

    Reference: gymnasium 1.x ``Continuous_MountainCarEnv``.
    """

    def __init__(self, goal_velocity: float = 0.0, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.default_params = MountainCarContinuousParams(goal_velocity=goal_velocity)

    def __repr__(self) -> str:
        return f"MountainCarContinuous(goal_velocity={self.default_params.goal_velocity})"

    def reset(
        self, key: jax.Array, *, options: MountainCarContinuousParams | None = None
    ) -> tuple[MountainCarState, _core.TimeStep]:
        """Start position uniform in ``[reset_low, reset_high)``, velocity 0.

        ``options``: a `MountainCarContinuousParams` of real scalars, or ``None`` for
        the defaults (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(options, self.default_params, "MountainCarContinuous")
        state = mountain_car.reset_state(key, params)
        return state, _core.restart(mountain_car.observation(state))

    def step(self, state: MountainCarState, action: Any) -> tuple[MountainCarState, _core.TimeStep]:
        """Applies the clipped force for one step.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: float32 ``[1]``.

        Raises:
          TypeError / ValueError: if ``action`` is not a floating array of
            shape ``(1,)``.
        """
        a = _episode.continuous_action(action, "MountainCarContinuous")
        p = state.params
        force = jnp.clip(a, p.min_action, p.max_action)
        velocity = state.velocity + force * p.power - p.gravity * jnp.cos(3 * state.position)
        velocity = jnp.clip(velocity, -p.max_speed, p.max_speed)
        position = jnp.clip(state.position + velocity, p.min_position, p.max_position)
        velocity = jnp.where((position == p.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity)
        reward = jnp.where(terminated, 100.0, 0.0) - jnp.square(a) * 0.1
        state = state._replace(position=position, velocity=velocity)
        return state, _steps.end_or_continue(terminated, reward, mountain_car.observation(state))

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[2]``: position in ``[-1.2, 0.6]``, velocity in ``[-0.07, 0.07]``."""
        low, high = mountain_car.position_bounds(self.default_params)
        return specs.BoundedArray((2,), jnp.float32, low, high, name="observation")

    def action_spec(self) -> specs.BoundedArray:
        """float32 ``[1]`` force in ``[min_action, max_action]`` = ``[-1, 1]``."""
        p = self.default_params
        return specs.BoundedArray((1,), jnp.float32, p.min_action, p.max_action, name="action")


    def _draw(self, state: MountainCarState) -> jax.Array:
        return mountain_car.draw(state.position, state.params)
