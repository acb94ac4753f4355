"""U(1) charges of ``vec(rho)`` for the TEBD evolver: block-diagonal SVDs and QRs.

A chain whose Hamiltonian terms and jumps conserve a local number ``n_i``
(spin count, boson number) has a Liouvillian that conserves the charge
``q = N_ket - N_bra`` of ``vec(rho)``: ``[H, N] = 0`` keeps the two sides of
``H rho - rho H`` in their sectors, and a jump ``L rho L^+`` raises (or lowers)
ket and bra alike. On the vectorised site ``a + d b`` (column stacking, ``a``
the ket index, ``b`` the bra index) the local charge is ``+-(a - b)``: the local
basis index is the number, or its complement (the sign is found site by
site, :func:`conserving_charges`). In :mod:`qness.operators` index 0 is spin
up, so the index counts down spins (``sigma^+`` lowers it by one) and bosons
(``a^+`` raises it by one). A steady state lies in the sector ``q = 0`` (only
there is ``Tr rho`` non-zero).

Every bond of a charge-conserving MPS can then carry definite charges (the
charge of the sites to its left), and every two-site update is block
diagonal: the truncated SVD of a bond runs block by block (rows and columns
of one charge), which is the whole point -- a 256 x 256 complex SVD costs
~30 ms on this machine, the blocks of a typical bond a small fraction of it.
The arrays themselves stay dense (zeros outside the blocks), so quimb reads
them unchanged. Models that do not conserve the charge run with every charge
0: one block, the dense algorithm; a start with weight in other sectors is
projected onto sector 0 (:func:`label_bonds`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

#: Entries of a bond generator that break the charge, relative to its largest, that still count as 0.
CONSERVATION_RTOL = 1e-12


def vec_charges(d: int) -> np.ndarray:
    """Charge ``a - b`` of the column-stacked local index ``a + d b`` (length ``d**2``)."""
    k = np.arange(d * d)
    return k % d - k // d


def _conserves(G, q1, q2) -> bool:
    q = (q1[:, None] + q2[None, :]).ravel()
    big = float(np.abs(G).max(initial=0.0))
    mismatch = q[:, None] != q[None, :]
    return big == 0 or float(np.abs(G[mismatch]).max(initial=0.0)) <= CONSERVATION_RTOL * big


def conserving_charges(gens, dims):
    """Local charges ``s_i vec_charges(d_i)`` (``s_i = +-1``) conserved by every bond, or ``None``.

    ``gens[b]`` is the two-site superoperator of bond ``(b, b+1)`` with row
    index ``i_b * d_(b+1)**2 + i_(b+1)``. The sign of each site is found bond
    by bond (site 0 takes ``+1``): the number may count the basis index on
    one site and its complement on the next, as ``sigma^+ a + h.c.`` does
    (``sigma^+`` lowers the spin index, index 0 being spin up).
    """
    base = [vec_charges(d) for d in dims]
    signs = [1]
    for b, G in enumerate(gens):
        for sgn in (1, -1):
            if _conserves(G, signs[b] * base[b], sgn * base[b + 1]):
                signs.append(sgn)
                break
        else:
            return None
    return [sgn * q for sgn, q in zip(signs, base)]


def _svd(m):
    try:
        return sla.svd(m, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    except np.linalg.LinAlgError:  # pragma: no cover - gesdd failing to converge is rare
        return sla.svd(m, full_matrices=False, lapack_driver="gesvd", check_finite=False)


def _blocks(rq, cq):
    """``(charge, rows, cols)`` of the charges present on both sides (``None`` for all)."""
    if rq.min() == rq.max() and cq.min() == cq.max():
        return [(int(rq[0]), None, None)] if rq[0] == cq[0] else []
    out = []
    for c in np.intersect1d(rq, cq):
        out.append((int(c), np.flatnonzero(rq == c), np.flatnonzero(cq == c)))
    return out


def _take(m, rows, cols):
    if rows is None:
        return m
    return m[np.ix_(rows, cols)]


def _assemble(parts, m, n, dtype):
    """Place the blocks' factors: ``parts`` are ``(charge, rows, cols, L, R)`` with ``L`` of shape
    ``(len(rows), j)`` and ``R`` of shape ``(j, len(cols))`` (``None``: all rows / columns).
    Returns the block-diagonal ``L_out`` (``(m, k)``), ``R_out`` (``(k, n)``) and the ``k``
    charges of the new bond, blocks in the order given."""
    if len(parts) == 1 and parts[0][1] is None and parts[0][2] is None:
        c, _, _, L, R = parts[0]
        return L, R, np.full(L.shape[1], c)
    k = sum(p[3].shape[1] for p in parts)
    L_out = np.zeros((m, k), dtype)
    R_out = np.zeros((k, n), dtype)
    q_out = np.empty(k, dtype=np.int64)
    pos = 0
    for c, rows, cols, L, R in parts:
        j = L.shape[1]
        L_out[slice(None) if rows is None else rows, pos : pos + j] = L
        R_out[pos : pos + j, slice(None) if cols is None else cols] = R
        q_out[pos : pos + j] = c
        pos += j
    return L_out, R_out, q_out


def split(theta, rq, cq, cutoff, chi):
    """Truncated block SVD ``theta ~ U diag(s) Vh`` of a charge-conserving matrix.

    Parameters
    ----------
    theta : (m, k) complex array
        Entries outside the blocks ``rq[i] == cq[j]`` are taken as zero.
    rq, cq : int arrays
        Charges of the rows and columns.
    cutoff : float
        Singular values ``<= cutoff * max(s)`` (over all blocks) are dropped.
    chi : int
        At most ``chi`` singular values are kept (the largest over all blocks).

    Returns
    -------
    U : (m, r) array, s : (r,) array, Vh : (r, k) array, q : (r,) int array, discarded : float, capped : bool
        ``q`` are the charges of the new bond (block by block, each block's
        values in decreasing order); ``discarded`` is ``sum s_cut^2 / sum s^2``;
        ``capped`` says whether ``chi`` dropped values above the cutoff.
    """
    parts = []
    for c, rows, cols in _blocks(rq, cq):
        U, s, Vh = _svd(_take(theta, rows, cols))
        parts.append((c, rows, cols, U, s, Vh))
    if not parts:  # the matrix is zero in every sector: keep one zero vector of charge rq[0]
        U = np.zeros((theta.shape[0], 1), theta.dtype)
        U[0, 0] = 1
        return U, np.zeros(1), np.zeros((1, theta.shape[1]), theta.dtype), rq[:1].copy(), 0.0, False
    s_all = np.concatenate([p[4] for p in parts])
    total = float(np.sum(s_all**2))
    smax = float(s_all.max())
    above = int(np.count_nonzero(s_all > cutoff * smax)) if smax > 0 else 1
    keep = max(1, min(above, chi))
    if keep < s_all.size:
        order = np.argsort(-s_all, kind="stable")
        kept = np.zeros(s_all.size, bool)
        kept[order[:keep]] = True
        discarded = float(np.sum(s_all[~kept] ** 2)) / total if total > 0 else 0.0
    else:
        kept = np.ones(s_all.size, bool)
        discarded = 0.0
    blocks, values, start = [], [], 0
    for c, rows, cols, U, s, Vh in parts:
        k = int(np.count_nonzero(kept[start : start + s.size]))  # the block's largest k (sorted)
        start += s.size
        if k:
            blocks.append((c, rows, cols, U[:, :k], Vh[:k]))
            values.append(s[:k])
    U_out, Vh_out, q_out = _assemble(blocks, theta.shape[0], theta.shape[1], theta.dtype)
    return U_out, np.concatenate(values), Vh_out, q_out, discarded, above > chi


def qr_right(a, ql, qd, qr):
    """``a[l, p, r] = sum_k Q[l, p, k] R[k, r]``, ``Q`` left-orthonormal, block by block.

    Returns ``Q`` (``(l, p, k)``), ``R`` (``(k, r)``) and the charges ``(k,)`` of the new bond.
    """
    l, d, r = a.shape
    m = a.reshape(l * d, r)
    rq = (ql[:, None] + qd[None, :]).ravel()
    parts = [(c, rows, cols, *np.linalg.qr(_take(m, rows, cols))) for c, rows, cols in _blocks(rq, qr)]
    Q, R, q = _assemble(parts, l * d, r, a.dtype)
    return Q.reshape(l, d, -1), R, q


def qr_left(a, ql, qd, qr):
    """``a[l, p, r] = sum_k R[l, k] Q[k, p, r]``, ``Q`` right-orthonormal, block by block.

    Returns ``R`` (``(l, k)``), ``Q`` (``(k, p, r)``) and the charges ``(k,)`` of the new bond.
    """
    l, d, r = a.shape
    m = a.reshape(l, d * r)
    cq = (qr[None, :] - qd[:, None]).ravel()
    parts = []
    for c, rows, cols in _blocks(ql, cq):
        Q, R = np.linalg.qr(_take(m, rows, cols).T)
        parts.append((c, rows, cols, R.T, Q.T))
    R, Q, q = _assemble(parts, l, d * r, a.dtype)
    return R, Q.reshape(-1, d, r), q


def _row_blocks(m, rq, rtol):
    """SVD of each block of rows of one charge against all columns: ``m = U (s Vh)`` with ``U``
    block diagonal; returns ``U``, ``s Vh`` and the new bond's charges; values ``<= rtol`` of the
    largest dropped."""
    parts = []
    for c in np.unique(rq):
        rows = np.flatnonzero(rq == c)
        U, s, Vh = _svd(m[rows])
        parts.append((int(c), rows, U, s, Vh))
    smax = max(float(p[3].max(initial=0.0)) for p in parts)
    ks = [int(np.count_nonzero(p[3] > rtol * smax)) for p in parts]
    if sum(ks) == 0:  # a zero state: keep one vector
        ks[0] = 1
    blocks = [
        (c, rows, None, U[:, :j], s[:j, None] * Vh[:j]) for (c, rows, U, s, Vh), j in zip(parts, ks) if j
    ]
    return _assemble(blocks, m.shape[0], m.shape[1], m.dtype)


def label_bonds(A, qs, rtol=1e-14):
    """Give the bonds of the MPS arrays ``A`` (``(left, phys, right)``, in place) definite charges.

    A left-to-right sweep of block SVDs over the rows of each charge (exact up
    to singular values ``<= rtol`` of the largest). Returns the bond charges
    ``Q`` (``Q[i]`` left of site ``i``, ``Q[0] = Q[n] = [0]``) with the
    orthogonality centre at the last site. Weight outside the charge-0
    sector is projected out: the Liouvillian never mixes sectors and the
    trace lives in sector 0, so the steady state reached is the same.
    ``None`` if the state has no weight in sector 0.
    """
    n = len(A)
    Q = [np.zeros(1, dtype=np.int64)]
    for i in range(n - 1):
        l, d, r = A[i].shape
        m = A[i].reshape(l * d, r)
        rq = (Q[i][:, None] + qs[i][None, :]).ravel()
        U, sVh, q = _row_blocks(m, rq, rtol)
        A[i] = U.reshape(l, d, -1)
        A[i + 1] = np.tensordot(sVh, A[i + 1], axes=(1, 0))
        Q.append(q)
    l, d, _ = A[-1].shape
    last = A[-1].reshape(l * d)
    rq = (Q[-1][:, None] + qs[-1][None, :]).ravel()
    if not np.any(last[rq == 0]):
        return None
    A[-1] = np.where(rq == 0, last, 0).reshape(l, d, 1)
    Q.append(np.zeros(1, dtype=np.int64))
    return Q
