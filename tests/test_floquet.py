"""Limit cycles of periodically driven open systems (qness.floquet_steady_state)."""

import math

import numpy as np
import pytest
import qutip

import qness
from qness.solvers.floquet import commutator_superoperator

# ---------------------------------------------------------------- the exact oscillator limit cycle
# H(t) = w0 a^+a + F cos(wd t)(a + a^+), L = sqrt(kappa) a. The Heisenberg equation
#   d<a>/dt = -(i w0 + kappa/2) <a> - i F cos(wd t)
# is closed; its periodic solution alpha(t) = A e^{-i wd t} + B e^{i wd t} has
#   A (kappa/2 + i(w0 - wd)) = -iF/2,   B (kappa/2 + i(w0 + wd)) = -iF/2,
# and since the vacuum stays coherent under linear drive and zero-temperature damping the
# limit cycle is the pure coherent state |alpha(t)>, so <n>(t) = |alpha(t)|^2 with period
# average |A|^2 + |B|^2.
W0, WD, F, KAPPA, NC = 1.0, 0.7, 0.3, 0.4, 20


def _oscillator(w0=W0, wd=WD, f=F, kappa=KAPPA, nc=NC, **kw):
    a = qutip.destroy(nc)
    res = qness.floquet_steady_state((w0 * a.dag() * a, [math.sqrt(kappa) * a]), f * (a + a.dag()), wd, **kw)
    A = -(0.5j * f) / (kappa / 2 + 1j * (w0 - wd))
    B = -(0.5j * f) / (kappa / 2 + 1j * (w0 + wd))
    return res, a, A, B


def _coherent(alpha, nc):
    n = np.arange(nc)
    logfact = np.array([math.lgamma(k + 1) for k in n])
    amp = np.exp(-(abs(alpha) ** 2) / 2 - 0.5 * logfact) * alpha**n
    return amp


def test_oscillator_exact_limit_cycle_without_rwa():
    res, a, A, B = _oscillator()
    assert res.info["converged"]
    ts = np.array([0.0, 0.37, 1.9, 4.2, 7.7, 31.3])
    alpha = A * np.exp(-1j * WD * ts) + B * np.exp(1j * WD * ts)
    got = res.expect(a, ts)
    assert np.max(np.abs(got - alpha)) < 1e-9
    # the counter-rotating part is large here: the test is beyond RWA
    assert abs(B) > 0.2 * abs(A)
    assert abs(res.expect(a.dag() * a) - (abs(A) ** 2 + abs(B) ** 2)) < 1e-9
    # the whole state is the coherent state |alpha(t)>
    for t, al in zip(ts, alpha):
        psi = _coherent(al, NC)
        rho = res.rho(t)
        assert np.max(np.abs(rho - np.outer(psi, psi.conj()))) < 1e-9
    assert res.residual < 1e-12
    assert res.time_residual < 1e-9


def test_oscillator_rwa_limit():
    # Near resonance and weak damping the counter-rotating amplitude B -> 0 and the lab-frame
    # limit cycle is the RWA steady state rotated back: <a>(t) = e^{-i wd t} <a>_rwa + B e^{i wd t}.
    w0, wd, f, kappa = 10.0, 9.9, 0.05, 0.2
    res, a, A, B = _oscillator(w0, wd, f, kappa, nc=8)
    rwa = qness.steady_state((((w0 - wd) * a.dag() * a + 0.5 * f * (a + a.dag())), [math.sqrt(kappa) * a]))
    a_rwa = rwa.expect(a)
    ts = np.linspace(0, 2 * np.pi / wd, 9)
    dev = res.expect(a, ts) * np.exp(1j * wd * ts) - a_rwa
    assert abs(B) < 0.02 * abs(A)
    np.testing.assert_allclose(np.abs(dev), abs(B), rtol=1e-7, atol=1e-12)
    assert abs(res.expect(a.dag() * a) - rwa.expect(a.dag() * a)) < 1.01 * abs(B) ** 2 + 1e-12


def test_harmonic_truncation_independence():
    auto, a, _, _ = _oscillator()
    n_auto = auto.info["harmonics"]
    for N in (n_auto, n_auto + 6):
        fixed, *_ = _oscillator(harmonics=N)
        assert fixed.info["harmonics"] == N and fixed.info["tried"] == [N]
        assert np.max(np.abs(fixed.average - auto.average)) < 1e-12
        for n in range(-3, 4):
            assert np.max(np.abs(fixed.harmonics[n] - auto.harmonics[n])) < 1e-12
    # harmonics fall off: the automatic choice stopped where the outermost ones are below tol
    assert auto.info["outermost"] <= auto.info["tol"]
    assert auto.info["tried"][-1] == n_auto and len(auto.info["tried"]) >= 1


def test_unconverged_truncation_warns():
    with pytest.warns(qness.TruncationWarning, match="not converged"):
        res, *_ = _oscillator(f=2.0, nc=12, harmonics=1)
    assert res.info["converged"] is False


# ---------------------------------------------------------------- against mesolve
def _mesolve_compare(H0, drive_op, wd, c_ops, rho0, nper, tol):
    res = qness.floquet_steady_state((H0, c_ops), drive_op, wd)
    T = 2 * np.pi / wd
    tl = np.linspace(0, nper * T, nper * 24 + 1)
    out = qutip.mesolve(
        [H0, [drive_op, lambda t: np.cos(wd * t)]],
        rho0,
        tl,
        c_ops,
        options={"atol": 1e-13, "rtol": 1e-11, "nsteps": 100000},
    )
    last = range(len(tl) - 25, len(tl))  # the last period, point by point
    err = max(np.max(np.abs(out.states[k].full() - res.rho(tl[k]))) for k in last)
    avg = sum(out.states[k].full() for k in range(len(tl) - 24, len(tl))) / 24  # trapezoid-free: periodic
    assert err < tol, err
    assert np.max(np.abs(avg - res.average)) < tol
    return res


