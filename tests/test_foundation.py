"""Operators, model validation and Liouvillian assembly against QuTiP."""

import numpy as np
import pytest
import qutip
import scipy.sparse as sp
from helpers import dense_liouvillian, random_model

import qness
from qness import operators as ops
from qness._kernels.reference import apply_reference, assemble_reference
from qness.liouvillian import lindblad_arrays


# ---------------------------------------------------------------- operators
def test_pauli_and_spin_match_qutip():
    for ours, theirs in [
        (ops.sigmax(), qutip.sigmax()),
        (ops.sigmay(), qutip.sigmay()),
        (ops.sigmaz(), qutip.sigmaz()),
        (ops.sigmap(), qutip.sigmap()),
        (ops.sigmam(), qutip.sigmam()),
    ]:
        np.testing.assert_array_equal(ours.toarray(), theirs.full())
    for j in (0.5, 1, 1.5, 3):
        for k in ("x", "y", "z", "+", "-"):
            np.testing.assert_allclose(ops.spin_ops(j)[k].toarray(), qutip.jmat(j, k).full(), atol=1e-14)


def test_bosons_match_qutip():
    for n in (2, 7):  # qutip.destroy(1) fails inside QuTiP 5.3 (empty diagonal)
        np.testing.assert_allclose(ops.destroy(n).toarray(), qutip.destroy(n).full(), atol=1e-15)
        np.testing.assert_allclose(ops.create(n).toarray(), qutip.create(n).full(), atol=1e-15)
        np.testing.assert_allclose(ops.num(n).toarray(), qutip.num(n).full(), atol=1e-15)


def test_operators_are_complex_csr():
    for op in (ops.sigmax(), ops.destroy(4), ops.jz(2), ops.embed("sigmaz", 2, (2, 3, 2))):
        assert isinstance(op, sp.csr_array) and op.dtype == np.complex128


def test_embed_matches_qutip_tensor_mixed_dims():
    dims = (2, 3, 2)
    a = ops.embed("destroy", 1, dims)
    ref = qutip.tensor(qutip.qeye(2), qutip.destroy(3), qutip.qeye(2)).full()
    np.testing.assert_allclose(a.toarray(), ref)
    two = ops.chain_operator({0: "sigmap", 2: "sigmaz"}, dims)
    ref2 = qutip.tensor(qutip.sigmap(), qutip.qeye(3), qutip.sigmaz()).full()
    np.testing.assert_allclose(two.toarray(), ref2)


def test_jordan_wigner_anticommutation():
    n = 4
    c = [ops.fermion_annihilation(j, n) for j in range(n)]
    cd = [ops.fermion_creation(j, n) for j in range(n)]
    eye = np.eye(2**n)
    for i in range(n):
        for j in range(n):
            acomm = (c[i] @ cd[j] + cd[j] @ c[i]).toarray()
            np.testing.assert_allclose(acomm, eye if i == j else 0 * eye, atol=1e-14)
            np.testing.assert_allclose((c[i] @ c[j] + c[j] @ c[i]).toarray(), 0, atol=1e-14)
        np.testing.assert_allclose((cd[i] @ c[i]).toarray(), ops.fermion_number(i, n).toarray())
    # occupied = spin up: n = (1 + sigma_z)/2
    nz = 0.5 * (np.eye(2**n) + ops.embed("sigmaz", 2, (2,) * n).toarray())
    np.testing.assert_allclose(ops.fermion_number(2, n).toarray(), nz)


def test_qobj_round_trip():
    q = qutip.tensor(qutip.sigmax(), qutip.destroy(3))
    m, dims = ops.from_qobj(q)
    assert dims == (2, 3)
    back = ops.to_qobj(m, dims)
    assert back.dims == q.dims
    np.testing.assert_allclose(back.full(), q.full())


def test_local_op_errors():
    with pytest.raises(ValueError, match="unknown local operator"):
        ops.local_op("sigmaq", 2)
    with pytest.raises(ValueError, match="local dimension 2"):
        ops.local_op("sigmax", 3)
    with pytest.raises(ValueError, match="shape"):
        ops.local_op(np.eye(3), 2)
    with pytest.raises(ValueError, match="out of range"):
        ops.embed("sigmax", 3, (2, 2))


