"""Driven-dissipative models: Kerr resonators, Bose-Hubbard and Rydberg chains, fluorescence.

Every model is written in the frame rotating at the drive frequency, so ``H``
is time independent and ``detuning`` is (mode or atom frequency) minus
(drive frequency). The master equation is the standard form

    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}),
    L_k = sqrt(rate_k) A_k,   hbar = 1.

Papers that write the dissipator as ``kappa/2 (2 a rho a^+ - {a^+a, rho})``
use the same rate ``kappa``; papers that write ``kappa (2 a rho a^+ -
{a^+a, rho})`` have a rate ``2 kappa`` in this convention.
"""

from __future__ import annotations

import numpy as np

from .. import operators as ops
from ..model import LindbladModel, ModelBuilder
from ._common import amplitude, choice, integer, nonneg, per_site, real, with_z2

__all__ = [
    "kerr",
    "bose_hubbard",
    "dissipative_ising",
    "mollow",
    "mollow_steady_state",
    "collective_fluorescence",
]


def kerr(
    cutoff: int,
    *,
    detuning: float,
    U: float,
    F: complex,
    kappa: float,
    G: complex = 0.0,
    eta: float = 0.0,
    nth: float = 0.0,
) -> LindbladModel:
    r"""Driven-dissipative Kerr resonator with optional two-photon drive and two-photon loss.

    Parameters
    ----------
    cutoff : int
        Fock-space truncation: states ``n = 0 .. cutoff-1`` (``cutoff >= 1``).
    detuning : float
        Cavity minus drive frequency, ``Delta = omega_c - omega_d``.
    U : float
        Kerr nonlinearity (photon-photon interaction).
    F : complex
        One-photon drive amplitude.
    kappa : float
        One-photon loss rate (>= 0).
    G : complex, optional
        Two-photon (parametric) drive amplitude.
    eta : float, optional
        Two-photon loss rate (>= 0).
    nth : float, optional
        Thermal photon number of the one-photon bath (>= 0).

    Returns
    -------
    LindbladModel
        ``name="kerr"``, ``dims=(cutoff,)``. Drives ``"F"`` and ``"G"``
        (when non-zero) are recorded. Jumps are labelled ``"a"``, ``"a+"``
        (bath ``"cavity"``) and ``"a2"`` (bath ``"two_photon"``); jumps
        whose rate is zero for the given parameters are omitted. Declared
        symmetries: parity ``P = (-1)^(a^+a)`` (Z2, name ``"parity"``) when
        ``F == 0``; photon number ``N = a^+a`` (U(1), name ``"N"``) when
        ``F == 0`` and ``G == 0``.

    Raises
    ------
    ValueError
        If ``cutoff < 1``, a rate or ``nth`` is negative, or a parameter is
        not finite.

    Notes
    -----
    .. math::

        H = \Delta a^\dagger a + \frac{U}{2} a^{\dagger 2} a^2
            + F a^\dagger + F^* a + \frac{G}{2} a^{\dagger 2} + \frac{G^*}{2} a^2

    (for real ``F``, ``G``: ``F (a + a^+) + G/2 (a^+2 + a^2)``), with jumps

    * ``L_1 = sqrt(kappa (nth + 1)) a``   (bath ``"cavity"``),
    * ``L_2 = sqrt(kappa nth) a^+``        (bath ``"cavity"``),
    * ``L_3 = sqrt(eta) a^2``              (bath ``"two_photon"``),

    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    With ``U = 0``, ``G = eta = nth = 0`` the steady state is the coherent
    state ``alpha = -i F / (kappa/2 + i Delta)``.

    With ``F = 0`` and ``G != 0`` this is the two-photon Kerr resonator studied by
    Minganti et al. Convention traps: sources writing the dissipator as
    ``kappa/2 (2 a rho a^+ - {a^+a, rho})`` use the same ``kappa`` as here,
    those writing ``kappa (2 a rho a^+ - {a^+a, rho})`` have ``2 kappa`` here
    (likewise for ``eta``). A Kerr term written ``U' a^+a^+aa`` is ``U = 2U'``
    here; ``U' (a^+a)^2`` is ``U = 2U'`` with ``Delta`` shifted by ``U'``; a
    parametric drive written ``G' (a^+2 + a^2)`` is ``G = 2G'``. Results
    depend on ``cutoff``: check convergence in it.
    The bath ``"cavity"`` carries no temperature because the rotating frame
    forgets the cavity frequency; ``nth`` is the occupation at that frequency.

    References
    ----------
    P. D. Drummond and D. F. Walls, J. Phys. A 13, 725 (1980).
    F. Minganti, A. Biella, N. Bartolo, C. Ciuti, Phys. Rev. A 98, 042118 (2018).

    Examples
    --------
    >>> from qness.models import kerr
    >>> m = kerr(10, detuning=0.0, U=1.0, F=0.0, kappa=1.0, G=2.0, eta=0.5)
    >>> [s.name for s in m.symmetries]
    ['parity']
    """
    cutoff = integer(cutoff, "cutoff", 1)
    detuning = real(detuning, "detuning")
    U = real(U, "U")
    F = amplitude(F, "F")
    kappa = nonneg(kappa, "kappa")
    G = amplitude(G, "G")
    eta = nonneg(eta, "eta")
    nth = nonneg(nth, "nth")

    a, ad = ops.destroy(cutoff), ops.create(cutoff)
    b = ModelBuilder((cutoff,), name="kerr", site_kinds="boson")
    b.add_onsite(detuning, "num")
    if U != 0:
        b.add_onsite(U / 2, ad @ ad @ a @ a)
    b.add_drive(F, "create", plus_hc=True, label="F")
    b.add_drive(G / 2, ad @ ad, plus_hc=True, label="G")
    if kappa * (nth + 1) > 0:
        b.add_collective_jump(a, kappa * (nth + 1), bath="cavity", label="a")
    if kappa * nth > 0:
        b.add_collective_jump(ad, kappa * nth, bath="cavity", label="a+")
    if eta > 0:
        b.add_collective_jump(a @ a, eta, bath="two_photon", label="a2")
    if F == 0 and G == 0:
        b.add_u1("num", name="N")
    b.set_params(cutoff=cutoff, detuning=detuning, U=U, F=F, kappa=kappa, G=G, eta=eta, nth=nth)
    model = b.build()
    if F == 0:
        model = with_z2(model, (-1) ** np.arange(cutoff), "parity")
    return model


