"""The pure training loop shared by the bundled agents, and pure evaluation.

One update = one `jit_env.rollout.rollout` of ``num_steps`` over the batched,
auto-resetting environment (or, with a config's ``rollout="episodes"``, ``num_envs``
whole episodes from `jit_env.rollout.episodes`), then ``agent.update`` on the
`Trajectory`. The
whole run is ``lax.scan`` over updates, so `train` is one pure function that
``jax.jit`` compiles whole and ``jax.vmap`` batches over seeds. `Trainer.run`
runs a fixed number of updates so that a host can report between jitted chunks
(the ``jit-env`` command does, `jit_env.cli`); chunked and uninterrupted runs
give identical results. `evaluate_policy` plays fresh episodes with a trained
agent, also as one pure function.

Nothing here touches files, clocks or signals: that is `jit_env.cli`'s job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jit_env import _core, specs, wrappers
from jit_env.agents._agent import Agent, AgentState, Metrics
from jit_env.agents._config import TrainingConfig
from jit_env.agents._env_params import EnvParamsSampler, parse_env_params, ranges_sampler
from jit_env.agents._training_envs import (
    _config_env,
    make_single_env,
    make_training_env,
)
from jit_env.rollout import Trajectory, episodes, rollout

AgentFactory = Callable[[Any, specs.EnvironmentSpec], Agent]
"""``factory(config, env_spec) -> Agent``, e.g. `jit_env.agents.make_ppo`."""


class TrainState(NamedTuple):
    """Everything a training run carries from one update to the next.

    Attributes:
      agent_state: parameters, optimiser state and update count.
      env_state: state of the batched environment ``[B, ...]`` (with
        ``rollout="episodes"``: of the initial reset, unused since every update
        resets).
      timestep: the current batched TimeStep ``[B, ...]`` (idem).
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
      run: ``run(train_state, num_updates, start=0) -> (train_state, metrics)``
        with metrics stacked to ``[num_updates]`` (``num_updates`` static;
        ``start``, the number of updates already done, an int or an ``int32``
        scalar that is not vmapped, places the evaluations of
        ``config.eval_every``).
    """

    env: _core.Environment
    agent: Agent
    env_spec: specs.EnvironmentSpec
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, Metrics]]
    run: Callable[..., tuple[TrainState, Metrics]]



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


def _whole_episode_metrics(trajectory: Trajectory) -> dict[str, jax.Array]:
    """`_episode_metrics` of a batch of `episodes`: every episode counts, cut or not.

    As rlx's ``REINFORCE.train`` averages the reward and length of every sampled
    episode (``rlx/algos/reinforce.py``), an episode still running at the horizon
    counts with its return so far. ``valid_steps`` is the number of real (unpadded)
    environment steps of the update.
    """
    tr = trajectory.transitions()
    lengths = tr.valid.sum(axis=0)
    returns = (tr.r_t * tr.valid).sum(axis=0).astype(jnp.float32)
    return {
        "episodes": jnp.asarray(returns.size, jnp.int32),
        "episode_return": returns.mean(),
        "episode_return_min": returns.min(),
        "episode_return_max": returns.max(),
        "episode_length": lengths.astype(jnp.float32).mean(),
        "valid_steps": lengths.sum().astype(jnp.int32),
    }


EVAL_METRICS = ("eval_return", "eval_return_std", "eval_length")
"""The metrics of an evaluation during training (NaN in updates without one)."""

_EVAL_KEY_SALT = 0x5E7A1  # folded into the training key: evaluation draws its own keys


def eval_metrics(returns: jax.Array, lengths: jax.Array) -> dict[str, jax.Array]:
    """`EVAL_METRICS` of `evaluate_policy`'s ``(returns [E], lengths [E])``: mean, std, length."""
    return {"eval_return": returns.mean(), "eval_return_std": returns.std(),
            "eval_length": lengths.astype(jnp.float32).mean()}


