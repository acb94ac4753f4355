"""Models as data: local terms kept, matrices rendered on demand (issue 16).

Every rendered matrix is compared with an explicit ``numpy.kron`` construction
written here independently of qness; long chains must build without their
matrices and refuse to render them with a clear error.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from functools import reduce

import numpy as np
import pytest
import scipy.sparse as sp

import qness
import qness.models as qm
from qness import _lazy
from qness.terms import ChainTerms, LocalJump, LocalTerm

I2 = np.eye(2)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)
SP = np.array([[0, 1], [0, 0]], dtype=complex)  # |up><down|, up = |0>
SM = SP.T.copy()


def kron(*mats):
    return reduce(np.kron, mats)


def on(ops: dict, n: int, d: int = 2):
    """Product of ``{site: op}`` with identities elsewhere (numpy only)."""
    return kron(*[ops.get(k, np.eye(d)) for k in range(n)])


def assert_matrix(actual, expected, tol=1e-13):
    assert sp.issparse(actual)
    assert actual.dtype == np.complex128
    np.testing.assert_allclose(actual.toarray(), expected, atol=tol, rtol=0)


def fermi(x):
    return 1.0 / (math.exp(x) + 1.0)


# ------------------------------------------------------------------ rendering is exact
def test_xxz_with_dephasing_renders_the_kron_construction():
    n, delta, J, gamma, mu, deph = 4, 0.7, 1.3, 0.9, 0.4, 0.25
    m = qm.boundary_driven_xxz(n, delta=delta, J=J, gamma=gamma, mu=mu, dephasing=deph)
    assert isinstance(m.terms, ChainTerms)
    assert not _lazy.is_rendered(m, "H")  # nothing rendered by the build
    H = sum(
        J * (on({i: SX, i + 1: SX}, n) + on({i: SY, i + 1: SY}, n) + delta * on({i: SZ, i + 1: SZ}, n))
        for i in range(n - 1)
    )
    assert_matrix(m.H, H)
    assert _lazy.is_rendered(m, "H") and m.H is m.H  # cached
    g_in, g_out = gamma * (1 + mu) / 2, gamma * (1 - mu) / 2
    expected = [
        ("in_0", g_in, on({0: SP}, n), "left"),
        ("out_0", g_out, on({0: SM}, n), "left"),
        ("out_3", g_in, on({3: SM}, n), "right"),
        ("in_3", g_out, on({3: SP}, n), "right"),
    ] + [(f"dephasing_{i}", deph, on({i: SZ}, n), "dephasing") for i in range(n)]
    assert [j.label for j in m.jumps] == [e[0] for e in expected]
    for j, (_, rate, op, bath) in zip(m.jumps, expected):
        assert j.rate == pytest.approx(rate) and j.bath == bath
        assert_matrix(j.op, op)
        assert_matrix(j.L, math.sqrt(rate) * op)
    # the terms themselves describe the same model (what a tensor-network solver reads)
    assert [t.label for t in m.terms.jumps] == [e[0] for e in expected]
    assert [t.rate for t in m.terms.jumps] == pytest.approx([e[1] for e in expected])
    assert m.terms.max_range == 1
    # the U(1) charge vector: number of up spins
    ups = np.array([sum(1 - b for b in np.unravel_index(k, (2,) * n)) for k in range(2**n)])
    np.testing.assert_array_equal(m.u1().charges, ups)
    assert [int(q) for q in m.u1().jump_charges] == [1, -1, -1, 1, 0, 0, 0, 0]


def test_thermal_chain_local_form_renders_the_kron_construction():
    n, J, delta, h = 3, 0.8, 0.4, 1.2
    T_l, T_r, mu_l, mu_r, g_l, g_r = 2.0, 0.5, 0.3, -0.2, 0.7, 0.4
    m = qm.xxz_thermal_chain(
        n, T_l=T_l, T_r=T_r, J=J, delta=delta, h=h, gamma_l=g_l, gamma_r=g_r, mu_l=mu_l, mu_r=mu_r
    )
    assert m.terms is not None
    H = sum(
        J * (on({i: SX, i + 1: SX}, n) + on({i: SY, i + 1: SY}, n) + delta * on({i: SZ, i + 1: SZ}, n))
        for i in range(n - 1)
    ) + sum(h / 2 * on({i: SZ}, n) for i in range(n))
    assert_matrix(m.H, H)
    f_l, f_r = fermi((h - mu_l) / T_l), fermi((h - mu_r) / T_r)
    expected = [
        ("left_down", g_l * (1 - f_l), on({0: SM}, n)),
        ("left_up", g_l * f_l, on({0: SP}, n)),
        ("right_down", g_r * (1 - f_r), on({2: SM}, n)),
        ("right_up", g_r * f_r, on({2: SP}, n)),
    ]
    assert [j.label for j in m.jumps] == [e[0] for e in expected]
    for j, (_, rate, op) in zip(m.jumps, expected):
        assert j.rate == pytest.approx(rate, rel=1e-14)
        assert_matrix(j.op, op)
    assert m.baths["left"].T == T_l and m.baths["right"].mu == mu_r


def test_builder_with_range_two_couplings_per_site_strengths_and_drives():
    n = 5
    hz = np.array([0.1, -0.2, 0.3, 0.0, 0.5])  # a zero entry: no term
    Jx = np.array([1.0, 0.5, -0.7, 0.2])  # per bond (dx = 1)
    K = np.array([0.3, -0.4, 0.6])  # per bond (dx = 2)
    b = qness.ModelBuilder(2, n, site_kinds="spin")
    b.add_onsite(hz, "sigmaz")
    b.add_coupling(Jx, "sigmax", "sigmax")
    b.add_coupling(K, "sigmap", "sigmam", dx=2, plus_hc=True)
    b.add_coupling(0.25, "sigmaz", "sigmaz", boundary="periodic")
    b.add_drive(0.4 + 0.3j, "sigmam", sites=[1, 3], plus_hc=True)
    b.add_jump("sigmam", [0.1, 0.2], sites=[0, 4], bath="b")
    b.add_local_jump({1: "sigmam", 2: "sigmap"}, 0.3, label="hop")
    m = b.build()
    assert m.terms is not None and m.terms.max_range == n - 1  # the periodic bond (0, n-1)
    H = sum(hz[i] * on({i: SZ}, n) for i in range(n))
    H = H + sum(Jx[i] * on({i: SX, i + 1: SX}, n) for i in range(n - 1))
    for i in range(n - 2):
        t = K[i] * on({i: SP, i + 2: SM}, n)
        H = H + t + t.conj().T
    H = H + sum(0.25 * on({i: SZ, (i + 1) % n: SZ}, n) for i in range(n))
    drives = []
    for i in (1, 3):
        t = (0.4 + 0.3j) * on({i: SM}, n)
        drives.append(t + t.conj().T)
    H = H + sum(drives)
    assert_matrix(m.H, H)
    assert [d.label for d in m.drives] == ["drive_1", "drive_3"]
    for dr, op in zip(m.drives, drives):
        assert_matrix(dr.op, op)
    assert_matrix(m.H0, H - sum(drives))
    assert [j.label for j in m.jumps] == ["sigmam_0", "sigmam_4", "hop"]
    assert_matrix(m.jumps[1].op, on({4: SM}, n))
    assert_matrix(m.jumps[2].op, on({1: SM, 2: SP}, n))
    assert [t.sites for t in m.terms.jumps] == [(0,), (4,), (1, 2)]
    # the rendered H equals the sum of the terms rendered one by one (ChainTerms' own route)
    assert_matrix(m.terms.render_hamiltonian(), H)


def test_fermionic_chain_and_tasep_keep_jordan_wigner_and_hops_as_local_products():
    n = 4
    m = qm.fermionic_chain(n, t=0.7, eps=0.2, gamma_l=1.0, gamma_r=0.6, mu_l=0.5, mu_r=-0.5, T_l=0.4, T_r=0.9)
    assert m.terms is not None
    c = [qness.operators.fermion_annihilation(j, n).toarray() for j in range(n)]
    H = sum(0.2 * c[j].conj().T @ c[j] for j in range(n))
    H = H - 0.7 * sum(c[j].conj().T @ c[j + 1] + c[j + 1].conj().T @ c[j] for j in range(n - 1))
    assert_matrix(m.H, H)
    right = [j for j in m.jumps if j.label == "right_down"][0]
    assert_matrix(right.op, c[n - 1])  # the full Jordan-Wigner string, as a product of local factors
    assert [t.range for t in m.terms.jumps if t.bath == "right"] == [n - 1, n - 1]
    t = qm.tasep(4, alpha=0.5, beta=0.3, q=0.2)
    hops = {j.label: j for j in t.jumps}
    assert t.terms is not None
    assert_matrix(hops["hop_right_1"].op, on({1: SM, 2: SP}, 4))
    assert_matrix(hops["hop_left_2"].op, on({2: SP, 3: SM}, 4))


# ------------------------------------------------------------------ long chains
def test_hundred_sites_build_without_matrices_and_refuse_to_render_them():
    m = qm.boundary_driven_xxz(100, delta=1)
    assert m.dim == 2**100 and len(m.terms.hamiltonian) == 3 * 99
    assert not _lazy.is_rendered(m, "H")
    assert "not rendered" in repr(m.jumps[0])  # repr does not render
    with pytest.raises(qness.InsufficientMemoryError, match=r"2\^100") as err:
        _ = m.H
    msg = str(err.value)
    assert "qness.tn" in msg and "model.terms" in msg
    assert err.value.required > err.value.available
    with pytest.raises(qness.InsufficientMemoryError, match="jump 'in_0'"):
        _ = m.jumps[0].op
    with pytest.raises(MemoryError):  # InsufficientMemoryError is a MemoryError
        _ = m.u1().charges
    # a 100-site ModelBuilder model with couplings of range 2 and a declared charge
    b = qness.ModelBuilder(2, 100)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    b.add_coupling(0.5, "sigmaz", "sigmaz", dx=2)
    b.add_onsite(np.linspace(-1, 1, 100), "sigmaz")
    b.add_jump("sigmam", 0.1)
    b.add_u1([1, 0], name="N")
    big = b.build()
    assert big.terms.max_range == 2 and len(big.terms.jumps) == 100
    with pytest.raises(qness.InsufficientMemoryError):
        _ = big.H


def test_symmetry_checks_on_local_terms_catch_wrong_declarations_at_any_length():
    b = qness.ModelBuilder(2, 60)
    b.add_coupling(1.0, "sigmax", "sigmax")  # does not conserve the number of up spins
    b.add_u1([1, 0])
    with pytest.raises(ValueError, match="does not conserve"):
        b.build()
    b = qness.ModelBuilder(2, 60)
    b.add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
    b.add_jump("sigmax", 0.1, sites=[3])
    with pytest.raises(ValueError, match="definite charge"):
        b.add_u1([1, 0])
    b.add_symmetry(qness.U1Symmetry(_lazy.LocalDiagonal((2,) * 60, [np.array([1, 0])] * 60), (1,)))
    with pytest.raises(ValueError, match="does not change"):
        b.build()


# ------------------------------------------------------------------ exact solvers on lazy models
def test_symmetry_of_a_lazy_model_is_used_by_steady_state():
    n = 5
    m = qm.boundary_driven_xxz(n, delta=0.5, mu=0.6, dephasing=0.2)
    ness = qness.steady_state(m)
    assert ness.info["sector"]["kind"] == "u1"
    assert ness.info["sector"]["size"] < 4**n
    # the same model given by matrices (no terms, no symmetry) has the same NESS
    plain = qness.from_qutip(m.H, [j.L for j in m.jumps], dims=m.dims)
    assert plain.terms is None and not plain.symmetries
    ref = qness.steady_state(plain, symmetry=None)
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-9)
    assert ness.residual < 1e-9


# ------------------------------------------------------------------ compatibility
def test_pickle_round_trip_of_lazy_and_rendered_models():
    m = qm.boundary_driven_xxz(5, delta=0.3, dephasing=0.1)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.terms is not None and not _lazy.is_rendered(m2, "H")
    assert abs(m2.H - m.H).max() == 0
    for a, b in zip(m.jumps, m2.jumps):
        assert abs(a.op - b.op).max() == 0 and (a.rate, a.bath, a.label) == (b.rate, b.bath, b.label)
    np.testing.assert_array_equal(m2.u1().charges, m.u1().charges)
    assert dict(m2.baths) == dict(m.baths) and dict(m2.params) == dict(m.params)
    # rendered caches are left out: a rendered model pickles to the size of the lazy one
    fresh = qm.boundary_driven_xxz(5, delta=0.3, dephasing=0.1)
    assert len(pickle.dumps(m)) == len(pickle.dumps(fresh))
    long = qm.boundary_driven_xxz(100, delta=1)
    assert len(pickle.dumps(long)) < 200_000
    assert pickle.loads(pickle.dumps(long)).terms.n_sites == 100
    # a matrix model pickles too
    q = qness.from_qutip(np.diag([1.0, -1.0]), [np.array([[0, 0], [1, 0]])])
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.terms is None and abs(q2.H - q.H).max() == 0


def test_matrix_built_models_have_no_terms():
    assert qness.from_qutip(np.diag([1.0, -1.0]), [np.array([[0, 0], [1, 0]])]).terms is None
    assert qm.xxz_thermal_chain(3, T_l=1.0, T_r=0.5, form="global").terms is None
    assert qm.kerr(5, detuning=0.1, U=0.2, F=0.3, kappa=1.0).terms is None
    b = qness.ModelBuilder(2, 2)
    b.add_coupling(1.0, "sigmaz", "sigmaz")
    b.add_collective_jump(on({0: SM}, 2) + on({1: SM}, 2), 0.5)
    m = b.build()
    assert m.terms is None
    assert_matrix(m.H, on({0: SZ, 1: SZ}, 2))
    b = qness.ModelBuilder(2, 2)
    b.add_hamiltonian(on({0: SX}, 2))
    b.add_onsite(0.5, "sigmaz", sites=[1])
    b.add_jump("sigmam", 1.0, sites=[0])
    m = b.build()
    assert m.terms is None
    assert_matrix(m.H, on({0: SX}, 2) + 0.5 * on({1: SZ}, 2))
    assert_matrix(m.jumps[0].op, on({0: SM}, 2))


def test_replace_and_dataclasses_replace_keep_working():
    m = qm.boundary_driven_xxz(4, delta=0.5)
    r = m.replace(name="renamed")
    assert r.terms is m.terms and not _lazy.is_rendered(r, "H")
    assert r.H is m.H  # rendered once, shared by the copy
    other = m.replace(H=on({0: SZ}, 4))
    assert other.terms is None
    assert_matrix(other.H, on({0: SZ}, 4))
    j = dataclasses.replace(m.jumps[0], rate=2.0)
    assert j.rate == 2.0 and abs(j.op - m.jumps[0].op).max() == 0
    j = dataclasses.replace(m.jumps[0], op=sp.csr_array(on({1: SM}, 4)))
    assert_matrix(j.op, on({1: SM}, 4))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.H = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.jumps[0].op = None
    # dataclasses.replace on the model renders and re-checks that the terms describe it
    d = dataclasses.replace(m, name="x")
    assert d.terms is m.terms and abs(d.H - m.H).max() == 0


def test_from_terms_validates_and_checks_consistency():
    terms = ChainTerms.create(
        (2, 2, 2),
        [((0, 1), (SX, SX), 1.0), ((1, 2), (SZ, SZ), 0.5)],
        [((2,), (SM,), 0.3, "cold", "down")],
    )
    m = qness.LindbladModel.from_terms(terms)
    assert m.terms is terms and m.baths["cold"].T is None
    assert isinstance(m.terms.jumps[0], LocalJump) and isinstance(m.terms.hamiltonian[0], LocalTerm)
    assert_matrix(m.H, on({0: SX, 1: SX}, 3) + 0.5 * on({1: SZ, 2: SZ}, 3))
    assert m.jumps[0].label == "down" and m.jumps[0].rate == 0.3
    bad = ChainTerms.create((2, 2), [((0, 1), (SP, SM), 1.0)])
    with pytest.raises(ValueError, match="not Hermitian"):
        qness.LindbladModel.from_terms(bad)
    with pytest.raises(TypeError, match="ChainTerms"):
        qness.LindbladModel.from_terms("xx")
    # terms given with matrices that they do not describe
    with pytest.raises(ValueError, match="terms do not describe"):
        qness.LindbladModel(
            dims=(2, 2, 2), H=on({0: SZ}, 3), jumps=(qness.Jump(on({2: SM}, 3), 0.3),), terms=terms
        )
    with pytest.raises(ValueError, match="rate"):
        qness.LindbladModel(dims=(2, 2, 2), H=m.H, jumps=(qness.Jump(m.jumps[0].op, 0.4),), terms=terms)
    ok = qness.LindbladModel(dims=(2, 2, 2), H=m.H, jumps=(qness.Jump(m.jumps[0].op, 0.3),), terms=terms)
    assert ok.terms is terms


def test_add_local_jump_rejects_bad_input():
    b = qness.ModelBuilder(2, 3)
    with pytest.raises(TypeError, match="ops must be a mapping"):
        b.add_local_jump(["sigmam"], 1.0)
    with pytest.raises(ValueError, match="at least one site"):
        b.add_local_jump({}, 1.0)
    with pytest.raises(ValueError, match="out of range"):
        b.add_local_jump({3: "sigmam"}, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        b.add_local_jump({0: "sigmam"}, -1.0)


def test_z2_parity_declared_on_local_terms():
    n = 4
    b = qness.ModelBuilder(2, n)
    b.add_coupling(1.0, "sigmax", "sigmax")
    b.add_coupling(0.6, "sigmay", "sigmay")
    b.add_onsite(0.3, "sigmaz")
    b.add_jump("sigmam", 0.5, sites=[0])
    b.add_jump("sigmaz", 0.2, sites=[2])
    b.add_z2("sigmaz", name="P")
    m = b.build()
    P = m.z2()
    assert m.terms is not None and P.local_parities is not None
    np.testing.assert_array_equal(P.parities, np.diag(on({i: SZ for i in range(n)}, n)).real.astype(int))
    assert P.jump_parities == (-1, 1)
    ness = qness.steady_state(m)
    assert ness.info["sector"]["kind"] == "z2"
    ref = qness.steady_state(qness.from_qutip(m.H, [j.L for j in m.jumps], dims=m.dims), symmetry=None)
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-9)
    # a field along x breaks the parity: caught on the local terms of a long chain
    b = qness.ModelBuilder(2, 60)
    b.add_coupling(1.0, "sigmax", "sigmax")
    b.add_onsite(0.1, "sigmax", sites=[7])
    b.add_z2([1, -1])
    with pytest.raises(ValueError, match="does not commute"):
        b.build()
    with pytest.raises(ValueError, match="no definite parity"):
        qness.ModelBuilder(2, 3).add_local_jump({0: SX + SZ}, 1.0).add_z2([1, -1])
