"""The qness command line, end to end in subprocesses."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from qness.cli import main
from qness.scan import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# subprocesses import the checkout under test, not whichever copy is installed
ENV = dict(
    os.environ,
    OMP_NUM_THREADS="1",
    MPLBACKEND="Agg",
    PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
)
KERR = ["--set", "cutoff=10", "--set", "detuning=0.5", "--set", "U=0", "--set", "kappa=1"]


def run(*args, script=False, timeout=120):
    cmd = [shutil.which("qness")] if script else [sys.executable, "-m", "qness"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=ENV, timeout=timeout)


def test_models_lists_names_with_descriptions():
    assert shutil.which("qness"), "the console script `qness` is not installed"
    r = run("models", script=True)
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines()}
    assert {"kerr", "boundary_driven_xxz", "tasep"} <= set(lines)
    assert "Kerr" in lines["kerr"]


def test_steady_json_matches_the_coherent_state():
    r = run("steady", "kerr", *KERR, "--set", "F=0.4", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["residual"] < 1e-10 and out["dim"] == 10 and out["method"]
    n = abs(0.4 / (0.5 + 0.5j)) ** 2  # |alpha|^2, alpha = -i F / (kappa/2 + i Delta)
    assert out["observables"]["sum <n>"] == pytest.approx(n, rel=1e-5)
    assert out["observables"]["purity"] == pytest.approx(1.0, abs=1e-4)
    text = run("steady", "kerr", *KERR, "--set", "F=0.4", script=True)
    assert text.returncode == 0 and "residual" in text.stdout and "time" in text.stdout


def test_steady_reports_heat_currents_and_entropy_production():
    args = ["steady", "xxz_thermal_chain", "--set", "n=3", "--set", "T_l=2", "--set", "T_r=0.5", "--json"]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    obs = json.loads(r.stdout)["observables"]
    J = obs["heat currents"]
    assert J["left"] > 0 and J["left"] == pytest.approx(-J["right"], abs=1e-12)
    assert obs["entropy production"] == pytest.approx(-(J["left"] / 2 + J["right"] / 0.5), rel=1e-8)


@pytest.mark.parametrize(
    "args,message",
    [
        (["steady", "nosuchmodel"], "valid models: bose_hubbard"),
        (["steady", "kerr", *KERR, "--set", "F=0.4", "--set", "bogus=1"], "valid parameters: cutoff"),
        (["steady", "kerr", "--set", "cutoff=10"], "needs parameter(s) detuning"),
        (["steady", "kerr", "--set", "cutoff"], "name=value"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1", "--out", "x.h5"], "start:stop:num"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3"], "--out"),  # argparse: required option
        (["bogus-command"], "invalid choice"),
        (["plot", "does-not-exist.h5"], "no such file"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "qness", *args], capture_output=True, text=True, env=ENV, cwd=tmp_path
    )
    assert r.returncode == 2
    assert message in r.stderr
    assert not list(tmp_path.iterdir())  # nothing written on bad input


def test_scan_resume_and_plot(tmp_path):
    out = tmp_path / "scan.h5"
    fixed = KERR[2:]  # without cutoff: the size is the cutoff here
    args = ["scan", "kerr", *fixed, "--vary", "F=0.1:0.5:5", "--size", "8,10", "--size-name", "cutoff"]
    args += ["--out", str(out), "--quantities", "purity,expect:num", "--workers", "2", "--no-progress"]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "10 points" in r.stdout and "10 computed now" in r.stdout
    ds = load(out)
    assert ds["expect:num"].dims == ("cutoff", "F")
    n = np.abs(ds["F"].values / (0.5 + 0.5j)) ** 2
    np.testing.assert_allclose(ds["expect:num"].sel(cutoff=10), n, rtol=1e-4)
    again = run(*args, script=True)
    assert again.returncode == 0 and "0 computed now" in again.stdout
    # a different grid with the same store is refused
    other = [a.replace("F=0.1:0.5:5", "F=0.1:0.6:5") for a in args]
    bad = run(*other)
    assert bad.returncode == 2 and "different scan" in bad.stderr
    png = tmp_path / "scan.png"
    p = run("plot", str(out), "--quantity", "expect:num", "--out", str(png))
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    missing = run("plot", str(out), "--quantity", "gap")
    assert missing.returncode == 2 and "expect:num" in missing.stderr


def test_vary_with_integer_ends_gives_integers():
    from qness.cli import _parse_vary

    assert _parse_vary(["n=2:6:3"])["n"].dtype.kind == "i"
    assert _parse_vary(["n=2:6:3"])["n"].tolist() == [2, 4, 6]
    assert _parse_vary(["F=0:1:3"])["F"].tolist() == [0, 0.5, 1.0]  # not integral: floats
    assert _parse_vary(["F=0.0:2.0:3"])["F"].dtype.kind == "f"


def test_main_in_process_returns_codes(capsys):
    assert main(["models"]) == 0
    assert "kerr" in capsys.readouterr().out
    assert main(["gap", "kerr", "--set", "cutoff=4"]) == 2
    assert "needs parameter" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["scan"])
    assert exc.value.code == 2


def test_scan_on_a_dask_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.h5"
    args = ["scan", "kerr", *KERR, "--vary", "F=0.1:0.5:4", "--out", str(out)]
    args += ["--quantities", "expect:num", "--no-progress"]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        r = run(*args, "--scheduler", cluster.scheduler_address)
    assert r.returncode == 0, r.stderr
    local = run(
        *args[:-5],
        "--out",
        str(tmp_path / "local.h5"),
        "--quantities",
        "expect:num",
        "--workers",
        "1",
        "--no-progress",
    )
    assert local.returncode == 0, local.stderr
    np.testing.assert_allclose(load(out)["expect:num"], load(tmp_path / "local.h5")["expect:num"], rtol=1e-10)


def test_gap_and_a_gap_closing_scan(tmp_path):
    r = run("gap", "kerr", *KERR, "--set", "F=0.3", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["gap"] == pytest.approx(0.5, rel=1e-4)  # kappa/2, cutoff 10
    assert json.loads(r.stdout)["certified"] is True  # 100 unknowns: dense, exactly the rightmost
    out = tmp_path / "kerr.h5"
    s = run(
        "scan",
        "kerr_scaled",
        "--vary",
        "F1=2:2.8:3",
        "--size",
        "2,3",
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    )
    assert s.returncode == 0, s.stderr
    assert "N=3: smallest gap" in s.stdout
    gap = load(out)["gap"]
    assert gap.dims == ("N", "F1") and (gap.sel(N=3) < gap.sel(N=2)).all()
    p = run("plot", str(out), script=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "kerr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
