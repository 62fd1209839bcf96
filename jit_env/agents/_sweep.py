"""Hyper-parameter sweeps in one program: a grid of configs trained under ``jax.vmap``.

A sweep maps config fields to lists of values; its grid is their Cartesian
product (the first field varying slowest, as ``itertools.product``). Only the
fields a config class lists in its ``sweepable`` class attribute (collected
along its MRO) can be swept: those whose value enters the program only as an
array (learning rates, loss coefficients, γ, λ, ε, τ). Structural fields —
sizes, counts, booleans and names that change the program's shapes or control
flow — are refused. The swept values become ``float32`` arrays of shape ``[G]``
and the whole training run is ``jax.vmap``-ed over them: the agent factory runs
under the vmap, so every closure that reads ``config.learning_rate`` sees a
batched tracer (optax accepts an array step size, so ``optax.inject_hyperparams``
is not needed and the optimiser state keeps the shape of an unswept run).
Every grid point trains from the same key, so a sweep's point equals the
separate run with that config and key (to float32 rounding: batched kernels
may round differently).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp

from jit_env.agents._config import TrainingConfig


def sweepable_fields(config_cls: type) -> tuple[str, ...]:
    """The fields of ``config_cls`` a sweep may vary (``sweepable`` along the MRO), sorted."""
    names: set[str] = set()
    for cls in config_cls.__mro__:
        names.update(cls.__dict__.get("sweepable", ()))
    return tuple(sorted(names))


def sweep_grid(
    config: TrainingConfig, sweep: Mapping[str, Sequence[Any]]
) -> list[dict[str, float]]:
    """The grid of a sweep over ``config``, each point checked: ``[{field: value}, ...]``.

    Args:
      config: the base config; every grid point is ``dataclasses.replace(config,
        **point)``.
      sweep: ``{field: [value, ...]}``, at least one field, each with at least
        one value (ints and floats; bools are refused).

    Returns:
      The ``G = Π len(values)`` points, in ``itertools.product`` order (the first
      field varies slowest), values as Python floats.

    Raises:
      ValueError: naming the field, for an empty ``sweep``, an unknown field, a
        structural (not sweepable) field, an empty list, a non-numeric or
        non-finite value, ``gamma`` swept with ``normalize_rewards`` (the
        discount of `NormalizeReward` is a constant of the program), or a grid
        point that fails ``validate()`` (its message says which point).
    """
    if not isinstance(sweep, Mapping) or not sweep:
        raise ValueError(f"`sweep` must be a non-empty mapping of field -> values, got {sweep!r}")
    name = type(config).__name__
    fields = {f.name for f in dataclasses.fields(config)}
    allowed = sweepable_fields(type(config))
    for field, values in sweep.items():
        if field not in fields:
            raise ValueError(f"sweep: {name} has no field {field!r}")
        if field not in allowed:
            raise ValueError(
                f"sweep: field {field!r} of {name} is structural (it changes the program) and "
                f"cannot be swept; sweepable fields: {', '.join(allowed)}"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"sweep: field {field!r} needs a non-empty list of values, "
                             f"got {values!r}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"sweep: field {field!r} has a value that is not a finite "
                                 f"number: {v!r}")
    if "gamma" in sweep and config.normalize_rewards:
        raise ValueError("sweep: field 'gamma' cannot be swept with normalize_rewards=True "
                         "(NormalizeReward's discount is a constant of the program)")
    names = list(sweep)
    points: list[dict[str, Any]] = [dict(zip(names, map(float, combo), strict=True))
              for combo in itertools.product(*(sweep[n] for n in names))]
    for point in points:
        try:
            dataclasses.replace(config, **point).validate()
        except ValueError as error:
            raise ValueError(f"sweep: grid point {point}: {error}") from None
    return points


def stacked_values(points: Sequence[Mapping[str, float]]) -> dict[str, jnp.ndarray]:
    """``{field: float32 [G]}`` of a `sweep_grid`'s points (what ``jax.vmap`` maps over)."""
    return {n: jnp.asarray([p[n] for p in points], jnp.float32) for n in points[0]}
