"""Two-time correlations, g2(tau) and emission spectra of the NESS (qness.analysis.correlations)."""

import numpy as np
import pytest
import qutip
import scipy.linalg as sla
import scipy.sparse.linalg as spla

import qness
from qness.analysis import transitions
from qness.analysis.correlations import EmissionSpectrum, correlation, emission_spectrum, g2
from qness.operators import chain_operator, sigmam, sigmap

GAMMA = 1.0


def _mollow(omega, detuning=0.0, gamma=GAMMA):
    return qness.models.mollow(detuning=detuning, omega=omega, gamma=gamma)


def _mollow_qutip(omega, detuning=0.0, gamma=GAMMA):
    H = omega / 2 * qutip.sigmax() + detuning / 2 * qutip.sigmaz()
    return H, [np.sqrt(gamma) * qutip.sigmam()]


def _dense_L(model):
    return qness.liouvillian(model).toarray()


# --------------------------------------------------------------------------- exact values
@pytest.mark.parametrize("omega", [0.2, 1.0, 3.0, 12.0])
def test_g2_resonance_fluorescence_exact(omega):
    # H = Omega/2 sigma_x, L = sqrt(gamma) sigma^-: g2 = 1 - e^{-3 g t/4}(cos mu t + 3g/(4mu) sin mu t),
    # mu = sqrt(Omega^2 - gamma^2/16) (imaginary below Omega = gamma/4: cosh/sinh, same formula)
    taus = np.linspace(0.0, 12.0, 97)
    got = g2(_mollow(omega), sigmam(), taus)
    mu = np.sqrt(complex(omega**2 - GAMMA**2 / 16))
    exact = 1 - np.exp(-3 * GAMMA * taus / 4) * (np.cos(mu * taus) + 3 * GAMMA / (4 * mu) * np.sin(mu * taus))
    assert np.max(np.abs(exact.imag)) < 1e-14
    assert got.dtype == float and got.shape == taus.shape
    np.testing.assert_allclose(got, exact.real, rtol=0, atol=1e-10)


def test_mollow_liouvillian_eigenvalues_and_spectral_expansion():
    # The resonant Mollow Liouvillian has eigenvalues 0, -gamma/2, -3 gamma/4 +- i mu; the
    # spectrum is exactly -2 Re sum_k c_k / (lambda_k - i w) over the non-zero modes.
    omega = 2.5
    m = _mollow(omega)
    L = _dense_L(m)
    lam, R = sla.eig(L)
    mu = np.sqrt(omega**2 - GAMMA**2 / 16)
    expected = np.array([0.0, -GAMMA / 2, -3 * GAMMA / 4 + 1j * mu, -3 * GAMMA / 4 - 1j * mu])
    for e in expected:
        assert np.min(np.abs(lam - e)) < 1e-10
    ness = qness.steady_state(m)
    rho = ness.rho
    A = sigmam().toarray()
    mean = np.trace(A @ rho)
    dA = A - mean * np.eye(2)
    y = (dA @ rho).ravel(order="F")
    a = dA.conj().ravel(order="F")  # Tr(dA^+ X) = sum_ij conj(dA_ij) X_ij
    c = np.linalg.solve(R, y)  # y = sum_k c_k r_k
    keep = np.abs(lam) > 1e-9
    w = np.linspace(-6, 6, 61)
    expansion = np.array(
        [-2 * np.real(np.sum((a @ R[:, keep]) * c[keep] / (lam[keep] - 1j * om))) for om in w]
    )
    assert abs(c[~keep][0]) < 1e-12  # dA rho has no steady component
    res = emission_spectrum(m, sigmam(), w, ness)
    np.testing.assert_allclose(res.S, expansion, rtol=0, atol=1e-10)


