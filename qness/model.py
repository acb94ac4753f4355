"""Lindblad models as frozen data, and a builder for chains.

The master equation (hbar = 1) is

    d rho/dt = -i [H, rho] + sum_k ( L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho} ),

with ``L_k = sqrt(rate_k) * A_k``. A model keeps ``rate_k`` and ``A_k`` apart
(as :class:`Jump`) so that thermodynamic analysis can read which bath each
jump belongs to. The Liouvillian is derived from the model, never stored.

Models as data, matrices on demand: a model built from local terms (by
:class:`ModelBuilder` or a named chain model) keeps them as
:attr:`LindbladModel.terms` (a :class:`~qness.terms.ChainTerms`), and its
``prod(dims)``-dimensional matrices -- ``model.H``, each ``Jump.op``,
``Drive.op``, ``U1Symmetry.charges``, ``Z2Symmetry.parities`` -- are rendered
from them on first access and cached. These fields are
dataclass fields backed by a data descriptor (:class:`qness._lazy.DeferredField`):
the constructor stores either a matrix or a deferred description, reading the
attribute renders a deferred value once and caches it on that value (so
copies made by :meth:`LindbladModel.replace` share it); pickles carry the
description, not the caches. A chain too long
for its matrices (``boundary_driven_xxz(100, ...)``) builds in milliseconds,
and reading ``model.H`` raises :class:`~qness.InsufficientMemoryError` naming
the dimension instead of attempting the allocation. Symmetries declared on
such a model are verified on its local terms.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from ._lazy import Deferred, DeferredField, LazyFieldsMixin, LocalDiagonal, LocalSum, local_product, peek, raw
from .operators import _check_dims, _is_qobj, as_csr, local_op
from .terms import ChainTerms, LocalTerm

__all__ = [
    "Jump",
    "Bath",
    "Drive",
    "U1Symmetry",
    "Z2Symmetry",
    "LindbladModel",
    "ModelBuilder",
    "from_qutip",
    "from_liouvillian",
    "SuperoperatorModel",
    "as_model",
    "bose_occupation",
    "fermi_occupation",
]


#: Allowed entries of :attr:`LindbladModel.site_kinds`.
SITE_KINDS = ("boson", "spin", "fermion", "other")


def _check_rate(rate, name="rate") -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {rate!r}") from None
    if not math.isfinite(r):
        raise ValueError(f"{name} must be finite, got {rate!r}")
    if r < 0:
        raise ValueError(f"{name} must be non-negative, got {rate!r}")
    return r


@dataclass(frozen=True)
class Jump(LazyFieldsMixin):
    """One jump operator ``L = sqrt(rate) * op``.

    Attributes
    ----------
    op : scipy.sparse.csr_array
        The operator ``A`` on the full Hilbert space (for a model built from
        local terms, rendered from them on first access and cached).
    rate : float
        Non-negative rate (units of energy, hbar = 1).
    bath : str or None
        Label of the bath this jump belongs to (``None``: no bath).
    label : str
        Human-readable name, e.g. ``"sigma-_0"``.
    """

    op: sp.csr_array = DeferredField()
    rate: float = 1.0
    bath: str | None = None
    label: str = ""

    @property
    def L(self) -> sp.csr_array:
        """The full jump operator ``sqrt(rate) * op``."""
        return sp.csr_array(math.sqrt(self.rate) * self.op)

    def __repr__(self) -> str:
        return f"Jump(op={peek(self, 'op')!r}, rate={self.rate!r}, bath={self.bath!r}, label={self.label!r})"


@dataclass(frozen=True)
class Bath:
    """A reservoir that jump operators are attributed to.

    Attributes
    ----------
    name : str
        The label the jumps' ``bath`` fields refer to (e.g. ``"left"``).
    T : float or None
        Temperature (units of energy, k_B = 1), ``0 <= T <= inf``; ``None``
        if not thermal. ``T = math.inf`` declares an infinite-temperature
        bath (equal up and down rates, to be given in the jumps): it takes
        heat without producing entropy (``Q / T = 0``).
    mu : float or None
        Chemical potential (units of energy); ``None`` if not given.
    """

    name: str
    T: float | None = None
    mu: float | None = None


@dataclass(frozen=True)
class Drive(LazyFieldsMixin):
    """A coherent drive term ``amplitude * op`` that is part of ``H``.

    Kept so that analysis can separate the drive (work source) from the
    system's own energy ``H0 = H - sum(drives)``.

    Attributes
    ----------
    op : scipy.sparse.csr_array, shape (d, d)
        The Hermitian drive operator, amplitude included, on the full space.
        For a model built from local terms it is rendered on first access.
    label : str
        A name for the drive (free text, e.g. ``"pump"``).
    """

    op: sp.csr_array = DeferredField()
    label: str = ""

    def __repr__(self) -> str:
        return f"Drive(op={peek(self, 'op')!r}, label={self.label!r})"


@dataclass(frozen=True)
class U1Symmetry(LazyFieldsMixin):
    """A weak U(1) symmetry: charge ``N = diag(charges)`` with ``[H, N] = 0``.

    Each jump carries integer charge ``q_k`` with ``[N, L_k] = q_k L_k``.
    The Liouvillian splits into sectors of ``n_left - n_right``.

    Attributes
    ----------
    charges : numpy.ndarray of int, shape (d,)
        Eigenvalues of ``N`` on the computational basis (``N`` must be
        diagonal in it). For a charge declared as a sum of local charges
        (:meth:`ModelBuilder.add_u1`) it is rendered on first access.
    jump_charges : tuple of int
        ``q_k`` for each jump of the model, in order.
    name : str
        Name of the charge (e.g. ``"magnetisation"``).
    """

    charges: np.ndarray = DeferredField()
    jump_charges: tuple[int, ...]
    name: str = "N"

    @property
    def local_charges(self) -> tuple | None:
        """``(q_0, q_1, ...)``, the local charge vectors when ``N = sum_i q_i``
        was declared that way (else ``None``)."""
        v = raw(self, "charges")
        return v.local if isinstance(v, LocalDiagonal) and v.mode == "sum" else None

    def __repr__(self) -> str:
        return (
            f"U1Symmetry(charges={peek(self, 'charges')!r}, jump_charges={self.jump_charges!r}, "
            f"name={self.name!r})"
        )


@dataclass(frozen=True)
class Z2Symmetry(LazyFieldsMixin):
    """A weak Z2 symmetry: parity ``P = diag(parities)`` (entries +-1), ``[H, P] = 0``.

    Each jump has parity ``p_k = +-1`` with ``P L_k P = p_k L_k``.

    Attributes
    ----------
    parities : numpy.ndarray of int, shape (d,)
        Diagonal of ``P`` (entries +-1) on the computational basis. Rendered
        on first access when declared as a product of local parities
        (:meth:`ModelBuilder.add_z2`).
    jump_parities : tuple of int
        ``p_k`` (+-1) for each jump of the model, in order.
    name : str
        Name of the parity (e.g. ``"P"``).
    """

    parities: np.ndarray = DeferredField()
    jump_parities: tuple[int, ...]
    name: str = "P"

    @property
    def local_parities(self) -> tuple | None:
        """``(p_0, p_1, ...)`` when ``P = prod_i p_i`` was declared that way (else ``None``)."""
        v = raw(self, "parities")
        return v.local if isinstance(v, LocalDiagonal) and v.mode == "prod" else None

    def __repr__(self) -> str:
        return (
            f"Z2Symmetry(parities={peek(self, 'parities')!r}, jump_parities={self.jump_parities!r}, "
            f"name={self.name!r})"
        )


#: ``LindbladModel.H_eff`` of each live model (models are frozen: derive, never mutate)
_H_EFF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class LindbladModel(LazyFieldsMixin):
    """A Lindblad master equation (frozen; derive, never mutate).

    Attributes
    ----------
    dims : tuple of int
        Local dimensions, site 0 the leftmost tensor factor.
    H : scipy.sparse.csr_array
        Hermitian Hamiltonian (complex128, size ``prod(dims)``), including
        any drive terms. For a model with :attr:`terms` it is rendered from
        them on first access and cached (raises
        :class:`~qness.InsufficientMemoryError` when it cannot fit).
    jumps : tuple of Jump
        Jump operators ``L_k = sqrt(rate_k) A_k``.
    baths : Mapping[str, Bath]
        Reservoirs named by the jumps' ``bath`` labels.
    drives : tuple of Drive
        Coherent drive terms contained in ``H``.
    symmetries : tuple
        Declared :class:`U1Symmetry` / :class:`Z2Symmetry` objects.
    name : str
        Model name.
    params : Mapping
        Parameters the model was built from.
    site_kinds : tuple of str
        What each site is, one of ``"boson"`` (a truncated Fock space
        ``n = 0, 1, ...``), ``"spin"``, ``"fermion"``, ``"other"``; empty
        when unknown. Outputs that only make sense for modes
        (:func:`qness.analysis.photon_number`, ``g2``, ``wigner``) refuse
        sites declared otherwise, and :func:`qness.steady_state` warns
        (:class:`~qness.TruncationWarning`) when a ``"boson"`` site's
        highest Fock level is populated.
    qobj_dims : object
        QuTiP dimensions of the operators the model was built from when
        they are not a tensor product of ``dims`` (an excitation-number
        restricted space, :func:`qutip.enr_destroy`); ``dims`` is then the
        flat ``(d,)`` and results convert back with these. ``None``
        otherwise.
    terms : ChainTerms or None
        The model as local terms on the chain (:class:`~qness.terms.ChainTerms`:
        ``H = sum`` of the Hamiltonian terms, jump ``k`` is
        ``terms.jumps[k]``), for models built from local terms
        (:class:`ModelBuilder` without full-space parts, the named chain
        models); ``None`` for models given by matrices (:func:`from_qutip`,
        ``add_hamiltonian``, ``add_collective_jump``). Solvers that never
        form the full matrices (:mod:`qness.tn`) read the model from it.

    Notes
    -----
    Build one with :func:`from_qutip`, :class:`ModelBuilder`,
    :meth:`from_terms` or a named model in :mod:`qness.models`; the
    constructor validates shapes, finiteness, Hermiticity of ``H`` and the
    rates, and raises ``ValueError`` naming the offending argument. Given
    ``terms`` together with matrices, it checks that they agree.
    """

    dims: tuple[int, ...]
    H: sp.csr_array = DeferredField()
    jumps: tuple[Jump, ...] = ()
    baths: Mapping[str, Bath] = field(default_factory=dict)
    drives: tuple[Drive, ...] = ()
    symmetries: tuple = ()
    name: str = "model"
    params: Mapping = field(default_factory=dict)
    site_kinds: tuple = ()
    qobj_dims: object = None
    terms: ChainTerms | None = None

    def __post_init__(self):
        dims = _check_dims(self.dims)
        kinds = tuple(self.site_kinds or ())
        if kinds and len(kinds) != len(dims):
            raise ValueError(f"site_kinds has {len(kinds)} entries but dims {dims} has {len(dims)} sites")
        for k in kinds:
            if k not in SITE_KINDS:
                raise ValueError(f"site_kinds entries must be one of {SITE_KINDS}, got {k!r}")
        object.__setattr__(self, "site_kinds", kinds)
        d = math.prod(dims)
        H = _operator_field(raw(self, "H"), "H", dims)
        _check_hermitian(H, "H")
        jumps = []
        for k, j in enumerate(self.jumps):
            if not isinstance(j, Jump):
                raise ValueError(f"jumps[{k}] must be a qness.Jump, got {type(j).__name__}")
            op = _operator_field(raw(j, "op"), f"jumps[{k}].op", dims)
            rate = _check_rate(j.rate, f"jumps[{k}].rate")
            jumps.append(Jump(op, rate, j.bath, j.label or f"L{k}"))
        baths = dict(self.baths)
        for name, b in baths.items():
            if not isinstance(b, Bath):
                raise ValueError(f"baths[{name!r}] must be a qness.Bath")
            if b.T is not None and (math.isnan(b.T) or b.T < 0):
                raise ValueError(f"baths[{name!r}].T must be >= 0 (math.inf allowed), got {b.T!r}")
            if b.mu is not None and not math.isfinite(b.mu):
                raise ValueError(f"baths[{name!r}].mu must be finite, got {b.mu!r}")
        for j in jumps:
            if j.bath is not None and j.bath not in baths:
                baths[j.bath] = Bath(j.bath)
        drives = []
        for k, dr in enumerate(self.drives):
            op = _operator_field(raw(dr, "op"), f"drives[{k}].op", dims)
            _check_hermitian(op, f"drives[{k}].op")
            drives.append(Drive(op, dr.label or f"drive{k}"))
        for s in self.symmetries:
            _check_symmetry_shape(s, d, len(jumps))
        if self.terms is not None:
            _check_terms(self.terms, dims, H, jumps)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "H", H)
        object.__setattr__(self, "jumps", tuple(jumps))
        object.__setattr__(self, "baths", MappingProxyType(baths))
        object.__setattr__(self, "drives", tuple(drives))
        object.__setattr__(self, "symmetries", tuple(self.symmetries))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["baths"] = dict(state["baths"])  # mappingproxy cannot be pickled
        state["params"] = dict(state["params"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["baths"] = MappingProxyType(state["baths"])
        state["params"] = MappingProxyType(state["params"])
        self.__dict__.update(state)

    @classmethod
    def from_terms(
        cls,
        terms: ChainTerms,
        *,
        baths=None,
        drives=(),
        symmetries=(),
        name: str = "model",
        params=None,
        site_kinds=(),
        _hermitian_checked: bool = False,
    ) -> LindbladModel:
        """A model given by its local terms; ``H`` and the jump operators are rendered on demand.

        Parameters
        ----------
        terms : ChainTerms
            Hamiltonian terms and jumps (with their rates, baths and labels).
        baths : mapping of str to Bath, optional
            Reservoirs (those named by jumps but missing are added without
            temperature).
        drives, symmetries, name, params, site_kinds
            As for :class:`LindbladModel`.

        Returns
        -------
        LindbladModel
            With ``model.terms is terms``.

        Raises
        ------
        TypeError
            If ``terms`` is not a :class:`~qness.terms.ChainTerms`.
        ValueError
            If a Hamiltonian term group is not Hermitian, or as for the constructor.
        """
        if not isinstance(terms, ChainTerms):
            raise TypeError(f"terms must be a qness.terms.ChainTerms, got {type(terms).__name__}")
        dims = terms.dims
        H = LocalSum(dims, terms.hamiltonian, what="H", hermitian_checked=_hermitian_checked)
        jumps = tuple(
            Jump(
                LocalSum(dims, (LocalTerm(j.sites, j.ops, 1.0),), what=f"the operator of jump {j.label!r}"),
                j.rate,
                j.bath,
                j.label or f"L{k}",
            )
            for k, j in enumerate(terms.jumps)
        )
        return cls(
            dims=dims,
            H=H,
            jumps=jumps,
            baths=dict(baths or {}),
            drives=tuple(drives),
            symmetries=tuple(symmetries),
            name=name,
            params=dict(params or {}),
            site_kinds=tuple(site_kinds or ()),
            terms=terms,
        )

    @property
    def dim(self) -> int:
        """Hilbert-space dimension ``prod(dims)``."""
        return math.prod(self.dims)

    @property
    def c_ops(self) -> list[sp.csr_array]:
        """The full jump operators ``sqrt(rate_k) A_k`` (QuTiP's ``c_ops``)."""
        return [j.L for j in self.jumps if j.rate > 0]

    @property
    def H0(self) -> sp.csr_array:
        """``H`` without the coherent drive terms."""
        out = self.H.copy()
        for dr in self.drives:
            out = out - dr.op
        return sp.csr_array(out)

    def H_eff(self) -> sp.csr_array:
        """Non-Hermitian ``H_eff = H - i/2 sum_k L_k^+ L_k`` (csr_array, a fresh copy per call)."""
        # computed once per model (a steady-state solve asked for it four times: 6 of the 35 ms of a
        # 22,500-unknown sparse-LU solve), kept while the model lives, never pickled; checked
        # against a fingerprint of H and the jumps, whose arrays a user can still change in place
        # (the new-user review did, with m.H.data[:] = ..., and got the old H's state)
        key = self._operator_fingerprint()
        cached = _H_EFF.get(self)
        if cached is None or cached[0] != key:
            # sum_k rate_k A_k^+ A_k = B^+ B with B the jumps sqrt(rate_k) A_k stacked: one product
            # (a product and a sum per jump took 1-3 ms of the 5 ms solve of a three-qubit fridge)
            live = [np.sqrt(j.rate) * sp.csr_array(j.op) for j in self.jumps if j.rate > 0]
            if live:
                B = sp.csr_array(sp.vstack(live, format="csr"))
                K = sp.csr_array(B.T.conj() @ B)
            else:
                K = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
            out = sp.csr_array(self.H - 0.5j * K)
            out.sum_duplicates()
            out.sort_indices()
            cached = _H_EFF[self] = (key, out)
        return cached[1].copy()

    def _operator_fingerprint(self) -> tuple:
        """Position-weighted sums of the entries and indices of ``H`` and the jump operators, and the
        rates: changes when any of them is changed in place (``O(nnz)``, no copies)."""
        out = []
        for op, rate in [(self.H, None)] + [(j.op, j.rate) for j in self.jumps]:
            A = op if sp.issparse(op) else sp.csr_array(op)
            data = np.asarray(getattr(A, "data", ()))
            w = np.linspace(1.0, 2.0, data.size)
            idx = np.asarray(getattr(A, "indices", ()), dtype=float)
            entries = complex(data @ w) if data.size else 0j
            out.append((rate, data.size, entries, float(idx @ w[: idx.size]) if idx.size else 0.0))
        return tuple(out)

    def u1(self) -> U1Symmetry | None:
        """The first declared U(1) symmetry, or ``None``."""
        for s in self.symmetries:
            if isinstance(s, U1Symmetry):
                return s
        return None

    def z2(self) -> Z2Symmetry | None:
        """The first declared Z2 symmetry, or ``None``."""
        for s in self.symmetries:
            if isinstance(s, Z2Symmetry):
                return s
        return None

    def replace(self, **changes) -> LindbladModel:
        """A copy with some fields replaced (validated again).

        Matrices not yet rendered stay unrendered. Replacing ``dims``, ``H``
        or ``jumps`` without giving ``terms`` drops :attr:`terms` (the local
        description no longer describes the model).
        """
        if "terms" not in changes and {"dims", "H", "jumps"} & set(changes):
            changes = {**changes, "terms": None}
        kw = {
            f: raw(self, f)
            for f in (
                "dims",
                "H",
                "jumps",
                "baths",
                "drives",
                "symmetries",
                "name",
                "params",
                "site_kinds",
                "qobj_dims",
                "terms",
            )
        }
        kw.update(changes)
        return LindbladModel(**kw)

    def to_qutip(self):
        """``(H, c_ops)`` as ``qutip.Qobj`` with chain dims, or the model's own QuTiP dims (ENR)."""
        from .operators import to_qobj

        if self.qobj_dims is not None:  # e.g. an ENR space: the dims the state's to_qobj keeps too
            import qutip

            def conv(M):
                return qutip.Qobj(sp.csr_matrix(M), dims=self.qobj_dims)

            return conv(self.H), [conv(c) for c in self.c_ops]
        return to_qobj(self.H, self.dims), [to_qobj(c, self.dims) for c in self.c_ops]

    def __repr__(self) -> str:
        return (
            f"LindbladModel(name={self.name!r}, dims={self.dims}, dim={self.dim}, "
            f"jumps={len(self.jumps)}, baths={list(self.baths)})"
        )


def _check_hermitian(H, name, hint: str = "put dissipation into jump operators, not into H"):
    if isinstance(H, LocalSum):
        _check_hermitian_local(H, name)
        return
    err, scale = _local_hermitian_error(H)
    if err > 1e-10 * scale:
        raise ValueError(
            f"{name} is not Hermitian: max |h - h^+| = {err:.3g} (max |h| = {scale:.3g}); {hint}"
        )


def _local_hermitian_error(M) -> tuple[float, float]:
    if sp.issparse(M):
        diff = M - M.T.conj()
        err = float(np.max(np.abs(diff.data))) if diff.nnz else 0.0
        scale = float(np.max(np.abs(M.data))) if M.nnz else 0.0
    else:
        err = float(np.max(np.abs(M - M.conj().T), initial=0.0))
        scale = float(np.max(np.abs(M), initial=0.0))
    # relative to the operator's own entries (no floor of 1: an anti-Hermitian part of 10 % passed in
    # units where H is 1e-12)
    return err, scale


def _check_hermitian_local(op: LocalSum, name):
    """Hermiticity of a sum of local terms, checked per set of sites (never rendering the sum).

    Each group of terms on the same sites must be Hermitian; if one is not
    (terms on different sites that only cancel together), the rendered
    operator is checked instead when it fits in memory.
    """
    if op.hermitian_checked:
        return
    for M in op.matrices:
        _check_hermitian(M, name)
    for sites, M in op.groups().items():
        err, scale = _local_hermitian_error(M)
        if err > 1e-10 * scale:
            from .solvers.errors import InsufficientMemoryError

            try:
                full = op.render()
            except InsufficientMemoryError:
                raise ValueError(
                    f"{name} is not Hermitian: its terms on sites {sites} give max |h - h^+| = {err:.3g}; "
                    "put dissipation into jump operators, not into H"
                ) from None
            _check_hermitian(full, name)
            return


def _operator_field(value, name, dims):
    """Validate the value of an operator field: a deferred :class:`LocalSum` or a matrix."""
    d = math.prod(dims)
    if isinstance(value, Deferred):
        if not isinstance(value, LocalSum) or value.dims != tuple(dims):
            raise ValueError(f"{name} is a deferred operator on dims {value.dims}, the model has dims {dims}")
        return value
    op = as_csr(value, name)
    if name == "H" and op.shape[0] != op.shape[1]:
        raise ValueError(f"H must be square, got shape {op.shape}")
    if op.shape != (d, d):
        if name == "H":
            raise ValueError(f"H has shape {op.shape} but dims {dims} give dimension {d}")
        raise ValueError(f"{name} has shape {op.shape}, expected ({d}, {d})")
    return op


def _same_objects(a, b) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _same_factors(a, b) -> bool:
    return a.sites == b.sites and len(a.ops) == len(b.ops) and all(x is y for x, y in zip(a.ops, b.ops))


def _check_terms(terms, dims, H, jumps):
    """``terms`` must describe ``H`` and the jumps: by construction, or checked numerically."""
    if not isinstance(terms, ChainTerms):
        raise TypeError(f"terms must be a qness.terms.ChainTerms or None, got {type(terms).__name__}")
    if terms.dims != tuple(dims):
        raise ValueError(f"terms.dims {terms.dims} differ from the model's dims {dims}")
    if len(terms.jumps) != len(jumps):
        raise ValueError(f"terms has {len(terms.jumps)} jumps, the model has {len(jumps)}")
    for k, (t, j) in enumerate(zip(terms.jumps, jumps)):
        if not math.isclose(t.rate, j.rate, rel_tol=1e-12, abs_tol=0.0):
            raise ValueError(f"terms.jumps[{k}].rate = {t.rate!r} but jumps[{k}].rate = {j.rate!r}")
    # By construction (from_terms, ModelBuilder, replace): the deferred values hold these terms.
    if isinstance(H, LocalSum) and not H.matrices and _same_objects(H.terms, terms.hamiltonian):
        ok = True
        for t, j in zip(terms.jumps, jumps):
            op = raw(j, "op")
            if not (isinstance(op, LocalSum) and not op.matrices and len(op.terms) == 1):
                ok = False
                break
            lt = op.terms[0]
            if not (_same_factors(lt, t) and lt.coeff == 1):
                ok = False
                break
        if ok:
            return
    # Given as matrices: compare with the rendered terms.
    pairs = [("H", terms.render_hamiltonian(), H)]
    pairs += [(f"jumps[{k}].op", terms.render_jump(k), raw(j, "op")) for k, j in enumerate(jumps)]
    for name, ref, val in pairs:
        val = val.render() if isinstance(val, Deferred) else val
        diff = sp.csr_array(ref - val)
        err = float(np.max(np.abs(diff.data), initial=0.0))
        scale = float(np.max(np.abs(ref.data), initial=0.0))
        if err > 1e-12 * scale:
            raise ValueError(f"terms do not describe the model: {name} differs from its terms by {err:.3g}")


def _deferred_or_array(s, name):
    v = raw(s, name)
    return v if isinstance(v, Deferred) else np.asarray(v)


def _check_symmetry_shape(s, d, njumps):
    if isinstance(s, U1Symmetry):
        ch = _deferred_or_array(s, "charges")
        if ch.shape != (d,):
            raise ValueError(f"U1Symmetry.charges must have shape ({d},), got {ch.shape}")
        if len(s.jump_charges) != njumps:
            raise ValueError(
                f"U1Symmetry.jump_charges has {len(s.jump_charges)} entries, the model has {njumps} jumps"
            )
    elif isinstance(s, Z2Symmetry):
        p = _deferred_or_array(s, "parities")
        if isinstance(p, LocalDiagonal):
            values = np.concatenate(p.local) if p.local else np.ones(1)
        else:
            values = p
        if p.shape != (d,) or not np.all(np.isin(values, (-1, 1))):
            raise ValueError(f"Z2Symmetry.parities must be +-1 with shape ({d},)")
        if len(s.jump_parities) != njumps:
            raise ValueError(
                f"Z2Symmetry.jump_parities has {len(s.jump_parities)} entries, the model has {njumps} jumps"
            )
    else:
        raise ValueError(f"symmetries must be U1Symmetry or Z2Symmetry, got {type(s).__name__}")


def from_qutip(
    H,
    c_ops=(),
    *,
    dims=None,
    rates=None,
    baths=None,
    bath_labels=None,
    site_kinds=(),
    name="model",
) -> LindbladModel:
    """Make a :class:`LindbladModel` from a Hamiltonian and collapse operators.

    Parameters
    ----------
    H : qutip.Qobj, numpy.ndarray or scipy sparse
        Hermitian Hamiltonian (hbar = 1), time-independent. QuTiP's
        time-independent containers are accepted: a list of ``Qobj``
        ``[H0, H1, ...]`` (summed, as QuTiP does), terms ``[H1, c]`` with a
        number ``c`` (``c * H1``, as in QuTiP's list format) and a constant
        ``qutip.QobjEvo`` (``isconstant``, or every coefficient a constant;
        evaluated).
    c_ops : sequence
        Jump operators ``L_k`` in the form QuTiP uses (rates already inside,
        ``L_k = sqrt(rate_k) A_k``), unless ``rates`` is given. Each entry
        may also be a list of ``Qobj`` (summed) or a constant ``QobjEvo``.
        An entry ``[A, c]`` or ``(A, c)`` with a number ``c`` is QuTiP's
        list format, the jump ``L = c A`` (rate ``|c|**2``, **not** rate
        ``c``); give rates with ``rates=``.
    dims : sequence of int, optional
        Local dimensions; taken from the ``Qobj`` among ``H`` and ``c_ops``,
        else ``(d,)``; QuTiP's ``[[2, 4], [2, 4]]`` is read as ``(2, 4)``.
        Every ``Qobj`` given must have the same dims as the others and, with
        several tensor factors, as ``dims``; a ``Qobj`` on one flat space
        (like an array) is split by an explicit ``dims``.
        A ``Qobj`` whose dims are not a tensor product (an
        excitation-number restricted space, :func:`qutip.enr_destroy`) is
        solved as one flat space of its dimension, and results convert
        back to its own dims (:attr:`LindbladModel.qobj_dims`).
    rates : sequence of float or 2-D array_like, optional
        A sequence: ``c_ops[k]`` is ``A_k`` and the jump is
        ``sqrt(rates[k]) A_k``. A square matrix ``gamma`` (Kossakowski form,
        correlated decay): the dissipator is
        ``sum_ij gamma_ij (A_i rho A_j^+ - 1/2 {A_j^+ A_i, rho})``; ``gamma``
        must be Hermitian positive semi-definite and is diagonalised,
        ``gamma = U diag(g) U^+``, into jumps ``sqrt(g_k) sum_i U_ik A_i``
        (labelled ``"gamma_k"``; zero eigenvalues are dropped); a diagonal
        ``gamma`` keeps the order of ``c_ops``.
    baths : mapping or sequence of str, optional
        A mapping ``{name: T}``, ``{name: (T, mu)}``, ``{name: {"T": T, "mu": mu}}``
        or ``{name: qness.Bath}`` declaring the reservoirs (temperatures for
        :mod:`qness.analysis.thermo`; ``T=None`` for a non-thermal bath,
        ``T=math.inf`` for an infinite-temperature one). For
        backward compatibility a sequence of str is taken as
        ``bath_labels``. With a mapping, ``bath_labels`` is required and
        may name only the baths declared here.
    bath_labels : sequence of str or None, optional
        The bath of each entry of ``c_ops`` (``None``: no bath). With a
        rate matrix, entries of different baths must not be correlated
        (``gamma_ij = 0``). Without ``baths``, each label makes a bath with
        no temperature.
    site_kinds : sequence of str, optional
        See :attr:`LindbladModel.site_kinds` (e.g. ``("boson", "spin")`` for
        a cavity and a qubit).
    name : str
        Model name.

    Returns
    -------
    LindbladModel

    Raises
    ------
    TypeError
        For time-dependent input (a non-constant ``QobjEvo``, or QuTiP's list
        format with an ``[op, coefficient]`` term: use the rotating frame, or
        :func:`qness.floquet_steady_state` for a periodic drive),
        a superoperator passed as ``H`` or as a jump, an argument that is
        not an operator, or ``dims`` that is not a sequence (e.g. an int).
    ValueError
        On mismatched shapes or dims (also ``dims`` that contradict a
        ``Qobj``'s tensor factors), non-square or non-Hermitian ``H``,
        non-finite entries (NaN or inf, also inside a ``Qobj``), negative
        rates or a rate matrix that is not Hermitian positive semi-definite;
        ``baths`` declared without ``bath_labels``, or a label not among them.

    Examples
    --------
    >>> import qutip, qness
    >>> m = qness.from_qutip(qutip.sigmaz(), [qutip.sigmam()])
    >>> m.dims
    (2,)
    """
    from .operators import time_dependence

    H = _static_operator(H, "H")
    dims = _dims_argument(dims)
    Hm = as_csr(H, "H")
    if Hm.shape[0] != Hm.shape[1]:
        raise ValueError(f"H must be square, got shape {Hm.shape}")
    reason = time_dependence(c_ops)
    if reason is not None and not isinstance(c_ops, (list, tuple)):
        raise TypeError(f"c_ops is time-dependent ({reason}); {_time_hint()}")
    if _is_qobj(c_ops) or isinstance(c_ops, (str, bytes)) or not hasattr(c_ops, "__iter__"):
        raise TypeError(f"c_ops must be a list of operators, got {type(c_ops).__name__}")
    c_ops = [_static_operator(c, f"c_ops[{k}]") for k, c in enumerate(c_ops)]
    for k, c in enumerate(c_ops):
        if _is_super(c):
            raise TypeError(
                f"c_ops[{k}] is a superoperator (Qobj of type 'super'); from_qutip builds a Lindblad "
                "model from jump operators. For c_ops that mix jump operators and superoperators (as "
                "qutip.mesolve takes them), pass (H, c_ops) to qness.steady_state or "
                "qness.as_model (the superoperators are added to the Liouvillian), or use "
                "qness.from_liouvillian(qutip.liouvillian(H), c_ops)"
            )
    named = [("H", H)] + [(f"c_ops[{k}]", c) for k, c in enumerate(c_ops)]
    dims, qobj_dims = _qobj_space(named, dims)
    if dims is None:
        dims = (Hm.shape[0],)
    if isinstance(baths, (list, tuple)) and bath_labels is None:
        if not all(lab is None or isinstance(lab, str) for lab in baths):
            raise TypeError(
                f"baths: a sequence is read as the bath label (str or None) of each c_op, got {baths!r}; "
                "to give temperatures, pass baths={name: T, ...} and bath_labels=[name of each c_op]"
            )
        baths, bath_labels = None, baths
    if bath_labels is not None:
        bath_labels = list(bath_labels)
        if len(bath_labels) != len(c_ops):
            raise ValueError(f"bath_labels has {len(bath_labels)} entries but there are {len(c_ops)} c_ops")
        for k, lab in enumerate(bath_labels):
            if lab is not None and not isinstance(lab, str):
                raise TypeError(f"bath_labels[{k}] must be a str or None, got {type(lab).__name__}")
    bath_map = _bath_mapping(baths)
    if bath_map and bath_labels is None:
        # every jump would be left out of its bath: zero heat currents and entropy production
        raise ValueError(
            f"baths declares {sorted(bath_map)} but bath_labels is not given, so no c_op belongs to any "
            "of them; pass bath_labels=[the bath of each c_op, or None]"
        )
    if bath_map and bath_labels is not None:
        unknown = sorted({lab for lab in bath_labels if lab is not None and lab not in bath_map})
        if unknown:
            raise ValueError(
                f"bath_labels names {unknown}, not among the baths declared in baths ({sorted(bath_map)}); "
                "a misspelt label would make a bath of its own with no temperature"
            )
    ops = [as_csr(c, f"c_ops[{k}]") for k, c in enumerate(c_ops)]
    labels = [None] * len(ops) if bath_labels is None else bath_labels
    if rates is not None and np.ndim(rates) == 2:
        jumps = _kossakowski_jumps(ops, rates, labels)
    else:
        if rates is not None:
            if isinstance(rates, (str, bytes)) or not hasattr(rates, "__len__"):
                raise TypeError(f"rates must be a sequence of numbers or a square matrix, got {rates!r}")
            if len(rates) != len(c_ops):
                raise ValueError(f"rates has {len(rates)} entries but there are {len(c_ops)} c_ops")
        jumps = []
        for k, op in enumerate(ops):
            rate = 1.0 if rates is None else _check_rate(rates[k], f"rates[{k}]")
            jumps.append(Jump(op, rate, labels[k], f"c_ops[{k}]"))
    for lab in labels:
        if lab is not None and lab not in bath_map:
            bath_map[lab] = Bath(lab)
    return LindbladModel(
        dims=tuple(dims),
        H=Hm,
        jumps=tuple(jumps),
        baths=bath_map,
        name=name,
        site_kinds=tuple(site_kinds or ()),
        qobj_dims=qobj_dims,
    )


def _static_operator(obj, name: str):
    """A time-independent operator given in one of QuTiP's time-dependent containers, as a ``Qobj``.

    A constant ``qutip.QobjEvo`` (``isconstant``) is evaluated (at ``t = 0``);
    a list whose entries are all ``Qobj`` is summed, as QuTiP does with
    ``[H0, H1]``. A term ``[op, c]`` (or ``(op, c)``) with a number ``c`` is
    ``c * op``, as in QuTiP (``[H0, [H1, 0.5]]`` is ``H0 + 0.5 H1``; a jump
    ``[a, 0.5]`` is ``0.5 a``). Anything else is returned unchanged (a list
    with an ``[op, coefficient]`` term of a string, function or array stays
    time-dependent and is refused later by :func:`~qness.operators.as_csr`).
    """
    if type(obj).__name__ == "QobjEvo":
        if _constant_evo(obj):
            return obj(0.0)
        return obj
    if _constant_pair(obj):
        return obj[1] * obj[0]  # QuTiP's [op, 0.5]: a numeric coefficient is a constant factor
    if isinstance(obj, list) and obj:
        terms = [x[1] * x[0] if _constant_pair(x) else x for x in obj]
        if all(_is_qobj(x) for x in terms):
            first = terms[0]
            for k, x in enumerate(terms[1:], start=1):
                if x.dims != first.dims:
                    raise ValueError(
                        f"{name}[{k}] has dims {x.dims}, {name}[0] has {first.dims}: the terms of a QuTiP "
                        "list (summed as H0 + H1 + ...) must act on the same space"
                    )
            total = first
            for x in terms[1:]:
                total = total + x
            return total
    return obj


def _constant_evo(evo) -> bool:
    """Whether the ``QobjEvo`` is constant: flagged ``isconstant``, or every term a ``Qobj`` or one
    carrying a ``ConstantCoefficient`` (``QobjEvo([[H, 2.0]])``, which QuTiP 5 does not flag)."""
    if getattr(evo, "isconstant", False):
        return True
    try:
        terms = evo.to_list()
    except Exception:  # not QuTiP 5's QobjEvo: judged by isconstant alone
        return False
    return all(
        _is_qobj(t) or (isinstance(t, (list, tuple)) and type(t[1]).__name__ == "ConstantCoefficient")
        for t in terms
    )


def _dims_argument(dims) -> tuple[int, ...] | None:
    """``dims=`` as a tuple of local dimensions (``None`` stays ``None``).

    QuTiP's operator dims ``[[2, 4], [2, 4]]`` are taken as ``(2, 4)`` when
    both halves agree.
    """
    if dims is None:
        return None
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        hint = f"; for one site pass dims=({dims!r},)" if isinstance(dims, (int, np.integer)) else ""
        raise TypeError(
            f"dims must be a sequence of local dimensions (site 0 first), got {type(dims).__name__} "
            f"{dims!r}{hint}"
        )
    dims = list(dims)
    if len(dims) == 2 and all(isinstance(x, (list, tuple)) for x in dims):
        rows, cols = list(dims[0]), list(dims[1])
        if rows != cols:
            raise ValueError(
                f"dims {dims} (QuTiP's [rows, columns]) has different row and column factors; an operator "
                f"on the model's space has equal ones: pass the local dimensions, e.g. dims={tuple(rows)}"
            )
        dims = rows
    for x in dims:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise TypeError(
                f"dims must be a sequence of local dimensions (positive ints, site 0 first), e.g. (2, 4), "
                f"got {dims!r}"
            )
    return _check_dims(dims)


@dataclass(frozen=True)
class _OperatorSpace:
    """The operator dims of a ``Qobj`` (or of the space a superoperator acts on), for :func:`_qobj_space`."""

    dims: list
    size: int
    qutip_dims: object = None


def _is_super(q) -> bool:
    """A superoperator ``Qobj`` (type ``"super"``)."""
    return _is_qobj(q) and getattr(q, "type", None) == "super"


def _super_space(L) -> _OperatorSpace:
    """The operator space a superoperator ``Qobj`` acts on: its dims (ENR: QuTiP's own, kept for
    ``NESS.to_qobj``), for :func:`_qobj_space`."""
    space = getattr(getattr(L, "_dims", None), "from_", None)
    return _OperatorSpace(L.dims[0], math.isqrt(L.shape[0]), getattr(space, "oper", None))


def _qobj_space(named, dims):
    """``(dims, qobj_dims)`` of the space every operator ``Qobj`` in ``named`` acts on.

    ``named`` holds ``(name, value)`` pairs (``H``, the jumps, ...). Every
    ``Qobj`` with several tensor factors (or with dims that are not a tensor
    product, ENR) must have the same dims as the others and as ``dims=``; a
    ``Qobj`` on one flat space, like an array, may be split by them.
    ``dims`` is returned unchanged (possibly ``None``) when no ``Qobj``
    fixes the factors. Sizes are checked by the caller.
    """
    ref = None
    for name, q in named:
        if not isinstance(q, _OperatorSpace):
            if not _is_qobj(q) or getattr(q, "type", "oper") != "oper":
                continue  # not an operator Qobj: refused or converted elsewhere
            q = _OperatorSpace(q.dims, q.shape[0], getattr(q, "_dims", None))
        left, right = q.dims
        if left != right:
            raise ValueError(
                f"{name} has dims {q.dims}: its row and column factors differ, so it is not an operator "
                f"on one space; build it with dims [f, f] (e.g. [{left}, {left}])"
            )
        if dims is not None and not _nested(left) and len(left) == 1:
            continue  # one flat space: split by dims=, as an array is
        if ref is None:
            ref = (name, q)
        elif q.dims != ref[1].dims:
            raise ValueError(
                f"{name} has dims {q.dims}, {ref[0]} has {ref[1].dims}: every Qobj of a model must act on "
                "the same tensor factors; build them with one factor order (site 0 leftmost), or give "
                "arrays (or Qobj on one flat space) with dims="
            )
    if ref is None:
        return dims, None
    name, q = ref
    left = q.dims[0]
    if _nested(left) or math.prod(int(x) for x in np.ravel(left)) != q.size:
        # not a plain tensor product (ENR space or nested dims): one flat space, its own dims kept
        own, qobj_dims = (int(q.size),), q.qutip_dims or q.dims
    else:
        own, qobj_dims = tuple(int(x) for x in left), None
    if dims is not None and tuple(dims) != own:
        raise ValueError(
            f"dims {tuple(dims)} conflict with {name}'s own dims {q.dims}: a Qobj's tensor factors are kept; "
            "drop dims= (they are taken from the Qobj), or pass it as an array or a Qobj on one flat "
            "space to impose others"
        )
    return own, qobj_dims


def _constant_pair(x) -> bool:
    """``x`` is QuTiP's ``[op, c]`` with a number ``c`` (a constant coefficient)."""
    return (
        isinstance(x, (list, tuple))
        and len(x) == 2
        and _is_qobj(x[0])
        and isinstance(x[1], (int, float, complex, np.number))
        and not isinstance(x[1], (bool, np.bool_))
    )


def _time_hint() -> str:
    from .operators import TIME_DEPENDENCE_HINT

    return TIME_DEPENDENCE_HINT


def _nested(dims) -> bool:
    return any(isinstance(x, (list, tuple)) for x in dims)


def _bath_mapping(baths) -> dict:
    """``baths=`` of :func:`from_qutip` as ``{name: Bath}``."""
    if baths is None:
        return {}
    if not isinstance(baths, Mapping):
        raise TypeError(
            "baths must be a mapping {name: T}, {name: (T, mu)} or {name: qness.Bath} "
            f"(or a list of per-jump labels), got {type(baths).__name__}"
        )
    out = {}
    for name, spec in baths.items():
        if not isinstance(name, str):
            raise TypeError(f"bath names must be str, got {name!r}")
        if isinstance(spec, Bath):
            out[name] = Bath(name, spec.T, spec.mu)
            continue
        if spec is None or isinstance(spec, (int, float, np.integer, np.floating)):
            T, mu = spec, None
        elif isinstance(spec, Mapping):
            bad = set(spec) - {"T", "mu"}
            if bad:
                raise ValueError(f"baths[{name!r}] takes keys 'T' and 'mu', got {sorted(bad)}")
            T, mu = spec.get("T"), spec.get("mu")
        elif isinstance(spec, (tuple, list)) and len(spec) == 2:
            T, mu = spec
        else:
            raise TypeError(
                f"baths[{name!r}] must be T, (T, mu), {{'T': T, 'mu': mu}} or a Bath, got {spec!r}"
            )
        if T is not None:
            T = float(T)
            if math.isnan(T) or T < 0:
                raise ValueError(f"baths[{name!r}]: T must be non-negative (math.inf allowed), got {T!r}")
        if mu is not None:
            mu = float(mu)
            if not math.isfinite(mu):
                raise ValueError(f"baths[{name!r}]: mu must be finite, got {mu!r}")
        out[name] = Bath(name, T, mu)
    return out


def _kossakowski_jumps(ops, rates, labels) -> list[Jump]:
    """Diagonalise a Hermitian PSD rate matrix into jumps, bath by bath."""
    try:
        G = np.asarray(rates, dtype=np.complex128)
    except (TypeError, ValueError):
        raise TypeError(f"rates must be a numeric matrix, got {type(rates).__name__}") from None
    n = len(ops)
    if G.shape != (n, n):
        raise ValueError(f"rates is a matrix of shape {G.shape}, expected ({n}, {n}) for {n} c_ops")
    if not np.all(np.isfinite(G)):
        raise ValueError("rates has non-finite (NaN or inf) entries")
    scale = max(float(np.max(np.abs(G), initial=0.0)), 1e-300)
    herm = float(np.max(np.abs(G - G.conj().T), initial=0.0))
    if herm > 1e-12 * scale:
        raise ValueError(
            f"rates (a Kossakowski matrix) must be Hermitian: max |gamma - gamma^+| = {herm:.3g}"
        )
    G = 0.5 * (G + G.conj().T)
    groups: dict = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    for la, ia in groups.items():
        for lb, ib in groups.items():
            if la != lb and np.max(np.abs(G[np.ix_(ia, ib)]), initial=0.0) > 1e-12 * scale:
                raise ValueError(
                    f"rates correlates c_ops of different baths ({la!r} and {lb!r}); a rate-matrix "
                    "entry gamma_ij may be non-zero only for jumps of one bath"
                )
    jumps = []
    for lab, idx in groups.items():
        block = G[np.ix_(idx, idx)]
        if np.count_nonzero(block - np.diag(np.diag(block))) == 0:
            # diagonal: the c_ops in their own order (eigh sorts by rate, and a counted index into
            # c_ops then named another jump)
            g, U = np.diag(block).real.copy(), np.eye(len(idx))
        else:
            g, U = np.linalg.eigh(block)
        if g.min() < -1e-12 * scale:
            raise ValueError(
                f"rates (a Kossakowski matrix) must be positive semi-definite; it has the eigenvalue "
                f"{g.min():.3g} (a negative rate: the map would not be completely positive)"
            )
        for k in range(len(idx)):
            if g[k] <= 1e-14 * scale:
                continue  # a zero mode of gamma: no jump
            op = sp.csr_array(sum(U[m, k] * ops[i] for m, i in enumerate(idx)))
            op.sum_duplicates()
            op.eliminate_zeros()
            jumps.append(Jump(op, float(g[k]), lab, f"gamma_{len(jumps)}"))
    return jumps


#: Largest ``max |vec(1)^T L|`` relative to ``max |L|`` accepted from a Liouvillian matrix. Not
#: machine precision: ``qutip.piqs`` builds Dicke-basis Liouvillians that preserve the trace only
#: to about 1e-8 relative; a matrix that is not a generator at all (a channel, a Hamiltonian)
#: misses by O(1). The check cannot tell the stacking: a generator written in row stacking,
#: ``P L P`` with ``P`` the swap ``vec(rho) <-> vec(rho^T)``, is itself a valid column-stacked
#: generator (of ``-H^T`` and the jumps ``conj(c)``), so it passes and gives the transposed state.
#: Column stacking is assumed, as QuTiP's superoperators are.
TRACE_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class SuperoperatorModel:
    """A master equation given only by its Liouvillian matrix.

    For Liouvillians built elsewhere (``qutip.liouvillian``, ``qutip.piqs``,
    hand-written rate equations). The solvers work on the matrix directly,
    with symmetry sectors taken from the connected components of its
    graph; routes that need ``H`` and the jump operators (the Sylvester
    preconditioner, thermodynamics) are not available.

    Attributes
    ----------
    L : scipy.sparse.csr_array
        ``d^2 x d^2`` generator in column stacking:
        ``L @ rho.ravel(order="F")`` is ``vec(d rho/dt)``.
    dims : tuple of int
        Local dimensions of the Hilbert space (product ``d``).
    qobj_dims : object
        QuTiP dimensions of the Hilbert space when not a plain tensor
        product, else ``None``.
    name : str
        Model name.
    origin : str
        How the model was built, where that is why it has no jump operators
        (``(H, c_ops)`` with a superoperator among ``c_ops``); empty otherwise.
        The functions that need a :class:`LindbladModel` say it in their errors
        (:meth:`lindblad_hint`).

    Raises
    ------
    ValueError
        If ``L`` is not square of size ``prod(dims)**2``, has non-finite
        entries, or does not preserve the trace (``vec(1)^T L != 0``: not a
        Lindblad generator; a trace-preserving map, ``vec(1)^T L =
        vec(1)^T``, is named as a channel) or Hermiticity (``L(X^+) !=
        L(X)^+``).

    Notes
    -----
    Column stacking is assumed and cannot be detected: a generator written
    in row stacking is also a valid generator in column stacking (of
    ``-H^T`` with jumps ``conj(c_k)``) and would be solved as such,
    giving the transposed state. QuTiP's superoperators are column-stacked.
    """

    L: sp.csr_array
    dims: tuple[int, ...]
    qobj_dims: object = None
    name: str = "liouvillian"
    #: How the model was built, where that is why it has no jump operators (``(H, c_ops)`` with a
    #: superoperator among ``c_ops``): said by the functions that need a LindbladModel
    #: (:meth:`lindblad_hint`).
    origin: str = ""

    def lindblad_hint(self) -> str:
        """Why this model has no Hamiltonian and jump operators, for the errors of the functions
        that need them (currents, counting, the resolvent solvers)."""
        return self.origin or (
            "a bare Liouvillian has no Hamiltonian or jump operators (build the model with "
            "qness.from_qutip(H, c_ops))"
        )

    def __post_init__(self):
        L = as_csr(self.L, "L", allow_super=True)
        dims = _check_dims(self.dims)
        d = math.prod(dims)
        if L.shape != (d * d, d * d):
            raise ValueError(
                f"L has shape {L.shape}, but dims {dims} give a Hilbert space of dimension {d}, "
                f"so a Liouvillian of shape ({d * d}, {d * d})"
            )
        diag_idx = np.arange(d) * (d + 1)
        tL = np.asarray(L[diag_idx].sum(axis=0)).ravel()
        scale = max(float(np.max(np.abs(L.data), initial=0.0)), 1e-300)
        err = float(np.max(np.abs(tL), initial=0.0))
        if err > TRACE_TOLERANCE * scale:
            one = np.zeros(d * d)
            one[diag_idx] = 1.0
            if float(np.max(np.abs(tL - one))) <= TRACE_TOLERANCE * max(scale, 1.0):
                raise ValueError(
                    "L looks like a quantum channel (a propagator or map, e.g. L.expm() or "
                    "qutip.to_super(U)), not a Liouvillian: it preserves the trace itself "
                    "(vec(1)^T M = vec(1)^T) where a generator has vec(1)^T L = 0; pass the generator "
                    "(e.g. qutip.liouvillian(H, c_ops)), or, for the fixed point of the channel M, the "
                    "generator M - 1 (M minus the identity superoperator)"
                )
            raise ValueError(
                f"L does not preserve the trace (max |vec(1)^T L| = {err:.3g} against max |L| = "
                f"{scale:.3g}, where a Lindblad generator has vec(1)^T L = 0): it is not the generator "
                "of a trace-preserving evolution; qutip.liouvillian(H, c_ops) makes one"
            )
        # Hermiticity preserved, L(X^+) = L(X)^+: with P the transpose of vec (column stacking),
        # conj(L) = P L P. A trace-preserving matrix without it (a Lindbladian plus -i[X, rho] with X
        # not Hermitian) was accepted, and the spectrum then added conjugate partners that are not
        # eigenvalues (session 17)
        idx = np.arange(d * d)
        perm = (idx % d) * d + idx // d
        herr = float(np.max(np.abs((L[perm][:, perm] - L.conj()).data), initial=0.0))
        if herr > TRACE_TOLERANCE * scale:
            raise ValueError(
                f"L does not preserve Hermiticity (max |conj(L) - P L P| = {herr:.3g} against max |L| = "
                f"{scale:.3g}, P the transpose of vec(rho)): L(X^+) != L(X)^+, so it is not the generator "
                "of a physical evolution (a Hamiltonian part -i[X, rho] with X not Hermitian?); "
                "qutip.liouvillian(H, c_ops) makes one"
            )
        object.__setattr__(self, "L", L)
        object.__setattr__(self, "dims", dims)

    @property
    def dim(self) -> int:
        """Hilbert-space dimension ``prod(dims)``."""
        return math.prod(self.dims)

    @property
    def site_kinds(self) -> tuple:
        """Unknown for a bare Liouvillian: ``()``."""
        return ()

    def scale(self) -> float:
        """The largest ``|L_nn|`` (the rate scale used for tolerances), at least 1e-300."""
        return max(float(np.max(np.abs(self.L.diagonal()), initial=0.0)), 1e-300)

    def __repr__(self) -> str:
        return f"SuperoperatorModel(name={self.name!r}, dims={self.dims}, dim={self.dim})"


def from_liouvillian(L, c_ops=(), *, dims=None, name: str = "liouvillian") -> SuperoperatorModel:
    """Make a :class:`SuperoperatorModel` from a Liouvillian (and optional extra jumps or superoperators).

    Parameters
    ----------
    L : qutip.Qobj of type "super", scipy sparse or numpy.ndarray
        The ``d^2 x d^2`` generator in column stacking (as
        ``qutip.liouvillian``); a constant ``qutip.QobjEvo`` or a list of
        ``Qobj`` (summed, as QuTiP does) also.
    c_ops : sequence of operators, optional
        Jump operators whose dissipators ``D[c] = c . c^+ - 1/2 {c^+ c, .}``
        are added to ``L`` (as ``qutip.steadystate(L, c_ops)`` does); a
        superoperator among them (``Qobj`` of type ``"super"``) is added as
        it is, as in ``qutip.mesolve``. A ``Qobj`` among them must act
        on the same tensor factors as ``L``.
    dims : sequence of int, optional
        Local Hilbert-space dimensions; from the ``Qobj`` (else ``(d,)`` with
        ``d = sqrt(L.shape[0])``). With a ``Qobj`` of several tensor factors
        they must equal its own; they may split a matrix or a ``Qobj`` on
        one flat space.
    name : str
        Model name.

    Returns
    -------
    SuperoperatorModel

    Raises
    ------
    TypeError
        If ``L`` is time-dependent or an operator ``Qobj`` (not ``"super"``).
    ValueError
        On a non-square size, non-finite entries, a generator that does
        not preserve the trace, or dims that disagree between ``L``,
        ``c_ops`` and ``dims``.

    Examples
    --------
    >>> import qutip, qness
    >>> ness = qness.steady_state(qutip.liouvillian(qutip.sigmax(), [qutip.sigmam()]))
    >>> round(ness.expect(qutip.sigmaz()), 6)
    -0.111111
    """
    L = _static_operator(L, "L")  # a constant QobjEvo or a list of Qobj: one matrix
    dims = _dims_argument(dims)
    named = []
    if _is_qobj(L):
        if getattr(L, "type", None) != "super":
            raise TypeError(
                f"L must be a superoperator (Qobj of type 'super'), got a Qobj of type {L.type!r}; "
                "for a Hamiltonian pass (H, c_ops) as one tuple"
            )
        named.append(("L", _super_space(L)))
    if c_ops is None:
        c_ops = ()
    if _is_qobj(c_ops) or isinstance(c_ops, (str, bytes)) or not hasattr(c_ops, "__iter__"):
        raise TypeError(f"c_ops must be a list of operators, got {type(c_ops).__name__}")
    c_ops = [_static_operator(c, f"c_ops[{k}]") for k, c in enumerate(c_ops)]
    supers = [(k, c) for k, c in enumerate(c_ops) if _is_super(c)]
    c_ops = [c for c in c_ops if not _is_super(c)]
    named += [(f"c_ops[{k}]", _super_space(c)) for k, c in supers]
    named += [(f"c_ops[{k}]", c) for k, c in enumerate(c_ops)]
    dims, qobj_dims = _qobj_space(named, dims)
    M = as_csr(L, "L", allow_super=True)
    for k, c in supers:
        S = as_csr(c, f"c_ops[{k}]", allow_super=True)
        if S.shape != M.shape:
            raise ValueError(f"c_ops[{k}] is a superoperator of shape {S.shape}, L has shape {M.shape}")
        M = sp.csr_array(M + S)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"L must be square, got shape {M.shape}")
    if dims is None:
        n = math.isqrt(M.shape[0])
        if n * n != M.shape[0]:
            raise ValueError(
                f"L has shape {M.shape}: its size is not a square d^2, so it is not a Liouvillian on a "
                "d-dimensional space"
            )
        dims = (n,)
    if c_ops:
        from .liouvillian import liouvillian

        d = math.prod(dims)
        zero = sp.csr_array((d, d), dtype=np.complex128)
        extra = liouvillian(from_qutip(zero, c_ops, dims=tuple(dims)))
        if extra.shape != M.shape:
            raise ValueError(f"c_ops act on dimension {d}, L has shape {M.shape}")
        M = sp.csr_array(M + extra)
    return SuperoperatorModel(M, tuple(dims), qobj_dims, name)


