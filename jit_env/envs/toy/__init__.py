"""Small test environments for action-side features: action masks and composite actions.

Importing this package registers:

| id | class | observation | action | episode |
|---|---|---|---|---|
| ``MaskedMaze-v0`` | `MaskedMaze` | dict: float32 [25], ``action_mask`` bool [4] | 4 | 50 steps |
| ``UnmaskedMaze-v0`` | `MaskedMaze` | float32 [25] (no mask) | 4 | 50 steps |
| ``ChooseAndAim-v0`` | `ChooseAndAim` | float32 [4] | dict: 3 choices, aim in [-1, 1] | 1 step |

`MaskedMaze` follows the action-mask convention of
`jit_env.agents.make_action_head` (Pgx's ``legal_action_mask`` semantics in
jumanji's / Stoa's ``action_mask`` observation entry); `ChooseAndAim` needs a
discrete and a continuous choice at once.
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.toy.choose_and_aim import ChooseAndAim, ChooseAndAimState
from jit_env.envs.toy.maze import MaskedMaze, MaskedMazeState

TOY_IDS = (
    register("MaskedMaze-v0", MaskedMaze, max_episode_steps=50),
    register("UnmaskedMaze-v0", MaskedMaze, max_episode_steps=50, expose_mask=False),
    register("ChooseAndAim-v0", ChooseAndAim),
)
"""The ids this package registers."""

__all__ = [
    "ChooseAndAim",
    "ChooseAndAimState",
    "MaskedMaze",
    "MaskedMazeState",
    "TOY_IDS",
]
