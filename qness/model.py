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
    "as_model",
    "bose_occupation",
    "fermi_occupation",
]


def _check_rate(rate, name="rate") -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {rate!r}") from None
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

    def __post_init__(self):
        dims = _check_dims(self.dims)
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
            for f in ("dims", "H", "jumps", "baths", "drives", "symmetries", "name", "params")
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


def from_qutip(H, c_ops=(), *, dims=None, rates=None, baths=None, name="model") -> LindbladModel:
    """Make a :class:`LindbladModel` from a Hamiltonian and collapse operators.

    Parameters
    ----------
    H : qutip.Qobj, numpy.ndarray or scipy sparse
        Hermitian Hamiltonian (hbar = 1).
    c_ops : sequence
        Jump operators ``L_k`` in the form QuTiP uses (rates already inside,
        ``L_k = sqrt(rate_k) A_k``), unless ``rates`` is given.
    dims : sequence of int, optional
        Local dimensions; taken from ``H.dims`` for a Qobj, else ``(d,)``.
    rates : sequence of float, optional
        If given, ``c_ops[k]`` is ``A_k`` and the jump is ``sqrt(rates[k]) A_k``.
    baths : sequence of str, optional
        Bath label of each jump.
    name : str
        Model name.

    Returns
    -------
    LindbladModel

    Raises
    ------
    ValueError
        On mismatched shapes or dims, non-square or non-Hermitian ``H``,
        non-finite entries or negative rates.

    Examples
    --------
    >>> import qutip, qness
    >>> m = qness.from_qutip(qutip.sigmaz(), [qutip.sigmam()])
    >>> m.dims
    (2,)
    """
    if dims is None and _is_qobj(H):
        dims = tuple(int(x) for x in np.ravel(H.dims[0]))
    Hm = as_csr(H, "H")
    if Hm.shape[0] != Hm.shape[1]:
        raise ValueError(f"H must be square, got shape {Hm.shape}")
    if dims is None:
        dims = (Hm.shape[0],)
    if _is_qobj(c_ops) or (not isinstance(c_ops, (list, tuple)) and not hasattr(c_ops, "__iter__")):
        raise ValueError("c_ops must be a list of operators")
    c_ops = list(c_ops)
    if rates is not None and len(rates) != len(c_ops):
        raise ValueError(f"rates has {len(rates)} entries but there are {len(c_ops)} c_ops")
    if baths is not None and len(baths) != len(c_ops):
        raise ValueError(f"baths has {len(baths)} entries but there are {len(c_ops)} c_ops")
    jumps = []
    for k, c in enumerate(c_ops):
        if _is_qobj(c) and _is_qobj(H) and c.dims != H.dims:
            raise ValueError(f"c_ops[{k}] has dims {c.dims}, H has {H.dims}")
        op = as_csr(c, f"c_ops[{k}]")
        rate = 1.0 if rates is None else _check_rate(rates[k], f"rates[{k}]")
        jumps.append(Jump(op, rate, None if baths is None else baths[k], f"c_ops[{k}]"))
    return LindbladModel(dims=tuple(dims), H=Hm, jumps=tuple(jumps), name=name)


def as_model(obj) -> LindbladModel:
    """Coerce ``obj`` to a :class:`LindbladModel`.

    Accepts a model, or a tuple ``(H, c_ops)`` of QuTiP objects or arrays.
    """
    if isinstance(obj, LindbladModel):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        return from_qutip(*obj)
    raise ValueError(f"expected a qness.LindbladModel or a tuple (H, c_ops), got {type(obj).__name__}")


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

    def __init__(self, dims, n: int | None = None, *, name: str = "model"):
        if isinstance(dims, (int, np.integer)):
            if n is None:
                raise ValueError("give n (number of sites) when dims is a single integer")
            dims = (int(dims),) * int(n)
        elif n is not None and len(dims) != n:
            raise ValueError(f"dims has {len(dims)} entries but n={n}")
        self.dims = _check_dims(dims)
        self.n = len(self.dims)
        self.name = name
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
