"""qness.asymptotic_state: the t -> infinity limit from rho0, unique or not (issue 12, item 5)."""

import numpy as np
import pytest
import qutip
import scipy.linalg as sla
from helpers import corpus_module

import qness


def dark_singlet_qubits():
    return qness.from_qutip(*corpus_module().DARK["dark_singlet"]())


def propagate(model, rho0, t):
    """Oracle: rho(t) = expm(L t) vec(rho0) with the dense L (column stacking)."""
    d = model.dim
    x = sla.expm(qness.liouvillian(model).toarray() * t) @ np.asarray(rho0).ravel(order="F")
    return x.reshape((d, d), order="F")


def test_dark_singlet_keeps_its_population():
    m = dark_singlet_qubits()
    up, down = qutip.basis(2, 0), qutip.basis(2, 1)  # QuTiP: |0> is the excited state
    eg = qutip.tensor(up, down)
    singlet = ((eg - qutip.tensor(down, up)) / np.sqrt(2)).full().ravel()
    ness = qness.asymptotic_state(m, eg)
    assert ness.info["kernel_dim"] == 2
    assert abs(singlet.conj() @ ness.rho @ singlet - 0.5) < 1e-12  # <S|rho0|S> = 1/2 is conserved
    # slowest decay rate 0.224: at t = 300 every other mode is below 1e-29
    exact = propagate(m, (eg * eg.dag()).full(), 300.0)
    np.testing.assert_allclose(ness.rho, exact, atol=1e-12)
    assert abs(ness.trace - 1) < 1e-12 and ness.residual < 1e-13
    # the conserved quantities are biorthonormal to the kernel basis and conserved: L^+ J = 0
    L = qness.liouvillian(m)
    for i, J in enumerate(ness.info["conserved"]):
        assert np.linalg.norm(L.conj().T @ J.ravel(order="F")) < 1e-12
        for j, R in enumerate(ness.info["steady"]):
            assert abs(np.vdot(J.ravel(order="F"), R.ravel(order="F")) - (i == j)) < 1e-10


def test_unique_model_gives_the_steady_state():
    m = qness.models.boundary_driven_xxz(4, delta=0.5)
    rho0 = qutip.rand_dm(16, seed=3).full()
    ness = qness.asymptotic_state(m, rho0)
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.rho, qness.steady_state(m).rho, atol=1e-12)


def test_invariant_subspaces_follow_the_initial_state():
    # dephasing XX chain conserves the magnetisation: the limit is uniform within rho0's sector
    b = qness.ModelBuilder(2, n=3)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True).add_jump("sigmaz", 0.5)
    m = b.build()
    psi = np.zeros(8)
    psi[3] = 1.0
    ness = qness.asymptotic_state(m, psi)
    assert ness.info["kernel_dim"] == 4
    np.testing.assert_allclose(ness.rho, propagate(m, np.outer(psi, psi), 400.0), atol=1e-11)
    np.testing.assert_allclose(sorted(np.diag(ness.rho).real)[-3:], [1 / 3] * 3, atol=1e-12)


def test_dark_cavity_mode_matches_the_spectral_projector():
    # two cavities, loss on a + b only: (a - b)/sqrt(2) is undamped (up to the truncation), so L
    # has two steady states and undamped oscillations (eigenvalues near +-i): rho(t) has no limit,
    # and the result is the projection on the kernel (the time average)
    N = 4
    a = qutip.tensor(qutip.destroy(N), qutip.qeye(N))
    b = qutip.tensor(qutip.qeye(N), qutip.destroy(N))
    H = a.dag() * a + b.dag() * b + 0.3 * (a + b + a.dag() + b.dag())
    m = qness.from_qutip(H, [np.sqrt(0.5) * (a + b)])
    rho0 = qutip.tensor(qutip.basis(N, 1), qutip.basis(N, 0))
    ness = qness.asymptotic_state(m, rho0)
    # oracle: the spectral projector on the eigenvalue 0 from the dense eigendecomposition
    w, vl, vr = sla.eig(qness.liouvillian(m).toarray(), left=True)
    zero = np.abs(w) < 1e-10
    assert zero.sum() == 2 == ness.info["kernel_dim"]
    R, Lf = vr[:, zero], vl[:, zero]
    P = R @ np.linalg.solve(Lf.conj().T @ R, Lf.conj().T)
    expect = (P @ (rho0 * rho0.dag()).full().ravel(order="F")).reshape((N * N, N * N), order="F")
    np.testing.assert_allclose(ness.rho, expect, atol=1e-10)
    assert ness.residual < 1e-12 and abs(ness.trace - 1) < 1e-12


