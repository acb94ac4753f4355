"""Issue 18: the two-level / two-step Sylvester preconditioners and the threaded block loops."""

import numpy as np
import pytest
from helpers import dense_steady_state

import qness
import qness.symmetry as qsym
from qness import operators as ops
from qness.liouvillian import CSROperator
from qness.model import as_model
from qness.symmetry import full_sector, steady_sector


def xxz(n):
    return qness.models.boundary_driven_xxz(n, delta=0.5, gamma=1.0)


def ising(n):
    return qness.models.dissipative_ising(n, V=1.0, h=1.0, detuning=0.0, gamma=1.0)


def parity_kerr(N=12):
    # two-photon drive and loss: Z2 parity, NESS in the even sector (two diagonal blocks)
    a, ad = ops.destroy(N), ops.create(N)
    H = -0.5 * (ad @ a) + 0.5 * (ad @ ad @ a @ a) + 0.8 * (ad @ ad + a @ a)
    parity = np.where(np.arange(N) % 2 == 0, 1, -1)
    return qness.LindbladModel(
        dims=(N,),
        H=H,
        jumps=(qness.Jump(a, 0.1), qness.Jump(a @ a, 0.5)),
        symmetries=(qness.Z2Symmetry(parity, (-1, 1)),),
    )


def driven_jc(n=8):
    # non-normal H_eff: the Schur route of the no-jump solves
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import corpus

    return qness.from_qutip(*corpus.jaynes_cummings(n))


MODELS = {
    "xxz4 (U(1))": lambda: xxz(4),
    "parity kerr (Z2)": parity_kerr,
    "ising4 (none)": lambda: ising(4),
    "jc8": driven_jc,
}


@pytest.mark.parametrize("matrix_free", [True, False])
@pytest.mark.parametrize("variant", ["two-level", "two-step"])
@pytest.mark.parametrize("name", list(MODELS))
def test_variant_gives_the_dense_steady_state(monkeypatch, name, variant, matrix_free):
    model = as_model(MODELS[name]())
    if name.startswith("jc"):
        monkeypatch.setattr(qsym, "EIG_COND_MAX", 0.0)  # the Schur route for every block
    # force the variant for every sector
    monkeypatch.setattr(qsym, "TWO_LEVEL_MIN_BLOCKS", 1 if variant == "two-level" else 10**9)
    monkeypatch.setattr(qsym, "ONE_BLOCK_VARIANT", variant)
    monkeypatch.setattr(qsym, "ONE_BLOCK_VARIANT_SINGLE", variant)
    monkeypatch.setattr(qsym._SylvesterInverse, "single_pays", lambda self: True)  # keep the forced variant
    ness = qness.steady_state(model, qness.Krylov(matrix_free=matrix_free))
    assert ness.info["preconditioner_variant"] == variant
    assert ness.info["operator"] == ("matrix-free" if matrix_free else "assembled")
    assert ness.residual <= 1e-10
    np.testing.assert_allclose(ness.rho, dense_steady_state(model), rtol=0, atol=1e-9)
    if name.startswith("jc"):
        assert steady_sector(model).sylvester_preconditioner(model).route == "schur"


@pytest.mark.parametrize("name", list(MODELS))
def test_two_level_coarse_matrix_is_the_galerkin_product(monkeypatch, name):
    # E = R A P, column by column, A the trace-augmented sector matrix
    model = as_model(MODELS[name]())
    if name.startswith("jc"):
        monkeypatch.setattr(qsym, "EIG_COND_MAX", 0.0)
    sec = steady_sector(model)
    r = int(np.flatnonzero(sec.trace_vector())[0])
    P = sec.sylvester_preconditioner(model, variant="two-level", trace_row=(r, 0.7))
    assert P.variant == "two-level"
    E = np.column_stack([P._restrict(P._apply_A(P._prolong(e))) for e in np.eye(P.nc)])
    lu, piv = P.lu
    Ef = np.tril(lu, -1) + np.eye(P.nc)
    Ef = Ef @ np.triu(lu)
    for i in range(P.nc - 1, -1, -1):  # undo the row interchanges of getrf
        Ef[[i, piv[i]]] = Ef[[piv[i], i]]
    np.testing.assert_allclose(Ef, E, atol=1e-12 * np.abs(E).max())
    # after the coarse step the residual has no component on the coarse space
    rng = np.random.default_rng(1)
    y = rng.standard_normal(sec.size) + 1j * rng.standard_normal(sec.size)
    x1 = P.S @ y
    res = y - P._apply_A(x1)
    import scipy.linalg as sla

    x2 = x1 + P._prolong(sla.lu_solve(P.lu, P._restrict(res)))
    assert np.abs(P._restrict(y - P._apply_A(x2))).max() <= 1e-10 * np.abs(P._restrict(res)).max()


def test_two_level_halves_the_steps_on_the_xxz_chain():
    # the measured reason for the rule: half the GMRES steps at 7 spins (61 -> 27 at 8)
    model = xxz(7)
    a = qness.steady_state(model, qness.Krylov(verify_unique=False))
    assert a.info["preconditioner_variant"] == "two-level"
    sec = steady_sector(model)
    from qness.solvers.krylov import gmres
    from qness.solvers.steady import _System

    system = _System(as_model(model), sec)
    A = system.replaced_operator(False, c=1.0)
    M = sec.sylvester_preconditioner(model)
    _, info = gmres(A, system.rhs(c=1.0), M=M, rtol=1e-12)
    assert a.info["iterations"] <= info["iterations"] / 2
    np.testing.assert_allclose(a.rho, qness.steady_state(model, "direct").rho, atol=1e-10)


