"""What SAC, TD3 and DDPG share: config fields, bounded actions, twin critics, the update skeleton.

The three agents (`jit_env.agents.sac`, `jit_env.agents.td3`) act in a box
``[minimum, maximum]`` given by the environment's `BoundedArray` action spec.
Their networks work in ``[-1, 1]^A``; `scale_action` maps to the box
(``low + (a + 1)(high − low) / 2``, Stable-Baselines3's ``unscale_action``,
``stable_baselines3/common/policies.py``) and `unscale_action` back.

One update of the shared loop (`jit_env.agents.make_trainer`) collects
``num_envs * num_steps`` transitions, stores them in a circular replay buffer
(`jit_env.agents.replay`; the transitions of `jit_env.agents.dqn.n_step_transitions`
with ``n = 1``: discount ``γ · discount_t``, a truncated episode bootstraps from its
true final observation) and, once ``learning_starts`` environment steps are
done, takes ``utd_ratio * num_envs * num_steps`` gradient steps in a
``lax.scan`` (`make_update`). Before ``learning_starts`` the agents act
uniformly at random in the box, as Stable-Baselines3's ``_sample_action``
(``stable_baselines3/common/off_policy_algorithm.py``) and CleanRL's
``sac_continuous_action.py`` / ``td3_continuous_action.py`` do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jit_env import specs
from jit_env.agents import replay
from jit_env.agents._agent import AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents.dqn import n_step_transitions
from jit_env.agents.networks import MLP, network_problems
from jit_env.rollout import Trajectory


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(TrainingConfig):
    """The fields SAC, TD3 and DDPG share (`TrainingConfig`'s plus replay and targets).

    All step counts are environment steps of one seed, all environments together.

    Attributes:
      buffer_size: replay capacity in transitions.
      batch_size: transitions per gradient step.
      learning_starts: environment steps of uniformly random actions before the
        first gradient step.
      utd_ratio: update-to-data ratio, gradient steps per environment step;
        ``utd_ratio * num_envs * num_steps`` must be a positive integer.
      tau: Polyak coefficient of the target networks,
        ``target ← tau · online + (1 − tau) · target``, in (0, 1].
      hidden_sizes: hidden widths of the actor and of each critic.
      activation: hidden activation (``tanh``, ``relu``, ``gelu``, ``elu``).
    """

    sweepable: ClassVar[tuple[str, ...]] = ("tau",)

    num_envs: int = 1
    num_steps: int = 1
    buffer_size: int = 1_000_000
    batch_size: int = 256
    learning_starts: int = 100
    utd_ratio: float = 1.0
    tau: float = 0.005
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"

    @property
    def gradient_steps_per_update(self) -> int:
        """``utd_ratio * num_envs * num_steps`` (an integer, see `problems`)."""
        return int(round(self.utd_ratio * self.steps_per_update))

    def problems(self) -> list[str]:
        """`TrainingConfig.problems` plus the replay, ratio and target checks."""
        problems = super().problems()
        for name in ("buffer_size", "batch_size"):
            if getattr(self, name) <= 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if self.learning_starts < 0:
            problems.append(f"`learning_starts` must be >= 0, got {self.learning_starts}")
        steps = self.utd_ratio * self.steps_per_update
        if not self.utd_ratio > 0 or abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
            problems.append(
                f"`utd_ratio`={self.utd_ratio} times num_envs * num_steps = "
                f"{self.steps_per_update} must be a positive integer, got {steps:g}"
            )
        if not 0.0 < self.tau <= 1.0:
            problems.append(f"`tau` must be in (0, 1], got {self.tau}")
        return problems + network_problems(self.hidden_sizes, self.activation)


def action_bounds(action_spec: specs.Spec, algorithm: str) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` float32 ``[A]`` of a finite, float, rank-1 `BoundedArray` action spec.

    Args:
      action_spec: the environment's (unbatched) action spec.
      algorithm: the agent's name, for the error message.

    Returns:
      The bounds broadcast to the spec's shape ``(A,)``, float32.

    Raises:
      ValueError: if ``action_spec`` is not a `BoundedArray` (e.g. an unbounded
        `Array` or a `DiscreteArray`), not floating, not of shape ``(A,)``, or
        has an infinite bound; the message names the spec.
    """
    if isinstance(action_spec, specs.DiscreteArray) or not isinstance(
        action_spec, specs.BoundedArray
    ):
        raise ValueError(f"{algorithm} needs a bounded float action spec (BoundedArray), "
                         f"got {action_spec!r}")
    if not jnp.issubdtype(action_spec.dtype, jnp.floating):
        raise ValueError(f"{algorithm} needs a floating action spec, got dtype "
                         f"{action_spec.dtype} in {action_spec!r}")
    if len(action_spec.shape) != 1:
        raise ValueError(f"{algorithm} needs an action spec of shape (A,), got shape "
                         f"{action_spec.shape} in {action_spec!r}")
    low = np.broadcast_to(np.asarray(action_spec.minimum, np.float32), action_spec.shape)
    high = np.broadcast_to(np.asarray(action_spec.maximum, np.float32), action_spec.shape)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"{algorithm} needs finite action bounds, got minimum {low} and "
                         f"maximum {high} in {action_spec!r}")
    return low.copy(), high.copy()


