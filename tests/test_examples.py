"""Every script in examples/ runs and does what its docstring says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counting_env_example():
    out = _load("counting_env").main()
    # 2 + 2 + 2 = 6 >= target 5: terminated on the third step.
    assert out == {"count": 6, "last": True, "batch": [0, 1, 2, 1]}
