"""qness.tn: operators in every form a QuTiP user passes, dt outside its useful range, time limits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("quimb")

import qutip  # noqa: E402

import qness  # noqa: E402
import qness.tn as tn  # noqa: E402
from qness.tn._solver import DT_RANGE  # noqa: E402


@pytest.fixture(scope="module")
def res():
    return tn.steady_state(qness.models.boundary_driven_xxz(4, delta=0.5), tol=1e-4)


def test_operators_as_qobj_sparse_or_name_give_the_array_result(res):
    sz = np.diag([1.0, -1.0])
    ref = res.profile(sz)
    np.testing.assert_allclose(res.profile(qutip.sigmaz()), ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.profile("sigmaz"), ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.profile(qness.operators.sigmaz()), ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.bond_currents(qutip.sigmaz()), res.bond_currents(sz), rtol=0, atol=1e-14)
    sp, sm = qutip.sigmap(), qutip.sigmam()
    assert res.expect_bond(sp, sm, 1) == pytest.approx(res.expect_bond(sp.full(), sm.full(), 1), abs=1e-14)
    assert res.expect_site("sigmax", 2) == pytest.approx(res.expect_site(np.array([[0, 1], [1, 0]]), 2))


def test_bad_operators_name_the_argument_and_site(res):
    with pytest.raises(ValueError, match="op on site 0: unknown local operator 'sz'"):
        res.expect_site("sz", 0)
    with pytest.raises(ValueError, match="op on site 1: .*shape"):
        res.expect_site(np.eye(3), 1)
    with pytest.raises(ValueError, match="op_j on site 2"):
        res.expect_bond(qutip.sigmap(), qutip.qeye(3), 1)


def _scale(m):
    """``max ||L_bond||`` of ``m`` from the default schedule (the warm-up runs at 4 dt = 2 / scale)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tn.TNConvergenceWarning)
        probe = tn.steady_state(m, time_limit=1e-9)
    return 2.0 / probe.info["dt_schedule"][0]["dt"]


@pytest.mark.parametrize("factor", [DT_RANGE[0] / 10, DT_RANGE[1] * 10])
def test_dt_outside_its_useful_range_is_refused(factor):
    m = qness.models.boundary_driven_xxz(3, delta=0.5)
    with pytest.raises(ValueError, match=r"dt=.* is outside \[0.0001, 4\] / max\|\|L_bond\|\|"):
        tn.steady_state(m, dt=factor / _scale(m))


def test_time_limit_is_checked_inside_a_chunk():
    # at the smallest accepted dt a chunk is ~2 x 10^4 Trotter steps (8 / (4 dt scale) at the warm-up):
    # the limit must stop the evolution within a chunk, not after it
    m = qness.models.boundary_driven_xxz(3, delta=0.5)
    scale = _scale(m)
    dt = 1.01 * DT_RANGE[0] / scale
    chunk = int(np.ceil(8.0 / (4 * dt * scale)))
    with pytest.warns(tn.TNConvergenceWarning, match="time limit"):
        r = tn.steady_state(m, dt=dt, time_limit=0.3)
    assert r.info["time_limited"] and not r.converged
    assert 0 < r.info["dt_schedule"][0]["steps"] < chunk
