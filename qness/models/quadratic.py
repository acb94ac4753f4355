"""Quadratic chains between two baths: a harmonic chain and tight-binding fermions.

Both NESS are Gaussian (third quantisation, Prosen 2008), which makes them
exact cross-checks for the general solvers. Master equation:

    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}),
    L_k = sqrt(rate_k) A_k,   hbar = 1.
"""

from __future__ import annotations

import numpy as np

from .. import operators as ops
from ..model import LindbladModel, ModelBuilder
from ._common import choice, integer, nonneg, positive, real
from .chains import _local_thermal_jumps, _normal_mode_jumps, _secular_jumps

__all__ = ["harmonic_chain", "fermionic_chain"]


def harmonic_chain(
    n: int,
    *,
    cutoff: int,
    omega: float,
    g: float,
    gamma_l: float,
    gamma_r: float,
    T_l: float,
    T_r: float,
    form: str = "local",
) -> LindbladModel:
    r"""Chain of coupled harmonic oscillators between two bosonic heat baths.

    Parameters
    ----------
    n : int
        Number of oscillators (``>= 2``).
    cutoff : int
        Fock truncation per oscillator (``>= 1``); ``cutoff**n`` states.
    omega : float
        Oscillator frequency (> 0).
    g : float
        Nearest-neighbour exchange coupling.
    gamma_l, gamma_r : float
        Coupling rates of the left (site 0) and right (site ``n-1``) baths.
    T_l, T_r : float
        Bath temperatures (>= 0).
    form : {"local", "global"}
        Local baths on the end oscillators, or global (secular) baths acting
        on the normal modes of the chain.

    Returns
    -------
    LindbladModel
        ``name="harmonic_chain"``, baths ``"left"`` and ``"right"`` with
        ``T`` and ``mu = 0``; U(1): total excitation number ``"N"``.
        Zero-rate jumps are omitted.

    Raises
    ------
    ValueError
        If ``n < 2``, ``cutoff < 1``, ``omega <= 0``, a rate or temperature
        is negative, ``form`` is unknown, or (global form) a normal-mode
        frequency is not positive.

    Notes
    -----
    .. math::

        H = \omega \sum_i a_i^\dagger a_i + g \sum_{i=0}^{n-2} (a_i^\dagger a_{i+1} + a_{i+1}^\dagger a_i).

    Local form, ``n_b = 1/(exp(omega/T_b) - 1)``:
    ``L = sqrt(gamma_l (n_l + 1)) a_0``, ``sqrt(gamma_l n_l) a_0^+``,
    ``L = sqrt(gamma_r (n_r + 1)) a_{n-1}``, ``sqrt(gamma_r n_r) a_{n-1}^+``.
    Global form: ``a_s = sum_k U_{sk} d_k`` over normal modes ``d_k`` of
    frequency ``w_k = omega + 2 g cos(pi (k+1)/(n+1))``;
    ``L = sqrt(gamma_b (n_b(w_k) + 1)) U_{sk} d_k`` and
    ``sqrt(gamma_b n_b(w_k)) U_{sk} d_k^+``. In the form
    d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    The truncation ``cutoff`` must exceed the thermal occupations by a
    margin; the exact (untruncated) NESS is Gaussian. Papers writing the
    dissipator as ``2 L rho L^+ - {L^+ L, rho}`` have rates twice as large
    here; position-coupled chains (``(x_i - x_{i+1})^2``) are not of this
    rotating-wave form.

    References
    ----------
    A. Asadian, D. Manzano, M. Tiersch, H. J. Briegel, Phys. Rev. E 87, 012109 (2013);
    P. P. Hofer et al., New J. Phys. 19, 123037 (2017).

    Examples
    --------
    >>> from qness.models import harmonic_chain
    >>> harmonic_chain(3, cutoff=3, omega=1.0, g=0.2, gamma_l=0.1, gamma_r=0.1,
    ...                T_l=1.0, T_r=0.5).dim
    27
    """
    n = integer(n, "n", 2)
    cutoff = integer(cutoff, "cutoff", 1)
    omega = positive(omega, "omega")
    g = real(g, "g")
    gamma_l, gamma_r = nonneg(gamma_l, "gamma_l"), nonneg(gamma_r, "gamma_r")
    T_l, T_r = nonneg(T_l, "T_l"), nonneg(T_r, "T_r")
    form = choice(form, "form", ("local", "global"))
    M = omega * np.eye(n) + g * (np.eye(n, k=1) + np.eye(n, k=-1))
    if form == "global" and np.linalg.eigvalsh(M)[0] <= 0:
        bound = omega / (2 * np.cos(np.pi / (n + 1)))
        raise ValueError(
            f"g={g!r}: the global form needs positive normal-mode frequencies omega + 2 g cos(k pi/(n+1)), "
            f"k = 1..n: |g| < omega / (2 cos(pi/(n+1))) = {bound:.6g}"
        )

    dims = (cutoff,) * n
    b = ModelBuilder(dims, name="harmonic_chain", site_kinds="boson")
    b.add_onsite(omega, "num")
    b.add_coupling(g, "create", "destroy", plus_hc=True)
    b.add_bath("left", T=T_l, mu=0.0)
    b.add_bath("right", T=T_r, mu=0.0)
    for bath, site, gamma, T in (("left", 0, gamma_l, T_l), ("right", n - 1, gamma_r, T_r)):
        if form == "local":
            A = {site: "destroy"}
            _local_thermal_jumps(b, A, bath, omega=omega, gamma=gamma, T=T, mu=0.0, statistics="boson")
            continue
        comps = _normal_mode_jumps(M, site, cutoff)
        _secular_jumps(b, comps, bath, gamma=gamma, T=T, mu=0.0, statistics="boson", what="harmonic_chain")
    b.add_u1("num", name="N")
    b.set_params(
        n=n,
        cutoff=cutoff,
        omega=omega,
        g=g,
        gamma_l=gamma_l,
        gamma_r=gamma_r,
        T_l=T_l,
        T_r=T_r,
        form=form,
    )
    return b.build()


