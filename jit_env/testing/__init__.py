"""Conformance checks for environment authors: `check_env` and a pytest mixin.

``check_env(env)`` runs a bounded random-action rollout and reports, one
message per problem, whether the environment keeps the promises the rest of
jit_env relies on:

=====================  =====================================================
check                  what it asserts
=====================  =====================================================
``returns``            ``reset`` and ``step`` return ``(state, TimeStep)``
                       and do not raise (jitted).
``specs``              observation / reward / discount conform to their
                       specs (``spec.validate``) on every step; sampled
                       actions conform to ``action_spec()``.
``step_types``         ``reset`` gives FIRST with reward 0 and discount 1;
                       ``step`` gives MID or LAST (FIRST → MID… → LAST);
                       ``step_type`` is ``int8``.
``discount_range``     every discount is in [0, 1].
``finite``             every floating leaf of every TimeStep is finite.
``scan_safe``          ``reset`` and ``step`` return the same pytree
                       structure, shapes and dtypes (a ``lax.scan`` carry).
``state_key``          the state holds its PRNG key (typed, or legacy
                       ``uint32[2]``) as attribute ``key`` or as the entry
                       ``"key"`` of a dict: where every auto-reset reads it.
``single_trace``       the jitted ``step`` (and ``reset``) is traced once over
                       the whole rollout (no recompilation).
``jit_equals_eager``   eager ``reset``/``step`` equal the jitted ones.
``purity``             the same call twice gives bit-identical outputs and
                       leaves the environment's Python attributes unchanged.
``vmap_equals_loop``   ``vmap`` over keys (and over states and actions)
                       equals a loop of unbatched calls.
``key_impls``          ``reset``/``step`` accept legacy ``uint32`` keys and
                       typed ``threefry2x32``, ``rbg`` and ``unsafe_rbg`` keys.
``invalid_action``     ``step`` with actions outside ``action_spec()``'s
                       bounds (just below, just above, far above) still
                       returns a same-structured, spec-conforming, finite
                       TimeStep: the out-of-range behaviour is defined (the
                       environment documents it; `jit_env.wrappers.
                       ValidateAction` and the adapters reject such actions).
                       Skipped for action specs without finite bounds.
``render``             unless ``render`` raises ``NotImplementedError``
                       (then skipped), it returns ``uint8 [H, W, 3]`` of a
                       fixed shape.
``agents``             for a multi-agent environment (``env.agent_ids`` a
                       tuple of ``N`` names): observation and action spec
                       leaves lead with an axis of ``N``, reward and
                       discount are ``[N]``, ``step_type`` is shared (one per
                       environment). Nothing to check for one agent.
=====================  =====================================================

The checker is pure JAX plus NumPy: it needs neither pytest nor gymnasium.
It plays the role of gymnasium's ``utils.env_checker.check_env`` and dm_env's
``test_utils.EnvironmentTestMixin`` for pure-functional JAX environments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import jax
import numpy as np

from jit_env import _core
from jit_env.testing import _action_checks, _agent_checks, _checks
from jit_env.testing._checks import CHECKS

__all__ = [
    "CHECKS",
    "CheckReport",
    "EnvCheckError",
    "EnvironmentTestMixin",
    "check_env",
]


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What `check_env` found.

    Attributes:
      env: ``str(env)`` of the checked environment.
      checks: names of the checks that were run, in `CHECKS` order.
      failures: check name -> list of messages, for failed checks only.
      skipped: check name -> reason, for checks that did not apply (e.g.
        ``render`` of an environment without a renderer).
    """

    env: str
    checks: tuple[str, ...]
    failures: Mapping[str, tuple[str, ...]]
    skipped: Mapping[str, str]

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.failures

    @property
    def passed(self) -> tuple[str, ...]:
        """Checks that ran and found nothing wrong."""
        return tuple(c for c in self.checks if c not in self.failures and c not in self.skipped)

    def __str__(self) -> str:
        if self.ok:
            lines = [f"check_env({self.env}): all {len(self.passed)} checks passed"]
        else:
            lines = [f"check_env({self.env}): {len(self.failures)} check(s) failed"]
            for check, messages in self.failures.items():
                lines += [f"  [{check}] {message}" for message in messages]
        lines += [f"  [{check}] skipped: {reason}" for check, reason in self.skipped.items()]
        return "\n".join(lines)


class EnvCheckError(AssertionError):
    """Raised by `check_env` when a check fails; ``.report`` lists every failure.

    An ``AssertionError`` so that pytest shows it as a test failure.
    """

    def __init__(self, report: CheckReport):
        super().__init__(str(report))
        self.report = report


