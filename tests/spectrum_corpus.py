"""A corpus of Lindblad models from many families, for checking spectra against dense eig.

Each entry builds a model small enough for ``numpy.linalg.eig`` of the dense
Liouvillian (at most about 1,300 unknowns) yet large enough that
``qness.spectrum`` does not simply diagonalise it (sectors above the dense
threshold), and chosen so that the slowest modes often oscillate fast: the
cases where the eigenvalues nearest zero are not the rightmost ones. Shared
by ``tests/test_spectrum_corpus.py`` and ``benchmarks/bench_spectrum.py``.
"""

from __future__ import annotations

import numpy as np
import qutip

import qness


def _q(*ops):
    return qutip.tensor(*ops)


def driven_cavity():
    # the example: gap kappa/2 = 0.5 from the pair -0.5 +- 10i
    a = qutip.destroy(33)
    return 10 * a.dag() * a + 0.5 * (a + a.dag()), [a]


def thermal_cavity():
    a = qutip.destroy(24)
    nth = 0.3
    return 3.0 * a.dag() * a + 0.4 * (a + a.dag()), [np.sqrt(1 + nth) * a, np.sqrt(nth) * a.dag()]


def coupled_cavities():
    N = 6
    a, b = _q(qutip.destroy(N), qutip.qeye(N)), _q(qutip.qeye(N), qutip.destroy(N))
    H = 2.0 * a.dag() * a + 2.5 * b.dag() * b + 0.7 * (a.dag() * b + b.dag() * a) + 0.3 * (a + a.dag())
    return H, [np.sqrt(0.4) * a, np.sqrt(0.2) * b]


def kerr_one_photon():
    return qness.models.kerr(30, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)


def kerr_two_photon():
    return qness.models.kerr(24, detuning=0.5, U=0.4, F=0.0, kappa=1.0, G=1.5, eta=0.2)


def boundary_time_crystal():
    # the example: H = 2 J_x, c = sqrt(1/j) J_-, j = 16
    j = 16
    return 2 * qutip.jmat(j, "x"), [np.sqrt(1 / j) * qutip.jmat(j, "-")]


def collective_fluorescence():
    return qness.models.collective_fluorescence(12, omega=1.3, gamma=0.2)


def collective_spin_pumped():
    j = 10
    Jz, Jx, Jm = qutip.jmat(j, "z"), qutip.jmat(j, "x"), qutip.jmat(j, "-")
    return 0.5 * Jz + 0.8 * Jx + 0.05 * Jz * Jz, [
        np.sqrt(0.1) * Jm,
        np.sqrt(0.03) * Jm.dag(),
        np.sqrt(0.05) * Jz,
    ]


def jaynes_cummings():
    N = 14
    a, s = _q(qutip.destroy(N), qutip.qeye(2)), _q(qutip.qeye(N), qutip.sigmam())
    H = 1.0 * a.dag() * a + 1.2 * s.dag() * s + 0.6 * (a.dag() * s + a * s.dag()) + 0.25 * (a + a.dag())
    return H, [np.sqrt(0.2) * a, np.sqrt(0.05) * s]


def rabi():
    N = 12
    a, sx = _q(qutip.destroy(N), qutip.qeye(2)), _q(qutip.qeye(N), qutip.sigmax())
    sz, sm = _q(qutip.qeye(N), qutip.sigmaz()), _q(qutip.qeye(N), qutip.sigmam())
    H = 1.0 * a.dag() * a + 0.45 * sz + 0.3 * (a + a.dag()) * sx
    return H, [np.sqrt(0.3) * a, np.sqrt(0.1) * sm]


def tavis_cummings():
    N = 6
    ops = [qutip.destroy(N), qutip.qeye(2), qutip.qeye(2)]
    a = _q(*ops)
    s1 = _q(qutip.qeye(N), qutip.sigmam(), qutip.qeye(2))
    s2 = _q(qutip.qeye(N), qutip.qeye(2), qutip.sigmam())
    H = (
        a.dag() * a
        + 1.1 * (s1.dag() * s1 + s2.dag() * s2)
        + 0.4 * (a.dag() * (s1 + s2) + a * (s1 + s2).dag())
    )
    H += 0.2 * (a + a.dag())
    return H, [np.sqrt(0.3) * a, np.sqrt(0.05) * s1, np.sqrt(0.08) * s2]


def optomechanics():
    Nc, Nm = 4, 8
    a, b = _q(qutip.destroy(Nc), qutip.qeye(Nm)), _q(qutip.qeye(Nc), qutip.destroy(Nm))
    H = -0.5 * a.dag() * a + 1.0 * b.dag() * b - 0.15 * a.dag() * a * (b + b.dag()) + 0.3 * (a + a.dag())
    nth = 0.5
    return H, [np.sqrt(0.5) * a, np.sqrt(0.05 * (1 + nth)) * b, np.sqrt(0.05 * nth) * b.dag()]


