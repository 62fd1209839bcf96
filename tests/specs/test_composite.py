"""Tests of the composite specs (Tree, Tuple, Dict, Batched) and the spec functions."""

from __future__ import annotations

import copy
import functools
import pickle
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from jit_env import specs

POS = specs.BoundedArray((3,), jnp.float32, -1.0, 1.0, name="pos")
VEL = specs.Array((2,), jnp.float32, name="vel")
ACT = specs.DiscreteArray(4, name="act")
MULTI = specs.DiscreteArray(np.array([2, 3]), name="multi")

OBS = specs.Dict(
    {"pos": specs.Tuple(VEL, POS), "act": ACT},
    name="observation",
    batch=specs.Batched(MULTI, 2),
)


def _good():
    return {
        "act": np.int32(3),
        "batch": np.array([[1, 2], [0, 0]], np.int32),
        "pos": (np.array([5.0, -5.0], np.float32), np.array([0.5, -1.0, 1.0], np.float32)),
    }


class Pair(NamedTuple):
    left: object
    right: object


# ----------------------------------------------------------------------------------------------
# Construction
# ----------------------------------------------------------------------------------------------


def test_structure_properties():
    assert OBS.name == "observation"
    struct = OBS.as_spec_struct()
    assert list(struct) == ["act", "batch", "pos"]  # JAX's (sorted) dict order
    assert struct["pos"] == specs.Tuple(VEL, POS)
    assert OBS.leave_specs == (ACT, specs.Batched(MULTI, 2), specs.Tuple(VEL, POS))
    assert OBS.treedef == jax.tree.structure({"act": 0, "batch": 0, "pos": 0})
    tup = specs.Tuple(VEL, POS, name="t")
    assert tup.as_spec_struct() == (VEL, POS)
    assert tup.name == "t"
    tree = specs.Tree([VEL, POS], jax.tree.structure(Pair(0, 0)))
    assert tree.as_spec_struct() == Pair(VEL, POS)
    batched = specs.Batched(POS, 5, name="b")
    assert batched.spec == POS
    assert batched.num == 5
    assert batched.name == "b"
    assert isinstance(batched, specs.CompositeSpec)
    assert isinstance(tree, specs.CompositeSpec)


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (lambda: specs.Tuple(), ValueError, ["var_specs", "empty"]),
        (lambda: specs.Dict(), ValueError, ["`dict_spec` and `kwarg_specs` are both empty"]),
        (lambda: specs.Dict({"a": VEL}, a=POS), ValueError, ["'a'"]),
        (lambda: specs.Tuple(VEL, 3), TypeError, ["var_specs", "int", "position 1"]),
        (lambda: specs.Dict(a=np.zeros(2)), TypeError, ["dict_spec", "ndarray"]),
        (lambda: specs.Tree([VEL], jax.tree.structure((0, 0))), ValueError, ["2 leaves", "1"]),
        (lambda: specs.Tree([VEL], (0,)), TypeError, ["structure", "PyTreeDef"]),
        (lambda: specs.Batched(np.zeros(2), 3), TypeError, ["spec", "ndarray"]),
        (lambda: specs.Batched(VEL, 2.0), ValueError, ["num", "2.0"]),
        (lambda: specs.Batched(VEL, True), ValueError, ["num", "True"]),
    ],
)
def test_constructor_errors(build, error, words):
    with pytest.raises(error) as info:
        build()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_composite_replace_raises():
    for spec in (OBS, specs.Tuple(VEL), specs.Batched(VEL, 2)):
        with pytest.raises(RuntimeError, match="constructor"):
            spec.replace(name="x")


# ----------------------------------------------------------------------------------------------
# generate_value / sample / contains / validate
# ----------------------------------------------------------------------------------------------


