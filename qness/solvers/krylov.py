"""Right-preconditioned Krylov solvers: restarted GMRES (block Gram-Schmidt) and IDR(s).

SciPy's ``gmres`` orthogonalises one basis vector at a time in Python; for
Liouvillian sectors with millions of unknowns that costs as much as the
operator itself. Here each Arnoldi step orthogonalises against the whole
basis with two BLAS ``zgemv`` calls (classical Gram-Schmidt, repeated once
when the DGKS criterion says the first pass lost accuracy; ``V.conj().T @ w``
would copy the whole basis each step), and the preconditioner acts on the right, so the
residual GMRES minimises is the true residual ``||b - A x||``.

:func:`idrs` is the short-recurrence alternative for sectors whose GMRES
basis does not fit in memory: IDR(s) holds ``3 s + 4`` vectors whatever the
number of steps (GMRES ``restart + 1``), at the price of ``1 + 1/s``
operator applications per step and an irregular residual history.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import zgemv as _zgemv

__all__ = ["gmres", "idrs"]


def _orthogonalise(Vj: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Orthogonalise ``w`` against the orthonormal columns of ``Vj``.

    Classical Gram-Schmidt through BLAS ``zgemv`` (``Vj^H w`` without a
    conjugated copy of the basis), repeated once only when the first pass
    cancelled most of ``w`` (the DGKS criterion, ``||w_new|| < ||w_old|| / sqrt(2)``).
    Returns the coefficients, the norm of what is left, and what is left
    (``w`` may be overwritten).
    """
    before = float(np.linalg.norm(w))
    h = _zgemv(1.0, Vj, w, trans=2)
    w = _zgemv(-1.0, Vj, h, beta=1.0, y=w, overwrite_y=True)
    after = float(np.linalg.norm(w))
    if after < 0.7071 * before:
        h2 = _zgemv(1.0, Vj, w, trans=2)
        w = _zgemv(-1.0, Vj, h2, beta=1.0, y=w, overwrite_y=True)
        h += h2
        after = float(np.linalg.norm(w))
    return h, after, w


#: :func:`gmres` with a ``fallback`` preconditioner takes it from the next restart on when a whole
#: restart cycle leaves the residual above this fraction of its value at the cycle's start.
#: Measured: the two-level preconditioner on boundary-driven XXZ 8 with Delta = 1 and dephasing 10
#: stagnated at 3e-4 relative under restarts of 100 (ConvergenceError after 2,000 steps), where
#: the no-jump inverse alone converges in 383 steps (and the two-level one with restarts of 300 in
#: 271); cycles of a converging solve gain orders of magnitude.
STALL_FACTOR = 0.5


