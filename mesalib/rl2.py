"""RL² (Duan et al. 2016; Wang et al. 2016): meta-learn a bandit algorithm as a recurrent policy.

A GRU sees its previous action, previous reward and the time, and chooses an arm. The *outer*
("slow") learner is advantage actor-critic with GAE across many sampled tasks; once trained and
frozen, the network's hidden state is the *inner* ("fast") learner: it adapts to each new
task within an episode with no weight change. The whole meta-training loop is one compiled
``lax.scan`` per progress chunk, and independent seeds are a ``vmap`` axis.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mesalib import bandits, nn, rl, train, validate
from mesalib.bandits import Rollout


class Config(NamedTuple):
    """Meta-training settings; the defaults are the book's (n = 10 pulls, k = 5 arms)."""
    num_arms: int = 5
    num_pulls: int = 10
    prior: str = "uniform"           # task distribution, see bandits.sample_tasks
    hidden: int = 64                 # GRU width
    batch_size: int = 256            # tasks per update
    num_updates: int = 1500
    learning_rate: float = 3e-3
    learning_rate_end: float | None = None   # if set, the step size decays linearly to this value
    max_grad_norm: float = 1.0
    gamma: float = 1.0               # the objective is the undiscounted number of successes
    gae_lambda: float = 0.95
    entropy_start: float = 0.03      # entropy bonus, annealed linearly ...
    entropy_end: float = 0.0         # ... to this value at the last update
    value_coef: float = 0.5
    normalize_advantages: bool = True

    def smoke(self) -> "Config":
        """A few updates on small batches: same code path, seconds to run."""
        return self._replace(num_updates=min(self.num_updates, 20), batch_size=min(self.batch_size, 32))

    def validated(self) -> "Config":
        """Check every field (types, ranges, values that survive float32); return the config."""
        validate.instance("config", self, Config, "an rl2.Config")
        validate.integer("num_arms", self.num_arms, minimum=2, maximum=1024)
        validate.integer("num_pulls", self.num_pulls, minimum=1, maximum=100_000)
        validate.choice("prior", self.prior, set(bandits.PRIORS) - {"beta"})
        if self.prior == "dependent" and self.num_arms != 2:
            raise ValueError(f"num_arms must be 2 for the dependent prior, got {self.num_arms}")
        validate.integer("hidden", self.hidden, minimum=1, maximum=65_536)
        validate.integer("batch_size", self.batch_size, minimum=2)
        validate.integer("num_updates", self.num_updates, minimum=1)
        f32 = np.float32
        validate.real("learning_rate", self.learning_rate, low=0.0, low_open=True, dtype=f32)
        if self.learning_rate_end is not None:
            validate.real("learning_rate_end", self.learning_rate_end, low=0.0, dtype=f32)
        validate.real("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True, dtype=f32)
        validate.real("gamma", self.gamma, low=0.0, high=1.0, dtype=f32)
        validate.real("gae_lambda", self.gae_lambda, low=0.0, high=1.0, dtype=f32)
        validate.real("entropy_start", self.entropy_start, low=0.0, dtype=f32)
        validate.real("entropy_end", self.entropy_end, low=0.0, dtype=f32)
        validate.real("value_coef", self.value_coef, low=0.0, dtype=f32)
        validate.boolean("normalize_advantages", self.normalize_advantages)
        return self


def init_params(key, num_arms: int, hidden: int = 64) -> dict:
    """GRU core, policy head (small init: near-uniform first choices) and a zero value head."""
    validate.prng_key("key", key)
    num_arms = validate.integer("num_arms", num_arms, minimum=2)
    k1, k2 = jax.random.split(key)
    return {
        "gru": nn.gru_init(k1, num_arms + 2, hidden),
        "pi": nn.dense_init(k2, hidden, num_arms, scale=0.01),
        # A zero value head keeps early value errors from swamping the policy gradient.
        "v": {"w": jnp.zeros((hidden, 1)), "b": jnp.zeros((1,))},
    }


class Step(NamedTuple):
    logp: jax.Array
    value: jax.Array
    entropy: jax.Array
    reward: jax.Array
    action: jax.Array


def check_params(params, name: str = "params") -> tuple:
    """Check one network's parameters (as from :func:`init_params`; no seed axis): the keys, the
    shapes that must agree, and finite values. Returns (num_arms, hidden)."""
    validate.dict_keys(name, params, ("gru", "pi", "v"), "the parameters of one RL² network (rl2.init_params)")
    validate.dict_keys(f"{name}['gru']", params["gru"], ("wi", "wh", "b"), "GRU parameters")
    validate.dict_keys(f"{name}['pi']", params["pi"], ("w", "b"), "a dense layer")
    validate.dict_keys(f"{name}['v']", params["v"], ("w", "b"), "a dense layer")
    wi, wh, pw = np.shape(params["gru"]["wi"]), np.shape(params["gru"]["wh"]), np.shape(params["pi"]["w"])
    if len(wh) != 2 or len(pw) != 2 or len(wi) != 2:
        raise ValueError(f"{name} must hold one network (2-D weights); got {name}['gru']['wh'] of shape {wh} "
                         "(for a batch of seeds, take one with rl2.seed_slice(params, i))")
    hidden, k = wh[0], pw[1]
    expected = {("gru", "wi"): (k + 2, 3 * hidden), ("gru", "wh"): (hidden, 3 * hidden), ("gru", "b"): (3 * hidden,),
                ("pi", "w"): (hidden, k), ("pi", "b"): (k,), ("v", "w"): (hidden, 1), ("v", "b"): (1,)}
    for (a, b), shape in expected.items():
        if np.shape(params[a][b]) != shape:
            raise ValueError(f"{name}['{a}']['{b}'] must have shape {shape} for a network with {k} arms and "
                             f"hidden={hidden}, got {np.shape(params[a][b])}")
    if validate.concrete(params):
        validate.finite_tree(name, params)
    return k, hidden


def policy_step(params, h, obs):
    """One recurrent step on a bandit observation (see :func:`mesalib.bandits.observe`): -> (h, logits).

    h: (hidden,); obs: (k + 2,).
    """
    k, hidden = check_params(params)
    if np.shape(h) != (hidden,) or np.shape(obs) != (k + 2,):
        raise ValueError(f"h must have shape ({hidden},) and obs ({k + 2},) for this network, got "
                         f"{np.shape(h)} and {np.shape(obs)}")
    h = nn.gru_cell(params["gru"], h, obs)
    return h, nn.dense_apply(params["pi"], h)


def _episode(params, key, probs, num_pulls: int, horizon: float, greedy: bool = False,
             clamp_time: bool = False) -> Step:
    """One task of the bandit environment, ``num_pulls`` pulls; time enters as t / horizon
    (held at 1 from the horizon on when ``clamp_time``)."""
    env_params = bandits.default_params(probs, horizon, clamp_time)
    hidden = params["gru"]["wh"].shape[0]

    def body(carry, key_t):
        h, obs, state = carry
        h, logits = policy_step(params, h, obs)
        value = nn.dense_apply(params["v"], h)[0] * horizon  # the head predicts successes per pull
        ka, kr = jax.random.split(key_t)
        # greedy may be traced (one compiled evaluation serves both); the draw is made either way,
        # so a sampled and a greedy run consume the same keys
        a = jnp.where(greedy, jnp.argmax(logits), jax.random.categorical(ka, logits))
        obs, state, r, _, _, _ = bandits.step(kr, state, a, env_params)
        out = Step(jax.nn.log_softmax(logits)[a], value, rl.categorical_entropy(logits), r, a)
        return (h, obs, state), out

    obs, state = bandits.reset(key, env_params)
    _, out = jax.lax.scan(body, (jnp.zeros(hidden), obs, state), jax.random.split(key, num_pulls))
    return out


def _sample_tasks(key, config: Config):
    return bandits.sample_tasks(key, config.batch_size, config.num_arms, config.prior)


def _loss(params, key, entropy_coef, config: Config):
    k_task, k_ep = jax.random.split(key)
    probs = _sample_tasks(k_task, config)
    keys = jax.random.split(k_ep, config.batch_size)
    out = jax.vmap(_episode, in_axes=(None, 0, 0, None, None))(params, keys, probs, config.num_pulls,
                                                              float(config.num_pulls))
    # Time-major (T, B) for the backward GAE recursion; the episode ends after the last pull.
    rewards, values = out.reward.T, jax.lax.stop_gradient(out.value.T)
    dones = jnp.zeros_like(rewards)
    adv, ret = rl.gae(rewards, values, jnp.zeros(config.batch_size), dones, config.gamma, config.gae_lambda)
    policy_loss = -(out.logp.T * (rl.normalize(adv) if config.normalize_advantages else adv)).mean()
    # Measured per pull, the value error has the same scale for every horizon.
    value_loss = 0.5 * (((out.value.T - ret) / config.num_pulls) ** 2).mean()
    entropy = out.entropy.mean()
    loss = policy_loss + config.value_coef * value_loss - entropy_coef * entropy
    return loss, {"return": out.reward.sum(1).mean(), "entropy": entropy, "value_loss": value_loss}


class TrainState(NamedTuple):
    params: dict
    opt_state: optax.OptState
    key: jax.Array
    update: jax.Array


def _optimizer(config: Config):
    lr = config.learning_rate
    if config.learning_rate_end is not None:
        lr = optax.linear_schedule(config.learning_rate, config.learning_rate_end, config.num_updates)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr))


