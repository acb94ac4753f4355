"""Thermodynamics of steady states: currents, first and second law, bond currents.

Reference systems
-----------------
* Thermal qubit (one bath): Gibbs NESS, zero current, zero entropy production.
* Two resonant qubits / bosonic modes, exchange coupling g, local baths:
  ``I = 4 g^2 k_h k_c (p_h - p_c) / ((k_h + k_c)(4 g^2 + k_h k_c))``,
  ``J_h = omega I`` (derived in test_gaussian / the module docs of
  qness.gaussian; k = net damping, p = k-weighted local occupation).
* Single level between two fermionic leads: ``I_L = g_L g_R (f_L - f_R)/(g_L + g_R)``.
* Detuned qubits in the local form with ``omega_h/T_h > omega_c/T_c``: heat
  flows from cold to hot (Levy and Kosloff, EPL 107, 20004 (2014)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import dense_steady_state

import qness
from qness.analysis import (
    SecondLawWarning,
    bond_current_operators,
    bond_currents,
    continuity_residual,
    drive_power,
    entropy_production,
    first_law_residual,
    heat_currents,
    particle_currents,
)
from qness.analysis.thermo import local_terms


def _thermal_qubit(omega=1.0, gamma=0.1, T=0.7):
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(omega / 2, "sigmaz")
    b.add_thermal_bath("b", 0, omega=omega, gamma=gamma, T=T, lower="sigmam")
    return b.build()


def _two_qubits(wh=1.0, wc=1.0, g=0.1, Th=2.0, Tc=0.5, gh=0.05, gc=0.08, drive=0.0):
    b = qness.ModelBuilder(2, n=2)
    b.add_onsite([wh / 2, wc / 2], "sigmaz")
    b.add_coupling(g, "sigmap", "sigmam", plus_hc=True)
    if drive:
        b.add_drive(drive, "sigmax", sites=[0], label="laser")
    b.add_thermal_bath("h", 0, omega=wh, gamma=gh, T=Th, lower="sigmam")
    b.add_thermal_bath("c", 1, omega=wc, gamma=gc, T=Tc, lower="sigmam")
    if not drive:  # a sigma_x drive breaks the U(1) symmetry
        b.add_u1([1, 0])
    return b.build()


def _two_node_current(g, kh, kc, ph, pc):
    return 4 * g * g * kh * kc * (ph - pc) / ((kh + kc) * (4 * g * g + kh * kc))


def _sparse_ness(model):
    """NESS from qness.liouvillian by a sparse solve with the trace condition in row 0."""
    d = model.dim
    L = sp.lil_array(qness.liouvillian(model))
    L[0, :] = np.eye(d).ravel(order="F")
    b = np.zeros(d * d, dtype=complex)
    b[0] = 1.0
    rho = spla.spsolve(sp.csc_array(L), b).reshape((d, d), order="F")
    assert np.linalg.norm(qness.liouvillian(model) @ rho.ravel(order="F")) < 1e-10
    return 0.5 * (rho + rho.conj().T)


class _Result:
    """Stand-in for a NESS result object: only ``.rho`` is used."""

    def __init__(self, rho):
        self.rho = rho


def test_thermal_qubit_zero_current_and_entropy_production():
    omega, T = 1.3, 0.7
    m = _thermal_qubit(omega, 0.2, T)
    rho = dense_steady_state(m)
    p_up = math.exp(-omega / T) / (1 + math.exp(-omega / T))
    assert np.allclose(rho, np.diag([p_up, 1 - p_up]), atol=1e-12)
    J = heat_currents(m, rho)
    assert set(J) == {"b"}
    assert abs(J["b"]) < 1e-14
    assert abs(entropy_production(m, rho)) < 1e-13
    assert abs(first_law_residual(m, rho)) < 1e-14


def test_accepts_result_object_qobj_and_array_alike():
    import qutip

    m = _two_qubits()
    rho = dense_steady_state(m)
    assert heat_currents(m, _Result(rho)) == heat_currents(m, rho)
    assert heat_currents(m, qutip.Qobj(rho, dims=[[2, 2], [2, 2]])) == pytest.approx(heat_currents(m, rho))


def test_equal_temperatures_uncoupled_qubits_have_zero_currents():
    # Uncoupled qubits at one temperature: the NESS is the product Gibbs state.
    m = _two_qubits(wh=1.0, wc=1.4, g=0.0, Th=0.8, Tc=0.8)
    rho = dense_steady_state(m)
    J = heat_currents(m, rho)
    assert abs(J["h"]) < 1e-14 and abs(J["c"]) < 1e-14
    assert abs(entropy_production(m, rho)) < 1e-13


def test_two_qubit_local_heat_current_closed_form():
    wh = wc = 1.0
    g, Th, Tc, gh, gc = 0.1, 2.0, 0.5, 0.05, 0.08
    m = _two_qubits(wh, wc, g, Th, Tc, gh, gc)
    rho = dense_steady_state(m)
    nh, nc = 1 / math.expm1(wh / Th), 1 / math.expm1(wc / Tc)
    # Qubit baths: loss gamma (n+1), gain gamma n; for fermions the net
    # damping is gain + loss and the local target occupation gain / damping.
    kh, kc = gh * (2 * nh + 1), gc * (2 * nc + 1)
    I = _two_node_current(g, kh, kc, nh / (2 * nh + 1), nc / (2 * nc + 1))
    J = heat_currents(m, rho)
    assert J["h"] == pytest.approx(wh * I, rel=1e-10)
    assert J["c"] == pytest.approx(-wc * I, rel=1e-10)
    Ip = particle_currents(m, rho)
    assert Ip["h"] == pytest.approx(I, rel=1e-10)
    sigma = entropy_production(m, rho)
    assert sigma == pytest.approx(-J["h"] / Th - J["c"] / Tc, rel=1e-12)
    assert sigma > 0


def test_two_boson_modes_local_heat_current_closed_form():
    # J = 4 g^2 gamma_h gamma_c omega (n_h - n_c) / ((gamma_h + gamma_c)(4 g^2 + gamma_h gamma_c)).
    # Truncation to 7 Fock states with n_h ~ 0.09: the neglected tail weight is
    # about (n/(n+1))^7 ~ 1e-8, so the comparison is made at rel 1e-5.
    # (d = 49: the NESS comes from a sparse solve; the dense SVD would be slow.)
    omega, g, gh, gc, Th, Tc, cutoff = 1.0, 0.15, 0.2, 0.3, 0.4, 0.2, 7
    b = qness.ModelBuilder(cutoff, n=2)
    b.add_onsite(omega, "num")
    b.add_coupling(g, "create", "destroy", plus_hc=True)
    b.add_thermal_bath("h", 0, omega=omega, gamma=gh, T=Th)
    b.add_thermal_bath("c", 1, omega=omega, gamma=gc, T=Tc)
    m = b.build()
    rho = _sparse_ness(m)
    nh, nc = 1 / math.expm1(omega / Th), 1 / math.expm1(omega / Tc)
    J_exact = 4 * g**2 * gh * gc * omega * (nh - nc) / ((gh + gc) * (4 * g**2 + gh * gc))
    J = heat_currents(m, rho)
    assert J["h"] == pytest.approx(J_exact, rel=1e-5)
    assert J["c"] == pytest.approx(-J_exact, rel=1e-5)


def test_first_law_with_drive():
    m = _two_qubits(drive=0.2)
    rho = dense_steady_state(m)
    J = heat_currents(m, rho)
    P = drive_power(m, rho)
    assert set(P) == {"laser"}
    assert abs(P["laser"]) > 1e-4  # the drive does real work here
    assert abs(J["h"] + J["c"] + P["laser"]) < 1e-14
    assert abs(first_law_residual(m, rho)) < 1e-14
    # Not a steady state -> the residual is the rate of change of <H0>.
    rho_bad = np.diag([0.1, 0.2, 0.3, 0.4]).astype(complex)
    assert abs(first_law_residual(m, rho_bad)) > 1e-3


def test_single_level_between_fermionic_leads_with_chemical_potentials():
    eps, gL, gR = 0.3, 0.2, 0.1
    TL, TR, muL, muR = 1.0, 0.5, 0.5, -0.2
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(eps, np.array([[1, 0], [0, 0]]))  # occupied = up
    for name, g, T, mu in (("L", gL, TL, muL), ("R", gR, TR, muR)):
        b.add_thermal_bath(name, 0, omega=eps, gamma=g, T=T, mu=mu, statistics="fermion", lower="sigmam")
    b.add_u1([1, 0])
    m = b.build()
    rho = dense_steady_state(m)
    fL = 1 / (math.exp((eps - muL) / TL) + 1)
    fR = 1 / (math.exp((eps - muR) / TR) + 1)
    I = gL * gR * (fL - fR) / (gL + gR)
    Ip = particle_currents(m, rho)
    assert Ip["L"] == pytest.approx(I, rel=1e-10)
    assert Ip["R"] == pytest.approx(-I, rel=1e-10)
    assert heat_currents(m, rho)["L"] == pytest.approx(eps * I, rel=1e-10)
    sigma_exact = -(eps - muL) * I / TL + (eps - muR) * I / TR
    assert sigma_exact > 0
    assert entropy_production(m, rho) == pytest.approx(sigma_exact, rel=1e-10)


def test_zero_temperature_bath_absorbing_drive_power():
    # A driven qubit decaying into a T = 0 bath: the drive's work leaves as heat
    # into the bath, whose entropy grows without bound (sigma = +inf), no warning.
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(0.5, "sigmaz")
    b.add_drive(0.2, "sigmax")
    b.add_thermal_bath("cold", 0, omega=1.0, gamma=0.3, T=0.0, lower="sigmam")
    m = b.build()
    rho = dense_steady_state(m)
    J = heat_currents(m, rho)["cold"]
    P = drive_power(m, rho)["drive_0"]
    assert J < -1e-3
    assert J + P == pytest.approx(0.0, abs=1e-15)
    assert entropy_production(m, rho) == math.inf


def test_entropy_production_needs_a_thermal_bath():
    m = _xx_chain(3)
    with pytest.raises(ValueError, match="no bath has a temperature"):
        entropy_production(m, dense_steady_state(m))


def test_particle_currents_need_a_charge():
    m = qness.from_qutip(np.diag([1.0, -1.0]), [np.array([[0, 0], [1, 0]])])
    rho = np.diag([0.0, 1.0])
    with pytest.raises(ValueError, match="N"):
        particle_currents(m, rho)
    out = particle_currents(m, np.eye(2) / 2, N=np.diag([1.0, 0.0]))
    assert set(out) == {None}  # unlabelled jumps are collected under None
    assert out[None] == pytest.approx(-0.5)


def test_local_master_equation_violates_second_law_with_warning():
    # omega_h / T_h = 2 > omega_c / T_c = 1.25: the local baths push excitations
    # from the cold to the hot qubit, and with them heat (Levy-Kosloff).
    m = _two_qubits(wh=2.0, wc=1.0, g=1.0, Th=1.0, Tc=0.8, gh=0.1, gc=0.1)
    rho = dense_steady_state(m)
    J = heat_currents(m, rho)
    assert J["c"] > 0 > J["h"]
    with pytest.warns(SecondLawWarning, match="negative entropy production"):
        sigma = entropy_production(m, rho)
    assert sigma == pytest.approx(-J["h"] / 1.0 - J["c"] / 0.8, rel=1e-12)
    assert sigma < 0


def _xx_chain(n=4, field=0.3, gamma=0.7, zz=0.0):
    b = qness.ModelBuilder(2, n=n)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    if zz:
        b.add_coupling(zz, "sigmaz", "sigmaz")
    b.add_onsite(field * np.linspace(1, 2, n), "sigmaz")
    b.add_jump("sigmap", gamma, sites=[0], bath="L")
    b.add_jump("sigmam", gamma, sites=[n - 1], bath="R")
    b.add_u1([1, 0])
    return b.build()


def test_bond_currents_continuity_boundary_driven_chain():
    n = 4
    m = _xx_chain(n, zz=0.4)
    rho = dense_steady_state(m)
    Ib = bond_currents(m, rho, "particle")
    Ip = particle_currents(m, rho)
    assert abs(Ip["L"]) > 1e-3
    # Particles: every bond carries the current injected at the left end.
    assert np.allclose(Ib, Ip["L"], rtol=0, atol=1e-13)
    assert Ip["L"] + Ip["R"] == pytest.approx(0, abs=1e-14)
    # Same with an explicit density (occupied = up); the spin current (density
    # sigma^z = 2 n - 1) is twice the particle current.
    assert np.allclose(bond_currents(m, rho, "particle", density=[[1, 0], [0, 0]]), Ib, atol=1e-14)
    assert np.allclose(bond_currents(m, rho, "particle", density="sigmaz"), 2 * Ib, atol=1e-13)
    # Energy: the bulk cut (1) is touched by neither bath and equals J_L.
    Je = bond_currents(m, rho, "energy")
    J = heat_currents(m, rho)
    assert Je[1] == pytest.approx(J["L"], rel=1e-11)
    assert J["L"] + J["R"] == pytest.approx(0, abs=1e-14)
    # Continuity holds exactly on every cut, boundary cuts included.
    for kind in ("particle", "energy"):
        assert np.max(np.abs(continuity_residual(m, rho, kind))) < 1e-13


def test_xx_bond_current_operator_closed_form():
    m = _xx_chain(3)
    ops = bond_current_operators(m, "particle")
    sp_, sm_ = qness.operators.sigmap(), qness.operators.sigmam()
    for i, j in enumerate(ops):
        expected = 1j * (
            qness.operators.chain_operator({i: sp_, i + 1: sm_}, m.dims)
            - qness.operators.chain_operator({i: sm_, i + 1: sp_}, m.dims)
        )
        assert abs(j - expected).max() < 1e-14


def test_bond_current_continuity_with_drive():
    b = qness.ModelBuilder(2, n=3)
    b.add_coupling(1.0, "sigmax", "sigmax")
    b.add_onsite(0.5, "sigmaz")
    b.add_drive(0.3, "sigmax", sites=[1])
    b.add_jump("sigmam", 0.4, sites=[0], bath="L")
    b.add_jump("sigmap", 0.2, sites=[2], bath="R")
    m = b.build()
    rho = dense_steady_state(m)
    assert np.max(np.abs(continuity_residual(m, rho, "energy"))) < 1e-13
    with pytest.raises(ValueError, match="no U\\(1\\)"):
        bond_currents(m, rho, "particle")
    with pytest.raises(ValueError, match="does not conserve"):
        bond_currents(m, rho, "particle", density="num")


def test_local_terms_reconstruct_and_reject_long_range():
    m = _xx_chain(4, zz=0.4)
    const, onsite, bonds = local_terms(m.H0, m.dims)
    assert abs(const) < 1e-15
    assert len(onsite) == 4 and len(bonds) == 3
    assert all(abs(np.trace(h)) < 1e-14 for h in onsite)
    b = qness.ModelBuilder(2, n=3)
    b.add_coupling(1.0, "sigmaz", "sigmaz", dx=2)
    with pytest.raises(ValueError, match="nearest-neighbour"):
        local_terms(b.build().H, (2, 2, 2))


def test_rejects_bad_inputs():
    m = _thermal_qubit()
    with pytest.raises(ValueError, match="ness"):
        heat_currents(m, np.eye(3) / 3)
    with pytest.raises(TypeError, match="model"):  # the wrong type (issue 13)
        heat_currents("not a model", np.eye(2) / 2)
    with pytest.raises(ValueError, match="kind"):
        bond_currents(_xx_chain(3), np.eye(8) / 8, "spin")


def test_global_chain_and_its_thermodynamics_do_not_depend_on_the_units():
    # session 17: tolerances with an absolute floor of 1 (Bohr frequencies grouped within 1e-9,
    # Hermiticity within 1e-10, sigma's zero currents within 1e-10) changed the physics of a model
    # written in small units; here every energy, rate and temperature is times s
    from qness.analysis import entropy_production, heat_currents

    def build(s):
        return qness.models.xxz_thermal_chain(
            3,
            T_l=2.0 * s,
            T_r=0.5 * s,
            J=s,
            delta=0.4,
            h=1.3 * s,
            gamma_l=0.1 * s,
            gamma_r=0.1 * s,
            form="global",
        )

    ref, small = build(1.0), build(1e-10)
    assert len(small.jumps) == len(ref.jumps)
    r1, r2 = qness.steady_state(ref), qness.steady_state(small)
    assert np.abs(r1.rho - r2.rho).max() < 1e-9
    J1, J2 = heat_currents(ref, r1), heat_currents(small, r2)
    assert J1["left"] > 0 and J2["left"] == pytest.approx(1e-20 * J1["left"], rel=1e-6)
    assert entropy_production(small, r2) == pytest.approx(1e-10 * entropy_production(ref, r1), rel=1e-6)


def test_non_hermitian_hamiltonian_is_refused_in_any_units():
    H = 1e-12 * (qutip.sigmax() + 0.1j * qutip.sigmay())  # 10 % anti-Hermitian, in units of 1e-12
    with pytest.raises(ValueError, match="H is not Hermitian"):
        qness.from_qutip(H, [1e-6 * qutip.sigmam()])
