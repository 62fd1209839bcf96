"""Self-play PPO on Slime Volleyball, then the score against the 2015 baseline.

Trains `jit_env.agents.self_play` (champion scheme of slimevolleygym's
``training_scripts/train_ppo_selfplay.py``) with slimevolleygym's PPO1
settings as far as `PPOConfig` has them (4,096 steps per update as 8 x 512,
10 epochs, minibatches of 64, lr 3e-4 annealed, no entropy bonus, γ 0.99,
λ 0.95, 64-64 tanh MLP), then plays ``--episodes`` episodes of
``SlimeVolley-v0`` against the baseline and prints mean ± std, as
slimevolleygym ``TRAINING.md`` does (PPO self-play: −0.371 ± 1.085)::

    PYTHONPATH=. .venv/bin/python benchmarks/learning/slime_selfplay.py --total-steps 3000000
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from jit_env.agents import PPOConfig
from jit_env.agents.self_play import evaluate_vs_baseline, make_self_play_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-steps", type=int, default=3_000_000)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=50, help="updates per jitted call")
    args = parser.parse_args()
    config = PPOConfig(env="SlimeVolley-v0", num_envs=8, num_steps=512, update_epochs=10,
                       num_minibatches=64, learning_rate=3e-4, ent_coef=0.0,
                       total_steps=args.total_steps)
    trainer = make_self_play_trainer(config)
    updates = args.total_steps // (config.num_envs * config.num_steps)
    state = trainer.init(jax.random.key(args.seed))
    run = jax.jit(trainer.run, static_argnums=1)
    start, done = time.perf_counter(), 0
    while done < updates:
        n = min(args.chunk, updates - done)
        state, metrics = run(state, n)
        done += n
        ret = np.asarray(metrics["episode_return"])
        print(f"update {done}/{updates}: generation {int(state.generation)}, "
              f"training return vs champion {np.nanmean(ret):.3f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    for policy in ("greedy", "sample"):
        scores = np.asarray(jax.jit(lambda s, k, policy=policy: evaluate_vs_baseline(
            config, trainer.agent, s, k, episodes=args.episodes, policy=policy
        ))(state.train.agent_state, jax.random.key(args.seed + 1)))
        print(f"self-play PPO, {done * config.num_envs * config.num_steps} steps, "
              f"{int(state.generation)} champions: vs baseline over {args.episodes} episodes "
              f"{scores.mean():.3f} ± {scores.std():.3f} ({policy} policy)", flush=True)


if __name__ == "__main__":
    main()
