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


def xxz_terms(n, *, delta, gamma=1.0, mu=1.0, J=1.0, dephasing=0.0, extra_h=(), extra_jumps=()):
    """The terms of qness.models.boundary_driven_xxz (same H, same jumps in the same order),
    followed by ``extra_h`` and ``extra_jumps``."""
    H = list(extra_h)
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
    return ChainTerms.create([2] * n, H, jumps + list(extra_jumps))


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
    # tol=1e-3 (residual), not 1e-4: at 1e-4 the 50-site run took over 30 minutes on the shared machine.
    # At tol=1e-3 the current is within ~1e-4 of the closed form (benchmarks/RESULTS.md, 20-100 sites),
    # so the current is asserted to 1e-3 relative: tighter than before (5e-3) and 5x inside the 0.5 % target.
    kw = dict(gamma=1.0, mu=0.5, J=1.0, dephasing=0.5)
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged and not res.info["capped"]
    np.testing.assert_allclose(res.bond_currents(SZ), xx_dephasing_current(n, **kw), rtol=1e-3)


def test_xx_against_gaussian_n5():
    kw = dict(gamma=1.0, mu=0.5, J=1.0)
    n = 5
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(res.bond_currents(SZ), 2 * g.currents, rtol=1e-3)
    np.testing.assert_allclose(res.profile(SZ), 2 * g.occupations - 1, atol=1e-3)


@pytest.mark.slow
def test_xx_against_gaussian_n10_product_start():
    # TEBD from the infinite-temperature product state (no Gaussian start): without dephasing the gap of
    # the XX chain closes as n^-3, so the relaxation is slow already at 10 sites (20 sites: hours)
    kw = dict(gamma=1.0, mu=0.5, J=1.0)
    n = 10
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-3)
    assert res.converged and res.info["initial"] == "product"
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(res.bond_currents(SZ), 2 * g.currents, rtol=5e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw, tol",
    [
        (dict(delta=0.5, mu=0.2, dephasing=0.1), 1e-3),
        (dict(delta=1.0, mu=0.5), 1e-3),
        (dict(delta=1.5, mu=1.0), 1e-4),
    ],
)
def test_against_exact_solver_n8(kw, tol):
    # max_bond=256 = 4^(n/2): the cap cannot bind at 8 sites. Residual tol 1e-3 / 1e-4, not 1e-5: with
    # the default cap of 128 the residual floored at 5e-4 - 2e-3 (capped, measured) and 1e-5 was never
    # reached. The current, which the issue asks to 1e-4, is asserted unchanged. The strongly driven
    # Delta = 1.5 case needs 1e-4: at a residual of 5e-4 its current (0.0057) was off by 1.0e-4 (measured);
    # at 5e-5 by 8e-6. Durations: 29 s, 73 s (load 2-3), 358 s (load ~1; 489 s at load 2-3).
    n = 8
    m = boundary_driven_xxz(n, **kw)
    j_exact = bond_currents(m, qness.steady_state(m), density="sigmaz")
    res = tn.steady_state(xxz_terms(n, **kw), tol=tol, max_bond=256)
    assert res.converged
    np.testing.assert_allclose(res.bond_currents(SZ), j_exact, atol=1e-4)


# ----------------------------------------------------------------------------- Gaussian start


def dense_gaussian(C):
    """Dense Gaussian state with <c_i^+ c_j> = C_ij: prod_k [(1 - nu_k) + (2 nu_k - 1) b_k^+ b_k]."""
    from qness.operators import fermion_annihilation

    n = C.shape[0]
    c = [fermion_annihilation(i, n).toarray() for i in range(n)]
    nu, U = np.linalg.eigh(C)
    rho = np.eye(2**n, dtype=complex)
    for k in range(n):
        b = sum(U[j, k] * c[j] for j in range(n))
        rho = rho @ ((1 - nu[k]) * np.eye(2**n) + (2 * nu[k] - 1) * (b.conj().T @ b))
    rho /= np.trace(rho)
    # the construction itself: its two-point function is C
    assert (
        max(abs(np.trace(rho @ c[i].conj().T @ c[j]) - C[i, j]) for i in range(n) for j in range(n)) < 1e-12
    )
    return rho


