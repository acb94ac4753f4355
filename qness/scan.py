"""Parameter scans: a model factory over a grid, on any executor, into a resumable store.

A scan evaluates ``factory(**params)`` at every point of the full product of
a parameter grid (and optionally of several system sizes), solves for the
steady state, and computes scalar quantities at each point. Points run on any
:class:`concurrent.futures.Executor` (a local process pool by default,
``dask.distributed``'s ``Client.get_executor()`` or
``mpi4py.futures.MPIPoolExecutor`` on clusters), each steady-state solve is
warm-started from the neighbouring point along the last grid axis, and every
finished point is written to an HDF5 store at once, so a killed scan loses no
finished point and a rerun computes only what is missing.

Examples
--------
>>> import functools, numpy as np
>>> import qness.models, qness.scan
>>> factory = functools.partial(qness.models.kerr, 8, detuning=-1.0, U=0.5, kappa=1.0)
>>> ds = qness.scan.scan(factory, {"F": np.linspace(0.1, 1.0, 4)},
...                      ["gap", "expect:num"], executor="serial", progress=False)
>>> ds["gap"].dims
('F',)
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xarray

__all__ = ["scan", "load", "BUILTIN_QUANTITIES", "ScanDefinitionError"]

#: Built-in quantities, by name. ``"gap"`` needs only the model; the others
#: read the steady state. Parametrised names are also accepted:
#: ``"expect:<op>"`` (sum over all sites of the local operator ``<op>``, a
#: name from :data:`qness.operators.LOCAL_OPERATORS`), ``"expect:<op>@<i>"``
#: (the operator on site ``i`` only) and ``"current:<bath>"`` (the heat
#: current from bath ``<bath>`` into the system, from
#: :func:`qness.analysis.heat_currents`).
BUILTIN_QUANTITIES = {
    "gap": "Liouvillian gap -Re(lambda_1) > 0 (qness.liouvillian_gap); needs no steady state",
    "purity": "tr(rho^2)",
    "entropy": "von Neumann entropy -tr(rho ln rho) (nats)",
    "residual": "the solver's residual ness.residual",
    "iterations": "the solver's iteration count ness.info['iterations']",
    "solve_time": "the solver's wall time ness.info['time'] (s)",
}

_STORE_VERSION = 1
_ERROR_LEN = 400  # bytes kept of each error message (fixed width: see _Store)


class ScanDefinitionError(ValueError):
    """The store was written by a different scan definition."""


# --------------------------------------------------------------------------- quantities
def _q_gap(model, ness):
    import qness

    return qness.liouvillian_gap(model)


def _q_purity(model, ness):
    rho = np.asarray(ness.rho)
    return float(np.real(np.vdot(rho.conj().T, rho)))


def _q_entropy(model, ness):
    w = np.linalg.eigvalsh(0.5 * (ness.rho + np.asarray(ness.rho).conj().T))
    w = w[w > 1e-15]
    return float(-np.sum(w * np.log(w)))


def _q_residual(model, ness):
    return float(ness.residual)


def _q_iterations(model, ness):
    it = ness.info.get("iterations")
    return math.nan if it is None else float(it)


def _q_solve_time(model, ness):
    t = ness.info.get("time")
    return math.nan if t is None else float(t)


_BUILTIN_FUNCS = {
    "gap": _q_gap,
    "purity": _q_purity,
    "entropy": _q_entropy,
    "residual": _q_residual,
    "iterations": _q_iterations,
    "solve_time": _q_solve_time,
}
_MODEL_ONLY = {"gap"}


@dataclass(frozen=True)
class _Expect:
    op: str
    site: int | None

    def __call__(self, model, ness):
        from .operators import chain_operator

        sites = range(len(model.dims)) if self.site is None else [self.site]
        total = 0.0
        for i in sites:
            A = chain_operator({i: self.op}, model.dims)
            # tr(A rho) without forming A rho
            total += complex(np.sum(A.multiply(np.asarray(ness.rho).T)))
        return total


@dataclass(frozen=True)
class _Current:
    bath: str

    def __call__(self, model, ness):
        from .analysis import heat_currents

        currents = heat_currents(model, ness)
        if self.bath not in currents:
            raise KeyError(f"no bath {self.bath!r}; the model's baths are {sorted(currents)}")
        return currents[self.bath]


def _resolve_quantity(q):
    """Return ``(function(model, ness), needs_ness)`` for a name or a callable."""
    if callable(q):
        return q, True
    if not isinstance(q, str):
        raise TypeError(f"a quantity must be a name or a callable(model, ness), got {type(q).__name__}")
    if q in _BUILTIN_FUNCS:
        return _BUILTIN_FUNCS[q], q not in _MODEL_ONLY
    if q.startswith("expect:"):
        from .operators import LOCAL_OPERATORS

        body = q[len("expect:") :]
        op, _, site = body.partition("@")
        if op not in LOCAL_OPERATORS:
            raise ValueError(
                f"unknown operator {op!r} in quantity {q!r}; valid names: {', '.join(LOCAL_OPERATORS)}"
            )
        if site:
            try:
                site_i = int(site)
            except ValueError:
                raise ValueError(f"site in {q!r} must be an integer, got {site!r}") from None
        else:
            site_i = None
        return _Expect(op, site_i), True
    if q.startswith("current:") and len(q) > len("current:"):
        return _Current(q[len("current:") :]), True
    raise ValueError(
        f"unknown quantity {q!r}; built-in names are {', '.join(BUILTIN_QUANTITIES)}, "
        "'expect:<op>', 'expect:<op>@<site>', 'current:<bath>', or pass a callable(model, ness)"
    )


def _normalise_quantities(quantities) -> dict:
    if isinstance(quantities, str):
        quantities = [quantities]
    if isinstance(quantities, Mapping):
        out = dict(quantities)
    else:
        out = {}
        for q in quantities:
            name = q if isinstance(q, str) else getattr(q, "__name__", None)
            if not name or name == "<lambda>":
                raise ValueError("give callables as a dict {name: callable(model, ness)}")
            out[name] = q
    if not out:
        raise ValueError("give at least one quantity")
    reserved = {"error", "time", "done"}
    for name, q in out.items():
        if not isinstance(name, str) or not name or "/" in name or name in reserved:
            raise ValueError(f"invalid quantity name {name!r} (no '/', not one of {sorted(reserved)})")
        _resolve_quantity(q)  # validate early, in the calling process
    return out


def _as_real(value, name):
    v = np.asarray(value)
    if v.size != 1:
        raise ValueError(f"quantity {name!r} returned shape {v.shape}; quantities must be scalars")
    v = complex(v.reshape(()).item())
    if abs(v.imag) > 1e-9 * max(1.0, abs(v.real)):
        raise ValueError(
            f"quantity {name!r} returned the complex value {v!r}; return its real part, imaginary part "
            "or modulus as separate quantities"
        )
    return float(v.real)


# --------------------------------------------------------------------------- one point
def _run_point(factory, params, quantities, solver, method, x0, return_rho):
    """Compute one point; never raises for errors of the model, solver or quantities.

    Returns ``(values, error, seconds, rho)``.
    """
    t0 = time.perf_counter()
    values = {name: math.nan for name in quantities}
    errors = []
    rho = None
    try:
        model = factory(**params)
        resolved = {name: _resolve_quantity(q) for name, q in quantities.items()}
        ness = None
        if any(needs for _, needs in resolved.values()):
            if solver is None:
                import qness

                # Direct solves take no warm start (and reject one): pass it where it is used.
                uses_x0 = method is None or (
                    type(method).__name__ in ("Auto", "Krylov", "Evolve")
                    if not isinstance(method, str)
                    else method.lower() in ("auto", "krylov", "evolve")
                )
                ness = qness.steady_state(model, method, x0=x0 if uses_x0 else None)
            else:
                ness = solver(model, x0=x0)
            if return_rho:
                rho = np.asarray(ness.rho)
        for name, (fn, _) in resolved.items():
            try:
                values[name] = _as_real(fn(model, ness), name)
            except Exception as exc:  # recorded per quantity, the others still count
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    return values, "; ".join(errors), time.perf_counter() - t0, rho


# --------------------------------------------------------------------------- definition
def _describe_callable(f) -> object:
    import functools

    if f is None:
        return None
    if isinstance(f, functools.partial):
        return {
            "partial": _describe_callable(f.func),
            "args": [repr(a) for a in f.args],
            "keywords": {k: repr(v) for k, v in sorted(f.keywords.items())},
        }
    if isinstance(f, str):
        return f
    mod = getattr(f, "__module__", None) or type(f).__module__
    name = getattr(f, "__qualname__", None) or repr(f)
    return f"{mod}.{name}"


def _definition(factory, axes, size_name, sizes, quantities, solver, method) -> dict:
    return {
        "factory": _describe_callable(factory),
        "axes": {name: np.asarray(v).tolist() for name, v in axes.items()},
        "size_name": size_name if sizes is not None else None,
        "quantities": {name: _describe_callable(q) for name, q in quantities.items()},
        "solver": _describe_callable(solver),
        "method": repr(method),
    }


# --------------------------------------------------------------------------- store
class _Store:
    """The HDF5 file of one scan.

    Every dataset is created at full size when the store is made (contiguous
    layout, fixed-width error strings), so writing a point touches raw data
    only, never the file's structure; the file is opened, written and closed
    for each finished point so that a SIGKILL between points leaves a
    complete file. The ``done`` flag of a point is written after its values.
    """

    def __init__(self, path, definition, dims, shape, qnames, overwrite):
        import h5py

        self.path = os.fspath(path)
        self.qnames = qnames
        text = json.dumps(definition, sort_keys=True)
        if overwrite and os.path.exists(self.path):
            os.remove(self.path)
        if os.path.exists(self.path):
            with h5py.File(self.path, "r") as f:
                if "qness_scan" not in f.attrs:
                    raise ScanDefinitionError(f"{self.path} exists and is not a qness scan store")
                old = json.loads(f.attrs["definition"])
                if json.dumps(old, sort_keys=True) != text:
                    diff = [k for k in sorted(set(old) | set(definition)) if old.get(k) != definition.get(k)]
                    raise ScanDefinitionError(
                        f"{self.path} holds a different scan (differs in: {', '.join(diff)}); "
                        "use another store path, or overwrite=True to discard it"
                    )
                self.done = np.asarray(f["done"][...], dtype=bool)
        else:
            tmp = self.path + ".tmp"
            with h5py.File(tmp, "w") as f:
                f.attrs["qness_scan"] = _STORE_VERSION
                f.attrs["definition"] = text
                f.attrs["dims"] = json.dumps(dims)
                coords = f.create_group("coords")
                for name, values in definition["axes"].items():
                    v = np.asarray(values)
                    if v.dtype.kind == "U":  # HDF5 stores bytes; decoded again by load()
                        ds = coords.create_dataset(name, data=np.char.encode(v, "utf-8"))
                        ds.attrs["text"] = 1
                    else:
                        coords.create_dataset(name, data=v)
                vals = f.create_group("values")
                for q in qnames:
                    vals.create_dataset(q, data=np.full(shape, np.nan))
                f.create_dataset("time", data=np.full(shape, np.nan))
                f.create_dataset("error", data=np.zeros(shape, dtype=f"S{_ERROR_LEN}"))
                f.create_dataset("done", data=np.zeros(shape, dtype=np.uint8))
            os.replace(tmp, self.path)  # a kill during creation leaves no half-made store
            self.done = np.zeros(shape, dtype=bool)

    def write(self, idx, values, error, seconds):
        import h5py

        with h5py.File(self.path, "r+") as f:
            for q in self.qnames:
                f["values"][q][idx] = values[q]
            f["time"][idx] = seconds
            f["error"][idx] = _encode_error(error)
            f.flush()
            f["done"][idx] = 1
        self.done[idx] = True


def _encode_error(msg: str) -> bytes:
    b = msg.encode("utf-8", "replace")
    if len(b) > _ERROR_LEN:
        b = b[: _ERROR_LEN - 3] + b"..."
    return b


def load(store) -> xarray.Dataset:
    """Read a scan store (complete or not) as an :class:`xarray.Dataset`.

    Parameters
    ----------
    store : str or os.PathLike
        The HDF5 file written by :func:`scan`.

    Returns
    -------
    xarray.Dataset
        One variable per quantity (float64, NaN where not computed or
        failed), ``error`` (str, empty where the point succeeded), ``time``
        (wall seconds per point) and ``done`` (bool); coordinates are the
        size axis (if any) and the grid parameters. ``attrs["definition"]``
        holds the scan definition as JSON.
    """
    import h5py
    import xarray as xr

    with h5py.File(os.fspath(store), "r") as f:
        if "qness_scan" not in f.attrs:
            raise ValueError(f"{store} is not a qness scan store")
        dims = json.loads(f.attrs["dims"])
        definition = f.attrs["definition"]
        coords = {}
        for name in dims:
            c = f["coords"][name]
            coords[name] = np.char.decode(c[...], "utf-8").astype(str) if "text" in c.attrs else c[...]
        data = {q: (dims, f["values"][q][...]) for q in f["values"]}
        data["time"] = (dims, f["time"][...])
        data["error"] = (dims, np.char.decode(f["error"][...], "utf-8").astype(str))
        data["done"] = (dims, f["done"][...].astype(bool))
    return xr.Dataset(data, coords=coords, attrs={"definition": definition})


# --------------------------------------------------------------------------- executors
def _worker_count(executor) -> int:
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)  # distributed.ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:
            pass
    return os.cpu_count() or 1


def _limit_blas_threads():
    """One BLAS thread per pool worker (the pool already uses every core).

    Without this, each worker's BLAS starts one thread per core and the
    threads fight for the cores (a large slowdown on a loaded machine). Uses
    threadpoolctl when it is installed; otherwise BLAS keeps its default.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _check_picklable(what: dict):
    for name, obj in what.items():
        try:
            pickle.dumps(obj)
        except Exception as exc:
            raise TypeError(
                f"the {name} cannot be pickled ({type(exc).__name__}: {exc}), so it cannot be sent to "
                "worker processes. Use a function defined at module level (not a lambda or a nested "
                "function) and functools.partial to fix parameters, or run with executor='serial'."
            ) from exc


