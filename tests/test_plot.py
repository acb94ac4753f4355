"""Figures render to files without a display (MPLBACKEND=Agg, and no pyplot state)."""

import numpy as np
import pytest
import qutip
import xarray as xr
from helpers import dense_liouvillian

import qness.models
from qness import plot

PNG = b"\x89PNG\r\n\x1a\n"


def _save(ax, path):
    ax.figure.savefig(path, dpi=80)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 3000
    return path


def test_spectrum_plot(tmp_path):
    m = qness.models.kerr(6, detuning=1.0, U=0.5, F=0.5, kappa=1.0)
    ev = np.linalg.eigvals(dense_liouvillian(m))
    ax = plot.spectrum(ev)
    assert ax.get_xlabel().startswith("Re")
    xs = ax.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(xs), np.sort(ev.real))
    _save(ax, tmp_path / "spectrum.png")


def test_gap_curves_log_scale_one_line_per_size(tmp_path):
    F = np.linspace(1, 3, 7)
    gaps = np.array([np.exp(-N * (1 + (F - 2) ** 2) ** -1) for N in (2, 3, 4)])
    da = xr.DataArray(gaps, dims=("N", "F1"), coords={"N": [2, 3, 4], "F1": F})
    ax = plot.gap_curves(da)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3
    assert ax.get_xlabel() == "F1"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["N = 2", "N = 3", "N = 4"]
    _save(ax, tmp_path / "gaps.png")
    ax2 = plot.gap_curves({2: gaps[0], 3: gaps[1]}, "F1", x=F, size_name="N", log=False)
    assert ax2.get_yscale() == "linear" and len(ax2.get_lines()) == 2
    with pytest.raises(ValueError, match="give x"):
        plot.gap_curves({2: gaps[0]})


def test_profiles_and_entanglement(tmp_path):
    ax = plot.magnetisation_profile([0.3, 0.1, -0.1, -0.3], label="delta=0.5")
    plot.magnetisation_profile([0.2, 0.0, -0.2, -0.2], ax=ax, label="delta=1.5")
    assert len(ax.get_lines()) == 4  # two profiles and two zero lines
    _save(ax, tmp_path / "mz.png")
    ax = plot.current_profile([0.1, 0.1, 0.1])
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0.5, 1.5, 2.5])
    _save(ax, tmp_path / "current.png")
    ax = plot.entanglement_profile([0.02, 0.05, 0.02])
    assert ax.get_ylabel() == "mutual information"
    _save(ax, tmp_path / "mi.png")


def test_wigner_plot(tmp_path):
    cat = (qutip.coherent(20, 2.0) + qutip.coherent(20, -2.0)).unit()
    x = np.linspace(-4, 4, 81)
    ax = plot.wigner(cat, x)
    mesh = ax.collections[0]
    W = np.asarray(mesh.get_array()).reshape(81, 81)
    assert W.min() < -0.1  # interference fringes of the cat are negative
    clim = mesh.get_clim()
    assert clim[0] == pytest.approx(-clim[1])  # colour map centred on zero
    _save(ax, tmp_path / "wigner.png")


def test_legend_values_have_no_float_noise():
    F = np.linspace(1, 3, 5)
    sizes = [0.1 + 0.2, 0.6000000000000001, 2.0]  # 0.30000000000000004, as arithmetic leaves them
    da = xr.DataArray(np.ones((3, 5)), dims=("g", "F"), coords={"g": sizes, "F": F})
    labels = [t.get_text() for t in plot.gap_curves(da, log=False).get_legend().get_texts()]
    assert labels == ["g = 0.3", "g = 0.6", "g = 2"]


def test_gap_scaling_draws_the_minima_and_both_fits(tmp_path):
    """Gaps with a dip whose depth closes like 3 exp(-N/0.8): the fit must find xi = 0.8."""
    F = np.linspace(1.5, 3.5, 41)
    sizes = np.array([2, 4, 6, 8])
    xi, Fc = 0.8, 2.3
    gaps = np.array([3 * np.exp(-N / xi) * np.exp(((F - Fc) / 0.5) ** 2) for N in sizes])
    da = xr.DataArray(gaps, dims=("N", "F1"), coords={"N": sizes, "F1": F})
    curves = plot.gap_curves(da)
    ax = plot.gap_scaling(da, mark=curves)
    assert ax.get_xlabel() == "N" and ax.get_ylabel() == "smallest gap over F1" and ax.get_yscale() == "log"
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), sizes)
    np.testing.assert_allclose(points.get_ydata(), 3 * np.exp(-sizes / xi), rtol=1e-9)  # exact at F = Fc
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "smallest gap"
    assert "\\xi$ = 0.8" in labels[1] and "(better fit)" in labels[1]  # the exponential law wins
    assert "z = " in labels[2] and "better" not in labels[2]
    stars = [ln for ln in curves.get_lines() if ln.get_marker() == "*"]
    assert len(stars) == 4
    np.testing.assert_allclose([s.get_xdata()[0] for s in stars], Fc, atol=1e-9)  # parabola in log gap
    _save(ax, tmp_path / "scaling.png")
    with pytest.raises(ValueError, match="two dimensions"):
        plot.gap_scaling(da.sel(N=2))
    with pytest.raises(TypeError, match="xarray.DataArray"):
        plot.gap_scaling(gaps)
    with pytest.raises(TypeError, match="xarray.DataArray or a dict"):
        plot.gap_curves([1.0, 2.0])
