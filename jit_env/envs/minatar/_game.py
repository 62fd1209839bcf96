"""What the five MinAtar games share: parameters, sticky actions, draws, specs, rendering.

Private. Every game is a subclass of `MinAtarGame` that supplies
``initial_state(key, params, draws)``, ``transition(state, action, draws)``
and ``observation(state)``; this module turns those into jit_env's
``reset`` / ``step`` with the reference's ``minatar.Environment`` around them
(``minatar/environment.py`` of minatar 1.0.15):

* **sticky actions**: ``Environment.act`` draws ``self.random.rand()`` on
  every step and repeats the previous action when it is below
  ``sticky_action_prob`` (0.1); that draw is ``draws[0]`` of every game.
* **draws**: the random numbers a step consumes are drawn up front, as one
  ``float32`` vector of ``NUM_STEP_DRAWS`` uniforms in ``[0, 1)`` from one
  split of ``state.key`` (``reset``: ``NUM_RESET_DRAWS``), so each game's
  ``transition`` is a pure function of ``(state, action, draws)``. A
  reference ``rand()`` is a uniform as it is; a reference ``randint(low,
  high)`` is `randint` of one uniform. A step uses a draw only where the
  reference makes the call (e.g. a spawn), so the others are ignored.
* **actions**: the reference's six (``['n','l','u','r','d','f']`` = no-op,
  left, up, right, down, fire); ``use_minimal_action_set=True`` gives each
  game's ``minimal_action_set()`` instead (what gymnax's ports use by
  default, and MinAtar's ``MinAtar/<Game>-v1`` gym ids).
* **observations**: the reference's ``env.state()``, ``bool[10, 10, C]``
  (``observation_dtype=jnp.float32`` gives 0/1 floats, as gymnax's ports).
* **rendering**: ``minatar/gym.py``'s ``rgb_array`` mode (each cell coloured
  by the highest active channel, seaborn's ``"cubehelix"`` palette with
  black for an empty cell), as ``uint8`` and scaled up to
  ``CELL_PIXELS x CELL_PIXELS`` per cell (the reference returns floats in
  [0, 1] of shape ``[10, 10, 3]``).

One departure from ``minatar.Environment`` applies to every game: the
reference keeps ``last_action`` across ``reset`` (it is set to 0 once, in
``__init__``), so the first step of an episode may repeat the last action of
the previous one; here every episode starts with ``last_action = 0``, because
``reset`` sees only a key.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.envs import _steps
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.bsuite import _rendering as _grid

NOOP, LEFT, UP, RIGHT, DOWN, FIRE = range(6)
"""The reference's action indices (``action_map = ['n','l','u','r','d','f']``)."""

NUM_ACTIONS = 6
"""``minatar.Environment.num_actions()``: every game has the same six actions."""

CELL_PIXELS = 16
"""Side of one of the 10 x 10 cells in a rendered image, in pixels."""

# seaborn 0.13 ``color_palette("cubehelix", n)`` for the games' channel counts, times 255
# and rounded; index 0 (black) is the empty cell, as ``minatar/gym.py`` inserts it.
_CUBEHELIX = {
    4: [(22, 61, 78), (84, 121, 47), (208, 126, 147), (193, 202, 243)],
    6: [
        (26, 36, 65),
        (27, 97, 69),
        (105, 123, 48),
        (200, 123, 124),
        (205, 162, 224),
        (198, 225, 241),
    ],
    7: [
        (27, 30, 59),
        (22, 83, 76),
        (68, 119, 49),
        (161, 121, 74),
        (212, 132, 169),
        (198, 180, 238),
        (203, 232, 240),
    ],
    10: [
        (25, 18, 43),
        (23, 52, 76),
        (24, 91, 72),
        (60, 118, 50),
        (126, 122, 54),
        (188, 121, 103),
        (212, 134, 175),
        (202, 169, 231),
        (194, 210, 243),
        (214, 240, 239),
    ],
}


def palette(num_channels: int) -> np.ndarray:
    """The ``rgb_array`` palette of ``minatar/gym.py`` for ``num_channels`` channels.

    Returns:
      uint8 ``[num_channels + 1, 3]``: black, then seaborn's ``"cubehelix"``
      colours (0.13), scaled to [0, 255] and rounded.
    """
    return np.array([(0, 0, 0), *_CUBEHELIX[num_channels]], np.uint8)


