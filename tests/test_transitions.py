"""Transitions: finite-size fits, locating the transition, bosonic observables, metastable states."""

import numpy as np
import pytest
import qutip
import scipy.optimize as sopt
from helpers import dense_liouvillian, dense_steady_state

import qness.models
from qness.analysis import transitions as tr


class DenseSpectrum:
    """Spectrum from numpy.linalg.eig of the dense L (eigenvalues by Re, descending)."""

    def __init__(self, model, k=4):
        ev, vecs = np.linalg.eig(dense_liouvillian(model))
        order = np.argsort(-ev.real)[:k]
        d = model.dim
        self.eigenvalues = ev[order]
        self.eigenmatrices = [vecs[:, j].reshape((d, d), order="F") for j in order]
        self.gap = -self.eigenvalues[1].real


def dense_gap(model, ness=None):
    return DenseSpectrum(model, k=2).gap


# ----------------------------------------------------------------- finite-size scaling
def test_fits_recover_exponents_and_choose_the_law():
    rng = np.random.default_rng(1)
    N = np.arange(2, 12, dtype=float)
    noise = np.exp(0.02 * rng.normal(size=N.size))
    power = 3.0 * N**-1.5 * noise
    expo = 2.0 * np.exp(-N / 2.5) * noise
    fp = tr.fit_power_law(N, power)
    assert abs(fp.exponent - 1.5) < 4 * fp.exponent_err and fp.exponent_err < 0.05
    fe = tr.fit_exponential(N, expo)
    assert abs(fe.exponent - 2.5) < 4 * fe.exponent_err and fe.exponent_err < 0.1
    assert tr.finite_size_scaling(N, power).best.law == "power"
    assert tr.finite_size_scaling(N, expo).best.law == "exponential"
    np.testing.assert_allclose(fe.predict(N), 2.0 * np.exp(-N / 2.5), rtol=0.05)


def test_fit_errors_match_curve_fit_covariance():
    rng = np.random.default_rng(2)
    N = np.arange(3, 10, dtype=float)
    g = 1.7 * N**-0.8 * np.exp(0.05 * rng.normal(size=N.size))
    fit = tr.fit_power_law(N, g)
    popt, pcov = sopt.curve_fit(lambda x, la, z: la - z * np.log(x), N, np.log(g))
    assert fit.exponent == pytest.approx(popt[1], rel=1e-8)
    assert fit.exponent_err == pytest.approx(np.sqrt(pcov[1, 1]), rel=1e-6)
    # xi = -1/slope: the delta-method error against curve_fit on the slope
    ge = 0.9 * np.exp(-N / 3.0) * np.exp(0.05 * rng.normal(size=N.size))
    fe = tr.fit_exponential(N, ge)
    popt, pcov = sopt.curve_fit(lambda x, la, s: la + s * x, N, np.log(ge))
    assert fe.exponent == pytest.approx(-1 / popt[1], rel=1e-8)
    assert fe.exponent_err == pytest.approx(np.sqrt(pcov[1, 1]) / popt[1] ** 2, rel=1e-6)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        tr.fit_power_law([3], [0.1])
    with pytest.raises(ValueError, match="positive"):
        tr.fit_exponential([1, 2], [0.1, -0.1])
    two = tr.fit_power_law([2, 4], [1.0, 0.25])
    assert two.exponent == pytest.approx(2.0) and np.isnan(two.exponent_err)


def test_locate_minimum_and_crossings():
    x = np.linspace(0, 2, 21)
    y = np.exp((x - 1.234) ** 2)  # log y is an exact parabola
    xm, ym = tr.locate_minimum(x, y)
    assert xm == pytest.approx(1.234, abs=1e-10) and ym == pytest.approx(1.0, abs=1e-10)
    assert tr.locate_minimum(x, x + 1)[0] == 0.0  # at the edge: the edge sample
    c = tr.locate_crossings(x, 2 * x - 1, 0.5 * x + 0.6)
    np.testing.assert_allclose(c, [1.6 / 1.5])
    assert tr.locate_crossings(x, x, x + 1).size == 0


# ----------------------------------------------------------------- bosonic observables
def test_photon_number_g2_wigner_reference_states():
    d = 30
    coh = qutip.coherent_dm(d, 1.3)
    assert tr.photon_number(coh) == pytest.approx(1.69, rel=1e-8)
    assert tr.g2(coh) == pytest.approx(1.0, abs=1e-8)
    assert tr.g2(qutip.thermal_dm(d, 0.5)) == pytest.approx(2.0, abs=1e-6)
    assert tr.g2(qutip.fock_dm(d, 1)) == 0.0
    assert np.isnan(tr.g2(qutip.fock_dm(d, 0)))
    x = np.linspace(-3, 3, 61)
    W = tr.wigner(qutip.fock_dm(d, 0).full(), x)
    X, Y = np.meshgrid(x, x)
    np.testing.assert_allclose(W, np.exp(-(X**2) - Y**2) / np.pi, atol=1e-10)
    W1 = tr.wigner(qutip.fock_dm(d, 1), x)
    assert W1[30, 30] == pytest.approx(-1 / np.pi, rel=1e-8)  # negative at the origin