def test_generate_value(variant_fn):
    value = variant_fn(lambda _: OBS.generate_value())(jnp.zeros(()))
    expected = {
        "act": np.int32(0),
        "batch": np.zeros((2, 2), np.int32),
        "pos": (np.zeros(2, np.float32), np.full(3, -1.0, np.float32)),
    }
    assert jax.tree.structure(value) == jax.tree.structure(expected)
    jax.tree.map(lambda v, e: np.testing.assert_array_equal(np.asarray(v), e), value, expected)
    jax.tree.map(lambda v, e: (v.dtype == e.dtype) or pytest.fail("dtype"), value, expected)
    assert bool(OBS.contains(value))


@functools.cache
def _expected_obs_sample(seed):
    """Independent expectation, leaf by leaf (one jit): child i of a composite uses
    split(key, n)[i]; element j of a Batched uses split(its key, num)[j]."""

    def expected(key):
        k_act, k_batch, k_pos = jax.random.split(key, 3)
        k_vel, k_box = jax.random.split(k_pos, 2)
        return {
            "act": ACT.sample(k_act),
            "batch": jnp.stack([MULTI.sample(k) for k in jax.random.split(k_batch, 2)]),
            "pos": (VEL.sample(k_vel), POS.sample(k_box)),
        }

    return jax.jit(expected)(jax.random.key(seed))


def test_sample_splits_key_per_leaf_and_per_batch_element(variant_fn):
    value = variant_fn(OBS.sample)(jax.random.key(11))
    assert bool(OBS.contains(value))
    jax.tree.map(
        lambda v, e: np.testing.assert_array_equal(np.asarray(v), np.asarray(e)),
        value,
        _expected_obs_sample(11),
    )


def _variants():
    good = _good()
    out_of_bounds = _good()
    out_of_bounds["batch"] = np.array([[1, 2], [0, 3]], np.int32)  # 3 >= num_values[1]
    wrong_dtype = _good()
    wrong_dtype["act"] = np.float32(1)
    wrong_batch = _good()
    wrong_batch["batch"] = np.zeros((3, 2), np.int32)
    missing_key = {k: v for k, v in _good().items() if k != "act"}
    list_not_tuple = _good()
    list_not_tuple["pos"] = list(list_not_tuple["pos"])
    return {
        "good": (good, True),
        "out_of_bounds": (out_of_bounds, False),
        "wrong_dtype": (wrong_dtype, False),
        "wrong_batch": (wrong_batch, False),
        "missing_key": (missing_key, False),
        "list_not_tuple": (list_not_tuple, False),
    }


@pytest.mark.parametrize("case", ["good", "out_of_bounds", "wrong_dtype", "wrong_batch"])
def test_contains_under_transforms(variant_fn, case):
    value, expected = _variants()[case]
    assert bool(variant_fn(OBS.contains)(value)) is expected


@pytest.mark.parametrize("case", sorted(_variants()))
def test_contains_and_validate_eagerly(case):
    value, expected = _variants()[case]
    assert bool(OBS.contains(value)) is expected
    if expected:
        assert OBS.validate(value) is value
    else:
        with pytest.raises(ValueError, match="Dict 'observation'"):
            OBS.validate(value)


def test_validate_messages_name_path_and_expectation():
    bad = _good()
    bad["pos"] = (np.zeros(2, np.float32), np.array([0.0, 2.0, 0.0], np.float32))
    with pytest.raises(ValueError, match=r"observation\['pos'\]\[1\]") as info:
        OBS.validate(bad)
    for word in ["Dict 'observation'", "observation['pos'][1]", "BoundedArray 'pos'", "2.0", "[-1.0, 1.0]"]:
        assert word in str(info.value), str(info.value)
    bad = _good()
    bad["batch"] = np.zeros((3, 2), np.int32)
    bad["act"] = np.zeros((1,), np.int32)
    with pytest.raises(ValueError, match=r"observation\['act'\]") as info:
        OBS.validate(bad)
    message = str(info.value)
    for word in ["observation['act']", "expected shape ()", "observation['batch']", "(2, 2)", "batch (2,)"]:
        assert word in message, message
    with pytest.raises(ValueError, match=r"observation\['pos'\].*expected structure"):
        OBS.validate(_variants()["list_not_tuple"][0])
    unnamed = specs.Tuple(VEL)
    with pytest.raises(ValueError, match=r"value\[0\]"):
        unnamed.validate((np.zeros(3, np.float32),))


