"""Deep Q-Networks (DQN) and its family as a functional `Agent` on the shared loop.

DQN: Mnih et al. 2015, "Human-level control through deep reinforcement
learning" (Algorithm 1: ε-greedy acting, experience replay, a target network;
``huber_delta=1`` clips the error to [-1, 1] as there, the default is CleanRL's
squared error). Options:

- ``double_q``: double DQN, van Hasselt et al. 2016, eq. 4 (the online network
  picks the next action, the target network evaluates it);
- ``n_step``: uncorrected n-step targets as in Rainbow (Hessel et al. 2018,
  eq. 2); sums stop at episode ends (a truncated episode bootstraps from its
  true final observation) and at the end of each rollout (see below);
- ``head="c51"``: categorical DQN, Bellemare et al. 2017, Algorithm 1;
- ``head="qr"``: QR-DQN, Dabney et al. 2018, Algorithm 1 (quantile Huber loss, κ
  = ``huber_delta``, 1 by default).

Every loss comes from `jit_env.ops` (``q_learning``, ``double_q_learning``,
``categorical_q_learning``, ``categorical_double_q_learning``,
``quantile_q_learning``, ``huber_loss``, ``l2_loss``, ``epsilon_greedy``,
``periodic_update``).

**On the shared loop.** One update = one rollout of ``num_steps`` steps of
``num_envs`` environments (collected with ε-greedy on the online network),
then `update`: the rollout's valid transitions are added to a circular replay
buffer (`jit_env.agents.replay`) kept with the target parameters and the
environment-step counter in ``AgentState.extra`` (`DQNExtra`); once
``learning_starts`` environment steps are done, ``num_envs * num_steps /
train_frequency`` gradient steps follow, each on ``batch_size`` uniformly
sampled transitions. The target network becomes ``tau · online + (1 − tau) ·
target`` every ``target_network_frequency`` environment steps (CleanRL's rule:
``tau = 1`` is the periodic copy of DQN; ``target_network_frequency =
train_frequency`` with a small ``tau`` is Polyak averaging). ε decays linearly
from ``start_e`` to ``end_e`` over ``exploration_fraction * total_steps``
environment steps (an optax schedule); ``act_params`` hands ``(params, ε)`` to
``act``, so evaluation also acts with the final ε (as CleanRL's ``evaluate``).
n-step sums are computed inside each rollout, so the last ``n − 1``
transitions of a rollout bootstrap earlier (fewer than ``n`` rewards).

**Defaults** are CleanRL's ``dqn.py`` / ``dqn_jax.py`` CartPole-v1 arguments
(Huang et al. 2022, "CleanRL", JMLR 23(274); CleanRL ``cleanrl/dqn_jax.py``):
Adam 2.5e-4, buffer 10,000, batch 128, γ 0.99, target copy
(``tau`` 1) every 500 steps, ε 1 → 0.05 over half of 500,000 steps, learning
from step 10,000 with one gradient step per 10 environment steps, a 120-84 ReLU
MLP. Differences: 10 environments × 10 steps per update (PureJaxRL's ``dqn.py``
steps 10 environments; CleanRL one) and orthogonal initialisation
(`networks.MLP`). The squared error ``0.5 td²`` is CleanRL's loss (``F.mse_loss``
in ``cleanrl/dqn.py``, up to a factor 2 that Adam ignores) and is the default
because under these settings the Huber loss with δ = 1 diverges — in CleanRL's
and Stable-Baselines3's code as well as here, so it is a property of the
settings, not a defect. The cause: CartPole's values (up to 1 / (1 − γ) = 100)
are far beyond δ, so nearly every TD error is in Huber's linear part and each
transition pulls its Q-value with at most δ. The only transitions that hold the
values down are the terminal ones (target ``r = 1``, no bootstrap), 1 in ~20
under the early, mostly random policy; once the Q-values grow, their large
negative errors count for no more than the positive errors of the 19 others, so
every Q-value — those of the terminal states included — keeps rising. Measured
(CartPole-v1, these defaults, 60k environment steps, 3 seeds, max |Q| over the
replay buffer): Huber δ = 1 2.0e5 / 1.9e5 / 3.0e5 (1.2e6–1.4e6 by 100k) against
108 / 124 / 95 with the squared error; Huber on every transition but the
terminal ones, which keep the squared error: 88 (first seed); CleanRL's
``dqn.py`` logic in PyTorch with ``F.smooth_l1_loss`` (2 seeds): 1.5e5 / 1.4e5
(``F.mse_loss``: 128 / 120);
Stable-Baselines3's ``DQN`` (``stable_baselines3/dqn/dqn.py``:
``F.smooth_l1_loss``, gradient norm clipped to 10; SB3 2.9.2, PyTorch 2.13.0)
with these settings: 4.6e4 / 3.9e4 (with ``mse_loss`` swapped in: 120 / 129).
δ = 10 learns like the squared error. The Huber loss does learn with the settings tuned for it:
rl-baselines3-zoo's ``hyperparams/dqn.yml`` CartPole-v1 (batch 512, buffer
100k, target copy every 5,000 steps, one gradient step per 4 environment steps,
ε 1 → 0.11 over 12k steps, a 64-64 MLP) gives training returns of 130–430 from
30k steps on and max |Q| ≤ 37 over 200k steps (2 seeds) with ``huber_delta=1``
here. ``tests/agents/test_dqn.py`` checks the jit_env measurement (at 40k
steps) and, by hand, the gradient that causes it.
The C51 support (101 atoms on [-100, 100]) is CleanRL's ``cleanrl/c51.py``
CartPole-v1 setting. What these defaults learn, and how long they take, is
measured by ``benchmarks/learning/run.py --rows dqn`` (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jit_env import ops, specs
from jit_env.agents import replay
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._config import TrainingConfig
from jit_env.agents._optimization import make_optimizer
from jit_env.agents.encoders import EncoderConfig, make_mlp_network
from jit_env.agents.networks import network_problems
from jit_env.rollout import Trajectory

HEADS = ("q", "c51", "qr")


@dataclasses.dataclass(frozen=True)
class DQNConfig(EncoderConfig, TrainingConfig):
    """Hyper-parameters of DQN and its variants, and of the training run.

    The training-run fields (``env``, ``num_envs``, ``num_steps``,
    ``total_steps``, ``gamma``, ``normalize_observations``,
    ``normalize_rewards``) are `TrainingConfig`'s, the observation-encoder fields
    (``torso``, ``cnn_*``) `jit_env.agents.encoders.EncoderConfig`'s; all step counts
    below are environment steps of one seed, all environments together.

    Attributes:
      learning_rate: Adam step size.
      buffer_size: replay capacity in transitions.
      batch_size: transitions per gradient step.
      learning_starts: environment steps before the first gradient step.
      train_frequency: environment steps per gradient step; must divide
        ``num_envs * num_steps``.
      target_network_frequency: environment steps between target updates; a
        multiple of ``train_frequency``.
      tau: target update ``tau · online + (1 − tau) · target``, in (0, 1].
      start_e: initial ε of the ε-greedy policy, in [0, 1].
      end_e: final ε, in [0, 1].
      exploration_fraction: fraction of ``total_steps`` over which ε decays, in [0, 1].
      huber_delta: δ > 0 of the Huber loss of TD errors (Mnih et al. 2015), or
        ``None`` for the squared error ``0.5 x²`` (CleanRL; the default: with
        CleanRL's settings δ = 1 diverges on CartPole, see the module docstring).
        For ``head="qr"`` it
        is κ of the quantile Huber loss, ``None`` meaning κ = 1 (QR-DQN-1).
      double_q: double DQN targets.
      n_step: number of rewards summed in the target, ≥ 1.
      head: ``"q"`` (expected values), ``"c51"`` (categorical) or ``"qr"`` (quantiles).
      num_atoms: C51 atoms or QR-DQN quantiles, ≥ 2 (unused for ``"q"``).
      v_min: lowest C51 atom, below ``v_max``.
      v_max: highest C51 atom.
      hidden_sizes: widths of the Q-network's hidden layers.
      activation: hidden activation (``tanh``, ``relu``, ``gelu``, ``elu``).
    """

    sweepable: ClassVar[tuple[str, ...]] = ("learning_rate", "tau", "start_e", "end_e")

    num_envs: int = 10
    num_steps: int = 10
    total_steps: int = 500_000
    learning_rate: float = 2.5e-4
    buffer_size: int = 10_000
    batch_size: int = 128
    learning_starts: int = 10_000
    train_frequency: int = 10
    target_network_frequency: int = 500
    tau: float = 1.0
    start_e: float = 1.0
    end_e: float = 0.05
    exploration_fraction: float = 0.5
    huber_delta: float | None = None
    double_q: bool = False
    n_step: int = 1
    head: str = "q"
    num_atoms: int = 101
    v_min: float = -100.0
    v_max: float = 100.0
    hidden_sizes: tuple[int, ...] = (120, 84)
    activation: str = "relu"

    @property
    def gradient_steps_per_update(self) -> int:
        """``num_envs * num_steps // train_frequency``."""
        return self.steps_per_update // self.train_frequency

    def problems(self) -> list[str]:
        """`TrainingConfig.problems` plus DQN's own checks."""
        problems = super().problems()
        for name in ("learning_rate", "buffer_size", "batch_size", "train_frequency",
                     "target_network_frequency", "n_step"):
            if getattr(self, name) <= 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if self.huber_delta is not None and not self.huber_delta > 0:
            problems.append(f"`huber_delta` must be positive or None, got {self.huber_delta}")
        if self.learning_starts < 0:
            problems.append(f"`learning_starts` must be >= 0, got {self.learning_starts}")
        if self.train_frequency > 0 and self.num_envs > 0 and self.num_steps > 0:
            if self.steps_per_update % self.train_frequency:
                problems.append(
                    f"`train_frequency`={self.train_frequency} must divide num_envs * "
                    f"num_steps = {self.steps_per_update}"
                )
            if self.target_network_frequency % self.train_frequency:
                problems.append(
                    f"`target_network_frequency`={self.target_network_frequency} must be a "
                    f"multiple of `train_frequency`={self.train_frequency}"
                )
        if not 0.0 < self.tau <= 1.0:
            problems.append(f"`tau` must be in (0, 1], got {self.tau}")
        for name in ("start_e", "end_e", "exploration_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"`{name}` must be in [0, 1], got {getattr(self, name)}")
        if self.head not in HEADS:
            problems.append(f"`head` must be one of {list(HEADS)}, got {self.head!r}")
        if self.num_atoms < 2:
            problems.append(f"`num_atoms` must be >= 2, got {self.num_atoms}")
        if not self.v_min < self.v_max:
            problems.append(f"`v_min`={self.v_min} must be less than `v_max`={self.v_max}")
        problems += network_problems(self.hidden_sizes, self.activation)
        return problems + self.torso_problems()


class DQNExtra(NamedTuple):
    """DQN's part of `AgentState.extra`.

    Attributes:
      target_params: parameters of the target network.
      replay: the `jit_env.agents.replay.ReplayBuffer` of transitions
        ``{"observation", "action", "r_t", "discount_t", "next_observation"}``
        (n-step reward sums and discounts, see `n_step_transitions`).
      env_steps: environment steps collected so far, ``int32`` scalar.
    """

    target_params: Any
    replay: replay.ReplayBuffer
    env_steps: jax.Array


def n_step_transitions(trajectory: Trajectory, n: int, gamma: float) -> tuple[dict, jax.Array]:
    """n-step transitions of a rollout, ready for the replay buffer.

    For transition ``t`` the sum runs over ``k = 0 … m − 1`` with ``m ≤ n``:
    ``r_t = Σ_k Γ_k r_{t+k}``, ``discount_t = Γ_m`` with ``Γ_0 = 1``, ``Γ_{k+1} =
    Γ_k · γ · discount_{t+k}``, and the bootstrap observation is
    ``next_observation_{t+m−1}``. The sum stops after a transition that ends an
    episode (so a termination gives discount 0 and a truncation bootstraps from
    the true final observation) and at the end of the rollout. With ``n = 1``
    this is the plain transition with discount ``γ · discount_t``. Rainbow's
    n-step return (Hessel et al. 2018, eq. 2), truncated as described.

    Args:
      trajectory: a rollout with batch shape ``(B,)``, leaves ``[T + 1, B, ...]``.
      n: number of steps, a positive Python int.
      gamma: agent discount γ.

    Returns:
      ``(data, valid)``: ``data`` has ``observation [T * B, ...]``, ``action
      [T * B]`` (the stored actions), ``r_t`` and ``discount_t`` ``[T * B]`` float32,
      ``next_observation [T * B, ...]``; ``valid`` is ``bool [T * B]`` (False for
      the ignored-action steps of ``next_step`` auto-reset, which must not be stored).

    Raises:
      ValueError: if ``n`` is not a positive int or the batch shape is not ``(B,)``.
    """
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"`n` must be a positive int, got {n!r}")
    if len(trajectory.batch_shape) != 1:
        raise ValueError(f"expected a batch of environments [T, B], got batch shape "
                         f"{trajectory.batch_shape}")
    tr = trajectory.transitions()
    t_len, b = tr.r_t.shape
    r = tr.r_t.astype(jnp.float32)
    d = gamma * tr.discount_t.astype(jnp.float32)

    def shift(x, k, fill):
        if k == 0:
            return x
        return jnp.concatenate([x[k:], jnp.full((k,) + x.shape[1:], fill, x.dtype)], axis=0)

    ret = jnp.zeros_like(r)
    mult = jnp.ones_like(r)
    t_index = jnp.broadcast_to(jnp.arange(t_len)[:, None], (t_len, b))
    last = t_index
    alive = tr.valid
    for k in range(n):
        include = alive & shift(tr.valid, k, False)
        ret = ret + jnp.where(include, mult * shift(r, k, 0.0), 0.0)
        mult = jnp.where(include, mult * shift(d, k, 0.0), mult)
        last = jnp.where(include, t_index + k, last)
        alive = include & ~shift(tr.end_t, k, True)
    b_index = jnp.arange(b)[None, :]
    next_obs = jax.tree.map(lambda x: x[last, b_index], tr.next_observation)
    data = {
        "observation": tr.observation,
        "action": tr.action,
        "r_t": ret,
        "discount_t": mult,
        "next_observation": next_obs,
    }
    flat = jax.tree.map(lambda x: x.reshape((t_len * b,) + x.shape[2:]), data)
    return flat, tr.valid.reshape(-1)


def q_values(config: DQNConfig, head_output: jax.Array) -> jax.Array:
    """Expected action values ``[..., A]`` from the network head of ``config.head``.

    Args:
      config: the config (``head``, ``v_min``, ``v_max``, ``num_atoms``).
      head_output: ``"q"``: ``[..., A]`` values; ``"c51"``: ``[..., A, K]`` logits;
        ``"qr"``: ``[..., N, A]`` quantile values (rlax's layout). float32.

    Returns:
      ``[..., A]`` float32: the values, ``Σ_k softmax(logits)_k z_k``, or the
      mean over quantiles.
    """
    if config.head == "c51":
        atoms = jnp.linspace(config.v_min, config.v_max, config.num_atoms)
        return jax.nn.softmax(head_output, axis=-1) @ atoms
    if config.head == "qr":
        return jnp.mean(head_output, axis=-2)
    return head_output


def dqn_loss(
    config: DQNConfig,
    out_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    out_t: jax.Array,
    out_t_selector: jax.Array,
) -> jax.Array:
    """Per-transition loss of ``config.head`` with (double) Q-learning targets.

    Args:
      config: the config (``head``, ``double_q``, ``huber_delta``, the C51 support).
      out_tm1: online head outputs at the source states, ``[N, A]`` (``"q"``),
        ``[N, A, K]`` logits (``"c51"``) or ``[N, K, A]`` quantiles (``"qr"``), float32.
      a_tm1: actions, ``[N]`` int32.
      r_t: (n-step) rewards, ``[N]`` float32.
      discount_t: (n-step) discounts including γ, ``[N]`` float32.
      out_t: target-network head outputs at the bootstrap states, like ``out_tm1``.
      out_t_selector: online head outputs at the bootstrap states (used only to
        pick the next action when ``config.double_q``), like ``out_tm1``.

    Returns:
      ``[N]`` float32: ``huber_loss(td, δ)`` (or ``0.5 td²`` when ``huber_delta``
      is None) of ``td = q_learning(…)`` or ``double_q_learning(…)`` (Mnih et
      al. 2015; van Hasselt et al. 2016), C51's cross entropy
      (``categorical_q_learning`` / ``categorical_double_q_learning``), or QR-DQN's
      quantile Huber loss (``quantile_q_learning``) — all `jit_env.ops`.

    Raises:
      ValueError / TypeError: from `jit_env.ops` on wrong ranks, sizes or dtypes.
    """
    a_tm1 = a_tm1.astype(jnp.int32)
    if config.head == "c51":
        atoms = jnp.linspace(config.v_min, config.v_max, config.num_atoms)
        if config.double_q:
            selector = q_values(config, out_t_selector)
            return jax.vmap(ops.categorical_double_q_learning,
                            in_axes=(None, 0, 0, 0, 0, None, 0, 0))(
                atoms, out_tm1, a_tm1, r_t, discount_t, atoms, out_t, selector)
        return jax.vmap(ops.categorical_q_learning, in_axes=(None, 0, 0, 0, 0, None, 0))(
            atoms, out_tm1, a_tm1, r_t, discount_t, atoms, out_t)
    if config.head == "qr":
        n = config.num_atoms
        tau = (jnp.arange(n, dtype=jnp.float32) + 0.5) / n
        selector = out_t_selector if config.double_q else out_t
        return jax.vmap(ops.quantile_q_learning, in_axes=(0, None, 0, 0, 0, 0, 0, None))(
            out_tm1, tau, a_tm1, r_t, discount_t, selector, out_t,
            1.0 if config.huber_delta is None else float(config.huber_delta))
    if config.double_q:
        td = jax.vmap(ops.double_q_learning)(out_tm1, a_tm1, r_t, discount_t, out_t,
                                             out_t_selector)
    else:
        td = jax.vmap(ops.q_learning)(out_tm1, a_tm1, r_t, discount_t, out_t)
    if config.huber_delta is None:
        return ops.l2_loss(td)
    return ops.huber_loss(td, config.huber_delta)


def _action_space(action_spec: specs.Spec) -> tuple[int, Any]:
    """``(num_actions, dtype)`` of a scalar `DiscreteArray` (ValueError otherwise)."""
    if not isinstance(action_spec, specs.DiscreteArray) or action_spec.shape != ():
        raise ValueError(f"DQN needs a scalar DiscreteArray action, got {action_spec!r}")
    return int(np.asarray(action_spec.num_values)), action_spec.dtype


def make_dqn(config: DQNConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the DQN `Agent` (with the options of ``config``) for ``env_spec``.

    Args:
      config: a `DQNConfig` (validated here).
      env_spec: the (unbatched) environment's specs: an observation of numeric
        arrays (one, or a pytree of them) read as ``config.torso`` says
        (`jit_env.agents.encoders.make_mlp_network`) and a scalar
        `DiscreteArray` action.

    Returns:
      `Agent` whose ``act_params(agent_state)`` is ``(params, ε)``; ``act``
      returns ε-greedy actions ``int32 [B]`` (or ``[]`` for one unbatched
      TimeStep) and extras ``{}``; ``update`` stores the rollout and takes
      ``config.gradient_steps_per_update`` Adam steps once ``learning_starts``
      environment steps are done. ``AgentState.step`` counts gradient steps and
      ``AgentState.extra`` is a `DQNExtra`. Metrics: ``loss``, ``q_mean``
      (means over the update's gradient steps, 0 before learning starts),
      ``epsilon`` (ε of the rollout), ``buffer_size``, ``learning`` (1.0 if
      gradient steps were taken).

    Raises:
      ValueError: on an invalid config (naming the fields) or an unsupported spec.
    """
    config.validate()
    num_actions, action_dtype = _action_space(env_spec.actions)
    obs_spec = env_spec.observations
    k = 1 if config.head == "q" else config.num_atoms
    net = make_mlp_network(config, obs_spec, num_actions * k, 1.0, algo="DQN")
    network = net.module

    def apply(params, observation) -> jax.Array:
        out = cast(jax.Array, network.apply(params, net.prepare(observation)))
        lead = out.shape[:-1]
        if config.head == "c51":
            return out.reshape(lead + (num_actions, k))
        if config.head == "qr":
            return out.reshape(lead + (k, num_actions))
        return out

    optimizer = make_optimizer(config.learning_rate)  # Adam, ε = 1e-8, no clipping
    epsilon = optax.linear_schedule(
        config.start_e, config.end_e,
        max(1, int(config.exploration_fraction * config.total_steps)),
    )
    policy = ops.epsilon_greedy()
    target_period = config.target_network_frequency // config.train_frequency
    num_gradient_steps = config.gradient_steps_per_update

    def init(key: jax.Array) -> AgentState:
        params = network.init(key, net.example)
        zero_obs = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), obs_spec,
                                is_leaf=lambda s: isinstance(s, specs.Array))
        example = {
            "observation": zero_obs,
            "action": jnp.zeros((), action_dtype),
            "r_t": jnp.zeros((), jnp.float32),
            "discount_t": jnp.zeros((), jnp.float32),
            "next_observation": zero_obs,
        }
        extra = DQNExtra(params, replay.init(example, config.buffer_size),
                         jnp.zeros((), jnp.int32))
        return AgentState(params, optimizer.init(params), jnp.zeros((), jnp.int32), extra)

    def act_params(agent_state: AgentState):
        return agent_state.params, epsilon(agent_state.extra.env_steps)

    def act(params_and_epsilon, timestep, policy_state, key):
        params, eps = params_and_epsilon
        q = q_values(config, apply(params, timestep.observation))
        action = policy.sample(key, q, epsilon=eps)
        return action.astype(action_dtype), policy_state, {}

    def act_greedy(params, timestep, policy_state, key):
        del key  # ε = 0: the argmax of the Q-values
        q = q_values(config, apply(params, timestep.observation))
        return jnp.argmax(q, axis=-1).astype(action_dtype), policy_state, {}

    def loss_fn(params, target_params, batch):
        out_tm1 = apply(params, batch["observation"])
        out_t = apply(target_params, batch["next_observation"])
        out_sel = (jax.lax.stop_gradient(apply(params, batch["next_observation"]))
                   if config.double_q else out_t)
        losses = dqn_loss(config, out_tm1, batch["action"], batch["r_t"],
                          batch["discount_t"], out_t, out_sel)
        q = q_values(config, out_tm1)
        return jnp.mean(losses), {"loss": jnp.mean(losses), "q_mean": jnp.mean(q)}

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def gradient_step(agent_state: AgentState, key: jax.Array):
        extra = agent_state.extra
        batch = replay.sample(extra.replay, key, config.batch_size)
        grads, metrics = grad_fn(agent_state.params, extra.target_params, batch)
        updates, opt_state = optimizer.update(grads, agent_state.opt_state, agent_state.params)
        params = optax.apply_updates(agent_state.params, updates)
        step = agent_state.step + 1
        moved = optax.incremental_update(params, extra.target_params, config.tau)
        target = ops.periodic_update(moved, extra.target_params, step, target_period)
        return AgentState(params, opt_state, step, extra._replace(target_params=target)), metrics

    def learn(agent_state, key):
        agent_state, metrics = jax.lax.scan(
            gradient_step, agent_state, jax.random.split(key, num_gradient_steps)
        )
        return agent_state, jax.tree.map(jnp.mean, metrics)

    def skip(agent_state, key):
        del key
        zero = jnp.zeros((), jnp.float32)
        return agent_state, {"loss": zero, "q_mean": zero}

    def update(agent_state: AgentState, trajectory: Trajectory, key: jax.Array):
        data, valid = n_step_transitions(trajectory, config.n_step, config.gamma)
        extra = agent_state.extra
        buffer = replay.add(extra.replay, data, valid)
        env_steps = extra.env_steps + config.steps_per_update
        agent_state = agent_state._replace(extra=DQNExtra(extra.target_params, buffer, env_steps))
        learning = (env_steps >= config.learning_starts) & (buffer.size >= config.batch_size)
        agent_state, metrics = jax.lax.cond(learning, learn, skip, agent_state, key)
        metrics = dict(metrics) | {
            "epsilon": jnp.asarray(epsilon(extra.env_steps), jnp.float32),
            "buffer_size": buffer.size.astype(jnp.float32),
            "learning": learning.astype(jnp.float32),
        }
        return agent_state, metrics

    return Agent(init=init, act=act, update=update, act_params=act_params,
                 act_greedy=act_greedy)
