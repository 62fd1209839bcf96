"""Action wrappers: `ActionRepeat`, `ClipAction`, `RescaleAction`, `TransformAction`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import broadcast_mask, peel_batched, rebatch, strong
from jit_env.wrappers._observation import _check_conforms


class ActionRepeat(_core.Wrapper):
    """Repeats every action ``n`` times (dm_control / acme ``ActionRepeat``).

    * TimeStep: the last inner TimeStep, with ``reward`` the sum of the inner
      rewards and ``discount`` the product of the inner discounts. The repeat
      stops early at the first inner step that is not ``MID`` (``LAST``, or
      ``FIRST`` under a same-step auto-reset): later repeats are computed but
      discarded (``lax.scan`` with a select), so no step after the episode's
      end leaks in. ``extras`` are those of the last applied inner step.
    * State: unchanged (the inner state after the last applied step).
    * Specs: unchanged.

    Args:
      env: any environment (single or batched).
      n: repeats, a positive int.

    Raises:
      ValueError: if ``n`` is not a positive int.
    """

    def __init__(self, env: _core.Environment, n: int):
        super().__init__(env)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"`n` must be a positive int, got {n!r}")
        self._n = int(n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, n={self._n})"

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        state, ts = strong(self.env.step(state, action))
        if self._n == 1:
            return state, ts

        def body(carry, _):
            state, ts, reward, discount = carry
            running = ts.mid()
            new_state, new_ts = strong(self.env.step(state, action))
            state = jax.tree.map(
                lambda a, b: jnp.where(broadcast_mask(running, a), a, b), new_state, state
            )
            ts = jax.tree.map(lambda a, b: jnp.where(broadcast_mask(running, a), a, b), new_ts, ts)
            mask = broadcast_mask(running, reward)
            reward = jnp.where(mask, reward + new_ts.reward, reward)
            discount = jnp.where(mask, discount * new_ts.discount, discount)
            return (state, ts, reward, discount), None

        (state, ts, reward, discount), _ = jax.lax.scan(
            body, (state, ts, ts.reward, ts.discount), None, length=self._n - 1
        )
        return state, dataclasses.replace(ts, reward=reward, discount=discount)


def _float_bounded_action(env: _core.Environment, wrapper: str):
    element, nums = peel_batched(env.action_spec())
    if (
        not isinstance(element, specs.BoundedArray)
        or isinstance(element, specs.DiscreteArray)
        or not jnp.issubdtype(element.dtype, jnp.floating)
    ):
        raise TypeError(f"{wrapper} needs a floating BoundedArray action spec, got {element!r}")
    return element, nums


class ClipAction(_core.Wrapper):
    """Clips actions to the action spec's bounds (gymnasium 1.x ``ClipAction``).

    * ``step``: ``env.step(state, clip(action, minimum, maximum))``.
    * TimeStep, state: unchanged.
    * Specs: the action spec becomes an unbounded `specs.Array` of the same
      shape and dtype (any real action is accepted).

    Args:
      env: an environment with a floating `specs.BoundedArray` action spec
        (possibly inside `specs.Batched`).

    Raises:
      TypeError: for any other action spec.
    """

    def __init__(self, env: _core.Environment):
        super().__init__(env)
        self._element, self._nums = _float_bounded_action(env, "ClipAction")
        e = self._element
        self._low = np.broadcast_to(e.minimum, e.shape).astype(e.dtype)
        self._high = np.broadcast_to(e.maximum, e.shape).astype(e.dtype)

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        action = jnp.asarray(action, self._element.dtype)
        shape = jnp.shape(action)
        action = jnp.clip(
            action, jnp.broadcast_to(self._low, shape), jnp.broadcast_to(self._high, shape)
        )
        return self.env.step(state, action)

    def action_spec(self) -> specs.Spec:
        e = self._element
        return rebatch(specs.Array(e.shape, e.dtype, name=e.name), self._nums)


class RescaleAction(_core.Wrapper):
    """Affinely maps actions from ``[min_action, max_action]`` to the environment's bounds
    (gymnasium 1.x ``RescaleAction``).

    ``inner = low + (high - low) * (action - min_action) / (max_action - min_action)``.

    * ``step``: applies the map, then ``env.step`` (no clipping: put
      `ClipAction` outside to clip).  * TimeStep, state: unchanged.
    * Specs: the action spec becomes ``BoundedArray(shape, dtype, min_action,
      max_action)`` (inside any `specs.Batched` layers).

    Args:
      env: an environment with a floating, finitely bounded `specs.BoundedArray`
        action spec.
      min_action: new lower bound(s), scalar or broadcastable to the shape.
      max_action: new upper bound(s).

    Raises:
      TypeError: for another action spec.
      ValueError: infinite inner bounds, bounds not broadcastable to the action
        shape, or ``min_action >= max_action`` anywhere.
    """

    def __init__(self, env: _core.Environment, min_action: Any, max_action: Any):
        super().__init__(env)
        e, self._nums = _float_bounded_action(env, "RescaleAction")
        shape = e.shape
        try:
            lo = np.broadcast_to(np.asarray(min_action, np.float64), shape)
            hi = np.broadcast_to(np.asarray(max_action, np.float64), shape)
        except ValueError:
            raise ValueError(
                f"`min_action` {np.shape(min_action)} / `max_action` {np.shape(max_action)} "
                f"are not "
                f"broadcastable to the action shape {shape}"
            ) from None
        if not np.all(lo < hi):
            raise ValueError(
                f"`min_action` must be < `max_action` everywhere, got "
                f"{min_action!r}, {max_action!r}"
            )
        low = np.broadcast_to(e.minimum, shape).astype(np.float64)
        high = np.broadcast_to(e.maximum, shape).astype(np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"RescaleAction needs finite action bounds, got {e!r}")
        self._element = e
        self._min, self._max = lo, hi
        self._scale = ((high - low) / (hi - lo)).astype(e.dtype)
        self._offset = (low - lo * (high - low) / (hi - lo)).astype(e.dtype)

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        action = jnp.asarray(action, self._element.dtype)
        shape = jnp.shape(action)
        action = action * jnp.broadcast_to(self._scale, shape) + jnp.broadcast_to(
            self._offset, shape
        )
        return self.env.step(state, action)

    def action_spec(self) -> specs.Spec:
        e = self._element
        spec = specs.BoundedArray(e.shape, e.dtype, self._min, self._max, name=e.name)
        return rebatch(spec, self._nums)


class TransformAction(_core.Wrapper):
    """Applies a pure function to every action before ``step`` (gymnasium 1.x
    ``TransformAction``).

    * ``step``: ``env.step(state, fn(action))``.  * TimeStep, state: unchanged.
    * Specs: ``action_spec`` is the given spec (the actions the agent sends).

    Args:
      env: any environment.
      fn: pure, jittable map from the new actions to the environment's.
      action_spec: the spec of the new actions.

    Raises:
      TypeError: non-callable ``fn`` or a non-Spec ``action_spec``.
      ValueError: at construction, if ``fn(action_spec.generate_value())`` does
        not match ``env.action_spec()`` in structure, shape and dtype.
    """

    def __init__(self, env: _core.Environment, fn: Callable[[Any], Any], action_spec: specs.Spec):
        super().__init__(env)
        if not callable(fn):
            raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
        if not isinstance(action_spec, specs.Spec):
            raise TypeError(f"`action_spec` must be a Spec, got {type(action_spec).__name__}")
        out = jax.eval_shape(fn, action_spec.generate_value())
        _check_conforms(out, env.action_spec(), "env.action_spec()", "fn")
        self._fn = fn
        self._spec = action_spec

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self.env.step(state, self._fn(action))

    def action_spec(self) -> specs.Spec:
        return self._spec
