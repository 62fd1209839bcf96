"""`from_gymnax`: a gymnax environment as a pure jit_env `Environment`; `to_gymnax` back.

gymnax's ``step`` auto-resets internally and (since gymnax 1.0) returns
``(obs, state, reward, terminated, truncated, info)`` with the pre-reset
observation in ``info["final_observation"]``. The adapter turns that into
jit_env's episode vocabulary: the ``LAST`` TimeStep carries gymnax's final
observation, ``discount`` is 0 on termination and 1 on truncation (or
gymnax's ``info["discount"]`` for the older 5-tuple API), and the next
``reset`` starts a new episode. The gymnax state after a ``LAST`` step is
gymnax's own auto-reset state, so stepping on without a reset continues
gymnax's next episode (undefined in jit_env, but harmless).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.compat._adapter import LibraryAdapter, wrapped_accessor
from jit_env.compat._optional import register_suite, require


class GymnaxState(NamedTuple):
    """State of a `from_gymnax` environment.

    Attributes:
      key: PRNG key; every step splits it once (gymnax steps are stochastic
        through their built-in reset).
      env_state: gymnax's own state pytree.
      params: gymnax's ``EnvParams`` for this episode (the ``options``).
    """

    key: jax.Array
    env_state: Any
    params: Any


def _leaf_spec(space: Any, like: jax.ShapeDtypeStruct, gymnax_spaces: Any) -> specs.Spec:
    """A primitive spec with ``like``'s shape and dtype and ``space``'s bounds."""
    shape, dtype = tuple(like.shape), np.dtype(like.dtype)
    if isinstance(space, gymnax_spaces.Discrete):
        if not np.issubdtype(dtype, np.integer):
            return specs.BoundedArray(shape, dtype, 0, int(space.n) - 1)
        return specs.DiscreteArray(int(space.n), dtype=dtype)
    if isinstance(space, gymnax_spaces.Box):
        low = np.broadcast_to(np.asarray(space.low), shape)
        high = np.broadcast_to(np.asarray(space.high), shape)
        if np.issubdtype(dtype, np.floating):
            finfo = np.finfo(dtype)
            low = np.where(low <= finfo.min, -np.inf, low)
            high = np.where(high >= finfo.max, np.inf, high)
            if np.all(np.isneginf(low)) and np.all(np.isposinf(high)):
                return specs.Array(shape, dtype)
        elif dtype == np.bool_:
            return specs.Array(shape, dtype)
        return specs.BoundedArray(shape, dtype, low.astype(dtype), high.astype(dtype))
    raise TypeError(f"gymnax space {type(space).__name__} has no jit_env spec")


def _space_to_spec(space: Any, like: Any, gymnax_spaces: Any) -> specs.Spec:
    if isinstance(space, gymnax_spaces.Dict):
        return specs.Dict(
            {k: _space_to_spec(s, like[k], gymnax_spaces) for k, s in space.spaces.items()}
        )
    if isinstance(space, gymnax_spaces.Tuple):
        return specs.Tuple(
            *[_space_to_spec(s, x, gymnax_spaces) for s, x in zip(space.spaces, like)]
        )
    return _leaf_spec(space, like, gymnax_spaces)


def _strong(tree: Any) -> Any:
    """``tree`` with every weakly typed leaf made strongly typed, of the same dtype.

    gymnax states mix weak and strong types for one leaf: Pendulum's ``reset``
    sets ``last_u=jnp.array(0.0)`` (weak float32) and its ``step`` stores the
    float32 action (gymnax/environments/classic_control/pendulum.py), so a
    jitted ``step`` would compile twice. Values and dtypes are unchanged.
    """

    def strong(x: Any) -> Any:
        if isinstance(x, jax.Array) and getattr(x, "weak_type", False):  # keys have none
            return jax.lax.convert_element_type(x, x.dtype)
        return x

    return jax.tree.map(strong, tree)


class FromGymnax(LibraryAdapter):
    """A gymnax environment as a pure jit_env environment (built by `from_gymnax`).

    Args:
      gymnax_env: a gymnax ``Environment`` instance.
      env_params: gymnax ``EnvParams`` (default: ``gymnax_env.default_params``).
      renderer: optional ``state -> uint8 [H, W, 3]`` renderer.

    Specs: observation, gymnax's observation space with the dtype gymnax actually
    returns; action, gymnax's action space (``DiscreteArray`` or ``BoundedArray``);
    reward and discount, float32 scalars.
    """

    factory = "from_gymnax"
    label = "Gymnax"

    def __init__(self, gymnax_env: Any, env_params: Any = None, *, renderer: Any = None):
        gymnax_spaces = require("gymnax.environments.spaces", "from_gymnax")
        for method in ("reset", "step", "observation_space", "action_space"):
            if not callable(getattr(gymnax_env, method, None)):
                raise TypeError(
                    f"`gymnax_env` must be a gymnax Environment (with `{method}`), got "
                    f"{type(gymnax_env).__name__}"
                )
        super().__init__(renderer=renderer)
        self._wrapped = gymnax_env
        self._params = gymnax_env.default_params if env_params is None else env_params
        obs_like, _ = jax.eval_shape(
            lambda k: gymnax_env.reset(k, self._params), jax.ShapeDtypeStruct((2,), jnp.uint32)
        )
        # gymnax builds its spaces with jnp operations (e.g. CartPole's
        # ``observation_space``, gymnax/environments/classic_control/cartpole.py),
        # which are staged out, as tracers, when this adapter is built inside
        # ``jax.jit``; evaluated at compile time they stay concrete arrays.
        with jax.ensure_compile_time_eval():
            observation_space = gymnax_env.observation_space(self._params)
            action_space = gymnax_env.action_space(self._params)
            self._observation_spec = _space_to_spec(observation_space, obs_like, gymnax_spaces)
        if isinstance(action_space, gymnax_spaces.Discrete):
            action_like = jax.ShapeDtypeStruct((), np.dtype(action_space.dtype))
        elif isinstance(action_space, gymnax_spaces.Box):
            action_like = jax.ShapeDtypeStruct(
                tuple(action_space.shape), np.dtype(action_space.dtype)
            )
        else:
            raise TypeError(
                f"from_gymnax supports Discrete and Box action spaces, got "
                f"{type(action_space).__name__}"
            )
        with jax.ensure_compile_time_eval():
            self._action_spec = _leaf_spec(action_space, action_like, gymnax_spaces)

    gymnax_env = wrapped_accessor("gymnax")

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[GymnaxState, _core.TimeStep]:
        """Splits ``key`` and calls gymnax ``reset(key, params)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: gymnax ``EnvParams`` (default: the adapter's).
        """
        params = self._params if options is None else options
        key, reset_key = jax.random.split(key)
        observation, env_state = self._wrapped.reset(reset_key, params)
        state = GymnaxState(key=key, env_state=_strong(env_state), params=params)
        return state, _core.restart(_strong(observation))

    def step(self, state: GymnaxState, action: Any) -> tuple[GymnaxState, _core.TimeStep]:
        """Splits ``state.key`` and calls gymnax ``step(key, state, action, params)``.

        Raises:
          TypeError: if gymnax returns neither the 1.x 6-tuple nor the 0.x
            5-tuple.
        """
        key, step_key = jax.random.split(state.key)
        out = self._wrapped.step(step_key, state.env_state, action, state.params)
        if len(out) == 6:
            _, env_state, reward, terminated, truncated, info = out
            if "final_observation" not in info:
                raise TypeError("gymnax step returned no info['final_observation']")
            observation = info["final_observation"]
            discount = jnp.where(terminated, 0.0, 1.0).astype(jnp.float32)
            done = jnp.logical_or(terminated, truncated)
        elif len(out) == 5:
            _, env_state, reward, done, info = out
            if "final_observation" in info:
                observation = info["final_observation"]
            else:
                # gymnax 0.0.x: no final observation, so use the step without
                # the built-in reset (its documented `step_env`).
                observation, env_state, reward, done, info = self._wrapped.step_env(
                    step_key, state.env_state, action, state.params
                )
            discount = jnp.asarray(info.get("discount", 1.0 - done), jnp.float32)
        else:
            raise TypeError(
                f"gymnax step returned a {len(out)}-tuple; expected gymnax 1.x's 6-tuple "
                "or 0.x's 5-tuple"
            )
        done = jnp.asarray(done, bool)
        discount = jnp.where(done, discount, jnp.ones((), jnp.float32))
        timestep = _core.last_where(done, reward, discount, _strong(observation))
        return GymnaxState(key=key, env_state=_strong(env_state), params=state.params), timestep



def from_gymnax(gymnax_env: Any, env_params: Any = None) -> FromGymnax:
    """Wraps a gymnax environment as a pure, jittable jit_env environment.

    Any gymnax 1.x environment (classic control, bsuite, MinAtar, misc)
    works; gymnax 0.x's 5-tuple ``step`` is accepted too.

    * ``reset(key, options=params)`` splits ``key`` once and calls gymnax
      ``reset(reset_key, params)``; ``params`` (gymnax ``EnvParams``,
      default ``env_params``) are kept in the state, so vmapping over them
      randomises the domain.
    * ``step`` splits ``state.key`` once and calls gymnax
      ``step(step_key, env_state, action, params)``; a gymnax ``done`` is a
      ``LAST`` TimeStep whose observation is gymnax's
      ``info["final_observation"]``, with discount 0 when gymnax reports
      ``terminated`` and 1 when only ``truncated`` (0.x: gymnax's
      ``info["discount"]``). Reward is cast to ``float32``.
    * Specs: gymnax's spaces with the shapes and dtypes gymnax really returns
      (some gymnax spaces declare another dtype than their observations);
      float bounds at the dtype's extremes are treated as unbounded.

    Trajectories are gymnax's own: with the same keys (split as above) the
    observations, rewards and done flags equal a plain gymnax loop's.

    Args:
      gymnax_env: a gymnax ``Environment`` (e.g. ``gymnax.make("CartPole-v1")[0]``).
      env_params: its ``EnvParams`` (default ``gymnax_env.default_params``).

    Returns:
      A `jit_env.Environment` whose state is a `GymnaxState`.

    Raises:
      ImportError: ``"from_gymnax needs: pip install 'jit-env[gymnax]'"``.
      TypeError: if ``gymnax_env`` lacks gymnax's methods or has an action
        space other than ``Discrete`` / ``Box``.

    Reference: gymnax 1.0.1 ``gymnax.environments.environment.Environment``
    (``reset`` / ``step`` / ``step_env`` / spaces).
    """
    return FromGymnax(gymnax_env, env_params)


def make_gymnax(gymnax_id: str, **kwargs: Any) -> FromGymnax:
    """``from_gymnax(*gymnax.make(gymnax_id, **kwargs))``: the ``"gymnax/<id>"`` factory.

    Raises:
      ImportError: if gymnax is missing.
      ValueError: if gymnax does not know ``gymnax_id`` (message lists its ids).
    """
    gymnax = require("gymnax", "from_gymnax")
    if gymnax_id not in gymnax.registered_envs:
        raise ValueError(
            f"`gymnax_id` {gymnax_id!r} is not a gymnax environment; gymnax has "
            f"{list(gymnax.registered_envs)}"
        )
    gymnax_env, env_params = gymnax.make(gymnax_id, **kwargs)
    return from_gymnax(gymnax_env, env_params)


def register_gymnax_ids(prefix: str = "gymnax/") -> tuple[str, ...]:
    """Registers every gymnax environment as ``jit_env.make(prefix + id)``.

    After this, ``jit_env.envs.make("gymnax/CartPole-v1")`` returns
    ``from_gymnax(*gymnax.make("CartPole-v1"))``. Registering twice is a
    no-op (the records are identical). gymnax applies its own time limit
    (``max_steps_in_episode``) as truncation, so no ``TimeLimit`` is added.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_gymnax_ids needs: pip install 'jit-env[gymnax]'"``.
    """
    gymnax = require("gymnax", "register_gymnax_ids")
    return register_suite(prefix, gymnax.registered_envs,
                          "jit_env.compat._gymnax:make_gymnax", "gymnax_id")


def to_gymnax(env: _core.Environment, params: Any = None) -> Any:
    """Wraps a jit_env environment as a gymnax ``Environment``.

    Code written against gymnax 1.x (PureJaxRL-style training scripts,
    gymnax's own ``LogWrapper`` / ``FlattenObservationWrapper``) runs on any
    jit_env environment unchanged:

    * ``reset(key, params=None) -> (obs, state)`` is ``env.reset(key,
      options=params)`` (``params`` defaults to ``default_params``, the
      ``params`` given here).
    * ``step(key, state, action, params=None) -> (obs, state, reward,
      terminated, truncated, info)`` is gymnax's own base-class ``step``:
      ``env.step`` and, where the episode ended, the observation and state
      of ``reset(key_reset, params)`` (``key_reset`` split from ``key`` by
      gymnax), with the pre-reset observation in
      ``info["final_observation"]``. ``terminated`` is a ``LAST`` TimeStep
      with discount 0, ``truncated`` a ``LAST`` with any other discount (a
      `jit_env.wrappers.TimeLimit`); ``info["discount"]`` is the TimeStep's
      discount. The jit_env state keeps the parameters it was reset with and
      its own key, so ``step``'s ``params`` only reach the auto-reset and
      ``key`` only draws that reset.
    * ``observation_space`` / ``action_space`` are the specs as gymnax
      spaces (``jit_env.compat._to_gymnax.spec_to_gymnax_space``);
      ``num_actions`` and ``name`` as gymnax has them.

    Every call is pure and jittable (gymnax jits ``reset`` / ``step`` with
    ``self`` static) and vmaps over keys and states as gymnax environments do.

    Args:
      env: a `jit_env.Environment` that does not reset itself (not inside
        `jit_env.wrappers.AutoReset`: gymnax resets); e.g.
        ``jit_env.make("CartPole-v1")``, with its time limit.
      params: the ``options`` of ``env.reset`` when gymnax passes none
        (default ``None``: the environment's own defaults).

    Returns:
      A ``gymnax.environments.environment.Environment`` subclass instance
      (``jit_env.compat._to_gymnax.ToGymnax``); its state is a
      ``ToGymnaxState``.

    Raises:
      ImportError: ``"to_gymnax needs: pip install 'jit-env[gymnax]'"``.
      TypeError: if ``env`` is not a `jit_env.Environment`, or a spec has no
        gymnax space (e.g. a ``DiscreteArray`` of uint8 or of several values).

    Reference: gymnax 1.0.1 ``gymnax/environments/environment.py``
    (``Environment.step`` / ``reset`` / ``step_env`` / ``reset_env`` /
    ``is_truncated``) and ``gymnax/environments/spaces.py``.
    """
    require("gymnax.environments.environment", "to_gymnax")
    if not isinstance(env, _core.Environment):
        raise TypeError(f"to_gymnax: `env` must be a jit_env.Environment, got "
                        f"{type(env).__name__}")
    from jit_env.compat._to_gymnax import ToGymnax

    return ToGymnax(env, params)