@dataclass
class _Chain:
    """Points computed one after another in one worker, each warm-starting the next."""

    points: list  # index tuples along the last axis
    pos: int = 0
    rho: object = field(default=None, repr=False)


def _make_chains(missing: np.ndarray, max_len: float) -> list[_Chain]:
    chains = []
    shape = missing.shape
    for outer in itertools.product(*(range(s) for s in shape[:-1])):
        line = missing[outer]
        k = 0
        while k < shape[-1]:
            if not line[k]:
                k += 1
                continue
            start = k
            while k < shape[-1] and line[k]:
                k += 1
            seg = [(*outer, j) for j in range(start, k)]
            pieces = max(1, math.ceil(len(seg) / max_len))
            for part in np.array_split(np.arange(len(seg)), pieces):
                chains.append(_Chain([seg[j] for j in part]))
    return chains


# --------------------------------------------------------------------------- scan
def scan(
    factory: Callable,
    grid: Mapping[str, Sequence[float]],
    quantities=("gap",),
    *,
    sizes: Sequence[int] | None = None,
    size_name: str = "n",
    store=None,
    overwrite: bool = False,
    executor=None,
    workers: int | None = None,
    method=None,
    solver: Callable | None = None,
    warm_start: bool = True,
    chain_length: int | None = None,
    progress: bool = True,
) -> xarray.Dataset:
    """Evaluate a model factory over a parameter grid (and sizes) and compute quantities per point.

    Parameters
    ----------
    factory : callable
        ``factory(**params) -> LindbladModel``; called with one keyword per
        grid parameter, plus ``size_name=N`` when ``sizes`` is given. Fix the
        other parameters with :func:`functools.partial`. On a process pool,
        dask or MPI it must be picklable: a function defined at module level
        (or a ``functools.partial`` of one), not a lambda or a closure; with
        the ``spawn``/``forkserver`` start methods (macOS, Windows, dask) it
        must also be importable by the workers, i.e. defined in a module,
        not in a notebook.
    grid : mapping of str to 1-D array_like
        Parameter name -> values (numbers, or strings such as
        ``form=["local", "global"]``). The scan covers the full product, in
        the mapping's order; the last parameter is the warm-start axis
        (points along it run one after another in the same worker).
    quantities : sequence or mapping
        What to compute at each point: built-in names (see
        :data:`BUILTIN_QUANTITIES`: ``"gap"``, ``"purity"``, ``"entropy"``,
        ``"residual"``, ``"iterations"``, ``"solve_time"``,
        ``"expect:<op>"``, ``"expect:<op>@<site>"``, ``"current:<bath>"``),
        and/or a mapping ``{name: callable(model, ness) -> float}``. Each
        value must be a real scalar (a complex value with a non-negligible
        imaginary part is recorded as an error). The steady state is only
        solved for if some quantity needs it (``"gap"`` alone does not).
    sizes : sequence of int, optional
        System sizes; adds a leading axis named ``size_name``.
    size_name : str
        Keyword through which the factory receives the size (``"n"`` for
        chains, ``"cutoff"`` for a boson mode, or any scale parameter of
        your factory).
    store : str or os.PathLike, optional
        HDF5 file. Each finished point is written to it immediately (values,
        time, error, then its ``done`` flag), so a killed scan loses no
        finished point; running the same scan with the same store computes
        only the points not yet done. A store made by a different scan
        (another factory, grid, sizes, quantities, solver or method) raises
        :class:`ScanDefinitionError`, unless ``overwrite=True``.
    overwrite : bool
        Discard an existing store at ``store`` and start afresh.
    executor : concurrent.futures.Executor or "serial", optional
        Where points run. ``None`` (default): a local
        :class:`~concurrent.futures.ProcessPoolExecutor` with ``workers``
        processes, shut down at the end (serial in this process if
        ``workers == 1``). ``"serial"``: in this process. Any other
        ``Executor`` is used as is and not shut down, e.g.
        ``dask.distributed.Client(address).get_executor()`` or
        ``mpi4py.futures.MPIPoolExecutor()``; only ``submit`` and futures
        are used.
    workers : int, optional
        Number of processes of the default pool (default ``os.cpu_count()``).
    method : optional
        Passed to :func:`qness.steady_state` as its ``method``.
    solver : callable, optional
        ``solver(model, x0=None) -> NESS`` (anything with ``.rho``,
        ``.residual`` and ``.info``) used instead of
        :func:`qness.steady_state`; ``x0`` is the previous point's density
        matrix or ``None``.
    warm_start : bool
        Start each solve from the previous point of its chain (the
        neighbouring value of the last grid parameter). The density matrix
        travels back to this process and out again with the next point.
    chain_length : int, optional
        Maximum number of consecutive points per chain. By default a line
        along the last axis is cut into as few chains as give each worker
        about two chains (serial: one chain per line).
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    xarray.Dataset
        Dimensions ``(size_name, *grid)`` (``size_name`` only if ``sizes``)
        with coordinates; one float64 variable per quantity (NaN where a
        point failed), ``error`` (str; ``""`` where the point succeeded,
        else the exception type and message), ``time`` (wall seconds per
        point) and ``done``. ``attrs["definition"]`` is the scan definition
        (JSON).

    Raises
    ------
    TypeError
        If the factory, a quantity or the solver cannot be pickled for a
        multi-process executor.
    ScanDefinitionError
        If ``store`` holds a different scan.
    RuntimeError
        If the executor itself breaks (a worker process died); finished
        points are in the store, rerun to resume.

    Notes
    -----
    Errors raised by the factory, the solver or a quantity are caught and
    recorded in ``error`` for that point; they do not stop the scan. Points
    are submitted one chain step at a time: when a point finishes, it is
    stored and the next point of its chain is submitted with the finished
    density matrix as warm start, so every chain keeps one worker busy and
    no finished point waits in a worker.
    """
    import xarray as xr

    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping {parameter name: 1-D values}")
    axes = {}
    if sizes is not None:
        sz = np.atleast_1d(np.asarray(sizes))
        if sz.ndim != 1 or sz.size == 0 or not np.all(sz == np.round(sz)):
            raise ValueError(f"sizes must be a non-empty 1-D sequence of integers, got {sizes!r}")
        if size_name in grid:
            raise ValueError(f"{size_name!r} is both the size name and a grid parameter")
        axes[size_name] = sz.astype(np.int64)
    for name, values in grid.items():
        v = np.asarray(values)
        if v.ndim == 0:
            v = v.reshape(1)
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty 1-D array, got shape {v.shape}")
        if v.dtype.kind not in "biufcU":
            raise ValueError(f"grid[{name!r}] must hold numbers or strings, got dtype {v.dtype}")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid parameter names must be identifiers, got {name!r}")
        axes[name] = v
    if solver is not None and method is not None:
        raise ValueError("give either method (for qness.steady_state) or solver, not both")
    quantities = _normalise_quantities(quantities)
    qnames = list(quantities)
    dims = list(axes)
    shape = tuple(len(v) for v in axes.values())
    definition = _definition(factory, axes, size_name, sizes, quantities, solver, method)

    values = {q: np.full(shape, np.nan) for q in qnames}
    times = np.full(shape, np.nan)
    errors = np.full(shape, "", dtype=object)
    st = None
    if store is not None:
        st = _Store(store, definition, dims, shape, qnames, overwrite)
        done = st.done
    else:
        done = np.zeros(shape, dtype=bool)

    serial = executor == "serial" or (executor is None and workers == 1)
    if isinstance(executor, str) and executor != "serial":
        raise ValueError(f"executor must be a concurrent.futures.Executor or 'serial', got {executor!r}")
    if executor is not None and not serial and not isinstance(executor, cf.Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    missing = ~done
    n_missing = int(missing.sum())
    own_executor = False
    if n_missing and not serial:
        if not isinstance(executor, cf.ThreadPoolExecutor):
            _check_picklable({"factory": factory, "solver": solver, "quantities": quantities})
        if executor is None:
            executor = cf.ProcessPoolExecutor(max_workers=workers, initializer=_limit_blas_threads)
            own_executor = True
    if chain_length is not None:
        max_len = int(chain_length)
        if max_len < 1:
            raise ValueError("chain_length must be >= 1")
    elif serial:
        max_len = math.inf
    else:
        max_len = max(1, math.ceil(n_missing / (2 * _worker_count(executor))))
    chains = _make_chains(missing, max_len)

    def params_of(idx):
        out = {}
        for name, i in zip(dims, idx):
            out[name] = axes[name][i].item()
        return out

    def record(idx, result):
        vals, err, secs, _ = result
        for q in qnames:
            values[q][idx] = vals[q]
        times[idx] = secs
        errors[idx] = err
        if st is not None:
            st.write(idx, vals, err, secs)
        else:
            done[idx] = True

    from tqdm import tqdm

    try:
        if serial:
            with tqdm(total=n_missing, disable=not progress, desc="scan", unit="pt") as bar:
                for chain in chains:
                    rho = None
                    for idx in chain.points:
                        res = _run_point(factory, params_of(idx), quantities, solver, method, rho, warm_start)
                        record(idx, res)
                        rho = res[3] if (warm_start and not res[1]) else None
                        bar.update(1)
        elif chains:
            _run_parallel(
                executor,
                chains,
                params_of,
                record,
                factory,
                quantities,
                solver,
                method,
                warm_start,
                n_missing,
                progress,
            )
    finally:
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)

    if st is not None:
        return load(st.path)
    coords = {name: axes[name] for name in dims}
    data = {q: (dims, values[q]) for q in qnames}
    data["time"] = (dims, times)
    data["error"] = (dims, errors.astype(str))
    data["done"] = (dims, done.copy())
    return xr.Dataset(data, coords=coords, attrs={"definition": json.dumps(definition, sort_keys=True)})


