"""Tests of `jit_env.compat.from_jumanji` against jumanji itself (skipped without jumanji).

Reference: jumanji 1.1.2. Expected trajectories come from a plain jumanji loop
(its own jitted ``reset`` / ``step``) that splits the reset key as
`from_jumanji` documents (``key, sub = split(key)``; ``reset(sub)``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import StepType, specs, wrappers
from jit_env.compat import _jumanji, from_jumanji, register_jumanji_ids
from jit_env.testing import EnvCheckError, check_env

jumanji = pytest.importorskip("jumanji")

@pytest.fixture(autouse=True)
def _allow_rank_promotion():
    """jumanji's own code broadcasts arrays of different ranks (LevelBasedForaging's
    ``jumanji/environments/routing/lbf/utils.py``), which tests/conftest.py makes an error."""
    with jax.numpy_rank_promotion("allow"):
        yield


_OFFLINE = {  # ids that cannot be built here, and why
    "Sokoban-v0": "downloads its levels from the Hugging Face Hub when built "
                  "(jumanji/environments/routing/sokoban/generator.py); no network here",
}


def _reference(jenv, key, actions):
    """jumanji's own TimeSteps (as NumPy) for ``actions``, stopping after the first LAST."""
    _, sub = jax.random.split(key)
    state, ts = jax.jit(jenv.reset)(sub)
    out, step = [ts], jax.jit(jenv.step)
    for action in actions:
        state, ts = step(state, action)
        out.append(ts)
        if bool(ts.last()):
            break
    return [jax.tree.map(np.asarray, t) for t in out]


def _assert_same(ts, ref, jspec):
    assert int(ts.step_type) == int(ref.step_type)
    np.testing.assert_array_equal(ts.reward, ref.reward)
    np.testing.assert_array_equal(ts.discount, ref.discount)
    expected = _jumanji._to_tree(ref.observation, jspec, jumanji.specs)
    jax.tree.map(np.testing.assert_array_equal, ts.observation, expected)


# Eager stepping dispatches every op: slow, so only jit and vmap are in the quick run.
_VARIANTS = pytest.mark.parametrize(
    "variant", [pytest.param("eager", marks=pytest.mark.slow), "jit", "vmap"], indirect=True)


_SNAKE: dict = {}


def _snake():
    if not _SNAKE:
        jenv = jumanji.make("Snake-v1", time_limit=6)
        _SNAKE["env"] = (from_jumanji(jenv), jenv)
    return _SNAKE["env"]


@_VARIANTS
def test_snake_trajectories_equal_jumanji(variant):
    """Two keys, eagerly, jitted and vmapped (`variant`): jumanji's TimeSteps, field by field.

    Moving up (action 0) from a random start hits the wall (termination, discount 0) for
    key 0 after 5 steps; key 2 reaches Snake's 6-step limit, which jumanji's Snake
    counts as a termination too (``jumanji/environments/routing/snake/env.py``:
    ``done = ... | (step_count >= time_limit)`` -> ``termination``).
    """
    env, jenv = _snake()
    keys = jnp.concatenate([jax.random.key(0)[None], jax.random.key(2)[None]])
    actions = jnp.zeros((6, 2), jnp.int32)
    state, first = variant(env.reset, keys)
    out = [first]
    for action in actions:
        state, ts = variant(env.step, state, action)
        out.append(ts)
    ends = []
    for b in range(2):
        ref = _reference(jenv, keys[b], actions[:, b])
        for t, expected in enumerate(ref):
            _assert_same(jax.tree.map(lambda x, b=b: np.asarray(x)[b], out[t]), expected,
                         jenv.observation_spec)
        ends.append((len(ref) - 1, float(ref[-1].discount)))
        assert int(ref[-1].step_type) == StepType.LAST
    assert ends == [(5, 0.0), (6, 0.0)]


