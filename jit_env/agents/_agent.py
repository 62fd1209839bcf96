"""The functional agent interface shared by every bundled algorithm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from jit_env import _core
from jit_env.rollout import Trajectory

Params = Any
PolicyState = Any
Metrics = dict[str, jax.Array]


def _no_policy_state(batch_shape: tuple[int, ...]) -> None:
    """The ``initial_policy_state`` of a feed-forward agent: no recurrent state."""
    del batch_shape


class AgentState(NamedTuple):
    """What an agent learns: network parameters, optimiser state, update count.

    Attributes:
      params: network parameters (a flax variable dict).
      opt_state: optax optimiser state.
      step: number of updates applied, ``int32`` scalar.
      extra: algorithm-specific state as a NamedTuple (DQN's
        `jit_env.agents.dqn.DQNExtra`: target network, replay buffer, step
        counter; the actor-critic family's ``ActorCriticExtra``: lagged
        behaviour parameters), or ``None`` for an agent that keeps none (PPO).
    """

    params: Params
    opt_state: Any
    step: jax.Array
    extra: Any = None


class Agent(NamedTuple):
    """An agent as a NamedTuple of pure functions (optax's GradientTransformation style).

    Attributes:
      init: ``init(key) -> AgentState``: fresh parameters and optimiser state
        (the factory already knows the environment's specs).
      act: ``act(params, timestep, policy_state, key) -> (action, policy_state,
        extras)``; the `jit_env.rollout.rollout` policy signature, batched over
        the environments of ``timestep``.
      update: ``update(agent_state, trajectory, key) -> (agent_state, metrics)``.
      initial_policy_state: ``initial_policy_state(batch_shape) -> policy_state``
        (``None`` for feed-forward agents).
      act_params: ``act_params(agent_state) -> params`` passed to ``act`` when
        collecting data (and when evaluating with ``policy="sample"``):
        ``agent_state.params`` by default; an agent acting with other parameters
        (a lagged behaviour copy, an exploration schedule that depends on
        ``agent_state.step``) returns them.
      act_greedy: ``act_greedy(agent_state.params, timestep, policy_state, key)
        -> (action, policy_state, extras)``, the evaluation policy: the argmax
        of the logits or Q-values for discrete actions (DQN with ε = 0), the
        mean clipped to the action bounds for a Gaussian policy, the recurrent
        state carried as in ``act``. It always takes the *current* parameters
        (``agent_state.params``; IMPALA's lagged behaviour copy is not used) and
        ignores ``key``. ``None`` for an agent without one
        (`jit_env.agents.evaluate_policy` then refuses ``policy="greedy"``).

    The argument order of ``act`` is the rollout's ``policy(params, timestep,
    policy_state, key)``; STYLE.md's example puts ``policy_state`` before
    ``timestep`` — we follow the rollout so one function serves both.
    """

    init: Callable[[jax.Array], AgentState]
    act: Callable[[Params, _core.TimeStep, PolicyState, jax.Array], tuple[Any, Any, Any]]
    update: Callable[[AgentState, Trajectory, jax.Array], tuple[AgentState, Metrics]]
    initial_policy_state: Callable[[tuple[int, ...]], PolicyState] = _no_policy_state
    act_params: Callable[[AgentState], Params] = lambda agent_state: agent_state.params
    act_greedy: (
        Callable[[Params, _core.TimeStep, PolicyState, jax.Array], tuple[Any, Any, Any]] | None
    ) = None
