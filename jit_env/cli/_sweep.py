"""``jit-env train --sweep FIELD=V1,V2,...``: flag parsing and the summary (sweep.csv, table, plot).

The training itself is `jit_env.agents.train`'s sweep: the grid of
`jit_env.agents._sweep.sweep_grid`, every point and seed one run of a single
``jax.vmap``-ed program. Here: the flags become ``{field: [values]}``, and after
training each grid point's final return (the mean episode return of the last
``FINAL_FRACTION`` of updates, per seed) and last evaluation return are
summarised as mean ± std over seeds, the best point marked.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jit_env.agents._sweep import sweep_grid

FINAL_FRACTION = 0.05
"""The share of the last updates whose episodes make a run's final return."""


class SweepError(ValueError):
    """A ``--sweep`` flag that cannot be used (one line, naming the field)."""


def parse_sweep(flags: Sequence[str], config: Any) -> dict[str, list[float]]:
    """``["learning_rate=1e-4,3e-4", "ent_coef=0,0.01"]`` -> ``{field: [values]}``, checked.

    Args:
      flags: the ``--sweep`` values, ``FIELD=V1,V2,...`` each (a field given
        twice is an error).
      config: the run's config (the grid is checked against it with
        `jit_env.agents._sweep.sweep_grid`).

    Raises:
      SweepError: naming the field, for a flag without ``=``, a repeated field,
        an empty list, an unparsable value, or anything `sweep_grid` refuses.
    """
    sweep: dict[str, list[float]] = {}
    for flag in flags:
        field, sep, values = flag.partition("=")
        field = field.strip().replace("-", "_")
        if not sep or not field:
            raise SweepError(f"--sweep {flag!r}: expected FIELD=V1,V2,...")
        if field in sweep:
            raise SweepError(f"--sweep: field {field!r} is given twice")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not items:
            raise SweepError(f"--sweep: field {field!r} needs a non-empty list of values")
        parsed = []
        for item in items:
            try:
                parsed.append(float(item))
            except ValueError:
                raise SweepError(f"--sweep: field {field!r} has an unparsable value "
                                 f"{item!r}") from None
        sweep[field] = parsed
    try:
        sweep_grid(config, sweep)
    except ValueError as error:
        raise SweepError(str(error).replace("sweep: ", "--sweep: ", 1)) from None
    return sweep


def final_returns(episode_return: np.ndarray) -> np.ndarray:
    """Per run, the NaN-free mean of ``episode_return [runs, updates]`` over its last updates.

    The last ``max(1, round(FINAL_FRACTION · updates))`` updates; NaN for a run
    in which no episode ended in them.
    """
    updates = episode_return.shape[-1]
    tail = episode_return[..., -max(1, round(FINAL_FRACTION * updates)):]
    out = np.full(tail.shape[:-1], np.nan)
    finite = np.isfinite(tail)
    counts = finite.sum(-1)
    np.divide(np.where(finite, tail, 0.0).sum(-1), counts, out=out, where=counts > 0)
    return out


def last_finite(values: np.ndarray) -> np.ndarray:
    """Per run, the last finite value of ``values [runs, updates]`` (NaN if none)."""
    out = np.full(values.shape[:-1], np.nan)
    for index in np.ndindex(values.shape[:-1]):
        finite = values[index][np.isfinite(values[index])]
        if finite.size:
            out[index] = finite[-1]
    return out


