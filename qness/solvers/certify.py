"""Certificates that a sector's eigenvalues are its rightmost ones, and the search for those missed.

Shift-invert finds the eigenvalues of a Liouvillian sector *nearest* its
shift; the contract of :func:`qness.spectrum` is the eigenvalues with the
*largest real part*. The two differ whenever a slow mode oscillates fast (a
detuned cavity: ``-kappa/2 +- i omega`` is slower than ``-kappa`` yet further
from zero). This module closes the gap in three steps, each exact or with a
stated failure probability:

1. **Conjugate closure.** A Liouvillian preserves Hermiticity,
   ``L(rho^+) = L(rho)^+``, so in a sector closed under ``rho -> rho^+``
   (no symmetry, ``q = 0``, Z2) every eigenpair ``(lambda, rho)`` comes with
   ``(conj(lambda), rho^+)``; a missing partner is added exactly.
2. **Certificate** (:func:`certify_sector`). A random vector, with the found
   modes projected out, is propagated by ``exp(tL)`` (Chebyshev series). Its
   norm falling below ``eps exp(t theta)`` proves, except with probability
   ``n eps^2``, that no eigenvalue right of ``theta`` is missing (the
   argument is in the docstring).
3. **Search** (:func:`search_missing`). Where the certificate fails, the
   eigenvalues of the deflated propagator ``P exp(tau L) P`` with the largest
   modulus are found by Arnoldi (ARPACK): they are ``exp(tau lambda)`` for the
   *rightmost* missing ``lambda``, whatever their imaginary parts (Minganti
   & Huybrechts, Quantum 6, 649 (2022), use the same idea on the
   undeflated propagator). A Rayleigh-Ritz step with ``L`` itself on the
   Arnoldi vectors recovers ``lambda`` (no logarithm branch to choose, and
   modes that alias to one ``exp(tau lambda)`` are told apart), each pair is
   lifted to an eigenvector of ``L``, refined by Rayleigh-quotient
   iteration and checked against the exact ``L``. The found modes are then
   deflated and the certificate is tried again.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from .krylov import _orthogonalise

__all__ = ["CERTIFY_PROBABILITY", "certify_sector", "search_missing", "close_under_conjugation"]

#: A sector of ``n`` unknowns is certified when ``||exp(tL) v|| <= eps exp(t threshold)`` for a
#: random unit ``v``, with ``n eps^2 = CERTIFY_PROBABILITY``: the probability that a missing
#: eigenvalue right of the threshold escapes the test.
CERTIFY_PROBABILITY = 1e-10

#: Relative residual below which a Ritz value of the certificate's last vectors is taken as the
#: location of a missing mode to search for by shift-invert (not as evidence).
GUESS_RESIDUAL = 0.1


def certify_eps(n: int) -> float:
    """``eps`` with ``n eps^2 = CERTIFY_PROBABILITY``."""
    return float(np.sqrt(CERTIFY_PROBABILITY / max(n, 1)))


def unit_trace(sector) -> np.ndarray:
    """The trace functional as a unit vector: ``1 - t t^T`` projects on trace-zero matrices."""
    t = sector.trace_vector()
    return t / np.linalg.norm(t)


def self_conjugate(sector) -> bool:
    """Whether ``rho -> rho^+`` maps the sector onto itself (full space, ``q = 0``, Z2)."""
    return sector.kind != "u1" or sector.label == 0


class Deflation:
    """The orthogonal projector onto the complement of found right eigenvectors.

    With ``trace_zero`` (the steady-state sector) the trace functional is
    projected out too: trace-zero matrices form an invariant subspace of
    every Liouvillian holding all its eigenvectors but the steady state's.
    ``found`` then must not hold the steady state (a zero column is dropped).
    Since the found vectors span an invariant subspace, the compression of
    ``L`` to the complement has exactly the eigenvalues not found.
    """

    def __init__(self, sector, found=None, trace_zero: bool = False):
        self.tvec = unit_trace(sector) if trace_zero else None
        self.Q = None
        if found is not None and found.shape[1]:
            F = np.array(found, dtype=np.complex128)
            if self.tvec is not None:
                F -= np.outer(self.tvec, self.tvec @ F)
            Q = sla.orth(F, rcond=1e-10) if F.size else F
            self.Q = np.asfortranarray(Q) if Q.shape[1] else None

    @property
    def rank(self) -> int:
        return 0 if self.Q is None else self.Q.shape[1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.complex128)
        if self.tvec is not None:
            x -= self.tvec * (self.tvec @ x)
        if self.Q is not None:
            x = _orthogonalise(self.Q, x)[2]
        return x


def close_under_conjugation(sector, values, vectors, zero_tol):
    """Add the missing conjugate partners ``(conj(lambda), rho^+)`` in a self-conjugate sector.

    ``vectors`` holds sector vectors as columns (a zero column marks a mode
    whose vector was not computed; it gets no partner vector either).
    Returns the extended ``(values, vectors, added)``.
    """
    values = np.asarray(values, dtype=np.complex128)
    if not self_conjugate(sector) or values.size == 0:
        return values, vectors, 0
    new_vals, new_vecs = [], []
    pool = list(values)
    for j, lam in enumerate(values):
        if abs(lam.imag) <= max(zero_tol, 1e-9 * abs(lam)):
            continue
        partner = np.conj(lam)
        if min(abs(np.asarray(pool) - partner)) <= 1e-8 * abs(lam) + zero_tol:
            continue
        x = vectors[:, j]
        if np.any(x):
            y = sector.from_full(sector.to_full(x).conj().T)
        else:
            y = np.zeros_like(x)
        new_vals.append(partner)
        new_vecs.append(y)
        pool.append(partner)
    if not new_vals:
        return values, vectors, 0
    return (
        np.concatenate([values, new_vals]),
        np.column_stack([vectors, *new_vecs]),
        len(new_vals),
    )


def missing_mode(M, snaps, threshold, found_values, max_residual=1e-2):
    """An eigenvalue right of ``threshold`` in the last propagated vectors that is not found, or None.

    Rayleigh-Ritz with ``M`` on their span: a Ritz value with real part above
    the threshold, a small residual and none of ``found_values`` nearby is a
    missing mode (a slowly decaying norm alone can also be two beating modes
    or a found mode leaking through its rounding errors). ``max_residual`` is
    relative to the largest Ritz value; ``np.inf`` gives a rough location
    (a shift for shift-invert) rather than evidence.
    """
    Q, _ = np.linalg.qr(np.column_stack(snaps))
    MQ = M @ Q
    theta, Y = np.linalg.eig(Q.conj().T @ MQ)
    scale = max(float(np.max(np.abs(theta))), 1e-300)
    found = np.asarray(found_values if found_values is not None else [], dtype=np.complex128)
    best = None
    for th, y in zip(theta, Y.T):
        res = np.linalg.norm(MQ @ y - th * (Q @ y)) / np.linalg.norm(y)
        near = found.size and np.min(np.abs(found - th)) <= 1e-6 * abs(th) + 1e-9 * scale
        if th.real > threshold and res <= max_residual * scale and not near:
            best = th if best is None or th.real > best.real else best
    return None if best is None else complex(best)


def certify_sector(sector, M, threshold, eps, max_matvecs, deflation=None, found_values=None, prop=None):
    """Try to show that no eigenvalue of this sector right of ``threshold < 0`` is missing.

    ``deflation`` (a :class:`Deflation`) projects out the right eigenvectors
    already computed in this sector: ``P = 1 - Q Q^+`` with ``Q`` an
    orthonormal basis of their span. A random unit vector is propagated as
    ``v <- P exp(hL) v``. For an eigenvalue ``lambda`` not found, its unit
    left eigenvector ``w`` is orthogonal to every found right eigenvector, so
    ``w^+ P = w^+`` and ``w^+ v(t) = exp(t lambda) w^+ v(0)``. Hence
    ``||v(t)|| <= eps exp(t threshold)`` implies ``|w^+ v(0)| < eps`` for
    every missing eigenvalue with ``Re lambda > threshold``; for ``v(0)``
    uniform on the unit sphere of ``C^n`` that has probability below
    ``n eps^2`` per such eigenvalue (``eps`` is chosen to make that
    :data:`CERTIFY_PROBABILITY`). The argument needs only the eigenvalues
    inside the propagator's ellipse (they are: it holds the numerical range),
    not an accurate ``exp(tL) v``.

    In the steady-state sector the deflation also projects out the trace
    (the start is a random trace-zero matrix, which ``exp(tL)`` keeps
    trace-zero, so the steady state never enters). For a missing ``lambda``
    (``w`` orthogonal to the steady state ``rho``), ``|w^+ v(0)|`` has the law
    above scaled by the norm of ``w``'s trace-free part, at least
    ``1/sqrt(d P)`` with ``P`` the purity of ``rho`` (at least ``1/sqrt(d)``),
    so the caller divides ``eps`` by that factor.

    Returns ``(ok, info, v)``, ``v`` the last propagated vector (a good start
    for :func:`search_missing`). It gives up when the observed decay rate
    predicts more than ``max_matvecs`` products, when the vector decays no
    faster than the threshold itself once non-normal transients are over
    (``t |threshold| >= 5``), or at the budget; ``info["missing"]`` is then a Ritz
    value of the last propagated vectors right of the threshold that is none
    of ``found_values`` (evidence of a missing eigenvalue), ``info["guess"]``
    the rightmost fairly converged Ritz value (a location to search),
    ``info["rate"]`` the decay rate observed at the end, and
    ``info["slower_mode"]`` whether there is evidence of a missing mode (a
    Ritz value right of the threshold, or a decay slower than the threshold
    once transients are over).
    """
    from .propagate import ChebyshevPropagator

    t0 = time.perf_counter()
    prop = ChebyshevPropagator(M) if prop is None else prop
    m0 = prop.matvecs
    project = deflation if deflation is not None else (lambda x: np.array(x, dtype=np.complex128))
    rng = np.random.default_rng(2024 + int(sector.label))
    v = project(rng.standard_normal(sector.size) + 1j * rng.standard_normal(sector.size))
    if np.linalg.norm(v) == 0.0:
        v = np.zeros(sector.size, np.complex128)
    else:
        v /= np.linalg.norm(v)
    if deflation is not None and deflation.tvec is not None:
        found_values = [0.0, *(found_values if found_values is not None else [])]
    h = prop.max_step
    t, norms, ok, missing, guess, rate, predicted = 0.0, [1.0], False, None, None, None, np.inf
    slower = False
    snaps = []
    nrm = 1.0
    while True:
        v = project(prop.step(v, h))
        t += h
        nrm = float(np.linalg.norm(v))
        norms.append(nrm)
        if nrm <= eps * np.exp(t * threshold):
            ok = True  # (nrm = 0: every eigenvector of the sector is found, none can be missing)
            break
        snaps = [*snaps[-7:], v / nrm]
        steps = len(norms) - 1
        used = prop.matvecs - m0
        per_step = used / steps
        if steps >= 8:
            # decay rate over the last quarter of the propagation (early steps are transients)
            back = max(1, steps // 4)
            rate = float(-np.log(nrm / norms[-1 - back]) / (back * h))
            margin = rate + threshold  # decay rate in excess of the threshold's
            # a slower decay is evidence of a missing mode only once non-normal transients are
            # over (a threshold mode decayed by e^5; the Kerr resonator's last for t ~ 10)
            settled = t * -threshold >= 5.0
            predicted = np.inf
            if margin > 0:
                need = (np.log(nrm) - np.log(eps) - t * threshold) / margin
                predicted = used + need / h * per_step
            stop = (margin > 0 and predicted > max_matvecs) or (margin <= 0 and settled)
            if stop or used + per_step > max_matvecs:
                missing = missing_mode(M, snaps, threshold, found_values)
                slower = missing is not None or (margin <= 0 and settled)
                guess = missing
                if guess is None:  # a location to search: the rightmost fairly converged Ritz value
                    guess = missing_mode(M, snaps, -np.inf, found_values, max_residual=GUESS_RESIDUAL)
                break
        elif used + per_step > max_matvecs:
            break
    info = {"method": "certified" if ok else "certificate failed", "size": sector.size,
            "threshold": float(threshold), "time_propagated": t, "norm": nrm, "eps": eps,
            "bound": float(eps * np.exp(t * threshold)), "matvecs": prop.matvecs - m0,
            "missing": missing, "guess": guess, "rate": rate, "slower_mode": slower,
            "settled": bool(t * -threshold >= 5.0),
            "predicted_matvecs": float(predicted) if np.isfinite(predicted) else None,
            "deflated": 0 if deflation is None else deflation.rank,
            "certify_time": time.perf_counter() - t0}  # fmt: skip
    return ok, info, v / nrm if nrm > 0 else v


def search_missing(M, sector, deflation, count, start, threshold, max_matvecs, refine=None, tol=1e-10,
                   prop=None):  # fmt: skip
    """The rightmost eigenpairs of ``M`` that ``deflation`` has not projected out.

    Arnoldi (ARPACK, largest modulus) on ``B = P exp(tau M) P``: on the
    range of ``P`` it is ``exp(tau C)``, ``C`` the compression of ``M`` to
    the complement of the found modes, whose eigenvalues are exactly the
    missing ones; ``|exp(tau lambda)| = exp(tau Re lambda)`` orders them by
    real part. ``tau = 1/|threshold|``, kept within one to eight propagator substeps.
    The eigenvalues come from a Rayleigh-Ritz step with ``M`` on the Arnoldi
    vectors; each is lifted to an eigenvector of ``M`` through the small
    block-triangular system with the found basis ``Q``
    (``x = z + Q c``, ``(Q^+ M Q - lambda) c = -Q^+ M z``), refined by
    ``refine(lambda, x)`` (Rayleigh-quotient iteration on an LU or by
    preconditioned GMRES) when given, and kept when
    ``||M x - lambda x|| <= tol ||x||``.

    Returns ``(values, vectors, info)``; the vectors are unit columns.
    """
    from .propagate import ChebyshevPropagator

    t0 = time.perf_counter()
    n = sector.size
    prop = ChebyshevPropagator(M) if prop is None else prop
    m0 = prop.matvecs
    k = int(min(count, n - 2 - deflation.rank))
    info = {"method": "propagator Arnoldi", "requested": k, "matvecs": 0, "accepted": 0}
    if k < 1:
        return np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128), info
    # tau: long enough to separate exp(tau lambda) at the threshold from faster modes, but at
    # most eight substeps, so that ARPACK gets enough products within its budget
    tau = min(max(prop.max_step, 1.0 / max(abs(threshold), 1e-300)), 8.0 * prop.max_step)
    ncv = int(min(n - 1, max(2 * k + 1, k + 15)))
    # one application costs about (tau/h) series of the substep's length
    v = start if start is not None else np.ones(n, np.complex128)
    probe = prop.matvecs
    v = deflation(prop.apply(deflation(v), tau))
    per_apply = max(prop.matvecs - probe, 1)
    maxiter = max(2, int((max_matvecs / per_apply) // max(ncv - k, 1)))

    class _Budget(Exception):
        pass

    def apply(x):
        if prop.matvecs - m0 > 1.5 * max_matvecs:
            raise _Budget
        return deflation(prop.apply(deflation(x), tau))

    op = spla.LinearOperator((n, n), matvec=apply, dtype=np.complex128)
    try:
        mu, Z = spla.eigs(op, k=k, which="LM", v0=v / np.linalg.norm(v), ncv=ncv, tol=1e-8, maxiter=maxiter)
        info["converged"] = True
    except spla.ArpackNoConvergence as exc:
        mu, Z = exc.eigenvalues, exc.eigenvectors
        info["converged"] = False
    except _Budget:
        mu, Z = np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128)
        info["converged"] = False
    info.update(tau=tau, matvecs=prop.matvecs - m0, ritz=len(mu))
    vals, vecs = [], []
    if len(mu):
        Zq = sla.orth(np.asarray(Z), rcond=1e-8)
        MZ = M @ Zq
        theta, Y = sla.eig(Zq.conj().T @ MZ)
        Q = deflation.Q
        if Q is not None:
            MQ = M @ Q
            M11 = Q.conj().T @ MQ
        for th, y in zip(theta, Y.T):
            if not np.isfinite(th):
                continue
            z = Zq @ y
            x = z
            if Q is not None:
                rhs = -(Q.conj().T @ (MZ @ y))
                try:
                    c = np.linalg.solve(M11 - th * np.eye(M11.shape[0]), rhs)
                except np.linalg.LinAlgError:
                    continue
                x = z + Q @ c
            x = x / np.linalg.norm(x)
            lam = complex(np.vdot(x, M @ x))
            if refine is not None and np.linalg.norm(M @ x - lam * x) > tol:
                lam, x = refine(lam, x)
            res = float(np.linalg.norm(M @ x - lam * x))
            if res <= tol:
                vals.append(lam)
                vecs.append(x)
    info.update(accepted=len(vals), time=time.perf_counter() - t0)
    if not vals:
        return np.zeros(0, np.complex128), np.zeros((n, 0), np.complex128), info
    return np.array(vals), np.column_stack(vecs), info
