"""Pytree utilities and target-network updates (rlax 0.1.9 ``tree_util`` / ``nested_updates``).

These work on arbitrary pytrees (nested tuples / dicts / NamedTuples of arrays) and keep
rlax's names and behaviour. Structure mismatches raise `ValueError` naming the argument.
``periodic_update`` / ``conditional_update`` do not emit rlax's PendingDeprecationWarning
(optax's ``periodic_update`` / ``incremental_update`` are alternatives).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import replace_masked


def _same_structure(fn: str, names: Sequence[str], trees: Sequence[Any]) -> None:
    ref: jax.tree_util.PyTreeDef = jax.tree_util.tree_structure(trees[0])
    for name, tree in zip(names[1:], trees[1:]):
        other = jax.tree_util.tree_structure(tree)
        if other != ref:
            raise ValueError(
                f"{fn}: `{name}` has tree structure {other}, expected {ref} to match "
                f"`{names[0]}`"
            )


def tree_select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """Selects ``on_true`` or ``on_false`` leaf by leaf with a scalar boolean ``pred``.

    Args:
      pred: scalar boolean (Python or traced).
      on_true: a pytree.
      on_false: a pytree with the structure (and leaf shapes) of ``on_true``.

    Returns:
      The selected pytree.

    Raises:
      ValueError: if the structures differ.

    Matches rlax 0.1.9 ``rlax.tree_select`` (``lax.select`` per leaf).
    """
    _same_structure("tree_select", ("on_true", "on_false"), (on_true, on_false))
    return jax.tree.map(lambda x, y: jax.lax.select(pred, x, y), on_true, on_false)


def tree_map_zipped(fn: Callable[..., Any], nests: Sequence[Any]) -> Any:
    """Maps ``fn(*leaves)`` over a list of pytrees of identical structure.

    Args:
      fn: callable of arity ``len(nests)``.
      nests: sequence of pytrees with the same structure.

    Returns:
      A pytree of ``fn``'s outputs (``nests`` itself if empty).

    Raises:
      ValueError: if the structures differ (names the index).

    Matches rlax 0.1.9 ``rlax.tree_map_zipped``.
    """
    if not nests:
        return nests
    _same_structure(
        "tree_map_zipped", [f"nests[{i}]" for i in range(len(nests))], list(nests)
    )
    return jax.tree.map(fn, *nests)


def tree_split_key(rng_key: jax.Array, tree_like: Any) -> tuple[jax.Array, Any]:
    """Splits one PRNG key into a new key and one key per leaf of ``tree_like``.

    Accepts typed keys of any implementation and legacy uint32 keys.

    Args:
      rng_key: a PRNG key.
      tree_like: any pytree; only its structure is used.

    Returns:
      ``(new_key, tree_of_keys)``, ``tree_of_keys`` with ``tree_like``'s structure.

    Matches rlax 0.1.9 ``rlax.tree_split_key`` (same split, bit for bit).
    """
    leaves, treedef = jax.tree_util.tree_flatten(tree_like)
    keys = jax.random.split(rng_key, len(leaves) + 1)
    return keys[0], jax.tree_util.tree_unflatten(treedef, list(keys[1:]))


def tree_split_leaves(tree_like: Any, axis: int = 0, keepdim: bool = False) -> Any:
    """Splits a pytree of arrays along ``axis`` into a tuple of pytrees.

    Host-side (NumPy) operation, as in rlax: leaves are converted with ``np.split``.

    Args:
      tree_like: pytree whose leaves share the size of ``axis``.
      axis: axis to split along.
      keepdim: keep ``axis`` with size 1 in each piece.

    Returns:
      A tuple of ``size(axis)`` pytrees (``tree_like`` itself if it is empty).

    Raises:
      ValueError: if the leaves disagree on the size of ``axis``.

    Matches rlax 0.1.9 ``rlax.tree_split_leaves``.
    """
    if len(tree_like) == 0:
        return tree_like
    leaves, treedef = jax.tree_util.tree_flatten(tree_like)
    sizes = {np.shape(leaf)[axis] for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(
            f"tree_split_leaves: leaves of `tree_like` have sizes {sorted(sizes)} along "
            f"axis {axis}, expected one size"
        )
    (size,) = sizes
    pieces = [np.split(np.asarray(leaf), size, axis=axis) for leaf in leaves]
    if not keepdim:
        pieces = [[np.squeeze(p, axis) for p in leaf_pieces] for leaf_pieces in pieces]
    return tuple(
        jax.tree_util.tree_unflatten(treedef, [leaf_pieces[i] for leaf_pieces in pieces])
        for i in range(size)
    )


def tree_replace_masked(tree_data: Any, tree_replacement: Any, mask: jax.Array) -> Any:
    """`replace_masked` applied leaf by leaf.

    Args:
      tree_data: pytree of arrays with leading shape ``mask.shape`` (or broadcastable).
      tree_replacement: pytree like ``tree_data``, or None for zeros.
      mask: 0/1 or boolean array whose shape is a prefix of every leaf's shape.

    Returns:
      The pytree with masked slices replaced.

    Raises:
      ValueError: if the structures or shapes are incompatible.

    Matches rlax 0.1.9 ``rlax.tree_replace_masked``.
    """
    if tree_replacement is None:
        tree_replacement = jax.tree.map(jnp.zeros_like, tree_data)
    _same_structure(
        "tree_replace_masked", ("tree_data", "tree_replacement"), (tree_data, tree_replacement)
    )
    return jax.tree.map(lambda d, r: replace_masked(d, r, mask), tree_data, tree_replacement)


def tree_fn(fn: Callable[..., Any], **unmapped_kwargs: Any) -> Callable[..., Any]:
    """Wraps ``fn`` to ``jax.tree.map`` over its positional arguments.

    Args:
      fn: function of leaves.
      **unmapped_kwargs: keyword arguments bound with ``functools.partial`` (not mapped).

    Returns:
      ``lambda *trees: jax.tree.map(partial(fn, **unmapped_kwargs), *trees)``.

    Matches rlax 0.1.9 ``rlax.tree_fn``.
    """
    bound = functools.partial(fn, **unmapped_kwargs)

    def wrapped(*args: Any) -> Any:
        return jax.tree.map(bound, *args)

    return wrapped


def transpose_last_axis_to_first(tree: Any) -> Any:
    """Moves the last axis of every leaf to the front: ``[d_1, …, d_n] -> [d_n, d_1, …]``.

    Matches rlax 0.1.9 ``rlax.transpose_last_axis_to_first``.
    """
    return jax.tree.map(lambda x: jnp.moveaxis(x, -1, 0), tree)


def transpose_first_axis_to_last(tree: Any) -> Any:
    """Moves the first axis of every leaf to the end: ``[d_1, …, d_n] -> [d_2, …, d_1]``.

    Matches rlax 0.1.9 ``rlax.transpose_first_axis_to_last``.
    """
    return jax.tree.map(lambda x: jnp.moveaxis(x, 0, -1), tree)


def conditional_update(new_tensors: Any, old_tensors: Any, is_time: Any) -> Any:
    """Returns ``new_tensors`` if ``is_time`` else ``old_tensors`` (leaf by leaf).

    Args:
      new_tensors: pytree.
      old_tensors: pytree of the same structure.
      is_time: scalar boolean (Python or traced).

    Returns:
      The selected pytree.

    Raises:
      ValueError: if the structures differ.

    Matches rlax 0.1.9 ``rlax.conditional_update`` (without its deprecation warning).
    """
    _same_structure(
        "conditional_update", ("new_tensors", "old_tensors"), (new_tensors, old_tensors)
    )
    return jax.tree.map(lambda n, o: jax.lax.select(is_time, n, o), new_tensors, old_tensors)


def periodic_update(
    new_tensors: Any, old_tensors: Any, steps: jax.Array, update_period: int
) -> Any:
    """Returns ``new_tensors`` when ``steps % update_period == 0``, else ``old_tensors``.

    Args:
      new_tensors: pytree (e.g. online network parameters).
      old_tensors: pytree of the same structure (e.g. target network parameters).
      steps: scalar integer step counter.
      update_period: period in steps (int > 0).

    Returns:
      The selected pytree.

    Raises:
      ValueError: if the structures differ.

    Matches rlax 0.1.9 ``rlax.periodic_update`` (without its deprecation warning).
    """
    return conditional_update(new_tensors, old_tensors, steps % update_period == 0)
