"""Tests of `jit_env.compat.spec_to_dm_spec` / `dm_spec_to_spec` (round trips)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tree  # dm-tree, a dm_env dependency
from dm_env import specs as dm_specs
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import specs
from jit_env.compat import dm_spec_to_spec, spec_to_dm_spec

_SETTINGS = settings(max_examples=30, deadline=None)
_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
_names = st.sampled_from(["", "obs", "x"])
_dtypes = st.sampled_from([np.float32, np.int32, np.uint8, np.bool_])


@st.composite
def _bounded(draw):
    shape = draw(_shapes)
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.int32, np.int8])))
    lo = draw(st.integers(-20, 0))
    hi = draw(st.integers(1, 20))
    if np.issubdtype(dtype, np.floating) and draw(st.booleans()):
        lo = -np.inf
    return dtype, shape, dtype.type(lo), dtype.type(hi)


_jit_leaves = st.one_of(
    st.builds(lambda s, d, n: specs.Array(s, d, name=n), _shapes, _dtypes, _names),
    st.builds(lambda b, n: specs.BoundedArray(b[1], b[0], b[2], b[3], name=n), _bounded(), _names),
    st.builds(
        lambda k, d, n: specs.DiscreteArray(k, dtype=d, name=n),
        st.integers(1, 30),
        st.sampled_from([np.int32, np.int16, np.uint8]),
        _names,
    ),
)
def _nests(leaves, *containers):
    """Leaves and containers of them, two levels deep (explicit depth: hypothesis
    6.170's ``st.recursive`` / ``st.dictionaries`` trip an internal assertion here)."""

    def level(children):
        return st.one_of(*[make(children) for make in containers])

    return st.one_of(leaves, level(leaves), level(st.one_of(leaves, level(leaves))))


_jit_specs = _nests(
    _jit_leaves,
    lambda c: st.lists(c, min_size=1, max_size=3).map(lambda xs: specs.Tuple(*xs)),
    lambda c: st.lists(c, min_size=1, max_size=3).map(lambda xs: specs.Dict(dict(zip("abc", xs)))),
)

_dm_leaves = st.one_of(
    st.builds(lambda s, d, n: dm_specs.Array(s, d, name=n), _shapes, _dtypes,
              st.sampled_from([None, "obs"])),
    st.builds(
        lambda b, n: dm_specs.BoundedArray(b[1], b[0], b[2], b[3], name=n),
        _bounded(),
        st.sampled_from([None, "obs"]),
    ),
    st.builds(
        lambda k, d: dm_specs.DiscreteArray(k, dtype=d),
        st.integers(1, 30),
        st.sampled_from([np.int32, np.uint8]),  # int64 -> int32 without x64 (tested below)
    ),
)
_Pair = collections.namedtuple("_Pair", "first second")
_dm_nests = _nests(
    _dm_leaves,
    lambda c: st.lists(c, min_size=1, max_size=3).map(tuple),
    lambda c: st.lists(c, min_size=1, max_size=3),
    lambda c: st.lists(c, min_size=1, max_size=3).map(lambda xs: dict(zip("abc", xs))),
    lambda c: st.builds(_Pair, c, c),
)


def _canonical_dm(spec):
    """A comparable description of a dm_env spec nest (dm specs have no __eq__)."""
    if isinstance(spec, dm_specs.Array):
        out = [type(spec).__name__, spec.shape, np.dtype(spec.dtype).str, spec.name]
        if isinstance(spec, dm_specs.BoundedArray):
            out += [
                np.broadcast_to(spec.minimum, spec.shape).tolist(),
                np.broadcast_to(spec.maximum, spec.shape).tolist(),
            ]
        return tuple(out)
    if isinstance(spec, dict):
        return ("dict", tuple((k, _canonical_dm(v)) for k, v in sorted(spec.items())))
    return (type(spec).__name__, tuple(_canonical_dm(v) for v in spec))


@_SETTINGS
@given(_jit_specs)
def test_spec_dm_spec_round_trip(spec):
    assert dm_spec_to_spec(spec_to_dm_spec(spec)) == spec


@_SETTINGS
@given(_dm_nests)
def test_dm_spec_spec_dm_spec_round_trip(dm_spec):
    back = spec_to_dm_spec(dm_spec_to_spec(dm_spec))
    assert _canonical_dm(back) == _canonical_dm(dm_spec)


@_SETTINGS
@given(_jit_specs)
def test_generated_values_validate_in_dm_env(spec):
    dm_spec = spec_to_dm_spec(spec)
    value = spec.generate_value()
    tree.map_structure(lambda s, v: s.validate(np.asarray(v)), dm_spec, _to_nest(spec, value))


def _to_nest(spec, value):
    if isinstance(spec, specs.Dict):
        return {k: _to_nest(s, value[k]) for k, s in spec.as_spec_struct().items()}
    if isinstance(spec, specs.Tuple):
        return tuple(_to_nest(s, v) for s, v in zip(spec.as_spec_struct(), value))
    return value


def test_multi_discrete_maximum_is_num_values_minus_one():
    spec = specs.DiscreteArray(np.array([2, 5], np.int32), name="a")
    dm_spec = spec_to_dm_spec(spec)
    assert type(dm_spec) is dm_specs.BoundedArray
    np.testing.assert_array_equal(dm_spec.minimum, [0, 0])
    np.testing.assert_array_equal(dm_spec.maximum, [1, 4])
    assert dm_spec.name == "a"


def test_64_bit_dm_specs_get_jax_canonical_dtypes():
    spec = dm_spec_to_spec(dm_specs.DiscreteArray(3, dtype=np.int64))
    assert spec == specs.DiscreteArray(3, dtype=np.int32)


def test_names_map_empty_to_none():
    assert spec_to_dm_spec(specs.Array((), np.float32)).name is None
    assert dm_spec_to_spec(dm_specs.Array((), np.float32)).name == ""


def test_bad_input_raises():
    with pytest.raises(TypeError, match="`dm_spec`"):
        dm_spec_to_spec(3)
    with pytest.raises(TypeError, match="`spec`"):
        spec_to_dm_spec("x")
