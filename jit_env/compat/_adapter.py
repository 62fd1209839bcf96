"""`LibraryAdapter`: what the suite adapters (``from_brax``, ``from_gymnax``, …) share.

Each adapter holds one environment object of another library and names it the same
way: ``repr`` is the call that built it (``from_brax(Ant)``), ``str`` the suite's
label and the wrapped class (``BraxAnt``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from jit_env import _core


class LibraryAdapter(_core.Environment):
    """Base of the adapters that wrap another library's environment object.

    A subclass sets the class attributes ``factory`` (its public constructor's
    name, e.g. ``"from_brax"``) and ``label`` (the ``str`` prefix, e.g.
    ``"Brax"``) and stores the wrapped object as ``self._wrapped``; its public
    accessor (``brax_env``, ``gymnax_env``, …) returns ``self._wrapped``.
    """

    factory: ClassVar[str]
    label: ClassVar[str]
    _wrapped: Any

    def __repr__(self) -> str:
        return f"{self.factory}({type(self._wrapped).__name__})"

    def __str__(self) -> str:
        return f"{self.label}{type(self._wrapped).__name__}"
