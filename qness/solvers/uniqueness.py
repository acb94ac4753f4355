"""Is the steady state unique? Rank checks of the trace-augmented Liouvillian.

Every steady-state route solves ``A x = b`` with ``A = c e_r t^T + (1 - e_r e_r^T) L``
(see :mod:`qness.solvers.steady`); ``A`` is singular exactly when ``L`` has
more than one steady state. A singular ``A`` is not always visible to the
solver: a consistent singular system (``b`` in the range of ``A``, as for a
dark state) is solved by LU and by GMRES without complaint, and the answer is
one arbitrary member of the family of steady states. The checks here look
for a direction ``u`` with ``||A u|| <= tau ||u||`` and return the smallest
such ratio found, a *certified* upper bound on the smallest singular value
``sigma_min(A)`` (the vector is computed and ``A u`` is evaluated).

* LU routes (:func:`lu_check`): a step of inverse iteration reusing the
  factorisation (one more solve, plus a product with ``A``). A backward-stable LU
  resolves a smallest singular value down to about ``1e-16 ||A||``; measured on exact
  degeneracies (two qubits with a dark singlet, two cavities with a dark
  mode at cutoffs 6-12) ``sigma / ||A||_1 <= 2e-16``, and on a unique model
  with a gap of ``5e-9`` it is ``1.5e-9``. ``A`` is certified non-singular when
  ``sigma > LU_SINGULAR_RTOL * ||A||_1`` and declared singular when
  ``sigma <= LU_ROUNDING_RTOL * ||A||_1`` (50x above the degeneracies); in between,
  double precision cannot tell, and the state is returned with a
  :class:`~qness.solvers.errors.UniquenessWarning` (``verified`` False). ``A`` here is the
  row-scaled ``D A`` (each row divided by its largest entry; the same null space, the same LU),
  whose norm is not set by rows of huge entries that take no part in the steady state: a driven
  mode with ``(a^+)^8 a^8`` terms at cutoff 60 has ``||A||_1 = 1.8e14`` from its top Fock states
  and ``sigma = 1.6`` (``8.9e-15`` of the norm: it was declared singular, and at cutoffs 40-50
  unverified, before session 15), where ``D A`` gives ``7.6e-3`` of its norm (cutoffs 40-60, powers 8-12:
  7.6e-3 to 4.7e-2), against ``3.5e-17`` to ``4.2e-16`` on the exact degeneracies (dark singlet,
  dark cavity mode at cutoffs 6 and 12, two-photon loss at 14 and 30).
* Krylov (:func:`krylov_check`): GMRES, with the solve's preconditioner, on
  ``A y = g`` for a random unit ``g``. A singular ``A`` leaves the component
  of ``g`` along its left null vector ``l`` in every residual; for a random
  ``g`` that component exceeds ``delta = 1e-2 / sqrt(n)`` with probability
  ``exp(-n delta^2) ~ 1 - 1e-4``, so a residual below ``delta`` shows
  ``A`` non-singular. A residual that stalls above ``delta`` while the
  steady-state solve itself converged is the signature of a singular ``A``;
  it is then certified by one more solve (inverse iteration on the stalled
  iterate). The threshold follows the solve's tolerance: ``A`` counts as
  singular when ``sigma <= rtol / ||x||``, i.e. when a direction of the size of
  the solution ``x`` changes the residual by less than the ``rtol`` asked for
  (the state is then not determined at that tolerance).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .errors import NonUniqueSteadyStateError, UniquenessWarning

__all__ = [
    "LU_ROUNDING_RTOL",
    "LU_SINGULAR_RTOL",
    "BAND_STEPS",
    "NON_UNIQUE_HINT",
    "lu_check",
    "row_scaling",
    "krylov_check",
    "random_rhs_solve",
]

#: ``A`` is certified non-singular when ``sigma_min(A) > LU_SINGULAR_RTOL * ||A||_1`` (LU routes)
LU_SINGULAR_RTOL = 1e-12
#: ... and numerically singular when ``sigma_min(A) <= LU_ROUNDING_RTOL * ||A||_1``; in between, a
#: :class:`~qness.solvers.errors.UniquenessWarning`
LU_ROUNDING_RTOL = 1e-14

#: Extra steps of inverse iteration (two solves each) that :func:`lu_check` takes while ``sigma`` lies
#: between the two thresholds: a singular ``A`` falls to rounding, a stiff non-singular one stays.
BAND_STEPS = 2

NON_UNIQUE_HINT = (
    "the steady state is not unique (a dark state, a conserved quantity or a decoupled part); "
    "use qness.asymptotic_state(model, rho0) for the state reached from an initial state rho0, "
    "or qness.steady_states(model) for one state per invariant subspace"
)


_AUGMENTED = "the trace-augmented Liouvillian"


def _random_unit(n: int, seed: int = 20240531) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    return v / np.linalg.norm(v)


def row_scaling(A) -> np.ndarray:
    """The row scaling of :func:`lu_check`: one over the largest modulus in each row of ``A``.

    Parameters
    ----------
    A : scipy sparse matrix or numpy.ndarray, shape (n, m)

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``D`` with ``max_j |D_i A_ij| = 1`` for every row with an entry (1 for an empty row), so
        that ``D A`` has the null space of ``A`` and rows of comparable size.
    """
    import scipy.sparse as sp

    top = np.asarray(abs(A).max(axis=1).todense() if sp.issparse(A) else np.abs(A).max(axis=1)).ravel()
    return 1.0 / np.where(top > 0, top, 1.0)


def lu_check(A, solve, solve_h=None, *, steps: int = 0, what: str = _AUGMENTED, vector: bool = False) -> dict:
    """Smallest singular value of the row-scaled ``D A`` by inverse iteration through the LU of ``A``.

    ``D`` divides each row of ``A`` by its largest entry (:func:`row_scaling`): the same null
    space, inverse iteration through the same factorisation (``(D A)^{-1} = A^{-1} D^{-1}``), and a
    norm not set by rows of huge entries that take no part in the steady state. One solve
    ``y = (D A)^{-1} v`` with a random ``v`` (then ``u = y / ||y||`` and ``sigma = ||D A u||``): a
    singular ``A`` puts almost all of ``y`` on its null vector, so ``sigma`` is at rounding level at
    once (measured ``<= 4.2e-16 ||D A||_1`` on the dark-state examples,
    ``benchmarks/bench_precision.py``); ``steps`` more steps of inverse iteration on
    ``(D A)^H D A`` (two solves each) sharpen the bound; while ``sigma`` is undecided (between the
    two thresholds below) up to :data:`BAND_STEPS` more are taken, where ``solve_h`` is given
    (three driven qubits under collective decay with five dark states: 1.1e-14 of the norm after
    one solve, returned with a warning; rounding level after the extra steps).

    Parameters
    ----------
    A : scipy sparse matrix or numpy.ndarray, shape (n, n)
        The factorised matrix.
    solve, solve_h : callable
        ``b -> A^{-1} b`` and ``b -> A^{-H} b`` from the factorisation (``solve_h`` only for
        ``steps > 0``).
    steps : int
        Extra steps of inverse iteration.
    what : str
        What ``A`` is, for the messages.
    vector : bool
        Also return the unit vector ``u`` found, under ``"_right"`` (for the caller's error
        estimate, which removes it).

    Returns
    -------
    dict
        ``sigma`` (``||D A u|| / ||u||`` of the computed vector: an upper bound
        on ``sigma_min(D A)``), ``threshold`` (``LU_SINGULAR_RTOL * ||D A||_1``),
        ``verified`` (``sigma > threshold``), ``check`` (a description), ``time`` (s).

    Raises
    ------
    NonUniqueSteadyStateError
        If ``sigma <= LU_ROUNDING_RTOL * ||D A||_1`` or the solves overflow (``A`` singular).

    Warns
    -----
    UniquenessWarning
        If ``sigma`` is between the two thresholds (not certified either way).
    """
    import scipy.sparse as sp

    t0 = time.perf_counter()
    D = row_scaling(A)
    DA = sp.csr_array(sp.diags_array(D) @ A) if sp.issparse(A) else D[:, None] * A
    norm1 = float(np.max(np.asarray(abs(DA).sum(axis=0)).ravel(), initial=0.0))
    what = f"{what} (rows scaled to a largest entry of 1)"
    threshold = LU_SINGULAR_RTOL * max(norm1, 1e-300)
    u = _random_unit(A.shape[0])
    sigma = np.inf
    floor = LU_ROUNDING_RTOL * max(norm1, 1e-300)
    step, last = 0, steps
    with np.errstate(all="ignore"):
        while step <= last:
            w = u
            if step > 0:
                w = np.asarray(solve_h(u)).ravel() / D  # (D A)^{-H} u
                w /= np.linalg.norm(w)
            y = np.asarray(solve(w / D)).ravel()  # (D A)^{-1} w
            ny = np.linalg.norm(y)
            if not np.isfinite(ny) or ny == 0:
                err = NonUniqueSteadyStateError(
                    f"the factorisation of {what} is exactly singular: " + NON_UNIQUE_HINT
                )
                err.sigma = 0.0
                raise err
            u = y / ny
            sigma = float(np.linalg.norm(DA @ u))
            undecided = floor < sigma <= threshold and solve_h is not None
            if step == last and undecided and last < steps + BAND_STEPS:
                last += 1  # sharpen (three qubits with five dark states: 1.1e-14 -> rounding)
            step += 1
    info = {
        "sigma": sigma,
        "threshold": threshold,
        "verified": bool(sigma > threshold),
        "check": "LU inverse iteration",
        "time": time.perf_counter() - t0,
    }
    if vector:
        info["_right"] = u
    if not sigma > floor:
        err = NonUniqueSteadyStateError(
            f"{what} is numerically singular (smallest singular value "
            f"<= {sigma:.1e}, below {LU_ROUNDING_RTOL:g} x ||A||_1 = {floor:.1e}): " + NON_UNIQUE_HINT
        )
        err.sigma = sigma
        raise err
    if not info["verified"]:
        warnings.warn(
            f"uniqueness of the steady state not certified: the smallest singular value of {what} "
            f"is <= {sigma:.1e}, only {sigma / max(norm1, 1e-300):.1e} of ||A||_1 = "
            f"{norm1:.1e}, below the {LU_SINGULAR_RTOL:g} that double precision certifies (a very stiff "
            "model, or a steady state that is not unique); compare with method='krylov', or with "
            "qness.asymptotic_state from two initial states",
            UniquenessWarning,
            stacklevel=4,
        )
    return info


def random_rhs_solve(
    A, M, n: int, *, chunk: int, budget, gmres, callback=None, what: str = _AUGMENTED
) -> dict:
    """The first part of :func:`krylov_check`: GMRES on ``A y = g`` for a random unit ``g``.

    It needs nothing from the steady-state solve but ``A`` and ``M``, so it can run while that
    solve runs (:mod:`qness.solvers.steady` does, on a second thread).

    Parameters
    ----------
    A, M, n
        As in :func:`krylov_check`.
    chunk : int
        GMRES restart length; the run stops as soon as a chunk fails to halve the residual (a
        singular ``A`` stalls at once; a non-singular one keeps converging at the rate of the
        steady-state solve).
    budget : int or callable
        Iteration budget, or a function returning it, read before each chunk (a run started
        alongside the solve learns its budget from the solve's iterations when that ends).
    gmres : callable
        :func:`qness.solvers.krylov.gmres`.
    callback : callable, optional
        Passed to ``gmres`` (progress; it may raise to abandon the run).
    what : str
        What ``A`` is, for the messages.

    Returns
    -------
    dict
        ``y`` (the last iterate), ``residual`` (``||g - A y||``), ``delta`` (``1e-2 / sqrt(n)``),
        ``iterations``, ``converged`` (residual at most ``delta``), ``gmres_converged``, ``time`` (s).

    Raises
    ------
    NonUniqueSteadyStateError
        If GMRES breaks down (a zero or non-finite iterate: ``A`` is singular).
    """
    t0 = time.perf_counter()
    delta = max(1e-2 / np.sqrt(n), 1e-13)
    g = _random_unit(n)
    y, res, its, converged = None, 1.0, 0, False
    ginfo = {"converged": False}
    while True:
        limit = budget() if callable(budget) else budget
        if its >= limit:
            break
        m = min(chunk, limit - its)
        y, ginfo = gmres(A, g, y, M=M, rtol=delta, restart=m, maxiter=m, callback=callback)
        its += ginfo["iterations"]
        ny = float(np.linalg.norm(y))
        if not np.isfinite(ny) or ny == 0:
            err = NonUniqueSteadyStateError(
                f"GMRES on a random right-hand side broke down ({what} is singular): " + NON_UNIQUE_HINT
            )
            err.sigma = 0.0
            raise err
        new = float(np.linalg.norm(g - A @ y))
        converged = new <= delta
        if converged or new > 0.5 * res or ginfo["singular"]:
            res = new
            break
        res = new
    return {
        "y": y,
        "residual": res,
        "delta": delta,
        "iterations": its,
        "converged": converged,
        "gmres_converged": bool(ginfo["converged"]),
        "time": time.perf_counter() - t0,
    }


def krylov_check(
    A,
    M,
    n: int,
    *,
    rtol: float,
    x_norm: float,
    restart: int,
    chunk: int,
    budget: int,
    gmres,
    callback=None,
    floor: float = 0.0,
    refine_floor=None,
    what: str = _AUGMENTED,
    start: dict | None = None,
) -> dict:
    """Uniqueness check for a Krylov solve, reusing its preconditioner ``M``.

    Parameters
    ----------
    A : LinearOperator
        The trace-augmented operator (trace row of weight ``c``, the scale of ``L``).
    M : LinearOperator or None
        The right preconditioner of the solve.
    n : int
        Number of unknowns.
    rtol : float
        Tolerance of the steady-state solve (absolute: ``||b - A x|| <= rtol``).
    x_norm : float
        ``||x||_2`` of the solution found.
    restart, chunk, budget : int
        GMRES restart length (of the certificate solve), restart length of
        the random-right-hand-side solve (it stops when a chunk fails to
        halve the residual), and iteration budget of each.
    gmres : callable
        :func:`qness.solvers.krylov.gmres`.
    callback : callable, optional
        Passed to ``gmres`` (progress).
    floor : float
        Lower bound of the threshold: the rounding level of ``||A u||`` (for the steady-state
        solve, ``LU_ROUNDING_RTOL * max(c, s) * ||t||`` with ``c t`` the trace row and ``s`` the
        scale of ``L``'s diagonal: the trace of a computed null direction is zero only to rounding,
        and the rows of a detuned dark subspace round at ``s``).
    refine_floor : callable, optional
        ``u -> `` the rounding level of ``||A u||`` for a unit ``u``, componentwise (``None`` where
        it cannot tell). Asked only where the direction found lies between ``rtol / ||x||`` and
        ``floor``: the normwise ``floor`` counts rows of huge entries where ``u`` is zero (a mode
        with ``(a^+)^8 a^8`` at cutoff 60 has entries of 1e14 in rows its steady state never
        reaches), and the smaller componentwise level then decides.
    what : str
        What ``A`` is, for the messages.
    start : dict, optional
        The result of :func:`random_rhs_solve` with the same ``A``, ``M`` and ``chunk``, when it
        ran already (alongside the solve); by default it runs here.

    Returns
    -------
    dict
        ``verified`` (bool), ``sigma`` (certified upper bound on
        ``sigma_min(A)``), ``threshold`` (``max(rtol / ||x||, floor)``), ``delta``,
        ``check_residual``, ``check_iterations``, ``time`` (s: both parts, wherever they ran).

    Raises
    ------
    NonUniqueSteadyStateError
        If a direction ``u`` with ``||A u|| <= threshold ||u||`` is found.
    """
    t0 = time.perf_counter()
    threshold = max(rtol / max(x_norm, 1e-300), floor)
    earlier = 0.0 if start is None else start["time"]  # (a part run elsewhere: its own time)
    if start is None:
        start = random_rhs_solve(
            A, M, n, chunk=chunk, budget=budget, gmres=gmres, callback=callback, what=what
        )
    y, res, its, converged, delta = (start[k] for k in ("y", "residual", "iterations", "converged", "delta"))
    info = {"threshold": threshold, "delta": delta, "check": "GMRES on a random right-hand side"}
    u = y / np.linalg.norm(y)
    sigma = res_u = float(np.linalg.norm(A @ u))
    best = u
    if not converged:
        # Stalled: y is dominated by the (near-)null direction. A solve of the consistent system
        # A e = A u removes the rest (a step of inverse iteration); u - e is then a certificate.
        e, einfo = gmres(
            A, A @ u, None, M=M, rtol=rtol, atol=0.05 * threshold, restart=restart, maxiter=budget
        )
        its += einfo["iterations"]
        w = u - e
        nw = float(np.linalg.norm(w))
        sw = float(np.linalg.norm(A @ w)) / nw if np.isfinite(nw) and nw > 0 else np.inf
        if sw < sigma:
            sigma, best = sw, w / nw
    if refine_floor is not None and rtol / max(x_norm, 1e-300) < sigma <= threshold:
        local = refine_floor(best)
        if local is not None and local < floor:
            floor = local
            threshold = max(rtol / max(x_norm, 1e-300), floor)
            info.update(threshold=threshold, floor="componentwise")
    info.update(
        sigma=sigma,
        check_residual=res,
        check_iterations=its,
        sigma_first=res_u,
        time=time.perf_counter() - t0 + earlier,
    )
    if sigma <= threshold:
        below = "rtol / ||x||" if threshold > floor else "the rounding level of the trace row"
        err = NonUniqueSteadyStateError(
            f"found a direction u with ||A u|| <= {sigma:.1e} ||u|| (A: {what}), below {below} = "
            f"{threshold:.1e}: "
            "the steady state is not determined at this tolerance (GMRES on a random right-hand side "
            f"{'reached' if start['gmres_converged'] else 'stalled at'} residual {res:.1e}); "
            + NON_UNIQUE_HINT,
        )
        err.sigma = sigma  # for callers that judge the tolerance (qness.solvers.steady)
        raise err
    info["verified"] = bool(converged)
    return info
