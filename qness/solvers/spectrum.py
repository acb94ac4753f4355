"""The Liouvillian spectrum near zero, its gap, and the slowest modes, sector by sector.

Eigenvalues are sorted by real part, descending; the gap is the positive
number ``-Re(lambda_1)`` of the slowest non-zero mode (Minganti et al.,
PRA 98, 042118 (2018)). With a weak U(1) symmetry each sector
``q = n_left - n_right`` is diagonalised on its own (sector ``-q`` holds the
complex conjugates of sector ``q`` and is obtained for free); with a Z2
parity the two sectors ``s = ±1``. The gap is the minimum over sectors.

Methods (frozen dataclasses, chosen per sector by :class:`AutoEig`):

* :class:`DenseEig` -- ``scipy.linalg.eig`` of the dense sector block.
* :class:`ShiftInvert` -- eigenvalues *nearest* a real shift ``sigma > 0``
  just right of zero. With ``inner="lu"``, ARPACK reuses one sparse LU of
  ``L - sigma``. With ``inner="krylov"`` (sectors whose LU does not fit,
  many-body chains) an inexact shift-invert subspace iteration expands its
  search space by ``(L - sigma)^{-1} r`` applied to residuals ``r`` by
  GMRES preconditioned with the no-jump Sylvester inverse, and checks every
  eigenpair against the exact ``L``.

Certified sectors (:class:`AutoEig`, ``certify=True``): after the
steady-state sector, a large sector is first propagated from a random
vector with ``exp(tL)`` (Chebyshev series, :mod:`qness.solvers.propagate`).
If its norm falls below ``eps exp(t Re lambda_k)``, where ``lambda_k`` is
the ``k``-th eigenvalue found so far, the sector holds no eigenvalue to the
right of ``lambda_k`` except with probability below ``1e-10`` (``n eps^2``, ``n`` its
size) and is not diagonalised. Sectors whose decay is too slow for that are
solved. This is what makes the gap of a 10-spin chain affordable: its
``q != 0`` sectors have dense bands of eigenvalues near ``Re = -0.8`` that
shift-invert resolves only with hundreds of solves, while propagation
dismisses them in about 1,500 products each.

Shift-invert finds the eigenvalues *nearest* its shift, which need not be
the rightmost (a driven Kerr resonator's nearest mode, ``-0.878``, is not its
slowest, ``-0.524 +- 0.783i``). With :class:`AutoEig` each shift-invert
result is certified the same way not to miss a mode right of the ``k``-th;
when propagation sees one, a sector of at most ``dense_fallback`` unknowns
is diagonalised densely, an LU sector is asked for more eigenvalues, and
otherwise a :class:`~qness.SpectrumWarning` says the result misses it.
``info["exact_rightmost"]`` is ``True`` only when every sector was either
diagonalised densely or certified; check with ``DenseEig`` on small sizes
when in doubt.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..model import LindbladModel, U1Symmetry, Z2Symmetry, as_model
from ..symmetry import Sector, detect_symmetry, full_sector, sectors
from .errors import ConvergenceError, SpectrumWarning
from .krylov import _orthogonalise, gmres
from .methods import _choice, _positive, resolve_method

__all__ = [
    "AutoEig",
    "DenseEig",
    "ShiftInvert",
    "Spectrum",
    "spectrum",
    "liouvillian_gap",
]


# ------------------------------------------------------------------ methods
@dataclass(frozen=True)
class AutoEig:
    """Per sector: dense below ``dense_max`` unknowns, shift-invert on a sparse LU where
    the LU is cheap (envelope estimate below ``direct_flops``), inexact shift-invert with
    Sylvester-preconditioned GMRES (``ShiftInvert(inner="krylov")``) otherwise.

    Attributes
    ----------
    dense_fallback : int
        A sector up to this size in which propagation sees a mode that
        shift-invert missed is diagonalised densely instead.
    dense_max, direct_flops : float
        Size and LU-cost thresholds between the three routes: a sector of a
        many-body model takes the LU route when the envelope estimate of its
        LU is below ``direct_flops``; a single mode (one tensor factor)
        always does, since its LU fill stays small.
    tol : float
        Relative accuracy (ARPACK's for the LU route; residual
        ``||L x - lambda x|| <= tol * scale`` for the Krylov route).
    certify : bool
        Before solving a large sector (Krylov route) other than the steady
        state's, try to certify by propagation that it holds no eigenvalue
        to the right of the ``k``-th found so far (see
        :func:`_certify_sector`); a certified sector is skipped, and it is
        listed in ``info["sectors"]`` with method ``"certified"``.
        Sectors solved by shift-invert are certified the same way not to
        miss an eigenvalue right of the ``k``-th (shift-invert finds those
        nearest zero); when one evidently is missed, more are asked for.
    certify_matvecs, certify_flops : float
        Budget per certificate: ``max(certify_matvecs, certify_flops / nnz)``
        products with the sector matrix (so small sectors get more). A
        certificate whose observed decay predicts more gives up: a skipped
        sector is then solved, a solved one is reported uncertified
        (``info["exact_rightmost"]`` is ``False``).
    """

    dense_max: int = 400
    dense_fallback: int = 1000
    direct_flops: float = 2e8
    tol: float = 1e-10
    certify: bool = True
    certify_matvecs: int = 6000
    certify_flops: float = 1e9

    def __post_init__(self):
        _positive("dense_max", self.dense_max, allow_zero=True)
        _positive("dense_fallback", self.dense_fallback, allow_zero=True)
        _positive("direct_flops", self.direct_flops, allow_zero=True)
        _positive("tol", self.tol)
        _positive("certify_matvecs", self.certify_matvecs)
        _positive("certify_flops", self.certify_flops, allow_zero=True)


@dataclass(frozen=True)
class DenseEig:
    """All eigenvalues of the dense sector block (``scipy.linalg.eig``)."""

    max_size: int = 6000

    def __post_init__(self):
        _positive("max_size", self.max_size)


@dataclass(frozen=True)
class ShiftInvert:
    """ARPACK shift-invert around ``sigma`` with one sparse LU of ``L - sigma I``.

    Attributes
    ----------
    sigma : float or None
        Real shift; ``None`` uses ``1e-3`` times the scale of ``L``'s diagonal
        (just right of the spectrum, so ``L - sigma`` is non-singular).
    ncv : int or None
        ``inner="lu"``: Arnoldi basis size (default ARPACK's ``max(2k + 1, 20)``).
        ``inner="krylov"``: largest search space before a thick restart
        (default ``max(2k + 10, 20)``).
    tol : float
        ``inner="lu"``: ARPACK relative accuracy of the Ritz values.
        ``inner="krylov"``: residual ``||L x - lambda x|| <= tol * scale``,
        ``scale`` twice the largest diagonal entry of ``H_eff`` in modulus.
    maxiter : int
        ARPACK restarts (``"lu"``) or search-space expansions, i.e. inner
        solves (``"krylov"``).
    inner : {"lu", "krylov"}
        How ``(L - sigma)^{-1}`` is applied: one sparse LU reused by ARPACK
        for every step, or matrix-free GMRES preconditioned by
        ``(L0 - sigma)^{-1}`` inside an inexact shift-invert subspace
        iteration (Davidson-type with harmonic Ritz extraction, for sectors
        whose LU does not fit).
    inner_rtol : float
        Relative tolerance of each inner GMRES solve (``inner="krylov"``).
        The solves act on residuals, so a loose tolerance still converges;
        the result is always checked with the exact ``L`` against ``tol``.
    """

    sigma: float | None = None
    ncv: int | None = None
    tol: float = 1e-12
    maxiter: int = 5000
    inner: str = "lu"
    inner_rtol: float = 1e-2

    def __post_init__(self):
        if self.sigma is not None and (not np.isfinite(self.sigma) or self.sigma <= 0):
            raise ValueError(f"sigma must be positive (right of the spectrum), got {self.sigma!r}")
        _positive("tol", self.tol)
        _positive("maxiter", self.maxiter)
        _choice("inner", self.inner, ("lu", "krylov"))
        _positive("inner_rtol", self.inner_rtol)
        if self.inner_rtol >= 1:
            raise ValueError(f"inner_rtol must be below 1, got {self.inner_rtol!r}")
        if self.ncv is not None and self.ncv < 3:
            raise ValueError(f"ncv must be at least 3, got {self.ncv!r}")


EIG_METHODS = {"auto": AutoEig, "dense": DenseEig, "shift-invert": ShiftInvert}


def _resolve(method, options):
    return resolve_method(method, options, EIG_METHODS, what="spectrum method")


# ------------------------------------------------------------------ result
@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues of a Liouvillian near zero, by sector.

    Attributes
    ----------
    eigenvalues : numpy.ndarray (complex)
        Sorted by real part, descending (the steady state's 0 first).
    sectors : numpy.ndarray (int)
        Sector label of each eigenvalue (``q`` for U(1), ``±1`` for Z2,
        ``0`` without symmetry).
    eigenmatrices : list of numpy.ndarray
        Right eigenmatrices ``rho_j`` (``d x d``, unit Frobenius norm):
        ``L(rho_j) = lambda_j rho_j``; empty if not requested.
    left_eigenmatrices : list of numpy.ndarray
        Left eigenmatrices ``sigma_j`` (``L^+(sigma_j) = conj(lambda_j) sigma_j``)
        if requested.
    gap : float
        ``-Re(lambda_1)`` of the slowest mode after the steady state's zero,
        over all sectors (``0.0`` if zero is degenerate).
    info : dict
        Method used per sector, sizes, times, residuals.
    """

    eigenvalues: np.ndarray
    sectors: np.ndarray
    eigenmatrices: list = field(default_factory=list)
    left_eigenmatrices: list = field(default_factory=list)
    gap: float = np.nan
    info: dict = field(default_factory=dict)

    def by_sector(self, label: int) -> np.ndarray:
        """Eigenvalues of one sector (descending real part)."""
        return self.eigenvalues[self.sectors == label]

    def slowest_mode(self) -> tuple[complex, np.ndarray]:
        """``(lambda_1, rho_1)``: the slowest decaying mode (needs eigenmatrices)."""
        if not self.eigenmatrices:
            raise ValueError("eigenmatrices were not computed: call spectrum(..., vectors=True)")
        j = int(self.info["slowest_index"])
        return complex(self.eigenvalues[j]), self.eigenmatrices[j]

    def plot(self, ax=None, **kwargs):
        """Eigenvalues in the complex plane with the gap marked (see :func:`qness.plot.spectrum`)."""
        from ..plot import spectrum as _plot_spectrum

        return _plot_spectrum(self, ax=ax, **kwargs)


# ------------------------------------------------------------------ per-sector solvers
def _dense_sector(model, sector, k, method: DenseEig, vectors, left, M=None):
    n = sector.size
    if n > method.max_size:
        raise ValueError(f"DenseEig: sector of {n} unknowns exceeds max_size={method.max_size}")
    M = (sector.matrix(model) if M is None else M).toarray()
    if left:
        w, vl, vr = sla.eig(M, left=True, right=True)
    else:
        if vectors:
            w, vr = sla.eig(M)
        else:
            w, vr = sla.eigvals(M), None
        vl = None
    order = np.argsort(-w.real, kind="stable")[:k]
    out = {"values": w[order]}
    if vectors or left:
        out["right"] = vr[:, order]
    if left:
        out["left"] = vl[:, order]
    out["info"] = {"method": "DenseEig", "size": n}
    return out


def _scale(model: LindbladModel) -> float:
    s = 2.0 * float(np.max(np.abs(model.H_eff().diagonal()), initial=0.0))
    return s if s > 0 else 1.0


def _shift_invert_sector(model, sector, k, method: ShiftInvert, vectors, left, M=None, deflate_trace=False):
    n = sector.size
    if method.inner == "krylov":
        return _krylov_sector(model, sector, k, method, vectors, left, M, deflate_trace=deflate_trace)
    M = sp.csc_matrix(sector.matrix(model) if M is None else M)
    sigma = method.sigma if method.sigma is not None else 1e-3 * _scale(model)
    kk = min(k, n - 2)
    out = {}

    def run(Mat, sig):
        lu = spla.splu(
            sp.csc_matrix(Mat - sig * sp.eye(n, format="csc")),
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.1,
            options={"SymmetricMode": True},
        )
        op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=np.complex128)
        try:
            return spla.eigs(
                Mat, k=kk, sigma=sig, OPinv=op, which="LM", ncv=method.ncv, tol=method.tol,
                maxiter=method.maxiter, return_eigenvectors=True,
            )  # fmt: skip
        except spla.ArpackNoConvergence as exc:
            raise ConvergenceError(
                f"ShiftInvert: ARPACK did not converge in sector {sector.label} "
                f"({len(exc.eigenvalues)} of {kk} eigenvalues)",
                iterations=method.maxiter,
            ) from exc

    w, vr = run(M, sigma)
    order = np.argsort(-w.real, kind="stable")
    out["values"] = w[order]
    out["right"] = vr[:, order]
    if left:
        wl, vl = run(sp.csc_matrix(M.conj().T), sigma)
        # match left to right eigenvalues (L^+ has the conjugate eigenvalues)
        idx = [int(np.argmin(np.abs(wl.conj() - lam))) for lam in out["values"]]
        out["left"] = vl[:, idx]
    out["info"] = {"method": "ShiftInvert", "inner": method.inner, "size": n, "sigma": sigma}
    return out


