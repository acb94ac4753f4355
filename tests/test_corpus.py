"""Every corpus model (benchmarks/corpus.py), at a small size, against the dense null vector of L.

The corpus is what ``benchmarks/bench_corpus.py`` times against QuTiP; here each
family is checked for correctness on every route (Auto, Dense, Direct, Krylov)
at sizes where ``numpy.linalg.svd`` of QuTiP's own Liouvillian is the oracle.
"""

import functools

import numpy as np
import pytest
import qutip
from helpers import corpus_module

import qness
from qness.symmetry import EIG_COND_MAX, full_sector

corpus = corpus_module()
CORPUS = corpus.CORPUS
# one entry per builder (several rows share a builder at different sizes)
FAMILIES = {e.build.__name__: name for name, e in CORPUS.items()}.values()


def dense_null_state(H, c_ops):
    """The steady state from the SVD of QuTiP's dense Liouvillian (column stacking)."""
    L = qutip.liouvillian(H, c_ops).full()
    _, s, vh = np.linalg.svd(L)
    assert s[-2] > 1e-6 * s[0], "the corpus model must have a unique steady state"
    d = H.shape[0]
    rho = vh[-1].conj().reshape((d, d), order="F")
    return rho / np.trace(rho)


@functools.cache
def small_case(name):
    e = CORPUS[name]
    H, c_ops = e.build(e.small)
    return H, c_ops, dense_null_state(H, c_ops)


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("method", [None, "dense", "direct", "krylov"])
def test_corpus_small_matches_dense_null_vector(name, method):
    H, c_ops, rho = small_case(name)
    ness = qness.steady_state((H, c_ops), method)
    np.testing.assert_allclose(ness.rho, rho, rtol=0, atol=1e-8)
    assert ness.residual < 1e-10


def test_jc_sylvester_preconditioner_takes_schur_route_and_is_exact():
    # A driven cavity coupled to a qubit: H_eff's eigenvector matrix has cond ~1e9 at 40 photons,
    # so the eigendecomposition route would be wrong by O(1); the Schur route must be exact.
    H, c_ops = corpus.jaynes_cummings(40)
    model = qness.from_qutip(H, c_ops)
    P = full_sector(model.dim).sylvester_preconditioner(model)
    assert P.route == "schur" and P.cond.max() > EIG_COND_MAX
    d = model.dim
    rng = np.random.default_rng(3)
    X = rng.standard_normal((d, d)) + 1j * rng.standard_normal((d, d))
    A = (-1j * model.H_eff()).toarray()
    for shift in (0.0, 0.3):
        Y = A @ X + X @ A.conj().T - shift * X
        np.testing.assert_allclose(P.solve(Y.ravel(order="F"), shift=shift), X.ravel(order="F"), atol=1e-10)


def test_sylvester_preconditioner_keeps_eig_route_when_safe():
    H, c_ops = corpus.jaynes_cummings(5)
    model = qness.from_qutip(H, c_ops)
    P = full_sector(model.dim).sylvester_preconditioner(model)
    assert P.route == "eig" and P.cond.max() <= EIG_COND_MAX


def test_krylov_converges_on_nonnormal_jc():
    # issue 12: method="krylov" raised ConvergenceError after 2,000 steps on driven JC
    H, c_ops = corpus.jaynes_cummings(40)
    ness = qness.steady_state((H, c_ops), qness.Krylov(verify_unique=False))
    assert ness.info["iterations"] < 200
    ref = qness.steady_state((H, c_ops), "direct")
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)
    np.testing.assert_allclose(ness.rho, qutip.steadystate(H, c_ops).full(), atol=1e-9)


def test_auto_records_estimates_and_falls_back_when_krylov_stalls():
    # a many-body chain goes to Krylov; a budget of one step cannot converge, so Auto must
    # fall back to Direct, say so, and still return the right state
    H, c_ops = corpus.dissipative_ising(5)
    ness = qness.steady_state((H, c_ops), qness.Auto(dense_max=0, krylov_maxiter=1), symmetry=None)
    est = ness.info["auto_estimates"]
    assert est["direct_s"] > 0 and est["krylov_step_s"] > 0 and est["beta"] >= 1
    assert ness.info["auto"].startswith("krylov") and "budget 1 steps" in ness.info["auto"]
    assert ness.info["method"] == "Direct" and "fell back to Direct" in ness.info["auto"]
    np.testing.assert_allclose(ness.rho, dense_null_state(H, c_ops), atol=1e-8)


def test_auto_avoids_dense_above_dense_max():
    H, c_ops = corpus.jaynes_cummings(15)  # 900 unknowns: a sparse LU is 5-20x faster than dense
    ness = qness.steady_state((H, c_ops))
    assert ness.info["method"] == "Direct"
