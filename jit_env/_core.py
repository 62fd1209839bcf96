"""The environment interface: `Environment`, `Wrapper`, `TimeStep`, `StepType`.

An environment is a pair of pure functions::

    state, timestep = env.reset(key, options=params)
    state, timestep = env.step(state, action)

All randomness lives in ``state.key``; environment parameters (``options``)
are kept in the state, so ``jax.vmap`` over keys or over a batch of options is
batching or domain randomisation with no new API. The vocabulary
(``StepType.FIRST / MID / LAST``, ``reward``, ``discount``, ``observation``)
is dm_env's; the signatures are jit_env 0.1.5's.

Termination is ``LAST`` with ``discount == 0``. Truncation (a time limit) is
``LAST`` with the environment's discount (usually 1): agents must still
bootstrap from the final observation.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar, Union

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:  # chex.dataclass is opaque to type checkers.
    from dataclasses import dataclass
else:
    from chex import dataclass

from jit_env import specs


class StateProtocol(Protocol):
    """Every environment state carries the PRNG key its future depends on.

    jit_env 0.1.5 ``_core.StateProtocol``: with the key in the state, a stored
    state replays the same future, whoever calls `Environment.step`.
    """

    key: jax.Array


class StateWithOptionsProtocol(StateProtocol, Protocol):
    """A state that also keeps the ``options`` its episode was reset with.

    jit_env 0.1.5 ``_core.StateWithOptionsProtocol``. jit_env's own states keep
    their parameters under ``params`` (see `jit_env.wrappers.options_of`);
    this protocol is for annotations written against 0.1.5.
    """

    options: Any


State = TypeVar("State", bound=Union[StateProtocol, StateWithOptionsProtocol])
"""An environment's state: a pytree carrying ``key`` (jit_env 0.1.5 ``State``).

