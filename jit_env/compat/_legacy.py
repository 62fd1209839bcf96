"""jit_env 0.1.5's ``make_deepmind_wrapper`` / ``make_gymnasium_wrapper``, kept for drop-in use.

0.1.5 returned ``None`` when the library was missing; following the project's
rule for optional dependencies, these raise an `ImportError` naming the extra
instead (code that tested ``is not None`` keeps working when it is installed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jit_env.compat import _dm_env, _gymnasium
from jit_env.compat._dm_specs import spec_to_dm_spec
from jit_env.compat._optional import require
from jit_env.compat._spaces import spec_to_space


def make_deepmind_wrapper() -> tuple[type, Callable[[Any], Any]]:
    """jit_env 0.1.5 API: ``(ToDeepmindEnv, specs_to_dm_specs)``.

    Returns:
      ``(cls, converter)``: ``cls(env, key=0, *, options=None)`` builds the
      same adapter as `to_dm_env` (0.1.5's ``ToDeepmindEnv(env, rng)`` call
      works: ``rng`` may be a legacy or typed key); ``converter`` is
      `spec_to_dm_spec`.

    Raises:
      ImportError: ``"make_deepmind_wrapper needs: pip install 'jit-env[dm_env]'"``
        (0.1.5 returned ``None``).

    Reference: jit_env 0.1.5 ``jit_env.compat.make_deepmind_wrapper``.
    """
    require("dm_env", "make_deepmind_wrapper")
    return _dm_env._adapter_class(), spec_to_dm_spec


def make_gymnasium_wrapper() -> tuple[type, Callable[[Any], Any]]:
    """jit_env 0.1.5 API: ``(ToGym, specs_to_gym_space)``.

    Returns:
      ``(cls, converter)``: ``cls(env, seed=None, *, render_mode=None,
      options=None)`` builds the same adapter as `to_gymnasium` (0.1.5's
      ``ToGym(env, seed)`` call works: ``seed`` seeds the first unseeded
      ``reset()``); ``converter`` is `spec_to_space`.

    Raises:
      ImportError: ``"make_gymnasium_wrapper needs: pip install 'jit-env[gymnasium]'"``
        (0.1.5 returned ``None``).

    Reference: jit_env 0.1.5 ``jit_env.compat.make_gymnasium_wrapper``.
    """
    require("gymnasium", "make_gymnasium_wrapper")
    return _gymnasium._adapter_class(), spec_to_space
