"""Every script in examples/ runs and does what its docstring says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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


# rlax's Catch examples (examples/simple_dqn.py, online_q_learning.py, online_q_lambda.py,
# pop_art.py). A greedy policy that ignores the observation catches at most the balls of
# one column (1 in 5), an average return of at most 1/5 − 4/5 = −0.6; an average ≥ 0.5
# over 100 evaluation episodes needs ≥ 75 % catches, i.e. a policy that follows the ball.
RLAX_SHORT = {  # example -> (training episodes of the short form, where it is measured)
    "simple_dqn": 151,
    "online_q_learning": 301,
    "online_q_lambda": 201,
}


def _final_evaluation(module, **overrides):
    import numpy as np

    episodes = overrides.get("train_episodes", module.DEFAULTS["train_episodes"])
    every = overrides.setdefault("evaluate_every", episodes - 1)
    _, returns = module.train(**overrides)
    returns = np.asarray(returns)
    last = (episodes - 1) // every * every
    assert np.isnan(returns[last + 1:]).all()
    assert not np.isnan(returns[last])
    return float(returns[last])


@pytest.mark.parametrize("name", sorted(RLAX_SHORT))
def test_rlax_example_learns_catch_in_a_short_run(name):
    avg = _final_evaluation(_load(name), train_episodes=RLAX_SHORT[name])
    assert avg >= 0.5, (name, avg)


def test_rlax_pop_art_example_adapts_its_statistics_to_the_reward_scale():
    """200 episodes: too few to learn ×10⁴-scaled Catch, but ART must have moved the
    statistics from σ = 1 to the targets' scale (|target| ≤ 10⁴, mostly 0 or ±10⁴)."""
    import numpy as np

    module = _load("pop_art")
    state, returns = module.train(train_episodes=200, evaluate_every=199, eval_episodes=10)
    scale = float(np.asarray(state.pop_art_state.scale)[0])
    assert 100.0 < scale < 1e4 + 1, scale
    assert np.isfinite(np.asarray(returns)[199])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["simple_dqn", "online_q_learning", "online_q_lambda",
                                  "pop_art"])
def test_rlax_examples_learn_catch_at_their_defaults(name):
    """rlax's default number of episodes: the last greedy evaluation averages ≥ 0.9."""
    module = _load(name)
    scale = module.DEFAULTS.get("reward_scale", 1.0)
    avg = _final_evaluation(module, evaluate_every=module.DEFAULTS["evaluate_every"])
    assert avg / scale >= 0.9, (name, avg / scale)
