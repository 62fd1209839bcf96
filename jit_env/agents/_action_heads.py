"""Action heads: the policy distribution of an action spec of categorical and Gaussian leaves.

`make_action_head(action_spec, mask_spec)` turns an environment's action spec into an
`ActionHead`: how many outputs the policy network needs and how those outputs (a flat
vector ``[..., size]``, plus a state-independent log-std vector ``[log_std_size]`` when
some leaf is continuous) become a distribution with ``sample``, ``logprob``,
``entropy``, ``kl`` and ``mode``. The agents (PPO, recurrent PPO, A2C, REINFORCE,
IMPALA) call it instead of choosing between ``softmax`` and ``gaussian_diagonal``
themselves.

Leaves (the primitive specs of a `jit_env.specs.Tuple` / `Dict` action, or the action
spec itself):

- `DiscreteArray` of any shape ``S`` (scalar: one categorical; shape ``(k,)``: gymnasium's
  ``MultiDiscrete``, one independent categorical per element, ``num_values`` may differ
  per element): ``prod(S) * n`` logits, ``n = max(num_values)``; the values an element
  does not have are given probability 0 exactly as masked actions are (below).
- floating `Array` / `BoundedArray` of any shape ``S``: a diagonal Gaussian, ``prod(S)``
  means from the network and ``prod(S)`` state-independent log-stds (CleanRL
  ``ppo_continuous_action.py``'s ``actor_logstd``). How bounds are honoured is
  ``gaussian_bound``:

  * ``"clip"`` (default): ``sample`` returns the *unclipped* Gaussian draw and
    ``logprob`` is its Gaussian density; the environment clips when stepping (the
    training stack's `jit_env.wrappers.ClipAction` for a single bounded action, as
    CleanRL's ``gym.wrappers.ClipAction``; an environment with a composite action must
    clip itself). ``mode`` is the mean clipped to the bounds (SB3
    ``BasePolicy.predict``).
  * ``"tanh"``: ``a = low + (high − low) (tanh(u) + 1) / 2`` with ``u`` Gaussian, so
    samples lie inside finite bounds; ``logprob(a) = log N(u) − Σ log|da/du|`` with
    ``log(1 − tanh²u) = 2 (log 2 − u − softplus(−2u))`` and ``u = atanh`` of ``a``
    rescaled to [−1, 1] and clipped to ``±(1 − ε)``, ε the float32 machine epsilon
    (Stable-Baselines3 ``stable_baselines3/common/distributions.py``,
    ``TanhBijector`` and ``SquashedDiagGaussianDistribution``; Haarnoja et al. 2018,
    appendix C). ``entropy`` is the entropy of the Gaussian ``u`` (the squashed
    entropy has no closed form; SB3 returns ``None`` there), ``kl`` is exact (KL is
    invariant under the same bijection), ``mode`` is the squashed mean. A leaf without
    finite bounds stays an unsquashed Gaussian.

A composite action is the *product* of its independent leaves (rlx
``rlx/policy.py`` ``ActionDistribution(*distribs)``): ``sample`` draws each leaf with
its own key (``jax.random.split(key, n_leaves)``, leaves in pytree order) and returns
the action tree (a tuple or dict like the spec); ``logprob``, ``entropy`` and ``kl``
are sums over leaves (and over the elements of each leaf). With a single leaf the
key is used as is, so a scalar `DiscreteArray` head is exactly `jit_env.ops.softmax`
and a float ``(A,)`` head exactly `jit_env.ops.gaussian_diagonal` (same samples for
the same key).

Action masks (one convention). An environment with illegal actions makes its
observation a `specs.Dict` holding the mask under ``"action_mask"`` (`MASK_KEY`) and
the rest under any other keys, conventionally ``"observation"``: jumanji's
observations carry an ``action_mask`` field, and Stoa's ``AddActionMaskWrapper``
builds exactly ``{"observation": obs, "action_mask": mask}`` (adzcai/Stoa
``stoa/core_wrappers/wrapper.py``). Mask entries are bool, **True = legal**, Pgx's
``legal_action_mask`` semantics (``pgx/core.py``: ``is_illegal =
~state.legal_action_mask[action]``). For a categorical leaf of shape ``S`` with ``n``
values the mask is bool ``[*S, n]`` (``[n]`` for a scalar action); for a `Dict`
action the mask is a `Dict` over some of its categorical keys. Masked logits become
``finfo(float32).min`` (jumanji ``jumanji/training/networks/snake/actor_critic.py``:
``jnp.where(observation.action_mask, logits, jnp.finfo(jnp.float32).min)``), so a
masked action has probability exactly 0 whenever one action is legal: it is never
sampled, never the mode, and adds 0 to the entropy (`jit_env.ops.softmax`'s entropy
skips ``p = 0`` terms). A row with *no* legal action becomes uniform over all
actions (all logits equal), which is what Pgx avoids by making the mask all True at
terminal states. `split_observation_spec` / `split_observation` take the mask out of
the observation before the network sees it.

All functions are pure and jittable; parameters may carry any leading batch shape,
so ``vmap`` is needed only to map keys.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jit_env import ops, specs

MASK_KEY = "action_mask"
"""The observation key of an action mask (jumanji / Stoa ``action_mask``)."""

GAUSSIAN_BOUNDS = ("clip", "tanh")
"""The ways a Gaussian leaf honours its bounds (see the module docstring)."""

_MASKED_LOGIT = float(np.finfo(np.float32).min)
_EPS = float(np.finfo(np.float32).eps)
_LOG2 = math.log(2.0)


def _path_name(path: Any) -> str:
    return "action" + "".join(str(k) for k in path)


def _sum_trailing(x: jax.Array, rank: int) -> jax.Array:
    return jnp.sum(x, axis=tuple(range(x.ndim - rank, x.ndim))) if rank else x


@dataclasses.dataclass(frozen=True)
class _Categorical:
    """One `DiscreteArray` leaf: independent categoricals over the elements of ``shape``."""

    name: str
    shape: tuple[int, ...]
    num: int  # logits per element (the largest num_values)
    valid: np.ndarray | None  # [*shape, num] bool, None when every element has ``num`` values
    dtype: Any
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape) * self.num

    def logits(self, flat: jax.Array, mask: jax.Array | None) -> jax.Array:
        lead = flat.shape[:-1]
        logits = flat[..., self.offset:self.offset + self.size]
        if self.shape:
            logits = logits.reshape(lead + self.shape + (self.num,))
        want = lead + self.shape + (self.num,)
        legal = None if self.valid is None else jnp.broadcast_to(self.valid, want)
        if mask is not None:
            if tuple(mask.shape) != want or mask.dtype != jnp.bool_:
                raise ValueError(
                    f"the action mask of `{self.name}` has shape {tuple(mask.shape)} and dtype "
                    f"{mask.dtype}, expected bool {want} (batch {lead} + action shape "
                    f"{self.shape} + {self.num} values)"
                )
            legal = mask if legal is None else jnp.logical_and(mask, legal)
        if legal is not None:
            logits = jnp.where(legal, logits, jnp.asarray(_MASKED_LOGIT, logits.dtype))
        return logits

    def sample(self, key, logits):
        return ops.softmax().sample(key, logits).astype(self.dtype)

    def logprob(self, action, logits):
        return _sum_trailing(ops.softmax().logprob(action, logits), len(self.shape))

    def entropy(self, logits):
        return _sum_trailing(ops.softmax().entropy(logits), len(self.shape))

    def kl(self, p_logits, q_logits):
        log_p = jax.nn.log_softmax(p_logits, axis=-1)
        log_q = jax.nn.log_softmax(q_logits, axis=-1)
        p = jnp.exp(log_p)
        terms = jnp.where(p > 0, p * (log_p - log_q), jnp.zeros_like(p))
        return _sum_trailing(jnp.sum(terms, axis=-1), len(self.shape))

    def mode(self, logits):
        return jnp.argmax(logits, axis=-1).astype(self.dtype)


@dataclasses.dataclass(frozen=True)
class _Gaussian:
    """One floating leaf: a diagonal Gaussian over ``prod(shape)`` numbers, maybe tanh-squashed."""

    name: str
    shape: tuple[int, ...]
    low: np.ndarray | None  # [D] float32, None when unbounded
    high: np.ndarray | None
    squash: bool
    dtype: Any
    offset: int
    log_std_offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def params(self, flat: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = flat[..., self.offset:self.offset + self.size]
        std = jnp.exp(log_std[self.log_std_offset:self.log_std_offset + self.size])
        return mean, jnp.broadcast_to(std, mean.shape)

    def _to_event(self, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[:-1] + self.shape) if self.shape != (self.size,) else x

    def _from_event(self, a: Any) -> jax.Array:
        a = jnp.asarray(a, jnp.float32)
        rank = len(self.shape)
        if tuple(a.shape[a.ndim - rank:]) != self.shape:
            raise ValueError(
                f"`{self.name}` has shape {tuple(a.shape)}, expected (..., *{self.shape})"
            )
        return a.reshape(a.shape[:a.ndim - rank] + (self.size,))

    def _bounds(self, like: jax.Array) -> tuple[jax.Array, jax.Array]:
        assert self.low is not None
        assert self.high is not None
        return jnp.broadcast_to(self.low, like.shape), jnp.broadcast_to(self.high, like.shape)

    def _squash(self, u):
        low, high = self._bounds(u)
        return low + (high - low) * (jnp.tanh(u) + 1.0) * 0.5

    def sample(self, key, params):
        u = ops.gaussian_diagonal().sample(key, *params)
        return self._to_event(self._squash(u) if self.squash else u).astype(self.dtype)

    def logprob(self, action, params):
        x = self._from_event(action)
        if not self.squash:
            return ops.gaussian_diagonal().logprob(x, *params)
        low, high = self._bounds(x)
        half = (high - low) * 0.5
        y = jnp.clip((x - low) / half - 1.0, -1.0 + _EPS, 1.0 - _EPS)
        u = jnp.arctanh(y)
        log_det = jnp.log(half) + 2.0 * (_LOG2 - u - jax.nn.softplus(-2.0 * u))
        return ops.gaussian_diagonal().logprob(u, *params) - jnp.sum(log_det, axis=-1)

    def entropy(self, params):
        return ops.gaussian_diagonal().entropy(*params)

    def kl(self, p, q):
        return ops.gaussian_diagonal().kl(p[0], p[1], q[0], q[1])

    def mode(self, params):
        mean = params[0]
        if self.squash:
            mean = self._squash(mean)
        elif self.low is not None and self.high is not None:
            mean = jnp.clip(mean, *self._bounds(mean))
        return self._to_event(mean).astype(self.dtype)


def _leaf(name: str, spec: Any, offset: int, log_std_offset: int, gaussian_bound: str):
    if isinstance(spec, specs.DiscreteArray):
        shape = tuple(int(s) for s in spec.shape)
        values = np.broadcast_to(np.asarray(spec.num_values), shape)
        num = int(values.max()) if values.size else 1
        valid = np.arange(num) < values[..., None]
        return _Categorical(name, shape, num, None if valid.all() else valid, spec.dtype, offset)
    if isinstance(spec, specs.Array) and jnp.issubdtype(spec.dtype, jnp.floating):
        shape = tuple(int(s) for s in spec.shape)
        low = high = None
        if isinstance(spec, specs.BoundedArray):
            low = np.broadcast_to(np.asarray(spec.minimum, np.float32), shape).reshape(-1)
            high = np.broadcast_to(np.asarray(spec.maximum, np.float32), shape).reshape(-1)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                low = high = None
        squash = gaussian_bound == "tanh" and low is not None
        return _Gaussian(name, shape, low, high, squash, spec.dtype, offset, log_std_offset)
    raise ValueError(
        f"`{name}` has spec {spec!r}: an action head supports DiscreteArray (categorical, "
        "any shape) and floating Array/BoundedArray (Gaussian) leaves only"
    )


@dataclasses.dataclass(frozen=True)
class ActionHead:
    """The policy distribution of an action spec (see the module docstring).

    Build it with `make_action_head`. ``head`` below is what the policy network
    returns: the flat outputs ``[..., size]`` float32, or ``(flat, log_std
    [log_std_size])`` when `continuous` (the layout of
    `jit_env.agents.networks.ActorCritic`). ``mask`` is the mask tree of
    `split_observation` (``None`` without a mask spec).

    Attributes:
      spec: the action spec.
      size: number of policy-network outputs.
      log_std_size: number of state-independent log-stds (0: no Gaussian leaf).
      masked: whether the head expects a mask.
      leaves: the per-leaf heads, in pytree order (private layout).
      treedef: pytree structure of the action.
      mask_leaves: for each leaf, the key of its mask in the mask tree, ``()`` for
        the whole mask, or ``None`` for no mask.
    """

    spec: Any
    size: int
    log_std_size: int
    masked: bool
    leaves: tuple[Any, ...]
    treedef: Any
    mask_leaves: tuple[Any, ...]

    @property
    def continuous(self) -> bool:
        """Whether the network must also return a log-std vector."""
        return self.log_std_size > 0

    @property
    def plain_softmax(self) -> bool:
        """A bare scalar, unmasked categorical (no Tuple/Dict around it): `jit_env.ops.softmax`."""
        leaf = self.leaves[0]
        return (jax.tree_util.treedef_is_leaf(self.treedef) and isinstance(leaf, _Categorical)
                and leaf.shape == () and leaf.valid is None and not self.masked)

    def _split(self, head: Any) -> tuple[jax.Array, jax.Array | None]:
        if self.continuous:
            flat, log_std = head
            return flat, log_std
        return head, None

    def _mask(self, mask: Any, i: int) -> jax.Array | None:
        key = self.mask_leaves[i]
        if key is None:
            return None
        if mask is None:
            raise ValueError("this action head was built with a mask spec: pass `mask`")
        return mask if key == () else mask[key]

    def params(self, head: Any, mask: Any = None) -> tuple[Any, ...]:
        """Per-leaf distribution parameters: masked logits, or Gaussian ``(mean [..., D], std)``.

        Raises:
          ValueError: if a mask has the wrong shape or dtype (names the leaf and the
            expected ``[*batch, *S, n]`` bool shape), or is missing.
        """
        flat, log_std = self._split(head)
        if flat.shape[-1] != self.size:
            raise ValueError(
                f"the policy head has {flat.shape[-1]} outputs, expected {self.size} for "
                f"{self.spec!r}"
            )
        out = []
        for i, leaf in enumerate(self.leaves):
            if isinstance(leaf, _Categorical):
                out.append(leaf.logits(flat, self._mask(mask, i)))
            else:
                out.append(leaf.params(flat, log_std))
        return tuple(out)

    def sample(self, key: jax.Array, head: Any, mask: Any = None) -> Any:
        """An action tree (``[..., *S]`` per leaf); one key per leaf (the key itself if one)."""
        params = self.params(head, mask)
        keys = [key] if len(self.leaves) == 1 else list(jax.random.split(key, len(self.leaves)))
        values = [leaf.sample(k, p) for leaf, k, p in zip(self.leaves, keys, params)]
        return jax.tree.unflatten(self.treedef, values)

    def _actions(self, action: Any) -> list[Any]:
        try:
            return self.treedef.flatten_up_to(action)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"`action` has structure {jax.tree.structure(action)}, expected "
                f"{self.treedef} for {self.spec!r}"
            ) from e

    def logprob(self, action: Any, head: Any, mask: Any = None) -> jax.Array:
        """``log π(action)`` ``[...]`` float32: the sum over leaves and their elements."""
        params = self.params(head, mask)
        actions = self._actions(action)
        return _total([leaf.logprob(a, p) for leaf, a, p in zip(self.leaves, actions, params)])

    def entropy(self, head: Any, mask: Any = None) -> jax.Array:
        """Entropy ``[...]`` float32 in nats (a tanh leaf counts its Gaussian's entropy)."""
        params = self.params(head, mask)
        return _total([leaf.entropy(p) for leaf, p in zip(self.leaves, params)])

    def kl(self, head_p: Any, head_q: Any, mask: Any = None) -> jax.Array:
        """``KL(π_p ‖ π_q)`` ``[...]`` float32, both heads under the same ``mask``."""
        p = self.params(head_p, mask)
        q = self.params(head_q, mask)
        return _total([leaf.kl(a, b) for leaf, a, b in zip(self.leaves, p, q)])

    def mode(self, head: Any, mask: Any = None) -> Any:
        """The greedy action tree: each leaf's argmax / (clipped or squashed) mean."""
        params = self.params(head, mask)
        modes = [leaf.mode(p) for leaf, p in zip(self.leaves, params)]
        return jax.tree.unflatten(self.treedef, modes)


def _total(terms: list[jax.Array]) -> jax.Array:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def make_action_head(
    action_spec: specs.Spec,
    mask_spec: specs.Spec | None = None,
    *,
    gaussian_bound: str = "clip",
    algo: str = "the agent",
) -> ActionHead:
    """The `ActionHead` of ``action_spec`` (see the module docstring).

    Args:
      action_spec: a `DiscreteArray`, a floating `Array`/`BoundedArray`, or a
        `specs.Tuple` / `specs.Dict` (nested) of them.
      mask_spec: the spec of the action mask (`split_observation_spec`), or ``None``:
        a bool `Array` ``[*S, n]`` for a single categorical action, a `specs.Dict`
        over categorical keys of a `Dict` action.
      gaussian_bound: ``"clip"`` or ``"tanh"``.
      algo: name used in error messages.

    Raises:
      ValueError: for an unsupported leaf (names its path and spec), a `Batched`
        spec, a mask spec that does not fit (names the leaf, expected and actual
        shape), or an unknown ``gaussian_bound``.
    """
    if gaussian_bound not in GAUSSIAN_BOUNDS:
        raise ValueError(
            f"`gaussian_bound` must be one of {list(GAUSSIAN_BOUNDS)}, got {gaussian_bound!r}"
        )
    if isinstance(action_spec, specs.Batched):
        raise ValueError(f"{algo}: the action spec must be unbatched, got {action_spec!r}")
    paths_and_specs, treedef = jax.tree_util.tree_flatten_with_path(action_spec)
    leaves: list[Any] = []
    offset = log_std_offset = 0
    for path, spec in paths_and_specs:
        try:
            leaf = _leaf(_path_name(path), spec, offset, log_std_offset, gaussian_bound)
        except ValueError as e:
            raise ValueError(f"{algo}: {e}") from None
        leaves.append(leaf)
        offset += leaf.size
        if isinstance(leaf, _Gaussian):
            log_std_offset += leaf.size
    mask_leaves = _mask_layout(action_spec, paths_and_specs, leaves, mask_spec, algo)
    # The structure of action *values* (plain dicts / tuples), not of the spec's nodes.
    value_treedef = jax.tree.structure(jax.tree.unflatten(treedef, [0] * len(leaves)))
    return ActionHead(action_spec, offset, log_std_offset, mask_spec is not None,
                      tuple(leaves), value_treedef, mask_leaves)


def _check_mask_leaf(leaf: Any, spec: Any, where: str, algo: str) -> None:
    if not isinstance(leaf, _Categorical):
        raise ValueError(f"{algo}: {where} masks `{leaf.name}`, which is not a DiscreteArray")
    want = leaf.shape + (leaf.num,)
    if not isinstance(spec, specs.Array) or spec.dtype != np.bool_ or tuple(spec.shape) != want:
        raise ValueError(
            f"{algo}: {where} must be a bool Array of shape {want} for `{leaf.name}` "
            f"({leaf.num} values), got {spec!r}"
        )


def _mask_layout(action_spec, paths_and_specs, leaves, mask_spec, algo) -> tuple[Any, ...]:
    if mask_spec is None:
        return (None,) * len(leaves)
    where = f"observation[{MASK_KEY!r}]"
    if len(leaves) == 1 and not isinstance(action_spec, specs.Tree):
        _check_mask_leaf(leaves[0], mask_spec, where, algo)
        return ((),)
    if isinstance(action_spec, specs.Dict) and isinstance(mask_spec, specs.Dict):
        actions = action_spec.as_spec_struct()
        masks = mask_spec.as_spec_struct()
        unknown = sorted(set(masks) - set(actions), key=repr)
        if unknown:
            raise ValueError(f"{algo}: {where} has keys {unknown} that the action Dict lacks")
        layout: list[Any] = []
        for (path, _), leaf in zip(paths_and_specs, leaves):
            key = path[0].key if len(path) == 1 else None
            if key in masks:
                _check_mask_leaf(leaf, masks[key], f"{where}[{key!r}]", algo)
                layout.append(key)
            else:
                layout.append(None)
        nested = [k for k in masks if k not in layout]
        if nested:
            raise ValueError(f"{algo}: {where} keys {nested} name nested action entries")
        return tuple(layout)
    raise ValueError(
        f"{algo}: an action mask needs a single DiscreteArray action (mask bool [*S, n]) or a "
        f"Dict action with a Dict mask over its categorical keys; got action {action_spec!r} "
        f"and mask {mask_spec!r}"
    )


def split_observation_spec(observation_spec: specs.Spec) -> tuple[specs.Spec, specs.Spec | None]:
    """``(observation spec the network sees, mask spec or None)``.

    A `specs.Dict` observation with a `MASK_KEY` entry loses it; if one entry is
    left, that entry's spec is returned alone (so ``Dict(observation=Array((D,)),
    action_mask=...)`` gives ``Array((D,))``), otherwise a `specs.Dict` of the rest.
    Any other spec is returned unchanged with ``None``.

    Raises:
      ValueError: if the mask is the observation's only entry.
    """
    if not isinstance(observation_spec, specs.Dict):
        return observation_spec, None
    entries = observation_spec.as_spec_struct()
    if MASK_KEY not in entries:
        return observation_spec, None
    rest = {k: v for k, v in entries.items() if k != MASK_KEY}
    if not rest:
        raise ValueError(f"the observation holds only {MASK_KEY!r}: nothing for the network")
    inner = next(iter(rest.values())) if len(rest) == 1 else specs.Dict(rest)
    return inner, entries[MASK_KEY]


def split_observation(observation: Any, masked: bool) -> tuple[Any, Any]:
    """``(network input, mask)`` of an observation, split as `split_observation_spec` splits specs.

    ``masked=False`` returns ``(observation, None)`` untouched.
    """
    if not masked:
        return observation, None
    rest = {k: v for k, v in observation.items() if k != MASK_KEY}
    inner = next(iter(rest.values())) if len(rest) == 1 else rest
    return inner, observation[MASK_KEY]
