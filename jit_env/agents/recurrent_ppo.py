"""Recurrent PPO: PPO-Clip with an LSTM or GRU policy, for partially observed environments.

The loss is PPO's (`jit_env.agents.ppo.ppo_loss`, Schulman et al. 2017, eqs. 7
and 9; truncation-aware GAE, Schulman et al. 2016, eq. 16); what changes is how
the current policy's log-probabilities and values are recomputed: the recurrent
network is *replayed* over each environment's whole sequence with
`jit_env.rollout.Trajectory.evaluate`, from the recurrent state the rollout
started with and with the state reset to zeros at every ``FIRST`` step, exactly
as `jit_env.rollout.rollout` did when acting. Gradients therefore flow through
the unroll (truncated back-propagation through time over the ``num_steps`` of one
rollout), and before the first gradient step the replay reproduces the acting
log-probabilities, so the first ratio is 1. Minibatches split the environments,
never time (`Trajectory.minibatches(..., sequences=True)`).

Bootstrapping. The value used to bootstrap transition ``t`` must see the
recurrent state *after* step ``t``: the carry ``h_t`` the cell produced while
acting on ``timesteps[t]``, advanced one more step on the next observation,
``v_t = critic(cell(h_t, next_observation_t))``. ``act`` stores ``h_t`` in the
extras (``"policy_state"``, ``[T, B, ...]``), and ``update`` evaluates that
formula for every transition with the parameters that acted. Inside an episode
this is the value the policy computed at ``t + 1`` (the carry is not reset
there); at a time-limit truncation ``next_observation`` is the true final
observation (``extras["final_observation"]``) and ``h_t`` is the old episode's
state, *not* the zeros the new episode starts from; at the end of the rollout
it is the value the next rollout will compute at its first step. Terminations
do not bootstrap (discount 0).

The architecture (dense encoder → cell → separate actor/critic MLPs) and the
default hyper-parameters follow PureJaxRL's ``purejaxrl/ppo_rnn.py`` (Lu et al.
2022: 128 units, 4 epochs × 4 minibatches of whole environments, Adam
2.5e-4 annealed, γ 0.99, λ 0.95, ε 0.2, entropy 0.01, value 0.5, gradient norm
0.5), with the deviations listed in `RecurrentPPOConfig`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.agents._action_heads import ActionHead, split_observation
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents.encoders import EncoderPlan, encode_observation, plan_encoder
from jit_env.agents.networks import RecurrentActorCritic, initial_carry, recurrent_cell
from jit_env.agents.ppo import (
    PPOConfig,
    PPOTargets,
    _ppo_optimizer,
    ppo_action_head,
    ppo_epochs,
    ppo_loss,
    ppo_targets,
)
from jit_env.rollout import Trajectory


@dataclasses.dataclass(frozen=True)
class RecurrentPPOConfig(PPOConfig):
    """Hyper-parameters of recurrent PPO (``jit-env train --algo recurrent_ppo``).

    All of `PPOConfig`'s fields (``hidden_sizes`` are the encoder layers before
    the cell), plus:

    Attributes:
      cell: recurrent cell, ``lstm`` (`flax.linen.OptimizedLSTMCell`) or ``gru``.
      rnn_size: units of the cell.
      head_sizes: hidden widths of the actor and critic MLPs after the cell.

    ``num_minibatches`` must divide ``num_envs``: a minibatch is
    ``num_envs / num_minibatches`` whole environment sequences of ``num_steps``.

    Defaults: PureJaxRL ``ppo_rnn.py`` (see the module docstring) on
    ``CartPole-NoVelocity-v1`` (formerly ``CartPole-POMDP-v1``), except 16
    environments instead of 4 (4 sequences per minibatch instead of 1, for a less
    noisy gradient), an LSTM instead of a GRU, tanh instead of ReLU, and Adam 1e-3
    instead of 2.5e-4 over 500k steps.
    """

    env: str = "CartPole-NoVelocity-v1"
    num_envs: int = 16
    num_steps: int = 128
    total_steps: int = 500_000
    learning_rate: float = 1e-3
    hidden_sizes: tuple[int, ...] = (128,)
    cell: str = "lstm"
    rnn_size: int = 128
    head_sizes: tuple[int, ...] = (128,)

    def problems(self) -> list[str]:
        """`PPOConfig.problems` plus: known ``cell``, positive sizes, minibatches divide envs."""
        problems = super().problems()
        try:
            recurrent_cell(self.cell)
        except ValueError as e:
            problems.append(str(e))
        if self.rnn_size <= 0:
            problems.append(f"`rnn_size` must be positive, got {self.rnn_size}")
        if any(h <= 0 for h in self.head_sizes):
            problems.append(f"`head_sizes` must be positive, got {self.head_sizes}")
        if self.num_envs > 0 and self.num_minibatches > 0 and self.num_envs % self.num_minibatches:
            problems.append(
                f"`num_minibatches`={self.num_minibatches} must divide `num_envs`="
                f"{self.num_envs} (minibatches hold whole environment sequences)"
            )
        return problems


class RecurrentPPOBatch(NamedTuple):
    """Recurrent PPO's rollout data, split into minibatches of whole sequences.

    Leaves are time-major ``[T, b, ...]`` (``b`` environments of the minibatch;
    ``[T, B, ...]`` before the split).

    Attributes:
      timestep: the TimeSteps the policy acted on (step type and observation;
        no extras), leaves ``[T, b, ...]``.
      action: stored actions, a tree like the action spec with ``[T, b, ...]`` leaves.
      initial_policy_state: the recurrent state each sequence started from,
        broadcast over time (``[T, b, ...]``; row 0 is used) so that it splits
        with the sequences.
      targets: the `jit_env.agents.ppo.PPOTargets` of the transitions, each ``[T, b]``.
    """

    timestep: _core.TimeStep
    action: jax.Array
    initial_policy_state: Any
    targets: PPOTargets


def _slim(timestep: _core.TimeStep) -> _core.TimeStep:
    """Only what the replay reads (step type and observation): no extras, no rewards."""
    return _core.TimeStep(
        step_type=timestep.step_type,
        reward=timestep.reward,
        discount=timestep.discount,
        observation=timestep.observation,
    )


def _observation_plan(config: RecurrentPPOConfig, obs_spec: specs.Spec) -> EncoderPlan:
    """How observations (the action mask split off) are flattened for the network
    (ValueError on image leaves a CNN would read, or unsupported leaves)."""
    plan = plan_encoder(obs_spec, config.torso, algo="recurrent PPO")
    if plan.uses_cnn:
        raise ValueError(
            "recurrent PPO reads flattened observations (its encoder is an MLP); the "
            f"observation spec has image leaves of shapes {list(plan.shapes)} that "
            f"`torso`={config.torso!r} reads with a CNN: use torso='mlp' to flatten them"
        )
    return plan


def _network(
    config: RecurrentPPOConfig, env_spec: specs.EnvironmentSpec
) -> tuple[RecurrentActorCritic, ActionHead, EncoderPlan]:
    """The network, its `ActionHead` and its observation `EncoderPlan` (ValueError on bad
    specs)."""
    head, obs_spec = ppo_action_head(config, env_spec, "recurrent PPO")
    plan = _observation_plan(config, obs_spec)
    network = RecurrentActorCritic(
        head.size, head.continuous, tuple(config.hidden_sizes), config.rnn_size,
        tuple(config.head_sizes), config.cell, config.activation,
        log_std_size=head.log_std_size,
    )
    return network, head, plan


def _evaluate_fn(network: RecurrentActorCritic, head: ActionHead, plan: EncoderPlan):
    """``evaluate_fn(params, timestep, carry, action) -> (carry, outputs)``."""

    def evaluate_fn(params, timestep, policy_state, action):
        obs, mask = split_observation(timestep.observation, head.masked)
        carry, out, value = cast(
            tuple[Any, Any, jax.Array],
            network.apply(params, policy_state, encode_observation(plan, obs)),
        )
        return carry, {
            "log_prob": head.logprob(action, out, mask),
            "entropy": head.entropy(out, mask),
            "value": value,
        }

    return evaluate_fn


def make_recurrent_ppo(config: RecurrentPPOConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the recurrent PPO `Agent` for an environment with ``env_spec``.

    Args:
      config: a `RecurrentPPOConfig`.
      env_spec: the (unbatched) environment's specs; the observation is one
        numeric array or a pytree of them, flattened and concatenated
        (`jit_env.agents.encoders.encode_observation`; image leaves need
        ``torso="mlp"``: the cell's encoder is an MLP), optionally with an
        ``"action_mask"`` entry (as `make_ppo`); the action any spec
        `jit_env.agents.make_action_head` supports, as `make_ppo`.

    Returns:
      `Agent` with ``initial_policy_state(batch_shape)`` the zero carry
      (`jit_env.agents.networks.initial_carry`); ``act(params, timestep [B],
      carry [B, ...], key)`` returns ``(action [B], carry, extras)`` with extras
      ``{"log_prob": [B] float32, "value": [B] float32, "policy_state": carry}``
      (the carry after the step, for bootstrapping); ``update`` does
      ``update_epochs`` passes of ``num_minibatches`` Adam steps, each on
      ``num_envs / num_minibatches`` whole sequences replayed through the cell.

    Raises:
      ValueError: on an invalid config (naming the field), or an unsupported
        action or observation spec.
    """
    config.validate()
    network, head, plan = _network(config, env_spec)

    def prepare(observation):
        return encode_observation(plan, observation)
    optimizer = _ppo_optimizer(config)

    def initial_policy_state(batch_shape: tuple[int, ...]):
        return initial_carry(config.cell, config.rnn_size, tuple(batch_shape))

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, initial_policy_state(()), prepare(plan.example()))
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def step(params, timestep, policy_state):
        obs, mask = split_observation(timestep.observation, head.masked)
        carry, out, value = cast(
            tuple[Any, Any, jax.Array], network.apply(params, policy_state, prepare(obs)),
        )
        return carry, out, value, mask

    def act(params, timestep, policy_state, key):
        carry, out, value, mask = step(params, timestep, policy_state)
        action = head.sample(key, out, mask)
        log_prob = head.logprob(action, out, mask)
        return action, carry, {"log_prob": log_prob, "value": value, "policy_state": carry}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the mode: deterministic
        carry, out, _, mask = step(params, timestep, policy_state)
        return head.mode(out, mask), carry, {}

    evaluate_fn = _evaluate_fn(network, head, plan)

    def loss_fn(params, batch: RecurrentPPOBatch):
        # Leaves are [T, b, ...]: whole sequences of b environments. The replay
        # needs T + 1 TimeSteps (it reads the first T); repeat the last one.
        timesteps = jax.tree.map(
            lambda x: jnp.concatenate([x, x[-1:]], axis=0), batch.timestep
        )
        sequence = Trajectory(
            timesteps=timesteps,
            actions=batch.action,
            extras={},
            policy_state=jax.tree.map(lambda x: x[0], batch.initial_policy_state),
        )
        out = sequence.evaluate(evaluate_fn, params)
        return ppo_loss(config, out["log_prob"], out["entropy"], out["value"], batch.targets)

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        tr = trajectory.transitions()
        # v_t = critic(cell(h_t, next_observation_t)) with h_t the carry after
        # step t (see the module docstring), for all T * B transitions at once.
        bootstrap = cast(jax.Array, network.apply(
            agent_state.params, trajectory.extras["policy_state"],
            prepare(split_observation(tr.next_observation, head.masked)[0]),
            method=RecurrentActorCritic.value,
        ))
        num_steps = trajectory.num_steps
        data = RecurrentPPOBatch(
            timestep=_slim(jax.tree.map(lambda x: x[:-1], trajectory.timesteps)),
            action=tr.action,
            # [B, ...] -> [T, B, ...] so it splits with the sequences; row 0 is used.
            initial_policy_state=jax.tree.map(
                lambda x: jnp.broadcast_to(x, (num_steps,) + x.shape),
                trajectory.policy_state,
            ),
            targets=ppo_targets(config, trajectory, bootstrap),
        )
        return ppo_epochs(
            config, optimizer, loss_fn, agent_state, key,
            lambda k: trajectory.minibatches(k, config.num_minibatches, data, sequences=True),
        )

    return Agent(init=init, act=act, update=update, initial_policy_state=initial_policy_state,
                 act_greedy=act_greedy)


def evaluate_actions(
    config: RecurrentPPOConfig, env_spec: specs.EnvironmentSpec, params: Any,
    trajectory: Trajectory,
) -> dict[str, jax.Array]:
    """Replays ``trajectory`` through the recurrent policy, as the loss does.

    Args:
      config: the `RecurrentPPOConfig` the agent was built with.
      env_spec: the environment's specs.
      params: network parameters.
      trajectory: a rollout of the agent's ``act`` (``policy_state`` set).

    Returns:
      ``{"log_prob", "entropy", "value"}``, each ``[T, B]`` float32: with the
      parameters that acted, equal to the rollout's extras up to float32
      rounding.

    Raises:
      ValueError: on an invalid config or unsupported specs; if
        ``trajectory.policy_state`` is ``None``.
    """
    if trajectory.policy_state is None:
        raise ValueError("`trajectory.policy_state` is None: not a recurrent rollout")
    network, head, plan = _network(config, env_spec)
    return trajectory.evaluate(_evaluate_fn(network, head, plan), params)
