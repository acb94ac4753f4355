"""The ``t -> infinity`` state reached from an initial state, unique steady state or not.

The kernel of a Liouvillian is spanned by steady states ``rho_1 .. rho_k``;
the kernel of its adjoint by conserved quantities ``J_1 .. J_k``
(``d/dt Tr(J_i^+ rho) = 0``), normalised so that ``Tr(J_i^+ rho_j) = delta_ij``.
The zero eigenvalue of a Lindblad generator is semisimple, so

    rho_inf = sum_i Tr(J_i^+ rho0) rho_i = P_0 rho0,

with ``P_0`` the spectral projector on the kernel. Both kernels come from a
few solves with one sparse LU of ``L - s`` (block inverse iteration with a
small shift ``s``), never from integrating over times of order ``1/gap``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..liouvillian import liouvillian
from ..model import SuperoperatorModel, as_model
from ..operators import check_qobj_dims
from .errors import ConvergenceError, InsufficientMemoryError, UniquenessWarning
from .result import NESS
from .spectrum import ZERO_TOLERANCE

__all__ = ["asymptotic_state"]


def _check_rho0_dims(rho0, model) -> None:
    """ValueError if the ``Qobj`` ``rho0`` has the model's size but other tensor factors.

    The same check as ``NESS.expect`` and ``correlation``: a ``Qobj`` on one
    flat space of the right size is accepted on a chain model and vice versa;
    a model with its own QuTiP dims (e.g. ENR) must match them exactly.
    """
    check_qobj_dims(rho0, model.dims, getattr(model, "qobj_dims", None), name="rho0", owner="the model")


def _memory_need(model, d: int) -> float:
    """Bytes for the full ``d^2 x d^2`` Liouvillian and a few work vectors."""
    if isinstance(model, SuperoperatorModel):  # the matrix is given: no H_eff to count entries from
        nf = float(d) * d
        return 20.0 * model.L.nnz + 8 * 16.0 * nf
    from ..symmetry import full_sector
    from .methods import Evolve
    from .steady import memory_estimate

    return memory_estimate(model, full_sector(d), Evolve())[0]


#: Largest ``||rho0 - rho0^+||_F`` and ``-lambda_min(rho0)``, relative to ``||rho0||_F``, accepted
#: from an initial state: rounding of a state computed elsewhere (mesolve, a product of Qobj), not
#: a coherence or population of the wrong sign.
RHO0_TOLERANCE = 1e-8


def _positive_semidefinite(rho: np.ndarray, tol: float) -> bool:
    """Whether the Hermitian ``rho`` has no eigenvalue below ``-tol``: a Cholesky factorisation of
    ``rho + tol 1`` exists (a third of the work of ``eigvalsh``)."""
    try:
        sla.cholesky(rho + tol * np.eye(rho.shape[0]), lower=True, check_finite=False)
    except sla.LinAlgError:
        return False
    return True


def initial_density_matrix(rho0, d: int, name: str = "rho0") -> np.ndarray:
    """``rho0`` as a ``d x d`` density matrix of trace 1 (a ket ``psi`` as ``|psi><psi|``).

    Shared by :func:`asymptotic_state` and ``Evolve(rho0=...)``. ``rho0`` must
    be Hermitian and positive semi-definite up to :data:`RHO0_TOLERANCE`
    relative to its Frobenius norm; its trace is then positive and it is
    divided by it (an unnormalised state is accepted). The Hermitian part is
    returned, so rounding does not leak into the result.

    Raises
    ------
    TypeError
        If ``rho0`` is not array-like.
    ValueError
        On a wrong shape, non-finite entries, a zero matrix, or a matrix that
        is not Hermitian or not positive semi-definite (not a state: the
        limit of ``exp(L t) rho0`` would not be one either).
    """
    if hasattr(rho0, "full") and callable(rho0.full):
        rho0 = rho0.full()
    try:
        rho0 = np.asarray(rho0, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a density matrix or a ket (array or Qobj), got {type(rho0)}"
        ) from exc
    if rho0.shape in ((d,), (d, 1)):
        psi = rho0.ravel()
        rho0 = np.outer(psi, psi.conj())
    if rho0.shape != (d, d):
        raise ValueError(
            f"{name} must be a {d} x {d} density matrix or a ket of length {d}, got {rho0.shape}"
        )
    if not np.all(np.isfinite(rho0)):
        raise ValueError(f"{name} has non-finite entries")
    scale = float(np.linalg.norm(rho0))
    if scale == 0.0:
        raise ValueError(f"{name} is zero: it must have a non-zero trace (a density matrix)")
    herm = float(np.linalg.norm(rho0 - rho0.conj().T))
    if herm > RHO0_TOLERANCE * scale:
        raise ValueError(
            f"{name} is not Hermitian (||{name} - {name}^+|| = {herm:.3g} against ||{name}|| = {scale:.3g}), "
            f"so it is not a density matrix; pass a state, e.g. |psi><psi| or a mixture of such, or "
            "the ket psi itself"
        )
    rho0 = 0.5 * (rho0 + rho0.conj().T)
    if not _positive_semidefinite(rho0, RHO0_TOLERANCE * scale):
        lmin = float(np.linalg.eigvalsh(rho0)[0])
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue {lmin:.3g} against ||{name}|| = "
            f"{scale:.3g}), so it is not a density matrix; pass a state (e.g. qutip.ket2dm(psi))"
        )
    return rho0 / np.trace(rho0).real


def _factor(B: sp.csr_array):
    """``(solve, solve_h)`` for ``B`` (dense LU when small, else UMFPACK or SuperLU)."""
    from .steady import _have_umfpack, _umfpack_factor

    n = B.shape[0]
    if n <= 1500:
        lu = sla.lu_factor(B.toarray(), check_finite=False)
        return (
            lambda X: sla.lu_solve(lu, X, check_finite=False),
            lambda X: sla.lu_solve(lu, X, trans=2, check_finite=False),
        )
    if _have_umfpack():
        f = _umfpack_factor(B)

        def cols(X, trans):
            return np.column_stack([f(X[:, j], trans) for j in range(X.shape[1])])

        return (lambda X: cols(X, "N")), (lambda X: cols(X, "C"))
    lu = spla.splu(
        sp.csc_matrix(B), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.1, options={"SymmetricMode": True}
    )
    return (lambda X: lu.solve(X)), (lambda X: lu.solve(X, trans="H"))


def _kernel(L, threshold, solve, n: int, block: int, rng, iterations: int):
    """Orthonormal basis of the kernel of ``L`` by block inverse iteration and the Ritz pairs of the block.

    A Ritz pair ``(theta, v)`` (``||v|| = 1``) is a zero mode when ``|theta| <= threshold(V)`` for its
    column of ``V`` (:func:`asymptotic_state`: ``zero_tol`` times the scale of ``L`` on the states where
    ``v`` lives, or at least the rounding of ``L``'s entries there).

    Returns ``(basis, ritz, thr, local, rounding)``: the kernel basis, the block's Ritz values (kernel
    ones first), their thresholds, the scales of ``L`` on them and the rounding of ``L``'s entries
    there (``threshold``'s three outputs).
    """
    p = min(block, n)
    while True:
        X = rng.standard_normal((n, p)) + 1j * rng.standard_normal((n, p))
        X, _ = sla.qr(X, mode="economic")
        for _ in range(iterations):
            X, _ = sla.qr(solve(X), mode="economic")
        T = X.conj().T @ (L @ X)
        ritz, Y = sla.eig(T)
        V = X @ Y
        V /= np.linalg.norm(V, axis=0)
        thr, local, rounding = threshold(V)
        zero = np.abs(ritz) <= thr
        order = np.argsort(~zero, kind="stable")
        ritz, thr, local, rounding, zero = ritz[order], thr[order], local[order], rounding[order], zero[order]
        k = int(np.count_nonzero(zero))
        if k < p or p == n:
            # the basis from the ordered Schur form (stable for a degenerate kernel, where the
            # eigenvectors of T can be nearly parallel), cut between the zero and the other moduli;
            # where no cut separates them, the zero modes' eigenvectors orthonormalised
            top = float(np.max(np.abs(ritz[:k]), initial=0.0))
            low = float(np.min(np.abs(ritz[k:]), initial=np.inf))
            sdim = -1
            if k and top < low:
                cut = np.sqrt(max(top, 1e-300) * low) if np.isfinite(low) else np.inf
                _, Z, sdim = sla.schur(T, output="complex", sort=lambda z, cut=cut: abs(z) <= cut)
            if sdim == k:
                return X @ Z[:, :k], ritz, thr, local, rounding
            basis = sla.qr(V[:, order[:k]], mode="economic")[0] if k else V[:, :0]
            return basis, ritz, thr, local, rounding
        p = min(2 * p, n)  # the whole block is kernel: the kernel may be larger


def _uncancelled(model, absL):
    """``|L|`` before its terms cancel: ``|H| x I + I x |H| + sum_k rate_k (|A_k| x |A_k| + 1/2 I x M_k
    + 1/2 M_k x I)`` with ``M_k = |A_k|^T |A_k|`` (Kronecker products in column stacking, entries
    taken in modulus), which bounds the rounding of the modes computed through the LU of ``L``: a
    Hermitian jump's ``A x A`` and anticommutator cancel on the populations (dephasing ``sigma_z`` at
    rate ``1e5``: ``L`` is zero there, exactly since session 21, :func:`qness.liouvillian.exact_diagonal`,
    but the solves with its coherences' entries of ``1e5`` round at ``eps x 1e5``: the kernel vectors'
    residuals reach 3e-11 at ``g = 1e5``). ``None`` for a Liouvillian given as a matrix (its terms
    are not known: the caller takes ``||L||_1``)."""
    if isinstance(model, SuperoperatorModel):
        return None
    d = model.dim
    eye = sp.eye_array(d, dtype=float, format="csr")
    aH = sp.csr_array(abs(sp.csr_array(model.H)))
    U = sp.kron(eye, aH) + sp.kron(aH.T, eye)
    for j in model.jumps:
        if j.rate > 0:
            a = sp.csr_array(abs(sp.csr_array(j.op)))
            M = sp.csr_array(a.T @ a)
            U = U + j.rate * (sp.kron(a, a) + 0.5 * sp.kron(eye, M) + 0.5 * sp.kron(M.T, eye))
    return sp.csr_array(U)


#: A Ritz value within ``ROUNDING_FACTOR x eps x || U |v| ||`` of zero (``U`` the modulus of ``L``'s
#: terms before they cancel, :func:`_uncancelled`) is zero to the precision ``L``'s entries carry.
#: Measured on the XX chain of 4 sites with dephasing ``sigma_z`` at rate ``g`` (session-20 review:
#: refused before for ``g >= 1e5``): the exact zero modes at ``0.16 eps || U |v| ||`` (``g = 1e5``),
#: the slowest true rate ``3e-7`` at ``g = 1e6`` 16x above the threshold; at ``g = 1e7`` the true
#: rate ``3e-8`` is at the rounding itself (flagged by the UniquenessWarning).
ROUNDING_FACTOR = 10.0


#: Default ``zero_tol`` of :func:`asymptotic_state`: the resolution at which :func:`qness.spectrum`
#: calls an eigenvalue zero (``ZERO_TOLERANCE``) and above which the LU routes of
#: :func:`qness.steady_state` certify uniqueness. It was 1e-10: a Kerr cat whose bit flip decays at
#: 4.7e-9 (``||L||_1`` = 2000, so 2.3e-12 of it; found by ``liouvillian_gap``, and ``steady_state``
#: certified the unique state) got two "conserved quantities" and a state 0.13 away from the limit
#: (new-user review, session 12).
ZERO_TOL = ZERO_TOLERANCE

#: The scale of ``L`` on a mode is taken at least this fraction of a typical population row's largest
#: entry (:func:`asymptotic_state`).
LOCAL_FLOOR = 1e-3

#: A mode within this factor of the threshold (either side) is flagged: whether it counts as
#: conserved depends on ``zero_tol``.
ZERO_TOL_MARGIN = 10.0


def asymptotic_state(model, rho0, *, zero_tol: float = ZERO_TOL, block: int = 4, iterations: int = 6) -> NESS:
    """The ``t -> infinity`` limit of ``rho(t) = exp(L t) rho0``, unique steady state or not.

    Computed from the kernels of ``L`` and of its adjoint (steady states
    ``rho_i`` and conserved quantities ``J_i``, biorthonormal:
    ``Tr(J_i^+ rho_j) = delta_ij``) as
    ``rho_inf = sum_i Tr(J_i^+ rho0) rho_i``, the spectral projection of
    ``rho0`` on the kernel. Costs one sparse LU of ``L - s`` (``s`` a small
    shift) and a few block solves, independent of the gap (``Evolve`` takes
    a time of order ``1/gap``).

    Parameters
    ----------
    model : LindbladModel, SuperoperatorModel, tuple (H, c_ops) or Liouvillian
        The master equation (hbar = 1, ``L_k = sqrt(rate_k) A_k``; QuTiP
        objects accepted), or its Liouvillian (``qutip.liouvillian(H,
        c_ops)``, a ``Qobj`` of type ``"super"`` or a ``d^2 x d^2`` matrix in
        column stacking; see :func:`qness.as_model`): only ``L`` is used.
    rho0 : array_like or qutip.Qobj
        Initial density matrix (``d x d``) or ket ``psi`` (length ``d``,
        taken as ``|psi><psi|``). It must be Hermitian and positive
        semi-definite (to :data:`RHO0_TOLERANCE` relative to its norm); it is
        normalised to trace 1. A ``Qobj`` must have the model's tensor
        factors (as ``NESS.expect`` requires).
    zero_tol : float
        A mode (Ritz pair ``(lambda, v)``, ``||v|| = 1``) counts as zero when
        ``|lambda| <= zero_tol * s(v)``, with ``s(v) = || |L| |v| ||`` the
        scale of ``L`` on the states where the mode lives (at least
        :data:`LOCAL_FLOOR` times a typical population row's largest entry):
        relaxation slower than ``zero_tol`` times the rates around it is
        treated as conservation. Until session 16 the scale was ``||L||_1``,
        which huge entries in rows the state never reaches (the energies of a
        truncated mode's top Fock states) or strong dephasing of coherences
        set: slow modes were taken for conserved quantities. The default,
        :data:`ZERO_TOL` = 1e-12, is the resolution of the uniqueness checks
        of :func:`qness.steady_state` (on rows scaled to a largest entry of
        1). A larger value projects on a metastable manifold (modes slower
        than the threshold kept, not decayed).
    block : int
        Initial block size of the inverse iteration (doubled while the whole
        block is kernel).
    iterations : int
        Steps of block inverse iteration.

    Returns
    -------
    NESS
        ``.rho`` (``d x d``, trace 1), ``.residual = ||L vec(rho)||_2``,
        ``.info`` with ``kernel_dim`` (number of independent steady states),
        ``steady`` (a basis of the kernel: ``d x d`` matrices, orthonormal as
        vectors, not normalised states), ``conserved`` (``d x d`` matrices
        ``J_i`` with ``Tr(J_i^+ steady_j) = delta_ij``), ``slowest_rate``
        (``|lambda|`` of the slowest mode counted as decaying among those the
        inverse iteration resolved, ``None`` if none), ``slowest_scale`` (the
        scale ``s(v)`` of ``L`` on that mode, see ``zero_tol``), ``slowest_threshold`` (the rate
        below which it would have counted as zero: ``zero_tol s(v)``, or the rounding of ``L``'s
        entries on it where that is larger, see Notes), ``shift``
        (of the LU: ``10 zero_tol`` times a typical population row's largest
        entry), ``time``.

    Raises
    ------
    ValueError
        If ``rho0`` has the wrong shape or non-finite entries, is zero, is not
        Hermitian or not positive semi-definite, or is a ``Qobj`` whose
        tensor factors differ from the model's (e.g. dims ``[[3, 2], [3, 2]]``
        for a ``[2, 3]`` model).
    TypeError
        If ``rho0`` is not array-like, or ``model`` is not a model (see
        :func:`qness.as_model`).
    InsufficientMemoryError
        If the sparse LU of the full ``d^2 x d^2`` Liouvillian would not fit.
    ConvergenceError
        If no mode is zero (the message gives the smallest ratio
        ``|lambda| / s(v)`` found: rounding inside ``L``'s entries, e.g.
        Hermitian jumps with large rates, can leave the steady state above
        ``zero_tol``), or the kernels found do not satisfy
        ``||L r|| <= 10 zero_tol s(r)`` (increase ``iterations``).

    Warns
    -----
    UniquenessWarning
        When a mode's ``|lambda|`` lies within a factor
        :data:`ZERO_TOL_MARGIN` of ``zero_tol * s(v)``: whether it counts
        as conserved (and so the state returned) depends on ``zero_tol``.

    Notes
    -----
    Works in the full space (a conserved quantity may couple symmetry
    sectors). If ``L`` has eigenvalues ``i omega != 0`` (persistent
    oscillations, e.g. an undamped mode), ``rho(t)`` has no limit and the
    result is its time average ``lim (1/T) int_0^T rho(t) dt``.

    Where no mode is zero at ``zero_tol``, those within the rounding that
    ``L``'s entries carry on them, ``ROUNDING_FACTOR x eps x || U |v| ||``
    with ``U`` the modulus of ``L``'s terms before they cancel
    (:data:`ROUNDING_FACTOR`), are taken as the kernel, with a
    ``UniquenessWarning``: strong dephasing ``sigma_z`` at rate ``g`` leaves
    ``L`` zero on the populations only up to ``eps g``, above ``zero_tol``
    times the hopping that moves them once ``g / J > 1e4``; a true rate
    below that rounding cannot be told from zero in double precision. The
    kernel vectors' residuals are judged against the same rounding.

    Examples
    --------
    Two qubits under collective decay with a dark singlet:

    >>> import numpy as np, qutip, qness
    >>> sm = qutip.sigmam()
    >>> s1, s2 = qutip.tensor(sm, qutip.qeye(2)), qutip.tensor(qutip.qeye(2), sm)
    >>> model = (0.35 * (s1 + s1.dag() + s2 + s2.dag()), [s1 + s2])
    >>> eg = qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 1))
    >>> rho = qness.asymptotic_state(model, eg).rho
    >>> S = (eg - qutip.tensor(qutip.basis(2, 1), qutip.basis(2, 0))).unit().full().ravel()
    >>> round(float(np.real(S.conj() @ rho @ S)), 12)
    0.5
    """
    from .steady import available_memory, envelope_estimate

    t0 = time.perf_counter()
    model = as_model(model)
    d = model.dim
    if not (np.isfinite(zero_tol) and 0 < zero_tol < 1):
        raise ValueError(f"zero_tol must be in (0, 1), got {zero_tol!r}")
    for name, val in (("block", block), ("iterations", iterations)):
        if not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    avail = available_memory()
    need = _memory_need(model, d)  # the full L and a few vectors
    if need > 0.5 * avail:
        raise InsufficientMemoryError(
            f"asymptotic_state: the full {d * d}-unknown Liouvillian alone needs about "
            f"{need / 2**30:.3g} GiB "
            f"with {avail / 2**30:.3g} GiB available; if the steady state is unique, "
            "qness.steady_state(model) (symmetry sector, matrix-free Krylov) gives the same state",
            required=need,
            available=avail,
        )
    _check_rho0_dims(rho0, model)
    rho0 = initial_density_matrix(rho0, d)
    L = sp.csr_array(liouvillian(model))
    n = L.shape[0]
    _, mem = envelope_estimate(L)
    if mem > 0.5 * avail:
        raise InsufficientMemoryError(
            f"asymptotic_state: the LU of the full {n}-unknown Liouvillian is estimated at up to "
            f"{mem / 2**30:.3g} GiB with {avail / 2**30:.3g} GiB available; if the steady state is "
            "unique, qness.steady_state(model) (symmetry sector, matrix-free Krylov) gives the same state",
            required=mem,
            available=avail,
        )
    # the shift (L - s is not singular) and the scale of "zero" follow the population rows of L,
    # not ||L||_1: a mode with (a^+)^8 a^8 at cutoff 60 has ||L||_1 = 9e13 from Fock states its
    # steady state never reaches, and a shift of 10 x 1e-12 x ||L||_1 = 894 mixed the kernel with
    # every mode slower than that (116 "steady states", the vacuum returned; new-user review)
    absL = sp.csr_array(abs(L))
    pops = np.arange(d) * (d + 1)
    rows = np.asarray(absL[pops].max(axis=1).todense()).ravel()
    typical = float(np.median(rows[rows > 0])) if np.any(rows > 0) else float(spla.norm(L, 1)) or 1.0
    shift = 10 * zero_tol * typical
    floor = LOCAL_FLOOR * typical
    B = sp.csr_array(L - shift * sp.eye_array(n, dtype=np.complex128, format="csr"))
    solve, solve_h = _factor(B)
    eps = np.finfo(float).eps
    U = _uncancelled(model, absL)

    norm1 = float(spla.norm(L, 1)) if U is None else None

    def thresholds(absM, absU, band):
        # zero_tol x the scale of L on the mode; with band, at least the rounding L's entries carry there
        # (normwise for a Liouvillian given as a matrix: which terms cancelled in it is not known)
        def thr(V):
            aV = np.abs(V)
            local = np.maximum(np.linalg.norm(absM @ aV, axis=0), floor)
            if absU is None:
                rounding = ROUNDING_FACTOR * eps * norm1 * np.linalg.norm(V, axis=0)
            else:
                rounding = ROUNDING_FACTOR * eps * np.linalg.norm(absU @ aV, axis=0)
            return (np.maximum(zero_tol * local, rounding) if band else zero_tol * local), local, rounding

        return thr

    absLH, UH = sp.csr_array(absL.T), (None if U is None else sp.csr_array(U.T))
    rng = np.random.default_rng(7)
    R, ritz, thr, local, rounding = _kernel(L, thresholds(absL, U, False), solve, n, block, rng, iterations)
    banded = R.shape[1] == 0
    if banded:
        # no mode at zero_tol: those within the rounding of L's entries (strong dephasing: L is zero on
        # the populations only up to eps x its rate), with a warning, rather than no answer
        R, ritz, thr, local, rounding = _kernel(
            L, thresholds(absL, U, True), solve, n, block, rng, iterations
        )
    LH = sp.csr_array(L.conj().T)
    W, _, _, _, _ = _kernel(LH, thresholds(absLH, UH, banded), solve_h, n, block, rng, iterations)
    k = R.shape[1]
    res_r = np.linalg.norm(L @ R, axis=0) if k else np.zeros(0)
    # each column against the largest threshold of the kernel's Ritz pairs (the Schur basis mixes an
    # exact zero mode with ones at the rounding: a column of the exact one's states, with a little of
    # the others, has their residual and none of their scale)
    own = thresholds(absL, U, True)(R)[0] if k else np.zeros(0)
    kernel_thr = float(np.max(np.maximum(thr[:k], rounding[:k]), initial=0.0))
    lim_r = np.maximum(own, kernel_thr) * ZERO_TOL_MARGIN
    if k == 0:
        i = int(np.argmin(np.abs(ritz) / thr))
        raise ConvergenceError(
            f"asymptotic_state: no mode at zero: the slowest found decays at rate {abs(ritz[i]):.2e}, "
            f"{abs(ritz[i]) / local[i]:.1e} of the scale of L on it ({local[i]:.2e}), above zero_tol="
            f"{zero_tol:g} and above the rounding of L's entries there ({thr[i]:.1e}); compare with "
            "qness.steady_state(model), or pass a zero_tol above that ratio if the mode is the steady state"
        )
    if banded:
        warnings.warn(
            f"asymptotic_state: no mode is zero at zero_tol={zero_tol:g} of the scale of L on it, but {k} "
            f"lie within the rounding of L's entries there (large terms that cancel, e.g. Hermitian jumps "
            f"with large rates; largest rate {float(np.max(np.abs(ritz[:k]))):.1e}, rounding "
            f"{float(np.max(thr[:k])):.1e}): counted as steady states; a true rate below that rounding "
            "cannot be told from zero in double precision (compare with qness.liouvillian_gap(model), "
            "or pass a zero_tol that decides)",
            UniquenessWarning,
            stacklevel=2,
        )
    if W.shape[1] != k or np.any(res_r > lim_r):
        raise ConvergenceError(
            f"asymptotic_state: found {k} right and {W.shape[1]} left kernel vectors (largest residual "
            f"{float(np.max(res_r, initial=0.0)):.1e}, limit {ZERO_TOL_MARGIN:g} x zero_tol x the scale of "
            "L on them, or the rounding of L's entries there); increase iterations or zero_tol"
        )
    rates = np.abs(ritz)
    slowest = int(k + np.argmin(rates[k:])) if rates.size > k else None
    ratio = rates / thr
    # a rate at the rounding of the Ritz values themselves (eps x the largest scale of L on the block)
    # is no mode that zero_tol decides: pure dephasing's exactly conserved populations (L has no terms
    # on them, so their scale is the floor) came out at 2.3e-16 and were flagged (session 19)
    ritz_rounding = 10 * eps * float(np.max(local, initial=0.0))
    near = (ratio > 1 / ZERO_TOL_MARGIN) & (ratio < ZERO_TOL_MARGIN) & (rates > ritz_rounding)
    # modes counted as decaying whose rate L's own rounding could make (or unmake): a block with an
    # exact zero mode beside one whose zero modes carry rounding (a decaying qubit beside a dephased
    # XX chain: the chain's populations were lost, silently, session-20 review)
    blurred = np.flatnonzero(rates[k:] <= rounding[k:]) + k
    if blurred.size and not banded:
        i = int(blurred[np.argmax(rates[blurred])])
        top = float(np.max(rates[blurred] / local[blurred]))
        above = np.setdiff1d(np.arange(k, rates.size), blurred)
        nxt = float(np.min(rates[above] / local[above])) if above.size else np.inf
        # (30x above the blurred modes, for the left kernel's Ritz values too; below the next mode)
        suggest = min(0.5, 30 * top, np.sqrt(top * nxt))
        warnings.warn(
            f"asymptotic_state: {blurred.size} mode(s) counted as decaying lie within the rounding of L's "
            f"entries on them (rate up to {rates[i]:.1e}, rounding {rounding[i]:.1e}: large terms that "
            "cancel, e.g. Hermitian jumps with large rates), so whether they are conserved cannot be told "
            f"in double precision ({k} steady state{'s' if k > 1 else ''} found); with "
            f"zero_tol={suggest:.1g} they count as steady states",
            UniquenessWarning,
            stacklevel=2,
        )
    elif np.any(near):
        i = int(np.flatnonzero(near)[0])
        plural = "s" if k > 1 else ""
        warnings.warn(
            f"asymptotic_state: a mode decays at rate {rates[i]:.2e}, within {ZERO_TOL_MARGIN:g}x of the "
            f"threshold {thr[i]:.2e} (zero_tol x the scale of L on it, or the rounding of L's entries "
            f"there), so whether it counts as conserved depends on zero_tol and on the precision of L "
            f"({k} steady state{plural} found with zero_tol={zero_tol:g}); compare with "
            "qness.liouvillian_gap(model) and steady_state, or set zero_tol below or above to decide",
            UniquenessWarning,
            stacklevel=2,
        )
    G = W.conj().T @ R  # biorthonormalise: J = W G^{-H}, so that J^H R = 1
    coeff = np.linalg.solve(G, W.conj().T @ rho0.ravel(order="F"))
    x = R @ coeff
    rho = x.reshape((d, d), order="F")
    rho = rho / np.trace(rho)
    herm_err = float(np.max(np.abs(rho - rho.conj().T)))
    if np.allclose(rho0, rho0.conj().T, atol=1e-12):
        rho = 0.5 * (rho + rho.conj().T)
    J = W @ np.linalg.inv(G).conj().T
    steady = [R[:, i].reshape((d, d), order="F") for i in range(k)]
    conserved = [J[:, i].reshape((d, d), order="F") for i in range(k)]
    info = {
        "method": "asymptotic_state",
        "kernel_dim": k,
        "steady": steady,
        "conserved": conserved,
        "zero_tol": zero_tol,
        "slowest_rate": None if slowest is None else float(rates[slowest]),
        "slowest_scale": None if slowest is None else float(local[slowest]),
        "slowest_threshold": None if slowest is None else float(thr[slowest]),
        "shift": shift,
        "hermiticity_error": herm_err,
        "time": time.perf_counter() - t0,
    }
    return NESS(
        rho,
        model.dims,
        float(np.linalg.norm(L @ rho.ravel(order="F"))),
        info,
        site_kinds=model.site_kinds,
        qobj_dims=getattr(model, "qobj_dims", None),
    )
