"""Flax (linen) networks for the bundled agents.

Linen modules are pure ``init`` / ``apply`` pairs, so parameters vmap over seeds
and a whole training step jits. Initialisation follows the PPO implementation
details of Huang et al. 2022 ("The 37 Implementation Details of Proximal Policy
Optimization", details 2–3): orthogonal weights with gain √2 in hidden layers,
0.01 for the policy head and 1 for the value head, zero biases. The orthogonal
matrices come from `orthogonal` (matrix products only, same law as flax's
QR-based initialiser), because jaxlib's batched CPU QR can deadlock under
``vmap`` over seeds.
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

def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """An orthogonal initialiser (Saxe et al. 2014) that needs no LAPACK call.

    Like `flax.linen.initializers.orthogonal` (same shapes, same Haar-distributed
    law: the orthogonal factor of a standard Gaussian matrix), but the factor is
    the *polar* one, computed with 60 Newton–Schulz iterations
    ``X ← 1.5 X − 0.5 X Xᵀ X`` from ``X = A / ‖A‖_F`` (Higham, "Functions of
    Matrices", 2008, §8.3), i.e. matrix products only. jaxlib's CPU QR
    (``lapack_sorgqr_ffi``) parallelises a *batched* QR over XLA's intra-op
    thread pool and waits on it from a pool thread; when ``vmap`` over seeds
    batches several independent QRs of 128-wide layers and they run at once,
    every pool thread waits and the program deadlocks (seen with jaxlib 0.10.2
    on a 2-core CPU). Matrix products cannot deadlock that way.

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
        tall = (n_rows, n_cols) if n_rows >= n_cols else (n_cols, n_rows)
        a = jax.random.normal(key, tall, jnp.float32)
        x0 = a / jnp.sqrt(jnp.sum(jnp.square(a)))  # all singular values in (0, 1]

        def newton_schulz(_, x):
            return 1.5 * x - 0.5 * x @ (x.T @ x)

        q = jax.lax.fori_loop(0, 60, newton_schulz, x0)
        if n_rows < n_cols:
            q = q.T
        q = q.reshape(tuple(np.delete(shape, column_axis)) + (n_cols,))
        return (scale * jnp.moveaxis(q, -1, column_axis)).astype(dtype)

    return init


class MLP(nn.Module):
    """A multilayer perceptron with orthogonal initialisation.

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

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.activation)
        for size in self.hidden_sizes:
            x = nn.Dense(
                size, kernel_init=orthogonal(np.sqrt(2.0)),
                bias_init=nn.initializers.zeros,
            )(x)
            x = act(x)
        return nn.Dense(
            self.output_size, kernel_init=orthogonal(self.output_gain),
            bias_init=nn.initializers.zeros,
        )(x)


class ActorCritic(nn.Module):
    """Separate policy and value MLPs on a flat observation.

    ``__call__(observation [..., D] float32) -> (policy_params, value [...])``,
    where ``policy_params`` is the logits ``[..., num_actions]`` for a discrete
    policy, or ``(mean [..., A], log_std [A])`` for a diagonal Gaussian.

    Attributes:
      action_size: number of discrete actions, or dimension of a continuous action.
      continuous: Gaussian policy instead of a categorical one.
      hidden_sizes: hidden widths of both networks.
      activation: hidden activation name.
    """

    action_size: int
    continuous: bool = False
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"

    def setup(self):
        self.actor = MLP(self.hidden_sizes, self.action_size, self.activation, 0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, 1.0)
        if self.continuous:
            self.log_std = self.param("log_std", nn.initializers.zeros, (self.action_size,))

    def __call__(self, observation: jax.Array):
        x = observation.astype(jnp.float32)
        head = self.actor(x)
        value = self.critic(x)[..., 0]
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
    """

    action_size: int
    continuous: bool = False
    hidden_sizes: Sequence[int] = (128,)
    rnn_size: int = 128
    head_sizes: Sequence[int] = (128,)
    cell: str = "lstm"
    activation: str = "tanh"

    def setup(self):
        self.encoder = [
            nn.Dense(size, kernel_init=orthogonal(np.sqrt(2.0)),
                     bias_init=nn.initializers.zeros)
            for size in self.hidden_sizes
        ]
        self.rnn = recurrent_cell(self.cell)(self.rnn_size, recurrent_kernel_init=orthogonal())
        self.actor = MLP(self.head_sizes, self.action_size, self.activation, 0.01)
        self.critic = MLP(self.head_sizes, 1, self.activation, 1.0)
        if self.continuous:
            self.log_std = self.param("log_std", nn.initializers.zeros, (self.action_size,))

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
