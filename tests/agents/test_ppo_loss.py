"""`ppo_loss` against an independent NumPy PPO-Clip on hand-built minibatches.

The reference is written from the papers, in float64, one row at a time: Schulman et al.
2017 eq. 7 (clipped surrogate) and eq. 9 (combined loss), the PPO2 clipped value loss and
per-minibatch advantage standardisation (Huang et al. 2022, "The 37 Implementation Details
of PPO", details 7–9), masked rows excluded from every mean.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jit_env.agents import PPOConfig
from jit_env.agents.ppo import PPOTargets, ppo_loss


def _np_ppo_loss(cfg, log_prob, entropy, value, batch):
    valid = [i for i, ok in enumerate(batch.valid) if ok]
    n = max(len(valid), 1)
    adv = np.asarray(batch.advantage, np.float64)
    if cfg.normalize_advantages:
        mean = sum(adv[i] for i in valid) / n
        std = np.sqrt(sum((adv[i] - mean) ** 2 for i in valid) / n)
        adv = (adv - mean) / (std + 1e-8)
    pg = vf = ent = kl = clipped = 0.0
    for i in valid:
        log_ratio = float(log_prob[i]) - float(batch.log_prob[i])
        ratio = np.exp(log_ratio)
        surrogate = min(ratio * adv[i],
                        np.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv[i])
        pg -= surrogate
        error = (float(value[i]) - float(batch.target[i])) ** 2
        if cfg.clip_value_loss:
            v_clip = float(batch.value[i]) + np.clip(
                float(value[i]) - float(batch.value[i]), -cfg.clip_eps, cfg.clip_eps)
            error = max(error, (v_clip - float(batch.target[i])) ** 2)
        vf += 0.5 * error
        ent += float(entropy[i])
        kl += (ratio - 1) - log_ratio
        clipped += float(abs(ratio - 1) > cfg.clip_eps)
    pg, vf, ent, kl, clipped = (x / n for x in (pg, vf, ent, kl, clipped))
    return {"loss": pg + cfg.vf_coef * vf - cfg.ent_coef * ent, "policy_loss": pg,
            "value_loss": vf, "entropy": ent, "approx_kl": kl, "clip_fraction": clipped}


def _minibatch(seed, n=12, masked=(2, 7, 11)):
    rng = np.random.default_rng(seed)
    f32 = lambda x: np.asarray(x, np.float32)
    old_log_prob = f32(rng.uniform(-2.0, -0.1, n))
    batch = PPOTargets(
        log_prob=old_log_prob,
        value=f32(rng.normal(size=n)),
        advantage=f32(rng.normal(size=n) * 2.0 + 0.5),
        target=f32(rng.normal(size=n)),
        valid=np.asarray([i not in masked for i in range(n)]),
    )
    # Ratios from 0.5 to 1.6, so that both sides of the clip [0.8, 1.2] are hit; values
    # moved by up to ±0.5, so the value clip (±0.2) binds for some rows.
    log_prob = f32(old_log_prob + np.log(rng.uniform(0.5, 1.6, n)))
    value = f32(batch.value + rng.uniform(-0.5, 0.5, n))
    # Masked rows hold garbage that must not leak into any mean.
    for i in masked:
        batch.advantage[i] = 1e6
        batch.target[i] = -1e6
        log_prob[i] = 50.0
    entropy = f32(rng.uniform(0.1, 1.0, n))
    return log_prob, entropy, value, batch


@pytest.mark.parametrize("clip_value_loss", [True, False])
@pytest.mark.parametrize("normalize_advantages", [True, False])
@pytest.mark.parametrize("wrap", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_ppo_loss_matches_numpy_ppo_clip(clip_value_loss, normalize_advantages, wrap):
    cfg = dataclasses.replace(PPOConfig(), clip_value_loss=clip_value_loss,
                              normalize_advantages=normalize_advantages, ent_coef=0.05)
    for seed in range(3):
        log_prob, entropy, value, batch = _minibatch(seed)
        loss, metrics = wrap(lambda *a: ppo_loss(cfg, *a))(log_prob, entropy, value, batch)
        expected = _np_ppo_loss(cfg, log_prob, entropy, value, batch)
        assert set(metrics) == set(expected)
        for name, want in expected.items():
            # float32 sums of 9 terms of O(1) against a float64 loop: 1e-5 relative.
            np.testing.assert_allclose(metrics[name], want, rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        assert float(loss) == float(metrics["loss"])
        fraction = expected["clip_fraction"]
        assert 0.0 < fraction < 1.0  # the minibatch exercises both sides of the clip


def test_ppo_loss_vmapped_over_minibatches_and_its_gradient():
    cfg = PPOConfig()
    parts = [_minibatch(seed) for seed in range(3)]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *parts)
    losses, _ = jax.vmap(lambda *a: ppo_loss(cfg, *a))(*stacked)
    for i, part in enumerate(parts):
        np.testing.assert_allclose(losses[i], _np_ppo_loss(cfg, *part)["loss"], rtol=1e-5)
    # d loss / d log_prob is 0 on masked rows and on rows whose ratio is clipped with the
    # advantage on the clipped side (eq. 7's min picks the constant branch).
    log_prob, entropy, value, batch = parts[0]
    grad = jax.grad(lambda lp: ppo_loss(cfg, lp, entropy, value, batch)[0])(log_prob)
    assert np.all(np.asarray(grad)[~batch.valid] == 0.0)
    ratio = np.exp(log_prob - batch.log_prob)
    adv = batch.advantage[batch.valid]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    r = ratio[batch.valid]
    flat = ((r > 1 + cfg.clip_eps) & (adv > 0)) | ((r < 1 - cfg.clip_eps) & (adv < 0))
    assert flat.any()
    np.testing.assert_array_equal(np.asarray(grad)[batch.valid][flat], 0.0)