def scan_updates(update: Callable[[Any], tuple[Any, Metrics]],
                 evaluation: Callable[[Any], dict[str, jax.Array]], eval_every: int, state: Any,
                 num_updates: int, start: Any = 0) -> tuple[Any, Metrics]:
    """``num_updates`` calls of ``update`` in one ``lax.scan``, the `Trainer.run` of every trainer.

    With ``eval_every`` > 0, update number ``start + i`` (``i`` from 1) also returns
    ``evaluation(state)`` when it is a multiple of ``eval_every`` and NaN for each of
    `EVAL_METRICS` otherwise (a ``lax.cond``, so the metrics keep one structure).
    """
    if not eval_every:
        return jax.lax.scan(lambda s, _: update(s), state, None, length=num_updates)

    def no_evaluation(state: Any) -> dict[str, jax.Array]:
        del state
        return {name: jnp.float32(jnp.nan) for name in EVAL_METRICS}

    def body(s: Any, number: jax.Array) -> tuple[Any, Metrics]:
        s, metrics = update(s)
        due = number % eval_every == 0
        return s, dict(metrics) | jax.lax.cond(due, evaluation, no_evaluation, s)

    numbers = jnp.asarray(start, jnp.int32) + jnp.arange(1, num_updates + 1, dtype=jnp.int32)
    return jax.lax.scan(body, state, numbers)
_ENV_PARAMS_SALT = 0xD0A1  # folded into the environments' key: the parameter draw


