"""The public surface of every package: `__all__` is sorted and equals the public names.

rlax's `__all__` drifted from what its package exported; this test keeps ours honest.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import types

import pytest

PUBLIC_MODULES = [
    "jit_env",
    "jit_env.agents",
    "jit_env.cli",
    "jit_env.compat",
    "jit_env.envs",
    "jit_env.ops",
    "jit_env.prng",
    "jit_env.rollout",
    "jit_env.specs",
    "jit_env.testing",
    "jit_env.wrappers",
]


def _imported_helper(name: str, value: object) -> bool:
    """Typing and standard-library helpers a module imports for its own use
    (``Any``, ``Callable``, ``partial``, ``dataclass``, ``TYPE_CHECKING``…)."""
    if name == "TYPE_CHECKING":
        return True
    origin = getattr(value, "__module__", None) or ""
    return callable(value) and not origin.startswith("jit_env")


def public_names(module: types.ModuleType) -> set[str]:
    """The names `module` exposes publicly.

    A name counts when it does not start with ``_`` (dunders such as ``__version__`` count only
    when ``__all__`` lists them), except ``annotations`` (from ``from __future__ import
    annotations``), modules that ``__all__`` does not list (sub-modules imported for internal
    use, or imported elsewhere: ``import jit_env.envs`` sets ``jit_env.envs``), and helpers
    imported from outside jit_env that ``__all__`` does not list (`_imported_helper`).
    """
    listed = set(getattr(module, "__all__", ()))
    names = set()
    for name, value in vars(module).items():
        if name == "annotations" or (name.startswith("_") and name not in listed):
            continue
        if isinstance(value, types.ModuleType) and name not in listed:
            continue
        if name not in listed and _imported_helper(name, value):
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_equals_public_names(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = sorted(n for n in exported if not hasattr(module, n))
    assert not missing, f"{name}.__all__ lists undefined names {missing}"
    public = public_names(module)
    assert set(exported) == public, (
        f"{name}: public but not in __all__: {sorted(public - set(exported))}; "
        f"in __all__ but not public: {sorted(set(exported) - public)}"
    )


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_functions_and_classes_have_docstrings(name):
    module = importlib.import_module(name)
    undocumented = [
        n
        for n in module.__all__
        if (inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n)))
        and not (inspect.getdoc(getattr(module, n)) or "").strip()
    ]
    assert not undocumented, f"{name}: no docstring on {undocumented}"


def test_public_names_helper():
    fake = types.ModuleType("fake")
    exec(
        "from __future__ import annotations\n"
        "import os\nimport json\n"
        "def f(): pass\n"
        "_private = 1\n__version__ = '1'\n"
        "__all__ = ['__version__', 'f', 'json']\n",
        fake.__dict__,
    )
    # `os` is an unlisted module, `_private` is private, `annotations` is the __future__ import.
    assert public_names(fake) == {"__version__", "f", "json"}
    fake.g = 1
    assert public_names(fake) == {"__version__", "f", "g", "json"}


def test_version_matches_installed_distribution():
    import jit_env

    assert jit_env.__version__ == importlib.metadata.version("jit-env")
    assert jit_env.__version_info__ == tuple(int(p) for p in jit_env.__version__.split("."))
