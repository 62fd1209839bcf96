"""Slime Volleyball (``SlimeVolley-v0``): slimevolleygym 0.1.0's game, pure and jittable.

`SlimeVolley` is the two-player game as a multi-agent environment
(``agent_ids == ("left", "right")``, the agent axis leading):

* observation ``float32 [2, 12]``: each agent's ``RelativeState`` divided by
  10, from its own side (``(x, y, vx, vy)`` of itself, the ball and the
  opponent, x mirrored for the left agent), as slimevolleygym's
  ``Agent.getObservation``. On a step where a point is scored slimevolleygym
  does not refresh it (``Game.step`` returns before ``updateState``), and
  neither does this.
* action ``int32 [2]`` in ``[0, 6)`` (``action_mode="discrete"``, default), the
  rows of slimevolleygym's ``SlimeVolleyEnv.action_table`` — 0 NOOP, 1
  forward, 2 forward + jump, 3 jump, 4 backward + jump, 5 backward — or
  ``int32 [2, 3]`` binary forward / backward / jump (``"binary"``,
  slimevolleygym's ``MultiBinary(3)``; a button is pressed where the value is
  ``> 0``, as ``Agent.setAction``). The six rows are every distinct behaviour
  of the 8 button combinations (forward + backward = neither).
  An out-of-range discrete action acts as 0 (NOOP); slimevolleygym asserts.
* reward ``float32 [2]``: ``+1`` to the agent that wins a point, ``-1`` to the
  one that loses it (a life), else 0 (zero-sum).
* discount ``float32 [2]``; the episode terminates (``LAST``, discount 0) when
  an agent has lost its 5 lives. The 3,000-step limit of slimevolleygym is a
  truncation here, added by ``jit_env.make`` as a `jit_env.wrappers.TimeLimit`.

Randomness: ``reset`` and each point's serve draw the ball's velocity
``vx ~ U[-20, 20)``, ``vy ~ U[10, 25)`` (``Game.newMatch``) from ``state.key``;
a step splits the key only when a point is scored (``lax.cond``).

The single-agent view that slimevolleygym's ``SlimeVolley-v0`` trains (the
right agent against the built-in baseline) is `slime_volley_vs_baseline`
(`jit_env.wrappers.FixedOpponent` with `baseline_opponent`), registered as
``SlimeVolley-v0``; the two-player game is ``SlimeVolleyMultiAgent-v0``.

Departures from slimevolleygym: float32 arithmetic (float64 there), the
faces' "sad" eyes after a lost point are not drawn, and the baseline's
recurrent state restarts at each episode (slimevolleygym's ``reset`` keeps
``BaselinePolicy``'s state across episodes).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._multiagent import FixedOpponent, Opponent
from jit_env.envs.slime import _baseline, _game, _render

AGENT_IDS = ("left", "right")
ACTION_TABLE = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 1, 0]], np.int32
)
"""slimevolleygym's ``SlimeVolleyEnv.action_table``: action -> (forward, backward, jump)."""
_MODES = ("discrete", "binary")


class SlimeVolleyState(NamedTuple):
    """State of `SlimeVolley`.

    Attributes:
      key: PRNG key of the next serve (split only when a point is scored).
      game: the physical state (`jit_env.envs.slime._game.Game`: ball ``[5]``,
        agents ``[2, 4]``, lives ``int32 [2]``, delay ``int32``, relative
        states ``[2, 12]``).
    """

    key: jax.Array
    game: _game.Game


def buttons_to_discrete(buttons: jax.Array) -> jax.Array:
    """Maps binary buttons ``[..., 3]`` (forward, backward, jump) to the row of
    `ACTION_TABLE` with the same behaviour (``int32 [...]``).

    Forward and backward together move neither way, as ``Agent.setAction``.
    """
    b = jnp.asarray(buttons) > 0
    forward, backward, jump = b[..., 0] & ~b[..., 1], b[..., 1] & ~b[..., 0], b[..., 2]
    move = jnp.where(forward, 1, jnp.where(backward, 2, 0))  # 0 none, 1 fwd, 2 back
    # (move, jump) -> row: (0,0)=0 (1,0)=1 (1,1)=2 (0,1)=3 (2,1)=4 (2,0)=5
    table = jnp.array([[0, 3], [1, 2], [5, 4]], jnp.int32)
    return table[move, jump.astype(jnp.int32)]


