"""Two-time correlations and emission spectra: qness against qutip.correlation_2op_1t and qutip.spectrum.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_correlations.py`` from the
repository root (``--chains 6 8 10`` for the boundary-driven XXZ sizes, ``--qutip-timeout 900``).

Each case runs once in a fresh process (wall time of the call including the steady state, peak
resident memory above the setup's); with ``--repeat k`` the Mollow and Kerr rows run ``k`` times
each, in fresh processes, and the run with the median time is shown. Both libraries get the same model as QuTiP objects.

* spectrum: ``qness.analysis.emission_spectrum(model, A, w).S`` against
  ``qutip.spectrum(H, w, c_ops, A.dag(), A)`` (its default ``"es"`` solver: a dense
  eigendecomposition of the ``d^2 x d^2`` Liouvillian); the conventions agree (see the docstring
  of ``emission_spectrum``).
* correlation: ``qness.analysis.correlation(model, A, B, taus)`` against
  ``qutip.correlation_2op_1t(H, None, taus, c_ops, A, B)`` (steady state, then ``mesolve`` of
  ``B rho``; run with ``atol = rtol = 1e-10`` so that its error is below the comparison's).

QuTiP's spectrum is not run where the dense Liouvillian (``16 d^4`` bytes, times about 3 for the
eigenvectors and workspace) would not fit in memory: the estimate is printed instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import measure  # noqa: E402

MOLLOW = """
import numpy as np, qutip, qness
H = 1.5 * qutip.sigmax() + 0.25 * qutip.sigmaz()
c_ops = [qutip.sigmam()]
A, B = qutip.sigmam(), qutip.sigmap()
"""

KERR = """
import numpy as np, qutip, qness
a = qutip.destroy({N})
H = 0.4 * a.dag() * a + 0.3 * a.dag() * a.dag() * a * a + 1.2 * (a + a.dag())
c_ops = [np.sqrt(0.7) * a, np.sqrt(0.1) * a.dag() * a]
A, B = a, a.dag()
"""

XXZ = """
import numpy as np, qutip, qness
from qness.operators import chain_operator, to_qobj
n = {n}
m = qness.models.boundary_driven_xxz(n, delta=0.5, gamma=1.0, mu=0.7, dephasing=0.2)
H, c_ops = m.to_qutip()
A = to_qobj(chain_operator({{n - 1: "sigmam"}}, m.dims), m.dims)
B = to_qobj(chain_operator({{0: "sigmap"}}, m.dims), m.dims)
"""

QNESS_SPEC = """
from qness.analysis import emission_spectrum
r = emission_spectrum((H, c_ops), A, np.linspace({w0}, {w1}, {nw}))
np.save({path!r}, r.S)
sec = r.info["sectors"]
extra = {{"route": "+".join(sorted({{x for s in sec for x in s["routes"]}})),
         "iterations": sum(s["iterations"] for s in sec), "size": max(s["size"] for s in sec)}}
"""

QUTIP_SPEC = """
S = qutip.spectrum(H, np.linspace({w0}, {w1}, {nw}), c_ops, A.dag(), A)
np.save({path!r}, S)
"""

QNESS_CORR = """
from qness.analysis import correlation
info = {{}}
c = correlation((H, c_ops), B, A, np.linspace(0.0, {t1}, {nt}), info=info)
np.save({path!r}, c)
extra = {{"route": "+".join(sorted({{s["route"] for s in info["sectors"]}}))}}
"""

QUTIP_CORR = """
c = qutip.correlation_2op_1t(H, None, np.linspace(0.0, {t1}, {nt}), c_ops, B, A,
                             options={{"atol": 1e-10, "rtol": 1e-10}})
