"""The model library: constructions against independent kron builds, symmetries, known physics."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
import qutip
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import dense_liouvillian, dense_steady_state

import qness
import qness.models as qm

# ------------------------------------------------------------------ helpers
# (BLAS is pinned to one thread for the whole session in tests/conftest.py)
I2 = np.eye(2)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)
SP = np.array([[0, 1], [0, 0]], dtype=complex)  # |up><down|, up = |0>
SM = SP.T.copy()
NUP = np.diag([1.0, 0.0]).astype(complex)


def kron(*mats):
    return reduce(np.kron, mats)


def site(op, i, n, d=2):
    """``op`` on site ``i`` of ``n`` sites of dimension ``d`` (numpy only)."""
    return kron(*[op if k == i else np.eye(d) for k in range(n)])


def bond(op1, i, op2, j, n, d=2):
    return site(op1, i, n, d) @ site(op2, j, n, d)


def boson(c):
    return np.diag(np.sqrt(np.arange(1, c)), 1).astype(complex)


def jumps_dense(model):
    return [np.sqrt(j.rate) * j.op.toarray() for j in model.jumps]


def assert_model(model, H, Ls, atol=1e-12):
    """``model`` has Hamiltonian ``H`` and jumps ``Ls`` (full operators, in order)."""
    np.testing.assert_allclose(model.H.toarray(), H, atol=atol)
    got = jumps_dense(model)
    assert len(got) == len(Ls), [j.label for j in model.jumps]
    for k, (a, b) in enumerate(zip(got, Ls)):
        np.testing.assert_allclose(a, b, atol=atol, err_msg=f"jump {k} ({model.jumps[k].label})")


def ness(model):
    """The NESS from the dense L of ``helpers.dense_liouvillian`` (independent of qness's assembly).

    The SVD oracle ``dense_steady_state`` (which also checks uniqueness) up to 16 states; above,
    a dense solve with the trace condition replacing one row (SVD is ~10x dearer).
    """
    if model.dim <= 16:
        return dense_steady_state(model)
    d = model.dim
    L = dense_liouvillian(model)
    A = L.copy()
    A[0, :] = np.eye(d).ravel(order="F")
    rhs = np.zeros(d * d, dtype=complex)
    rhs[0] = 1.0
    x = np.linalg.solve(A, rhs)
    assert np.linalg.norm(L @ x) < 1e-10
    rho = x.reshape((d, d), order="F")
    return 0.5 * (rho + rho.conj().T)


def dissipator(L, rho):
    LdL = L.conj().T @ L
    return L @ rho @ L.conj().T - 0.5 * (LdL @ rho + rho @ LdL)


def bath_currents(model, rho, H=None):
    """Energy current ``Tr(H D_b(rho))`` into the system from each bath."""
    H = model.H.toarray() if H is None else H
    out = {}
    for j in model.jumps:
        if j.bath is not None:
            L = np.sqrt(j.rate) * j.op.toarray()
            out[j.bath] = out.get(j.bath, 0.0) + np.trace(H @ dissipator(L, rho)).real
    return out


def gibbs(H, T):
    w, V = np.linalg.eigh(H)
    p = np.exp(-(w - w.min()) / T)
    return (V * (p / p.sum())) @ V.conj().T


# -------------------------------------------------- one small case per model
CASES = {
    "kerr": dict(cutoff=6, detuning=0.3, U=0.5, F=0.4, kappa=1.0, G=0.2, eta=0.1, nth=0.2),
    "kerr_parity": dict(cutoff=6, detuning=0.3, U=0.5, F=0.0, kappa=1.0, G=0.7, eta=0.2),
    "kerr_u1": dict(cutoff=6, detuning=0.3, U=0.5, F=0.0, kappa=1.0, nth=0.3, eta=0.2),
    "bose_hubbard": dict(n=3, cutoff=3, J=0.7, U=1.0, detuning=-0.2, F=0.3, kappa=1.0),
    "bose_hubbard_u1": dict(
        n=3, cutoff=3, J=0.7, U=1.0, detuning=-0.2, F=0.0, kappa=1.0, boundary="periodic"
    ),
    "dissipative_ising": dict(n=3, V=2.0, h=0.6, detuning=0.4, gamma=1.0, boundary="periodic"),
    "mollow": dict(detuning=0.4, omega=1.3, gamma=0.7),
    "collective_fluorescence": dict(j=1.5, omega=1.2, gamma=0.8),
    "boundary_driven_xxz": dict(n=4, delta=0.5, gamma=0.8, mu=0.6, dephasing=0.3),
    "xxz_thermal_chain": dict(n=3, T_l=2.0, T_r=0.5, delta=0.4, mu_l=0.3, mu_r=-0.2),
    "xxz_thermal_chain_global": dict(n=3, T_l=2.0, T_r=0.5, delta=0.4, mu_l=0.3, mu_r=-0.2, form="global"),
    "two_node": dict(omega_h=1.0, omega_c=0.7, g=0.2, gamma_h=0.1, gamma_c=0.2, T_h=2.0, T_c=0.5),
    "two_node_global_boson": dict(
        kind="boson",
        omega_h=1.0,
        omega_c=0.7,
        g=0.2,
        gamma_h=0.1,
        gamma_c=0.2,
        T_h=2.0,
        T_c=0.5,
        form="global",
        cutoff=4,
    ),
    "harmonic_chain": dict(n=3, cutoff=3, omega=1.0, g=0.3, gamma_l=0.2, gamma_r=0.3, T_l=1.0, T_r=0.4),
    "fermionic_chain": dict(
        n=3, t=1.0, eps=0.2, gamma_l=0.5, gamma_r=0.7, mu_l=1.0, mu_r=-0.5, T_l=0.5, T_r=1.5
    ),
    "markov_network": dict(rates={(0, 1): 1.0, (1, 2): 0.5, (2, 0): 2.0, (1, 0): 0.3}),
    "three_state_cycle": dict(k_ab=2.0, k_ba=0.5),
    "tasep": dict(n=3, alpha=0.4, beta=0.7, q=0.2, gamma=0.1, delta=0.05),
}


def build(case):
    name = case.split("_u1")[0].split("_parity")[0].split("_global")[0]
    return name, qm.get(name)(**CASES[case])


def test_available_and_get():
    names = qm.available()
    assert names == sorted(names)
    expected = {
        "kerr",
        "bose_hubbard",
        "dissipative_ising",
        "mollow",
        "collective_fluorescence",
        "boundary_driven_xxz",
        "xxz_thermal_chain",
        "two_node",
        "harmonic_chain",
        "fermionic_chain",
        "markov_network",
        "three_state_cycle",
        "tasep",
    }
    assert set(names) == expected
    for name in names:
        assert qm.get(name) is getattr(qm, name)
        assert qm.get(name).__doc__ and "Returns" in qm.get(name).__doc__
    with pytest.raises(ValueError, match="available: .*kerr"):
        qm.get("kerr_resonator")


def test_every_model_in_the_registry_has_a_case():
    assert {build(c)[0] for c in CASES} == set(qm.available())


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_record_and_declared_symmetries(case):
    name, m = build(case)
    assert isinstance(m, qness.LindbladModel)
    assert m.name == name
    for key, value in CASES[case].items():
        if key in m.params and not isinstance(value, dict):
            assert m.params[key] == pytest.approx(value)
    H = m.H.toarray()
    np.testing.assert_allclose(H, H.conj().T, atol=1e-13)
    for j in m.jumps:
        assert j.rate > 0, f"zero-rate jump {j.label} kept"
        assert j.bath is None or j.bath in m.baths
    for dr in m.drives:
        D = dr.op.toarray()
        np.testing.assert_allclose(D, D.conj().T, atol=1e-13)
    for s in m.symmetries:
        qness.check_symmetry(m, s)
        if isinstance(s, qness.U1Symmetry):
            N = np.diag(np.asarray(s.charges, dtype=float))
            np.testing.assert_allclose(H @ N - N @ H, 0, atol=1e-12)
            for j, q in zip(m.jumps, s.jump_charges):
                A = j.op.toarray()
                np.testing.assert_allclose(N @ A - A @ N, q * A, atol=1e-12)
        else:
            P = np.diag(np.asarray(s.parities, dtype=float))
            np.testing.assert_allclose(P @ H @ P, H, atol=1e-12)
            for j, p in zip(m.jumps, s.jump_parities):
                A = j.op.toarray()
                np.testing.assert_allclose(P @ A @ P, p * A, atol=1e-12)


# -------------------------------------------------------------------- Kerr
def test_kerr_matches_qutip_construction():
    c, p = 7, CASES["kerr"]
    a = qutip.destroy(c)
    H = (
        p["detuning"] * a.dag() * a
        + p["U"] / 2 * a.dag() * a.dag() * a * a
        + p["F"] * (a + a.dag())
        + p["G"] / 2 * (a.dag() ** 2 + a**2)
    )
    kap, nth, eta = p["kappa"], p["nth"], p["eta"]
    Ls = [np.sqrt(kap * (nth + 1)) * a, np.sqrt(kap * nth) * a.dag(), np.sqrt(eta) * a * a]
    m = qm.kerr(c, **{k: v for k, v in p.items() if k != "cutoff"})
    assert_model(m, H.full(), [L.full() for L in Ls])
    assert [j.bath for j in m.jumps] == ["cavity", "cavity", "two_photon"]
    np.testing.assert_allclose(
        m.H0.toarray(), (H - p["F"] * (a + a.dag()) - p["G"] / 2 * (a.dag() ** 2 + a**2)).full()
    )


def test_kerr_complex_drive_and_symmetry_switches():
    a = boson(5)
    m = qm.kerr(5, detuning=0.0, U=0.0, F=0.3 + 0.4j, kappa=1.0)
    np.testing.assert_allclose(m.H.toarray(), (0.3 + 0.4j) * a.conj().T + (0.3 - 0.4j) * a, atol=1e-14)
    assert m.symmetries == ()
    assert [s.name for s in qm.kerr(5, detuning=0, U=1, F=0, kappa=1, G=0.5).symmetries] == ["parity"]
    assert sorted(s.name for s in qm.kerr(5, detuning=0, U=1, F=0, kappa=1).symmetries) == ["N", "parity"]
    assert len(qm.kerr(5, detuning=0, U=1, F=0, kappa=0).jumps) == 0


def test_kerr_linear_cavity_is_coherent():
    # DESIGN.md: H = Delta a^+a + F(a + a^+), L = sqrt(kappa) a  ->  alpha = -i F/(kappa/2 + i Delta)
    detuning, F, kappa, c = 0.3, 0.5, 1.0, 14
    rho = ness(qm.kerr(c, detuning=detuning, U=0.0, F=F, kappa=kappa))
    alpha = -1j * F / (kappa / 2 + 1j * detuning)
    k = np.arange(c)
    psi = (
        np.exp(-(abs(alpha) ** 2) / 2) * alpha**k / np.sqrt([float(np.prod(np.arange(1, x + 1))) for x in k])
    )
    assert np.trace(rho @ boson(c)) == pytest.approx(alpha, abs=1e-8)
    # the truncation at n = 13 perturbs the top of the state only, at the 1e-7 level
    np.testing.assert_allclose(rho[:8, :8], np.outer(psi, psi.conj())[:8, :8], atol=1e-9)


def test_kerr_thermal_bath_alone_gives_gibbs():
    nth, c = 0.4, 8
    rho = ness(qm.kerr(c, detuning=1.0, U=0.3, F=0.0, kappa=0.7, nth=nth))
    p = (nth / (nth + 1)) ** np.arange(c)
    np.testing.assert_allclose(rho, np.diag(p / p.sum()), atol=1e-10)


def test_two_photon_kerr_ness_is_parity_symmetric():
    m = qm.kerr(**CASES["kerr_parity"])
    rho = ness(m)
    P = np.diag(m.z2().parities.astype(float))
    np.testing.assert_allclose(P @ rho @ P, rho, atol=1e-10)
    assert np.abs(rho[0, 1]) < 1e-10 and np.abs(rho[0, 2]) > 1e-3  # even/odd blocks only


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cutoff=0), "cutoff"),
        (dict(kappa=-1.0), "kappa"),
        (dict(eta=-0.1), "eta"),
        (dict(nth=-0.1), "nth"),
        (dict(U=float("nan")), "U"),
        (dict(cutoff=2.5), "cutoff"),
    ],
)
def test_kerr_rejects_bad_parameters(kwargs, match):
    p = dict(cutoff=4, detuning=0.0, U=1.0, F=0.5, kappa=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        qm.kerr(**p)


# ---------------------------------------------------------- Bose-Hubbard
@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_bose_hubbard_matches_kron(boundary):
    n, c, J, U, det, kap = 3, 3, 0.7, 1.1, -0.2, 0.9
    F = [0.3, -0.1j, 0.2]
    a = boson(c)
    ad = a.conj().T
    bonds = [(0, 1), (1, 2)] + ([(2, 0)] if boundary == "periodic" else [])
    H = sum(det * site(ad @ a, i, n, c) + U / 2 * site(ad @ ad @ a @ a, i, n, c) for i in range(n))
    H = H + sum(F[i] * site(ad, i, n, c) + np.conj(F[i]) * site(a, i, n, c) for i in range(n))
    for i, j in bonds:
        hop = bond(ad, i, a, j, n, c)
        H = H - J * (hop + hop.conj().T)
    m = qm.bose_hubbard(n, cutoff=c, J=J, U=U, detuning=det, F=F, kappa=kap, boundary=boundary)
    assert_model(m, H, [np.sqrt(kap) * site(a, i, n, c) for i in range(n)])
    assert len(m.drives) == 3 and m.u1() is None


def test_bose_hubbard_linear_limit_is_coherent():
    n, c, J, det, kap = 2, 5, 0.4, 0.3, 1.0
    F = np.array([0.15, -0.1])
    m = qm.bose_hubbard(n, cutoff=c, J=J, U=0.0, detuning=det, F=F, kappa=kap)
    rho = ness(m)
    A = np.eye(n, k=1) + np.eye(n, k=-1)
    alpha = np.linalg.solve((det - 0.5j * kap) * np.eye(n) - J * A, -F)
    got = [np.trace(rho @ site(boson(c), i, n, c)) for i in range(n)]
    np.testing.assert_allclose(got, alpha, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(n=1), "n"), (dict(boundary="twisted"), "boundary"), (dict(n=2, boundary="periodic"), "n")],
)
def test_bose_hubbard_rejects_bad_parameters(kwargs, match):
    p = dict(n=3, cutoff=2, J=1.0, U=1.0, detuning=0.0, F=0.1, kappa=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        qm.bose_hubbard(**p)


# ------------------------------------------------------- dissipative Ising
def test_dissipative_ising_matches_kron_and_decouples_at_v0():
    n, V, h, det, g = 3, 1.7, 0.6, 0.4, 0.9
    H = sum(h * site(SX, i, n) - det * site(NUP, i, n) for i in range(n))
    H = H + V * sum(bond(NUP, i, NUP, (i + 1) % n, n) for i in range(n))
    m = qm.dissipative_ising(n, V=V, h=h, detuning=det, gamma=g, boundary="periodic")
    assert_model(m, H, [np.sqrt(g) * site(SM, i, n) for i in range(n)])
    np.testing.assert_allclose(
        sum(d.op.toarray() for d in m.drives), h * sum(site(SX, i, n) for i in range(n))
    )
    # V = 0: a product of single driven atoms, i.e. Mollow with detuning -Delta, Rabi 2h
    rho = ness(qm.dissipative_ising(n, V=0.0, h=h, detuning=det, gamma=g))
    one = qm.mollow_steady_state(detuning=-det, omega=2 * h, gamma=g)
    np.testing.assert_allclose(rho, kron(one, one, one), atol=1e-10)


# ------------------------------------------------------------------ Mollow
@pytest.mark.parametrize(
    "detuning, omega, gamma", [(0.0, 1.0, 1.0), (0.0, 3.0, 0.5), (0.7, 1.3, 0.4), (-2.0, 0.2, 1.5)]
)
def test_mollow_closed_form(detuning, omega, gamma):
    m = qm.mollow(detuning=detuning, omega=omega, gamma=gamma)
    assert_model(m, detuning / 2 * SZ + omega / 2 * SX, [np.sqrt(gamma) * SM])
    rho = dense_steady_state(m)
    np.testing.assert_allclose(
        rho, qm.mollow_steady_state(detuning=detuning, omega=omega, gamma=gamma), atol=1e-12
    )
    sz = np.trace(rho @ SZ).real
    D = 4 * detuning**2 + 2 * omega**2 + gamma**2
    assert sz == pytest.approx(-(4 * detuning**2 + gamma**2) / D, abs=1e-12)
    if detuning == 0:
        assert sz == pytest.approx(-1 / (1 + 2 * omega**2 / gamma**2), abs=1e-12)


def test_mollow_rejects_negative_gamma():
    with pytest.raises(ValueError, match="gamma"):
        qm.mollow(detuning=0.0, omega=1.0, gamma=-1.0)


# ------------------------------------------------- collective fluorescence
def test_collective_fluorescence_half_is_mollow_on_resonance():
    omega, gamma = 1.3, 0.7
    cf = qm.collective_fluorescence(0.5, omega=omega, gamma=gamma)
    mo = qm.mollow(detuning=0.0, omega=omega, gamma=gamma)
    np.testing.assert_allclose(cf.H.toarray(), mo.H.toarray(), atol=1e-15)
    np.testing.assert_allclose(jumps_dense(cf)[0], jumps_dense(mo)[0], atol=1e-15)
    np.testing.assert_allclose(dense_steady_state(cf), dense_steady_state(mo), atol=1e-12)


@pytest.mark.parametrize("j", [1, 1.5, 3])
def test_collective_fluorescence_operators_and_balance(j):
    omega, gamma = 1.1, 0.6
    m = qm.collective_fluorescence(j, omega=omega, gamma=gamma)
    assert m.dims == (int(2 * j + 1),)
    assert_model(m, omega * qutip.jmat(j, "x").full(), [np.sqrt(gamma) * qutip.jmat(j, "-").full()])
    rho = dense_steady_state(m)
    # d<J_z>/dt = Omega <J_y> - gamma <J_+ J_-> = 0 for H = Omega J_x, L = sqrt(gamma) J_-
    Jy, Jp = qutip.jmat(j, "y").full(), qutip.jmat(j, "+").full()
    lhs = omega * np.trace(rho @ Jy) - gamma * np.trace(rho @ Jp @ Jp.conj().T)
    assert abs(lhs) < 1e-10


@pytest.mark.parametrize("j", [1, 1.5, 3])
def test_collective_fluorescence_closed_form(j):
    # Puri & Lawande / Carmichael: rho ∝ A A^+, A = sum_m (J_-/g^*)^m, g = i Omega/gamma
    omega, gamma = 1.3, 0.7
    rho = ness(qm.collective_fluorescence(j, omega=omega, gamma=gamma))
    Jm = qutip.jmat(j, "-").full()
    g = 1j * omega / gamma
    A = sum(np.linalg.matrix_power(Jm / np.conj(g), m) for m in range(int(2 * j) + 1))
    exact = A @ A.conj().T
    np.testing.assert_allclose(rho, exact / np.trace(exact), atol=1e-10)


def test_collective_fluorescence_rejects_bad_j():
    with pytest.raises(ValueError, match="j must"):
        qm.collective_fluorescence(0.3, omega=1.0, gamma=1.0)


# ------------------------------------------------- boundary-driven XXZ
def xxz_H(n, J, delta):
    return J * sum(
        bond(SX, i, SX, i + 1, n) + bond(SY, i, SY, i + 1, n) + delta * bond(SZ, i, SZ, i + 1, n)
        for i in range(n - 1)
    )


def test_boundary_driven_xxz_matches_kron():
    n, delta, g, mu, J, deph = 4, 0.5, 0.8, 0.6, 1.3, 0.3
    m = qm.boundary_driven_xxz(n, delta=delta, gamma=g, mu=mu, J=J, dephasing=deph)
    Ls = [
        np.sqrt(g * (1 + mu) / 2) * site(SP, 0, n),
        np.sqrt(g * (1 - mu) / 2) * site(SM, 0, n),
        np.sqrt(g * (1 + mu) / 2) * site(SM, n - 1, n),
        np.sqrt(g * (1 - mu) / 2) * site(SP, n - 1, n),
    ] + [np.sqrt(deph) * site(SZ, i, n) for i in range(n)]
    assert_model(m, xxz_H(n, J, delta), Ls)
    assert [j.bath for j in m.jumps[:4]] == ["left", "left", "right", "right"]
    assert m.u1().name == "magnetisation"


def test_boundary_driven_xxz_maximal_driving_has_two_jumps():
    n, g = 3, 0.7
    for mu, ops_ in ((1.0, (SP, SM)), (-1.0, (SM, SP))):
        m = qm.boundary_driven_xxz(n, delta=1.0, gamma=g, mu=mu)
        assert_model(
            m, xxz_H(n, 1.0, 1.0), [np.sqrt(g) * site(ops_[0], 0, n), np.sqrt(g) * site(ops_[1], n - 1, n)]
        )


def spin_currents(n, rho, J=1.0):
    """Bond currents j_i = <i[h_{i,i+1}, n_{i+1} - n_i]>/2 of the number of up spins."""
    out = []
    for i in range(n - 1):
        h = J * (bond(SX, i, SX, i + 1, n) + bond(SY, i, SY, i + 1, n))
        nr = site(NUP, i + 1, n)
        out.append(np.trace(rho @ (1j * (h @ nr - nr @ h))).real)
    return np.array(out)


@pytest.mark.parametrize("mu", [1.0, 0.4])
def test_xx_chain_current_does_not_depend_on_length(mu):
    currents = []
    for n in (3, 4, 5):
        rho = ness(qm.boundary_driven_xxz(n, delta=0.0, gamma=1.0, mu=mu))
        j = spin_currents(n, rho)
        np.testing.assert_allclose(j, j[0], atol=1e-10)  # continuity along the chain
        currents.append(j[0])
    assert currents[0] > 1e-3
    np.testing.assert_allclose(currents, currents[0], rtol=1e-9)
    # ... whereas the interacting chain's current changes with n
    j3 = spin_currents(3, ness(qm.boundary_driven_xxz(3, delta=1.0, mu=mu)))[0]
    j5 = spin_currents(5, ness(qm.boundary_driven_xxz(5, delta=1.0, mu=mu)))[0]
    assert abs(j3 - j5) > 1e-3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=1), "n"),
        (dict(mu=1.5), "mu"),
        (dict(gamma=-1.0), "gamma"),
        (dict(dephasing=-0.1), "dephasing"),
    ],
)
def test_boundary_driven_xxz_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        qm.boundary_driven_xxz(**(dict(n=3, delta=0.5) | kwargs))


# --------------------------------------------------- thermal XXZ chain
def test_xxz_thermal_chain_local_matches_kron():
    n, J, delta, h = 3, 0.8, 0.4, 1.5
    gl, gr, Tl, Tr, mul, mur = 0.3, 0.5, 2.0, 0.7, 0.4, -0.3
    m = qm.xxz_thermal_chain(
        n, J=J, delta=delta, h=h, gamma_l=gl, gamma_r=gr, T_l=Tl, T_r=Tr, mu_l=mul, mu_r=mur
    )
    H = xxz_H(n, J, delta) + h / 2 * sum(site(SZ, i, n) for i in range(n))
    fl, fr = 1 / (np.exp((h - mul) / Tl) + 1), 1 / (np.exp((h - mur) / Tr) + 1)
    Ls = [
        np.sqrt(gl * (1 - fl)) * site(SM, 0, n),
        np.sqrt(gl * fl) * site(SP, 0, n),
        np.sqrt(gr * (1 - fr)) * site(SM, n - 1, n),
        np.sqrt(gr * fr) * site(SP, n - 1, n),
    ]
    assert_model(m, H, Ls)
    assert (m.baths["left"].T, m.baths["left"].mu, m.baths["right"].T, m.baths["right"].mu) == (
        Tl,
        mul,
        Tr,
        mur,
    )
    # boson statistics: gamma (n + 1), gamma n
    mb = qm.xxz_thermal_chain(n, J=J, delta=delta, h=h, T_l=Tl, T_r=Tr, statistics="boson")
    nl = 1 / np.expm1(h / Tl)
    np.testing.assert_allclose([mb.jumps[0].rate, mb.jumps[1].rate], [nl + 1, nl])


@pytest.mark.parametrize("delta", [0.0, 0.6])
def test_xxz_thermal_chain_equal_baths(delta):
    n, h, T, mu = 3, 2.5, 0.8, 0.4
    Nop = sum(site(NUP, i, n) for i in range(n))
    # J small enough that every Bohr frequency exceeds mu (needed by the bosonic baths)
    kw = dict(J=0.3, delta=delta, h=h, gamma_l=0.4, gamma_r=0.9, T_l=T, T_r=T, mu_l=mu, mu_r=mu)
    # global (Davies): Gibbs state of H - mu N
    for stat in ("fermion", "boson"):
        m = qm.xxz_thermal_chain(n, form="global", statistics=stat, **kw)
        rho = dense_steady_state(m)
        np.testing.assert_allclose(rho, gibbs(m.H.toarray() - mu * Nop, T), atol=1e-10)
    # local: each end relaxes to its own Gibbs state, so exp(-(h - mu) N / T)
    rho = dense_steady_state(qm.xxz_thermal_chain(n, **kw))
    np.testing.assert_allclose(rho, gibbs((h - mu) * Nop, T), atol=1e-10)


def test_xxz_thermal_chain_global_second_law():
    m = qm.xxz_thermal_chain(3, J=0.5, delta=0.3, h=2.0, T_l=2.0, T_r=0.5, form="global")
    rho = dense_steady_state(m)
    J = bath_currents(m, rho)
    assert J["left"] > 1e-6 and J["left"] + J["right"] == pytest.approx(0, abs=1e-12)
    assert -(J["left"] / 2.0 + J["right"] / 0.5) > 0


def test_bohr_decomposition_groups_degenerate_frequencies():
    n = 3
    m = qm.xxz_thermal_chain(n, J=0.5, delta=0.0, h=2.0, T_l=1.0, T_r=1.0)
    H = m.H.toarray()
    A = site(SM, n - 1, n)
    comps = qm.bohr_decomposition(H, A)
    # the XX chain is free fermions: sigma^-_{n-1} carries only the n single-particle energies
    ws = [w for w, _ in comps]
    np.testing.assert_allclose(ws, 2.0 + 2.0 * np.cos(np.pi * np.arange(n, 0, -1) / (n + 1)), atol=1e-9)
    np.testing.assert_allclose(sum(Aw.toarray() for _, Aw in comps), A, atol=1e-12)
    for w, Aw in comps:
        Ad = Aw.toarray()
        np.testing.assert_allclose(H @ Ad - Ad @ H, -w * Ad, atol=1e-10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(form="semi-local"), "form"),
        (dict(statistics="anyon"), "statistics"),
        (dict(statistics="boson", mu_l=2.0), "h=1"),
        (dict(statistics="boson", mu_l=2.0, form="global"), "Bohr frequency"),
        (dict(T_l=-1.0), "T_l"),
        (dict(gamma_r=-1.0), "gamma_r"),
        (dict(n=1), "n"),
    ],
)
def test_xxz_thermal_chain_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        qm.xxz_thermal_chain(**(dict(n=3, T_l=1.0, T_r=1.0) | kwargs))


# ---------------------------------------------------------------- two-node
TN = dict(omega_h=1.0, omega_c=0.7, g=0.2, gamma_h=0.1, gamma_c=0.2)


def test_two_node_qubit_local_matches_kron():
    Th, Tc = 2.0, 0.5
    m = qm.two_node("qubit", T_h=Th, T_c=Tc, **TN)
    H = TN["omega_h"] / 2 * kron(SZ, I2) + TN["omega_c"] / 2 * kron(I2, SZ)
    H = H + TN["g"] * (kron(SP, SM) + kron(SM, SP))
    nh, nc = 1 / np.expm1(TN["omega_h"] / Th), 1 / np.expm1(TN["omega_c"] / Tc)
    Ls = [
        np.sqrt(TN["gamma_h"] * (nh + 1)) * kron(SM, I2),
        np.sqrt(TN["gamma_h"] * nh) * kron(SP, I2),
        np.sqrt(TN["gamma_c"] * (nc + 1)) * kron(I2, SM),
        np.sqrt(TN["gamma_c"] * nc) * kron(I2, SP),
    ]
    assert_model(m, H, Ls)
    assert (m.baths["hot"].T, m.baths["cold"].T) == (Th, Tc)


def test_two_node_boson_local_matches_kron():
    c = 3
    m = qm.two_node("boson", T_h=1.0, T_c=0.0, cutoff=c, **TN)
    a = boson(c)
    ad = a.conj().T
    H = TN["omega_h"] * kron(ad @ a, np.eye(c)) + TN["omega_c"] * kron(np.eye(c), ad @ a)
    H = H + TN["g"] * (kron(ad, a) + kron(a, ad))
    nh = 1 / np.expm1(TN["omega_h"] / 1.0)
    Ls = [
        np.sqrt(TN["gamma_h"] * (nh + 1)) * kron(a, np.eye(c)),
        np.sqrt(TN["gamma_h"] * nh) * kron(ad, np.eye(c)),
        np.sqrt(TN["gamma_c"]) * kron(np.eye(c), a),  # T_c = 0: no absorption jump
    ]
    assert_model(m, H, Ls)


def test_two_node_global_qubit_jumps_are_eigenoperators():
    m = qm.two_node("qubit", T_h=2.0, T_c=0.5, form="global", **TN)
    H = m.H.toarray()
    eps = np.hypot((TN["omega_h"] - TN["omega_c"]) / 2, TN["g"])
    expected = sorted([(TN["omega_h"] + TN["omega_c"]) / 2 + s * eps for s in (-1, 1)])
    for bath, A in (("hot", kron(SM, I2)), ("cold", kron(I2, SM))):
        down = [j for j in m.jumps if j.bath == bath and "down" in j.label]
        assert len(down) == 2  # two frequencies, each collecting two transitions
        total = 0
        for j, w in zip(down, expected):
            Aw = j.op.toarray()
            np.testing.assert_allclose(H @ Aw - Aw @ H, -w * Aw, atol=1e-12)
            total = total + Aw
        np.testing.assert_allclose(total, A, atol=1e-12)


@pytest.mark.parametrize("kind, cutoff, T", [("qubit", None, 0.7), ("boson", 5, 0.15)])
def test_two_node_global_equal_temperatures_give_gibbs(kind, cutoff, T):
    m = qm.two_node(kind, T_h=T, T_c=T, form="global", cutoff=cutoff, **TN)
    rho = ness(m)
    # boson: the truncation leaves errors of order exp(-cutoff * omega_min / T) ~ 1e-7
    np.testing.assert_allclose(rho, gibbs(m.H.toarray(), T), atol=1e-10 if kind == "qubit" else 1e-6)


@pytest.mark.parametrize("form", ["local", "global"])
def test_two_node_heat_flows_from_hot_to_cold(form):
    m = qm.two_node("qubit", T_h=3.0, T_c=0.3, form=form, **TN)
    rho = dense_steady_state(m)
    J = bath_currents(m, rho)
    assert J["hot"] > 1e-5 and J["cold"] < -1e-5
    if form == "global":
        assert J["hot"] + J["cold"] == pytest.approx(0, abs=1e-12)
        assert -(J["hot"] / 3.0 + J["cold"] / 0.3) > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="qutrit"), "kind"),
        (dict(form="mixed"), "form"),
        (dict(kind="boson"), "cutoff"),
        (dict(cutoff=3), "cutoff"),
        (dict(g=1.0, form="global"), "g="),
        (dict(omega_h=0.0), "omega_h"),
        (dict(gamma_c=-0.1), "gamma_c"),
        (dict(T_h=-1.0), "T_h"),
    ],
)
def test_two_node_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        qm.two_node(**(dict(T_h=1.0, T_c=0.5) | TN | kwargs))


# ------------------------------------------------------- harmonic chain
def test_harmonic_chain_matches_kron_and_equal_baths():
    n, c, om, g = 3, 3, 1.0, 0.3
    a = boson(c)
    ad = a.conj().T
    kw = dict(cutoff=c, omega=om, g=g, gamma_l=0.2, gamma_r=0.3, T_l=1.0, T_r=0.4)
    m = qm.harmonic_chain(n, **kw)
    H = om * sum(site(ad @ a, i, n, c) for i in range(n))
    H = H + g * sum(bond(ad, i, a, i + 1, n, c) + bond(a, i, ad, i + 1, n, c) for i in range(n - 1))
    nl, nr = 1 / np.expm1(om / 1.0), 1 / np.expm1(om / 0.4)
    Ls = [
        np.sqrt(0.2 * (nl + 1)) * site(a, 0, n, c),
        np.sqrt(0.2 * nl) * site(ad, 0, n, c),
        np.sqrt(0.3 * (nr + 1)) * site(a, n - 1, n, c),
        np.sqrt(0.3 * nr) * site(ad, n - 1, n, c),
    ]
    assert_model(m, H, Ls)
    # equal local baths: exp(-omega N / T), exact even in the truncated space
    T = 0.6
    rho = ness(qm.harmonic_chain(n, **(kw | dict(T_l=T, T_r=T))))
    Nop = sum(site(ad @ a, i, n, c) for i in range(n))
    np.testing.assert_allclose(rho, gibbs(om * Nop, T), atol=1e-9)


def test_harmonic_chain_global_equal_baths_gibbs():
    T = 0.12
    m = qm.harmonic_chain(
        3, cutoff=3, omega=1.0, g=0.2, gamma_l=0.2, gamma_r=0.3, T_l=T, T_r=T, form="global"
    )
    assert len(m.jumps) == 2 * 2 * 3  # 3 normal modes, down and up, two baths
    np.testing.assert_allclose(ness(m), gibbs(m.H.toarray(), T), atol=1e-6)  # truncation ~ exp(-3*0.72/T)
    with pytest.raises(ValueError, match="g="):
        qm.harmonic_chain(3, cutoff=2, omega=1.0, g=0.8, gamma_l=1, gamma_r=1, T_l=1, T_r=1, form="global")


# ------------------------------------------------------ fermionic chain
def jw_c(j, n):
    """Jordan-Wigner annihilator written out with numpy (occupied = spin up = |0>)."""
    return kron(*([-SZ] * j + [SM] + [I2] * (n - j - 1)))


FC = dict(t=0.8, eps=0.3, gamma_l=0.6, gamma_r=0.9, mu_l=1.0, mu_r=-0.5, T_l=0.5, T_r=1.5)


def test_fermionic_chain_matches_jordan_wigner():
    n = 3
    m = qm.fermionic_chain(n, **FC)
    c = [jw_c(j, n) for j in range(n)]
    H = FC["eps"] * sum(x.conj().T @ x for x in c)
    H = H - FC["t"] * sum(c[j].conj().T @ c[j + 1] + c[j + 1].conj().T @ c[j] for j in range(n - 1))
    fl = 1 / (np.exp((FC["eps"] - FC["mu_l"]) / FC["T_l"]) + 1)
    fr = 1 / (np.exp((FC["eps"] - FC["mu_r"]) / FC["T_r"]) + 1)
    Ls = [
        np.sqrt(FC["gamma_l"] * (1 - fl)) * c[0],
        np.sqrt(FC["gamma_l"] * fl) * c[0].conj().T,
        np.sqrt(FC["gamma_r"] * (1 - fr)) * c[-1],
        np.sqrt(FC["gamma_r"] * fr) * c[-1].conj().T,
    ]
    assert_model(m, H, Ls)
    # the right jump carries the string: it is not sigma^-_{n-1}
    assert not np.allclose(m.jumps[2].op.toarray(), site(SM, n - 1, n))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_fermionic_chain_ness_is_gaussian(n):
    m = qm.fermionic_chain(n, **FC)
    rho = dense_steady_state(m)
    c = [jw_c(j, n) for j in range(n)]
    G = np.array([[np.trace(rho @ c[i].conj().T @ c[j]) for j in range(n)] for i in range(n)])
    # G_ij = <c_i^+ c_j> solves i[h, G] - {Gamma/2, G} + diag(Gamma_in) = 0 (single-particle h real symmetric)
    h = FC["eps"] * np.eye(n) - FC["t"] * (np.eye(n, k=1) + np.eye(n, k=-1))
    fl = 1 / (np.exp((FC["eps"] - FC["mu_l"]) / FC["T_l"]) + 1)
    fr = 1 / (np.exp((FC["eps"] - FC["mu_r"]) / FC["T_r"]) + 1)
    gin, gtot = np.zeros(n), np.zeros(n)
    gin[0], gin[-1] = FC["gamma_l"] * fl, FC["gamma_r"] * fr
    gtot[0], gtot[-1] = FC["gamma_l"], FC["gamma_r"]
    A = 1j * h - 0.5 * np.diag(gtot)
    G_exact = sla.solve_continuous_lyapunov(A, -np.diag(gin))
    np.testing.assert_allclose(G, G_exact, atol=1e-10)
    assert np.all(np.abs(np.diag(G_exact, 1).imag) > 1e-3)  # a particle current flows
    # and the whole NESS is the Gaussian state exp(-c^+ M c)/Z with <c_i^+ c_j> = G_ij
    M = sla.logm((np.eye(n) - G_exact.T) @ np.linalg.inv(G_exact.T))
    K = sum(M[a, b] * c[a].conj().T @ c[b] for a in range(n) for b in range(n))
    rho_g = sla.expm(-K)
    np.testing.assert_allclose(rho, rho_g / np.trace(rho_g), atol=1e-10)


# -------------------------------------------------------------- classical
def diagonal_block(L, d):
    idx = np.arange(d) * (d + 1)  # vec(rho)[i + d*i] = rho_ii (column stacking)
    return L[np.ix_(idx, idx)]


def stationary(W):
    w, v = np.linalg.eig(W)
    p = np.real(v[:, np.argmin(np.abs(w))])
    return p / p.sum()


def test_classical_generator_dict_and_matrix():
    rates = {(0, 1): 1.0, (1, 2): 0.5, (2, 0): 2.0, (1, 0): 0.3}
    W = qm.classical_generator(rates)
    M = np.zeros((3, 3))
    for (i, j), w in rates.items():
        M[i, j] = w
    np.testing.assert_allclose(qm.classical_generator(M + np.diag([7.0, 7.0, 7.0])), W)
    np.testing.assert_allclose(W.sum(axis=0), 0, atol=1e-15)
    assert W[1, 0] == 1.0 and W[0, 1] == 0.3 and W[0, 0] == -1.0
    assert qm.classical_generator(rates, n_states=5).shape == (5, 5)


def test_markov_network_diagonal_sector_is_the_generator():
    rates = CASES["markov_network"]["rates"]
    m = qm.markov_network(rates)
    d = m.dim
    L = dense_liouvillian(m)
    W = qm.classical_generator(rates)
    np.testing.assert_allclose(diagonal_block(L, d), W, atol=1e-14)
    for (i, j), w in rates.items():
        k = [x.label for x in m.jumps].index(f"{i}->{j}")
        op = np.zeros((d, d))
        op[j, i] = 1
        np.testing.assert_allclose(jumps_dense(m)[k], np.sqrt(w) * op)
    rho = dense_steady_state(m)
    np.testing.assert_allclose(rho, np.diag(stationary(W)), atol=1e-12)


def test_three_state_cycle_hill_formula():
    k = dict(k_ab=2.0, k_bc=1.0, k_ca=0.5, k_ba=0.3, k_cb=0.2, k_ac=0.1)
    m = qm.three_state_cycle(**k)
    assert dict(m.params) == k
    p = np.real(np.diag(dense_steady_state(m)))
    ab, bc, ca, ba, cb, ac = (k[x] for x in ("k_ab", "k_bc", "k_ca", "k_ba", "k_cb", "k_ac"))
    trees = np.array([bc * ca + ba * ca + cb * ba, ca * ab + cb * ab + ac * cb, ab * bc + ac * bc + ba * ac])
    np.testing.assert_allclose(p, trees / trees.sum(), atol=1e-12)
    # one cycle current through every edge
    Jab, Jbc, Jca = p[0] * ab - p[1] * ba, p[1] * bc - p[2] * cb, p[2] * ca - p[0] * ac
    np.testing.assert_allclose([Jbc, Jca], Jab, atol=1e-12)
    assert Jab > 0.05


def test_tasep_diagonal_sector_and_ness():
    p = CASES["tasep"]
    m = qm.tasep(**p)
    n, d = p["n"], m.dim
    W = qm.tasep_generator(**p).toarray()
    np.testing.assert_allclose(W.sum(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(diagonal_block(dense_liouvillian(m), d), W, atol=1e-14)
    np.testing.assert_allclose(dense_steady_state(m), np.diag(stationary(W)), atol=1e-12)
    Ls = [
        np.sqrt(p["alpha"]) * site(SP, 0, n),
        np.sqrt(p["gamma"]) * site(SM, 0, n),
        np.sqrt(p["beta"]) * site(SM, n - 1, n),
        np.sqrt(p["delta"]) * site(SP, n - 1, n),
    ]
    for i in range(n - 1):
        Ls += [bond(SM, i, SP, i + 1, n), np.sqrt(p["q"]) * bond(SP, i, SM, i + 1, n)]
    assert_model(m, np.zeros((d, d)), Ls)


def entry_current(n, alpha, beta):
    W = qm.tasep_generator(n, alpha=alpha, beta=beta)
    # stationary vector by a sparse solve with the normalisation replacing one row
    A = sp.lil_array(W)
    A[0, :] = np.ones(2**n)
    b = np.zeros(2**n)
    b[0] = 1
    pst = spla.spsolve(sp.csc_array(A), b)
    empty0 = np.array([(s >> (n - 1)) & 1 for s in range(2**n)], dtype=bool)  # bit 1 = spin down = empty
    return alpha * pst[empty0].sum()


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_tasep_current_alpha_plus_beta_one(n):
    for alpha in (0.2, 0.5, 0.85):
        beta = 1 - alpha
        assert entry_current(n, alpha, beta) == pytest.approx(alpha * beta, rel=1e-10)
        assert qm.tasep_current(n, alpha=alpha, beta=beta) == pytest.approx(alpha * beta, rel=1e-12)


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.3), (0.9, 0.2), (1.5, 0.8)])
def test_tasep_current_matches_derrida_formula(alpha, beta):
    for n in (2, 4, 6):
        assert entry_current(n, alpha, beta) == pytest.approx(
            qm.tasep_current(n, alpha=alpha, beta=beta), rel=1e-10
        )


def test_tasep_lindblad_current_alpha_plus_beta_one():
    alpha, beta, n = 0.35, 0.65, 4
    m = qm.tasep(n, alpha=alpha, beta=beta)
    rho = dense_steady_state(m)
    assert np.allclose(rho, np.diag(np.diag(rho)), atol=1e-12)  # NESS is diagonal
    occ0 = np.trace(rho @ site(NUP, 0, n)).real
    assert alpha * (1 - occ0) == pytest.approx(alpha * beta, rel=1e-9)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: qm.markov_network({(0, 0): 1.0}), "two different states"),
        (lambda: qm.markov_network({(0, 1): -1.0}), r"rates\[\(0, 1\)\]"),
        (lambda: qm.markov_network(np.ones((2, 3))), "square"),
        (lambda: qm.markov_network({(0, 1): 1.0}, n_states=1), "n_states"),
        (lambda: qm.tasep(1, alpha=1.0, beta=1.0), "n"),
        (lambda: qm.tasep(3, alpha=-1.0, beta=1.0), "alpha"),
        (lambda: qm.tasep_generator(3, alpha=1.0, beta=1.0, q=-0.5), "q"),
        (lambda: qm.three_state_cycle(k_ab=-1.0), "k_ab"),
    ],
)
def test_classical_rejects_bad_parameters(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------- the library's solver, when present
@pytest.mark.skipif(not hasattr(qness, "steady_state"), reason="qness.steady_state not available yet")
@pytest.mark.parametrize("case", sorted(CASES))
def test_steady_state_solver_agrees_on_every_model(case):
    # uses the declared symmetries (symmetry="auto"), so this also checks them in use
    _, m = build(case)
    if case in TRUNCATED:
        # small cutoffs keep the dense oracle cheap; the highest Fock level then holds
        # 1e-3 .. 6e-2 of the population (a real truncation), which steady_state reports
        with pytest.warns(qness.TruncationWarning, match="highest level"):
            rho = qness.steady_state(m).rho
    else:
        rho = qness.steady_state(m).rho
    np.testing.assert_allclose(rho, ness(m), atol=1e-10)


#: Cases whose bosonic cutoff is populated above the TruncationWarning threshold (1e-3):
#: bose_hubbard 5.6e-3 (middle site), two_node_global_boson 5.7e-2, harmonic_chain 5.0e-2.
TRUNCATED = {"bose_hubbard", "two_node_global_boson", "harmonic_chain"}


def test_h_eff_is_computed_once_and_handed_out_as_copies():
    m = qness.models.boundary_driven_xxz(4, delta=0.5, gamma=0.7)
    expected = m.H.toarray() - 0.5j * sum(j.rate * (j.op.conj().T @ j.op).toarray() for j in m.jumps)
    first = m.H_eff()
    np.testing.assert_allclose(first.toarray(), expected, atol=1e-15)
    first.data[:] = 0.0  # a caller mutating its copy does not reach the model's
    np.testing.assert_allclose(m.H_eff().toarray(), expected, atol=1e-15)
    # a derived model has its own
    bare = m.replace(jumps=(), symmetries=())
    np.testing.assert_allclose(bare.H_eff().toarray(), m.H.toarray(), atol=1e-15)


def test_h_eff_follows_an_operator_changed_in_place():
    # models are frozen, but their arrays are writable: H_eff (cached per model) must not go stale
    # (the session-7 review scaled m.H.data in place and got the old H's steady state, residual 2e-16)
    m = qness.models.boundary_driven_xxz(4, delta=0.5, gamma=0.7)
    before = qness.steady_state(m, "direct").rho
    m.H.data[:] *= 3.0
    m.jumps[0].op.data[:] *= 0.5
    fresh = qness.LindbladModel(dims=m.dims, H=m.H.copy(), jumps=tuple(m.jumps))
    after = qness.steady_state(m, "direct").rho
    np.testing.assert_allclose(m.H_eff().toarray(), fresh.H_eff().toarray(), atol=1e-15)
    np.testing.assert_allclose(after, qness.steady_state(fresh, "direct").rho, atol=1e-12)
    assert np.abs(after - before).max() > 1e-3


def test_named_models_refuse_strings_and_booleans_and_say_the_global_bound():
    # session-20 review: collective_fluorescence(True) was j = 1, ("2") j = 2, kerr(kappa="1") a rate
    # of 1; harmonic_chain's global bound was stated as |g| < omega/2 (it is omega / (2 cos(pi/(n+1))))
    for j in (True, "2"):
        with pytest.raises(ValueError, match="j must be a positive integer or half-integer"):
            qm.collective_fluorescence(j, omega=1.0, gamma=1.0)
    with pytest.raises(ValueError, match="kappa must be a real number"):
        qm.kerr(3, detuning=0.0, U=0.0, F=1.0, kappa="1")
    common = dict(cutoff=2, omega=1.0, gamma_l=1.0, gamma_r=1.0, T_l=1.0, T_r=1.0, form="global")
    assert qm.harmonic_chain(2, g=0.99, **common).dims == (2, 2)  # omega - |g| > 0 at n = 2
    with pytest.raises(ValueError, match=r"\|g\| < omega / \(2 cos\(pi/\(n\+1\)\)\) = 1\b"):
        qm.harmonic_chain(2, g=1.01, **common)


def test_a_symmetry_given_to_a_solver_is_checked_for_its_shape():
    # a U1Symmetry with 7 charges on an 8-state model raised IndexError
    m = qm.kerr(8, detuning=0.3, U=0.5, F=0.0, kappa=1.0)
    with pytest.raises(ValueError, match=r"U1Symmetry.charges must have shape \(8,\), got \(7,\)"):
        qness.spectrum(m, k=3, symmetry=qness.U1Symmetry(np.arange(7), (-1,)))
    with pytest.raises(ValueError, match="jump_charges has 2 entries, the model has 1 jumps"):
        qness.steady_state(m, symmetry=qness.U1Symmetry(np.arange(8), (-1, 1)))
    ev = np.linalg.eigvals(dense_liouvillian(m))
    spec = qness.spectrum(m, k=3, symmetry=qness.U1Symmetry(np.arange(8), (-1,)))
    assert spec.eigenvalues[1] == pytest.approx(ev[np.argsort(-ev.real)][1], abs=1e-10) or spec.eigenvalues[
        1
    ] == pytest.approx(np.conj(ev[np.argsort(-ev.real)][1]), abs=1e-10)
