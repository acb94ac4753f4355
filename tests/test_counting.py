"""Full counting statistics: exact results, QuTiP, dense oracles, fluctuation theorem, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

import qness
from qness.analysis import counting
from qness.analysis.counting import (
    FluctuationTheoremWarning,
    cumulants,
    entropy_weights,
    gallavotti_cohen,
    noise_spectrum,
    scgf,
)


# ---------------------------------------------------------------- reference systems
def resonant_level(GL, GR):
    """Level filled at rate G_L (jump 0, from the left lead), emptied at G_R (jump 1, into the right)."""
    return qness.from_qutip(
        0 * qutip.sigmaz(), [math.sqrt(GL) * qutip.sigmap(), math.sqrt(GR) * qutip.sigmam()]
    )


def double_dot(GL=1.0, GR=0.6, Tc=0.8, eps=0.3, back=0.0):
    """States |0>, |L>, |R>: the left lead fills L, the right lead empties R (and refills at ``back``)."""
    e0, eL, eR = (qutip.basis(3, i) for i in range(3))
    H = 0.5 * eps * (eL * eL.dag() - eR * eR.dag()) + Tc * (eL * eR.dag() + eR * eL.dag())
    c_ops = [math.sqrt(GL) * eL * e0.dag(), math.sqrt(GR) * e0 * eR.dag()]
    if back:
        c_ops.append(math.sqrt(back) * eR * e0.dag())
    return H, c_ops


def two_level_machine(omega=1.0, Th=2.0, Tc=0.5, gh=0.3, gc=0.7):
    """A qubit between a hot and a cold bosonic bath (jumps are eigenoperators of H)."""
    b = qness.ModelBuilder((2,), name="two_level_machine").add_onsite(0.5 * omega, "sigmaz", sites=0)
    b.add_thermal_bath("hot", 0, omega=omega, gamma=gh, T=Th, lower="sigmam")
    b.add_thermal_bath("cold", 0, omega=omega, gamma=gc, T=Tc, lower="sigmam")
    return b.build()


def _classical_generator(model):
    """Dense classical generator and per-jump transition matrices from diagonal-basis jumps."""
    parts = []
    for j in model.jumps:
        A = j.rate * np.abs(j.op.toarray()) ** 2  # A[b, a]: rate of a -> b
        parts.append(A)
    W = sum(parts) - np.diag(sum(parts).sum(axis=0))
    return W, parts


def _dense_cumulants(W, parts, weights, order):
    """RS recursion on the classical n x n generator with the dense group inverse (an independent oracle)."""
    n = W.shape[0]
    vals, vecs = np.linalg.eig(W)
    p = np.real(vecs[:, np.argmax(vals.real)])
    p /= p.sum()
    P = np.outer(p, np.ones(n))
    WD = np.linalg.inv(W + P) - P
    V = [None] + [
        sum(w**m * parts[k] for k, w in weights.items()) / math.factorial(m) for m in range(1, order + 1)
    ]
    th = [0.0] * (order + 1)
    rhos = [p]
    for k in range(1, order + 1):
        th[k] = sum(np.sum(V[m] @ rhos[k - m]) for m in range(1, k + 1))
        rhs = sum(V[m] @ rhos[k - m] - th[m] * rhos[k - m] for m in range(1, k + 1))
        rhos.append(-WD @ rhs)
    return np.array([math.factorial(k) * th[k] for k in range(1, order + 1)])


# ---------------------------------------------------------------- exact values
@pytest.mark.parametrize(("GL", "GR"), [(1.0, 2.0), (0.37, 1.3), (2.5, 0.4)])
def test_resonant_level_exact(GL, GR):
    c = cumulants(resonant_level(GL, GR), counted={1: 1}, order=3)
    G = GL + GR
    assert abs(c.cumulants[0] - GL * GR / G) < 1e-10
    assert abs(c.fano - (GL**2 + GR**2) / G**2) < 1e-10
    c3 = (GR**4 - 2 * GR**3 * GL + 6 * GR**2 * GL**2 - 2 * GR * GL**3 + GL**4) / G**4
    assert abs(c.cumulants[2] / c.cumulants[0] - c3) < 1e-10
    # counting the in-jumps gives the same statistics (one electron in, one out)
    c_in = cumulants(resonant_level(GL, GR), counted="c_ops[0]", order=3)
    assert np.allclose(c_in.cumulants, c.cumulants, rtol=0, atol=1e-12)


def test_resonant_level_high_orders_against_series():
    import sympy

    GL, GR = sympy.Rational(3, 7), sympy.Rational(5, 4)
    s = sympy.symbols("s")
    G = GL + GR
    theta = -G / 2 + sympy.sqrt(G**2 / 4 + GL * GR * (sympy.exp(s) - 1))
    series = sympy.series(theta, s, 0, 7).removeO()
    exact = [float(series.coeff(s, n) * sympy.factorial(n)) for n in range(1, 7)]
    c = cumulants(resonant_level(float(GL), float(GR)), counted={1: 1.0}, order=6)
    assert np.allclose(c.cumulants, exact, rtol=1e-10, atol=1e-12)


def test_weighted_count_scales_cumulants():
    m = resonant_level(0.8, 1.7)
    c1 = cumulants(m, counted={1: 1}, order=4).cumulants
    c2 = cumulants(m, counted={1: -2.5}, order=4).cumulants
    assert np.allclose(c2, c1 * (-2.5) ** np.arange(1, 5), rtol=1e-12)


# ---------------------------------------------------------------- QuTiP
@pytest.mark.parametrize("back", [0.0, 0.25])
def test_double_dot_against_qutip(back):
    H, c_ops = double_dot(back=back)
    model = qness.from_qutip(H, c_ops)
    L = qutip.liouvillian(H, c_ops)
    wlist = [0.0, 0.4, 1.7]
    if back:
        # net current into the right lead: out-jump +1, back-jump -1
        I_ops = [qutip.sprepost(c_ops[1], c_ops[1].dag()) - qutip.sprepost(c_ops[2], c_ops[2].dag())]
        J_ops = [qutip.sprepost(c_ops[1], c_ops[1].dag()) + qutip.sprepost(c_ops[2], c_ops[2].dag())]
        cur, noise, skew = qutip.countstat_current_noise(
            L, [], wlist=wlist, rhoss=qutip.steadystate(L), J_ops=J_ops, I_ops=I_ops
        )
        counted = {1: 1, 2: -1}
    else:
        # rhoss given: countstat_current_noise(L, c_ops) would add c_ops to the superoperator L again
        cur, noise, skew = qutip.countstat_current_noise(
            L, [c_ops[1]], wlist=wlist, rhoss=qutip.steadystate(L)
        )
        counted = {1: 1}
    c = cumulants(model, counted=counted, order=3)
    assert abs(c.cumulants[0] - cur[0]) < 1e-10
    assert abs(c.cumulants[1] - noise[0, 0, 0]) < 1e-10
    assert abs(c.cumulants[2] - skew[0, 0]) < 1e-10
    S = noise_spectrum(model, counted, wlist)
    assert np.allclose(S, noise[0, 0, :], rtol=0, atol=1e-10)


# ---------------------------------------------------------------- noise spectrum
def test_noise_spectrum_resonant_level_lorentzian():
    GL, GR = 0.9, 2.3
    G = GL + GR
    I = GL * GR / G
    om = np.array([-4.0, -0.3, 0.0, 0.3, 1.0, 12.0])
    S = noise_spectrum(resonant_level(GL, GR), {1: 1}, om)
    # S(w) = I (1 - 2 G_L G_R / (G^2 + w^2)): derived in noise_spectrum's Notes
    assert np.allclose(S, I * (1 - 2 * GL * GR / (G**2 + om**2)), rtol=0, atol=1e-12)


def test_noise_spectrum_routes_agree_on_a_frequency_grid():
    # 61 frequencies: Auto reduces the small sector once (Schur form), as the LU per frequency
    H, c_ops = double_dot(back=0.2)
    model = qness.from_qutip(H, c_ops)
    om = np.linspace(-5.0, 5.0, 61)
    auto = noise_spectrum(model, {1: 1, 2: -1}, om)
    for method in ("schur", "direct", "krylov"):
        other = noise_spectrum(model, {1: 1, 2: -1}, om, method=method)
        assert np.allclose(other, auto, rtol=0, atol=1e-11 * np.abs(auto).max()), method
    chain = qness.models.boundary_driven_xxz(3, delta=0.5, mu=0.5)
    counted = {"out_2": 1, "in_2": -1}
    a = noise_spectrum(chain, counted, om, method="schur")
    b = noise_spectrum(chain, counted, om, method="direct")
    assert np.allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


def test_noise_spectrum_zero_frequency_limit_is_c2():
    H, c_ops = double_dot(back=0.2)
    model = qness.from_qutip(H, c_ops)
    c2 = cumulants(model, counted={1: 1, 2: -1}, order=2).cumulants[1]
    S = noise_spectrum(model, {1: 1, 2: -1}, [0.0, 1e-5])
    assert abs(S[0] - c2) < 1e-12
    assert abs(S[1] - c2) < 1e-8  # S is even and smooth: S(w) - S(0) = O(w^2)


# ---------------------------------------------------------------- SCGF
def test_scgf_resonant_level_closed_form():
    GL, GR = 0.6, 1.4
    G = GL + GR
    res = scgf(resonant_level(GL, GR), {1: 1}, np.linspace(-2, 2, 9))
    exact = -G / 2 + np.sqrt(G**2 / 4 + GL * GR * np.expm1(res.s))
    assert np.allclose(res.theta, exact, rtol=0, atol=1e-12)
    assert res.info["certified"].all()
    # the Legendre transform is non-negative and vanishes at the mean current
    assert np.all(res.rate >= -1e-12)


def test_scgf_slope_at_zero_is_current():
    H, c_ops = double_dot(back=0.3)
    model = qness.from_qutip(H, c_ops)
    h = 1e-3
    res = scgf(model, {1: 1, 2: -1}, [-h, 0.0, h])
    c = cumulants(model, counted={1: 1, 2: -1}, order=3).cumulants
    assert abs(res.theta[1]) < 1e-13
    # central difference: theta'(0) + h^2 C3 / 6 + O(h^4)
    slope = (res.theta[2] - res.theta[0]) / (2 * h)
    assert abs(slope - c[0]) < abs(c[2]) * h**2 / 6 * 1.01 + 1e-9
    assert abs(res.current[1] - c[0]) < 1e-6


def test_scgf_sparse_route_matches_dense(monkeypatch):
    model = qness.models.boundary_driven_xxz(3, delta=0.5, mu=0.7)
    counted = {"sigma+_0": 1} if "sigma+_0" in [j.label for j in model.jumps] else {0: 1}
    s = np.linspace(-0.8, 0.8, 7)
    dense = scgf(model, counted, s)
    assert dense.info["route"] == "dense"
    monkeypatch.setattr(counting, "SCGF_DENSE_MAX", 4)
    sparse = scgf(model, counted, s)
    assert sparse.info["route"] == "shift-invert"
    assert np.allclose(sparse.theta, dense.theta, rtol=0, atol=1e-10)
    assert sparse.info["certified"].all()


def test_scgf_krylov_route_matches_dense():
    # the matrix-free route (residual inverse iteration, GMRES with the shifted no-jump
    # preconditioner) forced on a sector that the dense route diagonalises
    H, c_ops = double_dot(back=0.3)
    model = qness.from_qutip(H, c_ops)
    s = np.linspace(-1.0, 1.0, 9)
    dense = scgf(model, {1: 1, 2: -1}, s, method="dense")
    kry = scgf(model, {1: 1, 2: -1}, s, method="krylov")
    assert dense.info["route"] == "dense" and kry.info["route"] == "krylov"
    assert np.allclose(kry.theta, dense.theta, rtol=0, atol=1e-10)
    assert kry.info["certified"].all() and np.all(kry.info["residual"] <= counting.SCGF_TOL)
    assert kry.info["solves"] > 0


def test_scgf_krylov_unreachable_tolerance_is_reported(monkeypatch):
    # a residual tolerance below rounding: the iteration stalls, the points are returned
    # uncertified with a warning (and still agree with the dense route at rounding level)
    H, c_ops = double_dot(back=0.3)
    model = qness.from_qutip(H, c_ops)
    s = np.array([-0.5, 0.5])
    dense = scgf(model, {1: 1, 2: -1}, s, method="dense")
    monkeypatch.setattr(counting, "SCGF_TOL", 1e-30)
    with pytest.warns(RuntimeWarning, match="not certified.*residual tolerance"):
        kry = scgf(model, {1: 1, 2: -1}, s, method="krylov")
    assert not kry.info["certified"].any()
    assert np.all(kry.info["residual"] < 1e-12)
    assert np.allclose(kry.theta, dense.theta, rtol=0, atol=1e-10)


def test_scgf_krylov_slope_at_zero_is_current():
    model = qness.models.boundary_driven_xxz(4, delta=0.5, mu=0.5)
    counted = {"out_3": 1, "in_3": -1}
    h = 1e-3
    res = scgf(model, counted, [-h, 0.0, h], method="krylov")
    c = cumulants(model, counted=counted, order=3).cumulants
    assert abs(res.theta[1]) < 1e-12
    slope = (res.theta[2] - res.theta[0]) / (2 * h)
    assert abs(slope - c[0]) < abs(c[2]) * h**2 / 6 * 1.01 + 1e-9
    # the second difference is the noise C2 (to O(h^2))
    curv = (res.theta[2] - 2 * res.theta[1] + res.theta[0]) / h**2
    assert abs(curv - c[1]) < 1e-4 * abs(c[1])


def test_scgf_medium_chain_auto_takes_krylov_and_matches_lu():
    # 6 spins: 924 unknowns in the steady sector; Auto does not factorise it (as the steady state)
    model = qness.models.boundary_driven_xxz(6, delta=0.5, mu=0.5)
    counted = {"out_5": 1, "in_5": -1}
    s = np.linspace(-0.5, 0.5, 5)
    ness = qness.steady_state(model)
    auto = scgf(model, counted, s, ness=ness)
    lu = scgf(model, counted, s, ness=ness, method="direct")
    assert auto.info["route"] == "krylov", auto.info.get("auto")
    assert lu.info["route"] == "shift-invert"
    assert np.allclose(auto.theta, lu.theta, rtol=0, atol=1e-10)
    assert auto.info["certified"].all()
    # convex, theta(0) = 0, slope at 0 near the current
    assert abs(auto.theta[2]) < 1e-12 and np.all(np.diff(auto.theta, 2) > 0)


def test_scgf_method_errors():
    m = resonant_level(1.0, 2.0)
    with pytest.raises(ValueError, match="method"):
        scgf(m, {1: 1}, [0.0], method="bogus")
    with pytest.raises(TypeError, match="method"):
        scgf(m, {1: 1}, [0.0], method=3.5)


# ---------------------------------------------------------------- fluctuation theorem
def test_gallavotti_cohen_two_level_machine():
    model = two_level_machine()
    w = entropy_weights(model)
    # sigma- into a bath delivers omega / T of entropy there, sigma+ takes it back
    assert w[0] == pytest.approx(1.0 / 2.0) and w[1] == pytest.approx(-1.0 / 2.0)
    assert w[2] == pytest.approx(1.0 / 0.5) and w[3] == pytest.approx(-1.0 / 0.5)
    gc = gallavotti_cohen(model, np.linspace(-1.5, 0.5, 9))
    assert gc.holds and gc.deviation < 1e-10
    # the entropy production is the slope at 0 and is positive
    sigma = cumulants(model, counted=w, order=1).current
    assert sigma > 0
    assert sigma == pytest.approx(
        qness.analysis.entropy_production(model, qness.steady_state(model)), abs=1e-12
    )
    # heat into the cold bath counted in energy: affinity 1/T_c - 1/T_h
    heat = {2: 1.0, 3: -1.0}
    gc2 = gallavotti_cohen(model, [-1.0, 0.3], counted=heat, affinity=1 / 0.5 - 1 / 2.0)
    assert gc2.holds


def test_gallavotti_cohen_violation_warns():
    model = two_level_machine()
    with pytest.warns(FluctuationTheoremWarning, match="fails"):
        gc = gallavotti_cohen(model, [-1.0, 0.2], counted={2: 1.0, 3: -1.0}, affinity=0.7)
    assert not gc.holds


def test_entropy_weights_local_jump_rejected():
    # a jump that is not an eigenoperator of H has no definite energy
    b = qness.ModelBuilder((2,), name="x").add_onsite(1.0, "sigmax", sites=0)
    b.add_thermal_bath("hot", 0, omega=1.0, gamma=0.3, T=1.0, lower="sigmam")
    with pytest.raises(ValueError, match="not an eigenoperator"):
        entropy_weights(b.build())


# ---------------------------------------------------------------- classical networks
def test_markov_network_against_dense():
    rng = np.random.default_rng(5)
    rates = {
        (i, j): float(rng.uniform(0.2, 2.0))
        for i in range(4)
        for j in range(4)
        if i != j and rng.random() < 0.7
    }
    model = qness.models.markov_network(rates, n_states=4)
    W, parts = _classical_generator(model)
    weights = {0: 1.0, 3: -0.5, 4: 2.0}
    c = cumulants(model, counted=weights, order=4)
    ref = _dense_cumulants(W, parts, weights, 4)
    assert np.allclose(c.cumulants, ref, rtol=1e-10, atol=1e-12)
    s = np.array([-1.0, -0.2, 0.5, 1.2])
    res = scgf(model, weights, s)
    for x, th in zip(res.s, res.theta):
        Ws = W + sum((math.exp(x * w) - 1) * parts[k] for k, w in weights.items())
        assert abs(th - np.max(np.linalg.eigvals(Ws).real)) < 1e-10


def test_tasep_current_and_noise_against_dense():
    n, alpha, beta = 4, 0.6, 0.8
    model = qness.models.tasep(n, alpha=alpha, beta=beta)
    label = f"out_{n - 1}"
    c = cumulants(model, counted={label: 1}, order=3)
    assert abs(c.cumulants[0] - qness.models.tasep_current(n, alpha=alpha, beta=beta)) < 1e-10
    W, parts = _classical_generator(model)
    k = [j.label for j in model.jumps].index(label)
    ref = _dense_cumulants(W, parts, {k: 1.0}, 3)
    assert np.allclose(c.cumulants, ref, rtol=1e-10)
    assert c.info["sector"]["kind"] == "u1"


# ---------------------------------------------------------------- bad input
def test_bad_input():
    m = resonant_level(1.0, 2.0)
    with pytest.raises(ValueError, match="unknown jump label 'nope'"):
        cumulants(m, counted={"nope": 1})
    # a bath's name: its jumps are named, with how to weight them
    mb = qness.from_qutip(
        qutip.sigmaz(), [qutip.sigmam(), 0.1 * qutip.sigmap()], baths={"h": 1.0}, bath_labels=["h", "h"]
    )
    with pytest.raises(ValueError, match=r"'h' is a bath, not a jump label; count its jumps \[0, 1\]"):
        cumulants(mb, counted="h")
    with pytest.raises(ValueError, match="order must be >= 1"):
        cumulants(m, counted={1: 1}, order=0)
    with pytest.raises(TypeError, match="order must be an int"):
        cumulants(m, counted={1: 1}, order=2.0)
    with pytest.raises(ValueError, match="not finite"):
        cumulants(m, counted={1: np.inf})
    with pytest.raises(TypeError, match="must be a real number"):
        cumulants(m, counted={1: "1"})
    with pytest.raises(ValueError, match="out of range"):
        cumulants(m, counted={5: 1})
    with pytest.raises(ValueError, match="empty"):
        cumulants(m, counted={})
    with pytest.raises(ValueError, match="named twice"):
        cumulants(m, counted={1: 1, "c_ops[1]": 1})
    with pytest.raises(ValueError, match="non-finite"):
        scgf(m, {1: 1}, [0.0, np.nan])
    with pytest.raises(ValueError, match="real"):
        scgf(m, {1: 1}, [1j])
    with pytest.raises(ValueError, match="non-finite"):
        noise_spectrum(m, {1: 1}, [np.inf])
    with pytest.raises(ValueError, match="3 x 3|2 x 2"):
        cumulants(m, ness=np.eye(3), counted={1: 1})
    with pytest.raises(TypeError, match="LindbladModel"):
        cumulants(qness.from_liouvillian(qness.liouvillian(m)), counted={0: 1})


# ---------------------------------------------------------------- many-body
def test_xxz_krylov_matches_direct():
    model = qness.models.boundary_driven_xxz(4, delta=0.5, mu=0.5)
    counted = {"out_3": 1, "in_3": -1}  # net up spins leaving at the right end
    a = cumulants(model, counted=counted, order=3, method="direct")
    b = cumulants(model, counted=counted, order=3, method="krylov")
    assert b.info["route"] == "Krylov"
    assert np.allclose(a.cumulants, b.cumulants, rtol=1e-8)
    # the mean is the spin current through every bond (continuity), computed from the state alone
    bonds = qness.analysis.bond_currents(model, qness.steady_state(model), "particle")
    assert np.allclose(a.current, bonds, rtol=0, atol=1e-10)
    S = noise_spectrum(model, counted, [0.5], method="krylov")
    Sd = noise_spectrum(model, counted, [0.5], method="direct")
    assert abs(S[0] - Sd[0]) < 1e-8 * abs(Sd[0])


@pytest.mark.slow
def test_xxz_10_spins_current_noise():
    # sector of 184,756 unknowns: Auto takes GMRES with the Sylvester preconditioner (about 0.5 GB)
    model = qness.models.boundary_driven_xxz(10, delta=0.5, mu=0.5)
    ness = qness.steady_state(model)
    c = cumulants(model, ness, counted={"out_9": 1, "in_9": -1}, order=2)
    assert c.info["route"] == "Krylov"
    assert c.info["sector"]["size"] == 184756
    bonds = qness.analysis.bond_currents(model, ness, "particle")
    assert np.allclose(c.current, bonds, rtol=1e-8)
    assert c.cumulants[1] > 0 and np.isfinite(c.fano)


# ---------------------------------------------------------------- reported faults (issue 15 review)
def _level_theta(GL, GR, s):
    """Exact theta(s), theta'(s) of the resonant level counting the out-jumps."""
    s = np.asarray(s, dtype=float)
    root = np.sqrt((GL - GR) ** 2 + 4 * GL * GR * np.exp(s))
    return (-(GL + GR) + root) / 2, GL * GR * np.exp(s) / root


