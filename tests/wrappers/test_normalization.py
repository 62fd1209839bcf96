"""NormalizeObservation, NormalizeReward, ClipReward, ScaleReward."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import specs
from jit_env import wrappers as W
from jit_env.wrappers._normalization import (
    column_sums,
    init_running_mean_std,
    update_running_mean_std,
)


def _np_normalize(obs_batches, eps=1e-8, clip=None):
    """Gymnasium RunningMeanStd in float64: update with each batch, then normalise."""
    mean, var, count = np.zeros(obs_batches.shape[-1]), np.ones(obs_batches.shape[-1]), 1e-4
    out = []
    for x in obs_batches:
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        bm, bv, bn = x.mean(0), x.var(0), x.shape[0]
        delta, tot = bm - mean, count + bn
        mean = mean + delta * bn / tot
        var = (var * count + bv * bn + delta**2 * count * bn / tot) / tot
        count = tot
        y = (x - mean) / np.sqrt(var + eps)
        out.append(y if clip is None else np.clip(y, -clip, clip))
    return np.stack(out)


def test_normalize_observation_single(envs, transform, rollout):
    raw = W.TimeLimit(envs.Point(), 100)
    env = W.NormalizeObservation(raw)
    acts = jnp.array([[0.5, -1.0], [1.0, 0.2], [-0.3, 0.3]], jnp.float32)
    _, ts = transform(lambda k: rollout(env, k, acts), jax.random.PRNGKey(0))
    _, raw_ts = rollout(raw, jax.random.PRNGKey(0), acts)
    want = _np_normalize(np.asarray(raw_ts.observation)[:, None])[:, 0]
    # float32 Chan updates vs float64: a few ulps on O(1) values
    np.testing.assert_allclose(ts.observation, want, rtol=1e-5, atol=1e-5)
    assert env.observation_spec() == specs.Array((2,), jnp.float32)


def test_normalize_observation_batched_reduces_over_batch_and_final_obs(envs, rollout):
    base = W.TimeLimit(envs.Counting(threshold=3), 10)
    raw = W.VmapAutoReset(base, 4)
    env = W.NormalizeObservation(raw, clip=5.0)
    acts = jnp.ones((4, 4), jnp.int32)
    key = jax.random.PRNGKey(1)
    state, ts = jax.jit(lambda k: rollout(env, k, acts))(key)
    _, raw_ts = jax.jit(lambda k: rollout(raw, k, acts))(key)
    want = _np_normalize(np.asarray(raw_ts.observation), clip=5.0)
    np.testing.assert_allclose(ts.observation, want, rtol=1e-5, atol=1e-5)
    assert float(state.stats.count) == pytest.approx(1e-4 + 5 * 4)
    # the final observation (count 3 at the reset step) uses the same statistics
    stats = _np_stats_after(np.asarray(raw_ts.observation), 4)
    final = np.asarray(raw_ts.extras["final_observation"][3])
    np.testing.assert_allclose(
        ts.extras["final_observation"][3],
        np.clip((final - stats[0]) / np.sqrt(stats[1] + 1e-8), -5, 5), rtol=1e-5, atol=1e-5)
    assert env.observation_spec() == specs.Batched(specs.Array((2,), jnp.float32, "observation"), 4)


def _np_stats_after(obs, n):
    x = obs[:n].reshape(-1, obs.shape[-1]).astype(np.float64)
    # one batch at a time, as the wrapper does; equal to pooled moments with the prior
    mean, var, count = np.zeros(x.shape[1]), np.ones(x.shape[1]), 1e-4
    for b in obs[:n]:
        bm, bv, bn = b.mean(0), b.var(0), b.shape[0]
        delta, tot = bm - mean, count + bn
        mean, var, count = (mean + delta * bn / tot,
                            (var * count + bv * bn + delta**2 * count * bn / tot) / tot, tot)
    return mean, var


def test_normalize_observation_freeze(envs):
    env = W.NormalizeObservation(envs.Point(), freeze=True)
    state, ts = env.reset(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(state.stats.mean, 0.0)
    state = W.NormalizeObservation.freeze(state, False)
    state, _ = env.step(state, jnp.zeros(2))
    assert float(state.stats.count) > 1
    with pytest.raises(TypeError, match="array observation spec"):
        W.NormalizeObservation(W.ExtendObservation.pomdp_fields(envs.Point()))
    with pytest.raises(ValueError, match="clip"):
        W.NormalizeObservation(envs.Point(), clip=0.0)


def test_normalize_reward_matches_numpy(envs, transform, rollout):
    env = W.NormalizeReward(W.AutoReset(envs.Counting(threshold=2)), gamma=0.9)
    acts = jnp.array([1, 0, 1, 1, 0], jnp.int32)
    _, ts = transform(lambda k: rollout(env, k, acts), jax.random.PRNGKey(0))
    _, raw = rollout(W.AutoReset(envs.Counting(threshold=2)), jax.random.PRNGKey(0), acts)
    r = np.asarray(raw.reward[1:], np.float64)
    st = np.asarray(raw.step_type[1:])
    ret, mean, var, count, want = 0.0, 0.0, 1.0, 1e-4, []
    for t in range(len(r)):
        ret = 0.9 * ret + r[t]
        delta, tot = ret - mean, count + 1
        mean, var, count = mean + delta / tot, (var * count + delta**2 * count / tot) / tot, tot
        want.append(r[t] / np.sqrt(var + 1e-8))
        if st[t] != 1:  # episode ended (same-step FIRST): restart R
            ret = 0.0
    np.testing.assert_allclose(ts.reward[1:], want, rtol=1e-5)


def test_clip_and_scale_reward(envs, transform, rollout):
    env = W.ScaleReward(W.ClipReward(envs.Counting(), 0.0, 1.0), -2.0)
    _, ts = transform(lambda k: rollout(env, k, jnp.array([0, 1], jnp.int32)), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.reward, [0.0, -1.0, -2.0])  # 0.5 -> -1, 1.5 -> 1 -> -2
    spec = env.reward_spec()
    assert isinstance(spec, specs.BoundedArray)
    np.testing.assert_array_equal([spec.minimum, spec.maximum], [-2.0, 0.0])
    with pytest.raises(ValueError, match="both None"):
        W.ClipReward(envs.Counting())
    with pytest.raises(ValueError, match="greater"):
        W.ClipReward(envs.Counting(), 1.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        W.ScaleReward(envs.Counting(), float("nan"))


def test_reset_with_statistics_normalises_the_first_observation_with_them():
    import jit_env
    from jit_env.wrappers._normalization import RunningMeanStd

    env = W.NormalizeObservation(jit_env.make("CartPole-v1"))
    raw_state, raw_ts = jit_env.make("CartPole-v1").reset(jax.random.PRNGKey(0))
    stats = RunningMeanStd(
        mean=jnp.full((4,), 0.5, jnp.float32), var=jnp.full((4,), 4.0, jnp.float32),
        count=jnp.float32(10.0),
    )
    state, ts = env.reset_with_statistics(jax.random.PRNGKey(0), stats)
    expected = (np.asarray(raw_ts.observation) - 0.5) / np.sqrt(4.0 + 1e-8)
    np.testing.assert_allclose(ts.observation, expected, rtol=1e-6)
    assert bool(state.frozen)
    state, ts = env.step(state, jnp.int32(1))
    np.testing.assert_array_equal(state.stats.mean, stats.mean)  # frozen: never updated


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), f=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_column_sums_equal_numpy_sums(n, f, seed):
    """The folded column sums behind the batched statistics update equal a float64 NumPy
    sum up to float32 rounding, for every shape (divisible or prime row counts)."""
    x = np.random.default_rng(seed).normal(size=(n, f)).astype(np.float32)
    want = x.astype(np.float64).sum(0)
    np.testing.assert_allclose(column_sums(jnp.asarray(x)), want, rtol=1e-5, atol=1e-4)


def test_column_sums_jit_vmap_and_batched_moments():
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 8192, 4)) * 3.0 + 1.0
    want = np.asarray(x, np.float64).sum(1)
    np.testing.assert_allclose(jax.jit(column_sums)(x[0]), want[0], rtol=1e-5)
    np.testing.assert_allclose(jax.vmap(column_sums)(x), want, rtol=1e-5)
    stats = update_running_mean_std(init_running_mean_std((2, 2)), x[0].reshape(8192, 2, 2), 1)
    xs = np.asarray(x[0], np.float64).reshape(8192, 2, 2)
    total = 1e-4 + 8192  # the Chan update of the initial (0, 1, 1e-4) statistics
    np.testing.assert_allclose(stats.mean, xs.mean(0) * 8192 / total, rtol=1e-5)
    want_var = (1e-4 + xs.var(0) * 8192 + xs.mean(0) ** 2 * 1e-4 * 8192 / total) / total
    np.testing.assert_allclose(stats.var, want_var, rtol=1e-5)
