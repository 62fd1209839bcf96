"""bsuite's diagnostic environments, pure and jittable, under gymnax's ids.

Importing this package registers:

| id | class | observation | actions | episode |
|---|---|---|---|---|
| ``Catch-bsuite`` | `Catch` | float32 [10, 5] | 3 | 9 steps |
| ``DeepSea-bsuite`` | `DeepSea` | float32 [8, 8] | 2 | 8 steps |
| ``MemoryChain-bsuite`` | `MemoryChain` | float32 [1, 3] | 2 | 6 steps |
| ``UmbrellaChain-bsuite`` | `UmbrellaChain` | float32 [1, 3] | 2 | 10 steps |
| ``DiscountingChain-bsuite`` | `DiscountingChain` | float32 [1, 2] | 5 | 100 steps |
| ``SimpleBandit-bsuite`` | `SimpleBandit` | float32 [1, 1] | 11 | 1 step |

Every episode ends by termination on its own after the number of steps in
the table (bsuite has no time limits), so no ``max_episode_steps`` is
registered. gymnax's ``max_steps_in_episode`` values (1000, 2000, 1000, 100,
100, 100) are never reached with the default parameters either.

The dynamics are bsuite 0.3.5's (``bsuite/environments/*.py``); each
module's docstring says where it departs from bsuite or gymnax.
"""

from __future__ import annotations

from jit_env.envs._registry import register
from jit_env.envs.bsuite.bandit import SimpleBandit, SimpleBanditParams, SimpleBanditState
from jit_env.envs.bsuite.catch import Catch, CatchParams, CatchState
from jit_env.envs.bsuite.deep_sea import DeepSea, DeepSeaParams, DeepSeaState
from jit_env.envs.bsuite.discounting_chain import (
    DiscountingChain,
    DiscountingChainParams,
    DiscountingChainState,
)
from jit_env.envs.bsuite.memory_chain import MemoryChain, MemoryChainParams, MemoryChainState
from jit_env.envs.bsuite.umbrella_chain import (
    UmbrellaChain,
    UmbrellaChainParams,
    UmbrellaChainState,
)

BSUITE_IDS = (
    register("Catch-bsuite", Catch),
    register("DeepSea-bsuite", DeepSea),
    register("MemoryChain-bsuite", MemoryChain),
    register("UmbrellaChain-bsuite", UmbrellaChain),
    register("DiscountingChain-bsuite", DiscountingChain),
    register("SimpleBandit-bsuite", SimpleBandit),
)
"""The ids this package registers."""

__all__ = [
    "BSUITE_IDS",
    "Catch",
    "CatchParams",
    "CatchState",
    "DeepSea",
    "DeepSeaParams",
    "DeepSeaState",
    "DiscountingChain",
    "DiscountingChainParams",
    "DiscountingChainState",
    "MemoryChain",
    "MemoryChainParams",
    "MemoryChainState",
    "SimpleBandit",
    "SimpleBanditParams",
    "SimpleBanditState",
    "UmbrellaChain",
    "UmbrellaChainParams",
    "UmbrellaChainState",
]