def test_quadratic_part_of_xxz():
    kw = dict(gamma=0.8, mu=0.4, J=1.3)
    n = 5
    qm = tn.quadratic_part(xxz_terms(n, delta=0.7, dephasing=0.3, **kw))  # sigma^z sigma^z is dropped
    ref = xx_gaussian(n, dephasing=0.3, **kw)
    np.testing.assert_allclose(qm.h, ref.h, atol=1e-14)
    for a in ("gain", "loss", "dephasing"):
        np.testing.assert_allclose(getattr(qm, a), getattr(ref, a), atol=1e-14)
    # a field h sigma^z_i = 2 h n_i - h; a diagonal jump a + b sigma^z: dephasing 4|b|^2 plus an energy
    field = [((2,), (SZ,), 0.3)]
    t = ChainTerms.create([2] * 3, field, [((1,), (np.diag([1.0, 0.2j]),), 0.5)])
    qm = tn.quadratic_part(t)
    assert abs(qm.h[2, 2] - 0.6) < 1e-14 and abs(qm.dephasing[1] - 0.5 * abs(1 - 0.2j) ** 2) < 1e-14
    H = t.render_hamiltonian().toarray()
    L = np.sqrt(0.5) * t.render_jump(0).toarray()
    Lq = qm.to_lindblad()
    # same Liouvillian (the to_lindblad fermions are the same Jordan-Wigner fermions, occupied = up)
    np.testing.assert_allclose(
        qness.liouvillian((H, [L])).toarray(), qness.liouvillian(Lq).toarray(), atol=1e-13
    )


@pytest.mark.parametrize(
    "terms, match",
    [
        (ChainTerms.create([2] * 3, [((1,), (SX,), 1.0)], []), "transverse"),
        (ChainTerms.create([2] * 3, [((0, 1), (SX, SX), 1.0)], []), r"sigma\^\+ x sigma\^\+"),
        (ChainTerms.create([2] * 3, [((0, 1), (SZ, SX), 1.0)], []), "sigma\\^z x"),
        (ChainTerms.create([2] * 3, [], [((1,), (SM,), 1.0)]), "inner site 1"),
        (ChainTerms.create([2] * 3, [], [((0,), (SX,), 1.0)]), "mixes"),
        (ChainTerms.create([2] * 3, [], [((0, 1), (SM, SP), 1.0)]), "two sites"),
        (ChainTerms.create([3, 3], [((0, 1), (np.eye(3), np.eye(3)), 1.0)], []), "spin-1/2"),
    ],
)
def test_quadratic_part_rejects(terms, match):
    with pytest.raises(ValueError, match=match):
        tn.quadratic_part(terms)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_gaussian_mps_exact(n):
    # the XX chain with dephasing and fields (tridiagonal C) and a dense random C (long-range modes)
    rng = np.random.default_rng(n)
    t = xxz_terms(n, delta=0.0, gamma=0.8, mu=0.6, J=1.2, dephasing=0.3)
    C1 = gaussian_steady_state(tn.quadratic_part(t)).C
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    V = np.linalg.qr(A)[0]
    C2 = V @ np.diag(rng.uniform(0.05, 0.95, n)) @ V.conj().T
    # the random C has full operator entanglement (bond 4^(n/2)): no truncation, to test exactness
    for C, cutoff in ((C1, 1e-14), (C2, 1e-20)):
        psi = tn.gaussian_mps(C, cutoff=cutoff)
        rho = tn.TNSteadyState(psi, t, 0.0, True, {}).density_matrix()
        assert np.abs(rho - dense_gaussian(C)).max() < 1e-10


def test_gaussian_mps_is_the_xx_ness():
    kw = dict(gamma=0.7, mu=0.5, J=1.1)
    n = 6
    m = boundary_driven_xxz(n, delta=0.0, **kw)
    C = gaussian_steady_state(tn.quadratic_part(xxz_terms(n, delta=0.0, **kw))).C
    rho = tn.TNSteadyState(tn.gaussian_mps(C), xxz_terms(n, delta=0.0, **kw), 0.0, True, {}).density_matrix()
    assert np.abs(rho - np.asarray(qness.steady_state(m).rho)).max() < 1e-10


