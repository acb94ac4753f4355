"""Dissipative phase transitions: gap scans, finite-size scaling, bosonic observables, bistability.

A first-order dissipative phase transition shows up in the Liouvillian
spectrum: at the transition the gap ``-Re(lambda_1)`` closes as the system
grows (exponentially for a first-order transition, as a power law at a
critical point), and the slowest eigenmatrix ``rho_1`` mixes two metastable
states (Minganti et al., PRA 98, 042118 (2018)).

Examples
--------
The Kerr resonator in its thermodynamic limit (``U = U1/N``,
``F = F1 sqrt(N)``): the gap at the transition closes exponentially in ``N``.

>>> import numpy as np, qness
>>> from qness.analysis import transitions as tr
>>> sizes = [2, 3, 4]
>>> gaps = [qness.liouvillian_gap(tr.kerr_scaled(N, F1=2.5)) for N in sizes]
>>> fit = tr.finite_size_scaling(sizes, gaps)
>>> fit.best.law
'exponential'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

from ._dims import site_dims

__all__ = [
    "kerr_scaled",
    "gap_scan",
    "FiniteSizeFit",
    "ScalingResult",
    "fit_power_law",
    "fit_exponential",
    "finite_size_scaling",
    "locate_minimum",
    "locate_crossings",
    "transition_from_gap",
    "reduced_mode",
    "photon_number",
    "g2",
    "wigner",
    "Metastability",
    "metastable_states",
]


# --------------------------------------------------------------------------- model family
def kerr_scaled(
    N: float,
    *,
    F1: float,
    U1: float = 10.0,
    detuning: float = -10.0,
    kappa: float = 1.0,
    cutoff: int | None = None,
):
    """The Kerr resonator on its way to the thermodynamic limit: ``U = U1/N``, ``F = F1 sqrt(N)``.

    Parameters
    ----------
    N : float
        Photon-number scale (the "size"); the mean photon number grows
        proportionally to ``N``.
    F1, U1 : float
        Rescaled drive and Kerr nonlinearity.
    detuning : float
        Cavity minus drive frequency ``Delta``; bistability needs
        ``Delta U < 0``.
    kappa : float
        Photon loss rate.
    cutoff : int, optional
        Fock truncation; default ``ceil(3 N |Delta| / U1) + 8`` (three
        times the mean-field photon number of the bright branch, plus
        margin; check convergence for other parameters).

    Returns
    -------
    LindbladModel
        :func:`qness.models.kerr` with ``H = Delta a^+a + U/2 a^+a^+aa + F (a + a^+)``
        and ``L = sqrt(kappa) a``.

    Notes
    -----
    In mean field, ``x = n/N`` solves ``x ((Delta + U1 x)^2 + kappa^2/4) = F1^2``;
    with the defaults (``Delta = -10 kappa``, ``U1 = 10 kappa``) it has two
    stable branches for ``0.5 < F1/kappa < 3.86``, and the gap of the full
    quantum model is smallest near ``F1 = 2.5``, where it closes
    exponentially with ``N`` (Casteels, Fazio, Ciuti, PRA 95, 012128 (2017)).
    """
    from ..models import kerr

    if cutoff is None:
        cutoff = int(math.ceil(3 * N * abs(detuning) / max(abs(U1), 1e-12))) + 8
    return kerr(int(cutoff), detuning=detuning, U=U1 / N, F=F1 * math.sqrt(N), kappa=kappa)


# --------------------------------------------------------------------------- gap scans
def gap_scan(
    factory: Callable,
    parameter: str,
    values: Sequence[float],
    sizes: Sequence[int],
    *,
    size_name: str = "n",
    gap: Callable | None = None,
    **scan_kwargs,
):
    """The Liouvillian gap versus one parameter for several system sizes.

    Parameters
    ----------
    factory : callable
        ``factory(**{size_name: N, parameter: value}) -> LindbladModel``
        (fix other parameters with :func:`functools.partial`; picklable for
        a process pool, see :func:`qness.scan.scan`).
    parameter : str
        Name of the varied parameter.
    values : 1-D array_like
        Its values.
    sizes : sequence of int
        System sizes.
    size_name : str
        Keyword through which the factory receives the size.
    gap : callable, optional
        ``gap(model, ness) -> float`` used instead of
        :func:`qness.liouvillian_gap`.
    **scan_kwargs
        Passed to :func:`qness.scan.scan` (``store``, ``executor``,
        ``workers``, ``progress``, ...).

    Returns
    -------
    xarray.DataArray
        The gap (positive), dims ``(size_name, parameter)``; failed points
        are NaN (their messages are in ``qness.scan.scan``'s ``error``).
    """
    from ..scan import scan

    q = {"gap": gap} if gap is not None else ["gap"]
    ds = scan(factory, {parameter: values}, q, sizes=sizes, size_name=size_name, **scan_kwargs)
    return ds["gap"]


# --------------------------------------------------------------------------- finite-size fits
@dataclass(frozen=True)
class FiniteSizeFit:
    """A fit of the gap versus system size.

    Attributes
    ----------
    law : {"power", "exponential"}
        ``gap = a N^-z`` or ``gap = a exp(-N/xi)``.
    prefactor, prefactor_err : float
        ``a`` and its standard error.
    exponent, exponent_err : float
        ``z`` (power law) or ``xi`` (exponential) and its standard error
        (NaN with only two sizes).
    rss : float
        Residual sum of squares of ``log(gap)``.
    sizes, gaps : numpy.ndarray
        The data fitted.
    """

    law: str
    prefactor: float
    prefactor_err: float
    exponent: float
    exponent_err: float
    rss: float
    sizes: np.ndarray
    gaps: np.ndarray

    def predict(self, N) -> np.ndarray:
        """The fitted gap at sizes ``N``."""
        N = np.asarray(N, dtype=float)
        if self.law == "power":
            return self.prefactor * N ** (-self.exponent)
        return self.prefactor * np.exp(-N / self.exponent)


def _loglinear(x, sizes, gaps, law):
    sizes = np.asarray(sizes, dtype=float)
    gaps = np.asarray(gaps, dtype=float)
    if sizes.ndim != 1 or sizes.shape != gaps.shape:
        raise ValueError(f"sizes and gaps must be 1-D of equal length, got {sizes.shape} and {gaps.shape}")
    if sizes.size < 2:
        raise ValueError("a finite-size fit needs at least two sizes")
    if not np.all(np.isfinite(gaps)) or np.any(gaps <= 0):
        raise ValueError(f"gaps must be finite and positive, got {gaps}")
    if np.any(sizes <= 0):
        raise ValueError("sizes must be positive")
    y = np.log(gaps)
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    rss = float(resid @ resid)
    dof = sizes.size - 2
    if dof > 0:
        cov = rss / dof * np.linalg.inv(X.T @ X)
        se = np.sqrt(np.diag(cov))
    else:
        se = np.array([np.nan, np.nan])
    intercept, slope = coef
    a = math.exp(intercept)
    a_err = a * se[0]
    if law == "power":
        exponent, err = -slope, se[1]
    else:
        if slope >= 0:
            exponent, err = math.inf, math.nan  # the gap does not close exponentially
        else:
            exponent = -1.0 / slope
            err = se[1] / slope**2  # delta method for xi = -1/slope
    return FiniteSizeFit(law, a, float(a_err), float(exponent), float(err), rss, sizes, gaps)


def fit_power_law(sizes, gaps) -> FiniteSizeFit:
    """Fit ``gap = a N^-z`` by least squares on ``log gap = log a - z log N``.

    Parameters
    ----------
    sizes : 1-D array_like
        System sizes ``N > 0``.
    gaps : 1-D array_like
        Positive gaps at those sizes.

    Returns
    -------
    FiniteSizeFit
        ``exponent`` is ``z``; standard errors from the least-squares
        covariance ``s^2 (X^T X)^-1`` with ``s^2 = rss / (n - 2)``.

    Raises
    ------
    ValueError
        With fewer than two sizes or a non-positive gap.
    """
    return _loglinear(np.log(np.asarray(sizes, dtype=float)), sizes, gaps, "power")


def fit_exponential(sizes, gaps) -> FiniteSizeFit:
    """Fit ``gap = a exp(-N / xi)`` by least squares on ``log gap = log a - N / xi``.

    Parameters
    ----------
    sizes : 1-D array_like
        System sizes.
    gaps : 1-D array_like
        Positive gaps at those sizes.

    Returns
    -------
    FiniteSizeFit
        ``exponent`` is ``xi`` (``inf`` if the gap does not decrease); its
        standard error follows from that of the slope ``-1/xi`` by the
        delta method, ``se(xi) = se(slope) xi^2``.

    Raises
    ------
    ValueError
        With fewer than two sizes or a non-positive gap.
    """
    return _loglinear(np.asarray(sizes, dtype=float), sizes, gaps, "exponential")


@dataclass(frozen=True)
class ScalingResult:
    """Both finite-size fits and the one that describes the data better.

    Attributes
    ----------
    power, exponential : FiniteSizeFit
        The two fits.
    best : FiniteSizeFit
        The fit with the smaller residual of ``log gap`` (both have two
        parameters, so this is also the smaller AIC/BIC).
    """

    power: FiniteSizeFit
    exponential: FiniteSizeFit
    best: FiniteSizeFit


def finite_size_scaling(sizes, gaps) -> ScalingResult:
    """Fit the gap's decrease with size by a power law and by an exponential, and choose.

    Parameters
    ----------
    sizes : 1-D array_like
        System sizes.
    gaps : 1-D array_like
        Positive gaps (e.g. the minimum over the parameter at each size).

    Returns
    -------
    ScalingResult
        A closing gap that is exponential in ``N`` signals a first-order
        transition (or spontaneous symmetry breaking); a power law
        ``N^-z`` a critical point with dynamical exponent ``z``.

    Raises
    ------
    ValueError
        With fewer than three sizes: two points fit both laws exactly, so
        neither can be chosen (:func:`fit_power_law` and
        :func:`fit_exponential` still give each law's exponent), or a
        non-positive gap.

    Examples
    --------
    >>> import numpy as np
    >>> N = np.array([2, 3, 4, 5])
    >>> finite_size_scaling(N, 3.0 * np.exp(-N / 0.8)).best.law
    'exponential'
    """
    if np.size(sizes) < 3:
        # both two-parameter laws go through two points: "best" was decided by rounding (review)
        raise ValueError(
            f"finite_size_scaling needs at least three sizes to choose a law, got {np.size(sizes)}: two "
            "points fit both exactly (fit_power_law and fit_exponential give each exponent)"
        )
    p = fit_power_law(sizes, gaps)
    e = fit_exponential(sizes, gaps)
    return ScalingResult(p, e, e if e.rss < p.rss else p)


# --------------------------------------------------------------------------- locating the transition
def _increasing(x, *ys):
    """``x`` and the curves ``ys`` as float arrays, sorted by ``x`` (a scan's grid may come in any
    order; the interpolations below assume increasing ``x``). ``ValueError`` for shapes that do not
    match, non-finite ``x`` or a repeated ``x``."""
    x = np.asarray(x, dtype=float)
    ys = [np.asarray(y, dtype=float) for y in ys]
    if x.ndim != 1 or any(y.shape != x.shape for y in ys):
        raise ValueError(
            f"x and the curves must be 1-D of the same length; got shapes {x.shape} and "
            f"{[y.shape for y in ys]}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    order = np.argsort(x, kind="stable")
    x = x[order]
    if x.size > 1 and np.any(np.diff(x) == 0):
        raise ValueError(
            f"x has repeated values ({x[:-1][np.diff(x) == 0][:3].tolist()}): average or drop them first"
        )
    return (x, *(y[order] for y in ys))


def locate_minimum(x, y, *, log: bool = True) -> tuple[float, float]:
    """Where a sampled curve is smallest, refined by a parabola through the three nearest samples.

    Parameters
    ----------
    x, y : 1-D array_like
        Sample points (in any order, without repeats) and values; NaN values are ignored.
    log : bool
        Fit the parabola to ``log y`` (for a positive quantity such as a
        gap, which is closer to a parabola on a log scale near its dip).

    Returns
    -------
    (x_min, y_min) : tuple of float
        The refined location and value; at an end of the range, the end
        sample itself.

    Raises
    ------
    ValueError
        If ``x`` repeats a value or is not finite, the shapes differ, no value
        is finite, or ``log=True`` meets a value ``<= 0``.
    """
    x, y = _increasing(x, y)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        raise ValueError("no finite values")
    if log and np.any(y <= 0):
        raise ValueError("log=True needs positive values")
    f = np.log(y) if log else y
    i = int(np.argmin(f))
    if i == 0 or i == x.size - 1:
        return float(x[i]), float(y[i])
    c2, c1, c0 = np.polyfit(x[i - 1 : i + 2], f[i - 1 : i + 2], 2)
    if c2 <= 0:
        return float(x[i]), float(y[i])
    xm = -c1 / (2 * c2)
    fm = c0 - c1**2 / (4 * c2)
    return float(xm), float(np.exp(fm) if log else fm)


def locate_crossings(x, ya, yb) -> np.ndarray:
    """Where two sampled curves cross (linear interpolation between samples).

    Use it on scaled quantities, e.g. ``N^z * gap`` or a Binder-like ratio,
    whose curves for different sizes cross at the transition.

    Parameters
    ----------
    x : 1-D array_like
        Common sample points, in any order, without repeats.
    ya, yb : 1-D array_like
        The two curves.

    Returns
    -------
    numpy.ndarray
        The ``x`` of every sign change of ``ya - yb`` (and of exact zeros), increasing.

    Raises
    ------
    ValueError
        If ``x`` repeats a value or is not finite, or the shapes differ.
    """
    x, ya, yb = _increasing(x, ya, yb)
    d = ya - yb
    out = []
    for k in range(x.size - 1):
        d0, d1 = d[k], d[k + 1]
        if not (np.isfinite(d0) and np.isfinite(d1)):
            continue
        if d0 == 0:
            out.append(x[k])
        elif d0 * d1 < 0:
            out.append(x[k] - d0 * (x[k + 1] - x[k]) / (d1 - d0))
    if d.size and d[-1] == 0:
        out.append(x[-1])
    return np.asarray(out)


def transition_from_gap(gaps, parameter: str | None = None, size_name: str | None = None) -> dict:
    """Locate the transition at each size from a gap scan, and fit how the minimum gap closes.

    Parameters
    ----------
    gaps : xarray.DataArray
        Gap with dims ``(size_name, parameter)``, as returned by
        :func:`gap_scan` or ``qness.scan.scan(...)["gap"]``.
    parameter, size_name : str, optional
        Dimension names; taken from ``gaps.dims`` (size first) by default.

    Returns
    -------
    dict
        ``sizes``, ``x_min`` (location of the smallest gap per size),
        ``gap_min`` (its value) and ``scaling``
        (:class:`ScalingResult` of ``gap_min`` versus size; ``None`` with
        fewer than three sizes, where no law can be chosen).
    """
    if size_name is None or parameter is None:
        if gaps.ndim != 2:
            raise ValueError(f"expected a 2-D gap array (size, parameter), got dims {gaps.dims}")
        size_name = size_name or gaps.dims[0]
        parameter = parameter or [d for d in gaps.dims if d != size_name][0]
    sizes = np.asarray(gaps[size_name].values)
    x = np.asarray(gaps[parameter].values, dtype=float)
    xs, gs = [], []
    for N in sizes:
        xm, gm = locate_minimum(x, gaps.sel({size_name: N}).values)
        xs.append(xm)
        gs.append(gm)
    scaling = finite_size_scaling(sizes, gs) if len(sizes) >= 3 else None
    return {"sizes": sizes, "x_min": np.array(xs), "gap_min": np.array(gs), "scaling": scaling}


# --------------------------------------------------------------------------- bosonic modes
def _density_matrix(state) -> np.ndarray:
    if hasattr(state, "rho"):
        state = state.rho
    if hasattr(state, "full"):  # qutip.Qobj
        q = state
        if q.isket:
            q = q.proj()
        state = q.full()
    rho = np.asarray(state.toarray() if hasattr(state, "toarray") else state, dtype=complex)
    if rho.ndim == 1:
        rho = np.outer(rho, rho.conj())
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1]:
        raise ValueError(f"expected a square density matrix, got shape {rho.shape}")
    return rho


def _state_dims(state, rho: np.ndarray, dims, what: str) -> tuple[tuple[int, ...], tuple]:
    """``(dims, site_kinds)``: given dims (checked against the state's own), else the state's own
    (NESS or Qobj), else one site; a space that is not a tensor product (ENR) is refused
    (:func:`qness.analysis._dims.site_dims`)."""
    kinds = tuple(getattr(state, "site_kinds", ()) or ())
    dims = site_dims(state, rho.shape[0], dims, what)
    if kinds and len(kinds) != len(dims):
        kinds = ()
    return dims, kinds


def _mode_index(mode, dims, kinds, what: str) -> int:
    if mode is None:
        if len(dims) == 1:
            mode = 0
        else:
            bosons = [i for i, k in enumerate(kinds) if k == "boson"]
            hint = f" (bosonic sites: {bosons})" if bosons else ""
            raise ValueError(
                f"{what}: the state has {len(dims)} sites (dims {dims}); give mode= (the site index of "
                f"the bosonic mode){hint}"
            )
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)):
        raise TypeError(f"mode must be a site index (int), got {type(mode).__name__}")
    if not -len(dims) <= mode < len(dims):
        raise ValueError(f"mode {mode} out of range for dims {dims}")
    mode = int(mode) % len(dims)
    if kinds and kinds[mode] != "boson":
        raise ValueError(
            f"{what}: site {mode} is a {kinds[mode]} (the model's site_kinds {kinds}), not a bosonic mode"
        )
    return mode


def reduced_mode(state, mode: int | None = None, dims: Sequence[int] | None = None) -> np.ndarray:
    """The reduced density matrix of one site (mode) of a chain.

    Parameters
    ----------
    state : NESS, numpy.ndarray, qutip.Qobj
        A density matrix (or a ket) of dimension ``prod(dims)``.
    mode : int, optional
        Which site to keep (site 0 is the leftmost tensor factor); may be
        omitted for a single site.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (``NESS.dims``, a
        ``Qobj``'s dims), else a single site.

    Returns
    -------
    numpy.ndarray
        ``dims[mode] x dims[mode]``.

    Raises
    ------
    ValueError
        If the state has several sites and ``mode`` is not given, or
        ``mode`` is out of range.
    """
    rho = _density_matrix(state)
    dims, _ = _state_dims(state, rho, dims, "reduced_mode")
    mode = _mode_index(mode, dims, (), "reduced_mode")
    return _reduce(rho, dims, mode)


def _reduce(rho, dims, mode):
    n = len(dims)
    t = rho.reshape(dims + dims)
    # trace out every other site: contract index k with k + n
    letters = "abcdefghijklmnopqrstuvwxyz"
    if 2 * n > len(letters):
        raise ValueError("too many sites for the reduced-state contraction")
    row = list(letters[:n])
    col = list(letters[n : 2 * n])
    for k in range(n):
        if k != mode:
            col[k] = row[k]
    return np.einsum("".join(row) + "".join(col) + "->" + row[mode] + col[mode], t)


def _boson_mode(state, mode, dims, what) -> np.ndarray:
    rho = _density_matrix(state)
    dims, kinds = _state_dims(state, rho, dims, what)
    return _reduce(rho, dims, _mode_index(mode, dims, kinds, what))


def _mode_ops(d):
    a = np.diag(np.sqrt(np.arange(1, d)), 1).astype(complex)
    return a, a.conj().T


_MODE_DOC = """state : NESS, numpy.ndarray, qutip.Qobj
        State (truncated Fock basis ``n = 0, 1, ...`` on the mode).
    mode : int, optional
        Site index of the bosonic mode (site 0 is the leftmost tensor
        factor); required when the state has several sites.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (``NESS.dims`` or the
        ``Qobj``'s dims), else one mode."""

_MODE_RAISES = """Raises
    ------
    ValueError
        If the state has several sites and ``mode`` is not given, or the
        site is declared non-bosonic (``NESS.site_kinds``, from the model:
        e.g. the qubit of a cavity-qubit model or a spin chain)."""


def photon_number(state, mode: int | None = None, dims: Sequence[int] | None = None) -> float:
    """Mean photon number ``<a^+ a>`` of a bosonic mode.

    Parameters
    ----------
    {mode_doc}

    Returns
    -------
    float

    {raises}
    """
    r = _boson_mode(state, mode, dims, "photon_number")
    return float(np.real(np.sum(np.arange(r.shape[0]) * np.diag(r))))


def g2(state, mode: int | None = None, dims: Sequence[int] | None = None) -> float:
    """Equal-time second-order coherence ``g2(0) = <a^+ a^+ a a> / <a^+ a>^2``.

    Parameters
    ----------
    {mode_doc}

    Returns
    -------
    float
        1 for a coherent state, 2 for a thermal state, 0 for a Fock state
        ``|1>``; NaN for the vacuum.

    {raises}
    """
    r = _boson_mode(state, mode, dims, "g2")
    n = np.arange(r.shape[0])
    p = np.real(np.diag(r))
    mean = float(np.sum(n * p))
    if mean <= 0:
        return math.nan
    return float(np.sum(n * (n - 1) * p) / mean**2)


def wigner(
    state, xvec, yvec=None, *, mode: int | None = None, dims: Sequence[int] | None = None
) -> np.ndarray:
    """Wigner function of a bosonic mode (via :func:`qutip.wigner`).

    Parameters
    ----------
    {mode_doc}
    xvec, yvec : 1-D array_like
        Phase-space grid; ``yvec`` defaults to ``xvec``. QuTiP's convention
        ``g = sqrt(2)``: ``alpha = (x + i y) / sqrt(2)``, so the vacuum is
        ``exp(-x^2 - y^2) / pi``.

    Returns
    -------
    numpy.ndarray
        ``W[j, i]`` at ``(xvec[i], yvec[j])`` (shape ``(len(yvec), len(xvec))``),
        normalised to ``integral W dx dy = 1``.

    {raises}
    """
    import qutip

    r = _boson_mode(state, mode, dims, "wigner")
    xvec = np.asarray(xvec, dtype=float)
    yvec = xvec if yvec is None else np.asarray(yvec, dtype=float)
    return np.asarray(qutip.wigner(qutip.Qobj(0.5 * (r + r.conj().T)), xvec, yvec))


for _f in (photon_number, g2, wigner):
    _f.__doc__ = _f.__doc__.replace("{mode_doc}", _MODE_DOC).replace("{raises}", _MODE_RAISES)
del _f


# --------------------------------------------------------------------------- metastability
@dataclass(frozen=True)
class Metastability:
    """Two metastable states from the slowest Liouvillian eigenmode.

    Attributes
    ----------
    bistable : bool
        ``lambda_1`` is real and well separated from the rest of the
        spectrum (``Re lambda_2 / Re lambda_1 >= ratio``), and the two
        metastable states differ.
    lambda1, lambda2 : complex
        The two slowest non-zero eigenvalues.
    separation : float
        ``Re lambda_2 / Re lambda_1`` (timescale separation).
    rho_plus, rho_minus : numpy.ndarray or None
        ``rho_ss + c_pm rho_1``, positive semidefinite with a zero
        eigenvalue, trace 1 (``None`` when ``lambda_1`` is not real).
    c_plus, c_minus : float
        The extremal coefficients (``c_minus < 0 < c_plus``) for
        ``rho_1`` normalised to unit Frobenius norm; both 0 where ``rho_ss``
        lies on the boundary of the states along ``rho_1`` (a pure steady
        state): then ``rho_plus = rho_minus = rho_ss``.
    weights : tuple of float
        ``(p_plus, p_minus)`` with ``rho_ss = p_plus rho_plus + p_minus rho_minus``
        (``nan`` where ``c_plus = c_minus``).
    trace_distance : float
        ``||rho_plus - rho_minus||_1 / 2``.
    rho_ss, rho_1 : numpy.ndarray
        The steady state and the Hermitian slowest eigenmatrix.
    """

    bistable: bool
    lambda1: complex
    lambda2: complex
    separation: float
    rho_plus: np.ndarray | None
    rho_minus: np.ndarray | None
    c_plus: float
    c_minus: float
    weights: tuple
    trace_distance: float
    rho_ss: np.ndarray
    rho_1: np.ndarray


def _hermitian_eigenmatrix(R) -> np.ndarray:
    # For real lambda_1 the eigenmatrix is e^{i theta} K with K Hermitian;
    # tr(R R) = e^{2 i theta} tr(K^2) fixes theta.
    R = np.asarray(R, dtype=complex)
    theta = 0.5 * np.angle(np.trace(R @ R))
    K = R * np.exp(-1j * theta)
    K = 0.5 * (K + K.conj().T)
    return K / np.linalg.norm(K)


def _extremal_c(rho, K, sign, atol):
    def f(c):
        return sla.eigvalsh(rho + c * K)[0] + atol

    kmin = sla.eigvalsh(sign * K)[0]
    if kmin >= 0:
        return sign * math.inf
    hi = 1.0 / abs(kmin) * 1.01 + 1e-12
    if f(0.0) <= 0:
        return 0.0
    while f(sign * hi) > 0:  # guard: the bound above makes this rare
        hi *= 2
    return sign * sopt.brentq(lambda t: f(sign * t), 0.0, hi, xtol=1e-14, rtol=1e-12)


def _sector_modes(spectrum) -> np.ndarray:
    """Indices of the modes in the steady state's (first mode's) sector: metastable states mix
    populations, so they live there."""
    n = len(spectrum.eigenvalues)
    modes = np.arange(n)
    sectors = getattr(spectrum, "sectors", None)
    if sectors is not None and len(sectors) == n:
        modes = modes[np.asarray(sectors) == np.asarray(sectors)[0]]
    return modes


def metastable_states(
    model=None,
    *,
    spectrum=None,
    ness=None,
    ratio: float = 10.0,
    imag_tol: float = 1e-8,
    atol: float = 1e-10,
) -> Metastability:
    """Metastable states from the spectral decomposition of the Liouvillian.

    Near a first-order dissipative phase transition the slowest eigenvalue
    ``lambda_1`` is real and much closer to zero than ``lambda_2``, and its
    eigenmatrix ``rho_1`` is Hermitian (up to a phase). Every state in the
    long-time manifold is ``rho_ss + c rho_1``; the two extremal positive
    ones, ``rho_pm = rho_ss + c_pm rho_1`` with ``c_pm`` such that the
    smallest eigenvalue of ``rho_pm`` vanishes, are the metastable states
    (Minganti et al., PRA 98, 042118 (2018), Sec. V).

    Parameters
    ----------
    model : LindbladModel, optional
        Used to compute ``spectrum`` (``qness.spectrum(model, k=3)``) and
        ``ness`` (``qness.steady_state(model)``) when they are not given.
    spectrum : Spectrum, optional
        Anything with ``eigenvalues`` (sorted by real part, descending,
        the first being the steady state's 0) and ``eigenmatrices``
        (``d x d`` arrays, same order), with at least three modes; if it
        has ``sectors`` (symmetry labels, as :func:`qness.spectrum`), only
        the modes in the steady state's sector are used.
    ness : NESS or numpy.ndarray, optional
        The steady state (default: the first eigenmatrix of ``spectrum``,
        made Hermitian with trace 1).
    ratio : float
        Minimum ``Re lambda_2 / Re lambda_1`` for ``bistable``.
    imag_tol : float
        ``lambda_1`` counts as real if ``|Im lambda_1| <= imag_tol s + 1e-3 |lambda_1|``, with ``s``
        the scale of the Liouvillian (the bound on ``||L||_1`` from ``model``'s operators, else the
        largest ``|lambda|`` of ``spectrum``), so that the answer is the same in every unit.
    atol : float
        Eigenvalues above ``-atol`` count as non-negative (the truncated
        high-Fock tail of ``rho_ss`` has eigenvalues at rounding level).

    Returns
    -------
    Metastability

    Raises
    ------
    ValueError
        If neither ``model`` nor ``spectrum`` is given, or the spectrum has
        fewer than three modes in the steady state's sector.

    Notes
    -----
    ``lambda_1`` and ``lambda_2`` are the slowest modes of the steady
    state's symmetry sector: a first-order transition mixes populations
    within it. A slow mode in another sector (e.g. the odd-parity sector of
    the two-photon Kerr resonator) signals spontaneous symmetry breaking
    instead, and is not a mixture of two states of this form; inspect
    ``spectrum.sectors`` for it.
    """
    given = spectrum is not None
    if spectrum is None:
        if model is None:
            raise ValueError("give a model or a precomputed spectrum")
        import qness

        # the slowest modes may lie in other sectors (the odd sector of the two-photon Kerr mode):
        # widen k until the steady state's sector holds three (the user has no k to change here)
        n = qness.as_model(model).dim ** 2
        for k in (3, 6, 12, 24):
            spectrum = qness.spectrum(model, k=min(k, n))
            if _sector_modes(spectrum).size >= 3 or k >= n:
                break
    ev = np.asarray(spectrum.eigenvalues)
    mats = list(spectrum.eigenmatrices)
    modes = _sector_modes(spectrum)
    if modes.size < 3 or len(mats) <= modes[1]:
        raise ValueError(
            "the spectrum needs the steady state and at least two more modes in its symmetry sector "
            "(with eigenmatrices); "
            + (
                "pass one computed with a larger k (spectrum=qness.spectrum(model, k=...))"
                if given
                else f"the model's {ev.size} modes hold only {modes.size} there"
                if ev.size >= n
                else f"the {ev.size} rightmost modes hold {modes.size}; pass spectrum=qness.spectrum(model, "
                "k=...) with a larger k"
            )
        )
    j1, j2 = int(modes[1]), int(modes[2])
    if ness is None:
        if model is not None:
            import qness

            ness = qness.steady_state(model)
            rho = _density_matrix(ness)
        else:
            rho = np.asarray(mats[0], dtype=complex)
            rho = rho / np.trace(rho)
    else:
        rho = _density_matrix(ness)
    rho = 0.5 * (rho + rho.conj().T)
    lam1, lam2 = complex(ev[j1]), complex(ev[j2])
    separation = lam2.real / lam1.real if lam1.real != 0 else math.inf
    if model is not None:
        from ..solvers.steady import _liouvillian_scale

        scale = _liouvillian_scale(model)
    else:
        scale = float(np.max(np.abs(ev[np.isfinite(ev)]), initial=0.0))
    is_real = abs(lam1.imag) <= imag_tol * scale + 1e-3 * abs(lam1)
    K = _hermitian_eigenmatrix(mats[j1])
    if is_real:
        cp = _extremal_c(rho, K, +1, atol)
        cm = _extremal_c(rho, K, -1, atol)
        rp, rm = rho + cp * K, rho + cm * K
        if cp > cm:
            pp, pm = -cm / (cp - cm), cp / (cp - cm)
        else:  # rho_ss on the boundary along rho_1 (a pure steady state): one state, not two
            pp = pm = math.nan
        td = 0.5 * float(np.sum(np.abs(sla.eigvalsh(rp - rm))))
    else:
        cp = cm = math.nan
        rp = rm = None
        pp = pm = math.nan
        td = math.nan
    return Metastability(
        bistable=bool(is_real and separation >= ratio and td > 0),
        lambda1=lam1,
        lambda2=lam2,
        separation=float(separation),
        rho_plus=rp,
        rho_minus=rm,
        c_plus=float(cp),
        c_minus=float(cm),
        weights=(float(pp), float(pm)),
        trace_distance=td,
        rho_ss=rho,
        rho_1=K,
    )
