"""What a QuTiP user passes in: Liouvillians, time dependence, ENR spaces, NaN, rate matrices,
baths, call shapes and exception types (issue 13, "Inputs")."""

import math

import numpy as np
import pytest
import qutip
import scipy.linalg as sla
import scipy.sparse as sp

import qness
from qness.solvers.superop import graph_components

# ------------------------------------------------------------------ fixtures


def detuned_cavity(N=8, delta=0.7, F=0.4, kappa=1.0):
    a = qutip.destroy(N)
    return delta * a.dag() * a + F * (a + a.dag()), [math.sqrt(kappa) * a]


def two_qubits_collective():
    sm1 = qutip.tensor(qutip.sigmam(), qutip.qeye(2))
    sm2 = qutip.tensor(qutip.qeye(2), qutip.sigmam())
    H = 0.5 * qutip.tensor(qutip.sigmax(), qutip.qeye(2)) + 0.3 * qutip.tensor(qutip.qeye(2), qutip.sigmaz())
    return H, sm1, sm2


def dense_null_state(L: np.ndarray, d: int) -> np.ndarray:
    """Independent oracle: the null vector of a dense Liouvillian (SVD), trace 1."""
    _, s, vh = sla.svd(L)
    assert s[-1] < 1e-10 * s[0] and s[-2] > 1e-8 * s[0]
    rho = vh[-1].conj().reshape((d, d), order="F")
    return rho / np.trace(rho)


# ------------------------------------------------------------------ superoperators


def test_liouvillian_qobj_gives_the_steady_state_of_H_and_c_ops():
    H, c_ops = detuned_cavity()
    L = qutip.liouvillian(H, c_ops)
    ness = qness.steady_state(L)
    oracle = dense_null_state(L.full(), 8)
    assert np.abs(ness.rho - oracle).max() < 1e-10
    assert np.abs(ness.rho - qness.steady_state((H, c_ops)).rho).max() < 1e-10
    assert ness.dims == (8,)
    assert ness.to_qobj().dims == [[8], [8]]
    # the matrix itself, and its action, come back unchanged
    assert np.abs(qness.liouvillian(L).toarray() - L.full()).max() == 0.0
    v = np.arange(64.0) + 1j
    assert np.abs(qness.liouvillian_operator(L) @ v - L.full() @ v).max() < 1e-12


@pytest.mark.parametrize("method", ["dense", "direct", "krylov", "evolve"])
def test_liouvillian_every_steady_state_route(method):
    H, c_ops = detuned_cavity(N=6)
    L = qutip.liouvillian(H, c_ops)
    ness = qness.steady_state(L, method)
    assert np.abs(ness.rho - dense_null_state(L.full(), 6)).max() < 1e-8
    if method == "krylov":
        # the Sylvester preconditioner needs H_eff; the bare matrix is preconditioned by ILU
        assert "ilu" in ness.info["superoperator"]


def test_liouvillian_graph_sectors_agree_with_the_full_matrix():
    # a detuned driven cavity has no U(1) symmetry (the drive breaks it) -> one component;
    # a thermal cavity has one: the components are the sectors n_left - n_right = q
    N = 6
    a = qutip.destroy(N)
    L = qutip.liouvillian(0.8 * a.dag() * a, [math.sqrt(1.3) * a, math.sqrt(0.4) * a.dag()])
    model = qness.as_model(L)
    steady, other = graph_components(model)
    assert len(steady) == 1 and len(steady[0]) == N  # the diagonal q = 0
    assert sorted(len(c) for c in other) == sorted([N - abs(q) for q in range(-N + 1, N) if q])
    by_sector = qness.steady_state(model)
    full = qness.steady_state(model, symmetry=None)
    assert by_sector.info["sector"]["size"] == N and full.info["sector"]["size"] == N * N
    assert np.abs(by_sector.rho - full.rho).max() < 1e-12
    spec_sec = qness.spectrum(model, k=8, method="dense")
    spec_full = qness.spectrum(model, k=8, method="dense", symmetry=None)
    exact = np.sort_complex(np.linalg.eigvals(L.full()))
    exact = exact[np.argsort(-exact.real, kind="stable")][:8]
    assert np.allclose(np.sort(spec_sec.eigenvalues.real), np.sort(spec_full.eigenvalues.real), atol=1e-10)
    assert np.allclose(np.sort(spec_sec.eigenvalues.real), np.sort(exact.real), atol=1e-10)
    assert qness.liouvillian_gap(L) == pytest.approx(-exact[1].real, rel=1e-9)
    assert spec_sec.gap == pytest.approx(spec_full.gap, rel=1e-10)


def test_liouvillian_spectrum_matches_model_spectrum():
    H, c_ops = detuned_cavity(N=20)
    L = qutip.liouvillian(H, c_ops)
    a = qness.spectrum(L, k=6).eigenvalues
    b = qness.spectrum((H, c_ops), k=6).eigenvalues
    assert np.allclose(a, b, atol=1e-9)
    # damped cavity: gap kappa / 2 (up to the cutoff's effect, ~1e-12 at 20 levels)
    assert qness.liouvillian_gap(L) == pytest.approx(0.5, rel=1e-9)


def test_piqs_dicke_liouvillian():
    from qutip import piqs

    N = 4
    system = piqs.Dicke(N, hamiltonian=piqs.jspin(N, "x", basis="dicke"), emission=1.0, dephasing=0.4)
    L = system.liouvillian()
    # (the full matrix is not of Lindblad form: its unused coherences are conserved; session 21 says so)
    with pytest.warns(qness.UniquenessWarning, match="not of Lindblad form"):
        ness = qness.steady_state(L)
    # piqs leaves the unknowns it does not use (coherences between j blocks) as zero rows, so
    # the full matrix has a 3-dimensional kernel and QuTiP's default direct solve reports it
    # singular; the graph components separate them from the 35 unknowns of the steady block
    assert ness.info["sector"]["size"] == 35
    # oracle: evolve the fully excited Dicke state for a long time with the dense propagator
    # (QuTiP's method="eigen" returns a mixture with the spurious kernel: not positive)
    rho0 = np.zeros((9, 9))
    rho0[0, 0] = 1.0
    late = (sla.expm(400.0 * L.full()) @ rho0.ravel(order="F")).reshape((9, 9), order="F")
    # piqs's matrix loses trace at a relative rate ~1e-8: renormalise the evolved state
    assert np.abs(ness.rho - late / np.trace(late)).max() < 1e-8
    assert ness.min_eigenvalue > 0
    with pytest.warns(qness.UniquenessWarning, match="not of Lindblad form"):
        assert np.abs(qness.steady_state(L, "direct").rho - ness.rho).max() < 1e-10


def test_hermitian_superoperator_is_not_taken_as_a_hamiltonian():
    # pure dephasing: L = diag(0, -2, -2, 0) is Hermitian, and has two steady states
    L = qutip.liouvillian(0 * qutip.sigmaz(), [qutip.sigmaz()])
    model = qness.as_model(L)
    assert isinstance(model, qness.SuperoperatorModel) and model.dims == (2,)
    with pytest.raises(qness.NonUniqueSteadyStateError, match="at least 2 steady states"):
        qness.steady_state(L)
    states = qness.steady_states(L)
    assert [np.real(np.diag(s.rho)).round(12).tolist() for s in states] == [[1, 0], [0, 1]]
    assert qness.liouvillian_gap(L, method="dense") == 0.0


def test_superoperator_as_H_is_refused():
    L = qutip.liouvillian(qutip.sigmax(), [qutip.sigmam()])
    with pytest.raises(TypeError, match="superoperator"):
        qness.steady_state((L, []))
    with pytest.raises(TypeError, match="superoperator"):
        qness.from_qutip(L, [])