def test_bad_initial_states_are_rejected():
    m = dark_singlet_qubits()
    with pytest.raises(ValueError, match="4 x 4"):
        qness.asymptotic_state(m, np.eye(3))
    with pytest.raises(ValueError, match="rho0 is zero: it must have a non-zero trace"):
        qness.asymptotic_state(m, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="zero_tol"):
        qness.asymptotic_state(m, np.eye(4), zero_tol=2.0)
    with pytest.raises(TypeError, match="rho0"):
        qness.asymptotic_state(m, object())


def test_rho0_must_be_a_density_matrix_or_a_ket_in_both_entry_points():
    # review 14b: a non-Hermitian rho0 gave a NESS with hermiticity_error 0.35, a non-positive one a
    # NESS with min_eigenvalue -0.40, silently
    m = dark_singlet_qubits()
    S = np.array([0, 1, -1, 0]) / np.sqrt(2)
    G = np.array([0, 0, 0, 1.0])
    P = np.outer(S, S) + np.outer(G, G)
    non_hermitian = 0.5 * P + 0.5 * np.outer(S, G)
    non_positive = 0.5 * P + 0.9 * (np.outer(S, G) + np.outer(G, S))
    for solve in (
        lambda r: qness.asymptotic_state(m, r),
        lambda r: qness.steady_state(m, method=qness.Evolve(rho0=r, verify_unique=False)),
    ):
        with pytest.raises(ValueError, match="rho0 is not Hermitian .*not a density matrix"):
            solve(non_hermitian)
        with pytest.raises(ValueError, match="rho0 is not positive semi-definite .*-0.4"):
            solve(non_positive)
    # a ket is |psi><psi| in both, an unnormalised state is normalised, rounding is tolerated
    psi = qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 1))
    ref = qness.asymptotic_state(m, qutip.ket2dm(psi)).rho
    np.testing.assert_allclose(qness.asymptotic_state(m, psi).rho, ref, atol=1e-12)
    np.testing.assert_allclose(
        qness.asymptotic_state(m, 3 * psi.proj().full() + 1e-13j * G[:, None]).rho, ref, atol=1e-10
    )
    ev = qness.steady_state(m, method=qness.Evolve(rho0=psi, verify_unique=False))
    assert ev.residual < 1e-9 and abs(ev.rho - ref).max() < 1e-8


def test_a_liouvillian_is_accepted_and_gives_the_same_limit():
    # only L is needed (left and right kernels): qutip.liouvillian, a from_liouvillian model and a
    # bare column-stacked matrix all give the (H, c_ops) result, itself checked against expm above
    H, c_ops = corpus_module().DARK["dark_singlet"]()
    rho0 = qutip.rand_dm(4, seed=3)
    ref = qness.asymptotic_state((H, c_ops), rho0)
    assert ref.info["kernel_dim"] == 2
    exact = propagate(qness.from_qutip(H, c_ops), rho0.full(), 300.0)
    np.testing.assert_allclose(ref.rho, exact, atol=1e-12)
    Lq = qutip.liouvillian(H, c_ops)
    for model in (Lq, qness.from_liouvillian(Lq), Lq.full()):
        ness = qness.asymptotic_state(model, rho0)
        assert ness.info["kernel_dim"] == 2
        np.testing.assert_allclose(ness.rho, exact, atol=1e-12)
    assert qness.asymptotic_state(Lq, rho0).to_qobj().dims == [[2, 2], [2, 2]]


