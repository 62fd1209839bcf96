"""Auto-reset wrappers that never lose data: `AutoReset`, `VmapAutoReset`, `TileAutoReset`.

Two modes (``mode=``):

* ``"same_step"`` (default, jit_env 0.1.5): the ``step`` that ends an episode
  returns ``step_type == FIRST``, the terminal ``reward`` and ``discount``, the
  FIRST observation of the new episode, and the true last observation in
  ``extras["final_observation"]``. The new episode's state is returned.
* ``"next_step"``: dm_env's plain sequence ``FIRST, MID, …, LAST, FIRST``; the
  ``LAST`` TimeStep carries the last observation and the following ``step``
  ignores its action and returns the reset's FIRST TimeStep (reward 0,
  discount 1, the reset's extras).

In both modes ``extras["final_observation"]`` is present on every TimeStep
returned by ``reset`` and ``step`` (equal to ``observation`` when nothing was
reset), so the pytree structure is fixed under ``jit`` / ``lax.scan``. Extras
the environment returns are kept (a ``None`` extras counts as ``{}``); an
inner ``"final_observation"`` is overwritten. On a same-step reset the extras
are those of the terminal ``step`` (not of the reset). The environment's
``reset`` and ``step`` must return extras of the same structure.

The reset after an episode is ``jit_env.reset_after(env, state, key,
options=state.params)`` with the key ``jax.random.fold_in(state.key,
RESET_KEY_SALT)`` of the finished episode's state (never the same episode
twice) and ``options`` ``None`` if the state has no ``params``: the
start-state distribution is exactly the environment's own, and what wrappers
inside keep across episodes (`NormalizeObservation`'s statistics,
`EpisodeStatistics`' last return) survives. ``state.key`` and
``state.params`` are attributes, or the entries ``"key"`` / ``"params"`` of a
dict state (``jit_env._pytrees.key_of``; a state with neither key raises
``TypeError`` naming its fields, and `jit_env.testing.check_env`'s
``state_key`` check applies the same rule).

Batched auto-reset (`VmapAutoReset`, `TileAutoReset`) is SIMD: the batch is
stepped with ``vmap`` and the environments that ended are reset by
`jit_env.wrappers._batched_reset.reset_where` (nothing when none ended; reset
all and select for batches of at most 16; otherwise passes of
``ceil(B / 16)`` gathered environments, so the reset work follows how many
ended, not the batch size). There is no ``lax.map`` and no Python loop over
the batch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core
from jit_env._pytrees import key_of, match_dtypes, options_of, strong, wrapper_state
from jit_env.wrappers._batched_reset import reset_where
from jit_env.wrappers._batching import BatchSpecMixin, Vmap

RESET_KEY_SALT = 0x5EED
"""``fold_in`` data that turns a finished episode's ``state.key`` into the reset key."""

_MODES = ("same_step", "next_step")


def reset_key(key: jax.Array) -> jax.Array:
    """The key that starts the episode after the one whose state holds ``key``.

    Args:
      key: one PRNG key (typed of any implementation, or legacy).

    Returns:
      ``jax.random.fold_in(key, RESET_KEY_SALT)``.
    """
    return jax.random.fold_in(key, RESET_KEY_SALT)


@wrapper_state
class AutoResetState(NamedTuple):
    """State of a ``mode="next_step"`` auto-reset wrapper.

    Attributes:
      inner: the wrapped environment's state.
      needs_reset: ``bool`` (``[B]`` batched): the last TimeStep was ``LAST``,
        so the next ``step`` resets.
    """

    inner: Any
    needs_reset: jax.Array


def _check_mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"`mode` must be one of {_MODES}, got {mode!r}")
    return mode


def with_final_observation(timestep: _core.TimeStep, final_observation: Any) -> _core.TimeStep:
    """``timestep`` with ``extras["final_observation"] = final_observation`` (extras kept)."""
    extras = dict(timestep.extras or {})
    extras["final_observation"] = final_observation
    return dataclasses.replace(timestep, extras=extras)


def _started(mode: str, state: Any, ts: _core.TimeStep) -> tuple[Any, _core.TimeStep]:
    """An auto-reset wrapper's ``(state, timestep)`` from its environment's reset."""
    ts = with_final_observation(ts, ts.observation)
    if mode == "next_step":
        state = AutoResetState(state, jnp.zeros(jnp.shape(ts.step_type), bool))
    return state, ts


def _first_like(step_type: jax.Array) -> jax.Array:
    return jnp.full(jnp.shape(step_type), _core.StepType.FIRST, jnp.result_type(step_type))


