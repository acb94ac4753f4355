"""qness.spectrum / liouvillian_gap vs QuTiP's closest route, and accuracy against dense eig.

Run: ``python benchmarks/bench_spectrum.py`` (``--quick`` for a smoke run);
``--corpus`` runs the model corpus of ``tests/spectrum_corpus.py`` (k = 1, 4, 8 per
model, default method): time, certified, distance to dense eig, and QuTiP's
route for comparison (``eigenenergies(sparse=True, sort="high")``, which finds
the eigenvalues of largest *modulus* near the top of the sorted list, not the
rightmost).
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
    ap.add_argument("--corpus", action="store_true", help="the model corpus against dense eig")
    ap.add_argument("--only", nargs="*", default=None, help="corpus models whose name contains one of these")
    args = ap.parse_args()
    if args.corpus:
        corpus(args.only)
        return
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


CORPUS_SETUP = (
    "import sys, numpy as np\nsys.path.insert(0, {tests!r})\nimport qness\n"
    "from spectrum_corpus import build, dense_spectrum, distance_to_dense\nmodel = build({name!r})\n"
)
CORPUS_RUN = (
    "import warnings\nout = {}\n"
    "for k in (1, 4, 8):\n"
    "    with warnings.catch_warnings(record=True) as w:\n"
    "        warnings.simplefilter('always')\n"
    "        spec = qness.spectrum(model, k=k, vectors=False)\n"
    "    out[k] = dict(ev=[[complex(z).real, complex(z).imag] for z in spec.eigenvalues],"
    " certified=bool(spec.certified), warned=len(w))\n"
    "extra = out\n"
)
CORPUS_DENSE = "ev = dense_spectrum(model)\nextra = dict(ev=[[z.real, z.imag] for z in ev])\n"


def corpus(only):
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    sys.path.insert(0, tests)
    from spectrum_corpus import CORPUS, build, distance_to_dense

    print(
        "| model | unknowns | qness k=1,4,8 (s) | certified | warnings | max dist to dense | dense eig (s) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for name in CORPUS:
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        setup = CORPUS_SETUP.format(tests=tests, name=name)
        ours = measure(setup, CORPUS_RUN, timeout=1800)
        dense = measure(setup, CORPUS_DENSE, timeout=1800)
        if "error" in ours or "error" in dense:
            print(f"| {name} | | {ours.get('error', '')} | | | | {dense.get('error', '')} |", flush=True)
            continue
        ref = np.array([complex(*z) for z in dense["extra"]["ev"]])
        res = ours["extra"]
        d = max(
            distance_to_dense(np.array([complex(*z) for z in res[str(k)]["ev"]]), ref, k) for k in (1, 4, 8)
        )
        cert = all(res[str(k)]["certified"] for k in (1, 4, 8))
        warned = sum(res[str(k)]["warned"] for k in (1, 4, 8))
        n = build(name).dim ** 2
        print(
            f"| {name} | {n} | {ours['time']:.2f} | {cert} | {warned} | {d:.1e} | {dense['time']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
