"""Array helpers shared by the operators, with rlax 0.1.9's names and numerics.

Public (re-exported by `jit_env.ops`): `one_hot`, `batched_index`, `lhs_broadcast`,
`replace_masked`, `AllSum`.

Private helpers for operator authors (import from ``jit_env.ops._base``):

* `validate(fn, *checks)` — static rank / dtype checks, run at trace time so they fire
  under ``jax.jit``; every offending argument is named. Rank problems raise
  `ValueError`, dtype problems `TypeError`.
* `check_same_shape(fn, (name, value), ...)` — all shapes equal the first one.
* `check_dim(fn, name, value, axis, size, expected_from)` — one dimension has a size.
* `time_vector(fn, name, value, like)` — a scalar-or-``[T]`` parameter (``lambda_``)
  checked against ``like`` and broadcast to its shape.
* `check_lambda(fn, name, value, like)` — the same check, keeping a scalar scalar.
* `maybe_stop_gradient(x, stop)` — ``stop`` may be a Python bool or a traced boolean.
* `stop_td_targets(errors, v_tm1, stop)` — stop gradients through ``errors + v_tm1``.

These look at shapes and dtypes, so they cost nothing at run time; the one value check
is `time_vector` / `check_lambda`'s range check of a λ given as a Python number or NumPy
array (host data, known at trace time), never of a JAX array (it may be traced).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_KINDS = ("float", "int", "bool", "numeric")


def _dtype_of(value: Any) -> np.dtype | type:
    """The dtype of an array / tracer, or the Python type of a Python scalar."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return dtype
    if isinstance(value, (bool, int, float, complex)):
        return type(value)
    return np.asarray(value).dtype


def _kind_ok(dtype: Any, kind: str) -> bool:
    if dtype is bool:
        return kind in ("bool", "numeric")
    if dtype is int:  # A Python int is weakly typed: fine where a float or int is expected.
        return kind in ("int", "float", "numeric")
    if dtype is float:
        return kind in ("float", "numeric")
    if dtype is complex:
        return kind == "numeric"
    if kind == "float":
        return bool(jnp.issubdtype(dtype, jnp.floating))
    if kind == "int":
        return bool(jnp.issubdtype(dtype, jnp.integer))
    if kind == "bool":
        return bool(jnp.issubdtype(dtype, jnp.bool_))
    return bool(jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_))


_KIND_WORDS = {
    "float": "a floating dtype",
    "int": "an integer dtype",
    "bool": "a boolean dtype",
    "numeric": "a numeric dtype",
}


def validate(
    fn: str, *checks: tuple[str, Any, int | Sequence[int] | None, str | None]
) -> None:
    """Checks ranks and dtype kinds of named arguments; raises naming each offender.

    Args:
      fn: name of the calling operator, used as the message prefix.
      *checks: ``(name, value, rank, kind)``; ``rank`` is an int, a collection of allowed
        ints, or None (unchecked); ``kind`` is ``"float"``, ``"int"``, ``"bool"``,
        ``"numeric"`` or None (unchecked).

    Raises:
      ValueError: if any rank is wrong (all rank problems are listed).
      TypeError: if no rank is wrong but a dtype is of the wrong kind (all listed).
    """
    rank_errors: list[str] = []
    type_errors: list[str] = []
    for name, value, rank, kind in checks:
        ndim = np.ndim(value)
        if rank is not None:
            allowed = (rank,) if isinstance(rank, int) else tuple(sorted(rank))
            if ndim not in allowed:
                want = f"rank {allowed[0]}" if len(allowed) == 1 else f"rank in {allowed}"
                rank_errors.append(
                    f"`{name}` has rank {ndim} (shape {tuple(np.shape(value))}), expected {want}"
                )
        if kind is not None:
            if kind not in _KINDS:
                raise ValueError(f"validate: unknown kind {kind!r}, expected one of {_KINDS}")
            dtype = _dtype_of(value)
            if not _kind_ok(dtype, kind):
                shown = getattr(dtype, "__name__", None) if isinstance(dtype, type) else None
                type_errors.append(
                    f"`{name}` has dtype {shown or dtype}, expected {_KIND_WORDS[kind]}"
                )
    if rank_errors:
        raise ValueError(f"{fn}: " + "; ".join(rank_errors))
    if type_errors:
        raise TypeError(f"{fn}: " + "; ".join(type_errors))


def check_same_shape(fn: str, *named: tuple[str, Any]) -> None:
    """Raises ValueError listing every ``(name, value)`` whose shape differs from the first.

    Raises:
      ValueError: naming each argument whose shape is not that of ``named[0]``.
    """
    if not named:
        return
    ref_name, ref = named[0]
    ref_shape = tuple(np.shape(ref))
    errors = [
        f"`{name}` has shape {tuple(np.shape(value))}, expected {ref_shape} to match `{ref_name}`"
        for name, value in named[1:]
        if tuple(np.shape(value)) != ref_shape
    ]
    if errors:
        raise ValueError(f"{fn}: " + "; ".join(errors))


