"""Observation wrappers: `FlattenObservation`, `FrameStack`, `ExtendObservation`,
`TransformObservation`.

Each one transforms ``extras["final_observation"]`` too when present, so the
final observation of an auto-reset stays comparable with ``observation``.
On a batched environment (observation leaves with leading batch axes beyond
the observation spec, e.g. under `VmapAutoReset`) they act per batch element.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import (
    broadcast_mask,
    leaf_batch_ndim,
    peel_batched,
    rebatch,
    wrapper_state,
)
from jit_env.wrappers._base import MapTimeStep


def _map_observations(ts: _core.TimeStep, fn: Callable[[Any], Any]) -> _core.TimeStep:
    extras = ts.extras
    if extras is not None and "final_observation" in extras:
        extras = dict(extras)
        extras["final_observation"] = fn(extras["final_observation"])
    return dataclasses.replace(ts, observation=fn(ts.observation), extras=extras)


def _array_element(env: _core.Environment, wrapper: str) -> tuple[specs.Array, tuple[int, ...]]:
    element, nums = peel_batched(env.observation_spec())
    if not isinstance(element, specs.Array):
        raise TypeError(f"{wrapper} needs an array observation spec, got {element!r}")
    return element, nums


class FlattenObservation(MapTimeStep):
    """Flattens each observation to one axis (gymnasium 1.x ``FlattenObservation``).

    * TimeStep: ``observation`` (and ``extras["final_observation"]``) of
      shape ``[*batch, *shape]`` becomes ``[*batch, prod(shape)]``, dtype kept.
    * State: unchanged.
    * Specs: the observation spec (inside any `specs.Batched` layers) is
      reshaped to ``(prod(shape),)``; `specs.BoundedArray` bounds are
      flattened with it; a `specs.DiscreteArray` becomes a `BoundedArray`.

    Args:
      env: an environment with an array observation spec.

    Raises:
      TypeError: for a composite (tree) observation spec.
    """

    def __init__(self, env: _core.Environment):
        super().__init__(env)
        self._element, self._nums = _array_element(env, "FlattenObservation")
        self._size = int(np.prod(self._element.shape, dtype=np.int64))

    def _flatten(self, x: Any) -> jax.Array:
        nd = leaf_batch_ndim(x, self._element.shape, "FlattenObservation")
        return jnp.reshape(x, (*jnp.shape(x)[:nd], self._size))

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep with its observations flattened."""
        return _map_observations(timestep, self._flatten)

    def observation_spec(self) -> specs.Spec:
        e = self._element
        shape = (self._size,)
        flat: specs.Array
        if isinstance(e, specs.BoundedArray):
            low = np.broadcast_to(e.minimum, e.shape).reshape(shape)
            high = np.broadcast_to(e.maximum, e.shape).reshape(shape)
            flat = specs.BoundedArray(shape, e.dtype, low, high, name=e.name)
        else:
            flat = specs.Array(shape, e.dtype, name=e.name)
        return rebatch(flat, self._nums)


@wrapper_state
class FrameStackState(NamedTuple):
    """State of `FrameStack`.

    Attributes:
      inner: the wrapped environment's state.
      frames: the last ``num_stack`` observations, ``[*batch, num_stack, *shape]``
        (oldest first).
    """

    inner: Any
    frames: jax.Array


