"""Thermodynamics of a Lindblad NESS: currents, power, first and second law.

Conventions (hbar = k_B = 1)
----------------------------
* Master equation ``d rho/dt = -i[H, rho] + sum_k D_k(rho)`` with
  ``D_k(rho) = sum_{j in k} rate_j (A_j rho A_j^+ - 1/2 {A_j^+ A_j, rho})``,
  where ``D_k`` collects the jumps whose ``bath`` label is ``k``.
* ``H = H0 + V`` with ``V = sum(model.drives)`` the coherent drives and
  ``H0 = model.H0`` the system's own energy (in whatever frame the model is
  written, e.g. the rotating frame of a driven cavity).
* Energy current of bath ``k``: ``J_k = Tr[H0 D_k(rho)]``; particle current
  ``I_k = Tr[N D_k(rho)]``. **Positive means flow from bath k into the
  system.**
* Drive power ``P = Tr[H0 (-i[V, rho])] = -i Tr(rho [H0, V])``, positive
  when the drive does work on the system.

First law
---------
``d<H0>/dt = Tr[H0 (-i[H0 + V, rho])] + sum_k J_k`` and
``Tr(H0 [H0, rho]) = 0``, so ``d<H0>/dt = P + sum_k J_k``. In a steady state
``sum_k J_k + P = 0`` (:func:`first_law_residual` returns the left side).
With ``H0 = H`` (no drives) this is ``sum_k Tr[H D_k(rho)] = 0``.

Second law
----------
For baths with temperature ``T_k > 0`` and chemical potential ``mu_k``,
``sigma = -sum_k (J_k - mu_k I_k) / T_k`` (in nats per unit time) is the
entropy production rate of the steady state, ``>= 0`` for a thermodynamically
consistent (e.g. global, Davies) master equation. A local master equation
can give ``sigma < 0`` (heat flowing from cold to hot) at strong inter-site
coupling (Levy and Kosloff, EPL 107, 20004 (2014)); :func:`entropy_production`
then emits :class:`SecondLawWarning`.

Bond currents
-------------
For a chain with ``H0 = c + sum_i h_i + sum_i h_{i,i+1}`` (the exact-support
decomposition of :func:`local_terms`), the current across the cut between
sites ``i`` and ``i+1`` is ``J_cut(i) = i <[X_left(i), H0]>``, the rate at
which ``X_left`` would decrease under ``H0`` alone, i.e. flow from left to
right. For particles ``X_left = sum_{a<=i} q_a`` (local densities); for
energy ``X_left = sum_{a<=i} h_a + sum_{b<i} h_{b,b+1} + h_{i,i+1}/2``. In
any steady state the continuity equation
``J_cut(i) = sum_k Tr[X_left D_k(rho)] + i <[V, X_left]>`` holds exactly
(:func:`continuity_residual`); where only the left baths touch ``X_left``
and only their support is left of the cut, the bond current equals the
left boundary current. Where several partitions are possible, they differ
by ``i<[H, Y]>`` for a local ``Y``, which vanishes in the NESS away from the
dissipators.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp

from ..model import LindbladModel, U1Symmetry
from ..operators import as_csr, embed, local_op
from ._dims import NOT_A_PRODUCT, own_dims

__all__ = [
    "SecondLawWarning",
    "dissipator",
    "heat_currents",
    "particle_currents",
    "drive_power",
    "first_law_residual",
    "entropy_production",
    "local_terms",
    "bond_current_operators",
    "bond_currents",
    "continuity_residual",
]


class SecondLawWarning(UserWarning):
    """Emitted when a model's steady state has negative entropy production.

    Typically a local master equation at strong inter-site coupling, which
    can carry heat from a cold to a hot bath.
    """


# ---------------------------------------------------------------- helpers


def _model(model) -> LindbladModel:
    if not isinstance(model, LindbladModel):
        hint = (
            f": {model.lindblad_hint()}; currents also need its baths: "
            "qness.from_qutip(H, c_ops, baths=..., bath_labels=...)"
            if type(model).__name__ == "SuperoperatorModel"
            else ""
        )
        raise TypeError(f"model must be a qness.LindbladModel, got {type(model).__name__}{hint}")
    return model


def _check_space(ness, model: LindbladModel) -> None:
    """ValueError where ``ness`` carries tensor factors (a NESS's or a Qobj's dims) that are not the
    model's: another order or split of the same size, or an excitation-number restricted (ENR) space
    on a tensor-product model and vice versa. A state without dims of its own (an array), or a
    state on one flat space, is taken as it is."""
    own, qd = own_dims(ness)
    mq = getattr(model, "qobj_dims", None)
    mq = None if mq is None else getattr(mq, "as_list", lambda: mq)()
    if mq is not None:
        where = f"the model's space is not a tensor product (QuTiP dims {mq}, e.g. an ENR space)"
    else:
        where = f"the model has dims {tuple(model.dims)} (site 0 leftmost)"
    if own == NOT_A_PRODUCT:
        if qd == mq or (mq is None and len(model.dims) == 1):
            return
        raise ValueError(
            f"ness lives on a space that is not a tensor product (QuTiP dims {qd}, e.g. an ENR space) "
            f"but {where}: it is a state of another model; pass this model's steady state"
        )
    if isinstance(own, tuple) and len(own) > 1 and (mq is not None or own != tuple(model.dims)):
        raise ValueError(
            f"ness has dims {own} but {where}: it is a state of another model (its tensor factors "
            "differ, in order or in size); pass this model's steady state"
        )


def _rho(ness, model: LindbladModel) -> np.ndarray:
    """The state ``ness`` (a NESS, a ``qutip.Qobj``, an array or sparse matrix) as a dense ``d x d``
    density matrix of ``model``: its own tensor factors (a NESS's or a Qobj's ``dims``) must be the
    model's, it must be Hermitian and have trace 1 (to 1e-8); it need not be stationary (the currents
    of any state are its instantaneous flows)."""
    d = model.dim
    if callable(getattr(ness, "rho", None)):  # FloquetNESS: rho(t), no one state
        raise TypeError(
            f"ness is a {type(ness).__name__}, a limit cycle rho(t) with no single state: pass "
            "ness.rho(t) for the instantaneous flows at time t (in the frame of its model), or use "
            "its energy_balance() for the flows averaged over a period"
        )
    _check_space(ness, model)
    rho = getattr(ness, "rho", ness)
    if type(rho).__name__ == "Qobj":
        rho = rho.full()
    if sp.issparse(rho):
        rho = rho.toarray()
    try:
        rho = np.asarray(rho, dtype=np.complex128)
    except (TypeError, ValueError):
        raise TypeError(
            f"ness must be a qness.NESS or a {d} x {d} density matrix (array, sparse matrix or "
            f"qutip.Qobj), got {type(ness).__name__}; a Gaussian or tensor-network state has its own "
            "currents (GaussianNESS.energy_currents, TNSteadyState.bond_currents)"
        ) from None
    if rho.shape != (d, d):
        raise ValueError(f"ness: expected a {d} x {d} density matrix, got shape {rho.shape}")
    if not np.all(np.isfinite(rho)):
        raise ValueError("ness has non-finite entries")
    top = float(np.abs(rho).max(initial=0.0))
    herm = float(np.abs(rho - rho.conj().T).max(initial=0.0))
    if herm > 1e-8 * top:
        raise ValueError(f"ness is not Hermitian (max |rho - rho^+| = {herm:.3g}, max |rho| = {top:.3g})")
    tr = np.trace(rho)
    if abs(tr - 1) > 1e-8:
        raise ValueError(f"ness must have trace 1, got {tr:.6g} (a state is not renormalised silently)")
    return rho


def _expect(op, rho) -> complex:
    """``Tr(op rho)`` for sparse or dense ``op``."""
    if sp.issparse(op):
        coo = sp.coo_array(op)
        return complex(np.sum(coo.data * rho[coo.col, coo.row]))
    return complex(np.sum(np.asarray(op) * rho.T))


def dissipator(jumps, rho: np.ndarray) -> np.ndarray:
    """``D(rho) = sum_j rate_j (A_j rho A_j^+ - 1/2 {A_j^+ A_j, rho})`` for the given jumps.

    Parameters
    ----------
    jumps : iterable of qness.Jump
        The jump operators (``L_j = sqrt(rate_j) A_j``).
    rho : numpy.ndarray, shape (d, d)
        Density matrix.

    Returns
    -------
    numpy.ndarray
        ``D(rho)`` (dense, d x d).
    """
    out = np.zeros_like(rho, dtype=np.complex128)
    for j in jumps:
        if j.rate == 0:
            continue
        A = j.op
        Ad = A.T.conj()
        Arho = A @ rho
        out += j.rate * ((Ad.T @ Arho.T).T - 0.5 * (Ad @ Arho + (rho @ Ad) @ A))
    return out


def _groups(model: LindbladModel) -> dict:
    """Jumps grouped by bath label (``None`` collects unlabelled jumps), in model order."""
    groups: dict = {}
    for name in model.baths:
        groups[name] = []
    for j in model.jumps:
        groups.setdefault(j.bath, []).append(j)
    return groups


def _drive_op(model: LindbladModel) -> sp.csr_array:
    V = sp.csr_array((model.dim, model.dim), dtype=np.complex128)
    for dr in model.drives:
        V = V + dr.op
    return sp.csr_array(V)


# ------------------------------------------------------------- currents


def heat_currents(model, ness) -> dict:
    """Energy current from each bath into the system, ``J_k = Tr[H0 D_k(rho)]``.

    Parameters
    ----------
    model : qness.LindbladModel
        The model; jumps are grouped by their ``bath`` label.
    ness : NESS or array_like, shape (d, d)
        A steady-state result with attribute ``.rho`` or the density matrix.

    Returns
    -------
    dict
        ``{bath label: J_k}`` (float, energy per unit time, hbar = 1);
        ``J_k > 0`` is energy flowing from bath ``k`` into the system. Jumps
        without a bath label are collected under the key ``None`` (present
        only if there are such jumps). ``H0 = model.H0`` is ``H`` without the
        coherent drives; the energy exchanged with a bath of chemical
        potential ``mu_k`` contains ``mu_k I_k`` of chemical work (the heat
        is ``J_k - mu_k I_k``).

    Notes
    -----
    In the NESS ``sum_k J_k + P = 0`` with ``P`` the drive power
    (:func:`drive_power`); see the module docstring for the derivation.

    Examples
    --------
    >>> import numpy as np, qness
    >>> from qness.analysis import heat_currents
    >>> b = qness.ModelBuilder(2, n=1)
    >>> _ = b.add_onsite(0.5, "sigmaz")
    >>> _ = b.add_thermal_bath("h", 0, omega=1.0, gamma=0.1, T=1.0, lower="sigmam")
    >>> m = b.build()
    >>> p = np.exp(-1.0) / (1 + np.exp(-1.0))  # Gibbs population of the upper level
    >>> rho = np.diag([p, 1 - p])
    >>> abs(heat_currents(m, rho)["h"]) < 1e-15
    True
    """
    model = _model(model)
    rho = _rho(ness, model)
    H0 = model.H0
    return {k: _expect(H0, dissipator(js, rho)).real for k, js in _groups(model).items()}


_U1_HINT = (
    "model = model.replace(symmetries=(qness.U1Symmetry(charges, jump_charges),)) with charges the "
    "diagonal of N (length d) and jump_charges the change of N by each jump (+1 in, -1 out), or "
    "ModelBuilder.add_u1 for a chain"
)


def _charge_operator(model: LindbladModel, N):
    if N is None:
        sym = model.u1()
        if sym is None:
            raise ValueError(
                "N: the model declares no U(1) symmetry; pass the particle-number operator N, or declare "
                f"it: {_U1_HINT}"
            )
        return sp.csr_array(sp.diags_array(np.asarray(sym.charges, dtype=np.complex128)))
    if isinstance(N, U1Symmetry):
        return sp.csr_array(sp.diags_array(np.asarray(N.charges, dtype=np.complex128)))
    if isinstance(N, str):  # a local density by name, summed over the sites (as bond_currents' density=)
        qd = getattr(model, "qobj_dims", None)
        if qd is not None:
            raise ValueError(
                f"N={N!r}: the model's space is not a tensor product of sites (QuTiP dims "
                f"{getattr(qd, 'as_list', lambda: qd)()}, e.g. an ENR space), so a local operator's name "
                "has no sites to sum over; pass the number operator itself, e.g. "
                "sum(a.dag() * a for a in qutip.enr_destroy(dims, excitations))"
            )
        return sp.csr_array(sum(embed(N, i, model.dims) for i in range(len(model.dims))), dtype=np.complex128)
    Nm = as_csr(N, "N")
    if Nm.shape != (model.dim, model.dim):
        raise ValueError(f"N has shape {Nm.shape}, expected ({model.dim}, {model.dim})")
    return Nm


def particle_currents(model, ness, N=None) -> dict:
    """Particle current from each bath into the system, ``I_k = Tr[N D_k(rho)]``.

    Parameters
    ----------
    model : qness.LindbladModel
        The model.
    ness : NESS or array_like, shape (d, d)
        Steady state (object with ``.rho`` or the matrix).
    N : array_like, sparse, qness.U1Symmetry or str, optional
        Particle-number (charge) operator; a local operator's name
        (e.g. ``"num"``, from :data:`qness.operators.LOCAL_OPERATORS`)
        means its sum over the sites, as ``density=`` does in
        :func:`bond_currents`; by default the charge of the model's first declared U(1)
        symmetry.

    Returns
    -------
    dict
        ``{bath label: I_k}``; ``I_k > 0`` is particles entering the system
        from bath ``k``. Unlabelled jumps are under ``None``.

    Raises
    ------
    ValueError
        If ``N`` is not given and the model has no U(1) symmetry, or on a
        shape mismatch.
    """
    model = _model(model)
    rho = _rho(ness, model)
    Nm = _charge_operator(model, N)
    return {k: _expect(Nm, dissipator(js, rho)).real for k, js in _groups(model).items()}


def drive_power(model, ness) -> dict:
    """Power delivered by each coherent drive, ``P_d = -i Tr(rho [H0, V_d])``.

    Parameters
    ----------
    model : qness.LindbladModel
        The model (``model.drives`` holds the ``V_d``).
    ness : NESS or array_like
        Steady state.

    Returns
    -------
    dict
        ``{drive label: P_d}``; positive when the drive does work on the
        system (raises ``<H0>``). Drives sharing a label are summed. Empty
        when there are no drives.
    """
    model = _model(model)
    rho = _rho(ness, model)
    H0 = model.H0
    out: dict = {}
    for dr in model.drives:
        comm = sp.csr_array(H0 @ dr.op - dr.op @ H0)
        out[dr.label] = out.get(dr.label, 0.0) + (-1j * _expect(comm, rho)).real
    return out


def first_law_residual(model, ness) -> float:
    """``sum_k J_k + sum_d P_d``: zero in a steady state (energy balance).

    Parameters
    ----------
    model : qness.LindbladModel
        The model.
    ness : NESS or array_like
        Steady state.

    Returns
    -------
    float
        The signed residual ``d<H0>/dt`` (energy per unit time); every
        jump counts, labelled or not.
    """
    J = heat_currents(model, ness)
    P = drive_power(model, ness)
    return float(sum(J.values()) + sum(P.values()))


def _flow_scales(model) -> tuple[float, float]:
    """``||H0|| max_k gamma_k ||L_k||^2`` (2-norms bounded by the largest row and column sums): the
    size of the terms of ``Tr[H0 D_k(rho)]``, in the model's units of energy per time; over the jumps
    with a bath, and over every jump."""

    def norm(op) -> float:
        a = abs(sp.csr_array(op))
        if a.nnz == 0:
            return 0.0
        rows = float(np.max(a.sum(axis=1)))
        cols = float(np.max(a.sum(axis=0)))
        return math.sqrt(rows * cols)

    rates = [(abs(j.rate) * norm(j.op) ** 2, j.bath is not None) for j in model.jumps]
    H0 = sp.csr_array(model.H0)
    shift = complex(H0.diagonal().sum()) / model.dim  # a constant energy carries no heat
    h = norm(H0 - shift * sp.eye_array(model.dim, format="csr"))
    return h * max((r for r, bath in rates if bath), default=0.0), h * max((r for r, _ in rates), default=0.0)


def entropy_production(model, ness, *, atol: float | None = None) -> float:
    """Entropy production rate ``sigma = -sum_k (J_k - mu_k I_k) / T_k`` (nats per unit time).

    Parameters
    ----------
    model : qness.LindbladModel
        The model; only baths with a temperature (``Bath.T`` not ``None``)
        enter. Jumps with no bath or a bath without temperature are not
        thermal and are left out.
    ness : NESS or array_like
        Steady state.
    atol : float, optional
        At a bath with ``T = 0``, ``|J_k - mu_k I_k| <= atol`` counts as
        zero (rounding, not an infinite ``sigma``); ``sigma < -atol``
        triggers the second-law warning, and a bath without temperature
        whose ``|J_k| > atol`` the left-out warning. Finite temperatures
        enter unthresholded (at equilibrium ``sigma`` is then rounding,
        about 1e-16 of the flows, rather than exactly 0).
        Default ``1e-10`` times the model's energy-flow scale, in its own
        units: the largest of ``||H0 - Tr(H0)/d|| max_k gamma_k ||L_k||^2``
        (norms bounded by row and column sums; a constant energy carries no
        heat) and ``max_k |J_k|``.

    Returns
    -------
    float
        ``sigma`` with ``k_B = 1``. A bath at ``T = 0`` that absorbs heat
        gives ``+inf``; one that gives heat, ``-inf``.

    Raises
    ------
    ValueError
        If no bath has a temperature, or a bath has ``mu != 0`` and no
        particle-number operator is known (declare a U(1) symmetry).

    Warns
    -----
    SecondLawWarning
        If ``sigma < 0`` beyond ``atol``: heat flows from cold to hot, as a
        local master equation can at strong coupling (Levy and Kosloff,
        EPL 107, 20004 (2014)).
    UserWarning
        If jumps that exchange energy (``|J_k| > atol``) belong to a bath
        without temperature or to none: ``sigma`` then leaves them out
        (give an infinite-temperature bath ``T=math.inf``).
    """
    model = _model(model)
    J = heat_currents(model, ness)
    thermal = [k for k in J if k is not None and model.baths[k].T is not None]
    if not thermal:
        raise ValueError("model: no bath has a temperature; entropy production needs thermal baths")
    need_I = any((model.baths[k].mu or 0.0) != 0.0 for k in thermal)
    if need_I and model.u1() is None:
        with_mu = sorted(k for k in thermal if (model.baths[k].mu or 0.0) != 0.0)
        raise ValueError(
            f"bath(s) {with_mu} have mu != 0, so sigma needs their particle currents, but the model "
            f"declares no U(1) charge (particle number); declare it: {_U1_HINT}"
        )
    I = particle_currents(model, ness) if need_I else {}
    labelled, every = _flow_scales(model)
    largest = max((abs(v) for v in J.values()), default=0.0)
    if atol is None:
        # relative to the model's own energy flows: an absolute floor of 1e-10 (energy per time) gave
        # sigma = 0 for the same two-bath machine written in units of 1e-5 (session 17)
        atol = 1e-10 * max(labelled, largest)
    # (a flow left out is judged on the scale of every jump's flows, labelled or not: an unlabelled
    # dephasing at rate 1e8 that commutes with H0 rounds to J = -2e-8 and warned, labelled it did not)
    rounding = 1e-10 * max(every, largest)
    left_out = {k: v for k, v in J.items() if k not in thermal and abs(v) > max(atol, rounding)}
    if left_out:
        names = ", ".join(f"{k!r} (J = {v:.3g})" for k, v in left_out.items())
        warnings.warn(
            f"entropy_production: jumps that exchange energy with the system belong to no bath with a "
            f"temperature and are left out of sigma: {names}; sigma counts {thermal} only. Declare "
            "their bath's temperature (T=math.inf for an infinite-temperature bath such as "
            "dephasing, which adds no Q/T), or check the label (a misspelt bath label makes a bath "
            "of its own, without temperature)",
            UserWarning,
            stacklevel=2,
        )
    sigma = 0.0
    for k in thermal:
        b = model.baths[k]
        q = J[k] - (b.mu or 0.0) * I.get(k, 0.0)
        if b.T > 0:
            # no threshold at finite temperature: a small current is a small sigma (a two-level
            # machine at T = 0.04 / 0.03 has sigma = 5.8e-11, which atol made 0.0; session 19)
            sigma += -q / b.T
        elif abs(q) > atol:
            sigma += math.inf if q < 0 else -math.inf
    if sigma < -atol:
        warnings.warn(
            f"negative entropy production sigma = {sigma:.3g}: heat flows against the temperature "
            "gradient; a local master equation at strong coupling can do this "
            "(Levy and Kosloff, EPL 107, 20004 (2014)), and so can a model written in a rotating "
            "frame: the currents are J_k = Tr[H0 D_k(rho)] with the model's H0, in the frame it is "
            "written in (a bath's quanta count at the frame's, not the lab's, frequency)",
            SecondLawWarning,
            stacklevel=2,
        )
    return float(sigma)


# ------------------------------------------------------------ bond currents


def _ptrace_block(op: sp.csr_array, dims, first: int, width: int) -> np.ndarray:
    """Normalised partial trace of ``op`` onto sites ``first .. first+width-1``.

    Returns ``Tr_rest(op) / d_rest`` as a dense block.
    """
    dl = math.prod(dims[:first])
    dm = math.prod(dims[first : first + width])
    dr = math.prod(dims[first + width :])
    coo = sp.coo_array(op)
    r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
    keep = (r // (dm * dr) == c // (dm * dr)) & (r % dr == c % dr)
    out = np.zeros((dm, dm), dtype=np.complex128)
    np.add.at(out, ((r[keep] // dr) % dm, (c[keep] // dr) % dm), coo.data[keep])
    return out / (dl * dr)


def _embed_block(M, dims, first: int) -> sp.csr_array:
    """``I ⊗ M ⊗ I`` with ``M`` acting on the sites starting at ``first``."""
    dm = M.shape[0]
    width, acc = 0, 1
    while acc < dm:
        acc *= dims[first + width]
        width += 1
    dl = math.prod(dims[:first])
    dr = math.prod(dims[first + width :])
    out = sp.kron(sp.eye_array(dl, format="csr"), sp.csr_array(M), format="csr")
    out = sp.kron(out, sp.eye_array(dr, format="csr"), format="csr")
    return sp.csr_array(out, dtype=np.complex128)


def local_terms(op, dims, *, atol: float = 1e-10):
    """Split a chain operator into its exact-support parts: constant, on-site, nearest-neighbour.

    Parameters
    ----------
    op : array_like or sparse, shape (d, d)
        Operator on the chain (e.g. ``model.H0``).
    dims : sequence of int
        Local dimensions (site 0 leftmost).
    atol : float
        Tolerance (relative to the largest entry) of the reconstruction
        check.

    Returns
    -------
    const : complex
        ``Tr(op) / d``.
    onsite : list of numpy.ndarray
        ``h_i`` (``d_i x d_i``, traceless).
    bonds : list of numpy.ndarray
        ``h_{i,i+1}`` (``d_i d_{i+1}`` square, with vanishing partial traces).

    Raises
    ------
    ValueError
        If ``op`` has terms of longer range (or periodic bonds): then
        ``op != const + sum h_i + sum h_{i,i+1}``.

    Notes
    -----
    With ``P_S(X) = Tr_{not S}(X) / d_{not S}`` the projection onto
    operators supported on ``S``: ``h_i = P_i - const``,
    ``h_{i,i+1} = P_{i,i+1} - h_i ⊗ 1 - 1 ⊗ h_{i+1} - const``
    (inclusion-exclusion). The split is unique.
    """
    dims = tuple(int(x) for x in dims)
    opm = as_csr(op, "op")
    d = math.prod(dims)
    if opm.shape != (d, d):
        raise ValueError(f"op has shape {opm.shape}, dims give dimension {d}")
    n = len(dims)
    const = complex(opm.diagonal().sum() / d)
    onsite = [_ptrace_block(opm, dims, i, 1) - const * np.eye(dims[i]) for i in range(n)]
    bonds = []
    for i in range(n - 1):
        P = _ptrace_block(opm, dims, i, 2)
        b = (
            P
            - np.kron(onsite[i], np.eye(dims[i + 1]))
            - np.kron(np.eye(dims[i]), onsite[i + 1])
            - const * np.eye(dims[i] * dims[i + 1])
        )
        bonds.append(b)
    rec = sp.csr_array(const * sp.eye_array(d, dtype=np.complex128, format="csr"))
    for i in range(n):
        rec = rec + _embed_block(onsite[i], dims, i)
    for i in range(n - 1):
        rec = rec + _embed_block(bonds[i], dims, i)
    diff = sp.csr_array(rec - opm)
    scale = (float(np.abs(opm.data).max()) if opm.nnz else 0.0) or 1.0
    err = float(np.abs(diff.data).max()) if diff.nnz else 0.0
    if err > atol * scale:
        raise ValueError(
            f"op is not a sum of on-site and nearest-neighbour terms on an open chain "
            f"(remainder {err:.3g}); bond currents need such an H"
        )
    return const, onsite, bonds


def _left_operators(model: LindbladModel, kind: str, density):
    """``X_left(i)`` for every cut ``i = 0 .. n-2`` (sparse, full space)."""
    dims = model.dims
    n = len(dims)
    if n < 2:
        raise ValueError("bond currents need a chain of at least two sites")
    if kind == "energy":
        _, onsite, bonds = local_terms(model.H0, dims)
        out = []
        acc = sp.csr_array((model.dim, model.dim), dtype=np.complex128)
        for i in range(n - 1):
            acc = acc + _embed_block(onsite[i], dims, i)
            out.append(sp.csr_array(acc + 0.5 * _embed_block(bonds[i], dims, i)))
            acc = acc + _embed_block(bonds[i], dims, i)
        return out
    if kind != "particle":
        raise ValueError(f"kind must be 'particle' or 'energy', got {kind!r}")
    if density is None:
        sym = model.u1()
        if sym is None:
            raise ValueError("density: the model declares no U(1) symmetry; pass the local density")
        N = sp.csr_array(sp.diags_array(np.asarray(sym.charges, dtype=np.complex128)))
        _, q, qb = local_terms(N, dims)
        if any(np.abs(b).max() > 1e-10 for b in qb):
            raise ValueError("density: the U(1) charge is not a sum of on-site charges")
    else:
        q = [local_op(density, dd).toarray() for dd in dims]
    _, onsite, bonds = local_terms(model.H0, dims)
    for i in range(n):
        if np.abs(onsite[i] @ q[i] - q[i] @ onsite[i]).max() > 1e-10 * np.abs(onsite[i]).max():
            raise ValueError(f"density: the on-site term of site {i} does not conserve it; no bond current")
    for i in range(n - 1):
        Q2 = np.kron(q[i], np.eye(dims[i + 1])) + np.kron(np.eye(dims[i]), q[i + 1])
        if np.abs(bonds[i] @ Q2 - Q2 @ bonds[i]).max() > 1e-10 * np.abs(bonds[i]).max():
            raise ValueError(f"density: the bond ({i}, {i + 1}) does not conserve it; no bond current")
    out = []
    acc = sp.csr_array((model.dim, model.dim), dtype=np.complex128)
    for i in range(n - 1):
        acc = acc + _embed_block(q[i], dims, i)
        out.append(sp.csr_array(acc))
    return out


def bond_current_operators(model, kind: str = "particle", *, density=None) -> list:
    """Current operators across the bonds of a chain, ``j_cut(i) = i [X_left(i), H0]``.

    Parameters
    ----------
    model : qness.LindbladModel
        A chain whose ``H0`` has on-site and nearest-neighbour terms only.
    kind : {"particle", "energy"}
        Conserved density transported.
    density : str or array_like, optional
        Local density for ``kind="particle"`` (see :func:`bond_currents`).

    Returns
    -------
    list of scipy.sparse.csr_array
        ``n - 1`` Hermitian operators; ``<j_cut(i)>`` is the flow from site
        ``i`` to ``i+1`` (energy or particles per unit time, hbar = 1). For
        the XX chain ``H0 = J sum (s^+_i s^-_{i+1} + h.c.)`` and the density
        ``n = (1 + s^z)/2`` this is ``i J (s^+_i s^-_{i+1} - s^-_i s^+_{i+1})``.
    """
    model = _model(model)
    H0 = model.H0
    return [sp.csr_array(1j * (X @ H0 - H0 @ X)) for X in _left_operators(model, kind, density)]


def bond_currents(model, ness, kind: str = "particle", *, density=None) -> np.ndarray:
    """Currents across the bonds of a chain, ``J_cut(i) = i <[X_left(i), H0]>``.

    Parameters
    ----------
    model : qness.LindbladModel
        A chain whose ``H0`` has on-site and nearest-neighbour terms only.
    ness : NESS or array_like
        Steady state.
    kind : {"particle", "energy"}
        Conserved density transported.
    density : str or array_like, optional
        Local density ``q`` for ``kind="particle"`` (same on every site,
        e.g. ``"num"``, ``"sigmaz"`` for a spin current, or
        ``[[1, 0], [0, 0]]``); by default the on-site parts of the model's
        U(1) charge.

    Returns
    -------
    numpy.ndarray, shape (n-1,)
        Current on bond ``(i, i+1)``, positive from site ``i`` to ``i+1``.

    Raises
    ------
    ValueError
        If ``H0`` is not nearest-neighbour, or for ``"particle"`` the
        density is not conserved by the on-site and bond terms.

    Notes
    -----
    See the module docstring for ``X_left`` and the continuity equation
    (:func:`continuity_residual`); the operators are
    :func:`bond_current_operators`.
    """
    model = _model(model)
    rho = _rho(ness, model)
    return np.array([_expect(j, rho).real for j in bond_current_operators(model, kind, density=density)])


def continuity_residual(model, ness, kind: str = "particle", *, density=None) -> np.ndarray:
    """``J_cut(i) - sum_k Tr[X_left D_k(rho)] - i <[V, X_left]>`` for every cut: zero in a NESS.

    Parameters
    ----------
    model, ness, kind, density
        As for :func:`bond_currents`.

    Returns
    -------
    numpy.ndarray, shape (n-1,)
        The residual of the continuity equation ``d<X_left>/dt = 0`` on each
        cut (units of the current).
    """
    model = _model(model)
    rho = _rho(ness, model)
    J = bond_currents(model, rho, kind, density=density)
    Drho = dissipator(model.jumps, rho)
    V = _drive_op(model)
    out = []
    for Jc, X in zip(J, _left_operators(model, kind, density)):
        src = _expect(X, Drho).real
        if V.nnz:
            src += (1j * _expect(sp.csr_array(V @ X - X @ V), rho)).real
        out.append(Jc - src)
    return np.array(out)
