"""Host-side data conversion shared by the stateful adapters.

JAX results become fresh NumPy arrays (never views shared between calls, as
gymnasium's ``check_env`` requires); actions coming from NumPy / Python are
cast to the action spec's dtype only when the cast is within the same kind
(``int64 -> int32``, ``float64 -> float32``), never across kinds.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jit_env import specs


def tree_to_numpy(tree: Any) -> Any:
    """Fresh NumPy copies of every leaf of ``tree`` (``None`` stays ``None``)."""
    return jax.tree.map(np.array, jax.device_get(tree))


def to_numpy_like_space(value: Any, space: Any, gym_spaces: Any) -> Any:
    """Converts a (JAX or NumPy) value to fresh NumPy data shaped like ``space``.

    ``Discrete`` values become Python ``int`` (what gymnasium's passive
    checker expects), ``Tuple`` values tuples, ``Dict`` values dicts, every
    other leaf a new ``np.ndarray`` (never a view of an earlier result).
    """
    if isinstance(space, gym_spaces.Discrete):
        return int(np.asarray(value))
    if isinstance(space, gym_spaces.Tuple):
        return tuple(
            to_numpy_like_space(v, s, gym_spaces) for v, s in zip(tuple(value), space.spaces)
        )
    if isinstance(space, gym_spaces.Dict):
        return {k: to_numpy_like_space(value[k], s, gym_spaces) for k, s in space.spaces.items()}
    return np.array(value)


def _is_spec(x: Any) -> bool:
    return isinstance(x, specs.Spec)


def action_caster(action_spec: specs.Spec, argument: str = "action"):
    """A function casting a NumPy / Python action (tree) to ``action_spec``'s dtypes.

    The returned function raises `TypeError` naming ``argument`` when a leaf's
    dtype cannot be cast within its kind (e.g. a float for an integer spec),
    and `ValueError` when the tree structure or a shape differs from the spec.
    JAX arrays already of the right dtype pass through untouched (no host
    round trip).
    """
    spec_tree = specs.unpack_spec(action_spec)
    treedef: jax.tree_util.PyTreeDef
    leaves, treedef = jax.tree.flatten(spec_tree, is_leaf=_is_spec)

    def cast(action: Any, batch_shape: tuple[int, ...] = ()) -> Any:
        try:
            action_leaves = treedef.flatten_up_to(action)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`{argument}` must be structured like the action spec {treedef}: {error}"
            ) from None
        out = []
        for i, (leaf, spec) in enumerate(zip(action_leaves, leaves)):
            where = f"`{argument}`" + (f" leaf {i}" if len(leaves) > 1 else "")
            dtype = np.dtype(spec.dtype)
            if not isinstance(leaf, jax.Array):
                leaf = np.asarray(leaf)
            if leaf.dtype != dtype:
                if not np.can_cast(leaf.dtype, dtype, "same_kind"):
                    raise TypeError(
                        f"{where} has dtype {leaf.dtype}, expected {dtype} (the action spec's); "
                        "refusing a cast across kinds"
                    )
                leaf = leaf.astype(dtype)
            expected = tuple(batch_shape) + tuple(spec.shape)
            if tuple(leaf.shape) != expected:
                raise ValueError(f"{where} has shape {tuple(leaf.shape)}, expected {expected}")
            out.append(leaf)
        return jax.tree.unflatten(treedef, out)

    return cast
