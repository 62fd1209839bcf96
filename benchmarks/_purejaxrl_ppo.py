"""Second anchor of ``ppo_bench.py``: PPO on PureJaxRL's own stack.

``_single_file_ppo.py`` is a lean single-file PPO with an inline CartPole. This
file instead reproduces the *structure and dependencies* of PureJaxRL's
``ppo.py`` (luchris429/purejaxrl, the CartPole-v1 config), written here from its
published description, so that "compile time x PureJaxRL" can be read against
the program PureJaxRL users actually compile:

* the environment is ``gymnax.make("CartPole-v1")`` wrapped in gymnax's
  ``FlattenObservationWrapper`` and ``LogWrapper`` (the PureJaxRL wrappers,
  shipped in ``gymnax.wrappers.purerl``; gymnax 1.x's ``terminated``/``truncated``
  are or-ed back into PureJaxRL's ``done``), reset with ``vmap(env.reset, in_axes=(0,
  None))`` and stepped with ``vmap(env.step, in_axes=(0, 0, 0, None))``
  (gymnax's step computes a reset for every environment on every step and
  selects it);
* the actor-critic returns a ``distrax.Categorical`` (``pi.sample``,
  ``pi.log_prob``, ``pi.entropy``) and the value; parameters and optimiser live
  in a ``flax.training.train_state.TrainState``;
* per-step ``info`` (LogWrapper's returned-episode statistics) is kept in the
  trajectory and returned as the metric, like PureJaxRL (``DEBUG`` callbacks off);
* GAE by reverse ``lax.scan`` (``unroll=16``), minibatches by
  ``jax.random.permutation`` and ``jnp.take``, ``value_and_grad(has_aux=True)``.

Hyper-parameters: `_single_file_ppo.AnchorConfig` (PureJaxRL's CartPole values).
Needs ``gymnax`` and ``distrax`` (benchmark-only dependencies). Not part of the
library or its tests.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import distrax
import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _single_file_ppo import AnchorConfig
from flax.training.train_state import TrainState
from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper


class ActorCritic(nn.Module):
    action_dim: int

    @nn.compact
    def __call__(self, x):
        def dense(n, gain):
            return nn.Dense(n, kernel_init=nn.initializers.orthogonal(gain),
                            bias_init=nn.initializers.constant(0.0))

        a = nn.tanh(dense(64, np.sqrt(2))(x))
        a = nn.tanh(dense(64, np.sqrt(2))(a))
        pi = distrax.Categorical(logits=dense(self.action_dim, 0.01)(a))
        c = nn.tanh(dense(64, np.sqrt(2))(x))
        c = nn.tanh(dense(64, np.sqrt(2))(c))
        return pi, jnp.squeeze(dense(1, 1.0)(c), axis=-1)


class Transition(NamedTuple):
    done: jax.Array
    action: jax.Array
    value: jax.Array
    reward: jax.Array
    log_prob: jax.Array
    obs: jax.Array
    info: Any


def make_train(config: AnchorConfig):
    """``train(key) -> {"runner_state", "metrics"}``; metrics = per-step LogWrapper info."""
    env, env_params = gymnax.make("CartPole-v1")
    env = LogWrapper(FlattenObservationWrapper(env))
    minibatch_size = config.num_envs * config.num_steps // config.num_minibatches

    def linear_schedule(count):
        frac = 1.0 - count // (config.num_minibatches * config.update_epochs) / config.num_updates
        return config.lr * frac

    def train(rng):
        network = ActorCritic(env.action_space(env_params).n)
        rng, _rng = jax.random.split(rng)
        params = network.init(_rng, jnp.zeros(env.observation_space(env_params).shape))
        tx = optax.chain(
            optax.clip_by_global_norm(config.max_grad_norm),
            optax.adam(learning_rate=linear_schedule if config.anneal_lr else config.lr,
                       eps=1e-5),
        )
        train_state = TrainState.create(apply_fn=network.apply, params=params, tx=tx)

        rng, _rng = jax.random.split(rng)
        reset_rng = jax.random.split(_rng, config.num_envs)
        obsv, env_state = jax.vmap(env.reset, in_axes=(0, None))(reset_rng, env_params)

        def _update_step(runner_state, _unused):
            def _env_step(runner_state, _unused):
                train_state, env_state, last_obs, rng = runner_state
                rng, _rng = jax.random.split(rng)
                pi, value = network.apply(train_state.params, last_obs)
                action = pi.sample(seed=_rng)
                log_prob = pi.log_prob(action)
                rng, _rng = jax.random.split(rng)
                rng_step = jax.random.split(_rng, config.num_envs)
                obsv, env_state, reward, terminated, truncated, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None)
                )(rng_step, env_state, action, env_params)
                done = jnp.logical_or(terminated, truncated)  # gymnax 1.x's split `done`
                transition = Transition(done, action, value, reward, log_prob, last_obs, info)
                return (train_state, env_state, obsv, rng), transition

            runner_state, traj_batch = jax.lax.scan(
                _env_step, runner_state, None, config.num_steps
            )
            train_state, env_state, last_obs, rng = runner_state
            _, last_val = network.apply(train_state.params, last_obs)

            def _get_advantages(gae_and_next_value, transition):
                gae, next_value = gae_and_next_value
                delta = (transition.reward + config.gamma * next_value * (1 - transition.done)
                         - transition.value)
                gae = delta + config.gamma * config.gae_lambda * (1 - transition.done) * gae
                return (gae, transition.value), gae

            _, advantages = jax.lax.scan(
                _get_advantages, (jnp.zeros_like(last_val), last_val), traj_batch,
                reverse=True, unroll=16,
            )
            targets = advantages + traj_batch.value

            def _update_epoch(update_state, _unused):
                def _update_minbatch(train_state, batch_info):
                    traj, gae, targets = batch_info

                    def _loss_fn(params):
                        pi, value = network.apply(params, traj.obs)
                        log_prob = pi.log_prob(traj.action)
                        value_pred_clipped = traj.value + (value - traj.value).clip(
                            -config.clip_eps, config.clip_eps)
                        value_loss = 0.5 * jnp.maximum(
                            jnp.square(value - targets), jnp.square(value_pred_clipped - targets)
                        ).mean()
                        ratio = jnp.exp(log_prob - traj.log_prob)
                        adv = (gae - gae.mean()) / (gae.std() + 1e-8)
                        loss_actor = -jnp.minimum(
                            ratio * adv,
                            jnp.clip(ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps) * adv,
                        ).mean()
                        entropy = pi.entropy().mean()
                        total = (loss_actor + config.vf_coef * value_loss
                                 - config.ent_coef * entropy)
                        return total, (value_loss, loss_actor, entropy)

                    grad_fn = jax.value_and_grad(_loss_fn, has_aux=True)
                    total_loss, grads = grad_fn(train_state.params)
                    return train_state.apply_gradients(grads=grads), total_loss

                train_state, traj_batch, advantages, targets, rng = update_state
                rng, _rng = jax.random.split(rng)
                batch_size = minibatch_size * config.num_minibatches
                permutation = jax.random.permutation(_rng, batch_size)
                batch = (traj_batch, advantages, targets)
                batch = jax.tree.map(lambda x: x.reshape((batch_size,) + x.shape[2:]), batch)
                shuffled = jax.tree.map(lambda x: jnp.take(x, permutation, axis=0), batch)
                minibatches = jax.tree.map(
                    lambda x: jnp.reshape(x, [config.num_minibatches, -1] + list(x.shape[1:])),
                    shuffled,
                )
                train_state, total_loss = jax.lax.scan(_update_minbatch, train_state, minibatches)
                return (train_state, traj_batch, advantages, targets, rng), total_loss

            update_state = (train_state, traj_batch, advantages, targets, rng)
            update_state, loss_info = jax.lax.scan(
                _update_epoch, update_state, None, config.update_epochs
            )
            train_state, rng = update_state[0], update_state[-1]
            return (train_state, env_state, last_obs, rng), traj_batch.info

        rng, _rng = jax.random.split(rng)
        runner_state = (train_state, env_state, obsv, _rng)
        runner_state, metric = jax.lax.scan(_update_step, runner_state, None, config.num_updates)
        return {"runner_state": runner_state, "metrics": metric}

    return train


def episode_returns(metrics: dict) -> jax.Array:
    """Mean return of the episodes that finished in each update, ``[num_updates]`` (NaN if none)."""
    done = metrics["returned_episode"]
    n = done.sum(axis=(1, 2))
    total = jnp.where(done, metrics["returned_episode_returns"], 0.0).sum(axis=(1, 2))
    return jnp.where(n > 0, total / jnp.maximum(n, 1), jnp.nan)
