"""Limit cycles of periodically driven open systems (the Floquet steady state).

A Lindblad generator with a periodic Hamiltonian,

    H(t) = H + sum_{m >= 1} (V_m e^{-i m omega t} + V_m^+ e^{i m omega t}),

drives every initial state (when the limit cycle is unique) to a periodic
state ``rho(t + T) = rho(t)``, ``T = 2 pi / omega``. Write the generator and
the state as Fourier series in the convention used throughout this module,

    L(t) = sum_k L_k e^{i k omega t},      rho(t) = sum_n rho_n e^{i n omega t},

where ``L_0`` is the time-independent Liouvillian and, for ``m >= 1``,
``L_{+m} = -i[V_m^+, .]`` and ``L_{-m} = -i[V_m, .]`` (commutator
superoperators, column stacking). Inserting both into ``d rho/dt = L(t) rho``
gives, for every integer ``n``,

    (L_0 - i n omega) rho_n + sum_{k != 0} L_k rho_{n-k} = 0,

block-banded in ``n`` (block-tridiagonal for a single harmonic). The trace
condition ``Tr rho_0 = 1`` replaces one redundant row of the ``n = 0``
block; ``Tr rho_n = 0`` for ``n != 0`` follows from the equations. The
system is truncated to ``|n| <= N`` (``rho_{|n| > N} = 0``) and ``N`` is
increased until the outermost harmonics are negligible.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..liouvillian import liouvillian
from ..model import SuperoperatorModel
from ..operators import as_csr, check_qobj_dims
from .errors import ConvergenceError, NonUniqueSteadyStateError, TruncationWarning, UniquenessWarning
from .floquet_input import _check_omega, _parse
from .result import _constant_operator, _entry, _expect, _is_operator_list
from .uniqueness import NON_UNIQUE_HINT, krylov_check, lu_check

__all__ = ["FloquetNESS", "floquet_steady_state", "commutator_superoperator", "LocalMasterEquationWarning"]


class LocalMasterEquationWarning(UserWarning):
    """The jumps of a driven model are questionable as thermodynamics (a local master equation
    outside its validity): see :meth:`FloquetNESS.energy_balance`."""


_NON_UNIQUE_CYCLE = (
    "the limit cycle is not unique (a dark state, a conserved quantity the drive keeps, or a decoupled "
    "part); integrate d rho/dt = L(t) rho from an initial state (e.g. qutip.mesolve) for the cycle it "
    "reaches"
)


def _cycle_message(exc) -> str:
    """The uniqueness check's message, worded for the harmonic system of a limit cycle."""
    msg = str(exc).replace(NON_UNIQUE_HINT, _NON_UNIQUE_CYCLE)
    return msg.replace("trace-augmented Liouvillian", "trace-augmented harmonic system")


#: Hilbert-space dimension up to which the default method is the sparse LU (above it, and always for
#: a model given by its Liouvillian only, Krylov). Measured (``benchmarks/bench_floquet_route.py``,
#: benchmarks/RESULTS.md, session 13; LU against Krylov): d = 8 0.07-0.09 s against 0.14-0.23 s,
#: d = 16 0.6-1.1 s against 0.13-0.39 s, d = 32 7-67 s against 0.3-3.2 s (driven Jaynes-Cummings,
#: boundary-driven XXZ, driven Kerr). (It was 32.)
_DIRECT_MAX_DIM = 8


# ---------------------------------------------------------------- superoperators
def commutator_superoperator(V) -> sp.csr_array:
    """``-i[V, .]`` as a sparse superoperator in column stacking.

    Parameters
    ----------
    V : array_like, sparse or qutip.Qobj
        A ``d x d`` operator (need not be Hermitian).

    Returns
    -------
    scipy.sparse.csr_array
        ``d^2 x d^2``: ``-i (I ⊗ V - V^T ⊗ I)``, so that
        ``commutator_superoperator(V) @ rho.ravel("F")`` is
        ``vec(-i (V rho - rho V))``.
    """
    V = as_csr(V, "V")
    d = V.shape[0]
    eye = sp.identity(d, dtype=np.complex128, format="csr")
    out = sp.csr_array(-1j * (sp.kron(eye, V) - sp.kron(V.T, eye)))
    out.sum_duplicates()
    out.eliminate_zeros()
    return out


