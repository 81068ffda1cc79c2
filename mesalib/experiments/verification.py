"""Chapter 5 (verification): what can be proved about a small network, and what cannot yet be stated.

Each section of the chapter is one function of the chapter's key (``SEED = 0``), split once by
:func:`keys`: the two-moons network (:func:`run_network`), one point asked four ways
(:func:`run_four_ways`), the robustness ladder (:func:`run_ladder`), the status map
(:func:`run_grid`), the ladder on networks from other seeds (:func:`run_seed_ladder`), IBP training
(:func:`run_certified`), the MILP against z3 (:func:`run_z3_crosscheck`), the hazard-task policy
(:func:`run_policy`), its safety under observation noise (:func:`run_noise`), a z3 query on its hidden
units (:func:`run_activations`), closed-loop reach-avoid without and with noise (:func:`run_closed_loop`,
:func:`run_closed_loop_noise`), the candidate "signs of optimization" (:func:`run_candidates`) and the
counterexample-guided probe search (:func:`run_probe_synthesis`).
The notebook and ``tests/test_claims_ch05.py`` call the same functions, the tests with
``Config().test()``; with ``MESALIB_SMOKE=1`` every section runs ``Config().smoke()``.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd

from mesalib import datasets, nn, probes, stats, train, validate, verify

STATUS_NAMES = {"verified": "certified by exact only", "falsified": "falsified by exact only"}


class LadderConfig(NamedTuple):
    """Demonstration 1: the robustness ladder on two moons (data, network, radii, the map)."""
    n_train: int = 400
    n_test: int = 100
    noise: float = 0.1
    fit: train.FitConfig = train.FitConfig(hidden=(16, 16), steps=3000)
    eps_grid: tuple = (0.05, 0.1, 0.2, 0.3)
    pgd_steps: int = 40
    pgd_restarts: int = 4
    time_limit: float = 30.0        # seconds per MILP query
    example_point: int = 2          # the test point asked four ways ...
    example_eps: float = 0.3        # ... at this radius
    grid_eps: float = 0.2           # the status map's radius
    grid_resolution: int = 40       # its cells per axis
    grid_time_limit: float = 10.0
    z3_stride: int = 10             # the z3 cross-check takes every z3_stride-th test point ...
    z3_eps: float = 0.3             # ... at this radius
    ibp_fit: verify.IBPFitConfig = verify.IBPFitConfig()   # the certified-training network (same data)
    seed_networks: int = 5          # the ladder again on this many networks trained from other seeds ...
    seed_eps: tuple = (0.1, 0.3)    # ... at these radii

    def full(self) -> "LadderConfig":
        """The full sweep recorded in the text (twice the points, twice the radii)."""
        return self._replace(n_test=200, eps_grid=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4))

    def smoke(self) -> "LadderConfig":
        return self._replace(n_test=30, fit=self.fit.smoke(), eps_grid=(0.1, 0.3), grid_resolution=8, seed_networks=2,
                             ibp_fit=self.ibp_fit._replace(steps=self.fit.smoke().steps))

    def validated(self) -> "LadderConfig":
        validate.integer("n_train", self.n_train, minimum=2)
        validate.integer("n_test", self.n_test, minimum=2)
        validate.real("noise", self.noise, low=0.0, dtype=np.float32)
        eps = tuple(validate.real(f"eps_grid[{i}]", e, low=0.0, dtype=np.float32) for i, e in enumerate(self.eps_grid))
        if not eps:
            raise ValueError("eps_grid must list at least one radius")
        validate.integer("pgd_steps", self.pgd_steps, minimum=1)
        validate.integer("pgd_restarts", self.pgd_restarts, minimum=1)
        validate.real("time_limit", self.time_limit, low=0.0, low_open=True)
        validate.integer("example_point", self.example_point, minimum=0, maximum=self.n_test - 1)
        validate.real("example_eps", self.example_eps, low=0.0)
        validate.real("grid_eps", self.grid_eps, low=0.0)
        validate.integer("grid_resolution", self.grid_resolution, minimum=2, maximum=70)
        validate.real("grid_time_limit", self.grid_time_limit, low=0.0, low_open=True)
        validate.integer("z3_stride", self.z3_stride, minimum=1)
        validate.integer("seed_networks", self.seed_networks, minimum=2)
        seed_eps = tuple(validate.real(f"seed_eps[{i}]", e, low=0.0) for i, e in enumerate(self.seed_eps))
        if not seed_eps:
            raise ValueError("seed_eps must list at least one radius")
        if not isinstance(self.ibp_fit, verify.IBPFitConfig):
            raise ValueError(f"ibp_fit must be a verify.IBPFitConfig, got {type(self.ibp_fit).__name__}")
        validate.real("z3_eps", self.z3_eps, low=0.0)
        if not isinstance(self.fit, train.FitConfig):
            raise ValueError(f"fit must be a train.FitConfig, got {type(self.fit).__name__}")
        return self._replace(eps_grid=eps, fit=self.fit.validated(), ibp_fit=self.ibp_fit.validated(), seed_eps=seed_eps)


class PolicyConfig(NamedTuple):
    """Demonstrations 2 and 3: the hazard-task policy, the noise radii, the goal probe."""
    radius: int = 3                  # hazard and goal within this many steps in each coordinate
    fit: train.FitConfig = train.POLICY_FIT
    deltas: tuple = (0.1, 0.25)      # observation noise (L-infinity) around each real observation
    probe_layer: int = 2             # the probe reads this hidden layer ...
    probe_delta: float = 0.1         # ... for inputs this close to an observation with the hazard right
    probe_tolerance: float = 0.5     # ... and must read the goal's x-offset this closely
    time_limit: float = 30.0
    synthesis_rounds: int = 10       # the counterexample-guided probe search stops after this many rounds

    def smoke(self) -> "PolicyConfig":
        return self._replace(fit=self.fit.smoke())

    def validated(self) -> "PolicyConfig":
        validate.integer("radius", self.radius, minimum=1, maximum=10)
        deltas = tuple(validate.real(f"deltas[{i}]", d, low=0.0) for i, d in enumerate(self.deltas))
        if not deltas:
            raise ValueError("deltas must list at least one noise radius")
        validate.integer("probe_layer", self.probe_layer, minimum=1, maximum=len(self.fit.hidden))
        validate.real("probe_delta", self.probe_delta, low=0.0)
        validate.real("probe_tolerance", self.probe_tolerance, low=0.0, low_open=True)
        validate.integer("synthesis_rounds", self.synthesis_rounds, minimum=1)
        validate.real("time_limit", self.time_limit, low=0.0, low_open=True)
        if not isinstance(self.fit, train.FitConfig):
            raise ValueError(f"fit must be a train.FitConfig, got {type(self.fit).__name__}")
        return self._replace(deltas=deltas, fit=self.fit.validated())


class Config(NamedTuple):
    """The chapter's settings: Demonstration 1 (``ladder``) and Demonstrations 2-3 (``policy``)."""
    ladder: LadderConfig = LadderConfig()
    policy: PolicyConfig = PolicyConfig()

    def full(self) -> "Config":
        """``FULL_SWEEP = True``: 200 test points and 8 radii in the ladder."""
        return self._replace(ladder=self.ladder.full())

    def test(self) -> "Config":
        """Claim tests: the ladder at its two largest radii (0.2 and 0.3), the rest as in the book."""
        return self._replace(ladder=self.ladder._replace(eps_grid=(0.2, 0.3)))

    def smoke(self) -> "Config":
        """Seconds (MESALIB_SMOKE=1): 30 test points, two radii, short fits, a coarse map."""
        return self._replace(ladder=self.ladder.smoke(), policy=self.policy.smoke())

    def validated(self) -> "Config":
        if not isinstance(self.ladder, LadderConfig):
            raise ValueError(f"ladder must be a LadderConfig, got {type(self.ladder).__name__}")
        if not isinstance(self.policy, PolicyConfig):
            raise ValueError(f"policy must be a PolicyConfig, got {type(self.policy).__name__}")
        return self._replace(ladder=self.ladder.validated(), policy=self.policy.validated())


