"""Soft Actor-Critic (SAC) as a functional `Agent` on the shared loop.

Haarnoja et al. 2018a, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep RL
with a Stochastic Actor" (ICML), and Haarnoja et al. 2018b, "Soft Actor-Critic
Algorithms and Applications" (arXiv:1812.05905), Algorithm 1 of 2018b: twin soft
Q-networks with Polyak-averaged targets, a tanh-squashed Gaussian actor
trained through the reparameterisation trick, and automatic tuning of the
entropy temperature α towards the target entropy ``H̄ = −|A|`` (2018b §5, eq. 18).

Per gradient step, on a batch of transitions with actions in ``[-1, 1]``
(`jit_env.agents._off_policy`), in Stable-Baselines3's order
(``stable_baselines3/sac/sac.py``, ``SAC.train``):

1. ``a ~ π(·|s)`` with its log-probability (`tanh_gaussian_log_prob`, 2018a
   appendix C, eq. 21); the temperature loss `temperature_loss`
   ``−log α · (log π(a|s) + H̄)`` (SB3's form of 2018b eq. 18 on ``log α``)
   takes one Adam step; the step's α is ``exp(log α)`` *before* that step.
2. The critics regress on `soft_q_target` ``r + γ d (min_i Q̄_i(s', a') − α log π(a'|s'))``,
   ``a' ~ π(·|s')`` (2018b §4, the soft Q-function objective, with the clipped double Q of
   Fujimoto et al. 2018): `critic_loss`, ``Σ_i mean(½ (Q_i(s, a) − y)²)``, the TD errors from
   `jit_env.ops.td_learning`.
3. The actor minimises `actor_loss` ``mean(α log π(a|s) − min_i Q_i(s, a))`` with
   the just-updated critics (2018b §4, the reparameterised policy objective; SB3
   ``actor_loss``).
4. Every ``target_update_interval`` gradient steps the target critics move by
   ``optax.incremental_update`` with ``tau`` (``jit_env.ops.periodic_update``).

The actor outputs the mean and the log standard deviation of the pre-squash
Gaussian; the log-std is clipped to ``[log_std_min, log_std_max] = [−20, 2]``,
Stable-Baselines3's ``LOG_STD_MIN`` / ``LOG_STD_MAX`` (``stable_baselines3/sac/policies.py``;
a hard clip). CleanRL's ``cleanrl/sac_continuous_action.py`` squashes it smoothly
into ``[−5, 2]`` with a tanh instead; ``log_std_squash=True`` selects that. The
log-probability is that of the action in ``[-1, 1]`` (SB3's
``TanhBijector``: the affine map to the environment's box is outside the
policy, so ``H̄ = −|A|`` is measured in ``[-1, 1]`` for every box); CleanRL adds
``log(action_scale)``, which shifts the entropy by a constant.

**Defaults** are RL-Zoo's Pendulum-v1 SAC (``rl-baselines3-zoo``
``hyperparams/sac.yml``: ``n_timesteps: 20000``, ``learning_rate: 1e-3``, the rest
SB3's ``SAC`` defaults, ``stable_baselines3/sac/sac.py``): Adam 1e-3 for actor,
critics and α; buffer 10⁶, batch 256, γ 0.99, τ 0.005, one gradient step per
environment step from step 100 (``learning_starts``), α starting at 1
(``ent_coef="auto"``), target entropy ``−|A|``, targets every step, 256-256
ReLU MLPs. RL-Zoo's ``benchmark.md`` reports −156.995 ± 88.714 for that agent on
Pendulum-v1 after 20k steps. Differences from SB3: orthogonal initialisation
(`jit_env.agents.networks.MLP`, gain √2 hidden, 1 output) instead of PyTorch's
default; the exact ``log(1 − tanh²u) = 2(log 2 − u − softplus(−2u))`` instead
of SB3's ``log(1 − a² + 1e-6)``. ``benchmarks/learning/run.py --rows sac`` measures
what these defaults learn.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jit_env import ops, specs
from jit_env.agents import _off_policy
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._off_policy import Critics, OffPolicyConfig, OffPolicyExtra
from jit_env.agents._optimization import make_optimizer
from jit_env.agents.networks import MLP


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """Hyper-parameters of SAC and of its training run.

    The training-run fields are `TrainingConfig`'s; the replay, update-to-data
    ratio, target and network fields are `OffPolicyConfig`'s.

    Attributes:
      env: environment id (default ``Pendulum-v1``).
      total_steps: environment steps per seed (RL-Zoo: 20,000).
      actor_learning_rate: Adam step size of the actor.
      critic_learning_rate: Adam step size of the critics.
      alpha_learning_rate: Adam step size of ``log α``.
      initial_alpha: α at the start (SB3 ``ent_coef="auto"`` starts at 1).
      autotune: tune α towards ``target_entropy``; False keeps ``initial_alpha``.
      target_entropy: the entropy target ``H̄``, or ``None`` for ``−|A|``.
      target_update_interval: gradient steps between target updates, ≥ 1.
      log_std_min: lower bound of the actor's log-std.
      log_std_max: upper bound of the actor's log-std.
      log_std_squash: map the raw log-std into the bounds with a tanh
        (CleanRL) instead of clipping it (SB3).
    """

    sweepable: ClassVar[tuple[str, ...]] = (
        "actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
    )

    env: str = "Pendulum-v1"
    total_steps: int = 20_000
    actor_learning_rate: float = 1e-3
    critic_learning_rate: float = 1e-3
    alpha_learning_rate: float = 1e-3
    initial_alpha: float = 1.0
    autotune: bool = True
    target_entropy: float | None = None
    target_update_interval: int = 1
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    log_std_squash: bool = False

    def problems(self) -> list[str]:
        """`OffPolicyConfig.problems` plus SAC's own checks."""
        problems = super().problems()
        for name in ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
                     "initial_alpha", "target_update_interval"):
            if not getattr(self, name) > 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if not self.log_std_min < self.log_std_max:
            problems.append(f"`log_std_min`={self.log_std_min} must be less than "
                            f"`log_std_max`={self.log_std_max}")
        return problems


