"""Steps per second of a random NumPy policy: jit_env's gymnasium VectorEnv vs gymnasium's own.

Compares, in one process, for N = 8, 64, 1024 CartPole-v1 environments:

* ``to_gymnasium_vector(make("CartPole-v1"), N)`` — NumPy in and out (host transfers
  included in every step), gymnasium's NEXT_STEP autoreset;
* the same with ``to_numpy=False`` — actions still NumPy, observations / rewards /
  flags stay JAX arrays on the device (the device-resident mode);
* ``gymnasium.make_vec("CartPole-v1", N, vectorization_mode="vector_entry_point")`` —
  gymnasium's NumPy-vectorised CartPoleVectorEnv.

The policy draws ``rng.integers(2, size=N)`` with NumPy for every step, identical
for all three. Each row times ``--steps`` calls after a warm-up (compilation
excluded) and prints a markdown table: environment steps per second (N x calls /
s) and the ratio to gymnasium.

Reproduce::

    .venv/bin/python benchmarks/compat_bench.py            # CPU
    .venv/bin/python benchmarks/compat_bench.py --steps 2000 --sizes 8 64 1024
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import jax
import numpy as np

from jit_env.compat import to_gymnasium_vector
from jit_env.envs import make


def _time(vec_env, num_envs: int, steps: int, warmup: int = 20, repeats: int = 3) -> float:
    """Environment steps per second over ``steps`` calls of ``vec_env.step``, best of
    ``repeats`` runs (the machine may be shared; the best run is the least disturbed)."""
    rng = np.random.default_rng(0)
    vec_env.reset(seed=0)
    out = None
    for _ in range(warmup):
        out = vec_env.step(rng.integers(2, size=num_envs).astype(np.int32))
    jax.block_until_ready(out)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            out = vec_env.step(rng.integers(2, size=num_envs).astype(np.int32))
        jax.block_until_ready(out)  # device mode: wait for the last step's results
        best = max(best, num_envs * steps / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 1024])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    env = make("CartPole-v1")
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}, "
          f"gymnasium {gym.__version__}")
    print()
    print("| N | gymnasium make_vec (steps/s) | to_gymnasium_vector NumPy (steps/s) | ratio "
          "| to_gymnasium_vector on device (steps/s) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        reference = gym.make_vec("CartPole-v1", n, vectorization_mode="vector_entry_point")
        ours = to_gymnasium_vector(env, n)
        device = to_gymnasium_vector(env, n, to_numpy=False)
        ref_sps = _time(reference, n, args.steps)
        ours_sps = _time(ours, n, args.steps)
        device_sps = _time(device, n, args.steps)
        print(f"| {n:,} | {ref_sps:,.0f} | {ours_sps:,.0f} | {ours_sps / ref_sps:.2f}x "
              f"| {device_sps:,.0f} | {device_sps / ref_sps:.2f}x |")


if __name__ == "__main__":
    main()