def as_model(obj) -> LindbladModel | SuperoperatorModel:
    """Coerce ``obj`` to a model: the single place where inputs are interpreted.

    Accepts a :class:`LindbladModel` or :class:`SuperoperatorModel`, a tuple
    ``(H, c_ops)`` of QuTiP objects, arrays or sparse matrices (see
    :func:`from_qutip`), or a Liouvillian: a ``Qobj`` of type ``"super"``, a
    list of them (summed, e.g. ``[-1j * spre(H), 1j * spost(H),
    lindblad_dissipator(a)]``) or a square matrix of size ``d^2`` (see
    :func:`from_liouvillian`; use that function to give its ``dims``).

    Parameters
    ----------
    obj : LindbladModel, SuperoperatorModel, tuple, qutip.Qobj, array_like or sparse matrix
        The model, ``(H, c_ops)``, or a Liouvillian of shape ``(d^2, d^2)``
        (column stacking).

    Returns
    -------
    LindbladModel or SuperoperatorModel
        ``obj`` itself when it already is a model.

    Raises
    ------
    TypeError
        For anything else (e.g. a single operator ``Qobj``, a time-dependent
        ``QobjEvo``, a tuple that is not ``(H, c_ops)``), with what to pass
        instead.
    """
    if isinstance(obj, (LindbladModel, SuperoperatorModel)):
        return obj
    if type(obj).__name__ == "QobjEvo" and _constant_evo(obj):
        obj = obj(0.0)  # a constant QobjEvo: its one value (a Liouvillian, or refused below)
    if isinstance(obj, tuple) and len(obj) != 2:
        if len(obj) == 1:
            hint = "(H,) has no jump operators: pass (H, c_ops) (c_ops may be [] for no dissipation)"
        elif len(obj) == 0:
            hint = "pass (H, c_ops)"
        else:
            hint = (
                "extra entries are not read: give rates, baths or dims as keywords of "
                "qness.from_qutip(H, c_ops, ...) and pass the model it returns"
            )
        n = f"{len(obj)} entr{'y' if len(obj) == 1 else 'ies'}"
        raise TypeError(f"a model tuple must be (H, c_ops), got a tuple of {n}; {hint}")
    if isinstance(obj, tuple):
        H, c_ops = obj
        if type(H).__name__ == "QobjEvo" and getattr(H, "type", None) == "super" and _constant_evo(H):
            H = H(0.0)  # (the message below names the superoperator, not its QobjEvo wrapper)
        if _is_qobj(H) and getattr(H, "type", None) == "super":
            raise TypeError(
                "the first entry of (H, c_ops) is a superoperator (a Liouvillian, Qobj of type 'super'), "
                "not a Hamiltonian; pass the Liouvillian alone, e.g. qness.steady_state(L), or "
                "qness.from_liouvillian(L, c_ops) (also qness.steady_state(L, c_ops), as "
                "qutip.steadystate(L, c_ops)) to add the dissipators of c_ops"
            )
        statics = (
            [_static_operator(c, f"c_ops[{k}]") for k, c in enumerate(c_ops)]
            if isinstance(c_ops, (list, tuple))
            else []
        )
        if any(_is_super(c) for c in statics):
            # as qutip.mesolve takes c_ops (a superoperator also inside a constant QobjEvo or a
            # list): the jump operators' dissipators, the superoperators as they are; dims checked
            # first, with the names the user gave
            c_ops = statics
            named = [("H", H)] + [
                (f"c_ops[{k}]", _super_space(c) if _is_super(c) else c) for k, c in enumerate(c_ops)
            ]
            dims, _ = _qobj_space(named, None)
            base = from_qutip(H, [], dims=dims if dims is not None and len(dims) > 1 else None)
            n = base.dim**2
            for k, c in enumerate(c_ops):
                if _is_super(c) and c.shape != (n, n):
                    raise ValueError(
                        f"c_ops[{k}] is a superoperator of shape {c.shape}; on the space of H (dimension "
                        f"{base.dim}) it must be {n} x {n}"
                    )
            from .liouvillian import liouvillian

            model = from_liouvillian(liouvillian(base), c_ops, dims=dims, name=base.name)
            k = next(k for k, c in enumerate(c_ops) if _is_super(c))
            origin = (
                f"(H, c_ops) has a superoperator in c_ops[{k}], so the model is the Liouvillian matrix they "
                "make together, without jump operators; give that dissipator as jump operators (e.g. "
                "qutip.lindblad_dissipator(b) is the jump operator b) to use this function"
            )
            object.__setattr__(model, "origin", origin)
            return model
        return from_qutip(H, c_ops)
    if _is_qobj(obj):
        if getattr(obj, "type", None) == "super":
            return from_liouvillian(obj)
        hint = (
            " with no c_ops (a Hamiltonian alone is a closed system, with no unique steady state)"
            if getattr(obj, "type", None) == "oper"
            else ""
        )
        raise TypeError(
            f"got a single Qobj of type {obj.type!r}{hint}; pass H with its jump operators, "
            "steady_state(H, c_ops) or steady_state((H, c_ops)), or a Liouvillian (Qobj of type 'super')"
        )
    from .operators import time_dependence

    reason = time_dependence(obj)
    summed = _static_operator(obj, "model") if reason is not None and isinstance(obj, list) else obj
    if _is_qobj(summed) and getattr(summed, "type", None) == "super":
        return from_liouvillian(summed)  # a list of superoperators: one Liouvillian, as QuTiP sums it
    if summed is not obj:
        raise TypeError(
            "got a list of operators (QuTiP sums it as one Hamiltonian), not a model: pass (H, c_ops), "
            "e.g. ([H0, H1], c_ops)"
        )
    if (
        reason is not None
        and isinstance(obj, list)
        and len(obj) == 2
        and _is_qobj(obj[0])
        and isinstance(obj[1], (list, tuple))
        and all(_is_qobj(c) for c in obj[1])
    ):
        raise TypeError("got a list [H, c_ops]: pass the model as a tuple (H, c_ops)")
    if reason is not None:
        raise TypeError(f"the model is time-dependent ({reason}); {_time_hint()}")
    if sp.issparse(obj) or (isinstance(obj, np.ndarray) and obj.ndim == 2):
        return from_liouvillian(obj)
    raise TypeError(
        "expected a qness.LindbladModel, a tuple (H, c_ops), or a Liouvillian (Qobj of type 'super' "
        f"or a square matrix), got {type(obj).__name__}"
    )


