"""Result records of the solvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..operators import _is_qobj, as_csr, check_qobj_dims

__all__ = ["NESS"]


def _is_operator_list(op) -> bool:
    """A list or tuple of operators (``[a, sm]``), as opposed to a nested list of numbers (one matrix)."""
    return (
        isinstance(op, (list, tuple))
        and len(op) > 0
        and all(
            _is_qobj(x) or sp.issparse(x) or type(x).__name__ == "QobjEvo" or np.ndim(x) == 2
            for x in op
            if not isinstance(x, (str, bytes))
        )
        and not any(isinstance(x, (str, bytes)) for x in op)
    )


def _entry(k: int, fn, *args):
    """``fn(*args)`` for entry ``k`` of a list of operators; an error names the entry."""
    try:
        return fn(*args)
    except (TypeError, ValueError) as exc:
        try:
            named = type(exc)(f"op[{k}]: {exc}")
        except Exception:  # noqa: BLE001 - an error class with other arguments: as it was
            raise exc from None
        raise named from exc


def _constant_operator(op, name: str = "op"):
    """A constant ``qutip.QobjEvo`` as its ``Qobj``; a time-dependent one refused by name."""
    if type(op).__name__ != "QobjEvo":
        return op
    from ..model import _constant_evo

    if _constant_evo(op):
        return op(0.0)
    raise TypeError(
        f"{name} is a time-dependent qutip.QobjEvo; a steady state's expectation value takes a "
        f"constant operator: pass {name}(t) at the time you mean (a Qobj)"
    )


def _expect(rho: np.ndarray, op, d: int):
    if isinstance(op, str):
        raise TypeError(
            f"op must be an operator (array, sparse or qutip.Qobj), got the string {op!r}; build the "
            "operator, e.g. qness.operators.chain_operator({site: 'num'}, ness.dims)"
        )
    if _is_qobj(op):
        op = as_csr(op, "op")
    if sp.issparse(op):
        op = sp.csr_array(op)
        if op.shape != (d, d):
            raise ValueError(f"op has shape {op.shape}, the state is {d} x {d}")
        val = np.sum(op.multiply(rho.T).data) if op.nnz else 0.0
        # Tr(op rho) = sum_ij op_ij rho_ji
        return complex(val)
    try:
        arr = np.asarray(op)
    except ValueError:  # ragged nested lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "biufc" or arr.ndim != 2:
        what = type(op).__name__ + (f" of shape {arr.shape}" if arr.dtype.kind in "biufc" else "")
        raise TypeError(
            f"op must be a {d} x {d} operator (array, sparse or qutip.Qobj), or a list of them, got {what}"
        )
    if arr.shape != (d, d):
        raise ValueError(f"op has shape {arr.shape}, the state is {d} x {d}")
    return complex(np.sum(arr * rho.T))


@dataclass(frozen=True, eq=False)
class NESS:
    """A steady state and how it was obtained.

    Attributes
    ----------
    rho : numpy.ndarray
        The ``d x d`` density matrix (trace 1, Hermitian).
    dims : tuple of int
        Local dimensions of the model.
    residual : float
        ``||L vec(rho)||_2`` (column stacking), the defect of stationarity.
    info : dict
        What was used: ``method`` (name), ``options`` (the method's
        settings), ``sector`` (label and size solved), ``iterations``,
        ``time`` (s), ``hermiticity_error`` (before symmetrisation), and
        solver-specific entries.
    site_kinds : tuple of str
        The model's :attr:`~qness.LindbladModel.site_kinds` (empty if unknown).
    qobj_dims : object
        QuTiP dims of a non-tensor-product space (ENR), else ``None``.

    Notes
    -----
    ``dim``, ``trace``, ``hermiticity_error``, ``eigenvalues`` (of ``rho``,
    ascending), ``min_eigenvalue`` and ``purity`` are properties (attributes,
    not methods: ``ness.purity``, not ``ness.purity()``); :meth:`expect` and
    :meth:`to_qobj` are methods. A ``NESS`` pickles (``pickle.dump``) with
    its ``info``.
    """

    rho: np.ndarray
    dims: tuple
    residual: float
    info: dict = field(default_factory=dict)
    site_kinds: tuple = ()
    qobj_dims: object = None

    @property
    def dim(self) -> int:
        """Hilbert-space dimension."""
        return self.rho.shape[0]

    @property
    def trace(self) -> float:
        """``Re Tr(rho)`` (1 up to rounding)."""
        return float(np.real(np.trace(self.rho)))

    @property
    def hermiticity_error(self) -> float:
        """``max |rho - rho^+|`` of the solver's raw output (before symmetrisation)."""
        return float(self.info.get("hermiticity_error", 0.0))

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of ``rho`` (ascending), block by block when a symmetry was used."""
        blocks = self.info.get("_blocks")
        if blocks:
            vals = [np.linalg.eigvalsh(self.rho[np.ix_(b, b)]) for b in blocks]
            return np.sort(np.concatenate(vals))
        return np.linalg.eigvalsh(self.rho)

    @property
    def min_eigenvalue(self) -> float:
        """Smallest eigenvalue of ``rho`` (positivity check; ~ -1e-12 at worst for a good solve)."""
        return float(self.eigenvalues[0])

    @property
    def purity(self) -> float:
        """``Tr(rho^2)``."""
        return float(np.real(np.vdot(self.rho, self.rho)))

    def expect(self, op):
        """``Tr(op rho)`` for an operator (array, sparse, ``qutip.Qobj`` or constant ``qutip.QobjEvo``).

        Returns a float when ``op`` is Hermitian (imaginary part below
        1e-12), else a complex number. For a list or tuple of operators
        (as ``qutip.expect`` takes), a 1-D array of their values: float when
        all are Hermitian, else complex.

        Raises
        ------
        TypeError
            If ``op`` is not an operator (e.g. a string such as ``"num"``, a
            number, a time-dependent ``QobjEvo``).
        ValueError
            If ``op``'s shape differs from the state's, or (for a ``Qobj``)
            its dims do not match the state's tensor structure, e.g. the
            factors in another order with the same total size, as
            ``qutip.expect`` refuses. A ``Qobj`` on one flat space of the
            right size is accepted on a chain state and vice versa.
        """
        if _is_operator_list(op):
            vals = [_entry(k, self.expect, x) for k, x in enumerate(op)]
            real = all(isinstance(v, float) for v in vals)
            return np.array(vals, dtype=float if real else complex)
        op = _constant_operator(op)
        if _is_qobj(op):
            self._check_qobj_dims(op)
        val = _expect(self.rho, op, self.dim)
        mat = as_csr(op, "op")
        herm = (abs(mat - mat.T.conj()).max() if mat.nnz else 0.0) <= 1e-12 * max(
            1.0, abs(mat).max() if mat.nnz else 1.0
        )
        return float(val.real) if herm else val

    def _check_qobj_dims(self, op) -> None:
        check_qobj_dims(op, self.dims, self.qobj_dims, name="op", owner="the state")

    def to_qobj(self):
        """The state as a ``qutip.Qobj`` with chain dims (or the model's own QuTiP dims, e.g. ENR)."""
        import qutip

        if self.qobj_dims is not None:
            return qutip.Qobj(self.rho, dims=self.qobj_dims)
        return qutip.Qobj(self.rho, dims=[list(self.dims), list(self.dims)])

    def __repr__(self) -> str:
        return (
            f"NESS(dim={self.dim}, residual={self.residual:.2e}, method={self.info.get('method')!r}, "
            f"time={self.info.get('time', float('nan')):.3g}s)"
        )
