"""Wrappers: transformations of one environment into another.

Batching and staging: `Jit`, `Vmap`, `Tile`, `Shard`. Auto-reset that never
loses data: `AutoReset`, `VmapAutoReset`, `TileAutoReset` (same-step mode by
default — the step that ends an episode returns ``FIRST`` with the terminal
reward / discount, the new episode's observation and the true last observation
in ``extras["final_observation"]``, which is present on every step — or
``mode="next_step"``). Episodes: `TimeLimit`, `EpisodeStatistics`.
Normalisation: `NormalizeObservation`, `NormalizeReward`, `ClipReward`,
`ScaleReward`. Observations: `FlattenObservation`, `FrameStack`,
`ExtendObservation`, `TransformObservation`. Actions: `ActionRepeat`,
`ClipAction`, `RescaleAction`, `TransformAction`. Gradients and rewards:
`StopGradient`, `TransformReward`. Value checks (``checkify``): `CheckFinite`,
`ValidateAction`. Multi-agent: `FixedOpponent` (a single-agent view with a
fixed `Opponent` policy for the other agents), `agent_spec`,
`set_opponent_params`.

Recommended training stack (innermost first)::

    env = jit_env.make("CartPole-v1")                 # = TimeLimit(CartPole(), 500)
    env = VmapAutoReset(env, num_envs)                # SIMD auto-reset, batched specs
    env = EpisodeStatistics(env)                      # returns/lengths of finished episodes
    env = NormalizeObservation(env)                   # optional; also normalises final_observation
    env = Jit(env)                                    # optional, when not jitting yourself
    state, ts = env.reset(key)                        # one key, split into num_envs

Rules behind that order: `TimeLimit` inside the auto-reset (truncated episodes
are reset); `EpisodeStatistics` outside `TimeLimit` (it must see truncations)
and outside the auto-reset (its state then survives resets: on every step
``extras["episode_return"]`` is the most recently finished episode's return);
`NormalizeObservation` / `NormalizeReward` outside the auto-reset (their
statistics survive resets and reduce over the batch); `Jit` outermost. No
wrapper calls ``jax.jit`` except `Jit`.

Every wrapper state is a ``NamedTuple`` with the inner state in ``inner`` and
read-through ``key`` / ``params`` properties, so auto-reset finds the PRNG key
and the environment options anywhere in a stack.
"""

from jit_env._multiagent import (
    FixedOpponent,
    FixedOpponentState,
    Opponent,
    agent_spec,
    set_opponent_params,
)
from jit_env.wrappers._action import ActionRepeat, ClipAction, RescaleAction, TransformAction
from jit_env.wrappers._autoreset import (
    AutoReset,
    AutoResetState,
    TileAutoReset,
    VmapAutoReset,
)
from jit_env.wrappers._batching import BatchSpecMixin, Jit, Shard, Tile, Vmap
from jit_env.wrappers._misc import StopGradient, TransformReward
from jit_env.wrappers._normalization import (
    ClipReward,
    NormalizeObservation,
    NormalizeObservationState,
    NormalizeReward,
    NormalizeRewardState,
    RunningMeanStd,
    ScaleReward,
)
from jit_env.wrappers._observation import (
    ExtendObservation,
    ExtendObservationState,
    FlattenObservation,
    FrameStack,
    FrameStackState,
    TransformObservation,
)
from jit_env.wrappers._statistics import EpisodeStatistics, EpisodeStatisticsState
from jit_env.wrappers._time_limit import TimeLimit, TimeLimitState
from jit_env.wrappers._validation import CheckFinite, ValidateAction

__all__ = [
    "ActionRepeat",
    "AutoReset",
    "AutoResetState",
    "BatchSpecMixin",
    "CheckFinite",
    "ClipAction",
    "ClipReward",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "ExtendObservation",
    "ExtendObservationState",
    "FixedOpponent",
    "FixedOpponentState",
    "FlattenObservation",
    "FrameStack",
    "FrameStackState",
    "Jit",
    "NormalizeObservation",
    "NormalizeObservationState",
    "NormalizeReward",
    "NormalizeRewardState",
    "Opponent",
    "RescaleAction",
    "RunningMeanStd",
    "ScaleReward",
    "Shard",
    "StopGradient",
    "Tile",
    "TileAutoReset",
    "TimeLimit",
    "TimeLimitState",
    "TransformAction",
    "TransformObservation",
    "TransformReward",
    "ValidateAction",
    "Vmap",
    "VmapAutoReset",
    "agent_spec",
    "set_opponent_params",
]
