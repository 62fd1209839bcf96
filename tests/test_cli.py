"""The jit-env command: train writes a run directory, eval reads it, resume, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from jit_env import cli
from jit_env.agents import checkpoint

TINY = ["--num-envs", "4", "--num-steps", "16", "--total-steps", "256", "--update-epochs", "1",
        "--num-minibatches", "2", "--hidden-sizes", "16", "--no-progress"]


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert cli.main(["train", *TINY, "--chunk-updates", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_every_file(run):
    for name in ("config.json", "metrics.csv", "returns.png", "checkpoints/latest.msgpack"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "ppo" and config["config"]["env"] == "CartPole-v1"
    assert config["config"]["num_envs"] == 4
    rows = _rows(run / "metrics.csv")
    assert [int(r["update"]) for r in rows] == [1, 2, 3, 4]
    assert [int(r["env_steps"]) for r in rows] == [64, 128, 192, 256]
    assert (run / "returns.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_reads_the_run(run, capsys, tmp_path):
    gif = tmp_path / "episode.gif"
    assert cli.main(["eval", str(run), "--episodes", "3", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1: return" in out and "over 3 episodes" in out
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_ctrl_c_checkpoints_and_resume_equals_uninterrupted(
    tmp_path, capsys, interrupt_training, assert_same_checkpoint
):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert cli.main(["train", *TINY, "--chunk-updates", "1", "--out", str(whole)]) == 0

    interrupt_training(2)
    assert cli.main(["train", *TINY, "--chunk-updates", "1", "--out", str(part)]) == 130
    assert "interrupted at update 2/4" in capsys.readouterr().out
    interrupt_training(None)
    assert cli.main(["train", "--resume", str(part), "--no-progress"]) == 0

    assert_same_checkpoint(whole, part)
    rows = _rows(part / "metrics.csv")
    assert [int(r["update"]) for r in rows] == [1, 2, 3, 4]


def test_list_names_cartpole_and_ppo(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "ppo" in out


def test_unknown_env_is_one_line_error(capsys, tmp_path):
    code = cli.main(["train", "--env", "CartPol-v1", "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "CartPole-v1" in err


def test_bad_config_value_is_one_line_error(capsys, tmp_path):
    code = cli.main(["train", "--num-minibatches", "7", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("jit-env: error:") and "num_minibatches" in err


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
    assert "Traceback" not in out.stderr and "num-envs" in out.stderr


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


def test_eval_of_a_normalised_run_uses_the_trained_statistics(tmp_path, capsys):
    out = tmp_path / "norm"
    assert cli.main(["train", *TINY, "--normalize-observations", "--out", str(out)]) == 0
    assert cli.main(["eval", str(out), "--episodes", "2"]) == 0
    assert "over 2 episodes" in capsys.readouterr().out
