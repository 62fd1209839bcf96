"""Jit, Vmap, Tile, Shard and the public surface of jit_env.wrappers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import specs
from jit_env import wrappers as W


def test_all_equals_public_names():
    public = sorted(n for n in dir(W) if not n.startswith("_"))
    assert W.__all__ == sorted(W.__all__)
    assert set(W.__all__) == set(public)


def test_tile_equals_vmap_of_split_keys_and_loop(envs, transform, assert_tree_equal):
    base = envs.Counting(threshold=9)
    tile, vmap = W.Tile(base, 3), W.Vmap(base)

    def run(key):
        s, ts0 = tile.reset(key)
        s, ts1 = tile.step(s, jnp.array([0, 1, 1], jnp.int32))
        return ts0, ts1

    ts0, ts1 = transform(run, jax.random.PRNGKey(1))
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    v_state, v0 = vmap.reset(keys)
    _, v1 = vmap.step(v_state, jnp.array([0, 1, 1], jnp.int32))
    assert_tree_equal((ts0, ts1), (v0, v1))
    for i in range(3):  # independent NumPy-free reference: the raw env, one at a time
        s, r0 = base.reset(keys[i])
        _, r1 = base.step(s, jnp.int32([0, 1, 1][i]))
        np.testing.assert_array_equal(ts1.observation[i], r1.observation)
        np.testing.assert_array_equal(ts1.reward[i], r1.reward)


def test_tile_specs_are_batched(envs):
    env = W.Tile(envs.Counting(), 4)
    assert env.observation_spec() == specs.Batched(envs.Counting().observation_spec(), 4)
    assert env.action_spec() == specs.Batched(specs.DiscreteArray(2, name="action"), 4)
    assert env.reward_spec().shape == (4,)
    assert env.discount_spec().shape == (4,)
    assert isinstance(env.discount_spec(), specs.BoundedArray)
    # Vmap keeps element specs (jit_env 0.1.5)
    assert W.Vmap(envs.Counting()).observation_spec() == envs.Counting().observation_spec()


def test_options_broadcast_and_mapped(envs):
    base = envs.Counting()
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    one = envs.CountParams(jnp.int32(1))
    s, _ = W.Vmap(base).reset(keys, options=one)
    np.testing.assert_array_equal(s.params.threshold, [1, 1, 1])
    many = envs.CountParams(jnp.array([1, 2, 3], jnp.int32))
    s, _ = W.Vmap(base, options_axis=0).reset(keys, options=many)
    np.testing.assert_array_equal(s.params.threshold, [1, 2, 3])
    # the options are reused at every auto-reset
    env = W.TileAutoReset(base, 3, options_axis=0)
    s, _ = env.reset(jax.random.PRNGKey(0), options=many)
    step = jax.jit(env.step)
    for _ in range(4):
        s, ts = step(s, jnp.zeros(3, jnp.int32))
    np.testing.assert_array_equal(s.params.threshold, [1, 2, 3])
    np.testing.assert_array_equal(ts.observation[:, 0], [0, 0, 1])  # 4 % 1, 4 % 2, 4 % 3


def test_jit_wrapper_matches_eager_and_render(envs, assert_tree_equal):
    base = envs.Counting()
    env = W.Jit(base)
    s, ts = env.reset(jax.random.PRNGKey(2), options=envs.CountParams(jnp.int32(4)))
    s, ts = env.step(s, 1)
    rs, rts = base.reset(jax.random.PRNGKey(2), options=envs.CountParams(jnp.int32(4)))
    rs, rts = base.step(rs, 1)
    assert_tree_equal((s, ts), (rs, rts))
    assert int(env.render(s)) == 1
    vs, _ = W.Vmap(base).reset(jax.random.split(jax.random.PRNGKey(0), 2))
    assert int(W.Vmap(base).render(vs)) == 0  # renders element 0


def test_bad_keys_and_num(envs):
    with pytest.raises(ValueError, match="batch of keys"):
        W.Vmap(envs.Counting()).reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="num"):
        W.Tile(envs.Counting(), -1)
    with pytest.raises(TypeError, match="options_axis"):
        W.Vmap(envs.Counting(), options_axis="0")


def test_shard_rejects_bad_mesh(envs):
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match="not an axis"):
        W.Shard(W.Tile(envs.Counting(), 4), mesh, "data")
    with pytest.raises(TypeError, match="Mesh"):
        W.Shard(W.Tile(envs.Counting(), 4), "mesh")


_SHARD_CODE = textwrap.dedent(
    """
    from typing import NamedTuple
    import jax, jax.numpy as jnp, numpy as np
    import jit_env
    from jit_env import specs, wrappers as W

    class State(NamedTuple):
        key: jax.Array
        x: jax.Array

    class Env(jit_env.Environment):
        def reset(self, key, *, options=None):
            key, sub = jax.random.split(key)
            x = jax.random.normal(sub, (3,))
            return State(key, x), jit_env.restart(x)
        def step(self, state, action):
            key, x = state
            x = x + action
            return State(key, x), jit_env.transition(x.sum(), x)
        def reward_spec(self): return specs.Array((), jnp.float32)
        def discount_spec(self): return specs.BoundedArray((), jnp.float32, 0., 1.)
        def observation_spec(self): return specs.Array((3,), jnp.float32)
        def action_spec(self): return specs.Array((3,), jnp.float32)

    assert len(jax.devices()) == 4
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("batch",))
    base = W.Tile(Env(), 8)
    env = W.Shard(base, mesh, "batch")
    a = jnp.ones((8, 3))
    def run(env, key):
        s, ts = env.reset(key)
        for _ in range(3):
            s, ts = env.step(s, a)
        return ts
    ts = jax.jit(lambda k: run(env, k))(jax.random.PRNGKey(0))
    ref = jax.jit(lambda k: run(base, k))(jax.random.PRNGKey(0))
    assert len(ts.observation.sharding.device_set) == 4, ts.observation.sharding
    assert ts.observation.sharding.spec[0] == "batch"
    # same program, partitioned: elementwise results agree up to float32 rounding of
    # differently fused kernels (1e-6 relative)
    np.testing.assert_allclose(ts.observation, ref.observation, rtol=1e-6)
    np.testing.assert_allclose(ts.reward, ref.reward, rtol=1e-6)
    eager = run(env, jax.random.PRNGKey(0))
    assert len(eager.observation.sharding.device_set) == 4
    # an auto-reset inside a sharded batch: reset_after keeps NormalizeObservation's
    # per-environment statistics, on all four devices
    norm = W.Shard(W.TileAutoReset(W.NormalizeObservation(W.TimeLimit(Env(), 2)), 8), mesh, "batch")
    s, _ = norm.reset(jax.random.PRNGKey(1))
    for _ in range(5):
        s, ts = jax.jit(norm.step)(s, a)
    np.testing.assert_allclose(s.stats.count, 1e-4 + 8)  # 1 + 5 steps + 2 same-step resets
    assert len(s.stats.mean.sharding.device_set) == 4
    s2, ts2 = jax.jit(lambda p, k: jit_env.reset_after(norm, p, k))(s, jax.random.PRNGKey(2))
    np.testing.assert_allclose(s2.stats.count, 1e-4 + 9)
    assert len(ts2.observation.sharding.device_set) == 4
    try:
        W.Shard(W.Tile(Env(), 6), mesh, "batch")
    except ValueError as e:
        assert "divisible" in str(e)
    else:
        raise AssertionError("no error for 6 % 4")
    # the batch size is found through wrappers that do not batch
    try:
        W.Shard(W.EpisodeStatistics(W.NormalizeObservation(W.Tile(Env(), 6))), mesh, "batch")
    except ValueError as e:
        assert "num=6" in str(e), str(e)
    else:
        raise AssertionError("no error for 6 % 4 under EpisodeStatistics")
    print("SHARD-OK")
    """
)


@pytest.mark.slow  # a subprocess
def test_shard_on_four_host_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", _SHARD_CODE], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SHARD-OK" in out.stdout
