"""rlax 0.1.9's whole surface: the names the first round missed, against rlax itself.

Covers `knn_query`, `episodic_memory_intrinsic_rewards`, `embed_oar`, the module-level
functions users import from rlax's modules (``multistep.importance_corrected_td_errors``,
``mpo_ops.kl_alpha_loss`` / ``kl_constraint_loss`` / ``get_top_k_weights``,
``nonlinear_bellman.transform_values``, ``transforms.hyperbolic_*`` / ``*_2hot_nonlinear``),
and the behaviours that differed: traced atom supports and derivatives of the categorical
family, integer Pop-Art targets, ``zero_policy_targets(weights_scale=)``.
"""

from __future__ import annotations

import importlib

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from rlax._src import mpo_ops as rlax_mpo
from rlax._src import multistep as rlax_multistep
from rlax._src import nonlinear_bellman as rlax_nb
from rlax._src import transforms as rlax_transforms

from jit_env import ops

# float32 inputs of O(1), at most T = 6 accumulated terms: a few ulps.
RTOL, ATOL = 1e-5, 1e-6


def _assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=rtol, atol=atol),
                 actual, expected)


def test_every_public_rlax_name_and_module_function_is_here():
    public = {n for n in dir(rlax) if not n.startswith("_")} - {"Array"}
    assert public - set(ops.__all__) == set()
    module_functions = {
        "multistep": ["importance_corrected_td_errors"],
        "mpo_ops": ["get_top_k_weights", "kl_constraint_loss", "kl_alpha_loss", "MpoOutputs"],
        "nonlinear_bellman": ["transform_values"],
        "transforms": ["hyperbolic_sin", "hyperbolic_arcsin", "transform_to_2hot_nonlinear",
                       "transform_from_2hot_nonlinear"],
        "episodic_memory": ["knn_query", "KNNQueryResult"],
        "exploration": ["episodic_memory_intrinsic_rewards", "IntrinsicRewardState"],
        "embedding": ["embed_oar"],
    }
    for module, names in module_functions.items():
        mod = importlib.import_module(f"rlax._src.{module}")
        for name in names:
            assert hasattr(mod, name), (module, name)  # the reference really has it
            assert name in ops.__all__, name


# --- episodic memory ------------------------------------------------------------------------

def _np_knn(data, queries, k):
    """NumPy: squared distances of every pair, k smallest per query (stable order)."""
    d2 = ((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return data[idx], idx, -np.take_along_axis(d2, idx, 1)


def test_knn_query_matches_numpy_and_rlax(variant):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 10, 4)).astype(np.float32)
    queries = rng.normal(size=(3, 5, 4)).astype(np.float32)
    out = variant(lambda d, q: ops.knn_query(d, q, 3), data, queries)
    ref = jax.vmap(lambda d, q: rlax.knn_query(d, q, 3))(data, queries)
    for b in range(3):
        neighbours, idx, neg = _np_knn(data[b], queries[b], 3)
        np.testing.assert_array_equal(out.neighbor_indices[b], idx)
        np.testing.assert_allclose(out.neighbors[b], neighbours)
        np.testing.assert_allclose(out.neighbor_neg_distances[b], neg, rtol=RTOL, atol=1e-5)
    _assert_close((out.neighbors, out.neighbor_indices, out.neighbor_neg_distances),
           (ref.neighbors, ref.neighbor_indices, ref.neighbor_neg_distances))
    assert type(out).__name__ == "KNNQueryResult"


def test_knn_query_caps_k_and_takes_a_metric():
    data = jnp.arange(6.0).reshape(3, 2)
    out = ops.knn_query(data, data[:1], 10, metric=lambda x, y: jnp.sum(jnp.abs(x - y)))
    np.testing.assert_array_equal(out.neighbor_indices, [[0, 1, 2]])  # K = N = 3
    np.testing.assert_allclose(out.neighbor_neg_distances, [[0.0, -4.0, -8.0]])
    with pytest.raises(ValueError, match="`query_points` has 3 features"):
        ops.knn_query(data, jnp.zeros((1, 3)), 1)
    with pytest.raises(ValueError, match="`num_neighbors`"):
        ops.knn_query(data, data, 0)
    with pytest.raises(ValueError, match="`data` has rank 1"):
        ops.knn_query(data[0], data, 1)


