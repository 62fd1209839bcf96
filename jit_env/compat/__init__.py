"""Adapters between jit_env and the dm_env / gymnasium / PettingZoo ecosystems and the JAX suites.

| function | gives |
|---|---|
| `to_dm_env(env, key)` | a stateful ``dm_env.Environment`` |
| `to_gymnasium(env)` | a ``gymnasium.Env`` |
| `to_pettingzoo(env)` | a PettingZoo ``ParallelEnv`` (multi-agent) |
| `to_gymnasium_vector(env, num_envs)` | a ``gymnasium.vector.VectorEnv``, one jitted vmapped step |
| `to_gymnax(env, params)` | a gymnax ``Environment`` (gymnax 1.x ``reset`` / ``step`` / spaces) |
| `from_gymnax(gymnax_env, env_params)` | a pure jit_env `Environment` |
| `from_jumanji(jumanji_env)` | a pure jit_env `Environment` (jumanji TimeStep field by field) |
| `from_pgx(pgx_env)` | a pure jit_env `Environment` (1 player: single-agent; more: agent axis) |
| `from_navix(navix_env)` | a NAVIX (MiniGrid) environment as a pure jit_env `Environment` |
| `from_xminigrid(env, env_params)` | an XLand-MiniGrid environment, ``EnvParams`` in its state |
| `from_brax(brax_env)` | a pure jit_env `Environment` (raw brax env, final observation kept) |
| `from_craftax(craftax_env, env_params)` | a pure jit_env `Environment` (time limit = truncation) |
| `register_<suite>_ids()` | ``jit_env.make("<suite>/<id>")`` for every id of the suite (below) |
| `spec_to_space` / `space_to_spec` | jit_env spec <-> gymnasium space |
| `spec_to_dm_spec` / `dm_spec_to_spec` | jit_env spec <-> ``dm_env.specs`` |
| `make_deepmind_wrapper()` / `make_gymnasium_wrapper()` | jit_env 0.1.5's API |

The suites: gymnax, jumanji, pgx, navix, xminigrid, brax, playground (MuJoCo Playground),
craftax. dm_env, gymnasium, pettingzoo and the suites are optional: they are imported when an
adapter is called, and a missing one raises
``ImportError("to_gymnasium needs: pip install 'jit-env[gymnasium]'")``.
"""

from __future__ import annotations

from jit_env.compat._brax import (
    BraxState,
    FromBrax,
    from_brax,
    register_brax_ids,
    register_playground_ids,
)
from jit_env.compat._craftax import CraftaxState, FromCraftax, from_craftax, register_craftax_ids
from jit_env.compat._dm_env import to_dm_env
from jit_env.compat._dm_specs import dm_spec_to_spec, spec_to_dm_spec
from jit_env.compat._gymnasium import to_gymnasium
from jit_env.compat._gymnax import (
    FromGymnax,
    GymnaxState,
    from_gymnax,
    register_gymnax_ids,
    to_gymnax,
)
from jit_env.compat._jumanji import (
    FromJumanji,
    JumanjiState,
    from_jumanji,
    register_jumanji_ids,
)
from jit_env.compat._legacy import make_deepmind_wrapper, make_gymnasium_wrapper
from jit_env.compat._navix import FromNavix, NavixState, from_navix, register_navix_ids
from jit_env.compat._pettingzoo import to_pettingzoo
from jit_env.compat._pgx import FromPgx, PgxState, from_pgx, register_pgx_ids
from jit_env.compat._spaces import space_to_spec, spec_to_space
from jit_env.compat._vector import to_gymnasium_vector
from jit_env.compat._xminigrid import (
    FromXMiniGrid,
    XMiniGridState,
    from_xminigrid,
    register_xminigrid_ids,
)

__all__ = [
    "BraxState",
    "CraftaxState",
    "FromBrax",
    "FromCraftax",
    "FromGymnax",
    "FromJumanji",
    "FromNavix",
    "FromPgx",
    "FromXMiniGrid",
    "GymnaxState",
    "JumanjiState",
    "NavixState",
    "PgxState",
    "XMiniGridState",
    "dm_spec_to_spec",
    "from_brax",
    "from_craftax",
    "from_gymnax",
    "from_jumanji",
    "from_navix",
    "from_pgx",
    "from_xminigrid",
    "make_deepmind_wrapper",
    "make_gymnasium_wrapper",
    "register_brax_ids",
    "register_craftax_ids",
    "register_gymnax_ids",
    "register_jumanji_ids",
    "register_navix_ids",
    "register_pgx_ids",
    "register_playground_ids",
    "register_xminigrid_ids",
    "space_to_spec",
    "spec_to_dm_spec",
    "spec_to_space",
    "to_dm_env",
    "to_gymnasium",
    "to_gymnasium_vector",
    "to_gymnax",
    "to_pettingzoo",
]
