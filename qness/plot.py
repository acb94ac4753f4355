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
    "profile",
    "current_profile",
    "magnetisation_profile",
    "wigner",
    "entanglement_profile",
]


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
    """
    ax = _axes(ax)
    if isinstance(data, dict):
        if x is None:
            raise ValueError("give x with a mapping of curves")
        curves = [(f"{size_name or 'N'} = {k}", np.asarray(x), np.asarray(v)) for k, v in data.items()]
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
                (f"{size_name} = {N}", data[parameter].values, data.sel({size_name: N}).values)
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