@pytest.mark.parametrize("omega", [40.0, 80.0])
def test_mollow_triplet_positions_and_widths_strong_drive(omega):
    # Strong drive: peaks at 0 and +-mu, half widths at half maximum gamma/2 (centre) and
    # 3 gamma/4 (sidebands), heights 3 : 1. The exact spectrum adds dispersive terms, so the
    # sidebands' maxima move by ~0.47 gamma^2/Omega and their half-maximum points by ~0.3 gamma/Omega
    # (measured at Omega = 20 ... 160 gamma); the bounds below are those orders.
    from scipy.optimize import minimize_scalar

    m = _mollow(omega)
    ness = qness.steady_state(m)
    mu = np.sqrt(omega**2 - GAMMA**2 / 16)
    eps = GAMMA / omega

    def S(w):
        return float(emission_spectrum(m, sigmam(), w, ness).S)

    for centre, hwhm, shift, width in [
        (0.0, GAMMA / 2, 1e-8, eps**2),
        (mu, 3 * GAMMA / 4, GAMMA * eps, 0.5 * eps),
        (-mu, 3 * GAMMA / 4, GAMMA * eps, 0.5 * eps),
    ]:
        peak = minimize_scalar(lambda w: -S(w), bracket=(centre - 0.2, centre, centre + 0.2), tol=1e-12).x
        assert abs(peak - centre) < shift
        top = S(peak)
        for side in (-1, 1):
            assert abs(S(peak + side * hwhm) / top - 0.5) < width
    assert abs(S(0.0) / S(mu) - 3.0) < 4 * eps**2


def test_thermal_cavity_spectrum_is_the_lorentzian_at_plus_detuning():
    # H = Delta a^+ a, thermal damping: <a^+(0) a(tau)> = n e^{-i Delta tau - kappa tau/2}, so
    # S(w) = n kappa / ((w - Delta)^2 + kappa^2/4): the emission is at +Delta in this convention.
    N, delta, kappa, n = 25, 1.3, 0.8, 0.3
    a = qutip.destroy(N)
    model = (delta * a.dag() * a, [np.sqrt(kappa * (n + 1)) * a, np.sqrt(kappa * n) * a.dag()])
    w = np.linspace(-5, 5, 51)
    res = emission_spectrum(model, a, w)
    np.testing.assert_allclose(res.S, n * kappa / ((w - delta) ** 2 + kappa**2 / 4), rtol=0, atol=1e-10)
    assert res.coherent_weight == pytest.approx(0.0, abs=1e-20)
    assert res.power == pytest.approx(n, abs=1e-8)  # truncation at 25 levels: n^25 ~ 1e-13


@pytest.mark.parametrize(
    "omega, detuning", [(3.0, 0.0), (1.0, 0.7), (0.3, -2.0)], ids=["resonant", "detuned", "weak"]
)
def test_sum_rule(omega, detuning):
    # int S dw / 2 pi = <dA^+ dA> = <A^+ A> - |<A>|^2; w = s tan(theta) maps the real line onto
    # (-pi/2, pi/2) with a smooth integrand (S ~ 1/w^2), integrated by Gauss-Legendre.
    m = _mollow(omega, detuning)
    ness = qness.steady_state(m)
    x, wts = np.polynomial.legendre.leggauss(200)
    theta = x * np.pi / 2
    s = 2.0
    w = s * np.tan(theta)
    res = emission_spectrum(m, sigmam(), w, ness)
    integral = np.sum(wts * np.pi / 2 * res.S * s / np.cos(theta) ** 2) / (2 * np.pi)
    n = ness.expect(sigmap() @ sigmam())
    assert res.power == pytest.approx(n - abs(ness.expect(sigmam())) ** 2, abs=1e-14)
    assert res.coherent_weight == pytest.approx(abs(ness.expect(sigmam())) ** 2, abs=1e-14)
    assert integral == pytest.approx(res.power, rel=1e-10, abs=1e-13)


# --------------------------------------------------------------------------- QuTiP
def _kerr_qutip(N=12):
    a = qutip.destroy(N)
    H = 0.4 * a.dag() * a + 0.3 * a.dag() * a.dag() * a * a + 0.6 * (a + a.dag())
    return H, [np.sqrt(0.7) * a, np.sqrt(0.1) * a.dag() * a], a


