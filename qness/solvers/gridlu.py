"""Sparse LU of a single mode's Liouvillian in geometric nested-dissection order.

For one bosonic mode with ``d`` Fock states the unknowns ``rho_mn`` form a
``d x d`` grid, and ``H``, the drives and the jumps couple each ``(m, n)``
only to cells within a few steps (``w``, the stencil width: 1 for a drive
and one-photon loss, 2 with two-photon terms). A mode tensored with a few
small sites (a qubit, a three-level atom: ``q`` states besides the mode) is
the same grid with ``q^2`` unknowns per cell (Jaynes-Cummings, Rabi,
spin-boson models). The grid is bisected
recursively by lines of ``w`` cells, each half ordered before its separator
(George, SIAM J. Numer. Anal. 10 (1973) 345): the factorisation then costs
``O(N^1.5)`` work and ``O(N log N)`` memory for ``N = d^2`` unknowns, with
the order computed from ``(m, n)`` directly instead of by a graph
partitioner. The trace row (the equation it replaces) is ordered last: a
dense row eliminated last fills only itself. SuperLU factorises the
permuted matrix with ``permc_spec="NATURAL"``; partial pivoting stays on
(``diag_pivot_thresh``) and the number of rows it swapped is reported, as
is the residual after iterative refinement.

(A real form on Hermitian matrices, ``d^2`` real unknowns, was tried: its
2 x 2 blocks per cell doubled the fill and it was 3x slower at ``d = 500``.)
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["grid_nested_dissection", "solve_single_mode"]


@functools.lru_cache(maxsize=4)
def _grid_order(rows: int, cols: int, width: int, leaf: int) -> np.ndarray:
    order = _grid_order_uncached(rows, cols, width, leaf)
    order.setflags(write=False)
    return order


def grid_nested_dissection(rows: int, cols: int, width: int = 1, leaf: int = 16) -> np.ndarray:
    """Nested-dissection order of the cells of a ``rows x cols`` grid.

    Parameters
    ----------
    rows, cols : int
        Grid shape; cell ``(m, n)`` has index ``m + rows * n``.
    width : int
        Separator width: the largest ``max(|dm|, |dn|)`` between coupled
        cells.
    leaf : int
        Boxes of at most this many cells are ordered row by row (16 filled
        least and factorised fastest at d = 500; 64: +12% fill, 1024: +140%).

    Returns
    -------
    numpy.ndarray
        A permutation of ``range(rows * cols)``: both halves of a box before
        the line that separates them. Read-only: the orders of the last few
        shapes are cached.
    """
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    # cached (read-only): a scan solves the same grid again and again, and the order took 7-10 ms of
    # the 80-120 ms solves of cavities of 120-150 states
    return _grid_order(int(rows), int(cols), int(width), int(leaf))


def _grid_order_uncached(rows: int, cols: int, width: int, leaf: int) -> np.ndarray:
    out: list[np.ndarray] = []

    def cells(m0, m1, n0, n1):
        # (m, n) with n fastest, as meshgrid(..., indexing="ij").ravel() (5x cheaper without it)
        return (np.arange(m0, m1)[:, None] + rows * np.arange(n0, n1)[None, :]).ravel()

    # explicit stack instead of recursion: (box, state) with state 0 = split, 1 = emit separator
    stack = [((0, rows, 0, cols), None)]
    while stack:
        (m0, m1, n0, n1), sep = stack.pop()
        if sep is not None:
            out.append(sep)
            continue
        nm, nn = m1 - m0, n1 - n0
        if nm <= 0 or nn <= 0:
            continue
        if nm * nn <= leaf or (nm <= 2 * width and nn <= 2 * width):
            out.append(cells(m0, m1, n0, n1))
            continue
        if nm >= nn:
            mid = (m0 + m1) // 2
            hi = min(mid + width, m1)
            first, second, sep = (m0, mid, n0, n1), (hi, m1, n0, n1), cells(mid, hi, n0, n1)
        else:
            mid = (n0 + n1) // 2
            hi = min(mid + width, n1)
            first, second, sep = (m0, m1, n0, mid), (m0, m1, hi, n1), cells(m0, m1, mid, hi)
        # popped in reverse: first half, second half, then the separator
        stack.append(((0, 0, 0, 0), sep))
        stack.append((second, None))
        stack.append((first, None))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


#: Entries of ``A`` at most this fraction of the largest in their row are left out of the
#: ordering and the factorisation (iterative refinement against the whole ``A`` restores them):
#: rounding noise of 1e-15 in ``H`` made every cell a neighbour of every other (session-6 review).
NEGLIGIBLE = 1e-14


def drop_negligible(A) -> tuple[sp.csr_matrix, int]:
    """``A`` without the entries of at most :data:`NEGLIGIBLE` times its row's largest, and their count."""
    C = sp.csr_matrix(A)
    C.sum_duplicates()
    mag = np.abs(C.data)
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    top = np.zeros(C.shape[0])
    np.maximum.at(top, rows, mag)
    small = mag <= NEGLIGIBLE * top[rows]
    del rows, top
    count = int(np.count_nonzero(small & (mag > 0)))
    if count:  # a copy only then (A stays as it is: refinement uses it)
        # with copies of the index arrays: csr_matrix(A) shares A's when they are already int32,
        # and eliminate_zeros would then rewrite A's structure under its data (refinement against
        # that A diverged to a residual of 2.8)
        C = sp.csr_matrix((np.where(small, 0.0, C.data), C.indices.copy(), C.indptr.copy()), shape=C.shape)
        C.eliminate_zeros()
    return C, count


