"""Hypothesis property tests over random nested spec trees (depth <= 3)."""

from __future__ import annotations

import copy
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jit_env import specs

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

names = st.sampled_from(["", "obs", "x"])
# Few distinct shapes and batch sizes, so that JAX's per-shape compilation caches are shared
# between examples (compilation, not the checks, dominates the run time).
shapes = st.sampled_from([(), (2,), (1, 2)])


@st.composite
def arrays(draw):
    return specs.Array(draw(shapes), draw(st.sampled_from([jnp.float32, jnp.bool_])), draw(names))


@st.composite
def bounded_arrays(draw):
    shape = draw(shapes)
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.int32])))
    if dtype.kind == "f":
        low = np.float32(draw(st.floats(-10, 10, width=32)))
        high = np.float32(low + np.float32(draw(st.floats(0, 10, width=32))))
        kind = draw(st.sampled_from(["finite", "lower", "upper", "none"]))
        low = -np.inf if kind in ("upper", "none") else low
        high = np.inf if kind in ("lower", "none") else high
    else:
        info = np.iinfo(dtype)
        if draw(st.booleans()):
            low, high = info.min, info.max
        else:
            low = draw(st.integers(info.min, info.max))
            high = draw(st.integers(low, min(info.max, low + 20)))
    return specs.BoundedArray(shape, dtype, low, high, draw(names))


