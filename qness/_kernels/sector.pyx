# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""CSR assembly of one symmetry sector of a Lindblad superoperator, without the full L.

A sector is a set of block pairs ``(bl, br)`` of a block labelling of the
basis (e.g. by the charge of a weak U(1) symmetry). Its vector stacks
``vec(rho[block bl, block br])`` (column stacking inside each block) pair by
pair. Row ``m`` of the sector matrix is the matrix element ``(i', j')`` of
``L(rho)``; it gathers the same entries as the full assembly
(:mod:`qness._kernels.assemble`), whose columns ``(i, j)`` are mapped to
sector positions ``pair_off[blk[i], blk[j]] + loc[i] + size[blk[i]] * loc[j]``.
Reference twin: :func:`qness.symmetry.Sector.matrix_reference`.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libcpp.algorithm cimport sort

cnp.import_array()

include "_avx_state.pxi"

ctypedef long long idx_t


cdef inline idx_t _pos(idx_t i, idx_t j, const idx_t[::1] blk, const idx_t[::1] loc,
                       const idx_t[::1] bsize, const idx_t[::1] pair_off, idx_t nb) noexcept nogil:
    cdef idx_t bi = blk[i], bj = blk[j]
    cdef idx_t off = pair_off[bi * nb + bj]
    if off < 0:
        return -1
    return off + loc[i] + bsize[bi] * loc[j]