def tanh_gaussian_log_prob(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Log-density of ``a = tanh(u)``, ``u ~ N(mean, exp(log_std)²)`` (diagonal), at ``tanh(u)``.

    ``log π(a|s) = Σ_i [log N(u_i; mean_i, σ_i) − log(1 − tanh²(u_i))]``, Haarnoja et
    al. 2018a, appendix C, eq. 21, with ``log(1 − tanh² u) = 2 (log 2 − u −
    softplus(−2u))`` (exact, finite for large ``|u|``; rlax's ``squashed_gaussian``,
    `jit_env.ops.squashed_gaussian`, uses the same identity).

    Args:
      u: pre-squash samples ``[..., A]``, float32.
      mean: Gaussian means ``[..., A]``.
      log_std: log standard deviations ``[..., A]``.

    Returns:
      ``[...]`` float32: the log-density of the squashed action, summed over ``A``.
    """
    std = jnp.exp(log_std)
    gauss = -0.5 * jnp.square((u - mean) / std) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_det = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.sum(gauss - log_det, axis=-1)


def soft_q_target(r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array,
                  log_prob_t: jax.Array, alpha: jax.Array) -> jax.Array:
    """The soft twin-Q target ``r_t + discount_t · (min_i q_t[i] − α · log π(a'|s'))``.

    Haarnoja et al. 2018b, §4 and Algorithm 1 (the soft state value of the next
    state, estimated with one action ``a' ~ π(·|s')``), with the minimum over the
    target critics (clipped double Q, Fujimoto et al. 2018, Algorithm 1).

    Args:
      r_t: rewards ``[N]`` float32.
      discount_t: ``γ · discount`` ``[N]`` (0 at terminations).
      q_t: target-critic values at ``(s', a')``, ``[num_critics, N]``.
      log_prob_t: ``log π(a'|s')`` ``[N]``.
      alpha: the temperature, scalar.

    Returns:
      ``[N]`` float32 targets (no gradient is stopped here).
    """
    return r_t + discount_t * (jnp.min(q_t, axis=0) - alpha * log_prob_t)


def critic_loss(q_tm1: jax.Array, r_t: jax.Array, discount_t: jax.Array,
                v_t: jax.Array) -> jax.Array:
    """``Σ_i mean_n ½ (v_target − q_tm1[i, n])²`` with TD errors from `jit_env.ops.td_learning`.

    ``v_t`` is the bootstrap value (``min_i Q̄_i(s', a') − α log π(a'|s')`` for SAC,
    ``min_i Q̄_i(s', ã')`` for TD3); gradients into it are stopped. Equals
    Stable-Baselines3's ``0.5 * sum(F.mse_loss(q, target) for q in qs)``
    (``stable_baselines3/sac/sac.py``) and CleanRL's ``qf1_loss + qf2_loss`` up to
    a factor 2 (which Adam ignores).

    Args:
      q_tm1: online critic values at ``(s, a)``, ``[num_critics, N]`` float32.
      r_t: rewards ``[N]``.
      discount_t: ``γ · discount`` ``[N]``.
      v_t: bootstrap values ``[N]``.

    Returns:
      Scalar float32 loss.
    """
    td = jax.vmap(jax.vmap(ops.td_learning), in_axes=(0, None, None, None))(
        q_tm1, r_t, discount_t, v_t)
    return jnp.sum(jnp.mean(ops.l2_loss(td), axis=1))


def actor_loss(log_prob: jax.Array, q: jax.Array, alpha: jax.Array) -> jax.Array:
    """``mean_n (α · log π(a_n|s_n) − min_i q[i, n])``: SAC's reparameterised policy loss.

    Haarnoja et al. 2018b, §4 (the policy objective) with ``a = tanh(μ + σ ε)`` (the
    reparameterisation trick of 2018a); the gradient flows through ``log_prob``
    and ``q`` into the actor. Stable-Baselines3's ``actor_loss``.

    Args:
      log_prob: ``[N]`` log-probabilities of the actor's fresh actions.
      q: ``[num_critics, N]`` critic values of those actions.
      alpha: the temperature (a constant here), scalar.

    Returns:
      Scalar float32 loss.
    """
    return jnp.mean(alpha * log_prob - jnp.min(q, axis=0))


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array,
                     target_entropy: float) -> jax.Array:
    """``−log α · mean_n (log π(a_n|s_n) + H̄)``, gradients stopped in ``log_prob``.

    The temperature objective of Haarnoja et al. 2018b, eq. 18 (``J(α) =
    E[−α log π(a|s) − α H̄]``), written on ``log α`` as Stable-Baselines3's
    ``ent_coef_loss`` (``stable_baselines3/sac/sac.py``). Its gradient in ``log α`` is
    ``−(mean log π + H̄) = entropy − H̄``: α decreases while the policy's entropy
    is above the target and increases while it is below.

    Args:
      log_alpha: scalar float32 parameter.
      log_prob: ``[N]`` log-probabilities of fresh actions.
      target_entropy: ``H̄``.

    Returns:
      Scalar float32 loss.
    """
    return -log_alpha * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)


def make_sac(config: SACConfig, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the SAC `Agent` for ``env_spec``.

    Args:
      config: a `SACConfig` (validated here).
      env_spec: the (unbatched) environment's specs: a flat observation ``Array
        (D,)`` and a finite float `BoundedArray` action ``(A,)``.

    Returns:
      `Agent` whose ``act_params(agent_state)`` is ``(params, env_steps)``;
      ``act`` samples ``tanh(μ + σ ε)`` rescaled to the box (uniform before
      ``learning_starts``), ``[B, A]`` of the spec's dtype, extras ``{}``;
      ``act_greedy`` is the squashed mean ``tanh(μ)`` rescaled; ``update`` stores
      the rollout and takes ``config.gradient_steps_per_update`` gradient steps.
      ``AgentState.params`` is ``{"actor", "critic", "log_alpha"}``, ``opt_state``
      the three Adam states, ``step`` the gradient steps, ``extra`` an
      `OffPolicyExtra` (target critics). Metrics: ``loss`` (the critic loss),
      ``actor_loss``, ``alpha_loss``, ``alpha``, ``entropy`` (``−mean log π``),
      ``q_mean``, ``buffer_size``, ``learning``.

    Raises:
      ValueError: on an invalid config (naming the fields), an action spec that is
        not a finite float `BoundedArray` of shape ``(A,)``, or an observation spec
        that is not ``(D,)`` (naming the spec).
    """
    config.validate()
    low, high = _off_policy.action_bounds(env_spec.actions, "SAC")
    action_spec = cast(specs.BoundedArray, env_spec.actions)
    obs_spec = _off_policy.observation_spec(env_spec, "SAC")
    num_actions = int(low.shape[0])
    target_entropy = (-float(num_actions) if config.target_entropy is None
                      else float(config.target_entropy))
    actor = MLP(tuple(config.hidden_sizes), 2 * num_actions, config.activation, 1.0)
    critics = Critics(2, tuple(config.hidden_sizes), config.activation)

    def q_values(critic_params, observation, action) -> jax.Array:
        return _off_policy.apply_critics(critics, critic_params, observation, action)

    optimizers = {
        "actor": make_optimizer(config.actor_learning_rate),
        "critic": make_optimizer(config.critic_learning_rate),
        "log_alpha": make_optimizer(config.alpha_learning_rate),
    }

    def distribution(actor_params, observation):
        out = cast(jax.Array, actor.apply(actor_params, jnp.asarray(observation, jnp.float32)))
        mean, raw = out[..., :num_actions], out[..., num_actions:]
        if config.log_std_squash:
            log_std = config.log_std_min + 0.5 * (config.log_std_max - config.log_std_min) * (
                jnp.tanh(raw) + 1.0)
        else:
            log_std = jnp.clip(raw, config.log_std_min, config.log_std_max)
        return mean, log_std

    def sample(actor_params, observation, key):
        mean, log_std = distribution(actor_params, observation)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        return jnp.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros(obs_spec.shape, jnp.float32)
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critics.init(k_critic, obs, jnp.zeros((num_actions,), jnp.float32)),
            "log_alpha": jnp.asarray(np.log(config.initial_alpha), jnp.float32),
        }
        opt_state = {k: optimizers[k].init(params[k]) for k in optimizers}
        extra = _off_policy.init_extra(config, obs_spec, action_spec,
                                       {"critic": params["critic"]})
        return AgentState(params, opt_state, jnp.zeros((), jnp.int32), extra)

    def act_params(agent_state: AgentState):
        return agent_state.params, agent_state.extra.env_steps

    def act(params_and_steps, timestep, policy_state, key):
        params, env_steps = params_and_steps
        k_policy, k_uniform = jax.random.split(key)
        action, _ = sample(params["actor"], timestep.observation, k_policy)
        action = _off_policy.explore(action, env_steps, config.learning_starts, k_uniform)
        return _off_policy.scale_action(action, low, high).astype(action_spec.dtype), \
            policy_state, {}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the squashed mean
        mean, _ = distribution(params["actor"], timestep.observation)
        action = _off_policy.scale_action(jnp.tanh(mean), low, high)
        return action.astype(action_spec.dtype), policy_state, {}

    def adam_step(name, grads, params, opt_state):
        updates, new_opt = optimizers[name].update(grads, opt_state[name], params[name])
        return (params | {name: optax.apply_updates(params[name], updates)},
                opt_state | {name: new_opt})

    def gradient_step(agent_state: AgentState, batch: dict, key: jax.Array):
        params, opt_state = agent_state.params, agent_state.opt_state
        extra = cast(OffPolicyExtra, agent_state.extra)
        k_pi, k_next = jax.random.split(key)
        obs, next_obs = batch["observation"], batch["next_observation"]
        # 1. temperature, with the actor's fresh actions at s (α of this step: before it).
        _, log_prob_pi = sample(params["actor"], obs, k_pi)
        alpha = jnp.exp(params["log_alpha"])
        alpha_loss, alpha_grad = jax.value_and_grad(temperature_loss)(
            params["log_alpha"], log_prob_pi, target_entropy)
        if config.autotune:
            params, opt_state = adam_step("log_alpha", alpha_grad, params, opt_state)
        # 2. critics on the soft twin-Q target.
        a_next, log_prob_next = sample(params["actor"], next_obs, k_next)
        q_next = q_values(extra.target_params["critic"], next_obs, a_next)
        v_next = jnp.min(q_next, axis=0) - alpha * log_prob_next

        def critic_objective(critic_params):
            q = q_values(critic_params, obs, batch["action"])
            return critic_loss(q, batch["r_t"], batch["discount_t"], v_next), q

        (q_loss, q), critic_grad = jax.value_and_grad(critic_objective, has_aux=True)(
            params["critic"])
        params, opt_state = adam_step("critic", critic_grad, params, opt_state)

        # 3. actor against the updated critics (same noise as step 1).
        def actor_objective(actor_params):
            a_pi, log_prob = sample(actor_params, obs, k_pi)
            return actor_loss(log_prob, q_values(params["critic"], obs, a_pi), alpha)

        pi_loss, actor_grad = jax.value_and_grad(actor_objective)(params["actor"])
        params, opt_state = adam_step("actor", actor_grad, params, opt_state)
        # 4. Polyak target critics every `target_update_interval` gradient steps.
        step = agent_state.step + 1
        moved = optax.incremental_update(params["critic"], extra.target_params["critic"],
                                         config.tau)
        target = ops.periodic_update(moved, extra.target_params["critic"], step,
                                     config.target_update_interval)
        metrics = {"loss": q_loss, "actor_loss": pi_loss, "alpha_loss": alpha_loss,
                   "alpha": alpha, "entropy": -jnp.mean(log_prob_pi), "q_mean": jnp.mean(q)}
        new_state = AgentState(params, opt_state, step,
                               extra._replace(target_params={"critic": target}))
        return new_state, metrics

    update = _off_policy.make_update(
        config, gradient_step,
        ("loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean"), low, high)
    return Agent(init=init, act=act, update=update, act_params=act_params,
                 act_greedy=act_greedy)

