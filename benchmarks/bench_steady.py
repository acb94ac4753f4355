"""qness.steady_state (default call) vs qutip.steadystate (default call), side by side.

Run: ``python benchmarks/bench_steady.py`` (``--quick`` for a smoke run,
``--qutip-timeout S`` to bound each QuTiP case, default 300 s).
Models (as in issue 3): boundary-driven XXZ chain (H = sum sx sx + sy sy + 0.5
sz sz, L = s+ on the first site and s- on the last) with 6 to 12 spins;
dissipative transverse-field Ising chain (s- on every site) with 6 to 10
spins; Kerr resonator with 50, 100 and 200 Fock states. Each case runs in a
fresh process; the residual is ||L vec(rho)||_2 recomputed from qness's
assembled L (for QuTiP's state too).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

QNESS = {
    "xxz": "import qness\nmodel = qness.models.boundary_driven_xxz({n}, delta=0.5, gamma=1.0)\n",
    "ising": "import qness\nmodel = qness.models.dissipative_ising({n}, V=1.0, h=1.0, detuning=0.0, gamma=1.0)\n",
    "kerr": "import qness\nmodel = qness.models.kerr({n}, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)\n",
    # Bose-Hubbard ring of 3 (benchmarks/corpus.py, middle site driven), cutoff n per site
    "bh3": (
        "import sys, qness\nsys.path.insert(0, 'benchmarks')\nfrom corpus import bose_hubbard_trimer\n"
        "model = qness.from_qutip(*bose_hubbard_trimer({n}))\n"
    ),
    # open Bose-Hubbard chain of 4 sites, second site driven, cutoff n per site
    "bh4": (
        "import qness\nmodel = qness.models.bose_hubbard(4, cutoff={n}, J=0.3, U=0.4, detuning=-0.2, "
        "F=[0, 0.5, 0, 0], kappa=0.4)\n"
    ),
}
#: ``--variants``: the preconditioner rule as shipped ("auto"), the no-jump inverse alone ("jacobi"), ...,
#: or the q = 0 sector unfolded ("unfolded")
VARIANT = {
    "auto": "",
    "jacobi": "import qness.symmetry\nqness.symmetry.TWO_LEVEL_MIN_BLOCKS = 10**9\n",
    "two-step": "import qness.symmetry\nqness.symmetry.TWO_LEVEL_MIN_BLOCKS = 10**9\n"
    "qness.symmetry.ONE_BLOCK_VARIANT = 'two-step'\n",
    # two-step with three / four no-jump steps (qness.symmetry.POLYNOMIAL_STEPS; session 17)
    "three-step": "import qness.symmetry\nqness.symmetry.TWO_LEVEL_MIN_BLOCKS = 10**9\n"
    "qness.symmetry.POLYNOMIAL_STEPS = 3\n",
    "four-step": "import qness.symmetry\nqness.symmetry.TWO_LEVEL_MIN_BLOCKS = 10**9\n"
    "qness.symmetry.POLYNOMIAL_STEPS = 4\n",
    "two-level": "import qness.symmetry\nqness.symmetry.TWO_LEVEL_MIN_BLOCKS = 1\n",
    # the q = 0 sector itself, not folded by a charge-reversing symmetry (qness.symmetry.detect_fold)
    "unfolded": "import qness.solvers.steady\nqness.solvers.steady.FOLD_MIN_DIM = 10**9\n",
}
RUN_QNESS = (
    "ness = qness.steady_state(model)\n"
    "extra = dict(residual=ness.residual, method=ness.info['method'], sector=ness.info['sector']['size'],"
    " iterations=ness.info.get('iterations'), variant=ness.info.get('preconditioner_variant'),"
    " check=(ness.info.get('uniqueness') or {}).get('check_iterations'),"
    " fold=(ness.info.get('fold') or {}).get('size'),"
    " odd=((ness.info.get('uniqueness') or {}).get('odd_sector') or {}).get('check_iterations'))"
)


def steps(e: dict) -> str:
    """``solve + check`` GMRES steps (``+ odd`` when a fold's or parity's odd states were checked),
    and the folded sector's size when the solve folded it."""
    out = f"{e.get('iterations')} + {e.get('check')}"
    if e.get("odd") is not None:
        out += f" + {e['odd']}"
    if e.get("fold"):
        out += f", folded to {e['fold']}"
    return out


