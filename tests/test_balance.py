"""Detailed balance, cycles and entropy production (classical networks and a quantum test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import dense_steady_state

import qness
import qness.analysis
from qness.analysis import balance as bal


def _three_cycle(kp, km):
    """Ring 0 -> 1 -> 2 -> 0 with clockwise rates kp[i] (i -> i+1) and anticlockwise km[i] (i+1 -> i)."""
    K = np.zeros((3, 3))
    for i in range(3):
        K[i, (i + 1) % 3] = kp[i]
        K[(i + 1) % 3, i] = km[i]
    return K


def _random_network(n, seed, symmetric_energy=False):
    rng = np.random.default_rng(seed)
    A = np.triu(rng.random((n, n)) < 0.6, 1)
    A[np.arange(n - 1), np.arange(1, n)] = True  # connected
    A = A | A.T
    if symmetric_energy:
        # K_ij = w_ij exp(-(E_j - E_i)/2) with symmetric w: detailed balance with pi ~ exp(-E).
        E = rng.normal(size=n)
        W = rng.uniform(0.5, 2, (n, n))
        W = W + W.T
        K = W * np.exp(-(E[None, :] - E[:, None]) / 2)
    else:
        K = rng.uniform(0.2, 2.0, (n, n))
    return np.where(A, K, 0.0)


def test_three_state_cycle_breaks_detailed_balance():
    kp, km = [2.0, 1.5, 3.0], [0.5, 1.0, 0.7]
    K = _three_cycle(kp, km)
    pi = bal.stationary_distribution(K)
    Q = K - np.diag(K.sum(axis=1))
    assert np.allclose(pi @ Q, 0, atol=1e-14)
    aff = bal.cycle_affinities(K)
    assert aff.shape == (1,)
    assert abs(aff[0]) == pytest.approx(math.log(np.prod(kp) / np.prod(km)), rel=1e-13)
    assert not bal.kolmogorov_criterion(K)
    assert not bal.detailed_balance(K)
    sigma = bal.schnakenberg_entropy_production(K)
    assert sigma > 0
    # sigma = J A for a single cycle, J the (uniform) cycle current.
    F = bal.probability_fluxes(K)
    J = F[0, 1]
    assert np.allclose([F[1, 2], F[2, 0]], J, atol=1e-14)
    assert sigma == pytest.approx(J * math.log(np.prod(kp) / np.prod(km)), rel=1e-12)


def test_uniform_three_cycle_closed_form():
    kp, km = 2.0, 0.5
    K = _three_cycle([kp] * 3, [km] * 3)
    assert np.allclose(bal.stationary_distribution(K), 1 / 3)
    assert bal.schnakenberg_entropy_production(K) == pytest.approx((kp - km) * math.log(kp / km), rel=1e-13)


def test_equal_cycle_products_satisfy_kolmogorov():
    K = _three_cycle([2.0, 3.0, 0.5], [1.0, 1.0, 3.0])  # both products are 3
    assert bal.kolmogorov_criterion(K)
    assert bal.detailed_balance(K)
    assert bal.schnakenberg_entropy_production(K) == pytest.approx(0.0, abs=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_schnakenberg_equals_cycle_sum_on_random_networks(seed):
    K = _random_network(6, seed)
    cycles = bal.cycle_basis(K)
    edges = np.count_nonzero(np.triu((K > 0) | (K.T > 0), 1))
    assert len(cycles) == edges - 6 + 1
    for c in cycles:
        assert len(set(c)) == len(c) >= 3
        for a in range(len(c)):
            assert K[c[a], c[(a + 1) % len(c)]] > 0  # consecutive states are linked
    sigma = bal.schnakenberg_entropy_production(K)
    assert sigma == pytest.approx(np.dot(bal.cycle_currents(K), bal.cycle_affinities(K)), rel=1e-10)
    assert sigma > 0
    assert not bal.kolmogorov_criterion(K)


@pytest.mark.parametrize("seed", [3, 4])
def test_detailed_balanced_network(seed):
    K = _random_network(6, seed, symmetric_energy=True)
    assert bal.kolmogorov_criterion(K)
    assert bal.detailed_balance(K)
    assert np.max(np.abs(bal.cycle_affinities(K))) < 1e-12
    assert bal.schnakenberg_entropy_production(K) == pytest.approx(0.0, abs=1e-13)
    # For any distribution the housekeeping part vanishes and the excess is the total.
    p = np.random.default_rng(seed).dirichlet(np.ones(6))
    split = bal.entropy_production_split(K, p)
    assert split.housekeeping == pytest.approx(0.0, abs=1e-13)
    assert split.excess == pytest.approx(split.total, rel=1e-12)


def test_housekeeping_excess_split():
    K = _random_network(5, 7)
    pi = bal.stationary_distribution(K)
    p = np.random.default_rng(8).dirichlet(np.ones(5))
    s = bal.entropy_production_split(K, p)
    assert s.housekeeping > 0 and s.excess > 0
    assert s.total == pytest.approx(s.housekeeping + s.excess, rel=1e-13)
    # excess = -d/dt KL(p || pi) along the master equation dp/dt = p Q.
    Q = K - np.diag(K.sum(axis=1))
    dp = p @ Q
    dkl = float(np.sum(dp * (np.log(p / pi) + 1)))
    assert s.excess == pytest.approx(-dkl, rel=1e-10)
    # In the NESS everything is housekeeping.
    s0 = bal.entropy_production_split(K, pi)
    assert s0.excess == pytest.approx(0.0, abs=1e-13)
    assert s0.housekeeping == pytest.approx(bal.schnakenberg_entropy_production(K), rel=1e-12)


def test_one_way_links():
    K = _three_cycle([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])  # totally asymmetric ring
    assert math.isinf(bal.schnakenberg_entropy_production(K))
    assert not bal.kolmogorov_criterion(K)
    with pytest.raises(ValueError, match="two-way"):
        bal.entropy_production_split(K, np.ones(3) / 3)


def test_reducible_network_rejected():
    K = np.zeros((3, 3))
    K[0, 1] = K[1, 0] = 1.0
    with pytest.raises(ValueError, match="not unique"):
        bal.stationary_distribution(K)


# ----------------------------------------------------------------- quantum


def _thermal_qubit(drive=0.0):
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(0.6, "sigmaz")
    if drive:
        b.add_drive(drive, "sigmax")
    b.add_thermal_bath("b", 0, omega=1.2, gamma=0.3, T=0.8, lower="sigmam")
    return b.build()


def test_quantum_detailed_balance_thermal_qubit_and_oscillator():
    m = _thermal_qubit()
    rho = dense_steady_state(m)
    assert bal.quantum_detailed_balance(m, rho)
    assert bal.detailed_balance_defect(m, rho) < 1e-12
    b = qness.ModelBuilder(5, n=1)
    b.add_onsite(1.0, "num")
    b.add_thermal_bath("b", 0, omega=1.0, gamma=0.2, T=1.5)
    osc = b.build()
    assert bal.quantum_detailed_balance(osc, dense_steady_state(osc))


def test_quantum_detailed_balance_fails_out_of_equilibrium():
    m = _thermal_qubit(drive=0.4)
    assert not bal.quantum_detailed_balance(m, dense_steady_state(m))
    b = qness.ModelBuilder(2, n=3)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    b.add_jump("sigmap", 0.5, sites=[0])
    b.add_jump("sigmam", 0.5, sites=[2])
    b.add_jump("sigmam", 0.1, sites=[0])
    b.add_jump("sigmap", 0.1, sites=[2])
    chain = b.build()
    rho = dense_steady_state(chain)
    assert not bal.quantum_detailed_balance(chain, rho)
    assert bal.detailed_balance_defect(chain, rho) > 1e-3


@pytest.mark.parametrize("unit", [1.0, 1e-3, 1e-9, 1e6])
def test_quantum_detailed_balance_does_not_depend_on_the_unit_of_time(unit):
    # every rate and energy times `unit` is the same physics in another time unit; the defects were
    # divided by max(1, ||M||), absolute below ||M|| = 1, and at unit = 1e-9 a driven qubit, a
    # 3-state cycle of affinity 3 ln 4 and a non-stationary state all passed (session-13 review)
    def scaled(m):
        return (unit * m.H, [math.sqrt(unit * j.rate) * j.op for j in m.jumps])

    driven, thermal = _thermal_qubit(drive=0.4), _thermal_qubit()
    rho_d, rho_t = dense_steady_state(driven), dense_steady_state(thermal)
    ref = bal.detailed_balance_defect(driven, rho_d)
    assert ref > 0.05
    assert bal.detailed_balance_defect(scaled(driven), rho_d) == pytest.approx(ref, rel=1e-9)
    assert not bal.quantum_detailed_balance(scaled(driven), rho_d)
    assert bal.quantum_detailed_balance(scaled(thermal), rho_t)
    assert not bal.quantum_detailed_balance(scaled(thermal), np.eye(2) / 2)  # not stationary
    K = _three_cycle([2.0, 2.0, 2.0], [0.5, 0.5, 0.5])
    cycle = qness.models.classical.markov_network(
        {(i, j): unit * K[i, j] for i in range(3) for j in range(3) if K[i, j]}
    )
    assert not bal.quantum_detailed_balance(cycle, qness.steady_state(cycle))


def test_quantum_detailed_balance_local_versus_global_two_qubits():
    from qness.models import two_node

    common = dict(omega_h=2.0, omega_c=1.0, g=0.3, gamma_h=0.1, gamma_c=0.1, T_h=0.9, T_c=0.9)
    # Global (Davies) form at one temperature: Gibbs state of H, detailed balance.
    glob = two_node("qubit", form="global", **common)
    rho = dense_steady_state(glob)
    assert bal.quantum_detailed_balance(glob, rho)
    # Local form with detuned qubits: a current flows at equal temperatures.
    loc = two_node("qubit", form="local", **common)
    rho = dense_steady_state(loc)
    assert abs(qness.analysis.heat_currents(loc, rho)["hot"]) > 1e-3
    assert not bal.quantum_detailed_balance(loc, rho)
    # Resonant local form: the product Gibbs state commutes with H, balance holds.
    res = two_node("qubit", form="local", **dict(common, omega_h=1.0))
    assert bal.quantum_detailed_balance(res, dense_steady_state(res))


@pytest.mark.parametrize("balanced", [True, False])
def test_quantum_test_matches_classical_kolmogorov(balanced):
    K = _three_cycle([2.0, 3.0, 0.5], [1.0, 1.0, 3.0] if balanced else [1.0, 1.0, 0.5])
    jumps = []
    for i in range(3):
        for j in range(3):
            if K[i, j] > 0:
                op = np.zeros((3, 3))
                op[j, i] = 1.0  # |j><i|: i -> j
                jumps.append(qness.Jump(op, K[i, j]))
    m = qness.LindbladModel(dims=(3,), H=np.zeros((3, 3)), jumps=tuple(jumps))
    rho = dense_steady_state(m)
    assert np.allclose(np.diag(rho).real, bal.stationary_distribution(K), atol=1e-12)
    assert bal.quantum_detailed_balance(m, rho) == bal.kolmogorov_criterion(K) == balanced


def test_quantum_test_needs_a_faithful_state():
    m = _thermal_qubit()
    with pytest.raises(ValueError, match="full rank"):
        bal.quantum_detailed_balance(m, np.diag([0.0, 1.0]))


@pytest.mark.parametrize("eps", [1e-11, 1e-12, 1e-30])
def test_stationary_distribution_of_stiff_irreducible_networks(eps):
    """An irreducible chain whose rates span 12-30 decades has one stationary distribution; the SVD
    null space with a 1e-12 cut called it not unique (and lost digits at 1e-11). Detailed balance
    gives pi ~ (1, e, e^2) exactly (session-18 review)."""
    K = np.array([[0, 1.0, 0], [np.exp(-1), 0, eps], [0, eps * np.exp(-1), 0]])
    exact = np.array([1.0, np.e, np.e**2]) / (1 + np.e + np.e**2)
    assert np.allclose(bal.stationary_distribution(K), exact, rtol=1e-14, atol=0)


def test_stationary_distribution_transient_states_and_closed_classes():
    K = np.zeros((3, 3))
    K[0, 1], K[1, 2], K[2, 1] = 1.0, 1.0, 2.0  # state 0 transient
    assert np.allclose(bal.stationary_distribution(K), [0.0, 2 / 3, 1 / 3], rtol=1e-15)
    K = np.zeros((4, 4))
    K[0, 1] = K[1, 0] = K[2, 3] = K[3, 2] = 1.0
    with pytest.raises(ValueError, match="not unique .2 closed classes"):
        bal.stationary_distribution(K)
