"""Shared fixtures for the spec tests: run a function eagerly, under jit or under vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def _stack2(tree):
    """Stacks two copies of every leaf along a new leading axis."""
    return jax.tree.map(lambda x: jnp.stack([jnp.asarray(x), jnp.asarray(x)]), tree)


def _run_eager(fn, *args):
    return fn(*args)


def _run_jit(fn, *args):
    return jax.jit(fn)(*args)


def _is_rbg_key(x) -> bool:
    return jax.dtypes.issubdtype(jnp.asarray(x).dtype, jax.dtypes.prng_key) and "rbg" in str(
        jax.random.key_impl(x)
    )


def _run_vmap(fn, *args):
    """vmaps `fn` over two identical copies of `args`; both outputs must agree.

    (Except for rbg / unsafe_rbg keys: JAX does not promise identical bits for identical rbg keys
    in one vmapped batch, so only shapes are compared then.)
    """
    out = jax.vmap(fn)(*map(_stack2, args))
    first = jax.tree.map(lambda x: x[0], out)
    second = jax.tree.map(lambda x: x[1], out)
    if not any(_is_rbg_key(leaf) for leaf in jax.tree.leaves(args)):
        jax.tree.map(
            lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), first, second
        )
    return first


@pytest.fixture(params=["eager", "jit", "vmap"])
def transform(request):
    """`run(fn, *args)`: `fn(*args)` eagerly, under `jax.jit`, or under `jax.vmap`
    (on a batch of two copies, returning the first element of the batched result)."""
    return {"eager": _run_eager, "jit": _run_jit, "vmap": _run_vmap}[request.param]


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
