"""Unit tests for mesalib.verify: soundness by sampling, hand-computed bounds, exact vs brute force."""
import itertools

import mesalib  # noqa: F401  (sets the XLA CPU flag before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np

from mesalib import probes
import pytest
import scipy.optimize

from mesalib import nn, train
from mesalib import verify as V
from mesalib.experiments import verification as chapter


def _net(w_list, b_list):
    return [{"w": np.array(w, np.float64), "b": np.array(b, np.float64)} for w, b in zip(w_list, b_list)]


# y = relu(x0 + x1) + relu(x0 - x1) on [-1, 1]^2: IBP gives y <= 4, CROWN y <= x0 + 2 <= 3, true max 2.
SUM_NET = _net([[[1.0, 1.0], [1.0, -1.0]], [[1.0], [1.0]]], [[0.0, 0.0], [0.0]])
UNIT_BOX = V.Box(np.array([-1.0, -1.0]), np.array([1.0, 1.0]))


def _random_net(seed, sizes):
    return nn.mlp_init(jax.random.key(seed), sizes)


def _samples(rng, box, n):
    lo, hi = box
    x = rng.uniform(lo, hi, size=(n, lo.size))
    corners = np.array(list(itertools.product(*zip(lo, hi))))  # vertices too
    return np.concatenate([x, corners[: min(len(corners), 64)]])


def _pre_activations(params, x):
    p = [{"w": np.asarray(l["w"], np.float64), "b": np.asarray(l["b"], np.float64)} for l in params]
    out = []
    for j, layer in enumerate(p):
        z = x @ layer["w"] + layer["b"]
        out.append(z)
        x = np.maximum(z, 0)
    return out


# ----------------------------------------------------------------------------- hand-computed bounds

def test_hand_computed_bounds_two_unit_network():
    ibp = V.interval_bounds(SUM_NET, UNIT_BOX)
    crown = V.crown_bounds(SUM_NET, UNIT_BOX)
    np.testing.assert_allclose(ibp[0][0], [-2, -2]), np.testing.assert_allclose(ibp[0][1], [2, 2])
    np.testing.assert_allclose(ibp[1][0], [0.0], atol=1e-6)
    np.testing.assert_allclose(ibp[1][1], [4.0], atol=1e-6)
    # chords 0.5 z + 1 for both units: y <= 0.5 (x0 + x1) + 1 + 0.5 (x0 - x1) + 1 = x0 + 2 <= 3
    np.testing.assert_allclose(crown[1][1], [3.0], atol=1e-6)
    # lower lines have slope 0 (u = -l, a tie goes to 0), and IBP's 0 is kept
    np.testing.assert_allclose(crown[1][0], [0.0], atol=1e-6)


def test_hand_computed_three_unit_network_with_stable_units():
    # z = (x + 1, x - 3, 2x) on x in [0, 1]: active, inactive, active; y = z1 - z2 + 0.5 z3 - 1
    net = _net([[[1.0, 1.0, 2.0]], [[1.0], [-1.0], [0.5]]], [[1.0, -3.0, 0.0], [-1.0]])
    box = V.Box(np.array([0.0]), np.array([1.0]))
    ibp = V.interval_bounds(net, box)
    np.testing.assert_allclose(ibp[0][0], [1, -3, 0], atol=1e-6)
    np.testing.assert_allclose(ibp[0][1], [2, -2, 2], atol=1e-6)
    # IBP: relu(z) in [1,2], [0,0], [0,2] -> y in [1 + 0 + 0 - 1, 2 + 0 + 1 - 1] = [0, 2]
    np.testing.assert_allclose(ibp[1][0], [0.0], atol=1e-6)
    np.testing.assert_allclose(ibp[1][1], [2.0], atol=1e-6)
    # The network is linear on the box: y = (x + 1) + x - 1 = 2x, so CROWN is exact: [0, 2]
    crown = V.crown_bounds(net, box)
    np.testing.assert_allclose([crown[1][0][0], crown[1][1][0]], [0.0, 2.0], atol=1e-6)


