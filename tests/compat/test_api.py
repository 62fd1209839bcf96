"""The public surface of `jit_env.compat` and jit_env 0.1.5's legacy entry points."""

from __future__ import annotations

import inspect
import re
import sys

import jax
import numpy as np
import pytest

from jit_env import compat


def test_all_equals_the_public_names():
    public = sorted(
        name
        for name, value in vars(compat).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    )
    assert compat.__all__ == sorted(compat.__all__)
    assert compat.__all__ == public


def test_every_public_name_is_documented():
    for name in compat.__all__:
        doc = inspect.getdoc(getattr(compat, name)) or ""
        assert "Raises" in doc or inspect.isclass(getattr(compat, name)), name


def test_legacy_deepmind_wrapper_builds_the_same_adapter(make_env):
    cls, converter = compat.make_deepmind_wrapper()
    env = make_env("CartPole-v1")
    legacy = cls(env, jax.random.PRNGKey(4))  # 0.1.5: ToDeepmindEnv(env, rng)
    ours = compat.to_dm_env(env, key=jax.random.PRNGKey(4))
    np.testing.assert_array_equal(legacy.reset().observation, ours.reset().observation)
    assert converter is compat.spec_to_dm_spec


def test_missing_gymnax_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnax", None)
    monkeypatch.setitem(sys.modules, "gymnax.environments", None)
    monkeypatch.setitem(sys.modules, "gymnax.environments.spaces", None)
    message = re.escape("from_gymnax needs: pip install 'jit-env[gymnax]'")
    with pytest.raises(ImportError, match=message):
        compat.from_gymnax(object())
    with pytest.raises(ImportError, match=re.escape("register_gymnax_ids needs")):
        compat.register_gymnax_ids()
