"""Tensor-network (MPS) steady states of chains by TEBD on the vectorised density matrix."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import quimb.tensor as qtn
import scipy.linalg as sla

from .._threads import limit_blas
from ..terms import ChainTerms
from . import _u1
from ._superop import bond_generators, liouvillian_mpo_arrays, superop_terms

__all__ = ["steady_state", "TNSteadyState", "TNConvergenceWarning", "chain_terms", "liouvillian_mpo"]

_NO_TERMS = (
    "{what} was built from full matrices; the tensor-network solver needs a chain model from "
    "qness.models or ModelBuilder (a model whose .terms is a qness.terms.ChainTerms), or a ChainTerms"
)


class TNConvergenceWarning(UserWarning):
    """The tensor-network solver stopped before its tolerance was met (bond cap, time limit, dt floor)."""


def chain_terms(model) -> ChainTerms:
    """The :class:`~qness.terms.ChainTerms` of ``model`` (a ChainTerms or a model with ``.terms``).

    Raises
    ------
    TypeError
        If ``model`` is neither a ChainTerms nor a model.
    ValueError
        If the model carries no terms (built from full matrices), has fewer
        than two sites, or has a term or jump of range > 1.
    """
    from ..model import LindbladModel, SuperoperatorModel

    if isinstance(model, ChainTerms):
        terms = model
    else:
        if not (hasattr(model, "terms") or isinstance(model, (LindbladModel, SuperoperatorModel))):
            raise TypeError(
                f"model must be a qness.terms.ChainTerms or a LindbladModel, got {type(model).__name__}"
            )
        terms = getattr(model, "terms", None)
        if terms is None:
            raise ValueError(
                _NO_TERMS.format(what=f"model {getattr(model, 'name', '')!r}".replace(" ''", ""))
            )
        if not isinstance(terms, ChainTerms):
            raise TypeError(f"model.terms must be a qness.terms.ChainTerms, got {type(terms).__name__}")
    if terms.n_sites < 2:
        raise ValueError(f"the tensor-network solver needs a chain of at least 2 sites, got {terms.n_sites}")
    for kind, items in (("Hamiltonian term", terms.hamiltonian), ("jump", terms.jumps)):
        for k, t in enumerate(items):
            if t.range > 1:
                raise ValueError(
                    f"{kind} {k} acts on sites {t.sites} (range {t.range}); the tensor-network solver "
                    "supports on-site and nearest-neighbour Hamiltonian terms and jumps on one site or "
                    "two neighbouring sites (range <= 1)"
                )
    return terms


def liouvillian_mpo(model) -> qtn.MatrixProductOperator:
    """The vectorised Liouvillian of a chain as a quimb MPO.

    Parameters
    ----------
    model : qness.terms.ChainTerms or LindbladModel with ``.terms``
        The chain.

    Returns
    -------
    quimb.tensor.MatrixProductOperator
        On sites of dimension ``d_i**2`` (column-stacked local index
        ``a_i + d_i b_i``); bond dimension ``2 + r`` with ``r`` the operator
        Schmidt rank of the bond terms.
    """
    terms = chain_terms(model)
    return qtn.MatrixProductOperator(liouvillian_mpo_arrays(superop_terms(terms), terms.dims), shape="lrud")


def _check_positive(value, name, *, integer=False, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{name} must be a {'positive integer' if integer else 'positive number'}, got {value!r}"
        )
    if integer and int(value) != value:
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return int(value) if integer else float(value)


def _local_vec(op) -> np.ndarray:
    """``w`` with ``Tr(op rho_i) = w . vec(rho_i)`` (column stacking): ``vec(op^T)``."""
    return np.asarray(op, dtype=np.complex128).ravel(order="C")


#: The U(1) blocks are used only when bonds can reach this dimension (the chain's full rank and
#: ``max_bond``): below it their Python overhead exceeds the gain (5 spins, bonds <= 16: 4.5 s
#: against 2.1 s dense; 8 spins at bond 16: equal; bond 64: 3x faster).
U1_MIN_BOND = 32

#: Accepted ``dt * max||L_bond||`` of :func:`steady_state` (the default is 0.5).
DT_RANGE = (1e-4, 4.0)


def _schedule(order: int, nsteps: int):
    """Merged layer schedule (layer 0: even bonds, 1: odd bonds) for ``nsteps`` Trotter steps."""
    one = qtn.trotter_schedule(2, order=order)
    out = []
    for _ in range(nsteps):
        for layer, frac in one:
            if out and out[-1][0] == layer:
                out[-1] = (layer, out[-1][1] + frac)
            else:
                out.append((layer, frac))
    return out


def move_center(A: list, center: int, to: int, Q=None, qd=None) -> int:
    """Move the orthogonality centre of the ``(left, phys, right)`` arrays ``A`` (in place) by QR
    from ``center`` to ``to``; returns ``to``. With the bond charges ``Q`` (``Q[i]`` left of site
    ``i``, updated in place) and local charges ``qd``, the QRs run block by block
    (:mod:`qness.tn._u1`); without them, as one block."""

    def charges(i):  # (left bond, site, right bond) of site i; all 0 without Q
        if Q is not None:
            return Q[i], qd[i], Q[i + 1]
        return tuple(np.zeros(k, dtype=np.int64) for k in A[i].shape)

    while center < to:
        A[center], R, q = _u1.qr_right(A[center], *charges(center))
        if Q is not None:
            Q[center + 1] = q
        A[center + 1] = np.tensordot(R, A[center + 1], axes=(1, 0))
        center += 1
    while center > to:
        R, A[center], q = _u1.qr_left(A[center], *charges(center))
        if Q is not None:
            Q[center] = q
        A[center - 1] = np.tensordot(A[center - 1], R, axes=(2, 0))
        center -= 1
    return center


class _Evolver:
    """TEBD of ``vec(rho)`` with gates ``exp(x L_bond)`` in mixed canonical form.

    The two-site updates (contract, gate, truncated SVD, QR to move the
    orthogonality centre) run on the site arrays directly: through quimb's
    tensor objects they cost ~4 ms of Python overhead per gate (measured),
    which made 50-site chains infeasible. Everything else (the state between
    chunks, the Liouvillian MPO, residuals, overlaps, compression, Richardson
    sums, expectation values) is quimb. Arrays are ``(left, phys, right)``.
    """

    def __init__(self, psi, gens, dims2, dims, cutoff, symmetry=True):
        self.n = len(dims2)
        self.gens = gens
        self.dims2 = dims2
        self.cutoff = cutoff
        self.idv = [np.eye(d, dtype=np.complex128).ravel(order="F") for d in dims]
        self._cache = {}
        self.discarded = 0.0  # sum of relative discarded weights since the last reset
        self.discarded_total = 0.0
        self.max_discarded = 0.0
        self.cap_hits = 0  # updates whose truncation the bond cap (not the cutoff) decided
        self.qd = _u1.conserving_charges(gens, dims) if symmetry else None
        self.set_mps(psi)

    # -- conversion to and from quimb
    def set_mps(self, psi):
        n = self.n
        arrs = []
        for i in range(n):
            t = psi[i]
            left = [ix for ix in qtn.bonds(t, psi[i - 1])] if i > 0 else []
            right = [ix for ix in qtn.bonds(t, psi[i + 1])] if i < n - 1 else []
            x = t.transpose(*left, psi.site_ind(i), *right).data
            if i == 0:
                x = x[None]
            if i == n - 1:
                x = x[..., None]
            arrs.append(np.asarray(x, dtype=np.complex128))
        self.A = arrs
        self.Q = None
        if self.qd is not None:
            self.Q = _u1.label_bonds(arrs, self.qd)
            if self.Q is None:  # no weight in the charge-0 sector (a traceless start): dense
                self.qd = None
        if self.Q is None:
            zero = [np.zeros(d, dtype=np.int64) for d in self.dims2]
            self.Q = [np.zeros(a.shape[0], dtype=np.int64) for a in arrs] + [np.zeros(1, dtype=np.int64)]
            self.qd_eff = zero
        else:
            self.qd_eff = self.qd
        self.center = n - 1 if self.qd is not None else 0
        self._move(n - 1)
        self._move(0)

    @property
    def symmetric(self) -> bool:
        """Whether the updates run block by block in U(1) charge sectors."""
        return self.qd is not None

    def mps(self):
        A = self.A
        arrays = [A[0][0]] + A[1:-1] + [A[-1][..., 0]]
        return qtn.MatrixProductState(arrays, shape="lpr")

    def max_bond(self):
        return max(a.shape[2] for a in self.A[:-1])

    def local_states(self) -> list:
        """``vec(rho_i)`` of every site (reduced density matrices, trace 1), from the site arrays."""
        n, A = self.n, self.A
        left = [np.ones(1, dtype=np.complex128)]
        for a, v in zip(A[:-1], self.idv[:-1]):
            left.append(left[-1] @ np.tensordot(a, v, axes=(1, 0)))
        right = [np.ones(1, dtype=np.complex128)]
        for a, v in zip(A[:0:-1], self.idv[:0:-1]):
            right.append(np.tensordot(a, v, axes=(1, 0)) @ right[-1])
        right = right[::-1]
        out = [np.einsum("l,lpr,r->p", left[i], A[i], right[i]) for i in range(n)]
        tr = complex(out[0] @ self.idv[0])
        return [x / tr for x in out]

    def normalise_trace(self):
        env = np.ones(1, dtype=np.complex128)
        for a, v in zip(self.A, self.idv):
            env = env @ np.tensordot(a, v, axes=(1, 0))
        tr = complex(env[0])
        self.A[self.center] = self.A[self.center] / tr

    # -- gates
    def gate(self, b, x):
        key = (b, round(x, 15))
        G = self._cache.get(key)
        if G is None:
            Db, Dc = self.dims2[b], self.dims2[b + 1]
            G = sla.expm(x * self.gens[b]).reshape(Db, Dc, Db, Dc)
            if len(self._cache) > 64 * self.n:
                self._cache.clear()
            self._cache[key] = G
        return G

    def _move(self, to):
        self.center = move_center(self.A, self.center, to, self.Q, self.qd_eff)

    def _apply(self, b, x, absorb_right, chi):
        A = self.A
        l, d1, _ = A[b].shape
        _, d2, r = A[b + 1].shape
        theta = np.tensordot(A[b], A[b + 1], axes=(2, 0))  # (l, d1, d2, r)
        theta = np.tensordot(self.gate(b, x), theta, axes=([2, 3], [1, 2]))  # (d1, d2, l, r)
        theta = theta.transpose(2, 0, 1, 3).reshape(l * d1, d2 * r)
        Q, qd = self.Q, self.qd_eff
        rq = (Q[b][:, None] + qd[b][None, :]).ravel()
        cq = (Q[b + 2][None, :] - qd[b + 1][:, None]).ravel()
        U, s, Vh, Q[b + 1], w, cut = _u1.split(theta, rq, cq, self.cutoff, chi)
        self.cap_hits += cut
        keep = s.size
        if w > 0:
            self.discarded += w
            self.discarded_total += w
            self.max_discarded = max(self.max_discarded, w)
        if absorb_right:
            A[b] = U.reshape(l, d1, keep)
            A[b + 1] = (s[:, None] * Vh).reshape(keep, d2, r)
            self.center = b + 1
        else:
            A[b] = (U * s).reshape(l, d1, keep)
            A[b + 1] = Vh.reshape(keep, d2, r)
            self.center = b

    def sweep(self, layer, x, chi):
        n = self.n
        if layer == 0:  # even bonds, left to right
            for i in range(0, n - 1, 2):
                self._move(i)
                self._apply(i, x, True, chi)
        else:  # odd bonds, right to left
            for i in reversed(range(1, n - 1, 2)):
                self._move(i + 1)
                self._apply(i, x, False, chi)

    def evolve(self, dt, nsteps, order, chi, deadline=None):
        """``nsteps`` Trotter steps of ``dt``; stops early (between steps) after ``deadline``
        (``time.perf_counter()`` value). Returns the number of steps made."""
        one = _schedule(order, 1)
        merged = _schedule(order, 2)[len(one) - 1 :]  # a step after a step: first half-layer merged
        for k in range(nsteps):
            layers = one if k == 0 else merged
            if k < nsteps - 1:  # its last half-layer merges with the next step's first
                layers = layers[:-1]
            for layer, frac in layers:
                self.sweep(layer, frac * dt, chi)
            if deadline is not None and time.perf_counter() > deadline:
                if k < nsteps - 1:  # finish the step (the merged half-layer was left out)
                    layer, frac = one[-1]
                    self.sweep(layer, frac * dt, chi)
                return k + 1
        return nsteps


class _Measure:
    """Linear functionals ``Tr(O rho)`` of an MPS ``vec(rho)`` with cached identity environments."""

    def __init__(self, psi, dims):
        self.psi = psi
        self.dims = dims
        n = len(dims)
        self.idv = [np.eye(d, dtype=np.complex128).ravel(order="F") for d in dims]
        left = [None] * (n + 1)
        right = [None] * (n + 1)
        left[0] = qtn.Tensor(np.ones(()), inds=())
        for i in range(n):
            left[i + 1] = qtn.tensor_contract(left[i], psi[i], self._vec(self.idv[i], i))
        right[n] = qtn.Tensor(np.ones(()), inds=())
        for i in reversed(range(n)):
            right[i] = qtn.tensor_contract(right[i + 1], psi[i], self._vec(self.idv[i], i))
        self.left, self.right = left, right
        self.trace = complex(left[n].data if isinstance(left[n], qtn.Tensor) else left[n])

    def _vec(self, v, i):
        return qtn.Tensor(v, inds=(self.psi.site_ind(i),))

    def sites(self, vecs: dict) -> complex:
        """``Tr(prod_i O_i rho)`` for the contiguous block ``vecs = {site: vec(O_i^T)}``."""
        ks = sorted(vecs)
        ts = [self.left[ks[0]]]
        for i in range(ks[0], ks[-1] + 1):
            v = vecs.get(i, self.idv[i])
            ts += [self.psi[i], self._vec(v, i)]
        ts.append(self.right[ks[-1] + 1])
        out = qtn.tensor_contract(*ts)
        val = out.data if isinstance(out, qtn.Tensor) else out
        return complex(val) / self.trace


def _is_hermitian(op) -> bool:
    op = np.asarray(op)
    return bool(np.allclose(op, op.conj().T, atol=1e-12 * float(np.abs(op).max(initial=0.0))))


class TNSteadyState:
    """Steady state of a chain as an MPS of ``vec(rho)`` (result of :func:`steady_state`).

    Attributes
    ----------
    mps : quimb.tensor.MatrixProductState
        ``vec(rho)`` on sites of dimension ``d_i**2`` (column-stacked local
        index ``a_i + d_i b_i``), normalised to ``Tr rho = 1``.
    terms : qness.terms.ChainTerms
        The model solved.
    residual : float
        ``||L vec(rho)||_2 / (s ||vec(rho)||_2)`` (Frobenius norms), from the
        Liouvillian MPO contracted exactly, relative to the Liouvillian's
        scale ``s = max_i ||L_(i,i+1)||_2`` (the largest spectral norm of the
        two-site bond generators, ``info["liouvillian_scale"]``; the unit of
        the default time step too): unit-free, unchanged when every energy
        and rate of the model is multiplied by the same factor.
    converged : bool
        ``residual <= tol`` and neither the bond cap nor the time limit was
        binding. A run that stops at its bond cap or time limit has
        ``converged = False`` and warned with :class:`TNConvergenceWarning`.
    info : dict
        ``bond_dims`` (final, per bond), ``max_bond`` (largest), ``bond_cap``,
        ``capped`` (the cap was binding at the end), ``time_limited``,
        ``discarded_weight`` (sum of relative discarded weights ``sum s_cut^2 /
        sum s^2`` over all gates of the run) and ``discarded_weight_last``
        (over the last stage), ``dt_schedule`` (list of stages: ``dt``,
        evolution time, steps, bond cap, residual (relative, as
        ``residual``), ``drift`` and ``local_drift``: the last change of
        ``vec(rho)``, relative, and of the one-site density matrices, largest
        Frobenius norm, per time ``1 / s``: the rate divided by ``s``),
        ``liouvillian_scale`` (``s``), ``symmetry`` (``"U(1)"`` or
        ``None``), ``richardson`` (whether the returned state is the
        Richardson combination of the last two stages), ``stalled`` (halving
        ``dt`` stopped helping), ``drift_floor`` (a stage ended because its
        drift stopped falling, e.g. at a binding cap), ``relaxation_rate``
        and ``distance_estimate`` (slowest decay rate seen, in the model's
        rate units, and the relative distance ``s drift / rate``), ``time``
        (wall seconds), ``order``, ``tol``.
    """

    def __init__(self, mps, terms, residual, converged, info):
        self.mps = mps
        self.terms = terms
        self.residual = float(residual)
        self.converged = bool(converged)
        self.info = info
        self._meas = None

    def __repr__(self) -> str:
        return (
            f"TNSteadyState(n={self.terms.n_sites}, max_bond={self.info.get('max_bond')}, "
            f"residual={self.residual:.3g}, converged={self.converged})"
        )

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return self.terms.n_sites

    @property
    def _m(self) -> _Measure:
        if self._meas is None:
            self._meas = _Measure(self.mps, self.terms.dims)
        return self._meas

    def _op(self, op, i, name):
        from ..operators import local_op

        d = self.terms.dims[i]
        try:  # a d x d array, sparse matrix, qutip.Qobj or a local operator name ("sigmaz", "num", ...)
            return local_op(op, d).toarray().astype(np.complex128, copy=False)
        except ValueError as exc:
            raise ValueError(f"{name} on site {i}: {exc}") from None
        except TypeError as exc:
            raise TypeError(f"{name} on site {i}: {exc}") from None

    def _site(self, i, name="i"):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"{name} must be an integer site index, got {i!r}")
        if not 0 <= i < self.n_sites:
            raise ValueError(f"{name}={i} out of range for a chain of {self.n_sites} sites")
        return int(i)

    @staticmethod
    def _real_if(val, herm):
        return float(val.real) if herm else val

    def expect_site(self, op, i):
        """``Tr(op_i rho)`` for a ``(d_i, d_i)`` operator on site ``i`` (float for Hermitian ``op``).

        ``op`` (here and in the other methods) is an array, a sparse matrix, a
        ``qutip.Qobj`` or a local operator name of :func:`qness.operators.local_op`
        (``"sigmaz"``, ``"num"``, ...).
        """
        i = self._site(i)
        m = self._op(op, i, "op")
        return self._real_if(self._m.sites({i: _local_vec(m)}), _is_hermitian(m))

    def expect_bond(self, op_i, op_j, i):
        """``Tr(op_i op_j rho)`` on sites ``i`` and ``i + 1`` (float if both are Hermitian)."""
        i = self._site(i)
        if i == self.n_sites - 1:
            raise ValueError(f"i={i}: a bond needs sites i and i + 1 < {self.n_sites}")
        a, b = self._op(op_i, i, "op_i"), self._op(op_j, i + 1, "op_j")
        val = self._m.sites({i: _local_vec(a), i + 1: _local_vec(b)})
        return self._real_if(val, _is_hermitian(a) and _is_hermitian(b))

    def profile(self, op) -> np.ndarray:
        """``Tr(op_i rho)`` on every site (same operator everywhere), shape ``(n,)``."""
        vals = [self.expect_site(op, i) for i in range(self.n_sites)]
        return np.array(vals)

    def bond_currents(self, density) -> np.ndarray:
        """Currents of a conserved on-site density across the bonds, ``<i [q_i, h_(i,i+1)]>``.

        Parameters
        ----------
        density : array_like, shape (d, d)
            Local density ``q`` (e.g. ``sigma^z`` for the spin current of an
            XXZ chain, ``(1 + sigma^z)/2`` for particles).

        Returns
        -------
        numpy.ndarray, shape (n-1,)
            Flow from site ``i`` to ``i + 1`` per unit time (hbar = 1), the
            same definition as :func:`qness.analysis.bond_currents`: ``J_cut(i)
            = i <[X_left(i), H]>`` with ``X_left(i) = sum_{a<=i} q_a``.

        Raises
        ------
        ValueError
            If an on-site term or a bond does not conserve ``q``.
        """
        n, dims = self.n_sites, self.terms.dims
        q = [self._op(density, i, "density") for i in range(n)]
        onsite = [np.zeros((d, d), dtype=np.complex128) for d in dims]
        bonds = [np.zeros((dims[i] * dims[i + 1],) * 2, dtype=np.complex128) for i in range(n - 1)]
        for t in self.terms.hamiltonian:
            if len(t.sites) == 1:
                onsite[t.sites[0]] += t.coeff * t.ops[0]
            else:
                bonds[t.sites[0]] += t.coeff * np.kron(*t.ops)
        for i in range(n):
            c = onsite[i] @ q[i] - q[i] @ onsite[i]
            if np.abs(c).max() > 1e-10 * np.abs(onsite[i]).max():
                raise ValueError(
                    f"density: the on-site term of site {i} does not conserve it; no bond current"
                )
        out = []
        for i in range(n - 1):
            Q2 = np.kron(q[i], np.eye(dims[i + 1])) + np.kron(np.eye(dims[i]), q[i + 1])
            if np.abs(bonds[i] @ Q2 - Q2 @ bonds[i]).max() > 1e-10 * np.abs(bonds[i]).max():
                raise ValueError(f"density: the bond ({i}, {i + 1}) does not conserve it; no bond current")
            qi = np.kron(q[i], np.eye(dims[i + 1]))
            jop = 1j * (qi @ bonds[i] - bonds[i] @ qi)
            out.append(self._two_site(jop, i).real)
        return np.array(out)

    def _two_site(self, op2, i) -> complex:
        """``Tr(op2 rho)`` for a general two-site operator on ``(i, i+1)`` (operator Schmidt sum)."""
        d1, d2 = self.terms.dims[i], self.terms.dims[i + 1]
        T = op2.reshape(d1, d2, d1, d2).transpose(0, 2, 1, 3).reshape(d1 * d1, d2 * d2)
        U, s, Vh = np.linalg.svd(T, full_matrices=False)
        total = 0j
        for k in np.flatnonzero(s > 1e-14 * max(s[0], 1e-300)):
            a = (U[:, k] * s[k]).reshape(d1, d1)
            b = Vh[k].reshape(d2, d2)
            total += self._m.sites({i: _local_vec(a), i + 1: _local_vec(b)})
        return total

    def density_matrix(self) -> np.ndarray:
        """The full ``rho`` (dense, ``prod(dims)`` square; for small chains only, ``prod(dims) <= 4096``)."""
        dims = self.terms.dims
        D = math.prod(dims)
        if D > 4096:
            raise ValueError(f"density_matrix: prod(dims) = {D} is too large for a dense matrix (limit 4096)")
        v = np.asarray(self.mps.to_dense()).reshape([x for d in dims for x in (d, d)])
        n = len(dims)
        # local index k = a + d b  ->  axes (b_i, a_i); reorder to (a_0..a_{n-1}, b_0..b_{n-1})
        perm = [2 * i + 1 for i in range(n)] + [2 * i for i in range(n)]
        return v.transpose(perm).reshape(D, D)


def _mps_residual(L, psi) -> float:
    """``||L psi|| / ||psi||`` from the exact structured contraction of ``<psi|L^+ L|psi>``."""
    n = psi.L
    k, b = psi.site_ind_id, L.lower_ind_id
    up = L.upper_ind_id
    x, y = "_qness_x{}", "_qness_y{}"
    Lk = L.reindex(
        {**{b.format(i): k.format(i) for i in range(n)}, **{up.format(i): x.format(i) for i in range(n)}}
    )
    Lb = L.H.reindex(
        {**{b.format(i): y.format(i) for i in range(n)}, **{up.format(i): x.format(i) for i in range(n)}}
    )
    bra = psi.H.reindex({k.format(i): y.format(i) for i in range(n)})
    nrm2 = float(np.real((psi | Lk | Lb | bra) ^ ...))
    return math.sqrt(max(nrm2, 0.0)) / abs(psi.norm())


def _still_falling(hist, window) -> bool:
    """Whether the drifts in ``hist`` (``(time, drift)`` pairs) still fall: slow relaxation, not a floor.

    Over the last ``max(window, t / 2)`` a least-squares line through
    ``log(drift)`` must fall by more than three times the scatter about it. A
    clean exponential decay passes however slow it is (rates ``~ n^-2`` of a
    diffusive chain, or a weak coupling); truncation noise has no trend.
    """
    t_now = hist[-1][0]
    t_ref = min(t_now - window, t_now / 2)
    pts = [(t, d) for t, d in hist if t > t_ref and d > 0]
    if t_ref <= 0 or len(pts) < 4:
        return True  # too short to tell: keep measuring
    t = np.array([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    slope, icpt = np.polyfit(t, y, 1)
    scatter = float(np.std(y - (slope * t + icpt)))
    return bool(slope < 0 and -slope * (t[-1] - t[0]) > 3 * scatter)


def _distance(a, b) -> float:
    """``||a - b|| / ||b||`` (the difference formed explicitly as an MPS: no cancellation)."""
    return abs(b.add_MPS(a * -1.0).norm()) / abs(b.norm())


def _normalise(psi, dims):
    tr = _Measure(psi, dims).trace
    psi /= tr
    return psi


def _initial_state(terms, initial, cutoff):
    """The start of the evolution and its label (``"product"``, ``"gaussian"`` or ``"mps"``)."""
    if isinstance(initial, str):
        if initial != "gaussian":
            raise ValueError(
                f"initial must be 'gaussian', a sequence of local states or an MPS, got {initial!r}"
            )
        from ..gaussian import steady_state as gaussian_steady_state
        from ._gaussian import gaussian_mps, quadratic_part

        C = gaussian_steady_state(quadratic_part(terms)).C
        return gaussian_mps(C, cutoff=min(1e-14, cutoff * 1e-4)), "gaussian"
    if isinstance(initial, qtn.MatrixProductState):
        dims2 = [d * d for d in terms.dims]
        if initial.L != len(dims2) or [initial.phys_dim(i) for i in range(initial.L)] != dims2:
            raise ValueError(f"initial: an MPS on {len(dims2)} sites of dimensions {dims2} is needed")
        psi = initial.copy()
        psi.canonicalize_(0)
        return _normalise(psi, terms.dims), "mps"
    return _product_state(terms, initial), "product"


def _product_state(terms, initial):
    dims = terms.dims
    if initial is None:
        mats = [np.eye(d) / d for d in dims]
    else:
        mats = list(initial)
        if len(mats) != len(dims):
            raise ValueError(f"initial: {len(mats)} local states for a chain of {len(dims)} sites")
    vecs = []
    for i, (m, d) in enumerate(zip(mats, dims)):
        m = np.asarray(m, dtype=np.complex128)
        if m.shape != (d, d):
            raise ValueError(f"initial: local state {i} has shape {m.shape}, expected {(d, d)}")
        vecs.append(m.ravel(order="F"))
    return qtn.MPS_product_state(vecs)


def steady_state(
    model,
    *,
    max_bond=None,
    tol=None,
    dt=None,
    progress=False,
    time_limit=None,
    order=2,
    initial=None,
    symmetry=True,
) -> TNSteadyState:
    r"""Steady state of a 1D chain by TEBD of ``vec(rho)`` as a matrix product state (quimb).

    Parameters
    ----------
    model : LindbladModel with ``.terms``, or qness.terms.ChainTerms
        A chain: on-site and nearest-neighbour Hamiltonian terms, jumps on one
        site or on two neighbouring sites, any local dimensions.
    max_bond : int, optional
        Bond-dimension cap (default 128). The run starts at ``min(16,
        max_bond)`` and doubles the bond dimension while it is binding.
    tol : float, optional
        Target residual ``||L vec(rho)|| / (s ||vec(rho)||)`` (default
        ``1e-6``), relative to the Liouvillian's scale ``s = max_i
        ||L_(i,i+1)||_2`` (largest norm of the two-site bond generators,
        ``info["liouvillian_scale"]``): unit-free, so a model with every
        energy and rate multiplied by a factor gives the same state with the
        same ``converged`` (its times divided by the factor). Also sets the
        SVD truncation (singular values below ``min(1e-6, tol / 1000)`` times
        the largest are dropped) and the stage criterion (drift per time
        ``1 / s`` below ``tol / 30``).
    dt : float, optional
        First (largest) time step; default ``0.5 / max_i ||L_(i,i+1)||_2``.
        Later stages halve it. ``dt * max_i ||L_(i,i+1)||_2`` must lie in
        :data:`DT_RANGE` (``1e-4`` to ``4``).
    progress : bool, optional
        Show a tqdm progress bar.
    time_limit : float, optional
        Wall-clock limit in seconds, checked after every Trotter step. When
        reached the best state so far is returned with
        ``info["time_limited"] = True`` and a warning.
    order : {2, 4}, optional
        Trotter order (symmetric second order, or fourth-order Suzuki).
    initial : "gaussian", sequence of (d_i, d_i) arrays, or quimb MatrixProductState, optional
        Start of the evolution. Default: the infinite-temperature product
        state ``1/d`` on every site. A sequence: a product state of these
        local density matrices. An MPS: ``vec(rho)`` on the solver's sites
        (e.g. ``res.mps`` of an earlier run). ``"gaussian"`` (spin-1/2
        chains): the Gaussian state with the exact two-point function of the
        model's quadratic part (:func:`qness.tn.quadratic_part`, solved by
        :func:`qness.gaussian.steady_state`, built exactly by
        :func:`qness.tn.gaussian_mps`). It is the NESS itself for a free-fermion
        chain (XX, fields, boundary gain/loss); with dephasing it has the
        exact two-point function and current but is not the NESS; with
        ``sigma^z sigma^z`` interactions it is only a start. The start is a
        candidate for the result too: if its residual already meets ``tol``
        it is returned without any evolution (the Trotter fixed points are
        ``O(dt^2)`` away from it, and reaching them takes the full
        relaxation time), otherwise if its residual stays the smallest
        (``info["returned"] == "initial"``).
    symmetry : bool, optional
        Use U(1) charges when the model conserves them (default ``True``):
        if every bond term commutes with a local number (the local basis
        index or its complement, site by site: the down-spin count of
        :mod:`qness.operators`' spin-1/2 sites, index 0 being up, or the
        up-spin count; the boson number), the charge ``N_ket - N_bra`` of
        ``vec(rho)`` is conserved, every bond carries definite charges and
        the SVDs and QRs of the two-site updates run block by block (the
        XXZ chain: 5.5x faster per step at bond dimension 128, 3.7x at 64,
        2.1x at 32). Used only when the bonds can reach
        :data:`U1_MIN_BOND` (32; below, the blocks' overhead exceeds their
        gain). ``info["symmetry"]`` says whether it was used
        (``"U(1)"``) or not (``None``: the model breaks the charge, e.g. a
        transverse field, or the bonds stay small).

    Returns
    -------
    TNSteadyState
        ``.expect_site``, ``.expect_bond``, ``.profile``, ``.bond_currents``,
        ``.residual``, ``.converged``, ``.info``, ``.mps``. ``info``
        also holds ``initial`` (``"product"``, ``"gaussian"`` or ``"mps"``),
        ``initial_residual`` and ``returned`` (``"initial"``, ``"trotter"``,
        ``"richardson"``, or ``"warm-up"`` if the time limit ended the run
        in the warm-up: which state was returned).

    Raises
    ------
    TypeError
        If ``model`` is not a model or a ChainTerms, or ``max_bond``,
        ``tol``, ``dt``, ``time_limit`` have the wrong type.
    ValueError
        If the model has no terms (built from full matrices), has a term of
        range > 1, an argument is not positive, ``dt`` is outside
        :data:`DT_RANGE` (in units of ``1 / max_i ||L_(i,i+1)||_2``), or, with
        ``initial="gaussian"``, the model has no quadratic part
        (:func:`qness.tn.quadratic_part`).

    Warns
    -----
    TNConvergenceWarning
        If the tolerance was not met: the bond cap was binding, the time
        limit was hit, or halving ``dt`` (and Richardson extrapolation)
        stopped improving the residual.

    Notes
    -----
    Algorithm. The Liouvillian is split into bond generators ``L = sum_i
    L_(i,i+1)`` (one-site terms shared between the two bonds of a site, so
    each bond generator is a Lindbladian and its gate ``exp(x L_(i,i+1))`` is
    completely positive). ``vec(rho)`` is evolved with even/odd Trotter
    layers (quimb's ``trotter_schedule``), truncating each two-site update by
    an SVD in the canonical form. From a product start, a warm-up at ``4 dt`` runs until the drift
    (change of ``vec(rho)`` per time ``1 / s``, relative) is a tenth of that coarse
    fixed point's residual; then each stage (``dt``, ``dt/2``, ...) runs
    until the drift is below ``tol / 30``, or stops falling (flag
    ``drift_floor``); the bond cap doubles whenever it binds. A drift is
    called a floor only when neither the drift of ``vec(rho)`` nor that of
    the one-site reduced density matrices still falls: over the last half
    of the stage (at least 12 chunks) a least-squares line through
    ``log(drift)`` must fall by more than three times the scatter about it.
    A clean slow relaxation passes however slow it is (a 4-site chain with
    couplings 0.004, relaxation rate 0.004, was called a floor by the
    earlier "10 % within 12 chunks" rule and stopped at residual 1.4e-3);
    with a binding cap the whole vector's drift sits at the truncation noise
    while the slow modes (conserved densities, rates ``~ n^-2`` on a
    diffusive chain) may still relax. The fixed point
    of a symmetric Trotter step differs from the NESS by ``O(dt^order)``, so
    each later stage halves ``dt`` and the two last fixed points are
    combined by Richardson extrapolation,
    ``(2^p rho(dt/2) - rho(dt)) / (2^p - 1)``;
    the state with the smallest true residual (from the Liouvillian MPO) is
    returned, never the warm-up's once a stage at ``dt`` has finished. With
    a binding cap the halving stops as soon as it does not improve the
    residual (the truncation noise per unit time grows as ``1/dt``). With
    ``symmetry`` (above) the two-site updates are block diagonal in the U(1)
    charge of ``vec(rho)``; the arrays stay dense, and quimb sees an ordinary
    MPS.
    """
    t_start = time.perf_counter()
    terms = chain_terms(model)
    max_bond = _check_positive(max_bond, "max_bond", integer=True)
    tol = _check_positive(tol, "tol")
    dt = _check_positive(dt, "dt")
    time_limit = _check_positive(time_limit, "time_limit")
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order!r}")
    if not isinstance(symmetry, (bool, np.bool_)):
        raise TypeError(f"symmetry must be True or False, got {symmetry!r}")
    max_bond = 128 if max_bond is None else max_bond
    tol = 1e-6 if tol is None else tol
    dims = terms.dims
    dims2 = [d * d for d in dims]
    sterms = superop_terms(terms)
    gens = bond_generators(sterms, dims)
    L = qtn.MatrixProductOperator(liouvillian_mpo_arrays(sterms, dims), shape="lrud")
    scale = max(float(np.linalg.norm(g, 2)) for g in gens)
    if scale == 0:
        raise ValueError("the Liouvillian is zero: every state is stationary")
    if dt is not None and not DT_RANGE[0] <= dt * scale <= DT_RANGE[1]:
        raise ValueError(
            f"dt={dt:g} is outside [{DT_RANGE[0]:g}, {DT_RANGE[1]:g}] / max||L_bond|| = "
            f"[{DT_RANGE[0] / scale:.3g}, {DT_RANGE[1] / scale:.3g}] for this model: smaller steps "
            "cannot reach the steady state in any useful time, larger ones leave only the Trotter "
            f"error; the default is 0.5 / max||L_bond|| = {0.5 / scale:.3g}"
        )
    dt0 = 0.5 / scale if dt is None else dt
    cutoff = min(1e-6, tol / 1000)

    def residual_of(p):  # unit-free: in units of the Liouvillian's scale (the time step's too)
        return _mps_residual(L, p) / scale

    # the two-site SVDs and QRs are of (bond x d^2)-row matrices: on one BLAS thread below
    # SMALL_BLOCK rows (a busy second core made OpenBLAS's spinning threads slow the 6-site
    # runs of examples/tn_transport.ipynb 10-20x: 29-48 s against 1.4-2.7 s each)
    with limit_blas(max_bond * max(dims2)):
        psi, start = _initial_state(terms, initial, cutoff)
        res_start = residual_of(psi)
        full_rank = max(
            min(math.prod(dims2[: b + 1]), math.prod(dims2[b + 1 :])) for b in range(len(dims2) - 1)
        )
        symmetry = bool(symmetry) and min(max_bond, full_rank) >= U1_MIN_BOND
        ev = _Evolver(psi, gens, dims2, dims, cutoff, symmetry=symmetry)
        chi = min(max(16, 2 ** math.ceil(math.log2(max(1, psi.max_bond())))), max_bond)
        pbar = None
        if progress:
            from tqdm.auto import tqdm

            pbar = tqdm(desc="tn.steady_state", unit="chunk")

        def over_time():
            return time_limit is not None and time.perf_counter() - t_start > time_limit

        stages = []
        fixed_points = []
        time_limited = False
        capped = False
        best = (res_start, psi.copy(), "initial")  # (residual, psi, label)
        stalled = False
        rate = None
        dist = math.inf
        # stage -1: warm-up at 4 dt (not used for the extrapolation), then dt, dt/2, dt/4, dt/8; none if the
        # start already meets the tolerance (its Trotter fixed points are O(dt^2) away from it)
        first = -1 if start == "product" else 0  # a Gaussian or MPS start is closer than the warm-up's bias
        for stage in range(first, 4) if res_start > tol else ():
            h = dt0 * 2.0**-stage if stage >= 0 else 4 * dt0
            # a chunk: a few units of the fastest time scale
            nsteps = max(4, int(math.ceil(8.0 / (h * scale))))
            T = nsteps * h
            t_evol = 0.0
            drift_floor = False
            ev.discarded = 0.0
            prev_drift = None
            target = 0.03 * tol
            next_check = math.inf
            best_drift, since_best = math.inf, 0
            local_hist, drift_hist = [], []  # (stage time, drift of the one-site states / of vec(rho))
            loc = ev.local_states()
            while True:
                old = ev.mps()
                ev.cap_hits = 0
                done = ev.evolve(h, nsteps, order, chi, None if time_limit is None else t_start + time_limit)
                T = done * h
                t_evol += T
                ev.normalise_trace()
                cur = ev.mps()
                # drifts per unit of the fastest time scale 1 / scale (unit-free, compared with tol)
                drift = _distance(old, cur) / (T * scale)
                loc_old, loc = loc, ev.local_states()
                local_drift = max(float(np.linalg.norm(a - b)) for a, b in zip(loc, loc_old)) / (T * scale)
                local_hist.append((t_evol, local_drift))
                drift_hist.append((t_evol, drift))
                binding = ev.cap_hits > 0  # the cap dropped singular values above the cutoff
                if binding and chi < max_bond:
                    chi = min(2 * chi, max_bond)
                    prev_drift = None
                    continue
                capped = binding and chi >= max_bond
                if prev_drift is not None and 0 < drift < prev_drift:
                    rate = math.log(prev_drift / drift) / T
                    dist = drift * scale / rate
                prev_drift = drift
                if stage < 0 and drift < next_check:
                    # warm-up: relax until the drift is well below this coarse step's own residual (its bias)
                    target = max(0.03 * tol, 0.1 * residual_of(cur))
                    next_check = drift / 4
                if pbar is not None:
                    pbar.set_postfix(
                        stage=stage, dt=f"{h:.3g}", t=f"{t_evol:.4g}", chi=chi, drift=f"{drift:.2e}"
                    )
                    pbar.update()
                if over_time():
                    time_limited = True
                    break
                if drift < target:
                    break
                # a drift that stops falling (truncation noise at a binding cap) ends the stage: flagged
                if drift < 0.9 * best_drift:
                    best_drift, since_best = drift, 0
                else:
                    since_best += 1
                falling = _still_falling(drift_hist, 12 * T) or _still_falling(local_hist, 12 * T)
                if since_best >= 12 and not falling:
                    drift_floor = True
                    break
            res = residual_of(cur)
            stages.append(
                {
                    "dt": h,
                    "time": t_evol,
                    "steps": int(round(t_evol / h)),
                    "bond_cap": chi,
                    "residual": res,
                    "drift": drift,
                    "drift_floor": drift_floor,
                    "local_drift": local_hist[-1][1] if local_hist else 0.0,
                    "discarded_weight": ev.discarded,
                    "warm_up": stage < 0,
                }
            )
            if stage < 0:
                if res < best[0]:
                    best = (res, cur, "warm-up")
                if time_limited:
                    break
                continue
            fixed_points.append(cur)
            if best[2] == "warm-up":  # the coarse step's fixed point is only a start (its bias is 16x dt's)
                best = (math.inf, None, None)
            cands = [(res, fixed_points[-1], "trotter")]
            if len(fixed_points) >= 2:
                p = order
                comb = fixed_points[-1].add_MPS(fixed_points[-2] * (-1.0 / 2**p))
                comb = comb * (2**p / (2**p - 1))
                comb.compress(cutoff=cutoff * 1e-2, cutoff_mode="rel", max_bond=max_bond)
                _normalise(comb, dims)
                r_comb = residual_of(comb)
                stages[-1]["residual_richardson"] = r_comb
                cands.append((r_comb, comb, "richardson"))
            cand = min(cands, key=lambda c: c[0])
            improved = cand[0] < 0.7 * best[0]
            if cand[0] < best[0]:
                best = cand
            if best[0] <= tol or time_limited or over_time():
                time_limited = time_limited or (best[0] > tol and over_time())
                break
            if len(fixed_points) >= (2 if capped else 3) and not improved:
                # halving dt no longer helps (with a binding cap already after one halving: truncation
                # noise per unit time grows as 1/dt)
                stalled = True
                break
        if pbar is not None:
            pbar.close()
        residual, psi_out, label = best
        psi_out = psi_out.copy()
        psi_out.canonicalize_(0)
        info = {
            "bond_dims": [int(x) for x in psi_out.bond_sizes()],
            "max_bond": int(psi_out.max_bond()),
            "bond_cap": chi,
            "capped": bool(capped),
            "time_limited": bool(time_limited),
            "stalled": bool(stalled),
            "drift_floor": any(st["drift_floor"] for st in stages),
            "discarded_weight": float(ev.discarded_total),
            "discarded_weight_last": float(stages[-1]["discarded_weight"]) if stages else 0.0,
            "max_discarded_per_gate": float(ev.max_discarded),
            "dt_schedule": stages,
            "richardson": label == "richardson",
            "returned": label,
            "initial": start,
            "initial_residual": float(res_start),
            "relaxation_rate": rate,
            "distance_estimate": dist,
            "order": order,
            "symmetry": "U(1)" if ev.symmetric else None,
            "tol": tol,
            "liouvillian_scale": scale,
            "cutoff": cutoff,
            "time": time.perf_counter() - t_start,
        }
        converged = residual <= tol and not capped and not time_limited
        if not converged:
            why = []
            if capped:
                why.append(f"the bond cap max_bond={max_bond} was binding")
            if time_limited:
                why.append(f"the time limit of {time_limit:g} s was hit")
            if info["drift_floor"]:
                why.append("the state stopped approaching a fixed point (truncation noise)")
            if residual > tol and not why:
                why.append("halving dt (with Richardson extrapolation) stopped reducing the residual")
            warnings.warn(
                f"tn.steady_state did not converge: residual {residual:.3g} (tol {tol:.3g}); "
                + "; ".join(why),
                TNConvergenceWarning,
                stacklevel=2,
            )
        return TNSteadyState(psi_out, terms, residual, converged, info)
