"""Uniqueness checks run alongside the Krylov solve (qness.solvers.steady._ChecksAlongside).

Oracle: the same solve with its checks run after it (``CHECKS_ALONGSIDE_MIN`` above the sector),
which must give the same state, the same check records, and the same errors and warnings.
"""

import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from test_fold import ferromagnet
from test_uniqueness import dark_mode_cavities, dark_singlet_qubits, exchanged_copies

import qness
from qness.solvers import steady


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads allowed (the suite's conftest sets OMP_NUM_THREADS=1, which keeps the checks
    after the solve, as a user's would)."""
    monkeypatch.setenv("QNESS_BLOCK_THREADS", "2")


@pytest.fixture
def alongside(monkeypatch, two_threads):
    """Checks alongside at any size, the fold at any size (both thresholds are where they pay)."""
    monkeypatch.setattr(steady, "CHECKS_ALONGSIDE_MIN", 1)
    monkeypatch.setattr(steady, "FOLD_MIN_DIM", 2)


def _after(monkeypatch):
    monkeypatch.setattr(steady, "CHECKS_ALONGSIDE_MIN", 10**12)


def _check_threads():
    return [t for t in threading.enumerate() if t.name == "qness-uniqueness-check"]


CASES = {
    # folded q = 0 sector: the even check and the odd states' check
    "xxz-fold": lambda: qness.models.boundary_driven_xxz(6, delta=0.5, mu=0.3),
    # a parity: the -1 sector's check (two copies of a driven system, with tunnelling between them)
    "parity": lambda: qness.from_qutip(*exchanged_copies(5, coupling=0.4, seed=5)),
    # one sector, no second check
    "kerr": lambda: qness.models.kerr(30, detuning=-1.0, U=0.1, F=1.0, kappa=1.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_checks_alongside_agree_with_checks_after(name, alongside, monkeypatch):
    model = CASES[name]()
    method = qness.Krylov()
    ness = qness.steady_state(model, method)
    uniq = ness.info["uniqueness"]
    assert uniq["alongside"] is True and uniq["verified"] is True
    if name != "kerr":
        assert uniq["odd_sector"]["alongside"] is True and uniq["odd_sector"]["verified"] is True
    assert not _check_threads()
    _after(monkeypatch)
    ref = qness.steady_state(model, method)
    assert ref.info["uniqueness"]["alongside"] is False
    # the solve does not depend on its checks, and the checks are the same GMRES runs
    np.testing.assert_array_equal(ness.rho, ref.rho)
    for key in ("check_iterations", "check_residual", "sigma", "verified"):
        assert uniq[key] == ref.info["uniqueness"][key]
        if name != "kerr":
            assert uniq["odd_sector"][key] == ref.info["uniqueness"]["odd_sector"][key]


@pytest.mark.parametrize(
    "model", [dark_singlet_qubits, lambda: dark_mode_cavities(6)], ids=["singlet", "cavities"]
)
def test_dark_states_are_found_alongside(model, alongside, monkeypatch):
    started = []
    start = steady._ChecksAlongside.start
    monkeypatch.setattr(steady._ChecksAlongside, "start", lambda self: (started.append(1), start(self)))
    with pytest.raises(qness.NonUniqueSteadyStateError, match="asymptotic_state"):
        qness.steady_state(model(), qness.Krylov())
    assert started and not _check_threads()


def test_exchanged_steady_states_are_not_unique_alongside(alongside):
    H, c_ops = exchanged_copies(5, seed=5)
    with pytest.raises(qness.NonUniqueSteadyStateError, match="parity -1 sector"):
        qness.steady_state(qness.from_qutip(H, c_ops), qness.Krylov())
    assert not _check_threads()


def test_states_the_fold_exchanges_are_not_unique_alongside(alongside):
    with pytest.raises(qness.NonUniqueSteadyStateError, match="odd under the level flip"):
        qness.steady_state(ferromagnet(), qness.Krylov())
    assert not _check_threads()


def test_a_failed_solve_stops_its_checks(alongside):
    model = qness.models.boundary_driven_xxz(6, delta=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(qness.ConvergenceError):
            qness.steady_state(model, qness.Krylov(preconditioner=None, maxiter=4))
    assert not _check_threads()


def test_one_thread_keeps_the_checks_after_the_solve(alongside, monkeypatch):
    monkeypatch.setenv("QNESS_BLOCK_THREADS", "1")
    ness = qness.steady_state(CASES["xxz-fold"](), qness.Krylov())
    assert ness.info["uniqueness"]["alongside"] is False


def test_the_default_runs_checks_alongside_on_large_sectors(two_threads):
    # XXZ 9: 48,620 unknowns, folded to 24,310 (above CHECKS_ALONGSIDE_MIN)
    ness = qness.steady_state(qness.models.boundary_driven_xxz(9, delta=0.5))
    uniq = ness.info["uniqueness"]
    assert ness.info["fold"]["size"] >= steady.CHECKS_ALONGSIDE_MIN
    assert uniq["alongside"] and uniq["odd_sector"]["alongside"] and uniq["verified"]
    assert ness.residual < 1e-10


def test_progress_bars_of_checks_alongside(alongside, capsys):
    qness.steady_state(qness.models.boundary_driven_xxz(6, delta=0.5), qness.Krylov(), progress=True)
    assert "uniqueness check" in capsys.readouterr().err


def test_lu_solve_shares_a_factorisation_between_threads():
    # SciPy's getrs wrapper shifts the pivots in place: scipy.linalg.lu_solve with one shared
    # (lu, piv) aborted the interpreter (heap corruption); run in a child process to see a failure
    code = textwrap.dedent(
        """
        import threading
        import numpy as np
        import scipy.linalg as sla
        from qness._linalg import lu_solve

        rng = np.random.default_rng(1)
        A = rng.standard_normal((30, 30)) + 1j * rng.standard_normal((30, 30))
        lu = sla.lu_factor(A)
        b = rng.standard_normal(30) + 0j
        ref = np.linalg.solve(A, b)
        bad = []

        def work():
            for _ in range(3000):
                if not np.allclose(lu_solve(lu, b), ref):
                    bad.append(1)

        threads = [threading.Thread(target=work) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("bad", len(bad))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "bad 0"


def test_an_odd_check_stops_when_the_main_check_stalls_and_runs_again_if_needed():
    # a model with a dark state: the main check stalls and its judgement raises, as checks after the
    # solve do before they reach the odd states; the odd check started alongside ran its 100 steps
    # to no purpose (45 % longer than before; session-13 review). It now stops, and runs again from
    # the start if the main judgement does not raise.
    checks = steady._ChecksAlongside()
    steps = {"odd": 0}
    main_done = threading.Event()

    def main(_):
        main_done.wait(5)
        return {"converged": False}

    def odd(c):
        cb = c.callback(lambda res: None, "odd")
        for _ in range(200):
            cb(0.5)
            steps["odd"] += 1
            if steps["odd"] == 3:
                main_done.set()  # the main check stalls while the odd one runs
            time.sleep(0.002)
        return {"converged": True}

    checks.add("main", main)
    checks.add("odd", odd)
    checks.start()
    checks.help()  # this thread takes the odd check, as after a solve
    assert checks.take("main") == {"converged": False}
    stopped = steps["odd"]
    assert 3 <= stopped < 200
    # the main judgement did not raise: the odd check runs again, to its end
    assert checks.take("odd") == {"converged": True}
    assert steps["odd"] == stopped + 200
    checks.close()
    assert not _check_threads()


def test_the_judgement_of_a_check_alongside_logs_nothing_of_its_own(alongside, caplog):
    # it logged "uniqueness check: start (at most 200 it)" and "done after 0 steps" (review)
    import logging

    with caplog.at_level(logging.INFO, logger="qness"):
        qness.steady_state(CASES["xxz-fold"](), qness.Krylov())
    starts = [
        r.getMessage()
        for r in caplog.records
        if "uniqueness check" in r.getMessage() and "start" in r.getMessage()
    ]
    assert len(starts) == 2 and all("at most" not in m for m in starts)  # the two runs alongside
