"""A simple double-DQN agent on bsuite's Catch, the whole training in one ``jax.jit``.

A jit_env rewrite of rlax's ``examples/simple_dqn.py`` (google-deepmind/rlax) with
``import jit_env.ops as rlax``: the same algorithm and defaults — seed 42, 301
training episodes, batch 32, target network copied every 50 learner steps
(``rlax.periodic_update``), replay of 2,000 transitions, an MLP with 50 hidden
units, ε-greedy with ε from ``optax.polynomial_schedule(1.0 → 0.01, power 1, 1,000
steps)`` of the actor's step count, γ 0.99, Adam 0.005, the ``double_q_learning``
TD error under ``l2_loss``, one learner step per environment step once the
replay holds a batch, and a greedy evaluation of 100 episodes every 50 episodes
(`experiment.run_loop`, rlax's ``examples/experiment.py``).

As in rlax, the actor's step count starts from 0 at every episode (its
``run_loop`` calls ``initial_actor_state()`` per episode), so on Catch's 9-step
episodes ε stays above 0.99: the agent learns from nearly random behaviour and
is evaluated greedily. Differences: the replay is `jit_env.agents.replay`, whose
``sample`` draws with replacement (rlax's Python buffer: ``random.sample``,
without), and randomness comes from JAX keys instead of ``random`` / NumPy.

Run: python examples/simple_dqn.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))  # experiment.py, as rlax imports it

import experiment

import jit_env.ops as rlax
from jit_env.agents import replay

DEFAULTS = {"seed": 42, "train_episodes": 301, "batch_size": 32, "target_period": 50,
                "replay_capacity": 2000, "hidden_units": 50, "epsilon_begin": 1.0, "epsilon_end": 0.01,
                "epsilon_steps": 1000, "discount_factor": 0.99, "learning_rate": 0.005,
                "eval_episodes": 100, "evaluate_every": 50}
"""rlax's ``FLAGS`` defaults."""


class State(NamedTuple):
    online: Any
    target: Any
    opt_state: Any
    learner_count: jax.Array
    actor_count: jax.Array
    buffer: replay.ReplayBuffer
    obs_tm1: jax.Array


def make_agent(env, *, batch_size, target_period, replay_capacity, hidden_units,
               epsilon_begin, epsilon_end, epsilon_steps, discount_factor, learning_rate,
               **_ignored) -> experiment.Agent:
    """The double-DQN `experiment.Agent` for ``env`` (a `DiscreteArray` action)."""
    obs_spec, num_actions = env.observation_spec(), int(env.action_spec().num_values)
    obs_size = int(jnp.prod(jnp.array(obs_spec.shape)))
    optimizer = optax.adam(learning_rate)
    epsilon_by_frame = optax.polynomial_schedule(
        init_value=epsilon_begin, end_value=epsilon_end, transition_steps=epsilon_steps,
        power=1.0)

    def q(params, obs):  # hk.Flatten then MLP([hidden_units, num_actions]); obs [B, ...]
        return experiment.mlp_apply(params, obs.reshape(obs.shape[0], -1))

    def init(key):
        params = experiment.mlp_init(key, (obs_size, hidden_units, num_actions))
        example = {"obs_tm1": jnp.zeros(obs_spec.shape), "a_tm1": jnp.zeros((), jnp.int32),
                   "r_t": jnp.zeros(()), "discount_t": jnp.zeros(()),
                   "obs_t": jnp.zeros(obs_spec.shape)}
        return State(params, params, optimizer.init(params), jnp.zeros(()), jnp.zeros(()),
                     replay.init(example, replay_capacity), jnp.zeros(obs_spec.shape))

    def begin(state, timestep, key):
        del key
        return state._replace(actor_count=jnp.zeros(()), obs_tm1=timestep.observation)

    def act(state, timestep, key):
        q_values = q(state.online, timestep.observation[None])[0]
        epsilon = epsilon_by_frame(state.actor_count)
        action = rlax.epsilon_greedy(epsilon).sample(key, q_values)
        return action, state._replace(actor_count=state.actor_count + 1)

    def act_greedy(state, timestep):
        return jnp.argmax(q(state.online, timestep.observation[None])[0])

    def loss(online, target, batch):
        q_tm1 = q(online, batch["obs_tm1"])
        q_t_val = q(target, batch["obs_t"])
        q_t_select = q(online, batch["obs_t"])
        td_error = jax.vmap(rlax.double_q_learning)(
            q_tm1, batch["a_tm1"], batch["r_t"], discount_factor * batch["discount_t"],
            q_t_val, q_t_select)
        return jnp.mean(rlax.l2_loss(td_error))

    def learner_step(state, key):
        batch = replay.sample(state.buffer, key, batch_size)
        target = rlax.periodic_update(state.online, state.target, state.learner_count,
                                      target_period)
        grads = jax.grad(loss)(state.online, target, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state)
        online = optax.apply_updates(state.online, updates)
        return state._replace(online=online, target=target, opt_state=opt_state,
                              learner_count=state.learner_count + 1)

    def observe(state, action, timestep, key):
        row = {"obs_tm1": state.obs_tm1[None], "a_tm1": action.astype(jnp.int32)[None],
               "r_t": timestep.reward[None], "discount_t": timestep.discount[None],
               "obs_t": timestep.observation[None]}
        state = state._replace(buffer=replay.add(state.buffer, row),
                               obs_tm1=timestep.observation)
        return jax.lax.cond(state.buffer.size >= batch_size, learner_step,
                            lambda s, _: s, state, key)

    return experiment.Agent(init, begin, act, observe, act_greedy)


# train(**overrides) and main(**overrides): see experiment.catch_entry_points.
train, main = experiment.catch_entry_points(make_agent, DEFAULTS)

if __name__ == "__main__":
    main()
