"""How long this machine takes to hand a process memory it has not used before.

Run: ``python benchmarks/machine_memory.py --gib 16`` (twice: the second run shows the warm rate).

Writes a ``--gib`` GiB array one GiB at a time and prints the seconds each GiB took. On an ordinary
Linux machine every GiB takes about 0.3-0.5 s (the kernel zeroes fresh pages as they are first
written). On a virtual machine whose memory the host backs lazily (this project's benchmark machine,
a Firecracker VM, session 22) a guest page written for the first time since the VM booted takes
about 10x longer, 4-5.5 s per GiB; pages the guest has used before (and freed) take 0.4 s again, in
any later process. Every benchmark time in ``RESULTS.md`` therefore carries, on a freshly booted
VM, about 5 s per GiB of its peak memory that the VM had not touched yet (XXZ 12 spins: 3.5 GiB);
running this script once with ``--gib`` a little below the free memory warms the VM for all later
runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def touch(gib: float) -> list[float]:
    """Seconds to write each successive GiB of a fresh ``gib``-GiB array."""
    words = 2**27  # float64 words per GiB
    a = np.empty(int(gib * words))
    times = []
    for start in range(0, a.size, words):
        t = time.perf_counter()
        a[start : start + words] = 1.0
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=4.0, help="GiB to write (default 4)")
    args = ap.parse_args()
    times = touch(args.gib)
    print("seconds per GiB:", " ".join(f"{t:.2f}" for t in times))
    print(f"total {sum(times):.1f} s for {args.gib:g} GiB")


if __name__ == "__main__":
    main()