def _np_intrinsic(embeddings, memory, index, dsum, dcount, k, beta, c=1e-3, eps=1e-4,
                  xi=8e-3, smax=8.0):
    """NumPy loop of NGU Algorithm 1 with rlax's bookkeeping (negated squared distances)."""
    rewards = []
    _, _, neg = _np_knn(memory, embeddings, k)
    dsum = dsum + neg.sum()
    dcount = dcount + neg.size
    for row in neg:
        rate = np.maximum(row / (dsum / dcount + c) - xi, 0.0)
        s = np.sqrt(np.sum(eps / (rate + eps))) + c
        rewards.append(0.0 if s > smax else beta / s)
    start = index % len(memory)
    memory = memory.copy()
    memory[(np.arange(len(embeddings)) + start) % len(memory)] = embeddings
    return np.asarray(rewards), memory, start + len(embeddings) % len(memory), dsum, dcount


def test_episodic_memory_intrinsic_rewards_matches_rlax_and_numpy(wrap):
    rng = np.random.default_rng(1)
    calls = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)]
    ours_fn = wrap(lambda e, s: ops.episodic_memory_intrinsic_rewards(
        e, 2, 0.5, s, max_memory_size=7))
    state = ref_state = None
    np_memory = np.full((7, 3), np.inf, np.float32)
    np_memory[:2] = 0.0
    np_index, np_sum, np_count = 0, 0.0, 0
    for emb in calls:
        if state is None:  # first call: the state is built inside, outside any jit
            reward, state = ops.episodic_memory_intrinsic_rewards(emb, 2, 0.5,
                                                                  max_memory_size=7)
        else:
            reward, state = ours_fn(emb, state)
        ref_reward, ref_state = rlax.episodic_memory_intrinsic_rewards(
            emb, 2, 0.5, ref_state, max_memory_size=7)
        np_reward, np_memory, np_index, np_sum, np_count = _np_intrinsic(
            emb, np_memory, np_index, np_sum, np_count, 2, 0.5)
        _assert_close(reward, ref_reward)
        np.testing.assert_allclose(reward, np_reward, rtol=1e-4)  # float32 vs float64 sums
        np.testing.assert_array_equal(state.memory, ref_state.memory)
        np.testing.assert_array_equal(state.memory, np_memory)
        assert int(state.next_memory_index) == int(ref_state.next_memory_index) == np_index
        _assert_close(state.distance_sum, ref_state.distance_sum)
        assert int(state.distance_count) == int(ref_state.distance_count) == np_count
    with pytest.raises(ValueError, match="intrinsic_reward_state.memory"):
        ops.episodic_memory_intrinsic_rewards(calls[0], 2, 0.5, state, max_memory_size=8)


def test_intrinsic_rewards_vmap_over_independent_memories():
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(3, 4, 2)).astype(np.float32)
    _, state = jax.vmap(lambda e: ops.episodic_memory_intrinsic_rewards(
        e, 2, 1.0, max_memory_size=6))(emb)
    reward, _ = jax.vmap(lambda e, s: ops.episodic_memory_intrinsic_rewards(
        e, 2, 1.0, s, max_memory_size=6))(emb[::-1], state)
    for b in range(3):
        _, s_b = rlax.episodic_memory_intrinsic_rewards(emb[b], 2, 1.0, max_memory_size=6)
        r_b, _ = rlax.episodic_memory_intrinsic_rewards(emb[::-1][b], 2, 1.0, s_b,
                                                        max_memory_size=6)
        _assert_close(reward[b], r_b)


def test_embed_oar_matches_rlax(variant):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, 5, 3)).astype(np.float32)
    action = rng.integers(0, 4, size=(2, 5)).astype(np.int32)
    reward = rng.normal(size=(2, 5)).astype(np.float32)
    out = variant(lambda f, a, r: ops.embed_oar(f, a, r, 4), features, action, reward)
    ref = jax.vmap(lambda f, a, r: rlax.embed_oar(f, a, r, 4))(features, action, reward)
    _assert_close(out, ref)
    expected = np.concatenate([features, np.eye(4)[action], np.tanh(reward)[..., None]], -1)
    _assert_close(out, expected)
    with pytest.raises(ValueError, match="batch sizes differ"):
        ops.embed_oar(features[0], action[0, :4], reward[0], 4)
    with pytest.raises(TypeError, match="`action`"):
        ops.embed_oar(features[0], reward[0], reward[0], 4)


# --- multistep, MPO, non-linear Bellman, transforms ----------------------------------------

