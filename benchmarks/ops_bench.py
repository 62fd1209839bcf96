"""Microbenchmark: jit_env.ops vs rlax 0.1.9, jitted, on the CPU.

Each operator is batched with ``jax.vmap`` over B = 1,024 streams of T = 128 steps in
the time-major layout (``in_axes=1, out_axes=1``: inputs ``[T, B, ...]``), jitted, and
timed with ``block_until_ready``. Compile time (``lower().compile()``) is reported
separately; the run time is the median over ``--reps`` calls after one warm-up call,
ours and rlax called alternately so that both see the same machine load.
A second table compares time-major and batch-major layouts for our operators.

Reproduce (from the repository root):

    JAX_PLATFORMS=cpu .venv/bin/python benchmarks/ops_bench.py --reps 30

Not part of the test suite; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import importlib

import jax
import jax.numpy as jnp
import numpy as np
from _timing import time_alternated


def _inputs(t, b, a, atoms, seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    return {
        "r": f32(rng.normal(size=(t, b))),
        "d": f32(rng.uniform(0.9, 1.0, (t, b)) * (rng.uniform(size=(t, b)) > 0.02)),
        "v": f32(rng.normal(size=(t, b))),
        "values": f32(rng.normal(size=(t + 1, b))),
        "rho": f32(np.exp(rng.normal(scale=0.3, size=(t, b)))),
        "q_tm1": f32(rng.normal(size=(t, b, a))),
        "q_t": f32(rng.normal(size=(t, b, a))),
        "a_tm1": jnp.asarray(rng.integers(0, a, (t, b)), jnp.int32),
        "a_t": jnp.asarray(rng.integers(0, a, (t, b)), jnp.int32),
        "pi": jax.nn.softmax(f32(rng.normal(size=(t, b, a)))),
        "mu": f32(rng.uniform(0.1, 1.0, (t, b))),
        "z_p": f32(np.sort(rng.normal(scale=5, size=(b, atoms)), axis=-1)),
        "probs": jax.nn.softmax(f32(rng.normal(size=(b, atoms)))),
        "z_q": f32(np.broadcast_to(np.linspace(-10, 10, atoms), (b, atoms))),
        "tau": f32(np.broadcast_to((np.arange(atoms) + 0.5) / atoms, (b, atoms))),
    }


def _cases(m, x):
    """(name, per-stream fn, args, in_axes) for module ``m`` (jit_env.ops or rlax)."""
    cases = [
        ("lambda_returns", lambda r, d, v: m.lambda_returns(r, d, v, 0.95),
         (x["r"], x["d"], x["v"]), 1),
        ("truncated_generalized_advantage_estimation",
         lambda r, d, vals: m.truncated_generalized_advantage_estimation(r, d, 0.95, vals),
         (x["r"], x["d"], x["values"]), 1),
        ("vtrace", lambda v_tm1, v_t, r, d, rho: m.vtrace(v_tm1, v_t, r, d, rho, 0.95),
         (x["v"], x["values"][1:], x["r"], x["d"], x["rho"]), 1),
        ("retrace", lambda q_tm1, q_t, a_tm1, a_t, r, d, pi, mu: m.retrace(
            q_tm1, q_t, a_tm1, a_t, r, d, pi, mu, 0.95),
         (x["q_tm1"], x["q_t"], x["a_tm1"], x["a_t"], x["r"], x["d"], x["pi"], x["mu"]), 1),
        ("q_lambda", lambda q_tm1, a_tm1, r, d, q_t: m.q_lambda(q_tm1, a_tm1, r, d, q_t, 0.95),
         (x["q_tm1"], x["a_tm1"], x["r"], x["d"], x["q_t"]), 1),
    ]
    # Other families: measured only when jit_env.ops has them (rlax always does).
    if hasattr(m, "categorical_l2_project"):
        cases.append(("categorical_l2_project (51 atoms)", m.categorical_l2_project,
                      (x["z_p"], x["probs"], x["z_q"]), 0))
    if hasattr(m, "quantile_regression_loss"):
        cases.append(("quantile_regression_loss (51 quantiles)",
                      lambda s, tau, tgt: m.quantile_regression_loss(s, tau, tgt, 1.0),
                      (x["z_p"], x["tau"], x["z_q"]), 0))
    return cases


def _time_pair(fns: dict, args: dict, reps: int) -> dict:
    """``{name: (compile ms, median µs per call)}``: `_timing.time_alternated` (calls
    alternated rep by rep, so both sides see the same machine load)."""
    timed = time_alternated(fns, args, reps)
    return {name: (c * 1e3, run * 1e6) for name, (c, run) in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--T", type=int, default=128)
    parser.add_argument("--B", type=int, default=1024)
    parser.add_argument("--actions", type=int, default=6)
    args = parser.parse_args()
    assert args.reps >= 20, "use at least 20 repetitions for a median"

    ours_mod = importlib.import_module("jit_env.ops")
    rlax = importlib.import_module("rlax")
    x = _inputs(args.T, args.B, args.actions, 51)
    ours = {name: (fn, a, ax) for name, fn, a, ax in _cases(ours_mod, x)}
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, "
          f"{jax.devices()[0].device_kind}; T={args.T}, B={args.B}, A={args.actions}, "
          f"median of {args.reps}\n")
    print("| operator | ours (µs) | rlax (µs) | ours / rlax | compile ours (ms) | "
          "compile rlax (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, fn_ref, fargs, ax in _cases(rlax, x):
        if name not in ours:
            print(f"| {name} | — | — | missing in jit_env.ops | | |")
            continue
        fn, _, _ = ours[name]
        vm = lambda f: jax.vmap(f, in_axes=ax, out_axes=ax)
        out_o, out_r = jax.jit(vm(fn))(*fargs), jax.jit(vm(fn_ref))(*fargs)
        np.testing.assert_allclose(out_o, out_r, rtol=1e-4, atol=1e-4, err_msg=name)
        timed = _time_pair({"ours": vm(fn), "rlax": vm(fn_ref)},
                           {"ours": fargs, "rlax": fargs}, args.reps)
        (c_o, t_o), (c_r, t_r) = timed["ours"], timed["rlax"]
        print(f"| {name} | {t_o:.0f} | {t_r:.0f} | {t_o / t_r:.2f} | {c_o:.0f} | {c_r:.0f} |")

    print("\nLayout (ours): time-major `jax.vmap(op, in_axes=1, out_axes=1)` on [T, B] vs "
          "batch-major `jax.vmap(op)` on [B, T]\n")
    print("| operator | time-major (µs) | batch-major (µs) | batch / time |")
    print("|---|---:|---:|---:|")
    for name, (fn, fargs, ax) in ours.items():
        if ax != 1:
            continue
        bm_args = tuple(jnp.swapaxes(a, 0, 1) for a in fargs)
        timed = _time_pair({"tm": jax.vmap(fn, in_axes=1, out_axes=1), "bm": jax.vmap(fn)},
                           {"tm": fargs, "bm": bm_args}, args.reps)
        t_tm, t_bm = timed["tm"][1], timed["bm"][1]
        print(f"| {name} | {t_tm:.0f} | {t_bm:.0f} | {t_bm / t_tm:.2f} |")


if __name__ == "__main__":
    main()
