"""MaskedMaze: walk to the goal of a walled grid; moves into walls or off the board are illegal.

A 5 x 5 board with walls (``#``) and a goal (``G``), fixed by ``layout``:

    . . . # G
    . # . # .
    . # . . .
    . # # # .
    . . . . .

Each episode starts on a uniformly random free cell other than the goal. Actions
0 / 1 / 2 / 3 move up / right / down / left. A move is *legal* when its target
cell is on the board and not a wall; the observation carries the legal moves as
``action_mask`` (True = legal), the convention of
`jit_env.agents.make_action_head`. Reaching the goal terminates with reward +1.
An illegal move terminates with reward −1 and the agent does not move — Pgx's
rule (``pgx/core.py``, ``Env.step``: "Taking illegal action leads to immediate
game terminal with negative reward", ``_illegal_action_penalty = -1``). Every
other reward is 0; ``jit_env.make("MaskedMaze-v0")`` adds a 50-step time limit.

So a policy that honours the mask never loses an episode, and the discounted
return of the shortest path is ``γ^(d − 1)`` from a cell ``d`` moves from the goal.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.toy._rendering import cells_image

DEFAULT_LAYOUT = (
    "...#G",
    ".#.#.",
    ".#...",
    ".###.",
    ".....",
)
"""The board: ``.`` free, ``#`` wall, ``G`` the goal (exactly one)."""

_MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], np.int32)  # up, right, down, left


class MaskedMazeState(NamedTuple):
    """State of `MaskedMaze`.

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      position: int32 ``[2]``, the agent's (row, column).
    """

    key: jax.Array
    position: jax.Array


def _parse(layout: tuple[str, ...]) -> tuple[np.ndarray, tuple[int, int]]:
    rows = [str(r) for r in layout]
    if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError(
            f"MaskedMaze: `layout` must be equal-length non-empty rows, got {layout!r}"
        )
    chars = set("".join(rows))
    if not chars <= set(".#G"):
        raise ValueError(f"MaskedMaze: `layout` may hold only '.', '#', 'G', got {sorted(chars)}")
    goals = [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "G"]
    if len(goals) != 1:
        raise ValueError(f"MaskedMaze: `layout` needs exactly one 'G', got {len(goals)}")
    walls = np.array([[ch == "#" for ch in r] for r in rows], bool)
    if (~walls).sum() < 2:
        raise ValueError("MaskedMaze: `layout` needs a free cell besides the goal")
    return walls, goals[0]


