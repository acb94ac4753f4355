"""Solver methods as small frozen dataclasses (dispatched by type).

Each method holds only its own settings; unknown settings are rejected with
the list of valid ones. Pass an instance (``Krylov(rtol=1e-12)``), a name
(``"krylov"``) or ``None`` (automatic choice) as ``method=``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["Auto", "Dense", "Direct", "Krylov", "Evolve", "resolve_method", "METHODS"]


def _positive(name, value, allow_zero=False):
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")


def _choice(name, value, valid):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, valid))}; got {type(value).__name__}")
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}")


@dataclass(frozen=True)
class Auto:
    """Choose a method from estimated costs of the steady-state sector's solve.

    ``Dense`` up to ``dense_max`` unknowns (above about 200 a sparse LU is
    faster, measured on chains and cavity models). Otherwise
    :func:`qness.solvers.steady.cost_estimates` predicts the time of a
    sparse LU (a nested-dissection separator estimate: cheap for one mode
    coupled to a few levels, nearly dense for many-body chains; or the
    envelope bound where that is smaller) and of one step of
    Sylvester-preconditioned GMRES (the dense products per block pair,
    counted twice for Krylov's uniqueness check). ``Direct`` is taken when
    the LU costs at most about 50 steps (or its separator estimate ``s^3``
    is at most ``direct_flops``), and only when its envelope bound fits in
    half the available memory; otherwise
    ``Krylov`` runs with a budget of as many steps as one LU is worth
    (between 50 and ``krylov_maxiter``) and, if it has not converged (a
    stall, or slow convergence), falls back to ``Direct`` when the LU fits:
    the time stays within about two LUs. A single mode in the full space
    (one site whose ``H`` and jumps are banded), alone or with a qubit
    (Jaynes-Cummings, Rabi, spin-boson), takes
    ``Direct(ordering="GRID_ND")``, a nested-dissection LU of its ``d x d``
    grid, when its estimated fill fits in 80% of the available memory
    (the estimate is measured 10-15% high); a mode with two-photon terms (a
    stencil two cells wide) takes ``Direct(backend="umfpack")`` instead
    (SuperLU without cvxopt), within the same memory bound (1.4-2.4x
    faster there).
    Whenever ``Krylov`` runs, its variant follows the memory: GMRES with
    ``restart=100`` if that fits in half the available memory, else GMRES
    with the longest restart that fits (at least 50), else IDR(s) with the
    largest ``s`` of 8, 4, 2 that fits. The choice, the estimates and any
    fallback are recorded in ``NESS.info["auto"]`` (and
    ``NESS.info["auto_estimates"]``).

    Attributes
    ----------
    dense_max : int
        Largest sector solved densely.
    direct_max : int
        Largest sector for which a sparse LU is considered.
    direct_flops : float
        ``s^3`` (``s`` the estimated top separator of the LU) below which
        ``Direct`` is taken without comparing with ``Krylov``.
    krylov_maxiter : int
        Largest budget of GMRES steps (converging solves of the benchmarks
        take 17-145; strongly dephased chains 650-960: boundary-driven XXZ 9
        with ``Delta = 1`` and dephasing 10 needs 655, and with a budget of 500
        fell back to an LU estimated at 2,400 s).
    rtol : float
        Tolerance of the Krylov solve.
    """

    dense_max: int = 200
    direct_max: int = 2_000_000
    direct_flops: float = 1e6
    krylov_maxiter: int = 2000
    rtol: float = 1e-12

    def __post_init__(self):
        _positive("dense_max", self.dense_max, allow_zero=True)
        _positive("direct_max", self.direct_max, allow_zero=True)
        _positive("direct_flops", self.direct_flops, allow_zero=True)
        _positive("krylov_maxiter", self.krylov_maxiter)
        _positive("rtol", self.rtol)


@dataclass(frozen=True)
class Dense:
    """Null vector of the dense Liouvillian (sector) by a full LU / SVD. For small sizes.

    Attributes
    ----------
    max_size : int
        Largest sector dimension (``d^2`` in the full space) accepted; a
        larger sector raises :class:`~qness.InsufficientMemoryError` (a
        ``MemoryError``, not a ``ValueError``) rather than allocate a dense
        ``max_size x max_size`` complex matrix (6000: 576 MB).
    """

    max_size: int = 6000

    def __post_init__(self):
        _positive("max_size", self.max_size)


@dataclass(frozen=True)
class Direct:
    """Sparse LU of the Liouvillian (sector) with one row replaced by the trace condition.

    Attributes
    ----------
    backend : {"auto", "superlu", "umfpack"}
        ``"umfpack"``: SuiteSparse's multifrontal UMFPACK through ``cvxopt``
        (``pip install "qness[fast]"``), measured up to 2.2x faster than
        SuperLU on spin-chain sectors and on par for a single mode
        (``benchmarks/RESULTS.md``); ``"superlu"``:
        SciPy's SuperLU; ``"auto"``: UMFPACK when ``cvxopt`` is installed and
        no SuperLU ``ordering`` was chosen, else SuperLU; and SuperLU with
        ``COLAMD`` where the sector matrix is nearly banded (mean envelope
        bandwidth at most ``qness.solvers.steady.BANDED_WIDTH``), which is
        faster there. (MKL PARDISO through
        ``pypardiso`` takes real matrices only; through the real 2n form it
        was slower and returned a wrong state on spin chains, whose real part
        has zero diagonal pivots: not offered.)
    ordering : str
        SuperLU column ordering (SuperLU only): ``"MMD_AT_PLUS_A"`` (default: Liouvillians
        are structurally symmetric), ``"COLAMD"`` (SciPy's default, fills
        badly on many-body Liouvillians), ``"MMD_ATA"``, ``"NATURAL"``, or
        ``"GRID_ND"``: for a model with one site (a single mode), or one
        mode and sites of at most 2 states besides it (a qubit), solved in
        the full space, a geometric nested dissection of the ``d x d`` grid
        of ``rho_mn`` (:mod:`qness.solvers.gridlu`; ``O(d^3)`` work,
        ``O(d^2 log d)`` memory), which ``Auto`` takes for such models when
        ``H`` and the jumps are banded in the mode's index.
    refine : int
        Largest number of steps of iterative refinement after the solve; a
        step is skipped once the residual is at the level of the LU's
        backward error (``||b - A x||_1 <= 8 eps ||A||_1 ||x||_1``).
    check_memory : bool
        Refuse (``InsufficientMemoryError``) when the envelope estimate of the
        LU exceeds the available memory.
    """

    backend: str = "auto"
    ordering: str = "MMD_AT_PLUS_A"
    refine: int = 2
    check_memory: bool = True

    def __post_init__(self):
        _choice("backend", self.backend, ("auto", "superlu", "umfpack"))
        if self.backend == "umfpack" and self.ordering != "MMD_AT_PLUS_A":
            raise ValueError("ordering is a SuperLU setting; UMFPACK chooses its own ordering")
        _choice("ordering", self.ordering, ("MMD_AT_PLUS_A", "COLAMD", "MMD_ATA", "NATURAL", "GRID_ND"))
        if not isinstance(self.refine, int) or self.refine < 0:
            raise ValueError(f"refine must be a non-negative integer, got {self.refine!r}")


@dataclass(frozen=True)
class Krylov:
    """Preconditioned Krylov solve of ``L x + w Tr(x) = w`` (matrix-free, or assembled on small sectors).

    Attributes
    ----------
    solver : {"gmres", "idrs", "lgmres", "bicgstab"}
        ``"gmres"``: qness's right-preconditioned GMRES (block Gram-Schmidt,
        :mod:`qness.solvers.krylov`), ``restart + 1`` vectors of the sector
        size; ``"idrs"``: qness's right-preconditioned IDR(s)
        (:func:`qness.solvers.krylov.idrs`), a short recurrence holding
        ``3 s + 4`` vectors whatever the number of steps (for sectors whose
        GMRES basis does not fit in memory; its uniqueness check runs IDR(s)
        too); ``"lgmres"``, ``"bicgstab"``: SciPy's. BiCGSTAB uses little
        memory but breaks down on pure (dark) steady states, where the
        no-jump part is singular; it then raises ``ConvergenceError``.
    preconditioner : {"sylvester", "ilu", None}
        ``"sylvester"``: exact inverse of the no-jump part
        ``L0(rho) = -i(H_eff rho - rho H_eff^+)`` per symmetry block;
        ``"ilu"``: incomplete LU of the assembled sector matrix.
    rtol : float
        Tolerance of the linear solve ``||b - A x||_2 <= rtol`` for the
        trace-augmented system with ``b = e_r`` (``||b|| = 1``); see Notes.
    maxiter : int
        Maximum number of iterations (GMRES: inner iterations in total).
    restart : int or None
        GMRES restart length; ``None``: as many vectors as fit in half the
        memory available after the preconditioner (at most 100, at least
        10; the length used is in ``NESS.info["restart"]``). Also the chunk
        length of IDR(s)'s uniqueness check.
    s : int
        Dimension of IDR(s)'s shadow space (``solver="idrs"`` only); 8 took
        the fewest operator applications on the XXZ chains (s = 4: 5-20% more).
    matrix_free : bool or "auto"
        ``True``: apply ``L`` without assembling it (block by block, or the
        compiled kernel on a one-block sector); ``False``: assemble the
        sector matrix once and apply it by a compiled sparse product (rows
        over the OpenMP threads, without the GIL; also inside the two-level
        and two-step preconditioners). ``"auto"`` (default): assembled where
        it has at most ``qness.solvers.steady.ASSEMBLED_ROW_MAX`` entries per
        row and takes at most a tenth of the available memory, and either
        has at most ``ASSEMBLED_MAX`` unknowns (one sparse product measured
        1.6-37x faster than the matrix-free one) or several block pairs (a
        U(1) sector, whose block-by-block action was 1.4-3.6x slower than
        the assembled product at 184,756-705,432 unknowns); a one-block
        sector above ``ASSEMBLED_MAX`` stays on the compiled matrix-free
        kernel (as fast, and no matrix in memory).
        ``NESS.info["operator"]`` says which ran.
    ilu_fill : float
        ``fill_factor`` of SciPy's ``spilu`` (``preconditioner="ilu"`` only).
    ilu_drop : float
        ``drop_tol`` of SciPy's ``spilu`` (``preconditioner="ilu"`` only).
    verify_unique : bool or None
        Check that the steady state is unique (``None``, the default, and
        ``True``: at every size; ``False``: skip). GMRES with the same
        preconditioner solves the trace-augmented system for a random
        right-hand side: a singular system (several steady states) stalls,
        a non-singular one converges (typically in 20-50% of the
        steady-state solve's time). A stall is certified by a direction
        ``u`` with ``||A u|| <= rtol / ||x|| * ||u||`` (the state is then not
        determined at the tolerance asked for) and raises
        ``NonUniqueSteadyStateError``; the threshold follows ``rtol``. See
        :mod:`qness.solvers.uniqueness`. Result in ``NESS.info["uniqueness"]``.
        With ``restart`` below 100 the check's GMRES restarts after 100 steps
        where that basis fits in memory (short restarts stagnate on its
        random right-hand side). From 20,000 unknowns
        (``qness.solvers.steady.CHECKS_ALONGSIDE_MIN``) the check's GMRES runs
        on a second thread while the solve runs, where two CPUs are free
        (neither ``QNESS_BLOCK_THREADS`` nor ``OMP_NUM_THREADS`` is 1) and
        both bases fit in memory (``info["uniqueness"]["alongside"]``); only
        its judgement waits for the solve.
    precision : {"auto", "double", "single"}
        Arithmetic of the Sylvester preconditioner's dense products
        (``solver="gmres"``, ``preconditioner="sylvester"`` only; the
        operator, the Arnoldi basis and the residual are always double).
        ``"single"``: complex64 products inside *flexible* GMRES, which keeps
        the preconditioned vectors in complex64 (8 bytes per unknown and
        basis vector more) and forms the solution from them, so the residual
        asked for is still reached in double precision; 20-30% less time at
        the same step counts where the no-jump part is far from singular
        (benchmarks/RESULTS.md), but more steps, or a stall, where it is
        nearly singular (gap of ``H_eff`` tiny against its scale).
        ``"auto"``: single only where it pays and is safe: some block pair
        has well-conditioned eigenvectors, the no-jump part's relative gap
        is at least ``qness.symmetry.SINGLE_MIN_GAP`` (3e-3) and the
        extra basis fits in half the available memory; else double. In
        double, a nearly singular no-jump part (whose preconditioner's
        rounding is large) runs flexible GMRES with complex128 vectors where
        they fit. ``NESS.info["precision"]`` and ``info["flexible"]``
        (``"complex64"``, ``"complex128"`` or ``False``) say what ran.
        Steady states only: the resolvent, counting and Floquet routes that
        take a ``Krylov`` run in double.

    Notes
    -----
    Non-uniqueness: invariant subspaces of the computational basis are
    detected before any solve; a steady-state degeneracy from a symmetry in
    a rotated basis (e.g. a dark singlet under collective decay) leaves a
    consistent singular system on which GMRES converges to *one* of the
    steady states: ``verify_unique`` catches it. ``Dense`` and ``Direct``
    check the smallest singular value of their factorisation.

    The convergence test is ``||b - A x||_2 <= rtol``, absolute, with the
    trace row of ``A`` and ``b = c e_r`` in the units of ``L`` (``c = 2
    max |(H_eff)_ii|``, as the LU routes; the solve is then the same in any
    units for ``rtol`` scaled with them); a solve that stops above it raises
    ``ConvergenceError`` naming ``rtol``.
    The returned state then has ``||L vec(rho)||_2 <= sqrt(d) rtol / |Tr x|``
    (the trace row stands in for one row of ``L``); no other residual limit
    is applied. Before a ``ConvergenceError``, a solve that ran at least one
    full restart cycle runs the uniqueness check: a stall caused by several
    steady states raises ``NonUniqueSteadyStateError`` instead (under
    ``Auto`` only where its fallback LU cannot run: that LU checks
    uniqueness itself). The check takes at most ``maxiter`` more steps; an
    inconclusive check is named in the error.
    """

    solver: str = "gmres"
    preconditioner: str | None = "sylvester"
    rtol: float = 1e-12
    maxiter: int = 2000
    restart: int | None = 100
    s: int = 8
    matrix_free: bool | str = "auto"
    ilu_fill: float = 10.0
    ilu_drop: float = 1e-5
    verify_unique: bool | None = None
    precision: str = "auto"

    def __post_init__(self):
        _choice("solver", self.solver, ("gmres", "idrs", "lgmres", "bicgstab"))
        _choice("preconditioner", self.preconditioner, ("sylvester", "ilu", None))
        _choice("precision", self.precision, ("auto", "double", "single"))
        if self.precision == "single" and (self.solver, self.preconditioner) != ("gmres", "sylvester"):
            raise ValueError(
                "precision='single' needs solver='gmres' and preconditioner='sylvester' (flexible GMRES "
                f"with the Sylvester preconditioner); got solver={self.solver!r}, "
                f"preconditioner={self.preconditioner!r}"
            )
        _positive("rtol", self.rtol)
        _positive("maxiter", self.maxiter)
        if self.restart is not None:
            if not isinstance(self.restart, (int, np.integer)) or isinstance(self.restart, bool):
                raise TypeError(f"restart must be an int or None, got {type(self.restart).__name__}")
            _positive("restart", self.restart)
        if not isinstance(self.s, (int, np.integer)) or isinstance(self.s, bool) or self.s < 1:
            raise ValueError(f"s must be a positive integer, got {self.s!r}")
        if self.solver != "idrs" and self.s != 8:
            raise ValueError("s is used only with solver='idrs'")
        # settings that the chosen combination would silently ignore are errors
        if self.preconditioner != "ilu" and (self.ilu_fill, self.ilu_drop) != (10.0, 1e-5):
            raise ValueError("ilu_fill and ilu_drop are used only with preconditioner='ilu'")
        if self.solver not in ("gmres", "idrs") and self.restart != 100:
            raise ValueError("restart is used only with solver='gmres' (and 'idrs': its uniqueness check)")
        if isinstance(self.matrix_free, str) or self.matrix_free not in (True, False):
            if self.matrix_free != "auto":
                raise ValueError(f"matrix_free must be True, False or 'auto', got {self.matrix_free!r}")
        else:
            object.__setattr__(self, "matrix_free", bool(self.matrix_free))  # numpy bools, 0 and 1
        if self.preconditioner == "ilu" and self.matrix_free is not False:
            object.__setattr__(self, "matrix_free", False)  # ILU needs the assembled matrix


@dataclass(frozen=True)
class Evolve:
    """Integrate ``d rho/dt = L rho`` from ``rho0`` until ``||L vec(rho)||_2 <= rtol ||L||_1`` (or ``atol``).

    Like the other routes it first checks that the steady state is unique
    (an LU of the trace-augmented Liouvillian, as ``Direct``; where that LU
    does not fit in memory, a :class:`~qness.UniquenessWarning` says the
    check did not run) and raises ``NonUniqueSteadyStateError`` (or
    ``ClosedSystemError`` without dissipation) when it is not. With
    ``verify_unique=False`` it returns the state reached from ``rho0``
    (default: the maximally mixed state), one of several where the steady
    state is not unique; :func:`qness.asymptotic_state` gives that limit
    exactly. Uses ``expm_multiply`` on
    the full Liouvillian with a step that doubles while it can; the cost
    grows like ``||L|| / gap`` (53 s for a 4-level oscillator at gap 5e-5),
    and a ``RuntimeWarning`` says so when the residual's decay predicts a
    long run. :func:`qness.asymptotic_state` gives the same ``t -> infinity``
    limit from a few solves, whatever the gap.

    The default tolerance (``rtol``) and time scales are relative to
    ``||L||_1`` (the largest absolute column sum of the Liouvillian, about
    its fastest rate): multiplying every energy and rate of a model by ``s``
    gives the same state in the same steps, at times divided by ``s``.

    Attributes
    ----------
    rho0 : array_like, qutip.Qobj or None
        Initial density matrix (``d x d``) or ket ``psi`` (taken as
        ``|psi><psi|``), checked and normalised as by
        :func:`qness.asymptotic_state`.
    atol : float
        Absolute target residual ``||L vec(rho)||_2``, in the model's rate
        units; ``0`` (the default): none, ``rtol`` decides. When positive it
        is the target and ``rtol`` is not used.
    rtol : float
        Target residual relative to the Liouvillian's scale, used when
        ``atol`` is 0: the run stops when ``||L vec(rho)||_2 <= rtol *
        ||L||_1`` (default ``1e-12``). Unit-free. The returned
        ``NESS.residual`` is ``||L vec(rho)||_2`` itself;
        ``info["scale"]`` holds ``||L||_1`` and ``info["target"]`` the
        absolute target used.
    t_max : float or None
        Largest total time before giving up (``ConvergenceError``), in the
        model's time units. Default ``1e9 / ||L||_1`` (about ``1e9``
        operator applications of ``expm_multiply``).
    dt : float or None
        First time step, in the model's time units. Default ``1 / ||L||_1``.
    verify_unique : bool or None
        ``None`` or ``True``: check uniqueness first (see above);
        ``False``: evolve without the check.
    """

    rho0: object = None
    atol: float = 0.0
    rtol: float = 1e-12
    t_max: float | None = None
    dt: float | None = None
    verify_unique: bool | None = None

    def __post_init__(self):
        _positive("atol", self.atol, allow_zero=True)
        _positive("rtol", self.rtol)
        if self.t_max is not None:
            _positive("t_max", self.t_max)
        if self.dt is not None:
            _positive("dt", self.dt)


METHODS = {"auto": Auto, "dense": Dense, "direct": Direct, "krylov": Krylov, "evolve": Evolve}


#: ``qutip.steadystate``'s method names and the qness method that does their job.
_QUTIP_METHODS = {
    "eigen": "dense",
    "svd": "dense",
    "power": "direct",
    "power-gmres": "krylov",
    "power-lgmres": "krylov",
    "power-bicgstab": "krylov",
    "iterative-gmres": "krylov",
    "iterative-lgmres": "krylov",
    "iterative-bicgstab": "krylov",
}


def resolve_method(method, options: dict, registry: dict | None = None, what: str = "method"):
    """Turn ``method`` (instance, name or None) plus keyword ``options`` into an instance.

    Parameters
    ----------
    method : dataclass instance, str or None
        ``None`` means ``"auto"``.
    options : dict
        Settings to replace on the instance.
    registry : dict, optional
        Name -> class of the valid methods (default: the steady-state ones).
    what : str
        Used in error messages.

    Raises
    ------
    ValueError
        For an unknown method name (the message lists the valid ones).
    TypeError
        For an option the method does not have (as Python does for an
        unexpected keyword argument; the message lists the valid ones), or
        a ``method`` that is neither a name nor a method instance.
    """
    registry = METHODS if registry is None else registry
    if method is None:
        method = "auto"
    if isinstance(method, str):
        key = method.lower()
        if key not in registry:
            qutip_name = _QUTIP_METHODS.get(key) if registry is METHODS else None
            hint = f" (QuTiP's {method!r} is qness's {qutip_name!r})" if qutip_name else ""
            raise ValueError(f"unknown {what} {method!r}; valid methods: {', '.join(registry)}{hint}")
        method = registry[key]()
    if not dataclasses.is_dataclass(method) or type(method) not in registry.values():
        raise TypeError(
            f"{what} must be one of {', '.join(c.__name__ for c in registry.values())} or a name; "
            f"got {type(method).__name__}"
        )
    if options:
        valid = [f.name for f in dataclasses.fields(method)]
        bad = [k for k in options if k not in valid]
        if bad:
            raise TypeError(
                f"{type(method).__name__} does not take option(s) {', '.join(bad)}; "
                f"valid options: {', '.join(valid)}"
            )
        method = dataclasses.replace(method, **options)
    return method
