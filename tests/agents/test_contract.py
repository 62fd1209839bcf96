"""The contract every registered algorithm keeps, checked once per algorithm.

For each name in `jit_env.cli.ALGORITHMS`, on its small config (the ``tiny_agent``
fixture), one module-scoped set of compiled programs serves every check:

- the jitted training run traces once and is deterministic (bit for bit);
- two seeds under ``jax.vmap`` equal two single runs (to float32 rounding);
- the ``jit-env train`` run in chunks of one update equals the uninterrupted
  ``Trainer.run`` bit for bit (``agent_cli_run``: 2 seeds, chunk 1);
- Ctrl-C checkpoints, ``--resume`` continues to the same checkpoint, and
  ``jit-env eval`` plays the trained agents;
- the algorithm-specific facts of a finished run (update counts, DQN's schedule,
  the recurrent carry).
"""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

from jit_env import cli
from jit_env.cli import ALGORITHMS, get_algorithm, load_checkpoint

NAMES = sorted(ALGORITHMS)
SEEDS = jax.random.split(jax.random.PRNGKey(0), 2)  # the CLI's keys for --seed 0 --num-seeds 2


class Compiled:
    """One algorithm's tiny config, trainer and training results (computed once)."""

    def __init__(self, name, tiny_agent):
        self.name = name
        self.config, self.flags = tiny_agent(name)
        algorithm = get_algorithm(name)
        # The CLI's trainer (make_trainer, or the algorithm's own: self-play).
        self.trainer = algorithm.trainer(self.config, algorithm.factory)
        n = self.config.num_updates
        self.traces = 0

        def counted(key):
            self.traces += 1
            return self.trainer.run(self.trainer.init(key), n)

        single = jax.jit(counted)
        self.single = [single(SEEDS[0]), single(SEEDS[1])]
        self.again = single(SEEDS[0])
        # The CLI's initial state (the same program as TrainingSession's), then one scan.
        initial = jax.jit(jax.vmap(self.trainer.init))(SEEDS)
        self.batched = jax.jit(jax.vmap(lambda s: self.trainer.run(s, n)))(initial)


# PPO and DQN (one on-policy, one off-policy) keep the contract in the README's test command;
# every other algorithm's compiled set (8-18 s cold on 2 cores; self-play about a minute)
# runs in CI's slow run.
_FAST = ("ppo", "dqn")


@pytest.fixture(scope="module", params=[
    n if n in _FAST else pytest.param(n, marks=pytest.mark.slow) for n in NAMES])
def compiled(request, tiny_agent):
    return Compiled(request.param, tiny_agent)


def _leaves(tree):
    return jax.tree.leaves(tree)


def test_training_jits_once_and_is_deterministic(compiled):
    assert compiled.traces == 1
    for a, b in zip(_leaves(compiled.single[0]), _leaves(compiled.again)):
        np.testing.assert_array_equal(a, b)
    state, metrics = compiled.single[0]
    loss = np.asarray(metrics["loss"])
    assert loss.shape == (compiled.config.num_updates,)
    assert np.all(np.isfinite(loss))
    EXPECTED[compiled.name](compiled.config, state, metrics)


def test_seeds_vmap_and_equal_single_runs(compiled):
    # vmap changes XLA's fusion and reduction order on the CPU: float32 rounding.
    # IMPALA compares its whole AgentState (the lagged behaviour copy included).
    part = ((lambda s: s.agent_state) if compiled.name == "impala"
            else (lambda s: s.agent_state.params))
    batched_state, batched_metrics = compiled.batched
    for i in range(2):
        state, metrics = compiled.single[i]
        np.testing.assert_allclose(batched_metrics["loss"][i], metrics["loss"], rtol=2e-4,
                                   atol=1e-5)
        for a, b in zip(_leaves(part(state)),
                        _leaves(jax.tree.map(lambda x, i=i: x[i], part(batched_state)))):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)


def test_cli_chunks_equal_the_uninterrupted_run(compiled, agent_cli_run, bits_equal):
    run = agent_cli_run(compiled.name)
    payload = json.loads((run / "config.json").read_text())
    assert payload["algo"] == compiled.name
    # The flags parse into the same config (JSON has lists where the config has tuples).
    assert payload["config"] == json.loads(json.dumps(dataclasses.asdict(compiled.config)))
    whole, _ = compiled.batched
    restored, meta = load_checkpoint(run / "checkpoints" / "latest.msgpack", whole)
    assert meta["update"] == compiled.config.num_updates
    # One jitted update at a time from the same initial state: the same bits.
    for a, b in zip(_leaves(restored), _leaves(whole)):
        bits_equal(a, b)


