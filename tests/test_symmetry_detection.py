"""Weak U(1) charges found in models built from QuTiP objects (qness.symmetry.detect_symmetry).

The oracle is the model itself: the sector found must be the set of ``rho_ij`` whose charges
agree (computed here from the physical charge written by hand), and the steady state and the
spectrum in the sector must be those of the whole space (dense diagonalisation).
"""

import itertools

import numpy as np
import pytest
import qutip as qt
import scipy.linalg as sla
from helpers import corpus_module

import qness
from qness.symmetry import detect_symmetry, sectors, steady_sector


def _jc_thermal(n):
    """Jaynes-Cummings between thermal baths: conserves a^+ a + sigma^+ sigma (QuTiP: excited = level 0)."""
    a = qt.tensor(qt.destroy(n), qt.qeye(2))
    s = qt.tensor(qt.qeye(n), qt.sigmam())
    H = a.dag() * a + 0.5 * (2 * s.dag() * s - 1) + 0.2 * (a.dag() * s + a * s.dag())
    c = [np.sqrt(0.1 * 1.5) * a, np.sqrt(0.1 * 0.5) * a.dag(), np.sqrt(0.05) * s, np.sqrt(0.02) * s.dag()]
    return H, c


def _thermal_machine(n):
    """Two qubits exchanging an excitation, modulated by a driven-free damped mode: only the qubits
    carry charge (the mode's a + a^+ changes its number)."""
    s1 = qt.tensor(qt.sigmam(), qt.qeye(2), qt.qeye(n))
    s2 = qt.tensor(qt.qeye(2), qt.sigmam(), qt.qeye(n))
    a = qt.tensor(qt.qeye(2), qt.qeye(2), qt.destroy(n))
    H = 1.0 * s1.dag() * s1 + 0.6 * s2.dag() * s2 + 0.4 * a.dag() * a
    H += 0.1 * (s1.dag() * s2 + s2.dag() * s1) * (1 + 0.5 * (a + a.dag()))
    c = [np.sqrt(0.15) * s1, np.sqrt(0.1) * s1.dag(), np.sqrt(0.05) * s2, np.sqrt(0.01) * s2.dag()]
    return H, c + [np.sqrt(0.1) * a]


def _lambda_cavity(n):
    """Lambda atom (levels 0, 1 ground, 2 excited): a laser on 0-2, the cavity on 1-2. The charge
    is not linear in the atom's level: q(0) = q(2) = q(1) + 1 with the photon number."""
    b = [qt.basis(3, i) for i in range(3)]
    a = qt.tensor(qt.destroy(n), qt.qeye(3))

    def proj(i, j):
        return qt.tensor(qt.qeye(n), b[i] * b[j].dag())

    H = 0.1 * proj(2, 2) + 0.4 * (proj(2, 0) + proj(0, 2)) + 0.5 * (a.dag() * proj(1, 2) + a * proj(2, 1))
    return H, [np.sqrt(0.3) * a, np.sqrt(0.1) * proj(0, 2), np.sqrt(0.1) * proj(1, 2)]


def _fridge():
    """Three-qubit absorption refrigerator (the corpus's): n0 + n1 and n1 + n2 are both conserved by H."""
    return corpus_module().CORPUS["fridge"].build(3)


def _sector_from_charges(*charges):
    """The (i, j) with equal charges for every charge given: the q = 0 sector written by hand."""
    Q = np.stack(charges, axis=1)
    return int(sum(np.all(Q[i] == Q[j]) for i, j in itertools.product(range(len(Q)), repeat=2)))


def _excitations(dims, charged):
    """Excitation number of the basis states: Fock level on modes, 1 - level on qubits (QuTiP's
    sigmam lowers level 0 to level 1), counted on the sites ``charged``."""
    out = np.zeros(int(np.prod(dims)), dtype=int)
    for idx, levels in enumerate(itertools.product(*[range(d) for d in dims])):
        exc = [lv if d > 2 else 1 - lv for lv, d in zip(levels, dims)]
        out[idx] = sum(exc[k] for k in charged)
    return out


