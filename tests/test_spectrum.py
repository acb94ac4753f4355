"""Liouvillian spectrum and gap: analytic references, dense diagonalisation, sectors."""

import sys
import warnings

import numpy as np
import pytest
import qutip
from helpers import dense_liouvillian, random_model

import qness
from qness.solvers.propagate import numerical_range_box
from qness.symmetry import sectors

METHODS = [qness.DenseEig(), qness.ShiftInvert(), qness.ShiftInvert(inner="krylov"), qness.AutoEig()]
IDS = ["dense", "shift-invert-lu", "shift-invert-krylov", "auto"]


def dense_eigs(model):
    ev = np.linalg.eigvals(dense_liouvillian(model))
    return ev[np.argsort(-ev.real, kind="stable")]


def xxz(n, delta=0.5, gamma=1.0):
    return qness.models.boundary_driven_xxz(n, delta=delta, gamma=gamma)


def same_multiset(a, b, atol):
    """a and b hold the same complex numbers (with multiplicity) up to atol, in any order."""
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    rows, cols = linear_sum_assignment(np.abs(a[:, None] - b[None, :]))
    assert np.max(np.abs(a[rows] - b[cols]), initial=0.0) < atol, (a, b)


def top_k(ref, k):
    """The k rightmost of a sorted reference spectrum, with the partner of a pair cut at the k-th."""
    n = k
    lam = ref[k - 1]
    if (
        abs(lam.imag) > 1e-9
        and k < len(ref)
        and np.min(np.abs(ref[: k - 1] - lam.conj()), initial=np.inf) > 1e-8
    ):
        n += abs(ref[k] - lam.conj()) < 1e-8 * (1 + abs(lam))
    return ref[:n]


def match(found, ref, atol):
    """Every found eigenvalue is within atol of some reference eigenvalue."""
    for lam in found:
        assert np.min(np.abs(ref - lam)) < atol, lam


# ------------------------------------------------------------ analytic references
@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_damped_qubit_gap_is_half_gamma(method):
    gamma = 0.7
    spec = qness.spectrum((qutip.sigmaz(), [np.sqrt(gamma) * qutip.sigmam()]), k=4, method=method)
    assert spec.gap == pytest.approx(gamma / 2, abs=1e-10)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_damped_cavity_gap_is_half_kappa(method):
    kappa, N = 0.9, 20
    a = qutip.destroy(N)
    assert qness.liouvillian_gap((0.3 * a.dag() * a, [np.sqrt(kappa) * a]), method=method) == pytest.approx(
        kappa / 2, abs=1e-9
    )


@pytest.mark.parametrize("T", [0.5, 2.0])
def test_thermal_qubit_spectrum(T):
    # rates g_down = gamma (n+1), g_up = gamma n: eigenvalues 0, -(g_down+g_up), -(g_down+g_up)/2 -+ i omega
    omega, gamma = 1.1, 0.3
    nb = 1 / np.expm1(omega / T)
    gd, gu = gamma * (nb + 1), gamma * nb
    m = qness.from_qutip(
        omega / 2 * qutip.sigmaz(), [np.sqrt(gd) * qutip.sigmam(), np.sqrt(gu) * qutip.sigmap()]
    )
    spec = qness.spectrum(m, k=4, method="dense")
    G = gd + gu
    ref = np.array([0, -G / 2 + 1j * omega, -G / 2 - 1j * omega, -G])
    same_multiset(spec.eigenvalues, ref, 1e-12)
    assert spec.gap == pytest.approx(G / 2)


def test_thermal_oscillator_spectrum():
    # Damped thermal mode: eigenvalues -kappa (|m|/2 + l) - i omega m (l >= 0), independent of
    # the occupation, truncation aside. Real parts 0, -kappa/2 (m = +-1), -kappa (l = 1, m = 0
    # and m = +-2): k = 6 closes that shell.
    N, omega, kappa, nb = 30, 1.0, 0.4, 0.2
    b = qness.ModelBuilder(N, n=1).add_onsite(omega, "num")
    b.add_jump("destroy", kappa * (nb + 1)).add_jump("create", kappa * nb)
    spec = qness.spectrum(b.build(), k=6, method="dense")
    ref = np.array([0, -kappa / 2 + 1j * omega, -kappa / 2 - 1j * omega, -kappa, -kappa + 2j, -kappa - 2j])
    same_multiset(spec.eigenvalues, ref, 1e-6)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_resonance_fluorescence_eigenvalues(method):
    # H = Omega/2 sx, L = sqrt(gamma) s-: 0, -gamma/2, -3 gamma/4 -+ sqrt(gamma^2/16 - Omega^2)
    gamma = 1.0
    for omega in (0.1, 1.0):
        m = qness.models.mollow(detuning=0.0, omega=omega, gamma=gamma)
        spec = qness.spectrum(m, k=4, method=method)
        root = np.sqrt(complex(gamma**2 / 16 - omega**2))
        ref = np.array([0, -gamma / 2, -3 * gamma / 4 + root, -3 * gamma / 4 - root])
        same_multiset(spec.eigenvalues, ref, 1e-10)