def fermionic_chain(
    n: int,
    *,
    t: float,
    eps: float,
    gamma_l: float,
    gamma_r: float,
    mu_l: float,
    mu_r: float,
    T_l: float,
    T_r: float,
) -> LindbladModel:
    r"""Tight-binding fermions between two leads, through Jordan-Wigner on ``n`` qubits.

    Parameters
    ----------
    n : int
        Number of sites (``>= 2``).
    t : float
        Hopping amplitude.
    eps : float
        On-site energy (also the energy at which the leads are probed).
    gamma_l, gamma_r : float
        Tunnelling rates to the left (site 0) and right (site ``n-1``) leads.
    mu_l, mu_r : float
        Chemical potentials of the leads.
    T_l, T_r : float
        Lead temperatures (>= 0).

    Returns
    -------
    LindbladModel
        ``name="fermionic_chain"``, baths ``"left"``, ``"right"`` with
        ``T`` and ``mu``; jumps ``"left_down"`` (``c_0``: a particle leaves
        into the lead), ``"left_up"`` (``c_0^+``), and the same for
        ``"right"`` with ``c_{n-1}``; zero-rate jumps are omitted. U(1):
        particle number ``"N"``.

    Raises
    ------
    ValueError
        If ``n < 2`` or a rate or temperature is negative.

    Notes
    -----
    Jordan-Wigner with occupied = spin up (:func:`qness.operators.fermion_annihilation`):
    ``c_j = (prod_{l<j} (-sigma^z_l)) sigma^-_j``.

    .. math::

        H = \epsilon \sum_i c_i^\dagger c_i - t \sum_{i=0}^{n-2} (c_i^\dagger c_{i+1} + c_{i+1}^\dagger c_i),

    with ``f_b = 1/(exp((eps - mu_b)/T_b) + 1)`` and jumps
    ``L = sqrt(gamma_l (1 - f_l)) c_0``, ``sqrt(gamma_l f_l) c_0^+``,
    ``L = sqrt(gamma_r (1 - f_r)) c_{n-1}``, ``sqrt(gamma_r f_r) c_{n-1}^+``,
    in the form d rho/dt = -i[H, rho] + sum_k (L_k rho L_k^+ - 1/2 {L_k^+ L_k, rho}).
    ``c_0`` has no Jordan-Wigner string, ``c_{n-1}`` has the full string:
    the right jumps are ``(prod_{l<n-1} (-sigma^z_l)) sigma^-_{n-1}``, not
    ``sigma^-_{n-1}``. The two Liouvillians agree on parity-even operators
    (so the NESS is the same) but differ on parity-odd ones, which changes
    the spectrum and the gap.
    The NESS is Gaussian: ``G_ij = <c_i^+ c_j>`` solves
    ``i[h, G] - {Gamma/2, G} + diag(Gamma^+) = 0``.
    QuTiP's ``fdestroy`` uses occupied = ``|1>`` instead.

    References
    ----------
    T. Prosen, New J. Phys. 10, 043026 (2008);
    G. T. Landi, D. Poletti, G. Schaller, Rev. Mod. Phys. 94, 045006 (2022).

    Examples
    --------
    >>> from qness.models import fermionic_chain
    >>> m = fermionic_chain(3, t=1.0, eps=0.0, gamma_l=1.0, gamma_r=1.0,
    ...                     mu_l=1.0, mu_r=-1.0, T_l=0.5, T_r=0.5)
    >>> m.baths["left"].mu
    1.0
    """
    n = integer(n, "n", 2)
    t, eps = real(t, "t"), real(eps, "eps")
    gamma_l, gamma_r = nonneg(gamma_l, "gamma_l"), nonneg(gamma_r, "gamma_r")
    mu_l, mu_r = real(mu_l, "mu_l"), real(mu_r, "mu_r")
    T_l, T_r = nonneg(T_l, "T_l"), nonneg(T_r, "T_r")

    b = ModelBuilder(2, n, name="fermionic_chain", site_kinds="fermion")
    b.add_onsite(eps, np.array([[1, 0], [0, 0]]))
    # c_j^+ c_{j+1} = sigma^+_j sigma^-_{j+1}: the Jordan-Wigner strings cancel
    b.add_coupling(-t, "sigmap", "sigmam", plus_hc=True)
    b.add_bath("left", T=T_l, mu=mu_l)
    b.add_bath("right", T=T_r, mu=mu_r)
    minus_z = -ops.sigmaz().toarray()
    for bath, site, gamma, T, mu in (("left", 0, gamma_l, T_l, mu_l), ("right", n - 1, gamma_r, T_r, mu_r)):
        c_site = {**{l: minus_z for l in range(site)}, site: "sigmam"}  # c_site with its string
        _local_thermal_jumps(b, c_site, bath, omega=eps, gamma=gamma, T=T, mu=mu, statistics="fermion")
    b.add_u1(np.array([1, 0]), name="N")
    b.set_params(n=n, t=t, eps=eps, gamma_l=gamma_l, gamma_r=gamma_r, mu_l=mu_l, mu_r=mu_r, T_l=T_l, T_r=T_r)
    return b.build()
