"""Proximal Policy Optimization (PPO-Clip) as a functional `Agent`.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7 (clipped
surrogate) and eq. 9 (combined loss); advantages by truncation-aware GAE
(Schulman et al. 2016, eq. 16). Implementation details and the CartPole
defaults follow Huang et al. 2022, "The 37 Implementation Details of PPO", and
PureJaxRL's ``ppo.py`` CartPole-v1 configuration (4 environments × 128 steps,
4 epochs × 4 minibatches, Adam 2.5e-4 with linear annealing, γ = 0.99,
λ = 0.95, ε = 0.2, entropy 0.01, value 0.5, gradient norm 0.5, 64-64 tanh).

Built from `jit_env.rollout.Trajectory` (GAE, minibatches) and `jit_env.ops`
(``clipped_surrogate_pg_loss``, ``softmax``, ``gaussian_diagonal``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, cast

import jax
import jax.numpy as jnp
import optax

from jit_env import ops, specs
from jit_env.agents._action_heads import (
    GAUSSIAN_BOUNDS,
    ActionHead,
    make_action_head,
    split_observation,
    split_observation_spec,
)
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents._optimization import make_optimizer, normalize_advantages
from jit_env.agents.encoders import EncoderConfig, make_actor_critic_network
from jit_env.agents.networks import network_problems
from jit_env.rollout import Trajectory


@dataclasses.dataclass(frozen=True)
class PPOConfig(EncoderConfig, TrainingConfig):
    """Hyper-parameters of PPO and of its training run.

    The training-run fields (``env``, ``num_envs``, ``num_steps``, ``total_steps``,
    ``gamma``, ``normalize_observations``, ``normalize_rewards``) are
    `TrainingConfig`'s; the observation-encoder fields (``torso``, ``cnn_*``) are
    `jit_env.agents.encoders.EncoderConfig`'s.

    Attributes:
      update_epochs: passes over each rollout.
      num_minibatches: minibatches per epoch; must divide ``num_envs * num_steps``.
      learning_rate: Adam step size.
      anneal_lr: decay the step size linearly to 0 over training.
      gae_lambda: GAE λ.
      clip_eps: surrogate clipping ε (also clips the value loss if enabled).
      ent_coef: entropy bonus coefficient.
      vf_coef: value-loss coefficient.
      clip_value_loss: PPO2-style clipped value loss.
      max_grad_norm: global gradient-norm clip.
      hidden_sizes: widths of the policy and value MLPs.
      activation: hidden activation (``tanh``, ``relu``, ``gelu``, ``elu``).
      normalize_advantages: standardise advantages per minibatch.
      gaussian_bound: how a bounded Gaussian action leaf is kept in its bounds,
        ``"clip"`` (the environment clips the sample) or ``"tanh"`` (squashed
        sample); see `jit_env.agents.make_action_head`.
    """

    sweepable: ClassVar[tuple[str, ...]] = (
        "learning_rate", "gae_lambda", "clip_eps", "ent_coef", "vf_coef", "max_grad_norm",
    )

    update_epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    clip_value_loss: bool = True
    max_grad_norm: float = 0.5
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    normalize_advantages: bool = True
    gaussian_bound: str = "clip"

    def problems(self) -> list[str]:
        """`TrainingConfig.problems` plus PPO's own checks."""
        problems = super().problems()
        if self.gaussian_bound not in GAUSSIAN_BOUNDS:
            problems.append(
                f"`gaussian_bound` must be one of {list(GAUSSIAN_BOUNDS)}, "
                f"got {self.gaussian_bound!r}"
            )
        for name in ("update_epochs", "num_minibatches"):
            if getattr(self, name) <= 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if not problems and self.steps_per_update % self.num_minibatches:
            problems.append(
                f"`num_minibatches`={self.num_minibatches} must divide num_envs * num_steps "
                f"= {self.steps_per_update}"
            )
        if not 0.0 <= self.gae_lambda <= 1.0:
            problems.append(f"`gae_lambda` must be in [0, 1], got {self.gae_lambda}")
        for name in ("learning_rate", "clip_eps", "max_grad_norm"):
            if getattr(self, name) <= 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        problems += network_problems(self.hidden_sizes, self.activation)
        return problems + self.torso_problems()


