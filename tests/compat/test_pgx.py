"""Tests of `jit_env.compat.from_pgx` against Pgx itself (skipped without pgx).

Reference: Pgx 2.6.0. Expected trajectories come from a plain Pgx loop (its own
``init`` / ``step``, jitted) that splits the keys as `from_pgx` documents:
``key, sub = split(key)`` before ``init(sub)`` and, for stochastic games, before
every ``step(state, action, sub)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, specs, wrappers
from jit_env.compat import _pgx, from_pgx, register_pgx_ids
from jit_env.testing import check_env

pgx = pytest.importorskip("pgx")

_GAMES: dict = {}


def _game(env_id):
    if env_id not in _GAMES:
        game = pgx.make(env_id)
        _GAMES[env_id] = (from_pgx(game), game)
    return _GAMES[env_id]


def _pgx_loop(game, key, actions, stochastic):
    """Pgx's own states (as NumPy) after init and each action, stopping after the end."""
    key, sub = jax.random.split(key)
    state = jax.jit(game.init)(sub)
    step = jax.jit(game.step)
    out = [jax.tree.map(np.asarray, state)]
    for action in actions:
        if stochastic:
            key, sub = jax.random.split(key)
            state = step(state, action, sub)
        else:
            state = step(state, action)
        out.append(jax.tree.map(np.asarray, state))
        if bool(state.terminated | state.truncated):
            break
    return out


# Eager stepping dispatches every op: slow, so only jit and vmap are in the quick run.
_VARIANTS = pytest.mark.parametrize(
    "variant", [pytest.param("eager", marks=pytest.mark.slow), "jit", "vmap"], indirect=True)


# X / O alternately at 0, 3, 1, 4, 2: the first player completes the top row on move 5.
_WIN = jnp.array([0, 3, 1, 4, 2], jnp.int32)


@_VARIANTS
def test_tic_tac_toe_trajectories_equal_pgx(variant):
    """Two keys (Pgx draws who starts), eagerly, jitted and vmapped (`variant`): every
    player's view, the acting player's mask, every player's reward, LAST with discount 0."""
    env, game = _game("tic_tac_toe")
    # Player 1 starts after key 0's reset, player 0 after key 2's.
    keys = jnp.concatenate([jax.random.key(0)[None], jax.random.key(2)[None]])
    state, first = variant(env.reset, keys)
    out = [first]
    for action in _WIN:
        state, ts = variant(env.step, state, jnp.broadcast_to(action, (2, 2)))
        out.append(ts)
    starters = set()
    for b in range(2):
        ref = _pgx_loop(game, keys[b], _WIN, stochastic=False)
        assert len(ref) == 6  # the game ends on the fifth move
        starters.add(int(ref[0].current_player))
        for t, pgx_state in enumerate(ref):
            ts = jax.tree.map(lambda x, b=b: np.asarray(x)[b], out[t])
            player = int(pgx_state.current_player)
            views = [np.asarray(game._observe(jax.tree.map(jnp.asarray, pgx_state), i))
                     for i in range(2)]
            np.testing.assert_array_equal(ts.observation["observation"], np.stack(views))
            np.testing.assert_array_equal(ts.observation["observation"][player],
                                          pgx_state.observation)
            mask = np.zeros((2, 9), bool)
            mask[player] = pgx_state.legal_action_mask
            np.testing.assert_array_equal(ts.observation["action_mask"], mask)
            last = t == len(ref) - 1
            assert int(ts.step_type) == (StepType.LAST if last else
                                         StepType.MID if t else StepType.FIRST)
            np.testing.assert_array_equal(ts.reward, pgx_state.rewards if t else [0.0, 0.0])
            np.testing.assert_array_equal(ts.discount, [0.0, 0.0] if last else [1.0, 1.0])
        # The first mover won: +1 for it and -1 for the other, both on the same (last) step.
        winner = int(ref[0].current_player)
        np.testing.assert_array_equal(ref[-1].rewards, np.where(np.arange(2) == winner, 1, -1))
    assert starters == {0, 1}  # both players start once: the agent axis is Pgx's player id


