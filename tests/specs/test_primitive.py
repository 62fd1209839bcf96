"""Tests of the leaf specs: Array, BoundedArray, DiscreteArray."""

from __future__ import annotations

import copy
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from jit_env import specs

F32 = np.dtype(np.float32)

# ----------------------------------------------------------------------------------------------
# Construction and properties
# ----------------------------------------------------------------------------------------------


def test_array_normalises_shape_and_dtype():
    spec = specs.Array(3, jnp.float32, name="x")
    assert spec.shape == (3,)
    assert isinstance(spec.dtype, np.dtype)
    assert spec.dtype == F32
    assert spec.name == "x"
    assert specs.Array([2, np.int64(4)], "int8").shape == (2, 4)
    # float64 is canonicalised to float32 while x64 is off, as jit_env 0.1.5 does.
    assert specs.Array((), np.float64).dtype == np.dtype(jax.dtypes.canonicalize_dtype(np.float64))
    assert specs.Array((), jnp.bfloat16).dtype == np.dtype(jnp.bfloat16)


def test_bounded_array_stores_numpy_bounds_of_full_shape():
    spec = specs.BoundedArray((2, 3), jnp.float32, 0.0, [1.0, 2.0, 3.0])
    for bound in (spec.minimum, spec.maximum):
        assert isinstance(bound, np.ndarray)
        assert not isinstance(bound, jax.Array)
        assert bound.shape == (2, 3)
        assert bound.dtype == F32
        assert not bound.flags.writeable
    np.testing.assert_array_equal(spec.minimum, np.zeros((2, 3)))
    np.testing.assert_array_equal(spec.maximum, [[1, 2, 3], [1, 2, 3]])
    # Bounds given as JAX arrays are converted to NumPy as well.
    spec = specs.BoundedArray((2,), jnp.int32, jnp.array([0, 1]), jnp.array(5))
    assert isinstance(spec.minimum, np.ndarray)
    assert spec.minimum.dtype == np.int32


def test_discrete_array_scalar_and_multi_discrete():
    spec = specs.DiscreteArray(5, name="a")
    assert spec.shape == ()
    assert spec.dtype == np.int32
    assert int(spec.num_values) == 5
    assert int(spec.minimum) == 0
    assert int(spec.maximum) == 4
    multi = specs.DiscreteArray(np.array([2, 3, 4]), dtype=jnp.int8)
    assert multi.shape == (3,)
    assert multi.dtype == np.int8
    np.testing.assert_array_equal(multi.num_values, [2, 3, 4])
    np.testing.assert_array_equal(multi.maximum, [1, 2, 3])
    np.testing.assert_array_equal(multi.minimum, [0, 0, 0])
    assert isinstance(multi, specs.BoundedArray)
    assert isinstance(multi, specs.PrimitiveSpec)
    # The full range of the dtype is allowed: 256 values of uint8.
    assert int(specs.DiscreteArray(256, jnp.uint8).maximum) == 255


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: specs.BoundedArray((2,), jnp.float32, [0.0, 2.0], 1.0), ["minimum", "maximum", "2.0"]),
        (lambda: specs.BoundedArray((2,), jnp.float32, [0.0, 0.0, 0.0], 1.0), ["minimum", "(3,)", "(2,)"]),
        (lambda: specs.BoundedArray((2,), jnp.float32, 0.0, np.ones((2, 2))), ["maximum", "(2, 2)"]),
        (lambda: specs.BoundedArray((), jnp.int32, 0.5, 3), ["minimum", "int32", "0.5"]),
        (lambda: specs.BoundedArray((), jnp.int32, 0, np.inf), ["maximum", "inf"]),
        (lambda: specs.BoundedArray((), jnp.int8, 0, 300), ["maximum", "300", "127"]),
        (lambda: specs.BoundedArray((), jnp.float32, np.nan, 1.0), ["minimum", "NaN"]),
        (lambda: specs.BoundedArray((), jnp.float16, 0.0, 1e6), ["maximum", "float16"]),
        (lambda: specs.DiscreteArray(0), ["num_values", "positive", "0"]),
        (lambda: specs.DiscreteArray([3, -1]), ["num_values", "-1"]),
        (lambda: specs.DiscreteArray(2.5), ["num_values", "2.5"]),
        (lambda: specs.DiscreteArray(3, dtype=jnp.float32), ["dtype", "float32"]),
        (lambda: specs.DiscreteArray(2, dtype=bool), ["dtype", "bool"]),
        (lambda: specs.DiscreteArray(300, dtype=jnp.int8), ["num_values", "300", "128"]),
        (lambda: specs.Array((2, -1), jnp.float32), ["shape", "-1"]),
        (lambda: specs.BoundedArray((-3,), jnp.float32, 0, 1), ["shape", "-3"]),
        (lambda: specs.Batched(specs.Array((), jnp.float32), 0), ["num", "0"]),
        (lambda: specs.Batched(specs.Array((), jnp.float32), -2), ["num", "-2"]),
    ],
)
def test_constructor_value_errors_name_argument_and_value(build, words):
    with pytest.raises(ValueError, match=words[0]) as info:  # names the argument
        build()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize(
    ("build", "word"),
    [
        (lambda: specs.Array((2,), jnp.float32, name=3), "name"),
        (lambda: specs.Array((2.0,), jnp.float32), "shape"),
        (lambda: specs.Array((2,), object), "dtype"),
        (lambda: specs.Array((2,), "not-a-dtype"), "dtype"),
        (lambda: specs.BoundedArray((), jnp.complex64, 0, 1), "dtype"),
        (lambda: specs.BoundedArray((), jnp.float32, "low", 1), "minimum"),
    ],
)
def test_constructor_type_errors(build, word):
    with pytest.raises(TypeError, match=word):
        build()


