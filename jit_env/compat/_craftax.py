"""`from_craftax`: a Craftax environment as a pure jit_env `Environment`.

Craftax's environments follow gymnax's API with their own base classes
(craftax/environment_base/environment_bases.py): ``EnvironmentAutoReset.step``
calls ``step_env`` and then replaces state and observation by those of
``reset_env`` wherever ``done`` (the final observation is lost);
``EnvironmentNoAutoReset.step`` is ``step_env`` alone. This adapter calls
``reset_env`` / ``step_env`` directly, whichever base the environment has, so
the ``LAST`` TimeStep carries the observation of the final state.

Craftax's ``done`` (``is_terminal``, ``is_game_over`` in
craftax/craftax_classic/game_logic.py and craftax/craftax/game_logic.py) is
true when the player dies (or, in Classic, stands in lava; in Craftax, beats
the final boss) *and* when ``state.timestep >= params.max_timesteps``, and its
``info["discount"]`` is 0 for both. The time limit is a truncation in jit_env:
the adapter re-evaluates craftax's own ``is_terminal`` with
``max_timesteps`` set to the int32 maximum, and a ``done`` that is only the
time limit becomes ``LAST`` with discount 1.

The spaces are Craftax's own copies of gymnax's (craftax/environment_base/spaces.py)
and are converted by the gymnax adapter's leaf converter.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core
from jit_env._pytrees import strong
from jit_env.compat._adapter import LibraryAdapter, wrapped_accessor
from jit_env.compat._gymnax import _leaf_spec
from jit_env.compat._optional import require

CRAFTAX_IDS = (
    "Craftax-Classic-Pixels-v1",
    "Craftax-Classic-Symbolic-v1",
    "Craftax-Pixels-v1",
    "Craftax-Symbolic-v1",
)
"""The ids ``craftax.craftax_env.make_craftax_env_from_name`` builds without auto-reset
(craftax/craftax_env.py); its ``*-AutoReset-v1`` aliases name the same games with
craftax's auto-reset, which jit_env's `jit_env.wrappers.AutoReset` replaces."""

_NO_TIME_LIMIT = int(np.iinfo(np.int32).max)


class CraftaxState(NamedTuple):
    """State of a `from_craftax` environment.

    Attributes:
      key: PRNG key; ``reset`` and every ``step`` split it once (Craftax's
        world generation and mob moves are random).
      env_state: Craftax's own ``EnvState``.
      params: Craftax's ``EnvParams`` for this episode (the ``options``).
    """

    key: jax.Array
    env_state: Any
    params: Any


class FromCraftax(LibraryAdapter):
    """A Craftax environment as a pure jit_env environment (built by `from_craftax`).

    Args:
      craftax_env: a Craftax environment (auto-resetting or not).
      env_params: Craftax ``EnvParams`` (default ``craftax_env.default_params``).
      renderer: optional ``state -> uint8 [H, W, 3]`` renderer.

    Specs: observation, Craftax's ``Box`` space (float32 in [0, 1], symbolic or
    pixels); action, its ``Discrete`` space as an int32 ``DiscreteArray``; reward
    and discount, float32 scalars.
    """

    factory = "from_craftax"
    label = ""

    def __init__(self, craftax_env: Any, env_params: Any = None, *, renderer: Any = None):
        craftax_spaces = require("craftax.environment_base.spaces", "from_craftax")
        for method in ("reset_env", "step_env", "is_terminal", "observation_space",
                       "action_space"):
            if not callable(getattr(craftax_env, method, None)):
                raise TypeError(
                    f"`craftax_env` must be a Craftax environment (with `{method}`), got "
                    f"{type(craftax_env).__name__}"
                )
        super().__init__(renderer=renderer)
        self._wrapped = craftax_env
        self._params = craftax_env.default_params if env_params is None else env_params
        if not hasattr(self._params, "max_timesteps"):
            raise TypeError(
                f"`env_params` must be a Craftax EnvParams (with `max_timesteps`), got "
                f"{type(self._params).__name__}"
            )
        observation_space = craftax_env.observation_space(self._params)
        action_space = craftax_env.action_space(self._params)
        for name, space in (("observation", observation_space), ("action", action_space)):
            if not isinstance(space, (craftax_spaces.Box, craftax_spaces.Discrete)):
                raise TypeError(
                    f"Craftax {name} space {type(space).__name__} has no jit_env spec "
                    "(expected Box or Discrete)"
                )
        obs_like, _ = jax.eval_shape(
            lambda k: craftax_env.reset_env(k, self._params),
            jax.ShapeDtypeStruct((2,), jnp.uint32),
        )
        if not isinstance(obs_like, jax.ShapeDtypeStruct):
            raise TypeError(
                f"Craftax observation of type {type(obs_like).__name__} has no jit_env spec; "
                "expected one array"
            )
        self._observation_spec = _leaf_spec(observation_space, obs_like, craftax_spaces)
        action_like = jax.ShapeDtypeStruct(
            tuple(action_space.shape), np.dtype(action_space.dtype)
        )
        self._action_spec = _leaf_spec(action_space, action_like, craftax_spaces)

    craftax_env = wrapped_accessor("Craftax")

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[CraftaxState, _core.TimeStep]:
        """Splits ``key`` once and calls Craftax ``reset_env(reset_key, params)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: Craftax ``EnvParams`` (default: the adapter's).
        """
        params = self._params if options is None else options
        key, reset_key = jax.random.split(key)
        observation, env_state = self._wrapped.reset_env(reset_key, params)
        state = CraftaxState(key=key, env_state=strong(env_state), params=params)
        return state, _core.restart(strong(observation))

    def step(self, state: CraftaxState, action: Any) -> tuple[CraftaxState, _core.TimeStep]:
        """Splits ``state.key`` once and calls Craftax ``step_env`` (no Craftax auto-reset).

        ``done`` from death (or lava, or the final boss) is a termination
        (discount 0); ``done`` from ``max_timesteps`` alone is a truncation
        (discount 1).
        """
        key, step_key = jax.random.split(state.key)
        observation, env_state, reward, done, _ = self._wrapped.step_env(
            step_key, state.env_state, action, state.params
        )
        no_limit = dataclasses.replace(state.params, max_timesteps=_NO_TIME_LIMIT)
        terminated = jnp.asarray(self._wrapped.is_terminal(env_state, no_limit), bool)
        done = jnp.asarray(done, bool)
        timestep = _core.last_where(done, reward, jnp.where(terminated, 0.0, 1.0),
                                    strong(observation))
        return CraftaxState(key=key, env_state=strong(env_state), params=state.params), timestep



def from_craftax(craftax_env: Any, env_params: Any = None) -> FromCraftax:
    """Wraps a Craftax environment as a pure, jittable jit_env environment.

    * ``reset(key, options=params)`` splits ``key`` once and calls Craftax
      ``reset_env(reset_key, params)``; ``params`` (Craftax ``EnvParams``,
      default ``env_params``) are kept in the state, so vmapping over them
      randomises the domain.
    * ``step`` splits ``state.key`` once and calls Craftax ``step_env(step_key,
      env_state, action, params)``: never Craftax's auto-reset, so a ``LAST``
      TimeStep carries the final observation. Death is a termination (discount
      0); reaching ``params.max_timesteps`` alone is a truncation (discount 1),
      where Craftax itself reports discount 0 for both. Reward is cast to
      float32; Craftax's ``info`` (achievements) is dropped.
    * Specs: Craftax's ``Box`` observation space as a ``BoundedArray`` with
      the shape and dtype it returns, its ``Discrete`` action space as a
      ``DiscreteArray``.

    With the same keys (split as above) the observations, rewards and done
    flags equal a plain Craftax ``step_env`` loop's.

    Args:
      craftax_env: a Craftax environment, e.g.
        ``craftax.craftax_env.make_craftax_env_from_name("Craftax-Classic-Symbolic-v1",
        auto_reset=False)`` (an auto-resetting one works too: its auto-reset
        is bypassed).
      env_params: its ``EnvParams`` (default ``craftax_env.default_params``).

    Returns:
      A `jit_env.Environment` whose state is a `CraftaxState`.

    Raises:
      ImportError: ``"from_craftax needs: pip install 'jit-env[craftax]'"``.
      TypeError: if ``craftax_env`` lacks Craftax's methods, ``env_params``
        has no ``max_timesteps``, or a space is neither ``Box`` nor
        ``Discrete`` (names it).

    Reference: craftax 1.6.1 craftax/environment_base/environment_bases.py
    and the environments in craftax/craftax/envs/ and craftax/craftax_classic/envs/.
    """
    return FromCraftax(craftax_env, env_params)


def make_craftax(craftax_id: str, **param_overrides: Any) -> FromCraftax:
    """The ``"craftax/<id>"`` factory: ``make_craftax_env_from_name(craftax_id,
    auto_reset=False)`` with its default ``EnvParams``, fields replaced by
    ``param_overrides`` (e.g. ``max_timesteps=500``).

    Raises:
      ImportError: if craftax is missing.
      ValueError: if ``craftax_id`` is not one of `CRAFTAX_IDS` (lists them).
      TypeError: if ``param_overrides`` names a field ``EnvParams`` lacks
        (lists its fields).
    """
    craftax_env_module = require("craftax.craftax_env", "from_craftax")
    if craftax_id not in CRAFTAX_IDS:
        raise ValueError(
            f"`craftax_id` {craftax_id!r} is not a Craftax environment; Craftax has "
            f"{list(CRAFTAX_IDS)}"
        )
    craftax_env = craftax_env_module.make_craftax_env_from_name(craftax_id, auto_reset=False)
    params = craftax_env.default_params
    fields = [f.name for f in dataclasses.fields(params)]
    unknown = sorted(set(param_overrides) - set(fields))
    if unknown:
        raise TypeError(
            f"make_craftax: {unknown} are not fields of {type(params).__name__}; "
            f"its fields: {fields}"
        )
    return from_craftax(craftax_env, dataclasses.replace(params, **param_overrides))


def register_craftax_ids(prefix: str = "craftax/") -> tuple[str, ...]:
    """Registers every Craftax environment (`CRAFTAX_IDS`) as ``jit_env.make(prefix + id)``.

    ``jit_env.make("craftax/Craftax-Classic-Symbolic-v1")`` is
    ``make_craftax("Craftax-Classic-Symbolic-v1")``; keyword arguments of
    ``make`` replace ``EnvParams`` fields. Craftax applies its own episode
    limit (``max_timesteps``, a truncation here), so no ``TimeLimit`` is
    added. Registering twice is a no-op.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_craftax_ids needs: pip install 'jit-env[craftax]'"``.
    """
    require("craftax.craftax_env", "register_craftax_ids")
    from jit_env.envs import register

    for craftax_id in CRAFTAX_IDS:
        register(prefix + craftax_id, "jit_env.compat._craftax:make_craftax",
                 craftax_id=craftax_id)
    return tuple(sorted(prefix + i for i in CRAFTAX_IDS))
