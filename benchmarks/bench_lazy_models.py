"""Model construction and first use: qness (models as local terms, matrices rendered on demand) vs QuTiP.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_lazy_models.py``
(``--sizes 8 10 12``, ``--repeat 3``). Model: ``boundary_driven_xxz(n,
delta=0.5, mu=0.5, dephasing=0.1)`` (6 jumps incl. ``(1 - mu)`` ones, ``n``
dephasing jumps, a declared U(1) charge). Per size, in a fresh process each
(the median of ``--repeat`` runs is printed):

* ``build``: ``qness.models.boundary_driven_xxz(...)``;
* ``build+H``: the build and the first access to ``model.H`` and every
  ``model.jumps[k].op`` (the matrices exact solvers read);
* ``build+steady``: build and ``qness.steady_state(model)`` (default method);
* ``qutip build``: the same ``H`` and ``c_ops`` assembled from ``qutip.tensor``
  products as a QuTiP user would write them.

``--long`` adds construction at 40 and 100 sites (qness only: the matrices
cannot exist). ``--baseline PATH`` measures the same cases with the qness of
another checkout (``PYTHONPATH=PATH``, e.g. the code before models were kept
as terms) in the same run, interleaved, one row each.
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

BUILD = "import qness\nmodel = qness.models.boundary_driven_xxz({n}, delta=0.5, mu=0.5, dephasing=0.1)\n"
TOUCH = "H = model.H\nops = [j.op for j in model.jumps]\n"
STEADY = (
    "ness = qness.steady_state(model)\nextra = dict(residual=ness.residual, method=ness.info['method'])\n"
)
QUTIP = """
import qutip
n = {n}
def site(op, i):
    return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])
sx, sy, sz, sp, sm = qutip.sigmax(), qutip.sigmay(), qutip.sigmaz(), qutip.sigmap(), qutip.sigmam()
H = 0
for i in range(n - 1):
    H += site(sx, i) * site(sx, i + 1) + site(sy, i) * site(sy, i + 1) + 0.5 * site(sz, i) * site(sz, i + 1)
g_in, g_out = 0.75, 0.25
c_ops = [g_in ** 0.5 * site(sp, 0), g_out ** 0.5 * site(sm, 0), g_in ** 0.5 * site(sm, n - 1),
         g_out ** 0.5 * site(sp, n - 1)] + [0.1 ** 0.5 * site(sz, i) for i in range(n)]
"""


def run(setup, code, repeat, path=None):
    old = os.environ.get("PYTHONPATH")
    if path is not None:
        os.environ["PYTHONPATH"] = path
    try:
        res = [measure(setup, code) for _ in range(repeat)]
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    ok = [r for r in res if "error" not in r]
    if not ok:
        return res[0].get("error", "error"), None
    return statistics.median(r["time"] for r in ok), ok[0].get("extra")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[8, 10, 12])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steady-max", type=int, default=10, help="steady_state only up to this size")
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--baseline", default=None, help="path of another checkout to compare with")
    args = ap.parse_args()
    trees = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])

    def f(x):
        return f"{x:.3f}" if isinstance(x, float) else x

    print(
        "| n | code | build (s) | build+H (s) | build+steady_state (s) | steady residual | QuTiP build (s) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        q, _ = run("import qutip\n", QUTIP.format(n=n), args.repeat)
        for label, path in trees:
            setup = "import qness\n"
            b, _ = run(setup, BUILD.format(n=n), args.repeat, path)
            bh, _ = run(setup, BUILD.format(n=n) + TOUCH, args.repeat, path)
            if n <= args.steady_max:
                bs, extra = run(setup, BUILD.format(n=n) + STEADY, args.repeat, path)
                resid = f"{extra['residual']:.1e}" if extra else "-"
            else:
                bs, resid = "not run", "-"
            print(f"| {n} | {label} | {f(b)} | {f(bh)} | {f(bs)} | {resid} | {f(q)} |", flush=True)
    if args.long:
        for n in (40, 100):
            b, _ = run("import qness\n", BUILD.format(n=n), args.repeat)
            print(f"| {n} | this | {b:.4f} | (H too large) | - | - | - |", flush=True)


if __name__ == "__main__":
    main()
