"""The on-policy training loop shared by the bundled agents.

One update = one `jit_env.rollout.rollout` of ``num_steps`` over the batched,
auto-resetting environment, then ``agent.update`` on the `Trajectory`. The
whole run is ``lax.scan`` over updates, so `train` is one pure function that
``jax.jit`` compiles whole and ``jax.vmap`` batches over seeds. `Trainer.run`
runs a fixed number of updates so the host can report between jitted chunks
(the CLI does this); chunked and uninterrupted runs give identical results.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jit_env import _core, specs, wrappers
from jit_env.agents._agent import Agent, AgentState
from jit_env.envs import make
from jit_env.rollout import rollout


class TrainState(NamedTuple):
    """Everything a training run carries from one update to the next.

    Attributes:
      agent_state: parameters, optimiser state and update count.
      env_state: state of the batched environment ``[B, ...]``.
      timestep: the current batched TimeStep ``[B, ...]``.
      policy_state: recurrent state ``[B, ...]`` or ``None``.
      key: PRNG key (legacy ``uint32[2]``, so checkpoints serialise as plain arrays).
    """

    agent_state: AgentState
    env_state: Any
    timestep: _core.TimeStep
    policy_state: Any
    key: jax.Array


class Trainer(NamedTuple):
    """The pure functions of a training run (see `make_trainer`).

    Attributes:
      env: the batched training environment.
      agent: the `Agent`.
      env_spec: specs of one (unbatched) environment.
      init: ``init(key) -> TrainState``.
      update: ``update(train_state) -> (train_state, metrics)``, one rollout and
        one agent update; metrics are scalars.
      run: ``run(train_state, num_updates) -> (train_state, metrics [num_updates])``
        (``num_updates`` static).
    """

    env: _core.Environment
    agent: Agent
    env_spec: specs.EnvironmentSpec
    init: Any
    update: Any
    run: Any


def make_single_env(env_id: str) -> _core.Environment:
    """``make(env_id)``, wrapped in `ClipAction` if its actions are bounded floats.

    The environment an agent acts in, unbatched (training batches it; evaluation
    and animations use it as is).
    """
    env = make(env_id)
    action_spec = env.action_spec()
    if isinstance(action_spec, specs.BoundedArray) and jnp.issubdtype(
        action_spec.dtype, jnp.floating
    ):
        env = wrappers.ClipAction(env)
    return env


def make_training_env(
    env_id: str,
    num_envs: int,
    *,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    gamma: float = 0.99,
):
    """The training stack around ``make(env_id)``, batched over ``num_envs``.

    From the inside out: ``make`` (with the registered `TimeLimit`); `ClipAction`
    when the action spec is a bounded float array (a Gaussian policy's samples
    are clipped to the bounds when stepping, as in CleanRL's continuous PPO);
    `VmapAutoReset` with same-step auto-reset (final observations in
    ``extras["final_observation"]``); `EpisodeStatistics`, which reports the raw
    return and length of each finished episode in ``extras``; then optionally
    `NormalizeReward` (discount ``gamma``) and `NormalizeObservation`.

    Returns:
      ``(batched_env, single_env)``; ``single_env`` is ``make(env_id)`` with
      `ClipAction` if it applies, and gives the agent its specs.
    """
    single = make_single_env(env_id)
    env: _core.Environment = wrappers.VmapAutoReset(single)
    env = wrappers.EpisodeStatistics(env)
    if normalize_rewards:
        env = wrappers.NormalizeReward(env, gamma=gamma)
    if normalize_observations:
        env = wrappers.NormalizeObservation(env)
    return env, single


def _episode_metrics(timesteps: _core.TimeStep) -> dict[str, jax.Array]:
    extras = timesteps.extras
    if extras is None:
        raise ValueError("the training stack must report episode statistics in `extras`")
    done = extras["episode_done"][1:]
    returns = extras["episode_return"][1:].astype(jnp.float32)
    lengths = extras["episode_length"][1:].astype(jnp.float32)
    count = done.sum()
    safe = jnp.maximum(count, 1)
    nan = jnp.float32(jnp.nan)
    return {
        "episodes": count,
        "episode_return": jnp.where(count > 0, (returns * done).sum() / safe, nan),
        "episode_return_min": jnp.where(count > 0, jnp.where(done, returns, jnp.inf).min(), nan),
        "episode_return_max": jnp.where(count > 0, jnp.where(done, returns, -jnp.inf).max(), nan),
        "episode_length": jnp.where(count > 0, (lengths * done).sum() / safe, nan),
    }


def make_trainer(
    config: Any, agent_factory: Any, *, mesh: Mesh | None = None, axis_name: str = "batch"
) -> Trainer:
    """Builds the training functions for ``config`` and an agent factory.

    Args:
      config: a `TrainingConfig` (e.g. `PPOConfig`).
      agent_factory: ``agent_factory(config, env_spec) -> Agent`` (e.g. `make_ppo`).
      mesh: optional device mesh; the environment batch axis is sharded over
        its ``axis_name`` axis and parameters are replicated.
      axis_name: mesh axis for the environment batch.

    Raises:
      ValueError: if ``num_envs`` is not divisible by the mesh axis size.
    """
    env, single = make_training_env(
        config.env,
        config.num_envs,
        normalize_observations=config.normalize_observations,
        normalize_rewards=config.normalize_rewards,
        gamma=config.gamma,
    )
    env_spec = specs.make_environment_spec(single)
    agent = agent_factory(config, env_spec)

    shard = lambda tree: tree
    if mesh is not None:
        size = mesh.shape[axis_name]
        if config.num_envs % size:
            raise ValueError(
                f"`num_envs`={config.num_envs} must be divisible by the {size} devices of "
                f"mesh axis {axis_name!r}"
            )
        batch = NamedSharding(mesh, PartitionSpec(axis_name))
        replicated = NamedSharding(mesh, PartitionSpec())

        def shard(tree):
            def place(x):
                if getattr(x, "ndim", 0) >= 1 and x.shape[0] == config.num_envs:
                    return jax.lax.with_sharding_constraint(x, batch)
                return jax.lax.with_sharding_constraint(x, replicated)

            return jax.tree.map(place, tree)

    def init(key: jax.Array) -> TrainState:
        key, agent_key, env_key = jax.random.split(key, 3)
        agent_state = agent.init(agent_key, env_spec)
        env_state, timestep = env.reset(jax.random.split(env_key, config.num_envs))
        env_state, timestep = shard((env_state, timestep))
        policy_state = agent.initial_policy_state((config.num_envs,))
        return TrainState(agent_state, env_state, timestep, policy_state, key)

    def update(state: TrainState):
        key, rollout_key, update_key = jax.random.split(state.key, 3)
        carry, trajectory = rollout(
            env,
            agent.act,
            agent.act_params(state.agent_state),
            state.env_state,
            state.timestep,
            rollout_key,
            config.num_steps,
            policy_state=state.policy_state,
        )
        agent_state, metrics = agent.update(state.agent_state, trajectory, update_key)
        metrics = dict(metrics) | _episode_metrics(trajectory.timesteps)
        env_state, timestep = shard((carry.env_state, carry.timestep))
        return TrainState(agent_state, env_state, timestep, carry.policy_state, key), metrics

    def run(state: TrainState, num_updates: int):
        return jax.lax.scan(lambda s, _: update(s), state, None, length=num_updates)

    return Trainer(env, agent, env_spec, init, update, run)


def train(config: Any, key: jax.Array, agent_factory: Any = None, *, mesh: Mesh | None = None):
    """Trains from scratch: one pure function of ``(config, key)``.

    ``jax.jit(lambda k: train(config, k))`` compiles the whole run;
    ``jax.vmap`` over keys trains independent seeds in one program.

    Args:
      config: agent config (`PPOConfig` by default).
      key: PRNG key (legacy ``uint32[2]``).
      agent_factory: defaults to `jit_env.agents.ppo.make_ppo`.
      mesh: optional device mesh for the environment batch.

    Returns:
      ``(final TrainState, metrics)`` with metrics stacked over ``config.num_updates``.
    """
    if agent_factory is None:
        from jit_env.agents.ppo import make_ppo

        agent_factory = make_ppo
    trainer = make_trainer(config, agent_factory, mesh=mesh)
    return trainer.run(trainer.init(key), config.num_updates)