def make_trainer(
    config: TrainingConfig,
    agent_factory: AgentFactory,
    *,
    mesh: Mesh | None = None,
    axis_name: str = "batch",
    env: _core.Environment | None = None,
    env_params_sampler: EnvParamsSampler | None = None,
) -> Trainer:
    """Builds the training functions for ``config`` and an agent factory.

    Args:
      config: a `TrainingConfig` subclass (e.g. `PPOConfig`).
      agent_factory: ``agent_factory(config, env_spec) -> Agent`` (e.g. `make_ppo`).
      mesh: optional device mesh; the environment batch axis is sharded over
        its ``axis_name`` axis with `jit_env.wrappers.Shard` (every step of every
        rollout), and parameters are replicated.
      axis_name: mesh axis for the environment batch.
      env: an `Environment` object to train on instead of
        ``make(config.env, **config.env_kwargs)`` (then ``config.env_kwargs``
        must be ``"{}"``); the same stack is built around it, and evaluation
        (``eval_every``) plays it too.
      env_params_sampler: ``sampler(key, num_envs) -> params`` (leaves
        ``[num_envs, ...]``) for domain randomisation in code, instead of
        ``config.env_params``' ranges (`jit_env.agents._env_params`).

    Domain randomisation (``config.env_params`` or ``env_params_sampler``):
    ``init`` draws one parameter set per environment from
    ``fold_in(env_key, salt)``, where ``env_key`` is the key the environment
    resets split from (so the same ``init`` key gives the same draw), and
    resets the batch with them (`VmapAutoReset` with ``options_axis=0``); each
    environment keeps its parameters across auto-resets. Without either,
    ``init`` is unchanged (no extra key is drawn).

    With ``config.eval_every = N > 0``, ``run`` evaluates the agent greedily
    (`evaluate_policy`, ``config.eval_episodes`` whole episodes on their own
    environments) after every update whose number (``start`` + position, from 1)
    is a multiple of ``N``, inside the compiled program (a ``lax.cond`` on the
    update number, which stays a branch under ``jax.vmap`` over seeds as long as
    ``start`` is not vmapped). Its keys are ``fold_in(train_state.key, salt)``:
    fresh at every evaluation, and the training state, its keys included, is
    not touched, so training is bit-identical with and without evaluation.
    Metrics gain `EVAL_METRICS` (mean and std of the returns and the mean
    length, float32; NaN in updates without an evaluation).

    With ``config.rollout == "episodes"`` (`jit_env.agents.ActorCriticConfig`),
    each update plays ``num_envs`` fresh episodes of at most ``config.horizon``
    steps (`jit_env.rollout.episodes` on `make_single_env`, reset with the
    update's rollout key, recurrent state from ``initial_policy_state``); the
    episode metrics count every episode (`_whole_episode_metrics`) and add
    ``valid_steps``, the real (unpadded) steps of the update (the run's step count, like
    ``steps_per_update``, counts the padded ``num_envs * horizon``); ``Trainer.env`` is
    `make_single_env` batched with `jit_env.wrappers.Vmap`.

    Returns:
      The `Trainer`; ``init(key)`` takes one PRNG key (legacy ``uint32[2]``).

    Raises:
      ValueError: if ``num_envs`` is not divisible by the mesh axis size, or from
        the factory on a bad config or unsupported specs; with
        ``rollout="episodes"`` and a ``mesh`` (not supported);
        if both
        ``config.env_params`` and ``env_params_sampler`` are given, or
        ``config.env_params`` names a parameter the environment lacks.
      KeyError: for an unregistered ``config.env``.
      ImportError / AttributeError / TypeError: for a ``config.env`` that names
        no importable `Environment` (from `jit_env.make`); TypeError for an
        ``env`` that is not an `Environment`.
    """
    if config.env_params and env_params_sampler is not None:
        raise ValueError("give `config.env_params` or `env_params_sampler`, not both (got "
                         f"{config.env_params!r} and a sampler)")
    randomise = bool(config.env_params) or env_params_sampler is not None
    base_env, base_kwargs = _config_env(config, env)
    given_env = env  # evaluation rebuilds config.env, or plays the object given
    episodic = getattr(config, "rollout", "steps") == "episodes"
    if episodic:
        if mesh is not None:
            raise ValueError("`mesh` is not supported with `rollout`='episodes'")
        if randomise:
            raise ValueError("`env_params` / `env_params_sampler` are not supported with "
                             "`rollout`='episodes'")
        episode_env = make_single_env(base_env, base_kwargs)
        env = wrappers.Vmap(episode_env)
        single = (episode_env.env if isinstance(episode_env, wrappers.ClipAction)
                  else episode_env)
    else:
        env, single = make_training_env(
            base_env,
            config.num_envs,
            normalize_observations=config.normalize_observations,
            normalize_rewards=config.normalize_rewards,
            gamma=config.gamma,
            mesh=mesh,
            axis_name=axis_name,
            env_kwargs=base_kwargs,
            options_axis=0 if randomise else None,
        )
    env_spec = specs.make_environment_spec(single)
    agent = agent_factory(config, env_spec)
    sampler = env_params_sampler
    if config.env_params:
        sampler = ranges_sampler(getattr(single.unwrapped, "default_params", None),
                                 parse_env_params(config.env_params), config.env)

    def init(key: jax.Array) -> TrainState:
        key, agent_key, env_key = jax.random.split(key, 3)
        agent_state = agent.init(agent_key)
        options = None
        if sampler is not None:
            options = sampler(jax.random.fold_in(env_key, _ENV_PARAMS_SALT), config.num_envs)
        env_state, timestep = env.reset(jax.random.split(env_key, config.num_envs),
                                        options=options)
        policy_state = agent.initial_policy_state((config.num_envs,))
        return TrainState(agent_state, env_state, timestep, policy_state, key)

    def update_on_episodes(state: TrainState) -> tuple[TrainState, Metrics]:
        key, rollout_key, update_key = jax.random.split(state.key, 3)
        trajectory = episodes(
            episode_env,
            agent.act,
            agent.act_params(state.agent_state),
            rollout_key,
            config.horizon,  # type: ignore[attr-defined]  # an ActorCriticConfig
            num_episodes=config.num_envs,
            policy_state=agent.initial_policy_state((config.num_envs,)),
        )
        agent_state, metrics = agent.update(state.agent_state, trajectory, update_key)
        metrics = dict(metrics) | _whole_episode_metrics(trajectory)
        return state._replace(agent_state=agent_state, key=key), metrics

    def update(state: TrainState) -> tuple[TrainState, Metrics]:
        if episodic:
            return update_on_episodes(state)
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

    def evaluation(state: TrainState) -> dict[str, jax.Array]:
        key = jax.random.fold_in(state.key, _EVAL_KEY_SALT)
        return eval_metrics(*evaluate_policy(config, agent, state.agent_state, state.env_state,
                                             key, episodes=config.eval_episodes, env=given_env))

    def run(state: TrainState, num_updates: int, start: Any = 0) -> tuple[TrainState, Metrics]:
        return scan_updates(update, evaluation, config.eval_every, state, num_updates, start)

    return Trainer(env, agent, env_spec, init, update, run)