def test_superoperators_among_c_ops_are_added_as_qutip_mesolve_does():
    # session 15: c_ops mixing jump operators and superoperators (qutip.mesolve takes them) were
    # refused with "pass a Liouvillian alone"; they are added to the Liouvillian as they are
    H, c, D = qutip.sigmax(), qutip.sigmam(), qutip.lindblad_dissipator(qutip.sigmaz())
    want = qutip.steadystate(qutip.liouvillian(H, [c]) + D).full()
    rho_t = qutip.mesolve(H, qutip.fock_dm(2, 0), [0, 60], [c, D]).states[-1].full()
    assert np.abs(rho_t - want).max() < 1e-6  # the meaning qutip.mesolve gives them
    for model in ((H, [c, D]), (H, [D, c]), (H.full(), [c.full(), D])):
        ness = qness.steady_state(model)
        assert isinstance(qness.as_model(model), qness.SuperoperatorModel)
        np.testing.assert_allclose(ness.rho, want, atol=1e-12)
    np.testing.assert_allclose(qness.steady_state(qutip.liouvillian(H, [c]), [D]).rho, want, atol=1e-12)
    # tensor factors: from the Qobj, also when H and the jumps are arrays
    a = qutip.tensor(qutip.destroy(3), qutip.qeye(2))
    s = qutip.tensor(qutip.qeye(3), qutip.sigmam())
    H2 = a.dag() * a + 0.5 * (a * s.dag() + a.dag() * s) + 0.3 * (a + a.dag())
    D2 = qutip.lindblad_dissipator(0.4 * s.dag() * s)
    want2 = qutip.steadystate(qutip.liouvillian(H2, [0.5 * a, s]) + D2).full()
    for model in ((H2, [0.5 * a, D2, s]), (H2.full(), [(0.5 * a).full(), D2, s.full()])):
        ness = qness.steady_state(model)
        assert ness.dims == (3, 2)
        np.testing.assert_allclose(ness.rho, want2, atol=1e-12)
    # disagreements are named by the user's own indices
    swapped = qutip.lindblad_dissipator(qutip.tensor(qutip.qeye(2), qutip.destroy(3)))
    with pytest.raises(ValueError, match=r"c_ops\[1\] has dims \[\[2, 3\], \[2, 3\]\], H has \[\[3, 2\]"):
        qness.steady_state((H2, [s, swapped]))
    with pytest.raises(
        ValueError,
        match=r"c_ops\[1\] is a superoperator of shape \(9, 9\); on the space of H \(dimension 2\) "
        r"it must be 4 x 4",
    ):
        qness.steady_state((H.full(), [c.full(), qutip.lindblad_dissipator(qutip.destroy(3))]))
    # a superoperator in a constant QobjEvo or a list (review 15: "pass (H, c_ops) to steady_state")
    for wrapped in (qutip.QobjEvo(D), [D]):
        np.testing.assert_allclose(qness.steady_state((H, [c, wrapped])).rho, want, atol=1e-12)
    # functions that need the jump operators say why the tuple gave none (review 15)
    from qness.analysis import cumulants, emission_spectrum

    why = r"c_ops\[1\], so the model is the Liouvillian matrix .* without jump operators"
    with pytest.raises(TypeError, match=why):
        cumulants((H, [c, D]), counted={0: 1})
    with pytest.raises(TypeError, match=why):
        emission_spectrum((H, [c, D]), c, [0.0, 1.0])
    with pytest.raises(TypeError, match="a bare Liouvillian has no Hamiltonian or jump operators"):
        cumulants(qutip.liouvillian(H, [c]), counted={0: 1})
    # from_qutip builds a Lindblad model: it says where such c_ops go
    with pytest.raises(
        TypeError, match=r"c_ops\[1\] is a superoperator .*pass \(H, c_ops\) to qness.steady_state"
    ):
        qness.from_qutip(H, [c, D])


def test_sparse_liouvillian_with_dims_and_extra_jumps():
    H, s1, s2 = two_qubits_collective()
    L = qutip.liouvillian(H, [s1]).data_as("csr_matrix")
    model = qness.from_liouvillian(L, [s2.full()], dims=(2, 2))
    ref = qness.steady_state((H, [s1, s2]))
    ness = qness.steady_state(model)
    assert ness.dims == (2, 2) and ness.to_qobj().dims == [[2, 2], [2, 2]]
    assert np.abs(ness.rho - ref.rho).max() < 1e-10
    # a bare square sparse matrix is a Liouvillian on sqrt(size) states
    assert qness.as_model(sp.csr_array(L)).dims == (4,)


def test_matrix_that_is_not_a_liouvillian_is_refused():
    with pytest.raises(ValueError, match="does not preserve the trace"):
        qness.steady_state(np.diag([0.0, -1.0, -1.0, -1.0]))
    with pytest.raises(ValueError, match="not a square"):
        qness.from_liouvillian(np.zeros((6, 6)))
    with pytest.raises(TypeError, match="superoperator"):
        qness.from_liouvillian(qutip.sigmaz())


def test_a_channel_is_named_as_such_and_row_stacking_is_not_claimed_to_be_caught():
    # review 14b: L.expm() and to_super(U) were refused with "L does not preserve the trace"
    L = qutip.liouvillian(qutip.sigmax(), [qutip.sigmam()])
    for M in ((0.1 * L).expm(), qutip.to_super(qutip.sigmax()), (0.1 * L).expm().full()):
        with pytest.raises(ValueError, match="L looks like a quantum channel .* not a Liouvillian.*M - 1"):
            qness.steady_state(M)
    # its fixed point is the steady state of the generator M - 1, as the message says
    M = (0.1 * L).expm()
    np.testing.assert_allclose(qness.steady_state(M - 1).rho, qness.steady_state(L).rho, atol=1e-12)
    with pytest.raises(ValueError, match="does not preserve the trace .*not the generator"):
        qness.steady_state(np.diag([0.0, -1.0, -1.0, -1.0]))
    # a row-stacked generator P L P passes the trace check (it generates rho^T): documented, not detected
    P = np.zeros((4, 4))
    for i in range(2):
        for j in range(2):
            P[i * 2 + j, j * 2 + i] = 1
    ness = qness.steady_state(P @ L.full() @ P)
    np.testing.assert_allclose(ness.rho, qness.steady_state(L).rho.T, atol=1e-12)
    assert "Column stacking is assumed and cannot be detected" in qness.SuperoperatorModel.__doc__


def test_qutip_steadystate_call_shape_with_a_liouvillian_and_c_ops():
    # review 14b: steady_state(L, c_ops) said "H is a superoperator"; qutip.steadystate(L, c_ops) adds
    # the dissipators of c_ops to L
    H, c_ops = detuned_cavity(N=5)
    ref = qutip.steadystate(H, c_ops).full()
    L = qutip.liouvillian(H)
    np.testing.assert_allclose(qutip.steadystate(L, c_ops).full(), ref, atol=1e-10)  # QuTiP's meaning
    np.testing.assert_allclose(qness.steady_state(L, c_ops).rho, ref, atol=1e-10)
    np.testing.assert_allclose(qness.steady_state(L, c_ops, "dense").rho, ref, atol=1e-10)
    with pytest.raises(TypeError, match=r"first entry of \(H, c_ops\) is a superoperator \(a Liouvillian"):
        qness.steady_state((L, c_ops))


def test_a_list_of_superoperators_is_one_liouvillian():
    # review 14b: "got a list of operators (QuTiP sums it as one Hamiltonian)" for superoperators
    H, c_ops = detuned_cavity(N=5)
    parts = [-1j * qutip.spre(H), 1j * qutip.spost(H), qutip.lindblad_dissipator(c_ops[0])]
    ref = qness.steady_state((H, c_ops)).rho
    np.testing.assert_allclose(qness.steady_state(parts).rho, ref, atol=1e-12)
    assert qness.as_model(parts).dims == (5,)
    with pytest.raises(TypeError, match="got a list of operators"):  # operators still are not a model
        qness.steady_state([H, c_ops[0]])


def test_liouvillian_krylov_preconditioner_routes():
    L = qutip.liouvillian(*detuned_cavity(N=10))
    with pytest.raises(ValueError, match="Sylvester"):
        qness.spectrum(L, k=2, method=qness.ShiftInvert(inner="krylov"))
    with pytest.warns(qness.SpectrumWarning, match="nearest its shift"):
        vals = qness.spectrum(L, k=4, method="shift-invert").eigenvalues
    ref = qness.spectrum(L, k=4, method="dense").eigenvalues
    assert max(np.min(np.abs(ref - v)) for v in vals) < 1e-8
    assert max(np.min(np.abs(vals - v)) for v in ref) < 1e-8


