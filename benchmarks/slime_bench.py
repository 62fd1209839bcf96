"""Slime Volleyball game steps per second: jit_env's JAX game vs slimevolleygym's NumPy game.

Both sides play uniformly random buttons for both agents, with a new match when
one ends, at 1, 64 and 1,024 simultaneous games:

* jit_env: ``SlimeVolleyMultiAgent-v0`` (``TimeLimit(SlimeVolley(), 3000)``) in
  ``VmapAutoReset(num=B)``, one ``jax.jit`` of a ``lax.scan`` over T steps with
  actions drawn inside (``jax.random.randint``, ``[B, 2]`` discrete actions).
* slimevolleygym 0.1.0: ``B`` ``slimevolleygym.slimevolley.Game`` objects stepped
  in a Python loop (``setAction`` on both agents, ``Game.step``, ``Game.reset``
  after a match ends), NumPy random buttons drawn per step. This is the game
  without ``SlimeVolleyEnv``'s wrapper and its baseline forward pass, so it is the
  reference's fastest path.

The two sides need different Python environments (slimevolleygym needs the
unmaintained ``gym``), so run the script twice; each run prints its rows::

    PYTHONPATH=. .venv/bin/python benchmarks/slime_bench.py            # jit_env rows
    /tmp/slime-venv/bin/python benchmarks/slime_bench.py --reference   # slimevolleygym rows

(/tmp/slime-venv as in ``tests/envs/slime_data/make_slime_reference.py``.)
Steps per second = B * T / median wall time of 3 runs (compilation excluded).
"""

from __future__ import annotations

import argparse
import statistics
import time

BATCHES = (1, 64, 1024)


def jit_env_rows(steps: int) -> list[tuple[int, float, float]]:
    import jax
    import jax.numpy as jnp

    import jit_env
    from jit_env import wrappers

    rows = []
    for batch in BATCHES:
        env = wrappers.VmapAutoReset(jit_env.make("SlimeVolleyMultiAgent-v0"), batch)

        def run(key, env=env, batch=batch):
            state, _ = env.reset(key)

            def body(state, k):
                action = jax.random.randint(k, (batch, 2), 0, 6, jnp.int32)
                state, ts = env.step(state, action)
                return state, ts.reward.sum()

            _, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
            return rewards.sum()

        start = time.perf_counter()
        compiled = jax.jit(run).lower(jax.random.key(0)).compile()
        compile_s = time.perf_counter() - start
        times = []
        for seed in range(3):
            start = time.perf_counter()
            jax.block_until_ready(compiled(jax.random.key(seed)))
            times.append(time.perf_counter() - start)
        rows.append((batch, batch * steps / statistics.median(times), compile_s))
    return rows


def reference_rows(steps: int) -> list[tuple[int, float, float]]:
    import numpy as np
    from slimevolleygym import slimevolley as sv

    rows = []
    rng = np.random.default_rng(0)
    for batch in BATCHES:
        t = max(10, steps // batch)
        games = [sv.Game(np_random=np.random.RandomState(i)) for i in range(batch)]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(t):
                buttons = rng.integers(0, 2, size=(batch, 2, 3))
                for game, b in zip(games, buttons):
                    game.agent_left.setAction(b[0])
                    game.agent_right.setAction(b[1])
                    game.step()
                    if game.agent_left.life <= 0 or game.agent_right.life <= 0:
                        game.reset()
            times.append(time.perf_counter() - start)
        rows.append((batch, batch * t / statistics.median(times), 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="time slimevolleygym instead")
    parser.add_argument("--steps", type=int, default=1000, help="T (jit_env) / total steps per "
                        "batch size (reference)")
    args = parser.parse_args()
    name = "slimevolleygym 0.1.0 (NumPy, Python loop)" if args.reference else "jit_env (JAX)"
    rows = reference_rows(args.steps) if args.reference else jit_env_rows(args.steps)
    print("| implementation | games | steps/s | compile s |")
    print("|---|---:|---:|---:|")
    for batch, rate, compile_s in rows:
        print(f"| {name} | {batch} | {rate:,.0f} | {compile_s:.1f} |")


if __name__ == "__main__":
    main()
