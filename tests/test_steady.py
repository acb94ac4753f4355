"""Steady-state solvers: analytic references, every method against every other, QuTiP, errors."""

import numpy as np
import pytest
import qutip
import scipy.sparse as sp
from helpers import corpus_module, dense_steady_state, random_model

import qness
from qness import operators as ops
from qness.solvers.steady import envelope_estimate

METHODS = [
    qness.Dense(),
    qness.Direct(),
    qness.Direct(ordering="COLAMD"),
    qness.Krylov(),
    qness.Krylov(solver="lgmres", rtol=1e-12),
    qness.Krylov(preconditioner="ilu", matrix_free=False),
    qness.Krylov(preconditioner=None, rtol=1e-12, restart=400, maxiter=4000),
    qness.Evolve(atol=1e-11),
    qness.Auto(),
]
IDS = [repr(m) for m in METHODS]


def thermal_qubit(omega, gamma, T):
    nb = 0.0 if T == 0 else 1.0 / np.expm1(omega / T)
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(omega / 2, "sigmaz")
    b.add_jump("sigmam", gamma * (nb + 1), bath="b").add_jump("sigmap", gamma * nb, bath="b")
    return b.build(), nb


def xx_chain(n, delta=0.0, gamma=1.0):
    b = qness.ModelBuilder(2, n=n)
    b.add_coupling(1.0, "sigmax", "sigmax").add_coupling(1.0, "sigmay", "sigmay")
    b.add_coupling(delta, "sigmaz", "sigmaz")
    b.add_jump("sigmap", gamma, sites=0).add_jump("sigmam", gamma, sites=n - 1)
    b.add_u1([1, 0], name="magnetisation")
    return b.build()


def assert_state(ness, d, resid=1e-9):
    assert ness.rho.shape == (d, d)
    assert abs(ness.trace - 1) < 1e-12
    np.testing.assert_allclose(ness.rho, ness.rho.conj().T, atol=0)
    assert ness.min_eigenvalue > -1e-10
    assert ness.residual < resid


# ------------------------------------------------------------ analytic references
@pytest.mark.parametrize("method", METHODS, ids=IDS)
@pytest.mark.parametrize("T", [0.0, 0.3, 1.0, 5.0])
def test_thermal_qubit_is_gibbs(method, T):
    omega, gamma = 1.3, 0.2
    m, nb = thermal_qubit(omega, gamma, T)
    ness = qness.steady_state(m, method)
    assert_state(ness, 2)
    p_up = nb / (2 * nb + 1)  # Boltzmann: p_up/p_down = exp(-omega/T) = nb/(nb+1)
    np.testing.assert_allclose(ness.rho, np.diag([p_up, 1 - p_up]), atol=1e-10)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_thermal_oscillator_is_gibbs(method):
    cutoff, omega, T = 25, 1.0, 0.7
    b = qness.ModelBuilder(cutoff, n=1)
    b.add_onsite(omega, "num").add_thermal_bath("bath", 0, omega=omega, gamma=0.3, T=T)
    ness = qness.steady_state(b.build(), method)
    p = np.exp(-omega * np.arange(cutoff) / T)
    np.testing.assert_allclose(np.diag(ness.rho).real, p / p.sum(), atol=1e-10)
    np.testing.assert_allclose(ness.rho - np.diag(np.diag(ness.rho)), 0, atol=1e-10)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_driven_cavity_is_coherent(method):
    # H = Delta a^+a + F (a + a^+), L = sqrt(kappa) a  ->  alpha = -i F / (kappa/2 + i Delta)
    cutoff, Delta, F, kappa = 30, 0.4, 0.6, 1.0
    b = qness.ModelBuilder(cutoff, n=1)
    b.add_onsite(Delta, "num").add_drive(F, "destroy", plus_hc=True).add_jump("destroy", kappa)
    ness = qness.steady_state(b.build(), method)
    alpha = -1j * F / (kappa / 2 + 1j * Delta)
    coh = qutip.coherent_dm(cutoff, alpha).full()
    np.testing.assert_allclose(ness.expect(ops.destroy(cutoff)), alpha, atol=1e-9)
    np.testing.assert_allclose(ness.rho, coh, atol=1e-8)  # truncation of the coherent state ~1e-12


@pytest.mark.parametrize("method", METHODS, ids=IDS)
@pytest.mark.parametrize("delta_a, omega", [(0.0, 0.7), (0.5, 1.3), (-1.0, 0.4)])
def test_resonance_fluorescence(method, delta_a, omega):
    # H = delta/2 sz + Omega/2 sx, L = sqrt(gamma) s-: optical Bloch equations, closed form
    gamma = 1.0
    b = qness.ModelBuilder(2, n=1)
    b.add_onsite(delta_a / 2, "sigmaz").add_onsite(omega / 2, "sigmax").add_jump("sigmam", gamma)
    ness = qness.steady_state(b.build(), method)
    s = 2 * omega**2 / (gamma**2 + 4 * delta_a**2)
    sz = -1 / (1 + s)
    # Heisenberg: d<s->/dt = -(gamma/2 + i delta) <s-> + i Omega/2 <sz> = 0
    sm = 1j * omega * sz / (gamma + 2j * delta_a)
    assert ness.expect(ops.sigmaz()) == pytest.approx(sz, abs=1e-10)
    np.testing.assert_allclose(ness.expect(ops.sigmam()), sm, atol=1e-10)


