"""Input of :func:`qness.floquet_steady_state`: periodic drives in every accepted form.

Turns ``drive`` (an operator for ``cos(omega t)``, a dict ``{m: V_m}``, or
QuTiP's list format with string, function or ``qutip.coefficient``
coefficients, also inside a ``qutip.QobjEvo``) into the Fourier
components ``{k: H_k}`` of ``H(t) = sum_k H_k e^{i k omega t}``. A
coefficient's harmonics are read off by FFT over one period and checked at
off-grid times several periods later, so a non-periodic coefficient is
refused.
"""

from __future__ import annotations

import math
import re

import numpy as np
import scipy.sparse as sp

from ..model import _constant_pair, as_model
from ..operators import TIME_DEPENDENCE_HINT, _is_qobj, as_csr, check_qobj_dims

#: What floquet_steady_state takes, for its refusals of other time-dependent input.
FLOQUET_INPUT_HINT = (
    "qness.floquet_steady_state takes the time dependence on H only: H in QuTiP's list format "
    "[H0, [H1, coeff], ...] or a qutip.QobjEvo of such terms (coeff a string, a function of t or a "
    "qutip.coefficient, periodic in t), or a static H with drive= (an operator for drive cos(omega t), "
    "or {m: V_m}); the jump operators and a Liouvillian must be time-independent (a modulated "
    "dissipator is not supported)"
)

#: Samples per period used to read the Fourier coefficients of a coefficient function.
_COEFF_SAMPLES = 64


# ---------------------------------------------------------------- input parsing
def _is_list_term(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) == 2 and not _is_qobj(x) and _coefficient_like(x[1])


def _coefficient_like(c) -> bool:
    if _is_qobj(c) or sp.issparse(c):
        return False
    if isinstance(c, str) or callable(c):
        return True
    return isinstance(c, np.ndarray) or (isinstance(c, list) and len(c) > 1)


def _split_qutip_list(H, name: str):
    """``(static terms, [(op, coeff, label), ...])`` of QuTiP's list format."""
    static, terms = [], []
    for k, item in enumerate(H):
        if _constant_pair(item):
            static.append(item[1] * item[0])  # [op, 0.5]: a constant factor, as in QuTiP
        elif _is_list_term(item):
            terms.append((item[0], item[1], f"{name}[{k}]"))
        elif type(item).__name__ == "QobjEvo":
            raise TypeError(
                f"{name}[{k}] is a qutip.QobjEvo; give its terms in QuTiP's list format "
                "[H0, [H1, 'cos(w*t)']] instead"
            )
        else:
            static.append(item)
    return static, terms


_FREQ_RE = re.compile(
    r"\b(?:cos|sin|exp)\s*\(\s*(?:-?\s*1j\s*\*\s*)?"
    r"([A-Za-z_]\w*|[0-9.]+(?:[eE][+-]?\d+)?)\s*\*\s*t\b"
)


def _string_frequencies(s: str, args: dict) -> list[float]:
    out = []
    for tok in _FREQ_RE.findall(s):
        try:
            out.append(abs(float(tok)))
        except ValueError:
            if tok in args:
                try:
                    out.append(abs(float(args[tok])))
                except (TypeError, ValueError):
                    pass
    return [w for w in out if w > 0]


_NAMESPACE = {
    "cos": np.cos,
    "sin": np.sin,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "pi": np.pi,
    "abs": np.abs,
    "real": np.real,
    "imag": np.imag,
    "conj": np.conj,
    "tanh": np.tanh,
    "np": np,
}


def _coefficient_function(coeff, label: str, args: dict):
    """A vectorised ``f(t_array)`` for a QuTiP coefficient (string or callable)."""
    if isinstance(coeff, str):
        code = compile(coeff, f"<{label} coefficient>", "eval")
        ns = dict(_NAMESPACE)
        ns.update(args)

        def f(ts):
            try:
                val = eval(code, {"__builtins__": {}}, {**ns, "t": ts})  # noqa: S307 - QuTiP's string format
            except Exception as exc:
                raise ValueError(f"{label}: cannot evaluate the coefficient {coeff!r}: {exc}") from exc
            return np.broadcast_to(np.asarray(val, dtype=np.complex128), ts.shape)

        return f
    if callable(coeff) and not type(coeff).__name__.endswith("Coefficient"):

        def call(t):
            try:
                return coeff(t, args)
            except TypeError:
                return coeff(t, **args) if args else coeff(t)

        def f(ts):
            return np.array([complex(call(float(t))) for t in ts])

        return f
    if callable(coeff):  # a qutip.coefficient(...): its args are inside (args= replaces them)

        def g(ts):
            try:
                return np.array([complex(coeff(float(t), args) if args else coeff(float(t))) for t in ts])
            except Exception as exc:
                raise ValueError(f"{label}: cannot evaluate the coefficient {coeff!r}: {exc}") from exc

        return g
    raise TypeError(
        f"{label}: the coefficient must be a string such as 'cos(2.0*t)', a function f(t) or f(t, args), "
        f"or a qutip.coefficient(...); got {type(coeff).__name__}: an array of values in t (QuTiP's "
        "interpolated coefficient) is not read as a periodic drive"
    )