# ------------------------------------------------------------ against dense diagonalisation
@pytest.mark.parametrize("dims, seed", [((2,), 0), ((2, 3), 2), ((3, 3), 4), ((2, 5), 5), ((4, 3), 6)])
def test_random_models_against_numpy_eig(dims, seed):
    m = random_model(dims, n_jumps=2, seed=seed, density=0.6)
    ref = dense_eigs(m)
    k = min(6, m.dim**2)
    spec = qness.spectrum(m, k=k, method="dense")
    # DenseEig: exactly the k eigenvalues with the largest real part (a pair is not cut)
    np.testing.assert_allclose(spec.eigenvalues.real, top_k(ref, k).real, atol=1e-9)
    match(spec.eigenvalues, ref, 1e-9)
    assert spec.gap == pytest.approx(-ref[1].real, abs=1e-9)
    # ShiftInvert: the eigenvalues nearest its shift sigma (just right of zero); sectors too
    # small for Arnoldi (<= 64 unknowns) are diagonalised densely instead.
    for method in METHODS[1:3]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = qness.spectrum(m, k=3, method=method)
        sec = s.info["sectors"][0]
        # an uncertified result says so (session 17: an explicit ShiftInvert had been silent)
        said = [w for w in caught if "nearest its shift" in str(w.message)]
        assert bool(said) == (sec["method"] != "DenseEig")
        if sec["method"] == "DenseEig":
            assert m.dim**2 <= 64
            # the top 3, and the conjugate partner of the third when it is one of a pair
            np.testing.assert_allclose(s.eigenvalues[:3].real, ref[:3].real, atol=1e-9)
            same_multiset(s.eigenvalues, top_k(ref, 3), 1e-9)
        else:
            dist = np.sort(np.abs(ref - sec["sigma"]))[:3]
            np.testing.assert_allclose(np.sort(np.abs(s.eigenvalues - sec["sigma"]))[:3], dist, atol=1e-8)
            match(s.eigenvalues, ref, 1e-8)
            assert not s.info["exact_rightmost"]


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_chain_gap_and_eigenmatrices(method):
    m = xxz(4)
    ref = dense_eigs(m)
    if isinstance(method, qness.ShiftInvert):
        with pytest.warns(qness.SpectrumWarning, match="nearest its shift"):
            spec = qness.spectrum(m, k=4, method=method)
    else:
        spec = qness.spectrum(m, k=4, method=method)
    assert spec.gap == pytest.approx(-ref[1].real, abs=1e-8)
    match(spec.eigenvalues, ref, 1e-8)
    L = dense_liouvillian(m)
    for lam, rho in zip(spec.eigenvalues, spec.eigenmatrices):
        assert rho.shape == (16, 16) and np.linalg.norm(rho) == pytest.approx(1)
        np.testing.assert_allclose(L @ rho.ravel(order="F"), lam * rho.ravel(order="F"), atol=1e-8)
    # the zero mode is the steady state
    rho0 = spec.eigenmatrices[0] / np.trace(spec.eigenmatrices[0])
    np.testing.assert_allclose(rho0, qness.steady_state(m).rho, atol=1e-9)


# ------------------------------------------------------------ sectors
@pytest.mark.parametrize("n", [3, 4])
def test_union_of_sector_spectra_is_the_full_spectrum(n):
    m = xxz(n, delta=0.8)
    full = dense_eigs(m)
    secs = sectors(m)
    assert sum(s.size for s in secs) == 4**n
    parts = np.concatenate([np.linalg.eigvals(s.matrix(m).toarray()) for s in secs])
    same_multiset(parts, full, 1e-9)
    # and spectrum() with k = all reproduces it, with sector labels
    spec = qness.spectrum(m, k=4**n, method="dense", vectors=False)
    same_multiset(spec.eigenvalues, full, 1e-9)
    for s in secs:
        same_multiset(spec.by_sector(s.label), np.linalg.eigvals(s.matrix(m).toarray()), 1e-9)


