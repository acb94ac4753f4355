"""BLAS thread limits for solvers whose time goes into small dense products.

OpenBLAS starts one thread per core and its workers spin while they wait. For
products of matrices of a few hundred rows (the blocks of the Sylvester
preconditioner, Gram-Schmidt against a Krylov basis) the threads gain little
even on an idle machine, and on a shared one (another process busy on a core)
the spinning makes each product 10-100x slower. The solvers therefore run
those phases on one BLAS thread, through ``threadpoolctl``, whatever
``OPENBLAS_NUM_THREADS`` says; large dense work (a dense LU above
``SMALL_BLOCK`` rows, the frontal matrices of a sparse LU) keeps the default.

Eigen and Schur decompositions (LAPACK's Hessenberg reduction and QR
iterations: many small, synchronised BLAS calls) run on one BLAS thread
whatever their size (:func:`one_blas_thread`). Measured on this project's
2-core machine, a complex 1024 x 1024 ``scipy.linalg.eig``: 2.0 s on two
OpenBLAS threads against 2.5-3.0 s on one with the machine idle, but 56 s
against 4.9 s with both cores busy (an LU or a product of 3000 x 3000 showed
no such collapse: 4.5 s against 4.7 s).
"""

from __future__ import annotations

import contextlib

__all__ = ["SMALL_BLOCK", "limit_blas", "one_blas_thread"]

#: Largest dense block dimension for which the solvers use a single BLAS thread.
SMALL_BLOCK = 1000

_controller = None
_pinned = None


def _blas_pinned_to_one_thread() -> bool:
    """True when NumPy's and SciPy's BLAS are OpenBLAS and the environment pins it to one thread.

    Then limiting is a no-op and the ``threadpoolctl`` controller (15-50 ms the first time: it
    scans every loaded library) is not built. ``OPENBLAS_NUM_THREADS=1``, or ``OMP_NUM_THREADS=1``
    with ``OPENBLAS_NUM_THREADS`` unset (OpenBLAS reads both, in that order).
    """
    global _pinned
    if _pinned is None:
        import os

        import numpy as np
        import scipy

        try:
            names = {
                str(cfg.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]).lower()
                for cfg in (np, scipy)
            }
        except Exception:  # noqa: BLE001 - an unknown build: do not guess
            names = {"unknown"}
        openblas = all("openblas" in name for name in names)
        value = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        _pinned = openblas and (value or "").strip() == "1"
    return _pinned


def _get_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def limit_blas(block: int, small: int | None = None):
    """One BLAS thread inside the ``with`` body when ``block <= small``, else unchanged.

    Parameters
    ----------
    block : int
        Largest dimension of the dense matrices the body multiplies.
    small : int, optional
        Threshold (default :data:`SMALL_BLOCK`, read at call time).
    """
    if block > (SMALL_BLOCK if small is None else small) or _blas_pinned_to_one_thread():
        yield
        return
    with _get_controller().limit(limits=1, user_api="blas"):
        yield


def one_blas_thread():
    """One BLAS thread inside the ``with`` body whatever the sizes (eigen and Schur decompositions)."""
    return limit_blas(0)
