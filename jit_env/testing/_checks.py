"""The checks behind `jit_env.testing.check_env` (private).

`run_checks` runs one bounded random-action rollout of a jitted ``step``
(resetting after ``LAST``), then checks what it recorded and a few extra
calls (eager, vmapped, other key implementations). Every check appends
human-readable messages to ``failures[check_name]``; a check that could not
run because ``reset``/``step`` raised says so rather than passing silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import _core
from jit_env._pytrees import key_of
from jit_env.testing._trees import (
    _error,
    _flatten,
    _host,
    _is_key,
    _numpy,
    _signature,
    structure_diffs,
    value_diffs,
)

CHECKS = (
    "returns",
    "specs",
    "step_types",
    "discount_range",
    "finite",
    "scan_safe",
    "state_key",
    "single_trace",
    "jit_equals_eager",
    "purity",
    "vmap_equals_loop",
    "key_impls",
    "invalid_action",
    "render",
    "agents",
)
"""Names of the checks, in the order they are reported."""

_MAX_MESSAGES = 5  # per check; the rest are counted, not listed
_MAX_EAGER_STEPS = 12  # eager re-computations of recorded jitted steps
_NAMES = {0: "FIRST", 1: "MID", 2: "LAST"}


@dataclasses.dataclass
class _Record:
    """One recorded call of the jitted reset or step."""

    kind: str  # "reset" or "step"
    index: int  # position in the rollout
    inputs: tuple  # (key,) or (state, action)
    state: Any
    timestep: _core.TimeStep


class _Failures:
    def __init__(self, checks: Sequence[str]):
        self.checks = tuple(checks)
        self.messages: dict[str, list[str]] = {name: [] for name in self.checks}
        self.dropped: dict[str, int] = dict.fromkeys(self.checks, 0)
        self.skipped: dict[str, str] = {}

    def add(self, check: str, message: str) -> None:
        if check not in self.messages:
            return
        if len(self.messages[check]) < _MAX_MESSAGES:
            self.messages[check].append(message)
        else:
            self.dropped[check] += 1

    def finish(self) -> dict[str, list[str]]:
        out = {}
        for name, messages in self.messages.items():
            if self.dropped[name]:
                messages = [*messages, f"... and {self.dropped[name]} more"]
            out[name] = messages
        return out


def _fingerprint(env: Any) -> dict[str, Any]:
    """A cheap summary of the Python attributes of ``env`` and the envs it wraps."""
    out: dict[str, Any] = {}
    depth = 0
    while env is not None and depth < 32:
        for name, value in vars(env).items():
            if isinstance(value, (bool, int, float, str, type(None))):
                summary: Any = value
            elif isinstance(value, (list, dict, set)):
                summary = ("len", len(value))
            elif isinstance(value, np.ndarray):
                summary = ("ndarray", value.tobytes())
            else:
                summary = ("id", id(value))
            out[f"{'env.' * depth}{name}"] = summary
        env = getattr(env, "_env", None)
        depth += 1
    return out


def _is_timestep_pair(out: Any) -> bool:
    return isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], _core.TimeStep)


def _describe_return(out: Any) -> str:
    if isinstance(out, tuple):
        return f"a tuple of {len(out)}: ({', '.join(type(x).__name__ for x in out)})"
    return f"a {type(out).__name__}"


def _conforms(spec: Any, value: Any) -> str | None:
    try:
        spec.validate(value)
    except Exception as exc:  # any failure is a non-conformance
        return _error(exc)
    shape, dtype = getattr(spec, "shape", None), getattr(spec, "dtype", None)
    if (
        isinstance(shape, tuple)
        and dtype is not None
        and hasattr(value, "dtype")
        and (tuple(jnp.shape(value)) != shape or np.dtype(value.dtype) != np.dtype(dtype))
    ):
        return (
            f"value {_signature(value)} does not match spec "
            f"{np.dtype(dtype).name}{list(shape)}"
        )
    return None


def _nonconforming(spec: Any, values: list[Any]) -> set[int]:
    """Indices of ``values`` that may not conform to ``spec``.

    When every value has the same structure, shapes and dtypes, one
    ``jax.vmap(spec.contains)`` over the stacked values decides (cheap); else
    every index is a suspect and is `validate`-d on its own.
    """
    if not values:
        return set()
    signatures = {
        (jax.tree.structure(v), tuple(_signature(x) for x in jax.tree.leaves(v))) for v in values
    }
    if len(signatures) == 1:
        try:
            stacked = jax.tree.map(lambda *xs: np.stack([_numpy(x) for x in xs]), *values)
            ok = np.asarray(jax.jit(jax.vmap(spec.contains))(stacked))
            return set(np.flatnonzero(~ok).tolist())
        except Exception:  # fall back to validating one by one
            pass
    return set(range(len(values)))


class Run:
    """Runs the checks on one environment; results in ``failures``."""

    def __init__(
        self,
        env: _core.Environment,
        key: jax.Array,
        num_steps: int,
        *,
        options: Any,
        batch_size: int,
        auto_reset: bool,
        rtol: float,
        atol: float,
        checks: Sequence[str],
    ):
        self.env = env
        self.num_steps = num_steps
        self.options = options
        self.batch_size = batch_size
        self.auto_reset = auto_reset
        self.rtol, self.atol = rtol, atol
        self.out = _Failures(checks)
        self.records: list[_Record] = []
        self.broken: str | None = None  # why the rollout stopped early
        self.traces = {"reset": 0, "step": 0}
        self.calls = {"reset": 0, "step": 0}
        self.rollout_key, self.action_key, self.vmap_key = jax.random.split(key, 3)
        self.jit_reset = jax.jit(self._counted("reset", self._reset))
        self.jit_step = jax.jit(self._counted("step", env.step))

    def _reset(self, key: jax.Array) -> Any:
        return self.env.reset(key, options=self.options)

    def _counted(self, name: str, fn: Callable) -> Callable:
        def counted(*args):
            self.traces[name] += 1  # a Python side effect: runs once per trace
            return fn(*args)

        return counted

    # -- the rollout ---------------------------------------------------------

    def _sample_actions(self) -> list[Any] | None:
        spec = self.env.action_spec()
        keys = jax.random.split(self.action_key, self.num_steps)
        try:
            batch = jax.vmap(spec.sample)(keys)
            return [jax.tree.map(lambda x, i=i: x[i], batch) for i in range(self.num_steps)]
        except Exception as exc:
            self.out.add("specs", f"action_spec().sample(key) raised {_error(exc)}")
        try:
            value = spec.generate_value()
        except Exception as exc:
            self.out.add("specs", f"action_spec().generate_value() raised {_error(exc)}")
            return None
        return [value] * self.num_steps

    def _call(self, kind: str, fn: Callable, inputs: tuple, index: int) -> _Record | None:
        self.calls[kind] += 1
        try:
            out = fn(*inputs)
        except Exception as exc:
            self.broken = f"{kind} raised {_error(exc)} (call {index})"
            self.out.add("returns", self.broken)
            return None
        if not _is_timestep_pair(out):
            self.broken = (
                f"{kind} must return (state, TimeStep), returned {_describe_return(out)}"
            )
            self.out.add("returns", self.broken)
            return None
        record = _Record(kind, index, inputs, out[0], out[1])
        self.records.append(record)
        return record

    def rollout(self) -> None:
        """Runs the bounded random-action rollout the other checks read, recording every call."""
        actions = self._sample_actions()
        reset_keys = jax.random.split(self.rollout_key, self.num_steps + 1)
        record = self._call("reset", self.jit_reset, (reset_keys[0],), 0)
        if record is None or actions is None:
            if actions is None:
                self.broken = "no action could be sampled from action_spec()"
            return
        resets = 1
        for i in range(self.num_steps):
            if not self.auto_reset and np.any(_numpy(record.timestep.step_type) == 2):
                record = self._call("reset", self.jit_reset, (reset_keys[resets],), i)
                resets += 1
                if record is None:
                    return
            record = self._call("step", self.jit_step, (record.state, actions[i]), i)
            if record is None:
                return

    # -- checks on the recorded rollout ---------------------------------------

    def _unrun(self, *checks: str) -> bool:
        if self.records and self.broken is None:
            return False
        reason = f"not checked: the rollout failed ({self.broken or 'no records'})"
        for check in checks:
            self.out.add(check, reason)
        return True

    def check_records(self) -> None:
        """The checks on the recorded rollout: specs, step types, discounts,
        finiteness, scan safety, state key."""
        if self._unrun("specs", "step_types", "discount_range", "finite", "scan_safe", "state_key"):
            return
        env, add = self.env, self.out.add
        spec_of = {}
        for field in ("observation", "reward", "discount"):
            try:
                spec_of[field] = getattr(env, f"{field}_spec")()
            except Exception as exc:
                add("specs", f"{field}_spec() raised {_error(exc)}")
        action_spec = env.action_spec()
        previous = None
        first_reset = self.records[0]
        seen: set[tuple[str, str]] = set()  # report each distinct problem once

        def once(check: str, what: str, message: str) -> None:
            if (check, what) not in seen:
                seen.add((check, what))
                add(check, message)

        # One vmapped `contains` per spec finds the suspects; `validate` explains them.
        suspects = {
            field: _nonconforming(spec, [getattr(r.timestep, field) for r in self.records])
            for field, spec in spec_of.items()
        }
        steps = [r for r in self.records if r.kind == "step"]
        bad_actions = _nonconforming(action_spec, [r.inputs[1] for r in steps])
        for i in bad_actions:
            problem = _conforms(action_spec, steps[i].inputs[1])
            if problem:
                once("specs", "action" + problem,
                     f"a sampled action does not conform to action_spec(): {problem}")
        for n, rec in enumerate(self.records):
            ts, where = rec.timestep, f"{rec.kind} (call {rec.index})"
            for field, spec in spec_of.items():
                problem = _conforms(spec, getattr(ts, field)) if n in suspects[field] else None
                if problem:
                    once("specs", field + problem,
                         f"{where}: {field} does not conform to {field}_spec(): {problem}")
            self._check_step_type(rec, previous, where)
            discount = [_numpy(x) for x in jax.tree.leaves(ts.discount)]
            for value in discount:
                if np.any((value < 0) | (value > 1)) or not np.all(np.isfinite(value)):
                    add("discount_range", f"{where}: discount {value.tolist()} is outside [0, 1]")
            leaves, _ = _flatten("timestep", ts)
            for name, leaf in leaves.items():
                value = _numpy(leaf)
                if np.issubdtype(value.dtype, np.inexact) and not np.all(np.isfinite(value)):
                    add("finite", f"{where}: {name} is not finite: {value.ravel()[:4].tolist()}")
            if rec.kind == "step":
                diffs = structure_diffs(
                    (first_reset.state, first_reset.timestep), (rec.state, ts), "(state, timestep)"
                )
                for diff in diffs:
                    once("scan_safe", diff, f"reset and {where} return different pytrees: {diff}")
            previous = rec
        self._check_state_key(first_reset.state)

    def _check_step_type(self, rec: _Record, previous: _Record | None, where: str) -> None:
        add = self.out.add
        step_type = rec.timestep.step_type
        if jnp.result_type(step_type) != jnp.int8:
            add("step_types", f"{where}: step_type has dtype {jnp.result_type(step_type)}, "
                "expected int8 (StepType values)")
        st = _numpy(step_type)
        if not np.all(np.isin(st, (0, 1, 2))):
            add("step_types", f"{where}: step_type {st.tolist()} is not a StepType value")
            return
        if rec.kind == "reset":
            if np.any(st != 0):
                add("step_types", f"{where}: reset returned step_type "
                    f"{[_NAMES[int(x)] for x in st.ravel()]}, expected FIRST")
            reward = [_numpy(x) for x in jax.tree.leaves(rec.timestep.reward)]
            discount = [_numpy(x) for x in jax.tree.leaves(rec.timestep.discount)]
            if any(np.any(r != 0) for r in reward) or any(np.any(d != 1) for d in discount):
                add("step_types", f"{where}: reset must return reward 0 and discount 1 "
                    f"(jit_env.restart), got {[r.tolist() for r in reward]} and "
                    f"{[d.tolist() for d in discount]}")
            return
        prev = _numpy(previous.timestep.step_type) if previous is not None else np.zeros_like(st)
        prev, st = np.broadcast_arrays(prev, st)
        if self.auto_reset:
            legal = np.where(prev == 2, st == 0, True)
            rule = "after LAST an auto-resetting step must return FIRST"
        else:
            legal = st != 0
            rule = "step must return MID or LAST (FIRST only comes from reset)"
        if not np.all(legal):
            bad = np.argwhere(~legal.reshape(-1))[0, 0]
            add("step_types", f"{where}: step returned {_NAMES[int(st.ravel()[bad])]} after "
                f"{_NAMES[int(prev.ravel()[bad])]}: {rule}")

    def _check_state_key(self, state: Any) -> None:
        # The rule the auto-reset wrappers apply (`jit_env._pytrees.key_of`): a top-level
        # attribute `key`, or the entry "key" of a dict state, holding a PRNG key.
        try:
            key = key_of(state)
        except TypeError as exc:
            self.out.add("state_key", str(exc))
            return
        raw = hasattr(key, "dtype") and key.dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,)
        if not (_is_key(key) or raw):
            self.out.add(
                "state_key",
                f"state.key is not a PRNG key: got {_signature(key)} (expected a typed key "
                "or a legacy uint32[2] key)",
            )

    def check_traces(self) -> None:
        """The ``single_trace`` check: the jitted step traces once over the whole rollout."""
        if self._unrun("single_trace"):
            return
        for kind in ("reset", "step"):
            if self.traces[kind] <= 1:
                continue
            hint = ""
            inputs = [r.inputs for r in self.records if r.kind == kind]
            for a, b in zip(inputs, inputs[1:]):
                diffs = structure_diffs(a, b, "inputs", weak=True)
                if diffs:
                    hint = f"; first change between calls: {'; '.join(diffs[:3])}"
                    break
            self.out.add("single_trace", f"the jitted {kind} was traced {self.traces[kind]} "
                         f"times over {self.calls[kind]} calls (it recompiles because the "
                         f"shapes or dtypes it is given change){hint}")

    # -- checks that call the environment again --------------------------------

    def _eager_samples(self) -> list[_Record]:
        steps = [r for r in self.records if r.kind == "step"]
        picks = {0, len(steps) - 1} | set(range(min(len(steps), _MAX_EAGER_STEPS // 2)))
        picks |= set(np.linspace(0, len(steps) - 1, _MAX_EAGER_STEPS // 2).astype(int).tolist())
        lasts = [i for i, r in enumerate(steps) if np.any(_numpy(r.timestep.step_type) == 2)]
        picks |= set(lasts[:1])
        return [steps[i] for i in sorted(picks) if 0 <= i < len(steps)]

    def check_eager(self) -> None:
        """The ``jit_equals_eager`` check: eager steps equal the recorded jitted ones."""
        if self._unrun("jit_equals_eager", "purity"):
            return
        env, add = self.env, self.out.add
        first = self.records[0]
        samples = self._eager_samples()
        outputs = []
        try:
            reset_out = self._reset(*first.inputs)
            outputs.append(("reset", first, reset_out))
            for rec in samples:
                outputs.append((f"step (call {rec.index})", rec, env.step(*rec.inputs)))
        except Exception as exc:
            add("jit_equals_eager", f"the eager call raised {_error(exc)} (jitted did not)")
            add("purity", "not checked: the eager call raised (see jit_equals_eager)")
            return
        for where, rec, out in outputs:
            if not _is_timestep_pair(out):
                add("jit_equals_eager", f"eager {where} returned {_describe_return(out)}")
                continue
            for diff in value_diffs((rec.state, rec.timestep), out, "(state, timestep)",
                                    rtol=self.rtol, atol=self.atol):
                add("jit_equals_eager", f"jitted and eager {where} differ (jitted vs eager): "
                    f"{diff}")
        # Purity: the same call twice gives bit-identical outputs and leaves the
        # environment's Python attributes alone.
        before = _fingerprint(env)
        try:
            again = [self._reset(*first.inputs)]
            again += [env.step(*rec.inputs) for rec in samples[:3]]
        except Exception as exc:
            add("purity", f"calling again with the same inputs raised {_error(exc)}")
            return
        for (where, _, out), repeat in zip(outputs, again):
            for diff in value_diffs(out, repeat, "(state, timestep)", rtol=0.0, atol=0.0):
                add("purity", f"{where} called twice with the same inputs gave different "
                    f"outputs (a hidden Python state or side effect): {diff}")
        after = _fingerprint(env)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if changed:
            add("purity", f"reset/step changed the environment's Python attributes {changed} "
                "(side effects are lost under jax.jit)")

    def check_vmap(self) -> None:
        """The ``vmap_equals_loop`` check: a vmapped batch equals single environments."""
        if self._unrun("vmap_equals_loop"):
            return
        env, add, n = self.env, self.out.add, self.batch_size
        horizon = min(2, self.num_steps)
        keys = jax.random.split(self.vmap_key, n + 1)
        action_key, reset_keys = keys[0], keys[1:]
        spec = env.action_spec()

        # Eager vmap (no jit): op-by-op batching costs less than compiling one more
        # program. It is compared with a loop of the already-compiled jitted calls,
        # each element continuing from its own unbatched state; slicing is done on
        # host copies so that it compiles nothing either.
        def episode(key, action_keys):  # reset + `horizon` steps
            state, timestep = self._reset(key)
            outputs, actions = [(state, timestep)], []
            for t in range(horizon):  # unrolled, not scanned: shapes may change
                action = spec.sample(action_keys[t])
                state, timestep = env.step(state, action)
                outputs.append((state, timestep))
                actions.append(action)
            return outputs, actions

        try:
            flat = jax.random.split(action_key, n * horizon)
            action_keys = flat.reshape((n, horizon, *flat.shape[1:]))  # legacy keys: [..., 2]
            outputs, actions = _host(jax.vmap(episode)(reset_keys, action_keys))
        except Exception as exc:
            add("vmap_equals_loop", f"vmapped reset/step raised {_error(exc)}")
            return
        take = lambda tree, i: jax.tree.map(lambda x: x[i], tree)
        for i in range(n):
            single = self.jit_reset(reset_keys[i])
            for t, batched in enumerate(outputs):
                if t > 0:
                    single = self.jit_step(single[0], take(actions[t - 1], i))
                where = "reset" if t == 0 else f"step {t}"
                for diff in value_diffs(_host(single), take(batched, i), "(state, timestep)",
                                        rtol=self.rtol, atol=self.atol):
                    add("vmap_equals_loop", f"vmapped {where} of batch element {i} differs "
                        f"from the unbatched call (unbatched vs vmapped): {diff}")
                if np.any(_numpy(single[1].step_type) == 2):
                    break  # stepping on after LAST is undefined

    def check_key_impls(self, seed: int) -> None:
        """The ``key_impls`` check: reset and step work with every JAX key
        implementation (keys made from ``seed``)."""
        if self._unrun("key_impls"):
            return
        env = self.env
        keys = {
            "legacy uint32 (jax.random.PRNGKey)": jax.random.PRNGKey(seed),
            "typed threefry2x32": jax.random.key(seed, impl="threefry2x32"),
            "typed rbg": jax.random.key(seed, impl="rbg"),
            "typed unsafe_rbg": jax.random.key(seed, impl="unsafe_rbg"),
        }
        step_rec = next((r for r in self.records if r.kind == "step"), None)
        for name, key in keys.items():
            try:
                state, _ = self._reset(key)
                if step_rec is not None:
                    env.step(state, step_rec.inputs[1])
            except Exception as exc:
                self.out.add("key_impls", f"reset/step with a {name} key raised {_error(exc)}")

    def check_render(self) -> None:
        """The ``render`` check: ``render`` returns ``uint8 [H, W, 3]`` (skipped
        without a renderer)."""
        if self._unrun("render"):
            return
        states = [self.records[0].state]
        states += [r.state for r in self.records[1:] if r.kind == "step"][:1]
        # Jitted first: one compilation costs less than rendering op by op. A
        # renderer that cannot be traced (NumPy, a plotting library) is fine too:
        # it is then called eagerly.
        render: Callable[[Any], Any] = jax.jit(self.env.render)
        shapes = set()
        for state in states:
            try:
                try:
                    image = render(state)
                except NotImplementedError:
                    raise
                except Exception:  # not jittable: try it as it is
                    render = self.env.render
                    image = render(state)
            except NotImplementedError as exc:
                self.out.skipped["render"] = f"render is not implemented ({_error(exc)})"
                return
            except Exception as exc:
                self.out.add("render", f"render raised {_error(exc)}")
                return
            dtype = getattr(image, "dtype", None)
            shape = tuple(np.shape(image))
            if dtype is None or np.dtype(dtype) != np.uint8:
                self.out.add("render", f"render returned dtype {dtype}, expected uint8")
            if len(shape) != 3 or shape[-1] != 3:
                self.out.add("render", f"render returned shape {shape}, expected [H, W, 3] (RGB)")
            shapes.add(shape)
        if len(shapes) > 1:
            self.out.add("render", f"render's image shape changes between states: {sorted(shapes)}")
