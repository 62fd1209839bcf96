"""The same guarantees with real processes: kills at every write step, real signals.

Each test starts ``jit-env train`` in a fresh Python (a small driver that
patches one hook, then calls `jit_env.cli.main`), so a kill is a real
``os._exit`` that runs no cleanup, and a signal comes from outside the process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

pytestmark = pytest.mark.slow

_PRELUDE = """
import os, sys, time
import jax
jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_compilation_cache_dir", {cache!r})
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
from jit_env import cli
from jit_env.cli import _files, _programs, _session
"""


def _script(hook, argv):
    cache = os.environ.get("JIT_ENV_TEST_CACHE",
                           os.path.join(tempfile.gettempdir(), "jit_env_test_xla"))
    return (_PRELUDE.format(cache=cache) + textwrap.dedent(hook)
            + f"\nsys.exit(cli.main({argv!r}))\n")


def _argv(tiny_flags, out, *extra):
    return ["train", *tiny_flags, "--total-steps", "64", "--out", str(out), *extra]


def _popen(script):
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# tests/cli/conftest.py's FLAGS (the driver runs outside pytest).
_FLAGS = ["--num-envs", "2", "--num-steps", "8", "--update-epochs", "1", "--num-minibatches",
          "1", "--hidden-sizes", "8", "--no-anneal-lr", "--no-progress", "--chunk-updates", "1"]


def _recover(out, tiny, reference):
    code = tiny.resume(out) if (out / "config.json").exists() else tiny.train(out)
    assert code == 0
    tiny.assert_same_run(out, reference)


def test_kill_at_every_write_step(write_stages, tmp_path, tiny, reference):
    for k in range(len(write_stages)):
        out = tmp_path / f"run{k}"
        hook = f"""
        calls = []
        def stage(name, path):
            calls.append(name)
            if len(calls) == {k + 1}:
                os._exit(137)
        _files.write_stage = stage
        """
        proc = subprocess.run([sys.executable, "-c", _script(hook, _argv(_FLAGS, out))],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 137, (write_stages[k], proc.stderr[-2000:])
        _recover(out, tiny, reference)


def test_real_sigint_between_chunks_then_resume(tmp_path, tiny, reference):
    out = tmp_path / "run"
    hook = """
    def point(stage):
        if stage == "advance":
            print("READY", flush=True)
            time.sleep(0.5)
    _session._loop_point = point
    """
    proc = _popen(_script(hook, _argv(_FLAGS, out)))
    assert proc.stdout.readline().strip() == "READY"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "SIGINT received: stopping after the current chunk" in stderr
    assert "interrupted at update 1/4" in stdout
    _recover(out, tiny, reference)


def test_second_sigint_stops_at_once_and_the_run_resumes(tmp_path, tiny, reference):
    out = tmp_path / "run"
    hook = """
    def point(stage):
        if stage == "chunk":
            print("READY", flush=True)
            time.sleep(60)  # a long chunk
    _session._loop_point = point
    """
    proc = _popen(_script(hook, _argv(_FLAGS, out)))
    assert proc.stdout.readline().strip() == "READY"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    proc.communicate(timeout=30)
    assert time.perf_counter() - start < 10
    assert proc.returncode == -signal.SIGINT  # ended by the signal's default action
    assert not (out / "config.json").exists()  # the first chunk was never saved: no run
    _recover(out, tiny, reference)


def test_sigint_while_compiling_exits_130_without_a_run_directory(tmp_path):
    out = tmp_path / "run"
    hook = """
    original = _programs.Program.initial_state
    def initial_state(self, keys):
        print("COMPILING", flush=True)
        time.sleep(0.5)
        return original(self, keys)
    _programs.Program.initial_state = initial_state
    """
    proc = _popen(_script(hook, _argv(_FLAGS, out)))
    assert proc.stdout.readline().strip() == "COMPILING"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not out.exists()


def test_two_processes_on_one_run(tmp_path, tiny, reference):
    out = tmp_path / "run"
    hook = """
    def point(stage):
        if stage == "advance":
            print("READY", flush=True)
            time.sleep(3)
    _session._loop_point = point
    """
    first = _popen(_script(hook, _argv(_FLAGS, out)))
    assert first.stdout.readline().strip() == "READY"
    second = subprocess.run([sys.executable, "-m", "jit_env", "train", "--resume", str(out),
                             "--no-progress"], capture_output=True, text=True, timeout=120,
                            env=os.environ | {"JIT_ENV_CACHE_DIR": "none"})
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=120)
    assert second.returncode == 2
    assert "is in use by another jit-env process" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    _recover(out, tiny, reference)
