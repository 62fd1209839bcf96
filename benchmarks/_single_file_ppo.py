"""The anchor of ``ppo_bench.py``: a hand-written, single-file, PureJaxRL-style PPO.

This is the kind of code the project exists to replace, written here from
scratch in that style (nothing imported from jit_env): an inline ``jax.numpy``
CartPole with gymnasium 1.x ``CartPoleEnv`` dynamics (explicit Euler, tau
0.02 s, +1 reward per step, termination at |x| > 2.4 or |theta| > 12 deg, the
500-step limit folded into ``done``), a gymnax-style auto-reset (every
environment draws a fresh reset on every step and ``jnp.where`` selects it
where the episode ended), GAE written inline, a flax actor-critic and optax,
all nested inside one ``train(key)`` that ``jax.jit`` compiles whole.

Like PureJaxRL it treats time-limit truncation as termination (no bootstrap
from the final observation) and reports the mean return of the episodes that
finished during each update (NaN when none did).

Hyper-parameters (`AnchorConfig`) default to PureJaxRL's published CartPole-v1
PPO: 4 envs x 128 steps, 4 epochs x 4 minibatches, 5e5 steps, Adam 2.5e-4
annealed linearly, gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01, value 0.5,
grad norm 0.5, 64-64 tanh. Not part of the library or its tests.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass(frozen=True)
class AnchorConfig:
    """PPO hyper-parameters (PureJaxRL's CartPole-v1 values by default)."""

    num_envs: int = 4
    num_steps: int = 128
    total_steps: int = 500_000
    update_epochs: int = 4
    num_minibatches: int = 4
    lr: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64

    @property
    def num_updates(self) -> int:
        return self.total_steps // (self.num_envs * self.num_steps)


# ---------------------------------------------------------------- CartPole --
GRAVITY, MASSCART, MASSPOLE, HALF_LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
THETA_LIMIT, X_LIMIT, MAX_STEPS = 12 * 2 * math.pi / 360, 2.4, 500


class EnvState(NamedTuple):
    x: jax.Array
    x_dot: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    t: jax.Array
    episode_return: jax.Array


def env_reset(key):
    x, x_dot, theta, theta_dot = jax.random.uniform(key, (4,), minval=-0.05, maxval=0.05)
    state = EnvState(x, x_dot, theta, theta_dot, jnp.int32(0), jnp.float32(0.0))
    return jnp.stack([x, x_dot, theta, theta_dot]), state


def env_step(key, state, action):
    """One step then a gymnax-style auto-reset; returns (obs, state, reward, done, ep_return)."""
    force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
    cos, sin = jnp.cos(state.theta), jnp.sin(state.theta)
    total = MASSCART + MASSPOLE
    pml = MASSPOLE * HALF_LENGTH
    temp = (force + pml * state.theta_dot**2 * sin) / total
    theta_acc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - MASSPOLE * cos**2 / total))
    x_acc = temp - pml * theta_acc * cos / total
    x = state.x + TAU * state.x_dot
    x_dot = state.x_dot + TAU * x_acc
    theta = state.theta + TAU * state.theta_dot
    theta_dot = state.theta_dot + TAU * theta_acc
    t = state.t + 1
    reward = jnp.float32(1.0)
    ep_return = state.episode_return + reward
    done = (jnp.abs(x) > X_LIMIT) | (jnp.abs(theta) > THETA_LIMIT) | (t >= MAX_STEPS)
    stepped = EnvState(x, x_dot, theta, theta_dot, t, ep_return)
    obs_st = jnp.stack([x, x_dot, theta, theta_dot])
    obs_re, state_re = env_reset(key)
    state = jax.tree.map(lambda a, b: jnp.where(done, a, b), state_re, stepped)
    obs = jnp.where(done, obs_re, obs_st)
    return obs, state, reward, done, ep_return


# ----------------------------------------------------------------- network --
class ActorCritic(nn.Module):
    num_actions: int
    hidden: int = 64

    @nn.compact
    def __call__(self, x):
        def dense(n, gain):
            return nn.Dense(n, kernel_init=nn.initializers.orthogonal(gain),
                            bias_init=nn.initializers.zeros)

        a = nn.tanh(dense(self.hidden, np.sqrt(2))(x))
        a = nn.tanh(dense(self.hidden, np.sqrt(2))(a))
        logits = dense(self.num_actions, 0.01)(a)
        c = nn.tanh(dense(self.hidden, np.sqrt(2))(x))
        c = nn.tanh(dense(self.hidden, np.sqrt(2))(c))
        return logits, dense(1, 1.0)(c)[..., 0]


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    done: jax.Array
    value: jax.Array
    log_prob: jax.Array
    finished_return: jax.Array


