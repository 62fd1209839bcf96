"""Observation encoders: flatten/concat against NumPy, the CNN against a NumPy convolution,
errors for unsupported leaves, and PPO learning from Dict and image observations."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import _core, specs
from jit_env.agents import PPOConfig, make_ppo, make_trainer
from jit_env.agents import encoders as enc
from jit_env.agents._loop import evaluate_policy
from jit_env.agents.a2c import A2CConfig, make_a2c
from jit_env.agents.dqn import DQNConfig, make_dqn
from jit_env.agents.networks import ActorCritic
from jit_env.agents.recurrent_ppo import RecurrentPPOConfig, make_recurrent_ppo
from jit_env.envs import _registry

DICT_SPEC = specs.Dict({
    "pos": specs.Array((2,), jnp.int32),
    "goal": specs.Array((2,), jnp.int32),
    "vel": specs.Array((2, 3), jnp.float32),
})


def _env_spec(obs_spec, num_actions=4):
    return specs.EnvironmentSpec(
        observations=obs_spec, actions=specs.DiscreteArray(num_actions, dtype=jnp.int32),
        rewards=specs.Array((), jnp.float32),
        discounts=specs.BoundedArray((), jnp.float32, 0.0, 1.0))


# ------------------------------------------------------------ flatten / concat --
def test_encode_observation_is_the_numpy_concatenation_in_key_order(variant):
    rng = np.random.default_rng(0)
    obs = {"pos": rng.integers(-5, 5, (3, 2)).astype(np.int32),
           "goal": rng.integers(-5, 5, (3, 2)).astype(np.int32),
           "vel": rng.normal(size=(3, 2, 3)).astype(np.float32)}
    plan = enc.plan_encoder(DICT_SPEC)
    assert plan.kinds == ("flat", "flat", "flat")
    assert plan.flat_size == 10
    out = variant(lambda o: enc.encode_observation(plan, o), obs)
    # Sorted keys (goal, pos, vel), each flattened; ints become exact float32.
    expected = np.concatenate([obs["goal"], obs["pos"], obs["vel"].reshape(3, 6)], axis=1)
    np.testing.assert_array_equal(np.asarray(out), expected.astype(np.float32))
    assert out.dtype == jnp.float32


def test_encode_observation_of_one_array_is_a_reshape_with_any_batch_axes():
    plan = enc.plan_encoder(specs.Array((3, 4), jnp.float32))
    x = np.arange(2 * 5 * 12, dtype=np.float32).reshape(2, 5, 3, 4)
    np.testing.assert_array_equal(np.asarray(enc.encode_observation(plan, x)),
                                  x.reshape(2, 5, 12))


def test_flat_array_observation_uses_the_plain_actor_critic():
    net = enc.make_actor_critic_network(PPOConfig(), specs.Array((4,), jnp.float32), 2, False,
                                        algo="PPO")
    assert type(net.module) is ActorCritic
    params = net.module.init(jax.random.PRNGKey(0), net.example)
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 4))
    direct = ActorCritic(2, False, (64, 64), "tanh").apply(params, obs)
    jax.tree.map(np.testing.assert_array_equal, net.module.apply(params, net.prepare(obs)), direct)


def test_tuple_observation_with_scalar_leaf():
    spec = specs.Tuple(specs.Array((2,), jnp.float32), specs.DiscreteArray(3, dtype=jnp.int32))
    plan = enc.plan_encoder(spec)
    out = enc.encode_observation(plan, (jnp.array([[1.0, 2.0]]), jnp.array([2])))
    np.testing.assert_array_equal(np.asarray(out), [[1.0, 2.0, 2.0]])


# ----------------------------------------------------------------------- CNN --
def _np_conv_same(x, kernel, bias):
    """NumPy loop: 'SAME' 2-D convolution (cross-correlation), stride 1, zero padding."""
    h, w, _ = x.shape
    k = kernel.shape[0]
    pad = (k - 1) // 2
    xp = np.pad(x, ((pad, k - 1 - pad), (pad, k - 1 - pad), (0, 0)))
    out = np.zeros((h, w, kernel.shape[3]), np.float64)
    for i in range(h):
        for j in range(w):
            out[i, j] = np.einsum("abc,abcd->d", xp[i:i + k, j:j + k], kernel) + bias
    return out


def test_cnn_layer_matches_a_numpy_convolution():
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 3)).astype(np.float32)
    cnn = enc.CNN(channels=(2,), kernel_size=3, stride=1, activation="silu")
    params = cnn.init(jax.random.PRNGKey(0), x[0])
    kernel = np.asarray(params["params"]["Conv_0"]["kernel"], np.float64)
    bias = np.asarray(params["params"]["Conv_0"]["bias"], np.float64) + 0.3
    params = jax.tree.map(lambda a: a, params)
    params["params"]["Conv_0"]["bias"] = jnp.asarray(bias, jnp.float32)
    out = np.asarray(cnn.apply(params, x))
    for b in range(2):
        z = _np_conv_same(x[b].astype(np.float64), kernel, bias)
        silu = z / (1.0 + np.exp(-z))
        # float32 sums of 27 products: 1e-5 relative is ample.
        np.testing.assert_allclose(out[b], silu.reshape(-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("stride", "side"), [(1, 10), (2, 3)])
def test_cnn_shapes(stride, side):
    cnn = enc.CNN(channels=(32, 32), kernel_size=3, stride=stride)
    params = cnn.init(jax.random.PRNGKey(0), jnp.zeros((10, 10, 4)))
    assert params["params"]["Conv_0"]["kernel"].shape == (3, 3, 4, 32)
    assert params["params"]["Conv_1"]["kernel"].shape == (3, 3, 32, 32)
    # 'SAME' with stride s maps a side n to ceil(n / s): 10 -> 5 -> 3 for s = 2.
    out = cnn.apply(params, jnp.zeros((2, 7, 10, 10, 4)))
    assert out.shape == (2, 7, side * side * 32)


def test_observation_encoder_concatenates_cnn_features_and_flat_leaves():
    spec = specs.Dict({"image": specs.Array((5, 5, 2), jnp.uint8),
                       "vec": specs.Array((3,), jnp.float32)})
    plan = enc.plan_encoder(spec)
    assert plan.kinds == ("cnn", "flat")
    encoder = enc.ObservationEncoder(plan, channels=(4,))
    params = encoder.init(jax.random.PRNGKey(0), plan.example())
    rng = np.random.default_rng(2)
    obs = {"image": rng.integers(0, 2, (6, 5, 5, 2)).astype(np.uint8),
           "vec": rng.normal(size=(6, 3)).astype(np.float32)}
    out = np.asarray(encoder.apply(params, obs))
    assert out.shape == (6, 5 * 5 * 4 + 3)
    image_features = enc.CNN(channels=(4,)).apply({"params": params["params"]["cnn_0"]},
                                                  obs["image"].astype(np.float32))
    np.testing.assert_array_equal(out[:, :100], np.asarray(image_features))
    np.testing.assert_array_equal(out[:, 100:], obs["vec"])


def test_torso_choices():
    image = specs.Array((6, 6, 2), jnp.float32)
    assert enc.plan_encoder(image).kinds == ("cnn",)
    assert enc.plan_encoder(image, "mlp").kinds == ("flat",)  # gymnax-blines' flatten_3d
    assert enc.plan_encoder(image, "cnn").kinds == ("cnn",)
    net = enc.make_actor_critic_network(PPOConfig(), image, 3, False, algo="PPO")
    assert isinstance(net.module, enc.EncodedActorCritic)
    params = net.module.init(jax.random.PRNGKey(0), net.example)
    # Separate torsos for the actor and the critic (Stoix cnn.yaml).
    assert {"actor_encoder", "critic_encoder", "actor", "critic"} <= set(params["params"])
    logits, value = net.module.apply(params, jnp.zeros((4, 6, 6, 2)))
    assert logits.shape == (4, 3)
    assert value.shape == (4,)


# -------------------------------------------------------------------- errors --
@pytest.mark.parametrize(
    ("spec", "torso", "message"),
    [
        (specs.Array((4,), jnp.float32), "cnn", "`torso`='cnn' needs an image leaf of rank 3"),
        (specs.Array((4,), jnp.float32), "conv", "`torso` must be one of"),
        (specs.Dict({"a": specs.Array((0, 2), jnp.float32)}), "auto",
         r"\['a'\] has zero-size shape \(0, 2\)"),
        (specs.Dict({"b": specs.Batched(specs.Array((2,), jnp.float32), 3)}), "auto",
         r"\['b'\] is a Batched"),
    ],
)
def test_unsupported_observations_raise_naming_the_leaf(spec, torso, message):
    with pytest.raises(ValueError, match=message):
        enc.plan_encoder(spec, torso, algo="PPO")


def test_agent_factories_raise_on_unsupported_leaves():
    bad = _env_spec(specs.Dict({"b": specs.Batched(specs.Array((2,), jnp.float32), 3)}))
    with pytest.raises(ValueError, match="PPO cannot encode the observation spec"):
        make_ppo(PPOConfig(), bad)
    with pytest.raises(ValueError, match="A2C cannot encode the observation spec"):
        make_a2c(A2CConfig(), bad)
    image = _env_spec(specs.Array((5, 5, 2), jnp.float32))
    with pytest.raises(ValueError, match="recurrent PPO reads flattened observations.*"
                                         "use torso='mlp'"):
        make_recurrent_ppo(RecurrentPPOConfig(), image)
    make_recurrent_ppo(RecurrentPPOConfig(torso="mlp"), image)  # flattened: accepted


def test_dqn_q_network_has_a_cnn_torso_for_images():
    image = _env_spec(specs.Array((5, 5, 2), jnp.float32))
    agent = make_dqn(DQNConfig(cnn_channels=(4,)), image)
    state = agent.init(jax.random.PRNGKey(0))
    assert state.params["params"]["encoder"]["cnn_0"]["Conv_0"]["kernel"].shape == (3, 3, 2, 4)
    assert state.params["params"]["mlp"]["Dense_0"]["kernel"].shape == (5 * 5 * 4, 120)
    # The replay buffer stores the raw observation; the mlp torso flattens the image.
    assert state.extra.replay.data["observation"].shape == (10_000, 5, 5, 2)
    flat = make_dqn(DQNConfig(torso="mlp"), image).init(jax.random.PRNGKey(0))
    assert flat.params["params"]["Dense_0"]["kernel"].shape == (50, 120)


def test_observation_of_the_wrong_shape_raises():
    plan = enc.plan_encoder(DICT_SPEC)
    obs = {"pos": jnp.zeros((3, 2)), "goal": jnp.zeros((3, 3)), "vel": jnp.zeros((3, 2, 3))}
    with pytest.raises(ValueError, match=r"leaf 0 has shape \(3, 3\), expected \[..., 2\]"):
        enc.encode_observation(plan, obs)
    with pytest.raises(ValueError, match="does not have the observation spec's structure"):
        enc.encode_observation(plan, {"pos": jnp.zeros(2)})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"torso": "conv"}, "`torso` must be one of"),
     ({"cnn_channels": ()}, "`cnn_channels` must be non-empty and positive"),
     ({"cnn_stride": 0}, "`cnn_stride` must be positive"),
     ({"cnn_activation": "swish"}, "`cnn_activation` must be one of")],
)
def test_config_validation_of_the_encoder_fields(overrides, message):
    with pytest.raises(ValueError, match=f"invalid PPOConfig: .*{message}"):
        dataclasses.replace(PPOConfig(), **overrides).validate()
    with pytest.raises(ValueError, match=f"invalid A2CConfig: .*{message}"):
        dataclasses.replace(A2CConfig(), **overrides).validate()


# ------------------------------------------------- learning from composites --
SIZE = 5
MAX_STEPS = 12
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], np.int32)


class GridState(NamedTuple):
    key: jax.Array
    pos: jax.Array
    goal: jax.Array


class GoalGrid(_core.Environment):
    """A 5x5 grid: move (up/down/left/right, clipped) to the goal; reward 1 on it (terminal).

    Observation ``{"pos": int32[2], "goal": int32[2]}``, or with ``image=True`` a
    float32 ``[5, 5, 2]`` image (channel 0 the agent, 1 the goal), MinAtar-style.
    """

    def __init__(self, image: bool = False):
        super().__init__()
        self.image = image

    def reset(self, key, *, options=None):
        del options
        key, k1, k2 = jax.random.split(key, 3)
        a = jax.random.randint(k1, (), 0, SIZE * SIZE)
        b = jax.random.randint(k2, (), 0, SIZE * SIZE - 1)
        b = b + (b >= a)  # a different cell
        pos = jnp.stack([a // SIZE, a % SIZE]).astype(jnp.int32)
        goal = jnp.stack([b // SIZE, b % SIZE]).astype(jnp.int32)
        state = GridState(key, pos, goal)
        return state, _core.restart(self._observation(state))

    def step(self, state, action):
        pos = jnp.clip(state.pos + jnp.asarray(MOVES)[action], 0, SIZE - 1)
        state = state._replace(pos=pos)
        done = jnp.all(pos == state.goal)
        reward = done.astype(jnp.float32)
        obs = self._observation(state)
        last, mid = _core.termination(reward, obs), _core.transition(reward, obs)
        return state, jax.tree.map(lambda x, y: jnp.where(done, x, y), last, mid)

    def _observation(self, state):
        if not self.image:
            return {"pos": state.pos, "goal": state.goal}
        cells = jnp.arange(SIZE)
        def plane(p):
            return ((cells[:, None] == p[0]) & (cells[None, :] == p[1])).astype(jnp.float32)
        return jnp.stack([plane(state.pos), plane(state.goal)], axis=-1)

    def observation_spec(self):
        if self.image:
            return specs.BoundedArray((SIZE, SIZE, 2), jnp.float32, 0.0, 1.0)
        return specs.Dict({"pos": specs.BoundedArray((2,), jnp.int32, 0, SIZE - 1),
                           "goal": specs.BoundedArray((2,), jnp.int32, 0, SIZE - 1)})

    def action_spec(self):
        return specs.DiscreteArray(4, dtype=jnp.int32)

    def reward_spec(self):
        return specs.Array((), jnp.float32)

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0)


def _random_success_rate(episodes: int = 4000) -> float:
    """NumPy loop: the fraction of episodes a uniformly random policy reaches the goal."""
    rng = np.random.default_rng(0)
    wins = 0
    for _ in range(episodes):
        a, b = rng.choice(SIZE * SIZE, 2, replace=False)
        pos, goal = np.array(divmod(a, SIZE)), np.array(divmod(b, SIZE))
        for _ in range(MAX_STEPS):
            pos = np.clip(pos + MOVES[rng.integers(4)], 0, SIZE - 1)
            if (pos == goal).all():
                wins += 1
                break
    return wins / episodes


@pytest.fixture
def grid_envs(monkeypatch):
    """Registers GoalGrid-dict-v0 and GoalGrid-image-v0 for this test only."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    _registry.register("GoalGrid-dict-v0", GoalGrid, max_episode_steps=MAX_STEPS)
    _registry.register("GoalGrid-image-v0", GoalGrid, max_episode_steps=MAX_STEPS, image=True)


