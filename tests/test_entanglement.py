"""Entanglement measures against states with known values (all in bits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip
from helpers import dense_steady_state

import qness
from qness.analysis import entanglement as ent


def _ket_dm(psi):
    psi = np.asarray(psi, dtype=complex)
    psi = psi / np.linalg.norm(psi)
    return np.outer(psi, psi.conj())


def _random_dm(d, rank=None, seed=0):
    rng = np.random.default_rng(seed)
    rank = rank or d
    G = rng.normal(size=(d, rank)) + 1j * rng.normal(size=(d, rank))
    rho = G @ G.conj().T
    return rho / np.trace(rho)


BELL = _ket_dm([1, 0, 0, 1])


def test_bell_state_values():
    assert ent.log_negativity(BELL, [2, 2], [0]) == pytest.approx(1.0, abs=1e-12)
    assert ent.negativity(BELL, [2, 2], [1]) == pytest.approx(0.5, abs=1e-12)
    assert ent.concurrence(BELL) == pytest.approx(1.0, abs=1e-12)
    assert ent.entanglement_of_formation(BELL) == pytest.approx(1.0, abs=1e-12)
    assert ent.mutual_information(BELL, [2, 2], [0], [1]) == pytest.approx(2.0, abs=1e-12)
    assert ent.entropy(ent.ptrace(BELL, [2, 2], [0])) == pytest.approx(1.0, abs=1e-12)
    assert ent.entropy(BELL) == pytest.approx(0.0, abs=1e-12)
    # nats on request
    assert ent.mutual_information(BELL, [2, 2], [0], [1], base=math.e) == pytest.approx(2 * math.log(2))


def test_product_states_have_zero_correlations():
    r1, r2 = _random_dm(2, seed=1), _random_dm(3, seed=2)
    rho = np.kron(r1, r2)
    assert abs(ent.mutual_information(rho, [2, 3], [0], [1])) < 1e-12
    assert abs(ent.log_negativity(rho, [2, 3], [0])) < 1e-12
    q = np.kron(_random_dm(2, seed=3), _random_dm(2, seed=4))
    assert abs(ent.concurrence(q)) < 1e-12
    assert abs(ent.entanglement_of_formation(q)) < 1e-12


def test_werner_state_concurrence_and_negativity():
    # rho = p |Bell><Bell| + (1-p) I/4: C = max(0, (3p-1)/2), E_N = log2((1+3p)/2) for p > 1/3.
    for p in (0.2, 1 / 3, 0.5, 0.9):
        rho = p * BELL + (1 - p) * np.eye(4) / 4
        assert ent.concurrence(rho) == pytest.approx(max(0.0, (3 * p - 1) / 2), abs=1e-12)
        assert ent.log_negativity(rho, [2, 2], [0]) == pytest.approx(
            max(0.0, math.log2((1 + 3 * p) / 2)), abs=1e-12
        )


def test_ptrace_mixed_dims_agrees_with_qutip():
    dims = [2, 3, 2]
    rho = _random_dm(12, seed=5)
    q = qutip.Qobj(rho, dims=[dims, dims])
    for keep in ([0], [1], [2], [0, 2], [1, 2], [0, 1, 2]):
        assert np.allclose(ent.ptrace(rho, dims, keep), q.ptrace(keep).full(), atol=1e-14)
    # The Qobj itself is accepted too.
    assert np.allclose(ent.ptrace(q, dims, [1]), q.ptrace(1).full(), atol=1e-14)


def test_partial_transpose_agrees_with_qutip():
    dims = [2, 3]
    rho = _random_dm(6, seed=6)
    q = qutip.Qobj(rho, dims=[dims, dims])
    assert np.allclose(ent.partial_transpose(rho, dims, [0]), qutip.partial_transpose(q, [1, 0]).full())
    assert np.allclose(ent.partial_transpose(rho, dims, [1]), qutip.partial_transpose(q, [0, 1]).full())


def test_renyi_entropies():
    p = np.array([0.5, 0.25, 0.25])
    rho = np.diag(p)
    assert ent.entropy(rho) == pytest.approx(1.5)
    assert ent.entropy(rho, alpha=2) == pytest.approx(-math.log2(np.sum(p**2)))
    assert ent.entropy(rho, alpha=0) == pytest.approx(math.log2(3))
    assert ent.entropy(rho, alpha=np.inf) == pytest.approx(1.0)
    assert ent.entropy(rho, alpha=1 + 1e-7) == pytest.approx(1.5, abs=1e-6)
    assert ent.entropy(np.eye(8) / 8) == pytest.approx(3.0)


def test_ghz_profile_and_mi_matrix():
    n = 4
    psi = np.zeros(2**n)
    psi[0] = psi[-1] = 1
    rho = _ket_dm(psi)
    prof = ent.entanglement_profile(rho, [2] * n)
    assert list(prof.cut) == [1, 2, 3]
    assert np.allclose(prof.entropy_left, 1.0)
    assert np.allclose(prof.entropy_right, 1.0)
    assert np.allclose(prof.mutual_information, 2.0)
    assert np.allclose(prof.log_negativity, 1.0)
    M = ent.mutual_information_matrix(rho, [2] * n)
    # Two sites of a GHZ state are classically correlated: I = 1 bit.
    assert np.allclose(M, 1.0 - np.eye(n))


def test_xx_chain_ness_correlations_are_consistent():
    b = qness.ModelBuilder(2, n=4)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    b.add_jump("sigmap", 1.0, sites=[0])
    b.add_jump("sigmam", 1.0, sites=[3])
    rho = dense_steady_state(b.build())
    prof = ent.entanglement_profile(rho, [2] * 4)
    i_mid = ent.mutual_information(rho, [2] * 4, [0, 1], [2, 3])
    assert prof.mutual_information[1] == pytest.approx(i_mid, abs=1e-12)
    assert i_mid > 1e-3
    assert np.all(prof.log_negativity >= 0)
    # Strong subadditivity-type bound: I(0:23) <= I(0:123).
    assert (
        ent.mutual_information(rho, [2] * 4, [0], [2, 3])
        <= ent.mutual_information(rho, [2] * 4, [0], [1, 2, 3]) + 1e-12
    )


@pytest.mark.parametrize(
    "rho, dims, match",
    [
        (np.eye(4) / 4, [2, 3], "has dimension 4 but dims"),
        (np.array([[0.5, 0.3], [0.0, 0.5]]), [2], "not Hermitian"),
        (np.eye(2), [2], "unit trace"),
        (np.ones((2, 3)), [2], "square"),
    ],
)
def test_validation(rho, dims, match):
    with pytest.raises(ValueError, match=match):
        ent.ptrace(rho, dims, [0])


def test_validation_regions_and_concurrence_shape():
    with pytest.raises(ValueError, match="overlap"):
        ent.mutual_information(BELL, [2, 2], [0], [0])
    with pytest.raises(ValueError, match="out of range"):
        ent.log_negativity(BELL, [2, 2], [2])
    with pytest.raises(ValueError, match="two-qubit"):
        ent.concurrence(np.eye(3) / 3)
    with pytest.raises(ValueError, match="alpha"):
        ent.entropy(BELL, alpha=-1)


def test_profile_log_negativity_in_the_base_asked_for():
    # the log-negativity was always in bits, whatever `base` said (session-13 review)
    bell = np.zeros((4, 4))
    bell[np.ix_([0, 3], [0, 3])] = 0.5
    bits = ent.entanglement_profile(bell, [2, 2])
    nats = ent.entanglement_profile(bell, [2, 2], base=math.e)
    assert bits.log_negativity[0] == pytest.approx(1.0)
    assert nats.log_negativity[0] == pytest.approx(math.log(2))
    assert nats.mutual_information[0] == pytest.approx(2 * math.log(2))
    assert nats.log_negativity[0] == pytest.approx(ent.log_negativity(bell, [2, 2], [0]) * math.log(2))


def qubit_cavity_ness():
    a = qutip.tensor(qutip.qeye(2), qutip.destroy(4))
    sm = qutip.tensor(qutip.sigmam(), qutip.qeye(4))
    H = (
        qutip.tensor(qutip.sigmaz(), qutip.qeye(4))
        + 0.5 * (sm.dag() * a + sm * a.dag())
        + 0.4 * (a + a.dag())
    )
    return qness.steady_state(qness.from_qutip(H, [sm, 0.5 * a])), qutip.steadystate(H, [sm, 0.5 * a])


def test_dims_default_to_the_states_own_and_a_conflicting_order_is_refused():
    # review (session 14): negativity(ness, (4, 2), [0]) on a (qubit, cavity) state read the
    # factors in the wrong order and gave 0.073 for 0.0556 (mutual information 0.143 for 0.104)
    ness, ref = qubit_cavity_ness()
    want_n = 0.5 * (np.sum(np.abs(np.linalg.eigvalsh(qutip.partial_transpose(ref, [1, 0]).full()))) - 1)
    S = [qutip.entropy_vn(ref.ptrace(k), base=2) for k in (0, 1)]
    want_i = S[0] + S[1] - qutip.entropy_vn(ref, base=2)
    for state in (ness, ness.to_qobj()):
        assert ent.negativity(state, part=[0]) == pytest.approx(want_n, abs=1e-8)
        assert ent.negativity(state, (2, 4), [0]) == pytest.approx(want_n, abs=1e-8)
        assert ent.mutual_information(state, a=[0], b=[1]) == pytest.approx(want_i, abs=1e-8)
        np.testing.assert_allclose(ent.ptrace(state, keep=[0]), ref.ptrace(0).full(), atol=1e-8)
        for call, args in (
            (ent.negativity, ((4, 2), [0])),
            (ent.mutual_information, ((4, 2), [0], [1])),
            (ent.entanglement_profile, ((4, 2),)),
        ):
            with pytest.raises(ValueError, match=r"conflict with the state's own dims \(2, 4\)"):
                call(state, *args)
    # QuTiP's operator dims are read as a model's dims= are (one parser: they were refused here)
    assert ent.negativity(ness, [[2, 4], [2, 4]], [0]) == pytest.approx(want_n, abs=1e-8)
    assert ent.negativity(ness.rho, [[2, 4], [2, 4]], [0]) == pytest.approx(want_n, abs=1e-8)
    with pytest.raises(ValueError, match="different row and column factors"):
        ent.negativity(ness.rho, [[2, 4], [4, 2]], [0])
    with pytest.raises(ValueError, match=r"conflict with the state's own dims \(2, 4\)"):
        ent.negativity(ness, [[4, 2], [4, 2]], [0])
    with pytest.raises(TypeError, match="local dimensions"):
        ent.negativity(ness.rho, (2.0, 4.0), [0])
    with pytest.raises(TypeError, match="'keep'"):
        ent.ptrace(ness)
    # an array has no structure of its own: the dims given are taken
    assert ent.negativity(ness.rho, (2, 4), [0]) == pytest.approx(want_n, abs=1e-8)


def test_a_space_that_is_not_a_tensor_product_is_refused():
    # an excitation-number restricted space (qutip.enr_destroy) has no sites to trace out
    d, e = qutip.enr_destroy([3, 3], 2)
    H = d.dag() * d + e.dag() * e + 0.3 * (d.dag() * e + e.dag() * d) + 0.4 * (d + d.dag())
    ness = qness.steady_state((H, [np.sqrt(0.5) * d, np.sqrt(0.3) * e]))
    for state in (ness, ness.to_qobj()):
        with pytest.raises(ValueError, match="not a tensor product"):
            ent.ptrace(state, keep=[0])
    assert ent.entropy(ness) == pytest.approx(qutip.entropy_vn(ness.to_qobj(), base=2), abs=1e-10)


def test_kets_are_taken_as_pure_states():
    # QuTiP's concurrence / entropy_vn / ptrace take a ket; these refused (4, 1) as "not square"
    from qness.analysis import entanglement as E

    bell = qutip.bell_state("00")
    dm = qutip.ket2dm(bell)
    assert E.concurrence(bell) == pytest.approx(1.0, abs=1e-12) == E.concurrence(dm)
    assert E.negativity(bell, part=[0]) == pytest.approx(E.negativity(dm, part=[0]), abs=1e-14)
    assert E.negativity(bell.full().ravel(), dims=(2, 2), part=[0]) == pytest.approx(0.5, abs=1e-12)
    assert E.entropy(bell) == pytest.approx(0.0, abs=1e-12)


def test_entropies_refuse_matrices_that_are_not_states():
    """diag(1.2, -0.2) has unit trace and is Hermitian, but is no state: its entropy was 0 (the
    negative eigenvalue clipped), and a Bell state's partial transpose got entropy log2(3)."""
    from qness.analysis import entanglement as E

    with pytest.raises(ValueError, match="not positive semidefinite"):
        E.entropy(np.diag([1.2, -0.2]))
    bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
    pt = E.partial_transpose(np.outer(bell, bell), [2, 2], 0)
    with pytest.raises(ValueError, match="not positive semidefinite"):
        E.mutual_information(pt, [2, 2], 0, 1)
    # rounding-level negative eigenvalues of a computed state are accepted
    assert E.entropy(np.diag([1.0 + 1e-13, -1e-13])) == pytest.approx(0.0, abs=1e-11)
