"""Ctrl-C and SIGTERM for the ``jit-env`` command: a flag the chunk loop reads at one point.

`catch_interrupts` replaces the SIGINT and SIGTERM handlers (in the main
thread) with one that only records the signal, so no ``KeyboardInterrupt``
lands between two statements of the chunk loop (the saved state and its update
count always agree) or inside JAX's garbage-collection callback, which
swallows it. The loop checks `requested` once per chunk, before starting the
next one (`jit_env.cli._session.TrainingSession.run`). A second signal of the
same kind ends the process at once with the default action (as ``kill``
would): every file of the run directory is replaced atomically, so the run
stays resumable from its last checkpoint. This module imports nothing but the
standard library, so it can be installed before JAX is imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

_requested: list[int] = []  # the signals received since catch_interrupts() began


def requested() -> int | None:
    """The first signal received inside `catch_interrupts` (``None`` if none)."""
    return _requested[0] if _requested else None


def exit_status(signum: int) -> int:
    """The shell's status for a process stopped by ``signum``: 128 + signum (130 for SIGINT)."""
    return 128 + signum


def _handler(signum: int, frame: object) -> None:
    del frame
    if signum in _requested:  # the second Ctrl-C: stop now, as the default action would
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _requested.append(signum)
    name = signal.Signals(signum).name
    os.write(2, f"\njit-env: {name} received: stopping after the current chunk "
                f"(again to stop at once; the run stays resumable)\n".encode())


@contextlib.contextmanager
def catch_interrupts() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM set `requested` instead of raising.

    Outside the main thread (where Python cannot install handlers) it does
    nothing, and a ``KeyboardInterrupt`` still stops training between chunks.
    The previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _requested.clear()
