"""`to_gymnasium_vector`: a batch of jit_env environments as a gymnasium ``VectorEnv``.

The whole batch is one jitted, vmapped step. Auto-reset follows gymnasium
1.x's ``AutoresetMode`` (https://farama.org/Vector-Autoreset-Mode), computed
SIMD-style, with the batched reset of `jit_env.wrappers.VmapAutoReset`
(`jit_env.wrappers._batched_reset.reset_where`): nothing when no environment needs
a reset, else only those environments are reset.

Each sub-environment ``i`` owns a key chain exactly like a single
`to_gymnasium` adapter seeded with ``seed + i``, so the batch reproduces,
step for step, ``gymnasium.vector.SyncVectorEnv`` over `to_gymnasium`
adapters with the same seeds and autoreset mode.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, prng
from jit_env._pytrees import select_tree
from jit_env.compat._gymnasium import (
    RENDER_FPS,
    check_scalar_reward,
    env_options,
    render_modes,
)
from jit_env.compat._host import action_caster, to_numpy_like_space
from jit_env.compat._jitted import render, reset_fn, step_fn
from jit_env.compat._keys import check_seed
from jit_env.compat._optional import require
from jit_env.compat._spaces import spec_to_space
from jit_env.wrappers._batched_reset import reset_where


def _seed_chain(seeds: jax.Array, seeded: jax.Array, chain: jax.Array) -> jax.Array:
    """``jit_env.prng.key(seed_i)`` where ``seeded_i``, else the current chain key."""
    return select_tree(seeded, jax.vmap(prng.key)(seeds), chain)


def _reset_batch(env: _core.Environment, chain: jax.Array, options: Any, previous: Any = None):
    """Every row's `reset_fn` (``jit_env.reset_after`` from its ``previous`` row if given)."""
    chain, states, timesteps = jax.vmap(lambda k, p: reset_fn(env, k, options, p))(
        chain, previous
    )
    return chain, states, timesteps.observation, timesteps.extras


def _reset_where(
    env, mask: jax.Array, chain: jax.Array, previous: Any, current: Any, options: Any
) -> Any:
    """``current`` = ``(chain, states, observation, extras)`` with the ``mask`` rows reset
    (``jit_env.reset_after`` from the rows of the states ``previous``), by the batched
    reset `VmapAutoReset` uses (`jit_env.wrappers._batched_reset.reset_where`)."""

    def reset(rows: Any) -> Any:
        return _reset_batch(env, rows[0], options, rows[1])

    return reset_where(mask, (chain, previous), current, reset)


def _reset_some(env, carry, mask, options):
    states, chain, needs_reset, observation = carry
    new_chain, new_states, new_obs, extras = _reset_batch(env, chain, options, states)
    chain = select_tree(mask, new_chain, chain)
    states = select_tree(mask, new_states, states)
    observation = select_tree(mask, new_obs, observation)
    needs_reset = needs_reset & ~mask
    return (states, chain, needs_reset, observation), observation, extras


def _step_batch(env, carry, actions, mode: str, options: Any):
    states, chain, needs_reset, _ = carry
    new_states, timesteps, terminated, truncated = jax.vmap(
        functools.partial(step_fn, env)
    )(states, actions)
    observation, reward, extras = timesteps.observation, timesteps.reward, timesteps.extras
    if mode == "NextStep":
        # Environments that ended on the previous call restart now; their
        # step output is discarded and the reset shows reward 0, not done.
        def with_resets(_):
            out_chain, out_states, out_obs, out_extras = _reset_where(
                env, needs_reset, chain, states, (chain, new_states, observation, extras), options
            )
            return (
                out_chain,
                out_states,
                out_obs,
                jnp.where(needs_reset, jnp.zeros_like(reward), reward),
                terminated & ~needs_reset,
                truncated & ~needs_reset,
                out_extras,
            )

        def without(_):
            return chain, new_states, observation, reward, terminated, truncated, extras

        chain, new_states, observation, reward, terminated, truncated, extras = jax.lax.cond(
            jnp.any(needs_reset), with_resets, without, None
        )
        done = terminated | truncated
        carry = (new_states, chain, done, observation)
        return carry, (observation, reward, terminated, truncated, extras)
    done = terminated | truncated
    if mode == "Disabled":
        return (new_states, chain, done, observation), (
            observation, reward, terminated, truncated, extras
        )

    # SameStep: environments that end now restart now; the final observation
    # and extras travel next to the new episode's.
    chain, states_out, obs_out, extras_out = _reset_where(
        env, done, chain, new_states, (chain, new_states, observation, extras), options
    )
    carry = (states_out, chain, jnp.zeros_like(done), obs_out)
    return carry, (obs_out, reward, terminated, truncated, extras_out, observation, extras, done)


