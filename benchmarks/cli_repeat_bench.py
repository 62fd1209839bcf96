"""Resident memory and time of repeated ``jit_env.cli.main(["train", ...])`` calls in one process.

Trains the same tiny PPO run (CartPole-v1, 4 updates of 4 x 16 steps, chunks of
2 updates) ``--calls`` times into fresh run directories and prints, after each
call, the process's resident set size (``/proc/self/statm``, Linux) and the
call's wall time. The persistent XLA cache is off (``JIT_ENV_CACHE_DIR=none``
is the console default's opposite; `main` with an argv list never enables it),
so every compilation is real. Run with ``JAX_PLATFORMS=cpu``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    import jax

    from jit_env import cli

    flags = ["--num-envs", "4", "--num-steps", "16", "--total-steps", str(4 * 16 * 4),
             "--update-epochs", "2", "--num-minibatches", "2", "--hidden-sizes", "16",
             "--no-progress", "--chunk-updates", "2"]
    out = tempfile.mkdtemp()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    print("| call | RSS (MiB) | seconds |\n|---:|---:|---:|")
    for i in range(args.calls):
        start = time.perf_counter()
        assert cli.main(["train", *flags, "--out", f"{out}/r{i}"]) == 0
        print(f"| {i + 1} | {_rss_mib():.0f} | {time.perf_counter() - start:.2f} |")


if __name__ == "__main__":
    main()
