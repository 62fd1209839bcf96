"""The compiled programs of ``jit-env train``, kept for the life of the process.

Repeated ``jit_env.cli.main(["train", ...])`` calls in one process (a notebook,
a sweep driver, the tests) with the same algorithm, config, seed count and
chunk size reuse one `jit_env.agents.Trainer`, one jitted ``init`` and one
compiled chunk, instead of building and compiling new ones each time (which
also grew resident memory with every call; see ``benchmarks/RESULTS.md``).
Programs are keyed by the algorithm, the canonical JSON of the config and the
shape parameters; the seed is an input, not part of the program. At most
`MAX_PROGRAMS` are kept (least recently used dropped first).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jit_env.agents import Trainer, TrainingConfig, TrainState
from jit_env.agents._sweep import stacked_values, sweep_grid
from jit_env.cli._registry import get_algorithm

MAX_PROGRAMS = 4
"""How many (config, seeds, chunk) programs a process keeps."""


@dataclasses.dataclass
class Program:
    """A run's training functions: ``trainer``, ``init(keys) -> TrainState`` (jitted,
    over the seed axis), ``template`` (``init``'s output shapes) and ``chunk``
    (``chunk(state, start) -> (state, metrics)``, ``start`` the ``int32`` number of
    updates already done, compiled on first use).

    In a sweep the leading axis holds ``num_runs = G · num_seeds`` runs, grid
    point major (run ``r`` is point ``r // num_seeds`` with seed ``r % num_seeds``);
    ``init`` still takes the ``num_seeds`` keys (each point uses the same ones;
    ``keys`` is their shape). ``mesh``: see `program`.
    """

    trainer: Trainer
    init: Callable[[jax.Array], TrainState]
    template: Any
    chunk_updates: int
    _chunk_fn: Callable[[TrainState, jax.Array], tuple[TrainState, Any]]
    chunk: jax.stages.Compiled | None = None
    num_runs: int = 1
    mesh: Mesh | None = None
    keys: Any = None
    _shardings: Any = None

    def state_shardings(self) -> Any:
        """With a ``mesh``: the shardings of ``init``'s state (from its compiled
        ``output_shardings``), which the chunk takes and returns; else ``None``."""
        if self.mesh is None:
            return None
        if self._shardings is None:
            init: Any = self.init  # a jax.jit function
            self._shardings = init.lower(self.keys).compile().output_shardings
        return self._shardings

    def compile_chunk(self) -> jax.stages.Compiled:
        """The compiled chunk (compiled now if it was not yet)."""
        if self.chunk is None:
            start = jax.ShapeDtypeStruct((), jnp.int32)
            template = self.template
            if self.mesh is not None:  # in and out: the state's shardings (see `program`)
                shardings = self.state_shardings()
                template = jax.tree.map(lambda t, s: jax.ShapeDtypeStruct(t.shape, t.dtype,
                                                                          sharding=s),
                                        self.template, shardings)
                metrics = NamedSharding(self.mesh, PartitionSpec())
                start = jax.ShapeDtypeStruct((), jnp.int32, sharding=metrics)
                jitted = jax.jit(self._chunk_fn, out_shardings=(shardings, metrics))
            else:
                jitted = jax.jit(self._chunk_fn)
            self.chunk = jitted.lower(template, start).compile()
        return self.chunk

    def initial_state(self, keys: jax.Array) -> TrainState:
        """``init(keys)``, compiling the chunk meanwhile if it is not compiled yet.

        XLA compiles without the GIL, so the two overlap on a multi-core CPU.
        """
        if self.chunk is not None or self.mesh is not None:
            if self.mesh is not None:
                self.compile_chunk()  # compiles init too (its shardings), so not in parallel
            return self.init(keys)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(self.compile_chunk)
            state = self.init(keys)
            pending.result()
        return state


_PROGRAMS: collections.OrderedDict[tuple, Program] = collections.OrderedDict()


def over_seeds(fn: Callable, num_seeds: int) -> Callable:
    """``fn`` mapped over the leading seed axis: ``jax.vmap``, except for one seed.

    With one seed the function runs unbatched and the axis is squeezed and
    re-added around it: the same values, but every array (and every PRNG draw)
    keeps its rank, which XLA:CPU compiles faster.
    """
    if num_seeds > 1:
        return jax.vmap(fn)

    def one(tree):
        out = fn(jax.tree.map(lambda x: x[0], tree))
        return jax.tree.map(lambda x: x[None], out)

    return one


def program(algo: str, config: TrainingConfig, num_seeds: int, chunk_updates: int,
            sweep: dict | None = None, mesh: Mesh | None = None) -> Program:
    """The (cached) `Program` of a run; nothing is compiled until it is needed.

    With a ``mesh`` (``jit-env train --distributed``: every device of every
    process) the environment batch is sharded over its ``"batch"`` axis
    (`jit_env.agents.make_trainer`), and the compiled chunk takes and returns the
    state with the shardings ``init`` gives it, so chunk after chunk the state
    stays where it is.

    With a ``sweep`` (``{field: [values]}``, `jit_env.agents._sweep.sweep_grid`), the
    agent and trainer of every run are built under ``jax.vmap`` over the runs'
    swept values, as `jit_env.agents.train`'s sweep does.

    Raises:
      ValueError / KeyError: from `jit_env.agents.make_trainer` (unknown environment,
        unsupported config) or the sweep, before anything is written.
    """
    key = (algo, type(config).__name__, json.dumps(dataclasses.asdict(config), sort_keys=True),
           num_seeds, chunk_updates, json.dumps(sweep, sort_keys=True), mesh)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    algorithm = get_algorithm(algo)
    factory, make = algorithm.factory, algorithm.trainer
    trainer = make(config, factory, mesh=mesh)
    keys = jax.eval_shape(lambda: jax.random.split(jax.random.PRNGKey(0), num_seeds))
    if sweep is None:
        init = jax.jit(over_seeds(trainer.init, num_seeds))
        def chunk_fn(s, start):
            return over_seeds(lambda x: trainer.run(x, chunk_updates, start), num_seeds)(s)
        num_runs = num_seeds
    else:
        points = sweep_grid(config, sweep)
        num_runs = len(points) * num_seeds
        values = {k: jnp.repeat(v, num_seeds) for k, v in stacked_values(points).items()}
        point_trainer = lambda v: make(dataclasses.replace(config, **v), factory, mesh=mesh)
        init = jax.jit(lambda k: jax.vmap(lambda v, key: point_trainer(v).init(key))(
            values, jnp.tile(k, (len(points), 1))))
        def chunk_fn(s, start):
            return jax.vmap(lambda v, x: point_trainer(v).run(x, chunk_updates, start))(values, s)
    template = jax.eval_shape(init, keys)
    _PROGRAMS[key] = Program(trainer, init, template, chunk_updates, chunk_fn,
                             num_runs=num_runs, mesh=mesh, keys=keys)
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return _PROGRAMS[key]
