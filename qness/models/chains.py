"""Spin chains and two-node systems between two reservoirs.

Boundary-driven XXZ chains (Landi et al., RMP 94, 045006 (2022)), XX/XXZ
"quantum wires" between two thermal baths in the local and in the global
(Davies, secular) form, and two coupled qubits or oscillators between a hot
and a cold bath (Hofer et al., NJP 19, 123037 (2017)). Master equation:

    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}),
    L_k = sqrt(rate_k) A_k,   hbar = 1.

Spin chains are written with Pauli matrices (``sigma^z = diag(1, -1)``, spin
up ``|0>`` counts as an excitation / particle).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from .. import operators as ops
from ..model import LindbladModel, ModelBuilder
from ._common import choice, integer, nonneg, positive, real, thermal_rates

__all__ = ["boundary_driven_xxz", "xxz_thermal_chain", "two_node", "bohr_decomposition"]

_UP = np.array([1, 0])  # excitation number of the local basis (|0> = up = excited)


def boundary_driven_xxz(
    n: int,
    *,
    delta: float,
    gamma: float = 1.0,
    mu: float = 1.0,
    J: float = 1.0,
    dephasing: float = 0.0,
) -> LindbladModel:
    r"""XXZ chain driven by magnetisation injection at its ends.

    Parameters
    ----------
    n : int
        Number of spins (``>= 2``).
    delta : float
        Anisotropy ``Delta`` (``0``: XX chain, ``1``: isotropic Heisenberg).
    gamma : float, optional
        Coupling rate to the reservoirs (>= 0).
    mu : float, optional
        Driving strength in ``[-1, 1]``; ``mu = 1`` is maximal driving
        (pure injection of up spins on the left, pure removal on the right).
    J : float, optional
        Exchange coupling.
    dephasing : float, optional
        Bulk dephasing rate on every site (>= 0).

    Returns
    -------
    LindbladModel
        ``name="boundary_driven_xxz"``; jumps in baths ``"left"``,
        ``"right"`` (no temperature) and ``"dephasing"``; jumps whose rate is
        zero (e.g. the ``(1 - mu)`` ones at ``mu = 1``) are omitted. The
        number of up spins ``N = sum_i (1 + sigma^z_i)/2`` is declared as a
        U(1) symmetry named ``"magnetisation"``.

    Raises
    ------
    ValueError
        If ``n < 2``, ``gamma < 0``, ``dephasing < 0`` or ``|mu| > 1``.

    Notes
    -----
    .. math::

        H = J \sum_{i=0}^{n-2} \left(\sigma^x_i\sigma^x_{i+1} + \sigma^y_i\sigma^y_{i+1}
            + \Delta\, \sigma^z_i\sigma^z_{i+1}\right)

    with jumps, in the form
    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}),

    * ``L_1 = sqrt(gamma (1 + mu)/2) sigma^+_0``,       ``L_2 = sqrt(gamma (1 - mu)/2) sigma^-_0``,
    * ``L_3 = sqrt(gamma (1 + mu)/2) sigma^-_{n-1}``,   ``L_4 = sqrt(gamma (1 - mu)/2) sigma^+_{n-1}``,
    * ``L_{5+i} = sqrt(dephasing) sigma^z_i`` for every site ``i``.

    At ``mu = 1`` only ``sqrt(gamma) sigma^+_0`` and ``sqrt(gamma) sigma^-_{n-1}``
    remain (Prosen's exact NESS). The spin current of the XX chain
    (``delta = 0``) does not depend on ``n``.

    Convention traps: Prosen (2011) writes ``H = sum (2 sigma^+ sigma^- +
    2 sigma^- sigma^+ + Delta sigma^z sigma^z)``, which is this ``H`` with
    ``J = 1``, and uses jumps ``sqrt(epsilon) sigma^+_1``,
    ``sqrt(epsilon) sigma^-_n`` (``gamma = epsilon``); papers writing the
    Hamiltonian with spin-1/2 operators ``S = sigma/2`` have ``J`` four
    times smaller, and those writing the dissipator as
    ``2 L rho L^+ - {L^+ L, rho}`` have rates twice as large here.

    References
    ----------
    T. Prosen, Phys. Rev. Lett. 107, 137201 (2011);
    G. T. Landi, D. Poletti, G. Schaller, Rev. Mod. Phys. 94, 045006 (2022).

    Examples
    --------
    >>> from qness.models import boundary_driven_xxz
    >>> m = boundary_driven_xxz(4, delta=0.5, gamma=1.0)
    >>> [j.label for j in m.jumps]
    ['in_0', 'out_3']
    """
    n = integer(n, "n", 2)
    delta = real(delta, "delta")
    gamma = nonneg(gamma, "gamma")
    mu = real(mu, "mu")
    if abs(mu) > 1:
        raise ValueError(f"mu must lie in [-1, 1], got {mu!r}")
    J = real(J, "J")
    dephasing = nonneg(dephasing, "dephasing")

    b = ModelBuilder(2, n, name="boundary_driven_xxz", site_kinds="spin")
    b.add_coupling(J, "sigmax", "sigmax")
    b.add_coupling(J, "sigmay", "sigmay")
    b.add_coupling(J * delta, "sigmaz", "sigmaz")
    g_in, g_out = gamma * (1 + mu) / 2, gamma * (1 - mu) / 2
    for op, rate, site, bath, label in (
        ("sigmap", g_in, 0, "left", "in"),
        ("sigmam", g_out, 0, "left", "out"),
        ("sigmam", g_in, n - 1, "right", "out"),
        ("sigmap", g_out, n - 1, "right", "in"),
    ):
        if rate > 0:
            b.add_jump(op, rate, sites=[site], bath=bath, label=label)
    if dephasing > 0:
        b.add_jump("sigmaz", dephasing, bath="dephasing", label="dephasing")
    b.add_u1(_UP, name="magnetisation")
    b.set_params(n=n, delta=delta, gamma=gamma, mu=mu, J=J, dephasing=dephasing)
    return b.build()


def bohr_decomposition(H, A, *, atol: float = 1e-9) -> list[tuple[float, sp.csr_array]]:
    r"""Split ``A`` into eigenoperators of ``H``: ``A = sum_w A(w)``, ``[H, A(w)] = -w A(w)``.

    Parameters
    ----------
    H : array_like or sparse, shape (d, d)
        Hermitian Hamiltonian (diagonalised densely: ``O(d^3)``).
    A : array_like or sparse, shape (d, d)
        System operator coupled to the bath.
    atol : float
        Bohr frequencies closer than ``atol * max(1, ||H||)`` are grouped
        into one (degenerate levels and coincident gaps).

    Returns
    -------
    list of (float, scipy.sparse.csr_array)
        ``(w, A(w))`` sorted by ``w``, with
        ``A(w) = sum_{E' - E = w} P_E A P_E'``: the part of ``A`` that
        takes energy ``w`` from the system. Components that vanish are
        left out.

    Notes
    -----
    Grouping by frequency makes ``A(w)`` independent of the basis chosen
    inside degenerate eigenspaces; treating each pair of eigenvectors as its
    own jump would not be (and would break detailed balance). Memory is one
    dense ``d x d`` matrix per distinct frequency.

    Examples
    --------
    >>> import numpy as np
    >>> from qness import operators as ops
    >>> comps = bohr_decomposition(0.5 * ops.sigmaz(), ops.sigmam())
    >>> [float(w) for w, _ in comps]
    [1.0]
    """
    Hd = ops.as_csr(H, "H").toarray()
    Ad = ops.as_csr(A, "A").toarray()
    if Hd.shape != Ad.shape or Hd.shape[0] != Hd.shape[1]:
        raise ValueError(f"H and A must be square of the same shape, got {Hd.shape} and {Ad.shape}")
    E, V = sla.eigh(Hd)
    At = V.conj().T @ Ad @ V
    scale = (float(np.max(np.abs(E))) if E.size else 0.0) or 1.0
    amax = float(np.max(np.abs(At))) if At.size else 0.0
    if amax == 0:
        return []
    mask = np.abs(At) > 1e-12 * amax
    W = E[None, :] - E[:, None]  # W[i, j]: energy released by |j> -> |i>
    freqs = np.sort(W[mask])
    # cluster consecutive frequencies closer than the tolerance
    breaks = np.flatnonzero(np.diff(freqs) > atol * scale)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks + 1, [freqs.size]))
    out = []
    for s, e in zip(starts, ends):
        lo, hi = freqs[s], freqs[e - 1]
        sel = mask & (W >= lo - 0.5 * atol * scale) & (W <= hi + 0.5 * atol * scale)
        comp = V @ np.where(sel, At, 0) @ V.conj().T
        comp[np.abs(comp) < 1e-14 * amax] = 0
        out.append((float(np.mean(freqs[s:e])), sp.csr_array(comp)))
    return out


def _secular_jumps(b: ModelBuilder, components, bath, *, gamma, T, mu, statistics, what):
    """Add ``sqrt(gamma (1 +- n(w))) A(w)`` and ``sqrt(gamma n(w)) A(w)^+`` for each ``(w, A(w))``."""
    for w, Aw in components:
        try:
            down, up = thermal_rates(w, gamma, T, mu, statistics)
        except ValueError as err:
            msg = f"{what}: the global bath {bath!r} sees the Bohr frequency {w:.6g}; {err}"
            raise ValueError(msg) from None
        if down > 0:
            b.add_collective_jump(Aw, down, bath=bath, label=f"{bath}_down(w={w:.6g})")
        if up > 0:
            b.add_collective_jump(sp.csr_array(Aw.T.conj()), up, bath=bath, label=f"{bath}_up(w={w:.6g})")


def _local_thermal_jumps(b: ModelBuilder, A, bath, *, omega, gamma, T, mu, statistics):
    """Add the local pair ``sqrt(gamma (1 +- n)) A``, ``sqrt(gamma n) A^+`` to ``b``.

    ``A`` is ``{site: local operator}`` (a product of local operators, kept
    as local terms) or a full-space matrix.
    """
    down, up = thermal_rates(omega, gamma, T, mu, statistics)
    if isinstance(A, dict):
        mats = {i: ops.local_op(op, b.dims[i]).toarray() for i, op in A.items()}
        dag = {i: m.conj().T for i, m in mats.items()}
        if down > 0:
            b.add_local_jump(mats, down, bath=bath, label=f"{bath}_down")
        if up > 0:
            b.add_local_jump(dag, up, bath=bath, label=f"{bath}_up")
        return
    if down > 0:
        b.add_collective_jump(A, down, bath=bath, label=f"{bath}_down")
    if up > 0:
        b.add_collective_jump(sp.csr_array(A.T.conj()), up, bath=bath, label=f"{bath}_up")


def xxz_thermal_chain(
    n: int,
    *,
    T_l: float,
    T_r: float,
    J: float = 1.0,
    delta: float = 0.0,
    h: float = 1.0,
    gamma_l: float = 1.0,
    gamma_r: float = 1.0,
    mu_l: float = 0.0,
    mu_r: float = 0.0,
    form: str = "local",
    statistics: str = "fermion",
) -> LindbladModel:
    r"""XX/XXZ "quantum wire" between a left and a right thermal reservoir.

    Parameters
    ----------
    n : int
        Number of spins (``>= 2``).
    T_l, T_r : float
        Temperatures of the left and right baths (>= 0).
    J : float, optional
        Exchange coupling.
    delta : float, optional
        Anisotropy (``0``: XX chain, equivalent to free fermions).
    h : float, optional
        Field: an up spin (particle) costs energy ``h``.
    gamma_l, gamma_r : float, optional
        Coupling rates of the baths (>= 0).
    mu_l, mu_r : float, optional
        Chemical potentials of the baths (for the number of up spins).
    form : {"local", "global"}
        ``"local"``: each bath relaxes its end spin towards its own Gibbs
        state at frequency ``h``. ``"global"``: Davies (secular) master
        equation in the eigenbasis of the whole ``H``.
    statistics : {"fermion", "boson"}
        Occupation ``f`` of the bath modes: Fermi (``down = gamma (1 - f)``,
        natural for particle transport through the Jordan-Wigner fermions)
        or Bose (``down = gamma (n + 1)``; needs every frequency above
        ``mu``).

    Returns
    -------
    LindbladModel
        ``name="xxz_thermal_chain"``, baths ``"left"`` (site 0) and
        ``"right"`` (site ``n-1``) with their ``T`` and ``mu``. Jumps are
        labelled ``"left_down"``, ``"left_up"``, ... (global form:
        ``"left_down(w=...)"`` with the Bohr frequency); zero-rate jumps
        (at ``T = 0``) are omitted. U(1): ``N = sum_i (1 + sigma^z_i)/2``,
        name ``"N"``.

    Raises
    ------
    ValueError
        If ``n < 2``, a rate or temperature is negative, ``form`` or
        ``statistics`` is unknown, or a bosonic bath sees a frequency
        ``<= mu``.

    Notes
    -----
    .. math::

        H = J \sum_{i=0}^{n-2} \left(\sigma^x_i\sigma^x_{i+1} + \sigma^y_i\sigma^y_{i+1}
            + \Delta\, \sigma^z_i\sigma^z_{i+1}\right) + \frac{h}{2}\sum_i \sigma^z_i .

    Local form (bath ``b`` on site ``s``, ``f_b = f((h - mu_b)/T_b)``):
    ``L = sqrt(gamma_b (1 - f_b)) sigma^-_s`` and ``L = sqrt(gamma_b f_b) sigma^+_s``
    (bosons: ``(n_b + 1)`` and ``n_b``). Global form: with the Bohr
    decomposition ``sigma^-_s = sum_w A_s(w)`` (:func:`bohr_decomposition`),
    ``L = sqrt(gamma_b (1 - f_b(w))) A_s(w)`` and
    ``L = sqrt(gamma_b f_b(w)) A_s(w)^+`` for every ``w``; the bath spectral
    density is taken flat (``gamma_b`` independent of ``w``). All in the
    form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).

    With equal baths the global form relaxes to the Gibbs state
    ``exp(-(H - mu N)/T)/Z``; the local form relaxes to
    ``exp(-(h - mu) N/T)/Z`` (it ignores the couplings; a local master
    equation can violate the second law at strong coupling, see Hofer et
    al.). The global form costs ``O(4^n)`` memory per Bohr frequency; the
    XX chain has only ``n`` of them per bath, a generic XXZ chain many.

    References
    ----------
    G. T. Landi, D. Poletti, G. Schaller, Rev. Mod. Phys. 94, 045006 (2022);
    P. P. Hofer et al., New J. Phys. 19, 123037 (2017);
    H. Wichterich et al., Phys. Rev. E 76, 031115 (2007).

    Examples
    --------
    >>> from qness.models import xxz_thermal_chain
    >>> m = xxz_thermal_chain(3, T_l=2.0, T_r=0.5, form="global")
    >>> m.baths["left"].T, m.baths["right"].T
    (2.0, 0.5)
    """
    n = integer(n, "n", 2)
    T_l, T_r = nonneg(T_l, "T_l"), nonneg(T_r, "T_r")
    J, delta, h = real(J, "J"), real(delta, "delta"), real(h, "h")
    gamma_l, gamma_r = nonneg(gamma_l, "gamma_l"), nonneg(gamma_r, "gamma_r")
    mu_l, mu_r = real(mu_l, "mu_l"), real(mu_r, "mu_r")
    form = choice(form, "form", ("local", "global"))
    statistics = choice(statistics, "statistics", ("fermion", "boson"))

    b = ModelBuilder(2, n, name="xxz_thermal_chain", site_kinds="spin")
    b.add_coupling(J, "sigmax", "sigmax")
    b.add_coupling(J, "sigmay", "sigmay")
    b.add_coupling(J * delta, "sigmaz", "sigmaz")
    b.add_onsite(h / 2, "sigmaz")
    b.add_bath("left", T=T_l, mu=mu_l)
    b.add_bath("right", T=T_r, mu=mu_r)
    H = b.build(check_symmetries=False).H if form == "global" else None
    for bath, site, gamma, T, mu in (("left", 0, gamma_l, T_l, mu_l), ("right", n - 1, gamma_r, T_r, mu_r)):
        if form == "local":
            try:
                _local_thermal_jumps(
                    b, {site: "sigmam"}, bath, omega=h, gamma=gamma, T=T, mu=mu, statistics=statistics
                )
            except ValueError as err:
                raise ValueError(f"bath {bath!r} at frequency h={h}: {err}") from None
        else:
            comps = bohr_decomposition(H, ops.embed("sigmam", site, b.dims))
            stat = statistics
            _secular_jumps(b, comps, bath, gamma=gamma, T=T, mu=mu, statistics=stat, what="xxz_thermal_chain")
    b.add_u1(_UP, name="N")
    b.set_params(
        n=n,
        T_l=T_l,
        T_r=T_r,
        J=J,
        delta=delta,
        h=h,
        gamma_l=gamma_l,
        gamma_r=gamma_r,
        mu_l=mu_l,
        mu_r=mu_r,
        form=form,
        statistics=statistics,
    )
    return b.build()


def _normal_mode_jumps(M, site: int, cutoff: int):
    """Eigenmodes of a quadratic boson Hamiltonian ``H = sum_ij M_ij a_i^+ a_j`` seen from one site.

    Parameters
    ----------
    M : array_like, shape (n, n)
        Real symmetric single-particle matrix.
    site : int
        Site the bath couples to through ``a_site``.
    cutoff : int
        Fock truncation per site.

    Returns
    -------
    list of (float, scipy.sparse.csr_array)
        ``(w, A(w))`` with ``a_site = sum_w A(w)`` and ``A(w)`` the
        combination of the normal modes of frequency ``w`` (degenerate modes
        grouped), built from truncated ``a_j``.
    """
    M = np.asarray(M, dtype=float)
    n = M.shape[0]
    eps, U = np.linalg.eigh(M)
    dims = (cutoff,) * n
    a = [ops.embed("destroy", j, dims) for j in range(n)]
    scale = float(np.max(np.abs(eps))) or 1.0
    out = []
    k = 0
    while k < n:
        grp = [k]
        while grp[-1] + 1 < n and eps[grp[-1] + 1] - eps[grp[-1]] < 1e-9 * scale:
            grp.append(grp[-1] + 1)
        # a_site = sum_k U[site, k] d_k with d_k = sum_j U[j, k] a_j
        coef = sum(U[site, q] * U[:, q] for q in grp)
        if np.max(np.abs(coef)) > 1e-12:
            op = sp.csr_array(sum(c * aj for c, aj in zip(coef, a) if c != 0))
            out.append((float(np.mean(eps[grp])), op))
        k = grp[-1] + 1
    return out


def two_node(
    kind: str = "qubit",
    *,
    omega_h: float,
    omega_c: float,
    g: float,
    gamma_h: float,
    gamma_c: float,
    T_h: float,
    T_c: float,
    form: str = "local",
    cutoff: int | None = None,
) -> LindbladModel:
    r"""Two coupled qubits or oscillators between a hot and a cold bath, local or global.

    Parameters
    ----------
    kind : {"qubit", "boson"}
        Two-level systems or harmonic oscillators.
    omega_h, omega_c : float
        Frequencies (> 0) of the hot node (site 0) and the cold node (site 1).
    g : float
        Exchange coupling (rotating-wave form).
    gamma_h, gamma_c : float
        Coupling rates to the hot and cold baths (>= 0).
    T_h, T_c : float
        Bath temperatures (>= 0).
    form : {"local", "global"}
        Local master equation (each bath acts on its own node at its bare
        frequency) or global (secular, in the eigenmodes of ``H``).
    cutoff : int, optional
        Fock truncation per oscillator; required for ``kind="boson"``,
        rejected for ``kind="qubit"``.

    Returns
    -------
    LindbladModel
        ``name="two_node"``, baths ``"hot"`` (``T_h``) and ``"cold"``
        (``T_c``), ``mu = 0``; U(1): the total excitation number, name
        ``"N"``. Zero-rate jumps (at ``T = 0``) are omitted.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or ``form``, a missing or unexpected
        ``cutoff``, negative rates or temperatures, non-positive
        frequencies, or a global form whose lower eigenfrequency is not
        positive (``g^2 >= omega_h omega_c``).

    Notes
    -----
    Qubits (Pauli matrices, excited = spin up):

    .. math::

        H = \frac{\omega_h}{2}\sigma^z_h + \frac{\omega_c}{2}\sigma^z_c
            + g(\sigma^+_h\sigma^-_c + \sigma^-_h\sigma^+_c);

    oscillators:

    .. math::

        H = \omega_h a_h^\dagger a_h + \omega_c a_c^\dagger a_c + g(a_h^\dagger a_c + a_c^\dagger a_h).

    Bosonic baths with ``n_b(w) = 1/(exp(w/T_b) - 1)`` and a flat spectral
    density. Local form: ``L = sqrt(gamma_b (n_b(omega_b) + 1)) A_b`` and
    ``sqrt(gamma_b n_b(omega_b)) A_b^+`` with ``A_b = sigma^-_b`` or ``a_b``.
    Global form: ``A_b = sum_w A_b(w)`` split into eigenoperators of ``H``
    (qubits: :func:`bohr_decomposition`, two frequencies, each collecting
    two transitions; oscillators: the normal modes
    ``omega_+- = (omega_h + omega_c)/2 +- sqrt((omega_h - omega_c)^2/4 + g^2)``),
    with ``L = sqrt(gamma_b (n_b(w) + 1)) A_b(w)`` and
    ``sqrt(gamma_b n_b(w)) A_b(w)^+``. All in the form
    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).

    The global form reaches the Gibbs state of ``H`` when ``T_h = T_c`` and
    is accurate when ``g`` is large compared with the rates; the local form
    is accurate when ``g`` is small compared with ``omega`` and its heat
    currents can violate the second law (Hofer et al.; Levy & Kosloff).
    Hofer et al. use structured spectral densities; here they are flat.
    ``omega sigma^+ sigma^-`` instead of ``omega/2 sigma^z`` changes ``H``
    by a constant only.

    References
    ----------
    P. P. Hofer, M. Perarnau-Llobet, L. D. M. Miranda, G. Haack, R. Silva,
    J. B. Brask, N. Brunner, New J. Phys. 19, 123037 (2017);
    A. Levy and R. Kosloff, EPL 107, 20004 (2014).

    Examples
    --------
    >>> from qness.models import two_node
    >>> m = two_node("qubit", omega_h=1.0, omega_c=0.8, g=0.1, gamma_h=0.01,
    ...              gamma_c=0.01, T_h=2.0, T_c=0.5, form="global")
    >>> sorted(m.baths)
    ['cold', 'hot']
    """
    kind = choice(kind, "kind", ("qubit", "boson"))
    form = choice(form, "form", ("local", "global"))
    omega_h, omega_c = positive(omega_h, "omega_h"), positive(omega_c, "omega_c")
    g = real(g, "g")
    gamma_h, gamma_c = nonneg(gamma_h, "gamma_h"), nonneg(gamma_c, "gamma_c")
    T_h, T_c = nonneg(T_h, "T_h"), nonneg(T_c, "T_c")
    if kind == "qubit":
        if cutoff is not None:
            raise ValueError("cutoff is only used with kind='boson'")
        dims = (2, 2)
    else:
        if cutoff is None:
            raise ValueError("cutoff is required for kind='boson'")
        cutoff = integer(cutoff, "cutoff", 1)
        dims = (cutoff, cutoff)
    if form == "global":
        lower = 0.5 * (omega_h + omega_c) - np.hypot(0.5 * (omega_h - omega_c), g)
        if lower <= 0:
            raise ValueError(
                f"g={g!r}: the global form needs a positive lower eigenfrequency "
                f"(g^2 < omega_h omega_c), got {lower:.6g}"
            )

    b = ModelBuilder(dims, name="two_node", site_kinds="spin" if kind == "qubit" else "boson")
    if kind == "qubit":
        b.add_onsite([omega_h / 2, omega_c / 2], "sigmaz")
        b.add_coupling(g, "sigmap", "sigmam", plus_hc=True)
        lowering = "sigmam"
        charge = _UP
    else:
        b.add_onsite([omega_h, omega_c], "num")
        b.add_coupling(g, "create", "destroy", plus_hc=True)
        lowering = "destroy"
        charge = "num"
    b.add_bath("hot", T=T_h, mu=0.0)
    b.add_bath("cold", T=T_c, mu=0.0)
    H = b.build(check_symmetries=False).H if form == "global" else None
    M = np.array([[omega_h, g], [g, omega_c]])
    baths = (("hot", 0, omega_h, gamma_h, T_h), ("cold", 1, omega_c, gamma_c, T_c))
    for bath, site, omega, gamma, T in baths:
        if form == "local":
            A = {site: lowering}
            _local_thermal_jumps(b, A, bath, omega=omega, gamma=gamma, T=T, mu=0.0, statistics="boson")
            continue
        A = ops.embed(lowering, site, dims)
        comps = bohr_decomposition(H, A) if kind == "qubit" else _normal_mode_jumps(M, site, cutoff)
        _secular_jumps(b, comps, bath, gamma=gamma, T=T, mu=0.0, statistics="boson", what="two_node")
    b.add_u1(charge, name="N")
    b.set_params(
        kind=kind,
        omega_h=omega_h,
        omega_c=omega_c,
        g=g,
        gamma_h=gamma_h,
        gamma_c=gamma_c,
        T_h=T_h,
        T_c=T_c,
        form=form,
        cutoff=cutoff,
    )
    return b.build()
