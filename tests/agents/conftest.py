"""What the on-policy agents' loss tests share: a hand-made trajectory and its spec."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jit_env import _core, specs
from jit_env.rollout import Trajectory

FIRST, MID = int(_core.StepType.FIRST), int(_core.StepType.MID)


def _hand_made_trajectory(rng: np.random.Generator, t: int = 6, b: int = 2,
                          reward_range: tuple[float, float] = (0.5, 1.5)):
    step_type = np.full((t + 1, b), MID, np.int8)
    step_type[0] = FIRST
    discount = np.ones((t + 1, b), np.float32)
    step_type[2, 0], discount[2, 0] = FIRST, 0.0   # termination, auto-reset
    step_type[4, 1] = FIRST                         # truncation, auto-reset
    obs = rng.normal(size=(t + 1, b, 4)).astype(np.float32)
    final = obs.copy()
    final[2, 0], final[4, 1] = rng.normal(size=4), rng.normal(size=4)
    reward = rng.uniform(*reward_range, size=(t + 1, b)).astype(np.float32)
    timesteps = _core.TimeStep(
        step_type=jnp.asarray(step_type), reward=jnp.asarray(reward),
        discount=jnp.asarray(discount), observation=jnp.asarray(obs),
        extras={"final_observation": jnp.asarray(final)},
    )
    actions = rng.integers(0, 2, size=(t, b))
    log_mu = np.log(rng.uniform(0.2, 0.8, size=(t, b))).astype(np.float32)
    traj = Trajectory(timesteps=timesteps, actions=jnp.asarray(actions, jnp.int32),
                      extras={"log_prob": jnp.asarray(log_mu)})
    end = step_type[1:] == FIRST
    return traj, {
        "obs": obs[:-1], "next_obs": np.where(end[..., None], final[1:], obs[1:]),
        "r": reward[1:].astype(np.float64), "d": discount[1:].astype(np.float64),
        "actions": actions, "log_mu": log_mu, "end": end, "trunc": end & (discount[1:] > 0),
    }


@pytest.fixture(scope="session")
def hand_made_trajectory():
    """``hand_made_trajectory(rng, t=6, b=2, reward_range=(0.5, 1.5)) -> (traj, data)``.

    A ``[T+1, B]`` same-step auto-reset `Trajectory` of CartPole-shaped (``[4]``)
    observations: environment 0 terminates after transition 1 (discount 0) and
    restarts; environment 1 is truncated by a time limit after transition 3
    (discount 1, ``FIRST`` with a distinct final observation); everything else is
    ``MID``. Actions in {0, 1}; behaviour log-probabilities ``extras["log_prob"]``
    random. ``data`` holds NumPy per transition ``[T, B]``: ``obs`` (s_t),
    ``next_obs`` (the final observation where an episode ended), ``r``, ``d``
    (float64), ``actions``, ``log_mu``, ``end`` (the next step is ``FIRST``) and
    ``trunc`` (ended with discount 1).
    """
    return _hand_made_trajectory


@pytest.fixture(scope="session")
def cartpole_env_spec():
    """The `EnvironmentSpec` of the hand-made trajectory: ``[4]`` float32, 2 actions."""
    return specs.EnvironmentSpec(
        observations=specs.Array((4,), jnp.float32), actions=specs.DiscreteArray(2),
        rewards=specs.Array((), jnp.float32),
        discounts=specs.BoundedArray((), jnp.float32, 0.0, 1.0),
    )


def _network_outputs(config, params, data):
    from jit_env.agents.networks import ActorCritic

    net = ActorCritic(2, False, config.hidden_sizes, config.activation)
    logits, v = net.apply(params, jnp.asarray(data["obs"]))
    v_next = net.apply(params, jnp.asarray(data["next_obs"]), method=ActorCritic.value)
    return (np.asarray(logits, np.float64), np.asarray(v, np.float64),
            np.asarray(v_next, np.float64))


@pytest.fixture(scope="session")
def network_outputs():
    """``network_outputs(config, params, data) -> (logits, v, v_next)``: the discrete
    `ActorCritic` of ``config`` on the hand-made ``data`` (``obs`` and ``next_obs``),
    as NumPy float64 ``[T, B, 2]``, ``[T, B]``, ``[T, B]``."""
    return _network_outputs


def _greedy_return_after_training(config, factory, key, episodes=10):
    import jax

    from jit_env.agents import evaluate_policy, make_trainer

    trainer = make_trainer(config, factory)
    state, _ = jax.jit(lambda k: trainer.run(trainer.init(k), config.num_updates))(key)
    returns, _ = jax.jit(lambda a, e, k: evaluate_policy(config, trainer.agent, a, e, k,
                                                         episodes=episodes))(
        state.agent_state, state.env_state, jax.random.PRNGKey(1))
    return float(np.mean(returns))


@pytest.fixture(scope="session")
def greedy_return_after_training():
    """``greedy_return_after_training(config, factory, key, episodes=10) -> float``: the
    mean greedy return over ``episodes`` evaluation episodes (key ``PRNGKey(1)``) after
    ``config.num_updates`` updates of ``make_trainer(config, factory)`` from ``key``."""
    return _greedy_return_after_training
