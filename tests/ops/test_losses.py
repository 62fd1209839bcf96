"""Tests for jit_env.ops losses, against rlax 0.1.9 and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import ops

B, N = 3, 5


def _outputs(m):
    def f(x, p, y):
        return {
            "huber": m.huber_loss(x, 0.7),
            "l2": m.l2_loss(x, y),
            "l2_reg": m.l2_loss(x),
            "likelihood": m.likelihood(p, y),
            "log_loss": m.log_loss(p, y),
            "expectile": m.expectile_loss(x, y, 0.3),
        }

    return f


def test_losses_match_rlax(variant):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(B, N)) * 2, jnp.float32)
    p = jnp.asarray(rng.uniform(0.05, 0.95, (B, N)), jnp.float32).at[0, :2].set([0.0, 1.0])
    y = jnp.asarray(rng.uniform(0, 1, (B, N)), jnp.float32).at[0, :2].set([0.0, 1.0])
    ours = variant(_outputs(ops), x, p, y)
    ref = jax.jit(jax.vmap(_outputs(rlax)))(x, p, y)  # compiled: rlax eagerly is slow
    for k in ours:
        # elementwise float32 expressions, no reductions: identical up to 1 ulp.
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-6, atol=1e-7, err_msg=k)
    np.testing.assert_array_equal(ours["likelihood"][0, :2], [1.0, 1.0])  # 0**0 cases


def test_huber_closed_form_and_gradient():
    x = jnp.asarray([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(ops.huber_loss(x, 1.0), [2.5, 0.125, 0.0, 0.125, 2.5])
    # grad(huber) == grad(0.5 * clip_gradient(x)**2) == clip(x, -δ, δ)
    g_h = jax.grad(lambda v: jnp.sum(ops.huber_loss(v, 1.0)))(x)
    g_c = jax.grad(lambda v: jnp.sum(0.5 * ops.clip_gradient(v, -1.0, 1.0) ** 2))(x)
    np.testing.assert_array_equal(g_h, np.clip(x, -1, 1))
    np.testing.assert_array_equal(g_c, np.clip(x, -1, 1))


def test_clip_gradient_forward_identity_and_pytree(wrap):
    tree = {"a": jnp.asarray([-4.0, 0.1, 4.0]), "b": jnp.asarray(2.0)}
    fwd = wrap(lambda t: ops.clip_gradient(t, -1.0, 1.0))(tree)
    np.testing.assert_array_equal(fwd["a"], tree["a"])
    g = wrap(jax.grad(lambda t: jnp.sum(ops.clip_gradient(t, -0.5, 1.0)["a"] * 3.0)
                      - 5.0 * ops.clip_gradient(t, -0.5, 1.0)["b"]))(tree)
    np.testing.assert_array_equal(g["a"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(g["b"], -0.5)
    # same as rlax
    g_ref = jax.grad(lambda v: jnp.sum(rlax.clip_gradient(v, -0.5, 1.0) * 3.0))(tree["a"])
    np.testing.assert_array_equal(g_ref, g["a"])


def test_l2_and_expectile_closed_form():
    np.testing.assert_allclose(ops.l2_loss(jnp.asarray([2.0, -1.0])), [2.0, 0.5])
    # over-estimation (diff < 0) weighted 1 - τ, under-estimation τ.
    np.testing.assert_allclose(
        ops.expectile_loss(jnp.asarray([1.0, 1.0]), jnp.asarray([0.0, 3.0]), 0.8), [0.2, 3.2],
        rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(-100, 100), st.floats(0.0, 10.0))
def test_huber_bounded_by_l1_and_l2(x, delta):
    # ½x² ≥ huber ≥ 0 and huber ≤ δ|x|, with equality to ½x² inside [−δ, δ].
    h = float(ops.huber_loss(jnp.float32(x), delta))
    x32 = float(np.float32(x))
    assert 0.0 <= h <= 0.5 * x32 * x32 * (1 + 1e-6) + 1e-30
    assert h <= delta * abs(x32) * (1 + 1e-6) + 1e-30
    if abs(x32) <= delta:
        assert h == pytest.approx(0.5 * x32 * x32, rel=1e-6, abs=1e-30)


def test_bad_inputs_raise_naming_the_argument(wrap):
    with pytest.raises(TypeError, match="`x`.*int32"):
        wrap(ops.huber_loss)(jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="`targets`.*\\(2,\\).*\\(3,\\)"):
        wrap(ops.l2_loss)(jnp.zeros(3), jnp.zeros(2))
    with pytest.raises(TypeError, match="`targets`"):
        wrap(ops.likelihood)(jnp.zeros(3), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="`targets`"):
        wrap(lambda a, b: ops.expectile_loss(a, b, 0.5))(jnp.zeros(3), jnp.zeros((3, 1)))
    with pytest.raises(TypeError, match="leaf 1"):
        wrap(lambda t: ops.clip_gradient(t, -1.0, 1.0))((jnp.zeros(2), jnp.zeros(2, jnp.int32)))
