"""The Lindblad superoperator: sparse assembly and matrix-free action.

Convention (as QuTiP): column stacking, ``vec(rho) = rho.ravel(order="F")``
and ``vec(A rho B) = (B^T ⊗ A) vec(rho)``, so

    L = -i (I ⊗ H - H^T ⊗ I)
        + sum_k [ conj(L_k) ⊗ L_k - 1/2 (I ⊗ L_k^+ L_k + (L_k^+ L_k)^T ⊗ I) ],

equal to ``qutip.liouvillian(H, c_ops).full()``. Internally
``L = I ⊗ A + conj(A) ⊗ I + sum_k conj(L_k) ⊗ L_k`` with ``A = -i H_eff``.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .model import LindbladModel, SuperoperatorModel, as_model

# Idle OpenMP workers spin by default; between kernel calls (Python, BLAS, SciPy work)
# they would steal cores from the main thread. Sleep instead, unless the user chose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:  # compiled kernels
    from ._kernels.apply import apply_lindblad as _apply_kernel
    from ._kernels.assemble import assemble_lindblad_csr as _assemble_kernel

    HAVE_KERNELS = True
except ImportError:  # pragma: no cover - exercised only without a build
    HAVE_KERNELS = False

__all__ = [
    "liouvillian",
    "liouvillian_operator",
    "LindbladArrays",
    "lindblad_arrays",
    "HAVE_KERNELS",
    "CSROperator",
    "fast_product",
]

#: Below this many unknowns the kernels run on one thread: waking OpenMP threads costs
#: more than the work (and much more on a machine shared with other processes).
SERIAL_BELOW = 50_000


_streams_lock = threading.Lock()
_streams = 0


@contextlib.contextmanager
def work_stream():
    """Count the calling thread as a stream of work for the ``with`` body.

    While two or more streams run (a Krylov solve and the uniqueness check alongside it,
    :mod:`qness.solvers.steady`), the kernels (:func:`kernel_threads`) and the block loops
    (:class:`qness.symmetry._PairRunner`) of every thread take one thread each: each stream already
    occupies a core, and OpenMP teams or split products whose threads wait for each other stall
    when the cores are oversubscribed. A stream running alone (the other one ended, or waits for
    it) takes the threads again from its next product.
    """
    global _streams
    with _streams_lock:
        _streams += 1
    try:
        yield
    finally:
        with _streams_lock:
            _streams -= 1


def streams_alongside() -> bool:
    """Whether two or more :func:`work_stream` bodies run at this moment."""
    return _streams >= 2


def kernel_threads(unknowns: int) -> int:
    """Threads for a kernel call: 1 below :data:`SERIAL_BELOW` unknowns or while streams run
    alongside (:func:`streams_alongside`), else ``OMP_NUM_THREADS`` (default: the number of
    CPUs)."""
    if unknowns < SERIAL_BELOW or _streams >= 2:
        return 1
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    except ValueError:
        return 1


class CSROperator(spla.LinearOperator):
    """A complex CSR matrix applied by the compiled kernel (:func:`qness._kernels.apply.csr_matvec`).

    Rows split over :func:`kernel_threads` OpenMP threads, and the GIL released: SciPy's sparse
    product holds it, so a Krylov solve and the uniqueness check running alongside it
    (:mod:`qness.solvers.steady`) took turns in their products with the sector matrix. Measured on
    the folded ``q = 0`` sector of boundary-driven XXZ 11 (352,716 unknowns, 12 entries per row):
    8.6 ms on one thread (SciPy 8.1 ms), 5.8 ms on two.

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or array
        Square; converted to complex128 with one index dtype for ``indices`` and ``indptr``.
    """

    def __init__(self, matrix):
        M = matrix
        if not (sp.issparse(M) and M.format == "csr" and M.dtype == np.complex128):
            M = sp.csr_array(M, dtype=np.complex128)
        index = np.result_type(M.indices.dtype, M.indptr.dtype)
        index = np.int32 if index == np.int32 else np.int64
        self.matrix = M
        self._arrays = (
            np.ascontiguousarray(M.indptr, dtype=index),
            np.ascontiguousarray(M.indices, dtype=index),
            np.ascontiguousarray(M.data),
        )
        super().__init__(dtype=np.complex128, shape=M.shape)

    def _matvec(self, x):
        from ._kernels.apply import csr_matvec

        x = np.ascontiguousarray(np.asarray(x).ravel(), dtype=np.complex128)
        y = np.empty(self.shape[0], dtype=np.complex128)
        csr_matvec(*self._arrays, x, y, kernel_threads(self.shape[0]))
        return y

    def _adjoint(self):
        return CSROperator(self.matrix.conj().T)


def fast_product(matrix):
    """``matrix`` as a :class:`CSROperator` where the compiled kernels are built and it has at least
    :data:`SERIAL_BELOW` rows (it is then applied without the GIL, on :func:`kernel_threads`
    threads), else ``matrix`` itself: below, SciPy's product on one thread was faster (48,620 rows:
    0.93 against 1.28 ms; 3,432: 0.03 against 0.07 ms, the call's own cost)."""
    if not HAVE_KERNELS or not sp.issparse(matrix) or matrix.shape[0] != matrix.shape[1]:
        return matrix
    if matrix.shape[0] < SERIAL_BELOW:
        return matrix
    return CSROperator(matrix)


