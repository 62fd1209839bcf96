"""Tests of the bsuite environments against hand-worked episodes and NumPy re-implementations.

The NumPy loops below are written from bsuite 0.3.5's environment sources
(``bsuite/environments/*.py``), independently of the JAX code under test.
Every environment runs eagerly, under ``jax.jit`` and under ``jax.vmap`` (the
``variant_fn`` fixture of ``tests/conftest.py``, whose jitted forms are shared
by every test, so `play` can assert each step traced once over all episodes).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import StepType
from jit_env.envs.bsuite import (
    Catch,
    DeepSea,
    DeepSeaParams,
    DiscountingChain,
    DiscountingChainParams,
    MemoryChain,
    MemoryChainParams,
    SimpleBandit,
    SimpleBanditParams,
    UmbrellaChain,
    UmbrellaChainParams,
)

# float32 observations such as 1 - t / L are computed in float32 here and in
# float64 by bsuite's NumPy; they agree to a few ulp.
RTOL = 1e-6

ENV_CLASSES = {
    "Catch-bsuite": Catch,
    "DeepSea-bsuite": DeepSea,
    "MemoryChain-bsuite": MemoryChain,
    "UmbrellaChain-bsuite": UmbrellaChain,
    "DiscountingChain-bsuite": DiscountingChain,
    "SimpleBandit-bsuite": SimpleBandit,
}
ENVS = {env_id: cls() for env_id, cls in ENV_CLASSES.items()}  # shared: jitted once
DEEP_SEA_6 = DeepSea(size=6)
MEMORY_CHAIN_4 = MemoryChain(num_bits=4)


def play(variant_fn, env, state, actions):
    """Steps ``env`` from ``state`` with ``actions`` under ``variant_fn``; returns the TimeSteps."""
    step = variant_fn(env.step)
    timesteps = []
    for a in actions:
        state, ts = step(state, jnp.asarray(a, jnp.int32))
        timesteps.append(ts)
    if getattr(variant_fn, "kind", None) == "jit":  # `play(lambda f: f, ...)` runs eagerly
        assert variant_fn.traces(env.step) == 1, "the jitted step retraced"
    return state, timesteps


def reset(variant_fn, env, key, options=None):
    """Resets under ``variant_fn``; checks the FIRST TimeStep (reward 0, discount 1)."""
    state, ts = variant_fn(env.reset)(key, options=options)
    assert int(ts.step_type) == StepType.FIRST
    assert ts.reward.dtype == jnp.float32
    assert float(ts.reward) == 0.0
    assert ts.discount.dtype == jnp.float32
    assert float(ts.discount) == 1.0
    return state, ts


def as_np(timesteps):
    """Stacks a list of TimeSteps into NumPy arrays (rewards, discounts, step types, obs)."""
    return (
        np.array([np.asarray(t.reward) for t in timesteps]),
        np.array([np.asarray(t.discount) for t in timesteps]),
        np.array([np.asarray(t.step_type) for t in timesteps]),
        np.array([np.asarray(t.observation) for t in timesteps]),
    )


def expected_step_types(n):
    return np.array([StepType.MID] * (n - 1) + [StepType.LAST], np.int8)


# --------------------------------------------------------------------- Catch


def np_catch(ball_x, actions, rows=10, columns=5):
    """bsuite's Catch._step in NumPy: boards, rewards, terminations."""
    paddle_x = columns // 2
    boards, rewards, dones = [], [], []
    for ball_y, a in enumerate(actions, start=1):  # the ball falls one row a step
        paddle_x = int(np.clip(paddle_x + (-1, 0, 1)[a], 0, columns - 1))
        board = np.zeros((rows, columns), np.float32)
        board[ball_y, ball_x] = 1.0
        board[rows - 1, paddle_x] = 1.0
        boards.append(board)
        done = ball_y == rows - 1
        rewards.append((1.0 if paddle_x == ball_x else -1.0) if done else 0.0)
        dones.append(done)
        if done:
            break
    return np.array(boards), np.array(rewards, np.float32), np.array(dones)