def gmres(
    A,
    b,
    x0=None,
    *,
    M=None,
    rtol=1e-10,
    atol=0.0,
    restart=100,
    maxiter=2000,
    callback=None,
    flexible=False,
    fallback=None,
):
    """Solve ``A x = b`` by right-preconditioned restarted GMRES (or flexible GMRES).

    Parameters
    ----------
    A : LinearOperator or matrix
        Square operator supporting ``A @ v``.
    b : numpy.ndarray
        Right-hand side.
    x0 : numpy.ndarray, optional
        Initial guess (zero by default).
    M : LinearOperator, optional
        Approximate inverse of ``A`` applied on the right (``A M u = b``,
        ``x = M u``).
    rtol, atol : float
        Convergence test ``||b - A x||_2 <= max(rtol * ||b||_2, atol)``.
    restart : int
        Krylov subspace size before a restart.
    maxiter : int
        Maximum total number of Arnoldi steps (operator applications).
    callback : callable, optional
        Called with the residual norm estimate after each step.
    flexible : bool or numpy dtype
        ``False``: plain right-preconditioned GMRES. Otherwise flexible GMRES
        (Saad 1993): keep the preconditioned vectors ``z_j = M v_j`` and form
        ``x = x0 + Z y`` from them, so that ``M`` may change from step to step
        or be inexact (a single-precision ``M``, or one whose rounding is large
        next to its output because it is nearly singular): the Arnoldi
        relation ``A Z = V H`` then holds for the vectors used and the
        residual is still minimised over their span. The vectors are kept in
        the dtype given (``numpy.complex64`` with a single-precision ``M``,
        ``numpy.complex128``); ``True`` means complex64. Costs ``n`` vectors of
        that dtype per basis vector more.
    fallback : LinearOperator, optional
        A second preconditioner, taken from the next restart on (once) when a
        whole restart cycle leaves the residual above :data:`STALL_FACTOR` of
        its value at the cycle's start (restarted GMRES stagnating with ``M``).

    Returns
    -------
    x : numpy.ndarray
        The last iterate.
    info : dict
        ``iterations``, ``residual`` (true ``||b - A x||``, recomputed at each
        restart and at the end), ``converged``, and ``singular`` (``True`` when
        the projected least-squares problem was exactly singular, i.e. ``A``
        is singular; ``x`` is then the last restart's iterate); ``switched``
        (the step at which ``fallback`` was taken) when it was.
    """
    b = np.asarray(b, dtype=np.complex128).ravel()
    n = b.size
    z_dtype = None if flexible is False else np.complex64 if flexible is True else flexible
    x = np.zeros(n, dtype=np.complex128) if x0 is None else np.array(x0, dtype=np.complex128).ravel()
    bnorm = float(np.linalg.norm(b))
    tol = max(rtol * bnorm, atol)
    prec = (lambda v: v) if M is None else (lambda v: np.asarray(M @ v).ravel())
    it = 0
    r = b - np.asarray(A @ x).ravel() if x0 is not None else b.copy()
    beta = float(np.linalg.norm(r))
    switched, last = None, None
    while beta > tol and it < maxiter:
        if fallback is not None and switched is None and last is not None and beta > STALL_FACTOR * last:
            # a whole cycle gained less than a factor 1/STALL_FACTOR: restarting with M stagnates
            switched = it
            prec = lambda v, P=fallback: np.asarray(P @ v).ravel()  # noqa: E731
        last = beta
        m = min(restart, maxiter - it)
        V = np.empty((n, m + 1), dtype=np.complex128, order="F")
        Z = None if z_dtype is None else np.empty((n, m), dtype=z_dtype, order="F")
        H = np.zeros((m + 1, m), dtype=np.complex128)
        cs = np.zeros(m)
        sn = np.zeros(m, dtype=np.complex128)
        g = np.zeros(m + 1, dtype=np.complex128)
        g[0] = beta
        V[:, 0] = r / beta
        k = 0
        for j in range(m):
            if Z is not None:
                Z[:, j] = prec(V[:, j])
                w = np.array(np.asarray(A @ Z[:, j].astype(np.complex128)).ravel(), dtype=np.complex128)
            else:
                w = np.array(np.asarray(A @ prec(V[:, j])).ravel(), dtype=np.complex128)
            h, hn, w = _orthogonalise(V[:, : j + 1], w)
            H[: j + 1, j] = h
            H[j + 1, j] = hn
            if hn > 0:
                V[:, j + 1] = w / hn
            for i in range(j):  # previous rotations
                hi, hi1 = H[i, j], H[i + 1, j]
                H[i, j] = cs[i] * hi + sn[i] * hi1
                H[i + 1, j] = -np.conj(sn[i]) * hi + cs[i] * hi1
            a, bb = H[j, j], H[j + 1, j].real
            rr = np.hypot(abs(a), bb)
            if rr == 0:
                cs[j], sn[j] = 1.0, 0.0
            elif a == 0:
                cs[j], sn[j] = 0.0, 1.0
            else:
                cs[j] = abs(a) / rr
                sn[j] = (a / abs(a)) * bb / rr
            H[j, j] = cs[j] * a + sn[j] * bb
            H[j + 1, j] = 0.0
            g[j + 1] = -np.conj(sn[j]) * g[j]
            g[j] = cs[j] * g[j]
            it += 1
            k = j + 1
            est = abs(g[j + 1])
            if callback is not None:
                callback(est)
            if est <= tol or hn == 0:
                break
        diag = np.abs(np.diag(H[:k, :k]))
        if diag.min() == 0 or (diag.min() <= 1e-15 * diag.max() and abs(g[k]) > tol):
            # the projected system is exactly singular: A M is singular on the Krylov space. (Not
            # where the projected residual has converged: a stiff unique model's R spans more than
            # 1e15, e.g. (a^+)^8 a^8 at cutoff 60, 0.34 to 3.5e14, and its solution is still the
            # least-squares one; the true residual below decides, review 15b.)
            return x, {"iterations": it, "residual": beta, "converged": False, "singular": True}
        y = sla.solve_triangular(H[:k, :k], g[:k], check_finite=False)
        if Z is not None:
            for a in range(0, n, 1 << 16):  # rows in slabs: no complex128 copy of the whole of Z
                x[a : a + (1 << 16)] += Z[a : a + (1 << 16), :k].astype(np.complex128) @ y
        else:
            x += prec(V[:, :k] @ y)
        del V, Z
        r = b - np.asarray(A @ x).ravel()
        beta = float(np.linalg.norm(r))
    info = {"iterations": it, "residual": beta, "converged": bool(beta <= tol), "singular": False}
    if switched is not None:
        info["switched"] = switched
    return x, info