def bose_hubbard_dimer():
    return qness.models.bose_hubbard(2, cutoff=5, J=1.0, U=0.5, detuning=-0.3, F=[0.4, 0.0], kappa=0.5)


def spin_boson():
    N = 14
    a = _q(qutip.qeye(2), qutip.destroy(N))
    sz, sx = _q(qutip.sigmaz(), qutip.qeye(N)), _q(qutip.sigmax(), qutip.qeye(N))
    H = 0.5 * sz + 0.3 * sx + 1.5 * a.dag() * a + 0.2 * sz * (a + a.dag())
    return H, [np.sqrt(0.25) * a]


def dissipative_ising_5():
    return qness.models.dissipative_ising(5, V=2.0, h=0.5, detuning=0.0, gamma=1.0)


def xxz_chain():
    return qness.models.boundary_driven_xxz(5, delta=0.5, gamma=1.0)


def xxz_dephasing():
    m = qness.models.boundary_driven_xxz(4, delta=1.2, gamma=0.7)
    n = 4
    ops = [qness.operators.embed("sigmaz", i, m.dims) for i in range(n)]
    H = m.H
    jumps = [np.sqrt(j.rate) * j.op for j in m.jumps] + [np.sqrt(0.15) * z for z in ops]
    return qness.from_qutip(H, jumps, dims=m.dims)


def random_structured(seed):
    def build():
        rng = np.random.default_rng(seed)
        d = 24
        H = rng.normal(size=(d, d)) * (rng.random((d, d)) < 0.2)
        H = H + H.T + np.diag(np.arange(d) * 1.7)  # a spread of Bohr frequencies
        jumps = []
        for _ in range(2):
            c = (rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))) * (rng.random((d, d)) < 0.1)
            jumps.append(0.3 * c)
        return qness.from_qutip(H, jumps)

    return build


def classical_network():
    rng = np.random.default_rng(3)
    n = 30
    rates = {(i, (i + 1) % n): 1.0 + rng.random() for i in range(n)}
    rates.update({((i + 1) % n, i): 0.2 * rng.random() for i in range(n)})
    rates.update({(i, (i + 7) % n): 0.1 for i in range(0, n, 3)})
    return qness.models.markov_network(rates, n_states=n)


def tasep_5():
    return qness.models.tasep(5, alpha=0.6, beta=0.4)


CORPUS = {
    "driven cavity (issue)": driven_cavity,
    "thermal driven cavity": thermal_cavity,
    "coupled cavities": coupled_cavities,
    "Kerr, one-photon drive": kerr_one_photon,
    "Kerr, two-photon drive": kerr_two_photon,
    "boundary time crystal j=16 (issue)": boundary_time_crystal,
    "collective fluorescence": collective_fluorescence,
    "collective spin, pumped": collective_spin_pumped,
    "Jaynes-Cummings, driven": jaynes_cummings,
    "Rabi": rabi,
    "Tavis-Cummings": tavis_cummings,
    "optomechanics, thermal": optomechanics,
    "Bose-Hubbard dimer": bose_hubbard_dimer,
    "spin-boson": spin_boson,
    "dissipative Ising 5": dissipative_ising_5,
    "XXZ 5": xxz_chain,
    "XXZ 4 + dephasing": xxz_dephasing,
    "random structured 1": random_structured(1),
    "random structured 2": random_structured(2),
    "random structured 3": random_structured(3),
    "classical network": classical_network,
    "TASEP 5": tasep_5,
}


def build(name):
    """The corpus model ``name`` as a LindbladModel."""
    return qness.model.as_model(CORPUS[name]())


def dense_spectrum(model) -> np.ndarray:
    """All eigenvalues of the dense Liouvillian, sorted by real part, descending."""
    L = qness.liouvillian(model).toarray()
    ev = np.linalg.eigvals(L)
    return ev[np.argsort(-ev.real, kind="stable")]


def distance_to_dense(values, ref, k) -> float:
    """How far a returned top-``k`` spectrum is from the dense one.

    The largest of: the difference of the ``k`` largest real parts, and the
    distance of each returned eigenvalue to the nearest dense one.
    """
    values = np.asarray(values)
    got = np.sort(values.real)[::-1][:k]
    d = float(np.max(np.abs(got - ref[:k].real)))
    for lam in values:
        d = max(d, float(np.min(np.abs(ref - lam))))
    return d