def _np_corrected_errors(r, d, rho, lam, values):
    """NumPy loop of Sutton et al. 2014: δ_t(ρ,λ) = δ_t + γ_t λ_t ρ_{t+1} δ_{t+1}(ρ,λ)."""
    deltas = r + d * values[1:] - values[:-1]
    acc, out = 0.0, np.zeros_like(r)
    rho_next = np.append(rho[1:], 1.0)
    for t in reversed(range(len(r))):
        acc = deltas[t] + d[t] * lam[t] * rho_next[t] * acc
        out[t] = acc
    return rho * out


@pytest.mark.parametrize("lam", [0.9, "vector"])
def test_importance_corrected_td_errors(variant, lam):
    rng = np.random.default_rng(4)
    r = rng.normal(size=(3, 6)).astype(np.float32)
    d = rng.uniform(0, 1, size=(3, 6)).astype(np.float32)
    rho = rng.uniform(0.2, 2, size=(3, 6)).astype(np.float32)
    values = rng.normal(size=(3, 7)).astype(np.float32)
    lams = (np.full((3, 6), lam, np.float32) if lam != "vector"
            else rng.uniform(0, 1, size=(3, 6)).astype(np.float32))
    out = variant(ops.importance_corrected_td_errors, r, d, rho, lams, values)
    ref = jax.vmap(rlax_multistep.importance_corrected_td_errors)(r, d, rho, lams, values)
    _assert_close(out, ref)
    for b in range(3):
        _assert_close(out[b], _np_corrected_errors(r[b], d[b], rho[b], lams[b], values[b]))


def test_importance_corrected_td_errors_gradients_and_errors():
    rng = np.random.default_rng(5)
    r, d, rho = (rng.uniform(0.1, 1, size=5).astype(np.float32) for _ in range(3))
    values = rng.normal(size=6).astype(np.float32)
    for stop in (False, True):
        def loss(v, m, stop=stop):
            return jnp.sum(m.importance_corrected_td_errors(r, d, rho, 0.8, v, stop) ** 2)

        _assert_close(jax.grad(loss)(values, ops), jax.grad(loss)(values, rlax_multistep))
    # stopped: gradients reach values[:-1] only through -v_tm1
    g = jax.grad(lambda v: jnp.sum(ops.importance_corrected_td_errors(r, d, rho, 0.8, v, True)))(
        values)
    np.testing.assert_array_equal(g, np.append(-np.ones(5, np.float32), 0.0))
    with pytest.raises(ValueError, match=r"`values\[1:\]` has shape \(4,\)"):
        ops.importance_corrected_td_errors(r, d, rho, 0.8, values[:5])
    with pytest.raises(TypeError, match="`rho_tm1`"):
        ops.importance_corrected_td_errors(r, d, rho.astype(np.int32), 0.8, values)


@pytest.mark.parametrize("per_dimension", [False, True])
def test_kl_alpha_loss_matches_rlax(per_dimension):
    rng = np.random.default_rng(6)
    shape = (4, 3, 2) if per_dimension else (4, 3)
    kls = [jnp.asarray(rng.uniform(0, 1, size=shape), jnp.float32) for _ in range(2)]
    alpha = jnp.asarray(rng.uniform(0.5, 2, size=shape[2:]), jnp.float32)
    weights = jnp.asarray(rng.integers(0, 2, size=(4, 3)), jnp.float32)

    def run(m, w, kl0, kl1, a):
        constraints = [(kl0, m.LagrangePenalty(a, jnp.float32(0.1), per_dimension)),
                       (kl1, m.LagrangePenalty(a * 2, jnp.float32(0.2), per_dimension))]
        with jax.numpy_rank_promotion("allow"):  # rlax broadcasts [A] against [E*, A]
            return m.kl_alpha_loss(w, constraints)

    for wrap in (lambda f: f, jax.jit):
        _assert_close(wrap(lambda *a: run(ops, *a))(weights, *kls, alpha),
               run(rlax_mpo, weights, *kls, alpha))
    grads = [jax.grad(lambda a, m=m: sum(run(m, weights, *kls, a)))(alpha)
             for m in (ops, rlax_mpo)]
    _assert_close(*grads)
    # NumPy: Σ w (α KL) / (Σ w + 1e-10) per constraint, summed over A with per_dimension
    kl_term = sum(np.asarray(a) * np.asarray(k) for a, k in zip((alpha, alpha * 2), kls))
    if per_dimension:
        kl_term = kl_term.sum(-1)
    w = np.asarray(weights)
    _assert_close(run(ops, weights, *kls, alpha)[0], (kl_term * w).sum() / (w.sum() + 1e-10))
    _assert_close(ops.kl_alpha_loss(weights), (0.0, 0.0))
    with pytest.raises(ValueError, match="kl_constraints\\[0\\]"):
        ops.kl_alpha_loss(weights[:2], [(kls[0], ops.LagrangePenalty(alpha, 0.1,
                                                                     per_dimension))])


