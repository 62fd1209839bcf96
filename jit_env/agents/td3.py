"""TD3 and DDPG as functional `Agent` s on the shared loop.

TD3: Fujimoto et al. 2018, "Addressing Function Approximation Error in
Actor-Critic Methods" (ICML), Algorithm 1: a deterministic actor ``μ(s) ∈ [-1, 1]^A``
(tanh output) explored with Gaussian noise, twin critics and three changes to
DDPG, each a field of `TD3Config`:

- clipped double Q (``clipped_double_q``, "Clipped Double Q-Learning for
  Actor-Critic"): the target takes the minimum of two target critics;
- target policy smoothing (``target_policy_noise`` σ̃, ``target_noise_clip`` c;
  "Target Policy Smoothing Regularization", Algorithm 1):
  ``ã' = clip(μ̄(s') + clip(ε, −c, c), −1, 1)``, ``ε ~ N(0, σ̃²)``;
- delayed policy updates (``policy_delay`` d, "Delayed Policy Updates"): the actor and the target
  networks are updated every d-th critic update.

`td3_target` is the critics' regression target; the critic loss is
`jit_env.agents.sac.critic_loss` (TD errors from `jit_env.ops.td_learning`); the
actor follows the deterministic policy gradient through the first critic
(Silver et al. 2014, eq. 6; `jit_env.ops.dpg_loss` with ``dq/da`` from
``jax.grad``: its gradient is that of Stable-Baselines3's ``−Q_1(s, μ(s)).mean()``);
targets move by Polyak averaging with ``tau`` (``optax.incremental_update``,
``jit_env.ops.periodic_update`` every ``policy_delay`` steps).

DDPG (Lillicrap et al. 2016, "Continuous control with deep reinforcement
learning", Algorithm 1) is `DDPGConfig`: TD3 with the three changes off (one
critic, no smoothing noise, ``policy_delay = 1``), as Stable-Baselines3 builds it
(``stable_baselines3/ddpg/ddpg.py``: ``policy_delay=1``, ``target_noise_clip=0``,
``n_critics=1``), with Gaussian rather than Ornstein–Uhlenbeck exploration noise
(RL-Zoo's Pendulum-v1 ``noise_type: 'normal'``).

**Defaults** (both) are RL-Zoo's Pendulum-v1 TD3 / DDPG configs
(``rl-baselines3-zoo`` ``hyperparams/td3.yml`` and ``hyperparams/ddpg.yml``:
``n_timesteps: 20000``, ``gamma: 0.98``, ``buffer_size: 200000``,
``learning_starts: 10000``, ``noise_type: 'normal'``, ``noise_std: 0.1``,
``gradient_steps: 1``, ``train_freq: 1``, ``learning_rate: 1e-3``,
``net_arch=[400, 300]``) over Stable-Baselines3's ``TD3`` defaults
(``stable_baselines3/td3/td3.py``: batch 256, τ 0.005, ``policy_delay=2``,
``target_policy_noise=0.2``, ``target_noise_clip=0.5``). RL-Zoo's ``benchmark.md``
reports −151.855 ± 90.227 (TD3) and −152.099 ± 94.282 (DDPG) on Pendulum-v1
after 20k steps. Exploration noise is added in ``[-1, 1]`` and clipped there
(SB3's ``action_noise`` on the scaled action). Initialisation is orthogonal
(`jit_env.agents.networks.MLP`), not PyTorch's default.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, cast

import jax
import jax.numpy as jnp
import optax

from jit_env import ops, specs
from jit_env.agents import _off_policy
from jit_env.agents._agent import Agent, AgentState
from jit_env.agents._off_policy import Critics, OffPolicyConfig, OffPolicyExtra
from jit_env.agents._optimization import make_optimizer
from jit_env.agents.networks import MLP
from jit_env.agents.sac import critic_loss


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """Hyper-parameters of TD3 (and DDPG, `DDPGConfig`) and of the training run.

    The training-run fields are `TrainingConfig`'s; the replay, update-to-data
    ratio, target and network fields are `OffPolicyConfig`'s.

    Attributes:
      env: environment id (default ``Pendulum-v1``).
      total_steps: environment steps per seed (RL-Zoo: 20,000).
      gamma: discount (RL-Zoo's Pendulum-v1: 0.98).
      actor_learning_rate: Adam step size of the actor.
      critic_learning_rate: Adam step size of the critics.
      exploration_noise: standard deviation of the Gaussian noise added to
        ``μ(s)`` in ``[-1, 1]`` when acting, ≥ 0.
      target_policy_noise: σ̃ of the target policy smoothing noise, ≥ 0 (0: none).
      target_noise_clip: c, the smoothing noise is clipped to ``[−c, c]``, ≥ 0.
      policy_delay: critic updates per actor and target update, ≥ 1.
      clipped_double_q: two critics and the minimum in the target (False: one critic).
    """

    sweepable: ClassVar[tuple[str, ...]] = (
        # not target_policy_noise: 0 switches the smoothing off (a branch of the program)
        "actor_learning_rate", "critic_learning_rate", "exploration_noise", "target_noise_clip",
    )

    env: str = "Pendulum-v1"
    total_steps: int = 20_000
    gamma: float = 0.98
    buffer_size: int = 200_000
    learning_starts: int = 10_000
    hidden_sizes: tuple[int, ...] = (400, 300)
    actor_learning_rate: float = 1e-3
    critic_learning_rate: float = 1e-3
    exploration_noise: float = 0.1
    target_policy_noise: float = 0.2
    target_noise_clip: float = 0.5
    policy_delay: int = 2
    clipped_double_q: bool = True

    @property
    def num_critics(self) -> int:
        """2 with ``clipped_double_q``, else 1."""
        return 2 if self.clipped_double_q else 1

    def problems(self) -> list[str]:
        """`OffPolicyConfig.problems` plus TD3's own checks."""
        problems = super().problems()
        for name in ("actor_learning_rate", "critic_learning_rate", "policy_delay"):
            if not getattr(self, name) > 0:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        for name in ("exploration_noise", "target_policy_noise", "target_noise_clip"):
            if not getattr(self, name) >= 0:
                problems.append(f"`{name}` must be >= 0, got {getattr(self, name)}")
        return problems


@dataclasses.dataclass(frozen=True)
class DDPGConfig(TD3Config):
    """DDPG: `TD3Config` with one critic, no target smoothing and no delay.

    Same defaults as `TD3Config` otherwise (RL-Zoo's ``hyperparams/ddpg.yml``
    Pendulum-v1 entry equals its TD3 one).
    """

    target_policy_noise: float = 0.0
    target_noise_clip: float = 0.0
    policy_delay: int = 1
    clipped_double_q: bool = False


def td3_target(r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array) -> jax.Array:
    """``r_t + discount_t · min_i q_t[i]``: the TD3 target (Fujimoto et al. 2018, Algorithm 1).

    With one critic (``q_t`` of shape ``[1, N]``) it is DDPG's target
    ``r + γ Q̄(s', μ̄(s'))`` (Lillicrap et al. 2016, Algorithm 1).

    Args:
      r_t: rewards ``[N]`` float32.
      discount_t: ``γ · discount`` ``[N]``.
      q_t: target-critic values at ``(s', ã')``, ``[num_critics, N]``.

    Returns:
      ``[N]`` float32 targets.
    """
    return r_t + discount_t * jnp.min(q_t, axis=0)


def smoothed_target_action(mu_t: jax.Array, key: jax.Array, noise: float,
                           noise_clip: float) -> jax.Array:
    """``clip(mu_t + clip(ε, −c, c), −1, 1)``, ``ε ~ N(0, noise²)``: target policy smoothing.

    Fujimoto et al. 2018, Algorithm 1 (``ã ← π_φ'(s') + ε, ε ~ clip(N(0, σ̃), −c, c)``),
    clipped to the action box ``[-1, 1]`` as Stable-Baselines3's and CleanRL's TD3
    do. ``noise = 0`` returns ``mu_t`` (DDPG).

    Args:
      mu_t: target-actor actions ``[N, A]`` in ``[-1, 1]``, float32.
      key: PRNG key.
      noise: σ̃ ≥ 0.
      noise_clip: c ≥ 0.

    Returns:
      ``[N, A]`` float32 actions in ``[-1, 1]``.
    """
    if noise == 0:
        return mu_t
    eps = jnp.clip(noise * jax.random.normal(key, mu_t.shape, mu_t.dtype), -noise_clip,
                   noise_clip)
    return jnp.clip(mu_t + eps, -1.0, 1.0)


def make_td3(config: TD3Config, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the TD3 `Agent` (or DDPG's, for a `DDPGConfig`) for ``env_spec``.

    Args:
      config: a `TD3Config` or `DDPGConfig` (validated here).
      env_spec: the (unbatched) environment's specs: a flat observation ``Array
        (D,)`` and a finite float `BoundedArray` action ``(A,)``.

    Returns:
      `Agent` whose ``act_params(agent_state)`` is ``(params, env_steps)``;
      ``act`` returns ``clip(μ(s) + N(0, exploration_noise²), −1, 1)`` rescaled to
      the box (uniform before ``learning_starts``), ``[B, A]`` of the spec's dtype,
      extras ``{}``; ``act_greedy`` is ``μ(s)`` rescaled. ``AgentState.params`` is
      ``{"actor", "critic"}``, ``opt_state`` the two Adam states, ``step`` the
      critic updates, ``extra`` an `OffPolicyExtra` (target actor and critics).
      Metrics: ``loss`` (critic loss), ``actor_loss`` (``−mean Q_1(s, μ(s))`` at the
      delayed steps, 0 otherwise), ``q_mean``, ``buffer_size``, ``learning``.

    Raises:
      ValueError: on an invalid config (naming the fields), an action spec that is
        not a finite float `BoundedArray` of shape ``(A,)``, or an observation spec
        that is not ``(D,)`` (naming the spec).
    """
    config.validate()
    name = "DDPG" if isinstance(config, DDPGConfig) else "TD3"
    low, high = _off_policy.action_bounds(env_spec.actions, name)
    action_spec = cast(specs.BoundedArray, env_spec.actions)
    obs_spec = _off_policy.observation_spec(env_spec, name)
    num_actions = int(low.shape[0])
    actor = MLP(tuple(config.hidden_sizes), num_actions, config.activation, 1.0)
    critics = Critics(config.num_critics, tuple(config.hidden_sizes), config.activation)

    def q_values(critic_params, observation, action) -> jax.Array:
        return _off_policy.apply_critics(critics, critic_params, observation, action)

    optimizers = {"actor": make_optimizer(config.actor_learning_rate),
                  "critic": make_optimizer(config.critic_learning_rate)}

    def mu(actor_params, observation):
        return jnp.tanh(cast(jax.Array, actor.apply(actor_params,
                                                    jnp.asarray(observation, jnp.float32))))

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros(obs_spec.shape, jnp.float32)
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critics.init(k_critic, obs, jnp.zeros((num_actions,), jnp.float32)),
        }
        opt_state = {k: optimizers[k].init(params[k]) for k in optimizers}
        extra = _off_policy.init_extra(config, obs_spec, action_spec, params)
        return AgentState(params, opt_state, jnp.zeros((), jnp.int32), extra)

    def act_params(agent_state: AgentState):
        return agent_state.params, agent_state.extra.env_steps

    def act(params_and_steps, timestep, policy_state, key):
        params, env_steps = params_and_steps
        k_noise, k_uniform = jax.random.split(key)
        action = mu(params["actor"], timestep.observation)
        action = jnp.clip(ops.add_gaussian_noise(k_noise, action, config.exploration_noise),
                          -1.0, 1.0)
        action = _off_policy.explore(action, env_steps, config.learning_starts, k_uniform)
        return _off_policy.scale_action(action, low, high).astype(action_spec.dtype), \
            policy_state, {}

    def act_greedy(params, timestep, policy_state, key):
        del key  # the deterministic actor
        action = _off_policy.scale_action(mu(params["actor"], timestep.observation), low, high)
        return action.astype(action_spec.dtype), policy_state, {}

    def adam_step(name, grads, params, opt_state):
        updates, new_opt = optimizers[name].update(grads, opt_state[name], params[name])
        return (params | {name: optax.apply_updates(params[name], updates)},
                opt_state | {name: new_opt})

    def actor_objective(actor_params, critic_params, obs):
        a = mu(actor_params, obs)
        dqda = jax.grad(lambda x: jnp.sum(q_values(critic_params, obs, x)[0]))(a)
        loss = jnp.mean(jnp.sum(jax.vmap(ops.dpg_loss)(a, dqda), axis=-1))
        return loss, -jnp.mean(q_values(critic_params, obs, a)[0])

    def delayed(args):
        params, opt_state, targets, obs = args
        (_, q_pi), grads = jax.value_and_grad(actor_objective, has_aux=True)(
            params["actor"], params["critic"], obs)
        params, opt_state = adam_step("actor", grads, params, opt_state)
        targets = optax.incremental_update(params, targets, config.tau)
        return params, opt_state, targets, q_pi

    def no_actor_step(args):
        params, opt_state, targets, _ = args
        return params, opt_state, targets, jnp.zeros((), jnp.float32)

    def gradient_step(agent_state: AgentState, batch: dict, key: jax.Array):
        params, opt_state = agent_state.params, agent_state.opt_state
        extra = cast(OffPolicyExtra, agent_state.extra)
        obs, next_obs = batch["observation"], batch["next_observation"]
        targets = extra.target_params
        a_next = smoothed_target_action(mu(targets["actor"], next_obs), key,
                                        config.target_policy_noise, config.target_noise_clip)
        v_next = jnp.min(q_values(targets["critic"], next_obs, a_next), axis=0)

        def critic_objective(critic_params):
            q = q_values(critic_params, obs, batch["action"])
            return critic_loss(q, batch["r_t"], batch["discount_t"], v_next), q

        (q_loss, q), grads = jax.value_and_grad(critic_objective, has_aux=True)(params["critic"])
        params, opt_state = adam_step("critic", grads, params, opt_state)
        step = agent_state.step + 1
        operands = (params, opt_state, targets, obs)
        if config.policy_delay == 1:
            params, opt_state, targets, pi_loss = delayed(operands)
        else:
            params, opt_state, targets, pi_loss = jax.lax.cond(
                step % config.policy_delay == 0, delayed, no_actor_step, operands)
        metrics = {"loss": q_loss, "actor_loss": pi_loss, "q_mean": jnp.mean(q)}
        return AgentState(params, opt_state, step,
                          extra._replace(target_params=targets)), metrics

    update = _off_policy.make_update(config, gradient_step, ("loss", "actor_loss", "q_mean"),
                                     low, high)
    return Agent(init=init, act=act, update=update, act_params=act_params,
                 act_greedy=act_greedy)


def make_ddpg(config: TD3Config, env_spec: specs.EnvironmentSpec) -> Agent:
    """Builds the DDPG `Agent`: `make_td3` on a `DDPGConfig` (see there).

    Raises:
      TypeError: if ``config`` is not a `DDPGConfig`.
      ValueError: as `make_td3`.
    """
    if not isinstance(config, DDPGConfig):
        raise TypeError(f"make_ddpg needs a DDPGConfig, got {type(config).__name__}")
    return make_td3(config, env_spec)
