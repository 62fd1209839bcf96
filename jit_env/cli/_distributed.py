"""``jit-env train --distributed``: one run over several processes with `jax.distributed`.

Every process runs the same program (JAX's multi-controller model): the
environment batch is sharded over the global mesh of ``jax.devices()``
(`global_mesh`, every device of every process), parameters are replicated, and
the compiled program itself averages the gradients (the loss is a mean over the
sharded batch, so XLA inserts the all-reduce; there is no hand-written
communication). Metrics are batch reductions, replicated on every device, so
every process reads the same values. Only process 0 writes the run directory
(`is_writer`); a checkpoint's sharded leaves are first gathered to every
process (`to_host`, a collective that all processes join), and a resumed state
is placed back on the global mesh (`to_global`).

`initialize` wraps ``jax.distributed.initialize`` (JAX
``jax/_src/distributed.py``) with what a command line needs: the coordinator
address, process count and id from flags, else from `ENV_VARS`, else from
JAX's own cluster detection (SLURM, Open MPI, Cloud TPU, Kubernetes:
``jax/_src/clusters/``); CPU collectives over gloo (``jax_cpu_collectives_implementation``,
``jax/_src/config.py``); and a bounded wait. JAX reports a failed connection
by aborting the process from C++ (``xla::CoordinationServiceAgent::Connect``
calls a fatal error callback), so `initialize` runs its own watchdog: if not
every process has joined within ``timeout`` seconds, it prints which of the
two things was missing (nothing listens at the coordinator address, or the
coordinator is up but a peer never joined) and exits with `EXIT_MISSING_PEER`.
Once running, a process that dies stops sending heartbeats; JAX's coordination
service then terminates the others within ``timeout`` seconds (its
``heartbeat_timeout_seconds``), naming the task that went silent. A SIGINT or
SIGTERM that reaches any process stops all of them before the same chunk
(`stop_requested`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jit_env.cli._files import RunDirError

ENV_VARS = {
    "coordinator_address": ("JIT_ENV_COORDINATOR_ADDRESS", "JAX_COORDINATOR_ADDRESS"),
    "num_processes": ("JIT_ENV_NUM_PROCESSES",),
    "process_id": ("JIT_ENV_PROCESS_ID",),
}
"""The environment variables `initialize` reads for a setting not given as a flag (first set wins).

``JAX_COORDINATOR_ADDRESS`` is JAX's own (``jax.distributed.initialize`` reads it too).
"""

EXIT_MISSING_PEER = 3
"""Exit status of a process whose peers or coordinator did not join within the timeout."""


class DistributedError(ValueError):
    """Bad distributed settings (reported by ``jit-env`` as one line, exit status 2)."""


def resolve_settings(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The distributed settings: each from its argument, else from `ENV_VARS`, else ``None``.

    ``None`` left in the result means "ask JAX's cluster detection" (SLURM sets
    all three there).

    Args:
      coordinator_address: ``host:port`` of process 0's coordination service.
      num_processes: the number of processes, a positive int.
      process_id: this process's index in ``[0, num_processes)``.
      environ: the environment to read (default ``os.environ``).

    Returns:
      ``{"coordinator_address": str | None, "num_processes": int | None,
      "process_id": int | None}``.

    Raises:
      DistributedError: an address without a ``:port``, a count or id that is not
        an int, not positive / negative, or an id not below the count; the message
        names the flag or the environment variable it came from.
    """
    environ = os.environ if environ is None else environ
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes,
             "process_id": process_id}
    out: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name, value in given.items():
        source[name] = "--" + name.replace("_", "-")
        if value is None:
            for var in ENV_VARS[name]:
                if environ.get(var):
                    value, source[name] = environ[var], f"${var}"
                    break
        if value is not None and name != "coordinator_address":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise DistributedError(f"{source[name]} must be an int, got {value!r}") from None
        out[name] = value
    address = out["coordinator_address"]
    if address is not None and (":" not in address or not address.rsplit(":", 1)[1].isdigit()):
        raise DistributedError(f"{source['coordinator_address']} must be host:port, got "
                               f"{address!r}")
    n, i = out["num_processes"], out["process_id"]
    if n is not None and n < 1:
        raise DistributedError(f"{source['num_processes']} must be positive, got {n}")
    if i is not None and i < 0:
        raise DistributedError(f"{source['process_id']} must be non-negative, got {i}")
    if n is not None and i is not None and i >= n:
        raise DistributedError(f"{source['process_id']}={i} must be below "
                               f"{source['num_processes']}={n}")
    return out