def test_auto_rule_and_recorded_variant():
    assert qsym._preconditioner_rule(steady_sector(as_model(xxz(5)))) == "two-level"
    assert qsym._preconditioner_rule(steady_sector(as_model(ising(4)))) == "jacobi"
    # one block: two-step where the no-jump solves run in complex64 (measured to pay there only)
    assert qsym._preconditioner_rule(steady_sector(as_model(ising(4))), "single") == "two-step"
    assert qsym._preconditioner_rule(steady_sector(as_model(xxz(5))), "single") == "two-level"
    ness = qness.steady_state(ising(4), "krylov")
    assert (ness.info["precision"], ness.info["preconditioner_variant"]) == ("single", "two-step")
    ness = qness.steady_state(ising(4), qness.Krylov(precision="double"))
    assert ness.info["preconditioner_variant"] == "jacobi"
    # ... but not where the no-jump part is nearly singular (two steps of S square its size):
    # a driven oscillator with gap 5e-9 (its projected system looked singular under two-step)
    a = ops.destroy(4)
    osc = qness.LindbladModel(dims=(4,), H=a.T @ a + 0.2 * (a + a.T), jumps=(qness.Jump(a, 1e-8),))
    sec = steady_sector(osc)
    M = sec.sylvester_preconditioner(osc, variant="auto", trace_row=(0, 1.0), precision="single")
    assert M.relative_gap < qsym.SINGLE_MIN_GAP and M.variant == "jacobi"
    with pytest.warns(qness.AccuracyWarning, match="certified only to about"):  # gap 5e-9
        ness = qness.steady_state(osc, "krylov")
    assert ness.info["preconditioner_variant"] == "jacobi" and ness.info["uniqueness"]["verified"]
    # shift-invert and a missing trace row keep the plain no-jump inverse
    sec = steady_sector(as_model(xxz(5)))
    assert sec.sylvester_preconditioner(xxz(5), variant="auto").variant == "jacobi"
    assert sec.sylvester_preconditioner(xxz(5), 0.5, variant="auto", trace_row=(0, 1.0)).variant == "jacobi"


def test_bad_variant_arguments():
    model = as_model(xxz(4))
    sec = steady_sector(model)
    with pytest.raises(ValueError, match="variant must be"):
        sec.sylvester_preconditioner(model, variant="multigrid")
    with pytest.raises(ValueError, match="shift must be 0"):
        sec.sylvester_preconditioner(model, 0.3, variant="two-level", trace_row=(0, 1.0))
    with pytest.raises(ValueError, match="needs trace_row"):
        sec.sylvester_preconditioner(model, variant="two-level")
    with pytest.raises(ValueError, match="outside the sector"):
        sec.sylvester_preconditioner(model, variant="two-level", trace_row=(sec.size, 1.0))
    with pytest.raises(ValueError, match="diagonal element"):
        sec.sylvester_preconditioner(model, variant="two-level", trace_row=(int(sec.pstart[1]) + 1, 1.0))