class AutoReset(_core.Wrapper):
    """Resets a single environment when its episode ends; never loses the last observation.

    * TimeStep: see the module docstring (``mode="same_step"`` or
      ``"next_step"``); ``extras["final_observation"]`` always present.
    * State: the inner state (same-step) or `AutoResetState` (next-step).
    * Specs: unchanged.

    Matches jit_env 0.1.5 ``AutoReset`` (same-step) plus the final observation
    (gymnasium 1.x ``Autoreset`` modes ``SAME_STEP`` / ``NEXT_STEP``).

    Args:
      env: a single (unbatched) environment.
      mode: ``"same_step"`` (default) or ``"next_step"``.

    Raises:
      ValueError: for an unknown ``mode``.
      TypeError: at trace time, if the environment's ``reset`` and ``step``
        return states / TimeSteps of different structures.

    Where in a stack: outside `TimeLimit` (so truncations reset) and inside
    `EpisodeStatistics` / `NormalizeObservation`. For a batch use
    `VmapAutoReset` rather than ``Vmap(AutoReset(env))``: under ``vmap`` the
    ``lax.cond`` becomes a select and every element computes a reset on every
    step.
    """

    def __init__(self, env: _core.Environment, *, mode: str = "same_step"):
        super().__init__(env)
        self._mode = _check_mode(mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, mode={self._mode!r})"

    @property
    def mode(self) -> str:
        """``"same_step"`` or ``"next_step"`` (see the module docstring)."""
        return self._mode

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return _started(self._mode, *self.env.reset(key, options=options))

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        inner = previous.inner if self._mode == "next_step" else previous
        return _started(
            self._mode, *_core.reset_after(self.env, inner, key, options=options)
        )

    def _restart(self, state: Any) -> tuple[Any, _core.TimeStep]:
        return _core.reset_after(
            self.env, state, reset_key(key_of(state)), options=options_of(state)
        )

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        if self._mode == "next_step":
            return self._step_next(state, action)
        state, ts = self.env.step(state, action)
        ts = strong(with_final_observation(ts, ts.observation))
        state = strong(state)

        def restart(state, ts):
            new_state, rts = self._restart(state)
            out = dataclasses.replace(ts, step_type=rts.step_type, observation=rts.observation)
            return match_dtypes((new_state, out), (state, ts), f"{type(self).__name__}({self.env})")

        return jax.lax.cond(ts.last(), restart, lambda s, t: (s, t), state, ts)

    def _step_next(self, state: AutoResetState, action: Any) -> tuple[Any, _core.TimeStep]:
        def advance(inner, action):
            inner, ts = self.env.step(inner, action)
            return strong((inner, with_final_observation(ts, ts.observation)))

        def restart(inner, action):
            del action
            new_inner, rts = self._restart(inner)
            return new_inner, with_final_observation(rts, rts.observation)

        shapes = jax.eval_shape(advance, state.inner, action)

        def restart_matched(inner, action):
            out = restart(inner, action)
            ref = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
            return match_dtypes(out, ref, f"{type(self).__name__}({self.env})")

        inner, ts = jax.lax.cond(state.needs_reset, restart_matched, advance, state.inner, action)
        return AutoResetState(inner, ts.last()), ts