class Keys(NamedTuple):
    train: jax.Array        # two-moons training data
    test: jax.Array         # two-moons test points
    fit: jax.Array          # the two-moons network's initialization
    ladder: jax.Array       # PGD in the ladder
    grid: jax.Array         # PGD in the status map
    policy: jax.Array       # the hazard policy's initialization
    noise: jax.Array        # PGD in the noise checks
    example: jax.Array      # PGD on the point asked four ways
    candidates: jax.Array   # PGD in the candidate checks
    exercises: jax.Array    # for the reader's own checks in the exercises
    certified: jax.Array    # the IBP-trained network's initialization and its ladder's PGD
    seeds: jax.Array        # the networks trained from other seeds, and their ladders' PGD
    synthesis: jax.Array    # PGD in the counterexample-guided probe search
    closed_loop: jax.Array  # PGD in the closed-loop check under observation noise


def keys(key) -> Keys:
    """The chapter's one split of its key. (With JAX's default partitionable threefry, appending
    names at the end leaves the keys before them unchanged.)"""
    validate.prng_key("key", key)
    return Keys(*jax.random.split(key, len(Keys._fields)))


def _prepare(config: Config) -> Config:
    if not isinstance(config, Config):
        raise ValueError(f"config must be a verification.Config, got {type(config).__name__}")
    return train.smoke_config(config).validated()


# --------------------------------------------------------------------------------------------- Demonstration 1

class Network(NamedTuple):
    """The two-moons classifier and its data (arrays as NumPy)."""
    x_train: np.ndarray      # (n_train, 2)
    y_train: np.ndarray      # (n_train,)
    x_test: np.ndarray       # (n_test, 2)
    y_test: np.ndarray       # (n_test,)
    params: list             # 2-16-16-2 MLP
    losses: np.ndarray       # (steps,)
    predicted: np.ndarray    # (n_test,) the network's own labels, the ones the ladder checks


def run_network(key, config: Config = Config(), progress: bool | str = False) -> Network:
    """Two moons (training and test points) and a 2-16-16-2 ReLU network fitted to them."""
    config, k = _prepare(config), keys(key)
    c = config.ladder
    x_train, y_train = datasets.two_moons(k.train, c.n_train, c.noise)
    x_test, y_test = datasets.two_moons(k.test, c.n_test, c.noise)
    params, losses = train.fit_mlp(k.fit, x_train, y_train, c.fit, progress=progress)
    return Network(np.asarray(x_train), np.asarray(y_train), np.asarray(x_test), np.asarray(y_test), params,
                   np.asarray(losses), train.predict(params, x_test))


