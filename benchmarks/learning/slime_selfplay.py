"""Self-play PPO on Slime Volleyball, several seeds vmapped, then the score against the baseline.

Trains `jit_env.agents.self_play` (champion scheme of slimevolleygym's
``training_scripts/train_ppo_selfplay.py``) for ``--seeds`` seeds in one
``jax.jit(jax.vmap(...))``, never against the baseline, then plays
``--episodes`` episodes of ``SlimeVolley-v0`` against the 2015 baseline with
every seed's final learner and prints mean ± std per seed and over seeds (the
worst seed too), as slimevolleygym ``TRAINING.md`` reports (PPO self-play:
−0.371 ± 1.085 over 1,000 episodes; random −4.866 ± 0.372).

Defaults: slimevolleygym's PPO1 settings where `PPOConfig` has them (10 epochs,
lr 3e-4 annealed, no entropy bonus, γ 0.99, λ 0.95, 64-64 tanh MLP), with 32
games x 256 steps per update and minibatches of 256 (``--config ppo1`` is
PPO1's own 4,096-step batch as 8 x 512 with minibatches of 64)::

    PYTHONPATH=. .venv/bin/python benchmarks/learning/slime_selfplay.py \
        --total-steps 10000000 --seeds 3 --episodes 1000

Wall time is the whole vmapped run (all seeds), compile reported separately.

Measured 2026-12-07 (2-core CPU shared with other jobs: contended), 3 seeds, 1,000
episodes per seed, greedy policy (slimevolleygym ``eval_agents.py`` evaluates PPO with
``deterministic=True``):

* ``--total-steps 10000000``: 10-17 champions; per seed -0.013, -0.221, 0.205;
  over seeds -0.010 ± 0.174 (worst -0.221); sampled policy -0.526 ± 0.188.
  Train 1,299 s + compile 89 s (all 3 seeds).
* ``--total-steps 15000000``: 14-22 champions; per seed -0.742, 0.473, 0.385;
  over seeds 0.039 ± 0.553 (worst -0.742); sampled policy -0.358 ± 0.520.
  Train 1,519 s + compile 71 s. Learning curve (greedy, 200 episodes per seed,
  every 1.23 M steps) in the run's output: about -4.8 until 2.5 M steps, then
  seed by seed up to -0.3 .. 0.6, with the fluctuations slimevolleygym's
  ``TRAINING.md`` reports for its champion history.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["XLA_FLAGS"] = (  # as benchmarks/learning/run.py: seeds-vmapped XLA:CPU programs
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
).strip()

import jax
import numpy as np

from jit_env.agents import PPOConfig
from jit_env.agents.self_play import evaluate_vs_baseline, make_self_play_trainer

CONFIGS = {
    "wide": {"num_envs": 32, "num_steps": 256, "num_minibatches": 32},
    "ppo1": {"num_envs": 8, "num_steps": 512, "num_minibatches": 64},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-steps", type=int, default=10_000_000, help="per seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--config", choices=tuple(CONFIGS), default="wide")
    parser.add_argument("--ent-coef", type=float, default=0.0)
    parser.add_argument("--chunk", type=int, default=100, help="updates per jitted call")
    parser.add_argument("--curve-episodes", type=int, default=200,
                        help="after every chunk, greedy episodes vs the baseline per seed "
                             "(the learning curve; 0: none; not part of the training time)")
    args = parser.parse_args()
    config = PPOConfig(env="SlimeVolley-v0", update_epochs=10, learning_rate=3e-4,
                       ent_coef=args.ent_coef, total_steps=args.total_steps,
                       **CONFIGS[args.config])
    trainer = make_self_play_trainer(config)
    per_update = config.num_envs * config.num_steps
    updates = args.total_steps // per_update
    keys = jax.random.split(jax.random.key(0), args.seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    curve_play = jax.jit(jax.vmap(lambda s, k: evaluate_vs_baseline(
        config, trainer.agent, s, k, episodes=max(args.curve_episodes, 1), policy="greedy")))
    eval_s = 0.0
    start = time.perf_counter()
    compiled = {}
    done, compile_s = 0, 0.0
    while done < updates:
        n = min(args.chunk, updates - done)
        if n not in compiled:
            t = time.perf_counter()
            compiled[n] = run.trace(state, n).lower().compile()
            compile_s += time.perf_counter() - t
        state, metrics = jax.block_until_ready(compiled[n](state))
        done += n
        ret = np.nanmean(np.asarray(metrics["episode_return"]), axis=1)
        print(f"update {done}/{updates} ({done * per_update:,} steps per seed): generations "
              f"{np.asarray(state.generation).tolist()}, training return vs champion "
              f"[{', '.join(f'{r:.2f}' for r in ret)}], {time.perf_counter() - start - compile_s - eval_s:.0f} s",
              flush=True)
        if args.curve_episodes:
            t = time.perf_counter()
            curve = np.asarray(curve_play(state.train.agent_state, jax.random.split(
                jax.random.key(done), args.seeds))).mean(axis=1)
            eval_s += time.perf_counter() - t
            print(f"  learning curve: greedy vs baseline over {args.curve_episodes} episodes "
                  f"per seed [{', '.join(f'{c:.2f}' for c in curve)}]", flush=True)
    train_s = time.perf_counter() - start - compile_s - eval_s
    for policy in ("sample", "greedy"):
        play = jax.jit(jax.vmap(lambda s, k, policy=policy: evaluate_vs_baseline(
            config, trainer.agent, s, k, episodes=args.episodes, policy=policy)))
        t = time.perf_counter()
        scores = np.asarray(play(state.train.agent_state, jax.random.split(jax.random.key(1),
                                                                           args.seeds)))
        eval_s = time.perf_counter() - t
        per_seed = scores.mean(axis=1)
        print(f"self-play PPO ({args.config}), {done * per_update:,} steps per seed, "
              f"{args.seeds} seeds, train {train_s:.0f} s + compile {compile_s:.0f} s, "
              f"champions {np.asarray(state.generation).tolist()}; vs baseline, "
              f"{args.episodes} episodes each ({policy} policy, {eval_s:.0f} s): per seed "
              + ", ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(per_seed, scores.std(axis=1)))
              + f"; over seeds {per_seed.mean():.3f} ± {per_seed.std():.3f}, worst "
              f"{per_seed.min():.3f}", flush=True)


if __name__ == "__main__":
    main()
