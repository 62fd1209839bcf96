"""Off-policy actor-critic (Off-PAC) with replay and a lagged behaviour network.

Degris, White & Sutton 2012, "Off-Policy Actor-Critic" (ICML; arXiv:1205.4839):
the data come from a behaviour policy μ, and the actor of the target policy π
follows the off-policy policy gradient ``E_μ[ρ_t ∇log π(a_t|s_t) (G_t − v(s_t))]``
with the importance ratio ``ρ_t = π(a_t|s_t) / μ(a_t|s_t)`` and a λ-return
``G_t`` whose trace is corrected by the ratios. As in rlx (``dasayan05/rlx``,
``rlx/algos/offpac.py``, ``OffPolicyActorCritic``), μ is a separate copy of the
network that fills a replay buffer and copies the learner every 10 updates.

**On the shared loop** (`jit_env.agents.make_trainer`). ``act`` samples from the
behaviour copy (``AgentState.extra.behaviour_params``, `Agent.act_params`) and
stores ``log μ(a_t|s_t)``. ``update`` adds the rollout to a circular replay of
*segments* — each environment's ``num_steps`` consecutive transitions, one row of
`jit_env.agents.replay` — then takes ``gradient_steps`` optimiser steps, each on
``batch_size`` segments drawn uniformly, once the buffer holds ``batch_size``
segments; after every ``behaviour_sync``-th update the behaviour copy becomes
the learner's parameters. Segments rather than rlx's whole episodes: episodes
have variable lengths and so do not fit a fixed-shape jitted buffer; a segment
keeps enough consecutive steps for multi-step corrections. Traces stop at
episode ends inside a segment and at its last step (bootstrapping from
``v(next_observation)``, the true final observation after a time-limit
truncation).

**Loss** (`offpac_loss`, per segment of length ``T``, π and ``v`` the learner's):
with ``δ_t = r_t + γ d_t v(s'_t) − v(s_t)``, the truncated ratios
``ρ̄_t = min(ρ_t, rho_clip)`` and ``c_t = λ min(ρ_t, trace_clip)``,

- ``A_t = δ_t + γ d_t c_{t+1} A_{t+1}`` (``A`` = 0 after the segment's last step,
  and ``c_{t+1}`` replaced by 0 where step ``t`` ends an episode): the
  per-decision importance-sampled λ-return error ``G_t − v(s_t)`` of
  `jit_env.ops.importance_corrected_td_errors` (rlax's operator of the same
  name; Sutton et al. 2014) before its outer ratio, computed here with each
  step's own bootstrap ``v(s'_t)`` because a segment crosses auto-resets;
- the off-policy error ``e_t = ρ̄_t A_t`` (gradients stopped);
- ``L = −mean(e_t log π(a_t|s_t)) + vf_coef · mean(e_t²)_{v} − ent_coef · mean H(π(·|s_t))``,
  where the value term's gradient is ``−2 e_t ∇v(s_t)`` (the squared error to
  the stopped target ``v(s_t) + e_t``), means over valid steps.

**Truncated importance weights.** Degris et al. (and rlx, which multiplies
``exp(log π − log μ)`` into its policy loss) use the ratios as they are. With
a replay whose data may be many behaviour refreshes old, an unclipped ρ — and
above all a product of ρ's along a trace — can be arbitrarily large; we truncate
both, as V-trace (Espeholt et al. 2018, ρ̄ and c̄) and Retrace (Munos et al. 2016,
``c = λ min(1, ρ)``) do, with default thresholds 1. ``rho_clip=None`` and
``trace_clip=None`` restore the unclipped ratios of the paper and rlx. The
critic is a neural network trained on this target, not the paper's linear
GTD(λ) critic.

**Defaults** (chosen here for ``CartPole-v1``; rlx's CartPole settings —
Adam 1e-4, γ 0.999, 256 hidden units, one gradient step per batch of episodes —
were not measured): 16 environments × 32 steps per update, replay of 64
segments (2,048 transitions, the last 4 rollouts), 16 segments per gradient
step, 4 gradient steps per update, behaviour refresh every 10 updates (rlx's),
λ 0.95, Adam 3e-4, gradient norm clipped to 0.5, ``ent_coef`` 0.0, ``vf_coef``
0.5, the 64-64 tanh actor and critic of `jit_env.agents.networks.ActorCritic`.
In the search that chose them (5 seeds, 500k steps each) Adam 1e-3 with 2
gradient steps and a 256-segment replay reached 500 and then collapsed onto one
action in 1–3 seeds of 5, and 5e-4 with a 64-segment replay left one seed of 5
near 320. What the defaults learn is measured by ``benchmarks/learning/run.py
--rows offpac``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jit_env import ops, specs
from jit_env.agents import replay
from jit_env.agents._actor_critic import ActorCriticConfig
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._optimization import make_optimizer
from jit_env.agents.networks import ActorCritic
from jit_env.rollout import Trajectory


def discrete_action_size(action_spec: specs.Spec, algo: str) -> int:
    """Number of actions of a scalar `DiscreteArray` action spec.

    Raises:
      ValueError: for any other action spec (names ``algo``).
    """
    if isinstance(action_spec, specs.DiscreteArray) and action_spec.shape == ():
        return int(np.asarray(action_spec.num_values))
    raise ValueError(f"{algo} supports a scalar DiscreteArray action, got {action_spec!r}")


def observation_size(obs_spec: specs.Spec, algo: str) -> tuple[tuple[int, ...], int]:
    """``(shape, flat size)`` of a numeric `Array` observation spec (flattened for the MLP).

    Raises:
      ValueError: for a structured (tree) observation spec (names ``algo``).
    """
    if isinstance(obs_spec, specs.Array):
        shape = tuple(int(s) for s in obs_spec.shape)
        return shape, math.prod(shape)
    raise ValueError(f"{algo} needs a single observation Array, got {obs_spec!r}")


@dataclasses.dataclass(frozen=True)
class OffPACConfig(ActorCriticConfig):
    """Hyper-parameters of Off-PAC and of its training run.

    The training-run fields are `TrainingConfig`'s, the optimiser, loss and
    network fields `ActorCriticConfig`'s (here Adam 3e-4, gradient clip 0.5,
    ``ent_coef`` 0, ``vf_coef`` 0.5, 64-64 tanh).

    Attributes:
      buffer_size: replay capacity in segments of ``num_steps`` transitions.
      batch_size: segments per gradient step, at most ``buffer_size``.
      gradient_steps: optimiser steps per update (per rollout).
      behaviour_sync: the behaviour network copies the learner after every
        ``behaviour_sync``-th update (rlx: 10; 1 makes μ the learner of the
        previous update).
      trace_lambda: λ of the corrected λ-return, in [0, 1] (0: one-step
        errors ``ρ̄_t δ_t``).
      rho_clip: ρ̄, truncation of the ratio weighting each step's error; ``None``
        for the unclipped ratio of Degris et al. and rlx.
      trace_clip: c̄, truncation of the ratios in the trace, ``c_t = λ min(ρ_t,
        c̄)``; ``None`` for unclipped.
    """

    sweepable: ClassVar[tuple[str, ...]] = ("trace_lambda",)

    num_envs: int = 16
    num_steps: int = 32
    total_steps: int = 500_000
    learning_rate: float = 3e-4
    optimizer: str = "adam"
    optimizer_eps: float = 1e-8
    buffer_size: int = 64
    batch_size: int = 16
    gradient_steps: int = 4
    behaviour_sync: int = 10
    trace_lambda: float = 0.95
    rho_clip: float | None = 1.0
    trace_clip: float | None = 1.0

    def problems(self) -> list[str]:
        """`ActorCriticConfig.problems` plus the replay, sync and ratio checks."""
        problems = super().problems()
        for name in ("buffer_size", "batch_size", "gradient_steps", "behaviour_sync"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                problems.append(f"`{name}` must be a positive int, got {value!r}")
        if (isinstance(self.batch_size, int) and isinstance(self.buffer_size, int)
                and self.batch_size > self.buffer_size):
            problems.append(f"`batch_size`={self.batch_size} exceeds `buffer_size`="
                            f"{self.buffer_size} (both in segments)")
        if not 0.0 <= self.trace_lambda <= 1.0:
            problems.append(f"`trace_lambda` must be in [0, 1], got {self.trace_lambda}")
        for name in ("rho_clip", "trace_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                problems.append(f"`{name}` must be positive or None (unclipped), got {value}")
        if self.normalize_advantages:
            # Standardising ρ̄·A gives the steps with ρ ≈ 0 (actions π has left) the
            # advantage −mean/std: when the mean is positive every such action is pushed
            # further down, and the policy collapses onto one action (measured: all 5
            # seeds on CartPole-v1 within 100k steps).
            problems.append("`normalize_advantages` is not supported by OffPAC (standardised "
                            "ratio-weighted errors drive the policy onto one action)")
        return problems


class OffPACExtra(NamedTuple):
    """Off-PAC's `AgentState.extra`.

    Attributes:
      behaviour_params: the behaviour network μ that ``act`` uses.
      replay: `jit_env.agents.replay.ReplayBuffer` of segments: ``observation``
        and ``next_observation`` ``[T, *obs]``, ``action`` ``[T]``, ``r_t`` and
        ``discount_t`` ``[T]`` float32, ``end_t`` and ``valid`` ``[T]`` bool,
        ``log_mu`` ``[T]`` float32.
      updates: updates done, ``int32`` scalar (drives ``behaviour_sync``).
    """

    behaviour_params: Any
    replay: replay.ReplayBuffer
    updates: jax.Array


def _truncate(ratio: jax.Array, clip: float | None) -> jax.Array:
    return ratio if clip is None else jnp.minimum(ratio, clip)


def offpac_errors(
    log_pi: jax.Array,
    log_mu: jax.Array,
    v_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    v_t: jax.Array,
    end_t: jax.Array,
    *,
    trace_lambda: float,
    rho_clip: float | None,
    trace_clip: float | None,
) -> jax.Array:
    """Off-policy errors ``e_t = ρ̄_t A_t`` of one segment (see the module docstring).

    Args:
      log_pi: ``log π(a_t|s_t)``, ``[T]`` float.
      log_mu: ``log μ(a_t|s_t)`` of the behaviour policy, ``[T]`` float.
      v_tm1: ``v(s_t)``, ``[T]`` float.
      r_t: rewards, ``[T]`` float.
      discount_t: ``γ ·`` the environment discount (0 on termination), ``[T]`` float.
      v_t: ``v(s'_t)`` of the bootstrap observations, ``[T]`` float.
      end_t: step ``t`` ends an episode (the trace stops), ``[T]`` bool.
      trace_lambda: λ in [0, 1].
      rho_clip: ρ̄ or ``None`` (unclipped).
      trace_clip: c̄ or ``None`` (unclipped).

    Returns:
      ``[T]`` errors, dtype of ``v_tm1``; with ``ρ = 1`` and no episode end they
      are ``G^λ_t − v(s_t)`` of `jit_env.ops.lambda_returns`.

    Raises:
      ValueError: if the arguments are not all of one shape ``[T]``.
    """
    shapes = {name: jnp.shape(x) for name, x in (
        ("log_pi", log_pi), ("log_mu", log_mu), ("v_tm1", v_tm1), ("r_t", r_t),
        ("discount_t", discount_t), ("v_t", v_t), ("end_t", end_t))}
    if len(set(shapes.values())) != 1 or len(shapes["v_tm1"]) != 1:
        raise ValueError(f"offpac_errors: every argument must have one shape [T], got {shapes}")
    rho = jnp.exp(log_pi - log_mu)
    rho_bar = _truncate(rho, rho_clip)
    c = trace_lambda * _truncate(rho, trace_clip)
    # c_{t+1}, cut where step t ends an episode and after the last step.
    c_next = jnp.where(end_t, 0.0, jnp.concatenate([c[1:], jnp.zeros((1,), c.dtype)]))
    delta = r_t + discount_t * v_t - v_tm1

    def body(acc, x):
        d, g, cn = x
        acc = d + g * cn * acc
        return acc, acc

    _, adv = jax.lax.scan(body, jnp.zeros((), delta.dtype), (delta, discount_t, c_next),
                          reverse=True)
    return rho_bar * adv


def offpac_loss(
    config: OffPACConfig,
    logits: jax.Array,
    values: jax.Array,
    bootstrap: jax.Array,
    batch: dict[str, jax.Array],
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Off-PAC's loss on ``N`` replayed segments of length ``T``.

    Args:
      config: the config (``gamma``, ``trace_lambda``, the clips, ``vf_coef``, ``ent_coef``).
      logits: learner's logits at the segments' observations, ``[N, T, A]`` float32.
      values: learner's ``v(s_t)``, ``[N, T]`` float32 (gradients flow).
      bootstrap: learner's ``v(s'_t)``, ``[N, T]`` (gradients are stopped here).
      batch: the replayed segments (see `OffPACExtra`): ``action [N, T]``, ``r_t``,
        ``discount_t``, ``end_t``, ``valid``, ``log_mu`` ``[N, T]``.

    Returns:
      ``(loss, metrics)``: the scalar loss ``−mean(e log π) + vf_coef ·
      mean((v + e − v)²) − ent_coef · mean H`` over valid steps, with ``e`` from
      `offpac_errors` (stopped); metrics ``policy_loss``, ``value_loss``,
      ``entropy``, ``rho_mean``, ``rho_max`` (untruncated ratios).
    """
    log_probs = jax.nn.log_softmax(logits)
    log_pi = jnp.take_along_axis(
        log_probs, batch["action"].astype(jnp.int32)[..., None], axis=-1)[..., 0]
    errors = jax.vmap(lambda *a: offpac_errors(
        *a, trace_lambda=config.trace_lambda, rho_clip=config.rho_clip,
        trace_clip=config.trace_clip))(
        jax.lax.stop_gradient(log_pi), batch["log_mu"], jax.lax.stop_gradient(values),
        batch["r_t"], config.gamma * batch["discount_t"], jax.lax.stop_gradient(bootstrap),
        batch["end_t"])
    errors = jax.lax.stop_gradient(errors)
    w = batch["valid"].astype(jnp.float32)
    n = jnp.maximum(w.sum(), 1.0)
    target = jax.lax.stop_gradient(values) + errors
    policy_loss = -(errors * log_pi * w).sum() / n
    value_loss = (jnp.square(target - values) * w).sum() / n
    entropy = (-(jnp.exp(log_probs) * log_probs).sum(-1) * w).sum() / n
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    rho = jnp.exp(jax.lax.stop_gradient(log_pi) - batch["log_mu"])
    metrics = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
               "rho_mean": (rho * w).sum() / n, "rho_max": jnp.where(w > 0, rho, 0.0).max()}
    return loss, metrics


