r"""Two-time correlation functions and emission spectra of the NESS (quantum regression).

For a steady state ``rho`` of ``d rho/dt = L rho`` the quantum regression
theorem gives, for ``tau >= 0``,

.. math::

    \langle A(\tau) B(0) \rangle = \mathrm{Tr}\left[A\, e^{L \tau} (B \rho)\right],

so a two-time function is one propagation of the matrix ``B rho`` and a
trace against ``A``; its one-sided Fourier transform is one resolvent solve
``(L - z) x = B rho`` per frequency.

Symmetry sectors
----------------
With a weak U(1) symmetry (charge ``N``, see :mod:`qness.symmetry`) the
NESS is block diagonal and an operator of definite charge ``q``
(``[N, B] = q B``) maps it into the sector ``n_left - n_right = q`` of the
Liouvillian, where it is propagated; ``A`` must then carry charge ``-q`` for
the trace to be non-zero. A general operator is split into its charge
components (its entries ``B_ij`` with ``n_i - n_j = q``), each propagated in
its own sector: nothing of size ``d^2 x d^2`` is formed. A Z2 parity is used
the same way; without a symmetry the whole space is one sector.

Conventions
-----------
hbar = 1; ``tau`` and ``omega`` in the units of the model's rates; column
stacking ``vec(rho) = rho.ravel(order="F")`` (as QuTiP); ``A(tau)`` is the
Heisenberg-picture operator of the adjoint master equation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..model import LindbladModel, SuperoperatorModel, U1Symmetry, Z2Symmetry, as_model
from ..operators import _is_qobj, as_csr, check_qobj_dims
from ..solvers.methods import Dense
from ..solvers.resolvent import ZERO_OMEGA_RTOL, Schur, _prepare, drazin, resolvent, trace_free
from ..solvers.spectrum import _zero_scale
from ..symmetry import DETECTED_NAMES, Sector, detect_symmetry, full_sector, sectors

__all__ = ["correlation", "g2", "emission_spectrum", "EmissionSpectrum"]


# --------------------------------------------------------------------------- inputs
#: Largest relative residual ``||L(rho)||_F / (||L|| ||rho||_F)`` of a user-supplied ``ness``
#: (:func:`_check_ness`); ``||L||`` is bounded by ``2 ||A||_2 + sum_k ||L_k||_2^2`` (``A = -i H_eff``).
NESS_RTOL = 1e-6


def _norm2_bound(M) -> float:
    """``sqrt(||M||_1 ||M||_inf) >= ||M||_2`` of a sparse matrix."""
    M = abs(sp.csr_array(M))
    if M.nnz == 0:
        return 0.0
    return float(np.sqrt(M.sum(axis=0).max() * M.sum(axis=1).max()))


def _check_ness(model, rho: np.ndarray, name: str = "ness") -> np.ndarray:
    """Check a user-supplied steady state: trace 1 and stationary (shared by counting and correlations).

    Parameters
    ----------
    model : LindbladModel or SuperoperatorModel
        The model.
    rho : numpy.ndarray, shape (d, d)
        The state, finite.
    name : str
        Argument name used in the error messages.

    Returns
    -------
    numpy.ndarray
        ``rho`` unchanged.

    Raises
    ------
    ValueError
        If ``|Tr rho - 1| > 1e-8`` (a state is not renormalised silently), or
        if ``||L(rho)||_F > NESS_RTOL ||L|| ||rho||_F``: it is not a steady
        state of this model (one application of ``L``).
    """
    tr = np.trace(rho)
    if abs(tr - 1) > 1e-8:
        raise ValueError(f"{name} must have trace 1, got {tr:.6g}")
    if isinstance(model, SuperoperatorModel):
        Lm = sp.csr_array(model.L)
        res = float(np.linalg.norm(Lm @ rho.ravel(order="F")))
        scale = _norm2_bound(Lm)
    else:
        A = -1j * sp.csr_array(model.H_eff())
        out = A @ rho + (A @ rho.conj().T).conj().T  # A rho + rho A^+
        scale = 2.0 * _norm2_bound(A)
        for j in model.jumps:
            L = sp.csr_array(j.L)
            if L.nnz == 0:
                continue
            out = out + L @ (L @ rho.conj().T).conj().T
            scale += _norm2_bound(L) ** 2
        res = float(np.linalg.norm(out))
    rel = res / max(scale * float(np.linalg.norm(rho)), 1e-300)
    if rel > NESS_RTOL:
        raise ValueError(
            f"{name} is not a steady state of the model: ||L({name})|| = {res:.3g}, relative residual "
            f"{rel:.2e} > NESS_RTOL = {NESS_RTOL:g} (pass ness=None to compute it)"
        )
    return rho


def _operator(op, name: str, model) -> sp.csr_array:
    """``op`` as a ``d x d`` CSR matrix; ValueError naming ``name`` on wrong shape or dims."""
    d = model.dim
    check_qobj_dims(op, model.dims, getattr(model, "qobj_dims", None), name=name, owner="the model")
    mat = as_csr(op, name)
    if mat.shape != (d, d):
        raise ValueError(f"{name} has shape {mat.shape}, but the model's Hilbert space has dimension {d}")
    return mat


def _taus(taus) -> np.ndarray:
    if isinstance(taus, str) or _is_qobj(taus):
        raise TypeError(f"taus must be an array of real times, got {type(taus).__name__}")
    try:
        arr = np.asarray(taus)
    except ValueError as exc:
        raise TypeError(f"taus must be an array of real times ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"taus must be real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"taus must be a scalar or one-dimensional, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("taus has non-finite (NaN or inf) entries")
    if np.any(arr < 0):
        raise ValueError(
            f"taus must be >= 0 (quantum regression propagates forward in time), got min {arr.min():g}; "
            "for tau < 0 use <A(-t) B(0)> = conj(<B^+(t) A^+(0)>)"
        )
    return arr


def _omegas(omegas) -> np.ndarray:
    if isinstance(omegas, str) or _is_qobj(omegas):
        raise TypeError(f"omegas must be an array of real frequencies, got {type(omegas).__name__}")
    try:
        arr = np.asarray(omegas)
    except ValueError as exc:
        raise TypeError(f"omegas must be an array of real frequencies ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"omegas must be real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"omegas must be a scalar or one-dimensional, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("omegas has non-finite (NaN or inf) entries")
    return arr


class _Setting:
    """A model, its NESS (projected on its sector) and the Liouvillian sectors."""

    def __init__(self, model, ness, symmetry):
        model = as_model(model)
        self.model = model
        d = model.dim
        self.sym = None
        if isinstance(model, SuperoperatorModel):
            if symmetry is not None and symmetry is not False and not isinstance(symmetry, str):
                raise ValueError(
                    "symmetry is not available for a Liouvillian given as a matrix (no H, jumps): "
                    "use 'auto' or None"
                )
            if isinstance(symmetry, str) and symmetry != "auto":
                raise ValueError(
                    f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}"
                )
            self.sectors = [full_sector(d)]
        else:
            sym = _symmetry(model, symmetry)
            self.sym = sym
            if sym is None:
                self.sectors = [full_sector(d)]
            else:
                # a declared symmetry is checked (as steady_state does); a detected one holds
                self.sectors = sectors(model, sym, check=sym.name not in DETECTED_NAMES)
        if len(self.sectors) == 1:
            self.steady = self.sectors[0]
        else:
            self.steady = next(s for s in self.sectors if s.label == (1 if s.kind == "z2" else 0))
        self.ness = ness
        self.rho = self._rho(ness)
        self._matrices = {}

    def _rho(self, ness) -> np.ndarray:
        d = self.model.dim
        given = ness is not None
        if ness is None:
            from ..solvers.steady import steady_state

            ness = steady_state(self.model)
            self.ness = ness
        rho = getattr(ness, "rho", ness)
        if _is_qobj(rho):
            rho = rho.full()
        try:
            rho = np.asarray(rho, dtype=np.complex128)
        except (TypeError, ValueError):
            raise TypeError(
                f"ness must be a qness.NESS, a density matrix or None, got {type(ness).__name__}"
            ) from None
        if rho.shape != (d, d):
            raise ValueError(f"ness must be a {d} x {d} density matrix, got shape {rho.shape}")
        if not np.all(np.isfinite(rho)):
            raise ValueError("ness has non-finite entries")
        if self.steady.kind != "full":
            # the NESS lives in the steady sector: drop rounding noise outside it, refuse more
            inside = self.steady.to_full(self.steady.from_full(rho))
            outside = float(np.linalg.norm(rho - inside))
            if outside > 1e-8 * max(float(np.linalg.norm(rho)), 1e-300):
                raise ValueError(
                    f"ness has weight {outside:.2e} outside the steady-state sector of the model's "
                    f"symmetry ({self.steady.kind}): it is not this model's steady state (pass "
                    "symmetry=None to work in the whole space anyway)"
                )
            rho = inside
        if given:
            _check_ness(self.model, rho)
        return rho

    def matrix(self, sector: Sector) -> sp.csr_array:
        key = (sector.kind, sector.label)
        if key not in self._matrices:
            if isinstance(self.model, SuperoperatorModel):
                M = sp.csr_array(self.model.L)
            else:
                M = sector.matrix(self.model)
            M = sp.csr_array(M, dtype=np.complex128)
            if M.indices.dtype != np.int32 and M.shape[0] < 2**31 - 1 and M.nnz < 2**31 - 1:
                M.indices, M.indptr = M.indices.astype(np.int32), M.indptr.astype(np.int32)
            self._matrices[key] = M
        return self._matrices[key]

    def pieces(self, X0: np.ndarray, O: sp.csr_array):
        """``(sector, a, x)`` with ``Tr(O X) = a @ x`` for the parts of ``X0`` and ``O^T`` in each sector.

        Sectors where either part vanishes identically are skipped.
        """
        OT = O.T.toarray()
        out = []
        for s in self.sectors:
            x = s.from_full(X0) if s.kind != "full" else X0.ravel(order="F").astype(np.complex128)
            if not np.any(x):
                continue
            a = s.from_full(OT) if s.kind != "full" else OT.ravel(order="F").astype(np.complex128)
            if not np.any(a):
                continue
            out.append((s, a, x))
        return out


def _symmetry(model: LindbladModel, symmetry):
    if symmetry is None or symmetry is False:
        return None
    if isinstance(symmetry, str):
        if symmetry != "auto":
            raise ValueError(f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}")
        return model.u1() or model.z2() or detect_symmetry(model, combine=False)
    if isinstance(symmetry, (U1Symmetry, Z2Symmetry)):
        return symmetry
    raise TypeError(
        f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {type(symmetry).__name__}"
    )


# --------------------------------------------------------------------------- propagation
#: Sectors up to this many unknowns are propagated through the eigendecomposition of their
#: dense matrix, ``e^{L tau} = V e^{D tau} V^{-1}`` (all delays at once, no time stepping),
#: when its eigenvector matrix is well conditioned (see :data:`EIG_COND_MAX`); larger or
#: non-normal ones by Chebyshev propagation.
EIG_PROPAGATION_MAX = 100
#: Largest 1-norm condition number of ``V`` accepted by the eigendecomposition route (its
#: error grows like ``eps * cond(V)``): above it, Chebyshev propagation.
EIG_COND_MAX = 1e3


def _eig_propagation(M: sp.csr_array):
    """``(D, V, V^{-1})`` of the dense sector matrix, or ``None`` if ``V`` is ill-conditioned."""
    import scipy.linalg as sla

    from .._threads import one_blas_thread

    with one_blas_thread():  # see qness._threads
        D, V = sla.eig(M.toarray(), check_finite=False)
    try:
        Vinv = sla.inv(V, check_finite=False)
    except (sla.LinAlgError, ValueError):
        return None
    cond = float(np.linalg.norm(V, 1) * np.linalg.norm(Vinv, 1))
    if not np.isfinite(cond) or cond > EIG_COND_MAX:
        return None
    return D, V, Vinv, cond


def _regress(setting: _Setting, X0: np.ndarray, O: sp.csr_array, taus: np.ndarray, info: dict) -> np.ndarray:
    """``Tr[O exp(L tau) X0]`` for ``taus >= 0``, sector by sector.

    Small sectors with a well-conditioned eigenbasis: ``sum_i (a V)_i e^{lambda_i tau} (V^{-1} x)_i``;
    otherwise Chebyshev propagation from one sorted delay to the next.
    """
    from ..solvers.propagate import ChebyshevPropagator

    out = np.zeros(taus.shape, dtype=np.complex128)
    flat = np.atleast_1d(taus)
    order = np.argsort(flat, kind="stable")
    vals = np.zeros(flat.size, dtype=np.complex128)
    used = []
    for s, a, x in setting.pieces(X0, O):
        M = setting.matrix(s)
        eig = _eig_propagation(M) if s.size <= EIG_PROPAGATION_MAX else None
        if eig is not None:
            D, V, Vinv, cond = eig
            # e^{lambda t} with Re lambda <= 0 (up to rounding: the steady eigenvalue ~ 1e-16)
            vals += np.exp(np.outer(flat, D)) @ ((a @ V) * (Vinv @ x))
            used.append({"label": s.label, "size": s.size, "route": "eig", "cond": cond})
            continue
        prop = ChebyshevPropagator(M)
        t_now, v = 0.0, x
        for i in order:
            t = flat[i]
            if t > t_now:
                v = prop.apply(v, t - t_now)
                t_now = t
            vals[i] += a @ v
        used.append({"label": s.label, "size": s.size, "route": "chebyshev", "matvecs": prop.matvecs})
    info["sectors"] = used
    out[...] = vals.reshape(out.shape) if out.ndim else vals[0]
    return out


def correlation(model, A, B, taus, ness=None, *, symmetry="auto", info: dict | None = None) -> np.ndarray:
    r"""Two-time correlation ``<A(tau) B(0)>`` in the steady state (quantum regression).

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation (see :func:`qness.steady_state`; QuTiP objects
        accepted).
    A, B : array_like, sparse matrix or qutip.Qobj, shape (d, d)
        The operators; ``B`` acts at time 0, ``A`` at time ``tau``.
    taus : float or 1-D array_like of float
        Delays ``tau >= 0`` (any order, repeats allowed), in the inverse
        units of the model's rates.
    ness : NESS or array_like (d, d), optional
        The steady state; computed with :func:`qness.steady_state` if omitted.
        A given state must have trace 1 and be stationary (``||L rho|| <=
        NESS_RTOL ||L|| ||rho||``), else ``ValueError`` (as in
        :mod:`qness.analysis.counting`: never renormalised).
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sectors to propagate in (``"auto"``: the model's declared symmetry,
        else one found by :func:`qness.symmetry.detect_symmetry`; ``None``:
        the whole space).
    info : dict, optional
        If given, filled with ``sectors``: for each sector propagated, its
        ``label``, ``size``, ``route`` (``"eig"`` or ``"chebyshev"``) and the
        eigenvector condition number or the number of matrix-vector products.

    Returns
    -------
    numpy.ndarray of complex
        ``C[i] = <A(taus[i]) B(0)> = Tr[A exp(L taus[i]) (B rho)]``, the shape
        of ``taus`` (a 0-d array for a scalar). Not connected: subtract
        ``<A><B>`` for the covariance.

    Raises
    ------
    TypeError
        If an operator is not a matrix (e.g. a string, a ket, a
        time-dependent ``QobjEvo``), or ``taus`` is not real.
    ValueError
        If an operator's shape (or a ``Qobj``'s tensor dims) does not match
        the model, ``taus`` has negative or non-finite entries or more than
        one dimension, or ``ness`` has the wrong shape or trace or is not stationary, or weight
        outside the steady-state symmetry sector.

    Notes
    -----
    Equals ``qutip.correlation_2op_1t(H, None, taus, c_ops, A, B)`` (state
    ``None``: the steady state). Sectors of at most ``EIG_PROPAGATION_MAX``
    unknowns whose eigenvector matrix ``V`` has ``cond_1(V) <= EIG_COND_MAX``
    use the eigendecomposition, ``e^{L tau} = V e^{D tau} V^{-1}`` for all
    delays at once (error about ``eps cond(V)``). Otherwise the propagation is
    :class:`qness.solvers.propagate.ChebyshevPropagator` (relative accuracy
    ~1e-14 per substep) on the sector matrices of ``L``, stepping from one
    sorted delay to the next; its cost is about the length of the numerical
    range's long axis times ``max(taus)`` matrix-vector products, plus a few
    tens per delay.

    Examples
    --------
    >>> import numpy as np, qness
    >>> from qness.analysis.correlations import correlation
    >>> m = qness.models.mollow(detuning=0.0, omega=1.0, gamma=1.0)
    >>> sp_, sm = qness.operators.sigmap(), qness.operators.sigmam()
    >>> c = correlation(m, sp_, sm, [0.0, 50.0])
    >>> ness = qness.steady_state(m)
    >>> bool(np.isclose(c[0], ness.expect(sp_ @ sm)))
    True
    >>> bool(np.isclose(c[1], abs(ness.expect(sm)) ** 2))
    True
    """
    setting = _Setting(model, ness, symmetry)
    A = _operator(A, "A", setting.model)
    B = _operator(B, "B", setting.model)
    taus = _taus(taus)
    X0 = np.asarray(B @ setting.rho)
    return _regress(setting, X0, A, taus, {} if info is None else info)


def g2(model, A, taus, ness=None, *, symmetry="auto") -> np.ndarray:
    r"""Second-order coherence ``g2(tau) = <A^+ A^+(tau) A(tau) A> / <A^+ A>^2`` in the steady state.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation.
    A : array_like, sparse matrix or qutip.Qobj, shape (d, d)
        The field operator (``a`` of a cavity, ``sigma^-`` of an emitter).
    taus : float or 1-D array_like of float
        Delays ``tau >= 0``.
    ness : NESS or array_like (d, d), optional
        The steady state; computed if omitted (checked as in :func:`correlation`).
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sectors to propagate in (see :func:`correlation`).

    Returns
    -------
    numpy.ndarray of float
        ``g2`` at each delay, the shape of ``taus``; NaN everywhere when
        ``<A^+ A> = 0`` (as :func:`qness.analysis.g2` for the vacuum).

    Raises
    ------
    TypeError, ValueError
        As :func:`correlation`.

    Notes
    -----
    By quantum regression the numerator is
    ``Tr[A^+ A exp(L tau)(A rho A^+)]``, one propagation of ``A rho A^+``
    (real: ``exp(L tau)`` keeps Hermiticity). At ``tau = 0`` this is the
    equal-time ``g2(0)`` that :func:`qness.analysis.g2` computes from a
    state (that function, of the state alone and for bosonic modes, keeps
    its name and signature); as ``tau -> oo``, ``g2 -> 1``.

    Examples
    --------
    >>> import qness
    >>> from qness.analysis.correlations import g2
    >>> m = qness.models.mollow(detuning=0.0, omega=1.0, gamma=1.0)
    >>> abs(float(g2(m, qness.operators.sigmam(), 0.0))) < 1e-12  # antibunching: one photon at a time
    True
    """
    setting = _Setting(model, ness, symmetry)
    A = _operator(A, "A", setting.model)
    taus = _taus(taus)
    Ad = sp.csr_array(A.conj().T)
    n = float(np.real(np.sum((Ad @ A).multiply(setting.rho.T))))
    if n <= 0:
        return np.full(taus.shape, np.nan)
    X0 = np.asarray(A @ np.asarray(A @ setting.rho).conj().T)  # A rho A^+ (rho Hermitian)
    num = _regress(setting, X0, sp.csr_array(Ad @ A), taus, {})
    return np.real(num) / n**2


# --------------------------------------------------------------------------- spectra
@dataclass(frozen=True, eq=False)
class EmissionSpectrum:
    """The emission (power) spectrum of an operator in the steady state.

    Attributes
    ----------
    omegas : numpy.ndarray
        The frequencies (as given; a 0-d array for a scalar), relative to
        the frame of the model's Hamiltonian (a rotating frame: the laser's).
    S : numpy.ndarray of float
        The incoherent spectrum ``S(omega)`` at ``omegas`` (see
        :func:`emission_spectrum` for the convention), the shape of
        ``omegas``; ``>= 0`` up to rounding (a power spectrum).
    mean : complex
        ``<A>`` in the steady state.
    coherent_weight : float
        ``|<A>|^2``: the coherent (elastic) part of the spectrum is
        ``2 pi |<A>|^2 delta(omega)``, not included in :attr:`S`.
    power : float
        ``<dA^+ dA> = <A^+ A> - |<A>|^2``, the incoherent power: the sum rule
        is ``integral S(omega) domega / (2 pi) = power``.
    info : dict
        ``sectors``: for each sector used, its ``label``, ``size``,
        ``solves``, ``routes`` (``Dense``/``Direct``/``Krylov``/``Schur``), Krylov
        ``iterations`` (total), ``auto`` (why ``Auto`` chose the route);
        ``time`` (s, total).
    """

    omegas: np.ndarray
    S: np.ndarray
    mean: complex
    coherent_weight: float
    power: float
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"EmissionSpectrum({np.size(self.omegas)} frequencies, power={self.power:.6g}, "
            f"coherent_weight={self.coherent_weight:.6g})"
        )


def emission_spectrum(
    model, A, omegas, ness=None, *, symmetry="auto", method=None, **options
) -> EmissionSpectrum:
    r"""Incoherent emission spectrum of ``A`` in the steady state, one resolvent solve per frequency.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation.
    A : array_like, sparse matrix or qutip.Qobj, shape (d, d)
        The emitted field (``sigma^-`` of an atom, ``a`` of a cavity).
    omegas : float or 1-D array_like of float
        Frequencies, in the units of the model's rates, relative to the
        frame of ``H`` (e.g. the laser frequency in a rotating frame).
    ness : NESS or array_like (d, d), optional
        The steady state; computed if omitted (checked as in :func:`correlation`).
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sectors to solve in (see :func:`correlation`).
    method : Auto, Dense, Direct, Krylov, str or None
        Route of the resolvent solves (:func:`qness.solvers.resolvent.resolvent`):
        ``None`` is ``Auto()``: for many frequencies, small sectors are
        reduced once to complex Schur form (:class:`qness.solvers.resolvent.Schur`,
        then ``O(n^2)`` per frequency); otherwise a dense or sparse LU per
        frequency, or GMRES preconditioned by the shifted no-jump (Sylvester)
        inverse for many-body sectors (its block decompositions made once).
    **options
        Settings of the method (e.g. ``rtol=1e-10`` for Krylov).

    Returns
    -------
    EmissionSpectrum
        ``.S`` (the shape of ``omegas``), ``.mean`` ``= <A>``,
        ``.coherent_weight`` ``= |<A>|^2``, ``.power`` ``= <dA^+ dA>``, ``.info``.

    Raises
    ------
    TypeError, ValueError
        As :func:`correlation` (``omegas`` may be negative but must be real
        and finite). ``TypeError`` for a model given only as a Liouvillian
        matrix (the resolvent engine needs ``H`` and the jumps).
    ConvergenceError
        If a Krylov solve misses its ``rtol``.

    Notes
    -----
    With ``dA = A - <A>``,

    .. math::

        S(\omega) = 2\,\mathrm{Re} \int_0^\infty e^{-i\omega\tau}
        \langle dA^\dagger(\tau)\, dA(0)\rangle\, d\tau
        = \int_{-\infty}^{\infty} e^{i\omega\tau}
        \langle dA^\dagger(0)\, dA(\tau)\rangle\, d\tau
        = -2\,\mathrm{Re}\,\mathrm{Tr}\left[dA^\dagger (L - i\omega)^{-1} (dA\,\rho)\right],

    the Wiener-Khinchin power spectrum: a mode ``A(tau) ~ e^{-i omega_0 tau}``
    emits at ``omega = +omega_0`` (a detuned atom at its own frequency
    relative to the laser, a cavity with ``H = Delta a^+ a`` at ``Delta``).
    It equals ``qutip.spectrum(H, omegas, c_ops, A.dag(), A)`` (QuTiP:
    ``S(w) = int e^{-i w tau} <a_op(tau) b_op(0)> dtau``, with the product of
    the means removed). The form
    ``2 Re int_0^oo e^{+i w tau} <dA^+(tau) dA(0)> dtau`` found in some texts is the mirror image
    ``S(-omega)`` of this one.

    The coherent part ``2 pi |<A>|^2 delta(omega)`` is excluded and
    reported as :attr:`EmissionSpectrum.coherent_weight`; the sum rule
    ``int S domega / 2 pi = <dA^+ dA>`` holds for the rest. ``dA rho`` is
    split into symmetry sectors; in the steady sector it is trace-free and
    the solve is restricted to trace-zero solutions (regular also at
    ``omega = 0``, where ``L`` is singular).

    Examples
    --------
    >>> import numpy as np, qness
    >>> from qness.analysis.correlations import emission_spectrum
    >>> m = qness.models.mollow(detuning=0.0, omega=10.0, gamma=1.0)
    >>> s = emission_spectrum(m, qness.operators.sigmam(), [-10.0, 0.0, 10.0])
    >>> print(np.round(s.S / s.S[1], 2))  # the Mollow triplet: peaks 1 : 3 : 1
    [0.33 1.   0.33]
    """
    t0 = time.perf_counter()
    setting = _Setting(model, ness, symmetry)
    A = _operator(A, "A", setting.model)
    omegas_in = _omegas(omegas)
    w = np.atleast_1d(omegas_in)
    d = setting.model.dim
    rho = setting.rho
    mean = complex(np.sum(A.multiply(rho.T)))
    dA = sp.csr_array(A - mean * sp.eye_array(d, format="csr", dtype=np.complex128))
    dAd = sp.csr_array(dA.conj().T)
    power = float(np.real(np.sum((dAd @ dA).multiply(rho.T))))
    y_full = np.asarray(dA @ rho)
    S = np.zeros(w.size)
    used = []
    sym = setting.sym
    if isinstance(setting.model, SuperoperatorModel):
        raise TypeError(
            "emission_spectrum needs a LindbladModel (H and jump operators) for the resolvent engine; "
            f"got a Liouvillian matrix (SuperoperatorModel): {setting.model.lindblad_hint()}"
        )
    model, method = _prepare(setting.model, method, options)
    zero_w = ZERO_OMEGA_RTOL * _zero_scale(model)
    for s, a, y in setting.pieces(y_full, dAd):
        steady = s is setting.steady
        entry = {"label": s.label, "size": s.size, "routes": set(), "iterations": 0}
        # (a frequency below the rounding of L's entries, an np.arange grid's 2.2e-16, is zero)
        at_zero = (np.abs(w) <= zero_w) if steady else np.zeros(w.size, dtype=bool)
        if np.any(at_zero):
            # L is singular here: the trace-zero (Drazin) solution; dA rho has trace zero
            # (a Schur form of the singular L is of no use for the trace-zero solve: dense LU)
            solver = drazin(model, symmetry=sym, method=Dense() if isinstance(method, Schur) else method)
            if solver.sector.size != s.size:  # pragma: no cover - same symmetry, same sectors
                raise AssertionError("drazin solved in another sector")
            r_ss = s.from_full(rho)
            x = solver.solve_sector(trace_free(y, s.trace_vector(), r_ss))
            x = x - (s.trace_vector() @ x) * r_ss
            S[at_zero] += -2.0 * np.real(a @ x)
            entry["routes"].add(solver.info["route"])
            entry["iterations"] += int(np.sum(solver.info["iterations"]))
        rest = np.flatnonzero(~at_zero)
        if rest.size:
            zs = 1j * w[rest]
            # one solver for all frequencies: Auto may reduce a small sector once (Schur form)
            solver = resolvent(model, zs[0], sector=s, method=method, shifts=np.unique(zs).size)
            if "auto" in solver.info:
                entry["auto"] = solver.info["auto"]
            if steady:
                # no component along rho_ss (exact: Tr y = 0); drop what rounding puts there near w = 0
                t_ss, r_ss = s.trace_vector(), s.from_full(rho)
                ax, tx = solver.solve_sector_shifts(y, zs, left=np.stack([a, t_ss])).T
                vals = ax - tx * (a @ r_ss)
            else:
                vals = solver.solve_sector_shifts(y, zs, left=a)
            S[rest] += -2.0 * np.real(vals)
            entry["routes"].add(solver.info["route"])
            entry["iterations"] += int(np.sum(solver.info["iterations"]))
        entry["routes"] = sorted(entry["routes"])
        entry["solves"] = w.size
        used.append(entry)
    info = {"sectors": used, "time": time.perf_counter() - t0}
    return EmissionSpectrum(
        omegas_in, S.reshape(omegas_in.shape) if omegas_in.ndim else S[0], mean, abs(mean) ** 2, power, info
    )
