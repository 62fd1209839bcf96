"""Agents on the shared training loop: PPO (more in later releases).

Each agent is an `Agent` NamedTuple of pure functions (``init``, ``act``,
``update``). `train` runs one whole training run as a pure function of
``(config, key)``: ``jax.jit`` compiles it, ``jax.vmap`` batches it over seeds.
Needs the ``agents`` extra: ``pip install 'jit-env[agents]'`` (flax, optax).
"""

from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._training import (
    Trainer,
    TrainState,
    make_trainer,
    make_training_env,
    train,
)
from jit_env.agents.ppo import PPOConfig, make_ppo

__all__ = [
    "Agent",
    "AgentState",
    "PPOConfig",
    "TrainState",
    "Trainer",
    "make_ppo",
    "make_trainer",
    "make_training_env",
    "train",
]
