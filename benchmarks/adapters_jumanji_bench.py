"""Adapter overhead: `from_jumanji` stepping vs jumanji's own vmapped auto-reset step.

For each game and batch size B, both sides run a uniformly random policy (actions
``[T, B]`` drawn before the timed call, the same for both) in one ``jax.jit`` of a
``lax.scan`` over T steps, auto-reset on, with the same typed key implementation:

* jit_env: ``VmapAutoReset(from_jumanji(jumanji.make(id)), B)``;
* jumanji 1.1.2: ``VmapWrapper(AutoResetWrapper(jumanji.make(id)))``, the
  combination jumanji's docs recommend (``jumanji/wrappers.py``,
  ``VmapAutoResetWrapper``).

Steps per second = B * T / median wall time of the compiled run (after
``block_until_ready``); compile time (``lower().compile()``) is reported
separately. Issue #20's target is ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_jumanji_bench.py            # T = 100, 5 repeats
    .venv/bin/python benchmarks/adapters_jumanji_bench.py --ids Snake-v1 --batches 64

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def library(env_id: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """jumanji's own ``VmapWrapper(AutoResetWrapper(env))``."""
    import jumanji
    import jumanji.wrappers

    env = jumanji.wrappers.VmapWrapper(jumanji.wrappers.AutoResetWrapper(jumanji.make(env_id)))
    spec = jit_env.make(f"jumanji/{env_id}").action_spec()

    def run(key: jax.Array, actions: jax.Array) -> Any:
        state, _ = env.reset(jax.random.split(key, batch))

        def step(state: Any, action: jax.Array) -> tuple[Any, jax.Array, Any]:
            state, ts = env.step(state, action)
            return state, ts.reward, ts.observation

        return scan_total(step, state, actions, read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    compare("jumanji", library,
            parser(__doc__.split("\n", 1)[0], ["Snake-v1", "Game2048-v1"]).parse_args(),
            "adapters_jumanji_bench.py")
