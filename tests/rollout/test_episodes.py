"""Tests of jit_env.rollout.episodes: whole episodes against a Python loop of single steps.

Also the Trajectory operations on a batch of episodes that rlx's ``Rollout`` offers
(dasayan05/rlx ``rlx/rollout.py``): Monte-Carlo returns against a NumPy loop,
``evaluate`` with the recurrent state rebuilt or reused, shuffle, slicing,
concatenation, and batching by ``jax.vmap``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
import jit_env.rollout as rl
from jit_env import specs

HORIZON = 10  # every walk ends by t = 7, so HORIZON pads; horizon 3 cuts some


class _WalkState(NamedTuple):
    key: jax.Array  # read by auto-reset wrappers only
    pos: jax.Array
    t: jax.Array


class _Walk(jit_env.Environment):
    """A 1-D walk: action 0/1 moves -1/+1; terminates at |pos| = 3, truncates at t = 7."""

    def reset(self, key, *, options=None):
        del options  # no reset options
        pos = jax.random.randint(key, (), -1, 2).astype(jnp.float32)
        return _WalkState(key, pos, jnp.int32(0)), jit_env.restart(pos[None], extras={})

    def step(self, state, action):
        pos = state.pos + 2.0 * action.astype(jnp.float32) - 1.0
        t = state.t + 1
        term = jnp.abs(pos) >= 3
        done = term | (t >= 7)
        ts = jit_env.TimeStep(
            step_type=jnp.where(done, jit_env.StepType.LAST, jit_env.StepType.MID).astype(jnp.int8),
            reward=-jnp.abs(pos),
            discount=jnp.where(term, 0.0, 1.0).astype(jnp.float32),
            observation=pos[None],
            extras={},
        )
        return _WalkState(state.key, pos, t), ts

    def reward_spec(self):
        return specs.Array((), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0)

    def observation_spec(self):
        return specs.Array((1,), jnp.float32)

    def action_spec(self):
        return specs.DiscreteArray(2)


def _logits(params, obs):
    x = params * obs[..., :1]
    return jnp.concatenate([x, -x], axis=-1)


def _policy(params, ts, pstate, key):
    """Feed-forward, any batch shape: one categorical sample per row from one key."""
    logits = _logits(params, ts.observation)
    action = jax.random.categorical(key, logits)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], -1)[..., 0]
    return action.astype(jnp.int32), pstate, {"log_prob": logp}


def _stack(items):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *items)


def _loop_episodes(env, policy, params, key, horizon, n):
    """The documented keys, one `env.step` per live episode in Python; frozen after LAST."""
    reset_key, scan_key = jax.random.split(key)
    step_keys = jax.random.split(scan_key, horizon)
    pairs = [env.reset(k) for k in jax.random.split(reset_key, n)]
    states, tss = [p[0] for p in pairs], [p[1] for p in pairs]
    all_ts, actions, extras, all_states = [_stack(tss)], [], [], [_stack(states)]
    lengths = [0] * n
    for t in range(horizon):
        action, _, ex = policy(params, _stack(tss), None, step_keys[t])
        live = np.array([not bool(ts.last()) for ts in tss])
        for b in range(n):
            if live[b]:
                states[b], tss[b] = env.step(states[b], action[b])
                lengths[b] += 1
        actions.append(np.where(live, np.asarray(action), 0))
        extras.append({"log_prob": np.where(live, np.asarray(ex["log_prob"]), 0.0)})
        all_ts.append(_stack(tss))
        all_states.append(_stack(states))
    return (_stack(all_ts), np.stack(actions), _stack(extras), _stack(all_states),
            np.array(lengths))


def _assert_tree_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_episodes_equal_a_python_loop_of_single_steps_padded_with_a_mask():
    env, key, n = _Walk(), jax.random.PRNGKey(3), 5
    traj = rl.episodes(env, _policy, jnp.float32(0.7), key, HORIZON, num_episodes=n,
                       return_states=True)
    ts, actions, extras, states, lengths = _loop_episodes(env, _policy, jnp.float32(0.7), key,
                                                          HORIZON, n)
    _assert_tree_equal(traj.timesteps, ts)
    np.testing.assert_array_equal(traj.actions, actions)
    # the same float32 ops on the same inputs, in a scan vs eagerly
    np.testing.assert_allclose(traj.extras["log_prob"], extras["log_prob"], rtol=1e-6)
    _assert_tree_equal(traj.env_states, states)
    assert (traj.num_steps, traj.batch_shape) == (HORIZON, (n,))
    assert traj.policy_states is None  # feed-forward
    tr = traj.transitions()
    mask = np.arange(HORIZON)[:, None] < lengths[None, :]
    np.testing.assert_array_equal(tr.valid, mask)
    assert lengths.min() > 0  # every episode ended, and was padded:
    assert lengths.max() <= 7 < HORIZON
    # exactly one end per episode, at its last valid transition
    np.testing.assert_array_equal(tr.end_t.sum(0), np.ones(n))
    np.testing.assert_array_equal(tr.end_t[lengths - 1, np.arange(n)], np.ones(n, bool))
    # padding TimeSteps repeat the LAST one
    for b in range(n):
        for t in range(lengths[b], HORIZON + 1):
            assert int(traj.timesteps.step_type[t, b]) == int(jit_env.StepType.LAST)
            assert float(traj.timesteps.observation[t, b, 0]) == float(
                traj.timesteps.observation[lengths[b], b, 0])
    # undiscounted returns over the mask equal the loop's sums
    loop_returns = [float(np.sum(ts.reward[1 : lengths[b] + 1, b])) for b in range(n)]
    np.testing.assert_allclose((tr.r_t * tr.valid).sum(0), loop_returns, rtol=1e-6)
    np.testing.assert_allclose(traj.episode_returns(), loop_returns, rtol=1e-6)


def test_horizon_cuts_episodes_without_last():
    traj = rl.episodes(_Walk(), _policy, jnp.float32(0.0), jax.random.PRNGKey(0), 3,
                       num_episodes=8)
    tr = traj.transitions()
    # |pos| <= 1 at reset, so no episode can end within 2 steps; the walk needs >= 2 to end
    assert bool(tr.valid[:2].all())
    cut = ~np.asarray(tr.end_t).any(0)
    assert cut.any()
    np.testing.assert_array_equal(np.asarray(tr.valid)[:, cut], True)


def test_single_episode_and_vmap_over_keys_equal_the_batched_columns():
    env = _Walk()
    keys = jax.random.split(jax.random.PRNGKey(5), 4)
    single = lambda k: rl.episodes(env, _policy, jnp.float32(0.5), k, HORIZON)
    one = single(keys[0])
    assert (one.batch_shape, one.num_steps) == ((), HORIZON)
    batch = jax.jit(jax.vmap(single, out_axes=1))(keys)  # time-major [T + 1, N]
    assert batch.batch_shape == (4,)
    for b in range(4):
        _assert_tree_equal(batch[:, b], single(keys[b]))
    # per-episode loop of one episode: the documented keys with num_episodes=None
    reset_key, scan_key = jax.random.split(keys[1])
    state, ts = env.reset(reset_key)
    rewards = []
    for k in jax.random.split(scan_key, HORIZON):
        if bool(ts.last()):
            break
        action, _, _ = _policy(jnp.float32(0.5), ts, None, k)
        state, ts = env.step(state, action)
        rewards.append(float(ts.reward))
    tr = batch[:, 1].transitions()
    assert int(tr.valid.sum()) == len(rewards)
    np.testing.assert_allclose(np.asarray(tr.r_t)[: len(rewards)], rewards, rtol=1e-6)


def test_eager_jit_vmap_agree(variant_fn):
    env = _Walk()
    fn = lambda key: rl.episodes(env, _policy, jnp.float32(0.7), key, HORIZON, num_episodes=3)
    expected = fn(jax.random.PRNGKey(2))
    _assert_tree_equal(variant_fn(fn)(jax.random.PRNGKey(2)), expected)


def _np_mc_returns(r, disc, valid, gamma, boot=None):
    """rlx ``Rollout.mc_returns``: G = r_t + gamma G_{t+1} over each episode (0 after it),
    optionally bootstrapping a truncated / cut end from ``boot`` (times discount_t)."""
    t_max, n = r.shape
    out = np.zeros_like(r)
    for b in range(n):
        length = int(valid[:, b].sum())
        g = 0.0 if boot is None or disc[length - 1, b] == 0 else boot[length - 1, b]
        for t in reversed(range(length)):
            g = r[t, b] + gamma * (disc[t, b] * g if t == length - 1 else g)
            out[t, b] = g
    return out


def test_discounted_returns_are_rlx_mc_returns():
    traj = rl.episodes(_Walk(), _policy, jnp.float32(-0.5), jax.random.PRNGKey(0), 5,
                       num_episodes=6)
    tr = jax.tree.map(np.asarray, traj.transitions())
    assert (~tr.end_t.any(0)).any()  # episodes cut by the horizon
    assert tr.end_t.any(0).any()  # and ended ones
    assert (tr.discount_t[tr.end_t] == 0).any()  # a termination among them
    got = traj.discounted_returns(0.9)
    # float32 recursion of <= 6 terms, same order of operations
    np.testing.assert_allclose(got, _np_mc_returns(tr.r_t, tr.discount_t, tr.valid, 0.9),
                               rtol=1e-6, atol=1e-6)
    boot = np.full(tr.r_t.shape, 2.0, np.float32)
    got = traj.discounted_returns(0.9, jnp.asarray(boot))
    np.testing.assert_allclose(got, _np_mc_returns(tr.r_t, tr.discount_t, tr.valid, 0.9, boot),
                               rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------ recurrent policy --
def _rnn(params, ts, h):
    obs = ts.observation
    h = jnp.tanh(params["w"] * h[..., ::-1] + params["u"] * jnp.concatenate([obs, -0.5 * obs], -1))
    logits = params["v"] * (h - h[..., ::-1])
    return h, logits


def _rnn_policy(params, ts, h, key):
    h, logits = _rnn(params, ts, h)
    action = jax.random.categorical(key, logits)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], -1)[..., 0]
    return action.astype(jnp.int32), h, {"log_prob": logp}


def _rnn_evaluate(params, ts, h, action):
    h, logits = _rnn(params, ts, h)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], -1)[..., 0]
    return h, {"log_prob": logp}


def _np_log_prob(params, obs, h, action):
    h = np.tanh(params["w"] * h[::-1] + params["u"] * np.concatenate([obs, -0.5 * obs]))
    logits = params["v"] * (h - h[::-1])
    logits = logits - logits.max()
    return h, logits[action] - np.log(np.exp(logits).sum())


def test_evaluate_rebuilds_or_reuses_the_recurrent_state():
    old = {"w": np.float32(0.9), "u": np.float32(0.8), "v": np.float32(1.5)}
    new = {"w": np.float32(-0.5), "u": np.float32(0.3), "v": np.float32(2.0)}
    n = 4
    traj = rl.episodes(_Walk(), _rnn_policy, jax.tree.map(jnp.asarray, old),
                       jax.random.PRNGKey(1), HORIZON, num_episodes=n,
                       policy_state=jnp.zeros((n, 2)), return_states=True)
    assert jax.tree.leaves(traj.policy_states)[0].shape == (HORIZON, n, 2)
    valid = np.asarray(traj.transitions().valid)
    obs = np.asarray(traj.timesteps.observation)
    acts = np.asarray(traj.actions)
    stored_h = np.asarray(traj.policy_states)

    def np_rebuild(params):
        out = np.zeros((HORIZON, n), np.float32)
        for b in range(n):
            h = np.zeros(2, np.float32)
            for t in range(int(valid[:, b].sum())):
                np.testing.assert_allclose(stored_h[t, b], h if params is old else stored_h[t, b],
                                           rtol=1e-5, atol=1e-6)
                h, out[t, b] = _np_log_prob(params, obs[t, b], h, acts[t, b])
        return out

    def np_reuse(params):
        out = np.zeros((HORIZON, n), np.float32)
        for b in range(n):
            for t in range(int(valid[:, b].sum())):
                out[t, b] = _np_log_prob(params, obs[t, b], stored_h[t, b], acts[t, b])[1]
        return out

    # Under the acting parameters both reproduce the stored log-probabilities; float32
    # JAX vs float64-promoting NumPy over <= 7 tanh steps.
    tol = {"rtol": 1e-5, "atol": 1e-5}
    for recurrence in ("rebuild", "reuse"):
        out = traj.evaluate(_rnn_evaluate, old, recurrence=recurrence)["log_prob"]
        np.testing.assert_allclose(np.where(valid, out, 0), traj.extras["log_prob"], **tol)
    np.testing.assert_allclose(traj.extras["log_prob"], np_rebuild(old), **tol)
    rebuilt = np.where(valid, traj.evaluate(_rnn_evaluate, new)["log_prob"], 0)
    reused = np.where(valid, traj.evaluate(_rnn_evaluate, new, recurrence="reuse")["log_prob"], 0)
    np.testing.assert_allclose(rebuilt, np_rebuild(new), **tol)
    np.testing.assert_allclose(reused, np_reuse(new), **tol)
    assert np.abs(rebuilt - reused).max() > 1e-2  # the two modes differ under new params


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_shuffle_slice_and_concatenate_episodes():
    env, n = _Walk(), 6
    full = rl.episodes(env, _rnn_policy, {"w": 0.5, "u": 1.0, "v": 1.0}, jax.random.PRNGKey(4),
                       HORIZON, num_episodes=n + 2, policy_state=jnp.zeros((n + 2, 2)),
                       return_states=True)
    traj, other = full[:, :n], full[:, n:]
    # tag each episode with its index, to follow it through the shuffle
    tagged = dataclasses.replace(traj, extras=traj.extras | {
        "id": jnp.broadcast_to(jnp.arange(n), (HORIZON, n))})
    host = lambda t: jax.tree.map(np.asarray, t)  # index on the host: cheap eagerly
    rows = [host(tagged)[:, b] for b in range(n)]
    for key in (0, 1):
        shuffled = host(tagged.shuffle(jax.random.PRNGKey(key)))
        order = [int(i) for i in shuffled.extras["id"][0]]
        assert sorted(order) == list(range(n))
        assert order != list(range(n))
        for b in range(n):  # each shuffled row is one whole original row, states included
            _assert_tree_equal(shuffled[:, b], rows[order[b]])
    # slicing: time then batch, with states and the per-step recurrent state
    part = traj[2:5, 1:3]
    assert (part.num_steps, part.batch_shape) == (3, (2,))
    np.testing.assert_array_equal(part.timesteps.observation, traj.timesteps.observation[2:6, 1:3])
    np.testing.assert_array_equal(part.actions, traj.actions[2:5, 1:3])
    np.testing.assert_array_equal(part.env_states.pos, traj.env_states.pos[2:6, 1:3])
    np.testing.assert_array_equal(part.policy_state, traj.policy_states[2, 1:3])
    picked = traj[:, jnp.array([4, 0])]
    np.testing.assert_array_equal(picked.actions, np.asarray(traj.actions)[:, [4, 0]])
    np.testing.assert_array_equal(picked.policy_state, np.asarray(traj.policy_state)[[4, 0]])
    # concatenation of two batches of episodes, and returns computed per row
    joined = rl.concatenate([traj, other], axis="batch")
    assert joined.batch_shape == (n + 2,)
    _assert_tree_equal(joined, full)
    np.testing.assert_array_equal(
        joined.discounted_returns(0.9),
        np.concatenate([traj.discounted_returns(0.9), other.discounted_returns(0.9)], axis=1))
    with pytest.raises(ValueError, match="env_states"):
        rl.concatenate([traj, dataclasses.replace(other, env_states=None)], axis="batch")


def test_stored_cartpole_states_render_without_simulating_again():
    env = jit_env.make("CartPole-v1")
    policy = lambda _, ts, s, k: (jax.random.bernoulli(k, 0.5, ts.step_type.shape).astype(
        jnp.int32), s, {})
    traj = rl.episodes(env, policy, None, jax.random.PRNGKey(0), 40, num_episodes=2,
                       return_states=True)
    t = 5
    state = jax.tree.map(lambda x: x[t, 1], traj.env_states)
    # the state reproduces the stored observation and draws a picture
    np.testing.assert_allclose(
        np.asarray(traj.timesteps.observation[t, 1]),
        np.asarray([state.inner.x, state.inner.x_dot, state.inner.theta, state.inner.theta_dot]),
        rtol=1e-6)
    assert int(state.elapsed) == t
    image = np.asarray(env.render(state))
    assert image.shape[2:] == (3,)
    assert image.std() > 0


def test_bad_input_is_a_clear_error():
    env = _Walk()
    key = jax.random.PRNGKey(0)
    for horizon in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="`horizon` must be a positive int"):
            rl.episodes(env, _policy, 0.0, key, horizon)
    with pytest.raises(ValueError, match="`num_episodes` must be a positive int, got 0"):
        rl.episodes(env, _policy, 0.0, key, 5, num_episodes=0)
    with pytest.raises(ValueError, match=r"AutoReset\(mode='same_step'\)"):
        rl.episodes(jit_env.wrappers.AutoReset(env), _policy, 0.0, key, 5)
    with pytest.raises(ValueError, match="VmapAutoReset"):
        rl.episodes(jit_env.wrappers.VmapAutoReset(env, 2), _policy, 0.0, key, 5)
    with pytest.raises(ValueError, match="unbatched"):
        rl.episodes(_Batched(env), _policy, 0.0, key, 5)
    # next_step auto-reset is fine: its reset step is never reached
    traj = rl.episodes(jit_env.wrappers.AutoReset(env, mode="next_step"), _policy, 0.0, key, 9)
    assert bool(traj.transitions().end_t.any())
    one = rl.episodes(env, _policy, 0.0, key, 5)
    with pytest.raises(ValueError, match="no batch axis"):
        one[:, 0]
    with pytest.raises(ValueError, match="shuffle needs a batch"):
        one.shuffle(key)
    with pytest.raises(TypeError, match="contiguous time slice"):
        one[1]
    with pytest.raises(ValueError, match="`recurrence` must be 'rebuild' or 'reuse'"):
        one.evaluate(_rnn_evaluate, 0.0, recurrence="fresh")
    rec = rl.episodes(env, _rnn_policy, {"w": 0.5, "u": 1.0, "v": 1.0}, key, 5,
                      num_episodes=2, policy_state=jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="return_states=True"):
        rec.evaluate(_rnn_evaluate, {"w": 0.5, "u": 1.0, "v": 1.0}, recurrence="reuse")


class _Batched(jit_env.Wrapper):
    """Two copies of the walk behind one reset key (a batched environment)."""

    def reset(self, key, *, options=None):
        del options  # none
        return jax.vmap(lambda k: self.env.reset(k))(jax.random.split(key, 2))

    def step(self, state, action):
        return jax.vmap(self.env.step)(state, action)
