"""Exchange symmetries (reflection of a chain, level flip): solved in their eigenbasis (issue 18)."""

import numpy as np
import pytest
import qutip
import scipy.sparse.linalg as spla
from helpers import dense_liouvillian

import qness
from qness.symmetry import detect_exchange


def ising(n):
    return qness.models.dissipative_ising(n, V=1.0, h=1.0, detuning=0.0, gamma=1.0)


@pytest.mark.parametrize("n, jumps", [(3, "once"), (4, "once"), (5, "once"), (4, "twice"), (4, "reversed")])
def test_the_exchange_basis_carries_the_same_liouvillian(n, jumps):
    model = ising(n)
    if jumps == "twice":  # each jump twice: the partners must still pair one to one
        model = model.replace(jumps=model.jumps + model.jumps)
    elif jumps == "reversed":
        model = model.replace(jumps=model.jumps[::-1])
    found = detect_exchange(model)
    assert found is not None
    m2, W, name = found
    assert name == "reflection"
    Wd = W.toarray()
    assert np.allclose(Wd.T @ Wd, np.eye(model.dim), atol=1e-14)
    U = np.kron(Wd, Wd)  # vec(W X W^T) = (W (x) W) vec(X), W real
    L, L2 = dense_liouvillian(model), dense_liouvillian(m2)
    assert np.max(np.abs(U.T @ L @ U - L2)) < 1e-13
    # every operator of the new model has a parity: H even, each jump even or odd
    z2 = m2.z2()
    p = np.asarray(z2.parities)
    H = m2.H.toarray()
    assert np.all(H[p[:, None] != p[None, :]] == 0)
    for j, s in zip(m2.jumps, z2.jump_parities):
        A = j.op.toarray()
        assert np.all(A[p[:, None] * p[None, :] != s] == 0)


def test_a_broken_reflection_is_not_taken():
    model = ising(4)
    H = model.H.toarray()
    H[0, 0] += 0.3  # |0000> only: still reflection-symmetric
    assert detect_exchange(model.replace(H=H)) is not None
    H[1, 1] += 0.3  # |0001> but not |1000>
    assert detect_exchange(model.replace(H=H)) is None
    H[1, 1] -= 0.3 - 1e-12 * np.abs(H).max()  # broken at 1e-12: imposing it would move the state
    assert detect_exchange(model.replace(H=H)) is None
    rates = [j.rate for j in model.jumps]
    jumps = list(model.jumps)
    jumps[0] = jumps[0].__class__(op=jumps[0].op, rate=rates[0] * 1.5, label="faster")
    assert detect_exchange(model.replace(jumps=tuple(jumps))) is None


def test_a_level_flip_is_found():
    # transverse field and sigma_z sigma_z coupling with dephasing: sigma_z -> -sigma_z is a symmetry,
    # and a field on the first site only breaks the reflection
    sx, sz, I = qutip.sigmax(), qutip.sigmaz(), qutip.qeye(2)
    H = qutip.tensor(sx, I, I) * 0.7 + qutip.tensor(sx, I, I) + qutip.tensor(I, sx, I) * 0.4
    H = H + qutip.tensor(sz, sz, I) + qutip.tensor(I, sz, sz) * 0.5
    c = [0.3 * qutip.tensor(sz, I, I), 0.2 * qutip.tensor(I, sz, I), 0.4 * qutip.tensor(I, I, sz)]
    _, _, name = detect_exchange(qness.from_qutip(H, c))
    assert name == "level flip"


@pytest.mark.parametrize("method", [qness.Dense(), qness.Direct(), qness.Krylov()])
def test_every_route_in_the_reflection_basis_agrees_with_the_full_space(method, monkeypatch):
    import qness.solvers.steady as st

    monkeypatch.setattr(st, "EXCHANGE_MIN_DIM", 16)  # Ising 5, d = 32: Dense fits
    model = ising(5)
    ness = qness.steady_state(model, method)
    assert ness.info["sector"]["basis"] == "reflection"
    assert ness.info["uniqueness"]["odd_sector"]["verified"]
    full = qness.steady_state(model, method, symmetry=None)
    assert np.max(np.abs(ness.rho - full.rho)) < 1e-10


