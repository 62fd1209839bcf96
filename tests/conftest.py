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