# ---------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class FloquetNESS:
    """A limit cycle ``rho(t + T) = rho(t)`` of a periodically driven master equation.

    Convention: ``rho(t) = sum_n rho_n e^{i n omega t}`` (hbar = 1, ``t`` in
    the inverse units of the Hamiltonian), with ``rho_{-n} = rho_n^+``.

    Attributes
    ----------
    harmonics : dict of int -> numpy.ndarray
        ``n -> rho_n`` (``d x d``) for ``|n| <= N``; ``rho_0`` is the period
        average (trace 1), ``Tr rho_n = 0`` for ``n != 0``.
    omega : float
        Drive angular frequency (period ``T = 2 pi / omega``).
    dims : tuple of int
        Local dimensions of the model.
    residual : float
        ``||A x||_2`` of the truncated harmonic system (all rows but the
        trace row), ``x`` the stacked ``vec(rho_n)``.
    time_residual : float
        ``max_t ||d rho/dt - L(t) rho(t)||_F`` over sample times in one
        period (the derivative taken from the Fourier series): it includes
        the truncation error of the harmonics, which ``residual`` does not.
    info : dict
        ``harmonics`` (the truncation ``N``), ``tried`` (the ``N`` solved),
        ``outermost`` (``max ||rho_{+-N}||_F``), ``tol``, ``converged``,
        ``method``, ``backend``, ``unknowns``, ``iterations``, ``time`` (s),
        ``hermiticity_error`` (``max |rho_{-n} - rho_n^+|`` before
        symmetrisation), ``drive_harmonics`` (the ``k`` with ``L_k != 0``),
        ``sector`` (kind, label, size of the symmetry sector solved, and why),
        ``uniqueness`` (the rank check of the harmonic system: ``sigma``, an
        upper bound on its smallest singular value, and ``threshold``),
        ``harmonic_norms`` (``n -> ||rho_n||_F``), ``iterations_per_solve``.
    qobj_dims : object
        QuTiP dims of a non-tensor-product space, else ``None``.
    """

    harmonics: dict
    omega: float
    dims: tuple
    residual: float
    time_residual: float
    info: dict = field(default_factory=dict)
    qobj_dims: object = None
    _generator: object = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        """Hilbert-space dimension."""
        return self.average.shape[0]

    def energy_balance(self, *, local_tol: float = 0.1) -> dict:
        """Period-averaged heat currents per bath and the drive's power (first law).

        With ``H(t) = sum_k H_k e^{i k omega t}`` and ``D_b`` the dissipator of
        the jumps of bath ``b``,

        * heat current from bath ``b`` into the system
          ``J_b = <Tr[H(t) D_b(rho(t))]>_T = sum_k Tr[H_k D_b(rho_{-k})]``;
        * power delivered by the drive
          ``P = <Tr[(dH/dt) rho(t)]>_T = sum_k i k omega Tr[H_k rho_{-k}]``.

        Over a period ``<d Tr[H rho]/dt> = 0``, so ``sum_b J_b + P = 0`` (the
        first law; ``first_law`` is its defect, a check of the solution).
        ``J_b > 0``: energy flows from bath ``b`` into the system; ``P > 0``:
        work done on the system. Energies are measured with the full
        ``H(t)``.

        **Validity of the jumps (local master equation).** Jumps fixed in
        time, each with one rate, are the Born-Markov limit only when the
        bath sees every jump at one transition frequency: a bath's rates
        change over its *resolution* ``eps``, the transition frequency itself
        and, for a thermal bath, its temperature. A local master equation
        (jumps of an uncoupled or undriven part) violates this when the
        inter-site coupling or the drive spreads the frequencies at which the
        jump acts (Hofer et al., NJP 19, 123037 (2017): local is right while
        the coupling is small against the bath's resolution; for drives, the
        Floquet sidebands ``omega_j +- m omega`` weighted by the drive
        amplitude). For a jump ``A`` the frequencies it carries in the limit
        cycle are measured by
        ``omega_A = -<Re Tr([H(t), A] rho A^+)>_T / <Tr(A rho A^+)>_T`` (the
        mean Bohr frequency, ``[H, A] = -omega A`` for an eigenoperator) and
        the spread
        ``Delta_A^2 = <Tr(C rho C^+)>_T / <Tr(A rho A^+)>_T``,
        ``C = [H(t), A] + omega_A A``: in the Heisenberg picture of the
        coherent motion ``A(t) = sum_nu A_nu e^{-i nu t}`` and
        ``d/dt (A(t) e^{i omega_A t}) = i U^+ C U``, so ``Delta_A^2`` is the
        state-weighted mean of ``(nu - omega_A)^2`` over the frequencies
        ``nu`` carried (static coupling splits them, a drive adds sidebands,
        the state's own evolution adds its linewidth). By Chebyshev's
        inequality at most a fraction ``(Delta_A / eps)^2`` of the jump's
        weight sits further than ``eps`` from ``omega_A``. The criterion is
        ``Delta_A / eps_A <= local_tol`` with ``eps_A = min(|omega_A|, T_b)``
        (``T_b`` when the bath has a temperature ``> 0``); jumps without
        weight in the state, or with neither a frequency nor a temperature,
        are not judged. It bounds the error of the rates; currents that are
        themselves second order in a weak drive (its power) can still be
        wrong at relative order ``Delta_A / eps_A``.

        Parameters
        ----------
        local_tol : float
            Largest ``Delta_A / eps_A`` accepted without a warning (> 0).

        Returns
        -------
        dict
            ``{"heat": {bath label: J_b}, "power": P, "first_law": sum J_b + P,
            "local_me": {...}}`` (floats, energy per unit time, hbar = 1).
            Jumps without a bath label are under the key ``None``.
            ``local_me`` has ``valid`` (bool), ``worst`` (the largest
            ``Delta_A / eps_A``), ``tol`` and ``jumps``: one dict per jump
            (``label``, ``bath``, ``frequency`` ``omega_A``, ``spread``
            ``Delta_A``, ``resolution`` ``eps_A``, ``ratio``; ``ratio`` None
            when not judged).

        Raises
        ------
        ValueError
            For a model given by its Liouvillian only (no jumps to split), or
            ``local_tol <= 0``.

        Warns
        -----
        LocalMasterEquationWarning
            When some jump has ``Delta_A / eps_A > local_tol``: the currents
            are those of the master equation, not of the physical bath.
        """
        from ..analysis.thermo import _groups, dissipator

        if self._generator is None:
            raise ValueError(
                "energy_balance needs the model's jumps and H(t): a model given by its Liouvillian "
                "only has neither"
            )
        if (
            isinstance(local_tol, bool)
            or not isinstance(local_tol, (int, float, np.floating))
            or not (local_tol > 0)
        ):
            raise ValueError(f"local_tol must be a positive number, got {local_tol!r}")
        model, Hk = self._generator
        heat = {}
        for bath, jumps in _groups(model).items():
            J = 0.0
            for k, H in Hk.items():
                if -k in self.harmonics:
                    J += complex(np.sum(H.multiply(dissipator(jumps, self.harmonics[-k]).T)))
            heat[bath] = float(np.real(J))
        P = 0.0
        for k, H in Hk.items():
            if k and -k in self.harmonics:
                P += 1j * k * self.omega * complex(np.sum(H.multiply(self.harmonics[-k].T)))
        P = float(np.real(P))
        local = _local_validity(model, Hk, self, float(local_tol))
        if not local["valid"]:
            bad = [j for j in local["jumps"] if j["ratio"] is not None and j["ratio"] > local_tol]
            worst = max(bad, key=lambda j: j["ratio"])
            warnings.warn(
                f"energy_balance: {len(bad)} jump(s) act at a spread of frequencies comparable to their "
                f"bath's resolution (worst: {worst['label']!r} of bath {worst['bath']!r}, spread "
                f"{worst['spread']:.3g} around {worst['frequency']:.3g} against {worst['resolution']:.3g}, "
                f"ratio {worst['ratio']:.2f} > local_tol={local_tol:g}): a local master equation outside "
                "its validity (Hofer et al., NJP 19, 123037 (2017)); the heat currents are the model's, "
                "not the physical bath's",
                LocalMasterEquationWarning,
                stacklevel=2,
            )
        return {"heat": heat, "power": P, "first_law": float(sum(heat.values()) + P), "local_me": local}

    @property
    def period(self) -> float:
        """``T = 2 pi / omega``."""
        return 2.0 * math.pi / self.omega

    @property
    def nharmonics(self) -> int:
        """The truncation ``N`` (harmonics ``-N..N`` kept)."""
        return max(self.harmonics)

    @property
    def average(self) -> np.ndarray:
        """The period-averaged state ``rho_0`` (``d x d``, trace 1)."""
        return self.harmonics[0]

    def rho(self, t) -> np.ndarray:
        """The state at time ``t``.

        Parameters
        ----------
        t : float or array_like of float
            Time(s), same units as ``1/omega``.

        Returns
        -------
        numpy.ndarray
            ``d x d`` for a scalar ``t``, else ``(len(t), d, d)``.
        """
        ts = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(ts)):
            raise ValueError(f"t must be finite, got {t!r}")
        flat = ts.reshape(-1)
        out = np.zeros((flat.size, self.dim, self.dim), dtype=np.complex128)
        for n, rn in self.harmonics.items():
            out += np.exp(1j * n * self.omega * flat)[:, None, None] * rn[None]
        return out[0] if ts.ndim == 0 else out.reshape(ts.shape + (self.dim, self.dim))

    def expect(self, op, t=None):
        """``Tr(op rho(t))``, or its period average ``Tr(op rho_0)`` when ``t`` is None.

        Parameters
        ----------
        op : array_like, sparse, qutip.Qobj, constant qutip.QobjEvo, or a list of these
            ``d x d`` operator(s); a list or tuple of operators (as ``qutip.expect`` takes) gives
            one value per operator, stacked along the first axis.
        t : float, array_like or None
            Time(s); ``None`` for the period average.

        Returns
        -------
        float, complex or numpy.ndarray
            Real when ``op`` is Hermitian (imaginary part dropped), an array
            for array ``t``; for a list of ``k`` operators an array of shape
            ``(k,)`` (``t`` a number or ``None``) or ``(k,) + t.shape``, real when
            all are Hermitian.

        Raises
        ------
        TypeError, ValueError
            For an operator of the wrong type or shape (a time-dependent ``QobjEvo``: pass its
            value at a time), or (for a ``Qobj``) dims that do not match the state's tensor
            factors, as :meth:`NESS.expect <qness.NESS.expect>`.
        """
        if _is_operator_list(op):
            vals = [_entry(k, self.expect, x, t) for k, x in enumerate(op)]
            real = all(np.isrealobj(v) for v in vals)
            return np.array(vals, dtype=float if real else complex)
        op = _constant_operator(op)
        check_qobj_dims(op, self.dims, self.qobj_dims, name="op", owner="the state")
        mat = as_csr(op, "op")
        if mat.shape != (self.dim, self.dim):
            raise ValueError(f"op has shape {mat.shape}, the state is {self.dim} x {self.dim}")
        herm = (abs(mat - mat.T.conj()).max() if mat.nnz else 0.0) <= 1e-12 * max(
            1.0, abs(mat).max() if mat.nnz else 1.0
        )
        if t is None:
            val = _expect(self.average, mat, self.dim)
            return float(val.real) if herm else val
        # Tr(op rho(t)) = sum_n Tr(op rho_n) e^{i n omega t}
        coef = {n: _expect(rn, mat, self.dim) for n, rn in self.harmonics.items()}
        ts = np.asarray(t, dtype=float)
        vals = sum(c * np.exp(1j * n * self.omega * ts) for n, c in coef.items())
        if herm:
            vals = np.real(vals)
        return vals.item() if ts.ndim == 0 else vals

    def to_qobj(self, t=None):
        """The state at ``t`` (the period average when ``t`` is None) as a ``qutip.Qobj``."""
        import qutip

        rho = self.average if t is None else self.rho(t)
        if np.ndim(rho) != 2:
            raise ValueError("to_qobj takes one time t (a scalar), not an array")
        dims = self.qobj_dims if self.qobj_dims is not None else [list(self.dims), list(self.dims)]
        return qutip.Qobj(rho, dims=dims)

    def __repr__(self) -> str:
        return (
            f"FloquetNESS(dim={self.dim}, omega={self.omega:g}, harmonics={self.nharmonics}, "
            f"residual={self.residual:.2e}, time_residual={self.time_residual:.2e}, "
            f"time={self.info.get('time', float('nan')):.3g}s)"
        )


