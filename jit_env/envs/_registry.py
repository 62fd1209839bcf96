"""The environment registry behind `jit_env.make` (gymnasium's ``register`` / ``make``).

Environments are registered under gymnasium's ids (``"CartPole-v1"``) with an
entry point and, optionally, an episode limit that `make` applies as a
`jit_env.wrappers.TimeLimit` (truncation), exactly as ``gymnasium.make`` adds
its ``TimeLimit`` wrapper.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import types
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


def register(
    env_id: str,
    entry_point: Callable[..., _core.Environment] | str,
    *,
    max_episode_steps: int | None = None,
    **default_kwargs: Any,
) -> None:
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
            return
        raise ValueError(
            f"register: {env_id!r} is already registered (entry point "
            f"{existing.entry_point!r}); use another id"
        )
    _REGISTRY[env_id] = record


def _same(a: EnvSpec, b: EnvSpec) -> bool:
    return (
        a.entry_point == b.entry_point
        and a.max_episode_steps == b.max_episode_steps
        and dict(a.kwargs) == dict(b.kwargs)
    )


def spec(env_id: str) -> EnvSpec:
    """The registration record of ``env_id``.

    Raises:
      KeyError: if ``env_id`` is not registered; the message lists close
        matches.
      TypeError: if ``env_id`` is not a string.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"`env_id` must be a str, got {type(env_id).__name__}")
    try:
        return _REGISTRY[env_id]
    except KeyError:
        close = difflib.get_close_matches(env_id, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"No environment registered with id {env_id!r}.{hint} "
            "See jit_env.registered_ids() for every id."
        ) from None


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
        (difflib).
      TypeError: if the entry point does not return a `jit_env.Environment`.
      ValueError: if ``max_episode_steps < 1``.
    """
    record = spec(env_id)
    constructor = _resolve(record.entry_point)
    env = constructor(**{**record.kwargs, **kwargs})
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
    """Every registered id, sorted."""
    return tuple(sorted(_REGISTRY))


def _resolve(entry_point: Callable[..., _core.Environment] | str) -> Callable[..., Any]:
    if not isinstance(entry_point, str):
        return entry_point
    module_name, _, attr = entry_point.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(
            f"entry point {entry_point!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None