def check_env(
    env: _core.Environment,
    key: int | jax.Array = 0,
    num_steps: int = 100,
    *,
    options: Any = None,
    batch_size: int = 3,
    auto_reset: bool = False,
    checks: Iterable[str] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    raise_on_failure: bool = True,
) -> CheckReport:
    """Checks that ``env`` is pure, jittable, vmappable and spec-conformant.

    Runs ``num_steps`` jitted steps with random actions from
    ``env.action_spec().sample``, calling ``reset`` after every ``LAST``, then
    re-runs a few of the recorded calls eagerly, twice, under ``vmap`` and with
    other key implementations. See the module docstring for the checks. Every
    loop is bounded by ``num_steps`` (at most ``2 * num_steps + 1`` calls of
    the jitted functions, a dozen eager steps and ``batch_size * 4`` vmapped
    comparisons).

    Args:
      env: the environment to check.
      key: an ``int`` seed or a PRNG key (typed of any implementation, or a
        legacy ``uint32`` key).
      num_steps: number of ``step`` calls in the rollout (>= 1).
      options: passed to every ``reset`` (the environment's parameters).
      batch_size: batch size of the ``vmap_equals_loop`` check (>= 1).
      auto_reset: set for environments that reset themselves (e.g. wrapped in
        `jit_env.wrappers.AutoReset`): ``step`` may then return FIRST, and
        must after LAST; the checker never calls ``reset`` after the first.
      checks: names from `CHECKS` to run (default all).
      rtol, atol: tolerance of the ``jit_equals_eager`` and
        ``vmap_equals_loop`` comparisons of floating leaves (XLA may fuse and
        reorder float32 arithmetic differently when compiling; integers, bools
        and keys are compared exactly). ``purity`` is always bit-exact.
      raise_on_failure: if True (default), raise `EnvCheckError` when any
        check fails; if False, only return the report.

    Returns:
      A `CheckReport` (``.ok``, ``.failures``, ``.skipped``).

    Raises:
      EnvCheckError: if ``raise_on_failure`` and a check failed; its message
        lists every failed check and why.
      TypeError: if ``env`` is not a `jit_env.Environment` or ``key`` is not an
        int or a key array.
      ValueError: if ``num_steps`` or ``batch_size`` is < 1, or ``checks``
        names an unknown check.
    """
    if not isinstance(env, _core.Environment):
        raise TypeError(f"`env` must be a jit_env.Environment, got {type(env).__name__}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"`num_steps` must be an int >= 1, got {num_steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an int >= 1, got {batch_size!r}")
    selected = CHECKS if checks is None else tuple(checks)
    unknown = sorted(set(selected) - set(CHECKS))
    if unknown:
        raise ValueError(f"`checks` has unknown names {unknown}; known: {list(CHECKS)}")
    selected = tuple(c for c in CHECKS if c in selected)
    seed, key = _key(key)

    run = _checks.Run(
        env,
        key,
        num_steps,
        options=options,
        batch_size=batch_size,
        auto_reset=auto_reset,
        rtol=rtol,
        atol=atol,
        checks=selected,
    )
    run.rollout()
    run.check_records()
    run.check_traces()  # before anything else calls the jitted functions again
    if "jit_equals_eager" in selected or "purity" in selected:
        run.check_eager()
    if "vmap_equals_loop" in selected:
        run.check_vmap()
    if "key_impls" in selected:
        run.check_key_impls(seed)
    if "invalid_action" in selected:
        _action_checks.check_invalid_actions(run)
    if "render" in selected:
        run.check_render()
    if "agents" in selected:
        _agent_checks.check_agents(run)
    failures = {name: tuple(msgs) for name, msgs in run.out.finish().items() if msgs}
    report = CheckReport(
        env=str(env), checks=selected, failures=failures, skipped=dict(run.out.skipped)
    )
    if raise_on_failure and not report.ok:
        raise EnvCheckError(report)
    return report


def _key(key: int | jax.Array) -> tuple[int, jax.Array]:
    """Returns (an int seed for `key_impls`, the key to use)."""
    if isinstance(key, (int, np.integer)):
        if not isinstance(key, bool):  # a bool is not a seed: rejected below
            return int(key), jax.random.key(int(key))
    else:
        dtype = getattr(key, "dtype", None)
        if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(key)).ravel()
            return int(data[-1]), key
        if dtype is not None and np.dtype(dtype) == np.uint32 and np.ndim(key) == 1:
            return int(np.asarray(key)[-1]), key
    raise TypeError(
        f"`key` must be an int seed or a PRNG key (typed, or legacy uint32), got {key!r}"
    )


class EnvironmentTestMixin:
    """A pytest mixin: one test per `check_env` check for the env of `make_env`.

    Subclass it in a ``Test...`` class and override `make_env`; set
    ``check_env_kwargs`` to pass options such as ``num_steps`` or
    ``auto_reset``. `check_env` runs once per class (the report is cached on
    the class); each ``test_<check>`` method asserts one check, so a failure
    names the broken promise. A check that does not apply (``render`` without
    a renderer) is skipped with ``pytest.skip`` when pytest is importable.

    Example::

        class TestMyEnv(jit_env.testing.EnvironmentTestMixin):
            check_env_kwargs = {"num_steps": 50}

            def make_env(self):
                return MyEnv()

    The counterpart of dm_env's ``test_utils.EnvironmentTestMixin``, for pure
    environments.
    """

    check_env_kwargs: ClassVar[Mapping[str, Any]] = {}
    # Set on each subclass by `check_env_report` (declared only: no class attribute here).
    _jit_env_check_report: ClassVar[CheckReport]

    def make_env(self) -> _core.Environment:
        """Returns the environment under test; override it."""
        raise NotImplementedError("override make_env() to return the environment under test")

    def check_env_report(self) -> CheckReport:
        """The (cached) `check_env` report of ``make_env()``."""
        cls = type(self)
        report = cls.__dict__.get("_jit_env_check_report")
        if report is None:
            kwargs = {**self.check_env_kwargs, "raise_on_failure": False}
            report = check_env(self.make_env(), **kwargs)
            cls._jit_env_check_report = report
        return report

    def assert_check(self, check: str) -> None:
        """Fails with the check's messages if ``check`` failed."""
        report = self.check_env_report()
        if check in report.skipped:
            try:
                import pytest
            except ImportError:  # pragma: no cover - only without pytest
                return
            pytest.skip(report.skipped[check])
        messages = report.failures.get(check, ())
        assert not messages, f"check_env[{check}] failed for {report.env}:\n" + "\n".join(
            f"  {m}" for m in messages
        )

    def test_returns(self) -> None:
        """`check_env`'s ``returns`` check on ``make_env()``."""
        self.assert_check("returns")

    def test_specs(self) -> None:
        """`check_env`'s ``specs`` check on ``make_env()``."""
        self.assert_check("specs")

    def test_step_types(self) -> None:
        """`check_env`'s ``step_types`` check on ``make_env()``."""
        self.assert_check("step_types")

    def test_discount_range(self) -> None:
        """`check_env`'s ``discount_range`` check on ``make_env()``."""
        self.assert_check("discount_range")

    def test_finite(self) -> None:
        """`check_env`'s ``finite`` check on ``make_env()``."""
        self.assert_check("finite")

    def test_scan_safe(self) -> None:
        """`check_env`'s ``scan_safe`` check on ``make_env()``."""
        self.assert_check("scan_safe")

    def test_state_key(self) -> None:
        """`check_env`'s ``state_key`` check on ``make_env()``."""
        self.assert_check("state_key")

    def test_single_trace(self) -> None:
        """`check_env`'s ``single_trace`` check on ``make_env()``."""
        self.assert_check("single_trace")

    def test_jit_equals_eager(self) -> None:
        """`check_env`'s ``jit_equals_eager`` check on ``make_env()``."""
        self.assert_check("jit_equals_eager")

    def test_purity(self) -> None:
        """`check_env`'s ``purity`` check on ``make_env()``."""
        self.assert_check("purity")

    def test_vmap_equals_loop(self) -> None:
        """`check_env`'s ``vmap_equals_loop`` check on ``make_env()``."""
        self.assert_check("vmap_equals_loop")

    def test_key_impls(self) -> None:
        """`check_env`'s ``key_impls`` check on ``make_env()``."""
        self.assert_check("key_impls")

    def test_invalid_action(self) -> None:
        """`check_env`'s ``invalid_action`` check on ``make_env()``."""
        self.assert_check("invalid_action")

    def test_render(self) -> None:
        """`check_env`'s ``render`` check on ``make_env()``."""
        self.assert_check("render")

    def test_agents(self) -> None:
        """`check_env`'s ``agents`` check on ``make_env()``."""
        self.assert_check("agents")