def run_four_ways(key, network: Network, config: Config = Config()) -> pd.DataFrame:
    """One test point (``example_point`` at radius ``example_eps``) asked by IBP, CROWN, PGD and
    the MILP: one row per method with its status and margin."""
    config, k = _prepare(config), keys(key)
    validate.instance("network", network, Network, "a verification.Network (from run_network)")
    c = config.ladder
    i = c.example_point
    box = verify.linf_ball(network.x_test[i], c.example_eps)
    prop = verify.argmax_is(int(network.predicted[i]), 2)
    rows = []
    for method in ("ibp", "crown", "pgd", "milp"):
        r = verify.verify(network.params, box, prop, method, key=k.example if method == "pgd" else None)
        rows.append({"method": method, "status": r.status, "margin": r.margin})
    return stats.with_missing(rows, {"margin": "Float64"})     # <NA>: the method gives no margin


def format_four_ways(frame: pd.DataFrame) -> str:
    """The four answers as lines 'method: status  margin m' (margins to 2 significant digits)."""
    return "\n".join(f"{r.method:>5}: {r.status:9}" + (f"  margin {r.margin:.2g}" if pd.notna(r.margin) else "")
                     for r in frame.itertuples())


class Ladder(NamedTuple):
    points: pd.DataFrame     # one row per (eps, point): ibp, crown, pgd_falsified, exact, exact_margin
    times: pd.DataFrame      # ms per point per (eps, method)
    summary: pd.DataFrame    # fractions certified with Wilson intervals (see ladder_summary)


def run_ladder(key, network: Network, config: Config = Config()) -> Ladder:
    """The ladder: every test point at every radius of ``eps_grid`` by IBP, CROWN, PGD and the MILP."""
    config, k = _prepare(config), keys(key)
    c = config.ladder
    points, times = ladder(k.ladder, network.params, network.x_test, network.predicted, c.eps_grid,
                           c.pgd_steps, c.pgd_restarts, c.time_limit)
    return Ladder(points, times, ladder_summary(points))


def run_grid(key, network: Network, config: Config = Config()) -> pd.DataFrame:
    """The status map: robustness of the predicted class on a grid over [-2, 2]^2 at ``grid_eps``."""
    config, k = _prepare(config), keys(key)
    c = config.ladder
    return status_grid(k.grid, network.params, c.grid_eps, resolution=c.grid_resolution,
                       time_limit=c.grid_time_limit)


def run_z3_crosscheck(key, network: Network, config: Config = Config()) -> pd.DataFrame:
    """The MILP's verdicts (floating point, HiGHS's tolerances) against z3's (exact rationals) on every
    ``z3_stride``-th test point at radius ``z3_eps``: one row per point with both statuses and times."""
    config = _prepare(config)
    c = config.ladder
    props = verify.robustness_properties(network.predicted, 2)
    rows = []
    for i in range(0, len(network.x_test), c.z3_stride):
        box = verify.linf_ball(network.x_test[i], c.z3_eps)
        prop = verify.Property(props.c[i], props.d[i], props.groups)
        m = verify.exact_check(network.params, box, prop, "milp", time_limit=c.time_limit, skip_certified=False)
        z = verify.exact_check(network.params, box, prop, "z3", time_limit=c.time_limit)
        rows.append({"point": i, "milp": m.status, "z3": z.status, "milp_ms": 1e3 * m.seconds, "z3_ms": 1e3 * z.seconds})
    return pd.DataFrame(rows)


class Certified(NamedTuple):
    """The two-moons network trained with the IBP loss, and its ladder."""
    params: list
    losses: np.ndarray
    predicted: np.ndarray    # (n_test,) its own labels, the ones its ladder checks
    accuracy: float          # on the test labels
    ladder: Ladder


def run_certified(key, network: Network, config: Config = Config(), progress: bool | str = False) -> Certified:
    """Gowal et al.'s IBP training on the same two-moons data, then the same ladder on the result."""
    config, k = _prepare(config), keys(key)
    c = config.ladder
    k_fit, k_ladder = jax.random.split(k.certified)
    params, losses = verify.fit_ibp(k_fit, network.x_train, network.y_train, c.ibp_fit, progress=progress)
    predicted = train.predict(params, network.x_test)
    points, times = ladder(k_ladder, params, network.x_test, predicted, c.eps_grid, c.pgd_steps, c.pgd_restarts,
                           c.time_limit)
    return Certified(params, np.asarray(losses), predicted, float((predicted == network.y_test).mean()),
                     Ladder(points, times, ladder_summary(points)))


class SeedLadder(NamedTuple):
    points: pd.DataFrame     # ladder() points with a ``network`` column (0..seed_networks-1)
    per_network: pd.DataFrame  # fraction certified per (network, eps, method), and PGD's misses
    summary: pd.DataFrame    # per (eps, method): mean fraction, 95% t interval over networks, min, max, n


