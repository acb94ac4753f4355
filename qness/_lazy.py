"""Fields of frozen model dataclasses that are rendered on first access.

A chain model is stored as its local terms (:mod:`qness.terms`); the
``prod(dims)``-dimensional matrices that exact solvers read (``model.H``,
each ``Jump.op``, ``Drive.op``, ``U1Symmetry.charges``,
``Z2Symmetry.parities``) are derived from them only when first asked for.

Mechanism
---------
Each such field is a dataclass field whose class attribute is a
:class:`DeferredField`, a data descriptor (the "descriptor-typed field" of
:mod:`dataclasses`). The generated ``__init__`` (and ``object.__setattr__`` in
``__post_init__``) store whatever they are given in the instance
``__dict__`` under the field's name: a matrix, or a :class:`Deferred` value
that knows how to render one. Reading the attribute returns a stored
matrix unchanged; a :class:`Deferred` is rendered once and the result cached
on the deferred object (shared by the copies ``model.replace`` makes). So every
existing reader (``model.H``, ``jump.op``, ``dataclasses.replace``,
``__eq__``, ``repr``) keeps working, the dataclasses stay frozen for users
(assignment raises ``FrozenInstanceError``) and the constructor signatures
do not change. Pickling drops the caches (``Deferred.__getstate__``): a pickled
model carries its local terms, not the rendered matrices, and renders again
where it is used. :func:`raw` reads the stored value without rendering.

Rendering checks the memory first: a matrix whose estimated size exceeds the
available memory raises :class:`qness.InsufficientMemoryError` naming its
dimension, instead of attempting the allocation.
"""

from __future__ import annotations

import math
import os

import numpy as np
import scipy.sparse as sp

#: Bytes per stored entry while rendering a sparse matrix: COO rows, columns and values
#: (32 bytes) plus the CSR result (24 bytes), rounded up.
BYTES_PER_ENTRY = 64