# ---------------------------------------------------------------- the solve
def _assemble(L0: sp.csr_array, Ls: dict, omega: float, N: int) -> sp.csr_array:
    D = L0.shape[0]
    K = 2 * N + 1
    n = np.arange(-N, N + 1)
    A = sp.kron(sp.identity(K, format="csr"), L0, format="csr") - 1j * omega * sp.kron(
        sp.diags_array(n.astype(float)), sp.identity(D, format="csr"), format="csr"
    )
    for k, Lk in Ls.items():
        if abs(k) < K:
            # equation n holds L_k rho_{n-k}: block (row n, column n-k)
            A = A + sp.kron(sp.eye_array(K, K, k=-k, format="csr"), Lk, format="csr")
    return sp.csr_array(A)


def _lu_solver(A: sp.csr_array, backend: str):
    from .steady import _have_umfpack, _umfpack_factor

    if backend == "auto":
        backend = "umfpack" if _have_umfpack() else "superlu"
    if backend == "umfpack":
        if not _have_umfpack():
            raise ValueError("backend='umfpack' needs cvxopt: pip install 'qness[fast]'")
        return _umfpack_factor(A), backend
    if backend != "superlu":
        raise ValueError(f"backend must be 'auto', 'umfpack' or 'superlu', got {backend!r}")
    lu = spla.splu(sp.csc_matrix(A), permc_spec="COLAMD")
    return lu.solve, backend


