"""Tests for jit_env.ops moving averages, against rlax 0.1.9 and closed forms."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import ops

B, STEPS = 2, 3


def _run(m, decay=0.9):
    def f(a, b):
        init, update = m.create_ema(decay)
        state = init({"a": a[0], "b": b[0]})
        out = []
        for i in range(STEPS):
            moments, state = update({"a": a[i], "b": b[i]}, state)
            out.append((moments.mean, moments.variance))
        return out, (state.mu, state.nu, state.decay_product)

    return f


_reference = jax.jit(jax.vmap(_run(rlax)))


def test_ema_matches_rlax(variant):
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(B, STEPS, 4)) + 2, jnp.float32)
    b = jnp.asarray(rng.normal(size=(B, STEPS, 2, 3)), jnp.float32)
    ours = variant(_run(ops), a, b)
    ref = _reference(a, b)
    # means over ≤ 6 float32 values and 3 EMA steps: ~ulp level.
    jax.tree.map(lambda x, r: np.testing.assert_allclose(x, r, rtol=1e-5, atol=1e-6), ours, ref)
    # first debiased mean is the first batch mean exactly (1 − decay cancels).
    np.testing.assert_allclose(ours[0][0][0]["a"], jnp.mean(a[:, 0], axis=-1), rtol=1e-5)


def test_pmean_axis_name_matches_rlax():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(3, 5)), jnp.float32)  # 3 replicas

    def step(m, v):
        init, update = m.create_ema(0.5, pmean_axis_name="i")
        return update(v, init(v))[0].mean

    ours = jax.vmap(lambda v: step(ops, v), axis_name="i")(x)
    ref = jax.vmap(lambda v: step(rlax, v), axis_name="i")(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(ours, np.full(3, np.mean(x)), rtol=1e-5)  # the global mean


@jax.jit
def _constant_stream(c):
    init, update = ops.create_ema(0.8)
    state = init(c)
    moments = None
    for _ in range(5):
        moments, state = update(c, state)
    return moments


@settings(max_examples=20, deadline=None)
@given(st.floats(-1e3, 1e3, width=32))
def test_ema_of_a_constant_is_the_constant(c):
    moments = _constant_stream(jnp.full((3,), c, jnp.float32))
    # debiasing divides by 1 − 0.8⁵ in float32: relative error ~1e-6; the variance
    # E[x²] − E[x]² cancels c² ≤ 1e6 to ~ulp(c²)·few ≈ 0.5.
    np.testing.assert_allclose(moments.mean, c, rtol=1e-5, atol=1e-6)
    assert 0.0 <= float(moments.variance) <= 1e-5 * c * c + 1e-6


def test_bad_tree_raises_and_state_is_frozen():
    init, update = ops.create_ema()
    state = init({"a": jnp.zeros(2)})
    with pytest.raises(TypeError, match="`tree` has structure"):
        update({"b": jnp.zeros(2)}, state)
    with pytest.raises(ValueError, match="`decay`"):
        ops.create_ema(1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.mu = 1.0  # type: ignore[misc]
    assert isinstance(state, ops.EmaState)
    assert isinstance(update({"a": jnp.ones(2)}, state)[0], ops.EmaMoments)
