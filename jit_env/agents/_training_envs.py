"""The environment stack the bundled agents train and evaluate in (private).

`make_single_env` (one environment, `ClipAction` for bounded float actions) and
`make_training_env` (the batched, auto-resetting, sharded and normalised
stack); both take any string `jit_env.make` accepts or an `Environment`
object. Used by `jit_env.agents._loop` (training, evaluation) and the command
line (`jit_env.cli`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from jax.sharding import Mesh

from jit_env import _core, specs, wrappers
from jit_env.agents._config import TrainingConfig, env_kwargs
from jit_env.envs import make


def make_single_env(env_id: str | _core.Environment,
                    kwargs: Mapping[str, Any] | None = None) -> _core.Environment:
    """``make(env_id, **kwargs)``, wrapped in `ClipAction` if its actions are bounded floats.

    The environment an agent acts in, unbatched (training batches it; evaluation
    and animations use it as is).

    Args:
      env_id: any string `jit_env.make` accepts (a registered, entry-point or
        suite id, or ``"module:attr"``), or an `Environment` object, used as is.
      kwargs: keyword arguments for `jit_env.make` (none with an object).

    Raises:
      KeyError: for an unknown ``env_id`` (from `jit_env.make`, naming close ids).
      ImportError / AttributeError / TypeError: from `jit_env.make`, for a
        ``module:attr`` that cannot be imported or is not an `Environment`.
      ValueError: if ``kwargs`` are given with an `Environment` object.
    """
    env = _base_env(env_id, kwargs)
    action_spec = env.action_spec()
    if isinstance(action_spec, specs.BoundedArray) and jnp.issubdtype(
        action_spec.dtype, jnp.floating
    ):
        env = wrappers.ClipAction(env)
    return env


def _base_env(env: str | _core.Environment, kwargs: Mapping[str, Any] | None) -> _core.Environment:
    if isinstance(env, _core.Environment):
        if kwargs:
            raise ValueError(f"environment keyword arguments {dict(kwargs)} were given with an "
                             f"Environment object ({env}); they only apply to a string")
        return env
    return make(env, **dict(kwargs or {}))


def _config_env(config: TrainingConfig, env: _core.Environment | None
                ) -> tuple[str | _core.Environment, dict[str, Any]]:
    """``(config.env, its parsed env_kwargs)``, or ``(env, {})`` for an `Environment` object."""
    if env is None:
        return config.env, env_kwargs(config)
    if not isinstance(env, _core.Environment):
        raise TypeError(f"`env` must be a jit_env.Environment (or None: config.env), got "
                        f"{type(env).__name__}; name environments by string in config.env")
    if env_kwargs(config):
        raise ValueError(f"`config.env_kwargs` = {config.env_kwargs!r} was given with an "
                         f"Environment object `env` ({env}); it only applies to config.env")
    return env, {}


def make_training_env(
    env_id: str | _core.Environment,
    num_envs: int,
    *,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    gamma: float = 0.99,
    mesh: Mesh | None = None,
    axis_name: str = "batch",
    env_kwargs: Mapping[str, Any] | None = None,
    options_axis: int | None = None,
) -> tuple[_core.Environment, _core.Environment]:
    """The training stack around ``make(env_id, **env_kwargs)``, a fixed batch of ``num_envs``.

    From the inside out: ``make`` (with the registered `TimeLimit`); `ClipAction`
    when the action spec is a bounded float array (a Gaussian policy's samples
    are clipped to the bounds when stepping, as in CleanRL's continuous PPO);
    `VmapAutoReset` of ``num = num_envs`` environments with same-step auto-reset
    (final observations in ``extras["final_observation"]``; ``reset`` takes one
    key or ``num_envs`` keys); with a ``mesh``, `Shard` (the batch axis split
    over the devices of ``axis_name`` at every step; the wrappers outside
    compute per environment, or reduce over the batch, so XLA keeps their
    per-environment arrays sharded too); `EpisodeStatistics`, which reports the
    raw return and length of each finished episode in ``extras``; then
    optionally `NormalizeReward` (discount ``gamma``) and `NormalizeObservation`,
    whose statistics have no batch axis and stay replicated.

    Args:
      env_id: a string for `jit_env.make` or an `Environment` object (`make_single_env`).
      num_envs: batch size ``B``, a positive int.
      normalize_observations: add `NormalizeObservation`.
      normalize_rewards: add `NormalizeReward`.
      gamma: discount of `NormalizeReward`.
      mesh: optional device mesh for `Shard`.
      axis_name: the mesh axis the batch is split over.
      env_kwargs: keyword arguments for `jit_env.make` (strings only).
      options_axis: `VmapAutoReset`'s: ``None`` broadcasts ``reset``'s
        ``options`` to every environment, ``0`` maps a ``[num_envs]``-batched
        parameter pytree over them (domain randomisation).

    Returns:
      ``(batched_env, single_env)``: the stack, whose TimeStep leaves are
      ``[num_envs, ...]``, and ``make(env_id)`` itself (without `ClipAction`),
      which gives the agent its specs, action bounds included (a greedy
      Gaussian policy clips its mean to them; SAC-style agents need them).

    Raises:
      KeyError: for an unregistered ``env_id``.
      ValueError: if ``num_envs`` is not a positive int, or (with a ``mesh``) not
        divisible by the size of mesh axis ``axis_name`` (from `Shard`).
      TypeError: if ``mesh`` is not a ``jax.sharding.Mesh``.
    """
    single = make_single_env(env_id, env_kwargs)
    base = single.env if isinstance(single, wrappers.ClipAction) else single
    env: _core.Environment = wrappers.VmapAutoReset(single, num_envs, options_axis=options_axis)
    if mesh is not None:
        env = wrappers.Shard(env, mesh, axis_name)
    env = wrappers.EpisodeStatistics(env)
    if normalize_rewards:
        env = wrappers.NormalizeReward(env, gamma=gamma)
    if normalize_observations:
        env = wrappers.NormalizeObservation(env)
    return env, base