def bose_hubbard(
    n: int,
    *,
    cutoff: int,
    J: float,
    U: float,
    detuning: float,
    F,
    kappa: float,
    boundary: str = "open",
) -> LindbladModel:
    r"""Driven-dissipative Bose-Hubbard chain (coupled Kerr resonators).

    Parameters
    ----------
    n : int
        Number of sites (``>= 2``).
    cutoff : int
        Fock truncation per site (``>= 1``); the Hilbert space has
        ``cutoff**n`` states.
    J : float
        Hopping amplitude.
    U : float
        On-site interaction.
    detuning : float
        Cavity minus drive frequency on every site.
    F : complex or array_like of shape (n,)
        Drive amplitude, uniform or one per site.
    kappa : float
        Photon loss rate per site (>= 0).
    boundary : {"open", "periodic"}
        Boundary condition of the hopping (``"periodic"`` needs ``n >= 3``).

    Returns
    -------
    LindbladModel
        ``name="bose_hubbard"``; jumps ``"a_i"`` (``i`` the site) in bath ``"loss"``; drives
        ``"F_i"``; the total photon number ``N`` is declared as a U(1)
        symmetry when every ``F_i == 0``.

    Raises
    ------
    ValueError
        If ``n < 2``, ``cutoff < 1``, ``kappa < 0`` or ``boundary`` is
        unknown.

    Notes
    -----
    .. math::

        H = \sum_i \left[\Delta n_i + \frac{U}{2} a_i^{\dagger 2} a_i^2
            + F_i a_i^\dagger + F_i^* a_i\right]
            - J \sum_{\langle ij \rangle} (a_i^\dagger a_j + a_j^\dagger a_i),

    with one jump per site ``L_i = sqrt(kappa) a_i`` in the form
    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    The hopping enters with a minus sign (``J > 0`` favours the uniform
    mode); papers writing ``+J`` differ by ``J -> -J``. See :func:`kerr` for
    the factor-2 trap in the dissipator.

    References
    ----------
    I. Carusotto and C. Ciuti, Rev. Mod. Phys. 85, 299 (2013);
    W. Casteels and C. Ciuti, Phys. Rev. A 95, 013812 (2017).

    Examples
    --------
    >>> from qness.models import bose_hubbard
    >>> bose_hubbard(3, cutoff=3, J=1.0, U=1.0, detuning=0.0, F=0.5, kappa=1.0).dim
    27
    """
    n = integer(n, "n", 2)
    cutoff = integer(cutoff, "cutoff", 1)
    J = real(J, "J")
    U = real(U, "U")
    detuning = real(detuning, "detuning")
    Fs = per_site(F, n, "F", check=amplitude)
    kappa = nonneg(kappa, "kappa")
    boundary = choice(boundary, "boundary", ("open", "periodic"))
    if boundary == "periodic" and n < 3:
        raise ValueError(f"n must be at least 3 for boundary='periodic', got {n}")

    a, ad = ops.destroy(cutoff), ops.create(cutoff)
    b = ModelBuilder(cutoff, n, name="bose_hubbard", site_kinds="boson")
    b.add_onsite(detuning, "num")
    if U != 0:
        b.add_onsite(U / 2, ad @ ad @ a @ a)
    b.add_coupling(-J, "create", "destroy", boundary=boundary, plus_hc=True)
    for i, f in enumerate(Fs):
        b.add_drive(f, "create", sites=[i], plus_hc=True, label=f"F_{i}")
    if kappa > 0:
        b.add_jump("destroy", kappa, bath="loss", label="a")
    if np.all(Fs == 0):
        b.add_u1("num", name="N")
    b.set_params(
        n=n,
        cutoff=cutoff,
        J=J,
        U=U,
        detuning=detuning,
        F=Fs[0] if np.all(Fs == Fs[0]) else tuple(Fs.tolist()),
        kappa=kappa,
        boundary=boundary,
    )
    return b.build()


