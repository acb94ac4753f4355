"""Classical stochastic models as Lindblad models: Markov jump networks and the open ASEP/TASEP.

A classical jump process with rates ``w_{i->j}`` is the Lindblad model with
``H = 0`` and one jump ``L_ij = sqrt(w_ij) |j><i|`` per transition. On
diagonal density matrices ``rho = diag(p)`` its Liouvillian acts as the
classical generator, ``d p/dt = W p`` with

    W[j, i] = w_{i->j}  (i != j),      W[i, i] = -sum_j w_{i->j},

so the columns of ``W`` sum to zero. The coherences decay, and the NESS of
the Lindblad model is ``diag(p*)`` with ``p*`` the stationary distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from ..model import LindbladModel, ModelBuilder
from ._common import integer, nonneg

__all__ = [
    "markov_network",
    "classical_generator",
    "three_state_cycle",
    "tasep",
    "tasep_generator",
    "tasep_current",
]


def _rate_table(rates, n_states) -> tuple[dict[tuple[int, int], float], int]:
    """Normalise a rate dict or matrix to ``({(i, j): w}, n_states)`` with zero rates dropped."""
    table: dict[tuple[int, int], float] = {}
    if isinstance(rates, Mapping):
        top = -1
        for key, w in rates.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"rates keys must be pairs (i, j), got {key!r}")
            i, j = key
            for s in (i, j):
                if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                    raise ValueError(f"rates keys must be pairs of non-negative integers, got {key!r}")
            if i == j:
                raise ValueError(f"rates[{key!r}]: a transition needs two different states")
            w = nonneg(w, f"rates[{key!r}]")
            top = max(top, int(i), int(j))
            if w > 0:
                table[(int(i), int(j))] = w
        n = top + 1
    else:
        W = np.asarray(rates.toarray() if sp.issparse(rates) else rates)
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"rates must be a dict or a square matrix, got shape {W.shape}")
        if np.iscomplexobj(W):
            raise ValueError("rates must be real")
        n = W.shape[0]
        for i in range(n):
            for j in range(n):
                if i != j:
                    w = nonneg(W[i, j], f"rates[{i}, {j}]")
                    if w > 0:
                        table[(i, j)] = w
    if n_states is not None:
        n_states = integer(n_states, "n_states", 1)
        if n_states < n:
            raise ValueError(f"n_states={n_states} but the rates mention state {n - 1}")
        n = n_states
    if n < 1:
        raise ValueError("rates is empty: give n_states")
    return table, n


def classical_generator(rates, *, n_states: int | None = None) -> np.ndarray:
    """The generator ``W`` of a Markov jump process, ``d p/dt = W p``.

    Parameters
    ----------
    rates : dict or array_like
        ``{(i, j): w}`` with ``w`` the rate of ``i -> j``, or a square
        matrix with ``rates[i, j]`` the rate of ``i -> j`` (row = origin; the
        diagonal is ignored).
    n_states : int, optional
        Number of states (default: one more than the largest index).

    Returns
    -------
    numpy.ndarray, shape (n_states, n_states)
        ``W[j, i] = w_{i->j}`` for ``i != j`` and ``W[i, i] = -sum_j w_{i->j}``;
        every column sums to zero. Note the transpose relative to the input
        matrix.

    Raises
    ------
    ValueError
        For negative or non-finite rates, self-transitions in a dict, or a
        non-square matrix.

    Examples
    --------
    >>> from qness.models import classical_generator
    >>> classical_generator({(0, 1): 2.0, (1, 0): 1.0})
    array([[-2.,  1.],
           [ 2., -1.]])
    """
    table, n = _rate_table(rates, n_states)
    W = np.zeros((n, n))
    for (i, j), w in table.items():
        W[j, i] += w
        W[i, i] -= w
    return W


def markov_network(rates, *, n_states: int | None = None, name: str = "markov_network") -> LindbladModel:
    r"""A Markov jump network as a Lindblad model.

    Parameters
    ----------
    rates : dict or array_like
        ``{(i, j): w}`` (rate of ``i -> j``) or a matrix with
        ``rates[i, j]`` the rate of ``i -> j`` (diagonal ignored).
    n_states : int, optional
        Number of states (default: one more than the largest index).
    name : str, optional
        Model name.

    Returns
    -------
    LindbladModel
        ``dims=(n_states,)``, ``H = 0``, one jump ``"i->j"`` per non-zero
        rate (bath ``None``); ``params`` holds ``rates`` as a dict and
        ``n_states``.

    Raises
    ------
    ValueError
        As :func:`classical_generator`.

    Notes
    -----
    ``L_ij = sqrt(w_ij) |j><i|`` in the form
    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    For ``rho = diag(p)`` the Liouvillian gives ``diag(W p)`` with ``W``
    from :func:`classical_generator`, and coherences ``rho_ab`` decay at
    rate ``(r_a + r_b)/2`` (``r_a`` the escape rate of ``a``), so the NESS
    is ``diag(p*)``.

    References
    ----------
    J. Schnakenberg, Rev. Mod. Phys. 48, 571 (1976).

    Examples
    --------
    >>> from qness.models import markov_network
    >>> m = markov_network({(0, 1): 1.0, (1, 2): 1.0, (2, 0): 1.0})
    >>> [j.label for j in m.jumps]
    ['0->1', '1->2', '2->0']
    """
    table, n = _rate_table(rates, n_states)
    b = ModelBuilder((n,), name=name, site_kinds="other")
    for (i, j), w in table.items():
        op = sp.csr_array(([1.0 + 0j], ([j], [i])), shape=(n, n))
        b.add_collective_jump(op, w, label=f"{i}->{j}")
    b.set_params(rates=dict(table), n_states=n)
    return b.build()


def three_state_cycle(
    *,
    k_ab: float = 1.0,
    k_bc: float = 1.0,
    k_ca: float = 1.0,
    k_ba: float = 0.0,
    k_cb: float = 0.0,
    k_ac: float = 0.0,
) -> LindbladModel:
    r"""The three-state cycle ``A -> B -> C -> A`` (states 0, 1, 2) with optional reverse rates.

    Parameters
    ----------
    k_ab, k_bc, k_ca : float, optional
        Forward rates ``A->B``, ``B->C``, ``C->A`` (>= 0).
    k_ba, k_cb, k_ac : float, optional
        Reverse rates ``B->A``, ``C->B``, ``A->C`` (>= 0).

    Returns
    -------
    LindbladModel
        :func:`markov_network` with ``name="three_state_cycle"``;
        ``params`` holds the six rates.

    Raises
    ------
    ValueError
        For a negative or non-finite rate.

    Notes
    -----
    Jumps ``sqrt(k_xy) |y><x|`` (see :func:`markov_network`). The stationary
    distribution follows from the spanning trees (Kirchhoff / Hill):
    ``p_A ∝ k_bc k_ca + k_ba k_ca + k_cb k_ba`` and cyclically; the cycle
    current is ``J = p_A k_ab - p_B k_ba`` and the affinity
    ``ln(k_ab k_bc k_ca / (k_ba k_cb k_ac))``: detailed balance holds only
    when it vanishes.

    References
    ----------
    T. L. Hill, *Free Energy Transduction in Biology* (Academic, 1977);
    J. Schnakenberg, Rev. Mod. Phys. 48, 571 (1976).

    Examples
    --------
    >>> from qness.models import three_state_cycle
    >>> three_state_cycle(k_ab=2.0).dims
    (3,)
    """
    k = {
        "k_ab": nonneg(k_ab, "k_ab"),
        "k_bc": nonneg(k_bc, "k_bc"),
        "k_ca": nonneg(k_ca, "k_ca"),
        "k_ba": nonneg(k_ba, "k_ba"),
        "k_cb": nonneg(k_cb, "k_cb"),
        "k_ac": nonneg(k_ac, "k_ac"),
    }
    rates = {
        (0, 1): k["k_ab"],
        (1, 2): k["k_bc"],
        (2, 0): k["k_ca"],
        (1, 0): k["k_ba"],
        (2, 1): k["k_cb"],
        (0, 2): k["k_ac"],
    }
    m = markov_network(rates, n_states=3, name="three_state_cycle")
    return m.replace(params=dict(k))


def _asep_rates(n, alpha, beta, p, q, gamma, delta):
    n = integer(n, "n", 2)
    r = {
        "alpha": nonneg(alpha, "alpha"),
        "beta": nonneg(beta, "beta"),
        "p": nonneg(p, "p"),
        "q": nonneg(q, "q"),
        "gamma": nonneg(gamma, "gamma"),
        "delta": nonneg(delta, "delta"),
    }
    return n, r


def tasep(
    n: int,
    *,
    alpha: float,
    beta: float,
    p: float = 1.0,
    q: float = 0.0,
    gamma: float = 0.0,
    delta: float = 0.0,
) -> LindbladModel:
    r"""Open ASEP/TASEP on ``n`` sites as a Lindblad model on ``n`` qubits.

    Parameters
    ----------
    n : int
        Number of sites (``>= 2``).
    alpha : float
        Entry rate at the left end (site 0).
    beta : float
        Exit rate at the right end (site ``n-1``).
    p, q : float, optional
        Hopping rates to the right and to the left (TASEP: ``p = 1, q = 0``).
    gamma, delta : float, optional
        Exit rate at the left end and entry rate at the right end (the
        general open ASEP; zero for TASEP).

    Returns
    -------
    LindbladModel
        ``name="tasep"``, ``H = 0``; jumps ``"in_0"``/``"out_0"`` (bath
        ``"left"``), ``"out_{n-1}"``/``"in_{n-1}"`` (bath ``"right"``),
        ``"hop_right_i"`` and ``"hop_left_i"`` (bulk, no bath); zero-rate
        jumps are omitted. U(1): particle number ``"N"`` (a weak symmetry:
        the boundary jumps change it by one).

    Raises
    ------
    ValueError
        If ``n < 2`` or a rate is negative.

    Notes
    -----
    Occupied = spin up (``|0>``), so ``sigma^+`` inserts a particle. Jumps,
    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}):

    * ``sqrt(alpha) sigma^+_0``, ``sqrt(gamma) sigma^-_0``,
    * ``sqrt(beta) sigma^-_{n-1}``, ``sqrt(delta) sigma^+_{n-1}``,
    * ``sqrt(p) sigma^-_i sigma^+_{i+1}`` and ``sqrt(q) sigma^+_i sigma^-_{i+1}``
      for ``i = 0 .. n-2``.

    The diagonal sector is :func:`tasep_generator`. For TASEP with
    ``alpha + beta = 1`` the stationary measure is a product of Bernoulli
    measures of density ``alpha`` and the current is ``alpha beta`` for
    every ``n``; :func:`tasep_current` gives the exact current for any
    ``alpha``, ``beta``.

    References
    ----------
    B. Derrida, M. R. Evans, V. Hakim, V. Pasquier, J. Phys. A 26, 1493 (1993);
    M. Uchiyama, T. Sasamoto, M. Wadati, J. Phys. A 37, 4985 (2004).

    Examples
    --------
    >>> from qness.models import tasep
    >>> len(tasep(3, alpha=0.5, beta=0.5).jumps)
    4
    """
    n, r = _asep_rates(n, alpha, beta, p, q, gamma, delta)
    dims = (2,) * n
    b = ModelBuilder(dims, name="tasep", site_kinds="other")
    boundary = (
        ("sigmap", r["alpha"], 0, "left", "in"),
        ("sigmam", r["gamma"], 0, "left", "out"),
        ("sigmam", r["beta"], n - 1, "right", "out"),
        ("sigmap", r["delta"], n - 1, "right", "in"),
    )
    for op, rate, site, bath, label in boundary:
        if rate > 0:
            b.add_jump(op, rate, sites=[site], bath=bath, label=label)
    for i in range(n - 1):
        if r["p"] > 0:
            b.add_local_jump({i: "sigmam", i + 1: "sigmap"}, r["p"], label=f"hop_right_{i}")
        if r["q"] > 0:
            b.add_local_jump({i: "sigmap", i + 1: "sigmam"}, r["q"], label=f"hop_left_{i}")
    b.add_u1(np.array([1, 0]), name="N")
    b.set_params(n=n, **r)
    return b.build()


def tasep_generator(
    n: int,
    *,
    alpha: float,
    beta: float,
    p: float = 1.0,
    q: float = 0.0,
    gamma: float = 0.0,
    delta: float = 0.0,
) -> sp.csr_array:
    """Classical generator of the open ASEP on ``2^n`` configurations.

    Parameters
    ----------
    n, alpha, beta, p, q, gamma, delta
        As in :func:`tasep`.

    Returns
    -------
    scipy.sparse.csr_array, shape (2**n, 2**n)
        ``W`` with ``d p/dt = W p`` (columns sum to zero). Configurations
        are indexed as the computational basis of :func:`tasep`: site 0 is
        the most significant bit and bit value 0 (spin up) means occupied.

    Raises
    ------
    ValueError
        As :func:`tasep`.

    Examples
    --------
    >>> from qness.models import tasep_generator
    >>> tasep_generator(2, alpha=1.0, beta=1.0).shape
    (4, 4)
    """
    n, r = _asep_rates(n, alpha, beta, p, q, gamma, delta)
    size = 2**n

    def occ(s, i):
        return ((s >> (n - 1 - i)) & 1) == 0

    def flip(s, i):
        return s ^ (1 << (n - 1 - i))

    rows, cols, vals = [], [], []

    def add(src, dst, w):
        if w > 0:
            rows.extend((dst, src))
            cols.extend((src, src))
            vals.extend((w, -w))

    for s in range(size):
        if not occ(s, 0):
            add(s, flip(s, 0), r["alpha"])
        else:
            add(s, flip(s, 0), r["gamma"])
        if occ(s, n - 1):
            add(s, flip(s, n - 1), r["beta"])
        else:
            add(s, flip(s, n - 1), r["delta"])
        for i in range(n - 1):
            if occ(s, i) and not occ(s, i + 1):
                add(s, flip(flip(s, i), i + 1), r["p"])
            elif occ(s, i + 1) and not occ(s, i):
                add(s, flip(flip(s, i), i + 1), r["q"])
    W = sp.coo_array((vals, (rows, cols)), shape=(size, size)).tocsr()
    W.sum_duplicates()
    return sp.csr_array(W)


def tasep_current(n: int, *, alpha: float, beta: float) -> float:
    r"""Exact stationary current of the open TASEP (``p = 1``, ``q = 0``) on ``n`` sites.

    Parameters
    ----------
    n : int
        Number of sites (>= 1).
    alpha, beta : float
        Entry and exit rates (> 0).

    Returns
    -------
    float
        ``J = Z_{n-1}/Z_n`` with (Derrida et al. 1993, matrix product ansatz)

        ``Z_N = sum_{p=1}^{N} p (2N-1-p)! / (N! (N-p)!) * sum_{k=0}^{p} beta^-k alpha^-(p-k)``,
        ``Z_0 = 1``. For ``alpha + beta = 1`` this is ``alpha beta``.

    Raises
    ------
    ValueError
        If ``n < 1`` or a rate is not positive.

    Examples
    --------
    >>> from qness.models import tasep_current
    >>> round(tasep_current(5, alpha=0.3, beta=0.7), 12)
    0.21
    """
    n = integer(n, "n", 1)
    alpha, beta = nonneg(alpha, "alpha"), nonneg(beta, "beta")
    if alpha == 0 or beta == 0:
        raise ValueError("alpha and beta must be positive")
    a, b = 1.0 / alpha, 1.0 / beta

    def Z(N):
        if N == 0:
            return 1.0
        tot = 0.0
        for p in range(1, N + 1):
            c = p * math.factorial(2 * N - 1 - p) / (math.factorial(N) * math.factorial(N - p))
            tot += c * sum(b**k * a ** (p - k) for k in range(p + 1))
        return tot

    return Z(n - 1) / Z(n)
