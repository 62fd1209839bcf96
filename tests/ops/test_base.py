"""Tests for jit_env.ops base helpers (one_hot, batched_index, …) against rlax 0.1.9."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops
from jit_env.ops import _base


def _all(m):
    def f(values, idx, mask, repl):
        return {
            "one_hot": m.one_hot(idx, 4),
            "one_hot_int": m.one_hot(idx, 4, dtype=jnp.int32),
            "batched_index": m.batched_index(values, idx),
            "batched_index_keep": m.batched_index(values, idx, keepdims=True),
            "replace_masked": m.replace_masked(values, repl, mask),
            "replace_masked_zeros": m.replace_masked(values, None, mask),
            "lhs_broadcast": m.lhs_broadcast(mask, values) * jnp.ones_like(values),
        }

    return f


def test_matches_rlax(variant):
    rng = np.random.default_rng(0)
    values = jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32)
    idx = jnp.asarray([[0, 3, 5], [1, 2, -1]], jnp.int32)  # 5: out of range, -1: from end
    mask = jnp.asarray([[1, 0, 1], [0, 0, 1]], jnp.float32)
    repl = jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32)
    idx_ok = jnp.clip(idx, 0, 3)
    ours = variant(_all(ops), values, idx_ok, mask, repl)
    ref = _all(rlax)(values, idx_ok, mask, repl)  # rlax's helpers are rank-polymorphic
    for k in ours:
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)  # exact: no arithmetic
    # out-of-range one-hot is all zeros, as rlax
    np.testing.assert_array_equal(ops.one_hot(idx, 4), rlax.one_hot(idx, 4))
    np.testing.assert_array_equal(ops.one_hot(idx, 4)[0, 2], np.zeros(4))


def test_all_sum():
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ops.AllSum()(x), 15.0)
    np.testing.assert_array_equal(ops.AllSum()(x, axis=1), [3.0, 12.0])
    total = jax.vmap(lambda row: ops.AllSum("batch")(row), axis_name="batch")(x)
    np.testing.assert_array_equal(total, [15.0, 15.0])


def test_validate_messages():
    with pytest.raises(ValueError, match=r"f: `x` has rank 2 \(shape \(2, 2\)\), expected rank "
                                         r"in \(0, 1\); `y` has rank 0"):
        _base.validate("f", ("x", jnp.ones((2, 2)), (0, 1), "float"), ("y", 1.0, 1, None))
    with pytest.raises(TypeError, match="`a` has dtype float32, expected an integer dtype"):
        _base.validate("f", ("a", jnp.ones(2), 1, "int"))
    with pytest.raises(TypeError, match="`m` has dtype float, expected a boolean dtype"):
        _base.validate("f", ("m", 1.0, 0, "bool"))
    _base.validate("f", ("lam", 1, 0, "float"), ("k", jax.random.key(0), 0, None))  # no raise
    with pytest.raises(ValueError, match="`b` has shape \\(3,\\), expected \\(2,\\) to match `a`"):
        _base.check_same_shape("f", ("a", jnp.ones(2)), ("b", jnp.ones(3)))
    with pytest.raises(ValueError, match="`indices` has shape"):
        ops.batched_index(jnp.ones((2, 3)), jnp.zeros(3, jnp.int32))
    with pytest.raises(TypeError, match="`indices`"):
        jax.jit(ops.one_hot, static_argnums=1)(jnp.ones(2), 3)
    with pytest.raises(ValueError, match="not compatible"):
        ops.lhs_broadcast(jnp.ones(3), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="`replacement` has shape"):
        ops.replace_masked(jnp.ones((2, 3)), jnp.ones((2,)), jnp.ones(2))


def test_maybe_stop_gradient_traced_flag():
    def f(x, stop):
        return jnp.sum(_base.maybe_stop_gradient(x * 2.0, stop))

    x = jnp.ones(3)
    np.testing.assert_array_equal(jax.jit(jax.grad(f))(x, jnp.asarray(True)), np.zeros(3))
    np.testing.assert_array_equal(jax.jit(jax.grad(f))(x, jnp.asarray(False)), 2 * np.ones(3))