def test_reduced_mode_of_two_modes():
    a = qutip.coherent_dm(8, 0.7)
    b = qutip.fock_dm(5, 2)
    rho = qutip.tensor(a, b).full()
    np.testing.assert_allclose(tr.reduced_mode(rho, 0, (8, 5)), a.full(), atol=1e-12)
    assert tr.photon_number(rho, mode=1, dims=(8, 5)) == pytest.approx(2.0)
    assert tr.photon_number(rho, mode=0, dims=(8, 5)) == pytest.approx(qutip.expect(qutip.num(8), a))
    with pytest.raises(ValueError, match="dims"):
        tr.reduced_mode(rho, 0, (8, 4))


# ----------------------------------------------------------------- metastability
def test_kerr_bistability_metastable_states():
    model = tr.kerr_scaled(3, F1=2.5, cutoff=14)  # converged to ~1e-10 in the gap
    spec = DenseSpectrum(model, k=3)
    rho_ss = dense_steady_state(model)
    meta = tr.metastable_states(spectrum=spec, ness=rho_ss)
    assert meta.bistable and meta.separation > 10
    assert abs(meta.lambda1.imag) < 1e-8
    for r in (meta.rho_plus, meta.rho_minus):
        w = np.linalg.eigvalsh(r)
        assert w[0] > -1e-9 and abs(w[0]) < 1e-8  # positive, and on the boundary
        assert np.trace(r).real == pytest.approx(1.0)
    p, m = meta.weights
    np.testing.assert_allclose(p * meta.rho_plus + m * meta.rho_minus, rho_ss, atol=1e-10)
    assert 0 < p < 1 and 0 < m < 1
    n = sorted([tr.photon_number(meta.rho_plus), tr.photon_number(meta.rho_minus)])
    assert n[1] > 3 * n[0] + 1  # a dim and a bright state
    assert meta.trace_distance > 0.9


def test_no_bistability_for_the_linear_cavity():
    model = qness.models.kerr(10, detuning=0.0, U=0.0, F=0.4, kappa=1.0)
    meta = tr.metastable_states(spectrum=DenseSpectrum(model, k=3), ness=dense_steady_state(model))
    assert not meta.bistable
    assert meta.separation == pytest.approx(1.0, rel=1e-4)  # lambda = -kappa/2 twice: no separation
    detuned = qness.models.kerr(10, detuning=1.0, U=0.0, F=0.4, kappa=1.0)
    meta = tr.metastable_states(spectrum=DenseSpectrum(detuned, k=3), ness=dense_steady_state(detuned))
    assert not meta.bistable and meta.rho_plus is None  # complex lambda_1 = -kappa/2 +- i Delta


class SectorSpectrum(DenseSpectrum):
    """Dense spectrum with U(1) sector labels q = n_row - n_col read off each eigenmatrix."""

    def __init__(self, model, k):
        super().__init__(model, k=k)
        d = model.dim
        q = np.subtract.outer(np.arange(d), np.arange(d))
        self.sectors = np.array([int(q.ravel()[np.argmax(np.abs(R).ravel())]) for R in self.eigenmatrices])


def test_metastable_states_stay_in_the_steady_state_sector():
    # thermal damped oscillator, lambda = -kappa (m + n)/2 - i Delta (m - n) in sector q = m - n:
    # the slowest modes are coherences (q = +-1), the slowest population mode (q = 0) has -kappa
    model = qness.models.kerr(12, detuning=0.3, U=0.0, F=0.0, kappa=1.0, nth=0.3)
    spec = SectorSpectrum(model, k=16)
    assert spec.sectors[1] != 0 and spec.eigenvalues[1].real == pytest.approx(-0.5, abs=1e-4)
    meta = tr.metastable_states(spectrum=spec, ness=dense_steady_state(model))
    assert meta.lambda1.real == pytest.approx(-1.0, abs=1e-4) and not meta.bistable
    for r in (meta.rho_plus, meta.rho_minus):  # still valid states
        assert np.linalg.eigvalsh(r)[0] > -1e-9 and np.trace(r).real == pytest.approx(1.0)
    spec.sectors = np.ones_like(spec.sectors)
    spec.sectors[0] = 0
    with pytest.raises(ValueError, match="larger k"):
        tr.metastable_states(spectrum=spec, ness=dense_steady_state(model))


