"""`to_pettingzoo`: a multi-agent jit_env environment as a PettingZoo ``ParallelEnv``."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import numpy as np

from jit_env import _core, _multiagent
from jit_env.compat._gymnasium import RENDER_FPS, env_options, render_modes
from jit_env.compat._host import HostView, action_caster, to_numpy_like_space, tree_to_numpy
from jit_env.compat._jitted import compiled, render
from jit_env.compat._keys import as_key, check_seed
from jit_env.compat._optional import require
from jit_env.compat._spaces import spec_to_space


@functools.cache
def _adapter_class() -> type:
    pz: Any = require("pettingzoo", "to_pettingzoo")
    gym: Any = require("gymnasium", "to_pettingzoo")

    class JitEnvToPettingZoo(HostView, pz.ParallelEnv):
        """A multi-agent jit_env `Environment` behind PettingZoo's ``ParallelEnv`` API.

        Built by `to_pettingzoo` (see there).
        """

        _adapter = "to_pettingzoo"

        def __init__(
            self,
            env: _core.Environment,
            seed: int | None = None,
            *,
            render_mode: str | None = None,
            options: Any = None,
        ):
            self._hold(env, None if seed is None else check_seed(seed), options)
            ids = env.agent_ids
            if ids is None:
                raise ValueError(
                    f"to_pettingzoo needs a multi-agent environment (env.agent_ids), got {env}; "
                    "use to_gymnasium for a single agent"
                )
            modes = render_modes(env, options, render_mode)
            self._rng = np.random.default_rng(seed)
            self.render_mode = render_mode
            self.metadata = {
                "name": f"jit_env/{type(env.unwrapped).__name__}",
                "render_modes": modes,
                "render_fps": RENDER_FPS,
                "is_parallelizable": True,
            }
            self.possible_agents = list(ids)
            self.agents: list[str] = []
            obs_spec, action_spec = env.observation_spec(), env.action_spec()
            self._obs_spaces = {
                a: spec_to_space(_multiagent.agent_spec(obs_spec, i)) for i, a in enumerate(ids)
            }
            self._action_spaces = {
                a: spec_to_space(_multiagent.agent_spec(action_spec, i))
                for i, a in enumerate(ids)
            }
            self._casters = [
                action_caster(_multiagent.agent_spec(action_spec, i), f"actions[{a!r}]")
                for i, a in enumerate(ids)
            ]
            # The action an agent that is out (discount 0 before the episode ends) is given.
            self._idle = jax.device_get(action_spec.generate_value())
            self._reset_fn, self._step_fn = compiled(env)

        def observation_space(self, agent: str) -> Any:
            return self._obs_spaces[agent]

        def action_space(self, agent: str) -> Any:
            return self._action_spaces[agent]

        def _per_agent(self, observation: Any) -> dict[str, Any]:
            return {
                a: to_numpy_like_space(
                    jax.tree.map(lambda x, i=i: x[i], observation), self._obs_spaces[a],
                    gym.spaces,
                )
                for i, a in enumerate(self.possible_agents)
                if a in self.agents
            }

        def _env_options(self, options: dict[str, Any] | None) -> Any:
            if options is None:
                return self._options
            if not isinstance(options, dict):
                raise TypeError(f"`options` must be a dict or None, got {type(options).__name__}")
            unknown = sorted(set(options) - {"env_options"}, key=str)
            if unknown:
                warnings.warn(
                    f"to_pettingzoo.reset: ignoring options {unknown} (only 'env_options', the "
                    "jit_env environment's options, is read)",
                    UserWarning,
                    stacklevel=3,
                )
            return env_options(self._options, options.get("env_options"))

        def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
            if seed is not None:
                self._key = as_key(check_seed(seed), "seed")
                self._rng = np.random.default_rng(seed)
            elif self._key is None:
                self._key = as_key(int(self._rng.integers(2**32)), "seed")
            self._key, self._state, timestep = self._reset_fn(
                self._key, self._env_options(options), self._state
            )
            self.agents = list(self.possible_agents)
            observation = jax.device_get(timestep.observation)
            return self._per_agent(observation), {a: {} for a in self.agents}

        def step(self, actions: dict[str, Any]):
            if self._state is None:
                raise RuntimeError("to_pettingzoo: call reset() before step()")
            if not isinstance(actions, dict):
                raise TypeError(f"`actions` must be a dict keyed by agent, got {type(actions)}")
            missing = [a for a in self.agents if a not in actions]
            unknown = [a for a in actions if a not in self.agents]
            if missing or unknown:
                raise ValueError(
                    f"`actions` must hold one action per live agent {self.agents}: "
                    f"missing {missing}, not live {unknown}"
                )
            leaves = []
            for i, a in enumerate(self.possible_agents):
                if a in actions:
                    leaves.append(jax.device_get(self._casters[i](actions[a])))
                else:
                    leaves.append(jax.tree.map(lambda x, i=i: x[i], self._idle))
            full = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *leaves)
            self._state, timestep, _, _ = self._step_fn(self._state, full)
            observation, reward, discount, last, extras = jax.device_get(
                (timestep.observation, timestep.reward, timestep.discount, timestep.last(),
                 timestep.extras)
            )
            live = list(self.agents)
            obs = self._per_agent(observation)
            index = {a: i for i, a in enumerate(self.possible_agents)}
            rewards = {a: float(reward[index[a]]) for a in live}
            terminated = {a: bool(discount[index[a]] == 0) for a in live}
            truncated = {a: bool(last) and not terminated[a] for a in live}
            info = {} if extras is None else tree_to_numpy(dict(extras))
            infos = {a: dict(info) for a in live}
            self.agents = [a for a in live if not (terminated[a] or truncated[a])]
            return obs, rewards, terminated, truncated, infos

        def render(self) -> Any:
            if self.render_mode is None:
                return None
            if self._state is None:
                raise RuntimeError("to_pettingzoo: call reset() before render()")
            return np.asarray(jax.device_get(render(self._env, self._state)))

        def close(self) -> None:
            self._env.close()

    return JitEnvToPettingZoo


def to_pettingzoo(
    env: _core.Environment,
    seed: int | None = None,
    *,
    render_mode: str | None = None,
    options: Any = None,
) -> Any:
    """A multi-agent jit_env environment as a stateful PettingZoo ``ParallelEnv``.

    * ``possible_agents``: ``list(env.agent_ids)``; ``agents``: the live ones
      (all after ``reset``; an agent leaves when its discount is 0 — it
      terminated — or when the episode is truncated; ``[]`` after ``LAST``).
    * ``observation_space(agent)`` / ``action_space(agent)``: gymnasium spaces
      of that agent's slice of the specs (`jit_env.wrappers.agent_spec`), the
      same object on every call.
    * ``reset(seed=None, options=None)``: ``({agent: observation}, {agent: {}})``;
      the keys follow `to_gymnasium`'s chain (an int ``seed`` restarts it).
      ``options["env_options"]``, if given, replaces the environment options
      for this reset; any other key is ignored with a `UserWarning` naming it
      (PettingZoo's options are free-form dicts: ``parallel_api_test`` passes
      ``{"options": 1}``).
    * ``step(actions)``: ``actions`` must hold exactly the live agents; each is
      validated (dtype kind, shape, bounds: `ValueError` / `TypeError` naming
      ``actions[agent]``) and stacked on the agent axis; an agent that is out
      plays ``action_spec().generate_value()``'s entry. Returns PettingZoo's
      ``(observations, rewards, terminations, truncations, infos)`` dicts
      (termination: discount 0; truncation: ``LAST`` with a positive discount);
      every live agent's info is the TimeStep's ``extras`` (NumPy copies).
    * ``render()``: ``uint8 [H, W, 3]`` with ``render_mode="rgb_array"``.

    One jitted reset and one jitted step program per environment (shared with
    `to_gymnasium`'s cache).

    Args:
      env: a multi-agent environment (``env.agent_ids`` not ``None``),
        unbatched, not auto-resetting (``step`` after the episode ends needs
        ``reset``).
      seed: optional seed of the first ``reset()`` called without one.
      render_mode: ``None`` or ``"rgb_array"`` (if the environment renders).
      options: environment parameters for every ``reset`` (a non-empty
        ``options`` passed to ``reset`` replaces them).

    Raises:
      ImportError: without pettingzoo (``pip install 'jit-env[pettingzoo]'``).
      TypeError: if ``env`` is not a `jit_env.Environment`.
      ValueError: if ``env`` is single-agent or ``render_mode`` is not offered.

    Reference: PettingZoo 1.27 ``pettingzoo/utils/env.py`` (``ParallelEnv``),
    checked by ``pettingzoo.test.parallel_api_test``.
    """
    return _adapter_class()(env, seed, render_mode=render_mode, options=options)