def _xxz4_qutip(delta=2.0):
    """4-site XXZ chain, boundary driven (the reviewer's case; 256 unknowns without symmetry)."""
    n = 4

    def op(o, i):
        ops = [qutip.qeye(2)] * n
        ops[i] = o
        return qutip.tensor(ops)

    H = sum(
        op(qutip.sigmax(), i) * op(qutip.sigmax(), i + 1)
        + op(qutip.sigmay(), i) * op(qutip.sigmay(), i + 1)
        + delta * op(qutip.sigmaz(), i) * op(qutip.sigmaz(), i + 1)
        for i in range(n - 1)
    )
    c = [
        math.sqrt(0.8) * op(qutip.sigmap(), 0),
        math.sqrt(0.2) * op(qutip.sigmam(), 0),
        math.sqrt(0.9) * op(qutip.sigmam(), n - 1),
        math.sqrt(0.1) * op(qutip.sigmap(), n - 1),
    ]
    return qness.from_qutip(H, c)


def test_scgf_current_and_rate_exact_on_a_coarse_grid(monkeypatch):
    # theta'(s) and the Legendre transform at j = theta'(s), not differences on the user's grid
    GL, GR = 1.0, 2.0
    m = resonant_level(GL, GR)
    s = np.array([-1.0, 0.0, 1.0])
    theta, dtheta = _level_theta(GL, GR, s)
    dense = scgf(m, {1: 1}, s)
    assert dense.info["current_method"] == "hellmann-feynman"
    np.testing.assert_allclose(dense.current, dtheta, rtol=1e-12)  # [0.3705, 0.6667, 1.1399]
    np.testing.assert_allclose(dense.rate, s * dtheta - theta, rtol=0, atol=1e-12)  # [0.1366, 0, 0.2553]
    # a single grid point has a current too
    np.testing.assert_allclose(scgf(m, {1: 1}, [0.5]).current, _level_theta(GL, GR, [0.5])[1], rtol=1e-12)
    monkeypatch.setattr(counting, "SCGF_DENSE_MAX", 1)
    lu = scgf(m, {1: 1}, s)
    assert lu.info["route"] == "shift-invert" and lu.info["current_method"] == "hellmann-feynman"
    np.testing.assert_allclose(lu.current, dtheta, rtol=1e-10)
    kry = scgf(m, {1: 1}, s, method="krylov")
    assert kry.info["current_method"].startswith("central difference")
    np.testing.assert_allclose(kry.theta, theta, rtol=0, atol=1e-10)  # residual tolerance SCGF_TOL
    err = np.abs(kry.current - dtheta)
    assert np.all(err <= 1e-6) and np.all(err <= 10 * kry.info["current_error"] + 1e-12)
    np.testing.assert_allclose(kry.rate, s * dtheta - theta, rtol=0, atol=1e-6)


