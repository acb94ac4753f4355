"""Session 21: strong dephasing, the Liouvillian's diagonal without cancellation, against QuTiP.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_dephasing.py

The kernels summed ``-1/2 sum_k L_k^+ L_k`` over every jump into ``H_eff`` before each jump's
``conj(L_k) x L_k`` cancelled it on the populations: with dephasing at rate ``g`` the entries there
carried rounding of ``eps g`` against Zeno rates ``J^2 / g``. ``qness.liouvillian.exact_diagonal``
writes each jump's part without cancellation. "lumped" below is the old assembly (the kernels' sum,
``qness._kernels.reference.assemble_reference``) solved by the same sparse LU, given as a matrix.

Part 1: an XX chain of 4 sites, dephasing ``sigma_z`` at ``g`` on every site and ``sigma_x`` at 0.1 on
site 0 (every jump Hermitian: the steady state is ``I/d``): the error ``max |rho - I/d|``.
Part 2: boundary-driven XXZ of 7 spins with dephasing ``g`` on every site (no closed form): the
residual ``||L rho||`` with QuTiP's Liouvillian (one dissipator per jump, exact on the diagonal).
Part 3: the same chain, Auto against Krylov and Direct (wall s, steps): with strong dephasing the
no-jump preconditioner leaves the populations almost unpreconditioned, and Auto's budgeted GMRES
now leaves for the LU when its rate projects far beyond the budget (``_StallProjection``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import qutip

import qness
from qness._kernels.reference import assemble_reference
from qness.liouvillian import lindblad_arrays


def zeno_chain(g, n=4):
    return (
        qness.ModelBuilder(2, n=n)
        .add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
        .add_onsite(0.3, "sigmaz")
        .add_jump("sigmaz", g)
        .add_jump("sigmax", 0.1, sites=0)
        .build()
    )


def dephased_xxz(g, n=7):
    return (
        qness.ModelBuilder(2, n=n)
        .add_coupling(1.0, "sigmap", "sigmam", plus_hc=True)
        .add_coupling(0.5, "sigmaz", "sigmaz")
        .add_jump("sigmaz", g)
        .add_jump("sigmam", 1.0, sites=0)
        .add_jump("sigmap", 1.0, sites=n - 1)
        .build()
    )


def lumped(model):
    arr = lindblad_arrays(model)
    return assemble_reference(arr.A, arr.jumps)


def timed(f, *args):
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(*args)
    names = sorted({w.category.__name__ for w in caught})
    return out, time.perf_counter() - t, ",".join(names) or "-"


def main():
    print("Part 1: XX chain of 4, sigma_z dephasing g, sigma_x 0.1 on site 0: max |rho - I/d|")
    print("| g | qness Auto | Direct | Krylov (matrix-free) | lumped L, same LU | QuTiP steadystate |")
    print("|---:|---:|---:|---:|---:|---:|")
    for g in (1e2, 1e3, 1e5, 1e7):
        m = zeno_chain(g)
        d = m.dim
        exact = np.eye(d) / d
        row = [f"{g:g}"]
        for method in (None, "direct", qness.Krylov(matrix_free=True)):
            r, _, w = timed(qness.steady_state, m, method)
            row.append(f"{np.abs(r.rho - exact).max():.1e} ({w})")
        r, _, _ = timed(qness.steady_state, lumped(m), "direct")
        row.append(f"{np.abs(r.rho - exact).max():.1e}")
        H, c = m.to_qutip()
        rq, _, _ = timed(qutip.steadystate, H, c)
        row.append(f"{np.abs(rq.full() - exact).max():.1e}")
        print("| " + " | ".join(row) + " |")
    print()
    print("Part 2: boundary-driven XXZ 7 with dephasing g: ||L rho|| with QuTiP's L, time (s)")
    print("| g | qness Auto | lumped L, same LU | QuTiP steadystate | max |rho - rho_qutip| |")
    print("|---:|---:|---:|---:|---:|")
    for g in (1e1, 1e3, 1e5):
        m = dephased_xxz(g)
        H, c = m.to_qutip()
        Lq = qutip.liouvillian(H, c).to("csr").data_as("csr_matrix")

        def res(rho, Lq=Lq):
            return np.linalg.norm(Lq @ np.asarray(rho).ravel(order="F"))

        r, t, w = timed(qness.steady_state, m)
        rl, tl, _ = timed(qness.steady_state, lumped(m), "direct")
        rq, tq, _ = timed(qutip.steadystate, H, c)
        print(
            f"| {g:g} | {res(r.rho):.1e}, {t:.2f} s ({w}) | {res(rl.rho):.1e}, {tl:.2f} s | "
            f"{res(rq.full()):.1e}, {tq:.2f} s | {np.abs(r.rho - rq.full()).max():.1e} |"
        )


def part3():
    print()
    print("Part 3: boundary-driven XXZ 7 with dephasing g: wall time (s)")
    print("| g | Krylov (steps) | Direct | Auto (route) | QuTiP steadystate |")
    print("|---:|---:|---:|---:|---:|")
    for g in (0.1, 1.0, 3.0, 10.0):
        m = dephased_xxz(g)
        rk, tk, _ = timed(qness.steady_state, m, "krylov")
        _, td, _ = timed(qness.steady_state, m, "direct")
        ra, ta, _ = timed(qness.steady_state, m)
        H, c = m.to_qutip()
        _, tq, _ = timed(qutip.steadystate, H, c)
        route = ra.info["method"] + (", after GMRES" if "Krylov failed" in ra.info.get("auto", "") else "")
        print(f"| {g:g} | {tk:.2f} ({rk.info['iterations']}) | {td:.2f} | {ta:.2f} ({route}) | {tq:.2f} |")


if __name__ == "__main__":
    main()
    part3()
