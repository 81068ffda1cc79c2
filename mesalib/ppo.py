"""Proximal policy optimization (Schulman et al. 2017) for feed-forward policies, compiled end to end.

In the PureJaxRL style: rollouts, GAE and the clipped-surrogate updates of one PPO iteration are
one pure function, ``lax.scan``-ned over iterations inside one ``jit``; many runs (seeds, and
runs whose level distributions differ only in data, such as a probability alpha) are a ``vmap``
axis of that same compiled program.

The trainer works for any environment given as an ``Env`` bundle (``reset(key, params)``,
``step_env(state, action, params)``, ``num_actions``, ``obs_shape(params)``; see
:mod:`mesalib.gridworld`) and any level sampler ``sample_level(key, task) -> env params``. Each
environment slot draws a fresh level from its run's ``task`` whenever an episode ends. A
truncated episode is treated like a terminated one in GAE (no bootstrap), the usual PureJaxRL
simplification; with a step limit well above the task's path lengths it rarely matters.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mesalib import nn, rl, validate
from mesalib import train as loop


class PPOConfig(NamedTuple):
    """PPO settings; the defaults are the book's (chapter 2). ``smoke()`` shrinks the budget."""
    num_envs: int = 16          # parallel environments per run
    num_steps: int = 32         # rollout length per environment per iteration
    num_updates: int = 80       # PPO iterations
    epochs: int = 4             # passes over each rollout
    minibatches: int = 4        # minibatches per pass
    hidden: tuple = (64,)       # hidden widths of the shared MLP torso
    lr: float = 4e-3            # Adam step size, decayed linearly to lr_end
    lr_end: float = 4e-4
    gamma: float = 0.95
    gae_lambda: float = 0.95
    clip_eps: float = 0.2       # ratio clipping of the surrogate objective
    ent_coef: float = 0.05      # entropy bonus, annealed linearly to ent_coef_end
    ent_coef_end: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5

    def smoke(self) -> "PPOConfig":
        """A tiny budget with the same code path (for fast checks)."""
        return self._replace(num_envs=8, num_steps=8, num_updates=3)

    def check(self) -> "PPOConfig":
        """Check every field (types, ranges, values that survive float32); hidden becomes a tuple."""
        for name in ("num_envs", "num_steps", "num_updates", "epochs", "minibatches"):
            validate.integer(name, getattr(self, name), minimum=1)
        if (self.num_envs * self.num_steps) % self.minibatches:
            raise ValueError(f"minibatches ({self.minibatches}) must divide num_envs * num_steps "
                             f"({self.num_envs * self.num_steps})")
        hidden = _widths("hidden", self.hidden)
        f32 = np.float32
        validate.real("lr", self.lr, low=0.0, low_open=True, dtype=f32)
        validate.real("lr_end", self.lr_end, low=0.0, dtype=f32)
        validate.real("gamma", self.gamma, low=0.0, high=1.0, dtype=f32)
        validate.real("gae_lambda", self.gae_lambda, low=0.0, high=1.0, dtype=f32)
        validate.real("clip_eps", self.clip_eps, low=0.0, low_open=True, dtype=f32)
        validate.real("ent_coef", self.ent_coef, low=0.0, dtype=f32)
        validate.real("ent_coef_end", self.ent_coef_end, low=0.0, dtype=f32)
        validate.real("vf_coef", self.vf_coef, low=0.0, dtype=f32)
        validate.real("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True, dtype=f32)
        return self._replace(hidden=hidden)


def _widths(name: str, hidden) -> tuple:
    """Hidden widths as a non-empty tuple of positive integers."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"{name} must be a sequence of layer widths such as (64,), got {hidden!r}")
    hidden = tuple(hidden)
    if not hidden:
        raise ValueError(f"{name} must list at least one width")
    return tuple(validate.integer(f"{name}[{i}]", h, minimum=1, maximum=65_536) for i, h in enumerate(hidden))


def check_env(env, name: str = "env"):
    """An environment bundle like ``mesalib.gridworld.ENV``: reset, step_env, num_actions, obs_shape."""
    for field in ("reset", "step_env", "obs_shape"):
        if not callable(getattr(env, field, None)):
            raise ValueError(f"{name} must be an environment bundle with reset, step_env, num_actions and obs_shape "
                             f"(e.g. gridworld.ENV); {type(env).__name__} has no callable {field}")
    validate.integer(f"{name}.num_actions", getattr(env, "num_actions", None), minimum=2)
    return env


def check_policy(params, name: str = "params", obs=None) -> tuple:
    """Check one policy's parameters (as from :func:`init_policy`; no run axis) and, if given, that
    ``obs`` has as many entries as the torso's input. Returns (obs_dim, num_actions)."""
    validate.dict_keys(name, params, ("torso", "actor", "critic"), "the parameters of one PPO policy (ppo.init_policy)")
    torso = params["torso"]
    if not isinstance(torso, (list, tuple)) or not torso:
        raise ValueError(f"{name}['torso'] must be a non-empty list of dense layers")
    layers = [(f"{name}['torso'][{i}]", layer) for i, layer in enumerate(torso)]
    layers += [(f"{name}['actor']", params["actor"]), (f"{name}['critic']", params["critic"])]
    for n, layer in layers:
        validate.dict_keys(n, layer, ("w", "b"), "a dense layer")
        if np.ndim(layer["w"]) != 2:
            raise ValueError(f"{n}['w'] must be a 2-D weight matrix of one policy, got shape {np.shape(layer['w'])} "
                             "(for a batch of runs, take one with train.seed_slice(params, i))")
    width = np.shape(torso[0]["w"])[0]
    for n, layer in layers[:len(torso)]:
        if np.shape(layer["w"])[0] != width:
            raise ValueError(f"{n}['w'] takes {np.shape(layer['w'])[0]} inputs but the layer before gives {width}")
        width = np.shape(layer["w"])[1]
    for n, layer in layers[len(torso):]:
        if np.shape(layer["w"])[0] != width:
            raise ValueError(f"{n}['w'] takes {np.shape(layer['w'])[0]} inputs but the torso gives {width}")
    if np.shape(params["critic"]["w"])[1] != 1:
        raise ValueError(f"{name}['critic']['w'] must have one output, got shape {np.shape(params['critic']['w'])}")
    obs_dim = np.shape(torso[0]["w"])[0]
    if obs is not None and int(np.prod(np.shape(obs))) != obs_dim:
        raise ValueError(f"obs has {int(np.prod(np.shape(obs)))} entries (shape {np.shape(obs)}) but the policy "
                         f"takes {obs_dim}")
    if validate.concrete(params):
        validate.finite_tree(name, params)
    return obs_dim, np.shape(params["actor"]["w"])[1]


def init_policy(key, obs_dim: int, num_actions: int, hidden=(64,)) -> dict:
    """An MLP torso over the flattened observation shared by an actor head and a critic head.

    The actor head starts near zero (an almost uniform first policy) and the critic head at
    exactly zero, which keeps early updates calm. params: {"torso": [...], "actor", "critic"}.
    """
    validate.prng_key("key", key)
    obs_dim = validate.integer("obs_dim", obs_dim, minimum=1)
    num_actions = validate.integer("num_actions", num_actions, minimum=2)
    hidden = _widths("hidden", hidden)
    kt, ka = jax.random.split(key)
    torso = nn.mlp_init(kt, (obs_dim, *hidden))
    actor = nn.dense_init(ka, hidden[-1], num_actions, scale=0.01)
    critic = {"w": jnp.zeros((hidden[-1], 1)), "b": jnp.zeros((1,))}
    return {"torso": torso, "actor": actor, "critic": critic}


def _features(params: dict, obs: jax.Array) -> jax.Array:
    x = obs.reshape(-1).astype(jnp.float32)
    for layer in params["torso"]:
        x = jax.nn.relu(nn.dense_apply(layer, x))
    return x


def heads(params: dict, obs: jax.Array):
    """(logits (num_actions,), value ()) for one observation (any shape, flattened)."""
    check_policy(params, obs=obs)
    if validate.concrete(obs):
        validate.array("obs", obs)
    h = _features(params, obs)
    return nn.dense_apply(params["actor"], h), nn.dense_apply(params["critic"], h)[0]


def logits_fn(params: dict, obs: jax.Array) -> jax.Array:
    """Action logits for one observation: -> (num_actions,)."""
    return heads(params, obs)[0]


def value_fn(params: dict, obs: jax.Array) -> jax.Array:
    """State value for one observation: -> ()."""
    return heads(params, obs)[1]


def sample_action(params: dict, key, obs, greedy: bool = False):
    """Draw an action from the policy (or take its argmax when ``greedy``)."""
    if validate.concrete(key):
        validate.prng_key("key", key)
    if validate.concrete(greedy):
        validate.boolean("greedy", greedy)
    logits = logits_fn(params, obs)
    return jnp.argmax(logits) if greedy else jax.random.categorical(key, logits)


class RunState(NamedTuple):
    """Everything one run carries between PPO iterations (one run; batch runs with vmap)."""
    params: dict
    opt_state: optax.OptState
    env_state: object
    env_params: object
    obs: jax.Array
    episode_return: jax.Array   # (num_envs,) running return of the current episodes
    episode_length: jax.Array   # (num_envs,)
    task: object
    key: jax.Array
    update: jax.Array           # () int32 PPO iterations done


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    logp: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


def make_train(config: PPOConfig, env, sample_level: Callable) -> loop.Trainer:
    """PPO in the book's trainer shape: ``init(key, task) -> RunState`` and
    ``update(RunState) -> (RunState, metrics)`` (one PPO iteration; pure, jit/vmap/scan-able).

    ``task`` is the run's level distribution, handed to ``sample_level(key, task)``. metrics: dict
    of scalars — the number of episodes that ended during the iteration, their mean return and
    length (0 when none ended: weight by ``episodes``), and the loss terms. Cached on its
    (hashable) arguments, so a second call with the same ones compiles nothing new; pass
    module-level functions, not fresh lambdas.
    """
    validate.instance("config", config, PPOConfig, "a ppo.PPOConfig")
    config = config.check()
    check_env(env)
    validate.function("sample_level", sample_level, "(key, task) -> env params")
    try:
        hash((config, env, sample_level))
    except TypeError:
        raise ValueError("config, env and sample_level must be hashable (tuples, not lists, in the config; "
                         "module-level functions)") from None
    return _make_train(config, env, sample_level)


@functools.lru_cache(maxsize=32)
def _make_train(config: PPOConfig, env, sample_level: Callable) -> loop.Trainer:
    n_env, n_steps = config.num_envs, config.num_steps
    batch = n_env * n_steps
    mb_size = batch // config.minibatches
    total = config.num_updates * config.epochs * config.minibatches
    schedule = optax.linear_schedule(config.lr, config.lr_end, total)
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                            optax.adam(schedule, eps=1e-5))

    def new_episode(key, task):
        k_level, k_reset = jax.random.split(key)
        level = sample_level(k_level, task)
        obs, state = env.reset(k_reset, level)
        return obs, state, level

    def init(key, task) -> RunState:
        k_net, k_env, key = jax.random.split(key, 3)
        obs, state, level = jax.vmap(new_episode, in_axes=(0, None))(jax.random.split(k_env, n_env), task)
        obs_dim = int(np.prod(obs.shape[1:]))
        params = init_policy(k_net, obs_dim, env.num_actions, config.hidden)
        zeros = jnp.zeros((n_env,), jnp.float32)
        return RunState(params, optimizer.init(params), state, level, obs, zeros, zeros, task, key, jnp.int32(0))

    def env_step(rs: RunState, key):
        k_act, k_new = jax.random.split(key)
        obs_before = rs.obs
        logits, value = jax.vmap(heads, in_axes=(None, 0))(rs.params, rs.obs)
        action = jax.random.categorical(k_act, logits)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=1)[:, 0]
        obs, state, reward, term, trunc = jax.vmap(env.step_env)(rs.env_state, action, rs.env_params)
        done = term | trunc
        # Episodes that ended restart on a freshly drawn level of this run's distribution.
        obs0, state0, level0 = jax.vmap(new_episode, in_axes=(0, None))(jax.random.split(k_new, n_env), rs.task)

        def pick(fresh, cont):
            d = done.reshape(done.shape + (1,) * (cont.ndim - 1))
            return jnp.where(d, fresh, cont)

        ret = rs.episode_return + reward
        length = rs.episode_length + 1
        finished = (done, ret, length)
        rs = rs._replace(
            obs=pick(obs0, obs), env_state=jax.tree_util.tree_map(pick, state0, state),
            env_params=jax.tree_util.tree_map(pick, level0, rs.env_params),
            episode_return=jnp.where(done, 0.0, ret), episode_length=jnp.where(done, 0.0, length))
        return rs, (Transition(obs_before, action, logp, value, reward, done), finished)

    def rollout(rs: RunState):
        key, sub = jax.random.split(rs.key)
        rs, (traj, finished) = jax.lax.scan(env_step, rs._replace(key=key), jax.random.split(sub, n_steps))
        return rs, traj, finished

    def loss_fn(params, mb, ent_coef):
        tr, adv, ret = mb
        logits, value = jax.vmap(heads, in_axes=(None, 0))(params, tr.obs)
        logp_all = jax.nn.log_softmax(logits)
        logp = jnp.take_along_axis(logp_all, tr.action[:, None], axis=1)[:, 0]
        ratio = jnp.exp(logp - tr.logp)
        adv = rl.normalize(adv)
        surrogate = jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - config.clip_eps, 1 + config.clip_eps) * adv)
        policy_loss = -surrogate.mean()
        # Clipped value loss, as in the reference PPO implementations.
        v_clip = tr.value + jnp.clip(value - tr.value, -config.clip_eps, config.clip_eps)
        value_loss = 0.5 * jnp.maximum((value - ret) ** 2, (v_clip - ret) ** 2).mean()
        entropy = rl.categorical_entropy(logits).mean()
        total_loss = policy_loss + config.vf_coef * value_loss - ent_coef * entropy
        return total_loss, (policy_loss, value_loss, entropy)

    def update(rs: RunState):
        rs, traj, (done, ret, length) = rollout(rs)
        last_value = jax.vmap(value_fn, in_axes=(None, 0))(rs.params, rs.obs)
        adv, targets = rl.gae(traj.reward, traj.value, last_value, traj.done, config.gamma, config.gae_lambda)
        flat = jax.tree_util.tree_map(lambda x: x.reshape((batch,) + x.shape[2:]), (traj, adv, targets))
        frac = rs.update / max(config.num_updates - 1, 1)
        ent_coef = config.ent_coef + frac * (config.ent_coef_end - config.ent_coef)

        def epoch(carry, key):
            params, opt_state = carry
            perm = jax.random.permutation(key, batch)
            shuffled = jax.tree_util.tree_map(
                lambda x: x[perm].reshape((config.minibatches, mb_size) + x.shape[1:]), flat)

            def minibatch(carry, mb):
                params, opt_state = carry
                (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb, ent_coef)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), (loss, *aux)

            return jax.lax.scan(minibatch, (params, opt_state), shuffled)

        key, sub = jax.random.split(rs.key)
        (params, opt_state), losses = jax.lax.scan(epoch, (rs.params, rs.opt_state),
                                                   jax.random.split(sub, config.epochs))
        n_done = done.sum()
        denom = jnp.maximum(n_done, 1)
        metrics = {
            "episodes": n_done,
            "return": (ret * done).sum() / denom,
            "length": (length * done).sum() / denom,
            "loss": losses[0].mean(),
            "policy_loss": losses[1].mean(),
            "value_loss": losses[2].mean(),
            "entropy": losses[3].mean(),
        }
        return rs._replace(params=params, opt_state=opt_state, key=key, update=rs.update + 1), metrics

    return loop.Trainer(init, update, config.num_updates)