def spin_currents(ness, n):
    out = []
    for i in range(n - 1):
        xy = ops.chain_operator({i: "sigmax", i + 1: "sigmay"}, (2,) * n)
        yx = ops.chain_operator({i: "sigmay", i + 1: "sigmax"}, (2,) * n)
        out.append(2 * (ness.expect(xy) - ness.expect(yx)))
    return np.array(out)


def test_xx_chain_current_independent_of_length():
    currents = []
    for n in (2, 3, 4, 5, 6):
        ness = qness.steady_state(xx_chain(n))
        j = spin_currents(ness, n)
        np.testing.assert_allclose(j, j[0], atol=1e-10)  # continuity along the chain
        currents.append(j[0])
    np.testing.assert_allclose(currents, currents[0], atol=1e-10)
    assert abs(currents[0]) > 0.1
    # XXZ at delta != 0 is not ballistic: the current changes with n
    jz = [spin_currents(qness.steady_state(xx_chain(n, delta=1.5)), n)[0] for n in (3, 5)]
    assert abs(jz[0] - jz[1]) > 1e-3


# ------------------------------------------------------------ solvers agree
@pytest.mark.parametrize("dims", [(2,), (3,), (2, 3), (2, 2, 2), (3, 2)])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_method_equals_dense_null_vector(dims, seed):
    m = random_model(dims, n_jumps=2, seed=seed, density=0.7)
    ref = dense_steady_state(m)
    for method in METHODS:
        ness = qness.steady_state(m, method)
        np.testing.assert_allclose(ness.rho, ref, atol=1e-9, err_msg=repr(method))
        assert ness.info["method"] == type(method).__name__ or isinstance(method, qness.Auto)


@pytest.mark.parametrize("n", [3, 4])
def test_agrees_with_qutip_steadystate(n):
    m = xx_chain(n, delta=0.5)
    Hq, cq = m.to_qutip()
    ref = qutip.steadystate(Hq, cq).full()
    for method in ("dense", "direct", "krylov", "auto"):
        np.testing.assert_allclose(qness.steady_state(m, method).rho, ref, atol=1e-10)
    ness = qness.steady_state((Hq, cq))  # QuTiP objects directly
    np.testing.assert_allclose(ness.to_qobj().full(), ref, atol=1e-10)
    assert ness.to_qobj().dims == Hq.dims


@pytest.mark.parametrize("method", ["dense", "direct", "krylov"])
def test_sector_solve_equals_full_solve(method):
    m = xx_chain(5, delta=0.7, gamma=0.8)
    sec = qness.steady_state(m, method)
    full = qness.steady_state(m, method, symmetry=None)
    assert sec.info["sector"]["size"] == 252 and full.info["sector"]["size"] == 1024
    np.testing.assert_allclose(sec.rho, full.rho, atol=1e-10)


def test_z2_sector_two_photon_kerr():
    # Two-photon drive and two-photon loss conserve parity: NESS lives in the even sector.
    N = 16
    a = ops.destroy(N)
    ad = ops.create(N)
    H = -0.5 * (ad @ a) + 0.5 * (ad @ ad @ a @ a) + 0.8 * (ad @ ad + a @ a)
    parity = np.where(np.arange(N) % 2 == 0, 1, -1)
    m = qness.LindbladModel(
        dims=(N,),
        H=H,
        jumps=(qness.Jump(a, 0.1), qness.Jump(a @ a, 0.5)),
        symmetries=(qness.Z2Symmetry(parity, (-1, 1)),),
    )
    sec = qness.steady_state(m, "direct")
    full = qness.steady_state(m, "direct", symmetry=None)
    assert sec.info["sector"] == {"kind": "z2", "label": 1, "size": 128}
    np.testing.assert_allclose(sec.rho, full.rho, atol=1e-10)
    np.testing.assert_allclose(sec.rho, dense_steady_state(m), atol=1e-9)


def test_bicgstab_on_a_chain_and_its_breakdown_reported():
    # BiCGSTAB converges on mixed steady states; on a pure (dark) steady state the no-jump
    # part is singular and BiCGSTAB breaks down: that must be an error, never a wrong state.
    m = xx_chain(5, delta=0.4)
    ness = qness.steady_state(m, "krylov", solver="bicgstab")
    np.testing.assert_allclose(ness.rho, qness.steady_state(m, "dense").rho, atol=1e-10)
    qubit, _ = thermal_qubit(1.3, 0.2, 0.0)
    with pytest.raises(qness.ConvergenceError, match="bicgstab"):
        qness.steady_state(qubit, "krylov", solver="bicgstab", symmetry=None)
    # in its U(1) sector (detected: populations only) the same problem is benign
    ness = qness.steady_state(qubit, "krylov", solver="bicgstab")
    np.testing.assert_allclose(ness.rho, np.diag([0.0, 1.0]), atol=1e-12)


def test_warm_start_reduces_iterations():
    m1, m2 = xx_chain(6, delta=0.5), xx_chain(6, delta=0.52)
    cold = qness.steady_state(m2, "krylov")
    warm = qness.steady_state(m2, "krylov", x0=qness.steady_state(m1, "krylov"))
    assert warm.info["iterations"] < cold.info["iterations"]
    np.testing.assert_allclose(warm.rho, cold.rho, atol=1e-10)


