"""Analysis of steady states: thermodynamics, entanglement, detailed balance.

Submodules
----------
thermo
    Heat and particle currents per bath, drive power, first-law residual,
    entropy production, bond currents and continuity (sign convention:
    ``J_k > 0`` flows from bath ``k`` into the system).
entanglement
    Partial traces, entropies, mutual information, logarithmic negativity,
    concurrence (entropies in bits by default).
balance
    Classical Markov networks (Schnakenberg entropy production, cycle
    affinities, Kolmogorov's criterion, housekeeping/excess split) and a
    quantum detailed-balance test.
transitions
    Dissipative phase transitions: gap scans, finite-size scaling, locating
    the transition, Wigner function, g2(0), metastable states.
counting
    Full counting statistics: cumulants of weighted jump counts (current,
    noise, skewness, ...), the scaled cumulant generating function and rate
    function, the Gallavotti-Cohen check, finite-frequency current noise.
correlations
    Two-time correlation functions ``<A(tau) B(0)>`` of the NESS (quantum
    regression), ``g2(tau)`` and emission spectra.

``qness.analysis.g2`` is the equal-time ``g2(0)`` of a state (a bosonic
mode); the delay-resolved ``g2(tau)`` of any operator in the NESS of a model
is :func:`qness.analysis.correlations.g2`.
"""

from . import balance, correlations, counting, entanglement, thermo, transitions
from .correlations import EmissionSpectrum, correlation, emission_spectrum
from .counting import FluctuationTheoremWarning, cumulants, gallavotti_cohen, noise_spectrum, scgf
from .thermo import (
    SecondLawWarning,
    bond_current_operators,
    bond_currents,
    continuity_residual,
    drive_power,
    entropy_production,
    first_law_residual,
    heat_currents,
    particle_currents,
)
from .transitions import finite_size_scaling, g2, gap_scan, metastable_states, photon_number, wigner

__all__ = [
    "thermo",
    "entanglement",
    "balance",
    "transitions",
    "counting",
    "cumulants",
    "scgf",
    "noise_spectrum",
    "gallavotti_cohen",
    "FluctuationTheoremWarning",
    "correlations",
    "correlation",
    "emission_spectrum",
    "EmissionSpectrum",
    "finite_size_scaling",
    "gap_scan",
    "metastable_states",
    "wigner",
    "g2",
    "photon_number",
    "SecondLawWarning",
    "heat_currents",
    "particle_currents",
    "drive_power",
    "first_law_residual",
    "entropy_production",
    "bond_currents",
    "bond_current_operators",
    "continuity_residual",
]