# ---------------------------------------------------------------- model
def test_from_qutip_and_arrays_give_same_model():
    H = qutip.tensor(qutip.sigmaz(), qutip.qeye(3)) + qutip.tensor(qutip.sigmax(), qutip.num(3))
    c = [qutip.tensor(qutip.sigmam(), qutip.qeye(3)), qutip.tensor(qutip.qeye(2), qutip.destroy(3))]
    m1 = qness.from_qutip(H, c)
    m2 = qness.from_qutip(H.full(), [sp.csr_matrix(x.full()) for x in c], dims=(2, 3))
    assert m1.dims == m2.dims == (2, 3)
    np.testing.assert_allclose(qness.liouvillian(m1).toarray(), qness.liouvillian(m2).toarray())
    Hq, cq = m1.to_qutip()
    assert Hq.dims == H.dims and len(cq) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(H=np.ones((2, 3)), c_ops=[]), "square"),
        (dict(H=np.array([[0, 1], [0, 0]]), c_ops=[]), "not Hermitian"),
        (dict(H=np.array([[np.nan, 0], [0, 0]]), c_ops=[]), "non-finite"),
        (dict(H=np.eye(2), c_ops=[np.eye(3)]), r"jumps\[0\].op has shape"),
        (dict(H=np.eye(2), c_ops=[np.array([[0, np.inf], [0, 0]])]), "non-finite"),
        (dict(H=np.eye(2), c_ops=[np.eye(2)], rates=[-1.0]), "non-negative"),
        (dict(H=np.eye(2), c_ops=[np.eye(2)], rates=[np.nan]), "finite"),
        (dict(H=np.eye(4), c_ops=[], dims=(2, 3)), "dims"),
        (dict(H=np.eye(2), c_ops=[np.eye(2)], rates=[1.0, 2.0]), "rates has 2"),
        (dict(H=np.zeros((2, 2, 2)), c_ops=[]), "two-dimensional"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        qness.from_qutip(**kwargs)


def test_qobj_dims_mismatch():
    with pytest.raises(ValueError, match="dims"):
        qness.from_qutip(qutip.tensor(qutip.sigmaz(), qutip.qeye(2)), [qutip.destroy(4)])


def test_model_is_frozen_and_inputs_not_mutated():
    H = np.diag([1.0, -1.0]).astype(complex)
    c = np.array([[0, 0], [1, 0]], dtype=complex)
    H0, c0 = H.copy(), c.copy()
    m = qness.from_qutip(H, [c])
    np.testing.assert_array_equal(H, H0)
    np.testing.assert_array_equal(c, c0)
    with pytest.raises(AttributeError):
        m.H = None


def test_builder_chain_matches_qutip_construction():
    n, J, delta = 4, 0.7, 0.3
    b = qness.ModelBuilder(2, n=n)
    b.add_coupling(J, "sigmax", "sigmax").add_coupling(J, "sigmay", "sigmay")
    b.add_coupling(J * delta, "sigmaz", "sigmaz")
    b.add_onsite([0.1, 0.2, 0.3, 0.4], "sigmaz")
    b.add_jump("sigmap", 0.5, sites=0, bath="left").add_jump("sigmam", 0.8, sites=-1, bath="right")
    m = b.build()

    def site(op, i):
        return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])

    H = 0
    for i in range(n - 1):
        H += J * (site(qutip.sigmax(), i) * site(qutip.sigmax(), i + 1))
        H += J * (site(qutip.sigmay(), i) * site(qutip.sigmay(), i + 1))
        H += J * delta * (site(qutip.sigmaz(), i) * site(qutip.sigmaz(), i + 1))
    for i, h in enumerate([0.1, 0.2, 0.3, 0.4]):
        H += h * site(qutip.sigmaz(), i)
    c = [np.sqrt(0.5) * site(qutip.sigmap(), 0), np.sqrt(0.8) * site(qutip.sigmam(), n - 1)]
    np.testing.assert_allclose(m.H.toarray(), H.full(), atol=1e-13)
    np.testing.assert_allclose(qness.liouvillian(m).toarray(), qutip.liouvillian(H, c).full(), atol=1e-12)
    assert set(m.baths) == {"left", "right"}
    assert [j.bath for j in m.jumps] == ["left", "right"]


def test_builder_periodic_bonds_and_per_bond_strengths():
    b = qness.ModelBuilder(2, n=4)
    assert b.bonds(1, "open") == [(0, 1), (1, 2), (2, 3)]
    assert b.bonds(1, "periodic") == [(0, 1), (1, 2), (2, 3), (3, 0)]
    b.add_coupling([1, 2, 3, 4], "sigmaz", "sigmaz", boundary="periodic")
    m = b.build()
    zz = ops.chain_operator({3: "sigmaz", 0: "sigmaz"}, (2,) * 4)
    ref = (
        sum(
            s * ops.chain_operator({i: "sigmaz", j: "sigmaz"}, (2,) * 4).toarray()
            for s, (i, j) in zip([1, 2, 3], [(0, 1), (1, 2), (2, 3)])
        )
        + 4 * zz.toarray()
    )
    np.testing.assert_allclose(m.H.toarray(), ref)
    with pytest.raises(ValueError, match="4 entries"):
        qness.ModelBuilder(2, n=4).add_coupling([1, 2], "sigmaz", "sigmaz", boundary="periodic")
    with pytest.raises(ValueError, match="boundary"):
        b.bonds(1, "twisted")