def segments(trajectory: Trajectory) -> dict[str, jax.Array]:
    """A rollout as replay rows: one segment of ``T`` transitions per environment.

    Args:
      trajectory: rollout with batch shape ``(B,)`` whose extras hold
        ``log_prob [T, B]`` (the behaviour log-probabilities of ``act``).

    Returns:
      dict of ``[B, T, ...]`` arrays (keys of `OffPACExtra`'s replay).

    Raises:
      ValueError: if the batch shape is not ``(B,)`` or ``log_prob`` is missing.
    """
    if len(trajectory.batch_shape) != 1:
        raise ValueError(f"expected a batch of environments [T, B], got batch shape "
                         f"{trajectory.batch_shape}")
    if not isinstance(trajectory.extras, dict) or "log_prob" not in trajectory.extras:
        raise ValueError("the trajectory's extras must hold the behaviour `log_prob`")
    tr = trajectory.transitions()
    rows = {
        "observation": tr.observation, "next_observation": tr.next_observation,
        "action": tr.action, "r_t": tr.r_t.astype(jnp.float32),
        "discount_t": tr.discount_t.astype(jnp.float32), "end_t": tr.end_t,
        "valid": tr.valid, "log_mu": trajectory.extras["log_prob"].astype(jnp.float32),
    }
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), rows)