def test_correlation_agrees_with_qutip_correlation_2op_1t():
    taus = np.linspace(0.0, 8.0, 41)
    opts = {"atol": 1e-12, "rtol": 1e-11}
    H, c_ops = _mollow_qutip(2.0, 0.5)
    ref = qutip.correlation_2op_1t(H, None, taus, c_ops, qutip.sigmap(), qutip.sigmam(), options=opts)
    got = correlation((H, c_ops), qutip.sigmap(), qutip.sigmam(), taus)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    H, c_ops, a = _kerr_qutip()
    for A, B in [(a.dag(), a), (a, a.dag()), (a.dag() * a, a + a.dag())]:
        ref = qutip.correlation_2op_1t(H, None, taus, c_ops, A, B, options=opts)
        got = correlation((H, c_ops), A, B, taus)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8 * max(1.0, np.max(np.abs(ref))))


def test_emission_spectrum_agrees_with_qutip_spectrum():
    w = np.linspace(-6, 6, 49)
    H, c_ops = _mollow_qutip(3.0, 0.7)
    ref = qutip.spectrum(H, w, c_ops, qutip.sigmap(), qutip.sigmam())
    np.testing.assert_allclose(emission_spectrum((H, c_ops), qutip.sigmam(), w).S, ref, rtol=0, atol=1e-10)
    H, c_ops, a = _kerr_qutip()
    ref = qutip.spectrum(H, w, c_ops, a.dag(), a)
    got = emission_spectrum((H, c_ops), a, w)
    np.testing.assert_allclose(got.S, ref, rtol=0, atol=1e-9 * np.max(np.abs(ref)))


def test_emission_spectrum_routes_agree_on_a_frequency_grid():
    # many frequencies of a small sector: Auto reduces it once (Schur form); every route agrees
    H, c_ops, a = _kerr_qutip()
    w = np.linspace(-6, 6, 121)  # includes w = 0 (the Drazin solve in the steady sector)
    auto = emission_spectrum((H, c_ops), a, w)
    assert auto.info["sectors"][0]["routes"] == ["Dense", "Schur"], auto.info
    for method in ("direct", "dense", "schur"):
        other = emission_spectrum((H, c_ops), a, w, method=method)
        np.testing.assert_allclose(other.S, auto.S, rtol=0, atol=1e-12 * np.max(np.abs(auto.S)))
    # a symmetric model: the shifted sector and the steady one, Schur against sparse LU
    m = _xxz(3)
    A = chain_operator({2: "sigmam"}, m.dims)
    s1 = emission_spectrum(m, A, w, method="schur")
    s2 = emission_spectrum(m, A, w, method="direct")
    np.testing.assert_allclose(s1.S, s2.S, rtol=0, atol=1e-12 * np.max(np.abs(s2.S)))


# --------------------------------------------------------------------------- many-body, sectors
def _xxz(n):
    return qness.models.boundary_driven_xxz(n, delta=0.5, gamma=1.0, mu=0.7, dephasing=0.2)


def test_many_body_correlation_against_full_space_propagation():
    # boundary-driven XXZ(6), U(1) sectors: against exp(L t) on the whole space (SciPy's Taylor
    # expm_multiply on the full L; no sectors, another algorithm)
    n = 6
    m = _xxz(n)
    dims = m.dims
    ness = qness.steady_state(m)
    L = qness.liouvillian(m).tocsc()
    taus = np.array([0.0, 0.5, 1.7, 4.0])
    cases = [
        (chain_operator({0: "sigmaz"}, dims), chain_operator({n - 1: "sigmaz"}, dims)),
        (chain_operator({1: "sigmap"}, dims), chain_operator({4: "sigmam"}, dims)),
        (chain_operator({2: "sigmax"}, dims), chain_operator({3: "sigmax"}, dims)),  # all charges
    ]
    for A, B in cases:
        got = correlation(m, A, B, taus, ness)
        y = (B @ ness.rho).ravel(order="F")
        ref = []
        for t in taus:
            yt = spla.expm_multiply(L * t, y) if t > 0 else y
            ref.append(np.sum(A.T.toarray().ravel(order="F") * yt))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
        full = correlation(m, A, B, taus, ness, symmetry=None)
        np.testing.assert_allclose(full, got, rtol=0, atol=1e-10)


