# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One term of a Chebyshev series, fused into a single pass over a CSR matrix.

For the three-term recurrence of :class:`qness.solvers.propagate.ChebyshevPropagator`,

    nxt = a * (M cur - z0 cur) / s - b * prev,      acc += c * nxt,

row by row (rows split over threads): one read of ``M`` and of each vector
instead of the five passes of the NumPy expression. Reference twin:
:func:`qness._kernels.reference.chebyshev_term_reference`.
"""

from cython.parallel cimport prange

include "_avx_state.pxi"

ctypedef long long idx_t


def chebyshev_term(
    const int[::1] indptr, const int[::1] indices, const double complex[::1] data,
    const double complex[::1] cur, const double complex[::1] prev,
    double complex[::1] nxt, double complex[::1] acc,
    double complex z0, double complex inv_s, double a, double b, double complex c, int nthreads,
):
    """Write ``a (M cur - z0 cur) inv_s - b prev`` into ``nxt`` and add ``c nxt`` to ``acc``."""
    cdef idx_t n = cur.shape[0]
    cdef idx_t i, t
    cdef double complex s, v
    if nthreads < 1:
        raise ValueError(f"nthreads must be positive, got {nthreads}")
    if indptr.shape[0] != n + 1 or prev.shape[0] != n or nxt.shape[0] != n or acc.shape[0] != n:
        raise ValueError("chebyshev_term: inconsistent sizes")
    qness_clear_avx_upper()  # the calling thread (the team's master); the workers never run BLAS
    for i in prange(n, nogil=True, num_threads=nthreads, schedule="static"):
        s = 0
        for t in range(indptr[i], indptr[i + 1]):
            s = s + data[t] * cur[indices[t]]
        v = a * (s - z0 * cur[i]) * inv_s - b * prev[i]
        nxt[i] = v
        acc[i] = acc[i] + c * v