def _run_parallel(
    executor, chains, params_of, record, factory, quantities, solver, method, warm_start, n, progress
):
    from tqdm import tqdm

    def submit(chain):
        idx = chain.points[chain.pos]
        x0 = chain.rho if warm_start else None
        try:
            return executor.submit(
                _run_point, factory, params_of(idx), quantities, solver, method, x0, warm_start
            )
        except Exception as exc:  # BrokenExecutor, shut-down executor, ...
            raise RuntimeError(
                f"the executor refused work ({type(exc).__name__}: {exc}); finished points are saved "
                "in the store, rerun to resume"
            ) from exc

    pending = {submit(c): c for c in chains}
    with tqdm(total=n, disable=not progress, desc="scan", unit="pt") as bar:
        try:
            while pending:
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                broken = None
                for fut in finished:
                    chain = pending.pop(fut)
                    idx = chain.points[chain.pos]
                    try:
                        res = fut.result()
                    except Exception as exc:
                        # _run_point catches the point's own errors: this is the
                        # executor or the transport failing (dead worker, result
                        # not transferable). Store the other finished points first.
                        broken = broken or (idx, exc)
                        continue
                    record(idx, res)
                    bar.update(1)
                    chain.rho = res[3] if (warm_start and not res[1]) else None
                    chain.pos += 1
                    if chain.pos < len(chain.points) and broken is None:
                        pending[submit(chain)] = chain
                if broken is not None:
                    idx, exc = broken
                    raise RuntimeError(
                        f"point {params_of(idx)} could not be run by the executor "
                        f"({type(exc).__name__}: {exc}); finished points are saved in the store, "
                        "rerun to resume"
                    ) from exc
        finally:
            for fut in pending:
                fut.cancel()
