"""Staging and batching wrappers: `Jit`, `Vmap`, `Tile`, `Shard`.

Keys: every wrapper accepts typed keys of any implementation
(``jax.random.key(0, impl="threefry2x32" | "rbg" | "unsafe_rbg")``) and legacy
``uint32`` keys (``jax.random.PRNGKey``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core, specs
from jit_env._pytrees import key_batch_ndim


def batch_keys(key: jax.Array, num: int | None, wrapper: str) -> jax.Array:
    """A batch of ``num`` keys: ``key`` itself if it is one, else ``split(key, num)``.

    Raises:
      ValueError: if ``key`` is a batch whose size is not ``num``, or a single
        key when ``num`` is ``None`` (the batch size is then unknown).
    """
    nd = key_batch_ndim(key)
    if nd == 0:
        if num is None:
            raise ValueError(
                f"{wrapper}.reset: `key` must be a batch of keys [B] (e.g. "
                f"jax.random.split(key, B)) because the wrapper has no fixed `num`; "
                f"got a single key of shape {jnp.shape(key)}"
            )
        return jax.random.split(key, num)
    if nd != 1:
        raise ValueError(
            f"{wrapper}.reset: `key` must be one key or a 1-D batch of keys, "
            f"got key array of shape {jnp.shape(key)}"
        )
    if num is not None and key.shape[0] != num:
        raise ValueError(f"{wrapper}.reset: `key` holds {key.shape[0]} keys, expected num={num}")
    return key


class Jit(_core.Wrapper):
    """Compiles ``env.reset`` and ``env.step`` with ``jax.jit`` (jit_env 0.1.5 ``Jit``).

    Nothing in the TimeStep, the state or the specs changes. Put it outermost:
    it is the only wrapper that calls ``jax.jit`` (no other wrapper hides one).
    Inside an outer ``jax.jit`` it is harmless (nested jit is inlined).

    Args:
      env: the environment to compile.
      **jit_kwargs: passed to ``jax.jit`` for both ``reset`` and ``step``
        (e.g. ``donate_argnums``).
    """

    def __init__(self, env: _core.Environment, **jit_kwargs: Any):
        super().__init__(env)
        self._jit_kwargs = jit_kwargs
        self._reset_fun = jax.jit(env.reset, **jit_kwargs)
        self._reset_after_fun = jax.jit(partial(_core.reset_after, env))
        self._step_fun = jax.jit(env.step, **jit_kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, jit_kwargs={self._jit_kwargs})"

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return self._reset_fun(key, options=options)

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        """The wrapped environment's `jit_env.reset_after`, jitted (``jit_kwargs`` not applied)."""
        return self._reset_after_fun(previous, key, options=options)

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self._step_fun(state, action)


