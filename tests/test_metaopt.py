"""mesalib.metaopt: the noisy quadratic model against float64 references and its closed forms,
meta-gradients against finite differences, the learned optimizer's optax contract, bad inputs."""
import mesalib  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

from mesalib import metaopt as mo
from mesalib import train
from tests.helpers import assert_close, assert_shape

SMALL = mo.NQMConfig(dim=20, noise=1.0, init=1.0)


def np_step(h, noise, s, lr):
    return (1 - lr * h) ** 2 * s + lr ** 2 * h ** 2 * noise


# ----------------------------------------------------------------------------- the model's closed forms

def test_nqm_arrays_and_loss():
    model = mo.nqm(mo.NQMConfig(dim=5, noise=0.5, init=2.0, exponent=1.0))
    assert_close(model.h, 1.0 / np.arange(1, 6))
    assert_close(model.noise, np.full(5, 0.5))
    assert_close(mo.nqm_loss(model, model.s0), 0.5 * np.sum(2.0 / np.arange(1, 6)), rtol=1e-6)


def test_unroll_matches_float64_recursion():
    model = mo.nqm(SMALL)
    lrs = np.random.default_rng(0).uniform(0.0, 1.5, 50)
    h, noise, s = (np.asarray(a, np.float64) for a in model)
    want = []
    for lr in lrs:
        s = np_step(h, noise, s, lr)
        want.append(0.5 * np.sum(h * s))
    assert_close(mo.nqm_unroll(model, lrs), want, rtol=2e-5, atol=1e-6)


def test_closed_form_dynamics_match_sampled_sgd():
    """The expected loss of the closed form against 4000 sampled SGD runs (final services)."""
    cfg = mo.NQMConfig(dim=10)
    lrs = jnp.asarray(np.linspace(1.0, 0.1, 40), jnp.float32)
    losses = np.asarray(mo.train_final(jax.random.key(0), mo.schedule_sgd, lrs, mo.nqm_family(cfg), 4000, 40))
    want = np.asarray(mo.nqm_unroll(mo.nqm(cfg), lrs))
    for t in (0, 9, 39):
        sample = losses[:, t + 1]
        assert abs(sample.mean() - want[t]) < 4.5 * sample.std() / np.sqrt(len(sample)), (t, sample.mean(), want[t])


def test_greedy_lr_is_the_one_step_minimizer():
    model = mo.nqm(SMALL)
    h, noise, s0 = (np.asarray(a, np.float64) for a in model)
    s = s0 * np.linspace(0.2, 1.0, len(h))
    best = scipy.optimize.minimize_scalar(lambda lr: 0.5 * np.sum(h * np_step(h, noise, s, lr)),
                                          bounds=(0, 2), method="bounded", options={"xatol": 1e-10})
    assert_close(mo.greedy_lr(model, jnp.asarray(s, jnp.float32)), best.x, rtol=1e-4)


def test_optimal_schedule_in_one_dimension_is_the_closed_form():
    h, noise, s0, T = 0.5, 2.0, 3.0, 60
    closed = mo.optimal_schedule_1d(h, noise, s0, T)
    assert_close(closed[:3], 1 / (h * (1 + np.arange(3) + noise / s0)))
    model = mo.NQM(jnp.asarray([h]), jnp.asarray([noise]), jnp.asarray([s0]))
    numeric = mo.optimal_schedule(model, T, iters=3000)
    assert_close(numeric, closed, rtol=2e-3, atol=1e-4)
    greedy = np.asarray(mo.greedy_schedule(model, T)[0])
    assert_close(greedy, closed, rtol=1e-4)          # in one dimension greedy is optimal


