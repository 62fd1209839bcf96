"""`to_gymnasium`: a jit_env environment as a stateful ``gymnasium.Env``."""

from __future__ import annotations

import functools
import re
from typing import Any

import jax
import numpy as np

from jit_env import _core, specs
from jit_env.compat._host import HostView, action_caster, to_numpy_like_space, tree_to_numpy
from jit_env.compat._jitted import compiled, render
from jit_env.compat._keys import as_key, check_seed
from jit_env.compat._optional import require
from jit_env.compat._spaces import spec_to_space

RENDER_FPS = 30
"""``metadata["render_fps"]`` of the adapters (jit_env environments have no clock)."""


def can_render(env: _core.Environment, options: Any = None) -> bool:
    """Whether ``env.render(state)`` works, so that ``"rgb_array"`` may be advertised.

    Walking the wrapper chain: a level with a renderer (``renderer=`` given to
    its constructor) renders; an unwrapped environment whose class overrides
    ``render`` renders; the default `Environment.render` raises
    ``NotImplementedError``. A wrapper that overrides ``render`` (`TimeLimit`
    and the other stateful wrappers do, to pass their inner state down) may
    only delegate to a level with no renderer, so when the walk finds none
    below such a wrapper, ``render`` is traced once with ``jax.eval_shape``
    on a reset state (nothing runs or compiles): ``NotImplementedError``
    means no renderer; any other outcome (a renderer that cannot be traced,
    e.g. matplotlib) means one exists.

    Args:
      env: the environment.
      options: the environment parameters its ``reset`` needs, if any.
    """
    level: Any = env
    wrapper_renders = False
    while True:
        if getattr(level, "_renderer", None) is not None:
            return True
        own = type(level).render not in (_core.Environment.render, _core.Wrapper.render)
        if not isinstance(level, _core.Wrapper):
            if own:
                return True
            break
        wrapper_renders = wrapper_renders or own
        level = level.env
    if not wrapper_renders:
        return False

    def render_reset(key: jax.Array) -> Any:
        return env.render(env.reset(key, options=options)[0])

    try:
        jax.eval_shape(render_reset, jax.random.key(0))
    except NotImplementedError:
        return False
    except Exception:  # renders, but not traceably (a host renderer), or reset needs more
        return True
    return True


def render_modes(env: _core.Environment, options: Any, render_mode: Any) -> list[str]:
    """The render modes an adapter of ``env`` advertises, after checking ``render_mode``.

    Returns:
      ``["rgb_array"]`` when `can_render`, else ``[]``.

    Raises:
      ValueError: if ``render_mode`` is neither ``None`` nor an advertised mode.
    """
    modes = ["rgb_array"] if can_render(env, options) else []
    if render_mode is not None and render_mode not in modes:
        raise ValueError(
            f"`render_mode` must be one of {[None, *modes]} for {env}, got {render_mode!r}"
        )
    return modes


def check_scalar_reward(env: _core.Environment, caller: str) -> None:
    """Raises `ValueError` unless reward and discount specs are scalar primitives."""
    for name in ("reward_spec", "discount_spec"):
        spec = getattr(env, name)()
        if not isinstance(spec, specs.Array) or tuple(spec.shape) != ():
            raise ValueError(
                f"{caller} needs a scalar `{name}()`, got {spec!r} from {env}; gymnasium "
                "rewards and termination flags are scalars per environment"
            )


def spec_id(env: _core.Environment) -> str:
    """A gymnasium-valid id naming the innermost environment, ``jit_env/<Class>``."""
    name = re.sub(r"[^\w.-]", "_", type(env.unwrapped).__name__)
    return f"jit_env/{name}"


def env_options(default: Any, options: Any) -> Any:
    """The environment parameters for a reset: ``options`` unless ``None`` or ``{}``."""
    if options is None or (isinstance(options, dict) and not options):
        return default
    return options


@functools.cache
def _adapter_class() -> type:
    # Any: a module imported at run time is a valid base-class provider mypy cannot follow.
    gym: Any = require("gymnasium", "to_gymnasium")
    from gymnasium.envs.registration import EnvSpec

    class JitEnvToGymnasium(HostView, gym.Env):
        """A jit_env `Environment` behind gymnasium's stateful ``Env`` API.

        Built by `to_gymnasium` (see there). The optional positional ``seed``
        keeps jit_env 0.1.5's ``ToGym(env, seed)`` signature: it seeds the
        first ``reset()`` called without a seed.
        """

        _adapter = "to_gymnasium"

        def __init__(
            self,
            env: _core.Environment,
            seed: int | None = None,
            *,
            render_mode: str | None = None,
            options: Any = None,
        ):
            self._hold(env, None if seed is None else check_seed(seed), options)
            check_scalar_reward(env, "to_gymnasium")
            modes = render_modes(env, options, render_mode)
            self.render_mode = render_mode
            self.metadata = {"render_modes": modes, "render_fps": RENDER_FPS, "jax": False}
            self.observation_space = spec_to_space(env.observation_spec())
            self.action_space = spec_to_space(env.action_spec())
            self._cast_action = action_caster(env.action_spec())
            self._reset_fn, self._step_fn = compiled(env)
            self.spec = EnvSpec(
                id=spec_id(env),
                entry_point=functools.partial(_respawn, env, options),
                nondeterministic=False,
                order_enforce=False,
                disable_env_checker=True,
            )

        def __str__(self) -> str:
            return f"<to_gymnasium({self._env})>"

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
            super().reset(seed=seed)
            if seed is not None:
                self._key = as_key(check_seed(seed), "seed")
            elif self._key is None:
                self._key = as_key(int(self.np_random.integers(2**32)), "seed")
            self._key, self._state, timestep = self._reset_fn(
                self._key, env_options(self._options, options), self._state
            )
            observation, extras = jax.device_get((timestep.observation, timestep.extras))
            return (
                to_numpy_like_space(observation, self.observation_space, gym.spaces),
                {} if extras is None else tree_to_numpy(dict(extras)),
            )

        def step(self, action: Any):
            if self._state is None:
                raise gym.error.ResetNeeded("to_gymnasium: call reset() before step()")
            self._state, timestep, terminated, truncated = self._step_fn(
                self._state, self._cast_action(action)
            )
            observation, reward, terminated, truncated, extras = jax.device_get(
                (timestep.observation, timestep.reward, terminated, truncated, timestep.extras)
            )
            return (
                to_numpy_like_space(observation, self.observation_space, gym.spaces),
                float(reward),
                bool(terminated),
                bool(truncated),
                {} if extras is None else tree_to_numpy(dict(extras)),
            )

        def render(self) -> Any:
            if self.render_mode is None:
                return None
            if self._state is None:
                raise gym.error.ResetNeeded("to_gymnasium: call reset() before render()")
            return np.asarray(jax.device_get(render(self._env, self._state)))

        def close(self) -> None:
            self._env.close()
            super().close()

    return JitEnvToGymnasium