def test_scgf_ill_conditioned_tilted_generator_sparse_routes():
    # counting the net change of the system's own magnetisation: L_s is a diagonal similarity of L
    # (theta(s) = 0 exactly) with eigenvalue condition number ~ e^{4|s|}; the LU route gave 1.2e-3
    # certified before balancing
    m = _xxz4_qutip()
    w = {0: 1, 1: -1, 2: -1, 3: 1}
    s = np.array([-8.0, 2.0, 8.0])
    for method in ("direct", "krylov"):
        res = scgf(m, w, s, symmetry=None, method=method)
        assert res.info["sector"]["size"] == 256
        np.testing.assert_allclose(res.theta, 0.0, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.current, 0.0, rtol=0, atol=1e-6)
        assert res.info["certified"].all()


def test_scgf_unbalanced_ill_conditioned_point_is_not_certified(monkeypatch):
    # without balancing the residual is small but the eigenvalue is not: kappa * residual says so
    m = _xxz4_qutip()
    monkeypatch.setattr(counting, "_sparse_balance", lambda M, sweeps=40: np.ones(M.shape[0]))
    with pytest.warns(RuntimeWarning, match="not certified.*error bound"):
        res = scgf(m, {0: 1, 1: -1, 2: -1, 3: 1}, [8.0], symmetry=None, method="direct")
    assert not res.info["certified"][0] and res.info["kappa"][0] > 1e8


