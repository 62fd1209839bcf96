"""Flax (linen) networks for the bundled agents.

Linen modules are pure ``init`` / ``apply`` pairs, so parameters vmap over seeds
and a whole training step jits. Initialisation follows the PPO implementation
details of Huang et al. 2022 ("The 37 Implementation Details of Proximal Policy
Optimization", details 2–3): orthogonal weights with gain √2 in hidden layers,
0.01 for the policy head and 1 for the value head, zero biases. The orthogonal
matrices come from `orthogonal_kernels` (matrix products only, same law as
flax's QR-based initialiser), because jaxlib's batched CPU QR can deadlock
under ``vmap`` over seeds; one call draws a whole network's kernels, so an
agent's ``init`` compiles one PRNG kernel and one loop instead of one per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "elu": nn.elu}


def activation_fn(name: str):
    """The activation called ``name`` (``tanh``, ``relu``, ``gelu``, ``elu``).

    Raises:
      ValueError: for any other name.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]


def network_problems(hidden_sizes, activation: str) -> list[str]:
    """Config problems of an MLP's ``hidden_sizes`` and ``activation`` (empty if usable).

    For the configs' ``problems()``: every width in ``hidden_sizes`` must be
    positive (empty means no hidden layer), ``activation`` one of
    `activation_fn`'s names.
    """
    problems = []
    if any(h <= 0 for h in hidden_sizes):
        problems.append(f"`hidden_sizes` must be positive, got {hidden_sizes}")
    try:
        activation_fn(activation)
    except ValueError as e:
        problems.append(str(e))
    return problems


_NEWTON_SCHULZ_ITERATIONS = 60


def orthogonal_kernels(
    key: jax.Array, shapes: Sequence[tuple[int, int]], gains: Sequence[float]
) -> list[jax.Array]:
    """Several orthogonal matrices from one Gaussian draw and one iteration loop.

    Matrix ``i`` is ``gains[i]`` times the orthogonal factor of a standard
    Gaussian ``shapes[i]`` matrix: orthonormal columns when it is tall, rows when
    it is wide — the law of `flax.linen.initializers.orthogonal` (Saxe et al.
    2014; Haar on the Stiefel manifold). The factor is the *polar* one, from
    60 Newton–Schulz iterations ``X ← 1.5 X − 0.5 X Xᵀ X`` started at
    ``X = A / ‖A‖_F`` (Higham, "Functions of Matrices", 2008, §8.3): matrix
    products only. All matrices come from one flat ``jax.random.normal`` draw,
    shaped ``[L, m, n]`` and masked to each matrix's block (a zero block stays
    zero under the iteration, so the padding changes nothing); a
    network's initialisation thus compiles one PRNG kernel and one loop instead
    of one per layer, which is most of an agent's ``init`` compile time.

    Why not QR: jaxlib's CPU QR (``lapack_sorgqr_ffi``) parallelises a
    *batched* QR over XLA's intra-op thread pool and waits on it from a pool
    thread; when ``vmap`` over seeds batches the QRs of 128-wide layers, every
    pool thread waits and the program deadlocks (seen with jaxlib 0.10.2 on a
    CPU with few cores). Matrix products cannot deadlock that way.

    Args:
      key: PRNG key.
      shapes: ``(rows, cols)`` of each matrix, positive ints.
      gains: one multiplier per matrix.

    Returns:
      float32 matrices of ``shapes``, orthonormal columns (or rows) times the
      gain, to float32 rounding.

    Raises:
      ValueError: if ``shapes`` and ``gains`` differ in length, or a shape is
        not two positive ints.
    """
    dims = [tuple(int(d) for d in shape) for shape in shapes]
    if len(dims) != len(gains):
        raise ValueError(f"got {len(dims)} `shapes` but {len(gains)} `gains`")
    for shape in dims:
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"each of `shapes` must be two positive ints, got {shape}")
    tall = [(max(shape), min(shape)) for shape in dims]
    rows = max(m for m, _ in tall)
    cols = max(n for _, n in tall)
    mask = np.zeros((len(tall), rows, cols), np.float32)
    for i, (m, n) in enumerate(tall):
        mask[i, :m, :n] = 1.0
    stack = jax.random.normal(key, (mask.size,), jnp.float32).reshape(mask.shape) * mask
    x0 = stack / jnp.sqrt(jnp.sum(jnp.square(stack), axis=(1, 2), keepdims=True))

    def newton_schulz(_, x):
        return 1.5 * x - 0.5 * x @ (jnp.swapaxes(x, 1, 2) @ x)

    polar = jax.lax.fori_loop(0, _NEWTON_SCHULZ_ITERATIONS, newton_schulz, x0)
    out = []
    for i, ((m, n), shape, gain) in enumerate(zip(tall, dims, gains)):
        q = polar[i, :m, :n]
        out.append(gain * (q if shape == (m, n) else q.T))
    return out