# ----------------------------------------------------------------------------------------------
# generate_value / contains / validate, eagerly and under jit / vmap
# ----------------------------------------------------------------------------------------------

BOX = specs.BoundedArray((2, 3), jnp.float32, -1.0, [1.0, 2.0, 3.0], name="box")
MULTI = specs.DiscreteArray(np.array([2, 3, 4]), dtype=jnp.int32, name="multi")
PLAIN = specs.Array((2,), jnp.float32, name="plain")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (PLAIN, np.zeros(2, np.float32)),
        (BOX, np.full((2, 3), -1.0, np.float32)),
        (MULTI, np.zeros(3, np.int32)),
        (specs.BoundedArray((), jnp.int8, 3, 5), np.int8(3)),
        (specs.Array((), bool), np.bool_(False)),
    ],
)
def test_generate_value(variant_fn, spec, expected):
    # Independent expectation: zeros for Array (and DiscreteArray, minimum 0), minima otherwise.
    value = variant_fn(lambda _: spec.generate_value())(jnp.zeros(()))
    assert value.dtype == spec.dtype
    assert value.shape == spec.shape
    np.testing.assert_array_equal(np.asarray(value), expected)
    assert bool(spec.contains(value))


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (BOX, np.array([[0.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], np.float32), True),
        (BOX, np.array([[0.0, 2.5, 3.0], [-1.0, 0.5, 0.0]], np.float32), False),  # 2.5 > 2
        (BOX, np.array([[0.0, 0.0, 0.0], [-1.5, 0.0, 0.0]], np.float32), False),  # -1.5 < -1
        (BOX, np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]], np.float32), False),  # NaN
        (BOX, np.zeros((2, 3), np.int32), False),  # dtype
        (BOX, np.zeros((3, 2), np.float32), False),  # shape
        (MULTI, np.array([1, 2, 3], np.int32), True),
        (MULTI, np.array([2, 0, 0], np.int32), False),  # 2 >= num_values[0]
        (MULTI, np.array([0, -1, 0], np.int32), False),
        (MULTI, np.array([0.0, 1.0, 0.0], np.float32), False),  # integrality via dtype
        (PLAIN, np.array([np.inf, -5.0], np.float32), True),
        (PLAIN, np.zeros((2,), np.float16), False),
    ],
)
def test_contains(variant_fn, spec, value, expected):
    result = variant_fn(spec.contains)(value)
    assert result.shape == ()
    assert result.dtype == jnp.bool_
    assert bool(result) is expected


