"""`LibraryAdapter`: what the suite adapters (``from_brax``, ``from_gymnax``, …) share.

Each adapter holds one environment object of another library and names it the same
way: ``repr`` is the call that built it (``from_brax(Ant)``), ``str`` the suite's
label and the wrapped class (``BraxAnt``). Its specs are converted once, at
construction, and returned as they are; the class docstring of each adapter says
what they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jit_env import _core, specs
from jit_env.envs._scalar_specs import ScalarRewardDiscount


def wrapped_accessor(library: str) -> Any:
    """A read-only property returning the adapter's wrapped object (``self._wrapped``).

    Args:
      library: the library's name for the docstring (``"gymnax"``).
    """

    def get(self: LibraryAdapter) -> Any:
        return self._wrapped

    return property(get, doc=f"The wrapped {library} environment.")


class LibraryAdapter(_core.Environment):
    """Base of the adapters that wrap another library's environment object.

    A subclass sets the class attributes ``factory`` (its public constructor's
    name, e.g. ``"from_brax"``) and ``label`` (the ``str`` prefix, e.g.
    ``"Brax"``), a public accessor made by `wrapped_accessor` (``brax_env``,
    ``gymnax_env``, …), and in ``__init__`` ``self._wrapped`` and the converted
    specs ``self._observation_spec`` / ``self._action_spec`` (and
    ``self._reward_spec`` / ``self._discount_spec`` where they are not scalar
    float32).
    """

    factory: ClassVar[str]
    label: ClassVar[str]
    _wrapped: Any
    _observation_spec: specs.Spec
    _action_spec: specs.Spec
    _reward_spec: specs.Spec = ScalarRewardDiscount().reward_spec()
    _discount_spec: specs.Spec = ScalarRewardDiscount().discount_spec()

    def __repr__(self) -> str:
        return f"{self.factory}({type(self._wrapped).__name__})"

    def __str__(self) -> str:
        return f"{self.label}{type(self._wrapped).__name__}"

    def observation_spec(self) -> specs.Spec:
        """The wrapped environment's observation space, converted at construction."""
        return self._observation_spec

    def action_spec(self) -> specs.Spec:
        """The wrapped environment's action space, converted at construction."""
        return self._action_spec

    def reward_spec(self) -> specs.Spec:
        """The reward's spec: float32 scalar unless the class docstring says otherwise."""
        return self._reward_spec

    def discount_spec(self) -> specs.Spec:
        """The discount's spec, in [0, 1]: float32 scalar unless the class docstring says
        otherwise."""
        return self._discount_spec

    def _no_options(self, options: Any, why: str) -> None:
        """Raises ``ValueError`` naming the factory unless ``options`` is ``None``."""
        if options is not None:
            raise ValueError(
                f"{self.factory}: `options` must be None ({why}), got {type(options).__name__}"
            )