def _solve_truncated(L0, Ls, omega, N, tpos, weight, backend):
    D = L0.shape[0]
    A = _assemble(L0, Ls, omega, N)
    diag = N * D + tpos  # the diagonal elements of rho_0
    r = int(diag[0])
    from .steady import swap_row

    Ar = swap_row(A, r, diag, weight)  # the trace row, as the steady-state systems take it
    b = np.zeros(A.shape[0], dtype=np.complex128)
    b[r] = weight
    try:
        solve, backend = _lu_solver(Ar, backend)
    except (RuntimeError, ArithmeticError) as exc:
        raise NonUniqueSteadyStateError(
            f"floquet_steady_state: the truncated harmonic system (N={N}) is exactly singular: "
            + _NON_UNIQUE_CYCLE
        ) from exc
    # A consistent singular system (a dark state) is solved without complaint: check the rank by
    # inverse iteration through the factorisation (qness.solvers.uniqueness.lu_check)
    try:
        uniq = lu_check(Ar, solve)
    except NonUniqueSteadyStateError as exc:
        raise NonUniqueSteadyStateError(f"floquet_steady_state (N={N}): {_cycle_message(exc)}") from None
    x = solve(b)
    x = x + solve(b - Ar @ x)  # one step of iterative refinement
    if not np.all(np.isfinite(x)):
        raise NonUniqueSteadyStateError(
            f"floquet_steady_state: the truncated harmonic system (N={N}) gave non-finite values "
            "(singular): " + _NON_UNIQUE_CYCLE
        )
    res_vec = A @ x
    res = float(np.linalg.norm(res_vec))  # the full system incl. the redundant row
    return x, res, backend, int(Ar.nnz), uniq


