"""Lazy imports of the optional ecosystems (dm_env, gymnasium, gymnax), and the extras.

jit_env never imports these at package import time. Each adapter asks for the
module it needs when it is called; a missing one raises an `ImportError` that
names the extra to install, e.g.
``ImportError("to_gymnasium needs: pip install 'jit-env[gymnasium]'")``. A
module that is installed but fails to import (one of *its* dependencies is
missing, say) gets an `ImportError` that says so and names the missing
module, instead of sending the user to install what they already have.

`EXTRAS` lists the modules each of ``pyproject.toml``'s optional extras
provides; `installed_extras` says which are importable (``jit-env list``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

EXTRAS: dict[str, tuple[str, ...]] = {
    "dm_env": ("dm_env",),
    "gymnasium": ("gymnasium",),
    # gymnax 1.0.1 imports six (gymnax/utils/load_mnist.py, through
    # gymnax/environments/bsuite/mnist.py) without declaring it.
    "gymnax": ("gymnax", "six"),
    "agents": ("flax", "optax", "tyro", "rich", "matplotlib", "imageio"),
    "tensorboard": ("tensorboardX",),
    "wandb": ("wandb",),
    "pettingzoo": ("pettingzoo",),
    "navix": ("navix",),
    "xminigrid": ("xminigrid",),
    "jumanji": ("jumanji",),
    "pgx": ("pgx",),
    "brax": ("brax",),
    "craftax": ("craftax",),
    "playground": ("mujoco_playground",),
}
"""Extra name -> the top-level modules its requirements in ``pyproject.toml`` provide."""

_EXTRA_OF = {"dm_env": "dm_env", "gymnasium": "gymnasium", "gymnax": "gymnax",
             "pettingzoo": "pettingzoo", "navix": "navix", "xminigrid": "xminigrid",
             "jumanji": "jumanji", "pgx": "pgx", "brax": "brax", "craftax": "craftax",
             "mujoco_playground": "playground"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that cannot be imported
        return False


def require(module: str, caller: str) -> ModuleType:
    """Imports ``module`` or raises an `ImportError` naming the extra.

    Args:
      module: one of ``"dm_env"``, ``"gymnasium"``, ``"gymnax"`` (or a
        sub-module of them, e.g. ``"dm_env.specs"``).
      caller: the public function that needs it, used in the message.

    Raises:
      ImportError: ``"<caller> needs: pip install '<extra>'"`` when the
        module's top-level package is not installed; ``"<caller> needs <top>,
        which is installed but cannot be imported: No module named 'six'
        (pip install six, ...)"`` when it is installed but its import fails.
    """
    top = module.split(".", 1)[0]
    extra = f"jit-env[{_EXTRA_OF[top]}]" if top in _EXTRA_OF else top
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if not _installed(top):
            raise ImportError(f"{caller} needs: pip install '{extra}'") from error
        missing = getattr(error, "name", None)
        if isinstance(error, ModuleNotFoundError) and missing:
            hint = f"pip install {missing.split('.', 1)[0]}, or reinstall '{extra}'"
        else:
            hint = f"reinstall '{extra}'"
        raise ImportError(
            f"{caller} needs {top}, which is installed but cannot be imported: {error} ({hint})"
        ) from error


def installed_extras() -> dict[str, bool]:
    """Extra name -> whether every module of `EXTRAS` ``[name]`` can be found (not imported)."""
    return {name: all(_installed(m) for m in modules) for name, modules in EXTRAS.items()}


def register_suite(prefix: str, names: Any, entry_point: str, argument: str,
                   extra: Callable[[str], dict[str, Any]] | None = None) -> tuple[str, ...]:
    """Registers ``prefix + name`` for every suite ``name``: the body of each ``register_*_ids``.

    Each id's record is ``register(prefix + name, entry_point, **{argument: name},
    **extra(name))`` (`jit_env.envs.register`; registering twice is a no-op).

    Returns:
      The ids registered, sorted.
    """
    from jit_env.envs import register

    ids = []
    for name in names:
        register(prefix + name, entry_point, **{argument: name}, **(extra(name) if extra else {}))
        ids.append(prefix + name)
    return tuple(sorted(ids))