def train(keys, tasks, config: PPOConfig, env, sample_level: Callable, progress: bool | str = False,
          num_chunks: int = 5):
    """Train one policy per (key, task) pair, all runs in one compiled, vmapped program.

    keys: (runs,) typed keys; tasks: a pytree whose leaves have a leading (runs,) axis.
    Returns (final RunState batched over runs, metrics dict of (num_updates, runs) arrays).
    """
    keys = validate.key_batch("keys", keys)
    config = config.check() if isinstance(config, PPOConfig) else None
    if config is None:
        raise ValueError("config must be a PPOConfig")
    check_env(env)
    validate.function("sample_level", sample_level, "(key, task) -> env params")
    validate.progress("progress", progress)
    num_chunks = validate.integer("num_chunks", num_chunks, minimum=1)
    runs = keys.shape[0]
    for i, leaf in enumerate(jax.tree_util.tree_leaves(tasks)):
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] != runs:
            raise ValueError(f"every leaf of tasks needs a leading axis of length {runs} (one per key); "
                             f"leaf {i} has shape {np.shape(leaf)}")
    trainer = make_train(config, env, sample_level)
    summary = (lambda m: f"return {np.mean(m['return'][-1]):.2f}") if progress else None
    out = loop.train_seeds(trainer, keys, tasks, progress=progress, num_chunks=num_chunks, summary=summary)
    return out.state, out.metrics


def policy_sampler(params: dict, greedy: bool = False) -> Callable:
    """``policy(key, obs) -> action`` for one trained network (for rollouts)."""
    check_policy(params)
    greedy = validate.boolean("greedy", greedy)
    return lambda key, obs: sample_action(params, key, obs, greedy)
