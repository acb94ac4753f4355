"""qness.steady_state against qutip.steadystate on a corpus of models a QuTiP user writes.

Run: ``python benchmarks/bench_corpus.py`` (``--only jc_150 rabi`` for some
rows, ``--quick`` for the models whose QuTiP solve is short, ``--repeat 3``
to keep the best of three timings of each library (QuTiP's repeats stop after 10 s), ``--method krylov`` to
force a qness method instead of ``Auto``).

Every model (``benchmarks/corpus.py``) is built from ``qutip`` objects and
solved in one fresh process, first by ``qness.steady_state((H, c_ops))`` (the
default call, conversion included), then by ``qutip.steadystate(H, c_ops)``
(the default call: SuperLU with COLAMD on the weighted Liouvillian). Reported:
wall times, speed-up, agreement ``max |rho - rho_qutip|``, both residuals
``||L vec(rho)||_2``, the method ``Auto`` chose (and why, ``NESS.info["auto"]``),
and the peak resident memory of the qness solve above the process's resident
memory before it (``getrusage`` ``ru_maxrss``; includes SuperLU/UMFPACK
allocations that ``tracemalloc`` would not see). BLAS runs on one thread
(``OPENBLAS_NUM_THREADS=1``) unless the environment says otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from corpus import CORPUS  # noqa: E402

# models whose QuTiP solve takes at most a few seconds (--quick)
QUICK = ["jc_40", "jc_15", "rabi", "kerr_thermal", "driven_cavity", "ising_6", "fridge", "spin_boson"]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, qutip, qness
from corpus import CORPUS
name, method, repeat, run_qutip = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
entry = CORPUS[name]
H, c_ops = entry.build(entry.bench)
out = {"name": name, "dim": H.shape[0], "unknowns": H.shape[0] ** 2}
meth = None if method == "auto" else method
times = []
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(repeat):
    t = time.perf_counter()
    ness = qness.steady_state((H, c_ops), meth)
    times.append(time.perf_counter() - t)
out["peak_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024.0
out.update(qness_time=min(times), residual=ness.residual, method=ness.info["method"],
           auto=ness.info.get("auto", ""), sector=ness.info["sector"]["size"],
           backend=ness.info.get("backend", ""), iterations=ness.info.get("iterations"))
print("PARTIAL " + json.dumps(out, default=float), flush=True)
if run_qutip:
    times = []
    for _ in range(repeat):  # repeats only while they are cheap (QuTiP takes minutes on some rows)
        t = time.perf_counter()
        rq = qutip.steadystate(H, c_ops)
        times.append(time.perf_counter() - t)
        if sum(times) > 10.0:
            break
    L = qness.liouvillian(qness.from_qutip(H, c_ops))
    out.update(qutip_time=min(times), agreement=float(np.max(np.abs(rq.full() - ness.rho))),
               qutip_residual=float(np.linalg.norm(L @ rq.full().ravel(order="F"))))
print("RESULT " + json.dumps(out, default=float), flush=True)
"""


def run_one(name: str, method: str, repeat: int, qutip: bool, timeout: float) -> dict:
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = [sys.executable, "-c", CHILD, str(HERE), name, method, str(repeat), "1" if qutip else "0"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
        lines = proc.stdout.splitlines()
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        lines = out.splitlines()
        err = f"timeout after {timeout:.0f} s"
    res = {"name": name}
    for line in lines:
        for tag in ("PARTIAL ", "RESULT "):
            if line.startswith(tag):
                res = json.loads(line[len(tag) :])
    if "qutip_time" not in res and (qutip or "qness_time" not in res):
        res["error"] = err
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(CORPUS), default=None, help="run only these models")
    ap.add_argument("--quick", action="store_true", help="only the models QuTiP solves in seconds")
    ap.add_argument("--method", default="auto", help="qness method name (default: Auto)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="best of this many timings (QuTiP: while under 10 s in all)"
    )
    ap.add_argument("--no-qutip", action="store_true", help="time qness alone")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per model (both libraries)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = ap.parse_args()
    names = args.only or (QUICK if args.quick else list(CORPUS))
    print(f"threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '1 (set here)')}")
    print(
        "| model | family | unknowns | qness (s) | QuTiP (s) | speed-up | max abs(rho - rho_qutip) "
        "| qness residual | QuTiP residual | peak MiB | method (Auto's reason) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for name in names:
        r = run_one(name, args.method, args.repeat, not args.no_qutip, args.timeout)
        rows.append(r)
        e = CORPUS[name]
        if "qness_time" not in r:
            print(f"| {name} | {e.family} | | error: {r.get('error')} | | | | | | | |", flush=True)
            continue
        qt_t = r.get("qutip_time", math.nan)
        how = r["method"] + (f"/{r['backend']}" if r.get("backend") else "")
        if r.get("auto"):
            how += f" ({r['auto']})"
        if r.get("error"):
            how += f"; QuTiP: {r['error']}"
        print(
            f"| {name} | {e.family} | {r['unknowns']:,} | {r['qness_time']:.3g} | {qt_t:.3g} | "
            f"{qt_t / r['qness_time']:.3g}x | {r.get('agreement', math.nan):.1e} | {r['residual']:.1e} | "
            f"{r.get('qutip_residual', math.nan):.1e} | {r['peak_mib']:.0f} | {how} |",
            flush=True,
        )
    done = [r for r in rows if "qutip_time" in r]
    if done:
        gm = math.exp(sum(math.log(r["qutip_time"] / r["qness_time"]) for r in done) / len(done))
        worst = max(r["agreement"] for r in done)
        slower = [r["name"] for r in done if r["qutip_time"] >= 0.2 and r["qness_time"] > r["qutip_time"]]
        print(
            f"\n{len(done)} models: geometric-mean speed-up {gm:.3g}x; worst agreement {worst:.1e}; "
            f"slower than QuTiP (where QuTiP >= 0.2 s): {', '.join(slower) or 'none'}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