def test_ness_record():
    m = xx_chain(3, delta=0.3)
    ness = qness.steady_state(m, "krylov", rtol=1e-13)
    assert ness.info["options"]["rtol"] == 1e-13
    assert ness.info["iterations"] > 0 and ness.info["time"] > 0
    assert ness.info["sector"]["kind"] == "u1"
    assert isinstance(ness.expect(ops.embed("sigmaz", 0, (2,) * 3)), float)
    assert isinstance(ness.expect(ops.embed("sigmap", 0, (2,) * 3)), complex)
    assert ness.hermiticity_error < 1e-12
    assert 0 < ness.purity <= 1
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(ness.rho)), ness.eigenvalues, atol=1e-13)
    assert "residual" in repr(ness)


def test_auto_records_its_choice():
    small = qness.steady_state(xx_chain(3))
    assert small.info["method"] == "Dense" and "dense" in small.info["auto"]
    big = qness.steady_state(xx_chain(7))
    assert big.info["method"] == "Krylov" and big.residual < 1e-10


def test_envelope_estimate_bounds_unpivoted_rcm_lu():
    import scipy.sparse.linalg as spla
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    from qness.symmetry import steady_sector

    m = xx_chain(6)
    M = steady_sector(m).matrix(m)
    M = sp.csr_array(M - sp.eye_array(M.shape[0]))  # spectrum in Re < 0: non-singular
    flops, mem = envelope_estimate(M)
    p = reverse_cuthill_mckee(sp.csr_matrix(abs(M) + abs(M.T)), symmetric_mode=True)
    lu = spla.splu(sp.csc_matrix(M[p][:, p]), permc_spec="NATURAL", diag_pivot_thresh=0.0)
    assert 16 * (lu.L.nnz + lu.U.nnz) <= mem and flops > 0


def test_envelope_estimate_is_the_profile_in_rcm_order():
    # definition: the permuted symmetrised pattern, row i spanning columns first_i .. i
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    rng = np.random.default_rng(3)
    M = sp.random_array((300, 300), density=0.01, format="csr", rng=rng) + sp.eye_array(300, k=5)
    M = sp.csr_array(M, dtype=np.complex128)
    M.data[:] = rng.standard_normal(M.nnz) + 1j * rng.standard_normal(M.nnz)  # no cancellation in S
    S = sp.csr_matrix(abs(M) + abs(M.T))
    p = reverse_cuthill_mckee(S, symmetric_mode=True)
    P = sp.csr_matrix(S[p][:, p])
    bw = np.array([max(i - P.indices[P.indptr[i] : P.indptr[i + 1]].min(initial=i), 0) for i in range(300)])
    flops, mem = envelope_estimate(M)
    assert flops == pytest.approx(bw.sum() * bw.mean() * 8.0, rel=1e-12)
    assert mem == 32.0 * (bw.sum() + 300)


def test_auto_skips_the_envelope_where_the_separator_alone_rules_the_lu_out(monkeypatch):
    from qness.solvers import steady as st

    def system(model):
        return st._System(model, st._choose_sector(model, "auto"))

    # dissipative Ising 9 (262,144 unknowns, one block): the separator estimate is 1e8 times the
    # LU Auto would take, so the sector matrix is not assembled for its envelope (2.5 s at 10 spins)
    ising = system(qness.models.dissipative_ising(9, V=1.0, h=1.0, detuning=0.0, gamma=1.0))
    chosen, note = st._auto_choice(qness.Auto(), ising)
    assert isinstance(chosen, qness.Krylov) and "envelope not computed" in note["auto"]
    assert getattr(ising, "_envelope", None) is None and ising._M is None
    # XXZ 10: the separator estimate is within the margin, the envelope decides (and says Krylov)
    xxz = system(qness.models.boundary_driven_xxz(10, delta=0.5, gamma=1.0))
    chosen, note = st._auto_choice(qness.Auto(), xxz)
    assert isinstance(chosen, qness.Krylov) and "envelope" in note["auto"]
    assert "not computed" not in note["auto"] and xxz._envelope is not None
    # below ENVELOPE_SKIP_SIZE the envelope is always computed
    monkeypatch.setattr(st, "ENVELOPE_SKIP_SIZE", 10**9)
    ising = system(qness.models.dissipative_ising(9, V=1.0, h=1.0, detuning=0.0, gamma=1.0))
    chosen, note = st._auto_choice(qness.Auto(), ising)
    assert "not computed" not in note["auto"] and ising._envelope is not None


# ------------------------------------------------------------ several steady states
def dephasing_chain(n):
    b = qness.ModelBuilder(2, n=n)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    b.add_jump("sigmaz", 0.5)
    return b.build()


def test_strong_symmetry_is_reported_not_mixed():
    m = dephasing_chain(3)
    with pytest.raises(qness.NonUniqueSteadyStateError, match="4 invariant subspaces") as exc:
        qness.steady_state(m)
    assert len(exc.value.subspaces) == 4
    states = qness.steady_states(m)
    assert len(states) == 4
    for s, comp in zip(states, exc.value.subspaces):
        k = len(comp)
        np.testing.assert_allclose(s.rho[np.ix_(comp, comp)], np.eye(k) / k, atol=1e-10)
        assert s.residual < 1e-12


