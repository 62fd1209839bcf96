"""Scan-based rollouts and the `Trajectory` that turns TimeSteps into operator inputs.

`rollout` runs a policy in an environment (single or batched) for ``T`` steps in
one ``lax.scan``; `episodes` samples whole episodes from reset, each padded to a
``horizon`` (rlx's rollout unit, dasayan05/rlx ``rlx/agent.py``). Both return a
time-major `Trajectory`:

- ``trajectory.timesteps``: the ``T + 1`` TimeSteps ``[T + 1, B, ...]`` — the one the
  rollout started from, then one per step;
- ``trajectory.actions``: the ``T`` actions ``[T, B, ...]``;
- ``trajectory.extras``: what the policy returned per step (log-probabilities,
  values, …) ``[T, B, ...]``;
- ``trajectory.policy_state``: the policy state at the start (recurrent policies);
- with ``return_states=True``, ``trajectory.env_states`` ``[T + 1, B, ...]`` and
  ``trajectory.policy_states`` ``[T, B, ...]``.

Transition ``t`` goes from ``timesteps[t]`` to ``timesteps[t + 1]`` under
``actions[t]``. Its reward and discount are those of ``timesteps[t + 1]``. It
*ends an episode* when ``timesteps[t + 1]`` is ``LAST`` (no auto-reset, or
``AutoReset(mode="next_step")``) or is a ``FIRST`` returned by ``step`` (same-step
auto-reset). An ended transition is a *termination* when its discount is 0 and
a *truncation* otherwise; the observation to bootstrap from is
``timesteps[t + 1].extras["final_observation"]`` when present (same-step
auto-reset puts the true last observation there) and ``observation`` otherwise.
A transition that starts from a ``LAST`` TimeStep (the reset step of
``next_step`` mode, whose action is ignored, and the padding after an episode of
`episodes`) is *invalid* and is masked out.

The policy signature is ``policy(params, timestep, policy_state, key) ->
(action, policy_state, extras)``: it sees the whole (batched) TimeStep and gets
one key per step.
"""

from jit_env.rollout._episodes import episodes
from jit_env.rollout._scan import RolloutCarry, rollout
from jit_env.rollout._trajectory import Trajectory, Transitions, concatenate

__all__ = ["RolloutCarry", "Trajectory", "Transitions", "concatenate", "episodes", "rollout"]