def test_top_service_with_full_horizon_reaches_the_one_dimensional_optimum():
    cfg = mo.ScheduleConfig(nqm=mo.NQMConfig(dim=1, noise=2.0, init=3.0), num_steps=30, num_updates=1500,
                            meta_lr=0.05, init_lr=0.5)
    out = train.train_seeds(mo.make_schedule_train(cfg), jax.random.split(jax.random.key(0), 1),
                            jnp.asarray([30], jnp.int32))
    lrs = np.asarray(mo.schedule_lrs(out.state.u[0], 2.0))
    closed = mo.optimal_schedule_1d(1.0, 2.0, 3.0, 30)
    model = mo.nqm(cfg.nqm)
    # the final loss is flat near the optimum: compare losses tightly, step sizes loosely
    assert_close(mo.nqm_unroll(model, lrs)[-1], mo.nqm_unroll(model, closed)[-1], rtol=1e-3)
    assert_close(lrs[:10], closed[:10], rtol=0.1)


def test_greedy_is_not_optimal_with_noise_and_ill_conditioning():
    model = mo.nqm(mo.NQMConfig(dim=50))
    greedy_final = float(mo.greedy_schedule(model, 100)[1][-1])
    best = mo.optimal_schedule(model, 100, iters=500)
    assert float(mo.nqm_unroll(model, best)[-1]) < 0.5 * greedy_final


def np_final_loss(model, lrs):
    """Expected final loss of a schedule by the float64 NumPy recursion (independent of the JAX code)."""
    h, noise, s = (np.asarray(a, np.float64) for a in model)
    for lr in lrs:
        s = np_step(h, noise, s, lr)
    return 0.5 * np.sum(h * s)