def idrs(A, b, x0=None, *, M=None, s=4, rtol=1e-10, atol=0.0, maxiter=2000, callback=None, seed=0):
    """Solve ``A x = b`` by right-preconditioned IDR(s) with biorthogonalisation.

    The induced-dimension-reduction method of Sonneveld and van Gijzen
    (SIAM J. Sci. Comput. 31 (2008) 1035-1062) in the biorthogonal variant
    of van Gijzen and Sonneveld (ACM Trans. Math. Softw. 38 (2011) 5,
    "Algorithm 913"), transcribed from their published pseudo-code
    (``idrs.m``), with the "maintaining the convergence" choice of
    ``omega`` (angle 0.7) of Sleijpen and van Gijzen (SIAM J. Sci. Comput.
    32 (2010) 2687-2709). Memory: ``3 s + 4`` vectors of ``n`` (``P``,
    ``G``, ``U``; ``x``, ``r``, ``v``, ``t``), whatever the number of
    steps. In exact arithmetic it terminates within ``n + n/s`` steps; one
    step costs one application of ``A`` and one of ``M``.

    The recurrence's residual drifts from the true one by rounding; when it
    falls below the tolerance the true residual ``b - A x`` is computed and,
    if that is still above it, the iteration restarts from it (at most
    ``maxiter`` operator applications in all).

    Parameters
    ----------
    A : LinearOperator or matrix
        Square operator supporting ``A @ v``.
    b : numpy.ndarray
        Right-hand side.
    x0 : numpy.ndarray, optional
        Initial guess (zero by default).
    M : LinearOperator, optional
        Approximate inverse of ``A`` applied on the right (``x = M u``).
    s : int
        Dimension of the shadow space (1 is close to BiCGSTAB; 4-8 usual).
    rtol, atol : float
        Convergence test ``||b - A x||_2 <= max(rtol * ||b||_2, atol)`` on the
        true residual.
    maxiter : int
        Maximum number of operator applications.
    callback : callable, optional
        Called with the recurrence's residual norm after each step.
    seed : int
        Seed of the random shadow space ``P`` (reproducible runs).

    Returns
    -------
    x : numpy.ndarray
        The last iterate.
    info : dict
        ``iterations`` (operator applications), ``residual`` (true
        ``||b - A x||``), ``converged``, ``breakdown`` (``True`` when
        ``P^H G`` became singular, e.g. on a singular ``A``), ``restarts``.

    Raises
    ------
    ValueError
        If ``s`` is not a positive integer or exceeds ``n``.
    """
    b = np.asarray(b, dtype=np.complex128).ravel()
    n = b.size
    if not isinstance(s, (int, np.integer)) or s < 1 or s > n:
        raise ValueError(f"s must be an integer between 1 and n={n}, got {s!r}")
    s = int(s)
    x = np.zeros(n, dtype=np.complex128) if x0 is None else np.array(x0, dtype=np.complex128).ravel()
    bnorm = float(np.linalg.norm(b))
    tol = max(rtol * bnorm, atol)
    prec = (lambda v: v) if M is None else (lambda v: np.asarray(M @ v).ravel())

    def apply(v):
        return np.asarray(A @ v).ravel().astype(np.complex128, copy=False)

    rng = np.random.default_rng(seed)
    # shadow space: s orthonormal columns (Fortran order: P^H r is one zgemv)
    P = rng.standard_normal((n, s)) + 1j * rng.standard_normal((n, s))
    P = np.asfortranarray(np.linalg.qr(P)[0])
    r = b - apply(x) if x0 is not None else b.copy()
    normr = float(np.linalg.norm(r))
    it, restarts, breakdown = 0, 0, False
    angle = 0.7
    while normr > tol and it < maxiter and not breakdown:
        G = np.zeros((n, s), dtype=np.complex128, order="F")
        U = np.zeros((n, s), dtype=np.complex128, order="F")
        Mm = np.eye(s, dtype=np.complex128)
        om = 1.0 + 0.0j
        while normr > tol and it < maxiter:
            f = _zgemv(1.0, P, r, trans=2)
            for k in range(s):
                c = np.linalg.solve(Mm[k:, k:], f[k:])
                v = r - G[:, k:] @ c
                v = prec(v)
                U[:, k] = U[:, k:] @ c + om * v
                G[:, k] = apply(U[:, k])
                for i in range(k):  # make G[:, k] orthogonal to P[:, :k]
                    alpha = np.vdot(P[:, i], G[:, k]) / Mm[i, i]
                    G[:, k] -= alpha * G[:, i]
                    U[:, k] -= alpha * U[:, i]
                Mm[k:, k] = _zgemv(1.0, P[:, k:], G[:, k], trans=2)
                it += 1
                if Mm[k, k] == 0 or not np.isfinite(Mm[k, k]):
                    breakdown = True
                    break
                beta = f[k] / Mm[k, k]
                r -= beta * G[:, k]
                x += beta * U[:, k]
                normr = float(np.linalg.norm(r))
                if callback is not None:
                    callback(normr)
                if normr <= tol or it >= maxiter:
                    break
                if k + 1 < s:
                    f[k + 1 :] -= beta * Mm[k + 1 :, k]
            if breakdown or normr <= tol or it >= maxiter:
                break
            # dimension reduction: into the next space G_{j+1}
            v = prec(r)
            t = apply(v)
            it += 1
            nt = float(np.linalg.norm(t))
            if nt == 0:
                breakdown = True
                break
            ts = np.vdot(t, r)
            rho = abs(ts) / (nt * normr)
            om = ts / (nt * nt)
            if rho < angle:
                om = om * angle / max(rho, 1e-300)
            if om == 0:
                breakdown = True
                break
            r -= om * t
            x += om * v
            normr = float(np.linalg.norm(r))
            if callback is not None:
                callback(normr)
        # the recurrence says converged (or stopped): check the true residual, restart from it
        r = b - apply(x)
        normr = float(np.linalg.norm(r))
        if normr > tol and not breakdown and it < maxiter:
            restarts += 1
    return x, {
        "iterations": it,
        "residual": normr,
        "converged": bool(normr <= tol),
        "breakdown": bool(breakdown and normr > tol),
        "restarts": restarts,
    }