def bose_occupation(omega: float, T: float, mu: float = 0.0) -> float:
    """Bose-Einstein occupation ``1/(exp((omega - mu)/T) - 1)`` (0 at ``T = 0``)."""
    if T == math.inf:
        raise ValueError(
            "T = inf: the Bose occupation (and so a bosonic bath's rates) diverges; give a finite T, or "
            "declare the infinite-temperature bath with equal up and down rates in the jumps yourself"
        )
    if T < 0 or not math.isfinite(T):
        raise ValueError(f"T must be finite and non-negative, got {T!r}")
    if omega - mu <= 0:
        raise ValueError(f"bosonic bath needs omega > mu, got omega={omega!r}, mu={mu!r}")
    if T == 0:
        return 0.0
    x = (omega - mu) / T
    if x > 700:  # (math.expm1 overflows above 709.78; the occupation is e^-x there)
        return math.exp(-x)
    return 1.0 / math.expm1(x)


def fermi_occupation(omega: float, T: float, mu: float = 0.0) -> float:
    """Fermi-Dirac occupation ``1/(exp((omega - mu)/T) + 1)`` (a step at ``T = 0``, 1/2 at ``T = inf``)."""
    if T == math.inf:
        return 0.5
    if T < 0 or not math.isfinite(T):
        raise ValueError(f"T must be non-negative, got {T!r}")
    if T == 0:
        return 1.0 if omega < mu else (0.5 if omega == mu else 0.0)
    x = (omega - mu) / T
    if x > 700:
        return 0.0
    return 1.0 / (math.exp(x) + 1.0)


