"""`from_xminigrid`: an XLand-MiniGrid environment as a pure jit_env `Environment`.

XLand-MiniGrid (``xminigrid`` 0.9.3) is functional already:
``env.reset(params, key) -> TimeStep`` and ``env.step(params, timestep,
action) -> TimeStep`` (``xminigrid/environment.py``), with a dm_env-like
``TimeStep(state, step_type, reward, discount, observation)``: ``step_type``
``FIRST`` / ``MID`` / ``LAST`` (``uint8``, ``xminigrid/types.py``), discount 0
when the goal is reached (termination) and 1 otherwise, also at
``step_num == max_steps`` (truncation). ``Environment.step`` does not reset; the
library's auto-resets are the separate wrappers ``GymAutoResetWrapper`` (reset
on the finishing step, replacing its observation) and ``DmEnvAutoResetWrapper``
(reset on the next step) in ``xminigrid/wrappers.py``, which the adapter does not
use: its ``LAST`` TimeStep carries the episode's last observation.

The ``EnvParams`` (``height``, ``width``, ``view_size``, ``max_steps``, …, and
for XLand ids the ``ruleset``) are kept in the state and are the ``options`` of
`FromXMiniGrid.reset`. Only ``XLandEnvParams.ruleset`` is a pytree leaf
(``xminigrid/envs/xland.py``: "you can vmap on rulesets for multi-task/meta
learning"); the other fields are static (``pytree_node=False``), so vmapping
``reset`` over a batch of params with different rulesets (e.g. drawn from an
``xminigrid.load_benchmark(...)`` benchmark) gives one task per environment.

Some xminigrid environments rely on NumPy-style rank promotion (LockedRoom's
``_generate_problem`` draws ``jax.random.randint(shape=(2, 2))`` with bounds of
shape ``(2,)``, ``xminigrid/envs/minigrid/lockedroom.py``), so the adapter traces xminigrid
under ``jax.numpy_rank_promotion("allow")``, whatever the user's setting.
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


class XMiniGridState(NamedTuple):
    """State of a `from_xminigrid` environment.

    Attributes:
      key: the PRNG key left after `FromXMiniGrid.reset` split off
        xminigrid's reset key; steps are deterministic and never touch it.
      timestep: xminigrid's own ``TimeStep`` (its ``state`` holds the grid,
        the agent and the step count).
      params: xminigrid's ``EnvParams`` of this episode (the ``options``).
    """

    key: jax.Array
    timestep: Any
    params: Any


def _observation_spec(like: Any, constants: Any) -> specs.Spec:
    """``uint8 [V, V, 2]`` (tile, colour) grids as a per-layer `DiscreteArray`."""
    if isinstance(like, dict):
        return specs.Dict({k: _observation_spec(v, constants) for k, v in like.items()})
    shape, dtype = tuple(like.shape), np.dtype(like.dtype)
    if np.issubdtype(dtype, np.integer) and shape[-1:] == (constants.NUM_LAYERS,):
        num_values = np.broadcast_to(
            np.array([constants.NUM_TILES, constants.NUM_COLORS], np.int64), shape
        ).copy()
        return specs.DiscreteArray(num_values, dtype=dtype)
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer):
        return specs.Array(shape, dtype)
    raise TypeError(f"xminigrid observation of dtype {dtype} has no jit_env spec")


def _signature(params: Any) -> Any:
    """The tree structure (with the static fields) and leaf shapes/dtypes of ``params``."""
    leaves, treedef = jax.tree.flatten(params)
    return treedef, [(jnp.shape(x), jnp.result_type(x)) for x in leaves]


class FromXMiniGrid(LibraryAdapter):
    """An xminigrid environment as a pure jit_env environment (built by `from_xminigrid`).

    Args:
      xminigrid_env: an ``xminigrid.environment.Environment`` (or wrapper).
      env_params: its ``EnvParams`` (default ``xminigrid_env.default_params()``).
      renderer: optional ``state -> uint8 [H, W, 3]`` renderer (xminigrid's
        own ``render`` runs NumPy on the host and is not jittable).

    Specs: observation, a ``DiscreteArray`` of xminigrid's ``uint8 [V, V, 2]``
    view, layer 0 a tile id in ``[0, NUM_TILES)`` and layer 1 a colour id in
    ``[0, NUM_COLORS)`` (13 and 12, ``xminigrid/core/constants.py``); a dict
    observation (xminigrid's observation wrappers) maps key by key. Action:
    ``DiscreteArray(env.num_actions(params), int32)`` (6 for xminigrid's actions).
    Reward and discount: float32 scalars.
    """

    factory = "from_xminigrid"
    label = "XMiniGrid"

    def __init__(self, xminigrid_env: Any, env_params: Any = None, *, renderer: Any = None):
        xminigrid = require("xminigrid", "from_xminigrid")
        constants = require("xminigrid.core.constants", "from_xminigrid")
        if not isinstance(xminigrid_env, xminigrid.environment.Environment):
            raise TypeError(
                "`xminigrid_env` must be an xminigrid Environment (xminigrid.make(id)[0]), "
                f"got {type(xminigrid_env).__name__}"
            )
        params = xminigrid_env.default_params() if env_params is None else env_params
        if not isinstance(params, xminigrid.environment.EnvParams):
            raise TypeError(
                f"`env_params` must be an xminigrid EnvParams, got {type(params).__name__}"
            )
        if params.max_steps is None:
            raise ValueError(
                "`env_params.max_steps` is None; xminigrid's step needs an episode limit "
                "(xminigrid.make sets one)"
            )
        super().__init__(renderer=renderer)
        self._wrapped = xminigrid_env
        self._params = params
        self._signature = _signature(params)
        with jax.numpy_rank_promotion("allow"):
            timestep_like = jax.eval_shape(
                lambda k: xminigrid_env.reset(params, k), jax.ShapeDtypeStruct((2,), jnp.uint32)
            )
        self._observation_spec = _observation_spec(timestep_like.observation, constants)
        self._action_spec = specs.DiscreteArray(
            int(xminigrid_env.num_actions(params)), dtype=jnp.int32
        )

    xminigrid_env = wrapped_accessor("xminigrid")

    @property
    def default_params(self) -> Any:
        """The ``EnvParams`` `reset` uses when ``options`` is ``None``."""
        return self._params

    def _check_options(self, options: Any) -> Any:
        if options is None:
            return self._params
        if _signature(options) != self._signature:
            raise ValueError(
                "from_xminigrid: `options` must be EnvParams with the adapter's static fields "
                f"and leaf shapes (the specs depend on them); expected {self._params}, got "
                f"{options}"
            )
        return options

    def reset(self, key: jax.Array, *,
              options: Any = None) -> tuple[XMiniGridState, _core.TimeStep]:
        """Splits ``key`` and calls xminigrid ``reset(params, xminigrid_key)``.

        Args:
          key: PRNG key (typed of any implementation, or legacy ``uint32[2]``).
          options: xminigrid ``EnvParams`` (default: the adapter's); may differ
            from them only in pytree leaves (an XLand ``ruleset`` of the same
            shapes).

        Raises:
          ValueError: if ``options`` differs in a static field or leaf shape.
        """
        params = self._check_options(options)
        key, xminigrid_key = jax.random.split(key)
        with jax.numpy_rank_promotion("allow"):
            timestep = strong(self._wrapped.reset(params, xminigrid_key))
        state = XMiniGridState(key=key, timestep=timestep, params=params)
        return state, _core.restart(timestep.observation)

    def step(self, state: XMiniGridState, action: Any) -> tuple[XMiniGridState, _core.TimeStep]:
        """Calls xminigrid ``step(params, timestep, action)``; no reset.

        ``LAST`` comes from xminigrid's ``step_type``, the discount is
        xminigrid's (0 on reaching the goal, 1 at the time limit), the reward
        xminigrid's (``1 - 0.9 * step_num / max_steps`` on success). An
        out-of-range action is clamped by xminigrid's ``lax.switch`` over its
        six actions (``xminigrid/core/actions.py`` ``take_action``).

        Raises:
          TypeError: if ``action`` is not an integer scalar.
        """
        action = jnp.asarray(action)
        if not jnp.issubdtype(action.dtype, jnp.integer) or action.shape != ():
            raise TypeError(
                f"from_xminigrid: `action` must be an integer scalar, got {action.dtype}"
                f"{list(action.shape)}"
            )
        with jax.numpy_rank_promotion("allow"):
            timestep = strong(self._wrapped.step(state.params, state.timestep, action))
        done = timestep.step_type == 2  # xminigrid StepType.LAST
        ts = _core.last_where(done, timestep.reward, timestep.discount, timestep.observation)
        return XMiniGridState(key=state.key, timestep=timestep, params=state.params), ts



def from_xminigrid(xminigrid_env: Any, env_params: Any = None) -> FromXMiniGrid:
    """Wraps an XLand-MiniGrid environment as a pure, jittable jit_env environment.

    * ``reset(key, options=params)`` splits ``key`` once and calls xminigrid
      ``reset(params, xminigrid_key)``; ``params`` (default ``env_params``) are
      kept in the state, so vmapping over params with different rulesets is
      multi-task / meta-RL training.
    * ``step`` is xminigrid's ``step(params, timestep, action)``: goal reached
      is ``LAST`` with discount 0, the time limit ``LAST`` with discount 1,
      and the ``LAST`` TimeStep keeps the episode's last observation.

    Args:
      xminigrid_env: e.g. ``xminigrid.make("MiniGrid-Empty-5x5")[0]``.
      env_params: its ``EnvParams`` (default ``xminigrid_env.default_params()``;
        ``xminigrid.make`` returns the registered ones, with ``max_steps``).

    Returns:
      A `jit_env.Environment` whose state is an `XMiniGridState`.

    Raises:
      ImportError: ``"from_xminigrid needs: pip install 'jit-env[xminigrid]'"``.
      TypeError: if ``xminigrid_env`` / ``env_params`` are not xminigrid's, or
        the observation has no jit_env spec.
      ValueError: if ``env_params.max_steps`` is ``None``.

    Reference: xminigrid 0.9.3 ``xminigrid/environment.py`` (``EnvParams``,
    ``Environment.reset`` / ``step``), ``xminigrid/types.py`` (``TimeStep``,
    ``StepType``), ``xminigrid/wrappers.py`` (the auto-resets not used).
    """
    return FromXMiniGrid(xminigrid_env, env_params)


def make_xminigrid(xminigrid_id: str, **kwargs: Any) -> FromXMiniGrid:
    """``from_xminigrid(*xminigrid.make(xminigrid_id, **kwargs))``: ``"xminigrid/<id>"``'s factory.

    ``kwargs`` replace fields of the registered ``EnvParams`` (as
    ``xminigrid.make``), e.g. ``max_steps=50`` or ``view_size=5``.

    Raises:
      ImportError: if xminigrid is missing.
      ValueError: if xminigrid does not know ``xminigrid_id`` (lists its ids).
    """
    xminigrid = require("xminigrid", "from_xminigrid")
    if xminigrid_id not in xminigrid.registered_environments():
        raise ValueError(
            f"`xminigrid_id` {xminigrid_id!r} is not an xminigrid environment; xminigrid has "
            f"{sorted(xminigrid.registered_environments())}"
        )
    return from_xminigrid(*xminigrid.make(xminigrid_id, **kwargs))


def register_xminigrid_ids(prefix: str = "xminigrid/") -> tuple[str, ...]:
    """Registers every xminigrid environment as ``jit_env.make(prefix + id)``.

    ``jit_env.make("xminigrid/MiniGrid-Empty-5x5")`` is
    ``from_xminigrid(*xminigrid.make("MiniGrid-Empty-5x5"))``; the
    ``XLand-MiniGrid-R*`` ids come with xminigrid's default (empty) ruleset:
    the benchmark rulesets (``xminigrid.load_benchmark("trivial-21k")`` …)
    are downloaded from Hugging Face by xminigrid and are passed as
    ``options`` / ``env_params`` by the user. xminigrid applies its own
    episode limit (``max_steps``), so no ``TimeLimit`` is added.

    Returns the registered ids, sorted. Raises ImportError without the extra:
    ``"register_xminigrid_ids needs: pip install 'jit-env[xminigrid]'"``.
    """
    xminigrid = require("xminigrid", "register_xminigrid_ids")
    return register_suite(prefix, xminigrid.registered_environments(),
                          "jit_env.compat._xminigrid:make_xminigrid", "xminigrid_id")
