"""Probability distributions as named tuples of pure functions (rlax 0.1.9 family).

A distribution is a `DiscreteDistribution` or `ContinuousDistribution`: a
`NamedTuple` of functions that sample, evaluate the probability (mass or
density) and compute statistics, all taking the distribution's parameters
(``logits``, ``preferences``, ``mu``/``sigma``) as arrays. This matches rlax
0.1.9's `rlax.softmax`, `rlax.gaussian_diagonal`, … field for field and
number for number, but is written directly on `jax.nn` / `jax.random` with no
distrax or TFP dependency.

The Gaussian constructors live in `_gaussians.py` and return `ContinuousDistribution`.

Parameters may carry any leading batch shape: ``logits`` of shape ``[..., A]``
gives samples of shape ``[...]``. The pointwise functions
(`categorical_kl_divergence`, `categorical_cross_entropy`, …) also broadcast over
leading axes, so ``jax.vmap`` is needed only to map keys; for a batch-major
``[B, T, A]`` tensor use ``jax.vmap(f)``, for time-major ``[T, B, A]``
``jax.vmap(f, in_axes=1, out_axes=1)``.

Sampling uses the same JAX PRNG calls (same shapes, same keys) as distrax 0.1.x,
so with the same key a sample is identical to rlax's. Keys may be typed keys of
any implementation (``threefry2x32``, ``rbg``, ``unsafe_rbg``) or legacy
``uint32[2]`` keys.

References:
  Sutton & Barto, Reinforcement Learning: An Introduction, 2nd ed., 2018, §2.3
  (ε-greedy), §13.1 (softmax in action preferences); Haarnoja et al., "Soft
  Actor-Critic", 2018, appendix C (tanh-squashed Gaussian).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from jit_env.ops._base import check_dim, check_same_shape, validate

# ----------------------------------------------------------------------------
# Static (trace-time) argument checks shared by the family-B modules.
# ----------------------------------------------------------------------------


def _check_min_rank(fn: str, name: str, value: Any, min_rank: int) -> None:
    if np.ndim(value) < min_rank:
        raise ValueError(
            f"{fn}: `{name}` has rank {np.ndim(value)} (shape {tuple(np.shape(value))}), "
            f"expected rank >= {min_rank}"
        )


def _check_dims(fn: str, dims: Sequence[tuple[str, Any, int, str, Any, int]]) -> None:
    """Raises ValueError (via `check_dim`) if ``a.shape[ia] != b.shape[ib]`` for an entry."""
    for na, a, ia, nb, b, ib in dims:
        check_dim(fn, na, a, ia, np.shape(b)[ib], f"dimension {ib} of `{nb}`")


# ----------------------------------------------------------------------------
# Distribution containers.
# ----------------------------------------------------------------------------


class DiscreteDistribution(NamedTuple):
    """A categorical distribution as pure functions (rlax 0.1.9 `DiscreteDistribution`).

    Fields (``params`` are ``logits`` or ``preferences`` of shape ``[..., A]``):
      sample: ``(key, params) -> int32[...]``; ``-1`` for a row whose
        probabilities are not a distribution (NaN logits, see `softmax`).
      probs: ``(params) -> float[..., A]``.
      logprob: ``(sample, params) -> float[...]``; ``-inf`` outside ``{0..A-1}``.
      entropy: ``(params) -> float[...]`` in nats.
      kl: ``(p_params, q_params) -> float[...]`` or ``None`` where rlax has none.
    """

    sample: Callable[..., jax.Array]
    probs: Callable[..., jax.Array]
    logprob: Callable[..., jax.Array]
    entropy: Callable[..., jax.Array]
    kl: Callable[..., jax.Array] | None


class ContinuousDistribution(NamedTuple):
    """A continuous distribution as pure functions (rlax 0.1.9 `ContinuousDistribution`).

    Fields (``mu``, ``sigma`` of shape ``[..., D]``):
      sample: ``(key, mu, sigma, …) -> float[..., D]``.
      prob: ``(sample, mu, sigma, …) -> float[...]`` (density).
      logprob: ``(sample, mu, sigma, …) -> float[...]``.
      entropy: ``(mu, sigma) -> float[...]`` in nats.
      kl_to_standard_normal: ``(mu, sigma) -> float[...]``.
      kl: ``(mu_0, sigma_0, mu_1, sigma_1) -> float[...]``.
    """

    sample: Callable[..., jax.Array]
    prob: Callable[..., jax.Array]
    logprob: Callable[..., jax.Array]
    entropy: Callable[..., jax.Array]
    kl_to_standard_normal: Callable[..., jax.Array]
    kl: Callable[..., jax.Array]


# ----------------------------------------------------------------------------
# Categorical primitives (logits- or probs-parameterised).
# ----------------------------------------------------------------------------


def _sample_categorical(fn: str, key: Any, log_probs: jax.Array, probs: jax.Array) -> jax.Array:
    """One draw per batch element; ``-1`` where ``probs`` is not a distribution.

    Gives what ``jax.random.categorical(key, log_probs, shape=(1, *batch))[0]``
    gives — distrax's ``Categorical.sample(seed=key)`` — bit for bit: the argmax
    of ``log_probs`` plus Gumbel noise, with the noise drawn *flat* (``[N]``)
    and reshaped. A flat draw has the same bits (the counters are the
    row-major indices either way) but XLA:CPU compiles the threefry kernel of a
    rank-1 draw about twice as fast as that of a rank-2 one (≈ 0.1 s less per
    call site with ``jax_threefry_partitionable``, JAX's default).

    Invalid rows (any probability non-finite or negative: NaN or ``+inf``
    logits) give ``-1``, as distrax 0.1.9 ``Categorical._sample_n``
    (``distrax/_src/distributions/categorical.py``: ``jnp.where(is_valid,
    draws, -1)``), so samples stay equal to rlax's. The value is defined but
    not silent: a ``checkify.debug_check`` fires for it under
    ``checkify.checkify(f, errors=checkify.user_checks)`` (a no-op otherwise),
    ``logprob(-1, ...)`` is ``-inf``, and `jit_env.wrappers.ValidateAction`
    rejects ``-1`` as an action.
    """
    _check_min_rank(fn, "logits" if fn != "categorical_sample" else "probs", log_probs, 1)
    noise = jax.random.gumbel(key, (log_probs.size,), log_probs.dtype)
    draws = jnp.argmax(noise.reshape(log_probs.shape) + log_probs, axis=-1)
    draws = draws.astype(jnp.int32)
    valid = jnp.logical_and(jnp.all(jnp.isfinite(probs), axis=-1), jnp.all(probs >= 0, axis=-1))
    checkify.debug_check(
        jnp.all(valid),
        f"{fn}: {{}} of {valid.size} rows of probabilities are not a distribution "
        "(non-finite or negative, e.g. NaN logits); their samples are -1",
        jnp.sum(~valid),
    )
    return jnp.where(valid, draws, -jnp.ones_like(draws))


def _logprob_categorical(sample: Any, log_probs: jax.Array) -> jax.Array:
    num = log_probs.shape[-1]
    sample = jnp.asarray(sample)
    outside = jnp.logical_or(sample < 0, sample > num - 1)
    onehot = jax.nn.one_hot(sample, num, dtype=log_probs.dtype)
    picked = jnp.sum(jnp.where(onehot == 0, jnp.zeros((), log_probs.dtype), log_probs * onehot),
                     axis=-1)
    return jnp.where(outside, -jnp.inf, picked)


def _entropy_from_log_probs(log_probs: jax.Array) -> jax.Array:
    p = jnp.exp(log_probs)
    return -jnp.sum(jnp.where(p == 0, 0.0, log_probs) * p, axis=-1)


def _check_logits(fn: str, name: str, x: Any) -> None:
    _check_min_rank(fn, name, x, 1)
    validate(fn, *[(name, x, None, "float")])


def _normalise_probs(probs: jax.Array) -> jax.Array:
    return probs / jnp.sum(probs, axis=-1, keepdims=True)


def _greedy_probs(preferences: jax.Array, epsilon: Any = None) -> jax.Array:
    best = preferences == jnp.max(preferences, axis=-1, keepdims=True)
    probs = best / jnp.sum(best, axis=-1, keepdims=True)
    if epsilon is not None:
        probs = (1 - epsilon) * probs + epsilon * (jnp.ones_like(probs) / probs.shape[-1])
    return _normalise_probs(probs)


def softmax(temperature: float = 1.0) -> DiscreteDistribution:
    """A softmax (Boltzmann) distribution over actions, parameterised by logits.

    ``π(a) = exp(l_a / τ) / Σ_b exp(l_b / τ)`` with temperature ``τ``.

    Args:
      temperature: τ > 0, scalar.

    Returns:
      `DiscreteDistribution` whose functions take ``logits`` of shape ``[..., A]``
      (floating): ``sample(key, logits) -> int32[...]``, ``probs(logits)``,
      ``logprob(sample, logits)``, ``entropy(logits)``, ``kl(p_logits, q_logits)``.

    Raises:
      ValueError: if ``logits`` has rank 0.
      TypeError: if it is not floating.

    Non-finite logits: a row with a NaN or ``+inf`` logit has NaN
    probabilities; ``sample`` returns ``-1`` for it (distrax's value, so
    samples stay equal to rlax's) and, under ``checkify.checkify(...,
    errors=checkify.user_checks)``, reports an error naming the number of
    such rows (``err.throw()`` raises ``checkify.JaxRuntimeError``); ``-inf``
    logits are fine (probability 0).

    Matches rlax 0.1.9 `rlax.softmax` (distrax ``Softmax``); samples are equal
    for equal keys.
    """

    def sample_fn(key: Any, logits: Any) -> Any:
        _check_logits("softmax.sample", "logits", logits)
        log_probs = jax.nn.log_softmax(logits / temperature, axis=-1)
        return _sample_categorical("softmax.sample", key, log_probs, jnp.exp(log_probs))

    def probs_fn(logits: Any) -> Any:
        _check_logits("softmax.probs", "logits", logits)
        return jax.nn.softmax(logits / temperature, axis=-1)

    def logprob_fn(sample: Any, logits: Any) -> Any:
        _check_logits("softmax.logprob", "logits", logits)
        return _logprob_categorical(sample, jax.nn.log_softmax(logits / temperature, axis=-1))

    def entropy_fn(logits: Any) -> Any:
        _check_logits("softmax.entropy", "logits", logits)
        return _entropy_from_log_probs(jax.nn.log_softmax(logits / temperature, axis=-1))

    def kl_fn(p_logits: Any, q_logits: Any) -> Any:
        return categorical_kl_divergence(p_logits, q_logits, temperature)

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, kl_fn)


def clipped_entropy_softmax(
    temperature: float = 1.0, entropy_clip: float = 1.0
) -> DiscreteDistribution:
    """A softmax distribution whose entropy is clipped at ``entropy_clip * log(A)``.

    ``entropy_clip = 1`` is the maximum entropy of ``A`` actions, i.e. no clipping.

    Args:
      temperature: τ > 0, scalar.
      entropy_clip: fraction of the maximum entropy ``log A`` at which to clip.

    Returns:
      `DiscreteDistribution` as `softmax`; ``sample``, ``probs`` and ``logprob``
      accept (and ignore) a trailing ``action_spec=None`` as rlax's do.

    Raises:
      ValueError / TypeError: as `softmax`.

    Matches rlax 0.1.9 `rlax.clipped_entropy_softmax`.
    """
    base = softmax(temperature)

    def sample_fn(key: Any, logits: Any, action_spec: Any = None) -> Any:
        del action_spec
        return base.sample(key, logits)

    def probs_fn(logits: Any, action_spec: Any = None) -> Any:
        del action_spec
        return base.probs(logits)

    def logprob_fn(sample: Any, logits: Any, action_spec: Any = None) -> Any:
        del action_spec
        return base.logprob(sample, logits)

    def entropy_fn(logits: Any) -> Any:
        return jnp.minimum(base.entropy(logits), entropy_clip * jnp.log(logits.shape[-1]))

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, base.kl)


def greedy() -> DiscreteDistribution:
    """The greedy distribution: uniform over the maximisers of ``preferences``.

    Returns:
      `DiscreteDistribution` whose functions take ``preferences`` ``[..., A]``
      (any real dtype): ``sample(key, preferences)``, ``probs``, ``logprob``
      (``-inf`` for non-greedy actions), ``entropy``; ``kl`` is ``None`` (as rlax).

    Raises:
      ValueError: if ``preferences`` has rank 0.

    Matches rlax 0.1.9 `rlax.greedy` (distrax ``Greedy``); samples equal for equal keys.
    """

    def sample_fn(key: Any, preferences: Any) -> Any:
        _check_min_rank("greedy.sample", "preferences", preferences, 1)
        probs = _greedy_probs(jnp.asarray(preferences))
        return _sample_categorical("greedy.sample", key, jnp.log(probs), probs)

    def probs_fn(preferences: Any) -> Any:
        _check_min_rank("greedy.probs", "preferences", preferences, 1)
        return _greedy_probs(jnp.asarray(preferences))

    def logprob_fn(sample: Any, preferences: Any) -> Any:
        _check_min_rank("greedy.logprob", "preferences", preferences, 1)
        return _logprob_categorical(sample, jnp.log(_greedy_probs(jnp.asarray(preferences))))

    def entropy_fn(preferences: Any) -> Any:
        _check_min_rank("greedy.entropy", "preferences", preferences, 1)
        return _entropy_from_log_probs(jnp.log(_greedy_probs(jnp.asarray(preferences))))

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, None)


def epsilon_greedy(epsilon: float | None = None) -> DiscreteDistribution:
    """The ε-greedy distribution: ``(1 − ε) · greedy + ε · uniform``.

    Args:
      epsilon: default ε in [0, 1]; each function also takes ``epsilon=`` (scalar
        or array broadcastable to ``[..., 1]``) overriding it.

    Returns:
      `DiscreteDistribution` whose functions take ``preferences`` ``[..., A]``:
      ``sample(key, preferences, epsilon=…)``, ``probs``, ``logprob``, ``entropy``;
      ``kl`` is ``None`` (as rlax).

    Raises:
      ValueError: if ``preferences`` has rank 0, or no ε is given at all.

    Matches rlax 0.1.9 `rlax.epsilon_greedy` (distrax ``EpsilonGreedy``).
    """

    def _probs(fn: str, preferences: Any, eps: Any) -> Any:
        _check_min_rank(fn, "preferences", preferences, 1)
        if eps is None:
            raise ValueError(f"{fn}: `epsilon` is None; pass it to epsilon_greedy() or here")
        return _greedy_probs(jnp.asarray(preferences), eps)

    def sample_fn(key: Any, preferences: Any, epsilon: Any = epsilon) -> Any:
        probs = _probs("epsilon_greedy.sample", preferences, epsilon)
        return _sample_categorical("epsilon_greedy.sample", key, jnp.log(probs), probs)

    def probs_fn(preferences: Any, epsilon: Any = epsilon) -> Any:
        return _probs("epsilon_greedy.probs", preferences, epsilon)

    def logprob_fn(sample: Any, preferences: Any, epsilon: Any = epsilon) -> Any:
        probs = _probs("epsilon_greedy.logprob", preferences, epsilon)
        return _logprob_categorical(sample, jnp.log(probs))

    def entropy_fn(preferences: Any, epsilon: Any = epsilon) -> Any:
        return _entropy_from_log_probs(
            jnp.log(_probs("epsilon_greedy.entropy", preferences, epsilon))
        )

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, None)


def categorical_sample(key: Any, probs: jax.Array) -> jax.Array:
    """Samples one category per batch element from probabilities.

    Args:
      key: PRNG key (typed key of any impl, or legacy ``uint32[2]``).
      probs: non-negative weights ``[..., A]`` (normalised internally), floating.

    Returns:
      int32 ``[...]``; ``-1`` where a row has a negative or non-finite weight.

    Raises:
      ValueError: if ``probs`` has rank 0.

    Matches rlax 0.1.9 `rlax.categorical_sample` (distrax ``Categorical(probs=)``).
    """
    _check_min_rank("categorical_sample", "probs", probs, 1)
    probs = _normalise_probs(jnp.asarray(probs))
    return _sample_categorical("categorical_sample", key, jnp.log(probs), probs)


def categorical_importance_sampling_ratios(
    pi_logits_t: jax.Array, mu_logits_t: jax.Array, a_t: jax.Array
) -> jax.Array:
    """Importance sampling ratios ``π(a_t) / μ(a_t)`` from logits.

    Args:
      pi_logits_t: target-policy logits ``[..., A]``, floating.
      mu_logits_t: behaviour-policy logits ``[..., A]``, floating.
      a_t: actions ``[...]``, integer.

    Returns:
      ratios ``[...]``, floating.

    Raises:
      ValueError: if shapes disagree.
      TypeError: on non-floating logits / non-int actions.

    Matches rlax 0.1.9 `rlax.categorical_importance_sampling_ratios`.
    """
    fn = "categorical_importance_sampling_ratios"
    _check_logits(fn, "pi_logits_t", pi_logits_t)
    check_same_shape(fn, ("pi_logits_t", pi_logits_t), ("mu_logits_t", mu_logits_t))
    validate(fn, *[("mu_logits_t", mu_logits_t, None, "float"),
                   ("a_t", a_t, np.ndim(pi_logits_t) - 1, "int")])
    log_pi = _logprob_categorical(a_t, jax.nn.log_softmax(pi_logits_t, axis=-1))
    log_mu = _logprob_categorical(a_t, jax.nn.log_softmax(mu_logits_t, axis=-1))
    return jnp.exp(log_pi - log_mu)


def categorical_cross_entropy(labels: jax.Array, logits: jax.Array) -> jax.Array:
    """Cross entropy ``H(p, q) = −Σ_i p_i log softmax(logits)_i``.

    ``labels`` are normalised to sum to one over the last axis (as distrax's
    ``Categorical(probs=labels)`` does); zero labels contribute zero even where
    the log-probability is ``-inf``.

    Args:
      labels: probabilities ``[..., A]``, floating, non-negative.
      logits: unnormalised log-probabilities ``[..., A]``, floating.

    Returns:
      cross entropy ``[...]``.

    Raises:
      ValueError: if the shapes differ.
      TypeError: on non-floating inputs.

    Matches rlax 0.1.9 `rlax.categorical_cross_entropy` in value; its gradient
    w.r.t. ``labels`` stays finite where a label is 0 (rlax's is NaN there).
    Goodfellow et al.,
    Deep Learning, 2016, §3.13.
    """
    fn = "categorical_cross_entropy"
    _check_logits(fn, "labels", labels)
    check_same_shape(fn, ("labels", labels), ("logits", logits))
    validate(fn, *[("logits", logits, None, "float")])
    p = _normalise_probs(labels)
    log_q = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.where(p == 0, 0.0, log_q) * p, axis=-1)


def categorical_kl_divergence(
    p_logits: jax.Array, q_logits: jax.Array, temperature: float = 1.0
) -> jax.Array:
    """``KL(p ‖ q)`` between two softmax distributions given by logits.

    ``Σ_i p_i (log p_i − log q_i)`` with ``p = softmax(p_logits / τ)``,
    ``q = softmax(q_logits / τ)``; terms with ``p_i = 0`` are zero.

    Args:
      p_logits: ``[..., A]``, floating.
      q_logits: ``[..., A]``, floating.
      temperature: τ > 0.

    Returns:
      KL divergence ``[...]``, ≥ 0, in nats.

    Raises:
      ValueError: if the shapes differ.
      TypeError: on non-floating inputs.

    Matches rlax 0.1.9 `rlax.categorical_kl_divergence`.
    """
    fn = "categorical_kl_divergence"
    _check_logits(fn, "p_logits", p_logits)
    check_same_shape(fn, ("p_logits", p_logits), ("q_logits", q_logits))
    validate(fn, *[("q_logits", q_logits, None, "float")])
    log_p = jax.nn.log_softmax(p_logits / temperature, axis=-1)
    log_q = jax.nn.log_softmax(q_logits / temperature, axis=-1)
    p = jnp.exp(log_p)
    return jnp.sum(jnp.where(p == 0, 0.0, log_p - log_q) * p, axis=-1)