class SlimeVolley(_core.Environment):
    """slimevolleygym's Slime Volleyball, two players, pure and jittable.

    See the module docstring for the observation, action, reward and
    episode conventions.

    Args:
      action_mode: ``"discrete"`` (``int32 [2]``, 6 actions each) or
        ``"binary"`` (``int32 [2, 3]``).
      width: rendered image width in pixels (height ``width * 5 / 12``, the
        proportions of slimevolleygym's 1200 x 500 window).
      renderer: optional replacement for the built-in renderer.

    Raises:
      ValueError: for an unknown ``action_mode`` or ``width < 24``.

    Reference: slimevolleygym 0.1.0 ``slimevolleygym/slimevolley.py``
    (``Game``, ``SlimeVolleyEnv``).
    """

    def __init__(self, action_mode: str = "discrete", *, width: int = 600, renderer: Any = None):
        if action_mode not in _MODES:
            raise ValueError(
                f"SlimeVolley: `action_mode` must be one of {_MODES}, got {action_mode!r}"
            )
        if isinstance(width, bool) or not isinstance(width, int) or width < 24:
            raise ValueError(f"SlimeVolley: `width` must be an int >= 24, got {width!r}")
        super().__init__(renderer=renderer if renderer is not None else self._draw)
        self.action_mode = action_mode
        self.width = width

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action_mode={self.action_mode!r}, width={self.width})"

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """``("left", "right")``: the order of the leading agent axis of every leaf."""
        return AGENT_IDS

    def reset(
        self, key: jax.Array, *, options: Any = None
    ) -> tuple[SlimeVolleyState, _core.TimeStep]:
        """``Game.reset``: 5 lives each, agents at ``x = -+12``, a new serve.

        Args:
          key: PRNG key (typed of any implementation, or legacy).
          options: must be ``None`` (the game has no parameters).

        Raises:
          TypeError: if ``options`` is not ``None``.
        """
        if options is not None:
            raise TypeError(f"SlimeVolley.reset: `options` must be None, got {options!r}")
        key, serve_key = jax.random.split(key)
        game = _game.initial(serve_key)
        state = SlimeVolleyState(key, game)
        return state, _core.restart(self._observation(game), shape=(2,))

    def from_game(
        self, key: jax.Array, game: _game.Game
    ) -> tuple[SlimeVolleyState, _core.TimeStep]:
        """A state at a given game position (e.g. one read from slimevolleygym), as a MID step."""
        game = jax.tree.map(jnp.asarray, game)
        state = SlimeVolleyState(key, game)
        return state, _core.transition(
            jnp.zeros(2, jnp.float32), self._observation(game), shape=(2,)
        )

    def _buttons(self, action: Any) -> jax.Array:
        name = "SlimeVolley.step"
        if isinstance(action, bool) or not isinstance(
            action, (int, list, tuple, np.ndarray, np.generic, jax.Array)
        ):
            raise TypeError(f"{name}: `action` must be an array, got {type(action).__name__}")
        action = jnp.asarray(action)
        expected = (2,) if self.action_mode == "discrete" else (2, 3)
        if action.shape != expected:
            raise ValueError(
                f"{name}: `action` must have shape {expected} ({self.action_mode} mode, "
                f"agents {AGENT_IDS}), got {action.shape}"
            )
        if self.action_mode == "discrete":
            if not jnp.issubdtype(action.dtype, jnp.integer):
                raise TypeError(f"{name}: `action` must have an integer dtype, got {action.dtype}")
            valid = (action >= 0) & (action < len(ACTION_TABLE))
            rows = jnp.asarray(ACTION_TABLE)[jnp.where(valid, action, 0)]
            return jnp.where(valid[:, None], rows, 0)
        if action.dtype == jnp.bool_ or not (
            jnp.issubdtype(action.dtype, jnp.integer) or jnp.issubdtype(action.dtype, jnp.floating)
        ):
            raise TypeError(f"{name}: `action` must have a numeric dtype, got {action.dtype}")
        return action

    def step(
        self, state: SlimeVolleyState, action: Any
    ) -> tuple[SlimeVolleyState, _core.TimeStep]:
        """One frame of ``Game.step`` with both agents' actions.

        Args:
          state: from `reset` or `step` (not after ``LAST``).
          action: ``int32 [2]`` (discrete) or ``[2, 3]`` (binary), left first.

        Raises:
          TypeError / ValueError: for an action of the wrong dtype or shape.
        """
        buttons = self._buttons(action) > 0
        desired = _game.desired_velocities(buttons[:, 0], buttons[:, 1], buttons[:, 2])
        game, result = _game.step(state.game, desired)

        def serve(key: jax.Array, game: _game.Game) -> tuple[jax.Array, _game.Game]:
            key, serve_key = jax.random.split(key)
            return key, _game.serve(game, _game.new_ball(serve_key))

        key, game = jax.lax.cond(result != 0, serve, lambda k, g: (k, g), state.key, game)
        reward = jnp.stack([-result, result]).astype(jnp.float32)
        over = jnp.any(game.lives <= 0)
        ts = _core.TimeStep(
            step_type=jnp.where(over, _core.StepType.LAST, _core.StepType.MID).astype(jnp.int8),
            reward=reward,
            discount=jnp.where(over, 0.0, 1.0) * jnp.ones(2, jnp.float32),
            observation=self._observation(game),
        )
        return SlimeVolleyState(key, game), ts

    @staticmethod
    def _observation(game: _game.Game) -> jax.Array:
        return (game.relative / _game.OBSERVATION_SCALE).astype(jnp.float32)

    def observation_spec(self) -> specs.Array:
        """float32 ``[2, 12]`` (unbounded, as slimevolleygym's ``Box(-max, max)``)."""
        return specs.Array((2, 12), jnp.float32, name="observation")

    def action_spec(self) -> specs.BoundedArray:
        """int32 ``[2]`` with 6 values each, or int32 ``[2, 3]`` in {0, 1}."""
        if self.action_mode == "discrete":
            return specs.DiscreteArray(np.full(2, 6), dtype=jnp.int32, name="action")
        return specs.BoundedArray((2, 3), jnp.int32, 0, 1, name="action")

    def reward_spec(self) -> specs.Array:
        """float32 ``[2]`` (left, right)."""
        return specs.Array((2,), jnp.float32, name="reward")

    def discount_spec(self) -> specs.BoundedArray:
        """float32 ``[2]`` in [0, 1]."""
        return specs.BoundedArray((2,), jnp.float32, 0.0, 1.0, name="discount")

    def _draw(self, state: SlimeVolleyState) -> jax.Array:
        return _render.draw(state.game, self.width)