def test_optimal_schedule_is_not_beaten_by_greedy_constant_or_perturbed_schedules():
    model = mo.nqm(mo.NQMConfig(dim=100))
    T, max_lr = 100, 2.0
    best = mo.optimal_schedule(model, T)
    assert_shape(best, (T,))
    assert best.dtype == np.float64 and np.all(best > 0) and np.all(best <= max_lr * (1 + 1e-12))
    opt = np_final_loss(model, best)
    assert np_final_loss(model, np.asarray(mo.greedy_schedule(model, T)[0], np.float64)) > 5 * opt
    assert min(np_final_loss(model, np.full(T, c)) for c in np.linspace(0.05, 2.0, 40)) > 2 * opt
    rng = np.random.default_rng(0)
    for scale in (0.01, 0.1):   # a local optimum: no nearby feasible schedule does better
        for _ in range(20):
            near = np.minimum(best * np.exp(scale * rng.standard_normal(T)), max_lr)
            assert np_final_loss(model, near) >= opt * (1 - 1e-9)
    # the shape Wu et al. derive for the long horizon: the largest stable step, then a decay
    assert np.all(best[: T // 3] > 0.99 * max_lr) and best[-1] < 0.05 * max_lr


def test_optimal_schedule_respects_max_lr():
    model = mo.nqm(SMALL)
    best = mo.optimal_schedule(model, 30, max_lr=0.5)
    assert np.all(best <= 0.5 * (1 + 1e-12))
    assert np_final_loss(model, best) <= np_final_loss(model, np.full(30, 0.5)) * (1 + 1e-9)


def test_horizon_objective_values():
    model = mo.nqm(SMALL)
    lrs = jnp.linspace(1.0, 0.2, 12)
    per_step = mo.nqm_unroll(model, lrs)
    assert_close(mo.horizon_objective(model, lrs, 12), per_step[-1], rtol=1e-6)
    assert_close(mo.horizon_objective(model, lrs, 1), per_step.sum(), rtol=1e-6)
    assert_close(mo.horizon_objective(model, lrs, 5), per_step[4] + per_step[9] + per_step[11], rtol=1e-6)


def test_one_step_horizon_trains_the_greedy_schedule():
    cfg = mo.ScheduleConfig(nqm=SMALL, num_steps=20, num_updates=800, meta_lr=0.05)
    out = train.train_seeds(mo.make_schedule_train(cfg), jax.random.split(jax.random.key(0), 1),
                            jnp.asarray([1], jnp.int32))
    model = mo.nqm(SMALL)
    lrs = mo.schedule_lrs(out.state.u[0], 2.0)
    assert_close(lrs, mo.greedy_schedule(model, 20)[0], rtol=2e-2)


# ----------------------------------------------------------------------------- meta-gradients

def central_differences(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d.flat[i] = eps
        out.flat[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return out


@pytest.mark.parametrize("horizon", [1, 3, 8])
def test_horizon_meta_gradient_matches_finite_differences(horizon):
    with jax.enable_x64(True):
        model = mo.nqm(SMALL, dtype=jnp.float64)
        u = jnp.asarray(np.random.default_rng(1).normal(size=8), jnp.float64)
        f = lambda v: mo.horizon_objective(model, mo.schedule_lrs(jnp.asarray(v), 1.5), horizon)  # noqa: E731
        grad = jax.grad(f)(u)
        if horizon < 8:  # with stop-gradients only each window's own terms count: compare windowwise
            def window_fd(v):
                out = np.zeros(8)
                for start in range(0, 8, horizon):
                    idx = range(start, min(start + horizon, 8))
                    for i in idx:
                        d = np.zeros(8)
                        d[i] = 1e-6
                        lr_p, lr_m = (np.asarray(mo.schedule_lrs(jnp.asarray(v + s * d), 1.5)) for s in (1, -1))
                        end = min(start + horizon, 8) - 1
                        out[i] = (float(mo.nqm_unroll(model, lr_p)[end]) - float(mo.nqm_unroll(model, lr_m)[end])) / 2e-6
                return out
            want = window_fd(np.asarray(u))
        else:
            want = central_differences(lambda v: float(f(v)), np.asarray(u))
        assert_close(grad, want, rtol=1e-6, atol=1e-9)


def test_unrolled_meta_gradient_through_sampled_training_matches_finite_differences():
    """The meta-gradient of the mean log loss of 12 steps of a learned optimizer on sampled tasks."""
    with jax.enable_x64(True):
        cfg = mo.LearnedOptimizerConfig(hidden=4, betas=(0.5, 0.9))
        theta = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64),
                                       mo.learned_optimizer_init(jax.random.key(0), cfg))
        theta[-1]["w"] = theta[-1]["w"] * 30
        family = mo.regression_family(mo.RegressionConfig(dim=3, points=8))
        tasks = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), family.sample(jax.random.key(1), 4))

        def objective(flat):
            th = unravel(jnp.asarray(flat))
            return mo.meta_objective(mo.unrolled_losses(jax.random.key(2), mo.learned_optimizer(th, cfg), family,
                                                        tasks, 12))

        flat, unravel = jax.flatten_util.ravel_pytree(theta)
        grad = jax.grad(objective)(flat)
        want = central_differences(lambda v: float(objective(v)), np.asarray(flat), eps=1e-6)
        assert np.abs(want).max() > 1e-3
        assert_close(grad, want, rtol=1e-5, atol=1e-7)


def test_schedule_meta_gradient_through_sgd_on_regression_matches_finite_differences():
    with jax.enable_x64(True):
        family = mo.regression_family(mo.RegressionConfig(dim=4, points=16))
        tasks = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), family.sample(jax.random.key(0), 3))
        f = lambda lrs: mo.meta_objective(mo.unrolled_losses(jax.random.key(1), mo.schedule_sgd(lrs), family,  # noqa: E731
                                                             tasks, 6))
        lrs = jnp.asarray([0.3, 0.2, 0.25, 0.1, 0.4, 0.05], jnp.float64)
        assert_close(jax.grad(f)(lrs), central_differences(lambda v: float(f(jnp.asarray(v))), np.asarray(lrs)),
                     rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------------- the learned optimizer

def test_learned_optimizer_obeys_the_optax_contract():
    cfg = mo.LearnedOptimizerConfig(hidden=8)
    opt = mo.learned_optimizer(mo.learned_optimizer_init(jax.random.key(0), cfg), cfg)
    assert isinstance(opt, optax.GradientTransformation)
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros((2,)), "nested": [jnp.ones((4,))]}
    state = opt.init(params)
    assert jax.tree_util.tree_structure(state.momenta) == jax.tree_util.tree_structure(params)
    assert_shape(state.momenta["w"], (3, 2, 3))
    grads = jax.tree_util.tree_map(lambda p: 0.1 * jnp.ones_like(p), params)
    updates, state2 = opt.update(grads, state, params)
    assert jax.tree_util.tree_structure(updates) == jax.tree_util.tree_structure(params)
    for u, p in zip(jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(params)):
        assert u.shape == p.shape and u.dtype == p.dtype
    assert jax.tree_util.tree_structure(state2) == jax.tree_util.tree_structure(state)
    assert int(state2.count) == 1
    # composes with other transformations and with apply_updates
    chained = optax.chain(optax.clip_by_global_norm(1.0), opt)
    u, _ = chained.update(grads, chained.init(params), params)
    assert jax.tree_util.tree_structure(optax.apply_updates(params, u)) == jax.tree_util.tree_structure(params)


