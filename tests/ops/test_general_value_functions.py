"""Tests for jit_env.ops general value functions (UNREAL pixel / feature control)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jit_env import ops

B, T, H, W, C, CELL, A, D = 2, 3, 4, 6, 2, 2, 3, 5


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "obs": jnp.asarray(rng.uniform(0, 1, (B, T + 1, H, W, C)), jnp.float32),
        "actions": jnp.asarray(rng.integers(0, A, (B, T)), jnp.int32),
        "q": jnp.asarray(rng.normal(size=(B, T + 1, H // CELL, W // CELL, A)), jnp.float32),
        "disc": jnp.asarray(rng.uniform(0.5, 1, (B, T)), jnp.float32),
        "features": jnp.asarray(rng.normal(size=(B, T + 1, D)), jnp.float32),
    }


def _all(m):
    def f(obs, actions, q, disc, features):
        out = {"pixel_rewards": m.pixel_control_rewards(obs, CELL),
               "loss_scalar": m.pixel_control_loss(obs, actions, q, 0.9, CELL),
               "loss_vector": m.pixel_control_loss(obs, actions, q, disc, CELL),
               "potential": m.feature_control_rewards(features, "potential", 0.9)}
        for kind in ("feature", "absolute_change", "increase", "decrease"):
            out[kind] = m.feature_control_rewards(features, kind)
        return out

    return f


_reference = jax.jit(jax.vmap(_all(rlax)))


def test_matches_rlax(variant):
    d = _data()
    args = [d[k] for k in ("obs", "actions", "q", "disc", "features")]
    ours = variant(_all(ops), *args)
    ref = _reference(*args)
    for k in ref:
        # cell means of 8 float32 values and a Q(1) recursion over T=3 steps: a few ulp.
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
        assert ours[k].shape == ref[k].shape, k
    assert ours["loss_scalar"].shape == (B, T, H // CELL, W // CELL)


def test_pixel_rewards_numpy_loop():
    obs = np.asarray(_data(1)["obs"][0])
    expected = np.zeros((T, H // CELL, W // CELL))
    for t in range(T):
        for i in range(H // CELL):
            for j in range(W // CELL):
                cell = np.s_[i * CELL:(i + 1) * CELL, j * CELL:(j + 1) * CELL]
                expected[t, i, j] = np.mean(np.abs(obs[t + 1][cell] - obs[t][cell]))
    # mean of 8 float32 differences vs a float64 mean: ~1e-7 relative.
    np.testing.assert_allclose(ops.pixel_control_rewards(jnp.asarray(obs), CELL), expected,
                               rtol=1e-5, atol=1e-7)


def test_bad_inputs_raise_naming_the_argument(wrap):
    d = {k: v[0] for k, v in _data().items()}
    with pytest.raises(ValueError, match="`cell_size`=4"):
        wrap(lambda o: ops.pixel_control_rewards(o, 4))(d["obs"])
    with pytest.raises(ValueError, match="`observations` has rank 3"):
        wrap(lambda o: ops.pixel_control_rewards(o, CELL))(d["obs"][..., 0])
    with pytest.raises(TypeError, match="`observations`"):
        wrap(lambda o: ops.pixel_control_rewards(o, CELL))(d["obs"].astype(jnp.int32))
    with pytest.raises(ValueError, match="`action_values` has cell grid"):
        wrap(lambda q: ops.pixel_control_loss(d["obs"], d["actions"], q, 0.9, CELL))(
            d["q"][:, :1])
    with pytest.raises(ValueError, match="`discount_factor`"):
        wrap(lambda g: ops.pixel_control_loss(d["obs"], d["actions"], d["q"], g, CELL))(
            jnp.ones((T, 2)))
    with pytest.raises(TypeError, match="`actions`"):
        wrap(lambda a: ops.pixel_control_loss(d["obs"], a, d["q"], 0.9, CELL))(d["disc"])
    with pytest.raises(ValueError, match="`cumulant_type`"):
        ops.feature_control_rewards(d["features"], "nope")
    with pytest.raises(ValueError, match="`discount`"):
        ops.feature_control_rewards(d["features"], "potential")
