"""Domain randomisation: ``env_params`` parsing, per-environment draws, reproducibility,
parameters kept across auto-resets, and the round trip through config.json."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.agents import PPOConfig, make_ppo, make_trainer
from jit_env.agents._env_params import parse_env_params, ranges_sampler
from jit_env.envs.classic_control.cartpole import CartPoleParams

TINY = PPOConfig(num_envs=8, num_steps=16, total_steps=8 * 16 * 2, num_minibatches=2,
                 hidden_sizes=(8,))


def test_parse_env_params():
    assert parse_env_params(["gravity=9.8,12.0", " length = 0.7"]) == {
        "gravity": (9.8, 12.0), "length": (0.7, 0.7)}
    assert parse_env_params([]) == {}


@pytest.mark.parametrize(
    ("entries", "message"),
    [(["gravity"], "must be NAME=VALUE or NAME=LOW,HIGH"),
     (["=1"], "must be NAME=VALUE or NAME=LOW,HIGH"),
     (["gravity=a"], "expected one or two finite numbers after '=', got 'a'"),
     (["gravity=1,2,3"], "expected one or two finite numbers"),
     (["gravity=nan"], "expected one or two finite numbers"),
     (["gravity=2,1"], "LOW 2.0 is greater than HIGH 1.0"),
     (["gravity=1", "gravity=2"], "names 'gravity' twice")],
)
def test_bad_entries_raise_naming_the_entry(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_env_params(entries)
    with pytest.raises(ValueError, match=f"invalid PPOConfig: .*{message}"):
        dataclasses.replace(TINY, env_params=tuple(entries)).validate()


class _Params(NamedTuple):
    scale: float = 1.0
    size: int = 3
    offset: float = -2.0


def test_ranges_sampler_draws_per_environment_within_bounds():
    sample = ranges_sampler(_Params(), parse_env_params(["scale=0.5,1.5", "size=2,4"]), "toy")
    params = jax.jit(sample, static_argnums=1)(jax.random.PRNGKey(0), 1000)
    scale, size, offset = (np.asarray(x) for x in params)
    assert scale.shape == size.shape == offset.shape == (1000,)
    assert scale.dtype == np.float32
    assert (scale >= 0.5).all()
    assert (scale < 1.5).all()
    # Uniform on [0.5, 1.5): mean 1, std 1/sqrt(12); 1000 draws -> 5 sigma ~ 0.05.
    assert abs(scale.mean() - 1.0) < 0.05
    assert len(np.unique(scale)) > 990
    assert set(np.unique(size)) == {2, 3, 4}  # integers low..high inclusive
    np.testing.assert_array_equal(offset, np.full(1000, -2.0, np.float32))  # not named: default
    again = sample(jax.random.PRNGKey(0), 1000)
    np.testing.assert_array_equal(np.asarray(again.scale), scale)  # same key, same draw
    assert not np.array_equal(np.asarray(sample(jax.random.PRNGKey(1), 1000).scale), scale)


def test_ranges_sampler_errors():
    with pytest.raises(ValueError, match=r"'toy' has no parameters \['gravty'\]; its parameters "
                                         r"are \['scale', 'size', 'offset'\]"):
        ranges_sampler(_Params(), {"gravty": (1.0, 1.0)}, "toy")
    with pytest.raises(ValueError, match="'size' is an integer; got bounds 1.5, 2.0"):
        ranges_sampler(_Params(), {"size": (1.5, 2.0)}, "toy")
    with pytest.raises(ValueError, match="has no `default_params` NamedTuple"):
        ranges_sampler(None, {"size": (1.0, 2.0)}, "Catch-bsuite")


def _env_params(train_state) -> CartPoleParams:
    return train_state.env_state.inner.inner.params  # EpisodeStatistics > TimeLimit > CartPole


def test_trainer_randomises_each_environment_reproducibly_and_keeps_it():
    config = dataclasses.replace(TINY, env_params=("gravity=9.8,12.0", "length=0.7"))
    trainer = make_trainer(config, make_ppo)
    init = jax.jit(trainer.init)
    state = init(jax.random.PRNGKey(0))
    gravity = np.asarray(_env_params(state).gravity)
    assert gravity.shape == (8,)
    assert ((gravity >= 9.8) & (gravity < 12.0)).all()
    assert len(np.unique(gravity)) == 8  # one draw per environment
    np.testing.assert_array_equal(np.asarray(_env_params(state).length), np.full(8, 0.7, np.float32))
    np.testing.assert_array_equal(np.asarray(_env_params(state).masscart), np.ones(8, np.float32))
    np.testing.assert_array_equal(np.asarray(_env_params(init(jax.random.PRNGKey(0))).gravity),
                                  gravity)  # same key, same draw
    assert not np.array_equal(np.asarray(_env_params(init(jax.random.PRNGKey(1))).gravity),
                              gravity)
    # Two updates (256 steps of 8 CartPoles, so several auto-resets): parameters unchanged.
    after, metrics = jax.jit(lambda s: trainer.run(s, 2))(state)
    assert float(metrics["episodes"].sum()) > 0
    np.testing.assert_array_equal(np.asarray(_env_params(after).gravity), gravity)


def test_randomised_reset_is_the_environment_reset_with_those_params():
    config = dataclasses.replace(TINY, env_params=("reset_low=-0.2", "reset_high=0.2"))
    state = make_trainer(config, make_ppo).init(jax.random.PRNGKey(0))
    obs = np.asarray(state.timestep.observation)
    # CartPole's start state is U[reset_low, reset_high]^4; with the defaults it is
    # within 0.05, so 32 values within 0.2 but some beyond 0.05 show the params used.
    assert (np.abs(obs) <= 0.2).all()
    assert (np.abs(obs) > 0.05).any()


def test_sampler_argument_and_errors():
    def sampler(key, num_envs):
        del key
        return CartPoleParams()._replace(
            **{f: jnp.full((num_envs,), v, jnp.float32)
               for f, v in CartPoleParams()._asdict().items()})._replace(
            gravity=jnp.arange(num_envs, dtype=jnp.float32))

    state = make_trainer(TINY, make_ppo, env_params_sampler=sampler).init(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(_env_params(state).gravity), np.arange(8))
    with pytest.raises(ValueError, match="not both"):
        make_trainer(dataclasses.replace(TINY, env_params=("gravity=1",)), make_ppo,
                     env_params_sampler=sampler)
    with pytest.raises(ValueError, match="'CartPole-v1' has no parameters"):
        make_trainer(dataclasses.replace(TINY, env_params=("gravty=1",)), make_ppo)


def test_without_env_params_every_environment_has_the_defaults():
    trainer = make_trainer(TINY, make_ppo)
    state = trainer.init(jax.random.PRNGKey(0))
    # The defaults, broadcast by the batch: every environment has gravity 9.8.
    np.testing.assert_array_equal(np.asarray(_env_params(state).gravity),
                                  np.full(8, 9.8, np.float32))


def test_config_json_records_env_params_and_reads_them_back(tmp_path):
    import json

    import tyro

    from jit_env.cli._main import train_command
    from jit_env.cli._run_dir import read_run_config, write_config

    args = tyro.cli(train_command("ppo"), args=["--env-params", "gravity=9.8,12.0", "length=0.7"])
    assert args.config.env_params == ("gravity=9.8,12.0", "length=0.7")
    config = dataclasses.replace(TINY, env_params=args.config.env_params)
    write_config(tmp_path, "ppo", config, seed=3, num_seeds=1, chunk_updates=1)
    assert json.loads((tmp_path / "config.json").read_text())["config"]["env_params"] == [
        "gravity=9.8,12.0", "length=0.7"]
    assert read_run_config(tmp_path).config == config


def test_minatar_sticky_actions_off_by_env_params():
    # MinAtar games expose `default_params` (MinAtarParams), so `--env-params` reaches them:
    # sticky_action_prob=0.0 in every environment, difficulty_ramping kept at its default.
    config = dataclasses.replace(TINY, env="Breakout-MinAtar", torso="mlp",
                                 env_params=("sticky_action_prob=0.0",))
    state = jax.jit(make_trainer(config, make_ppo).init)(jax.random.PRNGKey(0))
    params = state.env_state.inner.inner.params
    np.testing.assert_array_equal(np.asarray(params.sticky_action_prob), np.zeros(8, np.float32))
    assert np.asarray(params.difficulty_ramping).dtype == np.bool_
    assert np.asarray(params.difficulty_ramping).all()
    with pytest.raises(ValueError, match="'Breakout-MinAtar' has no parameters"):
        make_trainer(dataclasses.replace(config, env_params=("sticky=0",)), make_ppo)
