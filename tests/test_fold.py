"""The q = 0 sector folded by a symmetry that reverses the charge (qness.symmetry.detect_fold).

Oracles: the full Liouvillian (column stacking) on the even and odd states the fold stands for,
and dense steady states of the whole space.
"""

import warnings

import numpy as np
import pytest
import qutip
from helpers import dense_steady_state

import qness
from qness.liouvillian import liouvillian
from qness.solvers import steady
from qness.symmetry import detect_fold, steady_sector

XXZ = [
    (4, dict(delta=0.5)),
    (5, dict(delta=0.5)),
    (4, dict(delta=0.5, mu=0.3)),
    (5, dict(delta=0.5, mu=0.5, dephasing=0.2)),
    (6, dict(delta=1.3, mu=0.2, dephasing=0.1)),
]


def oracle(model):
    """The steady state of the whole space: dense SVD up to d = 32, else the sparse LU of the
    full space (no sector, no fold)."""
    if model.dim <= 32:
        return dense_steady_state(model)
    return qness.steady_state(model, "direct", symmetry=None).rho


def charges(sector):
    out = np.zeros(sector.d, dtype=np.int64)
    for v, idx in zip(sector.block_labels, sector.blocks):
        out[idx] = v
    return out


def folded(model):
    full = steady_sector(model, model.u1() or qness.symmetry.detect_symmetry(model))
    assert full.kind == "u1"
    return full, detect_fold(model, charges(full))


def embeddings(model, fold):
    """``P``, ``E_up`` and ``E_mid`` (the folded basis in the original one) as dense arrays."""
    d = model.dim
    full = folded(model)[0]
    two = 2 * charges(full)
    up, mid = np.flatnonzero(two > fold.c0), np.flatnonzero(two == fold.c0)
    P = np.zeros((d, d))
    P[fold.perm, np.arange(d)] = 1
    Eu = np.zeros((d, up.size))
    Eu[up, np.arange(up.size)] = 1
    Em = np.zeros((d, mid.size))
    Em[mid] = fold.mid_basis
    return P, Eu, Em


@pytest.mark.parametrize("n, kw", XXZ)
def test_folded_liouvillian_is_the_even_dynamics(n, kw):
    model = qness.models.boundary_driven_xxz(n, **kw)
    full, fold = folded(model)
    assert fold is not None and fold.name == "level flip x reflection"
    # even states: (n_up sector q, its mirror) and the middle block's P-even part, half the unknowns
    assert abs(fold.sector.size - full.size / 2) <= full.size / 4
    rng = np.random.default_rng(n)
    xf = rng.normal(size=fold.sector.size) + 1j * rng.normal(size=fold.sector.size)
    x = fold.unfold(xf, full)
    rho = full.to_full(x)
    P = embeddings(model, fold)[0]
    np.testing.assert_allclose(P @ rho @ P.T, rho, atol=1e-15)  # even
    np.testing.assert_allclose(np.trace(rho), fold.sector.trace_vector() @ xf, rtol=1e-14)
    np.testing.assert_allclose(fold.fold(x, full), xf, atol=1e-14)
    L = liouvillian(model)
    # the folded Lindbladian applied to xf is the fold of L applied to the even state
    lhs = fold.sector.matrix(fold.model) @ xf
    rhs = fold.fold(full.from_full((L @ rho.ravel(order="F")).reshape(rho.shape, order="F")), full)
    np.testing.assert_allclose(lhs, rhs, atol=1e-13 * np.abs(rhs).max())
    # and it is a Lindbladian: its steady state unfolds to the model's
    ness = qness.steady_state(fold.model, "dense")
    got = full.to_full(fold.unfold(fold.sector.from_full(ness.rho), full))
    np.testing.assert_allclose(got, oracle(model), atol=1e-12)


@pytest.mark.parametrize("n, kw", XXZ)
def test_odd_operator_is_the_odd_dynamics(n, kw):
    model = qness.models.boundary_driven_xxz(n, **kw)
    full, fold = folded(model)
    odd = fold.odd_sector()
    assert odd.size + fold.sector.size == full.size
    rng = np.random.default_rng(n + 10)
    x = rng.normal(size=odd.size) + 1j * rng.normal(size=odd.size)
    ref = odd_dynamics(model, fold, odd, x)
    np.testing.assert_allclose(fold.odd_operator(odd) @ x, ref, atol=1e-13 * np.abs(ref).max())
    # assembled (the odd states' check applies it in its two-step preconditioner)
    np.testing.assert_allclose(fold.odd_matrix(odd) @ x, ref, atol=1e-13 * np.abs(ref).max())