# ------------------------------------------------------------------ time dependence


@pytest.mark.filterwarnings("ignore:`cython`:UserWarning")  # QuTiP compiling a string coefficient
def test_time_dependent_input_is_refused_with_the_way_out():
    H0, sx, sm = qutip.sigmaz(), qutip.sigmax(), qutip.sigmam()
    cases = [
        ([H0, [sx, "cos(t)"]], [sm]),
        ([H0, [sx, lambda t, args: np.cos(t)]], [sm]),
        (qutip.QobjEvo([H0, [sx, "cos(t)"]]), [sm]),
        (H0, [[sm, "exp(-t)"]]),
        (H0, [qutip.QobjEvo([[sm, "exp(-t)"]])]),
        (H0, [[sm, np.linspace(0, 1, 10)]]),
    ]
    for H, c_ops in cases:
        with pytest.raises(TypeError, match="time-dependent") as err:
            qness.steady_state((H, c_ops))
        msg = str(err.value)
        assert "rotating frame" in msg and "qness.floquet_steady_state" in msg
    with pytest.raises(TypeError, match="time-dependent"):
        qness.steady_state(qutip.QobjEvo([H0, [sx, "cos(t)"]]))


# ------------------------------------------------------------------ ENR spaces


def test_enr_operators_solved_as_one_flat_space():
    # the example: 6 two-level modes, at most one excitation (7 states)
    a = qutip.enr_destroy([2] * 6, excitations=1)
    H = sum(a[i].dag() * a[i + 1] + a[i + 1].dag() * a[i] for i in range(5))
    c_ops = [math.sqrt(0.5) * a[0].dag(), math.sqrt(0.7) * a[5]]
    ness = qness.steady_state((H, c_ops))
    assert ness.rho.shape == (7, 7) and ness.dims == (7,)
    ref = dense_null_state(qutip.liouvillian(H, c_ops).full(), 7)
    assert np.abs(ness.rho - ref).max() < 1e-10
    q = ness.to_qobj()
    assert q.dims == H.dims and q.shape == (7, 7)
    n5 = a[5].dag() * a[5]
    assert qutip.expect(n5, q) == pytest.approx(ness.expect(n5), abs=1e-12)
    assert ness.expect(n5) == pytest.approx(np.real(np.trace(n5.full() @ ref)), abs=1e-10)


def test_enr_liouvillian_keeps_its_dims():
    # the state of qutip.liouvillian(H, c_ops) on an ENR space came back with dims [[10], [10]], so
    # qutip.expect with the model's own operators raised (new-user review, session 12)
    a1, a2 = qutip.enr_destroy([4, 4], 3)
    H = a1.dag() * a1 + 1.3 * a2.dag() * a2 + 0.4 * (a1.dag() * a2 + a2.dag() * a1) + 0.5 * (a1 + a1.dag())
    c_ops = [math.sqrt(0.7) * a1, math.sqrt(0.3) * a2]
    ref = qness.steady_state((H, c_ops)).to_qobj()
    for ness in [
        qness.steady_state(qutip.liouvillian(H, c_ops)),
        qness.asymptotic_state(qutip.liouvillian(H, c_ops), ref),
    ]:
        q = ness.to_qobj()
        assert q.dims == H.dims
        n1 = a1.dag() * a1
        assert qutip.expect(n1, q) == pytest.approx(qutip.expect(n1, ref), abs=1e-10)


def test_enr_model_to_qutip_keeps_its_dims():
    # review 14b: model.to_qutip() on an ENR model gave dims [[6], [6]] while the state kept ENR dims
    d, e = qutip.enr_destroy([3, 3], 2)
    H = d.dag() * d + e.dag() * e + 0.3 * (d.dag() * e + e.dag() * d) + 0.2 * (d + d.dag())
    c_ops = [math.sqrt(0.5) * d, math.sqrt(0.3) * e]
    m = qness.from_qutip(H, c_ops)
    H2, c2 = m.to_qutip()
    assert H2.dims == H.dims and all(x.dims == H.dims for x in c2)
    assert (H2 - H).norm() < 1e-14 and max((x - y).norm() for x, y in zip(c2, c_ops)) < 1e-14
    ref = qutip.steadystate(H2, c2)  # QuTiP takes them back, with its own operators
    assert qutip.expect(d.dag() * d, ref) == pytest.approx(
        qness.steady_state(m).expect(d.dag() * d), abs=1e-9
    )
    assert qness.from_qutip(qutip.sigmaz(), [qutip.sigmam()]).to_qutip()[0].dims == [[2], [2]]


# ------------------------------------------------------------------ NaN inside a Qobj


def test_non_finite_entries_rejected_for_every_input_type():
    nan_diag = np.diag([0, np.nan, 1, 2, 3])
    a = qutip.destroy(5)
    # (QuTiP's own conversion, Qobj(...).to("csr"), drops the NaN before qness sees it)
    for H in (qutip.Qobj(nan_diag), nan_diag, sp.csr_array(nan_diag), qutip.Qobj(nan_diag).to("dia")):
        with pytest.raises(ValueError, match="H has non-finite"):
            qness.steady_state((H, [a]))
    for bad in (np.nan * a, (np.inf * a).to("dense"), np.nan * a.full(), qutip.Qobj(nan_diag)):
        with pytest.raises(ValueError, match=r"c_ops\[0\] has non-finite"):
            qness.steady_state((a.dag() * a, [bad]))
    L = qutip.liouvillian(a.dag() * a, [a])
    with pytest.raises(ValueError, match="L has non-finite"):
        qness.steady_state(L * np.nan)
    with pytest.raises(ValueError, match=r"rates\[0\] must be finite"):
        qness.from_qutip(a.dag() * a, [a], rates=[np.nan])
    with pytest.raises(ValueError, match="rates has non-finite"):
        qness.from_qutip(a.dag() * a, [a, a.dag()], rates=[[1, np.nan], [np.nan, 1]])


# ------------------------------------------------------------------ rate matrices and baths


def kossakowski_liouvillian(H, ops, gamma) -> np.ndarray:
    """Independent oracle: sum_ij gamma_ij (A_i . A_j^+ - 1/2 {A_j^+ A_i, .}) by numpy.kron."""
    d = H.shape[0]
    eye = np.eye(d)
    L = -1j * (np.kron(eye, H) - np.kron(H.T, eye))
    for i, Ai in enumerate(ops):
        for j, Aj in enumerate(ops):
            g = gamma[i, j]
            AjdAi = Aj.conj().T @ Ai
            L += g * (np.kron(Aj.conj(), Ai) - 0.5 * (np.kron(eye, AjdAi) + np.kron(AjdAi.T, eye)))
    return L


def test_kossakowski_rate_matrix_is_diagonalised_into_jumps():
    H, s1, s2 = two_qubits_collective()
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    gamma = X @ X.conj().T  # Hermitian positive definite
    model = qness.from_qutip(H, [s1, s2], rates=gamma)
    ref = kossakowski_liouvillian(H.full(), [s1.full(), s2.full()], gamma)
    assert np.abs(qness.liouvillian(model).toarray() - ref).max() < 1e-12
    assert np.abs(qness.steady_state(model).rho - dense_null_state(ref, 4)).max() < 1e-10
    # fully correlated decay gamma = [[1, 1], [1, 1]] is one collective jump s1 + s2
    model = qness.from_qutip(H, [s1, s2], rates=np.ones((2, 2)))
    assert len(model.jumps) == 1
    coll = qutip.liouvillian(H, [s1 + s2]).full()
    assert np.abs(qness.liouvillian(model).toarray() - coll).max() < 1e-12


