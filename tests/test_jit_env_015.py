"""Code written against jit_env 0.1.5 runs here unchanged.

Written from 0.1.5's documented API and its source at tag 0.1.5 (``jit_env/_core.py``,
``jit_env/specs.py``, ``jit_env/wrappers.py``): generic type parameters and protocols,
composite specs as pytree nodes, ``unpack_spec``, ``ExtendObservation(env, *values)`` and
``ExtendObservation.pomdp_fields``. Where we deliberately differ, the test says so.
"""

from __future__ import annotations

import collections
import importlib.util
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
from jit_env import _core, specs, wrappers

# A user module annotated the 0.1.5 way (Environment generic over five type variables,
# TimeStep over four, the protocols); it must import and run.
USER_MODULE = textwrap.dedent('''
    from __future__ import annotations

    from typing import Any, Generic

    import chex
    import jax
    import jax.numpy as jnp

    import jit_env
    from jit_env import _core, specs
    from jit_env._core import StateProtocol, StateWithOptionsProtocol


    @chex.dataclass(frozen=True)
    class SumState:
        key: jax.Array
        total: jax.Array


    Obs = jax.Array
    Step = jit_env.TimeStep[Obs, jax.Array, jax.Array, _core.StepT]


    class SumEnv(jit_env.Environment[SumState, jax.Array, Obs, jax.Array, jax.Array]):
        """Adds the actions until the total reaches 3."""

        def reset(self, key, *, options: jit_env.EnvOptions = None) -> tuple[SumState, Step]:
            state = SumState(key=key, total=jnp.zeros((), jnp.int32))
            return state, jit_env.restart(state.total, shape=())

        def step(self, state: SumState, action: jit_env.Action) -> tuple[SumState, Step]:
            total = state.total + action
            ts = jax.lax.cond(total < 3, lambda: jit_env.transition(jnp.float32(1.0), total),
                              lambda: jit_env.termination(jnp.float32(1.0), total))
            return SumState(key=state.key, total=total), ts

        def reward_spec(self) -> specs.Spec:
            return specs.Array((), jnp.float32, "reward")

        def discount_spec(self) -> specs.Spec:
            return specs.BoundedArray((), jnp.float32, 0.0, 1.0, "discount")

        def observation_spec(self) -> specs.Spec:
            return specs.Array((), jnp.int32, "observation")

        def action_spec(self) -> specs.Spec:
            return specs.DiscreteArray(2, name="action")


    class Doubler(jit_env.Wrapper[jit_env.State, jit_env.Action, jit_env.Observation,
                                  jit_env.Reward, jit_env.Discount]):
        def step(self, state, action):
            state, ts = self.env.step(state, action)
            return state, ts.replace(reward=ts.reward * 2)


    def needs_key(state: StateProtocol) -> jax.Array:
        return state.key


    def needs_options(state: StateWithOptionsProtocol) -> Any:
        return state.options
''')