def to_gymnasium(
    env: _core.Environment, *, render_mode: str | None = None, options: Any = None
) -> Any:
    """Wraps a pure jit_env environment as a stateful ``gymnasium.Env``.

    ``reset`` and ``step`` are each compiled once with ``jax.jit``; the
    environment state stays on the device, everything returned is NumPy.

    * ``reset(seed=s)`` restarts the adapter's key chain at
      ``jax.random.key(s)`` (``s`` in ``[0, 2**32)``), so the same seed gives
      the same episode; ``reset()`` continues the chain (the first unseeded
      reset draws a seed from ``self.np_random``). ``reset(options=p)``
      resets with environment parameters ``p`` (``None`` or ``{}``: the
      ``options`` given here). Every reset after the first is
      ``jit_env.reset_after`` from the current state, so what jit_env
      wrappers inside keep (``NormalizeObservation``'s statistics…) spans the
      adapter's episodes, as a gymnasium wrapper's attributes do; for an
      environment that keeps nothing it is exactly ``reset``.
    * ``step`` returns ``(obs, reward, terminated, truncated, info)`` with
      ``terminated = last and discount == 0`` and
      ``truncated = last and discount > 0`` (jit_env's truncation keeps the
      discount), ``reward`` a Python ``float``, ``info`` the TimeStep's
      ``extras`` as NumPy (``{}`` when there are none).
    * Observations are fresh NumPy arrays (Python ``int`` for a ``Discrete``
      space); spaces are the specs converted by `spec_to_space` (float
      ``Array`` specs get finite ``finfo`` bounds, not ±inf).
    * ``render()`` returns the environment's RGB ``uint8 [H, W, 3]`` frame
      when ``render_mode="rgb_array"`` (offered when the environment has a
      renderer), ``None`` when ``render_mode`` is ``None``.
    * ``spec`` is a gymnasium ``EnvSpec`` (id ``"jit_env/<Class>"``) whose
      entry point makes a fresh adapter around the same environment, so
      ``gymnasium.make(adapter.spec, render_mode=...)`` works.

    Stepping after ``terminated`` / ``truncated`` without ``reset`` is
    undefined, as in gymnasium; use `to_gymnasium_vector` for auto-reset.

    Args:
      env: a jit_env environment with scalar reward and discount specs.
      render_mode: ``None`` or ``"rgb_array"``.
      options: default environment parameters for every reset.

    Returns:
      A ``gymnasium.Env``; its ``.env`` is ``env`` and ``.state`` the current
      jit_env state.

    Raises:
      ImportError: ``"to_gymnasium needs: pip install 'jit-env[gymnasium]'"``
        when gymnasium is missing.
      TypeError: if ``env`` is not a jit_env `Environment` or a spec has no
        gymnasium space; from ``step``, if the action's dtype cannot be cast to
        the action spec's within its kind; from ``reset``, if ``seed`` is not
        an int.
      ValueError: if the reward or discount spec is not a scalar, or
        ``render_mode`` is not supported; from ``reset``, if ``seed`` is
        outside ``[0, 2**32)``; from ``step``, if the action's structure or
        shape differs from the action spec, or a value is outside a bounded
        leaf's ``[minimum, maximum]`` or not finite (gymnasium's CartPole
        asserts ``self.action_space.contains(action)``,
        ``gymnasium/envs/classic_control/cartpole.py``; a jitted jit_env step
        cannot raise on values, so the adapter checks on the host; to clip
        continuous actions instead, wrap the environment in
        `jit_env.wrappers.ClipAction`).
      gymnasium.error.ResetNeeded: from ``step`` / ``render`` before ``reset``.

    Reference: gymnasium 1.x ``gymnasium.Env`` (checked with
    ``gymnasium.utils.env_checker.check_env``); replaces jit_env 0.1.5's
    ``ToGym``, which reported ``terminated == truncated == last()`` and ignored
    ``reset(seed=...)``.
    """
    require("gymnasium", "to_gymnasium")
    return _adapter_class()(env, render_mode=render_mode, options=options)


def _respawn(env: _core.Environment, options: Any, **kwargs: Any) -> Any:
    """The ``EnvSpec`` entry point: a fresh adapter around the same environment."""
    return _adapter_class()(env, options=options, **kwargs)
