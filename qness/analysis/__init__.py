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

``qness.analysis.g2`` takes both forms: ``g2(model, A, taus)`` is the
delay-resolved ``g2(tau)`` of any operator in the NESS of a model
(:func:`qness.analysis.correlations.g2`), ``g2(state, mode)`` the equal-time
``g2(0)`` of a state's bosonic mode (:func:`qness.analysis.transitions.g2`).
"""

import numpy as np

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
from .transitions import finite_size_scaling, gap_scan, metastable_states, photon_number, wigner

_TWO_TIME_KW = ("A", "taus", "ness", "symmetry")
_EQUAL_TIME_KW = ("mode", "dims")


def _is_model_like(x) -> bool:
    """A model, ``(H, c_ops)`` or a ``Qobj`` superoperator: something with dynamics, not a state."""
    from ..model import LindbladModel, SuperoperatorModel
    from ..operators import _is_qobj

    if isinstance(x, (LindbladModel, SuperoperatorModel, tuple)):
        return True
    return _is_qobj(x) and getattr(x, "type", None) == "super"


def _is_state_like(x, A) -> bool:
    """A NESS, a ``Qobj`` ket/operator, or a matrix of ``A``'s size: a state, not a model."""
    from ..operators import _is_qobj

    if _is_model_like(x):
        return False
    if hasattr(x, "rho") or (_is_qobj(x) and getattr(x, "type", None) in ("ket", "bra", "oper")):
        return True
    shape, a_shape = getattr(x, "shape", None), getattr(A, "shape", None)
    return shape is not None and a_shape is not None and len(shape) == 2 and shape[0] == a_shape[0]


def g2(*args, **kwargs):
    """Second-order coherence: ``g2(model, A, taus)`` (two-time) or ``g2(state, mode)`` (equal-time).

    One public name for the two functions, chosen by the arguments:

    - ``g2(model, A, taus, ness=None, *, symmetry="auto")``: the
      delay-resolved ``g2(tau) = <A^+ A^+(tau) A(tau) A> / <A^+ A>^2`` of any
      operator in the steady state of a model, by quantum regression
      (:func:`qness.analysis.correlations.g2`); returns an array of the
      shape of ``taus``.
    - ``g2(state, mode=None, dims=None)``: the equal-time
      ``g2(0) = <a^+ a^+ a a> / <a^+ a>^2`` of a bosonic mode of a state
      (:func:`qness.analysis.transitions.g2`); returns a float. This is the
      earlier signature of ``qness.analysis.g2``, unchanged.

    Parameters
    ----------
    *args, **kwargs
        Either form above. The two-time form is used when the first
        argument is a model (``LindbladModel``, ``SuperoperatorModel``, a
        tuple ``(H, c_ops)`` or a ``Qobj`` of type ``"super"``), when the
        second positional argument is an operator (not a site index), or
        when ``A``, ``taus``, ``ness`` or ``symmetry`` is given by keyword;
        otherwise the equal-time form (a ``NESS``, a density matrix or a
        ``Qobj`` state first; ``mode`` and ``dims`` by position or keyword).

    Returns
    -------
    numpy.ndarray of float or float
        ``g2(tau)`` at each delay (two-time) or ``g2(0)`` (equal-time); NaN
        when ``<A^+ A> = 0`` (the vacuum).

    Raises
    ------
    TypeError
        If the arguments mix the two forms (e.g. ``taus`` with ``mode``),
        if a model comes without ``A`` and ``taus``, or if a state comes
        with an operator (the two-time form needs the model: pass
        ``g2(model, A, taus, ness=state)``); otherwise as the function
        called.
    ValueError
        As the function called.

    See Also
    --------
    qness.analysis.correlations.g2, qness.analysis.transitions.g2

    Examples
    --------
    >>> import qutip, qness
    >>> from qness.analysis import g2
    >>> m = qness.models.mollow(detuning=0.0, omega=1.0, gamma=1.0)
    >>> g = g2(m, qutip.sigmam(), [0.0, 1.0])
    >>> bool(abs(g[0]) < 1e-12), round(float(g[1]), 6)  # antibunching: g2(0) = 0
    (True, 0.430831)
    >>> round(g2(qutip.thermal_dm(30, 0.5)), 6)  # equal-time, a thermal mode
    2.0
    """
    from . import correlations as _corr
    from . import transitions as _tr

    two_kw = [k for k in _TWO_TIME_KW if k in kwargs]
    eq_kw = [k for k in _EQUAL_TIME_KW if k in kwargs]
    unknown = sorted(set(kwargs) - set(_TWO_TIME_KW) - set(_EQUAL_TIME_KW))
    if unknown:
        raise TypeError(
            f"g2() got unexpected keyword argument(s) {unknown}; use g2(model, A, taus, ness=None, "
            "symmetry='auto') or g2(state, mode=None, dims=None)"
        )
    if two_kw and eq_kw:
        raise TypeError(
            f"g2: {two_kw} belong to the two-time g2(model, A, taus) and {eq_kw} to the equal-time "
            "g2(state, mode, dims); pass the arguments of one of them"
        )
    if not args:
        if "model" in kwargs or "state" in kwargs:
            raise TypeError("g2: pass the model or the state as the first positional argument")
        raise TypeError("g2() needs a model (g2(model, A, taus)) or a state (g2(state, mode))")
    first = args[0]
    second_is_op = len(args) > 1 and not (
        args[1] is None or (isinstance(args[1], (int, np.integer)) and not isinstance(args[1], bool))
    )
    two_time = bool(two_kw) or _is_model_like(first) or second_is_op
    if not two_time:
        return _tr.g2(*args, **kwargs)
    if eq_kw:
        raise TypeError(
            f"g2: {eq_kw} belong to the equal-time g2(state, mode, dims), but the first argument is a "
            f"model ({type(first).__name__}); for g2(tau) pass g2(model, A, taus), for g2(0) of its "
            "steady state pass g2(qness.steady_state(model), mode)"
        )
    if _is_state_like(first, args[1] if len(args) > 1 else kwargs.get("A")):
        raise TypeError(
            f"g2: the first argument is a state ({type(first).__name__}), but the two-time g2(tau) needs "
            "the dynamics: pass g2(model, A, taus, ness=state); for the equal-time g2(0) of the state "
            "pass g2(state, mode)"
        )
    if len(args) + sum(k in kwargs for k in ("A", "taus")) < 3:
        raise TypeError(
            "g2(model, A, taus): give the operator A and the delays taus (taus=0.0 for g2(0)); for the "
            "equal-time g2(0) of a state's bosonic mode pass g2(state, mode)"
        )
    return _corr.g2(*args, **kwargs)


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