def test_transform_values_builds_transformed_operators():
    rng = np.random.default_rng(7)
    r, d, v = (jnp.asarray(rng.uniform(0, 1, size=5), jnp.float32) for _ in range(3))
    ours = ops.transform_values(ops.lambda_returns, 2)
    theirs = rlax_nb.transform_values(rlax.lambda_returns, 2)
    out = jax.jit(lambda *a: ours(ops.SIGNED_HYPERBOLIC_PAIR, *a, lambda_=0.7))(r, d, v)
    _assert_close(out, theirs(rlax.SIGNED_HYPERBOLIC_PAIR, r, d, v, lambda_=0.7))
    _assert_close(out, ops.transformed_lambda_returns(ops.SIGNED_HYPERBOLIC_PAIR, r, d, v, 0.7))
    assert ours.__name__ == "lambda_returns"
    with pytest.raises(TypeError, match="tx_pair"):
        ours("not a pair", r, d, v)


def test_module_level_transforms_match_rlax(variant):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 5)).astype(np.float32) * 3
    bins = jnp.asarray([-4.0, -1.0, 0.0, 0.5, 2.0, 4.0])
    for name in ("hyperbolic_sin", "hyperbolic_arcsin"):
        _assert_close(variant(getattr(ops, name), x), getattr(rlax_transforms, name)(x))
    hot = variant(lambda s: ops.transform_to_2hot_nonlinear(s, bins), x)
    back = variant(lambda p: ops.transform_from_2hot_nonlinear(p, bins), hot)
    with jax.numpy_rank_promotion("allow"):  # rlax broadcasts [..., 1] against [1, K]
        _assert_close(hot, rlax_transforms.transform_to_2hot_nonlinear(x, bins))
        _assert_close(back, rlax_transforms.transform_from_2hot_nonlinear(hot, bins), atol=1e-5)
    _assert_close(back, np.clip(x, -4, 4), atol=1e-5)  # the two-hot keeps the (clipped) mean


def test_mpo_module_functions_are_exported():
    rng = np.random.default_rng(9)
    scores = jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)
    _assert_close(ops.get_top_k_weights(0.5, jnp.ones((4, 5)), scores),
           rlax_mpo.get_top_k_weights(0.5, jnp.ones((4, 5)), scores))
    kl = jnp.asarray(rng.uniform(size=(4,)), jnp.float32)
    penalty = ops.LagrangePenalty(jnp.float32(1.5), jnp.float32(0.1))
    _assert_close(ops.kl_constraint_loss(kl, penalty, lambda a: a),
           rlax_mpo.kl_constraint_loss(kl, rlax.LagrangePenalty(jnp.float32(1.5),
                                                                 jnp.float32(0.1)),
                                       lambda a: a))
    assert ops.MpoOutputs._fields == rlax_mpo.MpoOutputs._fields


# --- behaviours that differed ---------------------------------------------------------------

def _categorical_inputs(rng, b=3, k=7, a=3):
    atoms = np.stack([np.sort(rng.normal(size=k) * 2) for _ in range(b)]).astype(np.float32)
    return {
        "atoms_tm1": atoms,
        "logits_tm1": rng.normal(size=(b, a, k)).astype(np.float32),
        "a_tm1": rng.integers(0, a, size=b).astype(np.int32),
        "r_t": rng.normal(size=b).astype(np.float32),
        "discount_t": rng.uniform(0, 1, size=b).astype(np.float32),
        "atoms_t": (atoms + 0.3).astype(np.float32),
        "logits_t": rng.normal(size=(b, a, k)).astype(np.float32),
        "selector": rng.normal(size=(b, a)).astype(np.float32),
    }


def _categorical_losses(m):
    def losses(atoms_tm1, logits_tm1, a_tm1, r_t, discount_t, atoms_t, logits_t, selector):
        return jnp.stack([
            m.categorical_td_learning(atoms_tm1, logits_tm1[0], r_t, discount_t, atoms_t,
                                      logits_t[0]),
            m.categorical_q_learning(atoms_tm1, logits_tm1, a_tm1, r_t, discount_t, atoms_t,
                                     logits_t),
            m.categorical_double_q_learning(atoms_tm1, logits_tm1, a_tm1, r_t, discount_t,
                                            atoms_t, logits_t, selector),
        ])

    return losses


