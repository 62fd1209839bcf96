"""jit_env: pure-functional JAX RL environments, wrappers, operators and agents."""

# ruff: noqa: I001  (import order matters: the core before the packages built on it)

from jit_env import prng, specs
from jit_env._core import (
    Action,
    Environment,
    EnvOptions,
    Observation,
    State,
    StepType,
    TimeStep,
    Wrapper,
    reset_after,
    restart,
    termination,
    transition,
    truncation,
)
from jit_env._core import DiscountT as Discount  # jit_env 0.1.5's public names
from jit_env._core import RewardT as Reward
from jit_env._version import __version__, __version_info__
from jit_env import wrappers  # (wrappers import the core above)
from jit_env import envs
from jit_env.envs import make, register, registered_ids, render_video
from jit_env import compat

__all__ = [
    "Action",
    "Discount",
    "EnvOptions",
    "Environment",
    "Observation",
    "Reward",
    "State",
    "StepType",
    "TimeStep",
    "Wrapper",
    "__version__",
    "__version_info__",
    "compat",
    "envs",
    "make",
    "prng",
    "register",
    "registered_ids",
    "render_video",
    "reset_after",
    "restart",
    "specs",
    "termination",
    "transition",
    "truncation",
    "wrappers",
]
