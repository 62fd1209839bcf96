"""Spec transformations (`reshape_spec`, `unpack_spec`) and `EnvironmentSpec`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jit_env.specs._base import CompositeSpec, Spec, is_spec


def _dims(value: Any, argname: str) -> tuple[int, ...]:
    try:
        dims = tuple(value)
    except TypeError:
        raise TypeError(
            f"`{argname}` must be a sequence of ints, got {type(value).__name__} {value!r}"
        ) from None
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, (bool, np.bool_)) or d < 0:
            raise ValueError(f"`{argname}` must hold non-negative ints, got {value!r}")
    return tuple(int(d) for d in dims)


def reshape_spec(spec: Spec, prepend: Sequence[int] = (), append: Sequence[int] = ()) -> Spec:
    """Adds leading (`prepend`) and trailing (`append`) axes to a spec.

    * `Array`: ``shape -> (*prepend, *shape, *append)``.
    * `BoundedArray`: the same, with the bounds broadcast (without copying)
      to the new shape.
    * `DiscreteArray`: ``num_values`` broadcast to the new shape.
    * `Tree` / `Tuple` / `Dict`: the same class, every child reshaped.
    * `Batched(s, n)`: ``Batched(reshape_spec(s, append=append), n)``, wrapped
      in one `Batched` per `prepend` entry (outermost first).

    Args:
      spec: the spec to reshape.
      prepend: sizes of the new leading axes, non-negative ints.
      append: sizes of the new trailing axes, non-negative ints.

    Returns:
      the reshaped spec (same name).

    Raises:
      TypeError: if `spec` is not a `Spec` or `prepend` / `append` are not sequences.
      ValueError: if `prepend` / `append` hold negative or non-int entries.
      NotImplementedError: for a `Spec` subclass without a reshape rule.

    Matches jit_env 0.1.5 ``specs.reshape_spec`` (extended to composites).
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"`spec` must be a jit_env.specs.Spec, got {type(spec).__name__}")
    return spec._reshaped(_dims(prepend, "prepend"), _dims(append, "append"))


def unpack_spec(spec: Any) -> Any:
    """Recursively replaces composite specs by pytrees of primitive specs.

    ``unpack_spec(Dict(a=Batched(Tuple(x, y), 4)))`` is
    ``{"a": (reshape_spec(x, (4,)), reshape_spec(y, (4,)))}``; a primitive spec is
    returned as is. Also accepts a pytree (dict, list, tuple, NamedTuple) of specs.

    Args:
      spec: a `Spec`, or a pytree whose leaves are all `Spec` instances.

    Returns:
      the same structure with every composite replaced by the pytree of the
      primitive specs it describes.

    Raises:
      TypeError: if `spec` holds anything that is not a `Spec` (e.g. a value
        tree of arrays), naming the path and the type found.

    Matches jit_env 0.1.5 ``specs.unpack_spec`` on specs; 0.1.5 returns a
    non-spec input unchanged, this raises (the call is always a mistake).
    """
    if isinstance(spec, CompositeSpec):
        return unpack_spec(spec.as_spec_struct())
    if isinstance(spec, Spec):
        return spec
    with_paths, _ = jax.tree_util.tree_flatten_with_path(spec, is_leaf=is_spec)
    bad = [(jax.tree_util.keystr(p), x) for p, x in with_paths if not isinstance(x, Spec)]
    if bad or not with_paths:
        where, leaf = bad[0] if bad else ("", spec)
        raise TypeError(
            f"`spec` must be a jit_env.specs.Spec or a pytree of specs, got "
            f"{type(leaf).__name__} at spec{where}"
        )
    return jax.tree.map(unpack_spec, spec, is_leaf=is_spec)


class EnvironmentSpec(NamedTuple):
    """The four specs of an environment (jit_env 0.1.5 / acme ``EnvironmentSpec``).

    Attributes:
      observations: spec of ``timestep.observation``.
      actions: spec of the action passed to ``step``.
      rewards: spec of ``timestep.reward``.
      discounts: spec of ``timestep.discount``.
    """

    observations: Spec
    actions: Spec
    rewards: Spec
    discounts: Spec


def make_environment_spec(env: Any) -> EnvironmentSpec:
    """Collects ``env``'s ``observation_spec()``, ``action_spec()``, ``reward_spec()``
    and ``discount_spec()`` into an `EnvironmentSpec`.

    Args:
      env: a ``jit_env.Environment`` (any object with the four spec methods).

    Raises:
      TypeError: if `env` lacks one of the four spec methods.

    Matches jit_env 0.1.5 ``specs.make_environment_spec``.
    """
    methods = ("observation_spec", "action_spec", "reward_spec", "discount_spec")
    missing = [m for m in methods if not callable(getattr(env, m, None))]
    if missing:
        raise TypeError(f"`env` ({type(env).__name__}) lacks spec method(s) {missing}")
    return EnvironmentSpec(
        observations=env.observation_spec(),
        actions=env.action_spec(),
        rewards=env.reward_spec(),
        discounts=env.discount_spec(),
    )
