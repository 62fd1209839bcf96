"""`jit_env.reset_after`: what wrappers keep across the episodes of an auto-reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import wrappers as W
from jit_env.wrappers._normalization import INITIAL_COUNT

EPS = 1e-8


def _scan(env, key, actions):
    state, ts0 = env.reset(key)
    state, tss = jax.lax.scan(env.step, state, actions)
    return state, ts0, tss


def _walk(envs, limit=6):
    return W.TimeLimit(envs.Walk(), limit)


def test_dispatch_keeps_what_wrappers_define(envs, assert_tree_equal):
    key, prev_key = jax.random.PRNGKey(3), jax.random.PRNGKey(4)
    # an environment keeps nothing: reset_after is its reset
    env = envs.Counting()
    previous, _ = env.step(env.reset(prev_key)[0], 1)
    assert_tree_equal(jit_env.reset_after(env, previous, key), env.reset(key))

    norm = W.NormalizeObservation(envs.Point())
    previous, _ = norm.step(norm.reset(prev_key)[0], jnp.ones(2))
    state, _ = jit_env.reset_after(norm, previous, key)
    np.testing.assert_allclose(state.stats.count, INITIAL_COUNT + 3)  # 2 kept + the new first

    # no previous episode: reset_after is reset
    assert_tree_equal(jit_env.reset_after(norm, None, key), norm.reset(key))

    # a wrapper that does not override reset passes `previous` through (ClipAction)
    clipped = W.ClipAction(norm)
    state, _ = jit_env.reset_after(clipped, previous, key)
    np.testing.assert_allclose(state.stats.count, INITIAL_COUNT + 3)

    # a wrapper that overrides only `reset` is never bypassed: its reset runs
    class Shifted(jit_env.Wrapper):
        def reset(self, key, *, options=None):
            state, ts = self.env.reset(key, options=options)
            return state, ts.replace(reward=ts.reward + 7.0)

    shifted = Shifted(norm)
    state, ts = jit_env.reset_after(shifted, previous, key)
    assert float(ts.reward) == 7.0
    np.testing.assert_allclose(state.stats.count, INITIAL_COUNT + 1)  # fresh statistics


def _np_running(samples):
    """gymnasium RunningMeanStd (float64), one sample at a time: stats after each sample."""
    mean, var, count = np.zeros(samples.shape[-1]), np.ones(samples.shape[-1]), INITIAL_COUNT
    out = []
    for x in samples.astype(np.float64):
        delta, tot = x - mean, count + 1
        mean = mean + delta / tot
        var = (var * count + delta**2 * count / tot) / tot
        count = tot
        out.append((mean, var))
    return out


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_normalize_observation_inside_vmap_autoreset_matches_numpy(envs, mode, transform):
    """Each environment's statistics run over all its observations, across episodes."""
    batch, steps = 3, 40
    actions = jax.random.randint(jax.random.PRNGKey(1), (steps, batch), 0, 2)
    raw = W.VmapAutoReset(_walk(envs), batch, mode=mode)
    env = W.VmapAutoReset(W.NormalizeObservation(_walk(envs)), batch, mode=mode)
    key = jax.random.PRNGKey(0)
    _, raw0, raw_ts = _scan(raw, key, actions)
    state, ts0, ts = transform(lambda k: _scan(env, k, actions), key)
    assert int(np.asarray(raw_ts.step_type == jit_env.StepType.FIRST).sum()) >= 3 * batch
    for b in range(batch):
        samples, where = [np.asarray(raw0.observation[b])], [("obs", -1)]
        for t in range(steps):
            st = int(raw_ts.step_type[t, b])
            if mode == "same_step" and st == jit_env.StepType.FIRST:
                samples.append(np.asarray(raw_ts.extras["final_observation"][t, b]))
                where.append(("final", t))
            samples.append(np.asarray(raw_ts.observation[t, b]))
            where.append(("obs", t))
        running = _np_running(np.stack(samples))
        for x, (mean, var), (kind, t) in zip(samples, running, where):
            want = (x - mean) / np.sqrt(var + EPS)
            if t < 0:
                got = ts0.observation[b]
            elif kind == "final":
                got = ts.extras["final_observation"][t, b]
            else:
                got = ts.observation[t, b]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(state_stats(state, mode).count[b], INITIAL_COUNT + len(samples))


