"""Gaussian starts for the tensor-network solver: the quadratic part of a spin-1/2 chain and its NESS.

Jordan-Wigner as in :func:`qness.operators.fermion_annihilation`: ``c_i =
(prod_{l<i} (-sigma^z_l)) sigma^-_i``, occupied = spin up, so ``n_i = (1 +
sigma^z_i)/2``, ``c_i^+ c_(i+1) = sigma^+_i sigma^-_(i+1)`` and, for ``i <
j``, ``c_i^+ c_j = sigma^+_i (prod_{i<l<j} (-sigma^z_l)) sigma^-_j``.

The state is built from its normal modes: with ``C_ij = <c_i^+ c_j> = (U
diag(nu) U^+)_ij`` and ``b_k = sum_j U_jk c_j`` (so ``<b_k^+ b_l> = nu_k
delta_kl``), a number-conserving fermionic Gaussian state is the product of
commuting factors ``rho = prod_k [(1 - nu_k) + (2 nu_k - 1) b_k^+ b_k]``.
Each factor is an MPO of bond dimension 4 (Jordan-Wigner strings in the
channels), applied to ``vec(rho)`` by left multiplication and compressed.
"""

from __future__ import annotations

import numpy as np
import quimb.tensor as qtn

__all__ = ["quadratic_part", "gaussian_mps"]

_I = np.eye(2, dtype=np.complex128)
_Z = np.diag([1.0, -1.0]).astype(np.complex128)
_SP = np.array([[0, 1], [0, 0]], dtype=np.complex128)
_SM = _SP.T.copy()
_N = np.diag([1.0, 0.0]).astype(np.complex128)
_BASIS = (_I, _Z, _SP, _SM)  # a basis of 2x2 matrices
_NAMES = ("1", "sigma^z", "sigma^+", "sigma^-")


def _coeffs1(M: np.ndarray) -> np.ndarray:
    """``M = a 1 + b sigma^z + c sigma^+ + d sigma^-``: returns ``(a, b, c, d)``."""
    return np.array([(M[0, 0] + M[1, 1]) / 2, (M[0, 0] - M[1, 1]) / 2, M[0, 1], M[1, 0]])


def _coeffs2(M: np.ndarray) -> np.ndarray:
    """``M = sum_pq K[p, q] P_p kron P_q`` in the basis ``(1, sigma^z, sigma^+, sigma^-)``."""
    T = M.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)  # (a a', b b')
    K = np.empty((4, 4), dtype=np.complex128)
    # T[(a a'), (b b')] = sum_pq K_pq P_p[a a'] P_q[b b']; _coeffs1 is the dual map of the basis
    left = np.array([_coeffs1(T[:, col].reshape(2, 2)) for col in range(4)])  # (b b') x p
    for p in range(4):
        K[p] = _coeffs1(left[:, p].reshape(2, 2))
    return K


