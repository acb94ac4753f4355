"""Lindblad models as frozen data, and a builder for chains.

The master equation (hbar = 1) is

    d rho/dt = -i [H, rho] + sum_k ( L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho} ),

with ``L_k = sqrt(rate_k) * A_k``. A model keeps ``rate_k`` and ``A_k`` apart
(as :class:`Jump`) so that thermodynamic analysis can read which bath each
jump belongs to. The Liouvillian is derived from the model, never stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from .operators import _check_dims, _is_qobj, as_csr, chain_operator, local_op

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
class Jump:
    """One jump operator ``L = sqrt(rate) * op``.

    Attributes
    ----------
    op : scipy.sparse.csr_array
        The operator ``A`` on the full Hilbert space.
    rate : float
        Non-negative rate (units of energy, hbar = 1).
    bath : str or None
        Label of the bath this jump belongs to (``None``: no bath).
    label : str
        Human-readable name, e.g. ``"sigma-_0"``.
    """

    op: sp.csr_array
    rate: float = 1.0
    bath: str | None = None
    label: str = ""

    @property
    def L(self) -> sp.csr_array:
        """The full jump operator ``sqrt(rate) * op``."""
        return sp.csr_array(math.sqrt(self.rate) * self.op)


@dataclass(frozen=True)
class Bath:
    """A reservoir: temperature ``T`` and chemical potential ``mu`` (``None`` if not thermal)."""

    name: str
    T: float | None = None
    mu: float | None = None


@dataclass(frozen=True)
class Drive:
    """A coherent drive term ``amplitude * op`` that is part of ``H``.

    Kept so that analysis can separate the drive (work source) from the
    system's own energy ``H0 = H - sum(drives)``.
    """

    op: sp.csr_array
    label: str = ""


@dataclass(frozen=True)
class U1Symmetry:
    """A weak U(1) symmetry: charge ``N = diag(charges)`` with ``[H, N] = 0``.

    Each jump carries integer charge ``q_k`` with ``[N, L_k] = q_k L_k``.
    The Liouvillian splits into sectors of ``n_left - n_right``.

    Attributes
    ----------
    charges : numpy.ndarray of int, shape (d,)
        Eigenvalues of ``N`` on the computational basis (``N`` must be
        diagonal in it).
    jump_charges : tuple of int
        ``q_k`` for each jump of the model, in order.
    name : str
        Name of the charge (e.g. ``"magnetisation"``).
    """

    charges: np.ndarray
    jump_charges: tuple[int, ...]
    name: str = "N"


@dataclass(frozen=True)
class Z2Symmetry:
    """A weak Z2 symmetry: parity ``P = diag(parities)`` (entries +-1), ``[H, P] = 0``.

    Each jump has parity ``p_k = +-1`` with ``P L_k P = p_k L_k``.
    """

    parities: np.ndarray
    jump_parities: tuple[int, ...]
    name: str = "P"


@dataclass(frozen=True, eq=False)
class LindbladModel:
    """A Lindblad master equation (frozen; derive, never mutate).

    Attributes
    ----------
    dims : tuple of int
        Local dimensions, site 0 the leftmost tensor factor.
    H : scipy.sparse.csr_array
        Hermitian Hamiltonian (complex128, size ``prod(dims)``), including
        any drive terms.
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

    Notes
    -----
    Build one with :func:`from_qutip`, :class:`ModelBuilder` or a named model
    in :mod:`qness.models`; the constructor validates shapes, finiteness,
    Hermiticity of ``H`` and the rates, and raises ``ValueError`` naming the
    offending argument.
    """

    dims: tuple[int, ...]
    H: sp.csr_array
    jumps: tuple[Jump, ...] = ()
    baths: Mapping[str, Bath] = field(default_factory=dict)
    drives: tuple[Drive, ...] = ()
    symmetries: tuple = ()
    name: str = "model"
    params: Mapping = field(default_factory=dict)
    site_kinds: tuple = ()
    qobj_dims: object = None

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
        H = as_csr(self.H, "H")
        if H.shape[0] != H.shape[1]:
            raise ValueError(f"H must be square, got shape {H.shape}")
        if H.shape != (d, d):
            raise ValueError(f"H has shape {H.shape} but dims {dims} give dimension {d}")
        _check_hermitian(H, "H")
        jumps = []
        for k, j in enumerate(self.jumps):
            if not isinstance(j, Jump):
                raise ValueError(f"jumps[{k}] must be a qness.Jump, got {type(j).__name__}")
            op = as_csr(j.op, f"jumps[{k}].op")
            if op.shape != (d, d):
                raise ValueError(f"jumps[{k}].op has shape {op.shape}, expected ({d}, {d})")
            rate = _check_rate(j.rate, f"jumps[{k}].rate")
            jumps.append(Jump(op, rate, j.bath, j.label or f"L{k}"))
        baths = dict(self.baths)
        for name, b in baths.items():
            if not isinstance(b, Bath):
                raise ValueError(f"baths[{name!r}] must be a qness.Bath")
            if b.T is not None and (not math.isfinite(b.T) or b.T < 0):
                raise ValueError(f"baths[{name!r}].T must be finite and >= 0, got {b.T!r}")
            if b.mu is not None and not math.isfinite(b.mu):
                raise ValueError(f"baths[{name!r}].mu must be finite, got {b.mu!r}")
        for j in jumps:
            if j.bath is not None and j.bath not in baths:
                baths[j.bath] = Bath(j.bath)
        drives = []
        for k, dr in enumerate(self.drives):
            op = as_csr(dr.op, f"drives[{k}].op")
            if op.shape != (d, d):
                raise ValueError(f"drives[{k}].op has shape {op.shape}, expected ({d}, {d})")
            _check_hermitian(op, f"drives[{k}].op")
            drives.append(Drive(op, dr.label or f"drive{k}"))
        for s in self.symmetries:
            _check_symmetry_shape(s, d, len(jumps))
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "H", H)
        object.__setattr__(self, "jumps", tuple(jumps))
        object.__setattr__(self, "baths", MappingProxyType(baths))
        object.__setattr__(self, "drives", tuple(drives))
        object.__setattr__(self, "symmetries", tuple(self.symmetries))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

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
        """Non-Hermitian ``H_eff = H - i/2 sum_k L_k^+ L_k`` (csr_array)."""
        K = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
        for j in self.jumps:
            if j.rate > 0:
                K = K + j.rate * (j.op.T.conj() @ j.op)
        out = sp.csr_array(self.H - 0.5j * K)
        out.sum_duplicates()
        out.sort_indices()
        return out

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
        """A copy with some fields replaced (validated again)."""
        kw = {
            f: getattr(self, f)
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
            )
        }
        kw.update(changes)
        return LindbladModel(**kw)

    def to_qutip(self):
        """``(H, c_ops)`` as ``qutip.Qobj`` with chain dims."""
        from .operators import to_qobj

        return to_qobj(self.H, self.dims), [to_qobj(c, self.dims) for c in self.c_ops]

    def __repr__(self) -> str:
        return (
            f"LindbladModel(name={self.name!r}, dims={self.dims}, dim={self.dim}, "
            f"jumps={len(self.jumps)}, baths={list(self.baths)})"
        )


def _check_hermitian(H, name):
    diff = H - H.T.conj()
    scale = max(1.0, float(np.max(np.abs(H.data))) if H.nnz else 1.0)
    err = float(np.max(np.abs(diff.data))) if diff.nnz else 0.0
    if err > 1e-10 * scale:
        raise ValueError(
            f"{name} is not Hermitian: max |{name} - {name}^+| = {err:.3g}; "
            "put dissipation into jump operators, not into H"
        )


def _check_symmetry_shape(s, d, njumps):
    if isinstance(s, U1Symmetry):
        ch = np.asarray(s.charges)
        if ch.shape != (d,):
            raise ValueError(f"U1Symmetry.charges must have shape ({d},), got {ch.shape}")
        if len(s.jump_charges) != njumps:
            raise ValueError(
                f"U1Symmetry.jump_charges has {len(s.jump_charges)} entries, the model has {njumps} jumps"
            )
    elif isinstance(s, Z2Symmetry):
        p = np.asarray(s.parities)
        if p.shape != (d,) or not np.all(np.isin(p, (-1, 1))):
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
        Hermitian Hamiltonian (hbar = 1), time-independent.
    c_ops : sequence
        Jump operators ``L_k`` in the form QuTiP uses (rates already inside,
        ``L_k = sqrt(rate_k) A_k``), unless ``rates`` is given.
    dims : sequence of int, optional
        Local dimensions; taken from ``H.dims`` for a Qobj, else ``(d,)``.
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
        (labelled ``"gamma_k"``; zero eigenvalues are dropped).
    baths : mapping or sequence of str, optional
        A mapping ``{name: T}``, ``{name: (T, mu)}``, ``{name: {"T": T, "mu": mu}}``
        or ``{name: qness.Bath}`` declaring the reservoirs (temperatures for
        :mod:`qness.analysis.thermo`; ``T=None`` for a non-thermal bath). For
        backward compatibility a sequence of str is taken as
        ``bath_labels``.
    bath_labels : sequence of str or None, optional
        The bath of each entry of ``c_ops`` (``None``: no bath). With a
        rate matrix, entries of different baths must not be correlated
        (``gamma_ij = 0``).
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
        For time-dependent input (``QobjEvo`` or QuTiP's list format: use the
        rotating frame, or :func:`qness.floquet_steady_state` for a periodic drive),
        a superoperator passed as ``H`` or as a jump, or an argument that is
        not an operator.
    ValueError
        On mismatched shapes or dims, non-square or non-Hermitian ``H``,
        non-finite entries (NaN or inf, also inside a ``Qobj``), negative
        rates or a rate matrix that is not Hermitian positive semi-definite.

    Examples
    --------
    >>> import qutip, qness
    >>> m = qness.from_qutip(qutip.sigmaz(), [qutip.sigmam()])
    >>> m.dims
    (2,)
    """
    from .operators import time_dependence

    qobj_dims = None
    if dims is None and _is_qobj(H) and getattr(H, "type", "oper") == "oper":
        qdims = H.dims[0]
        if _nested(qdims) or math.prod(int(x) for x in np.ravel(qdims)) != H.shape[0]:
            # not a plain tensor product (ENR space or nested dims): one flat space
            dims = (int(H.shape[0]),)
            qobj_dims = getattr(H, "_dims", None) or H.dims
        else:
            dims = tuple(int(x) for x in qdims)
    Hm = as_csr(H, "H")
    if Hm.shape[0] != Hm.shape[1]:
        raise ValueError(f"H must be square, got shape {Hm.shape}")
    if dims is None:
        dims = (Hm.shape[0],)
    reason = time_dependence(c_ops)
    if reason is not None and not isinstance(c_ops, (list, tuple)):
        raise TypeError(f"c_ops is time-dependent ({reason}); {_time_hint()}")
    if _is_qobj(c_ops) or isinstance(c_ops, (str, bytes)) or not hasattr(c_ops, "__iter__"):
        raise TypeError(f"c_ops must be a list of operators, got {type(c_ops).__name__}")
    c_ops = list(c_ops)
    if isinstance(baths, (list, tuple)) and bath_labels is None:
        baths, bath_labels = None, baths
    if bath_labels is not None:
        bath_labels = list(bath_labels)
        if len(bath_labels) != len(c_ops):
            raise ValueError(f"bath_labels has {len(bath_labels)} entries but there are {len(c_ops)} c_ops")
        for k, lab in enumerate(bath_labels):
            if lab is not None and not isinstance(lab, str):
                raise TypeError(f"bath_labels[{k}] must be a str or None, got {type(lab).__name__}")
    bath_map = _bath_mapping(baths)
    ops = []
    for k, c in enumerate(c_ops):
        op = as_csr(c, f"c_ops[{k}]")
        if _is_qobj(c) and _is_qobj(H) and c.dims != H.dims:
            raise ValueError(f"c_ops[{k}] has dims {c.dims}, H has {H.dims}")
        ops.append(op)
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
            if not math.isfinite(T) or T < 0:
                raise ValueError(f"baths[{name!r}]: T must be finite and non-negative, got {T!r}")
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
        g, U = np.linalg.eigh(G[np.ix_(idx, idx)])
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
#: to about 1e-8 relative; a matrix in row stacking or not a generator at all misses by O(1).
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

    Raises
    ------
    ValueError
        If ``L`` is not square of size ``prod(dims)**2``, has non-finite
        entries, or does not preserve the trace (``vec(1)^T L != 0``: not a
        Lindblad generator in column stacking).
    """

    L: sp.csr_array
    dims: tuple[int, ...]
    qobj_dims: object = None
    name: str = "liouvillian"

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
            raise ValueError(
                f"L does not preserve the trace (max |vec(1)^T L| = {err:.3g} against max |L| = "
                f"{scale:.3g}): it is not a Lindblad generator in column stacking "
                "(vec(rho) = rho.ravel(order='F')), or not a Liouvillian at all"
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
    """Make a :class:`SuperoperatorModel` from a Liouvillian (and optional extra jumps).

    Parameters
    ----------
    L : qutip.Qobj of type "super", scipy sparse or numpy.ndarray
        The ``d^2 x d^2`` generator in column stacking (as
        ``qutip.liouvillian``).
    c_ops : sequence of operators, optional
        Jump operators whose dissipators ``D[c] = c . c^+ - 1/2 {c^+ c, .}``
        are added to ``L`` (as ``qutip.steadystate(L, c_ops)`` does).
    dims : sequence of int, optional
        Local Hilbert-space dimensions; from the ``Qobj`` (else ``(d,)`` with
        ``d = sqrt(L.shape[0])``).
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
        On a non-square size, non-finite entries or a generator that does
        not preserve the trace.

    Examples
    --------
    >>> import qutip, qness
    >>> ness = qness.steady_state(qutip.liouvillian(qutip.sigmax(), [qutip.sigmam()]))
    >>> round(ness.expect(qutip.sigmaz()), 6)
    -0.111111
    """
    qobj_dims = None
    if _is_qobj(L):
        if getattr(L, "type", None) != "super":
            raise TypeError(
                f"L must be a superoperator (Qobj of type 'super'), got a Qobj of type {L.type!r}; "
                "for a Hamiltonian pass (H, c_ops) as one tuple"
            )
        if dims is None:
            hd = L.dims[0][0]
            flat = [int(x) for x in np.ravel(hd)] if not _nested(hd) else None
            n = int(round(math.isqrt(L.shape[0])))
            if flat is not None and math.prod(flat) == n:
                dims = tuple(flat)
            else:
                dims = (n,)
    M = as_csr(L, "L", allow_super=True)
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
    if c_ops is not None and len(c_ops):
        from .liouvillian import liouvillian

        d = math.prod(_check_dims(dims))
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
    :func:`from_qutip`), or a Liouvillian: a ``Qobj`` of type ``"super"`` or
    a square matrix of size ``d^2`` (see :func:`from_liouvillian`; use that
    function to give its ``dims``).

    Raises
    ------
    TypeError
        For anything else (e.g. a single operator ``Qobj``, a time-dependent
        ``QobjEvo``), with what to pass instead.
    """
    if isinstance(obj, (LindbladModel, SuperoperatorModel)):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        H, c_ops = obj
        if _is_qobj(H) and getattr(H, "type", None) == "super":
            raise TypeError(
                "H is a superoperator (Qobj of type 'super'), not a Hamiltonian; pass the Liouvillian "
                "alone, e.g. qness.steady_state(L), or qness.from_liouvillian(L, c_ops) to add jumps"
            )
        return from_qutip(H, c_ops)
    if _is_qobj(obj):
        if getattr(obj, "type", None) == "super":
            return from_liouvillian(obj)
        raise TypeError(
            f"got a single Qobj of type {obj.type!r}; pass (H, c_ops) as one tuple, or a Liouvillian "
            "(Qobj of type 'super')"
        )
    from .operators import time_dependence

    reason = time_dependence(obj)
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
    if T < 0 or not math.isfinite(T):
        raise ValueError(f"T must be finite and non-negative, got {T!r}")
    if omega - mu <= 0:
        raise ValueError(f"bosonic bath needs omega > mu, got omega={omega!r}, mu={mu!r}")
    if T == 0:
        return 0.0
    return 1.0 / math.expm1((omega - mu) / T)


