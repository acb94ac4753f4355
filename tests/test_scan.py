"""Parameter scans: serial vs process pool vs dask, resumable store, failures, warm starts."""

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
from helpers import dense_liouvillian, dense_steady_state

import qness
import qness.models
from qness.scan import ScanDefinitionError, load, scan

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
# subprocesses import the checkout under test, not whichever copy is installed
SUB_ENV = dict(
    os.environ,
    OMP_NUM_THREADS="1",
    PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
)


# ----------------------------------------------------------------- picklable test factories
def cavity(F, detuning=0.5, kappa=1.0, cutoff=8, U=0.0):
    """Driven damped (Kerr) cavity: H = D a^+a + U/2 a^+a^+aa + F (a + a^+), L = sqrt(kappa) a."""
    b = qness.ModelBuilder([cutoff], name="cavity")
    b.add_onsite(detuning, "num")
    if U:
        a = qness.operators.destroy(cutoff)
        b.add_onsite(U / 2, (a.T @ a.T @ a @ a))
    b.add_drive(F, "destroy", plus_hc=True)
    b.add_jump("destroy", kappa)
    return b.build()


def spin_chain(n, h, gamma=1.0):
    """Transverse-field chain with decay on every site (size parameter ``n``)."""
    b = qness.ModelBuilder(2, n, name="chain")
    b.add_onsite(h, "sigmax")
    b.add_coupling(1.0, "sigmaz", "sigmaz")
    b.add_jump("sigmam", gamma)
    return b.build()


class DenseNess:
    """What the scan needs from a NESS: rho, residual, info."""

    def __init__(self, rho, info):
        self.rho = rho
        self.residual = 0.0
        self.info = info


def dense_solver(model, x0=None):
    return DenseNess(dense_steady_state(model), {"warm": x0 is not None, "iterations": 1})


def dense_gap(model, ness=None):
    ev = np.linalg.eigvals(dense_liouvillian(model))
    ev = ev[np.argsort(-ev.real)]
    return -ev[1].real


def photon_number(model, ness):
    a = qness.operators.destroy(model.dim).toarray()
    return np.trace(a.conj().T @ a @ ness.rho).real


def was_warm(model, ness):
    return float(ness.info["warm"])


def worker_pid(model, ness):
    return float(os.getpid())


def flaky_factory(F):
    if F > 1.0:
        raise ValueError(f"no model at F={F}")
    return cavity(F)


QUANTITIES = {"gap": dense_gap, "n": photon_number, "purity": "purity"}


def _coherent_n(F, detuning=0.5, kappa=1.0):
    return abs(F / (kappa / 2 + 1j * detuning)) ** 2


# ----------------------------------------------------------------- tests
def test_serial_scan_values_and_axes():
    F = np.linspace(0.1, 0.6, 4)
    ds = scan(cavity, {"F": F}, QUANTITIES, executor="serial", solver=dense_solver, progress=False)
    assert ds["n"].dims == ("F",)
    np.testing.assert_allclose(ds["F"], F)
    # coherent state of the driven damped cavity: n = |F / (kappa/2 + i D)|^2, gap kappa/2
    np.testing.assert_allclose(ds["n"], [_coherent_n(f) for f in F], rtol=1e-4)
    np.testing.assert_allclose(ds["gap"], 0.5, rtol=1e-3)  # truncation at cutoff 8
    np.testing.assert_allclose(ds["purity"], 1.0, atol=1e-3)
    assert (ds["error"] == "").all() and ds["done"].all()


def test_sizes_axis_and_expect_builtin():
    ds = scan(
        spin_chain,
        {"h": [0.5, 1.0]},
        {"mz": "expect:sigmaz", "mz0": "expect:sigmaz@0", "gap": dense_gap},
        sizes=[2, 3],
        executor="serial",
        solver=dense_solver,
        progress=False,
    )
    assert ds["mz"].dims == ("n", "h")
    np.testing.assert_array_equal(ds["n"], [2, 3])
    m = spin_chain(3, 1.0)
    rho = dense_steady_state(m)
    z = [qness.operators.embed("sigmaz", i, m.dims).toarray() for i in range(3)]
    expected = sum(np.trace(zi @ rho).real for zi in z)
    np.testing.assert_allclose(ds["mz"].sel(n=3, h=1.0), expected, rtol=1e-8)
    np.testing.assert_allclose(ds["mz0"].sel(n=3, h=1.0), np.trace(z[0] @ rho).real, rtol=1e-8)


def kerr_form(form, F):
    return cavity(F, U=0.0 if form == "linear" else 0.5)


