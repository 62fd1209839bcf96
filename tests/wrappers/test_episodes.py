"""TimeLimit and EpisodeStatistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import wrappers as W

FIRST, MID, LAST = 0, 1, 2


def test_time_limit_truncation_keeps_discount(envs, transform, rollout):
    env = W.TimeLimit(envs.Counting(threshold=10), 3)
    _, ts = transform(lambda k: rollout(env, k, jnp.ones(3, jnp.int32)), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.step_type, [FIRST, MID, MID, LAST])
    np.testing.assert_array_equal(ts.discount, [1, 1, 1, 1])  # truncation: discount not 0
    np.testing.assert_array_equal(ts.observation[-1, 0], 3)  # the final observation


def test_time_limit_termination_keeps_zero_discount(envs, rollout):
    env = W.TimeLimit(envs.Counting(threshold=3), 3)  # terminates on the limit step
    _, ts = rollout(env, jax.random.PRNGKey(0), jnp.ones(3, jnp.int32))
    np.testing.assert_array_equal(ts.step_type[-1], LAST)
    np.testing.assert_array_equal(ts.discount[-1], 0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        W.TimeLimit(envs.Counting(), 0)
    assert W.TimeLimit(envs.Counting(), 3).observation_spec() == envs.Counting().observation_spec()


def _np_stats(step_type, reward, after_last0=False):
    """Independent NumPy loop: (return, length, done) reported on each step."""
    ret = length = 0.0
    last_ret, last_len, after_last = 0.0, 0, after_last0
    out = []
    for st, r in zip(step_type, reward):
        if st == FIRST and after_last:
            ret, length, done = 0.0, 0, False
        else:
            ret, length = ret + r, length + 1
            done = st in (LAST, FIRST)
            if done:
                last_ret, last_len, ret, length = ret, length, 0.0, 0
        after_last = st == LAST
        out.append((last_ret, last_len, done))
    return out


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_episode_statistics_outside_autoreset(envs, transform, mode, rollout):
    env = W.EpisodeStatistics(W.AutoReset(W.TimeLimit(envs.Counting(threshold=3), 2), mode=mode))
    # thresholds: limit 2 truncates before the termination at 3
    acts = jnp.array([1, 0, 1, 1, 0, 1, 1], jnp.int32)
    _, ts = transform(lambda k: rollout(env, k, acts), jax.random.PRNGKey(0))
    want = _np_stats(np.asarray(ts.step_type)[1:], np.asarray(ts.reward)[1:])
    np.testing.assert_allclose(ts.extras["episode_return"][1:], [w[0] for w in want], rtol=0)
    np.testing.assert_array_equal(ts.extras["episode_length"][1:], [w[1] for w in want])
    np.testing.assert_array_equal(ts.extras["episode_done"][1:], [w[2] for w in want])
    assert ts.extras["episode_done"].sum() >= 2
    np.testing.assert_array_equal(ts.extras["episode_length"][ts.extras["episode_done"]], 2)
    assert ts.extras["episode_return"].dtype == jnp.float32
    assert ts.extras["episode_length"].dtype == jnp.int32


def test_episode_statistics_inside_autoreset_batched(envs):
    """VmapAutoReset(EpisodeStatistics(TimeLimit(env))) reports what the outer stack does."""
    inner = W.EpisodeStatistics(W.TimeLimit(envs.Counting(threshold=3), 5))
    env = W.VmapAutoReset(inner, 2)
    outer = W.EpisodeStatistics(W.VmapAutoReset(W.TimeLimit(envs.Counting(threshold=3), 5), 2))

    def run(env):
        def f(key):
            s, ts0 = env.reset(key)
            _, tss = jax.lax.scan(lambda s, a: env.step(s, a), s, jnp.ones((7, 2), jnp.int32))
            return tss
        return jax.jit(f)(jax.random.PRNGKey(0))

    a, b = run(env), run(outer)
    done = np.asarray(a.extras["episode_done"])
    np.testing.assert_array_equal(done, b.extras["episode_done"])
    np.testing.assert_array_equal(done[:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(a.extras["episode_return"][done], 4.5)  # 3 x 1.5
    np.testing.assert_array_equal(b.extras["episode_return"][done], 4.5)
    np.testing.assert_array_equal(a.extras["episode_length"][done], 3)
    # the last finished episode is reported on every later step, inside (reset_after
    # keeps it across the auto-reset) as outside
    np.testing.assert_array_equal(b.extras["episode_return"][3:, 0], 4.5)
    for name in ("episode_return", "episode_length", "episode_done"):
        np.testing.assert_array_equal(a.extras[name], b.extras[name])


def test_episode_statistics_state_reads_through(envs):
    env = W.EpisodeStatistics(W.TimeLimit(envs.Counting(), 4))
    state, ts = env.reset(jax.random.PRNGKey(0))
    assert state.params.threshold == 5
    assert state.key.shape == jax.random.PRNGKey(0).shape
    assert isinstance(ts, jit_env.TimeStep)
