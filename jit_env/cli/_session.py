"""The host side of a training run: jitted chunks, progress bar, files, signals, resume.

`TrainingSession` drives the pure `jit_env.agents.Trainer` for ``jit-env
train`` with the (cached, `jit_env.cli._programs`) compiled chunk of
``chunk_updates`` updates. After each chunk it appends the chunk's rows to
``metrics.csv`` (fsync-ed), then writes ``checkpoints/latest.msgpack``
atomically, keeping the one before as ``previous.msgpack`` (a hard link, so
there is never a moment without ``latest``), and, after the first chunk,
``config.json``: a directory without ``config.json`` holds no run, and a new
run may be started in it. Every chunk is the same compiled program, so a run
resumed from a checkpoint continues exactly as the uninterrupted run would
have (bit for bit on the CPU). The process holds the run directory's lock
(`jit_env.cli._files.RunLock`) while it writes.

SIGINT / SIGTERM (`jit_env.cli._signals`) are read at one point, before each
chunk: the run stops there, its last checkpoint and its update count agree,
and the exit status is 128 + the signal (130 for Ctrl-C). A non-finite loss
or other metric (`first_non_finite`) stops the run before its checkpoint is
written, unless ``stop_on_nan=False``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.agents import TrainingConfig, TrainState
from jit_env.agents._loop import EVAL_METRICS
from jit_env.agents._sweep import sweep_grid
from jit_env.cli import _checkpoint as checkpoint
from jit_env.cli import _distributed, _files, _programs, _signals, _sweep
from jit_env.cli import _run_dir as run_dir
from jit_env.cli._files import RunWriteError
from jit_env.cli._loggers import open_loggers
from jit_env.cli._progress import Progress as _Progress
from jit_env.cli._registry import get_algorithm


def _warn(message: str) -> None:
    print(f"jit-env: warning: {message}", file=sys.stderr)


def _loop_point(stage: str) -> None:
    """Called at each step of the chunk loop (``"start"``, ``"chunk"``, ``"metrics"``,
    ``"checkpoint"``, ``"config"``, ``"advance"``); does nothing. The fault-injection
    tests patch it to deliver a signal or raise at every step."""


def first_non_finite(metrics: dict, first_update: int) -> str | None:
    """Describes the first non-finite metric of a chunk, or ``None``.

    Args:
      metrics: name -> array of shape ``[num_seeds, chunk]``.
      first_update: the update number of the chunk's first update.

    The episode statistics (`jit_env.cli._run_dir.EPISODE_METRICS`) are NaN by
    design when no episode ended (``episodes == 0``) and are not counted then;
    the evaluation metrics (`jit_env.agents._loop.EVAL_METRICS`) are NaN in the
    updates without an evaluation and only an infinite value counts.
    """
    episodes = np.asarray(metrics.get("episodes", 1))
    first = None
    for name in sorted(metrics):
        values = np.asarray(metrics[name])
        if not np.issubdtype(values.dtype, np.floating):
            continue
        bad = ~np.isfinite(values)
        if name in run_dir.EPISODE_METRICS:
            bad &= episodes > 0
        if name in EVAL_METRICS:  # NaN in the updates without an evaluation
            bad &= ~np.isnan(values)
        if bad.any():
            seed, i = min(zip(*np.nonzero(bad)), key=lambda si: (si[1], si[0]))
            candidate = (int(i), int(seed), name, values[seed, i])
            if first is None or candidate[:2] < first[:2]:
                first = candidate
    if first is None:
        return None
    i, seed, name, value = first
    return f"non-finite metric `{name}` = {value} at update {first_update + i} (seed {seed})"


@dataclasses.dataclass
class TrainingSession:
    """A run directory plus the compiled functions that advance it.

    Use `create` for a new run, `resume` to continue one (both hold the run's
    lock until `run` returns or `close`), `open` to read one; `run` trains to
    ``config.total_steps``.
    """

    path: Path
    algo: str
    config: TrainingConfig
    seed: int
    num_seeds: int
    chunk_updates: int
    start_update: int = 0
    start_wall: float = 0.0
    state: TrainState | None = None
    stop_on_nan: bool = True
    loggers: tuple[str, ...] = ()
    sweep: dict | None = None
    target_return: float | None = None
    mesh: Any = None
    _lock: _files.RunLock | None = None
    _config_written: bool = False
    _created_dir: bool = False

    @property
    def writes(self) -> bool:
        """Whether this process writes the run directory, logs and prints: always, except
        in a distributed run (``mesh`` over several processes), where only process 0 does."""
        return self.mesh is None or _distributed.is_writer()

    @property
    def distributed(self) -> bool:
        """Whether this run spans several processes (`jit_env.cli._distributed`)."""
        return self.mesh is not None and jax.process_count() > 1

    @property
    def fingerprint(self) -> str:
        """`jit_env.cli._run_dir.run_fingerprint` of this run."""
        return run_dir.run_fingerprint(self.algo, self.config, self.seed, self.num_seeds,
                                       self.sweep)

    # ----------------------------------------------------------------- opening --
    @classmethod
    def create(cls, path: Path, algo: str, config: TrainingConfig, *, seed: int,
               num_seeds: int, chunk_updates: int, overwrite: bool = False,
               stop_on_nan: bool = True, loggers: tuple[str, ...] = (),
               sweep: dict | None = None,
               target_return: float | None = None, mesh: Any = None) -> TrainingSession:
        """Prepares a new run in ``path``: everything is checked before the directory is
        created; the first files are written by `run`, after the first chunk.

        With a ``mesh`` over several processes (``--distributed``), every process
        builds the program and only process 0 touches ``path``; if it cannot,
        every process raises.

        Raises:
          run_dir.RunDirError: if ``path`` already holds a run (``config.json``) and
            not ``overwrite``, is locked by another process, holds symbolic links,
            or ``num_seeds`` / ``chunk_updates`` are unusable.
          ValueError / KeyError: for an unknown ``algo`` or environment, or a config
            the agent does not support (nothing is written then).
        """
        path = Path(path)
        get_algorithm(algo)
        config = config.validate()
        run_dir.check_run_settings(config, num_seeds, chunk_updates, where="--chunk-updates")
        run_dir.check_environment(config, where="--env")
        session = cls(path, algo, config, seed, num_seeds, chunk_updates,
                      stop_on_nan=stop_on_nan, loggers=tuple(loggers), sweep=sweep,
                      target_return=target_return, mesh=mesh)
        if not session.distributed:
            session._open_new(overwrite)
            return session
        session.program()  # on every process: the same checks, the same errors
        failure = None
        if session.writes:
            try:
                session._open_new(overwrite)
            except (run_dir.RunDirError, OSError, ValueError, KeyError) as e:
                failure = e
        _distributed.agree(failure, f"open the run directory {path}")
        return session

    def _open_new(self, overwrite: bool) -> None:
        path, session = self.path, self
        if (path / "config.json").exists() and not overwrite:
            raise run_dir.RunDirError(
                f"{path} already holds a run; use --resume {path}, --overwrite or another --out"
            )
        session.program()  # builds the environment and agent: fails before mkdir
        session._created_dir = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        _files.check_no_links(path, run_dir.RUN_FILES)
        session._lock = _files.RunLock(path)
        try:
            for d in (path, path / "checkpoints"):
                _files.remove_strays(d)
            if (path / "config.json").exists() and not overwrite:  # created meanwhile
                raise run_dir.RunDirError(f"{path} already holds a run; use --resume {path}")
            # config.json first: a crash midway leaves "no run", never half of one.
            for name in ("config.json", "metrics.csv", "returns.png",
                         "checkpoints/latest.msgpack", "checkpoints/previous.msgpack"):
                (path / name).unlink(missing_ok=True)
        except BaseException:
            session.close()
            raise

    @classmethod
    def resume(cls, path: Path, *, total_steps: int | None = None,
               stop_on_nan: bool = True, mesh: Any = None) -> TrainingSession:
        """Re-opens the run in ``path`` for writing, at its last good checkpoint.

        Takes the run's lock, checks ``config.json`` as a new run's flags are
        checked, loads and verifies ``latest.msgpack`` (falling back to
        ``previous.msgpack``, with a warning, when it is missing or fails
        verification) and drops the ``metrics.csv`` rows after it.

        Args:
          path: the run directory.
          total_steps: a new length of the run (environment steps per seed), at
            least the steps already done; ``config.json`` is updated.
          stop_on_nan: as in `create`.
          mesh: as in `create`; in a distributed run every process reads
            ``path`` (so it must be on a file system they share) and only
            process 0 takes the lock and writes.

        Raises:
          run_dir.RunDirError: one line, if the directory is locked, holds links,
            or its config, checkpoints or metrics are unusable.
        """
        path = Path(path)
        if mesh is not None and jax.process_count() > 1:
            return cls._resume_distributed(path, total_steps, stop_on_nan, mesh)
        return cls._resume(path, total_steps, stop_on_nan, mesh)

    @classmethod
    def _resume_distributed(cls, path: Path, total_steps: int | None, stop_on_nan: bool,
                            mesh: Any) -> TrainingSession:
        failure, session = None, None
        try:
            if _distributed.is_writer():
                session = cls._resume(path, total_steps, stop_on_nan, mesh)
            else:  # reads only: no lock, no truncation, no config.json
                session = cls._open(path, total_steps, mesh)
                session.stop_on_nan = stop_on_nan
                session._config_written = True
        except (run_dir.RunDirError, OSError, ValueError, KeyError) as e:
            failure = e
        try:
            _distributed.agree(failure, f"resume {path}")
        except BaseException:
            if session is not None:
                session.close()
            raise
        assert session is not None
        return session

    @classmethod
    def _resume(cls, path: Path, total_steps: int | None, stop_on_nan: bool,
                mesh: Any) -> TrainingSession:
        run_dir.read_config(path)  # a clear error before anything is created in path
        _files.check_no_links(path, run_dir.RUN_FILES)
        lock = _files.RunLock(path)
        try:
            for d in (path, path / "checkpoints"):
                _files.remove_strays(d)
            session = cls._open(path, total_steps, mesh)
            session.stop_on_nan = stop_on_nan
            session._lock = lock
            for note in run_dir.truncate_metrics(path, session.start_update):
                _warn(note)
            if session.config.total_steps != run_dir.read_config(path)["config"]["total_steps"]:
                done = session.start_update * session.config.steps_per_update
                print(f"extending the run to total_steps {session.config.total_steps} "
                      f"({done} done); schedules over the run's length (learning-rate "
                      "annealing, exploration) follow the new length")
                session._write_config()
            session._config_written = True
        except BaseException:
            lock.release()
            raise
        return session

    @classmethod
    def open(cls, path: Path) -> TrainingSession:
        """Reads the run in ``path`` at its last good checkpoint, changing nothing.

        Raises:
          run_dir.RunDirError: as `resume` (but a lock held by a writer is no error).
        """
        return cls._open(Path(path), None)

    @classmethod
    def _open(cls, path: Path, total_steps: int | None, mesh: Any = None) -> TrainingSession:
        rc = run_dir.read_run_config(path, total_steps=total_steps)
        session = cls(path, rc.algo, rc.config, rc.seed, rc.num_seeds, rc.chunk_updates,
                      loggers=rc.loggers, sweep=rc.sweep, mesh=mesh)
        session._restore()
        done, total = session.start_update, session.config.num_updates
        if done > total:
            raise run_dir.RunDirError(
                f"{path / 'config.json'}: total_steps {session.config.total_steps} ({total} "
                f"updates) is below the {done} updates already done"
            )
        if (total - done) % session.chunk_updates:
            raise run_dir.RunDirError(
                f"{path / 'config.json'}: chunk_updates {session.chunk_updates} does not divide "
                f"the {total - done} updates left after update {done}"
            )
        return session

    def _restore(self) -> None:
        """Loads the newest checkpoint that passes verification into ``state``."""
        template = self.program().template
        reasons, missing = [], 0
        for name in ("latest", "previous"):
            ckpt = self.path / "checkpoints" / f"{name}.msgpack"
            if not ckpt.exists():
                reasons.append(f"{ckpt.name} is missing")
                missing += 1
                continue
            try:
                state, meta = checkpoint.load_checkpoint(ckpt, template)
                self.start_update, self.start_wall = self._check_metadata(meta, ckpt)
            except checkpoint.CheckpointMismatchError as e:
                reasons.append(str(e))
                continue
            if reasons:
                _warn(f"{reasons[0]}; resuming from {ckpt} (update {self.start_update})")
            self.state = state
            return
        if missing == len(reasons):
            raise run_dir.RunDirError(
                f"{self.path} has no checkpoint to resume from; start it again with "
                f"--out {self.path} --overwrite"
            )
        raise run_dir.RunDirError(f"no usable checkpoint: {'; '.join(reasons)}")

    def _check_metadata(self, meta: dict, ckpt: Path) -> tuple[int, float]:
        update, wall = meta.get("update"), meta.get("wall_time", 0.0)
        if not isinstance(update, int) or isinstance(update, bool) or update < 0:
            raise checkpoint.CheckpointMismatchError(f"{ckpt}: bad update count {update!r}")
        if not isinstance(wall, (int, float)) or isinstance(wall, bool):
            raise checkpoint.CheckpointMismatchError(f"{ckpt}: bad wall_time {wall!r}")
        if meta.get("algo") != self.algo:
            raise checkpoint.CheckpointMismatchError(
                f"{ckpt} was written by --algo {meta.get('algo')!r}, config.json says {self.algo!r}"
            )
        if meta.get("config_fingerprint") != self.fingerprint:
            raise checkpoint.CheckpointMismatchError(
                f"{ckpt} was written for a different configuration than config.json's "
                f"(fingerprint {meta.get('config_fingerprint')}, expected {self.fingerprint})"
            )
        return update, float(wall)

    def close(self) -> None:
        """Releases the run directory's lock (idempotent)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------ internals --
    def program(self) -> _programs.Program:
        """This run's (cached) `jit_env.cli._programs.Program`."""
        return _programs.program(self.algo, self.config, self.num_seeds, self.chunk_updates,
                                 self.sweep, mesh=self.mesh)

    @property
    def num_runs(self) -> int:
        """Runs trained together: ``num_seeds``, times the grid size in a sweep."""
        return self.program().num_runs

    def _keys(self) -> jax.Array:
        return jax.random.split(jax.random.PRNGKey(self.seed), self.num_seeds)

    def _write_config(self, **record: Any) -> None:
        if not self.writes:
            return
        extra: dict[str, Any] = {"loggers": list(self.loggers)}
        if self.sweep is not None:
            extra["sweep"] = self.sweep
        run_dir.write_config(self.path, self.algo, self.config, seed=self.seed,
                             num_seeds=self.num_seeds, chunk_updates=self.chunk_updates,
                             **extra, **record)

    def _save(self, state: TrainState, update: int, wall: float) -> None:
        """``latest`` := this state; ``previous`` := the old ``latest`` (hard link).

        In a distributed run every process calls it (the sharded leaves are
        gathered, a collective); only process 0 writes."""
        if self.mesh is not None:
            state = _distributed.to_host(state)
        if not self.writes:
            return
        ckpt_dir = self.path / "checkpoints"
        ckpt_dir.mkdir(exist_ok=True)
        latest = ckpt_dir / "latest.msgpack"
        if latest.exists():
            _files.keep_copy(latest, ckpt_dir / "previous.msgpack")
        checkpoint.save_checkpoint(latest, state, metadata={
            "update": update, "wall_time": wall, "algo": self.algo,
            "config_fingerprint": self.fingerprint,
        })

    def _discard_if_empty(self) -> None:
        """Removes the directory `create` made for a run that never wrote a file."""
        if not self.writes:
            return
        if not self._created_dir:
            (self.path / ".lock").unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            (self.path / "checkpoints").rmdir()
        try:
            if {p.name for p in self.path.iterdir()} <= {".lock"}:
                (self.path / ".lock").unlink(missing_ok=True)
                self.path.rmdir()
        except OSError:
            pass

    # ------------------------------------------------------------------------ run --
    def run(self, *, progress: bool = True) -> int:
        """Trains to the end, writing metrics and checkpoints after every chunk.

        Compiles the chunk first (a run resumed after its last update compiles and
        trains nothing), then prints one line: finished or interrupted, the mean
        return of the last chunk's episodes, the compile time, the run directory.
        Releases the run directory's lock when it returns.

        Returns:
          0 when training finished; 128 + the signal (130 for SIGINT) when stopped by
          a signal (after the last complete chunk's checkpoint) or by a
          ``KeyboardInterrupt``; 1 when stopped by a non-finite metric (the message,
          on stderr, names it; the last checkpoint is the chunk before).

        Raises:
          RunWriteError: if a file cannot be written (e.g. a full disk); the message
            says which update the run can be resumed from.
        """
        try:
            return self._run(progress)
        finally:
            if not self._config_written:
                self._discard_if_empty()
            self.close()

    def _run(self, progress: bool) -> int:
        program = self.program()
        total = self.config.num_updates
        chunk = self.chunk_updates
        steps_per_update = self.config.steps_per_update
        t0 = time.perf_counter()
        run_chunk = None
        if self.state is None:
            state = program.initial_state(self._keys())
            run_chunk = program.compile_chunk()
        elif self.mesh is not None:
            state = _distributed.to_global(self.state, program.state_shardings())
            if self.start_update < total:
                run_chunk = program.compile_chunk()
        else:
            state = jax.tree.map(jnp.asarray, self.state)
            if self.start_update < total:  # a finished run compiles nothing
                run_chunk = program.compile_chunk()
        compile_time = time.perf_counter() - t0
        writer = None  # opened after the first chunk, which tells the metric names
        loggers: list = []  # opened with it, so that a run that never saves writes none
        update = saved = self.start_update
        last_return = last_eval = math.nan
        reached: dict | None = None
        points = sweep_grid(self.config, self.sweep) if self.sweep is not None else None
        writes = self.writes
        bar = _Progress(total * steps_per_update, enabled=progress and writes,
                        done=update * steps_per_update)
        wall_offset = self.start_wall - (time.perf_counter() - t0)
        stopped_by: str | int | None = None  # a signal number, "nan" or "interrupt"
        chunks_run = 0
        try:
            while update < total:
                requested = _signals.requested()  # the one point signals are read
                if self.distributed:  # one process signalled: all stop before this chunk
                    requested = _distributed.stop_requested(requested, chunks_run)
                    chunks_run += 1
                if requested is not None:
                    stopped_by = requested
                    break
                _loop_point("start")
                chunk_start = time.perf_counter()
                assert run_chunk is not None
                new_state, metrics = run_chunk(state, np.int32(update))
                metrics = jax.device_get(metrics)
                _loop_point("chunk")
                wall = wall_offset + time.perf_counter() - t0
                rows = []
                for i in range(chunk):
                    u = update + i + 1
                    for r in range(program.num_runs):
                        row = {k: np.asarray(v)[r, i] for k, v in metrics.items()}
                        row.update(update=u, seed=r % self.num_seeds,
                                   env_steps=u * steps_per_update, wall_time=round(wall, 3))
                        if points is not None:
                            row.update(config=r // self.num_seeds,
                                       **points[r // self.num_seeds])
                        rows.append(row)
                if writer is None and writes:
                    sweep_columns = ["config", *points[0]] if points is not None else []
                    writer = run_dir.MetricsWriter(self.path, [*metrics.keys(), *sweep_columns])
                    loggers = open_loggers(
                        self.loggers, self.path, num_seeds=program.num_runs,
                        steps_per_update=steps_per_update, resume_update=self.start_update,
                        config={"algo": self.algo, "seed": self.seed,
                                "num_seeds": self.num_seeds, "sweep": self.sweep,
                                **dataclasses.asdict(self.config)},
                    )
                if writer is not None:
                    writer.write(rows)
                for logger in loggers:
                    logger.write([{k: (v.item() if isinstance(v, np.generic) else v)
                                   for k, v in row.items()} for row in rows])
                _loop_point("metrics")
                problem = first_non_finite(metrics, update + 1) if self.stop_on_nan else None
                if problem is not None:
                    stopped_by = "nan"
                    if writes:
                            print(f"jit-env: error: {problem}; training stopped, the last "
                              f"checkpoint is update {saved} (--no-stop-on-nan trains on)",
                              file=sys.stderr)
                    break
                self._save(new_state, update + chunk, wall)
                _loop_point("checkpoint")
                if not self._config_written:
                    self._write_config()  # after the first checkpoint: now it is a run
                    self._config_written = True
                    _loop_point("config")
                state, update = new_state, update + chunk
                saved = update
                # Mean return of every episode that ended in this chunk (all seeds).
                returns = np.asarray(metrics["episode_return"], np.float64)
                counts = np.asarray(metrics["episodes"], np.float64)
                if counts.sum() > 0:
                    last_return = float(
                        (np.nan_to_num(returns) * counts).sum() / counts.sum()
                    )
                if "eval_return" in metrics:  # the chunk's last evaluation, over all runs
                    evals = np.asarray(metrics["eval_return"], np.float64)
                    due = np.isfinite(evals).any(axis=0)
                    if due.any():
                        last_eval = float(np.nanmean(evals[:, np.nonzero(due)[0][-1]]))
                elapsed = time.perf_counter() - chunk_start
                rate = chunk * steps_per_update * program.num_runs / elapsed
                bar.advance(chunk * steps_per_update, rate, last_return, last_eval)
                _loop_point("advance")
                score = last_eval if "eval_return" in metrics else last_return
                if self.target_return is not None and score >= self.target_return:
                    reached = {"return": self.target_return, "reached_at_update": update,
                               "env_steps": update * steps_per_update,
                               "wall_time": round(wall, 3)}
                    self._write_config(target=reached)
                    break
            if stopped_by is None and _signals.requested() is not None:
                stopped_by = _signals.requested()  # arrived in the last chunk: still reported
        except KeyboardInterrupt:  # no handler installed (not the main thread)
            stopped_by = "interrupt"
        except OSError as e:
            bar.close()
            where = (f"the run can be resumed from update {saved} (jit-env train --resume "
                     f"{self.path})" if self._config_written else "nothing of this run was kept")
            raise RunWriteError(f"cannot write {e.filename or self.path}: "
                                f"{e.strerror or e}; {where}") from None
        finally:
            bar.close()
            if writer is not None:
                with contextlib.suppress(OSError):  # the rows that matter were fsync-ed
                    writer.close()
            for logger in loggers:
                logger.close()
        if self._config_written and writes:
            try:
                run_dir.plot_returns(self.path, title=f"{self.algo} on {self.config.env}")
            except OSError as e:  # the run is saved; the plot is drawn from metrics.csv
                _warn(f"cannot write {self.path / 'returns.png'}: {e.strerror or e}")
        if self._config_written and points is not None and writes:
            _sweep.summarize_run(self.path, points, self.num_seeds, self.config.steps_per_update,
                                 f"{self.algo} on {self.config.env}: sweep")
        status = "finished" if stopped_by is None else "stopped" if stopped_by == "nan" \
            else "interrupted"
        if reached is not None:
            status = (f"reached target return {self.target_return:g} "
                      f"({'evaluation' if 'eval_return' in metrics else 'training'} return "
                      f"{last_eval if 'eval_return' in metrics else last_return:.1f}) after "
                      f"{reached['wall_time']:.1f} s; stopped")
        if writes:
            print(
                f"{status} at update {saved}/{total} ({saved * steps_per_update} steps per "
                f"seed); mean return of the last chunk's episodes {last_return:.1f}; "
                + (f"last evaluation return {last_eval:.1f}; " if not math.isnan(last_eval)
                   else "")
                + f"compile {compile_time:.1f} s; "
                + (f"run directory {self.path}" if self._config_written
                   else "no run directory kept")
            )
        if stopped_by is None:
            return 0
        if stopped_by == "nan":
            return 1
        return _signals.exit_status(2 if stopped_by == "interrupt" else int(stopped_by))
