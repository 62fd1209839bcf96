"""The jitted ``reset`` / ``step`` the stateful adapters call, compiled once per environment.

Adapters built around the same environment object (e.g. the sub-environments
of a ``gymnasium.vector.SyncVectorEnv``, or a fresh adapter per test) share
one pair of compiled functions. The cache holds the environment weakly: the
compiled functions reach it through a ``weakref``, so dropping the
environment frees them.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import jax

from jit_env import _core
from jit_env.compat._keys import split_chain


def reset_fn(env: _core.Environment, chain_key: jax.Array, options: Any, previous: Any = None):
    """Splits the key chain once and starts an episode of ``env`` with the second half.

    The episode starts with ``jit_env.reset_after(env, previous, ...)``
    (``env.reset`` while ``previous`` is ``None``, before the adapter's first
    episode), so what the jit_env wrappers inside keep (running statistics…)
    spans all the adapter's episodes, as a gymnasium wrapper object's
    attributes do; for an environment that keeps nothing this is exactly
    ``env.reset``.
    """
    chain_key, reset_key = split_chain(chain_key)
    state, timestep = _core.reset_after(env, previous, reset_key, options=options)
    return chain_key, state, timestep


def step_fn(env: _core.Environment, state: Any, action: Any):
    """Steps ``env`` and splits ``LAST`` into gymnasium's terminated / truncated."""
    state, timestep = env.step(state, action)
    last = timestep.last()
    terminated = last & (timestep.discount == 0)
    truncated = last & (timestep.discount > 0)
    return state, timestep, terminated, truncated


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_RENDER_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TRACE_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
)


def _deref(ref: weakref.ref[_core.Environment]) -> _core.Environment:
    """The environment behind ``ref``; raises ``ReferenceError`` if it was collected."""
    env = ref()
    if env is None:
        raise ReferenceError("the environment of this jitted function was garbage-collected")
    return env


def compiled(env: _core.Environment) -> tuple[Any, Any]:
    """``(jit(reset_fn), jit(step_fn))`` bound to ``env``, cached per environment object.

    The reset takes ``(chain_key, options, previous)``; ``previous`` is ``None``
    before the adapter's first episode.
    """
    try:
        return _CACHE[env]
    except (KeyError, TypeError):
        pass
    try:
        ref = weakref.ref(env)
    except TypeError:  # no weak references: compile per adapter
        return (
            jax.jit(lambda k, o, p: reset_fn(env, k, o, p)),
            jax.jit(lambda s, a: step_fn(env, s, a)),
        )
    pair = (
        jax.jit(lambda k, o, p: reset_fn(_deref(ref), k, o, p)),
        jax.jit(lambda s, a: step_fn(_deref(ref), s, a)),
    )
    with contextlib.suppress(TypeError):  # an unhashable environment is not cached
        _CACHE[env] = pair
    return pair


def render(env: _core.Environment, state: Any) -> Any:
    """``env.render(state)``, jitted when the renderer traces (a JAX renderer
    compiles in a fraction of the time its eager ops take), else eager."""
    try:
        jitted = _RENDER_CACHE[env]
    except KeyError:
        ref = weakref.ref(env)
        jitted = _RENDER_CACHE[env] = jax.jit(lambda s: _deref(ref).render(s))
    except TypeError:  # unhashable or not weakly referenceable: stay eager
        return env.render(state)
    if jitted is None:
        return env.render(state)
    try:
        return jitted(state)
    except _TRACE_ERRORS:  # a host-side renderer (e.g. matplotlib): stay eager
        _RENDER_CACHE[env] = None
        return env.render(state)
