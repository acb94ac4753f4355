"""Progress of long solves: a tqdm bar (progress=True) and INFO records on the "qness" logger."""

import logging

import pytest

import qness


@pytest.mark.parametrize("method", ["krylov", "direct", "dense", qness.Evolve(atol=1e-9)])
def test_progress_bar_and_log_record_the_solve(method, capsys, caplog):
    m = qness.models.boundary_driven_xxz(4, delta=0.5)
    with caplog.at_level(logging.INFO, logger="qness"):
        ness = qness.steady_state(m, method, progress=True)
    err = capsys.readouterr().err
    name = ness.info["method"]
    assert f"qness {name}" in err  # the tqdm bar, on stderr
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("qness")]
    assert any(msg.startswith(f"{name}") and "start" in msg for msg in messages)
    assert any(msg.startswith(f"{name}") and "done after" in msg for msg in messages)
    if name == "Krylov":
        assert "residual=" in err
        its = ness.info["iterations"]
        assert any(f"converged in {its} iterations" in msg for msg in messages)
        assert any(f"done after {its} steps, residual=" in msg for msg in messages)
        assert any("uniqueness check" in msg for msg in messages)


def test_no_bar_by_default_but_still_logged(capsys, caplog):
    m = qness.models.boundary_driven_xxz(4, delta=0.5)
    with caplog.at_level(logging.INFO, logger="qness"):
        qness.steady_state(m, "krylov")
    assert "qness Krylov" not in capsys.readouterr().err
    assert any("Krylov: converged" in r.getMessage() for r in caplog.records)


def test_progress_must_be_a_bool():
    with pytest.raises(TypeError, match="progress must be a bool"):
        qness.steady_state(qness.models.boundary_driven_xxz(3, delta=0.5), progress="yes")


def test_cli_steady_progress_flag():
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [
        sys.executable,
        "-m",
        "qness",
        "steady",
        "boundary_driven_xxz",
        "--set",
        "n=4",
        "--set",
        "delta=0.5",
    ]
    r = subprocess.run(
        cmd + ["--method", "krylov", "--progress"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "qness Krylov (gmres)" in r.stderr and "residual" in r.stdout
    quiet = subprocess.run(cmd + ["--method", "krylov"], capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0 and "qness Krylov" not in quiet.stderr
