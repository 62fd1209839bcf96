"""``--distributed`` / ``train(mesh=...)`` across real processes on 127.0.0.1 (`jit_env.cli._distributed`).

The subprocess tests start 2 processes x 2 CPU devices each (``XLA_FLAGS
--xla_force_host_platform_device_count=2``, gloo collectives) and compare them
with 1 process x 4 devices: the same global mesh of 4 devices, so the same
program and the same result. Every child has a timeout and is killed when the
test fails. The settings checks at the top start no process.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jit_env import cli
from jit_env.cli import _distributed

# ------------------------------------------------------------ settings (no processes) --


def test_settings_come_from_flags_then_environment():
    env = {"JIT_ENV_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JIT_ENV_NUM_PROCESSES": "4",
           "JIT_ENV_PROCESS_ID": "3"}
    assert _distributed.resolve_settings(environ=env) == {
        "coordinator_address": "10.0.0.1:1234", "num_processes": 4, "process_id": 3}
    assert _distributed.resolve_settings("h:9", 2, 1, environ=env) == {
        "coordinator_address": "h:9", "num_processes": 2, "process_id": 1}
    # JAX's own variable is the fallback for the address; unset ones stay None (JAX detects).
    assert _distributed.resolve_settings(environ={"JAX_COORDINATOR_ADDRESS": "a:1"}) == {
        "coordinator_address": "a:1", "num_processes": None, "process_id": None}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("localhost", 2, 0), {}, "--coordinator-address must be host:port, got 'localhost'"),
        ((None, 0, None), {}, "--num-processes must be positive, got 0"),
        ((None, 2, 2), {}, "--process-id=2 must be below --num-processes=2"),
        ((None, None, -1), {}, "--process-id must be non-negative, got -1"),
        ((None, None, None), {"JIT_ENV_NUM_PROCESSES": "two"},
         "$JIT_ENV_NUM_PROCESSES must be an int, got 'two'"),
        ((None, None, 5), {"JIT_ENV_NUM_PROCESSES": "2"},
         "--process-id=5 must be below $JIT_ENV_NUM_PROCESSES=2"),
    ],
)
def test_bad_settings_name_their_source(args, env, message):
    with pytest.raises(_distributed.DistributedError) as info:
        _distributed.resolve_settings(*args, environ=env)
    assert str(info.value) == message


def test_distributed_flags_need_distributed(capsys):
    assert cli.main(["train", "--num-processes", "2", "--process-id", "1"]) == 2
    assert ("--num-processes, --process-id only apply with --distributed"
            in capsys.readouterr().err)


def test_non_positive_timeout_is_refused(capsys):
    assert cli.main(["train", "--distributed", "--distributed-timeout", "0"]) == 2
    assert "--distributed-timeout must be positive, got 0.0" in capsys.readouterr().err


# ------------------------------------------------------------------ real processes --

# PPO on CartPole-v1: 4 updates of 8 environments x 8 steps (2 per device of 4).
FLAGS = ["--num-envs", "8", "--num-steps", "8", "--update-epochs", "1", "--num-minibatches",
         "1", "--hidden-sizes", "8", "--no-anneal-lr", "--no-progress", "--chunk-updates", "1"]
CONFIG = "PPOConfig(num_envs=8, num_steps=8, update_epochs=1, num_minibatches=1, " \
         "hidden_sizes=(8,), anneal_lr=False, total_steps=256)"
TIMEOUT = 240  # seconds per group of processes (compiles on a shared 2-core CPU)

_DRIVER = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count={devices}"
import jax
jax.config.update("jax_platforms", "cpu")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(code: str, devices: int, cwd: Path, args: list[str] = ()) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JIT_ENV_CACHE_DIR="none")
    return subprocess.Popen([sys.executable, "-c", _DRIVER.format(devices=devices) + code,
                             *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(procs: list[subprocess.Popen], timeout: float) -> list[tuple[int, str, str]]:
    """Waits for every process (one deadline for all); kills them all on any failure."""
    deadline = time.monotonic() + timeout
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out.append((p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    return out


def _cli_code() -> str:
    return "from jit_env import cli\nsys.exit(cli.main(sys.argv[1:]))\n"


def _group(args: list[str], port: int, cwds: list[Path], n: int = 2, devices: int = 2,
           timeout: float = TIMEOUT) -> list[tuple[int, str, str]]:
    procs = [_start(_cli_code(), devices, cwds[i],
                    ["train", *args, "--distributed", "--coordinator-address",
                     f"127.0.0.1:{port}", "--num-processes", str(n), "--process-id", str(i),
                     "--distributed-timeout", "30"]) for i in range(n)]
    return _finish(procs, timeout)


_TRAIN = """
import json, time
import numpy as np
from jax.sharding import Mesh
from jit_env import agents
from jit_env.agents import PPOConfig
distributed = len(sys.argv) > 1
t0 = time.perf_counter()
if distributed:
    from jit_env.cli import _distributed
    _distributed.initialize(sys.argv[1], 2, int(sys.argv[2]), timeout=30)
