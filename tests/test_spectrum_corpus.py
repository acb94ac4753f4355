"""Spectra of a corpus of models from many families against dense diagonalisation.

``qness.spectrum(model, k)`` promises the ``k`` eigenvalues with the largest
real part (a conjugate pair cut at the ``k``-th is returned whole), certified,
or a ``SpectrumWarning``. Every model of ``spectrum_corpus.CORPUS`` is checked
with ``k = 1, 4, 8`` against ``numpy.linalg.eigvals`` of the dense Liouvillian
to 1e-8, by the default method and with the dense routes switched off (so the
shift-invert, certificate and propagator-search path is exercised on every
model); ``filterwarnings = error`` makes any warning a failure.
"""

import numpy as np
import pytest
import qutip
from spectrum_corpus import CORPUS, build, dense_spectrum, distance_to_dense

import qness

_DENSE = {}


def reference(name):
    if name not in _DENSE:
        _DENSE[name] = dense_spectrum(build(name))
    return _DENSE[name]


def check(spec, ref, k):
    assert spec.certified and spec.info["exact_rightmost"], spec.info["sectors"]
    assert distance_to_dense(spec.eigenvalues, ref, k) <= 1e-8
    # closed under conjugation: every non-real value comes with its partner
    for lam in spec.eigenvalues:
        if abs(lam.imag) > 1e-8:
            assert np.min(np.abs(spec.eigenvalues - lam.conj())) <= 1e-8, lam
    assert len(spec.eigenvalues) >= k


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_default_method(name):
    model, ref = build(name), reference(name)
    for k in (1, 4, 8):
        spec = qness.spectrum(model, k=k, vectors=False)
        check(spec, ref, k)
        assert spec.gap == pytest.approx(-ref[1].real, abs=1e-8)  # what liouvillian_gap returns


NO_DENSE = qness.AutoEig(dense_max=0, dense_fallback=0)


def check_without_dense(name, k):
    """Without the dense routes: certified and right, or a SpectrumWarning -- never silently wrong.

    Small sectors (at most ``2k + 2`` or 64 unknowns) are still dense: Arnoldi needs room.
    """
    import warnings

    model, ref = build(name), reference(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = qness.spectrum(model, k=k, method=NO_DENSE, vectors=False)
    warned = [w for w in caught if issubclass(w.category, qness.SpectrumWarning)]
    assert len(warned) == len(caught), [str(w.message) for w in caught]
    # whatever is returned is an eigenvalue of L
    for lam in spec.eigenvalues:
        assert np.min(np.abs(ref - lam)) <= 1e-8, lam
    if spec.certified:
        assert not warned
        check(spec, ref, k)
    else:
        assert warned and "not certified" in str(warned[0].message)
    return spec


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_without_dense_routes(name):
    spec = check_without_dense(name, 4)
    if not name.startswith("random"):  # random spectra are dense clusters: a warning is the honest answer
        assert spec.certified


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CORPUS))
@pytest.mark.parametrize("k", [1, 8])
def test_corpus_without_dense_routes_more_k(name, k):
    check_without_dense(name, k)


# ------------------------------------------------------------ the three inputs
def test_driven_cavity_gap_is_half_kappa():
    a = qutip.destroy(33)
    model = (10 * a.dag() * a + 0.5 * (a + a.dag()), [a])
    assert qness.liouvillian_gap(model) == pytest.approx(0.5, abs=1e-9)  # was 1.0
    spec = qness.spectrum(model, k=3)
    assert spec.certified
    # exact spectrum -kappa (m + n)/2 + i omega (m - n): 0, then the pair -0.5 +- 10i
    np.testing.assert_allclose(spec.eigenvalues[0], 0, atol=1e-9)
    np.testing.assert_allclose(sorted(spec.eigenvalues[1:], key=np.imag), [-0.5 - 10j, -0.5 + 10j], atol=1e-9)
    for lam, rho in zip(spec.eigenvalues, spec.eigenmatrices):
        L = qness.liouvillian(qness.model.as_model(model))
        x = rho.ravel(order="F")
        assert np.linalg.norm(L @ x - lam * x) < 1e-8


def test_boundary_time_crystal_pairs():
    j = 16
    model = (2 * qutip.jmat(j, "x"), [np.sqrt(1 / j) * qutip.jmat(j, "-")])
    spec = qness.spectrum(model, k=6, vectors=False)
    # dense: [0, -0.0377, -0.0656 +- 1.7166i, -0.1102, -0.1391 +- 1.7201i, ...]: the 6th value is
    # one of a pair, so seven come back
    expect = [0, -0.0377, -0.0656 + 1.7166j, -0.0656 - 1.7166j, -0.1102, -0.1391 + 1.7201j, -0.1391 - 1.7201j]
    assert len(spec.eigenvalues) == 7 and spec.certified
    for lam in expect:
        assert np.min(np.abs(spec.eigenvalues - lam)) < 1e-4
    ref = reference("boundary time crystal j=16 (issue)")
    assert distance_to_dense(spec.eigenvalues, ref, 6) <= 1e-8