@dataclasses.dataclass(frozen=True)
class ContinuousPPOConfig(PPOConfig):
    """`PPOConfig` with continuous-control defaults (``jit-env train --algo ppo_continuous``).

    Same fields as `PPOConfig`; only the defaults differ. They are CleanRL's
    ``ppo_continuous_action.py`` (Huang et al. 2022, "The 37 Implementation
    Details of PPO", continuous-action details): one environment × 2048 steps,
    10 epochs × 32 minibatches (64 transitions each), Adam 3e-4 annealed
    linearly, γ = 0.99, λ = 0.95, ε = 0.2, no entropy bonus, value coefficient
    0.5, clipped value loss, gradient norm 0.5, 64-64 tanh networks,
    observation and reward normalisation; the policy is a diagonal Gaussian
    with a state-independent log-std initialised to 0 and its samples are
    clipped to the action bounds only when stepping (`ClipAction`).

    Deviations from CleanRL: ``env`` is ``Pendulum-v1`` (CleanRL's default is
    ``HalfCheetah-v4``) with ``total_steps`` 1e6 (CleanRL's default);
    normalised observations and rewards are not clipped to ±10 (CleanRL wraps
    ``gym.wrappers.TransformObservation/TransformReward`` with ``np.clip``).
    """

    env: str = "Pendulum-v1"
    num_envs: int = 1
    num_steps: int = 2048
    total_steps: int = 1_000_000
    gamma: float = 0.99
    normalize_observations: bool = True
    normalize_rewards: bool = True
    update_epochs: int = 10
    num_minibatches: int = 32
    learning_rate: float = 3e-4
    ent_coef: float = 0.0


class PPOTargets(NamedTuple):
    """What PPO's loss compares the current policy with, per transition (`ppo_loss`).

    Every field has the same shape ``S`` (``[T, B]`` for a rollout, ``[N]`` for a
    minibatch of rows, ``[T, b]`` for a minibatch of sequences).

    Attributes:
      log_prob: behaviour log-probabilities of the stored actions, float32.
      value: behaviour value estimates ``v(s_t)``, float32.
      advantage: GAE advantages, float32.
      target: value targets (GAE λ-returns), float32.
      valid: bool; False rows (ignored-action steps of ``next_step``
        auto-reset) are masked out of every mean.
    """

    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array
    valid: jax.Array


class PPOBatch(NamedTuple):
    """Feed-forward PPO's rollout data, split into minibatches of rows by `make_ppo`.

    Attributes:
      observation: observations ``[*S, ...]`` (a pytree of them for a composite
        observation spec).
      action: stored actions, a tree of ``[*S, ...]`` leaves like the action spec.
      targets: the `PPOTargets` of the rows, each ``S``.
    """

    observation: jax.Array
    action: jax.Array
    targets: PPOTargets


def ppo_action_head(config: PPOConfig, env_spec: specs.EnvironmentSpec, algo: str = "PPO"
                    ) -> tuple[ActionHead, specs.Spec]:
    """The policy's `ActionHead` and the observation spec its network sees.

    The action mask, if the observation carries one under ``"action_mask"``,
    is split off (`jit_env.agents.split_observation_spec`) and handed to the head.

    Raises:
      ValueError: for an unsupported action leaf or mask (see `make_action_head`).
    """
    obs_spec, mask_spec = split_observation_spec(env_spec.observations)
    head = make_action_head(env_spec.actions, mask_spec,
                            gaussian_bound=config.gaussian_bound, algo=algo)
    return head, obs_spec


def _ppo_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """PPO's optimiser: global-norm clipping then Adam (ε = 1e-5), optionally annealed.

    `jit_env.agents._optimization.make_optimizer` with ``config.learning_rate`` and
    ``config.max_grad_norm``; when ``config.anneal_lr`` the step size decays
    linearly to 0 over ``num_updates * update_epochs * num_minibatches``
    optimiser steps (Huang et al. 2022, details 4–5 and 11).

    Returns:
      An ``optax.GradientTransformation`` on the flattened parameters.
    """
    num_steps_opt = config.num_updates * config.update_epochs * config.num_minibatches
    return make_optimizer(
        config.learning_rate,
        eps=1e-5,
        max_grad_norm=config.max_grad_norm,
        anneal_steps=num_steps_opt if config.anneal_lr else None,
    )


