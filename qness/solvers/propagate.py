"""The action of the propagator ``exp(t L)`` on a vector, by a Chebyshev series on an ellipse.

Liouvillian spectra are long and thin: imaginary parts spread over the Bohr
frequencies of ``H`` (tens of rates for a spin chain), real parts over a few
dissipation rates. A Taylor series (``scipy.sparse.linalg.expm_multiply``)
pays for the 1-norm of ``L``; a Chebyshev series on an ellipse around the
numerical range needs about ``t`` times its long half-axis matrix-vector
products (Tal-Ezer & Kosloff, J. Chem. Phys. 81, 3967 (1984)).

The ellipse contains a box around the numerical range ``W(L)`` whose sides
are Gershgorin bounds of the Hermitian and anti-Hermitian parts of ``L``, so
it holds every eigenvalue and the series converges for the non-normal ``L``
as well. The series is summed over substeps short enough that rounding in
the recurrence is not amplified by more than ``exp(6)`` (``~4e-14`` relative).
For a CSR matrix each term of the recurrence is one fused Cython pass
(:mod:`qness._kernels.chebyshev`, both cores above 50,000 unknowns): 2.2 ms
against 4.0 ms with NumPy for a 168,000-unknown sector of a 10-spin chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.special as ssp

__all__ = ["numerical_range_box", "ChebyshevPropagator"]


def numerical_range_box(M) -> tuple[float, float, float, float]:
    """Bounds ``(a, b, c1, c2)`` with ``a <= Re z <= b`` and ``c1 <= Im z <= c2`` on ``W(M)``.

    Gershgorin discs of the Hermitian part ``(M + M^+)/2`` bound ``Re W(M)``
    and those of ``(M - M^+)/(2i)`` bound ``Im W(M)`` (both are Hermitian, so
    their spectra, hence the projections of the numerical range, lie in the
    union of their discs). Every eigenvalue of ``M`` lies in the box.
    """
    M = sp.csr_array(M)
    Mh = M.conj().T.tocsr()
    out = []
    for part in ((M + Mh) * 0.5, (M - Mh) * (-0.5j)):
        part = sp.csr_array(part)
        d = part.diagonal().real
        radius = np.asarray(abs(part).sum(axis=1)).ravel() - np.abs(d)
        out += [float(np.min(d - radius)), float(np.max(d + radius))]
    return out[0], out[1], out[2], out[3]


#: Longest substep ``h`` of :class:`ChebyshevPropagator` also has ``h (right - Re z0) <= OVERFLOW_SPAN``,
#: so that the series' terms stay below ``exp(600)`` (the double range ends at ``exp(709)``).
OVERFLOW_SPAN = 600.0


@dataclass
class ChebyshevPropagator:
    """``v -> exp(t M) v`` for a sparse ``M`` (CSR) whose numerical range lies in ``box``.

    Parameters
    ----------
    M : sparse matrix or LinearOperator
        The generator (a Liouvillian sector, column stacking).
    box : tuple of float, optional
        ``(a, b, c1, c2)`` bounding ``W(M)``; computed by
        :func:`numerical_range_box` when omitted (``M`` must then be sparse).
    tol : float
        Truncation tolerance of each substep's series, relative to ``||v||``.
    growth : float
        Longest substep ``h`` as ``h * right = growth``, ``right`` the
        ellipse's rightmost real part (floored at ``1e-3`` of the box's size):
        rounding in the recurrence grows by at most ``exp(growth)`` (``e^6 ~ 400``
        by default, ``~4e-14`` relative).
        A certificate, which needs only ``|p(lambda)| ~ exp(h lambda)`` at the
        eigenvalues and is not fooled by rounding that adds to the vector,
        runs with ``tol=1e-10, growth=8`` (12% fewer products).

    Attributes
    ----------
    matvecs : int
        Matrix-vector products used so far.
    """

    M: object
    box: tuple | None = None
    tol: float = 1e-14
    growth: float = 6.0

    def __post_init__(self):
        if self.box is None:
            self.box = numerical_range_box(self.M)
        a, b, c1, c2 = self.box
        self.center = complex(0.5 * (a + b), 0.5 * (c1 + c2))
        # (floors relative to the box, not in absolute units: a model in slow units has a small box)
        size = max(0.5 * (b - a), 0.5 * (c2 - c1), abs(self.center))
        size = size if size > 0 else 1.0
        hx, hy = max(0.5 * (b - a), 1e-12 * size), max(0.5 * (c2 - c1), 1e-12 * size)
        self._size = size
        # An ellipse through the box's corners, stretched 25% along its long side;
        # foci on the long axis at distance f from the centre.
        if hy >= hx:
            beta = 1.25 * hy
            alpha = hx / np.sqrt(1.0 - 1.0 / 1.25**2)
            self.direction = 1j
        else:
            beta = 1.25 * hx
            alpha = hy / np.sqrt(1.0 - 1.0 / 1.25**2)
            self.direction = 1.0
        if alpha >= beta:  # nearly square box: a circle would do; keep a small focal distance
            beta = alpha * 1.01
        self.f = float(np.sqrt(beta**2 - alpha**2))
        self.rho = (alpha + beta) / self.f  # Bernstein parameter of the ellipse in w
        # Rightmost real part of the ellipse: bounds |exp(h z)| on it.
        self.right = self.center.real + (alpha if self.direction == 1j else beta)
        self.matvecs = 0
        self._coeffs = {}

    # ------------------------------------------------------------ series
    def _coefficients(self, h: float) -> np.ndarray:
        """``c_k`` with ``exp(h z) = exp(h z0) sum_k c_k T_k((z - z0)/(f d))``."""
        key = round(h, 15)
        if key in self._coeffs:
            return self._coeffs[key]
        x = h * self.f * self.direction  # exp(x w), w on [-1, 1] at the foci
        kmax = int(abs(x) * 1.5 + 60)
        while True:
            k = np.arange(kmax + 1)
            # I_k(x) for complex x; for x = i y this is i^k J_k(y) (ive scales by exp(-|Re x|))
            c = ssp.ive(k, x) * np.exp(abs(x.real))
            c[1:] *= 2.0
            # |c_k| rho^k in logarithms: rho^k overflows where c_k underflows (0 x inf: NaN and
            # RuntimeWarnings from spectrum's certificate on a dephased XX chain, session-20 review)
            with np.errstate(divide="ignore"):
                size = np.log(np.abs(c)) + k * math.log(self.rho)
            tail = np.flatnonzero(size > math.log(self.tol * 1e-2))
            last = int(tail[-1]) if tail.size else 0
            if last < kmax - 5:
                break
            kmax *= 2
        c = c[: last + 1]
        self._coeffs[key] = c
        return c

    @property
    def max_step(self) -> float:
        """The longest substep, ``h * right = growth``: rounding grows at most ``e^growth``.

        ``right`` is floored at ``1e-3`` of the box's size (an ellipse reaching barely right of
        zero), not at 1 in absolute units: in slow units (every rate times ``1e-6``) the substep
        stayed at 6 time units and the cost grew as ``1/f`` (a g2 took 23 s at ``f = 1e-6``).
        """
        step = self.growth / max(self.right, 1e-3 * self._size)
        # the recurrence's terms (before the factor exp(h z0)) reach |c_k| rho^k <= 2 exp(h (right -
        # Re z0)): past exp(709) they overflow, though exp(h right) is small (a dephased XX chain's
        # sector gave NaN and RuntimeWarnings in spectrum's certificate, session-20 review)
        span = self.right - self.center.real
        return min(step, OVERFLOW_SPAN / span) if span > 0 else step

    def substep(self, t: float) -> tuple[float, int]:
        """Substep ``h <= max_step`` and count covering ``t``."""
        s = max(1, int(np.ceil(abs(t) / self.max_step)))
        return t / s, s

    def _matvec(self, v):
        self.matvecs += 1
        return np.asarray(self.M @ v).ravel()

    def _fused(self):
        """The CSR arrays for the fused Cython term, or None (other operator types)."""
        if not hasattr(self, "_csr"):
            self._csr = None
            if sp.issparse(self.M) and self.M.format == "csr":
                M = self.M
                if M.dtype == np.complex128 and M.indices.dtype == np.int32 and M.indptr.dtype == np.int32:
                    M = M if M.has_canonical_format else M.copy()
                    self._csr = (M.indptr, M.indices, M.data)
        return self._csr

    def step(self, v: np.ndarray, h: float) -> np.ndarray:
        """``exp(h M) v`` by one Chebyshev series (``h`` should come from :meth:`substep`)."""
        c = self._coefficients(h)
        z0, scale = self.center, self.f * self.direction
        csr = self._fused()
        if csr is not None:
            return self._step_fused(csr, np.ascontiguousarray(v, dtype=np.complex128), h, c)

        def X(u):  # (M - z0)/(f d) u
            return (self._matvec(u) - z0 * u) / scale

        t_prev = v
        y = c[0] * v
        if c.size > 1:
            t_cur = X(v)
            y = y + c[1] * t_cur
            for k in range(2, c.size):
                t_next = 2.0 * X(t_cur) - t_prev
                y += c[k] * t_next
                t_prev, t_cur = t_cur, t_next
        return np.exp(h * z0) * y

    def _step_fused(self, csr, v, h, c):
        from .._kernels.chebyshev import chebyshev_term
        from ..liouvillian import kernel_threads

        z0, inv_s = complex(self.center), complex(1.0 / (self.f * self.direction))
        nth = kernel_threads(v.size)
        acc = c[0] * v
        if c.size == 1:
            return np.exp(h * z0) * acc
        prev, cur = v, np.empty_like(v)
        chebyshev_term(*csr, v, v, cur, acc, z0, inv_s, 1.0, 0.0, complex(c[1]), nth)
        self.matvecs += 1
        nxt = np.empty_like(v)
        for k in range(2, c.size):
            chebyshev_term(*csr, cur, prev, nxt, acc, z0, inv_s, 2.0, 1.0, complex(c[k]), nth)
            self.matvecs += 1
            prev, cur, nxt = cur, nxt, (prev if prev is not v else np.empty_like(v))
        return np.exp(h * z0) * acc

    def apply(self, v: np.ndarray, t: float) -> np.ndarray:
        """``exp(t M) v``."""
        h, s = self.substep(t)
        y = np.asarray(v, dtype=np.complex128).ravel()
        for _ in range(s):
            y = self.step(y, h)
        return y
