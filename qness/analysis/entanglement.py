"""Entanglement and correlations of (mixed) states on chains with mixed local dimensions.

Conventions
-----------
* Site 0 is the leftmost tensor factor (as ``qutip.tensor``); ``dims`` lists
  the local dimensions; regions are lists of site indices.
* Entropies are in bits (``base=2``) unless ``base`` says otherwise
  (``base=numpy.e`` for nats). A Bell pair has ``S = 1`` on each half,
  mutual information 2 and logarithmic negativity 1. This is qness's one
  convention for entropies of states: :mod:`qness.gaussian` and the
  ``"entropy"`` quantity of :func:`qness.scan.scan` use bits too. Only the
  thermodynamic entropy production of :mod:`qness.analysis.thermo` is in
  nats (``k_B = 1``), as heat over temperature.
* Every function validates its input: ``rho`` must be square, match
  ``prod(dims)``, be Hermitian and have unit trace (``ValueError`` naming
  the argument otherwise); the entropies also refuse an eigenvalue below
  ``-1e-8`` (not a state). NESS result objects (``.rho``), ``qutip.Qobj``
  and sparse matrices are accepted.
* ``dims`` may be omitted for a NESS or a ``qutip.Qobj``, which carry their
  own; given for one, it must agree with them (``ValueError`` otherwise: a
  factor order given wrongly changed the numbers silently). A space that is
  not a tensor product of sites (an excitation-number restricted space) is
  refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from ._dims import site_dims

__all__ = [
    "ptrace",
    "partial_transpose",
    "entropy",
    "mutual_information",
    "mutual_information_matrix",
    "negativity",
    "log_negativity",
    "concurrence",
    "entanglement_of_formation",
    "entanglement_profile",
    "EntanglementProfile",
]

_ATOL = 1e-8


def _as_rho(rho, name: str = "rho", *, check_trace: bool = True) -> np.ndarray:
    rho = getattr(rho, "rho", rho)
    if type(rho).__name__ == "Qobj":
        rho = rho.full()
    if sp.issparse(rho):
        rho = rho.toarray()
    rho = np.asarray(rho, dtype=np.complex128)
    if rho.ndim == 1 or (rho.ndim == 2 and rho.shape[1] == 1 and rho.shape[0] > 1):
        psi = rho.reshape(-1)  # a ket (QuTiP's entropy_vn, concurrence and ptrace take one too)
        rho = np.outer(psi, psi.conj())
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1]:
        raise ValueError(f"{name} must be a square matrix (a density matrix) or a ket, got shape {rho.shape}")
    if not np.all(np.isfinite(rho)):
        raise ValueError(f"{name} has non-finite entries")
    scale = max(1.0, float(np.abs(rho).max()))
    if np.abs(rho - rho.conj().T).max() > _ATOL * scale:
        raise ValueError(f"{name} is not Hermitian")
    if check_trace and abs(np.trace(rho) - 1) > _ATOL * rho.shape[0]:
        raise ValueError(f"{name} must have unit trace, got {np.trace(rho).real:.6g}")
    return 0.5 * (rho + rho.conj().T)


def _required(value, name: str, what: str):
    if value is None:
        raise TypeError(f"{what}() missing the sites argument {name!r}")
    return value


def _check_sites(sites, n: int, name: str) -> list[int]:
    if isinstance(sites, (int, np.integer)):
        sites = [int(sites)]
    out = []
    for s in sites:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < n:
            raise ValueError(f"{name}: site {s!r} out of range for {n} sites")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} lists a site twice: {out}")
    return sorted(out)


def _ptrace(rho: np.ndarray, dims: tuple[int, ...], keep: list[int]) -> np.ndarray:
    n = len(dims)
    trace = [i for i in range(n) if i not in keep]
    t = rho.reshape(dims + dims)
    perm = keep + trace + [n + i for i in keep] + [n + i for i in trace]
    dk = math.prod(dims[i] for i in keep)
    dt = math.prod(dims[i] for i in trace)
    t = t.transpose(perm).reshape(dk, dt, dk, dt)
    return np.einsum("ijkj->ik", t)


def ptrace(rho, dims: Sequence[int] | None = None, keep=None) -> np.ndarray:
    """Reduced density matrix of the sites ``keep``.

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix on the chain, ``d = prod(dims)``.
    dims : sequence of int, optional
        Local dimensions (mixed allowed), site 0 leftmost; default: the
        state's own (a NESS, a ``qutip.Qobj``), which a given ``dims`` must
        match.
    keep : int or sequence of int
        Sites to keep (any order; the result is ordered by site index).

    Returns
    -------
    numpy.ndarray
        ``Tr_{not keep} rho`` of size ``prod(dims[keep])``; a ``1 x 1``
        matrix ``[[1]]`` if ``keep`` is empty.

    Raises
    ------
    ValueError
        If ``rho`` does not match ``dims``, is not Hermitian or not of
        unit trace, or a site is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from qness.analysis.entanglement import ptrace
    >>> psi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> ptrace(np.outer(psi, psi), [2, 2], [0]).real
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    keep = _required(keep, "keep", "ptrace")
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "ptrace")
    return _ptrace(rho, dims, _check_sites(keep, len(dims), "keep"))