def quadratic_part(model):
    r"""The quadratic (free-fermion) part of a spin-1/2 chain, as a :class:`qness.gaussian.QuadraticModel`.

    Jordan-Wigner with ``c_i = (prod_{l<i} (-sigma^z_l)) sigma^-_i`` (occupied
    = spin up). Each Hamiltonian term is expanded in the local basis ``(1,
    sigma^z, sigma^+, sigma^-)``:

    * ``sigma^z_i`` (on-site or in a bond term) is ``2 n_i - 1``: an on-site
      energy ``2 n_i``;
    * ``sigma^+_i sigma^-_(i+1)`` is the hopping ``c_i^+ c_(i+1)`` (and its
      conjugate);
    * ``sigma^z_i sigma^z_(i+1) = (2 n_i - 1)(2 n_(i+1) - 1)`` is the
      interaction and is **dropped** (its Hartree decoupling at half filling
      vanishes; for ``Delta != 0`` the Gaussian state is only a start);
    * anything else (pairing ``sigma^+ sigma^+``, a transverse field, terms
      odd in the fermions) is not number conserving or not quadratic: error.

    Jumps must act on one site: ``sigma^-`` (loss) and ``sigma^+`` (gain)
    on the first or last site only (elsewhere the Jordan-Wigner string makes
    them non-quadratic; at the last site ``sigma^-`` equals ``c`` times the
    total parity, which leaves the parity-even sector holding the NESS
    unchanged), and diagonal jumps ``a + b sigma^z`` anywhere (dephasing of
    ``n_i`` at rate ``4 |b|^2 rate``, plus the on-site energy of the
    Hamiltonian part of such a jump). Dephasing is kept: the two-point
    function it gives is exact (:mod:`qness.gaussian`), the state built from
    it is not.

    Parameters
    ----------
    model : LindbladModel with ``.terms``, or qness.terms.ChainTerms
        A chain of spin-1/2 sites (local dimension 2).

    Returns
    -------
    qness.gaussian.QuadraticModel
        Fermionic, on ``n`` modes.

    Raises
    ------
    ValueError
        If a site is not two-dimensional or a term or jump is not of the
        forms above (the message names it).
    TypeError
        If ``model`` is not a chain model or a ChainTerms.
    """
    from ..gaussian import QuadraticModel
    from ._solver import chain_terms

    terms = chain_terms(model)
    n = terms.n_sites
    if any(d != 2 for d in terms.dims):
        raise ValueError(
            f"quadratic_part needs spin-1/2 sites (local dimension 2), got dims {terms.dims}; "
            "the Gaussian start is defined for Jordan-Wigner fermions only"
        )
    h = np.zeros((n, n), dtype=np.complex128)
    gain, loss, deph = np.zeros(n), np.zeros(n), np.zeros(n)
    atol = 1e-12

    def bad(kind, k, what):
        raise ValueError(
            f"quadratic_part: {kind} {k} {what}; the Gaussian start needs number-conserving hopping "
            "(sigma^+ sigma^-), sigma^z fields and sigma^z sigma^z (dropped), gain/loss jumps on the "
            "end sites and diagonal (dephasing) jumps"
        )

    onsite = [np.zeros((2, 2), dtype=np.complex128) for _ in range(n)]
    bonds = [np.zeros((4, 4), dtype=np.complex128) for _ in range(n - 1)]
    for t in terms.hamiltonian:  # sum first: e.g. sigma^x sigma^x + sigma^y sigma^y has no pairing part
        if len(t.sites) == 1:
            onsite[t.sites[0]] += t.coeff * t.ops[0]
        else:
            bonds[t.sites[0]] += t.coeff * np.kron(t.ops[0], t.ops[1])
    for i in range(n):
        a = _coeffs1(onsite[i])
        if max(abs(a[2]), abs(a[3])) > atol:
            bad("the on-site Hamiltonian", i, "has a transverse (sigma^+/sigma^-) part")
        h[i, i] += 2 * a[1]
    allowed = {(0, 0), (1, 0), (0, 1), (1, 1), (2, 3), (3, 2)}
    for i in range(n - 1):
        j = i + 1
        K = _coeffs2(bonds[i])
        for p in range(4):
            for q in range(4):
                if (p, q) not in allowed and abs(K[p, q]) > atol:
                    bad("the Hamiltonian bond", (i, j), f"has a {_NAMES[p]} x {_NAMES[q]} part")
        h[i, i] += 2 * K[1, 0]
        h[j, j] += 2 * K[0, 1]
        h[i, j] += K[2, 3]  # sigma^+_i sigma^-_j = c_i^+ c_j
        h[j, i] += K[3, 2]  # sigma^-_i sigma^+_j = c_j^+ c_i
    for k, jmp in enumerate(terms.jumps):
        if jmp.rate == 0:
            continue
        if len(jmp.sites) != 1:
            bad("jump", k, f"acts on two sites {jmp.sites}")
        (i,) = jmp.sites
        a, b, cp, cm = _coeffs1(jmp.ops[0])
        r = jmp.rate
        if abs(cp) > atol or abs(cm) > atol:
            if abs(a) > atol or abs(b) > atol or (abs(cp) > atol and abs(cm) > atol):
                bad("jump", k, f"on site {i} mixes sigma^+/sigma^- with other operators")
            if i not in (0, n - 1):
                bad("jump", k, f"is a sigma^+/sigma^- jump on the inner site {i} (Jordan-Wigner string)")
            if abs(cp) > atol:
                gain[i] += r * abs(cp) ** 2
            else:
                loss[i] += r * abs(cm) ** 2
            continue
        # diagonal jump A = a + b sigma^z = (a - b) + 2 b n: D[A] = 4|b|^2 D[n] - i[H', .],
        # H' = -Im(conj(a - b) 2 b) n (per unit rate)
        deph[i] += r * 4 * abs(b) ** 2
        h[i, i] += -r * np.imag(np.conj(a - b) * 2 * b)
    h = 0.5 * (h + h.conj().T)  # the sum of the terms is Hermitian; remove rounding
    return QuadraticModel(h, gain=gain, loss=loss, dephasing=deph)


