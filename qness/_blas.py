"""Single-precision complex products by BLAS's 3M algorithm (``cgemm3m``), where the loaded OpenBLAS has it.

A complex product of ``n x n`` matrices by the 3M method (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed., sec. 23.2.4) takes three real products instead of four. OpenBLAS
ships it as ``cblas_cgemm3m`` (with kernels for each x86 generation), but NumPy's ``matmul`` calls
``cgemm``. The complex64 no-jump solves of the steady-state preconditioner
(:mod:`qness.symmetry`) spend most of a Krylov step in such products, so :func:`matmul` calls
``cgemm3m`` of the OpenBLAS NumPy itself loaded (found through :mod:`threadpoolctl`, so thread
limits apply to it as to NumPy's products), through :mod:`ctypes` (which releases the GIL).

Measured on this project's machine (one thread, complex64): 0.70-0.91 of ``matmul``'s time for
``n`` from 120 to 1716, rounding ``~8e-7`` of ``||A|| ||B||`` against ``~3.5e-7``: well inside what
the complex64 solves tolerate (they run inside flexible GMRES).

Only the 64-bit-integer interface (``*cgemm3m64_``, unambiguous) is used; elsewhere (another BLAS, a
build without the symbol, a first product that disagrees with ``matmul``) :func:`matmul` is
NumPy's. ``QNESS_GEMM3M=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

__all__ = ["matmul", "gemm3m_available", "GEMM3M_MIN"]

#: Products with a dimension below this stay NumPy's (the call's overhead).
GEMM3M_MIN = 48

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_NAMES = ("scipy_cblas_cgemm3m64_", "cblas_cgemm3m64_")
_ONE = np.ones(1, dtype=np.complex64)
_ZERO = np.zeros(1, dtype=np.complex64)


def _layout(x: np.ndarray):
    """``(trans, ld)`` of a 2-D complex64 array for a row-major CBLAS call, or ``None``."""
    it = x.itemsize
    s0, s1 = x.strides
    rows, cols = x.shape
    if s1 == it and s0 % it == 0 and s0 // it >= cols:
        return _NO_TRANS, s0 // it
    if s0 == it and s1 % it == 0 and s1 // it >= rows:  # column-major: the transpose, row-major
        return _TRANS, s1 // it
    return None


def _call(fn, a, b, out) -> bool:
    la, lb, lc = _layout(a), _layout(b), _layout(out)
    if la is None or lb is None or lc is None or lc[0] != _NO_TRANS:
        return False
    m, k = a.shape
    n = b.shape[1]
    fn(
        _ROW_MAJOR, la[0], lb[0], m, n, k,
        _ONE.ctypes.data, a.ctypes.data, la[1], b.ctypes.data, lb[1],
        _ZERO.ctypes.data, out.ctypes.data, lc[1],
    )  # fmt: skip
    return True


def _self_test(fn) -> bool:
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(70, 60)) + 1j * rng.normal(size=(70, 60))).astype(np.complex64)
    b = (rng.normal(size=(60, 50)) + 1j * rng.normal(size=(60, 50))).astype(np.complex64)
    ok = True
    for x, y in ((a, b), (np.asfortranarray(a), b[:, 5:]), (a[3:], np.asfortranarray(b)[:, :40])):
        out = np.empty((x.shape[0], y.shape[1]), dtype=np.complex64)
        ref = x.astype(np.complex128) @ y.astype(np.complex128)
        ok = ok and _call(fn, x, y, out) and np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()
    return bool(ok)


@functools.cache
def _cgemm3m():
    if os.environ.get("QNESS_GEMM3M", "1") == "0":
        return None
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    np.ones((2, 2)) @ np.ones((2, 2))  # (NumPy's BLAS loaded)
    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            continue
        for name in _NAMES:
            fn = getattr(lib, name, None)
            if fn is None:
                continue
            i64, ptr = ctypes.c_int64, ctypes.c_void_p
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64]
            fn.argtypes += [ptr, ptr, i64, ptr, i64, ptr, ptr, i64]
            fn.restype = None
            if _self_test(fn):
                return fn
    return None


def gemm3m_available() -> bool:
    """Whether :func:`matmul` calls ``cgemm3m``."""
    return _cgemm3m() is not None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (into ``out`` if given), by ``cgemm3m`` when both are complex64 matrices of at
    least :data:`GEMM3M_MIN` rows and columns and the layouts allow it; ``numpy.matmul`` otherwise.
    """
    if (
        a.dtype == np.complex64
        and b.dtype == np.complex64
        and a.ndim == 2
        and b.ndim == 2
        and min(a.shape[0], a.shape[1], b.shape[1]) >= GEMM3M_MIN
        and (out is None or out.dtype == np.complex64)
    ):
        fn = _cgemm3m()
        if out is not None and (
            not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b)
        ):
            fn = None  # NumPy handles an output that overlaps an input, and refuses a read-only one
        if fn is not None:
            if out is None:
                out = np.empty((a.shape[0], b.shape[1]), dtype=np.complex64)
            if a.shape[1] == b.shape[0] and out.shape == (a.shape[0], b.shape[1]) and _call(fn, a, b, out):
                return out
    return np.matmul(a, b, out=out)