@pytest.mark.parametrize("n", [50, 100])
def test_gaussian_start_xx_long(n):
    """XX chain without dephasing at 50-100 sites against the Gaussian solver.

    What this certifies: the start *is* the Gaussian NESS, built as an MPS by
    gaussian_mps; the check is that this construction, the Liouvillian MPO
    residual (which certifies it as the NESS of the spin chain, to the
    ~1e-8 floor of <rho|L^+L|rho>) and the MPS measurements agree with the
    Gaussian solver and the closed form. No TEBD runs (the start already
    meets tol): relaxing to the XX NESS from a product state is out of reach
    at these sizes (gap ~ n^-3).
    """
    kw = dict(gamma=1.0, mu=0.5, J=1.0)
    res = tn.steady_state(xxz_terms(n, delta=0.0, **kw), tol=1e-6, initial="gaussian")
    assert res.converged and res.residual <= 1e-6
    assert res.info["initial"] == "gaussian" and res.info["returned"] == "initial"
    assert res.info["dt_schedule"] == [] and res.info["max_bond"] <= 8
    g = gaussian_steady_state(xx_gaussian(n, **kw))
    np.testing.assert_allclose(res.bond_currents(SZ), 2 * g.currents, rtol=1e-9)
    np.testing.assert_allclose(res.profile(SZ), 2 * g.occupations - 1, atol=1e-9)
    np.testing.assert_allclose(res.bond_currents(SZ), xx_dephasing_current(n, dephasing=0.0, **kw), rtol=1e-9)


def test_gaussian_start_dephasing_and_interactions():
    # dephasing: the start has the exact two-point function (and current) but is not the NESS
    kw = dict(gamma=1.0, mu=0.5, J=1.0, dephasing=0.5)
    res = tn.steady_state(xxz_terms(6, delta=0.0, **kw), tol=1e-3, initial="gaussian")
    assert res.converged and res.info["initial_residual"] > 1e-3 and res.info["returned"] != "initial"
    np.testing.assert_allclose(res.bond_currents(SZ), xx_dephasing_current(6, **kw), rtol=1e-3)
    # XXZ: the start drops sigma^z sigma^z; the TEBD result against the exact solver
    kw = dict(delta=0.5, mu=0.5, dephasing=0.0)
    m = boundary_driven_xxz(5, **kw)
    j_exact = bond_currents(m, qness.steady_state(m), density="sigmaz")
    res = tn.steady_state(xxz_terms(5, **kw), tol=1e-5, initial="gaussian")
    assert res.converged
    np.testing.assert_allclose(res.bond_currents(SZ), j_exact, atol=1e-4)


def test_mps_start_and_bad_initial():
    t = xxz_terms(4, delta=0.8, mu=0.5, dephasing=0.2)
    res = tn.steady_state(t, tol=1e-3)
    again = tn.steady_state(t, tol=1e-3, initial=res.mps)  # already converged: returned as it is
    assert again.info["initial"] == "mps" and again.info["returned"] == "initial"
    assert again.residual <= 1e-3 and abs(again.residual - res.residual) < 1e-9
    with pytest.raises(ValueError, match="initial must be 'gaussian'"):
        tn.steady_state(t, initial="thermal")
    with pytest.raises(ValueError, match="an MPS on 3 sites"):
        tn.steady_state(xxz_terms(3, delta=0.5), initial=res.mps)
    spin1 = ChainTerms.create(
        [3, 3], [((0, 1), (np.diag([1.0, 0, -1]),) * 2, 1.0)], [((0,), (np.eye(3),), 1.0)]
    )
    with pytest.raises(ValueError, match="spin-1/2"):
        tn.steady_state(spin1, initial="gaussian")
    with pytest.raises(ValueError, match="strictly inside"):
        tn.gaussian_mps(np.diag([1.0, 0.5]))
    with pytest.raises(ValueError, match="Hermitian"):
        tn.gaussian_mps(np.array([[0.5, 0.1], [0.2, 0.5]]))


# ----------------------------------------------------------------------------- honesty flags


def test_bond_cap_is_reported():
    with pytest.warns(tn.TNConvergenceWarning, match="bond cap"):
        res = tn.steady_state(xxz_terms(4, delta=1.0, mu=1.0), max_bond=2, tol=1e-4)
    assert not res.converged
    assert res.info["capped"] and res.info["max_bond"] <= 2


def test_capped_run_at_weak_driving():
    """A binding cap at weak driving (the current is 1e-2 of the state's scale): flagged, never the
    coarse warm-up's state, current within 0.5 % of the exact one."""
    m = boundary_driven_xxz(8, delta=1.5, mu=0.01)
    exact = bond_currents(m, qness.steady_state(m), density="sigmaz").mean()
    with pytest.warns(tn.TNConvergenceWarning, match="bond cap"):
        res = tn.steady_state(xxz_terms(8, delta=1.5, mu=0.01), max_bond=16, tol=1e-7)
    assert res.info["capped"] and res.info["max_bond"] <= 16
    assert res.info["returned"] in ("trotter", "richardson")  # not the warm-up's coarse fixed point
    assert abs(res.bond_currents(SZ).mean() / exact - 1) < 5e-3


