"""Open TASEP and a three-state cycle: classical NESS as Lindblad models.

Runs in a few seconds:  python examples/classical_tasep.py
"""

import numpy as np

import qness
from qness.models import classical_generator, tasep, tasep_current, tasep_generator, three_state_cycle


def stationary(W):
    """Null vector of the classical generator W (columns sum to zero), normalised."""
    w, v = np.linalg.eig(W)
    p = np.real(v[:, np.argmin(np.abs(w))])
    return p / p.sum()


print("Open TASEP (Derrida et al. J. Phys. A 26, 1493): current from the 2^n generator")
print(f"{'alpha':>6} {'beta':>6} {'n':>3} {'J (generator)':>14} {'J (exact)':>11} {'phase':>12}")
for alpha, beta in ((0.3, 0.7), (0.2, 0.6), (0.8, 0.2), (0.9, 0.9)):
    phase = "max current" if min(alpha, beta) >= 0.5 else ("low density" if alpha < beta else "high density")
    for n in (4, 7):
        W = tasep_generator(n, alpha=alpha, beta=beta).toarray()
        p = stationary(W)
        empty0 = np.array([(s >> (n - 1)) & 1 for s in range(2**n)], dtype=bool)
        J = alpha * p[empty0].sum()
        exact = tasep_current(n, alpha=alpha, beta=beta)
        print(f"{alpha:6.2f} {beta:6.2f} {n:3d} {J:14.8f} {exact:11.8f} {phase:>12}")

print("\nThe same TASEP as a Lindblad model (n = 4): its NESS is diagonal")
model = tasep(4, alpha=0.3, beta=0.7)
if hasattr(qness, "steady_state"):
    rho = qness.steady_state(model).rho
    off = np.abs(rho - np.diag(np.diag(rho))).max()
    W = tasep_generator(4, alpha=0.3, beta=0.7).toarray()
    err = np.abs(np.diag(rho).real - stationary(W)).max()
    print(f"max |off-diagonal| = {off:.1e}, max |diag - p*| = {err:.1e}")

print("\nThree-state cycle A -> B -> C -> A with weak reverse rates")
k = dict(k_ab=2.0, k_bc=1.0, k_ca=0.5, k_ba=0.1, k_cb=0.1, k_ac=0.1)
rates = {
    (0, 1): k["k_ab"],
    (1, 2): k["k_bc"],
    (2, 0): k["k_ca"],
    (1, 0): k["k_ba"],
    (2, 1): k["k_cb"],
    (0, 2): k["k_ac"],
}
p = stationary(classical_generator(rates))
affinity = np.log(k["k_ab"] * k["k_bc"] * k["k_ca"] / (k["k_ba"] * k["k_cb"] * k["k_ac"]))
J = p[0] * k["k_ab"] - p[1] * k["k_ba"]
print(
    f"p = {np.round(p, 4)}, cycle current J = {J:.4f}, affinity A = {affinity:.3f}, J*A = {J * affinity:.4f}"
)
if hasattr(qness, "steady_state"):
    rho = qness.steady_state(three_state_cycle(**k)).rho
    print(f"Lindblad NESS diagonal = {np.round(np.diag(rho).real, 4)}")
