"""Conversions between jit_env specs and ``dm_env.specs``, both directions.

| jit_env spec | dm_env spec |
|---|---|
| ``Array`` | ``Array`` |
| ``BoundedArray`` | ``BoundedArray`` |
| ``DiscreteArray(n)`` (scalar) | ``DiscreteArray(n)`` |
| ``DiscreteArray(num_values=[...])`` | ``BoundedArray(0, num_values - 1)`` |
| ``Tuple`` / ``Dict`` / ``Tree`` | the same nest (tuple, dict, ...) of dm_env specs |

Names: a jit_env name ``""`` is dm_env's ``None`` and back. Both round trips
are exact (class, shape, dtype, bounds, name, nest), with one exception:
dm_env has no multi-discrete spec, so a multi-discrete ``DiscreteArray``
becomes a ``BoundedArray`` with maxima ``num_values - 1`` and comes back as
that ``BoundedArray``. (jit_env 0.1.5 used ``num_values`` as the maximum, one
too high.) Without ``jax_enable_x64``, jit_env specs hold JAX's canonical
dtypes, so 64-bit dm_env specs come back 32-bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jit_env import specs
from jit_env.compat._optional import require


def _name(spec: Any) -> str | None:
    return spec.name or None


def spec_to_dm_spec(spec: Any) -> Any:
    """Converts a jit_env spec (or a nest of them) to ``dm_env.specs`` (a nest).

    Args:
      spec: a `jit_env.specs.Spec`, or a dict / tuple / list of them.

    Returns:
      A ``dm_env.specs.Array`` subclass for a primitive spec; for a composite
      spec, the nest of ``dm_env.specs`` its ``as_spec_struct()`` describes
      (``Tuple`` -> tuple, ``Dict`` -> dict).

    Raises:
      ImportError: if dm_env is not installed.
      TypeError: if ``spec`` (or a leaf of it) is not a jit_env spec.

    Reference: dm_env 1.6 ``dm_env.specs``; replaces jit_env 0.1.5's
    ``compat.make_deepmind_wrapper()[1]`` with the multi-discrete maximum
    fixed to ``num_values - 1``.
    """
    dm_specs = require("dm_env.specs", "spec_to_dm_spec")
    if isinstance(spec, specs.DiscreteArray):
        num_values = np.asarray(spec.num_values)
        if num_values.shape == ():
            return dm_specs.DiscreteArray(
                num_values=int(num_values), dtype=spec.dtype, name=_name(spec)
            )
        return dm_specs.BoundedArray(
            shape=num_values.shape,
            dtype=spec.dtype,
            minimum=np.zeros(num_values.shape, spec.dtype),
            maximum=(num_values - 1).astype(spec.dtype),
            name=_name(spec),
        )
    if isinstance(spec, specs.BoundedArray):
        return dm_specs.BoundedArray(
            shape=tuple(spec.shape),
            dtype=spec.dtype,
            minimum=np.asarray(spec.minimum),
            maximum=np.asarray(spec.maximum),
            name=_name(spec),
        )
    if isinstance(spec, specs.Array):
        return dm_specs.Array(shape=tuple(spec.shape), dtype=spec.dtype, name=_name(spec))
    if isinstance(spec, specs.Spec):
        unpacked = specs.unpack_spec(spec)
        if isinstance(unpacked, specs.Spec) and not isinstance(unpacked, specs.CompositeSpec):
            return spec_to_dm_spec(unpacked)
        return jax.tree.map(
            spec_to_dm_spec, unpacked, is_leaf=lambda x: isinstance(x, specs.Spec)
        )
    if isinstance(spec, (Mapping, tuple, list)):
        return jax.tree.map(spec_to_dm_spec, spec, is_leaf=lambda x: isinstance(x, specs.Spec))
    raise TypeError(f"`spec` must be a jit_env spec, got {type(spec).__name__}: {spec!r}")


def dm_spec_to_spec(dm_spec: Any) -> specs.Spec:
    """Converts a ``dm_env.specs`` spec (or a nest of them) to a jit_env spec.

    Args:
      dm_spec: a ``dm_env.specs.Array`` / ``BoundedArray`` /
        ``DiscreteArray``, or a nest (dict, tuple, list, namedtuple) of them.

    Returns:
      The matching primitive jit_env spec; a dict becomes `specs.Dict`, a
      tuple `specs.Tuple`, any other nest a `specs.Tree` with the same
      structure.

    Raises:
      ImportError: if dm_env is not installed.
      TypeError: if a leaf of ``dm_spec`` is not a ``dm_env.specs.Array``.

    Reference: dm_env 1.6 ``dm_env.specs``.
    """
    dm_specs = require("dm_env.specs", "dm_spec_to_spec")
    name = "" if getattr(dm_spec, "name", None) is None else dm_spec.name
    if isinstance(dm_spec, dm_specs.DiscreteArray):
        return specs.DiscreteArray(int(dm_spec.num_values), dtype=dm_spec.dtype, name=name)
    if isinstance(dm_spec, dm_specs.BoundedArray):
        return specs.BoundedArray(
            tuple(dm_spec.shape), dm_spec.dtype, dm_spec.minimum, dm_spec.maximum, name=name
        )
    if isinstance(dm_spec, dm_specs.Array):
        return specs.Array(tuple(dm_spec.shape), dm_spec.dtype, name=name)
    if type(dm_spec) is dict:
        return specs.Dict({k: dm_spec_to_spec(v) for k, v in dm_spec.items()})
    if type(dm_spec) is tuple:
        return specs.Tuple(*[dm_spec_to_spec(v) for v in dm_spec])

    def is_leaf(x: Any) -> bool:
        return isinstance(x, dm_specs.Array)

    treedef: jax.tree_util.PyTreeDef
    leaves, treedef = jax.tree.flatten(dm_spec, is_leaf=is_leaf)
    if not leaves or any(not is_leaf(leaf) for leaf in leaves) or treedef.num_nodes == 1:
        raise TypeError(
            "`dm_spec` must be a dm_env.specs.Array or a nest of them, got "
            f"{type(dm_spec).__name__}: {dm_spec!r}"
        )
    return specs.Tree([dm_spec_to_spec(leaf) for leaf in leaves], treedef)