def test_slow_clean_relaxation_is_not_a_floor():
    """Weak couplings (gamma = 0.004, slowest rate ~0.004) at full rank (nothing truncated): the
    drift falls by less than 10 % per 12 chunks, which the earlier rule called truncation noise
    (stopped at residual 2.2e-3 in 0.9 s). Now the run keeps relaxing and converges (no wall-clock
    limit: the outcome does not depend on the machine's load)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", tn.TNConvergenceWarning)
        res = tn.steady_state(xxz_terms(4, delta=0.5, mu=0.5, gamma=0.004), tol=1e-4)
    assert res.converged and res.residual <= 1e-4
    assert not res.info["drift_floor"] and not res.info["time_limited"]


def test_still_falling_rule():
    from qness.tn._solver import _still_falling

    decay = [(t, np.exp(-0.001 * t)) for t in np.arange(1.5, 60, 1.5)]  # a slow mode (rate 0.001)
    assert _still_falling(decay, 18.0)
    floor = [(t, 1e-6 * (1 + 0.05 * np.sin(t))) for t in np.arange(1.5, 60, 1.5)]  # noise
    assert not _still_falling(floor, 18.0)
    assert _still_falling(decay[:5], 18.0)  # too short to tell: keep going


def test_full_rank_at_the_cap_is_not_capped():
    """A cap equal to the chain's full rank (16 at the middle of 4 spin-1/2 sites) drops nothing."""
    res = tn.steady_state(xxz_terms(4, delta=1.0, mu=0.5), max_bond=16, tol=1e-6)
    assert res.converged and not res.info["capped"]


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


# -- U(1) charges of vec(rho) (qness.tn._u1)


def _blocky(rng, rq, cq):
    m = rng.normal(size=(rq.size, cq.size)) + 1j * rng.normal(size=(rq.size, cq.size))
    return np.where(rq[:, None] == cq[None, :], m, 0)


def test_block_svd_is_the_svd():
    from qness.tn import _u1

    rng = np.random.default_rng(3)
    rq, cq = rng.integers(-2, 3, 23), rng.integers(-1, 3, 17)
    m = _blocky(rng, rq, cq)
    s_dense = np.linalg.svd(m, compute_uv=False)
    U, s, Vh, q, w, cut = _u1.split(m, rq, cq, 1e-14, 100)
    assert w == 0 and not cut
    np.testing.assert_allclose(np.sort(s)[::-1], s_dense[: s.size], rtol=1e-12)
    assert np.all(s_dense[s.size :] < 1e-12 * s_dense[0])  # the rows/columns without partner are zero
    np.testing.assert_allclose((U * s) @ Vh, m, atol=1e-12)
    np.testing.assert_allclose(U.conj().T @ U, np.eye(s.size), atol=1e-12)
    # every kept vector lives in one charge sector, the one it is labelled with
    assert np.all(np.abs(U[rq[:, None] != q[None, :]]) == 0)
    assert np.all(np.abs(Vh[q[:, None] != cq[None, :]]) == 0)
    # truncation keeps the largest values over all blocks, and reports the discarded weight
    U, s, Vh, q, w, cut = _u1.split(m, rq, cq, 1e-14, 5)
    assert cut
    np.testing.assert_allclose(np.sort(s)[::-1], s_dense[:5], rtol=1e-12)
    assert w == pytest.approx(np.sum(s_dense[5:] ** 2) / np.sum(s_dense**2), rel=1e-10)


def test_block_qr_both_ways():
    from qness.tn import _u1

    rng = np.random.default_rng(4)
    ql, qd, qr = rng.integers(-1, 2, 6), _u1.vec_charges(2), rng.integers(-2, 3, 9)
    rows = (ql[:, None] + qd[None, :]).ravel()
    a = _blocky(rng, rows, qr).reshape(6, 4, 9)
    Q, R, q = _u1.qr_right(a, ql, qd, qr)
    np.testing.assert_allclose(np.tensordot(Q, R, axes=(2, 0)), a, atol=1e-12)
    Qm = Q.reshape(24, -1)
    np.testing.assert_allclose(Qm.conj().T @ Qm, np.eye(q.size), atol=1e-12)
    assert np.all(Qm[rows[:, None] != q[None, :]] == 0)
    cols = (qr[None, :] - qd[:, None]).ravel()
    b = _blocky(rng, ql, cols).reshape(6, 4, 9)
    R, Q, q = _u1.qr_left(b, ql, qd, qr)
    np.testing.assert_allclose(np.tensordot(R, Q, axes=(1, 0)), b, atol=1e-12)
    Qm = Q.reshape(q.size, 36)
    np.testing.assert_allclose(Qm @ Qm.conj().T, np.eye(q.size), atol=1e-12)
    assert np.all(Qm[q[:, None] != cols[None, :]] == 0)


