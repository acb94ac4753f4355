"""Tensor-network steady states (qness.tn) against exact, closed-form and Gaussian results."""

import warnings

import numpy as np
import pytest

pytest.importorskip("quimb")

import qness  # noqa: E402
import qness.tn as tn  # noqa: E402
from qness import operators as ops  # noqa: E402
from qness.analysis import bond_currents  # noqa: E402
from qness.gaussian import QuadraticModel  # noqa: E402
from qness.gaussian import steady_state as gaussian_steady_state  # noqa: E402
from qness.models import boundary_driven_xxz  # noqa: E402
from qness.terms import ChainTerms  # noqa: E402

SX, SY, SZ = (o().toarray() for o in (ops.sigmax, ops.sigmay, ops.sigmaz))
SP, SM = ops.sigmap().toarray(), ops.sigmam().toarray()


def xxz_terms(n, *, delta, gamma=1.0, mu=1.0, J=1.0, dephasing=0.0):
    """The terms of qness.models.boundary_driven_xxz (same H, same jumps in the same order)."""
    H = []
    for i in range(n - 1):
        H += [((i, i + 1), (SX, SX), J), ((i, i + 1), (SY, SY), J), ((i, i + 1), (SZ, SZ), J * delta)]
    g_in, g_out = gamma * (1 + mu) / 2, gamma * (1 - mu) / 2
    jumps = []
    for op, rate, site, bath, label in (
        (SP, g_in, 0, "left", "in"),
        (SM, g_out, 0, "left", "out"),
        (SM, g_in, n - 1, "right", "out"),
        (SP, g_out, n - 1, "right", "in"),
    ):
        if rate > 0:
            jumps.append(((site,), (op,), rate, bath, label))
    if dephasing > 0:
        jumps += [((i,), (SZ,), dephasing, "dephasing", "dephasing") for i in range(n)]
    return ChainTerms.create([2] * n, H, jumps)


def xx_dephasing_current(n, *, gamma, mu, J, dephasing):
    """Exact spin current <i[sigma^z_i, H]> of the boundary-driven XX chain with bulk dephasing.

    qness's parametrisation (boundary_driven_xxz, delta = 0). Jordan-Wigner
    maps it to fermions with hopping t = 2J, gain/loss gamma (1 +- mu)/2 at the
    ends and dephasing rate 4 * dephasing (sigma^z = 2 n - 1). The two-point
    equations close (Znidaric, J. Stat. Mech. L05002 (2010)): C is tridiagonal,
    C_(i,i+1) = i a, the bonds obey t (n_(i+1) - n_i) = c_i a with
    c_i = 4 dephasing + (kappa_i + kappa_(i+1))/2 and the ends n_0 = (g_0 - I)/kappa,
    n_(n-1) = (I + g_(n-1))/kappa; the particle current I = -2 t a is then
    I = mu / (2/gamma + gamma/(8 J^2) + (n-1) dephasing/(2 J^2)), and the
    spin (sigma^z) current is 2 I.
    """
    return 2 * mu / (2 / gamma + gamma / (8 * J**2) + (n - 1) * dephasing / (2 * J**2))


def xx_gaussian(n, *, gamma, mu, J, dephasing=0.0):
    """The same XX chain as a free-fermion QuadraticModel (see xx_dephasing_current)."""
    h = 2 * J * (np.eye(n, k=1) + np.eye(n, k=-1))
    g_in, g_out = gamma * (1 + mu) / 2, gamma * (1 - mu) / 2
    return QuadraticModel(
        h, gain={0: g_in, n - 1: g_out}, loss={0: g_out, n - 1: g_in}, dephasing=4 * dephasing
    )


def exact_rho(terms):
    """Dense NESS of a ChainTerms with the exact solver (rendered matrices)."""
    H = terms.render_hamiltonian()
    c_ops = [np.sqrt(j.rate) * terms.render_jump(k) for k, j in enumerate(terms.jumps)]
    return np.asarray(qness.steady_state((H, c_ops)).rho)


def vec_mps(rho, dims):
    """``rho`` as the vector on the TN sites (local index a_i + d_i b_i, site 0 first)."""
    n = len(dims)
    v = np.asarray(rho).reshape(list(dims) * 2)
    perm = [x for i in range(n) for x in (n + i, i)]
    return v.transpose(perm).reshape(-1)


