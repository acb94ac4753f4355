"""The ``qness`` command: list models, solve one, measure a gap, scan a grid, plot a scan.

Examples
--------
::

    qness models
    qness steady kerr --set cutoff=20 --set detuning=-1 --set U=0.5 --set F=1 --set kappa=1
    qness gap boundary_driven_xxz --set n=4 --set delta=0.5
    qness scan kerr_scaled --vary F1=1.5:3.5:21 --size 1,2,3,4 --out kerr.h5 --workers 2
    qness plot kerr.h5 --out kerr.png

``MODEL`` is a name from ``qness models`` or ``module:function`` for any
importable function returning a :class:`qness.LindbladModel` (or QuTiP's ``(H, c_ops)``). Exit codes:
0 success, 1 a computation failed, 2 bad arguments (unknown model,
parameter, method or quantity, malformed value, a store that is not a
readable scan store or is being written by another scan); every exit 2
prints the subcommand's usage and one message.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import inspect
import json
import os
import sys
import time

import numpy as np

from .plot import _fmt  # one label format for figures and messages (plot imports matplotlib lazily)

__all__ = ["main"]


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


def _store_problem(exc, command: str = "scan") -> str:
    """A store error's message, with the command line's flags (not Python arguments) as the remedy."""
    from .scan import ScanDefinitionError, ScanStoreError

    if command == "plot":
        return f"{exc.problem}; `qness scan ... --overwrite` writes a new store"
    if isinstance(exc, ScanDefinitionError):
        return f"{exc.problem}; use another --out, or --overwrite to discard it"
    if isinstance(exc, ScanStoreError):
        return f"{exc.problem}; use another --out, or --overwrite to replace it"
    return str(exc)


# --------------------------------------------------------------------------- models
def _families() -> dict:
    """Size-scaled model families for finite-size scans (not in :mod:`qness.models`)."""
    from .analysis.transitions import kerr_scaled

    return {"kerr_scaled": kerr_scaled}


def _registry() -> dict:
    import qness.models

    reg = _families()
    reg.update({name: qness.models.get(name) for name in qness.models.available()})
    return reg


def _first_line(f) -> str:
    doc = inspect.getdoc(f) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def resolve_model(name: str):
    """The model function for a registry name or ``module:function``."""
    if ":" in name:
        mod, _, attr = name.partition(":")
        # the current directory first, as `python -m qness` has it (the console script does not:
        # a factory file beside the user's shell was "No module named ...")
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            f = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"cannot import model {name!r}: {exc}") from None
        if not callable(f):
            raise UsageError(f"{name!r} is not callable")
        return f
    reg = _registry()
    if name not in reg:
        raise UsageError(
            f"unknown model {name!r}; valid models: {', '.join(sorted(reg))} (or module:function)"
        )
    return reg[name]


def _parse_value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("inf", "+inf", "-inf", "nan"):
        return float(low)
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a string, e.g. form=global
    if isinstance(v, (int, float, complex, str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return v
    raise UsageError(f"cannot use value {text!r}")


def _parse_sets(items) -> dict:
    out = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects name=value, got {item!r}")
        if key.strip() in out:  # the last one silently won
            raise UsageError(f"parameter {key.strip()!r} given twice with --set")
        out[key.strip()] = _parse_value(val)
    return out


def _parse_vary(items) -> dict:
    out = {}
    for item in items or []:
        key, sep, spec = item.partition("=")
        parts = spec.split(":")
        if not sep or not key.strip() or len(parts) != 3:
            raise UsageError(f"--vary expects name=start:stop:num, got {item!r}")
        if key.strip() in out:
            raise UsageError(f"parameter {key.strip()!r} given twice with --vary")
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise UsageError(f"--vary expects numbers in name=start:stop:num, got {item!r}") from None
        if num < 1:
            raise UsageError(f"--vary needs num >= 1, got {item!r}")
        values = np.linspace(start, stop, num)
        integer_ends = all(p.strip().lstrip("+-").isdigit() for p in parts[:2])
        if integer_ends and np.allclose(values, np.round(values)):
            values = np.round(values).astype(np.int64)  # e.g. a cutoff or a number of sites
        out[key.strip()] = values
    return out


def _parameters(f):
    sig = inspect.signature(f)
    params = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
    ]
    return params


def _check_params(f, name, given: set, *, also=()):
    params = _parameters(f)
    valid = [p.name for p in params]
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise UsageError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; valid parameters: "
            + ", ".join(_describe_param(p) for p in params)
        )
    missing = [p.name for p in params if p.default is p.empty and p.name not in given and p.name not in also]
    if missing:
        raise UsageError(
            f"model {name!r} needs parameter(s) {', '.join(missing)}; give them with --set name=value "
            "(valid parameters: " + ", ".join(_describe_param(p) for p in params) + ")"
        )


def _describe_param(p) -> str:
    return p.name if p.default is p.empty else f"{p.name}={p.default!r}"


def _build(f, name, params):
    from .model import LindbladModel, as_model

    _check_params(f, name, set(params))
    try:
        model = f(**params)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"model {name!r} rejected the parameters: {exc}") from None
    if isinstance(model, tuple):  # QuTiP's (H, c_ops), as Python's scan takes it
        try:
            model = as_model(model)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"model {name!r} returned a tuple that is not (H, c_ops): {exc}") from None
    if not isinstance(model, LindbladModel):
        raise UsageError(
            f"model {name!r} returned {type(model).__name__}, not a qness.LindbladModel; MODEL must be "
            "a function that returns one (or QuTiP's (H, c_ops))"
        )
    return model


# --------------------------------------------------------------------------- observables
def _observables(model, ness) -> dict:
    from .operators import chain_operator

    rho = np.asarray(ness.rho)
    out = {"purity": float(np.real(np.vdot(rho.conj().T, rho)))}
    totals = {}
    for i, d in enumerate(model.dims):
        op = "sigmaz" if d == 2 else "num"
        A = chain_operator({i: op}, model.dims)
        val = float(np.real(np.sum(A.multiply(rho.T))))
        key = "<sigmaz>" if op == "sigmaz" else "<n>"
        totals.setdefault(key, []).append(val)
    for key, vals in totals.items():
        out[f"sum {key}"] = float(np.sum(vals))
        if len(vals) > 1:
            out[f"{key} per site"] = [round(v, 10) for v in vals]
    if model.baths:
        from .analysis import entropy_production, heat_currents

        try:
            cur = heat_currents(model, ness)
            out["heat currents"] = {str(k): float(np.real(v)) for k, v in dict(cur).items()}
        except Exception as exc:  # reported, not fatal: the steady state itself is fine
            out["heat currents"] = f"n/a ({type(exc).__name__}: {exc})"
        if any(b.T is not None for b in model.baths.values()):
            try:
                out["entropy production"] = float(entropy_production(model, ness))
            except Exception as exc:
                out["entropy production"] = f"n/a ({type(exc).__name__}: {exc})"
    return out


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, (complex, np.complexfloating)):
        return {"re": float(np.real(x)), "im": float(np.imag(x))}
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return repr(x)


# --------------------------------------------------------------------------- commands
def _cmd_models(args) -> int:
    reg = _registry()
    width = max(len(n) for n in reg)
    for name in sorted(reg):
        print(f"{name:<{width}}  {_first_line(reg[name])}")
    return 0


def _cmd_steady(args) -> int:
    import qness

    f = resolve_model(args.model)
    model = _build(f, args.model, _parse_sets(args.set))
    t0 = time.perf_counter()
    ness = qness.steady_state(model, args.method or None, progress=bool(getattr(args, "progress", False)))
    wall = time.perf_counter() - t0
    info = dict(ness.info)
    out = {
        "model": args.model,
        "dim": model.dim,
        "method": str(info.get("method")),
        "residual": float(ness.residual),
        "iterations": info.get("iterations"),
        "time": float(info.get("time", wall)),
        "observables": _observables(model, ness),
    }
    if args.json:
        print(json.dumps(_jsonable(out), indent=2))
    else:
        print(f"model      {args.model} (dimension {model.dim})")
        print(f"method     {out['method']}")
        print(f"residual   {out['residual']:.3e}")
        if out["iterations"] is not None:
            print(f"iterations {out['iterations']}")
        print(f"time       {out['time']:.3f} s")
        for k, v in out["observables"].items():
            print(f"{k:<10} {v if not isinstance(v, float) else f'{v:.10g}'}")
    return 0


def _cmd_gap(args) -> int:
    import qness

    f = resolve_model(args.model)
    model = _build(f, args.model, _parse_sets(args.set))
    t0 = time.perf_counter()
    spec = qness.spectrum(model, k=1, method=args.method or None, vectors=False)
    gap, exact = float(spec.gap), bool(spec.certified)
    wall = time.perf_counter() - t0
    if args.json:
        out = {"model": args.model, "dim": model.dim, "gap": gap, "certified": exact, "time": wall}
        print(json.dumps(out))
    else:
        how = "certified rightmost" if exact else "not certified: see the SpectrumWarning"
        print(f"gap {gap:.10g}  (model {args.model}, dimension {model.dim}, {how}, {wall:.3f} s)")
    return 0


def _cmd_scan(args) -> int:
    from .scan import (
        ScanDefinitionError,
        ScanLockedError,
        ScanStoreError,
        _current_baths,
        _normalise_quantities,
        scan,
    )

    f = resolve_model(args.model)
    fixed = _parse_sets(args.set)
    grid = _parse_vary(args.vary)
    if not grid:
        raise UsageError("give at least one --vary name=start:stop:num")
    params = _parameters(f)
    sizes = None
    size_name = args.size_name
    if args.size:
        try:
            sizes = [int(s) for s in args.size.split(",") if s.strip()]
        except ValueError:
            raise UsageError(f"--size expects integers separated by commas, got {args.size!r}") from None
        if not sizes:
            raise UsageError("--size is empty")
        if size_name is None:
            if not params:
                raise UsageError(f"model {args.model!r} takes no parameters")
            size_name = params[0].name
    elif size_name is not None:
        raise UsageError("--size-name needs --size")
    both = set(fixed) & (set(grid) | ({size_name} if sizes else set()))
    if both:
        raise UsageError(f"parameter(s) {', '.join(sorted(both))} given both with --set and --vary/--size")
    if sizes and size_name in grid:
        raise UsageError(f"parameter {size_name!r} given both with --vary and --size")
    varied = set(grid) | ({size_name} if sizes else set())
    _check_params(f, args.model, set(fixed) | varied)
    quantities = [q.strip() for q in args.quantities.split(",") if q.strip()]
    try:
        quantities = list(_normalise_quantities(quantities))
        baths = _current_baths(quantities)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--quantities: {exc}") from None
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("give --workers or --scheduler, not both")
    # the model at the first point: a factory that returns no model, or a bath that does not
    # exist, is a usage error now rather than one error per point later
    first = {k: v[0].item() for k, v in grid.items()} | ({size_name: sizes[0]} if sizes else {})
    model = _build(f, args.model, fixed | first)
    for q, bath in baths.items():
        if bath not in model.baths:
            valid = ", ".join(map(str, model.baths)) or "none"
            raise UsageError(
                f"--quantities {q}: model {args.model!r} has no bath {bath!r} (its baths: {valid})"
            )
    factory = functools.partial(f, **fixed)
    client = None
    executor = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        client = Client(args.scheduler)
        executor = client.get_executor()
    elif args.workers == 1:
        executor = "serial"
    t0 = time.perf_counter()
    try:
        ds = scan(
            factory,
            grid,
            quantities,
            sizes=sizes,
            size_name=size_name or "n",
            store=args.out,
            executor=executor,
            workers=args.workers,
            method=args.method or None,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            retry_failed=args.retry_failed,
        )
    except (ScanDefinitionError, ScanStoreError) as exc:
        raise UsageError(_store_problem(exc)) from None
    except (ScanLockedError, ValueError, TypeError) as exc:  # scan() records errors of points itself
        raise UsageError(str(exc)) from None
    finally:
        if client is not None:
            client.close()
    wall = time.perf_counter() - t0
    failed = int((ds["error"] != "").sum())
    total = int(ds["done"].size)
    computed = int(ds.attrs["computed"])
    print(f"{total} points in {args.out} ({computed} computed now, {failed} failed), {wall:.1f} s")
    if failed:
        errs = ds["error"].values.ravel()
        hint = "" if args.retry_failed else " (rerun with --retry-failed to compute failed points again)"
        print(f"first error: {next(e for e in errs if e)}{hint}", file=sys.stderr)
    if "gap" in ds and len(grid) == 1:
        _summarise_gap(ds["gap"], next(iter(grid)), size_name if sizes else None)
    return 1 if failed == total else 0


def _summarise_gap(da, param, size_name):
    """Print where the gap is smallest per size and how that minimum scales with size."""
    from .analysis.transitions import finite_size_scaling, locate_minimum

    sizes = list(da[size_name].values) if size_name else [None]
    mins = []
    for N in sizes:
        row = da.sel({size_name: N}) if size_name else da
        try:
            xm, gm = locate_minimum(row[param].values, row.values)
        except ValueError:  # no finite positive gap at this size
            continue
        label = f"{size_name}={N}: " if size_name else ""
        print(f"{label}smallest gap {gm:.4g} at {param}={xm:.4g}")
        mins.append((N, gm))
    if len(mins) >= 3:
        fit = finite_size_scaling([m[0] for m in mins], [m[1] for m in mins])
        e, p = fit.exponential, fit.power
        print(
            f"smallest gap vs {size_name}: closes like {'exp(-N/xi)' if fit.best is e else 'N^-z'} "
            f"(exponential: xi = {e.exponent:.3g} +- {e.exponent_err:.2g}, rss {e.rss:.2g}; "
            f"power law: z = {p.exponent:.3g} +- {p.exponent_err:.2g}, rss {p.rss:.2g})"
        )


def _title(definition, da=None) -> str:
    """``model (fixed parameters, values fixed with --at)`` from a scan definition."""
    f = definition.get("factory")
    fixed = {}
    while isinstance(f, dict):  # functools.partial, possibly nested
        fixed.update(f.get("keywords", {}))
        f = f.get("partial")
    name = str(f).rsplit(".", 1)[-1]
    if da is not None:  # scalar coordinates left by --at
        fixed.update({k: da[k].values.item() for k in da.coords if da[k].ndim == 0})
    if fixed:
        name += " (" + ", ".join(f"{k}={_fmt(v)}" for k, v in fixed.items()) + ")"
    return name


def _cmd_plot(args) -> int:
    import os

    from .plot import gap_curves, gap_scaling
    from .scan import ScanStoreError, load

    if not os.path.exists(args.file):
        raise UsageError(f"no such file: {args.file}")
    try:
        ds = load(args.file)
    except ScanStoreError as exc:
        raise UsageError(_store_problem(exc, "plot")) from None
    q = args.quantity
    valid = [v for v in ds.data_vars if v not in ("error", "done", "time")]
    if q not in valid:
        raise UsageError(f"no quantity {q!r} in {args.file}; it has {', '.join(valid)}")
    definition = json.loads(ds.attrs["definition"])
    size_name = definition.get("size_name")
    da = ds[q]
    for item in args.at or []:
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or key not in da.dims:
            raise UsageError(f"--at expects name=value with a name from {', '.join(da.dims)}, got {item!r}")
        value = _parse_value(val)
        coord = da[key].values
        if coord.dtype.kind in "US":
            if str(value) not in coord.tolist():
                raise UsageError(f"--at {item}: {key} takes the values {', '.join(map(str, coord))}")
            da = da.sel({key: str(value)})
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise UsageError(f"--at {item}: {key} is numeric, got {val!r}") from None
            da = da.sel({key: value}, method="nearest")
    curve_dims = [d for d in da.dims if d != size_name]
    if len(curve_dims) != 1:
        if curve_dims:
            d0 = curve_dims[0]
            fix = f"fix all but one with --at NAME=VALUE, e.g. --at {d0}={_fmt(da[d0].values[0])}"
        else:
            fix = "leave one parameter free (fewer --at)"
        also = f" (and the sizes, {size_name})" if size_name in da.dims else ""
        raise UsageError(
            f"{args.file} has the dimensions {', '.join(da.dims)}; a plot shows one parameter{also}: {fix}"
        )
    parameter = curve_dims[0]
    sized = size_name in da.dims
    scaling = q == "gap" and sized and not args.no_fit
    if scaling:  # the fit needs a positive gap at three sizes or more
        ok = ((da > 0) & np.isfinite(da)).any(parameter)
        scaling = int(ok.sum()) >= 3
        if not scaling and da.sizes[size_name] >= 3:
            print(
                f"no finite-size panel: fewer than 3 sizes have a positive gap in {args.file}",
                file=sys.stderr,
            )
    if scaling:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10.0, 3.9), layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
        gap_curves(da, parameter, size_name=size_name, log=not args.linear, ylabel="Liouvillian gap", ax=ax)
        gap_scaling(da, parameter, size_name=size_name, ax=ax2, mark=ax)
        fig.suptitle(_title(definition, da), fontsize="medium")
    else:
        ax = gap_curves(
            da, parameter, size_name=size_name if sized else None, log=not args.linear, ylabel=_ylabel(q)
        )
        ax.set_title(_title(definition, da), fontsize="small")
        fig = ax.figure
    out = args.out or os.path.splitext(args.file)[0] + ".png"
    fig.savefig(out, dpi=args.dpi, bbox_inches="tight")
    print(out)
    return 0


def _ylabel(q: str) -> str:
    """An axis label for a built-in quantity name (the name itself otherwise)."""
    kind, _, body = q.partition(":")
    op, _, site = body.partition("@")
    labels = {
        "gap": "Liouvillian gap",
        "purity": "purity tr($\\rho^2$)",
        "entropy": f"entropy of sites {body} (bits)" if body else "entropy (bits)",
        "expect": f"$\\langle${op}$\\rangle$" + (f" on site {site}" if site else ", sum over sites"),
        "current": f"energy current from bath {body}",
        "heat_current": f"energy current from bath {body}",
        "particle_current": f"particle current from bath {body}",
        "spin_current": f"spin current from bath {body}",
        "log_negativity": f"log negativity of sites {body} (bits)",
        "negativity": f"negativity of sites {body}",
        "mutual_information": f"mutual information {body.replace(':', ' : ')} (bits)",
        "concurrence": f"concurrence of sites {body}",
        "solve_time": "solve time (s)",
    }
    return labels.get(kind, q)


# --------------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _method_arg(sp, registry, what):
    names = list(registry)
    sp.add_argument(
        "--method",
        type=str.lower,
        choices=names,
        default=None,
        metavar="METHOD",
        help=f"{what} method, one of {', '.join(names)} (default: auto)",
    )


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .solvers.methods import METHODS
    from .solvers.spectrum import EIG_METHODS

    p = argparse.ArgumentParser(
        prog="qness",
        description="Non-equilibrium steady states of Lindblad master equations.",
        epilog="MODEL is a name from `qness models` or module:function.",
    )
    p.add_argument("--version", action="version", version=f"qness {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("models", help="list the named models", description="List the named models.")

    def model_args(sp):
        sp.add_argument("model", metavar="MODEL", help="model name (see `qness models`) or module:function")
        sp.add_argument(
            "--set",
            action="append",
            metavar="NAME=VALUE",
            default=[],
            help="a model parameter (repeat for several)",
        )
        sp.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("steady", help="solve for the steady state", description="Solve for the NESS.")
    model_args(s)
    _method_arg(s, METHODS, "steady-state")
    s.add_argument("--progress", action="store_true", help="show iterations and residual on stderr (tqdm)")

    g = sub.add_parser("gap", help="the Liouvillian gap", description="Compute the Liouvillian gap.")
    model_args(g)
    _method_arg(g, EIG_METHODS, "spectrum")

    sc = sub.add_parser(
        "scan",
        help="scan a parameter grid (resumable)",
        description="Scan a parameter grid and system sizes into an HDF5 store; rerun to resume.",
    )
    sc.add_argument("model", metavar="MODEL", help="model name or module:function")
    sc.add_argument("--set", action="append", metavar="NAME=VALUE", default=[], help="fixed parameter")
    sc.add_argument(
        "--vary", action="append", metavar="NAME=START:STOP:NUM", default=[], help="scanned parameter"
    )
    sc.add_argument("--size", metavar="N1,N2,...", help="system sizes")
    sc.add_argument(
        "--size-name", metavar="NAME", help="parameter the sizes go to (default: the model's first)"
    )
    sc.add_argument("--out", required=True, metavar="FILE", help="HDF5 store (resumed if it exists)")
    sc.add_argument(
        "--quantities",
        default="gap",
        metavar="Q1,Q2,...",
        help="comma-separated, from: gap, purity, entropy (bits), residual, iterations, solve_time, "
        "expect:OP (summed over sites), expect:OP@SITE, current:BATH (energy), particle_current:BATH, "
        "spin_current:BATH, entropy:SITES, mutual_information:SITES:SITES, negativity:SITES, "
        "log_negativity:SITES, concurrence:I+J; SITES is I, I+J+K or I..J (default: gap)",
    )
    _method_arg(sc, METHODS, "steady-state")
    sc.add_argument("--workers", type=_positive_int, metavar="K", help="local worker processes (1: serial)")
    sc.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler address")
    sc.add_argument("--overwrite", action="store_true", help="discard an existing store")
    sc.add_argument(
        "--retry-failed", action="store_true", help="compute again the points of the store that failed"
    )
    sc.add_argument("--no-progress", action="store_true", help="no progress bar")

    pl = sub.add_parser("plot", help="plot a scan store", description="Plot a quantity versus the parameter.")
    pl.add_argument("file", metavar="FILE", help="HDF5 store written by `qness scan`")
    pl.add_argument("--out", metavar="PNG", help="image file (default: FILE with .png)")
    pl.add_argument("--quantity", default="gap", help="quantity to plot (default: gap)")
    pl.add_argument("--linear", action="store_true", help="linear y axis (default: log)")
    pl.add_argument(
        "--at",
        action="append",
        metavar="NAME=VALUE",
        help="fix a grid parameter of a scan of several (nearest value; repeat for several)",
    )
    pl.add_argument("--no-fit", action="store_true", help="no finite-size panel for a gap scan over sizes")
    pl.add_argument("--dpi", type=_positive_int, default=120, help="resolution (default: 120)")
    return p


_COMMANDS = {
    "models": _cmd_models,
    "steady": _cmd_steady,
    "gap": _cmd_gap,
    "scan": _cmd_scan,
    "plot": _cmd_plot,
}


def main(argv=None) -> int:
    """Run the ``qness`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 success, 1 a computation failed, 2 bad arguments
        (argparse errors exit 2 through ``SystemExit``).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        print(sub.choices[args.command].format_usage(), end="", file=sys.stderr)
        print(f"qness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"qness {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
