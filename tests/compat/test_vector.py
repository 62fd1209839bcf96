"""Tests of `jit_env.compat.to_gymnasium_vector` against gymnasium's SyncVectorEnv.

The reference is ``gymnasium.vector.SyncVectorEnv`` over single `to_gymnasium`
adapters with the same seeds and autoreset mode: gymnasium's own loop
implementation of both autoreset modes. The jitted, vmapped batch must give
identical trajectories (bit for bit: same float32 computations) and the same
``info`` layout.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from jit_env import _core, specs
from jit_env import wrappers as W
from jit_env.compat import to_gymnasium, to_gymnasium_vector
from jit_env.envs._scalar_specs import ScalarRewardDiscount

NUM_ENVS = 3
_MODES = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}


class _Counter(ScalarRewardDiscount, _core.Environment):
    """Adds actions (0/1/2) to a counter; terminates at >= 4, extras carry the count."""

    def reset(self, key, *, options=None):
        del options
        start = jax.random.randint(key, (), 0, 2, dtype=jnp.int32)
        state = {"key": key, "count": start}
        return state, _core.restart(self._obs(start), extras={"count": start})

    def step(self, state, action):
        count = state["count"] + action
        extras = {"count": count}
        state = {"key": state["key"], "count": count}
        reward = count.astype(jnp.float32)
        term = _core.termination(reward, self._obs(count), extras=extras)
        mid = _core.transition(reward, self._obs(count), extras=extras)
        return state, jax.tree.map(lambda a, b: jnp.where(count >= 4, a, b), term, mid)

    @staticmethod
    def _obs(count):
        return {"count": count.astype(jnp.float32)[None], "parity": count % 2}

    def observation_spec(self):
        return specs.Dict(
            count=specs.BoundedArray((1,), jnp.float32, 0.0, 10.0),
            parity=specs.DiscreteArray(2),
        )

    def action_spec(self):
        return specs.DiscreteArray(3)


_COUNTER = _Counter()


@pytest.fixture(params=["cartpole", "counter"])
def env(request, make_env):
    if request.param == "cartpole":
        return make_env("CartPole-v1", max_episode_steps=12)  # truncations and terminations
    return _COUNTER


def _assert_equal(actual, expected, path="info"):
    """Recursive exact equality of gymnasium step data (dicts, object arrays, arrays)."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), path
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_equal(a, e, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), (path, actual)
        assert actual.keys() == expected.keys(), (path, actual)
        for k in expected:
            _assert_equal(actual[k], expected[k], f"{path}[{k!r}]")
    elif isinstance(expected, np.ndarray) and expected.dtype == object:
        assert actual.dtype == object, path
        assert actual.shape == expected.shape, path
        for i, (a, e) in enumerate(zip(actual, expected)):
            if e is None:
                assert a is None, f"{path}[{i}]"
            else:
                _assert_equal(a, e, f"{path}[{i}]")
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=path)


@pytest.mark.parametrize("num_envs", [NUM_ENVS, 40])
@pytest.mark.parametrize("mode", sorted(_MODES))
def test_matches_sync_vector_env_of_single_adapters(env, mode, num_envs):
    """N = 40 also runs the sparse reset (at most ceil(40 / 16) = 3 rows) and its fall-back."""
    batched = to_gymnasium_vector(env, num_envs, autoreset_mode=mode)
    reference = SyncVectorEnv(
        [lambda: to_gymnasium(env) for _ in range(num_envs)], autoreset_mode=_MODES[mode]
    )
    assert batched.metadata["autoreset_mode"] is _MODES[mode]
    obs, info = batched.reset(seed=11)
    ref_obs, ref_info = reference.reset(seed=11)
    _assert_equal(obs, ref_obs, "obs")
    _assert_equal(info, ref_info)
    batched.action_space.seed(0)
    ended = {"terminated": 0, "truncated": 0}
    per_step = []
    for _ in range(40):
        actions = batched.action_space.sample()
        out = batched.step(actions)
        ref = reference.step(actions)
        for name, a, e in zip(["obs", "reward", "terminated", "truncated", "info"], out, ref):
            _assert_equal(a, e, name)
        assert out[1].dtype == np.float32
        assert out[2].dtype == out[3].dtype == np.bool_
        assert batched.observation_space.contains(out[0])
        ended["terminated"] += int(out[2].sum())
        ended["truncated"] += int(out[3].sum())
        per_step.append(int((out[2] | out[3]).sum()))
    assert ended["terminated"] > 0  # the comparison covered episode ends
    if num_envs == 40:  # the reset-all fall-back (> 3 ended) ran, and for CartPole the sparse one
        assert any(c > 3 for c in per_step), per_step
        if env is not _COUNTER:
            assert any(0 < c <= 3 for c in per_step), per_step
    if env is not _COUNTER:
        assert ended["truncated"] > 0


