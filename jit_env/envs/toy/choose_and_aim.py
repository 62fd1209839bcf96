"""ChooseAndAim: a one-step task that needs a discrete and a continuous choice together.

Each episode shows a category ``k ∈ {0, 1, 2}`` (one-hot) and a target ``x ∈ [−1, 1]``
(uniform); the agent answers with a `specs.Dict` action ``{"choice": int in {0, 1, 2},
"aim": float32 [1]}`` and gets ``r = 1[choice == k] − |clip(aim, −1, 1) − x|``, then
the episode terminates. The best return is 1 (right category, exact aim); a uniform
choice with a standard-normal aim ``z`` scores ``1/3 − E|clip(z) − x| ≈ −0.43`` (a
NumPy Monte-Carlo estimate). ``aim`` is clipped to its bounds inside ``step`` (so a
Gaussian policy's unclipped sample is a valid action, the ``gaussian_bound="clip"``
convention of `jit_env.agents.make_action_head`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jit_env import _core, specs
from jit_env.envs._scalar_specs import ScalarRewardDiscount
from jit_env.envs.toy._rendering import cells_image


class ChooseAndAimState(NamedTuple):
    """State of `ChooseAndAim`.

    Attributes:
      key: PRNG key for future resets (``step`` never uses it).
      category: int32 scalar, the category to choose.
      target: float32 scalar in [−1, 1], the point to aim at.
    """

    key: jax.Array
    category: jax.Array
    target: jax.Array


class ChooseAndAim(ScalarRewardDiscount, _core.Environment):
    """Choose the shown category and aim at the shown point (id ``ChooseAndAim-v0``).

    Observation: float32 ``[4]``: one-hot category (3) then the target.
    Action: ``{"choice": int32 scalar in {0, 1, 2}, "aim": float32 [1]}`` (``aim``
    is clipped to [−1, 1]). Reward: float32 ``1[choice == k] − |aim − x|`` on the
    single step, which terminates (discount 0). ``render`` gives a uint8
    ``[32, 336, 3]`` image: the category's third of the top row, the target's cell
    of the 21 in the bottom row.

    Args:
      renderer: optional replacement for the built-in renderer.
    """

    def __init__(self, *, renderer: Any = None):
        super().__init__(renderer=renderer if renderer is not None else self._draw)

    def _draw(self, state: ChooseAndAimState) -> jax.Array:
        col = jnp.arange(21)
        top = jnp.where(col // 7 == state.category, 3, 0)
        spot = jnp.round((jnp.clip(state.target, -1.0, 1.0) + 1.0) * 10.0).astype(jnp.int32)
        bottom = jnp.where(col == spot, 2, 1)
        return cells_image(jnp.stack([top, bottom]).astype(jnp.int32))

    def reset(self, key: jax.Array, *, options: Any = None
              ) -> tuple[ChooseAndAimState, _core.TimeStep]:
        """Draws the category and the target.

        Raises:
          ValueError: if ``options`` is not ``None``.
        """
        if options is not None:
            raise ValueError(f"ChooseAndAim.reset: `options` must be None, got {options!r}")
        key, k_key, x_key = jax.random.split(key, 3)
        category = jax.random.randint(k_key, (), 0, 3, dtype=jnp.int32)
        target = jax.random.uniform(x_key, (), jnp.float32, -1.0, 1.0)
        state = ChooseAndAimState(key, category, target)
        return state, _core.restart(self._observation(state))

    def _observation(self, state: ChooseAndAimState) -> jax.Array:
        onehot = jax.nn.one_hot(state.category, 3, dtype=jnp.float32)
        return jnp.concatenate([onehot, state.target[None]])

    def step(self, state: ChooseAndAimState, action: Any
             ) -> tuple[ChooseAndAimState, _core.TimeStep]:
        """Scores the answer and terminates.

        Raises:
          TypeError: if ``action`` is not a dict with exactly the keys ``choice`` and
            ``aim``, or ``choice`` is not an integer.
          ValueError: if ``choice`` is not a scalar or ``aim`` not of shape ``(1,)``.
        """
        if not isinstance(action, dict) or set(action) != {"choice", "aim"}:
            raise TypeError(
                "ChooseAndAim.step: `action` must be a dict with keys 'aim' and 'choice', "
                f"got {action!r}"
            )
        choice = jnp.asarray(action["choice"])
        aim = jnp.asarray(action["aim"], jnp.float32)
        if choice.shape != () or not jnp.issubdtype(choice.dtype, jnp.integer):
            raise (TypeError if choice.shape == () else ValueError)(
                f"ChooseAndAim.step: `action['choice']` must be an integer scalar, got "
                f"{choice.dtype} {choice.shape}"
            )
        if aim.shape != (1,):
            raise ValueError(f"ChooseAndAim.step: `action['aim']` must have shape (1,), "
                             f"got {aim.shape}")
        hit = (choice == state.category).astype(jnp.float32)
        reward = hit - jnp.abs(jnp.clip(aim[0], -1.0, 1.0) - state.target)
        return state, _core.termination(reward, self._observation(state))

    def observation_spec(self) -> specs.BoundedArray:
        """float32 ``[4]`` in [−1, 1]."""
        return specs.BoundedArray((4,), jnp.float32, -1.0, 1.0, name="observation")

    def action_spec(self) -> specs.Dict:
        """``Dict(aim=BoundedArray((1,), float32, -1, 1), choice=DiscreteArray(3))``."""
        return specs.Dict(
            choice=specs.DiscreteArray(3, dtype=jnp.int32, name="choice"),
            aim=specs.BoundedArray((1,), jnp.float32, -1.0, 1.0, name="aim"),
        )

