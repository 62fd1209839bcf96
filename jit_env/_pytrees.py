"""Small pytree, key and spec routines shared by wrappers, compat and testing.

Private and low-level (it imports only JAX and `jit_env.specs`): selecting between
two batched pytrees, matching dtypes between two code paths, telling a single key
from a batch of keys, peeling `specs.Batched` layers off a spec. Keys may be typed
keys of any implementation or legacy ``uint32`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import jax
import jax.numpy as jnp

from jit_env import specs


def is_typed_key(x: Any) -> bool:
    """True for a typed PRNG key array (``jax.random.key``)."""
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def key_batch_ndim(key: Any) -> int:
    """Number of leading batch axes of ``key`` (0 for a single key)."""
    if is_typed_key(key):
        return key.ndim
    return jnp.ndim(key) - 1


def broadcast_mask(mask: jax.Array, x: Any) -> jax.Array:
    """``mask`` (shape ``[*b]``) reshaped to broadcast against ``x`` (``[*b, ...]``)."""
    extra = jnp.ndim(x) - mask.ndim
    if extra < 0:
        raise ValueError(
            f"mask of shape {mask.shape} has more axes than a leaf of shape {jnp.shape(x)}"
        )
    return jnp.reshape(mask, mask.shape + (1,) * extra)


def select_tree(mask: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise ``where(mask, on_true, on_false)``; ``mask`` covers the leading axes."""
    return jax.tree.map(lambda t, f: jnp.where(broadcast_mask(mask, f), t, f), on_true, on_false)


def match_dtypes(value: Any, reference: Any, what: str) -> Any:
    """Casts the leaves of ``value`` to the dtypes of ``reference`` (same structure).

    Used where two code paths (``reset`` and ``step``) must produce identical
    pytrees, e.g. the branches of a ``lax.cond``. A dtype cast only removes
    weak types or a harmless mismatch such as ``int32`` vs ``int8`` step types.

    Raises:
      TypeError: if the structures or shapes differ (names ``what``).
    """
    ref_def: jax.tree_util.PyTreeDef = jax.tree.structure(reference)
    val_def = jax.tree.structure(value)
    if ref_def != val_def:
        raise TypeError(
            f"{what}: reset and step return different pytree structures:\n"
            f"  step:  {ref_def}\n  reset: {val_def}"
        )

    def cast(v: Any, r: Any) -> Any:
        if jnp.shape(v) != jnp.shape(r):
            raise TypeError(
                f"{what}: reset and step return leaves of different shapes "
                f"{jnp.shape(v)} vs {jnp.shape(r)}"
            )
        if is_typed_key(r) or is_typed_key(v):
            return v
        return jax.lax.convert_element_type(v, jnp.result_type(r))

    return jax.tree.map(cast, value, reference)


def strong(tree: Any) -> Any:
    """The leaves of ``tree`` with weak types made strong (keys untouched)."""
    return jax.tree.map(
        lambda v: v if is_typed_key(v) else jax.lax.convert_element_type(v, jnp.result_type(v)),
        tree,
    )


def peel_batched(spec: specs.Spec) -> tuple[specs.Spec, tuple[int, ...]]:
    """Removes the `specs.Batched` layers of ``spec``: ``(element_spec, (num, ...))``."""
    nums: list[int] = []
    while isinstance(spec, specs.Batched):
        nums.append(spec.num)
        spec = spec.spec
    return spec, tuple(nums)


def rebatch(spec: specs.Spec, nums: tuple[int, ...]) -> specs.Spec:
    """Inverse of `peel_batched`."""
    for n in reversed(nums):
        spec = specs.Batched(spec, n)
    return spec


def leaf_batch_ndim(x: Any, element_shape: tuple[int, ...], what: str) -> int:
    """How many leading axes ``x`` has beyond ``element_shape`` (static)."""
    nd = jnp.ndim(x) - len(element_shape)
    if nd < 0 or tuple(jnp.shape(x)[nd:]) != tuple(element_shape):
        raise ValueError(
            f"{what}: array of shape {jnp.shape(x)} does not end with the spec's "
            f"shape {tuple(element_shape)}"
        )
    return nd


def key_of(state: Any) -> Any:
    """The PRNG key kept in ``state``: its attribute ``key``, or entry ``"key"`` of a dict.

    This is what every auto-reset reads, and what `jit_env.testing.check_env`'s
    ``state_key`` check requires (one rule, so the two cannot disagree).

    Raises:
      TypeError: if ``state`` has neither (names the state's type and fields).
    """
    if isinstance(state, Mapping):
        if "key" in state:
            return state["key"]
    elif hasattr(state, "key"):
        return state.key
    fields = sorted(state, key=repr) if isinstance(state, Mapping) else getattr(
        state, "_fields", None
    )
    raise TypeError(
        f"the environment state ({type(state).__name__}"
        + (f" with fields {list(fields)}" if fields is not None else "")
        + ") has no PRNG key: auto-reset reads `state.key` (an attribute, or the entry "
        "'key' of a dict state)"
    )


def options_of(state: Any) -> Any:
    """The environment parameters kept in ``state`` (attribute ``params``, or entry
    ``"params"`` of a dict state), or ``None``."""
    if isinstance(state, Mapping):
        return state.get("params")
    return getattr(state, "params", None)


_State = TypeVar("_State", bound=type)


def wrapper_state(cls: _State) -> _State:
    """Gives a wrapper's ``NamedTuple`` state (with an ``inner`` field) the read-through
    properties ``key`` (``inner.key``) and ``params`` (`options_of` ``inner``), so an
    auto-reset finds the PRNG key and the environment options anywhere in a stack.
    """
    cls.key = property(  # type: ignore[attr-defined]
        lambda self: key_of(self.inner), doc="The PRNG key of the inner state."
    )
    cls.params = property(  # type: ignore[attr-defined]
        lambda self: options_of(self.inner), doc="The environment options of the inner state."
    )
    return cls
