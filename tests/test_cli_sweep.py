"""``--sweep`` parsing and the sweep summary (``sweep.csv``, table, plot)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from jit_env.agents import PPOConfig
from jit_env.cli._sweep import (
    SweepError,
    final_returns,
    format_table,
    last_finite,
    parse_sweep,
    plot_sweep,
    summarize,
    write_summary,
)

PPO = PPOConfig()


def test_flags_become_a_checked_sweep():
    assert parse_sweep(["learning_rate=1e-4,3e-4, 1e-3", "ent-coef=0,0.01"], PPO) == {
        "learning_rate": [1e-4, 3e-4, 1e-3], "ent_coef": [0.0, 0.01]}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["learning_rate"], "expected FIELD=V1,V2"),
        (["=1,2"], "expected FIELD=V1,V2"),
        (["learning_rate="], "field 'learning_rate' needs a non-empty list"),
        (["learning_rate=1e-3,fast"], "field 'learning_rate' has an unparsable value 'fast'"),
        (["learning_rate=1e-3", "learning_rate=1e-4"], "field 'learning_rate' is given twice"),
        (["lr=1e-3"], "--sweep: PPOConfig has no field 'lr'"),
        (["num_envs=4,8"], "--sweep: field 'num_envs' of PPOConfig is structural"),
        (["learning_rate=nan"], "not a finite number"),
    ],
)
def test_bad_flags_give_one_line_naming_the_field(flags, message):
    with pytest.raises(SweepError, match=message) as info:
        parse_sweep(flags, PPO)
    assert "\n" not in str(info.value)


def test_final_and_last_evaluation_returns():
    returns = np.array([[np.nan] * 19 + [10.0], [1.0] * 18 + [np.nan, np.nan]])
    np.testing.assert_array_equal(final_returns(returns), [10.0, np.nan])  # last 1 of 20
    evals = np.array([[np.nan, 3.0, np.nan, 5.0, np.nan], [np.nan] * 5])
    np.testing.assert_array_equal(last_finite(evals), [5.0, np.nan])


def test_summary_marks_the_best_point_and_round_trips_through_csv(tmp_path):
    points = [{"learning_rate": 1e-3}, {"learning_rate": 3e-3}, {"learning_rate": 1e-2}]
    final = np.array([[100.0, 120.0], [200.0, np.nan], [np.nan, np.nan]])
    evaluation = np.array([[150.0, 150.0], [90.0, 110.0], [np.nan, np.nan]])
    rows = summarize(points, final, evaluation)
    assert [r["best"] for r in rows] == [1, 0, 0]  # by the evaluation return
    assert rows[0]["final_return_mean"] == 110.0
    assert rows[0]["final_return_std"] == 10.0
    assert rows[1]["final_return_mean"] == 200.0  # NaN seeds left out
    assert rows[1]["worst_seed"] == 200.0
    assert math.isnan(rows[2]["final_return_mean"])
    assert [r["best"] for r in summarize(points, final)] == [0, 1, 0]  # by the final return
    out = write_summary(tmp_path, rows)
    with out.open() as f:
        read = list(csv.DictReader(f))
    assert [float(r["learning_rate"]) for r in read] == [1e-3, 3e-3, 1e-2]
    assert float(read[1]["eval_return_std"]) == rows[1]["eval_return_std"]
    table = format_table(rows, ["learning_rate"])
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["learning_rate", "final"]
    assert "110.0 ± 10.0" in lines[2]
    assert lines[2].endswith("best")
    png = plot_sweep(tmp_path, points, np.arange(1, 21) * 64.0,
                     np.random.default_rng(0).normal(size=(3, 2, 20)), "ppo sweep")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