@pytest.fixture(scope="module")
def user_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "annotated_015_user.py"
    path.write_text(USER_MODULE)
    spec = importlib.util.spec_from_file_location("annotated_015_user", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_annotated_user_code_imports_and_runs(user_module):
    env = user_module.Doubler(user_module.SumEnv())
    state, ts = jax.jit(env.reset)(jax.random.PRNGKey(0))
    rewards, steps = [], []
    for _ in range(3):
        state, ts = jax.jit(env.step)(state, jnp.int32(1))
        rewards.append(float(ts.reward))
        steps.append(int(ts.step_type))
    assert rewards == [2.0, 2.0, 2.0]
    assert steps == [1, 1, 2]  # MID, MID, LAST at total 3
    assert float(ts.discount) == 0.0
    assert user_module.needs_key(state) is state.key


def test_generic_parameters_are_0_1_5s():
    # Environment / Wrapper: (State, Action, Observation, Reward, Discount);
    # TimeStep: (Observation, RewardT, DiscountT, StepT) — 0.1.5 `_core.py`.
    assert [p.__name__ for p in jit_env.Environment.__parameters__] == [
        "State", "Action", "Observation", "RewardT", "DiscountT"]
    assert [p.__name__ for p in jit_env.Wrapper.__parameters__] == [
        "State", "Action", "Observation", "RewardT", "DiscountT"]
    assert [p.__name__ for p in jit_env.TimeStep.__parameters__] == [
        "Observation", "RewardT", "DiscountT", "StepT"]
    assert jit_env.Reward is _core.RewardT
    assert jit_env.Discount is _core.DiscountT
    assert _core.State.__bound__ is not None
    for name in ("StateProtocol", "StateWithOptionsProtocol", "EnvOptions", "StepT"):
        assert hasattr(_core, name), name
    with pytest.raises(TypeError):
        jit_env.Environment[int, int, int]  # too few, as in 0.1.5


A = specs.Array((2,), jnp.float32, name="a")
B = specs.BoundedArray((3,), jnp.int32, 0, 5, name="b")
D = specs.DiscreteArray(4, name="d")
Pair = collections.namedtuple("Pair", ["first", "second"])


def _nested_specs():
    """One spec of each composite kind, nested in each other."""
    tree = specs.Tree([A, D], jax.tree.structure(Pair(0, 0)), name="pair")
    return {
        "tuple": specs.Tuple(A, B),
        "dict": specs.Dict({"x": A, "y": specs.Tuple(B, D)}, name="d"),
        "tree": tree,
        "dict_of_tree": specs.Dict(pos=tree, vel=A),
        "tuple_of_batched": specs.Tuple(specs.Batched(B, 3), specs.Dict(z=D)),
    }


@pytest.mark.parametrize("name", list(_nested_specs()))
def test_tree_map_over_nested_specs_gives_values_that_validate(name):
    spec = _nested_specs()[name]
    zeros = jax.tree.map(lambda s: s.generate_value(), spec)
    assert spec.validate(zeros) is zeros
    assert jax.tree.structure(zeros) == jax.tree.structure(spec.generate_value())
    keys = jax.random.split(jax.random.PRNGKey(0), len(jax.tree.leaves(spec)))
    samples = jax.tree.unflatten(
        jax.tree.structure(spec), [s.sample(k) for s, k in zip(jax.tree.leaves(spec), keys)])
    assert bool(spec.contains(samples))
    # The network-init idiom: jnp.zeros of every leaf's shape and dtype (Batched has no shape,
    # so trees holding one are mapped with generate_value, as in 0.1.5).
    if name != "tuple_of_batched":
        dummy = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), spec)
        spec.validate(dummy)


def test_spec_leaves_and_structure_are_0_1_5s():
    spec = specs.Dict({"x": A, "y": specs.Tuple(B, A)}, name="d")
    assert jax.tree.leaves(spec) == [A, B, A]
    structure = jax.tree.structure(spec)
    assert structure.num_leaves == 3
    # 0.1.5 prints PyTreeDef(CustomNode(Dict[(PyTreeDef({'x': *, 'y': *}), 'd')], [*,
    # CustomNode(Tuple[(PyTreeDef((*, *)), '')], [*, *])])) for the same spec.
    assert "CustomNode(Dict[" in str(structure)
    assert "CustomNode(Tuple[" in str(structure)
    assert jax.tree.structure(specs.Dict({"x": A, "y": specs.Tuple(B, A)}, name="d")) == structure
    assert jax.tree.structure(specs.Dict({"x": A, "y": specs.Tuple(B, A)}, name="e")) != structure
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(spec)[0]]
    assert paths == ["['x']", "['y'][0]", "['y'][1]"]
    # Batched is a leaf (0.1.5 does not register it); primitive specs are leaves.
    assert jax.tree.leaves(specs.Batched(A, 3)) == [specs.Batched(A, 3)]
    assert jax.tree.leaves(A) == [A]
    # Mapping spec -> spec gives a spec of the same class and name (0.1.5: the constructor).
    renamed = jax.tree.map(lambda s: s.replace(name="z"), spec)
    assert isinstance(renamed, specs.Dict)
    assert renamed.name == "d"
    assert jax.tree.leaves(renamed)[0] == A.replace(name="z")
    # Differs from 0.1.5 on purpose: there, mapping values gives a Dict spec holding arrays,
    # which 0.1.5's own validate rejects; here it is the value dict.
    assert type(jax.tree.map(lambda s: s.generate_value(), spec)) is dict