def _givens(a: complex, b: complex) -> np.ndarray:
    """Unitary ``g`` with ``g @ [a, b] = [r, 0]``, ``r = sqrt(|a|^2 + |b|^2)``."""
    r = np.hypot(abs(a), abs(b))
    if r == 0:
        return np.eye(2, dtype=np.complex128)
    return np.array([[np.conj(a), np.conj(b)], [-b, a]], dtype=np.complex128) / r


def _fishman_white(P: np.ndarray, eps: float):
    """Nearest-neighbour Givens rotations ``G`` with ``G P G^+`` diagonal (Fishman-White).

    ``P`` is the projector onto the occupied orbitals of a Slater determinant
    (``P_kj = <f_j^+ f_k>``). At each mode ``i`` the window ``[i, i + w)`` grows
    until its block of ``P`` has an eigenvalue within ``eps`` of 0 or 1 (or
    the window reaches the end); that eigenvector is rotated onto mode ``i``
    by Givens rotations on neighbouring pairs. Returns the rotations in the
    order applied, ``[(j, g), ...]`` (``g`` acting on modes ``j, j+1``), the
    diagonal occupations, and the largest deviation from 0/1 accepted.
    """
    P = P.copy()
    N = P.shape[0]
    gates = []
    worst = 0.0
    for i in range(N - 1):
        w = 2
        while True:
            hi = min(i + w, N)
            lam, V = np.linalg.eigh(P[i:hi, i:hi])
            dev = np.minimum(np.abs(lam), np.abs(1 - lam))
            k = int(np.argmin(dev))
            if dev[k] <= eps or hi == N:
                break
            w += 2
        worst = max(worst, float(dev[k]))
        v = V[:, k].copy()
        for j in range(hi - 1, i, -1):  # zero v[j] against v[j-1]
            g = _givens(v[j - i - 1], v[j - i])
            v[j - i - 1 : j - i + 1] = g @ v[j - i - 1 : j - i + 1]
            P[j - 1 : j + 1, :] = g @ P[j - 1 : j + 1, :]
            P[:, j - 1 : j + 1] = P[:, j - 1 : j + 1] @ g.conj().T
            gates.append((j - 1, g))
    occ = np.real(np.diag(P))
    worst = max(worst, float(np.max(np.minimum(np.abs(occ), np.abs(1 - occ)))))
    return gates, occ, worst


def _gate_matrix(g: np.ndarray) -> np.ndarray:
    """Two-qubit matrix (``(j, j+1)``, index ``2 q_j + q_(j+1)``, 0 = occupied) of the mode rotation ``g``."""
    U = np.zeros((4, 4), dtype=np.complex128)
    U[0, 0] = np.linalg.det(g)  # both occupied
    U[3, 3] = 1.0  # both empty
    U[1:3, 1:3] = g  # one particle: |occ, emp> = f_j^+, |emp, occ> = f_(j+1)^+
    return U


class _Chain:
    """An MPS as a list of ``(left, phys, right)`` arrays with an orthogonality centre (gate applier)."""

    def __init__(self, arrays):
        self.A = arrays
        self.center = 0
        self.discarded = 0.0

    def move(self, to):
        from ._solver import move_center

        self.center = move_center(self.A, self.center, to)

    def apply(self, j, U, cutoff):
        """Apply the two-site matrix ``U`` to sites ``(j, j+1)``; drop relative weight ``<= cutoff``."""
        self.move(j)
        A = self.A
        l, d1, _ = A[j].shape
        _, d2, r = A[j + 1].shape
        theta = np.tensordot(A[j], A[j + 1], axes=(2, 0))
        theta = np.tensordot(U.reshape(d1, d2, d1, d2), theta, axes=([2, 3], [1, 2]))
        theta = theta.transpose(2, 0, 1, 3).reshape(l * d1, d2 * r)
        Uu, s, Vh = np.linalg.svd(theta, full_matrices=False)
        w = s**2
        tail = np.cumsum(w[::-1])[::-1] / w.sum()  # tail[k] = weight of s[k:]
        keep = max(1, int(np.count_nonzero(tail > cutoff)))
        self.discarded += float(tail[keep]) if keep < len(s) else 0.0
        A[j] = Uu[:, :keep].reshape(l, d1, keep)
        A[j + 1] = (s[:keep, None] * Vh[:keep]).reshape(keep, d2, r)
        self.center = j + 1

    def amplitude(self, config) -> complex:
        env = np.ones(1, dtype=np.complex128)
        for a, x in zip(self.A, config):
            env = env @ a[:, x, :]
        return complex(env[0])


