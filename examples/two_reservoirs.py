"""Chains between two reservoirs: boundary-driven XX current, local vs global heat currents.

Runs in a few seconds:  python examples/two_reservoirs.py
"""

import numpy as np

import qness
from qness import operators as ops
from qness.models import boundary_driven_xxz, two_node


def spin_current(model, rho, bond):
    """Current of up spins across ``bond = (i, i+1)``: <i[h_bond, n_{i+1}]>."""
    dims, (i, j) = model.dims, bond
    J = model.params["J"]
    h = J * (
        ops.chain_operator({i: "sigmax", j: "sigmax"}, dims)
        + ops.chain_operator({i: "sigmay", j: "sigmay"}, dims)
    )
    n_j = ops.embed(np.diag([1.0, 0.0]), j, dims)
    return np.trace(rho @ (1j * (h @ n_j - n_j @ h)).toarray()).real


print("Boundary-driven XXZ chain, mu = 1 (Prosen 2011): spin current against length")
print(f"{'n':>3} {'XX (delta=0)':>14} {'XXZ (delta=1)':>14}")
for n in (3, 4, 5, 6):
    row = []
    for delta in (0.0, 1.0):
        m = boundary_driven_xxz(n, delta=delta, gamma=1.0, mu=1.0)
        row.append(spin_current(m, qness.steady_state(m).rho, (0, 1)))
    print(f"{n:3d} {row[0]:14.6f} {row[1]:14.6f}")


def heat_currents(model, rho):
    """Energy current into the system from each bath, Tr(H D_b(rho)) (no drives here)."""
    H = model.H.toarray()
    out = {}
    for jump in model.jumps:
        L = np.sqrt(jump.rate) * jump.op.toarray()
        LdL = L.conj().T @ L
        D = L @ rho @ L.conj().T - 0.5 * (LdL @ rho + rho @ LdL)
        out[jump.bath] = out.get(jump.bath, 0.0) + np.trace(H @ D).real
    return out


print("\nTwo qubits between a hot and a cold bath (Hofer et al. NJP 19, 123037)")
print(f"{'g':>6} {'form':>7} {'J_hot':>11} {'J_cold':>11} {'entropy prod.':>14}")
T_h, T_c = 2.0, 0.5
for g in (0.01, 0.1, 0.5):
    for form in ("local", "global"):
        m = two_node(
            "qubit", omega_h=1.0, omega_c=0.8, g=g, gamma_h=0.05, gamma_c=0.05, T_h=T_h, T_c=T_c, form=form
        )
        J = heat_currents(m, qness.steady_state(m).rho)
        sigma = -(J["hot"] / T_h + J["cold"] / T_c)
        print(f"{g:6.2f} {form:>7} {J['hot']:11.3e} {J['cold']:11.3e} {sigma:14.3e}")
