"""Domain randomisation for the training loop: one parameter draw per environment of a batch.

Environments take their parameters as ``reset(key, options=params)`` and keep
them in the state (DESIGN.md, "Parameters travel in the state"), so a batch of
``B`` environments reset with a ``[B]``-batched parameter pytree
(`jit_env.wrappers.VmapAutoReset` with ``options_axis=0``) runs ``B`` different
environments, and every auto-reset of environment ``b`` reuses its parameters.

`TrainingConfig.env_params` describes the draw as strings, so that it is a
command-line flag (``jit-env train --env-params gravity=9.8,12.0 length=0.5``)
and is recorded in the run's ``config.json``:

- ``NAME=VALUE``: every environment gets ``VALUE``;
- ``NAME=LOW,HIGH``: each environment draws ``U[LOW, HIGH)`` once, at
  ``Trainer.init``, from a key derived from the run's key (the same seed gives
  the same draw).

Parameters not named keep the environment's ``default_params``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

EnvParamsSampler = Callable[[jax.Array, int], Any]
"""``sampler(key, num_envs) -> params``: a parameter pytree whose leaves have a
leading ``[num_envs]`` axis (the environment's ``default_params`` type)."""


def parse_env_params(entries: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``{name: (low, high)}`` from ``NAME=VALUE`` / ``NAME=LOW,HIGH`` strings.

    Args:
      entries: the strings of `TrainingConfig.env_params`.

    Returns:
      ``(low, high)`` per name, in the order given (``low == high`` for a
      single value).

    Raises:
      ValueError: naming the entry, for one without ``=``, with an empty name,
        with one value or two that are not finite numbers, with ``LOW > HIGH``,
        or naming a parameter twice.
    """
    out: dict[str, tuple[float, float]] = {}
    for entry in entries:
        name, sep, values = str(entry).partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"`env_params` entry {entry!r} must be NAME=VALUE or NAME=LOW,HIGH")
        parts = values.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (1, 2) or not all(np.isfinite(numbers)):
            raise ValueError(f"`env_params` entry {entry!r}: expected one or two finite numbers "
                             f"after '=', got {values!r}")
        low, high = numbers[0], numbers[-1]
        if low > high:
            raise ValueError(f"`env_params` entry {entry!r}: LOW {low} is greater than HIGH {high}")
        if name in out:
            raise ValueError(f"`env_params` names {name!r} twice")
        out[name] = (low, high)
    return out


def ranges_sampler(default_params: Any, ranges: dict[str, tuple[float, float]],
                   env_id: str) -> EnvParamsSampler:
    """The `EnvParamsSampler` of `parse_env_params` ranges around ``default_params``.

    Named float parameters are drawn ``U[low, high)`` in float32
    (``jax.random.uniform``; exactly ``low`` when ``low == high``); named integer
    parameters uniformly from the integers ``low … high`` inclusive
    (``jax.random.randint``; both must then be integers). Each named parameter
    draws from its own key, ``jax.random.fold_in(key, i)`` for the ``i``-th
    name. The other parameters are ``default_params``' values, broadcast to
    ``[num_envs]``.

    Args:
      default_params: the environment's ``default_params`` (a NamedTuple of
        scalars, e.g. `jit_env.envs.classic_control.CartPoleParams`).
      ranges: from `parse_env_params`.
      env_id: the environment's id, for error messages.

    Raises:
      ValueError: if the environment has no ``default_params`` NamedTuple, a
        name is not one of its fields (lists them), a field is not a scalar
        number, or an integer field is given non-integer bounds.
    """
    fields = getattr(default_params, "_fields", None)
    if fields is None:
        raise ValueError(f"`env_params`: environment {env_id!r} has no `default_params` "
                         f"NamedTuple to randomise (got {type(default_params).__name__})")
    unknown = [n for n in ranges if n not in fields]
    if unknown:
        raise ValueError(f"`env_params`: {env_id!r} has no parameters {unknown}; its "
                         f"parameters are {list(fields)}")
    kinds: dict[str, bool] = {}
    for name, (low, high) in ranges.items():
        value = getattr(default_params, name)
        dtype = jnp.result_type(value)
        if jnp.shape(value) != () or not (jnp.issubdtype(dtype, jnp.floating)
                                           or jnp.issubdtype(dtype, jnp.integer)):
            raise ValueError(f"`env_params`: {env_id!r} parameter {name!r} is not a scalar "
                             f"number (got {value!r})")
        is_int = bool(jnp.issubdtype(dtype, jnp.integer)) and not isinstance(value, bool)
        if is_int and not (float(low).is_integer() and float(high).is_integer()):
            raise ValueError(f"`env_params`: {env_id!r} parameter {name!r} is an integer; "
                             f"got bounds {low}, {high}")
        kinds[name] = is_int

    def sample(key: jax.Array, num_envs: int) -> Any:
        values = {}
        for i, (name, (low, high)) in enumerate(ranges.items()):
            k = jax.random.fold_in(key, i)
            if kinds[name]:
                values[name] = jax.random.randint(k, (num_envs,), int(low), int(high) + 1)
            elif low == high:
                values[name] = jnp.full((num_envs,), low, jnp.float32)
            else:
                values[name] = jax.random.uniform(k, (num_envs,), jnp.float32, low, high)
        others = {}
        for n in fields:
            if n not in values:
                x = jnp.asarray(getattr(default_params, n))
                others[n] = jnp.broadcast_to(x, (num_envs, *x.shape))
        return default_params._replace(**values, **others)

    return sample
