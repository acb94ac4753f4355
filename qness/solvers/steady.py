"""Steady states of Lindblad models: dense, sparse LU, preconditioned Krylov, time evolution.

All methods solve ``L vec(rho) = 0`` with ``Tr(rho) = 1`` in the symmetry
sector that holds the steady state (``n_left - n_right = 0`` for a weak
U(1) symmetry), which shrinks the problem from ``d^2`` unknowns to
``sum_b d_b^2``. The trace condition replaces the equation of the first
diagonal element (that row of ``L`` is redundant because ``Tr L(x) = 0``):

    A x = c e_r Tr(x) + (1 - e_r e_r^T) L x = c e_r,

with ``c`` the scale of ``L``'s diagonal. ``A`` is non-singular exactly when
the steady state is unique.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
import time
import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._threads import limit_blas
from ..liouvillian import fast_product, is_diagonal, work_stream
from ..model import LindbladModel, SuperoperatorModel, U1Symmetry, Z2Symmetry, as_model, from_liouvillian
from ..operators import _is_qobj
from ..symmetry import (
    SINGLE_MIN_GAP,
    Sector,
    _TraceRow,
    block_threads,
    detect_exchange,
    detect_fold,
    detect_invariant_subspaces,
    detect_symmetry,
    full_sector,
    has_compiled_action,
    is_exchange_basis,
    odd_sector,
    shared_block_eig,
    steady_sector,
)
from .errors import (
    AccuracyWarning,
    ClosedSystemError,
    ConvergenceError,
    InsufficientMemoryError,
    NonUniqueSteadyStateError,
    TruncationWarning,
    UniquenessWarning,
)
from .krylov import gmres, idrs
from .methods import Auto, Dense, Direct, Evolve, Krylov, resolve_method
from .progress import Progress, logger
from .result import NESS
from .uniqueness import (
    LU_ROUNDING_RTOL,
    LU_SINGULAR_RTOL,
    NON_UNIQUE_HINT,
    krylov_check,
    lu_check,
    random_rhs_solve,
    row_scaling,
)

__all__ = [
    "steady_state",
    "steady_states",
    "available_memory",
    "envelope_estimate",
    "memory_estimate",
    "check_truncation",
    "TRUNCATION_THRESHOLD",
]


def available_memory() -> float:
    """Bytes of memory available to this process (``MemAvailable``; 8 GiB if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return 8.0 * 2**30


# ------------------------------------------------------------------ memory guard
def memory_estimate(model: LindbladModel, sector: Sector, method) -> tuple[float, str]:
    """Bytes a solve of ``sector`` by ``method`` needs at least, before anything is allocated.

    Cheap (no sector matrix is assembled). ``Krylov``: the GMRES basis
    ``(restart + 1) x n`` complex vectors plus about 8 work vectors
    (``restart=None``: the smallest, ``MIN_RESTART``; IDR(s): ``3 s + 10``
    vectors), the
    preconditioner (Sylvester: about six dense ``d_b x d_b`` complex
    matrices per block of the basis, and one denominator per unknown; ILU:
    ``ilu_fill`` times the matrix), and the sector matrix where it is
    assembled (:func:`assembles`). ``Dense``: the ``n x n`` matrix. ``Direct``: the sector
    matrix and its copy with the trace row (a lower bound: the LU's fill is
    checked after assembly by :func:`envelope_estimate`). ``Evolve``: the
    full ``d^2`` matrix and a few vectors. ``Auto``: as ``Krylov`` when the
    sector is above ``direct_max`` (where Auto goes matrix-free; IDR(2), the
    least it runs), else 0.

    Returns
    -------
    (float, str)
        The estimate in bytes and a short account of it.
    """
    n = float(sector.size)
    d = model.dim
    if isinstance(method, Auto):
        if n <= max(method.dense_max, method.direct_max):
            return 0.0, "Auto below direct_max"
        # the least Auto can do there: IDR(2) (it picks GMRES or a larger s when they fit)
        method = Krylov(rtol=method.rtol, solver="idrs", s=2)
    if isinstance(method, Dense):
        return 16.0 * n * n, f"dense {int(n)} x {int(n)} matrix"
    row = entries_per_row(model)
    matrix = n * row * 20.0  # complex value + int32 index
    if isinstance(method, Direct):
        return 2.0 * matrix, f"sector matrix ({row:.0f} entries per row) and its trace-row copy"
    if isinstance(method, Evolve):
        nf = float(d) * d
        return nf * row * 20.0 + 8 * 16.0 * nf, f"full {d * d}-unknown Liouvillian and work vectors"
    if method.solver == "idrs":
        # IDR(s): 3 s + 4 vectors and a few work vectors; its uniqueness check (IDR(s) too) runs
        # after the solve has freed its vectors
        nvec = 3 * method.s + 4 + 6
        basis_what = f"IDR({method.s}) {nvec} vectors"
    else:
        restart = method.restart if method.restart is not None else MIN_RESTART
        nvec = restart + 1 + 8
        basis_what = f"GMRES basis ({restart + 1} vectors)"
        if method.precision == "single" and method.preconditioner == "sylvester":
            nvec += restart / 2  # flexible GMRES: the preconditioned vectors in complex64
            basis_what = f"flexible GMRES basis ({restart + 1} + {restart} complex64 vectors)"
    basis = nvec * 16.0 * n
    if method.preconditioner == "sylvester":
        prec = 6 * 16.0 * sum(float(len(b)) ** 2 for b in sector.blocks) + 16.0 * n
        what = f"Sylvester preconditioner (largest block {max(len(b) for b in sector.blocks)})"
    elif method.preconditioner == "ilu":
        prec = method.ilu_fill * matrix
        what = f"ILU with fill {method.ilu_fill:g}"
    else:
        prec, what = 0.0, "no preconditioner"
    mat = matrix if assembles(method, model, sector) else 0.0
    total = basis + prec + mat
    return total, (
        f"{basis_what} {basis / 2**30:.3g} GiB (vectors of {int(n)} unknowns), "
        f"{what} {prec / 2**30:.3g} GiB" + (f", sector matrix {mat / 2**30:.3g} GiB" if mat else "")
    )


def _memory_guard(model: LindbladModel, sector: Sector, method) -> None:
    """Refuse (``InsufficientMemoryError``) a solve whose estimate exceeds the available memory."""
    if isinstance(method, Direct) and not method.check_memory:
        return
    need, what = memory_estimate(model, sector, method)
    avail = available_memory()
    if need <= avail:
        return
    name = type(method).__name__
    krylov = method if isinstance(method, Krylov) else Krylov()
    if isinstance(method, Auto):
        krylov = Krylov(rtol=method.rtol)
    free = "auto" if krylov.preconditioner == "ilu" else True  # the hints' settings are matrix-free
    small, _ = memory_estimate(
        model, sector, dataclasses.replace(krylov, solver="gmres", s=8, restart=20, matrix_free=free)
    )
    idrs2 = dataclasses.replace(krylov, solver="idrs", s=2, precision="auto", matrix_free=free)
    idr2, _ = memory_estimate(model, sector, idrs2)
    gib = 2.0**30
    prefix = "" if isinstance(method, (Krylov, Auto)) else "method="
    if min(small, idr2) > avail:
        hint = (
            "a smaller model (fewer sites or a lower cutoff): even Krylov(restart=20, "
            "matrix_free=True) would not fit (nor the short-recurrence Krylov(solver='idrs', s=2, "
            f"matrix_free=True), about {idr2 / gib:.3g} GiB)"
        )
    elif small <= avail:
        hint = (
            f"{prefix}Krylov(restart=20, matrix_free=True) (about {small / gib:.3g} GiB) or the "
            f"short-recurrence Krylov(solver='idrs', s=2, matrix_free=True) (about {idr2 / gib:.3g} GiB), "
            "or a smaller model"
        )
    else:
        hint = (
            f"the short-recurrence {prefix}Krylov(solver='idrs', s=2, matrix_free=True) (about "
            f"{idr2 / gib:.3g} GiB), or a smaller model"
        )
    raise InsufficientMemoryError(
        f"{name}: the sector of {sector.size} unknowns needs an estimated {need / 2**30:.3g} GiB "
        f"({what}) with {avail / 2**30:.3g} GiB available; try {hint}",
        required=need,
        available=avail,
    )


#: Smallest and largest GMRES restart length chosen from the memory available (``Krylov(restart=None)``).
MIN_RESTART, MAX_RESTART = 10, 100
#: Fraction of the available memory a Krylov basis may take when its size is chosen from it.
MEMORY_FRACTION = 0.5

#: ``Krylov(matrix_free="auto")`` assembles the sector matrix up to this many unknowns, and above
#: it the sectors of several block pairs (:func:`assembles`). Measured (one application of ``L``
#: against the matrix-free action, whose block loops and compiled kernel use both cores;
#: ``benchmarks/bench_assembled.py``, benchmarks/RESULTS.md): session 9, with SciPy's sparse product
#: on one thread, 37x faster on the 8 block pairs of the corpus's XXZ + dephasing sector (3,432
#: unknowns), 1.6-2.7x on the corpus's other Krylov rows (4,096-22,500, compiled kernel), 3.5x on
#: XXZ 8 (12,870), 1.9x on XXZ 9 (48,620), and slower above on one block pair (Ising 8, 65,536,
#: 0.83x; Ising 10 0.56x). Session 13, with the compiled product on both cores
#: (:class:`qness.liouvillian.CSROperator`): XXZ 10-12 (184,756-2,704,156 unknowns, 11-13 pairs)
#: 1.48-1.61x, Ising 9-10 (one pair) 1.36x and 1.20x; a one-pair sector stays matrix-free above
#: this size (no matrix in memory; its assembly, 0.9 s at Ising 10, costs what the products save).
ASSEMBLED_MAX = 50_000
#: ... and up to this many entries per row of the sector matrix (:func:`entries_per_row`): a dense
#: ``H`` (noise, an eigenbasis) gave 400 per row at d = 200, where the assembled product was no
#: faster (40 against 44 ms), the assembly took 1.7 s and the matrix 0.3 GiB (new-user review,
#: session 9). The corpus's Krylov rows have 8-37.
ASSEMBLED_ROW_MAX = 64


def entries_per_row(model) -> float:
    """Estimated entries per row of the Liouvillian (column stacking: the left and right products
    of ``H_eff`` and each jump's ``L rho L^+``), from the operators' entries per row. Diagonal
    jumps (dephasing) map ``rho_ij`` to itself, an entry ``H_eff``'s diagonal already has. A model
    given as its Liouvillian: that matrix's."""
    if isinstance(model, SuperoperatorModel):
        return model.L.nnz / max(model.L.shape[0], 1)
    d = max(model.dim, 1)
    H_eff = model.H_eff()
    row_h = H_eff.nnz / d
    row_j = 0.0
    diagonal = 0.0
    for j in model.jumps:
        if j.rate <= 0 or j.op.nnz == 0:
            continue
        op = sp.coo_array(j.op)
        if np.all(op.row == op.col):
            diagonal = 1.0
        else:
            row_j += (op.nnz / d) ** 2
    if diagonal and np.count_nonzero(H_eff.diagonal()) == d:
        diagonal = 0.0
    return 2.0 * row_h + row_j + diagonal


def assembles(method: Krylov, model, sector: Sector) -> bool:
    """Whether ``method`` applies the assembled sector matrix instead of the matrix-free action.

    ILU and ``matrix_free=False`` always; ``matrix_free="auto"`` on sectors of at most
    :data:`ASSEMBLED_MAX` unknowns with at most :data:`ASSEMBLED_ROW_MAX` entries per row whose
    matrix takes at most a tenth of the available memory; a model given as its Liouvillian
    matrix is that matrix already.
    """
    if method.preconditioner == "ilu" or method.matrix_free is False or isinstance(model, SuperoperatorModel):
        return True
    if method.matrix_free != "auto":
        return False
    # in an exchange eigenbasis (detect_exchange) H and the jumps have twice the entries per row
    # and the block action is slower than the product with the assembled matrix at any size: the
    # parity +1 sector of Ising 9 (131,584 unknowns) 13 against 4.9 ms, of Ising 10 (524,800) 72
    # against 38 ms (one thread; assembly 0.12 / 0.78 s, once per solve and check)
    # the block-pair action of a sector with several pairs (a U(1) charge) is slower than the
    # assembled matrix's compiled product at every size measured (CSROperator): above
    # ASSEMBLED_MAX only the compiled whole-space action stays matrix-free
    if sector.size > ASSEMBLED_MAX and has_compiled_action(sector, model) and not is_exchange_basis(model):
        return False
    row = entries_per_row(model)
    return row <= ASSEMBLED_ROW_MAX and 20.0 * row * sector.size <= 0.1 * available_memory()


def fitted_restart(
    model: LindbladModel, sector: Sector, method: Krylov, available: float | None = None
) -> int:
    """GMRES restart length whose basis fits in ``MEMORY_FRACTION`` of the available memory.

    The preconditioner and the work vectors are counted first (as in
    :func:`memory_estimate`); the rest buys basis vectors of
    ``16 * sector.size`` bytes. Clipped to ``[MIN_RESTART, MAX_RESTART]``
    (and to ``method.restart`` when that is set): below ``MIN_RESTART`` the
    guard refuses the solve.
    """
    avail = available_memory() if available is None else available
    fixed, _ = memory_estimate(model, sector, dataclasses.replace(method, solver="gmres", restart=1, s=8))
    per = 16.0 * sector.size
    fit = int((MEMORY_FRACTION * avail - (fixed - 2 * per)) // per) - 1
    top = MAX_RESTART if method.restart is None else method.restart
    return int(max(MIN_RESTART, min(top, fit)))


# ------------------------------------------------------------------ the system
def swap_row(M, r: int, cols: np.ndarray, value: complex) -> sp.csr_array:
    """``M`` (sparse) with row ``r`` replaced by ``value`` in the columns ``cols`` (ascending): the
    trace row of the steady-state systems. Done in the CSR arrays themselves (the product with a
    diagonal matrix and a sum took 1-2 ms of the 8-11 ms small-sector solves), with 64-bit
    indices as those products gave; explicit zeros of ``M`` are dropped, as they dropped them."""
    M = sp.csr_array(M)
    M.sum_duplicates()
    cols = np.asarray(cols, dtype=np.int64)
    a, b = int(M.indptr[r]), int(M.indptr[r + 1])
    indptr = M.indptr.astype(np.int64)
    indptr[r + 1 :] += cols.size - (b - a)
    indices = np.concatenate([M.indices[:a].astype(np.int64), cols, M.indices[b:].astype(np.int64)])
    data = np.concatenate([M.data[:a], np.full(cols.size, value, dtype=np.complex128), M.data[b:]])
    A = sp.csr_array((data.astype(np.complex128, copy=False), indices, indptr), shape=M.shape)
    if not np.all(data):
        A.eliminate_zeros()
    return A


def population_row_scales(model: LindbladModel) -> np.ndarray:
    """Largest modulus in each population row of the Liouvillian: row ``(i, i)`` of ``L``, for every ``i``.

    The entries of row ``(i, i)`` come from row ``i`` of ``H_eff`` and of the jumps
    ``L_k = sqrt(rate_k) A_k`` alone::

        d rho_ii / dt = -i sum_a H_eff[i, a] rho_ai + i sum_b conj(H_eff[i, b]) rho_ib
                        + sum_k sum_ab L_k[i, a] conj(L_k[i, b]) rho_ab,

    so the coefficient of ``rho_ai`` (``a != i``) is ``C[i, a]`` with ``C = -i H_eff + sum_k
    conj(diag L_k) L_k`` (that of ``rho_ia`` its conjugate), that of ``rho_ii`` is ``2 Im H_eff[i, i] +
    sum_k |L_k[i, i]|^2``, and the largest of the others (``a, b != i``) is on the diagonal,
    ``max_a sum_k |L_k[i, a]|^2`` (Cauchy-Schwarz). No real diagonal of ``H_eff`` enters: a population
    row is not set by the energies of the states, only by the couplings and rates.

    Parameters
    ----------
    model : LindbladModel

    Returns
    -------
    numpy.ndarray, shape (d,)
        The scales (0 for a population without dynamics).
    """
    d = model.dim
    H = sp.coo_array(model.H_eff())
    diag = np.zeros(d)
    np.add.at(diag, H.row[H.row == H.col], 2.0 * H.data[H.row == H.col].imag)
    # the jumps' entries at once (one array per jump took 10-20 ms of sparse calls on small models)
    parts = [sp.csr_array(j.op) for j in model.jumps if j.rate > 0]
    rates = [j.rate for j in model.jumps if j.rate > 0]
    rows = [np.repeat(np.arange(d, dtype=np.int64), np.diff(q.indptr)) for q in parts]
    row = np.concatenate(rows) if parts else np.zeros(0, np.int64)
    col = np.concatenate([q.indices for q in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
    val = (
        np.concatenate([np.sqrt(r) * q.data.astype(np.complex128) for r, q in zip(rates, parts)])
        if parts
        else np.zeros(0, np.complex128)
    )
    jump = np.repeat(np.arange(len(parts)), [q.nnz for q in parts])
    on = row == col
    dk = np.zeros((len(parts), d), dtype=np.complex128)  # diag L_k
    np.add.at(dk, (jump[on], row[on]), val[on])
    np.add.at(diag, row[on], np.abs(val[on]) ** 2)
    # C = -i H_eff + sum_k conj(diag L_k) L_k and P = sum_k |L_k|^2, entry by entry (duplicates summed)
    C = sp.coo_array(
        (np.concatenate([-1j * H.data, dk[jump, row].conj() * val]),
         (np.concatenate([H.row, row]), np.concatenate([H.col, col]))),
        shape=(d, d),
    )  # fmt: skip
    P = sp.coo_array((np.abs(val) ** 2, (row, col)), shape=(d, d))
    out = np.abs(diag)
    for M in (C, P):
        M.sum_duplicates()
        off = M.row != M.col
        np.maximum.at(out, M.row[off], np.abs(M.data[off]))
    return out


def trace_row_weight(model: LindbladModel, sector: Sector) -> float:
    """Weight ``c`` of the trace row of the steady-state systems: a typical population row's scale.

    The median of :func:`population_row_scales` over the sector's populations (those with
    dynamics), so that the trace row ``c t`` is of the size of the rows it sits among. ``L``'s scale
    (``2 max |H_eff_ii|``, used before session 16) is set by the energies of the highest states,
    which need not take part in the steady state: a mode with ``(a^+)^8 a^8`` at cutoff 60 has
    1.8e14 there against rates of order one, and Krylov's uniqueness check then called the unique
    state degenerate (the rounding level of such a trace row is above the model's rates). The
    population row the trace row replaces (the first) can itself be atypical: a boundary-driven
    chain's fully polarised state has only the driving rates in its row (1e-9 x the hopping with
    ``gamma = 1e-9``), and a trace row that small makes a Krylov solve stop before the state is
    resolved. Returns 0 when no population has dynamics.

    Parameters
    ----------
    model : LindbladModel
    sector : Sector
        Its blocks on the diagonal hold the populations counted.
    """
    scales = population_row_scales(model)
    states = [sector.blocks[bl] for bl, br in sector.pairs if bl == br]
    inside = scales[np.concatenate(states)] if states else scales[:0]
    live = inside[inside > 0]
    return float(np.median(live)) if live.size else 0.0


def _dense_lu(A: np.ndarray):
    """``(solve, solve_h)`` (``A^{-1} b``, ``A^{-H} b``) from a dense LU of ``A``; an exactly singular
    ``A`` is left to the uniqueness check (:func:`qness.solvers.uniqueness.lu_check`) to report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sla.LinAlgWarning)
        lu = sla.lu_factor(A, check_finite=False)
    return (
        functools.partial(sla.lu_solve, lu, check_finite=False),
        functools.partial(sla.lu_solve, lu, trans=2, check_finite=False),
    )


class _System:
    """The sector problem: matrix (lazily), matrix-free operator, trace row."""

    def __init__(self, model: LindbladModel, sector: Sector, weight: float | None = None):
        if isinstance(model, SuperoperatorModel):
            from .superop import GraphSector

            if sector.kind == "full":
                sector = GraphSector(0, model.dim, np.arange(model.dim**2))
            if weight is None:
                weight = model.scale()
        self.model = model
        self.sector = sector
        self.n = sector.size
        self.t = sector.trace_vector()
        diag = np.flatnonzero(self.t)
        if diag.size == 0:
            raise ValueError("the chosen sector holds no diagonal elements: it cannot hold a state")
        self.r = int(diag[0])
        self._M = None
        self._op = None
        self.progress = False  # show a tqdm bar (set by steady_state)
        self.basis = None  # W of an exchange symmetry (rho = W rho' W^T), set by steady_state
        self.fold_allowed = False  # Krylov may fold a U(1) sector (_fold_of), set by steady_state
        # set by Auto: a stalled Krylov solve falls back to the LU where it fits (see stall_check_runs)
        self.lu_fallback = False
        # the states beyond the solved sector whose uniqueness a Krylov solve also checks:
        # "auto" (those of the sector's parity, _odd_spec) or (sector, what, kind, operator)
        self.odd_spec = "auto"
        self.checks = None  # _ChecksAlongside of a Krylov solve, while its checks may still run
        # Scale of L (largest |2 H_eff_ii|): the accuracy a stable LU reaches (RESIDUAL_GUARD)
        scale = weight
        if weight is None:
            scale = 2.0 * float(np.max(np.abs(model.H_eff().diagonal()), initial=0.0))
        self.scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        if weight is None:
            # a typical population row's scale (it was L's scale: see trace_row_weight)
            weight = trace_row_weight(model, sector)
            if not (np.isfinite(weight) and weight > 0):
                weight = self.scale
        self.c = weight if np.isfinite(weight) and weight > 0 else 1.0

    def matrix(self) -> sp.csr_array:
        if self._M is None:
            self._M = self.sector.matrix(self.model)
        return self._M

    def operator(self) -> spla.LinearOperator:
        if self._op is None:
            self._op = self.sector.operator(self.model)
        return self._op

    def replaced_matrix(self, c: float | None = None) -> sp.csr_array:
        """``A``: the sector matrix with row ``r`` replaced by ``c * t``."""
        c = self.c if c is None else c
        return swap_row(self.matrix(), self.r, np.flatnonzero(self.t), c)

    def rhs(self, c: float | None = None) -> np.ndarray:
        b = np.zeros(self.n, dtype=np.complex128)
        b[self.r] = self.c if c is None else c
        return b

    def replaced_operator(self, use_matrix: bool, c: float | None = None) -> spla.LinearOperator:
        L = fast_product(self.matrix()) if use_matrix else self.operator()
        r, trace = self.r, _TraceRow(self.t)
        c = self.c if c is None else c

        def mv(x):
            y = np.asarray(L @ x).ravel().astype(np.complex128, copy=False)
            y[r] = c * trace(x)
            return y

        return spla.LinearOperator((self.n, self.n), matvec=mv, dtype=np.complex128)

    def envelope(self) -> tuple[float, float]:
        """:func:`envelope_estimate` of the sector matrix, computed once."""
        if getattr(self, "_envelope", None) is None:
            self._envelope = envelope_estimate(self.matrix())
        return self._envelope

    def lu_fallback_impossible(self) -> bool:
        """Whether the sector's LU envelope exceeds half the available memory (``Auto``'s fallback
        from a stalled Krylov solve cannot run). A sector matrix assembled only for this estimate
        is not kept then (the uniqueness check that runs instead needs the memory)."""
        had = self._M is not None
        cannot = self.envelope()[1] > 0.5 * available_memory()
        if cannot and not had:
            self._M = None
        return cannot

    def stall_check_runs(self) -> bool:
        """Whether a stalled Krylov solve looks for a null direction (a stall from several steady
        states) before its convergence error: always, except where ``Auto``'s fallback LU will run
        (that LU checks uniqueness itself)."""
        return not self.lu_fallback or self.lu_fallback_impossible()

    def rounding_level(self, u: np.ndarray) -> float | None:
        """``LU_ROUNDING_RTOL * || |A| |u| ||_2``: the rounding level of ``A u`` (``A`` the sector
        matrix with the trace row) where ``u`` lives, or ``None`` if the matrix is not assembled.

        Componentwise: rows of huge entries where ``u`` is zero add nothing (a mode's Fock states the
        steady state never reaches); the normwise level ``||A|| ||u||`` counts them. A matrix-free
        solve of a model with diagonal jumps, whose action adds their part exactly
        (:func:`qness.liouvillian.split_diagonal`), assembles the matrix here where it takes at most
        a tenth of the available memory (a chain dephased at ``g = 1e7``: its Zeno rates ``1e-7`` lie
        below the normwise level ``eps g``, and a unique state was called non-unique); other
        matrix-free actions round as the normwise level says.
        """
        if self._M is None:
            if not isinstance(self.model, LindbladModel) or not any(map(is_diagonal, self.model.c_ops)):
                return None
            if 20.0 * entries_per_row(self.model) * self.n > 0.1 * available_memory():
                return None
            self.matrix()
        M, au = self._M, np.abs(u)
        v = np.empty(self.n)
        step = 1 << 18  # (row slices: no copy of the whole matrix)
        for s0 in range(0, self.n, step):
            v[s0 : s0 + step] = abs(M[s0 : s0 + step]) @ au
        v[self.r] = self.c * float(np.abs(self.t) @ au)
        return LU_ROUNDING_RTOL * float(np.linalg.norm(v))

    def residual(self, x: np.ndarray) -> float:
        """``||L x||_2`` for the sector vector ``x`` (the full residual: zeros elsewhere), with the
        sector matrix when it is assembled (the matrix-free operator costs a set-up)."""
        L = self._M if self._M is not None else self.operator()
        return float(np.linalg.norm(L @ x))


# ------------------------------------------------------------------ public API
def steady_state(model, *args, method=None, x0=None, symmetry="auto", progress=False, **options) -> NESS:
    """The steady state ``rho`` with ``L(rho) = 0`` and ``Tr(rho) = 1``.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        The master equation ``d rho/dt = -i[H, rho] + sum_k D[L_k] rho``
        (hbar = 1, ``L_k = sqrt(rate_k) A_k``; QuTiP objects accepted), or
        its Liouvillian (a ``Qobj`` of type ``"super"``, a square matrix, a
        :class:`~qness.SuperoperatorModel`), solved directly (see
        :mod:`qness.solvers.superop`). QuTiP's call shapes
        ``steady_state(H, c_ops, method=...)`` and ``steady_state(L, c_ops)``
        (the dissipators of ``c_ops`` added to the Liouvillian ``Qobj``
        ``L``, as ``qutip.steadystate`` does) are accepted too.
    method : Auto, Dense, Direct, Krylov, Evolve, str or None
        (May be given second, positionally: ``steady_state(model, "dense")``.)
        The algorithm (see :mod:`qness.solvers.methods`); ``None`` is
        ``Auto()``: it chooses from estimated costs of a sparse LU and of
        a Krylov solve of the steady-state sector, and the memory available
        (the reason is in ``info["auto"]``).
    x0 : array_like or NESS, optional
        Warm start (``d x d`` density matrix, a ket, or a previous result), used by
        the iterative methods; ``Evolve`` starts from it if its ``rho0`` is
        not set.
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        ``"auto"`` uses the model's declared U(1) (else Z2) symmetry, or one
        found by :func:`qness.symmetry.detect_symmetry` (a conserved charge
        that is a sum of per-site charges: total magnetisation, number of
        quanta, excitation number; else the parity of the number of quanta),
        and solves only the sector
        ``n_left - n_right = 0`` (or parity ``+1``, after checking that the
        parity ``-1`` sector has no zero mode). Without either, a model of
        dimension at least ``EXCHANGE_MIN_DIM`` with a reflection or level-flip
        symmetry (:func:`qness.symmetry.detect_exchange`) is solved in that
        symmetry's eigenbasis (``info["sector"]["basis"]``; the state is
        returned in the original basis). With a U(1), ``Krylov`` (given or
        chosen by ``Auto``) solves the ``q = 0`` sector folded in half by a
        reflection or level flip that reverses the charge, as in a
        boundary-driven chain (:func:`qness.symmetry.detect_fold`,
        ``info["fold"]``), and checks the states odd under it for a zero
        mode. ``None`` solves the full space.
    progress : bool
        Show a ``tqdm`` bar on stderr with the iterations and the residual
        (Krylov, Evolve; the stages of Dense and Direct). The same is
        recorded at INFO level on the ``"qness"`` logger whether or not the
        bar is shown (see :mod:`qness.solvers.progress`).
    **options
        Settings of the method, e.g. ``rtol=1e-10`` for ``Krylov``; an
        unknown name raises ``TypeError`` listing the valid ones (as Python
        does for an unexpected keyword).

    Returns
    -------
    NESS
        ``.rho`` (``d x d``, trace 1, Hermitian), ``.residual``
        ``= ||L vec(rho)||_2`` (column stacking), ``.info`` with the method,
        its settings, iterations and wall time.

    Raises
    ------
    NonUniqueSteadyStateError
        If the dynamics has invariant subspaces (a strong symmetry or a
        decoupled part), or the trace-augmented system is singular (checked
        on every route, see :mod:`qness.solvers.uniqueness`). Use
        :func:`qness.asymptotic_state` for the state reached from an
        initial state (exact, a few solves), or :func:`steady_states` for
        one state per invariant subspace.
    ConvergenceError
        If an iterative method misses its tolerance (``Krylov``: ``rtol``,
        ``Evolve``: ``atol``; the message names it; carries the last iterate
        and its residual), or a direct solve returns a residual above
        ``RESIDUAL_GUARD`` times the scale of ``L``.
    InsufficientMemoryError
        If the solve would not fit in memory (estimated before anything
        large is allocated, see :func:`memory_estimate`; carries the
        required and available bytes, the message says what to try).
    ValueError
        On bad input (see :func:`qness.from_qutip`), bad option values or an
        unknown method name (QuTiP's names, e.g. ``"iterative-gmres"``, get
        the qness method that does their job).
    TypeError
        If ``progress`` is not a bool, or for an option the method does not
        take.

    Warns
    -----
    UniquenessWarning
        When uniqueness could be neither certified nor refuted: the Krylov
        check stalled without finding a near-null direction, or (LU routes)
        the trace-augmented Liouvillian's smallest singular value lies between
        ``1e-14`` and ``1e-12`` of its norm, as for very stiff models.
        ``info["uniqueness"]["verified"]`` is then False. Also when the parity
        ``-1`` sector of a Z2 symmetry (declared, detected, or an exchange
        symmetry) has a mode too slow to certify but not at zero (a cat
        qubit's bit flip; ``info["uniqueness"]["odd_sector"]``); a mode at
        zero there raises ``NonUniqueSteadyStateError``.
    AccuracyWarning
        When Krylov's absolute ``rtol`` is loose for the model's units, or
        when its state's error estimate (linear residual over the uniqueness
        check's smallest singular value, ``info["uniqueness"]["error_estimate"]``)
        exceeds ``KRYLOV_ERROR_WARN`` = 1e-8: a relaxation so slow that
        ``rtol`` does not fix the state. On Dense and Direct, when the
        state's error estimate (after refinement in extended precision, and
        its sensitivity to the rounding of L's entries) exceeds
        ``LU_ERROR_WARN`` = 1e-8.

    Notes
    -----
    Conventions: ``vec(rho) = rho.ravel(order="F")``;
    ``L = -i(I⊗H - H^T⊗I) + sum_k [conj(L_k)⊗L_k - 1/2(I⊗L_k^+L_k + (L_k^+L_k)^T⊗I)]``.

    Examples
    --------
    >>> import qutip, qness
    >>> ness = qness.steady_state((qutip.sigmax(), [qutip.sigmam()]))
    >>> round(ness.expect(qutip.sigmaz()), 6)
    -0.111111
    """
    t0 = time.perf_counter()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    model, method = _call_shape(model, args, method)
    method = resolve_method(method, options)
    if model.dim == 1:
        # one state: [[1]] is the only density matrix, stationary under any generator (a closed
        # system was refused, and Krylov's uniqueness check broke down on the empty complement)
        info = {"method": "one state", "time": time.perf_counter() - t0}
        kinds = {"qobj_dims": model.qobj_dims}
        if isinstance(model, LindbladModel):
            kinds["site_kinds"] = model.site_kinds
        return NESS(np.ones((1, 1), dtype=np.complex128), model.dims, 0.0, info, **kinds)
    if isinstance(model, SuperoperatorModel):
        from .superop import solve

        return solve(model, method, x0, symmetry, t0)
    if isinstance(method, Evolve):
        _memory_guard(model, full_sector(model.dim), method)
        uniqueness = _evolve_uniqueness(model, method)
        return _evolve(model, method, x0, t0, progress, uniqueness)
    _check_dissipative(model)
    comps = detect_invariant_subspaces(model)
    if len(comps) > 1:
        raise NonUniqueSteadyStateError(
            f"the model has {len(comps)} invariant subspaces (sizes {[len(c) for c in comps][:8]}"
            f"{'...' if len(comps) > 8 else ''}) that the dynamics never connects, so it has at least "
            f"{len(comps)} steady states; use qness.steady_states(model) for one per subspace, or "
            "qness.asymptotic_state(model, rho0) for the one reached from an initial state rho0",
            subspaces=comps,
        )
    sector = _choose_sector(model, symmetry)
    solve_model, basis = model, None
    if (
        sector.kind == "full"
        and isinstance(symmetry, str)
        and not model.symmetries
        and model.dim >= EXCHANGE_MIN_DIM
    ):
        found = detect_exchange(model)
        if found is not None:  # a reflection or level flip: solved in its eigenbasis (see there)
            solve_model, basis, _ = found
            sector = steady_sector(solve_model, check=False)
    _memory_guard(solve_model, sector, method)
    system = _System(solve_model, sector)
    system.basis = basis
    system.progress = bool(progress)
    system.fold_allowed = isinstance(symmetry, str)  # Krylov folds a U(1) sector (_fold_of)
    logger.info(
        "steady_state: %s on a %s sector of %d unknowns", type(method).__name__, sector.kind, sector.size
    )
    if x0 is not None and isinstance(method, (Dense, Direct)):
        raise ValueError(
            f"x0 is not used by {type(method).__name__} (a direct solve); "
            "it is used by Krylov, Evolve and Auto"
        )
    x0 = _warm_start(x0, sector, model, basis)
    with shared_block_eig(solve_model):
        return _solve(model, system, method, x0, t0)


#: ``steady_state(symmetry="auto")`` solves a model without U(1) or parity in the eigenbasis of an
#: exchange symmetry (:func:`qness.symmetry.detect_exchange`: reflection, level flip) from this
#: Hilbert-space dimension on. Measured against the full space (session 11, best of 3, one BLAS
#: thread): dissipative Ising 6 (d = 64) 0.88-1.07x, Bose-Hubbard dimer (100) 1.06x, trimer (125)
#: 1.29x, Ising 7 (128) 2.1x, Ising 8 (256) 2.0x, Ising 9 1.5-1.7x, Ising 10 1.4x; below, the
#: set-up and the parity -1 sector's check cost more than the smaller blocks save.
EXCHANGE_MIN_DIM = 100


def _solve(model: LindbladModel, system: _System, method, x0, t0: float) -> NESS:
    """:func:`steady_state` from the sector problem on: the method's route (Auto's choice, and its
    fallback), the parity -1 sector's check, the result."""
    try:
        return _solve_route(model, system, method, x0, t0)
    finally:
        _close_checks(system)


def _solve_route(model: LindbladModel, system: _System, method, x0, t0: float) -> NESS:
    if not isinstance(method, Auto):
        x, info = _DISPATCH[type(method)](system, method, x0)
        _odd_sector_check(system, method, x, info)
        return _finish(model, system, x, method, info, t0)
    chosen, note = _auto_choice(method, system)
    t1 = time.perf_counter()
    logger.info("steady_state: Auto chose %s (%s)", type(chosen).__name__, note["auto"])
    if isinstance(chosen, Krylov):
        _memory_guard(system.model, system.sector, chosen)
        # the fallback LU checks uniqueness itself; where it cannot run, the stall check does
        system.lu_fallback = True
    try:
        x, info = _DISPATCH[type(chosen)](system, chosen, x0)
    except ConvergenceError as exc:
        # The iterative route stalled (at most krylov_maxiter steps): fall back to sparse LU
        # if its envelope fits in memory.
        if system.lu_fallback_impossible():
            raise
        note["auto"] += f"; Krylov failed after {time.perf_counter() - t1:.3g} s ({exc}), fell back to Direct"
        logger.info("steady_state: Krylov failed (%s); Auto falls back to Direct", exc)
        _close_checks(system)
        chosen = Direct()
        x, info = _solve_direct(system, chosen, x0)
    _odd_sector_check(system, chosen, x, info)
    info.update(note)
    return _finish(model, system, x, chosen, info, t0)


def steady_states(model, *args, method=None, **options) -> list[NESS]:
    """One steady state per invariant subspace of ``model`` (see :func:`steady_state`).

    The basis is split into the connected components of the graph of
    ``H`` and the jump operators; each component's restricted model is
    solved on its own and embedded back. For a connected model this is
    ``[steady_state(model)]``, which raises ``NonUniqueSteadyStateError``
    when the degeneracy is hidden in a rotated basis (a dark state); the
    kernel is then in ``qness.asymptotic_state(model, rho0).info["steady"]``.

    The states returned are the extreme ones, each living on its component;
    the kernel of ``L`` can be larger: stationary coherences between two
    components whose dynamics match (two qubits decaying in separate blocks,
    ``1 -> 0`` and ``3 -> 2``: kernel of dimension 4, two states returned,
    ``(|0> + |2>)/sqrt(2)`` stationary too) are not in the list.
    ``asymptotic_state(model, rho0)`` gives the state reached from ``rho0``
    with them, and ``info["kernel_dim"]`` the kernel's dimension.

    Parameters
    ----------
    model : LindbladModel, tuple (H, c_ops), or a Liouvillian
        As for :func:`steady_state` (QuTiP's ``(H, c_ops)`` call shape too).
    method : Auto, Dense, Direct, Krylov, Evolve, str or None
        The algorithm used on each component, as for :func:`steady_state`;
        further keyword ``options`` are passed on to it.

    Returns
    -------
    list of NESS
        One state per component, in order of the components' first index
        (a one-state component gives ``|i><i|``, ``info["method"] == "one state"``).

    Raises
    ------
    ClosedSystemError
        If a component of more than one state has no jump acting in it.
    NonUniqueSteadyStateError
        If a component still has several steady states (see above).
    """
    model, method = _call_shape(model, args, method)
    if isinstance(model, SuperoperatorModel):
        from .superop import solve_all

        with _within_subspace("a block of the Liouvillian"):
            return solve_all(model, resolve_method(method, options))
    comps = detect_invariant_subspaces(model)
    if len(comps) == 1:
        with _within_subspace("the model (one invariant subspace)"):
            return [steady_state(model, method, **options)]
    out = []
    for i, comp in enumerate(comps):
        rho = np.zeros((model.dim, model.dim), dtype=np.complex128)
        if len(comp) == 1:
            # one state: |i><i| is its only density matrix, stationary with or without jumps (a
            # level no jump touches was refused as a closed system with "more than one steady state")
            rho[comp[0], comp[0]] = 1.0
            info = {"method": "one state", "subspace": comp, "time": 0.0}
            kinds = {"site_kinds": model.site_kinds, "qobj_dims": model.qobj_dims}
            out.append(NESS(rho, model.dims, 0.0, info, **kinds))
            continue
        sub = _restrict(model, comp)
        where = f"invariant subspace {i} ({len(comp)} states: {_states(comp)})"
        if not _dissipative(sub):
            raise ClosedSystemError(
                f"steady_states: {where} has no jump acting in it: a closed system of {len(comp)} states, "
                "in which every function of its H is stationary; qness.asymptotic_state(model, rho0) "
                "gives the time average reached from rho0"
            )
        with _within_subspace(where):
            ness = steady_state(sub, method, symmetry=None, **options)
        rho[np.ix_(comp, comp)] = ness.rho
        info = dict(ness.info, subspace=comp)
        info.pop("_blocks", None)
        out.append(
            NESS(rho, model.dims, ness.residual, info, site_kinds=model.site_kinds, qobj_dims=model.qobj_dims)
        )
    return out


def _states(comp) -> str:
    """The basis states of a component, for messages (the first few)."""
    shown = ", ".join(str(int(k)) for k in comp[:6])
    return f"{shown}, ..." if len(comp) > 6 else shown


@contextlib.contextmanager
def _within_subspace(where: str):
    """:func:`steady_states`: a subspace that still has several steady states raises an error that
    points to :func:`qness.asymptotic_state` (the shared hint names ``steady_states`` itself)."""
    try:
        yield
    except NonUniqueSteadyStateError as exc:
        found = str(exc).split(": " + NON_UNIQUE_HINT)[0].split(": the steady state is not unique")[0]
        raise NonUniqueSteadyStateError(
            f"steady_states: {where} has more than one steady state although its states are connected "
            "(a dark state or a conserved quantity in a rotated basis, which no split of the basis "
            "separates); qness.asymptotic_state(model, rho0) gives the state reached from rho0, and its "
            f'info["steady"] a basis of every steady state. The solve found: {found}'
        ) from exc


def _single_operator(obj) -> bool:
    """A ``Qobj``, a 2-D array or a sparse matrix: one operator, never a method."""
    return _is_qobj(obj) or sp.issparse(obj) or (isinstance(obj, np.ndarray) and obj.ndim == 2)


def _call_shape(model, args, method=None):
    """``(model, method)`` from qness's ``f(model, method)`` or QuTiP's ``f(H, c_ops, method=...)``.

    A list (or a tuple that is not a method) second can only be ``c_ops``
    (a method is a name, an instance or ``None``), so ``steady_state(H,
    c_ops)`` means ``steady_state((H, c_ops))``; a single operator second
    (``Qobj``, 2-D array, sparse matrix) is one collapse operator, as in QuTiP; with a Liouvillian ``Qobj``
    first, the dissipators of ``c_ops`` are added to it, as
    ``qutip.steadystate(L, c_ops)`` does. A third positional argument is
    then the method.
    """
    args = tuple(args)
    if len(args) > 2:
        raise TypeError(
            f"expected at most (model, method) or (H, c_ops, method); got {1 + len(args)} arguments"
        )
    c_ops = None
    if args and (
        isinstance(args[0], list) or (isinstance(args[0], tuple) and not dataclasses.is_dataclass(args[0]))
    ):
        c_ops, args = args[0], args[1:]
    elif args and _single_operator(args[0]):
        # qutip.steadystate(H, c) with one collapse operator, not in a list (QuTiP 5 takes it): an
        # operator is never a method (an array second was read as the method, and the first as a
        # Liouvillian, and the error spoke of trace preservation)
        c_ops, args = [args[0]], args[1:]
    elif len(args) == 2:
        raise TypeError(
            f"the second argument must be c_ops (a list) when three are given, got {type(args[0]).__name__}"
        )
    if args:
        if method is not None:
            raise TypeError("method given both positionally and as method=")
        method = args[0]
    if c_ops is None:
        return as_model(model), method
    if isinstance(model, (LindbladModel, SuperoperatorModel)):
        raise TypeError(
            "got a model and a list of c_ops; put the jumps into the model, or pass (H, c_ops) as one "
            "tuple (the second argument is the method: a name or a method instance)"
        )
    if (_is_qobj(model) or type(model).__name__ == "QobjEvo") and getattr(model, "type", None) == "super":
        # qutip.steadystate(L, c_ops): the dissipators of c_ops are added to the Liouvillian (a
        # QobjEvo of constant coefficients too: from_liouvillian evaluates it, or says it is not)
        return from_liouvillian(model, c_ops), method
    return as_model((model, c_ops)), method


def _dissipative(model: LindbladModel) -> bool:
    """Whether some jump of ``model`` has a positive rate and a non-zero operator."""
    return any(j.rate > 0 and j.op.nnz for j in model.jumps)


def _check_dissipative(model: LindbladModel) -> None:
    if not _dissipative(model) and model.dim > 1:  # (one state: [[1]] is the only density matrix)
        raise ClosedSystemError(
            "the model has no jump operators (c_ops is empty or zero): a closed system, in which every "
            "function of H is stationary, so there is no unique steady state; add dissipation, or use "
            "qness.asymptotic_state(model, rho0) for the time average reached from a state rho0"
        )


def _restrict(model: LindbladModel, comp: np.ndarray) -> LindbladModel:
    H = model.H[comp][:, comp]
    jumps = []
    for j in model.jumps:
        op = j.op[comp][:, comp]
        if op.nnz:
            jumps.append(dataclasses.replace(j, op=op))
    return LindbladModel(dims=(len(comp),), H=H, jumps=tuple(jumps), name=f"{model.name}[subspace]")


def _choose_sector(model: LindbladModel, symmetry) -> Sector:
    if symmetry is None or symmetry is False:
        return full_sector(model.dim)
    if isinstance(symmetry, str):
        if symmetry != "auto":
            raise ValueError(f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {symmetry!r}")
        if model.u1() is None and model.z2() is None:
            found = detect_symmetry(model)
            return full_sector(model.dim) if found is None else steady_sector(model, found, check=False)
        return steady_sector(model)
    if isinstance(symmetry, (U1Symmetry, Z2Symmetry)):
        return steady_sector(model, symmetry)
    raise TypeError(
        f"symmetry must be 'auto', None, a U1Symmetry or a Z2Symmetry; got {type(symmetry).__name__}"
    )


def _warm_start(x0, sector: Sector, model: LindbladModel, basis=None):
    if x0 is None:
        return None
    rho0 = getattr(x0, "rho", x0)
    if hasattr(rho0, "full") and callable(rho0.full):
        rho0 = rho0.full()
    rho0 = np.asarray(rho0, dtype=np.complex128)
    d = model.dim
    if rho0.shape in ((d,), (d, 1)):  # a ket, as Evolve's rho0 and asymptotic_state take one
        psi = rho0.reshape(d)
        rho0 = np.outer(psi, psi.conj())
    if rho0.shape != (d, d):
        raise ValueError(f"x0 must be a {d} x {d} density matrix or a ket of length {d}, got {rho0.shape}")
    if not np.all(np.isfinite(rho0)):
        raise ValueError("x0 has non-finite entries")
    if basis is not None:  # into the eigenbasis of an exchange symmetry (real orthogonal W)
        rho0 = np.asarray(basis.T @ (basis.T @ rho0).T).T
    return sector.from_full(rho0)


def envelope_estimate(M: sp.csr_array) -> tuple[float, float]:
    """Estimated work and memory of a sparse LU of ``M``, from its envelope in RCM order.

    Returns ``(flops, bytes)`` from the envelope (profile) of the symmetrised
    pattern in reverse Cuthill-McKee order. An LU *without pivoting* in that
    order fills at most the envelope, so these are bounds for it; SciPy's
    SuperLU uses another ordering and partial pivoting, which can fill less
    or (by pivoting) somewhat more. Cheap (``O(nnz)``): a guide for choosing
    between a direct and an iterative solve, not a guarantee.
    """
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n = M.shape[0]
    C = sp.csr_matrix(M)
    # the symmetrised pattern (values do not matter: ones, no cancellation)
    P = sp.csr_matrix((np.ones(C.indices.size, dtype=np.int8), C.indices, C.indptr), shape=C.shape)
    S = sp.csr_matrix(P + P.T)
    p = reverse_cuthill_mckee(S, symmetric_mode=True)
    ip = np.empty(n, dtype=np.int64)
    ip[p] = np.arange(n)
    # row i of the envelope (in RCM order) starts at its smallest column index (zero width for
    # empty rows): the permuted matrix is not formed, its rows are the original rows relabelled
    nonempty = np.flatnonzero(np.diff(S.indptr))
    bw = np.zeros(n, dtype=np.int64)
    if nonempty.size:
        first = np.minimum.reduceat(ip[S.indices], S.indptr[nonempty])
        bw[ip[nonempty]] = np.maximum(ip[nonempty] - first, 0)
    profile = float(bw.sum())
    return profile * float(bw.mean()) * 8.0, 2.0 * 16.0 * (profile + M.shape[0])


#: Time constants of Auto's cost model (seconds, one BLAS thread), fitted on
#: ``benchmarks/bench_corpus.py`` (see ``benchmarks/RESULTS.md``): a sparse LU
#: (UMFPACK / SuperLU) costs about ``_T_SEP * s^3 + _T_UNKNOWN * n`` with ``s``
#: the estimated top separator; one preconditioned GMRES step about
#: ``_T_PREC * P + _T_ORTH * n`` with ``P = sum m_l m_r (m_l + m_r)`` over the
#: block pairs (four dense products per pair). Within a factor of a few, which
#: is what the choice between the two routes needs (they differ by 10-100x
#: away from the boundary).
_T_SEP = 1.5e-8
_T_UNKNOWN = 5e-6
#: seconds per flop of the envelope bound (:func:`envelope_estimate`), which is the
#: tighter estimate where the sector matrix is nearly banded (a small envelope)
_T_ENV = 1e-9
_T_PREC = 2e-9
_T_ORTH = 4e-7
#: ... plus this per block pair of the sector (Python work of the no-jump solves, the two-level
#: coarse correction and the operator, whatever the pair's size): 140 us measured with 169 pairs of
#: 1-36 unknowns (two Jaynes-Cummings systems, two combined charges, session 10), where Auto, without
#: it, estimated 0.9 ms per step, took Krylov at 24 ms per step (1.1 s) against an LU of 0.06 s
_T_PAIR = 1e-4
#: Auto takes the LU when it is estimated to cost at most this many GMRES steps
#: (Sylvester-preconditioned solves took 17-145 steps on the corpus and the spin
#: chains of ``benchmarks/RESULTS.md``; a non-normal ``H_eff`` such as a driven
#: cavity coupled to a qubit needs about 90). Otherwise Krylov runs with a budget
#: of steps worth about one LU, then falls back to it.
_DIRECT_STEPS = 50
#: From this many unknowns on, Auto first estimates the LU from the separator alone and skips the
#: envelope (:func:`envelope_estimate`, which assembles the sector matrix: 2.5 s of Ising 10's 33 s)
#: when that estimate exceeds ``ENVELOPE_SKIP_MARGIN`` times the LU Auto would accept. The envelope
#: only lowers the estimate, and by at most 318x on the corpus and the spin chains
#: (``benchmarks/RESULTS.md``, session 7): the choice is then Krylov either way.
ENVELOPE_SKIP_SIZE = 100_000
ENVELOPE_SKIP_MARGIN = 1e5


def cost_estimates(model: LindbladModel, sector: Sector, envelope_flops: float | None = None) -> dict:
    """Estimated wall times of a sparse LU and of a preconditioned Krylov solve of ``sector``.

    The LU estimate is a nested-dissection argument: with the basis in
    reverse Cuthill-McKee order the graph of ``H`` and the jumps (``d``
    nodes) is a strip of bandwidth ``beta``; the Liouvillian's graph on
    pairs ``(i, j)`` is then a grid of ``(d/beta)^2`` cells of ``beta^2``
    unknowns, whose top separator has ``s = beta sqrt(n)`` unknowns
    (``n`` the sector size); the dense factorisation of the separators costs
    ``O(s^3)``. One mode coupled to a few levels has ``beta`` of 1-3 (an LU
    in seconds at 90,000 unknowns); a many-body chain has ``beta`` growing
    like ``d / sqrt(number of sites)`` (an almost dense LU). The Krylov
    estimate counts the dense products of the Sylvester preconditioner per
    block pair, a fixed cost per pair, and the Gram-Schmidt work of one GMRES step. Where the
    envelope bound of the LU (:func:`envelope_estimate`, ``envelope_flops``)
    is smaller than the separator estimate, it is used instead.

    Parameters
    ----------
    model : LindbladModel
    sector : Sector
        The sector to be solved.
    envelope_flops : float, optional
        The first value of :func:`envelope_estimate` for the sector matrix.

    Returns
    -------
    dict
        ``beta`` (RCM bandwidth of the graph of ``H`` and the jumps),
        ``separator`` (``s``), ``direct_s`` and ``krylov_step_s`` (estimated
        seconds on one thread: one LU, one GMRES step).
    """
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n = sector.size
    if not isinstance(model, LindbladModel) or not hasattr(sector, "blocks"):
        # a bare superoperator: no H to read the structure from, no blocks; the envelope bound
        # (or a dense LU) against Gram-Schmidt work alone
        lu = _T_SEP * float(n) ** 3 if envelope_flops is None else _T_ENV * envelope_flops
        return {
            "beta": None,
            "separator": float(n),
            "direct_s": lu + _T_UNKNOWN * n,
            "krylov_step_s": _T_ORTH * n,
        }
    G = abs(sp.csr_array(model.H))
    for j in model.jumps:
        if j.rate > 0:
            G = G + abs(sp.csr_array(j.op))
    G = sp.csr_matrix(G + G.T)
    if G.nnz:
        p = reverse_cuthill_mckee(G, symmetric_mode=True)
        P = G[p][:, p].tocoo()
        beta = max(int(np.max(np.abs(P.row - P.col))), 1)
    else:
        beta = 1
    sizes = np.array([len(b) for b in sector.blocks], dtype=float)
    pairs = np.asarray(sector.pairs)
    ml, mr = sizes[pairs[:, 0]], sizes[pairs[:, 1]]
    prec = float(np.sum(ml * mr * (ml + mr)))
    sep = min(beta * np.sqrt(n), float(n))
    lu = _T_SEP * sep**3
    if envelope_flops is not None:
        lu = min(lu, _T_ENV * envelope_flops)
    return {
        "beta": beta,
        "separator": sep,
        "direct_s": lu + _T_UNKNOWN * n,
        "krylov_step_s": _T_PREC * prec + _T_ORTH * n + _T_PAIR * len(pairs),
    }


#: Auto runs restarted GMRES with a basis fitted to the memory only down to this restart length;
#: below it, IDR(s), which took 10-15% more operator applications than GMRES(100) but less CPU time
#: on the XXZ chains (``benchmarks/RESULTS.md``; shorter GMRES restarts were not measured)
AUTO_MIN_RESTART = 50


def _auto_choice(method: Auto, system: _System):
    chosen, note = _auto_route(method, system)
    if isinstance(chosen, Krylov) and not isinstance(system.model, SuperoperatorModel):
        chosen, why = _krylov_for_memory(chosen, system)
        note["auto"] += f"; {why}"
    return chosen, note


def _krylov_for_memory(krylov: Krylov, system: _System, available: float | None = None):
    """The Krylov variant Auto runs on ``system`` given the memory: ``(Krylov, reason)``.

    GMRES with ``restart=100`` when its estimate fits in ``MEMORY_FRACTION``
    of the available memory; else GMRES with the longest restart that fits
    if that is at least ``AUTO_MIN_RESTART``; else IDR(s) with the largest
    ``s`` of 8, 4, 2 that fits (if none does, IDR(2), which the memory guard
    then refuses with what to try).
    """
    model, sector = system.model, system.sector
    avail = available_memory() if available is None else available
    budget = MEMORY_FRACTION * avail
    need, _ = memory_estimate(model, sector, krylov)
    gib = 2.0**30
    if need <= budget:
        return krylov, f"GMRES basis of {krylov.restart} fits ({need / gib:.3g} GiB of {budget / gib:.3g})"
    restart = fitted_restart(model, sector, krylov, avail)
    if restart >= AUTO_MIN_RESTART:
        k = dataclasses.replace(krylov, restart=restart)
        return k, (
            f"GMRES restart {restart} from the memory ({need / gib:.3g} GiB for {krylov.restart} "
            f"> {budget / gib:.3g} GiB)"
        )
    for s in (8, 4, 2):
        k = dataclasses.replace(krylov, solver="idrs", s=s, precision="auto")
        need_s, _ = memory_estimate(model, sector, k)
        if need_s <= budget or s == 2:
            return k, (
                f"IDR({s}): a GMRES basis fits only {restart} vectors < {AUTO_MIN_RESTART} in "
                f"{budget / gib:.3g} GiB; IDR({s}) needs {need_s / gib:.3g} GiB"
            )
    raise AssertionError("unreachable")


def _auto_route(method: Auto, system: _System):
    n = system.n
    if n <= method.dense_max:
        return Dense(), {"auto": f"dense: {n} unknowns <= dense_max={method.dense_max}"}
    grid = _mode_grid(system)
    if grid is not None:
        # one mode (with a qubit, say): its d x d grid has a nested-dissection LU of O(n^1.5) work
        # (gridlu); the envelope and separator estimates below assume a banded graph, overestimate it
        need, avail = _grid_lu_bytes(n, grid.width, grid.q), available_memory()
        frac = GRID_LU_FRACTION
        what = f"one mode of {grid.d} states" + (f" x {grid.q} other states" if grid.q > 1 else "")
        if need <= frac * avail:
            if grid.width > GRID_WIDTH_MAX:
                # two-photon terms: separators two cells thick fill the grid's LU about 3x; UMFPACK's own
                # ordering ran 1.4-2.4x faster (SuperLU/MMD 1.2-2.6x) on every such mode
                # measured (benchmarks/bench_grid_orderings.py); the grid estimate, which bounded their
                # peak memory too (van der Pol, 600 states: 4.1 GiB estimated, 1.7 GiB UMFPACK, 1.9 GiB
                # grid), stands in for Direct's envelope bound (which assumes a banded graph: far above both)
                backend = "umfpack" if _have_umfpack() else "superlu"
                return Direct(backend=backend, check_memory=False), {
                    "auto": f"direct ({backend}): {what} with a stencil of width {grid.width} (multi-photon "
                    f"terms), whose LU is faster in {'UMFPACK' if backend == 'umfpack' else 'SuperLU'}'s "
                    f"ordering than in the grid's nested dissection; estimated {need / 2**30:.3g} GiB <= "
                    f"{frac:g} x the available {avail / 2**30:.3g} GiB"
                }
            return Direct(ordering="GRID_ND"), {
                "auto": f"direct (grid nested dissection): {what}, LU "
                f"estimated {need / 2**30:.3g} GiB <= {frac:g} x the available {avail / 2**30:.3g} GiB"
            }
        krylov = Krylov(rtol=method.rtol, maxiter=method.krylov_maxiter)
        return krylov, {
            "auto": f"krylov: the grid LU of {what} estimated {need / 2**30:.3g} GiB > {frac:g} x the "
            f"available {avail / 2**30:.3g} GiB"
        }
    if n > method.direct_max:
        krylov = Krylov(rtol=method.rtol, maxiter=method.krylov_maxiter)
        return krylov, {"auto": f"krylov: {n} unknowns > direct_max={method.direct_max}"}
    if _small_lu(n, 0.5) and _sparse_rows(system.model):
        return Direct(), {"auto": f"direct: {n} unknowns <= {SMALL_LU} (no estimate: any LU is cheap)"}
    # the default Krylov solve then checks uniqueness with GMRES on a random right-hand side,
    # which took 0.3-5x the solve's steps on the corpus (benchmarks/RESULTS.md): count it as one
    solves = 2
    if n >= ENVELOPE_SKIP_SIZE:
        est = cost_estimates(system.model, system.sector)
        limit = ENVELOPE_SKIP_MARGIN * solves * _DIRECT_STEPS * est["krylov_step_s"]
        if est["direct_s"] > limit and est["separator"] ** 3 > method.direct_flops:
            krylov = Krylov(rtol=method.rtol, maxiter=method.krylov_maxiter)
            return krylov, {
                "auto": f"krylov: estimated LU {est['direct_s']:.2g} s (separator {est['separator']:.0f}, "
                f"bandwidth {est['beta']}) > {ENVELOPE_SKIP_MARGIN:g} x {solves * _DIRECT_STEPS} GMRES steps "
                f"of {est['krylov_step_s']:.2g} s (envelope not computed)",
                "auto_estimates": est,
            }
    flops, mem = system.envelope()
    est = cost_estimates(system.model, system.sector, flops)
    t_dir, t_step = est["direct_s"], est["krylov_step_s"]
    steps = t_dir / (solves * t_step)
    if mem > 0.5 * available_memory():
        # no LU and no fallback to it: the matrix assembled for the estimate (620 MB at Ising 10) is
        # not kept through the solve (Krylov assembles its own only where assembles() says so)
        system._M = None
        krylov = Krylov(rtol=method.rtol, maxiter=method.krylov_maxiter)
        return krylov, {
            "auto": f"krylov: LU envelope estimate {mem / 2**20:.0f} MiB above half the available memory",
            "auto_estimates": est,
        }
    if isinstance(system.model, SuperoperatorModel):
        # a Liouvillian given as a matrix has no H_eff for the Sylvester preconditioner: Krylov would
        # run on an incomplete LU, whose set-up costs about an LU and which stalled on spin chains
        # (XXZ 7 as a QuTiP Liouvillian: no convergence in 2000 steps; a cavity with a qubit, 14,400
        # unknowns: 1.1 s against the LU's 0.45 s and QuTiP's 0.7 s; session-21 review)
        return Direct(), {
            "auto": f"direct: a Liouvillian given as a matrix (no H_eff for the Krylov preconditioner), "
            f"LU envelope {mem / 2**20:.0f} MiB fits"
        }
    figures = (
        f"estimated LU {t_dir:.2g} s (separator {est['separator']:.0f}, bandwidth {est['beta']}) "
        f"= {steps:.0f} GMRES steps of {t_step:.2g} s (x{solves}: uniqueness check)"
    )
    if steps <= _DIRECT_STEPS or est["separator"] ** 3 <= method.direct_flops:
        return Direct(), {"auto": f"direct: {figures}", "auto_estimates": est}
    budget = int(min(method.krylov_maxiter, max(steps, _DIRECT_STEPS)))
    return Krylov(rtol=method.rtol, maxiter=budget), {
        "auto": f"krylov: {figures}; budget {budget} steps, then Direct",
        "auto_estimates": est,
    }


# ------------------------------------------------------------------ methods
def _solve_dense(system: _System, method: Dense, x0):
    n = system.n
    if n > method.max_size:
        raise InsufficientMemoryError(
            f"Dense: the sector has {n} unknowns, above max_size={method.max_size}; use Direct or Krylov",
            required=16.0 * n * n,
            available=available_memory(),
        )
    A = system.replaced_matrix().toarray()
    bar = Progress(system.progress, "Dense", total=2, unit="stage")
    solve, solve_h = _dense_lu(A)
    bar.step(stage="factorised")
    try:
        uniq = lu_check(A, solve, solve_h, vector=True)
        b = system.rhs()
        x = solve(b)
        refined = 0
        floor = 8 * np.finfo(float).eps * float(np.abs(A).sum(axis=0).max())  # eps ||A||_1, as Direct
        for _ in range(DENSE_REFINE):  # (O(n^2) each: a near-singular A lost 10-20x without them)
            r = b - A @ x
            if np.linalg.norm(r, 1) <= floor * np.linalg.norm(x, 1):
                break
            x = x + solve(r)
            refined += 1
        bar.step(stage="solved")
    finally:
        bar.close()
    x = _lu_accuracy(A, b, x, uniq, solve, solve_h)
    return x, {"iterations": 1 + refined, "uniqueness": uniq}


#: Steps of iterative refinement after the dense LU solve (as ``Direct(refine=2)``)
DENSE_REFINE = 2
#: Steps of refinement with the residual in extended precision on an ill-conditioned LU route
#: (:func:`_lu_accuracy`)
EXTENDED_REFINE = 3
#: :class:`AccuracyWarning` when an LU route's state has an error estimate above this (as Krylov's
#: :data:`KRYLOV_ERROR_WARN`)
LU_ERROR_WARN = 1e-8


def _lu_accuracy(A, b, x, uniq: dict, solve, solve_h) -> np.ndarray:
    """The LU route's state after refinement where it is ill-conditioned; records ``error_estimate``
    in ``uniq`` and warns above :data:`LU_ERROR_WARN`.

    Where the uniqueness check's ``sigma`` makes the row-scaled system well conditioned
    (``eps ||D A||_1 / sigma <= 1e-10``) that ratio times ``max |x|`` is recorded and nothing more is
    done. Otherwise up to :data:`EXTENDED_REFINE` steps of refinement with the residual in extended
    precision (``numpy.clongdouble``; the correction solved with the same LU), whose last correction
    ``max |dx|`` is the error of the solve; and the state's sensitivity to the rounding of ``L``'s own
    entries, ``eps || w o (|D A|^2 |x|^2)^(1/2) || / sigma`` with ``w`` the left singular direction
    (one more solve with ``A^H``; entries perturbed independently at ``eps``): what no solver can
    remove. The estimate is the larger. A near-degenerate model (five driven qubits under collective
    decay with local decay 1e-11: sigma 1.3e-11) gave a Dense state 1.6e-4 off with ``verified`` True
    and no warning (session-21 review): now 2.5e-7 (the refinement), and the model's entries perturbed
    at ``eps`` move its state by 2e-6 to 8e-6 (estimate 3.6e-7, warned: a rough estimate, within
    about 10x); a stiff mode with ``(a^+)^8 a^8`` terms (sigma 8.8e-12 on rows of huge rates its
    state never reaches) moves by 2e-16 (estimate 1.9e-16, no warning): the bound from ``sigma``
    alone (2.5e-5) would have flagged both.
    """
    eps = np.finfo(float).eps
    u = uniq.pop("_right", None)
    sigma = float(uniq.get("sigma", np.inf))
    norm1 = float(uniq.get("threshold", 0.0)) / LU_SINGULAR_RTOL
    cond = eps * norm1 / sigma if sigma > 0 else np.inf
    top = float(np.max(np.abs(x), initial=0.0))
    if cond <= 1e-10:
        uniq["error_estimate"] = cond * top
        return x
    Al = A.astype(np.clongdouble)
    bl = np.asarray(b, dtype=np.clongdouble)
    est = np.inf
    for _ in range(EXTENDED_REFINE):
        r = np.asarray(bl - Al @ x.astype(np.clongdouble), dtype=np.complex128).ravel()
        dx = np.asarray(solve(r)).ravel()
        if not np.all(np.isfinite(dx)):
            break
        x = x + dx
        est = float(np.max(np.abs(dx), initial=0.0))
        if est <= 4 * eps * top:
            break
    sensitivity = np.inf
    if u is not None and solve_h is not None:
        D = row_scaling(A)
        z = np.asarray(solve_h(np.asarray(u, dtype=np.complex128))).ravel() / D  # (D A)^{-H} u
        nz = float(np.linalg.norm(z))
        if np.isfinite(nz) and nz > 0:
            w = np.abs(z) / nz
            DA = sp.diags_array(D) @ A if sp.issparse(A) else D[:, None] * A
            sq = abs(DA).power(2) @ (np.abs(x) ** 2) if sp.issparse(A) else np.abs(DA) ** 2 @ np.abs(x) ** 2
            sensitivity = eps * float(np.linalg.norm(w * np.sqrt(np.asarray(sq).ravel()))) / sigma
    est = max(est, sensitivity)
    uniq["error_estimate"] = est
    uniq["refined_extended"] = True
    if est > LU_ERROR_WARN:
        warnings.warn(
            f"the steady state is certified only to about {est:.1e} (the larger of the last correction "
            "of its refinement in extended precision and its sensitivity to the rounding of L's "
            f"entries; the smallest singular value of the row-scaled system is {sigma:.1e}: a "
            "relaxation too slow for double precision to pin the state down further); compare with "
            "qness.asymptotic_state, or express the model without its slowest rates",
            AccuracyWarning,
            stacklevel=4,
        )
    return x


def _have_umfpack() -> bool:
    try:
        from cvxopt import umfpack  # noqa: F401
    except ImportError:
        return False
    return True


def _umfpack_factor(A: sp.csr_array):
    """Factorise ``A`` once with UMFPACK (through cvxopt); return ``(b, trans="N") -> A^{-1} b``.

    ``trans="C"`` solves with ``A^H``.
    """
    from cvxopt import matrix, spmatrix, umfpack

    C = sp.coo_array(A)
    # cvxopt matrices from NumPy buffers (3x faster than through Python lists)
    M = spmatrix(
        matrix(C.data.astype(np.complex128)),
        matrix(C.row.astype(np.int64)),
        matrix(C.col.astype(np.int64)),
        C.shape,
        tc="z",
    )
    numeric = umfpack.numeric(M, umfpack.symbolic(M))

    def solve(b, trans="N"):
        B = matrix(np.asarray(b, dtype=np.complex128).reshape(-1, 1), tc="z")
        umfpack.solve(M, numeric, B, trans=trans)
        return np.array(B).ravel()

    return solve


_AUGMENTED = "the trace-augmented Liouvillian"

#: ``Auto`` takes ``Direct`` on sectors of at most this many unknowns without estimating the LU, where
#: the Liouvillian is sparse (:func:`_sparse_rows`): such an LU costs milliseconds, and the estimates
#: took 1-3 ms of the 7-12 ms solves of the small corpus sectors (``benchmarks/RESULTS.md``, session
#: 10). Where Auto's estimate chose Krylov on such a sector, the LU was faster or not much slower:
#: boundary-driven XXZ 6 (924 unknowns) 22 ms against 53 ms. ``Direct`` bounds its memory there by a
#: dense LU (no envelope), and its ``backend="auto"`` takes UMFPACK (as fast as SuperLU with MMD at
#: 238-900 unknowns; COLAMD 1.1-1.5x slower).
SMALL_LU = 1000


def _small_lu(n: int, fraction: float) -> bool:
    """Whether ``n <= SMALL_LU`` and a dense LU of ``n`` unknowns (``32 n^2`` bytes, which bounds
    any sparse one) fits in ``fraction`` of the available memory: no envelope estimate needed."""
    return n <= SMALL_LU and 32.0 * n**2 <= fraction * available_memory()


def _sparse_rows(model) -> bool:
    """Whether the Liouvillian has at most ``ASSEMBLED_ROW_MAX`` entries per row (estimated): the
    condition of the ``SMALL_LU`` shortcut. A dense random ``H`` of dimension 30 with a dense jump (900
    unknowns, 960 entries per row) took 0.6-0.9 s through UMFPACK, mostly converting its 8e5 entries to
    ``cvxopt``, against 25-80 ms by Krylov or Dense (session-10 review)."""
    return entries_per_row(model) <= ASSEMBLED_ROW_MAX


#: ``Direct(backend="auto")`` factorises with SuperLU/COLAMD instead of UMFPACK when the sector matrix
#: is nearly banded: mean envelope bandwidth in RCM order (``sqrt(flops / 8 n)`` from
#: :func:`envelope_estimate`) at most this. The LU is then cheaper than UMFPACK's analysis and the
#: conversion to ``cvxopt``. Measured (``benchmarks/RESULTS.md``): mean bandwidths 4-9 (one-atom laser,
#: Lambda and V atoms in a cavity) are 1.1-1.3x faster with SuperLU/COLAMD; from 37 up (Kerr, JC,
#: spin chains, thermal machine) UMFPACK is as fast or up to 2.8x faster.
BANDED_WIDTH = 16


def _direct_backend(system: _System, method: Direct) -> tuple[str, str]:
    """``(backend, SuperLU ordering)`` of ``method``, ``"auto"`` resolved (see :data:`BANDED_WIDTH`)."""
    if method.backend != "auto":
        return method.backend, method.ordering
    if method.ordering != "MMD_AT_PLUS_A" or not _have_umfpack():
        return "superlu", method.ordering  # a SuperLU ordering was chosen, or UMFPACK is missing
    if system.n <= SMALL_LU:
        return "umfpack", method.ordering  # as fast as SuperLU-MMD there, and no envelope to compute
    flops, _ = system.envelope()
    if flops <= 8.0 * BANDED_WIDTH**2 * system.n:
        return "superlu", "COLAMD"
    return "umfpack", method.ordering


def _sparse_factor(A: sp.csr_array, backend: str, ordering: str, what: str = _AUGMENTED):
    """Sparse LU of ``A``: ``(solve, solve_h, lu_nnz)`` (``A^{-1} b``, ``A^{-H} b``; ``lu_nnz`` None
    for UMFPACK). Raises ``InsufficientMemoryError`` when it runs out of memory and
    ``NonUniqueSteadyStateError`` when ``A`` (``what``) is exactly singular."""
    try:
        if backend == "umfpack":
            if not _have_umfpack():
                raise ValueError("backend='umfpack' needs cvxopt: pip install 'qness[fast]'")
            solve = _umfpack_factor(A)
            return solve, (lambda v: solve(v, "C")), None
        lu = spla.splu(
            sp.csc_matrix(A),
            permc_spec=ordering,
            diag_pivot_thresh=0.1 if ordering == "MMD_AT_PLUS_A" else 1.0,
            options={"SymmetricMode": ordering == "MMD_AT_PLUS_A"},
        )
        return lu.solve, (lambda v: lu.solve(v, trans="H")), int(lu.L.nnz + lu.U.nnz)
    except MemoryError as exc:
        raise InsufficientMemoryError(
            f"Direct: the sparse LU of a {A.shape[0]}-unknown sector ran out of memory; use method='krylov'",
            available=available_memory(),
        ) from exc
    except (RuntimeError, ArithmeticError) as exc:
        if "singular" in str(exc).lower():
            raise NonUniqueSteadyStateError(f"{what} is exactly singular: " + NON_UNIQUE_HINT) from exc
        raise


def _solve_direct(system: _System, method: Direct, x0):
    A = system.replaced_matrix()
    b = system.rhs()
    if method.check_memory and not _small_lu(system.n, 1.0):
        _, mem = system.envelope()  # of the sector matrix: A differs from it in one row
        avail = available_memory()
        if mem > avail:
            raise InsufficientMemoryError(
                f"Direct: the LU of this {A.shape[0]}-unknown sector is estimated at up to "
                f"{mem / 2**30:.3g} GiB (envelope in RCM order) with {avail / 2**30:.3g} GiB available; "
                "use method='krylov' (matrix-free), or Direct(check_memory=False) to try anyway",
                required=mem,
                available=avail,
            )
    backend, ordering = _direct_backend(system, method)
    info = {"backend": backend, "nnz": int(A.nnz)}
    if backend == "superlu":
        info["ordering"] = ordering
    bar = Progress(system.progress, f"Direct ({backend})", total=2, unit="stage")
    try:
        solve, solve_h, lu_nnz = _sparse_factor(A, backend, ordering)
    finally:
        bar.step(stage="factorised")
    if lu_nnz is not None:
        info["lu_nnz"] = lu_nnz
    try:
        norm1 = float(spla.norm(A, 1))
        info["uniqueness"] = lu_check(A, solve, solve_h, vector=True)
        x = solve(b)
        refined = 0
        for _ in range(method.refine):
            r = b - A @ x
            # at the level of the LU's backward error a refinement step cannot improve x: skip it
            # (a solve costs as much as 10-20% of the factorisation on cavity models)
            if np.linalg.norm(r, 1) <= 8 * np.finfo(float).eps * norm1 * np.linalg.norm(x, 1):
                break
            x = x + solve(r)
            refined += 1
        bar.step(stage="solved")
    finally:
        bar.close()
    if not np.all(np.isfinite(x)):
        raise NonUniqueSteadyStateError(
            "the sparse LU produced non-finite values: the trace-augmented Liouvillian is singular; "
            + NON_UNIQUE_HINT
        )
    x = _lu_accuracy(A, b, x, info["uniqueness"], solve, solve_h)
    info["iterations"] = 1 + refined
    return x, info


def _solve_krylov(system: _System, method: Krylov, x0):
    use_matrix = assembles(method, system.model, system.sector)
    # Trace row of the weight c of L's rows (as the LU routes) and b = c e_r: ||b - A x|| <= rtol
    # still bounds ||L x|| directly (the test is absolute), and the trace row is in the units of L
    # (with weight 1, a model written in units where the rates are 1e-9 made the two-level
    # preconditioner's coarse matrix mix 1 with 1e-9, and GMRES diverged to a residual of 1e19).
    c = system.c
    A = system.replaced_operator(use_matrix, c=c)
    b = system.rhs(c=c)
    M = None
    restart = method.restart
    if restart is None:
        restart = fitted_restart(system.model, system.sector, method)
    method = dataclasses.replace(method, restart=restart)
    precision = _precision(system, method)
    if method.preconditioner == "sylvester":
        # the variant measured to pay for this sector and precision (qness.symmetry._preconditioner_rule)
        M = system.sector.sylvester_preconditioner(
            system.model,
            variant="auto",
            trace_row=(system.r, c),
            precision=precision,
            matrix=system.matrix() if use_matrix else None,
        )
    elif method.preconditioner == "ilu":
        try:
            ilu = spla.spilu(
                sp.csc_matrix(system.replaced_matrix(c=c)),
                fill_factor=method.ilu_fill,
                drop_tol=method.ilu_drop,
            )
        except RuntimeError as exc:  # a zero pivot: the incomplete LU dropped what the pivot needed
            raise ConvergenceError(
                f"Krylov (preconditioner='ilu'): the incomplete LU broke down ({exc}); a smaller "
                f"ilu_drop (now {method.ilu_drop:g}) or a larger ilu_fill (now {method.ilu_fill:g}) may "
                "get past it, or method='direct' (which also tells a steady state that is not unique)"
            ) from exc
        M = spla.LinearOperator(A.shape, matvec=ilu.solve, dtype=np.complex128)
    if x0 is not None:
        tr = system.t @ x0
        x0 = x0 / tr if abs(tr) > 1e-14 else None
    precision, flexible = _settle_precision(system, method, M, precision)
    Mrun = M.single() if precision == "single" else M
    # (the odd states' check takes the precision recorded in info, double unless GMRES + Sylvester)
    sylvester_gmres = method.solver == "gmres" and method.preconditioner == "sylvester"
    checks = _checks_alongside(system, method, A, Mrun, flexible, precision if sylvester_gmres else "double")
    bar = Progress(system.progress, f"Krylov ({method.solver})", total=method.maxiter)
    callback = bar
    if method.solver == "gmres" and system.lu_fallback and not system.lu_fallback_impossible():
        callback = _StallProjection(bar, method.rtol, method.maxiter)  # Auto's budget, then the LU
    try:
        # rtol is absolute (||b - A x|| <= rtol) and the solvers' is relative to ||b|| = c
        relative = dataclasses.replace(method, rtol=method.rtol / c)
        notes = {}
        # (a stream beside the checks' thread: one thread each while both run)
        with _stream() if checks is not None else contextlib.nullcontext():
            x, _flag, iterations = _krylov_run(
                relative, A, b, x0, Mrun, callback=callback, flexible=flexible, notes=notes
            )
    except BaseException:
        _close_checks(system)
        raise
    finally:
        bar.close()
    if "switched" in notes:
        # restarts stagnated and the solve went on with the no-jump inverse alone: the checks' GMRES
        # would stagnate with the first preconditioner too, so they run after the solve, with it
        Mrun = notes["M"]
        _close_checks(system)
        checks = None
    if checks is not None:
        checks.solved(iterations)
    info = {"iterations": iterations, "solver": method.solver, "preconditioner": method.preconditioner}
    if "switched" in notes:
        info["preconditioner_fallback"] = {"step": notes["switched"], "variant": "jacobi"}
    info["operator"] = "assembled" if use_matrix else "matrix-free"
    if sylvester_gmres:
        info["precision"] = precision
        info["flexible"] = np.dtype(flexible).name if flexible is not False else False
    if method.solver == "gmres":
        info["restart"] = method.restart
    elif method.solver == "idrs":
        info["s"] = method.s
    if M is not None and hasattr(M, "variant"):
        info["preconditioner_variant"] = M.variant
    lin_res = float(np.linalg.norm(b - A @ x))
    info["linear_residual"] = lin_res
    # judged by the tolerance asked for, whatever the solver's own flag says
    if not np.all(np.isfinite(x)) or not lin_res <= method.rtol:
        _close_checks(system)  # a stall's own check follows, with its own budget
        stalled = iterations >= method.restart  # at least one full cycle (not a maxiter of 3)
        check = stalled and method.verify_unique is not False and np.all(np.isfinite(x))
        inconclusive = ""
        if check and system.stall_check_runs():
            # a solve that stalls on a singular system (several steady states) says so: before the
            # convergence error, the uniqueness check (two restarts of its own basis at most) looks
            # for the null direction (a dark state left GMRES at a linear residual of 7e-12 against
            # rtol = 1e-12 with the assembled matrix: a ConvergenceError hid the real answer)
            try:
                # each of the check's two solves (random right-hand side, certificate) gets half of
                # maxiter at most: the check adds at most maxiter steps
                budget = min(2 * max(method.restart, CHECK_RESTART), max(method.maxiter // 2, 1))
                uniq = _krylov_uniqueness(system, method, A, Mrun, flexible, x, iterations, budget=budget)
                if not uniq["verified"]:
                    inconclusive = (
                        "; the uniqueness check on the stalled solve was inconclusive (its random "
                        f"right-hand side stalled at {uniq['check_residual']:.1e}): a steady state that is "
                        "not unique can make a Krylov solve stall"
                    )
            except NonUniqueSteadyStateError as exc:
                exc.args = (
                    f"{exc.args[0]} (the Krylov solve itself stalled at linear residual {lin_res:.2e} "
                    f"> rtol={method.rtol:g} after {iterations} iterations)",
                )
                raise
        tr = system.t @ x
        xx = x / tr if np.isfinite(tr) and abs(tr) > 1e-300 else x
        hint = ""
        scale = _liouvillian_scale(system.model)
        if method.rtol < 1e-15 * scale:
            hint = (
                f"; rtol is absolute (a bound on ||L rho||) and this Liouvillian's scale is {scale:.2g}, "
                f"so rtol is below the rounding floor: pass rtol={1e-12 * scale:.1g} (1e-12 x scale) or "
                "express H and the rates in smaller units"
            )
        raise ConvergenceError(
            f"Krylov ({method.solver}, preconditioner={method.preconditioner}) did not reach "
            f"rtol={method.rtol:g} in {iterations} iterations (linear residual {lin_res:.2e} > rtol){hint}"
            f"{inconclusive}; a longer restart, method='direct' (which also tells a steady state that is "
            "not unique, where short restarts can stall) or method='auto' may get there",
            rho=system.sector.to_full(xx),
            residual=system.residual(xx) if np.all(np.isfinite(xx)) else np.inf,
            iterations=iterations,
        )
    logger.info("Krylov: converged in %d iterations, linear residual %.2e", iterations, lin_res)
    warned = _warn_loose_rtol(system, method)
    if method.verify_unique is not False:
        if checks is not None:
            checks.help()  # this thread takes the checks the worker has not started
        start = checks.take("main") if checks is not None else None
        uniq = _krylov_uniqueness(system, method, A, Mrun, flexible, x, iterations, start=start)
        uniq["alongside"] = start is not None
        info["uniqueness"] = uniq
        logger.info(
            "Krylov: uniqueness check sigma <= %.2e vs threshold %.2e (%s)",
            uniq["sigma"],
            uniq["threshold"],
            "verified" if uniq["verified"] else "not verified",
        )
        if not uniq["verified"]:
            warnings.warn(
                f"Krylov: uniqueness of the steady state not verified ({method.solver.upper()} on a "
                "random right-hand "
                f"side stalled at residual {uniq['check_residual']:.1e} > {uniq['delta']:.1e} within "
                f"{uniq['check_iterations']} iterations, yet no direction below rtol/||x|| was found); "
                "check with Direct or asymptotic_state",
                UniquenessWarning,
                stacklevel=3,
            )
        _warn_inaccurate(method, uniq, lin_res, warned=warned)
    info["uniqueness_checked"] = method.verify_unique is not False
    return x, info


#: Auto's budgeted GMRES (:class:`_StallProjection`) gives up for its fallback LU once the steps
#: projected from its convergence rate exceed this many times the budget, judged from step
#: ``PROJECTION_START`` on, every ``PROJECTION_EVERY`` steps. GMRES accelerates, so an early
#: projection tends to overestimate: at step 40, 0.8-3.3x on the models measured (session 21: XXZ 7
#: with dephasing 1, 3, 10 needs 159, 620, 854 steps, projected 263, 912, 2855; XXZ 8 with dephasing 1
#: 197 / 524; a Bose-Hubbard trimer and Tavis-Cummings with dephasing 10, 215 / 165 and 132 / 165).
#: With the factor 2, XXZ 7 at dephasing 3 and 10 (budget 356 steps against an LU of 0.5 s) go to
#: the LU after 40 steps instead of 356; a run left early would have needed at least 0.6 of its
#: budget, which was sized to cost about the LU.
PROJECTION_FACTOR = 2.0
PROJECTION_START = 40
PROJECTION_EVERY = 20


class _StallProjection:
    """Progress callback of Auto's budgeted GMRES: raises :class:`ConvergenceError` when the
    residual's rate since step 10 projects more than :data:`PROJECTION_FACTOR` times the budget of
    steps to reach ``tol`` (Auto then takes the LU it budgeted against, without spending the
    budget first)."""

    def __init__(self, bar, tol: float, budget: int):
        self.bar, self.tol, self.budget = bar, tol, budget
        self.history = []

    def __call__(self, residual) -> None:
        self.bar(residual)
        if not isinstance(residual, float):
            return
        self.history.append(residual)
        k = len(self.history)
        if k < PROJECTION_START or (k - PROJECTION_START) % PROJECTION_EVERY:
            return
        first, now = self.history[9], self.history[-1]
        if not (now > self.tol and first > 0 and 0 < now < first):
            return
        rate = np.log(now / first) / (k - 10)
        projected = k + np.log(self.tol / now) / rate
        if projected > PROJECTION_FACTOR * self.budget:
            raise ConvergenceError(
                f"GMRES at residual {now:.1e} after {k} steps projects about {projected:.0f} steps to "
                f"rtol={self.tol:g}, more than {PROJECTION_FACTOR:g} x the budget of {self.budget} worth "
                "the LU",
                iterations=k,
            )


#: :class:`AccuracyWarning` when a Krylov state's error estimate (linear residual over the check's
#: ``sigma``) exceeds this (the state has trace 1). Measured (session 16): 8e-17 to 4e-11 on the
#: corpus and the named chains, where the error from Direct was 4e-17 to 4e-11 (within 3x of the
#: estimate); 3e-4 on a chain driven at 1e-9 of its hopping (error 1.6e-4), and a qubit with
#: strong dephasing and weak coupling (gap 8e-11) had an error of 1.8e-3 with no warning.
KRYLOV_ERROR_WARN = 1e-8


def _warn_inaccurate(method: Krylov, uniq: dict, lin_res: float, *, warned: bool = False) -> None:
    """Record ``error_estimate`` = ``lin_res / sigma`` in ``uniq`` and warn if it exceeds
    :data:`KRYLOV_ERROR_WARN` under a tolerance meant as tight (``rtol <= 1e-10``).

    ``||x - x_exact|| <= lin_res / sigma_min(A)``, and the check's ``sigma`` is an upper bound on
    ``sigma_min(A)``: the estimate is a lower bound on that bound, and follows the error of states
    of slow relaxation, which an absolute ``rtol`` does not fix (``rtol / gap``). ``warned``: the
    loose-units warning (:func:`_warn_loose_rtol`, the same cause) was given already."""
    sigma = float(uniq.get("sigma", np.inf))
    est = lin_res / sigma if sigma > 0 else np.inf
    uniq["error_estimate"] = est
    if method.rtol <= 1e-10 and est > KRYLOV_ERROR_WARN and not warned:
        warnings.warn(
            f"Krylov: the state is certified only to about {est:.1e} at best (linear residual "
            f"{lin_res:.1e} over the smallest singular value found, {sigma:.1e}, an upper bound on the "
            "true one: the error can be several times this estimate); a relaxation this slow is not "
            f"resolved by an absolute rtol={method.rtol:g}; pass a smaller rtol (down to about 1e-15 x "
            "the scale of L) or use method='direct'",
            AccuracyWarning,
            stacklevel=4,
        )


#: ``steady_state(symmetry="auto")`` solves the ``q = 0`` sector of a U(1) model by Krylov in its
#: folded form (:func:`qness.symmetry.detect_fold`: a reflection or level flip that reverses the
#: charge, as in a boundary-driven chain) from this Hilbert-space dimension on; see
#: :func:`_solve_folded`. Measured against the unfolded sector (session 12, best of 3, one BLAS
#: thread, boundary-driven XXZ with delta = 0.5): d = 128 1.2x slower, 256 0.59x, 512 0.60x, 1024
#: 0.46x; with dephasing 0.1 on every site (a jump per site, split by block) d = 128 1.7x slower,
#: 256 1.25x, 512 0.68x, 1024 0.67x: below, the folded model's set-up and the odd states' check
#: cost more than the smaller blocks save.
FOLD_MIN_DIM = 256


def _fold_of(system: _System, method: Krylov):
    """The :class:`qness.symmetry.Fold` of ``system``'s ``q = 0`` sector, or ``None`` (not a U(1)
    sector chosen by ``symmetry="auto"``, too small, an incomplete-LU preconditioner (not measured
    on folded sectors), or no charge-reversing symmetry)."""
    sector = system.sector
    if not getattr(system, "fold_allowed", False) or sector.kind != "u1" or sector.label != 0:
        return None
    if method.preconditioner == "ilu":
        return None
    if system.model.dim < FOLD_MIN_DIM or not isinstance(system.model, LindbladModel):
        return None
    charges = np.empty(sector.d, dtype=np.int64)
    for v, idx in zip(sector.block_labels, sector.blocks):
        charges[idx] = v
    return detect_fold(system.model, charges)


def _krylov_route(system: _System, method: Krylov, x0):
    """Krylov on ``system``, or on its folded form where :func:`_fold_of` finds one."""
    fold = _fold_of(system, method)
    if fold is None:
        return _solve_krylov(system, method, x0)
    return _solve_folded(system, fold, method, x0)


def _solve_folded(system: _System, fold, method: Krylov, x0):
    """Krylov on the folded ``q = 0`` sector (:class:`qness.symmetry.Fold`), with the uniqueness
    checked on its even states (the solve's own check) and on its odd ones.

    The folded problem holds only the states the symmetry leaves even: half the unknowns, and its
    middle block split in two, so a GMRES step costs about 2.5x less on a boundary-driven XXZ chain
    (see :data:`FOLD_MIN_DIM`). A zero mode of the odd states (two steady states that the
    symmetry exchanges) is invisible to it: the odd states are checked as a parity's ``-1``
    sector is (:func:`_odd_sector_check`), with their own operator
    (:meth:`qness.symmetry.Fold.odd_matrix`, also half the size); a zero mode there raises
    ``NonUniqueSteadyStateError``, as the whole sector's check and the LU routes do.
    """
    t0 = time.perf_counter()
    fsys = _System(fold.model, fold.sector)
    fsys.progress = system.progress
    fsys.lu_fallback = system.lu_fallback
    fsys.stall_check_runs = system.stall_check_runs  # Auto's fallback LU is the whole sector's
    xf0 = None if x0 is None else fold.fold(x0, system.sector)
    odd = fold.odd_sector()
    what = f"the Liouvillian on the states odd under the {fold.name} (which reverses the charge)"
    # (the operator is built where the check runs: alongside the solve when it can)
    fsys.odd_spec = None if odd is None else (odd, what, "odd", lambda: fold.odd_matrix(odd))
    with shared_block_eig(fold.model), contextlib.ExitStack() as stack:
        stack.callback(_close_checks, fsys)
        try:
            xf, info = _solve_krylov(fsys, method, xf0)
        except ConvergenceError as exc:
            # (its stall check looked for even null directions; odd ones do not stall it) the
            # last iterate in the original basis, for the caller or Auto's fallback to the LU
            rho = exc.rho
            if rho is not None:
                x = fold.unfold(fold.sector.from_full(rho), system.sector)
                rho = system.sector.to_full(x)
                exc.residual = system.residual(x) if np.all(np.isfinite(x)) else np.inf
            exc.rho = rho
            raise
        if odd is not None and method.verify_unique is not False:
            # strict: a zero mode raises, as the whole sector's check (and Auto's LU) would
            _odd_sector_run(fsys, method, xf, info, odd, what, "odd", operator=fsys.odd_spec[3], strict=True)
    x = fold.unfold(xf, system.sector)
    info["fold"] = {"symmetry": fold.name, "size": fold.sector.size, "time": time.perf_counter() - t0}
    return x, info


def _krylov_uniqueness(
    system: _System,
    method: Krylov,
    A,
    Mrun,
    flexible,
    x,
    iterations: int,
    budget: int | None = None,
    *,
    sector: Sector | None = None,
    floor: float | None = None,
    what: str = "the trace-augmented Liouvillian",
    start: dict | None = None,
) -> dict:
    """The uniqueness check of a Krylov solve (:func:`qness.solvers.uniqueness.krylov_check`) with
    the solve's operator and preconditioner; raises ``NonUniqueSteadyStateError``. ``budget``:
    GMRES steps (default twice the solve's, at least two restarts). ``sector``, ``floor``, ``what``:
    another sector's operator ``A`` (the parity -1 sector, :func:`_odd_sector_check`), the rounding
    level of ``||A u||`` there, and its name (default: the solve's own system). ``start``: its
    random-right-hand-side part when that ran already (alongside the solve, :class:`_ChecksAlongside`)."""
    c = system.c
    sector = system.sector if sector is None else sector
    n = sector.size
    refine = None
    if floor is None:
        floor = LU_ROUNDING_RTOL * max(c, system.scale) * float(np.linalg.norm(system.t))
        refine = system.rounding_level
    restart, check_gmres = _check_config(system, method, sector, flexible)
    # not capped by maxiter: Auto caps the solve itself at a few steps before falling back
    if budget is None:
        budget = _check_budget(iterations, restart)
    # (a part that ran alongside the solve had its own bar and log; the judgement adds neither)
    bar = Progress(system.progress, "uniqueness check", total=budget) if start is None else None
    xn = float(np.linalg.norm(x))
    try:
        uniq = krylov_check(
            A,
            Mrun,
            n,
            rtol=method.rtol,
            x_norm=xn,
            restart=restart,
            chunk=restart,
            budget=budget,
            gmres=check_gmres,
            callback=bar,
            floor=floor,
            refine_floor=refine,
            what=what,
            start=start,
        )
    except NonUniqueSteadyStateError as exc:
        scale = _liouvillian_scale(system.model)
        loose = scale > 0 and method.rtol > LOOSE_RTOL * scale
        # a direction found far below what rtol = 1e-12 x scale resolves is a degeneracy at any
        # tolerance (a dark state), not one the loose tolerance makes up (x = 0: nothing resolved)
        dark = xn > 0 and getattr(exc, "sigma", 0.0) <= 1e-12 * scale / xn
        if not loose or dark:
            raise
        # the check's certificate ran to the loose rtol too: run it again at 1e-12 x scale, which a
        # dark state passes below (then the error is the non-uniqueness) and a slow mode does not
        tight = 1e-12 * scale
        try:
            krylov_check(
                A, Mrun, n, rtol=tight, x_norm=max(xn, 1e-300), restart=restart, chunk=restart,
                budget=budget, gmres=check_gmres, floor=floor, refine_floor=refine, what=what,
            )  # fmt: skip
        except NonUniqueSteadyStateError as again:
            if xn > 0 and getattr(again, "sigma", np.inf) <= tight / xn:
                raise again from None
        # a loose absolute rtol (or units where L is tiny) leaves a slow but unique relaxation
        # undetermined: that is a tolerance missed, not a second steady state (a unique model with a
        # mode at 1e-6 was called non-unique under rtol = 1e-4, session-21 review)
        raise ConvergenceError(
            f"Krylov: rtol={method.rtol:g} bounds ||L rho|| absolutely and is loose for this "
            f"Liouvillian (scale {scale:.2g}): the uniqueness check found a direction u with ||A u|| <= "
            f"{getattr(exc, 'sigma', np.nan):.1e} ||u||, below rtol / ||x|| = "
            f"{method.rtol / max(xn, 1e-300):.1e}, "
            "so the steady state did not converge to a determined state at this tolerance (a slow "
            f"relaxation, or a second steady state); pass rtol={1e-12 * scale:.1g} (1e-12 x scale), "
            "express H and the rates in larger units, or use method='direct', which also tells whether "
            "the steady state is unique",
            rho=_state_or_none(system, x),
            iterations=iterations,
        ) from None
    finally:
        if bar is not None:
            bar.close()
    return uniq


def _state_or_none(system: _System, x: np.ndarray):
    """``x`` as a trace-one ``d x d`` state of ``system``'s sector, or ``None`` (another sector's
    vector, or no trace)."""
    if x.size != system.sector.size:
        return None
    tr = system.t @ x
    return system.sector.to_full(x / tr) if np.isfinite(tr) and abs(tr) > 1e-300 else None


def _check_budget(iterations: int, restart: int) -> int:
    """GMRES steps of each part of a Krylov uniqueness check: twice the solve's, at least two
    restarts of the check's basis."""
    return max(2 * iterations, 2 * restart)


def _check_config(system: _System, method: Krylov, sector: Sector, flexible):
    """``(restart, gmres)`` of the Krylov uniqueness check on ``sector``: its basis and solver."""
    n = sector.size
    # GMRES restarts of 3-20 stagnate on the check's random right-hand side and on the
    # certificate solve (dark states then gave a UniquenessWarning instead of the error): the
    # check takes a basis of CHECK_RESTART vectors where it fits in memory
    restart = method.restart
    if restart is None:  # Krylov(restart=None): fitted to the memory, as the solve's was
        restart = fitted_restart(system.model, sector, method)
    if isinstance(system.model, LindbladModel) and restart < CHECK_RESTART:
        restart = max(
            restart,
            fitted_restart(system.model, sector, dataclasses.replace(method, restart=CHECK_RESTART)),
        )
    check_gmres = functools.partial(gmres, flexible=flexible)
    if method.solver == "idrs":
        # IDR(s) on the random right-hand side can diverge on a singular system (to a residual of
        # 1e10 with a dark state: a certificate too weak, a UniquenessWarning instead of the error;
        # new-user review, session 9): GMRES wherever its basis of CHECK_RESTART vectors fits
        # flexible, with complex128 vectors: IDR's route runs no precision rule, and plain GMRES
        # derailed (residual 1e24) on a weakly damped oscillator (gap 1e-9; second review)
        basis = (2 * CHECK_RESTART + 9) * 16.0 * n
        if basis <= MEMORY_FRACTION * available_memory():
            restart = CHECK_RESTART  # the basis the memory test counted, whatever the user's restart
            check_gmres = functools.partial(gmres, flexible=np.complex128)
        else:
            check_gmres = _idrs_as_gmres(method.s)
    return restart, check_gmres


#: A Krylov solve of at least this many unknowns runs its uniqueness checks' random-right-hand-side
#: solves (:func:`qness.solvers.uniqueness.random_rhs_solve`) on a second thread, alongside the
#: steady-state solve (:class:`_ChecksAlongside`), where two CPUs are available (and neither
#: ``QNESS_BLOCK_THREADS`` nor ``OMP_NUM_THREADS`` is 1) and the checks' GMRES bases fit in memory
#: next to the solve's.
CHECKS_ALONGSIDE_MIN = 20_000


#: While checks run alongside the solve, each of the two threads runs its kernels and block loops
#: on one thread (:func:`qness.liouvillian.work_stream`); a thread left alone (the solve ended
#: and waits for a check, or the checks ended) takes both cores again. Measured (XXZ 10, folded,
#: best of 3 in one hour): 1.88 s against 2.32 s with each thread's OpenMP teams and split products
#: on two threads (their threads waited for each other on the oversubscribed cores), 2.74 s with
#: the checks after the solve (before session 13).
ALONGSIDE_ONE_THREAD = True


class _CheckCancelled(Exception):
    """Stops a check running alongside a solve that failed or ended without it."""


class _ChecksAlongside:
    """Uniqueness checks run on a second thread while the Krylov solve runs.

    The random-right-hand-side part of a check (most of its cost: 18-48 % of a solve's steps on
    the corpus, more than the solve itself with a fold's two checks) needs nothing from the solve
    but its operator and preconditioner, so it need not wait for it: the tasks (``"main"``, the
    solved sector's check, and ``"odd"``, the states beyond it, :func:`_odd_spec`) run one after
    the other on a worker thread from the start of the solve, and the thread that asks for a
    result (:meth:`take`) runs a task itself if the worker has not started it. Their budgets are
    fixed by the solve's iterations when it ends (:meth:`solved`); a solve that fails cancels them
    (:meth:`close`). The judgement of each check (its threshold, which needs the solution's norm,
    and the certificate solve of a stalled run) runs afterwards, as before. Both threads spend
    their time in BLAS products and compiled kernels, which release the GIL.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tasks = {}
        self._cancel = threading.Event()
        # the main check stalled (a zero mode, most likely): its judgement will probably raise, as
        # checks after the solve do before they reach the odd states, so an odd check under way
        # stops (a dark state's model took 45 % longer than before; session-13 review) and runs
        # again from the start if the judgement does not raise
        self._main_stalled = threading.Event()
        self._iterations = None
        self._thread = None

    def add(self, key: str, fn) -> None:
        """Queue ``fn(self)`` under ``key`` (call before :meth:`start`)."""
        self._tasks[key] = {"fn": fn, "state": "pending", "done": threading.Event()}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="qness-uniqueness-check", daemon=True)
        self._thread.start()

    def _claim(self, key=None):
        with self._lock:
            for k, task in self._tasks.items():
                if key is None and k != "main" and self._main_stalled.is_set():
                    continue  # (left for take(), after the main check's judgement)
                if (key is None or k == key) and task["state"] == "pending":
                    task["state"] = "running"
                    return task
        return None

    def _run(self, task) -> None:
        try:
            with _stream():
                task["result"] = task["fn"](self)
        except BaseException as exc:  # noqa: BLE001 - re-raised by take() in the caller's thread
            task["error"] = exc
        finally:
            if task is self._tasks.get("main") and ("error" in task or not task["result"]["converged"]):
                self._main_stalled.set()
            task["done"].set()

    def _work(self) -> None:
        self.help()

    def help(self) -> None:
        """Run, in the calling thread, the tasks no thread has started (the worker's loop too)."""
        while not self._cancel.is_set():
            task = self._claim()
            if task is None:
                return
            self._run(task)

    def solved(self, iterations: int) -> None:
        """The solve ended after ``iterations`` steps: the checks' budgets follow."""
        self._iterations = int(iterations)

    def budget(self, restart: int):
        """The budget of a check with GMRES restart ``restart`` (:func:`_check_budget`), as a
        function read between its chunks: unbounded while the solve runs."""
        return lambda: 2**62 if self._iterations is None else _check_budget(self._iterations, restart)

    def callback(self, bar: Progress, key: str):
        """A GMRES callback for task ``key`` that records progress on ``bar`` and stops a cancelled
        check (and an odd check once the main one stalled, unless it runs again)."""

        def cb(res):
            task = self._tasks[key]
            if self._cancel.is_set() or (
                key != "main" and self._main_stalled.is_set() and not task.get("again")
            ):
                raise _CheckCancelled
            bar(res)

        return cb

    def take(self, key: str):
        """The result of task ``key`` (``None`` if there is none), run here if not yet started;
        re-raises its error."""
        task = self._tasks.get(key)
        if task is None:
            return None
        mine = self._claim(key)
        if mine is not None:
            mine["again"] = True  # run for its result: the main check's stall no longer stops it
            self._run(mine)
        else:
            task["done"].wait()
        if isinstance(task.get("error"), _CheckCancelled) and not self._cancel.is_set():
            # stopped when the main check stalled, whose judgement did not raise: from the start
            del task["error"]
            task["again"] = True
            self._run(task)
        if "error" in task:
            raise task["error"]
        return task["result"]

    def close(self) -> None:
        """Cancel what still runs and wait for the worker."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()


def _stream():
    """:func:`qness.liouvillian.work_stream` (where :data:`ALONGSIDE_ONE_THREAD`)."""
    return work_stream() if ALONGSIDE_ONE_THREAD else contextlib.nullcontext()


def _close_checks(system: _System) -> None:
    if system.checks is not None:
        system.checks.close()
        system.checks = None


def _two_threads() -> bool:
    """Whether a second thread may run: two CPUs for this process, and the block loops' thread
    setting (``QNESS_BLOCK_THREADS``, else ``OMP_NUM_THREADS``: :func:`qness.symmetry.block_threads`)
    not one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2 and block_threads(np.inf) >= 2


def _checks_alongside(system: _System, method: Krylov, A, M, flexible, precision: str):
    """Start the uniqueness checks of a Krylov solve on a second thread (:class:`_ChecksAlongside`),
    or return ``None``: checks skipped, a sector below :data:`CHECKS_ALONGSIDE_MIN`, one CPU, or not
    enough memory for their bases next to the solve's (they then run after it)."""
    if method.verify_unique is False or system.n < CHECKS_ALONGSIDE_MIN or not _two_threads():
        return None
    spec = _odd_spec(system)
    if spec is not None and method.preconditioner not in ("sylvester", None):
        spec = None  # (an incomplete LU that breaks down falls back to the exact one: after the solve)
    sectors = [system.sector] + ([spec[0]] if spec is not None else [])
    need, _ = memory_estimate(system.model, system.sector, method)
    for sec in sectors:
        restart, _ = _check_config(system, method, sec, flexible)
        need += (restart + 9 + (restart / 2 if flexible is not False else 0)) * 16.0 * sec.size
        # a preconditioner's blocks per sector (the odd sector builds its own; the main one's is
        # already in the solve's estimate, counted twice to err on the side of memory)
        need += 6 * 16.0 * sec.size
    if need > MEMORY_FRACTION * available_memory():
        return None
    checks = _ChecksAlongside()

    def random_rhs(A, M, flexible, sec, what, label, key):
        restart, check_gmres = _check_config(system, method, sec, flexible)
        bar = Progress(system.progress, label, total=None)
        try:
            return random_rhs_solve(
                A,
                M,
                sec.size,
                chunk=restart,
                budget=checks.budget(restart),
                gmres=check_gmres,
                callback=checks.callback(bar, key),
                what=what,
            )
        finally:
            bar.close()

    checks.add(
        "main", lambda _: random_rhs(A, M, flexible, system.sector, _AUGMENTED, "uniqueness check", "main")
    )
    if spec is not None:
        sec, what, kind, operator = spec

        def odd(_):
            t0 = time.perf_counter()
            parts = _odd_krylov_parts(system, method, sec, operator, precision)
            setup = time.perf_counter() - t0
            start = random_rhs(*parts, sec, what, f"uniqueness check ({kind} states)", "odd")
            start["time"] += setup
            return parts + (start,)

        checks.add("odd", odd)
    system.checks = checks
    checks.start()
    return checks


def _odd_sector_check(system: _System, method, x: np.ndarray, info: dict) -> None:
    """Uniqueness beyond the solved sector: the parity ``-1`` sector of a Z2 symmetry has no zero mode.

    A conserved quantity odd under the parity leaves the ``+1`` sector one steady state, the
    symmetric mixture of two, while the Liouvillian has both (see
    :func:`qness.symmetry.odd_sector`; a weak U(1) needs no such check). The ``-1`` sector holds no
    diagonal element, so its block ``L_-`` of the Liouvillian must be non-singular. Checked by the
    route the solve took: an LU of ``L_-`` with a step of inverse iteration (Dense, Direct, as
    :func:`qness.solvers.uniqueness.lu_check`), or GMRES on a random right-hand side with ``L_-``'s
    no-jump preconditioner (Krylov, as :func:`qness.solvers.uniqueness.krylov_check`; skipped with
    ``verify_unique=False``). The record goes to ``info["uniqueness"]["odd_sector"]``.

    A mode at zero there (by the thresholds of the whole space's check: ``sigma <= 1e-14`` of the
    row-scaled norm on the LU routes) raises :class:`~qness.solvers.errors.NonUniqueSteadyStateError`,
    as the full-space solve would: a second steady state that the parity maps onto the solved one
    (two exchanged copies; a strong symmetry odd under the parity, such as ``prod_k X_k`` with
    ``sigma_x`` dephasing). Until session 21 this was a warning and the symmetric mixture. A slow
    parity-odd mode between the thresholds (a Kerr cat's bit flip, rate 6e-13 at ``|alpha|^2 = 6``,
    4.7e-14 of the row-scaled norm) keeps the :class:`~qness.solvers.errors.UniquenessWarning` of an
    uncertified check (``verified`` False) and the state.
    """
    spec = _odd_spec(system)
    if spec is None or (isinstance(method, Krylov) and method.verify_unique is False):
        return
    sec, what, kind, _ = spec
    # on the BLAS threads of the solve's route (_DISPATCH): the check's products are as small as
    # the solve's (with OpenBLAS's two threads, Bose-Hubbard 2 x 12 took 0.33 s against 0.15 s)
    with limit_blas(sec.size if isinstance(method, Dense) else 0):
        _odd_sector_run(system, method, x, info, sec, what, kind)


def _odd_spec(system: _System):
    """``(sector, what, kind, operator)`` of the states beyond ``system``'s sector whose uniqueness
    a solve also checks (:func:`_odd_sector_check`), or ``None``. ``operator``: ``None`` (the
    model's own sector operator) or a function assembling the Liouvillian's matrix on that sector
    (the odd states of a fold, :meth:`qness.symmetry.Fold.odd_matrix`: ``system.odd_spec``, set by
    :func:`_solve_folded`)."""
    if system.odd_spec != "auto":
        return system.odd_spec
    system.odd_spec = _odd_spec_of(system)  # once: the checks alongside and after both ask
    return system.odd_spec


def _odd_spec_of(system: _System):
    model = system.model
    if isinstance(model, SuperoperatorModel):
        from .superop import other_sector

        sec = other_sector(model, system.sector)
        what = "a block of coherences (no populations) of the Liouvillian"
        kind = "coherence"
    else:
        sec = odd_sector(system.sector)
        what = "the parity -1 sector of the Liouvillian"
        kind = "parity-odd"
    return None if sec is None else (sec, what, kind, None)


def _odd_krylov_parts(system: _System, method: Krylov, sec, operator, precision: str):
    """``(A, M, flexible)`` of the Krylov uniqueness check on the odd sector ``sec``: its operator
    (``operator()`` when given), preconditioner and GMRES variant; ``None`` where the incomplete LU
    breaks down (the caller then takes the exact LU)."""
    model = system.model
    n = sec.size
    if operator is not None:
        matrix = operator()  # (a fold's odd states: Fold.odd_matrix)
        A = fast_product(matrix)
    else:
        use_matrix = assembles(method, model, sec)  # always for a matrix
        matrix = sec.matrix(model) if use_matrix else None
        A = fast_product(matrix) if use_matrix else sec.operator(model)
    M, flexible = None, False
    if method.preconditioner == "sylvester":
        # no two-level variant (its coarse space is the populations, which this sector does not
        # have); the damped two-step one wherever the no-jump solves run in complex64, not only on
        # one-block sectors as the solve's rule has it (a fold's odd states: 35 -> 19 GMRES steps
        # at XXZ 12); it applies the sector's own operator or the matrix given
        variant = "two-step" if precision == "single" else "jacobi"
        M = sec.sylvester_preconditioner(model, variant=variant, matrix=matrix)
        S = M.S if variant == "two-step" else M
        if precision == "single" and S.single_pays():
            M, flexible = M.single(), np.complex64
        elif variant == "two-step":
            M = S  # two-step pays only in complex64 (see Sector.sylvester_preconditioner)
    elif method.preconditioner == "ilu":
        try:
            Ms = sp.csc_matrix(matrix)
            ilu = spla.spilu(Ms, fill_factor=method.ilu_fill, drop_tol=method.ilu_drop)
        except RuntimeError:  # a zero pivot of the incomplete LU proves nothing: the exact LU
            return None
        M = spla.LinearOperator((n, n), matvec=ilu.solve, dtype=np.complex128)
    return A, M, flexible


def _odd_sector_run(
    system: _System, method, x, info: dict, sec, what: str, kind: str, operator=None, strict=False
) -> None:
    """:func:`_odd_sector_check` for the sector ``sec`` (named ``what``); ``operator``: a function
    building the Liouvillian on ``sec`` when it is not the model's (the odd states of a fold,
    Krylov only); ``strict``: a zero mode raises ``NonUniqueSteadyStateError`` instead of warning."""
    model = system.model
    t0 = time.perf_counter()
    n = sec.size
    ran = None
    try:
        if isinstance(method, Krylov):
            checks = system.checks
            ran = checks.take("odd") if checks is not None else None
            if ran is not None:
                A, M, flexible, start = ran
            else:
                parts = _odd_krylov_parts(system, method, sec, operator, info.get("precision", "double"))
                if parts is None:
                    return _odd_sector_run(system, Direct(), x, info, sec, what, kind)
                (A, M, flexible), start = parts, None
            record = _krylov_uniqueness(
                system,
                method,
                A,
                M,
                flexible,
                x,
                int(info.get("iterations", 0)),
                sector=sec,
                floor=LU_ROUNDING_RTOL * _liouvillian_scale(model),
                what=what,
                start=start,
            )
            if not record["verified"]:
                warnings.warn(
                    f"Krylov: uniqueness of the steady state not verified in {what} (GMRES on a random "
                    f"right-hand side stalled at residual {record['check_residual']:.1e} > "
                    f"{record['delta']:.1e}); check with Direct or asymptotic_state",
                    UniquenessWarning,
                    stacklevel=3,
                )
        else:
            A = sec.matrix(model)
            if isinstance(method, Dense) and n <= method.max_size:
                solve, solve_h = _dense_lu(A.toarray())
            else:
                backend = "umfpack" if _have_umfpack() else "superlu"
                solve, solve_h, _ = _sparse_factor(A, backend, "MMD_AT_PLUS_A", what)
            record = lu_check(A, solve, solve_h, what=what)
    except NonUniqueSteadyStateError as exc:
        if strict:
            raise
        # a mode at zero to working precision, by the thresholds the whole space's check applies
        # (a slow parity-odd mode within them, such as a Kerr cat's bit flip at 4.7e-14 of the
        # row-scaled norm, gets lu_check's UniquenessWarning instead): an error, as the full-space
        # solve and Evolve give (it was a warning and the symmetric mixture, session-21 review)
        err = NonUniqueSteadyStateError(
            f"the steady state is not unique: {what} has a mode at zero to working precision "
            f"({exc.args[0].split(': the steady state is not unique')[0]}): a second steady state "
            "that the symmetry maps onto the one in the solved sector (two copies of a system that keep "
            "no coherence between them, or a strong symmetry odd under the parity), or a "
            f"{kind} mode slower than double precision resolves next to the Liouvillian's scale; "
            "use qness.asymptotic_state(model, rho0) for the state reached from an initial state "
            "rho0 (exact either way)"
        )
        err.sigma = float(getattr(exc, "sigma", 0.0))
        raise err from None
    elapsed = time.perf_counter() - t0
    # a check that ran alongside the solve: its own work (set-up, both parts), not this thread's wait
    record = dict(record, size=n, time=record.get("time", elapsed) if ran is not None else elapsed)
    if isinstance(method, Krylov):
        record["alongside"] = ran is not None
    uniq = info.setdefault("uniqueness", {})
    uniq["odd_sector"] = record
    if not record["verified"]:
        uniq["verified"] = False


#: GMRES restart of the Krylov uniqueness check when the solve's own is shorter (and the basis
#: fits in memory, :func:`fitted_restart`)
CHECK_RESTART = 100


def _precision(system: _System, method: Krylov) -> str:
    """``"single"`` or ``"double"``: the arithmetic of the Sylvester preconditioner (see
    ``Krylov.precision``). ``"auto"`` takes single for GMRES with the Sylvester preconditioner
    (its complex64 twin, :meth:`qness.symmetry._SylvesterInverse.single`) where flexible
    GMRES's extra complex64 basis, ``8 n restart`` bytes, fits with the rest of the solve's
    estimate in ``MEMORY_FRACTION`` of the available memory."""
    if method.precision == "double" or method.preconditioner != "sylvester" or method.solver != "gmres":
        return "double"
    if method.precision == "single":
        return "single"
    need, _ = memory_estimate(system.model, system.sector, dataclasses.replace(method, precision="single"))
    return "single" if need <= MEMORY_FRACTION * available_memory() else "double"


#: ``Krylov.rtol`` is absolute; :class:`AccuracyWarning` when a tight ``rtol`` (``<= 1e-10``, such
#: as the default 1e-12) exceeds this fraction of the Liouvillian's scale (the state is then
#: determined to worse than about ``1e-8`` of its rates).
LOOSE_RTOL = 1e-8


def _liouvillian_scale(model) -> float:
    """Upper bound on ``||L||_1`` from the operators: ``2 ||H_eff||_1 + sum_k ||L_k||_1 ||L_k||_inf``
    (``||L||_1`` itself for a Liouvillian given as a matrix)."""
    if isinstance(model, SuperoperatorModel):
        return float(spla.norm(sp.csr_array(model.L), 1))
    h = float(spla.norm(sp.csr_array(model.H_eff()), 1))
    jumps = sum(
        j.rate * float(spla.norm(sp.csr_array(j.op), 1)) * float(spla.norm(sp.csr_array(j.op), np.inf))
        for j in model.jumps
        if j.rate > 0
    )
    return 2.0 * h + jumps


def _warn_loose_rtol(system: _System, method: Krylov) -> bool:
    """Warn (and return True) if a tight ``rtol`` is loose for the model's units."""
    scale = _liouvillian_scale(system.model)
    # only for a tolerance meant as tight (a loose rtol the user chose is what they asked for)
    loose = scale > 0 and method.rtol <= 1e-10 and method.rtol > LOOSE_RTOL * scale
    if loose:
        warnings.warn(
            f"Krylov: rtol={method.rtol:g} bounds ||L rho|| absolutely, and this Liouvillian's scale is "
            f"only {scale:.2g} (a bound on ||L||_1): the state is determined to about "
            f"{method.rtol / scale:.1g} of its rates; pass rtol={1e-12 * scale:.1g} (1e-12 x scale), or "
            "express H and the rates in larger units",
            AccuracyWarning,
            stacklevel=4,
        )
    return loose


def _settle_precision(system: _System, method: Krylov, M, precision: str):
    """``(precision, flexible)`` once the preconditioner is built.

    ``"auto"`` falls back to double where single cannot pay or cannot be trusted
    (:meth:`qness.symmetry._SylvesterInverse.single_pays`: no block pair runs in complex64, or
    the no-jump part is nearly singular, ``relative_gap < SINGLE_MIN_GAP``). ``flexible`` is the
    argument of :func:`~qness.solvers.krylov.gmres`: the storage of flexible GMRES's
    preconditioned vectors, complex64 in single; complex128 in double when the
    no-jump part is nearly singular and the extra basis fits (the rounding of a preconditioner
    with entries ~1/gap makes it nonlinear enough to derail plain GMRES: XXZ 6 with gamma =
    1e-9 diverged to a residual of 2e37), else ``False`` (plain GMRES).
    """
    S = getattr(M, "S", M)
    gap = getattr(S, "relative_gap", None)
    if gap is None:
        return "double", False
    if precision == "single" and method.precision == "auto" and not S.single_pays():
        precision = "double"
    if precision == "single":
        return "single", np.complex64
    if gap < SINGLE_MIN_GAP and method.solver == "gmres":  # (qness.symmetry.SINGLE_MIN_GAP)
        need, _ = memory_estimate(system.model, system.sector, method)
        if need + 16.0 * system.n * method.restart <= MEMORY_FRACTION * available_memory():
            return "double", np.complex128
    return "double", False


def _idrs_as_gmres(s: int):
    """:func:`~qness.solvers.krylov.idrs` called and answering like ``gmres`` (for the uniqueness check).

    ``restart`` is ignored (IDR(s) keeps ``3 s + 4`` vectors); a breakdown of
    ``P^H G`` is reported as ``singular`` (it happens when ``A`` is singular).
    """

    def run(A, b, x0=None, *, M=None, rtol=1e-10, atol=0.0, restart=None, maxiter=2000, callback=None):
        x, info = idrs(A, b, x0, M=M, s=s, rtol=rtol, atol=atol, maxiter=maxiter, callback=callback)
        return x, dict(info, singular=info["breakdown"])

    return run


def _krylov_run(method: Krylov, A, b, x0, M, callback=None, flexible=False, notes=None):
    """One Krylov solve of ``A x = b``: ``(x, flag, iterations)``, flag 0 when converged.

    GMRES with a two-level or two-step preconditioner falls back to its no-jump inverse alone
    (``M.S``) when restarting stagnates (see :func:`qness.solvers.krylov.gmres`); ``notes`` (a
    dict), if given, then receives ``"switched"`` (the step) and ``"M"`` (the preconditioner in use).

    Raises ``NonUniqueSteadyStateError`` when GMRES finds the projected system
    exactly singular (then ``A`` is singular).
    """
    if method.solver == "gmres":
        fallback = getattr(M, "S", None) if getattr(M, "variant", None) in ("two-level", "two-step") else None
        x, ginfo = gmres(
            A,
            b,
            x0,
            M=M,
            rtol=method.rtol,
            restart=method.restart,
            maxiter=method.maxiter,
            callback=callback,
            flexible=flexible,
            fallback=fallback,
        )
        if ginfo["singular"]:
            raise NonUniqueSteadyStateError(
                f"GMRES found the trace-augmented Liouvillian singular: {NON_UNIQUE_HINT}"
            )
        if "switched" in ginfo:
            logger.info("Krylov: restarts stagnated; no-jump inverse alone from step %d", ginfo["switched"])
            if notes is not None:
                notes.update(switched=ginfo["switched"], M=fallback)
        return x, 0 if ginfo["converged"] else 1, ginfo["iterations"]
    if method.solver == "idrs":
        x, iinfo = idrs(
            A, b, x0, M=M, s=method.s, rtol=method.rtol, maxiter=method.maxiter, callback=callback
        )
        return x, 0 if iinfo["converged"] else 1, iinfo["iterations"]
    count = [0]

    def cb(_):
        count[0] += 1
        if callback is not None:
            callback(None)

    kw = dict(rtol=method.rtol, atol=0.0, M=M, x0=x0, callback=cb)
    solve = spla.lgmres if method.solver == "lgmres" else spla.bicgstab
    # SciPy warns on a "lucky breakdown" (Krylov space exhausted = exact solve) of tiny
    # systems; the true residual is checked by the caller either way.
    with np.errstate(invalid="ignore", divide="ignore"):
        x, flag = solve(A, b, maxiter=method.maxiter, **kw)
        for _ in range(5):  # BiCGSTAB breakdown (flag < 0): restart from the last iterate
            if flag >= 0 or count[0] >= method.maxiter or not np.all(np.isfinite(x)):
                break
            kw["x0"] = x
            x, flag = solve(A, b, maxiter=method.maxiter - count[0], **kw)
    return x, flag, count[0]


def _evolve_uniqueness(model: LindbladModel, method: Evolve) -> dict | None:
    """Evolve's uniqueness check, before it integrates: :func:`_check_dissipative`, then the LU
    check of the trace-augmented Liouvillian (:func:`qness.solvers.uniqueness.lu_check`, as
    ``Direct``), where the LU fits in half the available memory; otherwise a ``UniquenessWarning``
    and ``verified`` False. ``None`` with ``verify_unique=False``.

    Raises
    ------
    ClosedSystemError, NonUniqueSteadyStateError
    """
    if method.verify_unique is False:
        return None
    if isinstance(model, LindbladModel):
        _check_dissipative(model)
    t0 = time.perf_counter()
    system = _System(model, full_sector(model.dim))
    if not _small_lu(system.n, 0.5):
        _, mem = system.envelope()
        if mem > 0.5 * available_memory():
            warnings.warn(
                f"Evolve: uniqueness not checked (the LU of the trace-augmented Liouvillian needs about "
                f"{mem / 2**30:.3g} GiB); the state returned is the one reached from rho0, whether or not "
                "it is the only steady state; method='krylov' checks it without an LU",
                UniquenessWarning,
                stacklevel=3,
            )
            return {"verified": False, "checked": False, "check": "not run (memory)"}
    A = system.replaced_matrix()
    backend, ordering = _direct_backend(system, Direct())
    try:
        solve, solve_h, _ = _sparse_factor(A, backend, ordering)
        record = lu_check(A, solve, solve_h)
    except NonUniqueSteadyStateError as exc:
        err = NonUniqueSteadyStateError(
            f"{exc}; Evolve(verify_unique=False) integrates to the state reached from rho0 without this check"
        )
        err.sigma = getattr(exc, "sigma", None)
        raise err from exc
    record["time"] = time.perf_counter() - t0
    return record


def _evolve(model: LindbladModel, method: Evolve, x0, t0, progress: bool = False, uniqueness=None) -> NESS:
    from ..liouvillian import liouvillian

    d = model.dim
    rho0 = method.rho0 if method.rho0 is not None else (getattr(x0, "rho", x0) if x0 is not None else None)
    if rho0 is None:
        rho0 = np.eye(d) / d
    # the same initial states as asymptotic_state: a density matrix or a ket, checked and normalised
    from ..operators import check_qobj_dims
    from .asymptotic import initial_density_matrix

    check_qobj_dims(rho0, model.dims, model.qobj_dims, name="rho0", owner="the model")
    rho0 = initial_density_matrix(rho0, d)
    L = liouvillian(model)
    # the scale of the rates: the tolerance and the default step and time limit are relative to it, so
    # a model with every energy and rate times s gives the same state (times / s)
    norm1 = float(spla.norm(L, 1))
    scale = norm1 if norm1 > 0 else 1.0
    target = method.atol if method.atol > 0 else method.rtol * scale
    t_max = method.t_max if method.t_max is not None else 1e9 / scale
    x = rho0.ravel(order="F")
    t, dt, steps = 0.0, (method.dt if method.dt is not None else 1.0 / scale), 0
    res = float(np.linalg.norm(L @ x))
    bar = Progress(progress, "Evolve", unit="step")
    warned, rates, history = False, [], [res]
    try:
        while res > target:
            if t >= t_max:
                raise ConvergenceError(
                    f"Evolve: residual {res:.2e} above "
                    + (f"atol={method.atol:g}" if method.atol > 0 else f"rtol * ||L||_1 = {target:.3g}")
                    + f" at t={t:g} >= t_max={t_max:g}; "
                    "qness.asymptotic_state(model, rho0) gives the t -> infinity limit from a few solves",
                    rho=x.reshape((d, d), order="F"),
                    residual=res,
                    iterations=steps,
                )
            x = spla.expm_multiply(L, x, start=0.0, stop=dt, num=2, endpoint=True)[-1]
            t += dt
            steps += 1
            prev, res = res, float(np.linalg.norm(L @ x))
            bar.step(res, t=t)
            rates.append(np.log(prev / res) / dt if 0 < res < prev else 0.0)
            history.append(res)
            if not warned and res > target:
                warned = _warn_slow_evolve(rates, res, target, t, norm1, t_max, history)
            dt *= 2
    finally:
        bar.close(f"t={t:g}, residual {res:.2e}")
    system = _System(model, full_sector(d))
    checked = uniqueness is not None and uniqueness.get("checked", True)
    info = {
        "iterations": steps,
        "t_final": t,
        "scale": scale,
        "target": target,
        "uniqueness_checked": checked,
    }
    if uniqueness is not None:
        info["uniqueness"] = uniqueness
    return _finish(model, system, x, method, info, t0, residual=res)


#: Evolve warns when the remaining run is predicted above this many ``||L||_1 t`` (about the number of
#: operator applications of ``expm_multiply``; measured 2e6 of them took 54 s on a 16-unknown model).
EVOLVE_WARN_COST = 1e5


def _warn_slow_evolve(
    rates: list, res: float, atol: float, t: float, norm1: float, t_max: float, history: list
) -> bool:
    """Warn when the decay of the residual predicts a very long run.

    ``rates`` holds the decay rates ``-ln(res_k / res_{k-1}) / dt_k`` of the
    residual over the steps so far. When the last three agree within a
    factor of 2 (one slow mode dominates; two agreed by chance on the plateau
    of an oscillator's residual, whose coherences relax at rate 0.05 while
    the residual fell at 0.0027 over two steps), reaching ``atol`` (the
    absolute target residual) takes ``ln(res / atol) / rate`` more;
    ``expm_multiply`` costs about ``||L||_1 t`` operator applications for a
    time ``t``. A residual that has not halved over the last three steps (``history``: the residual
    after each step) warns too where converging would cost more than ``EVOLVE_WARN_COST`` at the
    rate ``1/t`` (``t_max``: where the run would end).
    """
    if len(rates) < 3:
        return False
    r0, r1, r2 = rates[-3:]
    flat = len(history) >= 4 and history[-1] >= 0.5 * history[-4]
    # (flat over [t/8, t]: what is left decays at a rate below about 1/t, and converging costs at
    # least ln(res / atol) times the applications spent so far)
    if flat and norm1 * t * np.log(max(res / atol, 1.0)) > EVOLVE_WARN_COST:
        # no decay at all over three doublings of the step: a persistent oscillation (stationary
        # coherences at +-i omega, a limit cycle) never converges; the run goes on to t_max, at about
        # ||L||_1 t_max applications (a 3-level model with a coherence rotating at 0.7: about 19 hours
        # by default, without a word; session-21 review)
        warnings.warn(
            f"Evolve: at t={t:g} the residual {res:.2e} has not decreased over the last three steps: "
            "rho(t) oscillates (stationary coherences or a limit cycle) or relaxes more slowly than "
            f"the time run so far, and the run goes on to t_max (~{norm1 * t_max:.1g} operator "
            "applications) unless it decays. qness.asymptotic_state(model, rho0) gives the t -> "
            "infinity limit (the time average of an oscillation) from a few solves",
            RuntimeWarning,
            stacklevel=4,
        )
        return True
    if not (r0 > 0 and r1 > 0 and r2 > 0 and max(r0, r1, r2) <= 2.0 * min(r0, r1, r2)):
        return False
    remaining = np.log(res / atol) / r2
    if norm1 * remaining <= EVOLVE_WARN_COST:
        return False
    warnings.warn(
        f"Evolve: at t={t:g} the residual {res:.2e} decays at a rate of about {r2:.2g}; reaching "
        f"the target residual {atol:.2g} needs t ~ {remaining:.2g} more "
        f"(~{norm1 * remaining:.1g} operator applications). "
        "qness.asymptotic_state(model, rho0) gives the t -> infinity limit from a few solves",
        RuntimeWarning,
        stacklevel=4,
    )
    return True


def _one_blas_thread_for_small_blocks(solve, dense: bool):
    """``solve`` run on one BLAS thread when its dense products are small (see :mod:`qness._threads`).

    ``dense=False`` (Krylov, Direct): always one BLAS thread (Direct: see ``_DISPATCH``). Krylov's
    block loops run on their own threads and split large products over rows
    (:func:`qness.symmetry._mm`), so BLAS threads would only oversubscribe the cores: dissipative
    Ising 10 (one block of 1024, above ``SMALL_BLOCK``) took 67 s with OpenBLAS's default two
    threads against 43 s on one, with one other process busy (benchmarks/RESULTS.md, session 6).
    """

    @functools.wraps(solve)
    def run(system: _System, method, x0):
        with limit_blas(system.n if dense else 0):
            return solve(system, method, x0)

    return run


#: The nested-dissection LU of :mod:`qness.solvers.gridlu` takes one mode tensored with sites of at
#: most this many states in all (``q``, the states besides the mode). Measured on the corpus
#: (``benchmarks/RESULTS.md``, session 7, best of 3): with ``q = 2`` against UMFPACK 1.7x faster
#: (Rabi, cavity 80: 0.42 s against 0.72 s), 1.4x (Jaynes-Cummings 150), 1.3x (JC 40), equal
#: (spin-boson, mode 60); with ``q = 3`` 1.3x slower than SuperLU-COLAMD (V atom, cavity 50);
#: with ``q = 4`` about equal (two qubits and a mode of 30).
GRID_CELL_MAX = 2

#: ``Auto`` takes the grid's nested-dissection LU for a mode whose stencil (:func:`_mode_bandwidth`:
#: the largest change of its Fock index by ``H`` or a jump) is at most this; wider stencils (two-photon
#: loss or drive) go to UMFPACK. Measured (``benchmarks/bench_grid_orderings.py``, session 22, fresh
#: processes): width 1, the grid 1.0-1.6x faster than UMFPACK (Kerr 150-600 states, Jaynes-Cummings
#: 60-150); width 2, UMFPACK 1.4-2.4x faster than the grid (van der Pol oscillator and Kerr mode with
#: two-photon loss, 150-600 states; a qubit with a mode and two-photon loss, 60-120); width 4 (``a^4``
#: loss, 150 and 300 states, with tests running beside) 5.7-8.9x.
GRID_WIDTH_MAX = 1


class _Grid(NamedTuple):
    """A grid problem (:func:`_mode_grid`)."""

    mode: np.ndarray  # the mode's Fock index of each basis state
    d: int  # states of the mode
    q: int  # states besides it
    width: int  # stencil width (:func:`_mode_bandwidth`)


def _mode_grid(system: _System, local: bool = True) -> _Grid | None:
    """The mode's index of each basis state, its size and stencil when ``system`` is a grid problem.

    A grid problem: the full space of one site (the mode, the largest; ``d`` states), alone or
    with other sites of at most :data:`GRID_CELL_MAX` states in all. ``local`` (what ``Auto``
    asks): also ``d >= 16`` and ``H`` and the jump operators change the mode's index by at most
    ``d / 8`` (a mode with drives, one- and two-photon terms, coupled to a qubit), so the
    Liouvillian couples each cell ``(m, n)`` of the ``d x d`` grid of ``rho`` to nearby cells only.
    """
    model = system.model
    if isinstance(model, SuperoperatorModel) or system.sector.kind != "full":
        return None
    dims = tuple(model.dims)
    k = int(np.argmax(dims))
    d = dims[k]
    if d < 2 or model.dim // d > GRID_CELL_MAX or (local and d < 16):
        return None
    inner = int(np.prod(dims[k + 1 :], dtype=np.int64))
    mode = (np.arange(model.dim) // inner) % d
    width = _mode_bandwidth(model, mode)
    return _Grid(mode, d, model.dim // d, width) if not local or width <= d // 8 else None


def _mode_bandwidth(model: LindbladModel, mode: np.ndarray | None = None) -> int:
    """Largest change of the mode's index by ``H`` and the jump operators: the stencil width.

    ``mode``: the mode's index of each basis state (:func:`_mode_grid`); ``None``: one site."""
    from .gridlu import NEGLIGIBLE

    width = 0
    for op in [model.H] + [j.op for j in model.jumps if j.rate > 0]:
        C = sp.coo_array(op)
        if C.nnz:
            # rounding noise (entries of 1e-15 off the band) does not make a mode non-local
            keep = np.abs(C.data) > NEGLIGIBLE * np.max(np.abs(C.data))
            row, col = C.row[keep], C.col[keep]
            dm = row - col if mode is None else mode[row] - mode[col]
            width = max(width, int(np.max(np.abs(dm), initial=0)))
    return max(width, 1)


#: Entries of the nested-dissection LU of a single mode per ``N log2 N`` (``N = d^2``), with 30% and
#: 20 vectors on top (``_grid_lu_bytes``): SuperLU's ``nnz`` was 5.0-6.4 at d = 300-1000, and the
#: peak memory of the whole solve 170 bytes per ``N log2 N`` at d = 1000 (3.2 GiB,
#: ``benchmarks/bench_memory.py``); this estimate gives 3.4 GiB there, 14.8 GiB at d = 2000 (whose LU
#: ran out of memory under a 12.5 GB cap after 68% of its columns).
_GRID_FILL = 8.0

#: Fraction of the available memory ``Auto`` lets the single-mode grid LU take. Larger than the
#: half used for the envelope bounds of other models because this estimate is measured to be high
#: (3.4 GiB estimated / 3.0-3.2 GiB peak at d = 1000; 14.8 / 13.1 GiB at d = 2000) and because the
#: alternative for one large mode (a Schur-route Sylvester preconditioner of O(d^3) per step) takes
#: hours where the LU takes minutes (Kerr 2000: 118 s, ``benchmarks/RESULTS.md``).
GRID_LU_FRACTION = 0.8


def _grid_lu_bytes(n: int, width: int = 1, q: int = 1) -> float:
    """Estimated peak bytes of the grid LU of ``n`` unknowns, stencil ``width``, ``q^2`` per cell.

    The separators of a width-``w`` stencil are ``w`` cells thick, so the fill grows like ``w^2``
    (measured, against the width-1 figure: width 2 2.8-3.2x, width 4 8-12x at d = 200-400; the
    new-user review of session 6 found the width ignored, which under-estimated width 4 by 9x);
    with ``q^2`` unknowns per cell a separator has ``q^2`` times as many unknowns for ``q^2``
    times as many in all, the fill per ``N log N`` grows like ``q^2`` (measured 2.7x at ``q = 2``,
    Jaynes-Cummings with 150 photons).
    """
    return 16.0 * _GRID_FILL * n * np.log2(max(n, 2)) * 1.3 * width**2 * q**2 + 20.0 * 16.0 * n


def _solve_grid(system: _System, method: Direct, x0):
    """``Direct(ordering="GRID_ND")``: the single-mode LU of :mod:`qness.solvers.gridlu`."""
    from .gridlu import solve_single_mode

    grid = _mode_grid(system, local=False)
    if grid is None:
        raise ValueError(
            "Direct(ordering='GRID_ND') is for one site (a mode), alone or with sites of at most "
            f"{GRID_CELL_MAX} states in all besides it, solved in the full space (symmetry=None or no "
            "symmetry found); got dims "
            f"{tuple(getattr(system.model, 'dims', ()))} and a {system.sector.kind} sector"
        )
    n = system.n
    if method.check_memory:
        need, avail = _grid_lu_bytes(n, grid.width, grid.q), available_memory()
        if need > avail:
            raise InsufficientMemoryError(
                f"Direct: the nested-dissection LU of this {n}-unknown grid is estimated at "
                f"{need / 2**30:.3g} GiB with {avail / 2**30:.3g} GiB available; use a lower cutoff, or "
                "Direct(ordering='GRID_ND', check_memory=False) to try anyway",
                required=need,
                available=avail,
            )
    A = system.replaced_matrix()
    bar = Progress(system.progress, "Direct (superlu, grid nested dissection)", total=2, unit="stage")
    try:
        x, info, solve, solve_h = solve_single_mode(
            A, system.rhs(), grid.d, system.r, mode=None if grid.q == 1 else grid.mode, refine=method.refine
        )
    except (MemoryError, SystemError) as exc:
        # SuperLU reports a failed allocation ("Can't expand MemType") as SystemError from gstrf
        raise InsufficientMemoryError(
            f"Direct: the nested-dissection LU of a {n}-unknown single mode ran out of memory ({exc}); "
            "use a lower cutoff",
            available=available_memory(),
        ) from exc
    except RuntimeError as exc:
        if "singular" in str(exc).lower():
            raise NonUniqueSteadyStateError(
                "the trace-augmented Liouvillian is exactly singular: " + NON_UNIQUE_HINT
            ) from exc
        raise
    finally:
        bar.close()
    info["backend"] = "superlu"
    info["nnz"] = int(A.nnz)
    info["uniqueness"] = lu_check(A, solve, solve_h, vector=True)
    if not np.all(np.isfinite(x)):
        raise NonUniqueSteadyStateError(
            "the sparse LU produced non-finite values: the trace-augmented Liouvillian is singular; "
            + NON_UNIQUE_HINT
        )
    x = _lu_accuracy(A, system.rhs(), x, info["uniqueness"], solve, solve_h)
    info["iterations"] = 1 + info.pop("refined")
    return x, info


def _direct(system: _System, method: Direct, x0):
    if method.ordering == "GRID_ND":
        return _solve_grid(system, method, x0)
    return _solve_direct(system, method, x0)


# Direct runs on one BLAS thread too. Measured with OpenBLAS's default two threads against one
# (session 10, quiet machine, best of 7): the grid LU of the corpus 1.2-1.55x slower on two (JC 150
# 2.52 / 2.04 s, Rabi 0.45 / 0.37 s, driven cavity 0.088 / 0.057 s, Kerr 0.147 / 0.098 s; medians up to
# 2.3x), UMFPACK's small sectors 1.1x slower, and UMFPACK's large dense fronts no faster (XXZ 8,
# 12,870 unknowns: 7.42 / 7.51 s; Ising 6 0.71 / 0.68 s): the vector work around the LU (norms,
# products, solves) pays the threads' wake-ups and the LU itself does not use them.
_DISPATCH = {
    Dense: _one_blas_thread_for_small_blocks(_solve_dense, dense=True),
    Direct: _one_blas_thread_for_small_blocks(_direct, dense=False),
    Krylov: _one_blas_thread_for_small_blocks(_krylov_route, dense=False),
}


def _guard_scale(system) -> float:
    """The scale :data:`RESIDUAL_GUARD` multiplies: the larger of the diagonal's scale and a bound on
    ``||L||`` (:func:`qness.solvers.spectrum._norm_scale`), in the model's own units (it was floored
    at 1, which let a state of a model written in units of 1e-9 be off by the model's whole scale)."""
    from .spectrum import _norm_scale

    s = max(system.scale, _norm_scale(system.model))
    return s if np.isfinite(s) and s > 0 else 1.0


#: Dense and Direct (which take no tolerance) must return ``||L vec(rho)||_2 <= RESIDUAL_GUARD * s``
#: (``s`` from :func:`_guard_scale`, in the model's units): a backward-stable LU with refinement
#: reaches far below it on a problem whose uniqueness check passed. Krylov and Evolve are judged by
#: their own ``rtol`` / ``atol`` only (checked where they stop).
RESIDUAL_GUARD = 1e-8


def _finish(model, system, x, method, info, t0, residual=None) -> NESS:
    sector = system.sector
    rho = sector.to_full(x) if sector.kind != "full" else np.reshape(x, (model.dim, model.dim), order="F")
    tr = np.trace(rho)
    if not np.isfinite(tr) or abs(tr) < 1e-300:
        raise NonUniqueSteadyStateError("the solution has zero trace: " + NON_UNIQUE_HINT)
    rho = rho / tr
    herm_err = float(np.max(np.abs(rho - rho.conj().T)))
    rho = 0.5 * (rho + rho.conj().T)
    if residual is None:
        residual = system.residual(sector.from_full(rho) if sector.kind != "full" else rho.ravel(order="F"))
    basis = getattr(system, "basis", None)
    if basis is not None:
        # back from the eigenbasis of the exchange symmetry: rho = W rho' W^T (W real orthogonal, so
        # the residual, a 2-norm, is the same in both bases)
        rho = np.asarray(basis @ (basis @ rho).T).T
    # Never return a state that is not stationary: a direct solver that "succeeded" with a large
    # residual (breakdown) is reported, with its iterate and the tolerance it missed.
    bound = RESIDUAL_GUARD * _guard_scale(system) if isinstance(method, (Dense, Direct)) else np.inf
    if not np.isfinite(residual) or residual > bound:
        raise ConvergenceError(
            f"{type(method).__name__} returned a state with ||L vec(rho)|| = {residual:.2e} > {bound:.1e} "
            f"(= {RESIDUAL_GUARD:g} x the scale of L, the accuracy a stable LU reaches): "
            "not a steady state; try Krylov with an explicit rtol",
            rho=rho,
            residual=float(residual),
            iterations=int(info.get("iterations", 0)),
        )
    info = dict(info)
    info.update(
        method=type(method).__name__,
        options=dataclasses.asdict(method)
        if not isinstance(method, Evolve)
        else {"atol": method.atol, "rtol": method.rtol},
        sector={"kind": sector.kind, "label": sector.label, "size": sector.size}
        | ({"basis": system.model.z2().name.removeprefix("detected ")} if basis is not None else {}),
        time=time.perf_counter() - t0,
        hermiticity_error=herm_err,
        threads=os.cpu_count(),
    )
    if sector.kind == "u1" and len(sector.blocks) > 1:
        info["_blocks"] = list(sector.blocks)
    check_truncation(model, rho)
    return NESS(
        rho,
        model.dims,
        float(residual),
        info,
        site_kinds=tuple(getattr(model, "site_kinds", ())),
        qobj_dims=getattr(model, "qobj_dims", None),
    )


#: Largest population of the highest Fock level of a bosonic site accepted without a
#: :class:`~qness.TruncationWarning` (a state well inside its cutoff puts far less there).
TRUNCATION_THRESHOLD = 1e-3


def check_truncation(model, rho: np.ndarray, threshold: float = TRUNCATION_THRESHOLD) -> dict:
    """Warn when a bosonic site's highest Fock level holds more than ``threshold`` of the population.

    Only sites declared ``"boson"`` in ``model.site_kinds`` (named models,
    ``ModelBuilder(..., site_kinds=...)``) are checked; other sites have no
    cutoff to speak of.

    Parameters
    ----------
    model : LindbladModel
        The model (its ``dims`` and ``site_kinds``).
    rho : numpy.ndarray
        The ``d x d`` state.
    threshold : float
        Largest accepted population of level ``dims[i] - 1``
        (default :data:`TRUNCATION_THRESHOLD` = 1e-3).

    Returns
    -------
    dict
        ``{site: population of its highest level}`` for the bosonic sites.

    Warns
    -----
    TruncationWarning
        For each bosonic site above the threshold: the Fock cutoff cuts the
        state, and every result depends on it; raise the cutoff.
    """
    kinds = tuple(getattr(model, "site_kinds", ()))
    out = {}
    if "boson" not in kinds:
        return out
    dims = tuple(model.dims)
    p = np.real(np.diagonal(rho)).reshape(dims)
    for i, kind in enumerate(kinds):
        if kind != "boson":
            continue
        axes = tuple(a for a in range(len(dims)) if a != i)
        local = p.sum(axis=axes) if axes else p
        top = float(local[-1])
        out[i] = top
        if top > threshold:
            mean = float(np.sum(np.arange(dims[i]) * local))
            warnings.warn(
                f"site {i} is a boson truncated at {dims[i]} Fock levels, and its highest level "
                f"n = {dims[i] - 1} holds population {top:.3g} > {threshold:g} (<n> = {mean:.3g}): the "
                "cutoff cuts the state and the results depend on it; raise the cutoff",
                TruncationWarning,
                stacklevel=3,
            )
    return out
