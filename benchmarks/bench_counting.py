"""Current, noise and skewness of the boundary-driven XXZ chain: qness.analysis.cumulants vs QuTiP.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_counting.py``
(``--quick`` for a smoke run). Each case runs once in a fresh process
(``_harness.measure``): wall time and peak resident memory above the setup.

Model: ``boundary_driven_xxz(n, delta=0.5, gamma=1, mu=0.5)``; counted: the
net number of up spins leaving at the right end (``out_{n-1}`` weight +1,
``in_{n-1}`` weight -1). Both sides compute the steady state inside the timed
part (imports are not timed). qness: ``steady_state`` then ``cumulants(order=3)`` (two Drazin solves
with the engine's default route). QuTiP: ``steadystate(L)`` then
``countstat_current_noise(L, [], rhoss=..., J_ops=[J_out + J_in],
I_ops=[J_out - J_in])`` at ``w = 0`` (its sparse "direct" method, which
forms the projector ``Q = 1 - |rho>><<1|`` as a sparse matrix with
``d^4`` stored entries). Agreement: largest relative difference of
``C_1, C_2, C_3``. A last column checks ``C_1`` against the bond spin
current from the state alone (continuity). A second table compares the
finite-frequency noise ``noise_spectrum`` with ``countstat_current_noise(...,
wlist=...)`` (``--only-omegas`` runs it alone). A third table (``--only-scgf``
runs it alone; ``--scgf-lengths``) gives the scaled cumulant generating
function ``scgf`` of the same count on 5 points ``s`` in ``[-0.5, 0.5]``
(steady state inside the timed part): QuTiP has no SCGF, so there is no
QuTiP column; where the sector is small enough (``--scgf-lu``) the
matrix-free route is checked against the sparse-LU (shift-invert) route.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

SETUP = (
    "import qness, numpy as np, qutip\n"
    "from qness.analysis.counting import cumulants\n"
    "n = {n}\n"
    "model = qness.models.boundary_driven_xxz(n, delta=0.5, gamma=1.0, mu=0.5)\n"
    "counted = {{f'out_{{n-1}}': 1, f'in_{{n-1}}': -1}}\n"
)
RUN_QNESS = (
    "ness = qness.steady_state(model)\n"
    "c = cumulants(model, ness, counted=counted, order={order})\n"
    "bond = qness.analysis.bond_currents(model, ness, 'particle')\n"
    "extra = dict(C=c.cumulants.tolist(), fano=c.fano, route=c.info['route'], "
    "iterations=c.info['solver'].get('iterations', []), size=c.info['sector']['size'], "
    "bond_err=float(np.max(np.abs(bond - c.current))))\n"
)
RUN_QUTIP = (
    "H, c_ops = model.to_qutip()\n"
    "labels = [j.label for j in model.jumps]\n"
    "co, ci = c_ops[labels.index(f'out_{n-1}')], c_ops[labels.index(f'in_{n-1}')]\n"
    "L = qutip.liouvillian(H, c_ops)\n"
    "rhoss = qutip.steadystate(L)\n"
    "Jo, Ji = qutip.sprepost(co, co.dag()), qutip.sprepost(ci, ci.dag())\n"
    "cur, noise, skew = qutip.countstat_current_noise(L, [], rhoss=rhoss, J_ops=[Jo + Ji], I_ops=[Jo - Ji])\n"
    "extra = dict(C=[float(cur[0]), float(noise[0, 0, 0]), float(skew[0, 0])])\n"
)


RUN_QNESS_W = (
    "from qness.analysis.counting import noise_spectrum\n"
    "ness = qness.steady_state(model)\n"
    "S = noise_spectrum(model, counted, {omegas}, ness=ness)\n"
    "extra = dict(S=S.tolist())\n"
)
RUN_QUTIP_W = RUN_QUTIP.replace("I_ops=[Jo - Ji])", "I_ops=[Jo - Ji], wlist={omegas})").replace(
    "extra = dict(C=[float(cur[0]), float(noise[0, 0, 0]), float(skew[0, 0])])",
    "extra = dict(S=noise[0, 0, :].tolist())",
)


def frequencies(lengths, omegas, timeout):
    """Finite-frequency noise S(w): noise_spectrum against countstat_current_noise(wlist=...)."""
    print()
    print(f"Finite-frequency noise at w = {omegas}")
    print()
    print(
        "| n | qness time (s) | qness peak (MiB) | QuTiP time (s) | QuTiP peak (MiB) | max rel. diff S(w) | S(w) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for n in lengths:
        setup = SETUP.format(n=n)
        q = measure(setup, RUN_QNESS_W.format(omegas=list(omegas)))
        r = measure(setup, RUN_QUTIP_W.replace("{omegas}", str(list(omegas))), timeout=timeout)
        if "error" in q:
            print(f"| {n} | error: {q['error']} | | | | | |")
            continue
        S = q["extra"]["S"]
        if "error" in r:
            qt = f"error: {r['error']}", "-", "-"
        else:
            qt = f"{r['time']:.2f}", f"{r['peak_mib']:.0f}", f"{rel(S, r['extra']['S']):.1e}"
        vals = ", ".join(f"{v:.6f}" for v in S)
        print(
            f"| {n} | {q['time']:.2f} | {q['peak_mib']:.0f} | {qt[0]} | {qt[1]} | {qt[2]} | {vals} |",
            flush=True,
        )


RUN_SCGF = (
    "import numpy as np\n"
    "from qness.analysis.counting import scgf\n"
    "ness = qness.steady_state(model)\n"
    "r = scgf(model, counted, np.linspace(-0.5, 0.5, 5), ness=ness{method})\n"
    "extra = dict(theta=r.theta.tolist(), route=r.info['route'], size=r.info['sector']['size'], "
    "certified=bool(r.info['certified'].all()), solves=r.info.get('solves'), "
    "iterations=r.info.get('iterations'), residual=float(np.max(r.info['residual'])) if 'residual' in r.info else None)\n"
)


def scgf_table(lengths, lu_lengths):
    """SCGF theta(s) of the net right-end count, matrix-free route (and the sparse LU where asked)."""
    print()
    print("SCGF theta(s), s = -0.5, -0.25, 0, 0.25, 0.5 (QuTiP has no SCGF)")
    print()
    print(
        "| n | sector size | route | time (s) | peak (MiB) | outer solves (GMRES its) | max residual | "
        "certified | theta(s) | vs shift-invert (LU) |"
    )
    print("|---:|---:|---|---:|---:|---|---:|---|---|---|")
    for n in lengths:
        setup = SETUP.format(n=n)
        q = measure(setup, RUN_SCGF.format(method=""))
        if "error" in q:
            print(f"| {n} | - | error: {q['error']} | | | | | | | |", flush=True)
            continue
        e = q["extra"]
        lu = "-"
        if n in lu_lengths:
            r = measure(setup, RUN_SCGF.format(method=", method='direct'"))
            if "error" in r:
                lu = f"error: {r['error']}"
            else:
                diff = max(abs(a - b) for a, b in zip(e["theta"], r["extra"]["theta"]))
                lu = f"{r['time']:.2f} s, {r['peak_mib']:.0f} MiB; max diff {diff:.1e}"
        its = f"{e['solves']} ({e['iterations']})" if e["solves"] is not None else "-"
        vals = ", ".join(f"{v:.8f}" for v in e["theta"])
        print(
            f"| {n} | {e['size']} | {e['route']} | {q['time']:.2f} | {q['peak_mib']:.0f} | {its} | "
            f"{'-' if e['residual'] is None else format(e['residual'], '.1e')} | {e['certified']} | {vals} | {lu} |",
            flush=True,
        )


def rel(a, b):
    return max(abs(x - y) / max(abs(y), 1e-300) for x, y in zip(a, b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--qutip", type=int, nargs="*", default=[3, 4, 5, 6], help="lengths run by both")
    ap.add_argument("--qness-only", type=int, nargs="*", default=[7, 8, 9, 10], help="lengths beyond QuTiP")
    ap.add_argument("--qutip-timeout", type=float, default=900.0)
    ap.add_argument("--omega-lengths", type=int, nargs="*", default=[3, 4, 5], help="lengths for S(w)")
    ap.add_argument("--omegas", type=float, nargs="*", default=[0.5, 1.0, 2.0])
    ap.add_argument("--only-omegas", action="store_true", help="run the finite-frequency table only")
    ap.add_argument("--scgf-lengths", type=int, nargs="*", default=[7, 8, 9, 10], help="lengths for the SCGF")
    ap.add_argument("--scgf-lu", type=int, nargs="*", default=[7], help="SCGF lengths also run by sparse LU")
    ap.add_argument("--only-scgf", action="store_true", help="run the SCGF table only")
    args = ap.parse_args()
    if args.only_omegas:
        frequencies(args.omega_lengths, args.omegas, args.qutip_timeout)
        return
    if args.only_scgf:
        scgf_table(args.scgf_lengths, args.scgf_lu)
        return
    both = [3, 4] if args.quick else args.qutip
    alone = [] if args.quick else args.qness_only
    print(
        "| n | sector size | qness route (GMRES its) | qness time (s) | qness peak (MiB) | QuTiP time (s) | "
        "QuTiP peak (MiB) | max rel. diff C1..C3 | C1 | C2 | Fano C2/C1 | C3/C1 | C1 vs bond current |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in both + alone:
        setup = SETUP.format(n=n)
        order = 3 if n in both or n <= 9 else 2
        q = measure(setup, RUN_QNESS.format(order=order))
        if "error" in q:
            print(f"| {n} | - | error: {q['error']} | | | | | | | | | | |")
            continue
        e = q["extra"]
        C = e["C"]
        its = e["iterations"]
        route = e["route"] + (f" ({', '.join(str(i) for i in its)})" if its else "")
        if n in both:
            r = measure(setup, RUN_QUTIP, timeout=args.qutip_timeout)
            if "error" in r:
                qt = f"error: {r['error']}", "-", "-"
            else:
                qt = f"{r['time']:.2f}", f"{r['peak_mib']:.0f}", f"{rel(C, r['extra']['C']):.1e}"
        else:
            d2 = 4**n
            qt = f"not run (Q alone: {d2 * d2 * 16 / 2**40:.2g} TiB)", "-", "-"
        c3 = f"{C[2] / C[0]:.6f}" if len(C) > 2 else "-"
        print(
            f"| {n} | {e['size']} | {route} | {q['time']:.2f} | {q['peak_mib']:.0f} | {qt[0]} | {qt[1]} | "
            f"{qt[2]} | {C[0]:.8f} | {C[1]:.8f} | {e['fano']:.6f} | {c3} | {e['bond_err']:.1e} |",
            flush=True,
        )
    frequencies([3] if args.quick else args.omega_lengths, args.omegas, args.qutip_timeout)
    scgf_table([5] if args.quick else args.scgf_lengths, [5] if args.quick else args.scgf_lu)


if __name__ == "__main__":
    main()