def summarize(
    points: Sequence[Mapping[str, float]],
    final: np.ndarray,
    evaluation: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One row per grid point: its values, mean ± std over seeds, the best one marked.

    Args:
      points: the grid (`sweep_grid`'s order).
      final: ``[G, S]`` final training returns (`final_returns`).
      evaluation: ``[G, S]`` last evaluation returns, or ``None`` without evaluation.

    Returns:
      Rows with the swept fields, ``final_return_mean``/``_std``, (with
      evaluation) ``eval_return_mean``/``_std``, the ``worst_seed`` final return
      and ``best`` (1 for the point with the highest mean of the evaluation
      return when there is one, else of the final return; NaN means rank last).
    """
    rows: list[dict[str, Any]] = []
    for g, point in enumerate(points):
        row: dict[str, Any] = {"config": g, **point}
        row["final_return_mean"] = _nanstat(np.nanmean, final[g])
        row["final_return_std"] = _nanstat(np.nanstd, final[g])
        row["worst_seed"] = _nanstat(np.nanmin, final[g])
        if evaluation is not None:
            row["eval_return_mean"] = _nanstat(np.nanmean, evaluation[g])
            row["eval_return_std"] = _nanstat(np.nanstd, evaluation[g])
        rows.append(row)
    key = "eval_return_mean" if evaluation is not None else "final_return_mean"
    scores = [-math.inf if math.isnan(r[key]) else r[key] for r in rows]
    best = int(np.argmax(scores))
    for g, row in enumerate(rows):
        row["best"] = int(g == best)
    return rows


def _nanstat(fn: Any, values: np.ndarray) -> float:
    return float(fn(values)) if np.isfinite(values).any() else math.nan


def write_summary(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Writes ``path / "sweep.csv"`` (``repr`` of floats: exact) and returns its path."""
    out = path / "sweep.csv"
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    tmp.replace(out)
    return out


def format_table(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str:
    """The summary as a plain-text table (what ``jit-env train --sweep`` prints)."""
    has_eval = "eval_return_mean" in rows[0]
    header = [*fields, "final return", *(["eval return"] if has_eval else []), "worst seed", ""]
    lines = []
    for row in rows:
        cells = [f"{row[f]:g}" for f in fields]
        cells.append(f"{row['final_return_mean']:.1f} ± {row['final_return_std']:.1f}")
        if has_eval:
            cells.append(f"{row['eval_return_mean']:.1f} ± {row['eval_return_std']:.1f}")
        cells.append(f"{row['worst_seed']:.1f}")
        cells.append("best" if row["best"] else "")
        lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
    render = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths,
                                                                      strict=True)).rstrip()
    return "\n".join([render(header), render(["-" * w for w in widths]), *map(render, lines)])


def plot_sweep(path: Path, points: Sequence[Mapping[str, float]], env_steps: np.ndarray,
               episode_return: np.ndarray, title: str) -> Path:
    """``path / "sweep.png"``: each grid point's mean training return over seeds vs steps.

    Args:
      env_steps: ``[U]`` environment steps per seed after each update.
      episode_return: ``[G, S, U]`` per-update mean episode returns (NaN where
        no episode ended).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for g, point in enumerate(points):
        with np.errstate(all="ignore"):
            finite = np.isfinite(episode_return[g])
            counts = finite.sum(0)
            mean = np.where(counts > 0, np.where(finite, episode_return[g], 0).sum(0)
                            / np.maximum(counts, 1), np.nan)
        label = ", ".join(f"{k}={v:g}" for k, v in point.items())
        ax.plot(env_steps, mean, label=label)
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel("mean episode return (over seeds)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    out = path / "sweep.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def summarize_run(path: Path, points: list, num_seeds: int, steps_per_update: int,
                  title: str) -> None:
    """Writes a sweep run's ``sweep.csv`` and ``sweep.png`` from its ``metrics.csv`` and
    prints the table (`summarize`, `format_table`); a file that cannot be written is a
    warning on stderr, since the run itself is saved."""
    import sys

    from jit_env.cli import _run_dir as run_dir

    rows = run_dir.read_metrics(path)
    updates = sorted({int(r["update"]) for r in rows})
    shape = (len(points), num_seeds, len(updates))
    where = {u: i for i, u in enumerate(updates)}

    def grid(name: str) -> np.ndarray:
        out = np.full(shape, np.nan)
        for r in rows:
            out[int(r["config"]), int(r["seed"]), where[int(r["update"])]] = r.get(name, np.nan)
        return out

    returns = grid("episode_return")
    final = final_returns(returns)
    evaluation = last_finite(grid("eval_return")) if "eval_return" in rows[0] else None
    summary = summarize(points, final, evaluation)
    try:
        write_summary(path, summary)
        steps = np.asarray(updates, np.float64) * steps_per_update
        plot_sweep(path, points, steps, returns, title)
    except OSError as e:
        print(f"jit-env: warning: cannot write the sweep summary: {e.strerror or e}",
              file=sys.stderr)
    print(format_table(summary, list(points[0])))
