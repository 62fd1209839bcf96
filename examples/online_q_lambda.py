"""An online Q(λ) agent on bsuite's Catch, the whole training in one ``jax.jit``.

A jit_env rewrite of rlax's ``examples/online_q_lambda.py`` (google-deepmind/rlax)
with ``import jit_env.ops as rlax``: the same algorithm and defaults — seed 42, 500
training episodes, an MLP with 50 hidden units, sequences of the latest 4
``(action, timestep)`` pairs (rlax's ``SequenceAccumulator``: they overlap and
cross episode boundaries), ε-greedy with ε = 0.01, λ = 0.9, Adam 0.005, after
every step once 4 pairs are held one gradient step on the mean ``l2_loss`` of the
``q_lambda`` errors of the sequence's 3 transitions, masked where a transition
starts from a ``LAST`` step; a greedy evaluation of 100 episodes every 50
episodes (`experiment.run_loop`, rlax's ``examples/experiment.py``).

As in rlax, the discount of each transition is the environment's (times the
not-``LAST`` mask): rlax defines a ``discount_factor`` flag (0.99) but this
example does not use it. The ``FIRST`` step of an episode enters the sequence
with action 0, reward 0 and discount 0, as rlax's accumulator replaces dm_env's
``None`` reward and discount by zeros.

Run: python examples/online_q_lambda.py
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
from jit_env import StepType

DEFAULTS = {"seed": 42, "train_episodes": 500, "num_hidden_units": 50, "sequence_length": 4,
                "epsilon": 0.01, "lambda_": 0.9, "learning_rate": 0.005, "eval_episodes": 100,
                "evaluate_every": 50}
"""rlax's ``FLAGS`` defaults (its unused ``discount_factor`` left out)."""


class Sequence(NamedTuple):
    """The latest ``sequence_length`` pairs, oldest first."""

    a_tm1: jax.Array
    step_type: jax.Array
    reward: jax.Array
    discount: jax.Array
    observation: jax.Array


class State(NamedTuple):
    params: Any
    opt_state: Any
    sequence: Sequence
    count: jax.Array  # pairs pushed so far (the accumulator is ready at sequence_length)


def make_agent(env, *, num_hidden_units, sequence_length, epsilon, lambda_, learning_rate,
               **_ignored):
    """The online Q(λ) `experiment.Agent` for ``env``."""
    obs_spec, num_actions = env.observation_spec(), int(env.action_spec().num_values)
    obs_size = int(jnp.prod(jnp.array(obs_spec.shape)))
    optimizer = optax.adam(learning_rate)

    def network(params, obs):  # flatten one observation, MLP([hidden, num_actions])
        return experiment.mlp_apply(params, jnp.reshape(obs, (-1,)))

    def push(state, action, step_type, reward, discount, observation):
        new = Sequence(action, step_type, reward, discount, observation)
        sequence = jax.tree.map(lambda old, x: jnp.concatenate([old[1:], x[None]]),
                                state.sequence, new)
        return state._replace(sequence=sequence, count=state.count + 1)

    def loss(params, seq: Sequence):
        """Q(λ) loss of one sequence (rlax's ``OnlineQLambda._loss``)."""
        q = jax.vmap(network, in_axes=(None, 0))(params, seq.observation)
        # Use a mask since the sequence could cross episode boundaries.
        mask = jnp.not_equal(seq.step_type, int(StepType.LAST))
        a_tm1, r_t = seq.a_tm1[1:], seq.reward[1:]
        # Discount ought to be zero on a LAST timestep; the mask ensures this.
        discount_t = seq.discount[1:] * mask[1:]
        q_tm1, q_t, mask_tm1 = q[:-1], q[1:], mask[:-1]
        td_error_tm1 = mask_tm1 * rlax.q_lambda(q_tm1, a_tm1, r_t, discount_t, q_t,
                                                lambda_=lambda_)
        return jnp.sum(rlax.l2_loss(td_error_tm1)) / jnp.sum(mask_tm1)

    def learner_step(state):
        grads = jax.grad(loss)(state.params, state.sequence)
        updates, opt_state = optimizer.update(grads, state.opt_state)
        return state._replace(params=optax.apply_updates(state.params, updates),
                              opt_state=opt_state)

    def init(key):
        params = experiment.mlp_init(key, (obs_size, num_hidden_units, num_actions))
        n = sequence_length
        sequence = Sequence(jnp.zeros(n, jnp.int32), jnp.zeros(n, jnp.int32), jnp.zeros(n),
                            jnp.zeros(n), jnp.zeros((n, *obs_spec.shape)))
        return State(params, optimizer.init(params), sequence, jnp.zeros((), jnp.int32))

    def begin(state, timestep, key):
        del key  # rlax: push(timestep, None), reward and discount None -> 0
        return push(state, jnp.int32(0), timestep.step_type.astype(jnp.int32), jnp.float32(0),
                    jnp.float32(0), timestep.observation)

    def act(state, timestep, key):
        q = network(state.params, timestep.observation)
        return rlax.epsilon_greedy(epsilon).sample(key, q).astype(jnp.int32), state

    def observe(state, action, timestep, key):
        del key
        state = push(state, action, timestep.step_type.astype(jnp.int32), timestep.reward,
                     timestep.discount, timestep.observation)
        return jax.lax.cond(state.count >= sequence_length, learner_step, lambda s: s, state)

    def act_greedy(state, timestep):
        return jnp.argmax(network(state.params, timestep.observation))

    return experiment.Agent(init, begin, act, observe, act_greedy)


# train(**overrides) and main(**overrides): see experiment.catch_entry_points.
train, main = experiment.catch_entry_points(make_agent, DEFAULTS)


if __name__ == "__main__":
    main()
