"""Specs: static, hashable descriptions of the arrays an environment exchanges.

Use the module namespace (``from jit_env import specs; specs.Array(...)``) to
avoid clashing with ``typing.Tuple`` / ``typing.Dict`` (jit_env 0.1.5 advice).

Every spec has ``generate_value()``, ``sample(key)``, ``contains(value)``
(a jittable, vmappable ``bool[]`` that never raises) and ``validate(value)``
(raises ``ValueError`` naming the spec, the path and expected vs actual;
bound checks on traced values go through ``jax.experimental.checkify``).
The API is jit_env 0.1.5's; see `Spec` for details. As in 0.1.5, `Tree`,
`Tuple` and `Dict` are pytree nodes over their child specs, so
``jax.tree.map(lambda s: s.generate_value(), spec)`` builds the value tree;
specs are static metadata and never pass through ``jax.jit`` as arguments.
"""

from jit_env.specs._base import CompositeSpec, PrimitiveSpec, Spec
from jit_env.specs._composite import Batched, Dict, Tree, Tuple
from jit_env.specs._environment import (
    EnvironmentSpec,
    make_environment_spec,
    reshape_spec,
    unpack_spec,
)
from jit_env.specs._primitive import Array, BoundedArray, DiscreteArray

__all__ = [
    "Array",
    "Batched",
    "BoundedArray",
    "CompositeSpec",
    "Dict",
    "DiscreteArray",
    "EnvironmentSpec",
    "PrimitiveSpec",
    "Spec",
    "Tree",
    "Tuple",
    "make_environment_spec",
    "reshape_spec",
    "unpack_spec",
]