def test_dissipative_ising_6_rightmost_five():
    model = qness.models.dissipative_ising(6, V=2, h=0.5, detuning=0, gamma=1)
    spec = qness.spectrum(model, k=5, vectors=False)
    # the rightmost five (dense diagonalisation, slow test below): 0, -0.589, -0.624, -0.755 +- 1.212i;
    # shift-invert alone returned [0, -0.589, -0.624, -0.840, -0.949 - 0.332i]
    expect = [0, -0.589027, -0.623860, -0.754802 + 1.212310j, -0.754802 - 1.212310j]
    assert spec.certified and len(spec.eigenvalues) == 5
    for lam in expect:
        assert np.min(np.abs(spec.eigenvalues - lam)) < 1e-6


@pytest.mark.slow
def test_dissipative_ising_6_against_dense():
    # the default budget certifies k = 5 and 8; for k = 1 the steady sector's certificate needs
    # 2-3e4 products by its early estimates, more in the end (the default warns and says so): with
    # a generous budget it is certified and exact
    model = qness.models.dissipative_ising(6, V=2, h=0.5, detuning=0, gamma=1)
    ref = dense_spectrum(model)
    for k in (5, 8):
        check(qness.spectrum(model, k=k, vectors=False), ref, k)
    with pytest.warns(qness.SpectrumWarning, match="certify_matvecs="):
        spec = qness.spectrum(model, k=1, vectors=False)
    assert spec.gap == pytest.approx(-ref[1].real, abs=1e-8)
    check(qness.spectrum(model, k=1, method=qness.AutoEig(certify_matvecs=100000), vectors=False), ref, 1)


# ------------------------------------------------------------ bad input
def test_bad_k_and_nan():
    model = build("Rabi")
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            qness.spectrum(model, k=k)
    for k in (2.5, "3"):  # the wrong type (issue 13: TypeError, as Python and QuTiP)
        with pytest.raises(TypeError, match="k must be a positive integer"):
            qness.spectrum(model, k=k)
    with pytest.raises(ValueError, match="k = 577 exceeds the 576 eigenvalues"):
        qness.spectrum(model, k=577)
    a = qutip.destroy(4)
    H = a.dag() * a
    H_nan = H.full()
    H_nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        qness.spectrum((H_nan, [a.full()]), k=2)
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        qness.liouvillian_gap((H_nan, [a.full()]))


# ------------------------------------------------------------ found by trying to break it
def test_tied_real_parts_keep_conjugate_pairs():
    # linear driven cavity: eigenvalues -(m + n)/2 + 3i(m - n) tie in real part; the dense route
    # used to cut -1.5 - 9i from its partner (rounding decided the order among equal real parts)
    m = qness.models.kerr(15, detuning=3.0, U=0.0, F=0.5, kappa=1.0)
    spec = qness.spectrum(m, 7)
    check(spec, dense_spectrum(m), 7)
    three = sum(qutip.tensor([qutip.sigmaz() if i == j else qutip.qeye(2) for i in range(3)]) * w
                for j, w in enumerate([0.9, 1.3, 2.1]))  # fmt: skip
    c = [qutip.tensor([qutip.sigmam() if i == j else qutip.qeye(2) for i in range(3)]) for j in range(3)]
    spec = qness.spectrum((three, c), 1, symmetry=None)
    np.testing.assert_allclose(
        sorted(spec.eigenvalues, key=np.imag), [-0.5 - 1.8j, 0, -0.5 + 1.8j], atol=1e-9
    )


@pytest.mark.parametrize(
    "model, gap",
    [
        (qness.models.bose_hubbard(2, cutoff=4, J=3e3, U=0.0, detuning=0.0, F=1.0, kappa=1.0), 0.5),
        (qness.models.kerr(20, detuning=0.0, U=0.0, F=1e4, kappa=1.0), 0.5),
        (qness.models.collective_fluorescence(5, omega=1e5, gamma=1.0), 0.5),
    ],
    ids=["bose-hubbard J=3e3", "kerr F=1e4", "fluorescence omega=1e5"],
)
def test_zero_is_recognised_when_L_is_large_off_the_diagonal(model, gap):
    # the computed zero is off by ~1e-16 ||L||, and ||L|| ~ F or J >> the diagonal: the gap was nan
    assert qness.liouvillian_gap(model) == pytest.approx(gap, abs=1e-6)
    assert qness.spectrum(model, 2, vectors=False).gap == pytest.approx(gap, abs=1e-6)


def test_degenerate_steady_state_with_a_large_hamiltonian_has_gap_zero():
    # two decoupled blocks (two steady states) with ||H|| ~ 1e4 and a zero diagonal: the gap is 0,
    # not a tiny positive or negative number
    rng = np.random.default_rng(5)
    d1, d = 6, 12
    H = np.zeros((d, d), complex)
    C = np.zeros((d, d))
    for sl in (slice(0, d1), slice(d1, d)):
        A = rng.standard_normal((d1, d1)) + 1j * rng.standard_normal((d1, d1))
        A = A + A.conj().T
        np.fill_diagonal(A, 0)
        H[sl, sl] = 1e4 * A
        C[sl, sl] = 0.3 * rng.standard_normal((d1, d1))
    assert qness.liouvillian_gap((H, [C])) == 0.0
    assert qness.spectrum((H, [C]), 3).gap == 0.0