def _krylov_inverse(model, sector, sigma, M=None):
    """``(b, rtol) -> (L - sigma)^{-1} b`` by GMRES right-preconditioned with ``(L0 - sigma)^{-1}``."""

    op = sector.matrix(model) if M is None else M
    n = sector.size
    shifted = spla.LinearOperator((n, n), matvec=lambda x: op @ x - sigma * x, dtype=np.complex128)
    prec = sector.sylvester_preconditioner(model, shift=sigma)
    count = {"solves": 0, "iterations": 0}

    def solve(v, rtol):
        x, info = gmres(shifted, v, M=prec, rtol=rtol, restart=150, maxiter=3000)
        count["solves"] += 1
        count["iterations"] += info["iterations"]
        if not info["converged"]:
            raise ConvergenceError(
                f"ShiftInvert: inner GMRES did not converge (residual {info['residual']:.2e})",
                iterations=info["iterations"],
                residual=info["residual"],
            )
        return x

    return solve, count


def _unit_trace(sector: Sector) -> np.ndarray:
    """The trace functional as a unit vector: ``1 - t t^T`` projects on trace-zero matrices."""
    t = sector.trace_vector()
    return t / np.linalg.norm(t)


def _krylov_sector(model, sector, k, method: ShiftInvert, vectors, left, M=None, deflate_trace=False):
    """Eigenvalues nearest ``sigma`` by inexact shift-invert subspace iteration (``inner="krylov"``).

    A Davidson-type search space is expanded by ``(L - sigma)^{-1} r``, the
    inverse applied to the residual ``r`` of the current approximation by
    Sylvester-preconditioned GMRES to the loose relative tolerance
    ``inner_rtol`` (the error is relative to ``r``, which shrinks as the pair
    converges, so a loose inner tolerance still converges). Harmonic Ritz
    vectors for the target ``sigma`` are extracted, their Rayleigh quotients
    taken as eigenvalues, and convergence is the true residual
    ``||L x - lambda x|| <= tol * scale`` with the exact ``L``.

    With ``deflate_trace`` (steady-state sector, eigenvalues only), the
    search runs on trace-zero matrices, an invariant subspace of every
    Liouvillian that holds all eigenvectors but the steady state's; the
    eigenvalue 0 is added exactly.
    """
    n = sector.size
    if left:
        raise ValueError("left eigenmatrices need inner='lu' (or DenseEig)")
    A = sp.csr_array(sector.matrix(model) if M is None else M)
    sigma = method.sigma if method.sigma is not None else 1e-3 * _scale(model)
    want = k - 1 if deflate_trace else k
    tol = method.tol * _scale(model)
    maxdim = method.ncv if method.ncv is not None else max(2 * want + 10, 20)
    maxdim = min(maxdim, n - 1)
    keep = max(want + 3, min(2 * want + 2, maxdim - 4))
    solve, count = _krylov_inverse(model, sector, sigma, A)
    if deflate_trace:
        tvec = _unit_trace(sector)

        def project(x):
            return x - tvec * (tvec @ x)
    else:

        def project(x):
            return x

    info = {"method": "ShiftInvert", "inner": "krylov", "size": n, "sigma": sigma}
    if want == 0:
        info.update(solves=0, inner_iterations=0, dimension=0)
        return {"values": np.zeros(1, np.complex128), "info": info}
    rng = np.random.default_rng(12345)
    # search space V (orthonormal columns) and W = A V, filled column by column
    Vbuf = np.empty((n, maxdim + 1), np.complex128, order="F")
    Wbuf = np.empty((n, maxdim + 1), np.complex128, order="F")
    m = 0
    new = project(solve(project(rng.standard_normal(n) + 1j * rng.standard_normal(n)), method.inner_rtol))
    for _outer in range(method.maxiter):
        # orthonormalise the new direction against V (GMRES's Gram-Schmidt) and extend V, W
        nrm = np.linalg.norm(new)
        if m:
            _, nrm, new = _orthogonalise(Vbuf[:, :m], np.array(new, dtype=np.complex128))
        if nrm == 0 or not np.isfinite(nrm):
            new = project(rng.standard_normal(n) + 1j * rng.standard_normal(n))
            _, nrm, new = _orthogonalise(Vbuf[:, :m], new) if m else (None, np.linalg.norm(new), new)
        Vbuf[:, m] = new / nrm
        Wbuf[:, m] = A @ Vbuf[:, m]
        m += 1
        V, W = Vbuf[:, :m], Wbuf[:, :m]
        # harmonic Ritz pairs for the target sigma: (W_s^H W_s) y = nu (W_s^H V) y
        Ws = W - sigma * V
        nu, Y = sla.eig(Ws.conj().T @ Ws, Ws.conj().T @ V)
        good = np.isfinite(nu)
        order = np.flatnonzero(good)[np.argsort(np.abs(nu[good]))]
        pairs = []
        for i in order[: max(keep, want)]:
            y = Y[:, i] / np.linalg.norm(V @ Y[:, i])
            x, ax = V @ y, W @ y
            theta = np.vdot(x, ax)
            res = float(np.linalg.norm(ax - theta * x))
            pairs.append((theta, res, x, y))
        done = [p for p in pairs[:want] if p[1] <= tol]
        if len(done) == want:
            vals = np.array([p[0] for p in pairs[:want]])
            vecs = np.column_stack([p[2] for p in pairs[:want]])
            if deflate_trace:
                # 0 is exact; its eigenvector (the steady state) is not computed: a zero column
                # (used only internally, by the certificate, which excludes it)
                vals = np.concatenate([[0.0], vals])
                vecs = np.column_stack([np.zeros(n, np.complex128), vecs])
            order = np.argsort(-vals.real, kind="stable")
            info.update(solves=count["solves"], inner_iterations=count["iterations"], dimension=V.shape[1],
                        residual=max(p[1] for p in pairs[:want]), resolution=tol)  # fmt: skip
            out = {"values": vals[order], "info": info}
            if vectors:
                out["right"] = vecs[:, order]
            return out
        target = next(p for p in pairs[:want] if p[1] > tol)
        r = W @ target[3] - target[0] * target[2]
        if m >= maxdim:  # thick restart on the best harmonic Ritz vectors
            Qk, _ = np.linalg.qr(np.column_stack([p[3] for p in pairs[:keep]]))
            m = Qk.shape[1]
            Vbuf[:, :m], Wbuf[:, :m] = V @ Qk, W @ Qk
        new = project(solve(r, method.inner_rtol))
    raise ConvergenceError(
        f"ShiftInvert(inner='krylov'): {want} eigenvalues near sigma did not converge in sector "
        f"{sector.label} after {method.maxiter} expansions",
        iterations=method.maxiter,
    )


