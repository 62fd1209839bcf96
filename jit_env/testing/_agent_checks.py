"""The ``agents`` check of `jit_env.testing.check_env` (private).

jit_env's multi-agent convention (`jit_env.Environment.agent_ids`, chosen as
jumanji's: ``jumanji/environments/routing/lbf/env.py`` returns observations
``[num_agents, ...]``, a ``MultiDiscreteArray`` action of shape
``(num_agents,)``, reward and discount specs of shape ``(num_agents,)`` and
one shared ``step_type``): when ``agent_ids`` is a tuple of ``N`` names, every
leaf of the observation and action specs and the reward and discount specs
have a leading axis of size ``N`` (after any `specs.Batched` layers), the
reward and discount are ``[N]``, and every recorded TimeStep has one
``step_type`` per environment (not per agent). A single-agent environment
(``agent_ids is None``) passes trivially.
"""

from __future__ import annotations

import jax
import numpy as np

from jit_env._pytrees import peel_batched
from jit_env.specs._base import PrimitiveSpec
from jit_env.testing._checks import Run
from jit_env.testing._trees import _error


def check_agents(run: Run) -> None:
    """Appends the ``agents`` check's failures to ``run.out``."""
    add = run.out.add
    try:
        ids = run.env.agent_ids
    except Exception as exc:
        add("agents", f"env.agent_ids raised {_error(exc)}")
        return
    if ids is None:
        return
    if (
        not isinstance(ids, tuple)
        or len(ids) < 2
        or not all(isinstance(i, str) for i in ids)
        or len(set(ids)) != len(ids)
    ):
        add("agents", f"agent_ids must be None or a tuple of >= 2 distinct str, got {ids!r}")
        return
    n = len(ids)
    batch: tuple[int, ...] = ()
    for field in ("observation", "action", "reward", "discount"):
        try:
            spec = getattr(run.env, f"{field}_spec")()
        except Exception as exc:
            add("agents", f"{field}_spec() raised {_error(exc)}")
            continue
        element, nums = peel_batched(spec)
        if field == "observation":
            batch = nums
        # Batched wrappers reshape reward and discount specs instead (specs.reshape_spec).
        skip = len(batch) - len(nums) if field in ("reward", "discount") else 0
        # Composite specs (Dict, Tuple) are pytree nodes over their primitive specs: each
        # primitive leaf needs the agent axis, not the composite itself.
        for leaf in jax.tree.leaves(element, is_leaf=lambda s: isinstance(s, PrimitiveSpec)):
            shape = tuple(getattr(leaf, "shape", ()))[skip:]
            if not shape or shape[0] != n:
                add("agents", f"{field}_spec() leaf {leaf!r} has shape {shape}: "
                    f"expected a leading agent axis of size {n} (agent_ids {ids})")
            elif field in ("reward", "discount") and shape != (n,):
                add("agents", f"{field}_spec() has shape {shape}, expected ({n},)")
    for rec in run.records:
        st = np.shape(rec.timestep.step_type)
        for field in ("reward", "discount"):
            shape = np.shape(getattr(rec.timestep, field))
            if shape != (*st, n):
                add("agents", f"{rec.kind} (call {rec.index}): {field} has shape {shape} with "
                    f"step_type {st}: expected {(*st, n)}, one step type shared by all "
                    f"{n} agents and one {field} per agent")
                return
