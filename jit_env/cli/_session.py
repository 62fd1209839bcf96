"""The host side of a training run: jitted chunks, progress bar, files, Ctrl-C, resume.

`TrainingSession` drives the pure `jit_env.agents.Trainer` for ``jit-env
train``: it vmaps the training functions over ``num_seeds`` seeds (one seed
runs unbatched, which compiles faster), compiles the training chunk while the
initial state is computed, runs ``chunk_updates`` updates per jitted call, and
after each chunk appends to ``metrics.csv`` and overwrites
``checkpoints/latest.msgpack`` (`jit_env.cli._run_dir`, `jit_env.cli._checkpoint`).
Every chunk is the same compiled program, so a run resumed from a checkpoint
continues exactly as the uninterrupted run would have (bit for bit on the CPU).
A Ctrl-C (``KeyboardInterrupt``) between chunks writes a checkpoint first.
`evaluate_run` evaluates a run directory's last checkpoint for ``jit-env eval``
with the pure `jit_env.agents.evaluate_policy`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.agents import (
    Trainer,
    TrainingConfig,
    TrainState,
    evaluate_policy,
    evaluation_policy,
    make_evaluation_env,
    make_trainer,
)
from jit_env.cli import _checkpoint as checkpoint
from jit_env.cli import _run_dir as run_dir
from jit_env.cli._registry import get_algorithm


def _config_from_dict(algo: str, values: dict) -> TrainingConfig:
    """The validated config of ``algo`` from ``config.json``'s ``config`` entry.

    Raises:
      ValueError: for an unknown ``algo`` or an out-of-range field.
      run_dir.RunDirError: for fields the config class does not have.
    """
    config_cls = get_algorithm(algo).config
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise run_dir.RunDirError(f"config.json has unknown {algo} fields {sorted(unknown)}")
    values = dict(values)
    for name, value in values.items():
        if isinstance(value, list):  # JSON has no tuples: hidden_sizes and the like
            values[name] = tuple(value)
    return config_cls(**values).validate()


@dataclasses.dataclass
class TrainingSession:
    """A run directory plus the compiled functions that advance it.

    Use `create` for a new run and `resume` to continue one; `run` trains to
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

    @classmethod
    def create(cls, path: Path, algo: str, config: TrainingConfig, *, seed: int,
               num_seeds: int, chunk_updates: int) -> TrainingSession:
        """Starts a new run in ``path`` (which must not hold a run already).

        Raises:
          run_dir.RunDirError: if ``path`` already holds a config.json.
          ValueError: for an unknown ``algo``.
        """
        path = Path(path)
        if (path / "config.json").exists():
            raise run_dir.RunDirError(
                f"{path} already holds a run; use --resume {path} or another --out"
            )
        get_algorithm(algo)
        run_dir.write_config(path, algo, config, seed=seed, num_seeds=num_seeds,
                             chunk_updates=chunk_updates)
        return cls(path, algo, config, seed, num_seeds, chunk_updates)

    @classmethod
    def resume(cls, path: Path) -> TrainingSession:
        """Re-opens the run in ``path`` at its last checkpoint.

        Raises:
          run_dir.RunDirError: if the directory, its config or its checkpoint is unusable.
        """
        payload = run_dir.read_config(Path(path))
        algo = payload["algo"]
        config = _config_from_dict(algo, payload["config"])
        try:
            session = cls(Path(path), algo, config, int(payload["seed"]),
                          int(payload["num_seeds"]), int(payload["chunk_updates"]))
        except (KeyError, TypeError, ValueError) as e:
            raise run_dir.RunDirError(f"{path}/config.json is incomplete: {e}") from None
        ckpt = session.path / "checkpoints" / "latest.msgpack"
        if not ckpt.exists():
            raise run_dir.RunDirError(f"{path} has no checkpoint to resume from ({ckpt})")
        session.state, meta = checkpoint.load_checkpoint(ckpt, session._template())
        session.start_update = int(meta["update"])
        session.start_wall = float(meta.get("wall_time", 0.0))
        run_dir.truncate_metrics(session.path, session.start_update)
        return session

    # ------------------------------------------------------------------ internals --
    def _trainer(self) -> Trainer:
        return make_trainer(self.config, get_algorithm(self.algo).factory)

    def _keys(self) -> jax.Array:
        return jax.random.split(jax.random.PRNGKey(self.seed), self.num_seeds)

    def _over_seeds(self, fn):
        """``fn`` mapped over the leading seed axis: ``jax.vmap``, except for one seed.

        With one seed the function runs unbatched and the axis is squeezed and
        re-added around it: the same values, but every array (and every PRNG
        draw) keeps its rank, which XLA:CPU compiles faster.
        """
        if self.num_seeds > 1:
            return jax.vmap(fn)

        def one(tree):
            out = fn(jax.tree.map(lambda x: x[0], tree))
            return jax.tree.map(lambda x: x[None], out)

        return one

    def _template(self, trainer: Trainer | None = None) -> TrainState:
        """Shapes and dtypes of the initial (seed-batched) `TrainState`, computing nothing."""
        trainer = self._trainer() if trainer is None else trainer
        return jax.eval_shape(self._over_seeds(trainer.init), self._keys())

    def _save(self, state: TrainState, update: int, wall: float) -> None:
        ckpt_dir = self.path / "checkpoints"
        latest = ckpt_dir / "latest.msgpack"
        if latest.exists():
            latest.replace(ckpt_dir / "previous.msgpack")
        checkpoint.save_checkpoint(
            latest, state, metadata={"update": update, "wall_time": wall, "algo": self.algo}
        )

    # ------------------------------------------------------------------------ run --
    def run(self, *, progress: bool = True) -> int:
        """Trains to the end, writing metrics and checkpoints after every chunk.

        Compiles the chunk first (a run resumed after its last update compiles and
        trains nothing), then prints one line: finished or interrupted, the mean
        return of the last chunk's episodes, the compile time, the run directory.

        Returns:
          0 when training finished; 130 if interrupted by Ctrl-C (after
          writing a checkpoint of the last completed chunk).
        """
        trainer = self._trainer()
        total = self.config.num_updates
        chunk = self.chunk_updates
        steps_per_update = self.config.steps_per_update
        t0 = time.perf_counter()
        compile_start = time.perf_counter()
        chunk_fn = jax.jit(self._over_seeds(lambda s: trainer.run(s, chunk)))
        run_chunk: jax.stages.Compiled | None = None
        if self.state is None:
            # Compile the chunk (from the state's shapes) while init compiles and runs:
            # XLA compiles without the GIL, so the two overlap on a multi-core CPU.
            template = self._template(trainer)
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(lambda: chunk_fn.lower(template).compile())
                state = jax.jit(self._over_seeds(trainer.init))(self._keys())
                run_chunk = pending.result()
        else:
            state = jax.tree.map(jnp.asarray, self.state)
            # A finished run (resumed at its last update) has nothing to compile.
            run_chunk = chunk_fn.lower(state).compile() if self.start_update < total else None
        compile_time = time.perf_counter() - compile_start
        writer = None  # opened after the first chunk, which tells the metric names
        update = self.start_update
        last_return = math.nan
        bar = _Progress(total * steps_per_update, enabled=progress,
                        done=update * steps_per_update)
        wall_offset = self.start_wall - (time.perf_counter() - t0)
        interrupted = False
        try:
            while update < total:
                assert run_chunk is not None  # compiled above whenever update < total
                chunk_start = time.perf_counter()
                new_state, metrics = run_chunk(state)
                metrics = jax.device_get(metrics)
                state = new_state
                wall = wall_offset + time.perf_counter() - t0
                rows = []
                for i in range(chunk):
                    u = update + i + 1
                    for s in range(self.num_seeds):
                        row = {k: float(np.asarray(v)[s, i]) for k, v in metrics.items()}
                        row.update(update=u, seed=s, env_steps=u * steps_per_update,
                                   wall_time=round(wall, 3))
                        rows.append(row)
                update += chunk
                if writer is None:
                    writer = run_dir.MetricsWriter(self.path, metrics.keys())
                writer.write(rows)
                self._save(state, update, wall)
                # Mean return of every episode that ended in this chunk (all seeds).
                returns = np.asarray(metrics["episode_return"], np.float64)
                counts = np.asarray(metrics["episodes"], np.float64)
                if counts.sum() > 0:
                    last_return = float(
                        (np.nan_to_num(returns) * counts).sum() / counts.sum()
                    )
                elapsed = time.perf_counter() - chunk_start
                rate = chunk * steps_per_update * self.num_seeds / elapsed
                bar.advance(chunk * steps_per_update, rate, last_return)
        except KeyboardInterrupt:
            interrupted = True
            self._save(state, update, wall_offset + time.perf_counter() - t0)
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        run_dir.plot_returns(self.path, title=f"{self.algo} on {self.config.env}")
        status = "interrupted" if interrupted else "finished"
        print(
            f"{status} at update {update}/{total} ({update * steps_per_update} steps per seed); "
            f"mean return of the last chunk's episodes {last_return:.1f}; "
            f"compile {compile_time:.1f} s; run directory {self.path}"
        )
        return 130 if interrupted else 0