def _auto_plan(model, sector, method: AutoEig, left):
    """``(route, M)``: ``"dense"``, ``"lu"`` or ``"krylov"`` for this sector, and its matrix."""
    from .steady import envelope_estimate

    if sector.size <= method.dense_max:
        return "dense", None
    M = sector.matrix(model)
    if left or len(model.dims) == 1:
        # one mode: L's graph is a 2-D grid of (i, j) and a fill-reducing LU stays small
        return "lu", M
    flops, _ = envelope_estimate(M)
    return ("lu" if flops <= method.direct_flops else "krylov"), M


def _auto_sector(model, sector, k, method: AutoEig, vectors, left, plan=None, deflate_trace=False):
    route, M = _auto_plan(model, sector, method, left) if plan is None else plan
    if route == "dense":
        return _dense_sector(model, sector, k, DenseEig(), vectors, left)
    inner = ShiftInvert(tol=method.tol, inner=route)
    return _shift_invert_sector(model, sector, k, inner, vectors, left, M, deflate_trace=deflate_trace)


def _missing_mode(M, snaps, threshold, found_values):
    """An eigenvalue right of ``threshold`` in the last propagated vectors that is not found, or None.

    Rayleigh-Ritz with ``M`` on their span: a Ritz value with real part above
    the threshold, a small residual and none of ``found_values`` nearby is a
    missing mode (a slowly decaying norm alone can also be two beating modes
    or a found mode leaking through its rounding errors).
    """
    Q, _ = np.linalg.qr(np.column_stack(snaps))
    MQ = M @ Q
    theta, Y = np.linalg.eig(Q.conj().T @ MQ)
    scale = max(float(np.max(np.abs(theta))), 1e-300)
    found = np.asarray(found_values if found_values is not None else [], dtype=np.complex128)
    best = None
    for th, y in zip(theta, Y.T):
        res = np.linalg.norm(MQ @ y - th * (Q @ y)) / np.linalg.norm(y)
        near = found.size and np.min(np.abs(found - th)) <= 1e-6 * (1.0 + abs(th))
        if th.real > threshold and res <= 1e-2 * scale and not near:
            best = th if best is None or th.real > best.real else best
    return None if best is None else complex(best)


