"""Learning benchmark: every bundled agent on its environment, 5 seeds vmapped.

For each row, ``jit_env.agents.train(config, key, factory)`` with the algorithm's
default config (`jit_env.cli.ALGORITHMS`), ``jax.vmap`` over
``--num-seeds`` keys in one ``jax.jit``. Columns:

* ``steps``: environment steps per seed (``config.total_steps`` rounded down to
  whole updates); for whole-episode rows, the padded ``num_envs * horizon`` per
  update (the real, unpadded steps are printed to stderr).
* ``compile s``: ``jax.jit(...).trace().lower().compile()`` after ``jax.clear_caches()``
  (one measurement; tracing included).
* ``run s``: median over ``--repeats`` blocked calls of the compiled program (all
  seeds together).
* ``final return``: per seed, the NaN-free mean of the per-update mean episode
  return over the last 5 % of updates (at least one update), i.e. the training
  policy's episodes (DQN still explores with its final ε); then mean ± std over
  seeds, and the worst seed.
* ``eval return``: the final agents (each seed) play ``--eval-episodes`` fresh
  episodes with `jit_env.agents.evaluate_policy`'s ``--eval-policy``: ``sample``
  (the default here, as the README table was made: they act as in training,
  sampled policies, DQN at its final ε = 0.05) or ``greedy`` (argmax / mean);
  mean ± std over seeds of the per-seed means, and the worst seed.
* ``target``: the issue's acceptance bar, checked on the mean training return
  and on the mean eval return; ``reference``: a published result for the same
  algorithm and environment (sources in ``ROWS``).

Reproduce (CPU; several minutes per row, longer on a loaded machine)::

    .venv/bin/python benchmarks/learning/run.py                 # every row, 5 seeds
    .venv/bin/python benchmarks/learning/run.py --rows dqn,a2c  # rows by algorithm
    .venv/bin/python benchmarks/learning/run.py --envs IncompleteCartPole-v1  # by environment
    .venv/bin/python benchmarks/learning/run.py --rows ppo:MaskedMaze-v0  # one row
    .venv/bin/python benchmarks/learning/run.py --quick         # 1/10 of the steps, 2 seeds

Not part of the test run. Like ``benchmarks/ppo_bench.py`` it passes
``--xla_cpu_enable_concurrency_optimized_scheduler=false`` to XLA (jax 0.10.2's
XLA:CPU can hang in seeds-vmapped programs without it).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import time
from typing import NamedTuple

import numpy as np

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
).strip()

import jax

from jit_env.agents import evaluate_policy, make_trainer, train
from jit_env.cli import get_algorithm


class Row(NamedTuple):
    """One benchmark row: an algorithm's default config on an environment."""

    algo: str
    env: str
    target: float | None
    reference: str
    overrides: dict = {}
    label: str = ""  # shown instead of ``algo``; --rows accepts it too