def make_train(config: Config) -> train.Trainer:
    """RL² in the book's trainer shape: ``init(key) -> TrainState``, ``update(state) -> (state, metrics)``.

    The entropy bonus follows a linear ``optax`` schedule from ``entropy_start`` to ``entropy_end``.
    Cached on the config, so training twice with one config compiles once.
    """
    validate.instance("config", config, Config, "an rl2.Config")
    return _make_train(config.validated())


@functools.lru_cache(maxsize=32)
def _make_train(config: Config) -> train.Trainer:
    opt = _optimizer(config)
    entropy = optax.linear_schedule(config.entropy_start, config.entropy_end, max(config.num_updates - 1, 1))

    def init(key) -> TrainState:
        k_init, k_train = jax.random.split(key)
        params = init_params(k_init, config.num_arms, config.hidden)
        return TrainState(params, opt.init(params), k_train, jnp.zeros((), jnp.int32))

    def update(state: TrainState):
        key, sub = jax.random.split(state.key)
        grads, metrics = jax.grad(_loss, has_aux=True)(state.params, sub, entropy(state.update), config)
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, key, state.update + 1), metrics

    return train.Trainer(init, update, config.num_updates)


class Result(NamedTuple):
    params: dict          # leaves have a leading seed axis
    returns: np.ndarray   # (updates, seeds): mean successes per episode during training
    entropy: np.ndarray   # (updates, seeds)