def _reachable(address: str, timeout: float = 1.0) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _missing_message(settings: dict[str, Any], timeout: float) -> str:
    address, n, i = (settings["coordinator_address"], settings["num_processes"],
                     settings["process_id"])
    who = f"process {i} of {n}" if i is not None and n is not None else "this process"
    if address is not None and not _reachable(address):
        return (f"jit-env: error: {who}: nothing answered at the coordinator address "
                f"{address} within {timeout:g} s (is process 0 running, and is "
                "--coordinator-address its host:port?)")
    return (f"jit-env: error: {who}: the coordinator at {address} is up, but not all {n} "
            f"processes joined within {timeout:g} s (a peer is missing: was each started "
            "with the same --num-processes and its own --process-id?)")


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: float = 120.0,
    exit: Callable[[int], Any] = os._exit,
) -> dict[str, Any]:
    """Joins this process to the distributed run (``jax.distributed.initialize``), bounded in time.

    Call before any other JAX work. The CPU backend's cross-process
    collectives are set to gloo first (``jax_cpu_collectives_implementation``,
    JAX's default in recent versions; set so the choice does not depend on it).

    Args:
      coordinator_address, num_processes, process_id: see `resolve_settings`;
        whatever is left ``None`` comes from JAX's cluster detection.
      timeout: seconds to wait for every process to join (the watchdog; JAX's
        own ``initialization_timeout`` is set 30 s later), and for how long a
        silent process is tolerated before the others are stopped (JAX's
        ``heartbeat_timeout_seconds``).
      exit: called with `EXIT_MISSING_PEER` when the wait runs out (after the
        message is printed on stderr); ``os._exit`` by default, since the main
        thread is blocked inside JAX.

    With ``num_processes == 1`` nothing is joined: the run is this one process
    with all its local devices (e.g. every GPU of one host).

    Returns:
      The settings used: ``coordinator_address``, ``num_processes``,
      ``process_id`` (as JAX reports them after joining).

    Raises:
      DistributedError: for bad settings (`resolve_settings`), a non-positive
        ``timeout``, or none given and no cluster detected.
    """
    if not timeout > 0:
        raise DistributedError(f"--distributed-timeout must be positive, got {timeout}")
    settings = resolve_settings(coordinator_address, num_processes, process_id)
    if settings["num_processes"] == 1:  # every local device of this process: nothing to join
        return {"coordinator_address": None, "num_processes": 1, "process_id": 0}
    # Only CPU collectives read it; gloo is JAX's default in recent versions.
    with contextlib.suppress(AttributeError):  # a jax without the option
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(timeout):  # before JAX's own deadline (which aborts)
            print(_missing_message(settings, timeout), file=sys.stderr, flush=True)
            exit(EXIT_MISSING_PEER)

    threading.Thread(target=watchdog, daemon=True, name="jit-env-distributed-watchdog").start()
    if settings["process_id"] not in (None, 0) and settings["coordinator_address"]:
        # A worker can tell an unreachable coordinator itself, with a clear message,
        # before JAX's connection attempt aborts the process.
        _wait_reachable(settings, timeout, exit)
    try:
        jax.distributed.initialize(
            settings["coordinator_address"], settings["num_processes"], settings["process_id"],
            initialization_timeout=int(timeout) + 30,  # the watchdog fires first
            heartbeat_timeout_seconds=max(1, int(timeout)),
        )
    except ValueError as e:  # nothing given, no cluster detected
        done.set()
        raise DistributedError(
            f"--distributed needs the coordinator address, process count and process id: "
            f"give --coordinator-address / --num-processes / --process-id (or "
            f"${ENV_VARS['coordinator_address'][0]}, ${ENV_VARS['num_processes'][0]}, "
            f"${ENV_VARS['process_id'][0]}), or run under a cluster JAX detects (SLURM, "
            f"Open MPI); JAX said: {e}"
        ) from None
    done.set()
    return {"coordinator_address": settings["coordinator_address"],
            "num_processes": jax.process_count(), "process_id": jax.process_index()}


