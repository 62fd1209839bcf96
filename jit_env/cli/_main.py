"""The ``jit-env`` command's argument parsing and subcommands: ``train``, ``eval``, ``list``.

``jit-env train`` trains PPO on CartPole-v1 with defaults that solve it
(``--algo NAME`` picks another registered algorithm, each with its own config
flags and defaults; `jit_env.cli.ALGORITHMS`), in jitted chunks of updates so
the host can show progress between them (`jit_env.cli._session`), and writes a
run directory (`jit_env.cli._run_dir`). Everything is checked before the
directory is created; ``--overwrite`` replaces a run already there.
``jit-env train --resume runs/NAME`` continues from the last good checkpoint;
on the CPU the result equals an uninterrupted run bit for bit. With
``--resume``, only ``--total-steps`` (extending or shortening the run; it is
written to ``config.json``, and schedules over the run's length follow it),
``--[no-]progress``, ``--[no-]stop-on-nan`` and the ``--distributed`` flags may
be given: any other flag is
refused by name. Ctrl-C / SIGTERM stop training before the next chunk (exit
130 / 143); a non-finite metric stops it before its checkpoint (exit 1,
``--no-stop-on-nan`` trains on). ``jit-env eval runs/NAME`` reports
evaluation returns and can write an animation. ``jit-env list`` lists the
environments by suite, the installed extras and the algorithms
(`jit_env.cli._listing`). ``--env`` takes every string `jit_env.make` does,
a user's ``package.module:attr`` included, with ``--env-kwargs`` (a JSON
object); ``config.json`` records both. Bad input gets a one-line error and
exit status 2.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from jit_env.cli import _signals
from jit_env.cli._checkpoint import CheckpointMismatchError
from jit_env.cli._files import RunDirError, RunWriteError
from jit_env.cli._registry import ALGORITHMS, get_algorithm
from jit_env.cli._sweep import parse_sweep


def _option(help: str) -> Any:
    return tyro.conf.arg(help=help)


def train_command(algo: str = "ppo") -> type:
    """The ``train`` subcommand's dataclass for ``algo``: its config's fields are the flags.

    Every algorithm has its own config dataclass (`jit_env.agents.PPOConfig`, …), so
    the flags ``jit-env train`` accepts depend on ``--algo`` (read from the command
    line before the rest is parsed).

    Raises:
      ValueError: for an unknown ``algo``.
    """
    config_cls = get_algorithm(algo).config
    return dataclasses.make_dataclass(
        "Train",
        [
            ("config", Annotated[config_cls, tyro.conf.OmitArgPrefixes],
             dataclasses.field(default_factory=config_cls)),
            ("algo", Annotated[str, _option(f"Algorithm to train: one of {', '.join(ALGORITHMS)} "
                                            "(`jit-env list`); the other flags depend on it.")],
             dataclasses.field(default=algo)),
            ("seed", Annotated[int, _option("Seed of the first run; seeds are split from it.")],
             dataclasses.field(default=0)),
            ("num_seeds", Annotated[int, _option("Independent agents trained in one vmapped "
                                                 "program.")],
             dataclasses.field(default=1)),
            ("out", Annotated[Path | None, _option("Run directory (default: "
                                                   "runs/<algo>-<env>-<seed>).")],
             dataclasses.field(default=None)),
            ("resume", Annotated[Path | None, _option("Continue the run in this directory from "
                                                      "its last good checkpoint, as its "
                                                      "config.json says; only --total-steps "
                                                      "(to extend it), --[no-]progress and "
                                                      "--[no-]stop-on-nan may be given too.")],
             dataclasses.field(default=None)),
            ("overwrite", Annotated[bool, _option("Replace the run already in --out (its "
                                                  "config, metrics and checkpoints).")],
             dataclasses.field(default=False)),
            ("stop_on_nan", Annotated[bool, _option("Stop, before checkpointing, at the first "
                                                    "non-finite loss or other metric, naming "
                                                    "it.")],
             dataclasses.field(default=True)),
            ("chunk_updates", Annotated[int, _option("Updates per jitted chunk between progress "
                                                     "reports and checkpoints (0: about 20 "
                                                     "chunks).")],
             dataclasses.field(default=0)),
            ("progress", Annotated[bool, _option("Show a progress bar.")],
             dataclasses.field(default=True)),
            ("logger", Annotated[tuple[Literal["csv", "tensorboard", "wandb", "json"], ...],
                                 tyro.conf.UseAppendAction,
                                 _option("Where metrics go besides metrics.csv (always "
                                         "written): tensorboard (event files, the "
                                         "'tensorboard' extra), wandb (the 'wandb' extra; "
                                         "WANDB_MODE=offline works), json (metrics.jsonl). "
                                         "Repeat the flag for several.")],
             dataclasses.field(default=())),
            ("sweep", Annotated[tuple[str, ...], tyro.conf.UseAppendAction, _option(
                "FIELD=V1,V2,... : train the grid of these values (one flag per field; the "
                "grid is their product) x --num-seeds in one vmapped program. Only fields "
                "entering the program as numbers (learning rates, coefficients, gamma, "
                "lambda, epsilon) can be swept. Writes sweep.csv and sweep.png.")],
             dataclasses.field(default=())),
            ("target_return", Annotated[float | None, _option(
                "Stop after the chunk in which the mean episode return (the evaluation "
                "return with --eval-every) reaches this; config.json records when.")],
             dataclasses.field(default=None)),
            *_DISTRIBUTED_FIELDS,
        ],
        namespace={"__doc__": "Train an agent and write a run directory (config, metrics.csv, "
                              "returns.png, checkpoints)."},
    )


_DISTRIBUTED_FIELDS = [
    ("distributed", Annotated[bool, _option(
        "One run over several processes (jax.distributed): the environment batch is "
        "sharded over every device of every process; only process 0 writes. Start the "
        "same command in every process (docs: Scaling).")], dataclasses.field(default=False)),
    ("coordinator_address", Annotated[str | None, _option(
        "With --distributed: host:port of process 0 (default $JIT_ENV_COORDINATOR_ADDRESS, "
        "$JAX_COORDINATOR_ADDRESS, or JAX's cluster detection, e.g. SLURM).")],
     dataclasses.field(default=None)),
    ("num_processes", Annotated[int | None, _option(
        "With --distributed: the number of processes (default $JIT_ENV_NUM_PROCESSES or "
        "JAX's cluster detection).")], dataclasses.field(default=None)),
    ("process_id", Annotated[int | None, _option(
        "With --distributed: this process's index, 0 to --num-processes - 1 (default "
        "$JIT_ENV_PROCESS_ID or JAX's cluster detection).")], dataclasses.field(default=None)),
    ("distributed_timeout", Annotated[float, _option(
        "With --distributed: seconds to wait for every process to join, and after which "
        "a silent process stops the others.")], dataclasses.field(default=120.0)),
]
DISTRIBUTED_FLAGS = ("distributed", "coordinator-address", "num-processes", "process-id",
                     "distributed-timeout")
"""The flags of a distributed run (`jit_env.cli._distributed`); ``--resume`` takes them too."""


def _algo_from_argv(argv: list[str]) -> str:
    """The value of ``--algo`` after the ``train`` subcommand (``ppo`` if absent)."""
    if "train" not in argv:
        return "ppo"
    rest = argv[argv.index("train") + 1 :]
    for i, arg in enumerate(rest):
        if arg == "--algo" and i + 1 < len(rest):
            return rest[i + 1]
        if arg.startswith("--algo="):
            return arg.split("=", 1)[1]
    return "ppo"


@dataclasses.dataclass
class Eval:
    """Evaluate a trained run: mean ± std episode return, optionally an animation."""

    run_dir: tyro.conf.Positional[Path]
    episodes: int | None = None
    """Number of evaluation episodes (run in parallel); default 100, and 1,000 for
    SlimeVolley-v0 (slimevolleygym TRAINING.md's evaluation against the baseline)."""
    gif: Path | None = None
    """Write an animation of the first episode here (.gif or .mp4)."""
    seed: int = 0
    """Evaluation seed."""
    agent_seed: int = 0
    """Which of the run's seeds to evaluate."""
    policy: Literal["greedy", "sample"] = "greedy"
    """greedy: argmax of the logits / Q-values (DQN with epsilon 0, IMPALA's current
    parameters), the Gaussian mean clipped to the bounds; sample: act as in training."""


@dataclasses.dataclass
class List:
    """List the environments by suite, which extras are installed, and the algorithms."""

    suite: str | None = None
    """Also register and list a lazily registered suite's ids (imports it): gymnax, navix,
    xminigrid, jumanji, pgx, brax, craftax or playground."""


class CLIError(Exception):
    """A user error reported as one line with exit status 2."""


def _default_chunk(num_updates: int) -> int:
    """The largest divisor of ``num_updates`` not above ``num_updates / 20`` (at least 1)."""
    target = max(1, num_updates // 20)
    for c in range(target, 0, -1):
        if num_updates % c == 0:
            return c
    return 1


RESUME_FLAGS = ("resume", "total-steps", "progress", "stop-on-nan", *DISTRIBUTED_FLAGS)
"""The flags ``jit-env train --resume DIR`` honours (each also as ``--no-…`` where boolean)."""


def _flags_given(argv: list[str]) -> list[str]:
    """The ``--flag`` names given after ``train`` (``--no-x`` → ``x``, ``_`` → ``-``)."""
    rest = argv[argv.index("train") + 1 :] if "train" in argv else []
    names = []
    for arg in rest:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0].replace("_", "-")
            names.append(name[3:] if name.startswith("no-") else name)
    return names


def _mesh(args: Any, argv: list[str]) -> Any:
    """Joins the distributed run for ``--distributed`` and returns its global mesh (else None)."""
    if not args.distributed:
        given = sorted(set(_flags_given(argv)) & set(DISTRIBUTED_FLAGS[1:]))
        if given:
            raise CLIError(f"{', '.join('--' + n for n in given)} only apply with --distributed")
        return None
    from jit_env.cli import _distributed

    _distributed.initialize(args.coordinator_address, args.num_processes, args.process_id,
                            timeout=args.distributed_timeout)
    return _distributed.global_mesh()


def _cmd_train(args: Any, argv: list[str]) -> int:
    from jit_env.cli._session import TrainingSession

    mesh = _mesh(args, argv)
    if args.resume is not None:
        refused = sorted({f"--{n}" for n in _flags_given(argv)} - {f"--{n}" for n in RESUME_FLAGS})
        if refused:
            raise CLIError(
                f"--resume continues the run as {args.resume}/config.json says; it cannot "
                f"honour {', '.join(refused)} (only --total-steps, to extend the run, and "
                "--[no-]progress, --[no-]stop-on-nan, the --distributed flags)"
            )
        total = args.config.total_steps if "total-steps" in _flags_given(argv) else None
        session = TrainingSession.resume(args.resume, total_steps=total,
                                         stop_on_nan=args.stop_on_nan, mesh=mesh)
    else:
        if args.num_seeds <= 0:
            raise CLIError(f"--num-seeds must be positive, got {args.num_seeds}")
        if args.chunk_updates < 0:
            raise CLIError(f"--chunk-updates must be positive (or 0: automatic), got "
                           f"{args.chunk_updates}")
        config = args.config.validate()
        sweep = parse_sweep(args.sweep, config) if args.sweep else None
        if args.target_return is not None and not math.isfinite(args.target_return):
            raise CLIError(f"--target-return must be finite, got {args.target_return}")
        out = args.out or Path("runs") / f"{args.algo}-{config.env}-{args.seed}"
        chunk = args.chunk_updates or _default_chunk(config.num_updates)
        session = TrainingSession.create(
            out, args.algo, config, seed=args.seed, num_seeds=args.num_seeds, chunk_updates=chunk,
            overwrite=args.overwrite, stop_on_nan=args.stop_on_nan,
            loggers=tuple(n for n in args.logger if n != "csv"), sweep=sweep,
            target_return=args.target_return, mesh=mesh,
        )
    return session.run(progress=args.progress)


def _cmd_eval(args: Eval) -> int:
    from jit_env.cli._evaluate import evaluate_run

    if args.episodes is not None and args.episodes <= 0:
        raise CLIError(f"--episodes must be positive, got {args.episodes}")
    result = evaluate_run(
        args.run_dir, episodes=args.episodes, seed=args.seed, agent_seed=args.agent_seed,
        gif=args.gif, policy=args.policy,
    )
    print(
        f"{result['env']} ({args.policy} policy): return {result['mean']:.2f} ± "
        f"{result['std']:.2f} over "
        f"{result['episodes']} episodes (min {result['min']:.1f}, max {result['max']:.1f})"
    )
    if args.gif is not None:
        print(f"wrote {args.gif} ({result['frames']} frames)")
    return 0


def _cmd_list(args: List) -> int:
    from jit_env.cli._listing import listing

    print(listing(args.suite))
    return 0


def _enable_compilation_cache() -> None:
    """Persists compiled XLA programs so a repeated run skips most of its compilation.

    The directory is ``$JIT_ENV_CACHE_DIR`` (default ``~/.cache/jit-env/xla``);
    ``JIT_ENV_CACHE_DIR=none`` disables it. Results do not depend on it.
    """
    import os

    import jax

    cache = os.environ.get("JIT_ENV_CACHE_DIR", str(Path.home() / ".cache" / "jit-env" / "xla"))
    if cache.lower() != "none":
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jit-env`` console script and of ``python -m jit_env``.

    Args:
      argv: the arguments after the program name; ``None`` reads ``sys.argv``
        and (as the console script) enables the persistent XLA compilation
        cache (`_enable_compilation_cache`).

    SIGINT and SIGTERM are caught for the whole call (`jit_env.cli._signals`):
    training stops before its next chunk, with the run directory resumable, or
    with no run directory if no chunk had finished.

    Returns:
      The exit status: 0 on success; 128 + the signal when training was stopped
      by one (130 for Ctrl-C, 143 for SIGTERM; also 130 for a
      ``KeyboardInterrupt``); 1 when training stopped at a non-finite metric
      or a file could not be written (one line on stderr saying what is kept);
      2 on bad input (one line on stderr: unknown algorithm or environment, bad
      config value or flag, unusable, locked or unsafe run directory, damaged
      or foreign checkpoint).

    Raises:
      SystemExit: from the argument parser for ``--help`` (status 0) and for
        malformed flags (status 2).
    """
    with _signals.catch_interrupts():
        try:
            return _main(argv)
        except KeyboardInterrupt:  # before the handlers, or outside the main thread
            print("jit-env: interrupted", file=sys.stderr)
            return 130


def _main(argv: list[str] | None) -> int:
    console = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    algo = _algo_from_argv(argv)
    if algo not in ALGORITHMS:
        print(f"jit-env: error: unknown --algo {algo!r}; known: {', '.join(ALGORITHMS)}",
              file=sys.stderr)
        return 2
    train = train_command(algo)
    args = tyro.extras.subcommand_cli_from_dict(
        {"train": train, "eval": Eval, "list": List},
        prog="jit-env",
        args=argv,
        description="Train and evaluate jitted RL agents on jit_env environments.",
    )
    if console:  # the console script; tests configure JAX themselves
        _enable_compilation_cache()
    try:
        if isinstance(args, train):
            return _cmd_train(args, argv)
        if isinstance(args, Eval):
            return _cmd_eval(args)
        return _cmd_list(args)
    except RunWriteError as e:
        print(f"jit-env: error: {e}", file=sys.stderr)
        return 1
    except (CLIError, RunDirError, CheckpointMismatchError, KeyError, ValueError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"jit-env: error: {message}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. --out names a file, or a directory that cannot be created
        print(f"jit-env: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1

