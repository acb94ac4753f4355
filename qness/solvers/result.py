"""Result records of the solvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..operators import _is_qobj, as_csr

__all__ = ["NESS"]


def _expect(rho: np.ndarray, op, d: int):
    if _is_qobj(op):
        op = as_csr(op, "op")
    if sp.issparse(op):
        op = sp.csr_array(op)
        if op.shape != (d, d):
            raise ValueError(f"op has shape {op.shape}, the state is {d} x {d}")
        val = np.sum(op.multiply(rho.T).data) if op.nnz else 0.0
        # Tr(op rho) = sum_ij op_ij rho_ji
        return complex(val)
    arr = np.asarray(op)
    if arr.shape != (d, d):
        raise ValueError(f"op has shape {arr.shape}, the state is {d} x {d}")
    return complex(np.sum(arr * rho.T))


@dataclass(frozen=True, eq=False)
class NESS:
    """A steady state and how it was obtained.

    Attributes
    ----------
    rho : numpy.ndarray
        The ``d x d`` density matrix (trace 1, Hermitian).
    dims : tuple of int
        Local dimensions of the model.
    residual : float
        ``||L vec(rho)||_2`` (column stacking), the defect of stationarity.
    info : dict
        What was used: ``method`` (name), ``options`` (the method's
        settings), ``sector`` (label and size solved), ``iterations``,
        ``time`` (s), ``hermiticity_error`` (before symmetrisation), and
        solver-specific entries.
    """

    rho: np.ndarray
    dims: tuple
    residual: float
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Hilbert-space dimension."""
        return self.rho.shape[0]

    @property
    def trace(self) -> float:
        """``Re Tr(rho)`` (1 up to rounding)."""
        return float(np.real(np.trace(self.rho)))

    @property
    def hermiticity_error(self) -> float:
        """``max |rho - rho^+|`` of the solver's raw output (before symmetrisation)."""
        return float(self.info.get("hermiticity_error", 0.0))

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of ``rho`` (ascending), block by block when a symmetry was used."""
        blocks = self.info.get("_blocks")
        if blocks:
            vals = [np.linalg.eigvalsh(self.rho[np.ix_(b, b)]) for b in blocks]
            return np.sort(np.concatenate(vals))
        return np.linalg.eigvalsh(self.rho)

    @property
    def min_eigenvalue(self) -> float:
        """Smallest eigenvalue of ``rho`` (positivity check; ~ -1e-12 at worst for a good solve)."""
        return float(self.eigenvalues[0])

    @property
    def purity(self) -> float:
        """``Tr(rho^2)``."""
        return float(np.real(np.vdot(self.rho, self.rho)))

    def expect(self, op):
        """``Tr(op rho)`` for an operator (array, sparse or ``qutip.Qobj``).

        Returns a float when ``op`` is Hermitian (imaginary part below
        1e-12), else a complex number.
        """
        val = _expect(self.rho, op, self.dim)
        mat = as_csr(op, "op")
        herm = (abs(mat - mat.T.conj()).max() if mat.nnz else 0.0) <= 1e-12 * max(
            1.0, abs(mat).max() if mat.nnz else 1.0
        )
        return float(val.real) if herm else val

    def to_qobj(self):
        """The state as a ``qutip.Qobj`` with chain dims."""
        import qutip

        return qutip.Qobj(self.rho, dims=[list(self.dims), list(self.dims)])

    def __repr__(self) -> str:
        return (
            f"NESS(dim={self.dim}, residual={self.residual:.2e}, method={self.info.get('method')!r}, "
            f"time={self.info.get('time', float('nan')):.3g}s)"
        )