def test_hand_computed_property_ladder():
    # "y < 2.5" as 2.5 - y > 0: IBP margin >= -1.5, CROWN >= -0.5, exact minimum 0.5.
    prop = V.Property(np.array([[-1.0]]), np.array([2.5]), (0,))
    assert V.verify(SUM_NET, UNIT_BOX, prop, "ibp").status == "unknown"
    assert V.verify(SUM_NET, UNIT_BOX, prop, "crown").status == "unknown"
    lo_ibp, _ = V.property_bounds(SUM_NET, UNIT_BOX, prop, "ibp")
    lo_crown, _ = V.property_bounds(SUM_NET, UNIT_BOX, prop, "crown")
    np.testing.assert_allclose([lo_ibp[0], lo_crown[0]], [-1.5, -0.5], atol=1e-6)
    r = V.verify(SUM_NET, UNIT_BOX, prop, "milp")
    assert r.status == "verified"
    assert r.margin == pytest.approx(0.5, abs=1e-6)
    # "y < 1.5" is false at x = (1, 0) where y = 2.
    bad = V.Property(np.array([[-1.0]]), np.array([1.5]), (0,))
    r = V.verify(SUM_NET, UNIT_BOX, bad, "milp")
    assert r.status == "falsified" and r.margin == pytest.approx(-0.5, abs=1e-6)
    assert V.property_margin(SUM_NET, r.counterexample, bad) <= 0


# ----------------------------------------------------------------------------- soundness by sampling

@pytest.mark.parametrize("seed,sizes", [(0, (2, 5, 1)), (1, (4, 16, 16, 4)), (2, (2, 12, 6, 9, 3))])
def test_bounds_contain_every_sampled_activation(seed, sizes):
    rng = np.random.default_rng(seed)
    params = _random_net(seed, sizes)
    for scale in (0.05, 0.5, 2.0):
        centre = rng.normal(size=sizes[0])
        box = V.Box(centre - scale * rng.uniform(0.2, 1, sizes[0]), centre + scale * rng.uniform(0.2, 1, sizes[0]))
        x = _samples(rng, box, 2000)
        zs = _pre_activations(params, x)
        ibp, crown = V.interval_bounds(params, box), V.crown_bounds(params, box)
        both = V.crown_bounds(params, box, intersect=True)
        for j, z in enumerate(zs):
            tol = 1e-4 * (1 + np.abs(z).max())
            for lo, hi in (ibp[j], crown[j], both[j]):
                assert np.all(z >= lo - tol) and np.all(z <= hi + tol), (scale, j)
            # CROWN ∩ IBP is never looser than IBP, by construction (pure CROWN can be: see below)
            assert np.all(both[j][0] >= ibp[j][0] - 1e-5) and np.all(both[j][1] <= ibp[j][1] + 1e-5)


def test_pure_crown_is_sometimes_looser_than_ibp():
    """Zhang et al.'s CROWN is not a refinement of IBP: on this random 4-16-16-4 net and a wide box,
    some layer-2 bounds of CROWN are looser than interval arithmetic's (while most are tighter)."""
    params = _random_net(1, (4, 16, 16, 4))
    box = V.linf_ball(np.random.default_rng(1).normal(size=4), 2.0)
    (i_lo, i_hi), (c_lo, c_hi) = V.interval_bounds(params, box)[1], V.crown_bounds(params, box)[1]
    looser = (c_lo < i_lo - 1e-5) | (c_hi > i_hi + 1e-5)
    tighter = (c_lo > i_lo + 1e-5) | (c_hi < i_hi - 1e-5)
    assert looser.any() and tighter.any()
    both = V.crown_bounds(params, box, intersect=True)[1]
    np.testing.assert_allclose(both[0], np.maximum(i_lo, c_lo), atol=1e-5)


def test_property_bounds_contain_sampled_rows_batched():
    rng = np.random.default_rng(5)
    params = _random_net(5, (3, 10, 10, 4))
    x = rng.normal(size=(6, 3))
    labels = rng.integers(0, 4, size=6)
    props = V.robustness_properties(labels, 4)
    box = V.linf_ball(x, 0.3)
    for method in ("ibp", "crown"):
        lo, hi = V.property_bounds(params, box, props, method)
        assert lo.shape == hi.shape == (6, 3)
        for i in range(6):
            xs = _samples(rng, (box.lower[i], box.upper[i]), 1000)
            y = _pre_activations(params, xs)[-1]
            rows = y @ props.c[i].T + props.d[i]
            assert np.all(rows >= lo[i] - 1e-4) and np.all(rows <= hi[i] + 1e-4)


