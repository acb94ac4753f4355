"""Real LU in a Hermitian basis against the complex LU, on the corpus's LU rows (a measured negative result).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_hermitian_lu.py`` (``--only rabi jc_40``).

A Liouvillian maps Hermitian matrices to Hermitian matrices, and so does the
trace-augmented matrix ``A`` the steady-state solvers factorise (its replaced
row is a diagonal element). In the orthonormal Hermitian basis ``E_ii``,
``(E_ij + E_ji) / sqrt 2``, ``i (E_ij - E_ji) / sqrt 2`` (``i < j``) it is a
real ``n x n`` matrix ``R = T^H A T``. Each real unknown then couples to the
neighbours of both ``rho_ij`` and ``rho_ji``: the graph of ``R`` is the graph
of ``A`` folded along its diagonal, and the fill-reducing orderings fill it
more (SuperLU/COLAMD: 1.5-1.6x the entries of the complex LU). This script
times UMFPACK (through cvxopt) on ``A`` (complex) and on ``R`` (real), best of
``--repeat``, and checks that both give the same state.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CORPUS  # noqa: E402

import qness  # noqa: E402
from qness.solvers.steady import _choose_sector, _System  # noqa: E402

LU_ROWS = ["jc_15", "jc_40", "jc_thermal", "rabi", "lambda_cavity", "v_cavity", "kerr_parametric"]
LU_ROWS += ["kerr_thermal", "spin_boson", "thermal_machine", "driven_cavity", "jc_150"]


def hermitian_basis(sector) -> sp.csr_array:
    """Unitary ``T`` whose columns are the Hermitian basis matrices, as sector vectors."""
    idx = sector.indices()
    d, n = sector.d, idx.size
    partner = (idx // d) + d * (idx % d)  # (i, j) -> (j, i)
    order = np.argsort(idx)
    p = order[np.searchsorted(idx[order], partner)]
    if not np.array_equal(idx[p], partner):
        raise ValueError("the sector is not closed under Hermitian conjugation")
    k = np.arange(n)
    diag, lo = k[p == k], k[k < p]
    s = 1.0 / np.sqrt(2.0)
    rows = np.concatenate([diag, lo, p[lo], lo, p[lo]])
    cols = np.concatenate([diag, lo, lo, p[lo], p[lo]])
    vals = np.concatenate([np.ones(diag.size), np.full(2 * lo.size, s), np.full(lo.size, 1j * s)])
    vals = np.concatenate([vals, np.full(lo.size, -1j * s)])
    return sp.csr_array((vals.astype(np.complex128), (rows, cols)), shape=(n, n))


def umfpack_solve(A, b, tc):
    from cvxopt import matrix, spmatrix, umfpack

    C = sp.coo_array(A)
    dtype = np.complex128 if tc == "z" else np.float64
    M = spmatrix(matrix(C.data.astype(dtype)), matrix(C.row.astype(np.int64)), matrix(C.col.astype(np.int64)), C.shape, tc=tc)  # fmt: skip
    t = time.perf_counter()
    F = umfpack.numeric(M, umfpack.symbolic(M))
    elapsed = time.perf_counter() - t
    B = matrix(np.asarray(b, dtype=dtype).reshape(-1, 1), tc=tc)
    umfpack.solve(M, F, B)
    return elapsed, np.array(B).ravel()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(CORPUS), default=LU_ROWS)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        "| model | unknowns | nnz complex | nnz real | complex LU (s) | real LU (s) | speed-up | max diff |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.only:
        e = CORPUS[name]
        model = qness.from_qutip(*e.build(e.bench))
        system = _System(model, _choose_sector(model, "auto"))
        A, b = system.replaced_matrix(), system.rhs()
        T = hermitian_basis(system.sector)
        R = T.conj().T @ A @ T
        assert abs(R.imag).max() <= 1e-12 * abs(R).max()
        R = sp.csr_array(R.real)
        R.eliminate_zeros()
        tz = min(umfpack_solve(A, b, "z")[0] for _ in range(args.repeat))
        tr = min(umfpack_solve(R, b.real, "d")[0] for _ in range(args.repeat))
        xz = umfpack_solve(A, b, "z")[1]
        xr = T @ umfpack_solve(R, b.real, "d")[1]
        diff = float(np.max(np.abs(xz - xr)))
        print(
            f"| {name} | {A.shape[0]:,} | {A.nnz:,} | {R.nnz:,} | {tz:.3g} | {tr:.3g} | {tz / tr:.2f}x | {diff:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
