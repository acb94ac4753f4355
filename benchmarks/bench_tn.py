"""Benchmark: tensor-network NESS (qness.tn) of the boundary-driven XX chain with bulk dephasing.

Model: ``qness.models.boundary_driven_xxz(n, delta=0, gamma=1, mu=0.5, J=1,
dephasing=0.5)`` given to the solver as its local terms (ChainTerms). The
spin current has a closed form at every length (see
``tests/test_tn.py::xx_dephasing_current``, checked there against the exact
solver), so the error of the tensor-network current is exact. Each size runs
in its own subprocess so that its peak resident memory (``ru_maxrss``) is its
own. Exact solvers (qness or QuTiP) cannot hold these sizes (``4**20``
unknowns at 20 sites), so there is no side-by-side run.

Usage::

    PYTHONPATH=$PWD python benchmarks/bench_tn.py [--sizes 20 50] [--tol 1e-3] [--max-bond 128]
        [--time-limit 3600] [--initial product|gaussian] [--symmetry on|off]

``--initial gaussian`` starts from the Gaussian state with the exact two-point
function (``qness.tn.steady_state(..., initial="gaussian")``; for this model
its current is already the closed form, so the error column then measures how
far TEBD moves it, not how well it finds it). ``--symmetry off`` runs without
the U(1) charges (``symmetry=False``; the default uses them: the model
conserves the magnetisation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def _terms(n, *, gamma, mu, J, dephasing):
    from qness import operators as ops
    from qness.terms import ChainTerms

    sx, sy, sz = (o().toarray() for o in (ops.sigmax, ops.sigmay, ops.sigmaz))
    sp_, sm_ = ops.sigmap().toarray(), ops.sigmam().toarray()
    H = [((i, i + 1), (a, a), J) for i in range(n - 1) for a in (sx, sy)]
    jumps = [
        ((0,), (sp_,), gamma * (1 + mu) / 2),
        ((0,), (sm_,), gamma * (1 - mu) / 2),
        ((n - 1,), (sm_,), gamma * (1 + mu) / 2),
        ((n - 1,), (sp_,), gamma * (1 - mu) / 2),
    ]
    jumps += [((i,), (sz,), dephasing) for i in range(n)]
    return ChainTerms.create([2] * n, H, jumps)


def closed_form(n, *, gamma, mu, J, dephasing):
    return 2 * mu / (2 / gamma + gamma / (8 * J**2) + (n - 1) * dephasing / (2 * J**2))


PARAMS = dict(gamma=1.0, mu=0.5, J=1.0, dephasing=0.5)


def run_one(n, tol, max_bond, time_limit, initial="product", symmetry=True):
    import resource
    import warnings

    import numpy as np

    import qness.tn as tn
    from qness import operators as ops

    terms = _terms(n, **PARAMS)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = tn.steady_state(
            terms,
            tol=tol,
            max_bond=max_bond,
            time_limit=time_limit,
            initial=None if initial == "product" else initial,
            symmetry=symmetry,
        )
    wall = time.perf_counter() - t0
    j = res.bond_currents(ops.sigmaz().toarray())
    exact = closed_form(n, **PARAMS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    return {
        "n": n,
        "time": wall,
        "peak_mib": peak,
        "max_bond": res.info["max_bond"],
        "residual": res.residual,
        "converged": res.converged,
        "capped": res.info["capped"],
        "time_limited": res.info["time_limited"],
        "richardson": res.info["richardson"],
        "symmetry": res.info["symmetry"],
        "dts": [round(s["dt"], 4) for s in res.info["dt_schedule"]],
        "evolution_time": sum(s["time"] for s in res.info["dt_schedule"]),
        "discarded": res.info["discarded_weight"],
        "current": float(np.mean(j)),
        "current_spread": float(np.max(j) - np.min(j)),
        "exact": exact,
        "rel_error": float(abs(np.mean(j) / exact - 1)),
        "warnings": [str(w.message) for w in caught],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--max-bond", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=3600.0)
    ap.add_argument("--initial", choices=["product", "gaussian"], default="product")
    ap.add_argument("--symmetry", choices=["on", "off"], default="on")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        sym = args.symmetry == "on"
        print(json.dumps(run_one(args.one, args.tol, args.max_bond, args.time_limit, args.initial, sym)))
        return
    print(f"# {platform.node()} python {platform.python_version()}, load average {os.getloadavg()}")
    print(
        f"# OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, tol={args.tol}, initial={args.initial}, "
        f"symmetry={args.symmetry}, params {PARAMS}"
    )
    print(
        "| n | time (s) | peak RSS (MiB) | max bond | residual | converged | dt stages | evolution time "
        "| discarded weight | current | exact | rel. error | spread over bonds | load before/after |"
    )
    print("|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    for n in args.sizes:
        load0 = os.getloadavg()[0]
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--tol",
            str(args.tol),
            "--max-bond",
            str(args.max_bond),
        ]
        cmd += ["--time-limit", str(args.time_limit), "--initial", args.initial, "--symmetry", args.symmetry]
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if out.returncode:
            print(f"| {n} | error: {out.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        conv = (
            "yes"
            if r["converged"]
            else ("capped" if r["capped"] else "time limit" if r["time_limited"] else "no")
        )
        print(
            f"| {n} | {r['time']:.1f} | {r['peak_mib']:.0f} | {r['max_bond']} | {r['residual']:.2e} | {conv} "
            f"| {', '.join(map(str, r['dts']))}{' (Richardson)' if r['richardson'] else ''} "
            f"| {r['evolution_time']:.0f} | {r['discarded']:.1e} | {r['current']:.6f} | {r['exact']:.6f} "
            f"| {r['rel_error']:.1e} | {r['current_spread']:.1e} | {load0:.1f} / {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
        for w in r["warnings"]:
            print(f"#   n={n} warning: {w}")


if __name__ == "__main__":
    main()
