"""qness.liouvillian vs qutip.liouvillian: time and peak memory; matrix-free apply throughput.

Run: ``python benchmarks/bench_liouvillian.py`` (add ``--quick`` for small sizes).
Models: boundary-driven XXZ chain (H = sum sx sx + sy sy + 0.5 sz sz, L = s+ on
the first site and s- on the last) with 8, 9, 10 spins, and a Kerr resonator
with 200 Fock states. QuTiP gets its own sparse operators (``qutip.tensor`` of
``sigmax()`` etc., CSR), as a QuTiP user would build them.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure  # noqa: E402

XXZ_QUTIP = """
import qutip
n = {n}
def site(op, i):
    return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)]).to("csr")
H = 0
for i in range(n - 1):
    for op, c in ((qutip.sigmax(), 1.0), (qutip.sigmay(), 1.0), (qutip.sigmaz(), 0.5)):
        H = H + c * site(op, i) * site(op, i + 1)
H = H.to("csr")
c_ops = [site(qutip.sigmap(), 0), site(qutip.sigmam(), n - 1)]
"""
XXZ_QNESS = """
import qness
model = qness.models.boundary_driven_xxz({n}, delta=0.5, gamma=1.0)
"""
KERR_QUTIP = """
import qutip, numpy as np
N = {N}
a = qutip.destroy(N).to("csr")
H = (-1.0 * a.dag() * a + 0.05 * a.dag() * a.dag() * a * a + 1.0 * (a + a.dag())).to("csr")
c_ops = [a]
"""
KERR_QNESS = """
import qness
model = qness.models.kerr({N}, detuning=-1.0, U=0.1, F=1.0, kappa=1.0)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = ap.parse_args()
    xxz_sizes = [6, 7] if args.quick else [8, 9, 10]
    kerr_sizes = [50] if args.quick else [200]
    rows = []
    cases = [(f"XXZ n={n}", XXZ_QNESS.format(n=n), XXZ_QUTIP.format(n=n)) for n in xxz_sizes]
    cases += [(f"Kerr N={N}", KERR_QNESS.format(N=N), KERR_QUTIP.format(N=N)) for N in kerr_sizes]
    print(
        "| model | L size | nnz | qness (s) | QuTiP (s) | speed-up | qness peak (MiB) | L size (MiB) | peak / L | QuTiP peak (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, qn, qt in cases:
        ours = measure(
            qn,
            "L = qness.liouvillian(model)\n"
            "extra = dict(n=L.shape[0], nnz=L.nnz, mib=(L.data.nbytes + L.indices.nbytes + L.indptr.nbytes) / 2**20)",
        )
        theirs = measure(qt, "L = qutip.liouvillian(H, c_ops)")
        e = ours.get("extra", {})
        ratio = theirs["time"] / ours["time"]
        print(
            f"| {name} | {e.get('n')} | {e.get('nnz')} | {ours['time']:.3f} | {theirs['time']:.3f} | {ratio:.1f}x "
            f"| {ours['peak_mib']:.0f} | {e.get('mib', float('nan')):.0f} | {ours['peak_mib'] / e.get('mib', 1):.2f} "
            f"| {theirs['peak_mib']:.0f} |",
            flush=True,
        )
        rows.append((name, ours, theirs))
    print()
    print(
        "Matrix-free apply vs CSR matvec (mean of 20 products, one thread per BLAS, kernel threads: OpenMP default)"
    )
    print("| model | CSR matvec (ms) | matrix-free (ms) | ratio CSR/free | matrix-free memory |")
    print("|---|---:|---:|---:|---|")
    for name, qn, _ in cases:
        r = measure(
            qn
            + "\nimport numpy as np, time\nL = qness.liouvillian(model)\nop = qness.liouvillian_operator(model)\n"
            "x = np.random.default_rng(0).normal(size=L.shape[0]) + 0j\n",
            "t = time.perf_counter()\nfor _ in range(20): y = L @ x\ntc = (time.perf_counter() - t) / 20\n"
            "t = time.perf_counter()\nfor _ in range(20): z = op @ x\ntf = (time.perf_counter() - t) / 20\n"
            "extra = dict(csr=tc, free=tf, err=float(np.abs(y - z).max()))",
        )
        e = r.get("extra", {})
        print(
            f"| {name} | {1e3 * e.get('csr', float('nan')):.2f} | {1e3 * e.get('free', float('nan')):.2f} "
            f"| {e.get('csr', float('nan')) / e.get('free', float('nan')):.2f} | H and jumps only (|y_csr - y_free| = {e.get('err', float('nan')):.1e}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
