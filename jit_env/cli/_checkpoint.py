"""Checkpoints of whole training states, as msgpack (flax.serialization) — never pickle.

A checkpoint stores the flattened leaves of a pytree (parameters, optimiser
state, environment state, keys …), a fingerprint of the tree's structure,
shapes and dtypes, a JSON-like metadata dict, and a SHA-256 content hash of
all three (`_content_hash`). Restoring needs a *template* of the same
structure (a freshly initialised state of the same config, or its
``jax.eval_shape``): `load_checkpoint` checks the hash (a flipped byte is
caught), then every leaf's presence, shape and dtype against the template,
naming the leaf by its path (``.agent_state.params['Dense_0']['kernel']``),
so a damaged, crafted or foreign checkpoint is a one-line
`CheckpointMismatchError` instead of a flax/JAX traceback or, worse, a silent
load. The file is written atomically (`jit_env.cli._files.atomic_write`).
Stable-Baselines3 stores a CRC for the same purpose (its zip archives,
``stable_baselines3/common/save_util.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from jit_env.cli import _files

FORMAT = 2
"""Checkpoint format: 2 adds the content hash (``sha256``) and ``format`` entries."""


class CheckpointMismatchError(ValueError):
    """The checkpoint is damaged, or does not match the structure of the state it restores."""


def _describe(x: Any) -> str:
    shape = tuple(getattr(x, "shape", np.shape(x)))
    dtype = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    return f"{shape}:{dtype}"


def _fingerprint(tree: Any) -> str:
    leaves, treedef = jax.tree.flatten(tree)
    desc = str(treedef) + "|" + "|".join(_describe(x) for x in leaves)
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


def _content_hash(fingerprint: str, metadata: dict, leaves: dict) -> str:
    """SHA-256 over the fingerprint, the metadata (canonical JSON) and every leaf's
    index, dtype, shape and bytes, in index order.

    Raises:
      TypeError / ValueError: if the metadata is not JSON-serialisable.
    """
    h = hashlib.sha256()
    h.update(str(fingerprint).encode())
    h.update(json.dumps(metadata, sort_keys=True, allow_nan=True).encode())
    for k in sorted(leaves, key=lambda k: (len(k), k)):
        a = np.ascontiguousarray(np.asarray(leaves[k]))
        h.update(f"|{k}:{a.dtype.str}:{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


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
    """Writes ``tree`` to ``path`` atomically and durably.

    The bytes go to a unique temporary file in the same directory, are
    ``fsync``-ed and renamed over ``path`` (`jit_env.cli._files.atomic_write`):
    a crash or a full disk leaves the previous file at ``path`` intact.

    Args:
      path: destination file (conventionally ``*.msgpack``); not a symbolic link.
      tree: a pytree of arrays (no typed PRNG keys).
      metadata: JSON-serialisable dict stored beside the arrays (config, step, …).

    Returns:
      The path written.

    Raises:
      TypeError: for typed PRNG keys, or metadata that is not JSON-serialisable.
      jit_env.cli._files.RunDirError: if ``path`` is a symbolic link.
      OSError: from the file system (``path`` unchanged).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = {str(i): leaf for i, leaf in enumerate(_host_leaves(tree))}
    fingerprint = _fingerprint(tree)
    metadata = dict(metadata or {})
    payload = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "metadata": metadata,
        "sha256": _content_hash(fingerprint, metadata, leaves),
        "leaves": leaves,
    }
    return _files.atomic_write(path, serialization.msgpack_serialize(payload))


def _leaf_problems(stored: dict, template: Any) -> list[str]:
    """What differs between the stored leaves and ``template``'s, naming leaves by path."""
    with_paths, _ = jax.tree_util.tree_flatten_with_path(template)
    problems = []
    for i, (key_path, leaf) in enumerate(with_paths):
        name = jax.tree_util.keystr(key_path) or "<root>"
        if str(i) not in stored:
            problems.append(f"leaf {name} is missing")
            continue
        got, want = _describe(stored[str(i)]), _describe(leaf)
        if got != want:
            gs, gd = got.split(":")
            ws, wd = want.split(":")
            problems.append(f"leaf {name} has shape {gs} and dtype {gd}, expected {ws} and {wd}")
    extra = sorted(set(stored) - {str(i) for i in range(len(with_paths))})
    if extra:
        problems.append(f"{len(extra)} leaves more than the {len(with_paths)} expected")
    return problems


def load_checkpoint(path: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    """Reads and verifies a checkpoint written by `save_checkpoint`.

    Args:
      path: the checkpoint file.
      template: a pytree with the expected structure, shapes and dtypes (arrays
        or ``jax.ShapeDtypeStruct``).

    Returns:
      ``(tree, metadata)``: ``tree`` has ``template``'s structure with NumPy leaves.

    Raises:
      FileNotFoundError: if ``path`` does not exist.
      CheckpointMismatchError: one line, if the file is not a jit_env checkpoint,
        has no or a wrong content hash (damaged), or a leaf is missing or has
        another shape or dtype than ``template``'s (named by path), or the tree
        structure differs ("written for a different configuration").
    """
    path = Path(path)
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # msgpack raises several unrelated types on garbage.
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointMismatchError(f"{path} is not a jit_env checkpoint ({reason})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("leaves"), dict):
        raise CheckpointMismatchError(f"{path} is not a jit_env checkpoint")
    stored, metadata = payload["leaves"], payload.get("metadata", {})
    if "sha256" not in payload:
        raise CheckpointMismatchError(f"{path} has no content hash (not written by this jit_env)")
    if not isinstance(metadata, dict):
        raise CheckpointMismatchError(f"{path} has metadata of type {type(metadata).__name__}")
    try:
        actual = _content_hash(payload.get("fingerprint", ""), metadata, stored)
    except (TypeError, ValueError) as e:
        raise CheckpointMismatchError(f"{path} is not a jit_env checkpoint ({e})") from None
    if payload["sha256"] != actual:
        raise CheckpointMismatchError(
            f"{path} is damaged: its content hash does not match (stored "
            f"{str(payload['sha256'])[:16]}…, computed {actual[:16]}…)"
        )
    problems = _leaf_problems(stored, template)
    expected = _fingerprint(template)
    if payload.get("fingerprint") != expected:
        detail = "; ".join(problems[:3]) if problems else "the tree structure differs"
        raise CheckpointMismatchError(
            f"{path} was written for a different configuration: {detail}"
        )
    if problems:
        raise CheckpointMismatchError(
            f"{path} does not match its state: " + "; ".join(problems[:3])
        )
    leaves, treedef = jax.tree.flatten(template)
    restored = [np.asarray(stored[str(i)]) for i in range(len(leaves))]
    return jax.tree.unflatten(treedef, restored), dict(metadata)
