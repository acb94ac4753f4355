"""Steady-state and spectral solvers (the engine)."""

from .errors import (
    ClosedSystemError,
    ConvergenceError,
    InsufficientMemoryError,
    NonUniqueSteadyStateError,
    SpectrumWarning,
    TruncationWarning,
)
from .methods import Auto, Dense, Direct, Evolve, Krylov
from .result import NESS
from .spectrum import AutoEig, DenseEig, ShiftInvert, Spectrum, liouvillian_gap, spectrum
from .steady import steady_state, steady_states

__all__ = [
    "Auto",
    "Dense",
    "Direct",
    "Evolve",
    "Krylov",
    "NESS",
    "ConvergenceError",
    "InsufficientMemoryError",
    "NonUniqueSteadyStateError",
    "SpectrumWarning",
    "TruncationWarning",
    "ClosedSystemError",
    "steady_state",
    "steady_states",
    "AutoEig",
    "DenseEig",
    "ShiftInvert",
    "Spectrum",
    "spectrum",
    "liouvillian_gap",
]
