"""Symmetry sectors of a Liouvillian (weak U(1) and Z2 symmetries).

A weak U(1) symmetry with charge ``N`` (diagonal in the computational basis,
``[H, N] = 0``, ``[N, L_k] = q_k L_k``) makes the superoperator commute with
``N ⊗ 1 - 1 ⊗ N^T``: the element ``rho_ij`` only mixes with elements of the
same ``n_i - n_j = q``. Sorting the basis into blocks of equal charge, the
sector ``q`` is the set of block pairs ``(bl, br)`` with
``n_bl - n_br = q``; its vector stacks ``vec(rho[bl, br])`` (column stacking
inside each block) pair after pair. The NESS lives in ``q = 0`` (block
diagonal ``rho``). A Z2 parity ``P`` (``P H P = H``, ``P L_k P = ±L_k``)
gives two sectors, ``s = p_i p_j = ±1``.

Everything here works on blocks: a sector's matrix is assembled directly by
a Cython kernel (never through the full ``L``), and its matrix-free action
and the no-jump (Sylvester) preconditioner act block by block with dense
BLAS products.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg.lapack import ctrsyl as _ctrsyl
from scipy.linalg.lapack import ztrsyl as _ztrsyl

from ._blas import matmul
from ._linalg import lu_solve, triangular_sylvester
from ._threads import one_blas_thread
from .liouvillian import (
    HAVE_KERNELS,
    exact_diagonal,
    fast_product,
    is_diagonal,
    kernel_threads,
    lindblad_arrays,
    set_diagonal,
    split_diagonal,
    streams_alongside,
)
from .model import LindbladModel, U1Symmetry, Z2Symmetry, as_model, check_symmetry

try:
    from ._kernels.sector import assemble_sector_csr as _sector_kernel
except ImportError:  # pragma: no cover
    _sector_kernel = None

__all__ = [
    "Sector",
    "sectors",
    "steady_sector",
    "detect_invariant_subspaces",
    "detect_symmetry",
    "detect_exchange",
    "odd_sector",
]


@dataclass(frozen=True, eq=False)
class Sector:
    """One symmetry sector of the Liouvillian of a model.

    Attributes
    ----------
    label : int
        Charge difference ``q = n_left - n_right`` (U(1)), parity product
        ``s = ±1`` (Z2), or 0 for the trivial sector (the whole space).
    kind : str
        ``"u1"``, ``"z2"`` or ``"full"``.
    d : int
        Hilbert-space dimension.
    block_labels : numpy.ndarray
        Charge (or parity) of each block.
    blocks : tuple of numpy.ndarray
        Basis indices of each block, ascending.
    pairs : numpy.ndarray, shape (npairs, 2)
        Block pairs ``(bl, br)`` in the sector, in storage order.
    pstart : numpy.ndarray, shape (npairs + 1,)
        First sector index of each pair.
    """

    label: int
    kind: str
    d: int
    block_labels: np.ndarray
    blocks: tuple
    pairs: np.ndarray
    pstart: np.ndarray

    # ----------------------------------------------------------- structure
    @property
    def size(self) -> int:
        """Number of unknowns (matrix elements of ``rho``) in the sector."""
        return int(self.pstart[-1])

    @property
    def nblocks(self) -> int:
        """Number of blocks of the basis."""
        return len(self.blocks)

    def _tables(self):
        d = self.d
        bsize = np.array([len(b) for b in self.blocks], dtype=np.int64)
        boff = np.concatenate([[0], np.cumsum(bsize)]).astype(np.int64)
        perm = np.concatenate(self.blocks).astype(np.int64)
        blk = np.empty(d, dtype=np.int64)
        loc = np.empty(d, dtype=np.int64)
        for b, idx in enumerate(self.blocks):
            blk[idx] = b
            loc[idx] = np.arange(len(idx))
        nb = self.nblocks
        pair_off = np.full(nb * nb, -1, dtype=np.int64)
        for p, (bl, br) in enumerate(self.pairs):
            pair_off[bl * nb + br] = self.pstart[p]
        return bsize, boff, perm, blk, loc, pair_off

    def pair_shape(self, p: int) -> tuple[int, int]:
        """Shape ``(len(block bl), len(block br))`` of pair ``p``."""
        bl, br = self.pairs[p]
        return len(self.blocks[bl]), len(self.blocks[br])

    def indices(self) -> np.ndarray:
        """Full column-stacked indices ``i + d j`` of the sector's unknowns, in order."""
        out = []
        for bl, br in self.pairs:
            i = self.blocks[bl]
            j = self.blocks[br]
            out.append((i[:, None] + self.d * j[None, :]).ravel(order="F"))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """Views of the sector vector ``x`` as the blocks ``rho[bl, br]``."""
        out = []
        for p in range(len(self.pairs)):
            shape = self.pair_shape(p)
            out.append(x[self.pstart[p] : self.pstart[p + 1]].reshape(shape, order="F"))
        return out

    @functools.cached_property
    def _flat(self) -> np.ndarray:
        """:meth:`indices`, computed once (a loop over the block pairs)."""
        return self.indices()

    def to_full(self, x: np.ndarray) -> np.ndarray:
        """The ``d x d`` matrix whose sector part is ``x`` (zeros elsewhere)."""
        rho = np.zeros(self.d * self.d, dtype=np.complex128)
        rho[self._flat] = np.asarray(x).ravel()
        return rho.reshape((self.d, self.d), order="F")

    def from_full(self, rho: np.ndarray) -> np.ndarray:
        """The sector part of a ``d x d`` matrix, as a sector vector."""
        flat = np.asarray(rho).ravel(order="F")
        return flat[self._flat].astype(np.complex128)

    def trace_vector(self) -> np.ndarray:
        """``t`` with ``t @ x = Tr(rho)`` (zero for sectors without diagonal blocks)."""
        t = np.zeros(self.size)
        for p, (bl, br) in enumerate(self.pairs):
            if bl == br:
                n = len(self.blocks[bl])
                t[self.pstart[p] + np.arange(n) * (n + 1)] = 1.0
        return t

    # ----------------------------------------------------------- matrices
    def matrix(self, model: LindbladModel) -> sp.csr_array:
        """The sector block of the Liouvillian, assembled directly (no full ``L``).

        Parameters
        ----------
        model : LindbladModel
            The model the sector belongs to.

        Returns
        -------
        scipy.sparse.csr_array
            ``size x size``, column stacking inside blocks (see module doc).
        """
        if _sector_kernel is None or not HAVE_KERNELS:
            return self.matrix_reference(model)
        arr = lindblad_arrays(model)
        bsize, boff, perm, blk, loc, pair_off = self._tables()
        pairs = np.ascontiguousarray(self.pairs, dtype=np.int64).ravel()
        indptr, indices, data = _sector_kernel(
            arr.d, arr.a_ptr, arr.a_ind, arr.a_val, arr.l_ptr, arr.l_ind, arr.l_val, arr.l_off,
            arr.nl, arr.max_row(), self.pstart.astype(np.int64), pairs, bsize, boff, perm, blk,
            loc, pair_off, self.nblocks, self.size, kernel_threads(self.size),
        )  # fmt: skip
        n = self.size
        if n < 2**31 - 1 and indices.size < 2**31 - 1:
            indptr, indices = indptr.astype(np.int32), indices.astype(np.int32)
        # the diagonal without the kernel's cancellation (qness.liouvillian.exact_diagonal)
        flat = self._flat
        diag = exact_diagonal(model, flat % self.d, flat // self.d)
        return set_diagonal(sp.csr_array((data, indices, indptr), shape=(n, n)), diag)

    def matrix_reference(self, model: LindbladModel) -> sp.csr_array:
        """Reference twin of :meth:`matrix`: slice the full ``L`` (tests only)."""
        from .liouvillian import liouvillian

        idx = self.indices()
        L = liouvillian(model)
        return sp.csr_array(L[idx][:, idx])

    def operator(self, model: LindbladModel) -> spla.LinearOperator:
        """Matrix-free action of the sector block (block-dense BLAS products)."""
        return _SectorOperator(self, as_model(model))

    def sylvester_preconditioner(
        self,
        model: LindbladModel,
        shift: float = 0.0,
        *,
        variant: str = "jacobi",
        trace_row: tuple[int, float] | None = None,
        precision: str = "double",
        matrix: sp.csr_array | None = None,
    ) -> spla.LinearOperator:
        """Exact inverse of the no-jump part ``L0(rho) = A rho + rho A^+``, ``A = -i H_eff``.

        Solved per block pair (a Sylvester equation) through the
        eigendecomposition of each block of ``H_eff`` where its eigenvector
        matrix is well conditioned (``cond_1 <= EIG_COND_MAX``), else through
        the complex Schur form (Bartels-Stewart, backward stable for any
        non-normal ``H_eff``). Denominators smaller than a small fraction of
        the dissipation scale (states untouched by dissipation) are
        regularised, since this is only a preconditioner. The operator's
        ``route`` attribute says which route was taken (``"eig"``,
        ``"schur"`` or ``"mixed"``).

        With ``variant="two-level"`` the no-jump inverse is the smoother of
        a two-level preconditioner for the trace-augmented steady-state
        system (see :class:`_TwoLevelSylvester`): it also corrects for the
        jump terms on a coarse space (the populations of each diagonal
        block in the eigenbasis of ``H_eff``). ``variant="auto"`` takes it
        where it was measured to pay (see :func:`_preconditioner_rule`). The
        block pairs are solved in parallel on ``kernel_threads`` threads.

        Parameters
        ----------
        model : LindbladModel
        shift : float
            Solve ``(L0 - shift) x = y`` (the two-level variant needs ``shift == 0``).
        variant : {"jacobi", "two-level", "two-step", "auto"}
            ``"jacobi"`` (default): the no-jump inverse alone; ``"two-step"``:
            two steps of the splitting ``L = L0 + J``, ``x = S y + w S (y - A S y)``
            with ``w =`` :data:`SMOOTHING_WEIGHT` (half the GMRES steps at twice the
            cost of each: less memory).
        trace_row : (int, float), optional
            ``(r, c)``: the system the preconditioner is for has row ``r``
            of ``L`` replaced by ``c`` times the trace row; needed by the
            two-level variant (``"auto"`` without it is ``"jacobi"``).
        precision : {"double", "single"}
            The precision the caller will run the no-jump solves in (through
            ``.single()`` and flexible GMRES); only steers ``variant="auto"``.
        matrix : scipy.sparse.csr_array, optional
            The sector matrix (:meth:`matrix`), if the caller has assembled
            it: the two-level and two-step variants then apply ``L`` as this
            sparse matrix instead of matrix-free.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            With attributes ``route`` and ``variant`` (``"jacobi"``, ``"two-level"`` or ``"two-step"``).

        Raises
        ------
        ValueError
            For an unknown ``variant``, or ``"two-level"`` with a non-zero
            shift or without ``trace_row``.
        """
        if variant not in ("jacobi", "two-level", "two-step", "auto"):
            raise ValueError(f"variant must be 'jacobi', 'two-level', 'two-step' or 'auto', got {variant!r}")
        model = as_model(model)
        if matrix is not None and matrix.shape != (self.size, self.size):
            raise ValueError(f"matrix: shape {matrix.shape}, expected the sector's {(self.size, self.size)}")
        S = _SylvesterInverse(self, model, shift)
        chosen = variant == "auto"
        if variant == "auto":
            steady = trace_row is not None and shift == 0
            variant = _preconditioner_rule(self, precision) if steady else "jacobi"
            if variant == "two-step" and not S.single_pays():
                # two-step pays only with the no-jump solves in complex64, which the steady-state
                # solve takes only where single_pays(); besides, a (nearly) singular no-jump part
                # makes S large and two steps of S amplify it twice, which GMRES with S alone
                # absorbs in one direction (a T = 0 qubit: entries 1e9 in A M; a driven oscillator
                # with gap 5e-9: the projected system looked singular)
                variant = "jacobi"
        if variant == "jacobi":
            return S
        if shift != 0:
            raise ValueError(f"variant={variant!r} is for the steady state: shift must be 0")
        if variant == "two-step":
            return _TwoStepSylvester(self, model, S, trace_row, matrix)
        if trace_row is None:
            raise ValueError(f"variant={variant!r} needs trace_row=(r, c) of the trace-augmented system")
        try:
            return _TwoLevelSylvester(self, model, S, trace_row, matrix)
        except ValueError:
            if not chosen:
                raise
            # a singular coarse matrix (e.g. several steady states: dark collective states) leaves
            # the no-jump inverse alone; the solve's uniqueness check then reports what it finds
            return S


# ---------------------------------------------------------------- helpers
def _blocks_from_labels(labels: np.ndarray):
    values = np.unique(labels)
    blocks = tuple(np.flatnonzero(labels == v).astype(np.int64) for v in values)
    return values, blocks


def _make_sector(kind, label, d, values, blocks, keep) -> Sector:
    v = np.asarray(values)
    keep_all = np.broadcast_to(keep(v[:, None], v[None, :]), (len(v), len(v)))
    pairs = np.argwhere(keep_all).astype(np.int64).reshape(-1, 2)  # row-major: (bl, br) sorted
    sizes = [len(blocks[bl]) * len(blocks[br]) for bl, br in pairs]
    pstart = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return Sector(int(label), kind, d, values, blocks, pairs, pstart)


def full_sector(d: int) -> Sector:
    """The trivial sector: the whole space as one block."""
    return _make_sector("full", 0, d, np.array([0]), (np.arange(d, dtype=np.int64),), lambda a, b: True)


def sectors(model, symmetry=None, *, check: bool = True) -> list[Sector]:
    """All sectors of the Liouvillian for a weak symmetry of ``model``.

    Parameters
    ----------
    model : LindbladModel
        The model.
    symmetry : U1Symmetry or Z2Symmetry, optional
        The symmetry; by default the model's first declared U(1), else Z2.
        ``None`` with no declared symmetry returns the trivial sector.
    check : bool
        Verify the symmetry first (``ValueError`` if it does not hold).

    Returns
    -------
    list of Sector
        U(1): sectors ``q = n_left - n_right`` in ascending order; Z2:
        ``s = +1`` then ``s = -1``. Their sizes sum to ``d^2``.
    """
    model = as_model(model)
    sym = symmetry if symmetry is not None else (model.u1() or model.z2())
    d = model.dim
    if sym is None:
        return [full_sector(d)]
    if check:
        check_symmetry(model, sym)
    if isinstance(sym, U1Symmetry):
        values, blocks = _blocks_from_labels(np.asarray(sym.charges))
        qs = [int(q) for q in np.unique(values[:, None] - values[None, :])]
        return [_make_sector("u1", q, d, values, blocks, lambda a, b, q=q: a - b == q) for q in qs]
    if isinstance(sym, Z2Symmetry):
        values, blocks = _blocks_from_labels(np.asarray(sym.parities))
        out = []
        for s in (1, -1):
            sec = _make_sector("z2", s, d, values, blocks, lambda a, b, s=s: a * b == s)
            if sec.size:
                out.append(sec)
        return out
    raise ValueError(f"symmetry must be a U1Symmetry or Z2Symmetry, got {type(sym).__name__}")


def steady_sector(model, symmetry=None, *, check: bool = True) -> Sector:
    """The sector holding the steady state (``q = 0`` or ``s = +1``; trivial without symmetry)."""
    model = as_model(model)
    sym = symmetry if symmetry is not None else (model.u1() or model.z2())
    if isinstance(sym, U1Symmetry):  # only q = 0 (sectors() builds all of them)
        if check:
            check_symmetry(model, sym)
        values, blocks = _blocks_from_labels(np.asarray(sym.charges))
        return _make_sector("u1", 0, model.dim, values, blocks, lambda a, b: a - b == 0)
    for s in sectors(model, sym, check=check):
        if s.label == 0 or (s.kind == "z2" and s.label == 1):
            return s
    raise AssertionError("no steady-state sector")  # pragma: no cover


def odd_sector(sector: Sector) -> Sector | None:
    """The parity ``s = -1`` sector of the Z2 symmetry whose ``s = +1`` sector is ``sector``.

    A steady state lies in the ``s = +1`` sector, but the steady state is unique only when the
    ``s = -1`` sector has no zero mode as well: a conserved quantity odd under the parity (two
    invariant subspaces that the symmetry exchanges, with no coherence between them) leaves the
    ``+1`` sector a single steady state, the symmetric mixture, while the Liouvillian has two
    (:func:`qness.steady_state` checks it). A weak U(1) needs no such check. The steady states
    form a distorted algebra ``0 + sum_k M_{n_k} (x) rho_k`` (Blume-Kohout, Ng, Poulin and Viola,
    Phys. Rev. A 82, 062306 (2010)) that the symmetry maps onto itself; a one-parameter group acts
    on it by inner automorphisms ``exp(i G phi)``, never exchanging blocks, so a steady direction
    of charge ``q != 0`` needs a block where ``G`` is not a multiple of the identity, and that block
    holds two independent steady states of charge 0 (the projectors on ``G``'s eigenspaces), which
    the ``q = 0`` solve sees. A Z2 may exchange two blocks (Albert and Jiang, Phys. Rev. A 89,
    022118 (2014)): then the ``+1`` sector holds only their sum.

    Returns
    -------
    Sector or None
        ``None`` when ``sector`` is not the ``+1`` sector of a Z2 symmetry, or the ``-1`` sector is
        empty.
    """
    if sector.kind != "z2" or sector.label != 1:
        return None
    values = np.asarray(sector.block_labels)
    odd = _make_sector("z2", -1, sector.d, values, sector.blocks, lambda a, b: a * b == -1)
    return odd if odd.size else None


def _level_charges(dims) -> np.ndarray:
    """``-sum_i k_i`` for basis states ``|k_0 k_1 ...>``: magnetisation (spins, m = s - k) or
    minus the particle number (Fock states), up to a constant."""
    charges = np.zeros(1, dtype=np.int64)
    for d in dims:
        charges = (charges[:, None] - np.arange(d, dtype=np.int64)[None, :]).ravel()
    return charges


def _entries(op) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the stored entries of ``op`` (without building a COO array, whose
    construction checks cost 0.1-0.2 ms each: most of the 1.5 ms of a small model's detection)."""
    if isinstance(op, (sp.csr_array, sp.csr_matrix)):
        rows = np.repeat(np.arange(op.shape[0]), np.diff(op.indptr))
        return rows, op.indices
    c = sp.coo_array(op)
    return c.row, c.col


def _jump_charges(model, labels, combine):
    out = []
    for j in model.jumps:
        row, col = _entries(j.op)
        if row.size == 0 or j.rate == 0:
            out.append(0 if combine == "diff" else 1)
            continue
        vals = labels[row] - labels[col] if combine == "diff" else labels[row] * labels[col]
        if not np.all(vals == vals[0]):
            return None
        out.append(int(vals[0]))
    return tuple(out)


#: ``name`` of the symmetries :func:`detect_symmetry` returns (they hold by construction)
DETECTED_NAMES = ("detected N", "detected charge", "detected parity")

#: Sites with at most this many levels get a charge per level in :func:`detect_symmetry` (a
#: Lambda or V atom's levels need not be equally spaced in charge); larger sites (modes, large
#: spins) a charge linear in the level index.
LEVEL_CHARGE_MAX = 4

#: :func:`detect_symmetry` combines independent charges into one while their joint labels take at
#: most this many values (each value is a block; the U(1) sectors of a spectrum number up to twice
#: as many).
COMBINED_LABELS_MAX = 512


def _level_features(dims) -> np.ndarray:
    """Integer features ``f(s)`` of each basis state ``s`` (shape ``(d, k)``): one column per level
    of each site with at most :data:`LEVEL_CHARGE_MAX` levels (1 on the state's level), one column
    per larger site (its level index). A candidate charge is ``Q(s) = f(s) . w`` for an integer
    ``w``; a ``w`` constant on a small site's columns adds a constant to ``Q``."""
    D = int(np.prod(dims, dtype=np.int64))
    k = sum(d if d <= LEVEL_CHARGE_MAX else 1 for d in dims)
    F = np.zeros((D, k), dtype=np.int32)
    inner, col = D, 0
    for d in dims:
        inner //= d
        level = (np.arange(D) // inner) % d
        if d <= LEVEL_CHARGE_MAX:
            F[np.arange(D), col + level] = 1
            col += d
        else:
            F[:, col] = level
            col += 1
    return F


#: :func:`detect_symmetry` builds the features of :func:`_level_features` (``8 d k`` bytes) only up
#: to this many entries; above, it tries the total magnetisation / particle number alone.
FEATURES_MAX = 2**25


def _unique_rows(R: np.ndarray) -> np.ndarray:
    """The distinct non-zero rows of ``R`` (through a bytes view: 10x faster than ``axis=0``)."""
    R = np.ascontiguousarray(R[np.any(R != 0, axis=1)])
    if len(R) == 0:
        return R
    keys = R.view(np.dtype((np.void, R.dtype.itemsize * R.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    return R[first]


def _exact_null_space(R: np.ndarray) -> list[np.ndarray]:
    """Integer basis of ``{w : R w = 0}`` for an integer matrix ``R`` (exact: rows chosen in floating
    point, the null space computed in rationals, each vector verified on all of ``R``)."""
    from fractions import Fraction
    from math import lcm

    k = R.shape[1]
    chosen, Q = [], np.zeros((0, k))
    for row in R:  # a maximal set of independent rows (at most k)
        v = row.astype(float)
        if Q.shape[0]:
            v = v - Q.T @ (Q @ v)
        nv = float(np.linalg.norm(v))
        if nv > 1e-9 * max(float(np.linalg.norm(row)), 1.0):
            chosen.append(row)
            Q = np.vstack([Q, v / nv])
            if len(chosen) == k:
                return []
    M = [[Fraction(int(x)) for x in row] for row in chosen]
    pivots, r = [], 0
    for c in range(k):  # reduced row echelon form
        p = next((i for i in range(r, len(M)) if M[i][c] != 0), None)
        if p is None:
            continue
        M[r], M[p] = M[p], M[r]
        piv = M[r][c]
        M[r] = [x / piv for x in M[r]]
        for i in range(len(M)):
            if i != r and M[i][c] != 0:
                f = M[i][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[r])]
        pivots.append(c)
        r += 1
    basis = []
    for free in (c for c in range(k) if c not in pivots):
        v = [Fraction(0)] * k
        v[free] = Fraction(1)
        for i, c in enumerate(pivots):
            v[c] = -M[i][free]
        m = lcm(*(x.denominator for x in v))
        w = np.array([int(x * m) for x in v], dtype=np.int64)
        if len(R) and np.any(R @ w != 0):  # the float row choice missed a row: give up (no symmetry)
            return []
        basis.append(w)
    return basis


def _pair_count(labels: np.ndarray) -> int:
    """Size of the ``q = 0`` sector of ``labels``: ``sum_v count(v)^2``."""
    _, counts = np.unique(labels, return_counts=True)
    return int(np.sum(counts.astype(np.int64) ** 2))


def _detect_u1(model, combine: bool = True) -> U1Symmetry | None:
    """The weak U(1) charges of ``model`` diagonal in the computational basis, combined (see
    :func:`detect_symmetry`)."""
    dims = tuple(model.dims)
    D = model.dim
    k = sum(d if d <= LEVEL_CHARGE_MAX else 1 for d in dims)
    too_big = D * k > FEATURES_MAX  # no features: N alone
    if too_big or not combine:
        found = _detect_n(model)
        if found is not None or too_big:
            return found
    F = _level_features(dims)
    rows = []
    Crow, Ccol = _entries(model.H)
    off = Crow != Ccol
    # H conserves Q: (f(r) - f(c)) . w = 0 on its entries
    hr, hc = Crow[off], Ccol[off]
    for lo in range(0, hr.size, 1 << 16):
        rows.append(_unique_rows(F[hr[lo : lo + (1 << 16)]] - F[hc[lo : lo + (1 << 16)]]))
    # each jump changes Q by one amount: (delta_e - delta_0) . w = 0 over its entries
    for j in model.jumps:
        Jrow, Jcol = _entries(j.op)
        if Jrow.size == 0 or j.rate == 0:
            continue
        first = F[Jrow[0]] - F[Jcol[0]]
        for lo in range(0, Jrow.size, 1 << 16):
            rows.append(_unique_rows(F[Jrow[lo : lo + (1 << 16)]] - F[Jcol[lo : lo + (1 << 16)]] - first))
    R = _unique_rows(np.concatenate(rows)) if rows else np.zeros((0, k), dtype=F.dtype)
    basis = _exact_null_space(R)
    # charges as labels of the basis states; constant labels (a constant per small site) are trivial
    cands = []
    for w in basis:
        lab = F @ w
        if np.ptp(lab) == 0:
            continue
        cands.append((_pair_count(lab), lab - lab.min()))
    if not cands:
        return None
    cands.sort(key=lambda t: t[0])
    labels = cands[0][1]
    if cands[0][0] >= D * D:
        return None
    for _, lab in cands[1:] if combine else ():  # joint labels: mixed radix (a - b = 0 iff all agree)
        span = int(labels.max()) + 1
        joint = labels + span * lab if span * (int(lab.max()) + 1) < 2**62 else None
        if joint is None or len(np.unique(joint)) > max(COMBINED_LABELS_MAX, len(np.unique(labels))):
            continue
        if _pair_count(joint) < _pair_count(labels):
            labels = joint
    q = _jump_charges(model, labels, "diff")
    if q is None:  # pragma: no cover (each basis vector keeps every jump's charge definite)
        return None
    old = _level_charges(dims)
    if np.ptp(labels - old) == 0 or np.ptp(labels + old) == 0:  # N itself (up to sign and shift)
        return U1Symmetry(old, _jump_charges(model, old, "diff"), "detected N")
    return U1Symmetry(labels, q, "detected charge")


def _detect_n(model) -> U1Symmetry | None:
    """The total magnetisation / minus the particle number ``N = -sum_i k_i``, if it is a charge."""
    charges = _level_charges(model.dims)
    hrow, hcol = _entries(model.H)
    if np.all(charges[hrow] == charges[hcol]):
        q = _jump_charges(model, charges, "diff")
        if q is not None and len(np.unique(charges)) > 1:
            return U1Symmetry(charges, q, "detected N")
    return None


def detect_symmetry(model, *, combine: bool = True) -> U1Symmetry | Z2Symmetry | None:
    """Look for a weak U(1) (then Z2) symmetry diagonal in the computational basis.

    U(1): charges ``Q = sum_i q_i(k_i)`` of the basis states ``|k_0 k_1 ...>``, with a charge per
    level ``q_i(k)`` on sites of at most :data:`LEVEL_CHARGE_MAX` levels and ``q_i(k) = w_i k`` on
    larger ones (modes), such that ``H`` conserves ``Q`` and every jump changes it by a definite
    amount. These conditions are linear in the unknown charges; their integer solutions (found
    exactly, in rationals) include the total magnetisation of a spin chain, the excitation number
    ``a^+ a + sigma^+ sigma`` of a Jaynes-Cummings model in QuTiP's ordering (where the qubit's
    excited state is level 0), and charges of a few sites only (the qubits of a thermal machine
    whose mode is driven). Several independent charges are combined into one with the joint labels
    (while they take at most :data:`COMBINED_LABELS_MAX` values): its ``q = 0`` sector is the
    intersection of theirs. Where the magnetisation / minus the particle number
    ``N = -sum_i k_i`` is the only charge, it is returned as before (``"detected N"``).

    The labels of a combined charge (``"detected charge"``) are not numbers of quanta: they
    encode the tuple of charges, and the sector ``q`` of such a label is no "one more quantum".
    Declare the symmetry (:class:`qness.U1Symmetry`) to choose the charge and its labels.

    Z2 (when no U(1) is found): the parity ``(-1)^{sum_i k_i}``, accepted when ``H`` conserves it
    and every jump has a definite parity.

    Parameters
    ----------
    model : LindbladModel
    combine : bool
        Combine independent charges (the smallest ``q = 0`` sector: what a steady state needs).
        ``False`` (what :func:`qness.spectrum` and the resolvent routes ask): ``N`` itself where
        it is a charge, else the single charge with the smallest ``q = 0`` sector. A spectrum
        solves every sector for ``k`` eigenvalues, and the many small sectors of a combined charge
        cost more in all (two Jaynes-Cummings systems: 169 labels, 37 s against 15.5 s with
        ``N``'s 25).

    Returns
    -------
    U1Symmetry, Z2Symmetry or None
        The symmetry found (``name`` ``"detected N"``, ``"detected charge"`` or
        ``"detected parity"``).
    """
    model = as_model(model)
    found = _detect_u1(model, combine)
    if found is not None:
        return found
    charges = _level_charges(model.dims)
    hrow, hcol = _entries(model.H)
    parity = np.where(charges % 2 == 0, 1, -1)
    if np.all(parity[hrow] == parity[hcol]):
        p = _jump_charges(model, parity, "prod")
        if p is not None and len(np.unique(parity)) > 1:
            return Z2Symmetry(parity, p, "detected parity")
    return None


#: An exchange symmetry (:func:`detect_exchange`) is accepted when ``P H P`` and each ``P L_k P``
#: agree with ``H`` and with their partner jump to this fraction of the largest entry: the rounding
#: of the same sums taken in another order, no more. The solve then imposes the symmetry exactly
#: (the entries that break it are dropped), which moves the state by about this much over the gap.
EXCHANGE_RTOL = 1e-15


#: Names of the parities :func:`detect_exchange` declares on the models it returns
EXCHANGE_NAMES = ("detected reflection", "detected level flip", "detected level flip x reflection")


def is_exchange_basis(model) -> bool:
    """Whether ``model`` is one :func:`detect_exchange` returned (written in an exchange eigenbasis)."""
    z2 = getattr(model, "z2", lambda: None)()
    return z2 is not None and z2.name in EXCHANGE_NAMES


def _digit_permutation(dims, site_map, level_map) -> np.ndarray:
    """The basis permutation ``|k_0 k_1 ...> -> |k'_0 k'_1 ...>`` with ``k'_{site_map[i]} =
    level_map(i, k_i)`` (site 0 the leftmost factor)."""
    dims = tuple(int(x) for x in dims)
    n = len(dims)
    idx = np.arange(int(np.prod(dims, dtype=np.int64)), dtype=np.int64)
    digits = []
    rest = idx.copy()
    for i in range(n - 1, -1, -1):
        digits.append(rest % dims[i])
        rest //= dims[i]
    digits = digits[::-1]
    new = [None] * n
    for i in range(n):
        new[site_map[i]] = level_map(i, digits[i])
    out = np.zeros_like(idx)
    for i in range(n):
        out = out * dims[i] + new[i]
    return out


def _exchange_candidates(dims) -> list[tuple[str, np.ndarray]]:
    """Involutive basis permutations worth testing: the reflection of the chain (sites ``i <->
    n-1-i``, where the dimensions allow), the level flip ``k -> d_i - 1 - k`` of every site, and
    their product."""
    dims = tuple(int(x) for x in dims)
    n = len(dims)
    ident_sites = list(range(n))
    rev = list(range(n - 1, -1, -1))
    keep = lambda i, k: k  # noqa: E731
    flip = lambda i, k: dims[i] - 1 - k  # noqa: E731
    out = []
    if n > 1 and dims == dims[::-1]:
        out.append(("reflection", _digit_permutation(dims, rev, keep)))
    if max(dims) > 1:
        out.append(("level flip", _digit_permutation(dims, ident_sites, flip)))
        if n > 1 and dims == dims[::-1]:
            out.append(("level flip x reflection", _digit_permutation(dims, rev, flip)))
    return [(name, p) for name, p in out if not np.array_equal(p, np.arange(p.size))]


def _same(A: sp.csr_array, B: sp.csr_array, tol: float) -> bool:
    D = sp.csr_array(A - B)
    return D.nnz == 0 or float(np.max(np.abs(D.data))) <= tol


def detect_exchange(model):
    """A weak Z2 that permutes the basis states: the reflection of a chain, a level flip, or both.

    ``P`` (a permutation matrix with ``P^2 = 1``) is a weak symmetry when ``P H P = H`` and ``P``
    maps the jump operators onto each other: ``P L_k P = c_k L_{pi(k)}`` with ``c_k = +-1`` (a
    dissipator does not see the sign). In the basis of ``P``'s eigenvectors (``|s>`` where ``P|s> =
    |s>``, ``(|s> +- |P s>)/sqrt 2`` otherwise) ``H`` is block-diagonal, and the jumps recombined as
    ``(L_k +- c_k L_{pi(k)})/sqrt 2`` (the same dissipator) each have a parity: the model is then one
    with a parity :class:`~qness.Z2Symmetry`, solved in its ``+1`` sector with the ``-1`` sector
    checked for zero modes (:func:`odd_sector`). A chain of identical sites with the same couplings
    and baths at mirrored places has it (the dissipative Ising chain, two identical driven cavities),
    where no U(1) exists.

    Parameters
    ----------
    model : LindbladModel

    Returns
    -------
    (LindbladModel, scipy.sparse.csr_array, str) or None
        The model in the eigenbasis of ``P`` (flat ``dims``, the parity declared, named
        ``"<name> [exchange basis]"``), the orthogonal change of basis ``W`` (columns: the new
        basis vectors, even ones first; ``rho = W rho' W^T``), and the symmetry's name
        (``"reflection"``, ``"level flip"``, ``"level flip x reflection"``); ``None`` if no
        candidate is a symmetry.
    """
    model = as_model(model)
    H, jumps = _exchange_operators(model)
    for name, perm in _exchange_candidates(model.dims):
        found = _exchange_pairing(H, jumps, perm)
        if found is not None:
            return _exchange_basis(model, H, jumps, perm, *found, name)
    return None


def _exchange_operators(model) -> tuple[sp.csr_array, list[sp.csr_array]]:
    """``H`` and the jumps ``L_k`` (rate included, zero ones left out) that an exchange maps."""
    H = sp.csr_array(model.H)
    return H, [sp.csr_array(j.L) for j in model.jumps if j.rate > 0 and j.op.nnz]


def _exchange_pairing(H: sp.csr_array, jumps: list, perm: np.ndarray):
    """``(partner, sign)`` with ``P L_k P = sign[k] L_partner[k]`` (paired one to one) if the basis
    permutation ``perm`` is a weak symmetry (``P H P = H`` too, to :data:`EXCHANGE_RTOL` of the
    largest entries), else ``None``."""
    scale_h = float(np.max(np.abs(H.data), initial=0.0))
    if not _same(sp.csr_array(H[perm][:, perm]), H, EXCHANGE_RTOL * max(scale_h, 1e-300)):
        return None
    # a jump's partner has its number of entries and the same sum of moduli: compare only those
    sums = np.array([float(np.sum(np.abs(L.data))) for L in jumps])
    nnz = np.array([L.nnz for L in jumps])
    partner, sign = [], []
    for k, L in enumerate(jumps):
        PL = sp.csr_array(L[perm][:, perm])
        tol = EXCHANGE_RTOL * max(float(np.max(np.abs(L.data))), 1e-300)
        found = None
        if k in partner:  # the image of an earlier jump: its partner is that jump
            near = [partner.index(k)]
        else:  # itself first (duplicates pair with themselves), then the jumps not yet paired
            near = np.flatnonzero((nnz == L.nnz) & (np.abs(sums - sums[k]) <= 1e-12 * sums.max()))
            near = [k] + [m for m in near if m > k and m not in partner]
        for m in near:
            L2 = jumps[m]
            for c in (1.0, -1.0):
                if PL.shape == L2.shape and _same(PL, c * L2, tol):
                    found = (m, c)
                    break
            if found:
                break
        if found is None:
            return None
        partner.append(int(found[0]))
        sign.append(found[1])
    if len(partner) != len(jumps) or any(partner[partner[k]] != k for k in range(len(jumps))):
        return None  # some jump has no image, or the images are not paired one to one
    return partner, sign


def _keep_parity(M, parities: np.ndarray, p: int) -> sp.csr_array:
    """``M`` without the entries that break parity ``p`` (``parities[i] parities[j] != p``): the
    rounding of ``(L_k +- L_pi(k)) / sqrt 2`` and of the change of basis, at most
    :data:`EXCHANGE_RTOL` of the largest entry (the symmetry was verified to that level)."""
    C = sp.coo_array(M)
    keep = (parities[C.row] * parities[C.col] == p) & (C.data != 0)
    out = sp.csr_array((C.data[keep], (C.row[keep], C.col[keep])), shape=M.shape)
    out.sum_duplicates()
    return out


def _permutation_eigenbasis(perm: np.ndarray) -> tuple[sp.csr_array, int]:
    """``(W, ne)``: the real orthogonal eigenbasis of the involutive permutation ``perm`` (columns:
    the ``ne`` even vectors ``|s>`` for fixed states and ``(|s> + |P s>)/sqrt 2``, then the odd
    ones ``(|s> - |P s>)/sqrt 2``)."""
    d = perm.size
    idx = np.arange(d)
    fixed = np.flatnonzero(perm == idx)
    first = np.flatnonzero(perm > idx)  # one state of each exchanged pair
    r = 1.0 / np.sqrt(2.0)
    ne = fixed.size + first.size
    rows = np.concatenate([fixed, first, perm[first], first, perm[first]])
    cols = np.concatenate(
        [np.arange(fixed.size), fixed.size + np.arange(first.size), fixed.size + np.arange(first.size),
         ne + np.arange(first.size), ne + np.arange(first.size)]
    )  # fmt: skip
    vals = np.concatenate([np.ones(fixed.size), np.full(2 * first.size, r), np.full(first.size, r),
                           np.full(first.size, -r)])  # fmt: skip
    return sp.csr_array((vals, (rows, cols)), shape=(d, d)), ne


def _exchange_basis(model, H, jumps, perm, partner, sign, name):
    """:func:`detect_exchange`'s change of basis and the model in it."""
    from .model import Jump, LindbladModel, Z2Symmetry

    d = perm.size
    r = 1.0 / np.sqrt(2.0)
    W, ne = _permutation_eigenbasis(perm)
    Wt = sp.csr_array(W.T)
    parities = np.concatenate([np.ones(ne, dtype=np.int64), -np.ones(d - ne, dtype=np.int64)])
    new_jumps, parity = [], []
    done = set()
    for k, L in enumerate(jumps):
        if k in done:
            continue
        m, c = partner[k], sign[k]
        if m == k:
            ops = [(L, int(c))]
        else:
            ops = [((L + c * jumps[m]) * r, 1), ((L - c * jumps[m]) * r, -1)]
            done.add(m)
        done.add(k)
        for op, p in ops:
            T = _keep_parity(Wt @ op @ W, parities, p)
            if T.nnz:
                new_jumps.append(Jump(op=T, rate=1.0, label=f"exchange {len(new_jumps)}"))
                parity.append(p)
    Hn = _keep_parity(Wt @ H @ W, parities, 1)
    sym = Z2Symmetry(parities, tuple(parity), f"detected {name}")
    out = LindbladModel(
        dims=(d,), H=Hn, jumps=tuple(new_jumps), symmetries=(sym,), name=f"{model.name} [exchange basis]"
    )
    return out, W, name


# ---------------------------------------------------------------- charge reversal (fold)
@dataclass(frozen=True, eq=False)
class Fold:
    """The ``q = 0`` sector of a U(1) model folded in half by a symmetry that reverses the charge.

    ``P`` (a basis permutation, ``P^2 = 1``, ``N_i + N_{P(i)} = c0``) is a weak symmetry of the
    model, so ``rho -> P rho P`` maps the ``q = 0`` sector (blocks ``rho_nn`` of charge ``n``) onto
    itself, and a unique steady state is even: ``rho_{c0-n} = P rho_n P``. The even states are
    the block-diagonal operators ``rho~`` on the folded space ``K`` (the blocks ``2 n > c0``, and
    the block ``2 n = c0`` split into ``P``'s even and odd subspaces), with ``rho~_n = 2 rho_nn``
    above the middle and ``rho~_+- = W_+-^T rho_mid W_+-`` in it (``Tr rho~ = Tr rho``). Their
    dynamics is a Lindblad equation on ``K``: the Hamiltonian's blocks, and each jump split by the
    block it acts on, its image folded back through ``P`` when it lands below the middle and split
    by parity when it lands in it (the jump set is ``P``-invariant, so the images below the middle
    are those of the mirrored blocks). :attr:`model` is that Lindblad equation, with each block a
    charge of its own, so its steady sector holds exactly the folded blocks: about half the
    unknowns, and a middle block of half the size.

    Conventions as for :class:`Sector` (hbar = 1, Lindblad form, ``vec`` by column stacking within
    each block pair); :meth:`fold` and :meth:`unfold` map vectors of the original ``q = 0`` sector.

    Only the even states are solved: the odd states (``rho_{c0-n} = -P rho_n P``), where a second
    steady state that ``P`` exchanges with the first would lie, must be checked for a zero mode
    separately (:meth:`odd_sector`, :meth:`odd_operator`; :func:`qness.steady_state` does).

    Attributes
    ----------
    model : LindbladModel
        The folded Lindblad equation (``dims = (dim K,)``, its block charges declared).
    sector : Sector
        Its steady sector.
    name : str
        The symmetry (``"level flip x reflection"``, ...).
    """

    model: LindbladModel
    sector: Sector
    name: str
    perm: np.ndarray  # P as a permutation of the original basis
    c0: int  # N_i + N_P(i)
    mid_basis: np.ndarray  # W_mid: columns the even then the odd eigenvectors of P on the middle block
    # per jump of the original model: R L E on K (all blocks), and the labels of the source blocks
    # whose image lies below the middle (folded back through P)
    images: tuple = ()

    def odd_sector(self) -> Sector | None:
        """The odd states (``rho_{c0-n} = -P rho_n P``) on the folded space: the blocks above the
        middle and the middle block's two blocks across parities (``None`` if that is empty)."""
        sec = self.sector
        labels = np.asarray(sec.block_labels)
        diag = [(b, b) for b in range(len(labels)) if labels[b] > 0]
        cross = []
        if 0 in labels and -1 in labels:
            e, o = int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == -1)[0])
            cross = [(e, o), (o, e)]
        pairs = np.array(sorted(diag + cross), dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            return None
        sizes = [len(sec.blocks[a]) * len(sec.blocks[b]) for a, b in pairs]
        pstart = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return Sector(-1, "fold odd", sec.d, labels, sec.blocks, pairs, pstart)

    def odd_operator(self, sector: Sector) -> spla.LinearOperator:
        """The Liouvillian on the odd states (:meth:`odd_sector` ``sector``), block pair by block pair.

        Not a Lindbladian: a jump's image folded back through ``P`` enters with a minus sign (the
        odd states below the middle are ``-P rho P``), and the middle block's two parities mix.
        """
        return _SectorOperator(sector, self.model, data=self._odd_data(sector))

    def odd_matrix(self, sector: Sector) -> sp.csr_array:
        """:meth:`odd_operator` assembled (a sparse matrix, for the compiled product and the
        preconditioners that apply the operator)."""
        return _assemble_block_data(self._odd_data(sector))

    def _odd_data(self, sector: Sector) -> _BlockData:
        model = self.model
        A = sp.csr_array(-1j * model.H_eff())
        data = _BlockData.__new__(_BlockData)
        data.sector = sector
        data.A = [sp.csr_array(A[idx][:, idx]) for idx in sector.blocks]
        pair_index = {(int(a), int(b)): p for p, (a, b) in enumerate(sector.pairs)}
        labels = np.asarray(sector.block_labels)
        blk = np.empty(sector.d, dtype=np.int64)
        loc = np.empty(sector.d, dtype=np.int64)
        for b, idx in enumerate(sector.blocks):
            blk[idx] = b
            loc[idx] = np.arange(idx.size)
        nb = len(sector.blocks)
        data.terms = []
        for T, folded in self.images:
            # T's block (target c, source a), for each source block a
            C = sp.coo_array(T)
            key = blk[C.col] * nb + blk[C.row]
            sub = {}
            for k in np.unique(key):
                sel = key == k
                a, c = divmod(int(k), nb)
                shape = (sector.blocks[c].size, sector.blocks[a].size)
                part = sp.csr_array((C.data[sel], (loc[C.row[sel]], loc[C.col[sel]])), shape=shape)
                sub.setdefault(a, []).append((c, part))
            for p, (a, b) in enumerate(sector.pairs):
                a, b = int(a), int(b)
                sign = -1.0 if int(labels[a]) in folded else 1.0
                for c, La in sub.get(a, []):
                    for dd, Lb in sub.get(b, []):
                        q = pair_index.get((c, dd))
                        if q is not None:
                            data.terms.append((p, q, sign * La, Lb))
        return data

    def _plan(self, full: Sector):
        """Per block of the original ``q = 0`` sector ``full``: ``("up", folded pair)``, ``("down",
        folded pair, index)``, or ``("mid", even pair, odd pair)``."""
        cache = self.__dict__.setdefault("_plans", {})
        key = id(full)
        if key in cache and cache[key][0] is full:
            return cache[key][1]
        flab = {int(self.sector.block_labels[bl]): p for p, (bl, _) in enumerate(self.sector.pairs)}
        plan = []
        for bl, _ in full.pairs:
            q = int(full.block_labels[bl])
            states = full.blocks[bl]
            if 2 * q > self.c0:
                plan.append(("up", flab[2 * q - self.c0]))
            elif 2 * q < self.c0:
                mirror = full.blocks[int(np.flatnonzero(full.block_labels == self.c0 - q)[0])]
                plan.append(("down", flab[self.c0 - 2 * q], np.searchsorted(mirror, self.perm[states])))
            else:
                plan.append(("mid", flab.get(0), flab.get(-1)))
        cache[key] = (full, plan)
        return plan

    def unfold(self, xf: np.ndarray, full: Sector) -> np.ndarray:
        """The even state of the original ``q = 0`` sector ``full`` whose folded vector is ``xf``."""
        fb = self.sector.split(np.asarray(xf))
        out = np.empty(full.size, dtype=np.result_type(xf, np.complex128))
        ob = full.split(out)
        W = self.mid_basis
        for p, step in enumerate(self._plan(full)):
            if step[0] == "up":
                ob[p][...] = 0.5 * fb[step[1]]
            elif step[0] == "down":
                idx = step[2]
                ob[p][...] = 0.5 * fb[step[1]][np.ix_(idx, idx)]
            else:
                ne = W.shape[1] - (0 if step[2] is None else fb[step[2]].shape[0])
                tilde = np.zeros((W.shape[1], W.shape[1]), dtype=out.dtype)
                if step[1] is not None:
                    tilde[:ne, :ne] = fb[step[1]]
                if step[2] is not None:
                    tilde[ne:, ne:] = fb[step[2]]
                ob[p][...] = W @ tilde @ W.T
        return out

    def fold(self, x: np.ndarray, full: Sector) -> np.ndarray:
        """The folded vector of the even part of ``x`` (a vector of the original ``q = 0`` sector)."""
        ob = full.split(np.asarray(x))
        out = np.zeros(self.sector.size, dtype=np.result_type(x, np.complex128))
        fb = self.sector.split(out)
        W = self.mid_basis
        for p, step in enumerate(self._plan(full)):
            if step[0] == "up":
                fb[step[1]] += ob[p]
            elif step[0] == "down":
                idx = step[2]
                fb[step[1]][np.ix_(idx, idx)] += ob[p]
            else:
                tilde = W.T @ ob[p] @ W
                ne = W.shape[1] - (0 if step[2] is None else fb[step[2]].shape[0])
                if step[1] is not None:
                    fb[step[1]][...] = tilde[:ne, :ne]
                if step[2] is not None:
                    fb[step[2]][...] = tilde[ne:, ne:]
        return out


def detect_fold(model, charges) -> Fold | None:
    """A weak symmetry that reverses a U(1) charge, and the folded ``q = 0`` problem.

    The candidates are :func:`detect_exchange`'s (reflection, level flip, both), taken when the
    permutation reverses the charge (``N_i + N_P(i)`` the same for every basis state) and is a
    weak symmetry in :func:`detect_exchange`'s sense. A boundary-driven spin chain whose two baths
    mirror each other (the left bath's pumping and loss rates equal to the right bath's loss and
    pumping rates, as in :func:`qness.models.boundary_driven_xxz` for any ``mu``) has it: the flip of
    every spin with the reflection of the chain.

    Parameters
    ----------
    model : LindbladModel
    charges : array_like of int, shape (d,)
        The U(1) charge of each basis state (the model's steady sector's).

    Returns
    -------
    Fold or None

    Raises
    ------
    ValueError
        If ``charges`` is not one integer per basis state.
    """
    model = as_model(model)
    raw_charges = np.asarray(charges)
    if raw_charges.shape != (model.dim,) or not np.all(raw_charges == np.round(raw_charges)):
        raise ValueError(
            f"charges must hold one integer charge per basis state (shape ({model.dim},)), got an array of "
            f"shape {raw_charges.shape}"
            + ("" if raw_charges.shape != (model.dim,) else " with non-integer entries")
        )
    charges = raw_charges.astype(np.int64)
    H, jumps = _exchange_operators(model)
    for name, perm in _exchange_candidates(model.dims):
        c = charges + charges[perm]
        if np.any(c != c[0]) or _exchange_pairing(H, jumps, perm) is None:
            continue
        return _fold(model, H, jumps, charges, perm, int(c[0]), name)
    return None


def _fold(model, H, jumps, charges, perm, c0: int, name: str) -> Fold:
    """:func:`detect_fold`'s folded model (see :class:`Fold`)."""
    from .model import Jump

    d = perm.size
    two = 2 * charges
    up = np.flatnonzero(two > c0)
    mid = np.flatnonzero(two == c0)
    # the middle block in P's eigenbasis: columns the even vectors, then the odd ones
    pos = np.empty(d, dtype=np.int64)
    pos[mid] = np.arange(mid.size)
    Wm, ne = _permutation_eigenbasis(pos[perm[mid]])  # P maps the middle block onto itself
    W = Wm.toarray()
    nm = mid.size
    nu = up.size
    dk = nu + nm
    # E: K -> H (columns: the folded basis in H); R: H -> K (rows: the upper blocks, those below
    # the middle reflected onto them by P, the middle in P's eigenbasis)
    kindex = np.full(d, -1, dtype=np.int64)
    kindex[up] = np.arange(nu)
    Wc = sp.coo_array(Wm)
    E = sp.csr_array(
        (np.concatenate([np.ones(nu), Wc.data]),
         (np.concatenate([up, mid[Wc.row]]), np.concatenate([np.arange(nu), nu + Wc.col]))),
        shape=(d, dk),
    )  # fmt: skip
    down = np.flatnonzero(two < c0)
    R = sp.csr_array(
        (np.concatenate([np.ones(nu + down.size), Wc.data]),
         (np.concatenate([np.arange(nu), kindex[perm[down]], nu + Wc.col]),
          np.concatenate([up, down, mid[Wc.row]]))),
        shape=(dk, d),
    )  # fmt: skip
    labels = np.concatenate([two[up] - c0, np.zeros(ne, dtype=np.int64), -np.ones(nm - ne, dtype=np.int64)])
    # H on K: its blocks (the rounding of the middle block's rotation across parities dropped)
    Hk = sp.coo_array(E.T @ H @ E)
    keep = (labels[Hk.row] == labels[Hk.col]) & (Hk.data != 0)
    Hk = sp.csr_array((Hk.data[keep], (Hk.row[keep], Hk.col[keep])), shape=(dk, dk))
    new_jumps, jump_charges, images = [], [], []
    for L in jumps:
        LE = sp.coo_array(L @ E)
        T = sp.coo_array(R @ LE)
        folded = frozenset(int(v) for v in np.unique(labels[LE.col[two[LE.row] < c0]]))
        tol = EXCHANGE_RTOL * max(float(np.max(np.abs(L.data), initial=0.0)), 1e-300)
        big = np.abs(T.data) > tol
        rows, colsT, vals = T.row[big], T.col[big], T.data[big]
        # one jump per (source block, target block): the image of each block on its own
        key = labels[colsT] * (2 * dk + 3) + labels[rows]
        for k in np.unique(key):
            sel = key == k
            piece = sp.csr_array((vals[sel], (rows[sel], colsT[sel])), shape=(dk, dk))
            new_jumps.append(Jump(op=piece, rate=1.0, label=f"fold {len(new_jumps)}"))
            jump_charges.append(int(labels[rows[sel][0]] - labels[colsT[sel][0]]))
        images.append((sp.csr_array((vals, (rows, colsT)), shape=(dk, dk)), folded))
    sym = U1Symmetry(labels, tuple(jump_charges), f"detected {name} fold")
    folded_model = LindbladModel(
        dims=(dk,), H=Hk, jumps=tuple(new_jumps), symmetries=(sym,), name=f"{model.name} [folded]"
    )
    sector = steady_sector(folded_model, check=False)
    return Fold(folded_model, sector, name, perm, c0, W, tuple(images))


def detect_invariant_subspaces(model) -> list[np.ndarray]:
    """Basis subsets that the dynamics never connects (a strong symmetry).

    Builds the undirected graph with an edge ``i -- j`` wherever ``H`` or a
    jump operator has an entry ``(i, j)``; each connected component is an
    invariant subspace of every operator, so a model with more than one
    component has (at least) one steady state per component.

    Returns
    -------
    list of numpy.ndarray
        The basis indices of each component (one array if connected).
    """
    from scipy.sparse.csgraph import connected_components

    model = as_model(model)
    rows, cols = [], []
    for op in [model.H] + [j.op for j in model.jumps if j.rate > 0]:
        A = op if isinstance(op, (sp.csr_array, sp.csr_matrix)) else sp.csr_array(op)
        r, c = _entries(A)
        nz = np.asarray(A.data) != 0  # a stored zero is no edge
        rows.append(r[nz])
        cols.append(c[nz])
    d = model.dim
    row, col = np.concatenate(rows), np.concatenate(cols)
    G = sp.csr_array((np.ones(row.size, dtype=np.int8), (row, col)), shape=(d, d))
    n, lab = connected_components(G, directed=False)  # edges taken both ways
    if n == 1:
        return [np.arange(d)]
    return [np.flatnonzero(lab == c) for c in range(n)]


# ---------------------------------------------------------------- block operators
class _BlockData:
    """Blocks of ``A = -i H_eff`` and of each jump, for one sector."""

    def __init__(self, sector: Sector, model: LindbladModel, split: bool = True):
        """``split``: the diagonal jumps and ``H``'s diagonal as an exactly computed diagonal
        ``self.diag`` (:func:`qness.liouvillian.split_diagonal`, for the action); ``False`` keeps
        ``A = -i H_eff`` and every jump (the two-level preconditioner's coarse space reads them)."""
        self.sector = sector
        split = split_diagonal(model) if split else None
        self.diag = None
        if split is None:
            A = sp.csr_array(-1j * model.H_eff())
            jumps = [(j.label, np.sqrt(j.rate) * j.op) for j in model.jumps if j.rate != 0 and j.op.nnz]
        else:
            A, _, part = split
            jumps = [(j.label, j.L) for j in model.jumps if j.rate != 0 and j.op.nnz]
            jumps = [(label, L) for label, L in jumps if not is_diagonal(L)]
            flat = sector._flat  # (Sector.indices, computed once)
            self.diag = part(flat % sector.d, flat // sector.d)
        self.A = []
        for idx in sector.blocks:
            self.A.append(sp.csr_array(A[idx][:, idx]))
        pair_index = {(int(bl), int(br)): p for p, (bl, br) in enumerate(sector.pairs)}
        # For each jump: list of (source pair, target pair, L block for left, L block for right)
        blk = np.empty(sector.d, dtype=np.int64)
        for b, idx in enumerate(sector.blocks):
            blk[idx] = b
        self.terms = []
        for label, L in jumps:
            L = sp.csr_array(L)
            coo = L.tocoo()
            target = {}
            for r, c in zip(blk[coo.row], blk[coo.col]):
                if target.setdefault(int(c), int(r)) != int(r):
                    raise ValueError(f"jump {label} maps one block into several: symmetry broken")
            Lb = {c: sp.csr_array(L[sector.blocks[t]][:, sector.blocks[c]]) for c, t in target.items()}
            for p, (bl, br) in enumerate(sector.pairs):
                bl, br = int(bl), int(br)
                if bl in target and br in target:
                    q = pair_index.get((target[bl], target[br]))
                    if q is None:
                        raise ValueError(f"jump {label} leaves the sector: symmetry broken")
                    self.terms.append((p, q, Lb[bl], Lb[br]))


class _TraceRow:
    """``x -> t @ x`` for a trace vector ``t`` (:meth:`Sector.trace_vector`), from its nonzero
    entries only: ``t`` is nonzero on the ``d`` diagonal elements of an ``n``-unknown sector, and the
    dense product converted ``t`` to complex and read all ``n`` entries at every Krylov step."""

    def __init__(self, t: np.ndarray):
        t = np.asarray(t)
        self.index = np.flatnonzero(t)
        self.weights = np.ascontiguousarray(t[self.index])

    def __call__(self, x: np.ndarray) -> complex:
        return self.weights @ x[self.index]


def _assemble_block_data(data: _BlockData) -> sp.csr_array:
    """The sector matrix of the block data ``data`` (its blocks of ``A = -i H_eff`` and jump terms).

    Pair ``q = (bl, br)`` (vectors column-stacked within the pair): ``A_bl X + X A_br^+`` is
    ``I (x) A_bl + conj(A_br) (x) I``, and a jump term ``L_l X_p L_r^+`` from pair ``p`` is
    ``conj(L_r) (x) L_l`` in the rows of ``q`` and the columns of ``p``. For operators that are not
    a model's own (:meth:`Fold.odd_matrix`); a model's sector has the compiled :meth:`Sector.matrix`.
    """
    sec = data.sector
    n = sec.size
    incoming = [[] for _ in sec.pairs]
    for p, q, Ll, Lr in data.terms:
        incoming[q].append((p, Ll, Lr))
    rows = []
    for q, (bl, br) in enumerate(sec.pairs):
        ml, mr = len(sec.blocks[bl]), len(sec.blocks[br])
        size = ml * mr
        own = sp.kron(sp.identity(mr, format="csr"), data.A[bl], format="csr")
        own = own + sp.kron(data.A[br].conj(), sp.identity(ml, format="csr"), format="csr")
        parts = [(int(sec.pstart[q]), own)]
        parts += [(int(sec.pstart[p]), sp.kron(Lr.conj(), Ll, format="csr")) for p, Ll, Lr in incoming[q]]
        row = None
        for offset, B in parts:  # each part in the columns of its source pair: a row block of n columns
            B = sp.csr_array((B.data, B.indices.astype(np.int64) + offset, B.indptr), shape=(size, n))
            row = B if row is None else row + B
        rows.append(row)
    # (row blocks stacked: 5x faster than one COO -> CSR conversion, 0.8 s at XXZ 12's odd states)
    M = sp.csr_array(sp.vstack(rows, format="csr"))
    M.sum_duplicates()
    if n < 2**31 - 1 and M.nnz < 2**31 - 1:
        M.indptr, M.indices = M.indptr.astype(np.int32), M.indices.astype(np.int32)
    return M


def has_compiled_action(sector: Sector, model) -> bool:
    """Whether the matrix-free action of ``model`` on ``sector`` is the compiled OpenMP kernel
    (:func:`qness.liouvillian.liouvillian_operator`): one block pair holding every state in its
    natural order, so that the sector vector is ``vec(rho)`` itself. Other sectors are applied
    block pair by block pair with sparse products (:class:`_SectorOperator`)."""
    d = sum(len(b) for b in sector.blocks)
    return (
        HAVE_KERNELS
        and len(sector.pairs) == 1
        and sector.size == d * d
        and np.array_equal(sector.blocks[0], np.arange(d))
        and isinstance(model, LindbladModel)
    )


class _SectorOperator(spla.LinearOperator):
    def __init__(self, sector: Sector, model: LindbladModel, data: _BlockData | None = None):
        """``data``: the blocks and jump terms, when they are not ``model``'s own (then the compiled
        Liouvillian of ``model`` is never used in their place)."""
        self.sector = sector
        own = data is None
        self.data = _BlockData(sector, model) if data is None else data
        self.Aconj = [sp.csr_array(a.conj()) for a in self.data.A]
        self.terms = [(p, q, Ll, sp.csr_array(Lr.conj())) for p, q, Ll, Lr in self.data.terms]
        self.incoming = [[] for _ in range(len(sector.pairs))]
        for p, q, Ll, Lrc in self.terms:
            self.incoming[q].append((p, Ll, Lrc))
        # cost of a pair's rows: the sparse products by A and by the jumps into it
        cost = np.zeros(len(sector.pairs))
        for q, (bl, br) in enumerate(sector.pairs):
            ml, mr = len(sector.blocks[bl]), len(sector.blocks[br])
            cost[q] = self.data.A[bl].nnz * mr + self.data.A[br].nnz * ml
            for _p, Ll, Lrc in self.incoming[q]:
                cost[q] += Ll.nnz * Lrc.shape[1] + Lrc.nnz * Ll.shape[0]
        self.runner_costs = cost
        self.runner = _PairRunner(cost)
        # one block pair holding every state in its natural order: the sector vector is vec(rho)
        # itself, and the compiled OpenMP kernel (columns split over threads) is several times
        # faster than the sparse-times-dense products of _pair (measured: dissipative Ising, 10
        # spins, one application 0.32 s vs 1.6 s on one thread)
        self._kernel = None
        if own and has_compiled_action(sector, model):
            from .liouvillian import liouvillian_operator

            self._kernel = liouvillian_operator(model)
        super().__init__(dtype=np.complex128, shape=(sector.size, sector.size))

    def _pair(self, q, X, Y):
        # X A^+ = (conj(A) X^T)^T and L X L^+ = (conj(L) (L X)^T)^T: no conjugated copies.
        bl, br = self.sector.pairs[q]
        Xq = X[q]
        Y[q][...] = self.data.A[bl] @ Xq
        Y[q] += (self.Aconj[br] @ Xq.T).T
        for p, Ll, Lrc in self.incoming[q]:
            Y[q] += (Lrc @ (Ll @ X[p]).T).T

    def _matvec(self, x):
        sec = self.sector
        x = np.asarray(x, dtype=np.complex128).ravel()
        if self._kernel is not None:
            return np.asarray(self._kernel @ x).ravel()
        X = sec.split(x)
        y = np.empty_like(x)
        Y = sec.split(y)
        self.runner.run(lambda q: self._pair(q, X, Y))
        if getattr(self.data, "diag", None) is not None:
            y += self.data.diag * x
        return y

    def matvec_serial(self, x):
        """Reference twin of the threaded action: the pairs one after the other (tests)."""
        sec = self.sector
        x = np.asarray(x, dtype=np.complex128).ravel()
        X = sec.split(x)
        y = np.empty_like(x)
        Y = sec.split(y)
        for q in range(len(sec.pairs)):
            self._pair(q, X, Y)
        if getattr(self.data, "diag", None) is not None:
            y += self.data.diag * x
        return y


def _pair_costs(sector: Sector) -> np.ndarray:
    """Multiply-adds of the four dense products of each block pair, ``m_l m_r (m_l + m_r) * 2``."""
    sizes = np.array([len(b) for b in sector.blocks], dtype=float)
    pairs = np.asarray(sector.pairs).reshape(-1, 2)
    ml, mr = sizes[pairs[:, 0]], sizes[pairs[:, 1]]
    return 2.0 * ml * mr * (ml + mr)


#: Largest 1-norm condition number of a block's eigenvector matrix for which the
#: no-jump inverse goes through the eigendecomposition. The error of that route grows
#: like ``eps * cond(V)^1.5..2`` (measured on driven Jaynes-Cummings blocks: 3e-12 at
#: cond 3e3, 4e-10 at 4e4, 1e-7 at 9e5, 0.5 at 2e9); above this bound the block pair is
#: solved through the complex Schur form instead (Bartels-Stewart).
EIG_COND_MAX = 1e4
#: ``_SylvesterInverse.single()`` runs a pair in complex64 only when ``cond_1(V_l) cond_1(V_r)``
#: is at most this: ``EIG_COND_MAX**2``, every pair of the eigenvector route. By the error law
#: above, complex64 products lose up to about ``6e-8 (cond_l cond_r)^0.75``, 1e-2 relative at the
#: bound, which flexible GMRES absorbs (it minimises over the vectors the inexact preconditioner
#: gave). Measured (session 15) with the bound at 1e7 and at 1e8, on the models between the two:
#: Bose-Hubbard 4 sites, cutoff 5 (cond product 1.6e7) 45 + 30 GMRES steps in complex128 (no-jump
#: inverse alone, 12.3-13.8 s) against 29 + 18 two-step in complex64 (7.5 s); driven Kerr modes
#: of 40 and 50 states (3.3e7) 185 + 193 and 293 + 160 against 87 + 74 and 149 + 68; Bose-Hubbard
#: dimer, cutoff 10 (1.3e7) 34 + 30 against 23 + 19; the states agree with the LU's as closely in
#: both precisions (2e-10 at Kerr 40, 6e-13 elsewhere), every check verified.
SINGLE_COND_MAX = EIG_COND_MAX**2
#: A pair on the Schur route runs in complex64 when, on a random right-hand side, its complex64
#: solve agrees with the complex128 one to this relative accuracy (tested once per pair,
#: :meth:`_SylvesterInverse._schur_single_ok`). The unitary transforms lose nothing, but the
#: triangular solve's rounding is amplified by ``1 / sep(T_l, -T_r^+)``, which strong non-normality
#: can make far larger than the inverse of the smallest denominator. Measured (session 15), one
#: application's relative difference: driven Jaynes-Cummings with 40 and 150 photons (cond(V) 1.7e9,
#: 4.6e15) 3.7e-7 and 5.1e-7, Tavis-Cummings (3 qubits, cavity of 20) 4.7e-7; `Krylov()` then takes
#: two-step in complex64: JC 80 9.3 -> 3.1 s, JC 150 32 -> 23 s (their checks, which had stopped
#: unverified after 400 steps, verified in 81 and 188), Tavis-Cummings 20 4.5 -> 4.0 s (223 -> 125
#: steps), JC 40 0.64 -> 0.71 s.
SCHUR_SINGLE_RTOL = 1e-3
#: ... and the solves run in complex64 at all only when the no-jump part is this far from
#: singular (``_SylvesterInverse.relative_gap``: smallest denominator over the largest eigenvalue
#: of ``-i H_eff``). Nearer to singular the preconditioner's output spans many orders of magnitude
#: and complex64 loses its small components: dissipative Ising 6 with gamma = 1e-9 (relative gap
#: 2.7e-10) stalled in single and took 10 steps in double; superradiant qubits with local decay
#: 1e-3 (6.5e-4) took 24 steps instead of 10. The Bose-Hubbard trimer at cutoff 8 (7.5e-3) keeps
#: its steps in single (28 against 27) and gains 25-35%; the other models measured to gain have at
#: least 4e-2 (benchmarks/RESULTS.md, session 6).
SINGLE_MIN_GAP = 3e-3
#: ... and only when the largest ``|eigenvalue|`` of ``-i H_eff`` lies in this range: the
#: steady-state system's trace row has weight 1, and a Liouvillian of a very different scale
#: (units in which the rates are 1e-9, or 1e6) spreads the preconditioned vectors over as many
#: orders of magnitude (dissipative Ising 4 with H and rates times 1e-9: a false non-uniqueness
#: in single and in two-step). The models measured to gain have 2-50.
SINGLE_SCALE = (1e-2, 1e4)


#: Eigendecompositions of the blocks of ``-i H_eff`` (:func:`_block_eig`), keyed by the block's
#: basis indices, for the models inside :func:`shared_block_eig` only: the parity -1 sector's
#: uniqueness check has the same blocks as the solve (Ising 9 in its reflection basis: 0.13 s of the
#: check's 0.87 s went into computing them again), and outside a solve they would only hold memory
_BLOCK_EIG: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def shared_block_eig(model):
    """Within the block, no-jump preconditioners of ``model`` share their blocks' eigendecompositions."""
    fresh = model not in _BLOCK_EIG
    if fresh:
        _BLOCK_EIG[model] = {}
    try:
        yield
    finally:
        if fresh:
            _BLOCK_EIG.pop(model, None)


def _block_eig(Ab: np.ndarray):
    """``(D, V, V^{-1}, cond_1(V))`` of a dense block (``V^{-1}`` None and ``cond`` inf if defective)."""
    with one_blas_thread():
        D, V = sla.eig(Ab)
    try:
        with warnings.catch_warnings():
            # ill-conditioning is measured by the caller and routed to the Schur form
            warnings.simplefilter("ignore", sla.LinAlgWarning)
            Vinv = sla.inv(V, check_finite=False)
    except (sla.LinAlgError, ValueError):
        return D, V, None, np.inf  # defective: Schur route
    cond = float(np.linalg.norm(V, 1) * np.linalg.norm(Vinv, 1))
    return D, V, Vinv, cond if np.isfinite(cond) else np.inf


class _SylvesterInverse(spla.LinearOperator):
    """``(L0 - shift)^{-1}`` block pair by block pair.

    For a pair ``(bl, br)`` the equation is ``A_l X + X A_r^+ - shift X = Y``
    with ``A_b = -i H_eff`` restricted to block ``b``. Where the eigenvector
    matrices of both blocks are well conditioned (``cond_1(V) <= EIG_COND_MAX``)
    it is solved through ``A_b = V_b D_b V_b^{-1}`` (four matrix products and a
    division); otherwise through the complex Schur forms ``A_b = U_b T_b U_b^+``:
    ``(T_l - shift) Z + Z T_r^+ = U_l^+ Y U_r``, a triangular Sylvester equation,
    and ``X = U_l Z U_r^+``, which is backward stable whatever the
    non-normality of ``H_eff`` (a driven cavity coupled to a qubit has
    ``cond(V)`` of 1e9 at 40 photons).
    """

    variant = "jacobi"
    _c64 = None  # complex64 copies of the eigenvector route, on views made by single()
    _c64_schur = None  # ... and of the Schur route's pairs that pass _schur_single_ok

    def __init__(self, sector: Sector, model: LindbladModel, shift: float):
        self.sector = sector
        A = sp.csr_array(-1j * model.H_eff())
        nb = len(sector.blocks)
        self.V, self.Vinv, self.D = [None] * nb, [None] * nb, [None] * nb
        self.cond = np.full(nb, np.inf)
        dense = []
        scale = 0.0
        cache = _BLOCK_EIG.get(model, {})
        for b, idx in enumerate(sector.blocks):
            Ab = A[idx][:, idx].toarray()
            dense.append(Ab)
            key = idx.tobytes()
            found = cache.get(key)
            if found is None:
                found = _block_eig(Ab)
                if model in _BLOCK_EIG:
                    cache[key] = found
            D, V, Vinv, cond = found
            self.D[b] = D
            scale = max(scale, float(np.max(np.abs(D.real), initial=0.0)))
            self.cond[b] = cond
            if cond <= EIG_COND_MAX:
                self.V[b] = (V, np.ascontiguousarray(V.conj().T))
                self.Vinv[b] = (Vinv, np.ascontiguousarray(Vinv.conj().T))
        safe = self.cond <= EIG_COND_MAX
        self.schur_pair = np.array([not (safe[bl] and safe[br]) for bl, br in sector.pairs], dtype=bool)
        need = np.zeros(nb, dtype=bool)
        for (bl, br), s in zip(sector.pairs, self.schur_pair):
            if s:
                need[bl] = need[br] = True
        self.tri, self.U = [None] * nb, [None] * nb
        for b in np.flatnonzero(need):
            with one_blas_thread():
                T, U = sla.schur(dense[b], output="complex", check_finite=False)
            self.tri[b] = T
            self.U[b] = (U, np.ascontiguousarray(U.conj().T))
            # Schur diagonal = eigenvalues; use it for the denominators' floor test
            self.D[b] = np.diag(T).copy()
        floor = 1e-8 * max(scale, 1e-300)
        self.floor = floor
        self.shift = shift
        self.den = [self._denominators(p, shift) for p in range(len(sector.pairs))]
        # how close L0 - shift comes to singular: the smallest denominator against the largest
        # eigenvalue of A (states untouched by dissipation, or nearly so, make it small)
        top = max((float(np.max(np.abs(D), initial=0.0)) for D in self.D), default=0.0)
        low = np.inf
        for bl, br in sector.pairs:
            den = np.abs(self.D[bl][:, None] + self.D[br].conj()[None, :] - shift)
            low = min(low, float(np.min(den, initial=np.inf)))
        self.relative_gap = low / top if top > 0 else 0.0
        self._schur_tested = {}  # pair -> whether its complex64 solve passed (_schur_single_ok)
        self.scale = top
        self.runner_costs = _pair_costs(sector)
        self.runner = _PairRunner(self.runner_costs)
        super().__init__(dtype=np.complex128, shape=(sector.size, sector.size))

    @property
    def route(self) -> str:
        """``"eig"``, ``"schur"`` or ``"mixed"``: how the block pairs are solved."""
        if not self.schur_pair.any():
            return "eig"
        return "schur" if self.schur_pair.all() else "mixed"

    def _denominators(self, p: int, shift) -> np.ndarray:
        bl, br = self.sector.pairs[p]
        den = self.D[bl][:, None] + self.D[br].conj()[None, :] - shift
        small = np.abs(den) < self.floor
        if self.schur_pair[p]:
            # rows of T_l whose diagonal meets a (near-)zero denominator are moved left by
            # 2*floor: every denominator of those rows then has modulus >= floor
            return np.any(small, axis=1)
        return np.where(small, -self.floor, den) if np.any(small) else den

    def _matvec(self, y):
        return self.solve(y)

    def solve(self, y, shift: complex | None = None) -> np.ndarray:
        """``(L0 - shift)^{-1} y``; ``shift=None`` uses the shift given at construction.

        Denominators ``lambda_i + conj(lambda_j) - shift`` smaller than
        ``1e-8`` times the dissipation scale (states untouched by dissipation)
        are regularised, since this is only a preconditioner. The block
        pairs are solved in parallel (see :class:`_PairRunner`).
        """
        sec = self.sector
        y = np.asarray(y, dtype=np.complex128).ravel()
        x = np.empty_like(y)
        X = sec.split(x)
        Ys = sec.split(y)
        run = self.runner

        def one(p):
            self._solve_pair(p, Ys[p], X[p], shift, run.split_threads)

        run.run(one)
        return x

    def solve_serial(self, y, shift: complex | None = None) -> np.ndarray:
        """Reference twin of :meth:`solve`: the block pairs one after the other (tests)."""
        sec = self.sector
        y = np.asarray(y, dtype=np.complex128).ravel()
        x = np.empty_like(y)
        X = sec.split(x)
        for p, Yp in enumerate(sec.split(y)):
            self._solve_pair(p, Yp, X[p], shift, 1)
        return x

    def single_pays(self) -> bool:
        """Whether complex64 no-jump solves are worth taking: some pair runs in complex64,
        ``relative_gap >= SINGLE_MIN_GAP`` and ``scale`` within :data:`SINGLE_SCALE`."""
        in_range = SINGLE_SCALE[0] <= self.scale <= SINGLE_SCALE[1]
        return in_range and self.relative_gap >= SINGLE_MIN_GAP and bool(self._single_pairs())

    def _single_pairs(self) -> list[int]:
        """The block pairs :meth:`single` runs in complex64: on the eigenvector route those with
        ``cond_1(V_l) cond_1(V_r) <= SINGLE_COND_MAX``, on the Schur route those whose complex64
        solve passes :meth:`_schur_single_ok`."""
        return [
            p
            for p, (bl, br) in enumerate(self.sector.pairs)
            if (
                self._schur_single_ok(p)
                if self.schur_pair[p]
                else self.cond[bl] * self.cond[br] <= SINGLE_COND_MAX
            )
        ]

    def _schur_arrays64(self, p: int) -> tuple:
        """Complex64 copies for the Schur route of pair ``p`` (zero shift): ``U_l^+, U_r, U_l, U_r^+``,
        the regularised ``T_l`` and ``T_r``."""
        bl, br = self.sector.pairs[p]
        T1 = self._left_triangle(p, self.den[p], 0.0)
        c = np.complex64
        Ul, Ur = self.U[bl], self.U[br]
        return tuple(np.ascontiguousarray(a, dtype=c) for a in (Ul[1], Ur[0], Ul[0], Ur[1], T1, self.tri[br]))

    def _left_triangle(self, p: int, den, s) -> np.ndarray:
        """``T_l - s`` of Schur-route pair ``p``, its rows flagged in ``den`` (a near-zero
        denominator) moved left by ``2 floor`` (see :meth:`_denominators`)."""
        bl = self.sector.pairs[p][0]
        T1 = self.tri[bl] - s * np.eye(len(self.D[bl]))
        if np.any(den):
            rows = np.flatnonzero(den)
            T1[rows, rows] -= 2.0 * self.floor
        return T1

    def _schur_single_ok(self, p: int) -> bool:
        """Whether the Schur-route pair ``p`` keeps :data:`SCHUR_SINGLE_RTOL` in complex64: its
        complex64 and complex128 solves of one random right-hand side (Hermitian on a diagonal
        pair, as the steady-state solve's), compared once (cached)."""
        if self.shift != 0:
            return False
        if p not in self._schur_tested:
            bl, br = self.sector.pairs[p]
            rng = np.random.default_rng(p)
            Y = rng.standard_normal((len(self.D[bl]), len(self.D[br]))) + 1j * rng.standard_normal(
                (len(self.D[bl]), len(self.D[br]))
            )
            if bl == br:
                Y = Y + Y.conj().T
            want = np.empty_like(Y)
            self._solve_pair(p, Y, want, None, 1)
            got = np.empty_like(Y)
            self._solve_schur64(self._schur_arrays64(p), Y, got, bl == br, 1)
            err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)
            self._schur_tested[p] = bool(err <= SCHUR_SINGLE_RTOL)
        return self._schur_tested[p]

    @staticmethod
    def _solve_schur64(arrays, Yp, Xp, diagonal: bool, nthreads: int) -> None:
        """The Schur route of one pair in complex64 (``arrays`` from :meth:`_schur_arrays64`); a
        Hermitian right-hand side on a diagonal pair gives an exactly Hermitian result."""
        UlH, Ur, Ul, UrH, T1, T2 = arrays
        Y = Yp.astype(np.complex64)
        herm = diagonal and _hermitian(Y)
        G = _mm(_mm(UlH, Y, nthreads), Ur, nthreads)
        Z = triangular_sylvester(_ctrsyl, T1, T2, G)
        X = _mm(_mm(Ul, Z, nthreads), UrH, nthreads)
        if herm:
            X += X.conj().T
            X *= 0.5
        Xp[...] = X

    def single(self) -> _SylvesterInverse:
        """The same inverse with the eigenvector products in complex64 (a view sharing the set-up).

        Pairs on the eigenvector route whose two eigenvector matrices have
        ``cond_1(V_l) cond_1(V_r) <= SINGLE_COND_MAX`` run their four dense
        products in single precision (half the memory traffic, about twice
        the BLAS speed), and so do the Schur route's pairs whose complex64
        solve was measured to keep :data:`SCHUR_SINGLE_RTOL` (their products
        and triangular solve); the others stay in double.
        The result is only accurate to about ``1e-7`` to ``1e-3`` relative: use it
        inside flexible GMRES (``gmres(..., flexible=True)``), which
        tolerates an inexact preconditioner, never where ``M`` must be one
        fixed linear map.
        """
        if self._c64 is not None:
            return self
        view = copy.copy(self)
        c64, schur = {}, {}
        for p in self._single_pairs():
            bl, br = self.sector.pairs[p]
            if self.schur_pair[p]:
                schur[p] = self._schur_arrays64(p)
                continue
            c64[p] = tuple(
                np.ascontiguousarray(a, dtype=np.complex64)
                for a in (self.Vinv[bl][0], self.Vinv[br][1], self.V[bl][0], self.V[br][1], 1.0 / self.den[p])
            )
        view._c64 = c64
        view._c64_schur = schur
        return view

    def _solve_pair(self, p, Yp, Xp, shift, nthreads):
        bl, br = self.sector.pairs[p]
        if shift is None and self._c64_schur is not None and p in self._c64_schur:
            self._solve_schur64(self._c64_schur[p], Yp, Xp, bl == br, nthreads)
            return
        if shift is None and self._c64 is not None and p in self._c64:
            Vil, Vir, Vl, Vr, iden = self._c64[p]
            Y = Yp.astype(np.complex64)
            # a Hermitian block on the diagonal stays Hermitian through both transforms (the
            # denominators are conjugate-symmetric): the second product of each needs only its
            # lower triangle (_mm_hermitian, large blocks), and the result is made exactly
            # Hermitian (small blocks: symmetrised), so that no complex64 rounding makes the
            # Krylov vectors drift from Hermitian (without it their anti-Hermitian parts grew from
            # 1e-6 to 5e-4 of them over the steps of dissipative Ising 9)
            herm = bl == br and _hermitian(Y)
            last = _mm_hermitian if herm and Y.shape[0] >= HERMITIAN_MIN_ROWS else _mm
            Z = last(_mm(Vil, Y, nthreads), Vir, nthreads)
            Z *= iden
            X = last(_mm(Vl, Z, nthreads), Vr, nthreads)
            if herm and last is _mm:
                X += X.conj().T
                X *= 0.5
            Xp[...] = X
            return
        den = self.den[p] if shift is None else self._denominators(p, shift)
        s = self.shift if shift is None else shift
        if self.schur_pair[p]:
            Ul, Ur = self.U[bl], self.U[br]
            T1 = self._left_triangle(p, den, s)
            G = _mm(_mm(Ul[1], Yp, nthreads), Ur[0], nthreads)
            Z = triangular_sylvester(_ztrsyl, T1, self.tri[br], G)
            Xp[...] = _mm(_mm(Ul[0], Z, nthreads), Ur[1], nthreads)
        else:
            Z = _mm(_mm(self.Vinv[bl][0], Yp, nthreads), self.Vinv[br][1], nthreads)
            Z /= den
            Xp[...] = _mm(_mm(self.V[bl][0], Z, nthreads), self.V[br][1], nthreads)


# ---------------------------------------------------------------- parallel block loops
#: Below this many complex multiply-adds per application the block loops run on one
#: thread (waking a worker costs tens of microseconds).
PARALLEL_MIN_WORK = 2_000_000
#: A product is split by rows over the threads only when it has at least this many rows.
SPLIT_MIN_ROWS = 128

_pool_lock = threading.Lock()
_pool = None


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="qness-blocks")
        return _pool


def block_threads(work: float) -> int:
    """Threads for the block loops of one application of ``work`` multiply-adds.

    ``QNESS_BLOCK_THREADS`` if set, else ``OMP_NUM_THREADS`` (as the compiled
    kernels), else the number of CPUs; one below :data:`PARALLEL_MIN_WORK`.
    """
    if work < PARALLEL_MIN_WORK:
        return 1
    for var in ("QNESS_BLOCK_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var)
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                return 1
    return max(1, os.cpu_count() or 1)


def _mm(a, b, nthreads: int):
    """``a @ b``, the rows of ``a`` split over ``nthreads`` threads (each product on one BLAS
    thread releases the GIL) when ``a`` is tall enough; a plain product otherwise (complex64
    products by BLAS's 3M method, :func:`qness._blas.matmul`)."""
    n = a.shape[0]
    if nthreads <= 1 or n < SPLIT_MIN_ROWS:
        return matmul(a, b)
    out = np.empty((n, b.shape[1]), dtype=np.result_type(a, b))
    cuts = np.linspace(0, n, nthreads + 1).astype(int)

    def part(k):
        matmul(a[cuts[k] : cuts[k + 1]], b, out=out[cuts[k] : cuts[k + 1]])

    futures = [_executor(nthreads).submit(part, k) for k in range(1, nthreads)]
    part(0)
    for f in futures:
        f.result()
    return out


#: :func:`_mm_hermitian` from blocks of this many rows on (measured on 2 cores in complex64: the
#: product of a 1024 block 0.047 -> 0.026 s, of 924 0.030 -> 0.019 s; a 252 block was slower)
HERMITIAN_MIN_ROWS = 512
#: A square complex64 block is taken as Hermitian (:func:`_hermitian`) when ``HERMITIAN_ROWS``
#: of its rows agree with the conjugates of the matching columns to ``HERMITIAN_RTOL`` of the
#: block's largest entry there. Every operator of the steady-state solve commutes with
#: ``X -> X^H`` and its right-hand side is Hermitian, so the Krylov vectors of the main solve are
#: Hermitian to rounding (GMRES's coefficients are real in exact arithmetic), and a block's
#: Hermitian part is what its no-jump solve then needs (dropping a rounding-level anti-Hermitian
#: part is an inexactness flexible GMRES absorbs); the uniqueness check's random complex vectors
#: fail the test in every row.
HERMITIAN_RTOL = 1e-4
HERMITIAN_ROWS = 8


def _hermitian(Y: np.ndarray) -> bool:
    """Whether the square block ``Y`` is Hermitian, by :data:`HERMITIAN_ROWS` rows against their
    columns (``O(n)``: a full test would cost as much as a tenth of the products it saves)."""
    n = Y.shape[0]
    if n == 0 or Y.shape[1] != n:
        return False
    rows = np.unique(np.linspace(0, n - 1, HERMITIAN_ROWS).astype(int))
    R, C = Y[rows, :], Y[:, rows].T.conj()
    top = float(np.max(np.abs(R)))
    return top > 0 and float(np.max(np.abs(R - C))) <= HERMITIAN_RTOL * top


def _mm_hermitian(a, b, nthreads: int):
    """``a @ b`` for a product known to be Hermitian: its lower triangle by row strips, then mirrored.

    Strip ``i`` (rows ``c_i..c_{i+1}``) is multiplied by the first ``c_{i+1}`` columns of ``b``
    only: about ``(k + 1) / 2k`` of the work of the full product for ``k`` strips of at least
    :data:`SPLIT_MIN_ROWS` rows. The blocks above the diagonal are the conjugate transposes of
    those below; the diagonal blocks are computed in full. Used inside flexible GMRES only
    (:meth:`_SylvesterInverse.single`), where the result's rounding-level departure from
    ``a @ b`` does not matter.
    """
    n = a.shape[0]
    k = max(1, min(16, n // SPLIT_MIN_ROWS))
    c = np.linspace(0, n, k + 1).astype(int)
    out = np.empty((n, b.shape[1]), dtype=np.result_type(a, b))

    def strip(i):
        matmul(a[c[i] : c[i + 1]], b[:, : c[i + 1]], out=out[c[i] : c[i + 1], : c[i + 1]])

    groups = [[] for _ in range(max(1, min(nthreads, k)))]
    loads = np.zeros(len(groups))
    for i in range(k - 1, -1, -1):  # longest first, to the least loaded thread
        g = int(np.argmin(loads))
        groups[g].append(i)
        loads[g] += float(c[i + 1] - c[i]) * c[i + 1]

    def run(g):
        for i in g:
            strip(i)

    futures = [_executor(len(groups)).submit(run, g) for g in groups[1:]]
    run(groups[0])
    for f in futures:
        f.result()
    for i in range(k):
        D = out[c[i] : c[i + 1], c[i] : c[i + 1]]
        D += D.conj().T
        D *= 0.5  # exactly Hermitian, like the mirrored blocks
        for j in range(i + 1, k):
            out[c[i] : c[i + 1], c[j] : c[j + 1]] = out[c[j] : c[j + 1], c[i] : c[i + 1]].conj().T
    return out


class _PairRunner:
    """Runs a function of the block pair ``p`` over all pairs, on ``nthreads`` threads.

    The pairs are split into ``nthreads`` groups of about equal cost (longest
    processing time first); each group runs on one thread, its dense products
    on one BLAS thread (NumPy releases the GIL in them). When one pair costs
    more than a ``1 / nthreads`` share, the pairs run one after the other and
    each product is split by rows instead (``split_threads``).

    Parameters
    ----------
    costs : array_like
        Estimated cost of each pair (multiply-adds).
    nthreads : int, optional
        Default :func:`block_threads` of the total cost.
    """

    def __init__(self, costs, nthreads: int | None = None):
        costs = np.asarray(costs, dtype=float)
        total = float(costs.sum())
        self.nthreads = block_threads(total) if nthreads is None else max(1, int(nthreads))
        self.npairs = costs.size
        self._split = 1
        if self.nthreads == 1 or self.npairs == 0:
            self.groups = [list(range(self.npairs))]
            return
        if costs.max() > total / self.nthreads:
            self._split = self.nthreads
            self.groups = [list(range(self.npairs))]
            return
        loads = np.zeros(self.nthreads)
        groups = [[] for _ in range(self.nthreads)]
        for p in np.argsort(-costs, kind="stable"):
            k = int(np.argmin(loads))
            groups[k].append(int(p))
            loads[k] += costs[p]
        self.groups = [sorted(g) for g in groups if g]

    @property
    def split_threads(self) -> int:
        """Threads each product of a pair is split over (1 while streams run alongside:
        :func:`qness.liouvillian.work_stream`)."""
        return 1 if streams_alongside() else self._split

    def run(self, fn) -> None:
        """Call ``fn(p)`` for every pair (``fn`` must write disjoint outputs); one after the other
        in this thread while streams run alongside (:func:`qness.liouvillian.work_stream`)."""
        if len(self.groups) == 1 or streams_alongside():
            for g in self.groups:
                for p in g:
                    fn(p)
            return

        def group(g):
            for p in g:
                fn(p)

        pool = _executor(len(self.groups))
        futures = [pool.submit(group, g) for g in self.groups[1:]]
        try:
            group(self.groups[0])
        finally:
            for f in futures:
                f.result()


# ---------------------------------------------------------------- two-level preconditioner
#: ``variant="auto"`` takes the two-level preconditioner for sectors with at least this
#: many diagonal blocks (a U(1) charge). Measured (benchmarks/RESULTS.md, issue 18): on the
#: boundary-driven XXZ chain (9-11 blocks) it halves the GMRES steps and cuts the time; on
#: one-block sectors (dissipative Ising, driven Bose-Hubbard) the coarse space of
#: eigen-populations barely changes the steps while each one costs 2.5x.
TWO_LEVEL_MIN_BLOCKS = 3


#: ``variant="auto"`` on sectors with fewer diagonal blocks: the no-jump inverse alone, or
#: ``"two-step"`` (set from the measurements of benchmarks/RESULTS.md, issue 18). In double
#: precision two-step took 40% fewer steps but 5-10% more time (dissipative Ising 8); with the
#: no-jump solves in complex64 (``precision="single"``) each step costs less and two-step wins:
#: Ising 9 and 10 25% faster, the corpus's one-block Krylov rows 0-30% faster, steps -40%.
ONE_BLOCK_VARIANT = "jacobi"
ONE_BLOCK_VARIANT_SINGLE = "two-step"


def _preconditioner_rule(sector: Sector, precision: str = "double") -> str:
    """The variant ``"auto"`` takes for the steady-state solve of ``sector`` (see
    :data:`TWO_LEVEL_MIN_BLOCKS`, :data:`ONE_BLOCK_VARIANT`)."""
    ndiag = int(np.sum(sector.pairs[:, 0] == sector.pairs[:, 1])) if len(sector.pairs) else 0
    if ndiag >= TWO_LEVEL_MIN_BLOCKS:
        return "two-level"
    return ONE_BLOCK_VARIANT_SINGLE if precision == "single" else ONE_BLOCK_VARIANT


#: Weight of the last no-jump step of the two-level and two-step preconditioners (a damped
#: smoother). With ``S = L0^{-1}`` and ``A = L0 + J``, ``I - S A = -L0^{-1} J`` has the spectrum of
#: ``Psi = -J L0^{-1}``, a trace-preserving completely positive map (``-L0^{-1}`` is the integral of
#: ``rho -> K_t rho K_t^+``, ``K_t = exp(-i H_eff t)``, and ``Psi^+(1) = 1``), so its eigenvalues
#: ``mu`` lie in the unit disk. Undamped, two-step's ``A M = 1 - mu^2`` vanishes at ``mu = -1``, and
#: strong dephasing puts eigenvalues there (``sigma_z rho sigma_z`` flips the sign of every
#: coherence); with weight ``w``, ``A M = (1 - mu)(1 + w mu)`` is at least ``2 (1 - w)`` there.
#: Measured (steps of the solve): boundary-driven XXZ 8 with dephasing 10 did not converge in 2,000
#: steps undamped and takes 320 at 0.8; dephasing 30: 759; 7 spins, transverse field, sigma_x
#: dephasing 5 (two-step): 203 -> 73 (the no-jump inverse alone: 128); the models without strong
#: dephasing take 0-7 % more steps (XXZ 10: 37 -> 38, dissipative Ising 8: 30 -> 32).
SMOOTHING_WEIGHT = 0.8

#: No-jump steps of the two-step preconditioner (:class:`_TwoStepSylvester`): ``k`` steps of the
#: splitting, the last damped by :data:`SMOOTHING_WEIGHT`, give
#: ``A M = 1 - mu^(k-1) ((1 - w) + w mu)``, whose only zero on the closed unit disk is ``mu = 1``.
#: Measured (benchmarks/RESULTS.md, session 17): three steps halve the steps of the no-jump
#: inverse alone on dissipative Ising 9-10 (26/59, 29/64) and the 4-site Bose-Hubbard chain (22/45),
#: four on the Bose-Hubbard ring (11/27), but the solves were as fast or up to 20 % slower (each step
#: costs ``k`` no-jump solves; dephased chains gain no steps from a third), so 2 is kept.
POLYNOMIAL_STEPS = 2


#: :meth:`_TwoLevelSylvester.single` runs the restriction and prolongation in complex64 only when
#: the coarse matrix has ``cond_1(E)`` at most this (measured: 2e2-4e3 on boundary-driven XXZ
#: chains of 6-11 spins, 1.3e4 at 12, where complex64 left the GMRES steps and the residual as
#: they were and cut the CPU time by 14 %; 1e18 with collective dark states, whose check then
#: stalled with them in complex64 and found the dark states with them in double).
COARSE_COND_SINGLE_MAX = 1e6


class _TwoLevelSylvester(spla.LinearOperator):
    """Two-level preconditioner for the trace-augmented steady-state system ``A x = b``.

    ``A`` is the sector's ``L = L0 + J`` (no-jump part ``L0``, jump part
    ``J(rho) = sum_k L_k rho L_k^+``) with row ``r`` replaced by ``c`` times
    the trace row. The no-jump inverse ``S = L0^{-1}`` (block pair by block
    pair) ignores ``J``; GMRES then spends its steps on the slow relaxation
    that the jumps drive between the blocks. The coarse space is the
    populations of each diagonal block pair in the eigenbasis of its block
    of ``A = -i H_eff``: ``P p = V diag(p) V^+`` (``V`` the eigenvectors, or
    the Schur vectors on the Schur route) with restriction
    ``R y = diag(V^{-1} Y V^{-+})``. The coarse matrix is the Galerkin
    product ``E = R A P`` (a rate matrix between eigenstates,
    ``2 Re(lambda_i) delta_ij + sum_k |(V^{-1} L_k V)_ij|^2``, plus the rank-one
    trace-row term), one ``d x d`` LU. One application is multiplicative:

        x1 = S y;  x2 = x1 + P E^{-1} R (y - A x1);  x = x2 + w S (y - A x2),

    two no-jump solves, two matrix-free applications of ``A``, and one
    dense product per diagonal block for each of ``R`` and ``P``; the last
    step damped by ``w =`` :data:`SMOOTHING_WEIGHT` (undamped, modes that the
    jumps flip in sign, as strong dephasing does, make ``A M`` nearly singular).
    """

    variant = "two-level"
    _c64 = None  # complex64 copies of W, W^-1 and their conjugates, on views made by single()

    def __init__(self, sector: Sector, model: LindbladModel, S: _SylvesterInverse, trace_row, matrix=None):
        r, c = trace_row
        r = int(r)
        if not 0 <= r < sector.size:
            raise ValueError(f"trace_row: row {r} outside the sector of {sector.size} unknowns")
        self.sector = sector
        self.S = S
        self.r, self.c = r, complex(c)
        self.t = sector.trace_vector()
        self.trace = _TraceRow(self.t)
        data = _BlockData(sector, model, split=False)  # (H_eff and every jump, for the coarse space)
        # L applied inside: the assembled sector matrix when the caller has it (the compiled
        # product: qness.solvers.steady.assembles), else matrix-free
        self.op = fast_product(matrix) if matrix is not None else _SectorOperator(sector, model)
        pairs = sector.pairs
        self.diag = [int(p) for p in range(len(pairs)) if pairs[p, 0] == pairs[p, 1]]
        self.coff = {}
        o = 0
        self.W, self.Wi = {}, {}
        for p in self.diag:
            b = int(pairs[p, 0])
            if S.V[b] is not None and not S.schur_pair[p]:
                self.W[p], self.Wi[p] = S.V[b][0], S.Vinv[b][0]
            else:
                U = S.U[b][0] if S.U[b] is not None else sla.schur(data.A[b].toarray(), output="complex")[1]
                self.W[p], self.Wi[p] = U, np.ascontiguousarray(U.conj().T)
            self.coff[p] = o
            o += len(sector.blocks[b])
        nc = o
        self.nc = nc
        E = np.zeros((nc, nc), dtype=np.complex128)
        # row r of the replaced system: element (i0, i0) of a diagonal pair
        pr = int(np.searchsorted(sector.pstart, r, side="right") - 1)
        m0 = len(sector.blocks[pairs[pr, 0]])
        i0, j0 = (r - int(sector.pstart[pr])) % m0, (r - int(sector.pstart[pr])) // m0
        if pr not in self.coff or i0 != j0:
            raise ValueError("trace_row: row r must be a diagonal element of a diagonal block pair")
        u = np.zeros(nc)
        ell = np.zeros(nc, dtype=np.complex128)  # row r of (A - L) P: c * trace - L_r
        for p in self.diag:
            b = int(pairs[p, 0])
            W, Wi = self.W[p], self.Wi[p]
            AW = data.A[b] @ W
            sl = slice(self.coff[p], self.coff[p] + W.shape[1])
            E[sl, sl] += np.diag(2.0 * np.einsum("ij,ji->i", Wi, AW).real)
            ell[sl] += self.c * np.sum(np.abs(W) ** 2, axis=0)
            if p == pr:
                u[sl] = np.abs(Wi[:, i0]) ** 2
                ell[sl] -= 2.0 * (AW[i0] * W[i0].conj()).real
        for p, q, Ll, Lr in data.terms:
            if p not in self.coff or q not in self.coff:
                continue
            Ws, Wit = self.W[p], self.Wi[q]
            LlW, LrW = Ll @ Ws, Lr @ Ws
            rows = slice(self.coff[q], self.coff[q] + Wit.shape[0])
            cols = slice(self.coff[p], self.coff[p] + Ws.shape[1])
            E[rows, cols] += (Wit @ LlW) * (Wit @ LrW).conj()
            if q == pr:
                ell[cols] -= LlW[i0] * LrW[i0].conj()
        E += np.outer(u, ell)
        norm1 = float(np.linalg.norm(E, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("error", sla.LinAlgWarning)
            try:
                self.lu = sla.lu_factor(E, check_finite=False)
            except (sla.LinAlgWarning, sla.LinAlgError, ValueError) as exc:
                raise ValueError(f"two-level preconditioner: singular coarse matrix ({exc})") from exc
        gecon = sla.get_lapack_funcs("gecon", (self.lu[0],))
        rcond, _ = gecon(self.lu[0], norm1, norm="1")
        #: estimate of ``cond_1(E)`` (LAPACK ``gecon``): how much the coarse solve amplifies the
        #: rounding of the restriction
        self.coarse_cond = 1.0 / rcond if rcond > 0 else np.inf
        costs = np.zeros(len(pairs))
        for p in self.diag:
            m = self.W[p].shape[0]
            costs[p] = 2.0 * m**3
        self.runner = _PairRunner(costs)
        super().__init__(dtype=np.complex128, shape=(sector.size, sector.size))

    @property
    def route(self) -> str:
        """The route of the no-jump solves (see :meth:`Sector.sylvester_preconditioner`)."""
        return self.S.route

    def _apply_A(self, x):
        y = self.op @ x
        y[self.r] = self.c * self.trace(x)
        return y

    def single(self) -> _TwoLevelSylvester:
        """This preconditioner with its no-jump solves (see :meth:`_SylvesterInverse.single`) and its
        restriction and prolongation in complex64; for flexible GMRES only.

        ``R`` and ``P`` are one dense product per diagonal block each, as costly as the two
        no-jump solves together in double precision; in complex64 they lose about
        ``1e-7 cond(W) cond(E)`` of a coarse correction (``cond(W) <= EIG_COND_MAX``, or 1 on the
        Schur route; ``E`` the coarse matrix), which flexible GMRES absorbs where
        ``cond_1(E) <= COARSE_COND_SINGLE_MAX``; above, ``R`` and ``P`` stay in double. A prolonged
        block whose coarse values are real to :data:`HERMITIAN_RTOL` (every Krylov vector of the
        steady-state solve) is made exactly Hermitian, as the no-jump solves' blocks are.
        """
        if self._c64 is not None or self.S._c64 is not None:
            return self
        view = copy.copy(self)
        view.S = self.S.single()
        if self.coarse_cond > COARSE_COND_SINGLE_MAX:
            return view
        view._c64 = {
            p: tuple(
                np.ascontiguousarray(a, dtype=np.complex64)
                for a in (self.W[p], self.W[p].conj().T, self.Wi[p], self.Wi[p].conj())
            )
            for p in self.diag
        }
        return view

    def _restrict(self, y):
        Y = self.sector.split(y)
        out = np.zeros(self.nc, dtype=np.complex128)
        nth = self.runner.split_threads

        def one(p):
            if self._c64 is not None:
                _, _, Wi, Wic = self._c64[p]
                Yp = Y[p].astype(np.complex64)
            else:
                Wi, Wic, Yp = self.Wi[p], self.Wi[p].conj(), Y[p]
            out[self.coff[p] : self.coff[p] + Wi.shape[0]] = np.sum(_mm(Wi, Yp, nth) * Wic, axis=1)

        self.runner.run(one)
        return out

    def _prolong(self, pc):
        x = np.zeros(self.sector.size, dtype=np.complex128)
        X = self.sector.split(x)
        nth = self.runner.split_threads

        def one(p):
            cp = pc[self.coff[p] : self.coff[p] + self.W[p].shape[1]]
            if self._c64 is None:
                W = self.W[p]
                X[p][...] = _mm(W * cp, W.conj().T, nth)
                return
            W, WH, _, _ = self._c64[p]
            top = float(np.max(np.abs(cp), initial=0.0))
            herm = float(np.max(np.abs(cp.imag), initial=0.0)) <= HERMITIAN_RTOL * top
            Wp = W * (cp.real if herm else cp).astype(np.complex64)
            if herm and W.shape[0] >= HERMITIAN_MIN_ROWS:
                X[p][...] = _mm_hermitian(Wp, WH, nth)
            else:
                Xp = _mm(Wp, WH, nth)
                if herm:
                    Xp += Xp.conj().T
                    Xp *= 0.5
                X[p][...] = Xp

        self.runner.run(one)
        return x

    def _matvec(self, y):
        y = np.asarray(y, dtype=np.complex128).ravel()
        x = self.S @ y
        res = y - self._apply_A(x)
        xc = self._prolong(lu_solve(self.lu, self._restrict(res)))  # (threads share self.lu)
        x += xc
        res -= self._apply_A(xc)
        x += SMOOTHING_WEIGHT * (self.S @ res)
        return x


class _TwoStepSylvester(spla.LinearOperator):
    """Two steps of the splitting ``A = L0 + (A - L0)``: ``x1 = S y``, ``x = x1 + w S (y - A x1)``.

    ``S = L0^{-1}`` (:class:`_SylvesterInverse`), ``A`` the trace-augmented
    sector matrix (row ``r`` replaced by ``c`` times the trace row), or the
    sector's block of ``L`` itself with ``trace_row=None`` (a sector without
    diagonal elements: the parity -1 sector's uniqueness check). A
    polynomial preconditioner: about half the GMRES steps of ``S`` alone at
    twice the cost of each (the basis, and its Gram-Schmidt work, shrink).
    The second step is damped by ``w =`` :data:`SMOOTHING_WEIGHT`: undamped,
    ``A M = 1 - mu^2`` for the eigenvalues ``mu`` of ``-J L0^{-1}``, which vanishes
    at ``mu = -1`` (strong dephasing). :data:`POLYNOMIAL_STEPS` sets the number of
    steps (two; more were measured and not kept).
    """

    variant = "two-step"

    def __init__(self, sector: Sector, model: LindbladModel, S: _SylvesterInverse, trace_row, matrix=None):
        r, c = trace_row if trace_row is not None else (None, 0.0)
        if r is not None and not 0 <= int(r) < sector.size:
            raise ValueError(f"trace_row: row {r} outside the sector of {sector.size} unknowns")
        self.S, self.r, self.c = S, None if r is None else int(r), complex(c)
        self.t = sector.trace_vector()
        self.trace = _TraceRow(self.t)
        # as in two-level
        self.op = fast_product(matrix) if matrix is not None else _SectorOperator(sector, model)
        super().__init__(dtype=np.complex128, shape=(sector.size, sector.size))

    @property
    def route(self) -> str:
        """The route of the no-jump solves (see :meth:`Sector.sylvester_preconditioner`)."""
        return self.S.route

    def single(self) -> _TwoStepSylvester:
        """This preconditioner with its no-jump solves in complex64 (see
        :meth:`_SylvesterInverse.single`; for flexible GMRES only)."""
        view = copy.copy(self)
        view.S = self.S.single()
        return view

    def _matvec(self, y):
        y = np.asarray(y, dtype=np.complex128).ravel()
        x = self.S @ y
        steps = max(int(POLYNOMIAL_STEPS), 2)
        for k in range(1, steps):
            res = y - self.op @ x
            if self.r is not None:
                res[self.r] = y[self.r] - self.c * self.trace(x)
            x += (SMOOTHING_WEIGHT if k == steps - 1 else 1.0) * (self.S @ res)
        return x