def _batched_info(info: dict, extras: Any, mask: np.ndarray | None) -> dict:
    """gymnasium's vector ``info`` layout: ``info[k]`` batched, ``info["_k"]`` a mask
    (``None`` when the outputs stay on device)."""
    if extras is None:
        return info
    for key, value in dict(extras).items():
        if isinstance(value, dict):
            info[key] = _batched_info({}, value, mask)
        else:
            info[key] = value
        info[f"_{key}"] = mask
    return info


def _masked(tree: Any, mask: np.ndarray) -> Any:
    """Zeros where ``mask`` is False (as SyncVectorEnv leaves unset entries)."""

    def zero(x: np.ndarray) -> np.ndarray:
        m = np.reshape(mask, mask.shape + (1,) * (x.ndim - 1))
        return np.where(m, x, np.zeros_like(x))

    return jax.tree.map(zero, tree)


_SEED_FN = jax.jit(_seed_chain)
_KEYS_FN = jax.jit(jax.vmap(prng.key))
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(env: _core.Environment, mode: str) -> tuple[Any, Any, Any]:
    """Jitted (reset all, reset some, step) for ``env`` and an autoreset mode, cached
    per environment object (weakly, as `jit_env.compat._jitted.compiled`)."""
    try:
        return _CACHE[env][mode]
    except KeyError:
        pass
    except TypeError:  # unhashable environment: compile per adapter
        return _build(lambda: env, mode)
    fns = _build(weakref.ref(env), mode)
    _CACHE.setdefault(env, {})[mode] = fns
    return fns


def _build(get_env: Any, mode: str) -> tuple[Any, Any, Any]:
    return (
        jax.jit(lambda chain, options, previous: _reset_batch(get_env(), chain, options, previous)),
        jax.jit(lambda carry, mask, options: _reset_some(get_env(), carry, mask, options)),
        jax.jit(
            lambda carry, actions, options: _step_batch(get_env(), carry, actions, mode, options)
        ),
    )


_MODES = {
    "nextstep": "NextStep",
    "next_step": "NextStep",
    "samestep": "SameStep",
    "same_step": "SameStep",
    "disabled": "Disabled",
}


