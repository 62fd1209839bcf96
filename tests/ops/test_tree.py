"""Tests for jit_env.ops tree utilities and target-network updates against rlax 0.1.9."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

# rlax's periodic_update / conditional_update warn (PendingDeprecationWarning); ours do not.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def _tree(seed=0):
    rng = np.random.default_rng(seed)
    return {"a": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32),
            "b": (jnp.asarray(rng.normal(size=(3,)), jnp.float32),)}


def _assert_tree_equal(x, y):
    assert jax.tree.structure(x) == jax.tree.structure(y)
    for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y)):
        np.testing.assert_array_equal(a, b)  # selections and reshapes: exact


def test_selects_and_updates_match_rlax(wrap):
    new, old = _tree(0), _tree(1)
    for pred in (True, False):
        _assert_tree_equal(wrap(ops.tree_select)(jnp.asarray(pred), new, old),
                           rlax.tree_select(jnp.asarray(pred), new, old))
        _assert_tree_equal(wrap(ops.conditional_update)(new, old, jnp.asarray(pred)),
                           rlax.conditional_update(new, old, jnp.asarray(pred)))
    for step in (0, 3, 4):
        _assert_tree_equal(wrap(lambda n, o, s: ops.periodic_update(n, o, s, 4))(
            new, old, jnp.asarray(step)), rlax.periodic_update(new, old, jnp.asarray(step), 4))
    mask = jnp.asarray([1.0, 0.0, 1.0])
    _assert_tree_equal(wrap(ops.tree_replace_masked)(new, old, mask),
                       rlax.tree_replace_masked(new, old, mask))
    _assert_tree_equal(ops.tree_replace_masked(new, None, mask),
                       rlax.tree_replace_masked(new, None, mask))
    _assert_tree_equal(wrap(ops.transpose_last_axis_to_first)(new),
                       rlax.transpose_last_axis_to_first(new))
    _assert_tree_equal(wrap(ops.transpose_first_axis_to_last)(new),
                       rlax.transpose_first_axis_to_last(new))
    _assert_tree_equal(wrap(ops.tree_fn(jnp.sum, axis=0))(new),
                       rlax.tree_fn(jnp.sum, axis=0)(new))
    _assert_tree_equal(wrap(lambda x, y: ops.tree_map_zipped(jnp.add, [x, y]))(new, old),
                       rlax.tree_map_zipped(jnp.add, [new, old]))


def test_vmap():
    new, old = _tree(0), _tree(1)
    preds = jnp.asarray([True, False, True])
    out = jax.vmap(ops.tree_select)(preds, new, old)
    np.testing.assert_array_equal(out["b"][0], np.where(preds, new["b"][0], old["b"][0]))


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", None])
def test_tree_split_key_matches_rlax(impl):
    key = jax.random.PRNGKey(0) if impl is None else jax.random.key(0, impl=impl)
    new_key, keys = ops.tree_split_key(key, _tree())
    ref_key, ref_keys = rlax.tree_split_key(key, _tree())
    data = jax.random.key_data if impl is not None else (lambda k: k)
    np.testing.assert_array_equal(data(new_key), data(ref_key))
    for a, b in zip(jax.tree.leaves(keys), jax.tree.leaves(ref_keys)):
        np.testing.assert_array_equal(data(a), data(b))


def test_tree_split_leaves():
    tree = _tree()
    for keepdim in (False, True):
        ours = ops.tree_split_leaves(tree, 0, keepdim)
        ref = rlax.tree_split_leaves(tree, 0, keepdim)
        assert len(ours) == 3
        for o, r in zip(ours, ref):
            _assert_tree_equal(o, r)
    assert ops.tree_split_leaves(()) == ()
    with pytest.raises(ValueError, match="sizes"):
        ops.tree_split_leaves({"a": np.ones(2), "b": np.ones(3)})


def test_structure_mismatch_raises():
    with pytest.raises(ValueError, match="`on_false` has tree structure"):
        ops.tree_select(True, {"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="`nests\\[1\\]`"):
        ops.tree_map_zipped(jnp.add, [{"a": 1.0}, (1.0,)])
    with pytest.raises(ValueError, match="`old_tensors`"):
        ops.periodic_update({"a": 1.0}, [1.0], jnp.asarray(0), 2)
    assert ops.tree_map_zipped(jnp.add, []) == []