@pytest.mark.parametrize("value", [None, [0.0, 0.0], "ab", {"a": 1}, (1.0, 2.0)])
def test_contains_never_raises_on_non_arrays(value):
    assert bool(PLAIN.contains(value)) is False
    with pytest.raises(ValueError, match="expected an array"):
        PLAIN.validate(value)


def test_contains_accepts_python_scalars_with_canonical_dtype():
    spec = specs.BoundedArray((), jnp.float32, 0.0, 1.0)
    assert bool(spec.contains(0.5))
    assert not bool(spec.contains(1.5))
    assert bool(specs.DiscreteArray(3).contains(2))
    assert not bool(specs.DiscreteArray(3).contains(3))
    assert bool(specs.Array((), bool).contains(True))
    assert not bool(spec.contains(2**70))  # not representable: a mismatch, no exception


def test_validate_eager_messages():
    good = np.zeros((2, 3), np.float32)
    assert BOX.validate(good) is good
    with pytest.raises(ValueError, match="BoundedArray 'box'") as info:
        BOX.validate(np.zeros((3,), np.int8))
    message = str(info.value)
    for word in ["BoundedArray 'box'", "expected shape (2, 3)", "got (3,)", "float32", "int8"]:
        assert word in message, message
    bad = good.copy()
    bad[1, 2] = 7.0
    with pytest.raises(ValueError, match="BoundedArray 'box'") as info:
        BOX.validate(bad)
    message = str(info.value)
    for word in ["BoundedArray 'box'", "1 of 6", "index (1, 2)", "7.0", "-1.0", "3.0"]:
        assert word in message, message


def test_validate_static_errors_raise_at_trace_time_under_jit_and_vmap():
    with pytest.raises(ValueError, match="expected dtype float32"):
        jax.jit(BOX.validate)(jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\)"):
        jax.vmap(BOX.validate)(jnp.zeros((4, 3, 2), jnp.float32))


def test_validate_bounds_under_jit_and_vmap_with_checkify():
    bad = np.zeros((2, 3), np.float32)
    bad[0, 1] = 5.0
    # Unchecked: the traced bound check is a no-op and the value comes back unchanged.
    np.testing.assert_array_equal(jax.jit(BOX.validate)(bad), bad)
    err, out = checkify.checkify(jax.jit(BOX.validate))(bad)
    np.testing.assert_array_equal(out, bad)
    with pytest.raises(checkify.JaxRuntimeError) as info:
        err.throw()
    for word in ["BoundedArray 'box'", "1 entries out of bounds", "flat index 1", "5.0"]:
        assert word in str(info.value), str(info.value)
    err, _ = checkify.checkify(jax.jit(BOX.validate))(np.zeros((2, 3), np.float32))
    assert err.get() is None
    # Under vmap: only the offending batch element is reported.
    batch = np.stack([np.zeros((2, 3), np.float32), bad])
    err, _ = checkify.checkify(jax.vmap(BOX.validate))(batch)
    assert "out of bounds" in err.get()
    err, _ = checkify.checkify(jax.vmap(BOX.validate))(batch[:1])
    assert err.get() is None


def test_validate_returns_value_under_transforms(variant_fn):
    value = np.array([1, 2, 3], np.int32)
    np.testing.assert_array_equal(variant_fn(MULTI.validate)(value), value)


# ----------------------------------------------------------------------------------------------
# sample
# ----------------------------------------------------------------------------------------------