def test_kerr_gap_closes_exponentially():
    sizes = [2, 3, 4]
    gaps = [dense_gap(tr.kerr_scaled(N, F1=2.5, cutoff=3 * N + 5)) for N in sizes]
    assert np.all(np.diff(gaps) < 0)
    res = tr.finite_size_scaling(sizes, gaps)
    assert res.best.law == "exponential"
    assert 0.5 < res.exponential.exponent < 1.2  # xi ~ 0.8 for these parameters


def test_transition_from_gap_scan():
    import functools

    factory = functools.partial(_kerr_for_scan)
    da = tr.gap_scan(
        factory,
        "F1",
        np.linspace(1.8, 3.0, 5),
        [2, 3],
        size_name="N",
        gap=dense_gap,
        executor="serial",
        progress=False,
    )
    assert da.dims == ("N", "F1")
    out = tr.transition_from_gap(da)
    assert np.all((out["x_min"] > 2.0) & (out["x_min"] < 3.0))
    assert out["gap_min"][1] < out["gap_min"][0]
    # two sizes fit both laws exactly: no law is chosen (rounding chose one; session-13 review)
    assert out["scaling"] is None
    with pytest.raises(ValueError, match="at least three sizes"):
        tr.finite_size_scaling(out["sizes"], out["gap_min"])


def _kerr_for_scan(N, F1):
    return tr.kerr_scaled(N, F1=F1, cutoff=3 * N + 5)


# ----------------------------------------------------------------- with the library's own spectrum
def test_library_spectrum_gives_the_same_metastable_states():
    model = tr.kerr_scaled(3, F1=2.5, cutoff=14)
    ours = tr.metastable_states(model)  # qness.spectrum and qness.steady_state inside
    ref = tr.metastable_states(spectrum=DenseSpectrum(model, k=3), ness=dense_steady_state(model))
    assert ours.bistable and ours.lambda1 == pytest.approx(ref.lambda1, rel=1e-8)
    pairs = sorted([ours.rho_plus, ours.rho_minus], key=tr.photon_number)
    refs = sorted([ref.rho_plus, ref.rho_minus], key=tr.photon_number)
    for a, b in zip(pairs, refs):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_kerr_gap_closes_exponentially_up_to_larger_n():
    sizes = np.arange(2, 8)
    gaps = [qness.liouvillian_gap(tr.kerr_scaled(N, F1=2.4)) for N in sizes]
    np.testing.assert_allclose(gaps[:2], [dense_gap(tr.kerr_scaled(N, F1=2.4)) for N in sizes[:2]], rtol=1e-8)
    res = tr.finite_size_scaling(sizes, gaps)
    assert res.best.law == "exponential"
    assert res.exponential.exponent_err < 0.1 * res.exponential.exponent
    assert res.exponential.rss < 0.1 * res.power.rss


def test_gap_scan_with_the_default_gap():
    da = tr.gap_scan(
        tr.kerr_scaled, "F1", [2.0, 2.4, 2.8], [2, 3], size_name="N", executor="serial", progress=False
    )
    np.testing.assert_allclose(da.sel(N=3, F1=2.4), dense_gap(tr.kerr_scaled(3, F1=2.4)), rtol=1e-8)


def test_locators_take_the_grid_in_any_order():
    # a scan's grid may come unsorted: locate_minimum gave 2.106 instead of 2.243 and
    # locate_crossings three crossings instead of one (session-13 review)
    x = np.linspace(0.0, 3.0, 13)
    y = np.exp((x - 2.2) ** 2)
    ya, yb = x - 1.5, np.zeros_like(x)
    perm = np.random.default_rng(2).permutation(x.size)
    assert tr.locate_minimum(x[perm], y[perm]) == pytest.approx(tr.locate_minimum(x, y), rel=1e-12)
    np.testing.assert_allclose(tr.locate_crossings(x[perm], ya[perm], yb[perm]), [1.5])
    with pytest.raises(ValueError, match="repeated"):
        tr.locate_minimum(np.r_[x, x[3]], np.r_[y, y[3]])
    with pytest.raises(ValueError, match="same length"):
        tr.locate_crossings(x, ya[:-1], yb)