def partial_transpose(rho, dims: Sequence[int] | None = None, part=None) -> np.ndarray:
    """Partial transpose of ``rho`` on the sites ``part`` (``<ij|rho^T_A|kl> = <kj|rho|il>``).

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (NESS, ``qutip.Qobj``).
    part : int or sequence of int
        Sites transposed.

    Returns
    -------
    numpy.ndarray
        ``rho^{T_part}`` (Hermitian, unit trace, possibly not positive).
    """
    part = _required(part, "part", "partial_transpose")
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "partial_transpose")
    return _partial_transpose(rho, dims, _check_sites(part, len(dims), "part"))


def _partial_transpose(rho, dims, part):
    n = len(dims)
    t = rho.reshape(dims + dims)
    perm = list(range(2 * n))
    for i in part:
        perm[i], perm[n + i] = n + i, i
    return t.transpose(perm).reshape(rho.shape)


def _entropy_of_spectrum(p: np.ndarray, alpha: float, base: float) -> float:
    if p.size and p.real.min() < -_ATOL * max(1.0, float(np.abs(p).max())):
        # (a reduced state of a positive state is positive: the input was not a state; clipping
        # its negative eigenvalues gave diag(1.2, -0.2) the entropy of a pure state)
        raise ValueError(
            "rho is not positive semidefinite (an eigenvalue of the state or of its reduced state is "
            f"{p.real.min():.3g}): not a density matrix"
        )
    p = np.clip(p.real, 0.0, None)
    p = p / p.sum()
    if alpha == 1:
        s = -np.sum(xlogy(p, p))
    elif alpha == 0:
        s = math.log(np.count_nonzero(p > 1e-12))
    elif math.isinf(alpha):
        s = -math.log(p.max())
    else:
        s = math.log(np.sum(p[p > 0] ** alpha)) / (1 - alpha)
    return float(s / math.log(base))


def entropy(rho, alpha: float = 1, base: float = 2) -> float:
    """Von Neumann (``alpha = 1``) or Renyi-``alpha`` entropy of a density matrix.

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix (Hermitian, unit trace).
    alpha : float
        Renyi index ``>= 0``: ``S_alpha = log(Tr rho^alpha) / (1 - alpha)``;
        ``1`` gives ``-Tr rho log rho``, ``0`` the log of the rank,
        ``numpy.inf`` the min-entropy ``-log lambda_max``.
    base : float
        Logarithm base: 2 (default) gives bits, ``numpy.e`` nats.

    Returns
    -------
    float
        The entropy, ``0`` for a pure state, ``log_base(d)`` for ``I/d``.

    Raises
    ------
    ValueError
        For an invalid ``rho``, ``alpha < 0`` or ``base <= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from qness.analysis.entanglement import entropy
    >>> entropy(np.eye(4) / 4)
    2.0
    """
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    rho = _as_rho(rho)
    return _entropy_of_spectrum(np.linalg.eigvalsh(rho), float(alpha), float(base))


