"""Slime Volleyball (slimevolleygym 0.1.0), pure and jittable, two players or one.

Importing this package registers:

| id | entry point | observation | action | limit |
|---|---|---|---|---|
| ``SlimeVolley-v0`` | `slime_volley_vs_baseline` | float32 [12] | int32, 6 values | 3000 |
| ``SlimeVolleyMultiAgent-v0`` | `SlimeVolley` | float32 [2, 12] | int32 [2], 6 values | 3000 |

``SlimeVolley-v0`` is the right agent against the 2015 baseline (slimevolleygym's
``SlimeVolley-v0``); ``SlimeVolleyMultiAgent-v0`` is both agents
(``agent_ids == ("left", "right")``).

``jit_env.make("SlimeVolley-v0", action_mode="binary")`` gives slimevolleygym's
``MultiBinary(3)`` controls instead (int32 [3]). See
`jit_env.envs.slime.slimevolley` for the game and its sources.
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.slime._baseline import baseline_forward, baseline_initial_carry
from jit_env.envs.slime.slimevolley import (
    ACTION_TABLE,
    AGENT_IDS,
    BaselineCarry,
    SlimeVolley,
    SlimeVolleyState,
    baseline_opponent,
    buttons_to_discrete,
    slime_volley_vs_baseline,
)

SLIME_IDS = (
    register("SlimeVolley-v0", slime_volley_vs_baseline, max_episode_steps=3000),
    register("SlimeVolleyMultiAgent-v0", SlimeVolley, max_episode_steps=3000),
)
"""The ids this package registers."""

__all__ = [
    "ACTION_TABLE",
    "AGENT_IDS",
    "BaselineCarry",
    "SLIME_IDS",
    "SlimeVolley",
    "SlimeVolleyState",
    "baseline_forward",
    "baseline_initial_carry",
    "baseline_opponent",
    "buttons_to_discrete",
    "slime_volley_vs_baseline",
]
