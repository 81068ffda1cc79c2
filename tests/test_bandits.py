import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import bandits
from tests.helpers import assert_means_agree, assert_shape

N_TASKS = 3000


@pytest.fixture(scope="module")
def probs():
    return np.asarray(bandits.sample_tasks(jax.random.key(0), N_TASKS, 5))


def test_task_distributions():
    p = bandits.sample_tasks(jax.random.key(1), 4000, 3)
    assert_shape(p, (4000, 3))
    assert float(p.min()) >= 0 and float(p.max()) <= 1
    assert abs(float(p.mean()) - 0.5) < 0.02
    d = bandits.sample_tasks(jax.random.key(1), 100, 2, prior="dependent")
    np.testing.assert_allclose(np.asarray(d.sum(1)), 1.0, atol=1e-6)
    b = bandits.sample_tasks(jax.random.key(2), 20000, 2, prior="beta", a=2.0, b=6.0)
    assert abs(float(b.mean()) - 0.25) < 0.01


def test_random_mean_is_half_of_pulls(probs):
    r = bandits.run(jax.random.key(3), "Random", probs, 10).rewards.sum(1)
    se = float(r.std()) / np.sqrt(N_TASKS)
    assert abs(float(r.mean()) - 5.0) < 4 * se


@pytest.mark.parametrize("k", [2, 5, 10])
def test_oracle_mean_is_n_k_over_k_plus_1(k):
    p = bandits.sample_tasks(jax.random.key(k), 20000, k)
    v = np.asarray(bandits.oracle_value(p, 10))
    se = v.std() / np.sqrt(v.size)
    assert abs(v.mean() - 10 * k / (k + 1)) < 4 * se


# ---- independent float64 NumPy simulations of each baseline --------------------------------

def np_play(rule, probs, n, rng):
    tasks, k = probs.shape
    s, f = np.zeros((tasks, k)), np.zeros((tasks, k))
    total = np.zeros(tasks)
    rows = np.arange(tasks)
    for t in range(n):
        a = rule(s, f, t, rng)
        r = (rng.uniform(size=tasks) < probs[rows, a]).astype(float)
        s[rows, a] += r
        f[rows, a] += 1 - r
        total += r
    return total


def argmax_ties(scores, rng):
    noisy = np.where(scores >= scores.max(1, keepdims=True) - 1e-12, 1 + rng.uniform(size=scores.shape) * 1e-6, 0)
    return noisy.argmax(1)


NP_RULES = {
    "Random": lambda s, f, t, rng: rng.integers(0, s.shape[1], size=s.shape[0]),
    "Greedy": lambda s, f, t, rng: argmax_ties((s + 1) / (s + f + 2), rng),
    "ε-greedy": lambda s, f, t, rng: np.where(rng.uniform(size=s.shape[0]) < 0.1,
                                              rng.integers(0, s.shape[1], size=s.shape[0]),
                                              argmax_ties((s + 1) / (s + f + 2), rng)),
    "Thompson": lambda s, f, t, rng: rng.beta(s + 1, f + 1).argmax(1),
    "UCB1": lambda s, f, t, rng: argmax_ties(np.where(
        s + f == 0, np.inf, s / np.maximum(s + f, 1) + np.sqrt(2 * np.log(max(t, 1)) / np.maximum(s + f, 1))), rng),
}


@pytest.mark.parametrize("name", list(NP_RULES))
def test_baseline_matches_numpy_simulation(name, probs):
    n = 30
    ours = np.asarray(bandits.run(jax.random.key(4), name, probs, n).rewards.sum(1))
    ref = np_play(NP_RULES[name], probs.astype(np.float64), n, np.random.default_rng(5))
    assert_means_agree(ours, ref)


def test_gittins_matches_numpy_simulation(probs):
    table = bandits.gittins_table(0.9, 30)
    ours = np.asarray(bandits.run(jax.random.key(6), "Gittins", probs, 30).rewards.sum(1))
    rule = lambda s, f, t, rng: argmax_ties(table[s.astype(int), f.astype(int)], rng)  # noqa: E731
    ref = np_play(rule, probs.astype(np.float64), 30, np.random.default_rng(7))
    assert_means_agree(ours, ref)


def test_baselines_order_as_expected_on_10_pulls(probs):
    means = {name: float(bandits.run(jax.random.key(8), name, probs, 10).rewards.sum(1).mean())
             for name in ["Random", "Thompson", "Greedy", "Gittins"]}
    assert means["Random"] < means["Thompson"] < means["Greedy"] <= means["Gittins"] + 0.1


