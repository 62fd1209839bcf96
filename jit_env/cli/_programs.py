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

from jit_env.agents import Trainer, TrainingConfig, TrainState, make_trainer
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
    ``init`` still takes the ``num_seeds`` keys (each point uses the same ones).
    """

    trainer: Trainer
    init: Callable[[jax.Array], TrainState]
    template: Any
    chunk_updates: int
    _jitted_chunk: Any
    chunk: jax.stages.Compiled | None = None
    num_runs: int = 1

    def compile_chunk(self) -> jax.stages.Compiled:
        """The compiled chunk (compiled now if it was not yet)."""
        if self.chunk is None:
            start = jax.ShapeDtypeStruct((), jnp.int32)
            self.chunk = self._jitted_chunk.lower(self.template, start).compile()
        return self.chunk

    def initial_state(self, keys: jax.Array) -> TrainState:
        """``init(keys)``, compiling the chunk meanwhile if it is not compiled yet.

        XLA compiles without the GIL, so the two overlap on a multi-core CPU.
        """
        if self.chunk is not None:
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
            sweep: dict | None = None) -> Program:
    """The (cached) `Program` of a run; nothing is compiled until it is needed.

    With a ``sweep`` (``{field: [values]}``, `jit_env.agents._sweep.sweep_grid`), the
    agent and trainer of every run are built under ``jax.vmap`` over the runs'
    swept values, as `jit_env.agents.train`'s sweep does.

    Raises:
      ValueError / KeyError: from `jit_env.agents.make_trainer` (unknown environment,
        unsupported config) or the sweep, before anything is written.
    """
    key = (algo, type(config).__name__, json.dumps(dataclasses.asdict(config), sort_keys=True),
           num_seeds, chunk_updates, json.dumps(sweep, sort_keys=True))
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    factory = get_algorithm(algo).factory
    trainer = make_trainer(config, factory)
    keys = jax.eval_shape(lambda: jax.random.split(jax.random.PRNGKey(0), num_seeds))
    if sweep is None:
        init = jax.jit(over_seeds(trainer.init, num_seeds))
        jitted_chunk = jax.jit(lambda s, start: over_seeds(
            lambda x: trainer.run(x, chunk_updates, start), num_seeds)(s))
        num_runs = num_seeds
    else:
        points = sweep_grid(config, sweep)
        num_runs = len(points) * num_seeds
        values = {k: jnp.repeat(v, num_seeds) for k, v in stacked_values(points).items()}
        point_trainer = lambda v: make_trainer(dataclasses.replace(config, **v), factory)
        init = jax.jit(lambda k: jax.vmap(lambda v, key: point_trainer(v).init(key))(
            values, jnp.tile(k, (len(points), 1))))
        jitted_chunk = jax.jit(lambda s, start: jax.vmap(
            lambda v, x: point_trainer(v).run(x, chunk_updates, start))(values, s))
    template = jax.eval_shape(init, keys)
    _PROGRAMS[key] = Program(trainer, init, template, chunk_updates, jitted_chunk,
                             num_runs=num_runs)
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return _PROGRAMS[key]