@functools.cache
def _adapter_class() -> type:
    # Any: a module imported at run time is a valid base-class provider mypy cannot follow.
    gym: Any = require("gymnasium", "to_gymnasium_vector")
    from gymnasium.vector import AutoresetMode
    from gymnasium.vector.utils import batch_space

    class JitEnvToGymnasiumVector(gym.vector.VectorEnv):
        """``num_envs`` copies of a jit_env `Environment` as one gymnasium ``VectorEnv``.

        Built by `to_gymnasium_vector` (see there).
        """

        def __init__(
            self,
            env: _core.Environment,
            num_envs: int,
            *,
            autoreset_mode: Any = AutoresetMode.NEXT_STEP,
            device: Any = None,
            to_numpy: bool = True,
            options: Any = None,
            render_mode: str | None = None,
        ):
            if not isinstance(env, _core.Environment):
                raise TypeError(
                    f"`env` must be a jit_env.Environment, got {type(env).__name__}"
                )
            if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
                raise TypeError(f"`num_envs` must be an int, got {type(num_envs).__name__}")
            if num_envs < 1:
                raise ValueError(f"`num_envs` must be >= 1, got {num_envs}")
            if isinstance(autoreset_mode, str):
                key = autoreset_mode.lower()
                if key not in _MODES:
                    raise ValueError(
                        "`autoreset_mode` must be a gymnasium AutoresetMode or one of "
                        f"{sorted(_MODES)}, got {autoreset_mode!r}"
                    )
                autoreset_mode = AutoresetMode(_MODES[key])
            if not isinstance(autoreset_mode, AutoresetMode):
                raise TypeError(
                    "`autoreset_mode` must be a gymnasium AutoresetMode or str, got "
                    f"{type(autoreset_mode).__name__}"
                )
            check_scalar_reward(env, "to_gymnasium_vector")
            modes = render_modes(env, options, render_mode)
            self._env = env
            self.num_envs = int(num_envs)
            self.autoreset_mode = autoreset_mode
            self.render_mode = render_mode
            self._device = device
            self._to_numpy = bool(to_numpy)
            self._options = options
            self.metadata = {
                "autoreset_mode": autoreset_mode,
                "render_modes": modes,
                "render_fps": RENDER_FPS,
                "jax": not self._to_numpy,
            }
            self.single_observation_space = spec_to_space(env.observation_spec())
            self.single_action_space = spec_to_space(env.action_spec())
            self.observation_space = batch_space(self.single_observation_space, self.num_envs)
            self.action_space = batch_space(self.single_action_space, self.num_envs)
            self._cast_action = action_caster(env.action_spec(), "actions")
            self._carry: Any = None
            self._reset_all, self._reset_some, self._step = _compiled(env, autoreset_mode.value)
            self._step_options = options

        @property
        def env(self) -> _core.Environment:
            """The wrapped (single, unbatched) jit_env environment."""
            return self._env

        @property
        def state(self) -> Any:
            """The batched (device) jit_env state, leading axis ``num_envs``, or ``None``."""
            return None if self._carry is None else self._carry[0]

        def __repr__(self) -> str:
            return f"to_gymnasium_vector({self._env!r}, num_envs={self.num_envs})"

        def _on_device(self) -> Any:
            """Context placing the batch on ``device`` (uncommitted, so one compile serves all)."""
            device = self._device
            if device is None or (
                # Flags are attributes set at run time; jax's Config declares none of them.
                jax.config.jax_default_device is None  # type: ignore[attr-defined]
                and device == jax.devices()[0]
            ):
                return contextlib.nullcontext()  # already the default: share its compiles
            return jax.default_device(device)

        def _out(self, tree: Any) -> Any:
            if not self._to_numpy:
                return tree
            return jax.tree.map(np.array, jax.device_get(tree))

        def _seeds(self, seed: Any) -> tuple[np.ndarray, np.ndarray]:
            n = self.num_envs
            if seed is None:
                seed = [None] * n
            elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
                check_seed(seed)
                seed = [int(seed) + i for i in range(n)]
            if len(seed) != n:
                raise ValueError(
                    f"`seed` as a list must have length num_envs={n}, got {len(seed)}"
                )
            seeded = np.array([s is not None for s in seed], dtype=bool)
            if self._carry is None:
                # Never reset: unseeded environments draw a seed, as to_gymnasium does.
                seed = [
                    int(self.np_random.integers(2**32)) if s is None else s for s in seed
                ]
                seeded[:] = True
            values = np.array(
                [0 if s is None else check_seed(s, f"seed[{i}]") for i, s in enumerate(seed)],
                dtype=np.uint32,
            )
            return values, seeded

        def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
            super().reset(seed=seed if isinstance(seed, (int, np.integer)) else None)
            mask = None
            if isinstance(options, dict) and "reset_mask" in options:
                options = dict(options)
                mask = options.pop("reset_mask")
                if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
                    raise TypeError(
                        "`options['reset_mask']` must be a NumPy bool array, got "
                        f"{type(mask).__name__} {getattr(mask, 'dtype', '')}"
                    )
                if mask.shape != (self.num_envs,):
                    raise ValueError(
                        f"`options['reset_mask']` must have shape ({self.num_envs},), "
                        f"got {mask.shape}"
                    )
                if self._carry is None:
                    raise ValueError("`options['reset_mask']` needs a full reset() first")
            params = env_options(self._options, options)
            seeds, seeded = self._seeds(seed)
            if mask is not None:
                seeded &= mask
            with self._on_device():
                if self._carry is None:
                    chain = _KEYS_FN(seeds)
                elif seeded.any():
                    chain = _SEED_FN(seeds, seeded, self._carry[1])
                else:
                    chain = self._carry[1]
                if mask is None:
                    self._step_options = params
                    previous = None if self._carry is None else self._carry[0]
                    chain, states, observation, extras = self._reset_all(chain, params, previous)
                    needs_reset = jnp.zeros((self.num_envs,), bool)
                    self._carry = (states, chain, needs_reset, observation)
                    reset_mask = np.ones((self.num_envs,), bool)
                else:
                    carry = (self._carry[0], chain, self._carry[2], self._carry[3])
                    self._carry, observation, extras = self._reset_some(carry, mask, params)
                    reset_mask = mask
            observation, extras = self._out((observation, extras))
            if self._to_numpy:
                extras = None if extras is None else _masked(extras, reset_mask)
            return observation, _batched_info({}, extras, reset_mask)

        def step(self, actions: Any):
            if self._carry is None:
                raise gym.error.ResetNeeded("to_gymnasium_vector: call reset() before step()")
            actions = self._cast_action(actions, (self.num_envs,))
            with self._on_device():
                self._carry, out = self._step(self._carry, actions, self._step_options)
            out = self._out(out)
            observation, reward, terminated, truncated, extras = out[:5]
            everyone = np.ones((self.num_envs,), bool) if self._to_numpy else None
            info = _batched_info({}, extras, everyone)
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final_obs, final_extras, done = out[5:]
                if not self._to_numpy:
                    info["final_obs"], info["_final_obs"] = final_obs, done
                    info["final_info"] = _batched_info({}, final_extras, done)
                    info["_final_info"] = done
                elif done.any():
                    info["final_obs"] = self._split_final(final_obs, done)
                    info["_final_obs"] = done
                    info["final_info"] = _batched_info(
                        {}, _masked(final_extras, done) if final_extras else final_extras, done
                    )
                    info["_final_info"] = done
            return observation, reward, terminated, truncated, info

        def _split_final(self, final_obs: Any, done: np.ndarray) -> np.ndarray:
            out = np.full((self.num_envs,), None, dtype=object)
            for i in np.flatnonzero(done):
                one = jax.tree.map(lambda x, i=i: x[i], final_obs)
                out[i] = to_numpy_like_space(one, self.single_observation_space, gym.spaces)
            return out

        def render(self) -> tuple[Any, ...] | None:
            if self.render_mode is None:
                return None
            if self._carry is None:
                raise gym.error.ResetNeeded("to_gymnasium_vector: call reset() before render()")
            states = self._carry[0]
            frames = []
            for i in range(self.num_envs):
                one = jax.tree.map(lambda x, i=i: x[i], states)
                frames.append(np.asarray(jax.device_get(render(self._env, one))))
            return tuple(frames)

        def close_extras(self, **kwargs: Any) -> None:
            del kwargs
            self._env.close()

    return JitEnvToGymnasiumVector


