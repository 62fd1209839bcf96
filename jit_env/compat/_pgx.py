"""`from_pgx`: a Pgx game as a pure jit_env `Environment`.

Pgx (``pgx/core.py``) has ``init(key) -> State`` and ``step(state, action,
key=None) -> State``; the ``State`` carries ``current_player``, the current
player's ``observation`` and ``legal_action_mask``, ``rewards`` of shape
``[num_players]`` (every player's reward for this step), and shared
``terminated`` / ``truncated`` flags. Pgx never resets inside ``step`` (a
finished state stays finished with zero rewards; resetting is
``pgx.experimental.auto_reset``, ``pgx/experimental/wrappers.py``, which this
adapter does not use), so a ``LAST`` TimeStep holds the final observation.

How Pgx's turn-based API maps to jit_env, and why:

* **One player** (MinAtar, 2048): the single-agent view. Observation
  ``state.observation``, scalar action, reward ``state.rewards[0]``.
* **Two or more players**: jit_env's multi-agent convention
  (``docs/multi-agent.md``, `jit_env.Environment.agent_ids`), agents on the
  leading axis. Not a single-agent view with the acting player's reward,
  because Pgx itself reports every player's reward on every step
  (``State.rewards``): the loser's ``-1`` arrives on the *winner's* move, so
  an acting-player view would drop it, and a learner reading consecutive
  steps of alternating players as one trajectory would credit one player's
  win to the other's previous move. With the agent axis nothing is dropped,
  the shared ``terminated`` / ``truncated`` are jit_env's one shared
  ``step_type``, and `jit_env.wrappers.FixedOpponent` gives a correct
  single-agent game against a fixed policy. Per agent ``i``:

  - ``observation[i]`` is player ``i``'s view, Pgx's ``_observe(state, i)``
    (the function ``Env.observe`` calls, with the same ``stop_gradient``;
    ``observe``'s own ``player_id`` argument is deprecated in Pgx 2.x);
    ``observation[current_player]`` equals ``state.observation``;
  - ``action_mask[i]`` is ``legal_action_mask`` for the current player and
    all False for the others (their action is ignored, so no action of theirs
    is legal; jit_env's action heads make such a row uniform, with a
    log-probability that does not depend on the parameters, so it adds no
    policy gradient);
  - ``action`` is ``int32 [N]``; only ``action[current_player]`` is played;
  - ``reward`` is ``state.rewards`` and ``discount`` is 0 for every agent at
    termination, 1 otherwise (Pgx games end for all players at once).

Termination is ``LAST`` with discount 0, truncation (``state.truncated``,
which Pgx's games do not set themselves) ``LAST`` with discount 1. An illegal
action follows Pgx's rule (``Env.step``: the game terminates with reward -1
for the acting player); an action outside ``[0, num_actions)`` counts as
illegal too (Pgx would index its mask out of bounds).

Pgx's chess, Gardner chess, animal shogi and Go rely on NumPy-style rank
promotion, so the adapter traces Pgx under ``jax.numpy_rank_promotion("allow")``
whatever the user's setting (found by ``check_env`` under ``"raise"``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env.compat._adapter import LibraryAdapter, wrapped_accessor
from jit_env.compat._optional import register_suite, require

_MASK_FREE_PREFIX = "minatar-"  # Pgx's MinAtar games: legal_action_mask is all True always


class PgxState(NamedTuple):
    """State of a `from_pgx` environment.

    Attributes:
      key: PRNG key; ``reset`` splits it once, ``step`` once per step for
        stochastic games (2048, backgammon, MinAtar's sticky actions), never
        for deterministic ones.
      env_state: Pgx's own ``State``.
    """

    key: jax.Array
    env_state: Any


def _array_spec(like: Any, name: str) -> specs.Array:
    return specs.Array(tuple(like.shape), np.dtype(like.dtype), name=name)


def _pgx_rank_promotion() -> Any:
    """Pgx's own code relies on NumPy-style rank promotion (chess's repetition count
    compares ``hash_history [N, 2]`` with a ``[2]`` hash, ``pgx/_src/games/chess.py``;
    Gardner chess, animal shogi and Go fail likewise under ``"raise"``), so the adapter
    traces Pgx under ``jax.numpy_rank_promotion("allow")``, whatever the user's setting."""
    return jax.numpy_rank_promotion("allow")


