"""Verification of small ReLU networks: bounds that prove, solvers that decide, attacks that refute.

The package, from the question to the answer:

* :mod:`~mesalib.verify.spec` — the question: input sets (:class:`Box`, :func:`linf_ball`),
  properties (:class:`Property`, :func:`argmax_is`, :func:`argmax_in`, :func:`argmax_not`,
  :func:`robustness_properties`), margins, and the input checks every entry point runs;
* :mod:`~mesalib.verify.bounds` — IBP (Gowal et al. 2018), CROWN (Zhang et al. 2018) and their
  intersection as pure JAX kernels that jit and vmap: sound, incomplete (verified or unknown);
* :mod:`~mesalib.verify.attack` — PGD (Madry et al. 2018), a falsifier (falsified or unknown);
* :mod:`~mesalib.verify.certified` — IBP training (Gowal et al. 2018): networks trained to be certifiable;
* :mod:`~mesalib.verify.synthesis` — "some linear probe works for every input", decided by a
  counterexample-guided loop (an LP for the probe, the verifier for the counterexamples);
* :mod:`~mesalib.verify.exact` — complete checks by MILP (HiGHS through SciPy; Tjeng et al. 2019)
  or SMT (z3; the Reluplex family, Katz et al. 2017).

:func:`verify` (one box) and :func:`verify_many` (a batch of boxes) put them behind one
interface returning verified / falsified (with a counterexample) / unknown, as a :class:`Result`.
Soundness is a statement about exact arithmetic. Bounds are computed in float32 with JAX (round to
nearest, no outward rounding); the exact check works in float64 with the solver's tolerances and
widens the float32 bounds by a relative 1e-4, a margin that covers rounding on networks of this
size but is not a proof (the z3 check works in exact rationals on the float64 weights).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from mesalib import validate
from mesalib.verify.attack import pgd_attack, pgd_batch
from mesalib.verify.bounds import (KERNELS, crown, crown_batch, crown_bounds, crown_ibp, crown_ibp_batch, ibp,
                                   ibp_batch, interval_bounds, property_bounds, relu_relaxation)
from mesalib.verify.certified import IBPFitConfig, fit_ibp, worst_case_logits
from mesalib.verify.synthesis import Synthesis, cegis_probe, minimax_probe
from mesalib.verify.exact import activation_query, exact_check, milp_with_bounds
from mesalib.verify.spec import (METHODS, STATUSES, Box, Property, Result, argmax_in, argmax_is, argmax_not,
                                 broadcast, certified_margin, check_box, check_params, check_problem,
                                 check_property, forward, linf_ball, property_margin, robustness_properties)

__all__ = [
    "Box", "Property", "Result", "STATUSES", "METHODS",
    "verify", "verify_many", "check_params", "check_box", "check_property", "check_problem",
    "linf_ball", "argmax_in", "argmax_is", "argmax_not", "robustness_properties", "broadcast",
    "property_margin", "certified_margin", "forward",
    "ibp", "crown", "crown_ibp", "relu_relaxation", "ibp_batch", "crown_batch", "crown_ibp_batch", "KERNELS",
    "interval_bounds", "crown_bounds", "property_bounds",
    "pgd_attack", "pgd_batch", "exact_check", "milp_with_bounds", "activation_query",
    "IBPFitConfig", "fit_ibp", "worst_case_logits", "Synthesis", "cegis_probe", "minimax_probe",
]


def verify(params, box: Box, prop: Property, method: str = "complete", key=None, **options) -> Result:
    """One interface: is ``prop`` true for every input in ``box``?

    method: "ibp", "crown" or "crown_ibp" (CROWN ∩ IBP) (sound, incomplete: verified or unknown),
    "pgd" (a falsifier: falsified or unknown; needs ``key``), "milp" or "z3" (complete up to a time
    limit), "complete" (CROWN ∩ IBP, then PGD if a key is given, then MILP: the usual cheap-first
    pipeline). ``options``: ``steps``
    and ``restarts`` for PGD, ``time_limit`` (seconds) for the exact check.
    """
    validate.choice("method", method, set(METHODS))
    unknown = sorted(set(options) - {"steps", "restarts", "time_limit"})
    if unknown:
        raise ValueError(f"options must be among steps, restarts, time_limit; got {unknown}")
    p, box, prop = check_problem(params, box, prop, batched=False)
    if method == "pgd" and key is None:
        raise ValueError("key is required for method='pgd' (e.g. key=jax.random.key(0))")
    if key is not None:
        validate.prng_key("key", key)
    time_limit = validate.real("time_limit", options.get("time_limit", 30.0), low=0.0, low_open=True)
    t0 = time.perf_counter()
    if method in ("ibp", "crown", "crown_ibp", "complete"):
        lo, _ = property_bounds(p, box, prop, "crown_ibp" if method == "complete" else method)
        m = float(certified_margin(lo, prop.groups))
        if m > 0:
            return Result("verified", method, m, None, time.perf_counter() - t0)
        if method != "complete":
            return Result("unknown", method, m, None, time.perf_counter() - t0)
    if method in ("pgd", "complete") and key is not None:
        x, m = pgd_attack(key, p, box, prop, **{k: v for k, v in options.items() if k in ("steps", "restarts")})
        if m <= 0:
            return Result("falsified", method, m, x, time.perf_counter() - t0)
        if method == "pgd":
            return Result("unknown", method, None, None, time.perf_counter() - t0)
    solver = "milp" if method == "complete" else method
    r = exact_check(p, box, prop, solver=solver, time_limit=time_limit)
    return r._replace(method=method, seconds=time.perf_counter() - t0)


def verify_many(params, boxes: Box, props: Property, method: str = "complete", key=None,
                time_limit: float = 30.0) -> pd.DataFrame:
    """Check one property per box: boxes.lower: (n, d); props batched (n, m, out) or shared (m, out).

    Cheap first: batched CROWN ∩ IBP for all boxes, batched PGD (when ``key`` is given) for the rest, then
    the exact check where neither decided (method "complete"). method "crown" stops after the
    bounds. Returns one row per box: status, decided_by, margin and the counterexample (or None).
    """
    validate.choice("method", method, {"crown", "complete"})
    if key is not None:
        validate.prng_key("key", key)
    time_limit = validate.real("time_limit", time_limit, low=0.0, low_open=True)
    p = check_params(params)
    boxes = check_box(boxes, p[0]["w"].shape[0], batched=True, name="boxes")
    n = boxes.lower.shape[0]
    if isinstance(props, Property) and np.ndim(props.c) == 2:
        props = broadcast(check_property(props, p[-1]["w"].shape[1], name="props"), n)
    props = check_property(props, p[-1]["w"].shape[1], batched=True, name="props")
    if props.c.shape[0] != n:
        raise ValueError(f"props has batch {props.c.shape[0]} but boxes has batch {n}")
    lo, _ = property_bounds(p, boxes, props, "crown_ibp")
    margin = certified_margin(lo, props.groups)
    status = np.where(margin > 0, "verified", "unknown").astype(object)
    decided = np.where(margin > 0, "CROWN ∩ IBP", "").astype(object)
    cex = [None] * n
    margin = [float(m) if m > 0 else None for m in np.asarray(margin)]   # None: no margin known
    if method == "complete" and key is not None and (status == "unknown").any():
        xs, pm = pgd_attack(key, p, boxes, props)
        for i in np.flatnonzero((status == "unknown") & (pm <= 0)):
            status[i], decided[i], margin[i], cex[i] = "falsified", "PGD", pm[i], xs[i]
    if method == "complete":
        for i in np.flatnonzero(status == "unknown"):
            r = exact_check(p, Box(boxes.lower[i], boxes.upper[i]), Property(props.c[i], props.d[i], props.groups),
                            time_limit=time_limit)
            status[i], decided[i], margin[i], cex[i] = r.status, "MILP", r.margin, r.counterexample
    return pd.DataFrame({"status": status, "decided_by": decided, "margin": pd.array(margin, dtype="Float64"),
                         "counterexample": cex})
