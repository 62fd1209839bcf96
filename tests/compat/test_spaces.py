"""Tests of `jit_env.compat.spec_to_space` / `space_to_spec` (round trips, mapping rules)."""

from __future__ import annotations

import gymnasium as gym
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import specs
from jit_env.compat import space_to_spec, spec_to_space

_SETTINGS = settings(max_examples=30, deadline=None)

_FLOATS = [np.float32, np.float16]
_INTS = [np.int8, np.int16, np.int32, np.uint8, np.uint32]
_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


def _primitive_specs() -> st.SearchStrategy:
    @st.composite
    def bounded(draw):
        shape = draw(_shapes)
        if draw(st.booleans()):
            dtype = np.dtype(draw(st.sampled_from(_FLOATS)))
            lo = draw(st.sampled_from([-np.inf, -10.0, -1.0, 0.0]))
            # Not both infinite: BoundedArray(-inf, inf) *is* an Array (and maps to one).
            hi = draw(st.sampled_from([1.0, 2.5, 10.0] + ([np.inf] if lo > -np.inf else [])))
        else:
            dtype = np.dtype(draw(st.sampled_from(_INTS)))
            info = np.iinfo(dtype)
            lo = draw(st.integers(max(info.min, -100), 0))
            hi = draw(st.integers(1, min(info.max, 100)))
        if draw(st.booleans()) and shape:
            # Per-element bounds (arrays), still inside the scalar range.
            low = np.full(shape, lo, dtype)
            high = np.full(shape, hi, dtype)
            return specs.BoundedArray(shape, dtype, low, high)
        return specs.BoundedArray(shape, dtype, dtype.type(lo), dtype.type(hi))

    @st.composite
    def discrete(draw):
        dtype = np.dtype(draw(st.sampled_from([np.int32, np.int16, np.int8, np.uint8])))
        if draw(st.booleans()):
            return specs.DiscreteArray(draw(st.integers(1, 50)), dtype=dtype)
        shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple))
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        values = rng.integers(2, 10, size=shape).astype(dtype)
        return specs.DiscreteArray(values, dtype=dtype)

    unbounded = st.builds(
        specs.Array, _shapes, st.sampled_from([*_FLOATS, *_INTS, np.bool_])
    )
    return st.one_of(unbounded, bounded(), discrete())


def _nests(leaves, as_tuple, as_dict):
    """Leaves, and tuples / dicts of them nested up to two levels (hypothesis
    6.170's ``st.recursive`` / ``st.dictionaries`` trip an internal assertion here)."""

    def level(children):
        return st.one_of(
            st.lists(children, min_size=1, max_size=3).map(as_tuple),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: as_dict(dict(zip("abc", xs)))),
        )

    return st.one_of(leaves, level(leaves), level(st.one_of(leaves, level(leaves))))


_specs = _nests(_primitive_specs(), lambda xs: specs.Tuple(*xs), specs.Dict)


def _assert_same_spec(actual: specs.Spec, expected: specs.Spec) -> None:
    """Class, shape, dtype, bounds and nest equal (gymnasium spaces carry no names)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, specs.CompositeSpec):
        a, e = actual.as_spec_struct(), expected.as_spec_struct()
        if isinstance(e, dict):
            assert sorted(a) == sorted(e)
            for k in e:
                _assert_same_spec(a[k], e[k])
        else:
            assert len(a) == len(e)
            for x, y in zip(a, e):
                _assert_same_spec(x, y)
        return
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    if isinstance(expected, specs.DiscreteArray):
        np.testing.assert_array_equal(actual.num_values, expected.num_values)
    elif isinstance(expected, specs.BoundedArray):
        for attr in ("minimum", "maximum"):
            np.testing.assert_array_equal(
                np.broadcast_to(getattr(actual, attr), expected.shape),
                np.broadcast_to(getattr(expected, attr), expected.shape),
            )


@_SETTINGS
@given(_specs)
def test_spec_space_spec_round_trip(spec):
    space = spec_to_space(spec)
    _assert_same_spec(space_to_spec(space), spec)


@settings(max_examples=12, deadline=None)  # each example compiles spec.contains: keep few
@given(_specs, st.integers(0, 2**31 - 1))
def test_generated_and_sampled_values_agree(spec, seed):
    """Values of the spec lie in the space and samples of the space in the spec."""
    space = spec_to_space(spec)
    space.seed(seed)
    value = jax.tree.map(_finite, spec.generate_value())
    assert space.contains(_as_space_value(value, space))
    sample = space.sample()
    assert bool(spec.contains(_as_spec_value(sample, spec)))


def _finite(x):
    """±inf -> the dtype's extremes: the Box of an infinite bound stops at finfo (documented)."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return np.nan_to_num(x, posinf=np.finfo(x.dtype).max, neginf=np.finfo(x.dtype).min)
    return x


def _as_space_value(value, space):
    if isinstance(space, gym.spaces.Dict):
        return {k: _as_space_value(value[k], s) for k, s in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_as_space_value(v, s) for v, s in zip(value, space.spaces))
    return np.asarray(value)


