"""Slime Volleyball against slimevolleygym 0.1.0's own game and baseline.

The reference trajectories in ``slime_data/slime_reference.npz`` were produced
by slimevolleygym's ``Game`` (float64) with
``slime_data/make_slime_reference.py`` (the command is in its docstring).
Every step of ours starts from the reference's state (cast to float32) and is
compared with the reference's next state.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import wrappers
from jit_env.envs import slime
from jit_env.envs.slime import _baseline, _game, _render
from jit_env.testing import check_env

DATA = np.load(pathlib.Path(__file__).with_name("slime_data") / "slime_reference.npz")
SCENARIOS = ("baseline", "random", "net", "fence", "wall", "ceiling", "jumps", "last_life")


def to_game(row: np.ndarray) -> _game.Game:
    f = np.float32
    return _game.Game(
        ball=jnp.asarray(row[0:5], f),
        agents=jnp.asarray(row[5:13].reshape(2, 4), f),
        lives=jnp.asarray(row[13:15], jnp.int32),
        delay=jnp.asarray(row[15], jnp.int32),
        relative=jnp.asarray(row[16:40].reshape(2, 12), f),
    )


def from_game(game: _game.Game) -> np.ndarray:
    return np.concatenate([
        np.asarray(game.ball, np.float64), np.asarray(game.agents).ravel(),
        np.asarray(game.lives), [float(game.delay)], np.asarray(game.relative).ravel(),
    ])


@jax.jit
def one_step(game: _game.Game, action: jax.Array, serve_ball: jax.Array):
    b = action > 0
    desired = _game.desired_velocities(b[:, 0], b[:, 1], b[:, 2])
    game, result = _game.step(game, desired)
    game = jax.lax.cond(result != 0, lambda g: _game.serve(g, serve_ball), lambda g: g, game)
    return game, result


def test_fixture_covers_the_edges():
    """The recorded trajectories contain what they are meant to test."""
    results = np.concatenate([DATA[f"{s}/results"] for s in SCENARIOS])
    assert (results == 1).any()
    assert (results == -1).any()
    assert DATA["last_life/states"][-1][13:15].min() == 0  # a match ended
    ceiling = DATA["ceiling/states"]
    assert np.any(np.diff(np.sign(ceiling[:, 4])) < 0)  # the ball's vy flipped at the top
    wall = DATA["wall/states"]
    assert np.any(np.diff(np.sign(wall[:, 3])) < 0)  # vx flipped at the right wall
    fence = DATA["fence/states"]
    assert np.any(np.diff(np.sign(fence[:, 3])) > 0)  # vx flipped at the fence


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_step_parity_with_slimevolleygym(scenario):
    states = DATA[f"{scenario}/states"]
    actions = DATA[f"{scenario}/actions"]
    results = DATA[f"{scenario}/results"]
    for t in range(len(actions)):
        game, result = one_step(
            to_game(states[t]), jnp.asarray(actions[t], jnp.int32), jnp.asarray(states[t + 1][:5],
                                                                                 jnp.float32)
        )
        assert int(result) == int(results[t]), (scenario, t)
        ours, ref = from_game(game), states[t + 1]
        np.testing.assert_array_equal(ours[13:16], ref[13:16], err_msg=f"{scenario} t={t}")
        # float32 against float64: positions up to 24 and velocities up to 22.5 carry
        # ~2e-6 absolute rounding per operation; the bounce loop adds up to 20 of them.
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4, err_msg=f"{scenario} t={t}")


def test_free_run_parity_over_the_random_game():
    """Ours from the first state only, fed the reference's actions and serves: stays on the
    reference's path for the whole 200 steps (several points and bounces)."""
    states, actions = DATA["random/states"], DATA["random/actions"]
    game = to_game(states[0])
    worst = 0.0
    for t in range(len(actions)):
        game, _ = one_step(game, jnp.asarray(actions[t], jnp.int32),
                           jnp.asarray(states[t + 1][:5], jnp.float32))
        worst = max(worst, float(np.max(np.abs(from_game(game) - states[t + 1]))))
    assert worst < 1e-2, worst


def test_baseline_matches_the_reference_forward_pass():
    states, outputs = DATA["baseline/states"], DATA["baseline/baseline_outputs"]
    actions = DATA["baseline/actions"][:, 0]
    carry = _baseline.baseline_initial_carry()
    forward = jax.jit(_baseline.baseline_forward)
    for t in range(len(outputs)):
        observation = jnp.asarray(states[t][16:28] / 10.0, jnp.float32)  # the left agent's
        buttons, carry = forward(carry, observation)
        # float32 tanh layer with |W| <= 16 over 15 inputs: ~1e-6 per step, contracted by tanh.
        np.testing.assert_allclose(np.asarray(carry), outputs[t], atol=2e-5, err_msg=f"t={t}")
        clear = np.abs(outputs[t][:3] - 0.75) > 1e-4
        np.testing.assert_array_equal(np.asarray(buttons)[clear], actions[t][clear])