def default_factory(config: TrainingConfig) -> AgentFactory:
    """The bundled agent factory for ``config``'s class (the nearest along its MRO).

    `PPOConfig` and `ContinuousPPOConfig` → `jit_env.agents.make_ppo`,
    `RecurrentPPOConfig` → ``make_recurrent_ppo``, `DQNConfig` → ``make_dqn``,
    `A2CConfig` → ``make_a2c``, `REINFORCEConfig` → ``make_reinforce``,
    `IMPALAConfig` → ``make_impala``, `SACConfig` → ``make_sac``, `TD3Config` →
    ``make_td3``, `DDPGConfig` → ``make_ddpg``, `OffPACConfig` → ``make_offpac``.

    Raises:
      TypeError: for a config class with no bundled factory (pass ``agent_factory``).
    """
    from jit_env.agents import a2c, dqn, impala, offpac, ppo, recurrent_ppo, reinforce, sac, td3

    factories: dict[type, AgentFactory] = {
        sac.SACConfig: sac.make_sac,
        td3.TD3Config: td3.make_td3,
        td3.DDPGConfig: td3.make_ddpg,
        ppo.PPOConfig: ppo.make_ppo,
        recurrent_ppo.RecurrentPPOConfig: recurrent_ppo.make_recurrent_ppo,
        dqn.DQNConfig: dqn.make_dqn,
        a2c.A2CConfig: a2c.make_a2c,
        reinforce.REINFORCEConfig: reinforce.make_reinforce,
        impala.IMPALAConfig: impala.make_impala,
        offpac.OffPACConfig: offpac.make_offpac,
    }
    for cls in type(config).__mro__:
        if cls in factories:
            return factories[cls]
    raise TypeError(f"no bundled agent for {type(config).__name__}: pass `agent_factory`")