def test_driven_qubit_beyond_rwa_matches_mesolve():
    # Rabi frequency comparable to the transition: Bloch-Siegert regime
    H0 = 0.5 * 1.0 * qutip.sigmaz()
    res = _mesolve_compare(H0, 0.8 * qutip.sigmax(), 1.3, [qutip.sigmam()], qutip.fock_dm(2, 0), 14, 1e-9)
    assert res.info["converged"] and res.time_residual < 1e-10


def test_driven_two_qubit_machine_matches_mesolve():
    sm, sz, sx, I2 = qutip.sigmam(), qutip.sigmaz(), qutip.sigmax(), qutip.qeye(2)
    s1, s2 = qutip.tensor(sm, I2), qutip.tensor(I2, sm)
    H0 = 0.5 * qutip.tensor(sz, I2) + 0.7 * qutip.tensor(I2, sz)
    H0 = H0 + 0.2 * (s1.dag() * s2 + s2.dag() * s1)
    n1, n2 = 0.6, 0.05  # hot and cold thermal baths
    c_ops = [
        math.sqrt(1.2 * (n1 + 1)) * s1,
        math.sqrt(1.2 * n1) * s1.dag(),
        math.sqrt(1.0 * (n2 + 1)) * s2,
        math.sqrt(1.0 * n2) * s2.dag(),
    ]
    drive = 0.5 * qutip.tensor(sx, sx)
    rho0 = qutip.tensor(qutip.fock_dm(2, 1), qutip.fock_dm(2, 1))
    res = _mesolve_compare(H0, drive, 0.9, c_ops, rho0, 10, 1e-8)
    assert res.dims == (2, 2)
    assert res.to_qobj(0.3).dims == [[2, 2], [2, 2]]


def test_period_average_matches_qutip_steadystate_fourier():
    H0, c = 0.5 * qutip.sigmaz(), [qutip.sigmam()]
    res = qness.floquet_steady_state((H0, c), 0.8 * qutip.sigmax(), 1.3)
    ref = qutip.steadystate_fourier(H0, c, 0.8 * qutip.sigmax(), 1.3, n_it=30)
    assert np.max(np.abs(ref.full() - res.average)) < 1e-10


# ---------------------------------------------------------------- input forms
def _qubit():
    return 0.5 * qutip.sigmaz(), [qutip.sigmam()]


def test_dict_drive_equals_cosine_and_complex_harmonics():
    H0, c = _qubit()
    sx = qutip.sigmax()
    cos = qness.floquet_steady_state((H0, c), 0.6 * sx, 1.1)
    dct = qness.floquet_steady_state((H0, c), {1: 0.3 * sx.full()}, 1.1)
    assert np.max(np.abs(cos.average - dct.average)) < 1e-14
    # sigma_+ e^{-i w t} + sigma_- e^{i w t}: a rotating drive, exact in the rotating frame
    rot = qness.floquet_steady_state((H0, c), {1: 0.4 * qutip.sigmap()}, 1.1)
    frame = qness.steady_state(((0.5 * (1.0 - 1.1)) * qutip.sigmaz() + 0.4 * qutip.sigmax(), c))
    # rho(t) = U(t) rho_rot U(t)^+ with U = exp(-i w t sz/2): rho_n = 0 for |n| > 1 and <sz> constant
    sz = qutip.sigmaz()
    ts = np.linspace(0, 5, 6)
    np.testing.assert_allclose(rot.expect(sz, ts), frame.expect(sz), atol=1e-12)
    assert all(np.max(np.abs(rot.harmonics[n])) < 1e-13 for n in rot.harmonics if abs(n) > 1)
    sm_t = rot.expect(qutip.sigmam(), ts)
    np.testing.assert_allclose(sm_t, frame.expect(qutip.sigmam()) * np.exp(-1.1j * ts), atol=1e-12)


def test_qutip_list_formats():
    H0, c = _qubit()
    sx = qutip.sigmax()
    ref = qness.floquet_steady_state((H0, c), 0.6 * sx, 1.1)
    forms = [
        qness.floquet_steady_state(([H0, [0.6 * sx, "cos(1.1*t)"]], c)),
        qness.floquet_steady_state(([H0, [0.6 * sx, "cos(w*t)"]], c), args={"w": 1.1}),
        qness.floquet_steady_state((H0, c), [[0.6 * sx, lambda t, args: np.cos(1.1 * t)]], 1.1),
        qness.floquet_steady_state((H0, c), [0.3 * sx, "2*cos(1.1*t)"], 1.1),
    ]
    for r in forms:
        assert r.omega == pytest.approx(1.1, rel=0, abs=0)
        assert np.max(np.abs(r.average - ref.average)) < 1e-13
    # a phase and a second harmonic: cos^2(wt) = 1/2 + cos(2wt)/2 -> static part plus harmonic 2
    sq = qness.floquet_steady_state(([H0, [sx, "cos(1.1*t)**2"]], c))
    dct = qness.floquet_steady_state((H0 + 0.5 * sx, c), {2: 0.25 * sx}, 1.1)
    assert np.max(np.abs(sq.average - dct.average)) < 1e-12
    assert sq.info["drive_harmonics"] == [-2, 2]