def _slater_mps(Q: np.ndarray, eps: float, cutoff: float):
    """MPS (2n qubits, JW, 0 = occupied) of ``prod_k (sum_m Q_mk f_m^+) |vac>``, ``Q`` orthonormal."""
    N, npart = Q.shape
    gates, occ, worst = _fishman_white(Q @ Q.conj().T, eps)
    # product state of the rotated modes, then the inverse rotations in reverse order
    arrays = []
    for m in range(N):
        a = np.zeros((1, 2, 1), dtype=np.complex128)
        a[0, 0 if occ[m] > 0.5 else 1, 0] = 1.0
        arrays.append(a)
    ch = _Chain(arrays)
    for j, g in reversed(gates):
        ch.apply(j, _gate_matrix(g.conj().T), cutoff)
    # fix the global phase with one exact amplitude: <x|Q> = det Q[rows, :] (rows ascending)
    import scipy.linalg as sla

    piv = np.sort(sla.qr(Q.T, pivoting=True, mode="r")[1][:npart])
    config = np.ones(N, dtype=int)
    config[piv] = 0
    phase = np.linalg.det(Q[piv, :]) / ch.amplitude(config)
    return ch, phase, worst


def _super_fermion_mps(C: np.ndarray, eps: float, cutoff: float):
    r"""``vec(rho)`` (unnormalised) of the Gaussian state with ``<c_i^+ c_j> = C_ij`` as site arrays.

    The doubled chain of ``2n`` qubits ``(a_0, b_0, a_1, b_1, ...)`` (``a``:
    row/ket, ``b``: column/bra of ``rho``) carries ``vec(rho) = (rho kron 1)
    vec(1)``. With ``X_b`` (a spin flip on every bra qubit) ``X_b vec(1) =
    prod_i (f_(a_i)^+ + f_(b_i)^+) |vac>`` in the Jordan-Wigner fermions ``f``
    of the doubled chain, and the diagonal ``W = prod_(l<i)
    (-1)^(n_(a_i) n_(b_l))`` maps the ket fermions ``c_i`` to ``f_(a_i)``, so
    ``W rho_ket W = exp(f_a^+ M f_a)`` with ``e^M = C^T (1 - C^T)^-1``. On
    states with one particle per pair ``W = (-1)^(sum_i i n_(a_i))
    (-1)^(N_a (N_a - 1)/2)`` and ``(-1)^(k(k-1)/2) = sum_(s=+-1) e^(-i s pi/4)
    (i s)^k / sqrt(2)``: ``W X_b vec(rho)`` is the sum of two Slater
    determinants, each built by Fishman-White; ``W`` (a bond-2 MPO) and
    ``X_b`` are undone exactly on the summed MPS.
    """
    n = C.shape[0]
    N = 2 * n
    Ct = C.T
    E = Ct @ np.linalg.inv(np.eye(n) - Ct)  # e^M, M = logit(C^T)
    total = None
    worst = 0.0
    discarded = 0.0
    for s in (1, -1):
        Phi = np.zeros((N, n), dtype=np.complex128)
        for i in range(n):
            Phi[2 * i, i] = 1j * s * (-1) ** i
            Phi[2 * i + 1, i] = 1.0
        Phi[0::2, :] = E @ Phi[0::2, :]
        Q, R = np.linalg.qr(Phi)
        ch, phase, w = _slater_mps(Q, eps, cutoff)
        worst = max(worst, w)
        discarded += ch.discarded
        coef = np.exp(-1j * s * np.pi / 4) / np.sqrt(2) * np.linalg.det(R) * phase
        ch.move(0)
        ch.A[0] = ch.A[0] * coef
        # merge qubit pairs (a_i, b_i) into 4-dim sites, undo X_b, local index a + 2 b
        sites = []
        for i in range(n):
            t = np.tensordot(ch.A[2 * i], ch.A[2 * i + 1], axes=(2, 0))  # (l, a, b', r)
            t = t[:, :, ::-1, :]  # X_b: b = 1 - b'
            sites.append(t.transpose(0, 2, 1, 3).reshape(t.shape[0], 4, t.shape[3]))  # index 2 b + a
        # undo W (W^-1 = W, applied before X_b): phase (-1)^(n_(a_i) p), p the parity of the flipped
        # bra occupations n_(b'_l) on the sites to the left; occupied = index 0, so n_a = 1 - a and
        # n_(b') = 1 - b' = b
        out = []
        for i, t in enumerate(sites):
            l, _, r = t.shape
            x = np.zeros((2, l, 4, 2, r), dtype=np.complex128)
            for p in range(2):
                for k in range(4):
                    a, b = k % 2, k // 2
                    sign = -1.0 if (p and a == 0) else 1.0
                    x[p, :, k, p ^ b, :] = sign * t[:, k, :]
            x = x.reshape(2 * l, 4, 2 * r)
            if i == 0:
                x = x[:l]  # p = 0 on the left
            if i == n - 1:
                x = x.reshape(-1, 4, 2, r).sum(axis=2)  # any parity on the right
            out.append(x)
        psi = qtn.MatrixProductState([out[0][0]] + out[1:-1] + [out[-1][..., 0]], shape="lpr")
        total = psi if total is None else total.add_MPS(psi)
    return total, worst, discarded


