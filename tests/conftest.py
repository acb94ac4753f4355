import os
import sys

# Make ``from helpers import ...`` work from any working directory.
sys.path.insert(0, os.path.dirname(__file__))
# Keep BLAS single-threaded inside the test workers' subprocesses by default.
os.environ.setdefault("MPLBACKEND", "Agg")