class MinAtarParams(NamedTuple):
    """The reference ``minatar.Environment``'s constructor options; kept in the state.

    Attributes:
      sticky_action_prob: probability that a step repeats the previous action
        instead of the given one, float32 in [0, 1]; reference: 0.1.
      difficulty_ramping: whether the game speeds up over time (Asterix,
        Seaquest, SpaceInvaders; Breakout and Freeway do not ramp), bool;
        reference: True.
    """

    sticky_action_prob: float = 0.1
    difficulty_ramping: bool = True


_PARAM_DTYPES = {"sticky_action_prob": jnp.float32, "difficulty_ramping": jnp.bool_}


def randint(u: jax.Array, low: Any, high: Any) -> jax.Array:
    """Maps uniforms in ``[0, 1)`` to integers in ``[low, high)`` (the law of ``randint``).

    ``low + floor(u * (high - low))`` in ``float32``, capped at ``high - 1``
    (the product can round up to ``high - low``). The parity tests' scripted
    ``RandomState`` maps its uniforms the same way.

    Args:
      u: float32 uniforms in ``[0, 1)``, any shape.
      low: int, or int32 array broadcastable with ``u``.
      high: int, or int32 array, ``> low``.

    Returns:
      int32, the shape of ``u`` broadcast with ``low`` / ``high``.
    """
    n = jnp.asarray(high, jnp.int32) - jnp.asarray(low, jnp.int32)
    k = jnp.floor(u * n.astype(jnp.float32)).astype(jnp.int32)
    return jnp.asarray(low, jnp.int32) + jnp.minimum(k, n - 1)


def sticky(u: jax.Array, action: jax.Array, last_action: jax.Array, prob: Any) -> jax.Array:
    """``minatar.Environment.act``: ``last_action`` if ``u < prob`` else ``action``."""
    return jnp.where(u < prob, last_action, action)


def cells(y: Any, x: Any, mask: Any = True) -> jax.Array:
    """A bool ``[10, 10]`` plane, true at ``(y[i], x[i])`` where ``mask[i]``.

    Args:
      y, x: int32 of any (equal, broadcastable) shape; positions outside the
        board are dropped (as the reference draws nothing there).
      mask: bool, broadcastable with ``y``.
    """
    y, x, mask = jnp.broadcast_arrays(jnp.asarray(y), jnp.asarray(x), jnp.asarray(mask))
    rows = jnp.arange(10, dtype=jnp.int32)
    hit = (
        (y.reshape(-1, 1, 1) == rows[None, :, None])
        & (x.reshape(-1, 1, 1) == rows[None, None, :])
        & mask.reshape(-1, 1, 1)
    )
    return jnp.any(hit, axis=0)