def test_initial_state_with_other_tensor_factors_is_rejected():
    # a [2, 3] model and rho0 with dims [[3, 2], [3, 2]]: same size, transposed factors
    Hq = qutip.tensor(0.5 * qutip.sigmaz(), qutip.qeye(3)) + qutip.tensor(qutip.qeye(2), 0.3 * qutip.num(3))
    cq = [qutip.tensor(qutip.qeye(2), qutip.destroy(3))]
    wrong = qutip.tensor(qutip.fock_dm(3, 2), qutip.fock_dm(2, 0))
    with pytest.raises(ValueError, match="rho0 has dims .*tensor factors differ"):
        qness.asymptotic_state((Hq, cq), wrong)
    with pytest.raises(ValueError, match="rho0 has dims .*tensor factors differ"):
        qness.asymptotic_state((Hq, cq), qutip.tensor(qutip.basis(3, 2), qutip.basis(2, 0)))
    with pytest.raises(ValueError, match="tensor factors differ"):
        qness.asymptotic_state(qutip.liouvillian(Hq, cq), wrong)
    # the right order, and a flat Qobj / plain array of the right size, are accepted
    right = qutip.tensor(qutip.fock_dm(2, 0), qutip.fock_dm(3, 2))
    expect = qutip.tensor(qutip.fock_dm(2, 0), qutip.fock_dm(3, 0)).full()  # the cavity decays
    for rho0 in (right, qutip.Qobj(right.full()), right.full()):
        np.testing.assert_allclose(qness.asymptotic_state((Hq, cq), rho0).rho, expect, atol=1e-12)


def slowly_dephased_pair(eps=1e-9):
    """Two collectively driven and decaying qubits; local dephasing ``eps`` makes the singlet decay
    at about 6.8e-10 (dense L: eigenvalues 1e-16, 6.8e-10, 0.48; ||L||_1 = 10)."""
    sm1 = qutip.tensor(qutip.sigmam(), qutip.qeye(2))
    sm2 = qutip.tensor(qutip.qeye(2), qutip.sigmam())
    J = sm1 + sm2
    H = J + J.dag() + 0.3 * (sm1.dag() * sm1 + sm2.dag() * sm2)
    return H, [J, np.sqrt(eps) * sm1.dag() * sm1, np.sqrt(eps) * sm2.dag() * sm2]


def test_a_slow_mode_the_gap_resolves_decays():
    # with zero_tol = 1e-10 (1e-9 x ||L||_1 = 10) the 6.8e-10 mode counted as conserved: kernel_dim 2
    # and a state 0.16 from the limit, silently (new-user review, session 12)
    H, c_ops = slowly_dephased_pair()
    model = qness.from_qutip(H, c_ops)
    eg = qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 1))
    ness = qness.asymptotic_state(model, eg)
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.info["slowest_rate"], qness.liouvillian_gap(model), rtol=1e-6)
    L = qness.liouvillian(model).toarray()
    w, V = np.linalg.eig(L)
    v = V[:, np.argmin(np.abs(w))].reshape((4, 4), order="F")
    np.testing.assert_allclose(ness.rho, v / np.trace(v), atol=1e-6)  # the kernel's conditioning: 1/gap
    # asked for, the metastable manifold: the slow mode kept (zero is judged against the scale of L
    # on the mode, 5.6 here, since session 16: 1e-9 is within 10x of the mode and warns, 1e-8 not)
    assert ness.info["slowest_scale"] == pytest.approx(5.58, rel=1e-2)
    meta = qness.asymptotic_state(model, eg, zero_tol=1e-8)
    assert meta.info["kernel_dim"] == 2


def test_a_mode_near_the_threshold_is_flagged():
    # Kerr cat, |alpha|^2 = 9: the bit flip decays at 4.68e-9 = 2.2e-12 x ||L||_1 (2125), and 1.1e-11 of
    # the scale of L on the mode (410; the threshold's scale since session 16): 11x above the default
    # zero_tol, the unique steady state returned silently; at zero_tol = 3e-12 the call says it was
    # close, and at 3e-10 the mode counts as conserved (the cat manifold)
    a = qutip.destroy(40)
    H = -(a.dag() ** 2) * a**2 + 9 * (a**2 + a.dag() ** 2)
    ness = qness.asymptotic_state((H, [a]), qutip.coherent(40, 3.0))
    assert ness.info["kernel_dim"] == 1
    assert ness.info["slowest_rate"] == pytest.approx(4.68e-9, rel=1e-2)
    assert ness.info["slowest_scale"] == pytest.approx(410, rel=1e-2)
    np.testing.assert_allclose(ness.rho, qness.steady_state(H, [a]).rho, atol=1e-7)
    with pytest.warns(qness.UniquenessWarning, match="depends on zero_tol"):
        near = qness.asymptotic_state((H, [a]), qutip.coherent(40, 3.0), zero_tol=3e-12)
    assert near.info["kernel_dim"] == 1
    np.testing.assert_allclose(near.rho, ness.rho, atol=1e-7)
    meta = qness.asymptotic_state((H, [a]), qutip.coherent(40, 3.0), zero_tol=3e-10)
    assert meta.info["kernel_dim"] == 2


