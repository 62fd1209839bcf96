"""The one batched-reset mechanism: replace the rows of a batch whose episodes ended.

`reset_where(mask, source, target, reset)` is what `VmapAutoReset`, `TileAutoReset`
and `jit_env.compat.to_gymnasium_vector` call on every step. It is exact (every
row where ``mask`` holds is replaced by its reset, every other row is untouched)
and SIMD (no ``lax.map``, no Python loop over the batch):

* nothing ended — a ``lax.cond`` skips the reset and its PRNG work;
* a batch of at most `SELECT_ALL_MAX` rows (unless a ``chunk`` is given) — the
  whole batch is reset with ``vmap`` and selected with ``jnp.where`` (gymnax's
  way);
* a larger batch — the ended rows are reset ``k`` at a time: their indices are
  found (`first_true_indices`), those rows of ``source`` gathered, reset with
  ``vmap`` and scattered into ``target``, in a ``lax.while_loop`` that runs once
  per ``k`` ended rows (``k = ceil(B / 16)`` by default: one pass on almost every
  step). The reset is compiled once, for ``k`` rows, so the reset work and the
  compiled program follow ``k``, not the batch size; its outputs are computed once
  and then scattered leaf by leaf (`_computed_once`).

State leaves that a reset passes through unchanged (an environment's parameters,
reset with ``options=state.params``) are neither gathered nor scattered: writing
rows back where they came from is the identity (trace-time object identity, so
exact). Measurements behind these choices: ``benchmarks/RESULTS.md``
(``wrappers_bench``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jit_env._pytrees import select_tree

SELECT_ALL_MAX = 16
"""Batches up to this size reset every row and select (cheaper than indexing)."""


def default_chunk(batch: int) -> int | None:
    """Rows reset per pass for a batch of ``batch``: ``ceil(batch / 16)``, or ``None``
    (reset all and select) for batches of at most `SELECT_ALL_MAX`."""
    return None if batch <= SELECT_ALL_MAX else -(-batch // 16)


_BLOCK = 64  # width of the triangular matmul in `inclusive_counts`
_DENSE_ROWS = 1024  # up to this many blocks, their offsets come from one more matmul


def inclusive_counts(mask: jax.Array) -> jax.Array:
    """``cumsum(mask)`` of a 1-D bool ``mask [n]`` as ``int32 [n]``, by triangular matmuls.

    XLA:CPU lowers ``jnp.cumsum`` to a log-depth associative scan of many small
    kernels; here blocks of 64 are summed by one ``[n / 64, 64] @ triu(ones(64,
    64))`` product, and the blocks' offsets by one ``totals @ strict_triu`` product
    (recursively beyond `_DENSE_ROWS` blocks; ``benchmarks/RESULTS.md``).
    Exact: 0/1 inputs and sums below 2**24 are exact in float32
    (``Precision.HIGHEST``, so no TF32 / bf16 on accelerators); callers use it
    only for ``n < 2**24``.
    """
    return _block_prefix_sums(mask.astype(jnp.float32)).astype(jnp.int32)


def _block_prefix_sums(x: jax.Array) -> jax.Array:
    n = x.shape[0]
    rows = -(-n // _BLOCK)
    padded = jnp.zeros((rows * _BLOCK,), jnp.float32).at[:n].set(x).reshape(rows, _BLOCK)
    sums = _matmul(padded, jnp.triu(jnp.ones((_BLOCK, _BLOCK), jnp.float32)))
    if rows > 1:
        totals = sums[:, -1]
        if rows <= _DENSE_ROWS:
            offsets = _matmul(totals, jnp.triu(jnp.ones((rows, rows), jnp.float32), 1))
        else:
            offsets = _block_prefix_sums(totals) - totals
        sums = sums + offsets[:, None]
    return sums.reshape(-1)[:n]


def _matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def first_true_indices(mask: jax.Array, k: int) -> jax.Array:
    """Indices of the first ``k`` True entries of a 1-D ``mask [n]``, padded with ``n``.

    Equal to ``jnp.nonzero(mask, size=k, fill_value=n)[0]`` (``int32 [k]``): the
    ``j``-th True entry is where the running count (`inclusive_counts`) first
    reaches ``j + 1``, found with ``jnp.searchsorted`` (XLA:CPU runs
    ``jnp.nonzero`` as a slow associative-scan cumsum).
    """
    n = mask.shape[0]
    if n >= 2**24:  # float32 counts would no longer be exact
        return jnp.nonzero(mask, size=k, fill_value=n)[0].astype(jnp.int32)
    counts = inclusive_counts(mask)
    wanted = jnp.arange(1, k + 1, dtype=jnp.int32)
    return jnp.searchsorted(counts, wanted, side="left").astype(jnp.int32)


def leaf_aliases(source: Any, target: Any) -> tuple[int | None, ...]:
    """For each leaf of ``target``, the index of the ``source`` leaf it *is*, else ``None``.

    Trace-time object identity (static), computed before a ``lax`` control-flow
    boundary, inside which the operands are new tracers.
    """
    index = {id(x): i for i, x in enumerate(jax.tree.leaves(source))}
    return tuple(index.get(id(t)) for t in jax.tree.leaves(target))


def reset_rows(
    idx: jax.Array,
    source: Any,
    reset: Callable[[Any], Any],
    target: Any,
    aliases: tuple[int | None, ...],
) -> Any:
    """``target`` with rows ``idx [k]`` replaced by ``reset(source[idx])``.

    Indices equal to the batch size are padding: they clip on the gather and
    drop on the scatter. ``reset`` must return a tree shaped like ``target``
    with leading axis ``k``. A returned leaf that *is* the gathered rows of the
    ``source`` leaf that ``aliases`` pairs with the ``target`` leaf is not
    scattered (the identity).
    """
    leaves, treedef = jax.tree.flatten(source)
    gathered = [x.at[idx].get(mode="clip") for x in leaves]
    fresh = _computed_once(reset(jax.tree.unflatten(treedef, gathered)), gathered)
    alias_tree = jax.tree.unflatten(
        jax.tree.structure(target), [-1 if j is None else j for j in aliases]
    )

    def scatter(t: jax.Array, f: jax.Array, j: int) -> jax.Array:
        if j >= 0 and f is gathered[j]:
            return t
        return t.at[idx].set(f, mode="drop")

    return jax.tree.map(scatter, target, fresh, alias_tree)


def _computed_once(fresh: Any, gathered: list[jax.Array]) -> Any:
    """``fresh`` behind an optimisation barrier (the pass-through leaves left as they are).

    Without it XLA fuses the reset's computation (for a PRNG draw, the threefry
    rounds) into the scatter of every leaf that reads it, and runs it once per
    leaf; behind the barrier it runs once (measured in ``benchmarks/RESULTS.md``,
    "The reset computed once per pass").
    """
    leaves, treedef = jax.tree.flatten(fresh)
    moving = [i for i, x in enumerate(leaves) if not any(x is g for g in gathered)]
    computed = jax.lax.optimization_barrier([leaves[i] for i in moving])
    for i, x in zip(moving, computed, strict=True):
        leaves[i] = x
    return jax.tree.unflatten(treedef, leaves)


def reset_where(
    mask: jax.Array,
    source: Any,
    target: Any,
    reset: Callable[[Any], Any],
    chunk: int | None = None,
) -> Any:
    """``target`` with every row where ``mask`` holds replaced by ``reset`` of that row.

    Args:
      mask: ``bool [B]``, the rows to reset.
      source: a pytree of ``[B, ...]`` leaves: what ``reset`` reads (keys,
        options, the previous states).
      target: a pytree of ``[B, ...]`` leaves: what is returned, rows replaced.
      reset: maps a batch of ``source`` rows (leading axis ``n``) to a tree
        structured and typed like ``target`` with leading axis ``n``; it is
        traced for ``n = chunk`` (or ``B`` for small batches) only.
      chunk: rows reset per pass (see the module docstring); ``None`` for
        `default_chunk` (which resets all and selects for small batches); a
        ``chunk`` of at least ``B`` resets all and selects. Any value gives
        identical results; it only trades speed.

    Returns:
      the new ``target``.
    """
    batch = mask.shape[0]
    k = default_chunk(batch) if chunk is None else chunk
    if k is None or k >= batch:
        return jax.lax.cond(
            jnp.any(mask),
            lambda t: select_tree(mask, reset(source), t),
            lambda t: t,
            target,
        )
    aliases = leaf_aliases(source, target)

    def one_pass(carry: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
        current, remaining = carry
        idx = first_true_indices(remaining, k)
        current = reset_rows(idx, source, reset, current, aliases)
        return current, remaining.at[idx].set(False, mode="drop")

    out, _ = jax.lax.while_loop(lambda c: jnp.any(c[1]), one_pass, (target, mask))
    return out
