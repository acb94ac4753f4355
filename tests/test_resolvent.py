"""Drazin and shifted (resolvent) solves against dense numpy.linalg on small models."""

from __future__ import annotations

import numpy as np
import pytest
import qutip
from helpers import dense_liouvillian, dense_steady_state, random_model

import qness
from qness.solvers.errors import NonUniqueSteadyStateError
from qness.solvers.resolvent import Schur, drazin, resolvent
from qness.symmetry import sectors

METHODS = ["dense", "direct", "krylov"]
SHIFTED = [*METHODS, "schur"]  # the Schur route is for shifted solves only


def _xxz():
    return qness.models.boundary_driven_xxz(3, delta=0.7, gamma=0.8, mu=0.6)


def _random_in(sector, rng):
    x = rng.normal(size=sector.size) + 1j * rng.normal(size=sector.size)
    return sector.to_full(x)


def _dense_drazin(L, y, d):
    """The trace-zero solution of L x = y by least squares on [L; Tr] (an independent oracle)."""
    tr = np.eye(d).ravel(order="F")[None, :]
    A = np.vstack([L, tr])
    b = np.concatenate([y, [0.0]])
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return x


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("which", ["random", "xxz"])
def test_drazin_matches_dense(method, which):
    model = random_model((3,), n_jumps=2, seed=3) if which == "random" else _xxz()
    d = model.dim
    L = dense_liouvillian(model)
    rho = dense_steady_state(model)
    rng = np.random.default_rng(1)
    solver = drazin(model, method=method)
    assert solver.sector.kind == ("full" if which == "random" else "u1")
    for _ in range(3):
        Y = _random_in(solver.sector, rng)
        Y = Y - np.trace(Y) * rho  # trace zero, in the steady sector
        x = solver.solve(Y)
        ref = _dense_drazin(L, Y.ravel(order="F"), d).reshape((d, d), order="F")
        assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())
        assert abs(np.trace(x)) < 1e-10 * np.abs(ref).max()
        # the vector form gives the same
        assert np.allclose(solver.solve(Y.ravel(order="F")), x.ravel(order="F"), atol=1e-12 * np.abs(x).max())
    assert solver.info["solves"] == 6
    assert solver.info["route"] == method.capitalize()


def test_drazin_is_group_inverse():
    # L^D with L L^D = Q: apply to Q y for a y of non-zero trace, via project=True
    model = random_model((4,), n_jumps=2, seed=5)
    d = model.dim
    L = dense_liouvillian(model)
    rho = dense_steady_state(model)
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    solver = drazin(model)
    x = solver.solve(Y, project=True, rho_ss=rho).ravel(order="F")
    Q = np.eye(d * d) - np.outer(rho.ravel(order="F"), np.eye(d).ravel(order="F"))
    assert np.allclose(L @ x, Q @ Y.ravel(order="F"), atol=1e-10 * np.abs(Y).max())
    # the group inverse L^D = (L + P)^{-1} - P with P = |rho>><<1|
    P = np.eye(d * d) - Q
    LD = np.linalg.inv(L + P) - P
    assert np.allclose(x, LD @ Y.ravel(order="F"), atol=1e-10 * np.abs(Y).max())


