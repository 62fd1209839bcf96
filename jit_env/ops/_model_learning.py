"""Sampling sub-sequences of trajectories for model learning (rlax 0.1.9 family).

Model-based agents (e.g. MuZero, Schrittwieser et al. 2020, Appendix G) unroll a
learned model for ``K`` steps from several start points of each stored
trajectory. `sample_start_indices` draws the start points without replacement;
`extract_subsequences` gathers the windows. Unlike the single-stream operators,
these take a time-major batch ``[T, B, ...]``, as rlax does.

Matches rlax 0.1.9 (`rlax._src.model_learning`), bit for bit for the same key.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.ops._base import validate


def _positive_int(fn: str, name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{fn}: `{name}` must be an int >= {minimum}, got {value!r}")


def extract_subsequences(
    trajectories: jax.Array,
    start_indices: jax.Array,
    subsequence_len: int = 1,
    max_valid_start_idx: int | None = None,
) -> jax.Array:
    """Gathers (possibly overlapping) windows ``trajectories[s : s + L, b]``.

    Args:
      trajectories: batch of trajectories, shape [T, B, ...].
      start_indices: start times, shape [B, N], integer, in
        ``{0, …, T − subsequence_len}``. Indices are not checked against the data
        (values are traced); an out-of-range index is clamped by the gather.
      subsequence_len: L, window length (Python int ≥ 1).
      max_valid_start_idx: if given, the largest start index that will be used; the
        trajectories must then have length ≥ ``max_valid_start_idx + L``.

    Returns:
      windows, shape [L, B, N, ...], dtype of ``trajectories``.

    Raises:
      ValueError: if ``trajectories`` has rank < 2, ``start_indices`` is not [B, N]
        with ``trajectories``' B, ``subsequence_len`` < 1, or the trajectories are
        shorter than ``max_valid_start_idx + subsequence_len`` (rlax raises
        AssertionError there).
      TypeError: if ``start_indices`` is not integer.

    Matches rlax 0.1.9 `rlax.extract_subsequences`.
    """
    fn = "extract_subsequences"
    validate(fn, ("start_indices", start_indices, 2, "int"))
    if np.ndim(trajectories) < 2:
        raise ValueError(
            f"{fn}: `trajectories` has rank {np.ndim(trajectories)}, expected rank >= 2 "
            "([T, B, ...])"
        )
    _positive_int(fn, "subsequence_len", subsequence_len)
    traj_len, batch_size = np.shape(trajectories)[:2]
    if np.shape(start_indices)[0] != batch_size:
        raise ValueError(
            f"{fn}: `start_indices` has shape {tuple(np.shape(start_indices))}, expected "
            f"({batch_size}, N) (B from `trajectories`)"
        )
    if max_valid_start_idx is not None:
        _positive_int(fn, "max_valid_start_idx", max_valid_start_idx, minimum=0)
        min_len = max_valid_start_idx + subsequence_len
        if traj_len < min_len:
            raise ValueError(
                f"{fn}: `trajectories` has length {traj_len}, expected >= {min_len} "
                f"(`max_valid_start_idx` + `subsequence_len`)"
            )
    time_idx = jnp.arange(subsequence_len, dtype=jnp.int32)[:, None, None] + jnp.asarray(
        start_indices, jnp.int32
    )[None]
    batch_idx = jnp.arange(batch_size)[None, :, None]
    return jnp.asarray(trajectories)[time_idx, batch_idx]


def sample_start_indices(
    rng_key: jax.Array, batch_size: int, num_start_indices: int, max_valid_start_idx: int
) -> jax.Array:
    """Samples ``num_start_indices`` distinct start times per trajectory.

    Row ``b`` draws without replacement from ``{0, …, max_valid_start_idx}`` with the
    ``b``-th key of ``jax.random.split(rng_key, batch_size)``.

    Args:
      rng_key: PRNG key (typed key of any implementation, or a legacy uint32 key).
      batch_size: B (Python int ≥ 1).
      num_start_indices: N (Python int, 1 ≤ N ≤ max_valid_start_idx + 1).
      max_valid_start_idx: the largest start time (Python int ≥ 0).

    Returns:
      start indices, shape [B, N], int32.

    Raises:
      ValueError: if an argument is out of range (e.g. N > max_valid_start_idx + 1).

    Matches rlax 0.1.9 `rlax.sample_start_indices` (same values for the same key).
    """
    fn = "sample_start_indices"
    _positive_int(fn, "batch_size", batch_size)
    _positive_int(fn, "num_start_indices", num_start_indices)
    _positive_int(fn, "max_valid_start_idx", max_valid_start_idx, minimum=0)
    if num_start_indices > max_valid_start_idx + 1:
        raise ValueError(
            f"{fn}: `num_start_indices`={num_start_indices} exceeds the "
            f"{max_valid_start_idx + 1} candidates {{0, ..., {max_valid_start_idx}}} "
            "(sampling is without replacement)"
        )
    candidates = jnp.arange(max_valid_start_idx + 1)

    def choose(key: jax.Array) -> jax.Array:
        return jax.random.choice(key, candidates, shape=(num_start_indices,), replace=False)

    return jax.vmap(choose)(jax.random.split(rng_key, batch_size))