# ----------------------------------------------------------------------------- building blocks


def test_terms_helper_matches_model():
    kw = dict(delta=0.7, gamma=0.8, mu=0.4, J=1.3, dephasing=0.2)
    m = boundary_driven_xxz(4, **kw)
    t = xxz_terms(4, **kw)
    assert abs(t.render_hamiltonian() - m.H).max() < 1e-14
    assert len(t.jumps) == len(m.jumps)
    for k, (a, b) in enumerate(zip(t.jumps, m.jumps)):
        assert abs(np.sqrt(a.rate) * t.render_jump(k) - b.L).max() < 1e-14


@pytest.mark.parametrize("kw", [dict(delta=0.5, mu=0.3, dephasing=0.4), dict(delta=1.2, mu=1.0)])
def test_mpo_is_the_liouvillian(kw):
    n = 3
    m = boundary_driven_xxz(n, **kw)
    L = tn.liouvillian_mpo(xxz_terms(n, **kw)).to_dense()
    Lex = qness.liouvillian(m).toarray()  # acts on vec(rho) = rho.ravel("F")
    # permutation from column-stacked vec(rho) to the site-local ordering
    P = np.array(
        [vec_mps(np.eye(2**n * 2**n)[:, k].reshape(2**n, 2**n, order="F"), m.dims) for k in range(4**n)]
    ).T
    assert np.abs(P @ Lex @ P.T - L).max() < 1e-12


def test_exact_ness_has_zero_residual_and_conventions():
    import quimb.tensor as qtn

    kw = dict(delta=0.6, mu=0.5, dephasing=0.3)
    n = 4
    m = boundary_driven_xxz(n, **kw)
    ness = qness.steady_state(m)
    t = xxz_terms(n, **kw)
    psi = qtn.MatrixProductState.from_dense(vec_mps(ness.rho, m.dims), dims=[4] * n)
    res = tn.TNSteadyState(psi, t, 0.0, True, {})
    assert np.abs(res.density_matrix() - ness.rho).max() < 1e-13
    from qness.tn._solver import _mps_residual

    assert _mps_residual(tn.liouvillian_mpo(t), psi) < 1e-12
    # spin current: analysis.bond_currents, i<[sz_i, h]> and 2J <sx sy - sy sx> agree
    j_exact = bond_currents(m, ness, density="sigmaz")
    j_tn = res.bond_currents(SZ)
    j_formula = [2 * (res.expect_bond(SX, SY, i) - res.expect_bond(SY, SX, i)) for i in range(n - 1)]
    np.testing.assert_allclose(j_tn, j_exact, atol=1e-12)
    np.testing.assert_allclose(j_formula, j_exact, atol=1e-12)


# ----------------------------------------------------------------------------- closed form first


@pytest.mark.parametrize(
    "n, gamma, mu, J, deph",
    [(2, 1.0, 1.0, 1.0, 0.5), (3, 0.7, 0.4, 1.0, 0.3), (5, 1.3, -0.6, 0.8, 1.0), (6, 1.0, 1.0, 1.0, 0.0)],
)
def test_closed_form_current_against_exact(n, gamma, mu, J, deph):
    m = boundary_driven_xxz(n, delta=0.0, gamma=gamma, mu=mu, J=J, dephasing=deph)
    j = bond_currents(m, qness.steady_state(m), density="sigmaz")
    np.testing.assert_allclose(
        j, xx_dephasing_current(n, gamma=gamma, mu=mu, J=J, dephasing=deph), rtol=1e-10
    )


def test_gaussian_mapping_against_exact():
    n, kw = 5, dict(gamma=0.9, mu=0.7, J=1.1)
    m = boundary_driven_xxz(n, delta=0.0, **kw)
    j = bond_currents(m, qness.steady_state(m), density="sigmaz")
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(2 * g.currents, j, rtol=1e-10)


# ----------------------------------------------------------------------------- solver against exact