def mutual_information(rho, dims: Sequence[int] | None = None, a=None, b=None, *, base: float = 2) -> float:
    """Quantum mutual information ``I(a:b) = S(a) + S(b) - S(a u b)``.

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix on the chain.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (NESS, ``qutip.Qobj``).
    a, b : int or sequence of int
        Disjoint regions (site indices).
    base : float
        Logarithm base (bits by default).

    Returns
    -------
    float
        ``I(a:b) >= 0``; 2 bits for a Bell pair, 0 for a product state.

    Raises
    ------
    ValueError
        For overlapping or empty regions, or an invalid ``rho``.
    """
    a = _required(a, "a", "mutual_information")
    b = _required(b, "b", "mutual_information")
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "mutual_information")
    a = _check_sites(a, len(dims), "a")
    b = _check_sites(b, len(dims), "b")
    if not a or not b:
        raise ValueError("regions a and b must not be empty")
    if set(a) & set(b):
        raise ValueError(f"regions a={a} and b={b} overlap")
    return _mi(rho, dims, a, b, base)


def _mi(rho, dims, a, b, base):
    def S(r):
        return _entropy_of_spectrum(np.linalg.eigvalsh(_ptrace(rho, dims, r)), 1.0, base)

    return S(a) + S(b) - S(sorted(a + b))


def mutual_information_matrix(rho, dims: Sequence[int] | None = None, *, base: float = 2) -> np.ndarray:
    """Pairwise mutual information ``I(i:j)`` between all sites of a chain.

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (NESS, ``qutip.Qobj``).
    base : float
        Logarithm base (bits by default).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Symmetric, zero diagonal.
    """
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "mutual_information_matrix")
    n = len(dims)
    s1 = [_entropy_of_spectrum(np.linalg.eigvalsh(_ptrace(rho, dims, [i])), 1.0, base) for i in range(n)]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s2 = _entropy_of_spectrum(np.linalg.eigvalsh(_ptrace(rho, dims, [i, j])), 1.0, base)
            out[i, j] = out[j, i] = s1[i] + s1[j] - s2
    return out


def _trace_norm_pt(rho, dims, part) -> float:
    return float(np.sum(np.abs(np.linalg.eigvalsh(_partial_transpose(rho, dims, part)))))


def negativity(rho, dims: Sequence[int] | None = None, part=None) -> float:
    """Negativity ``(||rho^{T_part}||_1 - 1) / 2`` (0.5 for a Bell pair).

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (NESS, ``qutip.Qobj``).
    part : int or sequence of int
        Sites partially transposed (one side of the bipartition; the rest
        of the chain is the other side).

    Returns
    -------
    float
        The negativity, ``>= 0``.
    """
    part = _required(part, "part", "negativity")
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "negativity")
    return 0.5 * (_trace_norm_pt(rho, dims, _check_sites(part, len(dims), "part")) - 1.0)


def log_negativity(rho, dims: Sequence[int] | None = None, part=None) -> float:
    """Logarithmic negativity ``E_N = log2 ||rho^{T_part}||_1`` (Vidal and Werner, PRA 65, 032314 (2002)).

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix.
    dims : sequence of int, optional
        Local dimensions; default: the state's own (NESS, ``qutip.Qobj``).
    part : int or sequence of int
        Sites transposed; the bipartition is ``part`` versus the rest.
        To measure entanglement between two regions of a larger chain, trace
        out the others first with :func:`ptrace`.

    Returns
    -------
    float
        ``E_N >= 0`` in bits (ebits): 1 for a Bell pair, 0 for a product or
        any PPT state.
    """
    part = _required(part, "part", "log_negativity")
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "log_negativity")
    tn = _trace_norm_pt(rho, dims, _check_sites(part, len(dims), "part"))
    return float(max(0.0, math.log2(tn)))


_YY = np.array([[0, 0, 0, -1], [0, 0, 1, 0], [0, 1, 0, 0], [-1, 0, 0, 0]], dtype=np.complex128)


def concurrence(rho) -> float:
    """Wootters concurrence of a two-qubit state (PRL 80, 2245 (1998)).

    Parameters
    ----------
    rho : array_like, shape (4, 4)
        Two-qubit density matrix (dims ``(2, 2)``).

    Returns
    -------
    float
        ``C = max(0, l1 - l2 - l3 - l4)`` with ``l_i`` the decreasing square
        roots of the eigenvalues of ``rho (sy ⊗ sy) rho^* (sy ⊗ sy)``; 1 for
        a Bell pair, 0 for separable states.

    Raises
    ------
    ValueError
        If ``rho`` is not a valid 4 x 4 density matrix.
    """
    rho = _as_rho(rho)
    if rho.shape != (4, 4):
        raise ValueError(f"rho must be a two-qubit (4 x 4) density matrix, got shape {rho.shape}")
    rt = _YY @ rho.conj() @ _YY
    # sqrt(rho) rt sqrt(rho) is Hermitian PSD with the same spectrum as rho rt.
    w, v = np.linalg.eigh(rho)
    sq = (v * np.sqrt(np.clip(w, 0, None))) @ v.conj().T
    lam = np.sqrt(np.clip(np.linalg.eigvalsh(sq @ rt @ sq), 0, None))[::-1]
    return float(max(0.0, lam[0] - lam[1] - lam[2] - lam[3]))


