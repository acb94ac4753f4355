"""Run one measurement in a fresh subprocess: wall time and peak memory increment.

Each case is a small Python snippet with a ``setup`` part (building inputs, not
timed, its memory is the baseline) and a ``run`` part (timed once; its peak
resident memory above the baseline is reported). A fresh process per case keeps
one library's caches and allocator from flattering or penalising the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
setup, run = sys.argv[1], sys.argv[2]
ns = {}
exec(setup, ns)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
exec(run, ns)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"time": dt, "peak_mib": (peak - base) / 1024.0}
for k in ("extra",):
    if k in ns:
        out[k] = ns[k]
print("RESULT " + json.dumps(out, default=float))
"""


def measure(setup: str, run: str, timeout: float = 3600.0) -> dict:
    """Time ``run`` after ``setup`` in a fresh interpreter; returns time, peak_mib, extra."""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, textwrap.dedent(setup), textwrap.dedent(run)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"time": float("nan"), "peak_mib": float("nan"), "error": f"timeout after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"time": float("nan"), "peak_mib": float("nan"), "error": err[:200]}