def test_builder_rejects_bad_input():
    b = qness.ModelBuilder(2, n=3)
    with pytest.raises(ValueError, match="non-negative"):
        b.add_jump("sigmam", -0.1)
    with pytest.raises(ValueError, match="not Hermitian"):
        b.add_coupling(1.0, "sigmap", "sigmam")
    with pytest.raises(ValueError, match="out of range"):
        b.add_onsite(1.0, "sigmaz", sites=[5])
    with pytest.raises(ValueError, match="non-finite"):
        b.add_onsite([1.0, np.nan, 1.0], "sigmaz")


def test_u1_symmetry_declared_and_checked():
    b = qness.ModelBuilder(2, n=3)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True).add_onsite(0.5, "sigmaz")
    b.add_jump("sigmap", 1.0, sites=0).add_jump("sigmam", 1.0, sites=2)
    b.add_u1([1, 0], name="up")
    m = b.build()
    assert m.u1().jump_charges == (1, -1)
    b2 = qness.ModelBuilder(2, n=2).add_onsite(1.0, "sigmax").add_u1([1, 0])
    with pytest.raises(ValueError, match="does not conserve"):
        b2.build()


def test_thermal_bath_rates():
    b = qness.ModelBuilder(4, n=1)
    b.add_thermal_bath("hot", 0, omega=1.0, gamma=0.2, T=2.0)
    m = b.build()
    nb = 1 / np.expm1(1.0 / 2.0)
    assert m.baths["hot"].T == 2.0
    np.testing.assert_allclose([j.rate for j in m.jumps], [0.2 * (nb + 1), 0.2 * nb])


# ---------------------------------------------------------------- Liouvillian
@pytest.mark.parametrize("dims", [(2,), (3,), (2, 3, 2), (4, 2)])
@pytest.mark.parametrize("seed", [0, 1])
def test_liouvillian_equals_qutip_random(dims, seed):
    m = random_model(dims, n_jumps=3, seed=seed, density=0.5)
    Hq, cq = m.to_qutip()
    ref = qutip.liouvillian(Hq, cq).full()
    L = qness.liouvillian(m)
    assert isinstance(L, sp.csr_array) and L.has_sorted_indices
    np.testing.assert_allclose(L.toarray(), ref, atol=1e-12, rtol=0)
    np.testing.assert_allclose(L.toarray(), dense_liouvillian(m), atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_liouvillian_equals_qutip_spin_chain(n):
    b = qness.ModelBuilder(2, n=n)
    b.add_coupling(1.0, "sigmax", "sigmax").add_coupling(1.0, "sigmay", "sigmay")
    b.add_coupling(0.5, "sigmaz", "sigmaz")
    b.add_jump("sigmap", 1.0, sites=0).add_jump("sigmam", 1.0, sites=n - 1)
    m = b.build()
    Hq, cq = m.to_qutip()
    ref = qutip.liouvillian(Hq, cq).to("csr").data_as("csr_matrix")
    diff = qness.liouvillian(m) - ref
    assert (abs(diff).max() if diff.nnz else 0.0) < 1e-12


def test_liouvillian_no_jumps_and_empty_rows():
    m = qness.from_qutip(np.diag([0.0, 1.0, 0.0]), [np.zeros((3, 3))])
    Hq, cq = m.to_qutip()
    np.testing.assert_allclose(qness.liouvillian(m).toarray(), qutip.liouvillian(Hq, cq).full(), atol=1e-14)
    m0 = qness.from_qutip(np.zeros((2, 2)), [])
    assert qness.liouvillian(m0).nnz == 0


def test_kernels_equal_reference_twins():
    m = random_model((3, 2), n_jumps=2, seed=5, density=0.4)
    arr = lindblad_arrays(m)
    ref = assemble_reference(arr.A, arr.jumps)
    L = qness.liouvillian(m)
    assert (abs(L - ref).max()) < 1e-13
    rng = np.random.default_rng(0)
    x = rng.normal(size=36) + 1j * rng.normal(size=36)
    np.testing.assert_allclose(
        qness.liouvillian_operator(m) @ x, apply_reference(arr.A, arr.jumps, x), atol=1e-12
    )


@pytest.mark.parametrize("dims", [(2,), (2, 3), (2, 2, 2)])
def test_matrix_free_equals_assembled(dims):
    m = random_model(dims, n_jumps=2, seed=3, density=0.6)
    L = qness.liouvillian(m)
    op = qness.liouvillian_operator(m)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(L.shape[0], 3)) + 1j * rng.normal(size=(L.shape[0], 3))
    np.testing.assert_allclose(op @ X, L @ X, atol=1e-11)
    np.testing.assert_allclose(op.H @ X, L.conj().T @ X, atol=1e-11)
    ref_op = qness.liouvillian_operator(m, use_kernel=False)
    np.testing.assert_allclose(ref_op @ X[:, 0], L @ X[:, 0], atol=1e-11)


