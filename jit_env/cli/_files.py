"""How the command writes the files of a run directory: atomically, durably, never through links.

Every file is written to a fresh temporary name in its own directory
(``tempfile.mkstemp``: ``O_CREAT | O_EXCL``, so never through an existing file
or link), flushed and ``fsync``-ed, then renamed over its destination with
``os.replace`` (atomic on POSIX: a reader or a crash sees the old file or the
new one, never a mix), and the directory is ``fsync``-ed so the rename itself
survives a power cut (the recipe of ``rename(2)`` and of orbax's atomic
checkpoint directories, ``orbax/checkpoint/_src/path/atomicity.py``).

A run directory is refused if one of the entries the command writes is a
symbolic link (`check_no_links`), and files are opened with ``O_NOFOLLOW``,
so nothing outside the run directory is ever written. `RunLock` holds an
exclusive ``fcntl.flock`` on ``<run>/.lock`` for as long as a process writes
the run. Each write step goes through `write_stage`, which the fault-injection
tests (``tests/cli/test_faults.py``) patch to raise or stop at every stage.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

try:  # POSIX; elsewhere (no fcntl) runs are not locked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class RunDirError(ValueError):
    """A run directory is missing, unreadable, inconsistent, locked or unsafe to write."""


class RunWriteError(Exception):
    """Writing the run directory failed (e.g. a full disk); the message says what is kept."""


def write_stage(stage: str, path: Path) -> None:
    """Called with the file's path before each step of every write (``"open"``,
    ``"write"``, ``"fsync"``, ``"replace"``, ``"fsync_dir"``, ``"link"``, ``"append"``);
    does nothing. Tests patch it to
    inject faults (raise ``OSError(ENOSPC)``, or stop the process) at that step."""


def fsync_dir(directory: Path) -> None:
    """``fsync`` of a directory, so the renames and creations in it are durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def refuse_link(path: Path) -> None:
    """Raises `RunDirError` if ``path`` is a symbolic link (it may be absent)."""
    if os.path.islink(path):
        raise RunDirError(
            f"{path} is a symbolic link; refusing to write through it (a run directory's "
            "files must be its own)"
        )


def check_no_links(run_dir: Path, names: tuple[str, ...]) -> None:
    """Raises `RunDirError` if any of ``run_dir / name`` is a symbolic link."""
    for name in names:
        refuse_link(Path(run_dir) / name)


def atomic_write(path: Path, data: bytes) -> Path:
    """Writes ``data`` to ``path``: unique temporary file, fsync, ``os.replace``, fsync dir.

    A crash or an ``OSError`` (e.g. ``ENOSPC``) at any step leaves ``path`` as it
    was (the temporary file is removed when the error is an exception).

    Raises:
      RunDirError: if ``path`` is a symbolic link.
      OSError: from the file system (the destination is untouched).
    """
    path = Path(path)
    refuse_link(path)
    write_stage("open", path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write_stage("write", path)
            f.write(data)
            f.flush()
            write_stage("fsync", path)
            os.fsync(f.fileno())
        write_stage("replace", path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    write_stage("fsync_dir", path)
    fsync_dir(path.parent)
    return path


def keep_copy(src: Path, dst: Path) -> None:
    """Makes ``dst`` a copy of ``src`` atomically: a hard link (or a copy where links
    are not supported) under a temporary name, renamed over ``dst``; ``src`` stays."""
    refuse_link(src)
    refuse_link(dst)
    write_stage("link", dst)
    if dst.exists() and os.path.samefile(src, dst):
        return  # already one file (rename(2) of two links to one inode does nothing)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(src, tmp, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            raise
        atomic_write(dst, src.read_bytes())
        return
    try:
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise


def remove_strays(directory: Path) -> list[str]:
    """Removes the temporary files (``.NAME.*.tmp``, ``.NAME.*.link``) a killed writer left
    in ``directory``; call it only while holding the run's `RunLock`. Returns their names."""
    removed = []
    if Path(directory).is_dir():
        for p in Path(directory).iterdir():
            if p.name.startswith(".") and p.name.endswith((".tmp", ".link")) and p.is_file() \
                    and not p.is_symlink():
                p.unlink()
                removed.append(p.name)
    return removed


def open_append(path: Path):
    """``path`` opened for appending text, never through a symbolic link.

    Raises:
      RunDirError: if ``path`` is a symbolic link.
    """
    refuse_link(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RunDirError(f"{path} is a symbolic link; refusing to write through it") from None
        raise
    return os.fdopen(fd, "a", newline="")


class RunLock:
    """An exclusive lock on a run directory: ``fcntl.flock`` on ``<run>/.lock``.

    Held until `release` (or the process ends, when the kernel drops it), so a
    crashed process never leaves a stale lock behind.

    Raises (from the constructor):
      RunDirError: if another process holds the lock, or ``.lock`` is a link.
    """

    def __init__(self, run_dir: Path):
        path = Path(run_dir) / ".lock"
        refuse_link(path)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        if fcntl is None:  # pragma: no cover
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise RunDirError(
                f"{run_dir} is in use by another jit-env process (it holds {path}); "
                "wait for it to finish or stop it"
            ) from None

    def release(self) -> None:
        """Drops the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
