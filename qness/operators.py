"""Local operators and their embedding into chains.

Conventions (as QuTiP, so operators are interchangeable with ``qutip.Qobj``):

* Spin-s local basis ordered ``m = +s, +s-1, ..., -s``; for spin-1/2 this is
  ``|0> = up``, ``sigma_z = diag(1, -1)``, ``sigma_- = |1><0|`` (QuTiP's
  ``sigmam()``).
* Truncated bosons: Fock states ``n = 0, 1, ..., cutoff-1``.
* Tensor order: site 0 is the leftmost factor (as ``qutip.tensor``).
* Fermions by Jordan-Wigner, **occupied = spin up**:
  ``c_j = (prod_{l<j} (-sigma^z_l)) sigma^-_j`` and ``n_j = (1 + sigma^z_j)/2``,
  so that ``sigma^+`` injects a particle and the magnetisation counts
  particles. QuTiP's ``fdestroy`` uses the opposite assignment (occupied =
  ``|1>``); the two differ by a particle-hole transformation.

Every operator is returned as a ``scipy.sparse.csr_array`` of dtype
complex128.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import reduce

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_csr",
    "time_dependence",
    "identity",
    "sigmax",
    "sigmay",
    "sigmaz",
    "sigmap",
    "sigmam",
    "spin_ops",
    "jx",
    "jy",
    "jz",
    "jp",
    "jm",
    "destroy",
    "create",
    "num",
    "local_op",
    "embed",
    "chain_operator",
    "fermion_annihilation",
    "fermion_creation",
    "fermion_number",
    "to_qobj",
    "from_qobj",
    "LOCAL_OPERATORS",
]


def as_csr(op, name: str = "operator", *, allow_super: bool = False) -> sp.csr_array:
    """Return ``op`` as a canonical complex128 ``csr_array``.

    Parameters
    ----------
    op : array_like, scipy sparse matrix/array or qutip.Qobj
        The operator.
    name : str
        Name used in error messages.
    allow_super : bool
        Accept a ``Qobj`` of type ``"super"`` (a superoperator); by default
        it is refused, since an operator is expected.

    Returns
    -------
    scipy.sparse.csr_array
        Complex128, sorted indices, duplicates summed.

    Raises
    ------
    TypeError
        If ``op`` is time-dependent (``qutip.QobjEvo`` or QuTiP's list
        format), a superoperator, a ket/bra, a string or another object
        that is not a matrix.
    ValueError
        If ``op`` is not two-dimensional or has non-finite entries (checked
        on the ``Qobj``'s own data: QuTiP's conversion to CSR drops NaN).
    """
    reason = time_dependence(op)
    if reason is not None:
        raise TypeError(f"{name} is time-dependent ({reason}); {TIME_DEPENDENCE_HINT}")
    if isinstance(op, str):
        raise TypeError(f"{name} must be a matrix (array, sparse or qutip.Qobj), got the string {op!r}")
    if _is_qobj(op):
        op = _qobj_matrix(op, name, allow_super)
    if sp.issparse(op):
        out = sp.csr_array(op, dtype=np.complex128, copy=True)
    else:
        try:
            arr = np.asarray(op)
        except ValueError as exc:  # ragged nested lists
            raise TypeError(f"{name}: cannot convert {type(op).__name__} to a matrix ({exc})") from None
        if arr.dtype.kind not in "biufc":  # bool, int, uint, float, complex
            what = type(op).__name__ + (f" of dtype {arr.dtype}" if isinstance(op, np.ndarray) else "")
            raise TypeError(f"{name}: cannot convert object of type {what} to a matrix")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be two-dimensional, got an array of shape {arr.shape}")
        out = sp.csr_array(arr.astype(np.complex128, copy=False))
    if out.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional, got shape {out.shape}")
    out.sum_duplicates()
    out.sort_indices()
    if not np.all(np.isfinite(out.data)):
        raise ValueError(f"{name} has non-finite (NaN or inf) entries")
    out.eliminate_zeros()
    return out


#: What every refusal of a time-dependent input suggests instead.
TIME_DEPENDENCE_HINT = (
    "a steady state needs a time-independent generator: move to the rotating frame of the drive "
    "(rotating-wave approximation) to remove the time dependence, or, for a periodic drive, use "
    "the limit cycle of the periodically driven system: qness.floquet_steady_state(model, drive, "
    "omega), which takes QuTiP's list format with a periodic coefficient"
)


def time_dependence(obj) -> str | None:
    """Describe how ``obj`` is time-dependent in QuTiP's formats, or ``None``.

    Recognises ``qutip.QobjEvo`` and QuTiP's list format (``[H0, [H1,
    coeff]]`` or ``[op, coeff]`` with a string, callable, array or
    ``qutip.Coefficient`` coefficient).

    Parameters
    ----------
    obj : object
        Anything a user may pass as ``H`` or a jump operator.

    Returns
    -------
    str or None
        A phrase naming the time-dependent format found (for error
        messages), or ``None`` when ``obj`` is not time-dependent.
    """
    tname = type(obj).__name__
    if tname == "QobjEvo":
        return "a qutip.QobjEvo"
    if isinstance(obj, (list, tuple)) and not isinstance(obj, np.ndarray):
        items = list(obj)
        if len(items) == 2 and _is_qobj(items[0]) and _is_coefficient(items[1]):
            return f"QuTiP's list format [op, {_coefficient_repr(items[1])}]"
        for it in items:
            if type(it).__name__ == "QobjEvo":
                return "a list holding a qutip.QobjEvo"
            if isinstance(it, (list, tuple)) and len(it) == 2 and _is_qobj(it[0]) and _is_coefficient(it[1]):
                return f"QuTiP's list format [..., [op, {_coefficient_repr(it[1])}]]"
        if items and any(_is_qobj(it) for it in items):
            return "QuTiP's list format (a list of Qobj terms)"
    return None


def _is_coefficient(c) -> bool:
    if isinstance(c, str) or callable(c):
        return True
    if type(c).__name__.endswith("Coefficient"):
        return True
    if isinstance(c, (list, np.ndarray)):
        try:
            arr = np.asarray(c)
        except ValueError:
            return False
        return arr.ndim == 1 and arr.size > 1 and np.issubdtype(arr.dtype, np.number)
    return False


def _coefficient_repr(c) -> str:
    if isinstance(c, str):
        return repr(c)
    if callable(c) and not type(c).__name__.endswith("Coefficient"):
        return f"function {getattr(c, '__name__', 'f')}(t)"
    if type(c).__name__.endswith("Coefficient"):
        return type(c).__name__
    return "an array of values in t"


def _qobj_matrix(q, name: str, allow_super: bool):
    """The data of an operator ``Qobj`` as a SciPy/NumPy matrix, checked for NaN before conversion."""
    qtype = getattr(q, "type", "oper")
    if qtype in ("super",):
        if not allow_super:
            raise TypeError(
                f"{name} is a superoperator (Qobj of type 'super', shape {q.shape}), not an operator; "
                "pass a Liouvillian alone, e.g. qness.steady_state(L), or build the model from (H, c_ops)"
            )
        if getattr(q, "superrep", "super") not in (None, "super"):
            raise ValueError(
                f"{name} is a superoperator in the {q.superrep!r} representation; convert it with "
                "qutip.to_super(...) first"
            )
    elif qtype in ("ket", "bra", "operator-ket", "operator-bra"):
        raise TypeError(f"{name} must be an operator, got a Qobj of type {qtype!r} (shape {q.shape})")
    data = q.data
    kind = type(data).__name__
    if kind == "Dense":
        mat = data.as_ndarray()
        if not np.all(np.isfinite(mat)):
            raise ValueError(f"{name} has non-finite (NaN or inf) entries")
        return mat
    if kind in ("CSR", "Dia"):
        mat = data.as_scipy()
        if not np.all(np.isfinite(mat.data)):
            raise ValueError(f"{name} has non-finite (NaN or inf) entries")
        return mat
    mat = q.full()  # any other data layer: check the dense values
    if not np.all(np.isfinite(mat)):
        raise ValueError(f"{name} has non-finite (NaN or inf) entries")
    return mat


def _is_qobj(obj) -> bool:
    return type(obj).__name__ == "Qobj" and hasattr(obj, "dims")


def check_qobj_dims(op, dims, qobj_dims=None, *, name: str = "op", owner: str = "the state") -> None:
    """ValueError if the ``Qobj`` ``op`` has the right size but other tensor factors than ``dims``.

    The one dims check of operators handed to a state or a model (``NESS.expect``,
    ``FloquetNESS.expect``, ``correlation``, ``asymptotic_state``'s ``rho0``), as
    ``qutip.expect`` refuses such a pair. A ``Qobj`` on one flat space of the
    right size is accepted on a chain and vice versa (it is split as an array
    would be); a space with its own QuTiP dims (``qobj_dims``, e.g. ENR) must be
    matched exactly. Anything other than an operator or ket ``Qobj`` passes:
    shapes and types are checked by the caller.

    Parameters
    ----------
    op : object
        The operator (or ket) given by the user.
    dims : sequence of int
        Local dimensions of the state or model.
    qobj_dims : object, optional
        QuTiP dims of a space that is not a tensor product (else ``None``).
    name, owner : str
        How the message names ``op`` and what it is checked against.
    """
    qtype = getattr(op, "type", "oper")
    if not _is_qobj(op) or qtype not in ("oper", "ket"):
        return
    d = math.prod(int(x) for x in dims)
    if op.shape[0] != d:
        return  # a size mismatch: the caller's shape check says so
    if qobj_dims is not None:
        mine = getattr(qobj_dims, "as_list", lambda: qobj_dims)()
        want = mine if qtype == "oper" else [mine[0], [1]]
        if op.dims != want:
            raise ValueError(f"{name} has dims {op.dims}, {owner} has dims {want}")
        return
    want = [int(x) for x in dims]
    sides = op.dims if qtype == "oper" else op.dims[:1]
    for side in sides:
        if any(isinstance(x, (list, tuple)) for x in side):
            return
        side = [int(x) for x in side]
        if side != want and len(side) > 1 and len(want) > 1:
            full = [want, want] if qtype == "oper" else [want, [1]]
            raise ValueError(
                f"{name} has dims {op.dims}, {owner} has dims {full}: the tensor factors differ (same "
                f"total size, another order or split?); build {name} with the same factor order "
                "(site 0 leftmost)"
            )


def identity(d: int) -> sp.csr_array:
    """Identity on a ``d``-dimensional space.

    Parameters
    ----------
    d : int
        Dimension (``>= 1``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(d, d)``, complex128.
    """
    d = _check_dim(d, "d")
    return sp.csr_array(sp.eye_array(d, dtype=np.complex128, format="csr"))


def _check_dim(d, name):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"{name} must be a positive integer, got {d!r}")
    return int(d)


def sigmax() -> sp.csr_array:
    """Pauli ``sigma_x``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2, 2)``, complex128, basis ``(|0>, |1>)`` with ``|0>`` spin up.
    """
    return sp.csr_array(np.array([[0, 1], [1, 0]], dtype=np.complex128))


def sigmay() -> sp.csr_array:
    """Pauli ``sigma_y``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2, 2)``, complex128, basis ``(|0>, |1>)`` with ``|0>`` spin up.
    """
    return sp.csr_array(np.array([[0, -1j], [1j, 0]], dtype=np.complex128))


def sigmaz() -> sp.csr_array:
    """Pauli ``sigma_z = diag(1, -1)`` (``|0>`` is spin up).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2, 2)``, complex128, basis ``(|0>, |1>)`` with ``|0>`` spin up.
    """
    return sp.csr_array(np.array([[1, 0], [0, -1]], dtype=np.complex128))


def sigmap() -> sp.csr_array:
    """Raising operator ``sigma_+ = |0><1|`` (as QuTiP's ``sigmap()``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2, 2)``, complex128, basis ``(|0>, |1>)`` with ``|0>`` spin up.
    """
    return sp.csr_array(np.array([[0, 1], [0, 0]], dtype=np.complex128))


def sigmam() -> sp.csr_array:
    """Lowering operator ``sigma_- = |1><0|`` (as QuTiP's ``sigmam()``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2, 2)``, complex128, basis ``(|0>, |1>)`` with ``|0>`` spin up.
    """
    return sp.csr_array(np.array([[0, 0], [1, 0]], dtype=np.complex128))


def _spin_j(j) -> tuple[float, int]:
    twoj = 2 * float(j)
    if not np.isfinite(twoj) or twoj < 1 or abs(twoj - round(twoj)) > 1e-12:
        raise ValueError(f"spin must be a positive integer or half-integer, got {j!r}")
    return round(twoj) / 2, round(twoj) + 1


def spin_ops(j) -> dict[str, sp.csr_array]:
    """Spin-``j`` operators ``Jx, Jy, Jz, J+, J-`` (not Pauli: ``Jz = diag(j..-j)``).

    Parameters
    ----------
    j : int or half-integer
        The spin quantum number; the local dimension is ``2j + 1``.

    Returns
    -------
    dict
        Keys ``"x", "y", "z", "+", "-"``; basis ordered ``m = j, ..., -j``
        as ``qutip.jmat``.
    """
    j, d = _spin_j(j)
    m = j - np.arange(d)
    # <m+1| J+ |m> = sqrt(j(j+1) - m(m+1)); in our ordering m+1 is one row up.
    off = np.sqrt(j * (j + 1) - m[1:] * (m[1:] + 1))
    jp_ = sp.csr_array(sp.diags_array(off.astype(np.complex128), offsets=1, shape=(d, d)))
    jm_ = sp.csr_array(jp_.T.conj())
    jz_ = sp.csr_array(sp.diags_array(m.astype(np.complex128), offsets=0, shape=(d, d)))
    out = {
        "x": sp.csr_array(0.5 * (jp_ + jm_)),
        "y": sp.csr_array(-0.5j * (jp_ - jm_)),
        "z": jz_,
        "+": jp_,
        "-": jm_,
    }
    for v in out.values():
        v.eliminate_zeros()
    return out


def jx(j) -> sp.csr_array:
    """Spin-``j`` ``J_x``.

    Parameters
    ----------
    j : int or half-integer
        Spin quantum number (``j >= 1/2``); the local dimension is ``2j + 1``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2j + 1, 2j + 1)``, complex128, basis ``m = j, ..., -j`` (as
        ``qutip.jmat``).

    Raises
    ------
    ValueError
        If ``j`` is not a positive integer or half-integer.
    """
    return spin_ops(j)["x"]


def jy(j) -> sp.csr_array:
    """Spin-``j`` ``J_y``.

    Parameters
    ----------
    j : int or half-integer
        Spin quantum number (``j >= 1/2``); the local dimension is ``2j + 1``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2j + 1, 2j + 1)``, complex128, basis ``m = j, ..., -j`` (as
        ``qutip.jmat``).

    Raises
    ------
    ValueError
        If ``j`` is not a positive integer or half-integer.
    """
    return spin_ops(j)["y"]


def jz(j) -> sp.csr_array:
    """Spin-``j`` ``J_z = diag(j, ..., -j)``.

    Parameters
    ----------
    j : int or half-integer
        Spin quantum number (``j >= 1/2``); the local dimension is ``2j + 1``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2j + 1, 2j + 1)``, complex128, basis ``m = j, ..., -j`` (as
        ``qutip.jmat``).

    Raises
    ------
    ValueError
        If ``j`` is not a positive integer or half-integer.
    """
    return spin_ops(j)["z"]


def jp(j) -> sp.csr_array:
    """Spin-``j`` raising operator ``J_+``.

    Parameters
    ----------
    j : int or half-integer
        Spin quantum number (``j >= 1/2``); the local dimension is ``2j + 1``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2j + 1, 2j + 1)``, complex128, basis ``m = j, ..., -j`` (as
        ``qutip.jmat``).

    Raises
    ------
    ValueError
        If ``j`` is not a positive integer or half-integer.
    """
    return spin_ops(j)["+"]


def jm(j) -> sp.csr_array:
    """Spin-``j`` lowering operator ``J_-``.

    Parameters
    ----------
    j : int or half-integer
        Spin quantum number (``j >= 1/2``); the local dimension is ``2j + 1``.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2j + 1, 2j + 1)``, complex128, basis ``m = j, ..., -j`` (as
        ``qutip.jmat``).

    Raises
    ------
    ValueError
        If ``j`` is not a positive integer or half-integer.
    """
    return spin_ops(j)["-"]


def destroy(cutoff: int) -> sp.csr_array:
    """Truncated boson annihilation operator ``a`` on Fock states ``0..cutoff-1``.

    Parameters
    ----------
    cutoff : int
        Number of Fock states ``n = 0, ..., cutoff - 1`` (``>= 1``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(cutoff, cutoff)``, complex128.

    Raises
    ------
    ValueError
        If ``cutoff`` is not a positive integer.
    """
    cutoff = _check_dim(cutoff, "cutoff")
    off = np.sqrt(np.arange(1, cutoff)).astype(np.complex128)
    return sp.csr_array(sp.diags_array(off, offsets=1, shape=(cutoff, cutoff)))


def create(cutoff: int) -> sp.csr_array:
    """Truncated boson creation operator ``a^+``.

    Parameters
    ----------
    cutoff : int
        Number of Fock states ``n = 0, ..., cutoff - 1`` (``>= 1``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(cutoff, cutoff)``, complex128.

    Raises
    ------
    ValueError
        If ``cutoff`` is not a positive integer.
    """
    return sp.csr_array(destroy(cutoff).T)


def num(cutoff: int) -> sp.csr_array:
    """Number operator ``a^+ a = diag(0, 1, ..., cutoff-1)``.

    Parameters
    ----------
    cutoff : int
        Number of Fock states ``n = 0, ..., cutoff - 1`` (``>= 1``).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(cutoff, cutoff)``, complex128.

    Raises
    ------
    ValueError
        If ``cutoff`` is not a positive integer.
    """
    cutoff = _check_dim(cutoff, "cutoff")
    return sp.csr_array(sp.diags_array(np.arange(cutoff, dtype=np.complex128), offsets=0))


def _pauli_named(name):
    return {
        "sigmax": sigmax,
        "sigmay": sigmay,
        "sigmaz": sigmaz,
        "sigmap": sigmap,
        "sigmam": sigmam,
    }[name]()


#: Names accepted wherever a local operator may be given by name, with the
#: local dimension it needs (``None``: any dimension).
LOCAL_OPERATORS = {
    "sigmax": 2,
    "sigmay": 2,
    "sigmaz": 2,
    "sigmap": 2,
    "sigmam": 2,
    "jx": None,
    "jy": None,
    "jz": None,
    "jp": None,
    "jm": None,
    "destroy": None,
    "create": None,
    "num": None,
    "identity": None,
    "n": None,
    "a": None,
    "adag": None,
}


def local_op(op, d: int) -> sp.csr_array:
    """Resolve a local operator given by name or as a matrix on a site of dimension ``d``.

    Parameters
    ----------
    op : str or array_like
        A name from :data:`LOCAL_OPERATORS` (``"sigmax"``, ``"destroy"``,
        ``"jz"`` -- spin ``(d-1)/2`` --, ...) or a ``d x d`` matrix.
    d : int
        Local dimension of the site.

    Returns
    -------
    scipy.sparse.csr_array
        The ``d x d`` operator.

    Raises
    ------
    ValueError
        For an unknown name or a matrix of the wrong shape.
    """
    d = _check_dim(d, "d")
    if isinstance(op, str):
        if op not in LOCAL_OPERATORS:
            raise ValueError(f"unknown local operator {op!r}; valid names: {', '.join(LOCAL_OPERATORS)}")
        need = LOCAL_OPERATORS[op]
        if need is not None and need != d:
            raise ValueError(f"operator {op!r} needs local dimension {need}, the site has {d}")
        if op.startswith("sigma"):
            return _pauli_named(op)
        if op in ("jx", "jy", "jz", "jp", "jm"):
            return spin_ops((d - 1) / 2)[{"jx": "x", "jy": "y", "jz": "z", "jp": "+", "jm": "-"}[op]]
        if op in ("destroy", "a"):
            return destroy(d)
        if op in ("create", "adag"):
            return create(d)
        if op in ("num", "n"):
            return num(d)
        return identity(d)
    mat = as_csr(op, "local operator")
    if mat.shape != (d, d):
        raise ValueError(f"local operator has shape {mat.shape}, the site needs ({d}, {d})")
    return mat


def _check_dims(dims) -> tuple[int, ...]:
    dims = tuple(dims)
    if not dims:
        raise ValueError("dims must list at least one local dimension")
    return tuple(_check_dim(d, "each entry of dims") for d in dims)


def embed(op, site: int, dims: Sequence[int]) -> sp.csr_array:
    """Embed a local operator on ``site`` of a chain with local dimensions ``dims``.

    Parameters
    ----------
    op : str or array_like
        Local operator (name or ``dims[site] x dims[site]`` matrix).
    site : int
        Site index; site 0 is the leftmost tensor factor.
    dims : sequence of int
        Local dimensions of the chain.

    Returns
    -------
    scipy.sparse.csr_array
        ``I ⊗ ... ⊗ op ⊗ ... ⊗ I`` of size ``prod(dims)``.
    """
    return chain_operator({site: op}, dims)


def chain_operator(ops: dict, dims: Sequence[int]) -> sp.csr_array:
    """Tensor product of local operators ``{site: op}`` with identities elsewhere.

    Parameters
    ----------
    ops : dict
        Map from site index to local operator (name or matrix).
    dims : sequence of int
        Local dimensions of the chain.

    Returns
    -------
    scipy.sparse.csr_array
        The product operator on the full space (site 0 leftmost).
    """
    dims = _check_dims(dims)
    n = len(dims)
    mats = []
    for site in ops:
        if isinstance(site, bool) or not isinstance(site, (int, np.integer)) or not 0 <= site < n:
            raise ValueError(f"site {site!r} out of range for a chain of {n} sites")
    # Fold identities between factors into single identities to keep kron cheap.
    left = 1
    for k in range(n):
        if k in ops:
            if left > 1:
                mats.append(sp.eye_array(left, dtype=np.complex128, format="csr"))
                left = 1
            mats.append(local_op(ops[k], dims[k]))
        else:
            left *= dims[k]
    if left > 1:
        mats.append(sp.eye_array(left, dtype=np.complex128, format="csr"))
    out = reduce(lambda a, b: sp.kron(a, b, format="csr"), mats)
    out = sp.csr_array(out, dtype=np.complex128)
    out.sum_duplicates()
    out.sort_indices()
    return out


def fermion_annihilation(site: int, n_sites: int) -> sp.csr_array:
    """Jordan-Wigner fermion ``c_site = (prod_{l<site} (-sigma^z_l)) sigma^-_site``.

    Occupied is spin up (``|0>``), so ``c^+ c = (1 + sigma^z)/2``. See the
    module docstring for the relation to QuTiP's ``fdestroy``.

    Parameters
    ----------
    site : int
        Site index, ``0 <= site < n_sites`` (site 0 is the leftmost factor).
    n_sites : int
        Number of sites.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2**n_sites, 2**n_sites)``, complex128.
    """
    ops = {l: -sigmaz() for l in range(site)}
    ops[site] = sigmam()
    return chain_operator(ops, (2,) * _check_dim(n_sites, "n_sites"))


def fermion_creation(site: int, n_sites: int) -> sp.csr_array:
    """Jordan-Wigner fermion ``c_site^+`` (Hermitian conjugate of :func:`fermion_annihilation`).

    Parameters
    ----------
    site : int
        Site index, ``0 <= site < n_sites`` (site 0 is the leftmost factor).
    n_sites : int
        Number of sites (each a two-level mode, ``|0>`` occupied).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2**n_sites, 2**n_sites)``, complex128.
    """
    return sp.csr_array(fermion_annihilation(site, n_sites).T.conj())


def fermion_number(site: int, n_sites: int) -> sp.csr_array:
    """Fermion number ``c^+ c = (1 + sigma^z_site)/2`` (no string).

    Parameters
    ----------
    site : int
        Site index, ``0 <= site < n_sites`` (site 0 is the leftmost factor).
    n_sites : int
        Number of sites (each a two-level mode, ``|0>`` occupied).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(2**n_sites, 2**n_sites)``, complex128.
    """
    return embed(np.array([[1, 0], [0, 0]]), site, (2,) * _check_dim(n_sites, "n_sites"))


def to_qobj(op, dims: Sequence[int] | None = None):
    """Convert an operator to a ``qutip.Qobj`` with chain dims ``[dims, dims]``.

    Parameters
    ----------
    op : array_like, sparse matrix or qutip.Qobj
        Square operator (a ``Qobj`` is returned unchanged).
    dims : sequence of int, optional
        Local dimensions whose product is the operator's size (default: one
        factor, ``[op.shape[0]]``).

    Returns
    -------
    qutip.Qobj
        Sparse input stays sparse (QuTiP's CSR data layer).
    """
    import qutip

    if _is_qobj(op):
        return op
    # Sparse input stays sparse (QuTiP's CSR layer), as a QuTiP user would build it.
    arr = sp.csr_matrix(op) if sp.issparse(op) else np.asarray(op)
    if dims is None:
        dims = [op.shape[0]]
    return qutip.Qobj(arr, dims=[list(dims), list(dims)])


def from_qobj(q) -> tuple[sp.csr_array, tuple[int, ...]]:
    """Convert a ``qutip.Qobj`` operator to ``(csr_array, dims)``.

    Parameters
    ----------
    q : qutip.Qobj
        An operator.

    Returns
    -------
    op : scipy.sparse.csr_array
        Its matrix, complex128.
    dims : tuple of int
        Its local dimensions (``q.dims[0]`` flattened).

    Raises
    ------
    ValueError
        If ``q`` is not a ``Qobj`` or holds NaN/inf.
    """
    if not _is_qobj(q):
        raise ValueError(f"expected a qutip.Qobj, got {type(q).__name__}")
    dims = tuple(int(x) for x in np.ravel(q.dims[0]))
    return as_csr(q), dims
