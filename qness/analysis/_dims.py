"""The tensor structure a state carries (``NESS.dims``, a ``qutip.Qobj``'s dims) against the one asked for.

Functions that act on sites (partial traces, a mode's photon number, the entanglement measures, the
scans' local quantities) need the state's space to be a tensor product of sites in a known order. A
state that carries its own structure is checked against ``dims=`` instead of trusting it (a factor
order given wrongly gave wrong numbers silently), and a space that is not a tensor product at all (an
excitation-number restricted space, :func:`qutip.enr_destroy`) is refused by name rather than read
as one Fock mode.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["own_dims", "site_dims", "NOT_A_PRODUCT"]

#: What :func:`own_dims` returns for a space that is not a tensor product of sites.
NOT_A_PRODUCT = "not a tensor product"


def _nested(x) -> bool:
    return any(isinstance(v, (list, tuple)) for v in x)


def own_dims(state):
    """The tensor structure ``state`` carries: a tuple of local dimensions, :data:`NOT_A_PRODUCT`
    (an ENR space, nested QuTiP dims) with its QuTiP dims as second element, or ``None`` (an
    array: no structure of its own).

    Returns
    -------
    tuple
        ``(dims, qutip_dims)``: ``dims`` as above, ``qutip_dims`` the QuTiP dims behind a
        :data:`NOT_A_PRODUCT` (else ``None``).
    """
    if hasattr(state, "rho") and hasattr(state, "dims"):  # NESS, FloquetNESS
        qd = getattr(state, "qobj_dims", None)
        if qd is not None:
            qd = getattr(qd, "as_list", lambda: qd)()
            return NOT_A_PRODUCT, qd
        return tuple(int(x) for x in state.dims), None
    if hasattr(state, "full") and hasattr(state, "dims"):  # qutip.Qobj
        qd = state.dims[0]
        n = state.shape[0]
        if _nested(qd) or math.prod(int(x) for x in np.ravel(qd)) != n:
            return NOT_A_PRODUCT, state.dims
        return tuple(int(x) for x in qd), None
    return None, None


def site_dims(state, d: int, dims, what: str) -> tuple[int, ...]:
    """The local dimensions to use for ``state`` (dimension ``d``) in ``what``.

    ``dims`` given: local dimensions (site 0 first), or QuTiP's operator dims ``[[2, 4], [2, 4]]``,
    read as a model's ``dims=`` is (:func:`qness.model._dims_argument`); it must multiply to ``d``,
    and agree with the state's own structure when that has several factors (a state on one flat
    space may be split by ``dims``). ``dims`` omitted: the state's own, else one site.

    Raises
    ------
    ValueError
        If ``dims`` does not multiply to ``d``, conflicts with the state's own factors, or the
        state's space is not a tensor product of sites (an excitation-number restricted space).
    TypeError
        If ``dims`` is not a sequence of integers.
    """
    from ..model import _dims_argument

    own, qd = own_dims(state)
    if own == NOT_A_PRODUCT:
        raise ValueError(
            f"{what}: the state's space is not a tensor product of sites (QuTiP dims {qd}, e.g. an "
            "excitation-number restricted space from qutip.enr_destroy), so it has no sites or single "
            "modes to act on; compute expectation values with NESS.expect(op) and the space's own "
            "operators (qutip.enr_destroy), or pass the state as an array with dims= if it is a "
            "product after all"
        )
    if dims is None:
        return own if own is not None else (int(d),)
    out = _dims_argument(dims)  # (the parser of a model's dims=: one reading everywhere)
    if math.prod(out) != d:
        raise ValueError(f"{what}: the state has dimension {d} but dims {out} give {math.prod(out)}")
    if own is not None and len(own) > 1 and out != own:
        raise ValueError(
            f"{what}: dims {out} conflict with the state's own dims {own} (site 0 leftmost); omit "
            "dims= to use the state's, or pass the state as an array to impose others"
        )
    return out