class VmapAutoReset(BatchSpecMixin, Vmap):
    """A batch of environments that reset independently, with SIMD resets (no ``lax.map``).

    Combines `Vmap` and `AutoReset` (see the module docstring for the TimeStep
    semantics and the sparse gather / reset / scatter strategy).

    * ``reset(key, *, options=None)``: a batch of keys ``[B]`` (jit_env 0.1.5
      ``VmapAutoReset``), or — when ``num`` is given — one key split into
      ``num``. ``options`` is broadcast to every environment, or mapped along
      ``options_axis``; it is kept per environment in the state and reused at
      every auto-reset.
    * TimeStep: leaves ``[B, ...]``; ``extras["final_observation"]`` ``[B, ...]``.
    * State: the vmapped inner state (same-step) or `AutoResetState` with
      ``needs_reset`` ``bool[B]`` (next-step).
    * Specs: as `Vmap` (unbatched) when ``num`` is ``None``, as `Tile`
      (``specs.Batched``) when ``num`` is given.

    Args:
      env: a single (unbatched) environment.
      num: optional fixed batch size.
      mode: ``"same_step"`` (default) or ``"next_step"``.
      max_resets: environments reset per pass (``None``: ``ceil(B / 16)``, and
        reset-all-and-select for ``B <= 16``); when more end in one step, more
        passes run. Any value gives identical results; it only trades speed.
      options_axis: see `Vmap`.
      **step_vmap_kwargs: passed to ``jax.vmap`` for ``step`` (jit_env 0.1.5).

    Raises:
      ValueError: bad ``mode``, ``num`` or ``max_resets``.

    Where in a stack: directly around the single environment's stack (which
    should end in `TimeLimit`), inside `EpisodeStatistics` and
    `NormalizeObservation`. Under an outer ``jax.vmap`` (e.g. over seeds) the
    reset loop runs as many passes as the busiest member needs: still exact.
    """

    def __init__(
        self,
        env: _core.Environment,
        num: int | None = None,
        *,
        mode: str = "same_step",
        max_resets: int | None = None,
        options_axis: int | None = None,
        **step_vmap_kwargs: Any,
    ):
        Vmap.__init__(self, env, options_axis=options_axis, **step_vmap_kwargs)
        if num is not None:
            self._init_num(num)
        self._mode = _check_mode(mode)
        if max_resets is not None and (
            isinstance(max_resets, bool) or not isinstance(max_resets, int) or max_resets < 1
        ):
            raise ValueError(f"`max_resets` must be None or a positive int, got {max_resets!r}")
        self._max_resets = max_resets

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env!r}, num={self._num}, mode={self._mode!r}, "
            f"max_resets={self._max_resets})"
        )

    @property
    def mode(self) -> str:
        """``"same_step"`` or ``"next_step"`` (see the module docstring)."""
        return self._mode

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return _started(self._mode, *Vmap.reset(self, key, options=options))

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        inner = previous.inner if self._mode == "next_step" else previous
        return _started(self._mode, *Vmap.reset_after(self, inner, key, options=options))

    def _reset_batch(self, source: Any) -> tuple[Any, _core.TimeStep]:
        """`jit_env.reset_after` of every row of the batched state ``source``."""
        keys = jax.vmap(reset_key)(key_of(source))
        options = options_of(source)
        env = self.env
        return jax.vmap(lambda p, k, o: _core.reset_after(env, p, k, options=o))(
            source, keys, options
        )

    def _reset_where(self, done: jax.Array, source: Any, target: Any, pick: Any) -> Any:
        """Replaces the ``done`` rows of ``target`` by ``pick(*reset(source rows))``.

        ``source`` supplies the states (keys, options) the resets start from;
        `jit_env.wrappers._batched_reset.reset_where` decides how (module docstring).
        """
        name = f"{type(self).__name__}({self.env})"

        def reset(rows: Any) -> Any:
            n = jax.tree.leaves(rows)[0].shape[0]
            fresh = pick(*self._reset_batch(rows))
            return match_dtypes(fresh, jax.tree.map(lambda x: x[:n], target), name)

        return reset_where(done, source, target, reset, self._max_resets)

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        if self._mode == "next_step":
            return self._step_next(state, action)
        state, ts = Vmap.step(self, state, action)
        state, ts = strong((state, ts))
        done = ts.last()
        ts = with_final_observation(ts, ts.observation)
        state, observation = self._reset_where(
            done, state, (state, ts.observation), lambda s, t: (s, t.observation)
        )
        step_type = jnp.where(done, _first_like(ts.step_type), ts.step_type)
        return state, dataclasses.replace(ts, step_type=step_type, observation=observation)

    def _step_next(self, state: AutoResetState, action: Any) -> tuple[Any, _core.TimeStep]:
        inner, ts = Vmap.step(self, state.inner, action)
        inner, ts = strong((inner, with_final_observation(ts, ts.observation)))
        inner, ts = self._reset_where(
            state.needs_reset,
            state.inner,
            (inner, ts),
            lambda s, t: (s, with_final_observation(t, t.observation)),
        )
        return AutoResetState(inner, ts.last()), ts


class TileAutoReset(VmapAutoReset):
    """`VmapAutoReset` with a fixed batch size and a single-key reset (jit_env 0.1.5).

    ``reset(key)`` splits one key into ``num`` keys (a batch of ``num`` keys
    is accepted too); specs are batched as `Tile`'s. Everything else is
    `VmapAutoReset`.

    Args:
      env: a single (unbatched) environment.
      num: the batch size, a positive int.
      mode, max_resets, options_axis, step_vmap_kwargs: see `VmapAutoReset`.
    """

    def __init__(
        self,
        env: _core.Environment,
        num: int,
        *,
        mode: str = "same_step",
        max_resets: int | None = None,
        options_axis: int | None = None,
        **step_vmap_kwargs: Any,
    ):
        super().__init__(
            env,
            num,
            mode=mode,
            max_resets=max_resets,
            options_axis=options_axis,
            **step_vmap_kwargs,
        )