def to_gymnasium_vector(
    env: _core.Environment,
    num_envs: int,
    *,
    autoreset_mode: Any = "next_step",
    device: Any = None,
    to_numpy: bool = True,
    options: Any = None,
    render_mode: str | None = None,
) -> Any:
    """Runs ``num_envs`` copies of a jit_env environment as a gymnasium ``VectorEnv``.

    One ``jax.jit``-compiled, ``jax.vmap``-ped step advances the whole batch;
    states and key chains stay on the device between calls. gymnasium 1.x
    semantics:

    * ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i`` (a list
      gives one seed, or ``None``, per environment), exactly like
      ``SyncVectorEnv`` over `to_gymnasium` adapters; ``options`` are the
      environment parameters for every sub-environment, and
      ``options={"reset_mask": bool[N]}`` resets only the masked ones.
      Every reset after the first, by you or automatic, is
      ``jit_env.reset_after`` from that environment's state, as in
      `to_gymnasium` (what jit_env wrappers inside keep spans its episodes).
    * ``step(actions)`` takes a batch from ``action_space`` (leading axis
      ``num_envs``) and returns ``(obs, rewards, terminations, truncations,
      info)``: ``obs`` batched like ``observation_space``, ``rewards``
      ``float32 [N]``, the flags ``bool [N]`` (terminated = last and
      discount == 0, truncated = last and discount > 0), ``info`` the
      TimeStep extras batched, each key ``k`` with its mask ``"_k"``.
    * ``autoreset_mode`` (``metadata["autoreset_mode"]``):
      ``NEXT_STEP`` (default) — the step after a termination / truncation
      resets that environment (reward 0, flags False, its action ignored);
      ``SAME_STEP`` — an environment that ends is reset within the same call,
      ``obs`` holds the new episode's first observation and
      ``info["final_obs"]`` (a NumPy object array, ``None`` where nothing
      ended) / ``info["final_info"]`` hold the final ones, masks
      ``info["_final_obs"]`` / ``info["_final_info"]``, as gymnasium documents;
      ``DISABLED`` — no reset, use ``reset(options={"reset_mask": ...})``.

    With ``to_numpy=False`` nothing leaves the device: actions may be JAX
    arrays, every output is a JAX array, ``metadata["jax"]`` is True, and
    under ``SAME_STEP`` ``info["final_obs"]`` is the batched final
    observation (equal to ``obs`` where nothing ended) with its mask, always
    present so no host synchronisation is needed.

    Args:
      env: a single (unbatched) jit_env environment with scalar reward and
        discount specs, without an auto-reset wrapper.
      num_envs: batch size, ``>= 1``.
      autoreset_mode: a ``gymnasium.vector.AutoresetMode`` or one of
        ``"next_step"``, ``"same_step"``, ``"disabled"``.
      device: optional ``jax.Device`` holding the batch (default device when
        ``None``).
      to_numpy: NumPy in and out (default) or JAX arrays kept on the device.
      options: default environment parameters for every reset.
      render_mode: ``None`` or ``"rgb_array"`` (``render()`` returns one frame
        per sub-environment).

    Returns:
      A ``gymnasium.vector.VectorEnv``; works under gymnasium's vector
      wrappers (e.g. ``gymnasium.wrappers.vector.RecordEpisodeStatistics``).

    Raises:
      ImportError: ``"to_gymnasium_vector needs: pip install 'jit-env[gymnasium]'"``.
      TypeError: if ``env`` is not a jit_env `Environment`, ``num_envs`` is
        not an int, ``autoreset_mode`` has the wrong type; from ``step``, if
        an action's dtype cannot be cast within its kind.
      ValueError: if ``num_envs < 1``, ``autoreset_mode`` is unknown, a reward
        / discount spec is not scalar or ``render_mode`` unsupported; from
        ``reset``, on a bad seed list or reset mask; from ``step``, if the
        actions are not shaped ``[num_envs, *action_spec.shape]``, or any of
        them is outside the action spec's bounds or not finite (also for
        environments that a ``NEXT_STEP`` autoreset step resets: stricter
        than ``SyncVectorEnv``, which ignores their actions).

    Reference: gymnasium 1.x ``gymnasium.vector.VectorEnv`` and
    ``SyncVectorEnv`` (autoreset modes, info layout), checked step for step
    against ``SyncVectorEnv`` of `to_gymnasium` adapters.
    """
    require("gymnasium", "to_gymnasium_vector")
    return _adapter_class()(
        env,
        num_envs,
        autoreset_mode=autoreset_mode,
        device=device,
        to_numpy=to_numpy,
        options=options,
        render_mode=render_mode,
    )
