"""Steps per second of batched auto-reset strategies and of the full wrapper stack.

A random-policy, fully jitted ``lax.scan`` of ``T`` steps over a batch of ``B``
environments (``jit_env.make("CartPole-v1")`` when available, else a small
test environment defined here); actions are drawn before the timed call so
every variant does the same environment work. Compile time is measured
separately (``jit(...).lower(...).compile()`` after ``jax.clear_caches()``; with
``--compile-repeats N`` the median of N rounds, the variants compiled in turn);
run times are the median of
``--repeats`` calls after a warm-up, each ended by ``block_until_ready``, the
variants of one batch size called round-robin (interleaved).

Variants (all in one process, so the ratios are comparable):

* ``ceiling``   — ``Vmap(env)``: steps only, never resets (an upper bound);
* ``ours``      — ``VmapAutoReset(env, B)``: the library's batched reset
  (`jit_env.wrappers._batched_reset.reset_where`: skip, or reset all and select
  for B <= 16, or passes of ceil(B / 16) gathered rows);
* ``levels``    — the mechanism before 2026-12-06, kept here as the anchor: a
  ``lax.switch`` over none / three sparse levels (B/64, B/16, B/4) / all;
* ``gymnax``    — gymnax 1.x's CartPole-v1, ``vmap(env.step)`` (auto-reset by
  reset-all-then-select inside its step), when gymnax is installed;
* ``select``    — vmapped reset of every environment on every step, then
  ``jnp.where`` (the gymnax approach);
* ``lax_map``   — jit_env 0.1.5 ``VmapAutoReset``: ``lax.map`` over the batch
  with a ``lax.cond`` reset per environment;
* ``stack``     — ``Jit(VmapAutoReset(TimeLimit(EpisodeStatistics(
  NormalizeObservation(env)), 500), B))`` (the issue's stack);
* ``rec_stack`` — the recommended stack ``NormalizeObservation(
  EpisodeStatistics(VmapAutoReset(env, B)))``;
* ``ours_<impl>`` — ``ours`` with the other key implementation (``--prng``:
  JAX's ``threefry2x32`` or ``jit_env.prng.THREEFRY_UNROLLED``, the same draws).

Reproduce::

    .venv/bin/python benchmarks/wrappers_bench.py            # default batches 1 1024 8192
    .venv/bin/python benchmarks/wrappers_bench.py --batches 1024 --repeats 5
    .venv/bin/python benchmarks/wrappers_bench.py --read-observation  # as an agent would
    .venv/bin/python benchmarks/wrappers_bench.py --prng unrolled  # jit_env.prng keys
    .venv/bin/python benchmarks/wrappers_bench.py --batches 1024 8192 --variants ours gymnax \
        --compile-repeats 7 --repeats 3   # issue #22's compile ratio

Targets (issue 3, at 8,192): ours/ceiling >= 0.6, ours/select >= 1.5,
ours/lax_map >= 10, stack time / ours time <= 1.15.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from _timing import scan_total, time_alternated

import jit_env
from jit_env import specs
from jit_env import wrappers as W
from jit_env.wrappers._autoreset import reset_key
from jit_env.wrappers._batched_reset import first_true_indices, leaf_aliases, reset_rows


class _WalkState(NamedTuple):
    key: jax.Array
    pos: jax.Array
    t: jax.Array


class _Walk(jit_env.Environment):
    """Fallback test environment: deterministic drift, stochastic reset, ends at |pos| > 3."""

    def reset(self, key, *, options=None):
        del options  # the walk has no reset options
        key, sub = jax.random.split(key)
        pos = jax.random.uniform(sub, (4,), jnp.float32, -0.05, 0.05)
        return _WalkState(key, pos, jnp.int32(0)), jit_env.restart(pos)

    def step(self, state, action):
        pos = state.pos + jnp.where(action == 1, 0.1, -0.1) * jnp.arange(1, 5)
        done = jnp.abs(pos).max() > 3.0
        ts = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID),
            reward=jnp.float32(1.0),
            discount=jnp.where(done, 0.0, 1.0).astype(jnp.float32),
            observation=pos,
        )
        return state._replace(pos=pos, t=state.t + 1), ts

    def reward_spec(self):
        return specs.Array((), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0)

    def observation_spec(self):
        return specs.Array((4,), jnp.float32)

    def action_spec(self):
        return specs.DiscreteArray(2)


def _make_env() -> tuple[jit_env.Environment, str]:
    make = getattr(jit_env, "make", None)
    if make is None:
        try:
            from jit_env.envs import make
        except ImportError:
            make = None
    if make is not None:
        try:
            return make("CartPole-v1"), "CartPole-v1 (jit_env.make, TimeLimit 500)"
        except Exception:
            pass
    return _Walk(), "local test walk"


class _SelectAll(W.Vmap):
    """Reset every environment on every step, then select (gymnax style)."""

    def step(self, state, action):
        state, ts = super().step(state, action)
        done = ts.last()
        keys = jax.vmap(reset_key)(state.key)
        new_state, new_ts = jax.vmap(lambda k: self.env.reset(k))(keys)
        new_state = jax.tree.map(lambda a, b: a.astype(b.dtype), new_state, state)
        sel = lambda n, o: jnp.where(jnp.reshape(done, done.shape + (1,) * (o.ndim - 1)), n, o)
        state = jax.tree.map(sel, new_state, state)
        obs = sel(new_ts.observation, ts.observation)
        st = jnp.where(done, jit_env.StepType.FIRST, ts.step_type)
        return state, ts.replace(step_type=st, observation=obs)


class _LaxMap(W.Vmap):
    """jit_env 0.1.5 VmapAutoReset: lax.map over the batch with a cond per element."""

    def step(self, state, action):
        state, ts = super().step(state, action)

        def one(args):
            s, t = args

            def reset(s, t):
                ns, nt = self.env.reset(reset_key(s.key))
                ns = jax.tree.map(lambda a, b: a.astype(b.dtype), ns, s)
                return ns, t.replace(step_type=nt.step_type.astype(t.step_type.dtype),
                                     observation=nt.observation)

            return jax.lax.cond(t.last(), reset, lambda s, t: (s, t), s, t)

        return jax.lax.map(one, (state, ts))


class _Levels(W.VmapAutoReset):
    """The batched reset before 2026-12-06: none / sparse B/64, B/16, B/4 / all, by switch."""

    def _reset_where(self, done, source, target, pick):
        from jit_env._pytrees import match_dtypes, select_tree

        batch = done.shape[0]
        levels = () if batch <= 16 else tuple(sorted({-(-batch // d) for d in (64, 16, 4)}))
        name = "levels"

        def full(target):
            fresh = match_dtypes(pick(*self._reset_batch(source)), target, name)
            return select_tree(done, fresh, target)

        def sparse(k):
            def reset_k(target):
                def reset(rows):
                    fresh = pick(*self._reset_batch(rows))
                    return match_dtypes(fresh, jax.tree.map(lambda x: x[:k], target), name)

                return reset_rows(first_true_indices(done, k), source, reset, target, aliases)

            return reset_k

        aliases = leaf_aliases(source, target)
        count = done.sum()
        if not levels:
            return jax.lax.cond(count > 0, full, lambda t: t, target)
        branch = jnp.where(count == 0, 0, 1 + jnp.searchsorted(jnp.asarray(levels), count))
        return jax.lax.switch(branch, (lambda t: t, *[sparse(k) for k in levels], full), target)


def _variants(env: jit_env.Environment, batch: int) -> dict[str, Any]:
    return {
        "ceiling": W.Vmap(env),
        "ours": W.VmapAutoReset(env, batch),
        "levels": _Levels(env, batch),
        "select": _SelectAll(env),
        "lax_map": _LaxMap(env),
        "stack": W.Jit(
            W.VmapAutoReset(
                W.TimeLimit(W.EpisodeStatistics(W.NormalizeObservation(env)), 500), batch
            )
        ),
        "rec_stack": W.NormalizeObservation(W.EpisodeStatistics(W.VmapAutoReset(env, batch))),
    }


def _inputs(batch: int, steps: int, prng_impl: str) -> tuple[Any, jax.Array]:
    """``(key, actions [T, B])``: the key of ``prng_impl`` and random CartPole actions."""
    key = jax.random.key(0) if prng_impl == "threefry2x32" else jit_env.prng.key(0)
    return key, jax.random.randint(jax.random.PRNGKey(1), (steps, batch), 0, 2)


def _program(env, batch: int, read_observation: bool) -> Any:
    """``run(key, actions)``: a random-policy scan of ``env`` over ``actions [T, B]``.

    The scan sums the rewards (and, with ``read_observation``, the observations),
    so XLA keeps exactly the work whose results are read.
    """

    def run(key, actions):
        state, _ = env.reset(jax.random.split(key, batch))

        def step(state, a):
            state, ts = env.step(state, a)
            return state, ts.reward, ts.observation

        return scan_total(step, state, actions, read_observation)

    return run


def _gymnax_program(batch: int, read_observation: bool) -> Any:
    """``run(key, actions)`` of gymnax's CartPole-v1 in the same scan, or None."""
    try:
        import gymnax
    except ImportError:
        return None
    genv, params = gymnax.make("CartPole-v1")

    def run(key, actions):
        reset_key_, loop_key = jax.random.split(key)
        _, state = jax.vmap(genv.reset, in_axes=(0, None))(
            jax.random.split(reset_key_, batch), params)

        def body(carry, xs):
            (state, total), (a, k) = carry, xs
            out = jax.vmap(genv.step, in_axes=(0, 0, 0, None))(  # (obs, state, reward, ...)
                jax.random.split(k, batch), state, a, params)
            obs, state, reward = out[0], out[1], out[2]
            total = total + reward.sum()
            if read_observation:
                total = total + obs.sum()
            return (state, total), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.float32(0)),
                                         (actions, jax.random.split(loop_key, len(actions))))
        return state, total

    return run


