"""What REINFORCE, A2C and IMPALA share: config fields, network, optimiser, loss.

The three agents differ only in how a rollout becomes per-transition policy
advantages and value targets (Monte-Carlo returns, GAE, V-trace); each module
passes that as a `TargetsFn` to `make_actor_critic_agent`, which builds the rest:

- a policy over any action spec of categorical and Gaussian leaves
  (`jit_env.agents.make_action_head`; masks from an ``"action_mask"`` observation
  entry) and a state-value baseline, the separate 64-64 tanh MLPs of
  `jit_env.agents.networks.ActorCritic` (the SB3 ``MlpPolicy`` / CleanRL
  architecture and orthogonal initialisation), on the observation read as
  ``config.torso`` says (`jit_env.agents.encoders.make_actor_critic_network`:
  leaves flattened and concatenated, a CNN torso for image leaves);
- the loss ``L = L_pg + vf_coef · L_v − ent_coef · H`` with
  ``L_pg = −mean(log π(a_t|s_t) · A_t)`` (`jit_env.ops.policy_gradient_loss`),
  ``L_v = mean((G_t − v(s_t))²)`` (SB3 A2C's ``F.mse_loss``; no ½) and
  ``H = mean entropy`` (`jit_env.ops.entropy_loss`), averaged over valid transitions;
- one optimiser step per rollout: gradient-norm clipping then RMSprop (PyTorch's
  form, ε outside the square root, as SB3 uses it) or Adam
  (`jit_env.agents._optimization.make_optimizer`);
- optionally a lagged behaviour copy of the parameters in ``AgentState.extra``
  (`ActorCriticExtra`) that ``act`` uses (`Agent.act_params`), refreshed every
  ``behaviour_lag`` updates.

Arrays are time-major ``[T, B, ...]`` as in `jit_env.rollout.Trajectory`.
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
    make_action_head,
    split_observation,
    split_observation_spec,
)
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents._optimization import OPTIMIZERS, make_optimizer, normalize_advantages
from jit_env.agents.encoders import EncoderConfig, make_actor_critic_network
from jit_env.agents.networks import network_problems
from jit_env.rollout import Trajectory, Transitions

TargetsFn = Callable[
    [Trajectory, Transitions, jax.Array, jax.Array, jax.Array],
    tuple[jax.Array, "jax.Array | None", jax.Array, dict[str, jax.Array]],
]
"""``targets(trajectory, transitions, log_pi, values, bootstrap)`` ->
``(adv, target, weight, metrics)``.