class LindbladArrays:
    """The CSR pieces the kernels consume: ``A = -i H_eff`` and the jumps, concatenated.

    Parameters
    ----------
    A : scipy.sparse.csr_array
        ``-i H_eff``.
    jumps : list of scipy.sparse.csr_array
        Full jump operators ``L_k`` (rates included).
    """

    def __init__(self, A: sp.csr_array, jumps: list[sp.csr_array]):
        d = A.shape[0]
        self.d = d
        self.A = _canonical(A)
        self.jumps = [_canonical(L) for L in jumps]
        self.a_ptr = self.A.indptr.astype(np.int64)
        self.a_ind = self.A.indices.astype(np.int64)
        self.a_val = np.ascontiguousarray(self.A.data, dtype=np.complex128)
        nl = len(self.jumps)
        self.nl = nl
        if nl:
            self.l_ptr = np.concatenate([L.indptr.astype(np.int64) for L in self.jumps])
            self.l_ind = np.concatenate([L.indices.astype(np.int64) for L in self.jumps])
            self.l_val = np.concatenate([L.data.astype(np.complex128) for L in self.jumps])
            sizes = [L.nnz for L in self.jumps]
            self.l_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        else:
            self.l_ptr = np.zeros(1, np.int64)
            self.l_ind = np.zeros(1, np.int64)
            self.l_val = np.zeros(1, np.complex128)
            self.l_off = np.zeros(1, np.int64)

    def max_row(self) -> int:
        """Upper bound on the entries one row of ``L`` gathers before merging."""
        ra = np.diff(self.a_ptr)
        bound = 2 * int(ra.max(initial=0))
        for L in self.jumps:
            r = int(np.diff(L.indptr).max(initial=0))
            bound += r * r
        return bound


def _canonical(M) -> sp.csr_array:
    M = sp.csr_array(M, dtype=np.complex128)
    M.sum_duplicates()
    M.sort_indices()
    return M


def lindblad_arrays(model: LindbladModel) -> LindbladArrays:
    """The kernel inputs for ``model``: ``A = -i H_eff`` and the jump operators."""
    model = as_model(model)
    if isinstance(model, SuperoperatorModel):
        raise TypeError(
            "a model given by its Liouvillian matrix has no H_eff and jump operators; "
            "use its matrix model.L (qness.liouvillian(model))"
        )
    return LindbladArrays(sp.csr_array(-1j * model.H_eff()), model.c_ops)


def split_diagonal(model: LindbladModel):
    """``L = L_rest + diag(D)`` for the matrix-free actions: ``(A_rest, rest_jumps, part)`` or ``None``.

    ``A_rest = -i (H - diag(H)) - 1/2 sum L_k^+ L_k`` over the jumps that are not diagonal
    (``rest_jumps``), and ``part(ket, bra)`` the diagonal entries of ``H``'s diagonal and of the
    diagonal jumps (dephasing), written without cancellation as in :func:`exact_diagonal`. The
    action of ``A_rest`` and ``rest_jumps`` plus ``D x`` is ``L x`` with no sum of large terms that
    cancel (``L = I ⊗ A + ...`` rounded the populations of a chain dephased at ``g = 1e5`` to
    ``eps x g``: a Krylov solve stalled at that residual, and at ``g = 1e7`` a unique state was called
    non-unique). ``None`` when no jump is diagonal.
    """
    jumps = model.c_ops
    diagonal = [is_diagonal(L) for L in jumps]
    H = sp.csr_array(model.H, dtype=np.complex128)
    if not any(diagonal):
        return None  # (H's diagonal alone cancels only between equal levels: not worth a pass)
    rest = [L for L, dg in zip(jumps, diagonal) if not dg]
    A = -1j * (H - sp.diags_array(H.diagonal(), format="csr"))
    for L in rest:
        L = sp.csr_array(L, dtype=np.complex128)
        A = A - 0.5 * (L.conj().T @ L)
    dj = [L for L, dg in zip(jumps, diagonal) if dg]
    return sp.csr_array(A), rest, lambda ket, bra: _diagonal_entries(model, ket, bra, dj)