def make_offpac(config: OffPACConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the Off-PAC `Agent` for ``env_spec``.

    Args:
      config: an `OffPACConfig` (validated here).
      env_spec: specs of one environment: a scalar `DiscreteArray` action and a
        single observation `Array` of any shape (flattened for the networks).

    Returns:
      `Agent` whose ``act`` samples from the behaviour network and returns extras
      ``{"log_prob": [B] float32}``; ``act_greedy`` takes the learner's argmax;
      ``update`` stores the rollout's segments and takes ``gradient_steps``
      optimiser steps on `offpac_loss` once ``batch_size`` segments are stored,
      then refreshes the behaviour copy after every ``behaviour_sync``-th update.
      ``AgentState.step`` counts optimiser steps, ``AgentState.extra`` is an
      `OffPACExtra`. Metrics: ``loss``, ``policy_loss``, ``value_loss``,
      ``entropy``, ``rho_mean``, ``rho_max``, ``grad_norm`` (means over the
      update's gradient steps, 0 before learning starts), ``buffer_size``,
      ``learning``.

    Raises:
      ValueError: on a bad config (naming the fields) or an unsupported spec.
    """
    config.validate()
    action_size = discrete_action_size(env_spec.actions, "OffPAC")
    obs_shape, obs_size = observation_size(env_spec.observations, "OffPAC")
    action_dtype = env_spec.actions.dtype  # type: ignore[attr-defined]  # a DiscreteArray
    network = ActorCritic(action_size, False, tuple(config.hidden_sizes), config.activation)
    optimizer = make_optimizer(
        config.learning_rate, optimizer=config.optimizer, eps=config.optimizer_eps,
        rmsprop_decay=config.rmsprop_decay, max_grad_norm=config.max_grad_norm,
        anneal_steps=(config.num_updates * config.gradient_steps if config.anneal_lr else None),
    )
    dist = ops.softmax()

    def forward(params, observation):
        lead = observation.shape[: observation.ndim - len(obs_shape)]
        flat = jnp.asarray(observation, jnp.float32).reshape(lead + (obs_size,))
        return cast(tuple[jax.Array, jax.Array], network.apply(params, flat))

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, jnp.zeros((obs_size,), jnp.float32))
        obs_dtype = env_spec.observations.dtype  # type: ignore[attr-defined]  # an Array
        t = config.num_steps
        example = {
            "observation": jnp.zeros((t,) + obs_shape, obs_dtype),
            "next_observation": jnp.zeros((t,) + obs_shape, obs_dtype),
            "action": jnp.zeros((t,), action_dtype),
            "r_t": jnp.zeros((t,), jnp.float32), "discount_t": jnp.zeros((t,), jnp.float32),
            "end_t": jnp.zeros((t,), bool), "valid": jnp.zeros((t,), bool),
            "log_mu": jnp.zeros((t,), jnp.float32),
        }
        extra = OffPACExtra(params, replay.init(example, config.buffer_size),
                            jnp.zeros((), jnp.int32))
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32), extra)

    def act(params, timestep, policy_state, key):
        logits, _ = forward(params, timestep.observation)
        action = dist.sample(key, logits)
        return action.astype(action_dtype), policy_state, {"log_prob": dist.logprob(action, logits)}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the argmax is deterministic
        logits, _ = forward(params, timestep.observation)
        return jnp.argmax(logits, axis=-1).astype(action_dtype), policy_state, {}

    def act_params(agent_state: AgentState):
        return agent_state.extra.behaviour_params

    def loss_fn(params, batch):
        logits, values = forward(params, batch["observation"])
        _, bootstrap = forward(params, batch["next_observation"])
        loss, metrics = offpac_loss(config, logits, values, bootstrap, batch)
        return loss, metrics | {"loss": loss}

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def gradient_step(agent_state: AgentState, key: jax.Array):
        batch = replay.sample(agent_state.extra.replay, key, config.batch_size)
        grads, metrics = grad_fn(agent_state.params, batch)
        metrics["grad_norm"] = optax.global_norm(grads)
        updates, opt_state = optimizer.update(grads, agent_state.opt_state, agent_state.params)
        params = optax.apply_updates(agent_state.params, updates)
        return agent_state._replace(params=params, opt_state=opt_state,
                                    step=agent_state.step + 1), metrics

    metric_names = ("loss", "policy_loss", "value_loss", "entropy", "rho_mean", "rho_max",
                    "grad_norm")

    def learn(agent_state, key):
        agent_state, metrics = jax.lax.scan(
            gradient_step, agent_state, jax.random.split(key, config.gradient_steps))
        return agent_state, jax.tree.map(jnp.mean, metrics)

    def skip(agent_state, key):
        del key
        return agent_state, {name: jnp.zeros((), jnp.float32) for name in metric_names}

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        extra = agent_state.extra
        buffer = replay.add(extra.replay, segments(trajectory))
        agent_state = agent_state._replace(extra=extra._replace(replay=buffer))
        learning = buffer.size >= config.batch_size
        agent_state, metrics = jax.lax.cond(learning, learn, skip, agent_state, key)
        updates = extra.updates + 1
        refresh = updates % config.behaviour_sync == 0
        behaviour = jax.tree.map(lambda new, old: jnp.where(refresh, new, old),
                                 agent_state.params, extra.behaviour_params)
        agent_state = agent_state._replace(extra=OffPACExtra(behaviour, buffer, updates))
        metrics = dict(metrics) | {"buffer_size": buffer.size.astype(jnp.float32),
                                   "learning": learning.astype(jnp.float32)}
        return agent_state, metrics

    return Agent(init=init, act=act, update=update, act_params=act_params,
                 act_greedy=act_greedy)
