"""gymnasium's classic-control environments, pure and jittable, under gymnasium's ids.

Importing this package registers:

| id | class | observation | action | episode limit |
|---|---|---|---|---|
| ``CartPole-v1`` | `CartPole` | float32 [4] | int32, 2 values | 500 |
| ``CartPole-POMDP-v1`` | `CartPolePOMDP` | float32 [2] (no velocities) | int32, 2 values | 500 |
| ``Acrobot-v1`` | `Acrobot` | float32 [6] | int32, 3 values | 500 |
| ``MountainCar-v0`` | `MountainCar` | float32 [2] | int32, 3 values | 200 |
| ``MountainCarContinuous-v0`` | `MountainCarContinuous` | float32 [2] | float32 [1] | 999 |
| ``Pendulum-v1`` | `Pendulum` | float32 [3] | float32 [1] | 200 |

The dynamics, constants, observations, rewards, terminations and start
distributions are gymnasium 1.x's ``gymnasium/envs/classic_control/*.py``
(each module's docstring gives the details and the few departures); the
episode limits are gymnasium's registered ``max_episode_steps``, applied by
`jit_env.make` as a `jit_env.wrappers.TimeLimit`.
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.classic_control.acrobot import Acrobot, AcrobotParams, AcrobotState
from jit_env.envs.classic_control.cartpole import (
    CartPole,
    CartPoleParams,
    CartPolePOMDP,
    CartPoleState,
)
from jit_env.envs.classic_control.continuous_mountain_car import (
    MountainCarContinuous,
    MountainCarContinuousParams,
)
from jit_env.envs.classic_control.mountain_car import (
    MountainCar,
    MountainCarParams,
    MountainCarState,
)
from jit_env.envs.classic_control.pendulum import Pendulum, PendulumParams, PendulumState

CLASSIC_CONTROL_IDS = (
    "CartPole-v1",
    "CartPole-POMDP-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
)
"""The ids this package registers."""

register("CartPole-v1", CartPole, max_episode_steps=500)
register("CartPole-POMDP-v1", CartPolePOMDP, max_episode_steps=500)
register("Acrobot-v1", Acrobot, max_episode_steps=500)
register("MountainCar-v0", MountainCar, max_episode_steps=200)
register("MountainCarContinuous-v0", MountainCarContinuous, max_episode_steps=999)
register("Pendulum-v1", Pendulum, max_episode_steps=200)

__all__ = [
    "Acrobot",
    "AcrobotParams",
    "AcrobotState",
    "CLASSIC_CONTROL_IDS",
    "CartPole",
    "CartPolePOMDP",
    "CartPoleParams",
    "CartPoleState",
    "MountainCar",
    "MountainCarContinuous",
    "MountainCarContinuousParams",
    "MountainCarParams",
    "MountainCarState",
    "Pendulum",
    "PendulumParams",
    "PendulumState",
]
