"""brax random-policy steps per second: `jit_env.compat.from_brax` vs brax's own stack.

At 64 and 1,024 environments (``--batches``), each side runs a uniformly random
policy in [-1, 1] with auto-reset on, in one ``jax.jit`` of a ``lax.scan`` over
T steps whose actions (``[T, B, A]``) are drawn before the timed call, from the
same typed key (``--impl``, default ``threefry2x32``):

* jit_env: ``jit_env.make("brax/<name>")`` (``TimeLimit(from_brax(...), 1000)``)
  in ``jit_env.wrappers.VmapAutoReset`` (the final observation kept in
  ``extras``; resets computed only for the environments that ended);
* brax 0.14.2: ``brax.envs.create(name, episode_length=1000, batch_size=B)``,
  i.e. ``AutoResetWrapper(VmapWrapper(EpisodeWrapper(env)))``
  (brax/envs/__init__.py; its auto-reset selects the stored first state by
  ``jnp.where`` on every step, brax/envs/wrappers/training.py).

Steps per second = B * T / (median wall time of a compiled run); compile time
is the ``lower().compile()`` time, reported separately. The issue's target is
a ratio >= 0.9.

Reproduce (CPU)::

    .venv/bin/python benchmarks/adapters_brax_bench.py                 # inverted_pendulum
    .venv/bin/python benchmarks/adapters_brax_bench.py --ids ant --steps 50

This is not part of the test run.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _suite_bench import compare, parser, random_actions
from _timing import scan_total

import jit_env


def library(name: str, batch: int, steps: int, read_observation: bool
            ) -> tuple[Any, jax.Array]:
    """brax's own ``brax.envs.create(name, episode_length=1000, auto_reset=True)``."""
    import brax.envs

    env = brax.envs.create(name, episode_length=1000, batch_size=batch, auto_reset=True)
    spec = jit_env.specs.BoundedArray((env.action_size,), jnp.float32, -1.0, 1.0)

    def run(key: jax.Array, actions: jax.Array) -> Any:
        def step(state: Any, action: jax.Array) -> tuple[Any, jax.Array, Any]:
            state = env.step(state, action)
            return state, state.reward, state.obs

        return scan_total(step, env.reset(key), actions, read_observation)

    return run, random_actions(spec, steps, batch)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # brax's "not actively maintained", jaxopt's deprecation
    compare("brax", library, parser(__doc__.split("\n", 1)[0], ["inverted_pendulum"]).parse_args(),
            "adapters_brax_bench.py")