def check_dim(fn: str, name: str, value: Any, axis: int, size: int, expected_from: str) -> None:
    """Raises ValueError if ``value.shape[axis] != size``.

    Args:
      fn: calling operator's name.
      name: the argument's name.
      value: the argument.
      axis: the axis to check.
      size: the expected size.
      expected_from: a phrase saying where ``size`` comes from (e.g. "`r_t`'s length").

    Raises:
      ValueError: if the sizes differ.
    """
    shape = tuple(np.shape(value))
    if shape[axis] != size:
        raise ValueError(
            f"{fn}: `{name}` has shape {shape}: dimension {axis} is {shape[axis]}, "
            f"expected {size} ({expected_from})"
        )


def _check_unit_interval(fn: str, name: str, value: Any) -> None:
    """Raises `ValueError` if a host (Python / NumPy) ``value`` has an entry outside
    ``[0, 1]`` or NaN: a λ of 2, ``inf`` or NaN gives returns that are numbers, and
    silently wrong. JAX arrays are not checked (they may be traced)."""
    if isinstance(value, (jax.Array, jax.core.Tracer, bool, np.bool_)):
        return
    if not isinstance(value, (int, float, np.number, np.ndarray)):
        return
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        return
    bad = ~((array >= 0) & (array <= 1))
    if np.any(bad):
        first = array.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
        raise ValueError(
            f"{fn}: `{name}` must lie in [0, 1], got {first.item()!r}"
            + (f" (of shape {array.shape})" if array.ndim else "")
        )


def time_vector(fn: str, name: str, value: Any, like: jax.Array) -> jax.Array:
    """Broadcasts a scalar-or-``[T]`` parameter to the shape and dtype of ``like`` ([T]).

    Raises:
      ValueError: if ``value`` is neither a scalar nor of ``like``'s shape, or is a host
        number / array with an entry outside ``[0, 1]`` or NaN (λ's range).
    """
    if np.ndim(value) != 0 and tuple(np.shape(value)) != tuple(np.shape(like)):
        raise ValueError(
            f"{fn}: `{name}` has shape {tuple(np.shape(value))}, expected a scalar or "
            f"{tuple(np.shape(like))}"
        )
    _check_unit_interval(fn, name, value)
    return jnp.broadcast_to(jnp.asarray(value, dtype=like.dtype), like.shape)


def check_lambda(fn: str, name: str, value: Any, like: jax.Array) -> jax.Array:
    """A scalar-or-``[T]`` parameter as an array in ``like``'s dtype, NOT broadcast.

    Keeping a scalar λ scalar lets the recursions close over it instead of scanning a
    ``[T]`` array of copies (measurably faster on CPU).

    Raises:
      ValueError: as `time_vector`.
    """
    if np.ndim(value) != 0 and tuple(np.shape(value)) != tuple(np.shape(like)):
        raise ValueError(
            f"{fn}: `{name}` has shape {tuple(np.shape(value))}, expected a scalar or "
            f"{tuple(np.shape(like))}"
        )
    _check_unit_interval(fn, name, value)
    return jnp.asarray(value, dtype=like.dtype)


def maybe_stop_gradient(x: Any, stop: bool | jax.Array) -> Any:
    """Returns ``stop_gradient(x)`` if ``stop`` (Python bool or traced boolean) else ``x``."""
    if isinstance(stop, (bool, np.bool_)):
        return jax.lax.stop_gradient(x) if stop else x
    return jax.tree.map(lambda a: jax.lax.select(stop, jax.lax.stop_gradient(a), a), x)


def stop_td_targets(errors: jax.Array, v_tm1: jax.Array, stop: bool | jax.Array) -> jax.Array:
    """``stop_gradient(errors + v_tm1) − v_tm1`` if ``stop`` else ``errors``.

    Gradients of the result then reach ``v_tm1`` only through ``−v_tm1`` (rlax's way of
    stopping target gradients in V-trace-style errors).
    """
    if isinstance(stop, (bool, np.bool_)):
        return jax.lax.stop_gradient(errors + v_tm1) - v_tm1 if stop else errors
    return jax.lax.select(stop, jax.lax.stop_gradient(errors + v_tm1) - v_tm1, errors)


# ----------------------------------------------------------------------------
# Public helpers (rlax 0.1.9 `rlax._src.base`).
# ----------------------------------------------------------------------------


def one_hot(indices: jax.Array, num_classes: int, dtype: Any = jnp.float32) -> jax.Array:
    """One-hot encodes integer indices along a new last axis.

    Matches rlax 0.1.9 ``rlax.one_hot``: an index outside ``[0, num_classes)`` gives a
    row of zeros.

    Args:
      indices: integer array, any shape ``[...]``.
      num_classes: number of classes ``N`` (a Python int).
      dtype: dtype of the output, default ``float32``.

    Returns:
      Array of shape ``[..., N]`` and dtype ``dtype``.

    Raises:
      TypeError: if ``indices`` is not an integer array.
      ValueError: if ``num_classes`` is not a non-negative int.
    """
    validate("one_hot", ("indices", indices, None, "int"))
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ValueError(f"one_hot: `num_classes` must be a non-negative int, got {num_classes!r}")
    indices = jnp.asarray(indices)
    classes = jnp.arange(num_classes, dtype=indices.dtype).reshape((1,) * indices.ndim + (-1,))
    return (indices[..., None] == classes).astype(dtype)