def test_crown_is_measurably_tighter_than_ibp_on_a_random_net():
    params = _random_net(7, (2, 16, 16, 1))
    box = V.linf_ball(np.array([0.2, -0.1]), 0.3)
    ibp, crown = V.interval_bounds(params, box)[-1], V.crown_bounds(params, box)[-1]
    assert (crown[1] - crown[0])[0] < 0.8 * (ibp[1] - ibp[0])[0]


# ----------------------------------------------------------------------------- exact checks

def _brute_force_min(params, box, c, d):
    """Minimum of c·f(x) + d over the box by enumerating every activation pattern (an LP each)."""
    p = [{"w": np.asarray(l["w"], np.float64), "b": np.asarray(l["b"], np.float64)} for l in params]
    widths = [l["w"].shape[1] for l in p[:-1]]
    best = np.inf
    for pattern in itertools.product([0, 1], repeat=sum(widths)):
        masks = np.split(np.array(pattern, np.float64), np.cumsum(widths)[:-1])
        # Express each pre-activation as A x + a under this pattern, constrain its sign.
        A, a = np.eye(box.lower.size), np.zeros(box.lower.size)
        ub_rows, ub_vals = [], []
        for layer, m in zip(p[:-1], masks):
            zA, za = A @ layer["w"], a @ layer["w"] + layer["b"]
            for k in range(len(m)):  # on: z >= 0  ->  -z <= 0 ; off: z <= 0
                sign = -1.0 if m[k] else 1.0
                ub_rows.append(sign * zA[:, k])
                ub_vals.append(-sign * za[k])
            A, a = zA * m, za * m
        objA = A @ p[-1]["w"] @ c
        obja = a @ p[-1]["w"] @ c + p[-1]["b"] @ c + d
        res = scipy.optimize.linprog(objA, A_ub=np.array(ub_rows), b_ub=np.array(ub_vals),
                                     bounds=list(zip(box.lower, box.upper)), method="highs")
        if res.status == 0:
            best = min(best, res.fun + obja)
    return best


@pytest.mark.timeout(60)
def test_exact_minimum_matches_brute_force_enumeration():
    rng = np.random.default_rng(0)
    for seed in range(4):
        params = _random_net(seed + 10, (2, 3, 3, 1))
        centre = rng.normal(size=2)
        for eps in (0.1, 0.7):
            box = V.linf_ball(centre, eps)
            for sign in (1.0, -1.0):
                c = np.array([sign])
                ref = _brute_force_min(params, box, c, 0.0)
                # shift so the property is just true: the MILP then reports the exact minimum
                d = -ref + 0.05
                r = V.exact_check(params, box, V.Property(c[None], np.array([d]), (0,)), skip_certified=False)
                assert r.status == "verified"
                assert r.margin == pytest.approx(0.05, abs=1e-5)
                r = V.exact_check(params, box, V.Property(c[None], np.array([-ref - 0.05]), (0,)), skip_certified=False)
                assert r.status == "falsified" and r.margin == pytest.approx(-0.05, abs=1e-5)


def test_z3_and_milp_agree():
    pytest.importorskip("z3")
    rng = np.random.default_rng(1)
    params = _random_net(3, (2, 6, 6, 3))
    seen = set()
    for i in range(9):
        x = rng.normal(size=2)
        label = int(train.predict(params, x[None])[0])
        box, prop = V.linf_ball(x, [0.05, 0.3, 1.0][i % 3]), V.argmax_is(label, 3)
        a = V.exact_check(params, box, prop, "milp", skip_certified=False)
        b = V.exact_check(params, box, prop, "z3")
        assert a.status == b.status
        seen.add(a.status)
        if b.status == "falsified":
            assert np.all(b.counterexample >= box.lower) and np.all(b.counterexample <= box.upper)
    assert seen == {"verified", "falsified"}


