"""Bad inputs across the public API: every row is a call a reader could make by mistake.

Each row of ``ROWS`` is (id, call, exception type, regex). The call must raise that exception
(``ValueError`` unless a missing file is the point), before any tracing, with a message that
matches the regex; the regex starts with the parameter's name *as the caller wrote it* (a
wrapper reports its own parameter, not an inner function's). A new public function gets its rows
here. The exercise checkers are the exception to the rule: they never raise, so ``CHECKER_ROWS``
asserts that a bad answer or a bad argument returns False with a printed explanation.

``test_no_nan_on_the_chapters_inputs`` runs the chapters' experiment functions at their
``smoke()`` sizes and checks that every float they return is finite;
``test_no_nan_on_the_later_chapters_inputs`` does the same for Chapters 3-8 (the cheapest run
function of each, at small sizes).
"""
import mesalib  # noqa: F401  (configures XLA first)

import functools
import math
from types import SimpleNamespace
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from mesalib import (bandits, datasets, irl, mdp, metaopt, nn, objectives, offswitch, optpower, plots, ppo, pretrained,
                     probes, rl, rl2, stats, tabular, train, validate, verify)
from mesalib import gridworld as g
from mesalib import safety_gridworlds as sg
from mesalib.exercises import meta_learning as ex1
from mesalib.exercises import robustness as ex2
from mesalib.experiments import cais
from mesalib.experiments import corrigibility as corr
from mesalib.experiments import interpretability as interp
from mesalib.experiments import meta_learning as ml
from mesalib.experiments import optimizers as opt
from mesalib.experiments import robustness as rb
from mesalib.experiments import unidentifiability as unid
from mesalib.experiments import verification as verif

KEY = jax.random.key(0)
NAN, INF = float("nan"), float("inf")


class Row(NamedTuple):
    id: str
    call: Callable[[], object]
    error: type
    match: str


# --------------------------------------------------------------------------------------------- inputs
# Small valid objects, built once on first use, that the bad calls spoil one argument at a time.

@functools.cache
def probs():
    return np.asarray(bandits.sample_tasks(KEY, 8, 3))


@functools.cache
def five_arm_rollout():
    return bandits.run(KEY, "Random", np.full((8, 5), 0.5), 6)


@functools.cache
def net():
    return rl2.init_params(KEY, 3, 4)


def net_with(path, value):
    params = jax.tree_util.tree_map(np.asarray, net())
    params = {k: dict(v) for k, v in params.items()}
    a, b = path
    params[a][b] = value
    return params


@functools.cache
def policy():
    return ppo.init_policy(KEY, 7 * 7 * 3, 4, (8,))


@functools.cache
def room():
    return np.asarray(g.open_room(7, 7))


@functools.cache
def level():
    return g.make_params(room(), (1, 5), (5, 1))


@functools.cache
def levels():
    return g.sample_levels(KEY, g.corner_task(room(), 0.0, deploy=True), 4)


@functools.cache
def traj():
    policies = train.tree_stack([policy(), policy()])
    return g.evaluate(KEY, ppo.sample_action, policies, levels(), 6)


@functools.cache
def metrics():
    lv = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (2,) + x.shape), levels())
    return jax.tree_util.tree_map(np.asarray, g.corner_metrics(traj(), lv, (1, 5)))


@functools.cache
def fit():
    t = jax.tree_util.tree_map(lambda x: x[None], traj())      # groups (alphas = 1, seeds = 2)
    return objectives.fit_objective(t, levels(), {"goal": levels().goal, "corner": (1, 5)}, betas=(1.0, 10.0))


def frame():
    return pd.DataFrame({"t": [0.0, 1.0], "m": [0.1, 0.2], "lo": [0.0, 0.1], "hi": [0.2, 0.3], "alg": ["a", "b"]})


def spoiled(col, value):
    df = frame()
    df[col] = value
    return df


def arm(a):
    """A custom bandit rule that always returns arm ``a``."""
    return lambda key, s, f, t: jnp.int32(a)


def late_arm(key, s, f, t):
    """Arm 0 for four pulls, then arm 7 (out of range) only inside the compiled loop."""
    return jnp.where(t > 3, 7, 0).astype(jnp.int32)


def bad_action(params, key, obs, greedy):
    return jnp.int32(9)


def spoiled_traj():
    """The fixture's trajectories with action 7 (no such action) at every first step."""
    t = traj()
    action = np.asarray(t.action).copy()
    action[..., 0] = 7
    return t._replace(action=action)


def hand_task(corner):
    return g.CornerTask(jnp.asarray(room()[None]), jnp.asarray(corner, jnp.int32), jnp.float32(0.0), jnp.bool_(False))


class BadStr:
    def __str__(self):
        raise RuntimeError("no text")


def fake_sweep():
    return SimpleNamespace(alphas=np.array([0.0, 0.01]), train_metrics={"episodes": np.full((5, 2, 2), 50)},
                           levels=levels())


def sweep_table():
    return pd.DataFrame([{"alpha": a, "outcome": o, "rate": r} for a, o, r in
                         [(0.0, "goal", 0.1), (0.0, "corner", 0.9), (0.2, "goal", 0.9), (0.2, "corner", 0.1)]])


def text_file(tmp="/tmp/mesalib_not_a_network.npz"):
    with open(tmp, "w") as fh:
        fh.write("not an archive")
    return tmp


# inputs of the Chapter 3-8 modules
@functools.cache
def vnet():
    """A 2-4-3 ReLU network as verify takes it (a list of float64 layers)."""
    return [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in nn.mlp_init(KEY, (2, 4, 3))]


def vnet_with(i, field, value):
    params = [dict(layer) for layer in vnet()]
    params[i][field] = np.full_like(params[i][field], value)
    return params


def vbox():
    return verify.Box(np.full(2, -0.1), np.full(2, 0.1))


def vboxes(n):
    return verify.Box(np.full((n, 2), -0.1), np.full((n, 2), 0.1))


def vprop():
    return verify.argmax_is(0, 3)


@functools.cache
def mdp_p():
    return mdp.random_mdp(KEY, 3, 2)


@functools.cache
def vprobe():
    return probes.ridge_fit(np.arange(8.0).reshape(4, 2), np.arange(4.0))


@functools.cache
def sg_level():
    return sg.published_level()


@functools.cache
def sg_task():
    return sg.button_task(room(), (1, 1), (3, 3))


@functools.cache
def small_nqm():
    return metaopt.nqm(metaopt.NQMConfig(dim=10))


# --------------------------------------------------------------------------------------------- rows