def test_scgf_extreme_fields_dense():
    # e^{s w} ~ 1e217 at s = 500: balanced, the dense route is still exact; at s = 700 it is not,
    # and says so
    GL, GR = 1.0, 2.0
    m = resonant_level(GL, GR)
    s = np.array([300.0, 400.0, 500.0])
    res = scgf(m, {1: 1}, s)
    np.testing.assert_allclose(res.theta, np.sqrt(GL * GR) * np.exp(s / 2), rtol=1e-12)  # 1.02e87 at 400
    assert res.info["certified"].all()
    with pytest.warns(RuntimeWarning, match="not certified"):
        far = scgf(m, {1: 1}, [700.0])
    assert not far.info["certified"][0]
    with pytest.raises(ValueError, match="overflows"):
        scgf(m, {1: 1}, [800.0])


def test_scgf_large_field_sparse_route_matches_dense():
    # the LU route raised "no positive (Perron) eigenvector" at s = 30
    m = _xxz4_qutip()
    s = np.array([12.0, 20.0, 30.0])
    dense = scgf(m, {2: 1, 3: -1}, s)  # U(1) sector of 70 unknowns
    lu = scgf(m, {2: 1, 3: -1}, s, symmetry=None)
    assert dense.info["route"] == "dense" and lu.info["route"] == "shift-invert"
    np.testing.assert_allclose(lu.theta, dense.theta, rtol=1e-10)  # 178.156 at s = 30
    np.testing.assert_allclose(lu.current, dense.current, rtol=1e-7)
    assert lu.info["certified"].all() and dense.info["certified"].all()