def _dense_check(model, sector, k=4):
    """Steady state and rightmost eigenvalues in the sector against the whole space (dense)."""
    ness = qness.steady_state(model)
    assert ness.info["sector"]["size"] == sector.size
    full = qness.steady_state(model, method="dense", symmetry=None)
    np.testing.assert_allclose(ness.rho, full.rho, atol=1e-11)
    ev = sla.eigvals(qness.liouvillian(model).toarray())
    ev = ev[np.argsort(-ev.real)]
    sp = qness.spectrum(model, k=k)
    assert sp.info["certified"]
    # the rightmost k of the whole space (each sector's slowest modes are merged)
    np.testing.assert_allclose(np.sort(sp.eigenvalues.real)[::-1][:k], ev.real[:k], atol=1e-9)


def test_jaynes_cummings_excitation_number():
    n = 8
    model = qness.from_qutip(*_jc_thermal(n))
    sym = detect_symmetry(model)
    assert isinstance(sym, qness.U1Symmetry) and sym.name == "detected charge"
    sec = steady_sector(model, sym)
    assert sec.size == _sector_from_charges(_excitations((n, 2), {0, 1}))
    assert sec.size < (2 * n) ** 2 // 8
    # a, a^+, sigma, sigma^+ change a^+ a + sigma^+ sigma by -1, +1, -1, +1
    assert sym.jump_charges in ((-1, 1, -1, 1), (1, -1, 1, -1))
    _dense_check(model, sec)


def test_charge_on_some_sites_only():
    n = 5
    model = qness.from_qutip(*_thermal_machine(n))
    sym = detect_symmetry(model)
    sec = steady_sector(model, sym)
    assert sec.size == _sector_from_charges(_excitations((2, 2, n), {0, 1})) == 6 * n * n
    _dense_check(model, sec)


def test_charge_per_level_of_a_three_level_atom():
    n = 6
    model = qness.from_qutip(*_lambda_cavity(n))
    sym = detect_symmetry(model)
    sec = steady_sector(model, sym)
    photons = np.repeat(np.arange(n), 3)
    atom = np.tile([1, 0, 1], n)  # q(0) = q(2) = q(1) + 1
    assert sec.size == _sector_from_charges(photons + atom)
    _dense_check(model, sec)


def test_two_charges_combined():
    model = qness.from_qutip(*_fridge())
    sym = detect_symmetry(model)
    sec = steady_sector(model, sym)
    e = [_excitations((2, 2, 2), {k}) for k in range(3)]
    both = _sector_from_charges(e[0] + e[1], e[1] + e[2])
    assert sec.size == both < _sector_from_charges(e[0] + e[1]) and both < _sector_from_charges(e[1] + e[2])
    # every sector of the combined charge, with the sizes summing to d^2
    assert sum(s.size for s in sectors(model, sym)) == 64
    _dense_check(model, sec, k=3)


@pytest.mark.parametrize(
    "build",
    [
        # a coherent drive breaks the excitation number (the corpus's driven JC)
        lambda: (
            0.1 * qt.tensor(qt.num(6), qt.qeye(2))
            + 0.5 * (qt.tensor(qt.create(6), qt.sigmam()) + qt.tensor(qt.destroy(6), qt.sigmap()))
            + 0.3 * qt.tensor(qt.destroy(6) + qt.create(6), qt.qeye(2)),
            [np.sqrt(0.2) * qt.tensor(qt.destroy(6), qt.qeye(2))],
        ),
        # sigma_x coupling (Rabi): no U(1); parity broken by the drive on the mode
        lambda: (
            qt.tensor(qt.num(6), qt.qeye(2))
            + 0.3 * qt.tensor(qt.destroy(6) + qt.create(6), qt.sigmax())
            + 0.2 * qt.tensor(qt.destroy(6) + qt.create(6), qt.qeye(2)),
            [np.sqrt(0.3) * qt.tensor(qt.destroy(6), qt.qeye(2))],
        ),
    ],
)
def test_no_charge_where_none_is_conserved(build):
    assert detect_symmetry(qness.from_qutip(*build())) is None