def test_evolve_reaches_the_state_of_its_initial_condition():
    m = dephasing_chain(3)
    psi = np.zeros(8)
    psi[3] = 1.0  # |up down down>... one-excitation sector: basis index 0b011 has one down? check via charge
    rho0 = np.outer(psi, psi)
    with pytest.raises(qness.NonUniqueSteadyStateError):  # checked first, as on every route
        qness.steady_state(m, qness.Evolve(rho0=rho0, atol=1e-11))
    ness = qness.steady_state(m, qness.Evolve(rho0=rho0, atol=1e-11, verify_unique=False))
    assert not ness.info["uniqueness_checked"]
    n_up = np.array([bin(7 - i).count("1") for i in range(8)])  # |0> is up: index bits 0 = up
    sector = np.flatnonzero(n_up == n_up[3])
    expect = np.zeros((8, 8))
    expect[np.ix_(sector, sector)] = np.eye(len(sector)) / len(sector)
    np.testing.assert_allclose(ness.rho, expect, atol=1e-9)


@pytest.mark.parametrize("s", [1e-6, 1e3, 1e6])
def test_evolve_is_unit_free(s):
    """Every energy and rate times s: the same NESS, reached in the same steps at times / s. The step
    and atol were absolute: at s = 1e-6 the run stopped 3.8e-6 from the state (no warning), at s = 1e3
    the first step (dt = 1) was 1e3 relaxation times long, at s = 1e6 the run took over 10 minutes."""
    kw = dict(delta=0.5, mu=0.5)
    ref = qness.steady_state(qness.models.boundary_driven_xxz(4, dephasing=0.1, **kw), method="dense").rho
    one = qness.steady_state(qness.models.boundary_driven_xxz(4, dephasing=0.1, **kw), method="evolve")
    m = qness.models.boundary_driven_xxz(4, J=s, gamma=s, dephasing=0.1 * s, **kw)
    ness = qness.steady_state(m, method="evolve")
    assert np.abs(one.rho - ref).max() < 1e-12
    assert np.abs(ness.rho - ref).max() < 1e-12
    assert ness.info["iterations"] == one.info["iterations"]
    assert ness.info["t_final"] == pytest.approx(one.info["t_final"] / s, rel=1e-12)
    assert ness.info["scale"] == pytest.approx(s * one.info["scale"], rel=1e-12)
    assert ness.residual <= qness.Evolve().rtol * ness.info["scale"] == ness.info["target"]


def test_numerically_singular_is_reported():
    # A qubit with no dynamics at all: every state is stationary (no structure to detect
    # when H is diagonal with a coupling through a zero-rate channel).
    m = qness.from_qutip(np.zeros((2, 2)), [np.zeros((2, 2))])
    with pytest.raises(qness.NonUniqueSteadyStateError):
        qness.steady_state(m)


# ------------------------------------------------------------ failures and bad input
def test_convergence_error_carries_last_iterate():
    with pytest.raises(qness.ConvergenceError) as exc:
        qness.steady_state(xx_chain(5, delta=0.4), qness.Krylov(preconditioner=None, maxiter=3, restart=3))
    err = exc.value
    assert err.rho.shape == (32, 32) and err.residual > 1e-8 and err.iterations == 3


def test_unknown_options_and_methods_rejected():
    m = xx_chain(3)
    with pytest.raises(TypeError, match="valid options: solver, preconditioner, rtol"):
        qness.steady_state(m, "krylov", tol=1e-3)
    with pytest.raises(ValueError, match="unknown method 'lu'; valid methods"):
        qness.steady_state(m, "lu")
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        qness.Krylov(preconditioner="jacobi")
    with pytest.raises(ValueError, match="rtol must be positive"):
        qness.Krylov(rtol=-1)
    with pytest.raises(ValueError, match="ordering must be one of"):
        qness.Direct(ordering="METIS")
    with pytest.raises(ValueError, match="x0 must be a 8 x 8"):
        qness.steady_state(m, "krylov", x0=np.eye(4))
    with pytest.raises(ValueError, match="symmetry must be"):
        qness.steady_state(m, symmetry="u2")
    with pytest.raises(ValueError, match="backend must be one of"):
        qness.Direct(backend="mumps")


def test_dense_refuses_large_sectors():
    with pytest.raises(qness.InsufficientMemoryError, match="max_size"):
        qness.steady_state(xx_chain(5), qness.Dense(max_size=100))


def test_declared_symmetry_that_does_not_hold_is_rejected():
    m = xx_chain(3)
    wrong = qness.U1Symmetry(np.arange(8), (1, -1))
    with pytest.raises(ValueError, match="does not conserve"):
        qness.steady_state(m, symmetry=wrong)


def test_a_non_stationary_result_is_never_returned(monkeypatch):
    from qness.solvers import steady

    def broken(system, method, x0):  # a solver that "succeeds" with a wrong vector
        return np.ones(system.n, dtype=complex), {"iterations": 1}

    monkeypatch.setitem(steady._DISPATCH, qness.Direct, broken)
    with pytest.raises(qness.ConvergenceError, match="not a steady state") as exc:
        qness.steady_state(xx_chain(3), "direct")
    assert exc.value.residual > 1e-3 and exc.value.rho.shape == (8, 8)