class ModelBuilder:
    """Assemble a :class:`LindbladModel` on a chain term by term.

    Parameters
    ----------
    dims : int or sequence of int
        Local dimensions; a single int with ``n`` gives a uniform chain.
    n : int, optional
        Number of sites when ``dims`` is a single int.
    name : str
        Model name.
    site_kinds : str or sequence of str, optional
        What the sites are (:attr:`LindbladModel.site_kinds`): one kind for
        every site (e.g. ``"boson"``) or one per site. Sites declared
        ``"boson"`` are truncated Fock spaces: :func:`qness.steady_state`
        warns (:class:`~qness.TruncationWarning`) when their highest level is
        populated.

    Notes
    -----
    Strengths may be scalars or per-site / per-bond arrays (for disorder).
    Operators are local: a name from :data:`qness.operators.LOCAL_OPERATORS`
    or a matrix of the site's dimension. Bonds of range ``dx`` are
    ``(i, i + dx)`` for open boundaries, plus the wrapped bonds for
    ``boundary="periodic"``.

    Examples
    --------
    >>> import qness
    >>> b = qness.ModelBuilder(2, n=3)
    >>> _ = b.add_coupling(1.0, "sigmax", "sigmax")
    >>> _ = b.add_jump("sigmam", rate=0.5, sites=[0])
    >>> b.build().dim
    8
    """

    def __init__(self, dims, n: int | None = None, *, name: str = "model", site_kinds=None):
        if isinstance(dims, (int, np.integer)):
            if n is None:
                raise ValueError("give n (number of sites) when dims is a single integer")
            dims = (int(dims),) * int(n)
        elif n is not None and len(dims) != n:
            raise ValueError(f"dims has {len(dims)} entries but n={n}")
        self.dims = _check_dims(dims)
        self.n = len(self.dims)
        self.name = name
        if site_kinds is None:
            site_kinds = ()
        elif isinstance(site_kinds, str):
            site_kinds = (site_kinds,) * self.n
        self.site_kinds = tuple(site_kinds)
        self._hterms: list = []  # local Hamiltonian terms (sites, ops, coeff)
        self._hmats: list = []  # full-space parts (add_hamiltonian)
        self._drives: list = []  # (label, indices into _hterms)
        self._jumps: list = []  # _LocalJumpSpec or Jump (full-space operator)
        self._baths: dict[str, Bath] = {}
        self._symmetries: list = []
        self._params: dict = {}

    @property
    def dim(self) -> int:
        """Full Hilbert-space dimension."""
        return math.prod(self.dims)

    def _sites(self, sites) -> list[int]:
        if sites is None:
            return list(range(self.n))
        if isinstance(sites, (int, np.integer)):
            sites = [int(sites)]
        out = []
        for s in sites:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not -self.n <= s < self.n:
                raise ValueError(f"site {s!r} out of range for a chain of {self.n} sites")
            out.append(int(s) % self.n)
        return out

    @staticmethod
    def _strengths(strength, count, what):
        arr = np.asarray(strength)
        if arr.ndim == 0:
            arr = np.full(count, arr.item())
        if arr.shape != (count,):
            raise ValueError(
                f"{what}: strength must be a scalar or have {count} entries, got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what}: strength has non-finite entries")
        return arr

    def bonds(self, dx: int = 1, boundary: str = "open") -> list[tuple[int, int]]:
        """Bonds ``(i, i + dx)``; ``boundary`` is ``"open"`` or ``"periodic"``."""
        if boundary not in ("open", "periodic"):
            raise ValueError(f"boundary must be 'open' or 'periodic', got {boundary!r}")
        if not isinstance(dx, (int, np.integer)) or dx < 1:
            raise ValueError(f"dx must be a positive integer, got {dx!r}")
        out = [(i, i + dx) for i in range(self.n - dx)]
        if boundary == "periodic" and self.n > dx:
            if self.n == 2 and dx == 1:
                raise ValueError("periodic boundary on 2 sites would double the single bond")
            out += [(i, (i + dx) % self.n) for i in range(self.n - dx, self.n)]
        return out

    def _resolver(self, op):
        """``site -> dense local matrix`` of ``op`` (names resolved once per local dimension)."""
        cache: dict = {}

        def get(site):
            d = self.dims[site]
            if d not in cache:
                m = local_op(op, d).toarray().astype(np.complex128)
                m.setflags(write=False)
                cache[d] = m
            return cache[d]

        return get

    def _add_local(self, sites, ops, coeff, plus_hc, what, *, hc_hint: bool = True) -> list[int]:
        """Append ``coeff prod ops (+ h.c.)`` after checking it is Hermitian; return the term indices."""
        order = sorted(range(len(sites)), key=sites.__getitem__)
        sites = tuple(int(sites[k]) for k in order)
        ops = tuple(ops[k] for k in order)
        P = coeff * local_product(ops)
        if plus_hc:
            P = P + P.conj().T
        hint = "put dissipation into jump operators, not into H"
        if hc_hint:
            example = "sigmap x sigmam" if len(sites) > 1 else "a drive on destroy or sigmam"
            hint = f"use plus_hc=True to add the Hermitian conjugate (e.g. of {example}), or {hint}"
        _check_hermitian(P, what, hint)
        idx = [len(self._hterms)]
        self._hterms.append((sites, ops, coeff))
        if plus_hc:
            idx.append(len(self._hterms))
            self._hterms.append((sites, tuple(o.conj().T for o in ops), np.conj(coeff)))
        return idx

    def add_hamiltonian(self, H) -> ModelBuilder:
        """Add a Hermitian operator on the full space to ``H``.

        The model is then matrix-based (its :attr:`~LindbladModel.terms` is ``None``).
        """
        self._check_factors(H, "H term")
        Hm = as_csr(H, "H term")
        if Hm.shape != (self.dim, self.dim):
            raise ValueError(f"H term has shape {Hm.shape}, expected ({self.dim}, {self.dim})")
        _check_hermitian(Hm, "H term")
        self._hmats.append(Hm)
        return self

    def add_onsite(self, strength, op, sites=None) -> ModelBuilder:
        """Add ``sum_i strength_i * op_i`` to ``H`` (``op`` must be Hermitian)."""
        sites = self._sites(sites)
        s = self._strengths(strength, len(sites), "add_onsite")
        loc = self._resolver(op)
        for h, i in zip(s, sites):
            if h != 0:
                self._add_local((i,), (loc(i),), h, False, f"the onsite term on site {i}", hc_hint=False)
        return self

    def add_coupling(
        self, strength, op1, op2, *, dx: int = 1, boundary: str = "open", plus_hc: bool = False
    ) -> ModelBuilder:
        """Add ``sum_bonds strength_b * op1_i op2_j`` (``+ h.c.`` if ``plus_hc``) to ``H``.

        Parameters
        ----------
        strength : float or array_like
            One value or one per bond (in the order of :meth:`bonds`).
        op1, op2 : str or array_like
            Local operators on the bond's first and second site.
        dx : int
            Bond range.
        boundary : {"open", "periodic"}
            Boundary condition.
        plus_hc : bool
            Add the Hermitian conjugate of each term.
        """
        bonds = self.bonds(dx, boundary)
        s = self._strengths(strength, len(bonds), "add_coupling")
        loc1, loc2 = self._resolver(op1), self._resolver(op2)
        for h, (i, j) in zip(s, bonds):
            if h == 0:
                continue
            what = f"the coupling on bond ({i}, {j})"
            self._add_local((i, j), (loc1(i), loc2(j)), h, plus_hc, what)
        return self

    def add_drive(self, amplitude, op, sites=None, *, plus_hc: bool = False, label: str = "") -> ModelBuilder:
        """Add a coherent drive ``sum_i amplitude_i op_i (+ h.c.)`` to ``H``, recorded as a drive."""
        sites = self._sites(sites)
        s = self._strengths(amplitude, len(sites), "add_drive")
        loc = self._resolver(op)
        for h, i in zip(s, sites):
            if h == 0:
                continue
            what = f"the drive on site {i}"
            idx = self._add_local((i,), (loc(i),), h, plus_hc, what)
            self._drives.append((label or f"drive_{i}", idx))
        return self

    def add_jump(self, op, rate, sites=None, *, bath: str | None = None, label: str = "") -> ModelBuilder:
        """Add jump operators ``sqrt(rate_i) op_i`` on ``sites`` (default: every site).

        Parameters
        ----------
        op : str or array_like
            Local operator ``A`` (name or matrix of the site dimension).
        rate : float or array_like
            Non-negative rate(s), one per site or a scalar.
        sites : int or sequence of int, optional
            Sites; all sites by default.
        bath : str, optional
            Bath label (created with no temperature if not added before).
        label : str
            Name prefix; the site index is appended.
        """
        sites = self._sites(sites)
        rates = self._strengths(rate, len(sites), "add_jump")
        loc = self._resolver(op)
        for r, i in zip(rates, sites):
            r = _check_rate(r, "rate")
            name = f"{label or (op if isinstance(op, str) else 'L')}_{i}"
            self._jumps.append(_LocalJumpSpec((i,), (loc(i),), r, bath, name))
        if bath is not None and bath not in self._baths:
            self._baths[bath] = Bath(bath)
        return self

    def add_local_jump(self, ops, rate, *, bath: str | None = None, label: str = "") -> ModelBuilder:
        """Add one jump ``sqrt(rate) prod_i ops[i]``, a product of local operators (e.g. a hop).

        Parameters
        ----------
        ops : mapping of int to (str or array_like)
            ``{site: local operator}``, e.g. ``{i: "sigmam", i + 1: "sigmap"}``.
        rate : float
            Non-negative rate.
        bath : str, optional
            Bath label (created with no temperature if not added before).
        label : str
            Name of the jump (default ``"L<k>"``).

        Raises
        ------
        TypeError
            If ``ops`` is not a mapping.
        ValueError
            For an empty ``ops``, a site out of range or repeated, or a negative rate.
        """
        if not isinstance(ops, Mapping):
            raise TypeError(f"ops must be a mapping {{site: operator}}, got {type(ops).__name__}")
        if not ops:
            raise ValueError("ops must name at least one site")
        sites = self._sites(list(ops))
        if len(set(sites)) != len(sites):
            raise ValueError(f"ops names a site twice: {list(ops)}")
        mats = [self._resolver(op)(i) for i, op in zip(sites, ops.values())]
        order = np.argsort(sites, kind="stable")
        r = _check_rate(rate, "rate")
        spec = _LocalJumpSpec(
            tuple(sites[k] for k in order),
            tuple(mats[k] for k in order),
            r,
            bath,
            label or f"L{len(self._jumps)}",
        )
        self._jumps.append(spec)
        if bath is not None and bath not in self._baths:
            self._baths[bath] = Bath(bath)
        return self

    def add_collective_jump(self, op, rate, *, bath: str | None = None, label: str = "") -> ModelBuilder:
        """Add one jump operator ``sqrt(rate) * op`` on the full space (e.g. a collective decay).

        The model is then matrix-based (its :attr:`~LindbladModel.terms` is
        ``None``); for a product of local operators use :meth:`add_local_jump`.
        """
        self._check_factors(op, "op")
        mat = as_csr(op, "op")
        if mat.shape != (self.dim, self.dim):
            raise ValueError(f"op has shape {mat.shape}, expected ({self.dim}, {self.dim})")
        self._jumps.append(Jump(mat, _check_rate(rate), bath, label or f"L{len(self._jumps)}"))
        if bath is not None and bath not in self._baths:
            self._baths[bath] = Bath(bath)
        return self

    def _check_factors(self, op, name: str) -> None:
        """A full-space ``Qobj`` with several tensor factors must have the builder's, in its order (its
        matrix is read in the builder's order: dims [3, 2] on a (2, 3) builder built another model)."""
        if not _is_qobj(op) or getattr(op, "type", "oper") != "oper":
            return
        left, right = op.dims
        flat = [not _nested(side) and len(side) == 1 for side in (left, right)]
        if all(flat):
            return  # one flat space, read as an array is
        if any(
            not f and (_nested(side) or tuple(int(x) for x in side) != self.dims)
            for f, side in zip(flat, (left, right))
        ) or (any(flat) and not all(flat)):
            raise ValueError(
                f"{name} is a Qobj with dims {op.dims} but the builder's sites have dims {self.dims} "
                "(site 0 leftmost): its matrix would be read in the builder's factor order; build it "
                "with the builder's order, or pass it as an array (or a Qobj on one flat space) if "
                "its matrix is already in that order"
            )

    def add_bath(self, name: str, *, T: float | None = None, mu: float | None = None) -> ModelBuilder:
        """Declare a bath with temperature ``T`` and chemical potential ``mu``.

        Declaring a name again with the same ``T`` and ``mu`` (or giving a
        temperature to a bath that jumps created without one) is allowed.

        Raises
        ------
        TypeError
            If ``name`` is not a string (``None`` is how unlabelled jumps are
            grouped, not a bath).
        ValueError
            If ``name`` is empty, ``T`` is negative or NaN, ``mu`` is not
            finite, or ``name`` already has another ``T`` or ``mu``: two
            reservoirs under one name would share one temperature in the
            thermodynamics (:func:`qness.analysis.thermo.entropy_production`);
            give each its own name.
        """
        if not isinstance(name, str):
            raise TypeError(
                f"name must be a string (the label jumps refer to with bath=), got {type(name).__name__}; "
                "unlabelled jumps belong to no bath and have no temperature"
            )
        if not name:
            raise ValueError("name must be a non-empty string")
        T = None if T is None else float(T)
        mu = None if mu is None else float(mu)
        if T is not None and (math.isnan(T) or T < 0):
            raise ValueError(f"bath {name!r}: T must be >= 0 (math.inf allowed), got {T!r}")
        if mu is not None and not math.isfinite(mu):
            raise ValueError(f"bath {name!r}: mu must be finite, got {mu!r}")
        old = self._baths.get(name)
        if old is not None:
            # a bath with a temperature is declared again only as it is; one without (created by a
            # jump's bath=, or given only mu) may receive one, and keeps its mu
            if old.T is not None:
                clash = (old.T, old.mu or 0.0) != (T, mu or 0.0)
            else:
                clash = old.mu is not None and mu is not None and old.mu != mu
            if clash:
                raise ValueError(
                    f"bath {name!r} is already declared with T={old.T!r}, mu={old.mu!r}; a second "
                    f"reservoir (T={T!r}, mu={mu!r}) needs a name of its own"
                )
            T = old.T if T is None else T
            mu = old.mu if mu is None else mu
        self._baths[name] = Bath(name, T, mu)
        return self

    def add_thermal_bath(
        self,
        name: str,
        sites,
        *,
        omega,
        gamma,
        T: float,
        mu: float = 0.0,
        statistics: str = "boson",
        lower: str = "destroy",
    ) -> ModelBuilder:
        """Attach a local thermal bath: jumps ``sqrt(gamma (1 ± n)) a`` and ``sqrt(gamma n) a^+``.

        Parameters
        ----------
        name : str
            Bath label.
        sites : int or sequence of int
            Sites the bath acts on (one pair of jumps per site).
        omega : float or array_like
            Transition frequency of each site's mode.
        gamma : float or array_like
            Coupling rate(s).
        T, mu : float
            Temperature and chemical potential of the bath.
        statistics : {"boson", "fermion"}
            Bose (``n+1`` for emission) or Fermi (``1-n``) occupation.
        lower : str or array_like
            Local lowering operator (``"destroy"`` for a mode, ``"sigmam"``
            for a spin; for fermions through Jordan-Wigner see
            :mod:`qness.models.quadratic`).

        Notes
        -----
        Local (phenomenological) baths: each site is damped towards its own
        Gibbs state irrespective of couplings. This is the local master
        equation; see Hofer et al., NJP 19, 123037 (2017) for when it fails.
        """
        if statistics not in ("boson", "fermion"):
            raise ValueError(f"statistics must be 'boson' or 'fermion', got {statistics!r}")
        sites = self._sites(sites)
        om = self._strengths(omega, len(sites), "add_thermal_bath omega")
        ga = self._strengths(gamma, len(sites), "add_thermal_bath gamma")
        self.add_bath(name, T=T, mu=mu)
        for w, g, i in zip(om, ga, sites):
            g = _check_rate(g, "gamma")
            if statistics == "boson":
                nb = bose_occupation(w, T, mu)
                down, up = g * (nb + 1), g * nb
            else:
                nb = fermi_occupation(w, T, mu)
                down, up = g * (1 - nb), g * nb
            a = self._resolver(lower)(i)
            self._jumps.append(_LocalJumpSpec((i,), (a,), down, name, f"{name}_down_{i}"))
            self._jumps.append(_LocalJumpSpec((i,), (a.conj().T,), up, name, f"{name}_up_{i}"))
        return self

    def add_symmetry(self, sym) -> ModelBuilder:
        """Declare a :class:`U1Symmetry` or :class:`Z2Symmetry` (checked at build)."""
        self._symmetries.append(sym)
        return self

    def add_u1(self, local_charge, jump_charges=None, *, name: str = "N") -> ModelBuilder:
        """Declare a U(1) charge ``N = sum_i diag(local_charge)_i``.

        ``local_charge`` is a vector of integers of the local dimension (or a
        diagonal local operator name such as ``"num"``). Jump charges are
        computed from the jumps added so far when not given; call this after
        the last :meth:`add_jump`.
        """
        local = []
        per_dim: dict = {}
        for i, d in enumerate(self.dims):
            if d not in per_dim:
                if isinstance(local_charge, str):
                    q = np.real(local_op(local_charge, d).diagonal())
                else:
                    q = np.asarray(local_charge, dtype=float)
                if q.shape != (d,) or not np.allclose(q, np.round(q)):
                    raise ValueError(f"local_charge must be {d} integers for site {i}")
                per_dim[d] = np.round(q).astype(np.int64)
            local.append(per_dim[d])
        charges = LocalDiagonal(self.dims, local, "sum", what="the U(1) charge vector")
        if jump_charges is None:
            full = None
            qs = []
            for j in self._jumps:
                if isinstance(j, _LocalJumpSpec):
                    Q = LocalDiagonal([self.dims[s] for s in j.sites], [local[s] for s in j.sites]).render()
                    qs.append(_jump_charge(local_product(j.ops), Q, f"jump {j.label}"))
                else:
                    full = charges.render() if full is None else full
                    qs.append(_jump_charge(j.op, full, f"jump {j.label}"))
            jump_charges = tuple(qs)
        self._symmetries.append(U1Symmetry(charges, tuple(int(q) for q in jump_charges), name))
        return self

    def add_z2(self, local_parity, jump_parities=None, *, name: str = "P") -> ModelBuilder:
        """Declare a Z2 parity ``P = prod_i diag(local_parity)_i`` (entries +-1).

        Parameters
        ----------
        local_parity : array_like of int or str
            ``+-1`` for each local basis state (or a diagonal local operator
            name such as ``"sigmaz"``).
        jump_parities : sequence of int, optional
            ``p_k`` with ``P L_k P = p_k L_k``; computed from the jumps added
            so far when not given (call this after the last jump).
        name : str
            Name of the parity.

        Raises
        ------
        ValueError
            If ``local_parity`` is not +-1 of the local dimension, or a jump
            has no definite parity.
        """
        local = []
        per_dim: dict = {}
        for i, d in enumerate(self.dims):
            if d not in per_dim:
                if isinstance(local_parity, str):
                    p = np.real(local_op(local_parity, d).diagonal())
                else:
                    p = np.asarray(local_parity, dtype=float)
                if p.shape != (d,) or not np.all(np.isin(p, (-1, 1))):
                    raise ValueError(f"local_parity must be {d} entries +-1 for site {i}")
                per_dim[d] = p.astype(np.int64)
            local.append(per_dim[d])
        parities = LocalDiagonal(self.dims, local, "prod", what="the Z2 parity vector")
        if jump_parities is None:
            full = None
            ps = []
            for j in self._jumps:
                if isinstance(j, _LocalJumpSpec):
                    P = LocalDiagonal(
                        [self.dims[s] for s in j.sites], [local[s] for s in j.sites], "prod"
                    ).render()
                    ps.append(_jump_parity(local_product(j.ops), P, f"jump {j.label}"))
                else:
                    full = parities.render() if full is None else full
                    ps.append(_jump_parity(j.op, full, f"jump {j.label}"))
            jump_parities = tuple(ps)
        self._symmetries.append(Z2Symmetry(parities, tuple(int(p) for p in jump_parities), name))
        return self

    def set_params(self, **params) -> ModelBuilder:
        """Record the parameters the model was built from."""
        self._params.update(params)
        return self

    def build(self, *, check_symmetries: bool = True) -> LindbladModel:
        """Return the frozen :class:`LindbladModel`.

        With ``check_symmetries`` every declared symmetry is verified
        (``[H, N] = 0``, ``[N, L_k] = q_k L_k``) and a ``ValueError`` is raised
        if one does not hold; a charge declared by :meth:`add_u1` is checked
        on the local terms, without rendering the full matrices.

        Returns
        -------
        LindbladModel
            Built from local terms only (no :meth:`add_hamiltonian` or
            :meth:`add_collective_jump`): ``model.terms`` holds them and the
            matrices are rendered on first access. Otherwise ``model.terms``
            is ``None``.
        """
        local_jumps = [j for j in self._jumps if isinstance(j, _LocalJumpSpec)]
        terms = ChainTerms.create(
            self.dims, self._hterms, [(j.sites, j.ops, j.rate, j.bath, j.label) for j in local_jumps]
        )
        drives = tuple(
            Drive(
                LocalSum(
                    self.dims,
                    [terms.hamiltonian[k] for k in idx],
                    what=f"drive {lab!r}",
                    hermitian_checked=True,
                ),
                lab,
            )
            for lab, idx in self._drives
        )
        common = dict(
            baths=dict(self._baths),
            drives=drives,
            symmetries=tuple(self._symmetries),
            name=self.name,
            params=dict(self._params),
            site_kinds=self.site_kinds,
        )
        if not self._hmats and len(local_jumps) == len(self._jumps):
            model = LindbladModel.from_terms(terms, **common, _hermitian_checked=True)
        else:  # full-space parts: a matrix-based model (rendered on demand all the same)
            it = iter(terms.jumps)
            jumps = []
            for j in self._jumps:
                if isinstance(j, _LocalJumpSpec):
                    t = next(it)
                    what = f"the operator of jump {t.label!r}"
                    j = Jump(
                        LocalSum(self.dims, (LocalTerm(t.sites, t.ops, 1.0),), what=what),
                        t.rate,
                        t.bath,
                        t.label,
                    )
                jumps.append(j)
            H = LocalSum(self.dims, terms.hamiltonian, self._hmats, what="H", hermitian_checked=True)
            model = LindbladModel(dims=self.dims, H=H, jumps=tuple(jumps), **common)
        if check_symmetries:
            for s in model.symmetries:
                check_symmetry(model, s)
        return model


