"""The Floquet spectrum of a periodically driven master equation: the one-period propagator.

The propagator over one period, ``Phi = T exp(int_0^T L(t) dt)``, has the
Floquet multipliers ``mu_j`` as eigenvalues; ``lambda_j = log(mu_j) / T`` (the
principal branch: ``Im lambda`` in the first Brillouin zone ``(-omega/2,
omega/2]``) are the Floquet exponents. A unique limit cycle has one
multiplier 1; the slowest decay rate of everything else is the Floquet gap
``-Re lambda_1 > 0``. The drive conventions are those of
:func:`qness.floquet_steady_state`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy.integrate import solve_ivp

from ..liouvillian import liouvillian
from .floquet import commutator_superoperator
from .floquet_input import _check_omega, _parse

__all__ = ["FloquetSpectrum", "floquet_spectrum"]

#: Largest Hilbert-space dimension for the dense propagator (``d^4`` complex entries).
MAX_DIM = 32


@dataclass(frozen=True, eq=False)
class FloquetSpectrum:
    """Floquet multipliers and exponents of a periodic Lindblad generator.

    Attributes
    ----------
    multipliers : numpy.ndarray
        Eigenvalues ``mu_j`` of the one-period propagator, ordered as
        ``exponents``.
    exponents : numpy.ndarray
        ``lambda_j = log(mu_j) / T`` (rates, units of the Hamiltonian), sorted
        by real part descending; ``Im`` in ``(-omega/2, omega/2]``.
    omega : float
        Drive angular frequency.
    info : dict
        ``time`` (s), ``rtol``/``atol`` of the integration, ``unit_defect``
        (``|mu_0 - 1|``, the distance of the leading multiplier from 1),
        ``trace_defect`` (``max |1^T Phi - 1^T|``, trace preservation).
    """

    multipliers: np.ndarray
    exponents: np.ndarray
    omega: float
    info: dict = field(default_factory=dict)

    @property
    def period(self) -> float:
        """``T = 2 pi / omega``."""
        return 2 * math.pi / self.omega

    @property
    def gap(self) -> float:
        """The Floquet gap ``-Re lambda_1`` (slowest decay rate towards the limit cycle)."""
        return float(-self.exponents[1].real)

    def __repr__(self) -> str:
        return f"FloquetSpectrum(size={self.exponents.size}, omega={self.omega:g}, gap={self.gap:.6g})"


def floquet_spectrum(
    model, drive=None, omega=None, *, args=None, rtol: float = 1e-12, atol: float = 1e-12
) -> FloquetSpectrum:
    """Floquet multipliers, exponents and gap from the one-period propagator.

    Parameters
    ----------
    model, drive, omega, args
        As for :func:`qness.floquet_steady_state` (``H(t) = H + drive cos(omega t)``,
        ``drive={m: V_m}``, or QuTiP's list format).
    rtol, atol : float
        Tolerances of the integration of ``d Phi/dt = L(t) Phi`` over one
        period (``scipy.integrate.solve_ivp``, DOP853).

    Returns
    -------
    FloquetSpectrum
        ``.exponents`` (sorted by real part, descending), ``.multipliers``
        and ``.gap`` (``-Re lambda_1``).

    Raises
    ------
    ValueError
        For a Hilbert space larger than ``d = 32`` (the dense propagator has
        ``d^4`` entries), and as :func:`qness.floquet_steady_state` for bad
        drives.
    """
    t0 = time.perf_counter()
    if omega is not None:
        omega = _check_omega(omega)
    model, static_extra, fourier, omega = _parse(model, drive, omega, args)
    d = model.dim
    if d > MAX_DIM:
        raise ValueError(
            f"floquet_spectrum builds the dense one-period propagator ({d**2} x {d**2}); the model has "
            f"d = {d} > {MAX_DIM}"
        )
    L0 = liouvillian(model)
    if static_extra is not None:
        L0 = L0 + commutator_superoperator(static_extra)
    Ls = {k: commutator_superoperator(Hk) for k, Hk in fourier.items()}
    D = d * d
    T = 2 * math.pi / omega

    def rhs(t, y):
        Y = y.reshape(D, D)
        out = L0 @ Y
        for k, Lk in Ls.items():
            out = out + np.exp(1j * k * omega * t) * (Lk @ Y)
        return np.asarray(out).ravel()

    sol = solve_ivp(
        rhs, (0.0, T), np.eye(D, dtype=np.complex128).ravel(), method="DOP853", rtol=rtol, atol=atol
    )
    if not sol.success:
        raise RuntimeError(f"floquet_spectrum: the integration over one period failed: {sol.message}")
    Phi = sol.y[:, -1].reshape(D, D)
    mu = sla.eigvals(Phi)
    lam = np.log(mu.astype(np.complex128)) / T
    order = np.lexsort((-lam.imag, -lam.real))
    lam, mu = lam[order], mu[order]
    ones = np.zeros(D)
    ones[np.arange(d) * (d + 1)] = 1.0
    info = {
        "time": time.perf_counter() - t0,
        "rtol": rtol,
        "atol": atol,
        "unit_defect": float(abs(mu[0] - 1)),
        "trace_defect": float(np.max(np.abs(ones @ Phi - ones))),
        "nfev": int(sol.nfev),
    }
    return FloquetSpectrum(multipliers=mu, exponents=lam, omega=omega, info=info)
