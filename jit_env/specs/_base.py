"""The spec base classes and the checking machinery shared by every spec.

A spec is immutable, hashable, picklable static metadata describing a pytree
of arrays. Every spec answers four questions about a value:

* ``contains(value)`` -> ``bool[]`` array; jittable and vmappable, never raises.
* ``validate(value)`` -> ``value``; raises ``ValueError`` on a mismatch.
* ``sample(key)`` -> a random conforming value.
* ``generate_value()`` -> a deterministic conforming value.

Checks are split in two kinds:

* *static* facts (pytree structure, shape, dtype) are decided in plain Python
  from the value's metadata, so they are decided at trace time under
  ``jax.jit`` / ``jax.vmap`` as well;
* *bounds* (``minimum <= value <= maximum``) depend on the data: `contains`
  computes them as a JAX boolean; `validate` raises eagerly on concrete values
  and, on traced values, emits ``jax.experimental.checkify.debug_check`` (a
  no-op unless the caller wraps the function in ``checkify.checkify``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

T = TypeVar("T")

_PYTHON_SCALARS = (bool, int, float, complex)


class _Mismatch(NamedTuple):
    """A static (structure / shape / dtype) mismatch found at `path`."""

    path: str
    spec: Spec
    message: str


class _BoundCheck(NamedTuple):
    """A data-dependent bound check of `value` against `[low, high]`.

    ``low`` / ``high`` are NumPy arrays of the value's dtype with the value's
    rank, broadcastable to ``value.shape``.
    """

    path: str
    spec: Spec
    value: Any
    low: np.ndarray
    high: np.ndarray


class _Report(NamedTuple):
    mismatches: list[_Mismatch]
    bound_checks: list[_BoundCheck]


def _describe(spec: Spec) -> str:
    return f"{type(spec).__name__} {spec.name!r}" if spec.name else f"{type(spec).__name__}"


def _escape(text: str) -> str:
    """Escapes braces so that `text` survives ``str.format`` in checkify."""
    return text.replace("{", "{{").replace("}", "}}")


def as_array_like(value: Any) -> Any | None:
    """Returns `value` as something with ``shape`` and ``dtype``, or ``None``.

    NumPy arrays / scalars and JAX arrays (tracers included) are returned as
    is; Python scalars are converted with ``jnp.asarray`` (so ``1.0`` is
    ``float32`` unless x64 is enabled); anything else (lists, ``None``, dicts)
    gives ``None``.
    """
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return value
    if isinstance(value, _PYTHON_SCALARS):
        try:
            return jnp.asarray(value)
        except (OverflowError, TypeError):
            return None
    return None


def _concrete(x: Any) -> np.ndarray | None:
    """`x` as a NumPy array, or ``None`` when `x` is a tracer (inside jit / vmap / grad)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _within(check: _BoundCheck) -> jax.Array:
    """Elementwise ``low <= value <= high`` with explicit broadcasting (traced values)."""
    value = jnp.asarray(check.value)
    low = jnp.broadcast_to(jnp.asarray(check.low), value.shape)
    high = jnp.broadcast_to(jnp.asarray(check.high), value.shape)
    return (value >= low) & (value <= high)


def _within_numpy(value: np.ndarray, check: _BoundCheck) -> np.ndarray:
    """Elementwise ``low <= value <= high`` in NumPy (concrete values: no compilation)."""
    return (value >= check.low) & (value <= check.high)