# BOX (uniform floats) is sampled in every variant_fn form in test_sample_accepts_every_key_flavour;
# the other float cases (exponential tails, normal) eagerly in test_sample_float_distributions.
SAMPLED = {
    "multi": MULTI,
    "bool": specs.Array((2,), bool),
    "mixed": specs.BoundedArray((2,), jnp.float32, [-np.inf, 0], [np.inf, 1]),
}


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_sample_conforms_and_is_deterministic(variant_fn, name):
    spec = SAMPLED[name]
    first = variant_fn(spec.sample)(jax.random.key(3))
    again = variant_fn(spec.sample)(jax.random.key(3))
    assert first.shape == spec.shape
    assert first.dtype == spec.dtype
    assert bool(spec.contains(first))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))  # bit for bit


def test_sample_accepts_every_key_flavour(variant_fn, make_key):
    first = variant_fn(BOX.sample)(make_key(3))
    assert first.shape == BOX.shape
    assert first.dtype == BOX.dtype
    assert bool(BOX.contains(first))
    np.testing.assert_array_equal(first, variant_fn(BOX.sample)(make_key(3)))


def test_sample_distinct_keys_give_distinct_samples():
    draws = {tuple(np.asarray(BOX.sample(jax.random.key(s))).ravel()) for s in range(5)}
    assert len(draws) == 5


_N = 4096  # samples per row in the statistical tests


def test_sample_float_distributions():
    # One spec, one row per case of gymnasium's Box.sample:
    # row 0: uniform on [2, 3]: mean of N draws has std 1/sqrt(12 N) = 0.0045, so 0.03 is > 6 sigma;
    # row 1: 1 + Exp(1) and row 2: 1 - Exp(1): std of the mean 1/64, tolerance 0.1;
    # row 3: standard normal: mean std 1/64, variance std sqrt(2/N) = 0.022, tolerance 0.15;
    # row 4: bounds spanning all of float32 (must not overflow); row 5: degenerate [0.25, 0.25].
    big = np.finfo(np.float32).max
    low = np.array([2.0, 1.0, -np.inf, -np.inf, -big, 0.25], np.float32)[:, None]
    high = np.array([3.0, np.inf, 1.0, np.inf, big, 0.25], np.float32)[:, None]
    spec = specs.BoundedArray((6, _N), jnp.float32, low, high)
    x = np.asarray(spec.sample(jax.random.key(0)))
    assert bool(spec.contains(x))
    assert abs(x[0].mean() - 2.5) < 0.03
    assert abs(x[0].var() - 1 / 12) < 0.01
    assert abs(x[1].mean() - 2.0) < 0.1
    assert abs(x[1].var() - 1.0) < 0.3
    assert abs(x[2].mean() - 0.0) < 0.1
    assert x[2].max() <= 1.0
    assert abs(x[3].mean()) < 0.1
    assert abs(x[3].var() - 1.0) < 0.15
    assert np.all(np.isfinite(x[4]))
    assert abs(x[4].astype(np.float64).mean()) < 0.05 * big
    np.testing.assert_array_equal(x[5], 0.25)
    # An unbounded Array is standard normal too.
    y = np.asarray(specs.Array((_N,), jnp.float32).sample(jax.random.key(1)))
    assert abs(y.mean()) < 0.1
    assert abs(y.var() - 1.0) < 0.15


def test_sample_int_is_uniform_inclusive():
    # Rows: the full int8 range (raw bits), a range touching the dtype's top (shifted randint),
    # and an ordinary range.
    low = np.array([-128, 120, -2], np.int8)[:, None]
    high = np.array([127, 127, 2], np.int8)[:, None]
    x = np.asarray(specs.BoundedArray((3, _N), jnp.int8, low, high).sample(jax.random.key(7)))
    assert x.dtype == np.int8
    assert np.unique(x[0]).size > 240  # 256 values, 4096 draws: each missing w.p. 1e-7
    for row, lo, hi in ((1, 120, 127), (2, -2, 2)):
        values, counts = np.unique(x[row], return_counts=True)
        np.testing.assert_array_equal(values, np.arange(lo, hi + 1))
        # Each count is Binomial(N, 1/k): std sqrt(N/k) <= 29; 6 sigma.
        expected = _N / (hi - lo + 1)
        assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected)), counts
    top = np.iinfo(np.int32).max
    z = np.asarray(specs.BoundedArray((64,), jnp.int32, top - 1, top).sample(jax.random.key(8)))
    np.testing.assert_array_equal(np.unique(z), [top - 1, top])


