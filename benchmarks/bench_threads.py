"""qness.steady_state on one BLAS thread against OpenBLAS's default two (the solvers' own limits).

Run: ``python benchmarks/bench_threads.py`` (``--only jc_150 rabi`` for some corpus rows,
``--threads 1 2`` for the ``OPENBLAS_NUM_THREADS`` values compared).

Each corpus model (``benchmarks/corpus.py``) is solved in a fresh process per thread count, with
``OPENBLAS_NUM_THREADS`` set for that process only: two warm-up solves, then the best and the median
of seven. qness alone (the question is what a user who never sets the variable gets); the QuTiP
comparison of the same rows is ``bench_corpus.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from corpus import CORPUS  # noqa: E402

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, qness
from corpus import CORPUS
e = CORPUS[sys.argv[2]]
H, c = e.build(e.bench)
for _ in range(2):
    n = qness.steady_state((H, c))
ts = []
for _ in range(7):
    t = time.perf_counter(); n = qness.steady_state((H, c)); ts.append(time.perf_counter() - t)
route = n.info["method"] + ("/" + n.info["backend"] if n.info.get("backend") else "")
print(json.dumps({"best": min(ts), "median": float(np.median(ts)), "route": route}))
"""

DEFAULT = ["jc_150", "rabi", "driven_cavity", "kerr_thermal", "thermal_machine", "kerr_parametric", "jc_15"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="+", choices=list(CORPUS), default=DEFAULT)
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = ap.parse_args()
    head = " | ".join(f"{t} thread{'s' if t > 1 else ''}: best (median) s" for t in args.threads)
    print(f"| row (route) | {head} |")
    print("|---|" + "---:|" * len(args.threads))
    for name in args.only:
        cells, route = [], ""
        for t in args.threads:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(HERE), name],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            route = r["route"]
            cells.append(f"{r['best']:.3g} ({r['median']:.3g})")
        print(f"| {name} ({route}) | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
