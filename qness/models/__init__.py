"""Named Lindblad models.

Every model is a function with keyword parameters named as in the physics
that returns a :class:`qness.LindbladModel` carrying its ``name``, the
``params`` it was built from, its baths (with ``T`` and ``mu`` where they are
thermal), its coherent ``drives`` and the symmetries it conserves. All
docstrings use the form (hbar = 1)

    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}),
    L_k = sqrt(rate_k) A_k.

Families:

* driven-dissipative (:mod:`qness.models.driven`): :func:`kerr`,
  :func:`bose_hubbard`, :func:`dissipative_ising`, :func:`mollow`,
  :func:`collective_fluorescence`;
* between two reservoirs (:mod:`qness.models.chains`,
  :mod:`qness.models.quadratic`): :func:`boundary_driven_xxz`,
  :func:`xxz_thermal_chain`, :func:`two_node`, :func:`harmonic_chain`,
  :func:`fermionic_chain`;
* classical stochastic (:mod:`qness.models.classical`):
  :func:`markov_network`, :func:`three_state_cycle`, :func:`tasep`.

Helpers that are not models: :func:`mollow_steady_state`,
:func:`bohr_decomposition`, :func:`classical_generator`,
:func:`tasep_generator`, :func:`tasep_current`.

Examples
--------
>>> import qness.models
>>> "kerr" in qness.models.available()
True
>>> m = qness.models.get("mollow")(detuning=0.0, omega=1.0, gamma=1.0)
>>> m.name
'mollow'
"""

from __future__ import annotations

from collections.abc import Callable

from .chains import bohr_decomposition, boundary_driven_xxz, two_node, xxz_thermal_chain
from .classical import (
    classical_generator,
    markov_network,
    tasep,
    tasep_current,
    tasep_generator,
    three_state_cycle,
)
from .driven import (
    bose_hubbard,
    collective_fluorescence,
    dissipative_ising,
    kerr,
    mollow,
    mollow_steady_state,
)
from .quadratic import fermionic_chain, harmonic_chain

_MODELS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        kerr,
        bose_hubbard,
        dissipative_ising,
        mollow,
        collective_fluorescence,
        boundary_driven_xxz,
        xxz_thermal_chain,
        two_node,
        harmonic_chain,
        fermionic_chain,
        markov_network,
        three_state_cycle,
        tasep,
    )
}


def available() -> list[str]:
    """Names of the models in the library, sorted.

    Returns
    -------
    list of str
        Names accepted by :func:`get`.
    """
    return sorted(_MODELS)


def get(name: str) -> Callable:
    """The model function called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    callable
        The function that builds the model.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}") from None


__all__ = ["available", "get", *sorted(_MODELS)] + [
    "mollow_steady_state",
    "bohr_decomposition",
    "classical_generator",
    "tasep_generator",
    "tasep_current",
]
