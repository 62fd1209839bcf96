"""Reference environments and the registry behind `jit_env.make`.

``jit_env.make("CartPole-v1")`` builds a registered environment (wrapped in a
`jit_env.wrappers.TimeLimit` with its registered episode limit);
`registered_ids` lists them; `register` adds one. Importing this package
registers the classic-control environments (`jit_env.envs.classic_control`),
the MinAtar games (`jit_env.envs.minatar`), Slime Volleyball
(`jit_env.envs.slime`), the small action-mask / composite-action test
environments (`jit_env.envs.toy`) and, where present, the bsuite ones
(`jit_env.envs.bsuite`). `make` also builds a user's
``"package.module:attr"``, the ids installed packages register through the
``jit_env.envs`` entry-point group, and ``"gymnax/<id>"``
(`jit_env.envs._registry` lists the forms).
"""

from __future__ import annotations

import importlib.util

from jit_env.envs import classic_control, minatar, slime, toy
from jit_env.envs._registry import EnvSpec, make, register, registered_ids, spec
from jit_env.envs._rendering import render_video
from jit_env.envs.classic_control import (
    Acrobot,
    AcrobotParams,
    AcrobotState,
    CartPole,
    CartPoleNoVelocity,
    CartPoleParams,
    CartPolePOMDP,
    CartPoleState,
    IncompleteCartPole,
    MountainCar,
    MountainCarContinuous,
    MountainCarContinuousParams,
    MountainCarParams,
    MountainCarState,
    Pendulum,
    PendulumParams,
    PendulumState,
)

__all__ = [
    "Acrobot",
    "AcrobotParams",
    "AcrobotState",
    "CartPole",
    "CartPoleNoVelocity",
    "CartPolePOMDP",
    "CartPoleParams",
    "CartPoleState",
    "EnvSpec",
    "IncompleteCartPole",
    "MountainCar",
    "MountainCarContinuous",
    "MountainCarContinuousParams",
    "MountainCarParams",
    "MountainCarState",
    "Pendulum",
    "PendulumParams",
    "PendulumState",
    "classic_control",
    "make",
    "minatar",
    "register",
    "registered_ids",
    "render_video",
    "slime",
    "spec",
    "toy",
]

if importlib.util.find_spec("jit_env.envs.bsuite") is not None:
    from jit_env.envs import bsuite  # noqa: F401  (importing it registers the bsuite ids)

    __all__ = sorted([*__all__, "bsuite"])

