"""Plain NumPy/SciPy reference twins of the Cython kernels.

Each function has the contract of the kernel of the same role and is used by
the tests to check the compiled code; it is also the fallback when the
extension modules are not built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def assemble_reference(A: sp.csr_array, jumps: list[sp.csr_array]) -> sp.csr_array:
    """``I ⊗ A + conj(A) ⊗ I + sum_k conj(L_k) ⊗ L_k`` by ``kron`` (column stacking)."""
    d = A.shape[0]
    eye = sp.eye_array(d, dtype=np.complex128, format="csr")
    out = sp.kron(eye, A, format="csr") + sp.kron(A.conj(), eye, format="csr")
    for L in jumps:
        out = out + sp.kron(L.conj(), L, format="csr")
    out = sp.csr_array(out)
    out.sum_duplicates()
    out.sort_indices()
    return out


def apply_reference(A: sp.csr_array, jumps: list[sp.csr_array], x: np.ndarray) -> np.ndarray:
    """``vec(A rho + rho A^+ + sum_k L_k rho L_k^+)`` for ``x = vec(rho)`` (column stacking)."""
    d = A.shape[0]
    rho = np.reshape(x, (d, d), order="F")
    y = A @ rho
    y += (A @ rho.conj().T).conj().T
    for L in jumps:
        t = L @ rho
        y += (L @ t.conj().T).conj().T
    return y.ravel(order="F")


def chebyshev_term_reference(M, cur, prev, z0, inv_s, a, b, c):
    """SciPy twin of :func:`qness._kernels.chebyshev.chebyshev_term`: returns ``(nxt, c * nxt)``."""
    nxt = a * (M @ cur - z0 * cur) * inv_s - b * prev
    return nxt, c * nxt
