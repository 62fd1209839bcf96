"""``jit-env eval``: evaluates a run directory's last checkpoint.

`evaluate_run` opens the run read-only (no lock, no change to its files: a
run can be evaluated while it trains) and calls the pure
`jit_env.agents.evaluate_policy`.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jit_env.agents import evaluate_policy, evaluation_policy, make_evaluation_env

DEFAULT_EPISODES = 100
"""``jit-env eval``'s default number of episodes."""
LONG_EVALUATIONS = {"SlimeVolley-v0": 1000}
"""Environments whose published evaluations use more episodes (slimevolleygym
``TRAINING.md``: mean ± std over 1,000 episodes against the baseline)."""


def evaluate_run(path: Path, *, episodes: int | None = None, seed: int = 0,
                 agent_seed: int = 0, gif: Path | None = None, policy: str = "greedy") -> dict:
    """Evaluates the last checkpoint of a run on ``episodes`` fresh episodes.

    ``episodes=None`` takes `LONG_EVALUATIONS`' count for the run's environment,
    else `DEFAULT_EPISODES`.

    Uses `jit_env.agents.evaluate_policy` with ``policy`` (``"greedy"``, the
    default, or ``"sample"``: as in training) on seed ``agent_seed`` of the run;
    with ``gif``, also plays one more episode with the same policy in
    `jit_env.agents.make_evaluation_env` and writes its frames.

    Returns:
      dict with ``env``, ``episodes``, ``mean``, ``std``, ``min``, ``max`` of the
      returns, and ``frames`` written to ``gif`` (0 without).

    Raises:
      jit_env.cli._files.RunDirError: if the run directory or checkpoint is unusable.
      ValueError: if ``agent_seed`` is not one of the run's seeds, or ``policy``
        is unknown.
    """
    from jit_env.cli._session import TrainingSession

    session = TrainingSession.open(Path(path))
    assert session.state is not None  # open() restores it or raises
    if not 0 <= agent_seed < session.num_runs:  # in a sweep: grid point major
        raise ValueError(f"--agent-seed must be in [0, {session.num_runs}), got {agent_seed}")
    if episodes is None:
        episodes = LONG_EVALUATIONS.get(session.config.env, DEFAULT_EPISODES)
    trainer = session.program().trainer
    pick = lambda tree: jax.tree.map(lambda x: jnp.asarray(x[agent_seed]), tree)
    agent_state, env_state = pick(session.state.agent_state), pick(session.state.env_state)
    run_episodes = jax.jit(
        lambda key: evaluate_policy(session.config, trainer.agent, agent_state, env_state, key,
                                    episodes=episodes, policy=policy)
    )
    returns, lengths = jax.device_get(run_episodes(jax.random.PRNGKey(seed)))
    result = {
        "env": session.config.env,
        "episodes": episodes,
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
        "frames": 0,
    }
    if gif is not None:
        act, params = evaluation_policy(trainer.agent, agent_state, policy)
        result["frames"] = _write_animation(
            make_evaluation_env(session.config, env_state), act,
            params, trainer.agent.initial_policy_state(()), seed,
            int(lengths.max()), gif,
        )
    return result


def _write_animation(env, act, params, policy_state, seed: int, max_length: int, path: Path,
                     max_frames: int = 250) -> int:
    """Plays one episode of ``env`` with ``act`` and writes its rendered frames.

    The episode is drawn with its own key (it is not one of the evaluation
    episodes); at most ``max_frames`` frames are kept (evenly strided). Returns
    the number of frames written.
    """
    from jit_env import envs

    def episode(key):
        reset_key, act_key = jax.random.split(key)
        state, ts = env.reset(reset_key)

        def body(carry, k):
            state, ts, pstate = carry
            action, pstate, _ = act(params, ts, pstate, k)
            new_state, new_ts = env.step(state, action)
            return (new_state, new_ts, pstate), (new_state, new_ts.last())

        keys = jax.random.split(act_key, max_length)
        _, (states, last) = jax.lax.scan(body, (state, ts, policy_state), keys)
        states = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), state, states)
        return states, last

    states, last = jax.jit(episode)(jax.random.PRNGKey(seed))
    last = np.asarray(last)
    length = int(np.argmax(last)) + 1 if last.any() else max_length
    stride = max(1, math.ceil((length + 1) / max_frames))
    states = jax.tree.map(lambda x: x[: length + 1 : stride], states)
    frames = np.asarray(jax.jit(jax.vmap(env.render))(states))
    envs.render_video(frames, path, fps=max(1, 50 // stride))
    return int(frames.shape[0])
