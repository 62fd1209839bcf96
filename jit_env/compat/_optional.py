"""Lazy imports of the optional ecosystems (dm_env, gymnasium, gymnax).

jit_env never imports these at package import time. Each adapter asks for the
module it needs when it is called; a missing one raises an `ImportError` that
names the extra to install, e.g.
``ImportError("to_gymnasium needs: pip install 'jit-env[gymnasium]'")``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_EXTRAS = {
    "dm_env": "jit-env[dm_env]",
    "gymnasium": "jit-env[gymnasium]",
    "gymnax": "jit-env[gymnax]",
    "pettingzoo": "jit-env[pettingzoo]",
}


def require(module: str, caller: str) -> ModuleType:
    """Imports ``module`` or raises an `ImportError` naming the extra.

    Args:
      module: one of ``"dm_env"``, ``"gymnasium"``, ``"gymnax"`` (or a
        sub-module of them, e.g. ``"dm_env.specs"``).
      caller: the public function that needs it, used in the message.

    Raises:
      ImportError: ``"<caller> needs: pip install '<extra>'"`` when the module
        cannot be imported.
    """
    top = module.split(".", 1)[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = _EXTRAS.get(top, top)
        raise ImportError(f"{caller} needs: pip install '{extra}'") from error