# ------------------------------------------------------------------ threads
def threaded(monkeypatch, n=2):
    monkeypatch.setenv("QNESS_BLOCK_THREADS", str(n))
    monkeypatch.setattr(qsym, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(qsym, "SPLIT_MIN_ROWS", 4)


@pytest.mark.parametrize("name", ["xxz7", "ising4", "jc8"])
def test_threaded_block_loops_equal_the_serial_reference(monkeypatch, name):
    threaded(monkeypatch)
    if name.startswith("jc"):
        monkeypatch.setattr(qsym, "EIG_COND_MAX", 0.0)
    model = as_model({"xxz7": lambda: xxz(7), "ising4": lambda: ising(4), "jc8": driven_jc}[name]())
    sec = steady_sector(model)
    S = sec.sylvester_preconditioner(model)
    assert S.runner.nthreads == 2
    # U(1): pairs grouped over the threads; one block: each product split by rows
    assert (len(S.runner.groups) == 2) == (name == "xxz7")
    assert (S.runner.split_threads == 2) == (name != "xxz7")
    rng = np.random.default_rng(0)
    y = rng.standard_normal(sec.size) + 1j * rng.standard_normal(sec.size)
    ref = S.solve_serial(y)
    for _ in range(3):  # no race between the threads
        np.testing.assert_allclose(S @ y, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(S.solve(y, shift=0.4), S.solve_serial(y, shift=0.4), rtol=1e-13, atol=1e-13)
    op = sec.operator(model)
    # one block of every state in natural order: the compiled kernel, checked against the products
    assert (op._kernel is not None) == (name != "xxz7")
    full = qness.liouvillian(model) @ sec.to_full(y).ravel(order="F")
    for _ in range(3):
        np.testing.assert_allclose(op @ y, op.matvec_serial(y), rtol=0, atol=1e-13 * np.abs(full).max())
    np.testing.assert_allclose(sec.to_full(op @ y).ravel(order="F"), full, atol=1e-12 * np.abs(full).max())


def test_threaded_solve_gives_the_serial_state(monkeypatch):
    serial = qness.steady_state(xxz(6), "krylov")
    threaded(monkeypatch)
    par = qness.steady_state(xxz(6), "krylov")
    assert par.residual <= 1e-10
    np.testing.assert_allclose(par.rho, serial.rho, atol=1e-12)


def test_split_product_equals_plain(monkeypatch):
    threaded(monkeypatch, 3)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((37, 20)) + 1j * rng.standard_normal((37, 20))
    b = rng.standard_normal((20, 11))
    np.testing.assert_allclose(qsym._mm(a, b, 3), a @ b, rtol=1e-14, atol=1e-13)
    assert qsym.block_threads(10.0) == 3
    monkeypatch.setenv("QNESS_BLOCK_THREADS", "x")
    assert qsym.block_threads(10.0) == 1


def test_full_sector_threads_on_a_random_model(monkeypatch):
    from helpers import random_model

    threaded(monkeypatch)
    model = as_model(random_model((3, 3), seed=4))
    sec = full_sector(model.dim)
    S = sec.sylvester_preconditioner(model)
    y = np.random.default_rng(5).standard_normal(sec.size) + 0j
    np.testing.assert_allclose(S @ y, S.solve_serial(y), rtol=1e-13, atol=1e-13)


# ------------------------------------------------ single-precision preconditioner, flexible GMRES
def test_flexible_gmres_equals_gmres_with_a_fixed_preconditioner():
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from qness.solvers.krylov import gmres

    rng = np.random.default_rng(3)
    n = 300
    A = sp.random(n, n, density=0.02, random_state=4, dtype=complex) + sp.diags(np.linspace(1, 5, n) + 1j)
    b = rng.standard_normal(n) + 0j
    d = 1.0 / A.diagonal()
    M = spla.LinearOperator((n, n), matvec=lambda v: d * v, dtype=complex)
    x1, i1 = gmres(A, b, M=M, rtol=1e-12, restart=20)
    x2, i2 = gmres(A, b, M=M, rtol=1e-12, restart=20, flexible=True)
    assert i1["converged"] and i2["converged"]
    assert abs(i1["iterations"] - i2["iterations"]) <= 1
    # flexible keeps z_j = M v_j in complex64: the solution is exact to rtol regardless
    assert np.linalg.norm(b - A @ x2) <= 1e-12 * np.linalg.norm(b)
    np.testing.assert_allclose(x2, x1, atol=1e-10 * np.linalg.norm(x1))


@pytest.mark.parametrize("name", list(MODELS))
def test_single_precision_preconditioner_reaches_rtol(monkeypatch, name):
    model = as_model(MODELS[name]())
    if name.startswith("jc"):
        monkeypatch.setattr(qsym, "EIG_COND_MAX", 0.0)  # Schur route: stays double inside single()
    single = qness.steady_state(model, qness.Krylov(precision="single"))
    double = qness.steady_state(model, qness.Krylov(precision="double"))
    assert single.info["precision"] == "single" and double.info["precision"] == "double"
    assert single.info["linear_residual"] <= 1e-12
    assert single.info["uniqueness"]["verified"]
    np.testing.assert_allclose(single.rho, double.rho, rtol=0, atol=1e-10)
    np.testing.assert_allclose(single.rho, dense_steady_state(model), rtol=0, atol=1e-9)


def test_single_view_runs_the_eigenvector_pairs_in_complex64():
    model = xxz(5)
    sec = steady_sector(model)
    S = sec.sylvester_preconditioner(model, variant="jacobi")
    S1 = S.single()
    assert S1.single() is S1 and S._c64 is None  # a view; the original stays double
    assert set(S1._c64) == {p for p in range(len(sec.pairs)) if not S.schur_pair[p]}
    y = np.random.default_rng(0).standard_normal(sec.size) + 0j
    # complex64 products: agreement to single precision times the eigenvector conditioning
    err = np.linalg.norm(S1 @ y - S @ y) / np.linalg.norm(S @ y)
    assert 0 < err < 1e-5


def test_precision_arguments_and_auto_memory_rule(monkeypatch):
    from qness.solvers import steady

    with pytest.raises(ValueError, match="precision"):
        qness.Krylov(precision="half")
    with pytest.raises(ValueError, match="precision='single' needs solver='gmres'"):
        qness.Krylov(solver="idrs", precision="single")
    with pytest.raises(ValueError, match="preconditioner='sylvester'"):
        qness.Krylov(preconditioner=None, precision="single")
    model = xxz(5)
    sec = steady_sector(model)
    dbl, _ = steady.memory_estimate(model, sec, qness.Krylov(precision="double"))
    sgl, what = steady.memory_estimate(model, sec, qness.Krylov(precision="single"))
    assert sgl == pytest.approx(dbl + 8.0 * sec.size * 100) and "complex64" in what
    # Auto: single only where the extra complex64 basis fits in MEMORY_FRACTION of the memory
    monkeypatch.setattr(steady, "available_memory", lambda: (dbl + sgl) / 2 / steady.MEMORY_FRACTION)
    assert qness.steady_state(model, "krylov").info["precision"] == "double"
    monkeypatch.setattr(steady, "available_memory", lambda: 1.01 * sgl / steady.MEMORY_FRACTION)
    assert qness.steady_state(model, "krylov").info["precision"] == "single"


def _blas_threads() -> int:
    """The BLAS thread count in force now."""
    from threadpoolctl import threadpool_info

    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def _blas_thread_spy(monkeypatch, owner, name: str) -> list:
    """Wrap ``owner.name`` to record the BLAS thread count at each call, for a user who never set
    ``OPENBLAS_NUM_THREADS`` (qness._threads not pinned); returns the list it fills."""
    from qness import _threads

    monkeypatch.setattr(_threads, "_pinned", False)
    seen = []
    inner = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return seen


def test_eigen_decompositions_run_on_one_blas_thread(monkeypatch):
    # LAPACK eig on two OpenBLAS threads collapses when the cores are busy (1024 x 1024: 56 s vs
    # 4.9 s on one thread; qness._threads), so the Sylvester set-up and dense spectra pin one
    # thread whatever the block size and whatever the caller's limit
    from threadpoolctl import threadpool_limits

    seen = _blas_thread_spy(monkeypatch, qsym.sla, "eig")
    model = ising(4)
    with threadpool_limits(2, user_api="blas"):
        assert _blas_threads() == 2
        steady_sector(model).sylvester_preconditioner(model, variant="jacobi")
        qness.spectrum(model, k=3, method=qness.DenseEig())
    assert len(seen) >= 2 and set(seen) == {1}


def test_krylov_block_loops_run_on_one_blas_thread_whatever_the_block_size(monkeypatch):
    # the block loops thread themselves; BLAS threads on top oversubscribe the cores (Ising 10,
    # one block of 1024 > SMALL_BLOCK: 67 s vs 43 s with another process busy)
    from threadpoolctl import threadpool_limits

    from qness import _threads

    monkeypatch.setattr(_threads, "SMALL_BLOCK", 1)  # every block counts as large
    seen = _blas_thread_spy(monkeypatch, qsym, "_mm")
    with threadpool_limits(2, user_api="blas"):
        ness = qness.steady_state(ising(4), "krylov")
    assert ness.residual < 1e-10
    assert len(seen) > 10 and set(seen) == {1}


# ---- found by the session-6 new-user review (each the reproducer with its oracle)
def test_auto_precision_falls_back_to_double_near_a_singular_no_jump_part():
    # Ising 6 with gamma = 1e-9: single stalled (2000 steps); double converges in about 10
    model = qness.models.dissipative_ising(6, V=1.0, h=1.0, detuning=0.0, gamma=1e-9)
    # rtol bounds ||L x|| absolutely: with rates of 1e-9 rho is determined to about 1e-4 only, and
    # the call says so (session 16)
    with pytest.warns(qness.AccuracyWarning, match="certified only to about"):
        ness = qness.steady_state(model, "krylov")
    assert ness.info["precision"] == "double" and ness.info["iterations"] <= 30
    err = np.max(np.abs(ness.rho - qness.steady_state(model, "direct").rho))
    assert err < 1e-4 and err <= 10 * ness.info["uniqueness"]["error_estimate"]


def test_double_precision_runs_flexible_where_the_preconditioner_is_huge():
    # XXZ 6 with gamma = 1e-9: the two-level preconditioner has entries ~1e10, its rounding made
    # plain GMRES diverge (linear residual 2e37); flexible GMRES (complex128 z) converges
    model = qness.models.boundary_driven_xxz(6, delta=0.5, gamma=1e-9)
    with pytest.warns(qness.AccuracyWarning, match="certified only to about"):
        ness = qness.steady_state(model, qness.Krylov(precision="double"))
    assert ness.info["flexible"] == "complex128" and ness.info["linear_residual"] <= 1e-12
    # the gap is ~1e-9 (the check's sigma 1.8e-9), so rtol = 1e-12 fixes the state only to about
    # rtol / gap = 1e-3 (measured 1.6e-4 from Direct; the assertion at 1e-5 passed or failed with the
    # rounding of the machine, session 16), and the call says so (estimate 3.4e-4); at rtol = 1e-14 it
    # is fixed to about 1e-5 (measured 9e-11 in session 16, 3.0e-7 with session 22's BLAS, estimate
    # 1.9e-6: an assertion at 1e-8 held only on the first machine)
    direct = qness.steady_state(model, "direct").rho
    err = np.max(np.abs(ness.rho - direct))
    assert err < 1e-3 and err <= 10 * ness.info["uniqueness"]["error_estimate"]
    with pytest.warns(qness.AccuracyWarning, match="certified only to about"):  # (1.9e-6, above)
        tight = qness.steady_state(model, qness.Krylov(precision="double", rtol=1e-14))
    assert tight.info["flexible"] == "complex128" and tight.info["linear_residual"] <= 1e-14
    err = np.max(np.abs(tight.rho - direct))
    assert err < 1e-5 and err <= tight.info["uniqueness"]["error_estimate"]


def test_precision_reported_is_the_one_used(monkeypatch):
    # a Schur-route pair whose complex64 solve fails its test has no complex64 copy: auto says (and
    # runs) double
    monkeypatch.setattr(qsym, "SCHUR_SINGLE_RTOL", 0.0)
    ness = qness.steady_state(driven_jc(30), "krylov")
    assert ness.info["precision"] == "double" and ness.info["flexible"] is False
    monkeypatch.undo()
    ness = qness.steady_state(xxz(5), "krylov")
    assert (ness.info["precision"], ness.info["flexible"]) == ("single", "complex64")


def test_schur_route_in_complex64_where_its_test_passes():
    # session 15: the Schur route (strongly non-normal H_eff) ran in complex128 only. Its unitary
    # transforms lose nothing in complex64; the triangular solve is tested on a random right-hand side
    model = driven_jc(40)  # cond(V) = 1.7e9
    S = model_sector_inverse(model)
    assert S.route == "schur" and S._single_pairs() == [0] and S._schur_tested == {0: True}
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((model.dim, model.dim)) + 1j * rng.standard_normal((model.dim, model.dim))
    Y = Y + Y.conj().T
    x = S.single() @ Y.ravel(order="F")
    want = S @ Y.ravel(order="F")
    assert np.linalg.norm(x - want) <= 1e-5 * np.linalg.norm(want)
    X = x.reshape(model.dim, model.dim, order="F")
    assert np.array_equal(X, X.conj().T)  # a Hermitian block stays exactly Hermitian
    ness = qness.steady_state(model, "krylov")
    assert (ness.info["precision"], ness.info["preconditioner_variant"]) == ("single", "two-step")
    assert ness.info["uniqueness"]["verified"]
    np.testing.assert_allclose(ness.rho, qness.steady_state(model, "direct").rho, atol=1e-10)
    # a shifted inverse (spectra) keeps the Schur route in complex128
    assert qsym._SylvesterInverse(qsym.full_sector(model.dim), model, 0.3)._single_pairs() == []


def test_single_precision_survives_internal_method_changes(monkeypatch):
    import qutip

    from qness.solvers import steady

    # a Liouvillian given directly takes the ILU preconditioner; precision must not block that
    L = qutip.liouvillian(qutip.sigmax(), [qutip.sigmam()])
    rho = qness.steady_state(L, qness.Krylov(precision="single")).rho
    np.testing.assert_allclose(np.real(rho[0, 0] - rho[1, 1]), -1 / 9, atol=1e-10)
    # the memory guard's what-to-try estimate (IDR(s)) must not trip over precision either
    monkeypatch.setattr(steady, "available_memory", lambda: 1e5)
    with pytest.raises(qness.InsufficientMemoryError):
        qness.steady_state(xxz(6), qness.Krylov(precision="single"))


def test_precision_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="precision must be one of"):
        qness.Krylov(precision=32)
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        qness.Krylov(precision="single", preconditioner="bogus")


def _scaled_ising(s):
    import dataclasses

    base = ising(4)
    jumps = tuple(dataclasses.replace(j, rate=j.rate * s) for j in base.jumps)
    return qness.LindbladModel(dims=base.dims, H=base.H * s, jumps=jumps)


def test_krylov_in_other_time_units_warns_or_says_why():
    # H and rates times s leave rho unchanged (Direct agrees to 1e-16); Krylov's rtol is absolute.
    # s = 1e-9 returned a state off by 1.4e-4 silently (review): now an AccuracyWarning says so,
    # and single precision / two-step (a false non-uniqueness there) are not taken
    ref = qness.steady_state(ising(4), "direct").rho
    with pytest.warns(qness.AccuracyWarning, match=r"determined to about .* pass rtol="):
        small = qness.steady_state(_scaled_ising(1e-9), "krylov")
    assert small.info["precision"] == "double" and small.info["preconditioner_variant"] == "jacobi"
    assert np.abs(small.rho - ref).max() < 1e-3
    # s = 1e6: 1e-12 is below the rounding floor of ||L rho||; the error says what to pass
    from qness.solvers.steady import _liouvillian_scale

    scale = _liouvillian_scale(_scaled_ising(1e6))
    assert scale == pytest.approx(1e6 * _liouvillian_scale(ising(4)))
    with pytest.raises(qness.ConvergenceError, match=rf"rtol is absolute .* pass rtol={1e-12 * scale:.1g}"):
        qness.steady_state(_scaled_ising(1e6), qness.Krylov(maxiter=200))
    ok = qness.steady_state(_scaled_ising(1e6), qness.Krylov(rtol=1e-12 * scale))
    assert np.abs(ok.rho - ref).max() < 1e-8


def _scaled(model, s):
    H, c = model.to_qutip()
    return qness.from_qutip(H * s, [np.sqrt(s) * x for x in c])


@pytest.mark.parametrize("s", [1e-9, 1e-19, 1e6])
def test_krylov_is_unit_invariant_at_an_rtol_in_the_model_units(s):
    # the trace row is weighted by the scale of L: with rtol = 1e-12 x scale the solve is the same
    # in any units (XXZ 5, two-level preconditioner, trace row of weight 1 in units of 1e-9: GMRES
    # diverged to 1e19 at the default rtol, took 726 steps instead of 12 at this one)
    from qness.solvers.steady import _liouvillian_scale

    m = xxz(5)
    ref = qness.steady_state(m, qness.Krylov(rtol=1e-12 * _liouvillian_scale(m)))
    ms = _scaled(m, s)
    ness = qness.steady_state(ms, qness.Krylov(rtol=1e-12 * _liouvillian_scale(ms)))
    assert ness.info["preconditioner_variant"] == ref.info["preconditioner_variant"] == "two-level"
    assert abs(ness.info["iterations"] - ref.info["iterations"]) <= 1
    assert ness.info["uniqueness"]["verified"]
    np.testing.assert_allclose(ness.rho, qness.steady_state(m, "direct").rho, atol=1e-10)


def test_default_rtol_in_tiny_units_names_the_scale_not_a_dark_state():
    # units of 1e-19: the default absolute rtol = 1e-12 cannot determine the state (any state passes);
    # the check's error says so and what to pass, instead of suggesting a dark state (a
    # ConvergenceError since session 21: a tolerance missed, not a second steady state)
    ms = _scaled(xxz(5), 1e-19)
    with pytest.warns(qness.AccuracyWarning):
        with pytest.raises(
            qness.ConvergenceError, match=r"loose for this Liouvillian \(scale 2.2e-18\).* pass rtol=2e-30"
        ):
            qness.steady_state(ms, "krylov")


def test_a_liouvillian_matrix_in_other_units_warns_too():
    # a Liouvillian passed as a superoperator has no H and jumps: its scale is ||L||_1 (the review
    # found no AccuracyWarning at 1e-9, a state off by 1e-6, and no rtol hint at 1e5)
    import qutip

    H, c = xxz(4).to_qutip()
    L = qutip.liouvillian(H, c)
    ref = qness.steady_state(xxz(4), "direct").rho
    with pytest.warns(qness.AccuracyWarning, match="pass rtol="):
        small = qness.steady_state(1e-9 * L, "krylov")
    assert np.abs(small.rho - ref).max() < 1e-2
    with pytest.raises(qness.ConvergenceError, match=r"rtol is absolute .* pass rtol="):
        qness.steady_state(1e6 * L, qness.Krylov(maxiter=100))


def test_complex64_on_every_pair_of_the_eigenvector_route():
    # session 15: pairs whose eigenvector matrices had cond_1(V_l) cond_1(V_r) above 1e7 stayed in
    # complex128 with the no-jump inverse alone; in complex64 (two-step) they take half the steps
    # (Bose-Hubbard 4 x 5: 45 -> 29, 1.8x faster). A driven Kerr mode with cond(V) = 5.7e3:
    model = qness.models.kerr(40, detuning=-1.0, U=0.05, F=1.0, kappa=0.3)
    S = model_sector_inverse(model)
    assert not S.schur_pair[0] and 1e7 < S.cond[0] ** 2 <= qsym.SINGLE_COND_MAX
    ness = qness.steady_state(model, "krylov")
    assert (ness.info["precision"], ness.info["preconditioner_variant"]) == ("single", "two-step")
    assert ness.info["iterations"] <= 120 and ness.info["uniqueness"]["verified"]  # (185 in complex128)
    # (both precisions agree with the LU to 2e-10: the state's conditioning, not the precision)
    np.testing.assert_allclose(ness.rho, qness.steady_state(model, "direct").rho, atol=1e-8)


def model_sector_inverse(model):
    return qsym._SylvesterInverse(qsym.full_sector(model.dim), model, 0.0)


def test_auto_precision_stays_double_for_superradiant_qubits():
    # collective drive and decay with weak local decay 1e-3 (relative gap of the no-jump part 6.5e-4):
    # single took 24 steps (restart 100) and 549 (restart 10) against 10 in double (review)
    import qutip

    n = 4
    sm = [qutip.tensor([qutip.sigmam() if k == i else qutip.qeye(2) for k in range(n)]) for i in range(n)]
    S = sum(sm)
    model = (0.4 * (S + S.dag()), [S] + [np.sqrt(1e-3) * s for s in sm])
    ness = qness.steady_state(model, "krylov")
    assert ness.info["precision"] == "double" and ness.info["iterations"] <= 12
    np.testing.assert_allclose(ness.rho, qness.steady_state(model, "direct").rho, atol=1e-10)


# ------------------------------------------------ Hermitian products of Hermitian blocks
@pytest.mark.parametrize("n, nthreads", [(37, 1), (200, 2), (300, 3)])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_hermitian_product_equals_the_full_product(monkeypatch, n, nthreads, dtype):
    # strips of 16 rows: several strips, sizes not dividing n
    monkeypatch.setattr(qsym, "SPLIT_MIN_ROWS", 16)
    rng = np.random.default_rng(n)
    V = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(dtype)
    Y = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    Y = (Y + Y.conj().T).astype(dtype)
    P = V @ Y
    ref = P @ V.conj().T
    out = qsym._mm_hermitian(P, np.ascontiguousarray(V.conj().T), nthreads)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, out.conj().T)  # exactly Hermitian, diagonal blocks too
    tol = 1e-5 if dtype == np.complex64 else 1e-13
    assert np.max(np.abs(out - ref)) <= tol * np.max(np.abs(ref))


