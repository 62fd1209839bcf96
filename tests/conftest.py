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

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_platforms", "cpu")
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("JIT_ENV_TEST_CACHE", os.path.join(tempfile.gettempdir(), "jit_env_test_xla")),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
