"""Linear solves with the Liouvillian: the Drazin inverse and the resolvent, sector by sector.

Counting statistics, current noise, two-time correlations and emission spectra
all reduce to repeated linear solves with the Liouvillian ``L`` (column
stacking, ``vec(rho) = rho.ravel(order="F")``):

* :func:`drazin` -- ``L x = y`` for a trace-zero ``y`` in the steady-state
  sector, returning the trace-zero solution ``x = L^D y`` (``L^D`` the Drazin,
  here group, inverse of ``L``: ``L L^D = L^D L = Q = 1 - |rho_ss>><<1|``).
  Solved as the steady state is, with the equation of the first diagonal
  element replaced by ``c Tr(x) = 0`` (that row is redundant: ``Tr L x = 0 =
  Tr y``), so the same trace-augmented matrix is factorised.
* :func:`resolvent` -- ``(L - z) x = y`` for a complex ``z`` in a *given*
  symmetry sector (for ``z = -i w`` the Fourier transform
  ``int_0^inf e^{i w t} e^{L t} dt = -(L + i w)^{-1} = -(L - z)^{-1}``). An
  operator ``A`` with U(1) charge ``q`` maps ``rho_ss`` into the sector ``q``
  (``n_left - n_right = q``), so correlation spectra solve there.

Both return a solver object that is set up once (the sparse LU factorised
once, or the Sylvester preconditioner built once) and then applied to any
number of right-hand sides, with no dense ``D x D`` matrix for ``D = d^2``:

* ``solver.solve(y)`` takes and returns the full space: a ``d x d`` matrix, or
  a column-stacked vector of length ``d^2``; ``y`` must lie in the solver's
  sector (else ``ValueError``).
* ``solver.solve_sector(y)`` takes and returns vectors in the sector's own
  basis (``solver.sector``; see :class:`qness.symmetry.Sector`: block pairs
  ``(bl, br)`` one after another, column stacking inside each). This skips the
  scatter/gather of ``d^2`` entries per solve; convert with
  ``solver.sector.from_full(rho)`` / ``solver.sector.to_full(x)``.

Routes (as :func:`qness.steady_state`): ``Dense`` (LU of the dense sector
matrix), ``Direct`` (sparse LU, UMFPACK or SuperLU with the Liouvillian
ordering), ``Krylov`` (matrix-free GMRES, right-preconditioned by the exact
inverse of the shifted no-jump part ``(L0 - z)^{-1}``, a Sylvester solve per
block pair), or ``Auto`` (dense up to ``dense_max`` unknowns, then a sparse
LU where its estimated cost is at most about 50 GMRES steps and its envelope
fits in half the memory, else Krylov). For many shifts (frequencies) of one
small sector, ``Schur`` reduces the dense sector matrix once to complex Schur
form, after which each shift costs ``O(n^2)``
(:meth:`LinearSolver.solve_sector_shifts` solves a whole grid at once);
``resolvent(..., shifts=m)`` lets ``Auto`` take it where it is estimated cheaper.
"""

from __future__ import annotations

import copy
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg.blas import ztrsv as _ztrsv

from .._threads import limit_blas, one_blas_thread
from ..model import LindbladModel, SuperoperatorModel, U1Symmetry, Z2Symmetry, as_model
from ..symmetry import Sector, _SylvesterInverse, detect_symmetry, full_sector, sectors
from .errors import ConvergenceError, NonUniqueSteadyStateError, UniquenessWarning
from .methods import Auto, Dense, Direct, Krylov, resolve_method
from .uniqueness import lu_check

#: What a Drazin solve on a model with several steady states says (the hint of the steady-state
#: errors recommends ``asymptotic_state``, whose state a caller may then pass as ``ness=``: the
#: zero-frequency quantities still need the one steady state of the dynamics they describe).
DRAZIN_NON_UNIQUE = (
    "the Liouvillian has more than one steady state in this sector (to working precision), so its "
    "Drazin inverse (the zero-frequency solve behind noise spectra and emission spectra at w = 0, "
    "cumulants and correlation integrals) is not fixed by one trace condition, whatever state is "
    "passed as ness=; "
    "where the model splits into invariant subspaces (qness.steady_states(model) lists them, each "
    "NESS's info['subspace'] its basis states), build the model on the subspace that holds the "
    "state, where the steady state is unique; nonzero frequencies do not need it"
)

__all__ = ["LinearSolver", "Schur", "drazin", "resolvent"]


@dataclass(frozen=True)
class Schur:
    """Route of :func:`resolvent` for many shifts: the complex Schur form of the dense sector matrix.

    ``M = U T U^+`` (``T`` upper triangular, ``U`` unitary; backward stable for any
    non-normal Liouvillian) is computed once, about ``25 n^3`` operations; each shift ``z``
    then costs one triangular solve ``(T - z) u = U^+ y`` and two products with ``U``,
    ``O(n^2)``, and :meth:`LinearSolver.solve_sector_shifts` solves a whole frequency grid
    at once. ``Auto`` takes it for sectors up to ``max_size`` unknowns when ``resolvent``
    is told to expect many shifts (``shifts=``) and one reduction is estimated cheaper than
    a factorisation per shift.

    Attributes
    ----------
    max_size : int
        Largest sector accepted (a dense ``n x n`` complex matrix and its Schur vectors:
        128 MB at 2000).
    """

    max_size: int = 2000

    def __post_init__(self):
        if isinstance(self.max_size, bool) or not isinstance(self.max_size, int) or self.max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {self.max_size!r}")


_REGISTRY = {"auto": Auto, "dense": Dense, "direct": Direct, "krylov": Krylov, "schur": Schur}

#: Estimated seconds (one thread) per ``n^3`` of a complex Schur decomposition, per ``n^3`` of a
#: dense LU, per ``n^2`` and shift of the shifted triangular solve with the products by ``U`` and
#: the residual check, and of the fixed set-up of one solver per shift (measured on this
#: project's 2-core machine under a load of 5, ``n = 300-900``: Schur 3.3-6e-9 n^3, LU
#: 1.1e-10 n^3, ``ztrsv`` 2-4e-10 n^2).
_T_SCHUR = 5e-9
_T_DENSE_LU = 1.2e-10
_T_SHIFT_SOLVE = 1.5e-9
_T_SOLVER = 1e-3

