"""PPO: config validation, determinism, jit-once, vmap over seeds, devices, learning."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import agents
from jit_env.agents import PPOConfig

TINY = PPOConfig(num_envs=4, num_steps=16, total_steps=4 * 16 * 3, update_epochs=2,
                 num_minibatches=2, hidden_sizes=(16,))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_envs": 0}, "`num_envs` must be positive"),
        ({"num_minibatches": 3}, "`num_minibatches`=3 must divide"),
        ({"gamma": 1.5}, "`gamma` must be in"),
        ({"total_steps": 10}, "less than one update"),
        ({"activation": "swish"}, "`activation` must be one of"),
    ],
)
def test_config_validation_names_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **overrides).validate()


def test_train_is_deterministic_and_jits_once(run_twice_jitted):
    s1, m1 = run_twice_jitted(lambda key: agents.train(TINY, key))
    assert m1["loss"].shape == (TINY.num_updates,)
    assert int(s1.agent_state.step) == TINY.num_updates * TINY.update_epochs * TINY.num_minibatches


def test_seeds_vmap_and_equal_single_runs(assert_seeds_match_single_runs):
    assert_seeds_match_single_runs(lambda k: agents.train(TINY, k))


def test_chunked_run_equals_uninterrupted():
    trainer = agents.make_trainer(TINY, agents.make_ppo)
    key = jax.random.PRNGKey(2)
    whole, _ = jax.jit(lambda s: trainer.run(s, 3))(trainer.init(key))
    one = jax.jit(lambda s: trainer.run(s, 1))
    state = trainer.init(key)
    for _ in range(3):
        state, _ = one(state)
    for a, b in zip(jax.tree.leaves(whole.agent_state), jax.tree.leaves(state.agent_state)):
        np.testing.assert_array_equal(a, b)


def test_act_extras_and_shapes():
    trainer = agents.make_trainer(TINY, agents.make_ppo)
    state = trainer.init(jax.random.PRNGKey(0))
    action, _, extras = trainer.agent.act(state.agent_state.params, state.timestep, None,
                                          jax.random.PRNGKey(1))
    assert action.shape == (4,) and action.dtype == jnp.int32
    assert extras["log_prob"].shape == (4,) and extras["value"].shape == (4,)
    assert bool(jnp.all(extras["log_prob"] <= 0))


def test_two_devices_match_one():
    code = textwrap.dedent(
        """
        import os, json
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        import jax, numpy as np
        from jax.sharding import Mesh
        from jit_env import agents
        cfg = agents.PPOConfig(num_envs=4, num_steps=16, total_steps=192, update_epochs=2,
                               num_minibatches=2, hidden_sizes=(16,))
        assert len(jax.devices()) == 2
        mesh = Mesh(np.array(jax.devices()), ("batch",))
        key = jax.random.PRNGKey(0)
        s1, m1 = jax.jit(lambda k: agents.train(cfg, k))(key)
        s2, m2 = jax.jit(lambda k: agents.train(cfg, k, mesh=mesh))(key)
        shards = {len(x.sharding.device_set) for x in jax.tree.leaves(s2.env_state)
                  if getattr(x, "ndim", 0) >= 1 and x.shape[0] == 4}
        print(json.dumps({"loss1": np.asarray(m1["loss"]).tolist(),
                          "loss2": np.asarray(m2["loss"]).tolist(), "devices": sorted(shards)}))
        """
    )
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == [2]
    # Sharded reductions sum in a different order: equal to float32 rounding.
    np.testing.assert_allclose(result["loss1"], result["loss2"], rtol=1e-3, atol=1e-4)


@pytest.mark.learning
def test_ppo_learns_cartpole_quickly():
    cfg = PPOConfig(num_envs=8, num_steps=64, total_steps=60_000, update_epochs=4,
                    num_minibatches=4, learning_rate=1e-3)
    _, metrics = jax.jit(lambda k: agents.train(cfg, k))(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    final = np.nanmean(returns[-5:])
    # A uniformly random policy averages about 22 on CartPole-v1.
    assert final > 100.0, returns
