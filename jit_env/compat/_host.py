"""Host-side data conversion shared by the stateful adapters.

JAX results become fresh NumPy arrays (never views shared between calls, as
gymnasium's ``check_env`` requires); actions coming from NumPy / Python are
cast to the action spec's dtype only when the cast is within the same kind
(``int64 -> int32``, ``float64 -> float32``), never across kinds, and only
after their values were checked against the spec's bounds (`action_caster`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.compat._keys import as_key


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


def _check_values(leaf: Any, spec: specs.Array, where: str) -> None:
    """Raises `ValueError` unless every entry of ``leaf`` lies in ``spec``'s bounds
    (`specs.BoundedArray` / `specs.DiscreteArray`) and, for a floating leaf, is finite.

    Checked on the values as given, before any cast (an ``int64`` 2**32 must not
    wrap to a valid ``int32`` 0). A JAX array is checked on its device; only one
    ``bool`` comes back unless the check fails.
    """
    bounded = isinstance(spec, specs.BoundedArray)
    floating = np.issubdtype(np.dtype(leaf.dtype), np.inexact)
    if not (bounded or floating):
        return
    xp: Any = jnp if isinstance(leaf, jax.Array) else np
    ok = xp.isfinite(leaf) if floating else xp.ones(leaf.shape, bool)
    if floating and np.issubdtype(np.dtype(spec.dtype), np.floating):
        ok = ok & (xp.abs(leaf) <= np.finfo(spec.dtype).max)  # finite after the cast too
    if isinstance(spec, specs.BoundedArray):
        ok = ok & (leaf >= spec.minimum) & (leaf <= spec.maximum)
    if bool(xp.all(ok)):
        return
    ok, values = np.asarray(ok), np.asarray(leaf)
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    spec_index = index[len(index) - len(spec.shape):]
    if isinstance(spec, specs.BoundedArray):
        low, high = spec.minimum[spec_index].item(), spec.maximum[spec_index].item()
        problem = f"not in [{low!r}, {high!r}]"
    else:
        problem = f"is not a finite {np.dtype(spec.dtype).name}"
    hint = (
        "; to clip such actions instead, wrap the jit_env environment in "
        "jit_env.wrappers.ClipAction"
        if bounded and floating else ""
    )
    raise ValueError(
        f"{where} is outside the action spec {spec!r}: {int(np.sum(~ok))} of {ok.size} "
        f"entries invalid, first at index {index}: {values[index].item()!r} {problem}"
        + hint
    )


def action_caster(action_spec: specs.Spec, argument: str = "action"):
    """A function validating a NumPy / Python / JAX action (tree) against
    ``action_spec`` and casting it to the spec's dtypes.

    The returned function raises `TypeError` naming ``argument`` when a leaf's
    dtype cannot be cast within its kind (e.g. a float for an integer spec),
    and `ValueError` when the tree structure or a shape differs from the spec,
    or a value lies outside a bounded leaf's ``[minimum, maximum]`` or is not
    finite (floating leaves): the error gymnasium's own environments give with
    ``assert self.action_space.contains(action)``
    (``gymnasium/envs/classic_control/cartpole.py``, ``CartPoleEnv.step``),
    and that a jitted jit_env step cannot give. JAX arrays already of the
    right dtype are not copied (their check runs on their device).
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
            if leaf.dtype != dtype and not np.can_cast(leaf.dtype, dtype, "same_kind"):
                raise TypeError(
                    f"{where} has dtype {leaf.dtype}, expected {dtype} (the action spec's); "
                    "refusing a cast across kinds"
                )
            expected = tuple(batch_shape) + tuple(spec.shape)
            if tuple(leaf.shape) != expected:
                raise ValueError(f"{where} has shape {tuple(leaf.shape)}, expected {expected}")
            _check_values(leaf, spec, where)
            out.append(leaf.astype(dtype) if leaf.dtype != dtype else leaf)
        return jax.tree.unflatten(treedef, out)

    return cast


class HostView:
    """Mixin of the stateful host adapters: the wrapped environment and its current state.

    `to_dm_env`, `to_gymnasium` and `to_pettingzoo` keep the jit_env environment
    in ``self._env`` and its latest (device) state in ``self._state``; this
    exposes both read-only and writes ``repr`` as the call that built the
    adapter (``_adapter``, e.g. ``"to_gymnasium"``).
    """

    _adapter = "adapter"
    _env: Any
    _state: Any
    _options: Any
    _key: Any

    @property
    def env(self) -> Any:
        """The wrapped jit_env environment."""
        return self._env

    @property
    def state(self) -> Any:
        """The current (device) state of the jit_env environment, or ``None``."""
        return self._state

    def __repr__(self) -> str:
        return f"{self._adapter}({self._env!r})"

    def _hold(self, env: Any, seed: Any, options: Any) -> None:
        """Checks ``env`` and keeps it, its ``options`` and the first key (``None``: none yet).

        ``seed`` is a checked int seed or ``None``.

        Raises:
          TypeError: if ``env`` is not a jit_env `Environment`.
        """
        if not isinstance(env, _core.Environment):
            raise TypeError(f"`env` must be a jit_env.Environment, got {type(env).__name__}")
        self._env = env
        self._options = options
        self._key = None if seed is None else as_key(seed, "seed")
        self._state = None