@pytest.mark.filterwarnings("ignore:`cython`:UserWarning")  # QuTiP compiling a string coefficient
def test_qobjevo_and_qutip_coefficients_and_constant_terms():
    # review 14b: qutip.coefficient(...) and a QobjEvo H were refused; [H1, 0.5] was "time-dependent"
    H0, c = _qubit()
    sx, w = qutip.sigmax(), 1.1
    ref = qness.floquet_steady_state((H0 + 0.2 * sx, c), 0.6 * sx, w)
    forms = [
        (([H0, [0.6 * sx, qutip.coefficient("cos(w*t)", args={"w": w})], [sx, 0.2]], c), {"omega": w}),
        ((qutip.QobjEvo([H0, [0.6 * sx, "cos(w*t)"]], args={"w": w}) + 0.2 * sx, c), {"omega": w}),
        ((qutip.QobjEvo([H0 + 0.2 * sx, [0.6 * sx, lambda t: np.cos(w * t)]]), c), {"omega": w}),
    ]
    for model, kw in forms:
        r = qness.floquet_steady_state(model, **kw)
        assert np.max(np.abs(r.average - ref.average)) < 1e-13
        assert abs(r.expect(qutip.sigmaz(), 0.4) - ref.expect(qutip.sigmaz(), 0.4)) < 1e-13


@pytest.mark.filterwarnings("ignore:`cython`:UserWarning")
def test_complex_terms_summing_to_a_hermitian_hamiltonian():
    # review 14b: [a, 'exp(1j*w*t)'] + [a.dag(), 'exp(-1j*w*t)'] is Hermitian but was refused term by term
    a = qutip.destroy(5)
    H0, c, w = 0.3 * a.dag() * a, [np.sqrt(0.5) * a], 1.3
    pair = qness.floquet_steady_state(
        ([H0, [0.2 * a, "exp(1j*w*t)"], [0.2 * a.dag(), "exp(-1j*w*t)"]], c), args={"w": w}
    )
    ref = qness.floquet_steady_state((H0, c), {1: 0.2 * a.dag()}, w)  # V_1 e^{-iwt} + h.c.
    for t in (0.0, 0.7, 2.1):
        np.testing.assert_allclose(pair.rho(t), ref.rho(t), atol=1e-13)
    with pytest.raises(
        ValueError, match=r"H\(t\) from the terms model H\[1\] is not Hermitian .*drive=\{m: V_m\}"
    ):
        qness.floquet_steady_state(([H0, [a, "exp(1j*w*t)"]], c), args={"w": w})


@pytest.mark.filterwarnings("ignore:`cython`:UserWarning")
def test_time_dependent_input_it_cannot_take_is_refused_without_recommending_itself():
    # review 14b: the refusal ended with "... use qness.floquet_steady_state(...)"
    H0, c = _qubit()
    sx = qutip.sigmax()
    L = qutip.QobjEvo([qutip.liouvillian(H0, c), [qutip.liouvillian(sx), "cos(t)"]])
    cases = [
        (([H0, [sx, "cos(t)"]], [[c[0], "cos(t)"]]), "c_ops\\[0\\] is time-dependent"),
        (L, "model is time"),
    ]
    for model, what in cases:
        with pytest.raises(TypeError, match=what + ".*takes the time dependence on H only") as err:
            qness.floquet_steady_state(model, omega=1.0)
        assert "use the limit cycle" not in str(err.value)


def test_state_properties():
    res, a, _, _ = _oscillator(nc=10, f=0.2)
    T = res.period
    for t in (0.0, 0.3 * T, 0.77 * T):
        rho = res.rho(t)
        assert abs(np.trace(rho) - 1) < 1e-12
        assert np.max(np.abs(rho - rho.conj().T)) < 1e-14
        assert np.min(np.linalg.eigvalsh(rho)) > -1e-10
        assert np.max(np.abs(res.rho(t + 3 * T) - rho)) < 1e-12
    stack = res.rho([0.0, 0.5])
    assert stack.shape == (2, 10, 10)
    assert all(abs(np.trace(res.harmonics[n])) < 1e-12 for n in res.harmonics if n != 0)
    q = res.to_qobj()
    assert q.dims == [[10], [10]] and abs(q.tr() - 1) < 1e-12
    assert isinstance(res.expect(a.dag() * a), float)
    assert "FloquetNESS" in repr(res)


def test_commutator_superoperator_column_stacking():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    rho = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    out = commutator_superoperator(V) @ rho.ravel(order="F")
    np.testing.assert_allclose(out, (-1j * (V @ rho - rho @ V)).ravel(order="F"), atol=1e-14)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"drive": qutip.sigmap(), "omega": 1.0}, ValueError, "drive is not Hermitian"),
        ({"drive": qutip.sigmax(), "omega": 0.0}, ValueError, "omega must be a positive"),
        ({"drive": qutip.sigmax(), "omega": -1.0}, ValueError, "omega must be a positive"),
        ({"drive": qutip.sigmax(), "omega": float("nan")}, ValueError, "omega must be a positive"),
        ({"drive": qutip.sigmax(), "omega": "1.0"}, TypeError, "omega must be a positive real"),
        ({"drive": qutip.qeye(3), "omega": 1.0}, ValueError, "drive has shape"),
        ({"drive": np.eye(4), "omega": 1.0}, ValueError, "drive has shape"),
        ({"drive": {0: qutip.sigmax()}, "omega": 1.0}, ValueError, "drive keys must be positive"),
        ({"drive": {"1": qutip.sigmax()}, "omega": 1.0}, TypeError, "drive keys must be positive"),
        ({"drive": {1: qutip.qeye(3)}, "omega": 1.0}, ValueError, r"drive\[1\] has shape"),
        ({"drive": [qutip.sigmax(), "exp(-t)"], "omega": 1.0}, ValueError, "not a periodic function"),
        ({"drive": [qutip.sigmax(), "cos(1.5*t)"], "omega": 1.0}, ValueError, "not a periodic function"),
        ({"drive": [qutip.sigmax(), "t*cos(t)"], "omega": 1.0}, ValueError, "not a periodic function"),
        ({"drive": [qutip.sigmax(), lambda t: np.cos(t)]}, ValueError, "omega is not given"),
        (
            {"drive": [qutip.sigmax(), np.ones(10)], "omega": 1.0},
            TypeError,
            "values in t .*not read as a periodic",
        ),
        ({"drive": [qutip.sigmap(), "cos(t)"], "omega": 1.0}, ValueError, "not Hermitian"),
        ({"drive": [qutip.sigmax(), qutip.sigmay()], "omega": 1.0}, TypeError, "drive must be an operator"),
        ({"drive": 0 * qutip.sigmax(), "omega": 1.0}, ValueError, "the drive is zero"),
        ({"drive": None, "omega": 1.0}, ValueError, "drive is None"),
        ({"drive": qutip.sigmax(), "omega": 1.0, "harmonics": 0}, ValueError, "harmonics must be >= 1"),
        ({"drive": qutip.sigmax(), "omega": 1.0, "harmonics": 2.5}, TypeError, "harmonics must be"),
        ({"drive": qutip.sigmax(), "omega": 1.0, "method": "gmres"}, ValueError, "method must be"),
        ({"drive": qutip.sigmax(), "omega": 1.0, "max_harmonics": 0}, ValueError, "max_harmonics must be"),
    ],
)
def test_bad_input(kwargs, exc, match):
    H0, c = _qubit()
    with pytest.raises(exc, match=match):
        qness.floquet_steady_state((H0, c), **kwargs)