# ---- Gittins indices against a published table ----------------------------------------------
# Gittins indices of a Bernoulli arm with a uniform prior, as tabulated by Gittins (Gittins,
# Glazebrook & Weber 2011) and reproduced in Christian & Griffiths (2016), ch. 2: discount 0.9:
# 0 wins 0 losses -> 0.7029, 1-1 -> 0.6346, 2-2 -> 0.6010, 9 wins 1 loss -> 0.8695;
# discount 0.99: 0-0 -> 0.8699.
@pytest.mark.parametrize("discount, s, f, expected", [
    (0.9, 0, 0, 0.7029), (0.9, 1, 1, 0.6346), (0.9, 2, 2, 0.6010), (0.9, 9, 1, 0.8695), (0.99, 0, 0, 0.8699),
])
def test_gittins_against_published_table(discount, s, f, expected):
    table = bandits.gittins_table(discount, max(s + f, 2))
    assert abs(table[s, f] - expected) < 6e-5


def test_gittins_index_properties():
    table = bandits.gittins_table(0.9, 20)
    s, f = np.meshgrid(np.arange(21), np.arange(21), indexing="ij")
    ok = s + f <= 20
    mean = (s + 1) / (s + f + 2)
    assert np.all(table[ok] >= mean[ok] - 1e-9)          # exploration bonus is non-negative
    assert np.all(np.diff(table[:10, :10], axis=0) > 0)   # a success raises the index
    small = (s[:6, :6] + f[:6, :6]) <= 5
    np.testing.assert_allclose(bandits.gittins_table(0.0, 5)[small], mean[:6, :6][small], atol=1e-8)  # γ = 0: myopic


def test_regret_is_cumulative_and_nonnegative(probs):
    out = bandits.run(jax.random.key(9), "Thompson", probs[:50], 20)
    reg = np.asarray(bandits.regret(out, probs[:50]))
    assert_shape(reg, (50, 20))
    assert np.all(np.diff(reg, axis=1) >= -1e-6) and reg.min() >= 0


def test_second_call_does_not_recompile(probs):
    bandits.run(jax.random.key(10), "Greedy", probs[:64], 12)
    before = bandits._run._cache_size()
    bandits.run(jax.random.key(11), "Greedy", jnp.asarray(probs[64:128]), 12)
    assert bandits._run._cache_size() == before


