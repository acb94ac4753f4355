"""qness with and without the exchange-symmetry basis, and the cost of the parity -1 sector's check.

Run: ``python benchmarks/bench_exchange.py`` (``--repeat 5``). For each model, in one process:
``qness.steady_state(model)`` (``symmetry="auto"``: the reflection's eigenbasis where
:func:`qness.symmetry.detect_exchange` finds one, a detected parity, ...) against
``qness.steady_state(model, symmetry=None)`` (the full space), best of ``--repeat``, with the
route, the sector solved, the time of the parity -1 sector's check
(``info["uniqueness"]["odd_sector"]["time"]``) and the largest difference of the two states.
Models built from QuTiP objects come from ``benchmarks/corpus.py``. BLAS runs on one thread
(``OPENBLAS_NUM_THREADS=1``) unless the environment says otherwise; QuTiP's own times for the corpus
rows are in ``bench_corpus.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from corpus import CORPUS  # noqa: E402

import qness  # noqa: E402


def _ising(n):
    return qness.models.dissipative_ising(n, V=1.0, h=1.0, detuning=0.0, gamma=1.0)


def _bh(sites, cutoff):
    return qness.models.bose_hubbard(sites, cutoff=cutoff, J=1.0, U=0.5, detuning=0.2, F=0.4, kappa=0.6)


def _corpus(name):
    entry = CORPUS[name]
    return qness.from_qutip(*entry.build(entry.bench))


MODELS = {
    "ising 6": lambda: _ising(6),
    "ising 7": lambda: _ising(7),
    "ising 8": lambda: _ising(8),
    "ising 9": lambda: _ising(9),
    "bose-hubbard 3 x 5": lambda: _bh(3, 5),
    "bose-hubbard 2 x 12": lambda: _bh(2, 12),
    "corpus bh_dimer": lambda: _corpus("bh_dimer"),
    "corpus bh_trimer": lambda: _corpus("bh_trimer"),
    "corpus kerr_parametric (parity)": lambda: _corpus("kerr_parametric"),
    "corpus dicke (parity)": lambda: _corpus("dicke"),
}


def best(model, repeat, **kwargs):
    """Best wall time of ``qness.steady_state(model, **kwargs)`` over ``repeat`` runs, and its result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = qness.steady_state(model, **kwargs)
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="names (substrings) of the models to run")
    args = parser.parse_args()
    print(f"threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(
        "| model | d | sector solved | route | auto (s) | -1 check (s) | full space (s) | ratio | max diff |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for name, make in MODELS.items():
        if args.only and not any(s in name for s in args.only):
            continue
        model = make()
        qness.steady_state(model)  # warm-up (imports, caches of the kernels)
        t_auto, ness = best(model, args.repeat)
        t_full, full = best(model, args.repeat, symmetry=None)
        sec = ness.info["sector"]
        what = f"{sec['kind']} {sec['size']:,}" + (f" ({sec['basis']})" if "basis" in sec else "")
        odd = ness.info.get("uniqueness", {}).get("odd_sector", {}).get("time", float("nan"))
        diff = float(np.max(np.abs(ness.rho - full.rho)))
        print(
            f"| {name} | {model.dim} | {what} | {ness.info['method']} | {t_auto:.3g} | {odd:.2g} | "
            f"{t_full:.3g} | {t_auto / t_full:.2f} | {diff:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