class MaskedMaze(ScalarRewardDiscount, _core.Environment):
    """A walled grid whose illegal moves are masked (id ``MaskedMaze-v0``).

    Observation: ``{"observation": float32 [rows * columns]`` (one-hot of the
    agent's cell, row-major), ``"action_mask": bool [4]}`` (True where the move
    up / right / down / left stays on the board and off the walls).
    Action: int32 scalar in ``{0, 1, 2, 3}``. Reward: float32, +1 at the goal,
    −1 for an illegal move (both terminate, discount 0), else 0.

    ``step`` is deterministic and never touches ``state.key``; ``reset`` splits
    it once to draw the start cell.

    Args:
      layout: rows of ``.`` (free), ``#`` (wall) and one ``G`` (goal).
      renderer: optional replacement for the built-in renderer (``render`` gives a
        uint8 ``[rows * 16, columns * 16, 3]`` image: walls grey, goal yellow,
        agent blue).
      expose_mask: with False the observation is only the float32 one-hot array
        (no ``action_mask``; id ``UnmaskedMaze-v0``): the same game for an agent
        that must learn which moves are illegal, for comparison.

    Raises:
      ValueError: for a layout with unequal rows, other characters, not exactly
        one goal, or no free cell besides the goal.
    """

    def __init__(self, layout: tuple[str, ...] = DEFAULT_LAYOUT, *, renderer: Any = None,
                 expose_mask: bool = True):
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.expose_mask = bool(expose_mask)
        self._walls, self._goal = _parse(tuple(layout))
        self.rows, self.columns = self._walls.shape
        free = ~self._walls.reshape(-1)
        free[self._goal[0] * self.columns + self._goal[1]] = False
        self._starts = np.flatnonzero(free).astype(np.int32)

    def __repr__(self) -> str:
        return f"MaskedMaze({self.rows}x{self.columns}, expose_mask={self.expose_mask})"

    def _legal(self, position: jax.Array) -> jax.Array:
        target = position[None, :] + jnp.asarray(_MOVES)
        inside = jnp.all((target >= 0) & (target < jnp.array([[self.rows, self.columns]])), axis=1)
        r = jnp.clip(target[:, 0], 0, self.rows - 1)
        c = jnp.clip(target[:, 1], 0, self.columns - 1)
        return inside & ~jnp.asarray(self._walls)[r, c]

    def _draw(self, state: MaskedMazeState) -> jax.Array:
        cells = jnp.asarray(self._walls.astype(np.int32))
        cells = cells.at[self._goal].set(2)
        return cells_image(cells.at[state.position[0], state.position[1]].set(3))

    def _observation(self, position: jax.Array) -> Any:
        cell = position[0] * self.columns + position[1]
        onehot = jax.nn.one_hot(cell, self.rows * self.columns, dtype=jnp.float32)
        if not self.expose_mask:
            return onehot
        return {"observation": onehot, "action_mask": self._legal(position)}

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[MaskedMazeState, _core.TimeStep]:
        """Puts the agent on a uniformly random free cell other than the goal.

        Raises:
          ValueError: if ``options`` is not ``None`` (the maze has no parameters).
        """
        if options is not None:
            raise ValueError(f"MaskedMaze.reset: `options` must be None, got {options!r}")
        key, start_key = jax.random.split(key)
        cell = jax.random.choice(start_key, jnp.asarray(self._starts))
        position = jnp.stack([cell // self.columns, cell % self.columns]).astype(jnp.int32)
        return MaskedMazeState(key, position), _core.restart(self._observation(position))

    def step(self, state: MaskedMazeState, action: Any) -> tuple[MaskedMazeState, _core.TimeStep]:
        """Moves one cell; an illegal move ends the episode with −1 (Pgx's rule).

        Raises:
          TypeError: if ``action`` is not of an integer dtype.
          ValueError: if ``action`` is not a scalar.
        """
        action = jnp.asarray(action)
        if action.shape != ():
            raise ValueError(f"MaskedMaze.step: `action` must have shape (), got {action.shape}")
        if not jnp.issubdtype(action.dtype, jnp.integer):
            raise TypeError(f"MaskedMaze.step: `action` must be an integer, got {action.dtype}")
        index = jnp.clip(action.astype(jnp.int32), 0, 3)
        legal = self._legal(state.position)[index] & (action >= 0) & (action <= 3)
        moved = state.position + jnp.asarray(_MOVES)[index]
        position = jnp.where(legal, moved, state.position)
        at_goal = (position[0] == self._goal[0]) & (position[1] == self._goal[1])
        done = at_goal | ~legal
        reward = jnp.where(legal, at_goal.astype(jnp.float32), jnp.float32(-1.0))
        obs = self._observation(position)
        timestep = jax.lax.cond(
            done,
            lambda: _core.termination(reward, obs),
            lambda: _core.transition(reward, obs),
        )
        return state._replace(position=position), timestep

    def observation_spec(self) -> specs.Spec:
        """``Dict(observation=float32 [rows * columns] in [0, 1], action_mask=bool [4])``.

        Only the ``observation`` array when ``expose_mask`` is False.
        """
        board = specs.BoundedArray(
            (self.rows * self.columns,), jnp.float32, 0.0, 1.0, name="observation"
        )
        if not self.expose_mask:
            return board
        return specs.Dict(
            observation=board, action_mask=specs.Array((4,), jnp.bool_, name="action_mask")
        )

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar with 4 values: up, right, down, left."""
        return specs.DiscreteArray(4, dtype=jnp.int32, name="action")

