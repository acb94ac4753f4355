"""floquet_steady_state: the harmonic system's sparse LU against Krylov (the default's threshold), and QuTiP.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_floquet_route.py`` (``--only jc xxz kerr``).

Each case runs in a fresh process (``_harness.measure``), once with ``method="direct"`` and once
with ``method="krylov"``: a driven Jaynes-Cummings model (``benchmarks/corpus.py``, cavity 4, 8, 16,
drive ``0.3 (a + a^+)`` at ``omega = 0.9``), the boundary-driven XXZ chain (``delta = 0.7``,
``mu = 0.4``, drive ``0.5 sx`` on site 1 and ``0.3 sz`` on site ``n - 2`` at ``omega = 1.7``; the
new-user review's case at 5 spins) and a driven Kerr resonator (``F = 0.5``, drive ``0.4 (a + a^+)``
at ``omega = 1.3``). The two cycles must agree to 1e-9. QuTiP's ``steadystate_fourier`` (the
period-averaged state of a cosine drive by harmonic truncation, ``n_it=16``, sparse) runs the same
way, and its agreement with the LU's period average is reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

BUILD = {
    "jc": (
        "import sys, qness\nsys.path.insert(0, 'benchmarks')\nimport corpus\n"
        "model = qness.from_qutip(*corpus.jaynes_cummings({n}))\n"
        "a = qness.operators.embed(qness.operators.destroy({n}), 0, model.dims)\n"
        "drive, omega = 0.3 * (a + a.conj().T), 0.9\n"
    ),
    "xxz": (
        "import qness\nfrom qness.operators import embed, sigmax, sigmaz\n"
        "model = qness.models.boundary_driven_xxz({n}, delta=0.7, gamma=1.0, mu=0.4)\n"
        "drive = 0.5 * embed(sigmax(), 1, model.dims) + 0.3 * embed(sigmaz(), {n} - 2, model.dims)\n"
        "omega = 1.7\n"
    ),
    "kerr": (
        "import qness\nmodel = qness.models.kerr({n}, detuning=-1.0, U=0.1, F=0.5, kappa=1.0)\n"
        "a = qness.operators.destroy({n})\ndrive, omega = 0.4 * (a + a.conj().T), 1.3\n"
    ),
}
SIZES = {"jc": [4, 8, 16], "xxz": [3, 4, 5], "kerr": [16, 32]}
QUTIP = (
    "import qutip, numpy as np, scipy.sparse as sp\n"
    "H, c_ops = model.to_qutip()\n"
    "D = qutip.Qobj(drive.toarray() if sp.issparse(drive) else np.asarray(drive), dims=H.dims)\n"
)
RUN_QUTIP = (
    "rho = qutip.steadystate_fourier(H, c_ops, D, omega, n_it=16, sparse=True).full()\n"
    "extra = dict(re=rho.real.tolist(), im=rho.imag.tolist())\n"
)
RUN = (
    "r = qness.floquet_steady_state(model, drive, omega, method={method!r})\n"
    "extra = dict(d=model.dim, re=r.average.real.tolist(), im=r.average.imag.tolist())\n"
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(BUILD), default=list(BUILD))
    args = ap.parse_args()
    print(
        "| model | size | d | LU (s) | Krylov (s) | max abs difference LU - Krylov | QuTiP (s) | "
        "max abs difference LU - QuTiP |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    import numpy as np

    for kind in args.only:
        for n in SIZES[kind]:
            out = {
                m: measure(BUILD[kind].format(n=n), RUN.format(method=m), timeout=600)
                for m in ("direct", "krylov")
            }
            out["qutip"] = measure(BUILD[kind].format(n=n) + QUTIP, RUN_QUTIP, timeout=600)
            if "error" in out["direct"] or "error" in out["krylov"]:
                print(
                    f"| {kind} | {n} | | {out['direct'].get('error', '')} | {out['krylov'].get('error', '')} | |"
                )
                continue
            avg = {
                m: np.asarray(o["extra"]["re"]) + 1j * np.asarray(o["extra"]["im"])
                for m, o in out.items()
                if "error" not in o
            }
            diff = float(np.max(np.abs(avg["direct"] - avg["krylov"])))
            assert diff < 1e-9, (kind, n, diff)
            d = out["direct"]["extra"]["d"]
            row = f"| {kind} | {n} | {d} | {out['direct']['time']:.3g} | {out['krylov']['time']:.3g} | {diff:.1e} |"
            if "qutip" in avg:
                q = float(np.max(np.abs(avg["direct"] - avg["qutip"])))
                row += f" {out['qutip']['time']:.3g} | {q:.1e} |"
            else:
                row += f" {out['qutip']['error']} | |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