def entanglement_of_formation(rho) -> float:
    """Entanglement of formation of two qubits in ebits, ``h((1 + sqrt(1 - C^2)) / 2)``.

    Parameters
    ----------
    rho : array_like, shape (4, 4)
        Two-qubit density matrix.

    Returns
    -------
    float
        ``E_F`` with ``h`` the binary entropy in bits and ``C`` the
        :func:`concurrence`.
    """
    c = concurrence(rho)
    x = 0.5 * (1 + math.sqrt(max(0.0, 1 - c * c)))
    return float(-(xlogy(x, x) + xlogy(1 - x, 1 - x)) / math.log(2))


@dataclass(frozen=True)
class EntanglementProfile:
    """Correlations across every cut of a chain.

    Attributes
    ----------
    cut : numpy.ndarray of int
        ``l = 1 .. n-1``: the left block is sites ``0 .. l-1``.
    entropy_left, entropy_right : numpy.ndarray
        Entropy (Renyi-``alpha``) of the two blocks.
    mutual_information : numpy.ndarray
        ``I(left:right)`` (von Neumann).
    log_negativity : numpy.ndarray
        ``E_N`` of the bipartition.
    base : float
        Logarithm base of all entries.
    """

    cut: np.ndarray
    entropy_left: np.ndarray
    entropy_right: np.ndarray
    mutual_information: np.ndarray
    log_negativity: np.ndarray
    base: float


def entanglement_profile(
    rho, dims: Sequence[int] | None = None, *, alpha: float = 1, base: float = 2
) -> EntanglementProfile:
    """Sweep the bipartition ``[0, l) | [l, n)`` along the chain.

    Parameters
    ----------
    rho : array_like, shape (d, d), or a ket of shape (d,) or (d, 1)
        Density matrix.
    dims : sequence of int, optional
        Local dimensions (at least two sites); default: the state's own
        (NESS, ``qutip.Qobj``).
    alpha : float
        Renyi index of the block entropies.
    base : float
        Logarithm base (bits by default).

    Returns
    -------
    EntanglementProfile
        Block entropies, mutual information and logarithmic negativity per
        cut. For a mixed NESS the block entropy is not an entanglement
        measure; the mutual information bounds all correlations and the
        log-negativity bounds the distillable entanglement.
    """
    state, rho = rho, _as_rho(rho)
    dims = site_dims(state, rho.shape[0], dims, "entanglement_profile")
    n = len(dims)
    if n < 2:
        raise ValueError("dims must describe at least two sites")
    s_tot = _entropy_of_spectrum(np.linalg.eigvalsh(rho), 1.0, base)
    cuts, sl, sr, mi, en = [], [], [], [], []
    for l in range(1, n):
        left, right = list(range(l)), list(range(l, n))
        ev_l = np.linalg.eigvalsh(_ptrace(rho, dims, left))
        ev_r = np.linalg.eigvalsh(_ptrace(rho, dims, right))
        cuts.append(l)
        sl.append(_entropy_of_spectrum(ev_l, float(alpha), base))
        sr.append(_entropy_of_spectrum(ev_r, float(alpha), base))
        mi.append(_entropy_of_spectrum(ev_l, 1.0, base) + _entropy_of_spectrum(ev_r, 1.0, base) - s_tot)
        en.append(max(0.0, math.log(_trace_norm_pt(rho, dims, left), base)))  # in the same base
    return EntanglementProfile(
        cut=np.array(cuts),
        entropy_left=np.array(sl),
        entropy_right=np.array(sr),
        mutual_information=np.array(mi),
        log_negativity=np.array(en),
        base=float(base),
    )