def odd_dynamics(model, fold, odd, x):
    """Oracle: the full ``L`` on the odd state whose folded vector is ``x``, folded back."""
    P, Eu, Em = embeddings(model, fold)
    nu = Eu.shape[1]
    r = odd.to_full(x)
    up = Eu @ (r[:nu, :nu] / 2) @ Eu.T
    rho = up - P @ up @ P.T + Em @ r[nu:, nu:] @ Em.T
    np.testing.assert_allclose(P @ rho @ P.T, -rho, atol=1e-15)  # odd
    d = model.dim
    drho = (liouvillian(model) @ rho.ravel(order="F")).reshape((d, d), order="F")
    y = np.zeros_like(r)
    y[:nu, :nu] = Eu.T @ (drho - P @ drho @ P.T) @ Eu
    y[nu:, nu:] = Em.T @ drho @ Em
    return odd.from_full(y)


def qubit_and_ancilla(na=3):
    """A qubit (the charge: its excitation) and an ``na``-level ancilla that hops symmetrically;
    the level flip of both reverses the charge. The folded space is one block (the qubit up) and
    has no middle, so the odd states are a single block pair of the whole folded space."""
    k = np.arange(na)
    A = qutip.Qobj(np.diag(np.ones(na - 1), 1) + np.diag(np.ones(na - 1), -1))
    X = qutip.Qobj(np.diag(k - (na - 1) / 2))
    H = qutip.tensor(qutip.qeye(2), A) + 0.5 * qutip.tensor(qutip.sigmaz(), X)
    c_ops = [
        qutip.tensor(qutip.sigmam(), qutip.qeye(na)),
        qutip.tensor(qutip.sigmap(), qutip.qeye(na)),
        0.7 * qutip.tensor(qutip.qeye(2), X),
    ]
    return qness.from_qutip(H, c_ops)


def test_odd_operator_of_a_single_block():
    # the odd states' operator was the compiled Liouvillian of the folded (even) model whenever
    # their sector was one block holding the whole folded space (second review, session 12)
    model = qubit_and_ancilla()
    full, fold = folded(model)
    assert fold.name == "level flip" and fold.model.dim == 3
    odd = fold.odd_sector()
    assert len(odd.pairs) == 1 and odd.size == 9
    rng = np.random.default_rng(3)
    x = rng.normal(size=9) + 1j * rng.normal(size=9)
    ref = odd_dynamics(model, fold, odd, x)
    np.testing.assert_allclose(fold.odd_operator(odd) @ x, ref, atol=1e-13 * np.abs(ref).max())
    # assembled (the odd states' check applies it in its two-step preconditioner)
    np.testing.assert_allclose(fold.odd_matrix(odd) @ x, ref, atol=1e-13 * np.abs(ref).max())


def test_single_block_fold_solves(small_folds):
    model = qubit_and_ancilla()
    ness = qness.steady_state(model, "krylov")
    assert ness.info["fold"]["size"] == 9 and ness.info["uniqueness"]["odd_sector"]["verified"]
    np.testing.assert_allclose(ness.rho, oracle(model), atol=1e-10)


def test_ilu_preconditioner_is_not_folded(small_folds):
    # the odd states' check built its incomplete LU from the folded model's matrix, the wrong
    # operator: a false NonUniqueSteadyStateError (second review, session 12)
    for kw in [{}, dict(mu=0.4, dephasing=0.1)]:
        model = qness.models.boundary_driven_xxz(5, delta=0.5, **kw)
        ness = qness.steady_state(model, qness.Krylov(preconditioner="ilu"))
        assert "fold" not in ness.info
        np.testing.assert_allclose(ness.rho, oracle(model), atol=1e-10)


def test_detect_fold_checks_its_charges():
    model = qness.models.boundary_driven_xxz(4, delta=0.5)
    with pytest.raises(ValueError, match=r"one integer charge per basis state \(shape \(16,\)\)"):
        detect_fold(model, np.zeros(15))
    with pytest.raises(ValueError, match="non-integer"):
        detect_fold(model, np.full(16, 0.5))


def test_no_fold_without_the_symmetry():
    # a field on one end spin breaks the flip x reflection (and every other candidate)
    model = qness.models.boundary_driven_xxz(6, delta=0.5)
    field = qness.from_qutip(
        qutip.Qobj(model.H.toarray(), dims=[[2] * 6] * 2)
        + 0.2 * qutip.tensor([qutip.sigmaz()] + [qutip.qeye(2)] * 5),
        [qutip.Qobj(j.L.toarray(), dims=[[2] * 6] * 2) for j in model.jumps],
    )
    full = steady_sector(field, qness.symmetry.detect_symmetry(field))
    assert detect_fold(field, charges(full)) is None
    ness = qness.steady_state(field, "krylov")
    assert "fold" not in ness.info
    np.testing.assert_allclose(ness.rho, oracle(field), atol=1e-10)


