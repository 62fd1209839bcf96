"""The run loop and greedy evaluation of rlax's examples, as one pure, jittable function.

A jit_env rewrite of rlax's ``examples/experiment.py`` (``run_loop``): train for
``train_episodes`` episodes, the agent acting and learning at every step; after
every episode whose number is a multiple of ``evaluate_every`` (0, 50, 100, …)
play ``eval_episodes`` episodes greedily and report their average return. Here the
whole run is one ``lax.scan`` over episodes (each a ``lax.while_loop`` over steps
until ``LAST``), so ``jax.jit(run_loop(...))`` compiles everything once; the
evaluation episodes are played in parallel (``jax.vmap``). Also the small MLP that
rlax's examples build with haiku's ``nets.MLP([hidden, num_actions])``, in plain
JAX.

The examples that use it: ``simple_dqn.py``, ``online_q_learning.py``,
``online_q_lambda.py``, ``pop_art.py`` (each on ``Catch-bsuite``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Agent(NamedTuple):
    """An example agent as pure functions of its whole state (parameters, optimiser,
    accumulator), in the roles of rlax's ``actor_step`` / accumulator ``push`` /
    ``learner_step``.

    Attributes:
      init: ``init(key) -> state``.
      begin: ``begin(state, timestep, key) -> state``, at each episode's ``FIRST``
        step (rlax: ``accumulator.push(timestep, None)`` and a fresh actor state).
      act: ``act(state, timestep, key) -> (action, state)``, the training action.
      observe: ``observe(state, action, timestep, key) -> state``: the step's
        result; accumulates it and learns when the accumulator is ready.
      act_greedy: ``act_greedy(state, timestep) -> action``, the evaluation action.
    """

    init: Callable[[jax.Array], Any]
    begin: Callable[[Any, Any, jax.Array], Any]
    act: Callable[[Any, Any, jax.Array], tuple[jax.Array, Any]]
    observe: Callable[[Any, jax.Array, Any, jax.Array], Any]
    act_greedy: Callable[[Any, Any], jax.Array]


def mlp_init(key: jax.Array, sizes: tuple[int, ...]) -> dict[str, jax.Array]:
    """Parameters of a ReLU MLP with layer widths ``sizes`` (input first).

    Weights ``w{i}`` ``[sizes[i-1], sizes[i]]`` from a normal truncated at ±2
    standard deviations with stddev ``1 / sqrt(fan_in)``, biases ``b{i}`` zero
    (haiku ``Linear``'s default initialisers, ``haiku/_src/basic.py``).
    """
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:]), start=1):
        stddev = 1.0 / jnp.sqrt(n_in)
        params[f"w{i}"] = stddev * jax.random.truncated_normal(k, -2.0, 2.0, (n_in, n_out))
        params[f"b{i}"] = jnp.zeros((n_out,))
    return params


def mlp_apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """``x [..., D]`` through the MLP: ReLU after every layer but the last."""
    n = len(params) // 2
    for i in range(1, n + 1):
        x = x @ params[f"w{i}"] + params[f"b{i}"].reshape((1,) * (x.ndim - 1) + (-1,))
        if i < n:
            x = jax.nn.relu(x)
    return x


def evaluate(env, agent: Agent, state: Any, key: jax.Array, episodes: int) -> jax.Array:
    """Average return of ``episodes`` greedy episodes (rlax: ``evaluation=True``).

    The episodes run in parallel under ``jax.vmap``; steps after an episode's
    ``LAST`` are not counted.
    """

    def one(key):
        env_state, ts = env.reset(key)

        def cond(carry):
            return ~carry[1].last()

        def body(carry):
            env_state, ts, ret = carry
            env_state, ts = env.step(env_state, agent.act_greedy(state, ts))
            return env_state, ts, ret + ts.reward

        return jax.lax.while_loop(cond, body, (env_state, ts, jnp.zeros(())))[2]

    return jnp.mean(jax.vmap(one)(jax.random.split(key, episodes)))


def run_loop(env, agent: Agent, key: jax.Array, *, train_episodes: int, evaluate_every: int,
             eval_episodes: int) -> tuple[Any, jax.Array]:
    """Trains for ``train_episodes`` episodes, evaluating every ``evaluate_every``.

    Args:
      env: an unbatched jit_env environment whose episodes end (``Catch-bsuite``).
      agent: the `Agent`.
      key: PRNG key.
      train_episodes: number of training episodes (static).
      evaluate_every: evaluate after episodes ``0, evaluate_every, …`` (static).
      eval_episodes: greedy episodes per evaluation (static).

    Returns:
      ``(state, eval_returns)``: the final agent state and ``[train_episodes]``
      float32, the average greedy return after each evaluated episode, NaN after
      the others.

    Raises:
      ValueError: if a count is not a positive int.
    """
    for name, value in (("train_episodes", train_episodes), ("evaluate_every", evaluate_every),
                        ("eval_episodes", eval_episodes)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    init_key, key = jax.random.split(key)
    state = agent.init(init_key)

    def train_episode(state, xs):
        number, key = xs
        reset_key, begin_key, loop_key, eval_key = jax.random.split(key, 4)
        env_state, ts = env.reset(reset_key)
        state = agent.begin(state, ts, begin_key)

        def cond(carry):
            return ~carry[2].last()

        def body(carry):
            state, env_state, ts, key = carry
            key, act_key, learn_key = jax.random.split(key, 3)
            action, state = agent.act(state, ts, act_key)
            env_state, ts = env.step(env_state, action)
            state = agent.observe(state, action, ts, learn_key)
            return state, env_state, ts, key

        state, *_ = jax.lax.while_loop(cond, body, (state, env_state, ts, loop_key))
        returns = jax.lax.cond(
            number % evaluate_every == 0,
            lambda s: evaluate(env, agent, s, eval_key, eval_episodes),
            lambda _: jnp.float32(jnp.nan), state)
        return state, returns

    numbers = jnp.arange(train_episodes, dtype=jnp.int32)
    return jax.lax.scan(train_episode, state, (numbers, jax.random.split(key, train_episodes)))


def report(eval_returns: Any) -> list[tuple[int, float]]:
    """``[(episode, average return)]`` of the evaluated episodes, printed as rlax does."""
    import numpy as np

    returns = np.asarray(eval_returns)
    rows = [(int(i), float(returns[i])) for i in np.flatnonzero(~np.isnan(returns))]
    for episode, avg in rows:
        print(f"Episode {episode:4d}: Average returns: {avg:.2f}")
    return rows


def train(env, make_agent: Callable[..., Agent], config: dict[str, Any]) -> tuple[Any, jax.Array]:
    """``run_loop`` of ``make_agent(env, **config)`` in one ``jax.jit``, from ``config["seed"]``.

    Args:
      env: the environment (``Catch-bsuite``, possibly wrapped).
      make_agent: an example's agent factory, called with every entry of ``config``.
      config: the example's defaults with any overrides; must hold ``seed``,
        ``train_episodes``, ``evaluate_every`` and ``eval_episodes``.

    Returns:
      ``(final agent state, [train_episodes] average greedy returns, NaN between
      evaluations)``, as `run_loop`.
    """
    agent = make_agent(env, **config)
    run = jax.jit(lambda key: run_loop(
        env, agent, key, train_episodes=config["train_episodes"],
        evaluate_every=config["evaluate_every"], eval_episodes=config["eval_episodes"]))
    return run(jax.random.PRNGKey(config["seed"]))


def main(train_fn: Callable[[], tuple[Any, jax.Array]], config: dict[str, Any], *,
         banner: str = "", scale: float = 1.0) -> list[tuple[int, float]]:
    """Prints rlax's banner, runs ``train_fn()`` and prints its evaluations (`report`).

    Args:
      train_fn: runs the training, returning `train`'s pair.
      config: the configuration, for the episode count in the banner.
      banner: more text after rlax's ``Training agent for N episodes``.
      scale: the reported returns are divided by it (PopArt's scaled rewards).

    Returns:
      ``[(episode, average greedy return / scale)]``.
    """
    print(f"Training agent for {config['train_episodes']} episodes{banner}")
    _, returns = train_fn()
    return report(returns / scale)


def catch_entry_points(
    make_agent: Callable[..., Agent],
    defaults: dict[str, Any],
    *,
    wrap: Callable[[Any, dict[str, Any]], Any] | None = None,
    banner: Callable[[dict[str, Any]], str] | str = "",
    scale_key: str | None = None,
) -> tuple[Callable[..., tuple[Any, jax.Array]], Callable[..., list[tuple[int, float]]]]:
    """``(train, main)`` of an example that trains ``make_agent`` on ``Catch-bsuite``.

    * ``train(**overrides)``: `train` with the example's ``defaults`` (rlax's;
      ``overrides`` replace some) in one ``jax.jit``: ``(final agent state,
      [train_episodes] average greedy returns, NaN between evaluations)``.
    * ``main(**overrides)``: `main` of that ``train``: prints the evaluations as
      rlax does and returns ``[(episode, average greedy return)]``.

    Args:
      make_agent: the example's agent factory.
      defaults: its configuration.
      wrap: ``wrap(env, config)``, wrappers around ``Catch-bsuite`` (PopArt's
        reward scaling); none by default.
      banner: `main`'s banner text, or a function of the configuration giving it.
      scale_key: the configuration entry the reported returns are divided by.
    """
    import jit_env

    def train_(**overrides: Any) -> tuple[Any, jax.Array]:
        config = defaults | overrides
        env = jit_env.make("Catch-bsuite")
        return train(env if wrap is None else wrap(env, config), make_agent, config)

    def main_(**overrides: Any) -> list[tuple[int, float]]:
        config = defaults | overrides
        return main(lambda: train_(**overrides), config,
                    banner=banner(config) if callable(banner) else banner,
                    scale=1.0 if scale_key is None else config[scale_key])

    return train_, main_
