"""Tests for `jit_env.agents._action_heads`: composite distributions and action masks.

Expected values come from NumPy: products of single-component densities (softmax
categoricals, normal densities, the tanh change of variables written out), closed-form
entropies and KLs, and Monte-Carlo estimates where a closed form is what is tested.
"""

import math

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import ops, specs
from jit_env.agents import make_action_head, split_observation, split_observation_spec

# A Dict action with every kind of leaf: a scalar categorical, a ragged multi-discrete
# (2 and 4 values: one padded element), a 2x2 Gaussian with finite bounds.
COMPOSITE = specs.Dict(
    a=specs.DiscreteArray(3),
    g=specs.BoundedArray((2, 2), jnp.float32, -2.0, 1.0),
    m=specs.DiscreteArray(np.array([2, 4])),
)
# Flat outputs (pytree order a, g, m): 3 logits, 4 means, 2 x 4 logits; 4 log-stds.
SIZE, LOG_STD_SIZE = 3 + 4 + 8, 4


def _np_log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _np_parts(flat, log_std):
    """NumPy per-leaf parameters of COMPOSITE: (log p_a [3], mean [4], std [4], log p_m [2, 4])."""
    log_pa = _np_log_softmax(flat[:3])
    mean, std = flat[3:7], np.exp(log_std)
    m = flat[7:].reshape(2, 4).copy()
    m[0, 2:] = -np.inf  # element 0 has 2 values only
    return log_pa, mean, std, _np_log_softmax(m)


def _np_normal_logpdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def _np_entropy(log_p):
    p = np.exp(log_p)
    return -np.sum(p * np.where(p > 0, log_p, 0.0), axis=-1)


def _head_inputs(seed, batch=()):
    rng = np.random.default_rng(seed)
    flat = rng.normal(size=batch + (SIZE,)).astype(np.float32)
    log_std = (0.3 * rng.normal(size=(LOG_STD_SIZE,))).astype(np.float32)
    return flat, log_std


def test_layout_sizes():
    head = make_action_head(COMPOSITE)
    assert (head.size, head.log_std_size, head.continuous) == (SIZE, LOG_STD_SIZE, True)
    assert not head.plain_softmax
    assert make_action_head(specs.DiscreteArray(5)).plain_softmax


def test_composite_logprob_and_entropy_match_numpy(variant):
    head = make_action_head(COMPOSITE)
    flat, log_std = _head_inputs(0, (6,))
    keys = jax.random.split(jax.random.PRNGKey(1), 6)

    def fn(key, f):
        out = (f, jnp.asarray(log_std))
        action = head.sample(key, out)
        return action, head.logprob(action, out), head.entropy(out)

    action, logprob, entropy = variant(fn, keys, jnp.asarray(flat))
    assert set(action) == {"a", "g", "m"}
    assert action["a"].shape == (6,)
    assert action["g"].shape == (6, 2, 2)
    assert action["m"].shape == (6, 2)
    for i in range(6):
        log_pa, mean, std, log_pm = _np_parts(flat[i].astype(np.float64), log_std)
        a, g, m = (np.asarray(action[k][i]) for k in "agm")
        assert 0 <= m[0] < 2
        assert 0 <= m[1] < 4
        want = (log_pa[a] + _np_normal_logpdf(g.reshape(4), mean, std).sum()
                + log_pm[0, m[0]] + log_pm[1, m[1]])
        np.testing.assert_allclose(logprob[i], want, rtol=1e-5, atol=1e-5)  # float32 sums
        want_h = (_np_entropy(log_pa) + np.sum(0.5 + 0.5 * np.log(2 * np.pi) + np.log(std))
                  + _np_entropy(log_pm).sum())
        np.testing.assert_allclose(entropy[i], want_h, rtol=1e-5, atol=1e-5)


def test_composite_entropy_matches_monte_carlo():
    head = make_action_head(COMPOSITE)
    flat, log_std = _head_inputs(2)
    out = (jnp.asarray(flat), jnp.asarray(log_std))
    keys = jax.random.split(jax.random.PRNGKey(3), 20_000)
    logprob = jax.jit(jax.vmap(lambda k: head.logprob(head.sample(k, out), out)))(keys)
    estimate = -np.mean(np.asarray(logprob, np.float64))
    stderr = np.std(np.asarray(logprob)) / math.sqrt(len(keys))
    assert abs(estimate - float(head.entropy(out))) < 5 * stderr  # 5 standard errors


