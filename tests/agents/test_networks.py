"""Networks: the batched orthogonal initialiser, eagerly, under jit and vmap; MLP/ActorCritic init."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit_env.agents.networks import MLP, ActorCritic, orthogonal, orthogonal_kernels

SHAPES = [(4, 64), (64, 64), (64, 2), (7, 3), (1, 5)]
GAINS = [np.sqrt(2.0), np.sqrt(2.0), 0.01, 1.0, 3.0]


def assert_orthogonal(kernel, gain, atol=2e-5):
    """Columns (tall) or rows (wide) orthonormal after dividing by ``gain``."""
    q = np.asarray(kernel, np.float64) / gain
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=atol)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_kernels_are_orthogonal_with_their_gains(mode):
    fn = lambda k: orthogonal_kernels(k, SHAPES, GAINS)
    if mode == "jit":
        fn = jax.jit(fn)
    kernels = fn(jax.random.PRNGKey(0))
    assert [k.shape for k in kernels] == SHAPES
    assert all(k.dtype == jnp.float32 for k in kernels)
    for kernel, gain in zip(kernels, GAINS):
        assert_orthogonal(kernel, gain)


def test_eager_equals_jit_and_vmap_equals_a_loop():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    eager = [orthogonal_kernels(k, SHAPES, GAINS) for k in keys]
    jitted = jax.jit(lambda k: orthogonal_kernels(k, SHAPES, GAINS))(keys[0])
    batched = jax.vmap(lambda k: orthogonal_kernels(k, SHAPES, GAINS))(keys)
    for i in range(len(SHAPES)):
        np.testing.assert_allclose(jitted[i], eager[0][i], rtol=1e-6, atol=1e-6)
        for b in range(3):
            np.testing.assert_allclose(batched[i][b], eager[b][i], rtol=1e-6, atol=1e-6)
    # same key, same matrices; different keys, different matrices
    again = jax.jit(lambda k: orthogonal_kernels(k, SHAPES, GAINS))(keys[0])
    for a, b in zip(jitted, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(eager[0][1], eager[1][1])


def test_law_matches_haar_moments():
    """A Haar-orthogonal n x n matrix has E[Q_ij] = 0 and E[Q_ij^2] = 1/n (flax's law).

    Over 2,000 draws the sample mean of Q_00^2 has standard error
    sqrt(Var(Q_00^2) / 2000) ≈ sqrt(2/n^2 / 2000) = 0.002 for n = 16; 5 sigma is 0.01.
    """
    n = 16
    keys = jax.random.split(jax.random.PRNGKey(2), 2000)
    q = jax.vmap(lambda k: orthogonal_kernels(k, [(n, n), (n, 3)], [1.0, 1.0]))(keys)
    square, tall = np.asarray(q[0]), np.asarray(q[1])
    assert abs(square[:, 0, 0].mean()) < 5 * np.sqrt(1 / n / 2000)
    assert abs((square[:, 0, 0] ** 2).mean() - 1 / n) < 0.01
    assert abs((tall[:, 5, 2] ** 2).mean() - 1 / n) < 0.01
    # the reference law: flax's QR-based initialiser, same moments
    ref = jax.vmap(lambda k: nn.initializers.orthogonal()(k, (n, n)))(keys[:500])
    assert abs((np.asarray(ref)[:, 0, 0] ** 2).mean() - 1 / n) < 0.02


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=4))
def test_any_shapes_give_orthogonal_kernels(shapes):
    gains = [1.0 + i for i in range(len(shapes))]
    kernels = orthogonal_kernels(jax.random.PRNGKey(3), shapes, gains)
    for kernel, shape, gain in zip(kernels, shapes, gains):
        assert kernel.shape == shape
        assert_orthogonal(kernel, gain, atol=5e-5)


@pytest.mark.parametrize(
    ("shapes", "gains", "message"),
    [
        ([(4, 4)], [1.0, 2.0], "got 1 `shapes` but 2 `gains`"),
        ([(4, 0)], [1.0], "each of `shapes` must be two positive ints, got \\(4, 0\\)"),
        ([(4,)], [1.0], "each of `shapes` must be two positive ints, got \\(4,\\)"),
    ],
)
def test_bad_shapes_raise(shapes, gains, message):
    with pytest.raises(ValueError, match=message):
        orthogonal_kernels(jax.random.PRNGKey(0), shapes, gains)


def test_single_initialiser_handles_column_axis_and_rank():
    init = orthogonal(2.0, column_axis=0)
    kernel = init(jax.random.PRNGKey(4), (5, 3, 4))  # 5 output features, 12 inputs
    assert kernel.shape == (5, 3, 4)
    assert_orthogonal(np.moveaxis(np.asarray(kernel), 0, -1).reshape(12, 5), 2.0)
    with pytest.raises(ValueError, match="rank >= 2"):
        init(jax.random.PRNGKey(0), (5,))


def test_mlp_and_actor_critic_initialise_every_layer_orthogonally():
    mlp = MLP((32, 16), 3, output_gain=0.5)
    params = mlp.init(jax.random.PRNGKey(5), jnp.zeros((7,)))["params"]
    for i, gain in enumerate([np.sqrt(2.0), np.sqrt(2.0), 0.5]):
        assert_orthogonal(params[f"Dense_{i}"]["kernel"], gain)
        np.testing.assert_array_equal(params[f"Dense_{i}"]["bias"], 0.0)

    net = ActorCritic(2)
    p = net.init(jax.random.PRNGKey(6), jnp.zeros((4,)))["params"]
    gains = {"actor": [np.sqrt(2.0)] * 2 + [0.01], "critic": [np.sqrt(2.0)] * 2 + [1.0]}
    for part, part_gains in gains.items():
        for i, gain in enumerate(part_gains):
            assert_orthogonal(p[part][f"Dense_{i}"]["kernel"], gain)
    # one draw for both networks, but independent matrices
    assert not np.allclose(p["actor"]["Dense_1"]["kernel"], p["critic"]["Dense_1"]["kernel"])
    # apply does not re-initialise: outputs come from the given parameters
    logits, value = net.apply({"params": p}, jnp.ones((3, 4)))
    assert logits.shape == (3, 2)
    assert value.shape == (3,)
    same = ActorCritic(2).init(jax.random.PRNGKey(6), jnp.zeros((4,)))["params"]
    jax.tree.map(np.testing.assert_array_equal, p, same)