# QuTiP builds its operators natively (sparse CSR), as its users do.
QUTIP = """
import qness, qutip, numpy as np
model = {ctor}
H, c_ops = model.to_qutip()
"""
RUN_QUTIP = (
    "rho = qutip.steadystate(H, c_ops)\n"
    "L = qness.liouvillian(model)\n"
    "extra = dict(residual=float(np.linalg.norm(L @ rho.full().ravel(order='F'))))"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--qutip-timeout", type=float, default=300.0)
    ap.add_argument("--only", choices=list(QNESS), default=None)
    ap.add_argument("--backends", action="store_true", help="Direct: UMFPACK (cvxopt) against SuperLU")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="only these sizes (with --only)")
    ap.add_argument("--no-qutip", action="store_true", help="time qness alone")
    ap.add_argument(
        "--variants",
        nargs="*",
        choices=list(VARIANT),
        default=None,
        help="compare preconditioner variants and thread counts (qness alone; see --threads)",
    )
    ap.add_argument(
        "--threads", type=int, nargs="*", default=[1], help="with --variants: OMP_NUM_THREADS values"
    )
    ap.add_argument("--repeat", type=int, default=1, help="with --variants: runs per setting (min time kept)")
    args = ap.parse_args()
    if args.variants:
        return compare(args)
    if args.backends:
        print(
            "| model | size | unknowns | SuperLU (s) | UMFPACK (s) | SuperLU/UMFPACK | diff of max abs(rho_ij) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind, n in (("xxz", 6), ("xxz", 7), ("ising", 6), ("kerr", 200), ("kerr", 300)):
            res = {}
            for backend in ("superlu", "umfpack"):
                res[backend] = measure(
                    QNESS[kind].format(n=n),
                    f"ness = qness.steady_state(model, qness.Direct(backend='{backend}'))\n"
                    "import numpy as np\nextra = dict(n=ness.info['sector']['size'],"
                    " r00=[float(np.max(np.abs(ness.rho))), float(np.trace(ness.rho).real)])",
                )
            a, b = res["superlu"], res["umfpack"]
            # max |rho_ij| of each solution must agree: a cheap cross-check across the two processes
            ok = "extra" in a and "extra" in b
            diff = abs(a["extra"]["r00"][0] - b["extra"]["r00"][0]) if ok else float("nan")
            print(
                f"| {kind} | {n} | {a.get('extra', {}).get('n')} | {a['time']:.3f} | {b['time']:.3f} "
                f"| {a['time'] / b['time']:.1f}x | {diff:.1e} |",
                flush=True,
            )
        return
    if args.quick:
        plan = {"xxz": [5, 6], "ising": [4], "kerr": [50]}
        qutip_max = {"xxz": 6, "ising": 4, "kerr": 50}
    else:
        plan = {"xxz": [6, 7, 8, 9, 10, 11, 12], "ising": [6, 7, 8, 9, 10], "kerr": [50, 100, 200]}
        qutip_max = {"xxz": 8, "ising": 8, "kerr": 200}
    print(
        "| model | size | qness (s) | qness peak (MiB) | method (sector size, GMRES steps) | residual "
        "| QuTiP (s) | QuTiP peak (MiB) | QuTiP residual | speed-up |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for kind, sizes in plan.items():
        if args.only and kind != args.only:
            continue
        for n in sizes if args.sizes is None else args.sizes:
            setup = QNESS[kind].format(n=n)
            ours = measure(setup, RUN_QNESS)
            e = ours.get("extra", {})
            if n <= qutip_max[kind] and not args.no_qutip:
                ctor = QNESS[kind].format(n=n).split("\n")[1].split("= ", 1)[1]
                theirs = measure(QUTIP.format(ctor=ctor), RUN_QUTIP, timeout=args.qutip_timeout)
            else:
                why = "not run (--no-qutip)" if args.no_qutip else "not run (out of reach)"
                theirs = {"time": float("nan"), "peak_mib": float("nan"), "error": why}
            te = theirs.get("extra", {})
            qt = f"{theirs['time']:.2f}" if "error" not in theirs else theirs["error"]
            ratio = (
                theirs["time"] / ours["time"]
                if "error" not in theirs and "error" not in ours
                else float("nan")
            )
            ot = f"{ours['time']:.2f}" if "error" not in ours else ours["error"]
            rt = f"{ratio:.1f}x" if ratio == ratio else "-"
            print(
                f"| {kind} | {n} | {ot} | {ours['peak_mib']:.0f} | {e.get('method')} ({e.get('sector')}, "
                f"{steps(e)}) | {e.get('residual', float('nan')):.1e} | {qt} | {theirs['peak_mib']:.0f} "
                f"| {te.get('residual', float('nan')):.1e} | {rt} |",
                flush=True,
            )


def compare(args):
    """Preconditioner variants x thread counts, interleaved, each in a fresh process (issue 18)."""
    import os

    plan = {"xxz": [8, 9, 10], "ising": [8, 9], "bh3": [8], "bh4": [5]}
    print(f"load average at start: {os.getloadavg()}")
    print(
        "| model | size | unknowns | variant | threads | time (s), min of runs | all runs (s) | peak (MiB) "
        "| GMRES steps (solve + uniqueness check) | residual | load |"
    )
    print("|---|---:|---:|---|---:|---:|---|---:|---|---:|---:|")
    for kind, sizes in plan.items():
        if args.only and kind != args.only:
            continue
        for n in sizes if args.sizes is None else args.sizes:
            runs = {}
            for _ in range(args.repeat):  # interleaved: the machine's load hits every setting alike
                for variant in args.variants:
                    for th in args.threads:
                        os.environ["OMP_NUM_THREADS"] = str(th)
                        res = measure(VARIANT[variant] + QNESS[kind].format(n=n), RUN_QNESS)
                        res["load"] = os.getloadavg()[0]
                        runs.setdefault((variant, th), []).append(res)
            os.environ.pop("OMP_NUM_THREADS", None)
            for (variant, th), rs in runs.items():
                ok = [r for r in rs if "error" not in r]
                if not ok:
                    print(f"| {kind} | {n} | - | {variant} | {th} | {rs[0]['error']} | | | | | |", flush=True)
                    continue
                best = min(ok, key=lambda r: r["time"])
                e = best["extra"]
                times = ", ".join(f"{r['time']:.2f}" for r in ok)
                print(
                    f"| {kind} | {n} | {e['sector']} | {variant}: {e.get('variant')} | {th} | {best['time']:.2f} | {times} "
                    f"| {best['peak_mib']:.0f} | {steps(e)} | {e['residual']:.1e} "
                    f"| {best['load']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
