"""Adapter overhead: ``jit_env.make("navix/<id>")`` vs navix's own vmapped step.

Both rows run a uniformly random policy (actions drawn before the timed call,
``[T, B]``) for T steps in one ``jax.jit`` of a ``lax.scan``, with auto-reset
on, from the same typed threefry key:

* jit_env: ``jit_env.wrappers.VmapAutoReset(jit_env.make("navix/<id>"), B)``:
  the adapter steps navix's ``Environment._step`` and the wrapper resets only
  the environments that ended (``jit_env.wrappers._batched_reset.reset_where``),
  keeping the final observation in ``extras``.
* navix: ``jax.vmap(navix_env.step)`` over ``jax.vmap(navix_env.reset)``'s
  Timesteps: navix's own auto-reset, ``lax.cond(timestep.step_type > 0, reset,
  _step)`` (``navix/environments/environment.py``), which ``vmap`` turns into
  a select that computes both branches for the whole batch every step.

Steps per second = B * T / (median wall time of the compiled run); compile
time (``lower().compile()``) is reported separately; the ratio is jit_env over
navix (the issue's target: >= 0.9x).

Reproduce (CPU, about a minute)::

    .venv/bin/pip install navix==0.7.4
    .venv/bin/python benchmarks/adapters_navix_bench.py
    .venv/bin/python benchmarks/adapters_navix_bench.py --ids Navix-DoorKey-8x8-v0 --steps 200

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def library(navix_id: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """navix's own ``jax.vmap(env.step)`` (auto-reset by ``lax.cond`` inside ``step``)."""
    import navix

    env = navix.make(navix_id)
    spec = jit_env.specs.DiscreteArray(int(env.action_space.maximum) + 1, dtype=jnp.int32)

    def run(key: jax.Array, actions: jax.Array) -> Any:
        timestep = jax.vmap(env.reset)(jax.random.split(key, batch))

        def step(timestep: Any, action: jax.Array) -> tuple[Any, jax.Array, Any]:
            timestep = jax.vmap(env.step)(timestep, action)
            return timestep, timestep.reward, timestep.observation

        return scan_total(step, timestep, actions, read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    compare("navix", library, parser(__doc__.split("\n", 1)[0], ["Navix-Empty-8x8-v0"]).parse_args(),
            "adapters_navix_bench.py")