@st.composite
def discrete_arrays(draw):
    shape = draw(shapes)
    num_values = draw(st.integers(1, 5)) if not shape else np.asarray(
        draw(st.lists(st.integers(1, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    ).reshape(shape)
    return specs.DiscreteArray(num_values, draw(st.sampled_from([jnp.int32])), draw(names))


leaves = st.one_of(arrays(), bounded_arrays(), discrete_arrays())


def spec_trees(depth: int):
    if depth == 0:
        return leaves
    children = spec_trees(depth - 1)
    return st.one_of(
        leaves,
        st.builds(lambda cs, n: specs.Tuple(*cs, name=n), st.lists(children, min_size=1, max_size=2), names),
        st.builds(
            lambda d, n: specs.Dict(d, name=n),
            st.dictionaries(st.sampled_from(["a", "b", "c"]), children, min_size=1, max_size=2),
            names,
        ),
        st.builds(specs.Batched, children, st.sampled_from([1, 2]), names),
        st.builds(
            lambda cs, n: specs.Tree(cs, jax.tree.structure([0] * len(cs)), n),
            st.lists(children, min_size=1, max_size=2),
            names,
        ),
    )


spec_strategy = spec_trees(3)


def _primitive_leaves(spec):
    """The primitive specs of `spec`, in the flattening order of its values."""
    return jax.tree.leaves(specs.unpack_spec(spec), is_leaf=lambda s: isinstance(s, specs.Spec))


def _assert_rejected(spec, value, what):
    assert not bool(spec.contains(value)), what
    with pytest.raises(ValueError, match=type(spec).__name__) as info:
        spec.validate(value)
    message = str(info.value)
    assert type(spec).__name__ in message, message
    assert repr(spec.name)[1:-1] in message, message


@SETTINGS
@given(spec=spec_strategy, seed=st.integers(0, 2**31 - 1))
def test_sample_and_generate_value_conform(spec, seed):
    for value in (spec.sample(jax.random.key(seed)), spec.generate_value()):
        assert bool(spec.contains(value))
        assert spec.validate(value) is value
        # Structure, shapes and dtypes agree with the unpacked primitive specs.
        leaf_specs = _primitive_leaves(spec)
        leaf_values = jax.tree.leaves(value)
        assert jax.tree.structure(value) == jax.tree.structure(
            specs.unpack_spec(spec), is_leaf=lambda s: isinstance(s, specs.Spec)
        )
        for leaf_spec, leaf in zip(leaf_specs, leaf_values):
            assert leaf.shape == leaf_spec.shape
            assert leaf.dtype == leaf_spec.dtype


def _out_of_bounds(leaf_spec, leaf, index, upper):
    """`leaf` with one entry just outside the bounds, or None if the bounds are the dtype's."""
    if not isinstance(leaf_spec, specs.BoundedArray):
        return None
    bound = (leaf_spec.maximum if upper else leaf_spec.minimum).reshape(-1)[index]
    if leaf_spec.dtype.kind == "f":
        if not np.isfinite(bound):
            return None
        # A step of at least the smallest *normal* number: XLA on CPU flushes denormals to zero, so
        # nextafter(0) would compare equal to 0.
        finfo = np.finfo(leaf_spec.dtype)
        step = max(np.spacing(np.abs(bound)), finfo.tiny)
        outside = (bound + step) if upper else (bound - step)
    else:
        info = np.iinfo(leaf_spec.dtype)
        if bound == (info.max if upper else info.min):
            return None
        outside = bound + (1 if upper else -1)
    bad = np.array(leaf).reshape(-1)
    bad[index] = outside
    return bad.reshape(leaf.shape)


@SETTINGS
@given(spec=spec_strategy, data=st.data())
def test_corrupted_values_are_rejected(spec, data):
    value = jax.tree.map(np.asarray, spec.generate_value())
    leaf_specs = _primitive_leaves(spec)
    leaf_values, treedef = jax.tree.flatten(value)
    i = data.draw(st.integers(0, len(leaf_values) - 1), label="leaf")
    leaf_spec, leaf = leaf_specs[i], leaf_values[i]

    def replaced(new_leaf):
        return jax.tree.unflatten(treedef, [*leaf_values[:i], new_leaf, *leaf_values[i + 1 :]])

    other_dtype = np.int32 if leaf.dtype != np.int32 else np.float32
    _assert_rejected(spec, replaced(np.zeros(leaf.shape, other_dtype)), "dtype")
    _assert_rejected(spec, replaced(leaf[..., None]), "shape")
    _assert_rejected(spec, [value], "structure")
    index = data.draw(st.integers(0, leaf.size - 1), label="entry")
    for upper in (False, True):
        bad = _out_of_bounds(leaf_spec, leaf, index, upper)
        if bad is not None:
            _assert_rejected(spec, replaced(bad), "bounds")


@SETTINGS
@given(spec=spec_strategy, other=spec_strategy)
def test_pickle_equality_and_hash(spec, other):
    for clone in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec)):
        assert clone == spec
        assert hash(clone) == hash(spec)
        assert repr(clone) == repr(spec)
    if spec == other:
        assert hash(spec) == hash(other)
    renamed = specs.Tuple(spec, name="renamed")
    assert renamed != specs.Tuple(spec)
    assert renamed == specs.Tuple(spec, name="renamed")
    assert (spec == other) == (other == spec)
    assert (spec != other) != (spec == other)  # exactly one of the two holds


def _generate(spec):
    return spec.generate_value()


@SETTINGS
@given(spec=spec_strategy)
def test_tree_map_over_a_spec_gives_the_value_tree(spec):
    # jit_env 0.1.5: composite specs are pytree nodes over their primitive specs (and Batched
    # specs, which stay leaves), so mapping generate_value over the leaves gives the value tree.
    mapped = jax.tree.map(_generate, spec)
    expected = spec.generate_value()
    assert jax.tree.structure(mapped) == jax.tree.structure(expected)
    for a, b in zip(jax.tree.leaves(mapped), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert spec.validate(mapped) is mapped
    # Leaves are the primitive / Batched specs; mapping a spec-valued function rebuilds the spec.
    assert all(isinstance(s, (specs.PrimitiveSpec, specs.Batched)) for s in jax.tree.leaves(spec))
    assert jax.tree.map(lambda s: s, spec) == spec
    assert jax.tree.unflatten(jax.tree.structure(spec), jax.tree.leaves(spec)) == spec
