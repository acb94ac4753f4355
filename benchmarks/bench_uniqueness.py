"""Cost of the uniqueness checks, the dark-state examples of issue 12, asymptotic_state vs Evolve.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_uniqueness.py`` (``--sizes 8 9 10`` for the
XXZ rows, ``--evolve`` to also time Evolve on the weakly damped oscillator, about a minute).

1. Check cost on unique models: the check's own time (``info["uniqueness"]["time"]``) against the
   whole solve's (``info["time"]``) in the same call; for Krylov also the solve with
   ``verify_unique=False``, interleaved with the checked one, best of ``--repeat``.
2. The non-unique examples of issue 12 (dark singlet; two cavities with a dark mode at cutoffs 6
   and 12): route and time until ``NonUniqueSteadyStateError``.
3. ``asymptotic_state`` from a given state on a 4-level weakly damped driven oscillator
   (gap 5e-5) against ``Evolve`` (which needs t ~ 1/gap).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import qutip

import qness

sys.path.insert(0, str(Path(__file__).parent))
from corpus import DARK  # noqa: E402


def dark_singlet():
    return qness.from_qutip(*DARK["dark_singlet"]())


def dark_cavities(cutoff):
    return qness.from_qutip(*DARK["dark_cavities"](cutoff))


def check_cost(sizes, repeat):
    print("\n## Check cost on unique models\n")
    print("| model | method | unknowns | solve with check (s) | check (s) | share | without check (s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = [(f"xxz {n}", qness.models.boundary_driven_xxz(n, delta=0.5), "krylov") for n in sizes]
    rows += [
        ("xxz 7", qness.models.boundary_driven_xxz(7, delta=0.5), "direct"),
        ("kerr 100", qness.models.kerr(100, detuning=-1.0, U=0.1, F=1.0, kappa=1.0), "direct"),
        ("kerr 200", qness.models.kerr(200, detuning=-1.0, U=0.1, F=1.0, kappa=1.0), "direct"),
        ("kerr 30", qness.models.kerr(30, detuning=-1.0, U=0.1, F=1.0, kappa=1.0), "dense"),
    ]
    for name, m, method in rows:
        best, best_off, check = np.inf, np.inf, np.nan
        for _ in range(repeat):
            r = qness.steady_state(m, method)
            if r.info["time"] < best:
                best, check = r.info["time"], r.info["uniqueness"]["time"]
            if method == "krylov":
                t = time.perf_counter()
                qness.steady_state(m, qness.Krylov(verify_unique=False))
                best_off = min(best_off, time.perf_counter() - t)
        off = f"{best_off:.2f}" if np.isfinite(best_off) else "-"
        n = r.info["sector"]["size"]
        print(
            f"| {name} | {r.info['method']} | {n} | {best:.3f} | {check:.3f} | {check / best:.0%} | {off} |"
        )


def dark_examples():
    print("\n## Non-unique examples (must raise NonUniqueSteadyStateError)\n")
    print("| model | method | unknowns | outcome | time (s) |")
    print("|---|---|---:|---|---:|")
    for name, m, methods in [
        ("two qubits, dark singlet", dark_singlet(), [None, "dense", "direct", "krylov"]),
        ("two cavities, cutoff 6", dark_cavities(6), [None, "dense", "direct", "krylov"]),
        ("two cavities, cutoff 12", dark_cavities(12), [None, "krylov", "direct"]),
    ]:
        for method in methods:
            t = time.perf_counter()
            try:
                qness.steady_state(m, method)
                outcome = "returned a state (WRONG)"
            except qness.NonUniqueSteadyStateError:
                outcome = "NonUniqueSteadyStateError"
            print(f"| {name} | {method or 'auto'} | {m.dim**2} | {outcome} | {time.perf_counter() - t:.2f} |")


def asymptotic_vs_evolve(evolve):
    print("\n## asymptotic_state vs Evolve (4-level oscillator, gap 5e-5)\n")
    a = qutip.destroy(4)
    m = qness.from_qutip(a.dag() * a + 0.1 * (a + a.dag()), [np.sqrt(1e-4) * a])
    rho0 = np.eye(4) / 4
    t = time.perf_counter()
    r = qness.asymptotic_state(m, rho0)
    ta = time.perf_counter() - t
    exact = qness.steady_state(m, "direct").rho
    print(f"asymptotic_state: {ta:.3f} s, max |rho - rho_direct| = {np.max(np.abs(r.rho - exact)):.1e}")
    sm = dark_singlet()
    eg = qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 1))
    t = time.perf_counter()
    r2 = qness.asymptotic_state(sm, eg)
    print(
        f"asymptotic_state, dark singlet from |e,g>: {time.perf_counter() - t:.3f} s, kernel {r2.info['kernel_dim']}"
    )
    if evolve:
        import warnings

        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e = qness.steady_state(m, qness.Evolve(rho0=rho0, atol=1e-10))
        te = time.perf_counter() - t
        print(
            f"Evolve(atol=1e-10): {te:.1f} s (t_final {e.info['t_final']:.3g}), {te / ta:.0f}x asymptotic_state"
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[8, 9, 10])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--evolve", action="store_true")
    args = ap.parse_args()
    check_cost(args.sizes, args.repeat)
    dark_examples()
    asymptotic_vs_evolve(args.evolve)


if __name__ == "__main__":
    main()
