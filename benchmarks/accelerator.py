"""One command, any backend: environment steps/s, auto-reset strategies, keys, PPO, seeds.

Run on whatever JAX finds (CPU, GPU, TPU), unattended and offline: it needs only
jit_env's ``agents`` extra, plus gymnax for the anchor row (skipped, and said so,
when gymnax is not installed)::

    python benchmarks/accelerator.py                 # full table (minutes on a GPU)
    python benchmarks/accelerator.py --quick         # < 2 minutes on a small CPU
    python benchmarks/accelerator.py --json out.json # also write the rows

Tables (every time is the median of ``--repeats`` calls of a compiled program,
each after ``jax.block_until_ready``; compilation is ``jax.jit(f).lower().compile()``,
reported separately and never inside a timed call):

1. **Environment steps/s** of a uniformly random policy (actions drawn before the
   timed call, ``[T, B]``) stepping ``jit_env.wrappers.VmapAutoReset`` of
   CartPole-v1 and Acrobot-v1 (a heavier step: RK4 integration of a double
   pendulum) for batches of 1,024 to 65,536, with each auto-reset strategy of
   `jit_env.wrappers._batched_reset.reset_where`:

   * ``sparse`` — the default (``max_resets=None``): the ended rows are gathered,
     reset ``ceil(B / 16)`` at a time and scattered back;
   * ``select-all`` — ``max_resets=B``: reset every row and select with
     ``jnp.where`` (gymnax's way);

   and each key implementation: ``threefry`` (``jax.random.key(0)``, JAX's
   default) and ``unrolled`` (``jit_env.prng.key(0)``: threefry's draws, the hash
   written out; see `jit_env.prng`). The anchor: gymnax's CartPole-v1
   (``jax.vmap(env.step)``, which resets inside every step and takes a key per
   environment) at the same batch sizes.
2. **PPO end to end**: ``jit_env.agents.make_trainer(PPOConfig(num_envs=B, ...))``,
   ``trainer.run`` of a few updates in one program (rollout + GAE + epochs of
   minibatch updates); steps/s = environment steps / run time; its compile time.
3. **64 seeds vmapped**: the same trainer (a smaller batch per seed), ``jax.vmap``
   over 64 keys; steps/s summed over seeds.

The auto-reset default does not depend on the backend. Where this script's
table on an accelerator shows ``select-all`` ahead of ``sparse`` at every batch
size, the place to change it is `jit_env.wrappers._batched_reset.default_chunk`
(one function that every batched auto-reset calls), keyed on
``jax.default_backend()``; the CPU numbers alone do not justify such a switch.

This is not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
from _timing import env_scan, time_compiled

import jit_env
import jit_env.prng
from jit_env import agents, wrappers

ENVS = ("CartPole-v1", "Acrobot-v1")
STRATEGIES = ("sparse", "select-all")
KEYS = {"threefry": lambda: jax.random.key(0), "unrolled": lambda: jit_env.prng.key(0)}

FULL = {"batches": (1024, 4096, 16384, 65536), "steps": 128, "repeats": 5,
        "ppo_envs": (1024, 16384), "ppo_steps": 128, "ppo_updates": 4,
        "seeds": 64, "seed_envs": 64, "seed_updates": 4}
QUICK = {"batches": (4096,), "steps": 32, "repeats": 3,
         "ppo_envs": (1024,), "ppo_steps": 16, "ppo_updates": 1,
         "seeds": 64, "seed_envs": 8, "seed_updates": 1}



def _actions(env: Any, steps: int, batch: int) -> jax.Array:
    spec = env.action_spec()
    return jax.random.randint(jax.random.key(123), (steps, batch, *spec.shape), 0,
                              spec.num_values, dtype=spec.dtype)


def bench_env(env_id: str, batch: int, steps: int, strategy: str, keys: str,
              repeats: int) -> dict:
    single = jit_env.make(env_id)
    max_resets = None if strategy == "sparse" else batch  # select-all: k >= B
    env = wrappers.VmapAutoReset(single, batch, max_resets=max_resets)
    actions = _actions(single, steps, batch)

    run = env_scan(env)

    compile_s, run_s = time_compiled(run, (KEYS[keys](), actions), repeats)
    return {"table": "env", "env": env_id, "impl": "jit_env", "batch": batch,
            "strategy": strategy, "keys": keys, "steps_per_s": batch * steps / run_s,
            "compile_s": compile_s}


def bench_gymnax(batch: int, steps: int, repeats: int) -> dict | None:
    try:
        import gymnax
    except ImportError:
        return None
    env, params = gymnax.make("CartPole-v1")
    actions = _actions(jit_env.make("CartPole-v1"), steps, batch)

    def run(key, actions):
        reset_key, loop_key = jax.random.split(key)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, batch),
                                                          params)

        def body(carry, xs):
            (state, total), (action, key) = carry, xs
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(jax.random.split(key, batch),
                                                              state, action, params)
            return (out[1], total + out[2].sum()), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)),
                                         (actions, jax.random.split(loop_key, steps)))
        return state, total

    compile_s, run_s = time_compiled(run, (jax.random.key(0), actions), repeats)
    return {"table": "env", "env": "CartPole-v1", "impl": "gymnax", "batch": batch,
            "strategy": "reset every step", "keys": "threefry",
            "steps_per_s": batch * steps / run_s, "compile_s": compile_s}


def _ppo_config(num_envs: int, num_steps: int, updates: int) -> agents.PPOConfig:
    return agents.PPOConfig(num_envs=num_envs, num_steps=num_steps,
                            total_steps=num_envs * num_steps * updates)


def bench_ppo(num_envs: int, num_steps: int, updates: int, repeats: int,
              seeds: int | None = None) -> dict:
    config = _ppo_config(num_envs, num_steps, updates)
    trainer = agents.make_trainer(config, agents.make_ppo)

    def train(key):
        return trainer.run(trainer.init(key), updates)

    key = jax.random.PRNGKey(0)
    if seeds is None:
        fn, arg, runs = train, key, 1
    else:
        fn, arg, runs = jax.vmap(train), jax.random.split(key, seeds), seeds
    compile_s, run_s = time_compiled(fn, (arg,), repeats)
    return {"table": "ppo" if seeds is None else "seeds", "env": "CartPole-v1",
            "batch": num_envs, "seeds": runs, "updates": updates, "num_steps": num_steps,
            "steps_per_s": runs * num_envs * num_steps * updates / run_s,
            "compile_s": compile_s}


def _fmt(sps: float) -> str:
    return f"{sps / 1e6:.2f} M" if sps >= 1e5 else f"{sps / 1e3:.1f} k"


def print_tables(rows: list[dict], gymnax_missing: bool) -> None:
    env_rows = [r for r in rows if r["table"] == "env"]
    print("\n### Environment steps/s (random policy, auto-reset; compile s in brackets)\n")
    print("| env | batch | sparse, threefry | sparse, unrolled | select-all, threefry "
          "| select-all, unrolled | gymnax (threefry) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for env_id in ENVS:
        for batch in sorted({r["batch"] for r in env_rows}):
            cells = []
            for strategy in STRATEGIES:
                for keys in KEYS:
                    match = [r for r in env_rows if (r["env"], r["batch"], r["impl"],
                             r["strategy"], r["keys"]) == (env_id, batch, "jit_env", strategy,
                                                           keys)]
                    cells.append(f"{_fmt(match[0]['steps_per_s'])} "
                                 f"({match[0]['compile_s']:.1f})" if match else "—")
            anchor = [r for r in env_rows if (r["env"], r["batch"], r["impl"]) ==
                      (env_id, batch, "gymnax")]
            cells.append(f"{_fmt(anchor[0]['steps_per_s'])} ({anchor[0]['compile_s']:.1f})"
                         if anchor else "—")
            print(f"| {env_id} | {batch:,} | " + " | ".join(cells) + " |")
    if gymnax_missing:
        print("\n(gymnax is not installed: no anchor column; pip install gymnax)")
    print("\n### PPO end to end (CartPole-v1, default PPOConfig otherwise)\n")
    print("| run | envs per seed | seeds | steps per update | updates | steps/s | compile s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["table"] in ("ppo", "seeds"):
            name = "one seed" if r["table"] == "ppo" else f"{r['seeds']} seeds vmapped"
            print(f"| {name} | {r['batch']:,} | {r['seeds']} | {r['batch'] * r['num_steps']:,} "
                  f"| {r['updates']} | {_fmt(r['steps_per_s'])} | {r['compile_s']:.1f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 2 min on a CPU)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        sizes["repeats"] = args.repeats
    devices = jax.devices()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {len(devices)} x "
          f"{devices[0].device_kind}; {platform.platform()}; "
          f"{'quick' if args.quick else 'full'} sizes {sizes}")
    rows: list[dict] = []
    start = time.perf_counter()
    gymnax_missing = False
    for batch in sizes["batches"]:
        for env_id in ENVS:
            for strategy in STRATEGIES:
                for keys in KEYS:
                    rows.append(bench_env(env_id, batch, sizes["steps"], strategy, keys,
                                          sizes["repeats"]))
        anchor = bench_gymnax(batch, sizes["steps"], sizes["repeats"])
        gymnax_missing = anchor is None
        if anchor is not None:
            rows.append(anchor)
    for num_envs in sizes["ppo_envs"]:
        rows.append(bench_ppo(num_envs, sizes["ppo_steps"], sizes["ppo_updates"],
                              sizes["repeats"]))
    rows.append(bench_ppo(sizes["seed_envs"], sizes["ppo_steps"], sizes["seed_updates"],
                          sizes["repeats"], seeds=sizes["seeds"]))
    print_tables(rows, gymnax_missing)
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"jax": jax.__version__, "backend": jax.default_backend(),
                       "devices": [d.device_kind for d in devices], "sizes": sizes,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