@pytest.mark.timeout(60)
def test_ladder_ordering_on_random_nets():
    """bound-certified => exact-verified => not PGD-falsified, point by point."""
    rng = np.random.default_rng(2)
    counts = np.zeros(4, int)
    for seed in (0,):
        params = _random_net(seed, (2, 12, 12, 3))
        x = 3 * rng.normal(size=(40, 2))
        labels = train.predict(params, x)
        points, times = chapter.ladder(jax.random.key(seed), params, x, labels, [0.1, 0.5])
        exact = points["exact"] == "verified"
        assert set(points["exact"]) <= {"verified", "falsified"}
        assert not (points["ibp"] & ~exact).any()
        assert not (points["crown"] & ~exact).any()
        assert not (exact & points["pgd_falsified"]).any()
        counts += [points["ibp"].sum(), points["crown"].sum(), exact.sum(), (~points["pgd_falsified"]).sum()]
        assert not (points["crown_ibp"] & ~exact).any()
        assert set(times["method"]) == {"IBP", "CROWN", "CROWN ∩ IBP", "PGD", "exact (MILP)"}
    assert counts[0] < counts[2] < 80 and counts[1] <= counts[2] <= counts[3]  # not all trivially true/false


def test_pgd_never_breaks_a_certified_point_and_its_counterexamples_are_real():
    rng = np.random.default_rng(3)
    params = _random_net(0, (2, 16, 16, 3))
    x = 3 * rng.normal(size=(200, 2))
    labels = train.predict(params, x)
    props = V.robustness_properties(labels, 3)
    box = V.linf_ball(x, 0.3)
    lo, _ = V.property_bounds(params, box, props, "crown")
    certified = V.certified_margin(lo, props.groups) > 0
    xs, margins = V.pgd_attack(jax.random.key(0), params, box, props, steps=50, restarts=8)
    assert certified.sum() > 20 and (margins <= 0).sum() > 5
    assert np.all(margins[certified] > 0)
    assert np.all(xs >= box.lower) and np.all(xs <= box.upper)
    np.testing.assert_allclose(V.property_margin(params, xs, props), margins)


def test_verify_interface_statuses_and_counterexample():
    params = _random_net(0, (2, 8, 8, 2))
    x = np.array([0.3, -0.2])
    prop = V.argmax_is(int(train.predict(params, x[None])[0]), 2)
    assert V.verify(params, V.linf_ball(x, 0.0), prop, "crown").status == "verified"
    for method in ("milp", "complete"):
        r = V.verify(params, V.linf_ball(x, 3.0), prop, method, key=jax.random.key(0))
        assert r.status == "falsified" and r.margin <= 0 and r.method == method
        assert V.property_margin(params, r.counterexample, prop) <= 0
    r = V.verify(params, V.linf_ball(x, 3.0), prop, "pgd", key=jax.random.key(0))
    assert r.status in ("falsified", "unknown")
    assert set(V.STATUSES) >= {r.status}


def test_argmax_properties_match_argmax():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(500, 5))
    ident = [{"w": np.eye(5), "b": np.zeros(5)}]  # a "network" that returns its input
    for allowed in ([2], [0, 3], [1, 2, 4]):
        m = V.property_margin(ident, y, V.argmax_in(allowed, 5))
        np.testing.assert_array_equal(m > 0, np.isin(y.argmax(1), allowed))
    np.testing.assert_array_equal(V.property_margin(ident, y, V.argmax_not(3, 5)) > 0, y.argmax(1) != 3)
    np.testing.assert_array_equal(V.property_margin(ident, y, V.argmax_is(1, 5)) > 0, y.argmax(1) == 1)


def test_property_on_hidden_activations_via_truncation():
    """A proposition about layer-1 pre-activations is an output property of params[:1]."""
    params = _random_net(1, (2, 4, 2))
    box = V.linf_ball(np.zeros(2), 0.5)
    lo, hi = V.crown_bounds(params, box)[0]
    unit = int(np.argmax(lo))
    prop = V.Property(np.eye(4)[unit][None], np.array([-lo[unit] + 1e-3]), (0,))  # z_unit > lo - 1e-3
    assert V.verify(params[:1], box, prop, "milp").status == "verified"


