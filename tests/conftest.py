import os
import sys

# BLAS threads: with 2 cores shared by pytest and anything else running, OpenBLAS's
# spinning worker threads make small dense products 10-100x slower. Pin to one thread
# before NumPy loads, and again through threadpoolctl in case a plugin loaded it first.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover - threadpoolctl is a test dependency
    pass

# Make ``from helpers import ...`` work from any working directory.
sys.path.insert(0, os.path.dirname(__file__))
