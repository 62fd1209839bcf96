"""Pytree comparison helpers of `jit_env.testing.check_env` (private).

Leaf paths as readable names (``state.key``, ``timestep.extras['x']``), leaf
signatures (dtype, weak type, shape; typed keys by implementation), and
structure / value differences between two pytrees as messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env._pytrees import is_typed_key as _is_key

_MAX_ERROR_LINES = 6  # of an exception's message kept in a report line


def _error(exc: BaseException) -> str:
    """``"Type: message"`` on one line; a multi-line message (a spec's
    ``validate`` puts the detail on the second line) keeps its first
    `_MAX_ERROR_LINES` lines, joined by ``" | "``."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = " | ".join(lines[:_MAX_ERROR_LINES])
    if len(lines) > _MAX_ERROR_LINES:
        text += f" | ... ({len(lines) - _MAX_ERROR_LINES} more lines)"
    return f"{type(exc).__name__}: {text}"


def _path(prefix: str, path: Sequence[Any]) -> str:
    out = prefix
    for entry in path:
        if hasattr(entry, "name"):
            out += f".{entry.name}"
        elif hasattr(entry, "key"):
            out += f".{entry.key}" if isinstance(entry.key, str) else f"[{entry.key!r}]"
        elif hasattr(entry, "idx"):
            out += f"[{entry.idx}]"
        else:
            out += str(entry)
    return out


def _numpy(leaf: Any) -> np.ndarray:
    if _is_key(leaf):
        return np.asarray(jax.random.key_data(leaf))
    return np.asarray(leaf)


def _host(tree: Any) -> Any:
    """NumPy copies of every leaf (typed keys as their key data)."""
    return jax.tree.map(_numpy, tree)


def _signature(leaf: Any) -> str:
    if _is_key(leaf):
        return f"key<{jax.random.key_impl(leaf)}>{list(jnp.shape(leaf))}"
    dtype = jnp.result_type(leaf)
    weak = "(weak)" if getattr(leaf, "weak_type", False) else ""
    return f"{np.dtype(dtype).name}{weak}{list(jnp.shape(leaf))}"


def _flatten(prefix: str, tree: Any) -> tuple[dict[str, Any], Any]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return {_path(prefix, path): leaf for path, leaf in leaves}, treedef


def structure_diffs(a: Any, b: Any, prefix: str, *, weak: bool = False) -> list[str]:
    """Differences in tree structure, shapes and dtypes between ``a`` and ``b``."""
    leaves_a, def_a = _flatten(prefix, a)
    leaves_b, def_b = _flatten(prefix, b)
    diffs = []
    if def_a != def_b:
        only_a = sorted(set(leaves_a) - set(leaves_b))
        only_b = sorted(set(leaves_b) - set(leaves_a))
        if only_a or only_b:
            diffs.append(f"leaves only in the first: {only_a}; only in the second: {only_b}")
        else:
            diffs.append(f"pytree structures differ: {str(def_a)[:200]} vs {str(def_b)[:200]}")
    for name in leaves_a.keys() & leaves_b.keys():
        sig_a, sig_b = _signature(leaves_a[name]), _signature(leaves_b[name])
        if not weak:
            sig_a, sig_b = sig_a.replace("(weak)", ""), sig_b.replace("(weak)", "")
        if sig_a != sig_b:
            diffs.append(f"{name}: {sig_a} vs {sig_b}")
    return sorted(diffs)


def value_diffs(a: Any, b: Any, prefix: str, *, rtol: float, atol: float) -> list[str]:
    """Leaves of ``a`` and ``b`` that differ (exactly if ``rtol == atol == 0``)."""
    diffs = structure_diffs(a, b, prefix)
    if diffs:
        return diffs
    leaves_a, _ = _flatten(prefix, a)
    leaves_b, _ = _flatten(prefix, b)
    for name in sorted(leaves_a):
        x, y = _numpy(leaves_a[name]), _numpy(leaves_b[name])
        if np.issubdtype(x.dtype, np.inexact) and (rtol or atol):
            same = np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
        else:
            same = np.array_equal(x, y, equal_nan=np.issubdtype(x.dtype, np.inexact))
        if not same:
            diffs.append(f"{name}: {x.ravel()[:4].tolist()} vs {y.ravel()[:4].tolist()}")
    return diffs
