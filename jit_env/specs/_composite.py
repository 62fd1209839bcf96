"""Composite specs: `Tree`, `Tuple`, `Dict` and `Batched`.

A composite describes a pytree of values by a pytree of child specs. Child
specs may themselves be composites; a composite child describes a *subtree*
of the value (so ``Dict(pos=Tuple(a, b))`` describes ``{"pos": (x, y)}``).

Pytrees: `Tree`, `Tuple` and `Dict` (and their subclasses) are registered
pytree nodes whose children are their child specs, with the structure and
name as static auxiliary data, as in jit_env 0.1.5 (``jit_env/specs.py`` at
tag 0.1.5, ``@register_pytree_node_class``). So ``jax.tree.leaves(spec)`` are
the primitive specs (and `Batched` specs, which stay leaves as in 0.1.5:
their only child is the unbatched element spec, so a function mapped over it
would see the wrong shape), and ``jax.tree.map(f, spec)`` maps ``f`` over
them. When ``f`` returns specs the result is a spec again; when it returns
anything else the result is the *value* tree (plain dicts, tuples,
NamedTuples), e.g. ``jax.tree.map(lambda s: s.generate_value(), spec)`` is
``spec.generate_value()`` and ``spec.validate`` accepts it. (0.1.5 instead
returns a ``Dict`` / ``Tuple`` spec object holding the values, which its own
``validate`` rejects.) Specs are static metadata: they are never traced by
``jax.jit``; close over them or pass them as static arguments.

Randomness: ``sample(key)`` splits `key` once into one key per child
(``jax.random.split(key, n)``, children in pytree-flattening order) and
`Batched` splits once per batch element, so the result is deterministic in
`key` and independent across children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util

from jit_env.specs._base import (
    CompositeSpec,
    PrimitiveSpec,
    Spec,
    _concrete,
    _Mismatch,
    _Report,
    is_spec,
)


def _require_specs(specs: Sequence[Any], argname: str) -> None:
    for i, spec in enumerate(specs):
        if not isinstance(spec, Spec):
            raise TypeError(
                f"`{argname}` must hold jit_env.specs.Spec instances, "
                f"got {type(spec).__name__} at position {i}: {spec!r}"
            )


def _flatten_with_keys(spec: Tree) -> tuple[list[tuple[Any, Spec]], tuple]:
    """Children (the child specs) with their keys; aux = (class, structure, name)."""
    if isinstance(spec, Dict):
        keys: list[Any] = [tree_util.DictKey(k) for k in spec.as_spec_struct()]
    elif isinstance(spec, Tuple):
        keys = [tree_util.SequenceKey(i) for i in range(len(spec._leaves))]
    else:
        keys = [tree_util.FlattenedIndexKey(i) for i in range(len(spec._leaves))]
    return list(zip(keys, spec._leaves)), (spec._treedef, spec.name)


def _flatten(spec: Tree) -> tuple[tuple[Spec, ...], tuple]:
    return spec._leaves, (spec._treedef, spec.name)


def _unflattener(cls: type[Tree]) -> Any:
    def unflatten(aux: tuple, children: Any) -> Any:
        treedef, name = aux
        children = tuple(children)
        if not all(isinstance(child, Spec) for child in children):
            # A function mapped over the spec returned values: give the value tree.
            return tree_util.tree_unflatten(treedef, children)
        rebuilt = object.__new__(cls)
        object.__setattr__(rebuilt, "_name", name)
        _set_children(rebuilt, children, treedef)
        return rebuilt

    return unflatten


def register_composite(cls: type[Tree]) -> None:
    """Registers a `Tree` subclass as a pytree node (done for every subclass)."""
    tree_util.register_pytree_with_keys(
        cls, _flatten_with_keys, _unflattener(cls), flatten_func=_flatten
    )


def _set_children(spec: Tree, leaves: tuple[Spec, ...], structure: Any) -> None:
    object.__setattr__(spec, "_leaves", leaves)
    object.__setattr__(spec, "_treedef", structure)
    with_paths, _ = tree_util.tree_flatten_with_path(
        tree_util.tree_unflatten(structure, leaves), is_leaf=is_spec
    )
    object.__setattr__(spec, "_paths", tuple(tree_util.keystr(p) for p, _ in with_paths))


class Tree(CompositeSpec[Any]):
    """A spec for a pytree: child specs arranged by a ``PyTreeDef``.

    Args:
      leaves: the child specs, in the flattening order of `structure`.
      structure: a ``jax.tree_util.PyTreeDef`` with ``len(leaves)`` leaves,
        e.g. ``jax.tree.structure(struct, is_leaf=...)``.
      name: the spec's name.

    Raises:
      TypeError: if a leaf is not a `Spec` or `structure` is not a PyTreeDef.
      ValueError: if ``structure.num_leaves != len(leaves)``.

    Matches jit_env 0.1.5 ``specs.Tree`` (``leave_specs``, ``treedef``,
    ``as_spec_struct``; a pytree node whose children are `leave_specs`, see
    the module docstring). A value conforms when it has exactly `structure`
    (same container types, dict keys, NamedTuple classes) down to the leaves,
    and each leaf conforms to its child spec.
    """

    __slots__ = ("_leaves", "_treedef", "_paths")
    _leaves: tuple[Spec, ...]
    _treedef: tree_util.PyTreeDef
    _paths: tuple[str, ...]

    def __init__(self, leaves: Sequence[Spec], structure: Any, name: str = ""):
        super().__init__(name)
        leaves = tuple(leaves)
        _require_specs(leaves, "leaves")
        if not isinstance(structure, tree_util.PyTreeDef):
            raise TypeError(
                f"`structure` must be a jax.tree_util.PyTreeDef, got {type(structure).__name__}"
            )
        if structure.num_leaves != len(leaves):
            raise ValueError(
                f"`structure` has {structure.num_leaves} leaves but {len(leaves)} `leaves` "
                f"were given: structure={structure}"
            )
        _set_children(self, leaves, structure)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_composite(cls)

    @property
    def leave_specs(self) -> tuple[Spec, ...]:
        """The child specs in flattening order (jit_env 0.1.5 name)."""
        return self._leaves

    @property
    def treedef(self) -> Any:
        """The ``PyTreeDef`` arranging `leave_specs`."""
        return self._treedef

    def as_spec_struct(self) -> Any:
        """The pytree of child specs, e.g. ``{"a": Array(...), "b": ...}``."""
        return tree_util.tree_unflatten(self._treedef, self._leaves)

    def _identity(self) -> tuple:
        return (self._treedef, self._leaves, self.name)

    def __reduce__(self) -> tuple:
        return (Tree, (self._leaves, self._treedef, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_spec_struct()!r}, name={self.name!r})"

    def _check(self, value: Any, path: str, batch: tuple[int, ...], report: _Report) -> None:
        try:
            children = self._treedef.flatten_up_to(value)
        except (ValueError, TypeError) as error:
            report.mismatches.append(
                _Mismatch(
                    path,
                    self,
                    f"expected structure {self._treedef}, got "
                    f"{tree_util.tree_structure(value)} ({error})",
                )
            )
            return
        for child_path, spec, child in zip(self._paths, self._leaves, children):
            spec._check(child, path + child_path, batch, report)

    def generate_value(self) -> Any:
        """The pytree of the children's ``generate_value()``."""
        return tree_util.tree_unflatten(
            self._treedef, [spec.generate_value() for spec in self._leaves]
        )

    def sample(self, key: jax.Array) -> Any:
        """The pytree of child samples, child ``i`` using ``jax.random.split(key, n)[i]``.

        Args:
          key: a typed PRNG key of any implementation or a legacy key.
        """
        if not self._leaves:
            return tree_util.tree_unflatten(self._treedef, [])
        keys = jax.random.split(key, len(self._leaves))
        return tree_util.tree_unflatten(
            self._treedef, [spec.sample(keys[i]) for i, spec in enumerate(self._leaves)]
        )

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Tree:
        return Tree([s._reshaped(prepend, append) for s in self._leaves], self._treedef, self.name)