@pytest.mark.parametrize("call, match", [
    (lambda: bandits.sample_tasks(jax.random.key(0), 10, 0), "num_arms"),
    (lambda: bandits.sample_tasks(jax.random.key(0), -1, 3), "num_tasks"),
    (lambda: bandits.sample_tasks(0, 10, 3), "key must be a JAX PRNG key"),
    (lambda: bandits.sample_tasks(jax.random.key(0), 10, 3, prior="gauss"), "prior"),
    (lambda: bandits.sample_tasks(jax.random.key(0), 10, 3, prior="dependent"), "num_arms must be 2"),
    (lambda: bandits.sample_tasks(jax.random.key(0), 10, 3, prior="beta", a=-1.0), "a must be"),
    (lambda: bandits.run(jax.random.key(0), "Thompson", np.full((2, 3), 0.5), -5), "num_pulls"),
    (lambda: bandits.run(jax.random.key(0), "Thompson", np.full((2, 3), 1.5), 5), "probabilities"),
    (lambda: bandits.run(jax.random.key(0), "Thompson", np.full(3, 0.5), 5), "dimension"),
    (lambda: bandits.run(jax.random.key(0), "Softmax", np.full((2, 3), 0.5), 5), "policy"),
    (lambda: bandits.run(jax.random.key(0), "ε-greedy", np.full((2, 3), 0.5), 5, epsilon=2.0), "epsilon"),
    (lambda: bandits.gittins_table(1.0, 5), "discount"),
    (lambda: bandits.oracle_value(np.full((2, 3), 0.5), 0), "num_pulls"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dependent_greedy_is_best_on_dependent_arms_and_matches_numpy():
    probs = np.asarray(bandits.sample_tasks(jax.random.key(60), 3000, 2, prior="dependent"))
    ours = bandits.run(jax.random.key(61), bandits.dependent_greedy, probs, 50)
    rule = lambda s, f, t, rng: argmax_ties(np.stack([s[:, 0] + f[:, 1], f[:, 0] + s[:, 1]], 1), rng)  # noqa: E731
    ref = np_play(rule, probs.astype(np.float64), 50, np.random.default_rng(62))
    assert_means_agree(np.asarray(ours.rewards.sum(1)), ref)
    many = np.asarray(bandits.sample_tasks(jax.random.key(64), 20000, 2, prior="dependent"))
    reg = {name: np.asarray(bandits.regret(bandits.run(jax.random.key(63), rule_, many, 50), many)[:, -1])
           for name, rule_ in [("pooled", bandits.dependent_greedy), ("Gittins", "Gittins"), ("Thompson", "Thompson")]}
    for other in ("Gittins", "Thompson"):
        d = reg["pooled"] - reg[other]
        assert d.mean() + 4 * d.std() / np.sqrt(d.size) < 0, other


def test_counts_are_the_record_before_each_pull():
    out = bandits.Rollout(np.array([[0, 1, 0, 0]], np.int32), np.array([[1, 0, 0, 1]], np.float32))
    s, f = map(np.asarray, bandits.counts(out, 2))
    np.testing.assert_array_equal(s[0], [[0, 0], [1, 0], [1, 0], [1, 0]])
    np.testing.assert_array_equal(f[0], [[0, 0], [0, 0], [0, 1], [1, 1]])
    with pytest.raises(ValueError, match="num_arms must exceed every action"):
        bandits.counts(out, 1)


def test_counts_feed_the_rules_the_same_state_they_saw():
    """Replaying Greedy's own counts through Greedy reproduces its choices (ties aside)."""
    probs = bandits.sample_tasks(jax.random.key(70), 50, 3)
    out = bandits.run(jax.random.key(71), "Greedy", probs, 30)
    s, f = map(np.asarray, bandits.counts(out, 3))
    mean = (s + 1) / (s + f + 2)
    unique = (mean == mean.max(-1, keepdims=True)).sum(-1) == 1
    assert np.array_equal(mean.argmax(-1)[unique], np.asarray(out.actions)[unique])


def test_evidence_conflicts_finds_the_worked_example():
    # Arm 1: 3 successes, 5 failures (mean 0.4); arm 2: one failure (0.33). Pooled: 4 vs 5 -> arm 2.
    actions = np.array([[0] * 8 + [1, 0]], np.int32)
    rewards = np.array([[1, 1, 1, 0, 0, 0, 0, 0, 0, 1]], np.float32)
    c = bandits.evidence_conflicts(bandits.Rollout(actions, rewards))
    assert list(c.pull) == [9] and list(c.task) == [0]
    np.testing.assert_array_equal(c.s[0], [3, 0])
    np.testing.assert_array_equal(c.f[0], [5, 1])
    assert c.pooled_arm[0] == 1
    with pytest.raises(ValueError, match="two-arm pulls"):
        bandits.evidence_conflicts(bandits.Rollout(np.array([[2]], np.int32), np.array([[1.0]], np.float32)))


def test_choice_probs_deterministic_rules_and_thompson():
    s = np.array([[3.0, 0.0], [0.0, 0.0]])
    f = np.array([[5.0, 1.0], [0.0, 0.0]])
    t = np.array([9.0, 0.0])
    greedy = np.asarray(bandits.choice_probs(jax.random.key(0), "Greedy", s, f, t, samples=400))
    np.testing.assert_allclose(greedy[0], [1.0, 0.0])                 # own means 0.4 > 0.33
    assert abs(greedy[1, 0] - 0.5) < 0.1                              # a tie is broken at random
    pooled = np.asarray(bandits.choice_probs(jax.random.key(0), bandits.dependent_greedy, s, f, t, samples=10))
    np.testing.assert_allclose(pooled[0], [0.0, 1.0])
    # Thompson: P(Beta(4, 6) > Beta(1, 2)), by NumPy simulation.
    rng = np.random.default_rng(0)
    ref = (rng.beta(4, 6, 200000) > rng.beta(1, 2, 200000)).mean()
    ts = np.asarray(bandits.choice_probs(jax.random.key(1), "Thompson", s, f, t, samples=20000))
    assert abs(ts[0, 0] - ref) < 0.015
    np.testing.assert_allclose(ts.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(s=np.zeros((2, 2)), f=np.zeros((2, 3)), t=np.zeros(2)), "must be"),
    (dict(s=-np.ones((2, 2)), f=np.zeros((2, 2)), t=np.zeros(2)), "non-negative"),
    (dict(s=np.zeros((2, 2)), f=np.zeros((2, 2)), t=np.zeros(2), samples=0), "samples"),
])
def test_choice_probs_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bandits.choice_probs(jax.random.key(0), "Thompson", **kwargs)


@pytest.mark.parametrize("name", ["Greedy", "Thompson", "UCB1", "Gittins"])
def test_first_pull_is_uniform_over_arms(name):
    """Every rule faces a k-way tie before the first pull; each arm must be equally likely."""
    probs = np.full((20000, 5), 0.5)
    first = np.asarray(bandits.run(jax.random.key(80), name, probs, 1).actions[:, 0])
    share = np.bincount(first, minlength=5) / first.size
    assert np.abs(share - 0.2).max() < 0.015, share     # 5 standard errors


def _reference_index(discount, s, f, depth=200, iters=50):
    """Calibration by bisection for one state, with its own backward induction (float64)."""
    lo, hi = (s + 1) / (s + f + 2), 1.0
    scale = 1 / (1 - discount)
    for _ in range(iters):
        lam = (lo + hi) / 2
        i = np.arange(depth + 1)
        value = np.maximum(lam * scale, (s + 1 + i) / (s + f + 2 + depth) * scale)
        for d in range(depth - 1, -1, -1):
            i = np.arange(d + 1)
            p = (s + 1 + i) / (s + f + 2 + d)
            cont = p * (1 + discount * value[1:d + 2]) + (1 - p) * discount * value[:d + 1]
            value = cont if d == 0 else np.maximum(lam * scale, cont)
        lo, hi = (lam, hi) if value[0] > lam * scale else (lo, lam)
    return (lo + hi) / 2


@pytest.mark.parametrize("discount", [0.5, 0.9])
def test_gittins_table_matches_per_state_bisection(discount):
    table = bandits.gittins_table(discount, 6)
    for s, f in [(0, 0), (1, 0), (0, 1), (2, 3), (5, 1), (0, 6)]:
        assert abs(table[s, f] - _reference_index(discount, s, f)) < 2e-6, (s, f)


def test_gittins_runs_compile_once(probs):
    bandits.run(jax.random.key(12), "Gittins", probs[:64], 15)
    before = bandits._run._cache_size()
    bandits.run(jax.random.key(13), "Gittins", probs[64:128], 15, discount=0.8)   # another table, same program
    assert bandits._run._cache_size() == before


def test_gittins_refuses_hour_long_tables():
    with pytest.raises(ValueError, match="max_count"):
        bandits.gittins_table(0.999, 20000)


def test_run_many_equals_run_one_by_one_and_compiles_once():
    probs = bandits.sample_tasks(jax.random.key(3), 64, 4)
    names = ("Random", "Greedy", "Thompson", "UCB1", "Gittins")
    keys = jax.random.split(jax.random.key(4), len(names))
    many = bandits.run_many(keys, names, probs, 20)
    assert list(many) == list(names)
    for key, name in zip(keys, names):
        one = bandits.run(key, name, probs, 20)
        np.testing.assert_array_equal(np.asarray(many[name].actions), np.asarray(one.actions))
        np.testing.assert_array_equal(np.asarray(many[name].rewards), np.asarray(one.rewards))
    before = bandits._run_many._cache_size()
    bandits.run_many(jax.random.split(jax.random.key(5), len(names)), names, probs, 20)
    assert bandits._run_many._cache_size() == before


def test_run_many_takes_labelled_rules_and_repeats():
    # a dict of label -> name or custom rule: a rule may appear twice (with two keys), custom rules
    # join the same program, and each result equals run with that key
    probs = bandits.sample_tasks(jax.random.key(6), 64, 2, prior="dependent")
    rules = {"pooled": bandits.dependent_greedy, "Thompson": "Thompson", "Thompson again": "Thompson"}
    keys = jax.random.split(jax.random.key(7), 3)
    many = bandits.run_many(keys, rules, probs, 30)
    assert list(many) == list(rules)
    for key, (label, rule) in zip(keys, rules.items()):
        one = bandits.run(key, rule, probs, 30)
        np.testing.assert_array_equal(np.asarray(many[label].actions), np.asarray(one.actions))
    with pytest.raises(ValueError, match=r"policies\['bad'\] returned arm 5"):
        bandits.run_many(keys[:1], {"bad": lambda k, s, f, t: jnp.where(t > 2, 5, 0)}, probs, 10)
    with pytest.raises(ValueError, match=r"policies\['x'\] must be a baseline name or a select"):
        bandits.run_many(keys[:1], {"x": 3}, probs, 10)


@pytest.mark.parametrize("kw, match", [
    (dict(policies="Greedy"), "policies must be a sequence"),
    (dict(policies=()), "at least one"),
    (dict(policies=("Greedy", "Greedy")), "repeat"),
    (dict(policies=("Greedy", bandits.greedy)), r"policies\[1\]"),
    (dict(policies=("Greedy", "Oracle")), r"policies\[1\]"),
    (dict(keys_count=3), "one key per policy"),
])
def test_run_many_bad_inputs(kw, match):
    policies = kw.get("policies", ("Greedy", "Thompson"))
    n = kw.get("keys_count", 2)
    with pytest.raises(ValueError, match=match):
        bandits.run_many(jax.random.split(jax.random.key(0), n), policies, np.full((4, 3), 0.5), 10)


def test_skewed_prior_makes_arm_zero_the_best_and_keeps_uniform_draws_otherwise():
    key = jax.random.key(9)
    p = np.asarray(bandits.sample_tasks(key, 4000, 5, prior="skewed"))
    u = np.asarray(bandits.sample_tasks(key, 4000, 5))                   # the same draws, uniform
    np.testing.assert_allclose(p, 0.5 * u + np.where(np.arange(5) == 0, 0.5, 0.0), rtol=1e-6)
    assert (p.argmax(1) == 0).all() and p[:, 0].min() >= 0.5 and p[:, 1:].max() <= 0.5
