"""The run directory a training run leaves behind, and how to read it back safely.

Layout of ``runs/NAME/``::

    config.json          algorithm, resolved config, seed, num_seeds, chunk size, version
    metrics.csv          one row per (update, seed): env steps, wall time, returns, losses …
    returns.png          mean episode return against environment steps, one line per seed
    checkpoints/         latest.msgpack (+ previous.msgpack): the whole training state
    .lock                held (fcntl.flock) by the process writing the run

Every file is replaced atomically and durably (`jit_env.cli._files`);
``metrics.csv`` is the one file appended to (and ``fsync``-ed after every
chunk, before the chunk's checkpoint is written), so after any crash it holds
at least the rows up to the last checkpoint. `read_run_config` applies the
checks a new run gets to a ``config.json`` read back (types, ranges, chunk
size), so an edited or damaged file is a one-line `RunDirError`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jit_env._version import __version__
from jit_env.cli import _files
from jit_env.cli._files import RunDirError

__all__ = ["RunDirError"]  # re-exported: the command reports it as a one-line error

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

EPISODE_METRICS = ("episode_return", "episode_return_min", "episode_return_max", "episode_length")
"""Metrics that are NaN by design when no episode ended in the update (``episodes == 0``)."""

RUN_FILES = ("config.json", "metrics.csv", "returns.png", "checkpoints",
             "checkpoints/latest.msgpack", "checkpoints/previous.msgpack", ".lock",
             "metrics.jsonl", "tensorboard", "wandb", "wandb_id", "sweep.csv", "sweep.png")
"""Every entry the command writes in a run directory; none may be a symbolic link."""


class RunConfig(NamedTuple):
    """A run's ``config.json``, checked: ``algo``, ``config`` (validated), ``seed``,
    ``num_seeds``, ``chunk_updates``, ``fingerprint`` (`run_fingerprint`), the
    ``loggers`` besides ``csv`` and the ``sweep`` (``{field: [values]}`` or ``None``)."""

    algo: str
    config: Any
    seed: int
    num_seeds: int
    chunk_updates: int
    fingerprint: str
    loggers: tuple[str, ...] = ()
    sweep: dict | None = None


_ADDED_FIELDS: dict[str, Any] = {
    "env_kwargs": "{}",
    "env_params": (),
    "rollout": "steps",
    "horizon": 500,
    "gaussian_bound": "clip",
    "torso": "auto",
    "cnn_channels": (32, 32),
    "cnn_kernel_size": 3,
    "cnn_stride": 1,
    "cnn_activation": "silu",
}
"""Config fields added after runs were first written (2026-12-07), with their defaults
(as `dataclasses.asdict` gives them): left out of `run_fingerprint` at the default, so
a run directory written before a field existed still resumes."""


def run_fingerprint(algo: str, config: Any, seed: int, num_seeds: int,
                    sweep: dict | None = None) -> str:
    """What a checkpoint must have been trained with: a hash of the algorithm, the
    config without ``total_steps`` (a run may be extended), the seeds and the sweep."""
    values = dataclasses.asdict(config)
    values.pop("total_steps", None)
    for name, default in _ADDED_FIELDS.items():
        if name in values and values[name] == default:  # runs from before the field keep theirs
            values.pop(name)
    entries: dict[str, Any] = {"algo": algo, "config": values, "seed": seed,
                               "num_seeds": num_seeds}
    if sweep is not None:
        entries["sweep"] = sweep
    desc = json.dumps(entries, sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


def check_environment(config: Any, *, where: str) -> None:
    """Builds ``config.env`` with ``config.env_kwargs`` once, to report a bad one in one line.

    Raises:
      RunDirError: ``"<where>: environment '<env>' (kwargs ...): <why>"`` for an
        unknown id or suite, a ``module:attr`` that cannot be imported, has no
        such attribute or is not an `Environment`, keyword arguments it does
        not take, or a missing extra.
    """
    from jit_env.agents._config import env_kwargs
    from jit_env.agents._loop import make_single_env

    try:
        kwargs = env_kwargs(config)
        make_single_env(config.env, kwargs)
    except (KeyError, ImportError, AttributeError, TypeError, ValueError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        shown = f" with --env-kwargs {config.env_kwargs}" if config.env_kwargs != "{}" else ""
        raise RunDirError(f"{where}: environment {config.env!r}{shown}: {message}") from None


def check_run_settings(config: Any, num_seeds: int, chunk_updates: int, *, where: str) -> None:
    """The checks shared by a new run's flags and a resumed run's ``config.json``.

    Raises:
      RunDirError: naming ``where`` (``"--chunk-updates"`` or ``"config.json"``) if
        ``num_seeds`` or ``chunk_updates`` is not positive or the chunk does not
        divide ``config.num_updates``.
    """
    if num_seeds <= 0:
        raise RunDirError(f"{where}: num_seeds must be positive, got {num_seeds}")
    if chunk_updates <= 0 or config.num_updates % chunk_updates:
        raise RunDirError(
            f"{where}: chunk_updates {chunk_updates} must be positive and divide the number "
            f"of updates {config.num_updates} (total_steps {config.total_steps} // "
            f"{config.steps_per_update} steps per update)"
        )


def config_payload(algo: str, config: Any, **extra: Any) -> bytes:
    """The bytes of ``config.json``: the resolved dataclass config plus ``extra`` fields."""
    payload = {"algo": algo, "config": dataclasses.asdict(config), "version": __version__}
    payload.update(extra)
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()


def write_config(run_dir: Path, algo: str, config: Any, **extra: Any) -> None:
    """Writes ``config.json`` atomically (`jit_env.cli._files.atomic_write`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _files.atomic_write(run_dir / "config.json", config_payload(algo, config, **extra))


def read_config(run_dir: Path) -> dict:
    """Reads ``config.json`` (not through a symbolic link).

    Raises:
      RunDirError: if the directory or file is missing, a link, or not a JSON object
        with ``algo`` and ``config`` entries.
    """
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist")
    _files.refuse_link(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{run_dir} is not a run directory: no config.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunDirError(f"cannot read {path}: {e}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict) \
            or not isinstance(payload.get("algo"), str):
        raise RunDirError(f"{path} has no 'algo' (a string) and 'config' (an object) entries")
    return payload


def _check_type(value: Any, hint: Any) -> tuple[bool, Any]:
    """``(ok, value)``: whether a JSON value fits a config field's annotation (ints are
    accepted for floats and lists for tuples, converted; nothing else is cast)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is str:
        return isinstance(value, str), value
    if hint is type(None):
        return value is None, value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, converted = _check_type(value, arg)
            if ok:
                return True, converted
        return False, value
    if origin is typing.Literal:
        return value in args, value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            return False, value
        out = []
        for item, arg in zip(value, items):
            ok, converted = _check_type(item, arg)
            if not ok:
                return False, value
            out.append(converted)
        return True, tuple(out)
    return True, value  # an annotation this reader does not know: left to validate()


def _int_entry(payload: dict, name: str, path: Path) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RunDirError(f"{path}: `{name}` must be an integer, got {value!r}")
    return value


def read_run_config(run_dir: Path, *, total_steps: int | None = None) -> RunConfig:
    """Reads and checks ``config.json`` as a new run's flags are checked.

    Args:
      run_dir: the run directory.
      total_steps: a new ``total_steps`` (``jit-env train --resume DIR --total-steps N``).

    Raises:
      RunDirError: one line naming the problem: unreadable file, unknown algorithm,
        unknown fields, a value of the wrong type, an out-of-range value (the
        config's own ``validate``), or a bad ``seed`` / ``num_seeds`` / ``chunk_updates``.
    """
    from jit_env.cli._registry import ALGORITHMS

    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    payload = read_config(run_dir)
    algo = payload["algo"]
    if algo not in ALGORITHMS:
        raise RunDirError(f"{path}: unknown algo {algo!r}; known: {', '.join(ALGORITHMS)}")
    config_cls = ALGORITHMS[algo].config
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    values = dict(payload["config"])
    problems = []
    unknown = sorted(set(values) - set(names))
    if unknown:
        problems.append(f"unknown {algo} fields {unknown}")
    for name in names:
        if name not in values:
            continue
        ok, values[name] = _check_type(values[name], hints.get(name, Any))
        if not ok:
            problems.append(f"`{name}` must be {_hint_name(hints[name])}, got {values[name]!r}")
    if problems:
        raise RunDirError(f"{path}: " + "; ".join(problems))
    if total_steps is not None:
        values["total_steps"] = total_steps
    try:
        config = config_cls(**values).validate()
    except (TypeError, ValueError) as e:
        raise RunDirError(f"{path}: {e}") from None
    seed = _int_entry(payload, "seed", path)
    num_seeds = _int_entry(payload, "num_seeds", path)
    chunk = _int_entry(payload, "chunk_updates", path)
    check_run_settings(config, num_seeds, chunk, where=str(path))
    check_environment(config, where=str(path))
    from jit_env.agents._sweep import sweep_grid
    from jit_env.cli._loggers import LOGGERS

    loggers = payload.get("loggers", [])
    if not isinstance(loggers, list) or any(name not in LOGGERS for name in loggers):
        raise RunDirError(f"{path}: `loggers` must be a list of {', '.join(LOGGERS)}, "
                          f"got {loggers!r}")
    sweep = payload.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict) or not all(isinstance(v, list) for v in sweep.values()):
            raise RunDirError(f"{path}: `sweep` must map fields to lists, got {sweep!r}")
        try:
            sweep_grid(config, sweep)
        except ValueError as e:
            raise RunDirError(f"{path}: {e}") from None
    return RunConfig(algo, config, seed, num_seeds, chunk,
                     run_fingerprint(algo, config, seed, num_seeds, sweep),
                     tuple(loggers), sweep)


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def format_value(value: Any) -> str:
    """A metric value as ``metrics.csv`` holds it: integers as integers, floats in the
    shortest form that reads back to the same value of their own precision
    (float32 stays float32), non-finite values as ``nan`` / ``inf`` / ``-inf``."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        if isinstance(value, np.float32):
            return str(value)  # NumPy's shortest float32 repr: 0.1, not 0.10000000149011612
        return repr(float(value))
    return str(value)


class MetricsWriter:
    """Appends rows to ``metrics.csv`` (never through a link), creating it with a header.

    Args:
      run_dir: the run directory.
      metric_names: the agent's metric names; a new file's columns are
        `METRIC_COLUMNS` followed by these (sorted). An existing file keeps its header.
    """

    def __init__(self, run_dir: Path, metric_names: Any = ()):
        self.path = Path(run_dir) / "metrics.csv"
        _files.refuse_link(self.path)
        if self.path.exists():
            with self.path.open(newline="") as f:
                self.columns = next(csv.reader(f), list(METRIC_COLUMNS))
        else:
            extra = sorted(set(metric_names) - set(METRIC_COLUMNS))
            self.columns = list(METRIC_COLUMNS) + extra
            _files.atomic_write(self.path, _csv_line(self.columns).encode())
        self._file = _files.open_append(self.path)

    def write(self, rows: list[dict]) -> None:
        """Appends ``rows`` (dicts by column name; a missing value is an empty cell) in
        one write, then flushes and ``fsync``-s the file."""
        text = "".join(_csv_line([format_value(row[k]) if k in row else "" for k in self.columns])
                       for row in rows)
        _files.write_stage("append", self.path)
        self._file.write(text)
        self._file.flush()
        _files.write_stage("fsync", self.path)
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


def _csv_line(cells: list) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def read_metrics(run_dir: Path) -> list[dict]:
    """Rows of ``metrics.csv`` as dicts of floats (empty cells and ``nan`` become NaN)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            {k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def truncate_metrics(run_dir: Path, max_update: int) -> list[str]:
    """Drops the rows after ``max_update`` (written after the checkpoint a resume starts
    from), keeping every other line byte for byte; replaces the file atomically.

    A last line without its newline (a write cut short by a crash or a full disk)
    is dropped: that is the one repair made.

    Returns:
      Notes for the user (one line each): the repair, or rows missing before
      ``max_update``.

    Raises:
      RunDirError: naming the line, if the header lacks ``update`` / ``seed``, or a
        row has another number of cells than the header or a non-integer ``update``.
    """
    path = Path(run_dir) / "metrics.csv"
    _files.refuse_link(path)
    if not path.exists():
        return [f"{path} is missing; a new one starts at update {max_update + 1}"] \
            if max_update else []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path} is not text ({e})") from None
    lines = text.split("\n")
    notes, repaired = [], False
    if lines[-1] == "":
        lines.pop()
    elif len(lines) > 1:
        notes.append(f"{path}: dropped a last row cut short ({lines[-1][:40]!r})")
        lines.pop()
        repaired = True
    if not lines:
        raise RunDirError(f"{path} is empty (no header); move it away to resume without it")
    header = next(csv.reader([lines[0]]))
    if header[:2] != ["update", "seed"]:
        raise RunDirError(f"{path} line 1 is not a metrics header ({lines[0][:60]!r}); "
                          "move the file away to resume without it")
    kept, last = [lines[0]], 0
    for number, line in enumerate(lines[1:], start=2):
        cells = next(csv.reader([line]), [])
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells, expected {len(header)}")
            update = int(cells[0])
        except ValueError as e:
            raise RunDirError(f"{path} line {number} is damaged ({e}): {line[:60]!r}") from None
        if update <= max_update:
            kept.append(line)
            last = max(last, update)
    if last < max_update:
        notes.append(f"{path} holds rows up to update {last} only; the checkpoint is at "
                     f"update {max_update}")
    if len(kept) != len(lines) or repaired:
        _files.atomic_write(path, ("\n".join(kept) + "\n").encode())
    return notes


def plot_returns(run_dir: Path, title: str = "") -> Path:
    """Writes ``returns.png`` (atomically): mean episode return against environment
    steps, a line per seed (per grid point and seed in a sweep), with the
    evaluation returns (``--eval-every``) as dashed lines of the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    run_of = lambda r: (int(r.get("config", 0)), int(r["seed"]))
    runs = sorted({run_of(r) for r in rows})
    seeds = runs
    for index, run in enumerate(runs):
        name = f"config {run[0]} seed {run[1]}" if "config" in rows[0] else f"seed {run[1]}"
        # Updates in which no episode finished have no return (NaN): skip them.
        pts = [(r["env_steps"], r["episode_return"]) for r in rows
               if run_of(r) == run and not math.isnan(r["episode_return"])]
        xs, ys = [x for x, _ in pts], [y for _, y in pts]
        (line,) = ax.plot(xs, ys, label=f"{name} (training)", linewidth=1.2)
        evals = [(r["env_steps"], r["eval_return"]) for r in rows
                 if run_of(r) == run and not math.isnan(r.get("eval_return", math.nan))]
        if evals:  # greedy evaluation during training (--eval-every)
            ax.plot([x for x, _ in evals], [y for _, y in evals], "o--", markersize=3,
                    color=line.get_color(), label=f"{name} (evaluation)"
                    if index < 10 else None)
    ax.set_xlabel("environment steps (per seed)")
    ax.set_ylabel("mean episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if 1 < len(seeds) <= 10:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    out = Path(run_dir) / "returns.png"
    _files.atomic_write(out, buf.getvalue())
    return out