def test_drive_dims_mismatch():
    H0 = qutip.tensor(qutip.sigmaz(), qutip.qeye(3))
    c = [qutip.tensor(qutip.sigmam(), qutip.qeye(3))]
    wrong = qutip.tensor(qutip.qeye(3), qutip.sigmax())  # 6 x 6, factors swapped
    with pytest.raises(ValueError, match="drive has dims"):
        qness.floquet_steady_state((H0, c), wrong, 1.0)


def test_expect_checks_qobj_dims_as_ness_expect():
    # review 14b: FloquetNESS.expect took an operator on swapped factors silently
    a = qutip.tensor(qutip.qeye(2), qutip.destroy(3))
    sm = qutip.tensor(qutip.sigmam(), qutip.qeye(3))
    H0 = a.dag() * a + 0.8 * sm.dag() * sm + 0.3 * (a.dag() * sm + a * sm.dag())
    fl = qness.floquet_steady_state((H0, [0.7 * a, 0.4 * sm]), 0.3 * (a + a.dag()), 1.1)
    with pytest.raises(ValueError, match=r"op has dims \[\[3, 2\], \[3, 2\]\], the state has dims .*differ"):
        fl.expect(qutip.tensor(qutip.num(3), qutip.qeye(2)), 0.3)
    n = fl.expect(a.dag() * a, 0.3)
    assert n == pytest.approx(np.trace((a.dag() * a).full() @ fl.rho(0.3)).real, abs=1e-14)
    assert fl.expect(qutip.Qobj((a.dag() * a).full()), 0.3) == pytest.approx(n, abs=1e-14)  # one flat space
    # a list of operators, as NESS.expect and qutip.expect take (session 15: refused before)
    ts = np.array([0.0, 0.3, 1.7])
    vals = fl.expect([a.dag() * a, sm.dag() * sm], ts)
    assert vals.shape == (2, 3) and vals.dtype == float
    np.testing.assert_allclose(vals[0], fl.expect(a.dag() * a, ts), atol=1e-14)
    np.testing.assert_allclose(vals[1], fl.expect(sm.dag() * sm, ts), atol=1e-14)
    both = fl.expect([a, a.dag() * a])
    assert both.shape == (2,) and both.dtype == complex
    assert both[0] == pytest.approx(fl.expect(a), abs=1e-14)
    assert both[1].real == pytest.approx(fl.expect(a.dag() * a), abs=1e-14)
    assert fl.expect(qutip.QobjEvo(a.dag() * a), 0.3) == pytest.approx(n, abs=1e-14)
    with pytest.raises(TypeError, match="time-dependent qutip.QobjEvo"):
        fl.expect(qutip.QobjEvo([a.dag() * a, lambda t: np.cos(t)]), 0.3)
    with pytest.raises(ValueError, match=r"op\[1\]: op has shape \(3, 3\)"):  # the entry is named
        fl.expect([a, qutip.destroy(3)], 0.3)


# ---------------------------------------------------------------- the Krylov route
def test_krylov_matches_direct_and_exact_oscillator():
    res, a, A, B = _oscillator(nc=12, f=0.2, method="krylov")
    assert res.info["method"] == "krylov" and res.info["iterations"] > 1
    ts = np.array([0.0, 1.3, 5.1])
    alpha = A * np.exp(-1j * WD * ts) + B * np.exp(1j * WD * ts)
    assert np.max(np.abs(res.expect(a, ts) - alpha)) < 1e-9
    direct, *_ = _oscillator(nc=12, f=0.2, method="direct", harmonics=res.info["harmonics"])
    assert np.max(np.abs(direct.average - res.average)) < 1e-10


def test_krylov_two_qubit_with_static_part_from_list_format():
    sx, sz, I2 = qutip.sigmax(), qutip.sigmaz(), qutip.qeye(2)
    H0 = 0.5 * qutip.tensor(sz, I2) + 0.6 * qutip.tensor(I2, sz) + 0.3 * qutip.tensor(sx, sx)
    c = [qutip.tensor(qutip.sigmam(), I2), 0.7 * qutip.tensor(I2, qutip.sigmam())]
    H = [H0, [qutip.tensor(sx, I2), "0.2 + cos(1.2*t)"]]  # a static shift inside the coefficient
    kr = qness.floquet_steady_state((H, c), method=qness.Krylov(rtol=1e-12))
    di = qness.floquet_steady_state((H, c), method="direct")
    assert np.max(np.abs(kr.average - di.average)) < 1e-10
    assert kr.time_residual < 1e-9


