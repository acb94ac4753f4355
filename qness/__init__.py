"""qness: non-equilibrium steady states of open quantum systems.

Conventions used throughout (hbar = 1):

* ``d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho})``
  with ``L_k = sqrt(rate_k) A_k``.
* Column stacking: ``vec(rho) = rho.ravel(order="F")`` (as QuTiP).
* Site 0 is the leftmost tensor factor; spin basis ``m = +s ... -s``.
* Currents ``J_k > 0`` flow from bath ``k`` into the system.
"""

from . import analysis, gaussian, models, operators, plot, scan
from .liouvillian import liouvillian, liouvillian_operator
from .model import (
    Bath,
    Drive,
    Jump,
    LindbladModel,
    ModelBuilder,
    SuperoperatorModel,
    U1Symmetry,
    Z2Symmetry,
    as_model,
    check_symmetry,
    from_liouvillian,
    from_qutip,
)
from .solvers import (
    NESS,
    AccuracyWarning,
    Auto,
    AutoEig,
    ClosedSystemError,
    ConvergenceError,
    Dense,
    DenseEig,
    Direct,
    Evolve,
    FloquetNESS,
    FloquetSpectrum,
    InsufficientMemoryError,
    Krylov,
    LocalMasterEquationWarning,
    NonUniqueSteadyStateError,
    ShiftInvert,
    Spectrum,
    SpectrumWarning,
    TruncationWarning,
    UniquenessWarning,
    asymptotic_state,
    floquet_spectrum,
    floquet_steady_state,
    liouvillian_gap,
    spectrum,
    steady_state,
    steady_states,
)

__version__ = "0.1.0"

__all__ = [
    "analysis",
    "gaussian",
    "models",
    "operators",
    "plot",
    "scan",
    "liouvillian",
    "liouvillian_operator",
    "Bath",
    "Drive",
    "Jump",
    "LindbladModel",
    "ModelBuilder",
    "U1Symmetry",
    "Z2Symmetry",
    "as_model",
    "check_symmetry",
    "from_qutip",
    "from_liouvillian",
    "SuperoperatorModel",
    "NESS",
    "FloquetNESS",
    "floquet_steady_state",
    "FloquetSpectrum",
    "floquet_spectrum",
    "LocalMasterEquationWarning",
    "Auto",
    "Dense",
    "Direct",
    "Evolve",
    "Krylov",
    "ConvergenceError",
    "SpectrumWarning",
    "TruncationWarning",
    "ClosedSystemError",
    "InsufficientMemoryError",
    "NonUniqueSteadyStateError",
    "steady_state",
    "steady_states",
    "asymptotic_state",
    "UniquenessWarning",
    "AccuracyWarning",
    "AutoEig",
    "DenseEig",
    "ShiftInvert",
    "Spectrum",
    "spectrum",
    "liouvillian_gap",
]