def test_initial_state_positivity_check_on_a_rank_deficient_state():
    # (a Cholesky factorisation of rho0 + tol 1: zero eigenvalues pass, a negative one does not)
    from qness.solvers.asymptotic import initial_density_matrix

    d = 300
    rng = np.random.default_rng(5)
    G = rng.normal(size=(d, 40)) + 1j * rng.normal(size=(d, 40))
    rho = G @ G.conj().T  # rank 40: positive semi-definite, zero eigenvalues to rounding
    out = initial_density_matrix(rho, d)
    assert np.trace(out).real == pytest.approx(1.0)
    v = rng.normal(size=d)
    bad = rho / np.trace(rho).real - 0.01 * np.outer(v, v) / (v @ v)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        initial_density_matrix(bad, d)


def test_zero_is_judged_on_the_scale_of_l_where_the_mode_lives():
    # session 16 (new-user review and fuzzing): zero was |lambda| <= zero_tol x ||L||_1 and the shift
    # 10 x that. A mode with (a^+)^8 a^8 at cutoff 60 (||L||_1 = 9e13 from Fock states the state never
    # reaches) got 116 "steady states" and the vacuum (0.88 off, with a warning); a qubit with weak
    # coupling and strong dephasing (||L||_1 = 6e5, slow mode 7.9e-11) got two and a state 0.10 off
    # I/2, silently. Oracles: steady_state (certified unique) and the exact I/2 (Hermitian jumps)
    a = qutip.destroy(60)
    H = a.dag() ** 8 * a**8 + 0.8 * (a + a.dag()) + 0.2 * a.dag() * a
    ness = qness.asymptotic_state((H, [a]), qutip.fock_dm(60, 0))
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.rho, qness.steady_state(H, [a]).rho, atol=1e-10)
    Hq = np.array([[-3.0e-4, -3.3e-3 - 1.1e-3j], [-3.3e-3 + 1.1e-3j, 3.1e-3]])
    cq = [np.diag([-25.9, -6.44]).astype(complex), np.diag([532.7, -578.6]).astype(complex)]
    # (since session 20 with a warning: the slow mode's rate is below the rounding L's entries could
    # carry on it, eps x the rates 2.8e5 that cancel there; in this L they happen to cancel exactly)
    with pytest.warns(qness.UniquenessWarning, match="1 mode.* counted as decaying lie within the rounding"):
        q = qness.asymptotic_state((Hq, cq), np.diag([1.0, 0.0]))
    assert q.info["kernel_dim"] == 1
    np.testing.assert_allclose(q.rho, np.eye(2) / 2, atol=1e-12)
    assert 1e-11 < q.info["slowest_rate"] < 1e-9  # the slow mode, resolved and counted as decaying


def _lumped_liouvillian(model):
    """``L`` summed as ``I x A + conj(A) x I + sum_k conj(L_k) x L_k`` with ``A = -i H_eff`` (the
    kernels' form, before session 21's exact diagonal): large terms that cancel leave rounding."""
    from qness._kernels.reference import assemble_reference
    from qness.liouvillian import lindblad_arrays

    arr = lindblad_arrays(qness.as_model(model))
    return assemble_reference(arr.A, arr.jumps)