def test_small_chain_correlation_against_dense_expm():
    n = 4
    m = _xxz(n)
    ness = qness.steady_state(m)
    L = _dense_L(m)
    A = chain_operator({0: "sigmap"}, m.dims)
    B = chain_operator({n - 1: "sigmam"}, m.dims)
    taus = np.array([0.3, 2.0])
    got = correlation(m, A, B, taus, ness)
    y = (B @ ness.rho).ravel(order="F")
    ref = [A.T.toarray().ravel(order="F") @ (sla.expm(L * t) @ y) for t in taus]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_many_body_emission_spectrum_sectors_against_full_space():
    n = 4
    m = _xxz(n)
    ness = qness.steady_state(m)
    A = chain_operator({n - 1: "sigmam"}, m.dims) + 0.5 * chain_operator({0: "sigmaz"}, m.dims)
    w = np.array([-2.0, 0.0, 0.4, 3.0])
    sec = emission_spectrum(m, A, w, ness)
    full = emission_spectrum(m, A, w, ness, symmetry=None)
    np.testing.assert_allclose(sec.S, full.S, rtol=0, atol=1e-11)
    assert len(sec.info["sectors"]) > 1 and len(full.info["sectors"]) == 1
    # every route of the engine, the Krylov one with its Sylvester preconditioner shared across shifts
    for method, opts in [("dense", {}), ("direct", {}), ("krylov", {"rtol": 1e-13})]:
        other = emission_spectrum(m, A, w, ness, method=method, **opts)
        assert {r for x in other.info["sectors"] for r in x["routes"]} == {method.capitalize()}
        np.testing.assert_allclose(other.S, sec.S, rtol=0, atol=1e-11)
    # against the pseudo-inverse on the trace-zero complement, densely
    L = _dense_L(m)
    rho = ness.rho
    dA = A.toarray() - sec.mean * np.eye(m.dim)
    y = (dA @ rho).ravel(order="F")
    a = dA.conj().ravel(order="F")  # Tr(dA^+ X) = sum_ij conj(dA_ij) X_ij
    P = np.outer(rho.ravel(order="F"), np.eye(m.dim).ravel(order="F"))
    Q = np.eye(L.shape[0]) - P
    eye = np.eye(L.shape[0])
    ref = [-2 * np.real(a @ (Q @ np.linalg.lstsq(L - 1j * om * eye, Q @ y, rcond=None)[0])) for om in w]
    np.testing.assert_allclose(sec.S, ref, rtol=0, atol=1e-10)


def test_z2_sectors_and_liouvillian_input():
    # two-photon Kerr: a Z2 parity; a (odd) maps rho_ss into the s = -1 sector
    m = qness.models.kerr(16, detuning=0.3, U=0.5, F=0.0, kappa=1.0, G=1.2, eta=0.2)
    assert m.z2() is not None
    a = qness.operators.destroy(16)
    ness = qness.steady_state(m)
    taus = np.array([0.0, 0.7, 2.5])
    for A, B in [(a.T.conj(), a), (a.T.conj() @ a, a @ a)]:
        got = correlation(m, A, B, taus, ness)
        np.testing.assert_allclose(got, correlation(m, A, B, taus, ness, symmetry=None), rtol=0, atol=1e-11)
    w = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(
        emission_spectrum(m, a, w, ness).S, emission_spectrum(m, a, w, ness, symmetry=None).S, atol=1e-11
    )
    # a Liouvillian given as a matrix (SuperoperatorModel): the whole space, the same correlation
    H, c_ops = m.to_qutip()
    L = qutip.liouvillian(H, c_ops)
    np.testing.assert_allclose(
        correlation(L, a.T.conj(), a, taus, ness), correlation(m, a.T.conj(), a, taus, ness), atol=1e-11
    )
    with pytest.raises(TypeError, match="needs a LindbladModel"):
        emission_spectrum(L, a, w, ness)


