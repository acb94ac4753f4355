"""Memory guard on every route (issue 12, item 6): refuse before allocating, say what to try."""

import time

import numpy as np
import pytest

import qness
from qness.solvers import steady


@pytest.mark.parametrize("method", [None, "krylov", "direct", "dense", "evolve"])
def test_sixteen_spins_are_refused_within_seconds(method):
    # sector of C(32, 16) = 601,080,390 unknowns: one GMRES vector alone is 9.6 GB
    m = qness.models.boundary_driven_xxz(16, delta=0.5)
    t0 = time.perf_counter()
    with pytest.raises(qness.InsufficientMemoryError, match="GiB available; try") as exc:
        qness.steady_state(m, method)
    assert time.perf_counter() - t0 < 30  # generous on a loaded machine; measured 0.1 s
    err = exc.value
    assert err.required > err.available > 0
    assert "even Krylov(restart=20, matrix_free=True) would not fit" in str(err)


def test_krylov_estimate_tracks_restart_and_preconditioner(monkeypatch):
    m = qness.models.boundary_driven_xxz(6, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    n = sector.size
    # matrix-free (what the default takes when memory is short: the matrix would take > 10 % of it)
    full, _ = steady.memory_estimate(m, sector, qness.Krylov(matrix_free=True))
    small, _ = steady.memory_estimate(m, sector, qness.Krylov(restart=20, matrix_free=True))
    assert full - small == pytest.approx(80 * 16 * n)  # 80 fewer basis vectors of n complex numbers
    bare, _ = steady.memory_estimate(m, sector, qness.Krylov(preconditioner=None, matrix_free=True))
    assert bare == pytest.approx((101 + 8) * 16 * n)
    # below ASSEMBLED_MAX the default assembles the sector matrix: 20 bytes per entry, counted
    assembled, what = steady.memory_estimate(m, sector, qness.Krylov(preconditioner=None))
    nnz = steady._System(m, sector).matrix().nnz
    assert n <= steady.ASSEMBLED_MAX and "sector matrix" in what
    assert nnz * 20 <= assembled - bare <= 2 * nnz * 20
    # a machine on which the default restart does not fit but restart=20 does
    monkeypatch.setattr(steady, "available_memory", lambda: (small + full) / 2)
    with pytest.raises(
        qness.InsufficientMemoryError, match=r"try Krylov\(restart=20, matrix_free=True\)"
    ) as exc:
        qness.steady_state(m, "krylov")
    assert exc.value.required == pytest.approx(full)
    ness = qness.steady_state(m, qness.Krylov(restart=20))
    assert ness.info["linear_residual"] <= 1e-12


def test_direct_and_dense_point_to_matrix_free_krylov(monkeypatch):
    m = qness.models.boundary_driven_xxz(5, delta=0.5)
    sector = steady._choose_sector(m, "auto")
    dense, _ = steady.memory_estimate(m, sector, qness.Dense())
    assert dense == 16.0 * sector.size**2
    monkeypatch.setattr(steady, "available_memory", lambda: dense / 2)
    with pytest.raises(
        qness.InsufficientMemoryError, match=r"method=Krylov\(restart=20, matrix_free=True\) \(about"
    ):
        qness.steady_state(m, "dense")


def test_asymptotic_state_is_refused_before_building_the_full_liouvillian():
    m = qness.models.boundary_driven_xxz(16, delta=0.5)
    t0 = time.perf_counter()
    with pytest.raises(qness.InsufficientMemoryError, match="asymptotic_state: the full") as exc:
        qness.asymptotic_state(m, _ket(m.dim))
    assert time.perf_counter() - t0 < 30 and exc.value.required > exc.value.available


def _ket(d):
    psi = np.zeros(d)
    psi[0] = 1.0
    return psi
