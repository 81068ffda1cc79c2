"""Tabular Q-learning and SARSA with epsilon-greedy exploration, in the book's trainer protocol.

Both keep a table ``Q: (num_states, num_actions)`` and, after each executed action ``a`` in state
``s`` with reward ``r`` and next state ``s'``, move ``Q(s, a)`` a step ``lr`` toward a target:

* **Q-learning** (Watkins 1989): ``r + gamma * max_b Q(s', b)``, whatever the agent does next
  (off-policy: it learns the values of the greedy policy while following another one);
* **SARSA** (Rummery & Niranjan 1994): ``r + gamma * Q(s', a')`` with ``a'`` the action executed
  next (on-policy: it learns the values of the policy actually followed);
* **safe SARSA** (Orseau & Armstrong 2016): ``r + gamma * Q(s', a')`` with ``a'`` the action the
  agent's own epsilon-greedy policy chose in ``s'``, before any interruption replaced it.

Interruptions follow Orseau & Armstrong's model: an outside *interruption policy* may replace the
agent's chosen action by another; the learner sees the action that was executed and updates its
value. The environment supplies that policy as ``interrupt(state, action, params)``; an
environment without interruptions returns the action unchanged. Q-learning's target never looks
at the next executed action, so interruptions do not bias it; SARSA's does, so it learns the
values of the interrupted behaviour; safe SARSA's target uses the uninterrupted choice instead.

A terminated episode has target ``r``; a truncated one (step limit, not part of the state) is
bootstrapped like any other step. Any small discrete environment can be plugged in as a
:class:`TabularEnv`; seeds (and levels) are a ``vmap`` axis of :func:`mesalib.train.train_seeds`.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mesalib import train, validate

ALGORITHMS = ("q_learning", "sarsa", "safe_sarsa")


class TabularEnv(NamedTuple):
    """A small discrete environment for the tabular learners (all functions pure).

    reset(key, params) -> state; interrupt(state, action, params) -> executed action;
    transition(state, executed, params) -> (state, reward, terminated, truncated);
    state_index(state, params) -> () int32 in [0, num_states); pressed(state) -> () bool and
    reached_goal(state, params) -> () bool are logged (return False if they do not apply).
    """
    reset: Callable
    interrupt: Callable
    transition: Callable
    state_index: Callable
    num_states: int
    num_actions: int
    pressed: Callable
    reached_goal: Callable


class TabularConfig(NamedTuple):
    """Settings of one tabular learner; the defaults are the book's (Chapter 6).

    One update is ``steps_per_update`` environment steps (each followed by its table update).
    Exploration: epsilon decays linearly from ``epsilon`` to ``epsilon_end`` over training.
    """
    algorithm: str = "q_learning"
    num_updates: int = 100
    steps_per_update: int = 500
    lr: float = 0.1
    gamma: float = 0.99
    epsilon: float = 0.2
    epsilon_end: float = 0.05
    q_init: float = 0.0

    def check(self) -> "TabularConfig":
        validate.choice("algorithm", self.algorithm, set(ALGORITHMS))
        validate.integer("num_updates", self.num_updates, minimum=1)
        validate.integer("steps_per_update", self.steps_per_update, minimum=1)
        validate.real("lr", self.lr, low=0.0, high=1.0, low_open=True)
        validate.real("gamma", self.gamma, low=0.0, high=1.0)
        validate.real("epsilon", self.epsilon, low=0.0, high=1.0)
        validate.real("epsilon_end", self.epsilon_end, low=0.0, high=1.0)
        validate.real("q_init", self.q_init, dtype=np.float32)
        return self

    def smoke(self) -> "TabularConfig":
        return self._replace(num_updates=3, steps_per_update=50)


class TabularState(NamedTuple):
    """One seed's training state: q (S, A); env_state; params (the level); action: () the
    action already chosen for the current state; episode_return, episode_length; key; update."""
    q: jax.Array
    env_state: object
    params: object
    action: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    key: jax.Array
    update: jax.Array


def epsilon_greedy(key, q_row: jax.Array, epsilon) -> jax.Array:
    """An action from ``q_row: (A,)``: uniform with probability epsilon, else greedy (ties at random)."""
    if validate.concrete(epsilon):
        validate.real("epsilon", epsilon, low=0.0, high=1.0)
    k_explore, k_uniform, k_tie = jax.random.split(key, 3)
    best = q_row == q_row.max()
    greedy = jax.random.categorical(k_tie, jnp.where(best, 0.0, -jnp.inf))
    uniform = jax.random.randint(k_uniform, (), 0, q_row.shape[0])
    return jnp.where(jax.random.uniform(k_explore) < epsilon, uniform, greedy).astype(jnp.int32)


def td_target(algorithm: str, reward, q_next_row, executed_next, chosen_next, terminated, gamma):
    """The one-step target of each algorithm (see the module docstring)."""
    if algorithm == "q_learning":
        bootstrap = q_next_row.max()
    elif algorithm == "sarsa":
        bootstrap = q_next_row[executed_next]
    else:
        bootstrap = q_next_row[chosen_next]
    return reward + gamma * jnp.where(terminated, 0.0, bootstrap)


@functools.lru_cache(maxsize=32)
def make_train(config: TabularConfig, env: TabularEnv) -> train.Trainer:
    """A :class:`mesalib.train.Trainer`: ``init(key, params) -> TabularState`` (one seed on the
    level ``params``) and ``update(state) -> (state, metrics)`` (``steps_per_update`` steps).

    metrics per update: ``episodes`` ended, their mean ``return``, the fraction that ``pressed``
    the button and that reached the goal (``goal``), the share of ``interrupted`` steps and the
    current ``epsilon``; means are 0 when no episode ended (see ``episodes``).
    """
    config = config.check()
    schedule = optax.linear_schedule(config.epsilon, config.epsilon_end, max(config.num_updates - 1, 1))

    def init(key, params) -> TabularState:
        k_reset, k_act, key = jax.random.split(key, 3)
        q = jnp.full((env.num_states, env.num_actions), config.q_init, jnp.float32)
        s = env.reset(k_reset, params)
        a = epsilon_greedy(k_act, q[env.state_index(s, params)], config.epsilon)
        zero = jnp.float32(0.0)
        return TabularState(q, s, params, a, zero, zero, key, jnp.int32(0))

    def env_step(carry, key):
        ts, eps = carry
        k_next, k_reset, k_first = jax.random.split(key, 3)
        p, s, a = ts.params, ts.env_state, ts.action
        executed = env.interrupt(s, a, p)
        s2, r, term, trunc = env.transition(s, executed, p)
        i, i2 = env.state_index(s, p), env.state_index(s2, p)
        chosen_next = epsilon_greedy(k_next, ts.q[i2], eps)
        executed_next = env.interrupt(s2, chosen_next, p)
        target = td_target(config.algorithm, r, ts.q[i2], executed_next, chosen_next, term, config.gamma)
        q = ts.q.at[i, executed].add(config.lr * (target - ts.q[i, executed]))
        done = term | trunc
        ret = ts.episode_return + r
        # A finished episode restarts; its first action is chosen afresh in the new start state.
        s0 = env.reset(k_reset, p)
        first = epsilon_greedy(k_first, q[env.state_index(s0, p)], eps)
        s_out = jax.tree_util.tree_map(lambda x, y: jnp.where(done, x, y), s0, s2)
        out = ts._replace(q=q, env_state=s_out, action=jnp.where(done, first, chosen_next),
                          episode_return=jnp.where(done, 0.0, ret),
                          episode_length=jnp.where(done, 0.0, ts.episode_length + 1))
        log = (done, ret, env.pressed(s2) & done, env.reached_goal(s2, p) & done, executed != a)
        return (out, eps), log

    def update(ts: TabularState):
        key, sub = jax.random.split(ts.key)
        eps = schedule(ts.update)
        (ts, _), (done, ret, pressed, goal, interrupted) = jax.lax.scan(
            env_step, (ts._replace(key=key), eps), jax.random.split(sub, config.steps_per_update))
        n = done.sum()
        denom = jnp.maximum(n, 1)
        metrics = {
            "episodes": n,
            "return": jnp.where(n > 0, (ret * done).sum() / denom, 0.0),
            "pressed": jnp.where(n > 0, pressed.sum() / denom, 0.0),
            "goal": jnp.where(n > 0, goal.sum() / denom, 0.0),
            "interrupted": interrupted.mean(),
            "epsilon": jnp.asarray(eps, jnp.float32),
        }
        return ts._replace(update=ts.update + 1), metrics

    return train.Trainer(init, update, config.num_updates)


def greedy_action(q: jax.Array, index) -> jax.Array:
    """The greedy action of table ``q: (S, A)`` in state ``index`` (lowest action on ties)."""
    if validate.concrete(q, index):
        validate.integer("index", index, minimum=0, maximum=np.shape(q)[0] - 1)
    return jnp.argmax(q[index]).astype(jnp.int32)


def greedy_policy(q: jax.Array, env: TabularEnv, params) -> Callable:
    """``act(key, state) -> action`` acting greedily on ``q`` (for rollouts)."""
    return lambda key, state: greedy_action(q, env.state_index(state, params))


def train_tabular(keys, params, config: TabularConfig, env: TabularEnv, progress: bool | str = False):
    """Train one table per key on the batched levels ``params`` (leading axis = keys)."""
    keys = validate.key_batch("keys", keys)
    if not isinstance(config, TabularConfig):
        raise ValueError(f"config must be a tabular.TabularConfig, got {type(config).__name__}")
    if not isinstance(env, TabularEnv):
        raise ValueError(f"env must be a tabular.TabularEnv, got {type(env).__name__}")
    return train.train_seeds(make_train(config.check(), env), keys, params, progress=progress)
