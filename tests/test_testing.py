"""Tests of `jit_env.testing`: every registered environment passes `check_env`,
and deliberately broken environments each fail the check they break, with
the expected message.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jit_env
import jit_env.envs
from jit_env import specs, testing

NUM_STEPS = 12  # enough for two 5-step Walk episodes; keeps the suite fast


# ------------------------------------------------------------------ a valid env


class WalkState(NamedTuple):
    key: jax.Array
    t: jax.Array
    position: jax.Array


class Walk(jit_env.Environment):
    """A valid 5-step walk: position moves by +-1; reward = new position; random start."""

    length = 5

    def __init__(self, *, renderer=None):
        super().__init__(renderer=renderer)

    def _observe(self, state):
        return jnp.stack([state.position, state.t.astype(jnp.float32) / self.length])

    def reset(self, key, *, options=None):
        del options  # the walk has no reset options
        key, start_key = jax.random.split(key)
        position = jax.random.uniform(start_key, (), jnp.float32, -1.0, 1.0)
        state = WalkState(key, jnp.zeros((), jnp.int32), position)
        return state, jit_env.restart(self._observe(state))

    def _timestep(self, state, reward):
        obs = self._observe(state)
        last = jit_env.termination(reward, obs)
        mid = jit_env.transition(reward, obs)
        return jax.tree.map(lambda a, b: jnp.where(state.t >= self.length, a, b), last, mid)

    def step(self, state, action):
        position = state.position + 2.0 * action.astype(jnp.float32) - 1.0
        state = WalkState(state.key, state.t + 1, position)
        return state, self._timestep(state, position)

    def observation_spec(self):
        return specs.Array((2,), jnp.float32, name="observation")

    def action_spec(self):
        return specs.DiscreteArray(2, dtype=jnp.int32, name="action")

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")


def _image(state):
    return jnp.zeros((4, 6, 3), jnp.uint8) + state.t.astype(jnp.uint8)


# ---------------------------------------------------------- broken variants


class Impure(Walk):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def step(self, state, action):
        self.calls += 1  # Python state: eager calls see it, jit bakes it in
        state, ts = super().step(state, action)
        return state, ts.replace(reward=ts.reward + self.calls)


class WrongDtype(Walk):
    def _observe(self, state):
        return super()._observe(state).astype(jnp.int32)


class WrongShape(Walk):
    def _observe(self, state):
        return jnp.concatenate([super()._observe(state), jnp.zeros(1, jnp.float32)])


class IllegalStepType(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, jit_env.restart(ts.observation)  # FIRST in the middle of an episode


class ResetMid(Walk):
    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return state, jit_env.transition(jnp.float32(0), ts.observation)


class DiscountTwo(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, ts.replace(discount=jnp.float32(2.0))


class NanReward(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, ts.replace(reward=jnp.where(state.t == 3, jnp.nan, ts.reward))


class HistoryState(NamedTuple):
    key: jax.Array
    t: jax.Array
    position: jax.Array
    history: jax.Array


class Retracing(Walk):
    """Appends to a history array: the state's shape grows every step."""

    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return HistoryState(*state, history=jnp.zeros((0,), jnp.float32)), ts

    def step(self, state, action):
        walk, ts = super().step(WalkState(*state[:3]), action)
        history = jnp.concatenate([state.history, walk.position[None]])
        return HistoryState(*walk, history=history), ts


