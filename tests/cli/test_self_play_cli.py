"""``jit-env train --algo ppo_selfplay`` (SlimeVolley-v0 self-play) and ``jit-env eval``
against the baseline with a GIF of a match.

The run is the ``agent_cli_run`` fixture's (tests/conftest.py: 2 seeds, tiny networks),
which the contract tests (tests/agents/test_contract.py) share.
"""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from jit_env import cli
from jit_env.cli import _evaluate


@pytest.mark.slow
def test_self_play_run_evaluates_against_the_baseline_and_renders_a_match(
        agent_cli_run, tmp_path, capsys):
    run = agent_cli_run("ppo_selfplay")
    gif = tmp_path / "match.gif"
    capsys.readouterr()
    assert cli.main(["eval", str(run), "--episodes", "3", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("SlimeVolley-v0 (greedy policy): return ")
    assert " over 3 episodes " in out[0]
    mean = float(out[0].split("return ")[1].split(" ")[0])
    assert -5.0 <= mean <= 5.0  # a match is lost or won by at most 5 points
    frames = iio.imread(gif, index=None)
    written = int(out[1].removeprefix(f"wrote {gif} (").removesuffix(" frames)"))
    # Pillow's GIF writer merges identical consecutive frames (the serve's still ball).
    assert 10 < frames.shape[0] <= written <= 250
    assert frames.shape[1:3] == (250, 600)  # SlimeVolley's 600-pixel width, 12:5
    assert len(np.unique(frames[0].reshape(-1, frames.shape[-1]), axis=0)) > 3


def test_slime_volley_evaluations_default_to_1000_episodes():
    assert _evaluate.LONG_EVALUATIONS["SlimeVolley-v0"] == 1000
    assert _evaluate.DEFAULT_EPISODES == 100


def test_self_play_config_checks_name_the_field():
    from jit_env.agents.self_play import SelfPlayPPOConfig

    with pytest.raises(ValueError, match="SlimeVolley-v0"):
        SelfPlayPPOConfig(env="CartPole-v1").validate()
    with pytest.raises(ValueError, match="window_episodes"):
        SelfPlayPPOConfig(window_episodes=0).validate()
    with pytest.raises(ValueError, match="normalize"):
        SelfPlayPPOConfig(normalize_observations=True).validate()
