"""The experiment loop of ``jit-env train``: --eval-every, --logger, --sweep, --target-return."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from jit_env import cli

TINY = ["--num-envs", "4", "--num-steps", "16", "--total-steps", str(4 * 16 * 6),
        "--update-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16",
        "--chunk-updates", "2", "--no-progress"]


def _rows(run):
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _train(tmp_path, name, *flags):
    out = tmp_path / name
    assert cli.main(["train", *TINY, *flags, "--out", str(out)]) == 0
    return out


@pytest.mark.slow  # compile-heavy (>= 5 s cold on 2 cores); CI's slow run keeps it
def test_evaluation_in_training_is_logged_and_changes_nothing(tmp_path, capsys,
                                                              assert_same_checkpoint):
    plain = _train(tmp_path, "plain", "--num-seeds", "2")
    evaluated = _train(tmp_path, "eval", "--num-seeds", "2", "--eval-every", "3",
                       "--eval-episodes", "2")
    assert "last evaluation return" in capsys.readouterr().out
    assert_same_checkpoint(plain, evaluated)  # bit for bit
    rows = _rows(evaluated)
    plain_rows = _rows(plain)
    for a, b in zip(plain_rows, rows, strict=True):
        assert a["loss"] == b["loss"]
    done = [(int(r["update"]), int(r["seed"])) for r in rows if r["eval_return"] != "nan"]
    assert done == [(3, 0), (3, 1), (6, 0), (6, 1)]  # every 3rd update, across chunks of 2
    for r in rows:
        if r["eval_return"] != "nan":
            assert float(r["eval_return"]) == float(r["eval_length"])  # CartPole: 1 per step
    assert (evaluated / "returns.png").read_bytes()[:4] == b"\x89PNG"


def test_loggers_continue_a_resumed_run_without_duplicates(tmp_path, interrupt_training):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    whole = _train(tmp_path, "whole", "--logger", "json", "--logger", "tensorboard")
    interrupt_training(2)  # Ctrl-C after the second of three chunks
    part = tmp_path / "part"
    argv = ["train", *TINY, "--logger", "json", "--logger", "tensorboard", "--out", str(part)]
    assert cli.main(argv) == 130
    interrupt_training(None)
    assert cli.main(["train", "--resume", str(part), "--no-progress"]) == 0
    assert json.loads((part / "config.json").read_text())["loggers"] == ["json", "tensorboard"]
    records = [json.loads(line) for line in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in records] == [1, 2, 3, 4, 5, 6]
    csv_rows = _rows(part)
    for record, row in zip(records, csv_rows, strict=True):
        assert np.float32(record["loss"]) == np.float32(row["loss"])  # JSON matches the CSV
    whole_records = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in records] == [r["loss"] for r in whole_records]
    acc = EventAccumulator(str(part / "tensorboard" / "seed_0"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("loss")]
    assert steps == [64 * u for u in range(1, 7)]
    assert {"loss", "entropy", "episodes"} <= set(acc.Tags()["scalars"])


@pytest.mark.slow  # five training runs: about a minute on 2 cores
def test_a_sweep_equals_the_separate_runs(tmp_path, capsys):
    swept = _train(tmp_path, "sweep", "--num-seeds", "2", "--sweep", "learning_rate=1e-3,3e-3",
                   "--sweep", "ent_coef=0,0.05")
    table = capsys.readouterr().out
    assert "learning_rate  ent_coef  final return" in table
    assert table.count("best") == 1
    rows = _rows(swept)
    assert {"config", "learning_rate", "ent_coef"} <= set(rows[0])
    with (swept / "sweep.csv").open() as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4
    assert sum(int(r["best"]) for r in summary) == 1
    assert (swept / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    for g, (lr, ent) in enumerate([("1e-3", "0"), ("1e-3", "0.05"), ("3e-3", "0"),
                                   ("3e-3", "0.05")]):
        single = _rows(_train(tmp_path, f"single{g}", "--num-seeds", "2", "--learning-rate",
                              lr, "--ent-coef", ent))
        mine = [r for r in rows if int(r["config"]) == g]
        assert len(mine) == len(single)
        for a, b in zip(mine, single, strict=True):
            assert (a["update"], a["seed"]) == (b["update"], b["seed"])
            np.testing.assert_allclose(float(a["loss"]), float(b["loss"]), rtol=1e-4,
                                       atol=1e-6)
    capsys.readouterr()
    assert cli.main(["eval", str(swept), "--episodes", "2", "--agent-seed", "7"]) == 0


def test_target_return_stops_and_is_recorded(tmp_path, capsys):
    run = _train(tmp_path, "target", "--target-return", "1")
    out = capsys.readouterr().out
    assert out.startswith("reached target return 1 (training return")
    assert "stopped at update 2/6" in out
    target = json.loads((run / "config.json").read_text())["target"]
    assert target["reached_at_update"] == 2
    assert target["env_steps"] == 128
    assert target["return"] == 1.0
    assert target["wall_time"] >= 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sweep", "lr=1e-3"], "--sweep: PPOConfig has no field 'lr'"),
        (["--sweep", "num_envs=4,8"], "field 'num_envs' of PPOConfig is structural"),
        (["--sweep", "learning_rate="], "field 'learning_rate' needs a non-empty list"),
        (["--sweep", "learning_rate=1e-3,x"], "unparsable value 'x'"),
        (["--target-return", "nan"], "--target-return must be finite"),
        (["--eval-every", "-1"], "`eval_every` must be >= 0"),
    ],
)
def test_bad_experiment_flags_are_one_line_errors(tmp_path, capsys, flags, message):
    out = tmp_path / "bad"
    assert cli.main(["train", *TINY, *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err
    assert not out.exists()
