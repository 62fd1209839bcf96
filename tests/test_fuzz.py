"""Hypothesis fuzzing of spec constructors, wrapper constructors and operators.

The one property, for every input hypothesis draws (valid, borderline and wrong):
the call either gives a correct result, or raises ``ValueError`` / ``TypeError``
whose message names one of the call's arguments. Anything else (an ``IndexError``,
an ``OverflowError``, a pytree-sorting error, a ``MemoryError``, a result that is
wrong) fails. "Correct" is checked independently: a constructed spec's
``generate_value`` and ``sample`` conform to it and its bounds are the ones given;
a constructed wrapper resets and steps; an operator's output equals a NumPy loop.

Inputs are drawn from small pools (few shapes and dtypes) so that JAX's compilation
caches are shared between examples; ``max_examples`` keeps the file at a few
seconds per test.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jit_env
from jit_env import ops, specs, wrappers

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_ODD_NUMBERS = [0, 1, -1, 2, 3, 2**31 - 1, 2**31, 10**12, 0.5, -0.0, float("nan"),
                float("inf"), -float("inf"), True, None, "3", (2,), np.int64(4), np.float32(2.5)]
odd_numbers = st.sampled_from(_ODD_NUMBERS)
dtypes = st.sampled_from([np.float32, np.int32, np.uint8, np.bool_, np.complex64, "float32",
                          "nope", object, str, None, int, float])
shapes = st.one_of(
    st.sampled_from([(), (2,), (1, 3), (0,), (4096,) * 3, (-1,), (2.0,), ("a",), 3, None]),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
)
bounds = st.one_of(odd_numbers, st.sampled_from([np.zeros(2), np.ones((3, 1)), [0, 1], "x"]))


def _names_an_argument(error: BaseException, arguments: tuple[str, ...]) -> bool:
    text = str(error)
    return any(re.search(rf"`{re.escape(a)}`|\b{re.escape(a)}\b", text) for a in arguments)


def _small(shape) -> bool:
    return int(np.prod(shape, dtype=np.int64)) <= 4096


def _assert_conforms(spec: specs.Spec) -> None:
    spec.validate(spec.generate_value())
    assert bool(spec.contains(spec.sample(jax.random.key(0))))


def _call(fn, arguments):
    """``fn()``, or ``None`` if it raised ValueError / TypeError naming an argument."""
    try:
        return fn()
    except (ValueError, TypeError) as error:
        message = f"{type(error).__name__}: {error}"
        named = _names_an_argument(error, arguments)
    assert named, f"an error that names none of {arguments}: {message}"
    return None


# ------------------------------------------------------------------------ specs


@SETTINGS
@given(shape=shapes, dtype=dtypes, name=st.sampled_from(["", "a", 3, None]))
def test_array_constructor(shape, dtype, name):
    spec = _call(lambda: specs.Array(shape, dtype, name), ("shape", "dtype", "name"))
    if spec is not None:
        assert spec.shape == (tuple(shape) if not isinstance(shape, int) else (shape,))
        if _small(spec.shape) and not jnp.issubdtype(spec.dtype, jnp.integer):
            _assert_conforms(spec)


@SETTINGS
@given(shape=shapes, dtype=dtypes, low=bounds, high=bounds)
def test_bounded_array_constructor(shape, dtype, low, high):
    spec = _call(lambda: specs.BoundedArray(shape, dtype, low, high),
                 ("shape", "dtype", "minimum", "maximum"))
    if spec is None:
        return
    if not _small(spec.shape):  # the constant bounds of a huge spec: entry 0 and the last
        corners = [(0,) * len(spec.shape), tuple(n - 1 for n in spec.shape)]
        for i in corners:
            assert spec.minimum[i] == np.asarray(low, spec.dtype)
            assert spec.maximum[i] == np.asarray(high, spec.dtype)
        return
    assert np.all(spec.minimum <= spec.maximum)
    np.testing.assert_array_equal(spec.minimum, np.broadcast_to(np.asarray(low, spec.dtype),
                                                                spec.shape))
    np.testing.assert_array_equal(spec.maximum, np.broadcast_to(np.asarray(high, spec.dtype),
                                                                spec.shape))
    _assert_conforms(spec)


@SETTINGS
@given(num_values=st.one_of(odd_numbers, st.sampled_from([[2, 3], [[1], [0]], np.array([5]),
                                                          2**32, 256])),
       dtype=st.sampled_from([np.int32, np.uint8, np.int8, np.float32, "int64", np.bool_]))
def test_discrete_array_constructor(num_values, dtype):
    spec = _call(lambda: specs.DiscreteArray(num_values, dtype), ("num_values", "dtype"))
    if spec is not None:
        np.testing.assert_array_equal(spec.num_values, np.asarray(num_values))
        np.testing.assert_array_equal(spec.maximum, np.asarray(num_values) - 1)
        _assert_conforms(spec)


leaf_specs = st.sampled_from([specs.Array((2,), np.float32), specs.DiscreteArray(3),
                              specs.BoundedArray((), np.float32, -1.0, 1.0)])
keys = st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(0, 2), st.sampled_from([None, 1.5]))


@SETTINGS
@given(entries=st.dictionaries(keys, st.one_of(leaf_specs, st.sampled_from([3, "x", None])),
                               max_size=4),
       num=odd_numbers)
def test_composite_constructors(entries, num):
    spec = _call(lambda: specs.Dict(entries), ("dict_spec",))
    if spec is not None:
        assert sorted(spec.as_spec_struct()) == sorted(entries)
        _assert_conforms(spec)
    values = tuple(entries.values())
    spec = _call(lambda: specs.Tuple(*values), ("var_specs",))
    if spec is not None:
        _assert_conforms(spec)
        batched = _call(lambda: specs.Batched(spec, num), ("num", "spec"))
        if batched is not None:
            assert batched.num == num
            if num <= 3:
                _assert_conforms(batched)


# --------------------------------------------------------------------- wrappers

_ENV = jit_env.make("CartPole-v1")


def _runs(env) -> None:
    state, ts = env.reset(jax.random.key(0))
    spec = env.action_spec()
    state, ts = env.step(state, spec.generate_value())
    assert np.all(np.isfinite(np.asarray(ts.reward)))


@SETTINGS
@given(which=st.sampled_from(["TimeLimit", "ClipReward", "ScaleReward", "NormalizeObservation",
                              "NormalizeReward", "CheckFinite", "Tile", "VmapAutoReset",
                              "FrameStack", "ActionRepeat"]),
       a=odd_numbers, b=odd_numbers)
def test_wrapper_constructors(which, a, b):
    makers = {
        "TimeLimit": (lambda: wrappers.TimeLimit(_ENV, a), ("max_episode_steps",)),
        "ClipReward": (lambda: wrappers.ClipReward(_ENV, a, b), ("min_reward", "max_reward")),
        "ScaleReward": (lambda: wrappers.ScaleReward(_ENV, a), ("scale",)),
        "NormalizeObservation": (lambda: wrappers.NormalizeObservation(_ENV, a, b),
                                 ("epsilon", "clip")),
        "NormalizeReward": (lambda: wrappers.NormalizeReward(_ENV, a, b), ("gamma", "epsilon")),
        "CheckFinite": (lambda: wrappers.CheckFinite(_ENV, a), ("fields",)),
        "Tile": (lambda: wrappers.Tile(_ENV, a), ("num",)),
        "VmapAutoReset": (lambda: wrappers.VmapAutoReset(_ENV, a), ("num", "num_envs")),
        "FrameStack": (lambda: wrappers.FrameStack(_ENV, a), ("num_stack",)),
        "ActionRepeat": (lambda: wrappers.ActionRepeat(_ENV, a), ("n",)),
    }
    make, arguments = makers[which]
    env = _call(make, arguments)
    sized = which in ("Tile", "VmapAutoReset", "FrameStack", "ActionRepeat")
    if env is not None and not (sized and (a is None or a > 8)):  # None: keys give the batch
        _runs(env)


# -------------------------------------------------------------------- operators


def _np_lambda_returns(r, d, v, lam):
    out, acc = np.empty_like(r), (v[-1] if len(v) else 0.0)
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * ((1 - lam) * v[t] + lam * acc)
        out[t] = acc
    return out


lengths = st.sampled_from([0, 1, 2, 5])
lambdas = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), odd_numbers)


@SETTINGS
@given(t=lengths, t_v=lengths, lam=lambdas, seed=st.integers(0, 3),
       dtype=st.sampled_from([np.float32, np.int32]))
def test_lambda_returns_and_discounted_returns(t, t_v, lam, seed, dtype):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=t).astype(dtype)
    d = rng.uniform(0, 1, t).astype(dtype)
    v = rng.normal(size=t_v).astype(dtype)
    out = _call(lambda: ops.lambda_returns(r, d, v, lam), ("r_t", "discount_t", "v_t", "lambda_"))
    if out is not None:
        np.testing.assert_allclose(out, _np_lambda_returns(r, d, v, float(lam)), rtol=1e-5,
                                   atol=1e-5)  # float32 recursion over <= 5 steps
    out = _call(lambda: ops.discounted_returns(r, d, v), ("r_t", "discount_t", "v_t"))
    if out is not None:
        np.testing.assert_allclose(out, _np_lambda_returns(r, d, v, 1.0), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(t=lengths, n=odd_numbers, lam=lambdas)
def test_n_step_and_td_lambda(t, n, lam):
    r, d, v = np.ones(t, np.float32), np.full(t, 0.5, np.float32), np.full(t, 2.0, np.float32)
    out = _call(lambda: ops.n_step_bootstrapped_returns(r, d, v, n, lam),
                ("r_t", "discount_t", "v_t", "n", "lambda_t"))
    if out is not None:
        assert out.shape == (t,)
        if n == 1:  # one step: r + γ v, whatever λ
            np.testing.assert_allclose(out, 1.0 + 0.5 * 2.0, rtol=1e-6)
    out = _call(lambda: ops.td_lambda(v, r, d, v, lam),
                ("v_tm1", "r_t", "discount_t", "v_t", "lambda_"))
    if out is not None:
        expected = _np_lambda_returns(r, d, v, float(lam)) - v
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(logits=st.lists(st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e30]),
                       min_size=1, max_size=4),
       temperature=st.sampled_from([1.0, 0.5, 1e-3]))
def test_softmax_sample_is_an_action_or_minus_one(logits, temperature):
    x = jnp.asarray(logits, jnp.float32)
    sample = int(ops.softmax(temperature).sample(jax.random.key(0), x))
    probs = np.asarray(jax.nn.softmax(x / temperature))
    if np.all(np.isfinite(probs)):
        assert 0 <= sample < len(logits)
        assert probs[sample] > 0
    else:
        assert sample == -1


def test_fuzzers_find_what_they_were_written_for():
    """The findings of issue #24 as fixed examples (each failed before its fix)."""
    with pytest.raises(ValueError, match="`min_reward`"):
        wrappers.ClipReward(_ENV, float("nan"), float("nan"))
    with pytest.raises(ValueError, match="`max_episode_steps`"):
        wrappers.TimeLimit(_ENV, 10**12)
    with pytest.raises(TypeError, match="`dict_spec`"):
        specs.Dict({1: specs.DiscreteArray(2), "a": specs.DiscreteArray(2)})
    assert specs.BoundedArray((4096,) * 3, np.float32, 0.0, 1.0).shape == (4096,) * 3
    assert ops.lambda_returns(np.zeros(0, np.float32), np.zeros(0, np.float32),
                              np.zeros(0, np.float32)).shape == (0,)