def test_baseline_weights_are_slimevolleygyms_count():
    weight, bias = _baseline.baseline_weights()
    assert weight.size + bias.size == 112  # 105 weights + 7 biases (the "120" counts 8 unused)
    assert weight[0, 0] == np.float32(7.5719)
    assert bias[-1] == np.float32(-0.0685)


def test_buttons_to_discrete_matches_set_action():
    """Every one of the 8 button combinations maps to the table row with the same
    desired velocity (``Agent.setAction``, worked out here in NumPy)."""

    def set_action(f, b, j):
        vx = -17.5 if (f and not b) else (17.5 if (b and not f) else 0.0)
        return vx, 13.5 if j else 0.0

    for combo in np.ndindex(2, 2, 2):
        row = int(slime.buttons_to_discrete(jnp.asarray(combo)))
        assert set_action(*slime.ACTION_TABLE[row]) == set_action(*combo), combo


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_multi_agent_env_contract():
    env = jit_env.make("SlimeVolleyMultiAgent-v0")
    assert env.agent_ids == ("left", "right")
    check_env(env, num_steps=20, batch_size=2)


@pytest.mark.slow
def test_single_agent_view_contract():
    env = jit_env.make("SlimeVolley-v0")
    assert env.agent_ids is None
    assert env.observation_spec().shape == (12,)
    assert int(env.action_spec().num_values) == 6
    check_env(env, num_steps=20, batch_size=2)


def test_step_observation_reward_and_termination():
    """The env's TimeStep from the last-life reference state: the point ends the match."""
    env = slime.SlimeVolley("binary")
    states, actions = DATA["last_life/states"], DATA["last_life/actions"]
    state, _ = env.from_game(jax.random.key(0), to_game(states[0]))
    step = jax.jit(env.step)
    for t in range(len(actions)):
        state, ts = step(state, jnp.asarray(actions[t], jnp.int32))
        result = int(DATA["last_life/results"][t])
        np.testing.assert_array_equal(ts.reward, [-result, result])
        np.testing.assert_allclose(ts.observation, states[t + 1][16:40].reshape(2, 12) / 10,
                                   atol=1e-5)
    assert bool(ts.last())
    assert np.all(np.asarray(ts.discount) == 0)
    assert np.asarray(state.game.lives).min() == 0


def test_discrete_mode_equals_binary_mode_and_invalid_is_noop():
    key = jax.random.key(3)
    binary, discrete = slime.SlimeVolley("binary"), slime.SlimeVolley("discrete")
    sb, _ = binary.reset(key)
    sd, _ = discrete.reset(key)
    step_b, step_d = jax.jit(binary.step), jax.jit(discrete.step)
    for t in range(60):
        a = np.array([t % 6, (t * 5) % 6])
        sb, tb = step_b(sb, jnp.asarray(slime.ACTION_TABLE[a]))
        sd, td = step_d(sd, jnp.asarray(a, jnp.int32))
        np.testing.assert_array_equal(tb.observation, td.observation)
    s1, t1 = step_d(sd, jnp.array([7, -1], jnp.int32))
    s0, t0 = step_d(sd, jnp.array([0, 0], jnp.int32))
    np.testing.assert_array_equal(t1.observation, t0.observation)
    with pytest.raises(ValueError, match="shape"):
        discrete.step(sd, jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(TypeError, match="integer"):
        discrete.step(sd, jnp.zeros((2,), jnp.float32))


def test_serve_is_random_and_key_split_only_on_points():
    env = slime.SlimeVolley()
    state, _ = env.reset(jax.random.key(0))
    state2, _ = env.step(state, jnp.array([0, 0], jnp.int32))
    assert bool(jnp.all(jax.random.key_data(state2.key) == jax.random.key_data(state.key)))
    balls = jax.vmap(lambda k: env.reset(k)[0].game.ball)(jax.random.split(jax.random.key(1), 4000))
    vx, vy = np.asarray(balls[:, 3]), np.asarray(balls[:, 4])
    assert -20 <= vx.min() < -19.5
    assert 19.5 < vx.max() < 20
    assert 10 <= vy.min() < 10.1
    assert 24.9 < vy.max() < 25
    assert abs(vx.mean()) < 0.6
    assert abs(vy.mean() - 17.5) < 0.3


def test_vmap_over_many_games_and_per_agent_episode_statistics():
    env = wrappers.EpisodeStatistics(
        wrappers.VmapAutoReset(jit_env.make("SlimeVolleyMultiAgent-v0", max_episode_steps=50), 64)
    )
    state, ts = env.reset(jax.random.key(0))
    assert ts.observation.shape == (64, 2, 12)
    assert ts.reward.shape == (64, 2)

    def body(carry, key):
        state, total = carry
        action = jax.random.randint(key, (64, 2), 0, 6, jnp.int32)
        state, ts = env.step(state, action)
        return (state, total + ts.reward), ts.extras["episode_return"]

    (state, total), returns = jax.jit(lambda s: jax.lax.scan(
        body, (s, jnp.zeros((64, 2))), jax.random.split(jax.random.key(1), 50)))(state)
    assert returns.shape == (50, 64, 2)
    np.testing.assert_array_equal(returns[-1], total)  # every game ended at step 50
    np.testing.assert_array_equal(returns[-1, :, 0], -returns[-1, :, 1])  # zero-sum


def test_render():
    env = slime.SlimeVolley(width=240)
    state, _ = env.reset(jax.random.key(0))
    image = np.asarray(jax.jit(env.render)(state))
    assert image.shape == (100, 240, 3)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image[-1, 120], _render.GROUND_COLOR)  # bottom row: ground
    np.testing.assert_array_equal(image[50, 5], _render.BACKGROUND_COLOR)
    # Ball at (0, 12): pixel column 120, row 100 - 12 * 5 = 40.
    np.testing.assert_array_equal(image[39, 120], _render.BALL_COLOR)
    # Right agent's body: centre x = 12 -> column 180, just above the ground.
    np.testing.assert_array_equal(image[100 - 9, 180 - 5], _render.AGENT_COLORS[1])
    coins = (image[:20] == np.array(_render.COIN_COLOR)).all(-1).sum()
    assert coins > 0


