"""Craftax random-policy steps per second: `jit_env.compat.from_craftax` vs Craftax's own.

At 64 and 1,024 environments (``--batches``), each side runs a uniformly random
policy with auto-reset on, in one ``jax.jit`` of a ``lax.scan`` over T steps
whose actions (``[T, B]``) are drawn before the timed call, from the same typed
key (``--impl``, default ``threefry2x32``):

* jit_env: ``jit_env.make("craftax/<id>")`` in ``jit_env.wrappers.VmapAutoReset``
  (one key split per environment per step inside the adapter; world generation
  only for the environments that ended; final observation kept);
* craftax 1.6.1: ``make_craftax_env_from_name(id, auto_reset=True)``,
  ``jax.vmap(env.step)`` with a key per environment per step (its
  ``EnvironmentAutoReset.step`` generates a new world for every environment on
  every step and selects it where ``done``,
  craftax/environment_base/environment_bases.py).

Steps per second = B * T / (median wall time of a compiled run); compile time
is the ``lower().compile()`` time, reported separately (Craftax's world
generation takes minutes to compile on a CPU, so the default run takes longer
than a minute). The issue's target is a ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_craftax_bench.py       # Craftax-Classic-Symbolic-v1
    .venv/bin/python benchmarks/adapters_craftax_bench.py --ids Craftax-Symbolic-v1

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def library(craftax_id: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """Craftax's own auto-reset ``jax.vmap(env.step)`` (``auto_reset=True``)."""
    from craftax.craftax_env import make_craftax_env_from_name

    env = make_craftax_env_from_name(craftax_id, auto_reset=True)
    params = env.default_params
    spec = jit_env.specs.DiscreteArray(env.num_actions, dtype=jnp.int32)

    def run(key: jax.Array, actions: jax.Array) -> Any:
        reset_key, loop_key = jax.random.split(key)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, batch), params)

        def step(state: Any, xs: tuple[jax.Array, jax.Array]) -> tuple[Any, jax.Array, Any]:
            action, env_key = xs
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(env_key, batch), state, action, params)
            return out[1], out[2], out[0]

        step_keys = jax.random.split(loop_key, actions.shape[0])
        return scan_total(step, state, (actions, step_keys), read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    compare("craftax", library,
            parser(__doc__.split("\n", 1)[0], ["Craftax-Classic-Symbolic-v1"]).parse_args(),
            "adapters_craftax_bench.py")
