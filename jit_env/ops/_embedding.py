"""Input embeddings for recurrent agents (rlax 0.1.9 ``embedding`` family)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jit_env.ops._base import validate


def embed_oar(
    features: jax.Array, action: jax.Array, reward: jax.Array, num_actions: int
) -> jax.Array:
    """Concatenates observation features, the one-hot action and ``tanh(reward)``.

    The usual input of a recurrent core that sees its previous action and reward
    (R2D2, NGU, Agent57): ``[features, one_hot(action), tanh(reward)]``.

    Args:
      features: ``[B, D]`` observation features, floating.
      action: ``[B]`` previous actions, integer in ``[0, num_actions)``.
      reward: ``[B]`` previous rewards, floating.
      num_actions: the size of the one-hot encoding.

    Returns:
      ``[B, D + num_actions + 1]``, the dtype ``jnp.concatenate`` promotes
      ``features``, the float32 one-hot and ``reward`` to.

    Raises:
      ValueError: if a rank is wrong or the batch sizes differ.

    Matches rlax 0.1.9 ``rlax.embed_oar`` (``rlax/_src/embedding.py``); Kapturowski
    et al., "Recurrent Experience Replay in Distributed RL", ICLR 2019, §2.3.
    """
    fn = "embed_oar"
    validate(fn, ("features", features, 2, "numeric"), ("action", action, 1, "int"),
             ("reward", reward, 1, "numeric"))
    sizes = {"features": features.shape[0], "action": action.shape[0], "reward": reward.shape[0]}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{fn}: batch sizes differ: {sizes}")
    one_hot = jax.nn.one_hot(action, num_classes=num_actions)
    return jnp.concatenate([features, one_hot, jnp.tanh(reward)[:, None]], axis=-1)