@pytest.mark.parametrize("mode", ["binary", "discrete"])
def test_single_agent_view_is_the_game_with_the_baseline_on_the_left(mode, bits_equal):
    """SlimeVolley-v0 equals the two-player game driven by hand: the baseline's buttons
    from the left agent's previous observation, its recurrent outputs carried."""
    view = slime.slime_volley_vs_baseline(mode)
    game = slime.SlimeVolley(mode)
    key = jax.random.key(7)
    vstate, vts = view.reset(key)
    gstate = vstate.inner  # the same game state, reached through reset's key split
    _, gts = game.from_game(gstate.key, gstate.game)
    carry = _baseline.baseline_initial_carry()
    vstep, gstep = jax.jit(view.step), jax.jit(game.step)
    rng = np.random.default_rng(0)
    for _ in range(80):
        buttons, carry = _baseline.baseline_forward(carry, gts.observation[0])
        left = buttons if mode == "binary" else slime.buttons_to_discrete(buttons)
        right = (rng.integers(0, 2, 3) if mode == "binary" else rng.integers(0, 6)).astype(np.int32)
        vstate, vts = vstep(vstate, jnp.asarray(right))
        gstate, gts = gstep(gstate, jnp.stack([left, jnp.asarray(right)]))
        bits_equal(vts.observation, gts.observation[1])
        assert float(vts.reward) == float(gts.reward[1])


def test_observations_are_mirrored_for_the_left_agent_by_hand():
    """``Agent.updateState`` worked out by hand for one asymmetric position: each agent
    sees (x, y, vx, vy) of itself, the ball and its opponent with x and vx multiplied by
    its ``dir`` (the opponent's by ``-dir``), divided by 10; left ``dir = -1``."""
    ball = jnp.array([3.0, 7.0, 2.5, -4.0, 6.0], jnp.float32)  # x, y, prev_x, vx, vy
    agents = jnp.array([[-9.0, 2.0, 1.5, -3.0], [14.0, 1.5, -2.0, 0.0]], jnp.float32)
    game = _game.Game(ball, agents, jnp.array([5, 5], jnp.int32), jnp.int32(0),
                      _game.relative_states(ball, agents))
    _, ts = slime.SlimeVolley().from_game(jax.random.key(0), game)
    left = [9.0, 2.0, -1.5, -3.0, -3.0, 7.0, 4.0, 6.0, 14.0, 1.5, -2.0, 0.0]
    right = [14.0, 1.5, -2.0, 0.0, 3.0, 7.0, -4.0, 6.0, 9.0, 2.0, -1.5, -3.0]
    np.testing.assert_allclose(ts.observation, np.array([left, right]) / 10, rtol=1e-6)
    # The mirror image of the position (x, vx negated, sides swapped) swaps the two views.
    flip = jnp.array([[-1.0, 1.0, -1.0, 1.0]] * 2, jnp.float32)
    mirrored_agents = (agents * flip)[::-1]
    mirrored_ball = ball * jnp.array([-1.0, 1.0, -1.0, -1.0, 1.0], jnp.float32)
    np.testing.assert_allclose(_game.relative_states(mirrored_ball, mirrored_agents),
                               _game.relative_states(ball, agents)[::-1], rtol=1e-6)