# --------------------------------------------------------------------------- consistency
def test_g2_zero_delay_equals_the_equal_time_g2_of_the_state():
    H, c_ops, a = _kerr_qutip()
    ness = qness.steady_state((H, c_ops))
    got = g2((H, c_ops), a, [0.0, 60.0], ness)
    assert got[0] == pytest.approx(transitions.g2(ness), abs=1e-12)
    assert qness.analysis.g2(ness) == transitions.g2(ness)  # the equal-time function is unchanged
    assert got[1] == pytest.approx(1.0, abs=1e-8)  # decorrelated at long delays


def test_correlation_shapes_order_and_limits():
    m = _mollow(1.5, 0.3)
    ness = qness.steady_state(m)
    taus = np.array([3.0, 0.0, 1.0, 3.0, 0.5])
    got = correlation(m, sigmap(), sigmam(), taus, ness)
    sorted_ = correlation(m, sigmap(), sigmam(), np.sort(taus), ness)
    np.testing.assert_allclose(
        got, sorted_[np.argsort(np.argsort(taus, kind="stable"), kind="stable")], atol=1e-13
    )
    scalar = correlation(m, sigmap(), sigmam(), 1.0, ness)
    assert scalar.shape == () and scalar == pytest.approx(got[2], abs=1e-13)
    assert got[1] == pytest.approx(ness.expect(sigmap() @ sigmam()), abs=1e-13)
    late = correlation(m, sigmap(), sigmam(), 80.0, ness)
    assert late == pytest.approx(ness.expect(sigmap()) * ness.expect(sigmam()), abs=1e-12)


def test_result_object():
    res = emission_spectrum(_mollow(1.0), sigmam(), [0.0, 1.0])
    assert isinstance(res, EmissionSpectrum) and res.S.shape == (2,)
    assert np.all(res.S > 0) and "sectors" in res.info and "EmissionSpectrum" in repr(res)
    assert emission_spectrum(_mollow(1.0), sigmam(), 0.5).S.shape == ()


# --------------------------------------------------------------------------- bad input
def test_bad_input():
    m = _mollow(1.0)
    ok = sigmam()
    with pytest.raises(ValueError, match="A has shape"):
        correlation(m, np.eye(3), ok, [0.0])
    with pytest.raises(ValueError, match="B has shape"):
        correlation(m, ok, np.eye(3), [0.0])
    with pytest.raises(TypeError, match="A must be a matrix"):
        correlation(m, "sigmam", ok, [0.0])
    with pytest.raises(ValueError, match="taus must be >= 0"):
        correlation(m, ok, ok, [0.0, -1.0])
    with pytest.raises(ValueError, match="taus has non-finite"):
        g2(m, ok, [0.0, np.nan])
    with pytest.raises(ValueError, match="taus has non-finite"):
        g2(m, ok, [np.inf])
    with pytest.raises(TypeError, match="taus must be real"):
        correlation(m, ok, ok, [1j])
    with pytest.raises(ValueError, match="one-dimensional"):
        correlation(m, ok, ok, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="omegas has non-finite"):
        emission_spectrum(m, ok, [np.nan])
    with pytest.raises(ValueError, match="A has shape"):
        emission_spectrum(m, np.eye(4), [0.0])
    with pytest.raises(ValueError, match="ness must be a 2 x 2"):
        correlation(m, ok, ok, [0.0], ness=np.eye(3) / 3)
    with pytest.raises(ValueError, match="symmetry must be"):
        correlation(m, ok, ok, [0.0], symmetry="yes")
    # a Qobj whose tensor factors are in another order than the model's (same total size)
    H = qutip.tensor(qutip.sigmaz(), qutip.num(3))
    c_ops = [qutip.tensor(qutip.sigmam(), qutip.qeye(3)), qutip.tensor(qutip.qeye(2), qutip.destroy(3))]
    wrong = qutip.tensor(qutip.destroy(3), qutip.qeye(2))
    with pytest.raises(ValueError, match="tensor factors"):
        correlation((H, c_ops), wrong, c_ops[1], [0.0])
    with pytest.raises(TypeError, match="ness must be"):
        correlation(m, ok, ok, [0.0], ness="steady")
    xxz = _xxz(2)
    coherent = np.full((4, 4), 0.25)  # |++><++|: coherences between magnetisation sectors
    with pytest.raises(ValueError, match="outside the steady-state sector"):
        correlation(xxz, np.eye(4), np.eye(4), [0.0], ness=coherent)
    # without the sector check it is still refused: |++><++| is not stationary
    with pytest.raises(ValueError, match="ness is not a steady state"):
        correlation(xxz, np.eye(4), np.eye(4), [0.0], ness=coherent, symmetry=None)