_DEFAULT_STEPS = {1: 2000, 1024: 200, 8192: 100}


def _programs(variants: dict[str, Any], wanted: set[str], batch: int, steps: int,
              args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, tuple[Any, ...]]]:
    """``({name: run}, {name: (key, actions)})`` of the wanted variants (and ``ours``)."""
    inputs = _inputs(batch, steps, args.prng)
    fns = {name: _program(venv, batch, args.read_observation)
           for name, venv in variants.items() if name in wanted or name == "ours"}
    fn_args = dict.fromkeys(fns, inputs)
    if "gymnax" in wanted:
        gymnax_run = _gymnax_program(batch, args.read_observation)
        if gymnax_run is not None:
            fns["gymnax"], fn_args["gymnax"] = gymnax_run, inputs
    if "ours_other" in wanted:
        # ours again with the other key implementation (same draws), for the A/B
        other = "unrolled" if args.prng == "threefry2x32" else "threefry2x32"
        fns[f"ours_{other}"] = _program(variants["ours"], batch, args.read_observation)
        fn_args[f"ours_{other}"] = _inputs(batch, steps, other)
    return fns, fn_args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024, 8192])
    parser.add_argument("--steps", type=int, default=None, help="T (default: per batch)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--read-observation",
        action="store_true",
        help="also sum the observations (as any agent reads them); by default only "
        "rewards are read and XLA drops the observation path of the bare variants",
    )
    parser.add_argument(
        "--prng",
        choices=["threefry2x32", "unrolled"],
        default="threefry2x32",
        help="key implementation of every variant: JAX's default, or "
        "jit_env.prng.THREEFRY_UNROLLED (the same draws, the hash without CPU loop)",
    )
    parser.add_argument("--variants", nargs="*", default=None,
                        help="only these variants (default: all), e.g. ours levels select")
    parser.add_argument("--compile-repeats", type=int, default=1,
                        help="compile every variant this many times, round-robin, "
                        "jax.clear_caches() before each; the table shows the median")
    args = parser.parse_args()
    env, name = _make_env()
    read = "rewards and observations" if args.read_observation else "rewards only"
    print(f"environment: {name}; backend: {jax.default_backend()}; jax {jax.__version__}; "
          f"the scan reads {read}; keys: {args.prng}\n")
    print("| B | T | variant | steps/s | compile s | variant time / ours time |")
    print("|---|---|---|---|---|---|")
    for batch in args.batches:
        steps = args.steps or _DEFAULT_STEPS.get(batch, 200)
        variants = _variants(env, batch)
        wanted = set(args.variants or [*variants, "gymnax", "ours_other"])
        fns, fn_args = _programs(variants, wanted, batch, steps, args)
        timed = time_alternated(fns, fn_args, args.repeats, clear_caches=True,
                                compile_rounds=args.compile_repeats)
        ours_t = timed["ours"][1]
        for vname, (compile_s, run_s) in timed.items():
            sps = batch * steps / run_s
            ratio = run_s / ours_t  # > 1: ours is faster
            print(f"| {batch} | {steps} | {vname} | {sps:,.0f} | {compile_s:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
