"""The physics that QuTiP's own steady-state suite checks, as qness tests of our own.

(QuTiP's file itself runs against qness through tests/qutip_adapter.py; these are the same
physical checks written for qness's API, every steady-state route.)
"""

import math

import numpy as np
import pytest
import qutip

import qness

ROUTES = [
    qness.Dense(),
    qness.Direct(),
    qness.Direct(backend="superlu"),
    qness.Krylov(),
    qness.Krylov(solver="lgmres", rtol=1e-10),
    qness.Krylov(solver="bicgstab", rtol=1e-10),
    qness.Krylov(preconditioner="ilu"),
    qness.Evolve(),
]
IDS = ["dense", "direct", "superlu", "gmres", "lgmres", "bicgstab", "ilu", "evolve"]


@pytest.mark.parametrize("method", ROUTES, ids=IDS)
@pytest.mark.parametrize("dtype", ["dense", "dia", "csr"])
def test_thermal_qubit_populations(method, dtype):
    # H = (omega/2) sigma_z with omega = 2 pi, decay gamma (1 + n_th), absorption gamma n_th:
    # the excited population is the Gibbs value exp(-omega/T) / (1 + exp(-omega/T)), with
    # omega / T = 1 / w_th in QuTiP's units
    sz, sm = qutip.sigmaz().to(dtype), qutip.destroy(2, dtype=dtype)
    H = math.pi * sz
    for wth in (0.1, 0.7, 3.0):
        n_th = 1.0 / math.expm1(1.0 / wth)
        c_ops = [math.sqrt(0.05 * (1 + n_th)) * sm, math.sqrt(0.05 * n_th) * sm.dag()]
        ness = qness.steady_state((H, c_ops), method)
        p = ness.expect(sm.dag() * sm)
        assert p == pytest.approx(math.exp(-1 / wth) / (1 + math.exp(-1 / wth)), abs=1e-9)


@pytest.mark.parametrize("method", [qness.Dense(), qness.Direct(), qness.Evolve(atol=1e-14)], ids=str)
def test_weighted_trace_row_resolves_a_tiny_population(method):
    # H = 1, decay 1, pumping rate 1e-10: rho = diag(1e-10, 1) to 1e-14 (needs a well-weighted
    # trace condition: the pumping is 10 orders of magnitude below the decay)
    ness = qness.steady_state((qutip.qeye(2), [qutip.sigmam(), 1e-5 * qutip.sigmap()]), method)
    np.testing.assert_allclose(ness.rho, np.diag([1e-10, 1.0]), atol=1e-14)
    assert np.trace(ness.rho).real == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("method", ROUTES, ids=IDS)
def test_thermal_oscillator_occupation(method):
    # N = 30 levels; <n> = n_th = 1 / (exp(omega / T) - 1) up to the cutoff's 1e-3
    a = qutip.destroy(30)
    H = math.pi * a.dag() * a
    # (Evolve at one temperature only: propagating to rate 0.05 convergence takes seconds)
    for wth in (1.0,) if isinstance(method, qness.Evolve) else (0.1, 1.0, 3.0):
        n_th = 1.0 / math.expm1(1.0 / wth)
        c_ops = [math.sqrt(0.05 * (1 + n_th)) * a, math.sqrt(0.05 * n_th) * a.dag()]
        ness = qness.steady_state((H, c_ops), method)
        assert ness.expect(a.dag() * a) == pytest.approx(n_th, rel=1e-3, abs=1e-3)


@pytest.mark.parametrize("method", ROUTES, ids=IDS)
def test_driven_cavity_is_the_coherent_state(method):
    # H = Omega (a + a^+), L = sqrt(Gamma) a: coherent state alpha = -i Omega / (Gamma / 2)
    N, Omega, Gamma = 30, 0.02 * math.pi, 0.05
    a = qutip.destroy(N)
    ness = qness.steady_state((Omega * (a + a.dag()), [math.sqrt(Gamma) * a]), method)
    ref = qutip.coherent_dm(N, -1j * Omega / (Gamma / 2)).full()
    np.testing.assert_allclose(ness.rho, ref, atol=1e-6)
    assert np.trace(ness.rho).real == pytest.approx(1.0, abs=1e-10)


def test_degenerate_steady_states_from_an_initial_state():
    # qubit (untouched) x damped cavity: every qubit state is stationary; Evolve keeps the
    # qubit's initial state and empties the cavity
    N = 5
    H = qutip.qeye(2) & qutip.num(N)
    a = qutip.qeye(2) & qutip.destroy(N)
    rho_l = qutip.Qobj(np.array([[0.7, 0.2 - 0.1j], [0.2 + 0.1j, 0.3]]))
    rho_r = qutip.thermal_dm(N, 0.8)
    with pytest.raises(qness.NonUniqueSteadyStateError):
        qness.steady_state((H, [a]))
    with pytest.raises(qness.NonUniqueSteadyStateError, match="verify_unique=False"):
        qness.steady_state((H, [a]), qness.Evolve(rho0=(rho_l & rho_r).full()))
    ness = qness.steady_state((H, [a]), qness.Evolve(rho0=(rho_l & rho_r).full(), verify_unique=False))
    q = ness.to_qobj()
    np.testing.assert_allclose(q.ptrace(0).full(), rho_l.full(), atol=1e-9)
    np.testing.assert_allclose(q.ptrace(1).full(), qutip.fock_dm(N, 0).full(), atol=1e-9)


def test_liouvillian_steady_state_and_pseudo_inverse():
    # the steady state of a Liouvillian Qobj; QuTiP's pseudo-inverse built on it satisfies
    # the Moore-Penrose identities on L
    a = qutip.destroy(4)
    L = qutip.liouvillian(a.dag() + a, [a])
    rho = qness.steady_state(L).to_qobj()
    assert rho.tr() == pytest.approx(1.0, abs=3e-15)
    Lpinv = qutip.pseudo_inverse(L, rho)
    np.testing.assert_allclose((L * Lpinv * L).full(), L.full(), atol=1e-12)
    np.testing.assert_allclose((Lpinv * L * Lpinv).full(), Lpinv.full(), atol=1e-12)


def test_bad_options_and_systems_raise_qutip_types():
    a = qutip.destroy(4)
    H, c_ops = a.dag() + a, [a]
    with pytest.raises(ValueError, match="unknown method"):
        qness.steady_state(H, c_ops, method="not a method")
    with pytest.raises(TypeError, match="bad_opt"):
        qness.steady_state(H, c_ops, method="direct", bad_opt=True)
    with pytest.raises(ValueError, match="backend must be one of"):
        qness.steady_state(H, c_ops, method=qness.Direct(backend="Error"))
    with pytest.raises(TypeError, match="closed system"):
        qness.steady_state(H, [], method="direct")
    with pytest.raises(TypeError, match="type 'ket'"):
        qness.steady_state(qutip.basis(4, 3), [], method="direct")


def test_propagation_that_runs_out_of_time_did_not_converge():
    a = qutip.destroy(4)
    with pytest.raises(RuntimeError, match="(?i)did not converge"):
        qness.steady_state((a.dag() + a, [a]), qness.Evolve(dt=0.1, t_max=0.1))