def test_sector_matrix_equals_slice_of_full_liouvillian():
    m = qness.models.bose_hubbard(2, cutoff=3, J=0.7, U=0.4, detuning=-0.2, F=0.0, kappa=0.5)
    assert m.u1() is not None
    for s in sectors(m):
        A, B = s.matrix(m), s.matrix_reference(m)
        assert (abs(A - B).max() if (A - B).nnz else 0.0) < 1e-14
        x = np.random.default_rng(0).normal(size=s.size) + 0j
        np.testing.assert_allclose(s.operator(m) @ x, A @ x, atol=1e-12)


def test_z2_sectors_two_photon_kerr():
    # F = 0, G != 0, eta > 0: parity symmetric; lambda_1^(-) is the slowest odd-sector eigenvalue
    m = qness.models.kerr(14, detuning=-0.5, U=0.6, F=0.0, kappa=0.3, G=0.9, eta=0.4)
    assert m.z2() is not None
    full = dense_eigs(m)
    spec = qness.spectrum(m, k=8, method="dense", vectors=False)
    match(spec.eigenvalues, full, 1e-9)
    odd = spec.by_sector(-1)
    even = spec.by_sector(1)
    assert odd.size and even.size
    parts = np.concatenate([np.linalg.eigvals(s.matrix(m).toarray()) for s in sectors(m)])
    same_multiset(parts, full, 1e-8)
    assert spec.gap == pytest.approx(-full[1].real, abs=1e-9)


def test_left_eigenmatrices():
    m = xxz(3)
    spec = qness.spectrum(m, k=4, method="dense", left=True)
    L = dense_liouvillian(m)
    for lam, sig in zip(spec.eigenvalues, spec.left_eigenmatrices):
        v = sig.ravel(order="F")
        np.testing.assert_allclose(L.conj().T @ v, np.conj(lam) * v, atol=1e-9)
    # the left zero mode is the identity (trace preservation)
    s0 = spec.left_eigenmatrices[0]
    np.testing.assert_allclose(s0 / s0[0, 0], np.eye(8), atol=1e-9)
    spec_si = qness.spectrum(m, k=3, method="shift-invert", left=True)
    for lam, sig in zip(spec_si.eigenvalues, spec_si.left_eigenmatrices):
        v = sig.ravel(order="F")
        np.testing.assert_allclose(L.conj().T @ v, np.conj(lam) * v, atol=1e-8)


def test_slowest_mode_and_plot(tmp_path):
    m = xxz(3)
    spec = qness.spectrum(m, k=5)
    lam, rho1 = spec.slowest_mode()
    assert -lam.real == pytest.approx(spec.gap)
    L = dense_liouvillian(m)
    np.testing.assert_allclose(L @ rho1.ravel(order="F"), lam * rho1.ravel(order="F"), atol=1e-9)
    ax = spec.plot()
    ax.figure.savefig(tmp_path / "spec.png")
    assert (tmp_path / "spec.png").stat().st_size > 1000
    no_vec = qness.spectrum(m, k=3, vectors=False)
    with pytest.raises(ValueError, match="vectors=True"):
        no_vec.slowest_mode()


def test_degenerate_zero_gives_zero_gap():
    # two decoupled damped qubits sharing nothing: still unique. Use pure dephasing: many zeros.
    m = qness.from_qutip(qutip.sigmaz(), [qutip.sigmaz()])
    assert qness.spectrum(m, k=4, method="dense").gap == 0.0