# Published references. rl-zoo: rl-baselines3-zoo ``benchmark.md`` (one trained agent,
# deterministic evaluation). CleanRL: docs/rl-algorithms/*.md (mean ± std over seeds of
# the training episodic return).
ROWS = (
    Row("ppo", "CartPole-v1", 475.0, "500 ± 0 (rl-zoo ppo, 100k steps)"),
    Row("dqn", "CartPole-v1", 475.0, "488.7 ± 16.1 (CleanRL dqn.py, 500k steps)"),
    Row("a2c", "CartPole-v1", 475.0, "500 ± 0 (rl-zoo a2c, 500k steps)"),
    Row("reinforce", "CartPole-v1", None, "none published for this config"),
    Row("impala", "Catch-bsuite", 0.9, "1.0 is the optimum (bsuite Catch)"),
    Row("offpac", "CartPole-v1", 475.0, "none published for this config"),
    Row("recurrent_ppo", "CartPole-NoVelocity-v1", 400.0, "500 is the optimum"),
    Row("ppo", "CartPole-NoVelocity-v1", None, "feed-forward PPO, for comparison",
        {"env": "CartPole-NoVelocity-v1"}),
    # rlx's IncompleteCartPole-v1 (rlx/env.py): only the angular velocity is hidden.
    Row("recurrent_ppo", "IncompleteCartPole-v1", 400.0, "500 is the optimum",
        {"env": "IncompleteCartPole-v1"}),
    Row("ppo", "IncompleteCartPole-v1", None, "feed-forward PPO, for comparison",
        {"env": "IncompleteCartPole-v1"}),
    # rlx's IncompleteCartPole-v0: the same observation, CartPole-v0's 200-step limit.
    Row("recurrent_ppo", "IncompleteCartPole-v0", 160.0, "200 is the optimum",
        {"env": "IncompleteCartPole-v0"}),
    Row("ppo", "IncompleteCartPole-v0", None, "feed-forward PPO, for comparison",
        {"env": "IncompleteCartPole-v0"}),
    Row("ppo_continuous", "Pendulum-v1", -250.0, "-172.2 ± 104.2 (rl-zoo ppo, 100k steps)"),
    Row("ppo_continuous", "MountainCarContinuous-v0", None,
        "88.3 ± 2.6 (rl-zoo ppo, 20k steps, gSDE)", {"env": "MountainCarContinuous-v0"}),
    # Off-policy rows: 64-64 networks (the defaults are RL-Zoo's 256-256 / 400-300, which
    # take several times longer on a 2-core CPU); run with --eval-policy greedy.
    # Whole-episode rollouts (rlx's rollout unit, `jit_env.rollout.episodes`): each update
    # is num_envs = 8 episodes of at most 500 steps; steps count the padded horizon
    # (8 x 500 per update). rlx (dasayan05/rlx) publishes no number: its README shows a
    # plot (extra/exp.png) and main.py stops training at a running reward of 480 on
    # CartPole-v1. On whole episodes A2C's GAE(lambda=1) advantage is REINFORCE-with-
    # baseline's; the two rows differ by their optimiser defaults (A2C: 3e-3 here).
    Row("reinforce", "CartPole-v1", None, "none published (rlx: a plot, no number)",
        {"rollout": "episodes", "horizon": 500, "total_steps": 1_000_000},
        "reinforce-episodes"),
    Row("a2c", "CartPole-v1", None, "none published (rlx: a plot, no number)",
        {"rollout": "episodes", "horizon": 500, "total_steps": 1_000_000,
         "learning_rate": 3e-3}, "a2c-episodes"),
    Row("sac", "Pendulum-v1", -200.0, "-157.0 ± 88.7 (rl-zoo sac, 20k steps)",
        {"hidden_sizes": (64, 64)}),
    Row("td3", "Pendulum-v1", -200.0, "-151.9 ± 90.2 (rl-zoo td3, 20k steps)",
        {"total_steps": 30_000, "hidden_sizes": (64, 64)}),
    Row("ddpg", "Pendulum-v1", None, "-152.1 ± 94.3 (rl-zoo ddpg, 20k steps)",
        {"hidden_sizes": (64, 64)}),
    # Action-side rows (issue #18): a masked categorical and a Dict action of a categorical
    # and a Gaussian. Both environments are jit_env's own (`jit_env.envs.toy`).
    Row("ppo", "MaskedMaze-v0", 0.95, "1.0: every episode reaches the goal (illegal moves "
        "end it with -1)", {"env": "MaskedMaze-v0", "total_steps": 50_000}),
    Row("ppo", "UnmaskedMaze-v0", None, "the same maze without the mask, for comparison",
        {"env": "UnmaskedMaze-v0", "total_steps": 50_000}),
    Row("ppo", "ChooseAndAim-v0", 0.75, "1.0 is the optimum; uniform choice, clipped N(0, 1) aim: "
        "-0.43", {"env": "ChooseAndAim-v0", "total_steps": 100_000,
                       "learning_rate": 1e-3, "ent_coef": 0.0}),
    # MinAtar Breakout with gymnax-blines' PPO settings (agents/Breakout-MinAtar/ppo.yaml at
    # commit 3f029d6: 64 envs x 128 steps, 8 minibatches, 4 epochs, constant lr 5e-4,
    # gamma 0.999, separate 256-256 ReLU MLPs on the flattened image). Reference: the run
    # logged in that directory's ppo.pkl (one seed; `log_return` is the mean return of 164
    # sampled-policy episodes): 16.63 at 959,936 steps, 15.71 at 1,279,936, 22.88 at 9.9 M.
    # Ours plays sticky actions (p = 0.1) and MinAtar's 6 actions; gymnax's port
    # (gymnax/environments/minatar/breakout.py, 1.0.1) has neither (its minimal set of 3
    # actions, no sticky draw), so ours is the harder of the two.
    Row("ppo", "Breakout-MinAtar", 16.63, "16.63 at 959,936 steps (gymnax-blines PPO, "
        "agents/Breakout-MinAtar/ppo.pkl, 1 seed)",
        {"env": "Breakout-MinAtar", "torso": "mlp", "hidden_sizes": (256, 256),
         "activation": "relu", "num_envs": 64, "num_steps": 128, "num_minibatches": 8,
         "update_epochs": 4, "learning_rate": 5e-4, "anneal_lr": False, "gamma": 0.999,
         "total_steps": 1_000_000}, "ppo-gymnax-blines"),
    # The same with the step size of the sweep's best plain row (benchmarks/RESULTS.md,
    # 2026-12-08: lr 1e-3 … 3e-3, 8 epochs, entropy 0.001, LeCun kernels all reach 12–14.5).
    Row("ppo", "Breakout-MinAtar", 16.63, "as above",
        {"env": "Breakout-MinAtar", "torso": "mlp", "hidden_sizes": (256, 256),
         "activation": "relu", "num_envs": 64, "num_steps": 128, "num_minibatches": 8,
         "update_epochs": 4, "learning_rate": 2e-3, "anneal_lr": False, "gamma": 0.999,
         "total_steps": 1_000_000}, "ppo-gymnax-blines-lr2e-3"),
    # Slime Volleyball against the 2015 baseline with slimevolleygym's PPO1 settings
    # (training_scripts/train_ppo.py: 4,096 steps per batch, 10 epochs, minibatches of 64,
    # lr 3e-4, no entropy bonus); run with --eval-episodes 1000 --eval-policy greedy.
    # Reference: slimevolleygym TRAINING.md (17 seeds of single-thread PPO).
    Row("ppo", "SlimeVolley-v0", 0.0, "SB PPO: > 0 after a median 3.0 M steps (best 1.27 M); "
        "96-core PPO 1.377 ± 1.133; random −4.866 ± 0.372",
        {"env": "SlimeVolley-v0", "num_envs": 8, "num_steps": 512, "update_epochs": 10,
         "num_minibatches": 64, "learning_rate": 3e-4, "ent_coef": 0.0,
         "total_steps": 3_000_000}, "ppo-vs-baseline"),
    # The same with ppo_selfplay's batch (32 games x 256 steps, 32 minibatches), which
    # steps about twice as fast on a CPU.
    Row("ppo", "SlimeVolley-v0", 0.0, "as above",
        {"env": "SlimeVolley-v0", "num_envs": 32, "num_steps": 256, "update_epochs": 10,
         "num_minibatches": 32, "learning_rate": 3e-4, "ent_coef": 0.0,
         "total_steps": 3_000_000}, "ppo-vs-baseline-32x256"),
    Row("ppo", "SlimeVolley-v0", 0.0, "as above",
        {"env": "SlimeVolley-v0", "num_envs": 32, "num_steps": 256, "update_epochs": 10,
         "num_minibatches": 32, "learning_rate": 3e-4, "ent_coef": 0.0,
         "total_steps": 10_000_000}, "ppo-vs-baseline-32x256-10M"),
)


