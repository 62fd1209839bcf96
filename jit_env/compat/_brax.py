"""`from_brax`: a brax environment as a pure jit_env `Environment`.

brax's training stack wraps every environment in ``EpisodeWrapper`` (time
limit) and ``AutoResetWrapper`` (brax/envs/wrappers/training.py; also
``brax.envs.create(..., auto_reset=True)``, brax/envs/__init__.py).
``AutoResetWrapper.step`` replaces ``state.obs`` by the first observation of
the next episode wherever ``state.done``, so the final observation of an
episode is lost (brax PR #641), and ``EpisodeWrapper`` reports a time limit as
``done`` with ``info["truncation"] = 1``, which a consumer reading only
``done`` takes for a termination.

This adapter therefore wraps the *raw* environment (``brax.envs.get_environment``):
brax's ``done`` is a termination (``LAST``, discount 0) and the ``LAST``
TimeStep carries the observation brax computed for that step. The time limit
is jit_env's own `jit_env.wrappers.TimeLimit` (truncation: ``LAST`` with
discount 1), added by ``jit_env.make("brax/<name>")`` at brax's default
episode length. An environment already inside ``EpisodeWrapper`` is accepted:
its ``info["truncation"]`` becomes a ``LAST`` with discount 1. One inside
``AutoResetWrapper`` or a batching wrapper is refused (`TypeError`): its
final observations are gone before the adapter sees them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import strong
from jit_env.compat._adapter import LibraryAdapter, wrapped_accessor
from jit_env.compat._optional import register_suite, require

EPISODE_LENGTH = 1000
"""``brax.envs.create``'s default ``episode_length`` (brax/envs/__init__.py), the
``max_episode_steps`` of every ``"brax/<name>"`` id."""

_REFUSED_WRAPPERS = ("AutoResetWrapper", "VmapWrapper", "DomainRandomizationVmapWrapper")


class BraxState(NamedTuple):
    """State of a `from_brax` environment.

    Attributes:
      key: PRNG key; ``reset`` splits it once, ``step`` leaves it alone (brax's
        steps are deterministic).
      env_state: brax's own ``brax.envs.State`` (``pipeline_state``, ``obs``,
        ``reward``, ``done``, ``metrics``, ``info``).
      params: the brax ``System`` this episode runs with (the ``options`` of
        ``reset``), or ``None`` for the environment's own ``sys``.
    """

    key: jax.Array
    env_state: Any
    params: Any


def _wrapper_chain(brax_env: Any) -> list[str]:
    """Class names from ``brax_env`` down to the unwrapped environment (brax's
    ``Wrapper`` keeps the inner one in ``.env``, brax/envs/base.py)."""
    names, env = [], brax_env
    for _ in range(64):  # bounded: brax wrappers nest a handful deep
        names.append(type(env).__name__)
        inner = env.__dict__.get("env") if hasattr(env, "__dict__") else None
        if inner is None:
            break
        env = inner
    return names


def _observation_spec(like: Any) -> specs.Spec:
    if isinstance(like, dict):
        return specs.Dict({k: _observation_spec(v) for k, v in like.items()})
    if not isinstance(like, jax.ShapeDtypeStruct):
        raise TypeError(
            f"brax observation leaf of type {type(like).__name__} has no jit_env spec; "
            "expected an array or a dict of arrays"
        )
    return specs.Array(tuple(like.shape), np.dtype(like.dtype), name="observation")


class FromBrax(LibraryAdapter):
    """A brax environment as a pure jit_env environment (built by `from_brax`).

    Args:
      brax_env: a brax ``Env`` without ``AutoResetWrapper`` / ``VmapWrapper``.
      renderer: optional ``state -> uint8 [H, W, 3]`` renderer.

    Specs: observation, brax's unbounded ``Array`` (or a ``Dict`` of them) in
    brax's dtype; action, float32 ``[action_size]`` in [-1, 1]. Every brax
    environment acts in [-1, 1]: those whose actuators have another
    ``ctrl_range`` rescale from [-1, 1] in ``step`` (brax/envs/inverted_pendulum.py,
    humanoid.py, humanoidstandup.py, pusher.py), and brax's agents sample through
    ``tanh`` (brax/training/distribution.py ``NormalTanhDistribution``). Reward and
    discount: float32 scalars.
    """

    factory = "from_brax"
    label = "Brax"

    def __init__(self, brax_env: Any, *, renderer: Any = None):
        for method in ("reset", "step"):
            if not callable(getattr(brax_env, method, None)):
                raise TypeError(
                    f"`brax_env` must be a brax Env (with `{method}`), got "
                    f"{type(brax_env).__name__}"
                )
        chain = _wrapper_chain(brax_env)
        refused = [name for name in chain if name in _REFUSED_WRAPPERS]
        if refused:
            raise TypeError(
                f"`brax_env` is wrapped in brax's {refused[0]} (wrappers: {chain}); pass the "
                "raw environment (brax.envs.get_environment, or create(..., auto_reset=False, "
                "batch_size=None)): AutoResetWrapper overwrites the final observation "
                "(brax/envs/wrappers/training.py) and batching is jit_env's Vmap / AutoReset"
            )
        super().__init__(renderer=renderer)
        self._wrapped = brax_env
        self._episode_wrapped = "EpisodeWrapper" in chain
        state_like = jax.eval_shape(brax_env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))
        self._observation_spec = _observation_spec(state_like.obs)
        action_size = brax_env.action_size
        if isinstance(action_size, bool) or not isinstance(action_size, (int, np.integer)):
            raise TypeError(
                f"brax `action_size` must be an int, got {type(action_size).__name__}"
            )
        self._action_spec = specs.BoundedArray(
            (int(action_size),), np.float32, -1.0, 1.0, name="action"
        )

    brax_env = wrapped_accessor("brax")

    @contextlib.contextmanager
    def _with_sys(self, sys: Any) -> Iterator[None]:
        """Runs the block with ``sys`` as the unwrapped environment's ``sys``, as brax's
        ``DomainRandomizationVmapWrapper.v_env_fn`` does (brax/envs/wrappers/training.py)."""
        if sys is None:
            yield
            return
        env = self._wrapped.unwrapped
        old = env.sys
        try:
            env.sys = sys
            yield
        finally:
            env.sys = old

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[BraxState, _core.TimeStep]:
        """Splits ``key`` once and calls brax ``reset(reset_key)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: a brax ``System`` to run this episode with (e.g. one of a
            domain-randomised batch), or ``None`` for the environment's ``sys``.

        Raises:
          TypeError: if ``options`` is neither ``None`` nor a brax ``System``,
            or the environment has no ``sys`` to replace.
        """
        if options is not None:
            brax_base = require("brax.base", "from_brax")
            if not isinstance(options, brax_base.System):
                raise TypeError(
                    f"from_brax: `options` must be a brax System or None, got "
                    f"{type(options).__name__}"
                )
            if not hasattr(self._wrapped.unwrapped, "sys"):
                raise TypeError(
                    f"from_brax: `options` replaces `sys`, which "
                    f"{type(self._wrapped.unwrapped).__name__} does not have"
                )
        key, reset_key = jax.random.split(key)
        with self._with_sys(options):
            env_state = strong(self._wrapped.reset(reset_key))
        state = BraxState(key=key, env_state=env_state, params=options)
        return state, _core.restart(env_state.obs)

    def step(self, state: BraxState, action: Any) -> tuple[BraxState, _core.TimeStep]:
        """Calls brax ``step(env_state, action)``; brax's ``done`` ends the episode.

        ``done`` is a termination (discount 0) unless the environment is inside
        brax's ``EpisodeWrapper`` and ``info["truncation"]`` is set (discount 1).
        """
        with self._with_sys(state.params):
            env_state = strong(self._wrapped.step(state.env_state, action))
        done = env_state.done > 0
        if self._episode_wrapped:
            truncated = jnp.logical_and(done, env_state.info["truncation"] > 0)
        else:
            truncated = jnp.zeros((), bool)
        terminated = jnp.logical_and(done, jnp.logical_not(truncated))
        timestep = _core.last_where(done, env_state.reward, jnp.where(terminated, 0.0, 1.0),
                                    env_state.obs)
        return BraxState(key=state.key, env_state=env_state, params=state.params), timestep



def from_brax(brax_env: Any) -> FromBrax:
    """Wraps a brax environment as a pure, jittable jit_env environment.

    * ``reset(key, options=sys)`` splits ``key`` once and calls brax
      ``reset(reset_key)``; a brax ``System`` given as ``options`` replaces
      the environment's ``sys`` for that episode (kept in the state, so
      vmapping over systems randomises the domain, as brax's
      ``DomainRandomizationVmapWrapper`` does).
    * ``step`` calls brax ``step(env_state, action)``; brax's ``done`` is a
      ``LAST`` TimeStep whose observation is brax's observation of that step
      (no brax auto-reset in between), with discount 0, or 1 when brax's
      ``EpisodeWrapper`` flags ``info["truncation"]``. Reward is cast to
      float32.
    * Specs: the observation as brax's ``reset`` returns it (unbounded, as
      brax's gym wrapper declares it, brax/envs/wrappers/gym.py); the action
      ``float32 [action_size]`` in [-1, 1] (see `FromBrax.action_spec`).

    With the same keys (``reset`` splits once, ``step`` uses none) the
    observations, rewards and ``done`` flags equal a plain brax loop's.

    Args:
      brax_env: a raw brax ``Env`` (``brax.envs.get_environment(name)``), or
        one inside ``EpisodeWrapper`` only.

    Returns:
      A `jit_env.Environment` whose state is a `BraxState`.

    Raises:
      TypeError: if ``brax_env`` lacks ``reset`` / ``step``, is inside brax's
        ``AutoResetWrapper`` / ``VmapWrapper`` / ``DomainRandomizationVmapWrapper``
        (names it), or its observation is not an array or a dict of arrays.

    Reference: brax 0.14.2 brax/envs/base.py (``Env``, ``State``,
    ``PipelineEnv``) and brax/envs/wrappers/training.py (``EpisodeWrapper``,
    ``AutoResetWrapper``).
    """
    return FromBrax(brax_env)


def make_brax(brax_name: str, **kwargs: Any) -> FromBrax:
    """``from_brax(brax.envs.get_environment(brax_name, **kwargs))``: the ``"brax/<name>"``
    factory (e.g. ``backend="positional"``).

    Raises:
      ImportError: ``"from_brax needs: pip install 'jit-env[brax]'"``.
      ValueError: if brax does not know ``brax_name`` (lists brax's names).
    """
    envs = require("brax.envs", "from_brax")
    names = sorted(envs._envs)  # brax's registry, brax/envs/__init__.py (no public listing)
    if brax_name not in names:
        raise ValueError(f"`brax_name` {brax_name!r} is not a brax environment; brax has {names}")
    return from_brax(envs.get_environment(brax_name, **kwargs))


def register_brax_ids(prefix: str = "brax/") -> tuple[str, ...]:
    """Registers every brax environment as ``jit_env.make(prefix + name)``.

    ``jit_env.make("brax/ant")`` is ``TimeLimit(from_brax(get_environment("ant")),
    1000)``: brax's default episode length (`EPISODE_LENGTH`) as a truncation.
    Keyword arguments of ``make`` reach brax's constructor
    (``make("brax/ant", backend="positional")``). Registering twice is a no-op.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_brax_ids needs: pip install 'jit-env[brax]'"``.
    """
    envs = require("brax.envs", "register_brax_ids")
    return register_suite(prefix, envs._envs, "jit_env.compat._brax:make_brax", "brax_name",
                          lambda _: {"max_episode_steps": EPISODE_LENGTH})


def make_playground(playground_name: str, **config_overrides: Any) -> FromBrax:
    """``from_brax(mujoco_playground.registry.load(playground_name, config_overrides=...))``:
    the ``"playground/<name>"`` factory.

    MuJoCo Playground's environments (``mujoco_playground._src.mjx_env.MjxEnv``)
    have brax's interface (``reset(rng)`` / ``step(state, action)`` over a
    ``State`` with ``obs``, ``reward``, ``done``, ``metrics``, ``info``;
    mujoco_playground/_src/mjx_env.py), and its training wrapper puts brax's
    ``EpisodeWrapper`` and its own ``BraxAutoResetWrapper`` around them
    (mujoco_playground/_src/wrapper.py ``wrap_for_brax_training``), which loses
    the final observation as brax's does (Playground issue #305). The raw
    environment is wrapped here; the time limit is jit_env's ``TimeLimit``.
    ``reset``'s ``options`` cannot replace a system (Playground keeps an
    ``mjx_model``, not a brax ``sys``). Playground's ``action_repeat`` (1 for
    its defaults) is not applied.

    Raises:
      ImportError: ``"from_brax (MuJoCo Playground) needs: pip install
        'jit-env[playground]'"``.
      ValueError: if Playground does not know ``playground_name`` (lists its names).
    """
    # ``registry`` is an attribute of the package (mujoco_playground/__init__.py), not a module.
    registry = require("mujoco_playground", "from_brax (MuJoCo Playground)").registry
    names = list(registry.ALL_ENVS)
    if playground_name not in names:
        raise ValueError(
            f"`playground_name` {playground_name!r} is not a MuJoCo Playground environment; "
            f"Playground has {names}"
        )
    return from_brax(registry.load(playground_name, config_overrides=config_overrides or None))


def register_playground_ids(prefix: str = "playground/") -> tuple[str, ...]:
    """Registers every MuJoCo Playground environment as ``jit_env.make(prefix + name)``.

    ``jit_env.make("playground/CartpoleBalance")`` is
    ``TimeLimit(make_playground("CartpoleBalance"), episode_length)`` with the
    ``episode_length`` of Playground's default config for that environment
    (``registry.get_default_config``; 1000 for the DM Control Suite ones).
    Keyword arguments of ``make`` are Playground config overrides. The
    locomotion and manipulation environments fetch MuJoCo Menagerie models
    when built (network access). Registering twice is a no-op.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_playground_ids needs: pip install 'jit-env[playground]'"``.
    """
    registry = require("mujoco_playground", "register_playground_ids").registry
    return register_suite(
        prefix, registry.ALL_ENVS, "jit_env.compat._brax:make_playground", "playground_name",
        lambda name: {"max_episode_steps": int(registry.get_default_config(name).episode_length)})