def test_hermitian_test_tells_hermitian_from_random_blocks():
    rng = np.random.default_rng(7)
    R = (rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))).astype(np.complex64)
    assert qsym._hermitian(R + R.conj().T)
    assert not qsym._hermitian(R)
    assert not qsym._hermitian(1j * (R + R.conj().T))  # anti-Hermitian
    assert not qsym._hermitian(np.zeros((64, 64), np.complex64))
    assert not qsym._hermitian(R[:, :10])
    assert qsym._hermitian(np.array([[2.0]], np.complex64))
    assert not qsym._hermitian(np.array([[2j]], np.complex64))


@pytest.mark.parametrize("variant", ["jacobi", "two-level"])
def test_single_no_jump_solve_keeps_hermitian_vectors_exactly_hermitian(variant):
    # blocks below HERMITIAN_MIN_ROWS: full products, then symmetrised (complex64 rounding left
    # anti-Hermitian parts that grew over the GMRES steps)
    from qness.solvers.steady import _System

    model = xxz(7)
    sec = steady_sector(model)
    system = _System(model, sec)
    M = sec.sylvester_preconditioner(model, variant=variant, trace_row=(system.r, system.c)).single()
    R = np.random.default_rng(3).standard_normal((model.dim, model.dim)) * (1 + 1j)
    X = sec.to_full(M @ sec.from_full(R + R.conj().T))
    S = getattr(M, "S", M)
    asym = np.abs(X - X.conj().T).max() / np.abs(X).max()
    assert asym == 0.0 if S is M else asym < 1e-13  # two-level: its double coarse correction