@dataclass(frozen=True)
class _LocalJumpSpec:
    sites: tuple
    ops: tuple
    rate: float
    bath: str | None
    label: str


def _nonzero(op) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the stored non-zeros of a dense or sparse ``op``."""
    if isinstance(op, np.ndarray):
        return np.nonzero(op)
    coo = sp.coo_array(op)
    return coo.row, coo.col


def _jump_charge(op, charges, what) -> int:
    """The integer q with [N, op] = q op for diagonal N, or raise."""
    row, col = _nonzero(op)
    if row.size == 0:
        return 0
    dq = charges[row] - charges[col]
    if not np.all(dq == dq[0]):
        raise ValueError(
            f"{what} does not carry a definite charge (mixes charges {sorted(set(dq.tolist()))})"
        )
    return int(dq[0])


def _jump_parity(op, parities, what) -> int:
    """The sign p with P op P = p op for diagonal P = diag(parities), or raise."""
    row, col = _nonzero(op)
    if row.size == 0:
        return 1
    s = parities[row] * parities[col]
    if not np.all(s == s[0]):
        raise ValueError(f"{what} has no definite parity")
    return int(s[0])


def check_symmetry(model: LindbladModel, sym, atol: float = 1e-10) -> None:
    """Verify a declared symmetry of ``model``; raise ``ValueError`` if it fails.

    U(1): ``H`` conserves the charge and each jump ``k`` changes it by
    ``q_k``. Z2: ``P H P = H`` and ``P L_k P = p_k L_k``. For a model kept as
    local terms and a charge that is a sum of local charges (a parity a
    product of local parities) the check runs on the local terms, so it
    never renders the full matrices: ``H`` conserves ``N`` if every group of
    terms on the same sites does (falling back to the rendered ``H`` when a
    group does not and ``H`` fits in memory).

    Parameters
    ----------
    model : LindbladModel
        The model the symmetry is declared for.
    sym : U1Symmetry or Z2Symmetry
        The declared symmetry.
    atol : float
        Absolute tolerance on the entries of the commutators checked.

    Returns
    -------
    None
        When every check passes.

    Raises
    ------
    ValueError
        Naming the first condition that fails (``H``, or which jump), or
        if ``sym`` is not a U1Symmetry or Z2Symmetry.
    TypeError
        If ``model`` is not a :class:`LindbladModel` (a bare Liouvillian,
        :class:`SuperoperatorModel`, has no ``H`` or jumps to check).
    """
    if not isinstance(model, LindbladModel):
        raise TypeError(
            f"model must be a qness.LindbladModel (check_symmetry tests H and the jump operators), got "
            f"{type(model).__name__}"
            + (f"; {model.lindblad_hint()}" if isinstance(model, SuperoperatorModel) else "")
        )
    if isinstance(sym, U1Symmetry):
        local, mode = sym.local_charges, "sum"
        what_h = f"H does not conserve the declared charge {sym.name!r}"

        def h_bad(a, b):
            return a != b

        def j_bad(a, b, q):
            return a - b != q

        def j_msg(k, j, q):
            return f"jump {k} ({j.label}) does not change {sym.name!r} by {q}"

        qs, attr = sym.jump_charges, "charges"
    elif isinstance(sym, Z2Symmetry):
        local, mode = sym.local_parities, "prod"
        what_h = f"H does not commute with the declared parity {sym.name!r}"

        def h_bad(a, b):
            return a != b

        def j_bad(a, b, q):
            return a * b != q

        def j_msg(k, j, q):
            return f"jump {k} ({j.label}) does not have parity {q} under {sym.name!r}"

        qs, attr = sym.jump_parities, "parities"
    else:
        raise ValueError(f"unknown symmetry type {type(sym).__name__}")
    # (a symmetry given to a solver, not declared on the model: its shapes were never checked, and 7
    # charges on 8 states raised IndexError, session-20 review)
    _check_symmetry_shape(sym, model.dim, len(model.jumps))

    dims = model.dims

    label_cache: dict = {}

    def labels_on(sites):
        if sites not in label_cache:
            label_cache[sites] = LocalDiagonal(
                [dims[s] for s in sites], [local[s] for s in sites], mode
            ).render()
        return label_cache[sites]

    def violates(M, lab, bad):
        if isinstance(M, np.ndarray):
            r, c = np.nonzero(np.abs(M) > atol)
            return bool(np.any(bad(lab[r], lab[c])))
        coo = sp.coo_array(M)
        mask = bad(lab[coo.row], lab[coo.col]) & (np.abs(coo.data) > atol)
        return bool(np.any(mask))

    H = raw(model, "H")
    full = None
    if local is not None and isinstance(H, LocalSum):
        ok = all(not violates(M, labels_on(sites), h_bad) for sites, M in H.groups().items())
        if ok and H.matrices:
            full = np.asarray(getattr(sym, attr))
            ok = all(not violates(M, full, h_bad) for M in H.matrices)
        if not ok:
            from .solvers.errors import InsufficientMemoryError

            try:
                Hfull = model.H
            except InsufficientMemoryError:
                raise ValueError(what_h) from None
            full = np.asarray(getattr(sym, attr)) if full is None else full
            if violates(Hfull, full, h_bad):
                raise ValueError(what_h)
    else:
        full = np.asarray(getattr(sym, attr))
        if violates(model.H, full, h_bad):
            raise ValueError(what_h)
    for k, (j, q) in enumerate(zip(model.jumps, qs)):
        op = raw(j, "op")
        if local is not None and isinstance(op, LocalSum) and not op.matrices:
            for t in op.terms:
                if t.coeff != 0 and violates(
                    local_product(t.ops), labels_on(t.sites), functools.partial(j_bad, q=q)
                ):
                    raise ValueError(j_msg(k, j, q))
        else:
            full = np.asarray(getattr(sym, attr)) if full is None else full
            if violates(j.op, full, functools.partial(j_bad, q=q)):
                raise ValueError(j_msg(k, j, q))


__all__ += ["check_symmetry"]