def gaussian_mps(C, *, cutoff=1e-14, eps=1e-12) -> qtn.MatrixProductState:
    r"""``vec(rho)`` of the number-conserving fermionic Gaussian state with two-point function ``C``.

    The state on ``n`` spin-1/2 sites (Jordan-Wigner, see
    :func:`qness.tn.quadratic_part`) with ``<c_i^+ c_j> = C_ij``, as an MPS on sites
    of dimension 4 (column-stacked local index ``a_i + 2 b_i``, as
    everywhere in :mod:`qness.tn`), normalised to ``Tr rho = 1``.

    Construction (exact up to ``eps`` and ``cutoff``): ``vec(rho) = (rho
    kron 1) vec(1)`` on the doubled chain of ``2n`` qubits (ket and bra of
    each site) is, after a spin flip of the bra qubits and a diagonal sign
    change (both undone exactly at the end), the sum of two Slater
    determinants of ``n`` particles in ``2n`` modes (super-fermion
    representation). Each is built as an MPS by the Fishman-White algorithm
    (PRB 92, 075132 (2015)): nearest-neighbour Givens rotations that
    diagonalise its correlation matrix, applied in reverse to a product
    state with SVD truncation. Neighbouring qubits are then merged into the
    4-dimensional sites and the sum is compressed.

    Parameters
    ----------
    C : array_like, shape (n, n)
        Hermitian two-point function with eigenvalues strictly inside ``(0,
        1)`` (e.g. ``qness.gaussian.steady_state(qm).C``).
    cutoff : float, optional
        Relative discarded weight (sum of the dropped squared singular
        values over their total) allowed per gate and in the final
        compression; default ``1e-14``.
    eps : float, optional
        Fishman-White tolerance: a mode is split off when its window has an
        eigenvalue within ``eps`` of 0 or 1 (default ``1e-12``).

    Returns
    -------
    quimb.tensor.MatrixProductState
        ``vec(rho)``, ``n`` sites of dimension 4, ``Tr rho = 1``.

    Raises
    ------
    ValueError
        If ``C`` is not square and Hermitian, has fewer than 2 modes, or has
        an eigenvalue outside ``(0, 1)`` (a pure mode: ``e^M`` does not
        exist).
    """
    C = np.asarray(C, dtype=np.complex128)
    if C.ndim != 2 or C.shape[0] != C.shape[1] or C.shape[0] < 2:
        raise ValueError(f"C must be a square n x n matrix with n >= 2, got shape {C.shape}")
    if not np.all(np.isfinite(C)) or np.abs(C - C.conj().T).max() > 1e-10 * np.abs(C).max():
        raise ValueError("C must be finite and Hermitian")
    C = 0.5 * (C + C.conj().T)
    nu = np.linalg.eigvalsh(C)
    if nu.min() <= 1e-12 or nu.max() >= 1 - 1e-12:
        raise ValueError(
            f"C must have eigenvalues strictly inside (0, 1), got [{nu.min():.3g}, {nu.max():.3g}]"
        )
    n = C.shape[0]
    psi, worst, discarded = _super_fermion_mps(C, eps, cutoff)
    psi.compress(form="right", cutoff=cutoff, cutoff_mode="rsum2")
    from ._solver import _normalise

    psi = _normalise(psi, [2] * n)
    psi.fw_deviation = worst  # largest accepted Fishman-White deviation from 0/1
    psi.fw_discarded = discarded
    return psi
