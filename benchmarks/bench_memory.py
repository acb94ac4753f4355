"""Issue 18, items 3-4: bounded-memory Krylov (IDR(s) vs GMRES) and single modes with large cutoffs.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_memory.py`` (``--only xxz|kerr``, ``--sizes``,
``--qutip-timeout S``, ``--no-qutip``).

* XXZ chain (``boundary_driven_xxz(n, delta=0.5)``, as in ``bench_steady.py``):
  ``Krylov()`` (GMRES, restart 100) against ``Krylov(solver="idrs")``
  (IDR(8)), both with the Sylvester preconditioner and their default
  uniqueness check; operator applications of the solve (and of the check),
  wall and CPU time, peak memory above the model's, linear residual
  ``||b - A x||`` (``||b|| = 1``) and ``||L vec(rho)||_2``.
* Kerr resonator (``kerr(n, detuning=-1, U=0.1, F=1, kappa=1)``, as in
  ``bench_steady.py``) with 500 and 1000 Fock states (2000 with ``--sizes 2000``:
  its LU needs about 15 GiB): ``qness.steady_state(model)``
  (Auto: the grid nested-dissection LU), ``Direct()`` (UMFPACK, its own
  ordering) and ``qutip.steadystate(H, c_ops)`` (default call).

Each case runs in a fresh process (``_harness.measure``), one BLAS thread.
The machine is shared: the CPU time of the measured process is reported next
to the wall time (it is less sensitive to other processes' load).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

MODEL = {
    "xxz": "import qness, time\nmodel = qness.models.boundary_driven_xxz({n}, delta=0.5, gamma=1.0)\n",
    "kerr": "import qness, time\nmodel = qness.models.kerr({n}, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)\n",
}
RUN = """
c0 = time.process_time()
ness = qness.steady_state(model, {method})
u = ness.info.get("uniqueness", {{}})
extra = dict(cpu=time.process_time() - c0, residual=ness.residual, lin=ness.info.get("linear_residual"),
             it=ness.info.get("iterations"), check=u.get("check_iterations"), verified=u.get("verified"),
             method=ness.info["method"], solver=ness.info.get("solver") or ness.info["options"].get("ordering"),
             n=ness.info["sector"]["size"], lu_nnz=ness.info.get("lu_nnz"), swaps=ness.info.get("row_swaps"))
"""
QUTIP = """
import qness, qutip, numpy as np, time
model = qness.models.kerr({n}, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
H, c_ops = model.to_qutip()
"""
RUN_QUTIP = """
c0 = time.process_time()
rho = qutip.steadystate(H, c_ops)
cpu = time.process_time() - c0
L = qness.liouvillian(model)
extra = dict(cpu=cpu, residual=float(np.linalg.norm(L @ rho.full().ravel(order="F"))))
"""


def row(label, n, r):
    e = r.get("extra", {})
    if "error" in r:
        print(f"| {label} | {n} | {r['error']} | | | | | | |", flush=True)
        return
    it = e.get("it")
    it = f"{it} (+{e['check']} check)" if e.get("check") is not None else f"{it}"
    lin = f"{e['lin']:.1e}" if e.get("lin") is not None else "-"
    extra = f" LU nnz {e['lu_nnz'] / 1e6:.0f}M, {e['swaps']} row swaps" if e.get("lu_nnz") else ""
    print(
        f"| {label} | {n} | {e.get('method', 'QuTiP')} {e.get('solver') or ''}{extra} | {it} | {r['time']:.2f} "
        f"| {e.get('cpu', float('nan')):.2f} | {r['peak_mib']:.0f} | {lin} | {e.get('residual', float('nan')):.1e} |",
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["xxz", "kerr"], default=None)
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--qutip-timeout", type=float, default=300.0)
    ap.add_argument("--no-qutip", action="store_true")
    args = ap.parse_args()
    plan = {"xxz": [10, 11], "kerr": [500, 1000]}
    print(
        "| model | size | method | operator applications | wall (s) | CPU (s) | peak (MiB) | linear residual | residual |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for kind, sizes in plan.items():
        if args.only and kind != args.only:
            continue
        for n in sizes if args.sizes is None else args.sizes:
            setup = MODEL[kind].format(n=n)
            if kind == "xxz":
                for m in ("qness.Krylov()", "qness.Krylov(solver='idrs')"):
                    row(f"xxz {m}", n, measure(setup, RUN.format(method=m)))
            else:
                row("kerr Auto", n, measure(setup, RUN.format(method="")))
                row(
                    "kerr Direct(check_memory=False) (UMFPACK)",
                    n,
                    measure(setup, RUN.format(method="qness.Direct(check_memory=False)")),
                )
                if not args.no_qutip:
                    row(
                        "kerr qutip.steadystate",
                        n,
                        measure(QUTIP.format(n=n), RUN_QUTIP, timeout=args.qutip_timeout),
                    )


if __name__ == "__main__":
    main()
