"""Krylov's operator: the assembled sector matrix against the matrix-free action (``ASSEMBLED_MAX``).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_assembled.py`` (``--only xxz_dephasing xxz10``,
``--solve`` to also time whole ``steady_state`` calls with ``Krylov(matrix_free=True)`` and
``Krylov(matrix_free=False)``, interleaved, best of ``--repeat``).

For each model, in the sector ``qness.steady_state`` solves: the time of one application of
``L`` matrix-free (block pairs of sparse-times-dense products, or the compiled OpenMP kernel
on a one-block sector: ``Sector.operator``) and as the assembled CSR matrix
(``Sector.matrix``) by the compiled product Krylov applies it with
(:class:`qness.liouvillian.CSROperator`: rows over the OpenMP threads, without the GIL) and by
SciPy's sparse product, best of ``--repeat`` rounds of 5, and the assembly time. Models: the Krylov rows of the corpus (``benchmarks/corpus.py``), the
boundary-driven XXZ chain (``delta=0.5, gamma=1``) and the dissipative Ising chain
(``V=1, h=1, detuning=0, gamma=1``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CORPUS  # noqa: E402

import qness  # noqa: E402
from qness.liouvillian import CSROperator  # noqa: E402
from qness.models import boundary_driven_xxz, dissipative_ising  # noqa: E402
from qness.solvers.steady import ASSEMBLED_MAX, _choose_sector  # noqa: E402

KRYLOV_ROWS = ["xxz_dephasing", "tavis_cummings", "optomech", "coupled_kerr", "bh_dimer", "bh_trimer"]
KRYLOV_ROWS += ["correlated_decay", "dicke", "ising_6"]


def build(name):
    if name.startswith("xxz") and name[3:].isdigit():
        return boundary_driven_xxz(int(name[3:]), delta=0.5, gamma=1.0)
    if name.startswith("ising") and name[5:].isdigit():
        return dissipative_ising(int(name[5:]), V=1.0, h=1.0, detuning=0.0, gamma=1.0)
    e = CORPUS[name]
    return qness.from_qutip(*e.build(e.bench))


def best(op, x, repeat, k=5):
    op @ x
    out = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(k):
            op @ x
        out = min(out, (time.perf_counter() - t) / k)
    return out


def main():
    names = KRYLOV_ROWS + ["xxz8", "xxz9", "xxz10", "xxz11", "xxz12", "ising8", "ising9", "ising10"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", default=names)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--solve", action="store_true", help="also time whole steady_state calls")
    args = ap.parse_args()
    print(f"ASSEMBLED_MAX = {ASSEMBLED_MAX:,}")
    head = (
        "| model | unknowns | block pairs | entries per row | assembly (ms) | matrix-free (ms) | "
        "assembled (ms) | ratio | SciPy product (ms) |"
    )
    print(head + (" solve matrix-free (s) | solve assembled (s) |" if args.solve else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.solve else ""))
    for name in args.only:
        model = build(name)
        sector = _choose_sector(model, "auto")
        t = time.perf_counter()
        M = sector.matrix(model)
        t_asm = time.perf_counter() - t
        op = sector.operator(model)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(sector.size) + 1j * rng.standard_normal(sector.size)
        np.testing.assert_allclose(M @ x, op @ x, rtol=0, atol=1e-10 * np.abs(M @ x).max())
        t_free = best(op, x, args.repeat)
        t_csr = best(CSROperator(M), x, args.repeat)
        t_scipy = best(M, x, args.repeat)
        row = (
            f"| {name} | {sector.size:,} | {len(sector.pairs)} | {M.nnz / sector.size:.1f} | {t_asm * 1e3:.1f} | "
            f"{t_free * 1e3:.3f} | {t_csr * 1e3:.3f} | {t_free / t_csr:.2f}x | {t_scipy * 1e3:.3f} |"
        )
        if args.solve:
            times = {True: np.inf, False: np.inf}
            for _ in range(args.repeat):
                for mf in (True, False):
                    t = time.perf_counter()
                    ness = qness.steady_state(model, qness.Krylov(matrix_free=mf))
                    times[mf] = min(times[mf], time.perf_counter() - t)
                    assert ness.info["operator"] == ("matrix-free" if mf else "assembled")
            row += f" {times[True]:.3g} | {times[False]:.3g} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
