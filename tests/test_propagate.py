"""exp(tL) v by the Chebyshev propagator, against scipy.linalg.expm of the dense L."""

import numpy as np
import pytest
import scipy.linalg as sla
from helpers import dense_liouvillian, random_model

import qness
from qness.solvers.propagate import ChebyshevPropagator, numerical_range_box
from qness.symmetry import sectors


@pytest.mark.parametrize("dims, seed", [((2,), 0), ((2, 3), 1), ((3, 3), 2)])
@pytest.mark.parametrize("t", [0.05, 1.0, 7.5])
def test_chebyshev_matches_dense_expm(dims, seed, t):
    m = random_model(dims, n_jumps=2, seed=seed)
    L = qness.liouvillian(m)
    v = np.random.default_rng(seed).normal(size=L.shape[0]) + 0j
    ref = sla.expm(t * dense_liouvillian(m)) @ v
    y = ChebyshevPropagator(L).apply(v, t)
    assert np.linalg.norm(y - ref) <= 1e-11 * np.linalg.norm(v)


def test_chebyshev_in_a_sector_of_a_chain():
    m = qness.models.boundary_driven_xxz(5, delta=0.5, gamma=1.0)
    for sec in sectors(m):
        if sec.size < 50:
            continue
        M = sec.matrix(m)
        v = np.random.default_rng(sec.label + 7).normal(size=sec.size) + 1j
        ref = sla.expm(12.0 * M.toarray()) @ v
        prop = ChebyshevPropagator(M)
        y = prop.apply(v, 12.0)
        assert np.linalg.norm(y - ref) <= 1e-11 * np.linalg.norm(v)
        # about t times the long half-axis products, not the 1-norm's Taylor count
        assert prop.matvecs < 4 * 12.0 * prop.f + 200


def test_box_contains_numerical_range_and_eigenvalues():
    m = random_model((2, 3), n_jumps=3, seed=3)
    L = dense_liouvillian(m)
    a, b, c1, c2 = numerical_range_box(qness.liouvillian(m))
    ev = np.linalg.eigvals(L)
    assert np.all((ev.real >= a) & (ev.real <= b) & (ev.imag >= c1) & (ev.imag <= c2))
    X = np.random.default_rng(0).normal(size=(L.shape[0], 200)) + 1j * np.random.default_rng(1).normal(
        size=(L.shape[0], 200)
    )
    X /= np.linalg.norm(X, axis=0)
    w = np.einsum("ij,ij->j", X.conj(), L @ X)  # points of the numerical range
    assert np.all((w.real >= a) & (w.real <= b) & (w.imag >= c1) & (w.imag <= c2))


def test_fused_chebyshev_kernel_matches_reference_and_numpy_path():
    import scipy.sparse.linalg as spla
    from qness._kernels.chebyshev import chebyshev_term

    from qness._kernels.reference import chebyshev_term_reference

    m = qness.models.boundary_driven_xxz(4, delta=0.5, gamma=1.0)
    sec = next(s for s in sectors(m) if s.label == 1)
    M = sec.matrix(m)
    rng = np.random.default_rng(3)
    cur, prev, acc = (rng.normal(size=(3, sec.size)) + 1j * rng.normal(size=(3, sec.size))).copy()
    nxt = np.empty_like(cur)
    args = (0.3 - 1.2j, 1 / (5j), 2.0, 1.0, 0.7 + 0.1j)
    for nthreads in (1, 2):
        out_acc = acc.copy()
        chebyshev_term(M.indptr, M.indices, M.data, cur, prev, nxt, out_acc, *args, nthreads)
        ref_nxt, ref_add = chebyshev_term_reference(M, cur, prev, *args)
        np.testing.assert_allclose(nxt, ref_nxt, rtol=0, atol=1e-13)
        np.testing.assert_allclose(out_acc, acc + ref_add, rtol=0, atol=1e-13)
    # the propagator's fused path equals its NumPy path (a LinearOperator cannot be fused)
    v = rng.normal(size=sec.size) + 0j
    fused = ChebyshevPropagator(M)
    plain = ChebyshevPropagator(spla.aslinearoperator(M), box=fused.box)
    assert fused._fused() is not None and plain._fused() is None
    np.testing.assert_allclose(fused.apply(v, 4.0), plain.apply(v, 4.0), rtol=0, atol=1e-12)
    assert fused.matvecs == plain.matvecs
    with pytest.raises(ValueError, match="inconsistent sizes"):
        chebyshev_term(M.indptr, M.indices, M.data, cur, prev[:-1], nxt, acc, *args, 1)


def test_long_substeps_do_not_overflow_the_series():
    # session-20 review: a spectrum in the left half plane whose ellipse reaches barely right of zero
    # took substeps h with h (right - Re z0) ~ 6000: the series' terms overflowed (NaN, RuntimeWarnings
    # from spectrum's certificate on a dephased XX chain). Oracle: exp(t lambda) on a diagonal M
    import scipy.sparse as sp

    lam = np.array([-1.0, -4.0, -2.5 + 2.0j, -2.5 - 2.0j])
    prop = ChebyshevPropagator(sp.csr_array(sp.diags(lam)))
    assert prop.max_step * (prop.right - prop.center.real) <= 600.0
    v = np.ones(4, dtype=complex)
    h, s = prop.substep(40.0)
    for _ in range(s):
        v = prop.step(v, h)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v, np.exp(40.0 * lam), rtol=1e-10, atol=1e-13)  # (tol: of ||v(0)||)
    assert abs(v[0] - np.exp(-40.0)) < 1e-10 * np.exp(-40.0)