def exact_diagonal(model: LindbladModel, ket: np.ndarray, bra: np.ndarray) -> np.ndarray:
    """Diagonal entries of ``L`` at the unknowns ``rho[ket, bra]``, computed without cancellation.

    The kernels build ``L = I ⊗ A + conj(A) ⊗ I + sum_k conj(L_k) ⊗ L_k`` with ``A = -i H_eff``, so a
    diagonal entry sums ``-1/2 sum_k (L_k^+ L_k)_ii`` over every jump before the jumps' own
    ``conj(L_k)_jj (L_k)_ii`` cancel it: with dephasing ``sqrt(g) sigma_z`` at ``g = 1e7`` beside a
    rate of 0.1, the population entries carried rounding of ``eps x 4g = 1e-8`` against Zeno rates of
    ``J^2 / g = 1e-7``, and the steady state of an XX chain was 3.5e-2 from its exact ``I/d`` (QuTiP's
    Liouvillian, one dissipator per jump, cancels exactly). Here each jump's part is written in a form
    whose real terms all have one sign,

        ``conj(l_j) l_i - (|l_i|^2 + c_i + |l_j|^2 + c_j) / 2 = -|l_i - l_j|^2 / 2 + i Im(conj(l_j) l_i)
        - (c_i + c_j) / 2``

    (``l`` the diagonal of ``L_k``, ``c_i = sum_{m != i} |L_k[m, i]|^2``), and the Hamiltonian's as
    ``-i (h_i - conj(h_j))``: an entry that is zero in exact arithmetic (a population under dephasing,
    a coherence between levels the dephasing does not tell apart) is zero here.

    Parameters
    ----------
    model : LindbladModel
    ket, bra : numpy.ndarray of int, shape (n,)
        Row and column indices ``i``, ``j`` of the unknowns (``vec`` index ``i + d j``).

    Returns
    -------
    numpy.ndarray, complex128, shape (n,)
        ``L[i + d j, i + d j]``.
    """
    return _diagonal_entries(model, ket, bra, model.c_ops)


def is_diagonal(L) -> bool:
    """Whether the operator ``L`` has entries and all of them on its diagonal (a dephasing jump)."""
    coo = sp.coo_array(L)
    return coo.nnz > 0 and bool(np.all(coo.row == coo.col))


def _diagonal_entries(model: LindbladModel, ket, bra, jumps) -> np.ndarray:
    """:func:`exact_diagonal` from ``H``'s diagonal and the given jumps only."""
    ket = np.asarray(ket, dtype=np.int64)
    bra = np.asarray(bra, dtype=np.int64)
    H = sp.csr_array(model.H, dtype=np.complex128)
    h = H.diagonal()
    out = -1j * (h[ket] - np.conj(h[bra]))
    off_total = np.zeros(model.dim)  # sum_k c_k: positive terms, summed in any order
    for L in jumps:
        L = sp.csr_array(L, dtype=np.complex128)
        lk = L.diagonal()
        off = L - sp.diags_array(lk, format="csr")
        off_total += np.asarray(abs(off).power(2).sum(axis=0)).ravel()
        if np.any(lk):
            li, lj = lk[ket], lk[bra]
            out += -0.5 * np.abs(li - lj) ** 2
            if np.any(lk.imag):
                out += 1j * (np.conj(lj) * li).imag
    out -= 0.5 * (off_total[ket] + off_total[bra])
    return out


def set_diagonal(M: sp.csr_array, diagonal: np.ndarray) -> sp.csr_array:
    """``M`` (square CSR, canonical) with its diagonal replaced by ``diagonal``: in place where every
    row with a nonzero new entry stores its diagonal, else a rebuilt matrix."""
    n = M.shape[0]
    rows = np.repeat(np.arange(n, dtype=M.indices.dtype), np.diff(M.indptr))
    at = np.flatnonzero(M.indices == rows)
    present = np.zeros(n, dtype=bool)
    present[rows[at]] = True
    if np.all(present | (diagonal == 0)):
        M.data[at] = diagonal[rows[at]]
        return M
    keep = M.indices != rows
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n))]).astype(M.indptr.dtype)
    rest = sp.csr_array((M.data[keep], M.indices[keep], indptr), shape=M.shape)
    out = sp.csr_array(rest + sp.diags_array(diagonal, format="csr"))
    out.sort_indices()
    return out