def fermi_occupation(omega: float, T: float, mu: float = 0.0) -> float:
    """Fermi-Dirac occupation ``1/(exp((omega - mu)/T) + 1)`` (a step at ``T = 0``)."""
    if T < 0 or not math.isfinite(T):
        raise ValueError(f"T must be finite and non-negative, got {T!r}")
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
        self._H = []  # list of csr terms
        self._drives: list[Drive] = []
        self._jumps: list[Jump] = []
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

    def add_hamiltonian(self, H) -> ModelBuilder:
        """Add a Hermitian operator on the full space to ``H``."""
        Hm = as_csr(H, "H term")
        if Hm.shape != (self.dim, self.dim):
            raise ValueError(f"H term has shape {Hm.shape}, expected ({self.dim}, {self.dim})")
        _check_hermitian(Hm, "H term")
        self._H.append(Hm)
        return self

    def add_onsite(self, strength, op, sites=None) -> ModelBuilder:
        """Add ``sum_i strength_i * op_i`` to ``H`` (``op`` must be Hermitian)."""
        sites = self._sites(sites)
        s = self._strengths(strength, len(sites), "add_onsite")
        for h, i in zip(s, sites):
            if h != 0:
                term = h * chain_operator({i: op}, self.dims)
                _check_hermitian(term, f"onsite term on site {i}")
                self._H.append(sp.csr_array(term))
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
        for h, (i, j) in zip(s, bonds):
            if h == 0:
                continue
            term = sp.csr_array(h * chain_operator({i: op1, j: op2}, self.dims))
            if plus_hc:
                term = sp.csr_array(term + term.T.conj())
            _check_hermitian(term, f"coupling on bond ({i}, {j}); use plus_hc=True for non-Hermitian pairs")
            self._H.append(term)
        return self

    def add_drive(self, amplitude, op, sites=None, *, plus_hc: bool = False, label: str = "") -> ModelBuilder:
        """Add a coherent drive ``sum_i amplitude_i op_i (+ h.c.)`` to ``H``, recorded as a drive."""
        sites = self._sites(sites)
        s = self._strengths(amplitude, len(sites), "add_drive")
        for h, i in zip(s, sites):
            if h == 0:
                continue
            term = sp.csr_array(h * chain_operator({i: op}, self.dims))
            if plus_hc:
                term = sp.csr_array(term + term.T.conj())
            _check_hermitian(term, f"drive on site {i}; use plus_hc=True for a non-Hermitian op")
            self._H.append(term)
            self._drives.append(Drive(term, label or f"drive_{i}"))
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
        for r, i in zip(rates, sites):
            r = _check_rate(r, "rate")
            name = f"{label or (op if isinstance(op, str) else 'L')}_{i}"
            self._jumps.append(Jump(chain_operator({i: op}, self.dims), r, bath, name))
        if bath is not None and bath not in self._baths:
            self._baths[bath] = Bath(bath)
        return self

    def add_collective_jump(self, op, rate, *, bath: str | None = None, label: str = "") -> ModelBuilder:
        """Add one jump operator ``sqrt(rate) * op`` on the full space (e.g. a collective decay)."""
        mat = as_csr(op, "op")
        if mat.shape != (self.dim, self.dim):
            raise ValueError(f"op has shape {mat.shape}, expected ({self.dim}, {self.dim})")
        self._jumps.append(Jump(mat, _check_rate(rate), bath, label or f"L{len(self._jumps)}"))
        if bath is not None and bath not in self._baths:
            self._baths[bath] = Bath(bath)
        return self

    def add_bath(self, name: str, *, T: float | None = None, mu: float | None = None) -> ModelBuilder:
        """Declare a bath with temperature ``T`` and chemical potential ``mu``."""
        self._baths[name] = Bath(name, None if T is None else float(T), None if mu is None else float(mu))
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
            a = local_op(lower, self.dims[i])
            self._jumps.append(Jump(chain_operator({i: a}, self.dims), down, name, f"{name}_down_{i}"))
            self._jumps.append(Jump(chain_operator({i: a.T.conj()}, self.dims), up, name, f"{name}_up_{i}"))
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
        charges = np.zeros(self.dim, dtype=np.int64)
        for i, d in enumerate(self.dims):
            if isinstance(local_charge, str):
                q = np.real(local_op(local_charge, d).diagonal())
            else:
                q = np.asarray(local_charge, dtype=float)
            if q.shape != (d,) or not np.allclose(q, np.round(q)):
                raise ValueError(f"local_charge must be {d} integers for site {i}")
            q = np.round(q).astype(np.int64)
            left = math.prod(self.dims[:i])
            right = math.prod(self.dims[i + 1 :])
            charges += np.kron(np.ones(left, dtype=np.int64), np.kron(q, np.ones(right, dtype=np.int64)))
        if jump_charges is None:
            jump_charges = tuple(_jump_charge(j.op, charges, f"jump {j.label}") for j in self._jumps)
        self._symmetries.append(U1Symmetry(charges, tuple(int(q) for q in jump_charges), name))
        return self

    def set_params(self, **params) -> ModelBuilder:
        """Record the parameters the model was built from."""
        self._params.update(params)
        return self

    def build(self, *, check_symmetries: bool = True) -> LindbladModel:
        """Return the frozen :class:`LindbladModel`.

        With ``check_symmetries`` every declared symmetry is verified
        (``[H, N] = 0``, ``[N, L_k] = q_k L_k``) and a ``ValueError`` is raised
        if one does not hold.
        """
        H = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
        for t in self._H:
            H = H + t
        model = LindbladModel(
            dims=self.dims,
            H=sp.csr_array(H),
            jumps=tuple(self._jumps),
            baths=dict(self._baths),
            drives=tuple(self._drives),
            symmetries=tuple(self._symmetries),
            name=self.name,
            params=dict(self._params),
            site_kinds=self.site_kinds,
        )
        if check_symmetries:
            for s in model.symmetries:
                check_symmetry(model, s)
        return model


