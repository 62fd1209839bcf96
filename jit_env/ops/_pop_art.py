"""Pop-Art: adaptive target normalisation that preserves outputs (rlax 0.1.9 family).

*ART* (Adaptively Rescaling Targets) tracks, for each of ``O`` outputs, an
exponential moving average of the targets' first and second moments (the
*shift* μ and ``second_moment`` ν; *scale* σ = √clip(ν − μ², lb², ub²)).
*POP* (Preserving Outputs Precisely) then rescales the final linear layer
``y = x w + b`` so that σ_new · y_new + μ_new == σ_old · y_old + μ_old:

    w_new = w σ_old / σ_new,     b_new = (σ_old b + μ_old − μ_new) / σ_new

(van Hasselt et al., "Learning values across many orders of magnitude",
NeurIPS 2016, Algorithm 1; Hessel et al., "Multi-task Deep RL with PopArt",
AAAI 2019, for the per-task variant with ``indices``).

With ``axis_name`` the moment updates are *summed* (``jax.lax.psum``) over the
named axis of ``pmap`` / ``vmap`` / ``shard_map``, as in rlax; every replica then
holds the same state.

Matches rlax 0.1.9 (`rlax._src.pop_art`) numerically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import validate

Array = jax.Array
LinearParams = Mapping[str, Array]
AxisName = str | Sequence[str] | None


class PopArtState(NamedTuple):
    """Pop-Art statistics, one entry per output.

    Attributes:
      shift: running mean μ of the targets, shape [O], float32.
      scale: σ = √clip(ν − μ², lb², ub²), shape [O], float32.
      second_moment: running mean ν of the squared targets, shape [O], float32.
    """

    shift: Array
    scale: Array
    second_moment: Array


class PopArtOutput(NamedTuple):
    """Output of `unnormalize_linear`: the selected output, normalised and not."""

    normalized: Array
    unnormalized: Array


def _check_state(fn: str, state: Any) -> None:
    fields = ("shift", "scale", "second_moment")
    if not isinstance(state, tuple) or not all(hasattr(state, f) for f in fields):
        raise TypeError(f"{fn}: `state` must be a PopArtState, got {type(state).__name__}")
    validate(fn, *((f"state.{f}", getattr(state, f), 1, "float") for f in fields))


def _check_indices(
    fn: str, indices: Any, other_name: str, other_shape: tuple, *, scalar_ok: bool = False
) -> None:
    validate(fn, ("indices", indices, None, "int"))
    if scalar_ok and np.shape(indices) == ():
        return
    if tuple(np.shape(indices)) != tuple(other_shape):
        raise ValueError(
            f"{fn}: `indices` has shape {tuple(np.shape(indices))}, expected {tuple(other_shape)} "
            f"to match {other_name}"
        )


def _cross_replica_scatter_add(
    source: Array, indices: Array, updates: Array, axis_name: AxisName
) -> Array:
    """source + Σ over all updates (and replicas) of ``updates`` at ``indices`` ([O])."""
    num_classes = source.shape[0]
    indices = jnp.reshape(indices, [-1])
    updates = jnp.reshape(updates, [-1])
    # One-hot scatter (as rlax): an index outside [0, O) contributes nothing.
    labels = jnp.arange(num_classes, dtype=indices.dtype)[None, :]
    hits = (indices[:, None] == labels).astype(updates.dtype)
    total = jnp.sum(updates[:, None] * hits, axis=0)
    if axis_name is not None:
        for name in (axis_name,) if isinstance(axis_name, str) else axis_name:
            total = jax.lax.psum(total, axis_name=name)
    return source + total


def normalize(state: PopArtState, unnormalized: Array, indices: Array) -> Array:
    """Normalises values with the statistics of their outputs: (x − μ[i]) / σ[i].

    Args:
      state: Pop-Art statistics ([O] each).
      unnormalized: values, shape [...], floating.
      indices: output of each value, shape [...] (same as ``unnormalized``), or a
        scalar: one output's statistics for every value (rlax broadcasts it; its
        ``examples/pop_art.py`` passes ``jnp.array(0)`` with a vector of Q-values), integer.

    Returns:
      normalised values, shape [...].

    Raises:
      TypeError: if ``state`` is not a PopArtState, or a dtype is wrong.
      ValueError: if ``indices`` is not a scalar and differs in shape from ``unnormalized``.

    Matches rlax 0.1.9 `rlax.normalize`.
    """
    _check_state("normalize", state)
    validate("normalize", ("unnormalized", unnormalized, None, "float"))
    _check_indices("normalize", indices, "`unnormalized`", np.shape(unnormalized), scalar_ok=True)
    return (unnormalized - state.shift[indices]) / state.scale[indices]


def unnormalize(state: PopArtState, normalized: Array, indices: Array) -> Array:
    """Undoes `normalize`: σ[i] · x + μ[i].

    Args:
      state: Pop-Art statistics ([O] each).
      normalized: values, shape [...], floating.
      indices: output of each value, shape [...] (same as ``normalized``), or a
        scalar: one output's statistics for every value (rlax broadcasts it; its
        ``examples/pop_art.py`` passes ``jnp.array(0)`` with a vector of Q-values), integer.

    Returns:
      unnormalised values, shape [...].

    Raises:
      TypeError: if ``state`` is not a PopArtState, or a dtype is wrong.
      ValueError: if ``indices`` is not a scalar and differs in shape from ``normalized``.

    Matches rlax 0.1.9 `rlax.unnormalize`.
    """
    _check_state("unnormalize", state)
    validate("unnormalize", ("normalized", normalized, None, "float"))
    _check_indices("unnormalize", indices, "`normalized`", np.shape(normalized), scalar_ok=True)
    return state.scale[indices] * normalized + state.shift[indices]


def unnormalize_linear(state: PopArtState, inputs: Array, indices: Array) -> PopArtOutput:
    """Selects output ``indices`` of a linear layer's (normalised) outputs and unnormalises it.

    Args:
      state: Pop-Art statistics ([O] each).
      inputs: normalised outputs of the linear layer, shape [..., O], floating.
      indices: which output to select, shape [...], integer.

    Returns:
      PopArtOutput(normalized, unnormalized), each shape [...].

    Raises:
      TypeError: if ``state`` is not a PopArtState, or a dtype is wrong.
      ValueError: if ``inputs`` is a scalar or ``indices.shape != inputs.shape[:-1]``.

    Matches rlax 0.1.9 `rlax.unnormalize_linear`.
    """
    fn = "unnormalize_linear"
    _check_state(fn, state)
    validate(fn, ("inputs", inputs, None, "float"))
    if np.ndim(inputs) < 1:
        raise ValueError(f"{fn}: `inputs` has rank 0, expected rank >= 1")
    _check_indices(fn, indices, "`inputs.shape[:-1]`", np.shape(inputs)[:-1])
    normalized = jnp.take_along_axis(inputs, indices[..., None], axis=-1)[..., 0]
    return PopArtOutput(normalized, unnormalize(state, normalized, indices))


def art(
    state: PopArtState,
    targets: Array,
    indices: Array,
    step_size: float,
    scale_lb: float,
    scale_ub: float,
    axis_name: AxisName = None,
) -> PopArtState:
    """ART: updates the moment estimates towards the targets.

    For each target y with output i: μ[i] += β (y − μ[i]), ν[i] += β (y² − ν[i]); the
    updates of all targets (and of all replicas along ``axis_name``) are summed. Then
    σ = √clip(ν − μ², scale_lb², scale_ub²). Gradients do not flow into the new state.

    Args:
      state: current statistics ([O] each).
      targets: targets, shape [...], numeric (integers are promoted with the
        state's dtype, as in rlax).
      indices: output of each target, shape [...] (same as ``targets``), integer.
      step_size: β.
      scale_lb: lower bound on σ.
      scale_ub: upper bound on σ.
      axis_name: mapped axis name (or names) to sum the updates over; None for none.

    Returns:
      the new PopArtState.

    Raises:
      TypeError: if ``state`` is not a PopArtState, or a dtype is wrong.
      ValueError: if ``targets`` and ``indices`` differ in shape.

    van Hasselt et al. 2016, Algorithm 1. Matches rlax 0.1.9 `rlax.art`.
    """
    fn = "art"
    _check_state(fn, state)
    validate(fn, ("targets", targets, None, "numeric"))
    _check_indices(fn, indices, "`targets`", np.shape(targets))

    shift_update = step_size * (targets - state.shift[indices])
    shift = _cross_replica_scatter_add(state.shift, indices, shift_update, axis_name)
    moment_update = step_size * (jnp.square(targets) - state.second_moment[indices])
    second_moment = _cross_replica_scatter_add(
        state.second_moment, indices, moment_update, axis_name
    )
    variance = jnp.clip(second_moment - jnp.square(shift), scale_lb**2, scale_ub**2)
    new_state = PopArtState(shift, jnp.sqrt(variance), second_moment)
    return jax.tree.map(jax.lax.stop_gradient, new_state)


def pop(params: LinearParams, old: PopArtState, new: PopArtState) -> dict[str, Array]:
    """POP: rescales a linear layer so that its unnormalised outputs are unchanged.

    w_new = w σ_old / σ_new;  b_new = (σ_old b + μ_old − μ_new) / σ_new.

    Args:
      params: ``{"w": [D, O], "b": [O]}`` of the final linear layer.
      old: statistics the layer was trained with.
      new: statistics after `art`.

    Returns:
      ``{"w": w_new, "b": b_new}``.

    Raises:
      ValueError: if ``params`` lacks ``"w"`` or ``"b"``.
      TypeError: if ``old`` / ``new`` is not a PopArtState.

    van Hasselt et al. 2016, Algorithm 1. Matches rlax 0.1.9 `rlax.pop`.
    """
    missing = [k for k in ("w", "b") if k not in params]
    if missing:
        raise ValueError(f"pop: `params` lacks key(s) {missing}, expected keys 'w' and 'b'")
    _check_state("pop", old)
    _check_state("pop", new)
    w, b = params["w"], params["b"]
    w_new = w * jnp.broadcast_to(old.scale / new.scale, np.shape(w))
    b_new = (old.scale * b + old.shift - new.shift) / new.scale
    return {"w": w_new, "b": b_new}


def popart(
    num_outputs: int,
    step_size: float | None,
    scale_lb: float,
    scale_ub: float,
    axis_name: AxisName = None,
) -> tuple[Callable[[], PopArtState], Callable[..., tuple[LinearParams, PopArtState]]]:
    """Builds ``(initial_state, popart_update)`` for a linear layer with ``num_outputs``.

    ``initial_state()`` gives μ = 0, σ = 1, ν = 1 (float32, shape [O]).
    ``popart_update(params, state, targets, indices) -> (new_params, new_state)``
    runs `art` then `pop`; with ``step_size=None`` it returns its inputs unchanged.

    Args:
      num_outputs: O, number of outputs of the layer.
      step_size: β of `art`, or None to disable Pop-Art.
      scale_lb: lower bound on σ.
      scale_ub: upper bound on σ.
      axis_name: mapped axis name(s) to sum the updates over (see `art`).

    Returns:
      the pair of functions.

    Raises:
      ValueError: if ``num_outputs`` is not a positive int.

    Matches rlax 0.1.9 `rlax.popart`.
    """
    if (
        not isinstance(num_outputs, (int, np.integer))
        or isinstance(num_outputs, bool)
        or num_outputs < 1
    ):
        raise ValueError(f"popart: `num_outputs` must be a positive int, got {num_outputs!r}")

    def initial_state() -> PopArtState:
        return PopArtState(
            jnp.zeros([num_outputs]), jnp.ones([num_outputs]), jnp.ones([num_outputs])
        )

    def popart_update(
        params: LinearParams, state: PopArtState, targets: Array, indices: Array
    ) -> tuple[LinearParams, PopArtState]:
        """Runs `art` then `pop`; returns ``(new_params, new_state)``."""
        if step_size is None:
            return params, state
        new_state = art(state, targets, indices, step_size, scale_lb, scale_ub, axis_name)
        return pop(params, state, new_state), new_state

    return initial_state, popart_update