def test_illegal_and_out_of_range_actions_follow_pgx_rule():
    """Pgx terminates on an illegal action with -1 for the acting player (pgx/core.py,
    ``_step_with_illegal_action``); an action outside [0, 9) is treated the same way."""
    env, game = _game("tic_tac_toe")
    step = jax.jit(env.step)
    state, _ = jax.jit(env.reset)(jax.random.key(0))
    state, _ = step(state, jnp.array([4, 4], jnp.int32))  # someone takes the centre
    mover = int(state.env_state.current_player)
    expected = np.where(np.arange(2) == mover, -1.0, 1.0)
    for bad in (4, 9, -1, 1_000_000):
        _, ts = step(state, jnp.array([bad, bad], jnp.int32))
        assert int(ts.step_type) == StepType.LAST, bad
        np.testing.assert_array_equal(ts.reward, expected, err_msg=str(bad))
        np.testing.assert_array_equal(ts.discount, [0.0, 0.0])
    pgx_state = jax.jit(game.step)(state.env_state, jnp.int32(4))  # Pgx's own illegal move
    np.testing.assert_array_equal(pgx_state.rewards, expected)


@pytest.mark.slow
def test_minatar_breakout_equals_pgx_and_keeps_the_final_observation():
    """Single-agent view; sticky actions draw from the split step key. Played until Pgx's
    game ends; under jit_env's AutoReset the final observation is Pgx's terminal one."""
    env, game = _game("minatar-breakout")
    assert env.agent_ids is None
    assert env.observation_spec() == specs.Array((10, 10, 4), jnp.bool_, name="observation")
    assert env.action_spec() == specs.DiscreteArray(3, jnp.int32, name="action")
    actions = jnp.asarray(np.random.default_rng(0).integers(3, size=400), jnp.int32)
    key = jax.random.key(3)
    ref = _pgx_loop(game, key, actions, stochastic=True)
    assert bool(ref[-1].terminated)
    assert 10 < len(ref) < 400
    auto = wrappers.AutoReset(env)
    state, ts = jax.jit(env.reset)(key)
    auto_state, _ = jax.jit(auto.reset)(key)
    step, auto_step = jax.jit(env.step), jax.jit(auto.step)
    for t, pgx_state in enumerate(ref[1:]):
        state, ts = step(state, actions[t])
        auto_state, auto_ts = auto_step(auto_state, actions[t])
        np.testing.assert_array_equal(ts.observation, pgx_state.observation)
        assert float(ts.reward) == float(pgx_state.rewards[0])
    assert int(ts.step_type) == StepType.LAST
    assert float(ts.discount) == 0.0
    assert int(auto_ts.step_type) == StepType.FIRST
    assert float(auto_ts.discount) == 0.0
    np.testing.assert_array_equal(auto_ts.extras["final_observation"], ref[-1].observation)


def test_specs_and_options():
    env, _ = _game("tic_tac_toe")
    assert env.agent_ids == ("player_0", "player_1")
    assert env.observation_spec() == specs.Dict(
        observation=specs.Array((2, 3, 3, 2), jnp.bool_, name="observation"),
        action_mask=specs.Array((2, 9), jnp.bool_, name="action_mask"),
    )
    assert env.action_spec() == specs.DiscreteArray(np.array([9, 9]), jnp.int32, name="action")
    assert env.reward_spec().shape == (2,)
    assert env.discount_spec().shape == (2,)
    masked = from_pgx(_game("minatar-breakout")[1], action_mask=True)
    assert masked.observation_spec().as_spec_struct()["action_mask"].shape == (3,)
    with pytest.raises(ValueError, match="`action_mask` must be True .* 'tic_tac_toe'"):
        from_pgx(pgx.make("tic_tac_toe"), action_mask=False)
    with pytest.raises(TypeError, match="`action_mask` must be a bool or None, got 1"):
        from_pgx(pgx.make("tic_tac_toe"), action_mask=1)
    with pytest.raises(ValueError, match="`options` must be None"):
        env.reset(jax.random.key(0), options={"size": 3})


