"""Argument checks and small helpers shared by the named models."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..model import Z2Symmetry, bose_occupation, check_symmetry, fermi_occupation

#: Sentence reused in every docstring's Notes.
LINDBLAD_FORM = (
    "d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}), L_k = sqrt(rate_k) A_k, hbar = 1"
)


def real(value, name: str) -> float:
    """``value`` as a finite float, or ``ValueError`` naming ``name``."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def nonneg(value, name: str) -> float:
    """``value`` as a finite float ``>= 0`` (rates, temperatures)."""
    v = real(value, name)
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return v


def positive(value, name: str) -> float:
    """``value`` as a finite float ``> 0``."""
    v = real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return v


def amplitude(value, name: str) -> complex:
    """A finite real or complex amplitude (drive strength)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        v = complex(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v.real) and math.isfinite(v.imag)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v.real if v.imag == 0 else v


def per_site(value, n: int, name: str, *, check=real) -> np.ndarray:
    """A scalar or a length-``n`` sequence checked entrywise, as an array of length ``n``."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(n, check(arr.item(), name))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have {n} entries, got shape {arr.shape}")
    return np.array([check(v, f"{name}[{i}]") for i, v in enumerate(arr.tolist())])


def integer(value, name: str, minimum: int) -> int:
    """An integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def choice(value, name: str, options) -> str:
    """``value`` if it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def occupation(omega: float, T: float, mu: float, statistics: str) -> float:
    """Bose or Fermi occupation of a bath mode at energy ``omega``."""
    if statistics == "boson":
        return bose_occupation(omega, T, mu)
    return fermi_occupation(omega, T, mu)


def thermal_rates(omega: float, gamma: float, T: float, mu: float, statistics: str) -> tuple[float, float]:
    """``(down, up)`` rates of a thermal bath: ``gamma (1 +- n)`` and ``gamma n``."""
    nb = occupation(omega, T, mu, statistics)
    if statistics == "boson":
        return gamma * (nb + 1.0), gamma * nb
    return gamma * (1.0 - nb), gamma * nb


def parity_of(op, parities: np.ndarray, what: str) -> int:
    """The sign ``p`` with ``P op P = p op`` for diagonal ``P``, or ``ValueError``."""
    coo = sp.coo_array(op)
    coo.eliminate_zeros()
    if coo.nnz == 0:
        return 1
    s = parities[coo.row] * parities[coo.col]
    if not np.all(s == s[0]):
        raise ValueError(f"{what} has no definite parity")
    return int(s[0])


def with_z2(model, parities, name: str):
    """``model`` with a :class:`~qness.Z2Symmetry` added, each jump's parity read from its operator.

    The symmetry is verified with :func:`qness.check_symmetry`.
    """
    parities = np.asarray(parities, dtype=np.int64)
    jp = tuple(parity_of(j.op, parities, f"jump {j.label}") for j in model.jumps)
    sym = Z2Symmetry(parities, jp, name)
    out = model.replace(symmetries=tuple(model.symmetries) + (sym,))
    check_symmetry(out, sym)
    return out