def test_truncation_keeps_the_discount_and_the_final_observation():
    """LevelBasedForaging truncates at its time limit (``truncation``, jumanji/environments/
    routing/lbf/env.py): LAST with discount 1 per agent; under jit_env's AutoReset the final
    observation is jumanji's, in ``extras["final_observation"]``."""
    jenv = jumanji.make("LevelBasedForaging-v0", time_limit=3)
    env = wrappers.AutoReset(from_jumanji(jenv))
    assert env.agent_ids is None
    assert env.reward_spec().shape == (2,)
    key = jax.random.key(4)
    actions = jnp.zeros((3, 2), jnp.int32)  # NOOP for both agents
    ref = _reference(jenv, key, actions)
    assert len(ref) == 4
    assert int(ref[-1].step_type) == StepType.LAST
    np.testing.assert_array_equal(ref[-1].discount, [1.0, 1.0])
    state, _ = jax.jit(env.reset)(key)
    step = jax.jit(env.step)
    for action in actions:
        state, ts = step(state, action)
    np.testing.assert_array_equal(ts.discount, [1.0, 1.0])
    assert int(ts.step_type) == StepType.FIRST  # AutoReset: the next episode has begun
    final = _jumanji._to_tree(ref[-1].observation, jenv.observation_spec, jumanji.specs)
    jax.tree.map(np.testing.assert_array_equal, ts.extras["final_observation"], final)


def test_specs_are_converted_exactly():
    env, jenv = _snake()
    spec = env.observation_spec()
    assert isinstance(spec, specs.Dict)
    entries = spec.as_spec_struct()
    assert sorted(entries) == ["action_mask", "grid", "step_count"]
    assert entries["grid"] == specs.BoundedArray((12, 12, 5), jnp.float32, 0.0, 1.0, name="grid")
    assert entries["step_count"] == specs.DiscreteArray(6, jnp.int32, name="step_count")
    assert entries["action_mask"] == specs.Array((4,), jnp.bool_, name="action_mask")
    assert env.action_spec() == specs.DiscreteArray(4, jnp.int32, name="action")


@pytest.mark.slow
def test_multi_discrete_nested_and_per_agent_specs():
    """A multi-discrete action and nested observation fields (BinPack: ems is a Space)."""
    binpack = from_jumanji(jumanji.make("BinPack-v2"))
    assert binpack.action_spec() == specs.DiscreteArray(np.array([40, 20]), jnp.int32,
                                                        name="action")
    ems = binpack.observation_spec().as_spec_struct()["ems"]
    assert sorted(ems.as_spec_struct()) == ["x1", "x2", "y1", "y2", "z1", "z2"]
    # SearchAndRescue declares a scalar discount but returns one per searcher.
    sar = from_jumanji(jumanji.make("SearchAndRescue-v0"))
    assert sar.discount_spec().shape == (2,)
    assert sar.action_spec().dtype == np.float32


def test_out_of_range_actions_act_as_the_nearest_bound():
    """CVRP writes the raw action into the observation's ``position``; the adapter clips."""
    jenv = jumanji.make("CVRP-v1")
    env = from_jumanji(jenv)
    state, _ = env.reset(jax.random.key(0))
    _, high = jax.jit(env.step)(state, jnp.int32(1_000))
    _, top = jax.jit(env.step)(state, jnp.int32(20))
    assert int(high.observation["position"]) == 20
    jax.tree.map(np.testing.assert_array_equal, high, top)


def test_register_and_make(monkeypatch):
    from jit_env.envs import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    ids = register_jumanji_ids()
    assert len(ids) == len(jumanji.registered_environments())
    assert "jumanji/Snake-v1" in ids
    assert register_jumanji_ids() == ids  # idempotent
    env = jit_env.make("jumanji/Snake-v1", time_limit=6)
    assert isinstance(env, _jumanji.FromJumanji)
    assert env.observation_spec() == _snake()[0].observation_spec()


def test_lazy_registration_through_make(monkeypatch):
    from jit_env.envs import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    for env_id in [i for i in _registry._REGISTRY if i.startswith("jumanji/")]:
        del _registry._REGISTRY[env_id]
    env = jit_env.make("jumanji/Game2048-v1")
    assert str(env) == "JumanjiGame2048"
    with pytest.raises(KeyError, match=r"No environment 'Snak-v1' in suite 'jumanji'.*Snake-v1"):
        jit_env.make("jumanji/Snak-v1")


