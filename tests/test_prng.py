"""`jit_env.prng.THREEFRY_UNROLLED` gives JAX's threefry2x32 draws, bit for bit."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env import prng


def _data(x):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


def _pair(seed):
    return jax.random.key(seed), prng.key(seed)


def _draws(key, shape):
    """Every threefry code path a key goes through, as one pytree."""
    return {
        "split": jax.random.split(key, shape),
        "fold_in": jax.random.fold_in(key, 0x5EED),
        "fold_in_max": jax.random.fold_in(key, 2**32 - 1),
        "bits8": jax.random.bits(key, shape, jnp.uint8),
        "bits16": jax.random.bits(key, shape, jnp.uint16),
        "bits32": jax.random.bits(key, shape, jnp.uint32),
        "uniform": jax.random.uniform(key, shape),
        "normal": jax.random.normal(key, shape),
        "randint": jax.random.randint(key, shape, -5, 17),
        "bernoulli": jax.random.bernoulli(key, 0.3, shape),
        "permutation": jax.random.permutation(key, 11),
    }


def _assert_same(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(_data(x), _data(y))


_SHAPES = [(), (1,), (7,), (2, 3), (3, 1, 4), (5, 5)]
_DRAWS = jax.jit(_draws, static_argnums=1)  # one compilation per shape and implementation


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from(_SHAPES))
def test_every_draw_equals_threefry(seed, shape):
    fry, fru = _pair(seed)
    _assert_same(_DRAWS(fry, shape), _DRAWS(fru, shape))


def test_eager_draws_equal_threefry():
    fry, fru = _pair(2**31 + 5)
    _assert_same(_draws(fry, (2, 3)), _draws(fru, (2, 3)))


@pytest.mark.parametrize("mode", ["jit", "vmap", "jit_vmap"])
def test_under_jit_and_vmap(mode):
    fry, fru = _pair(7)
    fry_b, fru_b = jax.random.split(fry, 5), jax.random.split(fru, 5)

    def f(k):
        return _draws(k, (3,))

    if mode == "jit":
        _assert_same(jax.jit(f)(fry), jax.jit(f)(fru))
    elif mode == "vmap":
        _assert_same(jax.vmap(f)(fry_b), jax.vmap(f)(fru_b))
    else:
        g = jax.jit(jax.vmap(lambda k, d: jax.random.fold_in(k, d)))
        _assert_same(g(fry_b, jnp.arange(5)), g(fru_b, jnp.arange(5)))
        _assert_same(jax.jit(jax.vmap(f))(fry_b), jax.jit(jax.vmap(f))(fru_b))


def test_hash_matches_the_published_test_vectors():
    """Random123's known-answer vectors for Threefry-2x32-20 (kat_vectors)."""
    cases = [
        ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ]
    for (k1, k2), (x1, x2), want in cases:
        u = jnp.uint32
        got = prng.threefry2x32_hash(u(k1), u(k2), u(x1), u(x2))
        assert tuple(int(v) for v in got) == want


def test_unrolled_converts_threefry_keys_and_rejects_others():
    fry = jax.random.split(jax.random.key(3), 4)
    fru = prng.unrolled(fry)
    assert fru.shape == (4,)
    _assert_same(jax.vmap(jax.random.uniform)(fry), jax.vmap(jax.random.uniform)(fru))
    raw = prng.unrolled(jax.random.PRNGKey(3))
    _assert_same(jax.random.normal(raw, (2,)), jax.random.normal(jax.random.key(3), (2,)))
    with pytest.raises(TypeError, match="threefry2x32"):
        prng.unrolled(jax.random.key(0, impl="rbg"))
    with pytest.raises(TypeError, match="uint32"):
        prng.unrolled(jnp.zeros((3,), jnp.int32))


@pytest.mark.slow  # a subprocess
def test_64_bit_draws_and_the_non_partitionable_mode_match():
    """In a fresh process: jax_enable_x64 (64-bit bits), then partitionable off."""
    code = """
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
from jit_env import prng
a, b = jax.random.key(5), prng.key(5)
d = lambda k: np.asarray(k) if not jax.dtypes.issubdtype(k.dtype, jax.dtypes.prng_key) else np.asarray(jax.random.key_data(k))
assert (d(jax.random.bits(a, (6,), jnp.uint64)) == d(jax.random.bits(b, (6,), jnp.uint64))).all()
assert (d(jax.random.uniform(a, (6,), jnp.float64)) == d(jax.random.uniform(b, (6,), jnp.float64))).all()
jax.config.update("jax_threefry_partitionable", False)
assert (d(jax.random.split(a, 3)) == d(jax.random.split(b, 3))).all()
assert (d(jax.random.uniform(a, (5,))) == d(jax.random.uniform(b, (5,)))).all()
assert (d(jax.random.fold_in(a, 9)) == d(jax.random.fold_in(b, 9))).all()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_batched_auto_reset_runs_the_same_episodes():
    import jit_env
    from jit_env import wrappers as W

    env = W.VmapAutoReset(jit_env.make("CartPole-v1"), 64)
    actions = jax.random.randint(jax.random.PRNGKey(1), (60, 64), 0, 2)

    @jax.jit
    def run(key):
        state, _ = env.reset(key)
        return jax.lax.scan(env.step, state, actions)

    fry, fru = _pair(9)
    (s1, ts1), (s2, ts2) = run(fry), run(fru)
    assert int((ts1.step_type == 0).sum()) > 64  # episodes ended and restarted
    _assert_same(ts1, ts2)
    _assert_same(s1, s2)