@pytest.mark.parametrize("method", SHIFTED)
def test_shifted_every_sector_matches_dense(method):
    model = _xxz()
    d = model.dim
    L = dense_liouvillian(model)
    rng = np.random.default_rng(4)
    secs = sectors(model)
    assert len(secs) == 7
    for sec in secs:
        for z in (-0.7j, 0.3 + 1.1j, 2.5):
            if z == 0:
                continue
            solver = resolvent(model, z, sector=sec.label, method=method)
            Y = _random_in(sec, rng)
            x = solver.solve(Y).ravel(order="F")
            ref = np.linalg.solve(L - z * np.eye(d * d), Y.ravel(order="F"))
            assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max()), (sec.label, z)
            # sector basis in and out gives the same
            xs = solver.solve_sector(sec.from_full(Y))
            assert np.allclose(sec.to_full(xs).ravel(order="F"), ref, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("method", SHIFTED)
def test_shifted_without_symmetry_matches_dense(method):
    model = random_model((2, 2), n_jumps=3, seed=7)
    d = model.dim
    L = dense_liouvillian(model)
    rng = np.random.default_rng(8)
    for z in (-2.0j, 0.5 - 0.25j):
        solver = resolvent(model, z, method=method)
        assert solver.sector.kind == "full"
        Y = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
        x = solver.solve(Y)
        ref = np.linalg.solve(L - z * np.eye(d * d), Y.ravel(order="F")).reshape((d, d), order="F")
        assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())


def test_zero_shift_in_charged_sector():
    # no steady state in q = 1: L is invertible there and z = 0 is allowed
    model = _xxz()
    L = dense_liouvillian(model)
    sec = [s for s in sectors(model) if s.label == 1][0]
    Y = _random_in(sec, np.random.default_rng(0))
    x = resolvent(model, 0.0, sector=1).solve(Y).ravel(order="F")
    assert np.allclose(L @ x, Y.ravel(order="F"), atol=1e-10 * np.abs(Y).max())


def test_auto_takes_krylov_above_direct_max():
    model = qness.models.boundary_driven_xxz(4, delta=0.5)
    L = dense_liouvillian(model)
    solver = resolvent(model, -0.5j, sector=0, method=qness.Auto(dense_max=0, direct_max=10))
    assert solver.info["route"] == "Krylov" and "krylov" in solver.info["auto"]
    sec = solver.sector
    Y = _random_in(sec, np.random.default_rng(3))
    x = solver.solve(Y).ravel(order="F")
    ref = np.linalg.solve(L + 0.5j * np.eye(L.shape[0]), Y.ravel(order="F"))
    assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())
    assert solver.info["iterations"][-1] > 0


def test_bad_input():
    model = _xxz()
    d = model.dim
    with pytest.raises(ValueError, match="trace zero"):
        drazin(model).solve(np.eye(d))
    with pytest.raises(ValueError, match="outside sector"):
        resolvent(model, 1j, sector=0).solve(np.ones((d, d)))
    with pytest.raises(ValueError, match="not a sector"):
        resolvent(model, 1j, sector=17)
    with pytest.raises(ValueError, match="use drazin"):
        resolvent(model, 0, sector=0)
    with pytest.raises(ValueError, match="finite"):
        resolvent(model, np.nan)
    with pytest.raises(TypeError, match="z must be"):
        resolvent(model, "1j")
    with pytest.raises(ValueError, match="shape"):
        resolvent(model, 1j).solve(np.ones(5))
    with pytest.raises(TypeError, match="does not take"):
        resolvent(model, 1j, method="direct", rtol=1e-3)
    with pytest.raises(ValueError, match="unknown method"):
        drazin(model, method="evolve")


def test_non_unique_steady_state():
    # two decoupled decaying qubits under a collective dephasing-free XX exchange have a dark state
    H = qutip.tensor(qutip.sigmap(), qutip.sigmam()) + qutip.tensor(qutip.sigmam(), qutip.sigmap())
    c = qutip.tensor(qutip.sigmam(), qutip.qeye(2)) + qutip.tensor(qutip.qeye(2), qutip.sigmam())
    model = qness.from_qutip(0 * H, [c])
    with pytest.raises(NonUniqueSteadyStateError):
        drazin(model, method="dense", symmetry=None)


def two_photon_loss(N=14):
    # two-photon loss keeps the photon-number parity: two steady states, one per parity
    a = qutip.destroy(N)
    return 0.4 * a.dag() * a + 0.9 * (a * a + a.dag() * a.dag()), [a * a], a