def batched_index(values: jax.Array, indices: jax.Array, keepdims: bool = False) -> jax.Array:
    """Picks ``values[..., indices[...]]`` along the last axis, keeping the leading axes.

    Matches rlax 0.1.9 ``rlax.batched_index`` (``take_along_axis`` semantics: negative
    indices count from the end; out-of-range indices give NaN for floating ``values``).

    Args:
      values: array of shape ``[..., D]``.
      indices: integer array of shape ``[...]`` (the leading shape of ``values``).
      keepdims: keep the indexed axis with size 1.

    Returns:
      Array of shape ``[...]`` (or ``[..., 1]`` with ``keepdims``), dtype of ``values``.

    Raises:
      ValueError: if ``values`` is a scalar or ``indices.shape != values.shape[:-1]``.
      TypeError: if ``indices`` is not an integer array.
    """
    validate("batched_index", ("indices", indices, None, "int"))
    if np.ndim(values) < 1:
        raise ValueError("batched_index: `values` has rank 0, expected rank >= 1")
    if tuple(np.shape(indices)) != tuple(np.shape(values))[:-1]:
        raise ValueError(
            f"batched_index: `indices` has shape {tuple(np.shape(indices))}, expected "
            f"{tuple(np.shape(values))[:-1]} (the leading shape of `values`)"
        )
    picked = jnp.take_along_axis(jnp.asarray(values), jnp.asarray(indices)[..., None], axis=-1)
    return picked if keepdims else jnp.squeeze(picked, axis=-1)


def lhs_broadcast(source: jax.Array, target: jax.Array) -> jax.Array:
    """Reshapes ``source`` so that it broadcasts against ``target`` from the left.

    Appends ``target.ndim - source.ndim`` unit axes. Each axis of ``source`` must equal the
    corresponding leading axis of ``target`` or be 1. Matches rlax 0.1.9 ``rlax.lhs_broadcast``.

    Args:
      source: array of shape ``[d_1, ..., d_k]``.
      target: array of shape ``[d_1, ..., d_k, ...]`` (rank >= k).

    Returns:
      ``source`` reshaped to ``[d_1, ..., d_k, 1, ..., 1]`` (rank of ``target``).

    Raises:
      ValueError: if the shapes are incompatible.
    """
    s_shape, t_shape = tuple(np.shape(source)), tuple(np.shape(target))
    ok = len(s_shape) <= len(t_shape) and all(
        s in (1, t) for s, t in zip(s_shape, t_shape[: len(s_shape)])
    )
    if not ok:
        raise ValueError(
            f"lhs_broadcast: `source` shape {s_shape} is not compatible with `target` "
            f"shape {t_shape}"
        )
    return jnp.reshape(jnp.asarray(source), s_shape + (1,) * (len(t_shape) - len(s_shape)))


def replace_masked(data: jax.Array, replacement: jax.Array | None, mask: jax.Array) -> jax.Array:
    """Replaces the slices of ``data`` where ``mask`` is nonzero.

    Matches rlax 0.1.9 ``rlax.replace_masked``.

    Args:
      data: array of shape ``[d_1, ..., d_k, ...]``.
      replacement: array of ``data``'s shape, or None to replace with zeros.
      mask: 0/1 (or boolean) array whose shape is a prefix of ``data``'s shape.

    Returns:
      ``where(mask, replacement, data)`` with ``mask`` broadcast from the left.

    Raises:
      ValueError: if ``mask``'s shape is not a prefix of ``data``'s, or ``replacement``'s
        shape differs from ``data``'s.
    """
    if replacement is None:
        replacement = jnp.zeros_like(data)
    check_same_shape("replace_masked", ("data", data), ("replacement", replacement))
    return jnp.where(lhs_broadcast(mask, data), replacement, data)


class AllSum:
    """Sums over array axes locally, then over a named mapped axis (devices / vmap).

    Matches rlax 0.1.9 ``rlax.AllSum``: ``AllSum(axis_name)(x, axis=None)`` is
    ``jnp.sum(x, axis)`` followed by ``jax.lax.psum`` over ``axis_name`` when given.

    Args:
      axis_name: name of a ``pmap``/``vmap``/``shard_map`` axis, or None for a local sum.
    """

    def __init__(self, axis_name: str | None = None):
        self._axis_name = axis_name

    def __call__(self, x: jax.Array, axis: int | Sequence[int] | None = None) -> jax.Array:
        """Sums ``x`` over ``axis`` (all axes if None), then over ``axis_name``."""
        total = jnp.sum(x, axis=axis)
        if self._axis_name:
            total = jax.lax.psum(total, axis_name=self._axis_name)
        return total
