"""Advantage actor-critic (A2C), the synchronous version of A3C, as a functional `Agent`.

Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning",
Algorithm S3 (n-step advantage actor-critic), run synchronously over ``num_envs``
environments with one gradient step per ``num_steps``-step rollout, as in
Stable-Baselines3's ``A2C`` and CleanRL. Advantages are truncation-aware GAE
(Schulman et al. 2016, eq. 16) by `jit_env.rollout.Trajectory.gae`; with the
default ``gae_lambda = 1`` they are A3C's n-step advantages
``Σ_k γ^k r_{t+k} + γ^n v(s_{t+n}) − v(s_t)``, bootstrapped at the rollout end and
at time-limit truncations (from the true final observation), not at terminations.

With ``rollout="episodes"`` each update is ``num_envs`` whole episodes
(`jit_env.rollout.episodes`); with ``gae_lambda = 1`` the advantage is then the
Monte-Carlo return minus the baseline, rlx's ``ActorCritic`` ("REINFORCE with
Value-baseline", dasayan05/rlx ``rlx/algos/actorcritic.py``), except that rlx never
bootstraps while here a time-limit truncation and the horizon bootstrap from ``v``.

Defaults are SB3 2.x ``A2C``'s (``n_steps=5``, ``gamma=0.99``, ``gae_lambda=1.0``,
``ent_coef=0.0``, ``vf_coef=0.5``, ``max_grad_norm=0.5``, RMSprop ``lr=7e-4``,
``alpha=0.99``, ``eps=1e-5``, ``normalize_advantage=False``, ``MlpPolicy`` 64-64 tanh
with orthogonal initialisation) with rl-baselines3-zoo's ``hyperparams/a2c.yml``
CartPole-v1 entry (``n_envs: 8``, ``n_timesteps: 5e5``, ``ent_coef: 0.0``). The value
loss is SB3's mean squared error (no ½ factor).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax

from jit_env import specs
from jit_env.agents._actor_critic import ActorCriticConfig, make_actor_critic_agent
from jit_env.agents._agent import Agent
from jit_env.rollout import Trajectory, Transitions


@dataclasses.dataclass(frozen=True)
class A2CConfig(ActorCriticConfig):
    """Hyper-parameters of A2C and of its training run (SB3 / rl-zoo CartPole-v1 defaults).

    The training-run fields are `TrainingConfig`'s; optimiser, loss and network
    fields are `ActorCriticConfig`'s (RMSprop ``7e-4``, ``alpha 0.99``, ``eps 1e-5``,
    ``ent_coef 0``, ``vf_coef 0.5``, ``max_grad_norm 0.5``, 64-64 tanh).

    Attributes:
      gae_lambda: GAE λ; 1 gives A3C's n-step returns (SB3's default).
    """

    sweepable: ClassVar[tuple[str, ...]] = ("gae_lambda",)

    num_envs: int = 8
    num_steps: int = 5
    total_steps: int = 500_000
    gae_lambda: float = 1.0

    def problems(self) -> list[str]:
        """`ActorCriticConfig.problems` plus the range of ``gae_lambda``."""
        problems = super().problems()
        if not 0.0 <= self.gae_lambda <= 1.0:
            problems.append(f"`gae_lambda` must be in [0, 1], got {self.gae_lambda}")
        return problems


def make_a2c(config: A2CConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the A2C `Agent` for an environment with ``env_spec``.

    Args:
      config: an `A2CConfig` (validated here).
      env_spec: specs of one environment; an action `make_action_head` supports, one
        observation `Array` of any shape (flattened).

    Returns:
      `Agent` whose ``act`` returns extras ``{"log_prob": [B] float32}`` and whose
      ``update`` takes one optimiser step on the loss
      ``−mean(log π(a|s) A) + vf_coef · mean((G − v(s))²) − ent_coef · mean H(π(·|s))``
      with ``A, G = Trajectory.gae(v, v_next, gamma, gae_lambda)`` (Mnih et al. 2016,
      Algorithm S3; SB3 ``A2C.train``).

    Raises:
      ValueError: on a bad config (naming the field) or an unsupported spec.
    """

    def targets(trajectory: Trajectory, tr: Transitions, log_pi, values, bootstrap):
        del tr, log_pi  # on-policy; GAE reads the trajectory itself
        advantages, returns = trajectory.gae(values, bootstrap, config.gamma, config.gae_lambda)
        return advantages, returns, jax.numpy.ones_like(advantages), {}

    return make_actor_critic_agent(config, env_spec, targets, algo="A2C")
