"""Limit cycles of periodic drives: qness.floquet_steady_state against qutip.steadystate_fourier.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_floquet.py`` from the
repository root (``--ising 4 6 8`` for the chain sizes, ``--cutoffs 20 40`` for the oscillator,
``--qutip-timeout 600`` to stop a QuTiP case).

Each case runs once in a fresh process (wall time of the call, peak resident memory above the
setup's). QuTiP's ``steadystate_fourier`` returns the period average only and is given the
truncation ``n_it`` qness chose automatically (tol 1e-10 on the outermost harmonic norm).
The two period-averaged states are compared entrywise (max |diff|); for the oscillator also
against the exact period average ``<n> = |A|^2 + |B|^2``.

``--gap 4 5 8``: the Floquet gap (slowest decay rate of the one-period propagator) of the Ising
chain by ``qness.floquet_spectrum``: the Arnoldi route (``k = 4``, certified; integration
rtol = atol = 1e-10) at every size, the dense route where ``d <= 32``, and the eigenvalues of
QuTiP's one-period ``qutip.propagator`` (dense ``d^2 x d^2``) where ``d <= --qutip-max-gap-dim``.

QuTiP is not run where its dense ``d^2 x d^2`` matrices (``L_0``, ``L_+-``, ``S``, ``T``, one
solve each) would not fit in memory: the estimate (6 such matrices, complex128) is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import measure  # noqa: E402

OSC = """
import numpy as np, qutip, qness
nc = {nc}
a = qutip.destroy(nc)
H0 = 1.0 * a.dag() * a
c = [np.sqrt(0.4) * a]
drive = 0.3 * (a + a.dag())
wd = 0.7
"""

ISING = """
import numpy as np, qutip, qness
n = {n}
def op(o, i):
    l = [qutip.qeye(2)] * n
    l[i] = o
    return qutip.tensor(l)
sz, sx, sm = qutip.sigmaz(), qutip.sigmax(), qutip.sigmam()
H0 = sum(0.5 * op(sz, i) for i in range(n)) + sum(0.5 * op(sz, i) * op(sz, i + 1) for i in range(n - 1))
drive = sum(0.2 * op(sx, i) for i in range(n))
c = [np.sqrt(0.3) * op(sm, i) for i in range(n)]
wd = 1.7
"""

QNESS_RUN = """
r = qness.floquet_steady_state((H0, c), drive, wd, tol=1e-10)
np.save({path!r}, r.average)
extra = {{"N": r.info["harmonics"], "method": r.info["method"], "iterations": r.info["iterations"],
         "time_residual": r.time_residual, "tried": r.info["tried"]}}
"""

QUTIP_RUN = """
rq = qutip.steadystate_fourier(H0, c, drive, wd, n_it={N})
np.save({path!r}, rq.full())
"""


def row(name, setup, d, qutip_ok, exact_n=None, qutip_timeout=600.0):
    tmp = tempfile.mkdtemp()
    pq, pu = os.path.join(tmp, "qness.npy"), os.path.join(tmp, "qutip.npy")
    rq = measure(setup, QNESS_RUN.format(path=pq))
    if "error" in rq:
        print(f"| {name} | {d} | qness error: {rq['error']} |")
        return
    ex = rq["extra"]
    rho = np.load(pq)
    cells = [name, str(d), str(ex["N"]), ex["method"], str(ex["iterations"]), f"{rq['time']:.2f}"]
    cells.append(f"{rq['peak_mib']:.0f}")
    cells.append(f"{ex['time_residual']:.1e}")
    if qutip_ok:
        ru = measure(setup, QUTIP_RUN.format(N=ex["N"], path=pu), timeout=qutip_timeout)
        if "error" in ru:
            cells += [f"error: {ru['error']}", "-", "-"]
        else:
            rho_q = np.load(pu)
            cells += [f"{ru['time']:.2f}", f"{ru['peak_mib']:.0f}", f"{np.max(np.abs(rho - rho_q)):.1e}"]
    else:
        need = 6 * (d * d) ** 2 * 16 / 2**30
        cells += [f"not run (dense d^2 x d^2: ~{need:.0f} GiB)", "-", "-"]
    if exact_n is not None:
        nc = d
        n_op = np.diag(np.arange(nc))
        cells.append(f"{abs(np.trace(n_op @ rho).real - exact_n):.1e}")
    else:
        cells.append("-")
    print("| " + " | ".join(cells) + " |", flush=True)


GAP_ARNOLDI = """
r = qness.floquet_spectrum((H0, c), drive, wd, method="arnoldi", k=4, rtol=1e-10, atol=1e-10)
extra = {"gap": r.gap, "certified": r.certified, "periods": r.info["periods"],
         "cert_periods": r.info["certificate"]["periods"], "exponents": [str(x) for x in r.exponents]}
