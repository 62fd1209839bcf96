"""REINFORCE (Monte-Carlo policy gradient), with or without a learned baseline.

Williams 1992, "Simple Statistical Gradient-Following Algorithms for
Connectionist Reinforcement Learning", eq. 11 (REINFORCE with baseline ``b``);
Sutton & Barto 2018, §13.3–13.4: ``θ ← θ + α (G_t − b(s_t)) ∇ log π(a_t|s_t)``
with the discounted return-to-go ``G_t = Σ_k γ^k r_{t+k}``.

How returns are formed on fixed-length rollouts. The shared loop hands the agent
``num_steps`` steps of each of ``num_envs`` auto-resetting environments, so an
episode may be cut by the end of the rollout. Returns are Monte-Carlo returns
within each episode (`jit_env.rollout.Trajectory.discounted_returns`, restarted at
every episode end):

- ``baseline=True``: a return cut by the rollout end is bootstrapped from the
  learned baseline ``v(s_T)``, as Spinning Up's VPG does ("if trajectory didn't
  reach terminal state, bootstrap value target", ``vpg.py`` ``finish_path``);
  a time-limit truncation bootstraps from the true final observation. The
  baseline is trained on the same returns (Sutton & Barto §13.4). Transitions
  far from the rollout end get an (almost) pure Monte-Carlo return; only the
  last ones lean on the baseline.
- ``baseline=False``: nothing can be bootstrapped, so transitions whose
  episode does not end inside the rollout are **masked out** of the loss (their
  return is unknown); a time-limit truncation is treated as the episode's end
  (return 0 after it), the usual practice for CartPole REINFORCE. Returns are
  exact Monte-Carlo returns, and ``num_steps`` should exceed the episode length
  (CartPole-v1: 500) so that most transitions count. The critic of
  `ActorCritic` is then unused (its parameters never change).

On whole episodes (``rollout="episodes"``, ``horizon``: each update is
``num_envs`` episodes from reset, `jit_env.rollout.episodes`, as rlx's
``REINFORCE.train`` samples ``batch_size`` episodes, dasayan05/rlx
``rlx/algos/reinforce.py``) no return is cut by the rollout except at the
horizon, where the baseline bootstraps (``baseline=False``: masked out, as
above, where rlx keeps the return so far); padding after an episode's end is
invalid and out of the loss.

Defaults: 8 environments × 500 steps (4,000 steps per update, Spinning Up VPG's
``steps_per_epoch``), γ = 0.99, 64-64 tanh, advantages standardised per update
(Spinning Up VPG), entropy bonus 0. The optimiser (Adam, ``lr=1e-2`` annealed
linearly to 0, on a single combined loss, one step per rollout), ``vf_coef`` and
``total_steps`` were chosen here on CartPole-v1: a constant ``1e-2`` learns as fast
but 2 of 5 seeds then collapse to ~130–240, ``3e-3`` is stable but slower. (Spinning
Up trains π and v with separate optimisers and 80 value steps per epoch, which the
one-step-per-rollout loop does not do.)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jit_env import specs
from jit_env.agents._actor_critic import ActorCriticConfig, make_actor_critic_agent
from jit_env.agents._agent import Agent
from jit_env.rollout import Trajectory, Transitions


@dataclasses.dataclass(frozen=True)
class REINFORCEConfig(ActorCriticConfig):
    """Hyper-parameters of REINFORCE and of its training run.

    Attributes:
      baseline: learn a state-value baseline ``b(s) = v(s)`` and bootstrap
        returns cut by the rollout end from it; without it, transitions of
        episodes unfinished at the rollout end are masked out.
    """

    num_envs: int = 8
    num_steps: int = 500
    total_steps: int = 500_000
    learning_rate: float = 1e-2
    optimizer: str = "adam"
    optimizer_eps: float = 1e-8
    anneal_lr: bool = True
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    baseline: bool = True


def completed_episodes(tr: Transitions) -> jax.Array:
    """``[T, *batch]`` bool: the transition's episode ends inside the trajectory.

    True at ``t`` iff some ``end_t[t']`` with ``t' ≥ t`` is True (the first such
    end is that of ``t``'s own episode), i.e. a reverse cumulative OR over time.
    """
    return jax.lax.cummax(tr.end_t.astype(jnp.int32), axis=0, reverse=True) > 0


def make_reinforce(config: REINFORCEConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the REINFORCE `Agent` for an environment with ``env_spec``.

    Args:
      config: a `REINFORCEConfig` (validated here).
      env_spec: specs of one environment; an action `make_action_head` supports, one
        observation `Array` of any shape (flattened).

    Returns:
      `Agent` whose ``act`` returns extras ``{"log_prob": [B] float32}`` and whose
      ``update`` takes one optimiser step on
      ``−mean(log π(a_t|s_t) (G_t − b(s_t))) + vf_coef · mean((G_t − v(s_t))²)
      − ent_coef · mean H`` (``b = 0`` and no value loss without a baseline), with
      ``G_t`` as described in the module docstring. Extra metric:
      ``complete_fraction`` (share of transitions whose return is used).

    Raises:
      ValueError: on a bad config (naming the field) or an unsupported spec.
    """

    def targets(trajectory: Trajectory, tr: Transitions, log_pi, values, bootstrap):
        del log_pi  # on-policy
        if config.baseline:
            returns = trajectory.discounted_returns(config.gamma, bootstrap)
            weight = jnp.ones_like(returns)
            return returns - values, returns, weight, {"complete_fraction": weight.mean()}
        returns = trajectory.discounted_returns(config.gamma)
        weight = completed_episodes(tr).astype(jnp.float32)
        return returns, None, weight, {"complete_fraction": weight.mean()}

    return make_actor_critic_agent(config, env_spec, targets, algo="REINFORCE")
