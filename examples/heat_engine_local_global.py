"""Two qubits between a hot and a cold bath: local versus global master equation.

The two-node device of Hofer et al., NJP 19, 123037 (2017), the building
block of their thermal machines (hbar = k_B = 1):

    H = (omega_h/2) sigma^z_h + (omega_c/2) sigma^z_c + g (sigma^+_h sigma^-_c + h.c.),

hot bath on qubit h, cold bath on qubit c, flat spectral density, Bose
occupations. ``qness.models.two_node(form="local")`` damps each qubit at its
bare frequency; ``form="global"`` uses the secular (Davies) jumps between
the eigenstates of ``H`` (written out in its docstring).

Part 1 (resonant qubits): the heat current from the hot bath as a function
of g. The local form is right for g << omega (its current grows as g^2 and
saturates); the global form is right for g >> gamma and fails at g <~ gamma,
where the two eigenfrequencies are not resolved by the baths and the
secular approximation breaks down: it predicts a current that stays finite
as g -> 0.

Part 2 (detuned qubits, omega_h/T_h > omega_c/T_c): the local form pushes
excitations from the cold to the hot side and heat with them, so its
entropy production is negative (Levy and Kosloff, EPL 107, 20004 (2014));
``qness.analysis.entropy_production`` warns with ``SecondLawWarning``. The
global form respects the second law.

Runs in a few seconds: ``python examples/heat_engine_local_global.py``.
"""

from __future__ import annotations

import warnings

import qness
from qness.analysis import SecondLawWarning, entropy_production, first_law_residual, heat_currents
from qness.models import two_node


def solve(form: str, **params):
    m = two_node("qubit", form=form, **params)
    ness = qness.steady_state(m)
    J = heat_currents(m, ness)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SecondLawWarning)
        sigma = entropy_production(m, ness)
    violated = any(issubclass(w.category, SecondLawWarning) for w in caught)
    return J["hot"], J["cold"], sigma, violated, first_law_residual(m, ness)


def main():
    base = dict(omega_h=1.0, omega_c=1.0, gamma_h=0.01, gamma_c=0.01, T_h=2.0, T_c=0.5)
    print("Part 1: resonant qubits, gamma = 0.01, T_h = 2, T_c = 0.5")
    print(f"{'g':>8} {'J_hot local':>12} {'J_hot global':>13}")
    for g in (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3):
        jl = solve("local", g=g, **base)[0]
        jg = solve("global", g=g, **base)[0]
        print(f"{g:8.0e} {jl:12.4e} {jg:13.4e}")

    print()
    print("Part 2: detuned qubits omega_h = 2, omega_c = 1, T_h = 1.0 > T_c = 0.8, gamma = 0.1")
    print(
        f"{'form':>7} {'g':>5} {'J_hot':>11} {'J_cold':>11} {'sigma':>11} {'2nd law':>8} {'1st law res':>12}"
    )
    det = dict(omega_h=2.0, omega_c=1.0, gamma_h=0.1, gamma_c=0.1, T_h=1.0, T_c=0.8)
    for form in ("local", "global"):
        for g in (0.05, 0.3):
            jh, jc, sigma, violated, res = solve(form, g=g, **det)
            flag = "VIOLATED" if violated else "ok"
            print(f"{form:>7} {g:5.2f} {jh:11.3e} {jc:11.3e} {sigma:11.3e} {flag:>8} {res:12.1e}")


if __name__ == "__main__":
    main()
