"""QuTiP's own steady-state tests through tests/qutip_adapter.py (the file stays outside the repo)."""

import os

import pytest
from qutip_adapter import run_suite


@pytest.mark.slow
def test_qutip_steadystate_suite():
    path = os.environ.get("QNESS_QUTIP_TESTS")
    if not path or not os.path.exists(path):
        pytest.skip("set QNESS_QUTIP_TESTS to QuTiP's qutip/tests/solver/test_steadystate.py")
    assert run_suite(path) == 0
