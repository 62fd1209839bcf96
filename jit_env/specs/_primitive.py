"""Leaf specs: `Array`, `BoundedArray` and `DiscreteArray`.

Bounds are stored as read-only NumPy arrays of the spec's dtype (never device
arrays), in a canonical compact form (an axis along which a bound is constant
is kept with size 1), so that equal specs compare and hash equal whatever
broadcasting the caller used, and reshaping a spec never materialises its
bounds. The public ``minimum`` / ``maximum`` / ``num_values`` properties are
broadcast (zero-copy) to the spec's full shape.

Sampling follows gymnasium 1.x ``Box.sample`` for floats: uniform on
``[minimum, maximum]`` where both bounds are finite, ``minimum +
Exponential(1)`` where only the lower bound is finite, ``maximum -
Exponential(1)`` where only the upper bound is finite, and a standard normal
where neither is. Integers are uniform on the inclusive range, booleans
Bernoulli(0.5).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.specs._base import PrimitiveSpec, _BoundCheck, _Report

_ArrayT = TypeVar("_ArrayT", bound="Array")


def _is_float(dtype: np.dtype) -> bool:
    return bool(jax.dtypes.issubdtype(dtype, np.floating))


def _is_int(dtype: np.dtype) -> bool:
    return bool(jax.dtypes.issubdtype(dtype, np.integer))


def _is_bool(dtype: np.dtype) -> bool:
    return dtype == np.bool_


def _format_bound(compact: np.ndarray) -> str:
    """One-line repr of a compact bound: leading size-1 axes dropped."""
    while compact.ndim and compact.shape[0] == 1:
        compact = compact[0]
    return repr(compact.tolist())


class Array(PrimitiveSpec[jax.Array]):
    """Describes an array of a fixed shape and dtype (no bounds).

    Args:
      shape: sequence of non-negative ints (an int ``n`` means ``(n,)``).
      dtype: a numeric or boolean dtype, normalised to a ``numpy.dtype``.
      name: the spec's name.

    Raises:
      TypeError: non-integer `shape` entries or a non-numeric `dtype`.
      ValueError: negative `shape` entries.

    Matches jit_env 0.1.5 ``specs.Array`` (itself dm_env's ``specs.Array``),
    with ``sample``: a standard normal for floating (and complex) dtypes,
    Bernoulli(0.5) for ``bool``; integer arrays have no natural distribution
    without bounds, so `sample` raises ``ValueError`` for them.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"

    def _identity(self) -> tuple:
        return (self.shape, self.dtype, self.name)

    def _constructor_kwargs(self) -> dict[str, Any]:
        return {"shape": self.shape, "dtype": self.dtype, "name": self.name}

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), self._constructor_kwargs()))

    def replace(self: _ArrayT, **kwargs: Any) -> _ArrayT:
        """A copy with the given constructor arguments replaced.

        Raises:
          TypeError: if a keyword is not a constructor argument of this class.
        """
        current = self._constructor_kwargs()
        unknown = sorted(set(kwargs) - set(current))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.replace got unknown argument(s) {unknown}; "
                f"valid: {sorted(current)}"
            )
        return type(self)(**{**current, **kwargs})

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Array:
        return self.replace(shape=(*prepend, *self.shape, *append))

    def _check(self, value: Any, path: str, batch: tuple[int, ...], report: _Report) -> None:
        self._check_leaf(value, path, batch, report)

    def generate_value(self) -> jax.Array:
        """Zeros of ``shape`` and ``dtype`` (jit_env 0.1.5 behaviour)."""
        # Built in NumPy and transferred: nothing to compile per shape when called eagerly.
        return jax.device_put(np.zeros(self.shape, self.dtype))

    def sample(self, key: jax.Array) -> jax.Array:
        """Standard normal (floating / complex) or Bernoulli(0.5) (bool) entries.

        Args:
          key: a typed PRNG key of any implementation, or a legacy
            ``uint32[2]`` key.

        Returns:
          an array of ``shape`` and ``dtype``.

        Raises:
          ValueError: for integer dtypes (unbounded integers have no uniform
            distribution: use `BoundedArray` or `DiscreteArray`).
        """
        if _is_bool(self.dtype):
            return jax.random.bernoulli(key, 0.5, self.shape)
        if _is_int(self.dtype):
            raise ValueError(
                f"cannot sample from unbounded integer {type(self).__name__} {self.name!r} "
                f"(dtype {self.dtype}): use BoundedArray or DiscreteArray"
            )
        return jax.random.normal(key, self.shape, self.dtype)