def test_krylov_refuses_liouvillian_only_model():
    L = qutip.liouvillian(0.5 * qutip.sigmaz(), [qutip.sigmam()])
    with pytest.raises(ValueError, match="Sylvester preconditioner"):
        qness.floquet_steady_state(L, qutip.sigmax(), 1.0, method="krylov")
    res = qness.floquet_steady_state(L, qutip.sigmax(), 1.0)  # direct works on a bare Liouvillian
    ref = qness.floquet_steady_state((0.5 * qutip.sigmaz(), [qutip.sigmam()]), qutip.sigmax(), 1.0)
    assert np.max(np.abs(res.average - ref.average)) < 1e-13
    # above the LU's default size too (the default took Krylov there, and raised: session 13)
    a = qutip.destroy(12)
    H, c = a.dag() * a, [0.6 * a]
    big = qness.floquet_steady_state(qutip.liouvillian(H, c), 0.2 * (a + a.dag()), 0.8)
    ref = qness.floquet_steady_state((H, c), 0.2 * (a + a.dag()), 0.8)
    assert ref.info["backend"] == "gmres+sylvester" and big.info["backend"] != "gmres+sylvester"
    assert np.max(np.abs(big.average - ref.average)) < 1e-10


# ---------------------------------------------------------------- Floquet spectrum and gap
def test_floquet_gap_of_driven_oscillator_is_kappa_over_two():
    # A linear drive only displaces the oscillator: the Floquet exponents are those of L_0,
    # -kappa (p + q)/2 - i w0 (p - q), folded into the first Brillouin zone; the gap is kappa/2.
    a = qutip.destroy(8)
    s = qness.floquet_spectrum((a.dag() * a, [math.sqrt(0.4) * a]), 0.1 * (a + a.dag()), 0.7)
    assert abs(s.exponents[0]) < 1e-10 and s.info["unit_defect"] < 1e-10
    assert abs(s.gap - 0.2) < 1e-10
    folded = (1.0 + 0.35) % 0.7 - 0.35  # w0 into (-omega/2, omega/2]
    assert abs(abs(s.exponents[1].imag) - abs(folded)) < 1e-10


def test_floquet_multipliers_match_qutip_propagator_and_fix_the_limit_cycle():
    H0, c = 0.5 * qutip.sigmaz(), [qutip.sigmam()]
    wd = 1.3
    s = qness.floquet_spectrum((H0, c), 0.8 * qutip.sigmax(), wd)
    U = qutip.propagator(
        [H0, [0.8 * qutip.sigmax(), lambda t: np.cos(wd * t)]],
        2 * np.pi / wd,
        c,
        options={"atol": 1e-13, "rtol": 1e-12},
    ).full()
    mu = np.linalg.eigvals(U)
    np.testing.assert_allclose(np.sort_complex(s.multipliers), np.sort_complex(mu), atol=1e-9)
    assert s.gap > 0
    # the limit cycle is the fixed point of the one-period propagator
    r = qness.floquet_steady_state((H0, c), 0.8 * qutip.sigmax(), wd)
    for t0 in (0.0,):
        v = r.rho(t0).ravel(order="F")
        assert np.max(np.abs(U @ v - v)) < 1e-9


def test_floquet_spectrum_refuses_large_spaces_densely():
    a = qutip.destroy(40)
    with pytest.raises(ValueError, match="dense one-period propagator"):
        qness.floquet_spectrum((a.dag() * a, [a]), a + a.dag(), 1.0, method="dense")


def _ising(n, J=0.5, h=0.2, gamma=0.3):
    def op(o, i):
        ops = [qutip.qeye(2)] * n
        ops[i] = o
        return qutip.tensor(ops)

    H0 = sum(0.5 * op(qutip.sigmaz(), i) for i in range(n))
    H0 += sum(J * op(qutip.sigmaz(), i) * op(qutip.sigmaz(), i + 1) for i in range(n - 1))
    drive = sum(h * op(qutip.sigmax(), i) for i in range(n))
    return (H0, [math.sqrt(gamma) * op(qutip.sigmam(), i) for i in range(n)]), drive


def _match(found, ref, atol):
    """Every exponent of ``found`` is within ``atol`` of a distinct one of ``ref``."""
    ref = list(ref)
    for lam in found:
        j = int(np.argmin(np.abs(np.asarray(ref) - lam)))
        assert abs(ref[j] - lam) < atol, (lam, ref[j])
        ref.pop(j)


def test_floquet_gap_arnoldi_matches_dense_on_a_driven_ising_chain():
    model, drive = _ising(3)
    dense = qness.floquet_spectrum(model, drive, 1.7)
    arn = qness.floquet_spectrum(model, drive, 1.7, method="arnoldi", k=4, rtol=1e-10, atol=1e-10)
    assert arn.certified and arn.info["certificate"]["method"] == "certified"
    assert arn.exponents[0] == 0 and arn.multipliers[0] == 1
    assert len(arn.exponents) >= 4
    # the rightmost exponents of the dense propagator, in the first Brillouin zone
    _match(arn.exponents, dense.exponents[: len(arn.exponents) + 2], 1e-9)
    assert abs(arn.gap - dense.gap) < 1e-9
    assert np.all(np.abs(arn.exponents.imag) <= 1.7 / 2 + 1e-12)
    assert max(arn.info["residuals"]) <= 1e-7
    assert arn.info["trace_defect"] < 1e-9
    # the dense route with k returns the same k rightmost
    top = qness.floquet_spectrum(model, drive, 1.7, k=5)
    np.testing.assert_array_equal(top.exponents, dense.exponents[:5])