def test_string_grid_axis_round_trips_through_the_store(tmp_path):
    ds = scan(
        kerr_form,
        {"form": ["linear", "kerr"], "F": [0.2, 0.4]},
        {"n": photon_number},
        executor="serial",
        solver=dense_solver,
        store=tmp_path / "s.h5",
        progress=False,
    )
    assert list(ds["form"].values) == ["linear", "kerr"]
    np.testing.assert_allclose(ds["n"].sel(form="linear"), [_coherent_n(0.2), _coherent_n(0.4)], rtol=1e-4)
    assert load(tmp_path / "s.h5")["n"].sel(form="kerr", F=0.4) == ds["n"].sel(form="kerr", F=0.4)


def test_current_builtin_is_the_heat_current_from_that_bath():
    from qness.analysis import heat_currents
    from qness.models import xxz_thermal_chain

    ds = scan(
        functools.partial(xxz_thermal_chain, 3, T_r=0.5),
        {"T_l": [0.5, 2.0]},
        ["current:left", "current:right"],
        executor="serial",
        solver=dense_solver,
        progress=False,
    )
    m = xxz_thermal_chain(3, T_l=2.0, T_r=0.5)
    J = heat_currents(m, dense_steady_state(m))
    np.testing.assert_allclose(ds["current:left"].sel(T_l=2.0), J["left"], rtol=1e-8)
    np.testing.assert_allclose(ds["current:right"].values, -ds["current:left"].values, atol=1e-12)
    assert abs(ds["current:left"].sel(T_l=0.5)) < 1e-12  # equal temperatures: no current
    bad = scan(
        m.replace,
        {"name": ["x"]},
        ["current:nowhere"],
        executor="serial",
        solver=dense_solver,
        progress=False,
    )
    assert "no bath 'nowhere'" in bad["error"].values[0]


def never_called(model, x0=None):
    raise AssertionError("the gap alone needs no steady state")


def test_gap_builtin_needs_no_steady_state():
    ds = scan(cavity, {"F": [0.1, 0.3]}, ["gap"], executor="serial", solver=never_called, progress=False)
    assert (ds["error"] == "").all()
    np.testing.assert_allclose(ds["gap"], [dense_gap(cavity(0.1)), dense_gap(cavity(0.3))], rtol=1e-8)


def test_warm_start_follows_the_last_axis():
    ds = scan(
        cavity,
        {"detuning": [0.0, 1.0], "F": np.linspace(0.1, 0.5, 4)},
        {"warm": was_warm},
        executor="serial",
        solver=dense_solver,
        progress=False,
    )
    np.testing.assert_array_equal(ds["warm"], [[0, 1, 1, 1], [0, 1, 1, 1]])
    cold = scan(
        cavity,
        {"F": [0.1, 0.2]},
        {"warm": was_warm},
        executor="serial",
        solver=dense_solver,
        warm_start=False,
        progress=False,
    )
    np.testing.assert_array_equal(cold["warm"], [0, 0])


def test_failed_points_recorded_not_fatal(tmp_path):
    F = [0.5, 1.5, 0.6]
    ds = scan(
        flaky_factory,
        {"F": F},
        {"n": photon_number},
        executor="serial",
        solver=dense_solver,
        store=tmp_path / "s.h5",
        progress=False,
    )
    assert ds["done"].all()
    assert np.isnan(ds["n"].values[1]) and "no model at F=1.5" in ds["error"].values[1]
    assert ds["error"].values[0] == "" and ds["error"].values[2] == ""
    np.testing.assert_allclose(ds["n"].values[[0, 2]], [_coherent_n(0.5), _coherent_n(0.6)], rtol=1e-4)
    # a quantity failing at one point leaves the others of that point intact
    ds2 = scan(
        functools.partial(cavity, detuning=0.5),
        {"F": [0.5]},
        {"n": photon_number, "bad": lambda m, n: 1j},
        executor="serial",
        solver=dense_solver,
        progress=False,
    )
    assert np.isfinite(ds2["n"].values[0]) and np.isnan(ds2["bad"].values[0])
    assert "complex" in ds2["error"].values[0]


def test_warm_start_reaches_the_real_solver():
    xxz = functools.partial(qness.models.boundary_driven_xxz, 5)
    grid = {"delta": np.linspace(0.4, 0.6, 6)}
    q = ["iterations", "expect:sigmaz@0"]
    warm = scan(xxz, grid, q, method="krylov", executor="serial", progress=False)
    cold = scan(xxz, grid, q, method="krylov", executor="serial", warm_start=False, progress=False)
    np.testing.assert_allclose(warm["expect:sigmaz@0"], cold["expect:sigmaz@0"], atol=1e-9)
    assert warm["iterations"].values[0] == cold["iterations"].values[0]  # first point: nothing to start from
    assert warm["iterations"].values[1:].sum() < cold["iterations"].values[1:].sum()


def test_process_pool_equals_serial():
    grid = {"detuning": [0.0, 0.7], "F": np.linspace(0.1, 0.6, 5)}
    small = functools.partial(cavity, cutoff=6)  # small: the test is about the executor, not the physics
    a = scan(small, grid, QUANTITIES, executor="serial", solver=dense_solver, progress=False)
    b = scan(small, grid, QUANTITIES, workers=2, solver=dense_solver, progress=False)
    for q in QUANTITIES:
        np.testing.assert_allclose(b[q], a[q], rtol=1e-9, atol=1e-12)


