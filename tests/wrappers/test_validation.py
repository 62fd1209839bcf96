"""Tests of `CheckFinite`, `ValidateAction` and the wrapper-constructor fuzzer findings.

The checkify wrappers are run eagerly (the check raises at once), under
``jax.jit(checkify.checkify(...))`` (the error comes back as a value) and under
``jax.jit(checkify.checkify(jax.vmap(...)))``; and staged without checkify (a
trace-time error, never a silent no-op).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jit_env
from jit_env import specs, wrappers

KEY = jax.random.key(0)


class Leaky(jit_env.Environment):
    """Observation ``[action, 1/action]`` and reward ``log(action)``: action 0 gives
    ``inf`` in the observation and ``-inf`` in the reward, a negative action NaN."""

    def reset(self, key, *, options=None):
        del options
        return {"key": key}, jit_env.restart(jnp.ones((2,), jnp.float32))

    def step(self, state, action):
        a = jnp.asarray(action, jnp.float32)
        return state, jit_env.transition(jnp.log(a), jnp.stack([a, 1.0 / a]))

    def observation_spec(self):
        return specs.Array((2,), jnp.float32, name="observation")

    def action_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.5, 2.0, name="action")

    def reward_spec(self):
        return specs.Array((), jnp.float32, name="reward")

    def discount_spec(self):
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, name="discount")


def _checked(fn):
    return jax.jit(checkify.checkify(fn, errors=checkify.user_checks))


# ------------------------------------------------------------------ CheckFinite


def test_check_finite_passes_finite_values_through_unchanged():
    env = wrappers.CheckFinite(Leaky())
    state, ts = env.reset(KEY)
    err, (_, checked) = _checked(env.step)(state, jnp.float32(2.0))
    assert err.get() is None
    _, plain = Leaky().step(state, jnp.float32(2.0))
    np.testing.assert_array_equal(checked.observation, [2.0, 0.5])
    np.testing.assert_array_equal(checked.reward, plain.reward)
    assert env.observation_spec() == Leaky().observation_spec()


def test_check_finite_eager_raises_at_once_naming_the_leaf():
    env = wrappers.CheckFinite(Leaky())
    state, _ = env.reset(KEY)
    with pytest.raises(checkify.JaxRuntimeError, match=r"CheckFinite: step returned "
                       r"timestep.observation is not finite: 1 of 2 entries, first at flat "
                       r"index 1: inf"):
        env.step(state, jnp.float32(0.0))  # observation [0, inf]: checked before the reward
    with pytest.raises(checkify.JaxRuntimeError,
                       match=r"CheckFinite: step returned timestep.reward is not finite: 1 of 1"):
        wrappers.CheckFinite(Leaky(), fields=["reward"]).step(state, jnp.float32(-1.0))


def test_check_finite_under_jit_names_the_first_bad_entry():
    env = wrappers.CheckFinite(Leaky(), fields=["observation"])
    state, _ = env.reset(KEY)
    err, _ = _checked(env.step)(state, jnp.float32(0.0))  # observation [0, inf]
    assert "timestep.observation is not finite: 1 of 2 entries, first at flat index 1: inf" in (
        err.get()
    )
    err, _ = _checked(env.step)(state, jnp.float32(-1.0))  # [-1, -1] finite, reward log(-1)
    assert err.get() is None  # the reward is not a selected field


def test_check_finite_under_vmap_and_scan():
    env = wrappers.CheckFinite(Leaky())
    state, _ = env.reset(KEY)

    def rollout(state, actions):
        return jax.lax.scan(lambda s, a: (env.step(s, a)[0], None), state, actions)[0]

    states = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    good = jnp.full((2, 3), 1.5, jnp.float32)
    err, _ = _checked(jax.vmap(rollout))(states, good)
    assert err.get() is None
    bad = good.at[1, 2].set(-1.0)  # batch element 1, third step: NaN
    err, _ = _checked(jax.vmap(rollout))(states, bad)
    assert "CheckFinite: step returned timestep.reward is not finite" in err.get()


def test_check_finite_is_never_a_silent_no_op():
    env = wrappers.CheckFinite(Leaky())
    state, _ = env.reset(KEY)
    with pytest.raises(ValueError, match="checkify.check which was not functionalized"):
        jax.jit(env.step)(state, jnp.float32(1.0))


def test_check_finite_catches_extras_of_an_auto_reset():
    env = wrappers.CheckFinite(wrappers.AutoReset(Leaky()), fields=("extras",))
    state, _ = env.reset(KEY)
    err, _ = _checked(env.step)(state, jnp.float32(0.0))
    assert "timestep.extras['final_observation'] is not finite" in err.get()


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ("reward", TypeError, "`fields` must be a sequence of field names, got str"),
        ((), ValueError, r"`fields` must be a non-empty subset of \['observation'"),
        (["obs"], ValueError, r"got \['obs'\]"),
    ],
)
def test_check_finite_argument_errors(fields, error, match):
    with pytest.raises(error, match=match):
        wrappers.CheckFinite(Leaky(), fields=fields)


def test_normalize_observation_poisoned_by_one_nan_and_caught_inside():
    """Why `NormalizeObservation` documents `CheckFinite` inside it: one NaN
    observation makes its statistics NaN for good."""
    env = wrappers.NormalizeObservation(Leaky())
    state, _ = env.reset(KEY)
    state, _ = env.step(state, jnp.float32(-1.0))  # observation [-1, -1]: finite
    assert np.all(np.isfinite(state.stats.mean))
    state, _ = env.step(state, jnp.float32(0.0))  # observation [0, inf]
    state, ts = env.step(state, jnp.float32(1.0))  # a good observation after it
    assert np.isnan(np.asarray(state.stats.mean)[1])
    assert np.isnan(np.asarray(ts.observation)[1])
    guarded = wrappers.NormalizeObservation(wrappers.CheckFinite(Leaky()))
    state, _ = guarded.reset(KEY)
    err, _ = _checked(guarded.step)(state, jnp.float32(0.0))
    assert "timestep.observation is not finite" in err.get()


# ---------------------------------------------------------------- ValidateAction


def test_validate_action_eager():
    env = wrappers.ValidateAction(jit_env.make("CartPole-v1"))
    state, _ = env.reset(KEY)
    _, ts = env.step(state, 1)
    _, plain = jit_env.make("CartPole-v1").step(state, 1)
    np.testing.assert_array_equal(ts.observation, plain.observation)
    for action in (2, -1, 5, 2**20):
        with pytest.raises(ValueError, match=rf"first at index \(\): {action} not in \[0, 1\]"):
            env.step(state, action)
    with pytest.raises(ValueError, match="expected dtype int32, got float32"):
        env.step(state, jnp.float32(1.0))  # static: a trace-time error too
    with pytest.raises(ValueError, match=r"expected shape \(\), got \(2,\)"):
        jax.jit(checkify.checkify(env.step))(state, jnp.array([0, 1], jnp.int32))


def test_validate_action_under_jit_and_vmap():
    env = wrappers.ValidateAction(wrappers.VmapAutoReset(jit_env.make("CartPole-v1"), 3))
    state, _ = env.reset(KEY)
    step = _checked(env.step)
    err, _ = step(state, jnp.array([0, 1, 1], jnp.int32))
    assert err.get() is None
    err, _ = step(state, jnp.array([0, 1, 7], jnp.int32))
    assert "1 entries out of bounds; first at flat index 2: 7 not in [0, 1]" in err.get()
    single = wrappers.ValidateAction(jit_env.make("CartPole-v1"))
    states = jax.vmap(single.reset)(jax.random.split(KEY, 2))[0]
    err, _ = _checked(jax.vmap(single.step))(states, jnp.array([1, -1], jnp.int32))
    assert "-1 not in [0, 1]" in err.get()


def test_validate_action_rejects_non_finite_float_actions():
    env = wrappers.ValidateAction(jit_env.make("Pendulum-v1"))
    state, _ = env.reset(KEY)
    err, _ = _checked(env.step)(state, jnp.array([jnp.nan], jnp.float32))
    assert "nan not in [-2.0, 2.0]" in err.get()
    unbounded = wrappers.ValidateAction(wrappers.ClipAction(jit_env.make("Pendulum-v1")))
    state, _ = unbounded.reset(KEY)
    err, _ = _checked(unbounded.step)(state, jnp.array([5.0], jnp.float32))
    assert err.get() is None  # ClipAction's spec is unbounded: 5 is valid there
    err, _ = _checked(unbounded.step)(state, jnp.array([jnp.inf], jnp.float32))
    assert "ValidateAction: action is not finite: 1 of 1 entries" in err.get()


def test_validate_action_catches_softmax_samples_of_nan_logits():
    """The -1 that `softmax().sample` returns for NaN logits is rejected as an action."""
    from jit_env import ops

    env = wrappers.ValidateAction(jit_env.make("CartPole-v1"))
    state, _ = env.reset(KEY)
    action = ops.softmax().sample(KEY, jnp.array([jnp.nan, 0.0]))
    assert int(action) == -1
    with pytest.raises(ValueError, match="-1 not in"):
        env.step(state, action)


# ------------------------------------------------- constructor fuzzer findings


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_reward": float("nan"), "max_reward": float("nan")}, ValueError,
         "`min_reward` must be a number < inf or None, got nan"),
        ({"min_reward": 0.0, "max_reward": float("nan")}, ValueError,
         "`max_reward` must be a number > -inf or None, got nan"),
        ({"min_reward": float("inf")}, ValueError, "`min_reward` must be a number < inf"),
        ({"max_reward": -float("inf")}, ValueError, "`max_reward` must be a number > -inf"),
        ({"min_reward": "0"}, TypeError, "`min_reward` must be a real number, got str"),
        ({"max_reward": np.ones(2)}, TypeError, "`max_reward` must be a real number, got ndarray"),
    ],
)
def test_clip_reward_rejects_bounds_that_clip_to_garbage(kwargs, error, match):
    with pytest.raises(error, match=match):
        wrappers.ClipReward(jit_env.make("CartPole-v1"), **kwargs)


def test_clip_reward_with_an_infinite_side_clips_one_side():
    env = wrappers.ClipReward(Leaky(), max_reward=float("inf"), min_reward=-0.5)
    state, _ = env.reset(KEY)
    _, ts = env.step(state, jnp.float32(0.5))  # log(0.5) = -0.693 -> -0.5
    assert float(ts.reward) == -0.5


def test_time_limit_rejects_limits_its_int32_counter_cannot_hold():
    with pytest.raises(ValueError, match=r"must be <= 2147483647 \(the step counter is int32\)"):
        wrappers.TimeLimit(Leaky(), 10**12)
    env = wrappers.TimeLimit(Leaky(), 2**31 - 1)  # the largest limit steps fine
    state, _ = env.reset(KEY)
    state, ts = env.step(state, jnp.float32(1.0))
    assert int(state.elapsed) == 1
    assert int(ts.step_type) == 1


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda e: wrappers.ScaleReward(e, "2"), TypeError, "`scale` must be a real number"),
        (lambda e: wrappers.NormalizeObservation(e, epsilon=float("inf")), ValueError,
         "`epsilon` must be finite and >= 0"),
        (lambda e: wrappers.NormalizeObservation(e, clip=float("nan")), ValueError,
         "`clip` must be None or > 0, got nan"),
        (lambda e: wrappers.NormalizeReward(e, gamma=float("nan")), ValueError,
         r"`gamma` must be in \[0, 1\], got nan"),
        (lambda e: wrappers.NormalizeReward(e, epsilon=None), TypeError,
         "`epsilon` must be a real number, got NoneType"),
    ],
)
def test_normalisation_constructor_errors_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make(Leaky())