def test_single_precision_solve_takes_the_hermitian_products(monkeypatch):
    # small thresholds so that a 32-state block takes the Hermitian path in strips
    monkeypatch.setattr(qsym, "HERMITIAN_MIN_ROWS", 16)
    monkeypatch.setattr(qsym, "SPLIT_MIN_ROWS", 4)
    calls = {"hermitian": 0}
    real = qsym._mm_hermitian

    def spy(a, b, nthreads):
        calls["hermitian"] += 1
        return real(a, b, nthreads)

    monkeypatch.setattr(qsym, "_mm_hermitian", spy)
    model = as_model(ising(5))
    ness = qness.steady_state(model, qness.Krylov(precision="single"))
    assert ness.info["precision"] == "single"
    # every no-jump solve of the main solve (Hermitian vectors throughout; two per step in the
    # two-step variant, two Hermitian products each) takes them; the uniqueness check's random
    # complex vectors do not
    assert ness.info["preconditioner_variant"] == "two-step"
    assert calls["hermitian"] == 2 * 2 * ness.info["iterations"]
    assert ness.info["uniqueness"]["verified"]
    assert ness.info["linear_residual"] <= 1e-12
    np.testing.assert_allclose(ness.rho, dense_steady_state(model), rtol=0, atol=1e-10)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("variant", ["two-level", "two-step"])
