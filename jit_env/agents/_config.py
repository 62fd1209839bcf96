"""The fields every agent's config shares, and their validation.

Each algorithm's config (e.g. `PPOConfig`) is a frozen dataclass that extends
`TrainingConfig` with its own hyper-parameters and extends `problems` with its
own checks; `validate` reports every problem at once, naming the fields.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, TypeVar

import jax

C = TypeVar("C", bound="TrainingConfig")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The training run: environment, batch, rollout length, length of training.

    One update consumes one rollout of ``num_steps`` steps of each of the
    ``num_envs`` environments (see `jit_env.agents.make_trainer`).

    Attributes:
      env: the environment, as `jit_env.make` names it: a registered id
        (``"CartPole-v1"``), an id an installed package registers through the
        ``jit_env.envs`` entry-point group, a suite id (``"gymnax/CartPole-v1"``)
        or ``"package.module:attr"`` naming an `Environment` class or factory.
      env_kwargs: keyword arguments for the environment, as the text of a JSON
        object (``'{"size": 5}'``; ``jit-env train --env-kwargs``), so that the
        config stays a flat, hashable record and ``config.json`` holds it as
        given; `env_kwargs` parses it.
      num_envs: environments stepped in parallel per seed.
      num_steps: rollout length ``T`` per update.
      total_steps: environment steps per seed (all environments together).
      gamma: discount factor γ in [0, 1] (also the discount of `NormalizeReward`).
      normalize_observations: wrap the environment in `NormalizeObservation`.
      normalize_rewards: wrap the environment in `NormalizeReward` (discount ``gamma``).
      eval_every: every ``eval_every`` updates, evaluate the current agent
        greedily on ``eval_episodes`` whole episodes, inside the compiled
        program (`jit_env.agents.make_trainer`); 0 (the default) never does.
      eval_episodes: episodes per evaluation (played in parallel).
      env_params: domain randomisation of the training batch: ``NAME=VALUE``
        (every environment) or ``NAME=LOW,HIGH`` (each environment draws its
        own value uniformly once, at ``Trainer.init``, and keeps it across its
        episodes) for fields of the environment's ``default_params``
        (`jit_env.agents._env_params`); empty: the defaults. Evaluation
        (``eval_every``, ``jit-env eval``) plays the default parameters.
    """

    sweepable: ClassVar[tuple[str, ...]] = ("gamma",)
    """Fields a sweep may vary (`jit_env.agents.train`'s ``sweep``); subclasses add theirs."""

    env: str = "CartPole-v1"
    env_kwargs: str = "{}"
    num_envs: int = 4
    num_steps: int = 128
    total_steps: int = 500_000
    gamma: float = 0.99
    normalize_observations: bool = False
    normalize_rewards: bool = False
    eval_every: int = 0
    eval_episodes: int = 10
    env_params: tuple[str, ...] = ()

    @property
    def steps_per_update(self) -> int:
        """Environment steps consumed by one update: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Number of updates: ``total_steps // steps_per_update``."""
        return self.total_steps // self.steps_per_update

    def problems(self) -> list[str]:
        """Every out-of-range field, one message each (empty when the config is usable).

        Subclasses extend this with their own checks (``super().problems() + [...]``).
        """
        problems = []
        for name in ("num_envs", "num_steps", "total_steps"):
            if getattr(self, name) <= 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if not problems and self.total_steps < self.steps_per_update:
            problems.append(
                f"`total_steps`={self.total_steps} is less than one update "
                f"(num_envs * num_steps = {self.steps_per_update})"
            )
        if self.eval_every < 0:
            problems.append(f"`eval_every` must be >= 0 (0: no evaluation), got {self.eval_every}")
        if self.eval_episodes <= 0:
            problems.append(f"`eval_episodes` must be positive, got {self.eval_episodes}")
        if not 0.0 <= self.gamma <= 1.0:
            problems.append(f"`gamma` must be in [0, 1], got {self.gamma}")
        from jit_env.agents._env_params import parse_env_params

        try:
            env_kwargs(self)
        except ValueError as e:
            problems.append(str(e))
        try:
            parse_env_params(self.env_params)
        except ValueError as e:
            problems.append(str(e))
        return problems

    def validate(self: C) -> C:
        """Returns ``self`` if every field is usable.

        A config whose swept fields hold traced arrays (inside a sweep's
        ``jax.vmap``) is returned as is: `jit_env.agents.train` validated each
        grid point with concrete values before tracing.

        Raises:
          ValueError: listing every out-of-range field, e.g. ``invalid PPOConfig:
            `num_envs` must be positive, got 0``.
        """
        if any(isinstance(getattr(self, f.name), jax.core.Tracer)
               for f in dataclasses.fields(self)):
            return self
        problems = self.problems()
        if problems:
            raise ValueError(f"invalid {type(self).__name__}: " + "; ".join(problems))
        return self


def env_kwargs(config: TrainingConfig) -> dict[str, Any]:
    """``config.env_kwargs`` parsed: the keyword arguments for ``jit_env.make(config.env)``.

    Raises:
      ValueError: if ``config.env_kwargs`` is not the JSON text of an object;
        the message names ``env_kwargs``, quotes the text and gives the JSON
        parser's reason (or the type it holds, e.g. ``(a list)``).
    """
    text = config.env_kwargs
    example = "such as '{\"size\": 5}'"
    if not isinstance(text, str):
        raise ValueError(f"`env_kwargs` must be the text of a JSON object {example}, got "
                         f"{type(text).__name__} {text!r}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"`env_kwargs` must be a JSON object {example}, got {text!r} ({e})") \
            from None
    if not isinstance(value, dict):
        raise ValueError(f"`env_kwargs` must be a JSON object {example}, got {text!r} "
                         f"(a {type(value).__name__})")
    return value