cdef inline void _locate(idx_t m, const idx_t[::1] pstart, idx_t npairs, const idx_t[::1] pairs,
                         const idx_t[::1] bsize, const idx_t[::1] boff, const idx_t[::1] perm,
                         idx_t* ip, idx_t* jp) noexcept nogil:
    cdef idx_t lo = 0, hi = npairs - 1, mid, p, r, bl, br
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pstart[mid] <= m:
            lo = mid
        else:
            hi = mid - 1
    p = lo
    bl = pairs[2 * p]
    br = pairs[2 * p + 1]
    r = m - pstart[p]
    ip[0] = perm[boff[bl] + r % bsize[bl]]
    jp[0] = perm[boff[br] + r // bsize[bl]]


cdef idx_t _row(
    idx_t m, bint fill, idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind, const double complex[::1] a_val,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const double complex[::1] l_val,
    const idx_t[::1] l_off, idx_t nl,
    const idx_t[::1] pstart, idx_t npairs, const idx_t[::1] pairs, const idx_t[::1] bsize,
    const idx_t[::1] boff, const idx_t[::1] perm, const idx_t[::1] blk, const idx_t[::1] loc,
    const idx_t[::1] pair_off, idx_t nb,
    idx_t* marker, idx_t* cols, double complex* vals,
    idx_t out0, idx_t* out_ind, double complex* out_val, int* errp,
) noexcept nogil:
    cdef idx_t n = 0, t, s, k, col, base, p0, ip, jp
    cdef double complex v, lj
    _locate(m, pstart, npairs, pairs, bsize, boff, perm, &ip, &jp)
    for t in range(a_ptr[ip], a_ptr[ip + 1]):
        col = _pos(a_ind[t], jp, blk, loc, bsize, pair_off, nb)
        if col < 0:
            errp[0] = 1
            continue
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            vals[n] = 0
            n += 1
        vals[marker[col]] = vals[marker[col]] + a_val[t]
    for t in range(a_ptr[jp], a_ptr[jp + 1]):
        col = _pos(ip, a_ind[t], blk, loc, bsize, pair_off, nb)
        if col < 0:
            errp[0] = 1
            continue
        if marker[col] < 0:
            marker[col] = n
            cols[n] = col
            vals[n] = 0
            n += 1
        vals[marker[col]] = vals[marker[col]] + a_val[t].conjugate()
    for k in range(nl):
        base = k * (d + 1)
        p0 = l_off[k]
        for s in range(l_ptr[base + jp], l_ptr[base + jp + 1]):
            lj = l_val[p0 + s].conjugate()
            for t in range(l_ptr[base + ip], l_ptr[base + ip + 1]):
                col = _pos(l_ind[p0 + t], l_ind[p0 + s], blk, loc, bsize, pair_off, nb)
                if col < 0:
                    errp[0] = 1
                    continue
                if marker[col] < 0:
                    marker[col] = n
                    cols[n] = col
                    vals[n] = 0
                    n += 1
                vals[marker[col]] = vals[marker[col]] + lj * l_val[p0 + t]
    if fill:
        sort(cols, cols + n)
        for t in range(n):
            col = cols[t]
            out_ind[out0 + t] = col
            out_val[out0 + t] = vals[marker[col]]
            marker[col] = -1
    else:
        for t in range(n):
            marker[cols[t]] = -1
    return n


def assemble_sector_csr(
    idx_t d,
    const idx_t[::1] a_ptr, const idx_t[::1] a_ind, const double complex[::1] a_val,
    const idx_t[::1] l_ptr, const idx_t[::1] l_ind, const double complex[::1] l_val,
    const idx_t[::1] l_off, idx_t nl, idx_t max_row,
    const idx_t[::1] pstart, const idx_t[::1] pairs, const idx_t[::1] bsize,
    const idx_t[::1] boff, const idx_t[::1] perm, const idx_t[::1] blk, const idx_t[::1] loc,
    const idx_t[::1] pair_off, idx_t nb, idx_t nsec, int nthreads,
):
    """Assemble ``(indptr, indices, data)`` of one sector block (size ``nsec``).

    ``pstart`` (length ``npairs + 1``) holds the first sector index of each
    pair, ``pairs`` the flattened ``(bl, br)`` pairs, ``bsize``/``boff`` the
    block sizes and offsets into ``perm`` (basis states sorted by block),
    ``blk``/``loc`` each basis state's block and position in it, and
    ``pair_off`` (``nb * nb``, -1 outside the sector) the sector offset of
    each pair. Raises ``ValueError`` if an entry leaves the sector (the
    declared symmetry does not hold).
    """
    cdef idx_t npairs = pstart.shape[0] - 1
    cdef idx_t m, t, nrow
    cdef int fill
    cdef cnp.ndarray[idx_t, ndim=1] counts = np.zeros(nsec + 1, dtype=np.int64)
    cdef idx_t[::1] cview = counts
    cdef idx_t* marker
    cdef idx_t* cols
    cdef double complex* vals
    cdef int err = 0, leak = 0
    cdef int* errp = &err  # shared flags: plain assignments in parallel() are thread-private
    cdef int* leakp = &leak
    cdef cnp.ndarray[idx_t, ndim=1] indices
    cdef cnp.ndarray[double complex, ndim=1] data
    cdef idx_t* iptr = NULL
    cdef double complex* dptr = NULL
    if nthreads < 1:
        raise ValueError(f"nthreads must be positive, got {nthreads}")
    for fill in range(2):
        if fill:
            np.cumsum(counts, out=counts)
            indices = np.empty(counts[nsec], dtype=np.int64)
            data = np.empty(counts[nsec], dtype=np.complex128)
            if counts[nsec] > 0:
                iptr = &indices[0]
                dptr = &data[0]
        with nogil, parallel(num_threads=nthreads):
            qness_clear_avx_upper()
            marker = <idx_t*> malloc((nsec + 1) * sizeof(idx_t))
            cols = <idx_t*> malloc((max_row + 1) * sizeof(idx_t))
            vals = <double complex*> malloc((max_row + 1) * sizeof(double complex))
            if marker == NULL or cols == NULL or vals == NULL:
                errp[0] = 1
            else:
                for t in range(nsec):
                    marker[t] = -1
                for m in prange(nsec, schedule="dynamic", chunksize=256):
                    nrow = _row(
                        m, fill, d, a_ptr, a_ind, a_val, l_ptr, l_ind, l_val, l_off, nl,
                        pstart, npairs, pairs, bsize, boff, perm, blk, loc, pair_off, nb,
                        marker, cols, vals, cview[m], iptr, dptr, leakp,
                    )
                    if not fill:
                        cview[m + 1] = nrow
            free(marker)
            free(cols)
            free(vals)
        if err:
            raise MemoryError("could not allocate the sector assembly work space")
        if leak:
            raise ValueError("the Liouvillian maps this sector outside itself: the symmetry does not hold")
    return counts, indices, data