def test_charges_detected_only_when_conserved():
    from qness.tn import _u1
    from qness.tn._superop import bond_generators, superop_terms

    def gens(terms):
        return bond_generators(superop_terms(terms), terms.dims)

    t = xxz_terms(4, delta=0.7, mu=0.3, dephasing=0.2)
    assert _u1.conserving_charges(gens(t), t.dims) is not None
    # a transverse field breaks the charge
    tx = xxz_terms(4, delta=0.7, mu=0.3, dephasing=0.2, extra_h=[((1,), (SX,), 0.3)])
    assert _u1.conserving_charges(gens(tx), tx.dims) is None
    # a sigma^x jump (dephasing in x) breaks it too
    jx = xxz_terms(4, delta=0.7, mu=0.3, dephasing=0.2, extra_jumps=[((2,), (SX,), 0.1)])
    assert _u1.conserving_charges(gens(jx), jx.dims) is None


@pytest.mark.parametrize(
    "terms, charged",
    [
        (xxz_terms(5, delta=1.3, mu=0.4, dephasing=0.1), True),
        (xxz_terms(5, delta=0.5, mu=0.4, extra_h=[((2,), (SX,), 0.4)]), False),  # transverse field
    ],
)
def test_u1_and_dense_runs_agree_with_exact(terms, charged, monkeypatch):
    """With and without charges the solver reaches the exact NESS (rendered matrices, sparse solve)."""
    monkeypatch.setattr("qness.tn._solver.U1_MIN_BOND", 1)  # the blocks on a small chain too
    m = qness.LindbladModel.from_terms(terms)
    n = terms.n_sites
    ness = qness.steady_state(m)
    exact = np.array([ness.expect(ops.embed(SZ, i, [2] * n)).real for i in range(n)])
    for sym in (True, False):
        res = tn.steady_state(terms, tol=1e-5, max_bond=64, symmetry=sym)
        assert res.converged
        np.testing.assert_allclose(res.profile(SZ), exact, atol=1e-4)
        assert res.info["symmetry"] == ("U(1)" if sym and charged else None)


def test_u1_start_outside_the_sector_is_projected(monkeypatch):
    """A product start with coherences (weight outside N_ket = N_bra) is projected onto the sector:
    the same steady state, still with the charges."""
    monkeypatch.setattr("qness.tn._solver.U1_MIN_BOND", 1)
    t = xxz_terms(4, delta=1.0, mu=0.5)
    plus = np.full((2, 2), 0.5)  # |+><+|
    res = tn.steady_state(t, tol=1e-6, initial=[plus] * 4)
    ref = tn.steady_state(t, tol=1e-6, symmetry=False)
    assert res.converged and res.info["symmetry"] == "U(1)" and ref.info["symmetry"] is None
    np.testing.assert_allclose(res.bond_currents(SZ), ref.bond_currents(SZ), atol=1e-5)


def test_u1_only_where_bonds_can_grow():
    """Bonds that cannot reach U1_MIN_BOND (5 spins: 16) run dense, where the blocks cost more than
    they save; 6 spins (64) with the default cap use them."""
    from qness.tn._solver import U1_MIN_BOND

    assert U1_MIN_BOND == 32
    kw = dict(tol=1e-3, time_limit=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.TNConvergenceWarning)
        assert tn.steady_state(xxz_terms(5, delta=1.0, mu=0.5), **kw).info["symmetry"] is None
        assert tn.steady_state(xxz_terms(6, delta=1.0, mu=0.5), **kw).info["symmetry"] == "U(1)"
        small_cap = tn.steady_state(xxz_terms(6, delta=1.0, mu=0.5), max_bond=16, **kw)
    assert small_cap.info["symmetry"] is None