def dissipative_ising(
    n: int,
    *,
    V: float,
    h: float,
    detuning: float,
    gamma: float,
    boundary: str = "open",
) -> LindbladModel:
    r"""Dissipative Rydberg / transverse-field Ising chain with spontaneous decay on every site.

    Parameters
    ----------
    n : int
        Number of atoms (``>= 2``).
    V : float
        Nearest-neighbour interaction between excited (Rydberg) atoms.
    h : float
        Transverse field, half the Rabi frequency: ``h = Omega/2``.
    detuning : float
        Laser minus atomic frequency in the convention ``H = -Delta n``
        (``Delta > 0``: blue detuning).
    gamma : float
        Decay rate of each atom (>= 0).
    boundary : {"open", "periodic"}
        Boundary condition of the interaction (``"periodic"`` needs ``n >= 3``).

    Returns
    -------
    LindbladModel
        ``name="dissipative_ising"``; jumps ``"sigma-_i"`` in bath
        ``"decay"``; the transverse field is recorded as drives ``"h_i"``.
        No symmetry is declared (the field breaks the excitation number).

    Raises
    ------
    ValueError
        If ``n < 2``, ``gamma < 0`` or ``boundary`` is unknown.

    Notes
    -----
    With ``n_i = (1 + sigma^z_i)/2 = sigma^+_i sigma^-_i`` (excited = spin up,
    Pauli matrices),

    .. math::

        H = \sum_i \left[h \sigma^x_i - \Delta n_i\right] + V \sum_{\langle ij\rangle} n_i n_j,
        \qquad L_i = \sqrt{\gamma}\, \sigma^-_i,

    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    In spin language ``V n_i n_j = V/4 (1 + sigma^z_i + sigma^z_j + sigma^z_i sigma^z_j)``:
    an Ising coupling ``V/4``, a longitudinal field and a transverse field
    ``h``. Convention traps: Rydberg papers usually write the drive as
    ``Omega/2 sigma^x`` (then ``h = Omega/2``) and may divide ``V`` by the
    coordination number; a field written with spin-1/2 operators
    ``h' S^x = h'/2 sigma^x`` is ``h = h'/2`` here.

    References
    ----------
    T. E. Lee, H. Haeffner, M. C. Cross, Phys. Rev. A 84, 031402(R) (2011);
    H. Weimer, Phys. Rev. Lett. 114, 040402 (2015).

    Examples
    --------
    >>> from qness.models import dissipative_ising
    >>> len(dissipative_ising(4, V=5.0, h=1.0, detuning=0.0, gamma=1.0).jumps)
    4
    """
    n = integer(n, "n", 2)
    V = real(V, "V")
    h = real(h, "h")
    detuning = real(detuning, "detuning")
    gamma = nonneg(gamma, "gamma")
    boundary = choice(boundary, "boundary", ("open", "periodic"))
    if boundary == "periodic" and n < 3:
        raise ValueError(f"n must be at least 3 for boundary='periodic', got {n}")

    nop = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = ModelBuilder(2, n, name="dissipative_ising", site_kinds="spin")
    for i in range(n):
        b.add_drive(h, "sigmax", sites=[i], label=f"h_{i}")
    b.add_onsite(-detuning, nop)
    b.add_coupling(V, nop, nop, boundary=boundary)
    if gamma > 0:
        b.add_jump("sigmam", gamma, bath="decay", label="sigma-")
    b.set_params(n=n, V=V, h=h, detuning=detuning, gamma=gamma, boundary=boundary)
    return b.build()