def test_bad_inputs():
    params = _random_net(0, (2, 4, 2))
    prop = V.argmax_is(0, 2)
    with pytest.raises(ValueError, match="eps"):
        V.linf_ball(np.zeros(2), -0.1)
    with pytest.raises(ValueError, match="box.lower"):
        V.verify(params, V.linf_ball(np.zeros(3), 0.1), prop, "crown")
    with pytest.raises(ValueError, match="box.lower must be <="):
        V.verify(params, V.Box(np.ones(2), np.zeros(2)), prop, "crown")
    with pytest.raises(ValueError, match="prop.c"):
        V.verify(params, V.linf_ball(np.zeros(2), 0.1), V.argmax_is(0, 3), "crown")
    with pytest.raises(ValueError, match="prop.groups"):
        V.verify(params, V.linf_ball(np.zeros(2), 0.1), V.Property(np.ones((2, 2)), np.zeros(2), (0, 2)), "crown")
    with pytest.raises(ValueError, match="method"):
        V.verify(params, V.linf_ball(np.zeros(2), 0.1), prop, "magic")
    with pytest.raises(ValueError, match="key"):
        V.verify(params, V.linf_ball(np.zeros(2), 0.1), prop, "pgd")
    with pytest.raises(ValueError, match="key"):
        V.pgd_attack(0, params, V.linf_ball(np.zeros(2), 0.1), prop)
    with pytest.raises(ValueError, match="params"):
        V.verify([{"w": np.ones((2, 3)), "b": np.ones(2)}], V.linf_ball(np.zeros(2), 0.1), prop, "crown")
    with pytest.raises(ValueError, match="params"):
        V.verify([], V.linf_ball(np.zeros(2), 0.1), prop, "crown")
    with pytest.raises(ValueError, match="allowed"):
        V.argmax_in([0, 1], 2)
    with pytest.raises(ValueError, match="labels"):
        V.robustness_properties(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="finite"):
        V.verify(params, V.Box(np.array([0.0, -np.inf]), np.ones(2)), prop, "crown")
    with pytest.raises(ValueError, match="x must have shape"):
        chapter.ladder(jax.random.key(0), params, np.zeros((3, 5)), np.zeros(3, int), [0.1])
    with pytest.raises(ValueError, match=r"eps_grid\[1\]"):
        chapter.ladder(jax.random.key(0), params, np.zeros((3, 2)), np.zeros(3, int), [0.1, -0.2])
    with pytest.raises(ValueError, match="solver"):
        V.exact_check(params, V.linf_ball(np.zeros(2), 0.1), prop, solver="cplex")


