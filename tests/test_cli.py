"""The jit-env command: train writes a run directory, eval reads it, bad input, entry points.

Interrupting, resuming and evaluating every algorithm's runs is the agent
contract's job (tests/agents/test_contract.py).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from jit_env import cli
from jit_env.cli import _checkpoint as checkpoint
from jit_env.cli._main import train_command


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(agent_cli_run):
    """The tiny PPO run (2 seeds, 3 updates of 4 x 16 steps, chunks of 1) of the session."""
    return agent_cli_run("ppo")


def test_train_writes_every_file(run):
    for name in ("config.json", "metrics.csv", "returns.png", "checkpoints/latest.msgpack"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "ppo"
    assert config["config"]["env"] == "CartPole-v1"
    assert config["config"]["num_envs"] == 4
    assert (config["seed"], config["num_seeds"], config["chunk_updates"]) == (0, 2, 1)
    rows = _rows(run / "metrics.csv")
    assert [int(r["update"]) for r in rows] == [1, 1, 2, 2, 3, 3]
    assert [int(r["seed"]) for r in rows] == [0, 1] * 3
    assert [int(r["env_steps"]) for r in rows] == [64, 64, 128, 128, 192, 192]
    assert (run / "returns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_reads_the_run(run, capsys, tmp_path):
    gif = tmp_path / "episode.gif"
    assert cli.main(["eval", str(run), "--episodes", "3", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1 (greedy policy): return" in out
    assert "over 3 episodes" in out
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    # The printed mean is evaluate_policy's on seed 0 of the checkpoint.
    from jit_env.cli._evaluate import evaluate_run

    for policy in ("greedy", "sample"):
        assert cli.main(["eval", str(run), "--episodes", "3", "--policy", policy]) == 0
        mean = evaluate_run(run, episodes=3, policy=policy)["mean"]
        assert f"({policy} policy): return {mean:.2f}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["eval", str(run), "--policy", "mode"])


def test_list_names_cartpole_and_ppo(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out
    assert "ppo" in out


def test_unknown_env_is_one_line_error(capsys, tmp_path):
    code = cli.main(["train", "--env", "CartPol-v1", "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "CartPole-v1" in err


def test_bad_config_value_is_one_line_error(capsys, tmp_path):
    code = cli.main(["train", "--num-minibatches", "7", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("jit-env: error:")
    assert "num_minibatches" in err


def test_unreadable_run_dir(capsys, tmp_path):
    assert cli.main(["eval", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert cli.main(["train", "--resume", str(tmp_path / "broken")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_checkpoint_from_another_config(run, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    cfg = json.loads((run / "config.json").read_text())
    cfg["config"]["hidden_sizes"] = [8]
    (other / "config.json").write_text(json.dumps(cfg))
    (other / "checkpoints").mkdir()
    (other / "checkpoints" / "latest.msgpack").write_bytes(
        (run / "checkpoints" / "latest.msgpack").read_bytes()
    )
    assert cli.main(["eval", str(other)]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_wrong_flag_type_exits_nonzero_without_traceback():
    out = subprocess.run([sys.executable, "-m", "jit_env", "train", "--num-envs", "many"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "num-envs" in out.stderr


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    tree = {"a": np.arange(3, dtype=np.float32), "b": (np.int32(4),)}
    path = checkpoint.save_checkpoint(tmp_path / "c.msgpack", tree, metadata={"update": 7})
    restored, meta = checkpoint.load_checkpoint(path, tree)
    np.testing.assert_array_equal(restored["a"], tree["a"])
    assert meta == {"update": 7}
    with pytest.raises(checkpoint.CheckpointMismatchError, match="different configuration"):
        checkpoint.load_checkpoint(path, {"a": np.zeros(4, np.float32), "b": (np.int32(0),)})
    (tmp_path / "junk.msgpack").write_bytes(b"\x00\x01garbage")
    with pytest.raises(checkpoint.CheckpointMismatchError):
        checkpoint.load_checkpoint(tmp_path / "junk.msgpack", tree)


def test_flags_parse_into_the_algorithms_config():
    import tyro

    dqn = tyro.cli(train_command("dqn"), args=["--huber-delta", "1.0", "--n-step", "3"])
    assert dqn.config.huber_delta == 1.0
    assert dqn.config.n_step == 3
    assert dqn.algo == "dqn"
    assert tyro.cli(train_command("dqn"), args=["--huber-delta", "None"]).config.huber_delta is None
    reinforce = tyro.cli(train_command("reinforce"), args=["--no-baseline"])
    assert reinforce.config.baseline is False
    ppo = tyro.cli(train_command("ppo"), args=["--hidden-sizes", "8", "8", "--no-anneal-lr"])
    assert ppo.config.hidden_sizes == (8, 8)
    assert ppo.config.anneal_lr is False


def test_console_script_is_cli_main():
    # (``python -m jit_env`` is exercised by test_wrong_flag_type_exits_nonzero_without_traceback.)
    import importlib.metadata

    scripts = importlib.metadata.entry_points(group="console_scripts")
    (script,) = [s for s in scripts if s.name == "jit-env"]
    assert script.value == "jit_env.cli:main"
    assert script.load() is cli.main
