"""What REINFORCE, A2C and IMPALA share: config fields, network, optimiser, loss.

The three agents differ only in how a rollout becomes per-transition policy
advantages and value targets (Monte-Carlo returns, GAE, V-trace); each module
passes that as a `TargetsFn` to `make_actor_critic_agent`, which builds the rest:

- a categorical policy and a state-value baseline, the separate 64-64 tanh MLPs of
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
import numpy as np
import optax

from jit_env import ops, specs
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents._optimization import OPTIMIZERS, make_optimizer, normalize_advantages
from jit_env.agents.encoders import encoder_problems, make_actor_critic_network
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
class ActorCriticConfig(TrainingConfig):
    """Hyper-parameters shared by the policy-gradient agents (see each subclass).

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
      torso: ``"auto"``, ``"mlp"`` or ``"cnn"``: how observations are read
        (`jit_env.agents.encoders.plan_encoder`).
      cnn_channels: channels of the CNN torso's convolutions, for image leaves
        (`jit_env.agents.encoders.CNN`; Stoix ``cnn.yaml``: 32, 32).
      cnn_kernel_size: side of its square kernels (3).
      cnn_stride: stride of its convolutions (1).
      cnn_activation: its activation (``silu``, as Stoix's and MinAtar's).
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
    torso: str = "auto"
    cnn_channels: tuple[int, ...] = (32, 32)
    cnn_kernel_size: int = 3
    cnn_stride: int = 1
    cnn_activation: str = "silu"

    def problems(self) -> list[str]:
        """`TrainingConfig.problems` plus the shared actor-critic checks."""
        problems = super().problems()
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
        return problems + network_problems(self.hidden_sizes, self.activation) + encoder_problems(
            self.torso, self.cnn_channels, self.cnn_kernel_size, self.cnn_stride,
            self.cnn_activation)


class ActorCriticExtra(NamedTuple):
    """The actor-critic family's `AgentState.extra` when it acts with lagged parameters.

    Attributes:
      behaviour_params: the parameters ``act`` uses (`Agent.act_params`), a copy
        of ``AgentState.params`` refreshed after every ``behaviour_lag``-th update.
    """

    behaviour_params: Any


def discrete_action_size(action_spec: specs.Spec, algo: str) -> int:
    """Number of actions of a scalar `DiscreteArray` action spec.

    Raises:
      ValueError: for any other action spec (names ``algo``).
    """
    if isinstance(action_spec, specs.DiscreteArray) and action_spec.shape == ():
        return int(np.asarray(action_spec.num_values))
    raise ValueError(f"{algo} supports a scalar DiscreteArray action, got {action_spec!r}")


def make_actor_critic_agent(
    config: ActorCriticConfig,
    env_spec: specs.EnvironmentSpec,
    targets: TargetsFn,
    *,
    algo: str,
    behaviour_lag: int = 0,
) -> Agent:
    """The `Agent` of a categorical policy-gradient method with advantages from ``targets``.

    Args:
      config: a validated `ActorCriticConfig` subclass.
      env_spec: specs of one environment: a scalar `DiscreteArray` action and an
        observation of numeric arrays (one, or a pytree of them), read as
        ``config.torso`` says (`jit_env.agents.encoders.make_actor_critic_network`).
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
    action_size = discrete_action_size(env_spec.actions, algo)
    net = make_actor_critic_network(config, env_spec.observations, action_size, False,
                                    algo=algo)
    network = net.module
    action_dtype = env_spec.actions.dtype  # type: ignore[attr-defined]  # a DiscreteArray
    optimizer = make_optimizer(
        config.learning_rate,
        optimizer=config.optimizer,
        eps=config.optimizer_eps,
        rmsprop_decay=config.rmsprop_decay,
        max_grad_norm=config.max_grad_norm,
        anneal_steps=config.num_updates if config.anneal_lr else None,
    )
    dist = ops.softmax()

    def forward(params, observation) -> tuple[jax.Array, jax.Array]:
        """``(logits [..., A], value [...])`` of observations with leading axes ``[...]``."""
        return cast(tuple[jax.Array, jax.Array], network.apply(params, net.prepare(observation)))

    def value(params, observation) -> jax.Array:
        """``value [...]`` of observations with leading axes ``[...]`` (the critic only)."""
        return cast(jax.Array, network.apply(params, net.prepare(observation), method="value"))

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, net.example)
        extra = ActorCriticExtra(params) if behaviour_lag else None
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32), extra)

    def act(params, timestep, policy_state, key):
        logits, _ = forward(params, timestep.observation)
        action = dist.sample(key, logits)
        log_prob = dist.logprob(action, logits)
        return action.astype(action_dtype), policy_state, {"log_prob": log_prob}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the argmax is deterministic
        logits, _ = forward(params, timestep.observation)
        action = jnp.argmax(logits, axis=-1)
        return action.astype(action_dtype), policy_state, {}

    def act_params(agent_state: AgentState):
        return agent_state.extra.behaviour_params if behaviour_lag else agent_state.params

    def loss_fn(params, trajectory: Trajectory):
        tr = trajectory.transitions()
        logits, values = forward(params, tr.observation)
        bootstrap = jax.lax.stop_gradient(value(params, tr.next_observation))
        log_pi = jax.lax.stop_gradient(dist.logprob(tr.action, logits))
        adv, target, weight, metrics = targets(
            trajectory, tr, log_pi, jax.lax.stop_gradient(values), bootstrap
        )
        w = weight * tr.valid
        n = jnp.maximum(w.sum(), 1.0)
        if config.normalize_advantages:
            adv = normalize_advantages(adv, w)
        rows = w.size
        # rlax's losses average over all rows; rescale to the weighted ones.
        pg_loss = ops.policy_gradient_loss(
            logits.reshape(rows, action_size), tr.action.reshape(rows).astype(jnp.int32),
            adv.reshape(rows), w.reshape(rows),
        ) * (rows / n)
        entropy = -ops.entropy_loss(logits.reshape(rows, action_size), w.reshape(rows)) * (
            rows / n
        )
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
