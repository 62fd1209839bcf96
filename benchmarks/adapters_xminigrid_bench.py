"""Adapter overhead: ``jit_env.make("xminigrid/<id>")`` vs xminigrid's own vmapped step.

Both rows run a uniformly random policy (actions drawn before the timed call,
``[T, B]``) for T steps in one ``jax.jit`` of a ``lax.scan``, with auto-reset
on, from the same typed threefry key:

* jit_env: ``jit_env.wrappers.VmapAutoReset(jit_env.make("xminigrid/<id>"), B)``:
  the adapter steps xminigrid's ``Environment.step`` (``EnvParams`` in the
  state) and the wrapper resets only the environments that ended
  (``jit_env.wrappers._batched_reset.reset_where``), keeping the final
  observation in ``extras``.
* xminigrid: ``jax.vmap(GymAutoResetWrapper(env).step, in_axes=(None, 0, 0))``,
  the library's own same-step auto-reset (``xminigrid/wrappers.py``: a
  ``lax.cond`` on ``timestep.last()``, a select under ``vmap``), as in
  xminigrid's README / training examples.

Steps per second = B * T / (median wall time of the compiled run); compile
time (``lower().compile()``) is reported separately; the ratio is jit_env over
xminigrid (the issue's target: >= 0.9x).

Reproduce (CPU, about a minute)::

    .venv/bin/pip install xminigrid==0.9.3
    .venv/bin/python benchmarks/adapters_xminigrid_bench.py
    .venv/bin/python benchmarks/adapters_xminigrid_bench.py --ids XLand-MiniGrid-R1-9x9

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def library(xminigrid_id: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """xminigrid's own ``jax.vmap(GymAutoResetWrapper(env).step)``."""
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(xminigrid_id)
    env = GymAutoResetWrapper(env)
    spec = jit_env.specs.DiscreteArray(env.num_actions(params), dtype=jnp.int32)

    def run(key: jax.Array, actions: jax.Array) -> Any:
        timestep = jax.vmap(env.reset, in_axes=(None, 0))(params, jax.random.split(key, batch))

        def step(timestep: Any, action: jax.Array) -> tuple[Any, jax.Array, Any]:
            timestep = jax.vmap(env.step, in_axes=(None, 0, 0))(params, timestep, action)
            return timestep, timestep.reward, timestep.observation

        return scan_total(step, timestep, actions, read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    with jax.numpy_rank_promotion("allow"):  # xminigrid's own code relies on it
        compare("xminigrid", library,
                parser(__doc__.split("\n", 1)[0], ["MiniGrid-Empty-8x8"]).parse_args(),
                "adapters_xminigrid_bench.py")
