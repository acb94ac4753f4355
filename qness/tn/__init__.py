"""Tensor-network steady states of long chains (matrix product states, built on quimb).

``vec(rho)`` of a 1D chain is a matrix product state on sites of dimension
``d**2`` (column stacking per site, as everywhere in qness) and is evolved to
the steady state with TEBD; the Liouvillian as an MPO gives the residual.
Needs the optional dependency ``quimb`` (``pip install "qness[tn]"``).
"""

from ._gaussian import gaussian_mps, quadratic_part
from ._solver import TNConvergenceWarning, TNSteadyState, chain_terms, liouvillian_mpo, steady_state

__all__ = [
    "steady_state",
    "TNSteadyState",
    "TNConvergenceWarning",
    "liouvillian_mpo",
    "chain_terms",
    "quadratic_part",
    "gaussian_mps",
]
