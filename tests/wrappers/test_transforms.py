"""Observation, action, reward and gradient wrappers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import specs
from jit_env import wrappers as W


def test_flatten_observation(envs, transform, rollout):
    env = W.FlattenObservation(W.FrameStack(envs.Counting(), 2))
    _, ts = transform(lambda k: rollout(env, k, jnp.array([1], jnp.int32)), jax.random.PRNGKey(0))
    assert ts.observation.shape == (2, 4)
    np.testing.assert_array_equal(ts.observation[1, [0, 2]], [0, 1])  # counts, oldest first
    assert env.observation_spec() == specs.Array((4,), jnp.float32, "observation")
    walk = W.FlattenObservation(envs.Walk())
    assert isinstance(walk.observation_spec(), specs.BoundedArray)
    with pytest.raises(TypeError, match="array observation spec"):
        W.FlattenObservation(W.ExtendObservation.pomdp_fields(envs.Walk()))


def test_frame_stack_resets_at_episode_start(envs, transform, rollout):
    env = W.FrameStack(W.AutoReset(envs.Counting(threshold=2)), 3)
    _, ts = transform(lambda k: rollout(env, k, jnp.ones(3, jnp.int32)), jax.random.PRNGKey(0))
    counts = np.asarray(ts.observation[..., 0])
    np.testing.assert_array_equal(counts, [[0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 1]])
    # the final observation is the stack that ends the finished episode
    np.testing.assert_array_equal(ts.extras["final_observation"][2, :, 0], [0, 1, 2])
    assert env.observation_spec().shape == (3, 2)
    batched = W.FrameStack(W.VmapAutoReset(envs.Counting(threshold=2), 2), 3)
    _, s = jax.jit(lambda k: rollout(batched, k, jnp.ones((2, 2), jnp.int32)))(jax.random.PRNGKey(0))
    assert s.observation.shape == (3, 2, 3, 2)
    np.testing.assert_array_equal(s.observation[2, 0, :, 0], [0, 0, 0])
    assert batched.observation_spec() == specs.Batched(
        specs.reshape_spec(envs.Counting().observation_spec(), prepend=(3,)), 2)
    with pytest.raises(ValueError, match="num_stack"):
        W.FrameStack(envs.Counting(), 0)


def test_extend_observation(envs, transform, rollout):
    env = W.ExtendObservation(envs.Counting(), "observation", "action", "reward", "discount")
    _, ts = transform(lambda k: rollout(env, k, jnp.array([1, 0], jnp.int32)), jax.random.PRNGKey(0))
    assert type(ts.observation).__name__ == "Observation"
    assert ts.observation._fields == ("observation", "action", "reward", "discount")
    np.testing.assert_array_equal(ts.observation.action, [0, 1, 0])
    np.testing.assert_array_equal(ts.observation.reward, [0, 1.5, 0.5])
    np.testing.assert_array_equal(ts.observation.discount, [1, 1, 1])
    np.testing.assert_array_equal(ts.observation.observation[:, 0], [0, 1, 2])  # step count
    spec = env.observation_spec()
    for t in range(3):
        spec.validate(jax.tree.map(lambda x: x[t], ts.observation))
    only = W.ExtendObservation(envs.Counting(), "reward", "reward")  # repeats dropped
    assert only.fields == ("reward",)
    assert only.observation_spec().as_spec_struct() == only.ObsStruct(
        reward=envs.Counting().reward_spec())
    with pytest.raises(ValueError, match="color"):
        W.ExtendObservation(envs.Counting(), "color")
    with pytest.raises(ValueError, match="extras"):
        W.ExtendObservation(envs.Counting(), "extras")
    with pytest.raises(ValueError, match="empty"):
        W.ExtendObservation(envs.Counting())


def test_transform_observation_and_reward(envs, transform, rollout):
    env = W.TransformReward(
        W.TransformObservation(envs.Counting(), lambda o: o[:1] * 2.0), lambda r: r * 10.0)
    _, ts = transform(lambda k: rollout(env, k, jnp.array([1], jnp.int32)), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.observation, [[0.0], [2.0]])
    np.testing.assert_array_equal(ts.reward, [0.0, 15.0])
    assert env.observation_spec() == specs.Array((1,), jnp.float32, "TransformedObservation")
    with pytest.raises(ValueError, match="does not match"):
        W.TransformObservation(envs.Counting(), lambda o: o[:1], specs.Array((2,), jnp.float32))
    with pytest.raises(ValueError, match="does not match"):
        W.TransformReward(envs.Counting(), lambda r: r.astype(jnp.int32))


def test_action_wrappers(envs, transform, rollout):
    rescale = W.RescaleAction(envs.Point(), 0.0, 1.0)
    env = W.ClipAction(rescale)
    # clip to [0, 1] (2.0 -> 1.0), then [0, 1] -> [-1, 1]: 1.0 -> 1.0, 0.25 -> -0.5
    _, ts = transform(lambda k: rollout(env, k, jnp.array([[2.0, 0.25]])), jax.random.PRNGKey(0))
    np.testing.assert_allclose(ts.observation[1] - ts.observation[0], [1.0, -0.5], rtol=1e-6)
    spec = rescale.action_spec()
    np.testing.assert_array_equal([spec.minimum, spec.maximum], [[0, 0], [1, 1]])
    clip = W.ClipAction(envs.Point())
    assert type(clip.action_spec()) is specs.Array
    _, ts = rollout(clip, jax.random.PRNGKey(0), jnp.array([[5.0, -5.0]]))
    np.testing.assert_allclose(ts.observation[1] - ts.observation[0], [1.0, -1.0], rtol=1e-6)
    with pytest.raises(TypeError, match="BoundedArray"):
        W.ClipAction(envs.Counting())
    with pytest.raises(ValueError, match="min_action"):
        W.RescaleAction(envs.Point(), 1.0, 0.0)
    t = W.TransformAction(envs.Point(), lambda a: jnp.stack([a, -a]),
                          specs.BoundedArray((), jnp.float32, -1.0, 1.0))
    _, ts = rollout(t, jax.random.PRNGKey(0), jnp.array([0.5]))
    np.testing.assert_allclose(ts.observation[1] - ts.observation[0], [0.5, -0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        W.TransformAction(envs.Point(), lambda a: a, specs.Array((3,), jnp.float32))


def test_action_repeat_sums_and_stops_at_last(envs, transform, rollout):
    env = W.ActionRepeat(envs.Counting(threshold=3), 2)
    _, ts = transform(lambda k: rollout(env, k, jnp.array([1, 1], jnp.int32)), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.observation[:, 0], [0, 2, 3])  # stops at the LAST (3)
    np.testing.assert_array_equal(ts.reward, [0, 3.0, 1.5])
    np.testing.assert_array_equal(ts.step_type, [0, 1, 2])
    np.testing.assert_array_equal(ts.discount, [1, 1, 0])
    with pytest.raises(ValueError, match="`n`"):
        W.ActionRepeat(envs.Counting(), 0)


def test_stop_gradient(envs):
    def loss(x, wrap):
        env = envs.Point()
        env = W.StopGradient(env) if wrap else env
        state, _ = env.reset(jax.random.PRNGKey(0))
        _, ts = env.step(state, x)
        return ts.reward + ts.observation.sum()

    x = jnp.array([0.1, 0.2])
    g = jax.grad(loss)(x, False)
    assert np.abs(np.asarray(g)).sum() > 0  # the raw env is differentiable
    np.testing.assert_array_equal(jax.grad(loss)(x, True), [0.0, 0.0])
    np.testing.assert_allclose(loss(x, True), loss(x, False))
