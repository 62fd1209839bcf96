"""What the suite-adapter benchmarks (``adapters_<suite>_bench.py``) share.

Each compares ``VmapAutoReset(jit_env.make("<suite>/<id>"), B)`` with the library's
own vmapped step and auto-reset: a uniformly random policy, actions drawn before the
timed call (``[T, B, ...]``), T steps in one ``jax.jit`` of a ``lax.scan`` summing the
rewards (the carry is returned, so XLA keeps the dynamics), from the same typed key.

Two reads (``--reads``): ``rewards`` sums only the rewards, so XLA may drop whatever
the observation costs where nothing else needs it; ``observations`` also sums every
step's observation (`_timing.observation_total`; for the library, the observation
its step returns, and Pgx's ``legal_action_mask``), as a training loop whose policy
reads the observation does. The two programs of a row are compiled, then timed
round-robin (`_timing.time_alternated`). Steps per second = B * T / median run time;
compile time apart; the ratio is jit_env over the library (issue #20's target:
>= 0.9x).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from _timing import env_scan, time_alternated

import jit_env

READS = ("rewards", "observations")

def random_actions(spec: Any, steps: int, batch: int) -> jax.Array:
    """``[steps, batch, *spec.shape]`` uniform actions of a Discrete or bounded spec."""
    key = jax.random.key(123)
    shape = (steps, batch, *spec.shape)
    if isinstance(spec, jit_env.specs.DiscreteArray):
        return jax.random.randint(key, shape, 0, jnp.asarray(spec.num_values), dtype=spec.dtype)
    low = jnp.broadcast_to(jnp.asarray(spec.minimum, spec.dtype), spec.shape)
    high = jnp.broadcast_to(jnp.asarray(spec.maximum, spec.dtype), spec.shape)
    return jax.random.uniform(key, shape, spec.dtype, low, high)


def jit_env_run(env_id: str, batch: int, read_observation: bool) -> tuple[Callable[..., Any], Any]:
    """``(run(key, actions), single env's action spec)`` of ``VmapAutoReset(make(env_id), batch)``.

    ``run`` is `_timing.env_scan`, reading the observations when ``read_observation``.
    """
    single = jit_env.make(env_id)
    env = jit_env.wrappers.VmapAutoReset(single, batch)
    return env_scan(env, read_observation), single.action_spec()


def parser(description: str, default_ids: Sequence[str]) -> argparse.ArgumentParser:
    """The shared flags: ``--ids``, ``--batches``, ``--steps``, ``--repeats``, ``--impl``,
    ``--reads``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--ids", nargs="+", default=list(default_ids), help="the suite's ids")
    p.add_argument("--batches", nargs="+", type=int, default=[64, 1024])
    p.add_argument("--steps", type=int, default=100, help="T, steps per timed run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--impl", default="threefry2x32", help="typed key implementation")
    p.add_argument("--reads", nargs="+", choices=READS, default=list(READS),
                   help="what the timed scan sums: rewards only, or rewards and observations")
    return p


Library = Callable[[str, int, int, bool], tuple[Callable[..., Any], jax.Array]]


def compare(suite: str, library: Library, args: argparse.Namespace, script: str,
            ours: Library | None = None, flags: str = "") -> None:
    """Prints the table: per id, B and read, ours vs ``library(id, batch, steps, read)``.

    ``library`` returns ``(run, actions)``: its ``run`` takes the same key and the
    actions it returns (drawn as ours are, from the same spec, when the action
    spaces agree). ``ours`` (same signature, called with ``"<suite>/<id>"``)
    replaces `jit_env_run` and `random_actions` on our side; ``flags`` are the
    script's own flags, added to the printed command.
    """
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {suite}; keys {args.impl}; "
          f"T = {args.steps}; median of {args.repeats}, alternated")
    print(f"| id | B | reads | jit_env steps/s | {suite} steps/s | ratio | "
          f"compile s (jit_env / {suite}) |")
    print("|---|---:|---|---:|---:|---:|---|")
    key = jax.random.key(0, impl=args.impl)
    for env_id in args.ids:
        for batch in args.batches:
            for read in args.reads:
                observe = read == "observations"
                if ours is None:
                    run, spec = jit_env_run(f"{suite}/{env_id}", batch, observe)
                    our_actions = random_actions(spec, args.steps, batch)
                else:
                    run, our_actions = ours(f"{suite}/{env_id}", batch, args.steps, observe)
                their_run, their_actions = library(env_id, batch, args.steps, observe)
                timed = time_alternated(
                    {"ours": run, "theirs": their_run},
                    {"ours": (key, our_actions), "theirs": (key, their_actions)},
                    args.repeats,
                )
                (c_ours, s_ours), (c_theirs, s_theirs) = timed["ours"], timed["theirs"]
                sps_ours, sps_theirs = args.steps * batch / s_ours, args.steps * batch / s_theirs
                print(f"| {suite}/{env_id} | {batch:,} | {read} | {sps_ours:,.0f} | "
                      f"{sps_theirs:,.0f} | {sps_ours / sps_theirs:.2f}x | {c_ours:.1f} / "
                      f"{c_theirs:.1f} |", flush=True)
    print(f"\nReproduce: python benchmarks/{script} --ids {' '.join(args.ids)} --batches "
          f"{' '.join(map(str, args.batches))} --steps {args.steps} --repeats {args.repeats} "
          f"--reads {' '.join(args.reads)}{flags}")
