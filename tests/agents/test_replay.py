"""The circular replay buffer: shapes, wrap-around, masking, uniform sampling, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env.agents import replay

EXAMPLE = {"observation": jnp.zeros(3, jnp.float32), "action": jnp.zeros((), jnp.int32)}


def _rows(values):
    values = np.asarray(values)
    return {"observation": jnp.asarray(np.repeat(values[:, None], 3, 1), jnp.float32),
            "action": jnp.asarray(values, jnp.int32)}


@pytest.fixture(params=["eager", "jit"])
def add(request):
    return replay.add if request.param == "eager" else jax.jit(replay.add)


def test_init_shapes_and_dtypes():
    buf = replay.init(EXAMPLE, 5)
    assert buf.capacity == 5
    assert buf.data["observation"].shape == (5, 3)
    assert buf.data["observation"].dtype == jnp.float32
    assert buf.data["action"].shape == (5,)
    assert buf.data["action"].dtype == jnp.int32
    assert int(buf.insert_index) == 0
    assert int(buf.size) == 0


def test_add_then_sample_shapes(add):
    buf = add(replay.init(EXAMPLE, 8), _rows([1, 2, 3]))
    assert int(buf.size) == 3
    assert int(buf.insert_index) == 3
    out = replay.sample(buf, jax.random.PRNGKey(0), 16)
    assert out["observation"].shape == (16, 3)
    assert out["action"].shape == (16,)
    assert out["action"].dtype == jnp.int32
    # Only stored rows are drawn, and each row stays intact.
    assert set(np.asarray(out["action"]).tolist()) <= {1, 2, 3}
    np.testing.assert_array_equal(out["observation"][:, 0], out["action"].astype(np.float32))


def test_wrap_around_overwrites_oldest(add):
    buf = add(replay.init(EXAMPLE, 5), _rows([1, 2, 3]))
    buf = add(buf, _rows([4, 5, 6, 7]))
    # Slots 0, 1 hold the newest rows 6, 7; 3, 4, 5 survive; 1, 2 are gone.
    np.testing.assert_array_equal(buf.data["action"], [6, 7, 3, 4, 5])
    assert int(buf.insert_index) == 2
    assert int(buf.size) == 5


def test_batch_larger_than_capacity_keeps_the_last_rows(add):
    buf = add(replay.init(EXAMPLE, 4), _rows([1]))
    buf = add(buf, _rows(np.arange(10, 20)))  # 10 rows from index 1
    # As if added one at a time: the last 4 rows (16..19) at slots 1+6.. mod 4.
    stored = np.asarray(buf.data["action"])
    assert sorted(stored.tolist()) == [16, 17, 18, 19]
    assert stored[(1 + 9) % 4] == 19  # the newest row sits just before `index`
    assert int(buf.insert_index) == (1 + 10) % 4
    assert int(buf.size) == 4


def test_invalid_rows_are_not_stored(add):
    buf = add(replay.init(EXAMPLE, 6), _rows([1, 2, 3, 4, 5]),
              jnp.array([True, False, True, False, True]))
    np.testing.assert_array_equal(buf.data["action"][:3], [1, 3, 5])
    np.testing.assert_array_equal(buf.data["action"][3:], [0, 0, 0])
    assert int(buf.size) == 3
    assert int(buf.insert_index) == 3
    # A batch with no valid row changes nothing.
    same = add(buf, _rows([9, 9]), jnp.array([False, False]))
    for a, b in zip(jax.tree.leaves(buf), jax.tree.leaves(same)):
        np.testing.assert_array_equal(a, b)


def test_masked_wrap_around_matches_a_python_deque():
    rng = np.random.default_rng(0)
    buf, ref, capacity, counter = replay.init(EXAMPLE, 7), [], 7, 0
    add = jax.jit(replay.add)
    for _ in range(20):
        n = int(rng.integers(1, 12))
        values = np.arange(counter, counter + n)
        counter += n
        valid = rng.random(n) < 0.6
        buf = add(buf, _rows(values), jnp.asarray(valid))
        ref = (ref + values[valid].tolist())[-capacity:]
        assert int(buf.size) == len(ref)
        stored = np.asarray(buf.data["action"])
        # Reading backwards from `index` gives the newest rows, newest first.
        newest_first = [stored[(int(buf.insert_index) - 1 - i) % capacity] for i in range(len(ref))]
        assert newest_first == ref[::-1]


def test_add_vmaps_over_buffers():
    bufs = jax.vmap(lambda _: replay.init(EXAMPLE, 4))(jnp.arange(2))
    batch = jax.tree.map(lambda x: jnp.stack([x, x + 10]), _rows([1, 2, 3]))
    valid = jnp.array([[True, True, True], [False, True, False]])
    out = jax.vmap(replay.add)(bufs, batch, valid)
    np.testing.assert_array_equal(out.data["action"], [[1, 2, 3, 0], [12, 0, 0, 0]])
    np.testing.assert_array_equal(out.size, [3, 1])


def test_sampling_is_uniform():
    capacity, draws = 10, 20_000
    buf = replay.add(replay.init(EXAMPLE, capacity), _rows(np.arange(capacity)))
    out = jax.jit(replay.sample, static_argnums=2)(buf, jax.random.PRNGKey(42), draws)
    counts = np.bincount(np.asarray(out["action"]), minlength=capacity)
    expected = draws / capacity
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # 9 degrees of freedom: P(chi2 > 27.88) = 0.001 under uniform sampling (fixed key).
    assert chi2 < 27.88, counts


def test_partially_filled_buffer_samples_only_stored_rows():
    buf = replay.add(replay.init(EXAMPLE, 100), _rows([5, 6, 7]))
    out = replay.sample(buf, jax.random.PRNGKey(1), 3000)
    counts = np.bincount(np.asarray(out["action"]), minlength=8)
    assert counts[:5].sum() == 0
    assert counts[5:].min() > 800  # about 1000 each


def test_sample_is_deterministic_in_the_key():
    buf = replay.add(replay.init(EXAMPLE, 10), _rows(np.arange(10)))
    a = replay.sample(buf, jax.random.PRNGKey(3), 32)["action"]
    b = replay.sample(buf, jax.random.PRNGKey(3), 32)["action"]
    c = replay.sample(buf, jax.random.PRNGKey(4), 32)["action"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: replay.init(EXAMPLE, 0), "`capacity` must be a positive int"),
        (lambda: replay.init({}, 4), "no array leaves"),
        (lambda: replay.add(replay.init(EXAMPLE, 4), {"observation": jnp.zeros((2, 3))}),
         "`batch` has structure"),
        (lambda: replay.add(replay.init(EXAMPLE, 4),
                            {"observation": jnp.zeros((2, 4)), "action": jnp.zeros(2, jnp.int32)}),
         r"`batch\['observation'\]` has shape \(2, 4\), expected \(N, 3\)"),
        (lambda: replay.add(replay.init(EXAMPLE, 4),
                            {"observation": jnp.zeros((2, 3)), "action": jnp.zeros(2)}),
         r"`batch\['action'\]` has dtype float32, expected int32"),
        (lambda: replay.add(replay.init(EXAMPLE, 4),
                            {"observation": jnp.zeros((2, 3)), "action": jnp.zeros(3, jnp.int32)}),
         "disagree on the number of rows"),
        (lambda: replay.add(replay.init(EXAMPLE, 4), _rows(np.zeros(0, int))), "has no rows"),
        (lambda: replay.add(replay.init(EXAMPLE, 4), _rows([1, 2]), jnp.ones(3, bool)),
         r"`valid` has shape \(3,\), expected \(2,\)"),
        (lambda: replay.sample(replay.init(EXAMPLE, 4), jax.random.PRNGKey(0), 0),
         "`batch_size` must be a positive int"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