@pytest.mark.parametrize("name", list(MODELS))
def test_preconditioner_with_the_assembled_matrix_equals_matrix_free(name, variant, compiled, monkeypatch):
    # the two-level and two-step variants apply A inside; with the sector matrix passed they apply it
    # as a sparse product (the compiled one, without the GIL, from SERIAL_BELOW rows): the same
    # operator to rounding
    import importlib

    if compiled:
        monkeypatch.setattr(importlib.import_module("qness.liouvillian"), "SERIAL_BELOW", 1)
    model = as_model(MODELS[name]())
    sector = steady_sector(model)
    t = np.flatnonzero(sector.trace_vector())
    row = (int(t[0]), 2.0)
    free = sector.sylvester_preconditioner(model, variant=variant, trace_row=row)
    M = sector.matrix(model)
    assembled = sector.sylvester_preconditioner(model, variant=variant, trace_row=row, matrix=M)
    if compiled:
        assert isinstance(assembled.op, CSROperator) and assembled.op.matrix is M
    else:
        assert assembled.op is M  # below SERIAL_BELOW rows SciPy's product is faster
    assert isinstance(free.op, qsym._SectorOperator)
    rng = np.random.default_rng(4)
    y = rng.normal(size=sector.size) + 1j * rng.normal(size=sector.size)
    ref = free @ y
    np.testing.assert_allclose(assembled @ y, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    with pytest.raises(ValueError, match="matrix: shape"):
        sector.sylvester_preconditioner(model, variant=variant, trace_row=row, matrix=M[:-1, :-1])


def test_krylov_assembles_the_sector_matrix_up_to_assembled_max(monkeypatch):
    # up to ASSEMBLED_MAX every sector is assembled; above it only a sector whose matrix-free
    # action is the compiled kernel (one block pair: Ising's whole space) stays matrix-free, since
    # the block-pair action of a U(1) sector is slower than the assembled matrix's compiled product
    from qness.solvers import steady

    for model, above in ((ising(4), "matrix-free"), (xxz(5), "assembled")):
        n = steady._choose_sector(model, "auto").size
        with monkeypatch.context() as m:
            assert qness.steady_state(model, "krylov").info["operator"] == "assembled"
            m.setattr(steady, "ASSEMBLED_MAX", n - 1)
            ness = qness.steady_state(model, "krylov")
            assert ness.info["operator"] == above
            assert qness.steady_state(model, qness.Krylov(matrix_free=False)).info["operator"] == "assembled"
            assert qness.steady_state(model, qness.Krylov(matrix_free=True)).info["operator"] == "matrix-free"
        np.testing.assert_allclose(ness.rho, dense_steady_state(model), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="matrix_free must be True, False or 'auto'"):
        qness.Krylov(matrix_free="yes")


@pytest.mark.parametrize(
    "value, operator",
    [(np.False_, "assembled"), (0, "assembled"), (np.True_, "matrix-free"), (1, "matrix-free")],
)
def test_matrix_free_accepts_numpy_bools_and_integers(value, operator):
    # np.False_ and 0 passed the validation but ran matrix-free (assembles() tested `is False`)
    method = qness.Krylov(matrix_free=value)
    assert method.matrix_free is (operator == "matrix-free")
    assert qness.steady_state(xxz(4), method).info["operator"] == operator


def test_dense_hamiltonians_stay_matrix_free():
    # a random (dense) H: 2 d entries per row from H_eff alone; the assembled product was no faster at
    # d = 200 (40 against 44 ms) after a 1.7 s assembly of 0.3 GiB (session-9 review)
    from qness.solvers import steady

    rng = np.random.default_rng(5)
    d = 40
    H = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    a = np.diag(np.sqrt(np.arange(1, d)), 1)
    model = qness.LindbladModel(dims=(d,), H=H + H.conj().T, jumps=(qness.Jump(a, 0.5), qness.Jump(a.T, 0.2)))
    assert steady.entries_per_row(model) > steady.ASSEMBLED_ROW_MAX
    ness = qness.steady_state(model, "krylov")
    assert ness.info["operator"] == "matrix-free"
    np.testing.assert_allclose(ness.rho, dense_steady_state(model), rtol=0, atol=1e-9)


def test_entries_per_row_estimate_counts_dephasing_once():
    # each diagonal jump (dephasing) was counted as a new entry per row: 17.5 estimated against 9.0
    # for XXZ 8 with dephasing, which could send small dephasing models matrix-free (second review)
    from qness.solvers import steady

    m = qness.models.boundary_driven_xxz(8, delta=0.5, dephasing=0.3)
    L = qness.liouvillian(m)
    actual = L.nnz / L.shape[0]
    assert actual <= steady.entries_per_row(m) <= 1.3 * actual


def test_direct_runs_on_one_blas_thread(monkeypatch):
    # two OpenBLAS threads made the grid LU's solves 1.2-1.55x slower (JC 150, Rabi, driven cavity;
    # session 10) and UMFPACK's large fronts no faster: Direct pins one thread, as Krylov does
    from threadpoolctl import threadpool_limits

    from qness.solvers import gridlu

    seen = _blas_thread_spy(monkeypatch, gridlu.spla, "splu")
    cavity = qness.models.kerr(40, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)  # the grid LU
    with threadpool_limits(2, user_api="blas"):
        ness = qness.steady_state(cavity, "direct", ordering="GRID_ND")
        assert _blas_threads() == 2
    assert ness.residual < 1e-10 and seen and set(seen) == {1}


def test_the_parity_minus_one_check_runs_on_the_solves_blas_threads(monkeypatch):
    # it ran after the solve, outside its one-thread limit: with OpenBLAS's two threads the small
    # products of Bose-Hubbard 2 x 12 took the route 1.2x slower than the full space (session 11)
    from threadpoolctl import threadpool_limits

    from qness.solvers import steady as st

    seen = _blas_thread_spy(monkeypatch, st, "_odd_sector_run")
    model = qness.models.bose_hubbard(2, cutoff=12, J=1.0, U=0.5, detuning=0.2, F=0.4, kappa=0.6)
    with threadpool_limits(2, user_api="blas"):
        for method in ("krylov", "direct"):
            ness = qness.steady_state(model, method)
            assert ness.info["sector"]["basis"] == "reflection"
    assert seen == [1, 1]


def _two_level(model):
    from qness.solvers.steady import _System

    sec = steady_sector(model)
    system = _System(model, sec)
    return sec, sec.sylvester_preconditioner(model, variant="two-level", trace_row=(system.r, system.c))


def test_single_two_level_restricts_and_prolongs_in_complex64():
    sec, M = _two_level(xxz(6))
    M1 = M.single()
    assert M.coarse_cond < qsym.COARSE_COND_SINGLE_MAX
    assert M._c64 is None and set(M1._c64) == set(M.diag) and M1.single() is M1
    rng = np.random.default_rng(5)
    y = rng.standard_normal(sec.size) + 1j * rng.standard_normal(sec.size)
    r, r1 = M._restrict(y), M1._restrict(y)
    assert 0 < np.linalg.norm(r1 - r) / np.linalg.norm(r) < 1e-5
    pc = rng.standard_normal(M.nc) + 1j * rng.standard_normal(M.nc)
    x, x1 = M._prolong(pc), M1._prolong(pc)
    assert 0 < np.linalg.norm(x1 - x) / np.linalg.norm(x) < 1e-5
    # real coarse values (a Hermitian residual): exactly Hermitian blocks, as in double to rounding
    X1, X = M1._prolong(pc.real), M._prolong(pc.real)
    for p in M.diag:
        B1, B = sec.split(X1)[p], sec.split(X)[p]
        np.testing.assert_array_equal(B1, B1.conj().T)
        assert np.linalg.norm(B1 - B) <= 1e-5 * np.linalg.norm(B)


def test_single_two_level_keeps_an_ill_conditioned_coarse_solve_in_double():
    # collective decay of 4 qubits: dark states make the coarse matrix singular to rounding
    # (cond 1e18); its solve amplifies the rounding of a complex64 restriction beyond use
    import qutip

    n = 4
    sm = [qutip.tensor([qutip.sigmam() if k == i else qutip.qeye(2) for k in range(n)]) for i in range(n)]
    S = sum(sm)
    H = 0.7 * sum(sm[i].dag() * sm[j] + sm[j].dag() * sm[i] for i in range(n) for j in range(i + 1, n))
    _, M = _two_level(qness.from_qutip(H + 0.3 * S.dag() * S, [S]))
    M1 = M.single()
    assert M.coarse_cond > qsym.COARSE_COND_SINGLE_MAX
    assert M1._c64 is None and M1.S._c64 is not None and M1.single() is M1


def test_compiled_csr_product_equals_scipy(monkeypatch):
    import importlib

    import scipy.sparse as sp

    from qness.liouvillian import (
        SERIAL_BELOW,
        CSROperator,
        fast_product,
        kernel_threads,
        work_stream,
    )

    rng = np.random.default_rng(7)
    n = 500
    rows, cols = rng.integers(0, n, 4000), rng.integers(0, n, 4000)  # duplicates, empty rows
    A = sp.csr_array((rng.normal(size=4000) + 1j * rng.normal(size=4000), (rows, cols)), shape=(n, n))
    x = rng.normal(size=n) + 1j * rng.normal(size=n)
    for index in (np.int32, np.int64):
        B = sp.csr_array((A.data, A.indices.astype(index), A.indptr.astype(index)), shape=A.shape)
        for threads in ("1", "2"):
            monkeypatch.setenv("OMP_NUM_THREADS", threads)
            monkeypatch.setattr(importlib.import_module("qness.liouvillian"), "SERIAL_BELOW", 1)
            np.testing.assert_allclose(CSROperator(B) @ x, A @ x, rtol=0, atol=1e-13 * np.abs(A @ x).max())
    np.testing.assert_allclose(CSROperator(A).H @ x, A.conj().T @ x, rtol=0, atol=1e-12)
    assert not np.any(CSROperator(sp.csr_array((n, n), dtype=complex)) @ x)
    monkeypatch.undo()
    assert fast_product(A) is A  # below SERIAL_BELOW: SciPy's product
    big = sp.identity(SERIAL_BELOW, format="csr", dtype=complex)
    assert isinstance(fast_product(big), CSROperator) and fast_product(big).matrix is big
    runner = qsym._PairRunner(np.array([1e9, 1.0, 1.0]), nthreads=2)  # one pair: split products
    assert runner._split == 2
    threads = kernel_threads(10**7)
    with work_stream():  # one stream alone keeps its threads
        assert kernel_threads(10**7) == threads and runner.split_threads == runner._split
        with work_stream():  # two streams: one thread each
            assert kernel_threads(10**7) == 1 and runner.split_threads == 1
        assert kernel_threads(10**7) == threads
    assert kernel_threads(10**7) == threads


def dephased_chain(n=3, kappa=50.0):
    # transverse-field chain with weak decay and strong sigma_z dephasing: the jumps flip the sign
    # of every coherence, so -J L0^{-1} has eigenvalues near -1
    sz, sx, sm = ops.sigmaz(), ops.sigmax(), ops.sigmam()

    def site(o, i):
        return ops.embed(o, i, (2,) * n)

    H = sum(site(sz, i) @ site(sz, i + 1) for i in range(n - 1)) + sum(0.7 * site(sx, i) for i in range(n))
    jumps = [qness.Jump(site(sm, i), 0.1) for i in range(n)]
    jumps += [qness.Jump(site(sz, i), kappa) for i in range(n)]
    return qness.LindbladModel(dims=(2,) * n, H=H, jumps=tuple(jumps))


def _splitting_spectrum():
    """Eigenvalues ``mu`` of ``-J L0^{-1}`` and the matrix ``A M`` of the two-step preconditioner, on
    the dephased chain (dense, column by column)."""
    model = as_model(dephased_chain())
    sec = full_sector(model.dim)
    S = qsym._SylvesterInverse(sec, model, 0.0)
    M = qsym._TwoStepSylvester(sec, model, S, None)
    A = sec.matrix(model).toarray()
    eye = np.eye(sec.size, dtype=complex)
    Sd = np.column_stack([S @ eye[:, k] for k in range(sec.size)])
    AM = A @ np.column_stack([M @ eye[:, k] for k in range(sec.size)])
    return np.linalg.eigvals(-(A - np.linalg.inv(Sd)) @ Sd), AM  # -J L0^{-1}, J = A - L0


@pytest.mark.parametrize("weight", [1.0, qsym.SMOOTHING_WEIGHT])
def test_two_step_spectrum_is_the_damped_polynomial_of_the_splitting(monkeypatch, weight):
    # A M = B (1 + w (1 - B)) with B = A S = 1 - mu, mu the eigenvalues of -J L0^{-1}, a
    # trace-preserving CP map (unit disk). Undamped (w = 1) the dephased coherences (mu ~ -1) give
    # A M ~ 0; damped, |A M| >= 2 (1 - w) there.
    monkeypatch.setattr(qsym, "SMOOTHING_WEIGHT", weight)
    mu, AM = _splitting_spectrum()
    assert np.max(np.abs(mu)) <= 1 + 1e-8
    assert np.min(mu.real) < -0.9  # the dephased coherences
    expected = (1 - mu) * (1 + weight * mu)
    got = np.linalg.eigvals(AM)
    # the two spectra agree as multisets (match each expected eigenvalue to its nearest)
    assert np.max(np.min(np.abs(got[:, None] - expected[None, :]), axis=0)) <= 1e-6
    # the eigenvalues of A M that the dephased coherences give (the ones near 0 that slow modes,
    # mu ~ 1, give are the coarse space's and GMRES's business)
    flipped = np.abs(got[np.argmin(np.abs(got[:, None] - expected[mu.real < -0.5][None, :]), axis=0)])
    if weight < 1:
        assert np.min(flipped) >= 0.9 * 2 * (1 - weight) and np.min(flipped) > 0.3
    else:
        assert np.min(flipped) < 0.1  # what the damping removes


@pytest.mark.parametrize("steps", [3, 4])
def test_more_polynomial_steps_give_their_polynomial_of_the_splitting(monkeypatch, steps):
    # POLYNOMIAL_STEPS = k (measured in session 17, not shipped): k steps of the splitting, the last
    # damped by w, give A M = 1 - mu^(k-1) ((1 - w) + w mu), nonzero on the unit disk but at mu = 1
    monkeypatch.setattr(qsym, "POLYNOMIAL_STEPS", steps)
    w = qsym.SMOOTHING_WEIGHT
    mu, AM = _splitting_spectrum()
    expected = 1 - mu ** (steps - 1) * ((1 - w) + w * mu)
    got = np.linalg.eigvals(AM)
    assert np.max(np.min(np.abs(got[:, None] - expected[None, :]), axis=0)) <= 1e-6
    # the dephased coherences (mu ~ -1) stay well away from zero
    assert np.min(np.abs(expected[mu.real < -0.5])) > 0.3


def test_krylov_converges_under_strong_dephasing():
    # the undamped two-level preconditioner stalled here (ConvergenceError after 2,000 steps;
    # 320 steps with the damped last step)
    model = qness.models.boundary_driven_xxz(8, delta=0.5, dephasing=10.0)
    r = qness.steady_state(model, qness.Krylov())
    assert r.info["preconditioner_variant"] == "two-level"
    ref = qness.steady_state(model, qness.Direct())
    assert np.max(np.abs(r.rho - ref.rho)) <= 1e-10


def test_3m_products_agree_with_numpy_on_every_layout():
    from qness import _blas

    rng = np.random.default_rng(11)

    def c64(*shape):
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)

    a, b = c64(130, 100), c64(100, 120)
    big = np.empty((140, 130), dtype=np.complex64)
    cases = [
        (a, b, None),
        (np.asfortranarray(a), b, None),
        (a, np.asfortranarray(b), None),
        (a[10:], b[:, 7:], None),
        (a[:, :60], b[:60], None),
        (a, b, big[5:135, 3:123]),  # into a slice of a larger array
        (a.T, a, None),  # a transposed view
        (a[::2], b, None),  # every other row: a leading dimension of twice the width
        (a.astype(np.complex128), b, None),  # not complex64: NumPy's product
        (a[:20], b, None),  # below GEMM3M_MIN rows
    ]
    for x, y, out in cases:
        ref = x.astype(np.complex128) @ y.astype(np.complex128)
        got = _blas.matmul(x, y, out=out)
        assert got.shape == ref.shape
        # normwise (3M: Higham, sec. 23.2.4): k u of |x| |y|, u the complex64 unit roundoff
        bound = x.shape[1] * 6e-8 * (np.abs(x).astype(float) @ np.abs(y).astype(float)).max()
        assert np.abs(got - ref).max() <= bound
        if out is not None:
            assert got is out and np.array_equal(big[5:135, 3:123], got)
    with pytest.raises(ValueError):
        _blas.matmul(a, a)  # mismatched inner dimensions: NumPy's error