def train_seeds(keys, config: Config = Config(), progress: bool | str = True, num_chunks: int = 10,
                init=None) -> Result:
    """Meta-train one network per key (``keys: (seeds,)``) in a single compiled, vmapped loop.

    ``init`` continues training from given parameters (one network, shared by every seed, e.g. a
    stored one) instead of a fresh initialization; the optimizer state starts fresh.
    """
    keys = validate.key_batch("keys", keys)
    validate.instance("config", config, Config, "an rl2.Config")
    config = config.validated()
    validate.progress("progress", progress)
    num_chunks = validate.integer("num_chunks", num_chunks, minimum=1)
    trainer = make_train(config)
    start = None
    if init is not None:
        fresh = init_params(jax.random.key(0), config.num_arms, config.hidden)
        if jax.tree_util.tree_structure(init) != jax.tree_util.tree_structure(fresh) or any(
                np.shape(a) != np.shape(b) for a, b in zip(jax.tree_util.tree_leaves(init),
                                                           jax.tree_util.tree_leaves(fresh))):
            raise ValueError(f"init must be the parameters of a network with num_arms={config.num_arms} "
                             f"and hidden={config.hidden}")
        check_params(init, "init")
        states = jax.vmap(trainer.init)(keys)
        params = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(jnp.asarray(x, jnp.float32),
                                                                   (len(keys),) + np.shape(x)), init)
        start = states._replace(params=params, opt_state=jax.vmap(_optimizer(config).init)(params))
    summary = lambda m: f"mean successes {float(np.mean(m['return'][-1])):.2f}"  # noqa: E731
    out = train.train_seeds(trainer, keys, progress=progress, num_chunks=num_chunks, summary=summary,
                            init_state=start)
    return Result(out.state.params, np.asarray(out.metrics["return"]), np.asarray(out.metrics["entropy"]))