def test_bad_rate_matrices_are_refused():
    H, s1, s2 = two_qubits_collective()
    with pytest.raises(ValueError, match="must be Hermitian"):
        qness.from_qutip(H, [s1, s2], rates=[[1, 0.5], [0.2, 1]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        qness.from_qutip(H, [s1, s2], rates=[[1, 2], [2, 1]])
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        qness.from_qutip(H, [s1, s2], rates=np.eye(3))
    with pytest.raises(ValueError, match="correlates c_ops of different baths"):
        qness.from_qutip(H, [s1, s2], rates=np.ones((2, 2)), bath_labels=["a", "b"])


def test_baths_and_labels_give_thermodynamics_of_a_qutip_model():
    from qness.analysis import entropy_production, heat_currents

    params = dict(omega_h=1.0, omega_c=0.6, g=0.1, gamma_h=0.05, gamma_c=0.07, T_h=2.0, T_c=0.5)
    named = qness.models.two_node("qubit", **params)
    H, c_ops = named.to_qutip()
    labels = [j.bath for j in named.jumps if j.rate > 0]
    model = qness.from_qutip(H, c_ops, baths={"hot": 2.0, "cold": {"T": 0.5}}, bath_labels=labels)
    assert model.baths["hot"].T == 2.0 and model.baths["cold"].T == 0.5
    ness, ref = qness.steady_state(model), qness.steady_state(named)
    J, Jref = heat_currents(model, ness), heat_currents(named, ref)
    assert J["hot"] == pytest.approx(Jref["hot"], rel=1e-9) and J["hot"] > 0
    assert J["hot"] + J["cold"] == pytest.approx(0.0, abs=1e-12)
    sigma = entropy_production(model, ness)
    assert sigma == pytest.approx(-J["hot"] / 2.0 - J["cold"] / 0.5, rel=1e-9) and sigma > 0
    with pytest.raises(TypeError, match="baths must be a mapping"):
        qness.from_qutip(H, c_ops, baths=3.0)


def _two_qubit_machine(s=1.0):
    # two coupled qubits between a hot (T = 2) and a cold (T = 0.5) bath, every energy, rate and
    # temperature times s
    I, sm, sz = qutip.qeye(2), qutip.sigmam(), qutip.sigmaz()
    s0, s1 = qutip.tensor(sm, I), qutip.tensor(I, sm)
    H = s * (0.5 * qutip.tensor(sz, I) + 0.5 * qutip.tensor(I, sz) + 0.1 * (s0.dag() * s1 + s1.dag() * s0))
    Th, Tc = 2.0 * s, 0.5 * s
    nh, nc = 1 / np.expm1(s / Th), 1 / np.expm1(s / Tc)
    c = [
        np.sqrt(s * 0.05 * (nh + 1)) * s0,
        np.sqrt(s * 0.05 * nh) * s0.dag(),
        np.sqrt(s * 0.08 * (nc + 1)) * s1,
        np.sqrt(s * 0.08 * nc) * s1.dag(),
    ]
    return H, c, {"h": Th, "c": Tc}


def test_baths_need_labels_that_name_them():
    # session 17: baths= without bath_labels left every jump unlabelled (J = 0, sigma = 0 for a machine
    # carrying heat), and a misspelt label made a bath of its own with no temperature (its heat left
    # out of sigma: 0.0368 against 0.0175); a list of temperatures was refused as bath_labels
    H, c, baths = _two_qubit_machine()
    with pytest.raises(ValueError, match=r"baths declares \['c', 'h'\] but bath_labels is not given"):
        qness.from_qutip(H, c, baths=baths)
    with pytest.raises(ValueError, match=r"bath_labels names \['cc'\], not among the baths"):
        qness.from_qutip(H, c, baths=baths, bath_labels=["h", "h", "c", "cc"])
    with pytest.raises(TypeError, match=r"baths: a sequence is read as the bath label .* got \[2.0, 2.0"):
        qness.from_qutip(H, c, baths=[2.0, 2.0, 0.5, 0.5])
    # labels alone (no temperatures) still make non-thermal baths, and None leaves a jump out
    m = qness.from_qutip(H, c, bath_labels=["h", "h", None, "x"])
    assert m.baths["x"].T is None and [j.bath for j in m.jumps] == ["h", "h", None, "x"]


@pytest.mark.parametrize("s", [1.0, 1e-5])
def test_entropy_production_does_not_depend_on_the_units(s):
    # the default atol was 1e-10 energy/time absolute: sigma = 0 in units of 1e-5
    from qness.analysis import entropy_production, heat_currents

    H, c, baths = _two_qubit_machine(s)
    m = qness.from_qutip(H, c, baths=baths, bath_labels=["h", "h", "c", "c"])
    ness = qness.steady_state(m)
    J = heat_currents(m, ness)
    sigma = entropy_production(m, ness)
    assert sigma == pytest.approx(-J["h"] / baths["h"] - J["c"] / baths["c"], rel=1e-9)
    # (QuTiP: steadystate and Tr[H D_k(rho)] by hand give 0.0174961516169311 at s = 1)
    assert sigma / s == pytest.approx(0.017496151616931136, rel=1e-6)


# ------------------------------------------------------------------ call shapes and types


def test_one_collapse_operator_not_in_a_list():
    # qutip.steadystate(H, c) takes a single collapse operator; an array second was read as the
    # method (and H as a Liouvillian: "L does not preserve the trace"), a Qobj was refused
    H, c_ops = detuned_cavity(N=20)
    (c,) = c_ops
    ref = qness.steady_state(H, c_ops).rho
    for args in ((H, c), (H.full(), c.full()), (H.full(), sp.csr_matrix(c.full()))):
        assert np.abs(qness.steady_state(*args).rho - ref).max() < 1e-12
    assert qness.steady_state(H, c, "direct").info["method"] == "Direct"
    assert qness.liouvillian_gap(H, c) == pytest.approx(qness.liouvillian_gap(H, c_ops), rel=1e-12)
    with pytest.raises(TypeError, match=r"type 'oper' with no c_ops .* steady_state\(H, c_ops\)"):
        qness.steady_state(H, None)


def test_qutip_method_names_and_ket_warm_start():
    H, c_ops = detuned_cavity(N=12)
    with pytest.raises(
        ValueError, match=r"unknown method 'iterative-gmres'.*QuTiP's 'iterative-gmres' is qness's 'krylov'"
    ):
        qness.steady_state(H, c_ops, method="iterative-gmres")
    with pytest.raises(ValueError, match=r"QuTiP's 'svd' is qness's 'dense'"):
        qness.steady_state(H, c_ops, method="svd")
    # a ket as warm start, as Evolve's rho0 takes one (Krylov refused its shape (d, 1))
    ref = qness.steady_state(H, c_ops).rho
    got = qness.steady_state(H, c_ops, method="krylov", x0=qutip.basis(12, 0))
    assert np.abs(got.rho - ref).max() < 1e-9


def test_qutip_call_shape_works():
    H, c_ops = detuned_cavity(N=20)
    a = qness.steady_state(H, c_ops)
    b = qness.steady_state((H, c_ops))
    assert np.abs(a.rho - b.rho).max() < 1e-14
    assert qness.steady_state(H, c_ops, method="dense").info["method"] == "Dense"
    assert qness.steady_state(H, c_ops, "direct").info["method"] == "Direct"
    assert qness.steady_state((H, c_ops), "dense").info["method"] == "Dense"
    assert qness.liouvillian_gap(H, c_ops) == pytest.approx(0.5, rel=1e-9)
    assert len(qness.steady_states(H, c_ops)) == 1
    with pytest.raises(TypeError, match="as one tuple"):
        qness.spectrum(H, c_ops)


def test_expect_of_a_string_says_what_to_pass():
    ness = qness.steady_state(detuned_cavity(N=5))
    with pytest.raises(TypeError, match="got the string 'num'"):
        ness.expect("num")


def test_wrong_argument_types_raise_type_error():
    H, c_ops = detuned_cavity(N=4)
    model = qness.from_qutip(H, c_ops)
    with pytest.raises(TypeError, match="expected a qness.LindbladModel"):
        qness.steady_state("kerr")
    with pytest.raises(TypeError, match="single Qobj"):
        qness.steady_state(H)
    with pytest.raises(TypeError, match="method must be one of"):
        qness.steady_state(model, 3)
    with pytest.raises(TypeError, match="does not take option"):
        qness.steady_state(model, "direct", bad_opt=True)
    with pytest.raises(TypeError, match="c_ops must be a list"):
        qness.from_qutip(H, c_ops[0])
    with pytest.raises(TypeError, match="must be an operator, got a Qobj of type 'ket'"):
        qness.steady_state((qutip.basis(4, 3), []))
    with pytest.raises(TypeError, match="must be a real number"):
        qness.from_qutip(H, c_ops, rates=["fast"])
    with pytest.raises(TypeError, match="k must be a positive integer"):
        qness.spectrum(model, k=2.5)
    with pytest.raises(TypeError, match="symmetry must be"):
        qness.steady_state(model, symmetry=3)
    with pytest.raises(TypeError, match="symmetry must be"):
        qness.spectrum(model, symmetry=3)
    # still ValueError for a value of the right type that is wrong
    with pytest.raises(ValueError, match="unknown method"):
        qness.steady_state(model, "not a method")


def test_closed_system_is_refused_like_qutip():
    a = qutip.destroy(4)
    with pytest.raises(TypeError, match="no jump operators"):
        qness.steady_state((a + a.dag(), []))
    with pytest.raises(qness.NonUniqueSteadyStateError):
        qness.steady_state((a + a.dag(), [0 * a]))


def test_non_convergence_says_did_not_converge():
    H, c_ops = detuned_cavity(N=6)
    with pytest.raises(qness.ConvergenceError, match="(?i)did not converge"):
        qness.steady_state((H, c_ops), qness.Evolve(t_max=0.1, dt=0.1))
    with pytest.raises(RuntimeError, match="(?i)did not converge"):
        qness.steady_state((H, c_ops), qness.Krylov(maxiter=1, preconditioner=None, verify_unique=False))


def test_graph_sectors_of_a_spin_chain_liouvillian_match_its_u1_sectors():
    # boundary-driven XXZ: qness's own model splits by magnetisation; the bare matrix is split
    # by its graph, which must find the same (or finer) blocks and the same spectrum
    model = qness.models.boundary_driven_xxz(3, delta=0.5, gamma=0.8, mu=0.6, dephasing=0.3)
    L = qness.liouvillian(model)
    bare = qness.from_liouvillian(L, dims=model.dims)
    steady, other = graph_components(bare)
    assert len(steady) == 1 and sum(map(len, steady + other)) == 64 and len(other) >= 2
    assert np.abs(qness.steady_state(bare).rho - qness.steady_state(model).rho).max() < 1e-12
    a = qness.spectrum(bare, k=10, method="dense").eigenvalues
    b = qness.spectrum(model, k=10, method="dense").eigenvalues
    assert np.allclose(np.sort(a.real), np.sort(b.real), atol=1e-10)
    assert qness.liouvillian_gap(bare) == pytest.approx(qness.liouvillian_gap(model), rel=1e-9)


def test_thermodynamics_of_a_bare_liouvillian_says_what_is_missing():
    from qness.analysis import heat_currents

    L = qutip.liouvillian(*detuned_cavity(N=4))
    ness = qness.steady_state(L)
    with pytest.raises(TypeError, match="bare Liouvillian has no Hamiltonian"):
        heat_currents(qness.as_model(L), ness)


def test_symmetry_check_of_a_bare_liouvillian_says_what_is_missing():
    bare = qness.as_model(qutip.liouvillian(*detuned_cavity(N=4)))
    with pytest.raises(TypeError, match="model must be a qness.LindbladModel.*from_qutip"):
        qness.check_symmetry(bare, qness.U1Symmetry(np.arange(4), (-1,)))


def _scan_liouvillian(g):
    return qutip.liouvillian(g * qutip.sigmax(), [qutip.sigmam()])


def _scan_tuple(g):
    return (g * qutip.sigmax(), [qutip.sigmam()])


@pytest.mark.parametrize("factory", [_scan_liouvillian, _scan_tuple])
def test_scan_quantities_of_a_liouvillian_or_tuple_factory(factory):
    # a resonantly driven qubit, H = (Omega/2) sigma_x with Omega = 1, gamma = 1:
    # <sigma_z> = -1 / (1 + 2 Omega^2 / gamma^2) = -1/3 (QuTiP's sigmaz: +1 on the excited basis(2, 0))
    ds = qness.scan.scan(factory, {"g": [0.5]}, ["expect:sigmaz@0", "current:b"], progress=False)
    assert float(ds["expect:sigmaz@0"].values[0]) == pytest.approx(-1 / 3, abs=1e-12)
    err = str(ds["error"].values[0])
    assert "AttributeError" not in err
    if factory is _scan_liouvillian:
        assert "needs a qness.LindbladModel with baths" in err
    else:
        assert "no bath 'b'" in err


# ------------------------------------------------------------------ qness.analysis.g2, both forms
def test_analysis_g2_takes_the_two_time_and_the_equal_time_form():
    from qness.analysis import correlations, transitions
    from qness.analysis import g2 as g2_public

    # resonance fluorescence, H = (Omega/2) sigma_x, L = sqrt(gamma) sigma^-, Omega = gamma = 1:
    # g2(tau) = 1 - exp(-3 tau/4) (cos mu tau + 3/(4 mu) sin mu tau), mu = sqrt(1 - 1/16)
    H, c_ops = 0.5 * qutip.sigmax(), [qutip.sigmam()]
    m = qness.from_qutip(H, c_ops)
    taus = np.linspace(0.0, 6.0, 13)
    mu = np.sqrt(1 - 1 / 16)
    exact = 1 - np.exp(-0.75 * taus) * (np.cos(mu * taus) + 0.75 / mu * np.sin(mu * taus))
    ness = qness.steady_state(m)
    for got in (
        g2_public(m, qutip.sigmam(), taus),
        g2_public((H, c_ops), qutip.sigmam(), taus),
        g2_public(qutip.liouvillian(H, c_ops), qutip.sigmam(), taus, ness),
        g2_public(m, A=qutip.sigmam(), taus=taus, symmetry=None),
        g2_public(m, qutip.sigmam().full(), taus=taus),
    ):
        assert got.shape == taus.shape
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10)
    assert qness.analysis.correlations.g2 is correlations.g2  # the submodule function is unchanged
    # equal-time form: the earlier signature, same values as transitions.g2
    for state, want in (
        (qutip.thermal_dm(30, 0.5), 2.0),
        (qutip.fock_dm(5, 1), 0.0),
        (qutip.coherent_dm(30, 1.5), 1.0),
    ):
        assert g2_public(state) == pytest.approx(want, abs=1e-8)
        assert g2_public(state) == transitions.g2(state)
    two = qutip.tensor(qutip.fock_dm(2, 0), qutip.thermal_dm(30, 0.5))
    assert (
        g2_public(two, 1)
        == g2_public(two, mode=1)
        == g2_public(two.full(), 1, (2, 30))
        == transitions.g2(two, 1)
    )
    assert np.isnan(g2_public(qutip.fock_dm(4, 0)))


def test_analysis_g2_refuses_ambiguous_or_mixed_arguments():
    from qness.analysis import g2

    H, c_ops = 0.5 * qutip.sigmax(), [qutip.sigmam()]
    m = qness.from_qutip(H, c_ops)
    ness = qness.steady_state(m)
    with pytest.raises(TypeError, match="pass the arguments of one of them"):
        g2(m, qutip.sigmam(), taus=[0.0], mode=0)
    with pytest.raises(TypeError, match=r"give the operator A and the delays taus"):
        g2(m)
    with pytest.raises(TypeError, match=r"give the operator A and the delays taus"):
        g2(m, qutip.sigmam())
    with pytest.raises(TypeError, match=r"belong to the equal-time .* first argument is a model"):
        g2((H, c_ops), mode=0)
    with pytest.raises(TypeError, match=r"needs the dynamics: pass g2\(model, A, taus, ness=state\)"):
        g2(ness, qutip.sigmam(), [0.0, 1.0])
    with pytest.raises(TypeError, match=r"needs the dynamics"):
        g2(ness.rho, qutip.sigmam().full(), [0.0])
    with pytest.raises(TypeError, match="unexpected keyword"):
        g2(m, qutip.sigmam(), [0.0], tau=1.0)
    with pytest.raises(TypeError, match="needs a model"):
        g2()


# ------------------------------------------------------------------ QuTiP's time-independent containers
def test_time_independent_qutip_containers_are_accepted():
    # QuTiP sums a list of Qobj and evaluates a constant QobjEvo: the same model as the summed H
    a = qutip.destroy(4)
    H0, H1 = a.dag() * a, 0.3 * (a + a.dag())
    ref = qness.steady_state((H0 + H1, [a, 0.2 * a.dag()]))
    ket = qutip.steadystate(H0 + H1, [a, 0.2 * a.dag()])
    np.testing.assert_allclose(ref.rho, ket.full(), atol=1e-10)  # QuTiP as the oracle
    cases = [
        ([H0, H1], [a, 0.2 * a.dag()]),
        (qutip.QobjEvo(H0 + H1), [a, 0.2 * a.dag()]),
        (qutip.QobjEvo([H0, H1]), [a, 0.2 * a.dag()]),
        (H0 + H1, [qutip.QobjEvo(a), [0.1 * a.dag(), 0.1 * a.dag()]]),
    ]
    for model in cases:
        assert qutip.QobjEvo(model[0]).isconstant
        ness = qness.steady_state(model)
        np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-12)
    m = qness.from_qutip([H0, H1], [a])
    np.testing.assert_allclose(m.H.toarray(), (H0 + H1).full(), atol=1e-15)
    assert m.dims == (4,)
    # a constant QobjEvo Liouvillian is a Liouvillian
    L = qutip.liouvillian(H0 + H1, [a, 0.2 * a.dag()])
    np.testing.assert_allclose(qness.steady_state(qutip.QobjEvo(L)).rho, ref.rho, atol=1e-12)
    # terms on different spaces are refused by name
    with pytest.raises(ValueError, match=r"H\[1\] has dims"):
        qness.from_qutip([H0, qutip.sigmax()], [a])