def test_floquet_gap_arnoldi_of_driven_oscillator_is_kappa_over_two():
    # Arnoldi on the one-period map: the exponents are those of L_0, -kappa (p + q)/2 - i w0 (p - q),
    # folded into (-omega/2, omega/2]: the gap kappa/2 with Im = +-(w0 folded), then -kappa
    a = qutip.destroy(12)
    wd = 0.7

    def fold(w):
        return (w + wd / 2) % wd - wd / 2

    s = qness.floquet_spectrum(
        (a.dag() * a, [math.sqrt(0.4) * a]), 0.1 * (a + a.dag()), wd, k=3, method="arnoldi"
    )
    assert s.info["method"] == "arnoldi" and s.certified
    exact = [-0.2 * (p + q) + 1j * fold(-(p - q)) for p in range(3) for q in range(3)]
    _match(s.exponents, exact, 1e-8)
    assert len(s.exponents) == 3
    assert abs(s.gap - 0.2) < 1e-9


def test_floquet_spectrum_auto_takes_arnoldi_above_d32():
    a = qutip.destroy(33)
    with pytest.warns(qness.SpectrumWarning, match="not certified"):  # a budget of one period
        s = qness.floquet_spectrum((a.dag() * a, [a]), 0.1 * (a + a.dag()), 1.0, k=2, max_periods=1)
    assert s.info["method"] == "arnoldi" and not s.certified
    assert s.exponents.tolist() == [0] and math.isnan(s.gap)  # the budget stopped ARPACK: nothing found


def test_floquet_gap_arnoldi_warns_when_not_certified():
    model, drive = _ising(3)
    with pytest.warns(qness.SpectrumWarning, match="not certified"):
        s = qness.floquet_spectrum(model, drive, 1.7, method="arnoldi", k=4, max_periods=6)
    assert not s.certified


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"method": "eig"}, ValueError, "method must be"),
        ({"k": 1}, ValueError, "k must be >= 2"),
        ({"k": 2.5}, TypeError, "k must be an int"),
        ({"max_periods": 0}, ValueError, "max_periods must be >= 1"),
        ({"max_periods": 1.5}, TypeError, "max_periods must be a positive int"),
        ({"tol": 2.0}, ValueError, "tol must be a number"),
    ],
)
def test_floquet_spectrum_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        qness.floquet_spectrum((0.5 * qutip.sigmaz(), [qutip.sigmam()]), qutip.sigmax(), 1.0, **kwargs)


# ---------------------------------------------------------------- thermodynamics
def test_energy_balance_of_driven_oscillator_is_exact():
    # With the coherent limit cycle alpha(t):
    # Tr[H(t) D(rho)] = -kappa w0 |alpha|^2 - F cos(wd t) kappa Re(alpha)
    # and Tr[dH/dt rho] = -F wd sin(wd t) 2 Re(alpha); period averages by the exact trapezoid rule.
    a = qutip.destroy(NC)
    m = qness.from_qutip(W0 * a.dag() * a, [a], rates=[KAPPA], bath_labels=["cold"])
    # the sparse LU's cycle (exact to rounding; the default, Krylov above d = 8, to its rtol = 1e-12:
    # its first law holds to 7e-14)
    r = qness.floquet_steady_state(m, F * (a + a.dag()), WD, method="direct")
    default = qness.floquet_steady_state(m, F * (a + a.dag()), WD)
    assert default.info["backend"] == "gmres+sylvester"
    # kappa = 0.4 w0 and a drive off resonance without RWA: the local jump a is outside its validity
    with pytest.warns(qness.LocalMasterEquationWarning, match="local master equation outside its validity"):
        eb = r.energy_balance()
        assert abs(default.energy_balance()["first_law"]) < 1e-12
    A = -(0.5j * F) / (KAPPA / 2 + 1j * (W0 - WD))
    B = -(0.5j * F) / (KAPPA / 2 + 1j * (W0 + WD))
    ts = np.arange(64) * 2 * np.pi / WD / 64
    al = A * np.exp(-1j * WD * ts) + B * np.exp(1j * WD * ts)
    J = np.mean(-KAPPA * W0 * abs(al) ** 2 - F * np.cos(WD * ts) * KAPPA * al.real)
    P = np.mean(-F * WD * np.sin(WD * ts) * 2 * al.real)
    assert set(eb["heat"]) == {"cold"}
    assert abs(eb["heat"]["cold"] - J) < 1e-12 and abs(eb["power"] - P) < 1e-12
    assert P > 0 and abs(eb["first_law"]) < 1e-14
    # the validity measure in closed form: [H(t), a] = -w0 a - F cos(wd t), coherent state alpha(t):
    # <Tr(a rho a^+)> = <|alpha|^2>, <Re Tr([H,a] rho a^+)> = <-w0 |alpha|^2 - F cos Re alpha>,
    # <Tr([H,a] rho [H,a]^+)> = <w0^2 |alpha|^2 + 2 w0 F cos Re alpha + F^2 cos^2>
    c = np.cos(WD * ts)
    w = np.mean(abs(al) ** 2)
    freq = -np.mean(-W0 * abs(al) ** 2 - F * c * al.real) / w
    spread = math.sqrt(np.mean(W0**2 * abs(al) ** 2 + 2 * W0 * F * c * al.real + F**2 * c**2) / w - freq**2)
    (jump,) = eb["local_me"]["jumps"]
    assert abs(jump["frequency"] - freq) < 1e-10 and abs(jump["spread"] - spread) < 1e-10
    assert jump["resolution"] == jump["frequency"]  # no temperature: the transition frequency itself
    assert eb["local_me"]["valid"] is False and eb["local_me"]["worst"] == jump["ratio"] > 0.1
    # with a generous tolerance there is no warning
    assert r.energy_balance(local_tol=1.0)["local_me"]["valid"]