def make_train(config: AnchorConfig):
    """``train(key) -> metrics``, with ``metrics["episode_return"]`` of shape [num_updates]."""
    net = ActorCritic(2, config.hidden)
    batch = config.num_envs * config.num_steps
    mb = batch // config.num_minibatches

    def schedule(count):
        frac = 1.0 - count // (config.num_minibatches * config.update_epochs) / config.num_updates
        return config.lr * frac

    tx = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(schedule if config.anneal_lr else config.lr, eps=1e-5),
    )

    def train(key):
        key, init_key, reset_key = jax.random.split(key, 3)
        params = net.init(init_key, jnp.zeros((4,), jnp.float32))
        opt_state = tx.init(params)
        obs, env_state = jax.vmap(env_reset)(jax.random.split(reset_key, config.num_envs))

        def update_step(carry, _):
            params, opt_state, env_state, obs, key = carry

            def env_step_fn(c, _):
                env_state, obs, key = c
                key, act_key, step_key = jax.random.split(key, 3)
                logits, value = net.apply(params, obs)
                action = jax.random.categorical(act_key, logits)
                log_prob = jnp.take_along_axis(
                    jax.nn.log_softmax(logits), action[:, None], axis=-1
                )[:, 0]
                next_obs, env_state, reward, done, ep_ret = jax.vmap(env_step)(
                    jax.random.split(step_key, config.num_envs), env_state, action
                )
                tr = Transition(obs, action, reward, done, value, log_prob,
                                jnp.where(done, ep_ret, 0.0))
                return (env_state, next_obs, key), tr

            (env_state, obs, key), traj = jax.lax.scan(
                env_step_fn, (env_state, obs, key), None, config.num_steps
            )
            _, last_value = net.apply(params, obs)

            def gae_fn(c, tr):
                gae, next_value = c
                nonterminal = 1.0 - tr.done
                delta = tr.reward + config.gamma * next_value * nonterminal - tr.value
                gae = delta + config.gamma * config.gae_lambda * nonterminal * gae
                return (gae, tr.value), gae

            _, adv = jax.lax.scan(
                gae_fn, (jnp.zeros_like(last_value), last_value), traj, reverse=True
            )
            targets = adv + traj.value

            def epoch(c, _):
                params, opt_state, key = c
                key, perm_key = jax.random.split(key)
                perm = jax.random.permutation(perm_key, batch)
                data = (traj.obs, traj.action, traj.value, traj.log_prob, adv, targets)
                data = jax.tree.map(lambda x: x.reshape((batch,) + x.shape[2:])[perm], data)
                data = jax.tree.map(
                    lambda x: x.reshape((config.num_minibatches, mb) + x.shape[1:]), data
                )

                def minibatch(c, d):
                    params, opt_state = c
                    obs, action, old_value, old_log_prob, a, target = d

                    def loss_fn(p):
                        logits, value = net.apply(p, obs)
                        logp_all = jax.nn.log_softmax(logits)
                        log_prob = jnp.take_along_axis(logp_all, action[:, None], axis=-1)[:, 0]
                        v_clip = old_value + jnp.clip(value - old_value, -config.clip_eps,
                                                      config.clip_eps)
                        v_loss = 0.5 * jnp.maximum((value - target) ** 2,
                                                   (v_clip - target) ** 2).mean()
                        ratio = jnp.exp(log_prob - old_log_prob)
                        an = (a - a.mean()) / (a.std() + 1e-8)
                        pg = -jnp.minimum(
                            ratio * an,
                            jnp.clip(ratio, 1 - config.clip_eps, 1 + config.clip_eps) * an,
                        ).mean()
                        entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
                        return pg + config.vf_coef * v_loss - config.ent_coef * entropy

                    grads = jax.grad(loss_fn)(params)
                    updates, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch, (params, opt_state), data)
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(
                epoch, (params, opt_state, key), None, config.update_epochs
            )
            n = traj.done.sum()
            ret = jnp.where(n > 0, traj.finished_return.sum() / jnp.maximum(n, 1), jnp.nan)
            return (params, opt_state, env_state, obs, key), {"episode_return": ret}

        _, metrics = jax.lax.scan(
            update_step, (params, opt_state, env_state, obs, key), None, config.num_updates
        )
        return metrics

    return train
