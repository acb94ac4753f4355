"""Benchmark: TEBD steps of qness.tn with and without the U(1) charges of vec(rho).

Model: ``boundary_driven_xxz(n, delta=1.5, mu=0.01)`` (weak driving), started
from the product state with a linear magnetisation profile. The evolver first
runs ``--warm`` second-order Trotter steps (``dt = 0.1``) at the bond cap
``--chi`` so that the bonds are saturated, then times ``--steps`` more, once
with the charges (block SVDs and QRs) and once dense (``symmetry=False``), in
the same process. Prints the time per step, the bond-charge distribution at
the middle bond and the distance between the two states (they differ only by
the truncation: the block SVD keeps the same number of values but may pick
a different one at a tie across sectors).

Usage::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_tn_u1.py [--n 12] [--chi 128] [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None):
    from qness.models import boundary_driven_xxz
    from qness.tn._solver import _Evolver, _product_state, chain_terms
    from qness.tn._superop import bond_generators, superop_terms

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--chi", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warm", type=int, default=0)
    args = ap.parse_args(argv)
    n, chi, mu = args.n, args.chi, 0.01
    terms = chain_terms(boundary_driven_xxz(n, delta=1.5, mu=mu))
    gens = bond_generators(superop_terms(terms), terms.dims)
    start = [np.diag([(1 + x) / 2, (1 - x) / 2]) for x in np.linspace(mu / 2, -mu / 2, n)]
    print(f"# n={n} chi={chi} steps={args.steps} warm={args.warm} load {os.getloadavg()[0]:.1f}")
    states = {}
    for sym in (True, False):
        ev = _Evolver(_product_state(terms, start), gens, [d * d for d in terms.dims], terms.dims, 1e-8, sym)
        ev.evolve(0.1, args.warm, 2, chi)
        t0 = time.perf_counter()
        ev.evolve(0.1, args.steps, 2, chi)
        wall = time.perf_counter() - t0
        ev.normalise_trace()
        states[sym] = ev.mps()
        q = ev.Q[n // 2]
        sectors = {int(c): int(np.count_nonzero(q == c)) for c in np.unique(q)}
        print(
            f"symmetry={'U(1)' if ev.symmetric else 'off '}  {wall / args.steps * 1e3:8.1f} ms/step  "
            f"max bond {ev.max_bond()}  middle bond by charge {sectors}"
        )
    a, b = states[True], states[False]
    print(f"relative distance of the two states: {abs(a.add_MPS(b * -1.0).norm()) / abs(b.norm()):.1e}")


if __name__ == "__main__":
    main()