def test_sample_discrete_and_bool():
    spec = specs.DiscreteArray(np.array([[2, 5]] * _N))
    x = np.asarray(spec.sample(jax.random.key(0)))
    np.testing.assert_array_equal(np.unique(x[:, 0]), [0, 1])
    np.testing.assert_array_equal(np.unique(x[:, 1]), [0, 1, 2, 3, 4])
    coin = np.asarray(specs.Array((_N,), bool).sample(jax.random.key(1)))
    assert coin.dtype == np.bool_
    assert abs(coin.mean() - 0.5) < 0.05
    fixed = specs.BoundedArray((_N,), bool, [True], True).sample(jax.random.key(2))
    assert bool(jnp.all(fixed))


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8])
def test_sample_unbounded_integer_array_raises(dtype):
    with pytest.raises(ValueError, match="unbounded integer"):
        specs.Array((2,), dtype, name="count").sample(jax.random.key(0))


# ----------------------------------------------------------------------------------------------
# Equality, hashing, replace, pickling, repr, immutability
# ----------------------------------------------------------------------------------------------


def test_equality_and_hash():
    a = specs.BoundedArray((2, 3), jnp.float32, 0.0, [1.0, 1.0, 1.0])
    b = specs.BoundedArray((2, 3), np.float32, np.zeros((2, 3)), 1)
    assert a == b
    assert hash(a) == hash(b)
    assert specs.BoundedArray((), jnp.float32, -0.0, 1) == specs.BoundedArray((), jnp.float32, 0.0, 1)
    assert hash(specs.BoundedArray((), jnp.float32, -0.0, 1)) == hash(specs.BoundedArray((), jnp.float32, 0.0, 1))
    different = [
        a.replace(name="x"),
        a.replace(dtype=jnp.float16),
        a.replace(maximum=2.0),
        specs.BoundedArray((1, 3), jnp.float32, 0.0, 1.0),
        specs.Array((2, 3), jnp.float32),
    ]
    for other in different:
        assert a != other
        assert bool(a == other) is False
    assert len({a, b, *different}) == 1 + len(different)
    assert specs.DiscreteArray(3) == specs.DiscreteArray(np.int64(3))
    assert specs.DiscreteArray(3) != specs.BoundedArray((), jnp.int32, 0, 2)  # class matters
    assert specs.Array((), jnp.float32) != "Array"


def test_replace():
    spec = specs.Array((2,), jnp.float32, name="x")
    assert spec.replace(shape=(3,)) == specs.Array((3,), jnp.float32, name="x")
    box = specs.BoundedArray((2,), jnp.float32, 0.0, 1.0)
    assert box.replace(minimum=-1.0) == specs.BoundedArray((2,), jnp.float32, -1.0, 1.0)
    assert box.replace(shape=(4, 2)).minimum.shape == (4, 2)
    discrete = specs.DiscreteArray(3, name="a")
    assert discrete.replace(num_values=5) == specs.DiscreteArray(5, name="a")
    with pytest.raises(TypeError, match="shape"):
        discrete.replace(shape=(2,))
    with pytest.raises(ValueError, match="minimum"):
        box.replace(minimum=2.0)


@pytest.mark.parametrize("spec", [PLAIN, BOX, MULTI, specs.DiscreteArray(7, jnp.uint8, "d")])
def test_pickle_and_copy_round_trip(spec):
    for clone in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec), copy.copy(spec)):
        assert clone == spec
        assert hash(clone) == hash(spec)
        assert type(clone) is type(spec)
        np.testing.assert_array_equal(getattr(clone, "maximum", 0), getattr(spec, "maximum", 0))


def test_repr():
    assert repr(PLAIN) == "Array(shape=(2,), dtype=float32, name='plain')"
    assert repr(BOX) == (
        "BoundedArray(shape=(2, 3), dtype=float32, minimum=-1.0, maximum=[1.0, 2.0, 3.0], name='box')"
    )
    assert repr(MULTI) == "DiscreteArray(num_values=[2, 3, 4], dtype=int32, name='multi')"
    assert repr(specs.DiscreteArray(4)) == "DiscreteArray(num_values=4, dtype=int32, name='')"


