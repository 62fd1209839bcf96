"""The run directory a training run leaves behind, and how to read it back.

Layout of ``runs/NAME/``::

    config.json          algorithm, resolved config, seed, num_seeds, chunk size, version
    metrics.csv          one row per (update, seed): env steps, wall time, returns, losses …
    returns.png          mean episode return against environment steps, one line per seed
    checkpoints/         latest.msgpack (+ previous.msgpack): the whole training state
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jit_env._version import __version__

METRIC_COLUMNS = (
    "update",
    "seed",
    "env_steps",
    "wall_time",
    "episode_return",
    "episode_return_min",
    "episode_return_max",
    "episode_length",
    "episodes",
)
"""The columns every run's ``metrics.csv`` starts with; the agent's own metrics follow."""


class RunDirError(ValueError):
    """A run directory is missing, unreadable or inconsistent."""


def write_config(run_dir: Path, algo: str, config: Any, **extra: Any) -> None:
    """Writes ``config.json`` (the resolved dataclass config plus ``extra`` fields)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {"algo": algo, "config": dataclasses.asdict(config), "version": __version__}
    payload.update(extra)
    (run_dir / "config.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_config(run_dir: Path) -> dict:
    """Reads ``config.json``.

    Raises:
      RunDirError: if the directory or file is missing or not valid JSON.
    """
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist")
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{run_dir} is not a run directory: no config.json") from None
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"cannot read {path}: {e}") from None
    if not isinstance(payload, dict) or "config" not in payload or "algo" not in payload:
        raise RunDirError(f"{path} has no 'algo'/'config' entries")
    return payload


class MetricsWriter:
    """Appends rows to ``metrics.csv``, creating it with a header if absent.

    Args:
      run_dir: the run directory.
      metric_names: the agent's metric names; a new file's columns are
        `METRIC_COLUMNS` followed by these (sorted). An existing file keeps its header.
    """

    def __init__(self, run_dir: Path, metric_names: Any = ()):
        self.path = Path(run_dir) / "metrics.csv"
        new = not self.path.exists()
        if new:
            extra = sorted(set(metric_names) - set(METRIC_COLUMNS))
            self.columns = list(METRIC_COLUMNS) + extra
        else:
            with self.path.open() as f:
                self.columns = next(csv.reader(f), list(METRIC_COLUMNS))
        self._file = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        if new:
            self._writer.writeheader()

    def write(self, rows: list[dict]) -> None:
        """Appends ``rows`` (dicts by column name; missing values are left empty)."""
        for row in rows:
            self._writer.writerow({k: _fmt(row.get(k, "")) for k in self.columns})
        self._file.flush()

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


def _fmt(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_metrics(run_dir: Path) -> list[dict]:
    """Rows of ``metrics.csv`` as dicts of floats (empty cells become NaN)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return [
            {k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def truncate_metrics(run_dir: Path, max_update: int) -> None:
    """Drops rows after ``max_update`` (rows written after the checkpoint a resume starts from)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return
    with path.open() as f:
        columns = next(csv.reader(f), list(METRIC_COLUMNS))
    rows = [r for r in read_metrics(run_dir) if r["update"] <= max_update]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _fmt(r.get(k, math.nan)) for k in columns})


def plot_returns(run_dir: Path, title: str = "") -> Path:
    """Writes ``returns.png``: mean episode return against environment steps, a line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    seeds = sorted({int(r["seed"]) for r in rows})
    for seed in seeds:
        # Updates in which no episode finished have no return (NaN): skip them.
        pts = [(r["env_steps"], r["episode_return"]) for r in rows
               if int(r["seed"]) == seed and not math.isnan(r["episode_return"])]
        xs, ys = [x for x, _ in pts], [y for _, y in pts]
        ax.plot(xs, ys, label=f"seed {seed}", linewidth=1.2)
    ax.set_xlabel("environment steps (per seed)")
    ax.set_ylabel("mean episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if 1 < len(seeds) <= 10:
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(run_dir) / "returns.png"
    fig.savefig(out)
    plt.close(fig)
    return out