def test_local_master_equation_validity_follows_coupling_and_drive():
    # Hofer et al. (2017): local jumps of two coupled qubits are right while the coupling g is small
    # against the bath's resolution min(omega, T); a weak resonant drive and weak damping keep them right
    sm, sz, sx, I2 = qutip.sigmam(), qutip.sigmaz(), qutip.sigmax(), qutip.qeye(2)
    s1, s2 = qutip.tensor(sm, I2), qutip.tensor(I2, sm)

    def balance(g, amp, **kw):
        H0 = 0.5 * qutip.tensor(sz, I2) + 0.5 * qutip.tensor(I2, sz) + g * (s1.dag() * s2 + s2.dag() * s1)
        jumps = [s1, s1.dag(), s2, s2.dag()]
        rates = [2e-3, 1e-3, 2e-3, 1e-4]
        m = qness.from_qutip(
            H0, jumps, rates=rates, bath_labels=["h", "h", "c", "c"], baths={"h": 2.0, "c": 0.5}
        )
        return qness.floquet_steady_state(m, amp * qutip.tensor(sx, I2), 1.0).energy_balance(**kw)

    ok = balance(1e-3, 1e-3)
    assert ok["local_me"]["valid"] and ok["local_me"]["worst"] < 0.02
    assert abs(ok["first_law"]) < 1e-14
    with pytest.warns(qness.LocalMasterEquationWarning):
        strong = balance(0.3, 1e-3)  # coupling comparable to the transition frequency
    assert strong["local_me"]["worst"] > 0.1
    with pytest.warns(qness.LocalMasterEquationWarning):
        driven = balance(1e-3, 0.3)  # drive amplitude comparable to the transition frequency
    assert driven["local_me"]["worst"] > 0.1
    with pytest.raises(ValueError, match="local_tol must be a positive number"):
        balance(1e-3, 1e-3, local_tol=0)


def test_energy_balance_two_bath_machine_time_domain():
    sm, sz, sx, I2 = qutip.sigmam(), qutip.sigmaz(), qutip.sigmax(), qutip.qeye(2)
    s1, s2 = qutip.tensor(sm, I2), qutip.tensor(I2, sm)
    H0 = 0.5 * qutip.tensor(sz, I2) + 0.8 * qutip.tensor(I2, sz) + 0.2 * (s1.dag() * s2 + s2.dag() * s1)
    m = qness.from_qutip(
        H0, [s1, s1.dag(), s2, s2.dag()], rates=[0.3, 0.2, 0.25, 0.01], bath_labels=["h", "h", "c", "c"]
    )
    V = 0.3 * qutip.tensor(sx, sx)
    wd = 1.1
    r = qness.floquet_steady_state(m, V, wd)
    with pytest.warns(qness.LocalMasterEquationWarning):  # a strong drive (0.3) on transitions at 1.3-1.6
        eb = r.energy_balance()
    assert abs(eb["first_law"]) < 1e-12
    # independently: trapezoid average over one period of Tr[H(t) D_b(rho(t))] (exact for trig polynomials)
    from qness.analysis.thermo import _groups, dissipator

    M = 4 * r.nharmonics + 4
    ts = np.arange(M) * r.period / M
    Hd, Vd = H0.full(), V.full()
    for bath, jumps in _groups(m).items():
        vals = [np.trace((Hd + np.cos(wd * t) * Vd) @ dissipator(jumps, r.rho(t))).real for t in ts]
        assert abs(np.mean(vals) - eb["heat"][bath]) < 1e-12
    P = np.mean([np.trace(-wd * np.sin(wd * t) * Vd @ r.rho(t)).real for t in ts])
    assert abs(P - eb["power"]) < 1e-12


def test_default_method_switches_to_krylov_above_d32_and_stays_exact():
    res, a, A, B = _oscillator(nc=40)
    assert res.info["method"] == "krylov" and res.info["converged"]
    ts = np.array([0.0, 2.2, 9.7])
    alpha = A * np.exp(-1j * WD * ts) + B * np.exp(1j * WD * ts)
    assert np.max(np.abs(res.expect(a, ts) - alpha)) < 1e-9
    assert abs(res.expect(a.dag() * a) - (abs(A) ** 2 + abs(B) ** 2)) < 1e-9


def test_max_harmonics_caps_the_automatic_truncation():
    with pytest.warns(qness.TruncationWarning):
        res, *_ = _oscillator(nc=10, max_harmonics=3)
    assert res.info["tried"] == [3] and res.info["converged"] is False


# ---------------------------------------------------------------- symmetry sectors
def _u1_chain(n=3):
    def op(o, i):
        factors = [qutip.qeye(2)] * n
        factors[i] = o
        return qutip.tensor(factors)

    sm, sz = qutip.sigmam(), qutip.sigmaz()
    hop = sum(op(sm, i).dag() * op(sm, i + 1) + op(sm, i + 1).dag() * op(sm, i) for i in range(n - 1))
    H0 = sum(0.5 * (1 + 0.2 * i) * op(sz, i) for i in range(n)) + 0.3 * hop
    c = [0.5 * op(sm, 0), 0.4 * op(sm, n - 1).dag()]
    return H0, c, hop, op


@pytest.mark.parametrize("method", ["direct", "krylov"])
def test_sector_kept_by_drive_equals_full_space(method):
    # time-modulated hopping conserves the excitation number: the limit cycle lives in q = 0
    H0, c, hop, _ = _u1_chain()
    sec = qness.floquet_steady_state((H0, c), 0.4 * hop, 1.3, method=method)
    full = qness.floquet_steady_state((H0, c), 0.4 * hop, 1.3, method=method, symmetry=None)
    assert sec.info["sector"]["kind"] == "u1" and sec.info["sector"]["size"] == 20
    assert full.info["sector"]["size"] == 64
    assert sec.info["unknowns"] < full.info["unknowns"]
    assert np.max(np.abs(sec.average - full.average)) < 1e-10
    for n in (1, 2):
        assert np.max(np.abs(sec.harmonics[n] - full.harmonics[n])) < 1e-10
    assert sec.time_residual < 1e-10


