"""The timing rule every benchmark here follows: compile once, warm up, median of runs.

``env_scan(env, read_observation=False)`` is the timed program of the environment
benchmarks: a batched environment's reset and ``lax.scan`` of steps over given actions,
built on ``scan_total(step, carry, xs, read_observation)``, the scan that sums rewards
(and observations) which the library-side programs use too.

``time_alternated(fns, args, repeats)`` compiles several programs and then times them
round-robin, so a change in the machine's load affects each of them alike; with
``clear_caches=True`` each compile starts from ``jax.clear_caches()``, and with
``compile_rounds=N`` the programs are compiled N times round-robin, the median reported.

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
    """``(compile seconds, median run seconds)`` of ``jax.jit(fn)(*args)``: `time_alternated`
    of one program."""
    return time_alternated({"fn": fn}, {"fn": args}, repeats)["fn"]


def time_alternated(
    fns: dict[str, Callable[..., Any]],
    args: dict[str, tuple[Any, ...]],
    repeats: int,
    *,
    clear_caches: bool = False,
    compile_rounds: int = 1,
) -> dict[str, tuple[float, float]]:
    """``{name: (compile seconds, median run seconds)}``, the runs timed round-robin.

    Each ``jax.jit(fns[name])`` is compiled on ``args[name]`` (``compile_rounds``
    times, the programs in turn, after ``jax.clear_caches()`` when ``clear_caches``;
    the median compile time is reported) and warmed up once; then every round calls
    each program once, for ``repeats`` rounds.
    """
    import jax

    compiled: dict[str, Any] = {}
    compile_s: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(compile_rounds):
        for name, fn in fns.items():
            if clear_caches:
                jax.clear_caches()
            start = time.perf_counter()
            compiled[name] = jax.jit(fn).lower(*args[name]).compile()
            compile_s[name].append(time.perf_counter() - start)
    for name in fns:
        jax.block_until_ready(compiled[name](*args[name]))  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name in fns:
            start = time.perf_counter()
            jax.block_until_ready(compiled[name](*args[name]))
            runs[name].append(time.perf_counter() - start)
    return {name: (statistics.median(compile_s[name]), statistics.median(runs[name]))
            for name in fns}


def observation_total(observation: Any) -> Any:
    """The sum of every leaf of ``observation`` as float32: a read of the whole observation."""
    import jax
    import jax.numpy as jnp

    leaves = jax.tree.leaves(observation)
    return sum((jnp.sum(x.astype(jnp.float32)) for x in leaves), jnp.zeros((), jnp.float32))


def scan_total(step: Callable[[Any, Any], tuple[Any, Any, Any]], carry: Any, xs: Any,
               read_observation: bool) -> tuple[Any, Any]:
    """``lax.scan`` of ``step(carry, x) -> (carry, reward, observation)`` over ``xs``.

    Returns ``(carry, total)``: the sum of the rewards and, with
    ``read_observation``, of every observation (`observation_total`). The final
    carry is returned so XLA keeps the dynamics.
    """
    import jax
    import jax.numpy as jnp

    def body(c: tuple[Any, Any], x: Any) -> tuple[tuple[Any, Any], None]:
        carry, total = c
        carry, reward, observation = step(carry, x)
        total = total + jnp.sum(reward)
        if read_observation:
            total = total + observation_total(observation)
        return (carry, total), None

    return jax.lax.scan(body, (carry, jnp.zeros((), jnp.float32)), xs)[0]


def env_scan(env: Any, read_observation: bool = False) -> Callable[[Any, Any], tuple[Any, Any]]:
    """``run(key, actions [T, B, ...]) -> (final state, total)`` of a batched ``env``.

    ``env.reset(key)``, then one ``env.step`` per row of ``actions``, in
    `scan_total` (rewards summed and, with ``read_observation``, every step's
    observation, as a policy reading it would make XLA compute it).
    """

    def run(key: Any, actions: Any) -> tuple[Any, Any]:
        state, _ = env.reset(key)

        def step(state: Any, action: Any) -> tuple[Any, Any, Any]:
            state, ts = env.step(state, action)
            return state, ts.reward, ts.observation

        return scan_total(step, state, actions, read_observation)

    return run
