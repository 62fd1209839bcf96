"""Conversions between jit_env specs and gymnasium spaces, both directions.

| jit_env spec | gymnasium space |
|---|---|
| ``DiscreteArray(n)`` (scalar) | ``Discrete(n, dtype)`` |
| ``DiscreteArray(num_values=[...])``, all 2, ``int8`` | ``MultiBinary(shape)`` |
| ``DiscreteArray(num_values=[...])`` | ``MultiDiscrete(nvec, dtype)`` |
| ``BoundedArray(shape, dtype, lo, hi)`` | ``Box(lo, hi, shape, dtype)`` |
| ``Array(shape, dtype)`` | ``Box`` over the dtype's whole range |
| ``Tuple`` / ``Dict`` / ``Tree`` of a tuple or dict | ``Tuple`` / ``Dict`` |

An unbounded ``Array`` becomes a ``Box`` over the dtype's real range:
``np.iinfo(dtype)`` for integers, ``np.finfo(dtype).min / max`` for floats
(not ±inf, which gymnasium's ``check_env`` warns about), ``[False, True]``
for booleans. Going back, a ``Box`` whose bounds are the dtype's extremes (or
±inf for floats) on every element is an ``Array``; for a partly bounded float
``Box`` the extremes become ±inf in the ``BoundedArray``. So
``space_to_spec(spec_to_space(s))`` equals ``s`` (shape, dtype, bounds, class)
for every spec these functions accept, except that gymnasium spaces carry no
names and a ``BoundedArray`` unbounded on every element comes back as the
``Array`` it is equivalent to. ``spec_to_space(space_to_spec(x))`` equals
``x`` for every space except: ``Box`` spaces with infinite bounds (they come
back with the dtype's finite extremes); ``Discrete`` / ``MultiDiscrete`` with
``start != 0`` (they come back as a ``Box``); a ``MultiDiscrete`` of ``int8``
twos (comes back as ``MultiBinary``). Without ``jax_enable_x64`` the specs
hold JAX's canonical dtypes, so 64-bit spaces (gymnasium's ``Discrete``
defaults to ``int64``) come back 32-bit.

jit_env 0.1.5's ``specs_to_gym_space`` mapped an integer ``Array`` to
``Box(-inf, inf)`` cast to int (``-2**31`` on both sides); this module fixes
that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from jit_env import specs
from jit_env.compat._optional import require


def _dtype_range(dtype: np.dtype) -> tuple[Any, Any]:
    """The finite extremes of a numeric or boolean dtype."""
    if dtype == np.bool_:
        return 0, 1
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return info.min, info.max
    if np.issubdtype(dtype, np.floating):
        info = np.finfo(dtype)
        return info.min, info.max
    raise TypeError(f"`spec` has dtype {dtype}; only bool, integer and float specs map to a Box")


def _bounds(spec: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(spec.shape)
    low = np.broadcast_to(np.asarray(spec.minimum), shape)
    high = np.broadcast_to(np.asarray(spec.maximum), shape)
    if np.issubdtype(dtype, np.floating):
        lo_min, hi_max = _dtype_range(dtype)
        low = np.where(np.isneginf(low), lo_min, low)
        high = np.where(np.isposinf(high), hi_max, high)
    return np.array(low, dtype=dtype), np.array(high, dtype=dtype)


def _container_space(struct: Any, gym: Any, what: str) -> Any:
    """A gymnasium Dict / Tuple for a Python dict / tuple / list of specs."""
    if isinstance(struct, Mapping):
        return gym.spaces.Dict({k: spec_to_space(v) for k, v in struct.items()})
    if isinstance(struct, (tuple, list)):
        return gym.spaces.Tuple(tuple(spec_to_space(v) for v in struct))
    raise TypeError(
        f"`spec` {what} has structure {type(struct).__name__}; only dicts, tuples and lists "
        "map to gymnasium Dict / Tuple spaces"
    )


def spec_to_space(spec: Any) -> Any:
    """Converts a jit_env spec (or a dict / tuple of specs) to a gymnasium space.

    Args:
      spec: a `jit_env.specs.Spec`, or a dict / tuple / list of them.

    Returns:
      The ``gymnasium.spaces.Space`` described in the module docstring; its
      dtype is the spec's dtype.

    Raises:
      ImportError: if gymnasium is not installed.
      TypeError: if ``spec`` is not a spec, has a dtype that no Box holds
        (e.g. complex), or is a tree whose structure is not a dict / tuple /
        list.

    Reference: gymnasium 1.x ``gymnasium.spaces``; replaces jit_env 0.1.5's
    ``compat.make_gymnasium_wrapper()[1]`` (``specs_to_gym_space``).
    """
    gym = require("gymnasium", "spec_to_space")
    if isinstance(spec, specs.DiscreteArray):
        dtype = np.dtype(spec.dtype)
        num_values = np.asarray(spec.num_values)
        if num_values.shape == ():
            return gym.spaces.Discrete(int(num_values), dtype=dtype)
        if dtype == np.int8 and np.all(num_values == 2):
            shape = num_values.shape
            return gym.spaces.MultiBinary(shape[0] if len(shape) == 1 else list(shape))
        return gym.spaces.MultiDiscrete(num_values.astype(dtype), dtype=dtype)
    if isinstance(spec, specs.BoundedArray):
        dtype = np.dtype(spec.dtype)
        _dtype_range(dtype)  # raises TypeError for unsupported dtypes
        low, high = _bounds(spec, dtype)
        return gym.spaces.Box(low=low, high=high, shape=tuple(spec.shape), dtype=dtype)
    if isinstance(spec, specs.Array):
        dtype = np.dtype(spec.dtype)
        lo, hi = _dtype_range(dtype)
        return gym.spaces.Box(low=lo, high=hi, shape=tuple(spec.shape), dtype=dtype)
    if isinstance(spec, specs.Spec):
        unpacked = specs.unpack_spec(spec)
        if isinstance(unpacked, specs.Spec) and not isinstance(unpacked, specs.CompositeSpec):
            return spec_to_space(unpacked)
        return _container_space(unpacked, gym, f"({type(spec).__name__})")
    if isinstance(spec, (Mapping, tuple, list)):
        return _container_space(spec, gym, "(a Python container)")
    raise TypeError(f"`spec` must be a jit_env spec, got {type(spec).__name__}: {spec!r}")


def _box_to_spec(space: Any) -> specs.Spec:
    dtype = np.dtype(space.dtype)
    shape = tuple(space.shape)
    low = np.asarray(space.low)
    high = np.asarray(space.high)
    lo_min, hi_max = _dtype_range(dtype)
    if np.issubdtype(dtype, np.floating):
        low_free = np.isneginf(low) | (low == lo_min)
        high_free = np.isposinf(high) | (high == hi_max)
        if np.all(low_free) and np.all(high_free):
            return specs.Array(shape, dtype)
        minimum = np.where(low_free, -np.inf, low).astype(dtype)
        maximum = np.where(high_free, np.inf, high).astype(dtype)
        return specs.BoundedArray(shape, dtype, minimum, maximum)
    if np.all(low == lo_min) and np.all(high == hi_max):
        return specs.Array(shape, dtype)
    return specs.BoundedArray(shape, dtype, low.astype(dtype), high.astype(dtype))


def space_to_spec(space: Any) -> specs.Spec:
    """Converts a gymnasium space to a jit_env spec (the inverse of `spec_to_space`).

    Args:
      space: a ``gymnasium.spaces`` ``Box``, ``Discrete``, ``MultiDiscrete``,
        ``MultiBinary``, ``Tuple`` or ``Dict`` (nested freely).

    Returns:
      A `jit_env.specs.Spec` (see the module docstring for the mapping), with
      the space's dtype.

    Raises:
      ImportError: if gymnasium is not installed.
      TypeError: for any other space (``Text``, ``Graph``, ``Sequence``,
        ``OneOf``, …), naming it.

    Reference: gymnasium 1.x ``gymnasium.spaces``.
    """
    gym = require("gymnasium", "space_to_spec")
    spaces = gym.spaces
    if isinstance(space, spaces.Discrete):
        dtype = np.dtype(space.dtype)
        n, start = int(space.n), int(space.start)
        if start != 0:
            return specs.BoundedArray((), dtype, dtype.type(start), dtype.type(start + n - 1))
        return specs.DiscreteArray(n, dtype=dtype)
    if isinstance(space, spaces.MultiDiscrete):
        dtype = np.dtype(space.dtype)
        nvec = np.asarray(space.nvec)
        starts = np.asarray(space.start)
        if np.any(starts != 0):
            return specs.BoundedArray(
                nvec.shape, dtype, starts.astype(dtype), (starts + nvec - 1).astype(dtype)
            )
        return specs.DiscreteArray(nvec.astype(dtype), dtype=dtype)
    if isinstance(space, spaces.MultiBinary):
        shape = tuple(space.shape)
        return specs.DiscreteArray(np.full(shape, 2, np.int8), dtype=np.int8)
    if isinstance(space, spaces.Box):
        return _box_to_spec(space)
    if isinstance(space, spaces.Tuple):
        return specs.Tuple(*[space_to_spec(s) for s in space.spaces])
    if isinstance(space, spaces.Dict):
        return specs.Dict({k: space_to_spec(s) for k, s in space.spaces.items()})
    raise TypeError(
        f"`space` must be a gymnasium Box, Discrete, MultiDiscrete, MultiBinary, Tuple or Dict, "
        f"got {type(space).__name__}: {space!r}"
    )