@pytest.mark.parametrize("method", ["dense", "direct", "krylov"])
@pytest.mark.parametrize("symmetry", ["auto", None])
def test_drazin_refuses_several_steady_states_whose_pivot_is_rounding(method, symmetry):
    # review 15: the LU's pivot was rounding noise, not zero, so drazin returned a finite solution
    # with residual 6e-14 that changed with symmetry= (max |x| 1.82 / 0.43): zero-frequency spectra,
    # noise and cumulants silently wrong (C2 6.47 for 4.46, C3 -2.8e15 for 0.145)
    H, c, _ = two_photon_loss()
    with pytest.raises(NonUniqueSteadyStateError, match="more than one steady state .* Drazin inverse"):
        solver = drazin((H, c), method=method, symmetry=symmetry)
        y = np.zeros((14, 14), complex)
        y[0, 0], y[2, 2] = 1, -1
        solver.solve(y)  # (Krylov: checked after its first solve)


def test_drazin_krylov_check_does_not_depend_on_the_scale_of_the_first_right_hand_side():
    # the check's threshold is rtol per unit right-hand side: a first solve of a tiny y must not
    # make a unique steady state look singular (with the unscaled norm of x it raised here)
    model = qness.models.boundary_driven_xxz(5, delta=0.5, gamma=1.0)
    y = np.zeros((32, 32), complex)
    y[0, 0], y[31, 31] = 1e-14, -1e-14
    solver = drazin(model, method="krylov")
    x = solver.solve(y)
    assert solver.info["uniqueness"]["verified"]
    np.testing.assert_allclose(x * 1e14, drazin(model, method="dense").solve(y * 1e14), atol=1e-8)


def test_zero_frequency_quantities_refuse_a_state_of_several_and_others_stay_right():
    # the NonUniqueSteadyStateError recommends asymptotic_state; its state passed as ness= gave the
    # wrong numbers above without a word. Nonzero frequencies were right and stay so.
    from qness.analysis import cumulants, emission_spectrum, noise_spectrum

    H, c, a = two_photon_loss()
    ness = qness.asymptotic_state((H, c), qutip.fock_dm(14, 0))
    n = a.dag() * a
    with pytest.raises(NonUniqueSteadyStateError, match="info\\['subspace'\\]"):
        emission_spectrum((H, c), n, [0.0], ness=ness)
    with pytest.raises(NonUniqueSteadyStateError, match="Drazin inverse"):
        cumulants((H, c), ness, counted={0: 1}, order=2)
    with pytest.raises(NonUniqueSteadyStateError, match="Drazin inverse"):
        noise_spectrum((H, c), {0: 1}, [0.0], ness=ness)
    # the even subspace's own model: the steady state is unique there, and w = 0.5 agrees with it
    even = np.arange(0, 14, 2)
    Hb = qutip.Qobj(H.full()[np.ix_(even, even)])
    cb = [qutip.Qobj(c[0].full()[np.ix_(even, even)])]
    nb = qutip.Qobj(n.full()[np.ix_(even, even)])
    sub = [s for s in qness.steady_states((H, c)) if 0 in s.info["subspace"]][0]
    assert np.array_equal(sub.info["subspace"], even)
    want = emission_spectrum((Hb, cb), nb, [0.0, 0.5]).S
    assert emission_spectrum((H, c), n, [0.5], ness=ness).S[0] == pytest.approx(want[1], rel=1e-9)
    # (and the even model's w = 0 value is that of the dense resolvent of its own Liouvillian)
    L = qutip.liouvillian(Hb, cb).full()
    rho = qness.steady_state((Hb, cb)).rho
    dn = nb.full() - np.trace(nb.full() @ rho) * np.eye(7)
    x = np.linalg.lstsq(L, -(dn @ rho).ravel(order="F"), rcond=None)[0]
    x -= np.trace(x.reshape(7, 7, order="F")) * rho.ravel(order="F")
    assert want[0] == pytest.approx(2 * np.real(np.trace(dn.conj().T @ x.reshape(7, 7, order="F"))), rel=1e-8)


