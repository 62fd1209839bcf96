"""`from_navix`: a NAVIX (MiniGrid in JAX) environment as a pure jit_env `Environment`.

NAVIX (``navix`` on PyPI, 0.7.4 here: later releases need Python >= 3.12) keeps
everything of an episode in one ``navix.environments.environment.Timestep``
(``t``, ``observation``, ``action``, ``reward``, ``step_type``, ``state``,
``info``) whose ``step_type`` is 0 (transition), 1 (truncation: ``t >=
max_steps``) or 2 (termination); ``terminations.check_truncation`` gives 2 when
both hold. Its ``Environment.step`` auto-resets *on the step after* a finished
one: ``lax.cond(timestep.step_type > 0, reset, _step)``
(``navix/environments/environment.py``), so the finished Timestep itself still
carries the episode's last observation. The adapter calls that ``cond``'s
non-reset branch, ``Environment._step``, directly: a jit_env environment is
reset by the caller (or by `jit_env.wrappers.AutoReset`) after ``LAST``, and
under ``vmap`` navix's ``cond`` becomes a select that computes a reset for
every environment on every step.

navix relies on NumPy-style rank promotion (e.g. ``positions == position``
of shapes ``(1, 2)`` and ``(2,)`` in ``_can_walk_there``, ``navix/actions.py``),
so the adapter traces navix under ``jax.numpy_rank_promotion("allow")``: it
works whatever the user's ``jax_numpy_rank_promotion`` setting.

NAVIX environments have no parameters outside their (static) Python fields
(``height``, ``width``, ``max_steps``, ``observation_fn``, …), so the state
holds no ``params``; build another environment (``navix.make(id,
max_steps=...)``) to change them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import strong
from jit_env.compat._adapter import LibraryAdapter, wrapped_accessor
from jit_env.compat._optional import register_suite, require

_NAVIX_TRUNCATION = 1
_NAVIX_TERMINATION = 2  # navix.environments.environment.StepType


class NavixState(NamedTuple):
    """State of a `from_navix` environment.

    Attributes:
      key: the PRNG key left after `FromNavix.reset` split off navix's reset
        key; steps never touch it (navix keeps its own key in
        ``timestep.state.key`` for stochastic dynamics such as
        Dynamic-Obstacles' balls). The auto-resets derive the next episode's
        key from it.
      timestep: navix's own ``Timestep`` (its state, step count, last reward).
    """

    key: jax.Array
    timestep: Any


# Where navix's declared observation bounds (`Environment._get_obs_space_from_fn`,
# navix/environments/environment.py: values 0..8 for these three) miss what its
# observation functions write (navix/observations.py): `symbolic`'s object tags (layer 0)
# go up to `EntityIds.PLAYER == 10` (navix/entities.py), and its state layer wraps
# around in uint8: KeyCorridor's locked door is created with `open=2`
# (navix/environments/key_corridor.py), so `Door.symbolic_state`, `closed + closed *
# locked` with `closed = 1 - open`, is -2, written as 254; so the colour and state
# layers keep uint8's whole range. `categorical` writes `state.grid`'s -1
# for walls and the tags up to 10; `categorical_first_person` also pads outside the
# grid with `crop`'s `padding_value=100` (navix/grid.py).
_CORRECTED_BOUNDS: dict[str, tuple[Any, Any]] = {
    "symbolic": (0, np.array([10, 255, 255])),  # per layer: tag, colour, state
    "categorical": (-1, 10),
    "categorical_first_person": (-1, 100),
}


def _space_spec(space: Any, like: jax.ShapeDtypeStruct, navix_spaces: Any, what: str,
                bounds: tuple[Any, Any] | None = None) -> specs.Spec:
    """A jit_env spec with ``like``'s shape and dtype and ``space``'s bounds (or ``bounds``)."""
    shape, dtype = tuple(like.shape), np.dtype(like.dtype)
    if isinstance(space, (navix_spaces.Discrete, navix_spaces.Continuous)):
        low = np.broadcast_to(np.asarray(space.minimum), shape)
        high = np.broadcast_to(np.asarray(space.maximum), shape)
        if bounds is not None:
            low, high = np.broadcast_to(bounds[0], shape), np.broadcast_to(bounds[1], shape)
        if np.issubdtype(dtype, np.integer):
            if np.all(low == 0):
                return specs.DiscreteArray(
                    np.broadcast_to(high.astype(np.int64) + 1, shape).copy(), dtype=dtype
                )
            return specs.BoundedArray(shape, dtype, low.astype(dtype), high.astype(dtype))
        if np.issubdtype(dtype, np.floating):
            return specs.BoundedArray(shape, dtype, low.astype(dtype), high.astype(dtype))
    raise TypeError(
        f"navix {what} space {type(space).__name__} (dtype {dtype}) has no jit_env spec: "
        "from_navix converts Discrete and Continuous spaces of integer or float arrays"
    )


class FromNavix(LibraryAdapter):
    """A navix environment as a pure jit_env environment (built by `from_navix`).

    Args:
      navix_env: a ``navix.environments.environment.Environment`` instance.
      renderer: optional ``state -> uint8 [H, W, 3]``; default navix's
        ``observations.rgb`` of the grid.

    Specs: observation, navix's observation space, integer observations starting
    at 0 as a multi-discrete `DiscreteArray` of navix's ``maximum + 1`` values per
    element, others as a `BoundedArray`. Where navix's declared bounds miss what it
    writes, the spec has the written range: ``symbolic`` 0..10 in its tag layer
    (the player's tag, ``EntityIds.PLAYER``, not the declared 8) and 0..255 in its
    colour and state layers (KeyCorridor's locked door writes state 254, a uint8
    wrap-around), ``categorical`` -1..10 (-1 for walls) and
    ``categorical_first_person`` -1..100 (100 pads the view outside the grid).
    Action: ``DiscreteArray(len(action_set), int32)`` (navix's ``Discrete``).
    Reward and discount: float32 scalars.
    """

    factory = "from_navix"
    label = "Navix"
    _action_spec: specs.DiscreteArray

    def __init__(self, navix_env: Any, *, renderer: Any = None):
        navix = require("navix", "from_navix")
        if not isinstance(navix_env, navix.environments.environment.Environment):
            raise TypeError(
                "`navix_env` must be a navix Environment (navix.make(...)), got "
                f"{type(navix_env).__name__}"
            )
        if renderer is None:
            def renderer(state: NavixState) -> jax.Array:
                with jax.numpy_rank_promotion("allow"):
                    return navix.observations.rgb(state.timestep.state)
        super().__init__(renderer=renderer)
        self._wrapped = navix_env
        with jax.numpy_rank_promotion("allow"):
            timestep_like = jax.eval_shape(navix_env.reset,
                                           jax.ShapeDtypeStruct((2,), jnp.uint32))
        corrected = [b for name, b in _CORRECTED_BOUNDS.items()
                     if navix_env.observation_fn is getattr(navix.observations, name)]
        bounds = (navix_env.observation_space.maximum, navix_env.action_space.maximum)
        if any(isinstance(b, jax.core.Tracer) for b in bounds):
            raise TypeError(
                "`navix_env` was built inside jax.jit: its space bounds are traced. Build it "
                "outside, or under `with jax.ensure_compile_time_eval():` (as make_navix does)"
            )
        with jax.ensure_compile_time_eval():
            self._observation_spec = _space_spec(
                navix_env.observation_space, timestep_like.observation, navix.spaces,
                "observation", corrected[0] if corrected else None,
            )
            action_space = navix_env.action_space
            if not (isinstance(action_space, navix.spaces.Discrete) and action_space.shape == ()):
                raise TypeError(
                    "from_navix supports a scalar Discrete action space, got "
                    f"{type(action_space).__name__} of shape {action_space.shape}"
                )
            self._action_spec = specs.DiscreteArray(
                int(action_space.maximum) + 1, dtype=np.dtype(action_space.dtype)
            )

    navix_env = wrapped_accessor("navix")

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[NavixState, _core.TimeStep]:
        """Splits ``key`` and calls navix ``reset(navix_key)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: must be ``None`` (navix environments have no parameters).

        Raises:
          ValueError: if ``options`` is not ``None``.
        """
        self._no_options(options, "navix environments take no parameters at reset")
        key, navix_key = jax.random.split(key)
        with jax.numpy_rank_promotion("allow"):
            timestep = strong(self._wrapped.reset(navix_key))
        return NavixState(key=key, timestep=timestep), _core.restart(timestep.observation)

    def step(self, state: NavixState, action: Any) -> tuple[NavixState, _core.TimeStep]:
        """Calls navix ``Environment._step(timestep, action)`` (``step`` without its reset).

        navix step type 1 (truncation) is ``LAST`` with discount 1, 2
        (termination) ``LAST`` with discount 0; the observation is navix's,
        the episode's last. An out-of-range action selects navix's first or
        last action (navix's ``lax.switch`` over ``action_set`` clamps the
        index, ``navix/transitions.py``).

        Raises:
          TypeError: if ``action`` is not an integer scalar.
        """
        action = jnp.asarray(action)
        if not jnp.issubdtype(action.dtype, jnp.integer) or action.shape != ():
            raise TypeError(
                f"from_navix: `action` must be an integer scalar, got {action.dtype}"
                f"{list(action.shape)}"
            )
        with jax.numpy_rank_promotion("allow"):
            timestep = strong(self._wrapped._step(
                state.timestep, action.astype(self._action_spec.dtype)
            ))
        navix_type = timestep.step_type
        done = navix_type > 0
        discount = jnp.where(navix_type == _NAVIX_TERMINATION, 0.0, 1.0)
        ts = _core.last_where(done, timestep.reward, discount, timestep.observation)
        return NavixState(key=state.key, timestep=timestep), ts



def from_navix(navix_env: Any) -> FromNavix:
    """Wraps a NAVIX environment as a pure, jittable jit_env environment.

    * ``reset(key)`` splits ``key`` once and calls navix ``reset(navix_key)``
      (which splits again and keeps a key in its state).
    * ``step`` calls navix ``_step`` (its ``step`` without the next-step
      auto-reset): navix truncation (``t >= max_steps``) is ``LAST`` with
      discount 1, termination ``LAST`` with discount 0, and the ``LAST``
      TimeStep carries the episode's last observation.
    * Specs: navix's spaces, with the shapes and dtypes navix really returns.

    Args:
      navix_env: e.g. ``navix.make("Navix-Empty-5x5-v0")``.

    Returns:
      A `jit_env.Environment` whose state is a `NavixState`.

    Raises:
      ImportError: ``"from_navix needs: pip install 'jit-env[navix]'"``.
      TypeError: if ``navix_env`` is not a navix Environment, was built inside
        ``jax.jit`` (traced space bounds), or its observation or action space
        has no jit_env spec (names the space).

    Reference: navix 0.7.4 ``navix/environments/environment.py``
    (``Environment.reset`` / ``step`` / ``_step``, ``Timestep``, ``StepType``),
    ``navix/spaces.py``.
    """
    return FromNavix(navix_env)


def make_navix(navix_id: str, **kwargs: Any) -> FromNavix:
    """``from_navix(navix.make(navix_id, **kwargs))``: the ``"navix/<id>"`` factory.

    ``navix.make``'s default episode limit is ``max_steps=100``
    (``navix/environments/registry.py``); pass ``max_steps=`` to change it.

    Raises:
      ImportError: if navix is missing.
      ValueError: if navix does not know ``navix_id`` (message lists its ids).
    """
    navix = require("navix", "from_navix")
    if navix_id not in navix.registry():
        raise ValueError(
            f"`navix_id` {navix_id!r} is not a navix environment; navix has "
            f"{sorted(navix.registry())}"
        )
    # navix builds its spaces with jnp (navix/spaces.py `Discrete.create`), staged out as
    # tracers when this runs inside `jax.jit` (as the training loop builds its envs).
    with jax.ensure_compile_time_eval():
        return from_navix(navix.make(navix_id, **kwargs))


def register_navix_ids(prefix: str = "navix/") -> tuple[str, ...]:
    """Registers every navix environment as ``jit_env.make(prefix + id)``.

    After this, ``jit_env.make("navix/Navix-Empty-5x5-v0")`` returns
    ``from_navix(navix.make("Navix-Empty-5x5-v0"))``. navix applies its own
    episode limit (``max_steps``) as truncation, so no ``TimeLimit`` is added.
    Registering twice is a no-op.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_navix_ids needs: pip install 'jit-env[navix]'"``.
    """
    navix = require("navix", "register_navix_ids")
    return register_suite(prefix, navix.registry(),
                          "jit_env.compat._navix:make_navix", "navix_id")
