"""Tests for jit_env.ops distributions, against rlax 0.1.9 (the reference implementation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.experimental import checkify

from jit_env import ops

B, A, D = 3, 4, 2
# float32 with one softmax / log-sum-exp and a reduction over <= 4 terms: a few ulps.
RTOL, ATOL = 1e-5, 1e-6


def _reference(fn, *batched):
    fn = jax.jit(fn)  # compiled once: rlax eagerly is slow
    outs = [fn(*(a[i] for a in batched)) for i in range(len(batched[0]))]
    return jax.tree.map(lambda *xs: np.stack(xs), *outs)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _logits(rng, *shape):
    return jnp.asarray(rng.normal(size=shape) * 2, jnp.float32)


KEYS = jax.random.split(jax.random.PRNGKey(42), B)  # legacy uint32 keys: rlax/distrax take them


DISCRETE = {
    "softmax": lambda m: m.softmax(0.7),
    "clipped_entropy_softmax": lambda m: m.clipped_entropy_softmax(1.3, 0.5),
    "greedy": lambda m: m.greedy(),
    "epsilon_greedy": lambda m: m.epsilon_greedy(0.2),
}


def _discrete_outputs(dist):
    def f(key, logits, other, a):
        out = {
            "sample": dist.sample(key, logits),
            "probs": dist.probs(logits),
            "logprob": dist.logprob(a, logits),
            "entropy": dist.entropy(logits),
        }
        if dist.kl is not None:
            out["kl"] = dist.kl(logits, other)
        return out

    return f


def _all_discrete_outputs(m):
    # One function for all four distributions: one compile per variant instead of four.
    fns = {name: _discrete_outputs(make(m)) for name, make in DISCRETE.items()}
    return lambda *args: {name: f(*args) for name, f in fns.items()}


def test_discrete_distributions_match_rlax(variant):
    rng = _rng(1)
    logits = _logits(rng, B, A).at[0, 1].set(5.0).at[0, 2].set(5.0)  # a tie for greedy
    other = _logits(rng, B, A)
    a = jnp.asarray([1, 3, 0], jnp.int32)
    ours_all = variant(_all_discrete_outputs(ops), KEYS, logits, other, a)
    ref_all = _reference(_all_discrete_outputs(rlax), KEYS, logits, other, a)
    for name in DISCRETE:
        ours, ref = ours_all[name], ref_all[name]
        assert ours.keys() == ref.keys()
        # same PRNG calls: bitwise equal samples
        np.testing.assert_array_equal(ours["sample"], ref["sample"], err_msg=name)
        assert ours["sample"].dtype == jnp.int32
        for k in ours:
            np.testing.assert_allclose(ours[k], ref[k], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}.{k}")


def test_discrete_field_names_match_rlax():
    assert ops.DiscreteDistribution._fields == rlax.softmax()._fields
    assert ops.ContinuousDistribution._fields == rlax.gaussian_diagonal()._fields
    assert ops.greedy().kl is None
    assert ops.epsilon_greedy(0.1).kl is None


def test_epsilon_override_and_missing():
    prefs = jnp.asarray([0.0, 1.0, 0.5])
    np.testing.assert_allclose(ops.epsilon_greedy().probs(prefs, epsilon=0.3),
                               [0.1, 0.8, 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        ops.epsilon_greedy().probs(prefs)


def test_logprob_outside_support_is_minus_inf():
    logits = jnp.zeros((2, A))
    lp = ops.softmax().logprob(jnp.asarray([-1, A]), logits)
    assert np.all(np.isneginf(lp))


def _gauss_outputs(dist, squashed):
    def f(key, mu, sigma, mu1, sigma1):
        extra = (None,) if squashed else ()
        x = dist.sample(key, mu, sigma, *extra)
        return {
            "sample": x,
            "logprob": dist.logprob(x, mu, sigma, *extra),
            "prob": dist.prob(x, mu, sigma, *extra),
            "entropy": dist.entropy(mu, sigma),
            "kl_to_standard_normal": dist.kl_to_standard_normal(mu, sigma),
            "kl": dist.kl(mu, sigma, mu1, sigma1),
        }

    return f


def _all_gauss_outputs(m):
    # Both distributions in one function: one compile per variant.
    diag, squashed = _gauss_outputs(m.gaussian_diagonal(), False), _gauss_outputs(
        m.squashed_gaussian(), True)

    def f(key, mu, sigma, mu1, sigma1, pre, pre1):
        # squashed_gaussian takes unconstrained pre-activations `pre` for sigma.
        return {"diag": diag(key, mu, sigma, mu1, sigma1),
                "squashed": squashed(key, mu, pre, mu1, pre1)}

    return f


def test_continuous_distributions_match_rlax(variant):
    rng = _rng(2)
    args = (KEYS, _logits(rng, B, D) * 0.3, jnp.asarray(rng.uniform(0.5, 2.0, (B, D)), jnp.float32),
            _logits(rng, B, D) * 0.3, jnp.asarray(rng.uniform(0.5, 2.0, (B, D)), jnp.float32),
            _logits(rng, B, D), _logits(rng, B, D))
    ours = variant(_all_gauss_outputs(ops), *args)
    ref = _reference(_all_gauss_outputs(rlax), *args)
    for name in ours:
        for k in ours[name]:
            # tanh⁻¹ of a squashed sample amplifies ulp errors near ±1; 1e-5 covers it.
            np.testing.assert_allclose(ours[name][k], ref[name][k], rtol=RTOL, atol=1e-5,
                                       err_msg=f"{name}.{k}")


def test_squashed_gaussian_action_spec_matches_rlax():
    class Spec:
        minimum = np.asarray([-2.0, 0.0], np.float32)
        maximum = np.asarray([1.0, 3.0], np.float32)

    rng = _rng(3)
    mu, sigma = _logits(rng, D) * 0.3, _logits(rng, D)
    ours, ref = ops.squashed_gaussian(), rlax.squashed_gaussian()
    x = ours.sample(KEYS[0], mu, sigma, Spec)
    np.testing.assert_allclose(x, ref.sample(KEYS[0], mu, sigma, Spec), rtol=1e-6)
    assert np.all((x >= Spec.minimum) & (x <= Spec.maximum))
    np.testing.assert_allclose(ours.logprob(x, mu, sigma, Spec), ref.logprob(x, mu, sigma, Spec),
                               rtol=RTOL, atol=1e-5)


def test_gaussian_default_sigma_and_scalar_sigma():
    mu = jnp.asarray([0.5, -1.0])
    x = jnp.asarray([0.0, 0.0])
    np.testing.assert_allclose(ops.gaussian_diagonal(0.5).logprob(x, mu),
                               rlax.gaussian_diagonal(0.5).logprob(x, mu), rtol=RTOL)
    with pytest.raises(ValueError, match="sigma"):
        ops.gaussian_diagonal().entropy(mu)


def _pointwise_outputs(m):
    def f(key, logits, other, a, mu0, s0, mu1, s1):
        probs = jax.nn.softmax(logits)
        return {
            "categorical_sample": m.categorical_sample(key, probs),
            "is_ratios": m.categorical_importance_sampling_ratios(logits, other, a),
            "cross_entropy": m.categorical_cross_entropy(probs, other),
            "kl": m.categorical_kl_divergence(logits, other, 2.0),
            "mvn_kl": m.multivariate_normal_kl_divergence(mu0, s0, mu1, s1),
        }

    return f


def test_pointwise_functions_match_rlax(variant):
    rng = _rng(4)
    args = (KEYS, _logits(rng, B, A), _logits(rng, B, A), jnp.asarray([0, 2, 3], jnp.int32),
            _logits(rng, B, D), jnp.asarray(rng.uniform(0.5, 2, (B, D)), jnp.float32),
            _logits(rng, B, D), jnp.asarray(rng.uniform(0.5, 2, (B, D)), jnp.float32))
    ours = variant(_pointwise_outputs(ops), *args)
    ref = _reference(_pointwise_outputs(rlax), *args)
    np.testing.assert_array_equal(ours["categorical_sample"], ref["categorical_sample"])
    for k in ours:
        np.testing.assert_allclose(ours[k], ref[k], rtol=RTOL, atol=ATOL, err_msg=k)


def test_cross_entropy_zero_labels_and_invalid_probs():
    labels = jnp.asarray([0.0, 1.0, 0.0])
    logits = jnp.asarray([-jnp.inf, 0.0, 0.0])
    np.testing.assert_allclose(ops.categorical_cross_entropy(labels, logits), np.log(2.0),
                               rtol=1e-6)
    bad = jnp.asarray([[0.5, jnp.nan], [0.2, 0.8]])
    draws = ops.categorical_sample(jax.random.PRNGKey(0), bad)
    assert draws[0] == -1
    assert draws[1] in (0, 1)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg", "legacy"])
def test_sampling_is_deterministic_and_in_support(impl):
    key = jax.random.PRNGKey(7) if impl == "legacy" else jax.random.key(7, impl=impl)
    logits = jnp.zeros((64, A))
    dist = ops.softmax()
    s1, s2 = dist.sample(key, logits), jax.jit(dist.sample)(key, logits)
    np.testing.assert_array_equal(s1, s2)
    assert s1.shape == (64,)
    assert np.all((s1 >= 0) & (s1 < A))
    assert len(np.unique(s1)) > 1  # uniform logits: 64 equal draws has probability 4^-63
    x1 = ops.gaussian_diagonal(1.0).sample(key, jnp.zeros((64, D)))
    np.testing.assert_array_equal(x1, ops.gaussian_diagonal(1.0).sample(key, jnp.zeros((64, D))))


def test_sample_frequencies_match_probs():
    n = 20_000
    logits = jnp.asarray([1.0, 0.0, -1.0, 2.0])
    keys = jax.random.split(jax.random.key(0), n)
    dist = ops.softmax(0.5)
    draws = np.asarray(jax.jit(jax.vmap(dist.sample, in_axes=(0, None)))(keys, logits))
    freq = np.bincount(draws, minlength=A) / n
    p = np.asarray(dist.probs(logits))
    # 5 binomial standard deviations: a false failure has probability < 1e-5.
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-12)
    x = jax.jit(jax.vmap(ops.gaussian_diagonal().sample, in_axes=(0, None, None)))(
        keys, jnp.asarray([1.0, -2.0]), jnp.asarray([0.5, 2.0]))
    # Mean error of n normals: σ/√n; 5σ bound as above.
    np.testing.assert_array_less(np.abs(x.mean(0) - np.asarray([1.0, -2.0])),
                                 5 * np.asarray([0.5, 2.0]) / np.sqrt(n))
    np.testing.assert_allclose(x.std(0), [0.5, 2.0], rtol=0.05)


_logits_strategy = hnp.arrays(np.float32, (A,), elements=st.floats(-20, 20, width=32))

_softmax = ops.softmax()
_jit_all_logprobs = jax.jit(
    lambda lg: _softmax.logprob(jnp.arange(A), jnp.broadcast_to(lg, (A, A))))
_jit_probs = jax.jit(_softmax.probs)
_jit_kl = jax.jit(_softmax.kl)
_jit_entropy = jax.jit(_softmax.entropy)
_jit_mvn_kl = jax.jit(ops.multivariate_normal_kl_divergence)


@settings(max_examples=25, deadline=None)
@given(_logits_strategy, _logits_strategy)
def test_softmax_laws(l1, l2):
    # logprob = log probs; Σ probs = 1; KL(p, p) = 0; KL ≥ 0; 0 ≤ H ≤ log A.
    np.testing.assert_allclose(np.exp(_jit_all_logprobs(l1)), _jit_probs(l1), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(np.sum(_jit_probs(l1)), 1.0, rtol=1e-6)
    assert abs(float(_jit_kl(l1, l1))) < 1e-6
    assert float(_jit_kl(l1, l2)) >= -1e-6
    assert -1e-6 <= float(_jit_entropy(l1)) <= np.log(A) + 1e-6


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float32, (D,), elements=st.floats(-5, 5, width=32)),
       hnp.arrays(np.float32, (D,), elements=st.floats(0.125, 5, width=32)))
def test_mvn_kl_to_itself_is_zero(mu, sigma):
    assert abs(float(_jit_mvn_kl(mu, sigma, mu, sigma))) < 1e-5


def test_bad_inputs_raise_naming_the_argument(wrap):
    with pytest.raises(ValueError, match="`logits`.*rank 0"):
        wrap(ops.softmax().probs)(jnp.float32(1.0))
    with pytest.raises(TypeError, match="`logits`.*int32"):
        wrap(ops.softmax().entropy)(jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="`q_logits`.*shape \\(4,\\)"):
        wrap(ops.categorical_kl_divergence)(jnp.zeros(3), jnp.zeros(4))
    with pytest.raises(TypeError, match="`a_t`"):
        wrap(ops.categorical_importance_sampling_ratios)(jnp.zeros(3), jnp.zeros(3),
                                                          jnp.float32(1.0))
    with pytest.raises(ValueError, match="`sigma_1`"):
        wrap(ops.multivariate_normal_kl_divergence)(jnp.zeros(2), jnp.ones(2), jnp.zeros(2),
                                                    jnp.ones(3))
    with pytest.raises(ValueError, match="`mu`"):
        wrap(ops.gaussian_diagonal(1.0).entropy)(jnp.float32(0.0))


# --------------------------------------------- sampling from non-finite logits


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_softmax_sample_of_non_finite_logits_is_minus_one_and_checkified(bad):
    """distrax 0.1.9's value (``Categorical._sample_n``: -1 where probs are not a
    distribution), kept for rlax parity, and loud under checkify."""
    key = jax.random.key(3)
    logits = jnp.array([[bad, 0.0, 1.0], [0.0, 1.0, 2.0]], jnp.float32)
    dist = ops.softmax()
    sample = dist.sample(key, logits)
    assert int(sample[0]) == -1
    assert 0 <= int(sample[1]) < 3
    assert int(rlax.softmax().sample(key, logits)[0]) == -1  # rlax (distrax) agrees
    assert float(dist.logprob(sample, logits)[0]) == -np.inf
    err, out = jax.jit(checkify.checkify(dist.sample, errors=checkify.user_checks))(key, logits)
    np.testing.assert_array_equal(out, sample)
    assert err.get().startswith(
        "softmax.sample: 1 of 2 rows of probabilities are not a distribution"
    )
    err, _ = checkify.checkify(jax.vmap(dist.sample), errors=checkify.user_checks)(
        jax.random.split(key, 2), logits
    )
    assert "softmax.sample: 1 of 1 rows" in err.get()  # per batch element under vmap
    ok, _ = checkify.checkify(dist.sample, errors=checkify.user_checks)(key, logits[1:])
    assert ok.get() is None
    assert int(jax.jit(dist.sample)(key, logits)[0]) == -1  # without checkify: no error


def test_minus_inf_logits_are_a_distribution():
    logits = jnp.array([-jnp.inf, 0.0, -jnp.inf])
    err, out = checkify.checkify(ops.softmax().sample, errors=checkify.user_checks)(
        jax.random.key(0), logits
    )
    assert err.get() is None
    assert int(out) == 1


def test_categorical_sample_of_nan_probs_is_minus_one():
    probs = jnp.array([jnp.nan, 0.5])
    assert int(ops.categorical_sample(jax.random.key(0), probs)) == -1
    err, _ = checkify.checkify(ops.categorical_sample, errors=checkify.user_checks)(
        jax.random.key(0), probs
    )
    assert err.get().startswith("categorical_sample: 1 of 1 rows")
