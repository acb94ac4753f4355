# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""Single-pass CSR assembly of a Lindblad superoperator.

Builds, in column-stacking convention (``vec(X) = X.ravel(order="F")``),

    L = I ⊗ A + conj(A) ⊗ I + sum_k conj(L_k) ⊗ L_k

directly from the CSR arrays of ``A`` and of the ``L_k``, where
``A = -i H_eff`` and ``H_eff = H - i/2 sum_k L_k^+ L_k``. Row ``m = i' + d j'``
of ``L`` gathers

* ``A[i', i]``               at column ``i  + d j'``,
* ``conj(A[j', j])``         at column ``i' + d j``,
* ``conj(L[j', j]) L[i', i]`` at column ``i  + d j``.

Two passes over the rows (count, then fill) give the exact size, so the peak
memory is the output plus one column marker of length ``d^2`` per thread.
Reference twin: :func:`qness._kernels.reference.assemble_reference`.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, parallel, threadid
from libc.stdlib cimport malloc, free
from libcpp.algorithm cimport sort

cnp.import_array()

include "_avx_state.pxi"

ctypedef long long idx_t


cdef inline idx_t _row_count(
    idx_t ip, idx_t jp, idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const idx_t[::1] l_off, idx_t nl,
    idx_t* marker, idx_t* cols,
) noexcept nogil:
    cdef idx_t n = 0, t, s, k, col, base, p0
    # I ⊗ A
    for t in range(a_ptr[ip], a_ptr[ip + 1]):
        col = a_ind[t] + d * jp
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            n += 1
    # conj(A) ⊗ I
    for t in range(a_ptr[jp], a_ptr[jp + 1]):
        col = ip + d * a_ind[t]
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            n += 1
    # conj(L) ⊗ L
    for k in range(nl):
        base = k * (d + 1)
        p0 = l_off[k]
        for s in range(l_ptr[base + jp], l_ptr[base + jp + 1]):
            for t in range(l_ptr[base + ip], l_ptr[base + ip + 1]):
                col = l_ind[p0 + t] + d * l_ind[p0 + s]
                if marker[col] < 0:
                    marker[col] = n
                    cols[n] = col
                    n += 1
    for t in range(n):
        marker[cols[t]] = -1
    return n


cdef inline void _row_fill(
    idx_t ip, idx_t jp, idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind, const double complex[::1] a_val,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const double complex[::1] l_val,
    const idx_t[::1] l_off, idx_t nl,
    idx_t* marker, idx_t* cols, double complex* vals,
    idx_t out0, idx_t[::1] out_ind, double complex[::1] out_val,
) noexcept nogil:
    cdef idx_t n = 0, t, s, k, col, base, p0
    cdef double complex v, lj
    for t in range(a_ptr[ip], a_ptr[ip + 1]):
        col = a_ind[t] + d * jp
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            vals[n] = 0
            n += 1
        vals[marker[col]] = vals[marker[col]] + a_val[t]
    for t in range(a_ptr[jp], a_ptr[jp + 1]):
        col = ip + d * a_ind[t]
        v = a_val[t].conjugate()
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            vals[n] = 0
            n += 1
        vals[marker[col]] = vals[marker[col]] + v
    for k in range(nl):
        base = k * (d + 1)
        p0 = l_off[k]
        for s in range(l_ptr[base + jp], l_ptr[base + jp + 1]):
            lj = l_val[p0 + s].conjugate()
            for t in range(l_ptr[base + ip], l_ptr[base + ip + 1]):
                col = l_ind[p0 + t] + d * l_ind[p0 + s]
                v = lj * l_val[p0 + t]
                if marker[col] < 0:
                    marker[col] = n
                    cols[n] = col
                    vals[n] = 0
                    n += 1
                vals[marker[col]] = vals[marker[col]] + v
    sort(cols, cols + n)
    for t in range(n):
        col = cols[t]
        out_ind[out0 + t] = col
        out_val[out0 + t] = vals[marker[col]]
        marker[col] = -1


def assemble_lindblad_csr(
    idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind, const double complex[::1] a_val,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const double complex[::1] l_val,
    const idx_t[::1] l_off, idx_t nl, idx_t max_row, int nthreads,
):
    """Assemble ``(indptr, indices, data)`` of ``L`` (size ``d^2``) in CSR form.

    Parameters
    ----------
    d : int
        Hilbert-space dimension.
    a_ptr, a_ind, a_val : arrays
        CSR of ``A = -i H_eff`` (sorted, no duplicates), int64 / complex128.
    l_ptr : int64 array of length ``nl * (d + 1)``
        The ``indptr`` of each jump operator, concatenated.
    l_ind, l_val : arrays
        The ``indices`` and ``data`` of each jump operator, concatenated;
        jump ``k`` starts at offset ``l_off[k]``.
    l_off : int64 array of length ``nl``
        Offsets into ``l_ind`` / ``l_val``.
    nl : int
        Number of jump operators.
    max_row : int
        An upper bound on the entries gathered for one row before merging.

    Returns
    -------
    indptr, indices, data : numpy.ndarray
        int64, int64, complex128; column indices sorted within rows.
    """
    cdef idx_t N = d * d
    cdef idx_t jp, ip, m, t
    cdef cnp.ndarray[idx_t, ndim=1] counts = np.zeros(N + 1, dtype=np.int64)
    cdef idx_t[::1] cview = counts
    cdef idx_t* marker
    cdef idx_t* cols
    cdef double complex* vals
    cdef int err = 0
    cdef int* errp = &err  # shared flag: plain assignments in parallel() are thread-private

    if nthreads < 1:
        raise ValueError(f"nthreads must be positive, got {nthreads}")
    with nogil, parallel(num_threads=nthreads):
        qness_clear_avx_upper()
        marker = <idx_t*> malloc(N * sizeof(idx_t))
        cols = <idx_t*> malloc((max_row + 1) * sizeof(idx_t))
        if marker == NULL or cols == NULL:
            errp[0] = 1
        else:
            for t in range(N):
                marker[t] = -1
            for jp in prange(d, schedule="static"):
                for ip in range(d):
                    cview[1 + ip + d * jp] = _row_count(
                        ip, jp, d, a_ptr, a_ind, l_ptr, l_ind, l_off, nl, marker, cols
                    )
        free(marker)
        free(cols)
    if err:
        raise MemoryError("could not allocate the assembly work space")
    np.cumsum(counts, out=counts)
    cdef idx_t nnz = counts[N]
    cdef cnp.ndarray[idx_t, ndim=1] indices = np.empty(nnz, dtype=np.int64)
    cdef cnp.ndarray[double complex, ndim=1] data = np.empty(nnz, dtype=np.complex128)
    cdef idx_t[::1] iview = indices
    cdef double complex[::1] dview = data
    with nogil, parallel(num_threads=nthreads):
        qness_clear_avx_upper()
        marker = <idx_t*> malloc(N * sizeof(idx_t))
        cols = <idx_t*> malloc((max_row + 1) * sizeof(idx_t))
        vals = <double complex*> malloc((max_row + 1) * sizeof(double complex))
        if marker == NULL or cols == NULL or vals == NULL:
            errp[0] = 1
        else:
            for t in range(N):
                marker[t] = -1
            for jp in prange(d, schedule="static"):
                for ip in range(d):
                    m = ip + d * jp
                    _row_fill(
                        ip, jp, d, a_ptr, a_ind, a_val, l_ptr, l_ind, l_val, l_off, nl,
                        marker, cols, vals, cview[m], iview, dview,
                    )
        free(marker)
        free(cols)
        free(vals)
    if err:
        raise MemoryError("could not allocate the assembly work space")
    return counts, indices, data
