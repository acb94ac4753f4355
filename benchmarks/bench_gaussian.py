"""Benchmark: exact Gaussian NESS and gap of boundary-driven free-fermion chains.

Model: ``H = sum_i (c_i^+ c_{i+1} + h.c.)`` (XX chain), gain 1.0 on site 0,
loss 1.0 on site n-1 (and optionally dephasing 0.1 on every site, which
needs an iterative solve for the diagonal). Times ``qness.gaussian.steady_state``
and ``qness.gaussian.gap`` (wall clock, best of ``--repeat``), prints a
Markdown table.

Usage::

    python benchmarks/bench_gaussian.py [--sizes 100 300 1000 2000] [--threads N]
        [--dephasing-sizes 100 300] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from qness.gaussian import QuadraticModel, gap, steady_state


def chain(n: int, dephasing: float = 0.0) -> QuadraticModel:
    h = np.eye(n, k=1) + np.eye(n, k=-1)
    return QuadraticModel(h, gain={0: 1.0}, loss={n - 1: 1.0}, dephasing=dephasing or None)


def best_time(f, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 2000])
    ap.add_argument("--dephasing-sizes", type=int, nargs="*", default=[100, 300])
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl); default: as is")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# qness.gaussian benchmark: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, BLAS threads={args.threads or 'default'}, load avg {load:.1f}"
    )
    print()
    print("| n | dephasing | steady_state (s) | gap (s) | residual | bond current | gap |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rows = [(n, 0.0) for n in args.sizes] + [(n, 0.1) for n in args.dephasing_sizes]
    for n, deph in rows:
        qm = chain(n, deph)
        t_ss, ness = best_time(lambda qm=qm: steady_state(qm), args.repeat)
        if deph:
            t_gap, g = float("nan"), float("nan")  # not quadratic: no third-quantisation gap
        else:
            t_gap, g = best_time(lambda qm=qm: gap(qm), args.repeat)
        cur = ness.currents
        print(
            f"| {n} | {deph:g} | {t_ss:.2f} | {t_gap:.2f} | {ness.residual:.1e} | "
            f"{cur.mean():.6f} (spread {np.ptp(cur):.1e}) | {g:.3e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
