"""Small dense linear-algebra kernels shared by the solvers."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

__all__ = ["lu_solve", "triangular_sylvester"]


def lu_solve(lu_piv, b, trans: int = 0):
    """``scipy.linalg.lu_solve(lu_piv, b, trans=trans, check_finite=False)``, safe for threads
    sharing one factorisation.

    SciPy's wrapper of LAPACK ``?getrs`` turns the pivot array to 1-based indices in place before
    the call and back after it, with the GIL released in between. Two threads solving with the same
    ``(lu, piv)`` at once therefore corrupt the pivots and then the heap: SciPy 1.17 aborted with
    ``malloc(): invalid size`` within a few thousand concurrent solves with one 30 x 30 complex
    factor, and never with a copy of the pivots per call. A uniqueness check running alongside the
    steady-state solve shares its two-level preconditioner's coarse LU this way.
    """
    lu, piv = lu_piv
    return sla.lu_solve((lu, piv.copy()), b, trans=trans, check_finite=False)


def triangular_sylvester(trsyl, A, E, G, block: int = 64):
    """Solve ``A Y + Y E^+ = G`` for upper-triangular ``A`` and ``E``.

    Recursive blocking (Jonsson and Kagstrom, ACM TOMS 28, 392 (2002)):
    split the larger dimension in two, solve the trailing block, update the
    leading right-hand side with one matrix product. The work is then
    matrix products, about ten times faster than LAPACK's unblocked
    ``trsyl`` at n = 1000 (2x at 300); blocks of size ``block`` go to
    ``trsyl`` (the LAPACK routine for the dtype, e.g. ``scipy.linalg.lapack.ztrsyl``).
    """
    m, p = G.shape
    if m <= block and p <= block:
        Y, scale, info = trsyl(A, E, G, tranb="C")
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"trsyl failed with info={info}")
        return Y / scale
    if m >= p:
        k = m // 2
        Y2 = triangular_sylvester(trsyl, A[k:, k:], E, G[k:], block)
        Y1 = triangular_sylvester(trsyl, A[:k, :k], E, G[:k] - A[:k, k:] @ Y2, block)
        return np.vstack([Y1, Y2])
    k = p // 2
    Y2 = triangular_sylvester(trsyl, A, E[k:, k:], G[:, k:], block)
    Y1 = triangular_sylvester(trsyl, A, E[:k, :k], G[:, :k] - Y2 @ E[:k, k:].conj().T, block)
    return np.hstack([Y1, Y2])