def test_categorical_family_with_traced_supports(variant):
    x = _categorical_inputs(np.random.default_rng(10))
    out = variant(_categorical_losses(ops), *x.values())  # supports are jit / vmap arguments
    ref = jax.vmap(_categorical_losses(rlax))(*x.values())
    _assert_close(out, ref)
    proj = variant(ops.categorical_l2_project, x["atoms_t"], jax.nn.softmax(x["r_t"][:, None]
                                                                            + x["atoms_t"]),
                   x["atoms_tm1"])
    _assert_close(proj, jax.vmap(rlax.categorical_l2_project)(
        x["atoms_t"], jax.nn.softmax(x["r_t"][:, None] + x["atoms_t"]), x["atoms_tm1"]))


@pytest.mark.parametrize("case", ["interior", "on_atoms", "repeated_atom"])
def test_l2_project_derivatives_match_rlax_everywhere(case):
    z_q = jnp.asarray([-1.0, 0.0, 0.0, 1.0] if case == "repeated_atom" else [-1.0, 0.0, 1.0])
    z_p = {"interior": jnp.asarray([-0.7, 0.2, 0.9, 3.0]),
           "on_atoms": jnp.asarray([-1.0, 0.0, 1.0, 0.5]),
           "repeated_atom": jnp.asarray([-0.5, 0.0, 0.5, -2.0])}[case]
    p = jnp.asarray([0.1, 0.2, 0.3, 0.4])
    for arg in range(3):
        ours = jax.jit(jax.jacobian(ops.categorical_l2_project, arg))(z_p, p, z_q)
        ref = jax.jacobian(rlax.categorical_l2_project, arg)(z_p, p, z_q)
        np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=1e-6, err_msg=f"argument {arg}")
    _assert_close(ops.categorical_l2_project(z_p, p, z_q), rlax.categorical_l2_project(z_p, p, z_q))


def test_categorical_losses_gradients_match_rlax():
    x = _categorical_inputs(np.random.default_rng(11))
    argnums = (0, 1, 5, 6)  # both supports and both logits

    def total(m):
        return jax.vmap(jax.grad(lambda *a: jnp.sum(_categorical_losses(m)(*a)),
                                 argnums=argnums))

    _assert_close(jax.jit(total(ops))(*x.values()), total(rlax)(*x.values()), atol=1e-5)


def test_popart_takes_integer_targets_as_rlax(variant):
    targets = np.asarray([[1, 2, 3], [4, -2, 0]], np.int32)
    indices = np.asarray([[0, 1, 0], [1, 1, 0]], np.int32)

    def ours(t, i):
        return ops.art(ops.PopArtState(jnp.zeros(2), jnp.ones(2), jnp.ones(2)), t, i, 1e-2,
                       1e-3, 1e3)

    out = variant(ours, targets, indices)
    ref = jax.vmap(lambda t, i: rlax.art(rlax.PopArtState(jnp.zeros(2), jnp.ones(2),
                                                          jnp.ones(2)), t, i, 1e-2, 1e-3,
                                         1e3))(targets, indices)
    _assert_close(tuple(out), tuple(ref))
    assert out.shift.dtype == jnp.float32
    init, update = ops.popart(2, 1e-2, 1e-3, 1e3)
    r_init, r_update = rlax.popart(2, 1e-2, 1e-3, 1e3)
    lin = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    (params, state), (r_params, r_state) = (
        update(lin, init(), targets[0], indices[0]),
        r_update(lin, r_init(), targets[0], indices[0]))
    _assert_close((params, tuple(state)), (r_params, tuple(r_state)))


def test_zero_policy_targets_weights_scale():
    dist = distrax.Categorical(logits=jnp.zeros((2, 3)))
    key = jax.random.PRNGKey(0)
    for kwargs, weight in (({}, 0.0), ({"weights_scale": 0.5}, 0.5)):
        ours = ops.zero_policy_targets(dist, key, 4, **kwargs)
        ref = rlax.zero_policy_targets(dist, key, 4, **kwargs)
        np.testing.assert_array_equal(ours.weights, ref.weights)
        np.testing.assert_array_equal(ours.weights, np.full((4, 2), weight))
        np.testing.assert_array_equal(ours.actions, ref.actions)
    with pytest.raises(TypeError):
        ops.zero_policy_targets(dist, key, 4, 0.5)  # keyword-only, as rlax's partial