class FromPgx(LibraryAdapter):
    """A Pgx game as a pure jit_env environment (built by `from_pgx`).

    Args:
      pgx_env: a ``pgx.Env`` instance (e.g. ``pgx.make("tic_tac_toe")``).
      action_mask: put ``legal_action_mask`` into the observation as
        ``"action_mask"``; ``None`` (default): yes, except for one-player
        MinAtar games (whose mask is constantly all True,
        ``pgx/minatar/breakout.py``). Must not be False for several players
        (the mask says whose turn it is).
      renderer: optional ``state -> uint8 [H, W, 3]`` renderer.

    Specs: observation, ``Dict(observation=[(N,) …], action_mask=bool [(N,) A])``
    or the bare observation; action, ``num_actions`` values, scalar (one player) or
    ``[N]``; reward, float32 ``[]`` (one player) or ``[N]`` (Pgx's ``rewards``);
    discount, float32 in [0, 1], shaped like the reward.
    """

    factory = "from_pgx"
    label = "Pgx"

    def __init__(self, pgx_env: Any, *, action_mask: bool | None = None, renderer: Any = None):
        core = require("pgx.core", "from_pgx")
        if not isinstance(pgx_env, core.Env):
            raise TypeError(f"`pgx_env` must be a pgx.Env, got {type(pgx_env).__name__}")
        num_players = int(pgx_env.num_players)
        if action_mask is None:
            action_mask = num_players > 1 or not str(pgx_env.id).startswith(_MASK_FREE_PREFIX)
        if not isinstance(action_mask, bool):
            raise TypeError(f"`action_mask` must be a bool or None, got {action_mask!r}")
        if num_players > 1 and not action_mask:
            raise ValueError(
                f"`action_mask` must be True (or None) for {pgx_env.id!r}: with "
                f"{num_players} players the mask is what says whose turn it is"
            )
        super().__init__(renderer=renderer)
        self._wrapped = pgx_env
        self._num_players = num_players
        self._masked = action_mask
        # pgx >= 2.0's stochastic games override `step` only to insist on a key
        # (pgx/play2048.py, pgx/backgammon.py, pgx/minatar/*.py); the others inherit
        # core.Env.step and ignore it, so they get none and cost no key split.
        self._stochastic = type(pgx_env).step is not core.Env.step
        with _pgx_rank_promotion():
            like = jax.eval_shape(pgx_env.init, jax.ShapeDtypeStruct((2,), jnp.uint32))
        self._num_actions = int(like.legal_action_mask.shape[0])
        n = num_players
        lead = (n,) if n > 1 else ()
        obs = specs.Array((*lead, *like.observation.shape), np.dtype(like.observation.dtype),
                          name="observation")
        if action_mask:
            mask = specs.Array((*lead, self._num_actions), np.bool_, name="action_mask")
            self._observation_spec: specs.Spec = specs.Dict(observation=obs, action_mask=mask)
        else:
            self._observation_spec = obs
        num_values = np.full(lead, self._num_actions, np.int64)
        self._action_spec = specs.DiscreteArray(num_values, dtype=jnp.int32, name="action")
        self._reward_spec = specs.Array(lead, jnp.float32, name="reward")
        self._discount_spec = specs.BoundedArray(lead, jnp.float32, 0.0, 1.0, name="discount")

    pgx_env = wrapped_accessor("Pgx")

    @property
    def agent_ids(self) -> tuple[str, ...] | None:
        """``("player_0", …)`` (Pgx's player ids, in order) for several players; else ``None``."""
        if self._num_players == 1:
            return None
        return tuple(f"player_{i}" for i in range(self._num_players))

    def __repr__(self) -> str:
        return f"from_pgx({self._wrapped.id!r})"

    def _observe(self, env_state: Any) -> Any:
        if self._num_players == 1:
            obs, mask = env_state.observation, env_state.legal_action_mask
        else:
            # Pgx's Env.observe is `stop_gradient(self._observe(state, player_id))` (pgx/core.py).
            with _pgx_rank_promotion():
                obs = jnp.stack([
                    jax.lax.stop_gradient(self._wrapped._observe(env_state, jnp.int32(i)))
                    for i in range(self._num_players)
                ])
            acting = jnp.arange(self._num_players) == env_state.current_player
            mask = acting[:, None] & env_state.legal_action_mask[None, :]
        return {"observation": obs, "action_mask": mask} if self._masked else obs

    def _timestep(self, env_state: Any, first: bool) -> _core.TimeStep:
        shape = (self._num_players,) if self._num_players > 1 else ()
        observation = self._observe(env_state)
        if first:
            return _core.restart(observation, shape=shape)
        rewards = env_state.rewards.astype(jnp.float32)
        reward = rewards if self._num_players > 1 else rewards[0]
        done = env_state.terminated | env_state.truncated
        discount = jnp.where(env_state.terminated, 0.0, 1.0).astype(jnp.float32)
        return _core.last_where(done, reward, jnp.broadcast_to(discount, shape), observation)

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[PgxState, _core.TimeStep]:
        """Splits ``key`` and calls Pgx ``init(reset_key)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: must be ``None`` (Pgx games are configured at construction).

        Raises:
          ValueError: if ``options`` is not ``None``.
        """
        self._no_options(options, "Pgx games are configured at construction")
        key, reset_key = jax.random.split(key)
        with _pgx_rank_promotion():
            env_state = self._wrapped.init(reset_key)
        return PgxState(key=key, env_state=env_state), self._timestep(env_state, True)

    def step(self, state: PgxState, action: Any) -> tuple[PgxState, _core.TimeStep]:
        """Pgx ``step(env_state, action, key)`` with the current player's action.

        Args:
          state: a `PgxState`.
          action: int ``[]`` (one player) or ``[num_players]`` (only the current
            player's entry is played).
        """
        env_state = state.env_state
        action = jnp.asarray(action)
        if self._num_players > 1:
            action = action[jnp.clip(env_state.current_player, 0, self._num_players - 1)]
        in_range = (action >= 0) & (action < self._num_actions)
        # Out of range: Pgx sees an illegal action (its mask made all False), so its own
        # illegal-action rule applies; in range, the state is Pgx's own.
        env_state = env_state.replace(legal_action_mask=env_state.legal_action_mask & in_range)
        action = jnp.where(in_range, action, 0).astype(jnp.int32)
        key = state.key
        with _pgx_rank_promotion():
            if self._stochastic:
                key, step_key = jax.random.split(key)
                env_state = self._wrapped.step(env_state, action, step_key)
            else:
                env_state = self._wrapped.step(env_state, action)
        return PgxState(key=key, env_state=env_state), self._timestep(env_state, False)