def test_eigendecomposition_and_chebyshev_routes_agree(monkeypatch):
    from qness.analysis import correlations as corr

    taus = np.linspace(0.0, 15.0, 61)
    cases = [(_mollow(2.0, 0.5), sigmap(), sigmam())]
    m = _xxz(3)
    cases.append((m, chain_operator({0: "sigmap"}, m.dims), chain_operator({2: "sigmam"}, m.dims)))
    for model, A, B in cases:
        info = {}
        eig = correlation(model, A, B, taus, info=info)
        assert {s["route"] for s in info["sectors"]} == {"eig"}
        monkeypatch.setattr(corr, "EIG_PROPAGATION_MAX", 0)
        info = {}
        cheb = correlation(model, A, B, taus, info=info)
        assert {s["route"] for s in info["sectors"]} == {"chebyshev"}
        monkeypatch.undo()
        np.testing.assert_allclose(eig, cheb, rtol=0, atol=1e-12 * np.abs(cheb).max())
    # an ill-conditioned eigenbasis falls back to Chebyshev
    monkeypatch.setattr(corr, "EIG_COND_MAX", 1.0)
    info = {}
    correlation(cases[0][0], sigmap(), sigmam(), taus, info=info)
    assert {s["route"] for s in info["sectors"]} == {"chebyshev"}


def test_non_stationary_ness_is_refused():
    # a trace-1 state that is not the NESS was accepted: <s+ s-> 0.5 instead of 1/3
    m = qness.from_qutip(0 * qutip.sigmaz(), [qutip.sigmap(), np.sqrt(2.0) * qutip.sigmam()])
    with pytest.raises(ValueError, match="ness is not a steady state"):
        correlation(m, qutip.sigmap(), qutip.sigmam(), [0.0], ness=qutip.qeye(2) / 2)
    with pytest.raises(ValueError, match="ness must have trace 1"):
        correlation(m, qutip.sigmap(), qutip.sigmam(), [0.0], ness=np.diag([2 / 3, 4 / 3]))
    # the NESS: the upper level (QuTiP's basis(2, 0)) filled at rate 1, emptied at rate 2
    rho = np.diag([1 / 3, 2 / 3])
    c = correlation(m, qutip.sigmap(), qutip.sigmam(), [0.0], ness=rho)
    np.testing.assert_allclose(c, [1 / 3], rtol=0, atol=1e-14)


def test_correlation_cost_and_values_are_unit_free():
    """Every energy and rate times f, every time over f: the same g2 in the same number of operator
    products. The Chebyshev substep was floored at 6 time units, so the cost grew as 1/f (23 s and a
    million products at f = 1e-6; session-18 review)."""
    N = 10
    a = qutip.destroy(N)
    H = 0.5 * a.dag() * a + 0.4 * a.dag() ** 2 * a**2 + 1.2 * (a + a.dag())
    ref, counts = None, []
    for f in (1.0, 1e-6):
        mf = qness.from_qutip(f * H, [np.sqrt(0.7 * f) * a])
        v = g2(mf, a, np.array([0.0, 2.0]) / f)
        info = {}
        correlation(mf, a.dag(), a, [2.0 / f], info=info)
        counts.append(info["sectors"][0]["matvecs"])
        ref = v if ref is None else ref
        assert np.allclose(v, ref, rtol=1e-10)
    assert counts[1] == counts[0]