def test_numeric_list_coefficients_are_constants_as_in_qutip():
    # review 14b: [H0, [H1, 0.5]], c_ops=[[a, 0.5]] and [(a, 0.5)] were called time-dependent
    a = qutip.destroy(4)
    H0, H1 = a.dag() * a, a + a.dag()
    ref = qness.steady_state((H0 + 0.5 * H1, [0.5 * a]))
    assert qutip.QobjEvo([H0, [H1, 0.5]])(0.7) == H0 + 0.5 * H1  # QuTiP's meaning
    for model in (([H0, [H1, 0.5]], [0.5 * a]), (H0 + 0.5 * H1, [[a, 0.5]]), (H0 + 0.5 * H1, [(a, 0.5)])):
        np.testing.assert_allclose(qness.steady_state(model).rho, ref.rho, atol=1e-13)
    m = qness.from_qutip(H0, [[[a, 0.5], [a.dag(), 0.1]]])  # a list term of two constant pairs: summed
    np.testing.assert_allclose(m.jumps[0].op.toarray(), (0.5 * a + 0.1 * a.dag()).full(), atol=1e-15)
    with pytest.raises(TypeError, match="time-dependent"):  # a string stays a function of t
        qness.steady_state(([H0, [H1, "0.5"]], [a]))
    # the same list as a QobjEvo: QuTiP 5 does not flag it isconstant (ConstantCoefficient terms),
    # and it was refused as "H is time-dependent" (session 19)
    evo = qutip.QobjEvo([H0, [H1, 0.5]])
    assert not evo.isconstant
    for model in ((evo, [0.5 * a]), (H0 + 0.5 * H1, [qutip.QobjEvo([[a, 0.5]])])):
        np.testing.assert_allclose(qness.steady_state(model).rho, ref.rho, atol=1e-13)
    assert ref.expect(evo) == pytest.approx(ref.expect(H0 + 0.5 * H1), abs=1e-14)


