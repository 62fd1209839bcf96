"""PPO: config validation, act's extras, devices, learning (the contract: test_contract.py)."""

from __future__ import annotations

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


def test_act_extras_and_shapes():
    trainer = agents.make_trainer(TINY, agents.make_ppo)
    state = trainer.init(jax.random.PRNGKey(0))
    action, _, extras = trainer.agent.act(state.agent_state.params, state.timestep, None,
                                          jax.random.PRNGKey(1))
    assert action.shape == (4,)
    assert action.dtype == jnp.int32
    assert extras["log_prob"].shape == (4,)
    assert extras["value"].shape == (4,)
    assert bool(jnp.all(extras["log_prob"] <= 0))


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_two_devices_match_one():
    code = textwrap.dedent(
        """
        import dataclasses, os, json
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
        try:
            agents.make_trainer(dataclasses.replace(cfg, num_envs=3, num_steps=64),
                                agents.make_ppo, mesh=mesh)
            error = ""
        except ValueError as e:
            error = str(e)
        data = Mesh(np.array(jax.devices()), ("data",))
        s3, m3 = jax.jit(lambda k: agents.train(cfg, k, mesh=data, axis_name="data"))(key)
        try:
            agents.train(cfg, key, mesh=data)
            axis_error = ""
        except ValueError as e:
            axis_error = str(e)
        print(json.dumps({"loss1": np.asarray(m1["loss"]).tolist(),
                          "loss2": np.asarray(m2["loss"]).tolist(), "devices": sorted(shards),
                          "loss3": np.asarray(m3["loss"]).tolist(), "error": error,
                          "axis_error": axis_error}))
        """
    )
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == [2]
    # `Shard` in the training stack checks the batch against the mesh at construction.
    assert "num=3" in result["error"]
    assert "not divisible by the 2 devices" in result["error"]
    # Another axis name is passed through; the wrong one is named, with the mesh's axes.
    np.testing.assert_allclose(result["loss3"], result["loss2"], rtol=1e-6)
    assert "`axis_name`='batch' is not an axis of the mesh" in result["axis_error"]
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