def _wait_reachable(settings: dict[str, Any], timeout: float,
                    exit: Callable[[int], Any]) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not _reachable(settings["coordinator_address"], timeout=min(1.0, timeout)):
        if time.monotonic() >= deadline:
            print(_missing_message(settings, timeout), file=sys.stderr, flush=True)
            exit(EXIT_MISSING_PEER)
            return
        time.sleep(0.2)


def is_writer() -> bool:
    """Whether this process writes files and prints: process 0 (and a single process)."""
    return jax.process_index() == 0


def global_mesh(axis_name: str = "batch") -> Mesh:
    """A 1-D mesh over every device of every process, ``jax.devices()``, axis ``axis_name``."""
    return Mesh(np.array(jax.devices()), (axis_name,))


def to_host(tree: Any) -> Any:
    """Every leaf of ``tree`` as a whole NumPy array, on every process.

    Leaves sharded over devices of other processes are gathered
    (``jax.experimental.multihost_utils.process_allgather``, tiled): a collective
    that every process must call with the same tree.
    """
    def one(x: Any) -> np.ndarray:
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(one, tree)


def to_global(tree: Any, shardings: Any) -> Any:
    """Places whole NumPy leaves (the same on every process) on the global mesh.

    Args:
      tree: a pytree of host arrays, e.g. a restored checkpoint.
      shardings: a matching pytree of ``jax.sharding.Sharding`` (e.g. the compiled
        ``init``'s ``output_shardings``).

    Returns:
      ``tree`` as global ``jax.Array`` s: each process fills its own devices' shards
      (``jax.make_array_from_callback``).
    """
    return jax.tree.map(
        lambda x, s: jax.make_array_from_callback(np.shape(x), s, lambda idx: np.asarray(x)[idx]),
        tree, shardings)


def replicated(mesh: Mesh) -> NamedSharding:
    """The fully replicated sharding of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def any_process(flag: int) -> int:
    """The largest of every process's ``flag`` (a non-negative int): a collective.

    Used once per chunk, so that a signal that reached one process stops all of
    them before the same chunk. A single process gets its own ``flag`` back.
    """
    if jax.process_count() == 1:
        return int(flag)
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.int32(flag))))


def stop_requested(local: int | None, chunk_index: int) -> int | None:
    """The signal that stops every process before this chunk, or ``None``: a collective.

    ``local`` is the signal this process caught (`jit_env.cli._signals`), or ``None``;
    the largest over the processes wins, so a Ctrl-C seen by one process stops all
    of them before the same chunk. SIGTERM never reaches Python in a distributed
    run: JAX's preemption service (on by default, ``jax_enable_preemption_service``)
    catches it in every process, and all processes agree on the chunk to stop at
    (``multihost_utils.reached_preemption_sync_point``, JAX
    ``jax/experimental/multihost_utils.py``); ``chunk_index`` counts the chunks this
    invocation ran, from 0, as that protocol needs (consecutive, the same on every
    process). A single process gets its own ``local`` back.
    """
    if jax.process_count() == 1:
        return local
    flag = any_process(local or 0)
    if flag:
        return flag
    from jax.experimental import multihost_utils

    try:
        preempted = multihost_utils.reached_preemption_sync_point(chunk_index)
    except RuntimeError:  # the preemption service is switched off
        preempted = False
    return int(signal.SIGTERM) if preempted else None


def failed_processes(failed: bool) -> list[int]:
    """The indices of the processes that passed ``failed=True``: a collective."""
    if jax.process_count() == 1:
        return [0] if failed else []
    from jax.experimental import multihost_utils

    flags = np.asarray(multihost_utils.process_allgather(np.int32(failed)))
    return [int(i) for i in np.nonzero(flags)[0]]


def agree(failure: BaseException | None, what: str) -> None:
    """In a distributed run: raises ``failure`` here, or, when another process failed,
    a `RunDirError` naming it, so that no process goes on to train alone (a collective
    that every process joins)."""
    failed = failed_processes(failure is not None)
    if failure is not None:
        raise failure
    if failed:
        raise RunDirError(
            f"process {', '.join(map(str, failed))} could not {what} (see its error); "
            f"process {jax.process_index()} stops too"
        )