class Tuple(Tree):
    """A spec for a tuple of values, one child spec per position.

    Args:
      *var_specs: the child specs (at least one).
      name: the spec's name (keyword-only).

    Raises:
      TypeError: if a child is not a `Spec`.
      ValueError: if no child spec is given.

    Matches jit_env 0.1.5 ``specs.Tuple``; values must be ``tuple`` (not
    ``list``).
    """

    __slots__ = ()

    def __init__(self, *var_specs: Spec, name: str = ""):
        if not var_specs:
            raise ValueError("`var_specs` is empty: a Tuple spec needs at least one spec")
        _require_specs(var_specs, "var_specs")
        super().__init__(var_specs, tree_util.tree_structure(var_specs, is_leaf=is_spec), name)

    def __reduce__(self) -> tuple:
        return (_rebuild_tuple, (type(self), self._leaves, self.name))

    def __repr__(self) -> str:
        children = ", ".join(repr(spec) for spec in self._leaves)
        return f"{type(self).__name__}({children}, name={self.name!r})"

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Tuple:
        return type(self)(*[s._reshaped(prepend, append) for s in self._leaves], name=self.name)


def _rebuild_tuple(cls: type, specs: Sequence[Spec], name: str) -> Tuple:
    return cls(*specs, name=name)


class Dict(Tree):
    """A spec for a dict of values, one child spec per key.

    Args:
      dict_spec: mapping from keys to child specs, or ``None``.
      name: the spec's name.
      **kwarg_specs: more child specs by keyword.

    Raises:
      TypeError: if a child is not a `Spec`, or the keys cannot be sorted
        together (e.g. ``1`` and ``"a"``: JAX flattens dicts in sorted key order).
      ValueError: if no child spec is given, or a key appears both in
        `dict_spec` and in `kwarg_specs`.

    Matches jit_env 0.1.5 ``specs.Dict``. Keys are ordered as JAX flattens
    dicts (sorted); values must be ``dict`` with exactly these keys.
    """

    __slots__ = ()

    def __init__(
        self,
        dict_spec: Mapping[Any, Spec] | None = None,
        name: str = "",
        **kwarg_specs: Spec,
    ):
        dict_spec = {} if dict_spec is None else dict(dict_spec)
        overlap = sorted(set(dict_spec) & set(kwarg_specs), key=repr)
        if overlap:
            raise ValueError(f"keys {overlap} given both in `dict_spec` and as keyword arguments")
        full = {**dict_spec, **kwarg_specs}
        if not full:
            raise ValueError(
                "`dict_spec` and `kwarg_specs` are both empty: a Dict spec needs at least one "
                "entry"
            )
        _require_specs(list(full.values()), "dict_spec")
        try:
            sorted(full)
        except TypeError:
            types = sorted({type(k).__name__ for k in full})
            raise TypeError(
                f"`dict_spec` keys must be mutually comparable (JAX sorts dict keys when it "
                f"flattens a dict), got keys of types {types}: {sorted(full, key=repr)}"
            ) from None
        leaves, treedef = tree_util.tree_flatten(full, is_leaf=is_spec)
        super().__init__(leaves, treedef, name)

    def __reduce__(self) -> tuple:
        return (type(self), (self.as_spec_struct(), self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_spec_struct()!r}, name={self.name!r})"

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Dict:
        reshaped = {k: s._reshaped(prepend, append) for k, s in self.as_spec_struct().items()}
        return type(self)(reshaped, name=self.name)