def _certify_budget(method: AutoEig, M) -> int:
    return int(max(method.certify_matvecs, method.certify_flops / max(M.nnz, 1)))


def _certify_eps(n: int) -> float:
    """``eps`` with ``n eps^2 = CERTIFY_PROBABILITY``."""
    return float(np.sqrt(CERTIFY_PROBABILITY / max(n, 1)))


def _certify_sector(model, sector, M, threshold, eps, max_matvecs, found=None, found_values=None,
                    trace_zero=False):  # fmt: skip
    """Try to show that no eigenvalue of this sector right of ``threshold < 0`` is missing.

    ``found`` (columns) are right eigenvectors already computed in this
    sector, ``Q`` an orthonormal basis of their span and ``P = 1 - Q Q^+``.
    A random unit vector is propagated as ``v <- P exp(hL) v``. For an
    eigenvalue ``lambda`` not in ``found``, its unit left eigenvector ``w``
    is orthogonal to every found right eigenvector, so ``w^+ P = w^+`` and
    ``w^+ v(t) = exp(t lambda) w^+ v(0)``. Hence ``||v(t)|| <= eps
    exp(t threshold)`` implies ``|w^+ v(0)| < eps`` for every missing
    eigenvalue with ``Re lambda > threshold``; for ``v(0)`` uniform on the
    unit sphere of ``C^n`` that has probability below ``n eps^2`` per such
    eigenvalue (``eps`` is chosen to make that ``CERTIFY_PROBABILITY``).
    The argument needs only the eigenvalues inside the propagator's ellipse
    (they are: it holds the numerical range), not an accurate ``exp(tL) v``.

    With ``trace_zero`` (steady-state sector) the start is a random
    trace-zero matrix, which ``exp(tL)`` keeps trace-zero, so the steady
    state never enters; ``found`` must then exclude it. For a missing
    ``lambda`` (``w`` orthogonal to the steady state),
    ``|w^+ v(0)|`` has the law above scaled by at least ``1/sqrt(d)``, so
    the caller divides ``eps`` by ``sqrt(d)``.

    Returns ``(ok, info)``. It gives up when the observed decay rate
    predicts more than ``max_matvecs`` products; ``info["slower_mode"]`` is
    ``True`` when the propagated vector decays more slowly than
    ``threshold`` itself and its Rayleigh quotient is none of
    ``found_values`` (not a leak of a found mode through its rounding
    errors): evidence of a missing eigenvalue right of the threshold.
    """
    from .propagate import ChebyshevPropagator

    t0 = time.perf_counter()
    prop = ChebyshevPropagator(M)
    rng = np.random.default_rng(2024 + int(sector.label))
    if found is not None and found.shape[1]:
        Q = np.asfortranarray(np.linalg.qr(found)[0])

        def project(x):
            return _orthogonalise(Q, np.array(x, dtype=np.complex128))[2]
    else:

        def project(x):
            return x

    v = rng.standard_normal(sector.size) + 1j * rng.standard_normal(sector.size)
    if trace_zero:
        # exp(tL) keeps v trace-zero; re-projecting each step removes only rounding
        tvec = _unit_trace(sector)
        project_found = project

        def project(x):
            x = project_found(x)
            return x - tvec * (tvec @ x)

        found_values = [0.0, *(found_values if found_values is not None else [])]
    v = project(v)
    v /= np.linalg.norm(v)
    h = prop.max_step
    t, norms, ok, slower, missing, missing_rate = 0.0, [1.0], False, False, None, None
    snaps = []
    while True:
        v = project(prop.step(v, h))
        t += h
        nrm = float(np.linalg.norm(v))
        norms.append(nrm)
        snaps = [*snaps[-7:], v / nrm]
        if nrm <= eps * np.exp(t * threshold):
            ok = True
            break
        steps = len(norms) - 1
        per_step = prop.matvecs / steps
        if steps >= 8:
            # decay rate over the last quarter of the propagation (early steps are transients)
            back = max(1, steps // 4)
            rate = -np.log(max(nrm, 1e-300) / norms[-1 - back]) / (back * h)
            margin = rate + threshold  # decay rate in excess of the threshold's
            need = (np.log(nrm) - np.log(eps) - t * threshold) / margin if margin > 0 else np.inf
            if margin <= 0 or prop.matvecs + need / h * per_step > max_matvecs:
                # stop; report a missing mode if the propagated vectors show one, or if
                # over the last half they clearly decay more slowly than the threshold --
                # only after long enough for non-normal transients to be over (a threshold
                # mode decayed by e^5) and well above the floor where found modes leak
                # through rounding
                missing = _missing_mode(M, snaps, threshold, found_values)
                half = steps // 2
                rate_long = -np.log(max(nrm, 1e-300) / norms[half]) / ((steps - half) * h)
                settled = t * -threshold >= 5.0 and nrm > 1e-6
                if missing is None and settled and rate_long < -0.95 * threshold:
                    missing_rate = float(rate_long)
                slower = missing is not None or missing_rate is not None
                break
        elif prop.matvecs + per_step > max_matvecs:
            break
    info = {"method": "certified" if ok else "certificate failed", "size": sector.size,
            "threshold": float(threshold), "time_propagated": t, "norm": nrm, "eps": eps,
            "matvecs": prop.matvecs, "slower_mode": bool(slower and not ok), "missing": missing,
            "missing_rate": missing_rate,
            "certify_time": time.perf_counter() - t0}  # fmt: skip
    return ok, info


_SECTOR_SOLVERS = {
    DenseEig: _dense_sector,
    ShiftInvert: _shift_invert_sector,
    AutoEig: _auto_sector,
}


# ------------------------------------------------------------------ public API
def spectrum(model, k: int = 6, method=None, *, symmetry="auto", vectors: bool = True, left: bool = False,
             **options) -> Spectrum:  # fmt: skip
    """The ``k`` eigenvalues of the Liouvillian with the largest real part, by sector.

    Parameters
    ----------
    model : LindbladModel or tuple (H, c_ops)
        The master equation (hbar = 1, standard Lindblad form).
    k : int
        Number of eigenvalues returned (over all sectors). Each sector is
        asked for ``k`` (the steady-state sector for at least 2), so the
        result is exact for the top ``k`` and the gap is the minimum over
        sectors.
    method : AutoEig, DenseEig, ShiftInvert, str or None
        Per-sector algorithm; ``None`` chooses by sector size.
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sector decomposition (default: the model's declared symmetry).
    vectors : bool
        Also return the right eigenmatrices (``d x d``, column stacking).
    left : bool
        Also return left eigenmatrices (dense and shift-invert only).
    **options
        Settings of the method (unknown names raise ``ValueError``).

    Returns
    -------
    Spectrum
        Eigenvalues sorted by real part (descending) with sector labels, the
        gap and the eigenmatrices. ``DenseEig`` returns the eigenvalues with
        the largest real part; ``ShiftInvert`` those nearest its shift (just
        right of zero), see the module notes.

    Notes
    -----
    ``L`` is the column-stacking superoperator (as ``qutip.liouvillian``);
    eigenmatrices satisfy ``L(rho_j) = lambda_j rho_j``. For a U(1)
    symmetry, sector ``-q`` is the complex conjugate of sector ``q``
    (``L(rho^+) = L(rho)^+``) and is not diagonalised separately.

    Examples
    --------
    >>> import qutip, qness
    >>> spec = qness.spectrum((qutip.sigmaz(), [qutip.sigmam()]), k=4)
    >>> round(spec.gap, 6)
    0.5
    """
    t0 = time.perf_counter()
    model = as_model(model)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    method = _resolve(method, options)
    secs = _sector_list(model, symmetry)
    steady_label = _steady_label(secs)
    vals, labs, mats, lmats, infos = [], [], [], [], {}
    u1 = secs[0].kind == "u1"
    # The steady-state sector first: its eigenvalues set the threshold that lets the
    # other sectors be certified (AutoEig) instead of solved.
    order = sorted(range(len(secs)), key=lambda i: (secs[i].label != steady_label, abs(secs[i].label)))
    need = max(k, 2)  # the gap needs 0 and the slowest mode
    zero_tol = ZERO_TOLERANCE * max(1.0, _scale(model))
    steady_sec = next((sec for sec in secs if sec.label == steady_label), None)
    plans = {}
    if steady_sec is not None and steady_sec.size > max(2 * need + 2, 64):
        # the Krylov route resolves eigenvalues only to its residual tolerance
        if isinstance(method, AutoEig):
            plans[steady_label] = _auto_plan(model, steady_sec, method, left)
        plan0 = plans[steady_label][0] if steady_label in plans else None
        if (isinstance(method, ShiftInvert) and method.inner == "krylov") or plan0 == "krylov":
            zero_tol = max(zero_tol, method.tol * _scale(model))
    certify = isinstance(method, AutoEig) and method.certify

    def threshold(extra_vals, mirrored):
        pool = [complex(z).real for z in vals]
        for z in extra_vals:
            pool += [z.real, z.real] if mirrored else [z.real]
        return float(np.sort(pool)[::-1][need - 1]) if len(pool) >= need else None

    for sec in (secs[i] for i in order):
        if u1 and sec.label < 0:
            continue  # conjugate of sector -q
        steady = sec.label == steady_label
        mirror = u1 and sec.label > 0
        kk = min(need if steady else k, sec.size)
        # Sectors too small for an Arnoldi basis are diagonalised exactly.
        solver = _dense_sector if sec.size <= max(2 * kk + 2, 64) else _SECTOR_SOLVERS[type(method)]
        extra, plan = {}, None
        if solver is _auto_sector:
            extra["plan"] = plan = plans.pop(sec.label, None) or _auto_plan(model, sec, method, left)
            if plan[0] == "dense":
                solver, extra = _dense_sector, {}
        skip_info = None
        if solver is _auto_sector and plan[0] == "krylov" and not steady and certify:
            thr = threshold([], mirror)
            if thr is not None and thr < -zero_tol:
                ok, skip_info = _certify_sector(model, sec, plan[1], thr, _certify_eps(sec.size),
                                                _certify_budget(method, plan[1]))  # fmt: skip
                if ok:
                    infos[sec.label] = skip_info
                    continue
        checked = certify and solver is _auto_sector
        if steady and not vectors and not left and solver is not _dense_sector:
            extra["deflate_trace"] = True
        sub = DenseEig() if solver is _dense_sector else method
        cap = min(sec.size - 2, max(4 * kk, 64))
        if checked and plan[0] == "lu":
            kk = min(kk + 4, cap)  # LU solves are cheap: a few more make a miss less likely
        while True:
            res = solver(model, sec, kk, sub, vectors or checked, left, **extra)
            if not checked:
                break
            # Shift-invert found the eigenvalues nearest zero: certify that none right of
            # the threshold is missing, asking for more when one evidently is.
            thr = threshold(res["values"], mirror)
            if thr is None or thr >= -zero_tol:
                break
            found, fvals, eps = res["right"], res["values"], _certify_eps(sec.size)
            if steady:
                # the steady state is kept out by a trace-zero start; the other right
                # eigenvectors are trace-zero (tr(L x) = 0 = lambda tr(x))
                i0 = int(np.argmin(np.abs(fvals)))
                keep_i = [i for i in range(len(fvals)) if i != i0]
                tvec = _unit_trace(sec)
                found = found[:, keep_i] - np.outer(tvec, tvec @ found[:, keep_i])
                fvals = fvals[keep_i]
                eps /= np.sqrt(model.dim)
            ok, cinfo = _certify_sector(model, sec, plan[1], thr, eps, _certify_budget(method, plan[1]),
                                        found=found, found_values=fvals, trace_zero=steady)  # fmt: skip
            res["info"]["certificate"] = cinfo
            if ok or not cinfo["slower_mode"]:
                break
            if sec.size <= method.dense_fallback:
                # a missed mode in a sector small enough to diagonalise: do that, exactly
                res = _dense_sector(model, sec, kk, DenseEig(), vectors, left)
                res["info"]["shift_invert_missed"] = cinfo
                break
            if kk >= cap or plan[0] == "krylov":
                break  # more nearest-zero eigenvalues are cheap only on an LU; checked at the end
            kk = min(2 * kk + 2, cap)
        infos[sec.label] = res["info"]
        if skip_info is not None:
            infos[sec.label]["skip_certificate"] = skip_info
        for i, lam in enumerate(res["values"]):
            vals.append(lam)
            labs.append(sec.label)
            if vectors:
                mats.append(_to_matrix(sec, res["right"][:, i]))
            if left:
                lmats.append(_to_matrix(sec, res["left"][:, i]))
            if mirror:
                vals.append(np.conj(lam))
                labs.append(-sec.label)
                if vectors:
                    mats.append(mats[-1].conj().T)
                if left:
                    lmats.append(lmats[-1].conj().T)
    vals = np.array(vals, dtype=np.complex128)
    labs = np.array(labs, dtype=np.int64)
    order = np.argsort(-vals.real, kind="stable")
    vals, labs = vals[order], labs[order]
    mats = [mats[i] for i in order] if vectors else []
    lmats = [lmats[i] for i in order] if left else []
    gap, slow = _gap(vals, labs, steady_label, zero_tol)
    final = float(np.sort(vals.real)[::-1][min(need, len(vals)) - 1]) if len(vals) else -np.inf
    for label, inf in infos.items():
        cert = inf.get("certificate", {})
        miss, rate = cert.get("missing"), cert.get("missing_rate")
        if miss is not None and miss.real > final:
            seen = f"an eigenvalue near {miss:.6g}"
        elif rate is not None and -rate > final:
            seen = f"modes decaying at rate {rate:.4g}"
        else:
            continue
        warnings.warn(
            f"spectrum: propagation shows {seen} in sector {label}, slower than the {need}-th "
            "eigenvalue returned, that shift-invert did not find among those nearest zero (slow "
            "modes with large imaginary parts); the result misses them. Use method='dense' on "
            "small sectors or a smaller k.",
            SpectrumWarning,
            stacklevel=2,
        )
    info = {"sectors": infos, "time": time.perf_counter() - t0, "slowest_index": slow,
            "method": type(method).__name__,
            # True when every sector was diagonalised exactly (gap = rightmost mode for sure);
            # False when some sector used shift-invert (eigenvalues nearest zero there).
            "exact_rightmost": all(v["method"] in ("DenseEig", "certified")
                                   or v.get("certificate", {}).get("method") == "certified"
                                   for v in infos.values()),
            "zero_tolerance": zero_tol}  # fmt: skip
    keep = min(k, len(vals))
    if slow is not None and slow >= keep:
        keep = slow + 1  # always keep the slowest mode that defines the gap
    return Spectrum(vals[:keep], labs[:keep], mats[:keep], lmats[:keep], gap, info)


def liouvillian_gap(model, method=None, *, symmetry="auto", **options) -> float:
    """The Liouvillian gap ``-Re(lambda_1) > 0`` (hbar = 1; units of the rates).

    Parameters
    ----------
    model : LindbladModel or tuple (H, c_ops)
        The master equation.
    method, symmetry, **options
        As for :func:`spectrum`.

    Returns
    -------
    float
        Minimum over sectors of the decay rate of the slowest mode; ``0.0``
        if the steady state is not unique, or if the gap is below the
        resolution ``spectrum(...).info["zero_tolerance"]`` (``1e-12`` times
        the scale of ``L``'s diagonal; the residual tolerance ``tol`` times
        that scale when the steady sector takes the Krylov route). Sectors
        diagonalised by shift-invert find the eigenvalues *nearest zero*;
        with :class:`AutoEig` (the default) each is then certified by
        propagation to miss no mode with a larger real part, and more are
        computed when one evidently is missing.
        ``spectrum(...).info["exact_rightmost"]`` is ``True`` when every
        sector was dense or certified; when a certificate was too costly
        (slow modes close together) it is ``False``: use ``method="dense"``
        to be sure on small sizes.

    Examples
    --------
    >>> import qutip, qness
    >>> a = qutip.destroy(10)
    >>> round(qness.liouvillian_gap((0.5 * a.dag() * a, [a])), 6)  # damped cavity: kappa/2
    0.5
    """
    # k = 1: the steady sector is still asked for 2 eigenvalues (0 and its slowest mode),
    # every other sector only for its slowest one; that is all the gap needs.
    return spectrum(model, k=1, method=method, symmetry=symmetry, vectors=False, **options).gap


def _sector_list(model, symmetry) -> list[Sector]:
    if symmetry is None or symmetry is False:
        return [full_sector(model.dim)]
    if isinstance(symmetry, str):
        if symmetry != "auto":
            raise ValueError(f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}")
        if model.u1() is None and model.z2() is None:
            found = detect_symmetry(model)
            return [full_sector(model.dim)] if found is None else sectors(model, found, check=False)
        return sectors(model)
    if isinstance(symmetry, (U1Symmetry, Z2Symmetry)):
        return sectors(model, symmetry)
    raise ValueError(
        f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {type(symmetry).__name__}"
    )


def _steady_label(secs) -> int:
    return 1 if secs[0].kind == "z2" else 0


def _to_matrix(sector: Sector, x: np.ndarray) -> np.ndarray:
    rho = sector.to_full(x) if sector.kind != "full" else np.reshape(x, (sector.d, sector.d), order="F")
    nrm = np.linalg.norm(rho)
    if nrm > 0:
        # fix the phase so the largest entry is real positive, and normalise
        j = np.unravel_index(np.argmax(np.abs(rho)), rho.shape)
        rho = rho * (abs(rho[j]) / rho[j]) / nrm
    return rho


#: A sector of ``n`` unknowns is certified when ``||exp(tL) v|| <= eps exp(t threshold)`` for a
#: random unit ``v``, with ``n eps^2 = CERTIFY_PROBABILITY``: the probability that a missing
#: eigenvalue right of the threshold escapes the test.
CERTIFY_PROBABILITY = 1e-10

#: Eigenvalues within this multiple of the scale of L's diagonal count as zero: a gap
#: below it is reported as 0.0 (degenerate steady states cannot be told apart from it).
ZERO_TOLERANCE = 1e-12


def _gap(vals, labs, steady_label, zero_tol):
    """Gap and index of the slowest mode: drop one zero eigenvalue of the steady sector."""
    zeros = np.flatnonzero((labs == steady_label) & (np.abs(vals) <= zero_tol))
    if zeros.size == 0:
        return np.nan, None
    rest = [i for i in range(len(vals)) if i != zeros[0]]
    if not rest:
        return np.nan, None
    slow = rest[0]  # sorted by real part descending
    return float(-vals[slow].real) if abs(vals[slow].real) > zero_tol else 0.0, slow