def test_real_time_dependence_and_wrong_tuple_shapes_have_their_own_messages():
    a = qutip.destroy(3)
    H = a.dag() * a
    evo = qutip.QobjEvo([H, [a + a.dag(), lambda t: np.cos(t)]])
    assert not evo.isconstant
    for model in (([H, [a + a.dag(), "cos(t)"]], [a]), (evo, [a])):
        with pytest.raises(TypeError, match="H is time-dependent.*floquet_steady_state"):
            qness.steady_state(model)
    with pytest.raises(TypeError, match=r"c_ops\[0\] is time-dependent"):
        qness.steady_state((H, [qutip.QobjEvo([[a, lambda t: np.exp(-t)]])]))
    with pytest.raises(TypeError, match=r"tuple of 3 entries; extra entries are not read.*from_qutip"):
        qness.steady_state((H, [a], 1))
    with pytest.raises(TypeError, match=r"tuple of 1 entry; \(H,\) has no jump operators"):
        qness.steady_state((H,))
    with pytest.raises(TypeError, match=r"tuple of 0 entries"):
        qness.steady_state(())
    with pytest.raises(TypeError, match=r"got a list \[H, c_ops\]: pass the model as a tuple"):
        qness.steady_state([H, [a]])
    with pytest.raises(TypeError, match="got a list of operators"):
        qness.steady_state([H, a + a.dag()])
    for model in ((H, [a], 1), (H,), [H, [a]]):
        with pytest.raises(TypeError) as err:
            qness.as_model(model)
        assert "time-dependent" not in str(err.value)


# ------------------------------------------------------------------ dims= and baths= of from_qutip
def test_dims_must_be_a_sequence_and_agree_with_a_qobj():
    H6 = qutip.rand_herm(6, seed=1).full()
    with pytest.raises(
        TypeError, match=r"dims must be a sequence .* got int 6; for one site pass dims=\(6,\)"
    ):
        qness.from_qutip(H6, [np.eye(6)], dims=6)
    assert qness.from_qutip(H6, [np.eye(6)], dims=(6,)).dims == (6,)
    Hq = qutip.Qobj(H6, dims=[[2, 3], [2, 3]])
    cq = [qutip.Qobj(np.eye(6), dims=[[2, 3], [2, 3]])]
    with pytest.raises(ValueError, match=r"dims \(3, 2\) conflict with H's own dims"):
        qness.from_qutip(Hq, cq, dims=(3, 2))
    assert qness.from_qutip(Hq, cq, dims=(2, 3)).dims == (2, 3)  # the same: fine
    # a Qobj on one flat space may be split, as an array may
    assert qness.from_qutip(qutip.Qobj(H6), [qutip.Qobj(np.eye(6))], dims=(3, 2)).dims == (3, 2)


def test_every_qobj_of_a_model_must_agree_on_dims():
    # review 14b: c_ops on other tensor factors were accepted whenever H was not a Qobj
    H = qutip.tensor(qutip.sigmaz(), qutip.qeye(3)) + qutip.tensor(qutip.qeye(2), qutip.num(3))
    c23 = [qutip.tensor(qutip.sigmam(), qutip.qeye(3)), qutip.tensor(qutip.qeye(2), qutip.destroy(3))]
    c32 = qutip.tensor(qutip.qeye(3), qutip.sigmam())  # 6 x 6, factors swapped
    with pytest.raises(ValueError, match=r"c_ops\[0\] has dims \[\[3, 2\], \[3, 2\]\], L has \[\[2, 3\]"):
        qness.from_liouvillian(qutip.liouvillian(H, c23), [c32])
    L22 = qutip.liouvillian(qutip.tensor(qutip.sigmaz(), qutip.qeye(2)), [])
    with pytest.raises(ValueError, match=r"c_ops\[0\] has dims \[\[4\], \[4\]\], L has"):
        qness.from_liouvillian(L22, [qutip.destroy(4)])
    with pytest.raises(ValueError, match=r"c_ops\[1\] has dims \[\[3, 2\], \[3, 2\]\], c_ops\[0\] has"):
        qness.from_qutip(H.full(), [c23[0], c32])
    with pytest.raises(ValueError, match=r"dims \(4, 2\) conflict with c_ops\[0\]'s own dims"):
        qness.from_qutip(H.full(), [qutip.tensor(qutip.sigmam(), qutip.qeye(4))], dims=(4, 2))
    # agreeing ones pass, and a flat Qobj is split by an explicit dims= (as an array is)
    ref = qness.steady_state((H, c23))
    m = qness.from_liouvillian(qutip.liouvillian(H, c23[:1]), c23[1:])
    assert m.dims == (2, 3)
    np.testing.assert_allclose(qness.steady_state(m).rho, ref.rho, atol=1e-12)
    assert qness.from_qutip(H.full(), [c23[0]]).dims == (2, 3)
    flat = qutip.Qobj(c23[1].full())
    assert qness.from_liouvillian(qutip.liouvillian(H, c23[:1]), [flat], dims=(2, 3)).dims == (2, 3)
    with pytest.raises(ValueError, match="row and column factors differ"):
        qness.from_qutip(qutip.Qobj(np.eye(6), dims=[[2, 3], [3, 2]]), [])


