"""One application of the no-jump Sylvester inverse and of the matrix-free sector operator, 1 vs 2 threads.

Run: ``PYTHONPATH=$PWD OPENBLAS_NUM_THREADS=1 python benchmarks/bench_block_threads.py``. The same
operator is applied with its block loops on 1 and on 2 threads, interleaved, ``--repeat`` times
(minimum kept); the load average is printed (the machine is shared).
"""

import argparse
import os
import time

import numpy as np

import qness
from qness.model import as_model
from qness.symmetry import _PairRunner, steady_sector

CASES = {
    "xxz 10 (11 blocks)": lambda: qness.models.boundary_driven_xxz(10, delta=0.5, gamma=1.0),
    "xxz 11 (12 blocks)": lambda: qness.models.boundary_driven_xxz(11, delta=0.5, gamma=1.0),
    "ising 9 (one block of 512)": lambda: qness.models.dissipative_ising(
        9, V=1.0, h=1.0, detuning=0.0, gamma=1.0
    ),
    "ising 10 (one block of 1024)": lambda: qness.models.dissipative_ising(
        10, V=1.0, h=1.0, detuning=0.0, gamma=1.0
    ),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print("| case | operator | 1 thread (s) | 2 threads (s) | speed-up | load |")
    print("|---|---|---:|---:|---:|---:|")
    for name, ctor in CASES.items():
        model = as_model(ctor())
        sec = steady_sector(model)
        ops = {"Sylvester inverse": sec.sylvester_preconditioner(model), "sector apply": sec.operator(model)}
        y = np.random.default_rng(0).standard_normal(sec.size) + 0j
        for what, op in ops.items():
            runners = {th: _PairRunner(op.runner_costs, th) for th in (1, 2)}
            best = {1: np.inf, 2: np.inf}
            for _ in range(args.repeat):
                for th in (1, 2):
                    op.runner = runners[th]
                    t = time.perf_counter()
                    op @ y
                    best[th] = min(best[th], time.perf_counter() - t)
            print(
                f"| {name} | {what} | {best[1]:.3f} | {best[2]:.3f} | {best[1] / best[2]:.2f}x "
                f"| {os.getloadavg()[0]:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