def test_scgf_krylov_far_jump_is_reported_not_wrong():
    # a grid step 1 -> 30 that the matrix-free route does not follow: the point comes back
    # uncertified with a warning (it was 8.51 certified; the true value is 178.156)
    m = _xxz4_qutip()
    with pytest.warns(RuntimeWarning, match="not certified"):
        res = scgf(m, {2: 1, 3: -1}, [0.0, 1.0, 30.0], symmetry=None, method="krylov")
    assert res.info["certified"][:2].all() and not res.info["certified"][2]


def test_user_ness_is_checked():
    # a state that is not the NESS (diag(1/3, 2/3)) was used silently: C1 1.0 instead of 2/3
    GL, GR = 1.0, 2.0
    m = resonant_level(GL, GR)
    wrong = qutip.qeye(2) / 2
    with pytest.raises(ValueError, match="ness is not a steady state"):
        cumulants(m, ness=wrong, counted=1, order=2)
    with pytest.raises(ValueError, match="ness is not a steady state"):
        noise_spectrum(m, 1, [0.0], ness=wrong)
    with pytest.raises(ValueError, match="ness is not a steady state"):
        scgf(m, {1: 1}, [0.1], ness=wrong, method="direct")
    rho = np.diag([1 / 3, 2 / 3])
    with pytest.raises(ValueError, match="ness must have trace 1, got 2"):
        cumulants(m, ness=2 * rho, counted=1, order=2)
    c = cumulants(m, ness=rho, counted=1, order=2).cumulants
    np.testing.assert_allclose(c, [2 / 3, 10 / 27], rtol=1e-12)
    np.testing.assert_allclose(noise_spectrum(m, 1, [0.0], ness=rho), [10 / 27], rtol=1e-12)