class FrameStack(_core.Wrapper):
    """Observations become the last ``num_stack`` observations (gymnasium 1.x
    ``FrameStackObservation`` with ``padding_type="reset"``).

    * TimeStep: ``observation`` is ``[*batch, num_stack, *shape]``, oldest
      first. At an episode start (``reset``, or a ``FIRST`` coming out of
      ``step`` under a same-step auto-reset) the stack is filled with the first
      observation. ``extras["final_observation"]``, when present, becomes the
      stack that ends the finished episode.
    * State: `FrameStackState`.
    * Specs: observation spec ``reshape_spec(spec, prepend=(num_stack,))``
      inside any `specs.Batched` layers.

    Args:
      env: an environment with an array observation spec.
      num_stack: positive int.

    Raises:
      ValueError: if ``num_stack`` is not a positive int.
      TypeError: for a composite observation spec.

    Where in a stack: outside `TimeLimit`; inside or outside the auto-reset.
    """

    def __init__(self, env: _core.Environment, num_stack: int):
        super().__init__(env)
        if (
            isinstance(num_stack, bool)
            or not isinstance(num_stack, (int, np.integer))
            or num_stack < 1
        ):
            raise ValueError(f"`num_stack` must be a positive int, got {num_stack!r}")
        self._num_stack = int(num_stack)
        self._element, self._nums = _array_element(env, "FrameStack")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, num_stack={self._num_stack})"

    def _filled(self, obs: jax.Array) -> jax.Array:
        nd = leaf_batch_ndim(obs, self._element.shape, "FrameStack")
        expanded = jnp.expand_dims(obs, nd)
        shape = (*jnp.shape(obs)[:nd], self._num_stack, *self._element.shape)
        return jnp.broadcast_to(expanded, shape)

    def _pushed(self, frames: jax.Array, obs: jax.Array) -> jax.Array:
        nd = leaf_batch_ndim(obs, self._element.shape, "FrameStack")
        return jnp.concatenate(
            [
                frames[(slice(None),) * nd + (slice(1, None),)],
                jnp.expand_dims(obs, nd).astype(frames.dtype),
            ],
            axis=nd,
        )

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[FrameStackState, _core.TimeStep]:
        return self._start(*self.env.reset(key, options=options))

    def reset_after(
        self, previous: FrameStackState, key: jax.Array, *, options: Any = None
    ) -> tuple[FrameStackState, _core.TimeStep]:
        """`reset` after ``previous`` (frames restart; the inner state's
        `jit_env.reset_after` keeps what inner wrappers keep)."""
        return self._start(*_core.reset_after(self.env, previous.inner, key, options=options))

    def _start(self, inner: Any, ts: _core.TimeStep) -> tuple[FrameStackState, _core.TimeStep]:
        frames = self._filled(ts.observation)
        return FrameStackState(inner, frames), _map_observations(ts, self._filled)

    def step(self, state: FrameStackState, action: Any) -> tuple[FrameStackState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        pushed = self._pushed(state.frames, ts.observation)
        restarted = self._filled(ts.observation)
        frames = jnp.where(broadcast_mask(ts.first(), pushed), restarted, pushed)
        extras = ts.extras
        if extras is not None and "final_observation" in extras:
            extras = dict(extras)
            extras["final_observation"] = self._pushed(state.frames, extras["final_observation"])
        return FrameStackState(inner, frames), dataclasses.replace(
            ts, observation=frames, extras=extras
        )

    def observation_spec(self) -> specs.Spec:
        stacked = specs.reshape_spec(self._element, prepend=(self._num_stack,))
        return rebatch(stacked, self._nums)

    def render(self, state: FrameStackState) -> Any:
        return self.env.render(state.inner)


@wrapper_state
class ExtendObservationState(NamedTuple):
    """State of `ExtendObservation`: the inner state (the action enters the observation
    directly; nothing else is kept)."""

    inner: Any


EXTEND_FIELDS = ("step_type", "reward", "discount", "observation", "action")
"""The names `ExtendObservation` accepts: the TimeStep fields (but ``extras``) and
``"action"`` (jit_env 0.1.5 ``wrappers.ExtendObservation``)."""

POMDP_FIELDS = ("observation", "action", "reward", "discount", "step_type")
"""The fields of `ExtendObservation.pomdp_fields`, in jit_env 0.1.5's order."""

_STEP_TYPE_SPEC = specs.BoundedArray((), np.int8, 0, 2, name="step_type")


class ExtendObservation(_core.Wrapper):
    """Replaces the observation by a namedtuple of TimeStep fields and the action
    (jit_env 0.1.5 ``wrappers.ExtendObservation``), for agents on POMDPs.

    ``ExtendObservation(env, "observation", "action", "reward")`` makes every
    observation ``Observation(observation=obs, action=a_tm1, reward=r_t)``: a
    ``collections.namedtuple`` named ``"Observation"`` whose fields are the
    requested names, in the order given (repeats dropped). Only the requested
    fields are kept: leave out ``"observation"`` and the inner observation is
    gone, as in 0.1.5. `pomdp_fields` asks for all five.

    * ``action``: the action passed to ``step`` (cast to the action spec's
      dtypes, so the observation's dtypes never change between steps); on
      ``reset`` (and after a ``"next_step"`` auto-reset inside) it is
      ``action_spec().generate_value()`` (zeros, or the minima), as in 0.1.5.
    * ``reward``, ``discount``, ``step_type``: the TimeStep's own fields.
    * ``extras["final_observation"]`` is extended the same way.
    * Specs: ``specs.Tree`` over the namedtuple of the inner observation,
      action, reward and discount specs and ``BoundedArray((), int8, 0, 2)``
      for ``step_type`` (batched like the action spec on a batched
      environment). State: `ExtendObservationState` (the inner state).

    Args:
      env: any environment.
      *values: names from `EXTEND_FIELDS`.

    Raises:
      ValueError: no name given, or a name outside `EXTEND_FIELDS` (``extras``
        included: it has no spec and is excluded from TimeStep comparisons).

    Differences from 0.1.5 (``jit_env/wrappers.py`` at tag 0.1.5): 0.1.5 keeps
    the names in a ``set``, so the namedtuple's field order changes with
    Python's string hashing from one process to the next; here it is the
    order given. 0.1.5 declares ``step_type`` with maximum 3; `StepType`'s
    largest value is 2. 0.1.5 accepts ``"extras"`` and then fails in
    ``observation_spec``; this raises at construction.
    """

    def __init__(self, env: _core.Environment, *values: str):
        super().__init__(env)
        if not values:
            raise ValueError(
                f"`values` is empty: name at least one of {EXTEND_FIELDS} to extend "
                "the observation with"
            )
        bad = [v for v in values if v not in EXTEND_FIELDS]
        if bad:
            raise ValueError(f"`values` must be names from {EXTEND_FIELDS}, got {bad!r}")
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(values))
        self.ObsStruct = collections.namedtuple("Observation", self.fields)  # type: ignore[misc]

    @classmethod
    def pomdp_fields(cls, env: _core.Environment) -> ExtendObservation:
        """``ExtendObservation(env, *POMDP_FIELDS)``: the observation, the previous
        action, reward, discount and step type (jit_env 0.1.5 classmethod)."""
        return cls(env, *POMDP_FIELDS)

    def __repr__(self) -> str:
        names = ", ".join(repr(f) for f in self.fields)
        return f"{type(self).__name__}(env={self.env!r}, {names})"

    def _extend(self, ts: _core.TimeStep, action: Any) -> _core.TimeStep:
        values = {
            "action": action,
            "reward": ts.reward,
            "discount": ts.discount,
            "step_type": ts.step_type,
        }

        def extend(obs: Any) -> Any:
            return self.ObsStruct(
                **{f: obs if f == "observation" else values[f] for f in self.fields}
            )

        return _map_observations(ts, extend)

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[ExtendObservationState, _core.TimeStep]:
        return self._start(*self.env.reset(key, options=options))

    def reset_after(
        self, previous: ExtendObservationState, key: jax.Array, *, options: Any = None
    ) -> tuple[ExtendObservationState, _core.TimeStep]:
        """`reset` after ``previous`` (the inner state's `jit_env.reset_after`)."""
        return self._start(*_core.reset_after(self.env, previous.inner, key, options=options))

    def _start(
        self, inner: Any, ts: _core.TimeStep
    ) -> tuple[ExtendObservationState, _core.TimeStep]:
        batch = jnp.shape(ts.step_type)
        element, _ = peel_batched(self.env.action_spec())
        action = jax.tree.map(
            lambda a: jnp.broadcast_to(a, (*batch, *jnp.shape(a))), element.generate_value()
        )
        return ExtendObservationState(inner), self._extend(ts, action)

    def step(
        self, state: ExtendObservationState, action: Any
    ) -> tuple[ExtendObservationState, _core.TimeStep]:
        inner, ts = self.env.step(state.inner, action)
        element, _ = peel_batched(self.env.action_spec())
        action = jax.tree.map(
            lambda a, e: jnp.asarray(a, jnp.result_type(e)), action, element.generate_value()
        )
        return ExtendObservationState(inner), self._extend(ts, action)

    def observation_spec(self) -> specs.Spec:
        _, nums = peel_batched(self.env.action_spec())
        getters = {
            "observation": self.env.observation_spec,
            "action": self.env.action_spec,
            "reward": self.env.reward_spec,
            "discount": self.env.discount_spec,
            "step_type": lambda: rebatch(_STEP_TYPE_SPEC, nums),
        }
        struct = self.ObsStruct(**{f: getters[f]() for f in self.fields})
        leaves, treedef = jax.tree.flatten(struct, is_leaf=lambda x: isinstance(x, specs.Spec))
        return specs.Tree(leaves, treedef, name="Observation")

    def render(self, state: ExtendObservationState) -> Any:
        return self.env.render(state.inner)


