"""Checkpoints of whole training states, as msgpack (flax.serialization) — never pickle.

A checkpoint stores the flattened leaves of a pytree (parameters, optimiser
state, environment state, keys …) plus a fingerprint of the tree's structure,
shapes and dtypes. Restoring needs a *template* of the same structure (a
freshly initialised state of the same config), so a checkpoint from another
config is rejected with a clear error instead of being loaded into the wrong
shapes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization


class CheckpointMismatchError(ValueError):
    """The checkpoint does not match the structure of the state it restores."""


def _fingerprint(tree: Any) -> str:
    leaves, treedef = jax.tree.flatten(tree)
    def describe(x):
        shape = tuple(getattr(x, "shape", np.shape(x)))
        dtype = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
        return f"{shape}:{dtype}"

    desc = str(treedef) + "|" + "|".join(describe(x) for x in leaves)
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


def _host_leaves(tree: Any) -> list[np.ndarray]:
    out = []
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", np.float32), jax.dtypes.prng_key):
            raise TypeError(
                "typed PRNG keys cannot be checkpointed; use jax.random.key_data first"
            )
        out.append(np.asarray(jax.device_get(leaf)))
    return out


def save_checkpoint(path: str | os.PathLike, tree: Any, *, metadata: dict | None = None) -> Path:
    """Writes ``tree`` to ``path`` atomically (write to a temporary file, then rename).

    Args:
      path: destination file (conventionally ``*.msgpack``).
      tree: a pytree of arrays (no typed PRNG keys).
      metadata: JSON-like dict stored beside the arrays (config, step, …).

    Returns:
      The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = _host_leaves(tree)
    payload = {
        "fingerprint": _fingerprint(tree),
        "metadata": metadata or {},
        "leaves": {str(i): leaf for i, leaf in enumerate(leaves)},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(payload))
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """Reads a checkpoint written by `save_checkpoint` into the structure of ``template``.

    Args:
      path: the checkpoint file.
      template: a pytree with the same structure, shapes and dtypes.

    Returns:
      ``(tree, metadata)``.

    Raises:
      FileNotFoundError: if ``path`` does not exist.
      CheckpointMismatchError: if the file is not a checkpoint or its structure,
        shapes or dtypes differ from ``template``'s.
    """
    path = Path(path)
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except FileNotFoundError:
        raise
    except Exception as e:  # msgpack raises several unrelated types on garbage.
        raise CheckpointMismatchError(f"{path} is not a jit_env checkpoint: {e}") from e
    if not isinstance(payload, dict) or "leaves" not in payload:
        raise CheckpointMismatchError(f"{path} is not a jit_env checkpoint")
    expected = _fingerprint(template)
    if payload.get("fingerprint") != expected:
        raise CheckpointMismatchError(
            f"{path} was written for a different configuration "
            f"(structure fingerprint {payload.get('fingerprint')}, expected {expected})"
        )
    leaves, treedef = jax.tree.flatten(template)
    stored = payload["leaves"]
    restored = [np.asarray(stored[str(i)]) for i in range(len(leaves))]
    return jax.tree.unflatten(treedef, restored), dict(payload.get("metadata", {}))