def test_register_lazily_and_bad_ids(monkeypatch):
    from jit_env.envs import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    for env_id in [i for i in _registry._REGISTRY if i.startswith("pgx/")]:
        del _registry._REGISTRY[env_id]
    env = jit_env.make("pgx/tic_tac_toe")  # registers every Pgx game on first use
    assert isinstance(env, _pgx.FromPgx)
    assert repr(env) == "from_pgx('tic_tac_toe')"
    assert register_pgx_ids() == tuple(sorted("pgx/" + i for i in pgx.available_envs()))
    sticky = jit_env.make("pgx/minatar-breakout", sticky_action_prob=0.0)
    assert sticky.pgx_env.sticky_action_prob == 0.0
    with pytest.raises(KeyError, match=r"No environment 'tic_tac_to' in suite 'pgx'.*tic_tac_toe"):
        jit_env.make("pgx/tic_tac_to")
    with pytest.raises(ValueError, match=r"`pgx_id` 'chekers' is not a Pgx environment.*'chess'"):
        _pgx.make_pgx("chekers")
    with pytest.raises(TypeError, match="`pgx_env` must be a pgx.Env, got str"):
        from_pgx("tic_tac_toe")

    def missing(_module, caller):
        raise ImportError(f"{caller} needs: pip install 'jit-env[pgx]'")

    monkeypatch.setattr(_pgx, "require", missing)
    with pytest.raises(ImportError, match=r"from_pgx needs: pip install 'jit-env\[pgx\]'"):
        from_pgx(pgx.make("tic_tac_toe"))
    with pytest.raises(ImportError, match=r"register_pgx_ids needs: pip install 'jit-env\[pgx\]'"):
        register_pgx_ids()


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_check_env_on_tic_tac_toe():
    """The non-slow subset of the every-id check below: the cheapest game to compile."""
    report = check_env(_game("tic_tac_toe")[0], num_steps=8, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(pgx.available_envs()))
def test_every_id_passes_check_env(env_id):
    report = check_env(from_pgx(pgx.make(env_id)), num_steps=20, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


@pytest.mark.slow
@pytest.mark.learning
def test_ppo_trains_on_pgx_minatar_breakout(ppo_run):
    """PPO on ``pgx/minatar-breakout`` (a [10, 10, 4] image: the CNN torso), CI-sized
    (`ppo_run`); Breakout pays >= 0 per step."""
    from jit_env.agents import PPOConfig

    config = PPOConfig(env="pgx/minatar-breakout", num_envs=4, num_steps=32, total_steps=2048,
                       update_epochs=1, num_minibatches=1)
    ppo_run(config, low=0.0)


def test_fixed_opponent_gives_the_learner_the_losers_reward():
    """`FixedOpponent` over a Pgx game: both sides take the first legal cell, so the first
    mover completes the 2-4-6 diagonal on move 7. The learner (player 0) gets +1 when it
    started, and -1 (paid on the opponent's winning move) when player 1 started."""
    def first_legal(observation):
        return jnp.argmax(observation["action_mask"]).astype(jnp.int32)

    opponent = wrappers.Opponent(init=lambda: (),
                                 act=lambda _p, c, obs, _key: (first_legal(obs), c))
    env = wrappers.FixedOpponent(_game("tic_tac_toe")[0], opponent, agent=0)
    assert env.agent_ids is None
    assert env.reward_spec().shape == ()
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    returns = {}
    for seed in (0, 2):  # player 1 starts after key 0's reset, player 0 after key 2's
        state, ts = reset(jax.random.key(seed))
        total, steps = 0.0, 0
        while int(ts.step_type) != StepType.LAST:
            state, ts = step(state, first_legal(ts.observation))
            total, steps = total + float(ts.reward), steps + 1
        assert steps == 7
        returns[seed] = total
    assert returns == {0: -1.0, 2: 1.0}