def test_validate_composite_bounds_with_checkify_under_jit_and_vmap():
    bad, _ = _variants()["out_of_bounds"]
    validate = jax.jit(OBS.validate)
    jax.tree.map(np.testing.assert_array_equal, validate(bad), bad)  # unchecked: no-op
    err, _ = checkify.checkify(validate)(bad)
    message = err.get()
    assert "observation['batch']" in message, message
    assert "DiscreteArray 'multi'" in message, message
    assert checkify.checkify(validate)(_good())[0].get() is None
    stacked = jax.tree.map(lambda a, b: np.stack([a, b]), _good(), bad)
    err, _ = checkify.checkify(jax.vmap(OBS.validate))(stacked)
    assert "out of bounds" in err.get()
    with pytest.raises(ValueError, match="expected dtype int32"):
        jax.jit(OBS.validate)(_variants()["wrong_dtype"][0])


def test_batched_of_batched_and_tree():
    spec = specs.Batched(specs.Batched(POS, 3), 2)
    value = spec.generate_value()
    assert value.shape == (2, 3, 3)
    assert bool(spec.contains(value))
    assert not bool(spec.contains(value[0]))
    tree = specs.Tree([VEL, POS], jax.tree.structure(Pair(0, 0)))
    sample = tree.sample(jax.random.key(0))
    assert isinstance(sample, Pair)
    assert bool(tree.contains(sample))
    assert not bool(tree.contains((sample.left, sample.right)))  # tuple is not Pair


# ----------------------------------------------------------------------------------------------
# as_spec_struct, unpack_spec, reshape_spec, make_environment_spec
# ----------------------------------------------------------------------------------------------


def test_batched_as_spec_struct_is_one_level():
    assert specs.Batched(POS, 4).as_spec_struct() == specs.reshape_spec(POS, prepend=(4,))
    struct = specs.Batched(specs.Dict(a=POS, b=specs.Tuple(VEL)), 4).as_spec_struct()
    assert struct == {"a": specs.reshape_spec(POS, (4,)), "b": specs.Batched(specs.Tuple(VEL), 4)}


def test_unpack_spec_is_recursive():
    unpacked = specs.unpack_spec(OBS)
    assert unpacked == {
        "act": ACT,
        "batch": specs.reshape_spec(MULTI, (2,)),
        "pos": (VEL, POS),
    }
    nested = specs.unpack_spec(specs.Batched(specs.Tuple(specs.Batched(VEL, 3)), 2))
    assert nested == (specs.Array((2, 3, 2), jnp.float32, name="vel"),)
    assert specs.unpack_spec(POS) is POS
    assert specs.unpack_spec([OBS, POS])[1] is POS


def test_reshape_composites():
    reshaped = specs.reshape_spec(OBS, prepend=(5,))
    assert isinstance(reshaped, specs.Dict)
    assert reshaped.name == "observation"
    assert reshaped.as_spec_struct()["act"] == specs.reshape_spec(ACT, (5,))
    value = reshaped.generate_value()
    assert value["batch"].shape == (5, 2, 2)
    assert value["pos"][1].shape == (5, 3)
    assert bool(reshaped.contains(value))
    batched = specs.reshape_spec(specs.Batched(VEL, 3, name="b"), prepend=(4,), append=(6,))
    assert batched == specs.Batched(specs.Batched(specs.reshape_spec(VEL, append=(6,)), 3, "b"), 4)
    assert batched.generate_value().shape == (4, 3, 2, 6)
    tup = specs.reshape_spec(specs.Tuple(VEL, name="t"), append=(1,))
    assert tup == specs.Tuple(specs.reshape_spec(VEL, append=(1,)), name="t")