class Batched(CompositeSpec[Any]):
    """A spec that prepends a batch axis of size `num` to every leaf of `spec`.

    Args:
      spec: the spec of one batch element (primitive or composite).
      num: the batch size, a positive int.
      name: the spec's name.

    Raises:
      TypeError: if `spec` is not a `Spec`.
      ValueError: if `num` is not a positive int.

    Matches jit_env 0.1.5 ``specs.Batched``. ``contains`` / ``validate``
    check the whole batch at once (shapes ``(num, *shape)``; bounds
    vectorised, no ``lax.map``); ``generate_value`` repeats the element's
    value; ``sample`` draws element ``i`` with ``jax.random.split(key,
    num)[i]``.
    """

    __slots__ = ("_spec", "_num")
    _spec: Spec
    _num: int

    def __init__(self, spec: Spec, num: int, name: str = ""):
        super().__init__(name)
        if not isinstance(spec, Spec):
            raise TypeError(f"`spec` must be a jit_env.specs.Spec, got {type(spec).__name__}")
        if (
            not isinstance(num, (int, np.integer))
            or isinstance(num, (bool, np.bool_))
            or num <= 0
        ):
            raise ValueError(f"`num` must be a positive int, got {num!r}")
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_num", int(num))

    @property
    def spec(self) -> Spec:
        """The spec of one batch element."""
        return self._spec

    @property
    def num(self) -> int:
        """The batch size."""
        return self._num

    def as_spec_struct(self) -> Any:
        """The element's child specs with the batch axis prepended, one level deep.

        A primitive element gives ``reshape_spec(spec, prepend=(num,))``; a
        composite element gives its ``as_spec_struct()`` with each primitive
        child reshaped and each composite child wrapped in ``Batched(child,
        num)`` (jit_env 0.1.5 behaviour). Use `unpack_spec` to flatten
        recursively.
        """
        base = self._spec
        if isinstance(base, PrimitiveSpec):
            return base._reshaped((self._num,), ())
        struct = base.as_spec_struct() if isinstance(base, CompositeSpec) else base

        def batch(child: Spec) -> Spec:
            if isinstance(child, PrimitiveSpec):
                return child._reshaped((self._num,), ())
            return Batched(child, self._num)

        return jax.tree.map(batch, struct, is_leaf=is_spec)

    def _identity(self) -> tuple:
        return (self._spec, self._num, self.name)

    def __reduce__(self) -> tuple:
        return (type(self), (self._spec, self._num, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._spec!r}, num={self._num}, name={self.name!r})"

    def _check(self, value: Any, path: str, batch: tuple[int, ...], report: _Report) -> None:
        self._spec._check(value, path, (*batch, self._num), report)

    def generate_value(self) -> Any:
        """The element's ``generate_value()`` repeated `num` times along a new axis 0."""

        def repeat(x: Any) -> Any:
            shape = (self._num, *np.shape(x))
            concrete = _concrete(x)
            if concrete is None:  # traced (called under jit)
                return jnp.broadcast_to(x, shape)
            # Eagerly: built in NumPy and transferred, nothing to compile per shape.
            return jax.device_put(np.array(np.broadcast_to(concrete, shape)))

        return jax.tree.map(repeat, self._spec.generate_value())

    def sample(self, key: jax.Array) -> Any:
        """`num` independent element samples stacked on axis 0.

        Args:
          key: a typed PRNG key of any implementation or a legacy key.
        """
        return jax.vmap(self._spec.sample)(jax.random.split(key, self._num))

    def _reshaped(self, prepend: tuple[int, ...], append: tuple[int, ...]) -> Batched:
        inner = self._spec._reshaped((), append) if append else self._spec
        result = Batched(inner, self._num, self.name)
        for size in reversed(prepend):
            result = Batched(result, size)
        return result



register_composite(Tree)