@pytest.mark.parametrize(
    ("ball_x", "actions", "final_reward"),
    [
        (0, [0, 0, 1, 1, 1, 1, 1, 1, 1], 1.0),  # paddle 2 -> 1 -> 0, waits under the ball
        (0, [2] * 9, -1.0),  # paddle runs right, away from the ball
        (4, [2, 2, 2, 2, 0, 1, 1, 2, 1], 1.0),  # reaches 4, steps back, returns in time
        (2, [1] * 9, 1.0),  # ball falls straight onto the centred paddle
        (3, [0] * 9, -1.0),
    ],
)
def test_catch_hand_worked_episodes(variant_fn, ball_x, actions, final_reward):
    env = ENVS["Catch-bsuite"]
    state, first = reset(variant_fn, env, jax.random.key(0))
    state = state._replace(ball_x=jnp.int32(ball_x))
    _, timesteps = play(variant_fn, env, state, actions)
    rewards, discounts, step_types, obs = as_np(timesteps)
    boards, np_rewards, _ = np_catch(ball_x, actions)
    np.testing.assert_array_equal(step_types, expected_step_types(9))
    np.testing.assert_array_equal(rewards, np_rewards)
    assert rewards[-1] == final_reward
    assert np.all(rewards[:-1] == 0)
    np.testing.assert_array_equal(discounts, [1.0] * 8 + [0.0])
    np.testing.assert_array_equal(obs, boards)
    assert rewards.dtype == np.float32
    assert discounts.dtype == np.float32


def test_catch_reset_distribution():
    env = ENVS["Catch-bsuite"]
    states, ts = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(1), 200))
    ball_x = np.asarray(states.ball_x)
    assert set(ball_x.tolist()) == {0, 1, 2, 3, 4}  # uniform over 5 columns: 200 draws hit all
    assert np.all(np.asarray(states.paddle_x) == 2)
    assert np.all(np.asarray(states.ball_y) == 0)
    obs = np.asarray(ts.observation)
    np.testing.assert_array_equal(obs[np.arange(200), 0, ball_x], 1.0)
    np.testing.assert_array_equal(obs[:, 9, 2], 1.0)
    np.testing.assert_array_equal(obs.sum(axis=(1, 2)), 2.0)
    assert np.all(np.asarray(ts.step_type) == StepType.FIRST)


