"""Every algorithm's ``Config.validate`` names the field, the expected and the actual value.

Each case starts from the algorithm's small config (the ``tiny_agent`` fixture) and
changes the fields in ``overrides``; the error must read ``invalid <Config>: …``
followed by ``message`` (a regular expression).
"""

from __future__ import annotations

import dataclasses

import pytest

CASES = {
    "a2c": [
        ({"num_envs": 0}, "`num_envs` must be positive, got 0"),
        ({"gae_lambda": 1.5}, "`gae_lambda` must be in \\[0, 1\\], got 1.5"),
        ({"optimizer": "sgd"}, "`optimizer` must be one of \\['rmsprop', 'adam'\\], got 'sgd'"),
        ({"learning_rate": 0.0}, "`learning_rate` must be positive, got 0.0"),
        ({"ent_coef": -1.0}, "`ent_coef` must be >= 0, got -1.0"),
        ({"hidden_sizes": (0,)}, "`hidden_sizes` must be positive"),
    ],
    "ppo_continuous": [
        ({"num_minibatches": 3}, "`num_minibatches`=3 must divide"),
        ({"learning_rate": 0.0}, "`learning_rate` must be positive"),
        ({"gae_lambda": 2.0}, "`gae_lambda` must be in"),
    ],
    "dqn": [
        ({"num_envs": 0}, "`num_envs` must be positive"),
        ({"buffer_size": 0}, "`buffer_size` must be positive, got 0"),
        ({"train_frequency": 3}, "`train_frequency`=3 must divide num_envs \\* num_steps = 32"),
        ({"target_network_frequency": 12}, "`target_network_frequency`=12 must be a multiple"),
        ({"tau": 0.0}, "`tau` must be in \\(0, 1\\], got 0.0"),
        ({"end_e": 1.5}, "`end_e` must be in \\[0, 1\\], got 1.5"),
        ({"head": "iqn"}, "`head` must be one of \\['q', 'c51', 'qr'\\], got 'iqn'"),
        ({"huber_delta": -1.0}, "`huber_delta` must be positive or None"),
        ({"v_min": 5.0, "v_max": 5.0}, "`v_min`=5.0 must be less than `v_max`=5.0"),
        ({"num_atoms": 1}, "`num_atoms` must be >= 2"),
        ({"learning_starts": -1}, "`learning_starts` must be >= 0"),
        ({"activation": "swish"}, "`activation` must be one of"),
    ],
    "impala": [
        ({"behaviour_lag": 0}, "`behaviour_lag` must be >= 1, got 0"),
        ({"vtrace_lambda": -0.1}, "`vtrace_lambda` must be in \\[0, 1\\], got -0.1"),
        ({"clip_rho_threshold": 0.0}, "`clip_rho_threshold` must be positive, got 0.0"),
        ({"rmsprop_decay": 1.0}, "`rmsprop_decay` must be in \\[0, 1\\), got 1.0"),
        ({"num_steps": 0}, "`num_steps` must be positive, got 0"),
    ],
    "ppo": [
        ({"num_envs": 0}, "`num_envs` must be positive"),
        ({"num_minibatches": 3}, "`num_minibatches`=3 must divide"),
        ({"gamma": 1.5}, "`gamma` must be in"),
        ({"total_steps": 10}, "less than one update"),
        ({"activation": "swish"}, "`activation` must be one of"),
    ],
    "recurrent_ppo": [
        ({"cell": "rnn"}, "`cell` must be one of"),
        ({"rnn_size": 0}, "`rnn_size` must be positive"),
        ({"head_sizes": (0,)}, "`head_sizes` must be positive"),
        ({"num_envs": 6, "num_minibatches": 4}, "`num_minibatches`=4 must divide `num_envs`=6"),
        ({"gamma": -0.1}, "`gamma` must be in"),
    ],
    "reinforce": [
        ({"total_steps": 10}, "`total_steps`=10 is less than one update"),
        ({"vf_coef": -0.5}, "`vf_coef` must be >= 0, got -0.5"),
        ({"activation": "swish"}, "`activation` must be one of"),
        ({"max_grad_norm": 0.0}, "`max_grad_norm` must be positive, got 0.0"),
    ],
}


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [(name, o, m) for name, cases in CASES.items() for o, m in cases],
)
def test_config_validation_names_the_field(tiny_agent, name, overrides, message):
    config, _ = tiny_agent(name)
    with pytest.raises(ValueError, match=f"invalid {type(config).__name__}: .*{message}"):
        dataclasses.replace(config, **overrides).validate()