def _solve_krylov(model, L0op, Lext, Ls, omega, N, sector, method, x0):
    """Matrix-free GMRES on the truncated harmonic system, right-preconditioned by the
    block-diagonal no-jump Sylvester solves ``(L_0^{nojump} - i n omega)^{-1}`` per harmonic."""
    from .krylov import gmres

    D = sector.size
    K = 2 * N + 1
    diag = np.flatnonzero(sector.trace_vector())
    r = N * D + int(diag[0])
    ns = np.arange(-N, N + 1)

    def apply_full(x):
        X = np.asarray(x, dtype=np.complex128).reshape(K, D)
        Y = np.empty_like(X)
        for i, n in enumerate(ns):
            Y[i] = L0op @ X[i] - 1j * n * omega * X[i]
            if Lext is not None:
                Y[i] += Lext @ X[i]
        for k, Lk in Ls.items():
            if abs(k) >= K:
                continue
            # row n gets L_k rho_{n-k}: rows max(0,k)..K-1+min(0,k)
            lo, hi = max(0, k), K + min(0, k)
            for i in range(lo, hi):
                Y[i] += Lk @ X[i - k]
        return Y.ravel()

    def mv(x):
        y = apply_full(x)
        y[r] = x[N * D + diag].sum()
        return y

    A = spla.LinearOperator((K * D, K * D), matvec=mv, dtype=np.complex128)
    P = sector.sylvester_preconditioner(model)

    def prec(y):
        Y = np.asarray(y, dtype=np.complex128).reshape(K, D)
        return np.concatenate([P.solve(Y[i], shift=1j * n * omega) for i, n in enumerate(ns)])

    M = spla.LinearOperator((K * D, K * D), matvec=prec, dtype=np.complex128)
    b = np.zeros(K * D, dtype=np.complex128)
    b[r] = 1.0
    x, ginfo = gmres(A, b, x0, M=M, rtol=method.rtol, restart=method.restart, maxiter=method.maxiter)
    lin_res = float(np.linalg.norm(b - A @ x))
    if ginfo.get("singular"):
        raise NonUniqueSteadyStateError(
            f"floquet_steady_state: GMRES found the truncated harmonic system (N={N}) exactly singular: "
            + _NON_UNIQUE_CYCLE
        )
    if not np.all(np.isfinite(x)) or not lin_res <= method.rtol:
        raise ConvergenceError(
            f"floquet_steady_state: GMRES (Sylvester block preconditioner) did not reach "
            f"rtol={method.rtol:g} "
            f"with N={N} harmonics in {ginfo['iterations']} iterations (residual {lin_res:.2e})",
            iterations=ginfo["iterations"],
        )
    res = float(np.linalg.norm(apply_full(x)))

    def check():
        """The rank check of qness.solvers.uniqueness.krylov_check, with this solve's preconditioner."""
        budget = max(2 * ginfo["iterations"], 2 * method.restart)
        try:
            return krylov_check(
                A, M, K * D, rtol=method.rtol, x_norm=float(np.linalg.norm(x)), restart=method.restart,
                chunk=method.restart, budget=budget, gmres=gmres,
            )  # fmt: skip
        except NonUniqueSteadyStateError as exc:
            raise NonUniqueSteadyStateError(f"floquet_steady_state (N={N}): {_cycle_message(exc)}") from None

    return x, res, ginfo["iterations"], lin_res, check


