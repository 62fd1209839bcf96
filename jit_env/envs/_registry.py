"""The environment registry behind `jit_env.make` (gymnasium's ``register`` / ``make``).

Environments are registered under gymnasium's ids (``"CartPole-v1"``) with an
entry point and, optionally, an episode limit that `make` applies as a
`jit_env.wrappers.TimeLimit` (truncation), exactly as ``gymnasium.make`` adds
its ``TimeLimit`` wrapper.

`make` understands four kinds of environment string, in this order:

1. a registered id (``"CartPole-v1"``, ``"Catch-bsuite"``, or one registered
   with `register`);
2. an id registered by an installed package through the ``jit_env.envs``
   entry-point group (read with ``importlib.metadata`` the first time an id
   is not found, or `registered_ids` is called), e.g. in its
   ``pyproject.toml``::

       [project.entry-points."jit_env.envs"]
       "GridWorld-v0" = "my_pkg.envs:GridWorld"

   (the name is the id, the value a ``module:attr`` as in 4; gymnasium's
   plugins use the ``gymnasium.envs`` group the same way,
   ``gymnasium/envs/registration.py`` ``load_plugin_envs``);
3. a suite id ``"<suite>/<id>"`` of a lazily registered suite:
   ``"gymnax/<id>"``, ``"jumanji/<id>"``, ``"pgx/<id>"``, ``"navix/<id>"``,
   ``"xminigrid/<id>"``, ``"brax/<name>"``, ``"playground/<name>"`` (MuJoCo
   Playground through ``from_brax``) and ``"craftax/<id>"`` (every
   environment of the suite through the `jit_env.compat` adapter
   ``from_<suite>``, registered on first use; each needs its extra);
4. ``"package.module:attr"``, naming a `jit_env.Environment` subclass, a
   factory returning one, or an instance (then without keyword arguments),
   imported when `make` is called; no time limit is added.

The same string (with the keyword arguments) therefore names an environment
everywhere: `jit_env.make`, ``TrainingConfig.env`` and ``jit-env train --env``,
whose run directory records it so that ``jit-env eval`` rebuilds it.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import types
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from jit_env import _core


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """One registration record (gymnasium's ``EnvSpec``, reduced).

    Attributes:
      env_id: the id passed to `make`, e.g. ``"CartPole-v1"``.
      entry_point: a callable returning a `jit_env.Environment`, or a
        ``"package.module:attribute"`` string naming one (imported by `make`).
      max_episode_steps: the episode limit `make` applies with
        `jit_env.wrappers.TimeLimit`, or ``None`` for none.
      kwargs: default keyword arguments of the entry point (read-only).
    """

    env_id: str
    entry_point: Callable[..., _core.Environment] | str
    max_episode_steps: int | None
    kwargs: Mapping[str, Any]


_REGISTRY: dict[str, EnvSpec] = {}

ENTRY_POINT_GROUP = "jit_env.envs"
"""The ``importlib.metadata`` entry-point group installed packages register ids in."""

_SUITES = {
    "gymnax": "jit_env.compat._gymnax:register_gymnax_ids",
    "navix": "jit_env.compat._navix:register_navix_ids",
    "xminigrid": "jit_env.compat._xminigrid:register_xminigrid_ids",
    "jumanji": "jit_env.compat._jumanji:register_jumanji_ids",
    "pgx": "jit_env.compat._pgx:register_pgx_ids",
    "brax": "jit_env.compat._brax:register_brax_ids",
    "craftax": "jit_env.compat._craftax:register_craftax_ids",
    "playground": "jit_env.compat._brax:register_playground_ids",
}
"""Lazily registered suites: prefix -> ``module:function`` registering ``prefix/<id>``."""

_PLUGIN_SUITES: dict[str, str] = {}  # id -> the distribution whose entry point registered it
_plugins_loaded = False


def register(
    env_id: str,
    entry_point: Callable[..., _core.Environment] | str,
    *,
    max_episode_steps: int | None = None,
    **default_kwargs: Any,
) -> str:
    """Registers an environment under ``env_id`` (gymnasium's ``register``).

    Registering the same id again with an identical record is a no-op;
    with a different record it raises, so two packages cannot silently
    shadow each other.

    Args:
      env_id: the id, a non-empty string (gymnasium style ``"Name-vN"``).
      entry_point: a class or callable returning a `jit_env.Environment`, or
        a ``"module:attr"`` string, imported lazily by `make`.
      max_episode_steps: positive int: `make` wraps the environment in
        ``TimeLimit(env, max_episode_steps)``; ``None``: no time limit.
      **default_kwargs: default keyword arguments for ``entry_point``;
        `make`'s keyword arguments override them.

    Returns:
      ``env_id`` (gymnasium's ``register`` returns ``None``), so a package can list
      its ids as it registers them.

    Raises:
      TypeError: if ``env_id`` is not a string, ``entry_point`` is neither
        callable nor a string, or ``max_episode_steps`` is not an int.
      ValueError: if ``env_id`` is empty, an entry-point string is not of the
        form ``"module:attr"``, ``max_episode_steps < 1``, or ``env_id`` is
        already registered with a different record.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"register: `env_id` must be a str, got {type(env_id).__name__}")
    if not env_id:
        raise ValueError("register: `env_id` must be a non-empty string")
    if isinstance(entry_point, str):
        module, _, attr = entry_point.partition(":")
        if not module or not attr:
            raise ValueError(
                f"register: `entry_point` string must look like 'package.module:attr', "
                f"got {entry_point!r}"
            )
    elif not callable(entry_point):
        raise TypeError(
            "register: `entry_point` must be a callable or a 'module:attr' string, "
            f"got {type(entry_point).__name__}"
        )
    if max_episode_steps is not None:
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int):
            raise TypeError(
                "register: `max_episode_steps` must be an int or None, "
                f"got {type(max_episode_steps).__name__}"
            )
        if max_episode_steps < 1:
            raise ValueError(f"register: `max_episode_steps` must be >= 1, got {max_episode_steps}")
    record = EnvSpec(
        env_id, entry_point, max_episode_steps, types.MappingProxyType(dict(default_kwargs))
    )
    existing = _REGISTRY.get(env_id)
    if existing is not None:
        if _same(existing, record):
            return env_id
        raise ValueError(
            f"register: {env_id!r} is already registered (entry point "
            f"{existing.entry_point!r}); use another id"
        )
    _REGISTRY[env_id] = record
    return env_id


def _same(a: EnvSpec, b: EnvSpec) -> bool:
    return (
        a.entry_point == b.entry_point
        and a.max_episode_steps == b.max_episode_steps
        and dict(a.kwargs) == dict(b.kwargs)
    )


def spec(env_id: str) -> EnvSpec:
    """The registration record of ``env_id`` (see the module docstring for the forms).

    A ``"module:attr"`` string that is not a registered id gets a record of
    its own (not registered): entry point ``env_id``, no time limit.

    Raises:
      KeyError: if ``env_id`` is not registered (nor by an installed
        package), naming close matches; for ``"<suite>/<id>"`` of a known
        suite without that id, listing the suite's ids; for an unknown
        suite, listing the known ones.
      ImportError: for a suite id without its extra, e.g. ``"gymnax/<id>"``
        without gymnax (names the extra).
      ValueError: for a ``module:attr`` string with an empty side.
      TypeError: if ``env_id`` is not a string.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"`env_id` must be a str, got {type(env_id).__name__}")
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    load_plugins()
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    suite, slash, name = env_id.partition("/")
    if slash and ":" not in env_id:
        if suite not in _SUITES:
            prefixes = sorted({i.split("/", 1)[0] for i in _REGISTRY if "/" in i} | set(_SUITES))
            raise KeyError(
                f"No environment registered with id {env_id!r}: unknown suite {suite!r} "
                f"(suites with '<suite>/<id>' ids: {', '.join(prefixes)})"
            )
        _load_suite(suite, env_id)
        if env_id in _REGISTRY:
            return _REGISTRY[env_id]
        ids = sorted(i for i in _REGISTRY if i.startswith(suite + "/"))
        close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"No environment {name!r} in suite {suite!r}.{hint} Its ids: {ids}")
    if ":" in env_id:
        module, _, attr = env_id.partition(":")
        if not module or not attr:
            raise ValueError(
                f"environment {env_id!r}: a 'module:attr' string needs both sides, e.g. "
                "'my_pkg.envs:GridWorld'"
            )
        return EnvSpec(env_id, env_id, None, types.MappingProxyType({}))
    close = difflib.get_close_matches(env_id, list(_REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise KeyError(
        f"No environment registered with id {env_id!r}.{hint} "
        "See jit_env.registered_ids() (or `jit-env list`) for every id; your own "
        "environment can be named as 'package.module:ClassOrFactory'."
    ) from None


def _load_suite(suite: str, env_id: str) -> None:
    """Runs the registering function of a lazily registered suite."""
    module_name, _, attr = _SUITES[suite].partition(":")
    register_suite = getattr(importlib.import_module(module_name), attr)
    try:
        register_suite()
    except ImportError as error:
        raise ImportError(f"environment {env_id!r}: {error}") from error


def load_plugins(*, reload: bool = False) -> tuple[str, ...]:
    """Registers the ids of every installed package's ``jit_env.envs`` entry points.

    Each entry point's name is an id and its value a ``"module:attr"`` naming an
    `Environment` class or factory (imported only by `make`). Called by `spec` and
    `registered_ids`; the entry points are read once per process (``reload``
    reads them again, e.g. after installing a package).

    Returns:
      The ids registered by entry points, sorted.

    Warns:
      RuntimeWarning: for an entry point whose id is already registered with
        another entry point, or whose value is not ``module:attr`` (skipped,
        naming the distribution; the others are registered).

    Reference: ``importlib.metadata.entry_points(group=...)`` (Python 3.10+).
    """
    global _plugins_loaded
    if _plugins_loaded and not reload:
        return tuple(sorted(_PLUGIN_SUITES))
    _plugins_loaded = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        dist_name = dist.name if dist is not None else "plugins"
        target = f"{entry_point.module}:{entry_point.attr}" if entry_point.attr else ""
        try:
            register(entry_point.name, target)
        except (TypeError, ValueError) as error:
            warnings.warn(
                f"jit_env: skipping the {ENTRY_POINT_GROUP!r} entry point "
                f"{entry_point.name!r} = {entry_point.value!r} of {dist_name}: {error}",
                RuntimeWarning, stacklevel=2,
            )
            continue
        _PLUGIN_SUITES[entry_point.name] = dist_name
    return tuple(sorted(_PLUGIN_SUITES))


def suite_of(env_id: str) -> str:
    """The suite a registered id belongs to (``jit-env list`` groups by it).

    ``jit_env.envs.<suite>`` for the bundled environments (``"classic_control"``,
    ``"bsuite"``), ``"gymnax"`` for ``gymnax/<id>``, the distribution's name for an
    id registered by an entry point, else the top-level package of the entry
    point (e.g. ``"my_pkg"`` for ``register("X-v0", "my_pkg.envs:X")``).

    Raises:
      KeyError: if ``env_id`` is not registered.
    """
    if env_id in _PLUGIN_SUITES:
        return _PLUGIN_SUITES[env_id]
    entry_point = spec(env_id).entry_point
    if isinstance(entry_point, str):
        module = entry_point.partition(":")[0]
    else:
        module = getattr(entry_point, "__module__", None) or type(entry_point).__module__
    parts = module.split(".")
    if parts[:2] == ["jit_env", "envs"] and len(parts) > 2:
        return parts[2]
    if parts[:2] == ["jit_env", "compat"]:
        return env_id.split("/", 1)[0] if "/" in env_id else "compat"
    return parts[0]


def make(env_id: str, *, max_episode_steps: int | None = None, **kwargs: Any) -> _core.Environment:
    """Builds the environment registered under ``env_id`` (gymnasium's ``make``).

    Args:
      env_id: a registered id, e.g. ``"CartPole-v1"`` (see `registered_ids`).
      max_episode_steps: overrides the registered episode limit (positive
        int); ``None`` keeps the registered one.
      **kwargs: keyword arguments for the entry point; they override the
        registered defaults.

    Returns:
      The environment, wrapped in ``jit_env.wrappers.TimeLimit(env, limit)``
      when an episode limit is registered or given.

    Raises:
      KeyError: if ``env_id`` is unknown; the message lists close matches
        (difflib), or the suite's ids (see `spec`).
      ImportError: if a ``module:attr``'s module cannot be imported (naming
        it), or a suite's extra is missing (naming the extra).
      AttributeError: if the module has no such attribute (naming both).
      TypeError: if the entry point is not an `Environment` class, factory or
        instance, does not return a `jit_env.Environment`, or is an instance
        and keyword arguments were given.
      ValueError: if ``max_episode_steps < 1``.
    """
    record = spec(env_id)
    constructor = _resolve(record.entry_point)
    if isinstance(constructor, _core.Environment):  # a module-level instance
        if kwargs or record.kwargs:
            raise TypeError(
                f"make({env_id!r}): the entry point is an environment instance, which takes "
                f"no keyword arguments; got {sorted({**record.kwargs, **kwargs})}"
            )
        env = constructor
    else:
        if isinstance(constructor, type) and not issubclass(constructor, _core.Environment):
            raise TypeError(
                f"make({env_id!r}): {constructor.__module__}.{constructor.__qualname__} is a "
                "class but not a jit_env.Environment subclass"
            )
        if not callable(constructor):
            raise TypeError(
                f"make({env_id!r}): the entry point is a {type(constructor).__name__}, not a "
                "jit_env.Environment class, factory or instance"
            )
        arguments = {**record.kwargs, **kwargs}
        try:
            env = constructor(**arguments)
        except TypeError as error:  # e.g. a keyword the constructor does not take
            raise TypeError(f"make({env_id!r}) with keyword arguments {arguments}: {error}") \
                from error
    if not isinstance(env, _core.Environment):
        raise TypeError(
            f"make({env_id!r}): the entry point returned {type(env).__name__}, "
            "not a jit_env.Environment"
        )
    limit = record.max_episode_steps if max_episode_steps is None else max_episode_steps
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"make: `max_episode_steps` must be an int >= 1, got {limit!r}")
        from jit_env import wrappers  # the wrappers layer is beside this one

        env = wrappers.TimeLimit(env, limit)
    return env


def registered_ids() -> tuple[str, ...]:
    """Every registered id, sorted (with the entry points' ids, `load_plugins`).

    Lazily registered suites (``gymnax/<id>``) are listed once they are
    registered, by a first ``make("gymnax/...")`` or
    `jit_env.compat.register_gymnax_ids`.
    """
    load_plugins()
    return tuple(sorted(_REGISTRY))


def _resolve(entry_point: Callable[..., _core.Environment] | str) -> Any:
    if not isinstance(entry_point, str):
        return entry_point
    module_name, _, attr = entry_point.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        where = "" if getattr(error, "name", None) == module_name else f" ({error})"
        raise ImportError(
            f"entry point {entry_point!r}: cannot import module {module_name!r}{where}; is "
            "its package installed, or its directory on PYTHONPATH?"
        ) from error
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise AttributeError(
                f"entry point {entry_point!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    return value
