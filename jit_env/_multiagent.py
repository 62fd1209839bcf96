"""Multi-agent helpers: `Opponent`, `FixedOpponent`, `agent_spec` (in `jit_env.wrappers`).

A multi-agent environment (``env.agent_ids`` is a tuple of ``N`` names, see
`jit_env.Environment.agent_ids`) carries its agents on the leading axis of the
observation, action, reward and discount (after any batch axes), with one
``step_type`` shared by all agents. The generic wrappers need nothing more:
`TimeLimit` and the auto-resets act on the shared ``step_type``, and
`EpisodeStatistics` shapes its returns like the reward, i.e. ``[N]`` per
agent (``[B, N]`` batched).

`FixedOpponent` turns such an environment into a single-agent one: one agent
is the learner, a fixed `Opponent` policy plays all the others inside ``step``
(no host loop). Its parameters live in the wrapper's state, so a self-play
trainer can replace them inside a compiled program (`set_opponent_params`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import wrapper_state


class Opponent(NamedTuple):
    """A policy for the agents that `FixedOpponent` controls (pure functions).

    Attributes:
      init: ``() -> carry``: the policy's recurrent state at the start of an
        episode for ONE agent (a pytree; ``()`` for a memoryless policy).
      act: ``(params, carry, observation, key) -> (action, carry)`` for ONE
        agent: ``observation`` is that agent's observation (the environment's
        observation without the agent axis), ``action`` must conform to that
        agent's action spec. `FixedOpponent` vmaps it over the opponents.
      params: the default parameters passed to ``act`` (any pytree, may be
        ``None``); kept in the wrapper state and replaceable.
      stochastic: whether ``act`` uses its key; if False the wrapper never
        splits a key for it (PRNG work only where randomness is needed).
    """

    init: Callable[[], Any]
    act: Callable[[Any, Any, Any, jax.Array], tuple[Any, Any]]
    params: Any = None
    stochastic: bool = False


@wrapper_state
class FixedOpponentState(NamedTuple):
    """State of `FixedOpponent`.

    Attributes:
      inner: the multi-agent environment's state.
      opponent_params: the `Opponent` parameters in use (kept across episodes).
      opponent_carry: the opponents' recurrent states, leading axis ``N - 1``.
      observation: the full ``[N, ...]`` observation of the last TimeStep (the
        opponents act on it at the next ``step``).
      opponent_key: the opponents' PRNG key (split only if ``stochastic``).
    """

    inner: Any
    opponent_params: Any
    opponent_carry: Any
    observation: Any
    opponent_key: jax.Array


def _num_agents(env: _core.Environment, name: str) -> int:
    ids = env.agent_ids
    if ids is None:
        raise ValueError(
            f"{name}: `env` must be a multi-agent environment (env.agent_ids is None for {env})"
        )
    return len(ids)


def agent_spec(spec: specs.Spec, index: int = 0) -> specs.Spec:
    """The spec of one agent's slice of a multi-agent spec (the leading axis removed).

    Args:
      spec: a primitive spec (`specs.Array`, `specs.BoundedArray`,
        `specs.DiscreteArray`) of shape ``[N, ...]``, or a `specs.Tree` /
        `specs.Dict` / `specs.Tuple` of them.
      index: which agent (its bounds are taken; they may differ per agent).

    Returns:
      A spec of the same class with shape ``[...]`` and agent ``index``'s bounds.

    Raises:
      ValueError: if a leaf has rank 0 or ``index`` is out of range.
      TypeError: for a `specs.Batched` or unknown spec class.
    """
    if isinstance(spec, specs.DiscreteArray):
        _check_index(spec, index)
        return specs.DiscreteArray(spec.num_values[index], dtype=spec.dtype, name=spec.name)
    if isinstance(spec, specs.BoundedArray):
        _check_index(spec, index)
        return specs.BoundedArray(
            spec.shape[1:],
            spec.dtype,
            np.broadcast_to(spec.minimum, spec.shape)[index],
            np.broadcast_to(spec.maximum, spec.shape)[index],
            name=spec.name,
        )
    if isinstance(spec, specs.Array):
        _check_index(spec, index)
        return specs.Array(spec.shape[1:], spec.dtype, name=spec.name)
    if isinstance(spec, specs.Tree):
        return jax.tree.map(lambda s: agent_spec(s, index), spec)
    raise TypeError(f"agent_spec: cannot remove the agent axis of {spec!r}")


def _check_index(spec: specs.Array, index: int) -> None:
    if not spec.shape:
        raise ValueError(f"agent_spec: {spec!r} has no leading agent axis (rank 0)")
    if not 0 <= index < spec.shape[0]:
        raise ValueError(f"agent_spec: `index` must be in [0, {spec.shape[0]}), got {index}")


class FixedOpponent(_core.Wrapper):
    """A single-agent view of a multi-agent environment: a fixed policy plays the others.

    * TimeStep: agent ``agent``'s slice of the reward, discount and
      observation (``step_type`` unchanged); ``extras`` gains
      ``"opponent_reward"`` (``float32 [N - 1]``, the other agents' rewards).
    * Action: agent ``agent``'s action (`agent_spec` of the environment's).
      The opponents act with ``opponent.act`` on their own observations of the
      previous TimeStep, with their own carry; both actions go to one
      ``env.step``.
    * State: `FixedOpponentState`; ``reset`` sets ``opponent_params`` to
      ``opponent.params``, ``reset_after`` keeps the previous episode's (so a
      swapped-in snapshot survives auto-resets); the carry restarts at
      ``opponent.init()`` every episode.
    * ``agent_ids``: ``None`` (a single-agent environment).

    This is slimevolleygym's ``SlimeVolleyEnv(otherAction=None)`` mode (the
    built-in ``BaselinePolicy`` plays the left agent), made generic: for an
    ``N``-agent environment the opponent policy is vmapped over the ``N - 1``
    other agents (shared parameters).

    Args:
      env: a multi-agent environment (``env.agent_ids`` not ``None``),
        unbatched. Use `VmapAutoReset` etc. outside this wrapper.
      opponent: the `Opponent` policy.
      agent: index of the learner on the agent axis.

    Raises:
      ValueError: if ``env`` is not multi-agent or ``agent`` is out of range.
      TypeError: if ``opponent`` is not an `Opponent`.
    """

    def __init__(self, env: _core.Environment, opponent: Opponent, *, agent: int = 0):
        super().__init__(env)
        n = _num_agents(env, type(self).__name__)
        if isinstance(agent, bool) or not isinstance(agent, (int, np.integer)) or not (
            0 <= agent < n
        ):
            raise ValueError(f"FixedOpponent: `agent` must be an int in [0, {n}), got {agent!r}")
        if not isinstance(opponent, Opponent):
            raise TypeError(
                f"FixedOpponent: `opponent` must be a jit_env.wrappers.Opponent, "
                f"got {type(opponent).__name__}"
            )
        self._opponent = opponent
        self._agent = int(agent)
        self._others = np.array([i for i in range(n) if i != self._agent])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, agent={self._agent})"

    @property
    def agent_ids(self) -> tuple[str, ...] | None:
        """``None``: the view is single-agent (the other agents are the fixed opponent)."""
        return None

    @property
    def agent(self) -> int:
        """The learner's index on the agent axis."""
        return self._agent

    @property
    def opponent(self) -> Opponent:
        """The opponent policy."""
        return self._opponent

    def _carry(self) -> Any:
        carry = self._opponent.init()
        return jax.tree.map(lambda x: jnp.stack([jnp.asarray(x)] * len(self._others)), carry)

    def _view(self, ts: _core.TimeStep) -> _core.TimeStep:
        i = self._agent
        extras = dict(ts.extras or {})
        extras["opponent_reward"] = jnp.asarray(ts.reward)[self._others]
        return dataclasses.replace(
            ts,
            reward=ts.reward[i],
            discount=ts.discount[i],
            observation=jax.tree.map(lambda x: x[i], ts.observation),
            extras=extras,
        )

    def _start(
        self, inner: Any, ts: _core.TimeStep, params: Any, key: jax.Array
    ) -> tuple[FixedOpponentState, _core.TimeStep]:
        state = FixedOpponentState(inner, params, self._carry(), ts.observation, key)
        return state, self._view(ts)

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        key, opponent_key = jax.random.split(key)
        inner, ts = self.env.reset(key, options=options)
        return self._start(inner, ts, self._opponent.params, opponent_key)

    def reset_after(
        self, previous: FixedOpponentState, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        key, opponent_key = jax.random.split(key)
        inner, ts = _core.reset_after(self.env, previous.inner, key, options=options)
        return self._start(inner, ts, previous.opponent_params, opponent_key)

    def step(self, state: FixedOpponentState, action: Any) -> tuple[Any, _core.TimeStep]:
        others = self._others
        key = state.opponent_key
        if self._opponent.stochastic:
            key, act_key = jax.random.split(key)
            keys = jax.random.split(act_key, len(others))
        else:
            keys = jnp.stack([key] * len(others))
        observations = jax.tree.map(lambda x: x[others], state.observation)
        params = state.opponent_params
        opp_action, carry = jax.vmap(self._opponent.act, in_axes=(None, 0, 0, 0))(
            params, state.opponent_carry, observations, keys
        )
        full = jax.tree.map(
            lambda mine, theirs: _insert(jnp.asarray(mine), theirs, self._agent),
            action,
            opp_action,
        )
        inner, ts = self.env.step(state.inner, full)
        new = FixedOpponentState(inner, params, carry, ts.observation, key)
        return new, self._view(ts)

    def observation_spec(self) -> specs.Spec:
        return agent_spec(self.env.observation_spec(), self._agent)

    def action_spec(self) -> specs.Spec:
        return agent_spec(self.env.action_spec(), self._agent)

    def reward_spec(self) -> specs.Spec:
        return agent_spec(self.env.reward_spec(), self._agent)

    def discount_spec(self) -> specs.Spec:
        return agent_spec(self.env.discount_spec(), self._agent)

    def render(self, state: FixedOpponentState) -> Any:
        return self.env.render(state.inner)


def _insert(mine: jax.Array, theirs: jax.Array, index: int) -> jax.Array:
    """``theirs`` (``[N - 1, ...]``) with ``mine`` (``[...]``) inserted at ``index``."""
    if mine.shape != theirs.shape[1:]:
        raise ValueError(
            f"FixedOpponent.step: `action` must have shape {theirs.shape[1:]} "
            f"(one agent's action), got {mine.shape}"
        )
    if mine.dtype != theirs.dtype:
        raise TypeError(
            f"FixedOpponent.step: `action` must have dtype {theirs.dtype}, got {mine.dtype}"
        )
    return jnp.concatenate([theirs[:index], mine[None], theirs[index:]], axis=0)


def set_opponent_params(state: Any, params: Any) -> Any:
    """``state`` with the `FixedOpponent` parameters replaced by ``params``.

    Searches ``state`` and its ``inner`` fields (the wrapper-state chain, e.g.
    ``EpisodeStatisticsState(inner=TimeLimitState(inner=FixedOpponentState))``)
    for the first `FixedOpponentState`. Works under ``jit`` and on batched
    states (``params`` must then carry the batch axes the state has).

    Raises:
      ValueError: if there is no `FixedOpponentState` in the chain.
    """
    if isinstance(state, FixedOpponentState):
        return state._replace(opponent_params=params)
    inner = getattr(state, "inner", None)
    if inner is None or not hasattr(state, "_replace"):
        raise ValueError("set_opponent_params: no FixedOpponentState found in `state`")
    return state._replace(inner=set_opponent_params(inner, params))
