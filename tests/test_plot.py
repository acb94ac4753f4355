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