Inputs (gradients already stopped): ``log_pi`` ``[T, B]`` float32, log-probability of
the stored actions under the parameters being learned; ``values`` ``[T, B]``
``v(s_t)``; ``bootstrap`` ``[T, B]`` ``v`` of ``transitions.next_observation``.
Outputs: policy advantages ``[T, B]``, value targets ``[T, B]`` (``None``: no value
loss), per-transition loss weights ``[T, B]`` float32 in [0, 1] (multiplied by
``transitions.valid``) and scalar metrics.
"""


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig(EncoderConfig, TrainingConfig):
    """Hyper-parameters shared by the policy-gradient agents (see each subclass).

    The observation-encoder fields (``torso``, ``cnn_*``) are
    `jit_env.agents.encoders.EncoderConfig`'s.

    Attributes:
      learning_rate: optimiser step size.
      optimizer: ``"rmsprop"`` (PyTorch ``RMSprop``: ε outside the square root,
        no momentum, no centring) or ``"adam"``.
      rmsprop_decay: RMSprop's squared-gradient decay (PyTorch ``alpha``).
      optimizer_eps: ε of RMSprop or Adam.
      anneal_lr: decay the step size linearly to 0 over training.
      ent_coef: entropy bonus coefficient.
      vf_coef: coefficient of the mean squared value error.
      max_grad_norm: global gradient-norm clip.
      normalize_advantages: standardise advantages over the valid transitions of
        each update.
      hidden_sizes: widths of the policy and value MLPs.
      activation: hidden activation (``tanh``, ``relu``, ``gelu``, ``elu``).
      rollout: ``"steps"`` (each update: ``num_steps`` steps of ``num_envs``
        auto-resetting environments) or ``"episodes"`` (each update: ``num_envs``
        whole episodes from reset, at most ``horizon`` steps each,
        `jit_env.rollout.episodes`; rlx's rollout unit, ``rlx/algos/reinforce.py``).
      horizon: most steps of an episode with ``rollout="episodes"`` (rlx's
        ``--horizon``, default 500); ``num_steps`` is then unused.
      gaussian_bound: ``"clip"`` or ``"tanh"``, how a bounded Gaussian action leaf
        keeps to its bounds (`jit_env.agents.make_action_head`).
    """

    sweepable: ClassVar[tuple[str, ...]] = (
        "learning_rate", "optimizer_eps", "rmsprop_decay", "ent_coef", "vf_coef", "max_grad_norm",
    )

    learning_rate: float = 7e-4
    optimizer: str = "rmsprop"
    rmsprop_decay: float = 0.99
    optimizer_eps: float = 1e-5
    anneal_lr: bool = False
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantages: bool = False
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    rollout: str = "steps"
    horizon: int = 500
    gaussian_bound: str = "clip"

    @property
    def steps_per_update(self) -> int:
        """``num_envs * num_steps``, or ``num_envs * horizon`` (padding included) for episodes."""
        if self.rollout == "episodes":
            return self.num_envs * self.horizon
        return self.num_envs * self.num_steps

    def problems(self) -> list[str]:
        """`TrainingConfig.problems` plus the shared actor-critic checks."""
        problems = super().problems() + rollout_problems(self)
        if self.gaussian_bound not in GAUSSIAN_BOUNDS:
            problems.append(
                f"`gaussian_bound` must be one of {list(GAUSSIAN_BOUNDS)}, "
                f"got {self.gaussian_bound!r}"
            )
        for name in ("learning_rate", "optimizer_eps", "max_grad_norm"):
            if not getattr(self, name) > 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        for name in ("ent_coef", "vf_coef"):
            if not getattr(self, name) >= 0:
                problems.append(f"`{name}` must be >= 0, got {getattr(self, name)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(
                f"`optimizer` must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if not 0.0 <= self.rmsprop_decay < 1.0:
            problems.append(f"`rmsprop_decay` must be in [0, 1), got {self.rmsprop_decay}")
        problems += network_problems(self.hidden_sizes, self.activation)
        return problems + self.torso_problems()


ROLLOUTS = ("steps", "episodes")
"""The values of ``ActorCriticConfig.rollout``."""


def rollout_problems(config: ActorCriticConfig) -> list[str]:
    """The problems of ``rollout`` / ``horizon`` (``rollout="episodes"`` runs unnormalised)."""
    if config.rollout not in ROLLOUTS:
        return [f"`rollout` must be one of {list(ROLLOUTS)}, got {config.rollout!r}"]
    problems = []
    if config.horizon <= 0:
        problems.append(f"`horizon` must be positive, got {config.horizon}")
    if config.rollout == "episodes":
        for name in ("normalize_observations", "normalize_rewards"):
            if getattr(config, name):
                problems.append(f"`{name}` is not supported with `rollout`='episodes' "
                                "(statistics shared across a batch of episodes)")
    return problems


class ActorCriticExtra(NamedTuple):
    """The actor-critic family's `AgentState.extra` when it acts with lagged parameters.

    Attributes:
      behaviour_params: the parameters ``act`` uses (`Agent.act_params`), a copy
        of ``AgentState.params`` refreshed after every ``behaviour_lag``-th update.
    """

    behaviour_params: Any




def make_actor_critic_agent(
    config: ActorCriticConfig,
    env_spec: specs.EnvironmentSpec,
    targets: TargetsFn,
    *,
    algo: str,
    behaviour_lag: int = 0,
) -> Agent:
    """The `Agent` of a policy-gradient method with advantages from ``targets``.

    Args:
      config: a validated `ActorCriticConfig` subclass.
      env_spec: specs of one environment: any action spec `make_action_head`
        supports, and an observation of numeric arrays (one, or a pytree of
        them), read as ``config.torso`` says
        (`jit_env.agents.encoders.make_actor_critic_network`), optionally in a
        `specs.Dict` with an ``"action_mask"``.
      targets: the method's `TargetsFn`.
      algo: name used in error messages.
      behaviour_lag: 0 to act with the learned parameters (``AgentState.extra``
        is then ``None``); ``K > 0`` to act with a copy kept in
        ``AgentState.extra`` (`ActorCriticExtra`) and refreshed after every
        ``K``-th update (so data is collected by parameters up to ``K − 1``
        updates old).

    Returns:
      `Agent` whose ``act`` returns extras ``{"log_prob": [B] float32}`` (the
      behaviour log-probability of the sampled action) and whose ``update`` takes
      one optimiser step on the rollout; metrics ``loss``, ``policy_loss``,
      ``value_loss``, ``entropy``, ``grad_norm`` plus those of ``targets``.

    Raises:
      ValueError: on an unsupported action or observation spec, or a bad config.
    """
    config.validate()
    obs_spec, mask_spec = split_observation_spec(env_spec.observations)
    head = make_action_head(env_spec.actions, mask_spec,
                            gaussian_bound=config.gaussian_bound, algo=algo)
    net = make_actor_critic_network(config, obs_spec, head.size, head.continuous, algo=algo,
                                    log_std_size=head.log_std_size)
    network = net.module
    optimizer = make_optimizer(
        config.learning_rate,
        optimizer=config.optimizer,
        eps=config.optimizer_eps,
        rmsprop_decay=config.rmsprop_decay,
        max_grad_norm=config.max_grad_norm,
        anneal_steps=config.num_updates if config.anneal_lr else None,
    )

    def forward(params, observation) -> tuple[Any, jax.Array, Any]:
        """``(policy head, value [...], mask)`` of observations with leading axes ``[...]``."""
        obs, mask = split_observation(observation, head.masked)
        out, v = cast(tuple[Any, jax.Array], network.apply(params, net.prepare(obs)))
        return out, v, mask

    def value(params, observation) -> jax.Array:
        """``value [...]`` of observations with leading axes ``[...]`` (the critic only)."""
        obs, _ = split_observation(observation, head.masked)
        return cast(jax.Array, network.apply(params, net.prepare(obs), method="value"))

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, net.example)
        extra = ActorCriticExtra(params) if behaviour_lag else None
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32), extra)

    def act(params, timestep, policy_state, key):
        out, _, mask = forward(params, timestep.observation)
        action = head.sample(key, out, mask)
        return action, policy_state, {"log_prob": head.logprob(action, out, mask)}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the mode is deterministic
        out, _, mask = forward(params, timestep.observation)
        return head.mode(out, mask), policy_state, {}

    def act_params(agent_state: AgentState):
        return agent_state.extra.behaviour_params if behaviour_lag else agent_state.params

    def loss_fn(params, trajectory: Trajectory):
        tr = trajectory.transitions()
        out, values, mask = forward(params, tr.observation)
        bootstrap = jax.lax.stop_gradient(value(params, tr.next_observation))
        log_pi_all = head.logprob(tr.action, out, mask)
        log_pi = jax.lax.stop_gradient(log_pi_all)
        adv, target, weight, metrics = targets(
            trajectory, tr, log_pi, jax.lax.stop_gradient(values), bootstrap
        )
        w = weight * tr.valid
        n = jnp.maximum(w.sum(), 1.0)
        if config.normalize_advantages:
            adv = normalize_advantages(adv, w)
        rows = w.size
        if head.plain_softmax:
            # rlax's losses average over all rows; rescale to the weighted ones.
            pg_loss = ops.policy_gradient_loss(
                out.reshape(rows, head.size), tr.action.reshape(rows).astype(jnp.int32),
                adv.reshape(rows), w.reshape(rows),
            ) * (rows / n)
            entropy = -ops.entropy_loss(out.reshape(rows, head.size), w.reshape(rows)) * (
                rows / n
            )
        else:  # the same two means for any action head
            pg_loss = -(log_pi_all * jax.lax.stop_gradient(adv) * w).sum() / n
            entropy = (head.entropy(out, mask) * w).sum() / n
        value_loss = (
            jnp.zeros((), jnp.float32)
            if target is None
            else (jnp.square(target - values) * w).sum() / n
        )
        loss = pg_loss + config.vf_coef * value_loss - config.ent_coef * entropy
        metrics = dict(metrics) | {
            "loss": loss, "policy_loss": pg_loss, "value_loss": value_loss, "entropy": entropy,
        }
        return loss, metrics

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        del key  # one full-batch gradient step: nothing random
        grads, metrics = grad_fn(agent_state.params, trajectory)
        metrics["grad_norm"] = optax.global_norm(grads)
        updates, opt_state = optimizer.update(grads, agent_state.opt_state, agent_state.params)
        params = optax.apply_updates(agent_state.params, updates)
        step = agent_state.step + 1
        extra = agent_state.extra
        if behaviour_lag:
            refresh = step % behaviour_lag == 0
            extra = ActorCriticExtra(jax.tree.map(
                lambda new, old: jnp.where(refresh, new, old), params, extra.behaviour_params
            ))
        return AgentState(params, opt_state, step, extra), metrics

    return Agent(init=init, act=act, update=update, act_params=act_params,
                 act_greedy=act_greedy)


def time_major(fn: Callable[..., Any], batch_shape: tuple[int, ...]) -> Callable[..., Any]:
    """``fn`` on one ``[T]`` stream, vmapped over each batch axis of ``[T, *batch]``."""
    for _ in batch_shape:
        fn = jax.vmap(fn, in_axes=1, out_axes=1)
    return fn