def train(
    config: TrainingConfig,
    key: jax.Array,
    agent_factory: AgentFactory | None = None,
    *,
    mesh: Mesh | None = None,
    axis_name: str = "batch",
    sweep: dict[str, Any] | None = None,
    env: _core.Environment | None = None,
) -> tuple[TrainState, Metrics]:
    """Trains from scratch: one pure function of ``(config, key)``.

    ``jax.jit(lambda k: train(config, k))`` compiles the whole run;
    ``jax.vmap`` over keys trains independent seeds in one program.

    With ``sweep = {field: [values]}`` (e.g. ``{"learning_rate": [1e-4, 3e-4],
    "ent_coef": [0.0, 0.01]}``) it trains every point of the grid
    (`jit_env.agents._sweep.sweep_grid`: the Cartesian product, first field
    slowest) from the same ``key`` in one program, ``jax.vmap``-ed over the
    swept values; only a config class's ``sweepable`` fields can be swept.

    Args:
      config: agent config.
      key: PRNG key (legacy ``uint32[2]``).
      agent_factory: defaults to the bundled agent of ``config``'s class
        (`default_factory`: `PPOConfig` → PPO, `DQNConfig` → DQN, ...).
      mesh: optional device mesh for the environment batch (see `make_trainer`).
        It may span processes: after ``jax.distributed.initialize()``, a mesh
        over ``jax.devices()`` shards the batch over every device of every
        process, each process running this same call; the metrics and
        parameters come back replicated, so every process reads the same
        values (docs/scaling.md; ``jit-env train --distributed``).
      axis_name: the mesh axis the environment batch is split over.
      sweep: optional ``{field: [value, ...]}``.
      env: an `Environment` object to train on instead of ``config.env`` (see
        `make_trainer`); e.g. ``train(PPOConfig(), key, env=GridWorld(5))``.

    Returns:
      ``(final TrainState, metrics)`` with metrics stacked over
      ``config.num_updates``; with a sweep, every leaf has a leading grid axis
      ``[G]`` in `sweep_grid` order.

    Raises:
      ValueError / KeyError: as `make_trainer`; for a bad ``sweep`` (naming the
        field, see `sweep_grid`).
      TypeError: for a config without a bundled agent and no ``agent_factory``.
    """
    factory = default_factory(config) if agent_factory is None else agent_factory
    if sweep is None:
        trainer = make_trainer(config, factory, mesh=mesh, axis_name=axis_name, env=env)
        return trainer.run(trainer.init(key), config.num_updates)
    from jit_env.agents._sweep import stacked_values, sweep_grid

    values = stacked_values(sweep_grid(config, sweep))

    def one(point: dict[str, Any]) -> tuple[TrainState, Metrics]:
        trainer = make_trainer(dataclasses.replace(config, **point), factory, mesh=mesh,
                               axis_name=axis_name, env=env)
        return trainer.run(trainer.init(key), config.num_updates)

    return jax.vmap(one)(values)


def make_evaluation_env(config: TrainingConfig, env_state: Any = None, *,
                        env: _core.Environment | None = None) -> _core.Environment:
    """The unbatched environment a trained agent is evaluated in.

    `make_single_env` ``(config.env, config.env_kwargs)`` (or of ``env``); when
    ``config.normalize_observations``, behind a frozen `NormalizeObservation`
    whose ``reset`` starts from the training run's statistics
    (``env_state.stats``, the outermost wrapper's state), so the agent sees
    observations on the scale it was trained on. Rewards are the environment's
    own (never normalised).

    Args:
      config: the run's `TrainingConfig`.
      env_state: one seed's training environment state (unbatched over seeds);
        only read when ``config.normalize_observations``.
      env: the `Environment` object the run trained on, if it was given one
        (`make_trainer`'s ``env``).

    Returns:
      An unbatched environment (batch it with `jit_env.wrappers.Vmap`).

    Raises:
      ValueError: if ``config.normalize_observations`` and ``env_state`` is None.
    """
    env = make_single_env(*_config_env(config, env))
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
    env: _core.Environment | None = None,
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
      env: the `Environment` object the run trained on, if any (`make_evaluation_env`).

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
    batched = wrappers.Vmap(make_evaluation_env(config, env_state, env=env))
    reset_key, act_key = jax.random.split(key)
    state, ts = batched.reset(jax.random.split(reset_key, episodes))

    def cond(carry):
        return ~carry[3].all()

    def body(carry):
        state, ts, ret, done, key, length, pstate = carry
        key, k = jax.random.split(key)
        action, pstate, _ = act(params, ts, pstate, k)
        state, ts = batched.step(state, action)
        ret = ret + jnp.where(done, 0.0, ts.reward)
        length = length + (~done).astype(jnp.int32)
        done = done | ts.last()
        return state, ts, ret, done, key, length, pstate

    init = (state, ts, jnp.zeros(episodes), jnp.zeros(episodes, bool), act_key,
            jnp.zeros(episodes, jnp.int32), agent.initial_policy_state((episodes,)))
    _, _, ret, _, _, length, _ = jax.lax.while_loop(cond, body, init)
    return ret, length