@pytest.mark.parametrize("attr", ["name", "shape", "dtype", "_shape", "_min", "new_attribute"])
def test_immutable(attr):
    with pytest.raises(AttributeError):
        setattr(BOX, attr, 1)
    with pytest.raises(AttributeError):
        delattr(BOX, "_name")


# ----------------------------------------------------------------------------------------------
# reshape_spec on primitives
# ----------------------------------------------------------------------------------------------


def test_reshape_primitives():
    assert specs.reshape_spec(PLAIN, (4,), (5,)) == specs.Array((4, 2, 5), jnp.float32, name="plain")
    reshaped = specs.reshape_spec(BOX, prepend=(4,), append=(2,))
    assert reshaped.shape == (4, 2, 3, 2)
    assert reshaped.name == "box"
    np.testing.assert_array_equal(
        reshaped.maximum, np.broadcast_to(np.array([1.0, 2.0, 3.0])[:, None], (4, 2, 3, 2))
    )
    np.testing.assert_array_equal(reshaped.minimum, -1.0)
    multi = specs.reshape_spec(MULTI, prepend=(2,), append=(1,))
    assert isinstance(multi, specs.DiscreteArray)
    assert multi.shape == (2, 3, 1)
    np.testing.assert_array_equal(multi.num_values[..., 0], [[2, 3, 4], [2, 3, 4]])
    assert specs.reshape_spec(MULTI) == MULTI
    with pytest.raises(ValueError, match="prepend"):
        specs.reshape_spec(PLAIN, prepend=(-1,))
    with pytest.raises(TypeError, match="append"):
        specs.reshape_spec(PLAIN, append=3)
    with pytest.raises(TypeError, match="spec"):
        specs.reshape_spec("not a spec", prepend=(1,))


def test_huge_spec_with_constant_bounds_allocates_nothing_of_its_size():
    """``BoundedArray((4096,) * 3, ...)`` compared ``broadcast_to`` copies of its bounds
    (a 64 GiB bool array); the comparison is now on the compact bounds."""
    import tracemalloc

    tracemalloc.start()
    try:
        spec = specs.BoundedArray((4096,) * 3, np.float32, 0.0, 1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # well under a MiB; the full shape would need 64 GiB
    assert spec.shape == (4096,) * 3
    assert spec.minimum.shape == (4096,) * 3  # a broadcast view, not a copy
    assert spec.minimum.strides == (0, 0, 0)
    with pytest.raises(ValueError, match=r"at index \(0, 0, 0\) minimum=.*1\.0.* > maximum=.*0\.0"):
        specs.BoundedArray((4096,) * 3, np.float32, 1.0, 0.0)


def test_min_greater_than_max_reports_an_index_of_the_full_shape():
    with pytest.raises(ValueError, match=r"at index \(0, 3\) minimum=.*5\.0.* > maximum=.*1\.0"):
        specs.BoundedArray((3, 4), np.float32, [0.0, 0.0, 0.0, 5.0], 1.0)
    with pytest.raises(ValueError, match=r"at index \(2, 1\)"):
        specs.BoundedArray((3, 2), np.int32, 0, [[1, 1], [1, 1], [1, -1]])


@pytest.mark.parametrize(("low", "high", "argname"),
                         [(np.inf, np.inf, "minimum"), (-np.inf, -np.inf, "maximum"),
                          ([0.0, np.inf], np.inf, "minimum")])
def test_bounds_admitting_only_an_infinity_are_rejected(low, high, argname):
    """Found by tests/test_fuzz.py: BoundedArray((), float32, inf, inf) sampled a
    standard normal (neither bound finite), a value outside its own bounds."""
    with pytest.raises(ValueError, match=rf"`{argname}` must not be -?inf"):
        specs.BoundedArray((2,), np.float32, low, high)