def test_symmetry_detected_when_not_declared():
    from qness.symmetry import detect_symmetry

    declared = xx_chain(4, delta=0.6)
    bare = qness.from_qutip(declared.H, [j.L for j in declared.jumps], dims=declared.dims)
    sym = detect_symmetry(bare)
    assert isinstance(sym, qness.U1Symmetry) and sym.jump_charges == (1, -1)
    ness = qness.steady_state(bare)
    assert ness.info["sector"] == {"kind": "u1", "label": 0, "size": 70}
    np.testing.assert_allclose(ness.rho, qness.steady_state(bare, symmetry=None).rho, atol=1e-10)
    # parity of the two-photon Kerr resonator; nothing for a coherent drive
    two = qness.models.kerr(10, detuning=0.3, U=0.5, F=0.0, kappa=1.0, G=0.4)
    two = qness.from_qutip(two.H, [j.L for j in two.jumps])
    assert isinstance(detect_symmetry(two), qness.Z2Symmetry)
    assert detect_symmetry(qness.models.kerr(10, detuning=0.3, U=0.5, F=1.0, kappa=1.0)) is None


def test_direct_refuses_a_factorisation_that_cannot_fit(monkeypatch):
    from qness.solvers import steady

    monkeypatch.setattr(steady, "available_memory", lambda: 1024.0)  # a 1 KiB machine
    # refused before assembly (memory_estimate) or after it (LU envelope), with what to try
    with pytest.raises(qness.InsufficientMemoryError, match=r"Direct: .*(use method='krylov'|; try)") as exc:
        qness.steady_state(xx_chain(4), "direct")
    assert exc.value.required > exc.value.available == 1024.0
    ok = qness.steady_state(xx_chain(4), qness.Direct(check_memory=False))
    assert ok.residual < 1e-12
    # Auto does not pick an LU that would not fit: it goes matrix-free (on a 3 MB machine the
    # 6-spin LU envelope, 2.6 MB, is above half of it; matrix-free Krylov needs 1.7 MB)
    monkeypatch.setattr(steady, "available_memory", lambda: 3e6)
    assert qness.steady_state(xx_chain(6), dense_max=0).info["method"] == "Krylov"


def test_ignored_settings_are_rejected():
    m = xx_chain(3)
    with pytest.raises(ValueError, match="x0 is not used by Direct"):
        qness.steady_state(m, "direct", x0=np.eye(8) / 8)
    with pytest.raises(ValueError, match="only with preconditioner='ilu'"):
        qness.Krylov(ilu_fill=5.0)
    with pytest.raises(ValueError, match="only with solver='gmres'"):
        qness.Krylov(solver="bicgstab", restart=20)


def test_auto_uses_lu_for_a_single_mode():
    m = qness.models.kerr(40, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
    ness = qness.steady_state(m)
    # one mode: the unknowns rho_mn form a d x d grid with a local stencil (H and the jumps have
    # bandwidth 1), so Auto takes the nested-dissection LU of that grid
    assert ness.info["method"] == "Direct" and "grid nested dissection" in ness.info["auto"]
    assert ness.info["options"]["ordering"] == "GRID_ND" and ness.info["stencil_width"] == 1
    np.testing.assert_allclose(ness.rho, qness.steady_state(m, "krylov").rho, atol=1e-10)


@pytest.mark.parametrize("order", ["mode first", "qubit first"])
def test_auto_uses_the_grid_lu_for_a_mode_with_a_qubit(order):
    # a driven Jaynes-Cummings model: cells of 4 unknowns rho_(m a),(n b) on the d x d grid of the
    # mode (Rabi, cavity 80: 0.42 s against UMFPACK's 0.72 s); the mode may be either tensor factor
    a, s = qutip.destroy(24), qutip.destroy(2)
    if order == "mode first":
        a, s = qutip.tensor(a, qutip.qeye(2)), qutip.tensor(qutip.qeye(24), s)
    else:
        a, s = qutip.tensor(qutip.qeye(2), a), qutip.tensor(s, qutip.qeye(24))
    H = 0.1 * a.dag() * a - 0.1 * s.dag() * s + 0.5 * (a.dag() * s + a * s.dag()) + 0.3 * (a + a.dag())
    c_ops = [np.sqrt(0.2) * a, np.sqrt(0.05) * s]
    m = qness.from_qutip(H, c_ops)
    ness = qness.steady_state(m)
    assert ness.info["options"]["ordering"] == "GRID_ND"
    assert "one mode of 24 states x 2 other states" in ness.info["auto"]
    assert ness.info["stencil_width"] == 1 and ness.info["uniqueness"]["verified"]
    ref = qness.steady_state(m, qness.Direct(backend="superlu", ordering="MMD_AT_PLUS_A"))
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-12)
    np.testing.assert_allclose(ness.rho, qutip.steadystate(H, c_ops).full(), atol=1e-9)
    # one more qubit (q = 4) keeps the general rules (measured no faster there)
    b = qutip.destroy(2)
    H3 = qutip.tensor(H, qutip.qeye(2)) + 0.2 * qutip.tensor(qutip.qeye(H.dims[0]), b + b.dag())
    c3 = [qutip.tensor(np.sqrt(0.2) * a, qutip.qeye(2)), qutip.tensor(qutip.qeye(H.dims[0]), 0.3 * b)]
    assert qness.steady_state(qness.from_qutip(H3, c3)).info["options"].get("ordering") != "GRID_ND"