def mollow(*, detuning: float, omega: float, gamma: float) -> LindbladModel:
    r"""Resonance fluorescence of a coherently driven two-level atom (Mollow).

    Parameters
    ----------
    detuning : float
        Atomic minus laser frequency, ``Delta = omega_a - omega_L``.
    omega : float
        Rabi frequency ``Omega``.
    gamma : float
        Spontaneous-emission rate (>= 0).

    Returns
    -------
    LindbladModel
        ``name="mollow"``, ``dims=(2,)``; one jump ``"sigma-"`` in bath
        ``"radiation"``; the drive ``Omega/2 sigma^x`` is recorded as drive
        ``"omega"``.

    Raises
    ------
    ValueError
        If ``gamma < 0`` or a parameter is not finite.

    Notes
    -----
    With Pauli matrices and the excited state ``|e> = |0>`` (spin up),

    .. math::

        H = \frac{\Delta}{2}\sigma^z + \frac{\Omega}{2}\sigma^x,
        \qquad L = \sqrt{\gamma}\,\sigma^-,

    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    The steady state (see :func:`mollow_steady_state`) has, with
    ``D = 4 Delta^2 + 2 Omega^2 + gamma^2``,

    ``<sigma^z> = -(4 Delta^2 + gamma^2)/D``, ``<sigma^x> = -4 Delta Omega/D``,
    ``<sigma^y> = 2 Omega gamma/D``; on resonance
    ``<sigma^z> = -1/(1 + 2 Omega^2/gamma^2)``.

    Convention traps: some texts write ``H = Omega sigma^x`` (a Rabi
    frequency twice as large in these formulas), use spin-1/2 operators
    ``S = sigma/2``, or the laser-minus-atom detuning (flip the sign of
    ``Delta``).

    References
    ----------
    B. R. Mollow, Phys. Rev. 188, 1969 (1969); C. Cohen-Tannoudji,
    J. Dupont-Roc, G. Grynberg, *Atom-Photon Interactions* (Wiley, 1992),
    ch. V.

    Examples
    --------
    >>> from qness.models import mollow
    >>> mollow(detuning=0.0, omega=1.0, gamma=1.0).dims
    (2,)
    """
    detuning = real(detuning, "detuning")
    omega = real(omega, "omega")
    gamma = nonneg(gamma, "gamma")
    b = ModelBuilder((2,), name="mollow", site_kinds="spin")
    b.add_onsite(detuning / 2, "sigmaz")
    b.add_drive(omega / 2, "sigmax", label="omega")
    if gamma > 0:
        b.add_collective_jump(ops.sigmam(), gamma, bath="radiation", label="sigma-")
    b.set_params(detuning=detuning, omega=omega, gamma=gamma)
    return b.build()


