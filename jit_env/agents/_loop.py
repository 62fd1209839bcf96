"""The pure training loop shared by the bundled agents, and pure evaluation.

One update = one `jit_env.rollout.rollout` of ``num_steps`` over the batched,
auto-resetting environment, then ``agent.update`` on the `Trajectory`. The
whole run is ``lax.scan`` over updates, so `train` is one pure function that
``jax.jit`` compiles whole and ``jax.vmap`` batches over seeds. `Trainer.run`
runs a fixed number of updates so that a host can report between jitted chunks
(the ``jit-env`` command does, `jit_env.cli`); chunked and uninterrupted runs
give identical results. `evaluate_policy` plays fresh episodes with a trained
agent, also as one pure function.

Nothing here touches files, clocks or signals: that is `jit_env.cli`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jit_env import _core, specs, wrappers
from jit_env.agents._agent import Agent, AgentState, Metrics
from jit_env.agents._config import TrainingConfig
from jit_env.envs import make
from jit_env.rollout import rollout

AgentFactory = Callable[[Any, specs.EnvironmentSpec], Agent]
"""``factory(config, env_spec) -> Agent``, e.g. `jit_env.agents.make_ppo`."""


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
      env: the batched training environment (`make_training_env`).
      agent: the `Agent`.
      env_spec: specs of one (unbatched) environment.
      init: ``init(key) -> TrainState``.
      update: ``update(train_state) -> (train_state, metrics)``, one rollout and
        one agent update; metrics are float32 / int32 scalars.
      run: ``run(train_state, num_updates) -> (train_state, metrics)`` with
        metrics stacked to ``[num_updates]`` (``num_updates`` static).
    """

    env: _core.Environment
    agent: Agent
    env_spec: specs.EnvironmentSpec
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, Metrics]]
    run: Callable[[TrainState, int], tuple[TrainState, Metrics]]


