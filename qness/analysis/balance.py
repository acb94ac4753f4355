"""Detailed balance, cycles and entropy production of Markov networks (and a quantum test).

Conventions
-----------
* A network is a rate matrix ``K`` with ``K[i, j] >= 0`` the rate of the
  jump **from state i to state j** (``i != j``); the diagonal is ignored, so
  a generator ``Q`` (rows summing to zero, ``dp/dt = p Q``) works as well.
* Net probability flux ``F_ij = p_i K_ij - p_j K_ji`` (from ``i`` to ``j``).
* Entropies in nats (``k_B = 1``); rates in inverse time.
* Schnakenberg (Rev. Mod. Phys. 48, 571 (1976)): the entropy production
  ``sigma = 1/2 sum_ij F_ij ln(p_i K_ij / (p_j K_ji)) >= 0``; in the
  stationary state ``sigma = sum_C J_C A_C`` over a cycle basis, with
  ``A_C = ln(prod_C K_forward / prod_C K_backward)`` the cycle affinity and
  ``J_C`` the flux on the cycle's chord.
* Kolmogorov's criterion: an irreducible chain with ``K_ij > 0 <=> K_ji > 0``
  satisfies detailed balance iff the product of rates around every cycle
  equals the product in reverse; it suffices to check a cycle basis
  (the fundamental cycles of a spanning tree), since every cycle's affinity
  is a sum of basis affinities.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = [
    "stationary_distribution",
    "probability_fluxes",
    "schnakenberg_entropy_production",
    "cycle_basis",
    "cycle_affinities",
    "cycle_currents",
    "kolmogorov_criterion",
    "detailed_balance",
    "EntropyProductionSplit",
    "entropy_production_split",
    "quantum_detailed_balance",
    "detailed_balance_defect",
]


def _K(K) -> np.ndarray:
    K = np.array(K, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 1:
        raise ValueError(f"K must be a square rate matrix, got shape {K.shape}")
    if not np.all(np.isfinite(K)):
        raise ValueError("K has non-finite entries")
    np.fill_diagonal(K, 0.0)
    if np.any(K < 0):
        raise ValueError("K: off-diagonal rates must be non-negative")
    return K


def _p(p, n: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.shape != (n,):
        raise ValueError(f"p must have {n} entries, got shape {p.shape}")
    if np.any(p < 0) or not np.all(np.isfinite(p)) or abs(p.sum() - 1) > 1e-10:
        raise ValueError("p must be a probability distribution (non-negative, summing to 1)")
    return p


def stationary_distribution(K) -> np.ndarray:
    """Stationary distribution ``pi`` with ``pi Q = 0``, ``Q = K - diag(K 1)``.

    Uniqueness is decided on the graph of ``K`` (exactly one closed communicating class, whatever
    the rates' sizes), and ``pi`` is computed on that class by the Grassmann-Taksar-Heyman state
    reduction, which subtracts nothing and so keeps every entry to a few ulps relative accuracy
    however stiff the rates (W. K. Grassmann, M. I. Taksar, D. P. Heyman, Oper. Res. 33, 1107
    (1985)); transient states get 0. (A null space by SVD with a relative cut of ``1e-12`` called
    an irreducible network with rates ``1e-12`` "not unique", and lost digits from ``1e-11``.)

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``pi``, non-negative, summing to 1.

    Raises
    ------
    ValueError
        If the stationary distribution is not unique (several closed classes).
    """
    from scipy.sparse.csgraph import connected_components

    K = _K(K)
    n = K.shape[0]
    ncomp, labels = connected_components(K > 0, directed=True, connection="strong")
    # closed classes: strongly connected components with no rate leaving them
    leaves = np.zeros(ncomp, dtype=bool)
    i, j = np.nonzero(K > 0)
    leaves[labels[i][labels[i] != labels[j]]] = True
    closed = np.flatnonzero(~leaves)
    if closed.size != 1:
        raise ValueError(
            f"K: the stationary distribution is not unique ({closed.size} closed classes: "
            f"{[np.flatnonzero(labels == c).tolist()[:6] for c in closed[:4]]})"
        )
    states = np.flatnonzero(labels == closed[0])
    P = K[np.ix_(states, states)].copy()
    m = states.size
    for k in range(m - 1, 0, -1):  # GTH: eliminate state k, all terms non-negative
        out = P[k, :k].sum()
        P[:k, k] /= out
        P[:k, :k] += np.outer(P[:k, k], P[k, :k])
    x = np.zeros(m)
    x[0] = 1.0
    for k in range(1, m):
        x[k] = x[:k] @ P[:k, k]
    pi = np.zeros(n)
    pi[states] = x / x.sum()
    return pi


def probability_fluxes(K, p=None) -> np.ndarray:
    """Net probability fluxes ``F_ij = p_i K_ij - p_j K_ji``.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j`` (inverse time).
    p : array_like, shape (n,), optional
        Distribution; the stationary one by default.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Antisymmetric; ``F_ij > 0`` is net flow from ``i`` to ``j``.
    """
    K = _K(K)
    p = stationary_distribution(K) if p is None else _p(p, K.shape[0])
    J = p[:, None] * K
    return J - J.T


def _edge_log_terms(K, p):
    """``F_ij`` and ``ln(p_i K_ij / (p_j K_ji))`` on every ordered pair with flux."""
    J = p[:, None] * K
    F = J - J.T
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(J) - np.log(J.T)
    return F, lr


def schnakenberg_entropy_production(K, p=None) -> float:
    """Schnakenberg entropy production ``sigma = 1/2 sum_ij F_ij ln(p_i K_ij / (p_j K_ji))``.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j``.
    p : array_like, shape (n,), optional
        Distribution (default: the stationary one).

    Returns
    -------
    float
        ``sigma >= 0`` in nats per unit time; 0 iff ``p_i K_ij = p_j K_ji``
        for all pairs; ``inf`` if some one-way transition carries flux.
    """
    K = _K(K)
    p = stationary_distribution(K) if p is None else _p(p, K.shape[0])
    F, lr = _edge_log_terms(K, p)
    mask = F > 0
    return float(np.sum(F[mask] * lr[mask]))


def _adjacency(K):
    n = K.shape[0]
    A = (K > 0) | (K.T > 0)
    return [[int(j) for j in np.nonzero(A[i])[0]] for i in range(n)]


def cycle_basis(K) -> list[list[int]]:
    """Fundamental cycles of the network's (undirected) graph for a BFS spanning tree.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates; states ``i`` and ``j`` are linked if ``K_ij > 0`` or
        ``K_ji > 0``.

    Returns
    -------
    list of list of int
        One cycle per chord ``(u, v)``, ``u < v``: ``[u, v, ...]`` listed
        in its orientation (the chord ``u -> v`` first, then the tree path
        from ``v`` back to ``u``). Their number is ``edges - states + components``.
    """
    K = _K(K)
    n = K.shape[0]
    adj = _adjacency(K)
    parent = [-1] * n
    depth = [-1] * n
    tree = set()
    for root in range(n):
        if depth[root] >= 0:
            continue
        depth[root] = 0
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for v in adj[u]:
                if depth[v] < 0:
                    depth[v] = depth[u] + 1
                    parent[v] = u
                    tree.add((min(u, v), max(u, v)))
                    queue.append(v)
    cycles = []
    for u in range(n):
        for v in adj[u]:
            if u < v and (u, v) not in tree:
                # Tree paths from u and from v up to their lowest common ancestor.
                pu, pv = [u], [v]
                a, b = u, v
                while depth[a] > depth[b]:
                    a = parent[a]
                    pu.append(a)
                while depth[b] > depth[a]:
                    b = parent[b]
                    pv.append(b)
                while a != b:
                    a, b = parent[a], parent[b]
                    pu.append(a)
                    pv.append(b)
                # u -> v (chord), then v -> ... -> lca -> ... -> back to u (tree).
                head = pv[:-1] if pv[-1] == u else pv
                cycles.append([u] + head + pu[::-1][1:-1])
    return cycles


def _cycle_affinity(K, cyc) -> float:
    fwd = bwd = 0.0
    m = len(cyc)
    for a in range(m):
        i, j = cyc[a], cyc[(a + 1) % m]
        if K[i, j] == 0 or K[j, i] == 0:
            return math.inf if K[i, j] > 0 and K[j, i] == 0 else -math.inf
        fwd += math.log(K[i, j])
        bwd += math.log(K[j, i])
    return fwd - bwd


def cycle_affinities(K) -> np.ndarray:
    """Affinities ``A_C = ln(prod K_forward / prod K_backward)`` of the :func:`cycle_basis`.

    Returns
    -------
    numpy.ndarray
        One affinity per basis cycle (nats); ``+-inf`` where a step is
        one-way.
    """
    K = _K(K)
    return np.array([_cycle_affinity(K, c) for c in cycle_basis(K)])


def cycle_currents(K, p=None) -> np.ndarray:
    """Cycle currents ``J_C``: the net flux on each basis cycle's chord, in the cycle's orientation.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j``.
    p : array_like, shape (n,), optional
        Distribution; the stationary one by default (where the edge fluxes
        decompose into these cycle currents and
        ``sigma = sum_C J_C A_C``).

    Returns
    -------
    numpy.ndarray
        One current per cycle of :func:`cycle_basis` (inverse time).
    """
    K = _K(K)
    F = probability_fluxes(K, p)
    return np.array([F[c[0], c[1]] for c in cycle_basis(K)])


def kolmogorov_criterion(K, *, atol: float = 1e-10) -> bool:
    """Kolmogorov's criterion for detailed balance (product of rates around every cycle).

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j``.
    atol : float
        Tolerance on each basis affinity ``|A_C|`` (nats).

    Returns
    -------
    bool
        ``True`` iff every link is two-way and every basis cycle has zero
        affinity, i.e. the rates admit a detailed-balanced distribution.
    """
    K = _K(K)
    if np.any((K > 0) != (K.T > 0)):
        return False
    return bool(np.all(np.abs(cycle_affinities(K)) <= atol))


def detailed_balance(K, p=None, *, rtol: float = 1e-10) -> bool:
    """Whether ``p_i K_ij = p_j K_ji`` for all pairs.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j``.
    p : array_like, shape (n,), optional
        Distribution; the stationary one by default.
    rtol : float
        Tolerance on ``max |F_ij|`` relative to the largest one-way flux.

    Returns
    -------
    bool
        ``True`` iff every net flux vanishes.
    """
    K = _K(K)
    F = probability_fluxes(K, p)
    pp = stationary_distribution(K) if p is None else _p(p, K.shape[0])
    scale = max(float(np.max(pp[:, None] * K)), 1e-300)
    return bool(np.max(np.abs(F)) <= rtol * scale)


@dataclass(frozen=True)
class EntropyProductionSplit:
    """Total = housekeeping (adiabatic) + excess (non-adiabatic) entropy production, nats per time."""

    total: float
    housekeeping: float
    excess: float


def entropy_production_split(K, p, pi=None) -> EntropyProductionSplit:
    """Housekeeping/excess split of the entropy production of a distribution ``p``.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Rates ``K[i, j]`` from ``i`` to ``j`` (two-way links).
    p : array_like, shape (n,)
        Current distribution.
    pi : array_like, shape (n,), optional
        Stationary distribution (computed if not given).

    Returns
    -------
    EntropyProductionSplit
        ``housekeeping = 1/2 sum F_ij ln(pi_i K_ij / (pi_j K_ji)) >= 0`` (the
        cost of maintaining the NESS), ``excess = 1/2 sum F_ij ln(p_i pi_j /
        (p_j pi_i)) = -d/dt D(p || pi) >= 0`` (relaxation), ``total`` their
        sum (Schnakenberg). Esposito and Van den Broeck, PRL 104, 090601
        (2010).

    Raises
    ------
    ValueError
        If some link is one-way (the split is then infinite).
    """
    K = _K(K)
    if np.any((K > 0) != (K.T > 0)):
        raise ValueError("K: every link must be two-way for the entropy-production split")
    n = K.shape[0]
    p = _p(p, n)
    pi = stationary_distribution(K) if pi is None else _p(pi, n)
    J = p[:, None] * K
    F = J - J.T
    with np.errstate(divide="ignore", invalid="ignore"):
        lk = np.where(K > 0, np.log(np.where(K > 0, K, 1)) - np.log(np.where(K.T > 0, K.T, 1)), 0.0)
        lpi = np.log(pi)[:, None] - np.log(pi)[None, :]
    hk = 0.5 * np.sum(np.where(K > 0, F * (lk + lpi), 0.0))
    total = schnakenberg_entropy_production(K, p)
    return EntropyProductionSplit(total=total, housekeeping=float(hk), excess=float(total - hk))


# ---------------------------------------------------------------- quantum


def _qdb_parts(model, ness):
    from ..liouvillian import liouvillian
    from ..model import as_model

    model = as_model(model)  # only L is used: a Liouvillian (SuperoperatorModel) is fine
    d = model.dim
    if d > 64:
        raise ValueError(f"the quantum detailed-balance test is dense in d^2 = {d * d}; use d <= 64")
    rho = getattr(ness, "rho", ness)
    if type(rho).__name__ == "Qobj":
        rho = rho.full()
    rho = np.asarray(rho, dtype=np.complex128)
    if rho.shape != (d, d):
        raise ValueError(f"ness: expected a {d} x {d} density matrix, got shape {rho.shape}")
    rho = 0.5 * (rho + rho.conj().T)
    w = np.linalg.eigvalsh(rho)
    if w.min() <= 1e-12 * w.max():
        raise ValueError("ness: the state is not full rank; GNS detailed balance needs a faithful state")
    L = liouvillian(model).toarray()
    M = L.conj().T  # Heisenberg generator on vec(X)
    G = np.kron(rho.T, np.eye(d))  # <X, Y>_rho = Tr(rho X^+ Y) = vec(X)^+ G vec(Y)
    Mt = np.linalg.solve(G, L @ G)  # GNS adjoint of M
    A = 0.5 * (M - Mt)
    A4 = (-1j * A).reshape(d, d, d, d)
    Kh = np.einsum("jijk->ik", A4) / d
    deriv = 1j * (np.kron(np.eye(d), Kh) - np.kron(Kh.T, np.eye(d)))
    # every defect relative to the generator's own scale ||M|| (K has its units): the same for a
    # model written in any time unit (a floor of 1 made them absolute below ||M|| = 1, so a
    # driven cycle in units of 1e-9 passed at the default atol; new-user review, session 13)
    scale = float(np.linalg.norm(M))
    if scale == 0.0:
        return 0.0  # L = 0: every state is stationary and every defect vanishes
    defect = max(
        float(np.linalg.norm(A - deriv)),
        float(np.linalg.norm(Kh - Kh.conj().T)),
        float(np.linalg.norm(Kh @ rho - rho @ Kh)),
        float(np.linalg.norm(L @ rho.ravel(order="F"))),
    )
    return defect / scale


def detailed_balance_defect(model, ness) -> float:
    """How far ``model`` is from quantum detailed balance with respect to ``ness``.

    Parameters
    ----------
    model : LindbladModel, SuperoperatorModel, tuple (H, c_ops) or Liouvillian
        The model (``d <= 64``: the test is dense in ``d^2``); only its
        Liouvillian is used (see :func:`qness.as_model`).
    ness : NESS or array_like, shape (d, d)
        A faithful (full-rank) steady state ``rho``.

    Returns
    -------
    float
        The largest of the defects (Frobenius norms) of ``L(rho) = 0``; of
        ``(M - M~)/2`` being a derivation ``i[K, .]``; of ``K`` being
        Hermitian and of ``[K, rho] = 0`` (see
        :func:`quantum_detailed_balance`), relative to ``||M||_F``, so that it
        does not depend on the unit of time. Zero for an exactly
        detailed-balanced model.
    """
    return _qdb_parts(model, ness)


def quantum_detailed_balance(model, ness, *, atol: float = 1e-8) -> bool:
    """Test quantum detailed balance (GNS, with a Hamiltonian part) of a Liouvillian.

    Definition (Alicki, Rep. Math. Phys. 10, 249 (1976); Kossakowski et al.,
    Commun. Math. Phys. 57, 97 (1977)): with the GNS inner product
    ``<X, Y>_rho = Tr(rho X^+ Y)`` (``s = 1``), let ``M = L^+`` be the
    Heisenberg generator and ``M~`` its adjoint for this inner product.
    ``L`` satisfies detailed balance with respect to ``rho`` iff ``rho`` is
    stationary and ``(M - M~)/2 = i[K, .]`` for a Hermitian ``K`` commuting
    with ``rho``: the dissipative part is self-adjoint and the remainder is
    a Hamiltonian (time-reversal odd) motion that leaves ``rho`` alone. It
    implies the (weaker) KMS version.

    Parameters
    ----------
    model : LindbladModel, SuperoperatorModel, tuple (H, c_ops) or Liouvillian
        The model (``d <= 64``); only its Liouvillian is used (see
        :func:`qness.as_model`).
    ness : NESS or array_like, shape (d, d)
        A faithful steady state.
    atol : float
        Tolerance on :func:`detailed_balance_defect`.

    Returns
    -------
    bool
        ``True`` for a thermal (Davies) qubit or oscillator and its Gibbs
        state; ``False`` for a boundary-driven chain or a classical network
        with a cycle affinity.

    Raises
    ------
    TypeError
        If ``model`` is not a model (see :func:`qness.as_model`).
    ValueError
        If ``rho`` is not full rank or has the wrong shape, or ``d > 64``.
    """
    return bool(_qdb_parts(model, ness) <= atol)
