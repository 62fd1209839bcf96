"""`to_dm_env`: a jit_env environment as a stateful ``dm_env.Environment``."""

from __future__ import annotations

import functools
from typing import Any

from jit_env import _core
from jit_env.compat._dm_specs import spec_to_dm_spec
from jit_env.compat._host import HostView, action_caster, tree_to_numpy
from jit_env.compat._jitted import compiled
from jit_env.compat._keys import as_key
from jit_env.compat._optional import require


@functools.cache
def _adapter_class() -> type:
    # Any: a module imported at run time is a valid base-class provider mypy cannot follow.
    dm_env: Any = require("dm_env", "to_dm_env")

    class JitEnvToDmEnv(HostView, dm_env.Environment):
        """A jit_env `Environment` behind dm_env's stateful interface.

        Built by `to_dm_env` (see there); the constructor has jit_env 0.1.5's
        ``ToDeepmindEnv(env, rng)`` signature, so it is also what
        `make_deepmind_wrapper` returns.
        """

        _adapter = "to_dm_env"

        def __init__(self, env: _core.Environment, key: Any = 0, *, options: Any = None):
            self._hold(env, None, options)
            self._key = as_key(key, "key")  # required here (None raises)
            self._needs_reset = True
            self._observation_spec = spec_to_dm_spec(env.observation_spec())
            self._action_spec = spec_to_dm_spec(env.action_spec())
            self._reward_spec = spec_to_dm_spec(env.reward_spec())
            self._discount_spec = spec_to_dm_spec(env.discount_spec())
            self._cast_action = action_caster(env.action_spec())
            self._reset_fn, self._step_fn = compiled(env)

        def reset(self) -> Any:
            self._key, self._state, timestep = self._reset_fn(
                self._key, self._options, self._state
            )
            self._needs_reset = False
            return dm_env.restart(tree_to_numpy(timestep.observation))

        def step(self, action: Any) -> Any:
            if self._needs_reset:
                return self.reset()
            self._state, timestep, _, _ = self._step_fn(self._state, self._cast_action(action))
            step_type, reward, discount, observation = tree_to_numpy(
                (timestep.step_type, timestep.reward, timestep.discount, timestep.observation)
            )
            step_type = dm_env.StepType(int(step_type))
            if step_type is dm_env.StepType.FIRST:
                raise RuntimeError(
                    f"{self._env} returned a FIRST step from step(); to_dm_env needs an "
                    "environment without a same-step auto-reset (drop the AutoReset wrapper)"
                )
            self._needs_reset = step_type is dm_env.StepType.LAST
            return dm_env.TimeStep(step_type, reward, discount, observation)

        def observation_spec(self) -> Any:
            return self._observation_spec

        def action_spec(self) -> Any:
            return self._action_spec

        def reward_spec(self) -> Any:
            return self._reward_spec

        def discount_spec(self) -> Any:
            return self._discount_spec

        def close(self) -> None:
            self._env.close()

    return JitEnvToDmEnv


def to_dm_env(env: _core.Environment, key: Any = 0, *, options: Any = None) -> Any:
    """Wraps a pure jit_env environment as a stateful ``dm_env.Environment``.

    The adapter keeps the environment state and a PRNG key chain on the
    device; ``reset`` and ``step`` are each compiled once with ``jax.jit``.
    Semantics are dm_env's:

    * ``step`` on a fresh environment (or after ``LAST``) starts a new episode
      and returns its ``FIRST`` step (the action is ignored);
    * ``FIRST`` steps have ``reward`` and ``discount`` ``None``; other steps
      carry NumPy ``float32`` scalars (shape ``[]``) as the jit_env
      environment returned them — a termination has discount 0, a truncation
      the environment's discount;
    * observations are NumPy arrays (copies), structured like
      ``observation_spec()``;
    * the four specs are the jit_env specs converted by `spec_to_dm_spec`.

    The n-th reset uses the second half of the n-th split of ``key``'s chain,
    so the same ``key`` replays the same episodes (the same chain as
    `to_gymnasium` after ``reset(seed=key)``). Every reset after the first is
    ``jit_env.reset_after`` from the current state: what jit_env wrappers
    inside keep across episodes (``NormalizeObservation``'s statistics…)
    spans all of this adapter's episodes; for an environment that keeps
    nothing it is exactly ``reset``.

    Args:
      env: the jit_env environment (not wrapped in a same-step ``AutoReset``:
        dm_env expects ``LAST`` before ``FIRST``).
      key: an ``int`` seed (``jax.random.key(key)``), a typed PRNG key of any
        implementation or a legacy ``uint32[2]`` key.
      options: environment parameters passed to every ``env.reset``.

    Returns:
      A ``dm_env.Environment``. Its ``.env`` is ``env``; ``.state`` the current
      jit_env state.

    Raises:
      ImportError: ``"to_dm_env needs: pip install 'jit-env[dm_env]'"`` when
        dm_env is missing.
      TypeError: if ``env`` is not a jit_env `Environment` or ``key`` is not a
        seed or key; from ``step``, if the action's dtype cannot be cast to the
        action spec's within its kind.
      ValueError: from ``step``, if the action's structure or shape differs
        from the action spec, or a value is outside a bounded leaf's
        ``[minimum, maximum]`` or not finite (checked on the host before any
        cast; a jitted jit_env step cannot raise on values).
      RuntimeError: from ``step``, if ``env`` returns ``FIRST`` from ``step``.

    Reference: dm_env 1.6 ``dm_env.Environment`` (semantics checked with
    ``dm_env.test_utils.EnvironmentTestMixin``); replaces jit_env 0.1.5's
    ``ToDeepmindEnv``, which crashed when stepped before ``reset`` and never
    reset after ``LAST``.
    """
    require("dm_env", "to_dm_env")
    return _adapter_class()(env, key, options=options)

