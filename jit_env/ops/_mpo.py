"""MPO and V-MPO policy-improvement losses (rlax 0.1.9 family).

Both are EM-style: an E-step re-weights samples with a softmax of their values
at a temperature η that is itself learned by minimising the convex dual of a KL
bound ε_η; an M-step fits the policy to the weights by weighted maximum
likelihood, with Lagrangian penalties α keeping KL(π_old ‖ π) below ε_α.

* MPO (Abdolmaleki et al., "Maximum a Posteriori Policy Optimisation", ICLR 2018,
  eqs. 7–9; "Relative Entropy Regularized Policy Iteration", 2018): weights over
  ``S`` actions sampled per state, q(a|s) ∝ exp(Q(s, a) / η).
* V-MPO (Song et al., "V-MPO: On-Policy Maximum a Posteriori Policy Optimization
  for Discrete and Continuous Control", ICLR 2020, eqs. 2–5): weights over the
  top ``top_k_fraction`` of all examples by advantage, ψ ∝ exp(A / η).

Shapes: the losses are per example and accept any example shape ``E*`` (e.g.
``[T, B]``), consistent across arguments; MPO's sample inputs have an extra
sample axis at ``sample_axis``. The projection of the dual variables η, α onto
the positive reals defaults to ``clip(x, min=1e-10)``.

``axis_name`` (V-MPO) sums / maxes / gathers over a mapped axis (``pmap``,
``vmap`` or ``shard_map``) so the normalisation covers all replicas' data.

Matches rlax 0.1.9 (`rlax._src.mpo_ops`) numerically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import AllSum, maybe_stop_gradient, validate

Array = jax.Array
ProjectionOperatorFn = Callable[[Array], Array]

_EPSILON = 1e-10  # Added to sums before dividing / taking logs.
_INFINITY = 1e6  # Subtracted from the advantages of restarting steps before the top-k.


class LagrangePenalty(NamedTuple):
    """A constraint with its dual variable.

    Attributes:
      alpha: dual variable (η for the temperature, α for a KL), floating, scalar
        or per dimension ``[A]``.
      epsilon: the bound ε, scalar.
      per_dimension: constrain each action dimension separately (KL of shape [E*, A]).
    """

    alpha: Array
    epsilon: Any
    per_dimension: bool = False


class MpoOutputs(NamedTuple):
    """Components of an MPO / V-MPO loss.

    Attributes:
      temperature_loss: η's dual loss; per example (E*) in MPO, scalar in V-MPO.
      policy_loss: weighted negative log-likelihood, E*.
      kl_loss: α · KL, E* (the Python int 0 when there are no KL constraints).
      alpha_loss: α (ε − KL), E* (the Python int 0 when there are no KL constraints).
      normalized_weights: the E-step weights (MPO: sample axis + E*; V-MPO: E*).
      num_samples: MPO: S (Python int); V-MPO: number of examples kept by top-k.
    """

    temperature_loss: Any
    policy_loss: Array
    kl_loss: Array | int
    alpha_loss: Array | int
    normalized_weights: Array
    num_samples: Any


def _project_positive(x: Array) -> Array:
    return jnp.clip(x, min=_EPSILON)


def _check_temperature(fn: str, constraint: LagrangePenalty) -> None:
    validate(
        fn,
        ("temperature_constraint.alpha", constraint.alpha, None, "float"),
        ("temperature_constraint.epsilon", constraint.epsilon, 0, "float"),
    )


def _check_kl_constraints(
    fn: str, kl_constraints: Sequence[tuple[Array, LagrangePenalty]], example_shape: tuple | None
) -> None:
    for i, pair in enumerate(kl_constraints):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], tuple)):
            raise TypeError(
                f"{fn}: `kl_constraints[{i}]` must be a (kl, LagrangePenalty) pair, got "
                f"{type(pair).__name__}"
            )
        kl, penalty = pair
        validate(
            fn,
            (f"kl_constraints[{i}] kl", kl, None, "float"),
            (f"kl_constraints[{i}] alpha", penalty.alpha, None, "float"),
            (f"kl_constraints[{i}] epsilon", penalty.epsilon, 0, "float"),
        )
        if example_shape is None:
            continue
        shape = tuple(np.shape(kl))
        want = example_shape + (shape[-1:] if penalty.per_dimension else ())
        if shape != want or (penalty.per_dimension and len(shape) != len(example_shape) + 1):
            kind = "E* + [A] (per_dimension)" if penalty.per_dimension else "E*"
            raise ValueError(
                f"{fn}: `kl_constraints[{i}]` kl has shape {shape}, expected {kind} with "
                f"E* = {example_shape}"
            )


def _normalize_axis(fn: str, sample_axis: int, ndim: int) -> int:
    axis = sample_axis + ndim if sample_axis < 0 else sample_axis
    if not 0 <= axis < ndim:
        raise ValueError(f"{fn}: `sample_axis` {sample_axis} not in array rank {ndim}")
    return axis


def kl_constraint_loss(
    kl: Array,
    penalty: LagrangePenalty,
    projection_operator: ProjectionOperatorFn,
    use_stop_gradient: bool = True,
) -> tuple[Array, Array, Array]:
    """Losses of one hard KL constraint, as two coordinate-ascent phases.

    ``alpha_loss = α (ε − sg(KL))`` moves only α; ``kl_loss = sg(α) KL`` moves only
    the policy (``sg`` applied when ``use_stop_gradient``). Per-dimension losses are
    summed over the last axis.

    Returns:
      ``(kl_loss, alpha_loss, alpha)`` with α = ``projection_operator(penalty.alpha)``.

    Matches rlax 0.1.9 `mpo_ops.kl_constraint_loss`.
    """
    validate(
        "kl_constraint_loss",
        ("kl", kl, None, "float"),
        ("penalty.alpha", penalty.alpha, None, "float"),
        ("penalty.epsilon", penalty.epsilon, None, "float"),
    )
    alpha = projection_operator(penalty.alpha)
    # Right-align a per-dimension alpha ([A]) with kl ([E*, A]) explicitly (no rank promotion).
    extra = np.ndim(kl) - np.ndim(alpha)
    aligned = jnp.reshape(alpha, (1,) * extra + np.shape(alpha)) if extra > 0 else alpha
    alpha_loss = aligned * (penalty.epsilon - maybe_stop_gradient(kl, use_stop_gradient))
    kl_loss = maybe_stop_gradient(aligned, use_stop_gradient) * kl
    if penalty.per_dimension:
        kl_loss = jnp.sum(kl_loss, axis=-1)
        alpha_loss = jnp.sum(alpha_loss, axis=-1)
    return kl_loss, alpha_loss, alpha


def compute_parametric_kl_penalty_and_dual_loss(
    kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
    projection_operator: ProjectionOperatorFn,
    use_stop_gradient: bool = True,
) -> tuple[Array | int, Array | int]:
    """Sums the M-step KL penalties and their dual losses over all constraints.

    Args:
      kl_constraints: ``(kl, LagrangePenalty)`` pairs; ``kl`` is E*, or E* + [A] with
        ``per_dimension``.
      projection_operator: maps α to the positive reals.
      use_stop_gradient: see `kl_constraint_loss`.

    Returns:
      ``(kl_loss, alpha_loss)``, each E* (the Python int 0 when there are no constraints,
      as rlax).

    Raises:
      TypeError: if a pair is malformed or a dtype is not floating.
      ValueError: if an ε is not a scalar.

    Matches rlax 0.1.9 `rlax.compute_parametric_kl_penalty_and_dual_loss`.
    """
    fn = "compute_parametric_kl_penalty_and_dual_loss"
    _check_kl_constraints(fn, kl_constraints, None)
    kl_losses, alpha_losses = [], []
    for kl, penalty in kl_constraints:
        kl_loss, alpha_loss, _ = kl_constraint_loss(
            kl, penalty, projection_operator, use_stop_gradient
        )
        kl_losses.append(kl_loss)
        alpha_losses.append(alpha_loss)
    return sum(kl_losses), sum(alpha_losses)


def kl_alpha_loss(
    restarting_weights: Array,
    kl_constraints: Sequence[tuple[Array, LagrangePenalty]] = (),
    axis_name: str | None = None,
) -> tuple[Array, Array]:
    """The M-step KL penalty and dual losses, averaged with restarting weights.

    For each constraint ``(kl, penalty)``: ``kl_loss = sg(α) KL`` and
    ``alpha_loss = α (ε − sg(KL))`` (`kl_constraint_loss` with the identity as
    projection, so α must already be positive), summed over constraints, then
    ``Σ w · loss / (Σ w + 1e-10)`` over all examples (and over ``axis_name``).

    Args:
      restarting_weights: E* floating weights; 0 marks a step that starts an
        episode, whose losses the agent cannot influence.
      kl_constraints: ``(kl, LagrangePenalty)`` pairs, ``kl`` E* (or E* + [A] with
        ``per_dimension``, summed over A).
      axis_name: a mapped axis to sum over as well, or None.

    Returns:
      ``(kl_loss, alpha_loss)``, floating scalars; ``(0.0, 0.0)`` without
      constraints. (rlax's docstring says "shape E*"; its code, like this one,
      returns the weighted means.)

    Raises:
      TypeError: if a pair is malformed or a dtype is not floating.
      ValueError: if an ε is not a scalar or a ``kl`` does not have shape E*
        (+ [A]).

    Matches rlax 0.1.9 ``mpo_ops.kl_alpha_loss`` (``rlax/_src/mpo_ops.py``).
    """
    fn = "kl_alpha_loss"
    validate(fn, ("restarting_weights", restarting_weights, None, "float"))
    if not kl_constraints:
        return jnp.asarray(0.0), jnp.asarray(0.0)
    _check_kl_constraints(fn, kl_constraints, tuple(np.shape(restarting_weights)))
    kl_loss, alpha_loss = compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints, lambda x: x
    )
    all_sum = AllSum(axis_name)
    num_samples = all_sum(restarting_weights) + _EPSILON
    return (
        all_sum(kl_loss * restarting_weights) / num_samples,
        all_sum(alpha_loss * restarting_weights) / num_samples,
    )


def mpo_compute_weights_and_temperature_loss(
    sample_q_values: Array,
    temperature_constraint: LagrangePenalty,
    projection_operator: ProjectionOperatorFn,
    sample_axis: int = 0,
) -> tuple[Array, Array, int]:
    """MPO E-step: softmax weights over sampled actions and the temperature's dual loss.

    With η = projection(alpha) and S samples,
    ``weights = softmax(Q / η)`` along ``sample_axis`` and
    ``temperature_loss = η ε + η (logsumexp(Q / η) − log S)``.

    Args:
      sample_q_values: Q of the sampled actions, E* with a sample axis inserted at
        ``sample_axis``, floating.
      temperature_constraint: η (``alpha``) and its bound ε (scalar).
      projection_operator: maps η to the positive reals.
      sample_axis: the sample axis (negative counts from the end).

    Returns:
      ``(temperature_loss [E*], normalized_weights [like sample_q_values], S)``.

    Raises:
      ValueError: if ``sample_axis`` is out of range or ε is not a scalar.
      TypeError: if a dtype is not floating.

    Abdolmaleki et al. 2018, eqs. 7–8. Matches rlax 0.1.9
    `rlax.mpo_compute_weights_and_temperature_loss`.
    """
    fn = "mpo_compute_weights_and_temperature_loss"
    _check_temperature(fn, temperature_constraint)
    validate(fn, ("sample_q_values", sample_q_values, None, "float"))
    axis = _normalize_axis(fn, sample_axis, np.ndim(sample_q_values))
    num_samples = np.shape(sample_q_values)[axis]
    temperature = projection_operator(temperature_constraint.alpha)
    scaled = sample_q_values / temperature
    lse = jax.scipy.special.logsumexp(scaled, axis=axis, keepdims=True)
    temperature_loss = temperature * temperature_constraint.epsilon + temperature * (
        jnp.squeeze(lse, axis=axis) - jnp.log(num_samples)
    )
    weights = jnp.exp(scaled - lse)
    normalized = weights / jnp.sum(weights, axis=axis, keepdims=True)
    return temperature_loss, normalized, num_samples


def mpo_loss(
    sample_log_probs: Array,
    sample_q_values: Array,
    temperature_constraint: LagrangePenalty,
    kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
    projection_operator: ProjectionOperatorFn = _project_positive,
    policy_loss_weight: float = 1.0,
    temperature_loss_weight: float = 1.0,
    kl_loss_weight: float = 1.0,
    alpha_loss_weight: float = 1.0,
    sample_axis: int = 0,
    use_stop_gradient: bool = True,
) -> tuple[Array, MpoOutputs]:
    """MPO loss with KL bounds, per example.

    loss = w_π (−Σ_s q_s log π(a_s|x)) + w_η temperature_loss + w_kl α KL + w_α α (ε − KL).

    Args:
      sample_log_probs: log π(a_s|x) of the sampled actions under the current policy,
        E* with a sample axis at ``sample_axis``, floating.
      sample_q_values: Q(x, a_s), same shape, floating.
      temperature_constraint: η and its KL bound ε (scalar).
      kl_constraints: ``(kl, LagrangePenalty)`` pairs, ``kl`` of shape E* (E* + [A]
        with ``per_dimension``).
      projection_operator: maps dual variables to the positive reals.
      policy_loss_weight, temperature_loss_weight, kl_loss_weight, alpha_loss_weight:
        weights of the components.
      sample_axis: the sample axis.
      use_stop_gradient: stop gradients through the weights and the dual phases.

    Returns:
      ``(loss [E*], MpoOutputs)``.

    Raises:
      ValueError: if shapes / ranks disagree (naming the argument) or ``sample_axis``
        is out of range.
      TypeError: if a dtype is not floating or a constraint pair is malformed.

    Abdolmaleki et al. 2018. Matches rlax 0.1.9 `rlax.mpo_loss`.
    """
    fn = "mpo_loss"
    validate(
        fn,
        ("sample_log_probs", sample_log_probs, None, "float"),
        ("sample_q_values", sample_q_values, None, "float"),
    )
    if np.shape(sample_log_probs) != np.shape(sample_q_values):
        raise ValueError(
            f"{fn}: `sample_log_probs` has shape {np.shape(sample_log_probs)}, expected "
            f"{np.shape(sample_q_values)} to match `sample_q_values`"
        )
    _check_temperature(fn, temperature_constraint)
    axis = _normalize_axis(fn, sample_axis, np.ndim(sample_q_values))
    example_shape = tuple(s for i, s in enumerate(np.shape(sample_q_values)) if i != axis)
    _check_kl_constraints(fn, kl_constraints, example_shape)

    temperature_loss, weights, num_samples = mpo_compute_weights_and_temperature_loss(
        sample_q_values, temperature_constraint, projection_operator, sample_axis=axis
    )
    weights = maybe_stop_gradient(weights, use_stop_gradient)
    policy_loss = -jnp.sum(weights * sample_log_probs, axis=axis)
    kl_loss, alpha_loss = compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints, projection_operator, use_stop_gradient
    )
    loss = (
        policy_loss_weight * policy_loss
        + temperature_loss_weight * temperature_loss
        + kl_loss_weight * kl_loss
        + alpha_loss_weight * alpha_loss
    )
    return loss, MpoOutputs(
        temperature_loss=temperature_loss,
        policy_loss=policy_loss,
        kl_loss=kl_loss,
        alpha_loss=alpha_loss,
        normalized_weights=weights,
        num_samples=num_samples,
    )


def get_top_k_weights(
    top_k_fraction: float,
    restarting_weights: Array,
    scaled_advantages: Array,
    axis_name: str | None = None,
    use_stop_gradient: bool = True,
) -> Array:
    """``restarting_weights`` times the indicator of the top ``top_k_fraction`` advantages.

    Restarting examples (weight 0) are pushed to the bottom before ranking; with
    ``axis_name`` the threshold is taken over all replicas' examples. Ties at the
    threshold are all kept.

    Raises:
      ValueError: if ``top_k_fraction`` is not in (0, 1] or keeps no example.

    Song et al. 2020, §3 (top-k E-step). Matches rlax 0.1.9 `mpo_ops.get_top_k_weights`.
    """
    if not 0.0 < top_k_fraction <= 1.0:
        raise ValueError(f"`top_k_fraction` must be in (0, 1], got {top_k_fraction}")
    if top_k_fraction == 1.0:
        return restarting_weights
    valid = scaled_advantages - (1.0 - restarting_weights) * _INFINITY
    everyone = jax.lax.all_gather(valid, axis_name=axis_name) if axis_name else valid
    top_k = int(top_k_fraction * np.size(everyone))
    if top_k == 0:
        raise ValueError("top_k_fraction too low to get any valid scaled advantages.")
    threshold = jnp.sort(jnp.reshape(everyone, [-1]))[-top_k]
    top_k_weights = (valid >= threshold).astype(jnp.float32)
    return restarting_weights * maybe_stop_gradient(top_k_weights, use_stop_gradient)


def vmpo_compute_weights_and_temperature_loss(
    advantages: Array,
    restarting_weights: Array,
    importance_weights: Array,
    temperature_constraint: LagrangePenalty,
    projection_operator: ProjectionOperatorFn,
    top_k_fraction: float,
    axis_name: str | None = None,
    use_stop_gradient: bool = True,
) -> tuple[Array, Array, Array]:
    """V-MPO E-step: normalised weights of the top-k examples and η's dual loss.

    With η = projection(alpha), A' = restarting · A / η, kept set K (top-k) and
    m = max A': ``ψ = w_is · 1_K · exp(A' − m) / Σ``,
    ``temperature_loss = η (ε + log Σ + m − log |K|)``.

    Args:
      advantages: A, E*, floating.
      restarting_weights: 0 where a step starts an episode (ignored), else 1, E*.
      importance_weights: E*, floating.
      temperature_constraint: η and its bound ε (scalar).
      projection_operator: maps η to the positive reals.
      top_k_fraction: fraction of examples kept, in (0, 1].
      axis_name: mapped axis to normalise over (sums, max, top-k across replicas);
        requires ``use_stop_gradient``.
      use_stop_gradient: stop gradients through weights, max and importance weights.

    Returns:
      ``(temperature_loss (scalar), normalized_weights [E*], num_samples (scalar))``.

    Raises:
      ValueError: if shapes disagree, ε is not a scalar, ``top_k_fraction`` is out of
        range, or ``axis_name`` is given with ``use_stop_gradient=False``.
      TypeError: if a dtype is not floating.

    Song et al. 2020, eqs. 2–4. Matches rlax 0.1.9
    `rlax.vmpo_compute_weights_and_temperature_loss`.
    """
    fn = "vmpo_compute_weights_and_temperature_loss"
    validate(
        fn,
        ("advantages", advantages, None, "float"),
        ("restarting_weights", restarting_weights, None, "float"),
        ("importance_weights", importance_weights, None, "float"),
    )
    _check_same_shapes(
        fn,
        ("advantages", advantages),
        ("restarting_weights", restarting_weights),
        ("importance_weights", importance_weights),
    )
    _check_temperature(fn, temperature_constraint)
    if axis_name and not use_stop_gradient:
        raise ValueError(f"{fn}: `axis_name` needs `use_stop_gradient=True` (pmax has no grad)")
    importance_weights = maybe_stop_gradient(importance_weights, use_stop_gradient)
    temperature = projection_operator(temperature_constraint.alpha)
    scaled = restarting_weights * advantages / temperature
    max_scaled = maybe_stop_gradient(jnp.max(scaled), use_stop_gradient)
    if axis_name:
        max_scaled = jax.lax.pmax(max_scaled, axis_name=axis_name)
    kept = get_top_k_weights(
        top_k_fraction, restarting_weights, scaled, axis_name, use_stop_gradient
    )
    all_sum = AllSum(axis_name)
    unnormalized = kept * importance_weights * jnp.exp(scaled - max_scaled)
    sum_weights = all_sum(unnormalized) + _EPSILON
    num_samples = all_sum(kept) + _EPSILON
    normalized = maybe_stop_gradient(unnormalized / sum_weights, use_stop_gradient)
    log_mean_weights = jnp.log(sum_weights) + max_scaled - jnp.log(num_samples)
    temperature_loss = temperature * (temperature_constraint.epsilon + log_mean_weights)
    return temperature_loss, normalized, num_samples


def _check_same_shapes(fn: str, *named: tuple[str, Any]) -> None:
    ref_name, ref = named[0]
    for name, value in named[1:]:
        if np.shape(value) != np.shape(ref):
            raise ValueError(
                f"{fn}: `{name}` has shape {np.shape(value)}, expected {np.shape(ref)} to "
                f"match `{ref_name}`"
            )


def vmpo_loss(
    sample_log_probs: Array,
    advantages: Array,
    temperature_constraint: LagrangePenalty,
    kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
    projection_operator: ProjectionOperatorFn = _project_positive,
    restarting_weights: Array | None = None,
    importance_weights: Array | None = None,
    top_k_fraction: float = 0.5,
    policy_loss_weight: float = 1.0,
    temperature_loss_weight: float = 1.0,
    kl_loss_weight: float = 1.0,
    alpha_loss_weight: float = 1.0,
    axis_name: str | None = None,
    use_stop_gradient: bool = True,
) -> tuple[Array, MpoOutputs]:
    """V-MPO policy-improvement loss, per example.

    loss = w_π (−N ψ log π(a|x)) + w_η temperature_loss + w_kl α KL + w_α α (ε − KL),
    with N the number of examples (over all replicas with ``axis_name``), so that the
    mean of the loss is the paper's sum.

    Args:
      sample_log_probs: log π(a|x) of the taken actions, E*, floating.
      advantages: A, E*, floating.
      temperature_constraint: η and its bound ε (scalar).
      kl_constraints: ``(kl, LagrangePenalty)`` pairs, kl E* (E* + [A] per dimension).
      projection_operator: maps dual variables to the positive reals.
      restarting_weights: E*, default ones (see the E-step).
      importance_weights: E*, default ones.
      top_k_fraction: fraction of examples used in the E-step, in (0, 1].
      policy_loss_weight, temperature_loss_weight, kl_loss_weight, alpha_loss_weight:
        weights of the components.
      axis_name: mapped axis to normalise over.
      use_stop_gradient: stop gradients through weights and the dual phases.

    Returns:
      ``(loss [E*], MpoOutputs)``.

    Raises:
      ValueError: if shapes disagree (naming the argument), ε is not scalar, or
        ``top_k_fraction`` is out of range.
      TypeError: if a dtype is not floating or a constraint pair is malformed.

    Song et al. 2020. Matches rlax 0.1.9 `rlax.vmpo_loss`.
    """
    fn = "vmpo_loss"
    validate(
        fn,
        ("sample_log_probs", sample_log_probs, None, "float"),
        ("advantages", advantages, None, "float"),
    )
    if restarting_weights is None:
        restarting_weights = jnp.ones_like(sample_log_probs)
    if importance_weights is None:
        importance_weights = jnp.ones_like(sample_log_probs)
    _check_same_shapes(
        fn,
        ("advantages", advantages),
        ("sample_log_probs", sample_log_probs),
        ("restarting_weights", restarting_weights),
        ("importance_weights", importance_weights),
    )
    _check_temperature(fn, temperature_constraint)
    _check_kl_constraints(fn, kl_constraints, tuple(np.shape(advantages)))

    temperature_loss, weights, num_samples = vmpo_compute_weights_and_temperature_loss(
        advantages,
        restarting_weights,
        importance_weights,
        temperature_constraint,
        projection_operator,
        top_k_fraction,
        axis_name=axis_name,
        use_stop_gradient=use_stop_gradient,
    )
    if axis_name:
        num_examples = jax.lax.all_gather(sample_log_probs, axis_name=axis_name).size
    else:
        num_examples = np.size(sample_log_probs)
    policy_loss = -sample_log_probs * weights * num_examples
    kl_loss, alpha_loss = compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints, projection_operator, use_stop_gradient
    )
    loss = (
        policy_loss_weight * policy_loss
        + temperature_loss_weight * temperature_loss
        + kl_loss_weight * kl_loss
        + alpha_loss_weight * alpha_loss
    )
    return loss, MpoOutputs(
        temperature_loss=temperature_loss,
        policy_loss=policy_loss,
        kl_loss=kl_loss,
        alpha_loss=alpha_loss,
        normalized_weights=weights,
        num_samples=num_samples,
    )