def test_liouvillian_preserves_trace_and_hermiticity():
    m = random_model((2, 3), n_jumps=2, seed=9)
    L = qness.liouvillian(m)
    d = m.dim
    rng = np.random.default_rng(2)
    r = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    r = r @ r.conj().T
    out = (L @ r.ravel(order="F")).reshape((d, d), order="F")
    assert abs(np.trace(out)) < 1e-10
    np.testing.assert_allclose(out, out.conj().T, atol=1e-10)


def _dephased_model(seed, g=1.0):
    """A random model with complex diagonal jumps (dephasing) beside general ones, on (2, 3)."""
    rng = np.random.default_rng(seed)
    m = random_model((2, 3), n_jumps=2, seed=seed, density=0.6)
    d = m.dim
    Hq, cq = m.to_qutip()
    diag = [np.sqrt(g) * np.diag(rng.normal(size=d) + 1j * rng.normal(size=d)) for _ in range(2)]
    return qness.from_qutip(Hq.full(), [c.full() for c in cq] + diag, dims=(2, 3))


@pytest.mark.parametrize("seed", [0, 4])
def test_exact_diagonal_and_split_action_equal_the_kron_formula(seed):
    # L's diagonal is computed without cancellation (exact_diagonal) and the matrix-free actions add
    # the diagonal jumps' part exactly (split_diagonal): the same L as the kron formula and QuTiP's
    m = _dephased_model(seed)
    arr = lindblad_arrays(m)
    ref = assemble_reference(arr.A, arr.jumps).toarray()
    L = qness.liouvillian(m)
    np.testing.assert_allclose(L.toarray(), ref, atol=1e-12, rtol=0)
    Hq, cq = m.to_qutip()
    np.testing.assert_allclose(L.toarray(), qutip.liouvillian(Hq, cq).full(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(qness.liouvillian(m, use_kernel=False).toarray(), ref, atol=1e-12, rtol=0)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(36, 2)) + 1j * rng.normal(size=(36, 2))
    for use_kernel in (True, False):
        op = qness.liouvillian_operator(m, use_kernel=use_kernel)
        np.testing.assert_allclose(op @ X, ref @ X, atol=1e-11)
        np.testing.assert_allclose(op.H @ X, ref.conj().T @ X, atol=1e-11)


def test_sector_matrix_and_action_keep_the_exact_diagonal():
    # a U(1) chain with dephasing: the sector matrix (compiled) and the block-pair action agree with
    # the full L's sector block, and the populations' rows hold no rounding of the dephasing rate
    from qness.symmetry import steady_sector

    n, g = 4, 1e7
    m = (
        qness.ModelBuilder(2, n=n)
        .add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
        .add_onsite(0.3, "sigmaz")
        .add_jump("sigmaz", g)
        .add_jump("sigmam", 0.2, sites=0)
        .add_jump("sigmap", 0.1, sites=n - 1)
        .build()
    )
    sec = steady_sector(m, qness.symmetry.detect_symmetry(m))
    assert sec.kind != "full" and sec.size < m.dim**2
    M = sec.matrix(m)
    full = qness.liouvillian(m)
    idx = sec.indices()
    np.testing.assert_allclose(M.toarray(), full[idx][:, idx].toarray(), atol=1e-9, rtol=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=sec.size) + 1j * rng.normal(size=sec.size)
    op = sec.operator(m)
    np.testing.assert_allclose(op @ x, M @ x, atol=1e-13 * g)
    np.testing.assert_allclose(op.matvec_serial(x), M @ x, atol=1e-13 * g)
    # the populations: the dephasing adds exactly nothing to their diagonal entries (the kernels'
    # sum had -4 g on each before the jumps cancelled it, leaving rounding of eps 4g = 9e-9 against
    # the decay and pump rates 0.2 and 0.1): each is minus the jumps' escape rate, to the last digit
    from qness.liouvillian import is_diagonal

    d = m.dim
    pops = np.arange(d) * (d + 1)
    escape = sum(np.real((c.conj().T @ c).diagonal()) for c in m.c_ops if not is_diagonal(c))
    assert np.count_nonzero(escape) > 0
    np.testing.assert_allclose(full.diagonal()[pops], -escape, rtol=1e-15, atol=0)
