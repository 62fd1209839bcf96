"""A simple online Q-learning agent on bsuite's Catch, the whole training in one ``jax.jit``.

A jit_env rewrite of rlax's ``examples/online_q_learning.py`` (google-deepmind/rlax)
with ``import jit_env.ops as rlax``: the same algorithm and defaults — seed 42, 500
training episodes, an MLP with 50 hidden units, ε-greedy with ε = 0.01, γ 0.99,
Adam 0.005, and after every step one gradient step on ``l2_loss`` of the
``q_learning`` TD error of the latest transition, whose ``q_t`` is computed with
the parameters before that step (when choosing the next action, as rlax's loop
does); a greedy evaluation of 100 episodes every 50 episodes. rlax writes this
loop by hand (with ``jax.experimental.optix``, now optax); here it runs inside
`experiment.run_loop` (rlax's ``examples/experiment.py``), which has the same order of
acting, stepping and learning. Returns are in [-1, 1].

Run: python examples/online_q_learning.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))  # experiment.py

import experiment

import jit_env.ops as rlax

DEFAULTS = {"seed": 42, "train_episodes": 500, "hidden_units": 50, "epsilon": 0.01,
                "discount_factor": 0.99, "learning_rate": 0.005, "eval_episodes": 100,
                "evaluate_every": 50}
"""rlax's ``FLAGS`` defaults."""


class State(NamedTuple):
    params: Any
    opt_state: Any
    obs_tm1: jax.Array
    a_tm1: jax.Array


def make_agent(env, *, hidden_units, epsilon, discount_factor, learning_rate, **_ignored):
    """The online Q-learning `experiment.Agent` for ``env``."""
    obs_spec, num_actions = env.observation_spec(), int(env.action_spec().num_values)
    obs_size = int(jnp.prod(jnp.array(obs_spec.shape)))
    optimizer = optax.adam(learning_rate)

    def network(params, obs):  # flatten one observation, MLP([hidden_units, num_actions])
        return experiment.mlp_apply(params, jnp.reshape(obs, (-1,)))

    def policy(params, key, obs):
        """Sample action from epsilon-greedy policy."""
        q = network(params, obs)
        return q, rlax.epsilon_greedy(epsilon=epsilon).sample(key, q)

    def update(params, opt_state, obs_tm1, a_tm1, r_t, discount_t, q_t):
        """Update network weights wrt Q-learning loss."""

        def q_learning_loss(params):
            q_tm1 = network(params, obs_tm1)
            return rlax.l2_loss(rlax.q_learning(q_tm1, a_tm1, r_t, discount_t, q_t))

        updates, opt_state = optimizer.update(jax.grad(q_learning_loss)(params), opt_state)
        return optax.apply_updates(params, updates), opt_state

    def init(key):
        params = experiment.mlp_init(key, (obs_size, hidden_units, num_actions))
        return State(params, optimizer.init(params), jnp.zeros(obs_spec.shape),
                     jnp.zeros((), jnp.int32))

    def begin(state, timestep, key):
        _, a = policy(state.params, key, timestep.observation)
        return state._replace(obs_tm1=timestep.observation, a_tm1=a)

    def act(state, timestep, key):
        del timestep, key  # the action was chosen with the previous update's q_t
        return state.a_tm1, state

    def observe(state, action, timestep, key):
        q_t, a_t = policy(state.params, key, timestep.observation)
        params, opt_state = update(state.params, state.opt_state, state.obs_tm1, action,
                                   timestep.reward, discount_factor * timestep.discount, q_t)
        return State(params, opt_state, timestep.observation, a_t)

    def act_greedy(state, timestep):
        return rlax.greedy().sample(jax.random.PRNGKey(0), network(state.params,
                                                                  timestep.observation))

    return experiment.Agent(init, begin, act, observe, act_greedy)


# train(**overrides) and main(**overrides): see experiment.catch_entry_points.
train, main = experiment.catch_entry_points(make_agent, DEFAULTS,
                                            banner="\nReturns range [-1.0, 1.0]")

if __name__ == "__main__":
    main()
