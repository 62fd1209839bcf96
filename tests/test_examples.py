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


def test_custom_training_step_example():
    module = _load("custom_training_step")
    loss = module.main(num_updates=3)
    assert abs(loss) < 1e4
    assert loss == loss  # finite (NaN != NaN)
    # One jitted program: the step compiled once for three calls.
    assert module.train_step._cache_size() == 1