def crash_once(flag, F):
    """Kill the worker process (as an out-of-memory kill would) the first time F > 0.45."""
    if F > 0.45:
        try:
            os.remove(flag)  # atomic: of two workers at F = 0.5 and 0.6, exactly one crashes
        except FileNotFoundError:
            return cavity(F)
        os._exit(1)
    return cavity(F)


def test_a_dead_worker_stops_the_scan_and_a_rerun_completes_it(tmp_path):
    flag = tmp_path / "crash"
    flag.write_text("")
    store = tmp_path / "s.h5"
    factory = functools.partial(crash_once, str(flag))
    kw = dict(workers=2, solver=dense_solver, store=store, progress=False, chain_length=1)
    grid = {"F": np.linspace(0.1, 0.6, 6)}
    with pytest.raises(RuntimeError, match="rerun to resume"):
        scan(factory, grid, {"n": photon_number}, **kw)
    assert not load(store)["done"].all()
    ds = scan(factory, grid, {"n": photon_number}, **kw)  # the flag is gone: no crash now
    assert ds["done"].all() and (ds["error"] == "").all()
    np.testing.assert_allclose(ds["n"], [_coherent_n(f) for f in grid["F"]], rtol=1e-4)


def test_unpicklable_factory_is_refused_clearly():
    with pytest.raises(TypeError, match="module level"):
        scan(lambda F: cavity(F), {"F": [0.1]}, {"n": photon_number}, workers=2, solver=dense_solver)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown quantity"):
        scan(cavity, {"F": [0.1]}, ["nonsense"], executor="serial", solver=dense_solver)
    with pytest.raises(ValueError, match="unknown operator"):
        scan(cavity, {"F": [0.1]}, ["expect:foo"], executor="serial", solver=dense_solver)
    with pytest.raises(ValueError, match="non-empty"):
        scan(cavity, {"F": []}, ["purity"], executor="serial", solver=dense_solver)
    with pytest.raises(ValueError, match="executor"):
        scan(cavity, {"F": [0.1]}, ["purity"], executor="threads", solver=dense_solver)


def test_store_resume_and_definition_check(tmp_path):
    path = tmp_path / "scan.h5"
    kw = dict(executor="serial", solver=dense_solver, progress=False, store=path)
    full = scan(cavity, {"F": np.linspace(0.1, 0.6, 5)}, {"n": photon_number}, **kw)
    # forget two points, as if the scan had been killed before storing them
    with h5py.File(path, "r+") as f:
        f["done"][[1, 3]] = 0
        f["values"]["n"][[1, 3]] = np.nan
    # a different solver is a different scan definition: refused ...
    other_solver = functools.partial(dense_solver)
    with pytest.raises(ScanDefinitionError, match="solver"):
        scan(cavity, {"F": np.linspace(0.1, 0.6, 5)}, {"n": photon_number}, **kw | {"solver": other_solver})
    with pytest.raises(ScanDefinitionError, match="axes"):
        scan(cavity, {"F": np.linspace(0.1, 1.0, 5)}, {"n": photon_number}, **kw)
    with pytest.raises(ScanDefinitionError, match="quantities"):
        scan(cavity, {"F": np.linspace(0.1, 0.6, 5)}, {"m": photon_number}, **kw)
    # ... the same one resumes
    again = scan(cavity, {"F": np.linspace(0.1, 0.6, 5)}, {"n": photon_number}, **kw)
    np.testing.assert_allclose(again["n"], full["n"], rtol=1e-12)
    assert load(path)["done"].all()
    definition = json.loads(load(path).attrs["definition"])
    assert definition["axes"]["F"] == list(np.linspace(0.1, 0.6, 5))


def test_resume_computes_only_missing(tmp_path):
    path = tmp_path / "scan.h5"
    log = tmp_path / "log.txt"
    grid = {"F": np.linspace(0.1, 0.6, 6)}
    factory = functools.partial(logging_factory, str(log))
    scan(
        factory,
        grid,
        {"n": photon_number},
        executor="serial",
        solver=dense_solver,
        store=path,
        progress=False,
    )
    with h5py.File(path, "r+") as f:
        f["done"][[0, 4]] = 0
    log.write_text("")
    ds = scan(
        factory,
        grid,
        {"n": photon_number},
        executor="serial",
        solver=dense_solver,
        store=path,
        progress=False,
    )
    assert sorted(_read_floats(log)) == pytest.approx([grid["F"][0], grid["F"][4]])
    assert ds["done"].all()


def logging_factory(logfile, F):
    """Append F to a log file (one line per model built), flushed to disk at once."""
    with open(logfile, "a") as fh:
        fh.write(f"{F!r}\n")
        fh.flush()
        os.fsync(fh.fileno())
    time.sleep(0.15)  # long enough that the parent can kill between points
    return cavity(F, cutoff=8)


