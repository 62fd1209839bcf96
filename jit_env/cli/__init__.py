"""The ``jit-env`` command and what only it needs.

``jit-env train`` / ``eval`` / ``list`` (`main`; also ``python -m jit_env``).
The command is the host side of training: it parses a config per algorithm
(`ALGORITHMS`, a plain mapping from ``--algo`` names to config classes and
agent factories), runs the pure `jit_env.agents.Trainer` in jitted chunks with
a progress bar, writes a run directory (``config.json``, ``metrics.csv``,
``returns.png``, checkpoints) that survives crashes, full disks and Ctrl-C at
any moment, resumes bit for bit, and evaluates runs with
`jit_env.agents.evaluate_policy`. Checkpoints are msgpack
(`flax.serialization`), never pickle, with a content hash: `save_checkpoint` /
`load_checkpoint`.

Private modules: ``_main`` (argument parsing, subcommands), ``_registry``
(`ALGORITHMS`), ``_session`` (the training session: chunks, progress, files,
resume), ``_programs`` (compiled programs, reused within a process),
``_signals`` (SIGINT / SIGTERM read once per chunk), ``_run_dir`` (the run
directory's files, config checks), ``_files`` (atomic writes, the lock, no
links), ``_checkpoint``, ``_evaluate`` (``jit-env eval``), ``_distributed``
(``--distributed``: `jax.distributed`, the global mesh, process 0 writes),
``_progress`` (the progress bar).

Needs the ``agents`` extra: ``pip install 'jit-env[agents]'``.
"""

from jit_env.cli._checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from jit_env.cli._main import main
from jit_env.cli._registry import ALGORITHMS, Algorithm, get_algorithm

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "CheckpointMismatchError",
    "get_algorithm",
    "load_checkpoint",
    "main",
    "save_checkpoint",
]
