"""The timing rule every benchmark here follows: compile once, warm up, median of runs.

``env_scan(env)`` is the timed program of the environment benchmarks: a batched
environment's reset and ``lax.scan`` of steps over given actions.

``time_compiled(fn, args, repeats)`` returns ``(compile s, median run s)`` of
``jax.jit(fn)(*args)``: compilation is ``jax.jit(fn).lower(*args).compile()``,
measured once and reported apart; then one warm-up call, then ``repeats`` calls,
each timed up to ``jax.block_until_ready``. Imported by the scripts beside it
(``python benchmarks/<name>.py`` puts this folder on ``sys.path``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_compiled(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int) -> tuple[float, float]:
    """``(compile seconds, median run seconds)`` of ``jax.jit(fn)(*args)``."""
    import jax

    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - start)
    return compile_s, statistics.median(runs)


def env_scan(env: Any) -> Callable[[Any, Any], tuple[Any, Any]]:
    """``run(key, actions [T, B, ...]) -> (final state, sum of rewards)`` of a batched ``env``.

    ``env.reset(key)``, then one ``env.step`` per row of ``actions`` in a
    ``lax.scan``; the final state is returned so XLA keeps the dynamics.
    """
    import jax
    import jax.numpy as jnp

    def run(key: Any, actions: Any) -> tuple[Any, Any]:
        state, _ = env.reset(key)

        def body(carry: tuple[Any, Any], action: Any) -> tuple[tuple[Any, Any], None]:
            state, total = carry
            state, ts = env.step(state, action)
            return (state, total + ts.reward.sum()), None

        return jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), actions)[0]

    return run