def test_bound_kernels_jit_and_vmap_over_boxes():
    """The kernels are pure JAX: vmapped over boxes they give each box's own bounds."""
    params = [{"w": jnp.asarray(l["w"]), "b": jnp.asarray(l["b"])} for l in _random_net(4, (3, 8, 8, 2))]
    centres = np.random.default_rng(4).normal(size=(5, 3)).astype(np.float32)
    lo, hi = jnp.asarray(centres - 0.3), jnp.asarray(centres + 0.3)
    for kernel in (V.ibp, V.crown):
        batched = jax.jit(jax.vmap(kernel, in_axes=(None, 0, 0)))(params, lo, hi)
        for i in range(5):
            one = kernel(params, lo[i], hi[i])
            for (bl, bu), (ol, ou) in zip(batched, one):
                np.testing.assert_allclose(bl[i], ol, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(bu[i], ou, rtol=1e-5, atol=1e-5)


def test_bound_and_attack_kernels_do_not_recompile_on_a_second_call():
    prop = V.argmax_is(0, 2)

    def calls(seed, centre, eps):
        params, box = _random_net(seed, (2, 4, 2)), V.linf_ball(np.full(2, centre), eps)
        V.interval_bounds(params, box)
        V.crown_bounds(params, box)
        V.verify(params, box, prop, "ibp")
        V.verify(params, box, prop, "crown")
        V.pgd_attack(jax.random.key(seed), params, box, prop)

    def sizes():
        return [V.ibp_batch._cache_size(), V.crown_batch._cache_size(), V.pgd_batch._cache_size()]

    calls(0, 0.0, 0.1)
    before = sizes()
    calls(1, 1.0, 0.2)   # other weights, another box, same shapes: the compiled programs are reused
    assert sizes() == before


def test_bad_inputs_name_the_parameter():
    params = _random_net(0, (2, 4, 2))
    box, prop = V.linf_ball(np.zeros(2), 0.1), V.argmax_is(0, 2)
    with pytest.raises(ValueError, match="num_outputs"):
        V.argmax_is(0, 1)
    with pytest.raises(ValueError, match="action"):
        V.argmax_not(4, 4)
    with pytest.raises(ValueError, match="x must"):
        V.linf_ball(np.zeros((2, 2, 2)), 0.1)
    with pytest.raises(ValueError, match="steps"):
        V.pgd_attack(jax.random.key(0), params, box, prop, steps=0)
    with pytest.raises(ValueError, match="restarts"):
        V.pgd_attack(jax.random.key(0), params, box, prop, restarts=0)
    with pytest.raises(ValueError, match="time_limit"):
        V.exact_check(params, box, prop, time_limit=0.0)
    with pytest.raises(ValueError, match="time_limit"):
        V.verify(params, box, prop, "milp", time_limit=-1.0)
    with pytest.raises(ValueError, match="options"):
        V.verify(params, box, prop, "milp", timelimit=1.0)
    with pytest.raises(ValueError, match="key"):
        V.verify(params, box, prop, "complete", key=3)
    with pytest.raises(ValueError, match="method"):
        V.property_bounds(params, box, prop, "milp")
    with pytest.raises(ValueError, match="boxes.lower"):
        V.verify_many(params, V.linf_ball(np.zeros((3, 5)), 0.1), prop)
    with pytest.raises(ValueError, match="boxes must be"):
        V.verify_many(params, (np.zeros((3, 2)), np.ones((3, 2))), prop)
    with pytest.raises(ValueError, match="props has batch"):
        V.verify_many(params, V.linf_ball(np.zeros((3, 2)), 0.1), V.robustness_properties(np.zeros(4, int), 2))
    with pytest.raises(ValueError, match="props.c"):
        V.verify_many(params, V.linf_ball(np.zeros((3, 2)), 0.1), V.argmax_is(0, 3))
    with pytest.raises(ValueError, match="method"):
        V.verify_many(params, V.linf_ball(np.zeros((3, 2)), 0.1), prop, method="milp")
    with pytest.raises(ValueError, match="prop.c has batch"):
        V.property_bounds(params, V.linf_ball(np.zeros((3, 2)), 0.1), V.robustness_properties(np.zeros(4, int), 2))
    with pytest.raises(ValueError, match=r"params\[0\]\[.w.\] must be finite"):
        V.verify([{"w": np.full((2, 2), np.nan), "b": np.zeros(2)}], box, prop, "crown")
    with pytest.raises(ValueError, match="prop must be"):
        V.verify(params, box, "argmax 0", "crown")


def test_verify_many_statuses_match_verify_one_box_at_a_time():
    params = _random_net(2, (2, 8, 8, 2))
    x = 2 * np.random.default_rng(6).normal(size=(12, 2))
    labels = train.predict(params, x)
    boxes, props = V.linf_ball(x, 0.4), V.robustness_properties(labels, 2)
    many = V.verify_many(params, boxes, props, key=jax.random.key(0))
    one = [V.verify(params, V.Box(boxes.lower[i], boxes.upper[i]), V.Property(props.c[i], props.d[i], props.groups),
                    "milp").status for i in range(12)]
    assert list(many["status"]) == one and {"verified", "falsified"} <= set(one)
    for i in np.flatnonzero(many["status"] == "falsified"):
        cex = many["counterexample"].iloc[i]
        assert np.all(cex >= boxes.lower[i]) and np.all(cex <= boxes.upper[i])
        assert V.property_margin(params, cex, V.Property(props.c[i], props.d[i], props.groups)) <= 0


# ----------------------------------------------------------------------------- fitting (mesalib.train)

def test_fit_mlp_learns_two_moons_and_smoke_config():
    from mesalib import datasets
    x, y = datasets.two_moons(jax.random.key(0), 200, 0.1)
    cfg = train.FitConfig().smoke()
    assert cfg.steps < train.FitConfig().steps and cfg._replace(steps=train.FitConfig().steps) == train.FitConfig()
    params, losses = train.fit_mlp(jax.random.key(1), x, y, cfg)
    assert losses.shape == (cfg.steps,) and losses[-1] < 0.5 * losses[0]
    assert (train.predict(params, x) == np.asarray(y)).mean() > 0.9
    with pytest.raises(ValueError, match="targets"):
        train.fit_mlp(jax.random.key(1), x, y[:5], cfg)
    with pytest.raises(ValueError, match="config.steps"):
        train.fit_mlp(jax.random.key(1), x, y, cfg._replace(steps=0))
    with pytest.raises(ValueError, match="key"):
        train.fit_mlp(1, x, y, cfg)


def test_fit_mlp_compiles_once_per_shape_and_setting():
    from mesalib import datasets
    x, y = datasets.two_moons(jax.random.key(0), 64, 0.1)
    cfg = train.FitConfig(hidden=(8,), steps=20)
    train.fit_mlp(jax.random.key(1), x, y, cfg)
    before = train._scan_chunk._cache_size()
    x2, y2 = datasets.two_moons(jax.random.key(2), 64, 0.1)
    train.fit_mlp(jax.random.key(3), x2, y2, cfg)
    assert train._scan_chunk._cache_size() == before


def test_predict_matches_a_float64_forward_pass():
    params = _random_net(0, (3, 8, 8, 4))
    x = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_array_equal(train.predict(params, x), V.forward(V.check_params(params), x).argmax(1))
    with pytest.raises(ValueError, match="x must have shape"):
        train.predict(params, x[:, :2])
    with pytest.raises(ValueError, match="params"):
        train.predict({"w": 1}, x)


# ----------------------------------------------------------------------------- the chapter's probe

def test_probe_network_recovers_a_linear_readout():
    params = _random_net(0, (3, 8, 8, 2))
    x = np.random.default_rng(0).normal(size=(300, 3))
    h1 = np.maximum(x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]), 0)
    target = h1 @ np.arange(8.0) + 0.5
    probe, r2 = probes.layer_probe(params, 1, x, target)
    assert r2 == pytest.approx(1.0, abs=1e-9) and len(probe) == 2
    np.testing.assert_allclose(V.forward(V.check_params(probe), x)[:, 0], target, atol=1e-8)
    with pytest.raises(ValueError, match="layer"):
        probes.layer_probe(params, 3, x, target)