def test_from_liouvillian_dims_must_agree_with_the_qobj():
    H = qutip.tensor(qutip.sigmaz(), qutip.qeye(3))
    L = qutip.liouvillian(H, [qutip.tensor(qutip.sigmam(), qutip.destroy(3))])
    with pytest.raises(ValueError, match=r"dims \(3, 2\) conflict with L's own dims"):
        qness.from_liouvillian(L, dims=(3, 2))
    assert qness.from_liouvillian(L, dims=(2, 3)).dims == (2, 3)
    assert qness.from_liouvillian(sp.csr_array(L.full()), dims=(3, 2)).dims == (3, 2)  # an array: split


def test_qutip_style_and_integer_dims():
    H = qutip.tensor(qutip.sigmaz(), qutip.qeye(4))
    c = [qutip.tensor(qutip.sigmam(), qutip.qeye(4))]
    assert qness.from_qutip(H, c, dims=[[2, 4], [2, 4]]).dims == (2, 4)
    with pytest.raises(ValueError, match=r"dims \[\[2, 4\], \[4, 2\]\] .*different row and column"):
        qness.from_qutip(H.full(), [], dims=[[2, 4], [4, 2]])
    L = qutip.liouvillian(qutip.num(4), [qutip.destroy(4)])
    with pytest.raises(
        TypeError, match=r"dims must be a sequence .* got int 4; for one site pass dims=\(4,\)"
    ):
        qness.from_liouvillian(L, dims=4)
    assert qness.from_liouvillian(L, dims=[[4], [4]]).dims == (4,)
    with pytest.raises(TypeError, match="dims must be a sequence of local dimensions"):
        qness.from_qutip(H.full(), [], dims=(2.0, 4))


def test_infinite_temperature_bath():
    # a qubit (energy 1) between a cold bath (T = 0.5, rates gamma (n + 1), gamma n) and an
    # infinite-temperature bath (equal up and down rates kappa): the hot bath takes no entropy,
    # so sigma = -Q_cold / T_cold = Q_hot / T_cold > 0 with Q_hot = kappa (p_g - p_e) (energy 1)
    import math

    from qness.analysis import entropy_production, heat_currents

    gamma, kappa, Tc = 1.0, 0.3, 0.5
    n = qness.model.bose_occupation(1.0, Tc)
    sm = qutip.sigmam()
    m = qness.from_qutip(
        0.5 * qutip.sigmaz(),  # QuTiP's basis(2, 0) is the excited state: energy +1/2
        [
            np.sqrt(gamma * (n + 1)) * sm,
            np.sqrt(gamma * n) * sm.dag(),
            np.sqrt(kappa) * sm,
            np.sqrt(kappa) * sm.dag(),
        ],
        baths={"cold": Tc, "hot": math.inf},
        bath_labels=["cold", "cold", "hot", "hot"],
    )
    assert m.baths["hot"].T == math.inf
    ness = qness.steady_state(m)
    # rate equation: p_e = (gamma n + kappa) / (gamma (2 n + 1) + 2 kappa)
    pe = (gamma * n + kappa) / (gamma * (2 * n + 1) + 2 * kappa)
    assert ness.rho[0, 0].real == pytest.approx(pe, abs=1e-12)
    J = heat_currents(m, ness)
    assert J["hot"] == pytest.approx(kappa * (1 - 2 * pe), abs=1e-12)
    assert J["cold"] == pytest.approx(-J["hot"], abs=1e-12)
    assert entropy_production(m, ness) == pytest.approx(J["hot"] / Tc, abs=1e-12)
    assert qness.model.fermi_occupation(3.0, math.inf) == 0.5
    with pytest.raises(ValueError, match="Bose occupation .* diverges"):
        qness.model.bose_occupation(1.0, math.inf)
    with pytest.raises(ValueError, match="T must be non-negative"):
        qness.from_qutip(qutip.sigmaz(), [sm], baths={"b": float("nan")}, bath_labels=["b"])


def test_quantum_detailed_balance_of_a_liouvillian_or_tuple():
    # the GNS test uses only L: the same answer from the model, (H, c_ops) and qutip.liouvillian
    from qness.analysis import balance

    n = qness.model.bose_occupation(1.2, 0.8)
    sm = qutip.sigmam()
    for drive, balanced in ((0.0, True), (0.4, False)):
        H = 0.6 * qutip.sigmaz() + drive * qutip.sigmax()
        c_ops = [np.sqrt(0.3 * (n + 1)) * sm, np.sqrt(0.3 * n) * sm.dag()]
        m = qness.from_qutip(H, c_ops)
        rho = qness.steady_state(m).rho
        ref = balance.detailed_balance_defect(m, rho)
        assert (ref < 1e-12) is balanced
        for model in ((H, c_ops), qutip.liouvillian(H, c_ops)):
            assert balance.detailed_balance_defect(model, rho) == pytest.approx(ref, abs=1e-13)
            assert balance.quantum_detailed_balance(model, rho) is balanced
    with pytest.raises(TypeError, match="expected a qness.LindbladModel"):
        balance.quantum_detailed_balance("model", np.eye(2) / 2)


def test_from_liouvillian_takes_a_constant_qobjevo_or_a_list():
    a = qutip.destroy(4)
    H, c_ops = a.dag() * a + 0.3 * (a + a.dag()), [a]
    L0, L1 = qutip.liouvillian(H), qutip.lindblad_dissipator(a)
    ref = qness.steady_state((H, c_ops)).rho
    for L in (qutip.QobjEvo(L0 + L1), [L0, L1]):
        m = qness.from_liouvillian(L)
        assert m.dims == (4,)
        np.testing.assert_allclose(qness.steady_state(m).rho, ref, atol=1e-12)
    with pytest.raises(TypeError, match="time-dependent"):
        qness.from_liouvillian(qutip.QobjEvo([L0, [L1, lambda t: np.exp(-t)]]))


def test_chemical_potential_without_u1_says_how_to_declare_it():
    # a level of energy 1 between two leads at T = 0.5, mu = 0.8 and -0.2 (rates gamma f and gamma (1 - f));
    # rate equation: p = sum_k g_k f_k / sum_k g_k, I_L = g_L (f_L - p), sigma = I_L (mu_L - mu_R) / T
    from qness.analysis import entropy_production

    eps, T, muL, muR, gL, gR = 1.0, 0.5, 0.8, -0.2, 0.7, 0.4
    fL, fR = qness.model.fermi_occupation(eps, T, muL), qness.model.fermi_occupation(eps, T, muR)
    sm = qutip.sigmam()  # QuTiP's basis(2, 0) (sigmaz = +1) is the occupied level: sm empties it
    m = qness.from_qutip(
        0.5 * eps * qutip.sigmaz(),
        [
            np.sqrt(gL * (1 - fL)) * sm,
            np.sqrt(gL * fL) * sm.dag(),
            np.sqrt(gR * (1 - fR)) * sm,
            np.sqrt(gR * fR) * sm.dag(),
        ],
        baths={"L": (T, muL), "R": (T, muR)},
        bath_labels=["L", "L", "R", "R"],
    )
    ness = qness.steady_state(m)
    with pytest.raises(ValueError, match=r"declares no U\(1\).*model.replace\(symmetries=\(qness.U1Symmetry"):
        entropy_production(m, ness)
    # following the message: N = diag(1, 0), jumps change it by -1, +1, -1, +1
    m = m.replace(symmetries=(qness.U1Symmetry(np.array([1, 0]), (-1, 1, -1, 1)),))
    p = (gL * fL + gR * fR) / (gL + gR)
    IL = gL * (fL - p)
    assert entropy_production(m, ness) == pytest.approx(IL * (muL - muR) / T, abs=1e-12)