def ppo_targets(config: PPOConfig, trajectory: Trajectory, bootstrap: jax.Array) -> PPOTargets:
    """The rollout's PPO targets: stored log-probabilities and values, GAE, validity.

    Args:
      config: the `PPOConfig` (``gamma``, ``gae_lambda``).
      trajectory: a rollout of the agent's ``act`` (extras ``log_prob`` and
        ``value``, ``[T, B]`` float32).
      bootstrap: ``[T, B]`` float32 value of each transition's next observation.

    Returns:
      `PPOTargets` with ``advantage`` and ``target`` from `Trajectory.gae`
      (Schulman et al. 2016, eq. 16; truncation bootstraps from ``bootstrap``).
    """
    values: jax.Array = trajectory.extras["value"]
    advantages, targets = trajectory.gae(values, bootstrap, config.gamma, config.gae_lambda)
    return PPOTargets(
        log_prob=trajectory.extras["log_prob"],
        value=values,
        advantage=advantages,
        target=targets,
        valid=trajectory.transitions().valid,
    )


def ppo_loss(
    config: PPOConfig,
    log_prob: jax.Array,
    entropy: jax.Array,
    value: jax.Array,
    batch: PPOTargets,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """PPO-Clip's combined loss on one minibatch, given the current policy's outputs.

    ``L = L^CLIP + vf_coef · L^VF − ent_coef · H`` (Schulman et al. 2017, eq. 9,
    sign flipped to a loss), with the clipped surrogate of eq. 7
    (`jit_env.ops.clipped_surrogate_pg_loss`), the optionally clipped value loss
    of OpenAI baselines' ``ppo2`` and per-minibatch advantage standardisation
    (Huang et al. 2022, details 7–9). Rows with ``valid == False`` are masked
    out of every mean. Feed-forward PPO (`make_ppo`) and recurrent PPO
    (`jit_env.agents.recurrent_ppo`) both call this; they differ only in how they
    recompute ``log_prob``, ``entropy`` and ``value``.

    Args:
      config: the `PPOConfig` (``clip_eps``, ``vf_coef``, ``ent_coef``,
        ``clip_value_loss``, ``normalize_advantages``).
      log_prob: log π(a|s) of the stored actions under the current parameters,
        ``[N]`` (or any shape ``S`` shared by all arguments) float32.
      entropy: policy entropy per row, ``S`` float32.
      value: current value estimates, ``S`` float32.
      batch: the minibatch's `PPOTargets` (behaviour log-probabilities and
        values, GAE advantages and λ-returns, validity), each ``S``.

    Returns:
      ``(loss, metrics)``: a float32 scalar and a dict of float32 scalars
      (``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl``,
      ``clip_fraction``).
    """
    w = batch.valid.astype(jnp.float32)
    n = jnp.maximum(w.sum(), 1.0)
    adv = batch.advantage
    if config.normalize_advantages:
        adv = normalize_advantages(adv, w)
    log_ratio = log_prob - batch.log_prob
    ratio = jnp.exp(log_ratio)
    # rlax's clipped surrogate averages over all rows; rescale to the valid ones.
    pg_loss = ops.clipped_surrogate_pg_loss(
        ratio.reshape(-1), (adv * w).reshape(-1), config.clip_eps
    ) * (w.size / n)
    value_error = jnp.square(value - batch.target)
    if config.clip_value_loss:
        clipped = batch.value + jnp.clip(value - batch.value, -config.clip_eps, config.clip_eps)
        value_error = jnp.maximum(value_error, jnp.square(clipped - batch.target))
    value_loss = 0.5 * (value_error * w).sum() / n
    entropy_mean = (entropy * w).sum() / n
    loss = pg_loss + config.vf_coef * value_loss - config.ent_coef * entropy_mean
    metrics = {
        "loss": loss,
        "policy_loss": pg_loss,
        "value_loss": value_loss,
        "entropy": entropy_mean,
        "approx_kl": (((ratio - 1.0) - log_ratio) * w).sum() / n,
        "clip_fraction": ((jnp.abs(ratio - 1.0) > config.clip_eps) * w).sum() / n,
    }
    return loss, metrics


def ppo_epochs(
    config: PPOConfig,
    optimizer: optax.GradientTransformation,
    loss_fn: Callable[[Any, Any], tuple[jax.Array, dict[str, jax.Array]]],
    agent_state: AgentState,
    key: jax.Array,
    minibatches: Callable[[jax.Array], Any],
) -> tuple[AgentState, dict[str, jax.Array]]:
    """``update_epochs`` passes of ``num_minibatches`` gradient steps (one ``lax.scan`` each).

    Args:
      config: the `PPOConfig`.
      optimizer: the optax optimiser (PPO's: clipping then Adam, `_ppo_optimizer`).
      loss_fn: ``loss_fn(params, batch) -> (loss, metrics)`` for one minibatch
        (a `PPOBatch` for `make_ppo`).
      agent_state: parameters and optimiser state before the update.
      key: PRNG key, split into one key per epoch.
      minibatches: ``minibatches(epoch_key) -> batches``, a pytree (e.g. a
        `PPOBatch`) whose leaves have a leading ``num_minibatches`` axis
        (`Trajectory.minibatches`).

    Returns:
      ``(agent_state, metrics)``: ``step`` advanced by ``update_epochs *
      num_minibatches``; metrics averaged over every minibatch.
    """
    grad_fn = jax.grad(loss_fn, has_aux=True)

    def minibatch_step(state: AgentState, batch):
        grads, metrics = grad_fn(state.params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return AgentState(params, opt_state, state.step + 1, state.extra), metrics

    def epoch(state, epoch_key):
        return jax.lax.scan(minibatch_step, state, minibatches(epoch_key))

    agent_state, metrics = jax.lax.scan(
        epoch, agent_state, jax.random.split(key, config.update_epochs)
    )
    return agent_state, jax.tree.map(jnp.mean, metrics)


def make_ppo(config: PPOConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the PPO `Agent` for an environment with ``env_spec``.

    Args:
      config: a validated `PPOConfig` (or `ContinuousPPOConfig`).
      env_spec: the (unbatched) environment's specs; the observation is one
        numeric array or a pytree of them (`jit_env.specs.Dict` / ``Tuple``),
        read leaf by leaf as ``config.torso`` says
        (`jit_env.agents.encoders.make_actor_critic_network`: flattened and
        concatenated, a CNN for images), optionally with an ``"action_mask"``
        entry (see `jit_env.agents.make_action_head`); the action any spec
        `make_action_head` supports (categorical and Gaussian leaves, in a
        `specs.Tuple` / `specs.Dict` or alone).

    Returns:
      `Agent` whose ``act`` returns extras ``{"log_prob": [B] float32,
      "value": [B] float32}`` and whose ``update`` does ``update_epochs`` passes of
      ``num_minibatches`` Adam steps on one `Trajectory`. A float action leaf is a
      diagonal Gaussian with a state-independent log-std; with ``gaussian_bound
      = "clip"`` ``act`` returns the *unclipped* sample and its log-probability (the
      training stack's `ClipAction` clips a single bounded action when stepping, as
      CleanRL's ``ppo_continuous_action.py`` does with ``gym.wrappers.ClipAction``).
      Masked actions (an ``"action_mask"`` observation entry) are never sampled
      and never the greedy action.

    Raises:
      ValueError: on an invalid config, or an unsupported action or observation spec.
    """
    config.validate()
    head, obs_spec = ppo_action_head(config, env_spec)
    net = make_actor_critic_network(config, obs_spec, head.size, head.continuous, algo="PPO",
                                    log_std_size=head.log_std_size)
    network = net.module
    optimizer = _ppo_optimizer(config)

    def forward(params, observation) -> tuple[Any, jax.Array, Any]:
        """``(policy head, value [...], action mask)`` of observations with leading axes
        ``[...]``."""
        obs, mask = split_observation(observation, head.masked)
        out, value = cast(tuple[Any, jax.Array], network.apply(params, net.prepare(obs)))
        return out, value, mask

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, net.example)
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def act(params, timestep, policy_state, key):
        out, value, mask = forward(params, timestep.observation)
        action = head.sample(key, out, mask)
        log_prob = head.logprob(action, out, mask)
        return action, policy_state, {"log_prob": log_prob, "value": value}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the mode: deterministic
        out, _, mask = forward(params, timestep.observation)
        return head.mode(out, mask), policy_state, {}

    def loss_fn(params, batch: PPOBatch):
        out, value, mask = forward(params, batch.observation)
        log_prob = head.logprob(batch.action, out, mask)
        return ppo_loss(config, log_prob, head.entropy(out, mask), value, batch.targets)

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        tr = trajectory.transitions()
        bootstrap = cast(jax.Array, network.apply(
            agent_state.params, net.prepare(split_observation(tr.next_observation, head.masked)[0]),
            method="value",
        ))
        data = PPOBatch(observation=tr.observation, action=tr.action,
                        targets=ppo_targets(config, trajectory, bootstrap))
        return ppo_epochs(
            config, optimizer, loss_fn, agent_state, key,
            lambda k: trajectory.minibatches(k, config.num_minibatches, data),
        )

    return Agent(init=init, act=act, update=update, act_greedy=act_greedy)
