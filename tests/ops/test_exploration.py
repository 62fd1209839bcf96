"""Tests for jit_env.ops exploration noise, against rlax 0.1.9 and the noise statistics."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, D, A = 3, 4, 5


def _outputs(m):
    def f(key, action, noise_tm1, prior):
        return {
            "gaussian": m.add_gaussian_noise(key, action, 0.3),
            "ou": m.add_ornstein_uhlenbeck_noise(key, action, noise_tm1, 0.15, 0.2),
            "dirichlet": m.add_dirichlet_noise(key, prior, 0.3, 0.25),
        }

    return f


def _inputs():
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.PRNGKey(0), B)
    action = jnp.asarray(rng.normal(size=(B, D)), jnp.float32)
    noise_tm1 = jnp.asarray(rng.normal(size=(B, D)), jnp.float32)
    prior = jax.nn.softmax(jnp.asarray(rng.normal(size=(B, 2, A)), jnp.float32))
    return keys, action, noise_tm1, prior


@functools.cache
def _rlax_reference():
    # Computed once per module (not per variant), compiled: rlax eagerly is slow.
    return jax.jit(jax.vmap(_outputs(rlax)))(*_inputs())


def test_noise_matches_rlax(variant):
    ours = variant(_outputs(ops), *_inputs())
    ref = _rlax_reference()
    for k in ref:
        # Same PRNG draws; one multiply-add in float32: 1 ulp.
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-6, atol=1e-7, err_msg=k)
    np.testing.assert_allclose(ours["dirichlet"].sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
def test_typed_keys_deterministic(impl):
    key = jax.random.key(3, impl=impl)
    action = jnp.zeros(D)
    # Dirichlet (a costly compile) is exercised with one non-default impl only.
    f = jax.jit(lambda k: (ops.add_gaussian_noise(k, action, 1.0),
                           ops.add_ornstein_uhlenbeck_noise(k, action, action, 0.1, 1.0),
                           *([ops.add_dirichlet_noise(k, jnp.full((2, A), 1.0 / A), 0.5, 0.5)]
                             if impl == "rbg" else [])))
    for x, y in zip(f(key), f(key)):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(f(key)[0], f(jax.random.key(4, impl=impl))[0])


def test_noise_statistics():
    n = 10_000
    keys = jax.random.split(jax.random.key(1), n)
    action = jnp.asarray([1.0, -1.0])
    x = jax.jit(jax.vmap(lambda k: ops.add_gaussian_noise(k, action, 0.5)))(keys)
    # Mean of n draws has std 0.5/√n: 5σ bound (false failure probability < 1e-5).
    np.testing.assert_array_less(np.abs(x.mean(0) - action), 5 * 0.5 / np.sqrt(n))
    np.testing.assert_allclose(x.std(0), 0.5, rtol=0.05)
    # OU: noise_t − (1 − damping)·noise_tm1 is N(0, stddev²).
    ou = jax.jit(jax.vmap(lambda k: ops.add_ornstein_uhlenbeck_noise(
        k, action, jnp.asarray([2.0, 2.0]), 0.25, 0.5)))(keys)
    innovations = np.asarray(ou) - np.asarray(action) - 0.75 * 2.0
    np.testing.assert_array_less(np.abs(innovations.mean(0)), 5 * 0.5 / np.sqrt(n))
    # Dirichlet(α) mean is 1/A: the noisy prior's mean is (1−f)·prior + f/A.
    prior = jnp.asarray([[1.0, 0.0, 0.0, 0.0, 0.0]])
    d = jax.jit(jax.vmap(lambda k: ops.add_dirichlet_noise(k, prior, 0.3, 0.25)))(keys[:1000])
    np.testing.assert_allclose(d.mean(0)[0], 0.75 * prior[0] + 0.25 / A, atol=0.01)


def test_bad_inputs_raise_naming_the_argument(wrap):
    key = jax.random.PRNGKey(0)
    with pytest.raises(TypeError, match="`action`.*int32"):
        wrap(lambda k, a: ops.add_gaussian_noise(k, a, 1.0))(key, jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="`noise_tm1`"):
        wrap(lambda k, a, n: ops.add_ornstein_uhlenbeck_noise(k, a, n, 0.1, 0.1))(
            key, jnp.zeros(3), jnp.zeros(4))
    with pytest.raises(ValueError, match="`prior` has rank 1"):
        wrap(lambda k, p: ops.add_dirichlet_noise(k, p, 0.3, 0.25))(key, jnp.ones(A) / A)
    with pytest.raises(TypeError, match="`prior`.*int32"):
        wrap(lambda k, p: ops.add_dirichlet_noise(k, p, 0.3, 0.25))(key, jnp.ones((1, A), jnp.int32))
