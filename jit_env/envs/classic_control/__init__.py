"""gymnasium's classic-control environments, pure and jittable, under gymnasium's ids.

Importing this package registers:

| id | class | observation | action | episode limit |
|---|---|---|---|---|
| ``CartPole-v1`` | `CartPole` | float32 [4] | int32, 2 values | 500 |
| ``CartPole-v0`` | `CartPole` | float32 [4] | int32, 2 values | 200 |
| ``IncompleteCartPole-v1`` | `IncompleteCartPole` | float32 [3] (no θ̇) | int32, 2 values | 500 |
| ``IncompleteCartPole-v0`` | `IncompleteCartPole` | float32 [3] (no θ̇) | int32, 2 values | 200 |
| ``CartPole-NoVelocity-v1`` | `CartPoleNoVelocity` | float32 [2] (no ẋ, θ̇) | int32, 2 | 500 |
| ``CartPole-POMDP-v1`` | `CartPoleNoVelocity` (old id) | float32 [2] | int32, 2 | 500 |
| ``Acrobot-v1`` | `Acrobot` | float32 [6] | int32, 3 values | 500 |
| ``MountainCar-v0`` | `MountainCar` | float32 [2] | int32, 3 values | 200 |
| ``MountainCarContinuous-v0`` | `MountainCarContinuous` | float32 [2] | float32 [1] | 999 |
| ``Pendulum-v1`` | `Pendulum` | float32 [3] | float32 [1] | 200 |

The dynamics, constants, observations, rewards, terminations and start
distributions are gymnasium 1.x's ``gymnasium/envs/classic_control/*.py``
(each module's docstring gives the details and the few departures); the
episode limits are gymnasium's registered ``max_episode_steps``, applied by
`jit_env.make` as a `jit_env.wrappers.TimeLimit`. ``IncompleteCartPole-v0/v1``
are rlx's (``dasayan05/rlx``, ``rlx/env.py``): gym's ``CartPole-v0`` / ``-v1``
with the last observation entry (the pole's angular velocity) removed.
``CartPole-POMDP-v1`` still builds `CartPoleNoVelocity` so that existing
configs keep working; new code should use ``CartPole-NoVelocity-v1``.
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.classic_control.acrobot import Acrobot, AcrobotParams, AcrobotState
from jit_env.envs.classic_control.cartpole import (
    CartPole,
    CartPoleNoVelocity,
    CartPoleParams,
    CartPolePOMDP,
    CartPoleState,
    IncompleteCartPole,
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
    register("CartPole-v1", CartPole, max_episode_steps=500),
    register("CartPole-v0", CartPole, max_episode_steps=200),
    register("IncompleteCartPole-v1", IncompleteCartPole, max_episode_steps=500),
    register("IncompleteCartPole-v0", IncompleteCartPole, max_episode_steps=200),
    register("CartPole-NoVelocity-v1", CartPoleNoVelocity, max_episode_steps=500),
    register("CartPole-POMDP-v1", CartPoleNoVelocity, max_episode_steps=500),  # deprecated id
    register("Acrobot-v1", Acrobot, max_episode_steps=500),
    register("MountainCar-v0", MountainCar, max_episode_steps=200),
    register("MountainCarContinuous-v0", MountainCarContinuous, max_episode_steps=999),
    register("Pendulum-v1", Pendulum, max_episode_steps=200),
)
"""The ids this package registers."""

__all__ = [
    "Acrobot",
    "AcrobotParams",
    "AcrobotState",
    "CLASSIC_CONTROL_IDS",
    "CartPole",
    "CartPoleNoVelocity",
    "CartPolePOMDP",
    "CartPoleParams",
    "CartPoleState",
    "IncompleteCartPole",
    "MountainCar",
    "MountainCarContinuous",
    "MountainCarContinuousParams",
    "MountainCarParams",
    "MountainCarState",
    "Pendulum",
    "PendulumParams",
    "PendulumState",
]
