"""Local pieces of the vectorised Liouvillian of a chain: bond generators and the MPO.

Vectorisation (as everywhere in qness): column stacking, ``vec(rho) =
rho.ravel(order="F")``, so ``vec(A rho B) = (B^T kron A) vec(rho)``. On a chain
the density matrix is an MPS on sites of dimension ``d_i**2`` whose local index
is the column-stacked pair ``k_i = a_i + d_i * b_i`` of the row ``a_i`` and
column ``b_i`` of site ``i`` (site 0 leftmost). The full ``vec(rho)`` and this
MPS differ only by the order of the indices.

Every term of the Liouvillian is a product over one or two neighbouring sites
of local superoperators (``d_i**2 x d_i**2`` matrices):

* Hamiltonian term ``c prod_j A_j``: ``-i c (prod spre(A_j) - prod spost(A_j))``;
* jump ``sqrt(r) prod_j A_j``: ``r (prod kron(conj A_j, A_j) - 1/2 prod spre(A_j^+ A_j)
  - 1/2 prod spost(A_j^+ A_j))``,

with ``spre(X) = kron(1, X)`` (``X rho``) and ``spost(X) = kron(X^T, 1)`` (``rho X``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SuperTerm", "superop_terms", "bond_generators", "liouvillian_mpo_arrays"]


def spre(X: np.ndarray) -> np.ndarray:
    """``vec(X rho) = spre(X) vec(rho)`` (column stacking)."""
    return np.kron(np.eye(X.shape[0]), X)


def spost(X: np.ndarray) -> np.ndarray:
    """``vec(rho X) = spost(X) vec(rho)`` (column stacking)."""
    return np.kron(X.T, np.eye(X.shape[0]))


class SuperTerm:
    """``coeff * prod_j mats[j]`` on ``sites`` (local superoperators, one or two sites)."""

    __slots__ = ("sites", "mats", "coeff")

    def __init__(self, sites, mats, coeff):
        self.sites = tuple(sites)
        self.mats = tuple(mats)
        self.coeff = complex(coeff)


def superop_terms(terms) -> list[SuperTerm]:
    """The Liouvillian of a :class:`~qness.terms.ChainTerms` as a list of :class:`SuperTerm`."""
    out = []
    for t in terms.hamiltonian:
        out.append(SuperTerm(t.sites, [spre(a) for a in t.ops], -1j * t.coeff))
        out.append(SuperTerm(t.sites, [spost(a) for a in t.ops], 1j * t.coeff))
    for j in terms.jumps:
        if j.rate == 0:
            continue
        ada = [a.conj().T @ a for a in j.ops]
        out.append(SuperTerm(j.sites, [np.kron(a.conj(), a) for a in j.ops], j.rate))
        out.append(SuperTerm(j.sites, [spre(m) for m in ada], -0.5 * j.rate))
        out.append(SuperTerm(j.sites, [spost(m) for m in ada], -0.5 * j.rate))
    return out


def _full(term: SuperTerm, i: int, dims2) -> np.ndarray:
    """A term as a ``D_i D_{i+1}`` square matrix on bond ``(i, i+1)`` (identity on a missing site)."""
    if len(term.sites) == 2:
        return term.coeff * np.kron(term.mats[0], term.mats[1])
    (s,) = term.sites
    if s == i:
        return term.coeff * np.kron(term.mats[0], np.eye(dims2[i + 1]))
    return term.coeff * np.kron(np.eye(dims2[i]), term.mats[0])


def bond_generators(sterms, dims) -> list[np.ndarray]:
    """Split the Liouvillian into bond generators ``L = sum_i L_(i, i+1)``.

    Two-site terms go to their bond; a one-site term on an inner site is split
    in equal halves between its two bonds (a dissipator with half its rate on
    each, so every bond generator is itself a Lindbladian and its exponential
    is completely positive and trace preserving).

    Returns
    -------
    list of numpy.ndarray
        ``n - 1`` matrices of shape ``(D_i D_{i+1}, D_i D_{i+1})``, ``D = d**2``.
    """
    n = len(dims)
    dims2 = [d * d for d in dims]
    gens = [np.zeros((dims2[i] * dims2[i + 1],) * 2, dtype=np.complex128) for i in range(n - 1)]
    for t in sterms:
        if len(t.sites) == 2:
            gens[t.sites[0]] += _full(t, t.sites[0], dims2)
            continue
        (s,) = t.sites
        bonds = [b for b in (s - 1, s) if 0 <= b < n - 1]
        for b in bonds:
            gens[b] += _full(t, b, dims2) / len(bonds)
    return gens


def _operator_schmidt(M: np.ndarray, D1: int, D2: int, rtol: float = 1e-13):
    """``M = sum_k A_k kron B_k`` (``A_k``: ``D1 x D1``, ``B_k``: ``D2 x D2``) by an SVD."""
    T = M.reshape(D1, D2, D1, D2).transpose(0, 2, 1, 3).reshape(D1 * D1, D2 * D2)
    U, s, Vh = np.linalg.svd(T, full_matrices=False)
    keep = s > rtol * (s[0] if s.size else 0.0)
    U, s, Vh = U[:, keep], s[keep], Vh[keep]
    A = (U * np.sqrt(s)).T.reshape(-1, D1, D1)
    B = (np.sqrt(s)[:, None] * Vh).reshape(-1, D2, D2)
    return A, B


def liouvillian_mpo_arrays(sterms, dims) -> list[np.ndarray]:
    """The Liouvillian as MPO tensors of shape ``(left, right, up, down)`` (ends without left/right).

    Finite-state construction: channel 0 = "nothing placed yet", the last
    channel = "term complete", channels ``1..r_i`` carry the operator-Schmidt
    components of the two-site part on bond ``(i, i+1)``. The bond dimension is
    ``2 + r_i`` with ``r_i <= D_i**2``.
    """
    n = len(dims)
    dims2 = [d * d for d in dims]
    onsite = [np.zeros((D, D), dtype=np.complex128) for D in dims2]
    two = [np.zeros((dims2[i] * dims2[i + 1],) * 2, dtype=np.complex128) for i in range(n - 1)]
    for t in sterms:
        if len(t.sites) == 1:
            onsite[t.sites[0]] += t.coeff * t.mats[0]
        else:
            two[t.sites[0]] += _full(t, t.sites[0], dims2)
    schmidt = [_operator_schmidt(two[i], dims2[i], dims2[i + 1]) for i in range(n - 1)]
    arrays = []
    for i in range(n):
        D = dims2[i]
        rl = schmidt[i - 1][0].shape[0] if i > 0 else 0
        rr = schmidt[i][0].shape[0] if i < n - 1 else 0
        wl, wr = 2 + rl, 2 + rr
        W = np.zeros((wl, wr, D, D), dtype=np.complex128)
        eye = np.eye(D)
        W[0, 0] = eye
        W[-1, -1] = eye
        W[0, -1] = onsite[i]
        if i < n - 1:
            W[0, 1 : 1 + rr] = schmidt[i][0]
        if i > 0:
            W[1 : 1 + rl, -1] = schmidt[i - 1][1]
        if i == 0:
            W = W[0]
        elif i == n - 1:
            W = W[:, -1]
        arrays.append(W)
    return arrays