class _Progress:
    """A rich progress bar (or nothing) showing steps, steps/s and the latest return."""

    def __init__(self, total: int, *, enabled: bool, done: int = 0):
        self._bar = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("steps · {task.fields[rate]} steps/s · return {task.fields[ret]}"),
            TimeElapsedColumn(),
        )
        self._task = self._bar.add_task("train", total=total, completed=done, rate="-", ret="-")
        self._bar.start()

    def advance(self, steps: int, rate: float, ret: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=steps, rate=f"{rate:,.0f}",
                             ret="-" if math.isnan(ret) else f"{ret:.1f}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def evaluate_run(path: Path, *, episodes: int, seed: int = 0, agent_seed: int = 0,
                 gif: Path | None = None, policy: str = "greedy") -> dict:
    """Evaluates the last checkpoint of a run on ``episodes`` fresh episodes.

    Uses `jit_env.agents.evaluate_policy` with ``policy`` (``"greedy"``, the
    default, or ``"sample"``: as in training) on seed ``agent_seed`` of the run;
    with ``gif``, also plays one more episode with the same policy in
    `jit_env.agents.make_evaluation_env` and writes its frames.

    Returns:
      dict with ``env``, ``mean``, ``std``, ``min``, ``max`` of the returns, and
      ``frames`` written to ``gif`` (0 without).

    Raises:
      run_dir.RunDirError: if the run directory or checkpoint is unusable.
      ValueError: if ``agent_seed`` is not one of the run's seeds, or ``policy``
        is unknown.
    """
    session = TrainingSession.resume(Path(path))
    assert session.state is not None  # resume() restores it or raises
    if not 0 <= agent_seed < session.num_seeds:
        raise ValueError(f"--agent-seed must be in [0, {session.num_seeds}), got {agent_seed}")
    trainer = session._trainer()
    pick = lambda tree: jax.tree.map(lambda x: jnp.asarray(x[agent_seed]), tree)
    agent_state, env_state = pick(session.state.agent_state), pick(session.state.env_state)
    run_episodes = jax.jit(
        lambda key: evaluate_policy(session.config, trainer.agent, agent_state, env_state, key,
                                    episodes=episodes, policy=policy)
    )
    returns, lengths = jax.device_get(run_episodes(jax.random.PRNGKey(seed)))
    result = {
        "env": session.config.env,
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
        "frames": 0,
    }
    if gif is not None:
        act, params = evaluation_policy(trainer.agent, agent_state, policy)
        result["frames"] = _write_animation(
            make_evaluation_env(session.config, env_state), act,
            params, trainer.agent.initial_policy_state(()), seed,
            int(lengths.max()), gif,
        )
    return result


