"""The algorithms ``jit-env train --algo NAME`` can train, by name.

Each entry names the module that defines the algorithm, its config dataclass
(a `TrainingConfig`) and its agent factory ``factory(config, env_spec) ->
Agent``. Modules are imported on first use, so listing the algorithms imports
none of them.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple


class Algorithm(NamedTuple):
    """One trainable algorithm.

    Attributes:
      name: the ``--algo`` name.
      module: module that defines the config and the factory.
      config: name of its `TrainingConfig` subclass in ``module``.
      factory: name of ``factory(config, env_spec) -> Agent`` in ``module``.
      description: one line for ``jit-env list``.
    """

    name: str
    module: str
    config: str
    factory: str
    description: str

    def load(self) -> tuple[type, Any]:
        """Imports the module; returns ``(config_class, factory)``."""
        module = importlib.import_module(self.module)
        return getattr(module, self.config), getattr(module, self.factory)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "ppo", "jit_env.agents.ppo", "PPOConfig", "make_ppo",
            "Proximal Policy Optimization (Schulman et al. 2017), discrete or Gaussian",
        ),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """The algorithm registered as ``name``.

    Raises:
      ValueError: for an unknown ``name``, listing the known ones.
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known: {sorted(ALGORITHMS)}")
    return ALGORITHMS[name]
