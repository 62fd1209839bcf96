"""Tests for jit_env.ops.fix_step_type_on_interruptions, against rlax 0.1.9 and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

T, B = 7, 4
FIRST, MID, LAST = 0, 1, 2


def _np_fix(st):
    out = st.copy()
    for t in range(len(st) - 1):
        out[t][(st[t] == MID) & (st[t + 1] == FIRST)] = LAST
    return out


_reference = jax.jit(jax.vmap(rlax.fix_step_type_on_interruptions))


@pytest.mark.parametrize("dtype", [jnp.int8, jnp.int32])
def test_matches_rlax_and_numpy(variant, dtype):
    rng = np.random.default_rng(0)
    step_type = rng.integers(0, 3, (2, T, B)).astype(dtype)  # [2 examples, T, B]
    ours = variant(ops.fix_step_type_on_interruptions, jnp.asarray(step_type))
    ref = _reference(jnp.asarray(step_type))
    np.testing.assert_array_equal(ours, ref)  # integer ops: exact
    np.testing.assert_array_equal(ours, np.stack([_np_fix(s) for s in step_type]))
    assert ours.dtype == dtype


def test_known_sequence_and_rank_1():
    st = jnp.asarray([FIRST, MID, MID, FIRST, MID, LAST, FIRST, MID], jnp.int32)
    expected = [FIRST, MID, LAST, FIRST, MID, LAST, FIRST, MID]
    np.testing.assert_array_equal(ops.fix_step_type_on_interruptions(st), expected)
    np.testing.assert_array_equal(
        ops.fix_step_type_on_interruptions(st[:, None])[:, 0], expected)


def test_bad_inputs_raise_naming_the_argument(wrap):
    with pytest.raises(ValueError, match="`step_type` has rank 3"):
        wrap(ops.fix_step_type_on_interruptions)(jnp.zeros((2, 2, 2), jnp.int32))
    with pytest.raises(TypeError, match="`step_type`.*float32"):
        wrap(ops.fix_step_type_on_interruptions)(jnp.zeros((2, 2), jnp.float32))
