"""Agents and the pure training loop they share.

Each agent is an `Agent` NamedTuple of pure functions (``init(key)``, ``act``,
``update``, optionally ``initial_policy_state`` and ``act_params``) built by a
factory ``make_X(config, env_spec)`` from a `TrainingConfig` subclass. `train`
runs one whole training run as a pure function of ``(config, key)``:
``jax.jit`` compiles it, ``jax.vmap`` batches it over seeds; `make_trainer`
exposes its pieces (`Trainer`: ``init``, ``update``, ``run``) and
`evaluate_policy` plays fresh episodes with a trained agent, greedily by
default (`evaluation_policy`; ``Agent.act_greedy``). Nothing here
touches files or the clock: the ``jit-env`` command (`jit_env.cli`) is the
host side (progress, run directories, checkpoints, signals).

Algorithms (``jit-env train --algo NAME``; `jit_env.cli.ALGORITHMS`): PPO
(`make_ppo`, discrete and Gaussian; `ContinuousPPOConfig`), recurrent PPO
(`make_recurrent_ppo`), DQN with double / n-step / C51 / QR-DQN options
(`make_dqn`), A2C (`make_a2c`), REINFORCE (`make_reinforce`), IMPALA with
V-trace (`make_impala`), Off-PAC with replay and a lagged behaviour network
(`make_offpac`), and for bounded continuous actions SAC (`make_sac`),
TD3 (`make_td3`) and DDPG (`make_ddpg`). The on-policy agents (PPO, recurrent
PPO, A2C, REINFORCE, IMPALA) act through `make_action_head`: any action spec of
categorical (scalar or multi-discrete) and Gaussian leaves, alone or in a
`specs.Tuple` / `specs.Dict`, with optional action masks (an ``"action_mask"``
observation entry, `split_observation_spec`). Needs the ``agents`` extra: ``pip install
'jit-env[agents]'`` (flax, optax).
"""

from jit_env.agents._action_heads import (
    MASK_KEY,
    ActionHead,
    make_action_head,
    split_observation,
    split_observation_spec,
)
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents._loop import (
    Trainer,
    TrainState,
    evaluate_policy,
    evaluation_policy,
    make_evaluation_env,
    make_single_env,
    make_trainer,
    make_training_env,
    train,
)
from jit_env.agents.a2c import A2CConfig, make_a2c
from jit_env.agents.dqn import DQNConfig, make_dqn
from jit_env.agents.impala import IMPALAConfig, make_impala
from jit_env.agents.offpac import OffPACConfig, make_offpac
from jit_env.agents.ppo import ContinuousPPOConfig, PPOConfig, make_ppo
from jit_env.agents.recurrent_ppo import RecurrentPPOConfig, make_recurrent_ppo
from jit_env.agents.reinforce import REINFORCEConfig, make_reinforce
from jit_env.agents.sac import SACConfig, make_sac
from jit_env.agents.td3 import DDPGConfig, TD3Config, make_ddpg, make_td3

__all__ = [
    "A2CConfig",
    "ActionHead",
    "Agent",
    "AgentState",
    "ContinuousPPOConfig",
    "DDPGConfig",
    "DQNConfig",
    "IMPALAConfig",
    "MASK_KEY",
    "OffPACConfig",
    "PPOConfig",
    "REINFORCEConfig",
    "RecurrentPPOConfig",
    "SACConfig",
    "TD3Config",
    "TrainState",
    "Trainer",
    "TrainingConfig",
    "evaluate_policy",
    "evaluation_policy",
    "make_a2c",
    "make_action_head",
    "make_ddpg",
    "make_dqn",
    "make_evaluation_env",
    "make_impala",
    "make_offpac",
    "make_ppo",
    "make_recurrent_ppo",
    "make_reinforce",
    "make_sac",
    "make_single_env",
    "make_td3",
    "make_trainer",
    "make_training_env",
    "split_observation",
    "split_observation_spec",
    "train",
]
