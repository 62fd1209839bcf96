"""Episodic memory: k-nearest-neighbour queries and the NGU / Agent57 intrinsic reward.

Unlike the other operator families these work on a *batch* of embeddings at once
(``[M, D]`` queries against an ``[N, D]`` memory), as rlax 0.1.9's do: the memory
is shared by the batch. ``num_neighbors`` and ``max_memory_size`` fix array
shapes, so under ``jax.jit`` they must be static (``static_argnums``).

References:
  Puigdomènech Badia et al., "Never Give Up: Learning Directed Exploration
  Strategies", ICLR 2020, §2 and Algorithm 1 (the episodic novelty reward);
  Puigdomènech Badia et al., "Agent57: Outperforming the Atari Human Benchmark",
  ICML 2020.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from jit_env.ops._base import validate

if TYPE_CHECKING:  # chex.dataclass is opaque to type checkers.
    from dataclasses import dataclass
else:
    from chex import dataclass


@dataclass(frozen=True)
class KNNQueryResult:
    """The output of `knn_query` (rlax 0.1.9 ``KNNQueryResult``), sorted nearest first.

    Attributes:
      neighbors: ``[Q, K, D]`` the K nearest rows of ``data`` for each query.
      neighbor_indices: ``[Q, K]`` int32 row indices into ``data``.
      neighbor_neg_distances: ``[Q, K]`` the negated metric values (0 is nearest).
    """

    neighbors: jax.Array
    neighbor_indices: jax.Array
    neighbor_neg_distances: jax.Array


def _squared_euclidean(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.sum(jnp.square(x - y))


def _positive_int(fn: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{fn}: `{name}` must be a positive Python int (static under jit), got {value!r}"
        )
    return value


def knn_query(
    data: jax.Array,
    query_points: jax.Array,
    num_neighbors: int,
    metric: Callable[[jax.Array, jax.Array], jax.Array] = _squared_euclidean,
) -> KNNQueryResult:
    """Finds the ``num_neighbors`` rows of ``data`` nearest to each query point.

    ``metric(query, row)`` is evaluated for every (query, row) pair; the K rows
    with the smallest values are returned, nearest first (``jax.lax.top_k`` of
    the negated values, so ties keep the lower index first). With fewer rows
    than ``num_neighbors`` all rows are returned (K = N).

    Args:
      data: ``[N, D]`` memory, floating.
      query_points: ``[Q, D]`` queries, floating.
      num_neighbors: K, a positive Python int (static under ``jax.jit``).
      metric: a distance of two ``[D]`` vectors; squared Euclidean by default.

    Returns:
      `KNNQueryResult` with shapes ``[Q, K, D]``, ``[Q, K]``, ``[Q, K]``.

    Raises:
      ValueError: if a rank is not 2, the feature sizes differ, or
        ``num_neighbors`` is not a positive int.

    Matches rlax 0.1.9 ``rlax.knn_query`` (``rlax/_src/episodic_memory.py``).
    """
    fn = "knn_query"
    validate(fn, ("data", data, 2, "numeric"), ("query_points", query_points, 2, "numeric"))
    if data.shape[-1] != query_points.shape[-1]:
        raise ValueError(
            f"{fn}: `query_points` has {query_points.shape[-1]} features, expected "
            f"{data.shape[-1]} to match `data` (shapes {query_points.shape}, {data.shape})"
        )
    k = min(_positive_int(fn, "num_neighbors", num_neighbors), data.shape[0])
    pairwise = jax.vmap(jax.vmap(metric, in_axes=(None, 0)), in_axes=(0, None))
    neg_distances, indices = jax.lax.top_k(-pairwise(query_points, data), k)
    return KNNQueryResult(
        neighbors=jnp.asarray(data)[indices],
        neighbor_indices=indices,
        neighbor_neg_distances=neg_distances,
    )


@dataclass(frozen=True)
class IntrinsicRewardState:
    """The memory and running distance statistics of `episodic_memory_intrinsic_rewards`
    (rlax 0.1.9 ``IntrinsicRewardState``; frozen here, rebuilt on every call).

    Attributes:
      memory: ``[max_memory_size, D]`` stored embeddings (a ring buffer).
      next_memory_index: where the next embedding is written, int scalar.
      distance_sum: running sum of the neighbour distance values, scalar.
      distance_count: how many values ``distance_sum`` holds, scalar.
    """

    memory: jax.Array
    next_memory_index: Any = 0
    distance_sum: Any = 0
    distance_count: Any = 0


def episodic_memory_intrinsic_rewards(
    embeddings: jax.Array,
    num_neighbors: int,
    reward_scale: float,
    intrinsic_reward_state: IntrinsicRewardState | None = None,
    constant: float = 1e-3,
    epsilon: float = 1e-4,
    cluster_distance: float = 8e-3,
    max_similarity: float = 8.0,
    max_memory_size: int = 30_000,
) -> tuple[jax.Array, IntrinsicRewardState]:
    """The episodic novelty reward of Never Give Up, for a batch of new embeddings.

    With ``n_k`` the K neighbour values of an embedding in the memory (the
    *negated* squared distances `knn_query` returns, as rlax uses them), running
    mean ``m = Σ n / count`` over all calls, and ``d_k = max(n_k / (m + c) − ξ, 0)``:
    ``s = sqrt(Σ_k ε / (d_k + ε)) + c`` and ``r = β / s``, or 0 where
    ``s > max_similarity`` (NGU, Algorithm 1). The embeddings are then written
    into the memory ring buffer after the query.

    On the first call pass ``intrinsic_reward_state=None``: the memory starts as
    ``+inf`` rows (never neighbours) with its first ``num_neighbors`` rows 0.

    Args:
      embeddings: ``[M, D]`` new embeddings, floating.
      num_neighbors: K, a positive Python int (static under ``jax.jit``).
      reward_scale: β.
      intrinsic_reward_state: the previous call's state, or ``None``.
      constant: c, for numerical stability.
      epsilon: ε of the kernel.
      cluster_distance: ξ.
      max_similarity: s_max.
      max_memory_size: rows of the memory, a positive Python int (static).

    Returns:
      ``(rewards [M], new IntrinsicRewardState)``.

    Raises:
      ValueError: if ``embeddings`` is not rank 2, a size argument is not a
        positive int, or the state's memory is not ``[max_memory_size, D]``.

    Matches rlax 0.1.9 ``rlax.episodic_memory_intrinsic_rewards``
    (``rlax/_src/exploration.py``), numerics included: the neighbour values are
    negated squared distances and ``next_memory_index`` advances by
    ``M % max_memory_size`` from the wrapped start index.
    """
    fn = "episodic_memory_intrinsic_rewards"
    validate(fn, ("embeddings", embeddings, 2, "float"))
    _positive_int(fn, "num_neighbors", num_neighbors)
    _positive_int(fn, "max_memory_size", max_memory_size)
    features = embeddings.shape[-1]
    if intrinsic_reward_state is None:
        memory = jnp.full((max_memory_size, features), jnp.inf)
        memory = memory.at[:num_neighbors].set(0.0)
        intrinsic_reward_state = IntrinsicRewardState(memory=memory)
    elif tuple(jnp.shape(intrinsic_reward_state.memory)) != (max_memory_size, features):
        raise ValueError(
            f"{fn}: `intrinsic_reward_state.memory` has shape "
            f"{tuple(jnp.shape(intrinsic_reward_state.memory))}, expected "
            f"{(max_memory_size, features)} (`max_memory_size`, features of `embeddings`)"
        )
    memory = jnp.asarray(intrinsic_reward_state.memory)
    neighbour_values = knn_query(memory, embeddings, num_neighbors).neighbor_neg_distances

    start = intrinsic_reward_state.next_memory_index % max_memory_size
    rows = (jnp.arange(embeddings.shape[0]) + start) % max_memory_size
    memory = memory.at[rows].set(embeddings)

    distance_sum = intrinsic_reward_state.distance_sum + jnp.sum(neighbour_values)
    distance_count = intrinsic_reward_state.distance_count + neighbour_values.size
    rate = neighbour_values / (distance_sum / distance_count + constant)
    rate = jnp.maximum(rate - cluster_distance, 0.0)
    similarity = jnp.sqrt(jnp.sum(epsilon / (rate + epsilon), axis=-1)) + constant
    reward = jnp.where(
        similarity > max_similarity, 0.0, jnp.ones_like(embeddings[..., 0]) / similarity
    )
    return reward * reward_scale, IntrinsicRewardState(
        memory=memory,
        next_memory_index=start + embeddings.shape[0] % max_memory_size,
        distance_sum=distance_sum,
        distance_count=distance_count,
    )