@pytest.mark.parametrize("method", ["dense", "krylov"])
def test_z2_sectors_match_dense(method):
    # two-photon driven Kerr resonator: parity sectors s = +1 (steady) and s = -1
    model = qness.models.kerr(6, detuning=0.4, U=0.5, F=0.0, G=0.8, kappa=1.0, eta=0.3)
    assert model.z2() is not None
    d = model.dim
    L = dense_liouvillian(model)
    rho = dense_steady_state(model)
    rng = np.random.default_rng(9)
    Y = _random_in(drazin(model).sector, rng)
    Y = Y - np.trace(Y) * rho
    x = drazin(model, method=method).solve(Y)
    ref = _dense_drazin(L, Y.ravel(order="F"), d).reshape((d, d), order="F")
    assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())
    solver = resolvent(model, 0.7j, sector=-1, method=method)
    assert solver.sector.kind == "z2" and solver.sector.label == -1
    Y = _random_in(solver.sector, rng)
    x = solver.solve(Y).ravel(order="F")
    ref = np.linalg.solve(L - 0.7j * np.eye(d * d), Y.ravel(order="F"))
    assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())


def test_reuse_keeps_the_preconditioner():
    model = qness.models.boundary_driven_xxz(4, delta=0.5)
    L = dense_liouvillian(model)
    first = resolvent(model, -0.5j, sector=1, method="krylov")
    second = resolvent(model, 1.5 - 2.0j, method="krylov", reuse=first)
    assert second.info.get("preconditioner_reused") and second.sector is first.sector
    Y = _random_in(second.sector, np.random.default_rng(11))
    x = second.solve(Y).ravel(order="F")
    ref = np.linalg.solve(L - (1.5 - 2.0j) * np.eye(L.shape[0]), Y.ravel(order="F"))
    assert np.allclose(x, ref, atol=1e-9 * np.abs(ref).max())
    with pytest.raises(TypeError, match="reuse must be"):
        resolvent(model, 1j, reuse="x")


# ---------------------------------------------------------------- many shifts: the Schur route
def _driven_kerr(N=12):
    """A driven Kerr cavity with dephasing: a non-normal Liouvillian without symmetry."""
    a = qutip.destroy(N)
    H = 0.4 * a.dag() * a + 0.3 * a.dag() * a.dag() * a * a + 1.2 * (a + a.dag())
    return qness.from_qutip(H, [np.sqrt(0.7) * a, np.sqrt(0.1) * a.dag() * a])


@pytest.mark.parametrize("which", ["kerr", "xxz"])
def test_schur_shifts_match_the_lu_routes(which):
    model = _driven_kerr() if which == "kerr" else _xxz()
    sector = "steady" if which == "kerr" else 1
    zs = 1j * np.linspace(-6.0, 6.0, 41) + np.array([0.2, 0.0])[np.arange(41) % 2]  # not z = 0
    schur = resolvent(model, zs[0], sector=sector, method="schur")
    assert schur.info["route"] == "Schur"
    rng = np.random.default_rng(3)
    y = rng.normal(size=schur.n) + 1j * rng.normal(size=schur.n)
    left = rng.normal(size=schur.n)
    X = schur.solve_sector_shifts(y, zs)
    assert X.shape == (zs.size, schur.n)
    assert schur.info["residual"] < 1e-13
    lu = resolvent(model, zs[0], sector=sector, method="direct")
    ref = lu.solve_sector_shifts(y, zs)
    assert np.max(np.abs(X - ref)) <= 1e-12 * np.max(np.abs(ref))
    dense = resolvent(model, zs[0], sector=sector, method="dense")
    assert np.allclose(dense.solve_sector_shifts(y, zs, left=left), ref @ left, rtol=1e-12, atol=0)
    # left functionals only, one or several
    vals = schur.solve_sector_shifts(y, zs, left=left)
    assert np.allclose(vals, ref @ left, rtol=1e-12, atol=0)
    both = schur.solve_sector_shifts(y, zs, left=np.stack([left, 2 * left]))
    assert both.shape == (zs.size, 2) and np.allclose(both[:, 1], 2 * vals, rtol=1e-14, atol=0)
    # one shift at a time through solve_sector, and through a re-shifted solver
    assert np.allclose(schur.solve_sector(y), ref[0], rtol=0, atol=1e-12 * np.abs(ref).max())
    other = resolvent(model, zs[7], reuse=schur)
    assert other.info["route"] == "Schur" and other._schur is schur._schur
    assert np.allclose(other.solve_sector(y), ref[7], rtol=0, atol=1e-12 * np.abs(ref).max())


