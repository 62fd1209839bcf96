"""Whole-process wall time to a greedy return of −200 on Pendulum-v1: jit_env SAC vs SB3 vs rejax.

Each contender is a fresh Python process (interpreter start, imports, environment
and network construction, compilation and training all counted) that trains one
seed in chunks of ``--chunk`` environment steps and, after each chunk, evaluates
the current policy greedily (the mean / deterministic action) on
``--eval-episodes`` fresh episodes; the process stops at the first evaluation
whose mean return is ≥ ``--threshold`` or after ``--max-steps``. The driver
reports, per run, the time from launching the process to that evaluation, the
environment steps it took, and (for the JAX contenders) the compile time.
Evaluation time is inside the wall time for every contender.

* ``jit_env``: `jit_env.agents.SACConfig` (with ``--ours`` overrides) through
  `jit_env.agents.make_trainer`; each chunk is one jitted ``Trainer.run`` of
  ``chunk / steps_per_update`` updates (one compilation serves every chunk;
  chunked runs equal uninterrupted ones, tests/agents/test_contract.py), the
  evaluation `jit_env.agents.evaluate_policy` (``policy="greedy"``).
* ``sb3``: Stable-Baselines3 ``SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3)``,
  RL-Zoo's Pendulum-v1 config (``rl-baselines3-zoo`` ``hyperparams/sac.yml``), on
  gymnasium's Pendulum-v1, PyTorch on the CPU; ``model.learn(chunk,
  reset_num_timesteps=False)`` then ``evaluate_policy(model, env, n,
  deterministic=True)`` (``stable_baselines3/common/evaluation.py``).
* ``rejax``: ``rejax.SAC.create(**config)`` with rejax's own Pendulum-v1 SAC
  config (``configs/gymnax/pendulum.yaml`` of the rejax repository: 1 env,
  buffer 10,000, fill 256, batch 256, lr 0.01, polyak 0.98, swish,
  normalised observations), on gymnax's Pendulum-v1; ``jax.jit(algo.train)``
  continued from its train state chunk by chunk, evaluated with the squashed
  mean ``tanh(loc)`` of its actor.

Runs alternate (jit_env, sb3, rejax, jit_env, …) so that machine load falls on
all alike. The two venvs are created on first use (``--setup``)::

    python3 -m venv /tmp/jit_env_bench_sb3 && /tmp/jit_env_bench_sb3/bin/pip install \\
        torch==2.13.0 stable-baselines3 gymnasium
    python3 -m venv /tmp/jit_env_bench_rejax && /tmp/jit_env_bench_rejax/bin/pip install \
        rejax==0.1.3 gymnax==0.0.9   # rejax 0.1.3 fails on gymnax 1.0's step

Reproduce::

    .venv/bin/python benchmarks/learning/offpolicy_vs_sb3.py --setup --repeats 3

Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENVS = {
    "sb3": (Path("/tmp/jit_env_bench_sb3"), ["torch==2.13.0", "stable-baselines3", "gymnasium"]),
    # rejax 0.1.3 unpacks gymnax's 5-tuple step; gymnax 1.0 returns more (ValueError).
    "rejax": (Path("/tmp/jit_env_bench_rejax"), ["rejax==0.1.3", "gymnax==0.0.9"]),
}
XLA_FLAGS = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
REJAX_SAC = {  # rejax configs/gymnax/pendulum.yaml, "sac"
    "env": "Pendulum-v1", "agent_kwargs": {"activation": "swish"}, "num_envs": 1,
    "buffer_size": 10_000, "fill_buffer": 256, "batch_size": 256, "learning_rate": 0.01,
    "num_epochs": 1, "gamma": 0.99, "polyak": 0.98, "target_entropy_ratio": None,
    "normalize_observations": True,
}


def _report(**fields) -> None:
    print("RESULT " + json.dumps(fields), flush=True)


# ------------------------------------------------------------------ workers --
def worker_jit_env(args) -> None:
    import dataclasses

    import jax
    import numpy as np

    from jit_env.agents import SACConfig, evaluate_policy, make_sac, make_trainer

    overrides = json.loads(args.ours)
    config = dataclasses.replace(SACConfig(total_steps=args.max_steps), **overrides).validate()
    trainer = make_trainer(config, make_sac)
    updates = args.chunk // config.steps_per_update
    start = time.perf_counter()
    run = jax.jit(lambda s: trainer.run(s, updates)).lower(
        jax.eval_shape(trainer.init, jax.random.PRNGKey(0))).compile()
    play = jax.jit(lambda a, e, k: evaluate_policy(config, trainer.agent, a, e, k,
                                                   episodes=args.eval_episodes)[0])
    state = jax.jit(trainer.init)(jax.random.PRNGKey(args.seed))
    jax.block_until_ready(play(state.agent_state, state.env_state, jax.random.PRNGKey(1)))
    compile_s = time.perf_counter() - start
    steps, ret = 0, -np.inf
    while steps < args.max_steps:
        state, _ = run(state)
        steps += updates * config.steps_per_update
        ret = float(np.mean(play(state.agent_state, state.env_state,
                                 jax.random.PRNGKey(steps))))
        if ret >= args.threshold:
            break
    _report(time=time.time(), steps=steps, ret=ret, compile=compile_s)


def worker_sb3(args) -> None:
    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import SAC
    from stable_baselines3.common.evaluation import evaluate_policy

    model = SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=args.seed, verbose=0)
    eval_env = gym.make("Pendulum-v1")
    steps, ret = 0, -np.inf
    while steps < args.max_steps:
        model.learn(args.chunk, reset_num_timesteps=False)
        steps += args.chunk
        ret, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes,
                                 deterministic=True)
        if ret >= args.threshold:
            break
    _report(time=time.time(), steps=steps, ret=float(ret), compile=0.0)


def worker_rejax(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import rejax
    from rejax.evaluate import evaluate

    algo = rejax.SAC.create(**REJAX_SAC, total_timesteps=args.chunk, eval_freq=args.chunk,
                            skip_initial_evaluation=True)

    def act_fn(ts):
        def act(obs, rng):
            del rng
            obs = algo.normalize_obs(ts.obs_rms_state, obs)

            def mean_action(module, o):  # the squashed mean of rejax's SquashedGaussianPolicy
                loc = module._action_dist(o).mean()
                return module.action_loc + jnp.tanh(loc) * module.action_scale

            return jnp.squeeze(algo.actor.apply(ts.actor_ts.params, obs[None], method=mean_action))
        return act

    def play(ts, rng):
        return evaluate(act_fn(ts), rng, algo.env, algo.env_params, args.eval_episodes,
                        algo.env_params.max_steps_in_episode)[1]

    start = time.perf_counter()
    train = jax.jit(lambda ts: algo.train(train_state=ts)[0])
    ts = algo.init_state(jax.random.PRNGKey(args.seed))
    train = train.lower(ts).compile()
    play = jax.jit(play)
    jax.block_until_ready(play(ts, jax.random.PRNGKey(1)))
    compile_s = time.perf_counter() - start
    steps, ret = 0, -np.inf
    while steps < args.max_steps:
        ts = train(ts)
        steps += args.chunk
        ret = float(np.mean(play(ts, jax.random.PRNGKey(steps))))
        if ret >= args.threshold:
            break
    _report(time=time.time(), steps=steps, ret=ret, compile=compile_s)


WORKERS = {"jit_env": worker_jit_env, "sb3": worker_sb3, "rejax": worker_rejax}


# ------------------------------------------------------------------- driver --
def setup() -> None:
    """Creates the SB3 and rejax venvs under /tmp if they are missing."""
    for name, (venv, packages) in VENVS.items():
        if (venv / "bin" / "python").exists():
            continue
        print(f"creating {venv} for {name}", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(venv)],
                       check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)


def launch(name: str, args, seed: int) -> dict:
    """Runs one contender in a fresh process; returns its result and wall time."""
    python = sys.executable if name == "jit_env" else str(VENVS[name][0] / "bin" / "python")
    if not Path(python).exists():
        raise SystemExit(f"{python} is missing: run with --setup (or see the module docstring)")
    env = dict(os.environ, XLA_FLAGS=XLA_FLAGS, PYTHONPATH=str(ROOT))
    cmd = [python, __file__, "--worker", name, "--seed", str(seed), "--chunk", str(args.chunk),
           "--max-steps", str(args.max_steps), "--threshold", str(args.threshold),
           "--eval-episodes", str(args.eval_episodes), "--ours", args.ours]
    start = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    end = time.time()
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{name} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    return {"name": name, "seed": seed, "to_threshold": result["time"] - start,
            "process": end - start, "steps": result["steps"], "ret": result["ret"],
            "compile": result["compile"], "reached": result["ret"] >= args.threshold}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--setup", action="store_true", help="create the venvs if missing")
    parser.add_argument("--contenders", default="jit_env,sb3,rejax")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--max-steps", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=-200.0)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--ours", default='{"hidden_sizes": [64, 64]}',
                        help="JSON overrides of jit_env's SACConfig")
    args = parser.parse_args(argv)
    if args.worker:
        if "hidden_sizes" in args.ours:
            ours = json.loads(args.ours)
            ours["hidden_sizes"] = tuple(ours["hidden_sizes"])
            args.ours = json.dumps(ours)
        WORKERS[args.worker](args)
        return
    if args.setup:
        setup()
    names = args.contenders.split(",")
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{os.cpu_count()} CPUs; jit_env overrides {args.ours}", file=sys.stderr)
    results = []
    for rep in range(args.repeats):
        for name in names:
            r = launch(name, args, args.seed + rep)
            print(json.dumps(r), file=sys.stderr, flush=True)
            results.append(r)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    print("| contender | runs reaching "
          f"{args.threshold:g} | wall s to {args.threshold:g} (median, each run) | "
          "env steps (each run) | compile s (median) | ratio to sb3 |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for name in names:
        rs = [r for r in results if r["name"] == name]
        medians[name] = statistics.median(r["to_threshold"] for r in rs)
    for name in names:
        rs = [r for r in results if r["name"] == name]
        each = ", ".join(f"{r['to_threshold']:.1f}" + ("" if r["reached"] else "*") for r in rs)
        ratio = medians[name] / medians["sb3"] if "sb3" in medians else float("nan")
        print(f"| {name} | {sum(r['reached'] for r in rs)}/{len(rs)} | "
              f"{medians[name]:.1f} ({each}) | {', '.join(str(r['steps']) for r in rs)} | "
              f"{statistics.median(r['compile'] for r in rs):.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
