"""MinAtar's games, natively in JAX, under gymnax's ids.

Importing this package registers:

| id | class | observation | actions (minimal) | episode limit |
|---|---|---|---|---|
| ``Asterix-MinAtar`` | `Asterix` | bool [10, 10, 4] | 6 (5) | 1000 |
| ``Breakout-MinAtar`` | `Breakout` | bool [10, 10, 4] | 6 (3) | 1000 |
| ``Seaquest-MinAtar`` | `Seaquest` | bool [10, 10, 10] | 6 (6) | 1000 |
| ``SpaceInvaders-MinAtar`` | `SpaceInvaders` | bool [10, 10, 6] | 6 (4) | 1000 |
| ``Freeway-MinAtar`` | `Freeway` | bool [10, 10, 7] | 6 (3) | none (terminates after 2501 steps) |

The games are minatar 1.0.15's (``minatar/environments/*.py``) inside its
``minatar.Environment`` (sticky actions with probability 0.1, difficulty
ramping): see `MinAtarGame` and each module's docstring for the details, the
random draws and where gymnax 1.0.1's ports (``gymnax/environments/minatar/``)
depart from the reference. minatar itself has no time limit (its gym ids in
``minatar/gym.py`` register none); the limits above are gymnax 1.0.1's
``max_steps_in_episode`` (``EnvParams`` in each of its ``minatar/*.py``),
applied by `jit_env.make` as a `jit_env.wrappers.TimeLimit` (truncation).
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.minatar._game import NUM_ACTIONS, MinAtarGame, MinAtarParams
from jit_env.envs.minatar.asterix import Asterix, AsterixState
from jit_env.envs.minatar.breakout import Breakout, BreakoutState
from jit_env.envs.minatar.freeway import Freeway, FreewayState
from jit_env.envs.minatar.seaquest import Seaquest, SeaquestState
from jit_env.envs.minatar.space_invaders import SpaceInvaders, SpaceInvadersState

MINATAR_IDS = (
    register("Asterix-MinAtar", Asterix, max_episode_steps=1000),
    register("Breakout-MinAtar", Breakout, max_episode_steps=1000),
    register("Freeway-MinAtar", Freeway),  # the game terminates on its own (see freeway.py)
    register("Seaquest-MinAtar", Seaquest, max_episode_steps=1000),
    register("SpaceInvaders-MinAtar", SpaceInvaders, max_episode_steps=1000),
)
"""The ids this package registers."""

__all__ = [
    "MINATAR_IDS",
    "NUM_ACTIONS",
    "Asterix",
    "AsterixState",
    "Breakout",
    "BreakoutState",
    "Freeway",
    "FreewayState",
    "MinAtarGame",
    "MinAtarParams",
    "Seaquest",
    "SeaquestState",
    "SpaceInvaders",
    "SpaceInvadersState",
]
__all__.sort()
