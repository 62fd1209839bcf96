"""Test-wide strictness and speed, and the transformation fixtures.

- ``jax_numpy_rank_promotion="raise"``: implicit rank promotion is a bug here.
- The backend is the CPU.
- A persistent XLA compilation cache shared by the pytest-xdist workers: the
  same program (e.g. the PPO training step compiled by several CLI tests) is
  compiled once per machine instead of once per test. Every program is cached,
  however fast it compiles. It changes no result. ``JIT_ENV_TEST_CACHE=off``
  turns it off (the README command on 2026-12-07, cold: 707 s with the cache,
  772 s without).
- XLA flags for faster compiles (compiling, not running, is most of the tests'
  time: a cProfile of ``tests/test_testing.py`` spends 39 of 81 s in
  ``backend_compile``), appended to ``XLA_FLAGS`` by `pytest_configure`:

  * every run: XLA:CPU's older (LLVM IR) fusion emitters,
    ``--xla_cpu_use_fusion_emitters=false``; the MLIR fusion emitters, XLA:CPU's
    default, compile more slowly;
  * runs that leave out the slow tests (``-m "not slow"``, the README command):
    also LLVM optimisation level 0, ``--xla_backend_optimization_level=0``. Their
    programs are small and run briefly. Runs with the slow tests keep LLVM's
    default level: long learning runs amplify rounding differences (rlax's PopArt
    example at its defaults learns Catch at the default level, not at level 0).

  The README command from a cold cache on 2026-12-07 (``benchmarks/RESULTS.md``):
  685 s and 725 s at level 0 alone, 610 s with the older emitters alone, 421 s
  with both. The flags change how programs are compiled, not what they compute,
  but results can differ in the last bit. With both flags, jitted programs and
  eager ops (or two differently chunked programs) can round differently, so tests
  that compare such programs use the `bits_equal` fixture (which marks them
  ``bitwise``): exact in runs at LLVM's default level, within float32 rounding
  (relative 1e-5, absolute 1e-6) at level 0; `.ci/run` reruns them exactly after
  the slow tests. ``JIT_ENV_TEST_XLA=default``
  keeps all of XLA's defaults (`.ci/run` runs the oldest-JAX subset that way, so
  CI also tests the programs users compile).
- ``variant`` (a function over a batch: the operators) and ``variant_fn`` (a
  function on single inputs: specs, environments' ``reset`` / ``step``): every
  test using one runs eagerly, under ``jax.jit`` and under
  ``jax.jit(jax.vmap(...))``.
"""

