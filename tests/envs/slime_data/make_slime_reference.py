"""Regenerates ``slime_reference.npz``: trajectories of slimevolleygym 0.1.0's own game.

Not part of the test run (it needs slimevolleygym, which needs the unmaintained
``gym``). Run it in a separate virtual environment::

    python3 -m venv /tmp/slime-venv
    /tmp/slime-venv/bin/pip install "numpy<2" "gym==0.26.2" opencv-python-headless
    /tmp/slime-venv/bin/pip install --no-deps slimevolleygym==0.1.0
    /tmp/slime-venv/bin/python tests/envs/slime_data/make_slime_reference.py

(slimevolleygym imports ``cv2`` at the top of ``slimevolley.py``; gym 0.19,
which it was written against, no longer builds with current setuptools;
``Game`` uses nothing from gym 0.26 that changed.)

What it records, each as consecutive states of one ``slimevolleygym.slimevolley.Game``
(float64, the layout of ``jit_env.envs.slime._game.Game``), the binary actions
(left, right) applied between them and ``Game.step``'s result:

* ``baseline``: the right agent pressing random buttons against the left
  agent driven by slimevolleygym's ``BaselinePolicy`` (300 steps), and the
  baseline's ``outputState`` after each ``predict`` (the recurrent outputs,
  float64 [7]) and its buttons;
* ``random``: both agents random (200 steps);
* edge scenarios, each set by assigning ``Game`` attributes and then run 40
  steps with random buttons: ``net`` (ball on the fence stub), ``fence``
  (ball crossing into the fence from the right), ``wall`` (ball past the
  right wall), ``ceiling`` (ball at the top), ``jumps`` (both agents jump on
  the same frames under a falling ball), ``last_life`` (one life each, the
  ball about to land on the left: the match ends).
"""

from __future__ import annotations

import pathlib

import numpy as np
from slimevolleygym import slimevolley as sv

SEED = 20261207
OUT = pathlib.Path(__file__).with_name("slime_reference.npz")


def state_of(game: sv.Game) -> np.ndarray:
    """``[40]``: ball (x, y, prev_x, vx, vy), agents (x, y, vx, vy) x2, lives x2, delay,
    relative states (12 for the left agent, then 12 for the right, unscaled)."""
    b = game.ball
    row = [b.x, b.y, b.prev_x, b.vx, b.vy]
    for agent in (game.agent_left, game.agent_right):
        row += [agent.x, agent.y, agent.vx, agent.vy]
    row += [game.agent_left.life, game.agent_right.life, game.delayScreen.life]
    for agent in (game.agent_left, game.agent_right):
        s = agent.state
        row += [s.x, s.y, s.vx, s.vy, s.bx, s.by, s.bvx, s.bvy, s.ox, s.oy, s.ovx, s.ovy]
    return np.array(row, np.float64)


def run(game: sv.Game, rng: np.random.Generator, steps: int, baseline: sv.BaselinePolicy | None,
        jumps: bool = False) -> dict[str, np.ndarray]:
    states, actions, results, outputs = [state_of(game)], [], [], []
    for t in range(steps):
        right = rng.integers(0, 2, size=3)
        if baseline is not None:
            left = np.array(baseline.predict(game.agent_left.getObservation()))
            outputs.append(np.array(baseline.outputState))
        else:
            left = rng.integers(0, 2, size=3)
        if jumps and t % 10 < 3:
            left[2] = right[2] = 1
        game.agent_left.setAction(left)
        game.agent_right.setAction(right)
        results.append(game.step())
        actions.append(np.stack([left, right]))
        states.append(state_of(game))
        if game.agent_left.life <= 0 or game.agent_right.life <= 0:
            break
    out = {
        "states": np.stack(states),
        "actions": np.stack(actions).astype(np.int8),
        "results": np.array(results, np.int8),
    }
    if baseline is not None:
        out["baseline_outputs"] = np.stack(outputs)
    return out


def scenario(name: str, game: sv.Game) -> None:
    """Sets ``game`` to the edge position ``name`` (ball moving, no serve delay)."""
    game.delayScreen.life = 0
    ball = game.ball
    if name == "net":
        ball.x, ball.y, ball.vx, ball.vy = 0.2, sv.REF_WALL_HEIGHT + 0.8, 2.0, -6.0
    elif name == "fence":
        ball.x, ball.y, ball.vx, ball.vy = 1.3, 2.6, -12.0, 1.0
    elif name == "wall":
        ball.x, ball.y, ball.vx, ball.vy = sv.REF_W / 2 - 0.45, 9.0, 8.0, 3.0
    elif name == "ceiling":
        ball.x, ball.y, ball.vx, ball.vy = -7.0, sv.REF_H - 0.7, -3.0, 20.0
    elif name == "jumps":
        ball.x, ball.y, ball.vx, ball.vy = 5.0, 8.0, 1.0, -2.0
        game.agent_left.x, game.agent_right.x = -4.0, 5.0
    elif name == "last_life":
        game.agent_left.life = game.agent_right.life = 1
        ball.x, ball.y, ball.vx, ball.vy = -8.0, 2.4, 0.5, -10.0
    else:
        raise ValueError(name)
    ball.prev_x, ball.prev_y = ball.x, ball.y
    game.agent_left.updateState(ball, game.agent_right)
    game.agent_right.updateState(ball, game.agent_left)


def main() -> None:
    rng = np.random.default_rng(SEED)
    data: dict[str, np.ndarray] = {}
    game = sv.Game(np_random=np.random.RandomState(SEED))
    for key, value in run(game, rng, 300, sv.BaselinePolicy()).items():
        data[f"baseline/{key}"] = value
    game = sv.Game(np_random=np.random.RandomState(SEED + 1))
    for key, value in run(game, rng, 200, None).items():
        data[f"random/{key}"] = value
    for i, name in enumerate(("net", "fence", "wall", "ceiling", "jumps", "last_life")):
        game = sv.Game(np_random=np.random.RandomState(SEED + 2 + i))
        scenario(name, game)
        for key, value in run(game, rng, 40, None, jumps=name == "jumps").items():
            data[f"{name}/{key}"] = value
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): " + ", ".join(
        f"{k} {v.shape}" for k, v in data.items()))


if __name__ == "__main__":
    main()