def test_composite_kl_matches_numpy_and_monte_carlo():
    head = make_action_head(COMPOSITE)
    fp, sp = _head_inputs(4)
    fq, sq = _head_inputs(5)
    p, q = (jnp.asarray(fp), jnp.asarray(sp)), (jnp.asarray(fq), jnp.asarray(sq))
    kl = float(jax.jit(head.kl)(p, q))
    pa, mp, stdp, pm = _np_parts(fp.astype(np.float64), sp)
    qa, mq, stdq, qm = _np_parts(fq.astype(np.float64), sq)

    def cat_kl(lp, lq):
        pr = np.exp(lp)
        return np.sum(pr * np.where(pr > 0, lp - np.where(pr > 0, lq, 0.0), 0.0), axis=-1)

    gauss = np.sum(np.log(stdq / stdp) + (stdp**2 + (mp - mq) ** 2) / (2 * stdq**2) - 0.5)
    want = cat_kl(pa, qa) + gauss + cat_kl(pm, qm).sum()
    np.testing.assert_allclose(kl, want, rtol=1e-5, atol=1e-5)
    keys = jax.random.split(jax.random.PRNGKey(6), 20_000)
    diffs = np.asarray(jax.jit(jax.vmap(
        lambda k: (lambda a: head.logprob(a, p) - head.logprob(a, q))(head.sample(k, p))
    ))(keys), np.float64)
    assert abs(diffs.mean() - kl) < 5 * diffs.std() / math.sqrt(len(keys))


def test_single_leaves_are_exactly_the_ops_distributions():
    key = jax.random.PRNGKey(7)
    logits = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)), jnp.float32)
    head = make_action_head(specs.DiscreteArray(4))
    np.testing.assert_array_equal(head.sample(key, logits), ops.softmax().sample(key, logits))
    np.testing.assert_array_equal(head.entropy(logits), ops.softmax().entropy(logits))
    mean = logits[:, :3]
    log_std = jnp.asarray([0.1, -0.2, 0.3])
    g = make_action_head(specs.BoundedArray((3,), jnp.float32, -1.0, 1.0))
    std = jnp.broadcast_to(jnp.exp(log_std), mean.shape)
    want = ops.gaussian_diagonal().sample(key, mean, std)
    np.testing.assert_array_equal(g.sample(key, (mean, log_std)), want)
    np.testing.assert_array_equal(g.logprob(want, (mean, log_std)),
                                  ops.gaussian_diagonal().logprob(want, mean, std))
    np.testing.assert_array_equal(g.mode((mean, log_std)), jnp.clip(mean, -1.0, 1.0))


def test_tanh_leaf_density_is_the_change_of_variables():
    spec = specs.BoundedArray((1,), jnp.float32, -1.0, 3.0)
    head = make_action_head(spec, gaussian_bound="tanh")
    mean, log_std = jnp.asarray([[0.4]]), jnp.asarray([-0.3])
    # Samples stay inside the bounds.
    draws = jax.vmap(lambda k: head.sample(k, (mean, log_std)))(
        jax.random.split(jax.random.PRNGKey(0), 2000))
    assert float(draws.min()) > -1.0
    assert float(draws.max()) < 3.0
    # Density on a grid: p(a) = N(u; m, s) / |da/du|, u = atanh((a - low) / 2 - 1).
    a = np.linspace(-0.999, 2.999, 4001)
    y = (a + 1.0) / 2.0 - 1.0
    u = np.arctanh(y)
    s = np.exp(-0.3)
    want = _np_normal_logpdf(u, 0.4, s) - np.log(2.0 * (1.0 - y**2))
    got = jax.jit(jax.vmap(lambda x: head.logprob(x[None, None], (mean, log_std))[0]))(
        jnp.asarray(a, jnp.float32))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)  # float32 atanh near ±1
    assert abs(np.trapezoid(np.exp(want), a) - 1.0) < 1e-3  # it is a density
    np.testing.assert_allclose(head.mode((mean, log_std)), 1.0 + 2.0 * np.tanh(0.4), rtol=1e-6)


# ------------------------------------------------------------------ masks -----


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(st.integers(2, 6).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.booleans(), min_size=n, max_size=n),
                        st.integers(0, 2**31 - 1))))
def test_masked_actions_are_never_sampled_or_greedy(case):
    n, legal, seed = case
    hypothesis.assume(any(legal))
    mask = np.asarray(legal)
    head = make_action_head(specs.DiscreteArray(n), specs.Array((n,), jnp.bool_))
    rng = np.random.default_rng(seed)
    logits = (5.0 * rng.normal(size=(64, n))).astype(np.float32)
    logits[:, ~mask] += 20.0  # the network prefers the illegal actions
    masks = np.broadcast_to(mask, (64, n))
    sample, mode, entropy = _masked_fns(head)(jax.random.PRNGKey(seed % 1000),
                                              jnp.asarray(logits), jnp.asarray(masks))
    assert np.all(mask[np.asarray(sample)])
    assert np.all(mask[np.asarray(mode)])
    log_p = _np_log_softmax(np.where(mask, logits.astype(np.float64), -np.inf))
    np.testing.assert_allclose(entropy, _np_entropy(log_p), rtol=1e-4, atol=1e-5)


_FNS: dict = {}


def _masked_fns(head):
    """One jitted (sample, mode, entropy) per head size, reused across hypothesis examples."""
    if head.size not in _FNS:
        _FNS[head.size] = jax.jit(lambda k, lg, m: (
            jax.vmap(lambda kk, ll, mm: head.sample(kk, ll, mm))(
                jax.random.split(k, lg.shape[0]), lg, m),
            head.mode(lg, m), head.entropy(lg, m)))
    return _FNS[head.size]


