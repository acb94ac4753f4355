"""BLAS threads: qness's one-thread limit for small dense products, on and off.

Run: ``python benchmarks/bench_threads.py`` (``--repeat N``). Each case runs in a
fresh process whose environment has no ``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` (as for a user who never set them), so
OpenBLAS starts one thread per core. "limited" is qness as shipped (Dense and
Krylov solves with dense blocks of at most ``qness._threads.SMALL_BLOCK`` rows
run on one BLAS thread through threadpoolctl); "default threads" switches the
limit off (``SMALL_BLOCK = -1``). The machine's load average is printed: the
slowdown of the default comes from OpenBLAS threads competing for busy cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASES = {
    "xxz 8 (Auto: Krylov)": "m = qness.models.boundary_driven_xxz(8, delta=0.5, gamma=1.0); meth = None",
    "dissipative Ising 7 (Auto: Krylov)": (
        "m = qness.models.dissipative_ising(7, V=1.0, h=1.0, detuning=0.0, gamma=1.0); meth = None"
    ),
    "Kerr 100 (Krylov)": "m = qness.models.kerr(100, detuning=-1.0, U=0.1, F=1.0, kappa=1.0); meth = 'krylov'",
    "Bose-Hubbard dimer 10 (Auto: Krylov)": (
        "sys.path.insert(0, 'benchmarks'); from corpus import bose_hubbard_dimer;"
        " m = qness.from_qutip(*bose_hubbard_dimer(10)); meth = None"
    ),
}

CHILD = r"""
import json, sys, time
import qness, qness._threads
if sys.argv[2] == "off":
    qness._threads.SMALL_BLOCK = -1
exec(sys.argv[1])
ts = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    ness = qness.steady_state(m, meth)
    ts.append(time.perf_counter() - t)
from threadpoolctl import threadpool_info
blas = [i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "blas"]
print("RESULT " + json.dumps({"time": min(ts), "method": ness.info["method"], "blas_threads": blas}))
"""


def run(setup: str, mode: str, repeat: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, setup, mode, str(repeat)], capture_output=True, text=True, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"time": float("nan"), "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    print("| case | default threads (s) | limited to 1 (s) | ratio | method | BLAS threads at start |")
    print("|---|---:|---:|---:|---|---|")
    for name, setup in CASES.items():
        off = run(setup, "off", args.repeat)
        on = run(setup, "on", args.repeat)
        print(
            f"| {name} | {off['time']:.3g} | {on['time']:.3g} | {off['time'] / on['time']:.2g}x | "
            f"{on.get('method', on.get('error'))} | {off.get('blas_threads')} |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
