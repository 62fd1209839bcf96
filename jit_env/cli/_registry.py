"""The algorithms ``jit-env train --algo NAME`` can train, by name: a plain mapping.

Each entry holds the algorithm's config dataclass (a `TrainingConfig`
subclass, whose fields become the command's flags), its agent factory
``factory(config, env_spec) -> Agent`` and a one-line description for
``jit-env list``. Importing this module imports every bundled agent (and so
flax and optax): the command needs the config classes to parse its flags.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from jit_env.agents import (
    A2CConfig,
    ContinuousPPOConfig,
    DDPGConfig,
    DQNConfig,
    IMPALAConfig,
    OffPACConfig,
    PPOConfig,
    RecurrentPPOConfig,
    REINFORCEConfig,
    SACConfig,
    TD3Config,
    TrainingConfig,
    make_a2c,
    make_ddpg,
    make_dqn,
    make_impala,
    make_offpac,
    make_ppo,
    make_recurrent_ppo,
    make_reinforce,
    make_sac,
    make_td3,
)
from jit_env.agents._loop import AgentFactory, make_trainer
from jit_env.agents.self_play import SelfPlayPPOConfig, self_play_trainer


class Algorithm(NamedTuple):
    """One trainable algorithm.

    Attributes:
      config: its `TrainingConfig` subclass (e.g. `jit_env.agents.PPOConfig`);
        ``config()`` holds the defaults ``jit-env train`` uses.
      factory: ``factory(config, env_spec) -> Agent`` (e.g. `jit_env.agents.make_ppo`).
      description: one line for ``jit-env list``.
      trainer: ``trainer(config, factory, *, mesh=...) -> Trainer``, with
        `jit_env.agents.make_trainer`'s signature (its default); self-play
        brings its own (`jit_env.agents.self_play.self_play_trainer`).
    """

    config: type[TrainingConfig]
    factory: AgentFactory
    description: str
    trainer: Callable[..., Any] = make_trainer


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(
        PPOConfig, make_ppo,
        "Proximal Policy Optimization (Schulman et al. 2017), discrete or Gaussian",
    ),
    "ppo_continuous": Algorithm(
        ContinuousPPOConfig, make_ppo,
        "PPO with a Gaussian policy and CleanRL's continuous-control defaults (Pendulum-v1)",
    ),
    "ppo_selfplay": Algorithm(
        SelfPlayPPOConfig, make_ppo,
        "PPO self-play on SlimeVolley-v0: a champion snapshot, replaced when beaten by 0.5",
        self_play_trainer,
    ),
    "recurrent_ppo": Algorithm(
        RecurrentPPOConfig, make_recurrent_ppo,
        "PPO with a recurrent (LSTM) policy, for partial observability",
    ),
    "dqn": Algorithm(
        DQNConfig, make_dqn,
        "Deep Q-Network (Mnih et al. 2015) with replay; double, n-step, C51, QR-DQN options",
    ),
    "a2c": Algorithm(
        A2CConfig, make_a2c,
        "Advantage actor-critic (Mnih et al. 2016), synchronous, GAE advantages",
    ),
    "reinforce": Algorithm(
        REINFORCEConfig, make_reinforce,
        "REINFORCE (Williams 1992), Monte-Carlo returns, optional learned baseline",
    ),
    "impala": Algorithm(
        IMPALAConfig, make_impala,
        "IMPALA-style off-policy actor-critic with V-trace (Espeholt et al. 2018)",
    ),
    "offpac": Algorithm(
        OffPACConfig, make_offpac,
        "Off-PAC (Degris et al. 2012): replay, truncated importance ratios, lagged behaviour",
    ),
    "sac": Algorithm(
        SACConfig, make_sac,
        "Soft Actor-Critic (Haarnoja et al. 2018): twin critics, automatic entropy tuning",
    ),
    "td3": Algorithm(
        TD3Config, make_td3,
        "TD3 (Fujimoto et al. 2018): clipped double Q, target smoothing, delayed actor",
    ),
    "ddpg": Algorithm(
        DDPGConfig, make_ddpg,
        "DDPG (Lillicrap et al. 2016): deterministic actor, one critic, Gaussian noise",
    ),
}
"""Every algorithm ``jit-env train --algo NAME`` accepts, in ``jit-env list`` order."""


def get_algorithm(name: str) -> Algorithm:
    """The algorithm registered as ``name``.

    Raises:
      ValueError: for an unknown ``name``, listing the known ones.
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    return ALGORITHMS[name]
