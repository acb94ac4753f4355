"""A corpus of open-system models as a QuTiP user writes them (``H``, ``c_ops`` as ``Qobj``).

Each entry builds ``(H, c_ops)`` from ``qutip`` objects for a size parameter
``n`` (a Fock cutoff, a number of spins or atoms). ``CORPUS[name].small`` is a
size whose Liouvillian a dense null-vector computation handles in well under
a second (used by ``tests/test_corpus.py``); ``.bench`` is the size timed by
``benchmarks/bench_corpus.py`` against ``qutip.steadystate``.

Conventions: hbar = 1, ``L_k = sqrt(rate_k) A_k``; thermal baths of a mode
``a`` at occupation ``n_th`` as the pair ``sqrt(k (n_th + 1)) a``,
``sqrt(k n_th) a^+``. Every model has a unique steady state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import qutip as qt

__all__ = ["CORPUS", "Entry", "DARK", "dark_singlet_qubits", "dark_mode_cavities"]


@dataclass(frozen=True)
class Entry:
    """One corpus model: ``build(n) -> (H, c_ops)``, a test size and a benchmark size."""

    family: str
    build: Callable
    small: int
    bench: int
    about: str


def _ops(dims):
    """Identity-padded annihilation operators (``destroy`` for each factor) of a tensor product."""
    out = []
    for k, d in enumerate(dims):
        factors = [qt.qeye(x) for x in dims]
        factors[k] = qt.destroy(d)
        out.append(qt.tensor(*factors))
    return out


def _sig(n_qubits, others_before=(), k=0):
    """``sigma_-`` of qubit ``k`` after the factors ``others_before``."""
    factors = [qt.qeye(x) for x in others_before] + [qt.qeye(2)] * n_qubits
    factors[len(others_before) + k] = qt.sigmam()
    return qt.tensor(*factors)


def jaynes_cummings(n):
    """Driven JC (issue 12): cavity ``n`` x qubit."""
    a = qt.tensor(qt.destroy(n), qt.qeye(2))
    s = qt.tensor(qt.qeye(n), qt.sigmam())
    H = 0.1 * a.dag() * a - 0.1 * s.dag() * s + 0.5 * (a.dag() * s + a * s.dag()) + 0.3 * (a + a.dag())
    return H, [np.sqrt(0.2) * a, np.sqrt(0.05) * s]


def jaynes_cummings_thermal(n):
    """Resonant JC, qubit pumped incoherently, cavity in a thermal bath (a one-atom laser)."""
    a = qt.tensor(qt.destroy(n), qt.qeye(2))
    s = qt.tensor(qt.qeye(n), qt.sigmam())
    H = a.dag() * a + 0.5 * (2 * s.dag() * s - 1) + 0.2 * (a.dag() * s + a * s.dag())
    k, nth = 0.05, 0.3
    return H, [
        np.sqrt(k * (nth + 1)) * a,
        np.sqrt(k * nth) * a.dag(),
        np.sqrt(0.4) * s.dag(),
        np.sqrt(0.02) * s,
    ]


def rabi(n):
    """Quantum Rabi model (no rotating-wave approximation), driven cavity."""
    a = qt.tensor(qt.destroy(n), qt.qeye(2))
    sz = qt.tensor(qt.qeye(n), qt.sigmaz())
    sx = qt.tensor(qt.qeye(n), qt.sigmax())
    s = qt.tensor(qt.qeye(n), qt.sigmam())
    H = a.dag() * a + 0.45 * sz + 0.3 * (a + a.dag()) * sx + 0.2 * (a + a.dag())
    return H, [np.sqrt(0.3) * a, np.sqrt(0.1) * s]


def tavis_cummings(n):
    """Tavis-Cummings: 3 qubits in a cavity of ``n`` levels, pumped cavity, atomic decay."""
    nq = 3
    a = qt.tensor(qt.destroy(n), *[qt.qeye(2)] * nq)
    sig = [_sig(nq, (n,), k) for k in range(nq)]
    H = 0.2 * a.dag() * a + 0.5 * (a + a.dag())
    for k, s in enumerate(sig):
        H += (0.1 * k) * s.dag() * s + 0.3 * (a.dag() * s + a * s.dag())
    return H, [np.sqrt(0.4) * a] + [np.sqrt(0.05) * s for s in sig]


def _three_level(n, kind):
    """A three-level atom (levels g1, g2, e as basis 0, 1, 2) in a cavity of ``n`` levels."""
    b = [qt.basis(3, i) for i in range(3)]
    a = qt.tensor(qt.destroy(n), qt.qeye(3))

    def proj(i, j):
        return qt.tensor(qt.qeye(n), b[i] * b[j].dag())

    if kind == "lambda":
        # laser on g1 - e, cavity on g2 - e; decay e -> g1, e -> g2
        H = 0.1 * proj(2, 2) + 0.4 * (proj(2, 0) + proj(0, 2)) + 0.5 * (a.dag() * proj(1, 2) + a * proj(2, 1))
        H += 0.05 * a.dag() * a
        c = [np.sqrt(0.3) * a, np.sqrt(0.2) * proj(0, 2), np.sqrt(0.2) * proj(1, 2)]
    else:
        # V atom: ground g (0) to two excited e1 (1), e2 (2); laser on g - e1, cavity on g - e2
        H = 0.2 * proj(1, 1) - 0.1 * proj(2, 2) + 0.4 * (proj(1, 0) + proj(0, 1))
        H += 0.5 * (a.dag() * proj(0, 2) + a * proj(2, 0)) + 0.1 * a.dag() * a
        c = [np.sqrt(0.3) * a, np.sqrt(0.1) * proj(0, 1), np.sqrt(0.1) * proj(0, 2)]
    return H, c


def lambda_atom(n):
    """Lambda atom in a cavity."""
    return _three_level(n, "lambda")


def v_atom(n):
    """V atom in a cavity."""
    return _three_level(n, "v")


def optomechanics(n):
    """Driven optomechanics: cavity 6 x mechanical mode ``n``, mechanics in a thermal bath."""
    a = qt.tensor(qt.destroy(6), qt.qeye(n))
    b = qt.tensor(qt.qeye(6), qt.destroy(n))
    H = -0.5 * a.dag() * a + 1.0 * b.dag() * b + 0.1 * a.dag() * a * (b + b.dag()) + 0.3 * (a + a.dag())
    gm, nth = 0.02, 0.5
    return H, [np.sqrt(0.5) * a, np.sqrt(gm * (nth + 1)) * b, np.sqrt(gm * nth) * b.dag()]


def kerr_parametric(n):
    """Kerr parametric oscillator: two-photon drive and two-photon loss (a cat-state source)."""
    a = qt.destroy(n)
    H = -0.5 * a.dag() * a + 0.1 * a.dag() ** 2 * a**2 + 0.4 * (a.dag() ** 2 + a**2)
    return H, [np.sqrt(0.1) * a, np.sqrt(0.05) * a**2]


def kerr_single(n):
    """Driven Kerr resonator (one-photon drive), thermal bath."""
    a = qt.destroy(n)
    H = -1.0 * a.dag() * a + 0.1 * a.dag() ** 2 * a**2 + 1.2 * (a + a.dag())
    return H, [np.sqrt(1.0 * 1.1) * a, np.sqrt(0.1) * a.dag()]


def coupled_kerr(n):
    """Two coupled Kerr cavities, one driven, both lossy."""
    a, b = _ops((n, n))
    H = -0.3 * (a.dag() * a + b.dag() * b) + 0.2 * (a.dag() ** 2 * a**2 + b.dag() ** 2 * b**2)
    H += 0.5 * (a.dag() * b + b.dag() * a) + 0.6 * (a + a.dag())
    return H, [np.sqrt(0.5) * a, np.sqrt(0.5) * b]


def bose_hubbard_dimer(n):
    """Driven-dissipative Bose-Hubbard dimer, cutoff ``n`` per site."""
    a, b = _ops((n, n))
    H = 0.0 * a
    for x in (a, b):
        H += -0.5 * x.dag() * x + 0.5 * x.dag() ** 2 * x**2 + 0.4 * (x + x.dag())
    H += 1.0 * (a.dag() * b + b.dag() * a)
    return H, [np.sqrt(0.5) * a, np.sqrt(0.5) * b]


def bose_hubbard_trimer(n):
    """Driven-dissipative Bose-Hubbard ring of three sites, cutoff ``n`` per site, middle site driven."""
    ops = _ops((n, n, n))
    H = 0.0 * ops[0]
    for x in ops:
        H += -0.2 * x.dag() * x + 0.4 * x.dag() ** 2 * x**2
    H += 0.5 * (ops[1] + ops[1].dag())
    for i in range(3):
        x, y = ops[i], ops[(i + 1) % 3]
        H += 0.3 * (x.dag() * y + y.dag() * x)
    return H, [np.sqrt(0.4) * x for x in ops]


def spin_boson(n):
    """Spin-boson: a driven qubit coupled (sigma_x) to a damped mode of ``n`` levels at temperature."""
    a = qt.tensor(qt.qeye(2), qt.destroy(n))
    sx = qt.tensor(qt.sigmax(), qt.qeye(n))
    sz = qt.tensor(qt.sigmaz(), qt.qeye(n))
    H = 0.5 * sz + 0.2 * sx + 1.0 * a.dag() * a + 0.3 * sx * (a + a.dag())
    k, nth = 0.2, 0.4
    return H, [np.sqrt(k * (nth + 1)) * a, np.sqrt(k * nth) * a.dag()]


def _spin_ops(n):
    def site(op, i):
        f = [qt.qeye(2)] * n
        f[i] = op
        return qt.tensor(*f)

    return site


def dissipative_ising(n):
    """Transverse- and longitudinal-field Ising chain with decay on every site (no U(1))."""
    site = _spin_ops(n)
    H = 0.0 * site(qt.sigmaz(), 0)
    for i in range(n):
        H += 1.0 * site(qt.sigmax(), i) + 0.3 * site(qt.sigmaz(), i)
    for i in range(n - 1):
        H += 0.5 * site(qt.sigmaz(), i) * site(qt.sigmaz(), i + 1)
    return H, [np.sqrt(0.5) * site(qt.sigmam(), i) for i in range(n)]


def xxz_dephasing(n):
    """Boundary-driven XXZ chain (Delta = 0.5) with bulk dephasing."""
    site = _spin_ops(n)
    H = 0.0 * site(qt.sigmaz(), 0)
    for i in range(n - 1):
        H += site(qt.sigmax(), i) * site(qt.sigmax(), i + 1) + site(qt.sigmay(), i) * site(qt.sigmay(), i + 1)
        H += 0.5 * site(qt.sigmaz(), i) * site(qt.sigmaz(), i + 1)
    c = [np.sqrt(1.0) * site(qt.sigmap(), 0), np.sqrt(1.0) * site(qt.sigmam(), n - 1)]
    c += [np.sqrt(0.1) * site(qt.sigmaz(), i) for i in range(n)]
    return H, c


def correlated_decay(n):
    """``n`` driven atoms with collective (superradiant) and individual decay."""
    site = _spin_ops(n)
    Jm = sum(site(qt.sigmam(), i) for i in range(n))
    H = 0.0 * Jm
    for i in range(n):
        H += (0.1 * i) * site(qt.sigmaz(), i) + 0.4 * site(qt.sigmax(), i)
    return H, [np.sqrt(0.5) * Jm] + [np.sqrt(0.05) * site(qt.sigmam(), i) for i in range(n)]


def thermal_machine(n):
    """Two interacting qubits between a hot and a cold bath, plus a work mode of ``n`` levels.

    A two-qubit heat engine (local master equation) whose exchange coupling is
    modulated by a damped oscillator.
    """
    s1 = qt.tensor(qt.sigmam(), qt.qeye(2), qt.qeye(n))
    s2 = qt.tensor(qt.qeye(2), qt.sigmam(), qt.qeye(n))
    a = qt.tensor(qt.qeye(2), qt.qeye(2), qt.destroy(n))
    H = 1.0 * s1.dag() * s1 + 0.6 * s2.dag() * s2 + 0.4 * a.dag() * a
    H += 0.1 * (s1.dag() * s2 + s2.dag() * s1) * (1 + 0.5 * (a + a.dag()))
    nh, nc, g = 2.0, 0.1, 0.05
    c = [np.sqrt(g * (nh + 1)) * s1, np.sqrt(g * nh) * s1.dag(), np.sqrt(g * (nc + 1)) * s2]
    c += [np.sqrt(g * nc) * s2.dag(), np.sqrt(0.1) * a]
    return H, c


def two_qubit_fridge(n):
    """Three-qubit absorption refrigerator (hot, room, cold baths); ``n`` is unused beyond 3."""
    s = [_sig(3, (), k) for k in range(3)]
    H = 1.0 * s[0].dag() * s[0] + 1.5 * s[1].dag() * s[1] + 0.5 * s[2].dag() * s[2]
    H += 0.05 * (s[0] * s[1].dag() * s[2] + s[0].dag() * s[1] * s[2].dag())
    c = []
    for sk, nth in zip(s, (0.1, 2.0, 0.5)):
        c += [np.sqrt(0.02 * (nth + 1)) * sk, np.sqrt(0.02 * nth) * sk.dag()]
    return H, c


def driven_cavity(n):
    """Driven damped cavity (coherent steady state)."""
    a = qt.destroy(n)
    return 0.5 * a.dag() * a + 1.5 * (a + a.dag()), [np.sqrt(1.0) * a]


def dicke(n):
    """Open Dicke model: spin-``n/2`` collective spin and a cavity of 12 levels, cavity loss."""
    j = n / 2
    a = qt.tensor(qt.destroy(12), qt.qeye(n + 1))
    jz = qt.tensor(qt.qeye(12), qt.jmat(j, "z"))
    jx = qt.tensor(qt.qeye(12), qt.jmat(j, "x"))
    jm = qt.tensor(qt.qeye(12), qt.jmat(j, "-"))
    H = 1.0 * a.dag() * a + 0.5 * jz + (0.3 / np.sqrt(n)) * (a + a.dag()) * jx
    return H, [np.sqrt(0.5) * a, np.sqrt(0.02) * jm]


CORPUS: dict[str, Entry] = {
    "jc_150": Entry("Jaynes-Cummings", jaynes_cummings, 6, 150, "driven JC, cavity 150 x qubit (issue 12)"),
    "jc_40": Entry("Jaynes-Cummings", jaynes_cummings, 5, 40, "driven JC, cavity 40 x qubit"),
    "jc_15": Entry("Jaynes-Cummings", jaynes_cummings, 4, 15, "driven JC, 30-dimensional"),
    "jc_thermal": Entry("Jaynes-Cummings", jaynes_cummings_thermal, 6, 60, "one-atom laser, cavity 60"),
    "rabi": Entry("Rabi", rabi, 6, 80, "driven quantum Rabi model, cavity 80"),
    "tavis_cummings": Entry("Tavis-Cummings", tavis_cummings, 3, 12, "3 qubits + driven cavity 12"),
    "lambda_cavity": Entry("Lambda atom", lambda_atom, 5, 50, "Lambda atom in a cavity of 50"),
    "v_cavity": Entry("V atom", v_atom, 5, 50, "V atom in a cavity of 50"),
    "optomech": Entry("optomechanics", optomechanics, 4, 25, "cavity 6 x thermal mechanics 25"),
    "kerr_parametric": Entry("Kerr parametric", kerr_parametric, 8, 120, "two-photon drive, cutoff 120"),
    "kerr_thermal": Entry("Kerr", kerr_single, 8, 150, "driven Kerr resonator, thermal, cutoff 150"),
    "coupled_kerr": Entry("coupled Kerr", coupled_kerr, 3, 12, "two Kerr cavities, cutoff 12"),
    "bh_dimer": Entry("Bose-Hubbard", bose_hubbard_dimer, 3, 10, "Bose-Hubbard dimer, cutoff 10"),
    "bh_trimer": Entry("Bose-Hubbard", bose_hubbard_trimer, 2, 5, "Bose-Hubbard ring of 3, cutoff 5"),
    "spin_boson": Entry("spin-boson", spin_boson, 6, 60, "qubit + thermal mode 60"),
    "ising_6": Entry("dissipative Ising", dissipative_ising, 3, 6, "transverse Ising, 6 spins"),
    "xxz_dephasing": Entry("XXZ + dephasing", xxz_dephasing, 3, 7, "boundary-driven XXZ, dephasing, 7 spins"),
    "correlated_decay": Entry("correlated decay", correlated_decay, 3, 6, "6 driven atoms, collective decay"),
    "thermal_machine": Entry("thermal machine", thermal_machine, 4, 30, "two-qubit engine + mode 30"),
    "fridge": Entry("thermal machine", two_qubit_fridge, 3, 3, "three-qubit absorption refrigerator"),
    "driven_cavity": Entry("driven cavity", driven_cavity, 10, 120, "coherent state, cutoff 120"),
    "dicke": Entry("Dicke", dicke, 1, 10, "open Dicke, spin 5 x cavity 12"),
}


# ------------------------------------------------------------------ non-unique models (issue 12)
def dark_singlet_qubits():
    """Two qubits, ``H = 0.35 (s1 + s1^+ + s2 + s2^+)``, ``c_ops = [s1 + s2]``: the singlet is dark.

    The ground-state branch and the singlet are both stationary; the basis graph is connected,
    so only the solvers' rank checks can see the degeneracy.
    """
    sm = qt.sigmam()
    s1, s2 = qt.tensor(sm, qt.qeye(2)), qt.tensor(qt.qeye(2), sm)
    return 0.35 * (s1 + s1.dag() + s2 + s2.dag()), [s1 + s2]


def dark_mode_cavities(cutoff):
    """Two cavities, ``H = a^+a + b^+b + 0.3 (a + b + h.c.)``, ``c_ops = [sqrt(0.5) (a + b)]``.

    The antisymmetric mode ``(a - b) / sqrt(2)`` is undamped (a dark mode).
    """
    a = qt.tensor(qt.destroy(cutoff), qt.qeye(cutoff))
    b = qt.tensor(qt.qeye(cutoff), qt.destroy(cutoff))
    H = a.dag() * a + b.dag() * b + 0.3 * (a + b + a.dag() + b.dag())
    return H, [np.sqrt(0.5) * (a + b)]


#: name -> builder of ``(H, c_ops)`` with a non-unique steady state
DARK: dict[str, Callable] = {"dark_singlet": dark_singlet_qubits, "dark_cavities": dark_mode_cavities}