mesh = Mesh(np.array(jax.devices()), ("batch",))
key = jax.random.split(jax.random.PRNGKey(0), 1)[0]  # the key of `jit-env train --seed 0`
state, metrics = jax.jit(lambda k: agents.train({config}, k, mesh=mesh))(key)
params = jax.tree.leaves(state.agent_state.params)
print(json.dumps({{"devices": len(jax.devices()), "local": len(jax.local_devices()),
                  "metrics": {{k: np.asarray(v).tolist() for k, v in metrics.items()}},
                  "kernel": np.asarray(params[-1]).tolist(),
                  "replicated": all(p.is_fully_replicated for p in params),
                  "wall": time.perf_counter() - t0}}))
"""


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _metrics_csv(run: Path) -> dict[str, np.ndarray]:
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


@pytest.mark.slow
def test_two_processes_match_one_and_only_process_zero_writes(tmp_path):
    code = _TRAIN.format(config=CONFIG)
    port = _free_port()
    start = time.perf_counter()
    pair = _finish([_start(code, 2, tmp_path, [f"127.0.0.1:{port}", str(i)]) for i in (0, 1)],
                   TIMEOUT)
    pair_wall = time.perf_counter() - start
    start = time.perf_counter()
    (single,) = _finish([_start(code, 4, tmp_path)], TIMEOUT)
    single_wall = time.perf_counter() - start
    for rc, _, err in [*pair, single]:
        assert rc == 0, err[-3000:]
    one = _last_json(single[1])
    p0, p1 = (_last_json(out) for _, out, _ in pair)
    assert (one["devices"], one["local"]) == (4, 4)
    assert (p0["devices"], p0["local"], p1["local"]) == (4, 2, 2)
    # Every process reads the same (replicated) metrics and parameters, bit for bit.
    assert p0["metrics"] == p1["metrics"]
    assert p0["kernel"] == p1["kernel"]
    assert p0["replicated"]
    assert p1["replicated"]
    # The same 4-device program as one process: equal to float32 rounding (the
    # cross-process all-reduce may sum in another order than the in-process one).
    for name, values in one["metrics"].items():
        np.testing.assert_allclose(p0["metrics"][name], values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(p0["kernel"], one["kernel"], rtol=1e-5, atol=1e-6)
    print(f"\nwhole-process wall time: 2 processes x 2 devices {pair_wall:.1f} s, "
          f"1 process x 4 devices {single_wall:.1f} s; in-process (import .. train) "
          f"{p0['wall']:.1f} s vs {one['wall']:.1f} s")

    # The command line: process 0 writes the run directory, process 1 nothing (its own
    # working directory stays empty); both resume it (a shared file system) to the end.
    cwd0, cwd1 = tmp_path / "p0", tmp_path / "p1"
    cwd0.mkdir()
    cwd1.mkdir()
    first = _group([*FLAGS, "--total-steps", "128", "--out", "run"], _free_port(), [cwd0, cwd1])
    for rc, _, err in first:
        assert rc == 0, err[-3000:]
    written = {p.name for p in (cwd0 / "run").iterdir()} - {".lock"}
    assert written == {"checkpoints", "config.json", "metrics.csv", "returns.png"}
    assert list(cwd1.iterdir()) == []
    assert "finished at update 2/2" in first[0][1]
    assert "finished" not in first[1][1]  # only process 0 prints the summary
    run = cwd0 / "run"
    # Process 0 refuses the directory (it holds a run): process 1 learns it and stops too.
    (rc0, _, err0), (rc1, _, err1) = _group([*FLAGS, "--total-steps", "128", "--out", "run"],
                                            _free_port(), [cwd0, cwd1])
    assert (rc0, rc1) == (2, 2), (err0[-2000:], err1[-2000:])
    assert "run already holds a run; use --resume" in err0
    assert "process 0 could not open the run directory run (see its error); process 1 " \
           "stops too" in err1
    second = _group(["--resume", str(run), "--total-steps", "256", "--no-progress"],
                    _free_port(), [cwd0, cwd1])
    for rc, _, err in second:
        assert rc == 0, err[-3000:]
    assert "finished at update 4/4" in second[0][1]
    assert list(cwd1.iterdir()) == []
    written = _metrics_csv(run)
    np.testing.assert_array_equal(written["update"], [1, 2, 3, 4])
    # Chunked, checkpointed and resumed across processes = one uninterrupted 1 x 4 run.
    for name in ("loss", "value_loss", "entropy"):
        np.testing.assert_allclose(written[name], one["metrics"][name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


@pytest.mark.slow
def test_missing_peer_and_unreachable_coordinator_exit_in_bounded_time(tmp_path):
    code = _cli_code()
    timeout = 3
    common = ["train", *FLAGS, "--total-steps", "128", "--out", "run", "--distributed",
              "--num-processes", "2", "--distributed-timeout", str(timeout)]
    start = time.perf_counter()
    alone = _start(code, 2, tmp_path, [*common, "--coordinator-address",
                                       f"127.0.0.1:{_free_port()}", "--process-id", "0"])
    nobody = _start(code, 2, tmp_path, [*common, "--coordinator-address",
                                        f"127.0.0.1:{_free_port()}", "--process-id", "1"])
    (rc0, _, err0), (rc1, _, err1) = _finish([alone, nobody], 120)
    elapsed = time.perf_counter() - start
    assert rc0 == _distributed.EXIT_MISSING_PEER, err0[-2000:]
    assert "process 0 of 2: the coordinator at 127.0.0.1:" in err0
    assert "not all 2 processes joined within 3 s (a peer is missing" in err0
    assert rc1 == _distributed.EXIT_MISSING_PEER, err1[-2000:]
    assert "process 1 of 2: nothing answered at the coordinator address 127.0.0.1:" in err1
    assert "within 3 s (is process 0 running" in err1
    assert elapsed < 60  # the import of JAX and the 3 s wait, not JAX's 5-minute default
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_killed_worker_stops_the_others(tmp_path):
    port = _free_port()
    cwd0, cwd1 = tmp_path / "p0", tmp_path / "p1"
    cwd0.mkdir()
    cwd1.mkdir()
    # Long enough that process 1 is killed mid-run.
    args = [*FLAGS, "--total-steps", str(64 * 100_000), "--chunk-updates", "1", "--out", "run"]
    procs = [_start(_cli_code(), 2, [cwd0, cwd1][i],
                    ["train", *args, "--distributed", "--coordinator-address",
                     f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i),
                     "--distributed-timeout", "5"]) for i in (0, 1)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (cwd0 / "run" / "config.json").exists():  # training is under way
            assert time.monotonic() < deadline, "the run never started"
            assert procs[0].poll() is None, procs[0].stderr.read()
            assert procs[1].poll() is None, procs[1].stderr.read()
            time.sleep(0.5)
        os.killpg(procs[1].pid, signal.SIGKILL)
        killed = time.monotonic()
        (rc, _, err), _ = _finish(procs, 120)
        waited = time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert rc != 0
    # JAX's coordination service names the task that stopped sending heartbeats; when the
    # survivor is inside a collective at that moment, Gloo's transport reports the lost
    # peer first (seen in CI: "Gloo AllGather failed: ... Connection reset by peer").
    assert ("stopped sending heartbeats" in err
            or ("Gloo" in err and "Connection reset by peer" in err)), err[-3000:]
    assert waited < 60, waited  # the 5 s heartbeat timeout, not JAX's 100 s default
    print(f"\nthe survivor exited {waited:.1f} s after its peer was killed (rc {rc})")
    # The run directory is still resumable: its checkpoint and config were written.
    assert (cwd0 / "run" / "checkpoints" / "latest.msgpack").exists()


@pytest.mark.slow
def test_a_signal_to_one_process_stops_every_process_before_the_same_chunk(tmp_path):
    cwd0, cwd1 = tmp_path / "p0", tmp_path / "p1"
    cwd0.mkdir()
    cwd1.mkdir()
    port = _free_port()
    args = [*FLAGS, "--total-steps", str(64 * 100_000), "--chunk-updates", "1", "--out", "run"]
    procs = [_start(_cli_code(), 2, [cwd0, cwd1][i],
                    ["train", *args, "--distributed", "--coordinator-address",
                     f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i),
                     "--distributed-timeout", "30"]) for i in (0, 1)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (cwd0 / "run" / "config.json").exists():
            assert time.monotonic() < deadline, "the run never started"
            assert procs[0].poll() is None, procs[0].stderr.read()
            time.sleep(0.5)
        procs[1].send_signal(signal.SIGTERM)  # the worker only, not process 0
        (rc0, out0, err0), (rc1, _, err1) = _finish(procs, 120)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert (rc0, rc1) == (143, 143), (err0[-2000:], err1[-2000:])
    assert "interrupted at update" in out0
    # Stopped between chunks: the checkpoint and metrics.csv agree on the update count.
    update = int(out0.split("interrupted at update ")[1].split("/")[0])
    assert _metrics_csv(cwd0 / "run")["update"][-1] == update
    assert list(cwd1.iterdir()) == []


@pytest.mark.slow
def test_one_process_uses_its_local_devices_without_joining(tmp_path, capsys):
    # `--num-processes 1` (one multi-GPU host): no coordinator, a mesh over the local
    # devices (here the one CPU device); the same run as without --distributed.
    args = [*FLAGS, "--total-steps", "128"]
    assert cli.main(["train", *args, "--out", str(tmp_path / "plain")]) == 0
    assert cli.main(["train", *args, "--out", str(tmp_path / "mesh"), "--distributed",
                     "--num-processes", "1"]) == 0
    assert "finished at update 2/2" in capsys.readouterr().out
    plain, mesh = _metrics_csv(tmp_path / "plain"), _metrics_csv(tmp_path / "mesh")
    for name in ("loss", "value_loss", "entropy"):
        np.testing.assert_allclose(mesh[name], plain[name], rtol=1e-6, err_msg=name)
    assert (tmp_path / "mesh" / "checkpoints" / "latest.msgpack").exists()
