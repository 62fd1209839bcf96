"""IMPALA-style off-policy actor-critic with V-trace, as a functional `Agent`.

Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance
Weighted Actor-Learner Architectures": actors follow a behaviour policy μ that
lags the learner's π; the learner corrects for the lag with V-trace (eq. 1)
targets ``v_s`` for the value and the policy-gradient advantage
``ρ̄_pg,t (r_t + γ v_{s+1} − v(s_t))`` (§4.2), with ``ρ_t = π(a_t|s_t) / μ(a_t|s_t)``.

On the shared synchronous loop the lag is explicit: ``act`` runs with a copy of
the parameters kept in ``AgentState.extra.behaviour_params`` (an
``ActorCriticExtra``, returned by `Agent.act_params`) and refreshed after every
``behaviour_lag``-th update, so the rollout of update ``k`` was collected by the
parameters of update ``behaviour_lag · ⌊k / behaviour_lag⌋`` — up to
``behaviour_lag − 1`` updates old, and the ratios ρ differ from 1. ``act`` stores
``log μ(a_t|s_t)`` in the trajectory extras. V-trace is
`jit_env.ops.truncation_aware_vtrace_td_error_and_advantage`, which equals rlax's
``vtrace_td_error_and_advantage`` (Catch has no time limit) and also stops the
trace at time-limit truncations, bootstrapping from the true final observation.

Loss as in ``scalable_agent/experiment.py`` (policy gradient on the clipped-ρ
advantages, baseline loss on ``v_s − v(s_t)``, entropy bonus), with means instead
of sums over the batch (see `jit_env.agents._actor_critic`). Defaults follow the
IMPALA paper's Atari settings (Table G.1: unroll length 20, batch 32 — here 32
environments × 20 steps —, discount 0.99, entropy cost 0.01, baseline cost 0.5,
RMSprop decay 0.99, λ = 1, ρ̄ = ρ̄_pg = 1); the baseline cost 0.5 on ``½ Σ (v_s −
v)²`` becomes ``vf_coef = 0.25`` on our mean squared error. The learning rate,
RMSprop ε (``1e-5``: the paper's ε is for summed losses), gradient clip,
network and ``total_steps`` were chosen here for ``Catch-bsuite`` (measured with
``benchmarks/learning/run.py --rows impala``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from jit_env import ops, specs
from jit_env.agents._actor_critic import (
    ActorCriticConfig,
    make_actor_critic_agent,
    time_major,
)
from jit_env.agents._agent import Agent
from jit_env.rollout import Trajectory, Transitions


@dataclasses.dataclass(frozen=True)
class IMPALAConfig(ActorCriticConfig):
    """Hyper-parameters of IMPALA (V-trace) and of its training run.

    Attributes:
      behaviour_lag: the behaviour parameters are refreshed after every
        ``behaviour_lag``-th update (1: on-policy, ratios ρ = 1).
      vtrace_lambda: λ of V-trace's trace coefficients ``λ c_t``.
      clip_rho_threshold: ρ̄, clip of the ratios in the V-trace errors.
      clip_pg_rho_threshold: ρ̄_pg, clip of the ratio in the policy-gradient advantage.
    """

    sweepable: ClassVar[tuple[str, ...]] = (
        "vtrace_lambda", "clip_rho_threshold", "clip_pg_rho_threshold",
    )

    env: str = "Catch-bsuite"
    num_envs: int = 32
    num_steps: int = 20
    total_steps: int = 400_000
    learning_rate: float = 6e-4
    ent_coef: float = 0.01
    vf_coef: float = 0.25
    max_grad_norm: float = 40.0
    behaviour_lag: int = 4
    vtrace_lambda: float = 1.0
    clip_rho_threshold: float = 1.0
    clip_pg_rho_threshold: float = 1.0

    def problems(self) -> list[str]:
        """`ActorCriticConfig.problems` plus V-trace's own checks."""
        problems = super().problems()
        if self.behaviour_lag < 1:
            problems.append(f"`behaviour_lag` must be >= 1, got {self.behaviour_lag}")
        if not 0.0 <= self.vtrace_lambda <= 1.0:
            problems.append(f"`vtrace_lambda` must be in [0, 1], got {self.vtrace_lambda}")
        for name in ("clip_rho_threshold", "clip_pg_rho_threshold"):
            if not getattr(self, name) > 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        return problems


def vtrace_targets(config: IMPALAConfig):
    """The `TargetsFn` of IMPALA: V-trace values and policy-gradient advantages.

    ``rho_tm1 = exp(log π − log μ)`` with ``log μ = extras["log_prob"]`` ``[T, B]``;
    per environment stream (``[T]``): ``discount_t = gamma · env discount``,
    ``truncation_t`` from the trajectory, invalid transitions masked with
    ``sample_mask``. Returns ``(pg_advantage, v_s = v_tm1 + errors, 1, metrics)``
    with metrics ``rho_mean`` and ``rho_clipped`` (fraction with ρ > ρ̄).

    Espeholt et al. 2018, eq. 1 and §4.2.
    """

    def targets(trajectory: Trajectory, tr: Transitions, log_pi, values, bootstrap):
        rho_tm1 = jnp.exp(log_pi - tr.extras["log_prob"])
        discount_t = config.gamma * tr.discount_t * tr.valid

        def single(v_tm1, v_t, r_t, d_t, rho, trunc, valid):
            return ops.truncation_aware_vtrace_td_error_and_advantage(
                v_tm1, v_t, r_t, d_t, rho, trunc, config.vtrace_lambda,
                config.clip_rho_threshold, config.clip_pg_rho_threshold,
                sample_mask=valid,
            )

        out = time_major(single, trajectory.batch_shape)(
            values, bootstrap, tr.r_t * tr.valid, discount_t, rho_tm1,
            tr.truncation_t.astype(jnp.float32), tr.valid,
        )
        w = tr.valid.astype(jnp.float32)
        n = jnp.maximum(w.sum(), 1.0)
        metrics = {
            "rho_mean": (rho_tm1 * w).sum() / n,
            "rho_clipped": ((rho_tm1 > config.clip_rho_threshold) * w).sum() / n,
        }
        return out.pg_advantage, values + out.errors, jnp.ones_like(values), metrics

    return targets


def make_impala(config: IMPALAConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the IMPALA `Agent` for an environment with ``env_spec``.

    Args:
      config: an `IMPALAConfig` (validated here).
      env_spec: specs of one environment; an action `make_action_head` supports, one
        observation `Array` of any shape (flattened; Catch's ``[10, 5]`` board).

    Returns:
      `Agent` that acts with ``AgentState.extra.behaviour_params`` (its
      ``act_params``), stores ``{"log_prob": [B] float32}`` (``log μ(a|s)``) and
      learns with the loss ``−mean(log π(a|s) A_pg) + vf_coef · mean((v_s − v(s))²)
      − ent_coef · mean H(π(·|s))`` (see `vtrace_targets`).

    Raises:
      ValueError: on a bad config (naming the field) or an unsupported spec.
    """
    config.validate()
    return make_actor_critic_agent(
        config, env_spec, vtrace_targets(config), algo="IMPALA",
        behaviour_lag=config.behaviour_lag,
    )