def run_seed_ladder(key, network: Network, config: Config = Config()) -> SeedLadder:
    """One trained network is one sample: the ladder at ``seed_eps`` on ``seed_networks`` networks fitted
    to the same data from other initialisations, with the spread over networks."""
    config, k = _prepare(config), keys(key)
    c = config.ladder
    points, per = [], []
    for s, k_s in enumerate(jax.random.split(k.seeds, c.seed_networks)):
        k_fit, k_ladder = jax.random.split(k_s)
        params, _ = train.fit_mlp(k_fit, network.x_train, network.y_train, c.fit)
        pred = train.predict(params, network.x_test)
        pts, _ = ladder(k_ladder, params, network.x_test, pred, c.seed_eps, c.pgd_steps, c.pgd_restarts, c.time_limit)
        pts.insert(0, "network", s)
        points.append(pts)
        for e, g in pts.groupby("eps"):
            exact = g["exact"] == "verified"
            per.append({"network": s, "eps": e, "accuracy": float((pred == network.y_test).mean()),
                        "IBP": g["ibp"].mean(), "CROWN": g["crown"].mean(), "exact (MILP)": exact.mean(),
                        "not falsified by PGD": (~g["pgd_falsified"]).mean(),
                        "PGD missed": int((~exact & ~g["pgd_falsified"]).sum()),
                        "order violations": int(((g["ibp"] | g["crown"]) & ~exact).sum() + (exact & g["pgd_falsified"]).sum())})
    per = pd.DataFrame(per)
    rows = []
    for e, g in per.groupby("eps"):
        for m in ("IBP", "CROWN", "exact (MILP)", "not falsified by PGD"):
            ci = stats.mean_ci(g[m].to_numpy(np.float64), method="t")
            rows.append({"eps": e, "method": m, "mean": float(ci.mean), "low": float(ci.low), "high": float(ci.high),
                         "min": float(g[m].min()), "max": float(g[m].max()), "networks": len(g)})
    return SeedLadder(pd.concat(points, ignore_index=True), per, pd.DataFrame(rows))


def compare_training(ordinary: Ladder, certified: Ladder) -> pd.DataFrame:
    """Fractions certified per (eps, method) for the ordinarily trained and the IBP-trained network."""
    a = ordinary.summary.pivot(index="eps", columns="method", values="fraction")
    b = certified.summary.pivot(index="eps", columns="method", values="fraction")
    cols = [m for m in ("IBP", "CROWN", "exact (MILP)") if m in a and m in b]
    return pd.concat({"ordinary training": a[cols], "IBP training": b[cols]}, axis=1)


def point_frame(network: Network) -> pd.DataFrame:
    """The test points with their predicted labels (columns x0, x1, label), to draw on the map."""
    return pd.DataFrame({"x0": network.x_test[:, 0], "x1": network.x_test[:, 1], "label": network.predicted})


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def ladder(key, params, x, labels, eps_grid, pgd_steps: int = 40, pgd_restarts: int = 4,
           time_limit: float = 30.0, exact: bool = True):
    """Robustness of (x, labels) in L-infinity balls of each radius, by every method.

    Returns (points, times): ``points`` has one row per (eps, point) with booleans ``ibp``,
    ``crown`` (pure CROWN), ``crown_ibp`` (CROWN ∩ IBP) (certified), the certified margin bounds
    ``ibp_bound`` and ``crown_bound``, ``pgd_falsified``, the exact status and the exact margin;
    ``times`` has the mean milliseconds per point for each method and eps (first calls compile
    outside the timing; the MILP also gets its median and maximum).
    """
    validate.prng_key("key", key)
    p = verify.check_params(params)
    x = validate.array("x", x, dtype=np.float32).astype(np.float64)
    labels = validate.indices("labels", labels, p[-1]["w"].shape[1], what=f"classes of {p[-1]['w'].shape[1]} outputs")
    if x.ndim != 2 or x.shape[1] != p[0]["w"].shape[0]:
        raise ValueError(f"x must have shape (n, {p[0]['w'].shape[0]}), got {x.shape}")
    if labels.shape != x.shape[:1]:
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    eps_grid = [validate.real(f"eps_grid[{i}]", e, low=0.0) for i, e in enumerate(np.atleast_1d(eps_grid).tolist())]
    pgd_steps = validate.integer("pgd_steps", pgd_steps, minimum=1)
    pgd_restarts = validate.integer("pgd_restarts", pgd_restarts, minimum=1)
    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    k = p[-1]["w"].shape[1]
    props = verify.robustness_properties(labels, k)
    # One key per radius and one for the warm-up (the radii's keys do not depend on the extra one).
    *eps_keys, k_warm = jax.random.split(key, len(eps_grid) + 1)
    # Warm up (compile) every batched function once at the real batch size.
    warm = verify.linf_ball(x, 0.0)
    for m in ("ibp", "crown", "crown_ibp"):
        verify.property_bounds(p, warm, props, m)
    verify.pgd_attack(k_warm, p, warm, props, pgd_steps, pgd_restarts)
    if exact:
        verify.exact_check(p, verify.Box(warm.lower[0], warm.upper[0]),
                           verify.Property(props.c[0], props.d[0], props.groups))
    rows, times = [], []
    for e, k_e in zip(eps_grid, eps_keys):
        box = verify.linf_ball(x, e)
        (ibp_lo, _), t_ibp = _timed(verify.property_bounds, p, box, props, "ibp")
        (crown_lo, _), t_crown = _timed(verify.property_bounds, p, box, props, "crown")
        (both_lo, _), t_both = _timed(verify.property_bounds, p, box, props, "crown_ibp")
        (_, pgd_m), t_pgd = _timed(verify.pgd_attack, k_e, p, box, props, pgd_steps, pgd_restarts)
        ibp_m = verify.certified_margin(ibp_lo, props.groups)
        crown_m = verify.certified_margin(crown_lo, props.groups)
        both_ok = verify.certified_margin(both_lo, props.groups) > 0
        statuses, margins, ex_times = [], [], []
        for i in range(len(x)):
            if not exact:
                statuses.append("not run")
                margins.append(None)
                continue
            # Every point goes to the solver (no skipping what CROWN certified), so the timing is
            # the solver's own and the ordering bound <= exact is a real check.
            r = verify.exact_check(p, verify.Box(box.lower[i], box.upper[i]),
                                   verify.Property(props.c[i], props.d[i], props.groups),
                                   time_limit=time_limit, skip_certified=False)
            statuses.append(r.status)
            margins.append(r.margin)
            ex_times.append(r.seconds)
        for i in range(len(x)):
            rows.append({"eps": e, "point": i, "ibp": bool(ibp_m[i] > 0), "crown": bool(crown_m[i] > 0),
                         "crown_ibp": bool(both_ok[i]), "ibp_bound": float(ibp_m[i]), "crown_bound": float(crown_m[i]),
                         "pgd_falsified": bool(pgd_m[i] <= 0), "exact": statuses[i], "exact_margin": margins[i]})
        n = len(x)
        # Every column is a mean per point: the batched methods' batch time / n, the MILP's total / n.
        times += [{"eps": e, "method": "IBP", "ms_per_point": 1e3 * t_ibp / n},
                  {"eps": e, "method": "CROWN", "ms_per_point": 1e3 * t_crown / n},
                  {"eps": e, "method": "CROWN ∩ IBP", "ms_per_point": 1e3 * t_both / n},
                  {"eps": e, "method": "PGD", "ms_per_point": 1e3 * t_pgd / n}]
        if ex_times:
            times.append({"eps": e, "method": "exact (MILP)", "ms_per_point": 1e3 * float(np.mean(ex_times)),
                          "ms_median": 1e3 * float(np.median(ex_times)), "ms_max": 1e3 * float(np.max(ex_times))})
    # <NA>: no exact margin (the solver did not run, proved without a number, or timed out); the
    # median and maximum are kept for the exact solver only
    return (stats.with_missing(rows, {"exact_margin": "Float64"}),
            stats.with_missing(times, {"ms_median": "Float64", "ms_max": "Float64"}))