def evaluate(params, key, probs, num_pulls: int | None = None, horizon: int | None = None,
             greedy: bool = False, clamp_time: bool = False) -> Rollout:
    """Run a frozen network on every task in ``probs: (tasks, k)``; same Rollout as bandits.run.

    ``horizon`` is the training horizon used to scale the time input (default: ``num_pulls``);
    evaluating with more pulls than that feeds the network times it never saw, unless
    ``clamp_time`` holds the time input at its last training value from the horizon on.
    ``greedy`` takes the most probable arm instead of sampling one.
    """
    k, _ = check_params(params)
    validate.prng_key("key", key)
    validate.probabilities("probs", probs, ndim=2)
    if np.shape(probs)[1] != k:
        raise ValueError(f"probs has {np.shape(probs)[1]} arms but the network was trained for {k}")
    num_pulls = validate.integer("num_pulls", num_pulls, minimum=1)
    horizon = num_pulls if horizon is None else validate.integer("horizon", horizon, minimum=1)
    greedy = validate.boolean("greedy", greedy)
    clamp_time = validate.boolean("clamp_time", clamp_time)
    # only the number of pulls (the scan's length) is static: another horizon, greedy play or a
    # clamped time input reuses the compiled evaluation
    return _evaluate(params, key, jnp.asarray(probs, jnp.float32), num_pulls, jnp.float32(horizon),
                     jnp.bool_(greedy), jnp.bool_(clamp_time))


@functools.partial(jax.jit, static_argnums=(3,))
def _evaluate(params, key, probs, num_pulls, horizon, greedy, clamp_time):
    keys = jax.random.split(key, probs.shape[0])
    out = jax.vmap(_episode, in_axes=(None, 0, 0, None, None, None, None))(params, keys, probs, num_pulls, horizon,
                                                                          greedy, clamp_time)
    return Rollout(out.action.astype(jnp.int32), out.reward)


class Replay(NamedTuple):
    """A network fed a given history: its hidden state before each pull (tasks, pulls, hidden) and
    its choice probabilities there (tasks, pulls, k)."""
    hidden: jax.Array
    probs: jax.Array


def replay(params, rollout: Rollout, horizon: int | None = None) -> Replay:
    """Feed the network the actions and rewards of ``rollout`` (from any algorithm) instead of its
    own, and record what it holds and would do before each pull: situations it did not choose
    to reach can be probed. ``horizon`` scales the time input as in :func:`evaluate` (default:
    the rollout's length).
    """
    k, _ = check_params(params)
    validate.instance("rollout", rollout, Rollout, "a bandits.Rollout (from bandits.run or rl2.evaluate)")
    actions = validate.array("rollout.actions", rollout.actions, integer=True, allow_empty=True)
    rewards = validate.array("rollout.rewards", rollout.rewards, low=0.0, high=1.0, allow_empty=True)
    if actions.ndim != 2 or actions.shape != rewards.shape:
        raise ValueError(f"rollout must hold (tasks, pulls) actions and rewards of the same shape, got "
                         f"{actions.shape} and {rewards.shape}")
    if actions.size and (actions.min() < 0 or actions.max() >= k):
        raise ValueError(f"rollout actions must be arm indices in [0, {k - 1}] for this network")
    horizon = actions.shape[1] if horizon is None else validate.integer("horizon", horizon, minimum=1)
    return _replay(params, jnp.asarray(actions, jnp.int32), jnp.asarray(rewards, jnp.float32), float(horizon))


def action_probs(params, rollout: Rollout, horizon: int | None = None) -> jax.Array:
    """The network's choice probabilities before each pull of a given history, (tasks, pulls, k)
    (see :func:`replay`)."""
    return replay(params, rollout, horizon).probs


@functools.partial(jax.jit, static_argnums=(3,))
def _replay(params, actions, rewards, horizon):
    k = params["pi"]["w"].shape[-1]
    hidden = params["gru"]["wh"].shape[0]

    def one(acts, rews):
        def step(carry, inp):
            h, prev_a, prev_r = carry
            t, a, r = inp
            obs = jnp.concatenate([prev_a, prev_r[None], (t / horizon)[None]])
            h, logits = policy_step(params, h, obs)
            return (h, jax.nn.one_hot(a, k), r), (h, jax.nn.softmax(logits))

        init = (jnp.zeros(hidden), jnp.zeros(k), jnp.zeros(()))
        ts = jnp.arange(acts.shape[0], dtype=jnp.float32)
        return jax.lax.scan(step, init, (ts, acts, rews))[1]

    return Replay(*jax.vmap(one)(actions, rewards))


seed_slice = train.seed_slice
