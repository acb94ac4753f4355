"""Steady-state and spectral solvers (the engine)."""

from .asymptotic import asymptotic_state
from .errors import (
    AccuracyWarning,
    ClosedSystemError,
    ConvergenceError,
    InsufficientMemoryError,
    NonUniqueSteadyStateError,
    SpectrumWarning,
    TruncationWarning,
    UniquenessWarning,
)
from .floquet import FloquetNESS, LocalMasterEquationWarning, floquet_steady_state
from .floquet_gap import FloquetSpectrum, floquet_spectrum
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
    "FloquetNESS",
    "LocalMasterEquationWarning",
    "floquet_steady_state",
    "FloquetSpectrum",
    "floquet_spectrum",
    "ConvergenceError",
    "InsufficientMemoryError",
    "NonUniqueSteadyStateError",
    "SpectrumWarning",
    "UniquenessWarning",
    "AccuracyWarning",
    "TruncationWarning",
    "ClosedSystemError",
    "steady_state",
    "steady_states",
    "asymptotic_state",
    "AutoEig",
    "DenseEig",
    "ShiftInvert",
    "Spectrum",
    "spectrum",
    "liouvillian_gap",
]