class Spec(Generic[T], metaclass=abc.ABCMeta):
    """Base class of every spec: immutable, hashable, picklable metadata.

    Primitive specs (and `Batched`) are pytree leaves; `Tree`, `Tuple` and
    `Dict` are pytree nodes over their child specs (jit_env 0.1.5), so
    ``jax.tree.map(lambda s: s.generate_value(), spec)`` gives the value tree
    ``spec.validate`` accepts. Pass ``is_leaf=lambda x: isinstance(x,
    Spec)`` to treat every spec, composite or not, as one leaf. Specs are not
    JAX types and are never traced: close over them or pass them as static
    arguments.

    Args:
      name: a free-form string naming the described data (used in errors).

    Raises:
      TypeError: if `name` is not a string.

    Matches the ``Spec`` interface of jit_env 0.1.5 (``name``, ``validate``,
    ``generate_value``, ``replace``), extended with ``contains`` and
    ``sample`` (the gymnasium ``Space`` vocabulary).
    """

    __slots__ = ("_name",)
    _name: str

    def __init__(self, name: str = ""):
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str, got {type(name).__name__} {name!r}")
        object.__setattr__(self, "_name", name)

    # --- immutability -------------------------------------------------------------------------
    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {attr!r}")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {attr!r}")

    @property
    def name(self) -> str:
        """The spec's name (``""`` if unnamed)."""
        return self._name

    # --- equality, hashing, pickling -------------------------------------------------------------
    @abc.abstractmethod
    def _identity(self) -> tuple:
        """A hashable tuple that determines equality (class excluded)."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._identity() == other._identity()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self._identity()))

    @abc.abstractmethod
    def __reduce__(self) -> tuple:
        """Pickles through the constructor (the slots are read-only)."""

    # --- checking ---------------------------------------------------------------------------
    def _label(self) -> str:
        return self.name or "value"

    @abc.abstractmethod
    def _check(self, value: Any, path: str, batch: tuple[int, ...], report: _Report) -> None:
        """Appends the static mismatches and bound checks of `value` to `report`.

        Args:
          value: the (sub)value to check.
          path: how the value is reached from the root, e.g. ``"obs['pos'][1]"``.
          batch: leading batch axes (from enclosing `Batched` specs) that the
            value carries before this spec's own shape.
          report: accumulator; must never raise on a bad `value`.
        """

    def _report(self, value: Any) -> _Report:
        report = _Report([], [])
        self._check(value, self._label(), (), report)
        return report

    def contains(self, value: Any) -> jax.Array:
        """Whether `value` conforms to this spec, as a ``bool`` array of shape ``[]``.

        Structure, shape and dtype are compared statically (a mismatch gives
        ``jnp.asarray(False)`` without looking at the data); bounds are
        compared as data, so the function is jittable and vmappable (under
        ``jax.vmap`` the value is checked per batch element). Never raises.

        Concrete values (NumPy arrays, JAX arrays outside a transformation)
        are compared in NumPy, so an eager call compiles nothing; traced
        values are compared with ``jax.numpy``. The two agree except on
        subnormal floats, which XLA on CPU flushes to zero (a value of
        ``-1e-45`` passes ``minimum=0.0`` under ``jit`` but not eagerly).

        Args:
          value: a pytree of arrays (NumPy, JAX, tracers or Python scalars).

        Returns:
          ``bool[]``: ``True`` iff structure, shapes, dtypes and bounds match.
        """
        report = self._report(value)
        if report.mismatches:
            return jnp.asarray(False)
        ok: Any = True
        for check in report.bound_checks:
            concrete = _concrete(check.value)
            if concrete is not None:  # eager: NumPy, nothing to compile.
                ok = ok & bool(np.all(_within_numpy(concrete, check)))
            else:
                ok = ok & jnp.all(_within(check))
        return jnp.asarray(ok)

    def validate(self, value: T) -> T:
        """Checks that `value` conforms to this spec and returns it unchanged.

        Static mismatches (structure, shape, dtype; integrality of a
        `DiscreteArray` through its integer dtype) raise ``ValueError``
        immediately, also at trace time under ``jax.jit`` / ``jax.vmap``.

        Bound violations raise ``ValueError`` when `value` is concrete (eager
        call). When `value` is traced (inside ``jax.jit`` or ``jax.vmap``)
        they are reported through ``jax.experimental.checkify.debug_check``:
        ``checkify.checkify(jax.jit(spec.validate))(x)`` returns an error
        naming the offending entry, and the check is a no-op when the caller
        does not use ``checkify``.

        Args:
          value: a pytree of arrays structured as this spec.

        Returns:
          `value`, unchanged.

        Raises:
          ValueError: naming the spec (class and name), the path inside a
            composite (e.g. ``observation['pos'][1]``) and the expected vs
            actual structure / shape / dtype / bounds.
        """
        report = self._report(value)
        header = f"value does not conform to {_describe(self)}"
        if report.mismatches:
            lines = [
                f"  at {m.path} ({_describe(m.spec)}): {m.message}" for m in report.mismatches
            ]
            raise ValueError("\n".join([header + ":", *lines]))
        for check in report.bound_checks:
            _check_bounds(header, check)
        return value

    # --- abstract API -----------------------------------------------------------------------
    @abc.abstractmethod
    def generate_value(self) -> T:
        """A deterministic value conforming to this spec (zeros or minima)."""

    @abc.abstractmethod
    def sample(self, key: jax.Array) -> T:
        """A random value conforming to this spec.

        Args:
          key: a PRNG key, typed (``jax.random.key(seed, impl=...)``, any
            implementation) or legacy (``uint32[2]`` from
            ``jax.random.PRNGKey``).
        """

    @abc.abstractmethod
    def replace(self, **kwargs: Any) -> Spec:
        """A copy of this spec with constructor arguments replaced."""

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Spec:
        raise NotImplementedError(
            f"Spec of type {type(self).__name__} has no implemented reshape rule"
        )


def validate_checked(spec: Spec, value: Any, header: str) -> Any:
    """`Spec.validate` whose bound checks on traced values are ``checkify.check``
    (not ``debug_check``): under ``jit`` / ``vmap`` / ``scan`` without
    ``checkify.checkify`` they fail at trace time instead of being no-ops.

    Static mismatches raise ``ValueError`` (message starting with ``header``);
    concrete out-of-bounds values raise ``ValueError`` eagerly. Used by
    `jit_env.wrappers.ValidateAction` (private).
    """
    report = spec._report(value)
    if report.mismatches:
        lines = [f"  at {m.path} ({_describe(m.spec)}): {m.message}" for m in report.mismatches]
        raise ValueError("\n".join([header + ":", *lines]))
    for check in report.bound_checks:
        _check_bounds(header, check, strict=True)
    return value


def _check_bounds(header: str, check: _BoundCheck, *, strict: bool = False) -> None:
    """Raises eagerly (concrete value) or emits a checkify check (traced value):
    ``checkify.check`` if ``strict``, else ``checkify.debug_check``."""
    shape = tuple(check.value.shape)
    prefix = f"{header}: at {check.path} ({_describe(check.spec)}), shape {shape}: "
    concrete = _concrete(check.value)
    if concrete is not None:
        within = _within_numpy(concrete, check)
        if np.all(within):
            return
        index = tuple(int(i) for i in np.argwhere(~within)[0])
        low = np.broadcast_to(check.low, within.shape)[index]
        high = np.broadcast_to(check.high, within.shape)[index]
        raise ValueError(
            prefix
            + f"{int(np.sum(~within))} of {within.size} entries out of bounds; first at index "
            f"{index}: {concrete[index].item()!r} not in [{low.item()!r}, {high.item()!r}]"
        )
    traced_within = _within(check)
    flat = traced_within.reshape(-1)
    first = jnp.argmin(flat)  # the first False (0 if all True; unused then).
    (checkify.check if strict else checkify.debug_check)(
        jnp.all(flat),
        _escape(prefix) + "{n_bad} entries out of bounds; first at flat index {first}: "
        "{value} not in [{low}, {high}]",
        n_bad=flat.size - jnp.sum(flat, dtype=jnp.int32),
        first=first,
        value=jnp.asarray(check.value).reshape(-1)[first],
        low=jnp.broadcast_to(jnp.asarray(check.low), traced_within.shape).reshape(-1)[first],
        high=jnp.broadcast_to(jnp.asarray(check.high), traced_within.shape).reshape(-1)[first],
    )


class PrimitiveSpec(Spec[T], metaclass=abc.ABCMeta):
    """A leaf spec: one array of a fixed ``shape`` and ``dtype``.

    Args:
      shape: a sequence of non-negative ints (an int ``n`` means ``(n,)``).
      dtype: anything ``numpy.dtype`` accepts (``jnp.float32``, ``"int8"``,
        ``bool``); normalised to a ``numpy.dtype`` canonicalised for the
        current x64 setting (``float64`` is ``float32`` unless
        ``jax_enable_x64``), as jit_env 0.1.5 does.
      name: the spec's name.

    Raises:
      TypeError: if `shape` holds non-integers or `dtype` is not a numeric or
        boolean dtype.
      ValueError: if `shape` holds negative entries.
    """

    __slots__ = ("_shape", "_dtype")
    _shape: tuple[int, ...]
    _dtype: np.dtype

    def __init__(self, shape: int | Sequence[int], dtype: Any, name: str = ""):
        super().__init__(name)
        object.__setattr__(self, "_shape", _normalise_shape(shape))
        object.__setattr__(self, "_dtype", _normalise_dtype(dtype))

    @property
    def shape(self) -> tuple[int, ...]:
        """The array shape, a tuple of ints."""
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        """The array dtype, a ``numpy.dtype``."""
        return self._dtype

    def _check_leaf(
        self, value: Any, path: str, batch: tuple[int, ...], report: _Report
    ) -> Any:
        """Static checks of one array; returns the array-like or ``None``."""
        array = as_array_like(value)
        if array is None:
            report.mismatches.append(
                _Mismatch(path, self, f"expected an array, got {type(value).__name__}")
            )
            return None
        problems = []
        expected_shape = (*batch, *self.shape)
        if tuple(array.shape) != expected_shape:
            detail = f" (batch {batch} + spec shape {self.shape})" if batch else ""
            problems.append(f"expected shape {expected_shape}{detail}, got {tuple(array.shape)}")
        try:
            same_dtype = bool(np.dtype(array.dtype) == self.dtype)
        except TypeError:  # e.g. PRNG key dtypes.
            same_dtype = False
        if not same_dtype:
            problems.append(f"expected dtype {self.dtype}, got {array.dtype}")
        if problems:
            report.mismatches.append(_Mismatch(path, self, "; ".join(problems)))
            return None
        return array


class CompositeSpec(Spec[T], metaclass=abc.ABCMeta):
    """A spec built from other specs (`Tree`, `Tuple`, `Dict`, `Batched`).

    ``replace`` raises ``RuntimeError`` (as in jit_env 0.1.5): rebuild the
    composite with its constructor instead.
    """

    __slots__ = ()

    @abc.abstractmethod
    def as_spec_struct(self) -> Any:
        """The pytree of child specs this composite describes."""

    def replace(self, **kwargs: Any) -> Spec:
        """Always raises: composites cannot be replaced unambiguously.

        Raises:
          RuntimeError: always (jit_env 0.1.5 behaviour).
        """
        del kwargs
        raise RuntimeError(
            f"{type(self).__name__} specs cannot be unambiguously replaced; "
            "create a new spec with the constructor instead"
        )


def _normalise_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        entries = tuple(shape)
    except TypeError:
        raise TypeError(
            f"`shape` must be a sequence of ints, got {type(shape).__name__} {shape!r}"
        ) from None
    for entry in entries:
        if not isinstance(entry, (int, np.integer)) or isinstance(entry, (bool, np.bool_)):
            raise TypeError(f"`shape` must hold ints, got {shape!r}")
    entries = tuple(int(e) for e in entries)
    if any(e < 0 for e in entries):
        raise ValueError(f"`shape` entries must be non-negative, got {entries}")
    return entries


def _normalise_dtype(dtype: Any) -> np.dtype:
    try:
        normalised = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be a NumPy/JAX dtype, got {dtype!r}") from None
    if not (normalised == np.bool_ or jax.dtypes.issubdtype(normalised, np.number)):
        raise TypeError(f"`dtype` must be a numeric or bool dtype, got {normalised}")
    return np.dtype(jax.dtypes.canonicalize_dtype(normalised))


def is_spec(x: Any) -> bool:
    """``is_leaf`` predicate treating every spec as a pytree leaf."""
    return isinstance(x, Spec)
