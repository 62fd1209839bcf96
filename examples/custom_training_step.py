"""A custom actor-critic training step from `rollout` + `jit_env.ops` + optax, in one jit.

Run: python examples/custom_training_step.py
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import jit_env
from jit_env import ops, wrappers
from jit_env.rollout import rollout

env = wrappers.VmapAutoReset(jit_env.make("CartPole-v1"))  # same-step auto-reset, [B] batch
net = nn.Sequential([nn.Dense(64), nn.tanh, nn.Dense(3)])  # 2 logits + 1 value
optimizer = optax.adam(3e-3)


def policy(params, timestep, policy_state, key):
    out = net.apply(params, timestep.observation)
    action = ops.softmax().sample(key, out[..., :2]).astype(jnp.int32)
    return action, policy_state, {"value": out[..., 2]}


def loss_fn(params, traj):
    tr = traj.transitions()  # [T, B] arrays; next_observation is the true final observation
    out, boot = net.apply(params, tr.observation), net.apply(params, tr.next_observation)
    value, sg = out[..., 2], jax.lax.stop_gradient
    advantages, targets = traj.gae(sg(value), sg(boot[..., 2]), 0.99, 0.95)  # truncation-aware
    logits = out[..., :2].reshape(-1, 2)
    logp = jax.vmap(ops.softmax().logprob)(tr.action.reshape(-1), logits)
    pg = -jnp.mean(logp * advantages.reshape(-1))
    entropy = jnp.mean(jax.vmap(ops.softmax().entropy)(logits))
    return pg + 0.5 * jnp.mean(jnp.square(targets - value)) - 0.01 * entropy


@jax.jit
def train_step(params, opt_state, env_state, timestep, key):
    carry, traj = rollout(env, policy, params, env_state, timestep, key, num_steps=32)
    loss, grads = jax.value_and_grad(loss_fn)(params, traj)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, carry, loss


def main(num_updates: int = 20):
    key = jax.random.PRNGKey(0)
    env_state, timestep = env.reset(jax.random.split(key, 8))
    params = net.init(key, timestep.observation)
    opt_state = optimizer.init(params)
    for _ in range(num_updates):
        key, sub = jax.random.split(key)
        params, opt_state, carry, loss = train_step(params, opt_state, env_state, timestep, sub)
        env_state, timestep = carry.env_state, carry.timestep
    print(f"loss after {num_updates} updates: {float(loss):.3f}")
    return float(loss)


if __name__ == "__main__":
    main()