def test_bad_input_is_named(monkeypatch):
    with pytest.raises(ValueError, match=r"`jumanji_id` 'Nope-v0' is not a jumanji environment"
                                         r".*'Snake-v1'"):
        _jumanji.make_jumanji("Nope-v0")
    with pytest.raises(TypeError, match="`jumanji_env` must be a jumanji.Environment, got object"):
        from_jumanji(object())
    with pytest.raises(ValueError, match="AutoResetWrapper"):
        from_jumanji(jumanji.wrappers.AutoResetWrapper(jumanji.make("Game2048-v1")))
    env, _ = _snake()
    with pytest.raises(ValueError, match="`options` must be None"):
        env.reset(jax.random.key(0), options={"time_limit": 3})

    jenv = jumanji.make("Game2048-v1")
    broken = jumanji.specs.Spec(dict, "ObservationSpec", board="not a spec",
                                action_mask=jenv.observation_spec.action_mask)
    with pytest.raises(TypeError, match=r"jumanji spec observation.board is a str, which has no "
                                        r"jit_env spec"):
        _jumanji._to_spec(broken, jumanji.specs)
    with pytest.raises(TypeError, match=r"jumanji spec observation \(Spec\) has no child specs"):
        _jumanji._to_spec(jumanji.specs.Spec(dict, "Empty"), jumanji.specs)

    def missing(_module, caller):
        raise ImportError(f"{caller} needs: pip install 'jit-env[jumanji]'")

    monkeypatch.setattr(_jumanji, "require", missing)
    with pytest.raises(ImportError, match=r"from_jumanji needs: pip install 'jit-env\[jumanji\]'"):
        from_jumanji(jenv)
    with pytest.raises(ImportError, match=r"register_jumanji_ids needs: .*jit-env\[jumanji\]"):
        register_jumanji_ids()


def test_require_names_the_jumanji_extra(monkeypatch):
    """The real `require` (not a stand-in): a missing jumanji names the ``jumanji`` extra."""
    import importlib

    from jit_env.compat import _optional

    real = importlib.import_module

    def no_jumanji(name, *args, **kwargs):
        if name.split(".")[0] == "jumanji":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_optional.importlib, "import_module", no_jumanji)
    monkeypatch.setattr(_optional, "_installed", lambda module: module != "jumanji")
    with pytest.raises(ImportError, match=r"^from_jumanji needs: pip install 'jit-env\[jumanji\]'$"):
        _optional.require("jumanji", "from_jumanji")


_ALL_IDS = sorted(jumanji.registered_environments())

# ids whose own specs reject what their reset returns: check_env must find exactly that
_SPEC_BUGS = {
    # jumanji/environments/routing/tsp/generator.py starts at position -1 ("not in any
    # city"); env.py's observation_spec declares it DiscreteArray(num_cities): [0, N - 1]
    "TSP-v1": r"\['position'\] \(DiscreteArray 'position'\).*-1 not in \[0, 19\]",
}


@pytest.mark.slow
@pytest.mark.parametrize("env_id", _ALL_IDS)
def test_every_id_passes_check_env(env_id):
    if env_id in _OFFLINE:
        pytest.skip(_OFFLINE[env_id])
    env = from_jumanji(jumanji.make(env_id))
    if env_id in _SPEC_BUGS:
        with pytest.raises(EnvCheckError, match=_SPEC_BUGS[env_id]):
            check_env(env, num_steps=20, batch_size=2)
        return
    report = check_env(env, num_steps=20, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


@pytest.mark.slow
def test_check_env_on_a_small_id():
    """Game2048 (masked discrete actions), a short rollout; the quick run's check_env
    subset is Pgx's tic_tac_toe (tests/compat/test_pgx.py), the cheapest to compile."""
    report = check_env(from_jumanji(jumanji.make("Game2048-v1")), num_steps=8, batch_size=2)
    assert report.ok
    assert set(report.skipped) == {"render"}


@pytest.mark.slow
@pytest.mark.learning
def test_ppo_trains_on_a_jumanji_id(ppo_run):
    """PPO on ``jumanji/Game2048-v1`` (masked actions from jumanji's ``action_mask``),
    CI-sized (`ppo_run`); 2048 pays the merged tiles, so every return is >= 0."""
    from jit_env.agents import PPOConfig

    config = PPOConfig(env="jumanji/Game2048-v1", num_envs=4, num_steps=16, total_steps=1024,
                       update_epochs=1, num_minibatches=1, hidden_sizes=(16,))
    ppo_run(config, low=0.0)


def test_make_inside_jit_builds_concrete_specs():
    """``train`` under ``jax.jit`` makes the environment while tracing; jumanji's specs are
    built with jnp operations, which must not become tracers (the PPO run below)."""
    expected = from_jumanji(jumanji.make("Game2048-v1")).observation_spec()

    def first_board(key):
        env = _jumanji.make_jumanji("Game2048-v1")
        assert env.observation_spec() == expected
        return env.reset(key)[1].observation["board"]

    board = jax.jit(first_board)(jax.random.key(0))
    assert board.shape == (4, 4)
    assert int((board > 0).sum()) == 1  # 2048 starts with one tile