def final_returns(returns: np.ndarray) -> np.ndarray:
    """Per seed: NaN-free mean of ``returns [S, U]`` over the last 5 % of updates."""
    tail = max(1, int(math.ceil(returns.shape[1] * 0.05)))
    with np.errstate(invalid="ignore"):
        return np.nanmean(returns[:, -tail:], axis=1)


def run_row(row: Row, num_seeds: int, repeats: int, scale: float, eval_episodes: int,
            eval_policy: str = "sample") -> dict:
    """Compiles and runs one row; returns its table entries."""
    algorithm = get_algorithm(row.algo)
    factory = algorithm.factory
    config = dataclasses.replace(algorithm.config(), **row.overrides)
    if scale != 1.0:
        config = dataclasses.replace(
            config, total_steps=max(config.steps_per_update, int(config.total_steps * scale))
        )
    config = config.validate()
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    fn = jax.jit(jax.vmap(lambda k: train(config, k, factory)))
    jax.clear_caches()
    start = time.perf_counter()
    compiled = fn.trace(keys).lower().compile()
    compile_s = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        final_state, metrics = jax.block_until_ready(compiled(keys))
        runs.append(time.perf_counter() - start)
    finals = final_returns(np.asarray(metrics["episode_return"], np.float64))
    agent = make_trainer(config, factory).agent
    play = jax.jit(jax.vmap(lambda a, e, k: evaluate_policy(config, agent, a, e, k,
                                                            episodes=eval_episodes,
                                                            policy=eval_policy)[0]))
    evals = np.asarray(play(final_state.agent_state, final_state.env_state,
                            jax.random.split(jax.random.PRNGKey(1), num_seeds))).mean(axis=1)
    if "valid_steps" in metrics:  # whole episodes: steps counts the padded horizon
        real = np.asarray(metrics["valid_steps"], np.int64).sum(axis=1)
        print(f"{row.label or row.algo}: unpadded steps per seed {real.mean():,.0f} "
              f"(min {real.min():,}, max {real.max():,})", file=sys.stderr)
    return {
        "steps": config.num_updates * config.steps_per_update,
        "compile": compile_s,
        "run": statistics.median(runs),
        "mean": float(np.mean(finals)),
        "std": float(np.std(finals)),
        "worst": float(np.min(finals)),
        "eval_mean": float(np.mean(evals)),
        "eval_std": float(np.std(evals)),
        "eval_worst": float(np.min(evals)),
    }