def test_cli_interrupt_resume_eval(compiled, agent_cli_run, tmp_path, capsys,
                                   interrupt_training, assert_same_checkpoint):
    n = compiled.config.num_updates
    whole, part = agent_cli_run(compiled.name), tmp_path / "part"
    argv = ["train", "--algo", compiled.name, *compiled.flags, "--num-seeds", "2",
            "--chunk-updates", "1", "--no-progress", "--out", str(part)]
    after = max(1, n // 2)
    interrupt_training(after)
    assert cli.main(argv) == 130
    assert f"interrupted at update {after}/{n}" in capsys.readouterr().out
    interrupt_training(None)
    assert cli.main(["train", "--resume", str(part), "--no-progress"]) == 0
    assert f"finished at update {n}/{n}" in capsys.readouterr().out
    assert_same_checkpoint(whole, part)  # recurrent carries, replay buffers and all
    rows = (part / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [u for u in range(1, n + 1) for _ in "ab"]
    # A finished run resumes to nothing.
    assert cli.main(["train", "--resume", str(part), "--no-progress"]) == 0
    assert f"finished at update {n}/{n}" in capsys.readouterr().out
    assert cli.main(["eval", str(whole), "--episodes", "2", "--agent-seed", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{compiled.config.env} (greedy policy): return" in out
    assert "over 2 episodes" in out


# ------------------------------------------------- what each run must show --
def _ppo_steps(cfg, state, metrics):
    del metrics
    assert int(state.agent_state.step) == cfg.num_updates * cfg.update_epochs * cfg.num_minibatches


def _one_step_per_update(cfg, state, metrics):
    del metrics
    assert int(state.agent_state.step) == cfg.num_updates


def _recurrent(cfg, state, metrics):
    _ppo_steps(cfg, state, metrics)
    # The carried policy state is the cell's carry, [B, rnn_size] (two of them for an LSTM).
    assert {x.shape for x in _leaves(state.policy_state)} == {(cfg.num_envs, cfg.rnn_size)}


def _dqn(cfg, state, metrics):
    # Learning starts once 64 steps are stored (after update 2), 4 gradient steps per update.
    np.testing.assert_array_equal(metrics["learning"], [0, 1, 1, 1, 1, 1])
    assert int(state.agent_state.step) == 5 * 4
    assert int(state.agent_state.extra.env_steps) == cfg.total_steps
    assert int(state.agent_state.extra.replay.size) == 128  # full: 192 steps into 128 rows
    assert float(metrics["loss"][-1]) > 0
    # ε decays linearly from 1 over exploration_fraction * total_steps = 96 steps.
    np.testing.assert_allclose(metrics["epsilon"], [1.0, 1 - 0.95 / 3, 1 - 0.95 * 2 / 3, 0.05,
                                                    0.05, 0.05], rtol=1e-5)
    # 20 gradient steps, period 2: the target was just copied from the online network.
    for a, b in zip(_leaves(state.agent_state.params),
                    _leaves(state.agent_state.extra.target_params)):
        np.testing.assert_array_equal(a, b)


def _off_policy(cfg, state, metrics):
    # Learning starts once 16 steps are stored (update 2 of 4), 4 gradient steps per update.
    np.testing.assert_array_equal(metrics["learning"], [0, 1, 1, 1])
    agent_state = state.agent_state
    assert int(agent_state.step) == 3 * 4
    assert int(agent_state.extra.env_steps) == cfg.total_steps
    assert int(agent_state.extra.replay.size) == 32  # 4 updates x 8 transitions, all valid
    assert float(metrics["loss"][-1]) > 0
    # Polyak targets with tau 0.005 moved, but are not the online critics.
    for a, b in zip(_leaves(agent_state.params["critic"]),
                    _leaves(agent_state.extra.target_params["critic"])):
        assert not np.array_equal(a, b)


def _sac(cfg, state, metrics):
    _off_policy(cfg, state, metrics)
    # α = exp(log α) starts at 1; the fresh policy's entropy is above −|A| = −1, so each
    # Adam step (size ≈ lr = 1e-3 in log α) lowers it: the mean over the first update's
    # 4 steps is about mean(exp(−k·1e-3), k = 0..3) = 0.9985, and 12 steps end near exp(−0.012).
    assert 0.996 < float(metrics["alpha"][1]) < 1.0
    assert -0.02 < float(state.agent_state.params["log_alpha"]) < -0.005


def _offpac(cfg, state, metrics):
    # 4 segments per rollout = batch_size: learning from update 1, 4 gradient steps each.
    np.testing.assert_array_equal(metrics["learning"], [1, 1, 1, 1])
    agent_state = state.agent_state
    assert int(agent_state.step) == 4 * cfg.gradient_steps
    assert int(agent_state.extra.replay.size) == 8  # 4 updates x 4 segments into 8 rows
    assert int(agent_state.extra.updates) == 4
    # behaviour_sync 2: refreshed after update 4, so the behaviour copy is the learner.
    for a, b in zip(_leaves(agent_state.params), _leaves(agent_state.extra.behaviour_params)):
        np.testing.assert_array_equal(a, b)


def _self_play(cfg, state, metrics):
    _ppo_steps(cfg, state, metrics)
    # 3 updates of 16 steps: no game ends (a point alone takes more), so the pool stays
    # empty and the champion is never checked.
    pool = state.policy_state
    assert (int(pool.generation), int(pool.pool_episodes)) == (0, 0)
    np.testing.assert_array_equal(metrics["champion_check"], 0)


EXPECTED = {
    "a2c": _one_step_per_update,
    "ddpg": _off_policy,
    "sac": _sac,
    "td3": _off_policy,
    "dqn": _dqn,
    "impala": _one_step_per_update,
    "offpac": _offpac,
    "ppo": _ppo_steps,
    "ppo_continuous": _ppo_steps,
    "ppo_selfplay": _self_play,
    "recurrent_ppo": _recurrent,
    "reinforce": _one_step_per_update,
}


def test_every_algorithm_has_a_contract(tiny_agent):
    assert sorted(EXPECTED) == NAMES == tiny_agent.names