def test_sector_broken_by_drive():
    H0, c, _, op = _u1_chain()
    drive = 0.4 * op(qutip.sigmax(), 0)
    res = qness.floquet_steady_state((H0, c), drive, 1.3)  # auto: falls back to the full space
    assert res.info["sector"]["kind"] == "full" and "breaks" in res.info["sector"]["note"]
    charges = np.array([bin(7 - i).count("1") for i in range(8)])  # excitations (|0> is up)
    sym = qness.U1Symmetry(charges=charges, jump_charges=(-1, 1))
    with pytest.raises(ValueError, match="does not conserve"):
        qness.floquet_steady_state((H0, c), drive, 1.3, symmetry=sym)


# ---------------------------------------------------------------- uniqueness of the limit cycle
def _dark_singlet():
    # collective decay and a symmetric drive never touch the singlet: it is a second limit cycle
    sm, eye = qutip.sigmam(), qutip.qeye(2)
    S = qutip.tensor(sm, eye) + qutip.tensor(eye, sm)
    H0 = 0.5 * (qutip.tensor(qutip.sigmaz(), eye) + qutip.tensor(eye, qutip.sigmaz()))
    V = 0.4 * (qutip.tensor(qutip.sigmax(), eye) + qutip.tensor(eye, qutip.sigmax()))
    return (H0, [math.sqrt(0.5) * S]), V


def _conserved_spectator():
    # a damped driven qubit next to an undamped, undriven one: sz of the second is conserved
    eye = qutip.qeye(2)
    H0 = 0.5 * qutip.tensor(qutip.sigmaz(), eye) + 0.8 * qutip.tensor(eye, qutip.sigmaz())
    V = 0.3 * qutip.tensor(qutip.sigmax(), eye)
    return (H0, [math.sqrt(0.4) * qutip.tensor(qutip.sigmam(), eye)]), V


@pytest.mark.parametrize("method", ["direct", "krylov"])
@pytest.mark.parametrize("make", [_dark_singlet, _conserved_spectator], ids=["dark-singlet", "spectator"])
def test_non_unique_limit_cycle_raises_on_every_route(make, method):
    model, V = make()
    with pytest.raises(qness.NonUniqueSteadyStateError, match="limit cycle is not unique"):
        qness.floquet_steady_state(model, V, 1.3, method=method, symmetry=None)


@pytest.mark.parametrize("method", ["direct", "krylov"])
def test_unique_limit_cycle_passes_the_rank_check(method):
    # the dark-singlet pair with the symmetry broken (unequal drives): unique again
    sm, eye = qutip.sigmam(), qutip.qeye(2)
    S = qutip.tensor(sm, eye) + qutip.tensor(eye, sm)
    H0 = 0.5 * (qutip.tensor(qutip.sigmaz(), eye) + qutip.tensor(eye, qutip.sigmaz()))
    V = 0.4 * qutip.tensor(qutip.sigmax(), eye) + 0.25 * qutip.tensor(eye, qutip.sigmax())
    r = qness.floquet_steady_state((H0, [math.sqrt(0.5) * S]), V, 1.3, method=method)
    u = r.info["uniqueness"]
    assert u["sigma"] > u["threshold"]
    assert r.time_residual < 1e-8


def test_arnoldi_refuses_more_exponents_than_it_can_give():
    # k = d**2 on a qubit: 2 exponents came back for 4, certified, silently (session 17)
    H0, V = 0.5 * qutip.sigmaz(), 0.8 * qutip.sigmax()
    c = [np.sqrt(0.1) * qutip.sigmam()]
    with pytest.raises(ValueError, match=r"k = 4: method='arnoldi' gives at most d\*\*2 - 2 = 2"):
        qness.floquet_spectrum((H0, c), V, 1.3, k=4, method="arnoldi")
    assert len(qness.floquet_spectrum((H0, c), V, 1.3, k=4, method="dense").exponents) == 4


def test_many_harmonics_are_named_and_the_dict_drive_is_offered():
    """A square wave is periodic with the right omega; it was refused as 'not a periodic function ...
    give the right omega'. It is now named as having too many harmonics, with the {m: V_m} remedy,
    which does solve a truncated series (session-18 review)."""
    H0, c = 0.5 * qutip.sigmaz(), [np.sqrt(0.3) * qutip.sigmam()]
    with pytest.raises(ValueError, match="is periodic with period .* but not a sum of at most 16 harmonics"):
        qness.floquet_steady_state((H0, c), [0.4 * qutip.sigmax(), lambda t: np.sign(np.cos(t))], 1.0)
    with pytest.raises(ValueError, match=r"needs more than 16 harmonics .*\{m: V_m\}"):
        qness.floquet_steady_state((H0, c), [0.4 * qutip.sigmax(), lambda t: 1 / (1.5 + np.cos(t))], 1.0)
    # the square wave's first harmonics (4/pi) sum_odd (-1)^((m-1)/2) cos(m t) / m, as a dict
    drive = {m: 0.4 * (4 / np.pi) * (-1) ** ((m - 1) // 2) / m / 2 * qutip.sigmax() for m in (1, 3, 5)}
    r = qness.floquet_steady_state((H0, c), drive, 1.0)
    assert r.residual < 1e-8


def test_non_hermitian_drive_refused_in_any_unit():
    """A drive 10 % non-Hermitian in units of 1e-12 passed the Hermiticity check (floored at 1 in
    absolute units); the check is relative to the harmonic's own size."""
    H0, c = 0.5e-12 * qutip.sigmaz(), [np.sqrt(0.3e-12) * qutip.sigmam()]
    bad = [1e-12 * (qutip.sigmap() + 0.9 * qutip.sigmam()), "cos(t)"]
    with pytest.raises(ValueError, match="is not Hermitian"):
        qness.floquet_steady_state((H0, c), bad, 1.0)
    good = [1e-12 * qutip.sigmax(), "cos(t)"]
    assert qness.floquet_steady_state((H0, c), good, 1.0).residual < 1e-10