def ladder_summary(points: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Fraction of points certified by IBP, CROWN, the exact method and not falsified by PGD, per eps,
    with Wilson intervals over the test points (long format: eps, method, fraction, low, high, n)."""
    validate.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    validate.instance("points", points, pd.DataFrame, "the points frame of ladder()")
    out = []
    for e, g in points.groupby("eps"):
        n = len(g)
        cols = {"IBP": g["ibp"], "CROWN": g["crown"], "CROWN ∩ IBP": g["crown_ibp"],
                "exact (MILP)": g["exact"] == "verified",
                "not falsified by PGD": ~g["pgd_falsified"]}
        for name, v in cols.items():
            if name == "exact (MILP)" and (g["exact"] == "not run").all():
                continue
            k = int(v.sum())
            lo, hi = stats.wilson(k, n, level=level)
            out.append({"eps": e, "method": name, "fraction": k / n, "low": float(lo), "high": float(hi), "n": n})
    return pd.DataFrame(out)


def ladder_checks(points: pd.DataFrame) -> dict:
    """The ladder's point-by-point checks: counts that soundness forces to zero, and two that luck does."""
    exact_ok = points["exact"] == "verified"
    bound_ok = points["ibp"] | points["crown"] | points["crown_ibp"]
    return {"certified by a bound method but not by the exact method": int((bound_ok & ~exact_ok).sum()),
            "certified exactly but falsified by PGD": int((exact_ok & points["pgd_falsified"]).sum()),
            "real counterexamples that PGD missed": int((~exact_ok & ~points["pgd_falsified"]).sum()),
            "points the MILP left undecided": int((~points["exact"].isin(["verified", "falsified"])).sum())}


def crown_vs_ibp(points: pd.DataFrame) -> pd.DataFrame:
    """Pure CROWN against IBP, point by point per eps: how often each certifies what the other does
    not, and how often each gives the tighter bound on the margin (a measurement, not a theorem)."""
    validate.instance("points", points, pd.DataFrame, "the points frame of ladder()")
    out = []
    for e, g in points.groupby("eps"):
        out.append({"eps": e, "points": len(g),
                    "CROWN certifies, IBP not": int((g["crown"] & ~g["ibp"]).sum()),
                    "IBP certifies, CROWN not": int((g["ibp"] & ~g["crown"]).sum()),
                    "CROWN's bound tighter": int((g["crown_bound"] > g["ibp_bound"]).sum()),
                    "IBP's bound tighter": int((g["ibp_bound"] > g["crown_bound"]).sum())})
    return pd.DataFrame(out)


def status_grid(key, params, eps, lower=(-2.0, -2.0), upper=(2.0, 2.0), resolution: int = 40,
                exact: bool = True, time_limit: float = 10.0) -> pd.DataFrame:
    """Robustness status of the predicted class at every point of a 2-D grid, for one eps.

    status: "certified by CROWN", "certified by exact only", "falsified by PGD", "falsified by exact
    only", or "unknown" (exact not run or timed out). Returns columns x0, x1, predicted, status.
    """
    validate.prng_key("key", key)
    p = verify.check_params(params)
    if p[0]["w"].shape[0] != 2:
        raise ValueError(f"params must be a network with 2 inputs, got {p[0]['w'].shape[0]}")
    resolution = validate.integer("resolution", resolution, minimum=2, maximum=70)
    eps = validate.real("eps", eps, low=0.0, dtype=np.float32)
    lower = validate.array("lower", lower, shape=(2,), dtype=np.float32)
    upper = validate.array("upper", upper, shape=(2,), dtype=np.float32)
    if np.any(lower >= upper):
        raise ValueError(f"lower must be < upper in both coordinates, got {tuple(lower)} and {tuple(upper)}")
    g0 = np.linspace(lower[0], upper[0], resolution)
    g1 = np.linspace(lower[1], upper[1], resolution)
    pts = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)
    pred = train.predict(params, pts)
    props = verify.robustness_properties(pred, p[-1]["w"].shape[1])
    box = verify.linf_ball(pts, eps)
    lo, _ = verify.property_bounds(p, box, props, "crown")
    crown_ok = verify.certified_margin(lo, props.groups) > 0
    _, pgd_m = verify.pgd_attack(key, p, box, props)
    status = np.where(crown_ok, "certified by CROWN", np.where(pgd_m <= 0, "falsified by PGD", "unknown")).astype(object)
    if exact:
        for i in np.flatnonzero(status == "unknown"):
            r = verify.exact_check(p, verify.Box(box.lower[i], box.upper[i]),
                                   verify.Property(props.c[i], props.d[i], props.groups), time_limit=time_limit)
            status[i] = STATUS_NAMES.get(r.status, "unknown")
    return pd.DataFrame({"x0": pts[:, 0], "x1": pts[:, 1], "predicted": pred, "status": status})