np.save({path!r}, c)
"""


def _cell(r):
    if "error" in r:
        return [f"error: {r['error']}", "-"]
    return [f"{r['time']:.3f}" if r["time"] < 1 else f"{r['time']:.2f}", f"{r['peak_mib']:.0f}"]


def _measure(setup, run, timeout, repeat):
    """``measure`` ``repeat`` times (fresh processes): the run with the median time."""
    runs = [measure(setup, run, timeout=timeout) for _ in range(repeat)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    return sorted(ok, key=lambda r: r["time"])[(len(ok) - 1) // 2]


def _row(kind, name, d, setup, qn, qt, tmp, timeout, qutip_ok, note, fmt, repeat=1):
    pq, pt = os.path.join(tmp, "q.npy"), os.path.join(tmp, "t.npy")
    for p in (pq, pt):
        if os.path.exists(p):
            os.remove(p)
    rq = _measure(setup, qn.format(path=pq, **fmt), timeout * 4, repeat)
    if qutip_ok:
        rt = _measure(setup, qt.format(path=pt, **fmt), timeout, repeat)
    else:
        rt = {"error": note}
    diff = "-"
    if os.path.exists(pq) and os.path.exists(pt):
        a, b = np.load(pq), np.load(pt)
        diff = f"{np.max(np.abs(a - b)):.1e} (of max {np.max(np.abs(b)):.2g})"
    ex = rq.get("extra") or {}
    route = ex.get("route", "-")
    cells = [kind, name, str(d), fmt.get("what", ""), route, *_cell(rq), *_cell(rt), diff]
    print("| " + " | ".join(cells) + " |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chains", type=int, nargs="*", default=[6, 8, 10])
    ap.add_argument("--kerr", type=int, nargs="*", default=[30])
    ap.add_argument("--qutip-timeout", type=float, default=900.0)
    ap.add_argument("--qutip-mem-gib", type=float, default=8.0, help="largest dense L for qutip.spectrum")
    ap.add_argument("--repeat", type=int, default=1, help="fresh-process runs of the small rows (median)")
    args = ap.parse_args()
    print(
        "| quantity | model | d | grid | qness route | qness time (s) | qness peak (MiB) | QuTiP time (s) "
        "| QuTiP peak (MiB) | max abs diff |"
    )
    print("|---|---|---:|---|---|---:|---:|---:|---:|---|")
    spec = {"w0": -8.0, "w1": 8.0, "nw": 401, "what": "401 w in [-8, 8]"}
    corr = {"t1": 20.0, "nt": 401, "what": "401 tau in [0, 20]"}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("Mollow (resonance fluorescence)", 2, MOLLOW)]
        cases += [(f"driven Kerr cavity, N = {N}", N, KERR.format(N=N)) for N in args.kerr]
        for name, d, setup in cases:
            for kind, qn, qt, grid in (
                ("spectrum", QNESS_SPEC, QUTIP_SPEC, spec),
                ("correlation", QNESS_CORR, QUTIP_CORR, corr),
            ):
                _row(kind, name, d, setup, qn, qt, tmp, args.qutip_timeout, True, "", grid, args.repeat)
        for n in args.chains:
            d = 2**n
            name = f"boundary-driven XXZ, {n} spins"
            gib = 3 * 16 * d**4 / 2**30
            ok = gib <= args.qutip_mem_gib
            note = f"not run (dense d^2 x d^2 eig: ~{gib:.0f} GiB)"
            few = {"w0": -3.0, "w1": 3.0, "nw": 7 if n >= 10 else 13, "what": ""}
            few["what"] = f"{few['nw']} w in [-3, 3]"
            _row(
                "spectrum",
                name,
                d,
                XXZ.format(n=n),
                QNESS_SPEC,
                QUTIP_SPEC,
                tmp,
                args.qutip_timeout,
                ok,
                note,
                few,
            )
            short = {"t1": 5.0, "nt": 11, "what": "11 tau in [0, 5]"}
            _row(
                "correlation", name, d, XXZ.format(n=n), QNESS_CORR, QUTIP_CORR, tmp, args.qutip_timeout,
                True, "", short,
            )  # fmt: skip


if __name__ == "__main__":
    main()