def _rebuild(cls: type, kwargs: dict[str, Any]) -> Any:
    return cls(**kwargs)


def _to_numpy(value: Any, argname: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise TypeError(
            f"`{argname}` must be concrete (a NumPy array or number), got a traced value"
        ) from None
    if not (array.dtype == np.bool_ or jax.dtypes.issubdtype(array.dtype, np.number)):
        raise TypeError(f"`{argname}` must be numeric, got {array.dtype} {value!r}")
    return array


def _compact(array: np.ndarray) -> np.ndarray:
    """Canonical form: every axis along which `array` is constant has size 1."""
    for axis in range(array.ndim):
        if array.shape[axis] > 1:
            first = array.take([0], axis=axis)
            if np.array_equal(array, np.broadcast_to(first, array.shape)):
                array = first
    array = np.array(array)  # own, contiguous copy.
    if _is_float(array.dtype):
        array[array == 0] = 0  # -0.0 and 0.0 compare equal, so they must hash equal.
    array.flags.writeable = False
    return array


def _bound(value: Any, argname: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Converts a bound to the compact canonical form of rank ``len(shape)``.

    Raises ValueError if the bound is NaN, not broadcastable to `shape`, or not
    exactly representable in `dtype` (fractional / out-of-range / infinite for
    integers, overflowing to infinity for floats).
    """
    raw = _to_numpy(value, argname)
    try:
        broadcast_ok = np.broadcast_shapes(raw.shape, shape) == shape
    except ValueError:
        broadcast_ok = False
    if not broadcast_ok:
        raise ValueError(
            f"`{argname}` with shape {raw.shape} is not broadcastable to `shape` {shape}: "
            f"{argname}={raw!r}"
        )
    if raw.dtype != np.bool_ and np.any(np.isnan(raw.astype(np.float64, copy=False))):
        raise ValueError(f"`{argname}` must not contain NaN, got {raw!r}")
    if _is_int(dtype) or _is_bool(dtype):
        info = (0, 1) if _is_bool(dtype) else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        as_float = raw.astype(np.float64, copy=False)
        if raw.dtype.kind == "f" and (
            not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float))
        ):
            raise ValueError(
                f"`{argname}` must hold integers for dtype {dtype}, got {raw!r}"
            )
        if raw.size and (
            int(np.min(raw.astype(object))) < info[0] or int(np.max(raw.astype(object))) > info[1]
        ):
            raise ValueError(
                f"`{argname}` must lie in [{info[0]}, {info[1]}] for dtype {dtype}, got {raw!r}"
            )
        converted = raw.astype(dtype)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            converted = raw.astype(dtype)
        overflow = np.isfinite(raw.astype(np.float64)) & ~np.isfinite(
            converted.astype(np.float64)
        )
        if np.any(overflow):
            raise ValueError(
                f"`{argname}` overflows dtype {dtype} (finite values become infinite): {raw!r}"
            )
    converted = converted.reshape((1,) * (len(shape) - converted.ndim) + converted.shape)
    return _compact(converted)


class BoundedArray(Array):
    """Describes an array whose entries lie in ``[minimum, maximum]`` (inclusive).

    Args:
      shape: sequence of non-negative ints.
      dtype: a real numeric or boolean dtype.
      minimum: lower bound(s), a number or array broadcastable to `shape`;
        ``-inf`` allowed for floating dtypes.
      maximum: upper bound(s), broadcastable to `shape`; ``+inf`` allowed for
        floating dtypes.
      name: the spec's name.

    Raises:
      TypeError: bad `shape` entries, a non-real `dtype` (complex or not
        numeric), non-numeric or traced bounds.
      ValueError: negative `shape` entries; a bound not broadcastable to
        `shape`, NaN, not representable in `dtype` (fractional or infinite
        for integers, overflowing for floats); ``minimum = +inf`` or
        ``maximum = -inf`` anywhere; ``minimum > maximum`` anywhere. Each
        message names the argument and its value.

    Matches jit_env 0.1.5 / dm_env ``BoundedArray``. ``sample`` follows
    gymnasium 1.x ``Box.sample`` (see the module docstring) and
    ``generate_value`` returns the minima (jit_env 0.1.5 behaviour).
    """

    __slots__ = ("_min", "_max")
    _min: np.ndarray
    _max: np.ndarray

    def __init__(
        self,
        shape: int | Sequence[int],
        dtype: Any,
        minimum: Any,
        maximum: Any,
        name: str = "",
    ):
        super().__init__(shape, dtype, name)
        if jax.dtypes.issubdtype(self.dtype, np.complexfloating):
            raise TypeError(f"`dtype` of a {type(self).__name__} must be real, got {self.dtype}")
        low = _bound(minimum, "minimum", self.shape, self.dtype)
        high = _bound(maximum, "maximum", self.shape, self.dtype)
        for bound, argname, side in ((low, "minimum", np.inf), (high, "maximum", -np.inf)):
            if _is_float(self.dtype) and np.any(bound == side):
                raise ValueError(
                    f"`{argname}` must not be {side} (the only value it would admit is "
                    f"{side}, which `sample` cannot draw), got {_format_bound(bound)}"
                )
        # Compared in the compact forms (never at the full shape: a constant bound on a
        # (4096,) * 3 spec must not allocate 64 GiB); an index into the compact result is
        # an index into the full shape where the compact axis has size 1 (entry 0).
        bad = low > high
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"`minimum` must be <= `maximum` everywhere, but at index {index} "
                f"minimum={np.broadcast_to(low, bad.shape)[index]!r} > "
                f"maximum={np.broadcast_to(high, bad.shape)[index]!r} "
                f"(minimum={_format_bound(low)}, maximum={_format_bound(high)})"
            )
        object.__setattr__(self, "_min", low)
        object.__setattr__(self, "_max", high)

    @property
    def minimum(self) -> np.ndarray:
        """Lower bounds, a read-only NumPy array of ``shape`` and ``dtype``."""
        return np.broadcast_to(self._min, self.shape)

    @property
    def maximum(self) -> np.ndarray:
        """Upper bounds, a read-only NumPy array of ``shape`` and ``dtype``."""
        return np.broadcast_to(self._max, self.shape)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, "
            f"minimum={_format_bound(self._min)}, "
            f"maximum={_format_bound(self._max)}, name={self.name!r})"
        )

    def _identity(self) -> tuple:
        return (
            self.shape,
            self.dtype,
            (self._min.shape, self._min.tobytes()),
            (self._max.shape, self._max.tobytes()),
            self.name,
        )

    def _constructor_kwargs(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "dtype": self.dtype,
            "minimum": self._min,
            "maximum": self._max,
            "name": self.name,
        }

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> BoundedArray:
        def grow(bound: np.ndarray) -> np.ndarray:
            return bound.reshape((1,) * len(prepend) + bound.shape + (1,) * len(append))

        return self.replace(
            shape=(*prepend, *self.shape, *append),
            minimum=grow(self._min),
            maximum=grow(self._max),
        )

    def _covers_dtype(self) -> bool:
        """Whether the bounds admit every value of an integer / bool dtype."""
        if _is_bool(self.dtype):
            return bool(np.all(~self._min) and np.all(self._max))
        if _is_int(self.dtype):
            info = np.iinfo(self.dtype)
            return bool(np.all(self._min == info.min) and np.all(self._max == info.max))
        return False  # floats: keep the check, it rejects NaN.

    def _check(self, value: Any, path: str, batch: tuple[int, ...], report: _Report) -> None:
        array = self._check_leaf(value, path, batch, report)
        if array is None or self._covers_dtype():
            return
        lead = (1,) * len(batch)
        report.bound_checks.append(
            _BoundCheck(
                path, self, array, self._min.reshape(lead + self._min.shape),
                self._max.reshape(lead + self._max.shape),
            )
        )

    def generate_value(self) -> jax.Array:
        """The minima, an array of ``shape`` and ``dtype`` (jit_env 0.1.5 behaviour)."""
        return jax.device_put(np.array(np.broadcast_to(self._min, self.shape)))

    def sample(self, key: jax.Array) -> jax.Array:
        """A random array in ``[minimum, maximum]`` (see the module docstring).

        Floats: uniform where both bounds are finite (``jax.random.uniform``;
        if ``maximum - minimum`` overflows, the convex combination
        ``minimum * (1 - u) + maximum * u`` clipped to the bounds), exponential
        tails where one bound is infinite, standard normal where both are.
        Integers: uniform over the inclusive range (``jax.random.randint``,
        with the full-range case drawn from raw bits). Booleans:
        Bernoulli(0.5) where ``minimum < maximum``, else the bound.

        Args:
          key: a typed PRNG key of any implementation or a legacy
            ``uint32[2]`` key.

        Returns:
          an array of ``shape`` and ``dtype``.
        """
        low = np.broadcast_to(self._min, self.shape)
        high = np.broadcast_to(self._max, self.shape)
        if _is_bool(self.dtype):
            coin = jax.random.bernoulli(key, 0.5, self.shape)
            if np.any(low == high):
                coin = jnp.where(low == high, low, coin)
            return coin
        if _is_int(self.dtype):
            return _sample_int(key, low, high, self.dtype)
        return _sample_float(key, low, high, self.dtype)


# Sampling: the case analysis on the (static, NumPy) bounds happens in Python; the random draws
# run in one jitted kernel per (shape, dtype, cases) so that an eager `sample` is one dispatch and
# one compilation (inlined when `sample` is itself traced under jit / vmap).

_UNIFORM, _LOWER, _UPPER, _NORMAL = 0, 1, 2, 3


@functools.partial(jax.jit, static_argnames=("needed", "wide"))
def _float_kernel(
    key: jax.Array, low: Any, high: Any, case: Any, needed: tuple[int, ...], wide: bool
) -> jax.Array:
    shape, dtype = low.shape, low.dtype
    keys = [key] if len(needed) == 1 else list(jax.random.split(key, len(needed)))
    result = None
    for code, sub in zip(needed, keys):
        if code == _UNIFORM and not wide:
            draw = jax.random.uniform(sub, shape, dtype, low, high)
        elif code == _UNIFORM:  # high - low overflows; the convex combination cannot.
            u = jax.random.uniform(sub, shape, dtype)
            draw = jnp.clip(low * (1 - u) + high * u, low, high)
        elif code == _LOWER:
            draw = low + jax.random.exponential(sub, shape, dtype)
        elif code == _UPPER:
            draw = high - jax.random.exponential(sub, shape, dtype)
        else:
            draw = jax.random.normal(sub, shape, dtype)
        result = draw if result is None else jnp.where(case == code, draw, result)
    assert result is not None  # `needed` is never empty
    return result


def _sample_float(
    key: jax.Array, low: np.ndarray, high: np.ndarray, dtype: np.dtype
) -> jax.Array:
    finite_low, finite_high = np.isfinite(low), np.isfinite(high)
    case = np.select(
        [finite_low & finite_high, finite_low, finite_high], [_UNIFORM, _LOWER, _UPPER], _NORMAL
    ).astype(np.int8)
    needed = tuple(int(c) for c in np.unique(case))
    if not needed:  # empty shape.
        return jnp.zeros(low.shape, dtype)
    low = np.where(finite_low, low, 0).astype(dtype)
    high = np.where(finite_high, high, 0).astype(dtype)
    with np.errstate(over="ignore"):
        wide = bool(np.any(~np.isfinite(high - low)))
    # NumPy arguments go straight to the kernel (jnp.asarray would compile a copy per shape).
    return _float_kernel(key, low, high, case, needed=needed, wide=wide)


@functools.partial(jax.jit, static_argnames=("any_shifted", "any_full"))
def _int_kernel(
    key: jax.Array,
    minval: Any,
    maxval: Any,
    shifted: Any,
    full: Any,
    any_shifted: bool,
    any_full: bool,
) -> jax.Array:
    shape, dtype = minval.shape, minval.dtype
    if any_full:
        key, bits_key = jax.random.split(key)
    result = jax.random.randint(key, shape, minval, maxval, dtype)
    if any_shifted:
        result = result + shifted.astype(dtype)
    if any_full:
        unsigned = np.dtype(f"uint{8 * np.dtype(dtype).itemsize}")
        bits = jax.lax.bitcast_convert_type(jax.random.bits(bits_key, shape, unsigned), dtype)
        result = jnp.where(full, bits, result)
    return result


def _sample_int(
    key: jax.Array, low: np.ndarray, high: np.ndarray, dtype: np.dtype
) -> jax.Array:
    info = np.iinfo(dtype)
    lo, hi = low.astype(object), high.astype(object)
    at_top = high == info.max
    full = at_top & (low == info.min)
    shifted = at_top & ~full
    # randint draws from [minval, maxval); `maxval = maximum + 1` overflows at
    # the dtype's top, so those entries draw from [minimum - 1, maximum) + 1;
    # entries spanning the whole dtype are raw bits.
    minval = np.where(full, 0, np.where(shifted, lo - 1, lo)).astype(dtype)
    maxval = np.where(full, 1, np.where(shifted, hi, hi + 1)).astype(dtype)
    return _int_kernel(
        key,
        minval,
        maxval,
        shifted,
        full,
        any_shifted=bool(np.any(shifted)),
        any_full=bool(np.any(full)),
    )


class DiscreteArray(BoundedArray):
    """Describes integer arrays with entries in ``[0, num_values - 1]``.

    ``num_values`` may be an int (a scalar spec, e.g. the action of a
    discrete-action environment) or an array of ints (multi-discrete, as
    gymnasium's ``MultiDiscrete``); the spec's shape is ``num_values``'s shape.
    Integrality of a value is checked through its (integer) dtype.

    Args:
      num_values: positive int or array of positive ints.
      dtype: an integer dtype (default ``int32``); ``bool`` is not allowed.
      name: the spec's name.

    Raises:
      ValueError: a non-integer `dtype`; non-integer, non-positive or (for
        `dtype`) too large `num_values`. Messages name the argument and value.

    Matches jit_env 0.1.5 ``specs.DiscreteArray`` (minimum 0, maximum
    ``num_values - 1``); ``sample`` is uniform over the values (as
    gymnasium's ``Discrete`` / ``MultiDiscrete``).
    """

    __slots__ = ()

    def __init__(self, num_values: Any, dtype: Any = jnp.int32, name: str = ""):
        try:
            normalised = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"`dtype` must be an integer dtype, got {dtype!r}") from None
        if not _is_int(normalised):
            raise ValueError(f"`dtype` must be an integer dtype, got {normalised}")
        try:
            values = np.asarray(num_values)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            raise TypeError("`num_values` must be concrete, got a traced value") from None
        if values.dtype.kind not in "iu":
            raise ValueError(
                f"`num_values` must hold integers, got dtype {values.dtype}: {num_values!r}"
            )
        if values.size and np.min(values) <= 0:
            raise ValueError(f"`num_values` must be positive, got {num_values!r}")
        top = int(np.iinfo(jax.dtypes.canonicalize_dtype(normalised)).max) + 1
        if values.size and int(np.max(values.astype(object))) > top:
            raise ValueError(
                f"`num_values` must be <= {top} for dtype {normalised}, got {num_values!r}"
            )
        super().__init__(
            shape=values.shape,
            dtype=normalised,
            minimum=0,
            maximum=values.astype(np.int64) - 1,
            name=name,
        )

    @property
    def num_values(self) -> np.ndarray:
        """Number of values per entry: read-only ``int64`` NumPy array of ``shape``."""
        return np.broadcast_to(self._max.astype(np.int64) + 1, self.shape)

    def __repr__(self) -> str:
        values = repr(self.num_values.tolist())
        return f"{type(self).__name__}(num_values={values}, dtype={self.dtype}, name={self.name!r})"

    def _constructor_kwargs(self) -> dict[str, Any]:
        return {"num_values": np.array(self.num_values), "dtype": self.dtype, "name": self.name}

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> DiscreteArray:
        compact = self._max.astype(np.int64) + 1
        grown = compact.reshape((1,) * len(prepend) + compact.shape + (1,) * len(append))
        new_shape = (*prepend, *self.shape, *append)
        return self.replace(num_values=np.array(np.broadcast_to(grown, new_shape)))

    def sample(self, key: jax.Array) -> jax.Array:
        """Uniform integers in ``[0, num_values - 1]`` (``jax.random.randint``).

        Args:
          key: a typed PRNG key of any implementation or a legacy key.

        Returns:
          an array of ``shape`` and ``dtype``.
        """
        return _sample_int(key, self.minimum, self.maximum, self.dtype)