def state_stats(state, mode):
    return (state.inner if mode == "next_step" else state).stats


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_single_autoreset_keeps_statistics_and_frozen_flag(envs, mode):
    steps = 30
    actions = jax.random.randint(jax.random.PRNGKey(2), (steps,), 0, 2)
    env = W.AutoReset(W.NormalizeObservation(_walk(envs)), mode=mode)
    state, _, ts = jax.jit(lambda k: _scan(env, k, actions))(jax.random.PRNGKey(5))
    resets = int(np.asarray(ts.step_type == jit_env.StepType.FIRST).sum())
    assert resets >= 3
    # next-step: each step call either steps or resets (one sample each); same-step: a
    # step that ends an episode also sees the new episode's first observation
    extra = resets if mode == "same_step" else 0
    np.testing.assert_allclose(state_stats(state, mode).count, INITIAL_COUNT + 1 + steps + extra)

    frozen = jax.jit(lambda k: env.reset(k))(jax.random.PRNGKey(5))[0]
    if mode == "next_step":
        frozen = frozen._replace(inner=W.NormalizeObservation.freeze(frozen.inner))
    else:
        frozen = W.NormalizeObservation.freeze(frozen)
    before = state_stats(frozen, mode)
    after, _ = jax.jit(lambda s: jax.lax.scan(env.step, s, actions))(frozen)
    for x, y in zip(before, state_stats(after, mode)):
        np.testing.assert_array_equal(x, y)
    assert bool((after.inner if mode == "next_step" else after).frozen)


def test_normalize_reward_inside_autoreset_keeps_statistics(envs):
    batch, steps = 4, 25
    env = W.VmapAutoReset(W.NormalizeReward(_walk(envs)), batch)
    actions = jnp.ones((steps, batch), jnp.int32)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    state, _, ts = jax.vmap(lambda k: _scan(env, k, actions))(keys)
    assert int(np.asarray(ts.step_type == jit_env.StepType.FIRST).sum()) >= batch
    # one update per step per environment, none lost at the resets
    np.testing.assert_allclose(state.stats.count, INITIAL_COUNT + steps)


def test_every_wrapper_passes_previous_state_down(envs):
    """Each built-in wrapper's reset_after reaches the NormalizeObservation inside it."""
    key, prev_key = jax.random.PRNGKey(3), jax.random.PRNGKey(4)
    inner = W.NormalizeObservation(envs.Point())
    point = jnp.ones(2)
    single = {
        "TimeLimit": W.TimeLimit(inner, 9),
        "FrameStack": W.FrameStack(inner, 2),
        "FlattenObservation": W.FlattenObservation(inner),
        "TransformObservation": W.TransformObservation(inner, lambda o: o * 2),
        "TransformReward": W.TransformReward(inner, lambda r: r + 1),
        "ClipReward": W.ClipReward(inner, -1.0, 1.0),
        "ScaleReward": W.ScaleReward(inner, 2.0),
        "NormalizeReward": W.NormalizeReward(inner),
        "EpisodeStatistics": W.EpisodeStatistics(inner),
        "StopGradient": W.StopGradient(inner),
        "ExtendObservation": W.ExtendObservation(inner, "observation", "action"),
        "ClipAction": W.ClipAction(inner),
        "Jit": W.Jit(inner),
        "AutoReset": W.AutoReset(inner),
        "AutoReset-next": W.AutoReset(inner, mode="next_step"),
    }

    def stats_of(state):
        while not isinstance(state, W.NormalizeObservationState):
            state = state.inner
        return state.stats

    for name, env in single.items():
        previous, _ = env.step(env.reset(prev_key)[0], point)
        state, ts = jit_env.reset_after(env, previous, key)
        fresh_state, fresh_ts = env.reset(key)
        np.testing.assert_allclose(stats_of(state).count, INITIAL_COUNT + 3, err_msg=name)
        assert jax.tree.structure(state) == jax.tree.structure(fresh_state), name
        assert jax.tree.structure(ts) == jax.tree.structure(fresh_ts), name
        assert int(ts.step_type) == jit_env.StepType.FIRST, name

    batch = 3
    keys = jax.random.split(key, batch)
    for name, env in {
        "Vmap": W.Vmap(inner),
        "Tile": W.Tile(inner, batch),
        "VmapAutoReset": W.VmapAutoReset(inner, batch),
        "VmapAutoReset-next": W.VmapAutoReset(inner, batch, mode="next_step"),
    }.items():
        reset_keys = keys if name == "Vmap" else key
        previous, _ = env.step(env.reset(reset_keys)[0], jnp.ones((batch, 2)))
        state, ts = jit_env.reset_after(env, previous, reset_keys)
        np.testing.assert_allclose(stats_of(state).count, INITIAL_COUNT + 3, err_msg=name)
        np.testing.assert_array_equal(ts.step_type, jit_env.StepType.FIRST, err_msg=name)
