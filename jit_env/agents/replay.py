"""A small jittable circular replay buffer (uniform sampling, masked adds).

The buffer is a `ReplayBuffer` NamedTuple of ``[capacity, ...]`` arrays plus an
insertion index and a size, so it lives inside a jitted training state, vmaps
over seeds and serialises with the rest of the checkpoint. `add` writes a batch
of ``N`` rows (only the rows whose ``valid`` flag is set, in order) and
overwrites the oldest rows once full; `sample` draws rows uniformly with
replacement. This is the FIFO buffer of DQN (Mnih et al. 2015, "Human-level
control through deep reinforcement learning", Methods: "experience replay …
the most recent N experience tuples") and of CleanRL's / Stable-Baselines3's
``ReplayBuffer`` (uniform sampling).

Why not flashbax (DESIGN.md asks for it where it works): flashbax 0.1.3
installs next to jax 0.10.2 and 0.7.0 without changing either, and its flat
buffer adds and samples under jit. We still keep this buffer because (1)
flashbax's ``add`` has no row mask, so the invalid rows of a ``next_step``
auto-reset rollout (`jit_env.rollout.Transitions.valid`) would be stored and
sampled; (2) its add batch size is fixed when the buffer is built; (3) it makes
``tensorstore`` (66 MB installed) a dependency of ``jit-env[agents]`` for what
is here about 60 lines.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class ReplayBuffer(NamedTuple):
    """State of a circular buffer.

    Attributes:
      data: pytree of ``[capacity, ...]`` arrays (zeros where nothing is stored yet).
      insert_index: ``int32`` scalar, the row the next `add` writes first.
      size: ``int32`` scalar, the number of stored rows (at most ``capacity``).
    """

    data: Any
    insert_index: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        """Number of rows the buffer holds (static)."""
        return int(jax.tree.leaves(self.data)[0].shape[0])


def init(example: Any, capacity: int) -> ReplayBuffer:
    """An empty buffer whose rows look like ``example``.

    Args:
      example: pytree of arrays shaped like ONE row (e.g. ``{"observation":
        float32 [D], "action": int32 []}``); only shapes and dtypes are used.
      capacity: number of rows, a positive Python int.

    Returns:
      `ReplayBuffer` with ``data`` leaves ``[capacity, *leaf.shape]`` of zeros,
      ``insert_index == size == 0``.

    Raises:
      ValueError: if ``capacity`` is not a positive int or ``example`` has no leaves.
    """
    if not isinstance(capacity, int) or capacity <= 0:
        raise ValueError(f"`capacity` must be a positive int, got {capacity!r}")
    if not jax.tree.leaves(example):
        raise ValueError("`example` has no array leaves")
    data = jax.tree.map(
        lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.result_type(x)), example
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, batch: Any, valid: jax.Array | None = None) -> ReplayBuffer:
    """Appends the valid rows of ``batch``, overwriting the oldest rows when full.

    The valid rows are written in order at ``insert_index, insert_index + 1, …`` (modulo
    ``capacity``). If more than ``capacity`` rows are valid only the last
    ``capacity`` are kept, as if they had been added one at a time.

    Args:
      buffer: the buffer.
      batch: pytree with ``buffer.data``'s structure, leaves ``[N, ...]`` with
        the trailing shapes and dtypes of the stored rows.
      valid: optional ``bool [N]``; rows where it is False are not stored.

    Returns:
      The updated `ReplayBuffer`.

    Raises:
      ValueError: if the structure, trailing shapes or dtypes of ``batch``
        differ from the buffer's, the leaves disagree on ``N``, ``N == 0``, or
        ``valid`` is not ``[N]``.
    """
    structure: Any = jax.tree.structure(batch)
    expected: Any = jax.tree.structure(buffer.data)
    if structure != expected:
        raise ValueError(f"`batch` has structure {structure}, expected {expected}")
    problems = []
    sizes = set()
    for path, x, stored in zip(
        [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(batch)],
        jax.tree.leaves(batch),
        jax.tree.leaves(buffer.data),
    ):
        if jnp.ndim(x) < 1 or jnp.shape(x)[1:] != stored.shape[1:]:
            problems.append(f"`batch{path}` has shape {jnp.shape(x)}, expected (N, "
                            f"{', '.join(map(str, stored.shape[1:]))})")
        elif jnp.result_type(x) != stored.dtype:
            problems.append(f"`batch{path}` has dtype {jnp.result_type(x)}, expected "
                            f"{stored.dtype}")
        else:
            sizes.add(jnp.shape(x)[0])
    if 0 in sizes:
        problems.append("`batch` has no rows")
    if len(sizes) > 1:
        problems.append(f"`batch` leaves disagree on the number of rows: {sorted(sizes)}")
    if problems:
        raise ValueError("; ".join(problems))
    (n,) = sizes
    if valid is None:
        valid = jnp.ones((n,), bool)
    elif jnp.shape(valid) != (n,):
        raise ValueError(f"`valid` has shape {jnp.shape(valid)}, expected ({n},)")
    valid = jnp.asarray(valid, bool)
    capacity = buffer.capacity
    rank = jnp.cumsum(valid.astype(jnp.int32)) - 1  # position among the valid rows
    count = rank[-1] + 1
    # Keep only the last `capacity` valid rows, so no two rows share a slot.
    keep = valid & (count - 1 - rank < capacity)
    slot = jnp.where(keep, (buffer.insert_index + rank) % capacity, capacity)  # capacity: dropped
    data = jax.tree.map(
        lambda stored, x: stored.at[slot].set(x, mode="drop"), buffer.data, batch
    )
    index = (buffer.insert_index + count) % capacity
    size = jnp.minimum(buffer.size + count, capacity)
    return ReplayBuffer(data, index.astype(jnp.int32), size.astype(jnp.int32))


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Any:
    """Draws ``batch_size`` stored rows uniformly, with replacement.

    Args:
      buffer: the buffer; sampling an empty buffer returns copies of row 0
        (zeros) — check ``buffer.size`` (e.g. with ``lax.cond``) first.
      key: PRNG key.
      batch_size: number of rows, a positive Python int.

    Returns:
      pytree like ``buffer.data`` with leaves ``[batch_size, ...]``.

    Raises:
      ValueError: if ``batch_size`` is not a positive int.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}")
    rows = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda x: jnp.take(x, rows, axis=0), buffer.data)
