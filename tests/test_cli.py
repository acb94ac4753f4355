"""The qness command line, end to end in subprocesses."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
        # issue 13: each of these exited 1 with a traceback
        (["steady", "kerr", *KERR, "--set", "F=0.4", "--method", "foo"], "invalid choice: 'foo'"),
        (["gap", "kerr", *KERR, "--set", "F=0.4", "--method", "foo"], "invalid choice: 'foo'"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3", "--out", "x.h5", "--method", "foo"], "--method"),
        (["steady", "json:dumps", "--set", "obj=1"], "returned str, not a qness.LindbladModel"),
        (["scan", "json:dumps", "--vary", "obj=0:1:2", "--out", "x.h5"], "not a qness.LindbladModel"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3", "--out", "x.h5", "--quantities", "bogus"], "bogus"),
        (
            [
                "scan",
                "kerr",
                *KERR,
                "--vary",
                "F=0:1:3",
                "--out",
                "x.h5",
                "--quantities",
                "spin_current:left",
            ],
            "model 'kerr' has no bath 'left' (its baths: cavity)",
        ),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3", "--out", "x.h5", "--workers", "0"], "--workers"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3", "--out", "x.h5", "--size-name", "F"], "needs --size"),
        # the last of two values silently won (session-13 review)
        (["steady", "kerr", *KERR, "--set", "F=0.4", "--set", "F=0.5"], "'F' given twice with --set"),
        (["scan", "kerr", *KERR, "--vary", "F=0:1:3", "--vary", "F=0:2:3", "--out", "x.h5"], "twice"),
    ],
)
def test_bad_arguments_exit_2_with_usage_and_one_message(args, message, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "qness", *args], capture_output=True, text=True, env=ENV, cwd=tmp_path
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert r.stderr.startswith("usage: qness")  # the (sub)command's usage first
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
    assert not list(tmp_path.iterdir())  # nothing written on bad input


def test_version():
    import qness

    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"qness {qness.__version__}"


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
    assert "--overwrite" in bad.stderr and "overwrite=True" not in bad.stderr  # the flag, not the argument
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
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
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
        "2,3,4",
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    )
    assert s.returncode == 0, s.stderr
    assert "N=3: smallest gap" in s.stdout and "smallest gap vs N: closes like" in s.stdout
    gap = load(out)["gap"]
    assert (
        gap.dims == ("N", "F1")
        and (gap.sel(N=3) < gap.sel(N=2)).all()
        and (gap.sel(N=4) < gap.sel(N=3)).all()
    )
    p = run("plot", str(out), script=True)
    assert p.returncode == 0, p.stderr
    png = (tmp_path / "kerr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width > 900  # two panels: the gap curves and the finite-size fit of their minima
    assert main(["plot", str(out), "--no-fit", "--out", str(tmp_path / "one.png")]) == 0
    assert int.from_bytes((tmp_path / "one.png").read_bytes()[16:20], "big") < 800


SMALL = ["scan", "kerr", *KERR, "--quantities", "expect:num", "--no-progress"]


@pytest.fixture
def cli(capsys):
    """Run ``qness`` in this process (fast): returns ``(exit code, stdout, stderr)``."""

    def call(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call


def test_damaged_store_exits_2_naming_the_flag(tmp_path, cli):
    good = tmp_path / "good.h5"
    r = cli(*SMALL, "--vary", "F=0.1:0.3:3", "--out", str(good), "--workers", "1")
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.h5"
    bad.write_bytes(good.read_bytes()[:3000])  # a truncated copy, as a full disk leaves it
    for args in (
        [*SMALL, "--vary", "F=0.1:0.3:3", "--out", str(bad), "--workers", "1"],
        ["plot", str(bad)],
    ):
        r = cli(*args)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("usage: qness") and "Traceback" not in r.stderr
        assert "bad.h5 is a truncated HDF5 file" in r.stderr and "--overwrite" in r.stderr
        assert "overwrite=True" not in r.stderr
        assert r.stderr.count("truncated HDF5 file") == 1  # said once
    r = cli(*SMALL, "--vary", "F=0.1:0.3:3", "--out", str(bad), "--workers", "1", "--overwrite")
    assert r.returncode == 0 and "3 computed now" in r.stdout, r.stderr


def test_extend_retry_and_lock_from_the_command_line(tmp_path, cli):
    from qness.scan import _Lock

    out = tmp_path / "s.h5"
    flag = tmp_path / "flag"
    flag.write_text("")
    base = ["scan", "test_scan:fail_while_flagged", "--set", f"flag={flag}", "--out", str(out)]
    base += ["--quantities", "expect:num", "--workers", "1", "--no-progress"]

    def scan_cli(*extra):
        return cli(*base, *extra)

    r = scan_cli("--vary", "F=0.1:0.5:3")  # F = 0.1, 0.3, 0.5: 0.5 fails while flagged
    assert r.returncode == 0, r.stderr
    assert "3 computed now, 1 failed" in r.stdout and "--retry-failed" in r.stderr
    r = scan_cli("--vary", "F=0.1:0.5:5")  # a finer grid containing the old one: 2 new points
    assert r.returncode == 0 and "5 points" in r.stdout and "2 computed now, 1 failed" in r.stdout
    flag.unlink()
    r = scan_cli("--vary", "F=0.1:0.5:5", "--retry-failed")
    assert r.returncode == 0 and "1 computed now, 0 failed" in r.stdout, r.stdout + r.stderr
    ds = load(out)
    np.testing.assert_allclose(ds["expect:num"], np.abs(ds["F"].values / (0.5 + 0.5j)) ** 2, rtol=1e-4)
    lock = _Lock(str(out)).acquire()  # as another scan holding the store
    try:
        r = scan_cli("--vary", "F=0.1:0.5:5")
    finally:
        lock.release()
    assert r.returncode == 2 and r.stderr.startswith("usage: qness scan")
    assert f"being written by another scan (pid {os.getpid()} " in r.stderr and "s.h5.lock" in r.stderr


def test_current_and_entanglement_quantities_from_the_command_line(tmp_path, cli):
    from qness.analysis import particle_currents
    from qness.analysis.entanglement import log_negativity
    from qness.models import boundary_driven_xxz

    out = tmp_path / "xxz.h5"
    q = "particle_current:left,spin_current:right,log_negativity:0,entropy"
    r = cli(
        "scan", "boundary_driven_xxz", "--set", "n=3", "--vary", "delta=0.5:1.5:2", "--quantities", q,
        "--out", str(out), "--workers", "1", "--no-progress", "--method", "dense",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ds = load(out).sel(delta=1.5)
    m = boundary_driven_xxz(3, delta=1.5)
    rho = np.asarray(__import__("qness").steady_state(m, "dense").rho)
    I = particle_currents(m, rho)
    assert I["left"] > 1e-3
    np.testing.assert_allclose(ds["particle_current:left"], I["left"], rtol=1e-7)
    np.testing.assert_allclose(ds["spin_current:right"], -I["left"], rtol=1e-7)
    np.testing.assert_allclose(ds["log_negativity:0"], log_negativity(rho, [2, 2, 2], 0), atol=1e-9)
    w = np.linalg.eigvalsh(rho)
    w = w[w > 1e-15]
    np.testing.assert_allclose(ds["entropy"], -np.sum(w * np.log2(w)), rtol=1e-8)  # bits


def test_plot_of_a_scan_of_three_axes_asks_for_at(tmp_path, cli):
    out = tmp_path / "s.h5"
    r = cli(
        "scan", "kerr", "--set", "U=0", "--set", "kappa=1", "--vary", "F=0.1:0.3:2", "--vary",
        "detuning=0.2:0.8:4", "--size", "3,4", "--size-name", "cutoff", "--out", str(out),
        "--quantities", "purity", "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    p = cli("plot", str(out), "--quantity", "purity")
    assert p.returncode == 2 and p.stderr.startswith("usage: qness plot") and "Traceback" not in p.stderr
    assert "dimensions cutoff, F, detuning" in p.stderr and "--at F=0.1" in p.stderr
    png = tmp_path / "s.png"
    p = cli("plot", str(out), "--quantity", "purity", "--at", "detuning=0.6", "--linear", "--out", str(png))
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    p = cli("plot", str(out), "--quantity", "purity", "--at", "bogus=1")
    assert p.returncode == 2 and "--at expects name=value" in p.stderr
    # the title and labels show values without float noise
    from qness.cli import _title, _ylabel

    ds = load(out)
    assert ds["detuning"].values[2] == 0.6000000000000001  # as linspace makes it
    da = ds["purity"].sel(detuning=0.6, method="nearest")
    assert _title(json.loads(ds.attrs["definition"]), da) == "kerr (U=0, kappa=1, detuning=0.6)"
    assert _ylabel("expect:num@0") == r"$\langle$num$\rangle$ on site 0"
    assert _ylabel("log_negativity:0+1") == "log negativity of sites 0+1 (bits)"


def gap_until_cutoff_4(model, ness):
    """A positive 'gap' on cutoffs 2 and 3 only (as if the larger sizes had all failed)."""
    return 1.0 / model.dim if model.dim < 4 else float("nan")


def test_plot_skips_the_fit_panel_without_three_sizes(tmp_path, cli):
    import functools

    from qness.models import kerr
    from qness.scan import scan

    out = tmp_path / "s.h5"
    factory = functools.partial(kerr, detuning=0.5, U=0.0, kappa=1.0)
    scan(factory, {"F": [0.1, 0.2, 0.3]}, {"gap": gap_until_cutoff_4}, sizes=[2, 3, 4],
         size_name="cutoff", store=out, executor="serial", progress=False)  # fmt: skip
    r = cli("plot", out, "--out", tmp_path / "s.png")
    assert r.returncode == 0, r.stderr
    assert "no finite-size panel: fewer than 3 sizes have a positive gap" in r.stderr
    assert int.from_bytes((tmp_path / "s.png").read_bytes()[16:20], "big") < 800  # one panel


def test_a_module_function_may_return_qutips_h_and_c_ops(tmp_path):
    # Python's scan takes (H, c_ops); the command refused it as "not a qness.LindbladModel"
    # (session-13 review)
    (tmp_path / "mycavity.py").write_text(
        "import qutip\n\n\ndef model(F, N=10):\n    a = qutip.destroy(N)\n"
        "    return 0.5 * a.dag() * a + F * (a + a.dag()), [a]\n"
    )
    env = dict(ENV, PYTHONPATH=os.pathsep.join([str(tmp_path), ENV["PYTHONPATH"]]))
    r = subprocess.run(
        [sys.executable, "-m", "qness", "steady", "mycavity:model", "--set", "F=0.4", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dim"] == 10 and out["residual"] < 1e-10
    assert out["observables"]["sum <n>"] == pytest.approx(abs(0.4 / (0.5 + 0.5j)) ** 2, rel=1e-5)


def test_the_console_script_imports_module_function_from_the_current_directory(tmp_path):
    """`python -m qness` puts the current directory on sys.path, the installed `qness` script did
    not: a factory file beside the user's shell was 'No module named ...' (session-18 review)."""
    script = Path(sys.executable).parent / "qness"
    if not script.exists():
        pytest.skip("the qness console script is not installed beside this interpreter")
    (tmp_path / "herecavity.py").write_text(
        "import qutip\n\n\ndef model(F, N=8):\n    a = qutip.destroy(N)\n"
        "    return 0.5 * a.dag() * a + F * (a + a.dag()), [a]\n"
    )
    r = subprocess.run(
        [str(script), "steady", "herecavity:model", "--set", "F=0.4", "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dim"] == 8