def test_catch_other_board_size():
    env = Catch(rows=4, columns=3)
    state, _ = env.reset(jax.random.key(0))
    state = state._replace(ball_x=jnp.int32(0))
    _, timesteps = play(lambda f: f, env, state, [0, 1, 1])
    rewards, _, step_types, obs = as_np(timesteps)
    np.testing.assert_array_equal(obs, np_catch(0, [0, 1, 1], rows=4, columns=3)[0])
    np.testing.assert_array_equal(rewards, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(step_types, expected_step_types(3))


# ------------------------------------------------------------------- DeepSea


def np_deep_sea(mapping, actions, size, move_cost=0.01):
    """bsuite's deterministic DeepSea._step in NumPy."""
    column = 0
    rewards, observations, bad = [], [], False
    for row, a in enumerate(actions):  # one row down a step
        reward = 0.0
        right = a == mapping[row, column]
        if column == size - 1 and right:
            reward += 1.0
        if right:
            column = min(column + 1, size - 1)
            reward -= move_cost / size
        else:
            bad = bad or row == column
            column = max(column - 1, 0)
        obs = np.zeros((size, size), np.float32)
        if row + 1 < size:
            obs[row + 1, column] = 1.0
        rewards.append(reward)
        observations.append(obs)
    return np.array(rewards, np.float32), np.array(observations), bad


def test_deep_sea_all_right_earns_the_treasure(variant_fn):
    env = ENVS["DeepSea-bsuite"]
    options = DeepSeaParams(randomize_actions=False)
    state, _ = reset(variant_fn, env, jax.random.key(0), options)
    state, timesteps = play(variant_fn, env, state, [1] * 8)
    rewards, discounts, step_types, obs = as_np(timesteps)
    np.testing.assert_allclose(rewards, [-0.01 / 8] * 7 + [1 - 0.01 / 8], rtol=RTOL)
    np.testing.assert_allclose(rewards.sum(), 0.99, rtol=1e-5)  # bsuite's optimal return
    np.testing.assert_array_equal(step_types, expected_step_types(8))
    np.testing.assert_array_equal(discounts, [1.0] * 7 + [0.0])
    for k in range(7):  # the diver walks down the diagonal
        assert obs[k, k + 1, k + 1] == 1.0
        assert obs[k].sum() == 1.0
    np.testing.assert_array_equal(obs[-1], 0.0)  # null observation at the end
    assert not bool(state.bad_episode)


def test_deep_sea_against_numpy_with_random_mapping(variant_fn):
    env = DEEP_SEA_6
    options = DeepSeaParams(unscaled_move_cost=0.3, mapping_seed=5)
    state, _ = reset(variant_fn, env, jax.random.key(3), options)
    mapping = np.asarray(state.action_mapping)
    assert 0 < mapping.sum() < 36  # a real Bernoulli(0.5) mapping, not all ones
    actions = np.random.default_rng(0).integers(0, 2, size=6)
    state, timesteps = play(variant_fn, env, state, actions)
    rewards, _, step_types, obs = as_np(timesteps)
    np_rewards, np_obs, bad = np_deep_sea(mapping, actions, 6, move_cost=0.3)
    np.testing.assert_allclose(rewards, np_rewards, rtol=RTOL)
    np.testing.assert_array_equal(obs, np_obs)
    np.testing.assert_array_equal(step_types, expected_step_types(6))
    assert bool(state.bad_episode) == bad


def test_deep_sea_optimal_policy_follows_the_mapping():
    env = DeepSea(size=5)
    state, _ = env.reset(jax.random.key(0))
    total = 0.0
    for _ in range(5):
        right = state.action_mapping[state.row, state.column]
        state, ts = env.step(state, right)
        total += float(ts.reward)
    np.testing.assert_allclose(total, 0.99, rtol=1e-5)


def test_deep_sea_mapping_is_fixed_per_seed():
    env = ENVS["DeepSea-bsuite"]
    a, _ = env.reset(jax.random.key(0))
    b, _ = env.reset(jax.random.key(1))
    c, _ = env.reset(jax.random.key(0), options=DeepSeaParams(mapping_seed=1))
    np.testing.assert_array_equal(a.action_mapping, b.action_mapping)  # same env, new episode
    assert np.any(np.asarray(a.action_mapping) != np.asarray(c.action_mapping))


def test_deep_sea_mapping_cells_are_fair_independent_coins():
    """The mapping (bits of threefry words) is Bernoulli(0.5) per cell: over 512 seeds x
    64 cells the mean is 0.5 within 4 sigma (sigma = 0.5 / sqrt(32768)), every cell's
    mean within 4.5 sigma of 0.5 (sigma = 0.5 / sqrt(512)), and neighbouring cells
    (bits of one word) are uncorrelated within 4 sigma."""
    env = ENVS["DeepSea-bsuite"]
    seeds = jnp.arange(512, dtype=jnp.int32)
    maps = jax.jit(jax.vmap(lambda s: env.reset(
        jax.random.key(0), options=DeepSeaParams(mapping_seed=s))[0].action_mapping))(seeds)
    maps = np.asarray(maps, np.float64).reshape(512, 64)
    assert set(np.unique(maps)) <= {0.0, 1.0}
    assert abs(maps.mean() - 0.5) < 4 * 0.5 / np.sqrt(maps.size)
    assert np.all(np.abs(maps.mean(axis=0) - 0.5) < 4.5 * 0.5 / np.sqrt(512))
    centred = maps - 0.5
    neighbours = (centred[:, :-1] * centred[:, 1:]).mean()  # E = 0, sd = 0.25 / sqrt(N)
    assert abs(neighbours) < 4 * 0.25 / np.sqrt(centred[:, 1:].size)


def test_deep_sea_stochastic_moves_fail_with_probability_one_over_n():
    env = DeepSea(size=8, deterministic=False)
    options = DeepSeaParams(randomize_actions=False)
    keys = jax.random.split(jax.random.key(0), 4000)
    states, _ = jax.jit(jax.vmap(lambda k: env.reset(k, options=options)))(keys)
    new, ts = jax.jit(jax.vmap(env.step))(states, jnp.ones(4000, jnp.int32))
    stayed = np.mean(np.asarray(new.column) == 0)
    # Binomial(4000, 1/8): std 0.0052; 5 std keeps this from flaking for a fixed seed.
    assert abs(stayed - 1 / 8) < 0.026
    # Row 0 is not a corner of the last row: no noise, only the move cost.
    np.testing.assert_allclose(np.asarray(ts.reward), -0.01 / 8, rtol=RTOL)
    assert np.all(np.asarray(jax.random.key_data(new.key)) != np.asarray(jax.random.key_data(states.key)))


def test_deep_sea_stochastic_corner_noise():
    env = DeepSea(size=3, deterministic=False)
    options = DeepSeaParams(randomize_actions=False)
    state, _ = env.reset(jax.random.key(0), options=options)
    state = state._replace(row=jnp.int32(2), column=jnp.int32(0))  # bottom-left corner
    keys = jax.random.split(jax.random.key(1), 2000)
    rewards = jax.jit(jax.vmap(lambda k: env.step(state._replace(key=k), jnp.int32(0))[1].reward))(keys)
    rewards = np.asarray(rewards)
    # N(0, 1) noise: mean within 5 std of the mean (0.11) and std near 1.
    assert abs(rewards.mean()) < 0.12
    assert 0.9 < rewards.std() < 1.1


# --------------------------------------------------------------- MemoryChain


def np_memory_chain(context, query, actions, memory_length):
    """bsuite's MemoryChain._step in NumPy (observation before the increment)."""
    num_bits = len(context)
    observations, rewards = [], []

    def observe(t):
        obs = np.zeros((1, num_bits + 2), np.float32)
        obs[0, 0] = 1 - t / memory_length
        if t == memory_length - 1:
            obs[0, 1] = query
        if t == 0:
            obs[0, 2:] = 2 * np.asarray(context) - 1
        return obs

    first = observe(0)
    for t, a in enumerate(actions):
        observations.append(observe(t))
        rewards.append(0.0 if t < memory_length else (1.0 if a == context[query] else -1.0))
    return first, np.array(observations), np.array(rewards, np.float32)


@pytest.mark.parametrize(("final_action", "final_reward"), [(1, 1.0), (0, -1.0)])
def test_memory_chain_hand_worked(variant_fn, final_action, final_reward):
    env = ENVS["MemoryChain-bsuite"]
    options = MemoryChainParams(memory_length=3)
    state, first = reset(variant_fn, env, jax.random.key(0), options)
    state = state._replace(context=jnp.array([1], jnp.int32), query=jnp.int32(0))
    _, timesteps = play(variant_fn, env, state, [0, 0, 0, final_action])
    rewards, discounts, step_types, obs = as_np(timesteps)
    np.testing.assert_array_equal(step_types, expected_step_types(4))  # memory_length + 1
    np.testing.assert_array_equal(rewards, [0.0, 0.0, 0.0, final_reward])
    np.testing.assert_array_equal(discounts, [1.0, 1.0, 1.0, 0.0])
    expected = [[1, 0, 1], [2 / 3, 0, 0], [1 / 3, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(obs[:, 0], np.array(expected, np.float32), rtol=RTOL)


def test_memory_chain_against_numpy_several_bits(variant_fn):
    env = MEMORY_CHAIN_4
    options = MemoryChainParams(memory_length=4)
    state, first = reset(variant_fn, env, jax.random.key(2), options)
    context, query = [1, 0, 0, 1], 2
    state = state._replace(context=jnp.array(context, jnp.int32), query=jnp.int32(query))
    actions = [1, 0, 1, 1, 0]
    _, timesteps = play(variant_fn, env, state, actions)
    rewards, _, step_types, obs = as_np(timesteps)
    np_first, np_obs, np_rewards = np_memory_chain(context, query, actions, 4)
    np.testing.assert_allclose(obs, np_obs, rtol=RTOL)
    np.testing.assert_array_equal(rewards, np_rewards)
    assert obs[3, 0, 1] == query  # the query is shown on step memory_length
    np.testing.assert_array_equal(step_types, expected_step_types(5))


def test_memory_chain_reset_observation_shows_context():
    env = MemoryChain(num_bits=3)
    state, ts = env.reset(jax.random.key(4))
    context = np.asarray(state.context)
    np.testing.assert_array_equal(np.asarray(ts.observation)[0, 2:], 2 * context - 1)
    assert np.asarray(ts.observation)[0, 0] == 1.0
    assert 0 <= int(state.query) < 3


# -------------------------------------------------------------- UmbrellaChain


@pytest.mark.parametrize(("need", "first_action", "final_reward"), [(1, 1, 1.0), (0, 1, -1.0), (0, 0, 1.0)])
def test_umbrella_chain_hand_worked(variant_fn, need, first_action, final_reward):
    env = ENVS["UmbrellaChain-bsuite"]
    options = UmbrellaChainParams(chain_length=5)
    state, _ = reset(variant_fn, env, jax.random.key(0), options)
    state = state._replace(need_umbrella=jnp.int32(need))
    # Only the first action matters; later ones try to undo it.
    actions = [first_action] + [1 - first_action] * 4
    _, timesteps = play(variant_fn, env, state, actions)
    rewards, discounts, step_types, obs = as_np(timesteps)
    np.testing.assert_array_equal(step_types, expected_step_types(5))
    assert rewards[-1] == final_reward
    assert set(rewards[:-1].tolist()) <= {-1.0, 1.0}  # pure noise rewards
    np.testing.assert_array_equal(discounts, [1.0] * 4 + [0.0])
    np.testing.assert_array_equal(obs[:, 0, 0], need)
    np.testing.assert_array_equal(obs[:, 0, 1], first_action)
    np.testing.assert_allclose(obs[:, 0, 2], [0.8, 0.6, 0.4, 0.2, 0.0], rtol=RTOL, atol=1e-7)


def test_umbrella_chain_noise_and_distractors_come_from_the_key():
    env = UmbrellaChain(n_distractor=4)
    assert env.observation_spec().shape == (1, 7)
    runs = []
    for seed in (0, 1):
        state, _ = env.reset(jax.random.key(seed))
        _, timesteps = play(lambda f: f, env, state, [0] * 10)
        runs.append(as_np(timesteps))
    rewards0, _, _, obs0 = runs[0]
    rewards1, _, _, obs1 = runs[1]
    assert set(np.unique(obs0[:, 0, 3:]).tolist()) == {0.0, 1.0}
    assert np.any(obs0[:, 0, 3:] != obs1[:, 0, 3:])
    assert np.any(rewards0[:-1] != rewards1[:-1])


# ------------------------------------------------------------ DiscountingChain


def test_discounting_chain_hand_worked(variant_fn):
    env = ENVS["DiscountingChain-bsuite"]
    state, first = reset(variant_fn, env, jax.random.key(0))
    np.testing.assert_array_equal(first.observation, [[-1.0, 0.0]])
    _, timesteps = play(variant_fn, env, state, [2] + [0] * 9)  # chain 2 pays at step 10
    rewards, discounts, step_types, obs = as_np(timesteps)
    np.testing.assert_array_equal(rewards, [0.0] * 9 + [1.0])
    np.testing.assert_array_equal(step_types, [StepType.MID] * 10)
    np.testing.assert_allclose(obs[:, 0], [[2.0, t / 100] for t in range(1, 11)], rtol=RTOL)


@pytest.mark.parametrize("mapping_seed", [0, 7])
def test_discounting_chain_full_episodes(mapping_seed):
    env = ENVS["DiscountingChain-bsuite"]
    options = DiscountingChainParams(mapping_seed=mapping_seed)

    @jax.jit
    def episode(first_action):
        state, _ = env.reset(jax.random.key(0), options=options)
        actions = jnp.concatenate([first_action[None], jnp.full(99, 4, jnp.int32)])
        return jax.lax.scan(lambda s, a: env.step(s, a), state, actions)[1]

    for chain, at in enumerate((1, 3, 10, 30, 100)):
        ts = episode(jnp.int32(chain))
        expected = np.zeros(100, np.float32)
        expected[at - 1] = 1.1 if chain == mapping_seed % 5 else 1.0
        np.testing.assert_array_equal(np.asarray(ts.reward), expected)
        np.testing.assert_array_equal(np.asarray(ts.step_type), expected_step_types(100))
        assert float(ts.discount[-1]) == 0.0


# --------------------------------------------------------------- SimpleBandit


def test_simple_bandit(variant_fn):
    env = ENVS["SimpleBandit-bsuite"]
    state, first = reset(variant_fn, env, jax.random.key(0))
    arms = np.asarray(state.arm_rewards)
    np.testing.assert_allclose(np.sort(arms), np.linspace(0, 1, 11), rtol=RTOL, atol=1e-7)
    for arm in (0, 5, 10):
        _, (ts,) = play(variant_fn, env, state, [arm])
        assert float(ts.reward) == arms[arm]
        assert int(ts.step_type) == StepType.LAST
        assert float(ts.discount) == 0.0
        np.testing.assert_array_equal(ts.observation, [[1.0]])


def test_simple_bandit_arms_fixed_per_seed():
    env = ENVS["SimpleBandit-bsuite"]
    a, _ = env.reset(jax.random.key(0))
    b, _ = env.reset(jax.random.key(1))
    c, _ = env.reset(jax.random.key(0), options=SimpleBanditParams(mapping_seed=3))
    np.testing.assert_array_equal(a.arm_rewards, b.arm_rewards)
    assert np.any(np.asarray(a.arm_rewards) != np.asarray(c.arm_rewards))


# ------------------------------------------- out-of-range actions (documented behaviour)


@pytest.mark.parametrize("action", [-12, -1, 11, 2**20])
def test_simple_bandit_out_of_range_action_pulls_arm_0(variant_fn, action):
    """Was JAX's out-of-bounds gather: -1 wrapped to arm 10, 11 clamped to arm 10."""
    env = ENVS["SimpleBandit-bsuite"]
    state, _ = reset(variant_fn, env, jax.random.key(0))
    _, (ts,) = play(variant_fn, env, state, [action])
    assert float(ts.reward) == float(np.asarray(state.arm_rewards)[0])


@pytest.mark.parametrize("action", [-1, 5, 2**20])
def test_discounting_chain_out_of_range_first_action_picks_chain_0(variant_fn, action):
    """Was: the context took the raw action, so the observation left its spec
    (found by check_env's invalid_action check); bsuite raises IndexError."""
    env = ENVS["DiscountingChain-bsuite"]
    state, _ = reset(variant_fn, env, jax.random.key(0))
    _, timesteps = play(variant_fn, env, state, [action, 0])
    rewards, _, _, obs = as_np(timesteps)
    np.testing.assert_allclose(obs[:, 0], [[0.0, 0.01], [0.0, 0.02]], rtol=RTOL)
    assert rewards[0] == 1.0 + (0.1 if int(state.params.mapping_seed) % 5 == 0 else 0.0)
    assert bool(env.observation_spec().contains(jnp.asarray(obs[0])))


@pytest.mark.parametrize("action", [-1, 2, 2**20])
def test_umbrella_chain_out_of_range_first_action_leaves_the_umbrella(variant_fn, action):
    env = ENVS["UmbrellaChain-bsuite"]
    state, _ = reset(variant_fn, env, jax.random.key(0), UmbrellaChainParams(chain_length=3))
    state = state._replace(need_umbrella=jnp.int32(1))
    _, timesteps = play(variant_fn, env, state, [action, 1, 1])
    rewards, _, _, obs = as_np(timesteps)
    np.testing.assert_array_equal(obs[:, 0, 1], 0.0)  # has_umbrella: as after action 0
    assert rewards[-1] == -1.0  # needed it, does not have it
