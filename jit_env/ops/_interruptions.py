"""Repairing step types of streams that were interrupted (rlax 0.1.9 family).

If an actor crashes or is pre-empted while a trajectory is being written, a
``FIRST`` step can follow a ``MID`` step with no ``LAST`` in between.
`fix_step_type_on_interruptions` marks such a ``MID`` step as ``LAST`` so that
learners cut the stream there. The discount of that step is left unchanged: it
is > 0 (an interruption, to bootstrap from) where a termination would have 0.

Step types follow dm_env: ``FIRST = 0``, ``MID = 1``, ``LAST = 2`` (the values of
`jit_env.StepType`; this module does not import the environment layer).
Matches rlax 0.1.9 `rlax.fix_step_type_on_interruptions`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import validate

# dm_env.StepType values (NumPy scalars: no device arrays at import time).
_FIRST = np.int8(0)
_MID = np.int8(1)
_LAST = np.int8(2)


def fix_step_type_on_interruptions(step_type: jax.Array) -> jax.Array:
    """Returns ``step_type`` with every ``MID`` that is followed by a ``FIRST`` set to ``LAST``.

    The final step of the sequence has no successor and is left unchanged.

    Args:
      step_type: dm_env step types, shape [T, B] (as rlax) or [T], integer.

    Returns:
      fixed step types, same shape and dtype.

    Raises:
      ValueError: if ``step_type`` is not of rank 1 or 2.
      TypeError: if ``step_type`` is not an integer array.

    Matches rlax 0.1.9 `rlax.fix_step_type_on_interruptions` (which accepts rank 2 only).
    """
    validate("fix_step_type_on_interruptions", ("step_type", step_type, (1, 2), "int"))
    step_type = jnp.asarray(step_type)
    next_step_type = jnp.concatenate(
        [step_type[1:], jnp.full_like(step_type[:1], _MID)], axis=0
    )
    interrupted = (next_step_type == _FIRST) & (step_type == _MID)
    return jnp.where(interrupted, jnp.asarray(_LAST, step_type.dtype), step_type)