class TransformObservation(MapTimeStep):
    """Applies a pure function to every observation (gymnasium 1.x ``TransformObservation``).

    * TimeStep: ``observation = fn(observation)``, also applied to
      ``extras["final_observation"]``.  * State: unchanged.
    * Specs: ``observation_spec`` is the given spec.

    Args:
      env: any environment.
      fn: a pure, jittable function of one observation (of the batch, if the
        environment is batched: it sees what ``step`` returns).
      observation_spec: the spec of ``fn``'s output, or ``None`` to use an
        unbounded `specs.Array` with the shape/dtype ``fn`` produces on
        ``env.observation_spec().generate_value()``.

    Raises:
      TypeError: if ``fn`` is not callable or ``observation_spec`` is not a Spec.
      ValueError: at construction, if ``fn(observation_spec().generate_value())``
        does not conform to ``observation_spec`` in shape/dtype/structure.
    """

    def __init__(
        self,
        env: _core.Environment,
        fn: Callable[[Any], Any],
        observation_spec: specs.Spec | None = None,
    ):
        super().__init__(env)
        if not callable(fn):
            raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
        out = jax.eval_shape(fn, env.observation_spec().generate_value())
        if observation_spec is None:
            if not isinstance(out, jax.ShapeDtypeStruct):
                raise ValueError(
                    "TransformObservation: give `observation_spec` for a pytree output"
                )
            observation_spec = specs.Array(out.shape, out.dtype, name="TransformedObservation")
        if not isinstance(observation_spec, specs.Spec):
            raise TypeError(
                f"`observation_spec` must be a Spec, got {type(observation_spec).__name__}"
            )
        _check_conforms(out, observation_spec, "observation_spec", "fn")
        self._fn = fn
        self._spec = observation_spec

    def map_timestep(self, timestep: _core.TimeStep) -> _core.TimeStep:
        """The TimeStep with ``observation = fn(observation)``."""
        return _map_observations(timestep, self._fn)

    def observation_spec(self) -> specs.Spec:
        return self._spec


def _check_conforms(shapes: Any, spec: specs.Spec, spec_name: str, fn_name: str) -> None:
    """Raises ValueError unless the abstract value ``shapes`` has ``spec``'s structure,
    shapes and dtypes (checked on ``spec.generate_value()``)."""
    expected = jax.eval_shape(spec.generate_value)
    got_def: jax.tree_util.PyTreeDef = jax.tree.structure(shapes)
    exp_def: jax.tree_util.PyTreeDef = jax.tree.structure(expected)
    if got_def != exp_def:
        raise ValueError(
            f"`{fn_name}` returns structure {got_def}, `{spec_name}` expects {exp_def}"
        )
    bad = [
        f"{g.shape}/{g.dtype} vs {e.shape}/{e.dtype}"
        for g, e in zip(jax.tree.leaves(shapes), jax.tree.leaves(expected))
        if g.shape != e.shape or g.dtype != e.dtype
    ]
    if bad:
        raise ValueError(
            f"`{fn_name}` output does not match `{spec_name}` (got vs expected shape/dtype): "
            + "; ".join(bad)
        )