def mollow_steady_state(*, detuning: float, omega: float, gamma: float) -> np.ndarray:
    r"""Closed-form steady state of :func:`mollow`.

    Parameters
    ----------
    detuning, omega, gamma : float
        As in :func:`mollow` (``gamma > 0`` or ``omega != 0`` for a unique state).

    Returns
    -------
    numpy.ndarray, shape (2, 2)
        ``rho`` in the basis ``(|e>, |g>)``: ``rho_ee = Omega^2/D``,
        ``rho_eg = <sigma^-> = -Omega (2 Delta + i gamma)/D`` with
        ``D = 4 Delta^2 + 2 Omega^2 + gamma^2``.

    Raises
    ------
    ValueError
        If ``gamma < 0`` or ``D == 0``.

    Examples
    --------
    >>> from qness.models import mollow_steady_state
    >>> float(mollow_steady_state(detuning=0.0, omega=1.0, gamma=1.0)[0, 0].real)
    0.3333333333333333
    """
    d = real(detuning, "detuning")
    w = real(omega, "omega")
    g = nonneg(gamma, "gamma")
    D = 4 * d**2 + 2 * w**2 + g**2
    if D == 0:
        raise ValueError("omega, detuning and gamma are all zero: no unique steady state")
    ree = w**2 / D
    reg = -w * (2 * d + 1j * g) / D
    return np.array([[ree, reg], [np.conj(reg), 1 - ree]], dtype=np.complex128)


def collective_fluorescence(j, *, omega: float, gamma: float) -> LindbladModel:
    r"""Cooperative resonance fluorescence: ``N = 2j`` atoms as one collective spin ``j``.

    Parameters
    ----------
    j : int or half-integer
        Collective spin (``j = N/2`` for ``N`` atoms in the symmetric
        subspace); the Hilbert space has ``2j + 1`` states.
    omega : float
        Drive strength ``Omega`` (resonant drive).
    gamma : float
        Collective decay rate (>= 0).

    Returns
    -------
    LindbladModel
        ``name="collective_fluorescence"``, ``dims=(2j+1,)``; one jump
        ``"J-"`` in bath ``"radiation"``; the drive is recorded as drive
        ``"omega"`` (``H`` is all drive).

    Raises
    ------
    ValueError
        If ``j`` is not a positive (half-)integer or ``gamma < 0``.

    Notes
    -----
    With spin-``j`` operators (not Pauli: ``J_z = diag(j, ..., -j)``),

    .. math::

        H = \Omega J_x, \qquad L = \sqrt{\gamma}\, J_-,

    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    For ``j = 1/2`` this is :func:`mollow` on resonance with the same
    ``omega`` (``J_x = sigma^x/2``). The steady state is known in closed
    form (Puri & Lawande; Carmichael): ``rho = A A^+ / Tr(A A^+)`` with
    ``A = sum_{m=0}^{2j} (J_- / g^*)^m`` and ``g = i Omega / gamma``. For large ``j`` the model has the
    cooperative-fluorescence transition at ``Omega = gamma j`` (mean field),
    studied as a boundary time crystal by Iemini et al., who write
    ``L = sqrt(kappa/j) J_-`` (``gamma = kappa/j``).

    References
    ----------
    P. D. Drummond and H. J. Carmichael, Opt. Commun. 27, 160 (1978);
    R. R. Puri and S. V. Lawande, Phys. Lett. A 72, 200 (1979);
    H. J. Carmichael, J. Phys. B 13, 3551 (1980);
    F. Iemini et al., Phys. Rev. Lett. 121, 035301 (2018).

    Examples
    --------
    >>> from qness.models import collective_fluorescence
    >>> collective_fluorescence(2, omega=1.0, gamma=1.0).dims
    (5,)
    """
    try:
        if isinstance(j, (bool, str, bytes)):
            raise ValueError
        S = ops.spin_ops(j)
    except ValueError:
        raise ValueError(f"j must be a positive integer or half-integer, got {j!r}") from None
    omega = real(omega, "omega")
    gamma = nonneg(gamma, "gamma")
    d = S["z"].shape[0]
    b = ModelBuilder((d,), name="collective_fluorescence", site_kinds="spin")
    b.add_drive(omega, S["x"], label="omega")
    if gamma > 0:
        b.add_collective_jump(S["-"], gamma, bath="radiation", label="J-")
    b.set_params(j=(d - 1) / 2, omega=omega, gamma=gamma)
    return b.build()
