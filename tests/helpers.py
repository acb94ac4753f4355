"""Shared oracles and tolerances for the tests."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

EPS = np.finfo(float).eps


def tol(multiple: float, scale: float = 1.0) -> float:
    """A tolerance as a multiple of machine epsilon times a scale."""
    return multiple * EPS * max(1.0, scale)


def dense_liouvillian(model) -> np.ndarray:
    """Dense L built independently with numpy.kron (column stacking)."""
    d = model.dim
    H = model.H.toarray()
    eye = np.eye(d)
    L = -1j * (np.kron(eye, H) - np.kron(H.T, eye))
    for j in model.jumps:
        c = np.sqrt(j.rate) * j.op.toarray()
        cdc = c.conj().T @ c
        L += np.kron(c.conj(), c) - 0.5 * (np.kron(eye, cdc) + np.kron(cdc.T, eye))
    return L


def dense_steady_state(model) -> np.ndarray:
    """The NESS as the null vector of the dense L (SVD), normalised to trace 1.

    Raises AssertionError if the null space is not one-dimensional.
    """
    L = dense_liouvillian(model)
    _, s, vh = sla.svd(L)
    assert s[-1] < 1e-10 * max(1.0, s[0]), "no null vector"
    assert s[-2] > 1e-8 * max(1.0, s[0]), "null space is degenerate"
    d = model.dim
    rho = vh[-1].conj().reshape((d, d), order="F")
    rho = rho / np.trace(rho)
    return 0.5 * (rho + rho.conj().T)


def random_model(dims, n_jumps=2, seed=0, density=1.0):
    """A random Lindblad model with Hermitian H and complex jumps on dims."""
    import scipy.sparse as sp

    import qness

    rng = np.random.default_rng(seed)
    d = int(np.prod(dims))
    H = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    H = H + H.conj().T
    c_ops = []
    for _ in range(n_jumps):
        c = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
        if density < 1:
            c[rng.random((d, d)) > density] = 0
        c_ops.append(sp.csr_array(c))
    return qness.from_qutip(H, c_ops, dims=dims)


def corpus_module():
    """``benchmarks/corpus.py`` (the QuTiP-built model corpus and the dark-state models), imported once."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "qness_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "benchmarks" / "corpus.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]