def from_pgx(pgx_env: Any, *, action_mask: bool | None = None) -> FromPgx:
    """Wraps a Pgx game as a pure, jittable jit_env environment.

    See the module docstring (``jit_env/compat/_pgx.py``) for the mapping:
    the single-agent view for one-player games, jit_env's leading agent axis
    (``agent_ids = ("player_0", …)``) for games of several players, with every
    player's reward (Pgx's ``State.rewards``) and view (Pgx's ``_observe``).

    * ``reset(key)`` splits ``key`` once and calls ``init(reset_key)``;
      ``step`` splits ``state.key`` once for stochastic games and calls
      ``step(env_state, action, step_key)`` (``step(env_state, action)`` for
      deterministic ones), so the trajectory equals a plain Pgx loop that
      splits its keys the same way.
    * ``LAST`` when Pgx reports ``terminated`` (discount 0) or ``truncated``
      (discount 1); the observation is the final state's.

    Args:
      pgx_env: a ``pgx.Env`` (e.g. ``pgx.make("minatar-breakout")``).
      action_mask: see `FromPgx`.

    Returns:
      A `jit_env.Environment` whose state is a `PgxState`.

    Raises:
      ImportError: ``"from_pgx needs: pip install 'jit-env[pgx]'"``.
      TypeError: if ``pgx_env`` is not a ``pgx.Env``, or ``action_mask`` is not
        a bool or None.
      ValueError: if ``action_mask`` is False for a game of several players.

    Reference: Pgx 2.6.0 ``pgx/core.py`` (``State``, ``Env.init`` / ``step`` /
    ``observe`` / ``_step_with_illegal_action``).
    """
    return FromPgx(pgx_env, action_mask=action_mask)


def make_pgx(pgx_id: str, *, action_mask: bool | None = None, **kwargs: Any) -> FromPgx:
    """``from_pgx(pgx.make(pgx_id))``: the ``"pgx/<env_id>"`` factory.

    Args:
      pgx_id: a Pgx id (``pgx.available_envs()``).
      action_mask: see `FromPgx`.
      **kwargs: constructor arguments of the game's class (e.g. MinAtar's
        ``sticky_action_prob``); then the class is built directly.

    Raises:
      ImportError: if pgx is missing.
      ValueError: if Pgx does not know ``pgx_id`` (message lists its ids).
    """
    pgx = require("pgx", "from_pgx")
    ids = list(pgx.available_envs())
    if pgx_id not in ids:
        raise ValueError(f"`pgx_id` {pgx_id!r} is not a Pgx environment; Pgx has {ids}")
    pgx_env = pgx.make(pgx_id)
    if kwargs:
        pgx_env = type(pgx_env)(**kwargs)
    return from_pgx(pgx_env, action_mask=action_mask)


def register_pgx_ids(prefix: str = "pgx/") -> tuple[str, ...]:
    """Registers every Pgx game (``pgx.available_envs()``) as ``jit_env.make(prefix + id)``.

    After this, ``jit_env.make("pgx/tic_tac_toe")`` returns
    ``from_pgx(pgx.make("tic_tac_toe"))``. Registering twice is a no-op. No
    ``TimeLimit`` is added: Pgx's games terminate by themselves (Go, chess and
    shogi have a ``max_termination_steps``), except that some MinAtar games
    may run on (``pgx/core.py``, ``State.truncated``); pass
    ``max_episode_steps`` to `jit_env.make` for a limit.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_pgx_ids needs: pip install 'jit-env[pgx]'"``.
    """
    pgx = require("pgx", "register_pgx_ids")
    return register_suite(prefix, pgx.available_envs(),
                          "jit_env.compat._pgx:make_pgx", "pgx_id")