@pytest.mark.parametrize(
    "n, kw",
    [
        (4, dict(delta=0.5, mu=0.5, dephasing=0.0)),
        (4, dict(delta=1.0, mu=1.0, dephasing=0.0)),
        (5, dict(delta=1.5, mu=0.3, dephasing=0.2)),
    ],
)
def test_against_exact_solver(n, kw):
    m = boundary_driven_xxz(n, **kw)
    ness = qness.steady_state(m)
    j_exact = bond_currents(m, ness, density="sigmaz")
    res = tn.steady_state(xxz_terms(n, **kw), tol=1e-5)
    assert res.converged and res.residual <= 1e-5
    assert not res.info["capped"] and not res.info["time_limited"]
    np.testing.assert_allclose(res.bond_currents(SZ), j_exact, atol=1e-4)
    rho = res.density_matrix()
    assert abs(np.trace(rho) - 1) < 1e-10
    assert np.abs(rho - ness.rho).max() < 1e-4
    prof = res.profile(SZ)
    assert prof.dtype == float and prof.shape == (n,)


def test_expectations_match_dense_rho():
    kw = dict(delta=0.8, mu=0.6, dephasing=0.3)
    res = tn.steady_state(xxz_terms(4, **kw), tol=1e-4)
    rho = res.density_matrix()
    I2 = np.eye(2)

    def emb(*pairs):
        mats = [I2] * 4
        for i, o in pairs:
            mats[i] = o
        out = mats[0]
        for x in mats[1:]:
            out = np.kron(out, x)
        return out

    for i in range(4):
        assert abs(res.expect_site(SZ, i) - np.trace(emb((i, SZ)) @ rho).real) < 1e-12
    assert abs(res.expect_bond(SP, SM, 1) - np.trace(emb((1, SP), (2, SM)) @ rho)) < 1e-12
    assert isinstance(res.expect_bond(SP, SM, 1), complex)


def test_local_dimension_three_and_two_site_jumps():
    """Spin-1 chain (d = 3) with a nearest-neighbour jump, against the exact solver."""
    Sz = np.diag([1.0, 0.0, -1.0])
    Sp = np.sqrt(2) * np.diag([1.0, 1.0], k=1)
    Sm = Sp.T
    n = 3
    H = []
    for i in range(n - 1):
        H += [((i, i + 1), (Sp, Sm), 0.5), ((i, i + 1), (Sm, Sp), 0.5), ((i, i + 1), (Sz, Sz), 0.3)]
    H += [((i,), (Sz @ Sz,), 0.2 * (i + 1)) for i in range(n)]
    jumps = [((0,), (Sp,), 0.6), ((n - 1,), (Sm,), 0.4), ((0, 1), (Sm, Sp), 0.3), ((1,), (Sz,), 0.2)]
    t = ChainTerms.create([3] * n, H, jumps)
    res = tn.steady_state(t, tol=1e-5)
    assert res.converged
    assert np.abs(res.density_matrix() - exact_rho(t)).max() < 1e-4


def test_mixed_local_dimensions():
    a = np.diag(np.sqrt([1.0, 2.0]), k=1)  # boson, cutoff 3
    n = 3
    dims = [2, 3, 2]
    H = [((0, 1), (SP, a), 0.7), ((0, 1), (SM, a.T), 0.7), ((1, 2), (a.T, SM), 0.5), ((1, 2), (a, SP), 0.5)]
    H += [((1,), (a.T @ a,), 0.3)]
    jumps = [((0,), (SP,), 0.5), ((2,), (SM,), 0.8), ((1,), (a,), 0.1)]
    t = ChainTerms.create(dims, H, jumps)
    res = tn.steady_state(t, tol=1e-5)
    assert res.converged
    assert np.abs(res.density_matrix() - exact_rho(t)).max() < 1e-4
    assert n == res.n_sites


# ----------------------------------------------------------------------------- longer chains


def test_xx_dephasing_closed_form_n6():
    kw = dict(gamma=1.0, mu=0.5, J=1.0, dephasing=0.5)
    n = 6
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged
    np.testing.assert_allclose(res.bond_currents(SZ), xx_dephasing_current(n, **kw), rtol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("n", [30, 50])
def test_xx_dephasing_closed_form_long(n):
    kw = dict(gamma=1.0, mu=0.5, J=1.0, dephasing=0.5)
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-4)
    assert res.converged
    np.testing.assert_allclose(res.bond_currents(SZ), xx_dephasing_current(n, **kw), rtol=5e-3)


