"""Where ``jit-env train`` sends its metrics besides ``metrics.csv``: TensorBoard, W&B, JSON.

``--logger csv`` (``metrics.csv``, `jit_env.cli._run_dir.MetricsWriter`) is
always on; ``--logger tensorboard``, ``wandb`` and ``json`` add the loggers
here. Each receives the same rows as the CSV — one dict per (update, seed) with
``update``, ``seed``, ``env_steps``, ``wall_time`` and every metric (float, NaN
where an update has no value, e.g. ``eval_return`` between evaluations) — after
every chunk, and each continues a resumed run without duplicated or missing
steps: the rows after the checkpoint's update are dropped (JSON) or purged
(TensorBoard's ``purge_step``; W&B's ``resume="allow"`` with the run's id).

The TensorBoard and W&B libraries are optional extras, imported only when
their logger is opened; a missing one raises ``ImportError`` naming the extra.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

LOGGERS = ("csv", "tensorboard", "wandb", "json")
"""The names ``--logger`` accepts (``csv`` is always on)."""

Row = Mapping[str, Any]
_KEYS = ("update", "seed", "env_steps", "wall_time")


class Logger(Protocol):
    """A metrics sink: ``write(rows)`` after every chunk, ``close()`` at the end."""

    def write(self, rows: Sequence[Row]) -> None:
        """Records ``rows`` (dicts: ``update``, ``seed``, ``env_steps``, ``wall_time``,
        then float metrics, NaN where an update has no value)."""
        ...

    def close(self) -> None:
        """Flushes and closes the sink."""
        ...


def _import(module: str, extra: str, logger: str) -> Any:
    """``importlib.import_module(module)``, or an ImportError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"--logger {logger} needs the {extra!r} extra: pip install 'jit-env[{extra}]' "
            f"({error})"
        ) from None


def _metrics(row: Row) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if k not in _KEYS}


class TensorBoardLogger:
    """TensorBoard event files, one run per seed: ``DIR/tensorboard/seed_S``.

    Written with tensorboardX's ``SummaryWriter`` (``add_scalar(tag, value,
    global_step)``); the step of a row is its ``env_steps``, as CleanRL's
    ``writer.add_scalar(..., global_step)``. Every metric of every row is
    written except NaN values, which mean "no value in this update" (an
    episode statistic when no episode ended, an evaluation metric between
    evaluations) and which tensorboardX would report on stdout. On resume after
    update ``u``, ``purge_step = (u + 1) · steps_per_update`` makes TensorBoard
    discard what an interrupted process wrote past the checkpoint (tensorboardX
    ``SummaryWriter(purge_step=...)`` writes a ``SessionLog.START`` event that
    TensorBoard's reader honours).

    Args:
      path: the run directory.
      num_seeds: seeds of the run (one writer each).
      resume_update: updates already done (0 for a new run).
      steps_per_update: environment steps per update per seed.

    Raises:
      ImportError: without tensorboardX (the ``tensorboard`` extra).
    """

    def __init__(self, path: Path, num_seeds: int, *, resume_update: int = 0,
                 steps_per_update: int = 1):
        tbx = _import("tensorboardX", "tensorboard", "tensorboard")
        purge = (resume_update + 1) * steps_per_update if resume_update else None
        self._writers = [
            # A unique suffix: a writer opened in the same second as the last one
            # would otherwise reuse (and truncate) its file.
            tbx.SummaryWriter(str(path / "tensorboard" / f"seed_{s}"), purge_step=purge,
                              flush_secs=3600, filename_suffix=f".{time.time_ns()}")
            for s in range(num_seeds)
        ]

    def write(self, rows: Sequence[Row]) -> None:
        """One ``add_scalar`` per non-NaN metric of each row, at ``env_steps``; then flushes."""
        for row in rows:
            writer = self._writers[int(row["seed"])]
            for name, value in _metrics(row).items():
                if not math.isnan(value):
                    writer.add_scalar(name, value, int(row["env_steps"]))
        for writer in self._writers:
            writer.flush()

    def close(self) -> None:
        """Closes every seed's event file."""
        for writer in self._writers:
            writer.close()


