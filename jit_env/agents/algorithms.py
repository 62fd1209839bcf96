"""The algorithms ``jit-env train --algo NAME`` can train, by name.

Each entry names the module that defines the algorithm, its config dataclass
(a `TrainingConfig`) and its agent factory ``factory(config, env_spec) ->
Agent``. Modules are imported on first use, so listing the algorithms imports
none of them.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple


class Algorithm(NamedTuple):
    """One trainable algorithm.

    Attributes:
      name: the ``--algo`` name.
      module: module that defines the config and the factory.
      config: name of its `TrainingConfig` subclass in ``module``.
      factory: name of ``factory(config, env_spec) -> Agent`` in ``module``.
      description: one line for ``jit-env list``.
    """

    name: str
    module: str
    config: str
    factory: str
    description: str

    def load(self) -> tuple[type, Any]:
        """Imports the module; returns ``(config_class, factory)``."""
        module = importlib.import_module(self.module)
        return getattr(module, self.config), getattr(module, self.factory)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "ppo", "jit_env.agents.ppo", "PPOConfig", "make_ppo",
            "Proximal Policy Optimization (Schulman et al. 2017), discrete or Gaussian",
        ),
        Algorithm(
            "ppo_continuous", "jit_env.agents.ppo", "ContinuousPPOConfig", "make_ppo",
            "PPO with a Gaussian policy and CleanRL's continuous-control defaults (Pendulum-v1)",
        ),
        Algorithm(
            "recurrent_ppo", "jit_env.agents.recurrent_ppo", "RecurrentPPOConfig",
            "make_recurrent_ppo", "PPO with a recurrent (LSTM) policy, for partial observability",
        ),
        Algorithm(
            "dqn", "jit_env.agents.dqn", "DQNConfig", "make_dqn",
            "Deep Q-Network (Mnih et al. 2015) with replay; double, n-step, C51, QR-DQN options",
        ),
        Algorithm(
            "a2c", "jit_env.agents.a2c", "A2CConfig", "make_a2c",
            "Advantage actor-critic (Mnih et al. 2016), synchronous, GAE advantages",
        ),
        Algorithm(
            "reinforce", "jit_env.agents.reinforce", "REINFORCEConfig", "make_reinforce",
            "REINFORCE (Williams 1992), Monte-Carlo returns, optional learned baseline",
        ),
        Algorithm(
            "impala", "jit_env.agents.impala", "IMPALAConfig", "make_impala",
            "IMPALA-style off-policy actor-critic with V-trace (Espeholt et al. 2018)",
        ),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """The algorithm registered as ``name``.

    Raises:
      ValueError: for an unknown ``name``, listing the known ones.
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    return ALGORITHMS[name]