def _write_animation(env, act, params, policy_state, seed: int, max_length: int, path: Path,
                     max_frames: int = 250) -> int:
    """Plays one episode of ``env`` with ``act`` and writes its rendered frames.

    The episode is drawn with its own key (it is not one of the evaluation
    episodes); at most ``max_frames`` frames are kept (evenly strided). Returns
    the number of frames written.
    """
    from jit_env import envs

    def episode(key):
        reset_key, act_key = jax.random.split(key)
        state, ts = env.reset(reset_key)

        def body(carry, k):
            state, ts, pstate = carry
            action, pstate, _ = act(params, ts, pstate, k)
            new_state, new_ts = env.step(state, action)
            return (new_state, new_ts, pstate), (new_state, new_ts.last())

        keys = jax.random.split(act_key, max_length)
        _, (states, last) = jax.lax.scan(body, (state, ts, policy_state), keys)
        states = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), state, states)
        return states, last

    states, last = jax.jit(episode)(jax.random.PRNGKey(seed))
    last = np.asarray(last)
    length = int(np.argmax(last)) + 1 if last.any() else max_length
    stride = max(1, math.ceil((length + 1) / max_frames))
    states = jax.tree.map(lambda x: x[: length + 1 : stride], states)
    frames = np.asarray(jax.jit(jax.vmap(env.render))(states))
    envs.render_video(frames, path, fps=max(1, 50 // stride))
    return int(frames.shape[0])