# --------------------------------------------------------------------------------------------- Demonstration 2

class Policy(NamedTuple):
    """The hazard-task policy: every observation, its optimal actions, the fitted network."""
    obs: np.ndarray          # (n, 4) float32: hazard (dx, dy), goal (dx, dy)
    optimal: np.ndarray      # (n, 4) bool, actions in datasets.ACTIONS order
    params: list             # 4-16-16-4 MLP
    losses: np.ndarray       # (steps,)
    action: np.ndarray       # (n,) the policy's action on each observation


def run_policy(key, config: Config = Config(), progress: bool | str = False) -> Policy:
    """Fit the policy by imitation: the target is uniform over the optimal actions of each observation."""
    config, k = _prepare(config), keys(key)
    obs, optimal = datasets.hazard_world(config.policy.radius)
    target = (optimal / optimal.sum(1, keepdims=True)).astype(np.float32)
    params, losses = train.fit_mlp(k.policy, obs, target, config.policy.fit, progress=progress)
    return Policy(obs, optimal, params, np.asarray(losses), train.predict(params, obs))


def adjacent(obs, action: int) -> np.ndarray:
    """(n,) bool: the observations whose hazard is one step away in the direction of ``action``."""
    action = validate.integer("action", action, minimum=0, maximum=len(datasets.MOVES) - 1)
    obs = validate.array("obs", obs, ndim=2, allow_empty=True)
    return np.all(np.asarray(obs)[:, :2] == datasets.MOVES[action], axis=1)


def optimal_fraction(policy: Policy) -> float:
    """Share of observations where the policy's action is one of the optimal ones."""
    return float(policy.optimal[np.arange(len(policy.obs)), policy.action].mean())


def hazard_table(policy: Policy) -> pd.DataFrame:
    """Per hazard direction: the observations with the hazard adjacent there, and how often the
    policy steps into it."""
    rows = []
    for a, name in enumerate(datasets.ACTIONS):
        near = adjacent(policy.obs, a)
        rows.append({"hazard": name, "observations": int(near.sum()), "steps into it": int((policy.action[near] == a).sum())})
    return pd.DataFrame(rows)


def whole_box_checks(policy: Policy, config: Config = Config()) -> pd.DataFrame:
    """"Never steps into an adjacent hazard, for every goal offset in [-r, r]^2", one MILP per
    direction, with the counterexample's goal offset (rounded to 0.1) when there is one."""
    config = _prepare(config)
    r = float(config.policy.radius)
    rows = []
    for a, move in enumerate(datasets.MOVES):
        box = verify.Box(np.r_[move, -r, -r], np.r_[move, r, r])
        res = verify.verify(policy.params, box, verify.argmax_not(a, 4), method="milp",
                            time_limit=config.policy.time_limit)
        goal = None if res.counterexample is None else tuple(np.round(res.counterexample[2:], 1) + 0.0)
        rows.append({"hazard": datasets.ACTIONS[a], "never steps into it": res.status,
                     "counterexample goal offset": goal})
    return pd.DataFrame(rows)


class Noise(NamedTuple):
    table: pd.DataFrame      # (δ, hazard, verified, falsified, unknown)
    results: dict            # (δ, hazard name) -> verify_many's frame, one row per observation
    observations: dict       # hazard name -> (n, 4) the observations with that hazard adjacent


def run_noise(key, policy: Policy, config: Config = Config()) -> Noise:
    """"Never steps into the adjacent hazard" for every input within δ of each real observation with
    an adjacent hazard (one box per observation), cheapest method first."""
    config, k = _prepare(config), keys(key)
    pairs = [(delta, a) for delta in config.policy.deltas for a in range(len(datasets.ACTIONS))]
    rows, results = [], {}
    observations = {name: policy.obs[adjacent(policy.obs, a)] for a, name in enumerate(datasets.ACTIONS)}
    for (delta, a), k_check in zip(pairs, jax.random.split(k.noise, len(pairs))):
        name = datasets.ACTIONS[a]
        res = verify.verify_many(policy.params, verify.linf_ball(observations[name], delta), verify.argmax_not(a, 4),
                                 key=k_check, time_limit=config.policy.time_limit)
        results[(delta, name)] = res
        rows.append({"δ": delta, "hazard": name, **{s: int((res["status"] == s).sum()) for s in verify.STATUSES}})
    return Noise(pd.DataFrame(rows), results, observations)


