"""Exact NESS of quadratic (free fermion / free boson) Lindblad models.

Model (hbar = 1), on ``n`` modes ``c_i`` (fermions) or ``a_i`` (bosons)::

    H   = sum_ij h_ij c_i^+ c_j                      (h Hermitian, n x n)
    L   = sqrt(gain_i) c_i^+,  sqrt(loss_i) c_i,  sqrt(dephasing_i) n_i

in the standard form ``d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ -
1/2 {L_k^+ L_k, rho})``. Linear jumps keep the state Gaussian; dephasing does
not, but the two-point function stays closed (see below), so ``C`` is exact
in every case.

Two-point equations
-------------------
With ``C_ij = <c_i^+ c_j>`` (Heisenberg picture, ``dO/dt = i[H, O] + sum_k
(L_k^+ O L_k - 1/2 {L_k^+ L_k, O})``):

* hopping: ``i[H, c_i^+ c_j]`` gives ``i (h^T C - C h^T)_ij``;
* loss on site k: ``-(loss_k / 2) (delta_ki + delta_kj) C_ij``;
* gain on site k: fermions ``-(gain_k / 2) (delta_ki + delta_kj) C_ij +
  gain_k delta_ki delta_kj``; bosons the same with ``+gain_k / 2``
  (``a a^+ = 1 + a^+ a`` instead of ``c c^+ = 1 - c^+ c``);
* dephasing ``L = sqrt(g_k) n_k`` acts as ``-(g_k/2)[n_k, [n_k, O]]`` and
  ``[n_k, c_i^+ c_j] = (delta_ki - delta_kj) c_i^+ c_j``, so it damps the
  off-diagonal ``C_ij`` at rate ``(g_i + g_j)/2`` and leaves ``C_ii``
  alone, for both statistics.

Hence ``dC/dt = -(X C + C X^+) + P + diag(g o diag C)`` with::

    X = diag(kappa + g)/2 - i h^T,   P = diag(gain),
    kappa = gain + loss (fermions),  kappa = loss - gain (bosons),

``g`` the dephasing rates. Without dephasing the NESS solves the continuous
Lyapunov equation ``X C + C X^+ = P``; with dephasing the unknown diagonal is
found from an ``n x n`` linear system (GMRES on ``c -> c - diag S(g o c)``,
where ``S`` is the Lyapunov solve reusing one Schur factorisation).

Spectrum (third quantisation, Prosen NJP 10, 043026 (2008))
-----------------------------------------------------------
Without dephasing the Liouvillian eigenvalues are ``-(sum_a m_a x_a + sum_b
m'_b conj(x_b))`` over the eigenvalues ``x_a`` of ``X`` (the rapidities;
``m`` in {0, 1} for fermions, non-negative integers for bosons). The first
moments ``<c_j>`` (odd operators) decay with single rapidities, so the gap
of the quadratic model is ``min_a Re x_a``. Parity-even operators (the
two-point function, every physical observable of a Jordan-Wigner spin chain)
decay with pairs, ``x_a + conj(x_b)``: their gap is ``2 min_a Re x_a``.

Jordan-Wigner factor. A spin chain with local jumps ``sigma^-`` on site 0
and on the last site ``m = n-1`` is not exactly the fermion model: with
``c_m = (prod_{l<m} -sigma^z_l) sigma^-_m`` and ``(-sigma^z_m) c_m = c_m``
one finds ``sigma^-_m = P c_m`` (``P`` the total parity), so
``D[sigma^-_m] rho = D[c_m] rho`` on parity-even ``rho`` and the recycling
term flips sign on parity-odd operators. The even sector, which holds the
NESS and the relaxation of every parity-even observable (the two-point
function, ``sigma^z_i``, currents), is identical: its gap is ``gap(qm,
sector="even") = 2 min Re x``. The odd sector (``sigma^x_i``, coherences
between parity sectors) is not, and the spin Liouvillian's gap is that of
neither quadratic model in general: measured (dense spin chains of 2-4 sites,
40 random XX chains), it lies between ``gap(qm)`` and ``gap(qm,
sector="even")``, equal to the latter with gain and loss on both ends, to the
former with loss only on both ends. For the spin chain's gap itself, use
:func:`qness.liouvillian_gap` on the spin model. With jumps on one end only,
the spin chain *is* the fermion chain (reflect the string) and the gaps
coincide.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
from scipy.special import xlogy

from ._linalg import triangular_sylvester

__all__ = ["QuadraticModel", "GaussianNESS", "steady_state", "gap", "gaussian_entropy"]

_STATISTICS = ("fermion", "boson")


def _rates(value, n: int, name: str) -> np.ndarray:
    """Per-site non-negative rates from an array, a scalar or a dict ``{site: rate}``."""
    if value is None:
        return np.zeros(n)
    if isinstance(value, Mapping):
        out = np.zeros(n)
        for site, r in value.items():
            if isinstance(site, bool) or not isinstance(site, (int, np.integer)) or not 0 <= site < n:
                raise ValueError(f"{name}: site {site!r} out of range for {n} sites")
            if isinstance(r, (complex, np.complexfloating)) or not isinstance(r, (numbers.Real, np.number)):
                raise TypeError(f"{name}: the rate of site {site} must be a real number, got {r!r}")
            out[int(site)] = float(r)
    else:
        arr = np.asarray(value)
        if np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name}: rates must be real numbers, got {value!r}")
        arr = arr.astype(float)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"{name} must have {n} entries (one per site), got shape {arr.shape}")
        out = arr.copy()
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} has non-finite entries")
    if np.any(out < 0):
        raise ValueError(f"{name} must be non-negative, got {out[out < 0][0]!r}")
    return out


class QuadraticModel:
    """A quadratic Lindblad model: hopping ``h``, linear gain and loss, optional dephasing.

    Parameters
    ----------
    h : array_like, scipy sparse matrix or qutip.Qobj, shape (n, n)
        Hermitian single-particle Hamiltonian, ``H = sum_ij h_ij c_i^+ c_j``
        (energy units, hbar = 1).
    gain, loss : array_like of shape (n,), float or dict ``{site: rate}``
        Rates of the jumps ``sqrt(gain_i) c_i^+`` and ``sqrt(loss_i) c_i``.
    dephasing : array_like, float or dict, optional
        Rates of ``sqrt(dephasing_i) n_i`` (exact for the two-point
        function, but the NESS is then not Gaussian).
    statistics : {"fermion", "boson"}
        Particle statistics.

    Attributes
    ----------
    h, gain, loss, dephasing : numpy.ndarray
        Copies of the inputs (read-only).
    n : int
        Number of modes.
    X, P : numpy.ndarray
        Damping and pump matrices of ``dC/dt = -(X C + C X^+) + P`` (plus
        the dephasing term); see the module docstring.

    Raises
    ------
    ValueError
        If ``h`` is not square, Hermitian and finite (or is a ``Qobj`` with
        tensor dims: a many-body operator), a rate is negative, or
        ``statistics`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from qness.gaussian import QuadraticModel, steady_state
    >>> h = -np.eye(3, k=1) - np.eye(3, k=-1)
    >>> qm = QuadraticModel(h, gain={0: 1.0}, loss={2: 1.0})
    >>> ness = steady_state(qm)
    >>> bool(np.allclose(ness.currents, ness.currents[0]))
    True
    """

    def __init__(self, h, *, gain, loss, dephasing=None, statistics: str = "fermion"):
        if statistics not in _STATISTICS:
            raise ValueError(f"statistics must be 'fermion' or 'boson', got {statistics!r}")
        if type(h).__name__ == "Qobj":  # qutip.Qobj, as everywhere in qness
            left = h.dims[0]
            if any(isinstance(x, (list, tuple)) for x in left) or len(left) > 1:
                # a many-body operator (tensor factors: qubits, modes) read as an n x n hopping
                # matrix gave a model of prod(dims) modes silently
                raise ValueError(
                    f"h is a Qobj with tensor dims {h.dims}: a many-body operator, not the n x n "
                    "single-particle matrix h_ij of H = sum_ij h_ij c_i^+ c_j; pass h_ij (an array, or "
                    "a Qobj on one flat space of n modes)"
                )
            h = h.full()
        elif sp.issparse(h):
            h = h.toarray()
        h = np.array(h, dtype=np.complex128)
        if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
            raise ValueError(f"h must be a square n x n matrix, got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("h has non-finite entries")
        scale = float(np.abs(h).max())
        if np.abs(h - h.conj().T).max() > 1e-12 * scale:
            raise ValueError("h is not Hermitian")
        n = h.shape[0]
        self.n = n
        self.statistics = statistics
        self.h = h
        self.gain = _rates(gain, n, "gain")
        self.loss = _rates(loss, n, "loss")
        self.dephasing = _rates(dephasing, n, "dephasing")
        for a in (self.h, self.gain, self.loss, self.dephasing):
            a.flags.writeable = False

    def __repr__(self) -> str:
        return f"QuadraticModel(n={self.n}, statistics={self.statistics!r})"

    @property
    def kappa(self) -> np.ndarray:
        """Net damping rate of the linear jumps per site (gain + loss or loss - gain)."""
        if self.statistics == "fermion":
            return self.gain + self.loss
        return self.loss - self.gain

    @property
    def X(self) -> np.ndarray:
        """Damping matrix ``X = diag(kappa + dephasing)/2 - i h^T``."""
        return np.diag(0.5 * (self.kappa + self.dephasing)).astype(np.complex128) - 1j * self.h.T

    @property
    def P(self) -> np.ndarray:
        """Pump matrix ``P = diag(gain)``."""
        return np.diag(self.gain).astype(np.complex128)

    def to_lindblad(self, cutoff: int | None = None):
        """The same master equation as a :class:`qness.LindbladModel` on a chain.

        Fermions are mapped by Jordan-Wigner with
        :func:`qness.operators.fermion_annihilation` (occupied = spin up),
        so the jumps carry the string: the model is exactly the fermionic
        one. Bosons are truncated to ``cutoff`` Fock states per site.

        Parameters
        ----------
        cutoff : int, optional
            Local Fock-space dimension (bosons only; required for them).

        Returns
        -------
        qness.LindbladModel
            ``dims = (2,)*n`` or ``(cutoff,)*n``; the jumps of site ``i``
            (``gain_i``, ``loss_i``, ``dephasing_i``) belong to the bath
            ``"site{i}"``; a U(1) symmetry counting particles is declared.

        Raises
        ------
        ValueError
            For bosons without a ``cutoff`` (or ``cutoff < 2``), for
            fermions with one, or when the Hilbert space exceeds ``2**16``.
        """
        from .model import ModelBuilder
        from .operators import chain_operator, destroy, fermion_annihilation

        n = self.n
        if self.statistics == "fermion":
            if cutoff is not None:
                raise ValueError("cutoff applies to bosons only")
            dims = (2,) * n
            ops = [fermion_annihilation(i, n) for i in range(n)]
            local_charge = [1, 0]
        else:
            if cutoff is None or int(cutoff) < 2:
                raise ValueError(f"bosons need cutoff >= 2 (Fock states per site), got {cutoff!r}")
            cutoff = int(cutoff)
            dims = (cutoff,) * n
            ops = [chain_operator({i: destroy(cutoff)}, dims) for i in range(n)]
            local_charge = list(range(cutoff))
        if math.prod(dims) > 2**16:
            raise ValueError(f"Hilbert space of dimension {math.prod(dims)} is too large for to_lindblad")
        b = ModelBuilder(dims, name=f"quadratic_{self.statistics}")
        H = sp.csr_array((math.prod(dims),) * 2, dtype=np.complex128)
        for i, j in zip(*np.nonzero(self.h)):
            H = H + self.h[i, j] * (ops[i].T.conj() @ ops[j])
        b.add_hamiltonian(sp.csr_array(0.5 * (H + H.T.conj())))
        for i in range(n):
            bath = f"site{i}"
            num = ops[i].T.conj() @ ops[i]
            for rate, op, kind in (
                (self.gain[i], ops[i].T.conj(), "gain"),
                (self.loss[i], ops[i], "loss"),
                (self.dephasing[i], num, "dephasing"),
            ):
                if rate > 0:
                    b.add_collective_jump(op, rate, bath=bath, label=f"{kind}_{i}")
        b.add_u1(local_charge, name="N")
        b.set_params(statistics=self.statistics, cutoff=cutoff)
        return b.build()

    to_model = to_lindblad


class _LyapunovSolver:
    """Solve ``X Y + Y X^+ = Q`` repeatedly from one complex Schur factorisation of ``X``.

    Bartels-Stewart: ``X = U T U^+``, then ``T Z + Z T^+ = U^+ Q U`` by
    :func:`qness._linalg.triangular_sylvester` and ``Y = U Z U^+``.
    """

    def __init__(self, X: np.ndarray):
        self.T, self.U = sla.schur(X, output="complex")
        (self._trsyl,) = sla.get_lapack_funcs(("trsyl",), (self.T,))

    def __call__(self, Q: np.ndarray) -> np.ndarray:
        U = self.U
        F = U.conj().T @ Q @ U
        Z = triangular_sylvester(self._trsyl, self.T, self.T, F)
        return U @ Z @ U.conj().T


@dataclass(frozen=True, eq=False)
class GaussianNESS:
    """Steady state of a :class:`QuadraticModel`, described by its two-point function.

    Attributes
    ----------
    C : numpy.ndarray, shape (n, n)
        ``C_ij = <c_i^+ c_j>`` (Hermitian).
    model : QuadraticModel
        The model solved.
    residual : float
        ``||X C + C X^+ - P - diag(g o diag C)||_F / max(1, ||P||_F)``.
    info : dict
        Solver details (``method``, GMRES ``iterations`` with dephasing).

    Notes
    -----
    Current convention: ``current_matrix[i, j] = -2 Im(h_ij C_ij)`` is the
    particle current from site ``i`` to site ``j`` (``dn_j/dt`` from the
    hopping ``h_ij``), so ``currents[i] > 0`` means flow ``i -> i+1``.
    Bath currents are positive when particles or energy flow from the
    reservoir at a site into the chain. Entropies are in bits (``base=2``)
    unless told otherwise.
    """

    C: np.ndarray
    model: QuadraticModel
    residual: float
    info: dict

    @property
    def occupations(self) -> np.ndarray:
        """``<n_i> = C_ii`` (real, shape (n,))."""
        return np.real(np.diag(self.C)).copy()

    @property
    def current_matrix(self) -> np.ndarray:
        """Antisymmetric ``I[i, j] = -2 Im(h_ij C_ij)``: particle flow from ``i`` to ``j``."""
        return -2.0 * np.imag(self.model.h * self.C)

    @property
    def currents(self) -> np.ndarray:
        """Particle currents on the chain bonds ``i -> i+1`` (shape (n-1,))."""
        I = self.current_matrix
        return np.array([I[i, i + 1] for i in range(self.model.n - 1)])

    @property
    def bath_currents(self) -> np.ndarray:
        """Particle current from the reservoir at each site into the chain.

        ``gain_i (1 -+ C_ii) - loss_i C_ii`` (fermions / bosons); dephasing
        conserves particles. Sums to zero in the NESS.
        """
        m = self.model
        c = self.occupations
        return -m.kappa * c + m.gain

    @property
    def energy_currents(self) -> np.ndarray:
        """Energy current ``Tr[H D_i(rho)]`` from the processes at site ``i`` into the chain.

        ``-(kappa_i + g_i) Re(sum_j h_ij C_ij) + (gain_i + g_i C_ii) h_ii``
        with ``g`` the dephasing rates: gain, loss and dephasing of site
        ``i`` together (the ``"site{i}"`` bath of :meth:`QuadraticModel.to_lindblad`).
        Sums to zero in the NESS (first law, no drives).
        """
        m = self.model
        s = np.real(np.sum(m.h * self.C, axis=1))
        hd = np.real(np.diag(m.h))
        return -(m.kappa + m.dephasing) * s + (m.gain + m.dephasing * self.occupations) * hd

    def entropy(self, sites: Sequence[int] | None = None, base: float = 2.0) -> float:
        """Gaussian von Neumann entropy of a region, from ``C`` restricted to it.

        Parameters
        ----------
        sites : sequence of int, optional
            The region (all sites by default).
        base : float
            Logarithm base (2: bits).

        Returns
        -------
        float
            See :func:`gaussian_entropy` (exact without dephasing).
        """
        C = self.C if sites is None else self.C[np.ix_(list(sites), list(sites))]
        return gaussian_entropy(C, self.model.statistics, base=base)

    def mutual_information(self, a: Sequence[int], b: Sequence[int], base: float = 2.0) -> float:
        """Mutual information ``S(a) + S(b) - S(a u b)`` of the Gaussian state with this ``C``.

        Parameters
        ----------
        a, b : sequence of int
            Disjoint regions (mode indices).
        base : float
            Logarithm base (2: bits).

        Returns
        -------
        float
            ``I(a:b) >= 0``. For fermions this is the mutual information of
            the fermionic modes, equal to the spin chain's for contiguous
            regions (Jordan-Wigner strings stay inside them).
        """
        a, b = list(a), list(b)
        if set(a) & set(b):
            raise ValueError("regions a and b must be disjoint")
        return self.entropy(a, base) + self.entropy(b, base) - self.entropy(a + b, base)


def gaussian_entropy(C, statistics: str = "fermion", base: float = 2.0) -> float:
    """Von Neumann entropy of the Gaussian state with two-point matrix ``C``.

    Parameters
    ----------
    C : array_like, shape (m, m)
        ``C_ij = <c_i^+ c_j>`` restricted to a region (Hermitian).
    statistics : {"fermion", "boson"}
        Fermions: ``S = -sum (nu log nu + (1-nu) log(1-nu))``; bosons:
        ``S = sum ((nu+1) log(nu+1) - nu log nu)``, ``nu`` the eigenvalues
        of ``C``.
    base : float
        Logarithm base (2: bits, ``e``: nats).

    Returns
    -------
    float
        The entropy. With dephasing the true state is not Gaussian and this
        is the entropy of the Gaussian state with the same ``C`` (an upper
        bound on the true one).
    """
    nu = np.linalg.eigvalsh(np.asarray(C, dtype=np.complex128))
    if statistics == "fermion":
        nu = np.clip(nu, 0.0, 1.0)
        s = -np.sum(xlogy(nu, nu) + xlogy(1 - nu, 1 - nu))
    elif statistics == "boson":
        nu = np.clip(nu, 0.0, None)
        s = np.sum(xlogy(nu + 1, nu + 1) - xlogy(nu, nu))
    else:
        raise ValueError(f"statistics must be 'fermion' or 'boson', got {statistics!r}")
    return float(s / math.log(base))


def _check_damped(qm: QuadraticModel, x: np.ndarray) -> None:
    scale = max(float(np.abs(qm.h).max()), float(np.max(qm.gain + qm.loss + qm.dephasing))) or 1.0
    if qm.statistics == "boson" and np.any(x.real <= 0):
        raise ValueError("no steady state: the bosonic gain is not compensated by loss (Re x <= 0)")
    if np.min(x.real) <= 1e-13 * scale:
        raise ValueError(
            "no unique steady state: a mode of h is not damped (min Re of the damping matrix's "
            f"eigenvalues is {np.min(x.real):.3g}, below 1e-13 of the model's scale {scale:.3g}: a mode "
            "with no weight on the baths' sites, or with too little to tell in double precision, as a "
            "mode localised away from them in a disordered chain)"
        )


def _check_closed_sites(qm: QuadraticModel) -> None:
    """ValueError if a set of sites that the hopping closes has no gain or loss (with dephasing, which
    conserves each site's occupation, its particle number is then conserved: no unique NESS). Exact,
    from the connected components of ``h``'s graph; the random check after it covers the rest."""
    ncomp, label = csgraph.connected_components(sp.csr_array(np.abs(qm.h) > 0), directed=False)
    pumped = np.zeros(ncomp, dtype=bool)
    np.logical_or.at(pumped, label, (qm.gain + qm.loss) > 0)
    if not pumped.all():
        sites = np.flatnonzero(label == int(np.flatnonzero(~pumped)[0]))
        raise ValueError(
            "no unique steady state: sites "
            f"{sites.tolist() if sites.size <= 20 else sites[:20].tolist() + ['...']} exchange particles "
            "with no bath and the hopping connects them to no site that does, so their particle number "
            "is conserved"
        )


def _check_diagonal_map(op, n: int) -> None:
    """ValueError if the dephasing solve's map ``c -> c - diag S(diag(g o c))`` is singular (a conserved
    particle number: no unique NESS). GMRES on a random right-hand side ``r``: a singular map leaves
    the component of ``r`` on its left null vector, ``|<l, r>| ~ 1/sqrt(n)``, in every residual, so a
    residual below ``1e-2 / sqrt(n)`` shows it non-singular (as ``qness.solvers.uniqueness``)."""
    rng = np.random.default_rng(20240531)
    delta = 1e-2 / np.sqrt(n)
    for _ in range(2):  # (two vectors: a left null vector misses both with probability ~1e-8)
        r = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        r /= np.linalg.norm(r)
        y, _ = spla.gmres(op, r, rtol=delta, atol=0.0, restart=n, maxiter=2)
        res = float(np.linalg.norm(r - op @ y))
        if not res <= delta:
            break
    if not res <= delta:
        raise ValueError(
            "no unique steady state: with dephasing, a particle number is conserved (a random right-hand "
            f"side of the diagonal equation is solved only to residual {res:.2g}, above {delta:.2g}): "
            "some sites exchange particles with no bath, directly or through the hopping"
        )


#: :func:`steady_state` warns (``AccuracyWarning``) above this relative residual.
ACCURACY_LIMIT = 1e-8


def steady_state(qm: QuadraticModel, *, rtol: float = 1e-12) -> GaussianNESS:
    """Exact NESS two-point function of a quadratic model.

    Parameters
    ----------
    qm : QuadraticModel
        The model.
    rtol : float
        Relative tolerance of the GMRES solve for the diagonal when there is
        dephasing (unused otherwise).

    Returns
    -------
    GaussianNESS
        ``.C`` with ``C_ij = <c_i^+ c_j>``, occupations, currents, entropies.

    Raises
    ------
    ValueError
        If some mode is undamped (no unique NESS), with dephasing a particle
        number is conserved (no unique NESS), or bosonic gain exceeds loss.

    Warns
    -----
    AccuracyWarning
        If the relative residual exceeds :data:`ACCURACY_LIMIT` (an
        ill-conditioned equation: with dephasing and leads of 1e-6 on 60
        sites, condition number 2e7). With dephasing, GMRES solves the
        diagonal equation, or where it does not converge (weak leads) a dense
        solve of its ``n`` columns (``info["dephasing_solver"]``).

    Notes
    -----
    Solves ``X C + C X^+ = P`` (module docstring) by Bartels-Stewart:
    one complex Schur factorisation of ``X`` and a recursively blocked
    triangular Sylvester solve, O(n^3) (``scipy.linalg.solve_continuous_lyapunov``
    does the same with LAPACK's unblocked ``trsyl``, several times slower at
    n = 1000). With dephasing ``g``, ``C = S(P +
    diag(g o c))`` with ``c = diag C`` the solution of ``c - diag S(diag(g o
    c)) = diag S(P)``, solved by GMRES, each step one ``S``.
    """
    if not isinstance(qm, QuadraticModel):
        raise ValueError(f"expected a QuadraticModel, got {type(qm).__name__}")
    X, P = qm.X, qm.P
    solve = _LyapunovSolver(X)
    g = qm.dephasing
    if np.any(g > 0) and qm.statistics == "boson":
        # dephasing conserves particles: a mode the linear jumps do not damp would grow or stay
        _check_damped(qm, np.linalg.eigvals(np.diag(0.5 * qm.kappa) - 1j * qm.h.T))
    else:
        # (with dephasing: X includes it, and S exists; the diagonal equation below is then
        # checked for a conserved particle number. A mode that only dephasing couples to the leads
        # is not a second steady state: 3 sites, leads on the middle one, dephasing on site 0 has
        # one NESS, which the linear-jumps-only test refused, session-20 review)
        _check_damped(qm, np.diag(solve.T))
    info = {"method": "lyapunov (Schur + trsyl)"}
    if np.any(g > 0):
        base = solve(P)
        n = qm.n

        def mv(c):
            c = np.asarray(c).ravel()
            return c - np.diag(solve(np.diag(g * c)))

        op = spla.LinearOperator((n, n), matvec=mv, dtype=np.complex128)
        its = [0]

        def cb(_):
            its[0] += 1

        c, code = spla.gmres(
            op,
            np.diag(base).copy(),
            rtol=rtol,
            atol=0.0,
            # full GMRES on the n x n map (restarts of 50 stagnated with weak leads: 60 sites, leads 1e-4,
            # 10,000 steps in 25 s and no convergence; at most n steps in exact arithmetic)
            restart=n,
            maxiter=3,
            callback=cb,
            callback_type="pr_norm",
        )
        _check_closed_sites(qm)
        if code == 0:
            _check_diagonal_map(op, n)
            info.update(dephasing_solver="gmres", iterations=its[0])
        else:
            # an ill-conditioned map (weak leads: a nearly conserved particle number): its n columns
            # (n applications of S) and a dense solve, uniqueness from its singular values
            M = np.column_stack([mv(e) for e in np.eye(n, dtype=np.complex128)])
            s = np.linalg.svd(M, compute_uv=False)
            if s[-1] <= 1e-13 * s[0]:
                raise ValueError(
                    "no unique steady state: with dephasing, a particle number is conserved (the diagonal "
                    f"equation's smallest singular value is {s[-1] / s[0]:.1e} of its largest)"
                )
            c = np.linalg.solve(M, np.diag(base))
            info.update(
                dephasing_solver="dense (GMRES did not converge)", iterations=its[0], cond=s[0] / s[-1]
            )
        C = base + solve(np.diag(g * c))
    else:
        C = solve(P)
    C = 0.5 * (C + C.conj().T)
    R = X @ C + C @ X.conj().T - P - np.diag(g * np.diag(C))
    residual = float(np.linalg.norm(R) / (np.linalg.norm(P) or 1.0))
    if residual > ACCURACY_LIMIT:
        import warnings

        from .solvers.errors import AccuracyWarning

        warnings.warn(
            f"gaussian.steady_state: relative residual {residual:.1e} (rtol={rtol:g}): the two-point "
            "equation is ill-conditioned"
            + (f" (condition number {info['cond']:.1e} of the dephasing equation)" if "cond" in info else "")
            + "; C is accurate to about that relative to the pump",
            AccuracyWarning,
            stacklevel=2,
        )
    return GaussianNESS(C=C, model=qm, residual=residual, info=info)


def gap(qm: QuadraticModel, *, sector: str = "all") -> float:
    """Liouvillian gap of a quadratic model from its damping matrix (third quantisation).

    Parameters
    ----------
    qm : QuadraticModel
        The model (without dephasing: dephasing makes the Liouvillian
        non-quadratic and its spectrum is not given by ``X``).
    sector : {"all", "even"}
        ``"all"``: gap of the full quadratic Liouvillian, ``min Re x_a``
        over the eigenvalues of ``X`` (set by the parity-odd first moments).
        ``"even"``: gap within parity-even operators (two-point function,
        physical observables of a Jordan-Wigner spin chain),
        ``2 min Re x_a``.

    Returns
    -------
    float
        The positive gap ``-Re(lambda_1)`` (energy units, hbar = 1).

    Raises
    ------
    ValueError
        With dephasing, an unknown ``sector``, or an undamped mode.

    Notes
    -----
    For a spin-1/2 chain with ``sigma^+-`` jumps on *both* end sites, the
    parity-even observables relax at ``gap(qm, sector="even")``; the spin
    Liouvillian's gap, set also by its parity-odd sector, which differs from
    the fermions' (module docstring), lies between ``gap(qm)`` and that in the
    chains measured (:func:`qness.liouvillian_gap` on the spin model gives
    it). With jumps on one end only it equals ``gap(qm)``.

    References
    ----------
    T. Prosen, "Third quantization", New J. Phys. 10, 043026 (2008).
    """
    if sector not in ("all", "even"):
        raise ValueError(f"sector must be 'all' or 'even', got {sector!r}")
    if np.any(qm.dephasing > 0):
        raise ValueError("dephasing makes the Liouvillian non-quadratic: its gap does not follow from X")
    x = np.linalg.eigvals(qm.X)
    _check_damped(qm, x)
    g = float(np.min(x.real))
    return 2.0 * g if sector == "even" else g
