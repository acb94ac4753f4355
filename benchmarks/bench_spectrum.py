"""qness.spectrum / liouvillian_gap vs QuTiP's closest route, and accuracy against dense eig.

Run: ``python benchmarks/bench_spectrum.py`` (``--quick`` for a smoke run).
QuTiP has no gap function; its route is
``qutip.liouvillian(H, c_ops).to("csr").eigenenergies(sparse=True, sort="high", eigvals=k)``.
Accuracy: the largest distance from each returned eigenvalue to the dense
``numpy.linalg.eigvals`` of the full L (where that is affordable).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

K = 6
QNESS = {
    "kerr": "import qness, numpy as np\nmodel = qness.models.kerr({n}, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)\n",
    "xxz": "import qness, numpy as np\nmodel = qness.models.boundary_driven_xxz({n}, delta=0.5, gamma=1.0)\n",
}
RUN_QNESS = (
    f"spec = qness.spectrum(model, k={K}, vectors=False)\n"
    "extra = dict(gap=spec.gap, ev=[[complex(z).real, complex(z).imag] for z in spec.eigenvalues],"
    " methods=sorted({v['method'] + ('/' + v['inner'] if 'inner' in v else '') for v in spec.info['sectors'].values()}),"
    " exact=spec.info['exact_rightmost'])"
)
RUN_QUTIP = (
    "import qutip\nH, c_ops = model.to_qutip()\n"
    f"ev = qutip.liouvillian(H, c_ops).to('csr').eigenenergies(sparse=True, sort='high', eigvals={K})\n"
    "extra = dict(ev=[[complex(z).real, complex(z).imag] for z in ev])"
)
RUN_DENSE = (
    "w = np.linalg.eigvals(qness.liouvillian(model).toarray())\n"
    "w = w[np.argsort(-w.real)]\n"
    "extra = dict(ev=[[z.real, z.imag] for z in w], gap=float(-w[1].real))"
)


def dist(found, ref):
    if not found or not ref:
        return float("nan")
    ref = [complex(*r) for r in ref]
    return max(min(abs(complex(*f) - r) for r in ref) for f in found)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--qutip-timeout", type=float, default=600.0)
    ap.add_argument("--xxz", type=int, nargs="*", default=[6, 7, 8, 9, 10], help="chain lengths")
    ap.add_argument(
        "--gap-xxz", type=int, nargs="*", default=[], help="chain lengths for liouvillian_gap alone"
    )
    args = ap.parse_args()
    if args.gap_xxz:
        print("qness.liouvillian_gap (slowest mode over all sectors; no eigenvectors)")
        print("| model | size | qness (s) | peak (MiB) | gap |")
        print("|---|---:|---:|---:|---:|")
        for n in args.gap_xxz:
            r = measure(
                QNESS["xxz"].format(n=n), "extra = dict(gap=qness.liouvillian_gap(model))", timeout=3600
            )
            t = f"{r['time']:.1f}" if "error" not in r else r["error"]
            print(
                f"| xxz | {n} | {t} | {r['peak_mib']:.0f} | {r.get('extra', {}).get('gap', float('nan')):.6g} |",
                flush=True,
            )
        return
    plan = {"kerr": [30] if args.quick else [30, 50, 100], "xxz": [4, 5] if args.quick else args.xxz}
    dense_max = {"kerr": 50, "xxz": 6}
    qutip_max = {"kerr": 50, "xxz": 6}
    print(
        "| model | size | qness (s) | gap | sector methods | QuTiP route (s) | speed-up | dense eig (s) "
        "| max dist qness-dense | max dist QuTiP-dense |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for kind, sizes in plan.items():
        for n in sizes:
            setup = QNESS[kind].format(n=n)
            ours = measure(setup, RUN_QNESS, timeout=1800)
            e = ours.get("extra", {})
            theirs = measure(setup, RUN_QUTIP, timeout=args.qutip_timeout) if n <= qutip_max[kind] else {
                "time": float("nan"), "error": "not run"}  # fmt: skip
            dense = measure(setup, RUN_DENSE, timeout=1800) if n <= dense_max[kind] else {
                "time": float("nan"), "error": "not run"}  # fmt: skip
            dref = dense.get("extra", {}).get("ev", [])
            ratio = theirs["time"] / ours["time"] if "error" not in theirs else float("nan")
            qt = f"{theirs['time']:.2f}" if "error" not in theirs else theirs["error"]
            dt = f"{dense['time']:.2f}" if "error" not in dense else dense["error"]
            ot = f"{ours['time']:.2f}" if "error" not in ours else ours["error"]
            rt = f"{ratio:.0f}x" if np.isfinite(ratio) else "-"
            d_ours = dist(e.get("ev"), dref)
            d_theirs = dist(theirs.get("extra", {}).get("ev"), dref)
            d_ours = f"{d_ours:.1e}" if np.isfinite(d_ours) else "-"
            d_theirs = f"{d_theirs:.1e}" if np.isfinite(d_theirs) else "-"
            print(
                f"| {kind} | {n} | {ot} | {e.get('gap', float('nan')):.6g} | {', '.join(e.get('methods', []))} | {qt} "
                f"| {rt} | {dt} | {d_ours} | {d_theirs} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
