"""`jit_env.compat._optional`: a missing extra vs an installed package that cannot be imported.

The packages are fakes written to ``tmp_path`` (on ``sys.path``): ``broken_pkg``
imports a module nobody installed, as gymnax 1.0.1 imports ``six``
(gymnax/utils/load_mnist.py) without declaring it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from jit_env.compat import _optional


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    (tmp_path / "broken_pkg_ue").mkdir()
    (tmp_path / "broken_pkg_ue" / "__init__.py").write_text("import missing_dep_ue\n")
    (tmp_path / "fine_pkg_ue.py").write_text("VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("broken_pkg_ue", "fine_pkg_ue"):
        sys.modules.pop(name, None)


def test_require_imports_an_installed_module(fake_packages):
    del fake_packages
    assert _optional.require("fine_pkg_ue", "f").VALUE == 3


def test_a_missing_package_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dm_env", None)
    with pytest.raises(ImportError, match=re.escape("to_dm_env needs: pip install 'jit-env[dm_env]'")):
        _optional.require("dm_env", "to_dm_env")
    with pytest.raises(ImportError, match=re.escape("g needs: pip install 'no_such_pkg_ue'")):
        _optional.require("no_such_pkg_ue.sub", "g")


def test_an_installed_package_that_fails_to_import_names_the_missing_module(fake_packages):
    del fake_packages
    with pytest.raises(ImportError) as info:
        _optional.require("broken_pkg_ue", "h")
    assert str(info.value) == (
        "h needs broken_pkg_ue, which is installed but cannot be imported: No module named "
        "'missing_dep_ue' (pip install missing_dep_ue, or reinstall 'broken_pkg_ue')")


def test_installed_extras_finds_modules_without_importing_them(fake_packages, monkeypatch):
    del fake_packages
    monkeypatch.setattr(_optional, "EXTRAS", {"fine": ("fine_pkg_ue",),
                                              "half": ("fine_pkg_ue", "no_such_pkg_ue")})
    assert _optional.installed_extras() == {"fine": True, "half": False}
    assert "fine_pkg_ue" not in sys.modules


# Each suite adapter imports its library only when called: importing jit_env, its
# compat and envs packages and making a bundled environment imports none of them; a
# suite id made through `jit_env.make` imports that suite (one id per installed suite).
_SUITES = {
    "brax": "brax/inverted_pendulum", "mujoco_playground": None, "craftax": None,
    "gymnax": "gymnax/CartPole-v1", "jumanji": "jumanji/Snake-v1", "navix": "navix/Navix-Empty-5x5-v0",
    "pgx": "pgx/tic_tac_toe", "xminigrid": "xminigrid/MiniGrid-Empty-5x5",
}


@pytest.mark.slow  # a subprocess
def test_importing_jit_env_imports_no_suite_until_a_suite_id_is_made():
    code = f"""
import importlib.util, sys
import jit_env, jit_env.compat, jit_env.envs
suites = {_SUITES!r}
top = lambda: {{m.split('.')[0] for m in sys.modules}}
imported = lambda: sorted(top() & (set(suites) | {{'mujoco'}}))
assert imported() == [], imported()
jit_env.make('CartPole-v1')
assert imported() == [], imported()
for suite, env_id in suites.items():
    if env_id is not None and importlib.util.find_spec(suite) is not None:
        jit_env.make(env_id)
        assert suite in sys.modules, suite
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True)
    assert out.stdout.strip().endswith("ok")
