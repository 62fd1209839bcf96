"""Adapters between jit_env and the dm_env / gymnasium / gymnax / brax / Craftax ecosystems.

| function | gives |
|---|---|
| `to_dm_env(env, key)` | a stateful ``dm_env.Environment`` |
| `to_gymnasium(env)` | a ``gymnasium.Env`` |
| `to_pettingzoo(env)` | a PettingZoo ``ParallelEnv`` (multi-agent) |
| `to_gymnasium_vector(env, num_envs)` | a ``gymnasium.vector.VectorEnv``, one jitted vmapped step |
| `from_gymnax(gymnax_env, env_params)` | a pure jit_env `Environment` |
| `to_gymnax(env, params)` | a gymnax ``Environment`` (gymnax 1.x ``reset`` / ``step`` / spaces) |
| `from_brax(brax_env)` | a pure jit_env `Environment` (raw brax env, final observation kept) |
| `from_craftax(craftax_env, env_params)` | a pure jit_env `Environment` (time limit = truncation) |
| `spec_to_space` / `space_to_spec` | jit_env spec <-> gymnasium space |
| `spec_to_dm_spec` / `dm_spec_to_spec` | jit_env spec <-> ``dm_env.specs`` |
| `register_gymnax_ids()` | ``jit_env.envs.make("gymnax/<id>")`` for every gymnax id |
| `register_brax_ids()` | ``jit_env.envs.make("brax/<name>")`` for every brax environment |
| `register_playground_ids()` | ``jit_env.envs.make("playground/<name>")``, MuJoCo Playground |
| `register_craftax_ids()` | ``jit_env.envs.make("craftax/<id>")`` for every Craftax id |
| `make_deepmind_wrapper()` / `make_gymnasium_wrapper()` | jit_env 0.1.5's API |

dm_env, gymnasium, gymnax, pettingzoo, brax, playground and craftax are optional: they are
imported when an adapter is called, and a missing one raises
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
from jit_env.compat._legacy import make_deepmind_wrapper, make_gymnasium_wrapper
from jit_env.compat._pettingzoo import to_pettingzoo
from jit_env.compat._spaces import space_to_spec, spec_to_space
from jit_env.compat._vector import to_gymnasium_vector

__all__ = [
    "BraxState",
    "CraftaxState",
    "FromBrax",
    "FromCraftax",
    "FromGymnax",
    "GymnaxState",
    "dm_spec_to_spec",
    "from_brax",
    "from_craftax",
    "from_gymnax",
    "make_deepmind_wrapper",
    "make_gymnasium_wrapper",
    "register_brax_ids",
    "register_craftax_ids",
    "register_gymnax_ids",
    "register_playground_ids",
    "space_to_spec",
    "spec_to_dm_spec",
    "spec_to_space",
    "to_dm_env",
    "to_gymnasium",
    "to_gymnasium_vector",
    "to_gymnax",
    "to_pettingzoo",
]
