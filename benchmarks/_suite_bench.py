"""What the suite-adapter benchmarks (``adapters_<suite>_bench.py``) share.

Each compares ``VmapAutoReset(jit_env.make("<suite>/<id>"), B)`` with the library's
own vmapped step and auto-reset: a uniformly random policy, actions drawn before the
timed call (``[T, B, ...]``), T steps in one ``jax.jit`` of a ``lax.scan`` summing the
rewards (the carry is returned, so XLA keeps the dynamics), from the same typed key.
Steps per second = B * T / median run time (`_timing.time_compiled`); compile time
apart; the ratio is jit_env over the library (issue #20's target: >= 0.9x).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from _timing import env_scan, time_compiled

import jit_env


def scan_total(step: Callable[[Any, Any], tuple[Any, jax.Array]], carry: Any, xs: Any) -> Any:
    """``lax.scan`` of ``step(carry, x) -> (carry, reward)`` over ``xs``: ``(carry, sum of rewards)``."""

    def body(c: Any, x: Any) -> tuple[Any, None]:
        carry, total = c
        carry, reward = step(carry, x)
        return (carry, total + jnp.sum(reward)), None

    return jax.lax.scan(body, (carry, jnp.zeros((), jnp.float32)), xs)[0]


def random_actions(spec: Any, steps: int, batch: int) -> jax.Array:
    """``[steps, batch, *spec.shape]`` uniform actions of a Discrete or bounded spec."""
    key = jax.random.key(123)
    shape = (steps, batch, *spec.shape)
    if isinstance(spec, jit_env.specs.DiscreteArray):
        return jax.random.randint(key, shape, 0, jnp.asarray(spec.num_values), dtype=spec.dtype)
    low = jnp.broadcast_to(jnp.asarray(spec.minimum, spec.dtype), spec.shape)
    high = jnp.broadcast_to(jnp.asarray(spec.maximum, spec.dtype), spec.shape)
    return jax.random.uniform(key, shape, spec.dtype, low, high)


def jit_env_run(env_id: str, batch: int) -> tuple[Callable[..., Any], Any]:
    """``(run(key, actions), single env's action spec)`` for ``VmapAutoReset(make(env_id), batch)``."""
    single = jit_env.make(env_id)
    return env_scan(jit_env.wrappers.VmapAutoReset(single, batch)), single.action_spec()


def measure(run: Callable[..., Any], actions: jax.Array, impl: str, repeats: int) -> dict[str, float]:
    """``{"sps", "compile"}`` of ``run(jax.random.key(0, impl=impl), actions)``."""
    compile_s, run_s = time_compiled(run, (jax.random.key(0, impl=impl), actions), repeats)
    steps, batch = actions.shape[:2]
    return {"sps": steps * batch / run_s, "compile": compile_s}


def parser(description: str, default_ids: Sequence[str]) -> argparse.ArgumentParser:
    """The shared flags: ``--ids``, ``--batches``, ``--steps``, ``--repeats``, ``--impl``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--ids", nargs="+", default=list(default_ids), help="the suite's ids")
    p.add_argument("--batches", nargs="+", type=int, default=[64, 1024])
    p.add_argument("--steps", type=int, default=100, help="T, steps per timed run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--impl", default="threefry2x32", help="typed key implementation")
    return p


def compare(suite: str, library: Callable[[str, int, int], tuple[Callable[..., Any], jax.Array]],
            args: argparse.Namespace, script: str) -> None:
    """Prints the table: per id and B, ours vs ``library(id, batch, steps) -> (run, actions)``.

    The library's ``run`` takes the same key and the actions it returns (drawn as ours
    are, from the same spec, when the action spaces agree).
    """
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {suite}; keys {args.impl}; "
          f"T = {args.steps}; median of {args.repeats}")
    print(f"| id | B | jit_env steps/s | {suite} steps/s | ratio | compile s (jit_env / {suite}) |")
    print("|---|---:|---:|---:|---:|---|")
    for env_id in args.ids:
        for batch in args.batches:
            run, spec = jit_env_run(f"{suite}/{env_id}", batch)
            ours = measure(run, random_actions(spec, args.steps, batch), args.impl, args.repeats)
            their_run, their_actions = library(env_id, batch, args.steps)
            theirs = measure(their_run, their_actions, args.impl, args.repeats)
            print(f"| {suite}/{env_id} | {batch:,} | {ours['sps']:,.0f} | {theirs['sps']:,.0f} | "
                  f"{ours['sps'] / theirs['sps']:.2f}x | {ours['compile']:.1f} / "
                  f"{theirs['compile']:.1f} |", flush=True)
    print(f"\nReproduce: python benchmarks/{script} --ids {' '.join(args.ids)} --batches "
          f"{' '.join(map(str, args.batches))} --steps {args.steps} --repeats {args.repeats}")
