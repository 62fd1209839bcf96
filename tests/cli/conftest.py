"""Tiny ``jit-env train`` runs and the comparisons the CLI reliability tests make.

``tiny`` holds the helpers (a namespace of the functions below); ``reference``
is the uninterrupted tiny run every faulted run must equal, trained once per
session (per pytest-xdist worker).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from flax import serialization

from jit_env import cli

# PPO on CartPole-v1: 4 updates of 2 x 8 steps, one update per chunk; no learning-rate
# annealing, so a run extended with --total-steps equals one started that long.
FLAGS = ["--num-envs", "2", "--num-steps", "8", "--update-epochs", "1", "--num-minibatches",
         "1", "--hidden-sizes", "8", "--no-anneal-lr", "--no-progress", "--chunk-updates", "1"]
UPDATES = 4
STEPS = 2 * 8 * UPDATES


def train(out: Path, *extra: str, updates: int = UPDATES) -> int:
    """``jit-env train`` of the tiny run into ``out``; returns the exit status."""
    return cli.main(["train", *FLAGS, "--total-steps", str(16 * updates), "--out", str(out),
                     *extra])


def resume(out: Path, *extra: str) -> int:
    return cli.main(["train", "--resume", str(out), "--no-progress", *extra])


def leaves(run: Path, name: str = "latest") -> dict:
    payload = serialization.msgpack_restore((run / "checkpoints" / f"{name}.msgpack").read_bytes())
    return payload["leaves"]


def metrics_without_wall_time(run: Path) -> list[list[str]]:
    """``metrics.csv`` as strings, without the ``wall_time`` column (it measures time)."""
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("wall_time")
    return [r[:drop] + r[drop + 1 :] for r in rows]


def assert_same_run(run: Path, reference: Path) -> None:
    """Same final checkpoint (leaf for leaf, bit for bit), same metrics, same config."""
    a, b = leaves(run), leaves(reference)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"leaf {k}")
        assert a[k].dtype == b[k].dtype
    assert metrics_without_wall_time(run) == metrics_without_wall_time(reference)
    config = json.loads((run / "config.json").read_text())
    assert config == json.loads((reference / "config.json").read_text())


def one_line_error(capsys) -> str:
    """The captured stderr, checked to be one ``jit-env: error:`` line without a traceback."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("jit-env: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("jit-env: error: "), err
    return lines[0]


@pytest.fixture(scope="session")
def tiny():
    import types

    return types.SimpleNamespace(
        train=train, resume=resume, leaves=leaves, assert_same_run=assert_same_run,
        metrics=metrics_without_wall_time, one_line_error=one_line_error,
        updates=UPDATES, steps=STEPS,
    )


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The uninterrupted tiny run's directory."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert train(out) == 0
    return out


@pytest.fixture(scope="session")
def reference_8(tmp_path_factory):
    """The uninterrupted tiny run of 8 updates (for --total-steps extension)."""
    out = tmp_path_factory.mktemp("reference") / "run8"
    assert train(out, updates=8) == 0
    return out


@pytest.fixture(scope="session")
def write_stages(tmp_path_factory):
    """Every write step of a whole tiny run, as ``(step, file name)`` in order."""
    from jit_env.cli import _files

    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_files, "write_stage", lambda name, path: calls.append((name, path.name)))
        assert train(tmp_path_factory.mktemp("count") / "run") == 0
    return calls