def run_activations(key, policy: Policy, config: Config = Config(), hazard: str = "right", delta: float = 0.25,
                    layer: int = 2) -> pd.DataFrame:
    """A proposition about activations, asked of z3: for every input within ``delta`` of the first real
    observation with the hazard on the ``hazard`` side, does each unit of hidden ``layer`` stay off
    (post-activation <= 0)? One exact-rational query per unit: unit, status, witness activation."""
    config = _prepare(config)
    obs = policy.obs[adjacent(policy.obs, datasets.ACTIONS.index(hazard))][0]
    box = verify.linf_ball(obs, delta)
    rows = []
    for u in range(policy.params[layer - 1]["w"].shape[1]):
        r = verify.activation_query(policy.params, box, layer, u, time_limit=config.policy.time_limit)
        rows.append({"unit": u, "never fires": r.status,
                     "activation at the witness": None if r.margin is None else -r.margin})
    return stats.with_missing(rows, {"activation at the witness": "Float64"})   # <NA>: no witness


class ClosedLoop(NamedTuple):
    outcome: np.ndarray      # (n,) "reached", "entered the hazard" or "timed out", one per start
    steps: np.ndarray        # (n,) steps taken (to the goal, the hazard or the horizon)
    shortest: np.ndarray     # (n,) the shortest hazard-free path length from the start
    table: pd.DataFrame      # outcome counts, and how many reached the goal by a shortest path


def run_closed_loop(policy: Policy, horizon: int = 20) -> ClosedLoop:
    """Reach-avoid in closed loop, over the finite family of every start of the hazard task: run the
    policy step by step (each step moves the agent, so both offsets shift by minus the move) until it
    reaches the goal, enters the hazard, or ``horizon`` steps pass. A complete check by enumeration
    (black-box: it only queries the policy), for these finitely many grids and starts."""
    validate.instance("policy", policy, Policy, "a verification.Policy (from run_policy)")
    horizon = validate.integer("horizon", horizon, minimum=1)
    obs = policy.obs.astype(np.float64).copy()
    n = len(obs)
    shortest = datasets.shortest_path_length(np.zeros((n, 2)), obs[:, :2], obs[:, 2:])
    outcome = np.full(n, "timed out", dtype=object)
    steps = np.full(n, horizon)
    live = np.ones(n, bool)
    for t in range(1, horizon + 1):
        idx = np.flatnonzero(live)
        if not len(idx):
            break
        move = datasets.MOVES[train.predict(policy.params, obs[idx])]
        obs[idx, :2] -= move
        obs[idx, 2:] -= move
        hit = np.all(obs[idx, :2] == 0, axis=1)
        done = np.all(obs[idx, 2:] == 0, axis=1)
        for mask, name in ((hit, "entered the hazard"), (done & ~hit, "reached")):
            outcome[idx[mask]], steps[idx[mask]] = name, t
        live[idx[hit | done]] = False
    table = pd.DataFrame([{"starts": n, **{k: int((outcome == k).sum()) for k in ("reached", "entered the hazard", "timed out")},
                           "reached by a shortest path": int(((outcome == "reached") & (steps == shortest)).sum())}])
    return ClosedLoop(outcome, steps, shortest, table)


def possible_actions(key, params, states, delta: float, time_limit: float = 30.0) -> np.ndarray:
    """(n, 4) bool: whether each action is the argmax for *some* observation within ``delta`` of each state
    (n, 4). Per action, "argmax is never a" is checked cheapest first; only a proof rules an action out,
    so an undecided check counts as possible (a sound over-approximation)."""
    box = verify.linf_ball(states, delta)
    out = np.ones((len(states), len(datasets.ACTIONS)), bool)
    for a, k in zip(range(len(datasets.ACTIONS)), jax.random.split(key, len(datasets.ACTIONS))):
        res = verify.verify_many(params, box, verify.argmax_not(a, len(datasets.ACTIONS)), key=k, time_limit=time_limit)
        out[:, a] = res["status"].to_numpy() != "verified"
    return out


def run_closed_loop_noise(key, policy: Policy, config: Config = Config(), delta: float = 0.1,
                          horizon: int = 12) -> pd.DataFrame:
    """Closed-loop reach-avoid with every observation perturbed by up to ``delta`` at every step: the set
    of states reachable from each start when the noise may pick any action it can provably cause (and any
    it cannot rule out). Per start: whether the hazard can be entered within ``horizon`` steps, and
    whether the goal is reached within ``horizon`` steps whatever the noise does."""
    config, k = _prepare(config), keys(key)
    delta = validate.real("delta", delta, low=0.0)
    horizon = validate.integer("horizon", horizon, minimum=1)
    acts, frontier = {}, {tuple(s) for s in policy.obs.astype(int)}
    step_keys = jax.random.split(k.closed_loop, horizon)
    for t in range(horizon):
        new = sorted(s for s in frontier if s not in acts)
        if new:
            for s, a in zip(new, possible_actions(step_keys[t], policy.params, np.array(new, np.float64), delta,
                                                  config.policy.time_limit)):
                acts[s] = a
        nxt = set()
        for s in frontier:
            for a in np.flatnonzero(acts[s]):
                n = _step(s, a)
                if n not in ("hazard", "goal"):
                    nxt.add(n)
        frontier = nxt
    # Backward over the horizon: can the hazard be entered within h steps; is the goal sure within h steps?
    can_fail = {s: False for s in acts}
    sure_goal = {s: False for s in acts}
    for _ in range(horizon):
        fail, goal = {}, {}
        for s, a in acts.items():
            nexts = [_step(s, i) for i in np.flatnonzero(a)]
            fail[s] = any(n == "hazard" or (n != "goal" and can_fail.get(n, False)) for n in nexts)
            goal[s] = all(n == "goal" or (n != "hazard" and sure_goal.get(n, False)) for n in nexts)
        can_fail, sure_goal = fail, goal
    starts = [tuple(s) for s in policy.obs.astype(int)]
    return pd.DataFrame([{"δ": delta, "starts": len(starts), "states reached": len(acts),
                          "can enter the hazard": sum(can_fail[s] for s in starts),
                          "goal sure within horizon": sum(sure_goal[s] for s in starts), "horizon": horizon}])