#: Relative size of ``Tr(y)`` (against ``sum |y_ii|`` and ``||y||_2``) accepted as trace zero
#: by :func:`drazin` solves.
TRACE_TOL = 1e-9

#: Frequencies ``|w| <= ZERO_OMEGA_RTOL * ||L||`` (a bound on the norm,
#: :func:`qness.solvers.spectrum._zero_scale`) are solved as ``w = 0`` by the spectra of
#: :mod:`qness.analysis` (about 50 times the rounding of ``L``'s entries: ``L - i w`` is ``L`` to
#: working precision, singular as computed, and the spectra are ``S(0) + O(w^2)`` there).
ZERO_OMEGA_RTOL = 1e-14


def trace_free(y: np.ndarray, t: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``Q y = y - Tr(y) rho / Tr(rho)``, the trace-zero part of ``y`` for a Drazin solve, applied twice.

    A right-hand side formed as a difference (``J rho - Tr(J rho) rho``, ``dA rho``) keeps a trace of
    the rounding of its *terms*, which can be far above ``TRACE_TOL`` times its own size where
    the terms nearly cancel (a coherent state, whose jumps barely change it: ``J rho ~ <J> rho``);
    the second projection brings it to the rounding of ``y`` itself, and dividing by ``Tr(rho)``
    makes it exact for a state normalised only to ``1e-8``.

    Parameters
    ----------
    y, rho : numpy.ndarray, shape (n,)
        Sector vectors (``rho`` the steady state, ``Tr rho`` not zero).
    t : numpy.ndarray, shape (n,)
        The sector's trace vector (``Tr x = t @ x``).

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    tr_rho = t @ rho
    for _ in range(2):
        y = y - ((t @ y) / tr_rho) * rho
    return y


def _find_sector(model: LindbladModel, sector, symmetry) -> Sector:
    """The sector asked for: ``"steady"``, a label (charge ``q`` or parity ``±1``), or a Sector."""
    if isinstance(sector, Sector):
        if sector.d != model.dim:
            raise ValueError(f"sector is for dimension {sector.d}, the model has {model.dim}")
        return sector
    if symmetry is None or symmetry is False:
        sym = None
    elif isinstance(symmetry, str):
        if symmetry != "auto":
            raise ValueError(f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}")
        sym = model.u1() or model.z2() or detect_symmetry(model, combine=False)
    elif isinstance(symmetry, (U1Symmetry, Z2Symmetry)):
        sym = symmetry
    else:
        raise TypeError(
            f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {type(symmetry).__name__}"
        )
    if sym is None:
        secs = [full_sector(model.dim)]
    else:
        secs = sectors(model, sym, check=not isinstance(symmetry, str))
    if isinstance(sector, str):
        if sector != "steady":
            raise ValueError(f"sector must be 'steady', an integer label or a Sector; got {sector!r}")
        for s in secs:
            if s.label == 0 or (s.kind == "z2" and s.label == 1):
                return s
        raise AssertionError("no steady-state sector")  # pragma: no cover
    if isinstance(sector, (int, np.integer)) and not isinstance(sector, bool):
        for s in secs:
            if s.label == int(sector):
                return s
        raise ValueError(
            f"sector={int(sector)} is not a sector of this model; its sectors are "
            f"{[s.label for s in secs]} ({secs[0].kind})"
        )
    raise TypeError(f"sector must be 'steady', an int or a Sector; got {type(sector).__name__}")


def _check_z(z) -> complex:
    if isinstance(z, (bool, np.bool_)) or not isinstance(z, (int, float, complex, np.number)):
        raise TypeError(f"z must be a complex number, got {type(z).__name__}")
    z = complex(z)
    if not np.isfinite(z.real) or not np.isfinite(z.imag):
        raise ValueError(f"z must be finite, got {z}")
    return z


class _Shifted:
    """``M - z``, applied without forming it (residuals and refinement of the Schur route)."""

    def __init__(self, M, z):
        self.M, self.z = M, z

    def __matmul__(self, x):
        return self.M @ x - self.z * x


def _solve_cost(model, sector: Sector, method, matrix) -> float:
    """Estimated seconds of one solve at a new shift by ``method`` (Dense, Direct or Krylov)."""
    n = float(sector.size)
    if isinstance(method, Dense):
        return _T_DENSE_LU * n**3
    from .steady import _DIRECT_STEPS, cost_estimates, envelope_estimate

    est = cost_estimates(model, sector, envelope_estimate(matrix())[0])
    if isinstance(method, Direct):
        return est["direct_s"]
    return _DIRECT_STEPS * est["krylov_step_s"]


def _reshift(base: _SylvesterInverse, z: complex) -> _SylvesterInverse:
    """The no-jump inverse ``(L0 - z)^{-1}`` of ``base``'s sector at another shift ``z``.

    Keeps the eigen/Schur decompositions of ``H_eff``'s blocks (the expensive part of the
    set-up) and recomputes only the denominators.
    """
    out = copy.copy(base)
    out.shift = z
    out.den = [base._denominators(p, z) for p in range(len(base.sector.pairs))]
    return out


def _auto_choice(model, sector: Sector, method: Auto, matrix):
    """``(route, reason)`` that ``Auto`` takes for solves with the Liouvillian of ``sector``.

    Dense up to ``dense_max`` unknowns; above ``direct_max`` Krylov; in between a sparse LU
    where its estimated cost is at most ``_DIRECT_STEPS`` GMRES steps (or its top separator is
    small) and its envelope fits in half the memory, else Krylov. ``matrix()`` returns the
    assembled sector matrix (only called when needed). Shared by :class:`LinearSolver` and
    :func:`qness.analysis.counting.scgf`.
    """
    from .steady import _DIRECT_STEPS, available_memory, cost_estimates, envelope_estimate

    n = sector.size
    if n <= method.dense_max:
        return Dense(), f"dense: {n} unknowns <= dense_max={method.dense_max}"
    krylov = Krylov(rtol=method.rtol, maxiter=max(method.krylov_maxiter, 2000))
    if n > method.direct_max:
        return krylov, f"krylov: {n} unknowns > direct_max={method.direct_max}"
    flops, mem = envelope_estimate(matrix())
    if mem > 0.5 * available_memory():
        return krylov, f"krylov: LU envelope estimate {mem / 2**20:.0f} MiB above half the memory"
    est = cost_estimates(model, sector, flops)
    steps = est["direct_s"] / est["krylov_step_s"]
    if steps <= _DIRECT_STEPS or est["separator"] ** 3 <= method.direct_flops:
        return Direct(), f"direct: estimated LU {est['direct_s']:.2g} s = {steps:.0f} GMRES steps"
    return krylov, f"krylov: estimated LU {est['direct_s']:.2g} s = {steps:.0f} GMRES steps"


class LinearSolver:
    """Repeated solves with the (shifted) Liouvillian of one sector (from :func:`drazin`, :func:`resolvent`).

    Attributes
    ----------
    model : LindbladModel
        The model.
    sector : qness.symmetry.Sector
        The sector the solves live in; :meth:`solve_sector` works in its basis.
    z : complex
        The shift: the solves are ``(L - z) x = y`` (``z = 0`` with
        ``drazin=True``: ``x = L^D y``, ``Tr x = 0``).
    drazin : bool
        ``True`` for the Drazin inverse in the steady sector.
    method : Dense, Direct or Krylov
        The route taken (``Auto`` resolved).
    info : dict
        ``route``, ``auto`` (the reason, under ``Auto``), ``setup_time``,
        ``solves`` (count), ``iterations`` (Krylov: per solve), ``residual``
        (relative residual of the last solve, ``||b - A x|| / ||b||``).
    """

    def __init__(self, model, sector: Sector, z: complex, drazin_: bool, method, reuse=None, shifts: int = 1):
        self._reuse = reuse
        self._shifts = shifts
        if isinstance(reuse, LinearSolver) and reuse.sector is sector:
            # the assembled sector matrix of L does not depend on the shift
            self._M = getattr(reuse, "_M", None)
        self.model = model
        self.sector = sector
        self.z = z
        self.drazin = drazin_
        self.n = sector.size
        self.info = {"solves": 0, "iterations": []}
        t0 = time.perf_counter()
        method = self._choose(method)
        self.method = method
        self.info["route"] = type(method).__name__
        self._t = sector.trace_vector() if drazin_ else None
        if drazin_:
            diag = np.flatnonzero(self._t)
            self._r = int(diag[0])
            # scale of L's rows keeps the LU pivots balanced (as the steady-state solve)
            w = 2.0 * float(np.max(np.abs(model.H_eff().diagonal()), initial=0.0))
            self._c = w if np.isfinite(w) and w > 0 else 1.0
        block = max((len(b) for b in sector.blocks), default=0)
        with limit_blas(self.n if isinstance(method, (Dense, Schur)) else block):
            if isinstance(method, Schur):
                self._setup_schur(method)
            elif isinstance(method, Krylov):
                self._setup_krylov(method)
            else:
                self._setup_lu(method)
        self.info["setup_time"] = time.perf_counter() - t0

    # ------------------------------------------------------------ setup
    def _choose(self, method):
        if not isinstance(method, Auto):
            if isinstance(method, Schur) and self.drazin:
                raise ValueError("method=Schur is for shifted solves (resolvent), not the Drazin inverse")
            return method
        base = self._reuse
        if (
            not self.drazin
            and isinstance(base, LinearSolver)
            and base.sector is self.sector
            and isinstance(base.method, Schur)
        ):
            self.info["auto"] = "schur: the Schur form of the solver passed as reuse="
            return base.method
        method_, reason = _auto_choice(self.model, self.sector, method, self._matrix)
        n = self.n
        if not self.drazin and self._shifts > 1 and n <= Schur.max_size:
            per_shift = _solve_cost(self.model, self.sector, method_, self._matrix)
            schur = _T_SCHUR * float(n) ** 3 + self._shifts * _T_SHIFT_SOLVE * float(n) ** 2
            if schur <= self._shifts * (per_shift + _T_SOLVER):
                method_ = Schur()
                reason = (
                    f"schur: one reduction est. {schur:.2g} s <= {self._shifts} shifts x "
                    f"{per_shift + _T_SOLVER:.2g} s ({reason})"
                )
        self.info["auto"] = reason
        if isinstance(method_, Krylov):
            self._M = None
        return method_

    def _matrix(self) -> sp.csr_array:
        if getattr(self, "_M", None) is None:
            self._M = self.sector.matrix(self.model)
        return self._M

    def _system_matrix(self) -> sp.csr_array:
        """``L - z`` (sector), or the trace-augmented ``L`` for the Drazin solve."""
        M = self._matrix()
        n = self.n
        if not self.drazin:
            return sp.csr_array(M - self.z * sp.eye_array(n, format="csr")) if self.z != 0 else M
        keep = np.ones(n)
        keep[self._r] = 0.0
        diag_idx = np.flatnonzero(self._t)
        vals = np.full(diag_idx.size, self._c, dtype=np.complex128)
        trace_row = sp.csr_array(
            (vals, (np.full(diag_idx.size, self._r), diag_idx)),
            shape=(n, n),
        )
        A = sp.csr_array(sp.diags_array(keep) @ M) + trace_row
        A.sum_duplicates()
        A.eliminate_zeros()
        return sp.csr_array(A)

    def _setup_lu(self, method):
        from .steady import _have_umfpack, _umfpack_factor

        if (
            not self.drazin
            and isinstance(method, Direct)
            and method.backend in ("auto", "umfpack")
            and method.ordering == "MMD_AT_PLUS_A"
            and _have_umfpack()
            and self._setup_umfpack_shifted(method)
        ):
            return
        A = self._system_matrix()
        self._A = A
        self._norm1 = float(spla.norm(A, 1)) if A.nnz else 0.0
        if isinstance(method, Dense):
            if self.n > method.max_size:
                raise ValueError(
                    f"Dense: the sector has {self.n} unknowns, above max_size={method.max_size}; "
                    "use Direct or Krylov"
                )
            Ad = A.toarray()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sla.LinAlgWarning)
                lu = sla.lu_factor(Ad, check_finite=False)
            if np.min(np.abs(np.diag(lu[0])), initial=np.inf) <= 1e-14 * max(self._norm1, 1e-300):
                self._singular()
            self._solve = lambda b: sla.lu_solve(lu, b, check_finite=False)
            self.info["backend"] = "lapack"
            self._certify_lu()
            return
        backend = method.backend
        if backend == "auto":
            backend = "umfpack" if (_have_umfpack() and method.ordering == "MMD_AT_PLUS_A") else "superlu"
        self.info["backend"] = backend
        try:
            if backend == "umfpack":
                if not _have_umfpack():
                    raise ValueError("backend='umfpack' needs cvxopt: pip install 'qness[fast]'")
                self._solve = _umfpack_factor(A)
            else:
                lu = spla.splu(
                    sp.csc_matrix(A),
                    permc_spec=method.ordering,
                    diag_pivot_thresh=0.1 if method.ordering == "MMD_AT_PLUS_A" else 1.0,
                    options={"SymmetricMode": method.ordering == "MMD_AT_PLUS_A"},
                )
                self.info["lu_nnz"] = int(lu.L.nnz + lu.U.nnz)
                self._solve = lu.solve
        except (RuntimeError, ArithmeticError) as exc:
            if "singular" in str(exc).lower():
                self._singular()
            raise
        self._refine = method.refine
        self._certify_lu()

    def _certify_lu(self) -> None:
        """Drazin solver: the trace-augmented system's uniqueness check on its LU (as the steady
        state's ``Direct``, :func:`qness.solvers.uniqueness.lu_check`): a pivot that is rounding
        noise, not zero, let a structurally singular system through (two-photon loss, whose
        parity keeps two steady states: finite, wrong zero-frequency values). ``info["uniqueness"]``."""
        if not self.drazin:
            return
        A = self._A
        try:
            self.info["uniqueness"] = lu_check(A, self._solve)
        except NonUniqueSteadyStateError as exc:
            self._singular(str(exc).split(":")[0])

    def _setup_umfpack_shifted(self, method: Direct) -> bool:
        """UMFPACK LU of ``M - z`` whose symbolic analysis is shared between shifts.

        The pattern of ``M - z`` (the sector matrix with its whole diagonal) does not depend
        on ``z``, so a solver passed as ``reuse=`` hands over its ordering and symbolic
        factorisation; only the numeric LU is made per shift. Returns ``False`` (the
        caller factorises as usual) when a diagonal entry of ``M - z`` is exactly zero.
        """
        from cvxopt import matrix, spmatrix, umfpack

        n = self.n
        base = self._reuse
        shared = None
        if isinstance(base, LinearSolver) and base.sector is self.sector:
            shared = getattr(base, "_umf", None)
        if shared is None:
            M = self._matrix()
            C = sp.coo_array(M)
            idx = np.arange(n, dtype=np.int64)
            P = sp.csc_array(
                (
                    np.concatenate([C.data.astype(np.complex128), np.zeros(n, dtype=np.complex128)]),
                    (np.concatenate([C.row, idx]), np.concatenate([C.col, idx])),
                ),
                shape=(n, n),
            )
            P.sum_duplicates()
            Pc = P.tocoo()
            rows, cols = Pc.row.astype(np.int64), Pc.col.astype(np.int64)
            shared = {
                "rows": matrix(rows),
                "cols": matrix(cols),
                "data": Pc.data.copy(),
                "diag": np.flatnonzero(rows == cols),
                "symbolic": None,
                "norm1": float(spla.norm(M, 1)) if M.nnz else 0.0,
            }
        vals = shared["data"].copy()
        vals[shared["diag"]] -= self.z
        if np.any(vals[shared["diag"]] == 0):
            return False
        Mz = spmatrix(matrix(vals), shared["rows"], shared["cols"], (n, n), tc="z")
        try:
            if shared["symbolic"] is None:
                shared["symbolic"] = umfpack.symbolic(Mz)
            else:
                self.info["symbolic_reused"] = True
            numeric = umfpack.numeric(Mz, shared["symbolic"])
        except ArithmeticError as exc:
            if "singular" in str(exc).lower():
                self._singular()
            raise

        def solve(b):
            B = matrix(np.asarray(b, dtype=np.complex128).reshape(-1, 1), tc="z")
            umfpack.solve(Mz, numeric, B)
            return np.array(B).ravel()

        self._umf = shared
        self._solve = solve
        self._A = _Shifted(self._matrix(), self.z)
        self._norm1 = shared["norm1"] + abs(self.z)  # an upper bound of ||M - z||_1
        self._refine = method.refine
        self.info["backend"] = "umfpack"
        return True

    def _setup_schur(self, method: Schur):
        base = self._reuse
        if isinstance(base, LinearSolver) and base.sector is self.sector and hasattr(base, "_schur"):
            self._schur = base._schur  # shared, read-only except inside one solve
        else:
            if self.n > method.max_size:
                raise ValueError(
                    f"Schur: the sector has {self.n} unknowns, above max_size={method.max_size}; "
                    "use Direct or Krylov"
                )
            M = self._matrix()
            with one_blas_thread():  # see qness._threads
                T, U = sla.schur(M.toarray(), output="complex", check_finite=False)
            norm1 = float(spla.norm(M, 1)) if M.nnz else 0.0
            self._schur = {
                "T": np.asfortranarray(T),
                "diag": np.diag(T).copy(),
                "U": U,
                "Uh": np.ascontiguousarray(U.conj().T),
                "norm1": norm1,
                "lock": threading.Lock(),
            }
        sch = self._schur
        self._A = _Shifted(self._matrix(), self.z)
        self._norm1 = sch["norm1"] + abs(self.z)
        self._check_shift(self.z)
        self._solve = lambda b: self._schur_solve(b, [self.z])[:, 0]
        self.info["backend"] = "lapack-schur"

    def _check_shift(self, z):
        """``ValueError`` if a shift in ``z`` (scalar or array) is an eigenvalue to working precision."""
        sch = self._schur
        zs = np.atleast_1d(z)
        gap = np.full(zs.size, np.inf)
        for k in range(0, zs.size, 256):  # chunks bound the n x 256 work array
            part = np.abs(sch["diag"][:, None] - zs[None, k : k + 256])
            gap[k : k + 256] = part.min(axis=0, initial=np.inf)
        bad = gap <= 1e-14 * max(sch["norm1"], 1e-300)
        if np.any(bad):
            z0 = zs[np.flatnonzero(bad)[0]]
            raise ValueError(f"L - z is singular in sector {self.sector.label}: z = {z0} is an eigenvalue")

    def _schur_solve(self, B, zs) -> np.ndarray:
        """``x_k = U (T - z_k)^{-1} U^+ b_k`` for the columns ``b_k`` of ``B`` (one column: all ``z_k``)."""
        sch = self._schur
        T, d0 = sch["T"], sch["diag"]
        G = sch["Uh"] @ (B.reshape(self.n, -1))
        Z = np.empty((self.n, len(zs)), dtype=np.complex128, order="F")
        idx = np.arange(self.n)
        with sch["lock"]:
            try:
                for k, z in enumerate(zs):
                    T[idx, idx] = d0 - z
                    Z[:, k] = _ztrsv(T, G[:, k if G.shape[1] > 1 else 0])
            finally:
                T[idx, idx] = d0
        return sch["U"] @ Z

    def _singular(self, found: str = "the trace-augmented Liouvillian is singular"):
        if self.drazin:
            err = NonUniqueSteadyStateError(f"{DRAZIN_NON_UNIQUE} ({found})")
            err.sigma = 0.0
            raise err
        raise ValueError(f"L - z is singular in sector {self.sector.label}: z = {self.z} is an eigenvalue")

    def _certify_krylov(self, method: Krylov, x: np.ndarray, its: int) -> None:
        """Drazin solver on the Krylov route: the steady-state solve's check (GMRES on a random
        right-hand side with the solve's preconditioner, :func:`qness.solvers.uniqueness.krylov_check`),
        once, after the first solve (whose iterations set its budget and whose solution, per unit
        right-hand side, its scale: a direction ``u`` with ``||A u|| <= rtol ||u|| / ||x||`` leaves the
        solution undetermined at the tolerance asked for)."""
        from .krylov import gmres
        from .steady import _check_budget
        from .uniqueness import krylov_check

        restart = method.restart or 100
        try:
            self.info["uniqueness"] = krylov_check(
                self._op,
                self._prec,
                self.n,
                rtol=method.rtol,
                x_norm=float(np.linalg.norm(x)),
                restart=restart,
                chunk=restart,
                budget=_check_budget(its, restart),
                gmres=gmres,
                what="the trace-augmented Liouvillian of the Drazin solve",
            )
        except NonUniqueSteadyStateError as exc:
            self._singular(str(exc).split(":")[0])
        if not self.info["uniqueness"]["verified"]:
            warnings.warn(
                "drazin: uniqueness of the steady state not verified (GMRES on a random right-hand side "
                f"stalled at residual {self.info['uniqueness']['check_residual']:.1e} > "
                f"{self.info['uniqueness']['delta']:.1e}); the zero-frequency values hold only if it is "
                "unique: check with method='direct'",
                UniquenessWarning,
                stacklevel=4,
            )

    def _setup_krylov(self, method: Krylov):
        sec, model = self.sector, self.model
        from .steady import assembles

        assembled = assembles(method, model, sec)
        self.info["operator"] = "assembled" if assembled else "matrix-free"
        L = self._matrix() if assembled else sec.operator(model)
        z, n = self.z, self.n
        if self.drazin:
            r, t, c = self._r, self._t, 1.0

            def mv(x):
                y = np.asarray(L @ x).ravel().astype(np.complex128, copy=False)
                y[r] = c * (t @ x)
                return y
        else:

            def mv(x):
                return np.asarray(L @ x).ravel() - z * x

        self._op = spla.LinearOperator((n, n), matvec=mv, dtype=np.complex128)
        self._prec = None
        if method.preconditioner == "sylvester":
            base = getattr(self._reuse, "_prec", None)
            if isinstance(base, _SylvesterInverse) and base.sector is sec:
                self._prec = _reshift(base, z)
                self.info["preconditioner_reused"] = True
            else:
                self._prec = sec.sylvester_preconditioner(model, shift=z)
            self.info["preconditioner_route"] = self._prec.route
        elif method.preconditioner == "ilu":
            ilu = spla.spilu(
                sp.csc_matrix(self._system_matrix()), fill_factor=method.ilu_fill, drop_tol=method.ilu_drop
            )
            self._prec = spla.LinearOperator((n, n), matvec=ilu.solve, dtype=np.complex128)
        self._solve = None

    # ------------------------------------------------------------ solves
    def _rhs(self, y: np.ndarray) -> np.ndarray:
        if not self.drazin:
            return y
        tr = self._t @ y
        scale = max(float(np.abs(y[self._t > 0]).sum()), float(np.linalg.norm(y)), 1e-300)
        if abs(tr) > TRACE_TOL * scale:
            raise ValueError(
                f"y must have trace zero for the Drazin solve L x = y (Tr y = {tr:.3g}, relative "
                f"{abs(tr) / scale:.1e}); project it first: y - Tr(y) rho_ss (solve(..., project=True))"
            )
        b = y.copy()
        b[self._r] = 0.0
        return b

    def solve_sector(self, y, x0=None) -> np.ndarray:
        """Solve in the sector basis.

        Parameters
        ----------
        y : numpy.ndarray, shape (n,)
            Right-hand side as a sector vector (``n = solver.sector.size``);
            trace zero for a Drazin solver.
        x0 : numpy.ndarray, optional
            Initial guess (Krylov only).

        Returns
        -------
        numpy.ndarray, shape (n,)
            ``x`` with ``(L - z) x = y`` (Drazin: ``L x = y`` and ``Tr x = 0``).

        Raises
        ------
        ValueError
            Wrong shape, non-finite entries, or (Drazin) ``Tr y != 0``.
        ConvergenceError
            Krylov: ``||b - A x|| > rtol ||b||`` after ``maxiter`` steps.
        """
        y = np.asarray(y)
        if y.shape != (self.n,):
            raise ValueError(f"y must be a sector vector of shape ({self.n},), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y has non-finite entries")
        b = self._rhs(y.astype(np.complex128))
        self.info["solves"] += 1
        bnorm = float(np.linalg.norm(b))
        if bnorm == 0.0:
            self.info["residual"] = 0.0
            return np.zeros(self.n, dtype=np.complex128)
        block = max((len(bb) for bb in self.sector.blocks), default=0)
        if self._solve is not None:
            with limit_blas(self.n if isinstance(self.method, Dense) else block):
                x = self._solve(b)
                A = self._A
                for _ in range(getattr(self, "_refine", 1)):
                    r = b - A @ x
                    if np.linalg.norm(r, 1) <= 8 * np.finfo(float).eps * self._norm1 * np.linalg.norm(x, 1):
                        break
                    x = x + self._solve(r)
                res = float(np.linalg.norm(b - A @ x)) / bnorm
            if not np.all(np.isfinite(x)):
                self._singular()
            self.info["residual"] = res
            return x
        from .steady import _krylov_run

        method = self.method
        with limit_blas(block):
            try:
                x, _flag, its = _krylov_run(method, self._op, b, x0, self._prec)
            except NonUniqueSteadyStateError:
                self._singular()
            res = float(np.linalg.norm(b - self._op @ x)) / bnorm
            self.info["iterations"].append(its)
            self.info["residual"] = res
            if (
                self.drazin
                and "uniqueness" not in self.info
                and np.all(np.isfinite(x))
                and res <= method.rtol
            ):
                # (its small Gram-Schmidt products on one BLAS thread, as the solve's: review 15b)
                self._certify_krylov(method, x / bnorm, its)
        if not np.all(np.isfinite(x)) or not res <= method.rtol:
            raise ConvergenceError(
                f"resolvent Krylov ({method.solver}, preconditioner={method.preconditioner}) did not reach "
                f"rtol={method.rtol:g} in {its} iterations (relative residual {res:.2e}); "
                "raise maxiter or use method='direct'",
                rho=self.sector.to_full(x) if np.all(np.isfinite(x)) else None,
                residual=res,
                iterations=its,
            )
        return x

    def solve_sector_shifts(self, y, zs, *, left=None) -> np.ndarray:
        """Solve ``(L - z) x = y`` for one right-hand side at many shifts (sector basis).

        On the :class:`Schur` route every shift reuses the one Schur form (a triangular
        solve each, all shifts at once); on the others each shift gets a solver of its
        own through ``resolvent(..., reuse=self)`` (the sector matrix and the Sylvester
        preconditioner's block decompositions are shared).

        Parameters
        ----------
        y : numpy.ndarray, shape (n,)
            Right-hand side as a sector vector.
        zs : array_like of complex, shape (m,)
            The shifts; none may be an eigenvalue of ``L`` in the sector.
        left : numpy.ndarray, shape (n,) or (p, n), optional
            If given, return only ``left @ x`` for each shift.

        Returns
        -------
        numpy.ndarray
            Shape ``(m, n)``: row ``k`` is ``x`` at ``zs[k]``; with ``left``, shape
            ``(m,)`` (or ``(m, p)``): ``left @ x`` at each shift.

        Raises
        ------
        ValueError
            Wrong shapes, non-finite entries, a Drazin solver (it has no shift), or a
            shift that is an eigenvalue.
        ConvergenceError
            Krylov: a solve missed its ``rtol``.

        Notes
        -----
        The Schur route checks every solution: the residual ``||y - (L - z) x||`` is
        computed with the sparse sector matrix, and a column with
        ``||r||_1 > 64 eps ||L - z||_1 ||x||_1`` gets one step of iterative refinement;
        ``info["residual"]`` is then the largest relative residual over the shifts.
        """
        if self.drazin:
            raise ValueError("solve_sector_shifts is for shifted (resolvent) solvers, not drazin()")
        y = np.asarray(y)
        if y.shape != (self.n,):
            raise ValueError(f"y must be a sector vector of shape ({self.n},), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y has non-finite entries")
        zs = np.atleast_1d(np.asarray(zs, dtype=np.complex128))
        if zs.ndim != 1 or not np.all(np.isfinite(zs)):
            raise ValueError("zs must be a one-dimensional array of finite complex shifts")
        if left is not None:
            left = np.asarray(left)
            if left.ndim not in (1, 2) or left.shape[-1] != self.n:
                raise ValueError(f"left must have shape ({self.n},) or (p, {self.n}), got {left.shape}")
        y = y.astype(np.complex128)
        if not isinstance(self.method, Schur):
            rows = []
            for z in zs:
                solver = (
                    self
                    if z == self.z
                    else LinearSolver(self.model, self.sector, complex(z), False, self.method, reuse=self)
                )
                x = solver.solve_sector(y)
                if solver is not self:
                    self.info["solves"] += 1
                    self.info["iterations"].extend(solver.info["iterations"])
                    self.info["residual"] = max(self.info.get("residual", 0.0), solver.info["residual"])
                rows.append(left @ x if left is not None else x)
            return np.array(rows)
        self._check_shift(zs)
        self.info["solves"] += zs.size
        if not np.any(y):
            self.info["residual"] = 0.0
            shape = (zs.size, self.n) if left is None else (zs.size, *left.shape[:-1])
            return np.zeros(shape, dtype=np.complex128)
        M = self._matrix()
        eps = np.finfo(float).eps
        out, worst = [], 0.0
        with limit_blas(self.n):
            for k0 in range(0, zs.size, 128):  # chunks of shifts bound the n x 128 work arrays
                zc = zs[k0 : k0 + 128]
                norm1 = self._schur["norm1"] + np.abs(zc)
                X = self._schur_solve(y, zc)
                R = y[:, None] - (M @ X - X * zc[None, :])
                bad = np.linalg.norm(R, 1, axis=0) > 64 * eps * norm1 * np.linalg.norm(X, 1, axis=0)
                if np.any(bad):
                    k = np.flatnonzero(bad)
                    X[:, k] += self._schur_solve(R[:, k], zc[k])
                    R[:, k] = y[:, None] - (M @ X[:, k] - X[:, k] * zc[None, k])
                worst = max(worst, float(np.max(np.linalg.norm(R, axis=0))))
                if not np.all(np.isfinite(X)):  # pragma: no cover - the shifts were checked above
                    raise ValueError("Schur solve: non-finite solution")
                out.append((left @ X).T if left is not None else X.T)
        self.info["residual"] = worst / float(np.linalg.norm(y))
        return np.concatenate(out, axis=0)

    def solve(self, y, *, project: bool = False, rho_ss=None) -> np.ndarray:
        """Solve in the full space.

        Parameters
        ----------
        y : array_like or qutip.Qobj
            A ``d x d`` matrix, or its column-stacked vector of length
            ``d^2`` (``vec(y) = y.ravel(order="F")``). It must lie in the
            solver's sector.
        project : bool
            Drazin solvers only: replace ``y`` by ``Q y = y - Tr(y) rho_ss``
            first (needs ``rho_ss``).
        rho_ss : array_like or NESS, optional
            The steady state for ``project``.

        Returns
        -------
        numpy.ndarray
            ``x`` in the same form as ``y`` (``d x d``, or length ``d^2``).

        Raises
        ------
        ValueError
            ``y`` of the wrong size, with entries outside the sector, or
            (Drazin) not trace-zero.
        """
        d = self.sector.d
        if hasattr(y, "full") and callable(y.full):
            y = y.full()
        y = np.asarray(y, dtype=np.complex128)
        if y.shape == (d, d):
            Y, as_matrix = y, True
        elif y.shape == (d * d,):
            Y, as_matrix = y.reshape((d, d), order="F"), False
        else:
            raise ValueError(f"y must be {d} x {d} or a vector of length {d * d}, got shape {y.shape}")
        if project:
            if not self.drazin:
                raise ValueError("project=True is for Drazin solvers (the steady-state sector at z = 0)")
            if rho_ss is None:
                raise ValueError("project=True needs rho_ss (the steady state)")
            R = np.asarray(getattr(rho_ss, "rho", rho_ss), dtype=np.complex128)
            if R.shape != (d, d):
                raise ValueError(f"rho_ss must be {d} x {d}, got {R.shape}")
            Y = trace_free(Y.ravel(order="F"), np.eye(d).ravel(order="F"), R.ravel(order="F")).reshape(
                (d, d), order="F"
            )
        ys = self.sector.from_full(Y) if self.sector.kind != "full" else Y.ravel(order="F")
        if self.sector.kind != "full":
            if getattr(self, "_idx", None) is None:
                self._idx = self.sector.indices()
            rest = Y.ravel(order="F").copy()
            rest[self._idx] = 0.0
            outside = float(np.linalg.norm(rest))
            if outside > 1e-10 * float(np.linalg.norm(Y)):
                raise ValueError(
                    f"y has entries outside sector {self.sector.label} ({self.sector.kind}) of this solver "
                    f"(norm {outside:.3g} of {np.linalg.norm(Y):.3g}); an operator of "
                    "charge q maps rho_ss into sector q: solve there"
                )
        x = self.solve_sector(ys)
        X = self.sector.to_full(x) if self.sector.kind != "full" else x.reshape((d, d), order="F")
        return X if as_matrix else X.ravel(order="F")


