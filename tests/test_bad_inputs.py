"""Bad inputs across the public API: every row is a call a reader could make by mistake.

Each row of ``ROWS`` is (id, call, exception type, regex). The call must raise that exception
(``ValueError`` unless a missing file is the point), before any tracing, with a message that
matches the regex; the regex starts with the parameter's name *as the caller wrote it* (a
wrapper reports its own parameter, not an inner function's). A new public function gets its rows
here. The exercise checkers are the exception to the rule: they never raise, so ``CHECKER_ROWS``
asserts that a bad answer or a bad argument returns False with a printed explanation.

``test_no_nan_on_the_chapters_inputs`` runs the chapters' experiment functions at their
``smoke()`` sizes and checks that every float they return is finite.
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

from mesalib import bandits, nn, objectives, plots, ppo, pretrained, rl, rl2, stats, train, validate
from mesalib import gridworld as g
from mesalib.exercises import meta_learning as ex1
from mesalib.exercises import robustness as ex2
from mesalib.experiments import meta_learning as ml
from mesalib.experiments import robustness as rb

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
    Row("bandits.choice_probs/rule-arm-out-of-range", lambda: bandits.choice_probs(KEY, arm(3), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1)), ValueError, r"^policy returned arm 3"),
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
    Row("validate.same_length/mismatch", lambda: validate.same_length(("rollout", "probs"), (5, 3), "number of tasks"), ValueError, r"^rollout and probs must have the same number of tasks"),
    # ---------------------------------------------------------------- verify, irl, mdp, datasets
    # ROWS FOR mesalib.verify, mesalib.irl, mesalib.mdp AND mesalib.datasets GO HERE (those modules
    # are being restructured; their rows are added with the new versions).
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

ALLOWED_MISSING = {
    # a published value the paper did not report for this algorithm: a missing entry, not a result
    "Duan et al. 2016",
    # Thompson sampling's own row: it is the reference the crossing is measured against
    "regret above Thompson's from pull",
}


def non_finite(obj, path="result"):
    """Every place in a (nested) result where a float is NaN or infinite: a list of paths."""
    bad = []
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            if col in ALLOWED_MISSING or not pd.api.types.is_numeric_dtype(obj[col]):
                continue
            v = obj[col].to_numpy(dtype=np.float64)
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
        arr = np.asarray(obj)
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad.append(path)
    elif isinstance(obj, float) and not math.isfinite(obj):
        bad.append(path)
    return bad


def test_the_walker_finds_nan():
    assert non_finite({"a": (np.array([1.0, NAN]), pd.DataFrame({"x": [INF]}), 2.0)}) == \
        ["result['a'][0]", "result['a'][1]['x']"]


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