# ----------------------------------------------------------------------------- trusted bounds, activations

def test_milp_with_too_tight_bounds_verifies_a_false_property():
    # "y < 1.5" on SUM_NET over [-1, 1]^2 is false (y reaches 2 at (1, 0)).
    prop = V.Property(np.array([[-1.0]]), np.array([1.5]), (0,))
    assert V.exact_check(SUM_NET, UNIT_BOX, prop).status == "falsified"
    sound = [(np.full(2, -2.0), np.full(2, 2.0))]             # the true pre-activation range
    assert V.milp_with_bounds(SUM_NET, UNIT_BOX, prop, sound).status == "falsified"
    tight = [(np.full(2, -2.0), np.full(2, 0.5))]             # cuts off every input with z > 0.5
    r = V.milp_with_bounds(SUM_NET, UNIT_BOX, prop, tight)
    assert r.status == "verified" and abs(r.margin - 0.5) < 1e-6   # y <= 1 on what is left
    with pytest.raises(ValueError, match="bounds"):
        V.milp_with_bounds(SUM_NET, UNIT_BOX, prop, [])
    with pytest.raises(ValueError, match=r"bounds\[0\]\[1\]"):
        V.milp_with_bounds(SUM_NET, UNIT_BOX, prop, [(np.zeros(2), np.zeros(3))])