def test_masked_probabilities_and_logprob(variant):
    head = make_action_head(specs.DiscreteArray(4), specs.Array((4,), jnp.bool_))
    logits = jnp.asarray([[0.0, 1.0, 2.0, 3.0], [3.0, 0.0, 0.0, 0.0]])
    mask = jnp.asarray([[True, True, False, False], [False, True, True, False]])
    lp = variant(lambda lg, m: jax.vmap(lambda a: head.logprob(a, lg, m))(jnp.arange(4)),
                 logits, mask)
    p = np.exp(np.asarray(lp))
    np.testing.assert_allclose(p[0], [1 / (1 + math.e), math.e / (1 + math.e), 0, 0], rtol=1e-6)
    np.testing.assert_allclose(p[1], [0, 0.5, 0.5, 0], rtol=1e-6)


def test_multi_discrete_mask_and_dict_mask():
    action = specs.Dict(move=specs.DiscreteArray(np.array([3, 3])),
                        speed=specs.Array((1,), jnp.float32))
    mask_spec = specs.Dict(move=specs.Array((2, 3), jnp.bool_))
    head = make_action_head(action, mask_spec)
    out = (jnp.zeros((head.size,)), jnp.zeros((head.log_std_size,)))
    mask = {"move": jnp.asarray([[False, False, True], [True, False, False]])}
    mode = head.mode(out, mask)
    np.testing.assert_array_equal(mode["move"], [2, 0])
    draws = jax.vmap(lambda k: head.sample(k, out, mask)["move"])(
        jax.random.split(jax.random.PRNGKey(0), 200))
    assert np.all(np.asarray(draws) == [2, 0])
    np.testing.assert_allclose(head.entropy(out, mask),
                               0.5 + 0.5 * math.log(2 * math.pi), rtol=1e-6)  # only the Gaussian


def test_split_observation():
    obs = specs.Dict(observation=specs.Array((3,), jnp.float32),
                     action_mask=specs.Array((2,), jnp.bool_))
    inner, mask = split_observation_spec(obs)
    assert inner == specs.Array((3,), jnp.float32)
    assert mask == specs.Array((2,), jnp.bool_)
    value = {"observation": jnp.ones(3), "action_mask": jnp.asarray([True, False])}
    got, m = split_observation(value, True)
    np.testing.assert_array_equal(got, jnp.ones(3))
    np.testing.assert_array_equal(m, [True, False])
    plain = specs.Array((3,), jnp.float32)
    assert split_observation_spec(plain) == (plain, None)


# -------------------------------------------------------------- bad input -----


def test_mask_of_wrong_shape_at_call_names_the_leaf():
    head = make_action_head(specs.DiscreteArray(4), specs.Array((4,), jnp.bool_))
    with pytest.raises(ValueError, match=r"mask of `action` has shape \(3,\).*expected bool \(4,\)"):
        head.sample(jax.random.PRNGKey(0), jnp.zeros(4), jnp.ones(3, bool))
    with pytest.raises(ValueError, match="dtype float32, expected bool"):
        head.entropy(jnp.zeros(4), jnp.ones(4))
    with pytest.raises(ValueError, match="pass `mask`"):
        head.entropy(jnp.zeros(4))


@pytest.mark.parametrize(("action", "mask", "match"), [
    (specs.DiscreteArray(4), specs.Array((5,), jnp.bool_),
     r"bool Array of shape \(4,\) for `action`"),
    (specs.Array((2,), jnp.float32), specs.Array((2,), jnp.bool_), "not a DiscreteArray"),
    (specs.Tuple(specs.DiscreteArray(2), specs.DiscreteArray(2)), specs.Array((2,), jnp.bool_),
     "single DiscreteArray action"),
    (specs.Dict(a=specs.DiscreteArray(2)), specs.Dict(b=specs.Array((2,), jnp.bool_)),
     r"keys \['b'\] that the action Dict lacks"),
])
def test_bad_mask_spec_raises(action, mask, match):
    with pytest.raises(ValueError, match=match):
        make_action_head(action, mask, algo="PPO")


@pytest.mark.parametrize(("action", "match"), [
    (specs.Dict(ok=specs.DiscreteArray(2), x=specs.Array((2,), jnp.bool_)), r"`action\['x'\]`"),
    (specs.Tuple(specs.BoundedArray((), jnp.int32, 0, 3)), r"`action\[0\]` has spec"),
    (specs.Batched(specs.DiscreteArray(2), 3), "must be unbatched"),
])
def test_unsupported_action_leaf_raises_naming_it(action, match):
    with pytest.raises(ValueError, match=match):
        make_action_head(action, algo="A2C")


def test_bad_gaussian_bound_raises():
    with pytest.raises(ValueError, match=r"`gaussian_bound` must be one of \['clip', 'tanh'\]"):
        make_action_head(specs.DiscreteArray(2), gaussian_bound="squash")


def test_wrong_action_structure_raises():
    head = make_action_head(COMPOSITE)
    flat, log_std = _head_inputs(0)
    with pytest.raises(ValueError, match="`action` has structure"):
        head.logprob({"a": 0}, (jnp.asarray(flat), jnp.asarray(log_std)))