class JSONLogger:
    """``DIR/metrics.jsonl``: one JSON object per (update, seed), NaN written as ``null``.

    One record per line, the CSV's columns as keys (``update``, ``seed``,
    ``env_steps``, ``wall_time``, then the metrics): a long format that
    ``pandas.read_json(path, lines=True)`` loads as one table. On resume
    after update ``u`` the file is rewritten (temporary file, then
    ``os.replace``) keeping only the records with ``update <= u``.

    Args:
      path: the run directory.
      resume_update: updates already done (0 for a new run: the file starts empty).
    """

    def __init__(self, path: Path, *, resume_update: int = 0):
        self._path = path / "metrics.jsonl"
        kept = []
        if resume_update and self._path.exists():
            for line in self._path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    break  # a torn last line of an interrupted process
                if int(record["update"]) <= resume_update:
                    kept.append(line)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self._path)
        self._file = self._path.open("a")

    def write(self, rows: Sequence[Row]) -> None:
        """Appends one JSON line per row (NaN as ``null``) and flushes."""
        for row in rows:
            record = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                      for k, v in row.items()}
            self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Closes ``metrics.jsonl``."""
        self._file.close()


class WandbLogger:
    """A Weights & Biases run in ``DIR/wandb``; works offline (``WANDB_MODE=offline``).

    ``wandb.init(project=$WANDB_PROJECT or "jit-env", name=DIR's name, dir=DIR,
    id=..., resume="allow", config=config)``; the run's id is kept in
    ``DIR/wandb_id`` so that ``--resume`` continues the same W&B run. Each update
    is one ``wandb.log(..., step=update, commit=True)`` call with ``env_steps``
    and, per seed ``S``, ``seed_S/<metric>`` (NaN values are left out). With a
    ``step`` W&B's default is ``commit=False``, which holds the last update back
    until ``finish`` (``wandb/sdk/wandb_run.py``, ``Run.log``); committing each
    update writes it at once. W&B ignores steps
    at or below one it has already logged, so a resumed run logs from the
    checkpoint's update on without duplicates.

    Args:
      path: the run directory.
      config: the run's ``config.json`` entries (W&B's run config).
      resume_update: updates already done (0 for a new run).

    Raises:
      ImportError: without wandb (the ``wandb`` extra).
    """

    def __init__(self, path: Path, config: Mapping[str, Any], *, resume_update: int = 0):
        wandb = _import("wandb", "wandb", "wandb")
        id_file = path / "wandb_id"
        if id_file.exists():
            run_id = id_file.read_text().strip()
        else:
            run_id = secrets.token_hex(4)  # W&B ids: letters and digits
            id_file.write_text(run_id + "\n")
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "jit-env"), name=path.name, dir=str(path),
            id=run_id, resume="allow", config=dict(config),
        )
        self._resume_update = resume_update

    def write(self, rows: Sequence[Row]) -> None:
        """One committed ``wandb.log(..., step=update)`` per update after the resumed one."""
        by_update: dict[int, dict[str, float]] = {}
        for row in rows:
            update = int(row["update"])
            entry = by_update.setdefault(update, {"env_steps": float(row["env_steps"])})
            for name, value in _metrics(row).items():
                if not math.isnan(value):
                    entry[f"seed_{int(row['seed'])}/{name}"] = value
        for update in sorted(by_update):
            if update > self._resume_update:
                self._run.log(by_update[update], step=update, commit=True)

    def close(self) -> None:
        """Finishes the W&B run (``wandb.finish``)."""
        self._run.finish()


def open_loggers(
    names: Iterable[str],
    path: Path,
    *,
    num_seeds: int,
    steps_per_update: int,
    config: Mapping[str, Any],
    resume_update: int = 0,
) -> list[Logger]:
    """The loggers named in ``names`` besides ``csv`` (which the session always writes).

    Raises:
      ValueError: for a name not in `LOGGERS`.
      ImportError: for a logger whose extra is not installed (naming the extra).
    """
    loggers: list[Logger] = []
    for name in dict.fromkeys(names):
        if name not in LOGGERS:
            raise ValueError(f"unknown logger {name!r}; known: {', '.join(LOGGERS)}")
        if name == "tensorboard":
            loggers.append(TensorBoardLogger(path, num_seeds, resume_update=resume_update,
                                             steps_per_update=steps_per_update))
        elif name == "json":
            loggers.append(JSONLogger(path, resume_update=resume_update))
        elif name == "wandb":
            loggers.append(WandbLogger(path, config, resume_update=resume_update))
    return loggers