@pytest.fixture
def small_folds(monkeypatch):
    """Fold at any size (the default threshold is where the fold pays, d = 256)."""
    monkeypatch.setattr(steady, "FOLD_MIN_DIM", 2)


def test_fold_threshold():
    model = qness.models.boundary_driven_xxz(7, delta=0.5)
    assert model.dim < steady.FOLD_MIN_DIM
    assert "fold" not in qness.steady_state(model, "krylov").info
    big = qness.models.boundary_driven_xxz(8, delta=0.5)
    assert big.dim >= steady.FOLD_MIN_DIM
    assert qness.steady_state(big, "krylov").info["fold"]["symmetry"] == "level flip x reflection"


@pytest.mark.parametrize("n", [6, 7])
def test_krylov_solves_the_folded_sector(n, small_folds):
    model = qness.models.boundary_driven_xxz(n, delta=0.5, mu=0.4, dephasing=0.05)
    ness = qness.steady_state(model, "krylov")
    assert ness.info["fold"]["symmetry"] == "level flip x reflection"
    assert ness.info["sector"]["kind"] == "u1" and ness.info["fold"]["size"] < ness.info["sector"]["size"]
    uniq = ness.info["uniqueness"]
    assert uniq["verified"] and uniq["odd_sector"]["verified"]
    assert uniq["odd_sector"]["size"] + ness.info["fold"]["size"] == ness.info["sector"]["size"]
    np.testing.assert_allclose(ness.rho, oracle(model), atol=1e-10)
    assert ness.residual <= 1e-11
    # the same through Auto, and without the fold (the U(1) given)
    plain = qness.steady_state(model, "krylov", symmetry=model.u1())
    assert "fold" not in plain.info
    np.testing.assert_allclose(plain.rho, ness.rho, atol=1e-10)


def test_folded_solve_takes_a_warm_start(small_folds):
    model = qness.models.boundary_driven_xxz(7, delta=0.5)
    first = qness.steady_state(model, "krylov")
    again = qness.steady_state(model, "krylov", x0=first)
    assert again.info["fold"] and again.info["iterations"] < first.info["iterations"]
    np.testing.assert_allclose(again.rho, first.rho, atol=1e-10)
    near = qness.steady_state(qness.models.boundary_driven_xxz(7, delta=0.55), "krylov", x0=first)
    ref = oracle(qness.models.boundary_driven_xxz(7, delta=0.55))
    np.testing.assert_allclose(near.rho, ref, atol=1e-10)


def ferromagnet(n=6):
    """Spins that align with a neighbour: ``sigma+_i`` if a neighbour is up, ``sigma-_i`` if one is
    down. All up and all down are both absorbing: two steady states, which the level flip (it
    reverses the number of up spins) exchanges."""

    def op(o, i):
        ops = [qutip.qeye(2)] * n
        ops[i] = o
        return qutip.tensor(ops)

    up = qutip.basis(2, 0).proj()
    down = qutip.basis(2, 1).proj()
    H = sum(0.7 * op(qutip.sigmaz(), i) * op(qutip.sigmaz(), i + 1) for i in range(n - 1))
    hop = [op(qutip.sigmap(), i) * op(qutip.sigmam(), i + 1) for i in range(n - 1)]
    H += sum(0.3 * (h + h.dag()) for h in hop)
    c_ops = []
    for i in range(n):
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                c_ops += [op(qutip.sigmap(), i) * op(up, j), op(qutip.sigmam(), i) * op(down, j)]
    return qness.from_qutip(H, c_ops)


@pytest.mark.parametrize("method", ["krylov", "auto", "direct"])
def test_two_steady_states_the_fold_exchanges_are_not_unique(method, small_folds):
    # the folded (even) sector holds one state, their mixture; the odd states hold the other
    model = ferromagnet()
    full, fold = folded(model)
    assert fold is not None and fold.name == "level flip"
    # Krylov finds it in the odd states (the folded solve's own check passes); the LU routes solve
    # the whole sector and find the trace-augmented matrix singular
    match = "odd under the level flip" if method == "krylov" else "singular"
    with pytest.raises(qness.NonUniqueSteadyStateError, match=match):
        qness.steady_state(model, method)


def test_folded_krylov_failure_reports_the_original_state(small_folds):
    model = qness.models.boundary_driven_xxz(7, delta=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(qness.ConvergenceError) as err:
            qness.steady_state(model, qness.Krylov(preconditioner=None, maxiter=5, verify_unique=False))
    rho = err.value.rho
    assert rho.shape == (model.dim, model.dim)
    np.testing.assert_allclose(np.trace(rho), 1.0, rtol=1e-12)
    x = steady_sector(model).from_full(rho)
    np.testing.assert_allclose(err.value.residual, steady._System(model, steady_sector(model)).residual(x))