def test_activation_query_proves_and_refutes_with_exact_witnesses():
    pytest.importorskip("z3")
    # hidden unit 0 of SUM_NET is relu(x0 + x1): at most 2 on [-1, 1]^2, and 0 on x0 + x1 <= 0
    assert V.activation_query(SUM_NET, UNIT_BOX, layer=1, unit=0, threshold=2.0).status == "verified"
    r = V.activation_query(SUM_NET, UNIT_BOX, layer=1, unit=0, threshold=1.9)
    assert r.status == "falsified" and r.counterexample.sum() > 1.9 and r.margin < 0
    box = V.Box(np.array([-1.0, -1.0]), np.array([0.0, 0.0]))
    assert V.activation_query(SUM_NET, box, layer=1, unit=0).status == "verified"     # never active there
    with pytest.raises(ValueError, match="layer"):
        V.activation_query(SUM_NET, UNIT_BOX, layer=2, unit=0)
    with pytest.raises(ValueError, match="unit"):
        V.activation_query(SUM_NET, UNIT_BOX, layer=1, unit=5)


# ----------------------------------------------------------------------------- IBP training

def test_worst_case_logits_bound_every_sampled_logit_difference():
    rng = np.random.default_rng(11)
    params = _random_net(11, (2, 8, 8, 3))
    x, y, eps = np.array([0.3, -0.2]), 1, 0.25
    worst = np.asarray(V.worst_case_logits(jax.tree.map(jnp.asarray, params), jnp.asarray(x, jnp.float32), y, eps, 3))
    assert worst.shape == (3,) and abs(worst[y]) < 1e-6
    xs = _samples(rng, (x - eps, x + eps), 2000)
    out = _pre_activations(params, xs)[-1]
    assert np.all(out - out[:, [y]] <= worst + 1e-4)


def test_fit_ibp_learns_and_checks_its_inputs():
    x = np.array([[-1.0, 0.0], [1.0, 0.0]] * 10)
    labels = np.array([0, 1] * 10)
    config = V.IBPFitConfig(hidden=(8,), steps=200, eps=0.2)
    params, losses = V.fit_ibp(jax.random.key(0), x, labels, config)
    assert losses.shape == (200,) and np.isfinite(losses).all() and losses[-1] < losses[0]
    box = V.linf_ball(x[:2], 0.2)
    assert (V.verify(params, V.Box(box.lower[1], box.upper[1]), V.argmax_is(1, 2), "ibp").status == "verified")
    with pytest.raises(ValueError, match="config.eps"):
        V.fit_ibp(jax.random.key(0), x, labels, config._replace(eps=-1.0))
    with pytest.raises(ValueError, match="labels"):
        V.fit_ibp(jax.random.key(0), x, labels[:3], config)
    with pytest.raises(ValueError, match="config must be"):
        V.fit_ibp(jax.random.key(0), x, labels, "fast")


# ----------------------------------------------------------------------------- probe synthesis (CEGIS)

def test_minimax_probe_matches_the_chebyshev_line():
    # the best line through (0, 0), (1, 1), (2, 3) in the max norm: 1.5 x - 0.25, error 0.25 at all three
    w, b, worst = V.minimax_probe(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 3.0]))
    np.testing.assert_allclose([w[0], b, worst], [1.5, -0.25, 0.25], atol=1e-8)


def test_cegis_probe_finds_a_probe_when_one_exists_and_refutes_when_none_does():
    net = _net([[[1.0, 0.0], [0.0, 1.0]], [[1.0], [1.0]]], [[0.0, 0.0], [0.0]])   # layer 1 is x on x >= 0
    centres = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    boxes = V.linf_ball(centres, 0.05)
    ok = V.cegis_probe(jax.random.key(0), net, 1, boxes, centres[:, 0], tolerance=0.2)
    assert ok.status == "verified" and len(ok.history) == 1
    np.testing.assert_allclose(ok.probe[-1]["w"][:, 0], [1.0, 0.0], atol=1e-6)    # the probe reads x0
    # within 0.01 of the box's centre value is impossible when x0 itself moves by 0.05 in the box
    no = V.cegis_probe(jax.random.key(0), net, 1, boxes, centres[:, 0], tolerance=0.01)
    assert no.status == "refuted" and no.probe is None and no.history["worst error on them"].iloc[-1] > 0.01
    with pytest.raises(ValueError, match="targets"):
        V.cegis_probe(jax.random.key(0), net, 1, boxes, centres[:2, 0], tolerance=0.2)
    with pytest.raises(ValueError, match="tolerance"):
        V.cegis_probe(jax.random.key(0), net, 1, boxes, centres[:, 0], tolerance=0.0)
