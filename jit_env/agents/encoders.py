"""Observation encoders: from an observation spec to the torso the agents' heads read.

An environment's observation may be one array or a pytree of arrays (a
`jit_env.specs.Dict` / `Tuple` / `Tree` spec, e.g. ``{"pos": int32[2], "goal":
int32[2]}``). `plan_encoder` decides, leaf by leaf and once per spec, how each
leaf is read:

- ``"flat"``: cast to float32 and flattened to ``[..., prod(shape)]``;
- ``"cnn"``: an image ``[H, W, C]`` read by a `CNN` (convolutions, then flattened).

`encode_observation` concatenates the flat leaves (in the spec's pytree order)
when no leaf needs a CNN, a pure function with no parameters: the agents then
run their usual `jit_env.agents.networks.ActorCritic` on it, so a single flat
``Array`` observation goes through exactly the computation it always did
(a reshape and a float32 cast). When a leaf is an image, `EncodedActorCritic`
puts an `ObservationEncoder` (one `CNN` per image leaf, the flat leaves
concatenated after the CNN features) in front of each of the actor and critic
MLPs.

Which torso (``torso`` = ``"auto"`` | ``"mlp"`` | ``"cnn"``):

- ``"auto"`` (the default): a CNN for every rank-3 leaf, flatten the others;
- ``"mlp"``: flatten every leaf, images included (gymnax-blines' MinAtar PPO:
  ``network_name: "Categorical-MLP"`` with ``flatten_3d: True``, two hidden
  layers of 256, ``agents/Breakout-MinAtar/ppo.yaml``);
- ``"cnn"``: as ``"auto"``, but a spec with no rank-3 leaf is an error.

The CNN's defaults follow Stoix's ``stoix/configs/network/cnn.yaml`` (its
MinAtar / gymnax network): two convolutions of 32 channels, 3×3 kernels,
stride 1, SiLU activations, flattened and followed by the policy or value MLP,
with *separate* torsos for the actor and the critic (``actor_network.pre_torso``
and ``critic_network.pre_torso`` are two `CNNTorso` instances). Separate
torsos also keep the bundled agents' separate actor and critic MLPs (the
SB3 / CleanRL ``MlpPolicy`` layout) unchanged. Padding is flax's ``"SAME"``
(Stoix's ``nn.Conv`` default, ``stoix/networks/torso.py``), kernels are
orthogonal with gain √2 (Stoix's ``CNNTorso.kernel_init``; Huang et al. 2022,
detail 2) and biases zero. SiLU is also the activation of MinAtar's own
actor-critic (``examples/AC_lambda.py``, one 16-channel 3×3 convolution and a
128-unit layer). Leaves are cast to float32 and never rescaled (an ``uint8``
image arrives as 0…255; MinAtar's channels are 0/1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jit_env import specs
from jit_env.agents.networks import MLP, ActorCritic, orthogonal

TORSOS = ("auto", "mlp", "cnn")
"""The torso choices of `plan_encoder` (the agents' ``torso`` config field)."""

_CNN_ACTIVATIONS = {"silu": nn.silu, "relu": nn.relu, "tanh": nn.tanh, "elu": nn.elu,
                    "gelu": nn.gelu}


def encoder_problems(torso: str, cnn_channels: Sequence[int], cnn_kernel_size: int,
                     cnn_stride: int, cnn_activation: str) -> list[str]:
    """Config problems of the encoder fields (empty if usable), for the configs' ``problems()``.

    ``torso`` must be one of `TORSOS`; ``cnn_channels`` a non-empty tuple of
    positive ints; ``cnn_kernel_size`` and ``cnn_stride`` positive ints;
    ``cnn_activation`` one of ``silu``, ``relu``, ``tanh``, ``elu``, ``gelu``.
    """
    problems = []
    if torso not in TORSOS:
        problems.append(f"`torso` must be one of {list(TORSOS)}, got {torso!r}")
    if not cnn_channels or any(int(c) <= 0 for c in cnn_channels):
        problems.append(f"`cnn_channels` must be non-empty and positive, got {cnn_channels}")
    for name, value in (("cnn_kernel_size", cnn_kernel_size), ("cnn_stride", cnn_stride)):
        if value <= 0:
            problems.append(f"`{name}` must be positive, got {value}")
    if cnn_activation not in _CNN_ACTIVATIONS:
        problems.append(f"`cnn_activation` must be one of {sorted(_CNN_ACTIVATIONS)}, "
                        f"got {cnn_activation!r}")
    return problems


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """The observation-encoder fields of the bundled agents' configs (a mixin).

    ``PPOConfig``, ``DQNConfig`` and the actor-critic configs list it before
    `TrainingConfig` in their bases, so these fields follow the training-run
    fields, and call `torso_problems` from their ``problems()``.

    Attributes:
      torso: how observations are read before the MLPs: ``"auto"`` (a CNN for
        rank-3 ``[H, W, C]`` leaves, the other leaves flattened and
        concatenated), ``"mlp"`` (every leaf flattened) or ``"cnn"``
        (`plan_encoder`).
      cnn_channels: channels of the CNN's convolutions (`CNN`; Stoix ``cnn.yaml``:
        32, 32).
      cnn_kernel_size: side of its square kernels (3).
      cnn_stride: stride of its convolutions (1).
      cnn_activation: its activation (``silu``, as Stoix's and MinAtar's).
    """

    torso: str = "auto"
    cnn_channels: tuple[int, ...] = (32, 32)
    cnn_kernel_size: int = 3
    cnn_stride: int = 1
    cnn_activation: str = "silu"

    def torso_problems(self) -> list[str]:
        """`encoder_problems` of these fields (empty if usable)."""
        return encoder_problems(self.torso, self.cnn_channels, self.cnn_kernel_size,
                                self.cnn_stride, self.cnn_activation)


class EncoderPlan(NamedTuple):
    """How each leaf of an observation is read (built by `plan_encoder`; static).

    Attributes:
      treedef: the pytree structure of an (unbatched) observation.
      shapes: the shape of each leaf, in ``treedef`` order.
      kinds: ``"flat"`` or ``"cnn"`` per leaf.
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    kinds: tuple[str, ...]

    @property
    def uses_cnn(self) -> bool:
        """Whether some leaf is read by a CNN (then the network has an encoder)."""
        return "cnn" in self.kinds

    @property
    def flat_size(self) -> int:
        """Total size ``D`` of the flattened (``"flat"``) leaves."""
        return sum(math.prod(s) for s, k in zip(self.shapes, self.kinds) if k == "flat")

    def leaves(self, observation: Any) -> tuple[list[jax.Array], tuple[int, ...]]:
        """``(leaves, batch_shape)`` of an observation with any leading batch axes.

        Raises:
          ValueError: if ``observation``'s structure differs from the spec's, a
            leaf's trailing axes differ from its spec's shape, or the leaves'
            leading (batch) axes differ from one another.
        """
        try:
            leaves = self.treedef.flatten_up_to(observation)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`observation` does not have the observation spec's structure "
                             f"{self.treedef}: {e}") from None
        batch: tuple[int, ...] | None = None
        for i, (leaf, shape) in enumerate(zip(leaves, self.shapes)):
            leaf_shape = tuple(jnp.shape(leaf))
            n = len(leaf_shape) - len(shape)
            if n < 0 or leaf_shape[n:] != shape:
                raise ValueError(f"`observation` leaf {i} has shape {leaf_shape}, expected "
                                 f"[..., {', '.join(map(str, shape))}] (its spec's shape)")
            if batch is None:
                batch = leaf_shape[:n]
            elif leaf_shape[:n] != batch:
                raise ValueError(f"`observation` leaf {i} has batch axes {leaf_shape[:n]}, "
                                 f"expected {batch} like leaf 0")
        return [jnp.asarray(x) for x in leaves], batch or ()

    def example(self) -> Any:
        """An unbatched float32 zero observation (for ``init``)."""
        return self.treedef.unflatten([jnp.zeros(s, jnp.float32) for s in self.shapes])


def _is_leaf_spec(spec: Any) -> bool:
    return isinstance(spec, specs.Array)


def _leaf_specs(obs_spec: specs.Spec) -> tuple[Any, list[str], list[Any]]:
    """``(value treedef, leaf paths, leaf specs)`` of an observation spec, in pytree order."""
    leaves = jax.tree.leaves(obs_spec, is_leaf=_is_leaf_spec)
    values = jax.tree.map(lambda _: 0, obs_spec, is_leaf=_is_leaf_spec)
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(values)
    paths = [jax.tree_util.keystr(p) or "observation" for p, _ in with_paths]
    return treedef, paths, leaves


def plan_encoder(obs_spec: specs.Spec, torso: str = "auto", *, algo: str = "agent") -> EncoderPlan:
    """Decides how each leaf of ``obs_spec`` is read: flattened, or by a CNN.

    Args:
      obs_spec: the (unbatched) observation spec: one numeric `specs.Array`
        (any subclass) or a composite (`specs.Dict`, `specs.Tuple`, `specs.Tree`)
        of them.
      torso: ``"auto"`` (CNN for rank-3 ``[H, W, C]`` leaves, flatten the
        others), ``"mlp"`` (flatten every leaf) or ``"cnn"`` (as ``"auto"``,
        requiring at least one rank-3 leaf).
      algo: the agent's name, for error messages.

    Returns:
      The `EncoderPlan`.

    Raises:
      ValueError: for an unknown ``torso``; ``torso="cnn"`` with no rank-3 leaf;
        a leaf that is not a numeric `specs.Array` (a `specs.Batched` spec, a
        string or PRNG-key dtype) or has a zero-size shape (names the leaf).
    """
    if torso not in TORSOS:
        raise ValueError(f"`torso` must be one of {list(TORSOS)}, got {torso!r}")
    treedef, paths, leaves = _leaf_specs(obs_spec)
    if not leaves:
        raise ValueError(f"{algo}: the observation spec has no leaves: {obs_spec!r}")
    shapes, kinds, problems = [], [], []
    for path, leaf in zip(paths, leaves):
        if not isinstance(leaf, specs.Array):
            problems.append(f"{path} is a {type(leaf).__name__} ({leaf!r}); only array specs "
                            "can be encoded")
            continue
        dtype = np.dtype(leaf.dtype) if not jax.dtypes.issubdtype(
            leaf.dtype, jax.dtypes.prng_key) else None
        if dtype is None or dtype.kind not in "biuf":
            problems.append(f"{path} has dtype {leaf.dtype}; only bool, integer and float "
                            "leaves can be encoded")
            continue
        shape = tuple(int(d) for d in leaf.shape)
        if math.prod(shape) == 0:
            problems.append(f"{path} has zero-size shape {shape}")
            continue
        shapes.append(shape)
        kinds.append("cnn" if torso != "mlp" and len(shape) == 3 else "flat")
    if problems:
        raise ValueError(f"{algo} cannot encode the observation spec: " + "; ".join(problems))
    if torso == "cnn" and "cnn" not in kinds:
        raise ValueError(f"{algo}: `torso`='cnn' needs an image leaf of rank 3 [H, W, C]; the "
                         f"observation spec's leaves have shapes {shapes}")
    return EncoderPlan(treedef, tuple(shapes), tuple(kinds))


def encode_observation(plan: EncoderPlan, observation: Any) -> jax.Array:
    """The flat leaves of ``observation``, cast to float32 and concatenated: ``[..., D]``.

    For a plan without CNN leaves this is the whole encoding (no parameters):
    leaf ``i`` of shape ``[*batch, *shapes[i]]`` becomes ``[*batch,
    prod(shapes[i])]`` and the leaves are concatenated on the last axis in the
    spec's pytree order (sorted keys for a dict, as ``jax.tree.leaves``).

    Args:
      plan: the `EncoderPlan`.
      observation: a pytree with the plan's structure; leaves ``[*batch, *shape]``.

    Returns:
      float32 ``[*batch, D]`` with ``D = plan.flat_size``.

    Raises:
      ValueError: as `EncoderPlan.leaves`, or if the plan has a CNN leaf.
    """
    if plan.uses_cnn:
        raise ValueError("encode_observation flattens only; this plan has CNN leaves "
                         "(use ObservationEncoder)")
    leaves, batch = plan.leaves(observation)
    parts = [x.astype(jnp.float32).reshape(batch + (math.prod(s),))
             for x, s in zip(leaves, plan.shapes)]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)


class CNN(nn.Module):
    """Convolutions over an image, flattened: ``[..., H, W, C] -> [..., H' W' channels[-1]]``.

    Each layer is ``nn.Conv(channels[i], (k, k), (s, s), padding="SAME")``
    followed by the activation; kernels orthogonal (gain √2), biases zero
    (Stoix ``stoix/networks/torso.py`` ``CNNTorso`` without its MLP, which here
    is the actor's or critic's `MLP`). With stride 1 the output has
    ``H · W · channels[-1]`` features; with stride ``s`` each layer maps a side
    ``n`` to ``ceil(n / s)``.

    Attributes:
      channels: output channels of each convolution.
      kernel_size: side of the square kernels.
      stride: stride of every convolution.
      activation: ``silu``, ``relu``, ``tanh``, ``elu`` or ``gelu``.
    """

    channels: Sequence[int] = (32, 32)
    kernel_size: int = 3
    stride: int = 1
    activation: str = "silu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim < 3:
            raise ValueError(f"CNN needs an image [..., H, W, C], got shape {x.shape}")
        act = _CNN_ACTIVATIONS[self.activation]
        lead = x.shape[:-3]
        x = x.astype(jnp.float32)
        for c in self.channels:
            x = act(nn.Conv(int(c), (self.kernel_size,) * 2, (self.stride,) * 2, padding="SAME",
                            kernel_init=orthogonal(float(np.sqrt(2.0))),
                            bias_init=nn.initializers.zeros)(x))
        return x.reshape(lead + (math.prod(x.shape[-3:]),))


class ObservationEncoder(nn.Module):
    """Reads an observation pytree into one feature vector ``[..., F]`` float32.

    Image leaves (``plan.kinds[i] == "cnn"``) go through their own `CNN`, the
    other leaves are flattened; the parts are concatenated in the spec's pytree
    order. ``F`` is the CNN features plus ``plan.flat_size``.

    Attributes:
      plan: the `EncoderPlan` (`plan_encoder`).
      channels, kernel_size, stride, activation: the `CNN`'s.
    """

    plan: EncoderPlan
    channels: Sequence[int] = (32, 32)
    kernel_size: int = 3
    stride: int = 1
    activation: str = "silu"

    @nn.compact
    def __call__(self, observation: Any) -> jax.Array:
        leaves, batch = self.plan.leaves(observation)
        parts = []
        for i, (x, shape, kind) in enumerate(zip(leaves, self.plan.shapes, self.plan.kinds)):
            if kind == "cnn":
                parts.append(CNN(self.channels, self.kernel_size, self.stride, self.activation,
                                 name=f"cnn_{i}")(x))
            else:
                parts.append(x.astype(jnp.float32).reshape(batch + (math.prod(shape),)))
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)


class EncodedActorCritic(nn.Module):
    """`ActorCritic` with an `ObservationEncoder` torso in front of each of its MLPs.

    ``__call__(observation) -> (policy_params, value [...])`` and
    ``value(observation) -> value [...]`` as `jit_env.agents.networks.ActorCritic`,
    on an observation pytree with leading batch axes. The actor and the critic
    each have their own encoder (Stoix ``stoix/configs/network/cnn.yaml``:
    separate ``pre_torso`` for the actor and the critic network); the MLP heads
    are `MLP` with gains 0.01 (policy) and 1 (value), √2 hidden.

    Attributes:
      plan: the `EncoderPlan`.
      action_size, continuous, hidden_sizes, activation: as `ActorCritic`.
      channels, kernel_size, stride, cnn_activation: the encoders' `CNN`.
      log_std_size: as `ActorCritic` (``None``: ``action_size``).
    """

    plan: EncoderPlan
    action_size: int
    continuous: bool = False
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    channels: Sequence[int] = (32, 32)
    kernel_size: int = 3
    stride: int = 1
    cnn_activation: str = "silu"
    log_std_size: int | None = None

    def setup(self):
        """Builds the submodules (flax ``setup``)."""
        cnn = (self.channels, self.kernel_size, self.stride, self.cnn_activation)
        self.actor_encoder = ObservationEncoder(self.plan, *cnn)
        self.critic_encoder = ObservationEncoder(self.plan, *cnn)
        self.actor = MLP(self.hidden_sizes, self.action_size, self.activation, 0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, 1.0)
        if self.continuous:
            size = self.action_size if self.log_std_size is None else self.log_std_size
            self.log_std = self.param("log_std", nn.initializers.zeros, (size,))

    def __call__(self, observation: Any):
        head = self.actor(self.actor_encoder(observation))
        value = self.critic(self.critic_encoder(observation))[..., 0]
        if self.continuous:
            return (head, self.log_std), value
        return head, value

    def value(self, observation: Any) -> jax.Array:
        """Only the critic: ``value [...]`` float32."""
        return self.critic(self.critic_encoder(observation))[..., 0]


class EncodedNetwork(NamedTuple):
    """A network for an observation spec (`make_actor_critic_network`, `make_mlp_network`).

    Attributes:
      module: for `make_actor_critic_network`, `jit_env.agents.networks.ActorCritic`
        (no CNN leaf) or `EncodedActorCritic`: ``module.apply(params,
        prepare(obs))`` is ``(policy_params, value)`` and ``module.apply(params,
        prepare(obs), method="value")`` the value alone; for `make_mlp_network`,
        `jit_env.agents.networks.MLP` or `EncodedMLP`.
      prepare: ``prepare(observation) -> module input``: `encode_observation`
        (float32 ``[..., D]``) without CNN leaves, the observation itself with.
      example: an unbatched module input for ``module.init``.
      plan: the `EncoderPlan`.
    """

    module: nn.Module
    prepare: Callable[[Any], Any]
    example: Any
    plan: EncoderPlan


def make_actor_critic_network(config: Any, obs_spec: specs.Spec, action_size: int,
                              continuous: bool, *, algo: str,
                              log_std_size: int | None = None) -> EncodedNetwork:
    """The actor-critic network the bundled agents build for ``obs_spec``.

    Args:
      config: a config with ``hidden_sizes``, ``activation``, ``torso``,
        ``cnn_channels``, ``cnn_kernel_size``, ``cnn_stride``, ``cnn_activation``
        (`jit_env.agents.PPOConfig`, the actor-critic family's configs).
      obs_spec: the unbatched observation spec.
      action_size: number of discrete actions, or the continuous action's size.
      continuous: Gaussian policy head instead of logits.
      algo: the agent's name, for error messages.
      log_std_size: when ``continuous``, the length of the state-independent
        ``log_std`` (``None``: ``action_size``; a composite action head's
        Gaussian leaves, `jit_env.agents.make_action_head`).

    Returns:
      The `EncodedNetwork`. Without CNN leaves its module is the plain
      `ActorCritic` on the concatenated flat leaves (for one flat ``Array``
      observation: the same parameters and outputs as before encoders existed).

    Raises:
      ValueError: as `plan_encoder`.
    """
    plan = plan_encoder(obs_spec, config.torso, algo=algo)
    if not plan.uses_cnn:
        module: nn.Module = ActorCritic(action_size, continuous, tuple(config.hidden_sizes),
                                        config.activation, log_std_size=log_std_size)
        return EncodedNetwork(module, lambda obs: encode_observation(plan, obs),
                                  encode_observation(plan, plan.example()), plan)
    module = EncodedActorCritic(
        plan, action_size, continuous, tuple(config.hidden_sizes), config.activation,
        tuple(config.cnn_channels), config.cnn_kernel_size, config.cnn_stride,
        config.cnn_activation, log_std_size,
    )
    return EncodedNetwork(module, lambda obs: obs, plan.example(), plan)


class EncodedMLP(nn.Module):
    """An `ObservationEncoder` torso, then an `MLP`: ``observation -> [..., output_size]``.

    The Q-network of DQN for observations with image leaves (the encoder as in
    `EncodedActorCritic`, one MLP head of ``output_gain``).

    Attributes:
      plan: the `EncoderPlan`.
      hidden_sizes, output_size, activation, output_gain: the `MLP`'s.
      channels, kernel_size, stride, cnn_activation: the encoder's `CNN`.
    """

    plan: EncoderPlan
    hidden_sizes: Sequence[int]
    output_size: int
    activation: str = "relu"
    output_gain: float = 1.0
    channels: Sequence[int] = (32, 32)
    kernel_size: int = 3
    stride: int = 1
    cnn_activation: str = "silu"

    @nn.compact
    def __call__(self, observation: Any) -> jax.Array:
        x = ObservationEncoder(self.plan, self.channels, self.kernel_size, self.stride,
                               self.cnn_activation, name="encoder")(observation)
        return MLP(self.hidden_sizes, self.output_size, self.activation, self.output_gain,
                   name="mlp")(x)


def make_mlp_network(config: Any, obs_spec: specs.Spec, output_size: int, output_gain: float,
                     *, algo: str) -> EncodedNetwork:
    """`make_actor_critic_network` for a single-output network (DQN's Q-network).

    Without CNN leaves the module is `MLP` (``config.hidden_sizes``,
    ``config.activation``) on `encode_observation`; with, `EncodedMLP`.

    Returns:
      An `EncodedNetwork` (``module``, ``prepare``, ``example``, ``plan``);
      ``module.apply(params, prepare(obs))`` is ``[..., output_size]`` float32.

    Raises:
      ValueError: as `plan_encoder`.
    """
    plan = plan_encoder(obs_spec, config.torso, algo=algo)
    if not plan.uses_cnn:
        module: nn.Module = MLP(tuple(config.hidden_sizes), output_size, config.activation,
                                output_gain)
        return EncodedNetwork(module, lambda obs: encode_observation(plan, obs),
                                  encode_observation(plan, plan.example()), plan)
    module = EncodedMLP(plan, tuple(config.hidden_sizes), output_size, config.activation,
                        output_gain, tuple(config.cnn_channels), config.cnn_kernel_size,
                        config.cnn_stride, config.cnn_activation)
    return EncodedNetwork(module, lambda obs: obs, plan.example(), plan)