def test_unpack_spec_round_trips_and_rejects_values():
    spec = specs.Dict(a=specs.Batched(specs.Tuple(A, D), 4), b=B)
    unpacked = specs.unpack_spec(spec)
    assert unpacked == {"a": (specs.reshape_spec(A, (4,)), specs.reshape_spec(D, (4,))), "b": B}
    leaves, treedef = jax.tree.flatten(unpacked, is_leaf=lambda s: isinstance(s, specs.Spec))
    rebuilt = specs.Tree(leaves, treedef)
    value = spec.generate_value()
    rebuilt.validate(value)  # the unpacked tree describes the same values
    assert specs.unpack_spec(rebuilt) == unpacked
    assert specs.unpack_spec(unpacked) == unpacked
    for bad, where in [({"x": jnp.zeros(3)}, r"ArrayImpl at spec\['x'\]"), (3, "int at spec"),
                       (value, "at spec")]:
        with pytest.raises(TypeError, match=where):
            specs.unpack_spec(bad)


def test_spec_arguments_reject_non_specs_naming_the_argument():
    from jit_env.compat import spec_to_space

    env = jit_env.make("CartPole-v1")
    with pytest.raises(TypeError, match="`spec`"):
        spec_to_space({"x": jnp.zeros(3)})
    with pytest.raises(TypeError, match="observation_spec"):
        wrappers.TransformObservation(env, lambda o: o, observation_spec=jnp.zeros(4))


@pytest.fixture
def walk():
    return jit_env.make("CartPole-v1")


def test_extend_observation_every_field(walk, wrap):
    fields = ("step_type", "observation", "action", "reward", "discount")
    env = wrappers.ExtendObservation(walk, *fields)
    state, ts = wrap(env.reset)(jax.random.PRNGKey(0))
    obs = ts.observation
    assert type(obs).__name__ == "Observation"
    assert obs._fields == fields
    assert int(obs.step_type) == int(jit_env.StepType.FIRST)
    assert int(obs.action) == 0  # action_spec().generate_value(), as 0.1.5's reset
    assert float(obs.reward) == 0.0
    assert float(obs.discount) == 1.0
    inner_state, inner_ts = walk.reset(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(obs.observation, inner_ts.observation)
    state, ts = wrap(env.step)(state, jnp.int32(1))
    _, inner_ts = walk.step(inner_state, jnp.int32(1))
    assert int(ts.observation.action) == 1
    assert int(ts.observation.step_type) == int(inner_ts.step_type)
    # the same float32 CartPole step compiled in another program: 1 ulp.
    np.testing.assert_allclose(ts.observation.observation, inner_ts.observation, rtol=1e-6)
    assert float(ts.observation.reward) == float(inner_ts.reward)
    spec = env.observation_spec()
    spec.validate(ts.observation)
    assert jax.tree.structure(jax.tree.map(lambda s: s.generate_value(), spec)) == \
        jax.tree.structure(ts.observation)
    assert spec.as_spec_struct().step_type == specs.BoundedArray((), np.int8, 0, 2,
                                                                 name="step_type")


def test_extend_observation_pomdp_fields_and_batches(walk):
    env = wrappers.ExtendObservation.pomdp_fields(walk)
    assert env.fields == ("observation", "action", "reward", "discount", "step_type")
    batched = wrappers.ExtendObservation.pomdp_fields(wrappers.VmapAutoReset(walk, 3))
    state, ts = jax.jit(batched.reset)(jax.random.PRNGKey(1))
    for _ in range(12):
        state, ts = jax.jit(batched.step)(state, jnp.ones(3, jnp.int32))
    assert ts.observation.action.shape == (3,)
    assert ts.observation.step_type.shape == (3,)
    batched.observation_spec().validate(ts.observation)
    final = ts.extras["final_observation"]
    assert type(final).__name__ == "Observation"
    np.testing.assert_array_equal(final.reward, ts.reward)
    # Only the requested fields: without "observation" the inner observation is gone (0.1.5).
    only = wrappers.ExtendObservation(walk, "action")
    _, ts = only.reset(jax.random.PRNGKey(0))
    assert ts.observation._fields == ("action",)