def available_memory() -> float:
    """Bytes of memory available (``MemAvailable`` on Linux, else the physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8.0 * 2**30


def _format_dim(d: int) -> str:
    if d < 10**7:
        return str(d)
    return f"{d:.3g}".replace("e+", "e")


def guard_memory(what: str, dims: tuple, required: float) -> None:
    """Raise :class:`~qness.InsufficientMemoryError` if ``required`` bytes exceed what is available."""
    if required < 2**26:  # 64 MiB: not worth reading /proc/meminfo
        return
    avail = available_memory()
    if required <= 0.8 * avail:
        return
    from .solvers.errors import InsufficientMemoryError

    d = math.prod(dims)
    uniform = len(set(dims)) == 1
    dimtxt = f"{dims[0]}^{len(dims)} = {_format_dim(d)}" if uniform and len(dims) > 1 else _format_dim(d)
    raise InsufficientMemoryError(
        f"{what} of this {len(dims)}-site model lives on a Hilbert space of dimension {dimtxt}; "
        f"rendering it needs about {required / 2**30:.3g} GiB, more than the "
        f"{avail / 2**30:.3g} GiB available. The model is kept as local terms (model.terms): exact "
        "solvers cannot handle it, use the tensor-network solver qness.tn.steady_state for long chains",
        required=float(required),
        available=avail,
    )


class Deferred:
    """A value of a :class:`DeferredField` that is rendered on first access.

    The rendered value is cached on the deferred object itself, so models
    that share it (``model.replace(...)``) render it once.
    """

    dims: tuple = ()

    def render(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self):
        """The rendered value, rendering it on the first call."""
        v = self.__dict__.get("_value")
        if v is None:
            v = self.render()
            self._value = v
        return v

    @property
    def rendered(self) -> bool:
        return "_value" in self.__dict__

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_value", "_groups")}

    @property
    def dim(self) -> int:
        return math.prod(self.dims)


def _dense(op) -> np.ndarray:
    return op.toarray() if sp.issparse(op) else np.asarray(op)


def local_product(ops, sparse: bool | None = None):
    """``kron`` of the local factors (dense for small products, else CSR)."""
    size = math.prod(np.shape(m)[0] for m in ops)
    if sparse is None:
        sparse = size > 256
    if not sparse:
        out = None
        for m in ops:
            m = _dense(m)
            if out is None:
                out = m.astype(np.complex128)
            else:  # kron of two matrices without numpy.kron's overhead
                r, c = out.shape[0] * m.shape[0], out.shape[1] * m.shape[1]
                out = (out[:, None, :, None] * m[None, :, None, :]).reshape(r, c)
        return out
    out = sp.csr_array(np.ones((1, 1), dtype=np.complex128))
    for m in ops:
        out = sp.kron(out, sp.csr_array(m), format="csr")
    return out


def _local_coo(ops):
    """Rows, columns and values of the local product, as flat local indices."""
    P = local_product(ops)
    if isinstance(P, np.ndarray):
        r, c = np.nonzero(P)
        return r.astype(np.int64), c.astype(np.int64), P[r, c]
    coo = sp.coo_array(P)
    coo.sum_duplicates()
    keep = coo.data != 0
    return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep]


def _strides(dims) -> np.ndarray:
    out = np.ones(len(dims), dtype=np.int64)
    for k in range(len(dims) - 2, -1, -1):
        out[k] = out[k + 1] * dims[k + 1]
    return out


def _spectator_offsets(dims, sites) -> np.ndarray:
    """Full-space index offsets of every configuration of the sites not in ``sites``."""
    strides = _strides(dims)
    offs = np.zeros(1, dtype=np.int64)
    busy = set(sites)
    for s, d in enumerate(dims):
        if s in busy or d == 1:
            continue
        offs = (offs[:, None] + np.arange(d, dtype=np.int64)[None, :] * strides[s]).ravel()
    return offs


def _term_nnz(term, dims) -> int:
    loc = math.prod(dims[s] for s in term.sites)
    nnz_local = 1
    for m in term.ops:
        nnz_local *= int(np.count_nonzero(m))
    return nnz_local * (math.prod(dims) // loc)


def render_terms(dims, terms, matrices=()) -> sp.csr_array:
    """``sum_t coeff_t prod ops_t + sum(matrices)`` on the full space: canonical CSR, complex128.

    One COO pass over all terms (index arithmetic, no chains of ``kron``),
    then one conversion that sums duplicates; explicit zeros are removed.
    """
    dims = tuple(dims)
    d = math.prod(dims)
    strides = _strides(dims)
    rows, cols, vals = [], [], []
    for t in terms:
        if t.coeff == 0:
            continue
        r, c, v = _local_coo(t.ops)
        if r.size == 0:
            continue
        ldims = [dims[s] for s in t.sites]
        lr = np.unravel_index(r, ldims)
        lc = np.unravel_index(c, ldims)
        fr = sum(lr[k] * strides[s] for k, s in enumerate(t.sites))
        fc = sum(lc[k] * strides[s] for k, s in enumerate(t.sites))
        offs = _spectator_offsets(dims, t.sites)
        rows.append((offs[:, None] + fr[None, :]).ravel())
        cols.append((offs[:, None] + fc[None, :]).ravel())
        vals.append(np.broadcast_to(t.coeff * v, (offs.size, v.size)).ravel())
    for M in matrices:
        coo = sp.coo_array(M)
        rows.append(coo.row.astype(np.int64))
        cols.append(coo.col.astype(np.int64))
        vals.append(coo.data.astype(np.complex128))
    if rows:
        row, col, val = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        row = col = np.zeros(0, dtype=np.int64)
        val = np.zeros(0, dtype=np.complex128)
    out = sp.coo_array((val.astype(np.complex128, copy=False), (row, col)), shape=(d, d)).tocsr()
    out = sp.csr_array(out, dtype=np.complex128)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    if d < 2**31 - 1 and out.nnz < 2**31 - 1:
        out.indices = out.indices.astype(np.int32, copy=False)
        out.indptr = out.indptr.astype(np.int32, copy=False)
    return out


class LocalSum(Deferred):
    """An operator ``sum_t coeff_t prod_j ops_tj + sum(matrices)`` on a chain, rendered on demand.

    Parameters
    ----------
    dims : tuple of int
        Local dimensions.
    terms : tuple of LocalTerm
        Local products (:class:`qness.terms.LocalTerm`).
    matrices : tuple of scipy.sparse.csr_array
        Parts given as full matrices (``add_hamiltonian``).
    what : str
        Name used in error messages (``"H"``, ``"jump 'in_0'"``).
    """

    def __init__(self, dims, terms=(), matrices=(), what: str = "operator", hermitian_checked=False):
        self.dims = tuple(dims)
        self.terms = tuple(terms)
        self.matrices = tuple(matrices)
        self.what = what
        #: set by a builder that verified every term (or pair with its h.c.) is Hermitian
        self.hermitian_checked = hermitian_checked

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.dim)

    def estimate_bytes(self) -> float:
        nnz = sum(_term_nnz(t, self.dims) for t in self.terms) + sum(M.nnz for M in self.matrices)
        return float(BYTES_PER_ENTRY * nnz + 16 * (self.dim + 1))

    def render(self) -> sp.csr_array:
        guard_memory(self.what, self.dims, self.estimate_bytes())
        return render_terms(self.dims, self.terms, self.matrices)

    def groups(self) -> dict:
        """``{sites: local matrix}``: the local terms summed per set of sites (computed once)."""
        out = self.__dict__.get("_groups")
        if out is None:
            out = {}
            for t in self.terms:
                P = t.coeff * local_product(t.ops)
                out[t.sites] = P if t.sites not in out else out[t.sites] + P
            self._groups = out
        return out

    def __repr__(self) -> str:
        parts = []
        if self.terms:
            sites = sorted({s for t in self.terms for s in t.sites})
            where = f"site {sites[0]}" if len(sites) == 1 else f"{len(sites)} sites"
            parts.append(f"{len(self.terms)} local term{'s' * (len(self.terms) != 1)} on {where}")
        if self.matrices:
            parts.append(f"{len(self.matrices)} full matrix part{'s' * (len(self.matrices) != 1)}")
        d = _format_dim(self.dim)
        return f"<{d} x {d} operator, not rendered: {', '.join(parts) or 'zero'}>"


class LocalDiagonal(Deferred):
    """A diagonal ``sum_i q_i`` (``mode="sum"``, a U(1) charge) or ``prod_i p_i`` (``"prod"``, a parity).

    Parameters
    ----------
    dims : tuple of int
        Local dimensions.
    local : tuple of numpy.ndarray of int
        One vector of length ``dims[i]`` per site.
    mode : {"sum", "prod"}
    """

    def __init__(self, dims, local, mode: str = "sum", what: str = "charges"):
        self.dims = tuple(dims)
        self.local = tuple(np.asarray(q, dtype=np.int64) for q in local)
        self.mode = mode
        self.what = what

    @property
    def shape(self) -> tuple[int]:
        return (self.dim,)

    def render(self) -> np.ndarray:
        guard_memory(self.what, self.dims, 8.0 * self.dim * 2)
        out = np.zeros(1, dtype=np.int64) if self.mode == "sum" else np.ones(1, dtype=np.int64)
        for q in self.local:
            if self.mode == "sum":
                out = (out[:, None] + q[None, :]).ravel()
            else:
                out = (out[:, None] * q[None, :]).ravel()
        return out

    def __repr__(self) -> str:
        kind = "sum" if self.mode == "sum" else "product"
        return (
            f"<diagonal of length {_format_dim(self.dim)}, not rendered: {kind} of {len(self.local)} local>"
        )


class DeferredField:
    """Data descriptor for a dataclass field that may hold a :class:`Deferred` value (module doc)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            # no class-level default: dataclasses then treat the field as required
            raise AttributeError(self.name)
        try:
            v = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        return v.value() if isinstance(v, Deferred) else v

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value


def raw(obj, name: str):
    """The stored value of a field (a :class:`Deferred` is returned as is, not rendered)."""
    return obj.__dict__[name]


def peek(obj, name: str):
    """The rendered value if it exists, else the stored value (for ``repr``)."""
    v = obj.__dict__[name]
    return v.value() if isinstance(v, Deferred) and v.rendered else v


def is_rendered(obj, name: str) -> bool:
    """Whether the field holds a matrix (given or already rendered)."""
    v = obj.__dict__[name]
    return not isinstance(v, Deferred) or v.rendered


class LazyFieldsMixin:
    """Base of the dataclasses with :class:`DeferredField` fields (pickles carry the
    deferred descriptions; their rendered caches are left out by :meth:`Deferred.__getstate__`)."""