def _as_spec_value(sample, spec):
    if isinstance(spec, specs.Dict):
        struct = spec.as_spec_struct()
        return {k: _as_spec_value(sample[k], s) for k, s in struct.items()}
    if isinstance(spec, specs.Tuple):
        return tuple(_as_spec_value(v, s) for v, s in zip(sample, spec.as_spec_struct()))
    return np.asarray(sample, dtype=spec.dtype)


def _spaces() -> st.SearchStrategy:
    @st.composite
    def box(draw):
        shape = draw(_shapes)
        dtype = np.dtype(draw(st.sampled_from([np.float32, np.int32, np.uint8])))
        lo = draw(st.integers(0 if dtype == np.uint8 else -50, 0))
        hi = draw(st.integers(1, 50))
        if draw(st.booleans()) and np.issubdtype(dtype, np.floating):
            low = np.full(shape, lo, dtype)
            low.flat[0] = np.finfo(dtype).min  # a partly unbounded Box
            return gym.spaces.Box(low, np.full(shape, hi, dtype), shape, dtype)
        return gym.spaces.Box(lo, hi, shape, dtype)

    discrete = st.builds(
        lambda n, dtype: gym.spaces.Discrete(n, dtype=dtype),
        st.integers(1, 20),
        st.sampled_from([np.int32, np.int16]),  # int64 is canonicalised, tested below
    )
    multi_discrete = st.builds(
        lambda nvec, dtype: gym.spaces.MultiDiscrete(np.asarray(nvec), dtype=dtype),
        st.lists(st.integers(1, 9), min_size=1, max_size=4),
        st.sampled_from([np.int32, np.uint8]),
    )
    multi_binary = st.builds(gym.spaces.MultiBinary, st.integers(1, 5))
    return st.one_of(box(), discrete, multi_discrete, multi_binary)


_space_trees = _nests(_spaces(), lambda xs: gym.spaces.Tuple(xs), gym.spaces.Dict)


@_SETTINGS
@given(_space_trees)
def test_space_spec_space_round_trip(space):
    assert spec_to_space(space_to_spec(space)) == space


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.uint32])
def test_unbounded_integer_array_uses_the_dtype_range(dtype):
    box = spec_to_space(specs.Array((2,), dtype))
    info = np.iinfo(dtype)
    np.testing.assert_array_equal(box.low, [info.min, info.min])
    np.testing.assert_array_equal(box.high, [info.max, info.max])
    assert box.dtype == dtype


def test_unbounded_float_array_uses_finite_extremes():
    box = spec_to_space(specs.Array((3,), np.float32))
    finfo = np.finfo(np.float32)
    np.testing.assert_array_equal(box.low, np.full(3, finfo.min, np.float32))
    np.testing.assert_array_equal(box.high, np.full(3, finfo.max, np.float32))
    # A Box with infinite bounds maps to the same unbounded spec.
    infinite = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    assert space_to_spec(infinite) == specs.Array((3,), np.float32)


def test_partly_bounded_float_spec_keeps_infinities():
    spec = specs.BoundedArray((2,), np.float32, np.array([-np.inf, -1.0], np.float32), 1.0)
    box = spec_to_space(spec)
    assert box.low[0] == np.finfo(np.float32).min
    assert box.low[1] == -1.0
    back = space_to_spec(box)
    np.testing.assert_array_equal(back.minimum, [-np.inf, -1.0])


def test_64_bit_spaces_get_jax_canonical_dtypes():
    """Without jax_enable_x64 the specs hold JAX's 32-bit dtypes (gymnasium defaults to int64)."""
    assert space_to_spec(gym.spaces.Discrete(4)) == specs.DiscreteArray(4, dtype=np.int32)
    box = space_to_spec(gym.spaces.Box(-1.0, 1.0, (2,), np.float64))
    assert box.dtype == np.float32


def test_discrete_mappings():
    assert spec_to_space(specs.DiscreteArray(5)) == gym.spaces.Discrete(5, dtype=np.int32)
    multi = spec_to_space(specs.DiscreteArray(np.array([2, 3], np.int32)))
    assert multi == gym.spaces.MultiDiscrete([2, 3], dtype=np.int32)
    binary = spec_to_space(specs.DiscreteArray(np.full((2, 2), 2, np.int8), dtype=np.int8))
    assert binary == gym.spaces.MultiBinary([2, 2])
    # A Discrete with a start is a bounded integer scalar.
    shifted = space_to_spec(gym.spaces.Discrete(3, start=-1, dtype=np.int32))
    assert isinstance(shifted, specs.BoundedArray)
    assert not isinstance(
        shifted, specs.DiscreteArray
    )
    assert (int(shifted.minimum), int(shifted.maximum)) == (-1, 1)


def test_tree_spec_of_a_dict_is_a_dict_space():
    tree = specs.Dict(a=specs.Array((), np.float32), b=specs.DiscreteArray(3))
    space = spec_to_space(tree)
    assert isinstance(space, gym.spaces.Dict)
    assert set(space.spaces) == {"a", "b"}


def test_unsupported_inputs_raise_naming_the_argument():
    with pytest.raises(TypeError, match="`space`"):
        space_to_spec(gym.spaces.Text(5))
    with pytest.raises(TypeError, match="`spec`"):
        spec_to_space(3)
    with pytest.raises(TypeError, match="`spec`"):
        spec_to_space(specs.Array((), np.complex64))
