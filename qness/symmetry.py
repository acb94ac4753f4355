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

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg.lapack import ztrsyl as _ztrsyl

from ._linalg import triangular_sylvester
from .liouvillian import HAVE_KERNELS, kernel_threads, lindblad_arrays
from .model import LindbladModel, U1Symmetry, Z2Symmetry, as_model, check_symmetry

try:
    from ._kernels.sector import assemble_sector_csr as _sector_kernel
except ImportError:  # pragma: no cover
    _sector_kernel = None

__all__ = ["Sector", "sectors", "steady_sector", "detect_invariant_subspaces", "detect_symmetry"]


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

    def to_full(self, x: np.ndarray) -> np.ndarray:
        """The ``d x d`` matrix whose sector part is ``x`` (zeros elsewhere)."""
        rho = np.zeros((self.d, self.d), dtype=np.complex128)
        for (bl, br), blockx in zip(self.pairs, self.split(np.asarray(x))):
            rho[np.ix_(self.blocks[bl], self.blocks[br])] = blockx
        return rho

    def from_full(self, rho: np.ndarray) -> np.ndarray:
        """The sector part of a ``d x d`` matrix, as a sector vector."""
        rho = np.asarray(rho)
        parts = [rho[np.ix_(self.blocks[bl], self.blocks[br])].ravel(order="F") for bl, br in self.pairs]
        return np.concatenate(parts).astype(np.complex128) if parts else np.zeros(0, np.complex128)

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
        return sp.csr_array((data, indices, indptr), shape=(n, n))

    def matrix_reference(self, model: LindbladModel) -> sp.csr_array:
        """Reference twin of :meth:`matrix`: slice the full ``L`` (tests only)."""
        from .liouvillian import liouvillian

        idx = self.indices()
        L = liouvillian(model)
        return sp.csr_array(L[idx][:, idx])

    def operator(self, model: LindbladModel) -> spla.LinearOperator:
        """Matrix-free action of the sector block (block-dense BLAS products)."""
        return _SectorOperator(self, as_model(model))

    def sylvester_preconditioner(self, model: LindbladModel, shift: float = 0.0) -> spla.LinearOperator:
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
        """
        return _SylvesterInverse(self, as_model(model), shift)


# ---------------------------------------------------------------- helpers
def _blocks_from_labels(labels: np.ndarray):
    values = np.unique(labels)
    blocks = tuple(np.flatnonzero(labels == v).astype(np.int64) for v in values)
    return values, blocks


def _make_sector(kind, label, d, values, blocks, keep) -> Sector:
    pairs = [
        (bl, br) for bl in range(len(values)) for br in range(len(values)) if keep(values[bl], values[br])
    ]
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
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
        qs = sorted({int(a - b) for a in values for b in values})
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
    for s in sectors(model, symmetry, check=check):
        if s.label == 0 or (s.kind == "z2" and s.label == 1):
            return s
    raise AssertionError("no steady-state sector")  # pragma: no cover


def _level_charges(dims) -> np.ndarray:
    """``-sum_i k_i`` for basis states ``|k_0 k_1 ...>``: magnetisation (spins, m = s - k) or
    minus the particle number (Fock states), up to a constant."""
    charges = np.zeros(1, dtype=np.int64)
    for d in dims:
        charges = (charges[:, None] - np.arange(d, dtype=np.int64)[None, :]).ravel()
    return charges


def _jump_charges(model, labels, combine):
    out = []
    for j in model.jumps:
        c = sp.coo_array(j.op)
        if c.nnz == 0 or j.rate == 0:
            out.append(0 if combine == "diff" else 1)
            continue
        vals = labels[c.row] - labels[c.col] if combine == "diff" else labels[c.row] * labels[c.col]
        if not np.all(vals == vals[0]):
            return None
        out.append(int(vals[0]))
    return tuple(out)


def detect_symmetry(model) -> U1Symmetry | Z2Symmetry | None:
    """Look for a weak U(1) (then Z2) symmetry diagonal in the computational basis.

    The candidate charge is ``N = -sum_i k_i`` (the total magnetisation of a
    spin chain in QuTiP's ordering, or minus the total number of quanta); the
    candidate parity is ``(-1)^{sum_i k_i}``. A candidate is accepted when
    ``H`` conserves it and every jump changes it by a definite amount.

    Returns
    -------
    U1Symmetry, Z2Symmetry or None
        The symmetry found (``name`` ``"detected N"`` / ``"detected parity"``).
    """
    model = as_model(model)
    charges = _level_charges(model.dims)
    coo = sp.coo_array(model.H)
    if np.all(charges[coo.row] == charges[coo.col]):
        q = _jump_charges(model, charges, "diff")
        if q is not None and len(np.unique(charges)) > 1:
            return U1Symmetry(charges, q, "detected N")
    parity = np.where(charges % 2 == 0, 1, -1)
    if np.all(parity[coo.row] == parity[coo.col]):
        p = _jump_charges(model, parity, "prod")
        if p is not None and len(np.unique(parity)) > 1:
            return Z2Symmetry(parity, p, "detected parity")
    return None


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
    G = abs(model.H)
    for j in model.jumps:
        if j.rate > 0:
            G = G + abs(j.op)
    G = sp.csr_array(G + G.T)
    n, lab = connected_components(G, directed=False)
    return [np.flatnonzero(lab == c) for c in range(n)]


# ---------------------------------------------------------------- block operators
class _BlockData:
    """Blocks of ``A = -i H_eff`` and of each jump, for one sector."""

    def __init__(self, sector: Sector, model: LindbladModel):
        self.sector = sector
        A = sp.csr_array(-1j * model.H_eff())
        self.A = []
        for idx in sector.blocks:
            self.A.append(sp.csr_array(A[idx][:, idx]))
        pair_index = {(int(bl), int(br)): p for p, (bl, br) in enumerate(sector.pairs)}
        # For each jump: list of (source pair, target pair, L block for left, L block for right)
        blk = np.empty(sector.d, dtype=np.int64)
        for b, idx in enumerate(sector.blocks):
            blk[idx] = b
        self.terms = []
        for j in model.jumps:
            if j.rate == 0 or j.op.nnz == 0:
                continue
            L = sp.csr_array(np.sqrt(j.rate) * j.op)
            coo = L.tocoo()
            target = {}
            for r, c in zip(blk[coo.row], blk[coo.col]):
                if target.setdefault(int(c), int(r)) != int(r):
                    raise ValueError(f"jump {j.label} maps one block into several: symmetry broken")
            Lb = {c: sp.csr_array(L[sector.blocks[t]][:, sector.blocks[c]]) for c, t in target.items()}
            for p, (bl, br) in enumerate(sector.pairs):
                bl, br = int(bl), int(br)
                if bl in target and br in target:
                    q = pair_index.get((target[bl], target[br]))
                    if q is None:
                        raise ValueError(f"jump {j.label} leaves the sector: symmetry broken")
                    self.terms.append((p, q, Lb[bl], Lb[br]))


class _SectorOperator(spla.LinearOperator):
    def __init__(self, sector: Sector, model: LindbladModel):
        self.sector = sector
        self.data = _BlockData(sector, model)
        self.Aconj = [sp.csr_array(a.conj()) for a in self.data.A]
        self.terms = [(p, q, Ll, sp.csr_array(Lr.conj())) for p, q, Ll, Lr in self.data.terms]
        super().__init__(dtype=np.complex128, shape=(sector.size, sector.size))

    def _matvec(self, x):
        # X A^+ = (conj(A) X^T)^T and L X L^+ = (conj(L) (L X)^T)^T: no conjugated copies.
        sec = self.sector
        x = np.asarray(x, dtype=np.complex128).ravel()
        X = sec.split(x)
        y = np.empty_like(x)
        Y = sec.split(y)
        A, Ac = self.data.A, self.Aconj
        for p, (bl, br) in enumerate(sec.pairs):
            Xp = X[p]
            Y[p][...] = A[bl] @ Xp
            Y[p] += (Ac[br] @ Xp.T).T
        for p, q, Ll, Lrc in self.terms:
            Y[q] += (Lrc @ (Ll @ X[p]).T).T
        return y


#: Largest 1-norm condition number of a block's eigenvector matrix for which the
#: no-jump inverse goes through the eigendecomposition. The error of that route grows
#: like ``eps * cond(V)^1.5..2`` (measured on driven Jaynes-Cummings blocks: 3e-12 at
#: cond 3e3, 4e-10 at 4e4, 1e-7 at 9e5, 0.5 at 2e9); above this bound the block pair is
#: solved through the complex Schur form instead (Bartels-Stewart).
EIG_COND_MAX = 1e4


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

    def __init__(self, sector: Sector, model: LindbladModel, shift: float):
        self.sector = sector
        A = sp.csr_array(-1j * model.H_eff())
        nb = len(sector.blocks)
        self.V, self.Vinv, self.D = [None] * nb, [None] * nb, [None] * nb
        self.cond = np.full(nb, np.inf)
        dense = []
        scale = 0.0
        for b, idx in enumerate(sector.blocks):
            Ab = A[idx][:, idx].toarray()
            dense.append(Ab)
            D, V = sla.eig(Ab)
            self.D[b] = D
            scale = max(scale, float(np.max(np.abs(D.real), initial=0.0)))
            try:
                with warnings.catch_warnings():
                    # ill-conditioning is measured below and routed to the Schur form
                    warnings.simplefilter("ignore", sla.LinAlgWarning)
                    Vinv = sla.inv(V, check_finite=False)
            except (sla.LinAlgError, ValueError):
                continue  # defective: Schur route
            cond = float(np.linalg.norm(V, 1) * np.linalg.norm(Vinv, 1))
            self.cond[b] = cond if np.isfinite(cond) else np.inf
            if self.cond[b] <= EIG_COND_MAX:
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
            T, U = sla.schur(dense[b], output="complex", check_finite=False)
            self.tri[b] = T
            self.U[b] = (U, np.ascontiguousarray(U.conj().T))
            # Schur diagonal = eigenvalues; use it for the denominators' floor test
            self.D[b] = np.diag(T).copy()
        floor = 1e-8 * max(scale, 1e-300)
        self.floor = floor
        self.shift = shift
        self.den = [self._denominators(p, shift) for p in range(len(sector.pairs))]
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
        are regularised, since this is only a preconditioner.
        """
        sec = self.sector
        y = np.asarray(y, dtype=np.complex128).ravel()
        x = np.empty_like(y)
        X = sec.split(x)
        for p, ((bl, br), Yp) in enumerate(zip(sec.pairs, sec.split(y))):
            den = self.den[p] if shift is None else self._denominators(p, shift)
            s = self.shift if shift is None else shift
            if self.schur_pair[p]:
                Ul, Ur = self.U[bl], self.U[br]
                T1 = self.tri[bl] - s * np.eye(len(self.D[bl]))
                if np.any(den):
                    rows = np.flatnonzero(den)
                    T1[rows, rows] -= 2.0 * self.floor
                Z = triangular_sylvester(_ztrsyl, T1, self.tri[br], Ul[1] @ Yp @ Ur[0])
                X[p][...] = Ul[0] @ Z @ Ur[1]
            else:
                Z = self.Vinv[bl][0] @ Yp @ self.Vinv[br][1]
                Z /= den
                X[p][...] = self.V[bl][0] @ Z @ self.V[br][1]
        return x