class Vmap(_core.Wrapper):
    """Batches ``reset`` and ``step`` with ``jax.vmap`` over a batch of any size.

    * ``reset(key, *, options=None)``: ``key`` is a batch of keys ``[B]``
      (e.g. ``jax.random.split(key, B)``), as in jit_env 0.1.5 ``Vmap``.
      ``options`` is one pytree shared by every environment
      (``options_axis=None``, the default) or a batch of pytrees mapped along
      ``options_axis`` (e.g. ``0``: domain randomisation).
    * ``step(state, action)``: every leaf of ``state`` and ``action`` carries
      the batch axis first (change with ``step_vmap_kwargs``, e.g.
      ``in_axes=(0, None)`` to share one action).
    * TimeStep: every leaf gains the leading axis ``[B]``.
    * Specs: unchanged, to be read as the spec of one batch element (the batch
      size is not fixed; use `Tile` for batched specs) — jit_env 0.1.5.
    * `render` renders element 0.

    Args:
      env: the environment to batch.
      options_axis: ``None`` to broadcast ``options``, or the axis of
        ``options`` to map over.
      **step_vmap_kwargs: passed to ``jax.vmap`` for ``step`` only (0.1.5).

    Where in a stack: around single-environment wrappers (`TimeLimit`,
    `FrameStack`…); for auto-resetting batches use `VmapAutoReset`, not
    ``Vmap(AutoReset(env))`` (same results, but every element would compute a
    reset every step).
    """

    _num: int | None = None

    def __init__(
        self, env: _core.Environment, *, options_axis: int | None = None, **step_vmap_kwargs: Any
    ):
        super().__init__(env)
        if options_axis is not None and not isinstance(options_axis, int):
            raise TypeError(f"`options_axis` must be None or an int, got {options_axis!r}")
        self._options_axis = options_axis
        self._step_vmap_kwargs = step_vmap_kwargs
        self._step_fun = jax.vmap(env.step, **step_vmap_kwargs)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env!r}, options_axis={self._options_axis}, "
            f"step_vmap_kwargs={self._step_vmap_kwargs})"
        )

    @property
    def num(self) -> int | None:
        """The fixed batch size, or ``None`` when any batch size is accepted."""
        return self._num

    def _vmapped_reset(self, keys: jax.Array, options: Any) -> tuple[Any, _core.TimeStep]:
        env = self.env
        if options is None or self._options_axis is None:
            return jax.vmap(lambda k: env.reset(k, options=options))(keys)
        return jax.vmap(lambda k, o: env.reset(k, options=o), in_axes=(0, self._options_axis))(
            keys, options
        )

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        keys = batch_keys(key, self._num, type(self).__name__)
        return self._vmapped_reset(keys, options)

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        """`reset` with every element's `jit_env.reset_after` from its row of ``previous``."""
        keys = batch_keys(key, self._num, type(self).__name__)
        env = self.env

        def one(p, k, o):
            return _core.reset_after(env, p, k, options=o)

        if options is None or self._options_axis is None:
            return jax.vmap(lambda p, k: one(p, k, options))(previous, keys)
        return jax.vmap(one, in_axes=(0, 0, self._options_axis))(previous, keys, options)

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self._step_fun(state, action)

    def render(self, state: Any) -> Any:
        """Renders batch element 0 (jit_env 0.1.5)."""
        return self.env.render(jax.tree.map(lambda x: x[0], state))


class BatchSpecMixin:
    """Batched specs of a fixed batch size ``num`` (jit_env 0.1.5 ``BatchSpecMixin``).

    Observation and action specs become ``specs.Batched(spec, num)``; reward
    and discount specs that are arrays are reshaped to ``(num, *shape)``
    (``specs.reshape_spec``), other reward/discount specs are `Batched`.
    """

    env: _core.Environment
    _num: int | None

    def _init_num(self, num: int) -> None:
        if isinstance(num, (bool, np.bool_)) or not isinstance(num, (int, np.integer)) or num <= 0:
            raise ValueError(f"`num` must be a positive int, got {num!r}")
        self._num = int(num)

    def action_spec(self) -> specs.Spec:
        spec = self.env.action_spec()
        return spec if self._num is None else specs.Batched(spec, self._num)

    def observation_spec(self) -> specs.Spec:
        spec = self.env.observation_spec()
        return spec if self._num is None else specs.Batched(spec, self._num)

    def reward_spec(self) -> specs.Spec:
        return self._batched_scalar_spec(self.env.reward_spec())

    def discount_spec(self) -> specs.Spec:
        return self._batched_scalar_spec(self.env.discount_spec())

    def _batched_scalar_spec(self, spec: specs.Spec) -> specs.Spec:
        if self._num is None:
            return spec
        if isinstance(spec, specs.Array):
            return specs.reshape_spec(spec, prepend=(self._num,))
        return specs.Batched(spec, self._num)


class Tile(BatchSpecMixin, Vmap):
    """`Vmap` with a fixed batch size ``num`` and a single-key reset (jit_env 0.1.5 ``Tile``).

    * ``reset(key, *, options=None)``: ``key`` is ONE key, split into ``num``
      keys with ``jax.random.split(key, num)``; a batch of exactly ``num`` keys
      is also accepted and used as is. ``options`` as in `Vmap`.
    * Specs: ``specs.Batched(spec, num)`` for observations and actions;
      rewards and discounts reshaped to ``(num, *shape)`` (`BatchSpecMixin`).

    Args:
      env: the environment to batch.
      num: the batch size, a positive int.
      options_axis: see `Vmap`.
      **step_vmap_kwargs: see `Vmap`.

    Raises:
      ValueError: if ``num`` is not a positive int; at ``reset`` if a batch of
        keys of another size is given.
    """

    def __init__(
        self,
        env: _core.Environment,
        num: int,
        *,
        options_axis: int | None = None,
        **step_vmap_kwargs: Any,
    ):
        Vmap.__init__(self, env, options_axis=options_axis, **step_vmap_kwargs)
        self._init_num(num)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, num={self._num})"