@pytest.mark.parametrize("method", [None, qness.Krylov()])  # Direct: 20 s of near-dense LUs
def test_ising_7_in_the_reflection_basis_agrees_with_the_full_space(method):
    model = ising(7)  # d = 128 >= EXCHANGE_MIN_DIM
    ness = qness.steady_state(model, method)
    even = 2**4 + (2**7 - 2**4) // 2  # palindromes, and one of each mirrored pair
    odd = 2**7 - even
    assert ness.info["sector"] == {"kind": "z2", "label": 1, "size": even**2 + odd**2, "basis": "reflection"}
    assert ness.info["uniqueness"]["odd_sector"]["verified"]
    assert ness.info["uniqueness"]["odd_sector"]["size"] == 2 * even * odd
    full = qness.steady_state(model, symmetry=None)  # Auto: Krylov (a Direct LU takes 40 s here)
    assert "basis" not in full.info["sector"]
    assert np.max(np.abs(ness.rho - full.rho)) < 1e-10
    assert ness.residual < 1e-10
    L = qness.liouvillian(model)
    assert np.linalg.norm(L @ ness.rho.ravel(order="F")) == pytest.approx(ness.residual, rel=1e-6, abs=1e-14)
    # a warm start is taken into the exchange basis
    if isinstance(method, qness.Krylov):
        warm = qness.steady_state(model, method, x0=full)
        assert warm.info["iterations"] < ness.info["iterations"]
        assert np.max(np.abs(warm.rho - full.rho)) < 1e-10


def test_small_models_keep_the_full_space():
    ness = qness.steady_state(ising(6))  # d = 64: the exchange basis does not pay there
    assert ness.info["sector"]["kind"] == "full"


def trapped_pair(untrap=0.0, n=10):
    """Two identical n-level sites (d = n^2 >= 100), each driven 0 <-> 1 and decaying 1 -> 0; a site
    falls into its trap level 2 only while the other is free, and levels >= 3 decay to 0. Without
    ``untrap`` there are two steady states (site A trapped with B driven, and the mirror image), which
    the reflection exchanges: its +1 sector holds only their mixture. ``untrap`` (2 -> 1) makes the
    steady state unique."""
    ident = qutip.qeye(n)

    def op(i, j):
        return qutip.basis(n, i) * qutip.basis(n, j).dag()

    H, c = 0, []
    both = qutip.tensor(op(2, 2), op(2, 2))
    for site in (0, 1):
        emb = (lambda A: qutip.tensor(A, ident)) if site == 0 else (lambda A: qutip.tensor(ident, A))
        free = ident - op(2, 2)
        other_free = qutip.tensor(ident, free) if site == 0 else qutip.tensor(free, ident)
        H = H + 0.6 * emb(op(0, 1) + op(1, 0))
        c.append(np.sqrt(0.4) * emb(op(0, 1)))
        c.append(np.sqrt(0.3) * emb(op(2, 1)) * other_free)
        c.append(emb(op(0, 2)) * both)  # both trapped (unreachable anyway): one site lets go
        c += [emb(op(0, k)) for k in range(3, n)]
        if untrap:
            c.append(np.sqrt(untrap) * emb(op(1, 2)))
    return qness.from_qutip(H, c)


def _zero_modes(model):
    L = qness.liouvillian(model).tocsc()
    w = spla.eigs(L, k=4, sigma=1e-7, return_eigenvectors=False)
    return int(np.sum(np.abs(w) < 1e-10))


@pytest.mark.parametrize("method", [None, qness.Direct(), qness.Krylov()])
def test_two_trapped_states_the_reflection_exchanges_are_not_unique(method):
    # the reflection basis's parity +1 sector held their mixture, returned with a UniquenessWarning
    # until session 21; an error now, as the full space gives
    model = trapped_pair()
    assert _zero_modes(model) == 2
    with pytest.raises(qness.NonUniqueSteadyStateError, match="parity -1 sector"):
        qness.steady_state(model, method)
    with pytest.raises(qness.NonUniqueSteadyStateError):
        qness.steady_state(model, qness.Direct(), symmetry=None)


@pytest.mark.parametrize("method", [None, qness.Direct(), qness.Krylov()])
def test_the_untrapped_pair_is_unique_and_agrees_with_the_full_space(method):
    model = trapped_pair(untrap=0.05)
    assert _zero_modes(model) == 1
    ness = qness.steady_state(model, method)
    assert ness.info["sector"]["basis"] == "reflection"
    full = qness.steady_state(model, qness.Direct(), symmetry=None)
    assert np.max(np.abs(ness.rho - full.rho)) < 1e-9