class _DuckEnv:
    def observation_spec(self):
        return OBS

    def action_spec(self):
        return ACT

    def reward_spec(self):
        return specs.Array((), jnp.float32, "reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, "discount")


def test_make_environment_spec():
    env_spec = specs.make_environment_spec(_DuckEnv())
    assert isinstance(env_spec, specs.EnvironmentSpec)
    assert env_spec.observations == OBS
    assert env_spec.actions == ACT
    assert env_spec.rewards.name == "reward"
    assert env_spec.discounts.name == "discount"
    assert env_spec._fields == ("observations", "actions", "rewards", "discounts")
    with pytest.raises(TypeError, match="discount_spec"):
        specs.make_environment_spec(object())


# ----------------------------------------------------------------------------------------------
# Equality, hashing, pickling, repr, immutability
# ----------------------------------------------------------------------------------------------


def test_equality_hash_pickle():
    same = specs.Dict(
        act=ACT, pos=specs.Tuple(VEL, POS), batch=specs.Batched(MULTI, 2), name="observation"
    )
    assert same == OBS
    assert hash(same) == hash(OBS)
    others = [
        specs.Dict(act=ACT, pos=specs.Tuple(VEL, POS), batch=specs.Batched(MULTI, 2)),  # name
        specs.Dict(act=ACT, pos=specs.Tuple(POS, VEL), batch=specs.Batched(MULTI, 2), name="observation"),
        specs.Dict(act=ACT, pos=specs.Tuple(VEL, POS), batch=specs.Batched(MULTI, 3), name="observation"),
        specs.Tree(OBS.leave_specs, OBS.treedef, name="observation"),  # class
    ]
    for other in others:
        assert other != OBS
    assert len({OBS, same, *others}) == 1 + len(others)
    for spec in (OBS, specs.Tree([VEL, POS], jax.tree.structure(Pair(0, 0)), "p"), specs.Batched(POS, 3)):
        for clone in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec)):
            assert clone == spec
            assert hash(clone) == hash(spec)
            assert type(clone) is type(spec)


def test_repr():
    assert repr(specs.Tuple(ACT, name="t")) == (
        "Tuple(DiscreteArray(num_values=4, dtype=int32, name='act'), name='t')"
    )
    assert repr(specs.Dict(a=ACT)) == (
        "Dict({'a': DiscreteArray(num_values=4, dtype=int32, name='act')}, name='')"
    )
    assert repr(specs.Batched(ACT, 3, name="b")) == (
        "Batched(DiscreteArray(num_values=4, dtype=int32, name='act'), num=3, name='b')"
    )
    tree = specs.Tree([ACT], jax.tree.structure([0]))
    assert repr(tree) == "Tree([DiscreteArray(num_values=4, dtype=int32, name='act')], name='')"


@pytest.mark.parametrize("spec", [OBS, specs.Batched(POS, 2)])
def test_immutable(spec):
    for attr in ("name", "_name", "_leaves", "_spec", "anything"):
        with pytest.raises(AttributeError):
            setattr(spec, attr, None)


def test_dict_with_keys_of_mixed_types_names_the_problem():
    """JAX sorts dict keys when it flattens; 1 and "a" cannot be sorted together
    (was: "Comparator raised exception while sorting pytree dictionary keys")."""
    leaf = specs.Array((), jnp.float32)
    with pytest.raises(TypeError, match=r"`dict_spec` keys must be mutually comparable .* "
                       r"got keys of types \['int', 'str'\]: \['a', 1\]"):
        specs.Dict({1: leaf, "a": leaf})
    spec = specs.Dict({1: leaf, 2: leaf})  # one key type: fine, sorted as JAX sorts
    assert list(spec.as_spec_struct()) == [1, 2]
