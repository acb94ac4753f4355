"""A model's local description: its terms on the sites of a chain.

A chain model is a sum of *local* terms: a Hamiltonian term is a product of
operators on a few sites times a strength, a jump operator is such a product
with a rate. :class:`ChainTerms` keeps exactly that, so solvers that never
form the ``prod(dims)``-dimensional matrices (tensor networks) can read the
model, and exact solvers render the sparse matrices from it on demand.

Conventions as everywhere in qness: hbar = 1, site 0 is the leftmost tensor
factor, ``L_k = sqrt(rate_k) A_k`` with ``A_k`` the product of the jump's
local operators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LocalTerm", "LocalJump", "ChainTerms"]


def _local_factors(sites, ops, dims, what):
    sites = tuple(int(s) for s in sites)
    if not sites:
        raise ValueError(f"{what}: sites must not be empty")
    if any(b <= a for a, b in zip(sites, sites[1:])):
        raise ValueError(f"{what}: sites must be strictly increasing, got {sites}")
    if len(ops) != len(sites):
        raise ValueError(f"{what}: {len(ops)} operators for {len(sites)} sites")
    mats = []
    for s, op in zip(sites, ops):
        if not 0 <= s < len(dims):
            raise ValueError(f"{what}: site {s} out of range for a chain of {len(dims)} sites")
        m = np.asarray(op, dtype=np.complex128)
        if m.shape != (dims[s], dims[s]):
            raise ValueError(f"{what}: operator on site {s} has shape {m.shape}, expected {(dims[s],) * 2}")
        if not np.all(np.isfinite(m)):
            raise ValueError(f"{what}: operator on site {s} has non-finite entries")
        m = m.copy()
        m.setflags(write=False)
        mats.append(m)
    return sites, tuple(mats)


def _render(sites, ops, dims) -> sp.csr_array:
    """``prod_s ops[s]`` on the full space (identities elsewhere), CSR complex128."""
    out = sp.csr_array(np.ones((1, 1), dtype=np.complex128))
    prev = 0
    for s, m in zip(sites, ops):
        gap = math.prod(dims[prev:s])
        if gap > 1:
            out = sp.kron(out, sp.eye_array(gap, dtype=np.complex128), format="csr")
        out = sp.kron(out, sp.csr_array(m), format="csr")
        prev = s + 1
    tail = math.prod(dims[prev:])
    if tail > 1:
        out = sp.kron(out, sp.eye_array(tail, dtype=np.complex128), format="csr")
    out = sp.csr_array(out, dtype=np.complex128)
    out.eliminate_zeros()
    out.sort_indices()
    return out


@dataclass(frozen=True)
class LocalTerm:
    """One Hamiltonian term ``coeff * prod_j ops[j]`` acting on ``sites[j]``.

    Attributes
    ----------
    sites : tuple of int
        Strictly increasing site indices (one for an on-site term, two for a
        bond ``(i, j)``).
    ops : tuple of numpy.ndarray
        One ``(d_s, d_s)`` complex matrix per site, read-only.
    coeff : complex
        Strength (energy units). A term need not be Hermitian on its own; the
        sum of all terms of a model is.
    """

    sites: tuple
    ops: tuple
    coeff: complex = 1.0

    @property
    def range(self) -> int:
        """``sites[-1] - sites[0]``: 0 on-site, 1 nearest neighbour."""
        return self.sites[-1] - self.sites[0]


@dataclass(frozen=True)
class LocalJump:
    """One jump ``L = sqrt(rate) * prod_j ops[j]`` acting on ``sites[j]``.

    Attributes
    ----------
    sites, ops
        As for :class:`LocalTerm`.
    rate : float
        Non-negative rate.
    bath : str or None
        Bath label.
    label : str
        Name (the same as the model's :class:`~qness.model.Jump` label).
    """

    sites: tuple
    ops: tuple
    rate: float = 1.0
    bath: str | None = None
    label: str = ""

    @property
    def range(self) -> int:
        """``sites[-1] - sites[0]``."""
        return self.sites[-1] - self.sites[0]


@dataclass(frozen=True)
class ChainTerms:
    """A Lindblad model as local terms on a chain.

    ``H = sum_t t.coeff * prod ops``; the jumps are listed in the model's jump
    order. Built with :meth:`create`, which validates shapes, sites and rates.

    Attributes
    ----------
    dims : tuple of int
        Local dimensions, site 0 leftmost.
    hamiltonian : tuple of LocalTerm
    jumps : tuple of LocalJump
    """

    dims: tuple
    hamiltonian: tuple = ()
    jumps: tuple = ()

    @classmethod
    def create(cls, dims, hamiltonian=(), jumps=()) -> ChainTerms:
        """Validated constructor.

        Parameters
        ----------
        dims : sequence of int
            Local dimensions (each >= 1).
        hamiltonian : iterable of (sites, ops, coeff)
            Hamiltonian terms.
        jumps : iterable of (sites, ops, rate, bath, label)
            Jump operators (``bath`` and ``label`` may be omitted).

        Raises
        ------
        ValueError
            For a site out of range, unsorted sites, an operator of the wrong
            shape or with non-finite entries, or a negative or non-finite rate.
        """
        dims = tuple(int(d) for d in dims)
        if not dims or any(d < 1 for d in dims):
            raise ValueError(f"dims must be positive integers, got {dims}")
        hs = []
        for k, t in enumerate(hamiltonian):
            sites, ops_, coeff = t
            sites, ops_ = _local_factors(sites, ops_, dims, f"Hamiltonian term {k}")
            c = complex(coeff)
            if not (math.isfinite(c.real) and math.isfinite(c.imag)):
                raise ValueError(f"Hamiltonian term {k}: coefficient {coeff!r} is not finite")
            hs.append(LocalTerm(sites, ops_, c))
        js = []
        for k, j in enumerate(jumps):
            sites, ops_, rate, *rest = j
            sites, ops_ = _local_factors(sites, ops_, dims, f"jump {k}")
            r = float(rate)
            if not math.isfinite(r) or r < 0:
                raise ValueError(f"jump {k}: rate must be finite and non-negative, got {rate!r}")
            bath = rest[0] if rest else None
            label = rest[1] if len(rest) > 1 else f"L{k}"
            js.append(LocalJump(sites, ops_, r, bath, label))
        return cls(dims, tuple(hs), tuple(js))

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return len(self.dims)

    @property
    def max_range(self) -> int:
        """Largest ``sites[-1] - sites[0]`` over all terms and jumps."""
        return max((t.range for t in (*self.hamiltonian, *self.jumps)), default=0)

    def render_hamiltonian(self) -> sp.csr_array:
        """The full ``prod(dims)``-dimensional sparse ``H`` (CSR, complex128).

        Raises
        ------
        qness.InsufficientMemoryError
            If it would not fit in the memory available.
        """
        from ._lazy import LocalSum

        return LocalSum(self.dims, self.hamiltonian, what="H").render()

    def render_jump(self, k: int) -> sp.csr_array:
        """The full sparse operator ``A_k`` of jump ``k`` (without the rate).

        Raises
        ------
        qness.InsufficientMemoryError
            If it would not fit in the memory available.
        """
        from ._lazy import LocalSum

        j = self.jumps[k]
        return LocalSum(self.dims, (LocalTerm(j.sites, j.ops, 1.0),), what=f"jump {j.label!r}").render()