"""

GAP_DENSE = """
r = qness.floquet_spectrum((H0, c), drive, wd, method="dense")
extra = {"gap": r.gap}
"""

GAP_QUTIP = """
T = 2 * np.pi / wd
U = qutip.propagator([H0, [drive, "cos(wd*t)"]], T, c, args={"wd": wd}, options={"atol": 1e-12, "rtol": 1e-12})
mu = np.linalg.eigvals(U.full())
lam = np.log(mu) / T
lam = lam[np.argsort(-lam.real)]
extra = {"gap": float(-lam[1].real)}
"""


def gap_row(n, qutip_max_dim):
    d = 2**n
    setup = ISING.format(n=n)
    ra = measure(setup, GAP_ARNOLDI)
    if "error" in ra:
        print(f"| Ising chain, {n} spins | {d} | qness error: {ra['error']} |", flush=True)
        return
    ex = ra["extra"]
    cells = [f"driven dissipative Ising chain, {n} spins", str(d), f"{ex['gap']:.10f}", str(ex["certified"])]
    cells += [
        f"{ex['periods']} ({ex['cert_periods']} certificate)",
        f"{ra['time']:.1f}",
        f"{ra['peak_mib']:.0f}",
    ]
    if d <= 32:
        rd = measure(setup, GAP_DENSE)
        cells += (
            [f"{rd['time']:.2f}", f"{abs(rd['extra']['gap'] - ex['gap']):.1e}"]
            if "error" not in rd
            else [f"error: {rd['error']}", "-"]
        )
    else:
        cells += ["not run (d > 32)", "-"]
    if d <= qutip_max_dim:
        rq = measure(setup, GAP_QUTIP)
        cells += (
            [f"{rq['time']:.2f}", f"{abs(rq['extra']['gap'] - ex['gap']):.1e}"]
            if "error" not in rq
            else [f"error: {rq['error']}", "-"]
        )
    else:
        cells += [f"not run (dense {d * d} x {d * d} propagator)", "-"]
    print("| " + " | ".join(cells) + " |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cutoffs", type=int, nargs="*", default=[20, 40])
    ap.add_argument("--ising", type=int, nargs="*", default=[4, 6, 8])
    ap.add_argument("--qutip-max-dim", type=int, default=64, help="largest d for which QuTiP is run")
    ap.add_argument(
        "--qutip-timeout", type=float, default=600.0, help="seconds before a QuTiP case is stopped"
    )
    ap.add_argument("--gap", type=int, nargs="*", default=[], help="Ising sizes for the Floquet gap rows")
    ap.add_argument("--qutip-max-gap-dim", type=int, default=32)
    args = ap.parse_args()
    if args.gap:
        print(
            "| model | d | Floquet gap (Arnoldi) | certified | periods propagated | qness time (s) | "
            "qness peak (MiB) | dense route time (s) | abs diff vs dense | QuTiP propagator time (s) | "
            "abs diff vs QuTiP |"
        )
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for n in args.gap:
            gap_row(n, args.qutip_max_gap_dim)
        if not args.cutoffs and not args.ising:
            return
    print(
        "| model | d | N (auto) | qness method | iterations | qness time (s) | qness peak (MiB) | "
        "time residual | QuTiP time (s) | QuTiP peak (MiB) | max abs diff of averages | "
        "error of <n> vs exact |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    F, k, w0, wd = 0.3, 0.4, 1.0, 0.7
    A = -(0.5j * F) / (k / 2 + 1j * (w0 - wd))
    B = -(0.5j * F) / (k / 2 + 1j * (w0 + wd))
    for nc in args.cutoffs:
        exact = abs(A) ** 2 + abs(B) ** 2
        row(f"driven damped oscillator, cutoff {nc}", OSC.format(nc=nc), nc, True, exact, args.qutip_timeout)
    for n in args.ising:
        d = 2**n
        ok = d <= args.qutip_max_dim
        row(f"driven dissipative Ising chain, {n} spins", ISING.format(n=n), d, ok, None, args.qutip_timeout)
    print(f"\n(exact oscillator: |A|^2 + |B|^2 = {abs(A) ** 2 + abs(B) ** 2:.12f})")


if __name__ == "__main__":
    main()