def test_auto_takes_umfpack_for_a_mode_with_two_photon_terms():
    # a quantum van der Pol oscillator (one-photon gain, two-photon loss): a stencil of width 2, whose
    # grid LU took 0.47 s at 150 states against QuTiP's 0.29 s (session-22 review); UMFPACK ran
    # 1.4-2.4x faster than the grid on every two-photon mode measured; width 1 keeps the grid
    pytest.importorskip("cvxopt", reason="UMFPACK comes with the optional cvxopt (qness[fast])")
    a = qutip.destroy(30)
    H = 0.1 * a.dag() * a + 0.3j * (a - a.dag())
    c_ops = [a.dag(), np.sqrt(0.1) * a * a]
    ness = qness.steady_state(H, c_ops)
    assert ness.info["method"] == "Direct" and ness.info["options"]["backend"] == "umfpack"
    assert "one mode of 30 states with a stencil of width 2 (multi-photon terms)" in ness.info["auto"]
    assert ness.info["uniqueness"]["verified"]
    grid = qness.steady_state(H, c_ops, method=qness.Direct(ordering="GRID_ND"))
    assert grid.info["stencil_width"] == 2
    np.testing.assert_allclose(ness.rho, grid.rho, atol=1e-12)
    np.testing.assert_allclose(ness.rho, qutip.steadystate(H, c_ops).full(), atol=1e-9)


def test_auto_single_mode_lu_threshold_follows_the_memory(monkeypatch):
    # the grid LU's estimate is measured 10-15% high, so Auto lets it take GRID_LU_FRACTION of the
    # available memory (Kerr 2000: 14.8 GiB estimated, 13.1 GiB used) before turning to Krylov
    from qness.solvers import steady

    m = qness.models.kerr(20, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
    need = steady._grid_lu_bytes(20**2)
    monkeypatch.setattr(steady, "available_memory", lambda: 1.01 * need / steady.GRID_LU_FRACTION)
    lu = qness.steady_state(m)
    assert lu.info["method"] == "Direct" and "grid nested dissection" in lu.info["auto"]
    monkeypatch.setattr(steady, "available_memory", lambda: 0.99 * need / steady.GRID_LU_FRACTION)
    kr = qness.steady_state(m)
    assert kr.info["method"] == "Krylov" and "grid LU of one mode of 20 states estimated" in kr.info["auto"]
    np.testing.assert_allclose(kr.rho, lu.rho, atol=1e-10)
    # the estimate follows the stencil width (separators w cells thick: fill ~ w^2); ignoring it
    # under-estimated an a^4 mode 9x (session-6 review). A two-photon drive has width 2:
    m2 = qness.models.kerr(20, detuning=-1.0, U=0.1, F=0.5, G=0.1, kappa=1.0)
    assert steady._mode_bandwidth(m2) == 2 and steady._mode_bandwidth(m) == 1
    assert steady._grid_lu_bytes(20**2, 2) > 3.9 * steady._grid_lu_bytes(20**2) - 4 * 320.0 * 20**2
    monkeypatch.setattr(steady, "available_memory", lambda: 2.0 * need / steady.GRID_LU_FRACTION)
    assert qness.steady_state(m).info["method"] == "Direct"
    assert "grid LU of one mode of 20 states estimated" in qness.steady_state(m2).info["auto"]


def collective_decay_pair():
    # Two qubits, collective decay L = s-(x)1 + 1(x)s-: the ground state and the dark singlet
    # are both stationary. The basis graph is connected, so only the solvers can tell.
    sm = qutip.sigmam()
    L = qutip.tensor(sm, qutip.qeye(2)) + qutip.tensor(qutip.qeye(2), sm)
    return qness.from_qutip(0 * qutip.tensor(qutip.qeye(2), qutip.qeye(2)), [L])


@pytest.mark.parametrize(
    "method",
    [
        qness.Dense(),
        qness.Direct(backend="superlu"),
        qness.Direct(backend="umfpack"),
        qness.Krylov(),
        qness.Krylov(solver="lgmres"),
    ],
    ids=["dense", "superlu", "umfpack", "gmres", "lgmres"],
)
def test_hidden_degeneracy_is_reported(method):
    if getattr(method, "backend", None) == "umfpack":
        pytest.importorskip("cvxopt", reason="UMFPACK comes with the optional cvxopt (qness[fast])")
    with pytest.raises(qness.NonUniqueSteadyStateError):
        qness.steady_state(collective_decay_pair(), method, symmetry=None)


def test_umfpack_backend_agrees_with_superlu():
    pytest.importorskip("cvxopt", reason="UMFPACK comes with the optional cvxopt (qness[fast])")
    for m in (xx_chain(5, delta=0.7), qness.models.kerr(30, detuning=-1.0, U=0.2, F=0.8, kappa=1.0)):
        u = qness.steady_state(m, qness.Direct(backend="umfpack"))
        s = qness.steady_state(m, qness.Direct(backend="superlu"))
        assert u.info["backend"] == "umfpack" and s.info["backend"] == "superlu"
        np.testing.assert_allclose(u.rho, s.rho, atol=1e-12)
    assert qness.steady_state(xx_chain(6), "direct").info["backend"] == "umfpack"  # auto prefers it
    # ... except on a nearly banded matrix (mean envelope bandwidth <= BANDED_WIDTH): SuperLU/COLAMD
    cavity = qness.models.kerr(60, detuning=-1.0, U=0.2, F=0.8, kappa=1.0)
    assert qness.steady_state(cavity, "direct").info["backend"] == "umfpack"
    jc = qness.from_qutip(*corpus_module().CORPUS["jc_thermal"].build(20))
    # (in the full space: its excitation-number sector, 78 unknowns, is below SMALL_LU)
    s = qness.steady_state(jc, "direct", symmetry=None)
    assert (s.info["backend"], s.info["ordering"]) == ("superlu", "COLAMD")
    np.testing.assert_allclose(s.rho, qness.steady_state(jc, qness.Direct(backend="umfpack")).rho, atol=1e-12)
    assert qness.steady_state(xx_chain(3), "direct", ordering="COLAMD").info["backend"] == "superlu"
    with pytest.raises(ValueError, match="ordering is a SuperLU setting"):
        qness.Direct(backend="umfpack", ordering="COLAMD")


def test_krylov_without_the_uniqueness_check_converges_to_one_state():
    # the documented limitation the check exists for: without it, GMRES lands on one state
    ness = qness.steady_state(collective_decay_pair(), qness.Krylov(verify_unique=False), symmetry=None)
    assert ness.residual < 1e-12 and ness.info["uniqueness_checked"] is False
    assert qness.steady_state(xx_chain(4), "krylov").info["uniqueness_checked"] is True


def test_auto_takes_the_lu_on_small_sectors_without_estimates(monkeypatch):
    from qness.solvers import steady

    chain = xx_chain(6, delta=0.5)  # sector of 924 unknowns <= SMALL_LU
    assert steady.SMALL_LU >= 924
    calls = []
    monkeypatch.setattr(steady, "envelope_estimate", lambda M: calls.append(M) or (0.0, 0.0))
    ness = qness.steady_state(chain)
    assert ness.info["method"] == "Direct" and "no estimate" in ness.info["auto"] and not calls
    assert ness.info["sector"]["size"] == 924
    ref = qness.steady_state(chain, "krylov")
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)
    # direct_max still rules it out
    assert qness.steady_state(chain, qness.Auto(direct_max=500)).info["method"] == "Krylov"