def _jump_charge(op, charges, what) -> int:
    """The integer q with [N, op] = q op for diagonal N, or raise."""
    coo = sp.coo_array(op)
    if coo.nnz == 0:
        return 0
    dq = charges[coo.row] - charges[coo.col]
    if not np.all(dq == dq[0]):
        raise ValueError(
            f"{what} does not carry a definite charge (mixes charges {sorted(set(dq.tolist()))})"
        )
    return int(dq[0])


def check_symmetry(model: LindbladModel, sym, atol: float = 1e-10) -> None:
    """Verify a declared symmetry of ``model``; raise ``ValueError`` if it fails.

    U(1): ``H`` conserves the charge and each jump ``k`` changes it by
    ``q_k``. Z2: ``P H P = H`` and ``P L_k P = p_k L_k``.
    """
    if isinstance(sym, U1Symmetry):
        ch = np.asarray(sym.charges)
        coo = sp.coo_array(model.H)
        bad = (ch[coo.row] != ch[coo.col]) & (np.abs(coo.data) > atol)
        if np.any(bad):
            raise ValueError(f"H does not conserve the declared charge {sym.name!r}")
        for k, (j, q) in enumerate(zip(model.jumps, sym.jump_charges)):
            c = sp.coo_array(j.op)
            bad = (ch[c.row] - ch[c.col] != q) & (np.abs(c.data) > atol)
            if np.any(bad):
                raise ValueError(f"jump {k} ({j.label}) does not change {sym.name!r} by {q}")
    elif isinstance(sym, Z2Symmetry):
        p = np.asarray(sym.parities)
        coo = sp.coo_array(model.H)
        bad = (p[coo.row] != p[coo.col]) & (np.abs(coo.data) > atol)
        if np.any(bad):
            raise ValueError(f"H does not commute with the declared parity {sym.name!r}")
        for k, (j, q) in enumerate(zip(model.jumps, sym.jump_parities)):
            c = sp.coo_array(j.op)
            bad = (p[c.row] * p[c.col] != q) & (np.abs(c.data) > atol)
            if np.any(bad):
                raise ValueError(f"jump {k} ({j.label}) does not have parity {q} under {sym.name!r}")
    else:
        raise ValueError(f"unknown symmetry type {type(sym).__name__}")


__all__ += ["check_symmetry"]
