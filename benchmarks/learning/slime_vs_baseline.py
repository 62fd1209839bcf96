"""PPO against Slime Volleyball's 2015 baseline: the learning curve, as slimevolleygym measures it.

slimevolleygym's ``training_scripts/train_ppo.py`` trains PPO on ``SlimeVolley-v0``
with an ``EvalCallback(eval_freq=250000, n_eval_episodes=1000)`` (Stable-Baselines'
``deterministic=True`` by default), and ``TRAINING.md`` reports the step count of
the first evaluation whose mean score is above 0 (a median of 3.0 M steps over
its single-thread PPO trials, the best 1.27 M). This script does the same for
``--seeds`` seeds vmapped in one program: it trains ``--eval-every`` steps at a
time (``jax.jit(jax.vmap(trainer.run))``), then plays ``--episodes`` greedy
episodes per seed against the baseline (`jit_env.agents.evaluate_policy`), and
prints, per seed, the first evaluation above 0 and the curve; over seeds the
mean ± std and worst seed of the final evaluation and of each seed's best
evaluation so far (what ``EvalCallback`` keeps as ``best_model``).

    PYTHONPATH=. .venv/bin/python benchmarks/learning/slime_vs_baseline.py \
        --total-steps 3000000 --seeds 3 --plot docs/img/slime_vs_baseline.png

Wall time: training (all seeds together) and evaluation are reported apart,
compilation separately. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ["XLA_FLAGS"] = (  # as benchmarks/learning/run.py: seeds-vmapped XLA:CPU programs
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
).strip()

import jax
import numpy as np

from jit_env.agents import PPOConfig, evaluate_policy, make_ppo, make_trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (the PPO fields it names override `PPOConfig`'s defaults)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-steps", type=int, default=3_000_000, help="per seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-every", type=int, default=250_000,
                        help="environment steps per seed between evaluations (rounded to "
                             "whole updates; slimevolleygym: 250,000)")
    parser.add_argument("--episodes", type=int, default=1000, help="per evaluation and seed")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--num-steps", type=int, default=256)
    parser.add_argument("--num-minibatches", type=int, default=32)
    parser.add_argument("--update-epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--no-anneal-lr", action="store_true")
    parser.add_argument("--ent-coef", type=float, default=0.0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--plot", default="", help="write the curve to this PNG")
    parser.add_argument("--json", default="", help="write the curve to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Trains, evaluates every ``--eval-every`` steps, prints the table and the curve."""
    args = parse_args(argv)
    config = PPOConfig(
        env="SlimeVolley-v0", num_envs=args.num_envs, num_steps=args.num_steps,
        num_minibatches=args.num_minibatches, update_epochs=args.update_epochs,
        learning_rate=args.learning_rate, anneal_lr=not args.no_anneal_lr,
        ent_coef=args.ent_coef, hidden_sizes=tuple(args.hidden), total_steps=args.total_steps,
    ).validate()
    trainer = make_trainer(config, make_ppo)
    per_update = config.steps_per_update
    chunk = max(1, round(args.eval_every / per_update))
    keys = jax.random.split(jax.random.PRNGKey(0), args.seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    play = jax.jit(jax.vmap(lambda s, k: evaluate_policy(
        config, trainer.agent, s.agent_state, s.env_state, k, episodes=args.episodes,
        policy="greedy")[0]))
    compiled: dict[int, object] = {}
    compile_s = train_s = eval_s = 0.0
    done, steps, curve = 0, [], []
    while done < config.num_updates:
        n = min(chunk, config.num_updates - done)
        if n not in compiled:
            t = time.perf_counter()
            compiled[n] = run.trace(state, n).lower().compile()
            compile_s += time.perf_counter() - t
        t = time.perf_counter()
        state, _ = jax.block_until_ready(compiled[n](state))
        train_s += time.perf_counter() - t
        done += n
        t = time.perf_counter()
        scores = np.asarray(play(state, jax.random.split(jax.random.PRNGKey(done), args.seeds)))
        eval_s += time.perf_counter() - t
        steps.append(done * per_update)
        curve.append(scores.mean(axis=1))
        print(f"{steps[-1]:>11,} steps: greedy vs baseline per seed "
              f"[{', '.join(f'{c:+.3f}' for c in curve[-1])}] (train {train_s:.0f} s, "
              f"eval {eval_s:.0f} s)", flush=True)
    table = np.stack(curve, axis=1)  # [seeds, evaluations]
    best = np.maximum.accumulate(table, axis=1)[:, -1]
    final = table[:, -1]
    first = [next((s for s, c in zip(steps, row) if c > 0), None) for row in table]
    print(f"\nPPO vs the 2015 baseline, {args.seeds} seeds, {config.num_envs} x "
          f"{config.num_steps} per update, {steps[-1]:,} steps per seed; train {train_s:.0f} s "
          f"+ compile {compile_s:.0f} s + evaluations {eval_s:.0f} s")
    print(f"final evaluation ({args.episodes} greedy episodes): {final.mean():.3f} ± "
          f"{final.std():.3f} (worst {final.min():.3f})")
    print(f"best evaluation so far (EvalCallback's best_model): {best.mean():.3f} ± "
          f"{best.std():.3f} (worst {best.min():.3f})")
    median = np.median([np.inf if f is None else f for f in first])  # "never" counts as inf
    print("first evaluation > 0 per seed: "
          + ", ".join("never" if f is None else f"{f:,}" for f in first)
          + (f"; median {median:,.0f}" if np.isfinite(median) else "; median: never"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": steps, "scores": table.tolist(), "argv": vars(args)}, f)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        millions = np.asarray(steps) / 1e6
        for i, row in enumerate(table):
            ax.plot(millions, row, alpha=0.5, label=f"seed {i}")
        ax.plot(millions, table.mean(axis=0), color="black", lw=2, label="mean")
        ax.axhline(0.0, color="grey", ls="--", lw=1)
        ax.set_xlabel("environment steps per seed (millions)")
        ax.set_ylabel(f"score vs baseline ({args.episodes} episodes)")
        ax.set_title("PPO on SlimeVolley-v0 against the 2015 baseline")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
