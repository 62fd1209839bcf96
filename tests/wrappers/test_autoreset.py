"""AutoReset / VmapAutoReset / TileAutoReset: semantics, exactness, no data lost."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import wrappers as W
from jit_env.wrappers._autoreset import RESET_KEY_SALT

FIRST, MID, LAST = (int(jit_env.StepType.FIRST), int(jit_env.StepType.MID),
                    int(jit_env.StepType.LAST))


def test_same_step_semantics_counting(envs, transform, rollout):
    env = W.AutoReset(envs.Counting(threshold=2))
    actions = jnp.array([1, 0, 1, 1], jnp.int32)
    _, ts = transform(lambda k: rollout(env, k, actions), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.step_type, [FIRST, MID, FIRST, MID, FIRST])
    np.testing.assert_array_equal(ts.discount, [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(ts.reward, [0, 1.5, 0.5, 1.5, 1.5])
    np.testing.assert_array_equal(ts.observation[:, 0], [0, 1, 0, 1, 0])
    # the true last observation (count 2) is kept in extras; elsewhere it is the observation
    np.testing.assert_array_equal(ts.extras["final_observation"][:, 0], [0, 1, 2, 1, 2])
    offs = np.asarray(ts.observation[:, 1])
    assert offs[0] != offs[2] != offs[4]  # a new episode after each reset
    assert ts.extras["final_observation"][2, 1] == offs[1]
    np.testing.assert_array_equal(ts.extras["count"], [0, 1, 2, 1, 2])  # env extras kept


def test_reset_key_and_options_come_from_state(envs):
    base = envs.Counting(threshold=2)
    env = W.AutoReset(base)
    key = jax.random.PRNGKey(3)
    opts = envs.CountParams(jnp.int32(2))
    state, _ = env.reset(key, options=opts)
    s1, _ = env.step(state, 0)
    s2, ts = env.step(s1, 0)
    expected_state, expected_ts = base.reset(
        jax.random.fold_in(s1.key, RESET_KEY_SALT), options=opts
    )
    np.testing.assert_array_equal(ts.observation, expected_ts.observation)
    np.testing.assert_array_equal(s2.offset, expected_state.offset)


def test_next_step_mode_sequence(envs, rollout):
    env = W.Jit(W.AutoReset(envs.Counting(threshold=2), mode="next_step"))
    _, ts = rollout(env, jax.random.PRNGKey(1), jnp.ones(6, jnp.int32))
    np.testing.assert_array_equal(ts.step_type, [FIRST, MID, LAST, FIRST, MID, LAST, FIRST])
    np.testing.assert_array_equal(ts.reward, [0, 1.5, 1.5, 0, 1.5, 1.5, 0])
    np.testing.assert_array_equal(ts.discount, [1, 1, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(ts.extras["final_observation"], ts.observation)


def _episodes_same_step(ts):
    """NumPy: list of (rewards, final_obs, terminal discount) per episode, one stream."""
    eps, rewards = [], []
    for t in range(1, len(ts.step_type)):
        rewards.append(float(ts.reward[t]))
        if ts.step_type[t] != MID:
            eps.append((rewards, ts.extras["final_observation"][t].tolist(),
                        float(ts.discount[t])))
            rewards = []
    return eps


def _episodes_next_step(ts):
    eps, rewards = [], []
    for t in range(1, len(ts.step_type)):
        if ts.step_type[t] == FIRST:
            continue
        rewards.append(float(ts.reward[t]))
        if ts.step_type[t] == LAST:
            eps.append((rewards, ts.observation[t].tolist(), float(ts.discount[t])))
            rewards = []
    return eps


@pytest.mark.parametrize("batched", [True])
def test_next_step_and_same_step_give_same_episodes(envs, batched):
    """A policy of the observation sees the same episodes in both modes (the
    extra FIRST step of next_step mode only shifts them in time)."""
    n, B = 60, 3

    def run(mode):
        if batched:
            env = W.VmapAutoReset(W.TimeLimit(envs.Walk(), 6), B, mode=mode, max_resets=1)
        else:
            env = W.AutoReset(W.TimeLimit(envs.Walk(), 6), mode=mode)

        def scan(key):
            s, ts0 = env.reset(key)

            def body(carry, _):
                s, ts = carry
                action = (ts.observation[..., 0] < 0).astype(jnp.int32)
                s, ts = env.step(s, action)
                return (s, ts), ts
            _, tss = jax.lax.scan(body, (s, ts0), None, length=n)
            out = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), ts0, tss)
            return out if batched else jax.tree.map(lambda x: x[:, None], out)
        return jax.device_get(jax.jit(scan)(jax.random.PRNGKey(7)))

    same, nxt = run("same_step"), run("next_step")
    for b in range(B if batched else 1):
        s_eps = _episodes_same_step(jax.tree.map(lambda x: x[:, b], same))
        n_eps = _episodes_next_step(jax.tree.map(lambda x: x[:, b], nxt))
        assert len(n_eps) >= 4
        assert len(s_eps) > len(n_eps)
        assert n_eps == s_eps[: len(n_eps)]


def _scan_stream(env, key, actions):
    """jit(reset + scan(step)) returning all TimeSteps [T+1, B] and the final state."""

    def run(key, actions):
        s, ts0 = env.reset(key)

        def body(s, a):
            s, ts = env.step(s, a)
            return s, ts
        s, tss = jax.lax.scan(body, s, actions)
        return s, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), ts0, tss)
    return jax.jit(run)(key, actions)


def test_sparse_reset_equals_select_all_and_single(envs, assert_tree_equal):
    """max_resets=2 and 1 (sparse, with fall-back to all when more end), the
    default (select all for B <= 16) and B (select all) agree bit for bit, and
    with AutoReset applied to one environment."""
    B, T = 8, 30
    actions = jax.random.randint(jax.random.PRNGKey(2), (T, B), 0, 2)
    key = jax.random.PRNGKey(4)
    outs = [
        _scan_stream(W.VmapAutoReset(W.TimeLimit(envs.Walk(), 5), B, max_resets=k), key, actions)
        for k in (2, None, 1, B)
    ]
    for o in outs[1:]:
        assert_tree_equal(outs[0], o)
    single = W.AutoReset(W.TimeLimit(envs.Walk(), 5))
    keys = jax.random.split(key, B)
    per_env = [_scan_stream_single(single, keys[i], actions[:, i]) for i in (5,)]
    for i, (_, ts) in zip((5,), per_env):
        assert_tree_equal(jax.tree.map(lambda x: x[:, i], outs[0][1]), ts)


def _scan_stream_single(env, key, actions):
    def run(key, actions):
        s, ts0 = env.reset(key)
        s, tss = jax.lax.scan(lambda s, a: env.step(s, a), s, actions)
        return s, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), ts0, tss)
    return jax.jit(run)(key, actions)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg", "legacy"])
def test_key_implementations_and_specs(envs, impl):
    key = jax.random.PRNGKey(0) if impl == "legacy" else jax.random.key(0, impl=impl)
    env = W.TileAutoReset(W.TimeLimit(envs.Counting(threshold=3), 2), 4, max_resets=2)
    _, ts = _scan_stream(env, key, jnp.ones((5, 4), jnp.int32))
    # the limit of 2 steps truncates every episode: resets on steps 2 and 4
    np.testing.assert_array_equal(ts.step_type[:, 0], [FIRST, MID, FIRST, MID, FIRST, MID])
    np.testing.assert_array_equal(ts.discount[:, 0], [1, 1, 1, 1, 1, 1])  # truncation: not 0
    for t in range(6):
        step = jax.tree.map(lambda x: x[t], ts)
        env.observation_spec().validate(step.observation)
        env.observation_spec().validate(step.extras["final_observation"])
        env.reward_spec().validate(step.reward)
        env.discount_spec().validate(step.discount)


def test_extras_structure_same_on_reset_and_step(envs):
    for env in (
        W.AutoReset(envs.Counting()),
        W.AutoReset(envs.Walk(), mode="next_step"),
        W.VmapAutoReset(envs.Counting(), 3),
        W.EpisodeStatistics(W.VmapAutoReset(W.TimeLimit(envs.Walk(), 3), 3, mode="next_step")),
    ):
        def both(key):
            state, ts0 = env.reset(key)
            _, ts1 = env.step(state, env.action_spec().generate_value())
            return ts0, ts1
        ts0, ts1 = jax.eval_shape(both, jax.random.PRNGKey(0))
        assert jax.tree.structure(ts0) == jax.tree.structure(ts1)
        assert "final_observation" in ts0.extras
        for a, b in zip(jax.tree.leaves(ts0), jax.tree.leaves(ts1)):
            assert a.shape == b.shape
            assert a.dtype == b.dtype


def test_step_traces_once(envs):
    base = envs.Counting(threshold=3)
    env = W.VmapAutoReset(base, 4, max_resets=2)
    step = jax.jit(env.step)
    state, _ = env.reset(jax.random.PRNGKey(0))
    for _ in range(8):
        state, ts = step(state, jnp.ones(4, jnp.int32))
    assert base.step_traces == 1
    np.testing.assert_array_equal(ts.observation[:, 0], [2, 2, 2, 2])  # 8 = 3 + 3 + 2


def test_bad_arguments(envs):
    with pytest.raises(ValueError, match="mode"):
        W.AutoReset(envs.Walk(), mode="sometimes")
    with pytest.raises(ValueError, match="max_resets"):
        W.VmapAutoReset(envs.Walk(), 4, max_resets=0)
    with pytest.raises(ValueError, match="num"):
        W.TileAutoReset(envs.Walk(), 0)
    with pytest.raises(ValueError, match="holds 3 keys, expected num=4"):
        W.TileAutoReset(envs.Walk(), 4).reset(jax.random.split(jax.random.PRNGKey(0), 3))


# ---------------------------------------------------------------------------
# No data lost: 64 environments x 10,000 steps against an independent reference
# ---------------------------------------------------------------------------

_B, _T, _LIMIT = 64, 10_000, 7


def _reference(env, keys, actions, limit):
    """Each environment on its own, no wrappers: step; on termination or after
    `limit` steps, start the next episode with key fold_in(state.key, SALT)."""

    def one(key, acts):
        state, _ = env.reset(key)

        def body(carry, a):
            state, t = carry
            state, ts = env.step(state, a)
            t = t + 1
            ended = ts.last() | (t >= limit)
            new_state, _ = env.reset(jax.random.fold_in(state.key, RESET_KEY_SALT))
            state = jax.tree.map(lambda n, o: jnp.where(ended, n, o), new_state, state)
            return (state, jnp.where(ended, 0, t)), (ts.reward, ts.discount, ts.observation, ended)

        _, out = jax.lax.scan(body, (state, jnp.int32(0)), acts)
        return out

    return jax.jit(jax.vmap(one, in_axes=(0, 1), out_axes=1))(keys, actions)


def _np_episodes(reward, discount, final_obs, ended):
    """Per environment: list of (return, length, final obs, terminal discount)."""
    out = []
    for b in range(reward.shape[1]):
        eps, start = [], 0
        for t in np.flatnonzero(ended[:, b]):
            r = reward[start : t + 1, b]
            eps.append((float(r.sum(dtype=np.float64)), int(t + 1 - start),
                        final_obs[t, b].tolist(), float(discount[t, b])))
            start = t + 1
        out.append(eps)
    return out


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_no_data_lost_10k_steps(envs):
    env_raw = envs.Walk()
    key = jax.random.PRNGKey(42)
    actions = jax.random.randint(jax.random.PRNGKey(43), (_T, _B), 0, 2)
    stack = W.EpisodeStatistics(W.VmapAutoReset(W.TimeLimit(env_raw, _LIMIT), _B))
    _, ts = _scan_stream(stack, key, actions)
    ts = jax.device_get(jax.tree.map(lambda x: x[1:], ts))
    # the issue's stack gives identical TimeSteps (EpisodeStatistics inside).
    issue = W.VmapAutoReset(W.TimeLimit(W.EpisodeStatistics(env_raw), _LIMIT), _B)
    _, ts_issue = _scan_stream(issue, key, actions)
    np.testing.assert_array_equal(ts_issue.observation[1:], ts.observation)
    np.testing.assert_array_equal(ts_issue.extras["final_observation"][1:],
                                  ts.extras["final_observation"])

    ended = ts.step_type == FIRST  # same-step: FIRST out of step = an episode ended
    got = _np_episodes(ts.reward, ts.discount, ts.extras["final_observation"], ended)
    ref = jax.device_get(_reference(env_raw, jax.random.split(key, _B), actions, _LIMIT))
    r_reward, r_discount, r_obs, r_ended = ref
    want = _np_episodes(r_reward, r_discount, r_obs, r_ended)
    assert sum(map(len, want)) > 5_000  # many episodes, both terminations and truncations
    assert got == want  # counts, returns (float64 sums of the same float32), lengths, final obs
    trunc = [e for eps in want for e in eps if e[1] == _LIMIT and e[3] == 1.0]
    assert trunc, "the time limit was never hit"

    # EpisodeStatistics agrees with the reconstruction on every finished episode.
    done = ts.extras["episode_done"]
    np.testing.assert_array_equal(done, ended)
    for b in (0, 31, 63):
        rets = ts.extras["episode_return"][done[:, b], b]
        lens = ts.extras["episode_length"][done[:, b], b]
        # float32 running sum vs float64 sum of <= 7 terms of k/4: exact in float32.
        np.testing.assert_array_equal(rets, [e[0] for e in want[b]])
        np.testing.assert_array_equal(lens, [e[1] for e in want[b]])


def test_default_chunked_resets_equal_select_all_for_a_larger_batch(envs, assert_tree_equal):
    """B = 40 resets ceil(40 / 16) = 3 environments per pass (several passes when more
    end, as they do every 5 steps here); exactly as resetting all and selecting."""
    from jit_env.wrappers._batched_reset import default_chunk

    B, T = 40, 24
    assert default_chunk(B) == 3
    actions = jax.random.randint(jax.random.PRNGKey(5), (T, B), 0, 2)
    key = jax.random.PRNGKey(6)
    default = _scan_stream(W.VmapAutoReset(W.TimeLimit(envs.Walk(), 5), B), key, actions)
    select = _scan_stream(W.VmapAutoReset(W.TimeLimit(envs.Walk(), 5), B, max_resets=B), key, actions)
    assert_tree_equal(default, select)
