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

        return assemble_reference(arr.A, arr.jumps)
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
    return sp.csr_array((data, indices, indptr), shape=(N, N))


class _LindbladOperator(spla.LinearOperator):
    def __init__(self, arr: LindbladArrays, use_kernel: bool):
        self._arr = arr
        self._use_kernel = use_kernel and HAVE_KERNELS
        N = arr.d * arr.d
        super().__init__(dtype=np.complex128, shape=(N, N))

    def _matvec(self, x):
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
        return _LindbladOperator(adj, self._use_kernel)


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
    return _LindbladOperator(lindblad_arrays(model), use_kernel)
