"""Parameter scans: a model factory over a grid, on any executor, into a resumable store.

A scan evaluates ``factory(**params)`` at every point of the full product of
a parameter grid (and optionally of several system sizes), solves for the
steady state, and computes scalar quantities at each point. Points run on any
:class:`concurrent.futures.Executor` (a local process pool by default,
``dask.distributed``'s ``Client.get_executor()`` or
``mpi4py.futures.MPIPoolExecutor`` on clusters), each steady-state solve is
warm-started from the neighbouring point along the last grid axis, and every
finished point is written to an HDF5 store at once, so a killed scan loses no
finished point and a rerun computes only what is missing. A rerun with a
larger grid (or more sizes) extends the store, ``retry_failed=True``
recomputes failed points, a lock file keeps a second scan off a store in
use, and the default pool's workers end when the scan's process dies.

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
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xarray

__all__ = [
    "scan",
    "load",
    "BUILTIN_QUANTITIES",
    "QUANTITY_PATTERNS",
    "ScanDefinitionError",
    "ScanStoreError",
    "ScanLockedError",
]

#: Built-in quantities, by name. ``"gap"`` needs only the model; the others
#: read the steady state. Entropies and entanglement measures are in bits
#: (logarithms base 2), as in :mod:`qness.analysis.entanglement`.
#: Parametrised names are also accepted (``SITES`` is a site ``i``, sites
#: ``i+j+k`` or an inclusive range ``i..j``):
#:
#: * ``"expect:<op>"``: sum over all sites of the local operator ``<op>`` (a
#:   name from :data:`qness.operators.LOCAL_OPERATORS`); ``"expect:<op>@<i>"``:
#:   on site ``i`` only;
#: * ``"current:<bath>"`` (or ``"heat_current:<bath>"``): the energy current
#:   from bath ``<bath>`` into the system (:func:`qness.analysis.heat_currents`);
#: * ``"particle_current:<bath>"``: the particle current from the bath into the
#:   system, of the model's U(1) charge (:func:`qness.analysis.particle_currents`);
#: * ``"spin_current:<bath>"``: the magnetisation current ``Tr[S^z D_k(rho)]``
#:   with ``S^z`` the sum over sites of the spin-``s`` operator ``jz``
#:   (``s = (d - 1)/2``, so ``sigma_z / 2`` on a qubit);
#: * ``"entropy:SITES"``: von Neumann entropy of the reduced state of the sites;
#: * ``"mutual_information:SITES:SITES"``: ``I(a:b)`` between two regions;
#: * ``"negativity:SITES"``, ``"log_negativity:SITES"``: of the bipartition
#:   ``SITES`` versus the rest of the chain;
#: * ``"concurrence:<i>+<j>"``: Wootters concurrence of the reduced state of
#:   two qubits.
BUILTIN_QUANTITIES = {
    "gap": "Liouvillian gap -Re(lambda_1) > 0 (qness.liouvillian_gap); needs no steady state",
    "purity": "tr(rho^2)",
    "entropy": "von Neumann entropy -tr(rho log2 rho) (bits)",
    "residual": "the solver's residual ness.residual",
    "iterations": "the solver's iteration count ness.info['iterations']",
    "solve_time": "the solver's wall time ness.info['time'] (s)",
}

#: The parametrised families of quantity names (see :data:`BUILTIN_QUANTITIES`).
QUANTITY_PATTERNS = (
    "expect:<op>",
    "expect:<op>@<site>",
    "current:<bath>",
    "heat_current:<bath>",
    "particle_current:<bath>",
    "spin_current:<bath>",
    "entropy:<sites>",
    "mutual_information:<sites>:<sites>",
    "negativity:<sites>",
    "log_negativity:<sites>",
    "concurrence:<i>+<j>",
)

_STORE_VERSION = 2  # 2: entropy in bits (was nats)
_ERROR_LEN = 400  # bytes kept of each error message (fixed width: see _Store)


class ScanDefinitionError(ValueError):
    """The store was written by a different scan definition.

    ``problem`` is the message without the remedy (which names Python
    arguments; the command line names its flags instead).
    """

    def __init__(self, problem: str, remedy: str = "use another store path, or overwrite=True to discard it"):
        self.problem = problem
        super().__init__(f"{problem}; {remedy}" if remedy else problem)


class ScanStoreError(ValueError):
    """The store file cannot be read as a qness scan store (corrupt, truncated or foreign).

    ``problem`` is the message without the remedy.
    """

    def __init__(self, problem: str, remedy: str = "delete it, use another store path, or overwrite=True"):
        self.problem = problem
        super().__init__(f"{problem}; {remedy}" if remedy else problem)


class ScanLockedError(RuntimeError):
    """Another process is writing the same store (it holds the store's lock file)."""


# --------------------------------------------------------------------------- quantities
def _q_gap(model, ness):
    import qness

    return qness.liouvillian_gap(model)


def _q_purity(model, ness):
    rho = np.asarray(ness.rho)
    return float(np.real(np.vdot(rho.conj().T, rho)))


def _q_entropy(model, ness):
    from .analysis.entanglement import entropy

    return entropy(np.asarray(ness.rho), base=2)


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


def _require_sites(model, quantity: str) -> None:
    """Refuse a site-resolved quantity on a model whose space is not a tensor product of sites."""
    qd = getattr(model, "qobj_dims", None)
    if qd is not None:
        qd = getattr(qd, "as_list", lambda: qd)()
        raise ValueError(
            f"quantity {quantity!r} acts on sites, but the model's space is not a tensor product of "
            f"sites (QuTiP dims {qd}, e.g. an excitation-number restricted space); pass a "
            "callable(model, ness) returning ness.expect(op) with the space's own operators "
            "(qutip.enr_destroy)"
        )


@dataclass(frozen=True)
class _Expect:
    op: str
    site: int | None

    def __call__(self, model, ness):
        from .model import as_model
        from .operators import chain_operator

        model = as_model(model)  # the factory may return (H, c_ops) or a Liouvillian
        _require_sites(model, f"expect:{self.op}")
        dims = model.dims
        n = len(dims)
        if self.site is not None and not 0 <= self.site < n:
            raise ValueError(f"site {self.site} out of range for a model of {n} sites")
        sites = range(n) if self.site is None else [self.site]
        total = 0.0
        for i in sites:
            A = chain_operator({i: self.op}, dims)
            # tr(A rho) without forming A rho
            total += complex(np.sum(A.multiply(np.asarray(ness.rho).T)))
        return total


@dataclass(frozen=True)
class _Current:
    bath: str
    kind: str = "heat"  # "heat", "particle" or "spin"

    def __call__(self, model, ness):
        from .analysis import heat_currents, particle_currents
        from .model import LindbladModel, as_model

        model = as_model(model)
        if not isinstance(model, LindbladModel):
            raise TypeError(
                f"quantity {self.kind} current of bath {self.bath!r} needs a qness.LindbladModel with "
                f"baths, got {type(model).__name__}"
                + (f" ({model.lindblad_hint()})" if hasattr(model, "lindblad_hint") else "")
                + ": build it with qness.from_qutip(H, c_ops, baths=..., bath_labels=...)"
            )
        if self.bath not in model.baths:
            raise KeyError(f"no bath {self.bath!r}; the model's baths are {sorted(model.baths)}")
        if self.kind == "heat":
            return heat_currents(model, ness)[self.bath]
        if self.kind == "particle":
            return particle_currents(model, ness)[self.bath]
        import scipy.sparse as sp

        from .operators import chain_operator

        Sz = sp.csr_array((model.dim, model.dim), dtype=np.complex128)
        for i in range(len(model.dims)):
            Sz = Sz + chain_operator({i: "jz"}, model.dims)
        return particle_currents(model, ness, N=Sz)[self.bath]


def _parse_sites(text: str, q: str) -> tuple[int, ...]:
    """``"3"``, ``"0+2+5"`` or ``"1..4"`` (inclusive) -> site indices."""
    try:
        if ".." in text:
            a, _, b = text.partition("..")
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError
            sites = tuple(range(lo, hi + 1))
        else:
            sites = tuple(int(t) for t in text.split("+"))
    except ValueError:
        raise ValueError(
            f"sites {text!r} in quantity {q!r}: give a site i, sites i+j+k or a range i..j"
        ) from None
    if any(s < 0 for s in sites) or len(set(sites)) != len(sites):
        raise ValueError(f"sites {text!r} in quantity {q!r} must be distinct and >= 0")
    return sites


@dataclass(frozen=True)
class _Entanglement:
    measure: str  # "entropy", "mutual_information", "negativity", "log_negativity", "concurrence"
    a: tuple
    b: tuple = ()

    def __call__(self, model, ness):
        from .analysis import entanglement as ent
        from .model import as_model

        model = as_model(model)
        _require_sites(model, self.measure)
        rho, dims = np.asarray(ness.rho), list(model.dims)
        n = len(dims)
        for s in self.a + self.b:
            if s >= n:
                raise ValueError(f"site {s} out of range for a model of {n} sites")
        if self.measure == "entropy":
            return ent.entropy(ent.ptrace(rho, dims, list(self.a)), base=2)
        if self.measure == "mutual_information":
            return ent.mutual_information(rho, dims, list(self.a), list(self.b), base=2)
        if self.measure == "negativity":
            return ent.negativity(rho, dims, list(self.a))
        if self.measure == "log_negativity":
            return ent.log_negativity(rho, dims, list(self.a))
        return ent.concurrence(ent.ptrace(rho, dims, list(self.a)))


def _resolve_quantity(q):
    """Return ``(function(model, ness), needs_ness)`` for a name or a callable."""
    if callable(q):
        return q, True
    if not isinstance(q, str):
        raise TypeError(f"a quantity must be a name or a callable(model, ness), got {type(q).__name__}")
    if q in _BUILTIN_FUNCS:
        return _BUILTIN_FUNCS[q], q not in _MODEL_ONLY
    kind, _, body = q.partition(":")
    if kind == "expect" and body:
        from .operators import LOCAL_OPERATORS

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
    currents = {
        "current": "heat",
        "heat_current": "heat",
        "particle_current": "particle",
        "spin_current": "spin",
    }
    if kind in currents and body:
        return _Current(body, currents[kind]), True
    if kind in ("entropy", "negativity", "log_negativity", "concurrence") and body:
        sites = _parse_sites(body, q)
        if kind == "concurrence" and len(sites) != 2:
            raise ValueError(f"quantity {q!r}: concurrence needs two sites i+j, got {len(sites)}")
        return _Entanglement(kind, sites), True
    if kind == "mutual_information" and body:
        a, sep, b = body.partition(":")
        if not sep or not a or not b:
            raise ValueError(f"quantity {q!r}: give two regions, mutual_information:<sites>:<sites>")
        a, b = _parse_sites(a, q), _parse_sites(b, q)
        if set(a) & set(b):
            raise ValueError(f"quantity {q!r}: the regions {a} and {b} overlap")
        return _Entanglement(kind, a, b), True
    raise ValueError(
        f"unknown quantity {q!r}; built-in names are {', '.join(BUILTIN_QUANTITIES)}, "
        f"{', '.join(QUANTITY_PATTERNS)}, or pass a callable(model, ness)"
    )


def _current_baths(quantities) -> dict:
    """``{quantity name: bath}`` for the current quantities among ``quantities`` (for early checks)."""
    out = {}
    for name, q in _normalise_quantities(quantities).items():
        fn, _ = _resolve_quantity(q)
        if isinstance(fn, _Current):
            out[name] = fn.bath
    return out


def _normalise_quantities(quantities) -> dict:
    if isinstance(quantities, str):
        quantities = [quantities]
    if callable(quantities):
        quantities = [quantities]
    if isinstance(quantities, Mapping):
        out = dict(quantities)
    elif isinstance(quantities, (Sequence, set, frozenset)):
        out = {}
        for q in quantities:
            if not (isinstance(q, str) or callable(q)):
                raise TypeError(
                    f"quantities: each quantity must be a name or a callable(model, ness), got "
                    f"{type(q).__name__}"
                )
            name = q if isinstance(q, str) else getattr(q, "__name__", None)
            if not name or name == "<lambda>":
                raise ValueError("give callables as a dict {name: callable(model, ness)}")
            out[name] = q
    else:
        raise TypeError(
            f"quantities must be a name, a sequence of names/callables or a mapping, got "
            f"{type(quantities).__name__}"
        )
    if not out:
        raise ValueError("give at least one quantity")
    reserved = {"error", "time", "done"}
    for name, q in out.items():
        if not isinstance(name, str):
            raise TypeError(f"quantity names must be str, got {type(name).__name__}")
        if not name or "/" in name or name in reserved:
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


def _digest_value(v, h, depth: int) -> None:
    """Feed what ``v`` holds into the hash ``h``: arrays by their bytes, plain values by their
    ``repr``, containers item by item, callables by :func:`_digest_callable`; any other object by
    its type only (it has no representation that stays the same from one session to the next)."""
    import functools
    import types

    if isinstance(v, np.ndarray):
        h.update(f"array {v.dtype} {v.shape}".encode())
        if v.dtype.hasobject:
            for x in v.ravel():
                _digest_value(x, h, depth)
        else:
            h.update(memoryview(np.ascontiguousarray(v)).cast("B"))
    elif v is None or isinstance(v, (bool, int, float, complex, str, bytes, np.generic)):
        h.update(f"{type(v).__name__} {v!r}".encode())
    elif isinstance(v, (list, tuple, set, frozenset)):
        items = sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v
        h.update(f"{type(v).__name__} {len(items)}".encode())
        for x in items:
            _digest_value(x, h, depth)
    elif isinstance(v, dict):
        h.update(f"dict {len(v)}".encode())
        for k in sorted(v, key=repr):
            _digest_value(k, h, depth)
            _digest_value(v[k], h, depth)
    elif isinstance(v, types.ModuleType):
        h.update(f"module {v.__name__}".encode())
    elif callable(v) or isinstance(v, functools.partial):
        h.update(_digest_callable(v, depth + 1).encode())
    else:
        h.update(f"object {type(v).__module__}.{type(v).__qualname__}".encode())


def _digest_callable(f, depth: int = 0) -> str:
    """A hash of what the callable ``f`` computes: for a function of the user's code, its source
    (or bytecode where there is none), defaults, the values its closure captures and the module
    globals its code names; for a ``functools.partial``, the function and its arguments; for
    qness's own functions and other callables, their name (a library's functions are identified by
    their version, not their code). Two model builders with one name but different captured
    values (``lambda F: kerr(F, U)`` for two ``U``) or array arguments then differ (by name alone a
    scan store was resumed by the other: new-user review, session 13)."""
    import functools
    import hashlib
    import inspect

    h = hashlib.sha256()
    if isinstance(f, functools.partial):
        h.update(_digest_callable(f.func, depth).encode())
        _digest_value(list(f.args), h, depth)
        _digest_value(dict(f.keywords), h, depth)
        return h.hexdigest()
    code = getattr(f, "__code__", None)
    module = getattr(f, "__module__", None) or ""
    h.update(f"{module}.{getattr(f, '__qualname__', type(f).__qualname__)}".encode())
    if code is None or module == "qness" or module.startswith("qness.") or depth > 4:
        return h.hexdigest()
    try:
        h.update(inspect.getsource(f).encode())
    except (OSError, TypeError):  # defined where no source is kept (python -c, exec)
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
    _digest_value(getattr(f, "__defaults__", None), h, depth)
    _digest_value(getattr(f, "__kwdefaults__", None), h, depth)
    for cell in getattr(f, "__closure__", None) or ():
        try:
            _digest_value(cell.cell_contents, h, depth)
        except ValueError:  # an empty cell
            h.update(b"empty cell")
    names = set(code.co_names)
    for const in code.co_consts:  # the names nested functions and lambdas use
        if inspect.iscode(const):
            names.update(const.co_names)
    glob = getattr(f, "__globals__", {})
    for name in sorted(names):
        if name in glob:
            h.update(f"global {name}".encode())
            _digest_value(glob[name], h, depth)
    return h.hexdigest()


def _definition(factory, axes, size_name, sizes, quantities, solver, method) -> dict:
    return {
        "factory": _describe_callable(factory),
        "axes": {name: np.asarray(v).tolist() for name, v in axes.items()},
        "size_name": size_name if sizes is not None else None,
        "quantities": {name: _describe_callable(q) for name, q in quantities.items()},
        "solver": _describe_callable(solver),
        "method": repr(method),
        # what the callables compute, beyond their names (older stores have no "code")
        "code": {
            "factory": _digest_callable(factory),
            "quantities": {name: _digest_callable(q) for name, q in quantities.items() if callable(q)},
            "solver": None if solver is None else _digest_callable(solver),
        },
    }


# --------------------------------------------------------------------------- store
#: File descriptors of the store locks this process holds. ``flock`` belongs to the open file,
#: which forked children (pool workers, any executor's) share: they close their copies at once, so
#: that only the scan holds the lock and it ends with the scan.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks():
    for fd in list(_HELD_LOCKS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class _Lock:
    """An exclusive lock on a store: ``<store>.lock`` held with ``flock`` (``msvcrt`` on Windows).

    The operating system releases the lock when its process dies, however it
    dies (a SIGKILL included), so a killed scan never blocks the next one. The
    lock file records the holder (pid, host, start time) for the message
    another scan shows. (Written here rather than with ``filelock``, which
    truncates the lock file on every attempt, so the holder could not be
    named.)
    """

    def __init__(self, store_path: str):
        self.store = store_path
        self.path = store_path + ".lock"
        self.fd = None

    def acquire(self):
        import socket

        for _ in range(5):  # retried only if the holder removed the file between our open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _os_lock(fd)
            except OSError:
                try:
                    holder = (
                        os.pread(fd, 400, 0).decode("utf-8", "replace").strip() if os.name == "posix" else ""
                    )
                finally:
                    os.close(fd)
                raise ScanLockedError(
                    f"{self.store} is being written by another scan ({holder or 'holder unknown'}; lock file "
                    f"{self.path}); wait for it to finish or stop it. Two scans must not write one store."
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {stamp}".encode())
            self.fd = fd
            _HELD_LOCKS.add(fd)
            return self
        raise ScanLockedError(f"cannot take the lock file {self.path} (it keeps being replaced)")

    def release(self):
        if self.fd is None:
            return
        try:
            os.remove(self.path)  # while still holding it: the next scan makes a fresh file
        except OSError:
            pass
        _HELD_LOCKS.discard(self.fd)
        os.close(self.fd)  # releases the lock (forked workers closed their copies: _init_worker)
        self.fd = None


def _os_lock(fd):
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)  # lock a byte past the holder's text, which stays readable
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _open_store(path):
    """``h5py.File(path, "r")``, with a clear :class:`ScanStoreError` for a file that is not a store."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc)
        if "truncated" in reason:
            problem = f"{path} is a truncated HDF5 file ({reason})"
        else:
            problem = f"{path} cannot be read as an HDF5 file, so it is not a qness scan store ({reason})"
        raise ScanStoreError(problem) from None
    if "qness_scan" not in f.attrs:
        f.close()
        raise ScanStoreError(f"{path} is an HDF5 file but not a qness scan store")
    return f


def _read_store(path, *, arrays=True) -> dict:
    """The header (and with ``arrays`` the data) of a store; :class:`ScanStoreError` if damaged."""
    with _open_store(path) as f:
        try:
            out = {
                "version": int(f.attrs["qness_scan"]),
                "definition": json.loads(f.attrs["definition"]),
                "definition_text": f.attrs["definition"],
                "dims": json.loads(f.attrs["dims"]),
            }
            coords = {}
            for name in out["dims"]:
                c = f["coords"][name]
                coords[name] = np.char.decode(c[...], "utf-8").astype(str) if "text" in c.attrs else c[...]
            out["coords"] = coords
            shape = tuple(len(coords[d]) for d in out["dims"])
            out["done"] = np.asarray(f["done"][...], dtype=bool)
            if out["done"].shape != shape:
                raise ValueError(f"'done' has shape {out['done'].shape}, the coordinates give {shape}")
            if arrays:
                out["values"] = {q: f["values"][q][...] for q in f["values"]}
                out["time"] = f["time"][...]
                out["error"] = f["error"][...]
                for q, v in out["values"].items():
                    if v.shape != shape:
                        raise ValueError(f"quantity {q!r} has shape {v.shape}, the coordinates give {shape}")
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise ScanStoreError(
                f"{path} is a damaged qness scan store ({type(exc).__name__}: {exc})"
            ) from None
    return out


def _axis_positions(old, new):
    """Index in ``new`` of every value of ``old`` (or ``None`` if some old value is not in ``new``)."""
    old, new = np.asarray(old), np.asarray(new)
    if old.dtype.kind in "US" or new.dtype.kind in "US":
        if old.dtype.kind != new.dtype.kind:
            return None
        lookup = {v: j for j, v in enumerate(new.tolist())}
        pos = [lookup.get(v) for v in old.tolist()]
    else:
        pos = []
        for v in old:
            hit = np.flatnonzero(np.isclose(new, v, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(new).max())))
            pos.append(int(hit[0]) if hit.size == 1 else None)
    if any(p is None for p in pos) or len(set(pos)) != len(pos):
        return None
    return np.asarray(pos, dtype=np.intp)


class _Store:
    """The HDF5 file of one scan.

    Every dataset is created at full size when the store is made (contiguous
    layout, fixed-width error strings), so writing a point touches raw data
    only, never the file's structure; the file is opened, written and closed
    for each finished point so that a SIGKILL between points leaves a
    complete file. The ``done`` flag of a point is written after its values.

    An existing store of the same scan is resumed. One whose grid (or sizes)
    is a subset of the requested one is extended: it is rewritten at the new
    shape with its finished points in place (atomically, through a
    temporary file), and only the new points are computed.
    """

    def __init__(self, path, definition, dims, shape, qnames, overwrite, retry_failed=False):
        self.path = os.fspath(path)
        self.qnames = qnames
        text = json.dumps(definition, sort_keys=True)
        if overwrite and os.path.exists(self.path):
            os.remove(self.path)
        if not os.path.exists(self.path):
            self._create(definition, dims, shape, text, old=None)
            self.done = np.zeros(shape, dtype=bool)
            return
        old = _read_store(self.path)
        # format 1 differs only in the unit of "entropy" (nats): resumable without it
        compatible = old["version"] == _STORE_VERSION or (old["version"] == 1 and "entropy" not in qnames)
        if not compatible:
            raise ScanDefinitionError(
                f"{self.path} was written by another version of qness (store format {old['version']}, "
                f"this one writes {_STORE_VERSION}; format 1 stored entropy in nats, 2 in bits)"
            )
        if old["dims"] != list(dims) and set(old["dims"]) == set(dims):
            raise ScanDefinitionError(
                f"{self.path} holds a scan with the axes in the order {', '.join(old['dims'])}, not "
                f"{', '.join(dims)}; give the grid in the stored order"
            )
        if "code" not in old["definition"]:  # a store written before the code digests
            definition = {k: v for k, v in definition.items() if k != "code"}
            text = json.dumps(definition, sort_keys=True)
        if json.dumps(old["definition"], sort_keys=True) != text:
            positions = self._extension(old["definition"], definition)
            if positions is None:
                od, nd = old["definition"], definition
                diff = [k for k in sorted(set(od) | set(nd)) if od.get(k) != nd.get(k)]
                hint = ""
                if diff == ["axes"]:
                    hint = " (a store is extended only by a grid that contains all its points)"
                elif diff == ["code"]:
                    hint = (
                        " (the same names, but the code of the factory, a quantity or the solver, or "
                        "the values they capture, changed)"
                    )
                raise ScanDefinitionError(
                    f"{self.path} holds a different scan (differs in: {', '.join(diff)}){hint}"
                )
            self._create(definition, dims, shape, text, old=(old, positions))
            old = _read_store(self.path, arrays=True)
        self.done = old["done"].copy()
        if retry_failed:  # finished with an error: computed again
            self.done &= old["error"] == b""

    @staticmethod
    def _extension(old, new):
        """Per-axis positions of the old grid in the new one, if the new scan only adds grid points."""
        same = {k: v for k, v in old.items() if k != "axes"} == {k: v for k, v in new.items() if k != "axes"}
        if not same or set(old["axes"]) != set(new["axes"]):  # (the stored definition's keys are sorted)
            return None
        positions = []
        for name in new["axes"]:
            pos = _axis_positions(old["axes"][name], new["axes"][name])
            if pos is None:
                return None
            positions.append(pos)
        return positions

    def _create(self, definition, dims, shape, text, old):
        import h5py

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
            arrays = {q: np.full(shape, np.nan) for q in self.qnames}
            t = np.full(shape, np.nan)
            err = np.zeros(shape, dtype=f"S{_ERROR_LEN}")
            done = np.zeros(shape, dtype=np.uint8)
            if old is not None:  # an extension: the finished points move to their new places
                data, positions = old
                where = np.ix_(*positions)
                for q in self.qnames:
                    arrays[q][where] = data["values"][q]
                t[where] = data["time"]
                err[where] = data["error"]
                done[where] = data["done"]
            vals = f.create_group("values")
            for q in self.qnames:
                vals.create_dataset(q, data=arrays[q])
            f.create_dataset("time", data=t)
            f.create_dataset("error", data=err)
            f.create_dataset("done", data=done)
        os.replace(tmp, self.path)  # a kill during creation leaves no half-made store

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

    Raises
    ------
    TypeError
        If ``store`` is not a path.
    FileNotFoundError
        If there is no such file.
    ScanStoreError
        If the file is not a qness scan store, or is truncated or damaged.
    """
    import xarray as xr

    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a path (str or os.PathLike), got {type(store).__name__}")
    path = os.fspath(store)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such scan store: {path}")
    s = _read_store(path)
    dims = s["dims"]
    data = {q: (dims, v) for q, v in s["values"].items()}
    data["time"] = (dims, s["time"])
    data["error"] = (dims, np.char.decode(s["error"], "utf-8").astype(str))
    data["done"] = (dims, s["done"])
    return xr.Dataset(data, coords=s["coords"], attrs={"definition": s["definition_text"]})


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


#: Arm PR_SET_PDEATHSIG in pool workers (Linux); the watchdog thread runs in any case.
_PDEATHSIG = sys.platform.startswith("linux")


def _init_worker(scan_pid: int):
    """Initializer of the default pool's workers: one BLAS thread, and die with the scan."""
    _close_inherited_locks()  # (done at fork already; kept for start methods that copy state)
    _limit_blas_threads()
    _die_with_parent(scan_pid)


def _die_with_parent(scan_pid: int, interval: float = 0.5):
    """End this worker process when the scan process that started it dies, however it dies.

    A SIGKILLed scan runs no clean-up, and its pool workers would otherwise
    live on (computing, holding memory). On Linux the kernel kills the worker
    at once (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, set when the scan is the
    direct parent). Everywhere a watchdog thread also checks every
    ``interval`` seconds that the parent still lives (POSIX: the parent pid
    changes when the parent dies; else psutil, or on Windows the process
    handle) and ends the worker with ``os._exit`` when it does not.
    """
    import threading

    ppid = os.getppid()
    if _PDEATHSIG and ppid == scan_pid:
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog alone
            pass
    if os.getppid() != ppid:  # the parent died before the signal was armed
        os._exit(1)
    alive = _parent_probe(ppid, scan_pid)

    def watch():
        while True:
            time.sleep(interval)
            if not alive():
                os._exit(1)

    threading.Thread(target=watch, name="qness-parent-watchdog", daemon=True).start()


def _parent_probe(ppid: int, scan_pid: int) -> Callable[[], bool]:
    """A function that says whether the parent process is still alive."""
    if os.name == "posix":
        return lambda: os.getppid() == ppid  # a dead parent's children are re-parented
    try:
        import psutil

        proc = psutil.Process(scan_pid)

        def alive():
            try:
                return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                return False

        return alive
    except Exception:
        pass
    if os.name == "nt":  # pragma: no cover - Windows without psutil
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x00100000, False, scan_pid)  # SYNCHRONIZE
        if handle:
            return lambda: kernel32.WaitForSingleObject(handle, 0) != 0  # 0: the process has exited
    return lambda: True  # pragma: no cover - no way to tell


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
    retry_failed: bool = False,
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
        :data:`BUILTIN_QUANTITIES`: ``"gap"``, ``"purity"``, ``"entropy"``
        (bits), ``"residual"``, ``"iterations"``, ``"solve_time"``, and the
        families of :data:`QUANTITY_PATTERNS`: ``"expect:<op>"``,
        ``"expect:<op>@<site>"``, ``"current:<bath>"`` (energy),
        ``"particle_current:<bath>"``, ``"spin_current:<bath>"``,
        ``"entropy:<sites>"``, ``"mutual_information:<sites>:<sites>"``,
        ``"negativity:<sites>"``, ``"log_negativity:<sites>"``,
        ``"concurrence:<i>+<j>"``), and/or a mapping ``{name: callable(model, ness) -> float}``. Each
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
        only the points not yet done. A grid (or ``sizes``) that contains
        every point of the stored one extends the store: its finished points
        are kept and only the new ones computed. A store made by a different
        scan (another factory, quantities, solver or method, or a grid that
        drops stored points) raises :class:`ScanDefinitionError`, unless
        ``overwrite=True``. While the scan runs it holds the lock file
        ``<store>.lock``, so a second scan of the same store is refused.
    overwrite : bool
        Discard an existing store at ``store`` and start afresh.
    retry_failed : bool
        Recompute the points of an existing store that finished with an
        error (by default they count as done, with the error recorded).
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
        (JSON); ``attrs["computed"]`` the number of points computed by this
        call (the others were read from ``store``).

    Raises
    ------
    TypeError
        If an argument has the wrong type (``factory`` not callable,
        ``grid`` not a mapping, ...), or the factory, a quantity or the
        solver cannot be pickled for a multi-process executor.
    ValueError
        For an empty grid or sizes, an unknown quantity name, a ``store`` in a
        directory that does not exist, ...
    ScanDefinitionError
        If ``store`` holds a different scan.
    ScanStoreError
        If ``store`` exists but is not a readable qness store (truncated,
        corrupt, another kind of file).
    ScanLockedError
        If another scan is writing ``store``.
    RuntimeError
        If the executor itself breaks (a worker process died); finished
        points are in the store, rerun to resume.

    Notes
    -----
    Errors raised by the factory, the solver or a quantity are caught and
    recorded in ``error`` for that point; they do not stop the scan. The
    workers of the default process pool end when the scan's process dies
    (even by SIGKILL): at once on Linux, within half a second elsewhere. Points
    are submitted one chain step at a time: when a point finishes, it is
    stored and the next point of its chain is submitted with the finished
    density matrix as warm start, so every chain keeps one worker busy and
    no finished point waits in a worker.
    """

    import xarray as xr

    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a mapping {{parameter name: 1-D values}}, got {type(grid).__name__}")
    if not grid:
        raise ValueError("grid must be a non-empty mapping {parameter name: 1-D values}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a path (str or os.PathLike), got {type(store).__name__}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))):
        raise TypeError(f"workers must be an int, got {type(workers).__name__}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not isinstance(size_name, str):
        raise TypeError(f"size_name must be a str, got {type(size_name).__name__}")
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
    if isinstance(executor, str) and executor != "serial":
        raise ValueError(f"executor must be a concurrent.futures.Executor or 'serial', got {executor!r}")
    if executor is not None and executor != "serial" and not isinstance(executor, cf.Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    st = None
    lock = None
    if store is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(store)))
        if not os.path.isdir(folder):  # (the lock file's FileNotFoundError named "<store>.lock")
            raise ValueError(f"store: the directory {folder} does not exist")
        lock = _Lock(os.fspath(store)).acquire()
        try:
            st = _Store(store, definition, dims, shape, qnames, overwrite, retry_failed)
        except BaseException:
            lock.release()
            raise
        done = st.done
    else:
        done = np.zeros(shape, dtype=bool)
    try:
        serial = executor == "serial" or (executor is None and workers == 1)
        missing = ~done
        n_missing = int(missing.sum())
        own_executor = False
        if n_missing and not serial:
            if not isinstance(executor, cf.ThreadPoolExecutor):
                _check_picklable({"factory": factory, "solver": solver, "quantities": quantities})
            if executor is None:
                executor = cf.ProcessPoolExecutor(
                    max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),)
                )
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
                            res = _run_point(
                                factory, params_of(idx), quantities, solver, method, rho, warm_start
                            )
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
            ds = load(st.path)
        else:
            coords = {name: axes[name] for name in dims}
            data = {q: (dims, values[q]) for q in qnames}
            data["time"] = (dims, times)
            data["error"] = (dims, errors.astype(str))
            data["done"] = (dims, done.copy())
            ds = xr.Dataset(data, coords=coords, attrs={"definition": json.dumps(definition, sort_keys=True)})
        ds.attrs["computed"] = n_missing  # points computed by this call (the rest came from the store)
        return ds
    finally:
        if lock is not None:
            lock.release()


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