def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """An orthogonal initialiser (Saxe et al. 2014) that needs no LAPACK call.

    Like `flax.linen.initializers.orthogonal` (same shapes, same law), built on
    `orthogonal_kernels` (one matrix). Used where a flax module takes a
    ``kernel_init``; `MLP` initialises all its layers at once instead.

    Args:
      scale: gain multiplying the orthogonal matrix.
      column_axis: axis of the kernel holding the output features.

    Returns:
      ``init(key, shape, dtype=float32) -> [*shape]`` array whose
      ``(prod(other axes), shape[column_axis])`` matrix has orthonormal columns
      (or rows, when it is wide), times ``scale``, to float32 rounding.

    Raises:
      ValueError: for a shape of rank < 2.
    """

    def init(key, shape, dtype=jnp.float32):
        if len(shape) < 2:
            raise ValueError(f"orthogonal initialiser needs a shape of rank >= 2, got {shape}")
        n_cols = shape[column_axis]
        n_rows = int(np.prod(shape)) // n_cols
        (q,) = orthogonal_kernels(key, [(n_rows, n_cols)], [scale])
        q = q.reshape(tuple(np.delete(shape, column_axis)) + (n_cols,))
        return jnp.moveaxis(q, -1, column_axis).astype(dtype)

    return init


def _precomputed(kernel: jax.Array):
    """A ``kernel_init`` that returns ``kernel`` (computed beforehand by `orthogonal_kernels`)."""

    def init(key, shape, dtype=jnp.float32):
        del key
        if tuple(shape) != kernel.shape:
            raise ValueError(f"kernel of shape {kernel.shape} cannot initialise {tuple(shape)}")
        return kernel.astype(dtype)

    return init


class MLP(nn.Module):
    """A multilayer perceptron with orthogonal initialisation.

    ``init`` draws all layers' kernels with one `orthogonal_kernels` call (gain
    √2 for hidden layers, ``output_gain`` for the last), unless the caller
    passes ``kernels``; biases start at zero.

    Attributes:
      hidden_sizes: widths of the hidden layers.
      output_size: width of the output layer.
      activation: name of the hidden activation.
      output_gain: orthogonal-initialisation gain of the output layer.
    """

    hidden_sizes: Sequence[int]
    output_size: int
    activation: str = "tanh"
    output_gain: float = 1.0

    def kernel_shapes(self, input_size: int) -> list[tuple[int, int]]:
        """``(fan_in, fan_out)`` of each layer's kernel for ``input_size`` inputs."""
        sizes = (*self.hidden_sizes, self.output_size)
        return list(zip((input_size, *sizes[:-1]), sizes))

    def kernel_gains(self) -> list[float]:
        """The orthogonal-initialisation gain of each layer: √2 hidden, ``output_gain`` last."""
        return [float(np.sqrt(2.0))] * len(self.hidden_sizes) + [self.output_gain]

    @nn.compact
    def __call__(self, x: jax.Array, kernels: Sequence[jax.Array] | None = None) -> jax.Array:
        """``x [..., D] -> [..., output_size]`` float32.

        ``kernels``: initial kernels from `orthogonal_kernels` (used only by
        ``init``; a parent module passes them to share one draw between
        several MLPs). Without them, ``init`` draws this MLP's own.
        """
        act = activation_fn(self.activation)
        sizes = (*self.hidden_sizes, self.output_size)
        if not self.is_initializing():
            kernels = None
        elif kernels is None:
            kernels = orthogonal_kernels(
                self.make_rng("params"), self.kernel_shapes(x.shape[-1]), self.kernel_gains()
            )
        for i, size in enumerate(sizes):
            x = nn.Dense(
                size,
                kernel_init=nn.initializers.zeros if kernels is None else _precomputed(kernels[i]),
                bias_init=nn.initializers.zeros,
            )(x)
            if i < len(self.hidden_sizes):
                x = act(x)
        return x