def scale_action(action: jax.Array, low: np.ndarray, high: np.ndarray) -> jax.Array:
    """``[-1, 1]`` → ``[low, high]``: ``low + (action + 1)(high − low) / 2``, shape of ``action``.

    ``low`` and ``high`` are ``[A]``; ``action`` is ``[..., A]``.
    """
    lo, hi = (jnp.broadcast_to(jnp.asarray(b, action.dtype), action.shape) for b in (low, high))
    return lo + 0.5 * (action + 1.0) * (hi - lo)


def unscale_action(action: jax.Array, low: np.ndarray, high: np.ndarray) -> jax.Array:
    """``[low, high]`` → ``[-1, 1]``: the inverse of `scale_action` (same shapes)."""
    lo, hi = (jnp.broadcast_to(jnp.asarray(b, action.dtype), action.shape) for b in (low, high))
    return 2.0 * (action - lo) / (hi - lo) - 1.0


class Critics(nn.Module):
    """``num_critics`` independent Q-networks ``Q_i(s, a)``, each an `MLP` on ``[s, a]``.

    ``__call__(observation [..., D], action [..., A]) -> [num_critics, ...]`` float32.
    The critics are one `MLP` under ``flax.linen.vmap`` (separate parameters,
    stacked on a leading axis of size ``num_critics``, initialised from split
    keys), so both twins are evaluated by one batched matrix product per layer.

    Attributes:
      num_critics: number of Q-networks (2 for SAC's and TD3's clipped double Q).
      hidden_sizes: hidden widths of each critic.
      activation: hidden activation name.
    """

    num_critics: int
    hidden_sizes: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(self, observation: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([observation.astype(jnp.float32), action.astype(jnp.float32)], -1)
        stacked = nn.vmap(
            MLP, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None,
            out_axes=0, axis_size=self.num_critics,
        )
        return stacked(tuple(self.hidden_sizes), 1, self.activation, 1.0)(x)[..., 0]


def apply_critics(critics: Critics, params: Any, observation: jax.Array,
                  action: jax.Array) -> jax.Array:
    """``critics.apply(params, observation, action)``: ``[num_critics, ...]`` float32."""
    return cast(jax.Array, critics.apply(params, observation, action))


class OffPolicyExtra(NamedTuple):
    """The off-policy agents' part of `AgentState.extra`.

    Attributes:
      target_params: the target networks (SAC: ``{"critic"}``; TD3 / DDPG:
        ``{"actor", "critic"}``).
      replay: the `jit_env.agents.replay.ReplayBuffer` of transitions
        ``{"observation", "action", "r_t", "discount_t", "next_observation"}``
        (actions in the environment's box; ``discount_t`` includes γ).
      env_steps: environment steps collected so far, ``int32`` scalar.
    """

    target_params: Any
    replay: replay.ReplayBuffer
    env_steps: jax.Array


def init_extra(config: OffPolicyConfig, obs_spec: specs.Array, action_spec: specs.Array,
               target_params: Any) -> OffPolicyExtra:
    """An `OffPolicyExtra` with an empty buffer of ``config.buffer_size`` rows."""
    example = {
        "observation": jnp.zeros(obs_spec.shape, obs_spec.dtype),
        "action": jnp.zeros(action_spec.shape, action_spec.dtype),
        "r_t": jnp.zeros((), jnp.float32),
        "discount_t": jnp.zeros((), jnp.float32),
        "next_observation": jnp.zeros(obs_spec.shape, obs_spec.dtype),
    }
    return OffPolicyExtra(target_params, replay.init(example, config.buffer_size),
                          jnp.zeros((), jnp.int32))


def observation_spec(env_spec: specs.EnvironmentSpec, algorithm: str) -> specs.Array:
    """The flat observation spec ``(D,)`` (ValueError naming the spec otherwise)."""
    obs_spec = env_spec.observations
    if not isinstance(obs_spec, specs.Array) or len(obs_spec.shape) != 1:
        raise ValueError(f"{algorithm} needs a flat observation Array of shape (D,), "
                         f"got {obs_spec!r}")
    return obs_spec


def explore(policy_action: jax.Array, env_steps: jax.Array, learning_starts: int,
            key: jax.Array) -> jax.Array:
    """``policy_action`` in ``[-1, 1]``, or uniform noise there before ``learning_starts``.

    Args:
      policy_action: ``[..., A]`` float32 actions of the policy.
      env_steps: environment steps collected before this rollout, int32 scalar.
      learning_starts: the config's ``learning_starts``.
      key: PRNG key for the uniform draw.
    """
    uniform = jax.random.uniform(key, policy_action.shape, policy_action.dtype, -1.0, 1.0)
    return jnp.where(env_steps < learning_starts, uniform, policy_action)


def make_update(
    config: OffPolicyConfig,
    gradient_step: Callable[[AgentState, dict, jax.Array], tuple[AgentState, dict]],
    metric_names: tuple[str, ...],
    low: np.ndarray,
    high: np.ndarray,
) -> Callable[[AgentState, Trajectory, jax.Array], tuple[AgentState, dict]]:
    """The ``Agent.update`` of an off-policy agent around its ``gradient_step``.

    ``update(agent_state, trajectory, key)`` adds the rollout's valid
    transitions to ``agent_state.extra.replay``, advances ``env_steps`` by
    ``num_envs * num_steps``, and, when ``env_steps >= learning_starts`` and the
    buffer holds ``batch_size`` rows, scans ``gradient_steps_per_update`` times:
    sample ``batch_size`` rows uniformly, convert the actions to ``[-1, 1]``
    (`unscale_action`), call ``gradient_step(agent_state, batch, key)``.

    Args:
      config: the agent's config.
      gradient_step: one gradient step on a batch ``{"observation" [N, D],
        "action" [N, A] in [-1, 1], "r_t" [N], "discount_t" [N] (γ included),
        "next_observation" [N, D]}``; returns the new state and scalar metrics
        named ``metric_names``.
      metric_names: the metrics ``gradient_step`` returns (zeros before learning starts).
      low, high: the action box.

    Returns:
      ``update``; its metrics are the means of ``metric_names`` over the update's
      gradient steps, plus ``buffer_size`` and ``learning`` (1.0 if gradient
      steps were taken).
    """
    num_gradient_steps = config.gradient_steps_per_update

    def learn(agent_state, key):
        def step(state, k):
            k_sample, k_step = jax.random.split(k)
            batch = replay.sample(state.extra.replay, k_sample, config.batch_size)
            batch = dict(batch) | {"action": unscale_action(
                batch["action"].astype(jnp.float32), low, high)}
            return gradient_step(state, batch, k_step)

        agent_state, metrics = jax.lax.scan(
            step, agent_state, jax.random.split(key, num_gradient_steps))
        return agent_state, {k: jnp.mean(metrics[k]) for k in metric_names}

    def skip(agent_state, key):
        del key
        return agent_state, {k: jnp.zeros((), jnp.float32) for k in metric_names}

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        data, valid = n_step_transitions(trajectory, 1, config.gamma)
        extra = cast(OffPolicyExtra, agent_state.extra)
        buffer = replay.add(extra.replay, data, valid)
        env_steps = extra.env_steps + config.steps_per_update
        agent_state = agent_state._replace(extra=extra._replace(replay=buffer,
                                                                env_steps=env_steps))
        learning = (env_steps >= config.learning_starts) & (buffer.size >= config.batch_size)
        agent_state, metrics = jax.lax.cond(learning, learn, skip, agent_state, key)
        return agent_state, metrics | {
            "buffer_size": buffer.size.astype(jnp.float32),
            "learning": learning.astype(jnp.float32),
        }

    return update