def _sharded_batch_size(env: _core.Environment) -> int | None:
    """The ``num`` of the outermost batching wrapper in ``env``'s wrapper chain, or None.

    Looks through wrappers that do not batch (`EpisodeStatistics`,
    `NormalizeObservation`, ...) down ``.env`` links, so a batch wrapped in them is
    still checked against the mesh.
    """
    layer: Any = env
    while layer is not None:
        num = getattr(layer, "num", None)
        if isinstance(num, int):
            return num
        layer = getattr(layer, "env", None)
    return None


class Shard(_core.Wrapper):
    """Shards the batch axis of a batched environment across the devices of a mesh.

    Wrap a batched environment (`Tile`, `Vmap`, `VmapAutoReset`,
    `TileAutoReset`, possibly under `EpisodeStatistics` /
    `NormalizeObservation`). Every leaf of the state, the TimeStep and the
    action with at least one axis is placed with
    ``NamedSharding(mesh, PartitionSpec(axis_name))`` (axis 0 split over the
    devices of ``axis_name``); scalars (e.g. normalisation counts) are
    replicated. Under ``jax.jit`` this is a ``with_sharding_constraint``, so
    XLA runs the step data-parallel on every device (no ``pmap``); eagerly the
    arrays are ``device_put``. Values, TimeStep, state structure and specs are
    unchanged.

    Args:
      env: a batched environment whose leaves all carry the batch axis first
        (leaves of statistics kept per feature, e.g. `NormalizeObservation`'s
        mean, have no batch axis: put `Shard` inside such wrappers).
      mesh: a ``jax.sharding.Mesh``.
      axis_name: the mesh axis that the batch is split over.

    Raises:
      TypeError: if ``mesh`` is not a ``jax.sharding.Mesh``.
      ValueError: if ``axis_name`` is not an axis of ``mesh``, or the batch
        size of ``env`` (when fixed) is not divisible by that axis' size.
    """

    def __init__(self, env: _core.Environment, mesh: jax.sharding.Mesh, axis_name: str = "batch"):
        super().__init__(env)
        if not isinstance(mesh, jax.sharding.Mesh):
            raise TypeError(f"`mesh` must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        if axis_name not in mesh.shape:
            raise ValueError(
                f"`axis_name`={axis_name!r} is not an axis of the mesh (axes {tuple(mesh.shape)})"
            )
        size = mesh.shape[axis_name]
        num = _sharded_batch_size(env)
        if num is not None and num % size:
            raise ValueError(
                f"the batch size num={num} of `env` is not divisible by the {size} devices of "
                f"mesh axis {axis_name!r}"
            )
        self._mesh = mesh
        self._axis_name = axis_name
        P = jax.sharding.PartitionSpec
        self._batch = jax.sharding.NamedSharding(mesh, P(axis_name))
        self._replicated = jax.sharding.NamedSharding(mesh, P())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env!r}, axis_name={self._axis_name!r})"

    @property
    def num(self) -> int | None:
        """The batch size of the wrapped environment (``None`` if not fixed)."""
        return _sharded_batch_size(self.env)

    @property
    def mesh(self) -> jax.sharding.Mesh:
        """The ``jax.sharding.Mesh`` the batch axis is split over."""
        return self._mesh

    def _place(self, tree: Any) -> Any:
        size = self._mesh.shape[self._axis_name]

        def place(x):
            sharding = (
                self._batch
                if jnp.ndim(x) >= 1 and jnp.shape(x)[0] % size == 0
                else self._replicated
            )
            if isinstance(x, jax.core.Tracer):
                return jax.lax.with_sharding_constraint(x, sharding)
            return jax.device_put(x, sharding)

        return jax.tree.map(place, tree)

    def reset(self, key: jax.Array, *, options: Any = None) -> tuple[Any, _core.TimeStep]:
        return self._place(self.env.reset(key, options=options))

    def reset_after(
        self, previous: Any, key: jax.Array, *, options: Any = None
    ) -> tuple[Any, _core.TimeStep]:
        return self._place(
            _core.reset_after(self.env, self._place(previous), key, options=options)
        )

    def step(self, state: Any, action: Any) -> tuple[Any, _core.TimeStep]:
        return self._place(self.env.step(self._place(state), self._place(action)))