def _fourier_coefficients(f, omega: float, label: str, coeff) -> dict:
    """``{k: c_k}`` with ``f(t) = sum_k c_k e^{i k omega t}``; ValueError if ``f`` is not such a series."""
    M = _COEFF_SAMPLES
    T = 2 * math.pi / omega
    ts = np.arange(M) * T / M
    vals = f(ts)
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{label}: the coefficient {coeff!r} is not finite over one period")
    c = np.fft.fft(vals) / M  # complex coefficients allowed: the sum of the terms must be Hermitian
    ks = np.fft.fftfreq(M, d=1.0 / M).astype(int)
    scale = max(float(np.max(np.abs(c))), 1e-300)
    keep = {int(k): complex(ck) for k, ck in zip(ks, c) if abs(ck) > 1e-14 * scale and abs(k) < M // 2}
    # Verify at off-grid times, also several periods later: a non-periodic or not
    # band-limited coefficient fails here.
    rng = np.random.default_rng(1234)
    probe = rng.uniform(0, T, 12) + T * rng.integers(1, 50, 12)
    approx = sum(ck * np.exp(1j * k * omega * probe) for k, ck in keep.items())
    exact = f(probe)
    err = float(np.max(np.abs(approx - exact)))
    remedy = (
        "; give its Fourier series truncated as you judge right instead: the drive as a dict "
        "{m: V_m} over harmonics m >= 1 (any m), H(t) = H + sum_m (V_m e^{-i m omega t} + h.c.), "
        "e.g. floquet_steady_state(model, {1: V_1, 3: V_3, 5: V_5}, omega)"
    )
    tol = 1e-9 * max(scale, float(np.max(np.abs(exact))))
    if not err <= tol:
        shifted = f(probe - T * np.round(probe / T))  # the same times, one period back
        if float(np.max(np.abs(shifted - exact))) <= tol:
            # periodic, but not a short Fourier series: a square wave, a pulse train
            raise ValueError(
                f"{label}: the coefficient {coeff!r} is periodic with period 2*pi/omega = {T:.6g} but not "
                f"a sum of at most {M // 4} harmonics (mismatch {err:.2e} of its {M}-sample Fourier "
                "series: a jump or a sharp peak, as in a square wave or a pulse train)" + remedy
            )
        raise ValueError(
            f"{label}: the coefficient {coeff!r} is not a periodic function of period 2*pi/omega = {T:.6g} "
            f"with a few harmonics (mismatch {err:.2e} of its Fourier series); a limit cycle needs a "
            "periodic drive: give the right omega, or a coefficient such as 'cos(w*t)' with w numeric "
            "(or in args)"
        )
    if max((abs(k) for k in keep), default=0) > M // 4:
        raise ValueError(
            f"{label}: the coefficient {coeff!r} needs more than {M // 4} harmonics of omega" + remedy
        )
    return keep


def _op(x, label: str, model) -> sp.csr_array:
    check_qobj_dims(x, model.dims, getattr(model, "qobj_dims", None), name=label, owner="the model")
    op = as_csr(x, label)
    d = model.dim
    if op.shape != (d, d):
        raise ValueError(f"{label} has shape {op.shape}, the model is {d} x {d}")
    return op


def _hermitian(op: sp.csr_array) -> bool:
    if op.nnz == 0:
        return True
    return abs(op - op.T.conj()).max() <= 1e-12 * abs(op).max()  # (relative: no floor of 1 in any unit)


def _parse(model, drive, omega, args):
    """``(model, static_extra, {k: H_k} for k != 0, omega)`` with ``H(t) = sum_k H_k e^{i k omega t}``."""
    args = dict(args or {})
    terms = []  # QuTiP list terms (op, coeff, label)
    if isinstance(model, tuple) and len(model) == 2:
        H, c_ops = model
        if type(H).__name__ == "QobjEvo" and not getattr(H, "isconstant", False):
            H = H.to_list()  # its terms: Qobj and [Qobj, qutip Coefficient] (args inside)
        if isinstance(H, list):
            static, terms_h = _split_qutip_list(H, "model H")
            if not static:
                raise ValueError("model H in QuTiP's list format needs a time-independent part H0")
            H0 = static[0]
            for s in static[1:]:
                H0 = H0 + s
            terms += terms_h
            model = (H0, c_ops)
    try:
        model = as_model(model)
    except TypeError as exc:
        if TIME_DEPENDENCE_HINT not in str(exc):
            raise
        # the generic refusal recommends floquet_steady_state itself: say what it takes instead
        raise TypeError(str(exc).replace(TIME_DEPENDENCE_HINT, FLOQUET_INPUT_HINT)) from None

    fourier: dict[int, sp.csr_array] = {}

    def add(k, op):
        fourier[k] = fourier[k] + op if k in fourier else op

    static_extra = None
    if drive is None:
        if not terms:
            raise ValueError(
                "drive is None and the model has no time-dependent terms: give drive (an operator "
                "for H + drive cos(omega t), or {m: V_m}) or H in QuTiP's list format"
            )
    elif isinstance(drive, dict):
        if not drive:
            raise ValueError("drive is an empty dict: give at least one harmonic {m: V_m}")
        for m, V in drive.items():
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
                raise TypeError(f"drive keys must be positive integers (harmonic m), got {m!r}")
            if m <= 0:
                raise ValueError(
                    f"drive keys must be positive integers m >= 1 (H(t) = H + sum_m (V_m e^{{-i m omega t}} "
                    f"+ h.c.)), got {m}; put a static term into H"
                )
            Vm = _op(V, f"drive[{m}]", model)
            add(-int(m), Vm)
            add(int(m), sp.csr_array(Vm.T.conj()))
    elif isinstance(drive, (list, tuple)) and (
        _is_list_term(drive) or all(_is_list_term(x) for x in drive) and len(drive) > 0
    ):
        terms += (
            [(drive[0], drive[1], "drive")]
            if _is_list_term(drive)
            else [(x[0], x[1], f"drive[{k}]") for k, x in enumerate(drive)]
        )
    elif isinstance(drive, (list, tuple)):
        raise TypeError(
            "drive must be an operator (H + drive cos(omega t)), a dict {m: V_m}, or QuTiP list terms "
            "[op, coeff] / [[op, coeff], ...] with coeff a string or function of t; got a "
            f"{type(drive).__name__} of {len(drive)} items that is none of these"
        )
    else:
        op = _op(drive, "drive", model)
        if not _hermitian(op):
            raise ValueError(
                "drive is not Hermitian: H(t) = H + drive cos(omega t) needs a Hermitian drive; for "
                "complex harmonics use drive={m: V_m} (H + sum_m V_m e^{-i m omega t} + h.c.)"
            )
        add(-1, 0.5 * op)
        add(1, 0.5 * op)

    if terms and omega is None:
        freqs = []
        for _, c, _ in terms:
            if isinstance(c, str):
                freqs += _string_frequencies(c, args)
        if not freqs:
            raise ValueError(
                "omega is not given and cannot be read from the coefficients: give omega, or a "
                "coefficient such as 'cos(2.0*t)' (a number, or a name in args, times t)"
            )
        omega = min(freqs)
    omega = _check_omega(omega)
    for op, c, label in terms:
        opm = _op(op, label, model)
        f = _coefficient_function(c, label, args)
        for k, ck in _fourier_coefficients(f, omega, label, c).items():
            if k == 0:
                static_extra = ck * opm if static_extra is None else static_extra + ck * opm
            else:
                add(k, ck * opm)
    if terms:
        _check_hermitian_sum(static_extra, fourier, [label for _, _, label in terms])
    if static_extra is not None:
        static_extra = sp.csr_array(0.5 * (static_extra + static_extra.T.conj()))
    fourier = {k: sp.csr_array(v) for k, v in fourier.items() if v.nnz and abs(v).max() > 0}
    if not fourier:
        raise ValueError("the drive is zero: nothing depends on time (use qness.steady_state)")
    return model, static_extra, fourier, omega


def _check_hermitian_sum(static, fourier, labels) -> None:
    """ValueError unless ``H(t) = static + sum_k H_k e^{i k omega t}`` is Hermitian at every ``t``.

    Each term ``op * c(t)`` need not be Hermitian (``[a, 'exp(1j*w*t)']`` with
    ``[a.dag(), 'exp(-1j*w*t)']``), but their sum must be: ``H_0`` Hermitian
    and ``H_{-k} = H_k^+``.
    """
    bad = []
    if static is not None and not _hermitian(sp.csr_array(static)):
        bad.append("its static part")
    for k in sorted(fourier):
        if k <= 0:
            continue
        Hk, Hmk = fourier[k], fourier.get(-k)
        diff = Hk - (Hmk.T.conj() if Hmk is not None else 0 * Hk)
        # relative to the harmonic's own size, with no floor of 1 (a drive in units of 1e-12 that is
        # 10 % non-Hermitian passed)
        scale = max(abs(Hk).max() if Hk.nnz else 0.0, abs(Hmk).max() if Hmk is not None and Hmk.nnz else 0.0)
        if sp.csr_array(diff).nnz and abs(diff).max() > 1e-12 * scale:
            bad.append(f"harmonic {k} (H_{k} != H_-{k}^+)")
    if bad:
        raise ValueError(
            f"H(t) from the terms {', '.join(labels)} is not Hermitian ({'; '.join(bad)}): each term "
            "op * c(t) may be complex or non-Hermitian, but together they must sum to a Hermitian H(t), "
            "e.g. [a, 'exp(1j*w*t)'] with [a.dag(), 'exp(-1j*w*t)']; or give the Fourier components "
            "as drive={m: V_m} (H + sum_m V_m e^{-i m omega t} + h.c.)"
        )


def _check_omega(omega) -> float:
    if omega is None:
        raise ValueError("omega (the drive's angular frequency) is required")
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.integer, np.floating)):
        raise TypeError(f"omega must be a positive real number, got {type(omega).__name__}")
    omega = float(omega)
    if not (math.isfinite(omega) and omega > 0):
        raise ValueError(f"omega must be a positive finite angular frequency, got {omega!r}")
    return omega
