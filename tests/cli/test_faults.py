"""Faults at every write step and interrupts at every step of the chunk loop.

Whatever stops a run (a full disk at any step of any file write, a crash
there, SIGINT / SIGTERM / KeyboardInterrupt at any step of the chunk loop or
of a write, Ctrl-C while compiling), the run directory afterwards is either
absent or holds no run (and a new run may start there), or resumes to exactly
the uninterrupted run: the same checkpoint bit for bit and the same
``metrics.csv`` (every column but ``wall_time``).
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from jit_env.cli import _files, _programs, _session


class _Crash(BaseException):
    """Stands for the process dying at that point (nothing catches it)."""


def _recover(out: Path, tiny, reference) -> None:
    """Resumes ``out`` if it holds a run, else starts the run again there; compares."""
    code = tiny.resume(out) if (out / "config.json").exists() else tiny.train(out)
    assert code == 0
    tiny.assert_same_run(out, reference)
    assert not [p for p in out.rglob(".*") if p.name.endswith((".tmp", ".link"))]


def _update(run, name):
    from flax import serialization

    data = (run / "checkpoints" / f"{name}.msgpack").read_bytes()
    return serialization.msgpack_restore(data)["metadata"]["update"]


def _at(k, action):
    calls = []

    def hook(*args):
        calls.append(args)
        if len(calls) == k + 1:
            action()

    return hook


def _raise(exc):
    def action():
        raise exc

    return action


def test_write_steps_are_the_expected_ones(write_stages, tiny):
    stages = write_stages
    atomic = ["open", "write", "fsync", "replace", "fsync_dir"]
    first = ([(s, "metrics.csv") for s in atomic] + [("append", "metrics.csv"),
             ("fsync", "metrics.csv")] + [(s, "latest.msgpack") for s in atomic]
             + [(s, "config.json") for s in atomic])
    later = ([("append", "metrics.csv"), ("fsync", "metrics.csv"), ("link", "previous.msgpack")]
             + [(s, "latest.msgpack") for s in atomic])
    assert stages == first + later * (tiny.updates - 1) + [(s, "returns.png") for s in atomic]


def _first_of_each(stages):
    """The index of the first occurrence of each distinct (step, file) pair."""
    seen = {}
    for k, stage in enumerate(stages):
        seen.setdefault(stage, k)
    return sorted(seen.values())


# The steps around which a crash could once leave no checkpoint (issue 24): the second
# chunk's metrics append, its previous := latest link and its replace of latest.
_CRITICAL = [("append", "metrics.csv"), ("link", "previous.msgpack"),
             ("replace", "latest.msgpack"), ("replace", "config.json")]


def _fault(kind, k, out, tiny, monkeypatch, capsys, plot=False):
    """Runs the tiny run into ``out`` with fault ``kind`` at write step ``k`` (of
    ``returns.png`` if ``plot``: a full disk there is a warning, the run is saved)."""
    if kind == "enospc":
        exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))
        monkeypatch.setattr(_files, "write_stage", _at(k, _raise(exc)))
        if plot:
            assert tiny.train(out) == 0
            assert "warning: cannot write" in capsys.readouterr().err
        else:
            assert tiny.train(out) == 1
            assert "No space left on device" in tiny.one_line_error(capsys)
    elif kind == "crash":
        monkeypatch.setattr(_files, "write_stage", _at(k, _raise(_Crash())))
        with pytest.raises(_Crash):
            tiny.train(out)
    else:
        monkeypatch.setattr(_files, "write_stage", _at(k, _kill(signal.SIGINT)))
        # While returns.png is written, training has finished: nothing left to stop.
        assert tiny.train(out) == (0 if plot else 130)
        assert ("finished" if plot else "interrupted at update") in capsys.readouterr().out
    monkeypatch.undo()


def test_full_disk_at_each_kind_of_write_step(write_stages, monkeypatch, tmp_path, tiny,
                                              reference, capsys):
    stages = write_stages
    for k in _first_of_each(stages):
        out = tmp_path / f"run{k}"
        _fault("enospc", k, out, tiny, monkeypatch, capsys, stages[k][1] == "returns.png")
        _recover(out, tiny, reference)


@pytest.mark.parametrize("kind", ["crash", "sigint"])
def test_crash_or_sigint_at_the_critical_write_steps(kind, write_stages, monkeypatch, tmp_path, tiny,
                                                      reference, capsys):
    stages = write_stages
    for stage in _CRITICAL:
        k = [i for i, s in enumerate(stages) if s == stage][1 if stage[1] != "config.json" else 0]
        out = tmp_path / f"run{k}"
        _fault(kind, k, out, tiny, monkeypatch, capsys)
        _recover(out, tiny, reference)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["enospc", "crash", "sigint"])
def test_fault_at_every_write_step(kind, write_stages, monkeypatch, tmp_path, tiny, reference,
                                   capsys):
    stages = write_stages
    for k in range(len(stages)):
        out = tmp_path / f"run{k}"
        _fault(kind, k, out, tiny, monkeypatch, capsys, stages[k][1] == "returns.png")
        _recover(out, tiny, reference)


LOOP_POINTS = ["start", "chunk", "metrics", "checkpoint", "config", "advance"]


def _kill(signum):
    return lambda: os.kill(os.getpid(), signum)


@pytest.mark.parametrize("point", LOOP_POINTS)
@pytest.mark.parametrize("chunk", [1, 2])
def test_sigint_at_every_loop_step(point, chunk, monkeypatch, tmp_path, tiny, reference, capsys):
    out = tmp_path / "run"
    calls = []

    def hook(stage):
        calls.append(stage)
        if stage == point and calls.count("start") == chunk:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_session, "_loop_point", hook)
    code = tiny.train(out)
    monkeypatch.undo()
    if point == "config" and chunk == 2:  # config.json is written after the first chunk only
        assert code == 0
        return
    assert code == 130
    # The chunk running when the signal came completes and is saved: no half states.
    assert f"interrupted at update {chunk}/{tiny.updates}" in capsys.readouterr().out
    assert _update(out, "latest") == chunk
    _recover(out, tiny, reference)


@pytest.mark.parametrize("point", LOOP_POINTS)
def test_keyboard_interrupt_at_every_loop_step(point, monkeypatch, tmp_path, tiny, reference):
    # Without the handlers (not the main thread), Ctrl-C is a KeyboardInterrupt anywhere.
    out = tmp_path / "run"
    calls = []

    def hook(stage):
        calls.append(stage)
        if stage == point and calls.count("start") == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_session, "_loop_point", hook)
    code = tiny.train(out)
    monkeypatch.undo()
    if point == "config":
        assert code == 0
        return
    assert code == 130
    _recover(out, tiny, reference)


def test_sigterm_stops_like_sigint(monkeypatch, tmp_path, tiny, reference, capfd):
    out = tmp_path / "run"
    monkeypatch.setattr(_session, "_loop_point", _at(0, _kill(signal.SIGTERM)))
    assert tiny.train(out) == 143
    monkeypatch.undo()
    assert "SIGTERM received: stopping after the current chunk" in capfd.readouterr().err
    _recover(out, tiny, reference)


def test_sigint_while_compiling_leaves_no_run_directory(monkeypatch, tmp_path, tiny, capsys):
    out = tmp_path / "new" / "run"
    original = _programs.Program.initial_state

    def initial_state(self, keys):
        os.kill(os.getpid(), signal.SIGINT)
        return original(self, keys)

    monkeypatch.setattr(_programs.Program, "initial_state", initial_state)
    assert tiny.train(out) == 130
    assert "no run directory kept" in capsys.readouterr().out
    assert not out.exists()
    # The handlers are the previous ones again after the call.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_after_interrupt_while_resuming(monkeypatch, tmp_path, tiny, reference):
    out = tmp_path / "run"
    monkeypatch.setattr(_session, "_loop_point", _at(0, _kill(signal.SIGINT)))
    assert tiny.train(out) == 130
    monkeypatch.setattr(_session, "_loop_point", _at(0, _kill(signal.SIGINT)))
    assert tiny.resume(out) == 130  # interrupted again, in its first chunk
    assert [_update(out, n) for n in ("previous", "latest")] == [1, 2]
    monkeypatch.undo()
    _recover(out, tiny, reference)