def test_no_zero_mode_found_says_what_to_pass():
    # Hermitian jumps with rates up to 1e6 and a weak H. Until session 21 L(1) was 8e-10 from rounding
    # inside L's entries (-1/2 sum_k L_k^+ L_k summed over the jumps before each jump's own term
    # cancelled it) while the scale of L on the populations is 3.5: asymptotic_state took the mode
    # within that rounding with a warning, and steady_state returned a state 6e-7 from the exact I/d.
    # L's diagonal is now computed without cancellation (qness.liouvillian.exact_diagonal)
    rng = np.random.default_rng(47)
    d = 13
    G = rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d))
    H = 0.03 * (G + G.conj().T) / np.sqrt(d)
    U = np.linalg.qr(rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d)))[0]
    E = np.eye(d) + 1e-4 * (U @ np.diag(rng.standard_normal(d)) @ U.conj().T)
    c = [
        np.sqrt(2.6e4) * np.diag(rng.standard_normal(d)) @ E,
        np.sqrt(9.1e5) * np.diag(rng.standard_normal(d)),
    ]
    c = [0.5 * (x + x.conj().T) for x in c]
    assert np.linalg.norm(qness.liouvillian((H, c)) @ np.eye(d).ravel()) < 1e-13
    ness = qness.asymptotic_state((H, c), np.eye(d))  # (no warning: the suite's warnings are errors)
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.rho, np.eye(d) / d, atol=1e-14)
    for method in ("dense", "direct"):
        np.testing.assert_allclose(qness.steady_state((H, c), method).rho, np.eye(d) / d, atol=1e-14)
    # the same L given as a matrix with the old rounding (8e-10): the mode within the rounding of L's
    # entries (6.3e-11 against 2e-8) is taken, with a warning that says so, rather than no answer
    Lr = _lumped_liouvillian((H, c))
    assert np.linalg.norm(Lr @ np.eye(d).ravel()) > 1e-11
    with pytest.warns(
        qness.UniquenessWarning, match=r"no mode is zero at zero_tol=1e-12 .* but 1 lie within the rounding"
    ):
        ness = qness.asymptotic_state(Lr, np.eye(d))
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.rho, np.eye(d) / d, atol=1e-6)
    ness = qness.asymptotic_state(Lr, np.eye(d), zero_tol=1e-9)  # as the warning suggests
    assert ness.info["kernel_dim"] == 1
    np.testing.assert_allclose(ness.rho, np.eye(d) / d, atol=1e-6)
    # a matrix with no mode at zero at all (every rate >= 1e-6): the error names the ratio
    L = qness.liouvillian((np.diag([0.0, 1.0]), [np.array([[0, 1], [0, 0]], dtype=complex)])).toarray()
    with pytest.raises(
        qness.ConvergenceError, match=r"no mode at zero: .* of the scale of L on it .* zero_tol"
    ):
        qness.asymptotic_state(L - 1e-6 * np.eye(4), np.eye(2))


def _chain_state_and_its_limit(n):
    """A random state of ``n`` spins and its limit under strong dephasing with hopping: the populations
    equalised within each particle-number sector (diagonal), the coherences gone."""
    d = 2**n
    rng = np.random.default_rng(3)
    X = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho0 = X @ X.conj().T
    rho0 /= np.trace(rho0)
    N = np.array([bin(i).count("1") for i in range(d)])
    exact = np.zeros((d, d))
    for q in range(n + 1):
        idx = np.flatnonzero(N == q)
        exact[idx, idx] = np.real(np.diag(rho0))[idx].sum() / idx.size
    return rho0, exact