def test_counted_duplicates_and_grid_types():
    m = resonant_level(1.0, 2.0)
    with pytest.raises(ValueError, match="named twice"):
        cumulants(m, counted=[1, 1], order=1)
    with pytest.raises(ValueError, match="named twice"):
        cumulants(m, counted=["c_ops[1]", 1], order=1)
    with pytest.raises(TypeError, match="omegas must be real numbers"):
        noise_spectrum(m, 1, "abc")
    with pytest.raises(TypeError, match="s must be real numbers"):
        scgf(m, 1, ["a"])


def test_counted_jumps_given_as_the_state_are_named_in_the_error():
    # scgf and noise_spectrum take counted second; cumulants(m, {1: 1}) said "counted must name at
    # least one jump" (session-13 review)
    m = qness.from_qutip(0 * qutip.sigmaz(), [qutip.sigmap(), 2**0.5 * qutip.sigmam()])
    with pytest.raises(TypeError, match=r"counted=\{1: 1\}"):
        cumulants(m, {1: 1})


def test_qutip_j_ops_style_lists_say_what_they_were_taken_as():
    # review 14b: cumulants((H, c), [c0]) said "counted must name at least one jump", not that the list
    # was taken as ness
    sp_, sm = qutip.sigmap(), 2**0.5 * qutip.sigmam()
    model = (0 * qutip.sigmaz(), [sp_, sm])
    with pytest.raises(TypeError, match=r"operator\(s\) \(QuTiP's J_ops\?\), taken as ness.*counted=\[1\]"):
        cumulants(model, [sm])
    with pytest.raises(TypeError, match=r"got the list \[1\], taken as ness.*counted=\[1\]"):
        cumulants(model, [1])
    with pytest.raises(TypeError, match="not by its operator .*it is jump 1: pass 1"):
        cumulants(model, counted=[sm])
    # a state as a nested list is still a state
    rho = qness.steady_state(model).rho
    c = cumulants(model, rho.tolist(), counted=1, order=1)
    assert c.current == pytest.approx(2 / 3, abs=1e-12)


