"""Tests for jit_env.ops Pop-Art, against rlax 0.1.9 and the output-preservation law."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import ops

B, K, NOUT, D = 2, 6, 3, 4
STEP, LB, UB = 0.1, 0.01, 100.0


def _data(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    return {
        "shift": f(B, NOUT), "scale": jnp.asarray(rng.uniform(0.5, 2, (B, NOUT)), jnp.float32),
        "targets": f(B, K) * 5 + 3, "indices": jnp.asarray(rng.integers(0, NOUT, (B, K)), jnp.int32),
        "w": f(B, D, NOUT), "b": f(B, NOUT), "x": f(B, K, D), "inputs": f(B, K, NOUT),
    }


def _all(m):
    def f(shift, scale, targets, indices, w, b, inputs):
        state = m.PopArtState(shift, scale, scale**2 + shift**2)
        new = m.art(state, targets, indices, STEP, LB, UB)
        params = m.pop({"w": w, "b": b}, state, new)
        init, update = m.popart(NOUT, STEP, LB, UB)
        upd_params, upd_state = update({"w": w, "b": b}, init(), targets, indices)
        lin = m.unnormalize_linear(state, inputs, indices)
        return {
            "art": tuple(new), "pop": params, "update": (upd_params, tuple(upd_state)),
            "init": tuple(init()),
            "normalize": m.normalize(state, targets, indices),
            "unnormalize": m.unnormalize(state, targets, indices),
            "linear": tuple(lin),
        }

    return f


_reference = jax.jit(jax.vmap(_all(rlax)))


def test_popart_matches_rlax(variant):
    d = _data()
    args = [d[k] for k in ("shift", "scale", "targets", "indices", "w", "b", "inputs")]
    ours = variant(_all(ops), *args)
    ref = _reference(*args)
    # sums of K=6 float32 updates (one-hot scatter as rlax) and elementwise maps: ~ulp level.
    jax.tree.map(lambda a, r: np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5), ours, ref)
    assert jax.tree.structure(ours) == jax.tree.structure(ref)


def test_axis_name_sums_updates_over_replicas():
    d = _data(2)
    state = ops.PopArtState(jnp.zeros(NOUT), jnp.ones(NOUT), jnp.ones(NOUT))
    # Two replicas, each with its own targets: the psum of the increments equals one update
    # with all targets at once (increments are relative to the same old statistics).
    art_r = lambda t, i: ops.art(state, t, i, STEP, LB, UB, axis_name="r")
    per_replica = jax.vmap(art_r, axis_name="r")(d["targets"], d["indices"])
    joint = ops.art(state, d["targets"].reshape(-1), d["indices"].reshape(-1), STEP, LB, UB)
    ref = jax.vmap(lambda t, i: rlax.art(rlax.PopArtState(*state), t, i, STEP, LB, UB,
                                         axis_name="r"), axis_name="r")(
        d["targets"], d["indices"])
    for field in range(3):
        for rep in range(B):  # every replica holds the same state
            # float32 sums of ≤ 12 terms in a different order: rtol 1e-5.
            np.testing.assert_allclose(per_replica[field][rep], joint[field], rtol=1e-5)
        np.testing.assert_allclose(per_replica[field], ref[field], rtol=1e-6)


def test_art_stops_gradients_and_bounds_scale():
    d = _data(3)
    state = ops.PopArtState(jnp.zeros(NOUT), jnp.ones(NOUT), jnp.ones(NOUT))
    g = jax.grad(lambda t: jnp.sum(ops.art(state, t, d["indices"][0], STEP, LB, UB).shift))(
        d["targets"][0])
    np.testing.assert_array_equal(g, np.zeros_like(g))
    # constant targets: the variance estimate goes to 0 and the scale is held at the bound.
    new = state
    for _ in range(3):
        new = ops.art(new, jnp.full((K,), 2.0), jnp.zeros(K, jnp.int32), 0.5, 0.3, UB)
    assert float(new.scale[0]) >= 0.3 - 1e-7
    np.testing.assert_array_equal(new.shift[1:], [0.0, 0.0])  # untouched outputs


@jax.jit
def _preservation(shift, scale, w, b, x, targets, indices):
    state = ops.PopArtState(shift, scale, scale**2 + shift**2)
    params, new = ops.popart(NOUT, STEP, LB, UB)[1]({"w": w, "b": b}, state, targets, indices)
    before = scale[None] * (x @ w + b[None]) + shift[None]
    after = new.scale[None] * (x @ params["w"] + params["b"][None]) + new.shift[None]
    back = ops.normalize(state, ops.unnormalize(state, targets, indices), indices)
    return before, after, back


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_pop_preserves_unnormalized_outputs(seed):
    rng = np.random.default_rng(seed)
    d = {k: v[0] for k, v in _data(seed).items()}
    targets = jnp.asarray(rng.normal(size=K) * rng.uniform(0.1, 50), jnp.float32)
    before, after, back = _preservation(
        d["shift"], d["scale"], d["w"], d["b"], d["x"], targets, d["indices"])
    # float32 matmuls over D=4 with outputs up to ~|50|: relative 1e-4 / absolute 1e-3.
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(back, targets, rtol=1e-5, atol=1e-5)


def test_disabled_popart_is_identity():
    init, update = ops.popart(NOUT, None, LB, UB)
    params = {"w": jnp.ones((D, NOUT)), "b": jnp.zeros(NOUT)}
    out_params, out_state = update(params, init(), jnp.ones(K), jnp.zeros(K, jnp.int32))
    assert out_params is params
    np.testing.assert_array_equal(out_state.scale, np.ones(NOUT))


def test_bad_inputs_raise_naming_the_argument(wrap):
    state = ops.PopArtState(jnp.zeros(NOUT), jnp.ones(NOUT), jnp.ones(NOUT))
    with pytest.raises(ValueError, match="`indices` has shape \\(3,\\), expected \\(4,\\)"):
        wrap(lambda t, i: ops.art(state, t, i, STEP, LB, UB))(jnp.zeros(4), jnp.zeros(3, int))
    with pytest.raises(TypeError, match="`indices`"):
        wrap(lambda t, i: ops.normalize(state, t, i))(jnp.zeros(4), jnp.zeros(4))
    with pytest.raises(ValueError, match="`indices`"):
        wrap(lambda x, i: ops.unnormalize_linear(state, x, i))(jnp.zeros((4, NOUT)),
                                                               jnp.zeros(3, int))
    with pytest.raises(TypeError, match="`state`"):
        ops.normalize((jnp.zeros(NOUT),), jnp.zeros(2), jnp.zeros(2, int))
    with pytest.raises(ValueError, match="`params`"):
        ops.pop({"w": jnp.ones((D, NOUT))}, state, state)
    with pytest.raises(ValueError, match="`num_outputs`"):
        ops.popart(0, STEP, LB, UB)


def test_scalar_index_broadcasts_like_rlax():
    """rlax's examples/pop_art.py normalises a vector of Q-values with ``jnp.array(0)``."""
    import rlax

    state = ops.PopArtState(jnp.array([0.5, -1.0]), jnp.array([2.0, 4.0]), jnp.ones(2))
    q = jnp.array([1.0, -3.0, 7.0])
    for ours, theirs in ((ops.normalize, rlax.normalize), (ops.unnormalize, rlax.unnormalize)):
        got = ours(state, q, jnp.array(1))
        want = theirs(rlax.PopArtState(*state), q, jnp.array(1))
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(ops.unnormalize(state, q, jnp.array(1)), 4.0 * q - 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="`indices` has shape \\(2,\\), expected \\(3,\\)"):
        ops.normalize(state, q, jnp.zeros(2, int))