ROWS = [
    # ---------------------------------------------------------------- bandits
    Row("bandits.sample_tasks/num_arms-string", lambda: bandits.sample_tasks(KEY, 8, "5"), ValueError, r"^num_arms must be an integer"),
    Row("bandits.sample_tasks/key-int", lambda: bandits.sample_tasks(0, 8, 3), ValueError, r"^key must be a JAX PRNG key"),
    Row("bandits.sample_tasks/prior-unhashable", lambda: bandits.sample_tasks(KEY, 8, 3, prior=["beta"]), ValueError, r"^prior must be one of"),
    Row("bandits.sample_tasks/a-underflows-float32", lambda: bandits.sample_tasks(KEY, 8, 3, prior="beta", a=1e-46), ValueError, r"^a = 1e-46 underflows float32"),
    Row("bandits.sample_tasks/b-nan", lambda: bandits.sample_tasks(KEY, 8, 3, prior="beta", b=NAN), ValueError, r"^b must be a finite real number"),
    Row("bandits.oracle_value/probs-nan", lambda: bandits.oracle_value(np.array([[0.5, NAN]]), 10), ValueError, r"^probs must be finite"),
    Row("bandits.oracle_value/probs-string", lambda: bandits.oracle_value("0.5", 10), ValueError, r"^probs must be an array of numbers"),
    Row("bandits.run/probs-nan", lambda: bandits.run(KEY, "Thompson", np.array([[0.5, NAN]]), 5), ValueError, r"^probs must be finite"),
    Row("bandits.run/probs-inf", lambda: bandits.run(KEY, "Thompson", np.array([[0.5, INF]]), 5), ValueError, r"^probs must be finite"),
    Row("bandits.run/probs-strings", lambda: bandits.run(KEY, "Thompson", [["a", "b"]], 5), ValueError, r"^probs must be an array of real numbers"),
    Row("bandits.run/num_pulls-string", lambda: bandits.run(KEY, "Thompson", probs(), "5"), ValueError, r"^num_pulls must be an integer"),
    Row("bandits.run/rule-returns-arm-7-of-5", lambda: bandits.run(KEY, arm(7), np.full((4, 5), 0.5), 5), ValueError, r"^policy returned arm 7 .*\[0, 4\]"),
    Row("bandits.run/rule-returns-arm-7-later", lambda: bandits.run(KEY, late_arm, np.full((4, 5), 0.5), 8), ValueError, r"^policy returned arm 7 at pull 4"),
    Row("bandits.run/rule-returns-float", lambda: bandits.run(KEY, lambda k, s, f, t: 0.5, probs(), 5), ValueError, r"^policy must return one integer arm index"),
    Row("bandits.run/rule-returns-vector", lambda: bandits.run(KEY, lambda k, s, f, t: s, probs(), 5), ValueError, r"^policy must return one integer arm index"),
    Row("bandits.run/rule-wrong-signature", lambda: bandits.run(KEY, lambda k, s: 0, probs(), 5), ValueError, r"^policy must be a rule select\(key, s, f, t\)"),
    Row("bandits.run/keyword-not-of-policy", lambda: bandits.run(KEY, "Thompson", probs(), 5, epsilon=0.1), ValueError, r"^epsilon is not a setting of the Thompson policy"),
    Row("bandits.run/epsilon-string", lambda: bandits.run(KEY, "ε-greedy", probs(), 5, epsilon="0.1"), ValueError, r"^epsilon must be a finite real number"),
    Row("bandits.run/gittins-discount-1", lambda: bandits.run(KEY, "Gittins", probs(), 5, discount=1.0), ValueError, r"^discount must be < 1.0"),
    Row("bandits.run/gittins-horizon-too-long", lambda: bandits.run(KEY, "Gittins", probs(), 5000, discount=0.999), ValueError, r"^num_pulls = 5000 is too long a horizon"),
    Row("bandits.regret/5-arms-scored-against-3", lambda: bandits.regret(five_arm_rollout(), np.full((8, 3), 0.5)), ValueError, r"^rollout.actions must hold values in \[0, 2\] \(arm indices for 3 arms\)"),
    Row("bandits.regret/tasks-mismatch", lambda: bandits.regret(five_arm_rollout(), np.full((3, 5), 0.5)), ValueError, r"^rollout has 8 tasks but probs has 3"),
    Row("bandits.regret/rollout-tuple", lambda: bandits.regret((np.zeros((8, 6), int), np.zeros((8, 6))), np.full((8, 5), 0.5)), ValueError, r"^rollout must be a bandits.Rollout"),
    Row("bandits.regret/probs-nan", lambda: bandits.regret(five_arm_rollout(), np.full((8, 5), NAN)), ValueError, r"^probs must be finite"),
    Row("bandits.counts/num_arms-too-small", lambda: bandits.counts(five_arm_rollout(), 3), ValueError, r"^num_arms must exceed every action"),
    Row("bandits.counts/rewards-nan", lambda: bandits.counts(bandits.Rollout(np.zeros((1, 2), np.int32), np.array([[1.0, NAN]])), 2), ValueError, r"^rollout.rewards must be finite"),
    Row("bandits.evidence_conflicts/three-arms", lambda: bandits.evidence_conflicts(five_arm_rollout()), ValueError, r"^rollout must be a \(tasks, pulls\) history of two-arm"),
    Row("bandits.choice_probs/s-nan", lambda: bandits.choice_probs(KEY, "Greedy", np.array([[NAN, 0.0]]), np.zeros((1, 2)), np.zeros(1)), ValueError, r"^s must be finite"),
    Row("bandits.choice_probs/t-negative", lambda: bandits.choice_probs(KEY, "Greedy", np.zeros((1, 2)), np.zeros((1, 2)), -np.ones(1)), ValueError, r"^t must be counts"),
    Row("bandits.choice_probs/f-strings", lambda: bandits.choice_probs(KEY, "Greedy", np.zeros((1, 2)), [["x", "y"]], np.zeros(1)), ValueError, r"^f must be an array of real numbers"),
    Row("bandits.choice_probs/rule-arm-out-of-range", lambda: bandits.choice_probs(KEY, arm(3), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1)), ValueError, r"^policy returned an arm outside \[0, 1\] in state 0"),
    Row("bandits.gittins_table/discount-string", lambda: bandits.gittins_table("0.9", 5), ValueError, r"^discount must be a finite real number"),
    Row("bandits.gittins_table/max_count-list", lambda: bandits.gittins_table(0.9, [5]), ValueError, r"^max_count must be an integer"),
    Row("bandits.gittins_table/refuses-hours", lambda: bandits.gittins_table(0.999, 5000), ValueError, r"^max_count=5000 at discount=0.999 needs 1.8e\+11 cell updates"),
    Row("bandits.gittins_policy/table-not-square", lambda: bandits.gittins_policy(np.zeros((3, 4))), ValueError, r"^table must be a square"),
    Row("bandits.gittins_policy/table-nan-inside", lambda: bandits.gittins_policy(np.full((3, 3), NAN)), ValueError, r"^table must hold indices in \[0, 1\]"),
    Row("bandits.default_params/probs-above-1", lambda: bandits.default_params(np.array([0.5, 1.5])), ValueError, r"^probs must contain probabilities in \[0, 1\]"),
    Row("bandits.step/action-out-of-range", lambda: bandits.step(KEY, bandits.reset(KEY, bandits.default_params([0.5, 0.5]))[1], 9, bandits.default_params([0.5, 0.5])), ValueError, r"^action must hold values in \[0, 1\] \(arm indices\), got 9"),
    Row("bandits.step/state-wrong-type", lambda: bandits.step(KEY, None, 0, bandits.default_params([0.5, 0.5])), ValueError, r"^state must be a bandits.EnvState"),
    Row("bandits.pooled_evidence/three-arms", lambda: bandits.pooled_evidence(np.zeros(3), np.zeros(3)), ValueError, r"^s and f must be counts of two arms"),
    # ---------------------------------------------------------------- rl2
    Row("rl2.Config/num_arms-string", lambda: rl2.Config(num_arms="5").validated(), ValueError, r"^num_arms must be an integer"),
    Row("rl2.Config/learning_rate-underflows", lambda: rl2.Config(learning_rate=1e-46).validated(), ValueError, r"^learning_rate = 1e-46 underflows float32"),
    Row("rl2.Config/learning_rate-nan", lambda: rl2.Config(learning_rate=NAN).validated(), ValueError, r"^learning_rate must be a finite real number"),
    Row("rl2.Config/entropy_start-overflows", lambda: rl2.Config(entropy_start=1e39).validated(), ValueError, r"^entropy_start = 1e\+39 overflows float32"),
    Row("rl2.Config/normalize_advantages-string", lambda: rl2.Config(normalize_advantages="yes").validated(), ValueError, r"^normalize_advantages must be True or False"),
    Row("rl2.Config/prior-beta", lambda: rl2.Config(prior="beta").validated(), ValueError, r"^prior must be one of"),
    Row("rl2.make_train/config-dict", lambda: rl2.make_train({"num_arms": 5}), ValueError, r"^config must be an rl2.Config"),
    Row("rl2.train_seeds/config-wrong-type", lambda: rl2.train_seeds(jax.random.split(KEY, 2), ppo.PPOConfig()), ValueError, r"^config must be an rl2.Config"),
    Row("rl2.train_seeds/progress-number", lambda: rl2.train_seeds(jax.random.split(KEY, 2), rl2.Config().smoke(), progress=3), ValueError, r"^progress must be True, False or a label"),
    Row("rl2.train_seeds/init-nan", lambda: rl2.train_seeds(jax.random.split(KEY, 1), rl2.Config(num_arms=3, hidden=4).smoke(), init=net_with(("pi", "b"), np.full(3, NAN))), ValueError, r"^init\['pi'\]\['b'\] must be finite"),
    Row("rl2.evaluate/params-empty", lambda: rl2.evaluate({}, KEY, probs(), 5), ValueError, r"^params must be the parameters of one RL² network"),
    Row("rl2.evaluate/params-seed-batched", lambda: rl2.evaluate(train.tree_stack([net(), net()]), KEY, probs(), 5), ValueError, r"^params must hold one network .*rl2.seed_slice"),
    Row("rl2.evaluate/params-nan", lambda: rl2.evaluate(net_with(("gru", "b"), np.full(12, NAN)), KEY, probs(), 5), ValueError, r"^params\['gru'\]\['b'\] must be finite"),
    Row("rl2.evaluate/greedy-string", lambda: rl2.evaluate(net(), KEY, probs(), 5, greedy="yes"), ValueError, r"^greedy must be True or False"),
    Row("rl2.evaluate/probs-arm-count", lambda: rl2.evaluate(net(), KEY, np.full((2, 4), 0.5), 5), ValueError, r"^probs has 4 arms but the network was trained for 3"),
    Row("rl2.evaluate/num_pulls-missing", lambda: rl2.evaluate(net(), KEY, probs()), ValueError, r"^num_pulls must be an integer"),
    Row("rl2.action_probs/rewards-nan", lambda: rl2.action_probs(net(), bandits.Rollout(np.zeros((1, 2), np.int32), np.array([[NAN, 1.0]]))), ValueError, r"^rollout.rewards must be finite"),
    Row("rl2.action_probs/rollout-tuple", lambda: rl2.action_probs(net(), (np.zeros((1, 2)), np.zeros((1, 2)))), ValueError, r"^rollout must be a bandits.Rollout"),
    Row("rl2.replay/horizon-zero", lambda: rl2.replay(net(), bandits.Rollout(np.zeros((1, 2), np.int32), np.zeros((1, 2))), horizon=0), ValueError, r"^horizon must be >= 1"),
    Row("rl2.policy_step/h-shape", lambda: rl2.policy_step(net(), jnp.zeros(5), jnp.zeros(5)), ValueError, r"^h must have shape \(4,\)"),
    Row("rl2.seed_slice/i-out-of-range", lambda: rl2.seed_slice(train.tree_stack([net(), net()]), 5), ValueError, r"^i must be <= 1"),
    # ---------------------------------------------------------------- ppo
    Row("ppo.PPOConfig/hidden-int", lambda: ppo.PPOConfig(hidden=64).check(), ValueError, r"^hidden must be a sequence of layer widths"),
    Row("ppo.PPOConfig/hidden-zero", lambda: ppo.PPOConfig(hidden=(0,)).check(), ValueError, r"^hidden\[0\] must be >= 1"),
    Row("ppo.PPOConfig/lr-overflows", lambda: ppo.PPOConfig(lr=1e39).check(), ValueError, r"^lr = 1e\+39 overflows float32"),
    Row("ppo.PPOConfig/num_envs-float", lambda: ppo.PPOConfig(num_envs=2.5).check(), ValueError, r"^num_envs must be an integer"),
    Row("ppo.PPOConfig/gamma-string", lambda: ppo.PPOConfig(gamma="0.9").check(), ValueError, r"^gamma must be a finite real number"),
    Row("ppo.init_policy/hidden-names-itself", lambda: ppo.init_policy(KEY, 4, 2, hidden=(8, -1)), ValueError, r"^hidden\[1\] must be >= 1"),
    Row("ppo.heads/obs-wrong-size", lambda: ppo.heads(policy(), jnp.zeros(10)), ValueError, r"^obs has 10 entries"),
    Row("ppo.heads/obs-nan", lambda: ppo.heads(policy(), jnp.full((7, 7, 3), NAN)), ValueError, r"^obs must be finite"),
    Row("ppo.heads/params-missing-torso", lambda: ppo.heads({"actor": {}, "critic": {}}, jnp.zeros(3)), ValueError, r"^params must be the parameters of one PPO policy"),
    Row("ppo.sample_action/key-int", lambda: ppo.sample_action(policy(), 3, jnp.zeros((7, 7, 3))), ValueError, r"^key must be a JAX PRNG key"),
    Row("ppo.make_train/env-none", lambda: ppo.make_train(ppo.PPOConfig(), None, g.sample_corner_level), ValueError, r"^env must be an environment bundle"),
    Row("ppo.make_train/sample_level-string", lambda: ppo.make_train(ppo.PPOConfig(), g.ENV, "corner"), ValueError, r"^sample_level must be a function"),
    Row("ppo.make_train/config-wrong-type", lambda: ppo.make_train(rl2.Config(), g.ENV, g.sample_corner_level), ValueError, r"^config must be a ppo.PPOConfig"),
    Row("ppo.train/progress-number", lambda: ppo.train(jax.random.split(KEY, 1), g.stack_tasks([g.corner_task(room(), 0.0)]), ppo.PPOConfig().smoke(), g.ENV, g.sample_corner_level, progress=2), ValueError, r"^progress must be True, False or a label"),
    Row("ppo.policy_sampler/greedy-string", lambda: ppo.policy_sampler(policy(), greedy="no"), ValueError, r"^greedy must be True or False"),
    # ---------------------------------------------------------------- gridworld
    Row("gridworld.open_room/height-2", lambda: g.open_room(2, 7), ValueError, r"^height must be >= 3"),
    Row("gridworld.open_room/width-string", lambda: g.open_room(7, "7"), ValueError, r"^width must be an integer"),
    Row("gridworld.maze/height-even", lambda: g.maze(KEY, 8, 9), ValueError, r"^height must be odd"),
    Row("gridworld.make_params/goal-outside", lambda: g.make_params(room(), (1, 9), (5, 1)), ValueError, r"^goal = \(1, 9\) is outside the 7x7 grid"),
    Row("gridworld.make_params/start-float", lambda: g.make_params(room(), (1, 5), (5.0, 1.0)), ValueError, r"^start must be an integer \(row, col\) pair"),
    Row("gridworld.make_params/walls-string", lambda: g.make_params("#######", (1, 5), (5, 1)), ValueError, r"^walls must be a 2-D"),
    Row("gridworld.make_params/walls-nan", lambda: g.make_params(np.where(room(), 1.0, NAN), (1, 5), (5, 1)), ValueError, r"^walls must contain booleans or 0/1"),
    Row("gridworld.make_params/walls-too-large", lambda: g.make_params(np.zeros((65, 65), bool), (1, 5), (5, 1)), ValueError, r"^walls must be at most 64x64"),
    Row("gridworld.step/action-7", lambda: g.step(KEY, g.reset(KEY, level())[1], 7, level()), ValueError, r"^action must be an integer in 0..3"),
    Row("gridworld.step/state-none", lambda: g.step(KEY, None, 0, level()), ValueError, r"^state must be a gridworld.EnvState"),
    Row("gridworld.step_env/params-dict", lambda: g.step_env(g.reset(KEY, level())[1], 0, {"walls": room()}), ValueError, r"^params must be an EnvParams"),
    Row("gridworld.observe/pos-outside", lambda: g.observe(g.EnvState(jnp.array([9, 9], jnp.int32), jnp.int32(0)), level()), ValueError, r"^state.pos = \(9, 9\) is outside"),
    Row("gridworld.obs_shape/params-string", lambda: g.obs_shape("7x7"), ValueError, r"^params must be an EnvParams"),
    Row("gridworld.distances/target-outside", lambda: g.distances(room(), (0, 12)), ValueError, r"^target = \(0, 12\) is outside"),
    Row("gridworld.top_right/height-2", lambda: g.top_right(2, 7), ValueError, r"^height must be >= 3"),
    Row("gridworld.corner_task/corner-outside", lambda: g.corner_task(room(), 0.0, corner=(0, 9)), ValueError, r"^corner = \(0, 9\) is outside the 7x7 grid"),
    Row("gridworld.corner_task/alpha-nan", lambda: g.corner_task(room(), NAN), ValueError, r"^alpha must be a finite real number"),
    Row("gridworld.corner_task/deploy-string", lambda: g.corner_task(room(), 0.0, deploy="yes"), ValueError, r"^deploy must be True or False"),
    Row("gridworld.stack_tasks/empty", lambda: g.stack_tasks([]), ValueError, r"^tasks must hold at least one CornerTask"),
    Row("gridworld.stack_tasks/shapes-differ", lambda: g.stack_tasks([g.corner_task(room(), 0.0), g.corner_task(g.open_room(5, 5), 0.0)]), ValueError, r"^tasks\[1\].layouts has shape"),
    Row("gridworld.sample_levels/corner-outside-hand-built", lambda: g.sample_levels(KEY, hand_task((0, 9)), 3), ValueError, r"^task.corner = \(0, 9\) is outside"),
    Row("gridworld.sample_levels/count-string", lambda: g.sample_levels(KEY, g.corner_task(room(), 0.0), "3"), ValueError, r"^count must be an integer"),
    Row("gridworld.rollout/policy-action-9", lambda: g.rollout(KEY, lambda k, o: jnp.int32(9), level(), 5), ValueError, r"^policy returned action 9"),
    Row("gridworld.rollout/policy-string", lambda: g.rollout(KEY, "up", level(), 5), ValueError, r"^policy must be a function"),
    Row("gridworld.rollout/max_steps-zero", lambda: g.rollout(KEY, g.random_policy, level(), 0), ValueError, r"^max_steps must be >= 1"),
    Row("gridworld.evaluate/levels-one-level", lambda: g.evaluate(KEY, ppo.sample_action, train.tree_stack([policy()]), level()), ValueError, r"^levels must be a batch of levels"),
    Row("gridworld.evaluate/policy_fn-action-9", lambda: g.evaluate(KEY, bad_action, train.tree_stack([policy()]), levels(), 5), ValueError, r"^policy_fn returned action 9"),
    Row("gridworld.evaluate/greedy-string", lambda: g.evaluate(KEY, ppo.sample_action, train.tree_stack([policy()]), levels(), 5, greedy="no"), ValueError, r"^greedy must be True or False"),
    Row("gridworld.corner_metrics/corner-outside", lambda: g.corner_metrics(traj(), jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (2,) + x.shape), levels()), (1, 9)), ValueError, r"^corner = \(1, 9\) is outside"),
    Row("gridworld.corner_metrics/params-not-per-episode", lambda: g.corner_metrics(traj(), levels(), (1, 5)), ValueError, r"^params must hold one level per episode"),
    Row("gridworld.path_efficiency/target-wall", lambda: g.path_efficiency(metrics(), "wall"), ValueError, r"^target must be one of"),
    Row("gridworld.path_efficiency/metrics-dict", lambda: g.path_efficiency({"reached_goal": [True]}), ValueError, r"^metrics must be a gridworld.CornerMetrics"),
    Row("gridworld.level_frame/corner-outside", lambda: g.level_frame(levels(), corner=(8, 8)), ValueError, r"^corner = \(8, 8\) is outside"),
    Row("gridworld.level_frame/names-length", lambda: g.level_frame(levels(), names=["a"]), ValueError, r"^names must have one entry per level"),
    # ---------------------------------------------------------------- objectives
    Row("objectives.soft_q/beta-underflows", lambda: objectives.soft_q(room(), (1, 5), 1e-46), ValueError, r"^beta must be >= 1e-06"),
    Row("objectives.soft_q/beta-1e12", lambda: objectives.soft_q(room(), (1, 5), 1e12), ValueError, r"^beta must be <= 1000000"),
    Row("objectives.soft_q/beta-string", lambda: objectives.soft_q(room(), (1, 5), "2"), ValueError, r"^beta must be a finite real number"),
    Row("objectives.soft_q/gamma-rounds-to-1", lambda: objectives.soft_q(room(), (1, 5), 2.0, gamma=1 - 1e-9), ValueError, r"^gamma = .* rounds to 1 in float32"),
    Row("objectives.soft_q/iters-unbounded", lambda: objectives.soft_q(room(), (1, 5), 2.0, iters=10**9), ValueError, r"^iters must be <= 100000"),
    Row("objectives.boltzmann_policy/target-outside", lambda: objectives.boltzmann_policy(room(), (7, 7), 2.0), ValueError, r"^target = \(7, 7\) is outside"),
    Row("objectives.boltzmann_policy/beta-negative", lambda: objectives.boltzmann_policy(room(), (1, 5), -1.0), ValueError, r"^beta must be >= 0"),
    Row("objectives.optimal_q/gamma-rounds-to-1", lambda: objectives.optimal_q(room(), (1, 5), gamma=1 - 1e-9), ValueError, r"^gamma = .* rounds to 1 in float32"),
    Row("objectives.optimal_q/target-on-wall", lambda: objectives.optimal_q(room(), (0, 0)), ValueError, r"^target = \(0, 0\) is on a wall"),
    Row("objectives.fit_objective/betas-negative", lambda: objectives.fit_objective(traj(), levels(), {"corner": (1, 5)}, betas=(0.0, -1.0)), ValueError, r"^betas\[1\] must be >= 0"),
    Row("objectives.fit_objective/traj-dict", lambda: objectives.fit_objective({"action": 0}, levels(), {"corner": (1, 5)}), ValueError, r"^traj must be a gridworld.Trajectory"),
    Row("objectives.fit_objective/betas-1e12", lambda: objectives.fit_objective(traj(), levels(), {"corner": (1, 5)}, betas=(1.0, 1e12)), ValueError, r"^betas\[1\] must be <= 1000000"),
    Row("objectives.fit_objective/betas-nan", lambda: objectives.fit_objective(traj(), levels(), {"corner": (1, 5)}, betas=(NAN,)), ValueError, r"^betas must be finite"),
    Row("objectives.fit_objective/traj-action-out-of-range", lambda: objectives.fit_objective(spoiled_traj(), levels(), {"corner": (1, 5)}), ValueError, r"^traj.action must hold values in \[0, 3\]"),
    Row("objectives.ObjectiveFit.mixture/first-unknown", lambda: fit().mixture(first="wall"), ValueError, r"^first must be one of"),
    Row("objectives.ObjectiveFit.mixture/weights-above-1", lambda: fit().mixture(weights=(0.5, 1.5)), ValueError, r"^weights\[1\] must be <= 1.0"),
    Row("objectives.ObjectiveFit.best_weight/weights-string", lambda: fit().best_weight(weights="half"), ValueError, r"^weights must be an array of numbers"),
    # ---------------------------------------------------------------- nn
    Row("nn.dense_init/scale-overflows", lambda: nn.dense_init(KEY, 2, 2, scale=1e39), ValueError, r"^scale must be <= 1000000"),
    Row("nn.dense_init/out_dim-huge", lambda: nn.dense_init(KEY, 2, 10**9), ValueError, r"^out_dim must be <= 1048576"),
    Row("nn.dense_apply/x-width", lambda: nn.dense_apply(nn.dense_init(KEY, 3, 2), jnp.ones(4)), ValueError, r"^x must have last dimension 3"),
    Row("nn.dense_apply/params-dict-keys", lambda: nn.dense_apply({"weights": 1}, jnp.ones(3)), ValueError, r"^params must be a dense layer"),
    Row("nn.mlp_init/sizes-int", lambda: nn.mlp_init(KEY, 5), ValueError, r"^sizes must be a sequence of layer widths"),
    Row("nn.mlp_apply/x-nan", lambda: nn.mlp_apply(nn.mlp_init(KEY, (2, 3)), jnp.array([1.0, NAN])), ValueError, r"^x must be finite"),
    Row("nn.mlp_apply/activation-string", lambda: nn.mlp_apply(nn.mlp_init(KEY, (2, 3, 1)), jnp.ones(2), activation="relu"), ValueError, r"^activation must be a function"),
    Row("nn.mlp_activations/params-empty", lambda: nn.mlp_activations([], jnp.ones(2)), ValueError, r"^params must be a non-empty list"),
    Row("nn.gru_cell/h-shape", lambda: nn.gru_cell(nn.gru_init(KEY, 3, 4), jnp.zeros(5), jnp.zeros(3)), ValueError, r"^h must have shape \(4,\)"),
    Row("nn.gru_scan/resets-shape", lambda: nn.gru_scan(nn.gru_init(KEY, 3, 4), jnp.zeros(4), jnp.zeros((6, 3)), jnp.zeros(5, bool)), ValueError, r"^resets must have shape \(6,\)"),
    # ---------------------------------------------------------------- stats
    Row("stats.mean_ci/samples-nan", lambda: stats.mean_ci([1.0, NAN, 2.0]), ValueError, r"^samples must be finite"),
    Row("stats.mean_ci/samples-strings", lambda: stats.mean_ci(["a", "b"]), ValueError, r"^samples must be an array of real numbers"),
    Row("stats.mean_ci/samples-overflow", lambda: stats.mean_ci([1e200, -1e200, 1e200]), ValueError, r"^samples must be smaller than 1e\+150"),
    Row("stats.mean_ci/seed-negative", lambda: stats.mean_ci([1.0, 2.0, 3.0], seed=-1), ValueError, r"^seed must be >= 0"),
    Row("stats.mean_ci/axis-out-of-range", lambda: stats.mean_ci(np.ones((3, 2)), axis=2), ValueError, r"^axis must be <= 1"),
    Row("stats.format_ci/s-tuple", lambda: stats.format_ci((1.0, 0.5, 1.5, 3)), ValueError, r"^s must be a stats.Summary"),
    Row("stats.format_ci/s-vector", lambda: stats.format_ci(stats.mean_ci(np.ones((3, 2)), method="normal")), ValueError, r"^s.mean must be a scalar"),
    Row("stats.window_means/x-nan", lambda: stats.window_means([1.0, NAN]), ValueError, r"^x must be finite"),
    Row("stats.window_means/x-string", lambda: stats.window_means(["a", "b"]), ValueError, r"^x must be an array of real numbers"),
    Row("stats.wilson/trials-zero", lambda: stats.wilson(0, 0), ValueError, r"^trials must be >= 1"),
    Row("stats.wilson/successes-nan", lambda: stats.wilson(NAN, 3), ValueError, r"^successes must be finite"),
    # ---------------------------------------------------------------- train
    Row("train.run/num_steps-string", lambda: train.run(lambda c: (c, {}), 0, "3"), ValueError, r"^num_steps must be an integer"),
    Row("train.run/progress-number", lambda: train.run(lambda c: (c, {}), 0, 3, progress=2), ValueError, r"^progress must be True, False or a label"),
    Row("train.run/summary-string", lambda: train.run(lambda c: (c, {}), 0, 3, summary="loss"), ValueError, r"^summary must be a function"),
    Row("train.train_seeds/trainer-none", lambda: train.train_seeds(None, jax.random.split(KEY, 2)), ValueError, r"^trainer must be a train.Trainer"),
    Row("train.train_seeds/num_updates-zero", lambda: train.train_seeds(train.Trainer(lambda k: 0.0, lambda s: (s, {}), 0), jax.random.split(KEY, 2)), ValueError, r"^trainer.num_updates must be >= 1"),
    Row("train.tree_stack/empty", lambda: train.tree_stack([]), ValueError, r"^trees must hold at least one pytree"),
    Row("train.tree_stack/shapes-differ", lambda: train.tree_stack([np.zeros(2), np.zeros(3)]), ValueError, r"^trees\[1\] differs"),
    Row("train.seed_slice/i-out-of-range", lambda: train.seed_slice({"w": np.zeros((2, 3))}, 2), ValueError, r"^i must be <= 1"),
    Row("train.smoke_config/no-smoke", lambda: train.smoke_config(object()), ValueError, r"^config must be a config with a smoke\(\) method"),
    Row("train.pad_to_devices/n-negative", lambda: train.pad_to_devices(-1), ValueError, r"^n must be >= 0"),
    Row("train.timed/fn-not-callable", lambda: train.timed(5), ValueError, r"^fn must be a function"),
    # ---------------------------------------------------------------- plots
    Row("plots.line_band/df-dict", lambda: plots.line_band(frame().to_dict(), "t", "m"), ValueError, r"^df must be a pandas DataFrame"),
    Row("plots.line_band/y-nan", lambda: plots.line_band(spoiled("m", [0.1, NAN]), "t", "m", "lo", "hi"), ValueError, r"^df\['m'\] must be finite"),
    Row("plots.line_band/high-inf", lambda: plots.line_band(spoiled("hi", [0.2, INF]), "t", "m", "lo", "hi"), ValueError, r"^df\['hi'\] must be finite"),
    Row("plots.line_band/low-without-high", lambda: plots.line_band(frame(), "t", "m", "lo"), ValueError, r"^low and high must be given together"),
    Row("plots.points_ci/x_type-unknown", lambda: plots.points_ci(frame(), "t", "m", "lo", "hi", x_type="Z"), ValueError, r"^x_type must be one of"),
    Row("plots.bars_ci/y-strings", lambda: plots.bars_ci(spoiled("m", ["a", "b"]), "alg", "m", "lo", "hi"), ValueError, r"^df\['m'\] must be numeric"),
    Row("plots.bars_ci/horizontal-string", lambda: plots.bars_ci(frame(), "alg", "m", "lo", "hi", horizontal="yes"), ValueError, r"^horizontal must be True or False"),
    Row("plots.heatmap/domain-reversed", lambda: plots.heatmap(frame(), "t", "alg", "m", domain=(1.0, 0.0)), ValueError, r"^domain must be \(low, high\)"),
    Row("plots.round_frame/digits-zero", lambda: plots.round_frame(frame(), digits=0), ValueError, r"^digits must be >= 1"),
    Row("plots.table/digits-string", lambda: plots.table(frame(), digits="2"), ValueError, r"^digits must be an integer"),
    Row("plots.levels/colours-missing-kind", lambda: plots.levels(g.level_frame(levels(), (1, 5)), colours={"wall": "#000"}), ValueError, r"^colours has no colour for cell kind"),
    # ---------------------------------------------------------------- pretrained
    Row("pretrained.load/name-unknown", lambda: pretrained.load("rl2_n100_k7"), ValueError, r"^name must be one of"),
    Row("pretrained.load/name-list", lambda: pretrained.load(["rl2_n100_k5"]), ValueError, r"^name must be one of"),
    Row("pretrained.load_file/missing", lambda: pretrained.load_file("/nonexistent/net.npz"), FileNotFoundError, r"^path /nonexistent/net.npz does not exist"),
    Row("pretrained.load_file/not-a-network", lambda: pretrained.load_file(text_file()), ValueError, r"^path .* is not a network file"),
    Row("pretrained.load_file/path-number", lambda: pretrained.load_file(3), ValueError, r"^path must be a file path"),
    Row("pretrained.build/config-wrong-type", lambda: pretrained.build("rl2_n100_k5", config=ppo.PPOConfig()), ValueError, r"^config must be an rl2.Config"),
    # ---------------------------------------------------------------- rl
    Row("rl.gae/values-shape", lambda: rl.gae(jnp.zeros((5, 2)), jnp.zeros((5, 3)), jnp.zeros(2), jnp.zeros((5, 2)), 0.9, 0.9), ValueError, r"^values must have the shape of rewards"),
    Row("rl.gae/last_value-shape", lambda: rl.gae(jnp.zeros((5, 2)), jnp.zeros((5, 2)), jnp.zeros(3), jnp.zeros((5, 2)), 0.9, 0.9), ValueError, r"^last_value must have shape \(2,\)"),
    Row("rl.gae/gamma-above-1", lambda: rl.gae(jnp.zeros((5, 2)), jnp.zeros((5, 2)), jnp.zeros(2), jnp.zeros((5, 2)), 2.0, 0.9), ValueError, r"^gamma must be <= 1.0"),
    Row("rl.gae/rewards-nan", lambda: rl.gae(jnp.full((5, 2), NAN), jnp.zeros((5, 2)), jnp.zeros(2), jnp.zeros((5, 2)), 0.9, 0.9), ValueError, r"^rewards must be finite"),
    Row("rl.normalize/eps-zero", lambda: rl.normalize(jnp.ones(3), eps=0.0), ValueError, r"^eps must be > 0.0"),
    Row("rl.categorical_entropy/logits-minus-inf", lambda: rl.categorical_entropy(jnp.array([0.0, -jnp.inf])), ValueError, r"^logits must be finite"),
    Row("rl.categorical_entropy/logits-scalar", lambda: rl.categorical_entropy(jnp.float32(1.0)), ValueError, r"^logits must have a last axis"),
    # ---------------------------------------------------------------- experiments.meta_learning (Chapter 1)
    Row("ml.Config/train_seeds-zero", lambda: ml.Config(train_seeds=0).validated(), ValueError, r"^train_seeds must be >= 1"),
    Row("ml.Config/long_pulls-below-horizon", lambda: ml.Config(long_pulls=50).validated(), ValueError, r"^long_pulls must be >= 100"),
    Row("ml.Config/thompson_draws-string", lambda: ml.Config(thompson_draws="200").validated(), ValueError, r"^thompson_draws must be an integer"),
    Row("ml.Config/rl2-wrong-type", lambda: ml.Config(rl2=ppo.PPOConfig()).validated(), ValueError, r"^rl2 must be an rl2.Config"),
    Row("ml.Config/rl2-field-nan", lambda: ml.Config(rl2=rl2.Config(gamma=NAN)).validated(), ValueError, r"^gamma must be a finite real number"),
    Row("ml.keys/key-int", lambda: ml.keys(0), ValueError, r"^key must be a JAX PRNG key"),
    Row("ml.run_baselines/config-wrong-type", lambda: ml.run_baselines(KEY, rb.Config()), ValueError, r"^config must be an experiments.meta_learning.Config"),
    Row("ml.run_skewed/trained-wrong-type", lambda: ml.run_skewed(KEY, {"params": None}), ValueError, r"^trained must be an rl2.Result"),
    Row("ml.run_training/progress-number", lambda: ml.run_training(KEY, ml.Config().smoke(), progress=1), ValueError, r"^progress must be True, False or a label"),
    Row("ml.evaluate_baselines/names-unknown", lambda: ml.evaluate_baselines(KEY, probs(), 5, names=("Thompson", "Softmax")), ValueError, r"^names\[1\] must be one of"),
    Row("ml.summarize/one-task", lambda: ml.summarize({"Random": [1.0]}), ValueError, r"^values\['Random'\] needs at least 2 tasks"),
    Row("ml.summarize/value-nan", lambda: ml.summarize({"Random": [1.0, NAN]}), ValueError, r"^values\['Random'\] must be finite"),
    Row("ml.regret_frame/rollout-arms", lambda: ml.regret_frame({"Random": five_arm_rollout()}, np.full((8, 3), 0.5)), ValueError, r"^rollouts\['Random'\].actions must hold values in \[0, 2\]"),
    Row("ml.regret_frame/points-zero", lambda: ml.regret_frame({"Random": five_arm_rollout()}, np.full((8, 5), 0.5), points=0), ValueError, r"^points must be >= 1"),
    Row("ml.regret_curves/setting-unknown", lambda: ml.regret_curves(KEY, ml.Headline(pd.DataFrame(), {(100, 5): None}), setting=(10, 7)), ValueError, r"^setting must be one of"),
    Row("ml.training_curve/trained-wrong-type", lambda: ml.training_curve(np.zeros((10, 2))), ValueError, r"^trained must be an rl2.Result"),
    # ---------------------------------------------------------------- experiments.robustness (Chapter 2)
    Row("rb.Config/size-2", lambda: rb.Config(size=2).validated(), ValueError, r"^size must be >= 4"),
    Row("rb.Config/alphas-string", lambda: rb.Config(alphas="abc").validated(), ValueError, r"^alphas must be an array of numbers"),
    Row("rb.Config/alphas-out-of-range", lambda: rb.Config(alphas=(0.0, 1.5)).validated(), ValueError, r"^alphas\[1\] must be <= 1.0"),
    Row("rb.Config/maze-size-even", lambda: rb.Config(layout="maze", size=8).validated(), ValueError, r"^size must be odd"),
    Row("rb.Config/num_layouts-zero", lambda: rb.Config(num_layouts=0).validated(), ValueError, r"^num_layouts must be >= 1"),
    Row("rb.Config/ppo-wrong-type", lambda: rb.Config(ppo=rl2.Config()).validated(), ValueError, r"^ppo must be a ppo.PPOConfig"),
    Row("rb.example_levels/size-names-itself", lambda: rb.example_levels(KEY, size=2), ValueError, r"^size must be >= 4"),
    Row("rb.example_levels/count-zero", lambda: rb.example_levels(KEY, count=0), ValueError, r"^count must be >= 1"),
    Row("rb.run/config-wrong-type", lambda: rb.run(KEY, ml.Config()), ValueError, r"^config must be an experiments.robustness.Config"),
    Row("rb.corner_sweep/size-names-itself", lambda: rb.corner_sweep(KEY, rb.Config(size=2)), ValueError, r"^size must be >= 4"),
    Row("rb.sweep_table/result-wrong-type", lambda: rb.sweep_table(fake_sweep()), ValueError, r"^result must be a SweepResult"),
    Row("rb.competence_table/target-unknown", lambda: rb.competence_table({"agent": (metrics(), "wall")}), ValueError, r"^rows\['agent'\]\[1\] must be one of"),
    Row("rb.fit_table/alphas-length", lambda: rb.fit_table(fit(), (0.0, 0.2)), ValueError, r"^alphas has 2 values but fit has 1 alpha group"),
    Row("rb.mixture_frame/weights-above-1", lambda: rb.mixture_frame(fit(), (0.0,), weights=(0.5, 2.0)), ValueError, r"^weights\[1\] must be <= 1.0"),
    Row("rb.seed_table/result-wrong-type", lambda: rb.seed_table(fake_sweep()), ValueError, r"^result must be the chapter's Result"),
    Row("rb.fitted_betas/alphas-length", lambda: rb.fitted_betas(fit(), (0.0, 0.2)), ValueError, r"^alphas has 2 values but fit has 1 alpha group"),
    Row("rb.deploy/sweep-wrong-type", lambda: rb.deploy(KEY, fake_sweep(), levels()), ValueError, r"^sweep must be a SweepResult"),
    Row("rb.maze_levels/sweep-wrong-type", lambda: rb.maze_levels(KEY, fake_sweep(), 4), ValueError, r"^sweep must be a SweepResult"),
    Row("rb.irl_rewards/sweep-wrong-type", lambda: rb.irl_rewards(fake_sweep(), 0), ValueError, r"^sweep must be a SweepResult"),
    Row("rb.BudgetConfig/budgets-zero", lambda: rb.BudgetConfig(budgets=(0,)).validated(), ValueError, r"^budgets\[0\] must be >= 1"),
    Row("rb.BudgetConfig/budgets-empty", lambda: rb.BudgetConfig(budgets=()).validated(), ValueError, r"^budgets must"),
    Row("rb.BudgetConfig/alphas-out-of-range", lambda: rb.BudgetConfig(alphas=(2.0,)).validated(), ValueError, r"^alphas\[0\] must be <= 1.0"),
    Row("rb.run_budget/config-wrong-type", lambda: rb.run_budget(KEY, rb.Config()), ValueError, r"^config must be an experiments.robustness.BudgetConfig"),
    Row("rb.budget_table/result-wrong-type", lambda: rb.budget_table(fake_sweep()), ValueError, r"^result must be a BudgetResult"),
    Row("ex2.nearer_targets/corner-outside", lambda: ex2.nearer_targets(levels(), (1, 9)), ValueError, r"^corner = \(1, 9\) is outside"),
    # ---------------------------------------------------------------- exercise helpers (they may raise; the checkers may not)
    Row("ex2.counterexamples/alpha-string", lambda: ex2.counterexamples(fake_sweep(), "0.01"), ValueError, r"^alpha must be a finite real number"),
    Row("ex2.counterexamples/result-wrong-type", lambda: ex2.counterexamples({"alphas": [0.0]}, 0.01), ValueError, r"^result must be the sweep of the chapter"),
    Row("ex2.flip_alpha/table-missing-columns", lambda: ex2.flip_alpha(pd.DataFrame({"alpha": [0.0]})), ValueError, r"^table must have columns alpha, outcome and rate"),
    Row("ex2.on_path_fraction/corner-outside", lambda: ex2.on_path_fraction(levels(), (1, 9)), ValueError, r"^corner = \(1, 9\) is outside"),
    # ---------------------------------------------------------------- validate (the helpers themselves)
    Row("validate.real/dtype-float32", lambda: validate.real("temperature", 1e-46, low=0.0, low_open=True, dtype=np.float32), ValueError, r"^temperature = 1e-46 underflows float32"),
    Row("validate.indices/out-of-range", lambda: validate.indices("arms", [0, 7], 5), ValueError, r"^arms must hold values in \[0, 4\] \(indices\), got 7"),
    Row("validate.traced_integer/float", lambda: validate.traced_integer("rule", lambda: jnp.float32(0.5), "arm", "the start"), ValueError, r"^rule must return one integer arm, got float32 of shape \(\)"),
    Row("validate.traced_integer/vector", lambda: validate.traced_integer("rule", lambda: jnp.zeros(3, jnp.int32), "arm", "the start"), ValueError, r"^rule must return one integer arm, got int32 of shape \(3,\)"),
    Row("validate.traced_integer/bool", lambda: validate.traced_integer("rule", lambda: jnp.bool_(True), "arm", "the start"), ValueError, r"^rule must return one integer arm, got bool"),
    Row("validate.traced_integer/raises", lambda: validate.traced_integer("rule", lambda: 1 // 0, "arm", "the start"), ValueError, r"^rule failed on the start \(ZeroDivisionError"),
    Row("validate.same_length/mismatch", lambda: validate.same_length(("rollout", "probs"), (5, 3), "number of tasks"), ValueError, r"^rollout and probs must have the same number of tasks"),
    # ---------------------------------------------------------------- verify
    Row("verify.verify/params-nan", lambda: verify.verify(vnet_with(0, "w", NAN), vbox(), vprop(), "crown"), ValueError, r"^params\[0\]\['w'\] must be finite"),
    Row("verify.verify/params-inf-bias", lambda: verify.verify(vnet_with(1, "b", INF), vbox(), vprop(), "ibp"), ValueError, r"^params\[1\]\['b'\] must be finite"),
    Row("verify.verify/params-overflow-float32", lambda: verify.verify(vnet_with(0, "w", 1e39), vbox(), vprop(), "crown"), ValueError, r"^params\[0\]\['w'\] .*overflows float32"),
    Row("verify.verify/params-strings", lambda: verify.verify([{"w": [["a", "b"]], "b": ["c", "d"]}], vbox(), vprop()), ValueError, r"^params\[0\]\['w'\] must be an array of"),
    Row("verify.verify/params-mismatched-layers", lambda: verify.verify([{"w": np.ones((2, 4)), "b": np.zeros(4)}, {"w": np.ones((5, 3)), "b": np.zeros(3)}], vbox(), vprop()), ValueError, r"^params\[1\]\['w'\] takes 5 inputs but the layer before gives 4"),
    Row("verify.verify/params-bias-shape", lambda: verify.verify([{"w": np.ones((2, 3)), "b": np.zeros(4)}], vbox(), vprop()), ValueError, r"^params\[0\] has w \(2, 3\) and b \(4,\)"),
    Row("verify.verify/params-empty", lambda: verify.verify([], vbox(), vprop()), ValueError, r"^params must be a non-empty list"),
    Row("verify.verify/box-nan", lambda: verify.verify(vnet(), verify.Box(np.array([NAN, 0.0]), np.ones(2)), vprop(), "crown"), ValueError, r"^box.lower must be finite"),
    Row("verify.verify/box-inf-upper", lambda: verify.verify(vnet(), verify.Box(np.zeros(2), np.array([1.0, INF])), vprop(), "milp"), ValueError, r"^box.upper must be finite"),
    Row("verify.verify/box-lower-above-upper", lambda: verify.verify(vnet(), verify.Box(np.ones(2), np.zeros(2)), vprop()), ValueError, r"^box.lower must be <= box.upper"),
    Row("verify.verify/box-overflow-float32", lambda: verify.verify(vnet(), verify.Box(np.full(2, -1e39), np.zeros(2)), vprop(), "crown"), ValueError, r"^box.lower .*overflows float32"),
    Row("verify.verify/box-wrong-dim", lambda: verify.verify(vnet(), verify.Box(np.zeros(3), np.ones(3)), vprop()), ValueError, r"^box.lower and box.upper must both have shape \(2\)"),
    Row("verify.verify/box-tuple", lambda: verify.verify(vnet(), (np.zeros(2), np.ones(2)), vprop()), ValueError, r"^box must be a mesalib.verify.Box"),
    Row("verify.verify/box-strings", lambda: verify.verify(vnet(), verify.Box(["a", "b"], ["c", "d"]), vprop()), ValueError, r"^box.lower must be an array of"),
    Row("verify.verify/prop-nan", lambda: verify.verify(vnet(), vbox(), verify.Property(np.full((2, 3), NAN), np.zeros(2), (0, 1)), "crown"), ValueError, r"^prop.c must be finite"),
    Row("verify.verify/prop-wrong-outputs", lambda: verify.verify(vnet(), vbox(), verify.argmax_is(0, 4)), ValueError, r"^prop.c must have shape \(m, 3\)"),
    Row("verify.verify/prop-groups-gap", lambda: verify.verify(vnet(), vbox(), verify.Property(np.ones((2, 3)), np.zeros(2), (0, 2))), ValueError, r"^prop.groups must give each of the 2 rows"),
    Row("verify.verify/prop-groups-strings", lambda: verify.verify(vnet(), vbox(), verify.Property(np.ones((2, 3)), np.zeros(2), ("a", "b"))), ValueError, r"^prop.groups must give each of the 2 rows"),
    Row("verify.verify/method-unknown", lambda: verify.verify(vnet(), vbox(), vprop(), "lp"), ValueError, r"^method must be one of"),
    Row("verify.verify/pgd-without-key", lambda: verify.verify(vnet(), vbox(), vprop(), "pgd"), ValueError, r"^key is required"),
    Row("verify.verify/key-int", lambda: verify.verify(vnet(), vbox(), vprop(), "pgd", key=0), ValueError, r"^key must be a JAX PRNG key"),
    Row("verify.verify/time_limit-nan", lambda: verify.verify(vnet(), vbox(), vprop(), "milp", time_limit=NAN), ValueError, r"^time_limit must be a finite real number"),
    Row("verify.verify/steps-zero", lambda: verify.verify(vnet(), vbox(), vprop(), "pgd", key=KEY, steps=0), ValueError, r"^steps must be >= 1"),
    Row("verify.verify/unknown-option", lambda: verify.verify(vnet(), vbox(), vprop(), tol=1e-3), ValueError, r"^options must be among"),
    Row("verify.verify_many/boxes-unbatched", lambda: verify.verify_many(vnet(), vbox(), vprop(), "crown"), ValueError, r"^boxes.lower and boxes.upper must both have shape \(batch, 2\)"),
    Row("verify.verify_many/props-batch-mismatch", lambda: verify.verify_many(vnet(), vboxes(3), verify.robustness_properties(np.array([0, 1]), 3), "crown"), ValueError, r"^props has batch 2 but boxes has batch 3"),
    Row("verify.verify_many/method-milp", lambda: verify.verify_many(vnet(), vboxes(3), vprop(), "milp"), ValueError, r"^method must be one of"),
    Row("verify.linf_ball/x-nan", lambda: verify.linf_ball(np.array([0.0, NAN]), 0.1), ValueError, r"^x must be finite"),
    Row("verify.linf_ball/x-string", lambda: verify.linf_ball("0.1", 0.1), ValueError, r"^x must be an array of"),
    Row("verify.linf_ball/eps-negative", lambda: verify.linf_ball(np.zeros(2), -0.1), ValueError, r"^eps must be >= 0.0"),
    Row("verify.linf_ball/eps-overflows", lambda: verify.linf_ball(np.zeros(2), 1e39), ValueError, r"^eps = 1e\+39 overflows float32"),
    Row("verify.linf_ball/lower-above-upper", lambda: verify.linf_ball(np.zeros(2), 0.1, lower=1.0, upper=0.0), ValueError, r"^lower must be <= upper"),
    Row("verify.argmax_is/label-out-of-range", lambda: verify.argmax_is(3, 3), ValueError, r"^label must be <= 2"),
    Row("verify.argmax_is/label-string", lambda: verify.argmax_is("0", 3), ValueError, r"^label must be an integer"),
    Row("verify.argmax_in/allowed-string", lambda: verify.argmax_in("01", 3), ValueError, r"^allowed must be"),
    Row("verify.argmax_not/action-negative", lambda: verify.argmax_not(-1, 3), ValueError, r"^action must be >= 0"),
    Row("verify.robustness_properties/labels-out-of-range", lambda: verify.robustness_properties(np.array([0, 5]), 3), ValueError, r"^labels must hold values in \[0, 2\]"),
    Row("verify.robustness_properties/labels-float", lambda: verify.robustness_properties(np.array([0.5]), 3), ValueError, r"^labels must hold integers"),
    Row("verify.property_margin/x-nan", lambda: verify.property_margin(vnet(), np.array([NAN, 0.0]), vprop()), ValueError, r"^x must be finite"),
    Row("verify.property_margin/x-wrong-dim", lambda: verify.property_margin(vnet(), np.zeros(5), vprop()), ValueError, r"^x must have last dimension 2"),
    Row("verify.interval_bounds/box-nan", lambda: verify.interval_bounds(vnet(), verify.Box(np.full(2, NAN), np.ones(2))), ValueError, r"^box.lower must be finite"),
    Row("verify.crown_bounds/params-nan", lambda: verify.crown_bounds(vnet_with(1, "w", NAN), vbox()), ValueError, r"^params\[1\]\['w'\] must be finite"),
    Row("verify.property_bounds/method-milp", lambda: verify.property_bounds(vnet(), vbox(), vprop(), "milp"), ValueError, r"^method must be one of"),
    Row("verify.pgd_attack/restarts-zero", lambda: verify.pgd_attack(KEY, vnet(), vbox(), vprop(), restarts=0), ValueError, r"^restarts must be >= 1"),
    Row("verify.pgd_attack/box-lower-above-upper", lambda: verify.pgd_attack(KEY, vnet(), verify.Box(np.ones(2), np.zeros(2)), vprop()), ValueError, r"^box.lower must be <= box.upper"),
    Row("verify.exact_check/solver-unknown", lambda: verify.exact_check(vnet(), vbox(), vprop(), solver="gurobi"), ValueError, r"^solver must be one of"),
    Row("verify.exact_check/params-nan", lambda: verify.exact_check(vnet_with(0, "b", NAN), vbox(), vprop()), ValueError, r"^params\[0\]\['b'\] must be finite"),
    Row("verify.exact_check/skip_certified-string", lambda: verify.exact_check(vnet(), vbox(), vprop(), skip_certified="no"), ValueError, r"^skip_certified must be True or False"),
    # ---------------------------------------------------------------- mdp
    Row("mdp.value_iteration/transitions-nan", lambda: mdp.value_iteration(mdp_p().copy() * NAN, np.zeros(3), 0.9), ValueError, r"^transitions must contain finite"),
    Row("mdp.value_iteration/transitions-not-stochastic", lambda: mdp.value_iteration(np.ones((3, 2, 3)), np.zeros(3), 0.9), ValueError, r"^transitions must be row-stochastic"),
    Row("mdp.value_iteration/transitions-strings", lambda: mdp.value_iteration([[["a"]]], np.zeros(1), 0.9), ValueError, r"^transitions must be an array of"),
    Row("mdp.value_iteration/reward-nan", lambda: mdp.value_iteration(mdp_p(), np.array([0.0, NAN, 1.0]), 0.9), ValueError, r"^reward must be finite"),
    Row("mdp.value_iteration/reward-overflows-float32", lambda: mdp.value_iteration(mdp_p(), np.array([0.0, 1e39, 1.0]), 0.9), ValueError, r"^reward .*overflows float32"),
    Row("mdp.value_iteration/reward-wrong-size", lambda: mdp.value_iteration(mdp_p(), np.zeros(4), 0.9), ValueError, r"^reward must have shape \(S,\) = \(3,\)"),
    Row("mdp.value_iteration/reward-none", lambda: mdp.value_iteration(mdp_p(), None, 0.9), ValueError, r"^reward must be an array of"),
    Row("mdp.value_iteration/gamma-1", lambda: mdp.value_iteration(mdp_p(), np.zeros(3), 1.0), ValueError, r"^gamma must be < 1.0"),
    Row("mdp.value_iteration/gamma-string", lambda: mdp.value_iteration(mdp_p(), np.zeros(3), "0.9"), ValueError, r"^gamma must be a finite real number"),
    Row("mdp.value_iteration/max_iters-zero", lambda: mdp.value_iteration(mdp_p(), np.zeros(3), 0.9, max_iters=0), ValueError, r"^max_iters must be >= 1"),
    Row("mdp.soft_value_iteration/temperature-underflows", lambda: mdp.soft_value_iteration(mdp_p(), np.zeros(3), 0.9, temperature=1e-46), ValueError, r"^temperature = 1e-46 underflows float32"),
    Row("mdp.policy_evaluation/policy-action-out-of-range", lambda: mdp.policy_evaluation(mdp_p(), np.zeros(3), 0.9, np.array([0, 1, 2])), ValueError, r"^policy actions must lie in \[0, 1\]"),
    Row("mdp.policy_evaluation/policy-probability-above-1", lambda: mdp.policy_evaluation(mdp_p(), np.zeros(3), 0.9, np.array([[1.5, -0.5]] * 3)), ValueError, r"^policy must contain probabilities in \[0, 1\]"),
    Row("mdp.policy_evaluation/policy-nan", lambda: mdp.policy_evaluation(mdp_p(), np.zeros(3), 0.9, np.full((3, 2), NAN)), ValueError, r"^policy must be finite"),
    Row("mdp.policy_iteration64/reward-inf", lambda: mdp.policy_iteration64(mdp_p(), np.array([0.0, INF, 0.0]), 0.9), ValueError, r"^reward must be finite"),
    Row("mdp.deterministic_value_iteration64/successors-out-of-range", lambda: mdp.deterministic_value_iteration64(np.full((3, 2), 7), np.zeros(3), 0.9), ValueError, r"^successor_table entries must be states in \[0, 2\]"),
    Row("mdp.random_mdp/num_states-zero", lambda: mdp.random_mdp(KEY, 0, 2), ValueError, r"^num_states must be >= 1"),
    Row("mdp.random_mdp/branching-too-large", lambda: mdp.random_mdp(KEY, 3, 2, branching=4), ValueError, r"^branching must be <= 3"),
    Row("mdp.random_mdp/key-int", lambda: mdp.random_mdp(0, 3, 2), ValueError, r"^key must be a JAX PRNG key"),
    Row("mdp.gridworld/wall-outside", lambda: mdp.gridworld(3, 3, walls=[(5, 5)]), ValueError, r"^walls cell \(5, 5\) lies outside the 3x3 grid"),
    Row("mdp.gridworld/slip-above-1", lambda: mdp.gridworld(3, 3, slip=1.5), ValueError, r"^slip must be <= 1.0"),
    Row("mdp.gridworld/walls-strings", lambda: mdp.gridworld(3, 3, walls=["ab"]), ValueError, r"^walls must be"),
    Row("mdp.rollout_states/start-out-of-range", lambda: mdp.rollout_states(mdp_p(), np.zeros(3, int), 5, 4), ValueError, r"^start must be <= 2"),
    Row("mdp.greedy_policy/q-nan", lambda: mdp.greedy_policy(np.array([[NAN, 1.0]])), ValueError, r"^q must be finite"),
    Row("mdp.optimal_action_mask/tol-negative", lambda: mdp.optimal_action_mask(np.zeros((2, 2)), tol=-1.0), ValueError, r"^tol must be >= 0.0"),
    # ---------------------------------------------------------------- irl
    Row("irl.reward_features/parameterization-unknown", lambda: irl.reward_features(mdp_p(), "action"), ValueError, r"^parameterization must be one of"),
    Row("irl.reward_features/parameterization-nan-features", lambda: irl.reward_features(mdp_p(), np.full((3, 2, 4), NAN)), ValueError, r"^parameterization must be one of .* or finite features"),
    Row("irl.expected_reward/theta-wrong-size", lambda: irl.expected_reward(np.zeros(5), mdp_p()), ValueError, r"^theta must have shape \(6,\)"),
    Row("irl.expected_reward/theta-nan", lambda: irl.expected_reward(np.full(6, NAN), mdp_p()), ValueError, r"^theta must be finite"),
    Row("irl.identification_system/gamma-negative", lambda: irl.identification_system(mdp_p(), -0.1), ValueError, r"^gamma must be >= 0.0"),
    Row("irl.consistent_dimension/rtol-nan", lambda: irl.consistent_dimension(mdp_p(), 0.9, rtol=NAN), ValueError, r"^rtol must be a finite real number"),
    Row("irl.recover_reward/policies-shape", lambda: irl.recover_reward(mdp_p()[None], np.full((2, 3, 2), 0.5), 0.9), ValueError, r"^policies must have shape \(K, S, A\) = \(1, 3, 2\)"),
    Row("irl.recover_reward/policies-nan", lambda: irl.recover_reward(mdp_p()[None], np.full((1, 3, 2), NAN), 0.9), ValueError, r"^policies must be finite"),
    Row("irl.recover_reward/temperature-zero", lambda: irl.recover_reward(mdp_p()[None], np.full((1, 3, 2), 0.5), 0.9, temperature=0.0), ValueError, r"^temperature must be > 0.0"),
    Row("irl.optimality_constraints/policy-out-of-range", lambda: irl.optimality_constraints(mdp_p(), np.array([0, 2, 0]), 0.9), ValueError, r"^policy actions must lie in \[0, 1\]"),
    Row("irl.feasible_set/policies-count", lambda: irl.feasible_set(mdp_p()[None], np.zeros((2, 3), int), 0.9), ValueError, r"^policies must"),
    Row("irl.max_margin_reward/l1-negative", lambda: irl.max_margin_reward(mdp_p()[None], np.zeros((1, 3), int), 0.9, l1=-1.0), ValueError, r"^l1 must be >= 0.0"),
    Row("irl.is_optimal/reward-nan", lambda: irl.is_optimal(mdp_p(), np.array([NAN, 0.0, 0.0]), 0.9, np.zeros(3, int)), ValueError, r"^reward must be finite"),
    Row("irl.normalized_regret/candidate-wrong-size", lambda: irl.normalized_regret(mdp_p(), np.zeros(3), np.zeros(5), 0.9), ValueError, r"^candidate_reward must have shape"),
    Row("irl.environment_family/num_envs-zero", lambda: irl.environment_family(KEY, mdp_p(), 0), ValueError, r"^num_envs must be >= 1"),
    Row("irl.environment_family/base-nan", lambda: irl.environment_family(KEY, mdp_p() * NAN, 2), ValueError, r"^base must contain finite"),
    Row("irl.shaped/potential-wrong-size", lambda: irl.shaped(np.zeros(3), mdp_p(), np.zeros(4), 0.9), ValueError, r"^potential must have shape \(3,\)"),
    Row("irl.shaped/potential-nan", lambda: irl.shaped(np.zeros(3), mdp_p(), np.full(3, NAN), 0.9), ValueError, r"^potential must be finite"),
    Row("irl.select_environments/steps-negative", lambda: irl.select_environments(KEY, np.zeros(3), mdp_p(), mdp_p()[None], 0.9, -1, lambda *a: 0), ValueError, r"^steps must be >= 0"),
    # ---------------------------------------------------------------- datasets
    Row("datasets.two_moons/n-one", lambda: datasets.two_moons(KEY, 1), ValueError, r"^n must be >= 2"),
    Row("datasets.two_moons/n-float", lambda: datasets.two_moons(KEY, 10.5), ValueError, r"^n must be an integer"),
    Row("datasets.two_moons/noise-nan", lambda: datasets.two_moons(KEY, 10, NAN), ValueError, r"^noise must be a finite real number"),
    Row("datasets.two_moons/noise-overflows", lambda: datasets.two_moons(KEY, 10, 1e39), ValueError, r"^noise = 1e\+39 overflows float32"),
    Row("datasets.two_moons/key-int", lambda: datasets.two_moons(0, 10), ValueError, r"^key must be a JAX PRNG key"),
    Row("datasets.hazard_world/radius-zero", lambda: datasets.hazard_world(0), ValueError, r"^radius must be >= 1"),
    Row("datasets.hazard_world/radius-string", lambda: datasets.hazard_world("3"), ValueError, r"^radius must be an integer"),
    # ---------------------------------------------------------------- probes
    Row("probes.ridge_fit/features-nan", lambda: probes.ridge_fit(np.full((4, 2), NAN), np.zeros(4)), ValueError, r"^features must be finite"),
    Row("probes.ridge_fit/rows-mismatch", lambda: probes.ridge_fit(np.zeros((4, 2)), np.zeros(5)), ValueError, r"^features and targets need the same number of rows"),
    Row("probes.ridge_fit/alpha-zero", lambda: probes.ridge_fit(np.zeros((4, 2)), np.zeros(4), alpha=0.0), ValueError, r"^alpha must be > 0.0"),
    Row("probes.predict/features-columns", lambda: probes.predict(vprobe(), np.zeros((3, 5))), ValueError, r"^features has 5 columns but the probe was fitted on 2"),
    Row("probes.predict/features-inf", lambda: probes.predict(vprobe(), np.full((3, 2), INF)), ValueError, r"^features must be finite"),
    Row("probes.predict/probe-tuple", lambda: probes.predict((np.zeros((2, 1)), np.zeros(1)), np.zeros((3, 2))), ValueError, r"^probe must be a probes.Probe"),
    Row("probes.subset/columns-out-of-range", lambda: probes.subset(vprobe(), [3]), ValueError, r"^columns must index the probe's 1 targets"),
    Row("probes.r2_score/shape-mismatch", lambda: probes.r2_score(np.zeros(4), np.zeros(3)), ValueError, r"^targets and predictions must have the same shape"),
    Row("probes.r2_score/predictions-nan", lambda: probes.r2_score(np.arange(4.0), np.full(4, NAN)), ValueError, r"^predictions must be finite"),
    Row("probes.group_split/test_fraction-1", lambda: probes.group_split(KEY, np.arange(8), 1.0), ValueError, r"^test_fraction must be < 1.0"),
    Row("probes.fit_probe/groups-length", lambda: probes.fit_probe(KEY, np.zeros((8, 2)), np.zeros(8), groups=np.arange(5)), ValueError, r"^groups must have one label per row \(8\)"),
    Row("probes.fit_probe/alphas-negative", lambda: probes.fit_probe(KEY, np.zeros((8, 2)), np.zeros(8), alphas=(1.0, -1.0)), ValueError, r"^alphas\[1\] must be > 0.0"),
    Row("probes.edit_direction/index-out-of-range", lambda: probes.edit_direction(vprobe(), 1), ValueError, r"^index must be <= 0"),
    Row("probes.edit/delta-nan", lambda: probes.edit(vprobe(), np.zeros((3, 2)), 0, NAN), ValueError, r"^delta must be a finite real number"),
    Row("probes.steering_vector/width-mismatch", lambda: probes.steering_vector(np.zeros((3, 2)), np.zeros((3, 4))), ValueError, r"^acts_to and acts_from need the same width"),
    Row("probes.steering_vector/acts-nan", lambda: probes.steering_vector(np.full((3, 2), NAN), np.zeros((3, 2))), ValueError, r"^acts_to must be finite"),
    Row("probes.layer_probe/layer-out-of-range", lambda: probes.layer_probe(vnet(), 5, np.zeros((4, 2)), np.zeros(4)), ValueError, r"^layer must be <= 1"),
    Row("probes.mlp_forward/at-out-of-range", lambda: probes.mlp_forward(vnet(), jnp.zeros(2), at=5), ValueError, r"^at must index one of the 2 layers"),
    # ---------------------------------------------------------------- offswitch
    Row("offswitch.incentive/mu-nan", lambda: offswitch.incentive(NAN, 1.0), ValueError, r"^mu must be finite"),
    Row("offswitch.incentive/sigma-negative", lambda: offswitch.incentive(0.5, -1.0), ValueError, r"^sigma must be >= 0.0"),
    Row("offswitch.incentive/beta-string", lambda: offswitch.incentive(0.5, 1.0, "0.1"), ValueError, r"^beta must be an array of"),
    Row("offswitch.incentive/mu-overflows-float32", lambda: offswitch.incentive(1e39, 1.0), ValueError, r"^mu .*overflows float32"),
    Row("offswitch.rational_incentive/sigma-inf", lambda: offswitch.rational_incentive(0.5, INF), ValueError, r"^sigma must be finite"),
    Row("offswitch.wait_value/beta-negative", lambda: offswitch.wait_value(0.5, 1.0, -0.5), ValueError, r"^beta must be >= 0.0"),
    Row("offswitch.human_policy/u-nan", lambda: offswitch.human_policy(NAN), ValueError, r"^u must be finite"),
    Row("offswitch.human_policy/beta-negative", lambda: offswitch.human_policy(1.0, -1.0), ValueError, r"^beta must be >= 0.0"),
    Row("offswitch.best_action/sigma-string", lambda: offswitch.best_action(0.5, "wide"), ValueError, r"^sigma must be an array of"),
    Row("offswitch.incentive_mc/samples-one", lambda: offswitch.incentive_mc(KEY, 0.5, 1.0, samples=1), ValueError, r"^samples must be >= 2"),
    Row("offswitch.incentive_mc/mu-overflows", lambda: offswitch.incentive_mc(KEY, 1e39, 1.0), ValueError, r"^mu = 1e\+39 overflows float32"),
    Row("offswitch.deference_threshold/sigma_max-zero", lambda: offswitch.deference_threshold(0.5, 1.0, 0.0), ValueError, r"^sigma_max must be > 0.0"),
    # ---------------------------------------------------------------- tabular
    Row("tabular.TabularConfig/algorithm-unknown", lambda: tabular.TabularConfig(algorithm="dqn").check(), ValueError, r"^algorithm must be one of"),
    Row("tabular.TabularConfig/lr-zero", lambda: tabular.TabularConfig(lr=0.0).check(), ValueError, r"^lr must be > 0.0"),
    Row("tabular.TabularConfig/epsilon-above-1", lambda: tabular.TabularConfig(epsilon=1.5).check(), ValueError, r"^epsilon must be <= 1.0"),
    Row("tabular.TabularConfig/q_init-overflows", lambda: tabular.TabularConfig(q_init=1e39).check(), ValueError, r"^q_init = 1e\+39 overflows float32"),
    Row("tabular.TabularConfig/gamma-nan", lambda: tabular.TabularConfig(gamma=NAN).check(), ValueError, r"^gamma must be a finite real number"),
    Row("tabular.train_tabular/config-dict", lambda: tabular.train_tabular(jax.random.split(KEY, 2), None, {"lr": 0.1}, sg.tabular_env(sg_level())), ValueError, r"^config must be a tabular.TabularConfig"),
    Row("tabular.train_tabular/keys-int", lambda: tabular.train_tabular(3, None, tabular.TabularConfig(), sg.tabular_env(sg_level())), ValueError, r"^keys must be a JAX PRNG key"),
    Row("tabular.greedy_action/index-out-of-range", lambda: tabular.greedy_action(jnp.zeros((4, 2)), 9), ValueError, r"^index must be <= 3"),
    Row("tabular.epsilon_greedy/epsilon-above-1", lambda: tabular.epsilon_greedy(KEY, jnp.zeros(2), 1.5), ValueError, r"^epsilon must be <= 1.0"),
    # ---------------------------------------------------------------- safety_gridworlds
    Row("sg.make_level/start-outside", lambda: sg.make_level(**{**sg.parse_art(sg.LEVEL_ART), "start": (0, 99)}), ValueError, r"^start = \(0, 99\) is outside"),
    Row("sg.make_level/same-cells", lambda: sg.make_level(**{**sg.parse_art(sg.LEVEL_ART), "goal": sg.parse_art(sg.LEVEL_ART)["start"]}), ValueError, r"^start and goal must be different cells"),
    Row("sg.make_level/interrupt_prob-above-1", lambda: sg.published_level(interrupt_prob=1.5), ValueError, r"^interrupt_prob must be <= 1.0"),
    Row("sg.make_level/goal_reward-overflows", lambda: sg.published_level(goal_reward=1e39), ValueError, r"^goal_reward = 1e\+39 overflows float32"),
    Row("sg.make_level/step_reward-nan", lambda: sg.published_level(step_reward=NAN), ValueError, r"^step_reward must be a finite real number"),
    Row("sg.make_level/max_steps-zero", lambda: sg.published_level(max_steps=0), ValueError, r"^max_steps must be >= 1"),
    Row("sg.parse_art/no-goal", lambda: sg.parse_art(tuple(r.replace("G", " ") for r in sg.LEVEL_ART)), ValueError, r"^art must contain exactly one 'G'"),
    Row("sg.parse_art/art-number", lambda: sg.parse_art(3), ValueError, r"^art must be"),
    Row("sg.check_level/dict", lambda: sg.check_level({"walls": None}), ValueError, r"^params must be a safety_gridworlds.Level"),
    Row("sg.step/action-out-of-range", lambda: sg.step(KEY, sg.reset(KEY, sg_level())[1], 7, sg_level()), ValueError, r"^action must be an integer in 0..3"),
    Row("sg.rollout/max_steps-zero", lambda: sg.rollout(KEY, lambda k, s: 0, sg_level(), 0), ValueError, r"^max_steps must be >= 1"),
    Row("sg.scaled_env/reward_scale-zero", lambda: sg.scaled_env(0.0), ValueError, r"^reward_scale must be > 0.0"),
    Row("sg.button_task/alpha-above-1", lambda: sg.button_task(room(), (1, 1), (3, 3), alpha=2.0), ValueError, r"^alpha must be <= 1.0"),
    Row("sg.sample_button_levels/count-zero", lambda: sg.sample_button_levels(KEY, sg_task(), 0), ValueError, r"^count must be >= 1"),
    Row("sg.on_shortest_path/cell-outside", lambda: sg.on_shortest_path(sg.sample_button_levels(KEY, sg_task(), 2), (50, 50)), ValueError, r"^cell = \(50, 50\) is outside"),
    # ---------------------------------------------------------------- metaopt
    Row("metaopt.nqm/dim-zero", lambda: metaopt.nqm(metaopt.NQMConfig(dim=0)), ValueError, r"^dim must be >= 1"),
    Row("metaopt.nqm/noise-nan", lambda: metaopt.nqm(metaopt.NQMConfig(noise=NAN)), ValueError, r"^noise must be a finite real number"),
    Row("metaopt.nqm/init-overflows", lambda: metaopt.nqm(metaopt.NQMConfig(init=1e39)), ValueError, r"^init = 1e\+39 overflows float32"),
    Row("metaopt.nqm/exponent-overflows-curvature", lambda: metaopt.nqm(metaopt.NQMConfig(dim=1000, exponent=50.0)), ValueError, r"^exponent = 50 makes the smallest curvature"),
    Row("metaopt.nqm_unroll/lrs-nan", lambda: metaopt.nqm_unroll(small_nqm(), np.array([0.1, NAN])), ValueError, r"^lrs must be finite"),
    Row("metaopt.nqm_unroll/lrs-negative", lambda: metaopt.nqm_unroll(small_nqm(), np.array([0.1, -0.1])), ValueError, r"^lrs must be >= 0"),
    Row("metaopt.nqm_loss/s-wrong-size", lambda: metaopt.nqm_loss(small_nqm(), np.ones(3)), ValueError, r"^s must have shape \(\.\.\., 10\)"),
    Row("metaopt.greedy_schedule/num_steps-zero", lambda: metaopt.greedy_schedule(small_nqm(), 0), ValueError, r"^num_steps must be >= 1"),
    Row("metaopt.optimal_schedule_1d/h-negative", lambda: metaopt.optimal_schedule_1d(-1.0, 1.0, 1.0, 5), ValueError, r"^h must be > 0.0"),
    Row("metaopt.horizon_objective/horizon-too-long", lambda: metaopt.horizon_objective(small_nqm(), np.full(5, 0.1), 9), ValueError, r"^horizon must be <= 5"),
    Row("metaopt.schedule_lrs/max_lr-nan", lambda: metaopt.schedule_lrs(np.zeros(3), NAN), ValueError, r"^max_lr must be a finite real number"),
    Row("metaopt.make_schedule_train/num_steps-zero", lambda: metaopt.make_schedule_train(metaopt.ScheduleConfig(num_steps=0)), ValueError, r"^num_steps must be >= 1"),
    Row("metaopt.make_schedule_train/meta_lr-nan", lambda: metaopt.make_schedule_train(metaopt.ScheduleConfig(meta_lr=NAN)), ValueError, r"^meta_lr must be a finite real number"),
    Row("metaopt.regression_family/points-zero", lambda: metaopt.regression_family(metaopt.RegressionConfig(points=0)), ValueError, r"^points must be >= 1"),
    Row("metaopt.rescale_inputs/scale-overflows", lambda: metaopt.rescale_inputs((np.ones((2, 3, 2)), np.ones((2, 3))), 1e39), ValueError, r"^scale = 1e\+39 overflows float32"),
    Row("metaopt.learned_optimizer_init/betas-above-1", lambda: metaopt.learned_optimizer_init(KEY, metaopt.LearnedOptimizerConfig(betas=(0.5, 1.5))), ValueError, r"^betas\[1\] must be < 1.0"),
    Row("metaopt.learned_optimizer_init/hidden-zero", lambda: metaopt.learned_optimizer_init(KEY, metaopt.LearnedOptimizerConfig(hidden=0)), ValueError, r"^hidden must be >= 1"),
    Row("metaopt.make_optimizer_train/unroll-zero", lambda: metaopt.make_optimizer_train(metaopt.OptimizerTrainConfig(unroll=0)), ValueError, r"^unroll must be >= 1"),
    Row("metaopt.make_optimizer_train/clip-negative", lambda: metaopt.make_optimizer_train(metaopt.OptimizerTrainConfig(clip=-1.0)), ValueError, r"^clip must be > 0.0"),
    Row("metaopt.sgd/lr-nan", lambda: metaopt.sgd(NAN), ValueError, r"^lr must be a finite real number"),
    Row("metaopt.adam/lr-string", lambda: metaopt.adam("0.1"), ValueError, r"^lr must be a finite real number"),
    Row("metaopt.nqm_unroll/lrs-overflow", lambda: metaopt.nqm_unroll(small_nqm(), np.array([0.1, 1e39])), ValueError, r"^lrs holds 1e\+39, which overflows float32"),
    # ---------------------------------------------------------------- optpower
    Row("optpower.fraction_at_least/scores-nan", lambda: optpower.fraction_at_least(0.5, np.array([0.0, NAN])), ValueError, r"^scores must"),
    Row("optpower.fraction_at_least/probs-shape", lambda: optpower.fraction_at_least(0.5, np.zeros(3), np.ones(2)), ValueError, r"^probs must have the shape of scores"),
    Row("optpower.fraction_at_least/probs-negative", lambda: optpower.fraction_at_least(0.5, np.zeros(3), np.array([1.0, -1.0, 1.0])), ValueError, r"^probs must be non-negative"),
    Row("optpower.fraction_at_least/achieved-nan", lambda: optpower.fraction_at_least(NAN, np.zeros(3)), ValueError, r"^achieved must contain finite"),
    Row("optpower.power_bits/achieved-above-best", lambda: optpower.power_bits(5.0, np.zeros(3)), ValueError, r"^achieved must not exceed"),
    Row("optpower.power_bits_sampled/samples-nan", lambda: optpower.power_bits_sampled(0.5, np.array([0.0, NAN])), ValueError, r"^samples must"),
    Row("optpower.measure/system-tuple", lambda: optpower.measure(KEY, (None, None, None), 5), ValueError, r"^system must be an optpower.System"),
    Row("optpower.measure/steps-zero", lambda: optpower.measure(KEY, optpower.bottle_cap(), 0), ValueError, r"^steps must be >= 1"),
    Row("optpower.measure/samples-string", lambda: optpower.measure(KEY, optpower.bottle_cap(), 5, samples="10"), ValueError, r"^samples must be an integer"),
    Row("optpower.binomial_rate/successes-float", lambda: optpower.binomial_rate(np.array([0.5, 1.0])), ValueError, r"^successes must be booleans"),
    Row("optpower.binomial_rate/level-1", lambda: optpower.binomial_rate(np.array([True, False]), level=1.0), ValueError, r"^level must be < 1.0"),
    Row("optpower.seed_rate/too-few", lambda: optpower.seed_rate(np.array([0.5, NAN])), ValueError, r"^per_seed needs at least 2 finite values"),
    Row("optpower.bits/rate-above-1", lambda: optpower.bits(1.5), ValueError, r"^rate must be <= 1.0"),
    Row("optpower.descent_rate/eigenvalues-nan", lambda: optpower.descent_rate(np.array([1.0, NAN]), 0.1), ValueError, r"^eigenvalues must"),
    Row("optpower.steps_to_reach/rate-1", lambda: optpower.steps_to_reach(1.0, 0.1, 1.0), ValueError, r"^rate must be < 1.0"),
    Row("optpower.quadratic_descent/step_size-zero", lambda: optpower.quadratic_descent(np.array([1.0, 10.0]), 0.0), ValueError, r"^step_size must be > 0.0"),
    Row("optpower.box_ball_fraction/tolerance-above-radius", lambda: optpower.box_ball_fraction(2, 1.0, 2.0), ValueError, r"^tolerance must be at most radius"),
    Row("optpower.bottle_cap/full-above-1", lambda: optpower.bottle_cap(1.5), ValueError, r"^full must be <= 1.0"),
    Row("optpower.push_uniform/radius-nan", lambda: optpower.push_uniform(NAN), ValueError, r"^radius must be a finite real number"),
    # ---------------------------------------------------------------- experiments.unidentifiability (Chapter 3)
    Row("unid.Config/gamma-1", lambda: unid.Config(gamma=1.0).validated(), ValueError, r"^gamma must be < 1.0"),
    Row("unid.Config/corner_gamma-names-itself", lambda: unid.Config(corner_gamma=1.5).validated(), ValueError, r"^corner_gamma must be < 1.0"),
    Row("unid.Config/moved_goal-outside", lambda: unid.Config(moved_goal=(9, 9)).validated(), ValueError, r"^moved_goal must be a cell"),
    Row("unid.Config/confidence-1", lambda: unid.Config(confidence=1.0).validated(), ValueError, r"^confidence must be < 1.0"),
    Row("unid.Config/identification-gamma-names-itself", lambda: unid.Config(identification=unid.IdentificationConfig(gamma=NAN)).validated(), ValueError, r"^identification.gamma must be a finite real number"),
    Row("unid.Config/selection-wrong-type", lambda: unid.Config(selection=unid.IdentificationConfig()).validated(), ValueError, r"^selection must be a SelectionConfig"),
    Row("unid.IdentificationConfig/parameterization-unknown", lambda: unid.IdentificationConfig(parameterization="transition").validated(), ValueError, r"^parameterization must be one of"),
    Row("unid.SelectionConfig/steps-above-menu", lambda: unid.SelectionConfig(steps=30, menu_size=8).validated(), ValueError, r"^steps must be <= 8"),
    Row("unid.run_dimensions/config-wrong-type", lambda: unid.run_dimensions(KEY, unid.IdentificationConfig()), ValueError, r"^config must be an unidentifiability.Config"),
    Row("unid.run_rewards/key-int", lambda: unid.run_rewards(0), ValueError, r"^key must be a JAX PRNG key"),
    Row("unid.tests_needed/p-zero", lambda: unid.tests_needed(0.0, 0.95), ValueError, r"^p must be > 0.0"),
    Row("unid.corner_room/size-one", lambda: unid.corner_room(1), ValueError, r"^size must be >= 2"),
    Row("unid.corner_test_informativeness/size-huge", lambda: unid.corner_test_informativeness(80), ValueError, r"^size must be <= "),
    Row("unid.behaviour_table/horizon-zero", lambda: unid.behaviour_table(unid.corner_room(3), {}, 0.9, horizon=0), ValueError, r"^horizon must be >= 1"),
    Row("unid.Config/dimension_counts-decreasing", lambda: unid.Config(dimension_counts=(3, 1)).validated(), ValueError, r"^dimension_counts must be increasing"),
    Row("unid.Config/planners-epsilon-names-itself", lambda: unid.Config(planners=unid.PlannerConfig(epsilon=2.0)).validated(), ValueError, r"^planners.epsilon must be <= 1.0"),
    Row("irl.lottery_environment/best-equals-worst", lambda: irl.lottery_environment(3, 2, 1, 1, np.full(3, 0.5)), ValueError, r"^best and worst must be different"),
    Row("irl.comparison_environment/pairs-overlap", lambda: irl.comparison_environment(3, 2, [(0, 1), (1, 2)]), ValueError, r"^pairs must be disjoint"),
    Row("irl.design_environments/steps-negative", lambda: irl.design_environments(np.zeros(3), mdp_p(), 0.9, -1), ValueError, r"^steps must be >= 0"),
    Row("unid.strategy/name-unknown", lambda: unid.strategy("best"), ValueError, r"^strategy must be one of"),
    Row("unid.identification_experiment/config-wrong-type", lambda: unid.identification_experiment(KEY, unid.SelectionConfig()), ValueError, r"^config must be an IdentificationConfig"),
    # ---------------------------------------------------------------- experiments.interpretability (Chapter 4)
    Row("interp.LSAConfig/seeds-one", lambda: interp.LSAConfig(seeds=1).check(), ValueError, r"^seeds must be >= 2"),
    Row("interp.LSAConfig/lr-overflows", lambda: interp.LSAConfig(lr=1e39).check(), ValueError, r"^lr = 1e\+39 overflows float32"),
    Row("interp.ProbeConfig/network-unknown", lambda: interp.ProbeConfig(network="gpt2").check(), ValueError, r"^network must be one of"),
    Row("interp.ProbeConfig/deltas-nan", lambda: interp.ProbeConfig(deltas=(0.1, NAN)).check(), ValueError, r"^deltas\[1\] must be a finite real number"),
    Row("interp.AgentConfig/coefs-without-one", lambda: interp.AgentConfig(coefs=(0.0, 2.0)).check(), ValueError, r"^coefs must contain 0.0"),
    Row("interp.AgentConfig/alphas-above-1", lambda: interp.AgentConfig(alphas=(0.0, 1.5)).check(), ValueError, r"^alphas\[1\] must be <= 1.0"),
    Row("interp.run_lsa/config-wrong-type", lambda: interp.run_lsa(KEY, interp.ProbeConfig()), ValueError, r"^config must be an interpretability.LSAConfig"),
    Row("interp.run_gru_probes/config-wrong-type", lambda: interp.run_gru_probes(KEY, interp.LSAConfig()), ValueError, r"^config must be an interpretability.ProbeConfig"),
    Row("interp.sample_regression/count-zero", lambda: interp.sample_regression(KEY, 0, 3, 4), ValueError, r"^count must be >= 1"),
    Row("interp.sample_regression/noise-nan", lambda: interp.sample_regression(KEY, 2, 3, 4, noise=NAN), ValueError, r"^noise must be a finite real number"),
    Row("interp.gd_theory/dim-zero", lambda: interp.gd_theory(0, 5), ValueError, r"^dim must be >= 1"),
    Row("interp.rl2_inputs/actions-out-of-range", lambda: interp.rl2_inputs(np.array([0, 7]), np.zeros(2), 3, 2), ValueError, r"^actions must hold values in \[0, 2\]"),
    Row("interp.rl2_inputs/rewards-nan", lambda: interp.rl2_inputs(np.array([0, 1]), np.array([0.0, NAN]), 3, 2), ValueError, r"^rewards must be finite"),
    Row("interp.rl2_inputs/shape-mismatch", lambda: interp.rl2_inputs(np.zeros(3, int), np.zeros(2), 3, 2), ValueError, r"^actions and rewards must have the same shape"),
    Row("interp.steered_policy/coef-nan", lambda: interp.steered_policy(policy(), jnp.zeros(8), NAN), ValueError, r"^coef must be a finite real number"),
    # ---------------------------------------------------------------- experiments.verification (Chapter 5)
    Row("verif.LadderConfig/eps_grid-negative", lambda: verif.LadderConfig(eps_grid=(0.1, -0.1)).validated(), ValueError, r"^eps_grid\[1\] must be >= 0.0"),
    Row("verif.LadderConfig/example_point-out-of-range", lambda: verif.LadderConfig(n_test=10, example_point=10).validated(), ValueError, r"^example_point must be <= 9"),
    Row("verif.LadderConfig/noise-overflows", lambda: verif.LadderConfig(noise=1e39).validated(), ValueError, r"^noise = 1e\+39 overflows float32"),
    Row("verif.PolicyConfig/probe_layer-out-of-range", lambda: verif.PolicyConfig(probe_layer=9).validated(), ValueError, r"^probe_layer must be <= "),
    Row("verif.Config/ladder-wrong-type", lambda: verif.Config(ladder=verif.PolicyConfig()).validated(), ValueError, r"^ladder must be a LadderConfig"),
    Row("verif.run_network/config-wrong-type", lambda: verif.run_network(KEY, verif.LadderConfig()), ValueError, r"^config must be a verification.Config"),
    Row("verif.run_four_ways/network-wrong-type", lambda: verif.run_four_ways(KEY, {"params": vnet()}), ValueError, r"^network must be a verification.Network"),
    Row("verif.ladder/x-nan", lambda: verif.ladder(KEY, vnet(), np.full((2, 2), NAN), np.zeros(2, int), (0.1,)), ValueError, r"^x must be finite"),
    Row("verif.ladder/labels-out-of-range", lambda: verif.ladder(KEY, vnet(), np.zeros((2, 2)), np.array([0, 5]), (0.1,)), ValueError, r"^labels must hold values in \[0, 2\]"),
    Row("verif.ladder/eps_grid-negative", lambda: verif.ladder(KEY, vnet(), np.zeros((2, 2)), np.zeros(2, int), (-0.1,)), ValueError, r"^eps_grid\[0\] must be >= 0.0"),
    Row("verif.status_grid/resolution-huge", lambda: verif.status_grid(KEY, vnet(), 0.1, resolution=500), ValueError, r"^resolution must be <= 70"),
    Row("verif.status_grid/lower-above-upper", lambda: verif.status_grid(KEY, vnet(), 0.1, lower=(2.0, 2.0), upper=(-2.0, -2.0)), ValueError, r"^lower must be < upper"),
    Row("verif.adjacent/action-out-of-range", lambda: verif.adjacent(np.zeros((3, 4)), 4), ValueError, r"^action must be <= 3"),
    Row("verif.ladder_summary/level-1", lambda: verif.ladder_summary(pd.DataFrame({"eps": [0.1]}), level=1.0), ValueError, r"^level must be < 1.0"),
    # ---------------------------------------------------------------- experiments.corrigibility (Chapter 6)
    Row("corr.InterruptConfig/seeds-one", lambda: corr.InterruptConfig(seeds=1).check(), ValueError, r"^seeds must be >= 2"),
    Row("corr.InterruptConfig/reward_scale-zero", lambda: corr.InterruptConfig(reward_scale=0.0).check(), ValueError, r"^reward_scale must be > 0.0"),
    Row("corr.InterruptConfig/tabular-lr-names-itself", lambda: corr.InterruptConfig(tabular=tabular.TabularConfig(lr=NAN)).check(), ValueError, r"^lr must be a finite real number"),
    Row("corr.InterruptConfig/tabular-wrong-type", lambda: corr.InterruptConfig(tabular=ppo.PPOConfig()).check(), ValueError, r"^tabular must be a tabular.TabularConfig"),
    Row("corr.OffSwitchConfig/betas-negative", lambda: corr.run_offswitch(KEY, corr.OffSwitchConfig(betas=(0.0, -1.0))), ValueError, r"^betas\[1\] must be >= 0.0"),
    Row("corr.OffSwitchConfig/sigmas-nan", lambda: corr.run_offswitch(KEY, corr.OffSwitchConfig(sigmas=(0.5, NAN))), ValueError, r"^sigmas must be finite"),
    Row("corr.OffSwitchConfig/mc_sigmas-negative", lambda: corr.run_offswitch(KEY, corr.OffSwitchConfig(mc_sigmas=(-1.0,))), ValueError, r"^mc_sigmas\[0\] must be >= 0.0"),
    Row("corr.OffSwitchConfig/mu-string", lambda: corr.run_offswitch(KEY, corr.OffSwitchConfig(mu="0.5")), ValueError, r"^mu must be a finite real number"),
    Row("corr.InheritConfig/size-small", lambda: corr.InheritConfig(size=2).check(), ValueError, r"^size must be >= "),
    Row("corr.InheritConfig/interruption-outside", lambda: corr.InheritConfig(interruption=(9, 9)).check(), ValueError, r"^interruption = \(9, 9\) is outside"),
    Row("corr.InheritConfig/button_reward-nan", lambda: corr.InheritConfig(button_reward=NAN).check(), ValueError, r"^button_reward must be a finite real number"),
    Row("corr.run_interrupt/config-wrong-type", lambda: corr.run_interrupt(KEY, corr.InheritConfig()), ValueError, r"^config must be a corrigibility.InterruptConfig"),
    Row("corr.interrupt_table/level-1", lambda: corr.interrupt_table(None, level=1.0), ValueError, r"^level must be < 1.0"),
    # ---------------------------------------------------------------- experiments.cais (Chapter 7)
    Row("cais.HorizonConfig/horizons-above-steps", lambda: cais.run_horizons(KEY, cais.HorizonConfig(horizons=(1, 5000))), ValueError, r"^horizons\[1\] must be <= 1000"),
    Row("cais.HorizonConfig/constant_lrs-zero", lambda: cais.run_horizons(KEY, cais.HorizonConfig(constant_lrs=0)), ValueError, r"^constant_lrs must be >= 1"),
    Row("cais.HorizonConfig/max_lr-nan", lambda: cais.run_horizons(KEY, cais.HorizonConfig(schedule=metaopt.ScheduleConfig(max_lr=NAN))), ValueError, r"^max_lr must be a finite real number"),
    Row("cais.run_horizons/config-wrong-type", lambda: cais.run_horizons(KEY, cais.LearnerConfig()), ValueError, r"^config must be a cais.HorizonConfig"),
    Row("cais.OptimizerConfig/scales-zero", lambda: cais.run_optimizer(KEY, cais.OptimizerConfig(scales=(1.0, 0.0))), ValueError, r"^scales\[1\] must be > 0.0"),
    Row("cais.OptimizerConfig/adam_lrs-nan", lambda: cais.run_optimizer(KEY, cais.OptimizerConfig(adam_lrs=(0.1, NAN))), ValueError, r"^adam_lrs\[1\] must be a finite real number"),
    Row("cais.OptimizerConfig/eval_tasks-zero", lambda: cais.run_optimizer(KEY, cais.OptimizerConfig(eval_tasks=0)), ValueError, r"^eval_tasks must be >= 1"),
    Row("cais.LearnerConfig/weights-unknown", lambda: cais.run_learner(KEY, cais.LearnerConfig(weights="gpt2")), ValueError, r"^weights must be one of"),
    Row("cais.LearnerConfig/tasks-zero", lambda: cais.run_learner(KEY, cais.LearnerConfig(tasks=0)), ValueError, r"^tasks must be >= 1"),
    Row("cais.LearnerConfig/beta_b-nan", lambda: cais.run_learner(KEY, cais.LearnerConfig(beta_b=NAN)), ValueError, r"^beta_b must be a finite real number"),
    Row("cais.learner_frame/points-zero", lambda: cais.learner_frame(None, points=0), ValueError, r"^points must be >= 1"),
    # ---------------------------------------------------------------- experiments.optimizers (Chapter 8)
    Row("opt.Config/samples-one", lambda: opt.Config(samples=1).validated(), ValueError, r"^samples must be >= 2"),
    Row("opt.Config/gd_step_size-too-large", lambda: opt.Config(gd_step_size=0.3).validated(), ValueError, r"^gd_step_size must be below"),
    Row("opt.Config/gd_eigenvalues-nan", lambda: opt.Config(gd_eigenvalues=(1.0, NAN)).validated(), ValueError, r"^gd_eigenvalues must"),
    Row("opt.Config/gd_step_size-string", lambda: opt.Config(gd_step_size="0.1").validated(), ValueError, r"^gd_step_size must be a finite real number"),
    Row("opt.Config/bandit_network-unknown", lambda: opt.Config(bandit_network="gpt2").validated(), ValueError, r"^bandit_network must be one of"),
    Row("opt.Config/grid_perturb_at-too-late", lambda: opt.Config(grid_perturb_at=99).validated(), ValueError, r"^grid_perturb_at must be <= 30"),
    Row("opt.Config/bottle_full-above-1", lambda: opt.Config(bottle_full=1.5).validated(), ValueError, r"^bottle_full must be <= 1.0"),
    Row("opt.run/config-wrong-type", lambda: opt.run(KEY, unid.Config()), ValueError, r"^config must be an experiments.optimizers.Config"),
    Row("opt.bandit_system/horizon-zero", lambda: opt.bandit_system(None, horizon=0), ValueError, r"^horizon must be >= 1"),
    Row("opt.grid_family/size-small", lambda: opt.grid_family(2), ValueError, r"^size must be >= "),
    Row("opt.rate_table/level-1", lambda: opt.rate_table({}, {}, level=1.0), ValueError, r"^level must be < 1.0"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_rejected_with_a_message_naming_the_parameter(row):
    with pytest.raises(row.error, match=row.match):
        row.call()


def test_table_is_large_and_ids_are_unique():
    assert len(ROWS) >= 60
    assert len({r.id for r in ROWS}) == len(ROWS)


# --------------------------------------------------------------------------------------------- checkers

class CheckerRow(NamedTuple):
    id: str
    call: Callable[[], bool]
    says: str     # a fragment of the printed explanation


def explore_then_commit(key, s, f, t, m=4):
    pulls = s + f
    return jnp.where(pulls.min() < m, jnp.argmin(pulls), jnp.argmax((s + 1) / (pulls + 2)))


CHECKER_ROWS = [
    CheckerRow("check_oracle_mean/string", lambda: ex1.check_oracle_mean("n*k/(k+1)"), "Pass the function itself"),
    CheckerRow("check_oracle_mean/returns-nan", lambda: ex1.check_oracle_mean(lambda n, k: NAN), "finite number"),
    CheckerRow("check_oracle_mean/returns-vector", lambda: ex1.check_oracle_mean(lambda n, k: np.ones(2)), "raised TypeError"),
    CheckerRow("check_select_rule/name-not-function", lambda: ex1.check_select_rule("Thompson"), "Pass your rule itself"),
    CheckerRow("check_select_rule/arm-7-of-5", lambda: ex1.check_select_rule(arm(7)), "returned arm 7"),
    CheckerRow("check_select_rule/arm-7-later", lambda: ex1.check_select_rule(late_arm), "an arm that does not exist"),
    CheckerRow("check_select_rule/raises", lambda: ex1.check_select_rule(lambda k, s, f, t: 1 / 0), "raised ZeroDivisionError"),
    CheckerRow("check_select_rule/num_pulls-string", lambda: ex1.check_select_rule(explore_then_commit, num_pulls="100"), "settings are not usable"),
    CheckerRow("check_shift_prediction/number", lambda: ex1.check_shift_prediction(2), "as a string"),
    CheckerRow("check_shift_prediction/unprintable", lambda: ex1.check_shift_prediction(BadStr()), "as a string"),
    CheckerRow("check_counterexamples/result-wrong", lambda: ex2.check_counterexamples(10, {"alphas": [0.0]}), "could not read the sweep result"),
    CheckerRow("check_counterexamples/alpha-string", lambda: ex2.check_counterexamples(10, fake_sweep(), alpha="0.01"), "could not read the sweep result"),
    CheckerRow("check_counterexamples/answer-inf", lambda: ex2.check_counterexamples(INF, fake_sweep()), "Give one number"),
    CheckerRow("check_flip_alpha/table-none", lambda: ex2.check_flip_alpha(0.2, None), "could not read the sweep table"),
    CheckerRow("check_flip_alpha/answer-string", lambda: ex2.check_flip_alpha("0.2", sweep_table()), "Give one of the alphas"),
    CheckerRow("check_on_path_fraction/corner-outside", lambda: ex2.check_on_path_fraction(0.5, levels(), (1, 9)), "could not read the levels or the corner"),
    CheckerRow("check_on_path_fraction/levels-string", lambda: ex2.check_on_path_fraction(0.5, "levels", (1, 5)), "could not read the levels or the corner"),
    CheckerRow("check_on_path_fraction/answer-nan", lambda: ex2.check_on_path_fraction(NAN, levels(), (1, 5)), "fraction between 0 and 1"),
    CheckerRow("check_nearer_candidate/sweep-wrong", lambda: ex2.check_nearer_candidate(0.1, {"alphas": [0.0]}), "could not read the sweep result"),
    CheckerRow("check_nearer_candidate/answer-inf", lambda: ex2.check_nearer_candidate(INF, fake_sweep()), "Give one number"),
]


@pytest.mark.parametrize("row", CHECKER_ROWS, ids=[r.id for r in CHECKER_ROWS])
def test_checker_returns_false_and_explains_never_raises(row, capsys):
    assert row.call() is False
    assert row.says in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- no NaN out

def non_finite(obj, path="result"):
    """Every place in a (nested) result where a float is NaN or infinite: a list of paths. An
    undefined table cell must be an explicit missing value (pandas' nullable dtypes, <NA>)."""
    bad = []
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            if not pd.api.types.is_numeric_dtype(obj[col]):
                continue
            nullable = isinstance(obj[col].dtype, pd.api.extensions.ExtensionDtype)
            v = obj[col].to_numpy(dtype=np.float64, na_value=0.0) if nullable else obj[col].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(v)):
                bad.append(f"{path}[{col!r}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            bad += non_finite(v, f"{path}[{k!r}]")
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        for k, v in zip(obj._fields, obj):
            bad += non_finite(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            bad += non_finite(v, f"{path}[{i}]")
    elif isinstance(obj, (np.ndarray, jax.Array)) and not jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        arr = obj.compressed() if isinstance(obj, np.ma.MaskedArray) else np.asarray(obj)   # masked: undefined
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad.append(path)
    elif isinstance(obj, float) and not math.isfinite(obj):
        bad.append(path)
    return bad


def test_the_walker_finds_nan():
    assert non_finite({"a": (np.array([1.0, NAN]), pd.DataFrame({"x": [INF]}), 2.0)}) == \
        ["result['a'][0]", "result['a'][1]['x']"]
    # an explicit missing cell (<NA>) is allowed, an infinite one in a nullable column is not
    assert non_finite(pd.DataFrame({"x": pd.array([1.0, None], dtype="Float64")})) == []
    assert non_finite(pd.DataFrame({"x": pd.array([INF, None], dtype="Float64")})) == ["result['x']"]


@pytest.fixture(scope="module")
def chapter_outputs(monkeypatch_module):
    """Every public result of Chapters 1 and 2 at their smoke() sizes (MESALIB_SMOKE=1), from the
    chapters' own key (SEED = 0)."""
    monkeypatch_module.setenv("MESALIB_SMOKE", "1")
    key = jax.random.key(0)
    out = {}
    config = ml.Config()
    out["ml.run_baselines"] = ml.run_baselines(key, config)
    trained = ml.run_training(key, config)
    out["ml.run_training"] = trained
    out["ml.training_curve"] = ml.training_curve(trained)
    headline = ml.run_headline(key, trained, config)
    out["ml.run_headline"] = headline
    out["ml.regret_curves"] = ml.regret_curves(key, headline)
    out["ml.run_dependent"] = ml.run_dependent(key, config)
    out["ml.run_shift"] = ml.run_shift(key, config)
    skewed = ml.run_skewed(key, trained, config)   # one live seed: no interval, an explicit <NA> ...
    out["ml.run_skewed"] = skewed
    out["ml.skewed_chart_frame"] = ml.skewed_chart_frame(skewed)   # ... which the chart's frame fills
    out["rb.example_levels"] = rb.example_levels(key)
    result = rb.run(key, rb.Config())
    out["rb.run"] = result
    out["rb.sweep_table"] = rb.sweep_table(result.sweep)
    runs_of = lambda i: jax.tree_util.tree_map(lambda x: x[i], result.sweep.metrics)  # noqa: E731
    out["rb.competence_table"] = rb.competence_table({"trained, alpha = 0": (runs_of(0), "corner"),
                                                      "untrained": (result.baseline, "corner")})
    out["rb.fit_table"] = rb.fit_table(result.fit, result.sweep.alphas)
    out["rb.mixture_frame"] = rb.mixture_frame(result.fit, result.sweep.alphas)
    out["rb.fit.per_action"] = result.fit.per_action()
    out["rb.fit.mixture"] = result.fit.mixture()
    out["rb.seed_table"] = rb.seed_table(result)
    out["rb.fitted_betas"] = rb.fitted_betas(result.fit, result.sweep.alphas)
    out["rb.fit.best_beta"] = result.fit.best_beta()
    out["rb.irl_rewards"] = rb.irl_rewards(result.sweep, 0)
    budget = rb.run_budget(key, rb.BudgetConfig())
    out["rb.run_budget"] = budget
    out["rb.budget_table"] = rb.budget_table(budget)
    out["gridworld.path_efficiency"] = g.path_efficiency(runs_of(0))
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_no_nan_on_the_chapters_inputs(chapter_outputs):
    bad = non_finite(chapter_outputs)
    assert not bad, f"NaN or infinite values in {bad}"
    assert len(chapter_outputs) >= 15


@pytest.fixture(scope="module")
def later_chapter_outputs(monkeypatch_module):
    """Public results of Chapters 3-8 at small sizes (MESALIB_SMOKE=1 caps every training loop at
    a few updates), from SEED = 0: the cheapest run function (or a shrunk Config) of each chapter,
    and the tables built on it. Chapters 4, 6 and 8 skip their long PPO/RL² training runs here;
    their claim tests cover those."""
    monkeypatch_module.setenv("MESALIB_SMOKE", "1")
    key = jax.random.key(0)
    out = {}
    # Chapter 3: unidentifiability
    u = unid.Config().smoke()
    out["unid.run_rewards"] = unid.run_rewards(key, u)
    out["unid.run_dimensions"] = unid.run_dimensions(key, u)
    out["unid.tests_needed"] = float(unid.tests_needed(0.3, 0.95))
    out["unid.run_corner_tests"] = unid.run_corner_tests(key, u)     # masked (undefined) tests are skipped
    # Chapter 4: interpretability (a tiny LSA run)
    lsa = interp.run_lsa(key, interp.LSAConfig(dim=3, context=4, seeds=2, num_updates=4, batch=32, pool=64,
                                               test_tasks=256))
    out["interp.run_lsa"] = lsa
    out["interp.lsa_table"] = interp.lsa_table(lsa)
    out["interp.curve_frame"] = interp.curve_frame(lsa, num_windows=2)
    out["interp.weights_frame"] = interp.weights_frame(lsa)
    # Chapter 5: verification (smoke fit, the four answers on one point)
    vc = verif.Config()
    network = verif.run_network(key, vc)
    out["verif.run_network"] = network
    out["verif.point_frame"] = verif.point_frame(network)
    four = verif.run_four_ways(key, network, vc)
    out["verif.run_four_ways"] = four
    # Chapter 6: corrigibility (the off-switch game, fewer points and samples)
    out["corr.run_offswitch"] = corr.run_offswitch(key, corr.OffSwitchConfig(sigmas=(0.1, 1.0, 3.0),
                                                                             mc_sigmas=(0.5, 2.0), mc_samples=2000))
    # Chapter 7: CAIS (a 10-dimensional NQM; the stored RL² network on a few tasks)
    hz = cais.run_horizons(key, cais.HorizonConfig(
        schedule=metaopt.ScheduleConfig(nqm=metaopt.NQMConfig(dim=10), num_steps=10, num_updates=4),
        horizons=(1, 10), final_runs=2, constant_lrs=5))
    out["cais.run_horizons"] = hz
    out["cais.horizon_table"] = cais.horizon_table(hz)
    out["cais.schedule_frame"] = cais.schedule_frame(hz, points=5)
    learner = cais.run_learner(key, cais.LearnerConfig(tasks=20, deploy_pulls=120))
    out["cais.learner_table"] = cais.learner_table(learner)
    out["cais.learner_frame"] = cais.learner_frame(learner, points=5)
    # Chapter 8: optimizers (the lookup table's systems, few samples)
    oc = opt.Config(samples=50)
    lookup = opt.run_lookup(key, oc)
    out["opt.run_lookup"] = lookup
    out["opt.bits_table"] = opt.bits_table(lookup)
    out["opt.chart_frame"] = opt.chart_frame(lookup)
    return out


def test_no_nan_on_the_later_chapters_inputs(later_chapter_outputs):
    bad = non_finite(later_chapter_outputs)
    assert not bad, f"NaN or infinite values in {bad}"
    assert len(later_chapter_outputs) >= 20
