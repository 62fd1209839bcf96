"""Shared fixtures for the spec tests (eager / jit / vmap: ``variant_fn``, tests/conftest.py)."""

from __future__ import annotations

import jax
import pytest

KEY_MAKERS = {
    "threefry": lambda seed: jax.random.key(seed, impl="threefry2x32"),
    "rbg": lambda seed: jax.random.key(seed, impl="rbg"),
    "unsafe_rbg": lambda seed: jax.random.key(seed, impl="unsafe_rbg"),
    "legacy": lambda seed: jax.random.PRNGKey(seed),
}


@pytest.fixture(params=sorted(KEY_MAKERS))
def make_key(request):
    """A function `seed -> key` for every PRNG key flavour the library accepts."""
    return KEY_MAKERS[request.param]