def _train_and_evaluate(config, factory):
    trainer = make_trainer(config, factory)

    def run(key):
        state, metrics = trainer.run(trainer.init(key), config.num_updates)
        returns, _ = evaluate_policy(config, trainer.agent, state.agent_state, state.env_state,
                                     jax.random.PRNGKey(7), episodes=256)
        return returns.mean(), metrics

    return jax.jit(run)(jax.random.PRNGKey(0))


LEARN = PPOConfig(num_envs=16, num_steps=32, total_steps=16 * 32 * 40, learning_rate=1e-3,
                  gamma=0.9, hidden_sizes=(64, 64))


@pytest.mark.slow
@pytest.mark.usefixtures("grid_envs")
def test_ppo_learns_from_dict_observations():
    random_rate = _random_success_rate()
    assert 0.2 < random_rate < 0.6  # the task is not trivial for a random policy
    success, metrics = _train_and_evaluate(
        dataclasses.replace(LEARN, env="GoalGrid-dict-v0"), make_ppo)
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    # Greedy success over 256 fresh episodes; random is ~0.4 (NumPy loop above).
    assert float(success) > random_rate + 0.4, (float(success), random_rate)


@pytest.mark.slow
@pytest.mark.usefixtures("grid_envs")
def test_ppo_learns_with_the_cnn_torso_from_image_observations():
    random_rate = _random_success_rate()
    config = dataclasses.replace(LEARN, env="GoalGrid-image-v0", cnn_channels=(8, 8))
    trainer = make_trainer(config, make_ppo)
    params = trainer.agent.init(jax.random.PRNGKey(0)).params["params"]
    assert params["actor_encoder"]["cnn_0"]["Conv_0"]["kernel"].shape == (3, 3, 2, 8)
    success, _ = _train_and_evaluate(config, make_ppo)
    assert float(success) > random_rate + 0.4, (float(success), random_rate)


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
@pytest.mark.usefixtures("grid_envs")
@pytest.mark.parametrize("algo", ["ppo", "a2c", "recurrent_ppo", "dqn"])
def test_one_update_on_dict_observations_jit_and_vmap_over_seeds(algo):
    if algo == "ppo":
        config, factory = PPOConfig(env="GoalGrid-dict-v0", num_envs=4, num_steps=8,
                                    num_minibatches=2, total_steps=32), make_ppo
    elif algo == "dqn":
        config, factory = DQNConfig(env="GoalGrid-dict-v0", num_envs=4, num_steps=8,
                                    total_steps=32, learning_starts=0, buffer_size=64,
                                    batch_size=8, train_frequency=8,
                                    target_network_frequency=16, hidden_sizes=(8,)), make_dqn
    elif algo == "recurrent_ppo":
        config, factory = RecurrentPPOConfig(env="GoalGrid-dict-v0", num_envs=4, num_steps=8,
                                             num_minibatches=2, total_steps=32,
                                             hidden_sizes=(8,), rnn_size=8,
                                             head_sizes=(8,)), make_recurrent_ppo
    else:
        config, factory = A2CConfig(env="GoalGrid-dict-v0", num_envs=4, num_steps=8,
                                    total_steps=32), make_a2c
    trainer = make_trainer(config, factory)

    def one(key):
        return trainer.update(trainer.init(key))

    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    single = jax.jit(one)(keys[1])
    assert np.isfinite(np.asarray(single[1]["loss"]))
    if algo != "ppo":
        return  # vmap over seeds is the contract tests' (test_contract.py); once here is enough
    batched = jax.jit(jax.vmap(one))(keys)
    # vmap over seeds computes each seed as alone (float32; batched matmuls may
    # reassociate: 1e-5).
    jax.tree.map(lambda b, s: np.testing.assert_allclose(np.asarray(b)[1], np.asarray(s),
                                                         rtol=1e-5, atol=1e-6),
                 batched[1], single[1])