class ActorCritic(nn.Module):
    """Separate policy and value MLPs on a flat observation.

    ``__call__(observation [..., D] float32) -> (policy_params, value [...])``,
    where ``policy_params`` is the logits ``[..., num_actions]`` for a discrete
    policy, or ``(mean [..., A], log_std [A])`` for a diagonal Gaussian.
    ``init`` draws the kernels of both MLPs in one `orthogonal_kernels` call
    (policy head gain 0.01, value head 1, hidden √2: Huang et al. 2022).

    Attributes:
      action_size: number of discrete actions, or dimension of a continuous action.
      continuous: Gaussian policy instead of a categorical one.
      hidden_sizes: hidden widths of both networks.
      activation: hidden activation name.
      log_std_size: when ``continuous``, the length of ``log_std`` (default
        ``None``: ``action_size``); a composite action head
        (`jit_env.agents.make_action_head`) has ``action_size`` outputs of which
        only its Gaussian leaves need a log-std.
    """

    action_size: int
    continuous: bool = False
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    log_std_size: int | None = None

    def setup(self):
        """Builds the submodules (flax ``setup``)."""
        self.actor = MLP(self.hidden_sizes, self.action_size, self.activation, 0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, 1.0)
        if self.continuous:
            size = self.action_size if self.log_std_size is None else self.log_std_size
            self.log_std = self.param("log_std", nn.initializers.zeros, (size,))

    def __call__(self, observation: jax.Array):
        x = observation.astype(jnp.float32)
        actor_kernels = critic_kernels = None
        if self.is_initializing():  # one draw and one loop for both networks
            shapes = self.actor.kernel_shapes(x.shape[-1])
            gains = self.actor.kernel_gains()
            n = len(shapes)
            kernels = orthogonal_kernels(
                self.make_rng("params"),
                shapes + self.critic.kernel_shapes(x.shape[-1]),
                gains + self.critic.kernel_gains(),
            )
            actor_kernels, critic_kernels = kernels[:n], kernels[n:]
        head = self.actor(x, actor_kernels)
        value = self.critic(x, critic_kernels)[..., 0]
        if self.continuous:
            return (head, self.log_std), value
        return head, value

    def value(self, observation: jax.Array) -> jax.Array:
        """Only the critic: ``observation [..., D] -> value [...]`` float32."""
        return self.critic(observation.astype(jnp.float32))[..., 0]


_CELLS = ("lstm", "gru")


def recurrent_cell(name: str):
    """The flax recurrent cell class called ``name``: ``lstm`` or ``gru``.

    ``lstm`` is `flax.linen.OptimizedLSTMCell` (Hochreiter & Schmidhuber 1997,
    with a forget gate), ``gru`` is `flax.linen.GRUCell` (Cho et al. 2014).

    Raises:
      ValueError: for any other name.
    """
    if name == "lstm":
        return nn.OptimizedLSTMCell
    if name == "gru":
        return nn.GRUCell
    raise ValueError(f"`cell` must be one of {list(_CELLS)}, got {name!r}")