def test_liouvillian_that_does_not_preserve_hermiticity_is_refused():
    # trace-preserving but L(X^+) != L(X)^+ (a Lindbladian plus -i[X, rho] with X not Hermitian):
    # it was accepted, and the spectrum added conjugate "partners" that are not eigenvalues
    H, c_ops = detuned_cavity(N=6)
    X = qutip.destroy(6)  # not Hermitian
    good = qutip.liouvillian(H, c_ops)
    bad = good - 1j * (qutip.spre(X) - qutip.spost(X))
    qness.from_liouvillian(good)  # fine
    with pytest.raises(ValueError, match="does not preserve Hermiticity"):
        qness.from_liouvillian(bad)


def test_diagonal_kossakowski_matrix_keeps_the_c_ops_order():
    """rates=diag(2, 0.5) is c_ops[0] at rate 2 and c_ops[1] at 0.5, in that order: eigh sorted them by
    rate, so counted=0 counted sigma+ (current 0.364) where the user meant c_ops[0] = sigma- (0.545)."""
    from qness.analysis.counting import cumulants

    c_ops = [qutip.sigmam(), qutip.sigmap()]
    m = qness.from_qutip(0.5 * qutip.sigmax(), c_ops, rates=np.diag([2.0, 0.5]))
    assert [j.rate for j in m.jumps] == [2.0, 0.5]
    assert np.allclose(m.jumps[0].op.toarray(), qutip.sigmam().full())
    same = qness.from_qutip(0.5 * qutip.sigmax(), c_ops, rates=[2.0, 0.5])
    assert cumulants(m, counted=0).current == pytest.approx(cumulants(same, counted=0).current, rel=1e-12)


def test_builder_refuses_a_full_space_qobj_with_other_tensor_factors():
    # ModelBuilder([2, 3]).add_hamiltonian(Qobj with dims [[3, 2], [3, 2]]) read its matrix in the
    # builder's (2, 3) order: another model, silently (from_qutip refused the same mismatch)
    H_wrong = qutip.tensor(qutip.num(3), qutip.sigmaz())
    L_wrong = qutip.tensor(qutip.destroy(3), qutip.qeye(2))
    b = qness.ModelBuilder([2, 3])
    with pytest.raises(ValueError, match=r"H term is a Qobj with dims \[\[3, 2\], \[3, 2\]\] but"):
        b.add_hamiltonian(H_wrong)
    with pytest.raises(ValueError, match="op is a Qobj with dims"):
        b.add_collective_jump(L_wrong, 1.0)
    # a column side of other factors (session-20 review: only the row side was checked)
    M = qutip.tensor(qutip.destroy(2), qutip.qeye(3)).full()
    for dims in ([[2, 3], [3, 2]], [[2, 3], [6]], [[6], [3, 2]]):
        with pytest.raises(ValueError, match=r"op is a Qobj with dims"):
            b.add_collective_jump(qutip.Qobj(M, dims=dims), 1.0)
    # the builder's order, a flat Qobj and an array are taken, and give the same model
    H = qutip.tensor(qutip.sigmaz(), qutip.num(3))
    L = qutip.tensor(qutip.qeye(2), qutip.destroy(3))
    models = []
    for h, c in ((H, L), (qutip.Qobj(H.full()), qutip.Qobj(L.full())), (H.full(), L.full())):
        b = qness.ModelBuilder([2, 3]).add_hamiltonian(h).add_collective_jump(c, 0.5)
        models.append(b.add_jump("sigmam", 0.5, sites=[0]).build())
    rhos = [qness.steady_state(m, method="dense").rho for m in models]
    ref = qutip.steadystate(H, [np.sqrt(0.5) * L, np.sqrt(0.5) * qutip.tensor(qutip.sigmam(), qutip.qeye(3))])
    for rho in rhos:
        assert np.abs(rho - ref.full()).max() < 1e-10


@pytest.mark.parametrize("method", ["dense", "direct", "krylov", "evolve", None])
def test_a_one_state_space_has_its_one_density_matrix(method):
    # d = 1: [[1]] is the only density matrix; without jumps it was refused as a closed system, and
    # Krylov's uniqueness check broke down (NonUniqueSteadyStateError) with a jump [[1]]
    for model in ((qutip.Qobj([[0.5]]), []), (qutip.Qobj([[0.5]]), [qutip.Qobj([[1.0]])]), np.zeros((1, 1))):
        ness = qness.steady_state(model, method=method)
        assert ness.rho.shape == (1, 1) and ness.rho[0, 0] == 1.0
        assert ness.residual == 0.0


def test_builder_hermiticity_messages_name_the_term_once():
    # the hint was pasted three times into the operator's name ("... - coupling on bond ...^+| = 1")
    b = qness.ModelBuilder(2, n=2)
    with pytest.raises(ValueError) as err:
        b.add_coupling(1.0, "sigmap", "sigmam")
    msg = str(err.value)
    assert msg.startswith("the coupling on bond (0, 1) is not Hermitian: max |h - h^+| = 1")
    assert msg.count("bond") == 1 and "plus_hc=True" in msg
    with pytest.raises(ValueError) as err:
        b.add_onsite(1.0, "sigmap")  # add_onsite has no plus_hc: not offered
    assert "the onsite term on site 0 is not Hermitian" in str(err.value)
    assert "plus_hc" not in str(err.value)


def test_a_liouvillian_in_a_qobjevo_of_constant_coefficients():
    # session-20 review: QobjEvo([[L, 3.0]]) (QuTiP 5 does not flag it isconstant) was refused as
    # time-dependent by steady_state, spectrum and liouvillian_gap, and steady_state(QobjEvo(L), c_ops)
    # said "pass the Liouvillian alone". Oracle: the dense null vector of L (and of L + D[c1])
    a = qutip.destroy(3)
    H = a.dag() * a + 0.3 * (a + a.dag())
    c = [np.sqrt(0.2) * a, np.sqrt(0.05) * a.dag()]
    L = qutip.liouvillian(H, c)

    def null(M):
        w, v = np.linalg.eig(M)
        x = v[:, np.argmin(abs(w))].reshape(3, 3, order="F")
        return x / np.trace(x)

    exact = null(L.full())
    for evo in (qutip.QobjEvo([[L, 3.0]]), qutip.QobjEvo([L, [L, 1.0]])):
        assert np.abs(qness.steady_state(evo).rho - exact).max() < 1e-12
    scaled = qutip.QobjEvo([[L, 3.0]])
    w = np.linalg.eigvals(3.0 * L.full())
    gap = -np.sort(w.real)[-2]
    assert qness.liouvillian_gap(scaled) == pytest.approx(gap, rel=1e-10)
    assert qness.spectrum(scaled, k=3).eigenvalues[1].real == pytest.approx(-gap, rel=1e-10)
    L1 = qutip.liouvillian(H, [c[0]])
    for evo in (qutip.QobjEvo(L1), qutip.QobjEvo([[L1, 1.0]])):
        assert np.abs(qness.steady_state(evo, [c[1]]).rho - exact).max() < 1e-12
    with pytest.raises(TypeError, match="time-dependent"):
        qness.steady_state(qutip.QobjEvo([[L1, lambda t: np.cos(t)]]), [c[1]])
