"""An online Q-learning agent with PopArt on bsuite's Catch with large rewards, in one jit.

A jit_env rewrite of rlax's ``examples/pop_art.py`` (google-deepmind/rlax) with
``import jit_env.ops as rlax``: the same algorithm and defaults — seed 42, Catch's
rewards scaled by 10,000 (bsuite's ``RewardScale`` wrapper; here
`jit_env.wrappers.ScaleReward`), 1,000 training episodes, an MLP with 50 hidden
units, ε-greedy with ε = 0.01, Adam 0.005, ``rlax.popart(num_outputs=1, step_size=3e-3,
scale_lb=1e-5, scale_ub=1e5)`` with one normalisation (index 0) shared by every
action's output, and after every step one gradient step on the latest
transition: the target ``r_t + discount_t · max unnormalize(q(s_t))`` updates the
PopArt statistics (ART), the final linear layer is rescaled to preserve its
unnormalised outputs (POP), and the loss is ``l2_loss`` of the normalised target
(stopped) minus the rescaled network's normalised ``q(s_{t-1}, a_{t-1})``; a greedy
evaluation of 100 episodes every 50 episodes (`experiment.run_loop`, rlax's
``examples/experiment.py``). Returns are in [-10,000, 10,000]; the report divides
them by the scale.

As in rlax: the discount is the environment's (rlax defines a ``discount_factor``
flag, 0.99, but its transitions carry the raw discount), and the POP-rescaled
layer is used only inside the loss — the parameters that are stored and updated
are the un-rescaled ones (rlax's ``learner_step`` applies the gradient to
``params``, not to the popped parameters), so only the statistics carry over from
one step to the next.

Run: python examples/pop_art.py
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
from jit_env import wrappers

DEFAULTS = {"seed": 42, "reward_scale": 10000.0, "train_episodes": 1000, "num_hidden_units": 50,
                "epsilon": 0.01, "learning_rate": 0.005, "pop_art_step_size": 3e-3, "eval_episodes": 100,
                "evaluate_every": 50}
"""rlax's ``FLAGS`` defaults (its unused ``discount_factor`` left out)."""


class State(NamedTuple):
    params: Any
    opt_state: Any
    pop_art_state: Any
    obs_tm1: jax.Array


def make_agent(env, *, num_hidden_units, epsilon, learning_rate, pop_art_step_size, **_ignored):
    """The PopArt Q-learning `experiment.Agent` for ``env``."""
    obs_spec, num_actions = env.observation_spec(), int(env.action_spec().num_values)
    obs_size = int(jnp.prod(jnp.array(obs_spec.shape)))
    optimizer = optax.adam(learning_rate)
    initial_pop_art_state, pop_art_update = rlax.popart(
        num_outputs=1, step_size=pop_art_step_size, scale_lb=1e-5, scale_ub=1e5)

    def network(params, obs):  # flatten one observation, MLP([hidden, num_actions])
        return experiment.mlp_apply(params, jnp.reshape(obs, (-1,)))

    def loss(params, pop_art_state, obs_tm1, a_tm1, r_t, discount_t, obs_t):
        indices = jnp.array(0)  # only one output for normalisation
        # Targets from the unnormalised Q-values of the network.
        q_t = rlax.unnormalize(pop_art_state, network(params, obs_t), indices)
        target_tm1 = r_t + discount_t * jnp.max(q_t)
        # ART: update the statistics; POP: rescale the final layer ("w2", "b2").
        linear = {"w": params["w2"], "b": params["b2"]}
        popped, new_pop_art_state = pop_art_update(
            params=linear, state=pop_art_state, targets=target_tm1, indices=indices)
        popped_params = dict(params, w2=popped["w"], b2=popped["b"])
        # Normalised target under the new statistics; TD error of the popped network.
        norm_target_tm1 = rlax.normalize(new_pop_art_state, target_tm1, indices)
        norm_q_tm1 = network(popped_params, obs_tm1)
        td_error = jax.lax.stop_gradient(norm_target_tm1) - norm_q_tm1[a_tm1]
        return rlax.l2_loss(td_error), new_pop_art_state

    def init(key):
        params = experiment.mlp_init(key, (obs_size, num_hidden_units, num_actions))
        return State(params, optimizer.init(params), initial_pop_art_state(),
                     jnp.zeros(obs_spec.shape))

    def begin(state, timestep, key):
        del key
        return state._replace(obs_tm1=timestep.observation)

    def act(state, timestep, key):
        # ε-greedy on the normalised values: normalisation is affine with a positive
        # scale, so the argmax is that of the unnormalised values.
        norm_q = network(state.params, timestep.observation)
        return rlax.epsilon_greedy(epsilon).sample(key, norm_q).astype(jnp.int32), state

    def observe(state, action, timestep, key):
        del key
        grads, pop_art_state = jax.grad(loss, has_aux=True)(
            state.params, state.pop_art_state, state.obs_tm1, action, timestep.reward,
            timestep.discount, timestep.observation)
        updates, opt_state = optimizer.update(grads, state.opt_state)
        return State(optax.apply_updates(state.params, updates), opt_state, pop_art_state,
                     timestep.observation)

    def act_greedy(state, timestep):
        return jnp.argmax(network(state.params, timestep.observation))

    return experiment.Agent(init, begin, act, observe, act_greedy)


# train(**overrides) and main(**overrides): see experiment.catch_entry_points; main
# reports the returns unscaled.
train, main = experiment.catch_entry_points(
    make_agent, DEFAULTS,
    wrap=lambda env, config: wrappers.ScaleReward(env, config["reward_scale"]),
    banner=lambda config: f" (rewards x {config['reward_scale']:g}; reported unscaled)",
    scale_key="reward_scale")

if __name__ == "__main__":
    main()
