"""Value checks for pure code: `CheckFinite` and `ValidateAction`.

Both are built on ``jax.experimental.checkify.check``, not on
``jax.debug.callback``, because:

* a checkify check is part of the program: ``checkify.checkify(f)`` returns
  an ``Error`` value beside ``f``'s result, under ``jax.jit``, ``jax.vmap``
  and ``lax.scan`` alike, with no host round trip per step (DESIGN.md: "no
  host round trips"); a debug callback would call back to Python every step
  and could only log, or raise from inside a running computation;
* it cannot be dropped silently: called eagerly a failing check raises
  ``checkify.JaxRuntimeError`` at once, and staged (``jit`` / ``scan`` /
  ``vmap`` under ``jit``) without ``checkify.checkify`` it fails at trace
  time with JAX's "Cannot abstractly evaluate a checkify.check which was
  not functionalized".

Use them as::

    env = ValidateAction(CheckFinite(jit_env.make("CartPole-v1")))
    step = jax.jit(checkify.checkify(env.step))      # errors=checkify.user_checks
    err, (state, ts) = step(state, action)
    err.throw()                                      # checkify.JaxRuntimeError naming the problem

Static facts (the action's structure, shape and dtype) are checked at trace
time with plain Python and raise ``ValueError`` even without ``checkify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify

from jit_env import _core
from jit_env.specs._base import _escape, validate_checked

_FIELDS = ("observation", "reward", "discount", "extras")


def _check_finite_tree(tree: Any, where: str) -> None:
    """One ``checkify.check`` per floating leaf of ``tree``: every entry finite."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    for path, leaf in leaves:
        if not (hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact)):
            continue
        finite = jnp.isfinite(leaf)
        flat = jnp.reshape(finite, (-1,))
        first = jnp.argmin(flat)  # the first non-finite entry (0 if all finite; unused then)
        name = _escape(f"{where}{jax.tree_util.keystr(path)}")
        checkify.check(
            jnp.all(flat),
            name + " is not finite: {n} of " + str(flat.size) + " entries, first at flat "
            "index {first}: {value}",
            n=flat.size - jnp.sum(flat, dtype=jnp.int32),
            first=first,
            value=jnp.reshape(leaf, (-1,))[first],
        )


class CheckFinite(_core.Wrapper):
    """Checks that every TimeStep has finite floating values (``checkify.check``).

    * ``reset`` / ``reset_after`` / ``step``: for each selected TimeStep field,
      every floating leaf must be finite (no NaN, no ``±inf``); a failure
      names the call, the leaf (e.g. ``step: timestep.extras['final_observation']``),
      the number of non-finite entries and the first one. See the module
      docstring for how the check is raised (eagerly: at once; under ``jit``:
      through ``checkify.checkify``).
    * State, TimeStep and specs: unchanged (the values pass through).

    Mirrors Stable-Baselines3's ``VecCheckNan``
    (``stable_baselines3/common/vec_env/vec_check_nan.py``), which checks
    observations and rewards in host code; here the check is pure and jittable.

    Args:
      env: any environment, batched or not.
      fields: the TimeStep fields to check, a subset of ``("observation",
        "reward", "discount", "extras")`` (default all four).

    Raises:
      ValueError: ``fields`` empty or naming something else.
      TypeError: ``fields`` a string instead of a sequence of strings.

    Where in a stack: directly around the environment (or inside
    `NormalizeObservation`, whose statistics one NaN observation would turn
    NaN for the rest of the run).
    """

    def __init__(self, env: _core.Environment, fields: Sequence[str] = _FIELDS):
        super().__init__(env)
        if isinstance(fields, str) or not isinstance(fields, Sequence):
            raise TypeError(
                f"`fields` must be a sequence of field names, got {type(fields).__name__} "
                f"{fields!r}"
            )
        unknown = [f for f in fields if f not in _FIELDS]
        if unknown or not fields:
            raise ValueError(
                f"`fields` must be a non-empty subset of {list(_FIELDS)}, got {list(fields)!r}"
            )
        self._fields = tuple(f for f in _FIELDS if f in fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, fields={self._fields})"

    @property
    def fields(self) -> tuple[str, ...]:
        """The TimeStep fields that are checked."""
        return self._fields

    def _checked(self, out: tuple[Any, _core.TimeStep], call: str) -> tuple[Any, _core.TimeStep]:
        state, ts = out
        for field in self._fields:
            _check_finite_tree(getattr(ts, field), f"CheckFinite: {call} returned timestep.{field}")
        return state, ts

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return self._checked(self.env.reset(key, options=options), "reset")

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        return self._checked(
            _core.reset_after(self.env, previous, key, options=options), "reset_after"
        )

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self._checked(self.env.step(state, action), "step")


class ValidateAction(_core.Wrapper):
    """Rejects actions that do not conform to ``env.action_spec()``.

    * ``step``: before the inner step, the action's pytree structure, shapes
      and dtypes are checked against the action spec (plain Python, at trace
      time: ``ValueError``), then its values: inside the bounds of every
      bounded leaf (``DiscreteArray``: ``0 <= a < num_values``) and, for
      floating leaves, finite. A concrete (eager) action out of bounds raises
      ``ValueError``; a traced one fails through ``checkify.check`` (module
      docstring). Messages name the leaf, the count and the first offending
      value and its bounds.
    * State, TimeStep, specs: unchanged.

    The pure counterpart of gymnasium's ``assert
    self.action_space.contains(action)`` at the top of its environments'
    ``step`` (``gymnasium/envs/classic_control/cartpole.py``); the reference
    environments' own out-of-range behaviour is documented on each, and the
    ``compat`` adapters validate host actions themselves.

    Args:
      env: any environment (batched ones check the batched action spec).

    Raises:
      ValueError: at ``step``, as above.
    """

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        spec = self.env.action_spec()
        header = f"ValidateAction: the action does not conform to {spec!r}"
        validate_checked(spec, action, header)
        leaves = jax.tree.leaves(action)
        if any(hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact) for x in leaves):
            _check_finite_tree(action, "ValidateAction: action")
        return self.env.step(state, action)
