"""Full counting statistics of the NESS: cumulants, large deviations, current noise.

Counting field convention
-------------------------
Count the jumps of a chosen set with weights: ``N_t = sum_k w_k n_k(t)``,
``n_k(t)`` the number of jumps ``k`` up to time ``t`` (``w_k = +1`` for a jump
into the collector, ``-1`` for the reverse one, an energy for heat counting).
With ``J_k rho = L_k rho L_k^+`` (``L_k = sqrt(rate_k) A_k``) the *tilted*
generator is

    L_s = L + sum_k (e^{s w_k} - 1) J_k,

with a **real** counting field ``s``; its rightmost eigenvalue is the scaled
cumulant generating function

    theta(s) = lim_{t -> inf} (1/t) ln E[e^{s N_t}] = sum_n C_n s^n / n!,

real for real ``s`` (Perron-Frobenius: ``e^{t L_s}`` is a positive map), and
``C_1`` is the mean current, ``C_2`` the zero-frequency noise, ``C_n`` the
n-th scaled cumulant. The imaginary field of the physics literature is
``s = i chi`` (``L_chi = L + sum_k (e^{i chi w_k} - 1) J_k``, ``C_n =
d^n theta / d(i chi)^n``).

Algorithms
----------
* :func:`cumulants`: Rayleigh-Schroedinger perturbation theory of the
  eigenvalue ``theta(s)`` of ``L_s = L + sum_m s^m V_m``, ``V_m = sum_k w_k^m
  J_k / m!``, around ``s = 0`` (Flindt et al., PRB 82, 155407 (2010)). With
  ``rho(s) = sum_n s^n rho_n``, ``Tr rho_n = delta_{n0}``:

      theta_n = sum_{m=1}^{n} Tr(V_m rho_{n-m}),
      rho_n   = -L^D sum_{m=1}^{n} (V_m - theta_m) rho_{n-m},   C_n = n! theta_n,

  each order one Drazin solve (:func:`qness.solvers.resolvent.drazin`: the
  sparse LU of the steady-state solve reused, or GMRES with the Sylvester
  preconditioner in the symmetry sector), never a ``d^2 x d^2`` dense matrix.
* :func:`scgf`: ``theta(s)`` on a grid, the rightmost eigenvalue of the
  sector block of ``L_s`` (dense ``eig`` for small sectors; otherwise
  inverse iteration with a real shift placed right of the eigenvalue: a
  sparse LU per grid point where the engine would factorise the sector, or
  matrix-free residual inverse iteration with GMRES preconditioned by the
  shifted no-jump inverse for many-body sectors; started from the previous
  grid point's eigenvector and certified by the Perron-Frobenius property:
  the eigenvector is a positive semidefinite matrix); the rate function by
  Legendre transform.
* :func:`noise_spectrum`: MacDonald's formula for the (symmetrised)
  finite-frequency noise, one resolvent solve per frequency.
* :func:`gallavotti_cohen`: the fluctuation theorem ``theta(s) = theta(-s -
  A)`` for entropy counting in thermal models.

Classical Markov networks and the ASEP (:mod:`qness.models.classical`) are
diagonal Lindblad models and go through the same functions.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._threads import one_blas_thread
from ..model import LindbladModel, as_model
from ..operators import _is_qobj, as_csr
from ..solvers.methods import Auto, Dense, Direct, Krylov
from ..solvers.resolvent import (
    ZERO_OMEGA_RTOL,
    Schur,
    _auto_choice,
    _find_sector,
    _prepare,
    drazin,
    resolvent,
    trace_free,
)
from ..solvers.spectrum import _zero_scale
from .correlations import _check_ness

__all__ = [
    "Cumulants",
    "SCGF",
    "GallavottiCohen",
    "FluctuationTheoremWarning",
    "cumulants",
    "scgf",
    "noise_spectrum",
    "gallavotti_cohen",
    "entropy_weights",
]


class FluctuationTheoremWarning(UserWarning):
    """Emitted when the Gallavotti-Cohen symmetry ``theta(s) = theta(-s - A)`` fails.

    Typically a local master equation whose jumps are not eigenoperators of
    ``H`` (or a model whose baths are not in local detailed balance).
    """


# ------------------------------------------------------------------ records
#: :attr:`Cumulants.fano` is ``nan`` when ``|C_1|`` is at most this fraction of the counted activity
#: (review 15: a net count across one thermal bath gave C_1 = -4e-16, C_2 = -1e-14 and a "Fano
#: factor" of 37.7).
ZERO_CURRENT_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class Cumulants:
    """Scaled cumulants of a counted current in the NESS.

    Attributes
    ----------
    cumulants : numpy.ndarray, shape (order,)
        ``C_1`` (mean current), ``C_2`` (zero-frequency noise), ``C_3``, ...
        (per unit time, in units of the weights).
    counted : dict
        ``{jump index: weight}`` as resolved from the input.
    info : dict
        ``labels`` (counted jump labels), ``sector`` (kind, label, size),
        ``route`` (of the Drazin solves), ``solves``, ``imag`` (largest
        imaginary part dropped, relative), ``activity`` (``sum_k |w_k| <L_k^+ L_k>``,
        the rate of counted jumps whatever their sign), ``time`` (s), the solver's info.
    """

    cumulants: np.ndarray
    counted: dict
    info: dict = field(default_factory=dict)

    @property
    def current(self) -> float:
        """``C_1``."""
        return float(self.cumulants[0])

    @property
    def fano(self) -> float:
        """The Fano factor ``C_2 / C_1``: ``nan`` with ``order < 2`` or a zero current, i.e.
        ``|C_1|`` at most :data:`ZERO_CURRENT_RTOL` of the counted activity ``sum_k |w_k| <L_k^+ L_k>``
        (``info["activity"]``: a net current that cancels, as across one thermal bath, is zero to
        rounding, and the ratio of two rounding errors is no Fano factor)."""
        C = self.cumulants
        if len(C) < 2 or C[0] == 0 or abs(C[0]) <= ZERO_CURRENT_RTOL * self.info.get("activity", 0.0):
            return float("nan")
        return float(C[1] / C[0])


@dataclass(frozen=True, eq=False)
class SCGF:
    """The scaled cumulant generating function on a grid, and its Legendre transform.

    Attributes
    ----------
    s : numpy.ndarray
        The counting fields (real), ascending.
    theta : numpy.ndarray
        ``theta(s)``, the rightmost eigenvalue of ``L_s``.
    current : numpy.ndarray
        ``j(s) = theta'(s)``, the current typical of the tilted ensemble: by
        Hellmann-Feynman, ``<l| dL_s/ds |r> / <l|r>`` with the left and right
        eigenvectors (``dL_s/ds = sum_k w_k e^{s w_k} J_k``), on the dense and
        shift-invert routes; by central differences with the step
        ``SCGF_FD_STEP / max|w_k|`` around each point (two more warm-started
        eigensolves) on the Krylov route (``info["current_method"]``,
        ``info["current_error"]``). Never differences on the user's grid.
    rate : numpy.ndarray
        The large-deviation rate function at ``current``:
        ``I(j(s)) = s j(s) - theta(s)`` (the Legendre transform, valid where
        ``theta`` is differentiable and convex), with ``j(s)`` of ``current``.
        ``P(N_t / t = j) ~ e^{-t I(j)}``.
    info : dict
        ``route`` (``"dense"``, ``"shift-invert"`` (sparse LU) or
        ``"krylov"`` (matrix-free), see :func:`scgf`), ``auto`` (why, under
        ``Auto``), ``certified`` per point (the eigenvector was positive
        semidefinite: the Perron eigenvalue; on the dense and shift-invert
        routes also the error bound ``kappa * residual`` was at most
        ``SCGF_CERT_RTOL * max(|theta|, max|L_ii|)``, on the Krylov route the
        residual tolerance was met, there and for the two points of the
        central difference), ``sector``, ``weights``, ``time``,
        ``current_method``; ``residual`` per point (shift-invert: of the
        balanced matrix; Krylov); on the dense and
        shift-invert routes ``kappa`` (eigenvalue condition number of the
        balanced ``L_s``) and ``error_bound`` per point; on the Krylov route
        ``current_error`` (a rough estimate: residual level over the step plus
        the second difference / 6), ``solves`` (GMRES solves in all) and
        ``iterations`` (their total), ``preconditioner_route``.
    """

    s: np.ndarray
    theta: np.ndarray
    current: np.ndarray
    rate: np.ndarray
    info: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class GallavottiCohen:
    """The Gallavotti-Cohen check ``theta(s) = theta(-s - A)``.

    Attributes
    ----------
    s : numpy.ndarray
        The counting fields.
    theta, theta_mirror : numpy.ndarray
        ``theta(s)`` and ``theta(-s - A)``.
    affinity : float
        ``A`` (1 for entropy counting with weights in units of ``k_B``).
    deviation : float
        ``max |theta(s) - theta(-s - A)|``.
    holds : bool
        ``deviation <= atol``.
    weights : dict
        ``{jump index: weight}`` counted.
    """

    s: np.ndarray
    theta: np.ndarray
    theta_mirror: np.ndarray
    affinity: float
    deviation: float
    holds: bool
    weights: dict


# ------------------------------------------------------------------ input
def _lindblad(model) -> LindbladModel:
    model = as_model(model)
    if not isinstance(model, LindbladModel):
        hint = f": {model.lindblad_hint()}" if hasattr(model, "lindblad_hint") else ""
        raise TypeError(
            f"model must be a qness.LindbladModel (counting needs its jump operators), "
            f"got {type(model).__name__}{hint}"
        )
    return model


def _is_operator(x) -> bool:
    return (_is_qobj(x) and getattr(x, "type", "oper") == "oper") or sp.issparse(x) or np.ndim(x) == 2


def _jump_index(model: LindbladModel, op) -> int | None:
    """The index of the jump whose operator (``sqrt(rate) A`` or ``A``) equals ``op``, else ``None``."""
    try:
        M = as_csr(op, "op")
    except (TypeError, ValueError):
        return None
    for k, j in enumerate(model.jumps):
        for ref in (j.L, j.op):
            if ref.shape == M.shape:
                diff = sp.csr_array(ref - M)
                scale = float(np.max(np.abs(ref.data), initial=0.0))
                if float(np.max(np.abs(diff.data), initial=0.0)) <= 1e-12 * scale:
                    return k
    return None


def _resolve_counted(model: LindbladModel, counted) -> dict:
    """``{jump index: weight}`` from ``{index or label: weight}``, a label, an index, or a list of them."""
    if counted is None:
        raise ValueError("counted must name at least one jump (index or label), e.g. {'out_3': 1}")
    if isinstance(counted, (str, numbers.Integral)):
        counted = {counted: 1.0}
    elif isinstance(counted, (list, tuple, set, frozenset)):
        counted = [(c, 1.0) for c in counted]
    elif not isinstance(counted, dict):
        raise TypeError(
            f"counted must be a dict {{jump index or label: weight}}, a label, an index or a list of them; "
            f"got {type(counted).__name__}"
        )
    if not counted:
        raise ValueError("counted is empty: name at least one jump (index or label)")
    labels = [j.label for j in model.jumps]
    out = {}
    for key, w in counted.items() if isinstance(counted, dict) else counted:
        if isinstance(key, (bool, np.bool_)):
            raise TypeError(f"counted: a jump is named by an int index or a str label, got {key!r}")
        if isinstance(key, numbers.Integral):
            k = int(key)
            if not -len(labels) <= k < len(labels):
                raise ValueError(f"counted: jump index {k} out of range (the model has {len(labels)} jumps)")
            k %= len(labels)
        elif isinstance(key, str):
            hits = [i for i, lab in enumerate(labels) if lab == key]
            if not hits:
                in_bath = [i for i, j in enumerate(model.jumps) if j.bath == key]
                if in_bath:
                    raise ValueError(
                        f"counted: {key!r} is a bath, not a jump label; count its jumps {in_bath} (labels "
                        f"{[labels[i] for i in in_bath]}) with a weight each, e.g. +1 for a quantum given "
                        f"to the bath and -1 for one taken from it: counted={{{in_bath[0]}: 1, ...}}"
                    )
                shown = ", ".join(repr(x) for x in labels[:12]) + (", ..." if len(labels) > 12 else "")
                raise ValueError(f"counted: unknown jump label {key!r}; the model's jumps are {shown}")
            if len(hits) > 1:
                raise ValueError(f"counted: label {key!r} names {len(hits)} jumps {hits}; use their indices")
            k = hits[0]
        elif _is_operator(key):
            k = _jump_index(model, key)
            where = f"it is jump {k}: pass {k}" if k is not None else "it matches none of the model's jumps"
            raise TypeError(
                f"counted: a jump is named by an int index (its place in c_ops) or a str label, not by "
                f"its operator (as QuTiP's J_ops); {where}"
            )
        else:
            raise TypeError(
                f"counted: a jump is named by an int index or a str label, got {type(key).__name__}"
            )
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Real):
            raise TypeError(f"counted: the weight of jump {key!r} must be a real number, got {w!r}")
        if not math.isfinite(float(w)):
            raise ValueError(f"counted: the weight of jump {key!r} is not finite ({w})")
        if k in out:
            raise ValueError(f"counted: jump {k} ({labels[k]!r}) is named twice")
        out[k] = float(w)
    return out


def _state(model: LindbladModel, ness, sector) -> np.ndarray:
    """The steady state as a sector vector; a given ``ness`` is checked (trace 1, stationary)."""
    d = model.dim
    given = ness is not None
    if ness is None:
        from ..solvers.steady import steady_state

        ness = steady_state(model)
    rho = getattr(ness, "rho", ness)
    if hasattr(rho, "full") and callable(rho.full):
        rho = rho.full()
    rho = np.asarray(rho, dtype=np.complex128)
    if rho.shape != (d, d):
        raise ValueError(f"ness must be a {d} x {d} density matrix, got shape {rho.shape}")
    if not np.all(np.isfinite(rho)):
        raise ValueError("ness has non-finite entries")
    if given:
        _check_ness(model, rho)
    return sector.from_full(rho) if sector.kind != "full" else rho.ravel(order="F")


def _jump_matrix(model: LindbladModel, sector, weights: dict) -> sp.csr_array:
    """Sector block of ``sum_k weights[k] J_k``, ``J_k rho = L_k rho L_k^+`` (column stacking)."""
    d = model.dim
    total = sp.csr_array((d * d, d * d), dtype=np.complex128)
    for k, w in weights.items():
        if w == 0:
            continue
        L = model.jumps[k].L
        total = total + w * sp.csr_array(sp.kron(L.conj(), L, format="csr"))
    if sector.kind == "full":
        return sp.csr_array(total)
    idx = sector.indices()
    return sp.csr_array(total[idx][:, idx])


def _check_order(order):
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    return int(order)


# ------------------------------------------------------------------ cumulants
def cumulants(model, ness=None, counted=None, order: int = 3, *, symmetry="auto", method=None, **options):
    """Scaled cumulants ``C_1`` to ``C_order`` of a weighted jump count in the NESS.

    Parameters
    ----------
    model : LindbladModel or (H, c_ops)
        The model.
    ness : NESS or array_like, optional
        Its steady state (``d x d``); computed with :func:`qness.steady_state`
        if not given.
        A given state must have trace 1 and be stationary (``||L rho|| <= NESS_RTOL ||L|| ||rho||``,
        :data:`qness.analysis.correlations.NESS_RTOL`), else ``ValueError``; it is never renormalised.
    counted : dict, str, int or list
        The counted jumps and their weights, ``{jump: weight}`` with ``jump``
        an index into ``model.jumps`` or a label (``{"out_3": 1, "in_3": -1}``);
        a label, an index or a list of them counts with weight 1.
    order : int
        Highest cumulant (``>= 1``); costs ``order - 1`` Drazin solves.
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sector used for the solves (as :func:`qness.steady_state`).
    method : Auto, Dense, Direct, Krylov, str or None
        Route of the Drazin solves (see :mod:`qness.solvers.resolvent`).
    **options
        Settings of the method.

    Returns
    -------
    Cumulants
        ``.cumulants`` (``C_1`` current, ``C_2`` zero-frequency noise, ...),
        ``.fano`` (``C_2 / C_1``), ``.current``, ``.info``.

    Raises
    ------
    ValueError
        Unknown jump label or index out of range, a non-finite weight, empty
        ``counted``, ``order < 1``, a ``ness`` of the wrong shape, of trace
        other than 1, or not stationary.
    TypeError
        A weight or key of the wrong type, a non-integer ``order``, a model
        without jump operators (a bare Liouvillian), or the counted jumps
        given as the second argument (``ness``) instead of ``counted=``.
    NonUniqueSteadyStateError
        If the steady state is not unique.

    Notes
    -----
    Convention: ``theta(s) = sum_n C_n s^n / n!`` is the rightmost eigenvalue
    of ``L_s = L + sum_k (e^{s w_k} - 1) J_k`` (module docstring); ``C_n`` are
    the derivatives of ``(1/t) ln E[e^{s N_t}]`` at ``s = 0`` for
    ``t -> infinity``.

    Examples
    --------
    A resonant level filled at rate 1 from the left and emptied at rate 2 to
    the right: current ``G_L G_R / (G_L + G_R) = 2/3``, Fano factor
    ``(G_L^2 + G_R^2) / (G_L + G_R)^2 = 5/9``.

    >>> import qutip, qness
    >>> from qness.analysis.counting import cumulants
    >>> m = qness.from_qutip(0 * qutip.sigmaz(), [qutip.sigmap(), 2**0.5 * qutip.sigmam()])
    >>> c = cumulants(m, counted={1: 1}, order=2)
    >>> round(c.current, 12), round(c.fano, 12)
    (0.666666666667, 0.555555555556)
    """
    t0 = time.perf_counter()
    model = _lindblad(model)
    names = isinstance(ness, (list, tuple)) and all(
        isinstance(x, (str, numbers.Integral)) or _is_operator(x) for x in ness
    )  # jump names or operators, not the rows of a density matrix
    if counted is None and (isinstance(ness, (dict, str, numbers.Integral)) or names):
        # scgf and noise_spectrum take counted second (and QuTiP's countstat takes J_ops there); here
        # the second argument is the state
        if isinstance(ness, (list, tuple)):
            idx = [_jump_index(model, x) if _is_operator(x) else x for x in ness]
            if any(_is_operator(x) for x in ness):
                shown = f"a {type(ness).__name__} of {len(ness)} operator(s) (QuTiP's J_ops?)"
            else:
                shown = f"the {type(ness).__name__} {ness!r}"
            suggestion = repr(idx) if None not in idx else "[index or label of each jump]"
        else:
            shown, suggestion = f"{type(ness).__name__} {ness!r}", repr(ness)
        raise TypeError(
            f"cumulants(model, ness=None, counted=None, ...): the second argument is the steady state "
            f"(ness), and got {shown}, taken as ness; name the counted jumps by keyword, by their index "
            f"in c_ops or label: cumulants(model, counted={suggestion})"
        )
    order = _check_order(order)
    weights = _resolve_counted(model, counted)
    solver = drazin(model, symmetry=symmetry, method=method, **options) if order > 1 else None
    sector = solver.sector if solver is not None else _find_sector(model, "steady", symmetry)
    rho0 = _state(model, ness, sector)
    t = sector.trace_vector()
    V = [None] + [
        _jump_matrix(model, sector, {k: w**m / math.factorial(m) for k, w in weights.items()})
        for m in range(1, order + 1)
    ]
    theta = np.zeros(order + 1, dtype=np.complex128)
    rhos = [rho0]
    for n in range(1, order + 1):
        theta[n] = sum(t @ (V[m] @ rhos[n - m]) for m in range(1, n + 1))
        if n == order:
            break
        rhs = sum(V[m] @ rhos[n - m] - theta[m] * rhos[n - m] for m in range(1, n + 1))
        # (trace zero up to the rounding of its terms, which nearly cancel for a coherent state)
        rhos.append(-solver.solve_sector(trace_free(rhs, t, rho0)))
    C = np.array([math.factorial(n) * theta[n] for n in range(1, order + 1)])
    scale = np.maximum(np.abs(C), 1e-300)
    activity = _jump_matrix(model, sector, {k: abs(w) for k, w in weights.items()})
    info = {
        "labels": [model.jumps[k].label for k in weights],
        "sector": {"kind": sector.kind, "label": sector.label, "size": sector.size},
        "imag": float(np.max(np.abs(C.imag) / scale)),
        "solves": order - 1,
        "activity": float(np.real(t @ (activity @ rho0))),
    }
    if solver is not None:
        info.update(route=solver.info["route"], solver=dict(solver.info))
    info["time"] = time.perf_counter() - t0
    return Cumulants(C.real.copy(), dict(weights), info)


# ------------------------------------------------------------------ SCGF
#: Largest sector solved by dense ``eig`` in :func:`scgf`.
SCGF_DENSE_MAX = 200


def _perron_ok(sector, vec, d) -> bool:
    X = sector.to_full(vec) if sector.kind != "full" else vec.reshape((d, d), order="F")
    tr = np.trace(X)
    if abs(tr) < 1e-14 * np.abs(X).max():
        return False
    X = X / tr
    if np.abs(X - X.conj().T).max() > 1e-6 * np.abs(X).max():
        return False
    ev = np.linalg.eigvalsh(0.5 * (X + X.conj().T))
    return bool(ev.min() >= -1e-7 * max(ev.max(), 1e-300))


def _rightmost_sparse(M, guess: float, v0, margin: float, sector, d, rng, maxiter: int = 300, dscale=None):
    """Rightmost (Perron) eigenvalue of ``M`` by inverse iteration at a real shift right of it.

    Returns ``(eigenvalue, eigenvector, shifts tried, LU of M - sigma)``. Inverse iteration with
    a fixed shift ``sigma`` converges to the eigenvalue nearest ``sigma`` at
    the rate ``|sigma - theta| / |sigma - lambda_2|``; with ``sigma`` just right
    of ``theta`` that is fast, and each step is one pair of triangular solves
    (ARPACK's restarts cost 10-100 times more here: the coherences of a
    classical model give clusters of equal real parts).
    """
    n = M.shape[0]
    sigma = guess + margin
    eye = sp.eye_array(n, format="csc")
    scale = max(float(abs(M).sum(axis=0).max()), 1e-300)
    lam = np.nan
    for attempt in range(12):
        try:
            lu = spla.splu(
                sp.csc_matrix(M - sigma * eye),
                permc_spec="MMD_AT_PLUS_A",
                diag_pivot_thresh=0.1,
                options={"SymmetricMode": True},
            )
        except RuntimeError:  # sigma is an eigenvalue to working precision: move it
            sigma += margin
            continue
        v = np.array(v0 if v0 is not None else rng.normal(size=n) + 0j, dtype=np.complex128)
        v /= np.linalg.norm(v)
        converged = False
        for _ in range(maxiter):
            w = lu.solve(v)
            lam = sigma + np.vdot(v, v) / np.vdot(v, w)
            v = w / np.linalg.norm(w)
            if np.linalg.norm(M @ v - lam * v) <= 1e-12 * scale:
                converged = True
                break
        if not converged:
            mu, vec = spla.eigs(
                spla.LinearOperator((n, n), matvec=lu.solve, dtype=np.complex128),
                k=1,
                which="LM",
                v0=v,
                tol=1e-13,
                maxiter=5000,
            )
            lam, v = sigma + 1.0 / mu[0], vec[:, 0]
        if lam.real <= sigma and _perron_ok(sector, v if dscale is None else dscale * v, d):
            return lam, v, attempt, lu
        # the Perron eigenvalue lies right of sigma (see scgf's Notes): move the shift right
        sigma = max(sigma, lam.real) + margin * 2.0 ** (attempt + 1)
        v0 = None
    raise RuntimeError(f"scgf: no positive (Perron) eigenvector found; last eigenvalue {lam}")


#: Certification tolerance of :func:`scgf`: a point is certified when the first-order error bound
#: ``kappa * (||L_s r - theta r|| + eps ||L_s||)`` (``kappa = ||l|| ||r|| / |l^+ r|`` the condition
#: number of the eigenvalue, ``l`` the left eigenvector) is at most
#: ``SCGF_CERT_RTOL * max(|theta|, max|L_ii|)``. The residual alone does not bound the eigenvalue
#: error of a non-normal ``L_s``.
SCGF_CERT_RTOL = 1e-8


def _dense_rightmost(A: np.ndarray):
    """Rightmost eigenpair of a dense matrix, with its left eigenvector and an error bound.

    ``A`` is balanced first (:func:`scipy.linalg.matrix_balance`, a diagonal
    similarity: the tilted generator at large fields is badly scaled), then
    ``eig`` gives the right and left eigenvectors of the balanced matrix ``B``.
    Returns ``(theta, r, l, kappa, bound)`` with ``r``, ``l`` eigenvectors of
    ``A`` and ``bound = kappa_B (||B r_B - theta r_B|| / ||r_B|| + eps ||B||_F)``
    the first-order bound on the error of ``theta``.
    """
    if not np.all(np.isfinite(A)):
        return np.nan, None, None, np.inf, np.inf
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's cast of an overflowing scaling
        B, (scl, _) = sla.matrix_balance(A, permute=False, separate=True)
    if not (np.all(np.isfinite(B)) and np.all(np.isfinite(scl)) and np.all(scl > 0)):
        B, scl = A, np.ones(A.shape[0])
    with one_blas_thread():  # see qness._threads
        vals, vl, vr = sla.eig(B, left=True, right=True)
    j = int(np.argmax(vals.real))
    lam, rb, lb = vals[j], vr[:, j], vl[:, j]
    overlap = abs(np.vdot(lb, rb))
    nr, nl = np.linalg.norm(rb), np.linalg.norm(lb)
    kappa = nr * nl / overlap if overlap > 0 else np.inf
    res = np.linalg.norm(B @ rb - lam * rb) / nr + np.finfo(float).eps * np.linalg.norm(B)
    return lam, scl * rb, lb / scl, kappa, kappa * res


def _sparse_balance(M, sweeps: int = 40) -> np.ndarray:
    """Diagonal ``D`` (powers of 2) such that ``D^-1 M D`` has off-diagonal row and column 1-norms
    of similar size (Osborne's balancing, all rows at once, damped). The tilted generator of a
    current that changes a conserved charge is such a similarity of ``L`` with entries ``e^{+-s}``;
    balancing undoes it and with it the huge eigenvalue condition number of the sparse route."""
    n = M.shape[0]
    A = sp.csr_array(abs(M))
    A.setdiag(0)
    A.eliminate_zeros()
    logd = np.zeros(n)
    for _ in range(sweeps):
        e = np.exp(logd)
        B = sp.csr_array(A.multiply((1.0 / e)[:, None]).multiply(e[None, :]))
        r = np.asarray(B.sum(axis=1)).ravel()
        c = np.asarray(B.sum(axis=0)).ravel()
        ok = (r > 0) & (c > 0)
        step = np.zeros(n)
        step[ok] = 0.25 * np.log(r[ok] / c[ok])
        logd += step
        if np.abs(step).max(initial=0.0) < 0.05:
            break
    return np.exp2(np.round(logd / math.log(2.0)))


def _left_sparse(lu, M, lam, l0, scale: float, maxiter: int = 300):
    """Left eigenvector ``l`` (``l^+ M = lam l^+``) by inverse iteration on the adjoint, with the LU
    of ``M - sigma`` (real ``sigma``) that gave the right one. Returns ``(l, residual)``."""
    MH = sp.csr_array(M.conj().T)
    lc = np.conj(lam)
    v = np.array(l0, dtype=np.complex128)
    v /= np.linalg.norm(v)
    res = np.inf
    for _ in range(maxiter):
        w = lu.solve(v, trans="H")
        v = w / np.linalg.norm(w)
        res = float(np.linalg.norm(MH @ v - lc * v))
        if res <= 1e-12 * scale:
            break
    return v, res


#: Step (in units of ``1 / max|w_k|``) of the central differences that give ``theta'(s)`` on the
#: Krylov route of :func:`scgf` (no left eigenvector there).
SCGF_FD_STEP = 1e-4


#: Accepted relative residual ``||L_s v - theta v|| / (scale ||v||)`` of the Krylov route of
#: :func:`scgf` (``scale`` the largest diagonal entry of ``|L|`` in the sector).
SCGF_TOL = 1e-12
#: Relative tolerance of each inner GMRES solve of the Krylov route (inexact residual inverse
#: iteration: the outer residual is recomputed exactly, so this only sets the rate).
SCGF_INNER_RTOL = 1e-3


def _rightmost_krylov(
    apply, prec0, guess, v0, margin, sector, d, scale, start, krylov, stats, max_outer=60, dscale=None
):
    """Rightmost (Perron) eigenvalue of the matrix-free ``apply`` by residual inverse iteration.

    Neumaier's residual inverse iteration at a fixed real shift ``sigma`` right of the
    eigenvalue: ``v <- v - (L_s - sigma)^{-1} (L_s v - lambda v)``, ``lambda = v^+ L_s v``
    (``||v|| = 1``), which is inverse iteration with the solve applied to a residual that
    shrinks, so GMRES solves to a fixed *relative* tolerance (:data:`SCGF_INNER_RTOL`) give an
    eigenpair accurate to the exactly recomputed outer residual. Each solve is GMRES
    right-preconditioned by the no-jump inverse ``(L0 - sigma)^{-1}`` of the sector (the
    no-jump part of ``L_s`` is that of ``L``; only the recycling jump terms are tilted),
    re-shifted from ``prec0`` without new block decompositions.

    Returns ``(eigenvalue, eigenvector, converged, residual)``; the eigenvector is the
    Perron one (positive semidefinite) or ``RuntimeError`` is raised after 12 shifts.
    """
    from ..solvers.krylov import gmres
    from ..solvers.resolvent import _reshift

    n = sector.size
    sigma = guess + margin
    lam, res = np.nan, np.inf
    restart = krylov.restart or 50
    for attempt in range(12):
        P = _reshift(prec0, sigma)
        if dscale is not None:  # the balanced problem D^-1 L_s D: precondition with D^-1 P D
            P = spla.LinearOperator(
                (n, n),
                matvec=lambda x, P_=P: np.asarray(P_ @ (dscale * x)).ravel() / dscale,
                dtype=np.complex128,
            )
        A = spla.LinearOperator((n, n), matvec=lambda x, s_=sigma: apply(x) - s_ * x, dtype=np.complex128)
        v = np.array(v0 if v0 is not None else start, dtype=np.complex128)
        v /= np.linalg.norm(v)
        converged, best, stall, singular = False, np.inf, 0, False
        for _ in range(max_outer):
            Av = apply(v)
            lam = np.vdot(v, Av)
            r = Av - lam * v
            res = float(np.linalg.norm(r)) / scale
            if res <= SCGF_TOL:
                converged = True
                break
            # stagnation at rounding level: stop (reported, not certified as converged)
            stall = stall + 1 if res > 0.5 * best else 0
            best = min(best, res)
            if stall >= 6:
                break
            w, info = gmres(A, r, M=P, rtol=SCGF_INNER_RTOL, restart=restart, maxiter=krylov.maxiter)
            stats["solves"] += 1
            stats["iterations"] += int(info["iterations"])
            if info["singular"]:  # sigma is an eigenvalue to working precision: move it
                singular = True
                break
            v = v - w
            v /= np.linalg.norm(v)
        if singular:
            sigma += margin
            continue
        perron = _perron_ok(sector, v if dscale is None else dscale * v, d)
        if lam.real <= sigma + SCGF_TOL * scale and perron:
            return lam, v, converged, res
        # the Perron eigenvalue lies right of sigma (see scgf's Notes): move the shift right (keeping
        # the vector when it is already the positive one, only the shift was left of its eigenvalue)
        sigma = max(sigma, lam.real) + margin * 2.0 ** (attempt + 1)
        v0 = v if perron else None
    raise RuntimeError(f"scgf: no positive (Perron) eigenvector found; last eigenvalue {lam}")


def _diag_scale(model: LindbladModel, sector) -> float:
    """Largest ``|L_ii|`` in the sector, without assembling it (``L`` at ``s = 0``).

    The diagonal element of ``rho_ij`` is ``a_i + conj(a_j) + sum_k l_ki conj(l_kj)`` with ``a``
    the diagonal of ``-i H_eff`` and ``l_k`` that of ``L_k``; computed block pair by block pair.
    """
    a = -1j * np.asarray(model.H_eff().diagonal())
    ells = []
    for j in model.jumps:
        if j.rate == 0 or j.op.nnz == 0:
            continue
        ell = np.sqrt(j.rate) * np.asarray(j.op.diagonal())
        if np.any(ell):
            ells.append(ell)
    out = 0.0
    for bl, br in sector.pairs:
        il, ir = sector.blocks[bl], sector.blocks[br]
        D = a[il][:, None] + a[ir].conj()[None, :]
        for ell in ells:
            D = D + ell[il][:, None] * ell[ir].conj()[None, :]
        out = max(out, float(np.abs(D).max(initial=0.0)))
    return max(out, 1e-300)


def scgf(model, counted, s, *, ness=None, symmetry="auto", method=None, seed: int = 0, **options):
    """The scaled cumulant generating function ``theta(s)`` and the rate function.

    Parameters
    ----------
    model : LindbladModel or (H, c_ops)
        The model.
    counted : dict, str, int or list
        Counted jumps and weights (as :func:`cumulants`).
    s : array_like of float
        Real counting fields (convention in the module docstring:
        ``L_s = L + sum_k (e^{s w_k} - 1) J_k``; the imaginary field of
        the literature is ``s = i chi``).
    ness : NESS or array_like, optional
        Steady state (start vector and first-order guess of the sparse and
        Krylov routes); computed with :func:`qness.steady_state` if needed.
        A given state must have trace 1 and be stationary (``||L rho|| <= NESS_RTOL ||L|| ||rho||``,
        :data:`qness.analysis.correlations.NESS_RTOL`), else ``ValueError``; it is never renormalised.
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sector (the steady-state one) in which ``L_s`` is diagonalised.
    method : Auto, Dense, Direct, Krylov, str or None
        The route (``None``: ``Auto()``; see Notes): ``Dense`` (dense
        ``eig``), ``Direct`` (shift-invert with a sparse LU per grid point),
        ``Krylov`` (matrix-free shift-invert, GMRES with the shifted no-jump
        preconditioner; its ``restart`` and ``maxiter`` bound each inner solve).
    seed : int
        Seed of the random start vector of the ARPACK fallback (Direct route).
    **options
        Settings of the method.

    Returns
    -------
    SCGF
        ``.s`` (sorted, duplicates removed), ``.theta``, ``.current`` (``theta'(s)``), ``.rate``
        (``I(j) = s j - theta`` at ``j = theta'(s)``), ``.info``.

    Raises
    ------
    ValueError
        Non-finite or complex ``s``, an empty grid, bad ``counted``, ``Dense``
        on a sector above its ``max_size``, ``e^{s w_k}`` overflowing (``s w_k
        > 709``), a given ``ness`` of trace other than 1 or not stationary.
    TypeError
        A wrong ``method``, non-numeric ``s``.
    RuntimeError
        If no Perron eigenvector is found (the sparse and Krylov routes).

    Warns
    -----
    RuntimeWarning
        Where ``theta`` is not certified: the eigenvector of the rightmost
        eigenvalue is not positive semidefinite, the first-order error bound
        ``kappa * residual`` exceeds ``SCGF_CERT_RTOL * max(|theta|,
        max|L_ii|)`` (dense and shift-invert routes: an ill-conditioned or,
        at ``s w`` of several hundred, badly scaled ``L_s``), or the Krylov
        iteration stopped above its residual tolerance.

    Notes
    -----
    Balancing: ``L_s`` is first replaced by a diagonal similarity ``D^-1 L_s
    D`` with rows and columns of comparable size (LAPACK balancing on the dense
    route, Osborne iterations on the sparse matrix otherwise). Counting a
    current that changes a conserved charge makes ``L_s`` such a similarity of
    a well-conditioned matrix with entries ``e^{+-s}``: unbalanced, its
    eigenvalue condition number grows like ``e^{|s| q}`` and a small residual
    certifies nothing. The error bound uses the left eigenvector ``l`` (dense:
    ``eig(left=True)``; shift-invert: inverse iteration on the adjoint with the
    same LU); the Krylov route has no left eigenvector and certifies by its
    residual in the balanced coordinates only (the sector matrix is assembled
    for the balancing where ``D`` is far from 1, never factorised).

    Routes (``info["route"]``), chosen as the steady-state engine chooses:
    sectors up to ``SCGF_DENSE_MAX`` unknowns use dense ``eig`` (the
    eigenvalue of largest real part, ``"dense"``). Larger ones use a real
    shift ``sigma`` predicted right of ``theta(s)`` from the neighbouring grid
    points: every other eigenvalue ``lambda`` has ``Re lambda < theta <=
    sigma``, so ``theta`` is the eigenvalue nearest ``sigma``; the answer is
    accepted only when its eigenvector is a positive semidefinite matrix (the
    Perron eigenvector of the positive semigroup ``e^{t L_s}``), else the
    shift moves right. ``theta(0) = 0``. Where ``Auto`` would factorise the
    sector (``"shift-invert"``) the eigenpair is found by inverse iteration
    with one sparse LU per grid point (ARPACK as the fallback), to
    ``||L_s v - theta v|| <= 1e-12 ||L_s||_1``. Where it would not (many-body
    sectors, ``"krylov"``), by residual inverse iteration at the same shift,
    each solve GMRES right-preconditioned by the shifted no-jump (Sylvester)
    inverse, whose block decompositions are made once for all grid points and
    shifts; nothing of the size of the sector's LU is stored, and the tilted
    jump terms are sparse sector matrices of the counted jumps only. It stops
    at ``||L_s v - theta v|| <= SCGF_TOL * max|L_ii|`` (``info["residual"]``);
    a point that stalls above is returned uncertified, with a warning. Each
    grid point starts from the previous point's eigenvector (linearly
    extrapolated), the first from the steady state.
    """
    t0 = time.perf_counter()
    model = _lindblad(model)
    weights = _resolve_counted(model, counted)
    s = np.asarray(s)
    if s.dtype.kind not in "biufc":
        raise TypeError(f"s must be real numbers, got {type(s).__name__} of dtype {s.dtype}")
    if np.iscomplexobj(s):
        raise ValueError("s must be real (the imaginary field of the literature is s = i chi)")
    s = np.atleast_1d(s.astype(float))
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"s must be a non-empty 1-d grid, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"s has non-finite values: {s[~np.isfinite(s)][:4]}")
    s = np.unique(s)
    _, how = _prepare(model, method, options)
    sector = _find_sector(model, "steady", symmetry)
    d, n = model.dim, sector.size
    cache = {}

    def matrix():
        if "M" not in cache:
            cache["M"] = sector.matrix(model)
        return cache["M"]

    info = {}
    if isinstance(how, Auto):
        if n <= SCGF_DENSE_MAX:
            route = "dense"
            info["auto"] = f"dense: {n} unknowns <= SCGF_DENSE_MAX={SCGF_DENSE_MAX}"
        else:
            chosen, info["auto"] = _auto_choice(model, sector, how, matrix)
            route = "krylov" if isinstance(chosen, Krylov) else "shift-invert"
            how = chosen if isinstance(chosen, Krylov) else how
    elif isinstance(how, Dense):
        if n > how.max_size:
            raise ValueError(
                f"Dense: the sector has {n} unknowns, above max_size={how.max_size}; use Direct or Krylov"
            )
        route = "dense"
    elif isinstance(how, Direct):
        route = "shift-invert"
    elif isinstance(how, Krylov):
        route = "krylov"
    else:  # Schur: a route for linear solves at many shifts, not for eigenvalues
        raise TypeError(f"method: scgf takes Auto, Dense, Direct or Krylov, got {type(how).__name__}")
    Js = {k: _jump_matrix(model, sector, {k: 1.0}) for k in weights}
    theta = np.empty(s.size)
    certified = np.zeros(s.size, dtype=bool)
    residual = np.zeros(s.size)
    current = np.full(s.size, np.nan)
    kappa = np.full(s.size, np.nan)
    bound = np.full(s.size, np.nan)

    def tilted_jumps(x, deriv=False):
        # sum_k (e^{x w_k} - 1) J_k, or its derivative sum_k w_k e^{x w_k} J_k
        T = None
        for k, w in weights.items():
            try:
                c = w * math.exp(x * w) if deriv else math.expm1(x * w)
            except OverflowError:
                raise ValueError(
                    f"s = {x:g}: e^(s w) overflows for the weight w = {w:g} of jump {k}; theta(s) is not "
                    "representable in floating point (reduce |s|)"
                ) from None
            term = c * Js[k]
            T = term if T is None else T + term
        return sp.csr_array(T)

    def hellmann_feynman(x, r, l):
        # theta'(s) = <l| dL_s/ds |r> / <l|r>
        return (np.vdot(l, tilted_jumps(x, deriv=True) @ r) / np.vdot(l, r)).real

    if route == "dense":
        M = matrix()
        scale = max(float(np.abs(M.diagonal()).max()), 1e-300)
        for i, x in enumerate(s):
            lam, r, l, kappa[i], bound[i] = _dense_rightmost((M + tilted_jumps(x)).toarray())
            theta[i] = lam.real
            if r is not None:
                current[i] = hellmann_feynman(x, r, l)
            certified[i] = (
                r is not None
                and bool(bound[i] <= SCGF_CERT_RTOL * max(abs(theta[i]), scale))
                and _perron_ok(sector, r, d)
            )
        info["current_method"] = "hellmann-feynman"
    else:
        rng = np.random.default_rng(seed)
        if ness is None:
            from ..solvers.steady import steady_state

            ness = steady_state(model, symmetry=symmetry)
        rho0 = _state(model, ness, sector)
        # a first-order-and-a-half guess of theta near 0 (C2 to a loose tolerance on the Krylov route)
        guess_method = (
            Krylov(rtol=1e-8, restart=how.restart, maxiter=how.maxiter) if route == "krylov" else None
        )
        C1, C2 = cumulants(model, ness, weights, order=2, symmetry=symmetry, method=guess_method).cumulants
        if route == "krylov":
            op = sector.operator(model)
            prec0 = sector.sylvester_preconditioner(model, shift=0.0)
            scale = _diag_scale(model, sector)
            stats = {"solves": 0, "iterations": 0}
            info["preconditioner_route"] = prec0.route
        else:
            M = matrix()
            scale = max(float(np.abs(M.diagonal()).max()), 1e-300)
        lefts = {}

        def krylov_point(x, guess, v0, margin):
            Jt = tilted_jumps(x)
            # balance L_s (a diagonal similarity D, see _sparse_balance; the sector matrix is assembled
            # for it, never factorised) where it is badly scaled: there the residual of the unbalanced
            # problem does not bound the eigenvalue error
            D = _sparse_balance(matrix() + Jt)
            if D.max() / D.min() <= 16.0:
                D = None

            def apply(v, Jt=Jt, D=D):
                if D is None:
                    return np.asarray(op @ v).ravel() + Jt @ v
                u = D * v
                return (np.asarray(op @ u).ravel() + Jt @ u) / D

            lam, vec, ok, res = _rightmost_krylov(
                apply,
                prec0,
                guess,
                v0 if D is None or v0 is None else v0 / D,
                margin,
                sector,
                d,
                scale,
                rho0 if D is None else rho0 / D,
                how,
                stats,
                dscale=D,
            )
            if D is not None:
                vec = D * vec
            return lam, vec / (sector.trace_vector() @ vec), ok, res

        # walk outwards from the grid point nearest 0, extrapolating theta from the last points
        i0 = int(np.argmin(np.abs(s)))
        start_vec = [None, None]
        for direction in (1, -1):
            idx = range(i0, s.size) if direction == 1 else range(i0 - 1, -1, -1)
            vecs, hist = [], []
            lprev = sector.trace_vector().astype(np.complex128)  # the left eigenvector at s = 0
            if direction == -1 and i0 < s.size:
                hist = [(s[i0], theta[i0])]
                vecs = [start_vec[0]]
                lprev = start_vec[1] if start_vec[1] is not None else lprev
            for i in idx:
                x = s[i]
                if len(hist) >= 2:
                    (x1, y1), (x2, y2) = hist[-2], hist[-1]
                    guess = y2 + (y2 - y1) / (x2 - x1) * (x - x2)
                else:
                    guess = C1 * x + 0.5 * C2 * x * x
                err = abs(guess - (hist[-1][1] if hist else 0.0))
                margin = 0.25 * err + 1e-4 * scale
                if route == "krylov":
                    v0 = vecs[-1] if vecs else rho0
                    if len(vecs) >= 2 and len(hist) >= 2:
                        (x1, _), (x2, _) = hist[-2], hist[-1]
                        v0 = vecs[-1] + (vecs[-1] - vecs[-2]) * ((x - x2) / (x2 - x1))
                    lam, vec, certified[i], residual[i] = krylov_point(x, guess, v0, margin)
                else:
                    # balanced: B = D^-1 L_s D (a diagonal similarity, see _sparse_balance)
                    Mx = M + tilted_jumps(x)
                    D = _sparse_balance(Mx)
                    Bx = sp.csr_array(Mx.multiply((1.0 / D)[:, None]).multiply(D[None, :]))
                    v0 = vecs[-1] / D if vecs else None
                    lam, vb, _, lu = _rightmost_sparse(Bx, guess, v0, margin, sector, d, rng, dscale=D)
                    lb, lres = _left_sparse(lu, Bx, lam, lprev * D, scale)
                    vb = vb / np.linalg.norm(vb)
                    residual[i] = float(np.linalg.norm(Bx @ vb - lam * vb))
                    kappa[i] = 1.0 / max(abs(np.vdot(lb, vb)), 1e-300)
                    bound[i] = kappa[i] * (residual[i] + np.finfo(float).eps * scale)
                    # (the left eigenvector also gives theta'(s): it must have converged too)
                    certified[i] = bool(bound[i] <= SCGF_CERT_RTOL * max(abs(lam.real), scale)) and bool(
                        lres <= SCGF_CERT_RTOL * scale
                    )
                    vec, l = D * vb, lb / D
                    lprev = l / np.linalg.norm(l)
                    current[i] = hellmann_feynman(x, vec, l)
                    if i == i0:
                        start_vec[1] = l
                theta[i] = lam.real
                vecs.append(vec)
                hist.append((x, theta[i]))
                if i == i0:
                    start_vec[0] = vec
                if route == "krylov":
                    lefts[i] = vec  # kept for the central differences below
        if route == "krylov":
            # no left eigenvector on the matrix-free route: theta'(s) by central differences with a
            # small step around each point, each solve warm-started from the point's eigenvector
            h = SCGF_FD_STEP / max(abs(w) for w in weights.values())
            cur_err = np.full(s.size, np.nan)
            slope = np.gradient(theta, s) if s.size > 1 else np.array([C1])
            for i, x in enumerate(s):
                side = []
                for sign in (1.0, -1.0):
                    g = theta[i] + sign * h * slope[i]
                    try:
                        lam, _, ok, res = krylov_point(
                            x + sign * h, g, lefts[i], 2.0 * h * abs(slope[i]) + 1e-6 * scale
                        )
                    except RuntimeError:  # no Perron vector next to an unconverged point
                        lam, ok, res = complex(np.nan), False, np.inf
                    side.append((lam.real, ok, res))
                (tp, okp, rp), (tm, okm, rm) = side
                current[i] = (tp - tm) / (2.0 * h)
                # rounding (the residual-level error of each theta over the step) plus a truncation
                # scale h^2 |theta''| / 6 (theta'' from the same three points): a rough estimate
                cur_err[i] = (rp + rm) * scale / (2.0 * h) + abs(tp - 2.0 * theta[i] + tm) / 6.0
                certified[i] = certified[i] and okp and okm
            info.update(
                stats,
                residual=residual,
                current_method=f"central difference, step h = {h:.3g} (2 extra eigen-solves per point)",
                current_error=cur_err,
            )
        else:
            info.update(residual=residual, current_method="hellmann-feynman")
    rate = s * current - theta
    info.update(
        route=route,
        certified=certified,
        sector={"kind": sector.kind, "label": sector.label, "size": sector.size},
        weights=dict(weights),
        time=time.perf_counter() - t0,
    )
    if route != "krylov":
        info.update(kappa=kappa, error_bound=bound)
    if not certified.all():
        bad = ~certified
        if route == "krylov":
            why = (
                f"the Krylov iteration stopped above its residual tolerance {SCGF_TOL:g} (residuals "
                f"{residual[bad][:4]})"
            )
        else:
            why = (
                f"the eigenvalue error bound kappa * residual {bound[bad][:4]} (condition numbers "
                f"kappa = {kappa[bad][:4]}) exceeds {SCGF_CERT_RTOL:g} * max(|theta|, ||L||), or the "
                "eigenvector of the rightmost eigenvalue is not positive semidefinite (an ill-conditioned, "
                "badly scaled, reducible or degenerate tilted generator?)"
            )
        warnings.warn(
            f"scgf: theta is not certified at s = {s[bad][:4]}: {why}",
            RuntimeWarning,
            stacklevel=2,
        )
    return SCGF(s, theta, current, rate, info)


# ------------------------------------------------------------------ fluctuation theorem
def entropy_weights(model, *, atol: float = 1e-8) -> dict:
    """Entropy ``(omega_k + mu_k q_k) / T_k`` delivered to bath ``k`` by each jump (``k_B = 1``).

    ``omega_k`` is the energy the jump takes from the system (``[H, A_k] =
    -omega_k A_k``: the jump must be an eigenoperator of ``H``) and ``q_k``
    the change of the declared U(1) charge it causes (needed only for baths
    with ``mu != 0``). Jumps without a thermal bath are left out.

    Returns
    -------
    dict
        ``{jump index: entropy weight}``.

    Raises
    ------
    ValueError
        If no jump belongs to a bath with a temperature, a thermal jump is
        not an eigenoperator of ``H`` (a local master equation: use
        ``counted=`` and ``affinity=`` of :func:`gallavotti_cohen` explicitly),
        a bath has ``T = 0``, or ``mu != 0`` without a U(1) symmetry.
    """
    model = _lindblad(model)
    H = sp.csr_array(model.H)
    u1 = model.u1()
    out = {}
    for k, j in enumerate(model.jumps):
        if j.bath is None or j.rate == 0 or j.op.nnz == 0:
            continue
        bath = model.baths.get(j.bath)
        if bath is None or bath.T is None:
            continue
        if not bath.T > 0:
            raise ValueError(f"jump {k} ({j.label}): bath {j.bath!r} has T = {bath.T}; entropy diverges")
        A = sp.csr_array(j.op)
        C = sp.csr_array(H @ A - A @ H)
        norm2 = float(np.sum(np.abs(A.data) ** 2))
        omega = -complex(np.sum((A.conj().multiply(C)).data)) / norm2
        resid = float(sp.linalg.norm(C + omega * A)) / math.sqrt(norm2)
        hscale = max(float(abs(H).max()) if H.nnz else 0.0, 1.0)
        if resid > atol * hscale or abs(omega.imag) > atol * hscale:
            raise ValueError(
                f"jump {k} ({j.label}) is not an eigenoperator of H (||[H, A] + omega A|| = {resid:.2e}): "
                "the "
                "energy it exchanges is not defined (a local master equation?); give counted= and affinity= "
                "to gallavotti_cohen explicitly"
            )
        w = omega.real
        mu = bath.mu or 0.0
        if mu != 0.0:
            if u1 is None:
                raise ValueError(f"bath {j.bath!r} has mu = {mu} but the model declares no U(1) charge")
            w += mu * u1.jump_charges[k]
        out[k] = w / bath.T
    if not out:
        raise ValueError("model: no jump belongs to a bath with a temperature; nothing to count")
    return out


def gallavotti_cohen(
    model, s, *, counted=None, affinity: float = 1.0, atol: float | None = None, symmetry="auto"
):
    """Check the Gallavotti-Cohen symmetry ``theta(s) = theta(-s - A)``.

    Parameters
    ----------
    model : LindbladModel
        The model.
    s : array_like of float
        Counting fields at which to compare.
    counted : dict, optional
        Counted jumps and weights; by default the entropy delivered to the
        baths (:func:`entropy_weights`), for which ``A = 1``.
    affinity : float
        ``A`` (1 for entropy counting; for a single heat current between two
        baths counted in energy, ``1/T_c - 1/T_h``).
    atol : float, optional
        Tolerance of the check; default ``1e-8`` times the larger of
        ``max |theta|`` and the largest jump rate ``gamma_k ||L_k||^2`` (in
        the model's units: no floor of 1).
    symmetry : "auto", None, U1Symmetry or Z2Symmetry
        Sector for the eigenvalue problems.

    Returns
    -------
    GallavottiCohen
        ``.deviation``, ``.holds``, the two branches and the weights.

    Warns
    -----
    FluctuationTheoremWarning
        If ``deviation > atol`` (reported as the second-law check of
        :func:`qness.analysis.entropy_production` reports ``sigma < 0``).
    """
    model = _lindblad(model)
    if not isinstance(affinity, numbers.Real) or not math.isfinite(float(affinity)):
        raise ValueError(f"affinity must be a finite real number, got {affinity!r}")
    weights = entropy_weights(model) if counted is None else _resolve_counted(model, counted)
    s = np.atleast_1d(np.asarray(s, dtype=float))
    grid = np.concatenate([s, -s - affinity])
    res = scgf(model, weights, grid, symmetry=symmetry)
    lookup = dict(zip(res.s.tolist(), res.theta.tolist()))
    th = np.array([lookup[x] for x in s.tolist()])
    mirror = np.array([lookup[x] for x in (-s - affinity).tolist()])
    dev = float(np.max(np.abs(th - mirror)))
    if atol is None:
        rates = [
            abs(j.rate) * float(np.max(np.abs(sp.csr_array(j.op).data), initial=0.0)) ** 2
            for j in model.jumps
        ]
        atol = 1e-8 * max(float(np.max(np.abs(res.theta))), max(rates, default=0.0))
    holds = dev <= atol
    if not holds:
        warnings.warn(
            f"Gallavotti-Cohen symmetry theta(s) = theta(-s - {affinity:g}) fails by {dev:.3g} > {atol:.1e}: "
            "the "
            "counted jumps are not in local detailed balance (a local master equation at strong coupling?)",
            FluctuationTheoremWarning,
            stacklevel=2,
        )
    return GallavottiCohen(s, th, mirror, float(affinity), dev, bool(holds), dict(weights))


# ------------------------------------------------------------------ noise spectrum
def noise_spectrum(
    model, counted, omegas, *, ness=None, symmetry="auto", method=None, **options
) -> np.ndarray:
    """Finite-frequency noise ``S(w)`` of a counted current (MacDonald's formula).

    Parameters
    ----------
    model : LindbladModel or (H, c_ops)
        The model.
    counted : dict, str, int or list
        Counted jumps and weights (as :func:`cumulants`).
    omegas : array_like of float
        Angular frequencies ``w`` (``S`` is even in ``w``).
    ness : NESS or array_like, optional
        The steady state (computed if not given).
        A given state must have trace 1 and be stationary (``||L rho|| <= NESS_RTOL ||L|| ||rho||``,
        :data:`qness.analysis.correlations.NESS_RTOL`), else ``ValueError``; it is never renormalised.
    symmetry, method, **options
        Sector and route of the solves (:mod:`qness.solvers.resolvent`): one
        Drazin solve for ``w = 0``, one resolvent solve per non-zero ``w``,
        all from one solver (``Auto``: a small sector reduced once to complex
        Schur form when that is estimated cheaper, else an LU per frequency
        or GMRES with the shifted Sylvester preconditioner).

    Returns
    -------
    numpy.ndarray
        ``S(w)``, real, shape of ``omegas``; ``S(0) = C_2`` of :func:`cumulants`.

    Raises
    ------
    ValueError
        Non-finite or complex ``omegas``, bad ``counted``, a ``ness`` of trace
        other than 1 or not stationary.
    TypeError
        Non-numeric ``omegas``.

    Notes
    -----
    With ``I(t) = sum_k w_k dN_k/dt`` and ``<<.>>`` the connected correlation
    in the NESS, the symmetrised spectrum
    ``S(w) = int dt e^{i w t} <<I(t) I(0)>>`` is

        S(w) = sum_k w_k^2 Tr(J_k rho) - 2 Re Tr[J (L - i w)^{-1} Q J rho],

    ``J = sum_k w_k J_k``, ``Q = 1 - rho Tr``; at ``w = 0`` the inverse is the
    Drazin inverse ``L^D``. (QuTiP's ``countstat_current_noise`` uses the same
    normalisation.) For the resonant level of :func:`cumulants`'s example,
    counting the out-jumps: ``S(w) = I (1 - 2 G_L G_R / ((G_L + G_R)^2 + w^2))``.
    """
    model = _lindblad(model)
    weights = _resolve_counted(model, counted)
    w = np.asarray(omegas)
    if w.dtype.kind not in "biufc":
        raise TypeError(f"omegas must be real numbers, got {type(omegas).__name__} of dtype {w.dtype}")
    if np.iscomplexobj(w):
        raise ValueError("omegas must be real")
    w = w.astype(float)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"omegas has non-finite values: {w[~np.isfinite(w)][:4]}")
    flat = np.abs(w.ravel())
    sector = _find_sector(model, "steady", symmetry)
    rho = _state(model, ness, sector)
    t = sector.trace_vector()
    J1 = _jump_matrix(model, sector, weights)
    J2 = _jump_matrix(model, sector, {k: v * v for k, v in weights.items()})
    K = float((t @ (J2 @ rho)).real)
    y = trace_free(J1 @ rho, t, rho)
    out = np.empty(flat.size)
    _, method = _prepare(model, method, options)
    left = J1.T @ t  # t @ (J1 @ x) = left @ x
    # a frequency below the rounding of L's entries is zero to working precision (an np.arange
    # grid's 2.2e-16): L - i w is then singular as computed, and S(w) = S(0) + O(w^2) to all digits
    flat = np.where(flat <= ZERO_OMEGA_RTOL * _zero_scale(model), 0.0, flat)
    uniq = np.unique(flat)
    vals = {}
    if uniq.size and uniq[0] == 0.0:
        x = drazin(model, symmetry=symmetry, method=Dense() if isinstance(method, Schur) else method)
        x = x.solve_sector(y)
        vals[0.0] = float((left @ x).real)
    nonzero = uniq[uniq != 0.0]
    if nonzero.size:
        # one solver for all frequencies: the Schur form of a small sector, or the Sylvester
        # preconditioner's block decompositions, made once
        solver = resolvent(model, 1j * nonzero[0], sector=sector, method=method, shifts=nonzero.size)
        # no component along rho (exact: Tr y = 0); drop what rounding puts there near w = 0, where
        # it is amplified by 1/w (S(1e-13) was 5e-4 off S(0))
        lx, tx = solver.solve_sector_shifts(y, 1j * nonzero, left=np.stack([left, t])).T
        for om, v in zip(nonzero, lx - tx * (left @ rho)):
            vals[float(om)] = float(v.real)
    for i, om in enumerate(flat):
        out[i] = K - 2.0 * vals[float(om)]
    return out.reshape(w.shape)