def initial_carry(cell: str, size: int, batch_shape: tuple[int, ...]):
    """The zero state of a recurrent cell: what an episode starts from.

    Args:
      cell: ``lstm`` or ``gru``.
      size: number of units.
      batch_shape: leading batch shape, e.g. ``(B,)`` or ``()``.

    Returns:
      ``(c, h)``, each ``[*batch_shape, size]`` float32, for ``lstm``; ``h``
      ``[*batch_shape, size]`` float32 for ``gru`` (the carry layouts of the flax
      cells).

    Raises:
      ValueError: for an unknown ``cell``.
    """
    recurrent_cell(cell)
    zeros = jnp.zeros((*batch_shape, size), jnp.float32)
    return (zeros, zeros) if cell == "lstm" else zeros


class RecurrentActorCritic(nn.Module):
    """A recurrent actor-critic: MLP encoder → LSTM/GRU cell → policy and value heads.

    One call is one time step (the rollout and `Trajectory.evaluate` scan over
    time and reset the carry at episode starts):
    ``__call__(carry, observation [..., D]) -> (carry, policy_params, value [...])``,
    where ``policy_params`` is as for `ActorCritic` (logits ``[..., num_actions]``
    or ``(mean [..., A], log_std [A])``) and ``carry`` is laid out as by
    `initial_carry`. The encoder output feeds the cell, whose output feeds
    separate actor and critic MLPs — the layout of PureJaxRL's
    ``ActorCriticRNN`` (``ppo_rnn.py``), with CleanRL's orthogonal
    initialisation of the dense layers (the cell keeps flax's initialisers).

    Attributes:
      action_size: number of discrete actions, or dimension of a continuous action.
      continuous: Gaussian policy instead of a categorical one.
      hidden_sizes: widths of the encoder layers before the cell (may be empty).
      rnn_size: units of the recurrent cell.
      head_sizes: hidden widths of the actor and critic MLPs after the cell.
      cell: ``lstm`` or ``gru``.
      activation: hidden activation name.
      log_std_size: when ``continuous``, the length of ``log_std`` (``None``:
        ``action_size``), as for `ActorCritic`.
    """

    action_size: int
    continuous: bool = False
    hidden_sizes: Sequence[int] = (128,)
    rnn_size: int = 128
    head_sizes: Sequence[int] = (128,)
    cell: str = "lstm"
    activation: str = "tanh"
    log_std_size: int | None = None

    def setup(self):
        """Builds the submodules (flax ``setup``)."""
        self.encoder = [
            nn.Dense(size, kernel_init=orthogonal(np.sqrt(2.0)),
                     bias_init=nn.initializers.zeros)
            for size in self.hidden_sizes
        ]
        self.rnn = recurrent_cell(self.cell)(self.rnn_size, recurrent_kernel_init=orthogonal())
        self.actor = MLP(self.head_sizes, self.action_size, self.activation, 0.01)
        self.critic = MLP(self.head_sizes, 1, self.activation, 1.0)
        if self.continuous:
            size = self.action_size if self.log_std_size is None else self.log_std_size
            self.log_std = self.param("log_std", nn.initializers.zeros, (size,))

    def _core(self, carry, observation: jax.Array):
        x = observation.astype(jnp.float32)
        act = activation_fn(self.activation)
        for layer in self.encoder:
            x = act(layer(x))
        return self.rnn(carry, x)

    def __call__(self, carry, observation: jax.Array):
        carry, x = self._core(carry, observation)
        head = self.actor(x)
        value = self.critic(x)[..., 0]
        if self.continuous:
            return carry, (head, self.log_std), value
        return carry, head, value

    def value(self, carry, observation: jax.Array) -> jax.Array:
        """One step of the cell from ``carry`` on ``observation [..., D]``, then only the critic.

        Returns ``value [...]`` float32: the value of ``observation`` given the
        recurrent state before it (used to bootstrap from a final observation).
        """
        _, x = self._core(carry, observation)
        return self.critic(x)[..., 0]
