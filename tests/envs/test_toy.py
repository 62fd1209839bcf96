"""MaskedMaze and ChooseAndAim (`jit_env.envs.toy`): dynamics against hand-worked values."""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import specs
from jit_env.envs import toy
from jit_env.envs.toy.maze import DEFAULT_LAYOUT

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def _state(row, col):
    return toy.MaskedMazeState(jax.random.PRNGKey(0), jnp.asarray([row, col], jnp.int32))


def _np_legal(row, col):
    """Legal moves of DEFAULT_LAYOUT read off the picture, one cell at a time."""
    out = []
    for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
        r, c = row + dr, col + dc
        out.append(0 <= r < 5 and 0 <= c < 5 and DEFAULT_LAYOUT[r][c] != "#")
    return out


def test_mask_matches_the_layout_on_every_start_cell():
    env = toy.MaskedMaze()
    states, ts = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 300))
    positions = np.asarray(states.position)
    masks = np.asarray(ts.observation["action_mask"])
    onehots = np.asarray(ts.observation["observation"])
    for (row, col), mask, onehot in zip(positions, masks, onehots):
        np.testing.assert_array_equal(mask, _np_legal(row, col))
        np.testing.assert_array_equal(onehot, np.eye(25)[row * 5 + col])
    assert {DEFAULT_LAYOUT[r][c] for r, c in positions} == {"."}  # never a wall or the goal
    assert len({tuple(p) for p in positions}) == 17  # 25 cells - 7 walls - the goal


def test_hand_worked_moves():
    env = toy.MaskedMaze()
    # (0, 0): up and left leave the board, right and down are free.
    assert _np_legal(0, 0) == [False, True, True, False]
    s, ts = env.step(_state(0, 0), jnp.int32(RIGHT))
    np.testing.assert_array_equal(s.position, [0, 1])
    assert float(ts.reward) == 0.0
    assert int(ts.step_type) == int(jit_env.StepType.MID)
    np.testing.assert_array_equal(ts.observation["observation"], np.eye(25)[1])
    np.testing.assert_array_equal(ts.observation["action_mask"], [False, True, False, True])
    # An illegal move: -1, terminated, the agent stays (Pgx's rule).
    s, ts = env.step(_state(0, 0), jnp.int32(UP))
    np.testing.assert_array_equal(s.position, [0, 0])
    assert (float(ts.reward), float(ts.discount)) == (-1.0, 0.0)
    assert int(ts.step_type) == int(jit_env.StepType.LAST)
    # Into a wall: (0, 2) right is (0, 3) = '#'.
    _, ts = env.step(_state(0, 2), jnp.int32(RIGHT))
    assert float(ts.reward) == -1.0
    # The goal: (1, 4) up is (0, 4) = 'G': +1, terminated.
    _, ts = env.step(_state(1, 4), jnp.int32(UP))
    assert (float(ts.reward), float(ts.discount)) == (1.0, 0.0)


def _np_distances():
    """BFS distances to the goal over the layout, an independent NumPy loop."""
    goal = next((r, c) for r, row in enumerate(DEFAULT_LAYOUT) for c, ch in enumerate(row)
                if ch == "G")
    dist, queue = {goal: 0}, collections.deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            n = (r + dr, c + dc)
            if 0 <= n[0] < 5 and 0 <= n[1] < 5 and DEFAULT_LAYOUT[n[0]][n[1]] != "#" \
                    and n not in dist:
                dist[n] = dist[(r, c)] + 1
                queue.append(n)
    return dist


def test_every_free_cell_reaches_the_goal_along_legal_moves():
    env = toy.MaskedMaze()
    dist = _np_distances()
    free = [(r, c) for r in range(5) for c in range(5) if DEFAULT_LAYOUT[r][c] == "."]
    assert set(free) <= set(dist)  # connected
    step = jax.jit(env.step)
    moves = ((-1, 0), (0, 1), (1, 0), (0, -1))
    for cell in free:  # follow the BFS gradient; every move must be legal, the last wins
        state, total = _state(*cell), 0.0
        for _ in range(dist[cell]):
            r, c = (int(x) for x in state.position)
            a = next(i for i, (dr, dc) in enumerate(moves)
                     if dist.get((r + dr, c + dc), 99) == dist[(r, c)] - 1)
            state, ts = step(state, jnp.int32(a))
            total += float(ts.reward)
        assert total == 1.0


def test_unmasked_maze_hides_the_mask():
    env = jit_env.make("UnmaskedMaze-v0")
    assert env.observation_spec() == specs.BoundedArray((25,), jnp.float32, 0.0, 1.0,
                                                        name="observation")
    _, ts = env.reset(jax.random.PRNGKey(0))
    assert ts.observation.shape == (25,)


@pytest.mark.parametrize(("layout", "match"), [
    ((".#", "."), "equal-length"),
    (("..", ".x"), "only '.', '#', 'G'"),
    (("..", ".."), "exactly one 'G'"),
    (("#G",), "a free cell besides the goal"),
])
def test_bad_layout_raises(layout, match):
    with pytest.raises(ValueError, match=match):
        toy.MaskedMaze(layout)


def test_maze_bad_action_raises():
    env = toy.MaskedMaze()
    state, _ = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="integer"):
        env.step(state, jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        env.step(state, jnp.zeros(2, jnp.int32))


# ---------------------------------------------------------------- ChooseAndAim --


def test_choose_and_aim_reward(variant_fn):
    env = toy.ChooseAndAim()
    reset, step = variant_fn(env.reset), variant_fn(env.step)
    state, ts = reset(jax.random.PRNGKey(3))
    k, x = int(state.category), float(state.target)
    np.testing.assert_allclose(ts.observation, np.r_[np.eye(3)[k], x], rtol=1e-6)
    for choice, aim in ((k, x), ((k + 1) % 3, x), (k, 2.5), ((k + 2) % 3, -3.0)):
        _, out = step(state, {"choice": jnp.int32(choice), "aim": jnp.asarray([aim], jnp.float32)})
        want = float(choice == k) - abs(min(max(aim, -1.0), 1.0) - x)
        np.testing.assert_allclose(out.reward, want, rtol=1e-6, atol=1e-6)
        assert float(out.discount) == 0.0


def test_choose_and_aim_bad_actions_raise():
    env = toy.ChooseAndAim()
    state, _ = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="keys 'aim' and 'choice'"):
        env.step(state, jnp.int32(0))
    with pytest.raises(TypeError, match="integer scalar"):
        env.step(state, {"choice": jnp.float32(0), "aim": jnp.zeros(1)})
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        env.step(state, {"choice": jnp.int32(0), "aim": jnp.zeros(2)})