def test_bad_arguments():
    m = xxz(3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        qness.spectrum(m, k=0)
    with pytest.raises(ValueError, match="unknown spectrum method"):
        qness.spectrum(m, method="lanczos")
    with pytest.raises(TypeError, match="valid options"):
        qness.spectrum(m, method="shift-invert", which="LR")
    with pytest.raises(ValueError, match="sigma must be positive"):
        qness.ShiftInvert(sigma=-1.0)
    with pytest.raises(ValueError, match="inner must be one of"):
        qness.ShiftInvert(inner="cholesky")
    with pytest.raises(ValueError, match="left eigenmatrices need inner='lu'"):
        qness.spectrum(xxz(5), k=2, method=qness.ShiftInvert(inner="krylov"), left=True)


def test_spectrum_uses_detected_symmetry():
    m = xxz(4)
    bare = qness.from_qutip(m.H, [j.L for j in m.jumps], dims=m.dims)
    spec = qness.spectrum(bare, k=4, method="dense")
    assert set(spec.info["sectors"]) == set(range(0, 5))  # q >= 0 computed, -q by conjugation
    assert spec.gap == pytest.approx(qness.spectrum(bare, k=4, method="dense", symmetry=None).gap, abs=1e-10)


# ------------------------------------------------------------ Krylov route and certified sectors
FORCE_KRYLOV = qness.AutoEig(dense_max=0, direct_flops=0)  # every sector large enough: Krylov route


def sector_eigs(m, label=None):
    """Dense eigenvalues of one sector (or of all: the full spectrum, cheaper than dense_eigs)."""
    secs = [s for s in sectors(m) if label is None or s.label == label]
    ev = np.concatenate([np.linalg.eigvals(sec.matrix(m).toarray()) for sec in secs])
    return ev[np.argsort(-ev.real, kind="stable")]


def test_krylov_route_gap_deflates_the_steady_state():
    # vectors=False: the steady sector is searched on trace-zero matrices and 0 added exactly
    m = xxz(5)
    with pytest.warns(qness.SpectrumWarning, match="nearest its shift"):
        spec = qness.spectrum(m, k=1, method=qness.ShiftInvert(inner="krylov"), vectors=False)
    ref = sector_eigs(m)
    assert spec.gap == pytest.approx(-ref[1].real, abs=1e-10)
    info = spec.info["sectors"][0]
    assert info["inner"] == "krylov" and info["solves"] > 0 and info["residual"] <= 1e-12 * 20
    assert spec.eigenvalues[0] == 0.0


def test_certified_sectors_hold_nothing_right_of_the_threshold():
    m = xxz(6)
    spec = qness.spectrum(m, k=1, method=FORCE_KRYLOV, vectors=False)
    assert spec.gap == pytest.approx(-sector_eigs(m)[1].real, abs=1e-9)
    certified = [q for q, v in spec.info["sectors"].items() if v["method"] == "certified"]
    assert certified, spec.info["sectors"]
    for q in certified:
        info = spec.info["sectors"][q]
        assert info["threshold"] == pytest.approx(-spec.gap)
        assert info["norm"] <= info["eps"] * np.exp(info["time_propagated"] * info["threshold"])
        assert sector_eigs(m, q)[0].real < info["threshold"]


def test_failed_certificate_solves_the_sector():
    # k = 6 at 6 spins: the sectors q = +-3 hold a real mode at -0.28, right of the steady
    # sector's sixth eigenvalue (-0.30 +- 1.26i): no certificate can pass, the sector is solved.
    m = xxz(6)
    spec = qness.spectrum(m, k=6, method=FORCE_KRYLOV, vectors=False)
    slow3 = sector_eigs(m, 3)[0]
    assert slow3.real > -0.3
    info = spec.info["sectors"][3]
    assert info["method"] == "ShiftInvert" and info["skip_certificate"]["method"] == "certificate failed"
    assert np.min(np.abs(spec.by_sector(3) - slow3)) < 1e-9
    assert np.min(np.abs(spec.by_sector(-3) - np.conj(slow3))) < 1e-9
    match(spec.eigenvalues, sector_eigs(m), 1e-8)


def test_exact_rightmost_when_every_sector_is_dense_or_certified():
    m = xxz(4)
    assert qness.spectrum(m, k=2, method="dense").info["exact_rightmost"]
    # the steady sector by shift-invert, then certified to miss nothing right of its gap mode
    # (dense_fallback=0: a sector this small would otherwise be diagonalised rather than propagated
    # for long)
    spec = qness.spectrum(
        m, k=2, method=qness.AutoEig(dense_max=0, direct_flops=0, dense_fallback=0), vectors=False
    )
    assert spec.info["sectors"][0]["certificate"]["method"] == "certified"
    assert spec.info["exact_rightmost"]
    uncertified = qness.AutoEig(dense_max=0, direct_flops=0, certify=False)
    said = r"AutoEig returned the eigenvalues nearest its shift in sector\(s\) \[0\]"
    with pytest.warns(qness.SpectrumWarning, match=said):
        assert not qness.spectrum(m, k=2, method=uncertified, vectors=False).info["exact_rightmost"]


def test_krylov_route_reports_no_convergence():
    with pytest.raises(qness.ConvergenceError, match="did not converge"):
        qness.spectrum(xxz(5), k=3, method=qness.ShiftInvert(inner="krylov", maxiter=2))


def test_krylov_route_degenerate_zero():
    # collective decay of two spins: the dark singlet is a second steady state
    sm = qutip.tensor(qutip.sigmam(), qutip.qeye(2)) + qutip.tensor(qutip.qeye(2), qutip.sigmam())
    m = qness.from_qutip(0.0 * sm.dag() * sm, [sm])
    for vectors in (False, True):
        method = qness.ShiftInvert(inner="krylov")
        spec = qness.spectrum(m, k=2, method=method, symmetry=None, vectors=vectors)
        assert spec.gap == 0.0


def test_bad_krylov_and_certificate_settings():
    with pytest.raises(ValueError, match="inner_rtol must be below 1"):
        qness.ShiftInvert(inner="krylov", inner_rtol=1.5)
    with pytest.raises(ValueError, match="ncv must be at least 3"):
        qness.ShiftInvert(ncv=2)
    with pytest.raises(ValueError, match="certify_matvecs"):
        qness.AutoEig(certify_matvecs=0)


def test_auto_takes_the_lu_route_for_a_single_mode():
    # one bosonic mode: LU fill stays small whatever the envelope estimate says
    m = qness.models.kerr(30, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
    spec = qness.spectrum(m, k=3, method=qness.AutoEig(direct_flops=0), vectors=False)
    assert spec.info["sectors"][0]["inner"] == "lu"
    assert spec.gap == pytest.approx(qness.spectrum(m, k=3, method="dense").gap, abs=1e-8)


def test_missing_mode_is_found_in_propagated_vectors():
    # a slow mode (-0.1) that shift-invert "missed", among faster ones
    from qness.solvers.certify import missing_mode as _missing_mode

    rng = np.random.default_rng(0)
    lam = np.concatenate([[-0.1 + 3j], -1.0 - rng.random(40) + 5j * rng.standard_normal(40)])
    S = rng.standard_normal((41, 41)) + np.eye(41) * 5
    M = S @ np.diag(lam) @ np.linalg.inv(S)
    v = rng.standard_normal(41) + 0j
    snaps = []
    for t in np.arange(20.0, 28.0):
        y = S @ (np.exp(t * lam) * np.linalg.solve(S, v))
        snaps.append(y / np.linalg.norm(y))
    found = _missing_mode(M, snaps, -0.5, [])
    assert found is not None and abs(found - lam[0]) < 1e-6
    assert _missing_mode(M, snaps, -0.5, [lam[0]]) is None  # already found: a leak, not missing
    assert _missing_mode(M, snaps, -0.05, []) is None  # not right of the threshold


def test_kerr_gap_is_the_rightmost_mode_not_the_nearest():
    # Kerr resonator: the mode nearest zero (-0.878, real) is not the slowest one
    # (-0.524 +- 0.783i); shift-invert alone reported 0.878.
    m = qness.models.kerr(25, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
    ref = qness.spectrum(m, k=2, method="dense", vectors=False).gap
    assert ref == pytest.approx(0.52357, abs=1e-5)
    assert qness.liouvillian_gap(m) == pytest.approx(ref, abs=1e-9)
    spec = qness.spectrum(m, k=6, vectors=False)
    dense = qness.spectrum(m, k=6, method="dense", vectors=False)
    np.testing.assert_allclose(np.sort(spec.eigenvalues.real), np.sort(dense.eigenvalues.real), atol=1e-9)


def test_propagator_search_finds_modes_shift_invert_missed():
    # 6 spins, k = 8: the 7th and 8th modes by real part are -0.30 +- 1.26i in the steady
    # sector, beyond the dozens of eigenvalues nearer zero that shift-invert returns first.
    # Without the dense fallback, the propagator search finds them and the result is certified.
    m = xxz(6)
    no_fallback = qness.AutoEig(dense_fallback=0)
    spec = qness.spectrum(m, k=8, method=no_fallback, vectors=False)
    ref = sector_eigs(m)
    assert spec.certified and spec.info["exact_rightmost"]
    info = spec.info["sectors"][0]
    assert info["found_by_search"] > 0 and "search" in info["established"]
    np.testing.assert_allclose(np.sort(spec.eigenvalues.real)[::-1][:8], ref[:8].real, atol=1e-8)
    match(spec.eigenvalues, sector_eigs(m, None), 1e-8)
    # a sector this small is diagonalised densely when the search is not enough: here it is
    spec = qness.spectrum(m, k=8, vectors=False)
    assert spec.certified
    np.testing.assert_allclose(np.sort(spec.eigenvalues.real)[::-1][:8], ref[:8].real, atol=1e-8)


def test_uncertified_sector_warns_with_its_evidence():
    # a certificate budget far too small to prove anything: the result is not certified, and
    # spectrum says so, naming the sector and the evidence
    a = qutip.destroy(20)
    model = (10 * a.dag() * a + 0.5 * (a + a.dag()), [a])
    starved = qness.AutoEig(dense_max=0, dense_fallback=0, certify_matvecs=1, certify_flops=0)
    with pytest.warns(qness.SpectrumWarning, match=r"sector 0 \(400 unknowns\) is not certified.*products"):
        spec = qness.spectrum(model, k=3, method=starved, vectors=False)
    assert not spec.certified and not spec.info["exact_rightmost"]
    assert "uncertified" in spec.info["sectors"][0]["established"]


def test_uncertified_many_body_gap_says_what_budget_would_certify_it():
    # the steady sector of 6 spins by the Krylov route, with a certificate budget too small:
    # the warning names the budget that would do, and that budget certifies the gap
    import re

    m = xxz(6)
    krylov = dict(dense_max=0, direct_flops=0, dense_fallback=0, certify_flops=0)
    small = qness.AutoEig(certify_matvecs=2000, **krylov)
    with pytest.warns(qness.SpectrumWarning, match=r"2nd returned.*certify_matvecs=\d+") as rec:
        spec = qness.spectrum(m, k=1, method=small, vectors=False)
    assert not spec.certified
    budget = int(re.search(r"certify_matvecs=(\d+)", str(rec[0].message)).group(1))
    enough = qness.AutoEig(
        dense_max=0, direct_flops=0, dense_fallback=0, certify_matvecs=budget, certify_flops=0
    )
    spec2 = qness.spectrum(m, k=1, method=enough, vectors=False)
    assert spec2.certified
    assert spec2.gap == pytest.approx(spec.gap, abs=1e-9) and spec2.gap == pytest.approx(
        -sector_eigs(m)[1].real, abs=1e-9
    )


@pytest.mark.parametrize(
    "model",
    [
        qness.models.boundary_driven_xxz(4, delta=0.5, gamma=1.0, dephasing=0.3),
        qness.models.dissipative_ising(4, V=1.0, h=0.7, detuning=0.2, gamma=1.0),
        qness.models.fermionic_chain(
            3, t=1.0, eps=0.2, gamma_l=1.0, gamma_r=0.5, mu_l=1.0, mu_r=-1.0, T_l=1.0, T_r=0.5
        ),
    ],
    ids=["XXZ dephased", "Ising", "fermions (two-site jumps)"],
)
def test_local_dissipator_bounds_hold_the_exact_spectra(model):
    # Weyl bounds from each jump's local superoperator against the Hermitian and
    # anti-Hermitian parts of the full dissipator, diagonalised densely
    spec = sys.modules["qness.solvers.spectrum"]
    assert model.terms is not None
    a, b, c1, c2 = spec._local_dissipator_box(model)
    D = dense_liouvillian(model.replace(H=0 * model.H, drives=()))
    re = np.linalg.eigvalsh((D + D.conj().T) / 2)
    im = np.linalg.eigvalsh((D - D.conj().T) / 2j)
    assert a - 1e-12 <= re[0] and re[-1] <= b + 1e-12
    assert c1 - 1e-12 <= im[0] and im[-1] <= c2 + 1e-12
    # the box the propagator runs on keeps the tighter side of these and Gershgorin's
    sec = sectors(model)[0]
    M = sec.matrix(model)
    box = spec._propagator(model, sec, M, spec._bohr_width(model)).box
    ga, gb, _, _ = numerical_range_box(M)
    assert box[0] == max(ga, a) and box[1] == min(gb, b)


def test_local_dissipator_bounds_need_local_terms():
    spec = sys.modules["qness.solvers.spectrum"]
    H = qutip.sigmaz()
    assert spec._local_dissipator_box(qness.from_qutip(H, [qutip.sigmam()])) is None


def stiff_chain():
    # five spins, XXZ with random transverse fields and decay rates over five decades: no U(1), one
    # sector of 1,024 unknowns; its slowest modes are an oscillating pair (-0.0104 +- 2.05i)
    sm, sz, sx = qutip.sigmam(), qutip.sigmaz(), qutip.sigmax()
    n = 5

    def site(o, i):
        return qutip.tensor([o if j == i else qutip.qeye(2) for j in range(n)])

    J, delta = 0.7775217478660497, 0.7139672981647693
    fields = [-0.954404, 0.653912, 0.214214, 1.117167, -0.934003]
    rates = [91.8343, 0.00242965, 0.00772335, 754.356, 0.283834]
    H = sum(
        J * (site(sm, i) * site(sm, i + 1).dag() + site(sm, i).dag() * site(sm, i + 1))
        + delta * site(sz, i) * site(sz, i + 1)
        for i in range(n - 1)
    )
    H = H + sum(f * site(sx, i) for i, f in enumerate(fields))
    return H, [np.sqrt(r) * site(sm, i) for i, r in enumerate(rates)]


def test_uncertified_sectors_up_to_dense_fallback_are_diagonalised():
    # review (session 14): the certificate could not certify this 1,024-unknown sector, above the
    # dense fallback (1,000); the gap came back 0.013853 (the next pair) for 0.010412, with a
    # warning saying there was no sign of a missing mode
    H, c = stiff_chain()
    ev = np.linalg.eigvals(dense_liouvillian(qness.from_qutip(H, c)))
    ev = ev[np.argsort(-ev.real)]
    assert qness.liouvillian_gap((H, c)) == pytest.approx(-ev[1].real, rel=1e-9)
    s = qness.spectrum((H, c), k=5)
    assert s.certified
    assert np.max(np.min(np.abs(s.eigenvalues[:, None] - ev[None, :5]), axis=0)) <= 1e-9


def test_dense_sectors_are_diagonalised_densely():
    # dense jumps make the Liouvillian dense: the sparse routes took 17-76 s on such a
    # 1,296-unknown model, the dense eig about 5
    from qness.solvers.spectrum import _auto_plan

    model = random_model((6, 6), n_jumps=2, seed=3)
    assert _auto_plan(model, sectors(model)[0], qness.AutoEig(), left=False)[0] == "dense"
    ev = np.linalg.eigvals(dense_liouvillian(model))
    ev = ev[np.argsort(-ev.real)]
    assert qness.liouvillian_gap(model) == pytest.approx(-ev[1].real, rel=1e-9)


def test_gap_does_not_depend_on_the_units():
    # a three-level model with a slow leak (gap 7.9e-8 of its rates) written with rates 1 and with
    # rates 1e-6: the gap scales with them (it was 0.0 in small units against an absolute 1e-12 floor)
    P = lambda i, j: np.outer(np.eye(3)[i], np.eye(3)[j])  # noqa: E731
    for s in (1.0, 1e-6):
        H = s * 0.3 * (P(1, 2) + P(2, 1))
        c = [np.sqrt(s) * P(1, 2), np.sqrt(s * 1e-7) * P(0, 1)]
        L = dense_liouvillian(qness.from_qutip(H, c))
        ev = np.linalg.eigvals(L)
        ref = -np.sort(ev.real)[::-1][1]
        assert qness.liouvillian_gap((H, c)) == pytest.approx(ref, rel=1e-6)
        assert ref / s == pytest.approx(7.906977e-8, rel=1e-6)


def test_shift_invert_gap_that_misses_an_oscillating_pair_warns():
    # detuned driven cavity: the slowest modes are -kappa/2 +- 2i, farther from 0 than -kappa;
    # the eigenvalues nearest the shift give the gap 1.0 (was silent), the default certifies 0.5
    a = qutip.destroy(30)
    H, c = 2.0 * a.dag() * a + 0.5 * (a + a.dag()), [a]
    assert qness.liouvillian_gap((H, c)) == pytest.approx(0.5, abs=1e-9)
    with pytest.warns(qness.SpectrumWarning, match="nearest its shift"):
        g = qness.liouvillian_gap((H, c), method="shift-invert")
    assert g == pytest.approx(1.0, abs=1e-9)  # the value the warning is about


def test_left_eigenmatrices_belong_to_their_eigenvalue():
    # driven Kerr mode (900 unknowns: the LU shift-invert route): the left vectors come from a
    # second ARPACK run on L^+; where it cut the conjugate pair -0.75 +- 3.16i differently, the
    # left vector of the partner was returned (residual 0.63, in 4 of 10 calls, certified)
    a = qutip.destroy(30)
    H = -4.0 * a.dag() * a + 0.5 * a.dag() ** 2 * a**2 + 2.0 * (a + a.dag())
    Lh = qutip.liouvillian(H, [a]).full().conj().T
    for _ in range(10):  # ARPACK's start vector is random
        s = qness.spectrum((H, [a]), k=6, vectors=True, left=True)
        assert s.info["sectors"][0]["method"] == "ShiftInvert"
        for lam, lm in zip(s.eigenvalues, s.left_eigenmatrices):
            lv = lm.ravel(order="F")
            assert np.linalg.norm(Lh @ lv - np.conj(lam) * lv) <= 1e-8 * np.linalg.norm(lv)


def test_repeated_eigenvalue_gets_independent_left_eigenmatrices():
    # two identical driven Kerr cavities: -0.09994 and its partners are double; matching left
    # vectors by eigenvalue gave both copies the same one (rank 7 of 8, no dual basis)
    a = qutip.tensor(qutip.destroy(7), qutip.qeye(7))
    b = qutip.tensor(qutip.qeye(7), qutip.destroy(7))
    H = (
        (a.dag() * a + b.dag() * b)
        + 0.2 * (a + a.dag() + b + b.dag())
        + 0.05 * (a.dag() ** 2 * a**2 + b.dag() ** 2 * b**2)
    )
    c = [np.sqrt(0.1) * a, np.sqrt(0.1) * b]
    Lh = qutip.liouvillian(H, c).full().conj().T
    with pytest.warns(qness.SpectrumWarning, match="nearest its shift"):
        s = qness.spectrum((H, c), k=8, vectors=True, left=True, method="shift-invert")
    vals = s.eigenvalues
    assert np.sum(np.abs(vals - vals[1]) < 1e-8) == 2  # the double eigenvalue
    Lm = np.column_stack([lm.ravel(order="F") for lm in s.left_eigenmatrices])
    assert np.linalg.matrix_rank(Lm, tol=1e-8) == len(vals)
    for lam, lv in zip(vals, Lm.T):
        assert np.linalg.norm(Lh @ lv - np.conj(lam) * lv) <= 1e-9 * np.linalg.norm(lv)


def test_zeno_gap_below_the_zero_tolerance_is_said():
    # driven qubit under dephasing gamma: the gap is 2/gamma (exact); at gamma = 1e7 it is 1e-14 of
    # ||L||, below the zero tolerance, and 0.0 came back silently while steady_state found the state
    # unique; the mode itself is resolved (the computed zero is 1e-16)
    sx = np.array([[0, 1], [1, 0]], complex)
    sz = np.diag([1.0, -1.0]).astype(complex)
    assert qness.liouvillian_gap((sx, [np.sqrt(1e6) * sz])) == pytest.approx(2e-6, rel=1e-6)
    with pytest.warns(qness.SpectrumWarning, match="rate 2e-07 lies below the zero tolerance"):
        s = qness.spectrum((sx, [np.sqrt(1e7) * sz]), k=2, vectors=False)
    assert s.gap == 0.0
    assert s.eigenvalues[1].real == pytest.approx(-2e-7, rel=1e-6)
    # a true degeneracy (dephasing alone: two exact zero modes) stays 0.0 without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert qness.liouvillian_gap((0 * sx, [np.sqrt(1e7) * sz])) == 0.0
    # nor does a rounding-level mode beside an exactly-0 computed zero (a Lambda atom with a shelving
    # level as qutip.liouvillian, four steady states): its 6e-18 was "6e+282 times the zero" (session 19)
    k = [qutip.basis(4, i) for i in range(4)]
    H = 0.5 * (k[2] * k[0].dag() + k[0] * k[2].dag()) + 0.8 * (k[2] * k[1].dag() + k[1] * k[2].dag())
    c = [np.sqrt(r) * k[i] * k[2].dag() for i, r in ((0, 0.6), (1, 0.4), (3, 0.3))]
    assert np.sum(np.abs(np.linalg.eigvals(qutip.liouvillian(H, c).full())) < 1e-12) == 4  # the oracle
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert qness.liouvillian_gap(qutip.liouvillian(H, c)) == 0.0
        assert qness.liouvillian_gap((H, c)) == 0.0


def test_default_k_on_spaces_with_fewer_than_six_modes():
    # session-20 review: spectrum(qubit) raised "k = 6 exceeds the 4 eigenvalues" (k was not given);
    # a one-state space has no gap (nan, documented) and no metastable states (said so)
    import qutip

    spec = qness.spectrum((qutip.sigmaz(), [qutip.sigmam()]))
    np.testing.assert_allclose(
        np.sort_complex(spec.eigenvalues), np.sort_complex([0, -0.5 - 2j, -0.5 + 2j, -1]), atol=1e-12
    )
    with pytest.raises(ValueError, match="k = 6 exceeds the 4 eigenvalues"):
        qness.spectrum((qutip.sigmaz(), [qutip.sigmam()]), k=6)
    one = qness.as_model((qutip.Qobj([[0.5]]), [qutip.Qobj([[1.0]])]))
    assert np.isnan(qness.liouvillian_gap(one))
    with pytest.raises(ValueError, match="the model's 1 modes hold only 1 there"):
        qness.analysis.transitions.metastable_states(one)