import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_platforms", "cpu")
_CACHE_DIR = os.environ.get("JIT_ENV_TEST_CACHE", os.path.join(tempfile.gettempdir(), "jit_env_test_xla"))
if _CACHE_DIR != "off":
    jax.config.update("jax_compilation_cache_dir", _CACHE_DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


_LEVEL0 = "--xla_backend_optimization_level=0"


def pytest_configure(config):
    """XLA flags for faster compiles (module docstring), before any backend starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get("JIT_ENV_TEST_XLA") == "default":
        return
    wanted = []
    if "fusion_emitters" not in flags:
        wanted.append("--xla_cpu_use_fusion_emitters=false")
    fast_run = "not slow" in (config.getoption("markexpr") or "")
    if fast_run and "xla_backend_optimization_level" not in flags:
        wanted.append(_LEVEL0)
    # XLA reads XLA_FLAGS when the first backend starts: after this hook, when a
    # test module first computes something.
    os.environ["XLA_FLAGS"] = " ".join([flags, *wanted]).strip()


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items):
    """Marks ``bitwise`` every test that requests the `bits_equal` fixture."""
    for item in items:
        if "bits_equal" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.bitwise)


@pytest.fixture
def bits_equal():
    """``check(actual, desired)``: the same bits, or float32 rounding at LLVM level 0.

    For tests that compare two differently compiled programs (chunked vs whole
    training, jitted vs eager, ours vs a reference library): exact
    (``np.testing.assert_array_equal``) unless this process compiles at LLVM
    level 0, where ``np.testing.assert_allclose(rtol=1e-5, atol=1e-6)`` (module
    docstring). Tests that request it are marked ``bitwise``
    (`pytest_collection_modifyitems`), so `.ci/run` reruns them exactly.
    """
    exact = _LEVEL0 not in os.environ.get("XLA_FLAGS", "")

    def check(actual, desired):
        if exact:
            np.testing.assert_array_equal(actual, desired)
        else:
            np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-6)

    return check


def _stack(*xs):
    return jnp.stack(xs)


@pytest.fixture(params=["eager", "jit", "vmap"])
def variant(request):
    """``run(fn, *batched) -> out``: ``fn`` over a batch, in one of three forms.

    Every argument is a pytree whose leaves share a leading batch axis ``B``;
    ``out`` is ``fn``'s output for each example, stacked along a new axis 0:

    - ``eager``: ``fn`` called on each example in turn, without ``jax.jit``;
    - ``jit``: ``jax.jit(fn)`` called on each example;
    - ``vmap``: ``jax.jit(jax.vmap(fn))`` called once on the whole batch. The
      batching rules are those of an eager ``vmap``; one compilation is much
      cheaper than dispatching every batched op eagerly.

    The compiled forms are kept for the test, so calling ``run`` again with the
    same ``fn`` (e.g. an environment's ``step`` in a loop, threading the batched
    state) does not retrace. Shape/dtype errors raised at trace time surface in
    all three forms. ``run.kind`` is the form's name.
    """
    kind = request.param
    forms: dict = {}  # fn -> its jitted form, for this test

    def run(fn, *batched):
        if kind != "eager" and fn not in forms:
            forms[fn] = jax.jit(jax.vmap(fn) if kind == "vmap" else fn)
        if kind == "vmap":
            return forms[fn](*batched)
        f = forms[fn] if kind == "jit" else fn
        n = len(jax.tree.leaves(batched)[0])
        outs = [f(*jax.tree.map(lambda a, i=i: a[i], batched)) for i in range(n)]
        return jax.tree.map(_stack, *outs)

    run.kind = kind
    return run


_VARIANT_FN_FORMS: dict = {}  # (kind, fn) -> transformed fn, shared by the session
_VARIANT_FN_TRACES: dict = {}  # fn -> times its jitted form was traced


def _counted(fn):
    def traced(*args, **kwargs):
        _VARIANT_FN_TRACES[fn] = _VARIANT_FN_TRACES.get(fn, 0) + 1  # runs once per trace
        return fn(*args, **kwargs)

    return traced


def _twice(x):
    return jnp.stack([jnp.asarray(x), jnp.asarray(x)])


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(jnp.asarray(x).dtype, jax.dtypes.prng_key)


def _key_data(x):
    """NumPy view of an array; typed PRNG keys through their key data."""
    return np.asarray(jax.random.key_data(x) if _is_key(x) else x)


def _vmapped_twice(fn):
    vmapped = jax.jit(jax.vmap(fn))

    def batched(*args, **kwargs):
        out = vmapped(*jax.tree.map(_twice, args), **jax.tree.map(_twice, kwargs))
        first, second = (jax.tree.map(lambda x, i=i: x[i], out) for i in (0, 1))
        if not any(_is_key(x) and "rbg" in str(jax.random.key_impl(x))
                   for x in jax.tree.leaves((args, kwargs))):
            jax.tree.map(lambda a, b: np.testing.assert_array_equal(_key_data(a), _key_data(b)),
                         first, second)
        return first

    return batched


@pytest.fixture(params=["eager", "jit", "vmap"])
def variant_fn(request):
    """``wrap(fn) -> fn'``: ``fn`` with its own signature, eager, jitted or vmapped.

    For code that calls a function on single inputs, or threads its result into
    the next call (an environment's ``reset`` then ``step``), where the batch
    form of ``variant`` would not fit:

    - ``eager``: ``fn`` itself;
    - ``jit``: ``jax.jit(fn)``; ``wrap.traces(fn)`` counts how many times it
      was traced (the retrace guard);
    - ``vmap``: every argument (positional and keyword) stacked twice and mapped
      by ``jax.jit(jax.vmap(fn))``; asserts the two results are equal (unless an
      argument is an rbg key: JAX does not promise equal bits for equal rbg keys
      in one batch) and returns the first, so it must equal the unbatched call.

    Forms are memoised on ``fn`` for the session: a shared function or bound
    method compiles once across tests. ``wrap.kind`` is the form's name.
    """
    kind = request.param

    def wrap(fn):
        if kind == "eager":
            return fn
        if (kind, fn) not in _VARIANT_FN_FORMS:
            form = jax.jit(_counted(fn)) if kind == "jit" else _vmapped_twice(fn)
            _VARIANT_FN_FORMS[kind, fn] = form
        return _VARIANT_FN_FORMS[kind, fn]

    wrap.kind = kind
    wrap.traces = lambda fn: _VARIANT_FN_TRACES.get(fn, 0)
    return wrap


def _rollout(env, key, actions):
    state, ts = env.reset(key)
    out = [ts]
    for a in actions:
        state, ts = env.step(state, a)
        out.append(ts)
    return state, jax.tree.map(lambda *x: jnp.stack(x), *out)


@pytest.fixture(scope="session")
def rollout():
    """``rollout(env, key, actions) -> (state, timesteps)``: ``env.reset(key)`` then
    ``env.step`` over ``actions`` in a Python loop (eager-friendly, unrolled under
    jit); the reset's TimeStep and each step's are stacked along a new axis 0."""
    return _rollout


def _assert_stop_gradient(fn, x, err_msg=""):
    g_stop = jax.grad(lambda z: jnp.sum(fn(z, True)))(x)
    g_flow = jax.grad(lambda z: jnp.sum(fn(z, False)))(x)
    np.testing.assert_array_equal(g_stop, np.zeros_like(g_stop), err_msg=err_msg)
    assert np.any(np.abs(np.asarray(g_flow)) > 1e-3), err_msg


@pytest.fixture(scope="session")
def assert_stop_gradient():
    """``check(fn, x, err_msg="")`` for ``fn(x, stop_target_gradients)``: the gradient of
    ``sum(fn(x, True))`` with respect to ``x`` is exactly zero, and that of
    ``sum(fn(x, False))`` is not (some entry above 1e-3)."""
    return _assert_stop_gradient


@pytest.fixture(params=["eager", "jit"])
def wrap(request):
    """The identity or ``jax.jit``: for static checks (rank, shape, dtype), which
    must raise the same error eagerly and at trace time (no batch form needed)."""
    return {"eager": lambda f: f, "jit": jax.jit}[request.param]


@pytest.fixture
def interrupt_training(monkeypatch):
    """``arm(after)``: later training runs raise ``KeyboardInterrupt`` after ``after``
    chunks, as Ctrl-C would (the session checkpoints first); ``arm(None)`` disarms."""
    from jit_env.cli import _session

    original = _session._Progress.advance

    def arm(after):
        if after is None:
            monkeypatch.setattr(_session._Progress, "advance", original)
            return
        calls = []

        def advance(self, *args):
            original(self, *args)
            calls.append(1)
            if len(calls) == after:
                raise KeyboardInterrupt

        monkeypatch.setattr(_session._Progress, "advance", advance)

    return arm


@pytest.fixture
def assert_same_checkpoint():
    """``check(run_a, run_b)``: the two runs' latest checkpoints are equal leaf for leaf."""
    from flax import serialization

    def check(run_a, run_b):
        la, lb = (serialization.msgpack_restore((r / "checkpoints" / "latest.msgpack").read_bytes())
                  for r in (run_a, run_b))
        assert la["leaves"].keys() == lb["leaves"].keys()
        for k in la["leaves"]:
            np.testing.assert_array_equal(la["leaves"][k], lb["leaves"][k])

    return check


# Small training runs of every registered algorithm (`jit_env.cli.ALGORITHMS`): a few
# updates of a few environments with small networks; the agent contract
# (tests/agents/test_contract.py) and the CLI tests train these.
_TINY_AGENTS = {
    "ppo": {"num_envs": 4, "num_steps": 16, "total_steps": 4 * 16 * 3, "update_epochs": 2,
            "num_minibatches": 2, "hidden_sizes": (16,)},
    "ppo_continuous": {"num_envs": 2, "num_steps": 32, "total_steps": 2 * 32 * 2,
                       "update_epochs": 2, "num_minibatches": 4, "hidden_sizes": (16,)},
    "ppo_selfplay": {"num_envs": 2, "num_steps": 16, "total_steps": 2 * 16 * 3,
                     "update_epochs": 1, "num_minibatches": 2, "hidden_sizes": (16,),
                     "window_episodes": 1},
    "recurrent_ppo": {"num_envs": 4, "num_steps": 16, "total_steps": 4 * 16 * 3,
                      "update_epochs": 2, "num_minibatches": 2, "hidden_sizes": (16,),
                      "rnn_size": 8, "head_sizes": (16,)},
    "dqn": {"num_envs": 4, "num_steps": 8, "total_steps": 4 * 8 * 6, "buffer_size": 128,
            "batch_size": 16, "learning_starts": 64, "train_frequency": 8,
            "target_network_frequency": 16, "hidden_sizes": (16,), "num_atoms": 11,
            "v_min": -10.0, "v_max": 10.0},
    "a2c": {"num_envs": 4, "num_steps": 8, "total_steps": 4 * 8 * 3, "hidden_sizes": (16,)},
    "reinforce": {"num_envs": 4, "num_steps": 16, "total_steps": 4 * 16 * 3,
                  "hidden_sizes": (16,)},
    "impala": {"num_envs": 4, "num_steps": 9, "total_steps": 4 * 9 * 4, "hidden_sizes": (16,),
               "behaviour_lag": 2},
    # Off-PAC: segments of 8 steps, learning from update 1, behaviour refreshed every 2.
    "offpac": {"num_envs": 4, "num_steps": 8, "total_steps": 4 * 8 * 4, "buffer_size": 8,
               "batch_size": 4, "behaviour_sync": 2, "hidden_sizes": (16,)},
    # Off-policy continuous control on Pendulum-v1: 2 envs x 4 steps, learning from step 16
    # (update 2), 4 gradient steps per update (utd 0.5).
    "sac": {"num_envs": 2, "num_steps": 4, "total_steps": 2 * 4 * 4, "buffer_size": 64,
            "batch_size": 8, "learning_starts": 16, "utd_ratio": 0.5, "hidden_sizes": (16,)},
    "td3": {"num_envs": 2, "num_steps": 4, "total_steps": 2 * 4 * 4, "buffer_size": 64,
            "batch_size": 8, "learning_starts": 16, "utd_ratio": 0.5, "hidden_sizes": (16,)},
    "ddpg": {"num_envs": 2, "num_steps": 4, "total_steps": 2 * 4 * 4, "buffer_size": 64,
             "batch_size": 8, "learning_starts": 16, "utd_ratio": 0.5, "hidden_sizes": (16,)},
}


def _cli_flags(overrides):
    """``jit-env train`` flags that set the config fields ``overrides``."""
    flags = []
    for name, value in overrides.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, tuple):
            flags += [flag, *(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return flags


@pytest.fixture(scope="session")
def tiny_agent():
    """``tiny_agent(name) -> (config, flags)``: the small validated config of the
    registered algorithm ``name`` and the ``jit-env train`` flags that give it."""
    import dataclasses

    from jit_env.cli import get_algorithm

    def get(name):
        overrides = _TINY_AGENTS[name]
        config = dataclasses.replace(get_algorithm(name).config(), **overrides).validate()
        return config, _cli_flags(overrides)

    get.names = sorted(_TINY_AGENTS)
    return get


@pytest.fixture(scope="session")
def agent_cli_run(tmp_path_factory, tiny_agent):
    """``agent_cli_run(name) -> Path``: the run directory of ``jit-env train --algo name``
    with ``tiny_agent(name)``'s flags, ``--num-seeds 2`` (seed 0, so the keys are
    ``jax.random.split(jax.random.PRNGKey(0), 2)``) and ``--chunk-updates 1``; trained
    once per session (per pytest-xdist worker) and shared by every test that asks."""
    runs = {}

    def get(name):
        if name not in runs:
            from jit_env import cli

            _, flags = tiny_agent(name)
            out = tmp_path_factory.mktemp("runs") / name
            argv = ["train", "--algo", name, *flags, "--num-seeds", "2", "--chunk-updates", "1",
                    "--no-progress", "--out", str(out)]
            assert cli.main(argv) == 0
            runs[name] = out
        return runs[name]

    return get


_USER_ENV_SOURCE = os.path.join(os.path.dirname(__file__), "envs", "corridor_env.py")


@pytest.fixture
def user_env_module(tmp_path, monkeypatch):
    """The name of a fresh module holding ``tests/envs/corridor_env.py``, importable.

    Written to ``tmp_path`` (prepended to ``sys.path``) under a name of its own
    per test, as a user's own module outside jit_env: ``f"{name}:Corridor"``,
    ``f"{name}:make_corridor"``. Removed from ``sys.modules`` afterwards.
    """
    import sys

    name = f"user_envs_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    with open(_USER_ENV_SOURCE) as source:
        (tmp_path / f"{name}.py").write_text(source.read())
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