class MinAtarGame(ScalarRewardDiscount, _core.Environment):
    """Base class of the MinAtar games: reset/step, sticky actions, specs, rendering.

    Subclasses set ``NUM_CHANNELS``, ``MINIMAL_ACTIONS``, ``NUM_STEP_DRAWS``,
    ``NUM_RESET_DRAWS`` and implement ``initial_state``, ``transition`` and
    ``observation`` (see the module docstring).

    Args:
      use_minimal_action_set: if True the actions are the indices of the
        game's ``minimal_action_set()`` (gymnax's default); else the six of
        ``minatar.Environment`` (default).
      observation_dtype: ``jnp.bool_`` (the reference's, default) or
        ``jnp.float32`` (0/1, as gymnax's ports).
      renderer: optional replacement for the built-in renderer.

    Attributes:
      default_params: `MinAtarParams()` (the reference's constructor defaults),
        what ``reset(key)`` plays; ``reset(key, options=params)`` replaces them
        for an episode and the auto-reset wrappers keep them (so
        ``jit-env train --env-params sticky_action_prob=0.0`` trains without
        sticky actions, `jit_env.agents.TrainingConfig.env_params`).

    Raises:
      TypeError: if ``observation_dtype`` is neither bool nor float32.
    """

    NUM_CHANNELS: int = 0
    MINIMAL_ACTIONS: tuple[int, ...] = ()
    NUM_STEP_DRAWS: int = 1
    NUM_RESET_DRAWS: int = 0

    def __init__(
        self,
        *,
        use_minimal_action_set: bool = False,
        observation_dtype: Any = jnp.bool_,
        renderer: Any = None,
    ):
        dtype = np.dtype(observation_dtype)
        if dtype not in (np.dtype(np.bool_), np.dtype(np.float32)):
            raise TypeError(
                f"{type(self).__name__}: `observation_dtype` must be bool or float32, got {dtype}"
            )
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.use_minimal_action_set = bool(use_minimal_action_set)
        self.observation_dtype = dtype
        self.actions = self.MINIMAL_ACTIONS if use_minimal_action_set else tuple(range(6))
        self.default_params = MinAtarParams()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(use_minimal_action_set={self.use_minimal_action_set}, "
            f"observation_dtype={self.observation_dtype.name})"
        )

    # --- to be supplied by each game -------------------------------------------------
    def initial_state(self, key: jax.Array, params: MinAtarParams, draws: jax.Array) -> Any:
        """The state after the reference's ``Env.reset()``, given its draws."""
        raise NotImplementedError

    def transition(
        self, state: Any, action: jax.Array, draws: jax.Array
    ) -> tuple[Any, jax.Array, jax.Array]:
        """The reference's ``Environment.act(action)``, with its random numbers given.

        Args:
          state: the game's state NamedTuple.
          action: int32 scalar, a full-set action (0..5).
          draws: float32 ``[NUM_STEP_DRAWS]`` uniforms in [0, 1), standing for the
            reference's ``random.rand()`` calls in order (the game's docstring
            lists them; the first is the sticky-action draw).

        Returns:
          ``(state, reward float32[], terminal bool[])``.
        """
        raise NotImplementedError

    def observation(self, state: Any) -> jax.Array:
        """The reference's ``env.state()``, bool ``[10, 10, NUM_CHANNELS]``."""
        raise NotImplementedError

    # --- shared ----------------------------------------------------------------------
    def reset_draws(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Splits ``key`` once: ``(new_key, float32[NUM_RESET_DRAWS] uniforms)``."""
        key, sub = jax.random.split(key)
        return key, jax.random.uniform(sub, (self.NUM_RESET_DRAWS,), jnp.float32)

    def step_draws(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Splits ``key`` once: ``(new_key, float32[NUM_STEP_DRAWS] uniforms)``."""
        key, sub = jax.random.split(key)
        return key, jax.random.uniform(sub, (self.NUM_STEP_DRAWS,), jnp.float32)

    def reset(
        self, key: jax.Array, *, options: MinAtarParams | None = None
    ) -> tuple[Any, _core.TimeStep]:
        """Starts an episode (the reference's ``Env.reset()``, with ``last_action = 0``).

        ``options``: a `MinAtarParams` of scalars, or ``None`` for the reference's
        defaults (else TypeError / ValueError); ``key``: any PRNG key.
        """
        params = _steps.canonical_params(
            options, self.default_params, type(self).__name__, _PARAM_DTYPES
        )
        key, draws = self.reset_draws(key)
        state = self.initial_state(key, params, draws)
        return state, _core.restart(self._cast(self.observation(state)))

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        """One ``Environment.act``: sticky action, then the game's update.

        Args:
          state: the state from `reset` or `step` (not after ``LAST``).
          action: int scalar in ``[0, num_actions)``; other values are clamped
            into range by the action table lookup (the reference raises an
            ``IndexError``; wrap in `jit_env.wrappers.ValidateAction` to reject
            them).

        Returns:
          ``(state, timestep)``; ``LAST`` with discount 0 when the game ends.

        Raises:
          TypeError / ValueError: if ``action`` is not an integer scalar.
        """
        action = _steps.discrete_action(action, type(self).__name__)
        full = jnp.asarray(self.actions, jnp.int32)[action]
        key, draws = self.step_draws(state.key)
        state, reward, terminal = self.transition(state._replace(key=key), full, draws)
        observation = self._cast(self.observation(state))
        return state, _steps.end_or_continue(terminal, reward, observation)

    def _cast(self, observation: jax.Array) -> jax.Array:
        return observation.astype(self.observation_dtype)

    def observation_spec(self) -> specs.Array:
        """bool (or float32 in [0, 1]) ``[10, 10, NUM_CHANNELS]``."""
        shape = (10, 10, self.NUM_CHANNELS)
        if self.observation_dtype == np.bool_:
            return specs.Array(shape, jnp.bool_, name="observation")
        return specs.BoundedArray(shape, jnp.float32, 0.0, 1.0, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        """int32 scalar: 6 actions, or the game's minimal set."""
        return specs.DiscreteArray(len(self.actions), dtype=jnp.int32, name="action")


    def _draw(self, state: Any) -> jax.Array:
        """``minatar/gym.py``'s ``rgb_array``: uint8 ``[160, 160, 3]``."""
        obs = self.observation(state)
        channel = jnp.arange(1, self.NUM_CHANNELS + 1, dtype=jnp.int32).reshape(1, 1, -1)
        index = jnp.max(obs * channel, axis=2)
        return _grid.palette_image(index, palette(self.NUM_CHANNELS), CELL_PIXELS)