def test_learned_optimizer_update_compiles_once():
    cfg = mo.LearnedOptimizerConfig(hidden=8)
    opt = mo.learned_optimizer(mo.learned_optimizer_init(jax.random.key(0), cfg), cfg)
    params = {"w": jnp.ones((5,))}
    update = jax.jit(opt.update)
    state = opt.init(params)
    u1, state = update({"w": jnp.full((5,), 0.3)}, state, params)
    u2, state = update({"w": jnp.full((5,), -0.2)}, state, params)
    assert update._cache_size() == 1
    assert not np.allclose(u1["w"], u2["w"])


def test_learned_optimizer_factory_reuses_the_compiled_deployment():
    cfg = mo.LearnedOptimizerConfig(hidden=4)
    make = mo.learned_optimizer_factory(cfg)
    assert make is mo.learned_optimizer_factory(cfg)
    family = mo.regression_family(mo.RegressionConfig(dim=3, points=8))
    before = mo._deploy._cache_size()
    for seed, scale in ((0, 1.0), (1, 3.0)):  # a new network and a shifted family: no new compilation
        shifted = mo.regression_family(mo.RegressionConfig(dim=3, points=8, input_scale=scale))
        mo.train_final(jax.random.key(seed), make, mo.learned_optimizer_init(jax.random.key(seed), cfg), shifted, 2, 3)
    assert mo._deploy._cache_size() == before + 1


def test_effective_lr_of_a_linear_rule():
    """A network whose output is c * g (relu(g) - relu(-g)) has effective step step_scale * c."""
    cfg = mo.LearnedOptimizerConfig(hidden=2, betas=(0.9,), step_scale=0.1)
    w1 = jnp.asarray([[1.0, -1.0], [0.0, 0.0]])
    theta = [{"w": w1, "b": jnp.zeros(2)}, {"w": jnp.eye(2), "b": jnp.zeros(2)},
             {"w": jnp.asarray([[3.0], [-3.0]]), "b": jnp.zeros(1)}]
    assert_close(mo.effective_lr(theta, cfg), 0.3, rtol=1e-5)
    updates, _ = mo.learned_optimizer(theta, cfg).update({"w": jnp.asarray([0.2, -0.5])},
                                                          mo.learned_optimizer(theta, cfg).init({"w": jnp.zeros(2)}))
    assert_close(updates["w"], [-0.06, 0.15], rtol=1e-5)


def test_regression_family_gradient_matches_numpy():
    family = mo.regression_family(mo.RegressionConfig(dim=3, points=5))
    x, y = family.sample(jax.random.key(0), 1)
    w = jnp.asarray([0.1, -0.2, 0.3])
    xn, yn = np.asarray(x[0], np.float64), np.asarray(y[0], np.float64)
    want = xn.T @ (xn @ np.asarray(w, np.float64) - yn) / 5
    assert_close(jax.grad(family.loss)(w, (x[0], y[0]), jax.random.key(1)), want, rtol=1e-5, atol=1e-6)