def test_a_jump_of_mixed_charge_leaves_only_the_parity():
    # H conserves the excitation number, but the jump a + sigma^+ changes it by -1 and +1: no U(1);
    # both terms flip the parity (-1)^(sum of levels), which stays a symmetry
    H, _ = _jc_thermal(4)
    a = qt.tensor(qt.destroy(4), qt.qeye(2))
    s = qt.tensor(qt.qeye(4), qt.sigmam())
    model = qness.from_qutip(H, [a + s.dag()])
    sym = detect_symmetry(model)
    assert isinstance(sym, qness.Z2Symmetry) and sym.jump_parities == (-1,)
    qness.model.check_symmetry(model, sym)
    _dense_check(model, steady_sector(model, sym))


def test_magnetisation_is_still_reported_as_n():
    chain = qness.models.boundary_driven_xxz(4, delta=0.6)
    bare = qness.from_qutip(chain.H, [j.L for j in chain.jumps], dims=chain.dims)
    sym = detect_symmetry(bare)
    assert sym.name == "detected N"
    assert steady_sector(bare, sym).size == 70


def _two_jaynes_cummings(n):
    """Two uncoupled Jaynes-Cummings systems between thermal baths (qubits as destroy(2)): each
    conserves its own excitation number."""
    dims = (n, 2, n, 2)

    def emb(op, pos):
        f = [qt.qeye(d) for d in dims]
        f[pos] = op
        return qt.tensor(*f)

    a1, s1, a2, s2 = (emb(qt.destroy(d), k) for k, d in enumerate(dims))
    H = a1.dag() * a1 + s1.dag() * s1 + 0.3 * (a1.dag() * s1 + a1 * s1.dag())
    H += 1.1 * (a2.dag() * a2 + s2.dag() * s2) + 0.4 * (a2.dag() * s2 + a2 * s2.dag())
    c = [0.316 * a1, 0.173 * a1.dag(), 0.224 * s1.dag(), 0.316 * a2, 0.141 * a2.dag(), 0.173 * s2.dag()]
    return H, c


def test_combined_charges_for_the_steady_state_n_for_spectra():
    n = 3
    model = qness.from_qutip(*_two_jaynes_cummings(n))
    both = detect_symmetry(model)
    single = detect_symmetry(model, combine=False)
    assert both.name == "detected charge" and single.name == "detected N"
    e1 = np.repeat(np.arange(n)[:, None] + np.arange(2)[None, :], 2 * n).ravel()  # n_a1 + k_s1
    e2 = np.tile((np.arange(n)[:, None] + np.arange(2)[None, :]).ravel(), 2 * n)
    sec = steady_sector(model, both)
    assert sec.size == _sector_from_charges(e1, e2) < steady_sector(model, single).size
    # the spectrum's sectors are N's (fewer, each solved for k eigenvalues)
    sp = qness.spectrum(model, k=4)
    assert sorted(set(np.abs(sp.sectors))) <= sorted(set(np.abs(np.subtract.outer(e1 + e2, e1 + e2).ravel())))
    _dense_check(model, sec)


def test_auto_counts_the_python_work_per_block_pair():
    # 169 block pairs of at most 36 unknowns (cutoff 12): an LU of 2,116 unknowns, not Krylov
    model = qness.from_qutip(*_two_jaynes_cummings(12))
    ness = qness.steady_state(model)
    assert ness.info["sector"]["size"] == 2116 and ness.info["method"] == "Direct"
    ref = qness.steady_state(model, "krylov")
    np.testing.assert_allclose(ness.rho, ref.rho, atol=1e-10)
