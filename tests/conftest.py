"""Test-wide strictness and speed.

- ``jax_numpy_rank_promotion="raise"``: implicit rank promotion is a bug here.
- The backend is the CPU.
- A persistent XLA compilation cache shared by the pytest-xdist workers: the
  same program (e.g. the PPO training step compiled by several CLI tests) is
  compiled once per machine instead of once per test. It changes no result.
"""

import os
import tempfile

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_platforms", "cpu")
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("JIT_ENV_TEST_CACHE", os.path.join(tempfile.gettempdir(), "jit_env_test_xla")),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


@pytest.fixture
def interrupt_training(monkeypatch):
    """``arm(after)``: later training runs raise ``KeyboardInterrupt`` after ``after``
    chunks, as Ctrl-C would (the session checkpoints first); ``arm(None)`` disarms."""
    from jit_env.agents import training_session

    original = training_session._Progress.advance

    def arm(after):
        if after is None:
            monkeypatch.setattr(training_session._Progress, "advance", original)
            return
        calls = []

        def advance(self, *args):
            original(self, *args)
            calls.append(1)
            if len(calls) == after:
                raise KeyboardInterrupt

        monkeypatch.setattr(training_session._Progress, "advance", advance)

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


@pytest.fixture
def run_twice_jitted():
    """``run(train_fn) -> (state, metrics)``: ``jax.jit(train_fn)`` on the same key twice;
    asserts it traced once and both runs are equal leaf for leaf (bit for bit)."""

    def run(train_fn):
        traces = []

        def counted(key):
            traces.append(1)
            return train_fn(key)

        fn = jax.jit(counted)
        s1, m1 = fn(jax.random.PRNGKey(0))
        s2, m2 = fn(jax.random.PRNGKey(0))
        assert len(traces) == 1
        for a, b in zip(jax.tree.leaves((s1, m1)), jax.tree.leaves((s2, m2))):
            np.testing.assert_array_equal(a, b)
        return s1, m1

    return run


@pytest.fixture
def assert_seeds_match_single_runs():
    """``check(train_fn, part=params)``: two seeds under ``jax.vmap`` equal two single runs
    (losses and ``part(train_state)``, by default the parameters) to float32 rounding —
    vmap changes XLA's fusion/reduction order on CPU."""

    def check(train_fn, part=lambda state: state.agent_state.params):
        keys = jax.random.split(jax.random.PRNGKey(1), 2)
        fn = jax.jit(train_fn)
        batched_state, batched_metrics = jax.jit(jax.vmap(train_fn))(keys)
        for i in range(2):
            state, metrics = fn(keys[i])
            np.testing.assert_allclose(batched_metrics["loss"][i], metrics["loss"], rtol=2e-4,
                                       atol=1e-5)
            for a, b in zip(jax.tree.leaves(part(state)),
                            jax.tree.leaves(jax.tree.map(lambda x: x[i], part(batched_state)))):
                np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)

    return check


@pytest.fixture
def cli_interrupt_resume_eval(capsys, interrupt_training):
    """``check(out, flags, env_id, *eval_flags)``: ``jit-env train`` with ``flags`` (2 seeds,
    4 updates, 2 per chunk) is interrupted after one chunk, resumed to the end, and its
    run evaluated; checks exit codes, messages and the 4 x 2 metrics rows."""
    from jit_env import cli

    def check(out, flags, env_id, *eval_flags):
        interrupt_training(1)
        assert cli.main(["train", *flags, "--out", str(out)]) == 130
        assert "interrupted at update 2/4" in capsys.readouterr().out
        interrupt_training(None)
        assert cli.main(["train", "--resume", str(out), "--no-progress"]) == 0
        assert "finished at update 4/4" in capsys.readouterr().out
        assert len((out / "metrics.csv").read_text().splitlines()[1:]) == 4 * 2
        assert cli.main(["eval", str(out), "--episodes", "2", *eval_flags]) == 0
        assert f"{env_id}: return" in capsys.readouterr().out

    return check
