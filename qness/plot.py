"""Matplotlib figures for steady states, spectra and scans.

Every function draws into ``ax`` when given, otherwise into a new
:class:`matplotlib.figure.Figure` made without pyplot (so it works with any
backend, headless included, and leaves no global figure state), and returns
the Axes; ``ax.figure.savefig(...)`` writes it. Nothing calls ``plt.show()``.
In a notebook, show a new figure with ``display(ax.figure)`` or by making
``ax.figure`` the cell's last expression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "spectrum",
    "gap_curves",
    "gap_scaling",
    "profile",
    "current_profile",
    "magnetisation_profile",
    "wigner",
    "entanglement_profile",
]


def _fmt(v) -> str:
    """A number as a short label: ``0.6000000000000001`` -> ``0.6`` (6 significant digits)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{x:.6g}"


def _axes(ax, figsize=(5.0, 3.6)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def spectrum(spec, *, ax=None, mark_gap: bool = True, **scatter_kw):
    """Liouvillian eigenvalues in the complex plane.

    Parameters
    ----------
    spec : Spectrum or array_like of complex
        A :class:`qness.spectrum` result (its ``eigenvalues``) or the
        eigenvalues themselves.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    mark_gap : bool
        Draw a dashed line at ``Re lambda = -gap`` (the slowest non-zero
        mode).
    **scatter_kw
        Passed to ``ax.scatter``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ev = np.asarray(getattr(spec, "eigenvalues", spec), dtype=complex).ravel()
    ax = _axes(ax)
    kw = {"s": 14, "color": "C0"} | scatter_kw
    ax.scatter(ev.real, ev.imag, **kw)
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.axhline(0.0, color="0.6", lw=0.8)
    gap = getattr(spec, "gap", None)
    if gap is None and ev.size > 1:
        gap = -ev[np.argsort(-ev.real)[1]].real
    if mark_gap and gap is not None and np.isfinite(gap):
        ax.axvline(-gap, color="C3", ls="--", lw=1, label=f"gap = {gap:.3g}")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.set_title("Liouvillian spectrum")
    return ax


def gap_curves(
    data,
    parameter: str | None = None,
    *,
    size_name: str | None = None,
    ax=None,
    log: bool = True,
    ylabel: str = "gap",
    x=None,
):
    """A quantity (the gap by default) versus a parameter, one curve per system size.

    Parameters
    ----------
    data : xarray.DataArray, or mapping of size -> 1-D array
        E.g. ``qness.scan.scan(...)["gap"]`` with dims ``(size, parameter)``
        or ``(parameter,)``; or ``{N: gaps}`` together with ``x``.
    parameter : str, optional
        The x-axis dimension (default: the one that is not ``size_name``).
    size_name : str, optional
        The size dimension (default: the first of two dimensions).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    log : bool
        Logarithmic y axis (default; a closing gap is a straight-line drop).
    ylabel : str
        Label of the y axis.
    x : 1-D array_like, optional
        Parameter values when ``data`` is a mapping.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``data`` is neither an ``xarray.DataArray`` nor a mapping.
    ValueError
        For a mapping without ``x``, or more than two dimensions.
    """
    if not isinstance(data, dict) and not hasattr(data, "dims"):
        raise TypeError(f"data must be an xarray.DataArray or a dict of curves, got {type(data).__name__}")
    ax = _axes(ax)
    if isinstance(data, dict):
        if x is None:
            raise ValueError("give x with a mapping of curves")
        curves = [(f"{size_name or 'N'} = {_fmt(k)}", np.asarray(x), np.asarray(v)) for k, v in data.items()]
        xlabel = parameter or "parameter"
    else:
        dims = list(data.dims)
        if len(dims) == 1:
            parameter = parameter or dims[0]
            curves = [(None, data[parameter].values, data.values)]
        elif len(dims) == 2:
            if size_name is None:
                size_name = dims[0] if parameter is None or parameter != dims[0] else dims[1]
            parameter = parameter or next(d for d in dims if d != size_name)
            curves = [
                (f"{size_name} = {_fmt(N)}", data[parameter].values, data.sel({size_name: N}).values)
                for N in data[size_name].values
            ]
        else:
            raise ValueError(f"expected one or two dimensions, got {dims}")
        xlabel = parameter
    for label, xs, ys in curves:
        ys = np.asarray(ys, dtype=float)
        if log:
            ys = np.where(ys > 0, ys, np.nan)
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if any(label for label, *_ in curves):
        ax.legend(fontsize="small")
    return ax


def gap_scaling(data, parameter: str | None = None, *, size_name: str | None = None, ax=None, mark=None):
    """The smallest gap per system size with its finite-size fits (exponential and power law).

    For each size the minimum of the gap over the parameter is located
    (:func:`qness.analysis.transitions.locate_minimum`, refined by a
    parabola in ``log gap``), and the minima are fitted by ``a exp(-N/xi)``
    and ``a N^-z`` (:func:`qness.analysis.finite_size_scaling`). The better
    fit is drawn solid, the other dashed; the legend gives ``xi`` or ``z``
    with their standard errors.

    Parameters
    ----------
    data : xarray.DataArray
        Gaps with dims ``(size_name, parameter)``, e.g. a scan's ``ds["gap"]``.
    parameter, size_name : str, optional
        The dimensions (default: the size is the first, the parameter the other).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    mark : matplotlib.axes.Axes, optional
        Axes holding the gap curves (:func:`gap_curves`) on which to mark
        each size's minimum.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``data`` is not an ``xarray.DataArray``.
    ValueError
        If ``data`` is not two-dimensional, or fewer than two sizes have a
        positive finite gap.
    """
    from .analysis.transitions import finite_size_scaling, locate_minimum

    if not hasattr(data, "dims") or not hasattr(data, "sel"):
        raise TypeError(f"data must be an xarray.DataArray, got {type(data).__name__}")

    dims = list(data.dims)
    if len(dims) != 2:
        raise ValueError(f"data must have two dimensions (size, parameter), got {dims}")
    size_name = size_name or (dims[0] if parameter != dims[0] else dims[1])
    parameter = parameter or next(d for d in dims if d != size_name)
    sizes, minima = [], []
    for k, N in enumerate(data[size_name].values):
        row = np.asarray(data.sel({size_name: N}).values, dtype=float)
        ok = np.isfinite(row) & (row > 0)
        if ok.sum() == 0:
            continue
        xm, gm = locate_minimum(np.asarray(data[parameter].values, dtype=float)[ok], row[ok])
        sizes.append(float(N))
        minima.append(gm)
        if mark is not None:
            mark.plot([xm], [gm], marker="*", ms=9, color=f"C{k}", ls="none", zorder=3)
    if len(sizes) < 2:
        raise ValueError("a finite-size fit needs a positive gap at two sizes or more")
    sizes, minima = np.array(sizes), np.array(minima)
    ax = _axes(ax)
    ax.plot(sizes, minima, "o", color="k", label="smallest gap")
    fit = finite_size_scaling(sizes, minima)
    Nf = np.linspace(sizes.min(), sizes.max(), 200)
    e, p = fit.exponential, fit.power

    def pm(value, err):
        return f"{value:.3g}" if not np.isfinite(err) else f"{value:.3g} $\\pm$ {err:.2g}"

    for f, label in (
        (e, f"$a\\,e^{{-{size_name}/\\xi}}$, $\\xi$ = {pm(e.exponent, e.exponent_err)}"),
        (p, f"$a\\,{size_name}^{{-z}}$, z = {pm(p.exponent, p.exponent_err)}"),
    ):
        best = f is fit.best
        ax.plot(
            Nf,
            f.predict(Nf),
            ls="-" if best else "--",
            color="C3" if best else "0.5",
            label=label + (" (better fit)" if best else ""),
        )
    ax.set_yscale("log")
    ax.set_xlabel(size_name)
    ax.set_ylabel(f"smallest gap over {parameter}")
    ax.set_title("finite-size scaling of the gap minimum", fontsize="small")
    ax.legend(fontsize="small")
    return ax


def profile(
    values, *, ax=None, bonds: bool = False, ylabel: str = "", label: str | None = None, marker: str = "o"
):
    """A quantity along a chain, on sites ``0..n-1`` or on bonds ``i + 1/2``.

    Parameters
    ----------
    values : 1-D array_like
        One value per site (``bonds=False``) or per bond.
    ax : matplotlib.axes.Axes, optional
        Where to draw (call again with the same ``ax`` to overlay profiles).
    bonds : bool
        Values live on the bonds between sites ``i`` and ``i + 1``.
    ylabel, label : str
        Axis label and legend entry.
    marker : str
        Marker style.

    Returns
    -------
    matplotlib.axes.Axes
    """
    v = np.real(np.asarray(values)).ravel()
    pos = np.arange(v.size) + (0.5 if bonds else 0.0)
    ax = _axes(ax)
    ax.plot(pos, v, marker=marker, label=label)
    ax.set_xlabel("bond" if bonds else "site")
    if ylabel:
        ax.set_ylabel(ylabel)
    if label:
        ax.legend(fontsize="small")
    return ax


def current_profile(currents, *, ax=None, label: str | None = None):
    """Bond currents ``J_{i, i+1}`` along a chain (flat in a NESS with no sources inside).

    Parameters
    ----------
    currents : 1-D array_like
        One current per bond.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    label : str, optional
        Legend entry.

    Returns
    -------
    matplotlib.axes.Axes
    """
    return profile(currents, ax=ax, bonds=True, ylabel="current", label=label)


def magnetisation_profile(mz, *, ax=None, label: str | None = None):
    """Local magnetisation ``<sigma_z^i>`` along a chain.

    Parameters
    ----------
    mz : 1-D array_like
        One value per site.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    label : str, optional
        Legend entry.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = profile(mz, ax=ax, ylabel=r"$\langle \sigma^z_i \rangle$", label=label)
    ax.axhline(0.0, color="0.7", lw=0.8)
    return ax


def wigner(
    state,
    xvec=None,
    yvec=None,
    *,
    mode: int | None = None,
    dims: Sequence[int] | None = None,
    ax=None,
    cmap: str = "RdBu_r",
    colorbar: bool = True,
):
    """The Wigner function of a bosonic mode as a colour map (negative regions in blue).

    Parameters
    ----------
    state : NESS, numpy.ndarray or qutip.Qobj
        The state (of one mode, or of a chain with ``dims``).
    xvec, yvec : 1-D array_like, optional
        Phase-space grid (default ``linspace(-5, 5, 121)``); QuTiP's
        convention ``alpha = (x + i y)/sqrt(2)``.
    mode : int, optional
        Site index of the bosonic mode; required for a state of several
        sites (non-bosonic sites are refused, see
        :func:`qness.analysis.wigner`).
    dims : sequence of int, optional
        Local dimensions of the chain (default: one mode).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    cmap : str
        Diverging colour map, centred on zero.
    colorbar : bool
        Add a colour bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .analysis.transitions import wigner as _wigner

    xvec = np.linspace(-5, 5, 121) if xvec is None else np.asarray(xvec, dtype=float)
    yvec = xvec if yvec is None else np.asarray(yvec, dtype=float)
    W = _wigner(state, xvec, yvec, mode=mode, dims=dims)
    ax = _axes(ax, figsize=(4.4, 3.8))
    lim = float(np.max(np.abs(W))) or 1.0
    mesh = ax.pcolormesh(xvec, yvec, W, cmap=cmap, vmin=-lim, vmax=lim, shading="auto")
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("p")
    ax.set_title("Wigner function")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="W(x, p)")
    return ax


def entanglement_profile(
    values,
    *,
    ax=None,
    ylabel: str = "mutual information",
    label: str | None = None,
    cuts: Sequence[float] | None = None,
):
    """An entanglement or correlation measure along a chain.

    Parameters
    ----------
    values : 1-D array_like
        E.g. the mutual information of each neighbouring pair, the
        logarithmic negativity across each cut, or versus distance.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    ylabel, label : str
        Axis label and legend entry.
    cuts : sequence of float, optional
        The x positions (default: bonds ``0.5, 1.5, ...``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    v = np.real(np.asarray(values)).ravel()
    x = np.arange(v.size) + 0.5 if cuts is None else np.asarray(cuts, dtype=float)
    ax = _axes(ax)
    ax.plot(x, v, marker="s", label=label)
    ax.set_xlabel("cut" if cuts is None else "position")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(v)) if v.size else 0.0))
    if label:
        ax.legend(fontsize="small")
    return ax