def test_xx_against_gaussian_n5():
    kw = dict(gamma=1.0, mu=0.5, J=1.0)
    n = 5
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(res.bond_currents(SZ), 2 * g.currents, rtol=1e-3)
    np.testing.assert_allclose(res.profile(SZ), 2 * g.occupations - 1, atol=1e-3)


@pytest.mark.slow
def test_xx_against_gaussian_n20():
    # without dephasing the XX chain's gap closes as n^-3: the relaxation, not the bond dimension, is slow
    kw = dict(gamma=1.0, mu=0.5, J=1.0)
    n = 20
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(res.bond_currents(SZ), 2 * g.currents, rtol=5e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw", [dict(delta=0.5, mu=0.2, dephasing=0.1), dict(delta=1.0, mu=0.5), dict(delta=1.5, mu=1.0)]
)
def test_against_exact_solver_n8(kw):
    n = 8
    m = boundary_driven_xxz(n, **kw)
    j_exact = bond_currents(m, qness.steady_state(m), density="sigmaz")
    res = tn.steady_state(xxz_terms(n, **kw), tol=1e-5)
    assert res.converged
    np.testing.assert_allclose(res.bond_currents(SZ), j_exact, atol=1e-4)


# ----------------------------------------------------------------------------- honesty flags


def test_bond_cap_is_reported():
    with pytest.warns(tn.TNConvergenceWarning, match="bond cap"):
        res = tn.steady_state(xxz_terms(4, delta=1.0, mu=1.0), max_bond=2, tol=1e-4)
    assert not res.converged
    assert res.info["capped"] and res.info["max_bond"] <= 2


def test_time_limit_is_reported():
    with pytest.warns(tn.TNConvergenceWarning, match="time limit"):
        res = tn.steady_state(xxz_terms(6, delta=0.5, mu=0.5), time_limit=0.01, tol=1e-8)
    assert not res.converged and res.info["time_limited"]
    assert np.isfinite(res.residual)


# ----------------------------------------------------------------------------- bad input


def test_model_without_terms():
    m = boundary_driven_xxz(3, delta=0.5)
    H, c_ops = m.H, [j.L for j in m.jumps]
    with pytest.raises(ValueError, match="built from full matrices"):
        tn.steady_state(qness.from_qutip(H, c_ops))
    with pytest.raises(TypeError, match="ChainTerms"):
        tn.steady_state("xxz")


def test_long_range_terms_rejected():
    t = ChainTerms.create([2] * 4, [((0, 2), (SZ, SZ), 1.0)], [((0,), (SM,), 1.0)])
    with pytest.raises(ValueError, match=r"range 2.*nearest-neighbour"):
        tn.steady_state(t)
    t = ChainTerms.create([2] * 4, [((0, 1), (SZ, SZ), 1.0)], [((0, 3), (SM, SP), 1.0)])
    with pytest.raises(ValueError, match=r"jump 0 acts on sites \(0, 3\)"):
        tn.steady_state(t)


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(max_bond=0), ValueError, "max_bond"),
        (dict(max_bond=2.5), TypeError, "max_bond"),
        (dict(max_bond="8"), TypeError, "max_bond"),
        (dict(tol=-1e-3), ValueError, "tol"),
        (dict(tol=float("nan")), ValueError, "tol"),
        (dict(dt=0.0), ValueError, "dt"),
        (dict(dt=[0.1]), TypeError, "dt"),
        (dict(time_limit=-1), ValueError, "time_limit"),
        (dict(order=3), ValueError, "order"),
        (dict(initial=[np.eye(2) / 2] * 2), ValueError, "initial"),
    ],
)
def test_invalid_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        tn.steady_state(xxz_terms(3, delta=0.5), **kw)


def test_result_accessors_validate():
    res = tn.steady_state(xxz_terms(3, delta=0.5, mu=0.5), tol=1e-3)
    with pytest.raises(ValueError, match="out of range"):
        res.expect_site(SZ, 3)
    with pytest.raises(ValueError, match="shape"):
        res.expect_site(np.eye(3), 0)
    with pytest.raises(ValueError, match="bond"):
        res.expect_bond(SZ, SZ, 2)
    with pytest.raises(ValueError, match="does not conserve"):
        res.bond_currents(SX)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "TNSteadyState" in repr(res)