def liouvillian(model, *, use_kernel: bool = True) -> sp.csr_array:
    """The Liouvillian superoperator of ``model`` as a sparse matrix.

    Parameters
    ----------
    model : LindbladModel or tuple (H, c_ops)
        The master equation ``d rho/dt = -i[H, rho] + sum_k D[L_k] rho``
        (hbar = 1, ``L_k = sqrt(rate_k) A_k``).
    use_kernel : bool
        Use the compiled single-pass kernel (default); ``False`` uses the
        ``kron``-based reference (for tests).

    Returns
    -------
    scipy.sparse.csr_array
        ``d^2 x d^2``, complex128, sorted indices, in column-stacking
        convention: ``liouvillian(m) @ rho.ravel("F")`` is
        ``vec(d rho/dt)``. Equal to ``qutip.liouvillian(H, c_ops)``.

    Examples
    --------
    >>> import qutip, qness
    >>> m = qness.from_qutip(qutip.sigmaz(), [qutip.sigmam()])
    >>> qness.liouvillian(m).shape
    (4, 4)
    """
    model = as_model(model)
    if isinstance(model, SuperoperatorModel):
        return sp.csr_array(model.L, copy=True)
    arr = lindblad_arrays(model)
    d = arr.d
    if not (use_kernel and HAVE_KERNELS):
        from ._kernels.reference import assemble_reference

        M = assemble_reference(arr.A, arr.jumps)
        idx = np.arange(d * d)
        return set_diagonal(M, exact_diagonal(model, idx % d, idx // d))
    indptr, indices, data = _assemble_kernel(
        d,
        arr.a_ptr,
        arr.a_ind,
        arr.a_val,
        arr.l_ptr,
        arr.l_ind,
        arr.l_val,
        arr.l_off,
        arr.nl,
        arr.max_row(),
        kernel_threads(d * d),
    )
    N = d * d
    if N < 2**31 - 1 and indices.size < 2**31 - 1:
        indptr = indptr.astype(np.int32)
        indices = indices.astype(np.int32)
    idx = np.arange(N)
    M = sp.csr_array((data, indices, indptr), shape=(N, N))
    return set_diagonal(M, exact_diagonal(model, idx % d, idx // d))


class _LindbladOperator(spla.LinearOperator):
    """``x -> vec(A rho + rho A^+ + sum_k L_k rho L_k^+) + diag * x`` (``diag``: the exactly
    computed part of :func:`split_diagonal`, or ``None``)."""

    def __init__(self, arr: LindbladArrays, use_kernel: bool, diag: np.ndarray | None = None):
        self._arr = arr
        self._use_kernel = use_kernel and HAVE_KERNELS
        self._diag = diag
        N = arr.d * arr.d
        super().__init__(dtype=np.complex128, shape=(N, N))

    def _matvec(self, x):
        y = self._action(x)
        if self._diag is not None:
            y += self._diag * np.ravel(x)
        return y

    def _action(self, x):
        arr = self._arr
        x = np.ascontiguousarray(np.ravel(x), dtype=np.complex128)
        if not self._use_kernel:
            from ._kernels.reference import apply_reference

            return apply_reference(arr.A, arr.jumps, x)
        y = np.empty_like(x)
        _apply_kernel(
            arr.d,
            arr.a_ptr,
            arr.a_ind,
            arr.a_val,
            arr.l_ptr,
            arr.l_ind,
            arr.l_val,
            arr.l_off,
            arr.nl,
            x,
            y,
            kernel_threads(arr.d * arr.d),
        )
        return y

    def _adjoint(self):
        # L^+ (rho) = i[H, rho] + sum_k (L_k^+ rho L_k - 1/2 {L_k^+ L_k, rho}):
        # same form with A -> A^+ and L_k -> L_k^+.
        arr = self._arr
        adj = LindbladArrays(sp.csr_array(arr.A.T.conj()), [sp.csr_array(L.T.conj()) for L in arr.jumps])
        return _LindbladOperator(adj, self._use_kernel, None if self._diag is None else self._diag.conj())


def liouvillian_operator(model, *, use_kernel: bool = True) -> spla.LinearOperator:
    """Matrix-free Liouvillian: a ``LinearOperator`` mapping ``vec(rho)`` to ``vec(L(rho))``.

    Parameters
    ----------
    model : LindbladModel or tuple (H, c_ops)
        The master equation (hbar = 1).
    use_kernel : bool
        Use the compiled, OpenMP-parallel kernel (default) or the SciPy
        reference.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(d^2, d^2)``, complex128, column-stacking convention; its
        ``.H`` (adjoint) is the Heisenberg-picture generator. Memory is
        that of ``H`` and the jump operators only.
    """
    model = as_model(model)
    if isinstance(model, SuperoperatorModel):
        return spla.aslinearoperator(model.L)
    split = split_diagonal(model)
    if split is None:
        return _LindbladOperator(lindblad_arrays(model), use_kernel)
    A, rest, part = split
    idx = np.arange(model.dim**2)
    return _LindbladOperator(LindbladArrays(A, rest), use_kernel, part(idx % model.dim, idx // model.dim))