def test_develop_composes_the_three_layers():
    cfg = mo.OptimizerTrainConfig(family=mo.RegressionConfig(dim=3, points=8), num_updates=3, tasks_per_update=2,
                                  unroll=4, optimizer=mo.LearnedOptimizerConfig(hidden=4))
    out = mo.develop(jax.random.key(0), mo.make_optimizer_train(cfg), 2, mo.learned_optimizer_factory(cfg.optimizer),
                     lambda s: s.theta, mo.regression_family(cfg.family), 5, 7)
    assert_shape(out.final_losses, (2, 5, 8))
    assert_shape(out.metrics["objective"], (3, 2))
    assert np.all(np.isfinite(out.final_losses))


def test_log_ratio_caps_divergence():
    losses = np.array([[1.0, 0.5, 0.01], [1.0, 10.0, np.inf], [1.0, 2.0, np.nan]])
    assert_close(mo.log_ratio(losses), [-2.0, 3.0, 3.0])


# ----------------------------------------------------------------------------- bad inputs

def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="dim"):
        mo.nqm(mo.NQMConfig(dim=0))
    with pytest.raises(ValueError, match="noise"):
        mo.nqm(mo.NQMConfig(noise=-1.0))
    with pytest.raises(ValueError, match="^h "):
        mo.optimal_schedule_1d(0.0, 1.0, 1.0, 5)
    with pytest.raises(ValueError, match="num_steps"):
        mo.greedy_schedule(mo.nqm(SMALL), 0)
    with pytest.raises(ValueError, match="model"):
        mo.optimal_schedule(SMALL, 10)
    with pytest.raises(ValueError, match="num_steps"):
        mo.optimal_schedule(mo.nqm(SMALL), 0)
    with pytest.raises(ValueError, match="max_lr"):
        mo.optimal_schedule(mo.nqm(SMALL), 10, max_lr=0.0)
    with pytest.raises(ValueError, match="iters"):
        mo.optimal_schedule(mo.nqm(SMALL), 10, iters=0)
    with pytest.raises(ValueError, match="num_updates"):
        mo.make_schedule_train(mo.ScheduleConfig(num_updates=0))
    with pytest.raises(ValueError, match="config"):
        mo.make_schedule_train(mo.NQMConfig())
    with pytest.raises(ValueError, match="lrs"):
        mo.schedule_sgd(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        mo.learned_optimizer_init(jax.random.key(0), mo.LearnedOptimizerConfig(betas=(1.0,)))
    with pytest.raises(ValueError, match="betas"):
        mo.learned_optimizer([], mo.LearnedOptimizerConfig(betas=[0.9]))
    with pytest.raises(ValueError, match="input_scale"):
        mo.regression_family(mo.RegressionConfig(input_scale=0.0))
    with pytest.raises(ValueError, match="num_tasks"):
        mo.train_final(jax.random.key(0), mo.adam, 0.1, mo.regression_family(), 0, 5)
    with pytest.raises(ValueError, match="key"):
        mo.train_final(0, mo.adam, 0.1, mo.regression_family(), 2, 5)
    with pytest.raises(ValueError, match="family"):
        mo.train_final(jax.random.key(0), mo.adam, 0.1, "regression", 2, 5)
    with pytest.raises(ValueError, match="meta_params"):
        mo.train_final_seeds(jax.random.split(jax.random.key(0), 3), mo.adam, jnp.ones(2), mo.regression_family(), 2, 5)
    with pytest.raises(ValueError, match="unroll"):
        mo.make_optimizer_train(mo.OptimizerTrainConfig(unroll=0))
    with pytest.raises(ValueError, match=r"lrs\[1\]"):
        mo.best_learning_rate(jax.random.key(0), mo.adam, mo.regression_family(), [0.1, -1.0], 2, 3)
    with pytest.raises(ValueError, match="seeds"):
        mo.develop(jax.random.key(0), mo.make_optimizer_train(), 0, mo.adam, lambda s: 0.1, mo.regression_family(), 2, 3)
