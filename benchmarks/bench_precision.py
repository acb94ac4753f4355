"""Session 15: complex64 on more block pairs of the Sylvester preconditioner, and the row-scaled LU
uniqueness check, side by side with the settings before them (and QuTiP where it finishes).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_precision.py [--no-qutip]

Part 1: ``qness.steady_state(model, method=qness.Krylov())`` with the session-15 settings ("now")
and with the earlier ones in the same process ("before": ``SINGLE_COND_MAX = 1e7``, no Schur-route
pair in complex64), each agreement against ``Direct``; ``qutip.steadystate`` timed in the same run.
Part 2: the LU check's ``sigma / norm`` on unscaled and row-scaled matrices (stiff unique models and
exact degeneracies).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import qutip
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import qness
import qness.symmetry as qsym
from qness.solvers.methods import Direct
from qness.solvers.steady import _direct_backend, _sparse_factor, _System
from qness.solvers.uniqueness import _random_unit, row_scaling

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CORPUS, dark_mode_cavities, dark_singlet_qubits  # noqa: E402

MODELS = {
    "driven JC, cavity 80": lambda: CORPUS["jc_150"].build(80),
    "Tavis-Cummings, cavity 20": lambda: CORPUS["tavis_cummings"].build(20),
    "Bose-Hubbard 4 sites, cutoff 5": lambda: qness.models.bose_hubbard(
        4, cutoff=5, J=0.3, U=0.4, detuning=-0.2, F=[0, 0.5, 0, 0], kappa=0.4
    ).to_qutip(),
}
QUTIP_MAX_DIM = 200  # Hilbert dimension up to which QuTiP's steadystate is run here


def krylov_row(H, c_ops, before: bool):
    saved = qsym.SINGLE_COND_MAX, qsym.SCHUR_SINGLE_RTOL
    if before:
        qsym.SINGLE_COND_MAX, qsym.SCHUR_SINGLE_RTOL = 1e7, -1.0
    try:
        t = time.perf_counter()
        r = qness.steady_state((H, c_ops), method=qness.Krylov())
        dt = time.perf_counter() - t
    finally:
        qsym.SINGLE_COND_MAX, qsym.SCHUR_SINGLE_RTOL = saved
    u = r.info.get("uniqueness") or {}
    return (
        r,
        dt,
        f"{r.info['iterations']} + {u.get('check_iterations')}",
        r.info.get("precision"),
        u.get("verified"),
    )


def part1(run_qutip: bool):
    print(
        "| model | before: time, steps, precision, check verified | now | Direct agreement (before / now) | QuTiP (s) |"
    )
    print("|---|---|---|---|---:|")
    for name, build in MODELS.items():
        H, c_ops = build()
        try:
            ref = qness.steady_state((H, c_ops), method=qness.Direct()).rho
        except qness.InsufficientMemoryError:
            ref = None  # (Bose-Hubbard 4 x 5: LU estimated at 151 GiB) the two runs against each other
        cells, diffs, states = [], [], []
        for before in (True, False):
            r, dt, steps, prec, ver = krylov_row(H, c_ops, before)
            cells.append(f"{dt:.2f} s, {steps}, {prec}, {ver}")
            states.append(r.rho)
            if ref is not None:
                diffs.append(f"{np.abs(r.rho - ref).max():.1e}")
        if ref is None:
            diffs = ["no LU", f"before - now {np.abs(states[0] - states[1]).max():.1e}"]
            ref = states[0]
        q = "not run"
        if run_qutip and H.shape[0] <= QUTIP_MAX_DIM:
            t = time.perf_counter()
            rq = qutip.steadystate(H, c_ops)
            q = f"{time.perf_counter() - t:.2f} (agreement {np.abs(rq.full() - ref).max():.1e})"
        print(f"| {name} | {cells[0]} | {cells[1]} | {diffs[0]} / {diffs[1]} | {q} |", flush=True)


def part2():
    print()
    print("| model | sigma / norm, unscaled | sigma / norm, rows scaled |")
    print("|---|---:|---:|")
    cases = []
    for N, p in [(40, 8), (50, 8), (60, 8), (50, 10), (60, 12)]:
        a = qutip.destroy(N)
        cases.append(
            (
                f"(a^+)^{p} a^{p}, cutoff {N}",
                (a.dag() ** p * a**p + 0.8 * (a + a.dag()) + 0.2 * a.dag() * a, [a]),
            )
        )
    cases.append(("dark singlet (two qubits)", dark_singlet_qubits()))
    cases += [(f"dark cavity mode, cutoff {k}", dark_mode_cavities(k)) for k in (6, 12)]
    for N in (14, 30):
        a = qutip.destroy(N)
        cases.append(
            (f"two-photon loss, cutoff {N}", (0.4 * a.dag() * a + 0.9 * (a * a + a.dag() * a.dag()), [a * a]))
        )
    for name, model in cases:
        m = qness.as_model(model)
        system = _System(m, qsym.full_sector(m.dim))
        A = system.replaced_matrix()
        backend, ordering = _direct_backend(system, Direct())
        solve, _, _ = _sparse_factor(A, backend, ordering)
        u = solve(_random_unit(A.shape[0]))
        u /= np.linalg.norm(u)
        plain = np.linalg.norm(A @ u) / spla.norm(A, 1)
        D = row_scaling(A)
        DA = sp.csr_array(sp.diags_array(D) @ A)
        v = solve(_random_unit(A.shape[0]) / D)  # (D A)^{-1} w, as lu_check
        v /= np.linalg.norm(v)
        scaled = np.linalg.norm(DA @ v) / spla.norm(DA, 1)
        print(f"| {name} | {plain:.1e} | {scaled:.1e} |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-qutip", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    part1(not args.no_qutip)
    part2()