def floquet_steady_state(
    model,
    drive=None,
    omega=None,
    *,
    harmonics=None,
    method=None,
    tol: float = 1e-10,
    max_harmonics: int = 256,
    args=None,
    backend: str = "auto",
    symmetry="auto",
) -> FloquetNESS:
    """The limit cycle of a periodically driven Lindblad master equation.

    Solves ``d rho/dt = -i[H(t), rho] + sum_k D[L_k] rho`` for the periodic
    state ``rho(t + T) = rho(t)``, ``T = 2 pi / omega``, with

    * ``drive`` an operator: ``H(t) = H + drive cos(omega t)``;
    * ``drive={m: V_m}``: ``H(t) = H + sum_m (V_m e^{-i m omega t} + V_m^+ e^{i m omega t})``;
    * QuTiP's list format, as ``model=([H0, [H1, "cos(2*t)"], ...], c_ops)``
      (or a ``qutip.QobjEvo`` of such terms as ``H``) or
      ``drive=[[H1, "cos(2*t)"], ...]``: each coefficient (a string in ``t``
      and ``args``, a function ``f(t)`` or ``f(t, args)``, or a
      ``qutip.coefficient``; a number is a constant factor) must be a
      periodic function with finitely many harmonics of ``omega``; its
      Fourier coefficients are read off numerically and checked. A term may
      be complex or non-Hermitian (``[a, "exp(1j*w*t)"]``) as long as the
      terms sum to a Hermitian ``H(t)`` (with ``[a.dag(), "exp(-1j*w*t)"]``).
      The jump operators are time-independent.

    Conventions: hbar = 1; ``rho(t) = sum_n rho_n e^{i n omega t}``;
    ``L(t) = sum_k L_k e^{i k omega t}`` with ``L_0`` the static Liouvillian
    and ``L_{+m} = -i[V_m^+, .]``, ``L_{-m} = -i[V_m, .]``; the harmonics solve
    ``(L_0 - i n omega) rho_n + sum_{k != 0} L_k rho_{n-k} = 0`` with
    ``Tr rho_0 = 1``, column stacking ``vec(rho) = rho.ravel("F")``.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops) or Liouvillian
        The static part (``H`` and the jumps ``L_k = sqrt(rate_k) A_k``). ``H``
        may be in QuTiP's list format (``[H0, [H1, coeff], ...]``).
    drive : operator, dict {int: operator}, QuTiP list terms or None
        The periodic part (see above). ``None`` when ``model`` carries it.
        Operators are ``d x d`` arrays, sparse matrices or ``qutip.Qobj``.
    omega : float
        Drive angular frequency (> 0). With QuTiP list terms it may be
        omitted when the coefficient strings show it (``'cos(2.0*t)'``, or a
        name in ``args``); the smallest frequency found is used.
    harmonics : int, optional
        Fixed truncation ``N`` (harmonics ``-N..N``). Default: automatic,
        ``N`` grows (4, 8, 16, ...) until ``max_n=+-N ||rho_n||_F <= tol``.
    method : None, "direct", "krylov", qness.Direct or qness.Krylov
        ``"direct"``: sparse LU of the whole truncated system (UMFPACK or
        SuperLU). ``"krylov"``: matrix-free GMRES (``Krylov(rtol=1e-12)``;
        ``rtol``, ``restart``, ``maxiter`` are used), right-preconditioned
        by the block-diagonal no-jump Sylvester solves
        ``(L_0^{no-jump} - i n omega)^{-1}`` of each harmonic; successive
        truncations are warm-started. Default: direct up to
        ``d = 8`` (and for a model given by its Liouvillian only), krylov
        above (the LU of the harmonic system fills in fast: at ``d = 32``
        7-67 s against 0.3-3.2 s by Krylov).
    tol : float
        Truncation tolerance on the outermost harmonics (Frobenius norm).
    max_harmonics : int
        Upper bound on the automatic ``N``.
    args : dict, optional
        Values of names in coefficient strings, passed to coefficient functions.
    backend : {"auto", "umfpack", "superlu"}
        Sparse LU (UMFPACK through cvxopt when installed).
    symmetry : "auto", None, qness.U1Symmetry or qness.Z2Symmetry
        Solve in the U(1) sector of the static model's symmetry that holds the
        limit cycle (``q = 0``) when every drive term keeps it closed;
        ``"auto"`` falls back to the full space when the drive breaks it, an
        explicit symmetry the drive breaks is a ``ValueError``. A Z2
        symmetry is solved in the full space: its parity ``+1`` sector would
        not see a second limit cycle odd under the parity (see
        :func:`qness.symmetry.odd_sector`). ``info["sector"]`` records the choice.

    Returns
    -------
    FloquetNESS
        ``.harmonics``, ``.rho(t)``, ``.average``, ``.expect(op, t)``,
        ``.residual`` (harmonic system), ``.time_residual`` (of
        ``d rho/dt = L(t) rho`` at sample times) and ``.info`` (the
        truncation, ``converged``, timings).

    Raises
    ------
    TypeError
        For a wrong type (``omega`` not a number, dict keys not integers,
        a coefficient that is neither string nor function nor
        ``qutip.coefficient``), time-dependent jump operators or Liouvillian.
    ValueError
        For ``omega <= 0``, a non-Hermitian ``drive`` (cosine form), list
        terms that do not sum to a Hermitian ``H(t)``, an operator whose
        shape or dims differ from the model's, a
        coefficient that is not periodic with period ``2 pi / omega``, a zero
        drive, a bad ``harmonics``/``tol``.
    NonUniqueSteadyStateError
        If the limit cycle is not unique (a dark state, a conserved quantity
        the drive keeps, a decoupled part), on every route: the LU route
        checks each factorisation by inverse iteration, the Krylov route runs
        GMRES on a random right-hand side with the same preconditioner on the
        final truncation (:mod:`qness.solvers.uniqueness`; ``Krylov(verify_unique=False)``
        skips it). ``info["uniqueness"]`` records the check.
    ConvergenceError
        If GMRES does not reach its tolerance.

    Warns
    -----
    TruncationWarning
        If the outermost harmonics stay above ``tol`` (at ``max_harmonics``
        or the fixed ``harmonics``); ``info["converged"]`` is then False.
    UniquenessWarning
        Krylov route: when the random-right-hand-side check stalls without
        finding a null direction (uniqueness neither shown nor refuted).

    Examples
    --------
    >>> import qutip, qness
    >>> a = qutip.destroy(8)
    >>> res = qness.floquet_steady_state((a.dag() * a, [0.5 * a]), 0.1 * (a + a.dag()), 1.5)
    >>> round(res.info["harmonics"]) > 0
    True
    """
    t0 = time.perf_counter()
    from .methods import Direct, Krylov

    if isinstance(method, str) and method in ("direct", "krylov", "auto"):
        method = {"direct": Direct(), "krylov": Krylov(rtol=1e-12), "auto": None}[method]
    if not (method is None or isinstance(method, (Direct, Krylov))):
        raise ValueError(
            "method must be None, 'direct' (sparse LU), 'krylov' (GMRES with the block Sylvester "
            f"preconditioner), qness.Direct() or qness.Krylov(...), got {method!r}"
        )
    if isinstance(method, Krylov) and method.preconditioner != "sylvester":
        raise ValueError("method=Krylov(...) here supports preconditioner='sylvester' only")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not 0 < float(tol) < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if harmonics is not None:
        if isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer)):
            raise TypeError(f"harmonics must be a positive int or None, got {type(harmonics).__name__}")
        if harmonics < 1:
            raise ValueError(f"harmonics must be >= 1, got {harmonics}")
    if (
        isinstance(max_harmonics, bool)
        or not isinstance(max_harmonics, (int, np.integer))
        or max_harmonics < 1
    ):
        raise ValueError(f"max_harmonics must be a positive int, got {max_harmonics!r}")
    if omega is not None:
        omega = _check_omega(omega)
    model, static_extra, fourier, omega = _parse(model, drive, omega, args)
    d = model.dim
    if method is None:
        superop = isinstance(model, SuperoperatorModel)  # (Krylov's preconditioner needs H and the jumps)
        method = Direct() if d <= _DIRECT_MAX_DIM or superop else Krylov(rtol=1e-12)
    krylov = isinstance(method, Krylov)
    if krylov and isinstance(model, SuperoperatorModel):
        raise ValueError(
            "method='krylov' needs H and the jump operators for its Sylvester preconditioner; a "
            "model given by its Liouvillian only is solved by method='direct'"
        )
    if krylov:
        from ..liouvillian import liouvillian_operator

        L0 = liouvillian_operator(model)
    else:
        L0 = liouvillian(model)
        if static_extra is not None:
            L0 = sp.csr_array(L0 + commutator_superoperator(static_extra))
    Ls = {k: commutator_superoperator(Hk) for k, Hk in fourier.items()}
    kmax = max(abs(k) for k in Ls)
    Lext = None if static_extra is None else commutator_superoperator(static_extra)
    sector, sector_note = _floquet_sector(
        model, symmetry, list(Ls.values()) + ([Lext] if Lext is not None else [])
    )
    idx = sector.indices()
    D = sector.size
    L0_space, Ls_space, Lext_space = L0, Ls, Lext  # full space, for the time-domain residual
    if D < d * d:
        Ls = {k: sp.csr_array(Lk[idx][:, idx]) for k, Lk in Ls.items()}
        if krylov:
            L0 = sector.operator(model)
            if Lext is not None:
                Lext = sp.csr_array(Lext[idx][:, idx])
        else:
            L0 = sp.csr_array(L0[idx][:, idx])
    tpos = np.flatnonzero(sector.trace_vector())
    if krylov:
        weight = 1.0
    else:
        weight = max(float(np.max(np.abs(L0.diagonal()), initial=0.0)), 1e-300)
        if not weight > 1e-300:
            weight = 1.0

    tried = []
    iterations = []
    N = int(harmonics) if harmonics is not None else min(max(4, 2 * kmax), int(max_harmonics))
    x = None
    while True:
        if krylov:
            x0 = None
            if x is not None:  # warm start: the previous harmonics, zero beyond
                Nold = (x.size // D - 1) // 2
                x0 = np.zeros((2 * N + 1) * D, dtype=np.complex128)
                x0[(N - Nold) * D : (N + Nold + 1) * D] = x
            x, res, its, lin_res, check = _solve_krylov(model, L0, Lext, Ls, omega, N, sector, method, x0)
            iterations.append(its)
            used_backend, nnz = "gmres+sylvester", None
        else:
            x, res, used_backend, nnz, uniq = _solve_truncated(L0, Ls, omega, N, tpos, weight, backend)
            iterations.append(1)
        blocks = x.reshape(2 * N + 1, D)
        norms = np.linalg.norm(blocks, axis=1)
        outer = float(max(norms[0], norms[-1]))
        tried.append(N)
        if harmonics is not None or outer <= tol or N >= max_harmonics:
            break
        N = min(2 * N, int(max_harmonics))
    if krylov:
        # uniqueness of the limit cycle, checked once on the final truncation (the LU route checks
        # every factorisation: one more solve each)
        uniq = None
        if method.verify_unique is not False:
            uniq = check()
            if not uniq["verified"]:
                warnings.warn(
                    "floquet_steady_state: uniqueness of the limit cycle not verified (GMRES on a random "
                    f"right-hand side stalled at residual {uniq['check_residual']:.1e} > "
                    f"{uniq['delta']:.1e}, "
                    "yet no direction below rtol/||x|| was found); check with method='direct'",
                    UniquenessWarning,
                    stacklevel=2,
                )
    converged = outer <= tol
    if not converged:
        warnings.warn(
            f"floquet_steady_state: the outermost harmonics |n| = {N} still have norm {outer:.2e} > "
            f"tol={tol:g}; the truncation is not converged (raise harmonics/max_harmonics)",
            TruncationWarning,
            stacklevel=2,
        )
    rhos = {n: sector.to_full(blocks[n + N]) for n in range(-N, N + 1)}
    herm_err = max(float(np.max(np.abs(rhos[-n] - rhos[n].conj().T))) for n in range(0, N + 1))
    sym = {}
    for n in range(0, N + 1):
        rn = 0.5 * (rhos[n] + rhos[-n].conj().T)
        sym[n] = rn
        sym[-n] = rn.conj().T
    sym[0] = 0.5 * (sym[0] + sym[0].conj().T)
    sym = dict(sorted(sym.items()))
    L0_full = L0_space
    if krylov and Lext_space is not None:
        L0_full = spla.LinearOperator(
            L0_space.shape, matvec=lambda v: L0_space @ v + Lext_space @ v, dtype=np.complex128
        )
    time_res = _time_residual(sym, L0_full, Ls_space, omega, d)
    info = {
        "harmonics": N,
        "tried": tried,
        "outermost": outer,
        "harmonic_norms": {n: float(norms[n + N]) for n in range(-N, N + 1)},
        "tol": float(tol),
        "converged": converged,
        "method": "krylov" if krylov else "direct",
        "backend": used_backend,
        "unknowns": int((2 * N + 1) * D),
        "sector": {"kind": sector.kind, "label": int(sector.label), "size": int(D), "note": sector_note},
        "nnz": nnz,
        "iterations": int(sum(iterations)),
        "iterations_per_solve": iterations,
        "hermiticity_error": herm_err,
        "uniqueness": uniq,
        "drive_harmonics": sorted(Ls),
        "time": time.perf_counter() - t0,
    }
    return FloquetNESS(
        harmonics=sym,
        omega=omega,
        dims=tuple(model.dims),
        residual=res,
        time_residual=time_res,
        info=info,
        qobj_dims=getattr(model, "qobj_dims", None),
        _generator=None
        if isinstance(model, SuperoperatorModel)
        else (model, _hamiltonian_harmonics(model, static_extra, fourier)),
    )


def _floquet_sector(model, symmetry, drive_superops):
    """The symmetry sector of the static model that the drive keeps closed, and a note."""
    from ..symmetry import full_sector
    from .steady import _choose_sector

    d = model.dim
    if symmetry is None or symmetry is False or isinstance(model, SuperoperatorModel):
        return full_sector(d), "full space"
    sec = _choose_sector(model, symmetry)
    if sec.size == d * d:
        return sec, "full space (no symmetry)"
    if sec.kind == "z2":
        # a second limit cycle odd under the parity has no trace in the parity +1 sector (see
        # qness.symmetry.odd_sector): that sector's harmonic system would be non-singular while the
        # limit cycle is not unique; a U(1) sector has no such blind spot
        return full_sector(d), "full space (a parity sector would not see a second limit cycle odd under it)"
    idx = sec.indices()
    outside = np.ones(d * d, dtype=bool)
    outside[idx] = False
    for S in drive_superops:
        leak = sp.csr_array(S[:, idx])[outside]
        if leak.nnz and abs(leak).max() > 0:
            if symmetry == "auto":
                return full_sector(d), f"full space (the drive breaks the static model's {sec.kind} symmetry)"
            raise ValueError(
                f"symmetry: the drive does not conserve the given {sec.kind} symmetry (it couples the "
                "limit cycle's sector to others); use symmetry=None"
            )
    return sec, f"{sec.kind} sector {sec.label} (kept by the drive)"


def _local_validity(model, Hk: dict, cycle: FloquetNESS, tol: float) -> dict:
    """Mean frequency, spread and bath resolution of every jump in the limit cycle (see
    :meth:`FloquetNESS.energy_balance`).

    The period averages follow from the harmonics exactly: with ``C_k = [H_k, A]`` and
    ``rho(t) = sum_n rho_n e^{i n omega t}``, ``<Tr(A rho A^+)> = Tr(A rho_0 A^+)``,
    ``<Tr(C rho A^+)> = sum_k Tr(C_k rho_{-k} A^+)`` and
    ``<Tr(C rho C^+)> = sum_{k,l} Tr(C_k rho_{l-k} C_l^+)``.
    """

    def inner(X, Y):  # Tr(X^+ Y) = sum conj(X) * Y for X in COO format and dense Y
        return complex(np.sum(np.conj(X.data) * Y[X.row, X.col]))

    rhos = cycle.harmonics
    scale = max(float(abs(H).max()) if H.nnz else 0.0 for H in Hk.values())
    out = []
    for j in model.jumps:
        A = sp.csr_array(j.op, dtype=np.complex128)
        Ck = {}
        for k, H in Hk.items():
            C = sp.csr_array(H @ A - A @ H)
            C.eliminate_zeros()
            if C.nnz:
                Ck[k] = C
        Acoo = A.tocoo()
        Ccoo = {k: C.tocoo() for k, C in Ck.items()}
        w = inner(Acoo, A @ rhos[0]).real
        c1 = sum(inner(Acoo, C @ rhos[-k]).real for k, C in Ck.items() if -k in rhos)
        c2 = 0.0
        for k, C in Ck.items():
            for l, Cl in Ccoo.items():
                if l - k in rhos:
                    c2 += inner(Cl, C @ rhos[l - k]).real
        entry = {"label": j.label, "bath": j.bath, "frequency": None, "spread": None, "resolution": None,
                 "ratio": None}  # fmt: skip
        out.append(entry)
        if not w > 1e-14 * float(np.sum(np.abs(A.data) ** 2)):
            continue  # no weight in the state: the bath never acts through this jump
        freq = -c1 / w
        spread = math.sqrt(max(c2 / w - freq**2, 0.0))
        entry.update(frequency=freq, spread=spread)
        T = model.baths[j.bath].T if j.bath is not None and j.bath in model.baths else None
        scales = [abs(freq)] if abs(freq) > 1e-9 * max(scale, 1e-300) else []
        if T is not None and T > 0:
            scales.append(float(T))
        if not scales:
            continue
        eps = min(scales)
        entry.update(resolution=eps, ratio=spread / eps)
    ratios = [e["ratio"] for e in out if e["ratio"] is not None]
    worst = max(ratios, default=0.0)
    return {"valid": bool(worst <= tol), "worst": float(worst), "tol": tol, "jumps": out}


def _hamiltonian_harmonics(model, static_extra, fourier) -> dict:
    """``{k: H_k}`` with ``H(t) = sum_k H_k e^{i k omega t}`` (``H_0`` the full static part)."""
    H0 = sp.csr_array(model.H, dtype=np.complex128)
    if static_extra is not None:
        H0 = sp.csr_array(H0 + static_extra)
    out = {0: H0}
    out.update({k: sp.csr_array(v) for k, v in fourier.items()})
    return out


def _time_residual(rhos: dict, L0, Ls: dict, omega: float, d: int, samples: int = 16) -> float:
    """``max_t ||d rho/dt - L(t) rho(t)||_F`` at ``samples`` times in one period."""
    worst = 0.0
    T = 2 * math.pi / omega
    vecs = {n: r.ravel(order="F") for n, r in rhos.items()}
    L0v = {n: L0 @ v for n, v in vecs.items()}
    Lkv = {k: {n: Lk @ v for n, v in vecs.items()} for k, Lk in Ls.items()}
    for t in np.arange(samples) * T / samples:
        ph = {n: np.exp(1j * n * omega * t) for n in vecs}
        drho = sum(1j * n * omega * ph[n] * vecs[n] for n in vecs)
        Lrho = sum(ph[n] * L0v[n] for n in vecs)
        for k, Lkn in Lkv.items():
            ek = np.exp(1j * k * omega * t)
            Lrho = Lrho + ek * sum(ph[n] * Lkn[n] for n in vecs)
        worst = max(worst, float(np.linalg.norm(drho - Lrho)))
    return worst
