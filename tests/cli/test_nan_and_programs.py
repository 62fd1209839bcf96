"""Non-finite metrics stop a run (and are written as ``nan``); programs are compiled once."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from jit_env.cli import _programs
from jit_env.cli._session import first_non_finite


def _rows(run):
    with (run / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def _nan_at_update_2(monkeypatch):
    """Training chunks whose second update reports ``loss = nan`` (seed 0)."""
    original = _programs.Program.compile_chunk
    calls = []

    def compile_chunk(self):
        compiled = original(self)

        def chunk(state, start):
            new_state, metrics = compiled(state, start)
            calls.append(1)
            if len(calls) == 2:
                metrics = dict(metrics) | {"loss": metrics["loss"].at[0, 0].set(np.nan)}
            return new_state, metrics

        return chunk

    monkeypatch.setattr(_programs.Program, "compile_chunk", compile_chunk)


@pytest.mark.usefixtures("_nan_at_update_2")
def test_nan_stops_the_run_naming_metric_and_update(tmp_path, tiny, capsys):
    out = tmp_path / "run"
    assert tiny.train(out) == 1
    line = tiny.one_line_error(capsys)
    assert "non-finite metric `loss` = nan at update 2 (seed 0)" in line
    assert "the last checkpoint is update 1" in line
    rows = _rows(out)
    assert [r["update"] for r in rows] == ["1", "2"]
    assert rows[1]["loss"] == "nan"  # written as nan, not as an empty cell
    assert rows[0]["episode_return"] == "nan"  # no episode ended: NaN by design, no stop
    # The checkpoint is the last finite one, so the run resumes from update 1.
    from flax import serialization

    meta = serialization.msgpack_restore((out / "checkpoints/latest.msgpack").read_bytes())
    assert meta["metadata"]["update"] == 1


@pytest.mark.usefixtures("_nan_at_update_2")
def test_no_stop_on_nan_trains_on(tmp_path, tiny):
    out = tmp_path / "run"
    assert tiny.train(out, "--no-stop-on-nan") == 0
    assert [r["loss"] == "nan" for r in _rows(out)] == [False, True, False, False]


def test_first_non_finite_skips_episode_stats_without_episodes():
    metrics = {"episodes": np.array([[0, 2]]), "episode_return": np.array([[np.nan, 3.0]]),
               "loss": np.array([[1.0, 2.0]], np.float32)}
    assert first_non_finite(metrics, 5) is None
    metrics["episode_return"] = np.array([[np.nan, np.inf]])
    assert first_non_finite(metrics, 5) == \
        "non-finite metric `episode_return` = inf at update 6 (seed 0)"
    metrics["loss"] = np.array([[1.0, np.nan]], np.float32)  # same update: sorted by name
    assert "`episode_return`" in first_non_finite(metrics, 5)
    two_seeds = {"episodes": np.ones((2, 2), int), "loss": np.array([[1.0, np.nan], [np.nan, 1]])}
    assert first_non_finite(two_seeds, 1) == "non-finite metric `loss` = nan at update 1 (seed 1)"


def test_repeated_runs_compile_once(tmp_path, tiny, monkeypatch):
    assert tiny.train(tmp_path / "a") == 0
    compiles = []
    original = _programs.get_algorithm  # a cache miss looks the algorithm up to build its trainer
    monkeypatch.setattr(_programs, "get_algorithm", lambda *a, **k: compiles.append(a) or
                        original(*a, **k))
    before = dict(_programs._PROGRAMS)
    for name in "bc":
        assert tiny.train(tmp_path / name) == 0
    assert compiles == []  # the cached trainer and compiled chunk served both runs
    assert {k: v.chunk for k, v in _programs._PROGRAMS.items()} == \
        {k: v.chunk for k, v in before.items()}
    assert tiny.metrics(tmp_path / "b") == tiny.metrics(tmp_path / "a")


def test_program_cache_is_bounded(monkeypatch):
    import dataclasses

    from jit_env.agents import PPOConfig

    monkeypatch.setattr(_programs, "_PROGRAMS", type(_programs._PROGRAMS)())
    base = PPOConfig(num_envs=2, num_steps=8, total_steps=16, update_epochs=1,
                     num_minibatches=1, hidden_sizes=(8,))
    programs = [_programs.program("ppo", dataclasses.replace(base, total_steps=16 * (i + 1)), 1, 1)
                for i in range(_programs.MAX_PROGRAMS + 2)]
    assert len(_programs._PROGRAMS) == _programs.MAX_PROGRAMS
    assert list(_programs._PROGRAMS.values()) == programs[2:]
    assert _programs.program("ppo", dataclasses.replace(base, total_steps=16 * 6), 1, 1) \
        is programs[-1]
