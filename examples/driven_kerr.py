"""Driven-dissipative Kerr resonator: photon number and parity across a drive scan.

Runs in a few seconds:  python examples/driven_kerr.py
"""

import numpy as np

import qness
from qness import operators as ops
from qness.models import kerr

cutoff = 25
a = ops.destroy(cutoff).toarray()
n_op = a.conj().T @ a

print("One-photon drive (Drummond & Walls): <n> and g2(0) against F")
print(f"{'F':>6} {'<n>':>9} {'g2(0)':>8} {'|alpha|^2 (U=0)':>16}")
detuning, U, kappa = -1.0, 0.5, 1.0
for F in (0.2, 0.5, 1.0, 1.5, 2.0):
    rho = qness.steady_state(kerr(cutoff, detuning=detuning, U=U, F=F, kappa=kappa)).rho
    n = np.trace(rho @ n_op).real
    g2 = np.trace(rho @ a.conj().T @ a.conj().T @ a @ a).real / n**2
    linear = abs(F / (kappa / 2 + 1j * detuning)) ** 2  # coherent state of the linear cavity
    print(f"{F:6.2f} {n:9.4f} {g2:8.4f} {linear:16.4f}")

print("\nTwo-photon Kerr (Minganti et al. PRA 98, 042118): parity symmetry, <n> against G")
print(f"{'G':>6} {'<n>':>9} {'<P>':>8} {'|<a>|':>8}")
for G in (0.5, 1.5, 3.0):
    model = kerr(cutoff, detuning=0.0, U=1.0, F=0.0, kappa=1.0, G=G, eta=1.0)
    rho = qness.steady_state(model).rho
    P = np.diag(model.z2().parities)
    n, parity, coherence = np.trace(rho @ n_op).real, np.trace(rho @ P).real, abs(np.trace(rho @ a))
    print(f"{G:6.2f} {n:9.4f} {parity:8.4f} {coherence:8.1e}")
