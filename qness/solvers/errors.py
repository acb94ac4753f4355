"""Typed failures of the solvers; each carries what was computed before it failed."""

from __future__ import annotations

import numpy as np

__all__ = [
    "ConvergenceError",
    "NonUniqueSteadyStateError",
    "InsufficientMemoryError",
    "SpectrumWarning",
    "UniquenessWarning",
]


class ConvergenceError(RuntimeError):
    """An iterative solver did not reach its tolerance.

    Attributes
    ----------
    rho : numpy.ndarray or None
        The last iterate as a ``d x d`` matrix (trace-normalised where possible).
    residual : float
        ``||L vec(rho)||_2`` of that iterate.
    iterations : int
        Iterations performed.
    """

    def __init__(
        self, message: str, *, rho: np.ndarray | None = None, residual: float = np.nan, iterations: int = 0
    ):
        super().__init__(message)
        self.rho = rho
        self.residual = residual
        self.iterations = iterations


class NonUniqueSteadyStateError(ValueError):
    """The model has more than one steady state (a strong symmetry or a decoupled subspace).

    Attributes
    ----------
    subspaces : list of numpy.ndarray
        Basis indices of the invariant subspaces found (may be empty when
        the degeneracy was seen numerically, not structurally).
    """

    def __init__(self, message: str, *, subspaces=()):
        super().__init__(message)
        self.subspaces = list(subspaces)


class InsufficientMemoryError(MemoryError):
    """A factorisation or dense solve would not fit in the memory available.

    Attributes
    ----------
    required : float
        Estimated bytes needed.
    available : float
        Bytes available.
    """

    def __init__(self, message: str, *, required: float = np.nan, available: float = np.nan):
        super().__init__(message)
        self.required = required
        self.available = available


class SpectrumWarning(RuntimeWarning):
    """A computed spectrum is known or suspected to miss an eigenvalue it should hold.

    Raised as a warning by :func:`qness.spectrum` when propagation shows a
    mode right of the ``k``-th returned eigenvalue that shift-invert (which
    finds the eigenvalues nearest zero) did not find, typically a slow mode
    with a large imaginary part. ``info["exact_rightmost"]`` is then ``False``.
    """


class UniquenessWarning(RuntimeWarning):
    """The uniqueness of a steady state could not be verified.

    Issued by the Krylov route when its check (GMRES on a random right-hand
    side, :mod:`qness.solvers.uniqueness`) neither converged nor found a
    near-null direction within its iteration budget. ``NESS.info["uniqueness"]``
    holds the numbers.
    """