def _prepare(model, method, options):
    model = as_model(model)
    if isinstance(model, SuperoperatorModel):
        raise TypeError(
            "the resolvent solvers need a LindbladModel (H and jump operators, for the sector blocks and "
            f"the Sylvester preconditioner); got a SuperoperatorModel: {model.lindblad_hint()}"
        )
    if not isinstance(model, LindbladModel):  # pragma: no cover
        raise TypeError(f"model must be a LindbladModel, got {type(model).__name__}")
    method = resolve_method(method, options, registry=_REGISTRY, what="method")
    return model, method


def drazin(model, *, symmetry="auto", method=None, **options) -> LinearSolver:
    """Solver of ``L x = y`` for trace-zero ``y``, returning the trace-zero ``x = L^D y``.

    ``L^D`` is the Drazin (group) inverse of the Liouvillian in the
    steady-state sector: ``L L^D = L^D L = Q``, ``Q y = y - Tr(y) rho_ss``,
    ``L^D rho_ss = 0``. For a trace-zero ``y`` (``Q y = y``) the solution
    ``x`` of ``L x = y`` with ``Tr x = 0`` is unique when the steady state
    is; it is found from the steady-state solve's trace-augmented system
    (row ``r`` of ``L`` replaced by ``c Tr(x) = 0``), factorised once.

    Parameters
    ----------
    model : LindbladModel or (H, c_ops)
        The model (QuTiP objects accepted).
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        As :func:`qness.steady_state`: ``"auto"`` solves in the
        steady-state sector of the declared or detected symmetry.
    method : Auto, Dense, Direct, Krylov, str or None
        The route (``None``: ``Auto()``); see the module docstring (``Schur``
        is for shifted solves only: ``ValueError`` here).
    **options
        Settings of the method (e.g. ``rtol=1e-12`` for Krylov).

    Returns
    -------
    LinearSolver
        ``.solve(y)`` (full space, ``d x d`` or length ``d^2``),
        ``.solve_sector(y)`` (sector basis), ``.sector``, ``.info``.

    Raises
    ------
    NonUniqueSteadyStateError
        If the trace-augmented system is singular (several steady states).
    TypeError
        For a SuperoperatorModel or a wrong ``method``.

    Examples
    --------
    >>> import numpy as np, qutip, qness
    >>> from qness.solvers.resolvent import drazin
    >>> m = qness.from_qutip(qutip.sigmax(), [qutip.sigmam()])
    >>> x = drazin(m).solve(np.diag([1.0, -1.0]))
    >>> bool(abs(np.trace(x)) < 1e-14)
    True
    """
    model, method = _prepare(model, method, options)
    sec = _find_sector(model, "steady", symmetry)
    if not np.any(sec.trace_vector()):  # pragma: no cover
        raise ValueError("the steady-state sector holds no diagonal elements")
    return LinearSolver(model, sec, 0j, True, method)