def test_fano_factor_of_a_zero_current_is_nan():
    # review 15: the net count across one thermal bath is the change of the stored energy, bounded,
    # so every scaled cumulant vanishes; C_1 = 6e-16 and C_2 = 3e-15 gave a "Fano factor" of 37.7
    a = qutip.destroy(8)
    c = cumulants((0.3 * a.dag() * a, [np.sqrt(1.3) * a, np.sqrt(0.4) * a.dag()]), counted={0: 1, 1: -1})
    rho = qness.steady_state((0.3 * a.dag() * a, [np.sqrt(1.3) * a, np.sqrt(0.4) * a.dag()])).to_qobj()
    activity = 1.3 * qutip.expect(a.dag() * a, rho) + 0.4 * qutip.expect(a * a.dag(), rho)
    assert c.info["activity"] == pytest.approx(activity, rel=1e-10)
    assert abs(c.cumulants[0]) <= 1e-14 * activity and abs(c.cumulants[1]) <= 1e-13 * activity
    assert math.isnan(c.fano)
    # a current of its own keeps its Fano factor: a coherently driven cavity is Poissonian
    c = cumulants((0.3 * a.dag() * a + 0.2 * (a + a.dag()), [np.sqrt(1.3) * a]), counted={0: 1}, order=2)
    assert c.fano == pytest.approx(1.0, abs=1e-6) and c.info["activity"] == pytest.approx(c.current)


