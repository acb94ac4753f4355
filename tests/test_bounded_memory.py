"""Issue 18, items 3-4: IDR(s), GMRES with a memory-fitted basis, Auto's memory rules, single-mode LU."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import dense_steady_state, random_model

import qness
from qness.solvers import steady
from qness.solvers.gridlu import _grid_order_uncached as qness_order
from qness.solvers.gridlu import grid_nested_dissection, solve_single_mode
from qness.solvers.krylov import idrs


# ------------------------------------------------------------------ IDR(s) itself
@pytest.mark.parametrize("s", [1, 2, 4, 8])
def test_idrs_meets_its_convergence_test_on_a_nonsymmetric_system(s):
    rng = np.random.default_rng(1)
    n = 300
    A = sp.random(n, n, density=0.02, random_state=2) * 0.5 + sp.diags(
        2.0 + rng.random(n) + 1j * rng.random(n)
    )
    A = sp.csr_array(A)
    b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    x, info = idrs(A, b, s=s, rtol=1e-12)
    assert info["converged"] and not info["breakdown"]
    # the documented test, on the true residual
    assert np.linalg.norm(b - A @ x) <= 1e-12 * np.linalg.norm(b)
    assert info["residual"] == pytest.approx(np.linalg.norm(b - A @ x), rel=1e-6)
    np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), b), atol=1e-9)


def test_idrs_right_preconditioning_and_bad_s():
    rng = np.random.default_rng(3)
    n = 200
    d = 1.0 + 100 * rng.random(n)
    A = sp.csr_array(sp.diags(d) + sp.random(n, n, density=0.01, random_state=4))
    b = rng.standard_normal(n).astype(complex)
    M = sp.diags(1.0 / d)
    x, info = idrs(A, b, M=M, s=4, rtol=1e-11)
    _, plain = idrs(A, b, s=4, rtol=1e-11)
    assert info["converged"] and np.linalg.norm(b - A @ x) <= 1e-11 * np.linalg.norm(b)
    assert info["iterations"] < plain["iterations"]  # the Jacobi preconditioner helps
    with pytest.raises(ValueError, match="s must be an integer"):
        idrs(A, b, s=0)
    with pytest.raises(ValueError, match="s must be an integer"):
        idrs(A, b, s=n + 1)


# ------------------------------------------------------------------ Krylov(solver="idrs")
@pytest.mark.parametrize("symmetry", ["auto", None])
def test_idrs_agrees_with_direct_on_a_chain(symmetry):
    m = qness.models.boundary_driven_xxz(5, delta=0.7)
    ref = qness.steady_state(m, "direct", symmetry=symmetry)
    ness = qness.steady_state(m, qness.Krylov(solver="idrs", s=4, rtol=1e-12), symmetry=symmetry)
    assert ness.info["linear_residual"] <= 1e-12 and ness.info["s"] == 4
    assert ness.info["uniqueness"]["verified"]
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)


def test_idrs_agrees_with_dense_on_a_random_model_and_a_kerr_resonator():
    m = random_model((3, 4), n_jumps=3, seed=5)
    ness = qness.steady_state(m, qness.Krylov(solver="idrs", rtol=1e-12))
    np.testing.assert_allclose(ness.rho, dense_steady_state(m), atol=1e-9)
    kerr = qness.models.kerr(20, detuning=-1.0, U=0.3, F=1.0, kappa=1.0, nth=0.05)
    ness = qness.steady_state(kerr, qness.Krylov(solver="idrs", rtol=1e-12))
    np.testing.assert_allclose(ness.rho, qness.steady_state(kerr, "dense").rho, atol=1e-9)


def test_krylov_options_are_validated():
    with pytest.raises(ValueError, match="s is used only with solver='idrs'"):
        qness.Krylov(s=4)
    with pytest.raises(ValueError, match="s must be a positive integer"):
        qness.Krylov(solver="idrs", s=0)
    with pytest.raises(TypeError, match="restart must be an int or None"):
        qness.Krylov(restart=2.5)
    assert qness.Krylov(solver="idrs", restart=30).restart == 30  # the chunk of its uniqueness check


# ------------------------------------------------------------------ memory rules
def test_idrs_memory_estimate_is_independent_of_the_step_count():
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    n = sector.size
    e8, what = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=8))
    e4, _ = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=4))
    gm, _ = steady.memory_estimate(m, sector, qness.Krylov())
    assert e8 - e4 == pytest.approx(12 * 16 * n)  # 3 vectors per unit of s
    assert gm - e8 == pytest.approx((109 - 34) * 16 * n) and "IDR(8)" in what
    e8_long, _ = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=8, maxiter=10**5))
    assert e8_long == e8


def test_restart_none_fits_the_basis_to_the_memory(monkeypatch):
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    per = 16.0 * sector.size
    fixed, _ = steady.memory_estimate(m, sector, qness.Krylov(restart=1))  # 2 basis vectors + the rest
    # room for exactly 40 basis vectors in MEMORY_FRACTION of the "available" memory
    avail = (fixed - 2 * per + 41 * per) / steady.MEMORY_FRACTION
    assert steady.fitted_restart(m, sector, qness.Krylov(restart=None), avail) == 40
    assert steady.fitted_restart(m, sector, qness.Krylov(restart=None), 1e15) == steady.MAX_RESTART
    assert steady.fitted_restart(m, sector, qness.Krylov(restart=None), 0.0) == steady.MIN_RESTART
    ref = qness.steady_state(m, "direct")
    monkeypatch.setattr(steady, "available_memory", lambda: avail)
    ness = qness.steady_state(m, qness.Krylov(restart=None))
    assert ness.info["restart"] == 40 and ness.info["linear_residual"] <= 1e-12
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)


def test_auto_krylov_variant_follows_the_memory():
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    system = steady._System(m, steady._choose_sector(m, "auto"))
    k = qness.Krylov(rtol=1e-12, maxiter=500)
    need = {
        label: steady.memory_estimate(m, system.sector, kk)[0]
        for label, kk in [
            ("gmres", k),
            ("idr8", qness.Krylov(solver="idrs", s=8)),
            ("idr4", qness.Krylov(solver="idrs", s=4)),
        ]
    }
    f = steady.MEMORY_FRACTION
    chosen, why = steady._krylov_for_memory(k, system, need["gmres"] / f)
    assert chosen == k and "fits" in why
    # GMRES(100) does not fit, a restart of 60 does
    per = 16.0 * system.n
    avail = (need["gmres"] - 40 * per) / f
    chosen, why = steady._krylov_for_memory(k, system, avail)
    assert chosen.solver == "gmres" and chosen.restart == 60 and "from the memory" in why
    # not even AUTO_MIN_RESTART vectors: IDR(s) with the largest s that fits
    chosen, why = steady._krylov_for_memory(k, system, need["idr8"] / f)
    assert (chosen.solver, chosen.s) == ("idrs", 8) and "IDR(8)" in why
    chosen, _ = steady._krylov_for_memory(k, system, (need["idr8"] - per) / f)
    assert (chosen.solver, chosen.s) == ("idrs", 4)
    chosen, _ = steady._krylov_for_memory(k, system, (need["idr4"] - per) / f)
    assert (chosen.solver, chosen.s) == ("idrs", 2)


def test_auto_runs_idrs_when_only_it_fits_and_records_why(monkeypatch):
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    idr8, _ = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=8, matrix_free=True))
    ref = qness.steady_state(m, "direct")
    monkeypatch.setattr(steady, "available_memory", lambda: idr8 / steady.MEMORY_FRACTION)
    ness = qness.steady_state(m, qness.Auto(dense_max=0, direct_max=0))
    assert ness.info["method"] == "Krylov" and ness.info["solver"] == "idrs" and ness.info["s"] == 8
    assert "IDR(8)" in ness.info["auto"] and ness.info["linear_residual"] <= 1e-12
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)


def test_auto_refuses_when_not_even_idrs_fits(monkeypatch):
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    idr2, _ = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=2, matrix_free=True))
    monkeypatch.setattr(steady, "available_memory", lambda: 0.9 * idr2)
    with pytest.raises(qness.InsufficientMemoryError, match="GiB available") as exc:
        qness.steady_state(m, qness.Auto(dense_max=0, direct_max=0))
    assert exc.value.required == pytest.approx(idr2)


# ------------------------------------------------------------------ single mode: nested dissection
def test_grid_nested_dissection_is_a_permutation_with_separators_last():
    p = grid_nested_dissection(37, 29, width=2)
    assert np.array_equal(np.sort(p), np.arange(37 * 29))
    # the last cells ordered form the top separator: a line of width 2 across the longer side
    m, n = p % 37, p // 37
    top = slice(len(p) - 2 * 29, len(p))
    assert set(m[top]) == {18, 19} and set(n[top]) == set(range(29))
    with pytest.raises(ValueError, match="width"):
        grid_nested_dissection(4, 4, width=0)
    # cached per shape (a scan solves the same grid again) and read-only, so no caller can spoil it
    assert grid_nested_dissection(37, 29, width=2) is p and not p.flags.writeable
    assert np.array_equal(grid_nested_dissection(37, 29, width=1, leaf=16), qness_order(37, 29, 1, 16))


@pytest.mark.parametrize(
    "params",
    [
        dict(detuning=-1.0, U=0.2, F=1.2, kappa=1.1, nth=0.1),
        dict(detuning=0.5, U=0.3, F=0.8, kappa=1.0, G=0.7, eta=0.2),  # two-photon terms: width 2
    ],
)
def test_grid_lu_agrees_with_the_default_lu(params):
    m = qness.models.kerr(30, **params)
    ref = qness.steady_state(m, qness.Direct(backend="superlu"), symmetry=None)
    ness = qness.steady_state(m, qness.Direct(ordering="GRID_ND"), symmetry=None)
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-11)
    assert ness.residual <= 1e-12 and ness.info["uniqueness"]["sigma"] > ness.info["uniqueness"]["threshold"]
    assert ness.info["stencil_width"] == (2 if "G" in params else 1)


def test_grid_lu_fills_less_than_the_minimum_degree_lu():
    m = qness.models.kerr(80, detuning=-1.0, U=0.2, F=1.2, kappa=1.1)
    system = steady._System(m, steady.full_sector(m.dim))
    A = system.replaced_matrix()
    x, info, solve, _ = solve_single_mode(A, system.rhs(), m.dim, system.r)
    assert np.linalg.norm(A @ x - system.rhs()) <= 1e-12 * np.linalg.norm(system.rhs())
    np.testing.assert_allclose(solve(A @ x), x, atol=1e-10)
    mmd = sp.linalg.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    assert info["lu_nnz"] < mmd.nnz


def test_grid_lu_is_refused_for_several_sites_and_auto_skips_non_local_single_sites():
    m = qness.models.boundary_driven_xxz(3, delta=0.5)
    with pytest.raises(ValueError, match="one site .a mode., alone or with sites of at most 2 states"):
        qness.steady_state(m, qness.Direct(ordering="GRID_ND"), symmetry=None)
    # one site with a dense H: no local grid, Auto keeps its general rules
    r = random_model((20,), n_jumps=2, seed=7)
    ness = qness.steady_state(r)
    assert ness.info["options"].get("ordering") != "GRID_ND"
    np.testing.assert_allclose(ness.rho, dense_steady_state(r), atol=1e-9)


def test_rounding_noise_off_the_band_keeps_a_mode_on_the_grid_lu():
    # a Kerr resonator whose H carries 1e-15 noise everywhere (a dense matrix from a basis change):
    # the noise made every cell a neighbour, Auto went to Krylov (10 s) and its check could not
    # verify uniqueness (session-6 review). Entries at 1e-14 of their row's largest are left out of
    # the ordering and the LU; refinement against the whole matrix restores them
    import qutip

    N = 60
    a = qutip.destroy(N)
    H = -1.0 * a.dag() * a + 0.1 * a.dag() * a.dag() * a * a + 1.0 * (a + a.dag())
    noise = 1e-15 * np.random.default_rng(0).standard_normal((N, N))
    noisy = qness.from_qutip(H + qutip.Qobj(noise + noise.T), [a])
    ness = qness.steady_state(noisy)
    assert ness.info["options"]["ordering"] == "GRID_ND" and ness.info["stencil_width"] == 1
    assert ness.info["dropped_entries"] > 0 and ness.info["uniqueness"]["verified"]
    assert ness.residual <= 1e-13
    np.testing.assert_allclose(ness.rho, qness.steady_state(qness.from_qutip(H, [a])).rho, atol=1e-12)


def test_guard_points_to_idrs_when_only_it_fits(monkeypatch):
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    idr2, _ = steady.memory_estimate(m, sector, qness.Krylov(solver="idrs", s=2, matrix_free=True))
    g20, _ = steady.memory_estimate(m, sector, qness.Krylov(restart=20, matrix_free=True))
    assert idr2 < g20
    monkeypatch.setattr(steady, "available_memory", lambda: (idr2 + g20) / 2)
    with pytest.raises(
        qness.InsufficientMemoryError, match=r"try the short-recurrence Krylov\(solver='idrs'"
    ):
        qness.steady_state(m, qness.Krylov())
    ness = qness.steady_state(m, qness.Krylov(solver="idrs", s=2), verify_unique=False)
    assert ness.info["linear_residual"] <= 1e-12


def test_drop_negligible_leaves_its_input_alone():
    # with int32 index arrays csr_matrix(A) shares them, and dropping entries rewrote A's structure
    # under its data: the grid LU's refinement against A then diverged (residual 2.8; session 11)
    from qness.solvers.gridlu import drop_negligible

    A = sp.csr_array(sp.random_array((50, 50), density=0.3, format="csr", random_state=1) + 0j)
    A.data[::7] *= 1e-16
    A = sp.csr_array((A.data, A.indices.astype(np.int32), A.indptr.astype(np.int32)), shape=A.shape)
    before = A.toarray()
    C, dropped = drop_negligible(A)
    assert dropped > 0 and C.nnz == A.nnz - dropped
    np.testing.assert_array_equal(A.toarray(), before)
