"""``jit-env train --env module:attr --env-kwargs JSON`` / an entry-point id, then ``eval``;
``jit-env list`` by suite with the extras; one-line errors for bad environments.

The user's environment is `tests/envs/corridor_env.py` (the ``user_env_module``
fixture, tests/conftest.py); the installed package a fake ``*.dist-info``.
"""

from __future__ import annotations

import json
import sys

import pytest

from jit_env import cli
from jit_env.cli import _programs
from jit_env.envs import _registry

FLAGS = ["--num-envs", "2", "--num-steps", "8", "--update-epochs", "1", "--num-minibatches",
         "1", "--hidden-sizes", "8", "--no-anneal-lr", "--no-progress", "--total-steps", "32"]


@pytest.fixture
def registry(monkeypatch):
    """A private registry (entry points read afresh) and program cache."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    monkeypatch.setattr(_registry, "_PLUGIN_SUITES", {})
    monkeypatch.setattr(_registry, "_plugins_loaded", False)
    monkeypatch.setattr(_programs, "_PROGRAMS", type(_programs._PROGRAMS)())
    return _registry


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_train_a_module_attr_then_eval_it_in_a_fresh_process_state(registry, user_env_module,
                                                                   tmp_path, capsys):
    del registry  # used for its private registry and program cache
    run = tmp_path / "run"
    spec = f"{user_env_module}:make_corridor"
    assert cli.main(["train", *FLAGS, "--env", spec, "--env-kwargs", '{"size": 3}',
                     "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["env"], json.loads(config["env_kwargs"])) == (spec, {"size": 3})
    capsys.readouterr()
    # As a new process would: the module not yet imported, no compiled program.
    sys.modules.pop(user_env_module)
    _programs._PROGRAMS.clear()
    assert cli.main(["eval", str(run), "--episodes", "4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{spec} (greedy policy): return ")
    # A corridor of 3 cells pays 1 at its end, nothing else: every return is in [0, 1].
    mean = float(out.split("return ")[1].split(" ")[0])
    assert 0.0 <= mean <= 1.0
    # The run directory cannot find its environment once the module is gone.
    sys.modules.pop(user_env_module, None)
    _programs._PROGRAMS.clear()
    (tmp_path / f"{user_env_module}.py").unlink()
    assert cli.main(["eval", str(run)]) == 2
    err = _error(capsys)
    assert f"config.json: environment '{spec}' with --env-kwargs {{\"size\": 3}}" in err
    assert f"cannot import module '{user_env_module}'" in err


def _install_corridor_distribution(tmp_path, module):
    info = tmp_path / "corridor_envs-1.0.dist-info"  # tmp_path is on sys.path (the fixture)
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: corridor-envs\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[jit_env.envs]\nCorridor-v0 = {module}:make_corridor\n")


def test_list_shows_an_installed_packages_ids(registry, user_env_module, tmp_path, capsys):
    del registry
    _install_corridor_distribution(tmp_path, user_env_module)
    assert cli.main(["list"]) == 0
    assert "  corridor-envs:\n    Corridor-v0\n" in capsys.readouterr().out


@pytest.mark.slow  # a second training compile; the code path is the module:attr test's
def test_train_an_entry_point_id(registry, user_env_module, tmp_path):
    del registry
    _install_corridor_distribution(tmp_path, user_env_module)
    run = tmp_path / "r"
    assert cli.main(["train", *FLAGS, "--env", "Corridor-v0", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["env"] == "Corridor-v0"
    assert cli.main(["eval", str(run), "--episodes", "2"]) == 0
    # Resume rebuilds the environment from config.json too (2 more updates of 2 x 8 steps).
    _programs._PROGRAMS.clear()
    assert cli.main(["train", "--resume", str(run), "--total-steps", "64", "--no-progress"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # header and updates 1..4


def test_list_groups_by_suite_and_reports_the_extras(monkeypatch, capsys):
    from jit_env.compat import _optional

    found = {"gymnax": False, "wandb": False}
    monkeypatch.setattr(_optional, "_installed", lambda module: found.get(module, True))
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert ("  classic_control:\n    Acrobot-v1\n    CartPole-NoVelocity-v1\n"
            "    CartPole-POMDP-v1\n    CartPole-v0\n    CartPole-v1\n") in out
    assert "  minatar:\n    Asterix-MinAtar\n" in out
    assert "  slime:\n    SlimeVolley-v0\n" in out
    assert "  bsuite:\n    Catch-bsuite\n" in out
    assert "  gymnax: not installed: pip install 'jit-env[gymnax]'\n" in out
    assert "gymnax/CartPole-v1" not in out
    lines = {line.split()[0]: line for line in out.splitlines()[out.splitlines().index(
        "extras (pip install 'jit-env[NAME]'):") + 1:] if line.startswith("  ")}
    assert "not installed" in lines["gymnax"]
    assert "not installed" in lines["wandb"]
    assert " installed " in lines["agents"]
    assert "not installed" not in lines["agents"]


def test_list_names_each_lazy_suite_and_its_extra(monkeypatch, capsys):
    from jit_env.compat import _optional

    found = {"jumanji": False}
    monkeypatch.setattr(_optional, "_installed", lambda module: found.get(module, True))
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "  jumanji: not installed: pip install 'jit-env[jumanji]'\n" in out
    assert ("  pgx: installed; ids 'pgx/<id>' register on first use (list them: jit-env list "
            "--suite pgx, which imports pgx)\n") in out


def test_list_suite_registers_and_lists_its_ids(registry, capsys):
    pytest.importorskip("pgx")
    assert cli.main(["list", "--suite", "pgx"]) == 0
    out = capsys.readouterr().out
    assert "  pgx:\n    pgx/2048\n" in out
    assert "pgx/tic_tac_toe" in registry._REGISTRY
    assert cli.main(["list", "--suite", "nope"]) == 2
    assert ("--suite: unknown suite 'nope'; lazily registered suites: brax, craftax, gymnax"
            in capsys.readouterr().err)


def test_list_shows_the_gymnax_suite_without_registering_it(registry, capsys):
    pytest.importorskip("gymnax")
    assert cli.main(["list"]) == 0
    assert "  gymnax:\n    gymnax/Acrobot-v1\n" in capsys.readouterr().out
    assert "gymnax/CartPole-v1" not in registry._REGISTRY  # listing registers nothing


@pytest.mark.parametrize(("flags", "message"), [
    (["--env", "no_such_module_xyz:Env"], "--env: environment 'no_such_module_xyz:Env': entry "
                                          "point 'no_such_module_xyz:Env': cannot import module"),
    (["--env", "{mod}:not_an_env"], "is a int, not a jit_env.Environment class"),
    (["--env", "{mod}:Nope"], "has no attribute 'Nope'"),
    (["--env", "{mod}:Corridor", "--env-kwargs", "{{size: 3}}"],
     "`env_kwargs` must be a JSON object"),
    (["--env", "{mod}:Corridor", "--env-kwargs", '{{"sise": 3}}'],
     "with keyword arguments {'sise': 3}"),
    (["--env", "nosuite/Env-v0"], "unknown suite 'nosuite'"),
])
def test_bad_environments_are_one_line_errors(registry, user_env_module, tmp_path, capsys,
                                              flags, message):
    del registry
    flags = [f.format(mod=user_env_module) for f in flags]
    assert cli.main(["train", *FLAGS, *flags, "--out", str(tmp_path / "x")]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "x").exists()  # checked before the run directory is made
