"""Solvers for a model given only by its Liouvillian matrix (:class:`~qness.SuperoperatorModel`).

The matrix is solved directly. Its symmetry sectors are the connected
components of its graph (an edge ``m -- n`` wherever ``L_mn != 0``): the
unknowns of one component never mix with another's, so each component is an
invariant block of ``L``. This finds the U(1) sectors ``n_left - n_right =
q`` of a weakly symmetric model without being told the charge, and splits
them further where the dynamics allows (e.g. pure dephasing). Components
that hold diagonal elements ``rho_ii`` carry trace; each of them holds a
steady state of its own, so more than one means the steady state is not
unique.

The routes that need ``H`` and the jump operators (the no-jump Sylvester
preconditioner of ``Krylov`` and of ``ShiftInvert(inner="krylov")``) are
not available here: ``Krylov`` uses an incomplete LU of the matrix instead
(recorded in ``NESS.info["superoperator"]``), and ``AutoEig`` takes the
sparse-LU shift-invert route.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
import weakref

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from ..model import SuperoperatorModel
from .errors import ConvergenceError, NonUniqueSteadyStateError, UniquenessWarning
from .methods import Auto, Dense, Direct, Evolve, Krylov

__all__ = ["GraphSector", "graph_components", "other_sector", "steady_sector", "spectrum_sectors"]


@dataclasses.dataclass(frozen=True, eq=False)
class GraphSector:
    """A set of Liouville-space unknowns closed under ``L`` (a union of graph components).

    Offers the interface of :class:`qness.symmetry.Sector` that the solvers
    use, for a :class:`~qness.SuperoperatorModel`.

    Attributes
    ----------
    label : int
        0 for the sector holding the steady state(s), 1, 2, ... for others.
    d : int
        Hilbert-space dimension.
    idx : numpy.ndarray
        Column-stacked indices ``i + d j`` of the unknowns, ascending.
    """

    label: int
    d: int
    idx: np.ndarray
    kind: str = "graph"

    @property
    def size(self) -> int:
        """Number of unknowns."""
        return int(self.idx.size)

    @property
    def blocks(self) -> tuple:
        """No Hilbert-space blocks (kept for interface compatibility)."""
        return ()

    def indices(self) -> np.ndarray:
        """Column-stacked indices of the unknowns."""
        return self.idx

    def to_full(self, x: np.ndarray) -> np.ndarray:
        """The ``d x d`` matrix whose sector part is ``x`` (zeros elsewhere)."""
        v = np.zeros(self.d * self.d, dtype=np.complex128)
        v[self.idx] = x
        return v.reshape((self.d, self.d), order="F")

    def from_full(self, rho: np.ndarray) -> np.ndarray:
        """The sector part of a ``d x d`` matrix."""
        return np.asarray(rho, dtype=np.complex128).ravel(order="F")[self.idx]

    def trace_vector(self) -> np.ndarray:
        """``t`` with ``t @ x = Tr(rho)``."""
        i, j = self.idx % self.d, self.idx // self.d
        return (i == j).astype(float)

    def matrix(self, model: SuperoperatorModel) -> sp.csr_array:
        """The sector block of ``model.L``."""
        if self.size == model.L.shape[0]:
            return model.L
        return sp.csr_array(model.L[self.idx][:, self.idx])

    def operator(self, model: SuperoperatorModel) -> spla.LinearOperator:
        """The sector block as a ``LinearOperator`` (through the assembled matrix)."""
        return spla.aslinearoperator(self.matrix(model))

    def sylvester_preconditioner(self, model, shift: float = 0.0, **options):
        """Not available: raises ``ValueError`` (it needs ``H_eff``)."""
        raise ValueError(
            "the Sylvester (no-jump) preconditioner needs H and the jump operators, which a model "
            "given only by its Liouvillian (SuperoperatorModel) does not have; use Direct, Dense, "
            "Krylov(preconditioner='ilu') or ShiftInvert(inner='lu')"
        )


#: :func:`graph_components` of each live model (computed once per solve and its uniqueness check)
_COMPONENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def graph_components(model: SuperoperatorModel) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Connected components of the graph of ``model.L`` (cached per model).

    Returns
    -------
    steady, other : list of numpy.ndarray
        Column-stacked index arrays of the components that hold diagonal
        elements ``rho_ii`` (each carries a steady state) and of the rest,
        each in order of its first index.
    """
    try:
        return _COMPONENTS[model]
    except (KeyError, TypeError):
        pass
    L = model.L
    G = sp.csr_array(abs(L) + abs(L.T))
    n, lab = connected_components(G, directed=False)
    d = model.dim
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.diff(lab[order])) + 1
    comps = sorted(np.split(order, bounds), key=lambda c: int(c[0]))
    steady, other = [], []
    for c in comps:
        c = np.sort(c)
        (steady if np.any(c % d == c // d) else other).append(c)
    try:
        _COMPONENTS[model] = (steady, other)
    except TypeError:  # not weakly referenceable
        pass
    return steady, other


#: Largest number of classes of states (states that ``L`` forces to have equal charge) for which
#: :func:`_charge_of_pairs` looks for the U(1) charges of a Liouvillian given as a matrix (a dense
#: eigenproblem of that size); above it every block of coherences is checked.
CHARGE_CLASSES_MAX = 512


def _charge_of_pairs(model: SuperoperatorModel) -> np.ndarray | None:
    """A generic weak U(1) charge difference ``lambda_i - lambda_j`` of every unknown ``i + d j``.

    ``L`` commutes with ``rho -> exp(i phi Lambda) rho exp(-i phi Lambda)`` for a real diagonal
    ``Lambda`` exactly when ``lambda_i - lambda_j = lambda_k - lambda_l`` wherever
    ``L[i + d j, k + d l] != 0``. The entries with ``j = l`` or ``i = k`` (the Hamiltonian and
    ``H_eff`` parts) only say that two states have equal charges: their classes are the connected
    components of that graph (the magnetisation sectors of a spin chain, the excitation numbers of
    a Jaynes-Cummings model). The other conditions, on the classes, are few; their null space
    (constants aside) holds every such charge, and a random combination of it is zero on a pair
    ``(i, j)`` only where every charge is. The charge found is verified on every entry of ``L``.

    Returns
    -------
    numpy.ndarray or None
        The differences for all ``d^2`` unknowns (zeros where no charge exists), or ``None`` when
        there are more than :data:`CHARGE_CLASSES_MAX` classes or the verification fails (then
        nothing is exempt).
    """
    d = model.dim
    C = sp.coo_array(sp.csr_array(model.L))
    C.sum_duplicates()
    row, col = C.row.astype(np.int64), C.col.astype(np.int64)
    i, j, k, l = row % d, row // d, col % d, col // d
    a = np.concatenate([i[j == l], j[i == k]])
    b = np.concatenate([k[j == l], l[i == k]])
    G = sp.coo_array((np.ones(a.size, dtype=np.int8), (a, b)), shape=(d, d))
    ncls, cls = connected_components(G, directed=False)
    cls = cls.astype(np.int64)  # the keys below reach ncls^4
    if ncls == 1:
        return np.zeros(d * d)
    if ncls > CHARGE_CLASSES_MAX:
        return None
    ci, cj, ck, cl = cls[i], cls[j], cls[k], cls[l]
    rest = ~(((ci == ck) & (cj == cl)) | ((ci == cj) & (ck == cl)))  # 0 = 0
    key = np.unique(((ci[rest] * ncls + cj[rest]) * ncls + ck[rest]) * ncls + cl[rest])
    m = key.size
    cols = np.stack([(key // ncls**digit) % ncls for digit in (3, 2, 1, 0)], axis=1).ravel()
    signs = np.tile([1.0, -1.0, -1.0, 1.0], m)
    q = sp.csr_array((signs, (np.repeat(np.arange(m), 4), cols)), shape=(m, ncls))
    w, V = np.linalg.eigh((q.T @ q).toarray())
    null = V[:, w <= 1e-9 * max(float(w[-1]) if w.size else 1.0, 1.0)]
    lam_cls = null @ np.random.default_rng(7).standard_normal(null.shape[1])
    lam_cls -= lam_cls.mean()  # the constants (always in the null space) carry no charge
    top = float(np.max(np.abs(lam_cls), initial=0.0))
    if top <= 1e-8 * max(float(np.linalg.norm(null)), 1.0):
        return np.zeros(d * d)
    lam = lam_cls[cls]
    # verified on every entry of L: a charge that fails anywhere exempts nothing
    if float(np.max(np.abs(lam[i] - lam[j] - lam[k] + lam[l]), initial=0.0)) > 1e-9 * top:
        return None
    diff = (lam[:, None] - lam[None, :]).ravel(order="F")
    diff[np.abs(diff) <= 1e-8 * top] = 0.0
    return diff


#: Largest ``d^2`` for which :func:`lindblad_form` checks a Liouvillian matrix's complete positivity
#: (a dense Hermitian eigenproblem of that size, 0.2 s at 1024); above it the form is assumed.
LINDBLAD_CHECK_MAX = 1024


def lindblad_form(model: SuperoperatorModel) -> bool | None:
    """Whether the matrix is of Lindblad form (generates completely positive maps), or ``None`` when
    ``d^2`` exceeds :data:`LINDBLAD_CHECK_MAX`.

    A Hermiticity-preserving ``L`` is of Lindblad form exactly when its Choi matrix
    ``C = sum_{ce} |c><e| (x) L(|c><e|)`` is positive on the complement of the maximally entangled
    vector ``omega = sum_i |i>|i>`` (conditional complete positivity; Wolf and Cirac, Commun. Math.
    Phys. 279, 147 (2008)); judged to ``1e-10`` of ``||C||``.
    """
    d = model.dim
    if d * d > LINDBLAD_CHECK_MAX:
        return None
    L = np.asarray(sp.csr_array(model.L).toarray()).reshape(d, d, d, d)  # [b, a, e, c] = L[a+db, c+de]
    C = L.transpose(3, 1, 2, 0).reshape(d * d, d * d)  # rows (c, a), columns (e, b)
    C = 0.5 * (C + C.conj().T)
    omega = np.zeros(d * d)
    omega[np.arange(d) * (d + 1)] = 1.0 / np.sqrt(d)
    P = np.eye(d * d) - np.outer(omega, omega)
    w = np.linalg.eigvalsh(P @ C @ P)
    return bool(w[0] >= -1e-10 * max(float(np.max(np.abs(w))), 1e-300))


def other_sector(model: SuperoperatorModel, sector: GraphSector) -> GraphSector | None:
    """The blocks of ``L`` outside ``sector`` that could hold a zero mode: checked for uniqueness.

    Only blocks without diagonal elements are candidates (the other trace-carrying blocks, if any,
    are the ones :func:`steady_sector` refuses and :func:`qness.steady_states` solves one by one).
    Such a block holds no state, but a zero mode there (a steady coherence,
    or a conserved quantity the trace-carrying block does not see: two invariant subspaces that a
    discrete symmetry exchanges) makes the steady state non-unique. Blocks that lie in a sector
    ``q != 0`` of a weak U(1) (:func:`_charge_of_pairs`) cannot hold one while the ``q = 0``
    sector's steady state is unique (see :func:`qness.symmetry.odd_sector`), and are left out. That
    argument needs a Liouvillian of Lindblad form (the generator of completely positive maps); a
    matrix that is not one (a classical rate equation written on the populations, whose coherences
    have zero rows) can have zero modes there: where :func:`lindblad_form` finds it is not, every
    block is checked (such a 2-level matrix had a kernel of 3 and was solved silently, session-21
    review); above :data:`LINDBLAD_CHECK_MAX` the form is assumed.

    Returns
    -------
    GraphSector or None
        The union of the blocks to check (label ``-1``), or ``None`` if there are none.
    """
    N = model.dim**2
    if sector.size == N:
        return None
    _, other = graph_components(model)
    if not other:  # no block of coherences: no charge to look for
        return None
    charge = _charge_of_pairs(model)
    keep = [c for c in other if charge is None or charge[c[0]] == 0.0]
    if len(keep) < len(other) and lindblad_form(model) is False:
        # the exempted blocks may hold zero modes: say so (a PIQS Dicke Liouvillian is such a
        # matrix, its coherences between j blocks left as zero rows; a rate equation written on the
        # populations with coherences that never decay had a kernel of 3, solved silently)
        warnings.warn(
            f"this Liouvillian matrix is not of Lindblad form (its Choi matrix is not positive off the "
            f"maximally entangled state), so the {len(other) - len(keep)} blocks of coherences that a "
            "U(1) of its pattern rules out for a Lindbladian are not ruled out, and were not checked: "
            "the state returned is the only steady state of the blocks that hold populations, and "
            "there may be stationary coherences besides (qness.asymptotic_state(L, rho0) keeps them)",
            UniquenessWarning,
            stacklevel=4,
        )
    if not keep:
        return None
    return GraphSector(-1, model.dim, np.sort(np.concatenate(keep)))


def steady_sector(model: SuperoperatorModel, symmetry="auto") -> GraphSector:
    """The sector holding the steady state; ``NonUniqueSteadyStateError`` if several do."""
    N = model.dim**2
    if symmetry is None or symmetry is False:
        return GraphSector(0, model.dim, np.arange(N))
    if symmetry != "auto":
        raise ValueError(
            "symmetry for a Liouvillian-only model must be 'auto' (sectors from the matrix's graph) "
            f"or None (the whole matrix); got {symmetry!r}"
        )
    steady, _ = graph_components(model)
    if len(steady) > 1:
        raise NonUniqueSteadyStateError(
            f"the Liouvillian splits into {len(steady)} invariant blocks that each hold diagonal "
            f"elements (sizes {[len(c) for c in steady][:8]}), so it has at least {len(steady)} steady "
            "states; use qness.steady_states(L) for one per block, or qness.asymptotic_state(L, rho0) "
            "for the one reached from an initial state rho0",
            subspaces=steady,
        )
    return GraphSector(0, model.dim, steady[0])


def spectrum_sectors(model: SuperoperatorModel, symmetry="auto") -> list[GraphSector]:
    """Sectors for :func:`qness.spectrum`: label 0 holds every trace-carrying component."""
    N = model.dim**2
    if symmetry is None or symmetry is False:
        return [GraphSector(0, model.dim, np.arange(N))]
    if symmetry != "auto":
        raise ValueError(
            "symmetry for a Liouvillian-only model must be 'auto' (sectors from the matrix's graph) "
            f"or None (the whole matrix); got {symmetry!r}"
        )
    steady, other = graph_components(model)
    out = [GraphSector(0, model.dim, np.sort(np.concatenate(steady)))]
    out += [GraphSector(k + 1, model.dim, c) for k, c in enumerate(other)]
    return out


def adapt_method(method):
    """``(method, note)``: a method that works on a bare matrix (Krylov's Sylvester -> ILU)."""
    if isinstance(method, Krylov) and method.preconditioner == "sylvester":
        return dataclasses.replace(method, preconditioner="ilu", matrix_free=False, precision="auto"), (
            "Krylov's Sylvester preconditioner needs H and the jumps; used preconditioner='ilu'"
        )
    return method, None


def solve(model: SuperoperatorModel, method, x0, symmetry, t0, sector=None):
    """:func:`qness.steady_state` for a :class:`~qness.SuperoperatorModel`."""
    from . import steady as _st

    if isinstance(method, Evolve):
        # the LU check of the trace-augmented matrix before integrating, as for a Lindblad model
        # (a matrix with a kernel of 3 was integrated to one of its states silently, session 21)
        return _st._evolve(model, method, x0, t0, uniqueness=_st._evolve_uniqueness(model, method))
    if sector is None:
        sector = steady_sector(model, symmetry)
    system = _st._System(model, sector, weight=model.scale())
    if x0 is not None and isinstance(method, (Dense, Direct)):
        raise ValueError(
            f"x0 is not used by {type(method).__name__} (a direct solve); "
            "it is used by Krylov, Evolve and Auto"
        )
    x0 = _st._warm_start(x0, sector, model)
    note = {}
    if isinstance(method, Auto):
        chosen, note = _st._auto_choice(method, system)
        system.lu_fallback = True  # as for Lindblad models (_System.stall_check_runs)
    else:
        chosen = method
    chosen, why = adapt_method(chosen)
    if why:
        note["superoperator"] = why
    try:
        x, info = _st._DISPATCH[type(chosen)](system, chosen, x0)
    except ConvergenceError as exc:
        if not isinstance(method, Auto):
            raise
        if system.lu_fallback_impossible():
            raise
        note["auto"] = note.get("auto", "") + f"; Krylov failed ({exc}), fell back to Direct"
        chosen = Direct()
        x, info = _st._solve_direct(system, chosen, x0)
    _st._odd_sector_check(system, chosen, x, info)
    info.update(note)
    return _st._finish(model, system, x, chosen, info, t0)


def solve_all(model: SuperoperatorModel, method):
    """:func:`qness.steady_states` for a :class:`~qness.SuperoperatorModel`: one state per block."""
    steady, _ = graph_components(model)
    out = []
    for c in steady:
        sector = GraphSector(0, model.dim, c)
        ness = solve(model, method, None, "auto", time.perf_counter(), sector=sector)
        ness.info["subspace"] = c
        out.append(ness)
    return out