def test_reset_and_step_agree_eager_jit_and_vmap():
    """Three games stepped eagerly, under jax.jit and under jax.vmap: the same values."""
    env = slime.SlimeVolley()
    keys = jax.random.split(jax.random.key(11), 3)
    # Eager steps dispatch op by op (slow): a few steps of three games.
    actions = np.random.default_rng(0).integers(0, 6, (4, 3, 2)).astype(np.int32)

    def play(reset, step):
        out = []
        for g in range(3):
            state, ts = reset(keys[g])
            seq = [(state.game, ts)]
            for t in range(len(actions)):
                state, ts = step(state, jnp.asarray(actions[t, g]))
                seq.append((state.game, ts))
            out.append(seq)
        return out

    eager = play(env.reset, env.step)
    jitted = play(jax.jit(env.reset), jax.jit(env.step))
    states, ts = jax.jit(jax.vmap(env.reset))(keys)
    vmapped = [[(jax.tree.map(lambda x, g=g: x[g], (states.game, ts)))] for g in range(3)]
    vstep = jax.jit(jax.vmap(env.step))
    for t in range(len(actions)):
        states, ts = vstep(states, jnp.asarray(actions[t]))
        for g in range(3):
            vmapped[g].append(jax.tree.map(lambda x, g=g: x[g], (states.game, ts)))
    for g in range(3):
        for a, b, c in zip(eager[g], jitted[g], vmapped[g]):
            for x, y, z in zip(jax.tree.leaves(a), jax.tree.leaves(b), jax.tree.leaves(c)):
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)
                np.testing.assert_allclose(x, z, rtol=1e-6, atol=1e-6)


def test_multi_agent_auto_reset_keeps_every_final_observation():
    """`VmapAutoReset` of the two-player game over whole matches (random play, ~650
    steps each): up to each game's first LAST step, ``extras["final_observation"]`` is
    the game's own ``[2, 12]`` observation (both agents' views), as stepping it without a
    reset gives; on that step (same-step mode: FIRST) the reward and discount are the
    match's last and the observation is the next match's first."""
    env = slime.SlimeVolley()
    n, steps = 4, 1100
    keys = jax.random.split(jax.random.key(5), n)
    actions = jax.random.randint(jax.random.key(6), (steps, n, 2), 0, 6, jnp.int32)
    auto = wrappers.VmapAutoReset(env)

    @jax.jit
    def run_both(keys, actions):
        def body(carry, action):
            a_state, r_state = carry
            a_state, a_ts = auto.step(a_state, action)
            r_state, r_ts = jax.vmap(env.step)(r_state, action)
            return (a_state, r_state), (a_ts, r_ts)

        a_state, a_ts0 = auto.reset(keys)
        r_state, r_ts0 = jax.vmap(env.reset)(keys)
        _, (a_ts, r_ts) = jax.lax.scan(body, (a_state, r_state), actions)
        return a_ts0, r_ts0, a_ts, r_ts

    a_ts0, r_ts0, a_ts, r_ts = run_both(keys, actions)
    np.testing.assert_array_equal(a_ts0.observation, r_ts0.observation)
    last = np.asarray(r_ts.step_type) == 2
    assert last.any(axis=0).all()  # every match ended within the scan
    first_end = last.argmax(axis=0)
    final = np.asarray(a_ts.extras["final_observation"])
    assert final.shape == (steps, n, 2, 12)
    for g in range(n):
        end = int(first_end[g])
        np.testing.assert_array_equal(final[: end + 1, g], np.asarray(r_ts.observation)[: end + 1, g])
        np.testing.assert_array_equal(np.asarray(a_ts.reward)[: end + 1, g],
                                      np.asarray(r_ts.reward)[: end + 1, g])
        # Same-step mode: FIRST, with the match's terminal reward and discount 0.
        assert int(a_ts.step_type[end, g]) == 0
        np.testing.assert_array_equal(np.asarray(a_ts.discount)[end, g], [0.0, 0.0])
        # The returned observation is the next match's serve: both agents at x = +-12.
        np.testing.assert_allclose(np.asarray(a_ts.observation)[end, g, :, 0], [1.2, 1.2])
        assert not np.array_equal(np.asarray(a_ts.observation)[end, g], final[end, g])