def resolvent(
    model, z, *, sector=None, symmetry="auto", method=None, reuse=None, shifts: int = 1, **options
) -> LinearSolver:
    """Solver of the shifted equation ``(L - z) x = y`` in one symmetry sector.

    Parameters
    ----------
    model : LindbladModel or (H, c_ops)
        The model (QuTiP objects accepted).
    z : complex
        The shift; for a frequency ``w`` the Fourier-Laplace transform
        ``int_0^inf e^{i w t} e^{L t} y dt = -(L - z)^{-1} y`` has
        ``z = -i w``. ``z`` must not be an eigenvalue of ``L`` in the sector
        (``z = 0`` is allowed only in sectors without a steady state; use
        :func:`drazin` there).
    sector : "steady", int or qness.symmetry.Sector, optional
        The sector: ``"steady"`` (the default; ``q = 0`` / parity ``+1``), a label (the
        U(1) charge ``q = n_left - n_right`` or the Z2 parity ``±1``), or a
        sector object from :func:`qness.symmetry.sectors`.
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        The symmetry whose sectors ``sector`` refers to (``"auto"``: the
        declared one, else one found by
        :func:`qness.symmetry.detect_symmetry`; ``None``: the whole space,
        ``sector`` must then be ``"steady"`` or 0).
    method : Auto, Dense, Direct, Krylov, Schur, str or None
        The route (``None``: ``Auto()``). Krylov is right-preconditioned by
        the exact inverse of the shifted no-jump part ``(L0 - z)^{-1}``;
        :class:`Schur` reduces the sector once for many shifts.
    reuse : LinearSolver, optional
        A solver of the same model and sector (e.g. at another frequency):
        its assembled sector matrix, its Sylvester preconditioner's block
        decompositions of ``H_eff`` (Krylov route) and its Schur form
        (:class:`Schur` route, which ``Auto`` then keeps) are reused with the
        new shift. The sector is then taken from it (a ``sector`` given as well
        must be the same one).
    shifts : int
        How many shifts the solver is expected to serve (through
        :meth:`LinearSolver.solve_sector_shifts` or ``reuse=``). With ``Auto``
        and more than one, sectors up to ``Schur.max_size`` unknowns are
        reduced once to complex Schur form when that is estimated cheaper
        than a factorisation (or Krylov solve) per shift
        (``info["auto"]`` gives the estimate).
    **options
        Settings of the method.

    Returns
    -------
    LinearSolver
        ``.solve(y)`` (full space), ``.solve_sector(y)`` (sector basis),
        ``.sector``, ``.info``.

    Raises
    ------
    ValueError
        ``z`` not finite, an unknown sector label, a ``sector`` other than
        that of ``reuse``, or ``z`` an eigenvalue
        (``L - z`` singular; found by the LU or by GMRES); ``z = 0`` in the
        steady sector.
    TypeError
        ``z`` not a number, a SuperoperatorModel, or a wrong ``method``.

    Examples
    --------
    >>> import numpy as np, qutip, qness
    >>> from qness.solvers.resolvent import resolvent
    >>> m = qness.from_qutip(0 * qutip.sigmaz(), [qutip.sigmam()])
    >>> solver = resolvent(m, -1.0j, sector=1)   # the coherence rho_01 decays at rate 1/2
    >>> complex(np.round(solver.solve(np.array([[0, 1], [0, 0]]))[0, 1], 12))
    (-0.4-0.8j)
    """
    z = _check_z(z)
    if isinstance(shifts, bool) or not isinstance(shifts, (int, np.integer)) or shifts < 1:
        raise ValueError(f"shifts must be a positive int, got {shifts!r}")
    model, method = _prepare(model, method, options)
    if reuse is not None:
        if not isinstance(reuse, LinearSolver):
            raise TypeError(f"reuse must be a LinearSolver, got {type(reuse).__name__}")
        if reuse.sector.d != model.dim:
            raise ValueError(
                f"reuse: the solver is for dimension {reuse.sector.d}, the model has {model.dim}"
            )
        sec = reuse.sector
        if sector is not None:
            asked = _find_sector(model, sector, symmetry)
            if (asked.kind, asked.label, asked.size) != (sec.kind, sec.label, sec.size):
                raise ValueError(
                    f"sector: {sector!r} is the {asked.kind} sector {asked.label} ({asked.size} unknowns), "
                    f"but the solver passed as reuse= is for the {sec.kind} sector {sec.label} "
                    f"({sec.size} unknowns); leave sector out to use reuse's"
                )
    else:
        sec = _find_sector(model, "steady" if sector is None else sector, symmetry)
    if z == 0 and np.any(sec.trace_vector()):
        raise ValueError(
            "z = 0 in a sector holding the steady state: L is singular there; use drazin(model) for the "
            "trace-zero solution"
        )
    return LinearSolver(model, sec, z, False, method, reuse=reuse, shifts=int(shifts))