def test_auto_small_lu_shortcut_only_for_sparse_liouvillians(monkeypatch):
    from qness.solvers import steady

    # dense random H and jump (d = 20: 400 unknowns, ~420 entries per row): the estimates decide
    rng = np.random.default_rng(7)
    d = 20
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    H = qutip.Qobj((A + A.conj().T) / 2)
    c = [qutip.Qobj(0.3 * rng.normal(size=(d, d)))]
    model = qness.from_qutip(H, c)
    assert steady.entries_per_row(model) > steady.ASSEMBLED_ROW_MAX
    ness = qness.steady_state(model)
    assert "no estimate" not in ness.info["auto"]
    np.testing.assert_allclose(ness.rho, qness.steady_state(model, "dense").rho, atol=1e-10)


def test_steady_states_does_not_recommend_itself():
    # a dark singlet: one invariant subspace, two steady states; the error pointed to
    # qness.steady_states(model), the call that raised it (new-user review, session 12)
    sm = qutip.sigmam()
    s1, s2 = qutip.tensor(sm, qutip.qeye(2)), qutip.tensor(qutip.qeye(2), sm)
    H, c_ops = 0.35 * (s1 + s1.dag() + s2 + s2.dag()), [s1 + s2]
    for model in [(H, c_ops), qutip.liouvillian(H, c_ops)]:
        with pytest.raises(qness.NonUniqueSteadyStateError, match="asymptotic_state") as exc:
            qness.steady_states(model)
        assert "steady_states(model) for one" not in str(exc.value)
        assert "singular" in str(exc.value)  # what the solve found is kept


def test_liouvillian_blocks_point_to_asymptotic_state():
    L = qutip.liouvillian(0 * qutip.sigmaz(), [qutip.sigmaz()])
    with pytest.raises(qness.NonUniqueSteadyStateError, match=r"asymptotic_state\(L, rho0\)"):
        qness.steady_state(L)


def test_steady_states_one_state_subspaces():
    """A one-state invariant subspace has one steady state, |i><i|, whether or not a jump touches
    it; it was solved as a closed system and refused as having "more than one steady state"
    (session-18 review). A larger subspace that no jump touches is named as closed."""
    H = np.diag([0.5, -0.5])
    P = np.sqrt(0.3) * np.diag([1.0, 0.0])  # dephasing by a projector: both levels invariant
    states = qness.steady_states((H, [P]))
    assert [np.allclose(s.rho, np.diag(v)) for s, v in zip(states, ([1, 0], [0, 1]))] == [True, True]
    assert all(s.residual == 0.0 for s in states)
    # a decaying qubit and a level no jump reaches
    L = np.zeros((3, 3))
    L[1, 0] = 1.0
    states = qness.steady_states((np.diag([0.5, -0.5, 0.0]), [L]))
    assert len(states) == 2
    assert np.allclose(states[0].rho, np.diag([0.0, 1.0, 0.0]), atol=1e-12)
    assert np.allclose(states[1].rho, np.diag([0.0, 0.0, 1.0]))
    # the asymptotic kernel agrees: two steady states
    assert qness.asymptotic_state((np.diag([0.5, -0.5, 0.0]), [L]), np.eye(3) / 3).info["kernel_dim"] == 2
    # a three-state block with hopping and no jump: closed, named
    H3 = np.zeros((4, 4))
    H3[1, 2] = H3[2, 1] = H3[2, 3] = H3[3, 2] = 1.0
    J = np.zeros((4, 4))
    J[0, 0] = 1.0
    with pytest.raises(qness.ClosedSystemError, match=r"subspace 1 \(3 states: 1, 2, 3\) has no jump"):
        qness.steady_states((H3, [J]))


