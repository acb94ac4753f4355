"""The Floquet spectrum of a periodically driven master equation: the one-period propagator.

The propagator over one period, ``Phi = T exp(int_0^T L(t) dt)``, has the
Floquet multipliers ``mu_j`` as eigenvalues; ``lambda_j = log(mu_j) / T`` (the
principal branch: ``Im lambda`` in the first Brillouin zone ``(-omega/2,
omega/2]``) are the Floquet exponents. A unique limit cycle has one
multiplier 1; the slowest decay rate of everything else is the Floquet gap
``-Re lambda_1 > 0``. The drive conventions are those of
:func:`qness.floquet_steady_state`.

Two routes (:func:`floquet_spectrum`, ``method``):

* ``"dense"`` (``d <= 32``): the whole ``d^2 x d^2`` propagator, integrated
  column by column, and all its eigenvalues.
* ``"arnoldi"`` (many-body sizes): the ``k`` rightmost exponents from Arnoldi
  (ARPACK, largest modulus) on the map ``rho(0) -> rho(T)`` restricted to
  trace-zero matrices, each application one integration of
  ``d rho/dt = L(t) rho`` over a period (DOP853 on ``d^2`` unknowns,
  matrix-vector products with the sparse ``L_0`` and ``L_k``). Since
  ``|mu| = exp(T Re lambda)``, the largest multipliers are the rightmost
  exponents *by construction*, and the principal logarithm puts them in
  the first Brillouin zone: no copies to fold. The alternative, the
  rightmost eigenvalues of the truncated harmonic generator (the Sambe-space
  matrix of :func:`qness.floquet_steady_state`), has every exponent
  ``2N + 1`` times (shifted by ``i n omega``) plus truncation artefacts near
  ``|n| = N``, on ``2N + 1`` times as many unknowns; the rightmost ``k``
  there are copies of the few slowest modes, so shift-invert and propagator
  Arnoldi would need ``k (2N + 1)`` eigenvalues to see ``k`` distinct ones.
  The Ritz pairs are then checked (``||Phi x - mu x|| <= tol ||x||``),
  closed under complex conjugation (``Phi`` preserves Hermiticity) and
  **certified** as in :mod:`qness.solvers.certify`: a random trace-zero
  vector, with the found modes projected out, is propagated period by
  period; its norm falling below ``eps exp(m T Re lambda_{k-1})`` after
  ``m`` periods shows (except with probability ``1e-10``) that no exponent
  right of the last one found is missing. What is not certified is
  reported (``certified=False`` and a :class:`~qness.SpectrumWarning`).
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
from scipy.integrate import solve_ivp

from .._threads import one_blas_thread
from ..liouvillian import liouvillian
from .errors import SpectrumWarning
from .floquet import commutator_superoperator
from .floquet_input import _check_omega, _parse

__all__ = ["FloquetSpectrum", "floquet_spectrum"]

#: Fewest modes computed beyond the ``k`` wanted and deflated in the certificate (Arnoldi route).
_GUARD = 2

#: Largest Hilbert-space dimension for the dense propagator (``d^4`` complex entries).
MAX_DIM = 32


@dataclass(frozen=True, eq=False)
class FloquetSpectrum:
    """Floquet multipliers and exponents of a periodic Lindblad generator.

    Attributes
    ----------
    multipliers : numpy.ndarray
        Eigenvalues ``mu_j`` of the one-period propagator, ordered as
        ``exponents``.
    exponents : numpy.ndarray
        ``lambda_j = log(mu_j) / T`` (rates, units of the Hamiltonian), sorted
        by real part descending; ``Im`` in ``(-omega/2, omega/2]``.
    omega : float
        Drive angular frequency.
    info : dict
        ``method`` (``"dense"`` or ``"arnoldi"``), ``time`` (s),
        ``rtol``/``atol`` of the integration, ``unit_defect`` (dense:
        ``|mu_0 - 1|``, the distance of the leading multiplier from 1),
        ``trace_defect`` (dense: ``max |1^T Phi - 1^T|``; Arnoldi: the trace
        of ``Phi`` applied to a trace-zero vector), ``periods`` (Arnoldi:
        one-period propagations used), ``residuals`` (Arnoldi:
        ``||Phi x - mu x||`` of each mode), ``certificate`` (Arnoldi: the
        propagation certificate's record).
    certified : bool
        Whether the exponents are the rightmost ones (always for the dense
        route; for Arnoldi, when the certificate succeeded).
    """

    multipliers: np.ndarray
    exponents: np.ndarray
    omega: float
    info: dict = field(default_factory=dict)
    certified: bool = True

    @property
    def period(self) -> float:
        """``T = 2 pi / omega``."""
        return 2 * math.pi / self.omega

    @property
    def gap(self) -> float:
        """The Floquet gap ``-Re lambda_1`` (slowest decay rate towards the limit cycle); NaN when no
        decaying mode was found (an Arnoldi run stopped by its budget)."""
        if self.exponents.size < 2:
            return float("nan")
        return float(-self.exponents[1].real)

    def __repr__(self) -> str:
        return f"FloquetSpectrum(size={self.exponents.size}, omega={self.omega:g}, gap={self.gap:.6g})"


def floquet_spectrum(
    model,
    drive=None,
    omega=None,
    *,
    k: int | None = None,
    method: str = "auto",
    args=None,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    tol: float = 1e-7,
    max_periods: int = 2000,
) -> FloquetSpectrum:
    """Floquet multipliers, exponents and gap from the one-period propagator.

    Parameters
    ----------
    model, drive, omega, args
        As for :func:`qness.floquet_steady_state` (``H(t) = H + drive cos(omega t)``,
        ``drive={m: V_m}``, or QuTiP's list format).
    k : int, optional
        Number of exponents wanted, the limit cycle's ``0`` included
        (``k >= 2``). ``None``: all ``d^2`` (dense) or 6 (Arnoldi). The dense
        route with ``k`` returns the ``k`` rightmost.
    method : {"auto", "dense", "arnoldi"}
        ``"dense"``: the whole propagator (``d <= 32``). ``"arnoldi"``: Arnoldi
        on ``rho(0) -> rho(T)`` with a certificate (any ``d``; see the module
        docstring). ``"auto"``: dense up to ``d = 32``, Arnoldi above.
    rtol, atol : float
        Tolerances of the integration of ``d rho/dt = L(t) rho`` over one
        period (``scipy.integrate.solve_ivp``, DOP853); ``atol`` is relative
        to the unit norm of each propagated vector on the Arnoldi route.
    tol : float
        Arnoldi: a mode is kept when ``||Phi x - mu x|| <= tol`` (unit ``x``).
    max_periods : int
        Arnoldi: budget of one-period propagations for the eigenvalues and,
        separately, for the certificate.

    Returns
    -------
    FloquetSpectrum
        ``.exponents`` (sorted by real part, descending; ``exponents[0] = 0``
        exactly on the Arnoldi route, where trace preservation makes 1 a
        multiplier), ``.multipliers``, ``.gap`` (``-Re lambda_1``) and
        ``.certified``.

    Raises
    ------
    ValueError
        For ``method="dense"`` with ``d > 32`` (the dense propagator has
        ``d^4`` entries), a bad ``k``/``method``/``tol``/``max_periods``
        (``method="arnoldi"`` with ``k > d**2 - 2``: ARPACK gives no more),
        and as :func:`qness.floquet_steady_state` for bad drives.
    TypeError
        For ``k`` or ``max_periods`` not an int.

    Warns
    -----
    SpectrumWarning
        Arnoldi: when a mode fails its residual check or the certificate
        does not succeed within ``max_periods`` (``certified`` is then False).
    """
    t0 = time.perf_counter()
    if method not in ("auto", "dense", "arnoldi"):
        raise ValueError(f"method must be 'auto', 'dense' or 'arnoldi', got {method!r}")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int >= 2 or None, got {type(k).__name__}")
        if k < 2:
            raise ValueError(f"k must be >= 2 (the limit cycle and at least one decaying mode), got {k}")
    if isinstance(max_periods, bool) or not isinstance(max_periods, (int, np.integer)):
        raise TypeError(f"max_periods must be a positive int, got {type(max_periods).__name__}")
    if max_periods < 1:
        raise ValueError(f"max_periods must be >= 1, got {max_periods}")
    if not (isinstance(tol, (int, float, np.floating)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if omega is not None:
        omega = _check_omega(omega)
    model, static_extra, fourier, omega = _parse(model, drive, omega, args)
    d = model.dim
    if method == "auto":
        method = "dense" if d <= MAX_DIM else "arnoldi"
    if method == "dense" and d > MAX_DIM:
        raise ValueError(
            f"floquet_spectrum builds the dense one-period propagator ({d**2} x {d**2}); the model has "
            f"d = {d} > {MAX_DIM}: use method='arnoldi'"
        )
    L0 = liouvillian(model)
    if static_extra is not None:
        L0 = L0 + commutator_superoperator(static_extra)
    Ls = {kk: commutator_superoperator(Hk) for kk, Hk in fourier.items()}
    if method == "arnoldi":
        if k is not None and int(k) > d * d - 2:
            # ARPACK computes at most d**2 - 2 of the d**2 exponents; they came back short silently
            raise ValueError(
                f"k = {k}: method='arnoldi' gives at most d**2 - 2 = {d * d - 2} of the {d * d} Floquet "
                "exponents; method='dense' gives them all"
            )
        return _arnoldi_spectrum(L0, Ls, omega, d, 6 if k is None else int(k), rtol, atol, tol,
                                 int(max_periods), t0)  # fmt: skip
    D = d * d
    T = 2 * math.pi / omega

    def rhs(t, y):
        Y = y.reshape(D, D)
        out = L0 @ Y
        for kk, Lk in Ls.items():
            out = out + np.exp(1j * kk * omega * t) * (Lk @ Y)
        return np.asarray(out).ravel()

    sol = solve_ivp(
        rhs, (0.0, T), np.eye(D, dtype=np.complex128).ravel(), method="DOP853", rtol=rtol, atol=atol
    )
    if not sol.success:
        raise RuntimeError(f"floquet_spectrum: the integration over one period failed: {sol.message}")
    Phi = sol.y[:, -1].reshape(D, D)
    with one_blas_thread():  # see qness._threads
        mu = sla.eigvals(Phi)
    lam = np.log(mu.astype(np.complex128)) / T
    order = np.lexsort((-lam.imag, -lam.real))
    lam, mu = lam[order], mu[order]
    if k is not None:
        lam, mu = lam[:k], mu[:k]
    ones = np.zeros(D)
    ones[np.arange(d) * (d + 1)] = 1.0
    info = {
        "method": "dense",
        "time": time.perf_counter() - t0,
        "rtol": rtol,
        "atol": atol,
        "unit_defect": float(abs(mu[0] - 1)),
        "trace_defect": float(np.max(np.abs(ones @ Phi - ones))),
        "nfev": int(sol.nfev),
    }
    return FloquetSpectrum(multipliers=mu, exponents=lam, omega=omega, info=info)


class _Period:
    """``v -> Phi v``, one period of ``d rho/dt = L(t) rho`` (DOP853), with a counter."""

    def __init__(self, L0, Ls, omega, rtol, atol):
        self.L0, self.Ls, self.omega = L0, Ls, omega
        self.T = 2 * math.pi / omega
        self.rtol, self.atol = rtol, atol
        self.periods = 0
        self.nfev = 0

    def _rhs(self, t, y):
        out = self.L0 @ y
        for kk, Lk in self.Ls.items():
            out += np.exp(1j * kk * self.omega * t) * (Lk @ y)
        return out

    def __call__(self, v):
        v = np.asarray(v, dtype=np.complex128).ravel()
        nrm = float(np.linalg.norm(v))
        if nrm == 0.0:
            return v.copy()
        sol = solve_ivp(self._rhs, (0.0, self.T), v / nrm, method="DOP853", rtol=self.rtol, atol=self.atol)
        if not sol.success:
            raise RuntimeError(f"floquet_spectrum: the integration over one period failed: {sol.message}")
        self.periods += 1
        self.nfev += int(sol.nfev)
        return nrm * sol.y[:, -1]


def _arnoldi_spectrum(L0, Ls, omega, d, k, rtol, atol, tol, max_periods, t0) -> FloquetSpectrum:
    from ..symmetry import full_sector
    from .certify import Deflation, certify_eps, close_under_conjugation

    n = d * d
    T = 2 * math.pi / omega
    sector = full_sector(d)
    phi = _Period(
        sp.csr_array(L0, dtype=np.complex128),
        {kk: sp.csr_array(Lk, dtype=np.complex128) for kk, Lk in Ls.items()},
        omega,
        rtol,
        atol,
    )
    trace_zero = Deflation(sector, None, trace_zero=True)
    want = int(min(k - 1, n - 3))
    # guard modes beyond the k - 1 wanted (as many again plus two): deflated in the certificate, so
    # that its vector decays at least as fast as the first mode not computed while the threshold is
    # the k-th (a margin even when modes cluster, as the single-spin decays of a chain do)
    guard = int(min(want + max(_GUARD, want + 2), n - 3))
    ncv = int(min(n - 1, max(2 * guard + 1, guard + 15)))
    rng = np.random.default_rng(1414)
    v0 = trace_zero(rng.standard_normal(n) + 1j * rng.standard_normal(n))

    class _Budget(Exception):
        pass

    def apply(x):
        if phi.periods >= max_periods:
            raise _Budget
        return trace_zero(phi(trace_zero(x)))

    op = spla.LinearOperator((n, n), matvec=apply, dtype=np.complex128)
    converged = True
    try:
        mu, Z = spla.eigs(op, k=guard, which="LM", v0=v0 / np.linalg.norm(v0), ncv=ncv, tol=tol * 1e-2,
                          maxiter=max_periods)  # fmt: skip
    except spla.ArpackNoConvergence as exc:
        mu, Z = exc.eigenvalues, exc.eigenvectors
        converged = False
    except _Budget:
        mu, Z = np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128)
        converged = False
    # Rayleigh-Ritz with Phi on the Arnoldi vectors: eigenpairs, then residuals with Phi itself
    vals, vecs, residuals = [], [], []
    if len(mu):
        Zq = sla.orth(np.asarray(Z), rcond=1e-8)
        PZ = np.column_stack([trace_zero(phi(z)) for z in Zq.T])
        theta, Y = sla.eig(Zq.conj().T @ PZ)
        for th, y in zip(theta, Y.T):
            x = Zq @ y
            nx = np.linalg.norm(x)
            res = float(np.linalg.norm(PZ @ y - th * x) / nx)
            if np.isfinite(th) and th != 0 and res <= tol:
                vals.append(np.log(complex(th)) / T)
                vecs.append(x / nx)
                residuals.append(res)
    rejected = len(mu) - len(vals)
    vals = np.array(vals, dtype=np.complex128)
    vecs = np.column_stack(vecs) if vecs else np.zeros((n, 0), np.complex128)
    zero_tol = 1e-9 * omega
    vals, vecs, added = close_under_conjugation(sector, vals, vecs, zero_tol)
    for j in range(len(vals) - added, len(vals)):  # check the added partners with Phi as well
        x = vecs[:, j]
        residuals.append(float(np.linalg.norm(trace_zero(phi(x)) - np.exp(vals[j] * T) * x)))
        rejected += int(not residuals[-1] <= tol)
    order = np.lexsort((-vals.imag, -vals.real))
    vals, vecs = vals[order], vecs[:, order]
    residuals = [float(r) for r in np.asarray(residuals)[order]] if len(residuals) else []
    periods_eig = phi.periods
    # report the `want` rightmost (a conjugate pair cut at the end is kept whole)
    keep = min(want, len(vals))
    while 0 < keep < len(vals) and abs(vals[keep].real - vals[keep - 1].real) <= 1e-9 * (1 + abs(vals[keep])):
        keep += 1
    # certificate: no exponent right of the last one reported is missing
    cert = {"method": "certificate failed", "periods": 0}
    ok = False
    if keep:
        threshold = float(vals[keep - 1].real)
        cert, ok = _certificate(phi, Deflation(sector, vecs, trace_zero=True), n, d, threshold,
                                certify_eps(n) / np.sqrt(d), max_periods, T)  # fmt: skip
    guards = vals[keep:]
    vals, residuals = vals[:keep], residuals[:keep]
    lam = np.concatenate([[0.0 + 0.0j], vals])
    mus = np.exp(lam * T)
    mus[0] = 1.0
    probe = trace_zero(rng.standard_normal(n) + 1j * rng.standard_normal(n))
    out = phi(probe / np.linalg.norm(probe))
    info = {
        "method": "arnoldi",
        "time": time.perf_counter() - t0,
        "rtol": rtol,
        "atol": atol,
        "unit_defect": None,
        "trace_defect": float(abs(sector.trace_vector() @ out)),
        "periods": phi.periods,
        "periods_eigs": periods_eig,
        "nfev": phi.nfev,
        "arpack_converged": converged,
        "rejected": rejected,
        "conjugates_added": added,
        "residuals": residuals,
        "guard_exponents": guards,
        "certificate": cert,
    }
    certified = bool(ok and converged and rejected == 0 and len(vals) >= want)
    if not certified:
        why = []
        if not converged:
            why.append(f"ARPACK did not converge within {max_periods} periods")
        if rejected:
            why.append(f"{rejected} Ritz pair(s) failed ||Phi x - mu x|| <= {tol:g}")
        if not ok:
            why.append(
                f"the propagation certificate did not succeed within {cert.get('periods', 0)} periods "
                f"(norm {cert.get('norm', float('nan')):.1e} > bound {cert.get('bound', float('nan')):.1e})"
            )
        warnings.warn(
            f"floquet_spectrum: the {len(lam)} exponents found are not certified to be the rightmost: "
            + "; ".join(why)
            + " (raise max_periods or k)",
            SpectrumWarning,
            stacklevel=3,
        )
    return FloquetSpectrum(multipliers=mus, exponents=lam, omega=omega, info=info, certified=certified)


def _certificate(phi, deflation, n, d, threshold, eps, max_periods, T):
    """Propagate a random trace-zero vector period by period with the found modes projected out.

    ``||v_m|| <= eps exp(m T threshold)`` shows, except with probability
    ``n eps^2 d`` (``eps`` already divided by ``sqrt(d)`` for the trace
    projection), that ``Phi`` has no multiplier of modulus above
    ``exp(T threshold)`` left: the argument of
    :func:`qness.solvers.certify.certify_sector` with ``exp(hL)`` replaced
    by ``Phi``. Gives up when the observed decay predicts more than
    ``max_periods`` periods.
    """
    rng = np.random.default_rng(2014)
    v = deflation(rng.standard_normal(n) + 1j * rng.standard_normal(n))
    v /= np.linalg.norm(v)
    norms = [1.0]
    ok, predicted = False, None
    m = 0
    nrm = 1.0
    while m < max_periods:
        v = deflation(phi(v))
        m += 1
        nrm = float(np.linalg.norm(v))
        norms.append(nrm)
        if nrm <= eps * np.exp(m * T * threshold):
            ok = True
            break
        if m >= 8:
            back = max(1, m // 4)
            rate = -np.log(nrm / norms[-1 - back]) / (back * T)
            margin = rate + threshold
            if margin <= 0 and m * T * -threshold >= 5.0:
                break  # decays no faster than the threshold: a mode is missing
            if margin > 0:
                predicted = m + (np.log(nrm) - np.log(eps) - m * T * threshold) / (margin * T)
                if predicted > max_periods:
                    break
    cert = {
        "method": "certified" if ok else "certificate failed",
        "periods": m,
        "norm": nrm,
        "bound": float(eps * np.exp(m * T * threshold)),
        "threshold": threshold,
        "eps": float(eps),
        "predicted_periods": None if predicted is None else float(predicted),
        "deflated": deflation.rank,
    }
    return cert, ok
