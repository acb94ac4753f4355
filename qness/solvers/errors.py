"""Typed failures of the solvers; each carries what was computed before it failed."""

from __future__ import annotations

import numpy as np

__all__ = [
    "ConvergenceError",
    "NonUniqueSteadyStateError",
    "ClosedSystemError",
    "InsufficientMemoryError",
    "SpectrumWarning",
    "TruncationWarning",
    "UniquenessWarning",
]


class ConvergenceError(RuntimeError):
    """An iterative solver did not reach its tolerance.

    Its message always contains "did not converge" (prefixed
    ``"Did not converge: "`` when the solver's own text does not say so),
    as in SciPy and QuTiP.

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
        if "did not converge" not in message.lower():
            message = f"Did not converge: {message}"
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


class ClosedSystemError(NonUniqueSteadyStateError, TypeError):
    """The model has no dissipation (no jump operators): every function of ``H`` is stationary.

    A :class:`NonUniqueSteadyStateError`, and also a ``TypeError`` as QuTiP
    raises for a non-dissipative system.
    """


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
    """A computed spectrum could not be certified to be the rightmost eigenvalues.

    Warned by :func:`qness.spectrum` and :func:`qness.liouvillian_gap` when
    some sector's result is not certified: the propagation certificate ran
    out of budget (the message gives the budget that would do) or saw a
    slower mode that the propagator search could not resolve. The message
    names the sector and the evidence; ``Spectrum.certified`` (and
    ``info["exact_rightmost"]``) is then ``False``.
    """


class UniquenessWarning(RuntimeWarning):
    """The uniqueness of a steady state could not be verified.

    Issued by the Krylov route when its check (GMRES on a random right-hand
    side, :mod:`qness.solvers.uniqueness`) neither converged nor found a
    near-null direction within its iteration budget, and by the LU routes when
    the smallest singular value of the trace-augmented Liouvillian is between
    ``1e-14`` and ``1e-12`` of its norm (a very stiff model: double precision
    cannot tell). ``NESS.info["uniqueness"]`` holds the numbers (``verified`` False).
    """


class AccuracyWarning(RuntimeWarning):
    """A result less accurate than asked for; the result is returned.

    :func:`qness.gaussian.steady_state`: an ill-conditioned two-point
    equation (the relative residual and condition number are given).

    A Krylov tolerance that is loose for the model's units:

    ``Krylov.rtol`` bounds ``||L vec(rho)||`` absolutely (trace row of
    weight 1). When ``rtol`` is meant as tight (``<= 1e-10``, the default
    ``1e-12``) and the Liouvillian's scale (an upper bound on its norm from
    ``H_eff`` and the jump operators) is small, e.g. rates of ``1e-9`` in
    the units chosen, that bound leaves ``rho`` determined only to about
    ``rtol / scale``: the warning gives that figure and the ``rtol`` that
    would match the default accuracy. The state is returned.
    """


class TruncationWarning(RuntimeWarning):
    """A bosonic site's Fock cutoff cuts the state.

    Warned by :func:`qness.steady_state` when the highest Fock level
    ``n = cutoff - 1`` of a site declared ``"boson"``
    (:attr:`qness.LindbladModel.site_kinds`: named models and
    :class:`~qness.ModelBuilder` sites declared bosonic) holds more than
    :data:`qness.solvers.steady.TRUNCATION_THRESHOLD` (``1e-3``) of the
    population: the truncated model is then not the physical one (e.g. a
    coherent state with ``<n> = 100`` in 5 levels), and every result
    depends on the cutoff. Raise the cutoff.
    """
