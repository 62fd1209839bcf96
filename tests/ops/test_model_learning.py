"""Tests for jit_env.ops model-learning helpers, against rlax 0.1.9 and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

T, B, N, L = 8, 3, 2, 3


def test_extract_subsequences_matches_rlax_and_numpy(variant):
    rng = np.random.default_rng(0)
    traj = rng.normal(size=(2, T, B, 2)).astype(np.float32)  # 2 outer examples
    starts = rng.integers(0, T - L + 1, (2, B, N)).astype(np.int32)
    f = lambda m: (lambda x, s: m.extract_subsequences(x, s, L, T - L))
    ours = variant(f(ops), jnp.asarray(traj), jnp.asarray(starts))
    with jax.numpy_rank_promotion("allow"):  # rlax broadcasts [B, N] against [L, B, N]
        ref = jax.jit(jax.vmap(f(rlax)))(jnp.asarray(traj), jnp.asarray(starts))
    np.testing.assert_array_equal(ours, ref)  # a gather: exact
    expected = np.empty((2, L, B, N, 2), np.float32)
    for e in range(2):
        for b in range(B):
            for j in range(N):
                s = starts[e, b, j]
                expected[e, :, b, j] = traj[e, s:s + L, b]
    np.testing.assert_array_equal(ours, expected)


_sample = jax.jit(ops.sample_start_indices, static_argnums=(1, 2, 3))


def test_sample_start_indices_matches_rlax():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    ref_fn = jax.jit(rlax.sample_start_indices, static_argnums=(1, 2, 3))
    ref = jnp.stack([ref_fn(k, B, N, T - L) for k in keys])
    # same key, same draws, bit for bit: eagerly, under jit, under vmap.
    np.testing.assert_array_equal(ops.sample_start_indices(keys[0], B, N, T - L), ref[0])
    for i in range(3):
        np.testing.assert_array_equal(_sample(keys[i], B, N, T - L), ref[i])
    batched = jax.jit(jax.vmap(lambda k: ops.sample_start_indices(k, B, N, T - L)))(keys)
    np.testing.assert_array_equal(batched, ref)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
def test_sample_start_indices_typed_keys(impl):
    key = jax.random.key(1, impl=impl)
    a = _sample(key, 4, 5, 5)
    np.testing.assert_array_equal(a, _sample(key, 4, 5, 5))  # deterministic
    assert a.shape == (4, 5)
    a = np.asarray(a)
    assert a.min() >= 0
    assert a.max() <= 5
    assert all(len(set(row)) == 5 for row in a)  # without replacement


def test_bad_inputs_raise_naming_the_argument(wrap):
    traj = jnp.zeros((T, B))
    with pytest.raises(ValueError, match="`trajectories` has length 8, expected >= 9"):
        wrap(lambda x, s: ops.extract_subsequences(x, s, 3, 6))(traj, jnp.zeros((B, N), int))
    with pytest.raises(ValueError, match="`start_indices` has shape \\(2, 2\\)"):
        wrap(lambda x, s: ops.extract_subsequences(x, s, 3))(traj, jnp.zeros((2, N), int))
    with pytest.raises(TypeError, match="`start_indices`"):
        wrap(lambda x, s: ops.extract_subsequences(x, s, 3))(traj, jnp.zeros((B, N)))
    with pytest.raises(ValueError, match="`num_start_indices`"):
        ops.sample_start_indices(jax.random.PRNGKey(0), B, 7, 5)
    with pytest.raises(ValueError, match="`batch_size`"):
        ops.sample_start_indices(jax.random.PRNGKey(0), 0, 1, 5)
