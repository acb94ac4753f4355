"""One mode (with a qubit, say): the grid nested-dissection LU against SuperLU/MMD and UMFPACK.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_grid_orderings.py``
(``--quick`` for the smaller sizes; ``--repeat 3`` keeps the best of three).

``Auto`` solves a single mode (alone or with a few other states) in the full space by
``Direct(ordering="GRID_ND")`` (:mod:`qness.solvers.gridlu`). This script times that route against
``Direct(backend="superlu", ordering="MMD_AT_PLUS_A")``, ``Direct(backend="umfpack")``, ``Auto`` and
``qutip.steadystate`` (its default), each in a fresh process (:mod:`_harness`), on modes whose stencil (the largest change of the photon
number by ``H`` or a jump operator) is 1 (one-photon terms), 2 (two-photon loss or drive) or 4
(``a^4`` loss), and
prints what ``Auto`` chose.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

# (name, stencil width, code building `m`); `d` is substituted
MODELS = {
    "kerr": (1, "m = qness.models.kerr({d}, detuning=-1.0, U=0.1, F=1.5, kappa=1.0)"),
    "jc": (
        1,
        "import qutip as qt\n"
        "a = qt.tensor(qt.destroy({d}), qt.qeye(2)); s = qt.tensor(qt.qeye({d}), qt.sigmam())\n"
        "H = 0.1 * a.dag() * a - 0.1 * s.dag() * s + 0.5 * (a.dag() * s + a * s.dag()) + 0.3 * (a + a.dag())\n"
        "m = qness.from_qutip(H, [0.2**0.5 * a, 0.05**0.5 * s])",
    ),
    "vdp": (
        2,
        "import qutip as qt\na = qt.destroy({d})\n"
        "H = 0.1 * a.dag() * a + 0.3j * (a - a.dag())\n"
        "m = qness.from_qutip(H, [a.dag(), 0.1**0.5 * a * a])",
    ),
    "kerr_2ph": (2, "m = qness.models.kerr({d}, detuning=-1.0, U=0.1, F=1.5, kappa=1.0, eta=0.2)"),
    "a4_loss": (
        4,
        "import qutip as qt\na = qt.destroy({d})\n"
        "m = qness.from_qutip(0.2 * a.dag() * a + 0.5 * (a + a.dag()), [a, 0.01 * a**4])",
    ),
    "qubit_2ph": (
        2,
        "import qutip as qt\n"
        "a = qt.tensor(qt.destroy({d}), qt.qeye(2)); sx = qt.tensor(qt.qeye({d}), qt.sigmax())\n"
        "sz = qt.tensor(qt.qeye({d}), qt.sigmaz()); s = qt.tensor(qt.qeye({d}), qt.sigmam())\n"
        "H = 0.5 * a.dag() * a + 0.4 * sz + 0.2 * sx * (a + a.dag()) + 1.0 * (a + a.dag())\n"
        "m = qness.from_qutip(H, [0.05**0.5 * a * a, 0.1**0.5 * s])",
    ),
}

SIZES = {
    "kerr": [150, 300, 600],
    "jc": [60, 150],
    "vdp": [150, 300, 600],
    "kerr_2ph": [150, 300, 600],
    "a4_loss": [150, 300],
    "qubit_2ph": [60, 120],
}
QUICK = {"kerr": [150], "jc": [60], "vdp": [150], "kerr_2ph": [150], "a4_loss": [150], "qubit_2ph": [60]}

METHODS = {
    "grid": 'qness.Direct(ordering="GRID_ND")',
    "mmd": 'qness.Direct(backend="superlu", ordering="MMD_AT_PLUS_A")',
    "umfpack": 'qness.Direct(backend="umfpack")',
    "auto": "qness.Auto()",
}
#: QuTiP's default steady state of the same model (its operators built in the untimed set-up)
QUTIP_SETUP, QUTIP_RUN = "import qutip\nH, c = m.to_qutip()", "qutip.steadystate(H, c)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=list(MODELS), nargs="*", default=None)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sizes = QUICK if args.quick else SIZES
    print(
        "| model | stencil | Fock states | unknowns | grid ND (s) | SuperLU MMD (s) | UMFPACK (s) | Auto (s) "
        "| QuTiP (s) | Auto's route |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in args.only or MODELS:
        width, code = MODELS[name]
        for d in sizes[name]:
            setup = f"import qness\n{code.format(d=d)}\nqness.steady_state(qness.models.kerr(8, detuning=0, U=0, F=1, kappa=1))"
            times, route, n = {}, "", 0
            for key, method in METHODS.items():
                best = None
                for _ in range(args.repeat):
                    r = measure(
                        setup,
                        f"r = qness.steady_state(m, method={method})\n"
                        "extra = {'route': r.info.get('auto', ''), 'n': r.info['sector']['size']}",
                        timeout=900,
                    )
                    if best is None or not r["time"] >= best["time"]:
                        best = r
                times[key] = best
                if key == "auto" and "extra" in best:
                    route, n = best["extra"]["route"].split(":")[0], best["extra"]["n"]
            times["qutip"] = measure(f"{setup}\n{QUTIP_SETUP}", QUTIP_RUN, timeout=900)
            cells = " | ".join(
                f"{times[k]['time']:.3g}" if "error" not in times[k] else "failed"
                for k in [*METHODS, "qutip"]
            )
            print(f"| {name} | {width} | {d} | {n} | {cells} | {route} |", flush=True)


if __name__ == "__main__":
    main()