def test_u1_with_the_number_counted_oppositely_on_neighbours(monkeypatch):
    """A spin coupled to a boson by sigma^+ a + h.c. (Jaynes-Cummings) conserves spin-up count plus
    boson number: the basis index counts down spins, so the charge takes opposite signs on the
    two kinds of site. Detected, and the NESS is the exact one."""
    from qness.tn import _u1
    from qness.tn._superop import bond_generators, superop_terms

    monkeypatch.setattr("qness.tn._solver.U1_MIN_BOND", 1)
    d = 3
    a = np.diag(np.sqrt(np.arange(1, d)), 1)
    H = [((0, 1), (SP, a), 0.7), ((0, 1), (SM, a.conj().T), 0.7), ((1, 2), (a.conj().T, SM), 0.4)]
    H += [((1, 2), (a, SP), 0.4), ((1,), (a.conj().T @ a,), 0.3)]
    jumps = [((0,), (SP,), 0.8), ((1,), (a,), 0.5), ((2,), (SM,), 0.3), ((2,), (SP,), 0.1)]
    terms = ChainTerms.create([2, d, 2], H, jumps)
    qs = _u1.conserving_charges(bond_generators(superop_terms(terms), terms.dims), terms.dims)
    assert qs is not None
    assert qs[0][1] * qs[1][1] == -1  # the index charge a - b (vec index 1) enters with opposite signs
    m = qness.LindbladModel.from_terms(terms)
    ness = qness.steady_state(m)
    n_mode = ops.embed(a.conj().T @ a, 1, [2, d, 2])
    res = tn.steady_state(terms, tol=1e-7)
    assert res.converged and res.info["symmetry"] == "U(1)"
    assert abs(res.expect_site(a.conj().T @ a, 1) - ness.expect(n_mode).real) < 1e-6


def test_symmetry_argument_validated():
    with pytest.raises(TypeError, match="symmetry"):
        tn.steady_state(xxz_terms(3, delta=1.0, mu=0.5), symmetry="yes")


def test_two_site_updates_run_on_one_blas_thread(monkeypatch):
    # the updates' SVDs are of (bond x d^2)-row matrices: OpenBLAS's threads on top of them, with the
    # other core busy, made the 6-site runs of examples/tn_transport.ipynb 10-20x slower (29-48 s
    # against 1.4-2.7 s each); below SMALL_BLOCK rows the solver runs on one BLAS thread
    from threadpoolctl import threadpool_info, threadpool_limits

    from qness import _threads
    from qness.tn import _solver

    monkeypatch.setattr(_threads, "_pinned", False)
    seen = []
    apply = _solver._Evolver._apply

    def spy(self, *args, **kwargs):
        seen.append(max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"))
        return apply(self, *args, **kwargs)

    monkeypatch.setattr(_solver._Evolver, "_apply", spy)
    with threadpool_limits(2, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.TNConvergenceWarning)
        res = tn.steady_state(boundary_driven_xxz(4, delta=0.5, mu=0.1), max_bond=8, tol=1e-3)
    assert res.residual < 1e-2
    assert len(seen) > 10 and set(seen) == {1}


@pytest.mark.parametrize("s", [1e-6, 1e3])
def test_tolerance_is_unit_free(s):
    """Every energy and rate times s leaves the NESS unchanged (times scale by 1/s): the same state,
    residual and ``converged`` as s = 1. The residual was in absolute rate units: at s = 1e-6 the
    infinite-temperature start (profile 0) already met tol = 1e-6 and was returned as converged; at
    s = 1e3 the residual was 1e3 times the s = 1 one and tol was never met."""
    kw = dict(delta=0.5, mu=0.5)
    exact = qness.steady_state(boundary_driven_xxz(4, **kw)).rho
    ref_prof = np.real(
        [np.trace(np.kron(np.kron(np.eye(2**i), SZ), np.eye(2 ** (3 - i))) @ exact) for i in range(4)]
    )
    runs = {}
    for x in (1.0, s):
        with warnings.catch_warnings():
            warnings.simplefilter("error", tn.TNConvergenceWarning)
            runs[x] = tn.steady_state(boundary_driven_xxz(4, J=x, gamma=x, **kw), tol=1e-5)
    one, scaled = runs[1.0], runs[s]
    assert one.converged and scaled.converged
    assert scaled.info["returned"] == one.info["returned"] != "initial"
    assert scaled.info["liouvillian_scale"] == pytest.approx(s * one.info["liouvillian_scale"], rel=1e-12)
    assert scaled.residual == pytest.approx(one.residual, rel=1e-6) and scaled.residual <= 1e-5
    err_one = np.abs(one.profile(SZ) - ref_prof).max()
    assert err_one < 1e-4
    assert np.abs(scaled.profile(SZ) - ref_prof).max() < 1.01 * err_one + 1e-12
    np.testing.assert_allclose(scaled.profile(SZ), one.profile(SZ), atol=1e-10)