def make_single_env(env_id: str) -> _core.Environment:
    """``make(env_id)``, wrapped in `ClipAction` if its actions are bounded floats.

    The environment an agent acts in, unbatched (training batches it; evaluation
    and animations use it as is).

    Raises:
      KeyError: for an unregistered ``env_id`` (from `jit_env.make`, naming close ids).
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
    mesh: Mesh | None = None,
    axis_name: str = "batch",
) -> tuple[_core.Environment, _core.Environment]:
    """The training stack around ``make(env_id)``, a fixed batch of ``num_envs``.

    From the inside out: ``make`` (with the registered `TimeLimit`); `ClipAction`
    when the action spec is a bounded float array (a Gaussian policy's samples
    are clipped to the bounds when stepping, as in CleanRL's continuous PPO);
    `VmapAutoReset` of ``num = num_envs`` environments with same-step auto-reset
    (final observations in ``extras["final_observation"]``; ``reset`` takes one
    key or ``num_envs`` keys); with a ``mesh``, `Shard` (the batch axis split
    over the devices of ``axis_name`` at every step; the wrappers outside
    compute per environment, or reduce over the batch, so XLA keeps their
    per-environment arrays sharded too); `EpisodeStatistics`, which reports the
    raw return and length of each finished episode in ``extras``; then
    optionally `NormalizeReward` (discount ``gamma``) and `NormalizeObservation`,
    whose statistics have no batch axis and stay replicated.

    Args:
      env_id: environment id for `jit_env.make`.
      num_envs: batch size ``B``, a positive int.
      normalize_observations: add `NormalizeObservation`.
      normalize_rewards: add `NormalizeReward`.
      gamma: discount of `NormalizeReward`.
      mesh: optional device mesh for `Shard`.
      axis_name: the mesh axis the batch is split over.

    Returns:
      ``(batched_env, single_env)``: the stack, whose TimeStep leaves are
      ``[num_envs, ...]``, and ``make(env_id)`` itself (without `ClipAction`),
      which gives the agent its specs, action bounds included (a greedy
      Gaussian policy clips its mean to them; SAC-style agents need them).

    Raises:
      KeyError: for an unregistered ``env_id``.
      ValueError: if ``num_envs`` is not a positive int, or (with a ``mesh``) not
        divisible by the size of mesh axis ``axis_name`` (from `Shard`).
      TypeError: if ``mesh`` is not a ``jax.sharding.Mesh``.
    """
    single = make_single_env(env_id)
    base = single.env if isinstance(single, wrappers.ClipAction) else single
    env: _core.Environment = wrappers.VmapAutoReset(single, num_envs)
    if mesh is not None:
        env = wrappers.Shard(env, mesh, axis_name)
    env = wrappers.EpisodeStatistics(env)
    if normalize_rewards:
        env = wrappers.NormalizeReward(env, gamma=gamma)
    if normalize_observations:
        env = wrappers.NormalizeObservation(env)
    return env, base


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
    config: TrainingConfig,
    agent_factory: AgentFactory,
    *,
    mesh: Mesh | None = None,
    axis_name: str = "batch",
) -> Trainer:
    """Builds the training functions for ``config`` and an agent factory.

    Args:
      config: a `TrainingConfig` subclass (e.g. `PPOConfig`).
      agent_factory: ``agent_factory(config, env_spec) -> Agent`` (e.g. `make_ppo`).
      mesh: optional device mesh; the environment batch axis is sharded over
        its ``axis_name`` axis with `jit_env.wrappers.Shard` (every step of every
        rollout), and parameters are replicated.
      axis_name: mesh axis for the environment batch.

    Returns:
      The `Trainer`; ``init(key)`` takes one PRNG key (legacy ``uint32[2]``).

    Raises:
      ValueError: if ``num_envs`` is not divisible by the mesh axis size, or from
        the factory on a bad config or unsupported specs.
      KeyError: for an unregistered ``config.env``.
    """
    env, single = make_training_env(
        config.env,
        config.num_envs,
        normalize_observations=config.normalize_observations,
        normalize_rewards=config.normalize_rewards,
        gamma=config.gamma,
        mesh=mesh,
        axis_name=axis_name,
    )
    env_spec = specs.make_environment_spec(single)
    agent = agent_factory(config, env_spec)

    def init(key: jax.Array) -> TrainState:
        key, agent_key, env_key = jax.random.split(key, 3)
        agent_state = agent.init(agent_key)
        env_state, timestep = env.reset(jax.random.split(env_key, config.num_envs))
        policy_state = agent.initial_policy_state((config.num_envs,))
        return TrainState(agent_state, env_state, timestep, policy_state, key)

    def update(state: TrainState) -> tuple[TrainState, Metrics]:
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
        new_state = TrainState(
            agent_state, carry.env_state, carry.timestep, carry.policy_state, key
        )
        return new_state, metrics

    def run(state: TrainState, num_updates: int) -> tuple[TrainState, Metrics]:
        return jax.lax.scan(lambda s, _: update(s), state, None, length=num_updates)

    return Trainer(env, agent, env_spec, init, update, run)


def train(
    config: TrainingConfig,
    key: jax.Array,
    agent_factory: AgentFactory | None = None,
    *,
    mesh: Mesh | None = None,
) -> tuple[TrainState, Metrics]:
    """Trains from scratch: one pure function of ``(config, key)``.

    ``jax.jit(lambda k: train(config, k))`` compiles the whole run;
    ``jax.vmap`` over keys trains independent seeds in one program.

    Args:
      config: agent config (`PPOConfig` by default).
      key: PRNG key (legacy ``uint32[2]``).
      agent_factory: defaults to `jit_env.agents.make_ppo`.
      mesh: optional device mesh for the environment batch (see `make_trainer`).

    Returns:
      ``(final TrainState, metrics)`` with metrics stacked over ``config.num_updates``.

    Raises:
      ValueError / KeyError: as `make_trainer`.
    """
    if agent_factory is None:
        from jit_env.agents.ppo import make_ppo

        agent_factory = make_ppo
    trainer = make_trainer(config, agent_factory, mesh=mesh)
    return trainer.run(trainer.init(key), config.num_updates)


def make_evaluation_env(config: TrainingConfig, env_state: Any = None) -> _core.Environment:
    """The unbatched environment a trained agent is evaluated in.

    `make_single_env` ``(config.env)``; when ``config.normalize_observations``,
    behind a frozen `NormalizeObservation` whose ``reset`` starts from the
    training run's statistics (``env_state.stats``, the outermost wrapper's
    state), so the agent sees observations on the scale it was trained on.
    Rewards are the environment's own (never normalised).

    Args:
      config: the run's `TrainingConfig`.
      env_state: one seed's training environment state (unbatched over seeds);
        only read when ``config.normalize_observations``.

    Returns:
      An unbatched environment (batch it with `jit_env.wrappers.Vmap`).

    Raises:
      ValueError: if ``config.normalize_observations`` and ``env_state`` is None.
    """
    env = make_single_env(config.env)
    if not config.normalize_observations:
        return env
    if env_state is None:
        raise ValueError("`env_state` (with observation statistics) is needed when "
                         "`config.normalize_observations`")
    stats = env_state.stats

    class Frozen(wrappers.NormalizeObservation):
        def reset(self, key, *, options=None):
            return self.reset_with_statistics(key, stats, options=options)

    return Frozen(env, freeze=True)


POLICIES = ("greedy", "sample")
"""The evaluation policies of `evaluate_policy` (``jit-env eval --policy``)."""


def evaluation_policy(agent: Agent, agent_state: AgentState, policy: str = "greedy"):
    """``(act, params)`` of the evaluation policy ``policy`` of a trained agent.

    Args:
      agent: the run's `Agent`.
      agent_state: its `AgentState` (unbatched or batched: nothing is indexed).
      policy: ``"greedy"`` — ``agent.act_greedy`` with the current parameters
        ``agent_state.params`` (argmax / ε = 0 / Gaussian mean) — or
        ``"sample"`` — ``agent.act`` with ``agent.act_params(agent_state)``, the
        policy that collected the training data (DQN at its current ε, IMPALA's
        lagged behaviour parameters, PPO sampling).

    Returns:
      ``(act, params)`` for `jit_env.rollout.rollout`'s ``policy(params,
      timestep, policy_state, key)``.

    Raises:
      ValueError: if ``policy`` is not one of `POLICIES`, or is ``"greedy"`` for
        an agent whose ``act_greedy`` is ``None``.
    """
    if policy not in POLICIES:
        raise ValueError(f"`policy` must be one of {POLICIES}, got {policy!r}")
    if policy == "sample":
        return agent.act, agent.act_params(agent_state)
    if agent.act_greedy is None:
        raise ValueError("`policy`='greedy' needs an agent with `act_greedy`; this one has "
                         "none (use policy='sample')")
    return agent.act_greedy, agent_state.params


def evaluate_policy(
    config: TrainingConfig,
    agent: Agent,
    agent_state: AgentState,
    env_state: Any,
    key: jax.Array,
    *,
    episodes: int,
    policy: str = "greedy",
) -> tuple[jax.Array, jax.Array]:
    """Plays ``episodes`` fresh episodes with a trained agent, all in parallel: pure, jittable.

    By default the agent acts greedily (``policy="greedy"``, `evaluation_policy`:
    argmax of logits or Q-values, ε = 0 for DQN, the current rather than the
    lagged parameters for IMPALA, the clipped mean of a Gaussian policy), as
    Stable-Baselines3's ``evaluate_policy`` does by default (``deterministic=True``,
    ``stable_baselines3/common/evaluation.py``); ``policy="sample"`` acts as in
    training. The recurrent state starts from ``initial_policy_state`` and is
    carried. The environment is `make_evaluation_env` batched with `Vmap`, reset
    with fresh keys split from ``key``. Each episode runs to its first ``LAST``
    (the registered time limit bounds it) in one ``lax.while_loop``; steps after
    it are not counted. ``jax.vmap`` over ``(agent_state, env_state, key)``
    evaluates several seeds at once.

    Args:
      config: the run's `TrainingConfig`.
      agent: the run's `Agent`.
      agent_state: one seed's `AgentState` (unbatched).
      env_state: that seed's training environment state (only its observation
        statistics are used, when ``config.normalize_observations``).
      key: PRNG key.
      episodes: number of episodes (static).
      policy: ``"greedy"`` (default) or ``"sample"`` (see `evaluation_policy`).

    Returns:
      ``(returns [episodes] float32, lengths [episodes] int32)``; rewards are the
      environment's own (never normalised).

    Raises:
      ValueError: as `make_evaluation_env` and `evaluation_policy`; if
        ``episodes`` is not a positive int.
    """
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes <= 0:
        raise ValueError(f"`episodes` must be a positive int, got {episodes!r}")
    act, params = evaluation_policy(agent, agent_state, policy)
    env = wrappers.Vmap(make_evaluation_env(config, env_state))
    reset_key, act_key = jax.random.split(key)
    state, ts = env.reset(jax.random.split(reset_key, episodes))

    def cond(carry):
        return ~carry[3].all()

    def body(carry):
        state, ts, ret, done, key, length, pstate = carry
        key, k = jax.random.split(key)
        action, pstate, _ = act(params, ts, pstate, k)
        state, ts = env.step(state, action)
        ret = ret + jnp.where(done, 0.0, ts.reward)
        length = length + (~done).astype(jnp.int32)
        done = done | ts.last()
        return state, ts, ret, done, key, length, pstate

    init = (state, ts, jnp.zeros(episodes), jnp.zeros(episodes, bool), act_key,
            jnp.zeros(episodes, jnp.int32), agent.initial_policy_state((episodes,)))
    _, _, ret, _, _, length, _ = jax.lax.while_loop(cond, body, init)
    return ret, length