def _cells(mode: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates ``(m_i, m_j)`` of the unknowns ``rho_ij`` (column stacking, ``u = i + D j``)."""
    D = mode.size
    u = np.arange(D * D)
    return mode[u % D], mode[u // D]


def _stencil_width(M, cm: np.ndarray, cn: np.ndarray, skip_row: int = -1) -> int:
    C = sp.coo_array(M)
    if skip_row >= 0:  # the trace row couples its cell to the whole diagonal: not part of the stencil
        keep = C.row != skip_row
        C = sp.coo_array((C.data[keep], (C.row[keep], C.col[keep])), shape=C.shape)
    dm = np.abs(cm[C.row] - cm[C.col])
    dn = np.abs(cn[C.row] - cn[C.col])
    return max(int(np.max(np.maximum(dm, dn), initial=0)), 1)


def single_mode_order(A, d: int, last: int, mode: np.ndarray | None = None, leaf: int = 16):
    """Nested-dissection order of the ``d x d`` grid of ``A``'s unknowns, with ``last`` moved last.

    ``mode`` (length ``D``, the dimension of the space) is the mode's Fock index of each basis state
    when the mode is tensored with other sites (``q = D / d`` states besides it): each cell
    ``(m, n)`` of the grid then holds the ``q^2`` unknowns ``rho_ij`` with ``m_i = m, m_j = n``,
    kept together (the boxes ordered row by row hold about ``leaf`` unknowns). ``None``: one site.
    Returns the permutation and the stencil width it used.
    """
    mode = np.arange(d) if mode is None else np.asarray(mode, dtype=np.int64)
    q = mode.size // d
    cm, cn = _cells(mode, d)
    w = _stencil_width(A, cm, cn, last)
    order = grid_nested_dissection(d, d, w, leaf=max(1, leaf // (q * q)))
    if q == 1:
        p = order
    else:
        rank = np.empty(d * d, dtype=np.int64)
        rank[order] = np.arange(d * d)
        p = np.argsort(rank[cm + d * cn], kind="stable")
    return np.concatenate([p[p != last], [last]]), w


def solve_single_mode(
    A, b: np.ndarray, d: int, r: int, *, mode=None, diag_pivot_thresh: float = 0.1, refine: int = 2
):
    """Solve ``A x = b`` (``d^2`` cells of the ``d x d`` grid) by SuperLU in nested-dissection order.

    Parameters
    ----------
    A : sparse matrix
        The trace-augmented Liouvillian of a single mode (column stacking;
        row ``r`` is the trace row, ordered last).
    b : numpy.ndarray
        Right-hand side.
    d : int
        Number of Fock states.
    r : int
        Index of the trace row.
    mode : numpy.ndarray, optional
        The mode's Fock index of each basis state when other (small) sites are
        tensored with it (see :func:`single_mode_order`); ``None``: one site.
    diag_pivot_thresh : float
        SuperLU's threshold for keeping the diagonal pivot (0: never swap
        rows; 1: classical partial pivoting).
    refine : int
        Largest number of iterative-refinement steps.

    Returns
    -------
    (numpy.ndarray, dict, callable, callable)
        ``x``; ``info`` (``lu_nnz``, ``row_swaps``, ``dropped_entries`` (see
        :func:`drop_negligible`), ``stencil_width``, ``refined``, ``ordering``); ``solve``
        and ``solve_h`` (``A^{-1}`` and ``A^{-H}`` in the original order, for the uniqueness
        check).
    """
    n = A.shape[0]
    D = d if mode is None else len(mode)
    if n != D * D:
        raise ValueError(f"A must be {D * D} x {D * D} (D = {D}), got {A.shape}")
    Af, dropped = drop_negligible(A)
    p, w = single_mode_order(Af, d, r, mode)

    def factor(M):
        Mp = sp.csc_matrix(M[p][:, p])
        Mp.sort_indices()
        return spla.splu(
            Mp, permc_spec="NATURAL", diag_pivot_thresh=diag_pivot_thresh, options={"SymmetricMode": True}
        )

    try:
        lu = factor(Af)
    except RuntimeError:
        if not dropped:
            raise
        lu, dropped = factor(sp.csr_matrix(A)), 0  # singular without them: factorise all of A
    swaps = int(np.count_nonzero(lu.perm_r != np.arange(n)))

    def solve(v, trans="N"):
        y = lu.solve(np.asarray(v, dtype=np.complex128)[p], trans=trans)
        x = np.empty_like(y)
        x[p] = y
        return x

    norm1 = float(spla.norm(A, 1))
    x = solve(b)
    refined = 0
    for _ in range(refine):
        res = b - A @ x
        if np.linalg.norm(res, 1) <= 8 * np.finfo(float).eps * norm1 * np.linalg.norm(x, 1):
            break
        x = x + solve(res)
        refined += 1
    info = {
        "lu_nnz": int(lu.nnz),
        "row_swaps": swaps,
        "dropped_entries": dropped,
        "stencil_width": w,
        "refined": refined,
        "ordering": "grid nested dissection",
    }
    return x, info, solve, (lambda v: solve(v, "H"))