The bound is for type checkers only; nothing checks it at run time."""
Action = TypeVar("Action")
"""An action, structured as ``action_spec()`` (jit_env 0.1.5 ``Action``)."""
Observation = TypeVar("Observation")
"""An observation, structured as ``observation_spec()`` (jit_env 0.1.5 ``Observation``)."""
RewardT = TypeVar("RewardT")
"""A (tree of) floating array(s); scalar ``float32`` for most environments."""
DiscountT = TypeVar("DiscountT")
"""A (tree of) floating array(s) in [0, 1], structured like the reward."""
StepT = TypeVar("StepT")
"""The ``step_type`` field: an ``int8`` array of `StepType` values."""
EnvOptions: TypeAlias = Any
"""A pytree of environment parameters passed to ``reset(key, options=...)``."""


class StepType:
    """Where a `TimeStep` sits in an episode, as dm_env's ``StepType``.

    The values are NumPy ``int8`` scalars (no device arrays are created at
    import time); compare them with ``timestep.step_type == StepType.LAST`` or
    use `TimeStep.first` / `mid` / `last`.
    """

    FIRST = np.int8(0)
    MID = np.int8(1)
    LAST = np.int8(2)


@dataclass(frozen=True)
class TimeStep(Generic[Observation, RewardT, DiscountT, StepT]):
    """What an environment returns on `reset` and `step` (a frozen pytree).

    Attributes:
      step_type: `StepType` value, ``int8``, shape ``[]`` (``[B]`` batched).
      reward: the reward for the transition into this step, a (tree of)
        floating array(s); 0 on ``FIRST``.
      discount: the discount for the transition into this step, in [0, 1];
        0 on termination, 1 on ``FIRST``, the environment's discount on
        truncation.
      observation: the observation of this step, structured as
        ``observation_spec()``.
      extras: a dict of auxiliary data (e.g. ``"final_observation"`` under
        `AutoReset`), or ``None``. Excluded from ``==``.

    Matches jit_env 0.1.5's ``TimeStep`` (a chex dataclass rather than
    dm_env's NamedTuple so that `dataclasses.replace` works), generic as
    ``TimeStep[Observation, RewardT, DiscountT, StepT]`` in 0.1.5's order.
    """

    step_type: StepT
    reward: RewardT
    discount: DiscountT
    observation: Observation
    extras: dict[str, Any] | None = dataclasses.field(default=None, compare=False)

    def first(self) -> jax.Array:
        """Boolean array: this step starts an episode (made by `reset`)."""
        return self.step_type == StepType.FIRST

    def mid(self) -> jax.Array:
        """Boolean array: this step is neither the first nor the last."""
        return self.step_type == StepType.MID

    def last(self) -> jax.Array:
        """Boolean array: this step ends an episode (termination or truncation)."""
        return self.step_type == StepType.LAST


def _defined_at(cls: type, name: str) -> int:
    """Position in ``cls.__mro__`` of the class that defines attribute ``name``."""
    return next(i for i, klass in enumerate(cls.__mro__) if name in vars(klass))


class Environment(
    Generic[State, Action, Observation, RewardT, DiscountT], metaclass=abc.ABCMeta
):
    """A pure-functional RL environment (jit_env 0.1.5's interface).

    Subclasses implement `reset`, `step` and the four ``*_spec`` methods.
    Neither `reset` nor `step` may have Python side effects: both are traced
    by ``jax.jit`` and batched by ``jax.vmap``.

    Generic as ``Environment[State, Action, Observation, Reward, Discount]``
    (jit_env 0.1.5's parameters and order), so annotations written against
    0.1.5 import and type-check unchanged.

    Args:
      renderer: optional function ``state -> RGB uint8 array [H, W, 3]`` used
        by `render`. Injected rather than hard-coded so rendering stays out of
        the environment logic.
    """

    def __init__(self, *, renderer: Callable[[Any], Any] | None = None):
        self._renderer = renderer

    _reset_after_is_current: bool = False
    """Whether `reset_after` is defined at or below `reset` in the class's MRO
    (set for every subclass at its creation; read by `jit_env.reset_after`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._reset_after_is_current = _defined_at(cls, "reset_after") <= _defined_at(
            cls, "reset"
        )

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def unwrapped(self) -> Environment:
        """The innermost environment (``self`` for an unwrapped one)."""
        return self

    @property
    def agent_ids(self) -> tuple[str, ...] | None:
        """The agents' names, in the order of the agent axis; ``None`` for one agent.

        A multi-agent environment (``docs/multi_agent.md``) returns a tuple of
        ``N >= 2`` distinct strings. Its observation, action, reward and
        discount then carry the agents on their leading axis (after any batch
        axes): observation spec leaves ``[N, ...]``, action ``[N, ...]``,
        reward and discount ``float32 [N]``; ``step_type`` is one scalar
        shared by all agents (an episode ends for everyone; an agent that is
        out early has discount 0). `Wrapper` forwards it; wrappers that give
        a single-agent view (`jit_env.wrappers.FixedOpponent`) return ``None``.
        """
        return None

    @abc.abstractmethod
    def reset(self, key: jax.Array, *, options: EnvOptions | None = None) -> tuple[State, TimeStep]:
        """Starts an episode.

        Args:
          key: a PRNG key (typed ``jax.random.key`` of any implementation, or
            a legacy ``uint32[2]`` key).
          options: environment parameters kept in the returned state, or
            ``None`` for the defaults.

        Returns:
          ``(state, timestep)`` with ``timestep.step_type == FIRST``, reward 0
          and discount 1.
        """

    def reset_after(
        self, previous: State, key: jax.Array, *, options: EnvOptions | None = None
    ) -> tuple[State, TimeStep]:
        """Starts the episode that follows the one whose last state is ``previous``.

        The auto-resets (`jit_env.wrappers.AutoReset`, ``VmapAutoReset``, the
        dm_env and gymnasium vector adapters) start every later episode through
        `reset_after` (the module function, which calls this method) instead of
        `reset`, so that what a wrapper keeps across episodes survives: running
        normalisation statistics and their frozen flag, the return of the last
        finished episode. An environment keeps nothing: the default is
        ``self.reset(key, options=options)``. Wrappers that keep something
        override it and pass ``previous``'s inner state on (see `Wrapper`).

        Args:
          previous: a state returned by `step` (same structure as `reset`'s;
            batched like it for a batched environment).
          key, options: as for `reset`.

        Returns:
          As `reset`: ``(state, timestep)`` of a new episode, ``FIRST``.
        """
        del previous
        return self.reset(key, options=options)

    @abc.abstractmethod
    def step(self, state: State, action: Action) -> tuple[State, TimeStep]:
        """Advances the environment by one action.

        Stepping after ``LAST`` without a reset is undefined unless a wrapper
        (`jit_env.wrappers.AutoReset`) handles it.

        Args:
          state: the state from the previous `reset` or `step`.
          action: an action conforming to `action_spec`.

        Returns:
          ``(state, timestep)`` with ``step_type`` ``MID`` or ``LAST``.
        """

    @abc.abstractmethod
    def reward_spec(self) -> specs.Spec:
        """The spec of ``timestep.reward``."""

    @abc.abstractmethod
    def discount_spec(self) -> specs.Spec:
        """The spec of ``timestep.discount`` (bounded in [0, 1])."""

    @abc.abstractmethod
    def observation_spec(self) -> specs.Spec:
        """The spec of ``timestep.observation``."""

    @abc.abstractmethod
    def action_spec(self) -> specs.Spec:
        """The spec of the ``action`` accepted by `step`."""

    def render(self, state: State) -> Any:
        """Renders ``state`` with the renderer given to the constructor.

        Raises:
          NotImplementedError: if the environment was built without a renderer.
        """
        if self._renderer is None:
            raise NotImplementedError(
                f"{self} has no renderer: pass `renderer=` to its constructor"
            )
        return self._renderer(state)

    def close(self) -> None:
        """Frees resources held outside JAX (none for a pure environment)."""

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        del exc_type, exc_value, traceback
        self.close()


class Wrapper(
    Environment[State, Action, Observation, RewardT, DiscountT],
    Generic[State, Action, Observation, RewardT, DiscountT],
    metaclass=abc.ABCMeta,
):
    """An environment that transforms another; forwards every method explicitly.

    There is no catch-all ``__getattr__``: a wrapper that changes a spec
    overrides that spec method, and everything it does not override is
    forwarded to ``self.env``.

    Args:
      env: the environment to wrap.
      renderer: optional renderer; by default `render` forwards to ``env``.
    """

    def __init__(self, env: Environment, *, renderer: Callable[[Any], Any] | None = None):
        if not isinstance(env, Environment):
            raise TypeError(
                f"`env` must be a jit_env.Environment, got {type(env).__name__}"
            )
        super().__init__(renderer=renderer)
        self._env = env

    @property
    def env(self) -> Environment:
        """The environment one level in."""
        return self._env

    @property
    def unwrapped(self) -> Environment:
        """The innermost environment."""
        return self._env.unwrapped

    @property
    def agent_ids(self) -> tuple[str, ...] | None:
        """The wrapped environment's `Environment.agent_ids`."""
        return self._env.agent_ids

    def __str__(self) -> str:
        return f"{type(self).__name__}({self._env})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self._env!r})"

    def reset(self, key: jax.Array, *, options: EnvOptions | None = None) -> tuple[Any, TimeStep]:
        return self._env.reset(key, options=options)

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: EnvOptions | None = None
    ) -> tuple[Any, TimeStep]:
        """The wrapped environment's `reset_after` with the same ``previous`` state.

        Right for a wrapper whose state is the wrapped environment's state and
        whose `reset` is `Wrapper`'s. A wrapper that overrides `reset` keeps its
        meaning: `jit_env.reset_after` calls its `reset` unless the wrapper also
        overrides this method (passing ``previous``'s inner state to
        ``jit_env.reset_after(self.env, ...)``).
        """
        return reset_after(self._env, previous, key, options=options)

    def step(self, state: Any, action: Any) -> tuple[Any, TimeStep]:
        return self._env.step(state, action)

    def reward_spec(self) -> specs.Spec:
        return self._env.reward_spec()

    def discount_spec(self) -> specs.Spec:
        return self._env.discount_spec()

    def observation_spec(self) -> specs.Spec:
        return self._env.observation_spec()

    def action_spec(self) -> specs.Spec:
        return self._env.action_spec()

    def render(self, state: Any) -> Any:
        if self._renderer is not None:
            return self._renderer(state)
        return self._env.render(state)

    def close(self) -> None:
        self._env.close()


def _filled(shape: int | Sequence[int], value: float, dtype: Any) -> jax.Array:
    return jnp.full(shape, value, dtype=dtype)


def restart(
    observation: Observation,
    extras: dict | None = None,
    shape: int | Sequence[int] = (),
    dtype: Any = jnp.float32,
) -> TimeStep:
    """A ``FIRST`` TimeStep: reward 0 and discount 1 (never ``None``).

    Args:
      observation: the first observation of the episode.
      extras: optional dict of auxiliary data.
      shape: shape of reward and discount (``()`` for a scalar reward).
      dtype: dtype of reward and discount, ``float32`` by default.

    Unlike dm_env, reward and discount are arrays so that `reset` and `step`
    return the same pytree structure (jit_env 0.1.5 behaviour).
    """
    return TimeStep(
        step_type=jnp.asarray(StepType.FIRST),
        reward=_filled(shape, 0.0, dtype),
        discount=_filled(shape, 1.0, dtype),
        observation=observation,
        extras=extras,
    )


def transition(
    reward: RewardT,
    observation: Observation,
    discount: DiscountT | None = None,
    extras: dict | None = None,
    shape: int | Sequence[int] = (),
) -> TimeStep:
    """A ``MID`` TimeStep; ``discount`` defaults to ones of ``shape`` (float32)."""
    return TimeStep(
        step_type=jnp.asarray(StepType.MID),
        reward=reward,
        discount=_filled(shape, 1.0, jnp.float32) if discount is None else discount,
        observation=observation,
        extras=extras,
    )


def termination(
    reward: RewardT,
    observation: Observation,
    extras: dict | None = None,
    shape: int | Sequence[int] = (),
) -> TimeStep:
    """A ``LAST`` TimeStep of a terminated episode: discount 0 (float32)."""
    return TimeStep(
        step_type=jnp.asarray(StepType.LAST),
        reward=reward,
        discount=_filled(shape, 0.0, jnp.float32),
        observation=observation,
        extras=extras,
    )


def truncation(
    reward: RewardT,
    observation: Observation,
    discount: DiscountT | None = None,
    extras: dict | None = None,
    shape: int | Sequence[int] = (),
) -> TimeStep:
    """A ``LAST`` TimeStep of a truncated episode: the discount is kept (1 by default).

    Agents bootstrap from ``observation`` after a truncation, so the discount
    is not zeroed.
    """
    return TimeStep(
        step_type=jnp.asarray(StepType.LAST),
        reward=reward,
        discount=_filled(shape, 1.0, jnp.float32) if discount is None else discount,
        observation=observation,
        extras=extras,
    )


def last_where(done: Any, reward: Any, discount: Any, observation: Observation) -> TimeStep:
    """A step's TimeStep: ``LAST`` where ``done`` else ``MID``, ``reward`` as float32.

    Private to the package (the adapters' and environments' ``step``). ``done``
    is bool (``[]`` or an agent axis broadcast with ``reward``); ``discount`` is
    cast to float32 and used as given (0 at a termination, 1 at a truncation,
    whatever the source says elsewhere); ``extras`` is ``None``.
    """
    return TimeStep(
        step_type=jnp.where(done, StepType.LAST, StepType.MID),
        reward=jnp.asarray(reward).astype(jnp.float32),
        discount=jnp.asarray(discount).astype(jnp.float32),
        observation=observation,
        extras=None,
    )


def reset_after(
    env: Environment, previous: Any, key: jax.Array, *, options: EnvOptions | None = None
) -> tuple[Any, TimeStep]:
    """Starts ``env``'s next episode after the one that ended in state ``previous``.

    Calls ``env.reset_after(previous, key, options=options)`` when ``env``'s
    class defines `Environment.reset_after` at least as far down its
    inheritance as `Environment.reset` (decided once per class, when the class
    is created), else ``env.reset(key, options=options)``: a subclass that
    overrides only `reset` (a user's wrapper, or one that changes a built-in
    wrapper's reset) is never bypassed; it just keeps nothing across episodes.
    Every auto-reset and every wrapper's `Environment.reset_after` goes through
    this function.

    Args:
      env: any environment.
      previous: a state of ``env`` returned by ``step``, or ``None`` when there
        was no episode before (then this is ``env.reset``).
      key: the new episode's PRNG key (as for ``reset``).
      options: as for ``reset``.

    Returns:
      ``(state, timestep)`` as ``env.reset`` returns them.
    """
    if previous is not None and type(env)._reset_after_is_current:
        return env.reset_after(previous, key, options=options)
    return env.reset(key, options=options)