def _step(state, action):
    """The next state (hazard dx, dy, goal dx, dy) after ``action``, or "hazard" / "goal" if it ends there."""
    m = datasets.MOVES[action]
    n = (state[0] - int(m[0]), state[1] - int(m[1]), state[2] - int(m[0]), state[3] - int(m[1]))
    if n[0] == 0 and n[1] == 0:
        return "hazard"
    if n[2] == 0 and n[3] == 0:
        return "goal"
    return n


def counterexample(policy: Policy, noise: Noise, delta: float, hazard: str = "right"):
    """The first counterexample of the noise check (δ, hazard): (real observation, counterexample,
    the action there), or None if that check found none."""
    res = noise.results[(delta, hazard)]
    found = np.flatnonzero(res["status"] == "falsified")
    if not len(found):
        return None
    i = int(found[0])
    cex = res["counterexample"].iloc[i]
    return noise.observations[hazard][i], cex, datasets.ACTIONS[int(train.predict(policy.params, cex[None])[0])]


# --------------------------------------------------------------------------------------------- Demonstration 3

def run_candidates(key, policy: Policy, config: Config = Config()) -> pd.DataFrame:
    """Candidates 2-4 of Demonstration 3, stated as properties and decided: invariance to a hazard
    behind the agent, goal-directedness in a region, and a linear probe of the goal's x-offset."""
    config, k = _prepare(config), keys(key)
    c = config.policy
    k_invariance, k_region, k_probe = jax.random.split(k.candidates, 3)
    up, right = datasets.ACTIONS.index("up"), datasets.ACTIONS.index("right")
    checks = []
    box = verify.Box(np.array([-3.0, -3.0, 2.0, 1.0]), np.array([-1.0, 3.0, 2.0, 1.0]))
    a_star = int(train.predict(policy.params, ((box.lower + box.upper) / 2)[None])[0])
    r = verify.verify(policy.params, box, verify.argmax_is(a_star, 4), "complete", key=k_invariance)
    checks.append({"candidate": f"2. action is always '{datasets.ACTIONS[a_star]}' (hazard behind)", "result": r.status})
    box = verify.Box(np.array([-3.0, -3.0, 1.0, 1.0]), np.array([-1.0, 3.0, 3.0, 3.0]))
    r = verify.verify(policy.params, box, verify.argmax_in([up, right], 4), "complete", key=k_region)
    checks.append({"candidate": "3. action is up or right (goal up-right, hazard behind)", "result": r.status})
    probe, r2 = probes.layer_probe(policy.params, c.probe_layer, policy.obs, policy.obs[:, 2])
    near = policy.obs[adjacent(policy.obs, right)]
    g, tol = near[:, 2], c.probe_tolerance
    tracks = verify.Property(np.broadcast_to([[1.0], [-1.0]], (len(g), 2, 1)), np.stack([tol - g, g + tol], 1), (0, 1))
    res = verify.verify_many(probe, verify.linf_ball(near, c.probe_delta), tracks, key=k_probe, time_limit=c.time_limit)
    checks.append({"candidate": f"4. probe (R² = {r2:.2f}) reads g_x within {tol:g}",
                   "result": f"verified in {(res['status'] == 'verified').sum()} of {len(res)} boxes"})
    at_zero = np.abs(np.asarray(nn.mlp_apply(probe, near))[:, 0] - g) <= tol   # the baseline: δ = 0
    checks.append({"candidate": "4'. the same probe at the observations themselves (δ = 0)",
                   "result": f"within {tol:g} at {int(at_zero.sum())} of {len(near)} observations"})
    return pd.DataFrame(checks)


def run_probe_synthesis(key, policy: Policy, config: Config = Config()) -> verify.Synthesis:
    """Candidate 4 with its "exists" kept: is there *any* linear probe of ``probe_layer`` that reads the
    goal's x-offset within ``probe_tolerance`` for every input within ``probe_delta`` of each observation
    with the hazard to the right? Decided by the counterexample-guided loop of ``verify.cegis_probe``."""
    config, k = _prepare(config), keys(key)
    c = config.policy
    near = policy.obs[adjacent(policy.obs, datasets.ACTIONS.index("right"))]
    return verify.cegis_probe(k.synthesis, policy.params, c.probe_layer, verify.linf_ball(near, c.probe_delta),
                              near[:, 2], c.probe_tolerance, max_rounds=c.synthesis_rounds, time_limit=c.time_limit)
