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

Rightmost by construction (:class:`AutoEig`, ``certify=True``, the
default). Shift-invert finds the eigenvalues *nearest* its shift, which need
not be the rightmost (a detuned driven cavity's slowest pair
``-kappa/2 +- i omega`` lies further from zero than ``-kappa``; a Kerr
resonator's nearest mode, ``-0.878``, is not its slowest, ``-0.524 +- 0.783i``).
Every sector that is not diagonalised densely therefore goes through
:mod:`qness.solvers.certify`: conjugate partners are added (the spectrum of a
Liouvillian is closed under conjugation), a propagation certificate is tried
with the found modes deflated, and where it fails an Arnoldi search on the
deflated propagator ``P exp(tau L) P`` finds the rightmost modes still
missing; then the certificate is tried again. A large sector other than the
steady state's is first propagated alone: if its norm falls below
``eps exp(t Re lambda_k)``, where ``lambda_k`` is the ``k``-th eigenvalue
found so far, it holds no eigenvalue right of ``lambda_k`` except with
probability ``n eps^2 = 1e-10`` and is not diagonalised (this dismisses the
dense bands of a 10-spin chain's ``q != 0`` sectors in about 1,500 products
each). A sector of at most ``dense_fallback`` unknowns that is still not
certified is diagonalised densely; otherwise ``Spectrum.certified`` is
``False`` and :func:`spectrum` emits a :class:`~qness.SpectrumWarning` naming
the sector and the evidence. ``info["sectors"][q]["established"]`` says how
each sector's result was obtained.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._threads import limit_blas, one_blas_thread
from ..model import LindbladModel, SuperoperatorModel, U1Symmetry, Z2Symmetry, as_model
from ..symmetry import Sector, detect_symmetry, full_sector, sectors
from .certify import (
    Deflation,
    certify_eps,
    certify_sector,
    close_under_conjugation,
    search_missing,
    unit_trace,
)
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
    """Per sector: dense below ``dense_max`` unknowns (and up to ``dense_fallback`` unknowns
    when at least :data:`DENSE_FILL` of the sector matrix is nonzero; ``dense_max=0``: neither),
    shift-invert on a sparse LU where
    the LU is cheap (envelope estimate below ``direct_flops``), inexact shift-invert with
    Sylvester-preconditioned GMRES (``ShiftInvert(inner="krylov")``) otherwise.

    Attributes
    ----------
    dense_fallback : int
        A sector up to this size that the certificate could not certify is
        diagonalised densely instead (a dense ``eig`` with vectors of 2,500
        unknowns takes about a minute on one core; the uncertified
        shift-invert result it replaces missed slow oscillating modes on
        sectors of 1,024-1,296 unknowns: gaps 8-33 % too large).
    dense_max, direct_flops : float
        Size and LU-cost thresholds between the three routes: a sector of a
        many-body model takes the LU route when the envelope estimate of its
        LU is below ``direct_flops``; a single mode (one tensor factor)
        always does, since its LU fill stays small.
    tol : float
        Relative accuracy (ARPACK's for the LU route; residual
        ``||L x - lambda x|| <= tol * scale`` for the Krylov route).
    certify : bool
        Make each sector's result its rightmost eigenvalues, certified
        (:mod:`qness.solvers.certify`): before solving a large sector
        (Krylov route) other than the steady state's, try to certify by
        propagation that it holds no eigenvalue right of the ``k``-th found
        so far (a certified sector is skipped and listed in
        ``info["sectors"]`` with method ``"certified"``); after solving one
        by shift-invert, add conjugate partners, certify with the found
        modes deflated, and where that fails search the deflated propagator
        for the missing rightmost modes. ``False``: shift-invert results
        are returned as found (eigenvalues nearest zero), uncertified.
    certify_matvecs, certify_flops : float
        Budget per certificate: ``max(certify_matvecs, certify_flops / nnz)``
        products with the sector matrix (so small sectors get more; at most
        about a dense solve's cost, ``n^3 / nnz``, in sectors of up to
        ``dense_fallback`` unknowns). A certificate whose observed decay
        predicts more gives up: a skipped sector is then solved, a solved
        one searched (where there is evidence of a missing mode, or on an
        LU), diagonalised densely when small, and otherwise reported
        uncertified with the budget that would do (``SpectrumWarning``).
        The default, 16,000, certifies the steady-state sectors of the
        boundary-driven XXZ chain at 8-10 spins, which need 6,600-12,400
        products (a certificate costs about ``log(1/eps) ||L|| / margin``,
        ``margin`` the decay rate in excess of the threshold's).
    """

    dense_max: int = 400
    dense_fallback: int = 2500
    direct_flops: float = 2e8
    tol: float = 1e-10
    certify: bool = True
    certify_matvecs: int = 16000
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
    """All eigenvalues of the dense sector block (``scipy.linalg.eig``).

    Exact up to rounding, so always certified; cost ``O(n^3)`` time and
    ``16 n^2`` bytes per sector of ``n`` unknowns.

    Attributes
    ----------
    max_size : int
        Largest sector diagonalised (``ValueError`` above it, naming the
        sector and suggesting :class:`AutoEig`).
    """

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
        Method used per sector, sizes, times, residuals; ``info["sectors"][q]
        ["established"]`` says how each sector's result was established
        (dense, certified by propagation, found by the propagator search).
    certified : bool
        ``True`` when every sector was diagonalised densely or certified by
        propagation to hold no eigenvalue right of the ``k``-th returned
        (probability of a miss below ``1e-10`` per sector): the eigenvalues
        are the rightmost ones. ``False`` otherwise, and then
        :func:`spectrum` has warned (``SpectrumWarning``) unless the method
        asked for no certificate.
    """

    eigenvalues: np.ndarray
    sectors: np.ndarray
    eigenmatrices: list = field(default_factory=list)
    left_eigenmatrices: list = field(default_factory=list)
    gap: float = np.nan
    info: dict = field(default_factory=dict)
    certified: bool = False

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
        raise ValueError(
            f"DenseEig: sector {sector.label} has {n} unknowns, above max_size={method.max_size}; "
            "use method=qness.AutoEig() (shift-invert, certified) or raise max_size"
        )
    M = (sector.matrix(model) if M is None else M).toarray()
    with one_blas_thread():  # see qness._threads: LAPACK eig collapses on busy cores
        if left:
            w, vl, vr = sla.eig(M, left=True, right=True)
        else:
            if vectors:
                w, vr = sla.eig(M)
            else:
                w, vr = sla.eigvals(M), None
            vl = None
    order = np.argsort(-w.real, kind="stable")
    if 0 < k < len(w):
        # keep every value tied with the k-th in real part (partners of a pair cut at the k-th,
        # whose order among equal real parts rounding decides)
        cut = w.real[order[k - 1]]
        tie = max(1e-9 * abs(cut), 1e-13 * float(np.max(np.abs(w))))
        k = int(np.count_nonzero(w.real >= cut - tie))
    order = order[:k]
    out = {"values": w[order]}
    if vectors or left:
        out["right"] = vr[:, order]
    if left:
        out["left"] = vl[:, order]
    out["info"] = {"method": "DenseEig", "size": n}
    return out


def _norm_scale(model) -> float:
    """A bound on ``||L||`` (twice the largest absolute row sum of ``H_eff``, or of ``L`` itself).

    The computed zero eigenvalue is off by about ``1e-16 ||L||``, and ``||L||`` can far exceed the
    diagonal scale (a resonant drive or hopping of size ``F`` or ``J`` puts ``F`` off the diagonal).
    """
    if isinstance(model, SuperoperatorModel):
        A = model.L
        factor = 1.0
    else:
        A = model.H_eff()
        factor = 2.0
    return factor * float(np.max(np.asarray(abs(sp.csr_array(A)).sum(axis=1)).ravel(), initial=0.0))


def _zero_scale(model) -> float:
    """The scale the zero tolerance multiplies: the larger of the diagonal scale and ``||L||``'s bound
    (1 only for a Liouvillian that is zero)."""
    if isinstance(model, SuperoperatorModel):
        s = max(model.scale(), _norm_scale(model))
    else:
        s = max(2.0 * float(np.max(np.abs(model.H_eff().diagonal()), initial=0.0)), _norm_scale(model))
    return s if s > 0 else 1.0


def _scale(model: LindbladModel) -> float:
    if isinstance(model, SuperoperatorModel):
        return model.scale()
    s = 2.0 * float(np.max(np.abs(model.H_eff().diagonal()), initial=0.0))
    return s if s > 0 else 1.0


def _bohr_width(model) -> float | None:
    """An upper bound on ``E_max - E_min`` of ``H`` (None for a bare Liouvillian).

    Dense ``eigvalsh`` up to 2,048 levels; Lanczos beyond, widened by its
    residual bound and 0.1% (the propagator's ellipse has 25% to spare).
    """
    if isinstance(model, SuperoperatorModel):
        return None
    H = sp.csr_array(model.H)
    if H.shape[0] <= 2048:
        e = sla.eigvalsh(H.toarray())
        return float(e[-1] - e[0])
    try:
        hi, vh = spla.eigsh(H, k=1, which="LA", tol=1e-8)
        lo, vl = spla.eigsh(H, k=1, which="SA", tol=1e-8)
    except spla.ArpackError:
        return None
    res = np.linalg.norm(H @ vh[:, 0] - hi[0] * vh[:, 0]) + np.linalg.norm(H @ vl[:, 0] - lo[0] * vl[:, 0])
    width = float(hi[0] - lo[0])
    return width + res + 1e-3 * abs(width)


def _propagator(model, sector, M, width):
    """The Chebyshev propagator of a sector, on a box tighter than Gershgorin's.

    The anti-Hermitian part of ``L`` is ``-ad_H + Im(D)`` (``D`` the
    dissipator): by Weyl's inequality its spectrum lies within
    ``[-W, W] + [min, max] of Im(D)``, ``W = E_max - E_min`` of ``H``
    (restricted to a sector, ``ad_H`` keeps its eigenvalues within that
    range). Gershgorin discs of ``Im(D)`` alone are narrow, whereas those of
    ``Im(L)`` count every hopping of ``H`` in every row: for the 8-spin XXZ
    chain the box's imaginary half-width drops from 29 to 20 and the
    propagator's products per unit time from 61 to 48. Each side keeps the
    smaller of the two bounds. The series is truncated at ``1e-10`` with
    substeps up to ``growth = 8`` (see :class:`ChebyshevPropagator`): 43
    products per unit time.

    For a model kept as local terms (:attr:`LindbladModel.terms`) both parts
    of ``D = sum_k D_k`` are bounded by Weyl's inequality again, through the
    exact spectra of each jump's small local superoperator (a compression to
    a sector keeps the numerical range inside): the real part of the 8-spin
    XXZ box shrinks from ``[-3, 1]`` to ``[-2.41, 0.41]``.
    """
    from .propagate import ChebyshevPropagator, numerical_range_box

    box = numerical_range_box(M)
    if width is not None and isinstance(model, LindbladModel) and not isinstance(model, SuperoperatorModel):
        local = _local_dissipator_box(model)
        if local is None:
            Dsec = sector.matrix(model.replace(H=sp.csr_array(model.H.shape, dtype=np.complex128), drives=()))
            _, _, d1, d2 = numerical_range_box(Dsec)
        else:
            box = (max(box[0], local[0]), min(box[1], local[1]), box[2], box[3])
            d1, d2 = local[2], local[3]
        box = (box[0], box[1], max(box[2], d1 - width), min(box[3], d2 + width))
    return ChebyshevPropagator(M, box=box, tol=1e-10, growth=8.0)


def _local_dissipator_box(model) -> tuple[float, float, float, float] | None:
    """Weyl bounds ``(a, b, c1, c2)`` on ``Re W(D)``, ``Im W(D)`` from each jump's local dissipator.

    ``D = sum_k D_k`` with ``D_k`` acting on the few sites of jump ``k`` (as
    ``D_k^loc`` tensored with identities, which keeps the spectra of its
    Hermitian and anti-Hermitian parts), so ``lambda_min((D + D^+)/2) >=
    sum_k lambda_min((D_k^loc + D_k^loc+)/2)`` and likewise for the other
    bounds. ``None`` for a model without local terms, or with a jump whose
    support has dimension above 32.
    """
    terms = getattr(model, "terms", None)
    if terms is None:
        return None
    out = np.zeros(4)
    for t in terms.jumps:
        ops = [o.toarray() if sp.issparse(o) else np.asarray(o, dtype=np.complex128) for o in t.ops]
        A = ops[0]
        for o in ops[1:]:
            A = np.kron(A, o)
        A = math.sqrt(t.rate) * A
        d = A.shape[0]
        if d > 32:
            return None
        eye = np.eye(d)
        AdA = A.conj().T @ A
        # column stacking: vec(X rho Y) = (Y^T kron X) vec(rho)
        D = np.kron(A.conj(), A) - 0.5 * np.kron(eye, AdA) - 0.5 * np.kron(AdA.T, eye)
        re = np.linalg.eigvalsh((D + D.conj().T) * 0.5)
        im = np.linalg.eigvalsh((D - D.conj().T) * -0.5j)
        out += (re[0], re[-1], im[0], im[-1])
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])


def _trace_factor(sector, vals, vecs, d) -> float:
    """``sqrt(d P)`` (at most ``sqrt(d)``), ``P = ||rho||_F^2 / tr(rho)^2`` the steady state's purity.

    In the steady-state sector the certificate starts from a random
    *trace-zero* vector, so a missing mode's left eigenvector ``w`` is seen
    through its trace-free part ``w - t t^+ w`` (``t`` the unit trace
    functional). Since ``w`` is orthogonal to the steady state ``rho``,
    ``|t^+ w| <= sqrt(1 - |t^+ rho|^2 / ||rho||^2)``, so the trace-free part has
    norm at least ``|t^+ rho| / ||rho|| = 1 / sqrt(d P)``. For a mixed NESS
    ``d P`` is of order one (2.8 for the 8-spin XXZ chain) where the bound
    ``1/sqrt(d)`` that holds for any state costs ``log sqrt(d)`` more
    propagation time. The computed steady vector is used with 10% to spare.
    """
    full = np.sqrt(float(d))
    if vecs is None or not len(vals):
        return full
    x = vecs[:, int(np.argmin(np.abs(vals)))]
    tr = abs(complex(sector.trace_vector() @ x))
    if not np.any(x) or tr == 0.0:
        return full
    dP = float(d) * float(np.vdot(x, x).real) / tr**2
    return float(min(full, np.sqrt(1.1 * dP)))


def _shifted_lu(M, sigma) -> spla.LinearOperator:
    """``(M - sigma)^{-1}`` as a LinearOperator, from one sparse LU (an ordering for Liouvillians)."""
    n = M.shape[0]
    lu = spla.splu(
        sp.csc_matrix(M - sigma * sp.eye(n, format="csc")),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.1,
        options={"SymmetricMode": True},
    )
    return spla.LinearOperator((n, n), matvec=lu.solve, dtype=np.complex128)


def _shift_invert_sector(model, sector, k, method: ShiftInvert, vectors, left, M=None, deflate_trace=False):
    n = sector.size
    if method.inner == "krylov":
        return _krylov_sector(model, sector, k, method, vectors, left, M, deflate_trace=deflate_trace)
    M = sp.csc_matrix(sector.matrix(model) if M is None else M)
    sigma = method.sigma if method.sigma is not None else 1e-3 * _scale(model)
    kk = min(k, n - 2)
    out = {}

    def run(Mat, sig):
        op = _shifted_lu(Mat, sig)
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
        Mh = sp.csc_matrix(M.conj().T)
        wl, vl = run(Mh, sigma)
        # match left to right eigenvalues (L^+ has the conjugate eigenvalues). A conjugate pair is
        # equidistant from the real shift: where the k values cut one, the two runs can keep
        # different members, and the left vector of conj(lambda) was returned for lambda (residual
        # 0.63 on a driven Kerr mode, in 4 of 10 calls; session 17). Every left vector is checked,
        # and one that is not lambda's comes from inverse iteration at lambda.
        rng = np.random.default_rng(7)
        scale = max(float(np.max(np.abs(out["values"]), initial=0.0)), _scale(model))
        cols = []
        for lam in out["values"]:
            j = int(np.argmin(np.abs(wl.conj() - lam)))
            lv = vl[:, j] / np.linalg.norm(vl[:, j])
            if np.linalg.norm(Mh @ lv - np.conj(lam) * lv) > 1e-8 * scale:
                lv = _left_vector(M, lam, rng)
            cols.append(lv)
        out["left"] = _independent_left(M, out["values"], np.column_stack(cols), rng, scale)
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
        tvec = unit_trace(sector)

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


#: ``AutoEig`` diagonalises a sector of up to ``max(dense_fallback, DENSE_FILL_MAX)`` unknowns
#: densely when its matrix has at least this fraction of nonzero entries: the sparse routes'
#: products and LU then cost about as much as dense ones, and their certificate far more (a dense
#: random model of 2,601 unknowns, just above dense_fallback, had not finished in 120 s; the dense
#: eig of 2,500 took 36 s).
DENSE_FILL = 0.05
DENSE_FILL_MAX = 6000


def _auto_plan(model, sector, method: AutoEig, left):
    """``(route, M)``: ``"dense"``, ``"lu"`` or ``"krylov"`` for this sector, and its matrix."""
    from .steady import envelope_estimate

    if sector.size <= method.dense_max:
        return "dense", None
    M = sector.matrix(model)
    dense_fill = method.dense_max > 0 and sector.size <= max(method.dense_fallback, DENSE_FILL_MAX)
    if dense_fill and M.nnz >= DENSE_FILL * sector.size**2:
        # dense jumps make L dense (conj(c) (x) c has all d^4 entries): the sparse routes cost more
        # than the dense eig and may still need it (a model of dims [6, 6] with two dense jumps:
        # gap 17 s, spectrum(k=6) 76 s, against a dense eig of its 1,296 unknowns in about 5 s)
        return "dense", None
    if left or len(model.dims) == 1 or isinstance(model, SuperoperatorModel):
        # one mode: L's graph is a 2-D grid of (i, j) and a fill-reducing LU stays small;
        # a bare matrix (SuperoperatorModel) has no Sylvester preconditioner for the Krylov route
        return "lu", M
    flops, _ = envelope_estimate(M)
    return ("lu" if flops <= method.direct_flops else "krylov"), M


def _auto_sector(model, sector, k, method: AutoEig, vectors, left, plan=None, deflate_trace=False):
    route, M = _auto_plan(model, sector, method, left) if plan is None else plan
    if route == "dense":
        return _dense_sector(model, sector, k, DenseEig(), vectors, left)
    inner = ShiftInvert(tol=method.tol, inner=route)
    return _shift_invert_sector(model, sector, k, inner, vectors, left, M, deflate_trace=deflate_trace)


def _certify_budget(method: AutoEig, M) -> int:
    return int(max(method.certify_matvecs, method.certify_flops / max(M.nnz, 1)))


def _refiner(model, sector, route, M, tol):
    """``(lambda, x) -> (lambda, x)``: Rayleigh-quotient iteration with a complex shift.

    On an LU (``route="lu"``) each step factorises ``M - lambda``; on the
    Krylov route it solves by Sylvester-preconditioned GMRES.
    """

    def refine(lam, x):
        for _ in range(4):
            try:
                if route == "krylov":
                    solve, _count = _krylov_inverse(model, sector, lam, M)
                    y = solve(x, 1e-10)
                else:
                    y = _shifted_lu(M, lam) @ x
            except (RuntimeError, ConvergenceError):
                break  # exactly singular at lambda, or no solve: keep what there is
            nrm = np.linalg.norm(y)
            if not np.isfinite(nrm) or nrm == 0:
                break
            x = y / nrm
            Mx = M @ x
            lam = complex(np.vdot(x, Mx))
            if np.linalg.norm(Mx - lam * x) <= tol:
                break
        return lam, x

    return refine


def _independent_left(M, values, left, rng, scale):
    """``left`` with every cluster of equal eigenvalues given independent left vectors.

    Matching by eigenvalue gives each copy of a repeated eigenvalue the same left vector (two
    identical cavities: rank 7 of 8, no dual basis; session 17). Where a cluster's vectors are
    dependent, they are replaced by inverse iteration from independent random starts, orthonormalised.
    """
    values = np.asarray(values)
    left = np.array(left, dtype=np.complex128)
    done = np.zeros(len(values), dtype=bool)
    for i in range(len(values)):
        if done[i]:
            continue
        group = np.flatnonzero(np.abs(values - values[i]) <= 1e-8 * scale)
        done[group] = True
        m = len(group)
        if m < 2 or np.linalg.matrix_rank(left[:, group], tol=1e-6 * np.linalg.norm(left[:, group], 2)) == m:
            continue
        lam = complex(np.mean(values[group]))
        W = np.column_stack([_left_vector(M, lam, rng) for _ in range(m)])
        Q, R = np.linalg.qr(W)
        if np.min(np.abs(np.diag(R))) > 1e-6 * np.max(np.abs(np.diag(R))):
            left[:, group] = Q
    return left


def _left_vector(M, lam, rng):
    """A unit left eigenvector of ``M`` for ``lam`` (``M^+ w = conj(lam) w``) by inverse iteration."""
    n = M.shape[0]
    inverse = _shifted_lu(M.conj().T, np.conj(lam))
    w = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    for _ in range(3):
        w = inverse @ w
        w /= np.linalg.norm(w)
    return w


def _near_shift(M, sigma, count, deflation, tol):
    """Eigenpairs of ``M`` nearest the complex ``sigma`` (ARPACK on one LU) that ``deflation`` lacks.

    A pair is new when its vector is not (to 1e-6) in the span already found (nor, in the steady
    sector, the steady state: every other eigenvector is trace-zero); it is kept when
    ``||M x - lambda x|| <= tol``. Returns ``(values, vectors, info)`` as :func:`search_missing`.
    """
    n = M.shape[0]
    t0 = time.perf_counter()
    info = {"method": "shift-invert on an LU", "sigma": complex(sigma)}
    k = int(min(count, n - 2))
    try:
        op = _shifted_lu(M, sigma)
        w, X = spla.eigs(M, k=k, sigma=sigma, OPinv=op, which="LM", tol=1e-12, maxiter=2000)
    except (RuntimeError, spla.ArpackNoConvergence) as exc:
        info.update(error=str(exc), accepted=0, time=time.perf_counter() - t0)
        return np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128), info
    vals, vecs = [], []
    for lam, x in zip(w, X.T):
        x = x / np.linalg.norm(x)
        if np.linalg.norm(deflation(x)) <= 1e-6 or np.linalg.norm(M @ x - lam * x) > tol:
            continue
        if deflation.tvec is not None and abs(deflation.tvec @ x) > 1e-6:
            continue  # the steady state (the only eigenvector with a trace), found already
        vals.append(complex(lam))
        vecs.append(x)
    info.update(accepted=len(vals), time=time.perf_counter() - t0)
    if not vals:
        return np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128), info
    return np.array(vals), np.column_stack(vecs), info


#: Rounds of (certificate, propagator search) per sector before giving up.
MAX_ROUNDS = 6


def _rightmost(
    model, sec, plan, res, kk, method: AutoEig, threshold, mirror, steady, zero_tol, vectors, left, width=None
):
    """Make a shift-invert result the sector's rightmost eigenvalues, certified, or say it is not.

    Conjugate partners are added, then the certificate is tried with the
    found modes deflated; where it fails, the propagator search finds the
    rightmost modes still missing, they are deflated too, and the
    certificate is tried again (see :mod:`qness.solvers.certify`). A sector
    that stays uncertified is diagonalised densely when it has at most
    ``dense_fallback`` unknowns; otherwise its info says why it is not
    certified (and :func:`spectrum` warns).
    """
    route, M = plan
    n = sec.size
    vals, vecs = res["values"], res["right"]
    tol = (1e-11 if route == "lu" else method.tol) * _scale(model)
    refine = _refiner(model, sec, route, M, tol)
    prop = _propagator(model, sec, M, width)
    budget = _certify_budget(method, M)
    if n <= method.dense_fallback:
        # a dense eig costs about n^3 / nnz products: propagating longer would only lose time
        budget = int(min(budget, max(n**3 / max(M.nnz, 1), 1000)))
    eps = certify_eps(n) / (_trace_factor(sec, vals, vecs, model.dim) if steady else 1.0)
    rounds, ok, searched, added_pairs, widened = [], False, 0, 0, 0
    for _ in range(MAX_ROUNDS):
        if prop.matvecs > 2 * budget:
            break
        vals, vecs, added = close_under_conjugation(sec, vals, vecs, zero_tol)
        added_pairs += added
        thr = threshold(vals, mirror)
        if thr is None or thr >= -zero_tol:
            ok = True  # the k-th eigenvalue is zero: nothing lies right of it
            break
        keep_i = np.arange(len(vals))
        if steady:
            # the steady state is kept out by the trace-zero deflation; the other right
            # eigenvectors are trace-zero (tr(L x) = 0 = lambda tr(x))
            keep_i = np.delete(keep_i, int(np.argmin(np.abs(vals))))
        defl = Deflation(sec, vecs[:, keep_i], trace_zero=steady)
        ok, cinfo, v = certify_sector(sec, M, thr, eps, budget, defl, vals[keep_i], prop=prop)
        rounds.append(cinfo)
        if ok:
            break
        slower = cinfo["slower_mode"]
        hopeless = cinfo["predicted_matvecs"] is not None and cinfo["predicted_matvecs"] > 5 * budget
        # (only once transients are over, which a prediction from an early rate is not; and an
        # LU widens once first, which is cheap)
        hopeless = hopeless and cinfo["settled"] and (route != "lu" or widened > 0)
        if not slower and (route == "krylov" or n <= method.dense_fallback or hopeless):
            # the certificate ran out of budget with no sign of a missing mode (the vector decays
            # faster than the threshold): a small sector is cheaper to diagonalise, on a many-body
            # sector the search would cost several times the solve (8 spins: about 23,000
            # products to converge the next four modes), and a certificate that needs over five
            # times its budget is not rescued by a few more deflated modes (Kerr 100: 3e5 of 1e4)
            break
        new_vals = np.zeros(0)
        if route == "lu" and (cinfo["guess"] is not None or widened < 2):
            # shift-invert on an LU is far cheaper than propagation: at the location of the slow
            # modes the certificate's last vectors give, or else at the first shift for
            # more of the modes nearest zero (deflated, they let the certificate pass sooner; twice
            # at most, since where the margin is set by modes far from zero that never ends); the
            # propagator search is the fallback
            at = cinfo["guess"]
            if at is None:
                at, widened = res["info"].get("sigma", 0.0), widened + 1
            new_vals, new_vecs, sinfo = _near_shift(M, at, 2 * kk + 2 + len(vals), defl, tol)
        if not len(new_vals):
            new_vals, new_vecs, sinfo = search_missing(
                M, sec, defl, 2 * kk + 2, v, thr, budget, refine=refine, tol=tol, prop=prop
            )
        cinfo["search"] = sinfo
        if not len(new_vals):
            break
        searched += len(new_vals)
        vals = np.concatenate([vals, new_vals])
        vecs = np.column_stack([vecs, new_vecs])
    info = res["info"]
    info.update(certified=ok, rounds=len(rounds), found_by_search=searched, conjugates_added=added_pairs)
    if rounds:
        info["certificate"], info["certificates"] = rounds[-1], rounds
    how = f"{info['method']} ({info.get('inner', '')})"
    if searched:
        how += f" + search ({searched} modes)"
    if not ok and n <= method.dense_fallback:
        # a sector small enough to diagonalise: do that, exactly
        dense = _dense_sector(model, sec, kk, DenseEig(), vectors, left)
        dense["info"].update(certified=True, established=f"dense after {how} was not certified",
                             not_certified=rounds[-1] if rounds else None)  # fmt: skip
        return dense
    if ok:
        info["established"] = how + (", certified by propagation" if rounds else ", k-th eigenvalue is zero")
    else:
        last = rounds[-1] if rounds else {}
        evidence = (
            f"propagation over t = {last.get('time_propagated', 0):.3g} ({last.get('matvecs', 0)} products) "
            f"left norm {last.get('norm', np.nan):.3g} > bound {last.get('bound', np.nan):.3g}"
        )
        if last.get("rate") is not None:
            evidence += f", decaying at rate {last['rate']:.4g} against threshold {-last['threshold']:.4g}"
        if last.get("missing") is not None:
            evidence += f", a Ritz value near {last['missing']:.6g} that was not found"
        if last.get("predicted_matvecs") is not None:
            pred = last["predicted_matvecs"]
            evidence += (
                f"; the norm so far decays faster than the threshold, which does not exclude a slower "
                f"mode of small weight in the start vector; the certificate needs about {pred:.3g} "
                f"products (pass method=qness.AutoEig(certify_matvecs={int(pred * 1.2)}) to run it, or "
                "method='dense' where the sector fits)"
            )
        info["evidence"] = evidence
        info["established"] = how + ", uncertified"
    order = np.argsort(-vals.real, kind="stable")
    res["values"], res["right"] = vals[order], vecs[:, order]
    if left:
        rng = np.random.default_rng(7)
        lv = [res["left"][:, j] for j in range(res["left"].shape[1])]
        lv += [_left_vector(M, lam, rng) for lam in vals[len(lv) :]]
        scale = max(float(np.max(np.abs(vals), initial=0.0)), _scale(model))
        res["left"] = _independent_left(M, vals[order], np.column_stack(lv)[:, order], rng, scale)
    return res


_SECTOR_SOLVERS = {
    DenseEig: _dense_sector,
    ShiftInvert: _shift_invert_sector,
    AutoEig: _auto_sector,
}


# ------------------------------------------------------------------ public API
def spectrum(model, k: int | None = None, method=None, *, symmetry="auto", vectors: bool = True,
             left: bool = False, **options) -> Spectrum:  # fmt: skip
    """The ``k`` eigenvalues of the Liouvillian with the largest real part, by sector.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation (hbar = 1, standard Lindblad form), or its
        Liouvillian matrix (``Qobj`` of type ``"super"``, square matrix,
        :class:`~qness.SuperoperatorModel`): then the sectors are the
        connected components of its graph (label 0 holds the components
        with diagonal elements), and large sectors take the LU shift-invert
        route (no Sylvester preconditioner without ``H``).
    k : int, optional
        Number of eigenvalues returned (over all sectors); default 6, or all
        ``d**2`` where there are fewer (a qubit has 4). Each sector is
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
        Settings of the method (unknown names raise ``TypeError``).

    Returns
    -------
    Spectrum
        The ``k`` eigenvalues with the largest real part over all sectors
        (``k + 1`` when the ``k``-th is one of a conjugate pair; more when
        the slowest mode defining the gap lies beyond), sorted by real part
        (descending) with sector labels, the gap and the eigenmatrices.
        An explicit ``ShiftInvert`` returns those nearest its shift (just
        right of zero), uncertified; ``AutoEig`` and ``DenseEig`` the
        rightmost (see the module notes).

    Raises
    ------
    TypeError
        ``k`` not an integer; unknown method options.
    ValueError
        ``k`` below 1 or larger than ``d**2``; a model with non-finite
        entries.

    Warns
    -----
    SpectrumWarning
        A sector whose result is not certified (``Spectrum.certified`` is
        ``False``), with the sector and the evidence; with an explicit
        ``ShiftInvert`` or ``AutoEig(certify=False)``, one warning naming the
        sectors whose eigenvalues are those nearest the shift (when more
        than one eigenvalue is returned).

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
    if isinstance(k, (list, tuple)):
        raise TypeError(
            "k must be a positive integer, got a list: to pass QuTiP's (H, c_ops), pass them as one "
            "tuple, spectrum((H, c_ops), k=...)"
        )
    model = as_model(model)
    if k is None:
        k = min(6, model.dim**2)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be a positive integer, got {type(k).__name__} {k!r}")
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > model.dim**2:
        raise ValueError(
            f"k = {k} exceeds the {model.dim**2} eigenvalues of the Liouvillian (dimension {model.dim})"
        )
    method = _resolve(method, options)
    secs = _sector_list(model, symmetry)
    steady_label = _steady_label(secs)
    vals, labs, mats, lmats, infos = [], [], [], [], {}
    u1 = secs[0].kind == "u1"
    # The steady-state sector first: its eigenvalues set the threshold that lets the
    # other sectors be certified (AutoEig) instead of solved.
    order = sorted(range(len(secs)), key=lambda i: (secs[i].label != steady_label, abs(secs[i].label)))
    need = max(k, 2)  # the gap needs 0 and the slowest mode
    # relative to the model's own scale, with no absolute floor: the same physics in units where the
    # rates are 1e-6 had its gap of 8e-14 reported as 0 against a floor of 1e-12 (session 17)
    zero_tol = ZERO_TOLERANCE * _zero_scale(model)
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
    widths = []

    def width():  # E_max - E_min of H, once per call and only when a certificate needs it
        if not widths:
            widths.append(_bohr_width(model))
        return widths[0]

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
                ok, skip_info, _ = certify_sector(sec, plan[1], thr, certify_eps(sec.size),
                                                  _certify_budget(method, plan[1]),
                                                  prop=_propagator(model, sec, plan[1], width()))  # fmt: skip
                if ok:
                    infos[sec.label] = {**skip_info, "established": "certified by propagation, not solved"}
                    continue
        checked = certify and solver is _auto_sector
        if steady and not vectors and not left and solver is not _dense_sector:
            extra["deflate_trace"] = True
        sub = DenseEig() if solver is _dense_sector else method
        if checked and plan[0] == "lu":
            kk = min(kk + 4, sec.size - 2)  # LU solves are cheap: a few more make a miss less likely
        # small dense products (Sylvester blocks, Ritz matrices, dense sectors up to the fallback)
        # run on one BLAS thread: OpenBLAS's spinning workers slow them 5-50x on a busy machine
        with limit_blas(sec.size if solver is _dense_sector else _largest_block(sec)):
            res = solver(model, sec, kk, sub, vectors or checked, left, **extra)
            if checked:
                res = _rightmost(model, sec, plan, res, kk, method, threshold, mirror, steady, zero_tol,
                                 vectors, left, width())  # fmt: skip
        if not checked and solver is _dense_sector:
            res["info"].update(established="dense", certified=True)
        elif not checked:
            res["info"].update(established=f"{type(sub).__name__}, not certified (eigenvalues nearest sigma)",
                               certified=False)  # fmt: skip
        infos[sec.label] = res["info"]
        if skip_info is not None:
            infos[sec.label]["skip_certificate"] = skip_info
        # eigenvectors stay in their sector until the k returned are known: expanding every one to a
        # d x d matrix took 34 of 85 s with 169 labels of two combined charges (session-10 review)
        for i, lam in enumerate(res["values"]):
            vals.append(lam)
            labs.append(sec.label)
            if vectors:
                mats.append((sec, res["right"][:, i], False))
            if left:
                lmats.append((sec, res["left"][:, i], False))
            if mirror:
                vals.append(np.conj(lam))
                labs.append(-sec.label)
                if vectors:
                    mats.append((sec, res["right"][:, i], True))
                if left:
                    lmats.append((sec, res["left"][:, i], True))
    vals = np.array(vals, dtype=np.complex128)
    labs = np.array(labs, dtype=np.int64)
    order = np.argsort(-vals.real, kind="stable")
    vals, labs = vals[order], labs[order]
    mats = [mats[i] for i in order] if vectors else []
    lmats = [lmats[i] for i in order] if left else []
    gap, slow = _gap(vals, labs, steady_label, zero_tol)
    if gap == 0.0 and slow is not None:
        zero = complex(vals[np.flatnonzero((labs == steady_label) & (np.abs(vals) <= zero_tol))[0]])
        rate = abs(float(vals[slow].real))
        # and above rounding: an exact 0 as the computed zero made any rounding-level rate (6e-18 of
        # a scale of 4: a second steady state) look "1e282 times" it (session 19)
        rounding = 10 * np.finfo(float).eps * _zero_scale(model)
        if rate > 1e3 * abs(zero) and rate > rounding:
            # a mode below the zero tolerance yet far from the computed zero: a real but tiny gap (a
            # Zeno-limited qubit, gap 2e-7 under ||L|| ~ 2e7) or a second steady state computed
            # inexactly; 0.0 alone read as "not unique" while steady_state found the state unique
            warnings.warn(
                f"spectrum: the slowest mode's rate {rate:.3g} lies below the zero tolerance "
                f"{zero_tol:.2g} (1e-12 of the scale of L), so the gap is reported as 0.0; it is "
                f"{rate / max(abs(zero), 1e-300):.2g} times the computed zero eigenvalue ({abs(zero):.2g}), "
                "so it may be a real gap that double precision resolves here: if steady_state finds "
                "the steady state unique, the gap is that rate (spectrum(...).eigenvalues holds the mode)",
                SpectrumWarning,
                stacklevel=2,
            )
    if slow is None and len(vals) > 1:
        near = float(np.min(np.abs(vals[labs == steady_label]), initial=np.inf))
        warnings.warn(
            f"spectrum: no eigenvalue of the steady-state sector is zero to the resolution {zero_tol:.2g} "
            f"(the nearest is {near:.3g} from zero), so the gap is not defined (nan)",
            SpectrumWarning,
            stacklevel=2,
        )
    for label, inf in infos.items():
        if inf.get("certified", True) or "uncertified" not in inf.get("established", ""):
            continue
        warnings.warn(
            f"spectrum: sector {label} ({inf['size']} unknowns) is not certified to hold no eigenvalue "
            f"right of the {_ordinal(need)} returned: {inf['evidence']}. The result may miss slow modes.",
            SpectrumWarning,
            stacklevel=2,
        )
    nearest = [q for q, inf in infos.items() if "eigenvalues nearest sigma" in inf.get("established", "")]
    if nearest and len(vals) > 1:
        # an explicit ShiftInvert (or AutoEig(certify=False)) returns the eigenvalues nearest its shift:
        # a slow oscillating pair (-kappa/2 +- 2i of a detuned cavity) is farther from zero than a
        # faster real mode (-kappa), and its gap came out as 1.0 against 0.5 without a word (session 17)
        warnings.warn(
            f"spectrum: {type(method).__name__} returned the eigenvalues nearest its shift in sector(s) "
            f"{sorted(nearest)}, not certified to be the rightmost: a slower mode far from zero (an "
            "oscillating one) can be missing, and the gap with it; the default method, AutoEig(), "
            "certifies them",
            SpectrumWarning,
            stacklevel=2,
        )
    certified = all(v.get("certified", v["method"] == "certified") for v in infos.values())
    info = {"sectors": infos, "time": time.perf_counter() - t0, "slowest_index": slow,
            "method": type(method).__name__,
            # True when every sector was diagonalised densely or its shift-invert result
            # certified by propagation (the eigenvalues returned are the rightmost ones)
            "exact_rightmost": certified, "certified": certified,
            "zero_tolerance": zero_tol}  # fmt: skip
    keep = min(k, len(vals))
    if slow is not None and slow >= keep:
        keep = slow + 1  # always keep the slowest mode that defines the gap
    idx = _with_partners(vals, keep, zero_tol)
    vals, labs = vals[idx], labs[idx]
    mats = [_expand(*mats[i]) for i in idx] if vectors else []
    lmats = [_expand(*lmats[i]) for i in idx] if left else []
    if slow is not None:
        info["slowest_index"] = int(np.flatnonzero(idx == slow)[0])
    return Spectrum(vals, labs, mats, lmats, gap, info, certified)


def liouvillian_gap(model, *args, method=None, symmetry="auto", **options) -> float:
    """The Liouvillian gap ``-Re(lambda_1) > 0`` (hbar = 1; units of the rates).

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation (as for :func:`spectrum`); QuTiP's call shape
        ``liouvillian_gap(H, c_ops)`` is accepted too.
    method, symmetry, **options
        As for :func:`spectrum` (``method`` may be given second, positionally).

    Returns
    -------
    float
        Minimum over sectors of the decay rate of the slowest mode; ``0.0``
        if the steady state is not unique, or if the gap is below the
        resolution ``spectrum(...).info["zero_tolerance"]`` (``1e-12`` times
        the larger of the scale of ``L``'s diagonal and a bound on ``||L||``,
        with no absolute floor: the same model in other units gives the same
        gap in those units; the residual tolerance ``tol`` times the
        diagonal's scale when the steady sector takes the Krylov route). With
        :class:`AutoEig` (the default) the slowest mode is the rightmost
        one, not the one nearest zero: each sector is dense, or certified by
        propagation, or completed by the propagator search (module notes).
        ``nan`` for a one-state space (``d = 1``: no mode but the steady
        state, so no slowest one).

    Warns
    -----
    SpectrumWarning
        When some sector could not be certified (``spectrum(...).certified``
        is ``False``); the message names the sector and the evidence. An
        explicit ``ShiftInvert`` (or ``AutoEig(certify=False)``) is never
        certified: its gap is that of the eigenvalues nearest the shift. Also
        when the gap is reported as ``0.0`` though the slowest mode lies far
        (1000x) from the computed zero eigenvalue, below the zero tolerance
        (a real but tiny gap, as in the Zeno limit, or an inexact second
        steady state).

    Examples
    --------
    >>> import qutip, qness
    >>> a = qutip.destroy(10)
    >>> round(qness.liouvillian_gap((0.5 * a.dag() * a, [a])), 6)  # damped cavity: kappa/2
    0.5
    """
    # k = 1: the steady sector is still asked for 2 eigenvalues (0 and its slowest mode),
    # every other sector only for its slowest one; that is all the gap needs.
    from .steady import _call_shape

    model, method = _call_shape(model, args, method)
    return spectrum(model, k=1, method=method, symmetry=symmetry, vectors=False, **options).gap


def _sector_list(model, symmetry) -> list[Sector]:
    if isinstance(model, SuperoperatorModel):
        from .superop import spectrum_sectors

        return spectrum_sectors(model, symmetry)
    if symmetry is None or symmetry is False:
        return [full_sector(model.dim)]
    if isinstance(symmetry, str):
        if symmetry != "auto":
            raise ValueError(f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}")
        if model.u1() is None and model.z2() is None:
            found = detect_symmetry(model, combine=False)
            return [full_sector(model.dim)] if found is None else sectors(model, found, check=False)
        return sectors(model)
    if isinstance(symmetry, (U1Symmetry, Z2Symmetry)):
        return sectors(model, symmetry)
    raise TypeError(
        f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {type(symmetry).__name__}"
    )


def _steady_label(secs) -> int:
    return 1 if secs[0].kind == "z2" else 0


def _expand(sector: Sector, x: np.ndarray, mirrored: bool) -> np.ndarray:
    """The ``d x d`` matrix of a sector eigenvector; ``mirrored``: of its partner in sector ``-q``."""
    m = _to_matrix(sector, x)
    return m.conj().T if mirrored else m


def _to_matrix(sector: Sector, x: np.ndarray) -> np.ndarray:
    rho = sector.to_full(x) if sector.kind != "full" else np.reshape(x, (sector.d, sector.d), order="F")
    nrm = np.linalg.norm(rho)
    if nrm > 0:
        # fix the phase so the largest entry is real positive, and normalise
        j = np.unravel_index(np.argmax(np.abs(rho)), rho.shape)
        rho = rho * (abs(rho[j]) / rho[j]) / nrm
    return rho


#: Eigenvalues within this multiple of the scale of L's diagonal count as zero: a gap
#: below it is reported as 0.0 (degenerate steady states cannot be told apart from it).
ZERO_TOLERANCE = 1e-12


def _largest_block(sec) -> int:
    """The largest dense block the sector's Sylvester preconditioner multiplies."""
    blocks = getattr(sec, "blocks", None)
    return max((len(b) for b in blocks), default=0) if blocks else sec.d


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _with_partners(vals, keep, zero_tol) -> np.ndarray:
    """Indices of the first ``keep`` values and of the conjugate partners they lack.

    A Liouvillian's spectrum is closed under conjugation: when the ``k``-th
    value is one of a pair, both are returned. ``vals`` is sorted by real
    part, descending; so is the result.
    """
    idx = list(range(keep))
    for i in range(keep):
        lam = vals[i]
        if abs(lam.imag) <= max(zero_tol, 1e-9 * abs(lam)):
            continue
        d = np.abs(vals - np.conj(lam))
        tol = 1e-8 * abs(lam) + zero_tol
        if np.any(d[idx] <= tol):
            continue
        cand = [j for j in range(keep, len(vals)) if d[j] <= tol and j not in idx]
        if cand:
            idx.append(cand[0])
    idx = np.array(idx, dtype=np.int64)
    return idx[np.argsort(-vals[idx].real, kind="stable")]


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
