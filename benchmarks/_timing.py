"""The timing rule every benchmark here follows: compile once, warm up, median of runs.

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