def main(argv: list[str] | None = None) -> None:
    """Runs the selected rows and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="comma-separated algorithms or algo:env "
                        "(e.g. ppo:MaskedMaze-v0; default: all)")
    parser.add_argument("--envs", default="", help="comma-separated environments (default: all)")
    parser.add_argument("--num-seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--eval-policy", choices=("sample", "greedy"), default="sample")
    parser.add_argument("--quick", action="store_true", help="1/10 of the steps, 2 seeds")
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.rows.split(",")))
    envs = set(filter(None, args.envs.split(",")))
    rows = [r for r in ROWS if (not wanted or r.algo in wanted or r.label in wanted
                                or f"{r.algo}:{r.env}" in wanted)
            and (not envs or r.env in envs)]
    num_seeds, scale = (2, 0.1) if args.quick else (args.num_seeds, 1.0)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {num_seeds} seeds"
          + (" (quick: 1/10 of the steps)" if args.quick else ""), file=sys.stderr)
    header = ("| algorithm | environment | steps | compile s | run s | final training return "
              "(mean ± std, worst seed) | eval return | target | reference |")
    lines = [header, "|---|---|---:|---:|---:|---|---|---|---|"]
    for row in rows:
        r = run_row(row, num_seeds, args.repeats, scale, args.eval_episodes, args.eval_policy)
        if row.target is None:
            target = "-"
        else:
            mark = lambda value: "✓" if value >= row.target else "✗"
            target = f"≥ {row.target:g}: train {mark(r['mean'])}, eval {mark(r['eval_mean'])}"
        line = (f"| {row.label or row.algo} | {row.env} | {r['steps']:,} | {r['compile']:.1f} | "
                f"{r['run']:.1f} | {r['mean']:.2f} ± {r['std']:.2f} ({r['worst']:.2f}) | "
                f"{r['eval_mean']:.2f} ± {r['eval_std']:.2f} ({r['eval_worst']:.2f}) | "
                f"{target} | {row.reference} |")
        print(line, file=sys.stderr, flush=True)
        lines.append(line)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