def test_strong_dephasing_zero_modes_at_the_rounding_of_l():
    # session-20 review: an XX chain of 4 sites with dephasing sigma_z at rate g >= 1e5 (L is zero on
    # the populations only up to eps g) was refused ("no mode at zero", g = 1e5, 1e6) or ("found 5
    # right and 5 left kernel vectors", J = 1e-5, g = 1: residual 3.1e-16). Oracle: the populations
    # equalise within each particle-number sector (5 conserved quantities), coherences die. A warning
    # only where no mode is zero at zero_tol (g = 1e5: Ritz values 2.9e-11; at g = 1e6 they are 0).
    # Since session 21 L's diagonal is exact (qness.liouvillian.exact_diagonal): no warning at 1e5;
    # at g = 1e7 the true Zeno rates (2.9e-8) lie within the rounding of the solves with L's 1e7
    # entries, and the warning says so (the limit is still exact); as a matrix with the old rounding,
    # 1e5 warns as before
    import warnings

    n = 4
    rho0, exact = _chain_state_and_its_limit(n)
    for J, g, warns, lumped in [
        (1.0, 1e4, False, False),
        (1e-5, 1.0, False, False),
        (1.0, 1e5, False, False),
        (1.0, 1e6, False, False),
        (1.0, 1e7, True, False),
        (1.0, 1e5, True, True),
    ]:
        model = (
            qness.ModelBuilder(2, n=n)
            .add_coupling(J, "sigmap", "sigmam", plus_hc=True)
            .add_onsite(0.3 * J, "sigmaz")
            .add_jump("sigmaz", g)
            .build()
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ness = qness.asymptotic_state(_lumped_liouvillian(model) if lumped else model, rho0)
        assert bool(caught) == warns, [str(w.message) for w in caught]
        assert ness.info["kernel_dim"] == n + 1
        assert np.abs(ness.rho - exact).max() < 1e-12


@pytest.mark.parametrize("h", [0.3, 1.0, 0.0])
def test_pure_dephasing_keeps_its_populations_without_a_warning(h):
    # L = -i h[sz, .] + D[sz]: eigenvalues 0, 0, -2 +- 2ih (exact); the populations are exactly
    # conserved, yet their Ritz values' rounding (2.3e-16) was flagged as "depends on zero_tol"
    import warnings

    sz = np.diag([1.0, -1.0]).astype(complex)
    rho0 = np.array([[0.6, 0.3 - 0.1j], [0.3 + 0.1j, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ness = qness.asymptotic_state((h * sz, [sz]), rho0)
    assert ness.info["kernel_dim"] == 2
    assert np.abs(ness.rho - np.diag(np.diag(rho0))).max() < 1e-14


def test_a_block_with_an_exact_zero_mode_beside_one_at_the_rounding_warns():
    # session-20 review: a decaying qubit (exact zero mode |0><0|) beside a dephased XX chain of 4 sites
    # (g = 1e5: its zero modes only within eps g): rho0 on the chain came back as |0><0|, silently.
    # Now a warning names the modes and a zero_tol that counts them; with it, the exact limit
    # (populations equalised per particle-number sector of the chain)
    import re

    n, dB = 4, 16
    d = 2 + dB
    sz, sp_ = np.diag([1.0, -1.0]), np.array([[0.0, 1.0], [0.0, 0.0]])

    def site(op, i):
        return np.kron(np.kron(np.eye(2**i), op), np.eye(2 ** (n - i - 1)))

    def emb(M):
        out = np.zeros((d, d), complex)
        out[2:, 2:] = M
        return out

    HB = sum(site(sp_, i) @ site(sp_.T, i + 1) + site(sp_.T, i) @ site(sp_, i + 1) for i in range(n - 1))
    HB = HB + sum(0.3 * site(sz, i) for i in range(n))
    cs = [emb(np.sqrt(1e5) * site(sz, i)) for i in range(n)]
    a = np.zeros((d, d), complex)
    a[0, 1] = 1.0
    cs.append(a)
    rB, exactB = _chain_state_and_its_limit(n)
    rho0, exact = emb(rB), emb(exactB).real
    # since session 21 L's diagonal is exact (qness.liouvillian.exact_diagonal): the chain's zero
    # modes are exact too, and the model's limit comes without a warning
    ness = qness.asymptotic_state((emb(HB), cs), rho0)
    assert ness.info["kernel_dim"] == n + 2
    assert np.abs(ness.rho - exact).max() < 1e-12
    # the same Liouvillian summed with the rounding of the old assembly, given as a matrix
    Lr = _lumped_liouvillian((emb(HB), cs))
    with pytest.warns(qness.UniquenessWarning, match="counted as decaying lie within the rounding") as rec:
        qness.asymptotic_state(Lr, rho0)
    zt = float(re.search(r"with zero_tol=([0-9.e+-]+) they count", str(rec[0].message)).group(1))
    ness = qness.asymptotic_state(Lr, rho0, zero_tol=zt)
    assert ness.info["kernel_dim"] == n + 2
    assert np.abs(ness.rho - exact).max() < 1e-12