@pytest.mark.parametrize("mode", sorted(_MODES))
def test_wrapper_state_spans_episodes_like_sync_vector_env(make_env, mode):
    """NormalizeObservation's statistics outlive every reset, batched as in SyncVectorEnv.

    Both start later episodes with ``jit_env.reset_after``; the normalised
    observations agree to float32 rounding (the vmapped and the single programs
    fuse the statistics update differently), everything else exactly.
    """
    base = make_env("CartPole-v1", max_episode_steps=12)
    env = W.EpisodeStatistics(W.NormalizeObservation(base))
    num_envs = 3
    batched = to_gymnasium_vector(env, num_envs, autoreset_mode=mode)
    reference = SyncVectorEnv(
        [lambda: to_gymnasium(env) for _ in range(num_envs)], autoreset_mode=_MODES[mode]
    )
    obs, _ = batched.reset(seed=5)
    ref_obs, _ = reference.reset(seed=5)
    np.testing.assert_allclose(obs, ref_obs, rtol=1e-5, atol=1e-6)
    batched.action_space.seed(1)
    resets = 0
    for _ in range(60):
        actions = batched.action_space.sample()
        obs, reward, term, trunc, info = batched.step(actions)
        ref_obs, ref_reward, ref_term, ref_trunc, ref_info = reference.step(actions)
        np.testing.assert_allclose(obs, ref_obs, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(reward, ref_reward)
        np.testing.assert_array_equal(term, ref_term)
        np.testing.assert_array_equal(trunc, ref_trunc)
        np.testing.assert_array_equal(info["episode_return"], ref_info["episode_return"])
        resets += int((term | trunc).sum())
    assert resets >= 2 * num_envs
    # one statistics update per observation: the first, then one per step, plus the
    # first observation of every episode a same-step reset starts
    stats = batched._carry[0].inner.stats
    extra = resets if mode == "same_step" else 0
    total = float(np.sum(np.asarray(stats.count)))
    assert total == pytest.approx(num_envs * (1e-4 + 1 + 60) + extra, rel=1e-6)
    obs, _ = batched.reset(seed=5)  # a reset by the user keeps the statistics too
    assert float(np.sum(np.asarray(batched._carry[0].inner.stats.count))) > total


def test_spaces_shapes_and_dtypes(make_env):
    n = NUM_ENVS
    batched = to_gymnasium_vector(make_env("CartPole-v1", max_episode_steps=12), n)
    assert batched.num_envs == n
    assert batched.single_action_space == gym.spaces.Discrete(2, dtype=np.int32)
    assert batched.action_space == gym.spaces.MultiDiscrete([2] * n, dtype=np.int32)
    assert batched.observation_space.shape == (n, 4)
    obs, _ = batched.reset(seed=0)
    assert obs.shape == (n, 4)
    assert obs.dtype == np.float32
    obs, reward, terminated, truncated, info = batched.step(np.ones(n, np.int64))
    assert (obs.shape, reward.shape, terminated.shape, truncated.shape) == ((n, 4), (n,), (n,), (n,))
    assert info == {}
    obs[0, 0] = 123.0  # outputs are writable, fresh NumPy arrays


def test_device_mode_keeps_jax_arrays_and_matches_numpy_mode(make_env):
    env = make_env("CartPole-v1", max_episode_steps=12)
    on_host = to_gymnasium_vector(env, NUM_ENVS, autoreset_mode="same_step")
    device = jax.devices()[0]
    on_device = to_gymnasium_vector(
        env, NUM_ENVS, autoreset_mode="same_step", to_numpy=False, device=device
    )
    assert on_device.metadata["jax"]
    assert not on_host.metadata["jax"]
    host_obs, _ = on_host.reset(seed=3)
    device_obs, _ = on_device.reset(seed=3)
    assert isinstance(device_obs, jax.Array)
    assert device_obs.devices() == {device}
    np.testing.assert_array_equal(device_obs, host_obs)
    rng = np.random.default_rng(1)
    for _ in range(20):
        actions = rng.integers(2, size=NUM_ENVS).astype(np.int32)
        host = on_host.step(actions)
        device = on_device.step(jnp.asarray(actions))
        for a, e in zip(device[:4], host[:4]):
            assert isinstance(a, jax.Array)
            np.testing.assert_array_equal(a, e)
        done = np.asarray(device[4]["_final_obs"])
        np.testing.assert_array_equal(done, host[2] | host[3])
        for i in np.flatnonzero(done):  # the batched final obs equals gymnasium's per-env one
            np.testing.assert_array_equal(device[4]["final_obs"][i], host[4]["final_obs"][i])


@pytest.mark.parametrize("mode", sorted(_MODES))
def test_record_episode_statistics_on_top(make_env, mode):
    env = make_env("CartPole-v1", max_episode_steps=12)
    batched = RecordEpisodeStatistics(to_gymnasium_vector(env, NUM_ENVS, autoreset_mode=mode))
    reference = RecordEpisodeStatistics(
        SyncVectorEnv([lambda: to_gymnasium(env) for _ in range(NUM_ENVS)],
                      autoreset_mode=_MODES[mode])
    )
    batched.reset(seed=5)
    reference.reset(seed=5)
    rng = np.random.default_rng(2)
    episodes = 0
    for _ in range(30):
        actions = rng.integers(2, size=NUM_ENVS).astype(np.int32)
        info = batched.step(actions)[4]
        ref_info = reference.step(actions)[4]
        assert ("episode" in info) == ("episode" in ref_info)
        if "episode" in info:
            episodes += 1
            for k in ("r", "l", "_r"):
                key = k if k != "_r" else None
                if key:
                    np.testing.assert_array_equal(info["episode"][k], ref_info["episode"][k])
            np.testing.assert_array_equal(info["_episode"], ref_info["_episode"])
    assert episodes > 0
    assert list(batched.return_queue) == list(reference.return_queue)
    assert list(batched.length_queue) == list(reference.length_queue)


def test_partial_reset_with_reset_mask():
    env = _COUNTER
    batched = to_gymnasium_vector(env, NUM_ENVS)
    reference = SyncVectorEnv([lambda: to_gymnasium(env) for _ in range(NUM_ENVS)])
    batched.reset(seed=0)
    reference.reset(seed=0)
    actions = np.zeros(NUM_ENVS, np.int32)
    batched.step(actions)
    reference.step(actions)
    mask = np.array([True, False, True])
    obs, info = batched.reset(seed=[7, None, 9], options={"reset_mask": mask})
    ref_obs, ref_info = reference.reset(seed=[7, None, 9], options={"reset_mask": mask.copy()})
    _assert_equal(obs, ref_obs, "obs")
    _assert_equal(info, ref_info)
    _assert_equal(batched.step(actions), reference.step(actions), "step")


def test_disabled_mode_never_resets():
    batched = to_gymnasium_vector(_COUNTER, NUM_ENVS, autoreset_mode="disabled")
    batched.reset(seed=0)
    for _ in range(3):  # +2 per step: every counter reaches 4 (terminates) within 2 steps
        obs, _, terminated, _, _ = batched.step(np.full(NUM_ENVS, 2, np.int32))
    # Stepping on without a reset keeps counting: no auto-reset happened.
    np.testing.assert_array_less(5.0, obs["count"][:, 0])
    assert terminated.all()
    obs, _ = batched.reset(options={"reset_mask": np.array([True, False, True])})
    np.testing.assert_array_less(obs["count"][[0, 2], 0], 2.0)  # fresh counters start at 0/1
    assert obs["count"][1, 0] > 5.0


def test_one_trace_for_the_whole_run():
    traces = []

    class Traced(_Counter):
        def step(self, state, action):
            traces.append(1)  # runs at trace time only
            return super().step(state, action)

    batched = to_gymnasium_vector(Traced(), NUM_ENVS, autoreset_mode="same_step")
    batched.reset(seed=0)
    for _ in range(15):
        batched.step(np.full(NUM_ENVS, 2, np.int32))
    assert len(traces) == 1


def test_bad_arguments_raise(make_env):
    env = make_env("CartPole-v1", max_episode_steps=12)
    with pytest.raises(ValueError, match="`num_envs`"):
        to_gymnasium_vector(env, 0)
    with pytest.raises(TypeError, match="`num_envs`"):
        to_gymnasium_vector(env, 2.0)
    with pytest.raises(ValueError, match="`autoreset_mode`"):
        to_gymnasium_vector(env, 2, autoreset_mode="sometimes")
    batched = to_gymnasium_vector(env, 2)
    with pytest.raises(gym.error.ResetNeeded):
        batched.step(np.zeros(2, np.int32))
    batched.reset(seed=0)
    with pytest.raises(ValueError, match="`actions` has shape"):
        batched.step(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="`actions`"):
        batched.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="`seed`"):
        batched.reset(seed=[1, 2, 3])
