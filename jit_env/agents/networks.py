"""Flax (linen) networks for the bundled agents.

Linen modules are pure ``init`` / ``apply`` pairs, so parameters vmap over seeds
and a whole training step jits. Initialisation follows the PPO implementation
details of Huang et al. 2022 ("The 37 Implementation Details of Proximal Policy
Optimization", details 2–3): orthogonal weights with gain √2 in hidden layers,
0.01 for the policy head and 1 for the value head, zero biases.
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
                size, kernel_init=nn.initializers.orthogonal(np.sqrt(2.0)),
                bias_init=nn.initializers.zeros,
            )(x)
            x = act(x)
        return nn.Dense(
            self.output_size, kernel_init=nn.initializers.orthogonal(self.output_gain),
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