def _zeno_chain(g, n=4):
    """An XX chain with dephasing sigma_z at rate g on every site and sigma_x at 0.1 on site 0: every
    jump is Hermitian, so the steady state is I/d, unique (the algebra is irreducible)."""
    return (
        qness.ModelBuilder(2, n=n)
        .add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
        .add_onsite(0.3, "sigmaz")
        .add_jump("sigmaz", g)
        .add_jump("sigmax", 0.1, sites=0)
        .build()
    )


@pytest.mark.parametrize("g", [1e5, 1e7])
def test_strong_dephasing_state_is_exact_on_every_lu_route(g):
    # L's diagonal summed -1/2 sum_k L_k^+ L_k over all jumps before the dephasing's own term cancelled
    # it: the populations' entries carried rounding of eps 4g against Zeno rates J^2 / g, and Dense,
    # Direct and Auto returned states 4.4e-7 (g = 1e5) and 3.5e-2 (g = 1e7) from I/d without a warning
    # (QuTiP's Liouvillian, one dissipator per jump, is exact there). Now 1e-13 and 3e-11
    m = _zeno_chain(g)
    d = m.dim
    for method in (None, "dense", "direct"):
        ness = qness.steady_state(m, method)
        assert np.abs(ness.rho - np.eye(d) / d).max() < 1e-10


def test_strong_dephasing_matrix_free_krylov_is_not_called_non_unique():
    # matrix-free, the action rounded at eps g too: g = 1e5 stalled (ConvergenceError at residual
    # 1.6e-11) and g = 1e7 was refused as not unique. Now the diagonal jumps' part is added exactly;
    # the absolute rtol = 1e-12 against the smallest singular value 1.7e-7 leaves an error of about
    # 1e-5, and the AccuracyWarning says so
    m = _zeno_chain(1e7)
    d = m.dim
    with pytest.warns(qness.AccuracyWarning, match="certified only to about") as rec:
        ness = qness.steady_state(m, qness.Krylov(matrix_free=True))
    assert len(rec) == 1
    assert ness.info["operator"] == "matrix-free" and ness.info["uniqueness"]["verified"]
    err = np.abs(ness.rho - np.eye(d) / d).max()
    assert err < 10 * ness.info["uniqueness"]["error_estimate"]


def test_auto_leaves_a_krylov_solve_projected_far_beyond_its_budget():
    # boundary-driven XXZ 7 with dephasing 10 on every site: the no-jump preconditioner leaves the
    # populations almost unpreconditioned (GMRES needs 854 steps, an LU 0.5 s); Auto budgeted 356
    # steps against its LU estimate and spent them all before falling back (1.8 s). Its GMRES now
    # projects the steps from its rate and takes the LU at step 40 (2855 projected)
    from qness.solvers.steady import PROJECTION_START

    n = 7
    m = (
        qness.ModelBuilder(2, n=n)
        .add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
        .add_coupling(0.5, "sigmaz", "sigmaz")
        .add_jump("sigmaz", 10.0)
        .add_jump("sigmam", 1.0, sites=0)
        .add_jump("sigmap", 1.0, sites=n - 1)
        .build()
    )
    ness = qness.steady_state(m)
    assert ness.info["method"] == "Direct"
    assert f"after {PROJECTION_START} steps projects about" in ness.info["auto"]
    np.testing.assert_allclose(ness.rho, qness.steady_state(m, "direct").rho, atol=1e-13)


def test_stall_projection_waits_for_a_converging_solve():
    from qness.solvers.errors import ConvergenceError
    from qness.solvers.steady import _StallProjection

    calls = []
    fast = _StallProjection(calls.append, 1e-12, 100)
    for k in range(80):  # 0.6 per step: 1e-12 reached at about step 54
        fast(float(0.6**k))
    assert len(calls) == 80
    slow = _StallProjection(calls.append, 1e-12, 100)
    with pytest.raises(ConvergenceError, match="projects about"):
        for k in range(80):  # 0.98 per step: about 1370 steps
            slow(float(0.98**k))


def test_evolve_says_when_its_residual_does_not_decay():
    # a coherence rotating at 0.7 forever (eigenvalues +-0.7i): Evolve(verify_unique=False) ran on
    # towards t_max = 1e9 / scale (about 19 hours) without a word; now a RuntimeWarning after three
    # steps without decay, and t_max ends it with the ConvergenceError
    b = [qutip.basis(3, i) for i in range(3)]
    H = 0.7 * b[1] * b[1].dag()
    c = [(b[0] + b[1]) * b[2].dag() / np.sqrt(2)]
    rho0 = np.full((3, 3), 1 / 3)
    with pytest.warns(RuntimeWarning, match="has not decreased over the last three steps"):
        with pytest.raises(qness.ConvergenceError, match="t_max"):
            qness.steady_state(H, c, method=qness.Evolve(rho0=rho0, verify_unique=False, t_max=2e3))