class BaselineCarry(NamedTuple):
    """The baseline opponent's recurrent state: its previous 7 outputs (``float32 [7]``)."""

    outputs: jax.Array


def baseline_opponent(action_mode: str = "discrete") -> Opponent:
    """slimevolleygym's built-in 2015 baseline as an `jit_env.wrappers.Opponent`.

    Args:
      action_mode: the `SlimeVolley` action mode it must answer in
        (``"discrete"``: its buttons mapped by `buttons_to_discrete`).

    Returns:
      A deterministic `Opponent` (``params=None``; the weights are constants,
      `jit_env.envs.slime._baseline`).

    Raises:
      ValueError: for an unknown ``action_mode``.
    """
    if action_mode not in _MODES:
        raise ValueError(f"`action_mode` must be one of {_MODES}, got {action_mode!r}")

    def init() -> BaselineCarry:
        return BaselineCarry(_baseline.baseline_initial_carry())

    def act(params: Any, carry: BaselineCarry, observation: jax.Array, key: jax.Array) -> Any:
        del params, key
        buttons, outputs = _baseline.baseline_forward(carry.outputs, observation)
        action = buttons_to_discrete(buttons) if action_mode == "discrete" else buttons
        return action, BaselineCarry(outputs)

    return Opponent(init=init, act=act)


def slime_volley_vs_baseline(
    action_mode: str = "discrete", *, width: int = 600, opponent: Opponent | None = None
) -> FixedOpponent:
    """The right agent of `SlimeVolley` against a fixed opponent on the left (``SlimeVolley-v0``).

    slimevolleygym's ``SlimeVolleyEnv``: observation ``float32 [12]``, action
    ``int32`` in ``[0, 6)`` (or ``int32 [3]`` binary), reward ``float32`` from
    the right agent's side.

    Args:
      action_mode: see `SlimeVolley`.
      width: see `SlimeVolley`.
      opponent: the left agent's policy; `baseline_opponent` by default.
    """
    env = SlimeVolley(action_mode, width=width)
    opponent = baseline_opponent(action_mode) if opponent is None else opponent
    return FixedOpponent(env, opponent, agent=1)