def test_auto_takes_schur_for_many_shifts_of_a_small_sector():
    model = _driven_kerr(6)
    one = resolvent(model, 1j)
    many = resolvent(model, 1j, shifts=400)
    assert one.info["route"] != "Schur"
    assert many.info["route"] == "Schur" and many.info["auto"].startswith("schur")
    # a many-body sector above Schur.max_size keeps its route
    big = qness.models.boundary_driven_xxz(7, delta=0.5)
    assert resolvent(big, 1j, shifts=400).info["route"] != "Schur"


def test_schur_bad_input():
    model = _xxz()
    with pytest.raises(ValueError, match="Drazin"):
        drazin(model, method="schur")
    with pytest.raises(ValueError, match="max_size"):
        resolvent(model, 1j, sector=0, method=Schur(max_size=10))
    with pytest.raises(ValueError, match="shifts"):
        resolvent(model, 1j, shifts=0)
    solver = resolvent(model, 1j, sector=1, method="schur")
    lam = np.linalg.eigvals(solver.sector.matrix(model).toarray())[0]
    with pytest.raises(ValueError, match="eigenvalue"):
        solver.solve_sector_shifts(np.ones(solver.n), [0.5j, lam])
    with pytest.raises(ValueError, match="shape"):
        solver.solve_sector_shifts(np.ones(solver.n + 1), [1j])
    with pytest.raises(ValueError, match="left"):
        solver.solve_sector_shifts(np.ones(solver.n), [1j], left=np.ones(3))
    with pytest.raises(ValueError, match="drazin"):
        drazin(model).solve_sector_shifts(np.ones(3), [1j])
    with pytest.raises(ValueError, match="max_size"):
        Schur(max_size=0)


def test_limit_blas_builds_no_controller_when_the_environment_pins_one_thread(monkeypatch):
    from qness import _threads

    monkeypatch.setattr(_threads, "_pinned", None)
    monkeypatch.setattr(_threads, "_controller", None)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert _threads._blas_pinned_to_one_thread()  # the wheels' BLAS is OpenBLAS
    with _threads.limit_blas(100):
        pass
    assert _threads._controller is None
    monkeypatch.setattr(_threads, "_pinned", None)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert not _threads._blas_pinned_to_one_thread()
    with _threads.limit_blas(100):
        pass
    assert _threads._controller is not None


def test_resolvent_sector_conflicting_with_reuse_is_an_error():
    # a sector given with reuse= used to be ignored silently (reuse's sector won)
    m = qness.from_qutip(0.3 * qutip.sigmaz(), [qutip.sigmam()])
    base = resolvent(m, -1.0j, sector=1)
    assert resolvent(m, -2.0j, reuse=base).sector is base.sector
    assert resolvent(m, -2.0j, sector=1, reuse=base).sector is base.sector
    with pytest.raises(ValueError, match="sector: 'steady' is the .* but the solver passed as reuse="):
        resolvent(m, -2.0j, sector="steady", reuse=base)
    with pytest.raises(ValueError, match="reuse="):
        resolvent(m, -2.0j, sector=-1, reuse=base)