def _read_floats(path):
    with open(path) as fh:
        return [float(x) for x in fh.read().split()]


KILL_SCRIPT = textwrap.dedent(
    """
    import functools, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_scan import logging_factory, dense_solver, photon_number
    from qness.scan import scan
    scan(functools.partial(logging_factory, {log!r}), {{"F": np.linspace(0.1, 0.6, 12)}},
         {{"n": photon_number}}, executor={executor!r}, workers={workers}, solver=dense_solver,
         store={store!r}, progress=False)
    """
)


@pytest.mark.parametrize("executor,workers", [("serial", 1), (None, 2)])
def test_sigkill_loses_no_finished_point_and_rerun_completes(tmp_path, executor, workers):
    store = str(tmp_path / "killed.h5")
    log = str(tmp_path / "computed.log")
    script = tmp_path / "run.py"
    script.write_text(
        KILL_SCRIPT.format(tests=TESTS_DIR, log=log, store=store, executor=executor, workers=workers)
    )
    proc = subprocess.Popen([sys.executable, str(script)], env=SUB_ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if os.path.exists(log) and len(_read_floats(log)) >= 5:
                break
            if proc.poll() is not None:
                pytest.fail(f"scan subprocess ended early with code {proc.returncode}")
            time.sleep(0.02)
        else:
            pytest.fail("scan subprocess made no progress")
        os.killpg(proc.pid, signal.SIGKILL)  # the scan and its pool workers, without clean-up
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    started = _read_floats(log)
    part = load(store)
    done_F = part["F"].values[part["done"].values]
    assert 0 < len(done_F) < 12, "kill should land in the middle of the scan"
    # every stored point was really computed, and is correct
    assert set(np.round(done_F, 12)) <= set(np.round(started, 12))
    np.testing.assert_allclose(
        part["n"].values[part["done"].values], [_coherent_n(f) for f in done_F], rtol=1e-4
    )
    # rerun: exactly the missing points are computed
    os.remove(log)
    full = scan(
        functools.partial(logging_factory, log),
        {"F": np.linspace(0.1, 0.6, 12)},
        {"n": photon_number},
        executor=executor,
        workers=workers,
        solver=dense_solver,
        store=store,
        progress=False,
    )
    recomputed = sorted(_read_floats(log))
    missing_F = sorted(part["F"].values[~part["done"].values])
    assert recomputed == pytest.approx(missing_F)
    assert full["done"].all()
    np.testing.assert_allclose(full["n"], [_coherent_n(f) for f in np.linspace(0.1, 0.6, 12)], rtol=1e-4)


def test_dask_local_cluster_equals_serial(monkeypatch):
    distributed = pytest.importorskip("distributed")
    # the dask workers are fresh processes: they import this module (worker_pid) by name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS_DIR, ROOT, os.environ.get("PYTHONPATH", "")]))
    # the library's own model and steady-state solver, as a cluster user would run them
    kerr = functools.partial(qness.models.kerr, 8, U=0.3, kappa=1.0)
    grid = {"detuning": [0.0, 0.7], "F": np.linspace(0.1, 0.9, 4)}
    quantities = {"n": "expect:num", "purity": "purity", "mz": photon_number}
    serial = scan(kerr, grid, quantities, executor="serial", progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ds = scan(
            kerr, grid, quantities | {"pid": worker_pid}, executor=client.get_executor(), progress=False
        )
        worker_pids = set(client.run(os.getpid).values())
    # the work really ran in the dask worker processes
    assert set(ds["pid"].values.astype(int).ravel()) <= worker_pids
    assert os.getpid() not in worker_pids
    for q in quantities:
        np.testing.assert_allclose(ds[q], serial[q], rtol=1e-9, atol=1e-12)
    assert ds["done"].all() and (ds["error"] == "").all()
    np.testing.assert_allclose(serial["n"], serial["mz"], rtol=1e-10)  # built-in vs hand-made <a^+a>


# ----------------------------------------------------------------- workers die with the scan
ORPHAN_SCRIPT = textwrap.dedent(
    """
    import functools, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import qness.scan
    qness.scan._PDEATHSIG = {pdeathsig}
    from test_scan import logging_factory, dense_solver, photon_number
    qness.scan.scan(functools.partial(logging_factory, {log!r}), {{"F": np.linspace(0.1, 0.6, 40)}},
                    {{"n": photon_number}}, workers=2, solver=dense_solver, store={store!r},
                    chain_length=1, progress=False)
    """
)


@pytest.mark.parametrize("pdeathsig", [True, False], ids=["pdeathsig", "watchdog"])
def test_sigkill_of_the_scan_ends_its_workers(tmp_path, pdeathsig):
    """SIGKILL of the scan process alone (not its group): its pool workers must not live on."""
    psutil = pytest.importorskip("psutil")
    if pdeathsig and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    log, store = str(tmp_path / "computed.log"), str(tmp_path / "s.h5")
    script = tmp_path / "run.py"
    script.write_text(ORPHAN_SCRIPT.format(tests=TESTS_DIR, log=log, store=store, pdeathsig=pdeathsig))
    proc = subprocess.Popen([sys.executable, str(script)], env=SUB_ENV, start_new_session=True)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if os.path.exists(log) and len(_read_floats(log)) >= 3:
                break
            assert proc.poll() is None, f"scan subprocess ended early with code {proc.returncode}"
            time.sleep(0.02)
        else:
            pytest.fail("scan subprocess made no progress")
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2  # the two pool workers (and any helper process)
        os.kill(proc.pid, signal.SIGKILL)  # the scan only: no clean-up runs in it
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive, f"workers still running 5 s after the scan was killed: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:  # never leave orphans behind, even when the test fails
            try:
                w.kill()
            except psutil.Error:
                pass
    # the lock died with the scan: a rerun resumes at once
    ds = scan(
        functools.partial(logging_factory, log),
        {"F": np.linspace(0.1, 0.6, 40)[:4]},
        {"n": photon_number},
        executor="serial",
        solver=dense_solver,
        store=str(tmp_path / "other.h5"),
        progress=False,
    )
    assert ds["done"].all()


# ----------------------------------------------------------------- lock, extension, retries, damage
def test_two_scans_of_one_store_are_refused_by_a_lock(tmp_path):
    log, store = str(tmp_path / "computed.log"), str(tmp_path / "s.h5")
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=TESTS_DIR, log=log, store=store, executor="serial", workers=1))
    proc = subprocess.Popen([sys.executable, str(script)], env=SUB_ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (os.path.exists(log) and _read_floats(log)):
            assert time.monotonic() < deadline and proc.poll() is None, "scan subprocess made no progress"
            time.sleep(0.02)
        kw = dict(executor="serial", solver=dense_solver, store=store, progress=False)
        grid = {"F": np.linspace(0.1, 0.6, 12)}
        with pytest.raises(qness.scan.ScanLockedError, match=rf"pid {proc.pid} .*s\.h5\.lock"):
            scan(functools.partial(logging_factory, log), grid, {"n": photon_number}, **kw)
        os.kill(proc.pid, signal.SIGKILL)  # the kernel releases the dead scan's lock
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    ds = scan(functools.partial(logging_factory, log), grid, {"n": photon_number}, **kw)
    assert ds["done"].all()
    np.testing.assert_allclose(ds["n"], [_coherent_n(f) for f in grid["F"]], rtol=1e-4)
    assert not os.path.exists(store + ".lock")  # released and removed after a normal end


def test_a_larger_grid_extends_the_store_and_computes_only_new_points(tmp_path):
    log, path = tmp_path / "log.txt", tmp_path / "s.h5"
    factory = functools.partial(logging_factory, str(log))
    kw = dict(executor="serial", solver=dense_solver, store=path, progress=False)
    first = scan(factory, {"F": [0.1, 0.3, 0.5]}, {"n": photon_number}, **kw)
    assert first.attrs["computed"] == 3
    log.write_text("")
    F = np.linspace(0.1, 0.5, 5)  # 0.1, 0.2, 0.3, 0.4, 0.5: contains the old grid
    ext = scan(factory, {"F": F}, {"n": photon_number}, **kw)
    assert ext.attrs["computed"] == 2
    assert sorted(_read_floats(log)) == pytest.approx([0.2, 0.4])
    np.testing.assert_allclose(ext["F"], F)
    np.testing.assert_allclose(ext["n"], [_coherent_n(f) for f in F], rtol=1e-4)
    assert ext["n"].values[2] == first["n"].values[1]  # F = 0.3: kept, not recomputed
    # a grid that drops stored points is a different scan, not an extension
    with pytest.raises(ScanDefinitionError, match="contains all its points"):
        scan(factory, {"F": [0.1, 0.2]}, {"n": photon_number}, **kw)


def test_more_sizes_extend_the_store(tmp_path):
    kw = dict(executor="serial", solver=dense_solver, store=tmp_path / "s.h5", progress=False)
    q = {"mz": "expect:sigmaz"}
    scan(spin_chain, {"h": [0.5, 1.0]}, q, sizes=[2], **kw)
    ds = scan(spin_chain, {"h": [0.5, 1.0]}, q, sizes=[2, 3], **kw)
    assert ds.attrs["computed"] == 2 and ds["mz"].dims == ("n", "h")
    fresh = scan(spin_chain, {"h": [0.5, 1.0]}, q, sizes=[2, 3], executor="serial", solver=dense_solver)
    np.testing.assert_allclose(ds["mz"], fresh["mz"], rtol=1e-12)


def fail_while_flagged(flag, F):
    if F > 0.45 and os.path.exists(flag):
        raise ValueError(f"flagged failure at F={F}")
    return cavity(F)


def test_retry_failed_recomputes_only_the_failed_points(tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("")
    factory = functools.partial(fail_while_flagged, str(flag))
    kw = dict(executor="serial", solver=dense_solver, store=tmp_path / "s.h5", progress=False)
    grid = {"F": np.linspace(0.1, 0.6, 6)}
    ds = scan(factory, grid, {"n": photon_number}, **kw)
    assert (ds["error"] != "").sum() == 2 and "flagged failure at F=0.5" in ds["error"].values[4]
    flag.unlink()
    again = scan(factory, grid, {"n": photon_number}, **kw)  # failed points count as done
    assert again.attrs["computed"] == 0 and (again["error"] != "").sum() == 2
    retried = scan(factory, grid, {"n": photon_number}, retry_failed=True, **kw)
    assert retried.attrs["computed"] == 2
    assert (retried["error"] == "").all() and retried["done"].all()
    np.testing.assert_allclose(retried["n"], [_coherent_n(f) for f in grid["F"]], rtol=1e-4)


def test_damaged_stores_are_reported_clearly(tmp_path):
    good = tmp_path / "good.h5"
    kw = dict(executor="serial", solver=dense_solver, progress=False)
    scan(cavity, {"F": [0.1, 0.2]}, {"n": photon_number}, store=good, **kw)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(qness.scan.ScanStoreError, match="truncated HDF5 file .*overwrite=True"):
        load(truncated)
    with pytest.raises(qness.scan.ScanStoreError, match="truncated"):
        scan(cavity, {"F": [0.1, 0.2]}, {"n": photon_number}, store=truncated, **kw)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(qness.scan.ScanStoreError, match="cannot be read as an HDF5 file"):
        load(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(qness.scan.ScanStoreError, match="HDF5 file but not a qness scan store"):
        load(foreign)
    with h5py.File(good, "r+") as f:  # a store that lost a dataset
        del f["time"]
    with pytest.raises(qness.scan.ScanStoreError, match="damaged qness scan store"):
        load(good)
    # overwrite=True replaces a damaged store
    ds = scan(cavity, {"F": [0.1, 0.2]}, {"n": photon_number}, store=truncated, overwrite=True, **kw)
    assert ds["done"].all()
    with pytest.raises(FileNotFoundError, match="no such scan store"):
        load(tmp_path / "missing.h5")


def test_wrong_argument_types_raise_type_error():
    kw = dict(executor="serial", solver=dense_solver)
    with pytest.raises(TypeError, match="factory must be callable"):
        scan(3, {"F": [0.1]}, ["purity"], **kw)
    with pytest.raises(TypeError, match="grid must be a mapping"):
        scan(cavity, [0.1, 0.2], ["purity"], **kw)
    with pytest.raises(TypeError, match="quantities must be"):
        scan(cavity, {"F": [0.1]}, 5, **kw)
    with pytest.raises(TypeError, match="each quantity must be a name or a callable"):
        scan(cavity, {"F": [0.1]}, ["purity", 5], **kw)
    with pytest.raises(TypeError, match="store must be a path"):
        scan(cavity, {"F": [0.1]}, ["purity"], store=5, **kw)
    with pytest.raises(TypeError, match="workers must be an int"):
        scan(cavity, {"F": [0.1]}, ["purity"], workers=2.0, solver=dense_solver)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        scan(cavity, {"F": [0.1]}, ["purity"], executor=object(), solver=dense_solver)
    with pytest.raises(TypeError, match="store must be a path"):
        load(None)


# ----------------------------------------------------------------- currents and entanglement
def test_particle_and_spin_current_builtins():
    from qness.analysis import particle_currents

    xxz = functools.partial(qness.models.boundary_driven_xxz, 3, gamma=1.0)
    q = ["particle_current:left", "particle_current:right", "spin_current:left", "heat_current:left"]
    ds = scan(xxz, {"delta": [0.5, 1.5]}, q, executor="serial", solver=dense_solver, progress=False)
    assert (ds["error"] == "").all()
    m = xxz(delta=0.5)
    rho = dense_steady_state(m)
    I = particle_currents(m, rho)
    assert I["left"] > 1e-3  # the left bath pumps magnetisation in ...
    np.testing.assert_allclose(ds["particle_current:left"].sel(delta=0.5), I["left"], rtol=1e-8)
    # ... and the right bath takes it out: continuity in the steady state
    np.testing.assert_allclose(ds["particle_current:right"], -ds["particle_current:left"], rtol=1e-8)
    # the U(1) charge of the XXZ chain is the number of up spins = S^z + n/2; the constant drops out
    np.testing.assert_allclose(ds["spin_current:left"], ds["particle_current:left"], rtol=1e-8)
    bad = scan(xxz, {"delta": [0.5]}, ["spin_current:nowhere"], executor="serial", solver=dense_solver)
    assert "no bath 'nowhere'" in bad["error"].values[0]


def _von_neumann_bits(r):
    w = np.linalg.eigvalsh(r)
    w = w[w > 1e-14]
    return float(-np.sum(w * np.log2(w)))


def decay_and_pump(rate):
    """A qubit with equal decay and pumping: its steady state is I/2 (entropy 1 bit)."""
    b = qness.ModelBuilder(2, 1)
    b.add_onsite(0.3, "sigmaz")
    b.add_jump("sigmam", rate)
    b.add_jump("sigmap", rate)
    return b.build()


def test_entropy_is_in_bits_and_entanglement_builtins():
    ds = scan(decay_and_pump, {"rate": [0.5, 2.0]}, ["entropy"], executor="serial", solver=dense_solver)
    np.testing.assert_allclose(ds["entropy"], 1.0, rtol=1e-10)  # I/2: one bit, not ln 2
    q = ["entropy:0", "entropy:0..1", "mutual_information:0:2", "log_negativity:0", "concurrence:0+1"]
    q += ["negativity:0+1"]
    ds = scan(spin_chain, {"h": [0.7]}, q, sizes=[3], executor="serial", solver=dense_solver)
    assert (ds["error"] == "").all(), ds["error"].values
    m = spin_chain(3, 0.7)
    rho = dense_steady_state(m).reshape(2, 2, 2, 2, 2, 2)
    r0 = np.einsum("abcdbc->ad", rho)
    r01 = np.einsum("abcdec->abde", rho).reshape(4, 4)
    r02 = np.einsum("abcdbf->acdf", rho).reshape(4, 4)
    r2 = np.einsum("abcabf->cf", rho)
    pt0 = rho.transpose(3, 1, 2, 0, 4, 5).reshape(8, 8)  # transpose site 0
    pt01 = rho.transpose(3, 4, 2, 0, 1, 5).reshape(8, 8)  # transpose sites 0 and 1
    point = ds.sel(n=3, h=0.7)
    np.testing.assert_allclose(point["entropy:0"], _von_neumann_bits(r0), rtol=1e-8)
    np.testing.assert_allclose(point["entropy:0..1"], _von_neumann_bits(r01), rtol=1e-8)
    mi = _von_neumann_bits(r0) + _von_neumann_bits(r2) - _von_neumann_bits(r02)
    np.testing.assert_allclose(point["mutual_information:0:2"], mi, rtol=1e-8, atol=1e-12)
    tn0 = np.abs(np.linalg.eigvalsh(pt0)).sum()
    np.testing.assert_allclose(point["log_negativity:0"], max(0.0, np.log2(tn0)), atol=1e-10)
    tn01 = np.abs(np.linalg.eigvalsh(pt01)).sum()
    np.testing.assert_allclose(point["negativity:0+1"], (tn01 - 1) / 2, atol=1e-10)
    # Wootters: C = max(0, l1 - l2 - l3 - l4), l_i the decreasing square roots of eig(r (YY) r* (YY))
    yy = np.kron([[0, -1j], [1j, 0]], [[0, -1j], [1j, 0]])
    lam = np.sqrt(np.abs(np.sort(np.linalg.eigvals(r01 @ yy @ r01.conj() @ yy).real)[::-1]))
    np.testing.assert_allclose(point["concurrence:0+1"], max(0.0, lam[0] - lam[1:].sum()), atol=1e-8)


@pytest.mark.parametrize(
    "q,message",
    [
        ("entropy:x", "give a site i, sites i+j+k or a range i..j"),
        ("concurrence:0", "concurrence needs two sites"),
        ("mutual_information:0", "give two regions"),
        ("mutual_information:0+1:1", "overlap"),
        ("log_negativity:2..1", "give a site i"),
        ("nonsense", "unknown quantity 'nonsense'"),
    ],
)
def test_bad_quantity_names(q, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+").replace(".", r"\.")):
        scan(cavity, {"F": [0.1]}, [q], executor="serial", solver=dense_solver)


def test_a_reordered_grid_is_refused_not_mixed_up(tmp_path):
    kw = dict(executor="serial", solver=dense_solver, store=tmp_path / "s.h5", progress=False)
    scan(cavity, {"detuning": [0.0, 0.5], "F": [0.1, 0.2, 0.3]}, {"n": photon_number}, **kw)
    with pytest.raises(ScanDefinitionError, match="in the order detuning, F"):
        scan(cavity, {"F": [0.1, 0.2, 0.3], "detuning": [0.0, 0.5]}, {"n": photon_number}, **kw)


def test_a_format_1_store_resumes_unless_it_holds_entropy_in_nats(tmp_path):
    kw = dict(executor="serial", solver=dense_solver, progress=False)
    for q, resumable in ((["purity"], True), (["entropy"], False)):
        path = tmp_path / f"{q[0]}.h5"
        scan(cavity, {"F": [0.1, 0.2]}, q, store=path, **kw)
        with h5py.File(path, "r+") as f:  # as written by the previous release
            f.attrs["qness_scan"] = 1
            f["done"][1] = 0
        if resumable:
            assert scan(cavity, {"F": [0.1, 0.2]}, q, store=path, **kw).attrs["computed"] == 1
        else:
            with pytest.raises(ScanDefinitionError, match="format 1 stored entropy in nats"):
                scan(cavity, {"F": [0.1, 0.2]}, q, store=path, **kw)


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="POSIX fork only")
def test_forked_children_do_not_keep_the_store_lock(tmp_path):
    """Any executor's forked workers drop their copy of the lock, so it dies with the scan."""
    import warnings

    from qness.scan import _HELD_LOCKS, _Lock

    path = str(tmp_path / "s.h5")
    lock = _Lock(path).acquire()
    ready_r, ready_w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python >= 3.12)
        pid = os.fork()
    if pid == 0:  # a worker of some pool, outliving the scan
        os.write(ready_w, b"1")  # running (the at-fork hooks ran before os.fork returned here)
        time.sleep(5)
        os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"1"
        os.close(ready_r)
        os.close(ready_w)
        _HELD_LOCKS.discard(lock.fd)  # the scan dies without clean-up: its descriptor closes,
        os.close(lock.fd)  # the lock file stays
        lock.fd = None
        assert os.path.exists(path + ".lock")
        _Lock(path).acquire().release()  # not blocked by the child's copy
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _closure_cavity(U):
    return lambda F: cavity(F, U=U)


def _cavity_from_array(F, Us):
    return cavity(F, U=float(Us[1000]))


def test_a_store_is_not_resumed_by_a_model_builder_with_other_captured_values(tmp_path):
    # the same names, different physics: a closure over another U, or one element of a partial's
    # large array argument (numpy abbreviates its repr) changed; the second scan reused the first's
    # points (computed = 0) and returned the first model's <n> (session-13 review)
    kw = dict(executor="serial", solver=dense_solver, progress=False)
    path = tmp_path / "closure.h5"
    scan(_closure_cavity(0.5), {"F": [0.3]}, ["expect:num"], store=path, **kw)
    assert scan(_closure_cavity(0.5), {"F": [0.3]}, ["expect:num"], store=path, **kw).attrs["computed"] == 0
    with pytest.raises(ScanDefinitionError, match="differs in: code"):
        scan(_closure_cavity(3.0), {"F": [0.3]}, ["expect:num"], store=path, **kw)
    path = tmp_path / "partial.h5"
    Us = np.full(2000, 0.5)
    scan(functools.partial(_cavity_from_array, Us=Us), {"F": [0.3]}, ["expect:num"], store=path, **kw)
    Us2 = Us.copy()
    Us2[1000] = 0.7
    with pytest.raises(ScanDefinitionError, match="values they capture"):
        scan(functools.partial(_cavity_from_array, Us=Us2), {"F": [0.3]}, ["expect:num"], store=path, **kw)


def test_a_store_written_before_the_code_digests_still_resumes(tmp_path):
    kw = dict(executor="serial", solver=dense_solver, progress=False)
    path = tmp_path / "old.h5"
    scan(cavity, {"F": [0.1, 0.2]}, ["purity"], store=path, **kw)
    with h5py.File(path, "r+") as f:  # as written before the definition held "code"
        definition = json.loads(f.attrs["definition"])
        del definition["code"]
        f.attrs["definition"] = json.dumps(definition, sort_keys=True)
        f["done"][1] = 0
    assert scan(cavity, {"F": [0.1, 0.2]}, ["purity"], store=path, **kw).attrs["computed"] == 1


def test_a_store_in_a_missing_directory_is_named_clearly(tmp_path):
    # the error was a FileNotFoundError about "<store>.lock" (session-13 review)
    with pytest.raises(ValueError, match="store: the directory .*missing does not exist"):
        scan(cavity, {"F": [0.1]}, ["purity"], store=tmp_path / "missing" / "x.h5", executor="serial")


def test_site_quantities_refuse_a_space_that_is_not_a_tensor_product():
    # review (session 14): "expect:num@0" on an ENR model (qutip.enr_destroy) read the flat index as
    # one Fock mode (0.512 for <d^+ d> = 0.169) and left the error column empty
    qutip = pytest.importorskip("qutip")
    d, e = qutip.enr_destroy([3, 3], 2)
    H = d.dag() * d + e.dag() * e + 0.3 * (d.dag() * e + e.dag() * d) + 0.4 * (d + d.dag())

    def factory(x):
        return (H, [np.sqrt(x) * d, np.sqrt(0.3) * e])

    ds = scan(factory, {"x": [0.5]}, ["expect:num@0", "entropy:0"], executor="serial", progress=False)
    assert np.isnan(ds["expect:num@0"].values[0])
    assert "not a tensor product" in ds["error"].values[0]