def test_mode_functions_refuse_a_space_that_is_not_a_tensor_product():
    # review (session 14): on an excitation-number restricted space (qutip.enr_destroy) the flat
    # index was read as one Fock mode: photon_number 0.512 for <d^+ d> = 0.169, g2 4.27 for 0.80
    d, e = qutip.enr_destroy([3, 3], 2)
    H = d.dag() * d + e.dag() * e + 0.3 * (d.dag() * e + e.dag() * d) + 0.4 * (d + d.dag())
    ness = qness.steady_state((H, [np.sqrt(0.5) * d, np.sqrt(0.3) * e]))
    for call in (tr.photon_number, tr.g2, tr.reduced_mode):
        for state in (ness, ness.to_qobj(), qutip.enr_thermal_dm([3, 3], 2, 0.3)):
            with pytest.raises(ValueError, match="not a tensor product"):
                call(state)
    # what the message recommends gives the right value
    ref = qutip.steadystate(H, [np.sqrt(0.5) * d, np.sqrt(0.3) * e])
    assert ness.expect(d.dag() * d) == pytest.approx(qutip.expect(d.dag() * d, ref), abs=1e-9)


def test_mode_functions_check_dims_against_the_states_own():
    rho = qutip.tensor(qutip.thermal_dm(5, 0.5), qutip.coherent_dm(8, 1.0))
    assert tr.photon_number(rho, mode=1) == pytest.approx(
        qutip.expect(qutip.num(8), rho.ptrace(1)), abs=1e-12
    )
    with pytest.raises(ValueError, match="conflict with the state's own dims"):
        tr.photon_number(rho, mode=0, dims=(8, 5))


def test_metastable_states_of_a_z2_model_looks_past_the_other_sector():
    # two-photon Kerr resonator: the slowest mode (-0.005) is in the odd sector, so k = 3 held only
    # two even modes and metastable_states(model) asked the user for "a larger k" it never took
    from qness.models import kerr

    m = kerr(16, detuning=0.0, U=1.0, F=0.0, G=4.0, kappa=1.0, eta=1.0)
    r = tr.metastable_states(m)
    L = qness.liouvillian(m).toarray()
    ev = np.linalg.eigvals(L)
    # the dense oracle: the slowest even mode is real, -3.6034...; the odd one, -0.0050, is skipped
    even_real = ev[np.abs(ev.imag) < 1e-9].real
    assert np.any(np.abs(even_real + 0.004995721) < 1e-6)
    assert r.lambda1 == pytest.approx(-3.6034087593, abs=1e-8)
    assert np.min(np.abs(ev - r.lambda1)) < 1e-9 and np.min(np.abs(ev - r.lambda2)) < 1e-9
    assert not r.bistable


@pytest.mark.parametrize("s", [1.0, 1e-6, 1e-9, 1e-12])
def test_metastable_states_judge_a_real_lambda_1_in_any_units(s):
    # session-20 review: imag_tol was absolute, so the slowest mode s (-0.025 +- 1.0001 i) of a driven
    # damped oscillator counted as real at s = 1e-9 and gave metastable states (weights 1/2 each)
    a = qutip.destroy(4)
    m = qness.from_qutip(s * (a.dag() * a + 0.2 * (a + a.dag())), [np.sqrt(s * 0.05) * a])
    ev = np.linalg.eigvals(qness.liouvillian(m).toarray())
    slow = ev[np.argsort(-ev.real)][1]
    assert abs(slow.imag) > 30 * abs(slow.real)  # the oracle: lambda_1 oscillates
    r = tr.metastable_states(m)
    assert r.lambda1 == pytest.approx(slow, rel=1e-8) or r.lambda1 == pytest.approx(np.conj(slow), rel=1e-8)
    assert r.rho_plus is None and not r.bistable


def test_metastable_states_of_a_pure_steady_state_are_one_state():
    # session-20 review: two-photon loss with a weak one-photon loss (steady state: the vacuum) gave
    # c_plus = c_minus = 0 and a ZeroDivisionError in the weights
    N = 10
    a = np.diag(np.sqrt(np.arange(1, N)), 1).astype(complex)
    model = qness.as_model((1e-5 * a.conj().T @ a, [np.sqrt(1e-7) * a, a @ a]))
    # (session 21: with L's diagonal exact, the slow mode is R1 = |1><1| - |0><0| exactly, and the
    # metastable manifold is the segment from the vacuum to |1><1|, whose photon only the 1e-7 loss
    # removes: two metastable states, the vacuum holding all the weight. The session-20 answer, a
    # single state with c_plus = c_minus = 0, came from the rounding of the old assembly)
    r = tr.metastable_states(model)
    vacuum, one = np.zeros((N, N)), np.zeros((N, N))
    vacuum[0, 0] = one[1, 1] = 1.0
    assert np.abs(r.rho_ss - vacuum).max() < 1e-8
    assert r.bistable and r.trace_distance == pytest.approx(1.0, abs=1e-8)
    pair = sorted([r.rho_plus, r.rho_minus], key=lambda x: -x[0, 0].real)
    assert np.abs(pair[0] - vacuum).max() < 1e-8 and np.abs(pair[1] - one).max() < 1e-8
    assert max(r.weights) == pytest.approx(1.0, abs=1e-8)
