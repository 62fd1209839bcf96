"""The batched-reset mechanism (`jit_env.wrappers._batched_reset`) against NumPy loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env.wrappers._batched_reset import (
    first_true_indices,
    inclusive_counts,
    leaf_aliases,
    reset_rows,
    reset_where,
)

# A few sizes (one block, a partial block, several blocks) so that eager compilation per
# shape stays bounded; the bits themselves are arbitrary.
_SIZES = st.sampled_from([1, 7, 64, 65, 130, 300])


@settings(max_examples=40, deadline=None)
@given(bits=_SIZES.flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n)),
       k=st.sampled_from([1, 3, 64, 320]))
def test_first_true_indices_equals_numpy_flatnonzero(bits, k):
    """The indices gathered by the sparse reset: the first k True positions, padded
    with n (the `jnp.nonzero(size=k, fill_value=n)` contract), against NumPy."""
    mask = np.asarray(bits)
    n = mask.size
    expected = np.full(k, n)
    found = np.flatnonzero(mask)[:k]
    expected[: found.size] = found
    got = first_true_indices(jnp.asarray(mask), k)
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(inclusive_counts(jnp.asarray(mask)), np.cumsum(mask))


@pytest.mark.parametrize("n", [64, 4096 + 3, 8192])  # one block, partial blocks, 8,192 as benchmarked
def test_first_true_indices_jit_vmap_and_large_batches(n):
    rng = np.random.default_rng(n)
    masks = rng.random((3, n)) < np.array([[0.0], [0.05], [1.0]])
    expected = np.stack([np.asarray(jnp.nonzero(m, size=n // 8, fill_value=n)[0]) for m in masks])
    fn = jax.jit(first_true_indices, static_argnums=1)
    np.testing.assert_array_equal(fn(jnp.asarray(masks[1]), n // 8), expected[1])
    batched = jax.vmap(lambda m: first_true_indices(m, n // 8))(jnp.asarray(masks))
    np.testing.assert_array_equal(batched, expected)
    np.testing.assert_array_equal(inclusive_counts(jnp.asarray(masks[2]))[-1], n)


@pytest.mark.parametrize("blocks", [2, 1024, 1025 + 1024])  # offsets by one matmul, then recursion
def test_inclusive_counts_equals_numpy_cumsum_eager_jit_and_vmap(blocks):
    n = 64 * blocks - 5
    masks = np.random.default_rng(blocks).random((2, n)) < np.array([[0.3], [1.0]])
    expected = np.cumsum(masks, axis=1)
    np.testing.assert_array_equal(inclusive_counts(jnp.asarray(masks[0])), expected[0])
    np.testing.assert_array_equal(jax.jit(inclusive_counts)(jnp.asarray(masks[1])), expected[1])
    np.testing.assert_array_equal(jax.vmap(inclusive_counts)(jnp.asarray(masks)), expected)


def _naive_reset_where(mask, source, reset, target):
    """NumPy loop: every masked row of every target leaf replaced by reset(that source row)."""
    out = jax.tree.map(np.array, target)
    for i in np.flatnonzero(mask):
        row = jax.tree.map(lambda x: x[i : i + 1], source)
        fresh = reset(row)
        jax.tree.map(lambda o, f: o.__setitem__(i, np.asarray(f)[0]), out, fresh)
    return out


def _problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    mask = jnp.asarray(rng.random(n) < p)
    source = {
        "x": jnp.asarray(rng.normal(size=(n, 3)), jnp.float32),
        "params": jnp.asarray(rng.normal(size=n), jnp.float32),
    }
    target = {"x": source["x"] + 1.0, "params": source["params"]}

    def reset(rows):  # new x from the parameters; parameters passed through
        return {
            "x": jnp.broadcast_to(rows["params"][:, None] * 2.0, rows["x"].shape),
            "params": rows["params"],
        }

    return mask, source, target, reset


@pytest.mark.parametrize(
    ("n", "p", "chunk"),
    [
        (40, 0.15, None),  # one pass of ceil(40 / 16) = 3 rows or several
        (40, 0.15, 2),  # several passes
        (40, 0.0, None),  # nothing ended: no pass
        (40, 1.0, 8),  # everything ended: five passes
        (12, 0.5, None),  # small batch: reset all and select
        (12, 0.5, 2),  # small batch with an explicit chunk: passes of 2
        (40, 0.3, 40),  # chunk = batch: reset all and select
    ],
)
@pytest.mark.parametrize("wrap", ["eager", "jit", "vmap"])
def test_reset_where_equals_replacing_every_masked_row(n, p, chunk, wrap, assert_tree_equal):
    mask, source, target, reset = _problem(n, p)
    expected = _naive_reset_where(np.asarray(mask), source, reset, target)

    def run(mask, source, target):
        return reset_where(mask, source, target, reset, chunk)

    if wrap == "vmap":  # an outer batch (e.g. seeds): the loop runs until every one is done
        masks = jnp.stack([mask, jnp.zeros_like(mask), ~mask])
        def stack(t):
            return jax.tree.map(lambda x: jnp.stack([x] * 3), t)

        got = jax.jit(jax.vmap(run))(masks, stack(source), stack(target))
        assert_tree_equal(jax.tree.map(lambda x: x[0], got), expected)
        assert_tree_equal(jax.tree.map(lambda x: x[1], got), target)
        assert_tree_equal(jax.tree.map(lambda x: x[2], got),
                          _naive_reset_where(~np.asarray(mask), source, reset, target))
        return
    got = (jax.jit(run) if wrap == "jit" else run)(mask, source, target)
    assert_tree_equal(got, expected)


def test_reset_rows_skips_passed_through_leaves_exactly(assert_tree_equal):
    """A leaf the reset passes through unchanged (an environment's parameters) is not
    scattered, and the result equals replacing the indexed rows, leaf by leaf."""
    mask, source, target, reset = _problem(40, 0.15)
    aliases = leaf_aliases(source, target)
    assert aliases == (0, None)  # dict order: params is source leaf 0
    idx = first_true_indices(mask, 8)
    got = reset_rows(idx, source, reset, target, aliases)
    assert got["params"] is target["params"]  # not scattered
    assert_tree_equal(got, _naive_reset_where(np.asarray(mask), source, reset, target))