def test_3m_products_into_an_overlapping_or_read_only_output():
    from qness import _blas

    rng = np.random.default_rng(2)
    a = (rng.normal(size=(80, 80)) + 1j * rng.normal(size=(80, 80))).astype(np.complex64)
    b = (rng.normal(size=(80, 80)) + 1j * rng.normal(size=(80, 80))).astype(np.complex64)
    ref = a.astype(np.complex128) @ b.astype(np.complex128)
    for which in ("a", "b"):
        x, y = a.copy(), b.copy()
        out = x if which == "a" else y
        got = _blas.matmul(x, y, out=out)
        assert got is out and np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    ro = np.empty((80, 80), dtype=np.complex64)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _blas.matmul(a, b, out=ro)


def test_stagnating_restarts_fall_back_to_the_no_jump_inverse():
    # review (session 14): with Delta = 1 and dephasing 10 the two-level preconditioner stagnated
    # at 3e-4 under restarts of 100 (ConvergenceError after 2,000 steps); the no-jump inverse alone
    # converges
    model = qness.models.boundary_driven_xxz(8, delta=1.0, dephasing=10.0)
    r = qness.steady_state(model, qness.Krylov())
    assert r.info["preconditioner_fallback"]["variant"] == "jacobi"
    assert r.info["uniqueness"]["verified"]
    ref = qness.steady_state(model, qness.Direct())
    assert np.max(np.abs(r.rho - ref.rho)) <= 1e-10
    # a solve that converges keeps its preconditioner
    assert "preconditioner_fallback" not in qness.steady_state(xxz(8), qness.Krylov()).info
