# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Matrix-free action of a Lindblad superoperator on a density matrix.

Computes, for ``rho`` stored column-major (``vec(rho) = rho.ravel("F")``),

    Y = A rho + rho A^+ ... written as   Y[:, j] = A rho[:, j]
                                              + sum_l conj(A[j, l]) rho[:, l]
                                              + sum_k L_k (sum_l conj(L_k[j, l]) rho[:, l])

which is ``-i H_eff rho + i rho H_eff^+ + sum_k L_k rho L_k^+`` for
``A = -i H_eff``. Columns are independent, so they are split over threads.
Reference twin: :func:`qness._kernels.reference.apply_reference`.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free

cnp.import_array()

include "_avx_state.pxi"

ctypedef long long idx_t


cdef inline void _csr_vec_add(
    idx_t d, const idx_t[::1] ptr, idx_t pbase, const idx_t[::1] ind,
    const double complex[::1] val, idx_t off, const double complex* x, double complex* y,
) noexcept nogil:
    """y += M @ x for the CSR matrix M stored at offsets pbase/off of concatenated arrays."""
    cdef idx_t i, t
    cdef double complex acc
    for i in range(d):
        acc = 0
        for t in range(ptr[pbase + i], ptr[pbase + i + 1]):
            acc = acc + val[off + t] * x[ind[off + t]]
        y[i] = y[i] + acc


def apply_lindblad(
    idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind, const double complex[::1] a_val,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const double complex[::1] l_val,
    const idx_t[::1] l_off, idx_t nl,
    const double complex[::1] x, double complex[::1] y, int nthreads,
):
    """Write ``vec(L(rho))`` into ``y`` for ``x = vec(rho)`` (length ``d^2``).

    Arguments are as for :func:`qness._kernels.assemble.assemble_lindblad_csr`.
    """
    cdef idx_t j, i, t, s, k, base, p0, l
    cdef double complex c
    cdef double complex* tmp
    cdef const double complex* xp = &x[0]
    cdef double complex* yp = &y[0]
    cdef int err = 0
    cdef int* errp = &err  # shared flag: plain assignments in parallel() are thread-private
    if nthreads < 1:
        raise ValueError(f"nthreads must be positive, got {nthreads}")
    with nogil, parallel(num_threads=nthreads):
        qness_clear_avx_upper()
        tmp = <double complex*> malloc(d * sizeof(double complex))
        if tmp == NULL:
            errp[0] = 1
        else:
            for j in prange(d, schedule="static"):
                for i in range(d):
                    yp[i + d * j] = 0
                # A rho[:, j]
                _csr_vec_add(d, a_ptr, 0, a_ind, a_val, 0, xp + d * j, yp + d * j)
                # sum_l conj(A[j, l]) rho[:, l]
                for t in range(a_ptr[j], a_ptr[j + 1]):
                    c = a_val[t].conjugate()
                    l = a_ind[t]
                    for i in range(d):
                        yp[i + d * j] = yp[i + d * j] + c * xp[i + d * l]
                for k in range(nl):
                    base = k * (d + 1)
                    p0 = l_off[k]
                    if l_ptr[base + j] == l_ptr[base + j + 1]:
                        continue
                    for i in range(d):
                        tmp[i] = 0
                    for s in range(l_ptr[base + j], l_ptr[base + j + 1]):
                        c = l_val[p0 + s].conjugate()
                        l = l_ind[p0 + s]
                        for i in range(d):
                            tmp[i] = tmp[i] + c * xp[i + d * l]
                    _csr_vec_add(d, l_ptr, base, l_ind, l_val, p0, tmp, yp + d * j)
        free(tmp)
    if err:
        raise MemoryError("could not allocate the work space")


ctypedef fused csr_index_t:
    int
    long long


def csr_matvec(
    const csr_index_t[::1] indptr, const csr_index_t[::1] indices, const double complex[::1] data,
    const double complex[::1] x, double complex[::1] y, int nthreads,
):
    """Write ``A @ x`` into ``y`` for the CSR matrix ``A = (data, indices, indptr)``.

    The rows are split over ``nthreads`` OpenMP threads and the GIL is released throughout
    (SciPy's sparse product holds it, so two Python threads applying sparse matrices at once run
    one after the other). Products in real arithmetic (C99 complex multiplication calls
    ``__muldc3``, which made this loop twice as slow as SciPy's). Reference twin:
    ``scipy.sparse.csr_array((data, indices, indptr)) @ x``.
    """
    cdef Py_ssize_t n = y.shape[0], i
    cdef csr_index_t t, c
    cdef double ar, ai, xr, xi, sr, si
    if nthreads < 1:
        raise ValueError(f"nthreads must be positive, got {nthreads}")
    if indptr.shape[0] != n + 1:
        raise ValueError(f"indptr has {indptr.shape[0]} entries for {n} rows")
    if n == 0:
        return
    cdef const double* dp = <const double*> &data[0] if data.shape[0] else NULL
    cdef const double* xp = <const double*> &x[0]
    cdef double* yp = <double*> &y[0]
    with nogil:
        for i in prange(n, num_threads=nthreads, schedule="static"):
            sr = 0.0
            si = 0.0
            for t in range(indptr[i], indptr[i + 1]):
                c = indices[t]
                ar = dp[2 * t]
                ai = dp[2 * t + 1]
                xr = xp[2 * c]
                xi = xp[2 * c + 1]
                sr = sr + ar * xr - ai * xi
                si = si + ar * xi + ai * xr
            yp[2 * i] = sr
            yp[2 * i + 1] = si
