"""The ``invalid_action`` check of `jit_env.testing.check_env` (private).

A jitted ``step`` cannot raise on a value, so what an environment does with an
action outside its ``action_spec()`` is behaviour it must define and document
(gymnasium's environments assert instead: ``CartPoleEnv.step`` begins with
``assert self.action_space.contains(action)``,
``gymnasium/envs/classic_control/cartpole.py``). The check steps the first
reset state with out-of-range actions and asserts that the result still keeps
the contract: ``(state, TimeStep)`` of the same pytree structure, shapes and
dtypes as a valid step, a TimeStep conforming to its specs, finite floats.
Users who want such actions rejected wrap the environment in
`jit_env.wrappers.ValidateAction` (pure code) or use the ``compat`` adapters
(host code), which raise.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jit_env import specs
from jit_env.testing._checks import Run, _conforms
from jit_env.testing._trees import _error, _flatten, _numpy, structure_diffs

_FAR = 2**20  # an action far outside every reference environment's range


def _bad_values(spec: specs.BoundedArray) -> list[Any]:
    """Scalars of ``spec.dtype`` just below / above the bounds and far above them
    (only those representable in the dtype; none for bool)."""
    dtype = np.dtype(spec.dtype)
    low, high = spec.minimum, spec.maximum
    if dtype == np.bool_ or low.size == 0:
        return []
    out: list[Any] = []
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = int(np.min(low)), int(np.max(high))
        for value in (lo - 1, hi + 1, max(hi + 1, _FAR)):
            if info.min <= value <= info.max and value not in out:
                out.append(value)
        return [np.asarray(v, dtype) for v in out]
    finite_low = low[np.isfinite(low)]
    finite_high = high[np.isfinite(high)]
    width = 1.0
    if finite_low.size and finite_high.size:
        width = max(1.0, float(np.max(finite_high) - np.min(finite_low)))
    if finite_low.size:
        out.append(float(np.min(finite_low)) - width)
    if finite_high.size:
        out += [float(np.max(finite_high)) + width, float(np.max(finite_high)) + _FAR]
    with np.errstate(over="ignore"):
        return [np.asarray(v, dtype) for v in out if np.isfinite(np.asarray(v, dtype))]


def out_of_range_actions(action_spec: specs.Spec) -> list[tuple[str, Any]]:
    """``(description, action)`` pairs, each with one primitive bounded leaf of
    ``action_spec`` set (everywhere) to a value outside its bounds and every
    other leaf at its ``generate_value()``. Empty if no leaf has finite bounds
    of a numeric dtype (unbounded specs, `specs.Batched` leaves are skipped)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(action_spec)
    base = [leaf.generate_value() for _, leaf in leaves]
    out = []
    for i, (path, leaf) in enumerate(leaves):
        if not isinstance(leaf, specs.BoundedArray):
            continue
        for value in _bad_values(leaf):
            values = list(base)
            values[i] = np.full(leaf.shape, value, leaf.dtype)
            where = f"action{jax.tree_util.keystr(path)}" if path else "action"
            out.append((f"{where} = {value.item()!r}", jax.tree.unflatten(treedef, values)))
    return out


def check_invalid_actions(run: Run) -> None:
    """The ``invalid_action`` check on ``run``'s recorded rollout (module docstring)."""
    if run._unrun("invalid_action"):
        return
    env, add = run.env, run.out.add
    try:
        cases = out_of_range_actions(env.action_spec())
    except Exception as exc:
        add("invalid_action", f"no out-of-range action could be built: {_error(exc)}")
        return
    if not cases:
        run.out.skipped["invalid_action"] = "the action spec has no finite bounds"
        return
    first = run.records[0]
    valid = next((r for r in run.records if r.kind == "step"), None)
    spec_of = {f: getattr(env, f"{f}_spec")() for f in ("observation", "reward", "discount")}
    # Problems a valid action's step has too are the other checks' to report.
    known = set() if valid is None else set(_problems(valid.timestep, spec_of))
    for what, action in cases:
        try:
            out = run.jit_step(first.state, action)
        except Exception as exc:
            add("invalid_action", f"step with {what} raised {_error(exc)}")
            continue
        if not (isinstance(out, tuple) and len(out) == 2):
            add("invalid_action", f"step with {what} did not return (state, TimeStep)")
            continue
        if valid is not None:
            diffs = structure_diffs((valid.state, valid.timestep), out, "(state, timestep)")
            if diffs:
                add("invalid_action", f"step with {what} returns a different pytree: {diffs[0]}")
                continue
        for key, message in _problems(out[1], spec_of).items():
            if key not in known:
                add("invalid_action", f"step with {what}: {message}")


def _problems(timestep: Any, spec_of: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Spec and finiteness problems of ``timestep``: ``{(kind, where): message}``."""
    out = {}
    for field, spec in spec_of.items():
        problem = _conforms(spec, getattr(timestep, field))
        if problem:
            out[("spec", field)] = f"{field} does not conform to {field}_spec(): {problem}"
    leaves, _ = _flatten("timestep", timestep)
    for name, leaf in leaves.items():
        value = _numpy(leaf)
        if np.issubdtype(value.dtype, np.inexact) and not np.all(np.isfinite(value)):
            out[("finite", name)] = f"{name} is not finite: {value.ravel()[:4].tolist()}"
    return out
