"""Self-play PPO on Slime Volleyball, inside one compiled program, and evaluation vs the baseline.

The learner plays the right agent of `jit_env.envs.slime.SlimeVolley`; the
left agent is the **champion**, a frozen snapshot of the learner's parameters
played by `jit_env.wrappers.FixedOpponent` (sampling from its policy, as
slimevolleygym's champion ``best_model.predict(obs)`` does with
``deterministic=False``). Generation 0 is the learner's own initial network
(close to uniformly random, like slimevolleygym's random first opponent).
The training episodes finished against the current champion are pooled; once
``window_episodes`` of them (100, slimevolleygym's ``EVAL_EPISODES``) have
been played, the champion is replaced by the learner if their mean score
exceeds ``margin`` (0.5, slimevolleygym's ``BEST_THRESHOLD``), and the pool
restarts either way. This is the champion scheme of slimevolleygym's
``training_scripts/train_ppo_selfplay.py`` (``SelfPlayCallback``), with the
training episodes standing in for its separate 100-episode evaluation, and
one champion rather than a pool. The swap is
`jit_env.wrappers.set_opponent_params` on the batched environment state, a
``jnp.where``: no host round trip.

`evaluate_vs_baseline` plays episodes of ``SlimeVolley-v0`` (the right agent
against the 2015 baseline) and returns every episode's score, for slimevolleygym
``TRAINING.md``'s "mean ± std over 1,000 episodes".
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs, wrappers
from jit_env.agents._agent import Agent, Metrics
from jit_env.agents._loop import (
    _EVAL_KEY_SALT,
    Trainer,
    TrainState,
    _episode_metrics,
    eval_metrics,
    evaluate_policy,
    scan_updates,
)
from jit_env.agents.ppo import PPOConfig, make_ppo
from jit_env.envs import slime
from jit_env.rollout import rollout

SLIME_ID = "SlimeVolley-v0"


class SelfPlayState(NamedTuple):
    """The self-play run's state.

    Attributes:
      train: the PPO `jit_env.agents.TrainState` (its ``env_state`` holds the champion).
      pool_return: sum of the scores of the episodes finished against the
        current champion since the last check (``float32``).
      pool_episodes: their number (``int32``).
      generation: champions so far (``int32``, 0 = the initial network).
    """

    train: TrainState
    pool_return: jax.Array
    pool_episodes: jax.Array
    generation: jax.Array


class SelfPlayTrainer(NamedTuple):
    """The pure functions of a self-play run (`make_self_play_trainer`).

    Attributes:
      env: the batched training environment (learner vs champion).
      agent: the PPO `Agent`.
      init: ``init(key) -> SelfPlayState``.
      update: one PPO update, then the champion check; its metrics are PPO's,
        the episode statistics, ``generation``, ``pool_mean_return`` (the pool's
        mean score after this update's episodes, before a restart) and
        ``champion_check`` (``int32``: 1 when the pool was compared with the margin).
      run: ``run(state, num_updates) -> (state, metrics)`` (``lax.scan``).
    """

    env: _core.Environment
    agent: Agent
    init: Any
    update: Any
    run: Any


def _opponent_params(state: Any) -> Any:
    while not isinstance(state, wrappers.FixedOpponentState):
        state = state.inner
    return state.opponent_params


def champion_opponent(agent: Agent, params: Any) -> wrappers.Opponent:
    """An `jit_env.wrappers.Opponent` that samples from ``agent``'s policy with given parameters.

    Args:
      agent: a feed-forward agent for ``SlimeVolley-v0`` (its ``act`` accepts an
        unbatched TimeStep, as PPO's MLP does).
      params: its default parameters (the champion until replaced).
    """

    def act(p: Any, carry: Any, observation: jax.Array, key: jax.Array) -> Any:
        action, _, _ = agent.act(p, _core.restart(observation), None, key)
        return jnp.asarray(action, jnp.int32), carry

    return wrappers.Opponent(init=lambda: (), act=act, params=params, stochastic=True)


class ChampionCheck(NamedTuple):
    """The outcome of `champion_check` (scalars).

    Attributes:
      promote: ``bool``: the learner becomes the champion.
      checked: ``bool``: the pool was full and was compared with the margin.
      mean: ``float32``: the pool's mean score (updated pool; meaningful when ``checked``).
      pool_return: ``float32``: the pool's score sum to carry on (0 after a check).
      pool_episodes: ``int32``: its episode count to carry on (0 after a check).
    """

    promote: jax.Array
    checked: jax.Array
    mean: jax.Array
    pool_return: jax.Array
    pool_episodes: jax.Array


def champion_check(
    pool_return: jax.Array,
    pool_episodes: jax.Array,
    episode_return: jax.Array,
    episode_done: jax.Array,
    *,
    margin: float,
    window_episodes: int,
) -> ChampionCheck:
    """The champion-replacement rule, on one update's episode statistics.

    The episodes that finished in the update (``episode_done``) add their score
    (``episode_return``, the learner's points won minus lost) to the pool; the
    steps of unfinished episodes add nothing. Once the pool holds at least
    ``window_episodes`` episodes its mean is compared with ``margin``: the
    learner is promoted if the mean is strictly above it (slimevolleygym
    ``train_ppo_selfplay.py``: ``SelfPlayCallback`` promotes when
    ``best_mean_reward > BEST_THRESHOLD``, the mean over ``EVAL_EPISODES`` =
    100 episodes, ``BEST_THRESHOLD`` = 0.5), and the pool restarts at zero
    either way. An update may overshoot the window: every episode it finished
    counts.

    Args:
      pool_return: ``float32 []``, the pool's score sum so far.
      pool_episodes: ``int32 []``, its number of episodes.
      episode_return: ``float32 [...]`` (e.g. ``[T, B]``), `EpisodeStatistics`'
        ``extras["episode_return"]`` of the update's steps.
      episode_done: ``bool [...]``, same shape, ``extras["episode_done"]``.
      margin: promotion threshold on the mean.
      window_episodes: episodes per check (positive int).

    Returns:
      A `ChampionCheck`.

    Raises:
      ValueError: if ``episode_return`` and ``episode_done`` differ in shape.
    """
    episode_return, episode_done = jnp.asarray(episode_return), jnp.asarray(episode_done)
    if episode_return.shape != episode_done.shape:
        raise ValueError(
            f"champion_check: `episode_return` {episode_return.shape} and `episode_done` "
            f"{episode_done.shape} must have the same shape"
        )
    finished = jnp.sum(jnp.where(episode_done, episode_return, 0.0))
    total = jnp.asarray(pool_return, jnp.float32) + finished
    count = jnp.asarray(pool_episodes, jnp.int32) + episode_done.sum().astype(jnp.int32)
    checked = count >= window_episodes
    mean = total / jnp.maximum(count, 1)
    return ChampionCheck(
        promote=checked & (mean > margin),
        checked=checked,
        mean=mean,
        pool_return=jnp.where(checked, 0.0, total).astype(jnp.float32),
        pool_episodes=jnp.where(checked, 0, count).astype(jnp.int32),
    )


def select_champion(promote: jax.Array, learner: Any, champion: Any) -> Any:
    """``learner``'s parameters where ``promote``, else ``champion``'s (leafwise ``jnp.where``)."""
    return jax.tree.map(lambda new, old: jnp.where(promote, new, old), learner, champion)


def make_self_play_trainer(
    config: PPOConfig, *, margin: float = 0.5, window_episodes: int = 100
) -> SelfPlayTrainer:
    """Self-play PPO for ``SlimeVolley-v0`` (see the module docstring).

    Args:
      config: a `PPOConfig` with ``env == "SlimeVolley-v0"`` (its episode
        limit, 3,000 steps, and the evaluation against the baseline).
      margin: the mean score over the pool above which the learner becomes
        the champion.
      window_episodes: episodes pooled before each check (positive int).

    Returns:
      A `SelfPlayTrainer`.

    Raises:
      ValueError: for another ``config.env``, observation / reward
        normalisation (the champion would need the learner's statistics), or a
        non-positive ``window_episodes``.
    """
    if config.env != SLIME_ID:
        raise ValueError(f"self-play needs config.env == {SLIME_ID!r}, got {config.env!r}")
    if config.normalize_observations or config.normalize_rewards:
        raise ValueError("self-play does not support normalize_observations / normalize_rewards")
    if isinstance(window_episodes, bool) or not isinstance(window_episodes, int) or (
        window_episodes < 1
    ):
        raise ValueError(f"`window_episodes` must be a positive int, got {window_episodes!r}")
    env_spec = specs.make_environment_spec(slime.slime_volley_vs_baseline())
    agent = make_ppo(config, env_spec)
    placeholder = agent.init(jax.random.key(0)).params
    single = wrappers.TimeLimit(
        wrappers.FixedOpponent(
            slime.SlimeVolley(), champion_opponent(agent, placeholder), agent=1
        ),
        3000,
    )
    env = wrappers.EpisodeStatistics(wrappers.VmapAutoReset(single, config.num_envs))
    batch = config.num_envs

    def broadcast(params: Any) -> Any:
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), params)

    def init(key: jax.Array) -> SelfPlayState:
        key, agent_key, env_key = jax.random.split(key, 3)
        agent_state = agent.init(agent_key)
        env_state, timestep = env.reset(jax.random.split(env_key, batch))
        env_state = wrappers.set_opponent_params(env_state, broadcast(agent_state.params))
        train = TrainState(agent_state, env_state, timestep, None, key)
        zero = jnp.zeros((), jnp.int32)
        return SelfPlayState(train, jnp.zeros((), jnp.float32), zero, zero)

    def update(state: SelfPlayState) -> tuple[SelfPlayState, Metrics]:
        t = state.train
        key, rollout_key, update_key = jax.random.split(t.key, 3)
        carry, trajectory = rollout(
            env, agent.act, agent.act_params(t.agent_state), t.env_state, t.timestep,
            rollout_key, config.num_steps, policy_state=t.policy_state,
        )
        agent_state, metrics = agent.update(t.agent_state, trajectory, update_key)
        episodes = _episode_metrics(trajectory.timesteps)
        extras = trajectory.timesteps.extras
        if extras is None:  # EpisodeStatistics is the outermost wrapper: never None
            raise ValueError("the self-play stack must report episode statistics in `extras`")
        result = champion_check(
            state.pool_return, state.pool_episodes, extras["episode_return"][1:],
            extras["episode_done"][1:], margin=margin, window_episodes=window_episodes,
        )
        champion = select_champion(
            result.promote, broadcast(agent_state.params), _opponent_params(carry.env_state)
        )
        env_state = wrappers.set_opponent_params(carry.env_state, champion)
        new = SelfPlayState(
            TrainState(agent_state, env_state, carry.timestep, carry.policy_state, key),
            result.pool_return,
            result.pool_episodes,
            state.generation + result.promote.astype(jnp.int32),
        )
        metrics = dict(metrics) | episodes | {
            "generation": new.generation,
            "pool_mean_return": result.mean,
            "champion_check": result.checked.astype(jnp.int32),
        }
        return new, metrics

    def run(state: SelfPlayState, num_updates: int) -> tuple[SelfPlayState, Metrics]:
        return jax.lax.scan(lambda s, _: update(s), state, None, length=num_updates)

    return SelfPlayTrainer(env, agent, init, update, run)


def evaluate_vs_baseline(
    config: PPOConfig,
    agent: Agent,
    agent_state: Any,
    key: jax.Array,
    *,
    episodes: int = 1000,
    policy: str = "greedy",
) -> jax.Array:
    """Scores of ``episodes`` episodes of ``SlimeVolley-v0`` against the 2015 baseline.

    `jit_env.agents.evaluate_policy` on ``config`` (whose ``env`` must be
    ``"SlimeVolley-v0"``); each episode runs to the loss of 5 lives or 3,000
    steps. slimevolleygym ``TRAINING.md`` reports mean ± std of these over 1,000
    episodes (random policy −4.866 ± 0.372).

    Returns:
      ``float32 [episodes]``: each episode's score (points won − points lost).

    Raises:
      ValueError: if ``config.env`` is not ``"SlimeVolley-v0"``; as `evaluate_policy`.
    """
    if config.env != SLIME_ID:
        raise ValueError(f"evaluate_vs_baseline needs config.env == {SLIME_ID!r}")
    returns, _ = evaluate_policy(config, agent, agent_state, None, key, episodes=episodes,
                                 policy=policy)
    return returns


@dataclasses.dataclass(frozen=True)
class SelfPlayPPOConfig(PPOConfig):
    """`PPOConfig` for self-play on ``SlimeVolley-v0`` (``jit-env train --algo ppo_selfplay``).

    Defaults: slimevolleygym's PPO1 settings (``training_scripts/train_ppo_selfplay.py``:
    10 epochs, Adam 3e-4 annealed linearly, no entropy bonus, γ 0.99, λ 0.95, 64-64
    tanh networks) with 32 games x 256 steps per update and minibatches of 256
    (PPO1 collects 4,096 steps from one game, minibatches of 64), and its champion
    rule: ``margin`` 0.5 (``BEST_THRESHOLD``) over ``window_episodes`` 100
    (``EVAL_EPISODES``). Evaluation (``eval_every``, ``jit-env eval``) plays
    ``env``, i.e. against the 2015 baseline the learner never trains against.

    Attributes:
      margin: the pool's mean score above which the learner becomes the champion.
      window_episodes: finished episodes pooled per check (positive).
    """

    env: str = SLIME_ID
    num_envs: int = 32
    num_steps: int = 256
    total_steps: int = 10_000_000
    update_epochs: int = 10
    num_minibatches: int = 32
    learning_rate: float = 3e-4
    ent_coef: float = 0.0
    margin: float = 0.5
    window_episodes: int = 100

    def problems(self) -> list[str]:
        """`PPOConfig.problems` plus the environment, normalisation and champion-rule checks."""
        problems = super().problems()
        if self.env != SLIME_ID:
            problems.append(f"`env` must be {SLIME_ID!r} for self-play, got {self.env!r}")
        if self.normalize_observations or self.normalize_rewards:
            problems.append("self-play does not support normalize_observations / "
                            "normalize_rewards (the champion would need the learner's statistics)")
        if isinstance(self.window_episodes, bool) or not isinstance(self.window_episodes, int) \
                or self.window_episodes < 1:
            problems.append(f"`window_episodes` must be a positive int, got "
                            f"{self.window_episodes!r}")
        if not jnp.isfinite(self.margin):
            problems.append(f"`margin` must be finite, got {self.margin!r}")
        return problems


class SelfPlayPool(NamedTuple):
    """The champion pool carried in `TrainState.policy_state` by `self_play_trainer`
    (PPO's MLP has no recurrent state): ``pool_return`` (``float32``),
    ``pool_episodes`` and ``generation`` (``int32``), as in `SelfPlayState`."""

    pool_return: jax.Array
    pool_episodes: jax.Array
    generation: jax.Array


def self_play_trainer(
    config: SelfPlayPPOConfig,
    agent_factory: Any = None,
    *,
    mesh: Any = None,
    axis_name: str = "batch",
    env: _core.Environment | None = None,
    env_params_sampler: Any = None,
) -> Trainer:
    """`make_self_play_trainer` as a `jit_env.agents.Trainer`, for ``jit-env train``.

    The signature is `jit_env.agents.make_trainer`'s (the command line builds
    every algorithm's trainer through it). `TrainState` holds the learner;
    its ``policy_state`` slot holds the `SelfPlayPool` and ``env_state`` the
    champion. With ``config.eval_every = N > 0`` the learner plays
    ``config.eval_episodes`` episodes against the 2015 baseline (greedy, as
    `make_trainer`'s evaluation) after every ``N``-th update, with keys folded
    from the training key (training is unchanged by it).

    Args:
      config: a `SelfPlayPPOConfig` (its ``margin`` and ``window_episodes``).
      agent_factory: ignored unless given, then it must be `make_ppo`.
      mesh / env / env_params_sampler: must be ``None`` (not supported).
      axis_name: unused.

    Raises:
      TypeError: if ``config`` is not a `SelfPlayPPOConfig`.
      ValueError: for an invalid config, another agent factory, or any of
        ``mesh``, ``env``, ``env_params_sampler``.
    """
    del axis_name
    if not isinstance(config, SelfPlayPPOConfig):
        raise TypeError(f"self_play_trainer needs a SelfPlayPPOConfig, got {type(config).__name__}")
    config.validate()
    if agent_factory is not None and agent_factory is not make_ppo:
        raise ValueError(f"self-play trains PPO (make_ppo), got agent_factory={agent_factory!r}")
    for name, value in (("mesh", mesh), ("env", env), ("env_params_sampler", env_params_sampler)):
        if value is not None:
            raise ValueError(f"self-play does not support `{name}` (got {value!r})")
    sp = make_self_play_trainer(config, margin=config.margin,
                                window_episodes=config.window_episodes)

    def to_train(state: SelfPlayState) -> TrainState:
        pool = SelfPlayPool(state.pool_return, state.pool_episodes, state.generation)
        return state.train._replace(policy_state=pool)

    def from_train(state: TrainState) -> SelfPlayState:
        pool = state.policy_state
        return SelfPlayState(state._replace(policy_state=None), pool.pool_return,
                             pool.pool_episodes, pool.generation)

    def init(key: jax.Array) -> TrainState:
        return to_train(sp.init(key))

    def update(state: TrainState) -> tuple[TrainState, Metrics]:
        new, metrics = sp.update(from_train(state))
        return to_train(new), metrics

    def evaluation(state: TrainState) -> dict[str, jax.Array]:
        key = jax.random.fold_in(state.key, _EVAL_KEY_SALT)
        return eval_metrics(*evaluate_policy(config, sp.agent, state.agent_state, None, key,
                                             episodes=config.eval_episodes))

    def run(state: TrainState, num_updates: int, start: Any = 0) -> tuple[TrainState, Metrics]:
        return scan_updates(update, evaluation, config.eval_every, state, num_updates, start)

    env_spec = specs.make_environment_spec(slime.slime_volley_vs_baseline())
    return Trainer(sp.env, sp.agent, env_spec, init, update, run)