class StructureMismatch(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, ts.replace(extras={"info": state.t})


class KeylessState(NamedTuple):
    t: jax.Array
    position: jax.Array


class NoKey(Walk):
    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return KeylessState(state.t, state.position), ts

    def step(self, state, action):
        walk, ts = super().step(WalkState(None, *state), action)
        return KeylessState(walk.t, walk.position), ts


class BadRender(Walk):
    def __init__(self):
        super().__init__(renderer=lambda _state: jnp.zeros((4, 4, 3), jnp.float32))


class JitDiffers(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        try:
            np.asarray(state.t)
            traced = False
        except jax.errors.TracerArrayConversionError:
            traced = True
        return state, ts.replace(reward=ts.reward + (1.0 if traced else 0.0))


@jax.custom_batching.custom_vmap
def _plus_one_when_batched(x):
    return x


@_plus_one_when_batched.def_vmap
def _plus_one_rule(axis_size, in_batched, x):
    del axis_size
    return x + 1.0, in_batched[0]


class VmapDiffers(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, ts.replace(reward=_plus_one_when_batched(ts.reward))


class RawKeyOnly(Walk):
    def reset(self, key, *, options=None):
        if jnp.shape(key) != (2,):
            raise TypeError(f"expects a raw uint32[2] key, got shape {jnp.shape(key)}")
        return super().reset(key, options=options)


class WrongReturn(Walk):
    def step(self, state, action):
        state, ts = super().step(state, action)
        return state, ts, {}


class ResetRaises(Walk):
    def reset(self, key, *, options=None):
        del key, options
        raise ValueError("boom")


class ActionLeaksIntoObservation(Walk):
    """Observes the last action in a bounded observation: an action outside
    ``{0, 1}`` makes an observation outside its spec (DiscountingChain's old bug)."""

    def _observe(self, state):
        return jnp.stack([jnp.tanh(state.position), state.t.astype(jnp.float32) / self.length])

    def step(self, state, action):
        state, ts = super().step(state, action)
        obs = ts.observation.at[0].set(action.astype(jnp.float32))
        return state, ts.replace(observation=obs)

    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return state, ts.replace(observation=ts.observation.at[0].set(0.0))

    def observation_spec(self):
        return specs.BoundedArray((2,), jnp.float32, [0.0, 0.0], [1.0, 1.0], name="observation")


class DictState(Walk):
    """A valid walk whose state is a dict with a ``"key"`` entry."""

    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return state._asdict(), ts

    def step(self, state, action):
        state, ts = super().step(WalkState(**state), action)
        return state._asdict(), ts


class DictStateNoKey(DictState):
    def reset(self, key, *, options=None):
        state, ts = super().reset(key, options=options)
        return {"rng": state["key"], "t": state["t"], "position": state["position"]}, ts

    def step(self, state, action):
        inner = {"key": state["rng"], "t": state["t"], "position": state["position"]}
        new, ts = super().step(inner, action)
        return {"rng": new["key"], "t": new["t"], "position": new["position"]}, ts


BROKEN = [
    # (env, check_env kwargs, check that must fail, message fragment)
    (Impure, {}, "purity", "called twice with the same inputs gave different outputs"),
    (Impure, {}, "purity", "changed the environment's Python attributes ['calls']"),
    (Impure, {}, "jit_equals_eager", "jitted and eager step"),
    (WrongDtype, {}, "specs", "observation does not conform to observation_spec()"),
    (WrongShape, {}, "specs", "observation does not conform to observation_spec()"),
    (IllegalStepType, {}, "step_types", "step returned FIRST after FIRST"),
    (ResetMid, {}, "step_types", "reset returned step_type ['MID'], expected FIRST"),
    (DiscountTwo, {}, "discount_range", "discount 2.0 is outside [0, 1]"),
    (NanReward, {}, "finite", "timestep.reward is not finite: [nan]"),
    (Retracing, {}, "single_trace", "the jitted step was traced"),
    (Retracing, {}, "single_trace", "first change between calls: inputs[0].history: float32[0] vs float32[1]"),
    (Retracing, {}, "scan_safe", "(state, timestep)[0].history: float32[0] vs float32[1]"),
    (StructureMismatch, {}, "scan_safe", "only in the second: ['(state, timestep)[1].extras.info']"),
    (NoKey, {}, "state_key", "has no PRNG key: auto-reset reads `state.key`"),
    (BadRender, {}, "render", "render returned dtype float32, expected uint8"),
    (JitDiffers, {}, "jit_equals_eager", "jitted and eager step (call 0) differ (jitted vs eager): "),
    (VmapDiffers, {}, "vmap_equals_loop", "vmapped step 1 of batch element 0 differs"),
    (RawKeyOnly, {"key": jax.random.PRNGKey(0)}, "key_impls", "typed threefry2x32 key raised"),
    (WrongReturn, {}, "returns", "step must return (state, TimeStep), returned a tuple of 3"),
    (ResetRaises, {}, "returns", "reset raised ValueError: boom"),
    (ResetRaises, {}, "specs", "not checked: the rollout failed"),
    (ActionLeaksIntoObservation, {}, "invalid_action",
     "step with action = 2: observation does not conform to observation_spec()"),
    (DictStateNoKey, {}, "state_key", "(dict with fields ['position', 'rng', 't']) has no PRNG key"),
    # the detail line of a multi-line validate error is kept (it was dropped):
    (WrongDtype, {}, "specs", "| at observation (Array 'observation'): expected dtype float32, "
     "got int32"),
]


@pytest.fixture(scope="module")
def reports():
    """check_env reports of the broken environments, computed once each."""
    cache = {}

    def get(env_cls, kwargs):
        name = (env_cls.__name__, tuple(sorted(kwargs)))
        if name not in cache:
            cache[name] = testing.check_env(
                env_cls(), num_steps=NUM_STEPS, raise_on_failure=False, **kwargs
            )
        return cache[name]

    return get


@pytest.mark.parametrize(
    ("env_cls", "kwargs", "check", "fragment"), BROKEN, ids=[f"{b[0].__name__}-{b[2]}" for b in BROKEN]
)
def test_broken_environment_fails_its_check(reports, env_cls, kwargs, check, fragment):
    report = reports(env_cls, kwargs)
    assert not report.ok
    messages = report.failures.get(check, ())
    assert any(fragment in m for m in messages), f"{check}: {messages}\n\nfull report:\n{report}"


EXPECTED_FAILURES = {  # every check each broken env fails: nothing more, nothing less
    Impure: {"purity", "jit_equals_eager", "vmap_equals_loop"},
    WrongDtype: {"specs"},
    WrongShape: {"specs"},
    IllegalStepType: {"step_types"},
    ResetMid: {"step_types"},
    DiscountTwo: {"specs", "discount_range"},
    NanReward: {"finite"},
    Retracing: {"single_trace", "scan_safe"},
    StructureMismatch: {"scan_safe"},  # extras are outputs only: no retrace
    NoKey: {"state_key"},
    BadRender: {"render"},
    JitDiffers: {"jit_equals_eager", "vmap_equals_loop"},  # eager vmap traces too
    VmapDiffers: {"vmap_equals_loop"},
    ActionLeaksIntoObservation: {"invalid_action"},
    DictStateNoKey: {"state_key"},
}


@pytest.mark.parametrize("env_cls", list(EXPECTED_FAILURES), ids=lambda c: c.__name__)
def test_broken_environment_fails_only_what_it_breaks(reports, env_cls):
    report = reports(env_cls, {})
    assert set(report.failures) == EXPECTED_FAILURES[env_cls], str(report)


def test_valid_environment_passes_and_reports():
    report = testing.check_env(Walk(renderer=_image), num_steps=NUM_STEPS)
    assert report.ok
    assert report.failures == {}
    assert report.skipped == {}
    assert report.passed == testing.CHECKS
    assert "all 15 checks passed" in str(report)


def test_missing_renderer_is_skipped():
    report = testing.check_env(Walk(), num_steps=3, checks=["render", "returns"])
    assert report.ok
    assert report.checks == ("returns", "render")
    assert "render is not implemented" in report.skipped["render"]
    assert report.passed == ("returns",)


def test_raise_on_failure_lists_every_failed_check():
    with pytest.raises(testing.EnvCheckError) as info:
        testing.check_env(DiscountTwo(), num_steps=NUM_STEPS, checks=["specs", "discount_range"])
    assert isinstance(info.value, AssertionError)
    text = str(info.value)
    assert "2 check(s) failed" in text
    assert "[specs]" in text
    assert "[discount_range]" in text
    assert set(info.value.report.failures) == {"specs", "discount_range"}


def test_messages_are_capped(reports):
    messages = reports(DiscountTwo, {}).failures["discount_range"]  # wrong on all 12 steps
    assert len(messages) == 6
    assert messages[-1] == "... and 7 more"


def test_auto_reset_mode_accepts_first_after_last():
    class AutoWalk(Walk):
        def step(self, state, action):
            new, ts = super().step(state, action)
            fresh, first = self.reset(state.key)
            done = ts.last()
            state = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, new)
            return state, ts.replace(step_type=jnp.where(done, first.step_type, ts.step_type))

    report = testing.check_env(
        AutoWalk(), num_steps=NUM_STEPS, checks=["step_types"], raise_on_failure=False
    )
    assert "step returned FIRST after MID" in report.failures["step_types"][0]
    assert testing.check_env(AutoWalk(), num_steps=NUM_STEPS, checks=["step_types"],
                             auto_reset=True).ok


def test_argument_errors():
    with pytest.raises(TypeError, match="`env` must be a jit_env.Environment"):
        testing.check_env(object())
    with pytest.raises(ValueError, match="`num_steps` must be an int >= 1"):
        testing.check_env(Walk(), num_steps=0)
    with pytest.raises(ValueError, match="`batch_size`"):
        testing.check_env(Walk(), batch_size=0)
    with pytest.raises(ValueError, match=r"unknown names \['nope'\]"):
        testing.check_env(Walk(), checks=["nope"])
    with pytest.raises(TypeError, match="`key` must be an int seed or a PRNG key"):
        testing.check_env(Walk(), key="seed")


@pytest.mark.parametrize("key", [jax.random.key(7, impl="rbg"), jax.random.PRNGKey(7)],
                         ids=["rbg", "legacy"])
def test_key_forms(key):
    report = testing.check_env(Walk(), key=key, num_steps=2, checks=["returns", "single_trace"])
    assert report.ok
    assert report.passed == ("returns", "single_trace")


# ----------------------------------------------------------- the pytest mixin


class TestWalkConformance(testing.EnvironmentTestMixin):
    """The mixin as environment authors use it: one test per check."""

    check_env_kwargs = {"num_steps": NUM_STEPS}

    def make_env(self):
        return Walk(renderer=_image)


class _DiscountTwoSuite(testing.EnvironmentTestMixin):  # not collected: no Test prefix
    check_env_kwargs = {"num_steps": NUM_STEPS}

    def make_env(self):
        return DiscountTwo()


def test_mixin_fails_the_broken_check_only():
    suite = _DiscountTwoSuite()
    with pytest.raises(AssertionError, match=r"check_env\[discount_range\] failed"):
        suite.test_discount_range()
    suite.test_finite()  # passes
    suite.test_purity()
    assert _DiscountTwoSuite.__dict__["_jit_env_check_report"] is suite.check_env_report()
    check_methods = {m[len("test_"):] for m in dir(suite) if m.startswith("test_")}
    assert check_methods == set(testing.CHECKS)


def test_mixin_without_make_env():
    with pytest.raises(NotImplementedError, match="override make_env"):
        testing.EnvironmentTestMixin().make_env()


# ----------------------------------------- every registered environment passes


def _check_env_param(env_id):
    # MinAtar and Slime compile for 4-20 s each cold on 2 cores: CI's slow run keeps them.
    heavy = env_id.endswith("-MinAtar") or env_id.startswith("SlimeVolley")
    return pytest.param(env_id, marks=pytest.mark.slow) if heavy else env_id


@pytest.mark.parametrize("env_id", [_check_env_param(i) for i in sorted(jit_env.envs.registered_ids())])
def test_registered_environment_passes_check_env(env_id):
    env = jit_env.envs.make(env_id)
    report = testing.check_env(env, key=1, num_steps=24)
    assert report.ok, str(report)
    assert "render" not in report.skipped, "every registered environment renders"


def test_all_is_sorted_and_public():
    public = {"CHECKS", "CheckReport", "EnvCheckError", "EnvironmentTestMixin", "check_env"}
    assert testing.__all__ == sorted(testing.__all__)
    assert set(testing.__all__) == public


# ------------------------------------- check_env and the auto-resets agree on the key


def test_dict_state_with_key_passes_check_env_and_auto_resets():
    """check_env's state_key rule is the one VmapAutoReset applies (it read
    ``source.key`` and raised AttributeError on a dict state check_env accepted)."""
    report = testing.check_env(DictState(), num_steps=NUM_STEPS, raise_on_failure=False)
    assert report.failures == {}, str(report)
    env = jit_env.wrappers.VmapAutoReset(DictState(), 2)
    state, ts = env.reset(jax.random.key(0))
    for _ in range(6):  # one 5-step episode ends and auto-resets
        state, ts = env.step(state, jnp.ones((2,), jnp.int32))
    # after the reset at step 5, step 6 is the first of a new episode: t == 1
    np.testing.assert_array_equal(np.asarray(state["t"]), [1, 1])


def test_dict_state_without_key_fails_both_with_the_same_message():
    report = testing.check_env(DictStateNoKey(), num_steps=NUM_STEPS, raise_on_failure=False)
    (message,) = report.failures["state_key"]
    env = jit_env.wrappers.VmapAutoReset(DictStateNoKey(), 2)
    state, _ = env.reset(jax.random.key(0))
    with pytest.raises(TypeError) as info:
        env.step(state, jnp.ones((2,), jnp.int32))  # traces the reset of ended envs
    assert str(info.value) == message
    assert "['position', 'rng', 't']" in message


def test_non_key_in_the_key_field_fails_state_key():
    class FloatKey(Walk):  # keeps a float where the key belongs
        def reset(self, key, *, options=None):
            state, ts = super().reset(key, options=options)
            return state._replace(key=jnp.zeros((), jnp.float32)), ts

    report = testing.check_env(FloatKey(), num_steps=1, checks=["state_key"],
                               raise_on_failure=False)
    assert report.failures["state_key"] == (
        "state.key is not a PRNG key: got float32[] (expected a typed key or a legacy "
        "uint32[2] key)",
    )


def test_invalid_action_is_skipped_for_unbounded_action_specs():
    class Unbounded(Walk):
        def action_spec(self):
            return specs.Array((), jnp.int32, name="action")

    report = testing.check_env(Unbounded(), num_steps=3, checks=["invalid_action"])
    assert report.skipped == {"invalid_action": "the action spec has no finite bounds"}


def test_out_of_range_actions_are_outside_the_spec():
    from jit_env.testing._action_checks import out_of_range_actions

    spec = specs.DiscreteArray(3, dtype=jnp.int32)
    assert [(w, int(a)) for w, a in out_of_range_actions(spec)] == [
        ("action = -1", -1), ("action = 3", 3), ("action = 1048576", 2**20),
    ]
    spec = specs.BoundedArray((2,), jnp.float32, -2.0, 2.0)
    values = [np.asarray(a).tolist() for _, a in out_of_range_actions(spec)]
    assert values == [[-6.0, -6.0], [6.0, 6.0], [2.0 + 2**20] * 2]  # width 4
    for _, action in out_of_range_actions(spec):
        assert not bool(spec.contains(action))
    assert out_of_range_actions(specs.DiscreteArray(256, dtype=jnp.uint8)) == []