def test_coherent_cavity_is_poissonian():
    """A coherently driven damped cavity: its NESS is a coherent state, photon counting Poissonian
    (every cumulant kappa |alpha|^2 = F^2 / (Delta^2 + kappa^2 / 4), Fano 1, theta(s) = C (e^s - 1)),
    and its incoherent emission spectrum zero. The Drazin right-hand sides J rho - <J> rho nearly
    cancel here; they were refused as not trace-zero (session-18 review) at cutoffs >= 15."""
    import qutip

    from qness.analysis.correlations import emission_spectrum

    N, det, F, kappa = 15, 0.3, 0.5, 1.0
    a = qutip.destroy(N)
    m = qness.from_qutip(det * a.dag() * a + F * (a + a.dag()), [np.sqrt(kappa) * a])
    C = F**2 / (det**2 + kappa**2 / 4)
    cu = cumulants(m, counted=0, order=3)
    assert np.allclose(cu.cumulants, C, rtol=1e-8)
    assert abs(cu.fano - 1.0) < 1e-8
    assert np.allclose(noise_spectrum(m, 0, [0.0, 0.7]), C, rtol=1e-8)
    s = np.array([-1.0, 0.5])
    assert np.allclose(scgf(m, 0, s).theta, C * np.expm1(s), rtol=1e-6)  # (truncation: 4e-8)
    assert np.all(np.abs(emission_spectrum(m, a, [0.0, 0.3]).S) < 1e-9 * C)


def test_spectra_at_frequencies_that_are_rounding_of_zero():
    """np.arange(-1, 1.05, 0.1) holds -2.2e-16, not 0: both spectra were refused there ("z is an
    eigenvalue") and noise_spectrum was 3e-3 off S(0) at 5e-14 (the rho_ss component, amplified by
    1/w); S(w) = S(0) + O(w^2)."""
    from qness.analysis.correlations import emission_spectrum

    m = qness.models.mollow(detuning=0.7, omega=3.0, gamma=1.0)
    ws = np.arange(-1.0, 1.05, 0.1)
    assert ws[10] != 0.0 and abs(ws[10]) < 1e-15
    S = noise_spectrum(m, 0, ws)
    S0, Ssmall = noise_spectrum(m, 0, [0.0, 1e-13])
    assert S[10] == pytest.approx(S0, rel=1e-12)
    assert Ssmall == pytest.approx(S0, rel=1e-10)
    assert noise_spectrum(m, 0, [5e-14, 1e-11])[0] == pytest.approx(S0, rel=1e-10)
    E = emission_spectrum(m, qness.operators.sigmam(), ws).S
    E0 = emission_spectrum(m, qness.operators.sigmam(), [0.0]).S[0]
    assert E[10] == pytest.approx(E0, rel=1e-12)
    assert noise_spectrum(m, 0, []).shape == (0,)


def test_drazin_solves_take_a_state_normalised_to_1e_8():
    """A user's NESS with trace 1 + 5e-9 (within the documented 1e-8) was accepted, then its Drazin
    right-hand side refused; the results now move by the state's own error only."""
    m = qness.models.mollow(detuning=0.7, omega=3.0, gamma=1.0)
    ness = qness.steady_state(m)
    ref = cumulants(m, counted=0, order=2).cumulants
    off = cumulants(m, counted=0, order=2, ness=ness.rho * (1 + 5e-9)).cumulants
    assert np.allclose(off, ref, rtol=2e-8)
    S = noise_spectrum(m, 0, [0.0], ness=ness.rho * (1 + 5e-9))
    assert S[0] == pytest.approx(noise_spectrum(m, 0, [0.0])[0], rel=2e-8)
